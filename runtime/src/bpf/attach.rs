//! Cgroup attachments with bpf links, kept in the process-wide registry so a repeated attach
//! of the same program to the same cgroup (one per worker thread) only counts a reference.

use std::fs::File;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use aya::programs::{
    CgroupAttachMode, CgroupDevice, CgroupSkb, CgroupSkbAttachType, CgroupSock, CgroupSockAddr, CgroupSockopt,
    CgroupSysctl, Program, ProgramError, SockOps,
};

use super::kinds::{attach_type_name, kind_of};
use super::{Error, REGISTRY, lock};

/// An aya program type that attaches to a cgroup. The link it returns detaches the program
/// when dropped, which is what makes attachments die with the process.
trait CgroupLink {
    fn link(&mut self, cgroup: &File, attach_type: u32) -> Result<Box<dyn Send>, ProgramError>;
}

macro_rules! cgroup_link {
    ($($ty:ty),*) => {$(
        impl CgroupLink for $ty {
            fn link(&mut self, cgroup: &File, _: u32) -> Result<Box<dyn Send>, ProgramError> {
                let id = self.attach(cgroup, CgroupAttachMode::Single)?;
                Ok(Box::new(self.take_link(id)?))
            }
        }
    )*};
}

cgroup_link!(CgroupSockAddr, SockOps, CgroupSockopt, CgroupSock, CgroupSysctl, CgroupDevice);

impl CgroupLink for CgroupSkb {
    fn link(&mut self, cgroup: &File, attach_type: u32) -> Result<Box<dyn Send>, ProgramError> {
        // BPF_CGROUP_INET_INGRESS is 0; `attach` has checked it is that or egress.
        let t = if attach_type == 0 { CgroupSkbAttachType::Ingress } else { CgroupSkbAttachType::Egress };
        let id = self.attach(cgroup, t, CgroupAttachMode::Single)?;
        Ok(Box::new(self.take_link(id)?))
    }
}

fn cgroup_link(p: &mut Program) -> Option<&mut dyn CgroupLink> {
    Some(match p {
        Program::CgroupSockAddr(p) => p,
        Program::SockOps(p) => p,
        Program::CgroupSockopt(p) => p,
        Program::CgroupSock(p) => p,
        Program::CgroupSkb(p) => p,
        Program::CgroupSysctl(p) => p,
        Program::CgroupDevice(p) => p,
        _ => return None,
    })
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
    let p = cgroup_link(p).ok_or_else(|| Error::new(CALL, format!("program {name} cannot be attached to a cgroup")))?;
    let link = p.link(&cg, attach_type).map_err(|e| Error::aya(CALL, "BPF_LINK_CREATE", &e))?;
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
