//! cgroup v2 lookups: a directory's cgroup id.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// The id `bpf_get_current_cgroup_id()` returns for tasks in the cgroup at `path`: on cgroup
/// v2 that is the inode number of its directory. `None` if `path` is not a cgroup v2 dir.
pub fn cgroup_id(path: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a properly sized out-buffer.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 || st.f_type as i64 != CGROUP2_SUPER_MAGIC {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    meta.is_dir().then(|| meta.ino())
}

/// Ids of the programs attached directly to the cgroup at `path` for `attach_type` (as bpf
/// links or otherwise), in the order they run: BPF_PROG_QUERY, what `bpftool cgroup show`
/// lists.
pub fn attached(attach_type: u32, path: &Path) -> std::io::Result<Vec<u32>> {
    use std::os::fd::AsRawFd;
    // The BPF_PROG_QUERY part of union bpf_attr, up to prog_cnt.
    #[repr(C)]
    struct Query {
        target_fd: u32,
        attach_type: u32,
        query_flags: u32,
        attach_flags: u32,
        prog_ids: u64,
        prog_cnt: u32,
        _pad: u32,
    }
    const BPF_PROG_QUERY: libc::c_long = 16;
    let dir = std::fs::File::open(path)?;
    let mut ids = vec![0u32; 16];
    loop {
        let mut q = Query {
            target_fd: dir.as_raw_fd() as u32,
            attach_type,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            _pad: 0,
        };
        // SAFETY: `q` is a properly initialised BPF_PROG_QUERY attr whose prog_ids points to
        // `ids`, prog_cnt entries long; both outlive the call.
        let r = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_QUERY, &mut q as *mut Query, size_of::<Query>()) };
        let err = std::io::Error::last_os_error();
        match r {
            0 => {
                ids.truncate(q.prog_cnt as usize);
                return Ok(ids);
            }
            // More programs than room: prog_cnt says how many.
            _ if err.raw_os_error() == Some(libc::ENOSPC) => ids = vec![0; q.prog_cnt as usize + 16],
            _ => return Err(err),
        }
    }
}
