//! The book and what happened to it, shared by `backtest` and `calibrate`: their flags, the config
//! they build (a finished run's inputs with `--run`, checked to give its figures), the outcome records
//! read in whichever form they come, and the backtest computed.

use crate::book::backtest::{backtest, Backtest};
use crate::book::reanchor::{reanchor, Origin};
use crate::book::{self, Book};
use crate::config::Config;
use crate::error::{Error, InputError};
use crate::input::outcomes::{self, Outcomes};
use crate::progress::Progress;
use rust_decimal::Decimal;
use std::path::PathBuf;

/// `underwater backtest`'s flags (and `calibrate`'s, which adds its own).
#[derive(clap::Args, Debug)]
pub struct BacktestCmd {
    #[command(flatten)]
    pub inputs: super::args::BookInputs,
    /// A finished run's directory as the book: its inputs, config and as_of from its summary.json,
    /// checked to be the files it read (sha256) and to give its figures
    #[arg(long, value_name = "DIR", conflicts_with_all = ["loans", "tape_file", "valuations", "tape", "as_of", "config"])]
    pub run: Option<PathBuf>,
    /// What happened after as_of: loan-month records (account_id, month, balance, principal_paid,
    /// amount_paid, charged_off, recoveries, repossession_proceeds, days_past_due) or a panel tape;
    /// default: the loans file, a panel tape
    #[arg(long, value_name = "FILE.csv")]
    pub outcomes: Option<PathBuf>,
    /// Months after as_of in which a default counts
    #[arg(long, value_name = "MONTHS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub horizon: u32,
    /// Re-anchor the book K months after the tape's period (or as_of): the accounts open then, with
    /// their balance, age and days past due at month K, judged on the months after it
    #[arg(long, value_name = "K", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=599))]
    pub start_month: u32,
    /// Judge only the pd table: no lifetime predictions (no predicted_* columns, no
    /// summary_backtest_curve.csv)
    #[arg(long)]
    pub no_lifetime: bool,
    /// Output directory; replaced whole and atomically when the backtest succeeds
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub workers: super::args::Workers,
}

/// What `backtest` needs beyond the run's config.
pub struct BacktestArgs {
    /// Loan-month records or a panel tape; `None`: the loans file is the panel.
    pub outcomes: Option<PathBuf>,
    /// Months after as_of in which a default counts.
    pub horizon: u32,
    /// Months after the tape's period (or as_of) the book is re-anchored at; 0: not re-anchored.
    pub start_month: u32,
    /// `--run DIR`: the finished run whose book this is, to check the book against.
    pub from_run: Option<RunInputs>,
}

/// A finished run taken as the book (`--run DIR`): the inputs, config, as_of and tape its summary.json
/// names (paths as the run was given them, so relative to where it was started), and the summary.
pub struct RunInputs {
    pub dir: PathBuf,
    pub loans: PathBuf,
    pub valuations: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub as_of: String,
    pub tape: Option<crate::input::tape::Tape>,
    pub summary: crate::output::summary_json::Summary,
}

/// Reads a finished run as the book; its files must still be where the run read them.
pub fn run_inputs(dir: &std::path::Path) -> Result<RunInputs, Error> {
    let summary = crate::output::finished_run::FinishedRun::open(dir)?.summary;
    let (manifest, config) = (&summary.manifest, &summary.manifest.record.config);
    let missing = |path: &str| -> Result<PathBuf, Error> {
        let p = PathBuf::from(path);
        let spooled = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("underwater-stdin-"));
        match p.exists() {
            true => Ok(p),
            // The run's copy of standard input was removed when the run ended: no directory has it.
            false if spooled => Err(InputError::RunInputs {
                dir: dir.to_path_buf(),
                problem: format!(
                    "its input was read from standard input (copied to {path}, removed when the run \
                     ended), so it cannot be read again"
                ),
                fix: "save the input to a file and run it again with the file's path (then backtest \
                      that run), or pass the inputs to the backtest without --run",
            }
            .into()),
            false => Err(InputError::RunInputs {
                dir: dir.to_path_buf(),
                problem: format!("its input {path} is not there"),
                fix: "run the backtest from the directory the run was started in, or pass its inputs \
                      (--loans, --valuations, --config, --as-of)",
            }
            .into()),
        }
    };
    let loans = missing(&manifest.record.inputs.loans.path)?;
    let valuations = match &manifest.record.inputs.valuations {
        Some(v) => Some(missing(&v.path)?),
        None => None,
    };
    let config_file = match &config.config_file {
        Some(c) => Some(missing(c)?),
        None => None,
    };
    Ok(RunInputs {
        dir: dir.to_path_buf(),
        loans,
        valuations,
        config: config_file,
        as_of: manifest.record.as_of.clone(),
        tape: config
            .tape
            .as_ref()
            .map(|_| crate::input::tape::Tape::Regab),
        summary,
    })
}

