//! `underwater backtest`: did the figures predict what actually happened?
//!
//! ```text
//! underwater backtest --tape regab PANEL.csv --out bt [--horizon 12]
//! underwater backtest --loans loans.csv --valuations valuations.csv --as-of 2025-06-30 \
//!     --outcomes records.csv --out bt
//! ```
//!
//! Builds the book as `run` does (the same loader, matching, estimates and figures), reads what
//! happened to each account over the months after as_of ([`crate::input::outcomes`]: a panel tape's
//! own monthly columns, or loan-month records), walks each account's months for its default
//! ([`crate::book::outcome`]), and publishes backtest.csv, the calibration tables and summary.json
//! atomically into `--out`, as `run` publishes its outputs.

use super::history::{compute, config, inputs, BacktestArgs, BacktestCmd, Judged};
use crate::book::backtest::Backtest;
use crate::book::Book;
use crate::columns::segment_file_part;
use crate::config::Config;
use crate::error::{Error, OutputError};
use crate::input::outcomes::Outcomes;
use crate::output::backtest_files as files;
use crate::output::staging::Staging;
use crate::output::tables;
use crate::progress::Progress;
/// The backtest of a book, for the command line and the tests.
pub struct Finished {
    pub summary: String,
}

/// Runs the backtest on `config`'s thread pool and publishes its outputs into `config.out`.
pub fn run(config: &Config, args: &BacktestArgs, progress: Progress) -> Result<Finished, Error> {
    crate::output::staging::check_target(&config.out).map_err(OutputError)?;
    let _lock = crate::output::staging::OutLock::take(&config.out).map_err(OutputError)?;
    super::thread_pool(config.threads)?.install(|| {
        let judged = compute(config, args, progress)?;
        publish(config, args, &judged)?;
        Ok(Finished {
            summary: terminal_lines(&judged, config),
        })
    })
}

fn publish(config: &Config, args: &BacktestArgs, judged: &Judged) -> Result<(), Error> {
    let (book, bt, outcomes) = (&judged.book, &judged.bt, &judged.outcomes);
    let staging = Staging::new(&config.out).map_err(OutputError)?;
    let mut outputs = write_tables(&staging, config, book, bt, outcomes)?;
    outputs.extend([
        "report.html".into(),
        "report.xlsx".into(),
        "summary.json".into(),
    ]);
    let rejected = outcomes.rejects.len() as u64;
    let rows = files::RowCounts {
        read: outcomes.rows_read,
        accepted: outcomes.rows_read - rejected,
        rejected,
        not_in_book: judged.rows_not_in_book,
    };
    let manifest = crate::output::manifest::CommandManifest::of_files(
        "backtest",
        inputs(config, args),
        outputs,
    );
    let facts = files::OutcomeFacts {
        rows,
        months_of_data: judged.months_of_data(),
        rules: outcomes.rules,
        origin: judged.origin.as_ref().map(files::ReAnchored::of),
    };
    let summary = files::BacktestSummary::new(book, bt, facts, manifest);
    // The reports are summary.json for people: built from it, so they cannot say anything else.
    let workbook = crate::output::backtest_report::backtest_xlsx(&summary)
        .map_err(|e| OutputError(anyhow::anyhow!("cannot build report.xlsx: {e}")))?;
    staging
        .write(
            "report.html",
            crate::output::backtest_report::backtest_html(&summary).as_bytes(),
        )
        .and_then(|()| staging.write("report.xlsx", &workbook))
        .map_err(OutputError)?;
    let bytes = summary
        .to_bytes()
        .map_err(|e| OutputError(anyhow::Error::from(e)))?;
    staging.write("summary.json", &bytes).map_err(OutputError)?;
    staging.commit().map_err(OutputError)?;
    Ok(())
}

