//! Bytes no filter looks at never enter user space: with `--log-level=debug`, weir says for
//! each connection how many of the bytes it received it read and how many it spliced
//! (moved socket to socket in the kernel). Whether every byte arrives is `bulk.rs`'s and
//! `bulk_http.rs`'s business; this file checks which path they took.

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use weir_tests::big::*;
use weir_tests::bulk::*;
use weir_tests::bulk_http::*;
use weir_tests::{Weir, free_port};

const DEBUG: &[&str] = &["--log-level=debug:inbound+outbound"];

/// Read and spliced bytes over both sides of the one proxied connection, once both have
/// closed.
fn moved(weir: &Weir) -> (u64, u64) {
    moved_over(weir, 2)
}

/// As [`moved`], over `sides` connections (two per hop).
fn moved_over(weir: &Weir, sides: usize) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines: Vec<(u64, u64)> = weir
            .stderr()
            .iter()
            .filter_map(|l| {
                let rest = l.split(" closed: ").nth(1)?;
                let mut words = rest.split(' ');
                let read = words.next()?.parse().ok()?;
                let spliced = words.nth(2)?.parse().ok()?;
                Some((read, spliced))
            })
            .collect();
        if lines.len() >= sides {
            return lines.iter().fold((0, 0), |(r, s), (a, b)| (r + a, s + b));
        }
        assert!(Instant::now() < deadline, "not {sides} close lines; stderr:\n{}", weir.stderr().join("\n"));
        thread::sleep(Duration::from_millis(20));
    }
}

/// A raw stream both ways through `script`, every byte of it spliced.
fn raw_stream_goes_by_in_the_kernel(script: Script) {
    tunnel_goes_by_in_the_kernel(script, |_, _| 0);
}

/// As [`raw_stream_goes_by_in_the_kernel`], after `open(client, upstream port)` has done a
/// tunnel's handshake and returned how many bytes it sent: those are read, the rest spliced.
fn tunnel_goes_by_in_the_kernel(script: Script, open: fn(&TcpStream, u16) -> u64) {
    let len = part();
    let (up, reports) = raw_upstream(move |s, _| exchange_raw(&s, 2, len));
    let (weir, port) = start(script, up, DEBUG);
    let s = connect(port);
    let sent = open(&s, up);
    assert_whole(exchange_raw(&s, 1, len).unwrap(), 2, len, "what the client got");
    assert_whole(report(&reports, "upstream"), 1, len, "what the upstream got");
    let (read, spliced) = moved(&weir);
    assert_eq!(read + spliced, 2 * len + sent, "every byte counted once");
    assert!(read < 2 * MIB, "{read} bytes of {} read into user space", 2 * len + sent);
}

#[test]
fn a_raw_stream_through_connect_goes_by_in_the_kernel_both_ways() {
    raw_stream_goes_by_in_the_kernel(plain);
}

#[test]
fn http_bodies_go_by_in_the_kernel_while_the_heads_are_printed() {
    let server = BulkHttpServer::start();
    let (weir, port) = start(logging, server.port, DEBUG);
    let len = part();
    let xs = [
        Exchange::new(1, Body::Length(len), len, false),
        Exchange::new(2, Body::None, len, false),
        Exchange::new(3, Body::Length(len), 0, false).eof_answer(),
    ];
    let s = connect(port);
    let mut r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
    for x in &xs {
        x.run(&s, &mut r);
    }
    drop((r, s));
    let expected: Vec<String> = xs.iter().flat_map(printed).collect();
    assert_eq!(weir.wait_stdout_lines(expected.len(), Duration::from_secs(5)), expected);
    let (read, spliced) = moved(&weir);
    assert!(spliced >= 4 * len - 2 * MIB, "only {spliced} of {} body bytes spliced", 4 * len);
    assert!(read < 2 * MIB, "{read} bytes read into user space");
}

/// The same request path, but a filter that reads bodies: they must reach it.
#[test]
fn bodies_a_filter_reads_are_read() {
    let server = BulkHttpServer::start();
    let script = |port: u16, upstream: u16| {
        format!(
            "pipy.listen({port}, $=>$\n\
               .fork().to($=>$.decodeHTTPRequest().handleMessage('64m', m => println(m.body.size)))\n\
               .connect('127.0.0.1:{upstream}')\n\
             )\n"
        )
    };
    let (weir, port) = start(script, server.port, DEBUG);
    let len = 8 * MIB;
    let x = Exchange::new(1, Body::Length(len), 0, false).eof_answer();
    let s = connect(port);
    x.run(&s, &mut BufReader::new(s.try_clone().unwrap()));
    drop(s);
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), [len.to_string()]);
    let (read, _) = moved(&weir);
    assert!(read >= len, "the body the script reads was not all read: {read} bytes");
}

#[test]
fn a_raw_stream_through_a_linked_pipeline_goes_by_in_the_kernel_both_ways() {
    raw_stream_goes_by_in_the_kernel(linked);
}

