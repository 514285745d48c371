//! Estimated current values for loans that have no valuation: a depreciation curve applied to the
//! value at origination.
//!
//! Loan tapes (SEC Reg AB II) carry the vehicle's value at origination but no VIN and no current value,
//! so no appraisal can be matched. The estimate is
//!
//! `value = cents(origination_value × retained(age) [× index(as_of) / index(origination month)])`
//!
//! where `age` is whole months from origination to as_of and `retained` interpolates linearly between
//! the points of the new- or used-vehicle curve (flat after the last point). The whole expression is one
//! exact fraction of integers, rounded to cents once (half to even), so the value written in accounts.csv is
//! the value every figure was computed from. Estimated accounts carry `value_source = estimated` and are
//! counted apart in every summary, so no one mistakes them for appraisals.

use crate::book::matching::Matched;
use crate::date::Date;
use crate::input::load::{Loan, NewUsed};
use crate::input::valuations::Valuation;
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::str::FromStr;

/// `value_source` of an estimated value.
pub const ESTIMATED: &str = "estimated";

/// A retained-value curve: (months since origination, fraction of the origination value kept).
#[derive(Clone, Debug, PartialEq)]
pub struct Curve(pub Vec<(u32, Decimal)>);

impl Curve {
    /// The fraction kept after `months`, linear between points, flat after the last one.
    pub fn retained(&self, months: u32) -> Decimal {
        let points = &self.0;
        let after = points.partition_point(|(m, _)| *m <= months);
        match (after.checked_sub(1).map(|i| points[i]), points.get(after)) {
            (Some((m0, f0)), Some(&(m1, f1))) => {
                f0 + (f1 - f0) * Decimal::from(months - m0) / Decimal::from(m1 - m0)
            }
            (Some((_, f)), None) => f,
            // Curves start at month 0 (checked when the config is read).
            (None, _) => Decimal::ONE,
        }
    }

    /// [`Curve::retained`] as an exact fraction `(numerator, denominator)`, nothing divided:
    /// `(f0 × (m1 − months) + f1 × (months − m0)) / (m1 − m0)` between points.
    pub fn retained_fraction(&self, months: u32) -> (Decimal, Decimal) {
        let points = &self.0;
        let after = points.partition_point(|(m, _)| *m <= months);
        match (after.checked_sub(1).map(|i| points[i]), points.get(after)) {
            (Some((m0, f0)), Some(&(m1, f1))) => (
                f0 * Decimal::from(m1 - months) + f1 * Decimal::from(months - m0),
                Decimal::from(m1 - m0),
            ),
            (Some((_, f)), None) => (f, Decimal::ONE),
            (None, _) => (Decimal::ONE, Decimal::ONE),
        }
    }
}

fn curve(points: &[(u32, &str)]) -> Curve {
    Curve(
        points
            .iter()
            .map(|&(m, f)| {
                (
                    m,
                    Decimal::from_str(f).expect("literal default is a decimal"),
                )
            })
            .collect(),
    )
}

/// How values are estimated; part of the validated config.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub enabled: bool,
    pub new: Curve,
    pub used: Curve,
    /// Used-vehicle price index by month (first day of the month), if configured.
    pub index: Option<PriceIndex>,
}

pub use crate::input::price_index::PriceIndex;

impl Estimate {
    /// Defaults from the domain notes (shared/domain.md): a new car keeps 80% after its first year and
    /// then loses 13% a year; a used car, already past the steep early years, loses 11% a year.
    /// Points are yearly; `enabled` is set by the caller (on for tapes).
    pub fn defaults(enabled: bool) -> Estimate {
        Estimate {
            enabled,
            new: curve(&[
                (0, "1"),
                (12, "0.80"),
                (24, "0.696"),
                (36, "0.6055"),
                (48, "0.5268"),
                (60, "0.4583"),
                (72, "0.3987"),
                (84, "0.3469"),
                (96, "0.3018"),
                (120, "0.2285"),
            ]),
            used: curve(&[
                (0, "1"),
                (12, "0.89"),
                (24, "0.7921"),
                (36, "0.7050"),
                (48, "0.6274"),
                (60, "0.5584"),
                (72, "0.4970"),
                (84, "0.4423"),
                (96, "0.3937"),
                (120, "0.3118"),
            ]),
            index: None,
        }
    }
}

/// Why an account with no valuation got no estimate either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoEstimate {
    NoOriginationValue,
    NoIndexForOriginationMonth,
    /// The estimate rounds to $0.00 (a tiny origination value, a curve that reaches 0): no LTV can be
    /// computed from it, so the account is unvalued and its whole balance counts as at risk.
    RoundsToZero,
}

