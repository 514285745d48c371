//! Per-account figures: equity, LTV and its band, deficiency if default, and expected deficiency.
//!
//! Every figure is computed from the raw inputs with exact decimal arithmetic and rounded once, at the
//! end: money to cents and LTV to 4 places, both half to even. No rounded figure feeds another one, and
//! the band is chosen from the exact ratio `balance / value`, never from the rounded LTV.

use crate::book::model::Model;
use crate::input::load::Loan;
use crate::input::valuations::Valuation;
use crate::money::{
    cents, cmp_ratio, div_half_even, div_half_even_pow10, has_value, mantissa_at, ratio,
};
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// The per-account figures, as written to accounts.csv (money already rounded to cents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figures {
    pub balance: Decimal,
    /// Present when the account has a valuation.
    pub valued: Option<Valued>,
    /// Index into [`Bands::labels`]; the last index is `no_value`.
    pub bucket: usize,
    /// amount_financed / origination_value, 4 places; None without an origination value.
    pub origination_ltv: Option<Decimal>,
    /// Band of the exact origination ratio (`no_value` without an origination value).
    pub origination_bucket: usize,
    pub net_recovery: Decimal,
    pub deficiency_if_default: Decimal,
    pub pd: Decimal,
    pub expected_deficiency: Decimal,
}

/// Figures that exist only for accounts with a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Valued {
    pub value: Decimal,
    pub equity: Decimal,
    pub negative_equity: Decimal,
    pub ltv: Decimal,
    /// balance × exact LTV (balance² / value) in units of 10^-12, rounded half-even, for the
    /// balance-weighted average LTV in summaries; None in [`Detail::Account`] and [`Detail::Summary`],
    /// and for amounts beyond [`ScaledModel::amount`]'s range.
    pub balance_times_ltv: Option<i128>,
    /// The value is an estimate, not an appraisal.
    pub estimated: bool,
}

/// LTV band edges (percent) and their labels, in band order, then `no_value`.
#[derive(Clone, Debug)]
pub struct Bands {
    /// Edges as fractions (80% is 0.8), for comparing against balance / value.
    edges: Vec<Decimal>,
    pub labels: Vec<String>,
}

pub const NO_VALUE: &str = "no_value";

impl Bands {
    pub fn new(edges_percent: &[Decimal]) -> Bands {
        let show = |d: &Decimal| d.normalize().to_string();
        let mut labels = Vec::with_capacity(edges_percent.len() + 2);
        if let Some(first) = edges_percent.first() {
            labels.push(format!("<={}", show(first)));
        }
        for w in edges_percent.windows(2) {
            labels.push(format!("{}-{}", show(&w[0]), show(&w[1])));
        }
        if let Some(last) = edges_percent.last() {
            labels.push(format!(">{}", show(last)));
        }
        labels.push(NO_VALUE.to_string());
        Bands {
            edges: edges_percent
                .iter()
                .map(|e| e / Decimal::ONE_HUNDRED)
                .collect(),
            labels,
        }
    }

    pub fn no_value(&self) -> usize {
        self.labels.len() - 1
    }

    /// Right-closed bands: the first band whose edge is >= balance / value (exactly).
    pub fn bucket(&self, balance: Decimal, value: Decimal) -> usize {
        self.edges
            .iter()
            .position(|&edge| cmp_ratio(balance, value, edge) != Ordering::Greater)
            .unwrap_or(self.edges.len())
    }
}

/// Computes one account's figures from its loan and matched valuation, as accounts.csv shows them
/// (with the LTV weight for [`Detail::Weighted`]): in scaled integers when `scaled` (the same model's,
/// [`ScaledModel::new`]) is given and the amounts fit, else in decimals. The figures are the same
/// either way.
pub fn figures(
    loan: &Loan,
    valuation: Option<&Valuation>,
    model: &Model,
    bands: &Bands,
    scaled: Option<&ScaledModel>,
    detail: Detail,
) -> Figures {
    let value = valuation.map(|v| (v.value, v.estimated));
    scaled
        .and_then(|s| s.account(loan, value, model, detail))
        .unwrap_or_else(|| figures_of_value(loan, value, model, bands, detail))
}

