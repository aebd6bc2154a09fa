//! `cargo xtask <task>`: the project's set-up, build and test tasks.

mod bench;
mod build_ebpf;
mod deps;
mod js_api;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
Usage: cargo xtask <task>

Tasks:
  bench          [--quick] [SCENARIO...] Build weir and measure it against nginx, iptables, the direct path
  build-ebpf     Compile runtime-ebpf/*.c into the samples' .o files (needs clang, libbpf-dev)
  test           Install what the tests need, type-check the scripts against js-api/, rebuild
                 the eBPF objects, build weir, run all tests
  check-js       Type-check the samples and scripts against js-api/*.d.ts (tsc --noEmit)
  run-sample     Build weir and run samples/bpf/transparent-proxy/main.js
";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root())
        .status()
        .with_context(|| format!("run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench::run(&root(), &args[1..]),
        Some("build-ebpf") => build_ebpf::run(&root()),
        Some("test") => test(),
        Some("check-js") => {
            deps::ensure(deps::JS)?;
            js_api::check(&root())
        }
        Some("run-sample") => run_sample(&args[1..]),
        // Internal: the ceiling relay of bench scenario h runs as a child of the bench.
        Some("splice-relay") => bench::relay::main(&args[1..]),
        _ => {
            eprint!("{USAGE}");
            if args.is_empty() { Ok(()) } else { bail!("unknown task: {}", args[0]) }
        }
    }
}

/// Everything CI runs: the same command works on a fresh machine.
fn test() -> Result<()> {
    deps::ensure(deps::TEST)?;
    js_api::check(&root())?;
    build_ebpf::run(&root())?;
    cargo(&["build", "--release", "-p", "weir"])?;
    let bin = root().join("target/release/weir");
    let skip_log = root().join("target/weir-skipped.log");
    let _ = std::fs::remove_file(&skip_log);
    // SAFETY: single-threaded at this point; the variables are read by the test processes.
    unsafe {
        std::env::set_var("WEIR_BIN", &bin);
        std::env::set_var("WEIR_SKIP_LOG", &skip_log);
    }
    // Every test file runs even after one fails: one CI run names all the failures.
    let result = cargo(&["test", "--release", "--workspace", "--no-fail-fast", "--", "--test-threads=2"]);
    report_skips(&skip_log)?;
    result
}

/// libtest counts a test that returned early as passed: say loudly which ones skipped, and
/// fail where they should have run (root with cgroup v2, as in CI).
fn report_skips(log: &Path) -> Result<()> {
    let skipped = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = skipped.lines().collect();
    if lines.is_empty() {
        println!("skipped tests: none");
        return Ok(());
    }
    println!("SKIPPED {} tests:", lines.len());
    lines.iter().for_each(|l| println!("  {l}"));
    if deps::is_root() && deps::has_cgroup2() {
        bail!("{} tests skipped although this is root with cgroup v2: they must run here", lines.len());
    }
    Ok(())
}

fn run_sample(extra: &[String]) -> Result<()> {
    cargo(&["build", "--release", "-p", "weir"])?;
    let bin = root().join("target/release/weir");
    let status = Command::new(bin)
        .arg(root().join("samples/bpf/transparent-proxy/main.js"))
        .args(extra)
        .status()
        .context("run weir")?;
    if !status.success() {
        bail!("weir exited with {status}");
    }
    Ok(())
}
