//! `bpf.attach`/`bpf.detach`: programs attached with bpf links (BPF_LINK_CREATE), kept in the
//! process-wide registry so a repeated attach of the same program to the same target (one per
//! worker thread) only counts a reference. The kernel drops a link when its last fd closes, so
//! every attachment goes away with the process however it ends, where Pipy's BPF_PROG_ATTACH
//! would outlive a crash. Links take any program fd, so programs loaded from `.text` (with the
//! type the script gave), by aya, or opened with `bpf.get` attach alike.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::kinds::{attach_type_name, kind_of};
use super::{Error, REGISTRY, lock, sys};

/// What a program is attached to, as `bpf.attach`'s third argument gives it.
pub enum Target<'a> {
    /// A cgroup directory.
    Cgroup(&'a Path),
    /// An fd the script holds: a map (sockmap, sockhash), a cgroup or a namespace.
    Fd(RawFd),
    /// No target given: the network namespace Weir runs in (flow dissector, sk_lookup).
    OwnNetns,
}

/// What tells two targets apart in the registry: a file's device and inode, or an fd
/// (every bpf map shares one anonymous inode, so a map is known by its fd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum TargetKey {
    File(u64, u64),
    Fd(RawFd),
}

/// The fd to link to (open only while linking, for paths) and the registry key.
fn open_target(call: &str, target: &Target) -> Result<(Option<File>, RawFd, TargetKey), Error> {
    let open = |path: &Path, what: &str| {
        let f =
            File::open(path).map_err(|e| Error::new(call, format!("cannot open {what} {}: {e}", path.display())))?;
        let m = f.metadata().map_err(|e| Error::new(call, format!("cannot stat {}: {e}", path.display())))?;
        let (fd, key) = (f.as_raw_fd(), TargetKey::File(m.dev(), m.ino()));
        Ok((Some(f), fd, key))
    };
    match target {
        Target::Cgroup(path) => open(path, "cgroup"),
        Target::OwnNetns => open(Path::new("/proc/self/ns/net"), "network namespace"),
        Target::Fd(fd) => {
            // SAFETY: `stat` is plain old data, for which all zeroes is a valid value.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: fstat on an fd number the script gave; one not open fails with EBADF.
            if unsafe { libc::fstat(*fd, &mut st) } != 0 {
                return Err(Error::sys(call, "fstat of the target", &io::Error::last_os_error()));
            }
            let key = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                TargetKey::File(st.st_dev, st.st_ino)
            } else {
                TargetKey::Fd(*fd)
            };
            Ok((None, *fd, key))
        }
    }
}

/// For a program `bpf.object` loaded from a section that says how it attaches, a clear error
/// when the script asks for another attach type (the kernel would only say EINVAL).
fn check_section(call: &str, prog_id: u32, attach_type: u32) -> Result<(), Error> {
    let reg = lock(&REGISTRY);
    for (_, o) in &reg.objects {
        let inner = lock(&o.inner);
        let Some((name, _)) = inner.loaded.iter().find(|(_, l)| l.id == prog_id) else {
            continue;
        };
        let section = &o.programs.iter().find(|p| &p.name == name).expect("loaded programs are listed").section;
        let Some(wanted) = kind_of(section).and_then(|k| k.cgroup_attach) else {
            return Ok(());
        };
        if wanted != attach_type {
            let (is, not) = (attach_type_name(wanted), attach_type_name(attach_type));
            return Err(Error::new(call, format!("program {name} (section {section}) attaches as {is}, not {not}")));
        }
    }
    Ok(())
}

/// Attaches the program `prog_fd` to `target`. Attaching the same program to the same target
/// again only adds a reference.
pub fn attach(attach_type: u32, prog_fd: RawFd, target: Target) -> Result<(), Error> {
    const CALL: &str = "bpf.attach";
    let prog_id = sys::prog_id(prog_fd).map_err(|e| Error::sys(CALL, "BPF_OBJ_GET_INFO_BY_FD of the program", &e))?;
    check_section(CALL, prog_id, attach_type)?;
    let (_file, target_fd, target_key) = open_target(CALL, &target)?;
    let key = (attach_type, prog_id, target_key);
    let mut reg = lock(&REGISTRY);
    if let Some((count, _)) = reg.links.get_mut(&key) {
        *count += 1;
        return Ok(());
    }
    let link =
        sys::link_create(prog_fd, target_fd, attach_type).map_err(|e| Error::sys(CALL, "BPF_LINK_CREATE", &e))?;
    reg.links.insert(key, (1, link));
    Ok(())
}

/// Drops one reference to an attachment made by [`attach`]; the last one closes the link,
/// which detaches the program.
pub fn detach(attach_type: u32, prog_fd: RawFd, target: Target) -> Result<(), Error> {
    const CALL: &str = "bpf.detach";
    let prog_id = sys::prog_id(prog_fd).map_err(|e| Error::sys(CALL, "BPF_OBJ_GET_INFO_BY_FD of the program", &e))?;
    let (_, _, target_key) = open_target(CALL, &target)?;
    let key = (attach_type, prog_id, target_key);
    let mut reg = lock(&REGISTRY);
    let Some((count, _)) = reg.links.get_mut(&key) else {
        return Err(Error::sys(CALL, "BPF_LINK_DETACH", &io::Error::from_raw_os_error(libc::ENOENT)));
    };
    *count -= 1;
    if *count == 0 {
        reg.links.remove(&key);
    }
    Ok(())
}
