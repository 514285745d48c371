//! Exact money: parsing the amounts real exports carry, and rounding each output figure once.
//!
//! Everything here is integer or `rust_decimal` arithmetic; no binary floating point touches a money
//! figure or a band decision. Inputs are bounded (at most 12 integer digits and 4 decimal places), which
//! keeps every product and comparison below inside `i128` / `Decimal`'s exact range.

use rust_decimal::{Decimal, RoundingStrategy};
use std::cmp::Ordering;

/// Largest number of integer digits accepted in an amount (just under a trillion dollars).
pub const MAX_INTEGER_DIGITS: usize = 12;
/// Most decimal places an amount may carry (trailing zeros beyond this are allowed: they change nothing).
pub const MAX_DECIMAL_PLACES: u32 = 4;

/// Why an amount could not be read; the text becomes a reject reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("empty")]
    Empty,
    #[error("not a plain decimal amount")]
    NotANumber,
    #[error("thousands separators must group digits in threes, like 19,000.00")]
    BadGrouping,
    #[error("more than 4 decimal places")]
    TooManyDecimals,
    #[error("too large (more than 12 integer digits)")]
    TooLarge,
}

/// An `Option<Decimal>` in 16 bytes instead of 20, for the optional amounts every loan of the book
/// holds (three per loan: 120 MB at 10M loans). `None` is a bit pattern `Decimal::serialize` never
/// writes (flags with the low 16 bits set, which a decimal keeps zero), so every decimal round-trips.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OptionalDecimal([u8; 16]);

impl OptionalDecimal {
    const NONE: [u8; 16] = [0xff; 16];

    pub fn get(self) -> Option<Decimal> {
        (self.0 != Self::NONE).then(|| Decimal::deserialize(self.0))
    }
}

impl From<Option<Decimal>> for OptionalDecimal {
    fn from(value: Option<Decimal>) -> OptionalDecimal {
        OptionalDecimal(value.map_or(Self::NONE, |d| d.serialize()))
    }
}

impl std::fmt::Debug for OptionalDecimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// Parses a plain decimal, also accepting what US-formatted exports write: a leading `$` (after an
/// optional `-`) and comma thousands separators in groups of three (`"$19,000.00"`). Surrounding ASCII
/// spaces are ignored. Anything else (`1e5`, `(5.00)`, `12.34.5`, `1,00`, `€5`) is an error.
pub fn parse_amount(text: &str) -> Result<Decimal, AmountError> {
    let (mantissa, scale) = parse_mantissa(text)?;
    Ok(Decimal::new(mantissa, scale))
}

/// An amount as [`parse_amount`] reads it, as a whole number of ten-thousandths (its at most four
/// places): below 10^16, so exact in an `i64`, and without building a `Decimal` (the backtest reads
/// 65 million amounts from a 1M-loan book's year of records).
pub fn parse_amount_e4(text: &str) -> Result<i64, AmountError> {
    let (mantissa, scale) = parse_mantissa(text)?;
    Ok(mantissa * 10i64.pow(MAX_DECIMAL_PLACES - scale))
}

/// The digits of an amount as an integer and the places they have (at most four).
fn parse_mantissa(text: &str) -> Result<(i64, u32), AmountError> {
    let mut s = text
        .trim_matches(|c: char| c == ' ' || c == '\t')
        .as_bytes();
    if s.is_empty() {
        return Err(AmountError::Empty);
    }
    let negative = s[0] == b'-';
    if negative {
        s = &s[1..];
    }
    if s.first() == Some(&b'$') {
        s = &s[1..];
    }
    let (int_part, frac_part) = match s.iter().position(|&c| c == b'.') {
        Some(dot) => (&s[..dot], Some(&s[dot + 1..])),
        None => (s, None),
    };
    // At most MAX_INTEGER_DIGITS digits before the point and MAX_DECIMAL_PLACES after: below 10^16, so
    // 64-bit arithmetic is exact (i128 per digit was a tenth of parsing an amount).
    const _: () = assert!(MAX_INTEGER_DIGITS + MAX_DECIMAL_PLACES as usize <= 18);
    let whole = match int_part.contains(&b',') {
        true => grouped_digits(int_part)?,
        false => plain_digits(int_part)?,
    };
    let (mut mantissa, scale) = match frac_part {
        Some(frac) if frac.is_empty() && int_part.is_empty() => {
            return Err(AmountError::NotANumber)
        }
        Some(frac) => with_fraction(whole, frac)?,
        None if int_part.is_empty() => return Err(AmountError::NotANumber),
        None => (whole, 0),
    };
    if negative {
        mantissa = -mantissa;
    }
    Ok((mantissa, scale))
}

