//! What every part of the accounts frame shares, fixed over the whole book before any part is built:
//! the pd column's scale, the money columns' precision (narrow where the book's amounts allow) and the
//! loan columns' types.

use super::columns::{InferredType, NARROW, WIDE};
use super::parts::parts;
use crate::book::Book;
use crate::input::load::Loan;
use polars::prelude::*;
use rayon::prelude::*;
use rust_decimal::Decimal;

/// What every part of the accounts frame shares, settled over the whole book first: the pd column's
/// scale, the money columns' precision and the loan columns' types.
pub(crate) struct Settled {
    pub(super) pd_scale: u32,
    /// Of the columns in cents, and of pd (at most 1, so narrow in a file up to 12 places).
    pub(super) money_precision: usize,
    pub(super) pd_precision: usize,
    /// Of the LTV and origination LTV columns (4 places).
    pub(super) ltv_precision: usize,
    pub(super) origination_ltv_precision: usize,
    /// Decimal loan columns narrow where their values allow (the file), or all wide (query's tables).
    pub(super) narrow: bool,
    /// Each loan column's type, in the layout's order.
    pub(super) tail: Vec<InferredType>,
}

impl Settled {
    /// `narrow`: money as [`NARROW`] decimals where every amount of the book fits (for the file);
    /// else every decimal is [`WIDE`] (query's tables).
    pub(crate) fn of(book: &Book, narrow: bool) -> PolarsResult<Settled> {
        // One pass over the loans as they lie in memory (none of this depends on the order) sees
        // every loan column's values, since a column's type depends on all of them, and the sizes of
        // the amounts the money and ratio columns are bounded by.
        let width = book.loaded.layout.tail_names.len();
        let loans = parts(0..book.loaded.loans.len())
            .map(|range| {
                let mut seen = LoansSeen::new(width);
                book.loaded.loans[range]
                    .iter()
                    .for_each(|loan| seen.see(loan, book));
                seen
            })
            .reduce(|| LoansSeen::new(width), LoansSeen::merge);
        let values = |values: &[Option<crate::input::valuations::Valuation>]| {
            values
                .par_iter()
                .fold(Extent::default, |mut e, v| {
                    if let Some(v) = v {
                        e.see(v.value);
                    }
                    e
                })
                .reduce(Extent::default, Extent::merge)
        };
        let value = values(&book.valuations).merge(values(&book.estimates));
        // Every money column is bounded by the balance or the value: equity by either, negative
        // equity, deficiency and expected deficiency by the balance, net recovery by the value (the
        // recovery rate is at most 1). Both below $10^15 leave every one of them within 18 digits.
        // (Only looked at for the file: query's tables are wide whatever the amounts.)
        let money_fits = loans.balance.below(15) && value.below(15);
        // An LTV is at most the largest amount over the smallest value; below 10^13, 4 places and
        // the rounding of the last one fit 18 digits.
        let ltv_fits = quotients_below(loans.balance, value, 13);
        let origination_ltv_fits = quotients_below(loans.financed, loans.origination_value, 13);
        let precision = |fits: bool| if narrow && fits { NARROW } else { WIDE };
        let pd_scale = loans.pd_scale.unwrap_or(2);
        Ok(Settled {
            pd_scale,
            money_precision: precision(money_fits),
            pd_precision: precision(pd_scale <= 12),
            ltv_precision: precision(ltv_fits),
            origination_ltv_precision: precision(origination_ltv_fits),
            narrow,
            tail: loans.types,
        })
    }
}

/// What [`Settled::of`] gathers from a part of the loans.
struct LoansSeen {
    /// Of each loan column, in the layout's order.
    types: Vec<InferredType>,
    balance: Extent,
    financed: Extent,
    origination_value: Extent,
    /// The largest scale of the accounts' pds: the pd column's one scale.
    pd_scale: Option<u32>,
}

impl LoansSeen {
    fn new(width: usize) -> LoansSeen {
        LoansSeen {
            types: vec![InferredType::ANY; width],
            balance: Extent::default(),
            financed: Extent::default(),
            origination_value: Extent::default(),
            pd_scale: None,
        }
    }

