//! summary.json as one typed struct: `run` writes it, `query` reads it back, so the two cannot drift.
//!
//! Totals, every table, data quality and the manifest. Money and ratios are written as strings (see
//! [`Dec`]) so no JSON reader turns them into binary floats.

use crate::book::changes::Changes;
use crate::book::guards::Guards;
use crate::book::percentiles::Percentiles;
use crate::book::runoff::{back_above_water, MonthTally, NotProjected, Runoff};
use crate::book::segments::TOTAL;
use crate::book::summarize::{Migration, Table};
use crate::book::tally::{Cents, Tally};
use crate::book::Book;
use crate::config::{Config, Format};
use crate::date::rfc3339_utc;
use crate::input::load::{InputKind, Reject};
use crate::input::reader::FileFacts;
use crate::input::RowCounts;
use crate::money::cents;
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::SystemTime;

mod build;

/// An exact decimal, written as a JSON string (`"3500.00"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dec(pub Decimal);

impl Serialize for Dec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dec, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(Dec).map_err(serde::de::Error::custom)
    }
}

/// Money as reports write it: rounded to cents, two decimals.
fn money(d: Decimal) -> Dec {
    Dec(cents(d))
}

/// The whole file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub portfolio: Portfolio,
    /// Each stress scenario: its definition and its book totals (the per-band rows are in
    /// summary_scenarios.csv).
    #[serde(default)]
    pub scenarios: Vec<ScenarioJson>,
    /// The negative-equity run-off (month by month in summary_runoff.csv); None when it is off.
    #[serde(default)]
    pub runoff: Option<RunoffJson>,
    /// The lifetime expected loss (month by month in summary_loss_curve.csv); absent when it is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<LifetimeJson>,
    /// What changed since the previous run (`--previous`); the matrices are in summary_changes_*.csv.
    #[serde(default)]
    pub changes: Option<ChangesJson>,
    /// The 20 largest expected deficiencies among open valued accounts, and the 20 largest unvalued
    /// balances, largest first.
    #[serde(default)]
    pub top_exposures: TopExposuresJson,
    pub tables: Tables,
    pub data_quality: DataQuality,
    pub manifest: Manifest,
    pub status: Status,
}

/// A stress scenario as the run applied it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioJson {
    pub name: String,
    pub value_change: Dec,
    /// `{segment: {label: change}}` when the value shock differs by segment.
    pub value_change_by: Option<BTreeMap<String, BTreeMap<String, Dec>>>,
    pub recovery_rate_change: Dec,
    pub repossession_cost_change: Dec,
    pub pd_multiplier: Dec,
    pub totals: TallyJson,
}

/// The largest exposures (see [`crate::book::summarize::TopExposures`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TopExposuresJson {
    pub expected_deficiency: Vec<ExposureJson>,
    pub unvalued_balance: Vec<ExposureJson>,
}

/// One account of a top-exposure list, as accounts.csv shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExposureJson {
    pub account_id: String,
    pub balance: Dec,
    pub value: Option<Dec>,
    pub value_source: String,
    /// The value is an estimate, not an appraisal.
    pub estimated: bool,
    pub ltv_bucket: String,
    pub negative_equity: Option<Dec>,
    pub expected_deficiency: Dec,
    pub days_past_due: u32,
}

/// What changed since the previous run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChangesJson {
    pub previous_run: String,
    pub previous_as_of: String,
    pub continuing_accounts: u64,
    pub new_accounts: u64,
    pub closed_accounts: u64,
    /// Continuing accounts valued in both runs whose LTV band rose (higher LTV) or fell.
    pub ltv_band_up: u64,
    pub ltv_band_down: u64,
    pub lost_value: u64,
    pub gained_value: u64,
    /// previous + closed + new + balance_change + value_change + valuation_gained_or_lost = current.
    pub negative_equity_bridge: IndexMap<String, Dec>,
    /// previous + closed + new + continuing = current.
    pub expected_deficiency_bridge: IndexMap<String, Dec>,
}

/// The lifetime model as the run applied it, and the book's lifetime figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LifetimeJson {
    /// `(first age in months, monthly default hazard)` of a current account.
    pub hazard_by_age: Vec<(u32, Dec)>,
    /// `(first day past due, monthly hazards for months 1, 2, … after as_of)`.
    pub delinquent: Vec<(u32, Vec<Dec>)>,
    /// Per LTV band, the factor of `hazard_by_age` (absent: 1 for every band).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hazard_factor_by_ltv_band: Vec<Dec>,
    pub abs_speed: Dec,
    pub discount: String,
    /// Accounts with lifetime figures, and those without by reason.
    pub accounts: u64,
    pub not_computed: BTreeMap<String, u64>,
    /// Σ lifetime_expected_deficiency: the book's lifetime expected loss (the allowance).
    pub lifetime_expected_deficiency: Dec,
    pub expected_deficiency_12m: Dec,
    /// Σ lifetime_pd: the accounts expected to default over their remaining lives (18 places).
    pub expected_defaults: Dec,
    /// The months the loss curve runs (the longest remaining schedule).
    pub months: usize,
    /// summary_loss_curve.csv's months 1 … (its surviving balance, 20 decimals, only there).
    #[serde(default)]
    pub by_month: Vec<LossMonthJson>,
}