/// Digits in groups of three after the first (`19,000`), at most MAX_INTEGER_DIGITS of them.
fn grouped_digits(int_part: &[u8]) -> Result<i64, AmountError> {
    let mut groups = int_part.split(|&c| c == b',');
    let first = groups.next().unwrap_or_default();
    if first.is_empty() || first.len() > 3 || first[0] == b'0' {
        return Err(AmountError::BadGrouping);
    }
    let (mut n, mut digits) = (0i64, 0usize);
    for (i, group) in std::iter::once(first).chain(groups).enumerate() {
        if i > 0 && group.len() != 3 {
            return Err(AmountError::BadGrouping);
        }
        for &c in group {
            if !c.is_ascii_digit() {
                return Err(AmountError::NotANumber);
            }
            n = n * 10 + i64::from(c - b'0');
            digits += 1;
            if digits > MAX_INTEGER_DIGITS {
                return Err(AmountError::TooLarge);
            }
        }
    }
    Ok(n)
}

/// Plain digits, at most MAX_INTEGER_DIGITS of them once leading zeros are left out.
fn plain_digits(int_part: &[u8]) -> Result<i64, AmountError> {
    let (mut n, mut digits) = (0i64, 0usize);
    for &c in int_part {
        if !c.is_ascii_digit() {
            return Err(AmountError::NotANumber);
        }
        n = n * 10 + i64::from(c - b'0');
        // Leading zeros do not make a number larger.
        if n > 0 {
            digits += 1;
        }
        if digits > MAX_INTEGER_DIGITS {
            return Err(AmountError::TooLarge);
        }
    }
    Ok(n)
}

/// The whole part with the fraction's digits appended, and how many places they are.
fn with_fraction(whole: i64, frac: &[u8]) -> Result<(i64, u32), AmountError> {
    // Trailing zeros beyond four places are harmless; significant digits there are not.
    let significant = frac.iter().rposition(|&c| c != b'0').map_or(0, |p| p + 1);
    if frac.iter().any(|c| !c.is_ascii_digit()) {
        return Err(AmountError::NotANumber);
    }
    if significant > MAX_DECIMAL_PLACES as usize {
        return Err(AmountError::TooManyDecimals);
    }
    let (mut mantissa, mut scale) = (whole, 0u32);
    for &c in &frac[..frac.len().min(MAX_DECIMAL_PLACES as usize)] {
        mantissa = mantissa * 10 + i64::from(c - b'0');
        scale += 1;
    }
    Ok((mantissa, scale))
}

/// Parses a whole number written as plain ASCII digits (surrounding spaces ignored), no sign.
pub fn parse_count(text: &str) -> Option<u64> {
    let s = text.trim_matches(|c: char| c == ' ' || c == '\t');
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Whether `value` counts as a value at all: it must round to at least one cent. The one rule every
/// stage uses (base figures, stress scenarios, run-off, night over night), so an account that has a
/// value in one table has it in all of them; a valuation row below it is rejected.
pub fn has_value(value: Decimal) -> bool {
    cents(value) > Decimal::ZERO
}

/// Rounds to cents, half to even (banker's rounding), and never shows `-0.00`.
pub fn cents(value: Decimal) -> Decimal {
    round_to(value, 2)
}

/// Rounds to `places`, half to even, with exactly `places` decimals and no negative zero.
pub fn round_to(value: Decimal, places: u32) -> Decimal {
    // Most money already has exactly `places` decimals (balances and values in cents).
    if value.scale() == places && !value.is_zero() {
        return value;
    }
    let mut r = value.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven);
    r.rescale(places);
    if r.is_zero() {
        r.set_sign_positive(true);
    }
    r
}

/// The value of `d` as an integer count of units of 10^-scale (`scale >= d.scale()`).
pub fn mantissa_at(d: Decimal, scale: u32) -> i128 {
    d.mantissa() * 10i128.pow(scale - d.scale())
}

