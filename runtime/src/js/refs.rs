//! How many strong references a JS object has: the test that lets a callback's argument
//! objects be reused.
//!
//! A `handleMessageStart` callback gets an event object, its head and the head's `headers`.
//! Making them per message is most of what a callback costs and all the garbage Boa's
//! stop-the-world collector has to free (see `shared/spec/boa-callback.md`). They can be
//! reused once the call is over *if the script kept none of them*: no global, closure,
//! pending `await`, array or event still points at them. Boa counts every `Gc` pointer
//! (from Rust or from the heap) in the allocation's header, so that count, read after the
//! call, tells exactly whether anything besides our own handles still holds the object;
//! anything that was kept (even by garbage not yet collected) simply is not reused.
//!
//! `boa_gc` keeps the count private. It sits at a fixed place: a `JsObject` is one `Gc`
//! pointer to a `#[repr(C)]` `GcBox` whose first field is the header of two `u32` counters.
//! Which of the two is the reference count is not promised by the type, so it is found out
//! once per thread by cloning a probe object and watching which counter moves; if the layout
//! is not the expected one, [`strong_count`] answers `None` and nothing is ever reused.

use std::cell::Cell;

use boa_engine::JsObject;

thread_local! {
    /// Byte offset of the reference count in the allocation, once probed (`Some(None)`:
    /// the layout is not the expected one).
    static OFFSET: Cell<Option<Option<usize>>> = const { Cell::new(None) };
}

/// The start of `obj`'s allocation, if it is where the layout says: a thin pointer, shortly
/// before the object cell it contains.
fn allocation(obj: &JsObject) -> Option<*const u8> {
    const _: () = assert!(size_of::<JsObject>() == size_of::<*const u8>());
    // SAFETY: JsObject is a single `Gc`, itself a single non-null pointer to its GcBox (the
    // size check above); reading it as a pointer copies that address without touching it.
    let start: *const u8 = unsafe { std::mem::transmute_copy(obj) };
    let cell = (obj.as_ref() as *const _ as *const u8).addr();
    // The object cell lives in the GcBox after its header and vtable pointer: a pointer that
    // is not just before it is not the GcBox start, and is never read.
    (start.addr() < cell && cell - start.addr() <= 64).then_some(start)
}

/// Reads the `u32` at `offset` of the allocation.
///
/// # Safety
/// `start` comes from [`allocation`] of a live object and `offset + 4` is within its header.
unsafe fn read(start: *const u8, offset: usize) -> u32 {
    // SAFETY: by the caller's contract the 8 header bytes are inside the live allocation;
    // they are `Cell<u32>`s, which a plain read of the current value does not disturb.
    unsafe { start.add(offset).cast::<u32>().read() }
}

fn probe() -> Option<usize> {
    let obj = JsObject::with_null_proto();
    let start = allocation(&obj)?;
    // SAFETY: `obj` is alive; offsets 0 and 4 are the header's two counters.
    let before = unsafe { [read(start, 0), read(start, 4)] };
    let clones = [obj.clone(), obj.clone(), obj.clone()];
    // SAFETY: as above.
    let during = unsafe { [read(start, 0), read(start, 4)] };
    drop(clones);
    // SAFETY: as above.
    let after = unsafe { [read(start, 0), read(start, 4)] };
    let moved: Vec<usize> =
        (0..2).filter(|&i| during[i] == before[i].wrapping_add(3) && after[i] == before[i] && before[i] == 1).collect();
    match moved[..] {
        [i] if during[1 - i] == before[1 - i] => Some(i * 4),
        _ => None,
    }
}

/// The number of strong references to `obj`, the handle passed in included; `None` if this
/// build of Boa does not lay its objects out as expected.
pub fn strong_count(obj: &JsObject) -> Option<u32> {
    let offset = match OFFSET.with(Cell::get) {
        Some(o) => o,
        None => {
            let o = probe();
            if o.is_none() {
                tracing::debug!(target: "script", "unknown boa_gc layout: callback arguments are not reused");
            }
            OFFSET.with(|c| c.set(Some(o)));
            o
        }
    }?;
    let start = allocation(obj)?;
    // SAFETY: `obj` is alive for the duration of the call and the offset was probed.
    Some(unsafe { read(start, offset) })
}

#[cfg(test)]
mod tests {
    use boa_engine::property::PropertyDescriptor;
    use boa_engine::{JsObject, js_string};

    use super::strong_count;

    #[test]
    fn counts_every_handle_rust_or_heap() {
        let obj = JsObject::with_null_proto();
        assert_eq!(strong_count(&obj), Some(1));
        let copy = obj.clone();
        assert_eq!(strong_count(&obj), Some(2));
        let holder = JsObject::with_null_proto();
        let held = PropertyDescriptor::builder().value(obj.clone()).writable(true).enumerable(true).configurable(true);
        holder.insert_property(js_string!("x"), held);
        drop(copy);
        assert_eq!(strong_count(&obj), Some(2));
        // Garbage keeps its references until it is collected.
        drop(holder);
        assert_eq!(strong_count(&obj), Some(2));
        boa_gc::force_collect();
        assert_eq!(strong_count(&obj), Some(1));
    }
}
