//! `cargo xtask build-ebpf`: compiles the BPF programs in `runtime-ebpf/` with the system
//! clang into the sample directories that load them. The objects are committed, so a normal
//! `cargo build` never needs clang.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// Each program source and the object file its sample loads.
const PROGRAMS: &[(&str, &str)] = &[
    ("runtime-ebpf/transparent-proxy.c", "samples/bpf/transparent-proxy/transparent-proxy.o"),
    ("runtime-ebpf/packet-counter.c", "samples/bpf/packet-counter/packet-counter.o"),
    ("runtime-ebpf/port-interceptor.c", "samples/bpf/port-interceptor/port-interceptor.o"),
    ("runtime-ebpf/load-balancer.c", "samples/bpf/load-balancer/load-balancer.o"),
    // Not a sample: the `.text` program runtime/src/bpf/text.rs is tested with.
    ("runtime-ebpf/text-program.c", "runtime/src/bpf/testdata/text-program.o"),
    // Not a sample: the `.text` cgroup program with per-CPU maps tests/tests/bpf_attach.rs runs.
    ("runtime-ebpf/cgroup-counter.c", "tests/bpf/cgroup-counter.o"),
    // Not a sample: the programs tests/tests/bpf_attach.rs attaches to a netns and a sockmap.
    ("runtime-ebpf/attach-targets.c", "tests/bpf/attach-targets.o"),
];

const APT_HINT: &str = "install them with: apt-get install -y clang libbpf-dev linux-libc-dev";

/// The multiarch include dir (for `asm/types.h`), e.g. `/usr/include/x86_64-linux-gnu`.
fn multiarch_include() -> anyhow::Result<String> {
    let triple = Command::new("gcc")
        .arg("-dumpmachine")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| format!("{}-linux-gnu", std::env::consts::ARCH));
    let dir = format!("/usr/include/{triple}");
    if !Path::new(&dir).join("asm/types.h").exists() {
        bail!("{dir}/asm/types.h not found; the kernel headers are missing ({APT_HINT})");
    }
    Ok(dir)
}

pub fn run(root: &Path) -> anyhow::Result<()> {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    match Command::new(&clang).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => bail!("`{clang}` not found; the BPF programs need clang ({APT_HINT}), or set CLANG"),
    }
    for header in ["/usr/include/bpf/bpf_helpers.h", "/usr/include/linux/bpf.h"] {
        if !Path::new(header).exists() {
            bail!("{header} not found ({APT_HINT})");
        }
    }
    let include = multiarch_include()?;
    for (src, out) in PROGRAMS {
        let (src, out) = (root.join(src), root.join(out));
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let fresh = out.with_extension("o.new");
        let status = Command::new(&clang)
            .args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror"])
            .arg(format!("-I{include}"))
            // Paths in the debug info relative to the checkout, so that every clone builds
            // the very object that is committed.
            .arg(format!("-fdebug-prefix-map={}=.", root.display()))
            .current_dir(root)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&fresh)
            .status()
            .with_context(|| format!("running {clang}"))?;
        if !status.success() {
            bail!("{clang} failed on {} ({status})", src.display());
        }
        let name = out.strip_prefix(root).unwrap_or(&out).display().to_string();
        // The same bytes leave the committed object (and its time) alone: a newer object
        // under runtime/src would make the tests think the binary is older than its sources.
        if std::fs::read(&fresh)? == std::fs::read(&out).unwrap_or_default() {
            std::fs::remove_file(&fresh)?;
            println!("unchanged {name}");
        } else {
            std::fs::rename(&fresh, &out).with_context(|| format!("writing {name}"))?;
            println!("built {name}");
        }
    }
    Ok(())
}
