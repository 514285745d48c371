//! accounts.parquet: the per-account file with typed columns, money as exact `Decimal(38, 2)`; the same
//! frame is the `accounts` table of `underwater query`.
//!
//! polars builds the frame and writes it; money goes in as the i128 mantissa at a fixed scale, so no
//! figure passes through a binary float on the way.

use crate::book::summarize::{credit_tier, term_band};
use crate::book::Book;
use polars::prelude::*;
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::fs::File;

fn at_scale(d: Decimal, scale: u32) -> i128 {
    let mut d = d;
    d.rescale(scale);
    d.mantissa()
}

pub fn money(
    name: &str,
    values: impl Iterator<Item = Option<Decimal>>,
    scale: u32,
) -> PolarsResult<Column> {
    let ca = Int128Chunked::from_iter_options(
        name.into(),
        values.map(|v| v.map(|d| at_scale(d, scale))),
    );
    Ok(ca.into_decimal(38, scale as usize)?.into_column())
}

pub fn date_column(name: &str, values: impl Iterator<Item = Option<crate::date::Date>>) -> Column {
    Int32Chunked::from_iter_options(name.into(), values.map(|d| d.map(|d| d.days_since_epoch())))
        .into_date()
        .into_column()
}

pub fn text<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), values).into_column()
}

/// Columns written as exact decimals at a fixed scale, in accounts.parquet and in query tables.
pub const MONEY_COLUMNS: [&str; 7] = [
    "balance",
    "value",
    "equity",
    "negative_equity",
    "net_recovery",
    "deficiency_if_default",
    "expected_deficiency",
];
/// Ratio columns, 4 places.
pub const RATIO_COLUMNS: [&str; 2] = ["ltv", "origination_ltv"];

/// A loan column as the narrowest exact type all its values fit: `YYYY-MM-DD` dates as Date, whole
/// numbers (no leading zeros, so ZIP codes and ids stay text) as Int64, decimals as Decimal at their
/// largest scale, else text.
pub fn typed_column(name: &str, values: &[Option<String>]) -> PolarsResult<Column> {
    let present = || values.iter().flatten().map(String::as_str);
    let date = |s: &str| crate::date::Date::parse(s).filter(|_| s.len() == 10);
    if present().next().is_some() && present().all(|s| date(s).is_some()) {
        return Ok(date_column(
            name,
            values.iter().map(|v| v.as_deref().and_then(date)),
        ));
    }
    let plain_number = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let int = digits.split('.').next().unwrap_or("");
        // No leading zeros: `007` and ZIP codes are labels, not numbers.
        let whole = match int.len() {
            0 => false,
            1 => true,
            _ => !int.starts_with('0'),
        };
        whole
            && digits.bytes().filter(|&b| b == b'.').count() <= 1
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && !digits.ends_with('.')
    };
    if present().next().is_some() && present().all(plain_number) {
        if present().all(|s| !s.contains('.') && s.len() <= 18) {
            let ca = Int64Chunked::from_iter_options(
                name.into(),
                values
                    .iter()
                    .map(|v| v.as_deref().and_then(|s| s.parse().ok())),
            );
            return Ok(ca.into_column());
        }
        let parsed: Vec<Option<Decimal>> = values
            .iter()
            .map(|v| v.as_deref().and_then(|s| s.parse().ok()))
            .collect();
        let scale = parsed
            .iter()
            .flatten()
            .map(|d| d.scale())
            .max()
            .unwrap_or(0);
        let fits = present().all(|s| s.len() <= 30) && scale <= 12;
        if fits
            && parsed
                .iter()
                .zip(values)
                .all(|(p, v)| p.is_some() == v.is_some())
        {
            return money(name, parsed.into_iter(), scale);
        }
    }
    Ok(text(name, values.iter().map(|v| v.as_deref())))
}

/// Builds the accounts frame and writes it as Parquet (zstd) to `file`.
pub fn write_accounts(book: &Book, file: File) -> PolarsResult<()> {
    let mut df = accounts_frame(book)?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)?;
    Ok(())
}

