//! The component's allocator: free lists of small blocks in front of a general allocator
//! (talc in the component).
//!
//! A call allocates a few hundred small objects (the JSON values' strings and map nodes, the
//! request and response buffers) and frees them all before it returns. Measured under callgrind
//! (the benchmark's profile mode, one image call on a reused instance), talc spent about 78,000
//! instructions on them at the component's `opt-level = "z"`, a quarter of the component's own
//! instructions. Here a request of at most 4 KiB (alignment at most 16) is rounded up to a power
//! of two and served from that size's free list, a pop or a push: a few instructions. A free
//! list is filled only by blocks freed earlier, so it holds at most what the busiest call needed
//! at once; blocks are never handed back (linear memory never shrinks anyway). Everything larger
//! goes to the general allocator, which can grow a block in place.
//!
//! An instance is single-threaded (wasm32 without threads), and neither allocator calls the
//! other while it holds the lists, so the lists need no lock.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

/// The smallest block: 16 bytes (room for the free list's link, and the alignment served).
const MIN_SHIFT: u32 = 4;
/// The largest block served from a free list: 4 KiB.
const MAX_SHIFT: u32 = 12;
const CLASSES: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;
/// The alignment of every small block; a request for more goes to the general allocator.
const CLASS_ALIGN: usize = 1 << MIN_SHIFT;

/// Free lists of small blocks over the general allocator `A`.
pub struct Heap<A> {
    general: A,
    /// The first free block of each size, each holding the address of the next.
    free: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: a component instance has one thread, and the host never calls into it concurrently;
// natively (the tests) every use is from one thread too.
unsafe impl<A: Sync> Sync for Heap<A> {}

impl<A> Heap<A> {
    /// Free lists in front of `general`.
    pub const fn new(general: A) -> Self {
        Heap {
            general,
            free: UnsafeCell::new([ptr::null_mut(); CLASSES]),
        }
    }
}

/// The size class of `layout` (block size `16 << class`), or `None` for the general allocator.
/// Always inlined: at `opt-level = "z"` it was a call of its own on every allocation and free.
#[inline(always)]
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > CLASS_ALIGN || layout.size() > 1 << MAX_SHIFT {
        return None;
    }
    let size = layout.size().max(CLASS_ALIGN);
    // ceil(log2(size)) - MIN_SHIFT, for 16 <= size <= 4096.
    let shift = usize::BITS - (size - 1).leading_zeros();
    usize::try_from(shift.checked_sub(MIN_SHIFT)?).ok()
}

/// The layout a block of `class` is taken from the general allocator with.
fn block_layout(class: usize) -> Layout {
    // Sizes 16 to 4096 with alignment 16 are always valid layouts.
    Layout::from_size_align(CLASS_ALIGN << class, CLASS_ALIGN).unwrap_or(Layout::new::<u128>())
}

// SAFETY: every block handed out is at least the requested size and alignment (a power of two
// of at least the size, aligned to 16, from `general` with that layout), is not handed out again
// until it is freed, and goes back to `general` never (small) or with its own layout (large).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Heap<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout) else {
            // SAFETY: the caller's layout, passed on.
            return unsafe { self.general.alloc(layout) };
        };
        // SAFETY: single-threaded and not re-entered (see the module docs).
        let lists = unsafe { &mut *self.free.get() };
        let Some(head) = lists.get_mut(c) else {
            return ptr::null_mut();
        };
        if head.is_null() {
            // SAFETY: a valid, non-zero-size layout.
            return unsafe { self.general.alloc(block_layout(c)) };
        }
        let block = *head;
        // SAFETY: a free block holds the address of the next free block in its first bytes.
        *head = unsafe { block.cast::<*mut u8>().read() };
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(c) = class(layout) else {
            // SAFETY: a large block came from `general` with this layout.
            return unsafe { self.general.dealloc(block, layout) };
        };
        // SAFETY: single-threaded and not re-entered (see the module docs).
        let lists = unsafe { &mut *self.free.get() };
        if let Some(head) = lists.get_mut(c) {
            // SAFETY: the block is at least 16 bytes, aligned to 16, and no longer in use.
            unsafe { block.cast::<*mut u8>().write(*head) };
            *head = block;
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        match (class(layout), class(new_layout)) {
            // The block is already big enough (its class's size).
            (Some(a), Some(b)) if a == b => block,
            // SAFETY: a large block from `general` with `layout`, grown or shrunk there.
            (None, None) => unsafe { self.general.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: a valid layout; the old block is valid for `layout.size()` bytes and
                // the new one for `new_size`, and they do not overlap.
                unsafe {
                    let new = self.alloc(new_layout);
                    if !new.is_null() {
                        ptr::copy_nonoverlapping(block, new, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    new
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

    use super::*;
    use std::alloc::System;

    #[test]
    fn classes_are_the_next_power_of_two() {
        let c = |size, align| class(Layout::from_size_align(size, align).unwrap());
        assert_eq!(c(0, 1), Some(0));
        assert_eq!(c(1, 1), Some(0));
        assert_eq!(c(16, 8), Some(0));
        assert_eq!(c(17, 1), Some(1));
        assert_eq!(c(4096, 16), Some(8));
        assert_eq!(c(4097, 1), None);
        assert_eq!(c(8, 32), None);
    }

    /// Many live blocks of mixed sizes, written, grown, shrunk and freed in a scrambled order:
    /// every block keeps its own bytes, and freed small blocks are handed out again.
    #[test]
    fn blocks_keep_their_bytes_and_are_reused() {
        let heap = Heap::new(System);
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut seed = 0x9e37_79b9_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let fill = |p: *mut u8, n: usize, tag: u8| unsafe { ptr::write_bytes(p, tag, n) };
        let check =
            |p: *mut u8, n: usize, tag: u8| (0..n).all(|i| unsafe { p.add(i).read() } == tag);
        for round in 0..20_000u32 {
            let r = next();
            if r % 3 != 0 || live.is_empty() {
                let size = [1, 7, 16, 24, 100, 1000, 4096, 5000, 70_000][(r >> 8) as usize % 9];
                let align = [1, 4, 8, 16, 64][(r >> 16) as usize % 5];
                let layout = Layout::from_size_align(size, align).unwrap();
                let p = unsafe { heap.alloc(layout) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "misaligned");
                let tag = (round % 251) as u8;
                fill(p, size, tag);
                live.push((p, layout, tag));
            } else {
                let i = (r >> 4) as usize % live.len();
                let (p, layout, tag) = live.swap_remove(i);
                assert!(check(p, layout.size(), tag), "a block was overwritten");
                if r % 2 == 0 {
                    let new_size = [3, 40, 3000, 9000][(r >> 20) as usize % 4];
                    let q = unsafe { heap.realloc(p, layout, new_size) };
                    assert!(
                        check(q, layout.size().min(new_size), tag),
                        "realloc lost bytes"
                    );
                    let layout = Layout::from_size_align(new_size, layout.align()).unwrap();
                    fill(q, new_size, tag);
                    live.push((q, layout, tag));
                } else {
                    unsafe { heap.dealloc(p, layout) };
                }
            }
        }
        for (p, layout, tag) in live {
            assert!(check(p, layout.size(), tag), "a block was overwritten");
            unsafe { heap.dealloc(p, layout) };
        }
        // A freed small block is the next one handed out of its size.
        let layout = Layout::from_size_align(48, 8).unwrap();
        let a = unsafe { heap.alloc(layout) };
        unsafe { heap.dealloc(a, layout) };
        assert_eq!(unsafe { heap.alloc(layout) }, a);
    }
}
