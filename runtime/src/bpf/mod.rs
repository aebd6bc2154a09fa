//! BPF objects, programs, maps and cgroup attachments for the `bpf` script namespace.
//!
//! Everything loaded here is process-wide: with `--threads=N` every worker runs the whole
//! script, so a second `open` of the same bytes returns the object already loaded, and a
//! second attach of the same program to the same cgroup only counts a reference. Nothing is
//! ever unloaded, so program and map fds stay valid for the life of the process.
//!
//! Programs are attached (to cgroups, maps, namespaces) with bpf links. The kernel drops a
//! link when its fd is closed, so those attachments go away with the process however it ends. What a script
//! pins itself (`bpf.pin`, e.g. for `ip` or `tc` to attach) stays until it removes the pin.
//!
//! aya loads the programs in the sections it knows; those in `.text` and in sections it
//! refuses are loaded by `text`, as Pipy loads them.

mod attach;
mod btf;
mod caps;
pub mod cgroup;
mod kinds;
mod maps;
mod sys;
mod text;

use std::collections::HashMap;
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use aya::programs::{Program, ProgramError};
use aya::{Ebpf, EbpfLoader};
use object::{Object as _, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

pub use attach::{Target, attach, detach};
pub use kinds::{attach_type_by_name, prog_type_by_name};
pub use maps::{MapDef, MapHandle};
pub use sys::pin;

use kinds::{attach_type_name, kind_of, prog_type_name};

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
            Some(n) => {
                let hint = caps::hint(n).unwrap_or_default();
                format!("{call}: syscall {op} failed with errno = {n}: {}{hint}", strerror(n))
            }
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

/// A program of an object, as the object file declares it.
#[derive(Debug, Clone)]
pub struct ProgramMeta {
    pub name: String,
    pub section: String,
    /// The number of instructions, as the object file has them (`Program.size`).
    pub size: u32,
}

/// A loaded program's kernel handles.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    pub fd: RawFd,
    pub id: u32,
}

struct Inner {
    ebpf: Ebpf,
    loaded: HashMap<String, Loaded>,
    /// The fds of the programs loaded from `.text` (aya owns the others').
    text_fds: Vec<OwnedFd>,
}

pub struct Object {
    pub programs: Vec<ProgramMeta>,
    pub maps: Vec<Arc<MapHandle>>,
    text: HashMap<String, text::TextProgram>,
    license: CString,
    inner: Mutex<Inner>,
}

type LinkKey = (u32, u32, attach::TargetKey);

struct Registry {
    objects: Vec<(Vec<u8>, Arc<Object>)>,
    /// Live attachments by (attach type, program id, target): reference count and the
    /// link, whose close detaches it.
    links: HashMap<LinkKey, (usize, OwnedFd)>,
    /// The fds `bpf.get` handed out, open for the life of the process as in Pipy.
    gotten: Vec<OwnedFd>,
}

static REGISTRY: LazyLock<Mutex<Registry>> =
    LazyLock::new(|| Mutex::new(Registry { objects: Vec::new(), links: HashMap::new(), gotten: Vec::new() }));

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What an object file holds besides what aya reads from it.
struct Elf<'a> {
    programs: Vec<ProgramMeta>,
    btf: Option<&'a [u8]>,
    text: HashMap<String, text::TextProgram>,
    license: CString,
}

/// The programs of an object file, its raw `.BTF` and its license. Programs are the
/// functions in executable sections, `.text` included, as Pipy lists them; those in `.text`
/// and in the sections `hidden` from aya are loaded by `text`.
fn read_elf<'a>(bytes: &'a [u8], hidden: &[String]) -> Result<Elf<'a>, Error> {
    let bad = |e: object::Error| Error::new("bpf.object", format!("not a BPF object file: {e}"));
    let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(bytes).map_err(bad)?;
    // The BTF reader is little-endian only, and BPF objects are built for the host's order.
    if !elf.is_little_endian() || cfg!(target_endian = "big") {
        return Err(Error::new("bpf.object", "mismatched ELF endianness"));
    }
    let mut programs = Vec::new();
    for sym in elf.symbols().filter(|s| s.kind() == SymbolKind::Text) {
        let Some(section) = sym.section_index().and_then(|i| elf.section_by_index(i).ok()) else {
            continue;
        };
        let section_name = section.name().map_err(bad)?;
        if section.kind() == SectionKind::Text {
            let (name, section) = (sym.name().map_err(bad)?.to_string(), section_name.to_string());
            programs.push(ProgramMeta { name, section, size: (sym.size() / 8) as u32 });
        }
    }
    let btf = elf.section_by_name(".BTF").map(|s| s.data()).transpose().map_err(bad)?;
    let license = elf.section_by_name("license").map(|s| s.data()).transpose().map_err(bad)?.unwrap_or_default();
    let license = CString::new(license.split(|c| *c == 0).next().unwrap_or_default()).expect("cut at the first NUL");
    let mut text = HashMap::new();
    for section in std::iter::once(".text").chain(hidden.iter().map(String::as_str)) {
        text.extend(text::programs(&elf, section)?);
    }
    Ok(Elf { programs, btf, text, license })
}