/// A forward proxy's `CONNECT` tunnel (what carries HTTPS through it): once the handler has
/// answered, the tunnel's bytes go by in the kernel both ways, every one of them.
#[test]
fn a_connect_tunnel_through_accept_http_tunnel_goes_by_in_the_kernel_both_ways() {
    let script = |port: u16, upstream: u16| {
        format!(
            "pipy.listen({port}, $=>$\n\
               .acceptHTTPTunnel(() => new Message({{ status: 200 }}))\n\
               .to($=>$.connect('127.0.0.1:{upstream}'))\n\
             )\n"
        )
    };
    tunnel_goes_by_in_the_kernel(script, |mut s, up| {
        let request = format!("CONNECT 127.0.0.1:{up} HTTP/1.1\r\nHost: 127.0.0.1:{up}\r\n\r\n");
        s.write_all(request.as_bytes()).unwrap();
        // The answer's head, byte by byte so that nothing of the tunnel is read with it.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0];
            s.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "answer to CONNECT: {}", String::from_utf8_lossy(&head));
        request.len() as u64
    });
}

/// A `branch` once it has chosen: its pipeline answers for the bytes.
#[test]
fn a_raw_stream_through_a_chosen_branch_goes_by_in_the_kernel_both_ways() {
    raw_stream_goes_by_in_the_kernel(|port, upstream| {
        format!("pipy.listen({port}, $=>$.branch(() => true, $=>$.connect('127.0.0.1:{upstream}')))\n")
    });
}

/// A SOCKS5 tunnel through `acceptSOCKS`, once granted.
#[test]
fn a_socks5_tunnel_through_accept_socks_goes_by_in_the_kernel_both_ways() {
    let script = |port: u16, upstream: u16| {
        format!("pipy.listen({port}, $=>$.acceptSOCKS(() => true).to($=>$.connect('127.0.0.1:{upstream}')))\n")
    };
    tunnel_goes_by_in_the_kernel(script, |mut s, up| {
        // No authentication; then CONNECT to 127.0.0.1:up by address.
        s.write_all(&[5, 1, 0]).unwrap();
        let mut greeting = [0; 2];
        s.read_exact(&mut greeting).unwrap();
        assert_eq!(greeting, [5, 0], "SOCKS5 method choice");
        let [hi, lo] = up.to_be_bytes();
        s.write_all(&[5, 1, 0, 1, 127, 0, 0, 1, hi, lo]).unwrap();
        let mut reply = [0; 10];
        s.read_exact(&mut reply).unwrap();
        assert_eq!(reply[..2], [5, 0], "SOCKS5 reply: {reply:?}");
        13
    });
}

/// The client sides of tunnels: a listener whose `connectSOCKS` or `connectHTTPTunnel` (with a
/// `'host:port'` handshake) goes through a second listener's `acceptSOCKS` or
/// `acceptHTTPTunnel`. Past the handshakes, both hops splice both ways.
fn chained_tunnels_go_by_in_the_kernel(client: &str, server: &str) {
    let (client, server) = (client.to_string(), server.to_string());
    let len = part();
    let (up, reports) = raw_upstream(move |s, _| exchange_raw(&s, 2, len));
    let port = free_port();
    let hop = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.{client}.to($=>$.connect('127.0.0.1:{hop}')))\n\
         pipy.listen({hop}, $=>$.{server}.to($=>$.connect('127.0.0.1:{up}')))\n"
    )
    .replace("UP", &up.to_string());
    let mut weir = Weir::start(&script, DEBUG);
    for p in [port, hop] {
        weir.wait_stderr(&format!("Listening on TCP port {p} "), Duration::from_secs(10));
    }
    // What a client sends before the tunnels open is held, and so read, however much it is.
    // This one sends a first byte (the tunnels open at the first event), waits for the
    // upstream's first byte, which comes once they are open, then sends the rest.
    let s = connect(port);
    let mut w = s.try_clone().unwrap();
    write_pattern_at(&mut w, 1, 0, 1).unwrap();
    s.peek(&mut [0]).unwrap();
    let writer = thread::spawn(move || {
        write_pattern_at(&mut w, 1, 1, len - 1)?;
        w.shutdown(Shutdown::Write)
    });
    assert_whole(read_digest(&mut &s, None, 0).unwrap(), 2, len, "what the client got");
    writer.join().unwrap().unwrap();
    assert_whole(report(&reports, "upstream"), 1, len, "what the upstream got");
    let (read, spliced) = moved_over(&weir, 4);
    assert!(spliced >= 4 * len - 4 * MIB, "only {spliced} of {} bytes spliced over two hops", 4 * len);
    assert!(read < 4 * MIB, "{read} bytes read into user space");
}

#[test]
fn a_raw_stream_through_connect_socks_and_accept_socks_goes_by_in_the_kernel_both_ways() {
    chained_tunnels_go_by_in_the_kernel("connectSOCKS('127.0.0.1:UP')", "acceptSOCKS(() => true)");
}

