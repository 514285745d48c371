//! The lifetime model in integers, built once per run: hazards and prepayment in 10^-18, recovery
//! and cost in the deficiency's unit, and each month's survival arithmetic.

use crate::book::lifetime::model::{Discount, Lifetime, ONE};
use crate::book::lifetime::smm::{abs_parts, smm_of, smm_table};
use crate::book::magic_div::MagicDiv;
use crate::money::mantissa_at;
use rust_decimal::Decimal;
use std::sync::OnceLock;

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
    pub(crate) discount: Discount,
    /// The recovery rate's mantissa at scale `r` and the cost's at scale `2 + r`: a deficiency is an
    /// integer of 10^-(2+r) dollars.
    recovery: u128,
    cost: u128,
    /// `10^r`.
    to_r: u128,
    /// Balances and values below this many cents take the deficiency in 64 bits.
    narrow: u128,
    /// The largest balance or value, in dollars, the exact sums take ([`Rates::fits`]).
    max_amount: Decimal,
    /// `10^(18 + r)`: one cent of loss in the sums' unit.
    pub(crate) cent: MagicDiv,
    /// 10^18.
    one: MagicDiv,
    /// Per (hazard table, class, age at as_of), the chain of its first months, built on first use
    /// ([`Rates::sequence`]).
    sequences: Vec<OnceLock<Sequence>>,
}

/// The survival chain of an account from as_of: `(S(t−1)·h(t), S(t))` for months t = 1, 2, … up to
/// [`SEQUENCE_MONTHS`]. It depends only on the hazard table, the delinquent class and the age at
/// as_of, not on the account's amounts: computed once per run for every account that shares them, where
/// each account's walk computed it again (two products rounded to 10^-18 per account and month, most
/// of the lifetime figures' cost, and five times that with the stress scenarios).
pub type Sequence = Box<[(u64, u64)]>;

/// Months a [`Sequence`] holds; a longer schedule continues the chain month by month.
const SEQUENCE_MONTHS: u32 = 120;
/// Ages at as_of with a [`Sequence`]; an older account computes its chain month by month.
const SEQUENCE_AGES: u32 = 360;

/// A probability in [0, 1] as an integer of 10^-18, rounded half to even.
fn unit(p: Decimal) -> u64 {
    let p = p
        .clamp(Decimal::ZERO, Decimal::ONE)
        .round_dp_with_strategy(18, rust_decimal::RoundingStrategy::MidpointNearestEven);
    // At most 18 places and at most 1 now: the mantissa times 10^(18 − scale) is at most 10^18.
    let m = u64::try_from(p.mantissa()).unwrap_or(0);
    m * 10u64.pow(18 - p.scale())
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
        let by_age_len = by_age.len();
        let recovery = u128::try_from(mantissa_at(recovery_rate, r)).ok()?;
        let cost_units = u128::try_from(mantissa_at(cost, 2 + r)).ok()?;
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
            recovery,
            cost: cost_units,
            to_r: 10u128.pow(r),
            narrow: match cost_units < 1 << 63 {
                true => (1u128 << 63) / 10u128.pow(r).max(recovery).max(1),
                false => 0,
            },
            max_amount: Decimal::from(1u128 << 66) / Decimal::from(10u64.pow(r + 2)),
            cent: MagicDiv::new(ONE * 10u128.pow(r)),
            one: MagicDiv::new(ONE),
            sequences: (0..by_age_len
                * (lifetime.delinquent.len() + 1)
                * (SEQUENCE_AGES as usize + 1))
                .map(|_| OnceLock::new())
                .collect(),
        })
    }

    /// The number of hazard tables by age: 1 when every band has the same.
    pub fn bands(&self) -> usize {
        self.by_age.len()
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

    /// The delinquent class of an account `days` past due, if any: its index in the model's list.
    fn class(&self, days: u32) -> Option<usize> {
        self.delinquent
            .iter()
            .rposition(|(from, _)| *from >= 1 && days >= *from)
    }

    /// The loss if default in a month: `max(B·10^r − max(rate·V − cost, 0), 0)`, in 10^-(2+r) dollars.
    #[inline]
    fn deficiency(&self, balance: u128, value: u128) -> u128 {
        let net = (value * self.recovery).saturating_sub(self.cost);
        (balance * self.to_r).saturating_sub(net)
    }
}

