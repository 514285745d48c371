//! The backtest's files, as pure serializers from a [`Backtest`] to bytes: backtest.csv (one row per
//! account), summary_backtest_by_pd.csv, summary_backtest_by_<group>.csv, outcome_rejects.csv and
//! the backtest's summary.json. Text from an input goes through the same neutralizing as every CSV.

use crate::book::backtest::{Account, Backtest, LossTable, LossTally, PdClass};
use crate::book::outcome::Realized;
use crate::book::predicted::Curve;
use crate::book::segments::{segment_key, segment_label, TOTAL};
use crate::book::Book;
use crate::csvfmt::{push_decimal, push_line, push_text, push_u32};
use crate::input::outcomes::OutcomeReject;
use crate::money::cents;
use crate::output::accounts_csv::{write_lines, Lines};
use rust_decimal::Decimal;
use serde::Serialize;
use std::fmt::Write as _;

use crate::output::format::{float, money, opt};
use crate::output::manifest::CommandManifest;

/// The columns of backtest.csv before the segments.
const PREDICTED: [&str; 8] = [
    "account_id",
    "balance",
    "value",
    "value_source",
    "ltv_bucket",
    "pd",
    "deficiency_if_default",
    "expected_deficiency",
];
/// The columns of backtest.csv after the segments.
const REALIZED: [&str; 7] = [
    "status",
    "defaulted",
    "default_month",
    "default_rule",
    "balance_at_default",
    "recoveries",
    "realized_loss",
];

/// Writes backtest.csv, one row per account in the book's order, as accounts.csv is written.
pub fn write_backtest_csv(
    book: &Book,
    bt: &Backtest,
    file: std::fs::File,
) -> anyhow::Result<crate::output::staging::Written> {
    let mut header = String::new();
    push_line(
        &mut header,
        PREDICTED
            .iter()
            .copied()
            .chain(book.loaded.layout.segments.iter().map(|(n, _)| n.as_str()))
            .chain(REALIZED),
    );
    let lines = Lines {
        name: "backtest.csv",
        header: &header,
        count: bt.accounts.len(),
        // The computed columns and the segments' labels take about 120 bytes.
        line_bytes: 160,
    };
    write_lines(file, &lines, |range, out| {
        for a in &bt.accounts[range] {
            push_account(out, book, a);
        }
    })
}

/// One account's line of backtest.csv, written in place (the figures as `push_decimal` writes
/// them, text through `push_text`).
fn push_account(out: &mut String, book: &Book, a: &Account) {
    let loan = &book.loaded.loans[a.loan];
    let f = &a.figures;
    push_text(out, loan.account_id());
    out.push(',');
    push_decimal(out, cents(f.balance));
    out.push(',');
    if let Some(v) = &f.valued {
        push_decimal(out, cents(v.value));
    }
    out.push(',');
    let source = match (&f.valued, book.valuation(a.loan)) {
        (Some(_), Some(v)) if v.source.is_empty() => "valuation",
        (Some(_), Some(v)) => &v.source[..],
        _ => "none",
    };
    push_text(out, source);
    out.push(',');
    push_text(out, &book.bands.labels[f.bucket]);
    out.push(',');
    push_decimal(out, f.pd.normalize());
    for amount in [f.deficiency_if_default, f.expected_deficiency] {
        out.push(',');
        push_decimal(out, cents(amount));
    }
    for (_, s) in &book.loaded.layout.segments {
        out.push(',');
        push_text(out, &segment_label(segment_key(loan, s)));
    }
    out.push(',');
    push_realized(out, a.realized.as_ref());
    out.push('\n');
}

/// The realized columns of an account's line.
fn push_realized(out: &mut String, realized: Option<&Realized>) {
    let Some(r) = realized else {
        out.push_str("no_outcome");
        out.push_str(&",".repeat(REALIZED.len() - 1));
        return;
    };
    out.push_str(r.status.label());
    let Some((month, rule)) = r.default else {
        out.push_str(",false");
        out.push_str(&",".repeat(REALIZED.len() - 2));
        return;
    };
    out.push_str(",true,");
    push_u32(out, month);
    out.push(',');
    out.push_str(rule.label());
    for amount in [r.balance_at_default, r.recoveries, r.realized_loss] {
        out.push(',');
        push_decimal(out, cents(amount));
    }
}