/// How much of the figures to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Everything accounts.csv shows, and the account's weight in the average LTV (the base summaries).
    Weighted,
    /// Everything accounts.csv shows: the writers compute the figures again rather than hold them, and
    /// the weight is a 28-digit decimal division they do not need.
    Account,
    /// What a summary row sums (a stress scenario's): the 4-place LTV, the origination LTV and the
    /// LTV weight of the average, which no scenario table shows, are left at zero and `None`. Each is
    /// a decimal division per account per scenario (the three took a third of the scenarios' time).
    Summary,
}

/// The figures of an account whose value (and whether it is an estimate) is given: a valuation's, or a
/// stress scenario's shocked value. A value that does not round to a cent is no value ([`has_value`]).
pub fn figures_of_value(
    loan: &Loan,
    value: Option<(Decimal, bool)>,
    model: &Model,
    bands: &Bands,
    detail: Detail,
) -> Figures {
    let balance = loan.balance;
    let pd = model.pd_for(loan.days_past_due);
    let (valued, bucket, net_recovery) = match value.filter(|(v, _)| has_value(*v)) {
        Some((value, estimated)) => {
            let net = (value * model.recovery_rate - model.repossession_cost).max(Decimal::ZERO);
            let valued = Valued {
                value: cents(value),
                equity: cents(value - balance),
                negative_equity: cents((balance - value).max(Decimal::ZERO)),
                ltv: match detail {
                    Detail::Weighted | Detail::Account => ratio(balance, value, 4),
                    Detail::Summary => Decimal::ZERO,
                },
                balance_times_ltv: match detail {
                    Detail::Weighted => ltv_weight(balance, value),
                    Detail::Account | Detail::Summary => None,
                },
                estimated,
            };
            (Some(valued), bands.bucket(balance, value), net)
        }
        None => (None, bands.no_value(), Decimal::ZERO),
    };
    let deficiency = (balance - net_recovery).max(Decimal::ZERO);
    let (origination_ltv, origination_bucket) = match loan.origination_value() {
        Some(ov) if detail != Detail::Summary => (
            Some(ratio(loan.amount_financed, ov, 4)),
            bands.bucket(loan.amount_financed, ov),
        ),
        _ => (None, bands.no_value()),
    };
    Figures {
        balance: cents(balance),
        valued,
        bucket,
        origination_ltv,
        origination_bucket,
        net_recovery: cents(net_recovery),
        deficiency_if_default: cents(deficiency),
        pd,
        expected_deficiency: cents(pd * deficiency),
    }
}

/// `balance² / value` in units of 10^-12, rounded half-even (see [`Valued::balance_times_ltv`]). An
/// integer division where the decimal `balance × (balance / value)` took a 28-digit division, and its
/// sum a rescaling addition per table row: together a quarter of the base summaries' time.
fn ltv_weight(balance: Decimal, value: Decimal) -> Option<i128> {
    scaled_ltv_weight(ScaledModel::amount(balance)?, ScaledModel::amount(value)?)
}

/// [`ltv_weight`] of a balance and a value at [`AMOUNT_SCALE`].
fn scaled_ltv_weight(b: i128, v: i128) -> Option<i128> {
    // b and v at scale 4: b² / v is at scale 4, and 10^8 more makes it 12.
    Some(div_half_even(
        b.checked_mul(b)?.checked_mul(100_000_000)?,
        v,
    ))
}

/// What a summary row sums for one account, in integers of cents: the figures of
/// [`figures_of_value`] with [`Detail::Summary`], without a decimal operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryCents {
    pub balance: i128,
    /// The value in cents and whether it is an estimate; `None`: no value (none, or not above 0).
    pub value: Option<(i128, bool)>,
    pub negative_equity: i128,
    pub deficiency_if_default: i128,
    pub expected_deficiency: i128,
    pub bucket: usize,
}

/// The scale balances and values are read at: inputs carry at most 4 decimals
/// ([`crate::money::MAX_DECIMAL_PLACES`]); an amount with more takes the decimal path.
const AMOUNT_SCALE: u32 = 4;
/// Config decimals with more places than this take the decimal path: it keeps every product below
/// within `i128` for amounts of at most 12 integer digits.
const MAX_CONFIG_SCALE: u32 = 10;

