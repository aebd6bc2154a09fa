//! Reads a BPF object's `.BTF` section for the C layouts of its maps' key and value types,
//! which scripts use to encode and decode map entries. aya parses BTF too, but keeps its type
//! table private; everything else about a map comes from the kernel (see `maps`).

use std::sync::Arc;

use super::Error;
use crate::codec::c_layout::{Field, FieldKind, Layout, Scalar};

#[derive(Debug, Clone)]
enum Ty {
    Int {
        size: u32,
        signed: bool,
        char: bool,
    },
    Ptr(u32),
    Array {
        elem: u32,
        len: u32,
    },
    Struct {
        union: bool,
        size: u32,
        members: Vec<Member>,
    },
    Enum {
        size: u32,
    },
    Float {
        size: u32,
    },
    /// typedef, const, volatile, restrict, type tag: the same type under another name.
    Alias(u32),
    Var(u32),
    Datasec(Vec<u32>),
    Other,
}

#[derive(Debug, Clone)]
struct Member {
    name: String,
    ty: u32,
    bit_offset: u32,
    bitfield: bool,
}

struct Btf {
    /// Index 0 is `void`.
    types: Vec<(String, Ty)>,
}

/// A map declared in the object's `.maps` section, with its key and value layouts: `None`
/// when the BTF type has no CStruct equivalent (pointers, bitfields, arrays of structs).
pub struct MapTypes {
    pub name: String,
    pub key: Option<Arc<Layout>>,
    pub value: Option<Arc<Layout>>,
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::new("bpf.object", msg)
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, Error> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes(s.try_into().unwrap())).ok_or_else(|| bad("truncated BTF"))
}

fn string(strs: &[u8], off: u32) -> String {
    let tail = strs.get(off as usize..).unwrap_or_default();
    let end = tail.iter().position(|c| *c == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(&tail[..end]).into_owned()
}

/// Reads the type section one type at a time.
struct TypeReader<'a> {
    types: &'a [u8],
    strs: &'a [u8],
    at: usize,
}

impl TypeReader<'_> {
    /// The type at `at`, with its name; moves past it.
    fn read_type(&mut self) -> Result<(String, Ty), Error> {
        let name = string(self.strs, u32_at(self.types, self.at)?);
        let info = u32_at(self.types, self.at + 4)?;
        let size_or_type = u32_at(self.types, self.at + 8)?;
        let (kind, vlen, kflag) = ((info >> 24) & 0x1f, (info & 0xffff) as usize, info >> 31 == 1);
        self.at += 12;
        let ty = match kind {
            1 => {
                let enc = (u32_at(self.types, self.at)? >> 24) & 0xf;
                self.at += 4;
                Ty::Int { size: size_or_type, signed: enc & 1 != 0, char: enc & 2 != 0 }
            }
            2 => Ty::Ptr(size_or_type),
            3 => {
                let ty = Ty::Array { elem: u32_at(self.types, self.at)?, len: u32_at(self.types, self.at + 8)? };
                self.at += 12;
                ty
            }
            4 | 5 => Ty::Struct { union: kind == 5, size: size_or_type, members: self.members(vlen, kflag)? },
            6 => {
                self.at += 8 * vlen;
                Ty::Enum { size: size_or_type }
            }
            19 => {
                self.at += 12 * vlen;
                Ty::Enum { size: size_or_type }
            }
            8 | 9 | 10 | 11 | 18 => Ty::Alias(size_or_type),
            13 => {
                self.at += 8 * vlen;
                Ty::Other
            }
            14 => {
                self.at += 4;
                Ty::Var(size_or_type)
            }
            15 => {
                let mut vars = Vec::with_capacity(vlen);
                for _ in 0..vlen {
                    vars.push(u32_at(self.types, self.at)?);
                    self.at += 12;
                }
                Ty::Datasec(vars)
            }
            16 => Ty::Float { size: size_or_type },
            17 => {
                self.at += 4;
                Ty::Other
            }
            7 | 12 => Ty::Other,
            k => return Err(bad(format!("unknown BTF kind {k}"))),
        };
        Ok((name, ty))
    }

    /// A struct's or union's `vlen` members; `kflag` says their offsets hold bitfield sizes.
    fn members(&mut self, vlen: usize, kflag: bool) -> Result<Vec<Member>, Error> {
        let mut members = Vec::with_capacity(vlen);
        for _ in 0..vlen {
            let off = u32_at(self.types, self.at + 8)?;
            let bitfield = kflag && off >> 24 != 0;
            let bit_offset = if kflag { off & 0xff_ffff } else { off };
            members.push(Member {
                name: string(self.strs, u32_at(self.types, self.at)?),
                ty: u32_at(self.types, self.at + 4)?,
                bit_offset,
                bitfield,
            });
            self.at += 12;
        }
        Ok(members)
    }
}

