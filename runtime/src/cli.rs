//! Command-line options, in Pipy's spelling.

use std::time::Duration;

use crate::log::LogLevel;
use crate::log_file::Rotation;

pub const USAGE: &str = "\
Usage: weir [options] <script.js> [options] [-- script arguments...]
       weir -e '<expression>'

Runs a Pipy script: the script builds pipelines, Weir moves the bytes.

Options:
  -e, --eval <expr>          Run <expr> as the script
  --threads=<N|max>          Worker threads, each running the script (default 1)
  --log-level=<level>        error | warn | info | debug[:topic+topic] (default info)
  --log-file=<filename>      Write the log to this file too (appending)
  --log-file-max-size=<size> Rotate the log file before it grows past this size
  --log-file-max-count=<N>   Keep this many rotated log files (default: all)
  --log-file-rotate-interval=<duration>
                             Rotate the log file when it is older than this
  --reuse-port               Set SO_REUSEPORT on listeners
  --admin-port=<[ip:]port>   Serve /metrics, /api/v1/status and /ready on this port
  --max-open-files=<N>       Raise the open-files soft limit to N at most (default: to
                             the hard limit)
  --max-buffer=<size>        Bytes all connections may hold in queues together: past it,
                             reads pause and new connections wait in the backlog; bytes
                             or '64m', '1g'; 0 is no bound (default: a quarter of memory)
  --drain-timeout=<duration> How long a stop waits for open connections: seconds or
                             '500ms', '10s', '2m' (default 10s)
  --watch                    Load the script again when a file in its folder changes
                             (SIGHUP and pipy.restart() always do)
  -v, --version              Print the version
  -h, --help                 Print this help
  --, --args                 What follows goes to the script as pipy.argv[1..], but the
                             first word without a dash is the script when none was given
                             (so `#!/usr/bin/env -S weir --args` works)
  --pipy-options             Among the script's arguments: options for weir again
";

#[derive(Debug, PartialEq)]
pub enum Target {
    File(String),
    Eval(String),
}

#[derive(Debug, PartialEq)]
pub struct Options {
    pub target: Option<Target>,
    pub threads: usize,
    pub log_level: LogLevel,
    /// `--log-file` and its rotation.
    pub log_file: Option<(String, Rotation)>,
    pub reuse_port: bool,
    pub max_open_files: Option<u64>,
    pub admin_port: Option<std::net::SocketAddr>,
    pub drain_timeout: Duration,
    pub watch: bool,
    /// `--max-buffer`: `None` for the default, `Some(0)` for no bound.
    pub max_buffer: Option<usize>,
    pub script_args: Vec<String>,
    pub help: bool,
    pub version: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            target: None,
            threads: 1,
            log_level: LogLevel { level: tracing::Level::INFO, topics: Vec::new() },
            log_file: None,
            reuse_port: false,
            max_open_files: None,
            admin_port: None,
            drain_timeout: Duration::from_secs(10),
            watch: false,
            max_buffer: None,
            script_args: Vec::new(),
            help: false,
            version: false,
        }
    }
}

pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    // After `--args`, as in Pipy: words go to the script, except the script's own name
    // (the first without a dash, when none came before) and `--pipy-options`, after which
    // words are weir's options again.
    let mut script_args = false;
    while let Some(a) = it.next() {
        if script_args {
            match a.as_str() {
                "--pipy-options" => script_args = false,
                s if o.target.is_none() && !s.starts_with('-') => set_target(&mut o, Target::File(a.clone()))?,
                _ => o.script_args.push(a.clone()),
            }
            continue;
        }
        let (name, value) = match a.split_once('=') {
            Some((n, v)) if n.starts_with('-') => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        match name {
            "-h" | "--help" => o.help = true,
            "-v" | "--version" => o.version = true,
            "--reuse-port" => o.reuse_port = true,
            "--watch" => o.watch = true,
            "--no-graph" | "--no-reload" | "--no-status" | "--no-metrics" => {}
            "-e" | "--eval" => {
                let expr = value.or_else(|| it.next().cloned()).ok_or("missing expression after -e")?;
                set_target(&mut o, Target::Eval(expr))?;
            }
            "--threads" => {
                let v = value.or_else(|| it.next().cloned()).ok_or("missing value for --threads")?;
                o.threads = match v.as_str() {
                    "max" => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                    n => n.parse().ok().filter(|n| *n > 0).ok_or(format!("invalid --threads value: {n}"))?,
                };
            }
            "--log-level" => {
                let v = value.or_else(|| it.next().cloned()).ok_or("missing value for --log-level")?;
                o.log_level = LogLevel::parse(&v)?;
            }
            "--admin-port" => {
                let v = value.or_else(|| it.next().cloned()).ok_or("missing value for --admin-port")?;
                o.admin_port = Some(crate::admin::parse_address(&v)?);
            }
            "--admin-port-off" => o.admin_port = None,
            "--max-open-files" => {
                let v = value.or_else(|| it.next().cloned()).ok_or("missing value for --max-open-files")?;
                let n = v.parse().ok().filter(|n| *n > 0).ok_or(format!("invalid --max-open-files value: {v}"))?;
                o.max_open_files = Some(n);
            }
            "--drain-timeout" => {
                let v = value.or_else(|| it.next().cloned()).ok_or("missing value for --drain-timeout")?;
                o.drain_timeout =
                    crate::options::parse_duration(&v).ok_or(format!("invalid --drain-timeout value: {v}"))?;
            }
            "--max-buffer" => {
                let v = value.or_else(|| it.next().cloned()).ok_or("missing value for --max-buffer")?;
                let n = crate::options::parse_size(&v).ok_or(format!("invalid --max-buffer value: {v}"))?;
                o.max_buffer = Some(n);
            }
            n if n.starts_with("--log-file") => {
                let v = value.or_else(|| it.next().cloned()).ok_or(format!("missing value for {n}"))?;
                log_file_option(&mut o, n, &v)?;
            }
            "--" | "--args" | "-args" => script_args = true,
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option: {a}")),
            _ => set_target(&mut o, Target::File(a.clone()))?,
        }
    }
    Ok(o)
}

