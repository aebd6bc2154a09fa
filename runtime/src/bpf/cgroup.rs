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
