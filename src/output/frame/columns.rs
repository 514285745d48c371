//! Typed polars columns, built exactly: money as the i128 mantissa at a fixed scale (never through a
//! binary float), dates, text, and a loan column's type inferred from its text (a decimal at the
//! smallest scale that holds it, a whole number, a date, or text). The accounts frame of the Parquet
//! file and of `query`, and the Python package's frames, are built from these.

use polars::prelude::*;
use rust_decimal::Decimal;

fn at_scale(d: Decimal, scale: u32) -> i128 {
    let mut d = d;
    d.rescale(scale);
    d.mantissa()
}

/// A `Decimal(38, scale)` column of `values` (the type `underwater query` shows).
pub fn money(
    name: &str,
    values: impl Iterator<Item = Option<Decimal>>,
    scale: u32,
) -> PolarsResult<Column> {
    money_at(name, values, scale, WIDE)
}

/// The precision of money in `query`'s tables, and of a decimal that may need it in accounts.parquet.
pub const WIDE: usize = 38;
/// The precision of money in accounts.parquet when every amount of the book fits it: Parquet keeps
/// a decimal of up to 18 digits as a 64-bit integer (16 bytes otherwise), which is faster to write. `query` reads such columns back as [`WIDE`].
pub(crate) const NARROW: usize = 18;

/// [`money`] at a given precision. A value beyond it is an error, never a cut: polars would keep
/// only its low 64 bits.
pub(crate) fn money_at(
    name: &str,
    values: impl Iterator<Item = Option<Decimal>>,
    scale: u32,
    precision: usize,
) -> PolarsResult<Column> {
    let limit = (precision < WIDE).then(|| 10i128.pow(precision as u32));
    let mut too_wide = false;
    let ca = Int128Chunked::from_iter_options(
        name.into(),
        values.map(|v| {
            v.map(|d| {
                let m = at_scale(d, scale);
                too_wide |= limit.is_some_and(|l| m.unsigned_abs() >= l as u128);
                m
            })
        }),
    );
    if too_wide {
        return Err(polars_err!(ComputeError:
            "internal error (a bug: please report it): a value of `{name}` has more than {precision} digits"));
    }
    Ok(ca.into_decimal(precision, scale as usize)?.into_column())
}

pub fn date_column(name: &str, values: impl Iterator<Item = Option<crate::date::Date>>) -> Column {
    Int32Chunked::from_iter_options(name.into(), values.map(|d| d.map(|d| d.days_since_epoch())))
        .into_date()
        .into_column()
}

pub fn text<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), values).into_column()
}

/// Columns written as exact decimals at a fixed scale, in accounts.parquet and in query tables.
pub const MONEY_COLUMNS: [&str; 7] = [
    "balance",
    "value",
    "equity",
    "negative_equity",
    "net_recovery",
    "deficiency_if_default",
    "expected_deficiency",
];
/// Ratio columns, 4 places.
pub const RATIO_COLUMNS: [&str; 2] = ["ltv", "origination_ltv"];

/// A loan column as the narrowest exact type all its values fit: `YYYY-MM-DD` dates as Date, whole
/// numbers (no leading zeros, so ZIP codes and ids stay text) as Int64, decimals as Decimal at their
/// largest scale, else text.
pub fn typed_column(name: &str, values: &[Option<&str>]) -> PolarsResult<Column> {
    let mut kind = InferredType::ANY;
    values.iter().flatten().for_each(|s| kind.see(s));
    kind.column(name, values.iter().copied(), false)
}

/// What a column's values allow it to be typed as ([`typed_column`]'s rules), seen one value at a time,
/// so parts of a column can be seen apart and merged.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InferredType {
    present: bool,
    dates: bool,
    /// Every value a plain number (`-12.5`, `7`; no leading zeros, no exponent, no grouping).
    numbers: bool,
    /// ... and each whole, at most 18 characters: an Int64.
    ints: bool,
    /// The most digits before the point and after it, of any value: a Decimal at the largest scale
    /// when every value fits it in 28 digits (rust_decimal's precision, so no digit is lost).
    int_digits: u32,
    scale: u32,
}

/// The most digits after the point a decimal loan column may have.
const MAX_SCALE: u32 = 12;

impl InferredType {
    /// Before any value: every type still possible.
    pub(crate) const ANY: InferredType = InferredType {
        present: false,
        dates: true,
        numbers: true,
        ints: true,
        int_digits: 0,
        scale: 0,
    };

    /// Takes a present value into account.
    pub(crate) fn see(&mut self, s: &str) {
        self.present = true;
        if self.dates {
            self.dates = date(s).is_some();
        }
        if !self.numbers {
            return;
        }
        match PlainNumber::of(s) {
            None => self.numbers = false,
            Some(shape) => {
                self.ints &= shape.fraction.is_none() && s.len() <= 18;
                self.int_digits = self.int_digits.max(shape.int_digits);
                self.scale = self.scale.max(shape.fraction.unwrap_or(0));
            }
        }
    }

