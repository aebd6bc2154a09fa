//! Live reload: SIGHUP (or a changed file under `--watch`, or `pipy.restart()`) loads the
//! script again. New connections get the new pipelines, open ones finish on the old ones, the
//! old script's exit callbacks run and its timers stop, and a script that fails to load
//! leaves the old one serving.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use weir_tests::*;

/// A script serving `body` on `port`, saying `exit <body>` when its exit callbacks run. The
/// request must be a `Message` of this script's own classes, also on a connection that
/// outlived a reload.
fn serving(port: u16, body: &str) -> String {
    format!(
        "pipy.exit(() => console.info('exit {body}'))\n\
         pipy.listen({port}, $=>$.serveHTTP(\n\
           req => new Message((req instanceof Message ? '' : 'not a Message: ') + '{body}\\n')))\n"
    )
}

/// weir running `main.js` (written with `text`) from a folder of its own, with `args`.
fn start(text: &str, args: &[&str]) -> (Weir, PathBuf) {
    let dir = TempDir::new();
    let main = dir.0.join("main.js");
    std::fs::write(&main, text).unwrap();
    let mut weir = Weir::run_file(&main, args, dir, |c| c);
    weir.wait_listening();
    (weir, main)
}

/// Replaces the script, signals SIGHUP and waits until every one of `threads` workers says
/// it reloaded (the `n`th reload).
fn reload(weir: &mut Weir, main: &Path, text: &str, threads: usize, n: usize) {
    std::fs::write(main, text).unwrap();
    weir.signal(libc::SIGHUP);
    wait_reloaded(weir, threads * n);
}

fn wait_reloaded(weir: &Weir, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let done = || weir.stderr().iter().filter(|l| l.contains("Codebase reloaded on thread")).count();
    while done() < count && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(done(), count, "reloads logged; stderr:\n{}", weir.stderr().join("\n"));
}

fn get(port: u16, path: &str) -> String {
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}{path}")]);
    assert_eq!(code, 0, "curl: {err}");
    body
}

/// One request on an open keep-alive connection: the body.
fn request(s: &mut TcpStream) -> std::io::Result<String> {
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut len = 0;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn sighup_gives_new_connections_the_new_script_and_open_ones_the_old() {
    let port = free_port();
    let (mut weir, main) = start(&serving(port, "v1"), &[]);
    let mut open = TcpStream::connect(("127.0.0.1", port)).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(request(&mut open).unwrap(), "v1\n");

    reload(&mut weir, &main, &serving(port, "v2"), 1, 1);
    assert_eq!(get(port, "/"), "v2\n");
    assert_eq!(request(&mut open).unwrap(), "v1\n", "the open connection changed scripts");
    // The old script's exit callbacks run a moment after the new one took over.
    weir.wait_stderr("exit v1", Duration::from_secs(5));
    assert!(!weir.stderr().iter().any(|l| l.ends_with("exit v2")));

    // Closed, so that the stop need not wait for it.
    drop(open);
    weir.signal(libc::SIGINT);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(weir.stderr().iter().any(|l| l.ends_with("exit v2")), "new exit callback: {:?}", weir.stderr());
}

#[test]
fn a_script_that_fails_to_load_leaves_the_old_one_serving() {
    let port = free_port();
    let (mut weir, main) = start(&serving(port, "v1"), &[]);
    for (i, broken) in [
        format!("pipy.listen({port}, $=>$.serveHTTP(\n"),
        format!(
            "pipy.exit(() => console.info('exit broken'))\nthrow new Error('not today')\npipy.listen({port}, $=>$)\n"
        ),
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(&main, broken).unwrap();
        weir.signal(libc::SIGHUP);
        let deadline = Instant::now() + Duration::from_secs(10);
        let failed = |w: &Weir| w.stderr().iter().filter(|l| l.contains("Failed reloading codebase")).count();
        while failed(&weir) <= i && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(failed(&weir), i + 1, "stderr:\n{}", weir.stderr().join("\n"));
        assert_eq!(get(port, "/"), "v1\n", "after broken script {i}");
    }
    let err = weir.stderr().join("\n");
    assert!(err.contains("main.js:2") && err.contains("not today"), "the error names the file and line:\n{err}");
    assert!(!err.contains("exit v1") && !err.contains("exit broken"), "exit callbacks ran:\n{err}");

    // The state the failures left behind loads the next script as well.
    reload(&mut weir, &main, &serving(port, "v3"), 1, 1);
    assert_eq!(get(port, "/"), "v3\n");
}

#[test]
fn listeners_follow_the_script_and_old_timers_stop() {
    let (p1, p2) = (free_port(), free_port());
    let ticking = |name: &str, ports: &[u16]| {
        let listens: String =
            ports.iter().map(|p| format!("pipy.listen({p}, $=>$.serveHTTP(new Message('{name} {p}\\n')))\n")).collect();
        format!(
            "function tick() {{ new Timeout(0.05).wait().then(() => {{ println('tick {name}'); tick() }}) }}\n\
             tick()\n{listens}"
        )
    };
    let (mut weir, main) = start(&ticking("v1", &[p1]), &[]);
    reload(&mut weir, &main, &ticking("v2", &[p1, p2]), 1, 1);
    assert_eq!(get(p1, "/"), format!("v2 {p1}\n"));
    assert_eq!(get(p2, "/"), format!("v2 {p2}\n"));
    reload(&mut weir, &main, &ticking("v3", &[p2]), 1, 2);
    assert_eq!(get(p2, "/"), format!("v3 {p2}\n"));
    let (code, _, _) = curl(&[&format!("http://127.0.0.1:{p1}/")]);
    assert_eq!(code, 7, "port {p1} still accepts after the script stopped listening on it");

    // Only the current script's timer goes on.
    thread::sleep(Duration::from_millis(300));
    let before = weir.stdout();
    thread::sleep(Duration::from_millis(300));
    let after = weir.stdout();
    let new: Vec<&String> = after[before.len()..].iter().collect();
    assert!(new.len() >= 2, "the new timer does not tick: {new:?}");
    assert!(new.iter().all(|l| *l == "tick v3"), "an old timer still ticks: {new:?}");
}

#[test]
fn reloading_under_load_fails_no_request() {
    let port = free_port();
    let (mut weir, main) = start(&serving(port, "v0"), &["--threads=2"]);
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (seen, failures, stop) = (seen.clone(), failures.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let r = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
                        s.set_read_timeout(Some(Duration::from_secs(10)))?;
                        request(&mut s)
                    });
                    match r {
                        Ok(body) => seen.lock().unwrap().push(body),
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                }
            })
        })
        .collect();
    for v in 1..=3 {
        let body = format!("v{v}");
        reload(&mut weir, &main, &serving(port, &body), 2, v);
        let deadline = Instant::now() + Duration::from_secs(10);
        let shown = || seen.lock().unwrap().iter().rev().take(20).all(|b| b.trim() == body);
        while !shown() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(shown(), "after reload {v}, clients still get: {:?}", seen.lock().unwrap().iter().rev().take(20));
    }
    stop.store(true, Ordering::Relaxed);
    clients.into_iter().for_each(|c| c.join().unwrap());
    let failures = failures.lock().unwrap();
    let served = seen.lock().unwrap().len();
    assert!(
        failures.is_empty(),
        "{} of {served} requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(served > 100, "only {served} requests went through");
}