/// `numerator / denominator` rounded to `places` decimals, half to even, from the exact quotient
/// (integer division and remainder; no 28-digit truncation can create a false tie).
/// `denominator` must be positive.
pub fn ratio(numerator: Decimal, denominator: Decimal, places: u32) -> Decimal {
    debug_assert!(denominator > Decimal::ZERO);
    let s = numerator.scale().max(denominator.scale());
    let n = mantissa_at(numerator, s) * 10i128.pow(places);
    let d = mantissa_at(denominator, s);
    Decimal::from_i128_with_scale(div_half_even(n, d), places)
}

/// `Π numerators / Π denominators` rounded once to cents, half to even, from the exact quotient; every
/// factor non-negative. `None` when a denominator is 0 or the products leave 256 bits (the callers'
/// bounds keep them far inside). Hand-written over 256-bit integers (ethnum, already built for polars)
/// because a decimal quotient keeps 28 digits, and rounding that again to cents can turn an exact half
/// cent the wrong way (17,890.625 read as 17,890.6250…01).
pub fn cents_of_fraction(numerators: &[Decimal], denominators: &[Decimal]) -> Option<Decimal> {
    use ethnum::U256;
    let product = |factors: &[Decimal]| -> Option<(U256, u32)> {
        factors.iter().try_fold((U256::ONE, 0u32), |(p, s), f| {
            let m = u128::try_from(f.mantissa()).ok()?;
            Some((p.checked_mul(U256::from(m))?, s + f.scale()))
        })
    };
    let pow10 = |e: u32| -> Option<U256> {
        (0..e).try_fold(U256::ONE, |p, _| p.checked_mul(U256::from(10u8)))
    };
    let (n, n_scale) = product(numerators)?;
    let (d, d_scale) = product(denominators)?;
    // value = (n / 10^n_scale) / (d / 10^d_scale); in cents: n · 10^(d_scale + 2) / (d · 10^n_scale).
    let n = n.checked_mul(pow10(d_scale + 2)?)?;
    let d = d.checked_mul(pow10(n_scale)?)?;
    if d == U256::ZERO {
        return None;
    }
    let (q, r) = (n / d, n % d);
    let q = q + U256::from(u8::from(rounds_up_half_even(q % 2 == 1, r, d - r)));
    Some(Decimal::from_i128_with_scale(
        i128::try_from(q).ok().filter(|q| *q < 10i128.pow(28))?,
        2,
    ))
}

/// Whether a quotient rounds up, half to even: `q_odd` its parity, `r` its remainder and `rest` the
/// divisor less `r` (comparing `r` with `rest` rather than `2r` with the divisor, which could overflow).
/// Without branches: above, at or below half is a coin toss per division, and a mispredicted branch
/// cost more than the comparisons (the run-off's micro-benchmark took 7.2 ms instead of 13.8).
#[inline]
pub fn rounds_up_half_even<T: PartialOrd>(q_odd: bool, r: T, rest: T) -> bool {
    (r > rest) | ((r == rest) & q_odd)
}

/// `n / d` rounded half to even from the exact quotient, for `d > 0`: the one integer rounding of
/// [`ratio`] and of the scaled-integer figures (`crate::book::metrics`).
pub fn div_half_even(n: i128, d: i128) -> i128 {
    // Book amounts fit 64 bits at these scales; a 64-bit division is several times cheaper than
    // the 128-bit one (a library call), and the figures call this a few times per account and scenario.
    if let (Ok(n), Ok(d)) = (i64::try_from(n), i64::try_from(d)) {
        let (q, r) = (n.div_euclid(d), n.rem_euclid(d));
        return i128::from(q + i64::from(rounds_up_half_even(q & 1 != 0, r, d - r)));
    }
    let (q, r) = (n.div_euclid(d), n.rem_euclid(d));
    q + i128::from(rounds_up_half_even(q & 1 != 0, r, d - r))
}

