//! A finished run read back: the one reader of a run directory for `query`, `report`, `backtest
//! --run` and the Python package. It checks what every reader needs checked once: the summary.json is
//! this version's and typed, the run published its book (no failed guard rail), and the per-account
//! file is the one the run wrote (its BLAKE3 digest); then it gives the typed summary and the accounts
//! as the typed frame accounts.parquet holds.

use crate::error::{Error, QueryError};
use crate::output::summary_json::Summary;
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// A run directory, opened: its typed summary.json.
pub struct FinishedRun {
    pub dir: PathBuf,
    pub summary: Summary,
}

/// The version that wrote a summary.json, read on its own when the whole file cannot be.
#[derive(serde::Deserialize)]
struct VersionOf {
    manifest: VersionOnly,
}

#[derive(serde::Deserialize)]
struct VersionOnly {
    version: String,
}

impl FinishedRun {
    /// Opens a finished run: its summary.json typed, from this version, of a run that published its
    /// book.
    pub fn open(dir: &Path) -> Result<FinishedRun, Error> {
        let not_a_run = |problem: String| QueryError::NotARun {
            dir: dir.to_path_buf(),
            problem,
        };
        let summary = std::fs::read(dir.join("summary.json"))
            .map_err(|e| not_a_run(format!("cannot read summary.json ({e})")))?;
        let summary: Summary = match serde_json::from_slice(&summary) {
            Ok(summary) => summary,
            Err(e) => {
                // An older version's summary: say so, rather than show a parse error.
                let version = serde_json::from_slice::<VersionOf>(&summary)
                    .ok()
                    .map(|v| v.manifest.version);
                return Err(match version {
                    Some(found) if found != env!("CARGO_PKG_VERSION") => QueryError::Incompatible {
                        dir: dir.to_path_buf(),
                        found,
                        missing: "the summary.json this version reads".into(),
                        ours: env!("CARGO_PKG_VERSION"),
                    },
                    _ => not_a_run(format!("summary.json is not a run summary ({e})")),
                }
                .into());
            }
        };
        if !summary.status.ok {
            return Err(
                not_a_run("that run failed a guard rail and published no accounts".into()).into(),
            );
        }
        Ok(FinishedRun {
            dir: dir.to_path_buf(),
            summary,
        })
    }

    fn not_a_run(&self, problem: String) -> QueryError {
        QueryError::NotARun {
            dir: self.dir.clone(),
            problem,
        }
    }

    /// The per-account file, checked to be the one the run wrote.
    pub fn accounts_file(&self) -> Result<PathBuf, Error> {
        let manifest = &self.summary.manifest;
        let path = crate::run_dir::accounts_file(&self.dir, &manifest.record.outputs).ok_or_else(
            || self.not_a_run("holds neither accounts.parquet nor accounts.csv".into()),
        )?;
        crate::run_dir::verify(&path, manifest.record.accounts_blake3.as_deref())
            .map_err(|p| self.not_a_run(p))?;
        Ok(path)
    }

    /// What `run --previous` needs of this run's summary.json, its accounts file checked.
    pub fn previous_head(&self) -> Result<crate::input::previous::PreviousHead, Error> {
        let manifest = &self.summary.manifest;
        let as_of = crate::date::Date::parse(&manifest.record.as_of).ok_or_else(|| {
            self.not_a_run(format!("as_of `{}` is not a date", manifest.record.as_of))
        })?;
        let cents = |d: &crate::output::summary_json::Dec| {
            crate::money::mantissa_at(crate::money::cents(d.0), 2)
        };
        let t = &self.summary.portfolio.totals;
        Ok(crate::input::previous::PreviousHead {
            dir: self.dir.clone(),
            as_of,
            ltv_bands: manifest
                .record
                .config
                .ltv_bands
                .iter()
                .map(|b| b.0)
                .collect(),
            accounts_file: self.accounts_file()?,
            totals: crate::input::previous::PreviousTotals {
                accounts: t.accounts,
                closed_accounts: t.closed_accounts,
                underwater_accounts: t.underwater_accounts,
                balance: cents(&t.balance),
                value: cents(&t.value),
                negative_equity: cents(&t.negative_equity),
                expected_deficiency: cents(&t.expected_deficiency),
            },
        })
    }