/// A script serving `body`, and calling pipy.restart() on a request for /restart.
fn restartable(port: u16, body: &str) -> String {
    format!(
        "pipy.listen({port}, $=>$.serveHTTP(req => {{\n\
           if (req.head.path === '/restart') pipy.restart()\n\
           return new Message('{body}\\n')\n\
         }}))\n"
    )
}

#[test]
fn watch_reloads_a_changed_file_and_pipy_restart_reloads_on_request() {
    let port = free_port();
    let (mut weir, main) = start(&restartable(port, "v1"), &["--watch"]);
    // A change of the file alone is seen: no signal.
    std::fs::write(&main, restartable(port, "v2")).unwrap();
    wait_reloaded(&weir, 1);
    assert_eq!(get(port, "/"), "v2\n");
    // A rename over it, as editors save, is seen too.
    let tmp = main.with_extension("tmp");
    std::fs::write(&tmp, restartable(port, "v3")).unwrap();
    std::fs::rename(&tmp, &main).unwrap();
    wait_reloaded(&weir, 2);
    assert_eq!(get(port, "/"), "v3\n");
    weir.signal(libc::SIGINT);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0));

    // Without --watch, a change alone is not loaded; pipy.restart() loads it.
    let port = free_port();
    let restartable = |body: &str| restartable(port, body);
    let (mut weir, main) = start(&restartable("v1"), &[]);
    std::fs::write(&main, restartable("v2")).unwrap();
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(get(port, "/"), "v1\n");
    let (code, _, err) = curl(&[&format!("http://127.0.0.1:{port}/restart")]);
    assert_eq!(code, 0, "{err}");
    wait_reloaded(&weir, 1);
    assert_eq!(get(port, "/"), "v2\n");
    weir.signal(libc::SIGINT);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0));
}

/// A script whose gauge `demo_version` is set by its callback at each scrape: to the number
/// of scrapes so far plus `base`.
fn gauged(port: u16, base: u32) -> String {
    format!(
        "var n = {base}\n\
         new stats.Gauge('demo_version', [], g => g.set(++n))\n\
         pipy.listen({port}, $=>$.serveHTTP(new Message('ok')))\n"
    )
}

#[test]
fn after_a_reload_only_the_new_scripts_gauge_callbacks_are_called() {
    let (port, admin) = (free_port(), free_port());
    let (mut weir, main) = start(&gauged(port, 0), &[&format!("--admin-port=127.0.0.1:{admin}")]);
    let scrape = || {
        let mut s = TcpStream::connect(("127.0.0.1", admin)).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let line = text.lines().find(|l| l.starts_with("demo_version ")).unwrap_or_else(|| panic!("{text}"));
        line["demo_version ".len()..].parse::<f64>().unwrap()
    };
    assert_eq!(scrape(), 1.0);
    reload(&mut weir, &main, &gauged(port, 1000), 1, 1);
    // The old script's last value stays (metrics keep theirs across reloads); only the new
    // callback moves.
    let (a, b) = (scrape(), scrape());
    assert_eq!(b - a, 1.0, "{a} then {b}");
}