    fn see(&mut self, loan: &Loan, book: &Book) {
        if let Some(fields) = loan.tail().strip_prefix(',') {
            // The fields as the gather pass will read them (which checks their count).
            let mut types = self.types.iter_mut();
            crate::csvfmt::for_each_field(fields, |field| {
                if let Some(inferred) = types.next() {
                    if !field.is_empty() {
                        inferred.see(crate::csvfmt::unneutralize(field));
                    }
                }
            });
        }
        self.balance.see(loan.balance);
        self.financed.see(loan.amount_financed);
        if let Some(v) = loan.origination_value() {
            self.origination_value.see(v);
        }
        let pd = book.model.pd_for(loan.days_past_due).scale();
        self.pd_scale = Some(self.pd_scale.map_or(pd, |s| s.max(pd)));
    }

    fn merge(self, other: LoansSeen) -> LoansSeen {
        LoansSeen {
            types: self
                .types
                .into_iter()
                .zip(other.types)
                .map(|(a, b)| a.merge(b))
                .collect(),
            balance: self.balance.merge(other.balance),
            financed: self.financed.merge(other.financed),
            origination_value: self.origination_value.merge(other.origination_value),
            pd_scale: self.pd_scale.max(other.pd_scale),
        }
    }
}

/// Powers of ten bounding some amounts, from their digits alone (comparing the decimals themselves
/// was a tenth of settling the columns): every amount seen is below 10^upper in size, and every
/// nonzero one at least 10^lower.
#[derive(Clone, Copy, Debug, Default)]
struct Extent {
    upper: Option<i32>,
    lower: Option<i32>,
}

impl Extent {
    fn see(&mut self, amount: Decimal) {
        let units = amount.mantissa().unsigned_abs();
        if units == 0 {
            return;
        }
        // units has `digits` digits: 10^(digits-1) <= units < 10^digits, in units of 10^-scale.
        let digits = units.ilog10() as i32 + 1;
        let (upper, lower) = (
            digits - amount.scale() as i32,
            digits - 1 - amount.scale() as i32,
        );
        self.upper = Some(self.upper.map_or(upper, |u| u.max(upper)));
        self.lower = Some(self.lower.map_or(lower, |l| l.min(lower)));
    }

    fn merge(self, other: Extent) -> Extent {
        let pick = |a: Option<i32>, b: Option<i32>, f: fn(i32, i32) -> i32| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        Extent {
            upper: pick(self.upper, other.upper, i32::max),
            lower: pick(self.lower, other.lower, i32::min),
        }
    }

    /// Whether every amount seen is below 10^e in size.
    fn below(self, e: i32) -> bool {
        self.upper.is_none_or(|u| u <= e)
    }
}

/// Whether every quotient of an amount of `numerators` by a nonzero one of `denominators` is below
/// 10^e in size.
fn quotients_below(numerators: Extent, denominators: Extent, e: i32) -> bool {
    match (numerators.upper, denominators.lower) {
        (Some(upper), Some(lower)) => upper - lower <= e,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_bound_amounts_by_their_digits() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let of = |amounts: &[&str]| {
            let mut e = Extent::default();
            amounts.iter().for_each(|a| e.see(d(a)));
            e
        };
        // The largest amount below $10^15, and 10^15 itself (also written with more places).
        assert!(of(&["999999999999999.99", "-5"]).below(15));
        assert!(!of(&["1000000000000000"]).below(15));
        assert!(!of(&["1000000000000000.000"]).below(15));
        assert!(!of(&["-1000000000000000"]).below(15));
        // Trailing zeros at a larger scale do not count: 5.000 is below 10.
        assert_eq!(of(&["5.000"]).upper, Some(1));
        // Zero is no size; nothing seen bounds nothing.
        assert_eq!((of(&["0", "0.00"]).upper, of(&["0"]).lower), (None, None));
        assert!(Extent::default().below(-100));
        // 0.01 is at least 10^-2; 150 at least 10^2 and below 10^3.
        let values = of(&["150", "0.01"]);
        assert_eq!((values.upper, values.lower), (Some(3), Some(-2)));
        // $999,999,999,999 over 1 cent is about 10^14, past 10^13; over $150 it is not.
        let balance = of(&["999999999999"]);
        assert!(!quotients_below(balance, values, 13));
        assert!(quotients_below(balance, of(&["150"]), 13));
        assert!(quotients_below(balance, Extent::default(), 13));
        // Parts merged see what the whole does.
        let merged = of(&["150"]).merge(of(&["0.01"])).merge(Extent::default());
        assert_eq!((merged.upper, merged.lower), (values.upper, values.lower));
    }
}
