//! The few `bpf(2)` commands aya has no public call for: pinning and opening any fd by path
//! (`bpf.pin`, `bpf.get` take raw fds, while aya pins only the programs and maps it owns),
//! loading a program aya does not see (see `text`), reading a program's id, and linking any
//! program fd to any target (aya links only the programs it loaded itself).

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::Error;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_LINK_CREATE: libc::c_long = 28;

/// Runs one bpf(2) command on `attr`, a `union bpf_attr` prefix laid out as the kernel does.
fn call<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, fully initialised struct of the size passed; the pointers it
    // holds are the callers' buffers, alive for the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size_of::<T>()) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

#[repr(C)]
struct ObjAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

fn c_path(call: &str, path: &Path) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::new(call, "path holds a NUL byte"))
}

/// Pins the program, map or link `fd` at `path` on a bpffs.
pub fn pin(path: &Path, fd: RawFd) -> Result<(), Error> {
    let p = c_path("bpf.pin", path)?;
    let mut attr = ObjAttr { pathname: p.as_ptr() as u64, bpf_fd: fd as u32, file_flags: 0 };
    call(BPF_OBJ_PIN, &mut attr).map(drop).map_err(|e| Error::sys("bpf.pin", "BPF_OBJ_PIN", &e))
}

/// Opens what is pinned at `path`.
pub fn get(path: &Path) -> Result<OwnedFd, Error> {
    let p = c_path("bpf.get", path)?;
    let mut attr = ObjAttr { pathname: p.as_ptr() as u64, bpf_fd: 0, file_flags: 0 };
    let fd = call(BPF_OBJ_GET, &mut attr).map_err(|e| Error::sys("bpf.get", "BPF_OBJ_GET", &e))?;
    // SAFETY: the kernel just returned this fd and nobody else holds it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// What BPF_PROG_LOAD reads, up to `expected_attach_type`.
#[repr(C)]
pub(super) struct ProgLoad {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; 16],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
}

pub(super) fn prog_load(attr: &mut ProgLoad) -> io::Result<OwnedFd> {
    let fd = call(BPF_PROG_LOAD, attr)?;
    // SAFETY: the kernel just returned this fd and nobody else holds it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The kernel id of the program `fd`: the second field of `struct bpf_prog_info`, of which
/// the kernel fills as much as it is given.
pub(super) fn prog_id(fd: RawFd) -> io::Result<u32> {
    let mut info = [0u32; 2];
    let mut attr = InfoAttr { bpf_fd: fd as u32, info_len: size_of_val(&info) as u32, info: info.as_mut_ptr() as u64 };
    call(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(info[1])
}

/// The BPF_LINK_CREATE part of `union bpf_attr` with no type-specific fields.
#[repr(C)]
struct LinkCreate {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
}

/// Links program `prog_fd` to `target_fd` for `attach_type`; closing the link detaches it.
pub(super) fn link_create(prog_fd: RawFd, target_fd: RawFd, attach_type: u32) -> io::Result<OwnedFd> {
    let mut attr = LinkCreate { prog_fd: prog_fd as u32, target_fd: target_fd as u32, attach_type, flags: 0 };
    let fd = call(BPF_LINK_CREATE, &mut attr)?;
    // SAFETY: the kernel just returned this fd and nobody else holds it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
