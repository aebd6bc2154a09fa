//! samples/bpf/transparent-proxy: who can escape interception, what the maps keep, the order
//! of start and stop, and the egress deny list. Like transparent_proxy.rs, every test makes
//! its own child cgroup (and network namespace, where one is needed), attaches only there and
//! cleans up on failure; they skip loudly when not root or without cgroup v2 or bpf().

use std::thread;
use std::time::Duration;

use weir_tests::cgroup::TestCgroup;
use weir_tests::tproxy::*;
use weir_tests::*;

/// A client in the cgroup makes a socket, moves to a network namespace of its own, binds the
/// proxy port there (where nobody holds it), and then connects the socket it made before the
/// move, which still belongs to the intercepted namespace.
const NETNS_TRICK: &str = r#"
import socket, sys, ctypes
port, proxy = int(sys.argv[1]), int(sys.argv[2])
early = socket.socket()
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x40000000) != 0:
    sys.exit('unshare(CLONE_NEWNET): errno %d' % ctypes.get_errno())
fake = socket.socket()
fake.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: lo is down in the fresh namespace
fake.bind(('127.0.0.1', proxy))
fake.listen()
early.settimeout(10)
early.connect(('127.0.0.1', port))
early.sendall(b'GET /escape HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n' % port)
data = b''
while True:
    d = early.recv(65536)
    if not d:
        break
    data += d
print(data.split(b'\r\n')[0].decode())
"#;

#[test]
fn binding_the_proxy_port_in_another_netns_does_not_exempt_a_client() {
    require_ebpf!("binding_the_proxy_port_in_another_netns_does_not_exempt_a_client");
    let cg = TestCgroup::create();
    let server = HttpServer::ok("escape\n");
    // Weir outside CGROUP, the usual deployment: the programs never see its own bind.
    let (weir, port) = start_proxy_at(&cg, None, &[], "main.js", &[]);
    let out = python_in(Some(&cg), NETNS_TRICK, &[&server.port.to_string(), &port.to_string()]);
    assert_eq!(out.trim(), "HTTP/1.1 200 OK", "weir stderr: {:?}", weir.stderr());
    let logged = weir.wait_stdout_lines(2, Duration::from_secs(5));
    eprintln!("after the netns trick the proxy logged: {logged:?}");
    assert_eq!(
        logged,
        [format!("GET /escape 127.0.0.1:{}", server.port), "  200 OK".to_string()],
        "the client escaped interception; weir stderr: {:?}",
        weir.stderr()
    );
    // And the next client of the cgroup is intercepted as well.
    let (code, body, err) = curl_in(&cg, &[&format!("http://127.0.0.1:{}/", server.port)]);
    assert_eq!((code, body.as_str()), (0, "escape\n"), "{err}");
    thread::sleep(Duration::from_millis(200));
    assert_eq!(weir.stdout().len(), 4, "{:?}", weir.stdout());
}
