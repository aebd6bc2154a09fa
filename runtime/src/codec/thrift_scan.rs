//! Finding where a Thrift message ends, one step at a time as its bytes come: a field header,
//! a scalar, a string with all its bytes, a container's head. A step whose bytes are not all
//! there is taken again, whole, when more come; the steps before it are not, so each byte is
//! looked at about once however the message is split. `thrift::Decoder` parses the message
//! once the scan has seen its end.

use super::thrift::{MAX_DEPTH, Reader, Stop, Ty};

pub enum Scan {
    /// The message ends after this many bytes.
    Done(usize),
    /// Not all there: at least this many bytes in all are needed.
    More(usize),
    Bad,
}

/// A container the scan is inside, and what of it is still to come.
enum Frame {
    Struct,
    List(Ty, usize),
    /// Key type, value type, and keys and values still to come (a key when even).
    Map(Ty, Ty, usize),
}

#[derive(Default)]
pub struct Scanner {
    pos: usize,
    compact: bool,
    started: bool,
    stack: Vec<Frame>,
    /// The type of the value to read next.
    next: Option<Ty>,
}

impl Scanner {
    /// Scans on from where the last call stopped; `buf` is what came so far, from the
    /// message's first byte.
    pub fn scan(&mut self, buf: &[u8]) -> Scan {
        loop {
            let mut r = Reader::at(buf, self.pos, self.compact);
            match self.step(&mut r) {
                Ok(true) => return Scan::Done(self.pos),
                Ok(false) => {}
                Err(Stop::Short(need)) => return Scan::More(need),
                Err(Stop::Bad) => return Scan::Bad,
            }
        }
    }

    /// One step; the scan moves past its bytes only if it was all there. True at the end.
    fn step(&mut self, r: &mut Reader<'_>) -> Result<bool, Stop> {
        if !self.started {
            r.header()?;
            self.compact = r.compact;
            self.started = true;
            self.pos = r.pos;
            return self.push(Frame::Struct).map(|_| false);
        }
        if let Some(ty) = self.next {
            let frame = match ty {
                Ty::Struct => Some(Frame::Struct),
                Ty::List | Ty::Set => r.list_head().map(|(t, n)| Some(Frame::List(t, n)))?,
                Ty::Map => {
                    let (k, v, n) = r.map_head()?;
                    Some(Frame::Map(k, v, n.checked_mul(2).ok_or(Stop::Bad)?))
                }
                scalar => r.value(scalar).map(|_| None)?,
            };
            self.pos = r.pos;
            self.next = None;
            return frame.map_or(Ok(false), |f| self.push(f).map(|_| false));
        }
        match self.stack.last_mut() {
            None => Ok(true),
            Some(Frame::Struct) => {
                let b = r.u8()?;
                if b == 0 {
                    self.stack.pop();
                } else if self.compact {
                    let ty = r.ty(b & 0x0f)?;
                    if b >> 4 == 0 {
                        r.zigzag()?;
                    }
                    self.next = (ty != Ty::Bool).then_some(ty);
                } else {
                    let ty = r.ty(b)?;
                    r.array::<2>()?;
                    self.next = Some(ty);
                }
                self.pos = r.pos;
                Ok(false)
            }
            Some(Frame::List(_, 0) | Frame::Map(_, _, 0)) => {
                self.stack.pop();
                Ok(false)
            }
            Some(Frame::List(ty, left)) => {
                *left -= 1;
                self.next = Some(*ty);
                Ok(false)
            }
            Some(Frame::Map(k, v, left)) => {
                self.next = Some(if *left % 2 == 0 { *k } else { *v });
                *left -= 1;
                Ok(false)
            }
        }
    }

    fn push(&mut self, frame: Frame) -> Result<(), Stop> {
        self.stack.push(frame);
        if self.stack.len() > MAX_DEPTH { Err(Stop::Bad) } else { Ok(()) }
    }
}