/// A model's summary figures in scaled integers. A stress scenario computes five sets of figures per
/// account beside the base ones; in `Decimal` they were most of the outlook's cost (BENCHMARKS.md),
/// while every quantity involved is an integer at a known scale. Hand-written for that measurement;
/// `tests::scaled_figures_equal_the_decimal_ones` checks it against [`figures_of_value`].
#[derive(Clone, Debug)]
pub struct ScaledModel {
    /// Scale of the net recovery and the deficiency (at least [`AMOUNT_SCALE`]).
    q: u32,
    /// Recovery rate at scale `q - AMOUNT_SCALE`, so that a value at [`AMOUNT_SCALE`] × it is at scale `q`.
    recovery: i128,
    /// Repossession cost at scale `q`.
    cost: i128,
    /// (days past due from, pd) with pd at scale `pd_scale`, in the model's order.
    pd: Vec<(u32, i128)>,
    pd_scale: u32,
    /// Band edges as fractions, all at one scale.
    edges: Vec<i128>,
    /// `10^(q - AMOUNT_SCALE)` and `10^(the edges' scale)`, computed once rather than per account and
    /// scenario.
    to_q: i128,
    to_edge_scale: i128,
    no_value: usize,
}

impl ScaledModel {
    /// `None` when a config decimal has more than [`MAX_CONFIG_SCALE`] places (the decimal path then
    /// computes every account).
    pub fn new(model: &Model, bands: &Bands) -> Option<ScaledModel> {
        let small = |d: &Decimal| d.scale() <= MAX_CONFIG_SCALE;
        let pds = &model.pd_by_days_past_due;
        if !small(&model.recovery_rate)
            || !small(&model.repossession_cost)
            || !pds.iter().all(|(_, pd)| small(pd))
            || !bands.edges.iter().all(small)
        {
            return None;
        }
        let q = AMOUNT_SCALE
            .max(model.recovery_rate.scale() + AMOUNT_SCALE)
            .max(model.repossession_cost.scale());
        let pd_scale = pds.iter().map(|(_, pd)| pd.scale()).max().unwrap_or(0);
        let edge_scale = bands.edges.iter().map(|e| e.scale()).max().unwrap_or(0);
        Some(ScaledModel {
            q,
            recovery: mantissa_at(model.recovery_rate, q - AMOUNT_SCALE),
            cost: mantissa_at(model.repossession_cost, q),
            pd: pds
                .iter()
                .map(|&(d, pd)| (d, mantissa_at(pd, pd_scale)))
                .collect(),
            pd_scale,
            edges: bands
                .edges
                .iter()
                .map(|&e| mantissa_at(e, edge_scale))
                .collect(),
            to_q: 10i128.pow(q - AMOUNT_SCALE),
            to_edge_scale: 10i128.pow(edge_scale),
            no_value: bands.no_value(),
        })
    }

    /// An amount at [`AMOUNT_SCALE`], if it has at most that many decimals and at most 13 integer
    /// digits (inputs have 12; an estimate scaled by a price index could have more).
    pub fn amount(d: Decimal) -> Option<i128> {
        (d.scale() <= AMOUNT_SCALE)
            .then(|| mantissa_at(d, AMOUNT_SCALE))
            .filter(|a| a.unsigned_abs() <= 10u128.pow(17))
    }

    /// `value × multiplier` rounded half-even to cents, with the value at [`AMOUNT_SCALE`] and the
    /// multiplier given as (mantissa, scale) with a scale of at most [`MAX_CONFIG_SCALE`].
    pub fn shock(value: i128, multiplier: (i128, u32)) -> i128 {
        div_half_even_pow10(value * multiplier.0, AMOUNT_SCALE - 2 + multiplier.1)
    }

    /// The summary figures of an account with `balance` (at [`AMOUNT_SCALE`]) `days_past_due` days
    /// past due, whose value (if any, at [`AMOUNT_SCALE`]) is `value`; the same as
    /// [`figures_of_value`]'s.
    pub fn figures(
        &self,
        balance: i128,
        days_past_due: u32,
        value: Option<(i128, bool)>,
    ) -> SummaryCents {
        self.exact(balance, days_past_due, value).cents()
    }

    /// Every figure of an account at its exact scale, before rounding.
    fn exact(&self, balance: i128, days_past_due: u32, value: Option<(i128, bool)>) -> Exact {
        let value = value.filter(|&(v, _)| to_cents(v, AMOUNT_SCALE) > 0);
        let (net, bucket) = match value {
            Some((v, _)) => (
                (v * self.recovery - self.cost).max(0),
                self.bucket(balance, v),
            ),
            None => (0, self.no_value),
        };
        let deficiency = (balance * self.to_q - net).max(0);
        let pd = self
            .pd
            .iter()
            .rev()
            .find(|(from, _)| days_past_due >= *from)
            .map_or(0, |&(_, pd)| pd);
        Exact {
            balance,
            value,
            bucket,
            net,
            deficiency,
            expected: pd * deficiency,
            q: self.q,
            pd_scale: self.pd_scale,
        }
    }

