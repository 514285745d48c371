//! Reports as pure serializers: results in, bytes out. Writing files is [`crate::output`]'s job.

use crate::csvfmt::{push_date, push_decimal, push_field, push_line, push_text, push_u32};
use crate::load::{InputKind, Loan, LoanLayout, Reject, ACCOUNT_COLUMNS};
use crate::matching::Valuation;
use crate::metrics::{Bands, Figures};
use crate::summarize::{Migration, Summaries, Table, Tally};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// `value_source` for a valuation without a `source` field.
pub const UNNAMED_SOURCE: &str = "valuation";
/// `value_source` for an account with no usable valuation.
pub const NO_SOURCE: &str = "none";

/// Header line of accounts.csv.
pub fn accounts_header(layout: &LoanLayout) -> String {
    let mut out = String::new();
    push_line(
        &mut out,
        ACCOUNT_COLUMNS
            .iter()
            .copied()
            .chain(layout.tail_names.iter().map(String::as_str)),
    );
    out
}

/// Appends one account's line of accounts.csv.
pub fn account_line(
    out: &mut String,
    loan: &Loan,
    val: Option<&Valuation>,
    f: &Figures,
    bands: &Bands,
) {
    push_text(out, loan.account_id());
    out.push(',');
    push_text(out, loan.vin());
    out.push(',');
    push_decimal(out, f.balance);
    out.push(',');
    match (&f.valued, val) {
        (Some(v), Some(val)) => {
            push_decimal(out, v.value);
            out.push(',');
            push_date(out, val.date);
            out.push(',');
            push_text(
                out,
                if val.source.is_empty() {
                    UNNAMED_SOURCE
                } else {
                    &val.source
                },
            );
            out.push(',');
            push_decimal(out, v.equity);
            out.push(',');
            push_decimal(out, v.negative_equity);
            out.push(',');
            push_decimal(out, v.ltv);
        }
        _ => {
            out.push_str(",,");
            out.push_str(NO_SOURCE);
            out.push_str(",,,");
        }
    }
    out.push(',');
    push_field(out, &bands.labels[f.bucket]);
    out.push(',');
    if let Some(r) = f.origination_ltv {
        push_decimal(out, r);
    }
    out.push(',');
    push_field(out, &bands.labels[f.origination_bucket]);
    for figure in [&f.net_recovery, &f.deficiency_if_default] {
        out.push(',');
        push_decimal(out, *figure);
    }
    out.push(',');
    push_u32(out, loan.days_past_due);
    out.push(',');
    push_decimal(out, f.pd);
    out.push(',');
    push_decimal(out, f.expected_deficiency);
    out.push_str(loan.tail());
    out.push('\n');
}

/// A money total as written in reports: always two decimals.
pub fn money(d: &Decimal) -> String {
    crate::money::cents(*d).to_string()
}

fn opt(d: Option<Decimal>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

const METRICS: [&str; 9] = [
    "accounts",
    "balance",
    "value",
    "underwater_accounts",
    "negative_equity",
    "deficiency_if_default",
    "expected_deficiency",
    "estimated_value_accounts",
    "estimated_underwater_accounts",
];

fn metric_cells(t: &Tally) -> [String; 9] {
    [
        t.accounts.to_string(),
        money(&t.balance.dec()),
        money(&t.value.dec()),
        t.underwater_accounts.to_string(),
        money(&t.negative_equity.dec()),
        money(&t.deficiency_if_default.dec()),
        money(&t.expected_deficiency.dec()),
        t.estimated_accounts.to_string(),
        t.estimated_underwater_accounts.to_string(),
    ]
}

/// A summary table as CSV; segment tables add `share_underwater` and `avg_ltv` (balance-weighted).
pub fn table_csv(table: &Table, with_ratios: bool) -> Vec<u8> {
    let mut out = String::new();
    let mut header: Vec<&str> = vec![&table.dimension];
    header.extend(METRICS);
    if with_ratios {
        header.extend(["share_underwater", "avg_ltv"]);
    }
    push_line(&mut out, header);
    let total = ("TOTAL".to_string(), table.total.clone());
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
        out.push('\n');
    }
    out.into_bytes()
}

/// rejects.csv: one line per rejected row, in file then line order.
pub fn rejects_csv(rejects: &[Reject], loans_path: &str, valuations_path: &str) -> Vec<u8> {
    let mut out = String::from("file,line,field,reason,raw_record\n");
    for r in rejects {
        push_text(
            &mut out,
            match r.input {
                InputKind::Loans => loans_path,
                InputKind::Valuations => valuations_path,
            },
        );
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

/// A tally as JSON; money as strings so no reader turns it into a binary float.
pub fn tally_json(t: &Tally) -> Value {
    json!({
        "accounts": t.accounts,
        "balance": money(&t.balance.dec()),
        "value": money(&t.value.dec()),
        "valued_accounts": t.valued_accounts,
        "underwater_accounts": t.underwater_accounts,
        "negative_equity": money(&t.negative_equity.dec()),
        "deficiency_if_default": money(&t.deficiency_if_default.dec()),
        "expected_deficiency": money(&t.expected_deficiency.dec()),
        "share_underwater": t.share_underwater().map(|d| d.to_string()),
        "avg_ltv": t.avg_ltv().map(|d| d.to_string()),
        "estimated_value_accounts": t.estimated_accounts,
        "estimated_underwater_accounts": t.estimated_underwater_accounts,
    })
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
                    &money(&balance.dec()),
                ],
            );
        }
    }
    out.into_bytes()
}