/// One month of the loss curve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossMonthJson {
    pub month: u32,
    pub date: String,
    /// Expected defaults in accounts, 18 places.
    pub expected_defaults: Dec,
    pub expected_loss: Dec,
    pub cumulative_defaults: Dec,
    pub cumulative_loss: Dec,
}

/// The run-off's settings and what it covered.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunoffJson {
    pub months: u32,
    pub rule: String,
    /// Accounts projected (month 0 of summary_runoff.csv), and those left out by reason; month 0 and
    /// the left-out accounts add up to the book's totals.
    pub projected: RunoffRow,
    pub not_projected: BTreeMap<String, RunoffRow>,
    /// Of the accounts underwater tonight and projected: how many are above water by month 12, 24, 36,
    /// 48, 60, later, or not within the projection's 1,200 months.
    pub underwater_back_above_water: BTreeMap<String, u64>,
    /// Median `months_to_positive_equity` of the accounts underwater tonight (nearest rank), if any.
    pub median_months_to_positive_equity: Option<u32>,
    /// summary_runoff.csv's rows.
    #[serde(default)]
    pub by_month: Vec<RunoffMonthJson>,
}

/// One month of the run-off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunoffMonthJson {
    pub month: u32,
    pub date: String,
    pub open_accounts: u64,
    pub balance: Dec,
    pub value: Dec,
    pub underwater_accounts: u64,
    pub negative_equity: Dec,
}

/// Totals of a group of accounts in the run-off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunoffRow {
    pub accounts: u64,
    pub balance: Dec,
    pub value: Dec,
    pub underwater_accounts: u64,
    pub negative_equity: Dec,
}

/// The totals of one group of accounts (a table row, or the whole book).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TallyJson {
    pub accounts: u64,
    pub closed_accounts: u64,
    pub balance: Dec,
    pub value: Dec,
    pub valued_accounts: u64,
    pub underwater_accounts: u64,
    pub negative_equity: Dec,
    pub deficiency_if_default: Dec,
    pub expected_deficiency: Dec,
    pub share_underwater: Option<Dec>,
    pub avg_ltv: Option<Dec>,
    pub estimated_value_accounts: u64,
    pub estimated_underwater_accounts: u64,
    pub estimated_value_balance: Dec,
    /// Σ lifetime expected deficiency (the allowance), when the lifetime figures are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_expected_deficiency: Option<Dec>,
}

/// The whole book's totals.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Portfolio {
    #[serde(flatten)]
    pub totals: TallyJson,
    pub origination_ltv: Option<OriginationLtv>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OriginationLtv {
    pub accounts_with_origination_value: u64,
    pub p05: Dec,
    pub median: Dec,
    pub p95: Dec,
    pub method: String,
}

/// One row of a summary table: the totals, then the group's label under the table's dimension name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    #[serde(flatten)]
    pub totals: TallyJson,
    /// `{dimension: label}`; the last row's label is `TOTAL`.
    #[serde(flatten)]
    pub label: BTreeMap<String, String>,
}

/// Every table: the LTV bands, the migration matrix, then one per segment in config order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tables {
    pub ltv_bucket: Vec<Row>,
    pub ltv_migration: MigrationJson,
    #[serde(flatten)]
    pub segments: IndexMap<String, Vec<Row>>,
}

/// The migration matrix: rows are origination bands, columns current bands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MigrationJson {
    pub rows_origination_ltv_bucket: Vec<String>,
    pub columns_current_ltv_bucket: Vec<String>,
    pub accounts: Vec<Vec<u64>>,
    pub balance: Vec<Vec<Dec>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataQuality {
    pub loans: LoansQuality,
    pub estimates: EstimatesQuality,
    pub valuations: Option<ValuationsQuality>,
    pub accounts_without_value: u64,
    /// Accounts by the age of their matched valuation at as_of (estimates not counted).
    pub valuation_age_days: ValuationAges,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_valuations: Option<StaleValuations>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoansQuality {
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub duplicate_account_id_rows: u64,
    pub rejects_by_field: BTreeMap<String, u64>,
    pub credit_score_outside_250_900: u64,
    pub zero_balance_accounts: u64,
    pub ids_shared_by_different_loans: SharedIdsJson,
    pub optional_fields_unreadable: OptionalUnreadable,
    /// Account ids kept apart that a reader would take for one (see [`LookAlikeIds`]).
    #[serde(default)]
    pub look_alike_account_ids: LookAlikeIds,
}

/// Accepted account ids that differ only by Unicode normalization (NFC against NFD: `é` as one code
/// point or two) or by invisible characters (zero-width space, joiners, word joiner, BOM). Ids are
/// compared byte for byte, so these are separate accounts; counted so nobody is surprised by them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LookAlikeIds {
    /// Groups of two or more ids that look alike.
    pub ids: u64,
    /// Accounts in those groups.
    pub accounts: u64,
    pub rule: String,
}

