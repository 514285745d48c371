//! The summary tables as CSV, and rejects.csv: pure serializers, results in, bytes out.

use crate::book::changes::{Changes, CLOSED, DPD_CLASSES, NEW};
use crate::book::lifetime::{LossCurve, ONE};
use crate::book::runoff::{month_date, Runoff};
use crate::book::segments::TOTAL;
use crate::book::summarize::{Migration, Table};
use crate::book::tally::{Cents, Tally};
use crate::config::InputNames;
use crate::csvfmt::{push_line, push_text};
use crate::date::Date;
use crate::input::load::Reject;
use rust_decimal::Decimal;
use std::fmt::Write as _;

use crate::columns::SUM_METRICS;
use crate::output::format::{money, opt};

/// The summary tables' metric columns: the shared sums, then the counts of estimated values.
const METRICS: [&str; 11] = [
    SUM_METRICS[0],
    SUM_METRICS[1],
    SUM_METRICS[2],
    SUM_METRICS[3],
    SUM_METRICS[4],
    SUM_METRICS[5],
    SUM_METRICS[6],
    SUM_METRICS[7],
    SUM_METRICS[8],
    "estimated_value_accounts",
    "estimated_underwater_accounts",
];

fn metric_cells(t: &Tally) -> [String; 11] {
    [
        t.accounts.to_string(),
        t.closed_accounts.to_string(),
        t.valued_accounts.to_string(),
        money(t.balance.dec()),
        money(t.value.dec()),
        t.underwater_accounts.to_string(),
        money(t.negative_equity.dec()),
        money(t.deficiency_if_default.dec()),
        money(t.expected_deficiency.dec()),
        t.estimated_accounts.to_string(),
        t.estimated_underwater_accounts.to_string(),
    ]
}