/// The columns of summary_backtest_by_pd.csv (and of the workbook's pd sheet).
pub const PD_COLUMNS: [&str; 8] = [
    "pd",
    "accounts",
    "expected_defaults",
    "defaults",
    "default_rate",
    "jeffreys_low",
    "jeffreys_high",
    "verdict",
];

/// The columns summary_backtest_by_pd.csv adds with the lifetime model: Σ pd_H, the accounts that
/// have it, and where the class's mean pd_H lies against the Jeffreys interval.
pub const PREDICTED_PD_COLUMNS: [&str; 3] = [
    "predicted_defaults",
    "predicted_accounts",
    "predicted_verdict",
];

/// summary_backtest_by_pd.csv: per pd class, then TOTAL; `predicted`: with the lifetime model's
/// columns.
pub fn by_pd_csv(rows: &[PdClass], predicted: bool) -> Vec<u8> {
    let mut out = String::new();
    let extra: &[&str] = if predicted {
        &PREDICTED_PD_COLUMNS
    } else {
        &[]
    };
    push_line(&mut out, PD_COLUMNS.iter().chain(extra).copied());
    for r in rows {
        let mut cells = vec![
            r.pd.map_or(TOTAL.to_string(), |p| p.to_string()),
            r.accounts.to_string(),
            r.expected_defaults.normalize().to_string(),
            r.defaults.to_string(),
            opt(r.default_rate()),
            float(r.jeffreys.map(|j| j.low)),
            float(r.jeffreys.map(|j| j.high)),
            r.verdict().unwrap_or_default().to_string(),
        ];
        if predicted {
            cells.extend([
                r.predicted_defaults.normalize().to_string(),
                r.predicted_accounts.to_string(),
                r.predicted_verdict().unwrap_or_default().to_string(),
            ]);
        }
        push_line(&mut out, cells.iter().map(String::as_str));
    }
    out.into_bytes()
}

const LOSS_COLUMNS: [&str; 10] = [
    "accounts",
    "defaults",
    "expected_deficiency",
    "deficiency_if_default_of_defaulted",
    "balance_of_defaulted",
    "balance_at_default",
    "recoveries",
    "realized_loss",
    "loss_severity",
    "modeled_severity",
];

fn loss_cells(t: &LossTally) -> Vec<String> {
    vec![
        t.accounts.to_string(),
        t.defaults.to_string(),
        money(t.expected_deficiency),
        money(t.deficiency_if_default_of_defaulted),
        money(t.balance_of_defaulted),
        money(t.balance_at_default),
        money(t.recoveries),
        money(t.realized_loss),
        opt(t.loss_severity()),
        opt(t.modeled_severity()),
    ]
}

