//! A global allocator that counts live bytes, so the driver can call an
//! input that makes a target allocate without bound a crash, before the
//! machine runs out of memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub struct Counting;

#[global_allocator]
static COUNTING: Counting = Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// 0 while no limit is armed.
static LIMIT: AtomicUsize = AtomicUsize::new(0);
/// Called once when the limit is passed; it must not return.
static OVER: OnceLock<fn(usize) -> !> = OnceLock::new();

/// Arms the limit: once more than `limit` bytes are live, `over` is called
/// with their count (with the limit off, so it may allocate).
pub fn arm(limit: usize, over: fn(usize) -> !) {
    let _ = OVER.set(over);
    LIMIT.store(limit, Ordering::SeqCst);
}

/// Bytes allocated and not yet freed.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    let limit = LIMIT.load(Ordering::Relaxed);
    if limit != 0 && live > limit && LIMIT.swap(0, Ordering::SeqCst) != 0 {
        if let Some(over) = OVER.get() {
            over(live);
        }
    }
}

// SAFETY: every call is passed on to `System` unchanged; only counters are
// updated around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}
