//! rtnetlink from a script: `encodeNetlink`, `connect` with `protocol: 'netlink'` and
//! `decodeNetlink`, run by pipeline templates' `spawn`, in a network namespace made for the
//! test (weir runs under `unshare --net`, so the namespace goes when weir does); and the
//! script-side pieces Pipy's netlink samples lean on: `pipy.watch`, `process`, `repeat`.

use std::process::Command;
use std::time::{Duration, Instant};

use weir_tests::*;

/// Waits until stdout has a line equal to `line`; all of stdout either way.
fn wait_line(weir: &Weir, line: &str, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout * slowdown();
    loop {
        let out = weir.stdout();
        if out.iter().any(|l| l == line) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `ip args` in weir's network namespace.
fn ip_in(weir: &Weir, args: &str) {
    let pid = weir.child.id().to_string();
    let ok = Command::new("nsenter")
        .args(["-t", &pid, "-n", "ip"])
        .args(args.split_whitespace())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip {args} in weir's netns");
}

fn run_in_netns(script: &str) -> Weir {
    let dir = TempDir::new();
    let path = dir.0.join("main.js");
    std::fs::copy(workspace().join("tests/scripts/netlink").join(script), &path).unwrap();
    Weir::run_wrapped(&["unshare", "--net"], &path, &[], dir, |c| c)
}

#[test]
fn a_script_dumps_links_then_hears_a_veth_and_its_address_come_and_go() {
    let weir = run_in_netns("rtnetlink.js");
    // A new namespace has only `lo` (index 1), down, with no address: the address dump is empty.
    for line in ["link 16 1 lo", "done 1", "done 2"] {
        let out = wait_line(&weir, line, Duration::from_secs(10));
        assert!(out.iter().any(|l| l == line), "{line:?} not printed; stdout {out:?} stderr {:?}", weir.stderr());
    }
    ip_in(&weir, "link add wlt0 type veth peer name wlt1");
    ip_in(&weir, "addr add 10.9.8.7/24 dev wlt0");
    ip_in(&weir, "link del wlt0");
    // The veth pair comes and goes (indexes 2 and 3, in either order), and so does the address.
    for line in ["addr 20 10.9.8.7", "addr 21 10.9.8.7", "link 16 wlt0", "link 16 wlt1", "link 17 wlt0", "link 17 wlt1"]
    {
        let deadline = Instant::now() + Duration::from_secs(10) * slowdown();
        let heard = |out: &[String]| out.iter().any(|l| l.starts_with(&line[..7]) && l.ends_with(&line[7..]));
        while !heard(&weir.stdout()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(heard(&weir.stdout()), "{line:?} not heard; stdout {:?} stderr {:?}", weir.stdout(), weir.stderr());
    }
}

#[test]
fn pipy_watch_resolves_each_time_the_file_changes() {
    let dir = TempDir::new();
    let path = dir.0.join("main.js");
    let conf = dir.0.join("conf.txt");
    std::fs::write(&conf, "one").unwrap();
    std::fs::write(
        &path,
        "function watch() {\n\
           pipy.watch('conf.txt').then(files => {\n\
             println('changed', files.join(), pipy.load('conf.txt').toString())\n\
             watch()\n\
           })\n\
         }\n\
         watch()\n\
         println('watching')\n",
    )
    .unwrap();
    let weir = Weir::run_file(&path, &[], dir, |c| c);
    let out = wait_line(&weir, "watching", Duration::from_secs(10));
    assert_eq!(out, ["watching"], "stderr {:?}", weir.stderr());
    std::fs::write(&conf, "two!").unwrap();
    let out = wait_line(&weir, "changed conf.txt two!", Duration::from_secs(5));
    assert!(out.iter().any(|l| l == "changed conf.txt two!"), "stdout {out:?} stderr {:?}", weir.stderr());
    // Replaced by rename, as editors save: a new file where the old one was.
    let tmp = conf.with_extension("new");
    std::fs::write(&tmp, "three").unwrap();
    std::fs::rename(&tmp, &conf).unwrap();
    let out = wait_line(&weir, "changed conf.txt three", Duration::from_secs(5));
    assert!(out.iter().any(|l| l == "changed conf.txt three"), "stdout {out:?} stderr {:?}", weir.stderr());
}

#[test]
fn templates_spawn_and_process_and_repeat_loops() {
    let script = "\
        var p = pipeline($=>$.onStart(a => { println('start', a); return new StreamEnd }))\n\
        p.spawn('x').then(() => println('spawned ended'))\n\
        var n = 0\n\
        pipeline($=>$.handleMessage(m => println('message', m.head.n, m.body.toString())))\n\
          .process(() => ++n > 3 ? new StreamEnd : new Timeout(0.01).wait().then(() => new Message({ n }, 'b' + n)))\n\
          .then(() => println('processed', n))\n\
        println('repeat', repeat(i => i === 3 ? 'three' : undefined), repeat(5, i => i > 1 ? i : undefined),\n\
          repeat(['a', 'b'], (v, i) => i === 1 ? v : undefined), repeat(2, () => {}))\n";
    let weir = Weir::start(script, &[]);
    let out = wait_line(&weir, "processed 4", Duration::from_secs(10));
    let want =
        ["repeat three 2 b undefined", "start x", "spawned ended", "message 1 b1", "message 2 b2", "message 3 b3"];
    for line in want {
        assert!(out.iter().any(|l| l == line), "{line:?} not printed; stdout {out:?} stderr {:?}", weir.stderr());
    }
    assert!(out.iter().any(|l| l == "processed 4"), "stdout {out:?} stderr {:?}", weir.stderr());
}

#[test]
fn the_repeat_filter_runs_its_sub_pipeline_again_while_the_condition_holds() {
    let script = "\
        var runs = 0, waits = 0\n\
        pipeline($=>$\n\
          .repeat(e => runs < 3)\n\
          .to($=>$.handleData(d => println('run', ++runs, d.toString())))\n\
        ).process([new Data('x'), new StreamEnd]).then(() => println('done', runs))\n\
        pipeline($=>$\n\
          .repeat(e => new Timeout(0.01).wait().then(() => ++waits < 2))\n\
          .to($=>$.replaceData(d => new Data(`${waits}:${d.toString()}`)))\n\
          .handleData(d => println('out', d.toString()))\n\
        ).process([new Data('y'), new StreamEnd]).then(() => println('waited', waits))\n";
    let weir = Weir::start(script, &[]);
    let out = wait_line(&weir, "waited 2", Duration::from_secs(10));
    let first: Vec<_> = out.iter().filter(|l| l.starts_with("run") || l.starts_with("done")).collect();
    assert_eq!(first, ["run 1 x", "run 2 x", "run 3 x", "done 3"], "stdout {out:?} stderr {:?}", weir.stderr());
    let second: Vec<_> = out.iter().filter(|l| l.starts_with("out") || l.starts_with("waited")).collect();
    assert_eq!(second, ["out 0:y", "out 1:y", "waited 2"], "stdout {out:?} stderr {:?}", weir.stderr());
}

#[test]
fn a_netlink_family_the_kernel_lacks_ends_the_stream_with_an_error() {
    let script = "\
        pipeline($=>$\n\
          .onStart(new Data)\n\
          .connect('pid=0;groups=0', { protocol: 'netlink', netlinkFamily: 31 })\n\
          .handleStreamEnd(e => println('ended', e.error))\n\
        ).spawn().then(() => println('spawn resolved'))\n";
    let weir = Weir::start(script, &[]);
    let out = wait_line(&weir, "spawn resolved", Duration::from_secs(10));
    assert_eq!(out, ["ended ConnectionRefused", "spawn resolved"], "stderr {:?}", weir.stderr());
    assert!(weir.stderr().iter().any(|l| l.contains("netlink family 31")), "stderr {:?}", weir.stderr());
}

/// A netlink request queued by a `pipy.exit` callback, for a `process()` pipeline to send (as
/// Pipy's load-balancer sample detaches XDP from its links), reaches the kernel before weir
/// exits: lo, up when weir starts in the test's namespace, is down after SIGINT.
#[test]
fn a_netlink_request_queued_at_exit_is_sent_before_weir_ends() {
    let ns = weir_tests::tproxy::NetNs::create();
    let dir = TempDir::new();
    let path = dir.0.join("main.js");
    std::fs::copy(workspace().join("tests/scripts/netlink/exit-setlink.js"), &path).unwrap();
    let mut weir = Weir::run_wrapped(&["ip", "netns", "exec", &ns.name], &path, &[], dir, |c| c);
    let out = wait_line(&weir, "ready", Duration::from_secs(10));
    assert_eq!(out, ["ready"], "stderr {:?}", weir.stderr());
    let lo =
        || String::from_utf8_lossy(&ns.command("ip", &["link", "show", "lo"]).output().unwrap().stdout).to_string();
    assert!(lo().contains(",UP,"), "lo not up at the start: {}", lo());
    weir.signal(libc::SIGINT);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "stderr {:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["ready", "exiting"]);
    assert!(!lo().contains(",UP,"), "lo still up after the exit callback's request: {}", lo());
}