impl Rates {
    /// Whether an account's amounts (in dollars) keep the sums exact: a deficiency, in 10^-(2+r)
    /// dollars, below 2^66, so that it times a probability (below 2^60) stays below the 2^126 that
    /// [`MagicDiv`] divides exactly.
    pub fn fits(&self, balance: Decimal, value: Option<Decimal>) -> bool {
        let fits = |v: Decimal| v.abs() < self.max_amount;
        fits(balance) && value.is_none_or(fits)
    }

    /// The hazards of an account `days_past_due` days past due in LTV band `band` at as_of.
    pub fn hazards(&self, days_past_due: u32, band: usize) -> Hazards<'_> {
        let class = self.class(days_past_due);
        Hazards {
            list: class.map(|i| self.delinquent[i].1.as_slice()),
            ages: self.ages(band),
            slot: band.min(self.by_age.len() - 1) * (self.delinquent.len() + 1)
                + class.map_or(0, |i| i + 1),
        }
    }

    /// The survival chain of an account with `hazards` and `age` at as_of (empty past
    /// [`SEQUENCE_AGES`]): the same products [`Rates::default_month`] gives month by month.
    pub fn sequence(&self, hazards: Hazards<'_>, age: u32) -> &[(u64, u64)] {
        if age > SEQUENCE_AGES {
            return &[];
        }
        let i = hazards.slot * (SEQUENCE_AGES as usize + 1) + age as usize;
        self.sequences[i].get_or_init(|| {
            let mut survival = ONE;
            (1..=SEQUENCE_MONTHS)
                .map(|t| {
                    let d = self.default_month(hazards, t, age + t, &mut survival);
                    // Both at most 10^18 < 2^64.
                    (d as u64, survival as u64)
                })
                .collect()
        })
    }

    /// Month `t` at age `at` of an account whose chain is `sequence`: [`Rates::default_month`], read
    /// from the sequence while it lasts.
    #[inline]
    pub fn defaults_in(
        &self,
        (sequence, hazards): (&[(u64, u64)], Hazards<'_>),
        t: u32,
        at: u32,
        survival: &mut u128,
    ) -> u128 {
        match sequence.get(t as usize - 1) {
            Some(&(d, s)) => {
                *survival = u128::from(s);
                u128::from(d)
            }
            None => self.default_month(hazards, t, at, survival),
        }
    }

    /// Month `t` at age `at`: the month's defaults `S(t−1)·h(t)`, with `survival` moved from
    /// `S(t−1)` to `S(t)`.
    #[inline]
    pub fn default_month(
        &self,
        hazards: Hazards<'_>,
        t: u32,
        at: u32,
        survival: &mut u128,
    ) -> u128 {
        let h = u128::from(hazard(hazards.list, hazards.ages, t, at));
        let p = u128::from(self.smm(at)).min(ONE - h);
        let defaults = self.one.even(*survival * h);
        *survival = self.one.even(*survival * (ONE - h - p));
        defaults
    }

    /// The month's term of the loss sum: the defaults (times the discount factor, when there is one)
    /// times the deficiency against `value`, in 10^-18 × 10^-(2+r) dollars.
    #[inline]
    pub fn loss_term(
        &self,
        defaults: u128,
        factor: Option<u128>,
        balance: u128,
        value: u128,
    ) -> u128 {
        let weight = match factor {
            None => defaults,
            Some(f) => self.one.even(defaults * f),
        };
        // Both below 2^64 for every real loan: one 64-bit multiplication for each product, where
        // 128-bit operands take three.
        if balance < self.narrow && value < self.narrow {
            let (b, v) = (balance as u64, value as u64);
            let net = (v * self.recovery as u64).saturating_sub(self.cost as u64);
            let d = (b * self.to_r as u64).saturating_sub(net);
            // weight <= 10^18 < 2^60.
            return u128::from(weight as u64) * u128::from(d);
        }
        weight * self.deficiency(balance, value)
    }

    /// A loss sum in cents, rounded half to even.
    pub fn cents(&self, loss: u128) -> i64 {
        self.cent.even(loss) as i64
    }
}

/// An account's hazards: its delinquent class's list (if any) and its band's table by age.
#[derive(Clone, Copy, Debug)]
pub struct Hazards<'r> {
    list: Option<&'r [u64]>,
    ages: &'r [u64],
    /// Its (table, class) pair's place among the sequences.
    slot: usize,
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