/// The book built from a run's inputs must be that run's: the same files (sha256) and the same
/// totals, or the backtest would judge figures nobody published.
fn check_run_book(book: &Book, run: &RunInputs) -> Result<(), Error> {
    let inputs = &run.summary.manifest.record.inputs;
    let mut problems = Vec::new();
    if book.loaded.file.sha256 != inputs.loans.sha256 {
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
        false => Err(InputError::RunInputs {
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

/// The book judged, what happened to it and the backtest.
pub struct Judged {
    /// The book at as_of, or re-anchored at `--start-month`.
    pub book: Book,
    pub outcomes: Outcomes,
    pub bt: Backtest,
    /// `--start-month K` (K > 0): where the book at month 0 went by month K.
    pub origin: Option<Origin>,
    /// Outcome rows whose account is not in the book at month 0.
    pub rows_not_in_book: u64,
}

/// The book, its outcome records and the backtest (`calibrate` fits from the same).
pub fn compute(config: &Config, args: &BacktestArgs, progress: Progress) -> Result<Judged, Error> {
    let book = book::build(&config.plan(), progress)?;
    if let Some(run) = &args.from_run {
        check_run_book(&book, run)?;
    }
    let stage = progress.spinner("outcomes");
    let outcomes = read_outcomes(config, args, &book)?;
    let rows_not_in_book = outcomes.not_in_book(book.loaded.loans.iter().map(|l| l.line));
    let (book, origin) = match args.start_month {
        0 => (book, None),
        k => {
            let (book, origin) = reanchored(config, book, &outcomes, k, progress)?;
            (book, Some(origin))
        }
    };
    let at_start = |i: usize| origin.as_ref().map_or(i, |o| o.loan_at_start[i] as usize);
    let bt = backtest(&book, args.horizon, |i| {
        let history = outcomes.history(at_start(i), book.loaded.loans[i].line);
        match &origin {
            Some(o) => history.map(|h| h.from_month(o.month)),
            None => history,
        }
    });
    stage.finish(&format!(
        "{} accounts walked over {} months",
        bt.counts.accounts,
        args.horizon.min(outcomes.months_of_data - args.start_month)
    ));
    Ok(Judged {
        book,
        outcomes,
        bt,
        origin,
        rows_not_in_book,
    })
}

impl Judged {
    /// The months of data after the book's as_of (after month K when re-anchored).
    pub fn months_of_data(&self) -> u32 {
        self.outcomes.months_of_data - self.origin.as_ref().map_or(0, |o| o.month)
    }
}

/// The book re-anchored `k` months after as_of ([`crate::book::reanchor`]), built again from its
/// loans at month k.
fn reanchored(
    config: &Config,
    book: Book,
    outcomes: &Outcomes,
    k: u32,
    progress: Progress,
) -> Result<(Book, Origin), Error> {
    if k >= outcomes.months_of_data {
        return Err(InputError::StartMonth {
            month: k,
            months_of_data: outcomes.months_of_data,
        }
        .into());
    }
    let mut plan = config.plan();
    // A month's last day stays the last day (2017-11-30 plus one month is 2017-12-31).
    plan.as_of = crate::date::month_date(book.as_of, k);
    if let Some(index) = plan
        .estimate
        .index
        .as_ref()
        .filter(|_| plan.estimate.enabled)
    {
        crate::config::check_index_month(index, plan.as_of)?;
    }
    let Book {
        loaded: mut loans,
        rejects,
        ..
    } = book;
    loans.rejects = rejects
        .into_iter()
        .filter(|r| r.input == crate::input::load::InputKind::Loans)
        .collect();
    let origin = reanchor(&mut loans, k, |i, line| outcomes.history(i, line));
    let book = book::build_from(&plan, loans, progress)?;
    Ok((book, origin))
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
    let conventions = &config.conventions(true);
    Ok(match &args.outcomes {
        None => outcomes::read_panel(&config.loans, conventions)?,
        Some(path) if outcomes::is_panel(path)? => outcomes::read_panel(path, conventions)?,
        Some(path) => {
            let ids: rustc_hash::FxHashMap<&str, u32> = (0..book.loaded.loans.len())
                .map(|i| (book.loaded.loans[i].account_id(), i as u32))
                .collect();
            outcomes::read_records(path, book.as_of, conventions, &ids, book.loaded.loans.len())?
        }
    })
}

/// The run's config and the backtest's own arguments, from `backtest`'s (and `calibrate`'s) flags.
pub fn config(
    mut cmd: BacktestCmd,
    spooled: &mut Vec<tempfile::TempPath>,
) -> Result<(Config, BacktestArgs), Error> {
    let from_run = match cmd.run.take() {
        Some(dir) => Some(run_inputs(&dir)?),
        None => None,
    };
    if let Some(run) = &from_run {
        let inputs = &mut cmd.inputs;
        inputs.loans = Some(run.loans.clone());
        inputs.valuations = run.valuations.clone();
        inputs.config = run.config.clone();
        inputs.as_of = Some(run.as_of.clone());
        inputs.tape = run.tape;
    }
    let config = Config::build(crate::config::RunArgs {
        out: cmd.out,
        threads: cmd.workers.threads,
        quiet: cmd.workers.quiet,
        // The backtest compares the base figures: no scenario, no run-off.
        no_outlook: true,
        no_lifetime: cmd.no_lifetime,
        ..cmd.inputs.run_args(spooled)?
    })?;
    let args = BacktestArgs {
        outcomes: cmd.outcomes,
        horizon: cmd.horizon,
        start_month: cmd.start_month,
        from_run,
    };
    Ok((config, args))
}