/// A summary table as CSV; segment tables add `share_underwater` and `avg_ltv` (balance-weighted),
/// and with the lifetime figures every table ends with `lifetime_expected_deficiency`.
pub fn table_csv(table: &Table, with_ratios: bool, with_lifetime: bool) -> Vec<u8> {
    let mut out = String::new();
    let mut header: Vec<&str> = vec![&table.dimension];
    header.extend(METRICS);
    if with_ratios {
        header.extend(["share_underwater", "avg_ltv"]);
    }
    if with_lifetime {
        header.push(LIFETIME_METRIC);
    }
    push_line(&mut out, header);
    let total = (TOTAL.to_string(), table.total.clone());
    for (label, t) in table.rows.iter().chain(std::iter::once(&total)) {
        push_text(&mut out, label);
        for cell in metric_cells(t) {
            out.push(',');
            out.push_str(&cell);
        }
        if with_ratios {
            out.push(',');
            out.push_str(&opt(t.share_underwater()));
            out.push(',');
            out.push_str(&opt(t.avg_ltv()));
        }
        if with_lifetime {
            out.push(',');
            out.push_str(&money(t.lifetime_expected_deficiency.dec()));
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// rejects.csv: one line per rejected row, in file then line order.
pub fn rejects_csv(rejects: &[Reject], files: &InputNames) -> Vec<u8> {
    let mut out = String::from("file,line,field,reason,raw_record\n");
    for r in rejects {
        push_text(&mut out, files.of(r.input));
        out.push(',');
        let _ = write!(out, "{}", r.line);
        out.push(',');
        push_text(&mut out, &r.field);
        out.push(',');
        push_text(&mut out, &r.reason);
        out.push(',');
        push_text(&mut out, &r.raw);
        out.push('\n');
    }
    out.into_bytes()
}

/// summary_scenarios.csv: the base LTV table, then each stress scenario's, in config order, each with
/// every band, `no_value` and `TOTAL`; the base rows are summary_by_ltv_bucket.csv's. With the
/// lifetime figures each row ends with `lifetime_expected_deficiency` under its scenario.
pub fn scenarios_csv(base: &Table, scenarios: &[(String, Table)], with_lifetime: bool) -> Vec<u8> {
    let mut out = String::from(
        "scenario,ltv_bucket,accounts,balance,value,underwater_accounts,negative_equity,\
         deficiency_if_default,expected_deficiency",
    );
    if with_lifetime {
        out.push(',');
        out.push_str(LIFETIME_METRIC);
    }
    out.push('\n');
    let base = ("base".to_string(), base.clone());
    for (name, table) in std::iter::once(&base).chain(scenarios) {
        let total = (TOTAL.to_string(), table.total.clone());
        for (label, t) in table.rows.iter().chain(std::iter::once(&total)) {
            push_text(&mut out, name);
            out.push(',');
            push_text(&mut out, label);
            // The summary tables' cells without closed/valued counts and the estimated counts.
            let cells = metric_cells(t);
            for i in [0, 3, 4, 5, 6, 7, 8] {
                out.push(',');
                out.push_str(&cells[i]);
            }
            if with_lifetime {
                out.push(',');
                out.push_str(&money(t.lifetime_expected_deficiency.dec()));
            }
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// summary_ltv_migration.csv: accounts and balance for every (origination band, current band) pair,
/// in band order, zeros included, so the file pivots straight into the matrix.
pub fn migration_csv(m: &Migration) -> Vec<u8> {
    let mut out = String::from("origination_ltv_bucket,current_ltv_bucket,accounts,balance\n");
    for (o, from) in m.labels.iter().enumerate() {
        for (c, to) in m.labels.iter().enumerate() {
            let (accounts, balance) = m.cell(o, c);
            push_line(
                &mut out,
                [
                    from.as_str(),
                    to.as_str(),
                    &accounts.to_string(),
                    &money(balance.dec()),
                ],
            );
        }
    }
    out.into_bytes()
}

/// summary_runoff.csv: one row per month from as_of (month 0) over the projected accounts: how many are
/// still open, their balance and value, and how many are underwater by how much.
pub fn runoff_csv(runoff: &Runoff, as_of: Date) -> Vec<u8> {
    let mut out = String::from(
        "month,date,open_accounts,balance,value,underwater_accounts,negative_equity\n",
    );
    for (k, m) in runoff.months.iter().enumerate() {
        let _ = writeln!(
            out,
            "{k},{},{},{},{},{},{}",
            month_date(as_of, k as u32),
            m.open_accounts,
            money(Cents(m.balance).dec()),
            money(Cents(m.value).dec()),
            m.underwater_accounts,
            money(Cents(m.negative_equity).dec()),
        );
    }
    out.into_bytes()
}

/// The lifetime column of the summary tables: the allowance, Σ lifetime expected deficiency.
pub const LIFETIME_METRIC: &str = "lifetime_expected_deficiency";

/// summary_loss_curve.csv: month by month from as_of, the expected defaults (in accounts, 18 places),
/// the expected loss (cents), the cumulative of each, and the expected surviving balance (Σ S(t)·B(t),
/// exact: 20 places, so the curves of a book's parts add up to the whole book's). Month 0 is tonight's open balance. The cumulative loss of the last month is
/// the sum of accounts.csv's `lifetime_expected_deficiency`, and of month 12 the sum of
/// `expected_deficiency_12m` (each account's cumulative is rounded to cents month by month).
pub fn loss_curve_csv(curve: &LossCurve, as_of: Date) -> Vec<u8> {
    let mut out = String::from(
        "month,date,expected_defaults,expected_loss,cumulative_defaults,cumulative_loss,surviving_balance\n",
    );
    let accounts = |units: u128| {
        Decimal::try_from_i128_with_scale(units as i128, 18)
            .map_or_else(|_| "".into(), |d| d.to_string())
    };
    let _ = writeln!(
        out,
        "0,{},{},0.00,{},0.00,{}",
        month_date(as_of, 0),
        accounts(0),
        accounts(0),
        exact_dollars(curve.starting_balance.max(0) as u128 * ONE),
    );
    let (mut defaults, mut loss) = (0u128, 0i128);
    for (i, m) in curve.months.iter().enumerate() {
        defaults += m.defaults;
        loss += m.loss;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            i + 1,
            month_date(as_of, i as u32 + 1),
            accounts(m.defaults),
            money(Cents(m.loss).dec()),
            accounts(defaults),
            money(Cents(loss).dec()),
            exact_dollars(m.surviving_balance),
        );
    }
    out.into_bytes()
}

/// An amount in 10^-18 cents as dollars with all 20 decimals (beyond `Decimal`'s 28 digits at book
/// scale, so written from the integer).
fn exact_dollars(units: u128) -> String {
    const SCALE: u128 = 100 * ONE;
    format!("{}.{:020}", units / SCALE, units % SCALE)
}

/// summary_changes_ltv.csv: accounts and balance for every (previous band, current band) pair, `new` as a
/// previous band and `closed` as a current one, zeros included. Balance is tonight's, the previous one for
/// closed accounts.
pub fn changes_ltv_csv(c: &Changes) -> Vec<u8> {
    let rows: Vec<&str> = c.bands.iter().map(String::as_str).chain([NEW]).collect();
    let cols: Vec<&str> = c.bands.iter().map(String::as_str).chain([CLOSED]).collect();
    let mut out = String::from("previous_ltv_bucket,current_ltv_bucket,accounts,balance\n");
    for (r, from) in rows.iter().enumerate() {
        for (k, to) in cols.iter().enumerate() {
            let (accounts, balance) = c.ltv[r * cols.len() + k];
            push_line(
                &mut out,
                [
                    *from,
                    *to,
                    &accounts.to_string(),
                    &money(Cents(balance).dec()),
                ],
            );
        }
    }
    out.into_bytes()
}

/// summary_changes_delinquency.csv: the roll-rate matrix over the delinquency classes, `new` and
/// `closed`, with each cell's share of its previous class (4 places, empty for an empty class).
pub fn changes_delinquency_csv(c: &Changes) -> Vec<u8> {
    let rows: Vec<&str> = DPD_CLASSES.iter().copied().chain([NEW]).collect();
    let cols: Vec<&str> = DPD_CLASSES.iter().copied().chain([CLOSED]).collect();
    let mut out = String::from("previous,current,accounts,balance,share_of_previous\n");
    for (r, from) in rows.iter().enumerate() {
        let cells = &c.delinquency[r * cols.len()..(r + 1) * cols.len()];
        let row_total: u64 = cells.iter().map(|(n, _)| n).sum();
        for (to, (accounts, balance)) in cols.iter().zip(cells) {
            let share = match row_total {
                0 => String::new(),
                t => crate::money::ratio(Decimal::from(*accounts), Decimal::from(t), 4).to_string(),
            };
            push_line(
                &mut out,
                [
                    *from,
                    *to,
                    &accounts.to_string(),
                    &money(Cents(*balance).dec()),
                    &share,
                ],
            );
        }
    }
    out.into_bytes()
}

/// summary_changes_bridge.csv: the negative-equity bridge from the previous run's total to tonight's.
pub fn changes_bridge_csv(c: &Changes) -> Vec<u8> {
    let mut out = String::from("line,negative_equity\n");
    for (line, cents) in c.negative_equity.lines() {
        let _ = writeln!(out, "{line},{}", money(Cents(cents).dec()));
    }
    out.into_bytes()
}
