//! The risk model: every setting that changes a number in the outputs (LTV bands, recovery, costs,
//! probabilities of default) and the segments the summaries are cut by. Part of the validated
//! [`crate::config::Config`]; the figures read it, nothing else.

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
        }
    }
}

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
