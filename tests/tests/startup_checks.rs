//! samples/bpf/transparent-proxy's checks before it loads anything (preflight.js): an old
//! kernel, no cgroup v2, a CGROUP that is not a cgroup each stop Weir with exit code 255
//! and a line naming what is missing, with nothing attached. The kernel and the mounts are
//! changed only in a private mount namespace the test makes for weir; the host's stay as
//! they are. Missing capabilities are in least_privilege.rs.

use std::time::Duration;

use weir_tests::cgroup::TestCgroup;
use weir_tests::tproxy::*;
use weir_tests::*;

/// weir on the sample, intercepting `cg` (or `cgroup`), started by `sh -c 'setup; exec weir'`
/// in a private mount namespace: its exit code and stderr.
fn stopped(cgroup: &str, setup: &str) -> (Option<i32>, String) {
    let script = format!("{setup} && exec \"$0\" \"$@\"");
    let wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c", &script];
    let mut weir = Weir::run_wrapped(&wrapper, &sample("main.js"), &[], TempDir::new(), |c| {
        c.env("CGROUP", cgroup).env("PROXY_PORT", free_port().to_string())
    });
    let code = weir.wait_exit(Duration::from_secs(10));
    (code, weir.stderr().join("\n"))
}

#[test]
fn an_old_kernel_is_named_before_anything_is_loaded() {
    require_ebpf!("an_old_kernel_is_named_before_anything_is_loaded");
    let cg = TestCgroup::create();
    let dir = TempDir::new();
    let release = dir.0.join("osrelease");
    std::fs::write(&release, "5.15.0-91-generic\n").unwrap();
    let bind = format!("mount --bind {} /proc/sys/kernel/osrelease", release.display());
    let (code, err) = stopped(cg.path.to_str().unwrap(), &bind);
    assert_eq!(code, Some(255), "{err}");
    let said =
        "Linux 6.10 or later is needed (cgroup programs call bpf_get_ns_current_pid_tgid); this is 5.15.0-91-generic";
    assert!(err.contains("preflight.js:") && err.contains(said), "{err}");
    assert!(cg.attached().is_empty(), "attached: {:?}", cg.attached());
}

#[test]
fn no_cgroup_v2_is_named_before_anything_is_loaded() {
    require_ebpf!("no_cgroup_v2_is_named_before_anything_is_loaded");
    let cg = TestCgroup::create();
    let root = weir_tests::cgroup::cgroup2_root().unwrap();
    let (code, err) = stopped(cg.path.to_str().unwrap(), &format!("umount -l {}", root.display()));
    assert_eq!(code, Some(255), "{err}");
    assert!(err.contains("no cgroup v2 is mounted (none in /proc/self/mountinfo)"), "{err}");
    assert!(cg.attached().is_empty(), "attached: {:?}", cg.attached());
}

#[test]
fn a_cgroup_that_is_not_one_is_named_before_anything_is_loaded() {
    require_ebpf!("a_cgroup_that_is_not_one_is_named_before_anything_is_loaded");
    let dir = TempDir::new();
    let (code, err) = stopped(dir.0.to_str().unwrap(), "true");
    assert_eq!(code, Some(255), "{err}");
    assert!(err.contains(&format!("CGROUP {} is not a cgroup v2 directory", dir.0.display())), "{err}");
}
