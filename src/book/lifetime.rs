//! Lifetime expected loss (CECL): for each open account, over every remaining month t of its
//! scheduled run-off, the chance it defaults that month times what would be lost then.
//!
//! - `h(t)`: the monthly default hazard. An account current at as_of (or in a delinquency class the
//!   model gives no list) takes `hazard_by_age(a + t) × f(b)`, `a` its age in whole months at as_of,
//!   `f(b)` the factor of its LTV band at as_of (`hazard_factor_by_ltv_band`, 1 without one; the
//!   product rounded half to even to 10^-18). An
//!   account in a delinquent class takes the class's list for months 1, 2, … after as_of (its risk is
//!   front-loaded: it defaults soon or cures), then `hazard_by_age` once the list ends.
//! - `p(t)`: prepayment at the ABS speed: `SMM(age) = ABS / (1 − ABS × (age − 1))` at the loan's age
//!   `a + t`, at most `1 − h(t)` (past the age where the convention's pool is exhausted, every loan
//!   still open prepays).
//! - `S(t) = S(t−1) × (1 − h(t) − p(t))`, `S(0) = 1`.
//! - `D(t) = max(B(t−1) − max(recovery_rate × V(t) − repossession_cost, 0), 0)`, with `B` and `V` the
//!   run-off's scheduled balance and value ([`crate::book::runoff`]), exact.
//! - `lifetime_pd = Σ S(t−1) h(t)`; `lifetime_expected_deficiency = Σ S(t−1) h(t) D(t)` (discounted
//!   at the loan's APR when `discount = "apr"`: each term × `(1 + apr/1200)^−t`); the same sums to
//!   month 12 give `expected_deficiency_12m`. The months run until the schedule pays the balance off.
//!
//! Probabilities are integers of 10^-18, each product rounded half to even to that unit (`S(t)`,
//! `S(t−1)·h(t)`, the discount factor): 18 decimal places, a rule any reimplementation reproduces
//! exactly. Money is exact: `Σ S(t−1) h(t) D(t)` is an integer of 10^-18 × the deficiency's unit,
//! rounded once to cents. Integers, not decimals, because this loop runs once per account and month
//! (tens of millions of times a night): a `Decimal` product is several times the cost.

use crate::book::runoff::{NotProjected, Projection};
use crate::input::load::Loan;
use crate::money::mantissa_at;
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
    fn index(self) -> Option<usize> {
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

    fn count(&mut self, why: NotComputed) {
        if let Some(i) = why.index() {
            self.not_computed[i] += 1;
        }
    }
}

/// The model in integers, built once per run.
#[derive(Clone, Debug)]
pub struct Rates {
    /// Per LTV band (one table for every band without factors): hazard by age 0 ..= the last step's
    /// age (flat after).
    by_age: Vec<Vec<u64>>,
    delinquent: Vec<(u32, Vec<u64>)>,
    /// SMM by age 0 ..= [`SMM_TABLE_AGES`]; at most [`ONE`].
    smm: Vec<u64>,
    /// The ABS speed as `abs / whole` (`whole` a power of ten), for older ages.
    abs: (u128, u128),
    discount: Discount,
    /// The recovery rate's mantissa at scale `r` and the cost's at scale `2 + r`: a deficiency is an
    /// integer of 10^-(2+r) dollars.
    recovery: u128,
    cost: u128,
    r: u32,
    /// `10^r`.
    to_r: u128,
    /// `10^(18 + r)`: one cent of loss in the sums' unit.
    cent: MagicDiv,
    /// 10^18.
    one: MagicDiv,
}

/// `n / d` rounded half to even (`d > 0`).
#[inline]
fn div_even(n: u128, d: u128) -> u128 {
    let (q, r) = (n / d, n % d);
    q + u128::from(r > d - r || (r == d - r && q & 1 == 1))
}

/// Exact division by a divisor fixed for the run (10^18, and one cent in the loss sums' unit), by
/// multiplication: for `n < 2^N` (N = [`MagicDiv::BITS`]) and `l = ⌈log2 d⌉`, `n / d` is the top of
/// `n · m` shifted right by `N + l`, with `m = ⌈2^(N+l) / d⌉` (Granlund and Montgomery; `m` has at
/// most N + 1 bits, which fit 128). Hand-written because a measurement said so: a 128-bit division
/// (`__udivti3`) three times per account and month was most of the lifetime figures' cost, and this
/// is four 64-bit multiplications. `tests::magic_division_is_exact` checks it against `/`.
#[derive(Clone, Copy, Debug)]
struct MagicDiv {
    d: u128,
    m: u128,
    /// `N + l − 128`: the shift of the product's high 128 bits.
    shift: u32,
}

