//! The lifetime model as the config gives it, and what it yields: per account and the book's curve.

use crate::book::runoff::NotProjected;
use rust_decimal::Decimal;

/// A probability of 1 in the model's unit (10^-18).
pub const ONE: u128 = 1_000_000_000_000_000_000;

/// The lifetime model as the config gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Lifetime {
    /// `(first age in months, monthly hazard)`, from age 0, ages strictly increasing.
    pub hazard_by_age: Vec<(u32, Decimal)>,
    /// `(first day past due, monthly hazards for months 1, 2, … after as_of)`: an account at least
    /// that many days past due (the largest such entry) takes this list.
    pub delinquent: Vec<(u32, Vec<Decimal>)>,
    /// Per LTV band of the model's `ltv_bands` (the account's band at as_of), the factor its
    /// `hazard_by_age` is multiplied by; empty: 1 for every band. Not applied to the delinquent
    /// lists, which are their class's own risk.
    pub hazard_factor_by_ltv_band: Vec<Decimal>,
    /// The ABS prepayment speed, a share of the original number of loans a month (0.013 = 1.3%).
    pub abs_speed: Decimal,
    pub discount: Discount,
}

impl Lifetime {
    /// The model with every hazard (by age and in the delinquent lists) times `multiplier`: a stress
    /// scenario's `pd_multiplier`. A product above 1 is taken as 1 when the rates are built.
    pub fn hazards_times(&self, multiplier: Decimal) -> Lifetime {
        let times = |h: Decimal| h.checked_mul(multiplier).unwrap_or(Decimal::ONE);
        Lifetime {
            hazard_by_age: self
                .hazard_by_age
                .iter()
                .map(|&(a, h)| (a, times(h)))
                .collect(),
            delinquent: self
                .delinquent
                .iter()
                .map(|(d, list)| (*d, list.iter().map(|&h| times(h)).collect()))
                .collect(),
            ..self.clone()
        }
    }
}

/// Whether the lifetime loss is discounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discount {
    /// Undiscounted: the figure a loss history (and the backtest) measures.
    None,
    /// At the loan's own APR, month by month (ASC 326-20-30-4's discounted cash flow).
    Apr,
}

impl Discount {
    pub fn label(self) -> &'static str {
        match self {
            Discount::None => "none",
            Discount::Apr => "apr",
        }
    }
}

/// The per-account columns: the lifetime pd (10^-18 units) and the two expected losses in cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountLifetime {
    pub pd: u64,
    pub loss: i64,
    pub loss_12m: i64,
}

impl AccountLifetime {
    /// An account without lifetime figures (its columns are empty).
    pub const NONE: AccountLifetime = AccountLifetime {
        pd: u64::MAX,
        loss: 0,
        loss_12m: 0,
    };

    /// The lifetime pd as a decimal of 18 places.
    pub fn pd_decimal(self) -> Decimal {
        Decimal::from_i128_with_scale(i128::from(self.pd), 18)
    }

    /// The figures, unless the account has none.
    pub fn get(self) -> Option<AccountLifetime> {
        (self.pd != u64::MAX).then_some(self)
    }
}

/// Why an account has no lifetime figures (its columns are empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotComputed {
    /// No run-off schedule: no value, no APR, a payment below the interest, a curve at 0.
    NotProjected(NotProjected),
    /// An amount too large for the exact integer sums (beyond about $700 billion).
    OutOfRange,
}

impl NotComputed {
    /// The reason's place in [`NOT_COMPUTED`]; none for a closed account, which has figures (0).
    pub(crate) fn index(self) -> Option<usize> {
        match self {
            NotComputed::NotProjected(NotProjected::Closed) => None,
            NotComputed::NotProjected(NotProjected::NoValue) => Some(0),
            NotComputed::NotProjected(NotProjected::NoApr) => Some(1),
            NotComputed::NotProjected(NotProjected::PaymentBelowInterest) => Some(2),
            NotComputed::NotProjected(NotProjected::CurveAtZero) => Some(3),
            NotComputed::OutOfRange => Some(4),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            NotComputed::NotProjected(why) => why.label(),
            NotComputed::OutOfRange => "out_of_range",
        }
    }
}

/// The reasons [`NotComputed`] can give, in summary.json's order.
pub const NOT_COMPUTED: [&str; 5] = [
    "no_value",
    "no_apr",
    "payment_below_interest",
    "curve_at_zero",
    "out_of_range",
];

/// One month of the book's loss curve: sums over the accounts still scheduled that month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CurveMonth {
    /// Σ S(t−1) h(t), in 10^-18 accounts.
    pub defaults: u128,
    /// Σ over accounts of the month's step in the account's cumulative expected loss (each account's
    /// cumulative rounded to cents every month), so the curve's cumulative sums are the accounts'.
    pub loss: i128,
    /// Σ S(t) B(t), in 10^-18 cents.
    pub surviving_balance: u128,
}

/// The book's lifetime figures: the loss curve and the accounts without figures, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LossCurve {
    /// Months 1, 2, … (index 0 is month 1).
    pub months: Vec<CurveMonth>,
    /// Per [`NOT_COMPUTED`] reason.
    pub not_computed: [u64; 5],
    /// Σ S(0) B(0): the open balance the curve starts from, in cents.
    pub starting_balance: i128,
}

impl LossCurve {
    pub fn merge(&mut self, o: &LossCurve) {
        let LossCurve {
            months,
            not_computed,
            starting_balance,
        } = o;
        if self.months.len() < months.len() {
            self.months.resize(months.len(), CurveMonth::default());
        }
        for (a, b) in self.months.iter_mut().zip(months) {
            a.defaults += b.defaults;
            a.loss += b.loss;
            a.surviving_balance += b.surviving_balance;
        }
        for (a, b) in self.not_computed.iter_mut().zip(not_computed) {
            *a += b;
        }
        self.starting_balance += starting_balance;
    }

    /// The cumulative expected loss to month `months` (all of it for `usize::MAX`), in cents: the sum
    /// of the accounts' figures to that month, since each account's cumulative is rounded to cents
    /// month by month.
    pub fn loss_to(&self, months: usize) -> i128 {
        self.months.iter().take(months).map(|m| m.loss).sum()
    }

    pub(crate) fn count(&mut self, why: NotComputed) {
        if let Some(i) = why.index() {
            self.not_computed[i] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each counted reason sits at its label's place in NOT_COMPUTED.
    #[test]
    fn every_reason_is_counted_under_its_own_label() {
        let reasons = NotProjected::ALL
            .map(NotComputed::NotProjected)
            .into_iter()
            .chain([NotComputed::OutOfRange]);
        for why in reasons {
            match why.index() {
                Some(i) => assert_eq!(NOT_COMPUTED[i], why.label()),
                None => assert_eq!(why.label(), "closed"),
            }
        }
    }
}
