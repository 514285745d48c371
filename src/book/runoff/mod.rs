//! Negative-equity run-off: when does each account come back above water, and how does the book's
//! negative equity fall month by month from as_of.
//!
//! For an open account with a value and a rate, month k = 1, 2, … from as_of:
//!
//! - interest `I = cents(B[k-1] × apr / 1200)`, `B[k] = max(B[k-1] + I − P, 0)`, from `B[0]` = the balance
//!   as accounts.csv shows it; `P` is `monthly_payment` when given, else the level payment of
//!   `amount_financed` over `term_months` at `apr`, both rounded to cents;
//! - value `V[k] = cents(V[0] × retained(e + k) / retained(e))`, `e` the whole months from origination to
//!   as_of, `retained` the `[estimate]` curve of the car (new, used; unknown uses new) — rounded once from
//!   `V[0]`, never month over month;
//! - `months_to_positive_equity` = the smallest k ≥ 0 with `B[k] ≤ V[k]`.
//!
//! Every rounding is half to even from the exact quotient: balances, values and interest are integers
//! of cents and the curve is a ratio of integers, so the month-by-month arithmetic is integer
//! arithmetic (exact, and about ten times cheaper per step than decimal, which is what lets the run-off
//! ride in the same pass as the base figures). Only the level payment is computed in decimal: it
//! involves `(1 + r)^n`, is computed once per account, and is rounded to cents from 28 significant digits.

use crate::book::estimate::{Curve, Estimate};
use crate::date::Date;
use crate::input::load::{Loan, NewUsed};
use crate::money::{cents, rounds_up_half_even};
use rust_decimal::Decimal;

mod above_water;
pub(crate) mod fast_div;
mod payment;
pub use crate::date::month_date;
pub use above_water::{back_above_water, BackAboveWater, NO_MONTHS};
use fast_div::FastDiv;
pub use payment::level_payment;

/// An account is not projected (its `months_to_positive_equity` is empty) for one of these reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NotProjected {
    /// Balance $0.00: nothing left to run off.
    Closed,
    NoValue,
    NoApr,
    /// The payment does not cover the first month's interest: the balance never falls.
    PaymentBelowInterest,
    /// The car's curve is at 0 at its age today: no later value can be scaled from it.
    CurveAtZero,
}

impl NotProjected {
    pub const ALL: [NotProjected; 5] = [
        NotProjected::Closed,
        NotProjected::NoValue,
        NotProjected::NoApr,
        NotProjected::PaymentBelowInterest,
        NotProjected::CurveAtZero,
    ];

    /// The reason as summary.json and the terminal name it.
    pub fn label(self) -> &'static str {
        match self {
            NotProjected::Closed => "closed",
            NotProjected::NoValue => "no_value",
            NotProjected::NoApr => "no_apr",
            NotProjected::PaymentBelowInterest => "payment_below_interest",
            NotProjected::CurveAtZero => "curve_at_zero",
        }
    }
}

/// A projection that never reaches positive equity within this many months (100 years) stops there
/// and leaves `months_to_positive_equity` empty. A payment one cent above the interest on a large
/// balance would otherwise run for millions of months; no car loan runs a tenth as long.
pub const MAX_PROJECTION_MONTHS: u32 = 1200;

/// The largest configurable `runoff_months`.
pub const MAX_RUNOFF_MONTHS: u32 = 600;

crate::sums::summable! {
    /// One month of the run-off table: totals over the projected accounts.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub struct MonthTally {
        /// Accounts with a balance above 0 this month.
        pub open_accounts: u64,
        /// Cents.
        pub balance: i128,
        /// Cents, over open accounts: a paid-off car is no longer the lender's collateral.
        pub value: i128,
        pub underwater_accounts: u64,
        /// Cents.
        pub negative_equity: i128,
    }
}

impl MonthTally {
    fn add(&mut self, balance: u128, value: u128) {
        if balance == 0 {
            return;
        }
        self.open_accounts += 1;
        self.balance += balance as i128;
        self.value += value as i128;
        if balance > value {
            self.underwater_accounts += 1;
            self.negative_equity += (balance - value) as i128;
        }
    }
}

