//! Exact division by a divisor fixed for one account's schedule (its rate's), by one multiply.

use crate::money::rounds_up_half_even;

/// Exact division by a number fixed for a whole schedule (the rate's divisor), by one multiply: for
/// `n < 2^62` and `l = ⌈log2 d⌉`, `n / d` is `n · magic` shifted right by `62 + l`, where
/// `magic = ⌈2^(62+l) / d⌉` (Granlund and Montgomery: `magic·d` exceeds `2^(62+l)` by less than `d`,
/// so the product overshoots `n/d` by less than `n·d / (d·2^(62+l)) < 2^-l <= 1/d`, never reaching the
/// next integer). Hand-written because the divisor is known only per account and a measurement said
/// so: a hardware division per month is most of the run-off's time, and a float reciprocal is about
/// twice this on the chain each month's balance waits for (docs/perf-log.md).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastDiv {
    d: u64,
    magic: u64,
    shift: u32,
}

impl FastDiv {
    /// For `1 <= d < 2^62`.
    pub(crate) fn new(d: i64) -> FastDiv {
        let d = d as u64;
        let l = u64::BITS - d.saturating_sub(1).leading_zeros();
        let shift = 62 + l;
        // < 2^63 (d > 2^(l−1)), so it fits 64 bits.
        let magic = ((1u128 << shift).div_ceil(u128::from(d))) as u64;
        FastDiv { d, magic, shift }
    }

    /// `n / d` rounded half to even, exactly, for `0 <= n < 2^62`.
    #[inline]
    pub(crate) fn half_even(self, n: i64) -> i64 {
        let n = n as u64;
        let q = ((u128::from(n) * u128::from(self.magic)) >> self.shift) as u64;
        let r = n - q * self.d;
        (q + u64::from(rounds_up_half_even(q & 1 == 1, r, self.d - r))) as i64
    }
}