    /// The accounts as the typed frame accounts.parquet holds (decimals at precision 38), whichever
    /// file the run wrote, with the columns this version's queries need.
    pub fn accounts(&self) -> Result<DataFrame, Error> {
        let path = self.accounts_file()?;
        let df = if path.ends_with("accounts.parquet") {
            let file = std::fs::File::open(&path)
                .map_err(|e| self.not_a_run(format!("cannot open accounts.parquet ({e})")))?;
            let df = ParquetReader::new(file)
                .finish()
                .map_err(|e| self.not_a_run(format!("accounts.parquet cannot be read ({e})")))?;
            widen_decimals(df).map_err(Error::internal)?
        } else {
            read_accounts_csv(&path).map_err(|p| self.not_a_run(p))?
        };
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|c| df.column(c).is_err())
            .collect();
        if !missing.is_empty() {
            return Err(QueryError::Incompatible {
                dir: self.dir.clone(),
                found: self.summary.manifest.version.clone(),
                missing: format!("the accounts columns {}", missing.join(", ")),
                ours: env!("CARGO_PKG_VERSION"),
            }
            .into());
        }
        Ok(df)
    }
}

/// accounts.parquet keeps money of up to 18 digits as 64-bit decimals; the `accounts` table has every
/// decimal at precision 38 whichever way the run wrote it, so arithmetic on it never narrows.
fn widen_decimals(mut df: DataFrame) -> PolarsResult<DataFrame> {
    let narrow: Vec<(PlSmallStr, usize)> = df
        .schema()
        .iter()
        .filter_map(|(name, dtype)| match dtype {
            DataType::Decimal(p, s) if *p < crate::output::frame::WIDE => Some((name.clone(), *s)),
            _ => None,
        })
        .collect();
    for (name, scale) in narrow {
        let wide = df
            .column(&name)?
            .cast(&DataType::Decimal(crate::output::frame::WIDE, scale))?;
        df.with_column(wide)?;
    }
    Ok(df)
}

/// accounts.csv as the same typed frame as accounts.parquet: money and ratios as exact decimals.
fn read_accounts_csv(path: &Path) -> Result<DataFrame, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read accounts.csv or accounts.parquet ({e})"))?;
    read_csv_frame(file, "accounts.csv")
}

/// One of underwater's own CSV files (`what` in messages) as a typed frame: text as it went in (the
/// formula neutralization undone), money at 2 places and ratios at 4 as `Decimal(38, _)`, ids, VINs and
/// labels as text, and any other column as the narrowest exact type its values allow.
pub fn read_csv_frame(input: impl std::io::Read, what: &str) -> Result<DataFrame, String> {
    let mut rdr = csv::Reader::from_reader(input);
    let names: Vec<String> = rdr
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(String::from)
        .collect();
    let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); names.len()];
    for record in rdr.records() {
        let record = record.map_err(|e| format!("{what}: {e}"))?;
        for (col, field) in values.iter_mut().zip(record.iter()) {
            // Text as it went in: accounts.csv neutralized it against formulas (numbers never start
            // with a quote, so every cell goes through the same rule).
            let field = crate::csvfmt::unneutralize(field);
            col.push((!field.is_empty()).then(|| field.to_string()));
        }
    }
    let n = values.first().map_or(0, Vec::len);
    let mut columns = Vec::with_capacity(names.len());
    for (name, vals) in names.iter().zip(&values) {
        let decimal = |scale: u32| {
            crate::output::frame::money(
                name,
                vals.iter()
                    .map(|v| v.as_deref().and_then(|s| s.parse().ok())),
                scale,
            )
        };
        let column = if crate::output::frame::MONEY_COLUMNS.contains(&name.as_str()) {
            decimal(2)
        } else if crate::output::frame::RATIO_COLUMNS.contains(&name.as_str()) {
            decimal(4)
        } else if matches!(
            name.as_str(),
            "account_id" | "vin" | "value_source" | "credit_tier" | "term_band"
        ) || name.ends_with("_bucket")
        {
            Ok(crate::output::frame::text(
                name,
                vals.iter().map(|v| v.as_deref()),
            ))
        } else {
            let vals: Vec<Option<&str>> = vals.iter().map(|v| v.as_deref()).collect();
            crate::output::frame::typed_column(name, &vals)
        };
        columns.push(column.map_err(|e| format!("{what} column {name}: {e}"))?);
    }
    DataFrame::new(n, columns).map_err(|e| e.to_string())
}

/// Columns a run directory's accounts file must have for this version's queries.
const REQUIRED: [&str; 5] = [
    "account_id",
    "balance",
    "negative_equity",
    "origination_ltv_bucket",
    "term_band",
];
