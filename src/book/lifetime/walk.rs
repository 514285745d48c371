//! One account's lifetime walk: its schedule month by month, the survival and default weights, the
//! loss sums and the book's curve, with riders (the stress scenarios) reading each month.

use crate::book::lifetime::model::{
    AccountLifetime, CurveMonth, Discount, LossCurve, NotComputed, ONE,
};
use crate::book::lifetime::rates::{Hazards, Rates};
use crate::book::magic_div::div_even;
use crate::book::runoff::{NotProjected, Projection};
use crate::input::load::Loan;
use rust_decimal::Decimal;

impl Rates {
    /// One account's lifetime figures, adding its months to `curve`; `Err` when it has none. A closed
    /// account has 0 of each. With a `horizon`, the sums stop at that month (`pd` and `loss` are
    /// `pd_H` and `expected_deficiency_H`, and the curve ends there). `rider` reads every month.
    pub fn account(
        &self,
        projection: &Projection,
        (loan, value, band): (&Loan, Option<Decimal>, usize),
        curve: &mut LossCurve,
        horizon: Option<u32>,
        rider: &mut impl Rider,
    ) -> Result<AccountLifetime, NotComputed> {
        let result = self.walk(
            projection,
            (loan, value, band),
            (curve, rider),
            horizon.unwrap_or(u32::MAX),
        );
        if let Err(why) = result {
            curve.count(why);
        }
        result
    }

    /// `account` (to payoff) with the run-off riding the same walk of the schedule
    /// ([`Projection::project_and`]): one walk instead of two. Returns the lifetime figures and the
    /// account's `months_to_positive_equity`, each as the two calls apart would.
    pub fn account_and_runoff(
        &self,
        projection: &Projection,
        (loan, value, band): (&Loan, Option<Decimal>, usize),
        (curve, rider): (&mut LossCurve, &mut impl Rider),
        runoff: &mut crate::book::runoff::Runoff,
    ) -> (Result<AccountLifetime, NotComputed>, u32) {
        if let Some(result) = self.without_walk(loan, value) {
            if let Err(why) = result {
                curve.count(why);
            }
            return (result, projection.project(loan, value, runoff));
        }
        let setting = self.setting(projection, loan, band);
        let mut life = Walk::new(self, curve, rider);
        let (months, walked) =
            projection.project_and(loan, value, runoff, |k, b, v| life.step(k, b, v, &setting));
        let result = life.finish_walk(walked);
        if let Err(why) = result {
            curve.count(why);
        }
        (result, months)
    }

    /// The figures of an account that needs no walk: 0 for one closed, none for amounts out of range.
    fn without_walk(
        &self,
        loan: &Loan,
        value: Option<Decimal>,
    ) -> Option<Result<AccountLifetime, NotComputed>> {
        if loan.balance.is_zero() || loan.balance.is_sign_negative() {
            return Some(Ok(AccountLifetime::default()));
        }
        (!self.fits(loan.balance, value)).then_some(Err(NotComputed::OutOfRange))
    }

    /// What an account's months read: its hazards, age and discount (to `u32::MAX`: no horizon).
    fn setting<'s>(&'s self, projection: &Projection, loan: &Loan, band: usize) -> Setting<'s> {
        let hazards = self.hazards(loan.days_past_due, band);
        let age = loan.origination_date.months_until(projection.as_of());
        Setting {
            hazards,
            sequence: self.sequence(hazards, age),
            age,
            discount: match self.discount {
                Discount::None => None,
                Discount::Apr => loan.apr().and_then(monthly_discount),
            },
            horizon: u32::MAX,
        }
    }

    fn walk<R: Rider>(
        &self,
        projection: &Projection,
        (loan, value, band): (&Loan, Option<Decimal>, usize),
        (curve, rider): (&mut LossCurve, &mut R),
        horizon: u32,
    ) -> Result<AccountLifetime, NotComputed> {
        if let Some(result) = self.without_walk(loan, value) {
            return result;
        }
        let setting = Setting {
            horizon,
            ..self.setting(projection, loan, band)
        };
        let mut life = Walk::new(self, curve, rider);
        let walked = projection.walk_to_end(loan, value, |k, b, v| life.step(k, b, v, &setting));
        life.finish_walk(walked)
    }
}

/// What one account's months read.
struct Setting<'r> {
    hazards: Hazards<'r>,
    sequence: &'r [(u64, u64)],
    age: u32,
    discount: Option<(u128, u128)>,
    horizon: u32,
}

/// One month of an account's walk, as a rider (a stress scenario's walk of the same schedule) reads it.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub t: u32,
    /// The loan's age in months that month.
    pub at: u32,
    /// The scheduled balance the month before (what a default that month loses against) and the
    /// value that month, in cents.
    pub balance_before: u128,
    pub value: u128,
    /// The walk's `S(t−1)·h(t)`.
    pub defaults: u128,
    /// The month's discount factor (10^-18), when the loss is discounted.
    pub factor: Option<u128>,
}

