//! summary.json as one typed struct: `run` writes it, `query` reads it back, so the two cannot drift.
//!
//! Totals, every table, data quality and the manifest. Money and ratios are written as strings (see
//! [`Dec`]) so no JSON reader turns them into binary floats.

use crate::book::changes::Changes;
use crate::book::guards::Guards;
use crate::book::runoff::{back_above_water, MonthTally, NotProjected, Runoff};
use crate::book::summarize::{Cents, Migration, Percentiles, Table, Tally, TOTAL};
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

impl ScenarioJson {
    fn new(scenario: &crate::book::model::Scenario, table: &Table) -> ScenarioJson {
        ScenarioJson {
            name: scenario.name.clone(),
            value_change: Dec(scenario.value_change),
            value_change_by: scenario.value_change_by.as_ref().map(|by| {
                let changes = by
                    .changes
                    .iter()
                    .map(|(l, c)| (l.clone(), Dec(*c)))
                    .collect();
                BTreeMap::from([(by.segment.clone(), changes)])
            }),
            recovery_rate_change: Dec(scenario.recovery_rate_change),
            repossession_cost_change: Dec(scenario.repossession_cost_change),
            pd_multiplier: Dec(scenario.pd_multiplier),
            totals: (&table.total).into(),
        }
    }
}

/// The largest exposures (see [`crate::book::summarize::TopExposures`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TopExposuresJson {
    pub expected_deficiency: Vec<ExposureJson>,
    pub unvalued_balance: Vec<ExposureJson>,
}

impl TopExposuresJson {
    /// A book's lists (see [`crate::book::summarize::TopExposures`]).
    pub fn of(book: &Book) -> TopExposuresJson {
        let rows = |list: &[u32]| list.iter().map(|&i| ExposureJson::new(book, i)).collect();
        TopExposuresJson {
            expected_deficiency: rows(&book.summaries.top.expected_deficiency),
            unvalued_balance: rows(&book.summaries.top.unvalued_balance),
        }
    }

