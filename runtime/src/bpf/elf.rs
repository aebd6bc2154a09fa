//! Just enough of ELF64 to find a BPF object's sections and function symbols; aya parses the
//! object for loading, but it does not tell which section a program came from, nor hand out
//! the raw BTF.

use super::Error;

pub struct Section<'a> {
    pub name: String,
    pub flags: u64,
    pub data: &'a [u8],
}

pub struct Elf<'a> {
    pub sections: Vec<Section<'a>>,
    /// FUNC symbols in executable sections other than `.text`: (symbol, section name).
    pub programs: Vec<(String, String)>,
}

const SHT_SYMTAB: u32 = 2;
const SHT_NOBITS: u32 = 8;
const SHF_EXECINSTR: u64 = 4;
const STT_FUNC: u8 = 2;

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::new("bpf.object", msg)
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, Error> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or_else(|| bad("truncated ELF file"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, Error> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes(s.try_into().unwrap())).ok_or_else(|| bad("truncated ELF file"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, Error> {
    b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap())).ok_or_else(|| bad("truncated ELF file"))
}

fn cstr(b: &[u8], at: usize) -> String {
    let tail = b.get(at..).unwrap_or_default();
    let end = tail.iter().position(|c| *c == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(&tail[..end]).into_owned()
}

pub fn parse(bytes: &[u8]) -> Result<Elf<'_>, Error> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err(bad("not an ELF file"));
    }
    if bytes[4] != 2 {
        return Err(bad("unsupported ELF file class"));
    }
    // BPF objects are built for the host's byte order; only little-endian hosts are supported.
    if bytes[5] != 1 || cfg!(target_endian = "big") {
        return Err(bad("mismatched ELF endianness"));
    }
    let shoff = u64_at(bytes, 0x28)? as usize;
    let shentsize = u16_at(bytes, 0x3a)? as usize;
    let shnum = u16_at(bytes, 0x3c)? as usize;
    let shstrndx = u16_at(bytes, 0x3e)? as usize;

    struct Raw {
        name: u32,
        kind: u32,
        flags: u64,
        offset: usize,
        size: usize,
        link: usize,
    }
    let mut raw = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        let r = Raw {
            name: u32_at(bytes, h)?,
            kind: u32_at(bytes, h + 4)?,
            flags: u64_at(bytes, h + 8)?,
            offset: u64_at(bytes, h + 24)? as usize,
            size: u64_at(bytes, h + 32)? as usize,
            link: u32_at(bytes, h + 40)? as usize,
        };
        if r.kind != SHT_NOBITS && r.offset.checked_add(r.size).is_none_or(|end| end > bytes.len()) {
            return Err(bad(format!("out of bound section: index = {i}")));
        }
        raw.push(r);
    }
    let data = |r: &Raw| {
        if r.kind == SHT_NOBITS { &bytes[0..0] } else { &bytes[r.offset..r.offset + r.size] }
    };
    let shstr = raw.get(shstrndx).map(data).ok_or_else(|| bad("missing section name table"))?;
    let sections: Vec<Section> =
        raw.iter().map(|r| Section { name: cstr(shstr, r.name as usize), flags: r.flags, data: data(r) }).collect();

    let mut programs = Vec::new();
    for r in raw.iter().filter(|r| r.kind == SHT_SYMTAB) {
        let syms = data(r);
        let strs = raw.get(r.link).map(data).unwrap_or_default();
        for sym in syms.chunks_exact(24) {
            let shndx = u16::from_le_bytes([sym[6], sym[7]]) as usize;
            if sym[4] & 0xf != STT_FUNC {
                continue;
            }
            let Some(section) = sections.get(shndx) else {
                continue;
            };
            if section.flags & SHF_EXECINSTR != 0 && section.name != ".text" {
                let name = cstr(strs, u32::from_le_bytes(sym[0..4].try_into().unwrap()) as usize);
                programs.push((name, section.name.clone()));
            }
        }
    }
    Ok(Elf { sections, programs })
}

impl Elf<'_> {
    pub fn section(&self, name: &str) -> Option<&Section<'_>> {
        self.sections.iter().find(|s| s.name == name)
    }
}
