//! Hints to the CPU cache, for the passes over the book whose reads are random (output order is
//! account-id order, and each shard of the VIN index holds a small share of the loans).

/// A hint to the CPU to load the cache line holding `p`; it never faults and changes nothing.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing the program sees and cannot fault, whatever the
    // address. SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The cache line size of the machines we run on (x86_64 and most ARM servers).
const LINE: usize = 64;

/// [`prefetch`] of every cache line `value` spans: a loan is 128 bytes, two lines, and a hint for its
/// first byte loads only the first (the fields a pass needs may be in the second).
#[inline(always)]
pub fn prefetch_value<T>(value: &T) {
    prefetch_bytes((value as *const T).cast(), std::mem::size_of::<T>());
}

/// [`prefetch`] of every cache line of the `len` bytes at `p`, up to four lines (a loan's text is a
/// few hundred bytes at most in any book we have seen; longer ones are rare enough to miss).
#[inline(always)]
pub fn prefetch_bytes(p: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    let first = p as usize / LINE;
    let last = (p as usize + len - 1) / LINE;
    for line in first..=last.min(first + 3) {
        prefetch((line * LINE) as *const u8);
    }
}