/// The run-off of a group of accounts: the month table and the accounts left out, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Runoff {
    /// Months 0 ..= `runoff_months`.
    pub months: Vec<MonthTally>,
    /// Per [`NotProjected::ALL`] reason: how many accounts, and their figures as of tonight (month 0).
    pub not_projected: Vec<(u64, MonthTally)>,
    /// Projected accounts still underwater after [`MAX_PROJECTION_MONTHS`].
    pub beyond_projection: u64,
}

impl Runoff {
    pub fn new(months: u32) -> Runoff {
        Runoff {
            months: vec![MonthTally::default(); months as usize + 1],
            not_projected: vec![(0, MonthTally::default()); NotProjected::ALL.len()],
            beyond_projection: 0,
        }
    }

    /// Destructured, so a field added and not merged here does not compile.
    pub fn merge(&mut self, o: &Runoff) {
        let Runoff {
            months,
            not_projected,
            beyond_projection,
        } = o;
        for (a, b) in self.months.iter_mut().zip(months) {
            a.merge(b);
        }
        for (a, b) in self.not_projected.iter_mut().zip(not_projected) {
            a.0 += b.0;
            a.1.merge(&b.1);
        }
        self.beyond_projection += beyond_projection;
    }

    /// Adds an account that is not projected: its figures of tonight, so month 0 and these reconcile
    /// to the book's totals. Closed accounts count in `accounts` but have no balance.
    fn add_not_projected(&mut self, why: NotProjected, balance: u128, value: Option<u128>) {
        let (accounts, t) = &mut self.not_projected[why as usize];
        *accounts += 1;
        match value {
            Some(v) if balance > 0 => t.add(balance, v),
            _ => {
                t.open_accounts += u64::from(balance > 0);
                t.balance += balance as i128;
                if let Some(v) = value {
                    t.value += v as i128;
                }
            }
        }
    }
}

/// A retained-value curve as exact fractions: `retained(m) = num / den` with integer num and den.
#[derive(Clone, Debug)]
struct ExactCurve {
    /// (month, share × 10^6) — config shares have at most 6 decimals.
    points: Vec<(u32, u128)>,
    /// `retained(m)` for m = 0 ..= the last point's month, when that is at most [`TABLE_MONTHS`]: a
    /// lookup instead of a search, in the loop that runs once per account and month.
    table: Vec<(u64, u64)>,
    /// The same table over one common denominator (`10^6 × lcm of the spans`), then the flat share after
    /// the last point: `retained(m) = common[min(m, last)] / den`. A ratio of two months is then a ratio of
    /// two integers, which is what the run-off's fast path divides. None when the spans' lcm is large.
    common: Option<Vec<i64>>,
    /// The largest of `common`: bounds `value × share` for the fast path's overflow check.
    common_max: i64,
    /// `common[m] − common[m − 1]` for m = 1 ..= the last point's month, 0 at month 0 and after the last
    /// point: constant within each segment of the curve (it is linear there), so a value can follow
    /// the curve by additions (see [`Projection::walk_fast`]).
    steps: Vec<i64>,
}

const SHARE_SCALE: u128 = 1_000_000;
/// Curves whose last point is at most this many months get a lookup table (the defaults end at 120).
const TABLE_MONTHS: u32 = 4096;

impl ExactCurve {
    fn new(curve: &Curve) -> ExactCurve {
        let points: Vec<(u32, u128)> = curve
            .0
            .iter()
            .map(|&(m, f)| {
                let mut f = f;
                f.rescale(6);
                // Shares are 0..=2 with at most 6 decimals (checked when the config is read).
                (m, u128::try_from(f.mantissa()).unwrap_or(0))
            })
            .collect();
        let mut exact = ExactCurve {
            points,
            table: Vec::new(),
            common: None,
            common_max: 0,
            steps: Vec::new(),
        };
        let last = exact.points.last().map_or(0, |p| p.0);
        if last <= TABLE_MONTHS {
            // num ≤ 2·10^6 × 4096 and den ≤ 10^6 × 4096: both fit u64.
            exact.table = (0..=last)
                .map(|m| {
                    let (n, d) = exact.search(m);
                    (n as u64, d as u64)
                })
                .collect();
            let gcd = |mut a: u64, mut b: u64| {
                while b != 0 {
                    (a, b) = (b, a % b);
                }
                a
            };
            let lcm = exact
                .points
                .windows(2)
                .map(|w| u64::from(w[1].0 - w[0].0))
                .try_fold(1u64, |l, span| {
                    let l = l / gcd(l, span) * span;
                    (l <= 10_000).then_some(l)
                });
            if let Some(lcm) = lcm {
                let den = SHARE_SCALE as u64 * lcm;
                let common: Vec<i64> = exact
                    .table
                    .iter()
                    .map(|&(n, d)| (n * (den / d)) as i64)
                    .collect();
                exact.common_max = common.iter().copied().max().unwrap_or(0);
                exact.steps = std::iter::once(0)
                    .chain(common.windows(2).map(|w| w[1] - w[0]))
                    .chain(std::iter::once(0))
                    .collect();
                exact.common = Some(common);
            }
        }
        exact
    }

