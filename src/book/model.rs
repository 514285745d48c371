//! The risk model: every setting that changes a number in the outputs (LTV bands, recovery, costs,
//! probabilities of default) and the segments the summaries are cut by. Part of the validated
//! [`crate::config::Config`]; the figures read it, nothing else.

use crate::book::lifetime::{Discount, Lifetime};
use crate::input::schema::DEFAULT_SEGMENTS;
use rust_decimal::Decimal;
use std::str::FromStr;

/// The risk model: every figure that changes a number in the outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// LTV band edges in percent, strictly increasing; bands are right-closed.
    pub ltv_bands: Vec<Decimal>,
    /// Share of the value recovered at resale, in [0, 1].
    pub recovery_rate: Decimal,
    /// Repossession and resale costs per account, in dollars.
    pub repossession_cost: Decimal,
    /// (first day past due, probability of default), starting at day 0, strictly increasing days.
    pub pd_by_days_past_due: Vec<(u32, Decimal)>,
    /// Segment names for `summary_by_<segment>.csv`.
    pub segments: Vec<String>,
    /// Stress scenarios computed beside the base figures (the built-in set unless the config says).
    pub scenarios: Vec<Scenario>,
    /// Months of the negative-equity run-off table (`summary_runoff.csv`); `None`: no run-off.
    pub runoff_months: Option<u32>,
    /// The lifetime expected loss model; `None`: no lifetime figures (`--no-lifetime`).
    pub lifetime: Option<Lifetime>,
}

/// Five years: the remaining term of most of a book.
pub const DEFAULT_RUNOFF_MONTHS: u32 = 60;

/// A stress scenario: changes relative to the base model, each a fraction (`-0.23`: × 0.77).
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// Every value × (1 + value_change), unless `value_change_by` gives the account's segment its own.
    pub value_change: Decimal,
    pub value_change_by: Option<ValueChangeBy>,
    /// recovery_rate × (1 + change).
    pub recovery_rate_change: Decimal,
    /// repossession_cost × (1 + change).
    pub repossession_cost_change: Decimal,
    /// pd = min(pd × multiplier, 1).
    pub pd_multiplier: Decimal,
}

/// Value shocks that differ by segment: `{ new_used = { new = -0.10, used = -0.25 } }`. Segment labels
/// not listed take the scenario's `value_change`.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueChangeBy {
    pub segment: String,
    pub changes: Vec<(String, Decimal)>,
}

impl Scenario {
    fn new(name: &str, value: &str, recovery: &str, pd: &str) -> Scenario {
        let d = |s: &str| Decimal::from_str(s).expect("literal default is a valid decimal");
        Scenario {
            name: name.into(),
            value_change: d(value),
            value_change_by: None,
            recovery_rate_change: d(recovery),
            repossession_cost_change: Decimal::ZERO,
            pd_multiplier: d(pd),
        }
    }

    /// The built-in set, each from a published figure (`../shared/domain.md`, docs/GUIDE.md "Stress
    /// scenarios"): the Manheim index's falls of 2007-08 and 2021-23, and Fitch's recovery stresses.
    pub fn built_in() -> Vec<Scenario> {
        vec![
            Scenario::new("gfc_2008", "-0.143", "0", "1"),
            Scenario::new("used_2023", "-0.23", "0", "1"),
            Scenario::new("recovery_moderate", "0", "-0.2", "1"),
            Scenario::new("recovery_severe", "0", "-0.5", "1"),
            Scenario::new("severe", "-0.23", "-0.5", "2"),
        ]
    }

    /// The base model under this scenario: recovery and cost changed, every pd multiplied (at most 1).
    pub fn model(&self, base: &Model) -> Model {
        Model {
            recovery_rate: base.recovery_rate * (Decimal::ONE + self.recovery_rate_change),
            repossession_cost: base.repossession_cost
                * (Decimal::ONE + self.repossession_cost_change),
            pd_by_days_past_due: base
                .pd_by_days_past_due
                .iter()
                .map(|&(day, pd)| (day, (pd * self.pd_multiplier).min(Decimal::ONE)))
                .collect(),
            lifetime: base
                .lifetime
                .as_ref()
                .map(|l| l.hazards_times(self.pd_multiplier)),
            scenarios: Vec::new(),
            ..base.clone()
        }
    }