#[test]
fn a_raw_stream_through_connect_http_tunnel_and_accept_http_tunnel_goes_by_in_the_kernel_both_ways() {
    chained_tunnels_go_by_in_the_kernel(
        "connectHTTPTunnel('127.0.0.1:UP')",
        "acceptHTTPTunnel(() => new Message({ status: 200 }))",
    );
}

/// What `s` delivers until its end, or until nothing came for `quiet`: size and SHA-256.
fn read_until_quiet(mut s: &TcpStream, quiet: Duration) -> (u64, String) {
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0;
    while let Ok(n @ 1..) = s.read(&mut buf) {
        h.update(&buf[..n]);
        at += n as u64;
    }
    (at, hex(&h.finalize()))
}

/// Urgent data mid-stream: at the urgent mark splice(2) says `EAGAIN` although a read would
/// return the bytes after it, so a reader that trusts it waits for ever. The urgent byte
/// itself is out of band (not `SO_OOBINLINE`), so the upstream gets the stream without it.
#[test]
fn a_spliced_stream_goes_on_past_urgent_data() {
    let half = 4 * MIB;
    let (up, reports) = raw_upstream(|s, _| Ok(read_until_quiet(&s, Duration::from_secs(10))));
    let (weir, port) = start(plain, up, DEBUG);
    let s = connect(port);
    let mut w = s.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let writer = thread::spawn(move || {
        write_pattern_at(&mut w, 1, 0, half)?;
        // SAFETY: send on an open socket from a one-byte buffer.
        let n = unsafe { libc::send(w.as_raw_fd(), b"!".as_ptr().cast(), 1, libc::MSG_OOB) };
        assert_eq!(n, 1, "send(MSG_OOB): {}", std::io::Error::last_os_error());
        write_pattern_at(&mut w, 1, half, half)?;
        w.shutdown(Shutdown::Write)
    });
    let got = report(&reports, "upstream");
    let _ = writer.join().unwrap();
    assert_whole(got, 1, 2 * half, "what the upstream got");
    let (_, spliced) = moved(&weir);
    assert!(spliced > 0, "the stream was never spliced, so the urgent mark was not met there");
}

/// The logging proxy with `sub` (a filter running a sub-pipeline with no socket in it) in
/// front of the request fork.
fn logging_behind(sub: &str, port: u16, upstream: u16) -> String {
    logging(port, upstream).replacen("$=>$\n", &format!("$=>$.{sub}\n"), 1)
}

/// Two 1 MiB POSTs on one keep-alive connection through `script`: their bodies go by the
/// request fork in the kernel, and the fork's decoder, after a sub-pipeline's end, is told
/// of them, so the second head is decoded and printed too.
fn heads_after_a_sub_pipeline_are_printed(script: Script) {
    let server = BulkHttpServer::start();
    let (weir, port) = start(script, server.port, DEBUG);
    let xs =
        [Exchange::new(1, Body::Length(MIB), 0, false), Exchange::new(2, Body::Length(MIB), 0, false).eof_answer()];
    let s = connect(port);
    let mut r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
    for x in &xs {
        x.run(&s, &mut r);
    }
    drop((r, s));
    let expected: Vec<String> = xs.iter().flat_map(printed).collect();
    let (read, spliced) = moved(&weir);
    eprintln!("{read} bytes read, {spliced} spliced; stdout: {:?}", weir.stdout());
    assert_eq!(weir.wait_stdout_lines(expected.len(), Duration::from_secs(5)), expected);
    assert!(spliced >= MIB, "only {spliced} of {} body bytes spliced", 2 * MIB);
}

#[test]
fn heads_after_a_chosen_branch_are_printed_while_bodies_go_by_in_the_kernel() {
    heads_after_a_sub_pipeline_are_printed(|port, upstream| logging_behind("branch(() => true, $=>$)", port, upstream));
}

#[test]
fn heads_after_a_link_are_printed_while_bodies_go_by_in_the_kernel() {
    heads_after_a_sub_pipeline_are_printed(|port, upstream| {
        let logged = logging(port, upstream);
        let filters = logged.split_once("$=>$\n").unwrap().1.trim_end().strip_suffix(')').unwrap();
        format!("pipy()\n.listen({port}).link('through')\n{filters}\n.pipeline('through')\n")
    });
}

/// A SOCKS tunnel made and ended inside the proxy: `connectSOCKS` talks to an `acceptSOCKS`
/// in its own sub-pipeline, whose tunnel hands the bytes straight back, so they come out of
/// `connectSOCKS` as its replies and go on to the logging fork and the `connect`.
#[test]
fn heads_after_a_socks_loop_are_printed_while_bodies_go_by_in_the_kernel() {
    heads_after_a_sub_pipeline_are_printed(|port, upstream| {
        logging_behind("connectSOCKS('127.0.0.1:9').to($=>$.acceptSOCKS(() => true).to($=>$))", port, upstream)
    });
}