/// What reads an account's walk month by month: whether it still wants months once the walk's own
/// survival is 0.
pub trait Rider {
    fn month(&mut self, step: &Step) -> bool;
}

/// No rider.
impl Rider for () {
    #[inline]
    fn month(&mut self, _: &Step) -> bool {
        false
    }
}

/// `(1200·10^s, 1200·10^s + apr mantissa)`: one month's discount factor `1 / (1 + apr/1200)` as a ratio.
fn monthly_discount(apr: Decimal) -> Option<(u128, u128)> {
    let m = u128::try_from(apr.mantissa()).ok()?;
    let d = 1200u128.checked_mul(10u128.checked_pow(apr.scale())?)?;
    Some((d, d.checked_add(m)?))
}

/// One account's sums while its schedule is walked.
struct Walk<'r, 'c, R> {
    rates: &'r Rates,
    curve: &'c mut LossCurve,
    rider: &'c mut R,
    /// Whether the rider still wants months.
    riding: bool,
    survival: u128,
    factor: u128,
    pd: u128,
    /// Σ S(t−1) h(t) D(t) [× discount], in 10^-18 × 10^-(2+r) dollars.
    loss: u128,
    /// The cumulative expected loss in cents at the month before, and at month 12.
    cents: i128,
    cents_12m: Option<i128>,
    previous_balance: u128,
}

impl<'r, 'c, R: Rider> Walk<'r, 'c, R> {
    fn new(rates: &'r Rates, curve: &'c mut LossCurve, rider: &'c mut R) -> Walk<'r, 'c, R> {
        Walk {
            rates,
            curve,
            rider,
            riding: true,
            survival: ONE,
            factor: ONE,
            pd: 0,
            loss: 0,
            cents: 0,
            cents_12m: None,
            previous_balance: 0,
        }
    }

    /// Month `k` of the schedule (0: the start); whether the walk is still wanted. Once every path
    /// has defaulted or prepaid (S = 0), no later month adds anything, unless the rider's do.
    #[inline]
    fn step(&mut self, k: u32, b: u128, v: u128, s: &Setting<'_>) -> bool {
        if k == 0 {
            self.start(b);
        } else if k <= s.horizon {
            self.month(k, s, b, v);
        }
        k < s.horizon && (self.survival > 0 || self.riding)
    }

    fn start(&mut self, balance: u128) {
        self.previous_balance = balance;
        self.curve.starting_balance += balance as i128;
    }

    /// Month `t`: the account defaults with `S(t−1)·h(t)`, losing `D(t)` of the month's balance
    /// before (`previous_balance`) against the value `v`; it survives into month t with `S(t)`.
    #[inline]
    fn month(&mut self, t: u32, s: &Setting<'_>, balance: u128, value: u128) {
        let r = self.rates;
        let at = s.age.saturating_add(t);
        let defaults = r.defaults_in((s.sequence, s.hazards), t, at, &mut self.survival);
        let factor = s.discount.map(|(num, den)| {
            self.factor = div_even(self.factor * num, den);
            self.factor
        });
        self.pd += defaults;
        let added = r.loss_term(defaults, factor, self.previous_balance, value);
        self.riding = self.rider.month(&Step {
            t,
            at,
            balance_before: self.previous_balance,
            value,
            defaults,
            factor,
        });
        let i = t as usize - 1;
        if self.curve.months.len() <= i {
            self.curve.months.resize(i + 1, CurveMonth::default());
        }
        let month = &mut self.curve.months[i];
        month.defaults += defaults;
        month.surviving_balance += self.survival * balance;
        // Nothing lost this month (the car covers the balance, or no chance of default): the
        // cumulative and its cents stay, and the division is skipped.
        if added != 0 {
            self.loss += added;
            let cents = r.cent.even(self.loss) as i128;
            month.loss += cents - self.cents;
            self.cents = cents;
        }
        if t == 12 {
            self.cents_12m = Some(self.cents);
        }
        self.previous_balance = balance;
    }

    /// The account's figures once its schedule was walked: 0 for a closed account, none for one
    /// without a schedule.
    fn finish_walk(self, walked: Result<(), NotProjected>) -> Result<AccountLifetime, NotComputed> {
        match walked {
            Err(NotProjected::Closed) => Ok(AccountLifetime::default()),
            Err(why) => Err(NotComputed::NotProjected(why)),
            Ok(()) => Ok(self.finish()),
        }
    }

    fn finish(self) -> AccountLifetime {
        AccountLifetime {
            pd: self.pd.min(ONE) as u64,
            loss: self.cents as i64,
            loss_12m: self.cents_12m.unwrap_or(self.cents) as i64,
        }
    }
}