impl Btf {
    fn parse(b: &[u8]) -> Result<Btf, Error> {
        if b.len() < 24 || u16::from_le_bytes([b[0], b[1]]) != 0xeb9f {
            return Err(bad("bad BTF magic"));
        }
        let hdr_len = u32_at(b, 4)? as usize;
        let (type_off, type_len) = (u32_at(b, 8)? as usize, u32_at(b, 12)? as usize);
        let (str_off, str_len) = (u32_at(b, 16)? as usize, u32_at(b, 20)? as usize);
        let types = b.get(hdr_len + type_off..hdr_len + type_off + type_len).ok_or_else(|| bad("truncated BTF"))?;
        let strs = b.get(hdr_len + str_off..hdr_len + str_off + str_len).ok_or_else(|| bad("truncated BTF"))?;

        let mut out = vec![(String::new(), Ty::Other)];
        let mut reader = TypeReader { types, strs, at: 0 };
        while reader.at < types.len() {
            out.push(reader.read_type()?);
        }
        Ok(Btf { types: out })
    }

    fn get(&self, id: u32) -> Result<&Ty, Error> {
        self.types.get(id as usize).map(|t| &t.1).ok_or_else(|| bad(format!("bad BTF type id {id}")))
    }

    fn resolve(&self, mut id: u32) -> Result<(u32, &Ty), Error> {
        for _ in 0..32 {
            match self.get(id)? {
                Ty::Alias(next) => id = *next,
                ty => return Ok((id, ty)),
            }
        }
        Err(bad("BTF type chain too long"))
    }

    fn scalar(&self, ty: &Ty) -> Option<Scalar> {
        match ty {
            Ty::Int { size: 1, char: true, .. } => Some(Scalar::Char),
            Ty::Int { size, signed, .. } => Scalar::integer(*size as usize, *signed),
            Ty::Enum { size } => Scalar::integer(*size as usize, false),
            Ty::Float { size: 4 } => Some(Scalar::Float),
            Ty::Float { size: 8 } => Some(Scalar::Double),
            _ => None,
        }
    }

    /// The CStruct layout of a key or value type; scalars become a struct with one field `i`.
    fn layout(&self, id: u32) -> Option<Layout> {
        let (_, ty) = self.resolve(id).ok()?;
        match ty {
            Ty::Struct { union, size, members } => self.struct_layout(*union, *size, members),
            ty => self.scalar(ty).map(Layout::scalar_wrapper),
        }
    }

    fn struct_layout(&self, union: bool, size: u32, members: &[Member]) -> Option<Layout> {
        let mut fields = Vec::new();
        for m in members {
            if m.bitfield || m.bit_offset % 8 != 0 {
                return None;
            }
            let offset = (m.bit_offset / 8) as usize;
            let (_, ty) = self.resolve(m.ty).ok()?;
            let (kind, count, is_array) = match ty {
                Ty::Struct { union, size, members } => {
                    let inner = self.struct_layout(*union, *size, members)?;
                    if m.name.is_empty() {
                        fields.extend(inner.fields.into_iter().map(|f| Field { offset: f.offset + offset, ..f }));
                        continue;
                    }
                    (FieldKind::Nested(Arc::new(inner)), 1, false)
                }
                Ty::Array { elem, len } => {
                    let (_, elem) = self.resolve(*elem).ok()?;
                    (FieldKind::Scalar(self.scalar(elem)?), *len as usize, true)
                }
                ty => (FieldKind::Scalar(self.scalar(ty)?), 1, false),
            };
            fields.push(Field { name: m.name.clone(), offset, kind, count, is_array });
        }
        Some(Layout { is_union: union, fields, size: size as usize })
    }
}

/// The maps declared in `.maps`, in declaration order.
pub fn map_types(btf_section: &[u8]) -> Result<Vec<MapTypes>, Error> {
    let btf = Btf::parse(btf_section)?;
    let Some(vars) = btf.types.iter().find_map(|(name, ty)| match ty {
        Ty::Datasec(vars) if name == ".maps" => Some(vars.clone()),
        _ => None,
    }) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for var in vars {
        let name = btf.types.get(var as usize).map(|t| t.0.clone()).unwrap_or_default();
        let Ty::Var(def) = btf.get(var)? else {
            continue;
        };
        let Ty::Struct { members, .. } = btf.resolve(*def)?.1 else {
            return Err(bad(format!("map {name} is not a struct")));
        };
        // `__type(key, T)` is a member pointing to T; `__uint(key_size, N)` gives no type.
        let layout = |field: &str| -> Result<Option<Arc<Layout>>, Error> {
            let Some(m) = members.iter().find(|m| m.name == field) else {
                return Ok(None);
            };
            match btf.resolve(m.ty)?.1 {
                Ty::Ptr(target) => Ok(btf.layout(*target).map(Arc::new)),
                _ => Err(bad(format!("{field} of map {name} is not a pointer"))),
            }
        };
        let (key, value) = (layout("key")?, layout("value")?);
        out.push(MapTypes { name, key, value });
    }
    Ok(out)
}