    /// The lists of two parts of a book as one book's: the largest first, ties to the lower account
    /// id, at most [`crate::book::summarize::TOP_N`] each, as the summary pass keeps them.
    pub fn merge(mut self, other: TopExposuresJson) -> TopExposuresJson {
        let keep = |mut list: Vec<ExposureJson>,
                    more: Vec<ExposureJson>,
                    amount: fn(&ExposureJson) -> Decimal| {
            list.extend(more);
            list.sort_by(|a, b| {
                amount(b)
                    .cmp(&amount(a))
                    .then_with(|| a.account_id.cmp(&b.account_id))
            });
            list.truncate(crate::book::summarize::TOP_N);
            list
        };
        self.expected_deficiency = keep(self.expected_deficiency, other.expected_deficiency, |e| {
            e.expected_deficiency.0
        });
        self.unvalued_balance = keep(self.unvalued_balance, other.unvalued_balance, |e| {
            e.balance.0
        });
        self
    }
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

impl ExposureJson {
    fn new(book: &Book, i: u32) -> ExposureJson {
        let i = i as usize;
        let (loan, f, val) = (&book.loans[i], book.figures(i), book.valuation(i));
        ExposureJson {
            account_id: loan.account_id().to_string(),
            balance: Dec(f.balance),
            value: f.valued.as_ref().map(|v| Dec(v.value)),
            value_source: match val {
                Some(v) if v.source.is_empty() => {
                    crate::output::accounts_csv::UNNAMED_SOURCE.into()
                }
                Some(v) => v.source.to_string(),
                None => crate::output::accounts_csv::NO_SOURCE.into(),
            },
            estimated: f.valued.as_ref().is_some_and(|v| v.estimated),
            ltv_bucket: book.bands.labels[f.bucket].clone(),
            negative_equity: f.valued.as_ref().map(|v| Dec(v.negative_equity)),
            expected_deficiency: Dec(f.expected_deficiency),
            days_past_due: loan.days_past_due,
        }
    }
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

impl ChangesJson {
    fn new(c: &Changes, previous: &crate::input::previous::PreviousRun) -> ChangesJson {
        let m = |x: i128| Dec(Cents(x).dec());
        let ed = &c.expected_deficiency;
        ChangesJson {
            previous_run: previous.dir.display().to_string(),
            previous_as_of: previous.as_of.to_string(),
            continuing_accounts: c.continuing,
            new_accounts: c.new,
            closed_accounts: c.closed,
            ltv_band_up: c.band_up,
            ltv_band_down: c.band_down,
            lost_value: c.to_no_value,
            gained_value: c.from_no_value,
            negative_equity_bridge: c
                .negative_equity
                .lines()
                .iter()
                .map(|(l, v)| (l.to_string(), m(*v)))
                .collect(),
            expected_deficiency_bridge: [
                ("previous", ed.previous),
                ("closed", ed.closed),
                ("new", ed.new),
                ("continuing", ed.continuing),
                ("current", ed.current),
            ]
            .iter()
            .map(|(l, v)| (l.to_string(), m(*v)))
            .collect(),
        }
    }
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

impl RunoffRow {
    fn new(accounts: u64, m: &MonthTally) -> RunoffRow {
        let c = |x: i128| Dec(Cents(x).dec());
        RunoffRow {
            accounts,
            balance: c(m.balance),
            value: c(m.value),
            underwater_accounts: m.underwater_accounts,
            negative_equity: c(m.negative_equity),
        }
    }
}

impl RunoffJson {
    fn new(
        runoff: &Runoff,
        months_to_positive_equity: &[u32],
        as_of: crate::date::Date,
    ) -> RunoffJson {
        let back = back_above_water(months_to_positive_equity);
        let mut within: BTreeMap<String, u64> = back
            .by_month
            .iter()
            .map(|(limit, n)| (format!("by_month_{limit:02}"), *n))
            .collect();
        within.insert("later".into(), back.later);
        within.insert("not_within_1200_months".into(), runoff.beyond_projection);
        let month0 = &runoff.months[0];
        RunoffJson {
            months: (runoff.months.len() - 1) as u32,
            rule: "per open account with a value and an apr: balance B[k] = max(B[k-1] + \
                   cents(B[k-1] × apr / 1200) − payment, 0), value V[k] = cents(V[0] × retained(e+k) / \
                   retained(e)) on the [estimate] curve (e: months since origination); \
                   months_to_positive_equity = first k with B[k] <= V[k]"
                .into(),
            projected: RunoffRow::new(month0.open_accounts, month0),
            not_projected: NotProjected::ALL
                .iter()
                .zip(&runoff.not_projected)
                .map(|(why, (n, t))| (why.label().to_string(), RunoffRow::new(*n, t)))
                .collect(),
            underwater_back_above_water: within,
            median_months_to_positive_equity: back.median,
            by_month: runoff
                .months
                .iter()
                .enumerate()
                .map(|(k, m)| {
                    let c = |x: i128| Dec(Cents(x).dec());
                    RunoffMonthJson {
                        month: k as u32,
                        date: crate::book::runoff::month_date(as_of, k as u32).to_string(),
                        open_accounts: m.open_accounts,
                        balance: c(m.balance),
                        value: c(m.value),
                        underwater_accounts: m.underwater_accounts,
                        negative_equity: c(m.negative_equity),
                    }
                })
                .collect(),
        }
    }
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
}

impl From<&Tally> for TallyJson {
    fn from(t: &Tally) -> TallyJson {
        TallyJson {
            accounts: t.accounts,
            closed_accounts: t.closed_accounts,
            balance: money(t.balance.dec()),
            value: money(t.value.dec()),
            valued_accounts: t.valued_accounts,
            underwater_accounts: t.underwater_accounts,
            negative_equity: money(t.negative_equity.dec()),
            deficiency_if_default: money(t.deficiency_if_default.dec()),
            expected_deficiency: money(t.expected_deficiency.dec()),
            share_underwater: t.share_underwater().map(Dec),
            avg_ltv: t.avg_ltv().map(Dec),
            estimated_value_accounts: t.estimated_accounts,
            estimated_underwater_accounts: t.estimated_underwater_accounts,
            estimated_value_balance: money(t.estimated_balance.dec()),
        }
    }
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

impl From<&Percentiles> for OriginationLtv {
    fn from(p: &Percentiles) -> OriginationLtv {
        OriginationLtv {
            accounts_with_origination_value: p.count,
            p05: Dec(p.p05),
            median: Dec(p.median),
            p95: Dec(p.p95),
            method: "nearest rank over the 4-place per-account origination_ltv".into(),
        }
    }
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

fn rows(table: &Table) -> Vec<Row> {
    let row = |label: &str, t: &Tally| Row {
        totals: t.into(),
        label: BTreeMap::from([(table.dimension.clone(), label.to_string())]),
    };
    table
        .rows
        .iter()
        .map(|(label, t)| row(label, t))
        .chain(std::iter::once(row(TOTAL, &table.total)))
        .collect()
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

impl From<&Migration> for MigrationJson {
    fn from(m: &Migration) -> MigrationJson {
        let n = m.labels.len();
        MigrationJson {
            rows_origination_ltv_bucket: m.labels.clone(),
            columns_current_ltv_bucket: m.labels.clone(),
            accounts: (0..n)
                .map(|o| (0..n).map(|c| m.cell(o, c).0).collect())
                .collect(),
            balance: (0..n)
                .map(|o| (0..n).map(|c| money(m.cell(o, c).1.dec())).collect())
                .collect(),
        }
    }
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

impl LookAlikeIds {
    pub fn of<'a>(ids: impl Iterator<Item = &'a str> + Clone) -> LookAlikeIds {
        use unicode_normalization::UnicodeNormalization;
        let invisible = |c: &char| matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}');
        let key = |id: &str| -> String { id.nfc().filter(|c| !invisible(c)).collect() };
        let rule =
            "ids equal once put in Unicode NFC and stripped of zero-width characters, but not \
                    byte for byte: separate accounts"
                .to_string();
        // An all-ASCII book (the usual one) has no look-alikes: one pass, no normalization.
        let odd: rustc_hash::FxHashSet<String> =
            ids.clone().filter(|id| !id.is_ascii()).map(key).collect();
        if odd.is_empty() {
            return LookAlikeIds {
                rule,
                ..Default::default()
            };
        }
        let mut groups: rustc_hash::FxHashMap<String, rustc_hash::FxHashSet<&str>> =
            Default::default();
        for id in ids {
            let k = key(id);
            if odd.contains(&k) {
                groups.entry(k).or_default().insert(id);
            }
        }
        let alike = groups.values().filter(|g| g.len() > 1);
        LookAlikeIds {
            ids: alike.clone().count() as u64,
            accounts: alike.map(|g| g.len() as u64).sum(),
            rule,
        }
    }
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

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub program: String,
    pub version: String,
    pub command: String,
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

impl InputJson {
    fn new(facts: &FileFacts, counts: RowCounts) -> InputJson {
        InputJson {
            path: facts.path.display().to_string(),
            bytes: facts.bytes,
            sha256: facts.sha256.clone(),
            rows_read: counts.read,
            rows_accepted: counts.accepted,
            rows_rejected: counts.rejected,
            no_final_line_end: facts.no_final_line_end,
        }
    }
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

fn rejects_by_field(rejects: &[Reject], input: InputKind) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in rejects.iter().filter(|r| r.input == input) {
        let field = if r.field.is_empty() {
            "(field count)"
        } else {
            &r.field
        };
        *m.entry(field.to_string()).or_insert(0) += 1;
    }
    m
}

fn points(curve: &[(u32, Decimal)]) -> Vec<(u32, Dec)> {
    curve.iter().map(|&(m, f)| (m, Dec(f))).collect()
}

impl DataQuality {
    /// What the run read, accepted, rejected and estimated, and how old its values are.
    fn new(config: &Config, book: &Book, guards: &Guards) -> DataQuality {
        let s = &book.summaries;
        DataQuality {
            loans: LoansQuality::of(book),
            estimates: EstimatesQuality {
                enabled: config.estimate.enabled,
                accounts_estimated: book.estimate_counts.estimated,
                balance_estimated: money(s.ltv.total.estimated_balance.dec()),
                share_of_balance_estimated: s.ltv.total.estimated_balance_share().map(Dec),
                price_index: book.price_index.as_ref().map(|p| p.display().to_string()),
                no_valuation_and_no_origination_value: book.estimate_counts.no_origination_value,
                no_price_index_for_origination_month: book
                    .estimate_counts
                    .no_index_for_origination_month,
                rounds_to_zero_left_unvalued: book.estimate_counts.rounds_to_zero,
            },
            valuations: config.valuations.as_ref().map(|_| ValuationsQuality {
                rows_read: book.valuation_counts.read,
                rows_accepted: book.valuation_counts.accepted,
                rows_rejected: book.valuation_counts.rejected,
                rejects_by_field: rejects_by_field(&book.rejects, InputKind::Valuations),
                dated_after_as_of_ignored: book.match_counts.future_dated,
                vin_not_in_book: book.match_counts.vin_not_in_book,
                candidates_for_book_vins: book.match_counts.candidates,
            }),
            // The no_value band: every account without a value, closed ones included (valued
            // accounts count open ones only, so `accounts - valued_accounts` counted closed
            // accounts that do have a value).
            accounts_without_value: s
                .ltv
                .rows
                .iter()
                .filter(|(label, _)| label == crate::book::metrics::NO_VALUE)
                .map(|(_, t)| t.accounts)
                .sum(),
            valuation_age_days: ValuationAges {
                days_0_30: guards.ages.days_0_30,
                days_31_90: guards.ages.days_31_90,
                days_91_180: guards.ages.days_91_180,
                days_over_180: guards.ages.days_over_180,
            },
            stale_valuations: guards.stale_valuations.map(|s| StaleValuations {
                older_than_days: s.older_than_days,
                accounts: s.accounts,
            }),
        }
    }
}

impl LoansQuality {
    fn of(book: &Book) -> LoansQuality {
        let s = &book.summaries;
        LoansQuality {
                    rows_read: book.loan_counts.read,
                    rows_accepted: book.loan_counts.accepted,
                    rows_rejected: book.loan_counts.rejected,
                    duplicate_account_id_rows: book.duplicate_rows,
                    rejects_by_field: rejects_by_field(&book.rejects, InputKind::Loans),
                    credit_score_outside_250_900: book
                        .loans
                        .iter()
                        .filter(|l| l.credit_score.is_some_and(|s| !(250..=900).contains(&s)))
                        .count() as u64,
                    zero_balance_accounts: s.ltv.total.closed_accounts,
                    look_alike_account_ids: LookAlikeIds::of(
                        book.loans.iter().map(|l| l.account_id()),
                    ),
                    ids_shared_by_different_loans: SharedIdsJson {
                        ids: book.shared_ids.ids,
                        rows: book.shared_ids.rows,
                        rule: "tapes only: rows sharing an id but differing in origination date, amount \
                               financed, term, origination value or balance are kept as <id>#<n> in file order"
                            .into(),
                    },
                    optional_fields_unreadable: OptionalUnreadable {
                        rule: "an optional field the figures do not need (apr, monthly_payment, credit_score, \
                               origination_value, vehicle_year, new_used) that cannot be read counts as \
                               missing: the loan stays in the book, its raw text is echoed (an account \
                               with no apr is left out of the run-off)"
                            .into(),
                        fields: book
                            .unreadable
                            .iter()
                            .map(|(field, c)| {
                                let c = UnreadableField {
                                    rows: c.rows,
                                    first_lines: c.first_lines.clone(),
                                };
                                (field.clone(), c)
                            })
                            .collect(),
                    },
                }
    }
}

impl Manifest {
    /// The program, the inputs, the config and the outputs of a run of `book`.
    fn new(config: &Config, book: &Book, started: SystemTime, outputs: Vec<String>) -> Manifest {
        Manifest {
            program: "underwater".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: "run".into(),
            as_of: config.as_of.to_string(),
            as_of_source: config.as_of_source.as_str().into(),
            inputs: Inputs {
                loans: InputJson::new(&book.loans_file, book.loan_counts),
                valuations: book
                    .valuations_file
                    .as_ref()
                    .map(|f| InputJson::new(f, book.valuation_counts)),
            },
            config: ConfigJson::new(config),
            outputs,
            threads: config.threads,
            started_at: rfc3339_utc(started),
            finished_at: rfc3339_utc(SystemTime::now()),
            accounts_blake3: None,
        }
    }
}

impl ConfigJson {
    /// The run's config as summary.json states it.
    fn new(config: &Config) -> ConfigJson {
        let model = &config.model;
        ConfigJson {
            config_file: config.config_file.as_ref().map(|p| p.display().to_string()),
            as_of: config.as_of.to_string(),
            ltv_bands: model.ltv_bands.iter().copied().map(Dec).collect(),
            recovery_rate: Dec(model.recovery_rate),
            repossession_cost: Dec(model.repossession_cost),
            pd_by_days_past_due: points(&model.pd_by_days_past_due),
            segments: model.segments.clone(),
            tape: config.tape.map(|_| "regab".into()),
            tape_period: config.tape_period.map(|d| d.to_string()),
            columns: config.columns.iter().cloned().collect(),
            missing: config.missing.clone(),
            estimate: EstimateJson {
                enabled: config.estimate.enabled,
                new: points(&config.estimate.new.0),
                used: points(&config.estimate.used.0),
                price_index: config
                    .estimate
                    .index
                    .as_ref()
                    .map(|i| i.path.display().to_string()),
            },
            format: match config.format {
                Format::Csv => "csv",
                Format::Parquet => "parquet",
            }
            .into(),
            max_reject_rate: config.max_reject_rate.map(Dec),
            fail_on_stale_days: config.fail_on_stale,
        }
    }
}

impl Status {
    /// Published, or the guard rail that failed.
    fn of(guards: &Guards) -> Status {
        match &guards.failure {
                None => Status {
                    ok: true,
                    exit_code: None,
                    reason: None,
                    note: None,
                },
                Some(e) => Status {
                    ok: false,
                    exit_code: Some(e.exit_code()),
                    reason: Some(e.to_string()),
                    note: Some(
                        "guard rail failed: the book (accounts and summaries) was not published; --out was left as it was"
                            .into(),
                    ),
                },
            }
    }
}

impl Summary {
    /// The summary of a run of `book`; `outputs` names the files written, summary.json last.
    pub fn new(
        config: &Config,
        book: &Book,
        guards: &Guards,
        started: SystemTime,
        outputs: Vec<String>,
    ) -> Summary {
        let model = &config.model;
        let s = &book.summaries;
        let t = &s.ltv.total;
        Summary {
            portfolio: Portfolio {
                totals: t.into(),
                origination_ltv: s.origination_ltv.as_ref().map(Into::into),
            },
            scenarios: model
                .scenarios
                .iter()
                .zip(&s.scenarios)
                .map(|(scenario, (_, table))| ScenarioJson::new(scenario, table))
                .collect(),
            runoff: s
                .runoff
                .as_ref()
                .map(|r| RunoffJson::new(r, &book.months_to_positive_equity, book.as_of)),
            changes: s
                .changes
                .as_ref()
                .zip(book.previous.as_ref())
                .map(|(c, j)| ChangesJson::new(c, &j.previous)),
            top_exposures: TopExposuresJson::of(book),
            tables: Tables {
                ltv_bucket: rows(&s.ltv),
                ltv_migration: (&s.migration).into(),
                segments: s
                    .segments
                    .iter()
                    .map(|table| (table.dimension.clone(), rows(table)))
                    .collect(),
            },
            data_quality: DataQuality::new(config, book, guards),
            manifest: Manifest::new(config, book, started, outputs),
            status: Status::of(guards),
        }
    }

    /// The file's bytes: pretty JSON and a final newline.
    pub fn to_bytes(&self) -> serde_json::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::schema::RESERVED_SEGMENT_NAMES;

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