    /// The value change for an account in segment `label` (of `value_change_by`'s segment).
    pub fn value_change_for(&self, label: Option<&str>) -> Decimal {
        self.value_change_by
            .as_ref()
            .zip(label)
            .and_then(|(by, label)| by.changes.iter().find(|(l, _)| l == label))
            .map_or(self.value_change, |(_, c)| *c)
    }
}

impl Default for Model {
    fn default() -> Self {
        let d = |s: &str| Decimal::from_str(s).expect("literal default is a valid decimal");
        Model {
            ltv_bands: ["80", "100", "120", "140"].iter().map(|s| d(s)).collect(),
            recovery_rate: d("0.85"),
            repossession_cost: d("1000.00"),
            pd_by_days_past_due: vec![
                (0, d("0.02")),
                (1, d("0.05")),
                (30, d("0.15")),
                (60, d("0.35")),
                (90, d("0.65")),
            ],
            segments: DEFAULT_SEGMENTS.iter().map(|s| s.to_string()).collect(),
            scenarios: Scenario::built_in(),
            runoff_months: Some(DEFAULT_RUNOFF_MONTHS),
            lifetime: Some(Lifetime::default()),
        }
    }
}

impl Default for Lifetime {
    /// Calibrated on the Ally Auto Receivables Trust 2017-3 outcome panel (`../shared/data/regab/`,
    /// 2,130 prime used-car loans open in May 2017, 43 months of outcomes): see docs/GUIDE.md
    /// "Lifetime expected loss" for the fit and its intervals.
    fn default() -> Self {
        let d = |s: &str| Decimal::from_str(s).expect("literal default is a valid decimal");
        Lifetime {
            hazard_by_age: DEFAULT_HAZARD_BY_AGE
                .iter()
                .map(|&(age, h)| (age, d(h)))
                .collect(),
            delinquent: DEFAULT_DELINQUENT
                .iter()
                .map(|(days, list)| (*days, list.iter().map(|h| d(h)).collect()))
                .collect(),
            hazard_factor_by_ltv_band: DEFAULT_LTV_FACTORS.iter().map(|f| d(f)).collect(),
            abs_speed: d(DEFAULT_ABS_SPEED),
            discount: Discount::None,
        }
    }
}

/// The default monthly default hazard by loan age (see [`Lifetime::default`]).
const DEFAULT_HAZARD_BY_AGE: [(u32, &str); 5] = [
    (0, "0.000172"),
    (12, "0.001015"),
    (24, "0.001443"),
    (36, "0.002347"),
    (48, "0.001645"),
];
/// The default hazard factors of the default `ltv_bands` (≤80, 80–100, 100–120, 120–140, >140),
/// fitted with [`DEFAULT_HAZARD_BY_AGE`]; a config that sets its own `hazard_by_age` or `ltv_bands`
/// without factors has none.
const DEFAULT_LTV_FACTORS: [&str; 5] = ["0.4332", "0.4332", "0.9438", "1.649", "3.2559"];
/// The default hazards of delinquent accounts for the months after as_of, by days past due: not
/// fitted (the Ally panel has 12 accounts 30 or more days past due at as_of, none at 60), an
/// assumption to calibrate on the lender's own history.
const DEFAULT_DELINQUENT: [(u32, &[&str]); 3] = [
    (30, &["0.10", "0.08", "0.05"]),
    (60, &["0.20", "0.12", "0.06"]),
    (90, &["0.35", "0.15", "0.08"]),
];
/// The default ABS prepayment speed.
const DEFAULT_ABS_SPEED: &str = "0.01083";

impl Model {
    /// Probability of default for an account `days` past due.
    pub fn pd_for(&self, days: u32) -> Decimal {
        self.pd_by_days_past_due
            .iter()
            .rev()
            .find(|(from, _)| days >= *from)
            .map_or(Decimal::ZERO, |(_, pd)| *pd)
    }
}