/// `n / 10^exp` rounded half to even: [`div_half_even`] by a power of ten, which the figures divide by
/// several times per account and stress scenario (to cents from each figure's scale). Each power up
/// to 10^19 is a constant in its own arm, so the compiler divides by multiplying: a hardware division
/// by a power known only at run time was most of the figures' rounding. Inlined, so a caller with a
/// constant `exp` keeps only its arm. A negative `n` (no figure of an ordinary book) divides as
/// [`div_half_even`] does.
#[inline]
pub fn div_half_even_pow10(n: i128, exp: u32) -> i128 {
    macro_rules! arms {
        ($($e:literal)*) => {
            match exp {
                0 => return n,
                $($e => {
                    const D: u64 = 10u64.pow($e);
                    if let Ok(n) = u64::try_from(n) {
                        let (q, r) = (n / D, n % D);
                        return i128::from(q + u64::from(rounds_up_half_even(q & 1 != 0, r, D - r)));
                    }
                })*
                _ => {}
            }
        };
    }
    arms!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19);
    div_half_even(n, 10i128.pow(exp))
}

/// Compares the exact ratio `numerator / denominator` with `k`, without dividing.
/// `denominator` must be positive.
pub fn cmp_ratio(numerator: Decimal, denominator: Decimal, k: Decimal) -> Ordering {
    debug_assert!(denominator > Decimal::ZERO);
    // n/d <=> k  is  n <=> k*d  when d > 0; compare at one common scale.
    let s = numerator.scale().max(denominator.scale() + k.scale());
    let lhs = mantissa_at(numerator, s);
    let kd = k.mantissa() * denominator.mantissa(); // scale k.scale() + d.scale()
    let rhs = kd * 10i128.pow(s - (k.scale() + denominator.scale()));
    lhs.cmp(&rhs)
}

