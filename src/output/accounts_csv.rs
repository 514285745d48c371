//! accounts.csv: one line per account in output order, and the writer that streams it at book scale.
//!
//! The line serializer is pure (results in, bytes out); the writer formats groups of lines in parallel
//! while another thread writes the group before, so memory stays bounded whatever the book's size.

use crate::book::lifetime::AccountLifetime;
use crate::book::metrics::{Bands, Figures};
use crate::book::segments::{credit_tier, term_band};
use crate::book::{Book, OutlookAndPrevious};
use crate::columns::{ACCOUNT_COLUMNS, LIFETIME_COLUMNS, PREVIOUS_COLUMNS};
use crate::csvfmt::{push_date, push_decimal, push_field, push_line, push_text, push_u32};
use crate::date::Date;
use crate::input::load::{Loan, LoanLayout};
use crate::input::valuations::Valuation;
use anyhow::Context;
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::io::Write;

/// `value_source` for a valuation without a `source` field.
pub const UNNAMED_SOURCE: &str = "valuation";
/// `value_source` for an account with no usable valuation.
pub const NO_SOURCE: &str = "none";

/// Header line of accounts.csv; `previous`: the run compares with an earlier one; `lifetime`: the
/// lifetime figures are on.
pub fn accounts_header(layout: &LoanLayout, previous: bool, lifetime: bool) -> String {
    let mut out = String::new();
    let previous_columns: &[&str] = if previous { &PREVIOUS_COLUMNS } else { &[] };
    let lifetime_columns: &[&str] = if lifetime { &LIFETIME_COLUMNS } else { &[] };
    push_line(
        &mut out,
        ACCOUNT_COLUMNS
            .iter()
            .chain(previous_columns)
            .chain(lifetime_columns)
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
    outlook: OutlookAndPrevious<'_>,
    bands: &Bands,
    as_of: Date,
) {
    push_text(out, loan.account_id());
    out.push(',');
    push_text(out, loan.vin());
    out.push(',');
    push_decimal(out, f.balance);
    out.push(',');
    push_valuation(out, f, val, as_of);
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
    out.push(',');
    if let Some(m) = outlook.months_to_positive_equity {
        push_u32(out, m);
    }
    push_segments(out, loan, outlook);
    out.push_str(loan.tail());
    out.push('\n');
}

/// The valuation's columns, value through LTV: empty (source `none`) for an account with no value.
#[inline]
fn push_valuation(out: &mut String, f: &Figures, val: Option<&Valuation>, as_of: Date) {
    match (&f.valued, val) {
        (Some(v), Some(val)) => {
            push_decimal(out, v.value);
            out.push(',');
            push_date(out, val.date);
            out.push(',');
            // Estimates are dated as_of: an age would read as a fresh appraisal, so it stays empty.
            if !v.estimated {
                push_u32(out, val.date.days_until(as_of).max(0) as u32);
            }
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
            out.push_str(",,,");
            out.push_str(NO_SOURCE);
            out.push_str(",,,");
        }
    }
}

/// The report's own segments, so a query groups by the words the tables use, and the account in the
/// previous run.
#[inline]
fn push_segments(out: &mut String, loan: &Loan, outlook: OutlookAndPrevious<'_>) {
    out.push(',');
    push_u32(out, loan.origination_date.year().max(0) as u32);
    out.push(',');
    out.push_str(credit_tier(loan.credit_score).1);
    out.push(',');
    push_field(out, term_band(loan.term_months).1);
    if let Some(previous) = outlook.previous {
        out.push(',');
        if let Some((band, days)) = previous {
            push_field(out, band);
            out.push(',');
            push_u32(out, days);
        } else {
            out.push(',');
        }
    }
    if let Some(lifetime) = outlook.lifetime {
        push_lifetime(out, lifetime);
    }
}

/// The lifetime columns: the pd at its 18 places, the two losses in cents; empty without figures.
fn push_lifetime(out: &mut String, lifetime: Option<AccountLifetime>) {
    match lifetime {
        Some(l) => {
            out.push(',');
            push_decimal(out, l.pd_decimal());
            out.push(',');
            push_decimal(out, Decimal::new(l.loss, 2));
            out.push(',');
            push_decimal(out, Decimal::new(l.loss_12m, 2));
        }
        None => out.push_str(",,,"),
    }
}

/// The rows of accounts.csv for a range of the output order.
fn account_lines(book: &Book, range: std::ops::Range<usize>, out: &mut String) {
    let order = &book.loaded.order[range];
    for (k, &i) in order.iter().enumerate() {
        book.prefetch_ahead(order, k);
        let i = i as usize;
        account_line(
            out,
            &book.loaded.loans[i],
            book.valuation(i),
            &book.figures(i),
            book.outlook(i),
            &book.bands,
            book.as_of,
        );
    }
}

/// Writes accounts.csv, as [`write_lines`] writes.
pub fn write_accounts_csv(
    book: &Book,
    file: std::fs::File,
) -> anyhow::Result<super::staging::Written> {
    let n = book.loaded.loans.len();
    let header = accounts_header(
        &book.loaded.layout,
        book.previous.is_some(),
        book.summaries.loss_curve.is_some(),
    );
    // Each piece's string is sized once, for lines of the book's average length and some: the computed
    // columns take up to about 170 bytes, the loan's own columns what they take in its text: a fixed
    // guess too small makes every piece grow once, a copy each.
    let tails: usize = book.loaded.loans.par_iter().map(|l| l.tail().len()).sum();
    let lines = Lines {
        name: "accounts.csv",
        header: &header,
        count: n,
        line_bytes: 192 + tails / n.max(1),
    };
    write_lines(file, &lines, |range, out| account_lines(book, range, out))
}

/// A per-account file to write: its header, then `count` lines of about `line_bytes` each.
pub struct Lines<'a> {
    pub name: &'a str,
    pub header: &'a str,
    pub count: usize,
    pub line_bytes: usize,
}