/// Loads an object with aya. A program section aya does not know makes it refuse the whole
/// object; such a section is hidden from it (no longer marked executable, in a copy) and the
/// load retried, and its programs are left to `text`. Returns the sections hidden.
fn load_with_aya(bytes: &[u8]) -> Result<(Ebpf, Vec<String>), Error> {
    let mut copy: Option<Vec<u8>> = None;
    let mut hidden = Vec::new();
    loop {
        match EbpfLoader::new().load(copy.as_deref().unwrap_or(bytes)) {
            Ok(ebpf) => return Ok((ebpf, hidden)),
            Err(aya::EbpfError::ParseError(aya_obj::ParseError::InvalidProgramSection { section }))
                if !hidden.contains(&section) =>
            {
                let b = copy.get_or_insert_with(|| bytes.to_vec());
                hide_section(b, &section)?;
                hidden.push(section);
            }
            Err(e) => return Err(Error::aya("bpf.object", "loading the object", &e)),
        }
    }
}

const SHF_EXECINSTR: u64 = 4;

/// Clears the executable flag of section `name` in an ELF64 object, in place.
fn hide_section(b: &mut [u8], name: &str) -> Result<(), Error> {
    let bad = || Error::new("bpf.object", format!("cannot find section {name}"));
    let index = {
        let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(&*b).map_err(|_| bad())?;
        elf.section_by_name(name).ok_or_else(bad)?.index().0
    };
    let u16_at = |at: usize| b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]) as usize);
    let shoff = b.get(0x28..0x30).map(|s| u64::from_le_bytes(s.try_into().unwrap()) as usize).ok_or_else(bad)?;
    let shentsize = u16_at(0x3a).ok_or_else(bad)?;
    // sh_flags is the third field of Elf64_Shdr, after sh_name and sh_type.
    let at = shoff + index * shentsize + 8;
    let flags = b.get_mut(at..at + 8).ok_or_else(bad)?;
    let f = u64::from_le_bytes((&*flags).try_into().unwrap()) & !SHF_EXECINSTR;
    flags.copy_from_slice(&f.to_le_bytes());
    Ok(())
}

/// Loads an object file (creating its maps), or returns the one already loaded from the
/// same bytes.
pub fn open(bytes: &[u8]) -> Result<Arc<Object>, Error> {
    let mut reg = lock(&REGISTRY);
    if let Some((_, obj)) = reg.objects.iter().find(|(b, _)| b == bytes) {
        return Ok(obj.clone());
    }
    let (mut ebpf, hidden) = load_with_aya(bytes)?;
    let Elf { programs, btf, text, license } = read_elf(bytes, &hidden)?;
    let types = btf.map(btf::map_types).transpose()?.unwrap_or_default();
    let mut maps = Vec::new();
    for t in types {
        let Some(map) = ebpf.take_map(&t.name) else {
            continue;
        };
        maps.push(Arc::new(MapHandle::new(t.name, t.key, t.value, map)?));
    }
    let inner = Mutex::new(Inner { ebpf, loaded: HashMap::new(), text_fds: Vec::new() });
    let obj = Arc::new(Object { programs, maps, text, license, inner });
    reg.objects.push((bytes.to_vec(), obj.clone()));
    Ok(obj)
}