/// `1234567.89` → `1,234,567.89`, for people: sign and decimals kept, commas between groups of three
/// integer digits. Text that is not a plain decimal number is returned as it is. The one grouping
/// function: the terminal summary, query tables and the generator's US-formatted amounts use it.
pub fn group_thousands(number: &str) -> String {
    let (sign, rest) = number.strip_prefix('-').map_or(("", number), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(a, b)| (a, Some(b)));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !frac.is_none_or(digits) {
        return number.to_string();
    }
    let mut grouped = String::with_capacity(number.len() + int.len() / 3);
    grouped.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if let Some(f) = frac {
        grouped.push('.');
        grouped.push_str(f);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn an_optional_decimal_holds_every_decimal_and_none() {
        let cases = [
            Decimal::ZERO,
            -Decimal::ZERO,
            Decimal::ONE,
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::new(-1, 28),
            Decimal::from_str("19000.00").unwrap(),
            Decimal::from_str("5.630000").unwrap(),
            Decimal::from_i128_with_scale(-(1 << 95), 7),
        ];
        for v in cases {
            let back = OptionalDecimal::from(Some(v)).get().unwrap();
            // The same number with the same scale and sign: written out the same.
            assert_eq!(
                (back, back.to_string(), back.is_sign_negative()),
                (v, v.to_string(), v.is_sign_negative())
            );
        }
        assert_eq!(OptionalDecimal::from(None).get(), None);
        assert_eq!(std::mem::size_of::<OptionalDecimal>(), 16);
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// Dividing by a power of ten with its constant arm rounds as `rust_decimal` rounds the same
    /// number half to even, for every power the figures use and beyond (to 10^22, past the 64-bit
    /// arms), any sign, and exact ties.
    #[test]
    fn division_by_a_power_of_ten_rounds_as_rust_decimal_does() {
        use proptest::prelude::*;
        use rust_decimal::RoundingStrategy::MidpointNearestEven;
        let reference = |n: i128, exp: u32| {
            let d = Decimal::from_i128_with_scale(n, exp)
                .round_dp_with_strategy(0, MidpointNearestEven);
            d.mantissa()
        };
        proptest!(|(n in -(1i128 << 95)..(1i128 << 95), small in -(1i64 << 40)..(1i64 << 40), exp in 0u32..=22)| {
            prop_assert_eq!(div_half_even_pow10(n, exp), reference(n, exp), "{} / 10^{}", n, exp);
            let small = i128::from(small);
            prop_assert_eq!(div_half_even_pow10(small, exp), reference(small, exp), "{} / 10^{}", small, exp);
            if exp > 0 {
                // A tie: k + one half, either sign (|k| < 10^6 keeps it within decimal's 96 bits).
                let half = 5 * 10i128.pow(exp - 1);
                let tie = small % 1_000_000 * 10i128.pow(exp) + half;
                prop_assert_eq!(div_half_even_pow10(tie, exp), reference(tie, exp), "{} / 10^{}", tie, exp);
                prop_assert_eq!(div_half_even_pow10(-tie, exp), reference(-tie, exp), "{} / 10^{}", -tie, exp);
            }
        });
        // By hand: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, 12.50 -> 12, and 7 at 10^0 is 7.
        assert_eq!(div_half_even_pow10(25, 1), 2);
        assert_eq!(div_half_even_pow10(35, 1), 4);
        assert_eq!(div_half_even_pow10(-25, 1), -2);
        assert_eq!(div_half_even_pow10(1250, 2), 12);
        assert_eq!(div_half_even_pow10(7, 0), 7);
    }

    /// Every plain amount within the limits (12 digits before the point, 4 after, a sign, leading
    /// zeros) reads as `rust_decimal`'s own parse reads it, scale included, on both sides of the limits.
    #[test]
    fn plain_amounts_read_as_rust_decimal_reads_them() {
        use proptest::prelude::*;
        let amount = (
            "-?",
            "0{0,3}",
            "[1-9][0-9]{0,11}|0",
            proptest::option::of("[0-9]{1,4}"),
        );
        proptest!(|((sign, zeros, int, frac) in amount)| {
            let text = match &frac {
                Some(f) => format!("{sign}{zeros}{int}.{f}"),
                None => format!("{sign}{zeros}{int}"),
            };
            let want: Decimal = text.parse().unwrap();
            let got = parse_amount(&text).unwrap();
            prop_assert_eq!(got.to_string(), want.to_string(), "{}", text);
        });
        // A negative zero reads as zero, as `rust_decimal` prints it.
        for zero in ["-0", "-0.00", "-000.0"] {
            let want: Decimal = zero.parse().unwrap();
            assert_eq!(
                parse_amount(zero).unwrap().to_string(),
                want.to_string(),
                "{zero}"
            );
        }
        // The largest amounts the limits allow, and one digit past each.
        let top = "-999999999999.9999";
        assert_eq!(parse_amount(top).unwrap().to_string(), top);
        assert_eq!(parse_amount("1000000000000"), Err(AmountError::TooLarge));
        assert_eq!(parse_amount("1.00001"), Err(AmountError::TooManyDecimals));
    }

    #[test]
    fn parses_plain_and_us_formatted_amounts() {
        for (text, want) in [
            ("19000", "19000"),
            ("19000.5", "19000.5"),
            ("$19,000.00", "19000.00"),
            ("1,234,567.8900", "1234567.8900"),
            ("-$5.25", "-5.25"),
            ("  12.3456 ", "12.3456"),
            (".5", "0.5"),
            ("007", "7"),
            ("1.50000", "1.5000"),
            ("0", "0"),
            // Comma groups at their edges (cargo mutants found no test of them): a first group of
            // exactly three digits, and the twelve integer digits allowed.
            ("123,456.78", "123456.78"),
            ("123,456,789,012.34", "123456789012.34"),
            // Twelve integer digits without commas, and leading zeros, which do not count as digits.
            ("123456789012", "123456789012"),
            ("000000000000019000.00", "19000.00"),
        ] {
            assert_eq!(parse_amount(text), Ok(d(want)), "{text}");
        }
    }

    #[test]
    fn rejects_everything_that_is_not_a_plain_decimal() {
        use AmountError::*;
        for (text, why) in [
            ("", Empty),
            ("   ", Empty),
            ("1e5", NotANumber),
            ("(5.00)", NotANumber),
            ("12.34.5", NotANumber),
            ("€5", NotANumber),
            ("$", NotANumber),
            ("-", NotANumber),
            (".", NotANumber),
            ("1,00", BadGrouping),
            ("1,0000", BadGrouping),
            (",100", BadGrouping),
            ("0,100", BadGrouping),
            ("1.23456", TooManyDecimals),
            ("1234567890123", TooLarge),
            ("1234,567", BadGrouping),
            ("1,234,567,890,123", TooLarge),
            ("5 000", NotANumber),
            ("+5", NotANumber),
            ("$$5", NotANumber),
        ] {
            assert_eq!(parse_amount(text), Err(why), "{text}");
        }
    }

    /// Whole numbers: plain ASCII digits only, at most 18 of them (cargo mutants found these rules
    /// untested: Rust's own parse would take `+5`, and 19 digits still fit a u64).
    #[test]
    fn counts_are_plain_digits_only() {
        assert_eq!(parse_count(" 42 "), Some(42));
        assert_eq!(parse_count("007"), Some(7));
        assert_eq!(
            parse_count("123456789012345678"),
            Some(123_456_789_012_345_678)
        );
        for text in [
            "",
            "  ",
            "+5",
            "-1",
            "4.0",
            "1e3",
            "1234567890123456789",
            "٣",
        ] {
            assert_eq!(parse_count(text), None, "{text}");
        }
    }

    /// A negative zero is written `0.00`, never `-0.00`, even when it already has two places (a
    /// mutant that kept it passed every other test).
    #[test]
    fn rounding_leaves_no_negative_zero() {
        let mut negative_zero = Decimal::from_i128_with_scale(0, 2);
        negative_zero.set_sign_negative(true);
        assert!(negative_zero.is_sign_negative());
        let texts = ["-0.00", "-0.001", "-0.005", "-0"];
        for value in texts.iter().map(|t| d(t)).chain([negative_zero]) {
            let c = cents(value);
            assert!(c.is_sign_positive(), "{value:?}");
            assert_eq!(c.to_string(), "0.00", "{value:?}");
        }
    }

    #[test]
    fn rounds_half_to_even_once() {
        assert_eq!(cents(d("0.505")).to_string(), "0.50");
        assert_eq!(cents(d("0.515")).to_string(), "0.52");
        assert_eq!(cents(d("0.5050001")).to_string(), "0.51");
        assert_eq!(cents(d("-0.004")).to_string(), "0.00");
        assert_eq!(cents(d("3500")).to_string(), "3500.00");
    }

    #[test]
    fn integer_division_rounds_half_to_even_either_side_of_zero() {
        // (n, d, n / d rounded half to even), worked by hand: ties go to the even neighbour.
        let cases: [(i128, i128, i128); 14] = [
            (1, 2, 0),
            (3, 2, 2),
            (5, 2, 2),
            (7, 2, 4),
            (10, 4, 2),
            (14, 4, 4),
            (1, 3, 0),
            (2, 3, 1),
            (0, 7, 0),
            (-1, 2, 0),
            (-3, 2, -2),
            (-5, 2, -2),
            (-7, 2, -4),
            (-2, 3, -1),
        ];
        for (n, d, q) in cases {
            assert_eq!(div_half_even(n, d), q, "{n} / {d}");
            // The same beyond 64 bits, where the 128-bit path divides.
            let big = 1i128 << 80;
            assert_eq!(div_half_even(n * big, d * big), q, "{n}·2^80 / {d}·2^80");
        }
    }

    #[test]
    fn ratio_is_exact_half_even() {
        assert_eq!(ratio(d("19000"), d("15500"), 4).to_string(), "1.2258");
        assert_eq!(ratio(d("1.00005"), d("1"), 4).to_string(), "1.0000");
        assert_eq!(ratio(d("1.00015"), d("1"), 4).to_string(), "1.0002");
        assert_eq!(ratio(d("833.33"), d("1000.00"), 4).to_string(), "0.8333");
        assert_eq!(ratio(d("2"), d("3"), 4).to_string(), "0.6667");
    }

    #[test]
    fn compares_ratios_exactly_at_band_edges() {
        assert_eq!(cmp_ratio(d("10000"), d("10000"), d("1")), Ordering::Equal);
        assert_eq!(
            cmp_ratio(d("10000.01"), d("10000"), d("1")),
            Ordering::Greater
        );
        assert_eq!(cmp_ratio(d("9999.99"), d("10000"), d("1")), Ordering::Less);
        assert_eq!(cmp_ratio(d("12000"), d("10000"), d("1.2")), Ordering::Equal);
        assert_eq!(cmp_ratio(d("1"), d("3"), d("0.3333")), Ordering::Greater);
    }

    #[test]
    fn thousands_are_grouped_in_the_integer_part_only() {
        assert_eq!(group_thousands("1234567.89"), "1,234,567.89");
        assert_eq!(group_thousands("-3500.00"), "-3,500.00");
        assert_eq!(group_thousands("12"), "12");
        assert_eq!(group_thousands("123456"), "123,456");
        assert_eq!(group_thousands("0.12345"), "0.12345");
        assert_eq!(group_thousands("abc"), "abc");
        assert_eq!(group_thousands("1e10"), "1e10");
        assert_eq!(group_thousands("-"), "-");
    }
}
