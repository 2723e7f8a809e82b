//! The global allocator of the binary: mimalloc, through its plain entry points wherever they
//! are sure to give the alignment asked for.
//!
//! The `mimalloc` crate's allocator calls mimalloc's aligned entry points for every allocation;
//! their general path costs ~130 instructions a call where the plain one costs ~20 (the pro
//! forma of the 10k-invoice set makes ~900k allocations; BENCHMARKS.md). Every block mimalloc
//! hands out is aligned to 8 bytes (block sizes are whole words, pages start 16-aligned), but
//! not every block to 16 (were 16-byte alignment taken the plain way, the test below would fail
//! on a one-byte layout, whose block sits at 8 mod 16), and a layout's size need not be a
//! multiple of its alignment (hashbrown's tables: buckets × entry size rounded up to 16, then a
//! control byte per bucket and 16 more).
//! So alignments up to 8 take the plain entry points, larger ones the aligned entry points,
//! which find an aligned block or make one.

use std::alloc::{GlobalAlloc, Layout};

use libmimalloc_sys as mi;

/// mimalloc as a [`GlobalAlloc`] (see the module).
pub struct MiMalloc;

/// The alignment every mimalloc block has.
const PLAIN_ALIGN: usize = 8;

/// Whether `layout` may take the plain entry points (the one place that decides; see the
/// module).
#[inline(always)]
fn plain(layout: Layout) -> bool {
    layout.align() <= PLAIN_ALIGN
}

// SAFETY: each function passes the layout's size to mimalloc and asks for the layout's
// alignment unless every mimalloc block already has it (see the module); mimalloc frees and
// reallocates aligned and plain blocks alike, and keeps a block's alignment when it moves it
// through the entry point of that alignment.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout) {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout) {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: see the impl.
        unsafe { mi::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout) {
                mi::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block has the alignment its layout asks for, at every size up to some kilobytes
    /// (every small size class) and beyond, for plain and aligned entry points, through growth
    /// and shrinking; the bytes written survive a move.
    #[test]
    fn every_block_has_the_alignment_its_layout_asks_for() {
        let a = MiMalloc;
        let mut kept = Vec::new();
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in (1..=2048).chain([4095, 4096, 10_000, 70_000, 300_000]) {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; the block is freed below with its layout.
                unsafe {
                    let p = if size % 3 == 0 { a.alloc_zeroed(layout) } else { a.alloc(layout) };
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size}, alignment {align}");
                    if size % 3 == 0 {
                        assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                    }
                    p.write(0xA5);
                    let grown = size * 3 + 7;
                    let q = a.realloc(p, layout, grown);
                    assert_eq!(q as usize % align, 0, "grown from {size}, alignment {align}");
                    assert_eq!(q.read(), 0xA5);
                    let grown_layout = Layout::from_size_align(grown, align).unwrap();
                    let r = a.realloc(q, grown_layout, size.div_ceil(2));
                    assert_eq!(r as usize % align, 0, "shrunk from {grown}, alignment {align}");
                    assert_eq!(r.read(), 0xA5);
                    // Blocks kept alive so that later ones come from partly used pages.
                    kept.push((r, Layout::from_size_align(size.div_ceil(2), align).unwrap()));
                }
            }
        }
        for (p, layout) in kept {
            // SAFETY: allocated above with this layout and not freed yet.
            unsafe { a.dealloc(p, layout) }
        }
    }
}
