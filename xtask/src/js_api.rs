//! Type-checks the scripts (samples, bench scripts, test scripts) against js-api/*.d.ts with
//! the TypeScript that js-api/package-lock.json pins.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Installs the pinned TypeScript into js-api/node_modules unless it is there already.
pub fn install(root: &Path) -> Result<()> {
    let dir = root.join("js-api");
    // The installed version must be the one package.json pins, else reinstall.
    let same = Command::new("node")
        .args([
            "-e",
            "process.exit(require('./node_modules/typescript/package.json').version === \
             require('./package.json').devDependencies.typescript ? 0 : 1)",
        ])
        .current_dir(&dir)
        .output()
        .context("run node")?;
    if same.status.success() {
        return Ok(());
    }
    eprintln!("xtask: npm ci in js-api/");
    let status =
        Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir).status().context("run npm ci")?;
    if !status.success() {
        bail!("npm ci in js-api/ failed");
    }
    Ok(())
}

/// `tsc --noEmit` over what jsconfig.json includes; fails on any error.
pub fn check(root: &Path) -> Result<()> {
    install(root)?;
    let started = Instant::now();
    let status = Command::new("node")
        .arg(root.join("js-api/node_modules/typescript/bin/tsc"))
        .args(["--noEmit", "-p"])
        .arg(root.join("jsconfig.json"))
        .current_dir(root)
        .status()
        .context("run tsc")?;
    if !status.success() {
        bail!("tsc found errors in the scripts or in js-api/*.d.ts (see above)");
    }
    eprintln!("xtask: tsc: scripts and js-api/*.d.ts agree ({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}