    /// The band of `numerator / denominator`, both at one scale and the denominator above 0:
    /// `n / d <= edge  ⇔  n <= edge × d`.
    fn bucket(&self, numerator: i128, denominator: i128) -> usize {
        let lhs = numerator * self.to_edge_scale;
        self.edges
            .iter()
            .position(|&e| lhs <= e * denominator)
            .unwrap_or(self.edges.len())
    }

    /// [`figures_of_value`] for accounts.csv ([`Detail::Account`], [`Detail::Weighted`]) in scaled
    /// integers: the same figures, with decimals built only from the rounded results. `None` when an
    /// amount is out of [`ScaledModel::amount`]'s range (the caller computes in decimals then).
    fn account(
        &self,
        loan: &Loan,
        value: Option<(Decimal, bool)>,
        model: &Model,
        detail: Detail,
    ) -> Option<Figures> {
        let balance = ScaledModel::amount(loan.balance)?;
        let value = match value.filter(|(v, _)| has_value(*v)) {
            Some((v, estimated)) => Some((ScaledModel::amount(v)?, estimated)),
            None => None,
        };
        let origination = match loan.origination_value() {
            Some(ov) => {
                let (af, ov) = (
                    ScaledModel::amount(loan.amount_financed)?,
                    ScaledModel::amount(ov)?,
                );
                // The decimal path divides by any origination value; only a positive one is taken here.
                if ov <= 0 {
                    return None;
                }
                Some((af, ov))
            }
            None => None,
        };
        let e = self.exact(balance, loan.days_past_due, value);
        let money = |cents: i128| Decimal::from_i128_with_scale(cents, 2);
        let c = e.cents();
        let valued = value.map(|(v, estimated)| Valued {
            value: money(to_cents(v, AMOUNT_SCALE)),
            equity: money(to_cents(v - balance, AMOUNT_SCALE)),
            negative_equity: money(c.negative_equity),
            ltv: Decimal::from_i128_with_scale(div_half_even(balance * 10_000, v), 4),
            balance_times_ltv: match detail {
                Detail::Weighted => scaled_ltv_weight(balance, v),
                Detail::Account | Detail::Summary => None,
            },
            estimated,
        });
        let (origination_ltv, origination_bucket) = match origination {
            Some((af, ov)) => (
                Some(Decimal::from_i128_with_scale(
                    div_half_even(af * 10_000, ov),
                    4,
                )),
                self.bucket(af, ov),
            ),
            None => (None, self.no_value),
        };
        Some(Figures {
            balance: money(c.balance),
            valued,
            bucket: e.bucket,
            origination_ltv,
            origination_bucket,
            net_recovery: money(to_cents(e.net, e.q)),
            deficiency_if_default: money(c.deficiency_if_default),
            pd: model.pd_for(loan.days_past_due),
            expected_deficiency: money(c.expected_deficiency),
        })
    }
}

/// `x` at `scale` (at least 2) rounded half-even to cents.
#[inline]
fn to_cents(x: i128, scale: u32) -> i128 {
    div_half_even_pow10(x, scale - 2)
}

/// One account's figures in scaled integers, unrounded: amounts at [`AMOUNT_SCALE`], the net recovery
/// and deficiency at `q`, the expected deficiency at `q + pd_scale`.
struct Exact {
    balance: i128,
    value: Option<(i128, bool)>,
    bucket: usize,
    net: i128,
    deficiency: i128,
    expected: i128,
    q: u32,
    pd_scale: u32,
}

impl Exact {
    fn cents(&self) -> SummaryCents {
        SummaryCents {
            balance: to_cents(self.balance, AMOUNT_SCALE),
            value: self
                .value
                .map(|(v, estimated)| (to_cents(v, AMOUNT_SCALE), estimated)),
            negative_equity: self.value.map_or(0, |(v, _)| {
                to_cents((self.balance - v).max(0), AMOUNT_SCALE)
            }),
            deficiency_if_default: to_cents(self.deficiency, self.q),
            expected_deficiency: to_cents(self.expected, self.q + self.pd_scale),
            bucket: self.bucket,
        }
    }
}

#[cfg(test)]
mod tests;
