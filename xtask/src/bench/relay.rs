//! The ceiling of h: the least a user-space TCP relay can do. Two blocking threads per
//! connection, each moving its direction socket to socket with `splice(2)` through a pipe,
//! with no event loop, no buffer and no parsing. Whatever share of the direct path this
//! reaches is what the second TCP connection of any proxy costs on this machine; a proxy
//! can approach it, not pass it.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::proc::{self, Proc};

/// The pipe size weir's splice path uses, so both measure the same kernel work.
const PIPE: libc::c_int = 256 * 1024;

/// Starts the relay from 127.0.0.1:`port` to 127.0.0.1:`upstream` as a child process
/// (`xtask splice-relay`), so that it has a pid of its own for the RSS column.
pub fn start(port: u16, upstream: u16, dir: &Path) -> Result<Proc> {
    let log = dir.join(format!("splice-relay-{port}.log"));
    let mut cmd = proc::command(std::env::current_exe()?, &log)?;
    cmd.args(["splice-relay", &port.to_string(), &upstream.to_string()]);
    let mut p = Proc::spawn(format!("splice relay on port {port}"), cmd, &log)?;
    p.wait_listening(port)?;
    Ok(p)
}

/// `xtask splice-relay <port> <upstream port>`: runs until killed.
pub fn main(args: &[String]) -> Result<()> {
    let [port, upstream] = args else { bail!("usage: xtask splice-relay <port> <upstream port>") };
    let upstream: u16 = upstream.parse().with_context(|| format!("upstream port {upstream:?}"))?;
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().with_context(|| format!("port {port:?}"))?))?;
    for client in listener.incoming() {
        let client = client?;
        let server = match TcpStream::connect(("127.0.0.1", upstream)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("splice relay: connect to port {upstream}: {e}");
                continue;
            }
        };
        for (from, to) in [(client.try_clone()?, server.try_clone()?), (server, client)] {
            std::thread::spawn(move || {
                if let Err(e) = pump(&from, &to) {
                    eprintln!("splice relay: {e}");
                    let _ = from.shutdown(Shutdown::Both);
                }
                let _ = to.shutdown(Shutdown::Write);
            });
        }
    }
    Ok(())
}

/// One direction, until its end of stream.
fn pump(from: &TcpStream, to: &TcpStream) -> io::Result<()> {
    let (r, w) = pipe()?;
    loop {
        let n = splice(from.as_raw_fd(), w.as_raw_fd(), 1 << 20)?;
        if n == 0 {
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            left -= splice(r.as_raw_fd(), to.as_raw_fd(), left)?;
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors, which are then owned here.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors nobody else holds.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: F_SETPIPE_SZ takes an int; a refusal leaves the default size, still correct.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE) };
    Ok((r, w))
}

fn splice(from: libc::c_int, to: libc::c_int, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: plain descriptors, no offsets.
        let n = unsafe { libc::splice(from, std::ptr::null_mut(), to, std::ptr::null_mut(), len, libc::SPLICE_F_MOVE) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