impl MagicDiv {
    /// Dividends are below 2^126: probabilities below 2^60 times factors below 2^66.
    const BITS: u32 = 126;

    fn new(d: u128) -> MagicDiv {
        use ethnum::U256;
        let l = u128::BITS - (d - 1).leading_zeros();
        let top = U256::ONE << (Self::BITS + l);
        let m = (top + U256::from(d) - U256::ONE) / U256::from(d);
        MagicDiv {
            d,
            m: m.as_u128(),
            shift: Self::BITS + l - 128,
        }
    }

    /// `n / d` for `n < 2^126`.
    #[inline]
    fn quotient(self, n: u128) -> u128 {
        let (n1, n0) = (n >> 64, n as u64 as u128);
        let (m1, m0) = (self.m >> 64, self.m as u64 as u128);
        let t0 = n0 * m0;
        // n1 < 2^62, m0 < 2^64, n0 < 2^64, m1 < 2^63 (m < 2^127): no overflow.
        let t1 = n1 * m0 + (n0 * m1) + (t0 >> 64);
        let t2 = n1 * m1 + (t1 >> 64);
        t2 >> self.shift
    }

    /// `n / d` rounded half to even, for `n < 2^126`.
    #[inline]
    fn even(self, n: u128) -> u128 {
        let q = self.quotient(n);
        let r = n - q * self.d;
        q + u128::from(r > self.d - r || (r == self.d - r && q & 1 == 1))
    }
}

/// A probability in [0, 1] as an integer of 10^-18, rounded half to even.
fn unit(p: Decimal) -> u64 {
    let p = p.clamp(Decimal::ZERO, Decimal::ONE);
    let scale = p.scale();
    let m = u128::try_from(p.mantissa()).unwrap_or(0);
    div_even(m * ONE, 10u128.pow(scale)) as u64
}

impl Rates {
    /// The rates of `lifetime` with the model's recovery and cost. `None` when the recovery rate or
    /// cost has more than 8 decimals (the deficiency's integer unit would be too fine): never for a
    /// model a config gives, whose rate has at most 6 decimals and cost at most 4.
    pub fn new(lifetime: &Lifetime, recovery_rate: Decimal, cost: Decimal) -> Option<Rates> {
        let r = recovery_rate.scale().max(cost.scale().saturating_sub(2));
        if r > 8 || recovery_rate.is_sign_negative() || cost.is_sign_negative() {
            return None;
        }
        let last = lifetime.hazard_by_age.last().map_or(0, |s| s.0);
        let table = |factor: Decimal| -> Vec<u64> {
            (0..=last)
                .map(|age| {
                    let h = lifetime.hazard_by_age.iter().rev().find(|s| s.0 <= age);
                    // Exact: a hazard of at most 12 places times a factor of at most 6.
                    h.map_or(0, |s| unit(s.1.checked_mul(factor).unwrap_or(Decimal::ONE)))
                })
                .collect()
        };
        let by_age = match lifetime.hazard_factor_by_ltv_band.is_empty() {
            true => vec![table(Decimal::ONE)],
            false => lifetime
                .hazard_factor_by_ltv_band
                .iter()
                .map(|&f| table(f))
                .collect(),
        };
        Some(Rates {
            by_age,
            delinquent: lifetime
                .delinquent
                .iter()
                .map(|(d, list)| (*d, list.iter().map(|&h| unit(h)).collect()))
                .collect(),
            smm: smm_table(abs_parts(lifetime.abs_speed)),
            abs: abs_parts(lifetime.abs_speed),
            discount: lifetime.discount,
            recovery: u128::try_from(mantissa_at(recovery_rate, r)).ok()?,
            cost: u128::try_from(mantissa_at(cost, 2 + r)).ok()?,
            r,
            to_r: 10u128.pow(r),
            cent: MagicDiv::new(ONE * 10u128.pow(r)),
            one: MagicDiv::new(ONE),
        })
    }

