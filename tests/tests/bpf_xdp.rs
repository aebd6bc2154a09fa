//! samples/bpf/packet-counter on the real kernel, in a network namespace and a private mount
//! namespace (with its own bpffs) made for the test, inside a PID namespace so that nothing
//! the test started outlives it: the XDP program goes on that namespace's lo only, never on
//! a host link. Skips (loudly) when not root or when bpf() is unavailable.

use std::time::Duration;

use weir_tests::tproxy::{NetNs, wait_until};
use weir_tests::*;

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path).unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// The pid of the first process below `pid` whose command is `comm`.
fn descendant(pid: u32, comm: &str) -> Option<u32> {
    for c in children(pid) {
        if std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == comm) {
            return Some(c);
        }
        if let Some(d) = descendant(c, comm) {
            return Some(d);
        }
    }
    None
}

/// What the wrapper prints after weir exits: its exit code and what is left on its bpffs
/// (which the kernel may fill with its own `maps.debug` and `progs.debug`).
const AFTER: &str = r#"mount -t bpf bpf /sys/fs/bpf || exit 99
"$@"
code=$?
echo "after: exit $code, pins [$(ls -A /sys/fs/bpf | grep -v '[.]debug$')]"
exit $code"#;

#[test]
fn the_sample_counts_packets_on_the_namespaces_lo_and_detaches_on_sigint() {
    require_ebpf!("the_sample_counts_packets_on_the_namespaces_lo_and_detaches_on_sigint");
    let ns = NetNs::create();
    let port = free_port().to_string();
    let sample = workspace().join("samples/bpf/packet-counter/main.js");
    // ip and unshare exec what follows; unshare's child is the PID namespace's init, which
    // takes weir with it when the test drops its child.
    let wrapper = ["ip", "netns", "exec", &ns.name, "unshare", "--mount", "--pid", "--fork", "--kill-child"];
    let wrapper: Vec<&str> = wrapper.into_iter().chain(["sh", "-c", AFTER, "sh"]).collect();
    let mut weir = Weir::run_wrapped(&wrapper, &sample, &[], TempDir::new(), |c| {
        c.env("PORT", &port).env("PIN", "/sys/fs/bpf/pc")
    });
    weir.wait_listening();
    let pid = descendant(weir.child.id(), "weir").expect("weir below the wrapper");
    let shown = ns.command("ip", &["link", "show", "lo"]).output().unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(shown.contains("prog/xdp"), "no XDP program on the namespace's lo:\n{shown}");

    let out = ns.command("curl", &["-s", &format!("http://127.0.0.1:{port}/")]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello!\n");
    // A TCP exchange on lo is at least SYN, SYN-ACK, ACK, request, response and FINs.
    let counted =
        || weir.stdout().iter().filter_map(|l| l.strip_prefix("  127.0.0.1 ")?.parse::<u32>().ok()).max().unwrap_or(0);
    assert!(wait_until(Duration::from_secs(5), || counted() >= 5), "stdout: {:?}", weir.stdout());
    eprintln!("counted {} packets from 127.0.0.1", counted());

    // SAFETY: kill(2) on weir, a process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "stderr: {:?}", weir.stderr());
    assert_eq!(weir.stdout().last().map(String::as_str), Some("after: exit 0, pins []"));
    let shown = ns.command("ip", &["link", "show", "lo"]).output().unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(!shown.contains("xdp"), "XDP still on lo after SIGINT:\n{shown}");
}

/// `bpf.Map.list()` shows the sample's map, and `bpf.Map.open(id, ...)` reaches the same
/// kernel map: an entry written through one is read through the other.
#[test]
fn a_map_is_listed_and_opened_by_id() {
    require_ebpf!("a_map_is_listed_and_opened_by_id");
    let object = workspace().join("samples/bpf/packet-counter/packet-counter.o");
    let script = format!(
        r#"
var obj = bpf.object(os.readFile('{}'))
var packets = obj.maps.find(m => m.name === 'packets')
var listed = bpf.Map.list().find(m => m.id === packets.id)
println(listed.name, listed.type, listed.keySize, listed.valueSize, listed.maxEntries)
var key = new CStruct({{ ip: 'uint8[4]' }})
var value = new CStruct({{ i: 'uint32' }})
var opened = bpf.Map.open(packets.id, key, value)
opened.update({{ ip: [10, 0, 0, 1] }}, {{ i: 42 }})
println(packets.lookup({{ ip: {{ u8: [10, 0, 0, 1] }} }}).i, opened.entries().length)
"#,
        object.display()
    );
    let mut weir = Weir::start(&script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "stderr: {:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["packets 9 4 4 1024", "42 1"]);
}
