//! The kernel's names for program and attach types, and what each libbpf-style section name
//! stands for. The table is ours rather than aya's: scripts pass the kernel's numbers, which
//! `Program.load` and `bpf.attach` check against the section, and their errors name the
//! section, which aya does not keep.

/// `enum bpf_prog_type`, in kernel order.
const PROG_TYPES: &[&str] = &[
    "UNSPEC",
    "SOCKET_FILTER",
    "KPROBE",
    "SCHED_CLS",
    "SCHED_ACT",
    "TRACEPOINT",
    "XDP",
    "PERF_EVENT",
    "CGROUP_SKB",
    "CGROUP_SOCK",
    "LWT_IN",
    "LWT_OUT",
    "LWT_XMIT",
    "SOCK_OPS",
    "SK_SKB",
    "CGROUP_DEVICE",
    "SK_MSG",
    "RAW_TRACEPOINT",
    "CGROUP_SOCK_ADDR",
    "LWT_SEG6LOCAL",
    "LIRC_MODE2",
    "SK_REUSEPORT",
    "FLOW_DISSECTOR",
    "CGROUP_SYSCTL",
    "RAW_TRACEPOINT_WRITABLE",
    "CGROUP_SOCKOPT",
    "TRACING",
    "STRUCT_OPS",
    "EXT",
    "LSM",
    "SK_LOOKUP",
    "SYSCALL",
];

/// `enum bpf_attach_type`, in kernel order.
const ATTACH_TYPES: &[&str] = &[
    "CGROUP_INET_INGRESS",
    "CGROUP_INET_EGRESS",
    "CGROUP_INET_SOCK_CREATE",
    "CGROUP_SOCK_OPS",
    "SK_SKB_STREAM_PARSER",
    "SK_SKB_STREAM_VERDICT",
    "CGROUP_DEVICE",
    "SK_MSG_VERDICT",
    "CGROUP_INET4_BIND",
    "CGROUP_INET6_BIND",
    "CGROUP_INET4_CONNECT",
    "CGROUP_INET6_CONNECT",
    "CGROUP_INET4_POST_BIND",
    "CGROUP_INET6_POST_BIND",
    "CGROUP_UDP4_SENDMSG",
    "CGROUP_UDP6_SENDMSG",
    "LIRC_MODE2",
    "FLOW_DISSECTOR",
    "CGROUP_SYSCTL",
    "CGROUP_UDP4_RECVMSG",
    "CGROUP_UDP6_RECVMSG",
    "CGROUP_GETSOCKOPT",
    "CGROUP_SETSOCKOPT",
    "TRACE_RAW_TP",
    "TRACE_FENTRY",
    "TRACE_FEXIT",
    "MODIFY_RETURN",
    "LSM_MAC",
    "TRACE_ITER",
    "CGROUP_INET4_GETPEERNAME",
    "CGROUP_INET6_GETPEERNAME",
    "CGROUP_INET4_GETSOCKNAME",
    "CGROUP_INET6_GETSOCKNAME",
    "XDP_DEVMAP",
    "CGROUP_INET_SOCK_RELEASE",
    "XDP_CPUMAP",
    "SK_LOOKUP",
    "XDP",
    "SK_SKB_VERDICT",
    "SK_REUSEPORT_SELECT",
    "SK_REUSEPORT_SELECT_OR_MIGRATE",
    "PERF_EVENT",
];

pub fn prog_type_by_name(name: &str) -> Option<u32> {
    let short = name.strip_prefix("BPF_PROG_TYPE_")?;
    PROG_TYPES.iter().position(|n| *n == short).map(|i| i as u32)
}

pub fn attach_type_by_name(name: &str) -> Option<u32> {
    let short = name.strip_prefix("BPF_")?;
    ATTACH_TYPES.iter().position(|n| *n == short).map(|i| i as u32)
}

pub fn prog_type_name(t: u32) -> String {
    PROG_TYPES.get(t as usize).map(|n| format!("BPF_PROG_TYPE_{n}")).unwrap_or_else(|| t.to_string())
}

pub fn attach_type_name(t: u32) -> String {
    ATTACH_TYPES.get(t as usize).map(|n| format!("BPF_{n}")).unwrap_or_else(|| t.to_string())
}

/// What a program's ELF section says about it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kind {
    pub prog_type: u32,
    /// The expected attach type the kernel needs at load time, if any.
    pub load_attach: Option<u32>,
    /// The attach type `bpf.attach` accepts for it, if it attaches to cgroups.
    pub cgroup_attach: Option<u32>,
}

pub(super) fn kind_of(section: &str) -> Option<Kind> {
    let k = |prog_type, load_attach, cgroup_attach| Some(Kind { prog_type, load_attach, cgroup_attach });
    let sock_addr = |a| k(18, Some(a), Some(a));
    let sock = |a| k(9, Some(a), Some(a));
    match section {
        "cgroup/bind4" => sock_addr(8),
        "cgroup/bind6" => sock_addr(9),
        "cgroup/connect4" => sock_addr(10),
        "cgroup/connect6" => sock_addr(11),
        "cgroup/sendmsg4" => sock_addr(14),
        "cgroup/sendmsg6" => sock_addr(15),
        "cgroup/recvmsg4" => sock_addr(19),
        "cgroup/recvmsg6" => sock_addr(20),
        "cgroup/getpeername4" => sock_addr(29),
        "cgroup/getpeername6" => sock_addr(30),
        "cgroup/getsockname4" => sock_addr(31),
        "cgroup/getsockname6" => sock_addr(32),
        "cgroup/getsockopt" => k(25, Some(21), Some(21)),
        "cgroup/setsockopt" => k(25, Some(22), Some(22)),
        "cgroup/sock" | "cgroup/sock_create" => sock(2),
        "cgroup/sock_release" => sock(34),
        "cgroup/post_bind4" => sock(12),
        "cgroup/post_bind6" => sock(13),
        "cgroup_skb/ingress" => k(8, None, Some(0)),
        "cgroup_skb/egress" => k(8, None, Some(1)),
        "cgroup/skb" => k(8, None, None),
        "cgroup/sysctl" => k(23, None, Some(18)),
        "cgroup/dev" => k(15, None, Some(6)),
        "sockops" => k(13, None, Some(3)),
        "sk_msg" => k(16, None, None),
        "sk_lookup" => k(30, None, None),
        s if s.starts_with("xdp") => k(6, None, None),
        s if s.starts_with("classifier") || s.starts_with("tc") => k(3, None, None),
        s if s.starts_with("action") => k(4, None, None),
        s if s.starts_with("socket") => k(1, None, None),
        s if s.starts_with("sk_skb") => k(14, None, None),
        s if s.starts_with("kprobe") || s.starts_with("kretprobe") => k(2, None, None),
        s if s.starts_with("tracepoint") || s.starts_with("tp/") => k(5, None, None),
        _ => None,
    }
}