    /// The hazard by age of LTV band `band` (the last table past the last band: an account
    /// without a band has no value, so no figures).
    fn ages(&self, band: usize) -> &[u64] {
        let last = self.by_age.len() - 1;
        &self.by_age[band.min(last)]
    }

    fn smm(&self, age: u32) -> u64 {
        match self.smm.get(age as usize) {
            Some(&p) => p,
            None => smm_of(self.abs, u128::from(age)),
        }
    }

    /// The delinquent class list of an account `days` past due, if any.
    fn class(&self, days: u32) -> Option<&[u64]> {
        self.delinquent
            .iter()
            .rev()
            .find(|(from, _)| *from >= 1 && days >= *from)
            .map(|(_, l)| l.as_slice())
    }

    /// The loss if default in a month: `max(B·10^r − max(rate·V − cost, 0), 0)`, in 10^-(2+r) dollars.
    #[inline]
    fn deficiency(&self, balance: u128, value: u128) -> u128 {
        let net = (value * self.recovery).saturating_sub(self.cost);
        (balance * self.to_r).saturating_sub(net)
    }
}

/// Ages the SMM table holds: a slow speed's long tail (an ABS of 0.00000001 runs 100 million
/// months before its pool is exhausted) is computed when an older age asks for it, not held.
const SMM_TABLE_AGES: u128 = 2400;

/// An ABS speed as `(mantissa, 10^scale)`.
fn abs_parts(abs: Decimal) -> (u128, u128) {
    (
        u128::try_from(abs.mantissa()).unwrap_or(0),
        10u128.pow(abs.scale()),
    )
}

/// SMM at `age`: `ABS / (1 − ABS × (age − 1))` for age ≥ 1, exactly rounded to 10^-18; 1 once the
/// denominator reaches ABS (the convention's pool is exhausted). Age 0, and a speed of 0, prepay
/// nothing.
fn smm_of((a, whole): (u128, u128), age: u128) -> u64 {
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
fn smm_table(abs: (u128, u128)) -> Vec<u64> {
    (0..=SMM_TABLE_AGES).map(|age| smm_of(abs, age)).collect()
}

impl Rates {
    /// One account's lifetime figures, adding its months to `curve`; `Err` when it has none. A closed
    /// account has 0 of each. With a `horizon`, the sums stop at that month (`pd` and `loss` are
    /// `pd_H` and `expected_deficiency_H`, and the curve ends there).
    pub fn account(
        &self,
        projection: &Projection,
        (loan, value, band): (&Loan, Option<Decimal>, usize),
        curve: &mut LossCurve,
        horizon: Option<u32>,
    ) -> Result<AccountLifetime, NotComputed> {
        let result = self.walk(
            projection,
            (loan, value, band),
            curve,
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
        curve: &mut LossCurve,
        runoff: &mut crate::book::runoff::Runoff,
    ) -> (Result<AccountLifetime, NotComputed>, u32) {
        if let Some(result) = self.without_walk(loan, value) {
            if let Err(why) = result {
                curve.count(why);
            }
            return (result, projection.project(loan, value, runoff));
        }
        let setting = self.setting(projection, loan, band);
        let mut life = Walk::new(self, curve);
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
        let limit = 1u128 << 66;
        let big = |v: Decimal| v.abs() * Decimal::from(10u64.pow(self.r)) >= Decimal::from(limit);
        (big(loan.balance) || value.is_some_and(big)).then_some(Err(NotComputed::OutOfRange))
    }

    /// What an account's months read: its hazards, age and discount (to `u32::MAX`: no horizon).
    fn setting<'s>(&'s self, projection: &Projection, loan: &Loan, band: usize) -> Setting<'s> {
        Setting {
            hazards: (self.class(loan.days_past_due), self.ages(band)),
            age: loan.origination_date.months_until(projection.as_of()),
            discount: match self.discount {
                Discount::None => None,
                Discount::Apr => loan.apr().and_then(monthly_discount),
            },
            horizon: u32::MAX,
        }
    }

    fn walk(
        &self,
        projection: &Projection,
        (loan, value, band): (&Loan, Option<Decimal>, usize),
        curve: &mut LossCurve,
        horizon: u32,
    ) -> Result<AccountLifetime, NotComputed> {
        if let Some(result) = self.without_walk(loan, value) {
            return result;
        }
        let setting = Setting {
            horizon,
            ..self.setting(projection, loan, band)
        };
        let mut life = Walk::new(self, curve);
        let walked = projection.walk_to_end(loan, value, |k, b, v| life.step(k, b, v, &setting));
        life.finish_walk(walked)
    }
}

