//! The output stage: pure serializers from the book to bytes, and the staging directory that publishes
//! them all at once.
//!
//! One file per output: [`accounts_csv`] and [`parquet`] (the per-account file), [`tables`] (the summary
//! tables and rejects.csv), [`summary_json`], [`terminal`] (the summary on stdout). [`staging`] writes
//! nothing but what it is handed, and swaps the whole directory into place atomically. [`publish`]
//! strings them together.

pub mod accounts_csv;
pub mod backtest_files;
pub mod backtest_report;
pub mod calibration_files;
pub mod parquet;
pub mod report_html;
pub mod report_xlsx;
pub mod single_file;
pub mod staging;
pub mod summary_json;
pub mod tables;
pub mod terminal;

use crate::book::guards::Guards;
use crate::book::Book;
use crate::config::{Config, Format};
use crate::error::OutputError;
use crate::input::schema::segment_file_part;
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
    let mut outputs = Vec::new();
    match config.format {
        _ if !book_published => {}
        Format::Csv => {
            let name = "accounts.csv";
            let file = accounts_csv::write_accounts_csv(book, staging.create(name)?)?;
            staging.finish_file(name, file)?;
            outputs.push(name.to_string());
        }
        Format::Parquet => {
            let name = "accounts.parquet";
            let file = parquet::write_accounts(book, staging.create(name)?)
                .context("cannot write accounts.parquet (disk full?)")?;
            staging.finish_file(name, file)?;
            outputs.push(name.to_string());
        }
    }
    let mut write = |name: String, bytes: &[u8]| -> anyhow::Result<()> {
        staging.write(&name, bytes)?;
        outputs.push(name);
        Ok(())
    };
    write(
        "rejects.csv".into(),
        &tables::rejects_csv(&book.rejects, &config.input_names()),
    )?;
    if book_published {
        let s = &book.summaries;
        write(
            "summary_by_ltv_bucket.csv".into(),
            &tables::table_csv(&s.ltv, false),
        )?;
        write(
            "summary_ltv_migration.csv".into(),
            &tables::migration_csv(&s.migration),
        )?;
        if !s.scenarios.is_empty() {
            write(
                "summary_scenarios.csv".into(),
                &tables::scenarios_csv(&s.ltv, &s.scenarios),
            )?;
        }
        if let Some(c) = &s.changes {
            write(
                "summary_changes_ltv.csv".into(),
                &tables::changes_ltv_csv(c),
            )?;
            write(
                "summary_changes_delinquency.csv".into(),
                &tables::changes_delinquency_csv(c),
            )?;
            write(
                "summary_changes_bridge.csv".into(),
                &tables::changes_bridge_csv(c),
            )?;
        }
        if let Some(runoff) = &s.runoff {
            write(
                "summary_runoff.csv".into(),
                &tables::runoff_csv(runoff, book.as_of),
            )?;
        }
        for table in &s.segments {
            let name = format!("summary_by_{}.csv", segment_file_part(&table.dimension));
            write(name, &tables::table_csv(table, true))?;
        }
    }
    if book_published {
        outputs.extend(["report.html".into(), "report.xlsx".into()]);
    }
    outputs.push("summary.json".into());
    let summary = Summary::new(config, book, guards, started, outputs);
    if book_published {
        // The reports are summary.json for people: built from it, so they cannot say anything else.
        staging.write("report.html", report_html::report_html(&summary).as_bytes())?;
        let workbook = report_xlsx::report_xlsx(&summary).context("cannot build report.xlsx")?;
        staging.write("report.xlsx", &workbook)?;
    }
    staging.write(
        "summary.json",
        &summary.to_bytes().map_err(anyhow::Error::from)?,
    )?;
    staging.commit()?;
    if book_published {
        staging::remove_failed_report(&config.out);
    }
    Ok(target)
}
