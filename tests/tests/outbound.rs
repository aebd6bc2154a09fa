//! `pipy.outbound`: the connections `connect` opened, listed while they live, with their
//! addresses and state, and `close()` ending one; by the built binary with a real upstream.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use weir_tests::*;

#[test]
fn pipy_outbound_lists_a_live_upstream_connection_and_closes_it() {
    let upstream = echo_server();
    let (proxy, admin) = (free_port(), free_port());
    let script = format!(
        "pipy.listen({proxy}, $=>$.connect('127.0.0.1:{upstream}'))\n\
         pipy.listen({admin}, $=>$.serveHTTP(req => {{\n\
         \x20 var lines = []\n\
         \x20 pipy.outbound.forEach(o => {{\n\
         \x20   lines.push([o.state, o.localAddress, o.localPort, o.remoteAddress, o.remotePort].join(' '))\n\
         \x20   if (req.head.path === '/close') o.close()\n\
         \x20 }})\n\
         \x20 return new Message(pipy.outbound.count + '\\n' + lines.join('\\n') + '\\n')\n\
         }}))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{admin}/")]);
    assert_eq!((code, body.as_str()), (0, "0\n\n"), "{err}");

    let mut client = TcpStream::connect(("127.0.0.1", proxy)).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    client.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");

    let (_, body, _) = curl(&[&format!("http://127.0.0.1:{admin}/")]);
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2, "{body}");
    assert_eq!(lines[0], "1");
    let f: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!(f[..2], ["connected", "127.0.0.1"], "{body}");
    assert!(f[2].parse::<u16>().unwrap() > 0, "{body}");
    assert_eq!(f[3..], ["127.0.0.1".to_string(), upstream.to_string()], "{body}");

    // close() ends the upstream connection, and the client's with it.
    let (_, body, _) = curl(&[&format!("http://127.0.0.1:{admin}/close")]);
    assert!(body.starts_with("1\nconnected "), "{body}");
    let mut rest = Vec::new();
    let ended = client.read_to_end(&mut rest);
    assert!(
        ended.is_ok() || ended.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "{ended:?}"
    );
    drop(client);
    std::thread::sleep(Duration::from_millis(200));
    let (_, body, _) = curl(&[&format!("http://127.0.0.1:{admin}/")]);
    assert_eq!(body, "0\n\n", "a closed connection whose pipeline is gone is no longer listed");
}