/// summary_backtest_by_<group>.csv: one row per group label, then TOTAL; `predicted`: with the
/// lifetime model's Σ expected_deficiency_H (`predicted_loss`) last.
pub fn loss_table_csv(table: &LossTable, predicted: bool) -> Vec<u8> {
    let mut out = String::new();
    let extra: &[&str] = if predicted { &["predicted_loss"] } else { &[] };
    push_line(
        &mut out,
        std::iter::once(table.dimension.as_str())
            .chain(LOSS_COLUMNS)
            .chain(extra.iter().copied()),
    );
    let total = (TOTAL.to_string(), table.total.clone());
    // A segment value that is literally TOTAL is already labelled `TOTAL (value)`.
    for (label, t) in table.rows.iter().chain(std::iter::once(&total)) {
        push_text(&mut out, label);
        for c in loss_cells(t) {
            out.push(',');
            out.push_str(&c);
        }
        if predicted {
            out.push(',');
            out.push_str(&money(t.predicted_loss));
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// One month of the backtest's curve: cumulative, over the tested accounts with predictions.
#[derive(Serialize)]
pub struct CurveRow {
    pub month: u32,
    /// Σ pd to the month, 18 places at most (normalized).
    pub predicted_defaults: String,
    pub realized_defaults: u64,
    pub predicted_loss: String,
    pub realized_loss: String,
}

/// The curve month by month to the horizon, cumulative.
pub fn curve_rows(curve: &Curve) -> Vec<CurveRow> {
    let (mut predicted, mut realized) = ((0u128, 0i128), (0u64, Decimal::ZERO));
    let mut rows = Vec::with_capacity(curve.realized.len());
    for (i, (defaults, loss)) in curve.realized.iter().enumerate() {
        if let Some(m) = curve.predicted.months.get(i) {
            predicted.0 += m.defaults;
            predicted.1 += m.loss;
        }
        realized.0 += defaults;
        realized.1 += loss;
        rows.push(CurveRow {
            month: i as u32 + 1,
            predicted_defaults: Decimal::try_from_i128_with_scale(predicted.0 as i128, 18)
                .map_or_else(|_| String::new(), |d| d.normalize().to_string()),
            realized_defaults: realized.0,
            predicted_loss: money(Decimal::from_i128_with_scale(predicted.1, 2)),
            realized_loss: money(realized.1),
        });
    }
    rows
}

/// summary_backtest_curve.csv: month by month to the horizon, over the tested accounts with
/// predictions, the predicted against the realized cumulative defaults and loss.
pub fn curve_csv(curve: &Curve) -> Vec<u8> {
    let mut out =
        String::from("month,predicted_defaults,realized_defaults,predicted_loss,realized_loss\n");
    for r in curve_rows(curve) {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            r.month, r.predicted_defaults, r.realized_defaults, r.predicted_loss, r.realized_loss
        );
    }
    out.into_bytes()
}

/// outcome_rejects.csv: the outcome rows that could not be used.
pub fn outcome_rejects_csv(rejects: &[OutcomeReject]) -> Vec<u8> {
    let mut out = String::new();
    push_line(&mut out, ["file", "line", "field", "reason"]);
    for r in rejects {
        let file = r.file.display().to_string();
        let line = r.line.to_string();
        push_line(&mut out, [file.as_str(), &line, &r.field, &r.reason]);
    }
    out.into_bytes()
}

/// What summary.json says of the outcome file.
pub struct OutcomeFacts {
    pub rows: RowCounts,
    pub months_of_data: u32,
    pub rules: crate::input::outcomes::Rules,
    pub origin: Option<ReAnchored>,
}

/// `--start-month K`: the book re-anchored K months after the data's start, and where the accounts
/// of month 0 went before it.
#[derive(Serialize)]
pub struct ReAnchored {
    pub start_month: u32,
    pub accounts_at_month_0: u64,
    /// Open at month K: the book judged.
    pub accounts_open: u64,
    pub gone_before: crate::book::reanchor::Gone,
}

impl ReAnchored {
    pub fn of(o: &crate::book::reanchor::Origin) -> ReAnchored {
        ReAnchored {
            start_month: o.month,
            accounts_at_month_0: o.accounts_at_start,
            accounts_open: o.loan_at_start.len() as u64,
            gone_before: o.gone,
        }
    }
}

/// The backtest's summary.json: every table above, the counts and the AUCs.
#[derive(Serialize)]
pub struct BacktestSummary {
    pub as_of: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub re_anchored: Option<ReAnchored>,
    pub horizon_months: u32,
    pub months_of_data: u32,
    /// The months the walk could see: the horizon, or the data's last month when it ends sooner.
    pub months_walked: u32,
    /// The horizon asks for months the data does not have: a default after the data's end cannot be
    /// seen, so the realized rates are short of the horizon's.
    pub horizon_beyond_data: bool,
    pub rules: &'static str,
    /// The rules the outcome file's columns let the walk evaluate (a rule whose fields the file does
    /// not carry cannot fire).
    pub rules_evaluated: Vec<&'static str>,
    pub accounts: AccountCounts,
    pub outcome_rows: RowCounts,
    pub by_pd: Vec<PdRow>,
    /// AUC of pd for the defaults (Mann–Whitney, ties half), 4 places.
    pub auc_pd: Option<String>,
    /// AUC of the exact LTV for the defaults, over accounts with a value, 4 places.
    pub auc_ltv: Option<String>,
    pub by_ltv_bucket: Vec<LossRow>,
    pub by_segment: Vec<SegmentRows>,
    /// The lifetime model's cumulative predicted against realized defaults and loss, month by month
    /// (absent with `--no-lifetime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<Vec<CurveRow>>,
    pub manifest: CommandManifest,
}

#[derive(Serialize)]
pub struct AccountCounts {
    pub in_book: u64,
    pub no_outcome: u64,
    pub by_status: std::collections::BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
pub struct RowCounts {
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Rows (accepted) whose account is not in the book: a panel's rows whose loan was rejected,
    /// loan-month records of accounts the loans file does not have.
    pub not_in_book: u64,
}

#[derive(Serialize)]
pub struct PdRow {
    pub pd: String,
    pub accounts: u64,
    pub expected_defaults: String,
    pub defaults: u64,
    pub default_rate: Option<String>,
    /// Floats: beta quantiles at full precision.
    pub jeffreys_low: Option<f64>,
    pub jeffreys_high: Option<f64>,
    pub verdict: Option<&'static str>,
    /// The lifetime model's Σ pd_H, the accounts with it and its verdict (absent with
    /// `--no-lifetime`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<PredictedPd>,
}

#[derive(Serialize)]
pub struct PredictedPd {
    pub predicted_defaults: String,
    pub predicted_accounts: u64,
    pub predicted_verdict: Option<&'static str>,
}

#[derive(Serialize)]
pub struct LossRow {
    pub group: String,
    pub accounts: u64,
    pub defaults: u64,
    pub expected_deficiency: String,
    pub deficiency_if_default_of_defaulted: String,
    pub balance_of_defaulted: String,
    pub balance_at_default: String,
    pub recoveries: String,
    pub realized_loss: String,
    pub loss_severity: Option<String>,
    pub modeled_severity: Option<String>,
    /// Σ expected_deficiency_H (absent with `--no-lifetime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_loss: Option<String>,
}

#[derive(Serialize)]
pub struct SegmentRows {
    pub segment: String,
    pub rows: Vec<LossRow>,
}

fn loss_rows(table: &LossTable, predicted: bool) -> Vec<LossRow> {
    let row = |group: &str, t: &LossTally| LossRow {
        group: group.to_string(),
        accounts: t.accounts,
        defaults: t.defaults,
        expected_deficiency: money(t.expected_deficiency),
        deficiency_if_default_of_defaulted: money(t.deficiency_if_default_of_defaulted),
        balance_of_defaulted: money(t.balance_of_defaulted),
        balance_at_default: money(t.balance_at_default),
        recoveries: money(t.recoveries),
        realized_loss: money(t.realized_loss),
        loss_severity: t.loss_severity().map(|d| d.to_string()),
        modeled_severity: t.modeled_severity().map(|d| d.to_string()),
        predicted_loss: predicted.then(|| money(t.predicted_loss)),
    };
    table
        .rows
        .iter()
        .map(|(l, t)| row(l, t))
        .chain(std::iter::once(row(TOTAL, &table.total)))
        .collect()
}

impl BacktestSummary {
    pub fn new(
        book: &Book,
        bt: &Backtest,
        outcomes: OutcomeFacts,
        manifest: CommandManifest,
    ) -> BacktestSummary {
        let predicted = bt.curve.is_some();
        BacktestSummary {
            as_of: book.as_of.to_string(),
            re_anchored: outcomes.origin,
            horizon_months: bt.horizon,
            months_of_data: outcomes.months_of_data,
            months_walked: bt.horizon.min(outcomes.months_of_data),
            horizon_beyond_data: bt.horizon > outcomes.months_of_data,
            rules: crate::book::outcome::RULES,
            rules_evaluated: outcomes.rules.evaluated(),
            accounts: AccountCounts {
                in_book: bt.counts.accounts,
                no_outcome: bt.counts.no_outcome,
                by_status: bt.counts.by_status.clone(),
            },
            outcome_rows: outcomes.rows,
            by_pd: bt
                .by_pd
                .iter()
                .map(|r| PdRow {
                    pd: r.pd.map_or(TOTAL.to_string(), |p| p.to_string()),
                    accounts: r.accounts,
                    expected_defaults: r.expected_defaults.normalize().to_string(),
                    defaults: r.defaults,
                    default_rate: r.default_rate().map(|d| d.to_string()),
                    jeffreys_low: r.jeffreys.map(|j| j.low),
                    jeffreys_high: r.jeffreys.map(|j| j.high),
                    verdict: r.verdict(),
                    predicted: predicted.then(|| PredictedPd {
                        predicted_defaults: r.predicted_defaults.normalize().to_string(),
                        predicted_accounts: r.predicted_accounts,
                        predicted_verdict: r.predicted_verdict(),
                    }),
                })
                .collect(),
            auc_pd: bt.auc_pd.map(|d| d.to_string()),
            auc_ltv: bt.auc_ltv.map(|d| d.to_string()),
            by_ltv_bucket: loss_rows(&bt.by_ltv, predicted),
            by_segment: bt
                .by_segment
                .iter()
                .map(|t| SegmentRows {
                    segment: t.dimension.clone(),
                    rows: loss_rows(t, predicted),
                })
                .collect(),
            curve: bt.curve.as_ref().map(curve_rows),
            manifest,
        }
    }

    pub fn to_bytes(&self) -> serde_json::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