/// What one account's months read.
struct Setting<'r> {
    hazards: (Option<&'r [u64]>, &'r [u64]),
    age: u32,
    discount: Option<(u128, u128)>,
    horizon: u32,
}

/// `(1200·10^s, 1200·10^s + apr mantissa)`: one month's discount factor `1 / (1 + apr/1200)` as a ratio.
fn monthly_discount(apr: Decimal) -> Option<(u128, u128)> {
    let m = u128::try_from(apr.mantissa()).ok()?;
    let d = 1200u128.checked_mul(10u128.checked_pow(apr.scale())?)?;
    Some((d, d.checked_add(m)?))
}

/// Month t's hazard at age `age`: the delinquent list's while it lasts, else the age table's.
#[inline]
fn hazard(list: Option<&[u64]>, ages: &[u64], t: u32, age: u32) -> u64 {
    match list.and_then(|l| l.get(t as usize - 1)) {
        Some(&h) => h,
        None => match ages.get(age as usize) {
            Some(&h) => h,
            None => ages.last().copied().unwrap_or(0),
        },
    }
}

/// One account's sums while its schedule is walked.
struct Walk<'r, 'c> {
    rates: &'r Rates,
    curve: &'c mut LossCurve,
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

impl<'r, 'c> Walk<'r, 'c> {
    fn new(rates: &'r Rates, curve: &'c mut LossCurve) -> Walk<'r, 'c> {
        Walk {
            rates,
            curve,
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
    /// has defaulted or prepaid (S = 0), no later month adds anything.
    #[inline]
    fn step(&mut self, k: u32, b: u128, v: u128, s: &Setting<'_>) -> bool {
        if k == 0 {
            self.start(b);
        } else if k <= s.horizon {
            self.month(k, s.age, s.hazards, s.discount, b, v);
        }
        k < s.horizon && self.survival > 0
    }

    fn start(&mut self, balance: u128) {
        self.previous_balance = balance;
        self.curve.starting_balance += balance as i128;
    }

    /// Month `t`: the account defaults with `S(t−1)·h(t)`, losing `D(t)` of the month's balance
    /// before (`previous_balance`) against the value `v`; it survives into month t with `S(t)`.
    #[inline]
    fn month(
        &mut self,
        t: u32,
        age: u32,
        (list, ages): (Option<&[u64]>, &[u64]),
        discount: Option<(u128, u128)>,
        balance: u128,
        value: u128,
    ) {
        let r = self.rates;
        let at = age.saturating_add(t);
        let h = u128::from(hazard(list, ages, t, at));
        let p = u128::from(r.smm(at)).min(ONE - h);
        let defaults = r.one.even(self.survival * h);
        let weight = match discount {
            None => defaults,
            Some((num, den)) => {
                self.factor = div_even(self.factor * num, den);
                r.one.even(defaults * self.factor)
            }
        };
        self.pd += defaults;
        let added = weight * r.deficiency(self.previous_balance, value);
        self.survival = r.one.even(self.survival * (ONE - h - p));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

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

    /// The multiplication-based division against `/`, for both run divisors, at the edges and on
    /// a million pseudo-random dividends below 2^126.
    #[test]
    fn magic_division_is_exact() {
        for d in [ONE, ONE * 100, ONE * 10_000, ONE * 10u128.pow(10)] {
            let m = MagicDiv::new(d);
            let mut x: u128 = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321;
            let edges = [
                0,
                1,
                d - 1,
                d,
                d + 1,
                3 * d / 2,
                (1 << 126) - 1,
                (1 << 125) + 7,
            ];
            for n in edges.into_iter().chain((0..1_000_000).map(|_| {
                x = x
                    .wrapping_mul(0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645)
                    .wrapping_add(1);
                x >> 2
            })) {
                assert_eq!(m.quotient(n), n / d, "{n} / {d}");
                assert_eq!(m.even(n), div_even(n, d), "{n} / {d}");
            }
        }
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
