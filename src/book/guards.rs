//! The nightly guard rails: `--max-reject-rate` and `--fail-on-stale`, checked on a built book.
//!
//! A failed guard still lets rejects.csv and summary.json be written (so the cause can be read), but
//! not the book itself, and the run exits with the guard's own code.

use crate::book::Book;
use crate::date::Date;
use crate::error::GuardError;
use rust_decimal::Decimal;

/// Accounts whose valuation is older than a limit at as_of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stale {
    pub older_than_days: u32,
    pub accounts: u64,
}

/// How old the matched valuations are at as_of (estimates, dated as_of, are not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ages {
    pub days_0_30: u64,
    pub days_31_90: u64,
    pub days_91_180: u64,
    pub days_over_180: u64,
}

/// What the guard rails found.
pub struct Guards {
    /// The age of every matched valuation, reported whether or not `--fail-on-stale` is given.
    pub ages: Ages,
    /// Accounts valued by valuations older than `--fail-on-stale` days, when the flag is given.
    pub stale_valuations: Option<Stale>,
    /// The guard that failed the run, if any.
    pub failure: Option<GuardError>,
}

/// Applies the guard rails; `max_reject_rate` and `fail_on_stale` are the flags, None when not given.
pub fn check(
    book: &Book,
    max_reject_rate: Option<Decimal>,
    fail_on_stale: Option<u32>,
    as_of: Date,
) -> Guards {
    let mut failure = None;
    if let Some(max) = max_reject_rate {
        for (name, c) in [
            ("loans", book.loaded.counts),
            ("valuations", book.valuation_counts),
        ] {
            let rate = if c.read == 0 {
                Decimal::ZERO
            } else {
                Decimal::from(c.rejected) / Decimal::from(c.read)
            };
            if failure.is_none() && rate > max {
                failure = Some(GuardError::RejectRate {
                    input: name,
                    rejected: c.rejected,
                    read: c.read,
                    max,
                });
            }
        }
    }
    let mut ages = Ages::default();
    for v in (0..book.loaded.loans.len()).filter_map(|i| book.valuation(i)) {
        if !v.estimated {
            match v.date.days_until(as_of) {
                ..=30 => ages.days_0_30 += 1,
                31..=90 => ages.days_31_90 += 1,
                91..=180 => ages.days_91_180 += 1,
                _ => ages.days_over_180 += 1,
            }
        }
    }
    let stale_valuations = fail_on_stale.map(|days| {
        let stale = (0..book.loaded.loans.len())
            .filter(|&i| {
                book.valuation(i)
                    .is_some_and(|v| v.date.days_until(as_of) > days as i32)
            })
            .count() as u64;
        if failure.is_none() && stale > 0 {
            failure = Some(GuardError::Stale {
                accounts: stale,
                days,
            });
        }
        Stale {
            older_than_days: days,
            accounts: stale,
        }
    });
    Guards {
        ages,
        stale_valuations,
        failure,
    }
}
