//! The computed columns of the accounts frame (figures, valuation, outlook, segments), each built by
//! name from a part's gathered accounts, in the order of [`computed_names`].

use super::columns::{date_column, money_at, text};
use super::loan_columns::{PartBuffers, Row};
use super::settled::Settled;
use crate::book::metrics::{Figures, Valued};
use crate::book::Book;
use polars::prelude::*;
use rust_decimal::Decimal;

/// The names of the computed columns, in the frame's order (the previous run's two, then the
/// lifetime figures, last).
pub(super) fn computed_names() -> impl Iterator<Item = &'static &'static str> + Clone {
    crate::columns::ACCOUNT_COLUMNS
        .iter()
        .chain(&crate::columns::PREVIOUS_COLUMNS)
        .chain(&crate::columns::LIFETIME_COLUMNS)
}

/// The wanted computed columns of the accounts `buffers` has gathered.
pub(super) fn computed_columns<'a>(
    book: &'a Book,
    settled: &Settled,
    wants: &dyn Fn(&str) -> bool,
    buffers: &PartBuffers<'a>,
) -> PolarsResult<Vec<Column>> {
    let part = Part {
        book,
        settled,
        figures: &buffers.figures,
        rows: &buffers.rows,
    };
    // The previous run's columns are the frame's only with `--previous`.
    let with_previous = book.previous.is_some();
    let with_lifetime = book.summaries.loss_curve.is_some();
    computed_names()
        .filter(|name| with_previous || !crate::columns::PREVIOUS_COLUMNS.contains(name))
        .filter(|name| with_lifetime || !crate::columns::LIFETIME_COLUMNS.contains(name))
        .filter(|name| wants(name))
        .map(|&name| {
            part.valuation_column(name)
                .or_else(|| part.figure_column(name))
                .or_else(|| part.lifetime_column(name))
                .or_else(|| part.segment_column(name))
                .unwrap_or_else(|| Err(polars_err!(ColumnNotFound: "no computed column `{name}`")))
        })
        .collect()
}

/// A part's gathered accounts: their figures and rows, in output order.
struct Part<'p, 'a> {
    book: &'a Book,
    settled: &'p Settled,
    figures: &'p [Figures],
    rows: &'p [Row<'a>],
}

