//! Stress scenarios applied to one account: its figures under each scenario's model and shocked
//! value, and its lifetime expected loss under each, riding the base walk of its schedule.

use crate::book::lifetime::{AccountLifetime, Hazards, Rates, Rider, Step};
use crate::book::metrics::{figures_of_value, Bands, Detail, ScaledModel};
use crate::book::model::{Model, Scenario};
use crate::book::runoff::fast_div::FastDiv;
use crate::book::segments::key;
use crate::book::tally::Tally;
use crate::input::load::{Loan, SegmentSource};
use crate::money::{cents, has_value};
use rust_decimal::Decimal;

/// An account's balance and value at [`ScaledModel::amount`]'s scale (None: beyond it), worked out
/// once for all its stress scenarios.
#[derive(Clone, Copy)]
pub struct Amounts {
    balance: Option<i128>,
    value: Option<i128>,
}

impl Amounts {
    pub fn of(loan: &Loan, value: Option<(Decimal, bool)>) -> Amounts {
        Amounts {
            balance: ScaledModel::amount(loan.balance),
            value: value.and_then(|(v, _)| ScaledModel::amount(v)),
        }
    }
}

/// `1 + change` as (mantissa, scale) for [`ScaledModel::shock`]; None when too fine for it.
fn multiplier_of(change: Decimal) -> Option<(i128, u32)> {
    let m = Decimal::ONE + change;
    (m.scale() <= 10).then(|| (m.mantissa(), m.scale()))
}

/// A stress scenario ready to apply: its model, and which of the run's segments its value shocks follow.
pub struct Stress<'a> {
    pub scenario: &'a Scenario,
    pub model: Model,
    /// The model in scaled integers (`None`: a config decimal too fine for them; decimals then).
    scaled: Option<ScaledModel>,
    /// Index into the run's segments of `value_change_by`'s segment.
    pub by_segment: Option<usize>,
    /// The value multiplier when every account has the same (no `value_change_by`).
    multiplier: Option<Option<(i128, u32)>>,
    /// The lifetime model under this scenario (`None`: no lifetime figures).
    lifetime: Option<Rates>,
}

impl<'a> Stress<'a> {
    /// The stresses of a model, against the run's segments (config validation checked every
    /// `value_change_by` segment is one of them).
    pub fn of(
        base: &'a Model,
        bands: &Bands,
        segments: &[(String, SegmentSource)],
    ) -> Vec<Stress<'a>> {
        base.scenarios
            .iter()
            .map(|scenario| {
                let model = scenario.model(base);
                let by_segment = scenario
                    .value_change_by
                    .as_ref()
                    .and_then(|by| segments.iter().position(|(name, _)| *name == by.segment));
                Stress {
                    scaled: ScaledModel::new(&model, bands),
                    lifetime: lifetime_rates(&model),
                    model,
                    multiplier: by_segment
                        .is_none()
                        .then(|| multiplier_of(scenario.value_change)),
                    by_segment,
                    scenario,
                }
            })
            .collect()
    }

    /// The account's shocked value: `value × (1 + change)`, rounded half-even to cents once, and at
    /// least one cent for an account that has a value: a shock lowers a car's value, it never takes
    /// the car away, so the accounts with a value are the same in the base and every scenario.
    fn shock(
        &self,
        loan: &Loan,
        value: Option<(Decimal, bool)>,
        segments: &[(String, SegmentSource)],
    ) -> Option<(Decimal, bool)> {
        let (v, estimated) = value?;
        let change = self.change(loan, segments);
        let shocked = cents(v * (Decimal::ONE + change));
        let floor = if has_value(v) {
            Decimal::new(1, 2)
        } else {
            Decimal::ZERO
        };
        Some((shocked.max(floor), estimated))
    }

    /// The account's value change (its segment's, with `value_change_by`).
    fn change(&self, loan: &Loan, segments: &[(String, SegmentSource)]) -> Decimal {
        match self.by_segment {
            Some(k) => {
                let key = key(loan, &segments[k].1);
                let label = match (&segments[k].1, key.label) {
                    (SegmentSource::Vintage, "") => key.position.to_string(),
                    (_, l) => l.to_string(),
                };
                self.scenario.value_change_for(Some(&label))
            }
            None => self.scenario.value_change,
        }
    }

    /// Adds the account's figures under this scenario to its band's tally, and returns the band: in
    /// scaled integers when the amounts and the model allow, else in decimals (the same figures either
    /// way). `amounts` are the account's, shared by every scenario.
    pub fn add(
        &self,
        tallies: &mut [Tally],
        loan: &Loan,
        value: Option<(Decimal, bool)>,
        amounts: Amounts,
        bands: &Bands,
        segments: &[(String, SegmentSource)],
    ) -> usize {
        if let Some(scaled) = &self.scaled {
            let multiplier = || match self.multiplier {
                Some(fixed) => fixed,
                None => multiplier_of(self.change(loan, segments)),
            };
            let amounts = amounts.balance.zip(match (value, amounts.value) {
                (None, _) => Some(None),
                (Some(_), None) => None,
                (Some((base, estimated)), Some(v)) => multiplier()
                    // The shocked value in cents (at least one, as in `shock`), at the scale
                    // `figures` takes.
                    .map(|m| {
                        let floor = i128::from(has_value(base));
                        Some((ScaledModel::shock(v, m).max(floor) * 100, estimated))
                    }),
            });
            if let Some((balance, value)) = amounts {
                let f = scaled.figures(balance, loan.days_past_due, value);
                tallies[f.bucket].add_cents(loan, &f, None);
                return f.bucket;
            }
        }
        let shocked = self.shock(loan, value, segments);
        let g = figures_of_value(loan, shocked, &self.model, bands, Detail::Summary);
        tallies[g.bucket].add(loan, &g);
        g.bucket
    }

    /// The account's lifetime walk under this scenario, in LTV band `band` under it (`None`: no
    /// lifetime figures under this scenario, or amounts out of their range).
    pub fn walk(
        &self,
        base: &Rates,
        (loan, base_band, band): (&Loan, usize, usize),
        segments: &[(String, SegmentSource)],
    ) -> Option<StressWalk<'_>> {
        let rates = self.lifetime.as_ref()?;
        if !rates.fits(loan.balance, None) {
            return None;
        }
        let (m, scale) = match self.multiplier {
            Some(fixed) => fixed,
            None => multiplier_of(self.change(loan, segments)),
        }?;
        // The base walk's defaults are this scenario's when its hazards are the base's: the same
        // pd multiplier of 1 and the same band (or one table for every band).
        let same =
            self.scenario.pd_multiplier == Decimal::ONE && (band == base_band || base.bands() == 1);
        let (m, whole) = (u64::try_from(m).ok()?, 10u64.checked_pow(scale)?);
        Some(StressWalk {
            rates,
            hazards: (!same).then(|| rates.hazards(loan.days_past_due, band)),
            sequence: &[],
            // A change of 0 (`m` = 10^scale) leaves every value as it is: a value × 1 rounded to
            // cents is itself, and a car with a value has at least a cent already.
            shock: (m != whole).then(|| Shock::new(m, whole)),
            survival: crate::book::lifetime::ONE,
            pd: 0,
            loss: 0,
        })
    }
}