    /// `retained(months)` as `(num, den)`: linear between points, flat after the last. The same
    /// interpolation as [`Curve::retained`], without rounding.
    fn retained(&self, months: u32) -> (u128, u128) {
        match self.table.get(months as usize) {
            Some(&(n, d)) => (u128::from(n), u128::from(d)),
            None => self.search(months),
        }
    }

    fn search(&self, months: u32) -> (u128, u128) {
        let p = &self.points;
        let after = p.partition_point(|(m, _)| *m <= months);
        match (after.checked_sub(1).map(|i| p[i]), p.get(after)) {
            (Some((m0, f0)), Some(&(m1, f1))) => {
                let span = u128::from(m1 - m0);
                let into = u128::from(months - m0);
                (f0 * (span - into) + f1 * into, SHARE_SCALE * span)
            }
            (Some((_, f)), None) => (f, SHARE_SCALE),
            (None, _) => (SHARE_SCALE, SHARE_SCALE),
        }
    }
}

/// `n / d` rounded half to even (`d > 0`); u64 arithmetic when both fit, which is most of the time.
fn div_half_even(n: u128, d: u128) -> u128 {
    match (u64::try_from(n), u64::try_from(d)) {
        (Ok(n), Ok(d)) => u128::from(div_half_even_u64(n, d)),
        _ => {
            let (q, r) = (n / d, n % d);
            q + u128::from(rounds_up_half_even(q % 2 == 1, r, d - r))
        }
    }
}

#[inline]
fn div_half_even_u64(n: u64, d: u64) -> u64 {
    let (q, r) = (n / d, n % d);
    q + u64::from(rounds_up_half_even(q % 2 == 1, r, d - r))
}

/// A non-negative cents amount as an integer of cents.
fn cents_int(d: Decimal) -> Option<u128> {
    u128::try_from(cents(d).mantissa()).ok()
}

/// How the book is projected: the horizon and the curves.
pub struct Projection {
    /// Months in the run-off table (`runoff_months`).
    pub months: u32,
    new: ExactCurve,
    used: ExactCurve,
    as_of: Date,
}

/// One account's schedule, for tests and the per-account column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// (balance, value) in cents for months 0 ..= the last month computed.
    pub months: Vec<(u128, u128)>,
    /// `months_to_positive_equity`, None when still underwater after [`MAX_PROJECTION_MONTHS`].
    pub months_to_positive_equity: Option<u32>,
}

impl Projection {
    pub fn new(months: u32, estimate: &Estimate, as_of: Date) -> Projection {
        Projection {
            months,
            new: ExactCurve::new(&estimate.new),
            used: ExactCurve::new(&estimate.used),
            as_of,
        }
    }

    /// Projects one account (`value`: its value in cents, if any), adding it to `runoff`; returns its
    /// `months_to_positive_equity` or [`NO_MONTHS`].
    pub fn project(&self, loan: &Loan, value: Option<Decimal>, runoff: &mut Runoff) -> u32 {
        let balance = cents_int(loan.balance).unwrap_or(0);
        let value_cents = value.and_then(cents_int).filter(|&v| v > 0);
        let mut found = NO_MONTHS;
        match self.walk(loan, balance, value_cents, self.months, |k, b, v| {
            if let Some(month) = runoff.months.get_mut(k as usize) {
                month.add(b, v);
            }
            true
        }) {
            Ok(Some(k)) => found = k,
            Ok(None) => runoff.beyond_projection += 1,
            Err(why) => runoff.add_not_projected(why, balance, value_cents),
        }
        found
    }

