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

use crate::book::backtest::{backtest, Backtest};
use crate::book::{self, Book};
use crate::config::Config;
use crate::error::{Error, InputError, OutputError};
use crate::input::outcomes::{self, Outcomes};
use crate::input::schema::segment_file_part;
use crate::output::backtest_files as files;
use crate::output::staging::Staging;
use crate::output::tables;
use crate::progress::Progress;
use rust_decimal::Decimal;
use std::path::PathBuf;

/// What `backtest` needs beyond the run's config.
pub struct BacktestArgs {
    /// Loan-month records or a panel tape; `None`: the loans file is the panel.
    pub outcomes: Option<PathBuf>,
    /// Months after as_of in which a default counts.
    pub horizon: u32,
    /// `--run DIR`: the finished run whose book this is, to check the book against.
    pub from_run: Option<RunBook>,
}

/// A finished run taken as the book (`--run DIR`): the inputs, config, as_of and tape its summary.json
/// names (paths as the run was given them, so relative to where it was started), and the summary.
pub struct RunBook {
    pub dir: PathBuf,
    pub loans: PathBuf,
    pub valuations: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub as_of: String,
    pub tape: Option<crate::input::tape::Tape>,
    pub summary: crate::output::summary_json::Summary,
}

/// Reads a finished run as the book; its files must still be where the run read them.
pub fn run_book(dir: &std::path::Path) -> Result<RunBook, Error> {
    let summary = super::query::run_summary(dir)?;
    let (manifest, config) = (&summary.manifest, &summary.manifest.config);
    let missing = |path: &str| -> Result<PathBuf, Error> {
        let p = PathBuf::from(path);
        let spooled = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("underwater-stdin-"));
        match p.exists() {
            true => Ok(p),
            // The run's copy of standard input was removed when the run ended: no directory has it.
            false if spooled => Err(InputError::RunBook {
                dir: dir.to_path_buf(),
                problem: format!(
                    "its input was read from standard input (copied to {path}, removed when the run \
                     ended), so it cannot be read again"
                ),
                fix: "save the input to a file and run it again with the file's path (then backtest \
                      that run), or pass the inputs to the backtest without --run",
            }
            .into()),
            false => Err(InputError::RunBook {
                dir: dir.to_path_buf(),
                problem: format!("its input {path} is not there"),
                fix: "run the backtest from the directory the run was started in, or pass its inputs \
                      (--loans, --valuations, --config, --as-of)",
            }
            .into()),
        }
    };
    let loans = missing(&manifest.inputs.loans.path)?;
    let valuations = match &manifest.inputs.valuations {
        Some(v) => Some(missing(&v.path)?),
        None => None,
    };
    let config_file = match &config.config_file {
        Some(c) => Some(missing(c)?),
        None => None,
    };
    Ok(RunBook {
        dir: dir.to_path_buf(),
        loans,
        valuations,
        config: config_file,
        as_of: manifest.as_of.clone(),
        tape: config
            .tape
            .as_ref()
            .map(|_| crate::input::tape::Tape::Regab),
        summary,
    })
}

