//! The output stage: pure serializers from the book to bytes, and the staging directory that publishes
//! them all at once.
//!
//! One file per output: [`accounts_csv`] and [`parquet`] (the per-account file, the latter from the typed
//! accounts [`frame`] that `query` and the Python package read too), [`tables`] (the summary
//! tables and rejects.csv), [`summary_json`], [`terminal`] (the summary on stdout). [`staging`] writes
//! nothing but what it is handed, and swaps the whole directory into place atomically. [`publish`]
//! strings them together.

pub mod accounts_csv;
pub mod backtest_files;
pub mod backtest_report;
pub mod calibration_files;
pub mod finished_run;
pub mod format;
pub mod frame;
pub mod html;
pub mod manifest;
pub mod parquet;
pub mod report_html;
pub mod report_xlsx;
pub mod single_file;
pub mod staging;
pub mod summary_json;
pub mod tables;
pub mod terminal;

use crate::book::guards::Guards;
use crate::book::summarize::Summaries;
use crate::book::Book;
use crate::columns::segment_file_part;
use crate::config::{Config, Format};
use crate::date::Date;
use crate::error::OutputError;
use anyhow::Context;
use staging::Staging;
use std::path::PathBuf;
use std::time::SystemTime;
use summary_json::Summary;

/// Writes every output of a run into a staging directory and swaps it into `--out`. A run that failed a
/// guard rail leaves `--out` as it was and writes only rejects.csv and summary.json, which say why, to
/// [`staging::failed_dir`]; returns the directory written.
pub fn publish(
    config: &Config,
    book: &Book,
    guards: &Guards,
    started: SystemTime,
) -> Result<PathBuf, OutputError> {
    let book_published = guards.failure.is_none();
    let target = match book_published {
        true => config.out.clone(),
        false => staging::failed_dir(&config.out),
    };
    let staging = Staging::new(&target)?;
    let accounts = accounts_name(config, guards);
    let written = match accounts {
        None => None,
        Some(name @ "accounts.csv") => Some(accounts_csv::write_accounts_csv(
            book,
            staging.create(name)?,
        )?),
        Some(name) => Some(
            parquet::write_accounts(book, staging.create(name)?)
                .context("cannot write accounts.parquet (disk full?)")?,
        ),
    };
    let digest = match (written, accounts) {
        (Some(w), Some(name)) => {
            staging.finish_file(name, w.file)?;
            crate::cleanup::test_hook("accounts_written");
            Some(w.blake3)
        }
        _ => None,
    };
    for file in files(config, book, guards, started, accounts, digest)? {
        staging.write(&file.name, &file.bytes)?;
    }
    staging.commit()?;
    if book_published {
        staging::remove_failed_report(&config.out);
    }
    Ok(target)
}

/// The per-account file a run writes: none when a guard rail failed.
pub fn accounts_name(config: &Config, guards: &Guards) -> Option<&'static str> {
    match (guards.failure.is_none(), config.format) {
        (false, _) => None,
        (true, Format::Csv) => Some("accounts.csv"),
        (true, Format::Parquet) => Some("accounts.parquet"),
    }
}

/// One output file's name and bytes.
pub struct OutputFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl OutputFile {
    fn new(name: impl Into<String>, bytes: Vec<u8>) -> OutputFile {
        OutputFile {
            name: name.into(),
            bytes,
        }
    }
}

/// Every output of a run but the per-account file (`accounts`, which summary.json lists first), as
/// bytes in the order summary.json lists them: what [`publish`] writes, and what the Python package
/// returns without writing anything.
pub fn files(
    config: &Config,
    book: &Book,
    guards: &Guards,
    started: SystemTime,
    accounts: Option<&str>,
    accounts_blake3: Option<String>,
) -> Result<Vec<OutputFile>, OutputError> {
    let book_published = guards.failure.is_none();
    let rejects = tables::rejects_csv(&book.rejects, &config.input_names());
    let mut files = vec![OutputFile::new("rejects.csv", rejects)];
    if book_published {
        files.extend(table_files(&book.summaries, book.as_of));
    }
    let mut outputs: Vec<String> = accounts.map(String::from).into_iter().collect();
    outputs.extend(files.iter().map(|f| f.name.clone()));
    if book_published {
        outputs.extend(["report.html".into(), "report.xlsx".into()]);
    }
    outputs.push("summary.json".into());
    let mut summary = Summary::new(config, book, guards, started, outputs);
    summary.manifest.record.accounts_blake3 = accounts_blake3;
    if book_published {
        // The reports are summary.json for people: built from it, so they cannot say anything else.
        let html = report_html::report_html(&summary).into_bytes();
        let workbook = report_xlsx::report_xlsx(&summary).context("cannot build report.xlsx")?;
        files.push(OutputFile::new("report.html", html));
        files.push(OutputFile::new("report.xlsx", workbook));
    }
    let json = summary.to_bytes().map_err(anyhow::Error::from)?;
    files.push(OutputFile::new("summary.json", json));
    Ok(files)
}

/// The summary tables of a published book (or of partials folded, on Spark), in the order summary.json
/// lists them.
pub fn table_files(s: &Summaries, as_of: Date) -> Vec<OutputFile> {
    let mut files = vec![
        OutputFile::new(
            "summary_by_ltv_bucket.csv",
            tables::table_csv(&s.ltv, false, s.loss_curve.is_some()),
        ),
        OutputFile::new(
            "summary_ltv_migration.csv",
            tables::migration_csv(&s.migration),
        ),
    ];
    if !s.scenarios.is_empty() {
        let bytes = tables::scenarios_csv(&s.ltv, &s.scenarios, s.loss_curve.is_some());
        files.push(OutputFile::new("summary_scenarios.csv", bytes));
    }
    if let Some(c) = &s.changes {
        files.push(OutputFile::new(
            "summary_changes_ltv.csv",
            tables::changes_ltv_csv(c),
        ));
        files.push(OutputFile::new(
            "summary_changes_delinquency.csv",
            tables::changes_delinquency_csv(c),
        ));
        files.push(OutputFile::new(
            "summary_changes_bridge.csv",
            tables::changes_bridge_csv(c),
        ));
    }
    if let Some(runoff) = &s.runoff {
        let bytes = tables::runoff_csv(runoff, as_of);
        files.push(OutputFile::new("summary_runoff.csv", bytes));
    }
    if let Some(curve) = &s.loss_curve {
        let bytes = tables::loss_curve_csv(curve, as_of);
        files.push(OutputFile::new("summary_loss_curve.csv", bytes));
    }
    for table in &s.segments {
        let name = format!("summary_by_{}.csv", segment_file_part(&table.dimension));
        files.push(OutputFile::new(
            name,
            tables::table_csv(table, true, s.loss_curve.is_some()),
        ));
    }
    files
}
