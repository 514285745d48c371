//! The loan's own columns of a piece of the book, read back from the CSV-encoded text each loan keeps
//! them in, for the typed frame (accounts.parquet, `query`, the Python package).

use crate::book::segments::{credit_tier, term_band};
use crate::book::Book;
use crate::input::load::Loan;
use polars::prelude::*;

/// The loan's own columns of the accounts at some output positions, read back from their CSV-encoded
/// form (a comma before each field) into one buffer of the same form, quotes removed: row r's field c
/// lies after the comma at `marks[r * (width + 1) + c]`, up to the next mark.
pub(crate) struct TailPart {
    pub(crate) text: String,
    pub(crate) marks: Vec<u32>,
    pub(crate) width: usize,
}

impl TailPart {
    pub(crate) fn new(width: usize) -> TailPart {
        TailPart {
            text: String::new(),
            marks: Vec::new(),
            width,
        }
    }

    /// Empties the part (see [`PartBuffers`] for why a part is refilled rather than made anew).
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.marks.clear();
    }

    /// Adds one loan's columns after those the part holds.
    pub(crate) fn push(&mut self, loan: &Loan) -> PolarsResult<()> {
        let width = self.width;
        let part = self;
        let (tail, row) = (loan.tail(), part.marks.len());
        let at = part.text.len() as u32;
        // Most rows have no quote: the encoded form is the decoded one; mark its commas. (A byte
        // loop: `memchr_iter` costs a call per comma, and fields are a few bytes.) A field that starts
        // with `'` was neutralized against formulas: it takes the slow path, which removes the mark.
        let mut quoted = false;
        let mut previous = 0u8;
        for (p, &b) in tail.as_bytes().iter().enumerate() {
            quoted |= b == b'"' || (b == b'\'' && previous == b',');
            if b == b',' {
                part.marks.push(at + p as u32);
            }
            previous = b;
        }
        if !quoted {
            part.text.push_str(tail);
        } else if let Some(fields) = tail.strip_prefix(',') {
            part.marks.truncate(row);
            crate::csvfmt::for_each_field(fields, |field| {
                part.marks.push(part.text.len() as u32);
                part.text.push(',');
                part.text.push_str(crate::csvfmt::unneutralize(field));
            });
        }
        if part.marks.len() - row != width || (width > 0 && !tail.starts_with(',')) {
            return Err(polars_err!(ComputeError:
                "account {} has {} of its {width} loan columns in their encoded form",
                loan.account_id(), part.marks.len() - row));
        }
        part.marks.push(part.text.len() as u32);
        Ok(())
    }

    /// Column c's values, empty text as missing.
    pub(crate) fn values(&self, c: usize) -> impl Iterator<Item = Option<&str>> + '_ {
        self.marks.chunks_exact(self.width + 1).map(move |row| {
            let field = &self.text[row[c] as usize + 1..row[c + 1] as usize];
            Some(field).filter(|f| !f.is_empty())
        })
    }
}

/// A part's buffers, refilled for each part a thread builds: fresh buffers of a few MB each cost page
/// faults that took more time than filling them.
pub(crate) struct PartBuffers<'a> {
    pub(crate) tail: TailPart,
    pub(crate) figures: Vec<crate::book::metrics::Figures>,
    pub(crate) rows: Vec<Row<'a>>,
}

impl<'a> PartBuffers<'a> {
    pub(crate) fn new(width: usize) -> Self {
        PartBuffers {
            tail: TailPart::new(width),
            figures: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Gathers what the columns need of the accounts `order` lists, in one pass in that order: what the
    /// computed columns need (`computed`) and the loan's own columns (`tail`). In output order each
    /// account is a few random reads; one pass makes them once, and reads the loan's text while its
    /// id and VIN have just brought it into the cache (a second pass for the loan's columns stalled
    /// on the loans again: a third of the Parquet write stage).
    pub(crate) fn gather(
        &mut self,
        book: &'a Book,
        order: &[u32],
        computed: bool,
        tail: bool,
    ) -> PolarsResult<()> {
        self.figures.clear();
        self.rows.clear();
        self.tail.clear();
        for (k, &i) in order.iter().enumerate() {
            book.prefetch_ahead(order, k);
            let i = i as usize;
            let loan = &book.loaded.loans[i];
            if computed {
                self.figures.push(book.figures(i));
                self.rows.push(Row {
                    id: loan.account_id(),
                    vin: loan.vin(),
                    days_past_due: loan.days_past_due,
                    vintage: loan.origination_date.year(),
                    credit_tier: credit_tier(loan.credit_score).1,
                    term_band: term_band(loan.term_months).1,
                    outlook: book.outlook(i),
                    valuation: book.valuation(i),
                });
            }
            if tail {
                self.tail.push(loan)?;
            }
        }
        Ok(())
    }
}

/// What the columns need of one account, gathered in output order.
pub(crate) struct Row<'a> {
    pub(crate) id: &'a str,
    pub(crate) vin: &'a str,
    pub(crate) days_past_due: u32,
    pub(crate) vintage: i32,
    pub(crate) credit_tier: &'static str,
    pub(crate) term_band: &'static str,
    pub(crate) outlook: crate::book::OutlookAndPrevious<'a>,
    pub(crate) valuation: Option<&'a crate::input::valuations::Valuation>,
}
