//! Prepayment at the auto-ABS market's convention: a monthly prepayment of a fixed share of the
//! original number of loans, `SMM(age) = ABS / (1 − ABS × (age − 1))`.

use crate::book::lifetime::model::ONE;
use crate::book::magic_div::div_even;
use rust_decimal::Decimal;

/// Ages the SMM table holds: a slow speed's long tail (an ABS of 0.00000001 runs 100 million
/// months before its pool is exhausted) is computed when an older age asks for it, not held.
pub(crate) const SMM_TABLE_AGES: u128 = 2400;

/// An ABS speed as `(mantissa, 10^scale)`.
pub(crate) fn abs_parts(abs: Decimal) -> (u128, u128) {
    (
        u128::try_from(abs.mantissa()).unwrap_or(0),
        10u128.pow(abs.scale()),
    )
}

/// SMM at `age`: `ABS / (1 − ABS × (age − 1))` for age ≥ 1, exactly rounded to 10^-18; 1 once the
/// denominator reaches ABS (the convention's pool is exhausted). Age 0, and a speed of 0, prepay
/// nothing.
pub(crate) fn smm_of((a, whole): (u128, u128), age: u128) -> u64 {
    if a == 0 || age == 0 {
        return 0;
    }
    let left = whole.saturating_sub(a.saturating_mul(age - 1));
    match left <= a {
        true => ONE as u64,
        false => div_even(a * ONE, left) as u64,
    }
}

/// SMM by age 0 ..= [`SMM_TABLE_AGES`].
pub(crate) fn smm_table(abs: (u128, u128)) -> Vec<u64> {
    (0..=SMM_TABLE_AGES).map(|age| smm_of(abs, age)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// SMM at 1.5% ABS, worked by hand: age 1 → 0.015, age 2 → 0.015 / 0.985, age 66 → 0.015 / 0.025
    /// = 0.6; at age 67 the denominator is 0.01, below the speed: every loan left prepays.
    /// Regression: the table grew until the pool was exhausted, 100 million entries at 0.00000001.
    #[test]
    fn smm_follows_the_abs_convention() {
        let t = smm_table(abs_parts(d("0.015")));
        assert_eq!(t[0], 0);
        assert_eq!(t[1], 15_000_000_000_000_000);
        // 0.015 / 0.985 = 0.015228426395939086294…, rounded to 18 places.
        assert_eq!(t[2], 15_228_426_395_939_086);
        assert_eq!(t[66], 600_000_000_000_000_000);
        assert_eq!((t[67], t[2400]), (ONE as u64, ONE as u64));
        // A speed of 0 prepays nothing; a slow one is computed past the table, not held.
        assert!(smm_table(abs_parts(Decimal::ZERO)).iter().all(|&p| p == 0));
        let slow = abs_parts(d("0.00000001"));
        assert_eq!(smm_of(slow, 5000), div_even(ONE, 100_000_000 - 4999) as u64);
    }
}