/// `--log-file` and the options of its rotation, which may come before it.
fn log_file_option(o: &mut Options, name: &str, v: &str) -> Result<(), String> {
    let bad = || format!("invalid {name} value: {v}");
    let (path, rotation) = o.log_file.get_or_insert_with(Default::default);
    match name {
        "--log-file" => *path = v.to_string(),
        "--log-file-max-size" => rotation.max_size = crate::options::parse_size(v).ok_or_else(bad)?,
        "--log-file-max-count" => rotation.max_count = v.parse().map_err(|_| bad())?,
        "--log-file-rotate-interval" => rotation.interval = crate::options::parse_duration(v).ok_or_else(bad)?,
        _ => return Err(format!("unknown option: {name}")),
    }
    Ok(())
}

fn set_target(o: &mut Options, t: Target) -> Result<(), String> {
    if let Some(existing) = &o.target {
        let name = match (&t, existing) {
            (Target::File(f), _) => f.clone(),
            (Target::Eval(e), _) => e.clone(),
        };
        return Err(format!("redundant argument: {name}"));
    }
    o.target = Some(t);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_before_and_after_the_script() {
        let o = parse(&args("--threads=2 main.js --log-level=debug:thread -- a b")).unwrap();
        assert_eq!(o.target, Some(Target::File("main.js".into())));
        assert_eq!(o.threads, 2);
        assert_eq!(o.log_level.topics, ["thread"]);
        assert_eq!(o.script_args, ["a", "b"]);
        assert_eq!(o.drain_timeout, Duration::from_secs(10));
    }

    #[test]
    fn args_as_pipy_takes_them() {
        // The shebang form: `#!/usr/bin/env -S weir --args` runs `weir --args main.js url dir`.
        let o = parse(&args("--args main.js http://h/ /tmp --x")).unwrap();
        assert_eq!(o.target, Some(Target::File("main.js".into())));
        assert_eq!(o.script_args, ["http://h/", "/tmp", "--x"]);
        let o = parse(&args("main.js --args a --pipy-options --threads=3 -- b")).unwrap();
        assert_eq!(o.target, Some(Target::File("main.js".into())));
        assert_eq!((o.threads, o.script_args), (3, vec!["a".to_string(), "b".to_string()]));
    }

    #[test]
    fn max_buffer_takes_sizes() {
        assert_eq!(parse(&args("--max-buffer=64m a.js")).unwrap().max_buffer, Some(64 << 20));
        assert_eq!(parse(&args("--max-buffer 0 a.js")).unwrap().max_buffer, Some(0));
        assert_eq!(parse(&args("a.js")).unwrap().max_buffer, None);
        assert_eq!(parse(&args("--max-buffer=lots")).unwrap_err(), "invalid --max-buffer value: lots");
    }

    #[test]
    fn drain_timeout_takes_pipy_durations() {
        assert_eq!(parse(&args("--drain-timeout=1.5s a.js")).unwrap().drain_timeout, Duration::from_millis(1500));
        assert_eq!(parse(&args("--drain-timeout 2 a.js")).unwrap().drain_timeout, Duration::from_secs(2));
        assert_eq!(parse(&args("--drain-timeout=0 a.js")).unwrap().drain_timeout, Duration::ZERO);
        assert_eq!(parse(&args("--drain-timeout=soon")).unwrap_err(), "invalid --drain-timeout value: soon");
    }

    #[test]
    fn errors_name_the_argument() {
        assert_eq!(parse(&args("--bogus")).unwrap_err(), "unknown option: --bogus");
        assert_eq!(parse(&args("a.js b.js")).unwrap_err(), "redundant argument: b.js");
        assert!(parse(&args("--threads=0 a.js")).is_err());
    }
}
