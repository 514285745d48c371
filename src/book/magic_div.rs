//! Exact integer division for the lifetime walk: half-to-even rounding, and division by a divisor
//! fixed for the whole run by multiplication.

/// `n / d` rounded half to even (`d > 0`).
#[inline]
pub fn div_even(n: u128, d: u128) -> u128 {
    let (q, r) = (n / d, n % d);
    q + u128::from(r > d - r || (r == d - r && q & 1 == 1))
}

/// Exact division by a divisor fixed for the run (10^18, and one cent in the loss sums' unit), by
/// multiplication: for `n < 2^N` (N = [`MagicDiv::BITS`]) and `l = ⌈log2 d⌉`, `n / d` is the top of
/// `n · m` shifted right by `N + l`, with `m = ⌈2^(N+l) / d⌉` (Granlund and Montgomery; `m` has at
/// most N + 1 bits, which fit 128). Hand-written because a measurement said so: a 128-bit division
/// (`__udivti3`) three times per account and month was most of the lifetime figures' cost, and this
/// is four 64-bit multiplications. `tests::magic_division_is_exact` checks it against `/`.
#[derive(Clone, Copy, Debug)]
pub struct MagicDiv {
    d: u128,
    m: u128,
    /// `N + l − 128`: the shift of the product's high 128 bits.
    shift: u32,
}

impl MagicDiv {
    /// Dividends are below 2^126: probabilities below 2^60 times factors below 2^66.
    const BITS: u32 = 126;

    pub fn new(d: u128) -> MagicDiv {
        use ethnum::U256;
        let l = u128::BITS - (d - 1).leading_zeros();
        let top = U256::ONE << (Self::BITS + l);
        let m = (top + U256::from(d) - U256::ONE) / U256::from(d);
        MagicDiv {
            d,
            m: m.as_u128(),
            shift: Self::BITS + l - 128,
        }
    }

    /// `n / d` for `n < 2^126`.
    #[inline]
    pub fn quotient(self, n: u128) -> u128 {
        let (n1, n0) = (n >> 64, n as u64 as u128);
        let (m1, m0) = (self.m >> 64, self.m as u64 as u128);
        let t0 = n0 * m0;
        // n1 < 2^62, m0 < 2^64, n0 < 2^64, m1 < 2^63 (m < 2^127): no overflow.
        let t1 = n1 * m0 + (n0 * m1) + (t0 >> 64);
        let t2 = n1 * m1 + (t1 >> 64);
        t2 >> self.shift
    }

    /// `n / d` rounded half to even, for `n < 2^126`.
    #[inline]
    pub fn even(self, n: u128) -> u128 {
        let q = self.quotient(n);
        let r = n - q * self.d;
        q + u128::from(r > self.d - r || (r == self.d - r && q & 1 == 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One in the lifetime model's unit (10^-18).
    const ONE: u128 = 1_000_000_000_000_000_000;

    /// The multiplication-based division against `/`, for both run divisors, at the edges and on
    /// a million pseudo-random dividends below 2^126.
    #[test]
    fn magic_division_is_exact() {
        for d in [ONE, ONE * 100, ONE * 10_000, ONE * 10u128.pow(10)] {
            let m = MagicDiv::new(d);
            let mut x: u128 = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321;
            let edges = [
                0,
                1,
                d - 1,
                d,
                d + 1,
                3 * d / 2,
                (1 << 126) - 1,
                (1 << 125) + 7,
            ];
            for n in edges.into_iter().chain((0..1_000_000).map(|_| {
                x = x
                    .wrapping_mul(0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645)
                    .wrapping_add(1);
                x >> 2
            })) {
                assert_eq!(m.quotient(n), n / d, "{n} / {d}");
                assert_eq!(m.even(n), div_even(n, d), "{n} / {d}");
            }
        }
    }
}
