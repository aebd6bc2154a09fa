//! `--log-file` and its rotation (`--log-file-max-size`, `--log-file-max-count`,
//! `--log-file-rotate-interval`), as Pipy has them: the runtime's log lines go to the file as
//! well as to stderr. Before a line that would take the file past its size, or once the file
//! is older than the interval, the file is renamed with the time it was opened in front of
//! its name (`2026-12-07-14-05-00-weir.log`) and a new one is started; past the count, the
//! oldest renamed files are removed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Where and when to rotate; zero means never (size, interval) or keep all (count).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rotation {
    pub max_size: usize,
    pub max_count: usize,
    pub interval: Duration,
}

pub struct LogFile {
    path: PathBuf,
    rotation: Rotation,
    open: Mutex<Option<Open>>,
}

struct Open {
    file: File,
    written: usize,
    since: SystemTime,
}

impl LogFile {
    /// Opens (appends to) the file now, so that a path that cannot be written stops the start.
    pub fn open(path: &Path, rotation: Rotation) -> std::io::Result<LogFile> {
        let path = std::path::absolute(path)?;
        let open = Open::start(&path)?;
        Ok(LogFile { path, rotation, open: Mutex::new(Some(open)) })
    }

    /// Writes one or more whole lines. A failed write is dropped: logging must not stop the
    /// proxy, and stderr still has the line.
    pub fn write_lines(&self, bytes: &[u8]) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = open.as_ref()
            && o.written > 0
            && self.due(o, bytes.len())
        {
            let since = o.since;
            *open = None;
            self.rotate(since);
        }
        if open.is_none() {
            *open = Open::start(&self.path).ok();
        }
        if let Some(o) = open.as_mut()
            && o.file.write_all(bytes).is_ok()
        {
            o.written += bytes.len();
        }
    }

    fn due(&self, o: &Open, more: usize) -> bool {
        let r = &self.rotation;
        let too_big = r.max_size > 0 && o.written + more > r.max_size;
        let too_old = !r.interval.is_zero() && o.since.elapsed().is_ok_and(|age| age > r.interval);
        too_big || too_old
    }

    fn rotate(&self, since: SystemTime) {
        let (Some(dir), Some(base)) = (self.path.parent(), self.path.file_name()) else { return };
        let base = base.to_string_lossy();
        let stamp = chrono::DateTime::<chrono::Local>::from(since).format("%Y-%m-%d-%H-%M-%S-").to_string();
        // Two files opened within one second would get one name (Pipy then loses the older):
        // the later one gets a number after the stamp.
        let free = (0..)
            .map(|n| if n == 0 { format!("{stamp}{base}") } else { format!("{stamp}{n}-{base}") })
            .find(|name| !dir.join(name).exists());
        if let Some(name) = free {
            let _ = std::fs::rename(&self.path, dir.join(name));
        }
        if self.rotation.max_count > 0 {
            self.remove_oldest(dir, &base);
        }
    }

    /// Keeps the newest `max_count` renamed files (by their last write).
    fn remove_oldest(&self, dir: &Path, base: &str) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut old: Vec<(SystemTime, PathBuf)> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                let name = e.file_name().into_string().ok()?;
                let prefix = name.strip_suffix(base)?;
                is_stamp(prefix).then_some(())?;
                Some((e.metadata().ok()?.modified().ok()?, e.path()))
            })
            .collect();
        old.sort();
        let extra = old.len().saturating_sub(self.rotation.max_count);
        for (_, path) in &old[..extra] {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Open {
    fn start(path: &Path) -> std::io::Result<Open> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let written = file.metadata()?.len() as usize;
        Ok(Open { file, written, since: SystemTime::now() })
    }
}

/// `YYYY-mm-dd-HH-MM-SS-`, maybe with `N-` after it: what [`LogFile::rotate`] puts in front
/// of a name.
fn is_stamp(s: &str) -> bool {
    let Some((stamp, n)) = s.split_at_checked(20) else { return false };
    let dash = |i: usize| [4, 7, 10, 13, 16, 19].contains(&i);
    let stamp_ok = stamp.bytes().enumerate().all(|(i, b)| if dash(i) { b == b'-' } else { b.is_ascii_digit() });
    let n_ok =
        n.is_empty() || n.strip_suffix('-').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    stamp_ok && n_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    }

    #[test]
    fn rotates_by_size_and_keeps_the_newest_count() {
        let dir = std::env::temp_dir().join(format!("weir-log-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("other.txt"), "not a log").unwrap();
        let log =
            LogFile::open(&dir.join("w.log"), Rotation { max_size: 10, max_count: 2, ..Default::default() }).unwrap();
        log.write_lines(b"line one\n");
        assert_eq!(names(&dir), ["other.txt", "w.log"], "under the size: no rotation");
        log.write_lines(b"line two\n");
        let n = names(&dir);
        assert_eq!(n.len(), 3, "{n:?}");
        assert!(is_stamp(n[0].strip_suffix("w.log").unwrap()), "{n:?}");
        assert_eq!(std::fs::read_to_string(dir.join("w.log")).unwrap(), "line two\n");
        // Stamps have one-second resolution: wait so the next renames get new names.
        for line in ["three\n", "four\n"] {
            std::thread::sleep(Duration::from_millis(1100));
            log.write_lines(line.repeat(2).as_bytes());
        }
        let n = names(&dir);
        assert_eq!(n.len(), 4, "two rotated files kept, other.txt untouched: {n:?}");
        let kept: Vec<String> =
            n.iter().filter(|f| f.ends_with("-w.log")).map(|f| std::fs::read_to_string(dir.join(f)).unwrap()).collect();
        assert!(kept.contains(&"three\nthree\n".to_string()) && kept.contains(&"line two\n".to_string()), "{kept:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_an_error_at_start() {
        assert!(LogFile::open(Path::new("/nonexistent-dir/w.log"), Rotation::default()).is_err());
    }
}