/// Writes backtest.csv, the calibration tables and the rejects into the staging directory; returns
/// their names.
fn write_tables(
    staging: &Staging,
    config: &Config,
    book: &Book,
    bt: &Backtest,
    outcomes: &Outcomes,
) -> Result<Vec<String>, Error> {
    // backtest.csv is written as it is formatted, as accounts.csv is.
    let name = "backtest.csv";
    let file = staging.create(name).map_err(OutputError)?;
    let written = files::write_backtest_csv(book, bt, file).map_err(OutputError)?;
    staging
        .finish_file(name, written.file)
        .map_err(OutputError)?;
    let mut outputs = vec![name.to_string()];
    let mut write = |name: String, bytes: &[u8]| -> Result<(), Error> {
        staging.write(&name, bytes).map_err(OutputError)?;
        outputs.push(name);
        Ok(())
    };
    write(
        "summary_backtest_by_pd.csv".into(),
        &files::by_pd_csv(&bt.by_pd, bt.curve.is_some()),
    )?;
    write(
        "summary_backtest_by_ltv_bucket.csv".into(),
        &files::loss_table_csv(&bt.by_ltv, bt.curve.is_some()),
    )?;
    for table in &bt.by_segment {
        let name = format!(
            "summary_backtest_by_{}.csv",
            segment_file_part(&table.dimension)
        );
        write(name, &files::loss_table_csv(table, bt.curve.is_some()))?;
    }
    if let Some(curve) = &bt.curve {
        write(
            "summary_backtest_curve.csv".into(),
            &files::curve_csv(curve),
        )?;
    }
    write(
        "rejects.csv".into(),
        &tables::rejects_csv(&book.rejects, &config.input_names()),
    )?;
    write(
        "outcome_rejects.csv".into(),
        &files::outcome_rejects_csv(&outcomes.rejects),
    )?;
    Ok(outputs)
}

/// What the command prints: the pd test and the book's predicted against realized loss.
fn terminal_lines(judged: &Judged, config: &Config) -> String {
    let (bt, outcomes) = (&judged.bt, &judged.outcomes);
    let months_of_data = judged.months_of_data();
    let mut out = format!(
        "backtest of {} accounts over {} months ({} without outcome records), outputs in {}\n",
        bt.counts.accounts,
        bt.horizon.min(months_of_data),
        bt.counts.no_outcome,
        config.out.display()
    );
    if let Some(o) = &judged.origin {
        let g = &o.gone;
        out.push_str(&format!(
            "  re-anchored at month {} (as_of {}): {} of the {} accounts open then; before it {} \
             defaulted, {} paid off, {} left the pool, {} were closed at month 0, {} had no records\n",
            o.month,
            judged.book.as_of,
            o.loan_at_start.len(),
            o.accounts_at_start,
            g.defaulted,
            g.paid_off,
            g.left_pool,
            g.closed_at_start,
            g.no_records
        ));
    }
    if bt.horizon > months_of_data {
        out.push_str(&format!(
            "  WARNING: --horizon {} is beyond the data, which ends after month {}: defaults after it \
             cannot be seen, so every realized rate and loss is short of the horizon's (pass --horizon \
             {} or less)\n",
            bt.horizon, months_of_data, months_of_data
        ));
    }
    out.push_str(&format!(
        "  rules evaluated: {} (those whose fields the outcome file carries)\n",
        outcomes.rules.evaluated().join(", ")
    ));
    for r in &bt.by_pd {
        let pd = r.pd.map_or("TOTAL".to_string(), |p| p.to_string());
        out.push_str(&format!(
            "  pd {pd:>6}: {} accounts, {} defaults expected, {} realized ({}), {}\n",
            r.accounts,
            r.expected_defaults.normalize(),
            r.defaults,
            r.default_rate().map(|d| d.to_string()).unwrap_or_default(),
            r.verdict().unwrap_or("no test"),
        ));
    }
    let t = &bt.by_ltv.total;
    out.push_str(&format!(
        "  expected deficiency {:.2}, realized loss {:.2} on {} defaults; severity modeled {} realized {}\n",
        t.expected_deficiency,
        t.realized_loss,
        t.defaults,
        t.modeled_severity().map(|d| d.to_string()).unwrap_or_default(),
        t.loss_severity().map(|d| d.to_string()).unwrap_or_default(),
    ));
    out
}

/// `underwater backtest`: the config from the flags, the backtest, its lines on stdout.
pub fn command(cmd: BacktestCmd) -> Result<(), Error> {
    let mut spooled = Vec::new();
    let (config, args) = config(cmd, &mut spooled)?;
    let outcome = run(&config, &args, Progress::new(config.quiet))?;
    match config.quiet {
        true => Ok(()),
        false => super::print(outcome.summary.as_bytes()),
    }
}