    /// [`Projection::project`] with another reader of the same schedule: `also(k, balance, value)` is
    /// called for k = 0, 1, … until it returns false, and the walk goes on while either needs it.
    /// Returns the account's `months_to_positive_equity` (as `project`) and why it has no schedule.
    pub fn project_and(
        &self,
        loan: &Loan,
        value: Option<Decimal>,
        runoff: &mut Runoff,
        mut also: impl FnMut(u32, u128, u128) -> bool,
    ) -> (u32, Result<(), NotProjected>) {
        let balance = cents_int(loan.balance).unwrap_or(0);
        let value_cents = value.and_then(cents_int).filter(|&v| v > 0);
        let (months, mut also_on, mut above) = (self.months, true, false);
        let walked = self.walk(
            loan,
            balance,
            value_cents,
            MAX_PROJECTION_MONTHS,
            |k, b, v| {
                if let Some(month) = runoff.months.get_mut(k as usize) {
                    month.add(b, v);
                }
                above |= b <= v;
                if also_on {
                    also_on = also(k, b, v);
                }
                also_on || k < months || !above
            },
        );
        let found = match walked {
            Ok(Some(k)) => k,
            Ok(None) => {
                runoff.beyond_projection += 1;
                NO_MONTHS
            }
            Err(why) => {
                runoff.add_not_projected(why, balance, value_cents);
                NO_MONTHS
            }
        };
        (found, walked.map(|_| ()))
    }

    /// Walks one account's schedule until it pays off (at most [`MAX_PROJECTION_MONTHS`]), calling
    /// `month(k, balance, value)` for k = 0, 1, … in cents (the lifetime loss's months) until it
    /// returns false.
    pub fn walk_to_end(
        &self,
        loan: &Loan,
        value: Option<Decimal>,
        month: impl FnMut(u32, u128, u128) -> bool,
    ) -> Result<(), NotProjected> {
        let balance = cents_int(loan.balance).unwrap_or(0);
        let value_cents = value.and_then(cents_int).filter(|&v| v > 0);
        self.walk(loan, balance, value_cents, MAX_PROJECTION_MONTHS, month)
            .map(|_| ())
    }

    /// The car's value in cents in month `k` of `loan`'s schedule (`value`: at as_of), as the walk
    /// has it. None without a value or when the curve is at 0 at the loan's age.
    pub fn value_in_month(&self, loan: &Loan, value: Decimal, k: u32) -> Option<u128> {
        let age = loan.origination_date.months_until(self.as_of);
        self.value_along(loan.new_used, age, value, k)
    }

    /// [`Projection::value_in_month`] of a loan of `age` months at as_of: along the curve of its
    /// new/used class.
    pub fn value_along(
        &self,
        new_used: Option<NewUsed>,
        age: u32,
        value: Decimal,
        k: u32,
    ) -> Option<u128> {
        let v0 = cents_int(value).filter(|&v| v > 0)?;
        let curve = self.curve_of(new_used);
        let now = curve.retained(age);
        (now.0 != 0).then(|| {
            ValuePath {
                curve,
                age,
                v0,
                now,
            }
            .at(k)
        })
    }

    /// The value curve of a new/used class (a car of unknown class follows the new one).
    fn curve_of(&self, new_used: Option<NewUsed>) -> &ExactCurve {
        match new_used {
            Some(NewUsed::Used) => &self.used,
            _ => &self.new,
        }
    }

    /// The date the schedules start from.
    pub fn as_of(&self) -> Date {
        self.as_of
    }

    /// One account's whole schedule up to the month it is above water (or the table's end, whichever
    /// is later), or why it is not projected.
    pub fn schedule(&self, loan: &Loan, value: Option<Decimal>) -> Result<Schedule, NotProjected> {
        let balance = cents_int(loan.balance).unwrap_or(0);
        let value_cents = value.and_then(cents_int).filter(|&v| v > 0);
        let mut months = Vec::new();
        let found = self.walk(loan, balance, value_cents, self.months, |_, b, v| {
            months.push((b, v));
            true
        })?;
        Ok(Schedule {
            months,
            months_to_positive_equity: found,
        })
    }

