//! The open-files limit. A proxy holds two descriptors per proxied connection, and service
//! managers start processes with a soft limit of 1,024 (systemd's default; the hard limit is
//! 524,288 there): about 500 proxied connections would exhaust it. Like nginx's
//! `worker_rlimit_nofile` and Go's runtime, Weir raises its soft limit to the hard one at
//! start, or to a cap the operator gives.

use std::io;

/// What the limit was and what it is now.
#[derive(Debug, PartialEq)]
pub struct Raised {
    pub was: u64,
    pub now: u64,
    pub hard: u64,
}

/// Sets the soft limit to the hard one, or to `cap` if that is lower (a cap can also lower
/// it: that is what was asked for).
pub fn raise(cap: Option<u64>) -> io::Result<Raised> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let was = lim.rlim_cur;
    let hard = lim.rlim_max;
    // An unlimited hard limit still stops at the kernel's fs.nr_open for descriptors.
    let ceiling = if hard == libc::RLIM_INFINITY { nr_open().unwrap_or(was) } else { hard };
    let now = cap.map_or(ceiling, |c| c.min(ceiling));
    if now != was {
        lim.rlim_cur = now;
        // SAFETY: setrlimit reads the struct; a soft limit at or below the hard one needs no
        // privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(Raised { was, now, hard })
}

fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open").ok()?.trim().parse().ok()
}