/// The scenario model's lifetime rates: its hazards (the pd multiplier applied), its recovery rate
/// and cost. A recovery rate of more than 8 places (a 6-place rate times a 6-place change) is rounded
/// half to even to 8, the finest the exact sums take.
fn lifetime_rates(model: &Model) -> Option<Rates> {
    let rate = model
        .recovery_rate
        .normalize()
        .round_dp_with_strategy(8, rust_decimal::RoundingStrategy::MidpointNearestEven);
    Rates::new(
        model.lifetime.as_ref()?,
        rate,
        model.repossession_cost.normalize(),
    )
}

/// One account's lifetime sums under one scenario, riding the base walk of its schedule: the
/// scenario's value each month is the base path's × `1 + change`, rounded half to even to cents (at
/// least a cent), its hazards the scenario's, its recovery and cost the scenario's.
pub struct StressWalk<'r> {
    rates: &'r Rates,
    /// The scenario's hazards; `None`: the base walk's defaults are the scenario's.
    hazards: Option<Hazards<'r>>,
    /// Their survival chain ([`Rates::sequence`]), read from the first month.
    sequence: &'r [(u64, u64)],
    /// `None`: the scenario leaves values alone (a recovery or pd stress), and the month's value is
    /// the base walk's, with no multiplication to do.
    shock: Option<Shock>,
    survival: u128,
    pd: u128,
    /// Σ S(t−1) h(t) D(t) [× discount], in the scenario rates' unit.
    loss: u128,
}

impl StressWalk<'_> {
    /// The figures once the walk is done.
    pub fn finish(&self) -> AccountLifetime {
        AccountLifetime {
            pd: self.pd.min(crate::book::lifetime::ONE) as u64,
            loss: self.rates.cents(self.loss),
            loss_12m: 0,
        }
    }
}

impl Rider for StressWalk<'_> {
    #[inline]
    fn month(&mut self, s: &Step) -> bool {
        let defaults = match self.hazards {
            None => s.defaults,
            Some(h) => {
                if s.t == 1 {
                    self.sequence = self.rates.sequence(h, s.at - 1);
                }
                let chain = (self.sequence, h);
                self.rates.defaults_in(chain, s.t, s.at, &mut self.survival)
            }
        };
        self.pd += defaults;
        let value = match self.shock {
            Some(shock) => shock.value(s.value),
            None => s.value,
        };
        self.loss += self
            .rates
            .loss_term(defaults, s.factor, s.balance_before, value);
        self.hazards.is_some() && self.survival > 0
    }
}

/// A value change `1 + change` (mantissa `m` at `scale`, at most 6 places: config validation) applied
/// to a value in cents: rounded half to even to cents, at least a cent for a car with a value.
#[derive(Clone, Copy)]
struct Shock {
    m: u64,
    whole: FastDiv,
    whole_wide: u128,
}

impl Shock {
    /// `m / whole`: the multiplier `1 + change` with `whole` = 10^scale.
    fn new(m: u64, whole: u64) -> Shock {
        Shock {
            m,
            whole: FastDiv::new(whole as i64),
            whole_wide: u128::from(whole),
        }
    }

    #[inline]
    fn value(&self, cents: u128) -> u128 {
        if cents == 0 {
            return 0;
        }
        let product = cents * u128::from(self.m);
        // Divided by multiplication where the product allows (every car below $4 billion): a
        // 128-bit division per scenario and month cost about 0.2 s of the 1M book's run (BENCHMARKS.md).
        let shocked = match product < (1 << 62) {
            true => self.whole.half_even(product as i64) as u128,
            false => crate::book::magic_div::div_even(product, self.whole_wide),
        };
        shocked.max(1)
    }
}

/// The walks of every scenario of one account: `None` for a scenario without figures.
pub struct Riders<'r>(pub Vec<Option<StressWalk<'r>>>);

impl Rider for Riders<'_> {
    #[inline]
    fn month(&mut self, s: &Step) -> bool {
        let mut wanted = false;
        for w in self.0.iter_mut().flatten() {
            wanted |= w.month(s);
        }
        wanted
    }
}
