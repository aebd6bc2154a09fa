//! What one `handleMessageStart` callback costs, through the real filter.
//!
//! A script builds `pipeline($=>$.handleMessageStart(fn))`; the bench instantiates that layout
//! and pushes `MessageStart` events into it, exactly as a decoder would, so each call pays for
//! everything the filter does: turning the Rust head into the JS object, the context switch,
//! the call and the promise-job check. Two cases share the method:
//!
//! - `floor`: `() => {}` on a message without a head, the fixed cost of the filter and call;
//! - `head10`: `({ head }) => ...` reading `method`, `path` and `headers.host` of a request head
//!   with 10 headers, the case the 5 µs budget of spec/boa-callback.md is about.
//!
//! The times include the garbage collections the calls cause, so the p99 and the max show
//! Boa's stop-the-world pauses. The CPU time per call is printed beside the wall times: on
//! a shared machine it is the figure that does not count waiting for a core. `cargo xtask bench` runs this and reads the `RESULT` lines:
//! `RESULT <case> <calls/s> <p50 µs> <p99 µs> <max µs> <VmHWM kB>`.
//!
//! Run: `cargo run --release -p weir --example callback_bench [-- --quick] [--only CASE]`

use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use boa_engine::Source;
use weir::codec::http1::{Header, RequestHead};
use weir::engine::pipeline::Discard;
use weir::engine::{Context, Event, Head, Pipeline};
use weir::js;

struct Case {
    name: &'static str,
    callback: &'static str,
    /// Two heads that differ as consecutive requests do, sent in turn.
    heads: [Head; 2],
}

/// A request head with 10 headers; `n` varies the path and the request id, as consecutive
/// requests on one connection do (same lengths, so the callback sees the same sum).
fn request_head(n: u32) -> Head {
    let headers = [
        ("Host", "example.com"),
        ("User-Agent", "curl/7.88.1"),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("Accept-Language", "en-US,en;q=0.9"),
        ("Connection", "keep-alive"),
        ("Cache-Control", "no-cache"),
        ("X-Request-Id", &format!("5f0c6a4e-8d1b-4c1e-9a57-3f0e2b7d9c1{}", n % 10)),
        ("X-Forwarded-For", "10.0.0.1"),
        ("Cookie", "session=abc123; theme=dark"),
    ];
    Head::Request(Rc::new(RequestHead {
        method: "GET".into(),
        path: format!("/some/path?q={}", n % 10).into(),
        protocol: "HTTP/1.1".into(),
        headers: headers.iter().map(|(n, v)| Header::new(*n, *v)).collect(),
    }))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only head10`: one case, e.g. to count its instructions under Valgrind.
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    let (rounds, n) = if quick { (3, 30_000) } else { (5, 200_000) };

    let cases = [
        Case { name: "floor", callback: "() => {}", heads: [Head::None, Head::None] },
        Case {
            name: "head10",
            callback: "({ head }) => { seen += head.method.length + head.path.length + head.headers.host.length }",
            heads: [request_head(1), request_head(2)],
        },
    ];

    let mut ctx = js::new_context().map_err(|e| anyhow!("cannot set up the JS host: {e}"))?;
    let mut pipelines = Vec::new();
    for case in &cases {
        let source = format!("var seen = 0; pipeline($=>$.handleMessageStart({}))", case.callback);
        let template = ctx
            .eval(Source::from_bytes(source.as_bytes()))
            .map_err(|e| anyhow!("{}: {}", case.name, js::describe(&e, &mut ctx)))?;
        let layout = js::pipeline::template_layout(&template).context("pipeline() did not return a template")?;
        pipelines.push(layout);
    }
    js::install(Rc::new(std::cell::RefCell::new(ctx)));

    for (case, layout) in cases.iter().zip(pipelines) {
        if only.as_ref().is_some_and(|o| o != case.name) {
            continue;
        }
        let pipeline = Pipeline::new(layout, Context::root(), Rc::new(Discard));
        pipeline.start(&[]);
        check(case, &pipeline)?;
        let evts = case.heads.clone().map(Event::MessageStart);
        for i in 0..n / 10 {
            pipeline.input(evts[i % 2].clone());
        }
        let mut round_means = Vec::new();
        let mut cpu_means = Vec::new();
        let mut samples = Vec::with_capacity(rounds * n);
        for _ in 0..rounds {
            let start = Instant::now();
            let cpu = thread_cpu_time();
            for i in 0..n {
                let evt = evts[i % 2].clone();
                let t = Instant::now();
                pipeline.input(evt);
                samples.push(t.elapsed());
            }
            round_means.push(start.elapsed() / n as u32);
            cpu_means.push((thread_cpu_time() - cpu) / n as u32);
        }
        round_means.sort();
        cpu_means.sort();
        samples.sort();
        let median = round_means[rounds / 2];
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
        eprintln!(
            "{:>7}: {:.2} µs a call (median of {rounds} rounds of {n}; fastest round {:.2} µs; {:.2} µs of CPU), p50 {:.2} µs, p99 {:.2} µs, max {:.0} µs",
            case.name,
            us(median),
            us(round_means[0]),
            us(cpu_means[rounds / 2]),
            us(pct(0.5)),
            us(pct(0.99)),
            us(pct(1.0)),
        );
        println!(
            "RESULT {} {:.0} {:.3} {:.3} {:.1} {}",
            case.name,
            1.0 / median.as_secs_f64(),
            us(pct(0.5)),
            us(pct(0.99)),
            us(pct(1.0)),
            vm_hwm_kb().unwrap_or(0)
        );
    }
    Ok(())
}

/// Makes sure the callback really ran and saw the head: a bench of a callback that throws
/// or reads `undefined` would measure the wrong thing.
fn check(case: &Case, pipeline: &Pipeline) -> Result<()> {
    let seen = || -> Result<f64> {
        js::with_js(|ctx| ctx.eval(Source::from_bytes("seen")).map(|v| v.as_number()))
            .context("JS context busy")?
            .map_err(|e| anyhow!("{e}"))?
            .context("`seen` is not a number")
    };
    let before = seen()?;
    pipeline.input(Event::MessageStart(case.heads[0].clone()));
    let grown = seen()? - before;
    // "GET" + "/some/path?q=1" + "example.com"
    let expected = if case.name == "head10" { 28.0 } else { 0.0 };
    if grown != expected {
        bail!("the {} callback did not see the head: `seen` grew by {grown}, not {expected}", case.name);
    }
    Ok(())
}

/// CPU time of this thread: on a shared machine, wall time also counts the time the bench
/// waited for a core.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
