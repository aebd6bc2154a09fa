//! Programs aya does not load, loaded the way Pipy does. Pipy lists every function of an
//! executable section as a program and takes its type from `Program.load(type)`; aya only
//! loads programs from sections whose name it knows, and treats `.text` as subprograms. So
//! the functions of `.text` (Pipy's samples put a plain `int xdp_main(...)` there, with no
//! `SEC()`) and of sections aya refuses (`tc`, `action`, ...) are loaded here: the function's
//! instructions alone, with its map references pointed at the maps aya created for the
//! object. A call to another function is left for the verifier to refuse.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use object::read::elf::ElfFile64;
use object::{Endianness, Object as _, ObjectSection, ObjectSymbol, RelocationTarget, SymbolKind};

use super::{Error, Loaded, sys};

/// A `.text` function's instructions and the instructions that load a map's address.
pub struct TextProgram {
    insns: Vec<u8>,
    /// (instruction index, symbol name) for each `ld_imm64` the linker left to relocate.
    refs: Vec<(usize, String)>,
}

const INSN: usize = 8;
const BPF_PSEUDO_MAP_FD: u8 = 1;

/// The functions in section `section` by name.
pub(super) fn programs(elf: &ElfFile64<Endianness>, section: &str) -> Result<Vec<(String, TextProgram)>, Error> {
    let bad = |e: object::Error| Error::new("bpf.object", format!("not a BPF object file: {e}"));
    let Some(text) = elf.section_by_name(section) else {
        return Ok(Vec::new());
    };
    let data = text.data().map_err(bad)?;
    let mut relocs = Vec::new();
    for (offset, r) in text.relocations() {
        if let RelocationTarget::Symbol(i) = r.target() {
            let name = elf.symbol_by_index(i).and_then(|s| s.name()).map_err(bad)?;
            relocs.push((offset as usize, name.to_string()));
        }
    }
    let mut out = Vec::new();
    for sym in elf.symbols().filter(|s| s.kind() == SymbolKind::Text && s.section_index() == Some(text.index())) {
        let (start, len) = (sym.address() as usize, sym.size() as usize);
        let Some(insns) = data.get(start..start + len) else {
            continue;
        };
        let refs = relocs
            .iter()
            .filter(|(at, _)| (start..start + len).contains(at))
            .map(|(at, name)| ((at - start) / INSN, name.clone()))
            .collect();
        out.push((sym.name().map_err(bad)?.to_string(), TextProgram { insns: insns.to_vec(), refs }));
    }
    Ok(out)
}

/// What `load` needs besides the program: its name, the object's license and how to find a
/// map's fd by its symbol name.
pub(super) struct LoadCtx<'a> {
    pub name: &'a str,
    pub license: &'a CString,
    pub map_fd: &'a dyn Fn(&str) -> Option<RawFd>,
}

const LOG_SIZE: usize = 1 << 20;

/// Loads `p` as a program of `prog_type`; on failure loads it again with the verifier log on,
/// so the error says why, as aya's do.
pub(super) fn load(
    p: &TextProgram,
    cx: &LoadCtx,
    prog_type: u32,
    attach_type: u32,
) -> Result<(OwnedFd, Loaded), Error> {
    let call = "Program.load";
    let mut insns = p.insns.clone();
    for (i, sym) in &p.refs {
        let fd = (cx.map_fd)(sym)
            .ok_or_else(|| Error::new(call, format!("{}: {sym} is not a map of the object", cx.name)))?;
        let insn =
            insns.get_mut(i * INSN..(i + 1) * INSN).ok_or_else(|| Error::new(call, "relocation out of range"))?;
        // src_reg is the high nibble of the second byte; imm the last four bytes.
        insn[1] = (insn[1] & 0x0f) | (BPF_PSEUDO_MAP_FD << 4);
        insn[4..8].copy_from_slice(&fd.to_le_bytes());
    }
    let mut name = [0u8; 16];
    // The kernel takes 15 bytes of a name made of alphanumerics, '_' and '.'.
    for (d, s) in name.iter_mut().zip(cx.name.bytes().filter(|c| c.is_ascii_alphanumeric() || *c == b'_').take(15)) {
        *d = s;
    }
    let mut attr = sys::ProgLoad {
        prog_type,
        insn_cnt: (insns.len() / INSN) as u32,
        insns: insns.as_ptr() as u64,
        license: cx.license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: attach_type,
    };
    let fd = match sys::prog_load(&mut attr) {
        Ok(fd) => fd,
        Err(e) => {
            let mut log = vec![0u8; LOG_SIZE];
            (attr.log_level, attr.log_size, attr.log_buf) = (1, LOG_SIZE as u32, log.as_mut_ptr() as u64);
            let _ = sys::prog_load(&mut attr);
            let end = log.iter().position(|c| *c == 0).unwrap_or(0);
            let mut err = Error::sys(call, &format!("BPF_PROG_LOAD of {}", cx.name), &e);
            err.message = format!("{}\nverifier log:\n{}", err.message, String::from_utf8_lossy(&log[..end]));
            return Err(err);
        }
    };
    let id = sys::prog_id(fd.as_raw_fd()).map_err(|e| Error::sys(call, "BPF_OBJ_GET_INFO_BY_FD", &e))?;
    let loaded = Loaded { fd: fd.as_raw_fd(), id };
    Ok((fd, loaded))
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    const OBJECT: &[u8] = include_bytes!("testdata/text-program.o");

    /// A `.text` function is listed as a program, loads with the type the script gives, and
    /// its map reference reaches the map aya created: the filter counts a datagram there.
    #[test]
    fn a_text_program_loads_with_the_scripts_type_and_uses_the_objects_map() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: loading BPF programs needs root");
            return;
        }
        let obj = super::super::open(OBJECT).unwrap();
        let mut programs: Vec<_> = obj.programs.iter().map(|p| (p.name.as_str(), p.section.as_str())).collect();
        programs.sort();
        assert_eq!(programs, [("act_pass", "action"), ("count_all", ".text"), ("tc_pass", "tc")]);
        let loaded = obj.load("count_all", 1, 0).unwrap();
        assert!(loaded.fd > 0 && loaded.id > 0, "{loaded:?}");
        assert_eq!(obj.load("count_all", 1, 0).unwrap().fd, loaded.fd, "a second load returns the first");

        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = loaded.fd;
        // SAFETY: `fd` is a live program fd and the option takes an int.
        let r = unsafe {
            libc::setsockopt(
                rx.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_BPF,
                (&fd as *const i32).cast(),
                size_of::<i32>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "SO_ATTACH_BPF: {}", std::io::Error::last_os_error());
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(rx.recv(&mut buf).unwrap(), 5, "the filter returns the length: the datagram passes whole");
        let seen = obj.maps[0].lookup(&0u32.to_le_bytes()).unwrap().unwrap();
        assert_eq!(u64::from_le_bytes(seen.try_into().unwrap()), 1);

        // Sections aya refuses: loaded here, and checked against the section's kind.
        assert!(obj.load("tc_pass", 3, 0).unwrap().fd > 0);
        assert!(obj.load("act_pass", 4, 0).unwrap().fd > 0);
        let err = obj.load("tc_pass", 1, 0).unwrap_err();
        assert!(err.message.contains("is a BPF_PROG_TYPE_SCHED_CLS, not a BPF_PROG_TYPE_SOCKET_FILTER"), "{err}");
    }
}