    /// The schedule of [`Projection::walk`] in 64-bit integers, for the amounts every real loan has
    /// (balance and payment below $10 billion, a value below $2 million, a rate with at most 6 digits);
    /// None when the account needs the wide path. Same rules, same results: it is the common case made
    /// fast (measured in docs/perf-log.md).
    fn walk_fast(
        &self,
        curve: &ExactCurve,
        start: Start,
        terms: &Terms,
        months: u32,
        month: &mut impl FnMut(u32, u128, u128) -> bool,
    ) -> Option<Option<u32>> {
        let Start {
            age,
            balance,
            value: v0,
        } = start;
        let (apr_m, apr_div, payment) = (terms.apr_m, terms.apr_div, terms.payment);
        const AMOUNT: u128 = 1 << 40;
        let common = curve.common.as_ref()?;
        let last = common.len() - 1;
        let max_share = curve.common_max;
        let fits = balance < AMOUNT
            && payment < AMOUNT
            && apr_m < (1 << 21)
            && apr_div < (1 << 40)
            && v0.checked_mul(max_share as u128)? < (1 << 62);
        if !fits {
            return None;
        }
        let share = |m: u32| common[(m as usize).min(last)];
        let now = share(age);
        let (b0, v0, m, p) = (balance as i64, v0 as i64, apr_m as i64, payment as i64);
        let rate = FastDiv::new(apr_div as i64);
        // The value of month k is `v0 · share(age + k) / now`, rounded. Its numerator grows by
        // `v0 · steps[age + k]` a month, a constant within each segment of the curve, so its quotient
        // and remainder by `now` are kept up to date by additions, with a division only where a
        // segment starts (every 12 months on the default curves), not one every month.
        let steps = &curve.steps;
        let (mut q, mut r) = (v0, 0i64);
        let (mut step, mut step_q, mut step_r) = (0i64, 0i64, 0i64);
        let mut b = b0;
        // Month 0 always goes on: only a later month can end the walk.
        let _ = month(0, b as u128, v0 as u128);
        let mut found = (b <= v0).then_some(0);
        let mut k = 0;
        while b > 0 && (k < months || found.is_none()) {
            if k == MAX_PROJECTION_MONTHS {
                return Some(None);
            }
            k += 1;
            b = (b + rate.half_even(b * m) - p).max(0);
            let s = steps[(age.saturating_add(k) as usize).min(last + 1)];
            if s != step {
                // |v0 · s| <= v0 · common_max < 2^62 (checked above).
                (step, step_q, step_r) = (s, (v0 * s).div_euclid(now), (v0 * s).rem_euclid(now));
            }
            q += step_q;
            r += step_r;
            // 0 <= r < 2·now here: one carry at most, taken without a branch (a coin toss).
            let carry = r >= now;
            r -= if carry { now } else { 0 };
            q += i64::from(carry);
            let v = q + i64::from(rounds_up_half_even(q & 1 == 1, r, now - r));
            if found.is_none() && b <= v {
                found = Some(k);
            }
            if !month(k, b as u128, v as u128) {
                break;
            }
        }
        Some(found)
    }

    /// Walks the schedule, calling `month(k, balance, value)` for k = 0, 1, … while the account is open
    /// and k is within the table or the account is still underwater. Returns the first month above water.
    fn walk(
        &self,
        loan: &Loan,
        balance: u128,
        value: Option<u128>,
        months: u32,
        mut month: impl FnMut(u32, u128, u128) -> bool,
    ) -> Result<Option<u32>, NotProjected> {
        if balance == 0 {
            return Err(NotProjected::Closed);
        }
        let v0 = value.ok_or(NotProjected::NoValue)?;
        let terms = Terms::of(loan)?;
        if terms.payment <= terms.interest(balance) {
            return Err(NotProjected::PaymentBelowInterest);
        }
        let curve = self.curve_of(loan.new_used);
        let age = loan.origination_date.months_until(self.as_of);
        let (now_num, now_den) = curve.retained(age);
        if now_num == 0 {
            return Err(NotProjected::CurveAtZero);
        }
        if let Some(found) = self.walk_fast(
            curve,
            Start {
                age,
                balance,
                value: v0,
            },
            &terms,
            months,
            &mut month,
        ) {
            return Ok(found);
        }
        let path = ValuePath {
            curve,
            age,
            v0,
            now: (now_num, now_den),
        };
        let mut b = balance;
        let _ = month(0, b, v0);
        let mut found = (b <= v0).then_some(0);
        let mut k = 0;
        while b > 0 && (k < months || found.is_none()) {
            if k == MAX_PROJECTION_MONTHS {
                return Ok(None);
            }
            k += 1;
            b = (b + terms.interest(b)).saturating_sub(terms.payment);
            let v = path.at(k);
            if found.is_none() && b <= v {
                found = Some(k);
            }
            if !month(k, b, v) {
                break;
            }
        }
        Ok(found)
    }
}

