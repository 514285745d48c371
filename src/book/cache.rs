//! Hints to the CPU cache, for the passes over the book whose reads are random (output order is
//! account-id order, the index's shards hold one loan in 64).

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
