//! An object's maps: what the kernel reports about each, and byte-level element access.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::{Arc, LazyLock};

use aya::maps::{Map, MapData};

use super::Error;
use crate::codec::c_layout::Layout;

/// A map declared in the object's `.maps` section, as the kernel created it.
#[derive(Debug, Clone)]
pub struct MapDef {
    pub name: String,
    pub map_type: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub key_size: u32,
    pub value_size: u32,
    /// `None` when the BTF type has no CStruct equivalent (pointers, bitfields, arrays of
    /// structs); such keys/values are read and written as raw `Data`.
    pub key: Option<Arc<Layout>>,
    pub value: Option<Arc<Layout>>,
}

/// The number of possible CPUs, the count of values in a per-CPU map's entry. A machine
/// whose sysfs does not say is taken as having one.
static POSSIBLE_CPUS: LazyLock<usize> = LazyLock::new(|| aya::util::nr_cpus().unwrap_or(1));

/// One map of an object; its kernel map exists from the moment the object is opened.
pub struct MapHandle {
    pub def: MapDef,
    pub id: u32,
    data: MapData,
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
const BPF_MAP_LOOKUP_AND_DELETE_ELEM: libc::c_long = 21;

impl MapHandle {
    /// Describes an aya map by what the kernel reports for it, so the numbers scripts see are
    /// the ones in force; BTF only adds the key and value layouts.
    pub(super) fn new(
        name: String,
        key: Option<Arc<Layout>>,
        value: Option<Arc<Layout>>,
        map: Map,
    ) -> Result<MapHandle, Error> {
        MapHandle::of_data(name, key, value, map_data(map))
    }

    fn of_data(
        name: String,
        key: Option<Arc<Layout>>,
        value: Option<Arc<Layout>>,
        data: MapData,
    ) -> Result<MapHandle, Error> {
        let info = data.info().map_err(|e| Error::aya("bpf.object", "BPF_OBJ_GET_INFO_BY_FD", &e))?;
        let map_type = info.map_type().map_err(|e| Error::aya("bpf.object", &format!("map {name}"), &e))? as u32;
        let def = MapDef {
            name,
            map_type,
            max_entries: info.max_entries(),
            flags: info.map_flags(),
            key_size: info.key_size(),
            value_size: info.value_size(),
            key,
            value,
        };
        Ok(MapHandle { def, id: info.id(), data })
    }

    /// A map some other process or object made, by its kernel id (`bpf.Map.open`), with the
    /// layouts the script gives for its keys and values.
    pub fn open(id: u32, key: Option<Arc<Layout>>, value: Option<Arc<Layout>>) -> Result<MapHandle, Error> {
        let call = "bpf.Map.open";
        let data = MapData::from_id(id).map_err(|e| Error::aya(call, "BPF_MAP_GET_FD_BY_ID", &e))?;
        let info = data.info().map_err(|e| Error::aya(call, "BPF_OBJ_GET_INFO_BY_FD", &e))?;
        let name = info.name_as_str().unwrap_or_default().to_string();
        MapHandle::of_data(name, key, value, data)
    }

    /// Every map in the kernel with its id, as `bpf.Map.list` describes them.
    pub fn list() -> Vec<(u32, MapDef)> {
        let mut out = Vec::new();
        for info in aya::maps::loaded_maps() {
            let Ok(info) = info else {
                // A map may go between being listed and being opened.
                continue;
            };
            out.push((
                info.id(),
                MapDef {
                    name: info.name_as_str().unwrap_or_default().to_string(),
                    map_type: info.map_type().map_or(0, |t| t as u32),
                    max_entries: info.max_entries(),
                    flags: info.map_flags(),
                    key_size: info.key_size(),
                    value_size: info.value_size(),
                    key: None,
                    value: None,
                },
            ));
        }
        out
    }

    pub fn fd(&self) -> RawFd {
        self.data.fd().as_fd().as_raw_fd()
    }