/// Writes a per-account file. Lines are formatted in parallel a group at a time by `push` (lines
/// `range` of the file into `out`), so memory stays bounded at book scale, while another thread
/// writes the group before, straight to the disk where the filesystem allows
/// ([`super::staging::DirectFile`]), so the final fsync finds little left to do.
pub fn write_lines(
    file: std::fs::File,
    lines: &Lines<'_>,
    push: impl Fn(std::ops::Range<usize>, &mut String) + Sync,
) -> anyhow::Result<super::staging::Written> {
    const GROUP: usize = 1 << 16;
    const PIECE: usize = 1 << 12;
    let n = lines.count;
    let (groups, received) = std::sync::mpsc::sync_channel::<Vec<String>>(1);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> anyhow::Result<super::staging::Written> {
            let mut file = super::staging::DirectFile::new(file);
            let context = || format!("cannot write {} (disk full?)", lines.name);
            file.write_all(lines.header.as_bytes())
                .with_context(context)?;
            for pieces in received {
                for p in pieces {
                    file.write_all(p.as_bytes()).with_context(context)?;
                }
            }
            file.into_file().with_context(context)
        });
        for start in (0..n).step_by(GROUP) {
            let end = (start + GROUP).min(n);
            let pieces: Vec<String> = (start..end)
                .step_by(PIECE)
                .collect::<Vec<_>>()
                .into_par_iter()
                // One piece per task, so neither core waits long at the group's end.
                .with_max_len(1)
                .map(|s| {
                    let range = s..(s + PIECE).min(end);
                    let mut out = String::with_capacity(range.len() * lines.line_bytes);
                    push(range, &mut out);
                    out
                })
                .collect();
            if groups.send(pieces).is_err() {
                // The writer stopped on an error, which `join` returns below.
                break;
            }
        }
        drop(groups);
        writer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the {} writer panicked", lines.name)))
    })
}