/// Where an account's schedule starts: its age in months at as_of, and its balance and value in
/// cents.
#[derive(Clone, Copy)]
struct Start {
    age: u32,
    balance: u128,
    value: u128,
}

/// An account's monthly terms as integers: the payment in cents, and the rate as `apr_m / apr_div`
/// a month (apr = m / 10^s percent a year: the month's interest on B cents is B·m / (1200·10^s)).
struct Terms {
    apr: Decimal,
    payment: u128,
    apr_m: u128,
    apr_div: u128,
    /// `apr_m` and `apr_div` when both fit 64 bits.
    fast: Option<(u64, u64)>,
}

impl Terms {
    fn of(loan: &Loan) -> Result<Terms, NotProjected> {
        let apr = loan.apr().ok_or(NotProjected::NoApr)?;
        let payment = match loan.monthly_payment() {
            Some(p) => p,
            None => level_payment(loan.amount_financed, apr, loan.term_months),
        };
        let payment = cents_int(payment).unwrap_or(0);
        let apr_m = u128::try_from(apr.mantissa()).map_err(|_| NotProjected::NoApr)?;
        let apr_div = 1200 * 10u128.pow(apr.scale());
        let fast = u64::try_from(apr_m).ok().zip(u64::try_from(apr_div).ok());
        Ok(Terms {
            apr,
            payment,
            apr_m,
            apr_div,
            fast,
        })
    }

    /// The month's interest on `b` cents, rounded half to even.
    fn interest(&self, b: u128) -> u128 {
        if let Some((m, d)) = self.fast {
            if let Some(n) = u64::try_from(b).ok().and_then(|b| b.checked_mul(m)) {
                return u128::from(div_half_even_u64(n, d));
            }
        }
        match b.checked_mul(self.apr_m) {
            Some(n) => div_half_even(n, self.apr_div),
            // Beyond 10^38: only a balance of 10^24 dollars at a rate with 14 decimals gets here.
            None => cents_int(
                Decimal::from_i128_with_scale(b as i128, 2) * self.apr / Decimal::from(1200),
            )
            .unwrap_or(u128::MAX / 4),
        }
    }
}

/// The car's value month by month: V0 · share(age + k) / share(age), rounded once.
struct ValuePath<'c> {
    curve: &'c ExactCurve,
    age: u32,
    v0: u128,
    /// The share kept at `age`, as a fraction.
    now: (u128, u128),
}

impl ValuePath<'_> {
    fn at(&self, k: u32) -> u128 {
        let (v0, (now_num, now_den)) = (self.v0, self.now);
        let (num, den) = self.curve.retained(self.age.saturating_add(k));
        if (num, den) == (now_num, now_den) {
            return v0;
        }
        // Same-segment denominators cancel.
        let (top, bottom) = if den == now_den {
            (num, now_num)
        } else {
            (num * now_den, now_num * den)
        };
        let fast = u64::try_from(v0)
            .ok()
            .zip(u64::try_from(top).ok())
            .and_then(|(v, t)| v.checked_mul(t))
            .zip(u64::try_from(bottom).ok());
        if let Some((n, d)) = fast {
            return u128::from(div_half_even_u64(n, d));
        }
        match v0.checked_mul(top) {
            Some(n) => div_half_even(n, bottom),
            // A value of 10^12 dollars with curve points years apart: decimal, 28 digits.
            None => {
                let v = Decimal::from_i128_with_scale(v0 as i128, 2);
                let q = Decimal::from(num) * Decimal::from(now_den)
                    / (Decimal::from(now_num) * Decimal::from(den));
                cents_int(v * q).unwrap_or(0)
            }
        }
    }
}

#[cfg(test)]
mod tests;
