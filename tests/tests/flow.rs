//! Flow filters on real connections: `detectProtocol` telling curl's HTTP/1, HTTP/2 and
//! TLS from other bytes, and `tee` + `split` + `pack` on a raw stream.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use weir_tests::*;

/// Sends `bytes`, half-closes, and returns all that came back.
fn exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

#[test]
fn detect_protocol_names_what_curl_and_others_speak_and_its_answer_goes_out_first() {
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .detectProtocol(p => (println(`[${{p}}]`), [new Data(`${{p || 'other'}}\\n`), new StreamEnd]))\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}/");
    curl(&[&url]);
    curl(&["--http2-prior-knowledge", &url]);
    curl(&["-k", &format!("https://127.0.0.1:{port}/")]);
    assert_eq!(exchange(port, b"SSH-2.0-x\r\n"), b"other\n");
    let lines = weir.wait_stdout_lines(4, Duration::from_secs(5));
    assert_eq!(lines, ["[HTTP]", "[HTTP2]", "[TLS]", "[]"]);
}

#[test]
fn tee_split_and_pack_on_a_raw_stream() {
    let dir = TempDir::new();
    let file = dir.0.join("tee.out");
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .tee('{}')\n\
           .split('\\n')\n\
           .pack(2, {{ prefix: '<', separator: ',', postfix: '>\\n' }})\n\
         )\n",
        file.display()
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let got = exchange(port, b"a\nb\nc\nd\n");
    // As Pipy, split ends the stream with one more (empty) message.
    assert_eq!(String::from_utf8_lossy(&got), "<a,b>\n<c,d>\n<>\n");
    assert_eq!(std::fs::read(&file).unwrap(), b"a\nb\nc\nd\n");
}

#[test]
fn fork_join_holds_each_request_until_its_side_call_to_an_upstream_answered() {
    let upstream = HttpServer::ok("checked\n");
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .forkJoin().to($=>$\n\
             .replaceMessage(() => new Message({{ method: 'GET', path: '/check', headers: {{ host: 'x' }} }}))\n\
             .muxHTTP().to($=>$.connect('127.0.0.1:{}'))\n\
             .handleMessage(msg => println(`side call: ${{msg.body.toString().trim()}}`))\n\
             .replaceMessage(new StreamEnd)\n\
           )\n\
           .replaceMessage(() => (println('joined'), new Message('done\\n')))\n\
         ))\n",
        upstream.port
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!((code, body.as_str()), (0, "done\n"), "{err}");
    assert_eq!(weir.wait_stdout_lines(2, Duration::from_secs(5)), ["side call: checked", "joined"]);
    assert_eq!(upstream.requests.lock().unwrap().len(), 1);
}

