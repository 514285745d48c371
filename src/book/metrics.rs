//! Per-account figures: equity, LTV and its band, deficiency if default, and expected deficiency.
//!
//! Every figure is computed from the raw inputs with exact decimal arithmetic and rounded once, at the
//! end: money to cents and LTV to 4 places, both half to even. No rounded figure feeds another one, and
//! the band is chosen from the exact ratio `balance / value`, never from the rounded LTV.

use crate::book::matching::Valuation;
use crate::book::model::Model;
use crate::input::load::Loan;
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
mod tests {
    use super::*;
    use crate::date::Date;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn loan(balance: &str, dpd: u32) -> Loan {
        Loan {
            line: 2,
            origination_date: Date::parse("2022-01-01").unwrap(),
            term_months: 60,
            amount_financed: d("20000"),
            origination_value: None.into(),
            new_used: None,
            balance: d(balance),
            days_past_due: dpd,
            credit_score: None,
            apr: None.into(),
            monthly_payment: None.into(),
            text: crate::input::load::LoanText::new(&["A", "V", ""]),
        }
    }

    /// The figures in decimals and in scaled integers, checked equal.
    fn both(loan: &Loan, valuation: Option<&Valuation>, m: &Model, b: &Bands) -> Figures {
        let decimal = figures(loan, valuation, m, b, None, Detail::Account);
        let scaled = figures(
            loan,
            valuation,
            m,
            b,
            ScaledModel::new(m, b).as_ref(),
            Detail::Account,
        );
        assert_eq!(decimal, scaled);
        decimal
    }

    fn val(value: &str) -> Valuation {
        Valuation {
            date: Date::parse("2024-01-01").unwrap(),
            value: d(value),
            source: "kbb".into(),
            estimated: false,
        }
    }

    /// A random amount with up to `places` decimals.
    fn amount(places: u32) -> impl proptest::strategy::Strategy<Value = Decimal> {
        use proptest::prelude::*;
        (0i64..=2_000_000_000, 0..=places).prop_map(|(m, s)| Decimal::new(m, s))
    }

    /// A random model: recovery rate and cost with up to 10 places, pds with up to 6, odd band edges.
    fn random_model() -> impl proptest::strategy::Strategy<Value = Model> {
        use proptest::prelude::*;
        (
            (0i64..=10_000_000_000, 0u32..=10),
            (0i64..=5_000_000_000, 0u32..=10),
            prop::collection::vec((0u32..150, 0i64..=1_000_000, 0u32..=6), 1..5),
            prop::collection::vec((1i64..=400_000, 0u32..=3), 1..6),
        )
            .prop_map(|(rr, cost, pds, edges)| {
                let mut edges: Vec<Decimal> =
                    edges.iter().map(|&(m, s)| Decimal::new(m, s)).collect();
                edges.sort();
                edges.dedup();
                let mut pd: Vec<(u32, Decimal)> = pds
                    .iter()
                    .map(|&(d, m, s)| (d, Decimal::new(m, s).min(Decimal::ONE)))
                    .collect();
                pd.sort_by_key(|p| p.0);
                pd.dedup_by_key(|p| p.0);
                Model {
                    ltv_bands: edges,
                    recovery_rate: Decimal::new(rr.0, rr.1).min(Decimal::ONE),
                    repossession_cost: Decimal::new(cost.0, cost.1),
                    pd_by_days_past_due: pd,
                    ..Model::default()
                }
            })
    }