/// The migration matrix for summary.json: rows are origination bands, columns current bands.
pub fn migration_json(m: &Migration) -> Value {
    let n = m.labels.len();
    json!({
        "rows_origination_ltv_bucket": m.labels,
        "columns_current_ltv_bucket": m.labels,
        "accounts": (0..n).map(|o| (0..n).map(|c| m.cell(o, c).0).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "balance": (0..n).map(|o| (0..n).map(|c| money(&m.cell(o, c).1.dec())).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

pub fn table_json(table: &Table) -> Value {
    let mut rows: Vec<Value> = table
        .rows
        .iter()
        .map(|(label, t)| {
            let mut v = tally_json(t);
            v[&table.dimension] = json!(label);
            v
        })
        .collect();
    let mut total = tally_json(&table.total);
    total[&table.dimension] = json!("TOTAL");
    rows.push(total);
    json!(rows)
}

/// Money with thousands separators, for people: `$1,234,567.89`.
pub fn human_money(d: &Decimal) -> String {
    let s = money(d);
    let (sign, s) = s.strip_prefix('-').map_or(("", s.as_str()), |r| ("-", r));
    let (int, frac) = s.split_once('.').unwrap_or((s, "00"));
    format!("{sign}${}.{frac}", group_thousands(int))
}

fn group_thousands(digits: &str) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

fn human_count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// A share as a percent with one decimal, rounded half-even (`{:.1}` on a Decimal truncates).
fn percent(share: Option<Decimal>) -> String {
    share.map_or("-".into(), |d| {
        format!("{}%", crate::money::round_to(d * Decimal::ONE_HUNDRED, 1))
    })
}

/// The short summary printed on stdout at the end of a run.
pub fn terminal_summary(
    s: &Summaries,
    accepted: u64,
    rejected: u64,
    as_of: &str,
    out_dir: &str,
) -> String {
    let t = &s.ltv.total;
    let pct = percent;
    let mut out = format!(
        "underwater: book as of {as_of}: {} accounts ({} rows rejected), balance {}\n  \
         underwater {} accounts ({}), negative equity {}\n  \
         deficiency if default {}, expected deficiency {}\n\n",
        human_count(accepted),
        human_count(rejected),
        human_money(&t.balance.dec()),
        human_count(t.underwater_accounts),
        pct(t.share_underwater()),
        human_money(&t.negative_equity.dec()),
        human_money(&t.deficiency_if_default.dec()),
        human_money(&t.expected_deficiency.dec()),
    );
    if t.estimated_accounts > 0 {
        out.insert_str(
            out.len() - 1,
            &format!(
                "  values estimated from origination value and age for {} accounts, {} of them underwater\n",
                human_count(t.estimated_accounts),
                human_count(t.estimated_underwater_accounts),
            ),
        );
    }
    if let Some(p) = &s.origination_ltv {
        out.insert_str(
            out.len() - 1,
            &format!(
                "  origination LTV median {} (5th-95th percentile {}-{}) over {} accounts\n",
                p.median,
                p.p05,
                p.p95,
                human_count(p.count)
            ),
        );
    }
    let header = [
        "LTV band",
        "accounts",
        "balance",
        "underwater",
        "negative equity",
        "exp. deficiency",
    ];
    let mut rows: Vec<[String; 6]> = Vec::new();
    let total = ("TOTAL".to_string(), t.clone());
    for (label, r) in s.ltv.rows.iter().chain(std::iter::once(&total)) {
        rows.push([
            label.clone(),
            human_count(r.accounts),
            human_money(&r.balance.dec()),
            human_count(r.underwater_accounts),
            human_money(&r.negative_equity.dec()),
            human_money(&r.expected_deficiency.dec()),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut l = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                l.push_str(&format!(" {:<w$}", c, w = widths[i]));
            } else {
                l.push_str(&format!("  {:>w$}", c, w = widths[i]));
            }
        }
        l.push('\n');
        l
    };
    out.push_str(&line(&header));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule.iter().map(String::as_str).collect::<Vec<_>>()));
    for (i, r) in rows.iter().enumerate() {
        if i == rows.len() - 1 {
            out.push_str(&line(&rule.iter().map(String::as_str).collect::<Vec<_>>()));
        }
        out.push_str(&line(&r.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out.push_str(&format!("\n  outputs in {out_dir}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_money_groups_thousands() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(human_money(&d("1234567.89")), "$1,234,567.89");
        assert_eq!(human_money(&d("-3500.00")), "-$3,500.00");
        assert_eq!(human_money(&d("12")), "$12.00");
        assert_eq!(human_money(&Decimal::ZERO), "$0.00");
        assert_eq!(human_count(1234), "1,234");
    }

    #[test]
    fn terminal_share_rounds_instead_of_truncating() {
        let d = |s: &str| Some(s.parse::<Decimal>().unwrap());
        // 6 of 9 accounts: share 0.6667 printed as 66.6% before the fix.
        assert_eq!(percent(d("0.6667")), "66.7%");
        assert_eq!(percent(d("0.2750")), "27.5%");
        assert_eq!(percent(d("0.00025")), "0.0%");
        assert_eq!(percent(None), "-");
    }
}
