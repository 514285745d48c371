//! Nearest-rank percentiles of a 4-place ratio (the origination LTV), from counts of each value
//! rather than a value held per account.

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// Nearest-rank percentiles (the value at rank ⌈p·n⌉ of the sorted values) of a 4-place ratio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Percentiles {
    pub count: u64,
    pub p05: Decimal,
    pub median: Decimal,
    pub p95: Decimal,
}

impl Percentiles {
    /// The percentiles of every value counted.
    pub fn of(counted: Counted) -> Option<Percentiles> {
        let mut values: Vec<(Decimal, u64)> = counted
            .0
            .into_iter()
            .map(|((mantissa, scale), n)| (Decimal::from_i128_with_scale(mantissa, scale), n))
            .collect();
        values.sort_unstable_by_key(|v| v.0);
        let n: u64 = values.iter().map(|v| v.1).sum();
        if n == 0 {
            return None;
        }
        // ⌈p·n⌉ with p in hundredths, as integers: no float rounding in the rank; then the value whose
        // run of equal values holds that rank.
        let at = |pct: u64| {
            let rank = (pct * n).div_ceil(100).clamp(1, n);
            let mut seen = 0;
            values
                .iter()
                .find(|v| {
                    seen += v.1;
                    seen >= rank
                })
                .map_or(Decimal::ZERO, |v| v.0)
        };
        Some(Percentiles {
            count: n,
            p05: at(5),
            median: at(50),
            p95: at(95),
        })
    }
}

/// How often each value occurs, for percentiles without a value held per account: a vector of every
/// account's origination LTV would be the run's peak memory (160 MB at 10M). Keyed by the decimal's parts,
/// exactly (hashing a `Decimal` would rescale it each time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counted(FxHashMap<(i128, u32), u64>);

impl Counted {
    pub fn add(&mut self, value: Decimal) {
        *self.0.entry((value.mantissa(), value.scale())).or_insert(0) += 1;
    }

    /// Every value (mantissa, scale) and how often it occurs, sorted: the counts as data.
    pub fn entries(&self) -> Vec<(i128, u32, u64)> {
        let mut entries: Vec<(i128, u32, u64)> =
            self.0.iter().map(|(&(m, s), &n)| (m, s, n)).collect();
        entries.sort_unstable();
        entries
    }

    pub fn from_entries(entries: &[(i128, u32, u64)]) -> Counted {
        let mut counted = Counted::default();
        for &(m, s, n) in entries {
            *counted.0.entry((m, s)).or_insert(0) += n;
        }
        counted
    }

    pub fn merge(&mut self, other: Counted) {
        for (k, n) in other.0 {
            *self.0.entry(k).or_insert(0) += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// Worked by hand: 20 values, nearest rank ⌈p·20⌉: the 1st (5%), 10th (50%) and 19th (95%) smallest.
    #[test]
    fn percentiles_are_the_nearest_ranks_of_the_counted_values() {
        let mut counted = Counted::default();
        // 1.0000 ×3, 0.9500 ×1, 1.2000 ×9, 1.5500 ×6, 2.0000 ×1, added in no order.
        for (v, n) in [
            ("1.2000", 9),
            ("0.9500", 1),
            ("2.0000", 1),
            ("1.0000", 3),
            ("1.5500", 6),
        ] {
            for _ in 0..n {
                counted.add(Decimal::from_str(v).unwrap());
            }
        }
        // Sorted: 0.95, 1.00 ×3 (ranks 2-4), 1.20 ×9 (5-13), 1.55 ×6 (14-19), 2.00 (20).
        let p = Percentiles::of(counted).unwrap();
        assert_eq!(p.count, 20);
        assert_eq!(
            (p.p05.to_string(), p.median.to_string(), p.p95.to_string()),
            ("0.9500".into(), "1.2000".into(), "1.5500".into())
        );
        assert_eq!(Percentiles::of(Counted::default()), None);
        // Merged halves count as one.
        let (mut a, mut b) = (Counted::default(), Counted::default());
        a.add(Decimal::from_str("0.5000").unwrap());
        b.add(Decimal::from_str("0.7000").unwrap());
        b.add(Decimal::from_str("0.5000").unwrap());
        a.merge(b);
        let p = Percentiles::of(a).unwrap();
        assert_eq!((p.count, p.median.to_string()), (3, "0.5000".into()));
    }
}