/// The accounts of a book as a typed frame: what accounts.parquet holds and `query` reads.
pub fn accounts_frame(book: &Book) -> PolarsResult<DataFrame> {
    let n = book.loans.len();
    let idx = || book.order.iter().map(|&i| i as usize);
    let figures: Vec<crate::book::metrics::Figures> =
        (0..n).into_par_iter().map(|i| book.figures(i)).collect();
    let f = |i: usize| &figures[i];
    let v = |i: usize| figures[i].valued.as_ref();
    let val = |i: usize| book.valuation(i);
    let pd_scale = figures.iter().map(|f| f.pd.scale()).max().unwrap_or(2);
    let mut columns = vec![
        text(
            "account_id",
            idx().map(|i| Some(book.loans[i].account_id())),
        ),
        text("vin", idx().map(|i| Some(book.loans[i].vin()))),
        money("balance", idx().map(|i| Some(f(i).balance)), 2)?,
        money("value", idx().map(|i| v(i).map(|v| v.value)), 2)?,
        date_column("value_date", idx().map(|i| val(i).map(|v| v.date))),
        UInt32Chunked::from_iter_options(
            "value_age_days".into(),
            idx().map(|i| match (v(i), val(i)) {
                (Some(fig), Some(m)) if !fig.estimated => {
                    Some(m.date.days_until(book.as_of).max(0) as u32)
                }
                _ => None,
            }),
        )
        .into_column(),
        text(
            "value_source",
            idx().map(|i| {
                Some(match val(i) {
                    Some(v) if v.source.is_empty() => crate::output::accounts_csv::UNNAMED_SOURCE,
                    Some(v) => &*v.source,
                    None => crate::output::accounts_csv::NO_SOURCE,
                })
            }),
        ),
        money("equity", idx().map(|i| v(i).map(|v| v.equity)), 2)?,
        money(
            "negative_equity",
            idx().map(|i| v(i).map(|v| v.negative_equity)),
            2,
        )?,
        money("ltv", idx().map(|i| v(i).map(|v| v.ltv)), 4)?,
        text(
            "ltv_bucket",
            idx().map(|i| Some(book.bands.labels[f(i).bucket].as_str())),
        ),
        money("origination_ltv", idx().map(|i| f(i).origination_ltv), 4)?,
        text(
            "origination_ltv_bucket",
            idx().map(|i| Some(book.bands.labels[f(i).origination_bucket].as_str())),
        ),
        money("net_recovery", idx().map(|i| Some(f(i).net_recovery)), 2)?,
        money(
            "deficiency_if_default",
            idx().map(|i| Some(f(i).deficiency_if_default)),
            2,
        )?,
        UInt32Chunked::from_iter_options(
            "days_past_due".into(),
            idx().map(|i| Some(book.loans[i].days_past_due)),
        )
        .into_column(),
        money("pd", idx().map(|i| Some(f(i).pd)), pd_scale)?,
        money(
            "expected_deficiency",
            idx().map(|i| Some(f(i).expected_deficiency)),
            2,
        )?,
        Int32Chunked::from_iter_options(
            "vintage".into(),
            idx().map(|i| Some(book.loans[i].origination_date.year())),
        )
        .into_column(),
        text(
            "credit_tier",
            idx().map(|i| Some(credit_tier(book.loans[i].credit_score).1)),
        ),
        text(
            "term_band",
            idx().map(|i| Some(term_band(book.loans[i].term_months).1)),
        ),
    ];
    // The loan's own columns, from their CSV-encoded form.
    let mut tail: Vec<Vec<Option<String>>> =
        vec![Vec::with_capacity(n); book.layout.tail_names.len()];
    let mut record = csv::StringRecord::new();
    for loan in idx().map(|i| &book.loans[i]) {
        let encoded = loan.tail().strip_prefix(',').unwrap_or(loan.tail());
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(encoded.as_bytes());
        let ok = rdr.read_record(&mut record).unwrap_or(false);
        for (c, col) in tail.iter_mut().enumerate() {
            let field = if ok { record.get(c) } else { None };
            col.push(field.filter(|s| !s.is_empty()).map(str::to_string));
        }
    }
    for (name, values) in book.layout.tail_names.iter().zip(&tail) {
        columns.push(typed_column(name, values)?);
    }
    DataFrame::new(n, columns)
}
