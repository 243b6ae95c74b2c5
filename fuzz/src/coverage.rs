//! Coverage feedback on the stable toolchain. Built with
//! `RUSTFLAGS="-C instrument-coverage --cfg tessera_fuzz_coverage"`, every
//! instrumented crate keeps its LLVM region counters in the
//! `__llvm_prf_cnts` section; the driver zeroes them before an input and
//! reads them after, and keeps an input that reached a counter, or a hit
//! count bucket of one, that no input reached before. Without the cfg there
//! is no feedback and every call here does nothing.

/// The hit-count buckets of AFL: one bit each for 1, 2, 3, 4-7, 8-15,
/// 16-31, 32-127 and 128 or more hits.
fn bucket(hits: u64) -> u8 {
    match hits {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 4,
        4..=7 => 8,
        8..=15 => 16,
        16..=31 => 32,
        32..=127 => 64,
        _ => 128,
    }
}

/// The buckets each counter has reached so far.
#[derive(Default)]
pub struct Coverage {
    seen: Vec<u8>,
}

impl Coverage {
    /// Whether this build has counters to read.
    pub fn enabled() -> bool {
        cfg!(tessera_fuzz_coverage)
    }

    /// Zeroes the counters, before the first input runs.
    pub fn reset(&self) {
        counters::fill_zero();
    }

    /// Whether the input that ran since the last call (or `reset`) reached
    /// anything new; what it reached is remembered, and the counters are
    /// zeroed for the next input in the same pass.
    pub fn novel(&mut self) -> bool {
        let counters = counters::get();
        if self.seen.len() < counters.len() {
            self.seen.resize(counters.len(), 0);
        }
        let mut new = false;
        // Most counters stay at zero: eight at a time are skipped when none
        // of them was hit.
        for (seen, hits) in self.seen.chunks_mut(8).zip(counters.chunks_mut(8)) {
            if hits.iter().fold(0, |any, &h| any | h) == 0 {
                continue;
            }
            for (seen, hits) in seen.iter_mut().zip(hits.iter_mut()) {
                let bucket = bucket(*hits);
                *hits = 0;
                if bucket & !*seen != 0 {
                    *seen |= bucket;
                    new = true;
                }
            }
        }
        new
    }

    /// Instrumented counters in this build.
    pub fn counters() -> usize {
        counters::get().len()
    }

    /// Counters reached by any input so far.
    pub fn reached(&self) -> usize {
        self.seen.iter().filter(|s| **s != 0).count()
    }
}

#[cfg(tessera_fuzz_coverage)]
mod counters {
    use std::ptr::addr_of_mut;

    extern "C" {
        // Bounds of the section the linker gathers the counters in.
        static mut __start___llvm_prf_cnts: u64;
        static mut __stop___llvm_prf_cnts: u64;
        // From the profiler runtime that the instrumentation links in.
        fn __llvm_profile_set_filename(name: *const std::ffi::c_char);
    }

    /// The counters. The driver is the only reader and writer, between
    /// inputs, on the thread that runs them, and holds no two of these at
    /// once.
    pub fn get() -> &'static mut [u64] {
        // SAFETY: the linker defines both symbols around one section of
        // u64 counters; the counters live as long as the program, and the
        // instrumented code only ever increments them.
        unsafe {
            let start = addr_of_mut!(__start___llvm_prf_cnts);
            let stop = addr_of_mut!(__stop___llvm_prf_cnts);
            std::slice::from_raw_parts_mut(start, stop.offset_from(start) as usize)
        }
    }

    pub fn fill_zero() {
        // SAFETY: as in `get`; no reference to the counters is held while
        // they are written.
        unsafe {
            let start = addr_of_mut!(__start___llvm_prf_cnts);
            let stop = addr_of_mut!(__stop___llvm_prf_cnts);
            std::ptr::write_bytes(start, 0, stop.offset_from(start) as usize);
        }
    }

    /// The runtime would write a profile at exit: there is nothing to keep.
    pub fn no_profile_file() {
        // SAFETY: a NUL-terminated path, read during the call.
        unsafe { __llvm_profile_set_filename(c"/dev/null".as_ptr()) }
    }
}

#[cfg(not(tessera_fuzz_coverage))]
mod counters {
    pub fn get() -> &'static mut [u64] {
        &mut []
    }

    pub fn fill_zero() {}

    pub fn no_profile_file() {}
}

/// Keeps the profiler runtime from writing a profile at exit.
pub fn no_profile_file() {
    counters::no_profile_file();
}
