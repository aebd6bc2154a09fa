//! Which of the capabilities eBPF needs this process lacks, so that an `Operation not
//! permitted` (or a verifier's refusal) names what to grant instead of leaving a person to
//! guess: loading programs and BTF needs CAP_BPF, attaching cgroup and network programs
//! CAP_NET_ADMIN, and the verifier refuses most pointer use without CAP_PERFMON.

/// The capabilities, in the order a person would grant them.
const NEEDED: [(u32, &str); 3] = [(39, "CAP_BPF"), (12, "CAP_NET_ADMIN"), (38, "CAP_PERFMON")];

/// The needed capabilities missing from this process's effective set (none if it cannot be
/// read).
pub fn missing() -> Vec<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective =
        status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|h| u64::from_str_radix(h.trim(), 16).ok());
    match effective {
        Some(set) => lacking(set),
        None => Vec::new(),
    }
}

fn lacking(set: u64) -> Vec<&'static str> {
    NEEDED.iter().filter(|(bit, _)| set & (1 << bit) == 0).map(|(_, name)| *name).collect()
}

/// A sentence to add to an error with `errno`, if the process lacks something it may be for.
pub fn hint(errno: i32) -> Option<String> {
    if !matches!(errno, libc::EPERM | libc::EACCES | libc::EINVAL) {
        return None;
    }
    let missing = missing();
    (!missing.is_empty()).then(|| format!(" (this process lacks {}, which eBPF needs here)", missing.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_the_set_lacks() {
        assert_eq!(lacking(u64::MAX), Vec::<&str>::new());
        assert_eq!(lacking(0), ["CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"]);
        assert_eq!(lacking((1 << 39) | (1 << 38)), ["CAP_NET_ADMIN"]);
    }
}