    /// The scaled-integer summary figures against the decimal ones, over random balances, values,
    /// days past due and models, with the value shocked by a random change: every field equal, on ties
    /// and band edges too.
    #[test]
    fn scaled_figures_equal_the_decimal_ones() {
        use proptest::prelude::*;
        let strategy = (
            (amount(4), prop::option::of(amount(4)), 0u32..200),
            random_model(),
            (-999_999i64..=2_000_000, 6u32..=6),
            any::<bool>(),
        );
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &strategy,
                |((balance, value, dpd), model, change, estimated)| {
                    let bands = Bands::new(&model.ltv_bands);
                    let scaled = ScaledModel::new(&model, &bands).expect("scales within range");
                    let m = Decimal::ONE + Decimal::new(change.0, change.1);
                    let shocked = value.map(|v| (cents(v * m), estimated));
                    let mut l = loan("0", dpd);
                    l.balance = balance;
                    let d = figures_of_value(&l, shocked, &model, &bands, Detail::Summary);
                    let v = value.map(|v| {
                        let v = ScaledModel::amount(v).unwrap();
                        (
                            ScaledModel::shock(v, (m.mantissa(), m.scale())) * 100,
                            estimated,
                        )
                    });
                    let s = scaled.figures(ScaledModel::amount(balance).unwrap(), dpd, v);
                    let c = |x: Decimal| crate::book::summarize::Cents::of(x).0;
                    prop_assert_eq!(s.balance, c(d.balance));
                    prop_assert_eq!(s.bucket, d.bucket);
                    prop_assert_eq!(s.deficiency_if_default, c(d.deficiency_if_default));
                    prop_assert_eq!(s.expected_deficiency, c(d.expected_deficiency));
                    prop_assert_eq!(
                        s.value,
                        d.valued.as_ref().map(|x| (c(x.value), x.estimated))
                    );
                    prop_assert_eq!(
                        s.negative_equity,
                        d.valued.as_ref().map_or(0, |x| c(x.negative_equity))
                    );
                    Ok(())
                },
            )
            .unwrap();
    }

    /// accounts.csv's figures in scaled integers against the decimal ones, over random balances,
    /// values, origination amounts and models: every field equal (`Figures` compares them all,
    /// decimal scales included), with and without the LTV weight.
    #[test]
    fn scaled_account_figures_equal_the_decimal_ones() {
        use proptest::prelude::*;
        let strategy = (
            (amount(4), prop::option::of(amount(4))),
            (amount(4), prop::option::of(amount(4))),
            0u32..200,
            random_model(),
            any::<bool>(),
        );
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &strategy,
                |((balance, value), (financed, origination), dpd, model, estimated)| {
                    let bands = Bands::new(&model.ltv_bands);
                    let scaled = ScaledModel::new(&model, &bands).expect("scales within range");
                    let mut l = loan("0", dpd);
                    l.balance = balance;
                    l.amount_financed = financed;
                    l.origination_value = origination.filter(|o| *o > Decimal::ZERO).into();
                    let value = value.map(|v| (v, estimated));
                    for detail in [Detail::Account, Detail::Weighted] {
                        let d = figures_of_value(&l, value, &model, &bands, detail);
                        let s = scaled.account(&l, value, &model, detail);
                        prop_assert_eq!(Some(d), s);
                    }
                    Ok(())
                },
            )
            .unwrap();
    }

    #[test]
    fn the_readme_example() {
        let m = Model::default();
        let b = Bands::new(&m.ltv_bands);
        let f = both(&loan("19000", 0), Some(&val("15500")), &m, &b);
        let v = f.valued.clone().unwrap();
        assert_eq!(v.negative_equity.to_string(), "3500.00");
        assert_eq!(v.equity.to_string(), "-3500.00");
        assert_eq!(v.ltv.to_string(), "1.2258");
        assert_eq!(b.labels[f.bucket], "120-140");
        // 15500 × 0.85 − 1000 = 12175; 19000 − 12175 = 6825; × 0.02 = 136.50
        assert_eq!(f.net_recovery.to_string(), "12175.00");
        assert_eq!(f.deficiency_if_default.to_string(), "6825.00");
        assert_eq!(f.expected_deficiency.to_string(), "136.50");
    }

    #[test]
    fn band_edges_are_right_closed_on_the_exact_ratio() {
        let b = Bands::new(&Model::default().ltv_bands);
        assert_eq!(
            b.labels,
            ["<=80", "80-100", "100-120", "120-140", ">140", "no_value"]
        );
        assert_eq!(b.labels[b.bucket(d("10000"), d("10000"))], "80-100");
        assert_eq!(b.labels[b.bucket(d("10000.01"), d("10000"))], "100-120");
        assert_eq!(b.labels[b.bucket(d("8000"), d("10000"))], "<=80");
        assert_eq!(b.labels[b.bucket(d("8000.01"), d("10000"))], "80-100");
        // 100.004% rounds to an LTV of 1.0000 but is above the 100% edge.
        assert_eq!(b.labels[b.bucket(d("100004"), d("100000"))], "100-120");
    }

    /// A balance of 10,000.0049 on a value of 10,000 is in band 100-120 (the exact ratio is above 1) but
    /// its negative equity rounds to $0.00, so it is not counted underwater, while the README said every
    /// account above 100% is. The README now states the rule this test pins: underwater means negative
    /// equity of at least a cent, i.e. a balance above the value by more than half a cent.
    #[test]
    fn regression_above_100_by_less_than_half_a_cent_is_not_underwater() {
        let m = Model::default();
        let b = Bands::new(&m.ltv_bands);
        let f = both(&loan("10000.0049", 0), Some(&val("10000")), &m, &b);
        assert_eq!(b.labels[f.bucket], "100-120");
        let v = f.valued.unwrap();
        assert_eq!(v.negative_equity.to_string(), "0.00");
        assert_eq!(v.ltv.to_string(), "1.0000");
        let f = both(&loan("10000.005", 0), Some(&val("10000")), &m, &b);
        // Half a cent rounds to even: 0.00 still; 0.0051 is a cent.
        assert_eq!(f.valued.unwrap().negative_equity.to_string(), "0.00");
        let f = both(&loan("10000.0051", 0), Some(&val("10000")), &m, &b);
        assert_eq!(f.valued.unwrap().negative_equity.to_string(), "0.01");
    }

    /// A value of zero (a scenario's −100% shock) is no value, in decimals as in scaled integers: the
    /// whole balance is at risk and no band divides by it (a mutant taking 0 as a value passed the
    /// other tests).
    #[test]
    fn a_value_of_zero_is_no_value() {
        let m = Model::default();
        let b = Bands::new(&m.ltv_bands);
        let l = loan("10.10", 0);
        for detail in [Detail::Summary, Detail::Account] {
            let f = figures_of_value(&l, Some((d("0.00"), false)), &m, &b, detail);
            assert!(f.valued.is_none());
            assert_eq!(b.labels[f.bucket], "no_value");
            assert_eq!(f.deficiency_if_default.to_string(), "10.10");
        }
        let scaled = ScaledModel::new(&m, &b).unwrap();
        let s = scaled.figures(
            ScaledModel::amount(d("10.10")).unwrap(),
            0,
            Some((0, false)),
        );
        assert_eq!(
            (s.value, s.bucket, s.deficiency_if_default),
            (None, b.no_value(), 1010)
        );
    }

    /// Half to even beyond 64 bits too, where the 128-bit division runs (no book amount in the other
    /// tests reaches it; cargo mutants showed its tie rule untested).
    #[test]
    fn div_half_even_is_exact_beyond_64_bits() {
        let e19 = 10i128.pow(19);
        for (n, d, want) in [
            (10 * e19 + 5, 10, e19),        // a tie, even quotient: stays
            (10 * e19 + 15, 10, e19 + 2),   // a tie, odd quotient: up to even
            (10 * e19 + 6, 10, e19 + 1),    // above half: up
            (10 * e19 + 4, 10, e19),        // below half: down
            (-10 * e19 - 5, 10, -e19),      // a negative tie: to even
            (-10 * e19 - 15, 10, -e19 - 2), // a negative tie, odd: to even
            (3 * e19, 2 * e19, 2),          // 1.5 with a wide divisor: up to even
            (5 * e19, 2 * e19, 2),          // 2.5: down to even
        ] {
            assert_eq!(div_half_even(n, d), want, "{n} / {d}");
        }
        // The 64-bit path agrees with the wide one on the same ties.
        assert_eq!(div_half_even(25, 10), 2);
        assert_eq!(div_half_even(35, 10), 4);
        assert_eq!(div_half_even(-25, 10), -2);
    }

    #[test]
    fn no_value_means_the_whole_balance_is_at_risk() {
        let m = Model::default();
        let b = Bands::new(&m.ltv_bands);
        let f = both(&loan("10.10", 0), None, &m, &b);
        assert!(f.valued.is_none());
        assert_eq!(b.labels[f.bucket], "no_value");
        assert_eq!(f.deficiency_if_default.to_string(), "10.10");
        // 0.02 × 10.10 = 0.202
        assert_eq!(f.expected_deficiency.to_string(), "0.20");
    }

    #[test]
    fn expected_deficiency_rounds_half_even() {
        let m = Model::default();
        let b = Bands::new(&m.ltv_bands);
        // dpd 1 → pd 0.05; 0.05 × 10.10 = 0.505 → 0.50; 0.05 × 10.30 = 0.515 → 0.52
        assert_eq!(
            both(&loan("10.10", 1), None, &m, &b)
                .expected_deficiency
                .to_string(),
            "0.50"
        );
        assert_eq!(
            both(&loan("10.30", 1), None, &m, &b)
                .expected_deficiency
                .to_string(),
            "0.52"
        );
    }
}
