//! BPF objects, programs, maps and cgroup attachments for the `bpf` script namespace.
//!
//! Everything loaded here is process-wide: with `--threads=N` every worker runs the whole
//! script, so a second `open` of the same bytes returns the object already loaded, and a
//! second attach of the same program to the same cgroup only counts a reference. Nothing is
//! ever unloaded, so program and map fds stay valid for the life of the process.
//!
//! Programs are attached with bpf links. The kernel drops a link when its fd is closed, so
//! the attachments go away with the process however it ends; nothing is pinned.

mod btf;
pub mod cgroup;
mod elf;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use aya::maps::{Map, MapData};
use aya::programs::{CgroupAttachMode, CgroupSkbAttachType, Program, ProgramError};
use aya::{Ebpf, EbpfLoader};

pub use btf::MapDef;

/// A failed BPF call; the message names the script call, the syscall and the errno.
#[derive(Debug, Clone)]
pub struct Error {
    pub message: String,
    pub errno: Option<i32>,
}

impl Error {
    pub fn new(call: &str, message: impl fmt::Display) -> Error {
        Error { message: format!("{call}: {message}"), errno: None }
    }

    pub fn sys(call: &str, op: &str, e: &io::Error) -> Error {
        let errno = e.raw_os_error();
        let message = match errno {
            Some(n) => format!("{call}: syscall {op} failed with errno = {n}: {}", strerror(n)),
            None => format!("{call}: syscall {op} failed: {e}"),
        };
        Error { message, errno }
    }