/// Optional loan fields whose value could not be read: the loan stays, the field counts as missing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptionalUnreadable {
    pub rule: String,
    /// By field: `credit_score`, or `credit_score (obligorCreditScore)` for a mapped column.
    pub fields: BTreeMap<String, UnreadableField>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnreadableField {
    pub rows: u64,
    pub first_lines: Vec<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SharedIdsJson {
    pub ids: u64,
    pub rows: u64,
    pub rule: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EstimatesQuality {
    pub enabled: bool,
    pub accounts_estimated: u64,
    /// Balance of the estimated accounts, and its share of the book's balance (4 places).
    pub balance_estimated: Dec,
    pub share_of_balance_estimated: Option<Dec>,
    /// The price index the estimates were adjusted with; `None`: curve only, no market movement.
    pub price_index: Option<String>,
    pub no_valuation_and_no_origination_value: u64,
    pub no_price_index_for_origination_month: u64,
    /// Estimates that rounded to $0.00: left unvalued, whole balance at risk.
    pub rounds_to_zero_left_unvalued: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ValuationsQuality {
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rejects_by_field: BTreeMap<String, u64>,
    pub dated_after_as_of_ignored: u64,
    pub vin_not_in_book: u64,
    pub candidates_for_book_vins: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ValuationAges {
    #[serde(rename = "0-30")]
    pub days_0_30: u64,
    #[serde(rename = "31-90")]
    pub days_31_90: u64,
    #[serde(rename = "91-180")]
    pub days_91_180: u64,
    #[serde(rename = ">180")]
    pub days_over_180: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StaleValuations {
    pub older_than_days: u32,
    pub accounts: u64,
}

/// The manifest of a run (see `output::manifest`).
pub type Manifest = crate::output::manifest::Manifest<RunRecord>;

/// What a run records after the manifest's head: its as_of, inputs, config, outputs and timing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub as_of: String,
    pub as_of_source: String,
    pub inputs: Inputs,
    pub config: ConfigJson,
    pub outputs: Vec<String>,
    pub threads: usize,
    pub started_at: String,
    pub finished_at: String,
    /// The BLAKE3 digest of the per-account file as written (hex), which every reader of the run
    /// checks: an edited or corrupted accounts file is refused, not read. Absent when nothing was
    /// written (a failed guard rail, the Python package before `write`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts_blake3: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Inputs {
    pub loans: InputJson,
    pub valuations: Option<InputJson>,
}

/// One input file: where it was, what it held, and what became of its rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InputJson {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    /// The file does not end with a line end (cut short?): its last row was read as it stands.
    #[serde(default)]
    pub no_final_line_end: bool,
}

/// The full effective config of the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigJson {
    pub config_file: Option<String>,
    pub as_of: String,
    pub ltv_bands: Vec<Dec>,
    pub recovery_rate: Dec,
    pub repossession_cost: Dec,
    pub pd_by_days_past_due: Vec<(u32, Dec)>,
    pub segments: Vec<String>,
    pub tape: Option<String>,
    pub tape_period: Option<String>,
    pub columns: IndexMap<String, String>,
    pub missing: Vec<String>,
    pub estimate: EstimateJson,
    pub format: String,
    pub max_reject_rate: Option<Dec>,
    pub fail_on_stale_days: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EstimateJson {
    pub enabled: bool,
    pub new: Vec<(u32, Dec)>,
    pub used: Vec<(u32, Dec)>,
    pub price_index: Option<String>,
}

/// Whether the run published its book.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::RESERVED_SEGMENT_NAMES;

    /// A segment is a key of `tables` and of each of its rows: every key a row or `tables` has of its
    /// own must be a name config refuses for a segment, or a segment could overwrite it.
    #[test]
    fn every_summary_row_key_is_reserved_from_segments() {
        let row = serde_json::to_value(TallyJson::from(&Tally::default())).unwrap();
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert!(keys.len() >= 14);
        for k in keys
            .into_iter()
            .chain(&["ltv_bucket".to_string(), "ltv_migration".to_string()])
        {
            assert!(RESERVED_SEGMENT_NAMES.contains(&k.as_str()), "{k}");
        }
    }
}