impl Part<'_, '_> {
    fn valued(&self) -> impl Iterator<Item = Option<&Valued>> + '_ {
        self.figures.iter().map(|f| f.valued.as_ref())
    }

    fn cents(
        &self,
        name: &str,
        values: impl Iterator<Item = Option<Decimal>>,
    ) -> PolarsResult<Column> {
        money_at(name, values, 2, self.settled.money_precision)
    }

    fn band(&self, name: &str, band: impl Fn(&Figures) -> usize) -> Column {
        let labels = &self.book.bands.labels;
        text(
            name,
            self.figures.iter().map(|f| Some(labels[band(f)].as_str())),
        )
    }

    /// The account and its valuation.
    fn valuation_column(&self, name: &str) -> Option<PolarsResult<Column>> {
        let (rows, as_of) = (self.rows, self.book.as_of);
        Some(match name {
            "account_id" => Ok(text(name, rows.iter().map(|r| Some(r.id)))),
            "vin" => Ok(text(name, rows.iter().map(|r| Some(r.vin)))),
            "balance" => self.cents(name, self.figures.iter().map(|f| Some(f.balance))),
            "value" => self.cents(name, self.valued().map(|v| v.map(|v| v.value))),
            "value_date" => Ok(date_column(
                name,
                rows.iter().map(|r| r.valuation.map(|v| v.date)),
            )),
            "value_age_days" => {
                let age = self
                    .valued()
                    .zip(rows)
                    .map(|(v, r)| match (v, r.valuation) {
                        (Some(v), Some(m)) if !v.estimated => {
                            Some(m.date.days_until(as_of).max(0) as u32)
                        }
                        _ => None,
                    });
                Ok(UInt32Chunked::from_iter_options(name.into(), age).into_column())
            }
            "value_source" => {
                use crate::output::accounts_csv::{NO_SOURCE, UNNAMED_SOURCE};
                let source = rows.iter().map(|r| {
                    Some(match r.valuation {
                        Some(v) if v.source.is_empty() => UNNAMED_SOURCE,
                        Some(v) => &*v.source,
                        None => NO_SOURCE,
                    })
                });
                Ok(text(name, source))
            }
            _ => return None,
        })
    }

    /// The account's figures: equity, LTV, recovery, deficiency, default.
    fn figure_column(&self, name: &str) -> Option<PolarsResult<Column>> {
        let (figures, settled) = (self.figures, self.settled);
        Some(match name {
            "equity" => self.cents(name, self.valued().map(|v| v.map(|v| v.equity))),
            "negative_equity" => {
                self.cents(name, self.valued().map(|v| v.map(|v| v.negative_equity)))
            }
            "ltv" => {
                let ltv = self.valued().map(|v| v.map(|v| v.ltv));
                money_at(name, ltv, 4, settled.ltv_precision)
            }
            "ltv_bucket" => Ok(self.band(name, |f| f.bucket)),
            "origination_ltv" => {
                let ltv = figures.iter().map(|f| f.origination_ltv);
                money_at(name, ltv, 4, settled.origination_ltv_precision)
            }
            "origination_ltv_bucket" => Ok(self.band(name, |f| f.origination_bucket)),
            "net_recovery" => self.cents(name, figures.iter().map(|f| Some(f.net_recovery))),
            "deficiency_if_default" => {
                self.cents(name, figures.iter().map(|f| Some(f.deficiency_if_default)))
            }
            "days_past_due" => {
                let dpd = self.rows.iter().map(|r| Some(r.days_past_due));
                Ok(UInt32Chunked::from_iter_options(name.into(), dpd).into_column())
            }
            "pd" => {
                let pd = figures.iter().map(|f| Some(f.pd));
                money_at(name, pd, settled.pd_scale, settled.pd_precision)
            }
            "expected_deficiency" => {
                self.cents(name, figures.iter().map(|f| Some(f.expected_deficiency)))
            }
            _ => return None,
        })
    }

    /// The account's lifetime figures: the pd at 18 places, the losses in cents.
    fn lifetime_column(&self, name: &str) -> Option<PolarsResult<Column>> {
        let lifetime = || self.rows.iter().map(|r| r.outlook.lifetime.flatten());
        Some(match name {
            "lifetime_pd" => money_at(name, lifetime().map(|l| l.map(|l| l.pd_decimal())), 18, 19),
            "lifetime_expected_deficiency" => {
                self.cents(name, lifetime().map(|l| l.map(|l| Decimal::new(l.loss, 2))))
            }
            "expected_deficiency_12m" => self.cents(
                name,
                lifetime().map(|l| l.map(|l| Decimal::new(l.loss_12m, 2))),
            ),
            _ => return None,
        })
    }

    /// The account's outlook and segments, and its state in the previous run.
    fn segment_column(&self, name: &str) -> Option<PolarsResult<Column>> {
        let rows = self.rows;
        let previous = || rows.iter().map(|r| r.outlook.previous.flatten());
        Some(Ok(match name {
            "months_to_positive_equity" => {
                let months = rows.iter().map(|r| r.outlook.months_to_positive_equity);
                UInt32Chunked::from_iter_options(name.into(), months).into_column()
            }
            "vintage" => {
                let year = rows.iter().map(|r| Some(r.vintage));
                Int32Chunked::from_iter_options(name.into(), year).into_column()
            }
            "credit_tier" => text(name, rows.iter().map(|r| Some(r.credit_tier))),
            "term_band" => text(name, rows.iter().map(|r| Some(r.term_band))),
            "previous_ltv_bucket" => text(name, previous().map(|p| p.map(|p| p.0))),
            "previous_days_past_due" => {
                let days = previous().map(|p| p.map(|p| p.1));
                UInt32Chunked::from_iter_options(name.into(), days).into_column()
            }
            _ => return None,
        }))
    }
}