    /// Wraps an error from aya, digging out the errno from its chain of causes.
    fn aya(call: &str, op: &str, e: &(dyn std::error::Error + 'static)) -> Error {
        if let Some(ProgramError::LoadError { io_error, verifier_log }) = e.downcast_ref::<ProgramError>() {
            let mut err = Error::sys(call, op, io_error);
            err.message = format!("{}\nverifier log:\n{verifier_log}", err.message);
            return err;
        }
        let mut cause = Some(e);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<io::Error>()
                && io.raw_os_error().is_some()
            {
                return Error::sys(call, op, io);
            }
            cause = c.source();
        }
        Error::new(call, format!("{op} failed: {e}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

fn strerror(errno: i32) -> String {
    let s = io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `enum bpf_prog_type`, in kernel order.
pub const PROG_TYPES: &[&str] = &[
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
pub const ATTACH_TYPES: &[&str] = &[
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
struct Kind {
    prog_type: u32,
    /// The expected attach type the kernel needs at load time, if any.
    load_attach: Option<u32>,
    /// The attach type `bpf.attach` accepts for it, if it attaches to cgroups.
    cgroup_attach: Option<u32>,
}

fn kind_of(section: &str) -> Option<Kind> {
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
        s if s.starts_with("socket") => k(1, None, None),
        s if s.starts_with("sk_skb") => k(14, None, None),
        s if s.starts_with("kprobe") || s.starts_with("kretprobe") => k(2, None, None),
        s if s.starts_with("tracepoint") || s.starts_with("tp/") => k(5, None, None),
        _ => None,
    }
}

/// A program of an object, as the object file declares it.
#[derive(Debug, Clone)]
pub struct ProgramMeta {
    pub name: String,
    pub section: String,
}

/// A loaded program's kernel handles.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    pub fd: RawFd,
    pub id: u32,
}

/// One map of an object; its kernel map exists from the moment the object is opened.
pub struct MapHandle {
    pub def: MapDef,
    pub id: u32,
    data: MapData,
}

struct Inner {
    ebpf: Ebpf,
    loaded: HashMap<String, Loaded>,
}

pub struct Object {
    pub programs: Vec<ProgramMeta>,
    pub maps: Vec<MapHandle>,
    inner: Mutex<Inner>,
}

/// The map data owned by any kind of aya map.
fn map_data(map: Map) -> MapData {
    match map {
        Map::Array(m)
        | Map::ArrayOfMaps(m)
        | Map::BloomFilter(m)
        | Map::CgroupArray(m)
        | Map::CgroupStorage(m)
        | Map::CgrpStorage(m)
        | Map::CpuMap(m)
        | Map::DevMap(m)
        | Map::DevMapHash(m)
        | Map::HashMap(m)
        | Map::HashOfMaps(m)
        | Map::InodeStorage(m)
        | Map::LpmTrie(m)
        | Map::LruHashMap(m)
        | Map::PerCpuArray(m)
        | Map::PerCpuCgroupStorage(m)
        | Map::PerCpuHashMap(m)
        | Map::PerCpuLruHashMap(m)
        | Map::PerfEventArray(m)
        | Map::ProgramArray(m)
        | Map::Queue(m)
        | Map::ReusePortSockArray(m)
        | Map::RingBuf(m)
        | Map::SockHash(m)
        | Map::SockMap(m)
        | Map::SkStorage(m)
        | Map::Stack(m)
        | Map::StackTraceMap(m)
        | Map::Unsupported(m)
        | Map::XskMap(m) => m,
    }
}

type LinkKey = (u32, u32, u64, u64);

struct Registry {
    objects: Vec<(Vec<u8>, Arc<Object>)>,
    /// Live cgroup attachments by (attach type, program id, cgroup dev, cgroup inode):
    /// reference count and the owned link, whose drop detaches it.
    links: HashMap<LinkKey, (usize, Box<dyn Send>)>,
}

static REGISTRY: LazyLock<Mutex<Registry>> =
    LazyLock::new(|| Mutex::new(Registry { objects: Vec::new(), links: HashMap::new() }));

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Loads an object file (creating its maps), or returns the one already loaded from the
/// same bytes.
pub fn open(bytes: &[u8]) -> Result<Arc<Object>, Error> {
    let mut reg = lock(&REGISTRY);
    if let Some((_, obj)) = reg.objects.iter().find(|(b, _)| b == bytes) {
        return Ok(obj.clone());
    }
    let elf = elf::parse(bytes)?;
    let defs = match elf.section(".BTF") {
        Some(s) => btf::maps(s.data)?,
        None => Vec::new(),
    };
    let programs = elf
        .programs
        .iter()
        .map(|(name, section)| ProgramMeta { name: name.clone(), section: section.clone() })
        .collect();
    let mut ebpf = EbpfLoader::new().load(bytes).map_err(|e| Error::aya("bpf.object", "loading the object", &e))?;
    let mut maps = Vec::new();
    for def in defs {
        let Some(map) = ebpf.take_map(&def.name) else {
            continue;
        };
        let data = map_data(map);
        let id = data.info().map_err(|e| Error::aya("bpf.object", "BPF_OBJ_GET_INFO_BY_FD", &e))?.id();
        maps.push(MapHandle { def, id, data });
    }
    let obj = Arc::new(Object { programs, maps, inner: Mutex::new(Inner { ebpf, loaded: HashMap::new() }) });
    reg.objects.push((bytes.to_vec(), obj.clone()));
    Ok(obj)
}

fn load_any(p: &mut Program) -> Result<(), ProgramError> {
    match p {
        Program::CgroupSockAddr(p) => p.load(),
        Program::SockOps(p) => p.load(),
        Program::CgroupSockopt(p) => p.load(),
        Program::CgroupSkb(p) => p.load(),
        Program::CgroupSock(p) => p.load(),
        Program::CgroupSysctl(p) => p.load(),
        Program::CgroupDevice(p) => p.load(),
        Program::Xdp(p) => p.load(),
        Program::SchedClassifier(p) => p.load(),
        Program::SocketFilter(p) => p.load(),
        Program::SkMsg(p) => p.load(),
        Program::SkSkb(p) => p.load(),
        Program::SkLookup(p) => p.load(),
        Program::KProbe(p) => p.load(),
        Program::TracePoint(p) => p.load(),
        _ => Err(ProgramError::UnexpectedProgramType),
    }
}

impl Object {
    /// Loads the program `name` (once; later calls return the same handles) after checking
    /// that the program and attach types given by the script match the program's section.
    pub fn load(&self, name: &str, prog_type: u32, attach_type: u32) -> Result<Loaded, Error> {
        const CALL: &str = "Program.load";
        let meta = self
            .programs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::new(CALL, format!("no program named {name}")))?;
        let kind = kind_of(&meta.section).ok_or_else(|| {
            Error::new(CALL, format!("program {name} is in section {}, whose kind is not supported", meta.section))
        })?;
        if prog_type != kind.prog_type {
            return Err(Error::new(
                CALL,
                format!(
                    "program {name} (section {}) is a {}, not a {}",
                    meta.section,
                    prog_type_name(kind.prog_type),
                    prog_type_name(prog_type)
                ),
            ));
        }
        let attach_ok = match kind.load_attach {
            Some(a) => attach_type == a,
            None => attach_type == 0 || Some(attach_type) == kind.cgroup_attach,
        };
        if !attach_ok {
            let wanted = kind.load_attach.or(kind.cgroup_attach).map(attach_type_name).unwrap_or_else(|| "none".into());
            return Err(Error::new(
                CALL,
                format!(
                    "program {name} (section {}) needs attach type {wanted}, not {}",
                    meta.section,
                    attach_type_name(attach_type)
                ),
            ));
        }

        let mut inner = lock(&self.inner);
        if let Some(l) = inner.loaded.get(name) {
            return Ok(*l);
        }
        let p = inner.ebpf.program_mut(name).ok_or_else(|| Error::new(CALL, format!("no program named {name}")))?;
        load_any(p).map_err(|e| Error::aya(CALL, &format!("BPF_PROG_LOAD of {name}"), &e))?;
        let fd = p.fd().map_err(|e| Error::aya(CALL, "program fd", &e))?.as_fd().as_raw_fd();
        let id = p.info().map_err(|e| Error::aya(CALL, "BPF_OBJ_GET_INFO_BY_FD", &e))?.id();
        let l = Loaded { fd, id };
        inner.loaded.insert(name.to_string(), l);
        Ok(l)
    }

    /// The handles of `name` if it has been loaded.
    pub fn loaded(&self, name: &str) -> Option<Loaded> {
        lock(&self.inner).loaded.get(name).copied()
    }
}

fn cgroup_key(call: &str, path: &Path) -> Result<(File, u64, u64), Error> {
    let f = File::open(path).map_err(|e| Error::new(call, format!("cannot open cgroup {}: {e}", path.display())))?;
    let m = f.metadata().map_err(|e| Error::new(call, format!("cannot stat cgroup {}: {e}", path.display())))?;
    Ok((f, m.dev(), m.ino()))
}

/// Attaches the loaded program with fd `prog_fd` to a cgroup. Attaching the same program to
/// the same cgroup again only adds a reference.
pub fn attach(attach_type: u32, prog_fd: RawFd, cgroup: &Path) -> Result<(), Error> {
    const CALL: &str = "bpf.attach";
    let (cg, dev, ino) = cgroup_key(CALL, cgroup)?;
    let mut reg = lock(&REGISTRY);
    let (obj, name, loaded) = reg
        .objects
        .iter()
        .find_map(|(_, o)| {
            let inner = lock(&o.inner);
            inner.loaded.iter().find(|(_, l)| l.fd == prog_fd).map(|(n, l)| (o.clone(), n.clone(), *l))
        })
        .ok_or_else(|| Error::new(CALL, format!("fd {prog_fd} is not a program loaded with bpf.object")))?;
    let key = (attach_type, loaded.id, dev, ino);
    if let Some((count, _)) = reg.links.get_mut(&key) {
        *count += 1;
        return Ok(());
    }
    let section = &obj.programs.iter().find(|p| p.name == name).expect("loaded programs are listed").section;
    let wanted = kind_of(section).and_then(|k| k.cgroup_attach);
    if wanted != Some(attach_type) {
        return Err(Error::new(
            CALL,
            format!(
                "program {name} (section {section}) attaches as {}, not {}",
                wanted.map(attach_type_name).unwrap_or_else(|| "nothing on a cgroup".into()),
                attach_type_name(attach_type)
            ),
        ));
    }
    let mut inner = lock(&obj.inner);
    let p = inner.ebpf.program_mut(&name).expect("loaded programs exist");
    let mode = CgroupAttachMode::Single;
    let fail = |e: ProgramError| Error::aya(CALL, "BPF_LINK_CREATE", &e);
    let link: Box<dyn Send> = match p {
        Program::CgroupSockAddr(p) => {
            let id = p.attach(&cg, mode).map_err(fail)?;
            Box::new(p.take_link(id).map_err(fail)?)
        }
        Program::SockOps(p) => {
            let id = p.attach(&cg, mode).map_err(fail)?;
            Box::new(p.take_link(id).map_err(fail)?)
        }
        Program::CgroupSockopt(p) => {
            let id = p.attach(&cg, mode).map_err(fail)?;
            Box::new(p.take_link(id).map_err(fail)?)
        }
        Program::CgroupSock(p) => {
            let id = p.attach(&cg, mode).map_err(fail)?;
            Box::new(p.take_link(id).map_err(fail)?)
        }
        Program::CgroupSkb(p) => {
            let t = if attach_type == 0 { CgroupSkbAttachType::Ingress } else { CgroupSkbAttachType::Egress };
            let id = p.attach(&cg, t, mode).map_err(fail)?;
            Box::new(p.take_link(id).map_err(fail)?)
        }
        Program::CgroupSysctl(p) => {
            let id = p.attach(&cg, mode).map_err(fail)?;
            Box::new(p.take_link(id).map_err(fail)?)
        }
        Program::CgroupDevice(p) => {
            let id = p.attach(&cg, mode).map_err(fail)?;
            Box::new(p.take_link(id).map_err(fail)?)
        }
        _ => {
            return Err(Error::new(CALL, format!("program {name} cannot be attached to a cgroup")));
        }
    };
    drop(inner);
    reg.links.insert(key, (1, link));
    Ok(())
}

/// Drops one reference to an attachment made by [`attach`]; the last one detaches it.
pub fn detach(attach_type: u32, prog_fd: RawFd, cgroup: &Path) -> Result<(), Error> {
    const CALL: &str = "bpf.detach";
    let (_, dev, ino) = cgroup_key(CALL, cgroup)?;
    let mut reg = lock(&REGISTRY);
    let id = reg
        .objects
        .iter()
        .find_map(|(_, o)| lock(&o.inner).loaded.values().find(|l| l.fd == prog_fd).map(|l| l.id))
        .ok_or_else(|| Error::new(CALL, format!("fd {prog_fd} is not a program loaded with bpf.object")))?;
    let key = (attach_type, id, dev, ino);
    let Some((count, _)) = reg.links.get_mut(&key) else {
        return Err(Error::sys(CALL, "BPF_LINK_DETACH", &io::Error::from_raw_os_error(libc::ENOENT)));
    };
    *count -= 1;
    if *count == 0 {
        reg.links.remove(&key);
    }
    Ok(())
}

#[repr(C)]
struct ElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;

impl MapHandle {
    pub fn fd(&self) -> RawFd {
        self.data.fd().as_fd().as_raw_fd()
    }

    fn per_cpu(&self) -> bool {
        // PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE return one value
        // per possible CPU, which these byte-level calls do not size for.
        matches!(self.def.map_type, 5 | 6 | 10 | 21)
    }

    fn call(&self, cmd: libc::c_long, key: *const u8, value: *mut u8, flags: u64) -> io::Result<()> {
        if self.per_cpu() {
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        let mut attr = ElemAttr { map_fd: self.fd() as u32, _pad: 0, key: key as u64, value: value as u64, flags };
        // SAFETY: the kernel reads `key_size` bytes at `key` and reads or writes `value_size`
        // bytes at `value`; callers pass buffers of exactly those sizes.
        let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, &mut attr as *mut ElemAttr, size_of::<ElemAttr>()) };
        if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    fn sized(&self, bytes: &[u8], size: u32) -> Vec<u8> {
        let mut b = bytes.to_vec();
        b.resize(size as usize, 0);
        b
    }

    /// The value under `key` (zero-padded or cut to the key size); `None` if there is none.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let key = self.sized(key, self.def.key_size);
        let mut value = vec![0u8; self.def.value_size as usize];
        match self.call(BPF_MAP_LOOKUP_ELEM, key.as_ptr(), value.as_mut_ptr(), 0) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(Error::sys("Map.lookup", "BPF_MAP_LOOKUP_ELEM", &e)),
        }
    }

    pub fn update(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let key = self.sized(key, self.def.key_size);
        let mut value = self.sized(value, self.def.value_size);
        self.call(BPF_MAP_UPDATE_ELEM, key.as_ptr(), value.as_mut_ptr(), 0)
            .map_err(|e| Error::sys("Map.update", "BPF_MAP_UPDATE_ELEM", &e))
    }

    pub fn delete(&self, key: &[u8]) -> Result<(), Error> {
        let key = self.sized(key, self.def.key_size);
        self.call(BPF_MAP_DELETE_ELEM, key.as_ptr(), std::ptr::null_mut(), 0)
            .map_err(|e| Error::sys("Map.delete", "BPF_MAP_DELETE_ELEM", &e))
    }

    /// All keys. Entries may come and go while this runs (LRU maps, programs deleting), so
    /// it stops after `max_entries` keys and skips keys it has already seen.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, Error> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut prev: Option<Vec<u8>> = None;
        let limit = self.def.max_entries.max(1) as usize;
        while out.len() < limit {
            let mut next = vec![0u8; self.def.key_size as usize];
            let key_ptr = prev.as_ref().map_or(std::ptr::null(), |k| k.as_ptr());
            match self.call(BPF_MAP_GET_NEXT_KEY, key_ptr, next.as_mut_ptr(), 0) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Err(e) => return Err(Error::sys("Map.keys", "BPF_MAP_GET_NEXT_KEY", &e)),
            }
            if !seen.insert(next.clone()) {
                break;
            }
            out.push(next.clone());
            prev = Some(next);
        }
        Ok(out)
    }
}
