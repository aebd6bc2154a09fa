//! deploy/: the systemd unit passes `systemd-analyze verify` without a warning, and the unit
//! and the DaemonSet grant exactly the capabilities least_privilege.rs runs the sample with,
//! raise the open-files limit, and run the admin port the probes and Prometheus read. No
//! cluster here: the manifest is parsed (python3's yaml), not applied.

use std::process::Command;

use weir_tests::*;

const CAPS: [&str; 3] = ["BPF", "NET_ADMIN", "PERFMON"];

#[test]
fn the_systemd_unit_verifies_and_grants_only_what_the_sample_needs() {
    let unit = std::fs::read_to_string(workspace().join("deploy/systemd/weir-transparent-proxy.service")).unwrap();
    let dir = TempDir::new();
    let path = dir.0.join("weir-transparent-proxy.service");
    // verify checks that ExecStart's binary exists: point it at the one built here.
    std::fs::write(&path, unit.replace("/usr/local/bin/weir", &weir_bin().to_string_lossy())).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("systemd-analyze");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
    let value = |key: &str| {
        unit.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}= in the unit"))
    };
    let caps: Vec<String> = CAPS.iter().map(|c| format!("CAP_{c}")).collect();
    assert_eq!(value("AmbientCapabilities").split_whitespace().collect::<Vec<_>>(), caps);
    assert_eq!(value("CapabilityBoundingSet").split_whitespace().collect::<Vec<_>>(), caps);
    assert_eq!(value("LimitNOFILE"), "524288");
    assert_eq!(value("KillSignal"), "SIGTERM");
    assert!(value("ExecStart").contains("--admin-port="));
}

/// The DaemonSet's container, as JSON text from python3's yaml.
const READ_DAEMONSET: &str = r#"
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ds = next(d for d in docs if d['kind'] == 'DaemonSet')
spec = ds['spec']['template']['spec']
c = spec['containers'][0]
print(json.dumps({
  'kinds': sorted(d['kind'] for d in docs),
  'add': c['securityContext']['capabilities']['add'],
  'drop': c['securityContext']['capabilities']['drop'],
  'user': c['securityContext']['runAsUser'],
  'ready': c['readinessProbe']['httpGet']['path'] + ':' + str(c['readinessProbe']['httpGet']['port']),
  'args': c['args'],
  'hostNetwork': spec['hostNetwork'],
  'cgroup': next(v['hostPath']['path'] for v in spec['volumes'] if 'hostPath' in v),
}, sort_keys=True))
"#;

#[test]
fn the_daemonset_parses_and_runs_the_sample_unprivileged_with_probes() {
    let path = workspace().join("deploy/kubernetes/daemonset.yaml");
    let out = Command::new("python3").arg("-c").arg(READ_DAEMONSET).arg(&path).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let caps = format!("{CAPS:?}");
    let want = format!(
        "{{\"add\": {caps}, \"args\": [\"/etc/weir/main.js\", \"--admin-port=127.0.0.1:6060\"], \
         \"cgroup\": \"/sys/fs/cgroup\", \"drop\": [\"ALL\"], \"hostNetwork\": true, \
         \"kinds\": [\"ConfigMap\", \"DaemonSet\"], \"ready\": \"/ready:6060\", \"user\": 65534}}"
    );
    assert_eq!(got, want);
}