#[test]
fn wait_holds_the_stream_until_a_later_event_finds_its_condition_true() {
    let port = free_port();
    let script = format!(
        "var $ready = false\n\
         pipy.listen({port}, $=>$\n\
           .insert(() => new Timeout(0.3).wait().then(() => ($ready = true, new Data('late\\n'))))\n\
           .wait(() => $ready)\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let sent = std::time::Instant::now();
    s.write_all(b"hello\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < 11 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        if got.is_empty() {
            // Nothing may come back before the promise made the condition true.
            assert!(sent.elapsed() >= Duration::from_millis(250), "{:?} came after {:?}", &buf[..n], sent.elapsed());
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"hello\nlate\n");
}

#[test]
fn pipe_picks_a_pipeline_by_the_first_event_from_its_map_and_holds_events_until_then() {
    let port = free_port();
    let script = format!(
        "var upper = pipeline($=>$.replaceData(d => new Data(d.toString().toUpperCase())))\n\
         pipy.listen({port}, $=>$\n\
           .pipe(evt => evt instanceof Data ? (evt.toString().startsWith('u') ? upper : 'tag') : undefined, {{\n\
             tag: $=>$.replaceData(d => new Data(`tag:${{d.toString()}}`)),\n\
           }})\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert_eq!(exchange(port, b"up\n"), b"UP\n");
    assert_eq!(exchange(port, b"down\n"), b"tag:down\n");
}

#[test]
fn pipe_with_an_array_chains_the_pipelines_through_pipe_next_with_the_start_arguments() {
    let port = free_port();
    let script = format!(
        "var $tag\n\
         var first = pipeline($=>$\n\
           .onStart(t => void ($tag = t))\n\
           .replaceData(d => new Data(`1${{$tag}}:${{d.toString()}}`))\n\
           .pipeNext()\n\
           .replaceData(d => new Data(`${{d.toString()}}\\n`))\n\
         )\n\
         var second = pipeline($=>$\n\
           .onStart(t => void println(`second got ${{t}}`))\n\
           .replaceData(d => new Data(`2:${{d.toString()}}`))\n\
           .pipeNext()\n\
         )\n\
         pipy.listen({port}, $=>$.pipe([first, second], ['x']))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert_eq!(exchange(port, b"hi"), b"2:1x:hi\n");
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["second got x"]);
}

/// Writes `bytes` without half-closing, and reads until `want` bytes came or the stream ended.
fn send_and_read(port: u16, bytes: &[u8], want: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < want {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

#[test]
fn loop_feeds_its_output_back_in_until_the_pipeline_ends_the_stream() {
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .loop($=>$\n\
             .replaceData(d => (n => n > 0 ? new Data(`${{n - 1}}`) : new StreamEnd)(+d.toString()))\n\
           )\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert_eq!(send_and_read(port, b"3", 100), b"210");
}

#[test]
fn handle_and_replace_message_body_see_each_whole_body() {
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .handleMessageBody(b => println(`body ${{b.size}}`))\n\
           .replaceMessageBody(b => new Data(`got ${{b.toString()}}\\n`))\n\
           .replaceMessageStart(() => new MessageStart({{ status: 200 }}))\n\
         ))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (code, body, err) = curl(&["-d", "hello", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!((code, body.as_str()), (0, "got hello\n"), "{err}");
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["body 5"]);
}

#[test]
fn replay_runs_its_pipeline_again_on_the_same_input_after_the_delay() {
    let port = free_port();
    let script = format!(
        "var count = 0\n\
         pipy.listen({port}, $=>$\n\
           .replay({{ delay: 0.2 }}).to($=>$\n\
             .replaceData(d => ++count < 3 ? new StreamEnd('Replay') : new Data(`attempt ${{count}}: ${{d.toString()}}`))\n\
           )\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let sent = std::time::Instant::now();
    assert_eq!(send_and_read(port, b"x", 12), b"attempt 3: x");
    assert!(sent.elapsed() >= Duration::from_millis(400), "{:?}", sent.elapsed());
}

#[test]
fn throttle_concurrency_holds_a_second_stream_until_the_first_one_ends() {
    let port = free_port();
    let script = format!(
        "var quota = new algo.Quota(1)\n\
         pipy.listen({port}, $=>$.throttleConcurrency(quota).replaceData(d => new Data(`ok ${{d.toString()}}\\n`)))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut first = TcpStream::connect(("127.0.0.1", port)).unwrap();
    first.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    first.write_all(b"a").unwrap();
    let mut buf = [0u8; 64];
    let n = first.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok a\n");
    let mut second = TcpStream::connect(("127.0.0.1", port)).unwrap();
    second.write_all(b"b").unwrap();
    // Nothing comes while the first stream holds the only token.
    second.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    assert!(second.read(&mut buf).is_err(), "the second stream went through");
    drop(first);
    second.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = second.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok b\n");
}

#[test]
fn exec_is_a_program_whose_stdin_and_stdout_are_the_stream() {
    let (cat, echo) = (free_port(), free_port());
    let script = format!(
        "pipy.listen({cat}, $=>$.exec('cat'))\n\
         pipy.listen({echo}, $=>$.exec(['echo', 'hi'], {{ onExit: code => [new Data(`code ${{code}}\\n`), new StreamEnd] }}))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert_eq!(send_and_read(cat, b"hello", 5), b"hello");
    assert_eq!(send_and_read(echo, b"x", 100), b"hi\ncode 0\n");
}

#[test]
fn read_outputs_a_part_of_a_file_then_ends_the_stream() {
    let dir = TempDir::new();
    let file = dir.0.join("in.txt");
    std::fs::write(&file, b"0123456789").unwrap();
    let port = free_port();
    let script = format!("pipy.listen({port}, $=>$.read('{}', {{ seek: 2, size: 3 }}))\n", file.display());
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert_eq!(send_and_read(port, b"x", 100), b"234");
}

#[test]
fn deframe_reads_length_prefixed_frames_with_a_script_state_machine() {
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.deframe({{\n\
           len: n => ['body', n, new Data],\n\
           body: d => [new Data(`<${{d.toString()}}>`), 'len'],\n\
         }}))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert_eq!(send_and_read(port, b"\x03abc\x02de", 9), b"<abc><de>");
}

#[test]
fn link_async_hands_the_stream_to_a_named_pipeline() {
    let port = free_port();
    let script = format!(
        "pipy()\n\
         .listen({port})\n\
         .linkAsync('up')\n\
         .pipeline('up')\n\
         .replaceData(d => new Data(`async ${{d.toString()}}`))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert_eq!(send_and_read(port, b"x", 7), b"async x");
}

#[test]
fn pipe_next_inside_a_demuxed_request_goes_on_down_the_pipe_list() {
    let port = free_port();
    let script = format!(
        "var front = pipeline($=>$.demuxHTTP().to($=>$.pipeNext()))\n\
         var back = pipeline($=>$.replaceMessage(msg => new Message(`from back: ${{msg.head.path}}\\n`)))\n\
         pipy.listen({port}, $=>$.pipe([front, back]))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}/x")]);
    assert_eq!((code, body.as_str()), (0, "from back: /x\n"), "{err}");
}

#[test]
fn swap_joins_streams_to_a_hub_where_each_hears_the_others() {
    let port = free_port();
    let script = format!(
        "var hub = new pipeline.Hub\npipy.listen({port}, $=>$.handleStreamStart(() => println('joined')).swap(hub))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let connect = || {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let read = |s: &mut TcpStream| {
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        buf[..n].to_vec()
    };
    let (mut a, mut b) = (connect(), connect());
    // A stream joins at its first event: A's goes to nobody yet, B's to A.
    a.write_all(b"a1").unwrap();
    weir.wait_stdout_lines(1, Duration::from_secs(5));
    b.write_all(b"b1").unwrap();
    assert_eq!(read(&mut a), b"b1");
    a.write_all(b"a2").unwrap();
    assert_eq!(read(&mut b), b"a2");
}