/// Every program in the kernel: (id, program type, name), as `bpf.Program.list` gives them.
pub fn programs_loaded() -> Vec<(u32, u32, String)> {
    // A program may go between being listed and being opened: it is left out.
    aya::programs::loaded_programs()
        .flatten()
        .map(|p| (p.id(), p.program_type() as u32, p.name_as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Opens what is pinned at `path`; the fd stays open for the life of the process.
pub fn get(path: &std::path::Path) -> Result<RawFd, Error> {
    let fd = sys::get(path)?;
    let raw = fd.as_raw_fd();
    lock(&REGISTRY).gotten.push(fd);
    Ok(raw)
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

/// Checks that the program and attach types a script gives match the program's section.
fn check_kind(meta: &ProgramMeta, prog_type: u32, attach_type: u32) -> Result<(), Error> {
    const CALL: &str = "Program.load";
    let (name, section) = (&meta.name, &meta.section);
    let kind = kind_of(section).ok_or_else(|| {
        Error::new(CALL, format!("program {name} is in section {section}, whose kind is not supported"))
    })?;
    if prog_type != kind.prog_type {
        let (is, not) = (prog_type_name(kind.prog_type), prog_type_name(prog_type));
        return Err(Error::new(CALL, format!("program {name} (section {section}) is a {is}, not a {not}")));
    }
    let attach_ok = match kind.load_attach {
        Some(a) => attach_type == a,
        None => attach_type == 0 || Some(attach_type) == kind.cgroup_attach,
    };
    if !attach_ok {
        let wanted = kind.load_attach.or(kind.cgroup_attach).map(attach_type_name).unwrap_or_else(|| "none".into());
        let not = attach_type_name(attach_type);
        return Err(Error::new(
            CALL,
            format!("program {name} (section {section}) needs attach type {wanted}, not {not}"),
        ));
    }
    Ok(())
}

impl Object {
    /// Loads the program `name` (once; later calls return the same handles). A program with
    /// a section aya knows is checked against the types the script gives; one in `.text`
    /// takes them from the script, as in Pipy.
    pub fn load(&self, name: &str, prog_type: u32, attach_type: u32) -> Result<Loaded, Error> {
        const CALL: &str = "Program.load";
        let meta = self
            .programs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::new(CALL, format!("no program named {name}")))?;
        if let Some(p) = self.text.get(name) {
            // A section aya refused may still be one whose kind we know (`tc`).
            if kind_of(&meta.section).is_some() && meta.section != ".text" {
                check_kind(meta, prog_type, attach_type)?;
            }
            return self.load_text(name, p, prog_type, attach_type);
        }
        check_kind(meta, prog_type, attach_type)?;
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

    fn load_text(&self, name: &str, p: &text::TextProgram, prog_type: u32, attach_type: u32) -> Result<Loaded, Error> {
        let mut inner = lock(&self.inner);
        if let Some(l) = inner.loaded.get(name) {
            return Ok(*l);
        }
        let map_fd = |sym: &str| self.maps.iter().find(|m| m.def.name == sym).map(|m| m.fd());
        let cx = text::LoadCtx { name, license: &self.license, map_fd: &map_fd };
        let (fd, l) = text::load(p, &cx, prog_type, attach_type)?;
        inner.text_fds.push(fd);
        inner.loaded.insert(name.to_string(), l);
        Ok(l)
    }

    /// The handles of `name` if it has been loaded.
    pub fn loaded(&self, name: &str) -> Option<Loaded> {
        lock(&self.inner).loaded.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = include_bytes!("../../../samples/bpf/transparent-proxy/transparent-proxy.o");

    #[test]
    fn programs_come_from_their_sections_and_map_layouts_from_btf() {
        let Elf { programs: metas, btf, .. } = read_elf(SAMPLE, &[]).unwrap();
        let programs: Vec<_> = metas.iter().map(|p| (p.name.as_str(), p.section.as_str())).collect();
        assert_eq!(
            programs,
            [
                ("cg_connect4", "cgroup/connect4"),
                ("cg_connect6", "cgroup/connect6"),
                ("cg_sock_ops", "sockops"),
                ("cg_sock_opt", "cgroup/getsockopt")
            ]
        );
        // One function per section here: its size is the section's, in 8-byte instructions.
        let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(SAMPLE).unwrap();
        let sizes: Vec<_> = metas.iter().map(|p| p.size as u64 * 8).collect();
        let sections: Vec<_> = metas.iter().map(|p| elf.section_by_name(&p.section).unwrap().size()).collect();
        assert_eq!(sizes, sections);
        let maps = btf::map_types(btf.unwrap()).unwrap();
        let shape = |l: &Option<Arc<crate::codec::c_layout::Layout>>| {
            let l = l.as_ref().unwrap();
            (l.size, l.fields.iter().map(|f| (f.name.clone(), f.offset)).collect::<Vec<_>>())
        };
        let mut names: Vec<_> = maps.iter().map(|m| m.name.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            ["map_config", "map_ports", "map_scope_cidrs", "map_scope_ports", "map_scope_uids", "map_socks"]
        );
        let map = |name: &str| maps.iter().find(|m| m.name == name).unwrap();
        let config = shape(&map("map_config").value);
        let fields = [
            ("proxy_port", 0),
            ("ipv6", 2),
            ("proxy_tgid", 4),
            ("proxy_cgroup_id", 8),
            ("netns_cookie", 16),
            ("pidns_dev", 24),
            ("pidns_ino", 32),
            ("only_included_ports", 40),
            ("only_included_cidrs", 41),
            ("only_included_uids", 42),
            ("pad", 43),
        ];
        assert_eq!(config, (48, fields.iter().map(|(n, o)| (n.to_string(), *o)).collect()));
        assert_eq!(shape(&map("map_ports").key), (20, vec![("ip".into(), 0), ("port".into(), 16), ("pad".into(), 18)]));
        assert_eq!(shape(&map("map_scope_cidrs").key), (20, vec![("prefixlen".into(), 0), ("ip".into(), 4)]));
    }

    #[test]
    fn not_an_object_file_is_refused_by_name() {
        let Err(err) = read_elf(b"hello", &[]) else { panic!("not an object file, read") };
        assert!(err.message.starts_with("bpf.object: not a BPF object file"), "{err}");
    }
}