    /// For the maps that hold one value per possible CPU (PERCPU_HASH, PERCPU_ARRAY,
    /// LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE), how many CPUs that is.
    pub fn cpus(&self) -> Option<usize> {
        matches!(self.def.map_type, 5 | 6 | 10 | 21).then(|| *POSSIBLE_CPUS)
    }

    /// Where each CPU's value starts: the kernel pads every one to 8 bytes.
    fn stride(&self) -> usize {
        (self.def.value_size as usize).next_multiple_of(8)
    }

    /// How many bytes a lookup returns and an update takes: one value, or one per CPU.
    fn value_len(&self) -> usize {
        match self.cpus() {
            Some(n) => n * self.stride(),
            None => self.def.value_size as usize,
        }
    }

    /// A per-CPU map's value bytes, CPU by CPU.
    pub fn split_per_cpu<'a>(&self, bytes: &'a [u8]) -> Vec<&'a [u8]> {
        let size = self.def.value_size as usize;
        bytes.chunks(self.stride()).map(|c| &c[..size.min(c.len())]).collect()
    }

    /// The bytes of a per-CPU map's value from each CPU's (cut or zero-padded to the value
    /// size); CPUs missing from `values` get zeros.
    pub fn join_per_cpu(&self, values: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0u8; self.value_len()];
        let size = self.def.value_size as usize;
        for (slot, v) in out.chunks_mut(self.stride()).zip(values) {
            let n = size.min(v.len());
            slot[..n].copy_from_slice(&v[..n]);
        }
        out
    }

    fn call(&self, cmd: libc::c_long, key: *const u8, value: *mut u8, flags: u64) -> io::Result<()> {
        let mut attr = ElemAttr { map_fd: self.fd() as u32, _pad: 0, key: key as u64, value: value as u64, flags };
        // SAFETY: the kernel reads `key_size` bytes at `key` and reads or writes `value_len()`
        // bytes at `value`; callers pass buffers of exactly those sizes.
        let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, &mut attr as *mut ElemAttr, size_of::<ElemAttr>()) };
        if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    fn sized(&self, bytes: &[u8], size: usize) -> Vec<u8> {
        let mut b = bytes.to_vec();
        b.resize(size, 0);
        b
    }

    /// The value under `key` (zero-padded or cut to the key size); `None` if there is none.
    /// A per-CPU map gives every CPU's value, as [`MapHandle::split_per_cpu`] reads them.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.value_by(BPF_MAP_LOOKUP_ELEM, key, ("Map.lookup", "BPF_MAP_LOOKUP_ELEM"))
    }

    /// The value `cmd` reads under `key`, `None` for ENOENT; `names` (the script's method,
    /// the command's name) for errors.
    fn value_by(&self, cmd: libc::c_long, key: &[u8], names: (&str, &str)) -> Result<Option<Vec<u8>>, Error> {
        let key = self.sized(key, self.def.key_size as usize);
        let mut value = vec![0u8; self.value_len()];
        match self.call(cmd, key.as_ptr(), value.as_mut_ptr(), 0) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(Error::sys(names.0, names.1, &e)),
        }
    }

    /// The value under `key`, taken out of the map by the same syscall; `None` if there was
    /// none. Hash maps (LRU and per-CPU ones too) take it from Linux 5.14; other map types
    /// refuse it (an array's entries cannot be deleted).
    pub fn lookup_and_delete(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.value_by(BPF_MAP_LOOKUP_AND_DELETE_ELEM, key, ("Map.lookupAndDelete", "BPF_MAP_LOOKUP_AND_DELETE_ELEM"))
    }

    /// Sets the value under `key`; for a per-CPU map `value` holds every CPU's, as
    /// [`MapHandle::join_per_cpu`] makes them.
    pub fn update(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let key = self.sized(key, self.def.key_size as usize);
        let mut value = self.sized(value, self.value_len());
        self.call(BPF_MAP_UPDATE_ELEM, key.as_ptr(), value.as_mut_ptr(), 0)
            .map_err(|e| Error::sys("Map.update", "BPF_MAP_UPDATE_ELEM", &e))
    }

    pub fn delete(&self, key: &[u8]) -> Result<(), Error> {
        let key = self.sized(key, self.def.key_size as usize);
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