/// The book built from a run's inputs must be that run's: the same files (sha256) and the same
/// totals, or the backtest would judge figures nobody published.
fn check_run_book(book: &Book, run: &RunBook) -> Result<(), Error> {
    let inputs = &run.summary.manifest.inputs;
    let mut problems = Vec::new();
    if book.loans_file.sha256 != inputs.loans.sha256 {
        problems.push(format!(
            "{} changed since the run (sha256)",
            inputs.loans.path
        ));
    }
    if let (Some(now), Some(then)) = (&book.valuations_file, &inputs.valuations) {
        if now.sha256 != then.sha256 {
            problems.push(format!("{} changed since the run (sha256)", then.path));
        }
    }
    let t = &book.summaries.ltv.total;
    let p = &run.summary.portfolio.totals;
    let figures = [
        (
            "accounts",
            Decimal::from(t.accounts),
            Decimal::from(p.accounts),
        ),
        ("balance", t.balance.dec(), p.balance.0),
        (
            "negative_equity",
            t.negative_equity.dec(),
            p.negative_equity.0,
        ),
        (
            "expected_deficiency",
            t.expected_deficiency.dec(),
            p.expected_deficiency.0,
        ),
    ];
    for (name, now, then) in figures {
        if now != then {
            problems.push(format!("{name} is {now} now against the run's {then}"));
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(InputError::RunBook {
            dir: run.dir.clone(),
            problem: format!(
                "its inputs no longer give its book: {}",
                problems.join("; ")
            ),
            fix: "backtest the run's own inputs, or pass today's inputs without --run",
        }
        .into()),
    }
}

/// The backtest of a book, for the command line and the tests.
pub struct Outcome {
    pub summary: String,
}

/// Runs the backtest on `config`'s thread pool and publishes its outputs into `config.out`.
pub fn run(config: &Config, args: &BacktestArgs, progress: Progress) -> Result<Outcome, Error> {
    crate::output::staging::check_target(&config.out).map_err(OutputError)?;
    let _lock = crate::output::staging::OutLock::take(&config.out).map_err(OutputError)?;
    super::thread_pool(config.threads)?.install(|| {
        let (book, outcomes, bt) = compute(config, args, progress)?;
        publish(config, args, &book, &bt, &outcomes)?;
        Ok(Outcome {
            summary: terminal_lines(&bt, &outcomes, config),
        })
    })
}

/// The book, its outcome records and the backtest (`calibrate` fits from the same).
pub fn compute(
    config: &Config,
    args: &BacktestArgs,
    progress: Progress,
) -> Result<(Book, Outcomes, Backtest), Error> {
    let book = book::build(&config.plan(), progress)?;
    if let Some(run) = &args.from_run {
        check_run_book(&book, run)?;
    }
    let stage = progress.spinner("outcomes");
    let outcomes = read_outcomes(config, args, &book)?;
    let bt = backtest(&book, args.horizon, |i| {
        outcomes.history(i, book.loans[i].line)
    });
    stage.finish(&format!(
        "{} accounts walked over {} months",
        bt.counts.accounts,
        args.horizon.min(outcomes.months_of_data)
    ));
    Ok((book, outcomes, bt))
}

/// The input files, as the manifest names them.
pub fn inputs(config: &Config, args: &BacktestArgs) -> Vec<String> {
    [
        Some(&config.loans),
        config.valuations.as_ref(),
        args.outcomes.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|p| p.display().to_string())
    .collect()
}

/// The outcome records: the panel tape itself, or the `--outcomes` file in whichever form it has.
fn read_outcomes(config: &Config, args: &BacktestArgs, book: &Book) -> Result<Outcomes, Error> {
    // The tape's missing words (`NA`, `-`) hold in its outcome columns too.
    let dialect = &config.dialect(true);
    Ok(match &args.outcomes {
        None => outcomes::read_panel(&config.loans, dialect)?,
        Some(path) if outcomes::is_panel(path)? => outcomes::read_panel(path, dialect)?,
        Some(path) => {
            let ids: rustc_hash::FxHashMap<&str, u32> = (0..book.loans.len())
                .map(|i| (book.loans[i].account_id(), i as u32))
                .collect();
            outcomes::read_records(path, book.as_of, dialect, &ids, book.loans.len())?
        }
    })
}

fn publish(
    config: &Config,
    args: &BacktestArgs,
    book: &Book,
    bt: &Backtest,
    outcomes: &Outcomes,
) -> Result<(), Error> {
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
        not_in_book: outcomes.not_in_book(book.loans.iter().map(|l| l.line)),
    };
    let manifest = files::Manifest {
        program: "underwater",
        version: env!("CARGO_PKG_VERSION"),
        command: "backtest",
        inputs: inputs(config, args),
        outputs,
    };
    let facts = files::OutcomeFacts {
        rows,
        months_of_data: outcomes.months_of_data,
        rules: outcomes.rules,
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
        &files::by_pd_csv(&bt.by_pd),
    )?;
    write(
        "summary_backtest_by_ltv_bucket.csv".into(),
        &files::loss_table_csv(&bt.by_ltv),
    )?;
    for table in &bt.by_segment {
        let name = format!(
            "summary_backtest_by_{}.csv",
            segment_file_part(&table.dimension)
        );
        write(name, &files::loss_table_csv(table))?;
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
fn terminal_lines(bt: &Backtest, outcomes: &Outcomes, config: &Config) -> String {
    let mut out = format!(
        "backtest of {} accounts over {} months ({} without outcome records), outputs in {}\n",
        bt.counts.accounts,
        bt.horizon.min(outcomes.months_of_data),
        bt.counts.no_outcome,
        config.out.display()
    );
    if bt.horizon > outcomes.months_of_data {
        out.push_str(&format!(
            "  WARNING: --horizon {} is beyond the data, which ends after month {}: defaults after it \
             cannot be seen, so every realized rate and loss is short of the horizon's (pass --horizon \
             {} or less)\n",
            bt.horizon, outcomes.months_of_data, outcomes.months_of_data
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
