//! A per-thread cache of small heap blocks over the system allocator, for a function's
//! `#[global_allocator]`. musl's malloc, which a static build uses, takes one process-wide lock
//! for every allocation and free; a request allocates a few dozen small blocks (its method, path,
//! headers, context), so workers on several cores queue on that lock (measured: 13 futex calls
//! per request at 16 connections). With this allocator a worker thread reuses the blocks it
//! freed, without the lock.
//!
//! Only tinyfc's worker threads cache (they empty their cache before they exit), and the thread
//! that calls `Runtime::from_env`, which normally runs the runtime and so becomes the first worker;
//! every other thread goes straight to the system allocator. Small sizes are rounded up to a size class, so
//! any block of a class can serve any request of that class, whichever thread freed it.
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOC: tinyfc::alloc::ThreadCache = tinyfc::alloc::ThreadCache;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// Block sizes cached, smallest first; larger requests go to the system allocator as they are.
const CLASSES: [usize; 6] = [16, 32, 64, 128, 256, 512];
/// Blocks kept per class and thread: at most 32 x 1008 bytes cached per worker.
const KEEP: usize = 32;
/// The system allocator aligns every block this much; stricter alignments are not cached.
const ALIGN: usize = 16;

/// The global allocator: the system allocator with a cache of small blocks per worker thread.
pub struct ThreadCache;

struct Cache {
    /// Off until [`enable`] (and again after [`release`]).
    on: bool,
    count: [usize; CLASSES.len()],
    blocks: [[*mut u8; KEEP]; CLASSES.len()],
}

thread_local! {
    // Const-initialised and without Drop: using it allocates nothing and registers no destructor.
    static CACHE: UnsafeCell<Cache> = const {
        UnsafeCell::new(Cache {
            on: false,
            count: [0; CLASSES.len()],
            blocks: [[std::ptr::null_mut(); KEEP]; CLASSES.len()],
        })
    };
}

/// The class a layout falls in, if it is cached.
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN {
        return None;
    }
    CLASSES.iter().position(|&c| layout.size() <= c)
}

/// The layout the system allocator is asked for: a small one rounded up to its class.
fn system_layout(layout: Layout) -> Layout {
    match class(layout) {
        // SAFETY: a class size is a multiple of the alignment (at most 16), and not zero.
        Some(c) => unsafe { Layout::from_size_align_unchecked(CLASSES[c], layout.align()) },
        None => layout,
    }
}

/// Runs `f` on this thread's cache if it is on; None if it is off or already gone.
fn with_cache<T>(f: impl FnOnce(&mut Cache) -> Option<T>) -> Option<T> {
    CACHE
        .try_with(|c| {
            // SAFETY: only this thread touches its cache, and `f` does not re-enter the
            // allocator (it only moves pointers).
            let cache = unsafe { &mut *c.get() };
            if cache.on {
                f(cache)
            } else {
                None
            }
        })
        .ok()
        .flatten()
}

unsafe impl GlobalAlloc for ThreadCache {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(c) = class(layout) {
            let cached = with_cache(|cache| {
                let n = cache.count[c];
                (n > 0).then(|| {
                    cache.count[c] = n - 1;
                    cache.blocks[c][n - 1]
                })
            });
            if let Some(p) = cached {
                return p;
            }
        }
        System.alloc(system_layout(layout))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(c) = class(layout) {
            let kept = with_cache(|cache| {
                let n = cache.count[c];
                (n < KEEP).then(|| {
                    cache.blocks[c][n] = ptr;
                    cache.count[c] = n + 1;
                })
            });
            if kept.is_some() {
                return;
            }
        }
        System.dealloc(ptr, system_layout(layout))
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, fits isize.
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        match (class(layout), class(new)) {
            // Both large: the system allocator may grow in place.
            (None, None) => System.realloc(ptr, layout, new_size),
            // The block already has room for its class.
            (Some(a), Some(b)) if a == b => ptr,
            _ => {
                let p = self.alloc(new);
                if !p.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                p
            }
        }
    }
}

/// Lets this thread cache freed blocks (tinyfc's workers call it when they start).
pub(crate) fn enable() {
    let _ = CACHE.try_with(|c| {
        // SAFETY: only this thread touches its cache.
        unsafe { (*c.get()).on = true };
    });
}

/// Stops this thread caching and hands its blocks back to the system allocator (before a
/// worker exits: a thread's cache is not freed with it).
pub(crate) fn release() {
    let _ = CACHE.try_with(|c| {
        // SAFETY: only this thread touches its cache; the blocks were allocated by System with
        // their class's size and alignment 16 or less (freeing ignores the alignment).
        unsafe {
            let cache = &mut *c.get();
            cache.on = false;
            for (c, &size) in CLASSES.iter().enumerate() {
                for &p in &cache.blocks[c][..cache.count[c]] {
                    System.dealloc(p, Layout::from_size_align_unchecked(size, 1));
                }
                cache.count[c] = 0;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn a_freed_small_block_is_reused_by_the_same_thread_once_enabled() {
        std::thread::spawn(|| unsafe {
            let a = ThreadCache;
            let p = a.alloc(layout(20, 8));
            a.dealloc(p, layout(20, 8));
            // Off: no reuse is promised, and nothing was kept.
            enable();
            let q = a.alloc(layout(24, 8));
            a.dealloc(q, layout(24, 8));
            let r = a.alloc(layout(30, 8)); // same class (32): the block just freed
            assert_eq!(q, r);
            a.dealloc(r, layout(30, 8));
            release();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn realloc_keeps_contents_across_classes_and_into_large_sizes() {
        std::thread::spawn(|| unsafe {
            enable();
            let a = ThreadCache;
            let mut size = 3;
            let mut p = a.alloc(layout(size, 1));
            std::ptr::write_bytes(p, 7, size);
            for next in [9, 16, 17, 100, 600, 5000, 40] {
                p = a.realloc(p, layout(size, 1), next);
                let kept = std::slice::from_raw_parts(p, size.min(next));
                assert!(kept.iter().all(|&b| b == 7), "{size} -> {next}");
                std::ptr::write_bytes(p, 7, next);
                size = next;
            }
            a.dealloc(p, layout(size, 1));
            release();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn blocks_freed_on_another_thread_and_strict_alignments_stay_sound() {
        let a = ThreadCache;
        let blocks: Vec<usize> = (0..200)
            .map(|i| unsafe { a.alloc(layout(1 + i % 500, 8)) } as usize)
            .collect();
        std::thread::spawn(move || unsafe {
            enable();
            let a = ThreadCache;
            for (i, p) in blocks.into_iter().enumerate() {
                a.dealloc(p as *mut u8, layout(1 + i % 500, 8));
            }
            // Reused blocks have their class's full size: fill each to its requested size.
            for i in 0..200 {
                let l = layout(1 + i % 500, 8);
                let p = a.alloc(l);
                std::ptr::write_bytes(p, 1, l.size());
                a.dealloc(p, l);
            }
            let big = layout(64, 64);
            let p = a.alloc(big);
            assert_eq!(p as usize % 64, 0);
            a.dealloc(p, big);
            release();
        })
        .join()
        .unwrap();
    }
}
