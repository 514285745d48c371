//! Estimated current values for loans that have no valuation: a depreciation curve applied to the
//! value at origination.
//!
//! Loan tapes (SEC Reg AB II) carry the vehicle's value at origination but no VIN and no current value,
//! so no appraisal can be matched. The estimate is
//!
//! `value = cents(origination_value × retained(age) [× index(as_of) / index(origination month)])`
//!
//! where `age` is whole months from origination to as_of and `retained` interpolates linearly between
//! the points of the new- or used-vehicle curve (flat after the last point). The fraction is exact
//! decimal arithmetic and the value is rounded to cents once, so the value written in accounts.csv is
//! the value every figure was computed from. Estimated accounts carry `value_source = estimated` and are
//! counted apart in every summary, so no one mistakes them for appraisals.

use crate::book::matching::{Matched, Valuation};
use crate::date::Date;
use crate::input::load::{Loan, NewUsed};
use crate::money::cents;
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
    // Origination values have at most 12 integer digits and curve shares are at most 2, so this cannot
    // overflow; index levels are bounded when the config is read, and checked here all the same.
    let mut value = origination_value * curve.retained(loan.origination_date.months_until(as_of));
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
        value = value
            .checked_mul(now)
            .and_then(|v| v.checked_div(*then))
            .ok_or(NoEstimate::RoundsToZero)?;
    }
    let value = cents(value);
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
}