/// The estimated value of `loan` at `as_of`, or why there is none.
pub fn estimate(loan: &Loan, as_of: Date, est: &Estimate) -> Result<Valuation, NoEstimate> {
    let origination_value = loan
        .origination_value()
        .ok_or(NoEstimate::NoOriginationValue)?;
    let curve = match loan.new_used {
        Some(NewUsed::Used) => &est.used,
        // Unknown is treated as new: the steeper curve, the conservative choice for a risk report.
        _ => &est.new,
    };
    // One exact fraction, rounded once to cents: origination value × the curve's share (itself a
    // fraction between two points) [× the index's ratio]. A share divided out to 28 digits first and
    // rounded again can put an exact half cent on the wrong side.
    let (share, span) = curve.retained_fraction(loan.origination_date.months_until(as_of));
    let mut top = vec![origination_value, share];
    let mut bottom = vec![span];
    if let Some(index) = &est.index {
        let month = |d: Date| {
            let (y, m, _) = d.ymd();
            Date::from_ymd(y, m, 1).expect("first day of a real month")
        };
        let then = index
            .levels
            .get(&month(loan.origination_date))
            .ok_or(NoEstimate::NoIndexForOriginationMonth)?;
        // The as_of month is checked when the index is loaded.
        let now = index.levels.get(&month(as_of)).copied().unwrap_or(*then);
        top.push(now);
        bottom.push(*then);
    }
    // Origination values have at most 12 integer digits, curve shares and index levels at most 6
    // decimals (checked when read): the fraction stays far inside 256 bits.
    let value = crate::money::cents_of_fraction(&top, &bottom).ok_or(NoEstimate::RoundsToZero)?;
    if value <= Decimal::ZERO {
        return Err(NoEstimate::RoundsToZero);
    }
    Ok(Valuation {
        date: as_of,
        value,
        source: ESTIMATED.into(),
        estimated: true,
    })
}

/// Accounts with no matched valuation, by what estimation made of them.
#[derive(Clone, Copy, Debug, Default)]
pub struct EstimateCounts {
    pub estimated: u64,
    pub no_origination_value: u64,
    pub no_index_for_origination_month: u64,
    pub rounds_to_zero: u64,
}

/// The estimating stage's result.
#[derive(Default)]
pub struct Estimates {
    /// Per loan: the estimated value of a loan no valuation matched (empty when estimates are off).
    pub values: Vec<Option<Valuation>>,
    pub counts: EstimateCounts,
}

/// The estimating stage: a value from the curve for every loan whose VIN matched no valuation.
pub fn estimate_unmatched(
    loans: &[Loan],
    matched: &Matched,
    as_of: Date,
    est: &Estimate,
) -> Estimates {
    if !est.enabled {
        return Estimates::default();
    }
    let results: Vec<Result<Option<Valuation>, NoEstimate>> = loans
        .par_iter()
        .zip(matched.vin_ids.par_iter())
        .map(|(loan, &id)| match matched.best[id as usize] {
            Some(_) => Ok(None),
            None => estimate(loan, as_of, est).map(Some),
        })
        .collect();
    let mut counts = EstimateCounts::default();
    let values = results
        .into_iter()
        .map(|e| match e {
            Ok(v) => {
                counts.estimated += u64::from(v.is_some());
                v
            }
            Err(NoEstimate::NoOriginationValue) => {
                counts.no_origination_value += 1;
                None
            }
            Err(NoEstimate::NoIndexForOriginationMonth) => {
                counts.no_index_for_origination_month += 1;
                None
            }
            Err(NoEstimate::RoundsToZero) => {
                counts.rounds_to_zero += 1;
                None
            }
        })
        .collect();
    Estimates { values, counts }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn curves_interpolate_linearly_and_hold_after_the_last_point() {
        let e = Estimate::defaults(true);
        assert_eq!(e.new.retained(0), d("1"));
        assert_eq!(e.new.retained(6), d("0.90"));
        assert_eq!(e.new.retained(12), d("0.80"));
        assert_eq!(e.new.retained(18), d("0.748"));
        assert_eq!(e.new.retained(120), d("0.2285"));
        assert_eq!(e.new.retained(500), d("0.2285"));
        assert_eq!(e.used.retained(12), d("0.89"));
    }

    /// 18,750 on the used curve 5 months after origination is exactly 17,890.625 → 17,890.62 (half
    /// even), and 17,625 at 10 months is 16,009.375 → 16,009.38; the share divided out to 28 digits
    /// first gave 17,890.63 and 16,009.37.
    #[test]
    fn regression_an_estimated_value_was_rounded_twice_and_a_cent_off() {
        let used = &Estimate::defaults(true).used;
        let value = |v: &str, months: u32| {
            let (share, span) = used.retained_fraction(months);
            crate::money::cents_of_fraction(&[d(v), share], &[span]).unwrap()
        };
        // By hand: (1 × 7 + 0.89 × 5) / 12 = 11.45 / 12; 18,750 × 11.45 / 12 = 17,890.625.
        assert_eq!(used.retained_fraction(5), (d("11.45"), d("12")));
        assert_eq!(value("18750", 5), d("17890.62"));
        // (1 × 2 + 0.89 × 10) / 12 = 10.9 / 12; 17,625 × 10.9 / 12 = 16,009.375.
        assert_eq!(value("17625", 10), d("16009.38"));
        // Flat after the last point, and an index ratio in the same fraction: 10,000 × 0.3118 ×
        // 151.5 / 150 = 3,149.18 exactly.
        let (share, span) = used.retained_fraction(200);
        let v =
            crate::money::cents_of_fraction(&[d("10000"), share, d("151.5")], &[span, d("150")]);
        assert_eq!(v, Some(d("3149.18")));
    }
}