    pub(crate) fn merge(self, other: InferredType) -> InferredType {
        InferredType {
            present: self.present || other.present,
            dates: self.dates && other.dates,
            numbers: self.numbers && other.numbers,
            ints: self.ints && other.ints,
            int_digits: self.int_digits.max(other.int_digits),
            scale: self.scale.max(other.scale),
        }
    }

    /// The column of `values`, every present one of which has been seen. `narrow`: a decimal column
    /// whose every value has at most [`NARROW`] digits is written at that precision (for the file).
    pub(crate) fn column<'a>(
        self,
        name: &str,
        values: impl Iterator<Item = Option<&'a str>>,
        narrow: bool,
    ) -> PolarsResult<Column> {
        if !self.present {
            return Ok(text(name, values));
        }
        if self.dates {
            return Ok(date_column(name, values.map(|v| v.and_then(date))));
        }
        if self.numbers && self.ints {
            let ints = values.map(|v| v.and_then(|s| s.parse::<i64>().ok()));
            return Ok(Int64Chunked::from_iter_options(name.into(), ints).into_column());
        }
        if self.numbers && self.scale <= MAX_SCALE && self.int_digits + self.scale <= 28 {
            let scale = self.scale;
            let units = values.map(|v| v.and_then(|s| PlainNumber::of(s)?.units(s, scale)));
            let ca = Int128Chunked::from_iter_options(name.into(), units);
            let precision = match narrow && self.int_digits + scale <= NARROW as u32 {
                true => NARROW,
                false => WIDE,
            };
            return Ok(ca.into_decimal(precision, scale as usize)?.into_column());
        }
        Ok(text(name, values))
    }
}

fn date(s: &str) -> Option<crate::date::Date> {
    crate::date::Date::parse(s).filter(|_| s.len() == 10)
}

/// A plain number's digits: a sign, digits with no leading zero (`007` and ZIP codes are labels, not
/// numbers), and at most one point with digits after it.
struct PlainNumber {
    int_digits: u32,
    /// Digits after the point (None: no point).
    fraction: Option<u32>,
}

impl PlainNumber {
    fn of(s: &str) -> Option<PlainNumber> {
        let digits = s.strip_prefix('-').unwrap_or(s).as_bytes();
        let point = digits.iter().position(|&b| b == b'.');
        let (int, fraction) = match point {
            Some(p) => (&digits[..p], Some(&digits[p + 1..])),
            None => (digits, None),
        };
        let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
        let plain = !int.is_empty()
            && (int.len() == 1 || int[0] != b'0')
            && all_digits(int)
            && fraction.is_none_or(|f| !f.is_empty() && all_digits(f));
        plain.then(|| PlainNumber {
            int_digits: int.len() as u32,
            fraction: fraction.map(|f| f.len() as u32),
        })
    }

    /// `s` (of this shape) in units of 10^-scale, if it has at most `scale` digits after the point
    /// and 28 in all. Integer arithmetic: exact, and cheaper than a decimal parse and rescale.
    fn units(&self, s: &str, scale: u32) -> Option<i128> {
        let fraction = self.fraction.unwrap_or(0);
        if fraction > scale || self.int_digits + scale > 28 {
            return None;
        }
        let magnitude = s
            .bytes()
            .filter(u8::is_ascii_digit)
            .fold(0i128, |n, b| n * 10 + i128::from(b - b'0'));
        let units = magnitude * 10i128.pow(scale - fraction);
        Some(if s.starts_with('-') { -units } else { units })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrow_money_column_refuses_a_value_it_cannot_hold() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        // 16 digits before the point and 2 after fill 18; one more does not fit, and is an error
        // rather than the low 64 bits polars would keep.
        let fits = money_at("m", [Some(d("9999999999999999.99"))].into_iter(), 2, NARROW);
        assert_eq!(fits.unwrap().dtype(), &DataType::Decimal(NARROW, 2));
        let beyond = money_at(
            "m",
            [Some(d("10000000000000000.00"))].into_iter(),
            2,
            NARROW,
        );
        assert!(beyond.is_err());
        let negative = money_at(
            "m",
            [Some(d("-10000000000000000.00"))].into_iter(),
            2,
            NARROW,
        );
        assert!(negative.is_err());
        let wide = money_at("m", [Some(d("10000000000000000.00"))].into_iter(), 2, WIDE);
        assert_eq!(wide.unwrap().dtype(), &DataType::Decimal(WIDE, 2));
    }
}
