//! The command line: argument definitions and dispatch to the library.

use crate::commands;
use crate::config::{Config, Format, RunArgs};
use crate::error::{ConfigError, Error, InputError, OutputError};
use crate::progress::Progress;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "underwater", version, about = "Negative equity, LTV and deficiency exposure for auto-loan books, exact to the cent", after_help = crate::error::exit_codes_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the book: match valuations, compute per-account figures and summaries, write them to --out.
    #[command(after_help = crate::error::exit_codes_help())]
    Run(RunCmd),
    /// Backtest the figures against what happened: predicted against realized defaults and losses
    #[command(after_help = crate::error::exit_codes_help())]
    Backtest(BacktestCmd),
    /// Fit the pd per class and the recovery line to what happened: calibrated.toml for `run --config`
    #[command(after_help = crate::error::exit_codes_help())]
    Calibrate(CalibrateCmd),
    /// Answer a question in SQL over the exact per-account figures of a run or of raw inputs
    #[command(after_help = format!("{QUERY_HELP}\n\n{}", crate::error::exit_codes_help()))]
    Query(QueryCmd),
    /// Write report.html and report.xlsx from a finished run's summary.json (nothing recomputed)
    #[command(after_help = crate::error::exit_codes_help())]
    Report {
        /// The run's --out directory
        #[arg(long, value_name = "DIR")]
        run: PathBuf,
        /// Where to write the reports (default: the run directory)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write a deterministic synthetic book (loans.csv, valuations.csv) for samples, tests and benchmarks.
    Generate(GenerateCmd),
    /// Print a shell completion script, e.g. `underwater completions bash > /etc/bash_completion.d/underwater`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Benchmark floor: read both CSVs with polars, nothing else (see BENCHMARKS.md)
    #[command(hide = true)]
    Floor {
        #[arg(long)]
        loans: PathBuf,
        #[arg(long)]
        valuations: PathBuf,
    },
}

const QUERY_HELP: &str = "Tables: accounts (every figure of `run`, with the loan's own columns), and with raw
inputs also loans and valuations. Money columns are exact decimals: SUM, MIN, MAX and GROUP BY on them
are exact to the cent.

Examples:
  underwater query --run out \"SELECT state, SUM(negative_equity) AS ne FROM accounts GROUP BY state ORDER BY ne DESC\"
  underwater query --run out --where \"days_past_due >= 60\" --top 20 --order-by expected_deficiency
  underwater query --run out --by dealer_id,new_used --where \"term_months >= 72\"
  underwater query --loans data/loans.csv --valuations data/valuations.csv --as-of 2025-06-30 --by state";

#[derive(Args, Debug)]
pub struct QueryCmd {
    /// SQL over the tables accounts, loans, valuations
    #[arg(value_name = "SQL")]
    pub sql: Option<String>,
    /// A finished run's output directory: reads accounts.parquet or accounts.csv, recomputes nothing.
    /// Repeat it, or give a quoted pattern ('nightly/*'), to query several runs at once: accounts then
    /// holds every run's rows with their `as_of`
    #[arg(long, value_name = "DIR", conflicts_with_all = ["loans", "valuations", "tape", "as_of", "config"], required_unless_present = "loans")]
    pub run: Vec<PathBuf>,
    /// Loans CSV (or a tape with --tape): the figures are computed exactly as `run` does
    #[arg(long, value_name = "LOANS.csv")]
    pub loans: Option<PathBuf>,
    /// The loans file is a loan tape in this format
    #[arg(long, value_enum, value_name = "FORMAT", requires = "loans")]
    pub tape: Option<crate::input::tape::Tape>,
    /// Valuations CSV
    #[arg(long, value_name = "VALUATIONS.csv", requires = "loans")]
    pub valuations: Option<PathBuf>,
    /// Valuation date for raw inputs (YYYY-MM-DD)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,
    /// TOML config for raw inputs, as for `run`
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Shorthand filter: a SQL condition on accounts columns, e.g. "state = 'TX' AND term_months >= 72"
    #[arg(long = "where", value_name = "CONDITION")]
    pub filter: Option<String>,
    /// Shorthand group-by: the summary metrics per group of these columns, then TOTAL
    #[arg(long, value_name = "COL,COL", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Shorthand: only the N rows with the largest --order-by values
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Shorthand: sort by this column, largest first
    #[arg(long, value_name = "COL")]
    pub order_by: Option<String>,
    /// Output format (default: table on a terminal, CSV when piped, or from the -o file's extension)
    #[arg(long, value_enum)]
    pub format: Option<crate::commands::query::QueryFormat>,
    /// Write the answer to this file (atomically) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress lines
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct BacktestCmd {
    #[command(flatten)]
    pub inputs: BookInputs,
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
    /// Output directory; replaced whole and atomically when the backtest succeeds
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress lines, no summary on stdout
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct CalibrateCmd {
    #[command(flatten)]
    pub backtest: BacktestCmd,
    /// A pd class with fewer tested accounts keeps its current pd
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub min_accounts: u64,
}

#[derive(Args, Debug)]
pub struct GenerateCmd {
    /// Number of loans
    #[arg(long, value_name = "N")]
    pub loans: u64,
    /// Random seed: the same arguments always give byte-identical files
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory for loans.csv and valuations.csv
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Book date the balances and valuations are generated for
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2025-06-30")]
    pub as_of: String,
    /// Valuations per vehicle (before ties, future-dated and unvalued vehicles)
    #[arg(long, default_value_t = 3)]
    pub valuations_per_loan: u32,
    /// Inject the bad rows real exports carry, listed in dirty_manifest.csv
    #[arg(long)]
    pub dirty: bool,
    /// Write the same book N months after --as-of: balances amortized, some loans repaid, new ones
    /// added, delinquency rolled, fresh valuations (compare the two with `run --previous`)
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=120))]
    pub months_later: u32,
    /// Also write outcomes.csv: N months of loan-month records after --as-of for `backtest
    /// --outcomes`, defaults and sales drawn from documented rules (see `underwater backtest`)
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "months_later", value_parser = clap::value_parser!(u32).range(0..=120))]
    pub outcome_months: u32,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress or log lines
    #[arg(long, short)]
    pub quiet: bool,
}

/// The inputs of a book, shared by `run`, `backtest` and `calibrate`: a loans file or a tape, the
/// valuations, the date and the config.
#[derive(Args, Debug)]
pub struct BookInputs {
    /// Loans CSV (account_id, vin, origination_date, amount_financed, term_months, current_balance, ...)
    // Required unless a tape file is given (or, for backtest and calibrate, `--run`): checked by
    // [`BookInputs::loans_file`], since `run` has no `--run` for clap to name.
    #[arg(long, value_name = "LOANS.csv", conflicts_with = "tape_file")]
    pub loans: Option<PathBuf>,
    /// The loan tape, with --tape (same as --loans)
    #[arg(value_name = "TAPE.csv", requires = "tape")]
    pub tape_file: Option<PathBuf>,
    /// The loans file is a loan tape in this format: regab = SEC Reg AB II EX-102 auto-loan data.
    /// Its columns are mapped, as_of defaults to its reporting period, values are estimated
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub tape: Option<crate::input::tape::Tape>,
    /// Valuations CSV (vin, valuation_date, value, [source]); optional when values are estimated
    #[arg(long, value_name = "VALUATIONS.csv")]
    pub valuations: Option<PathBuf>,
    /// Valuation date to run as of (YYYY-MM-DD); wins over the config's as_of; default today (UTC)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,
    /// TOML config: as_of, ltv_bands, recovery_rate, repossession_cost, pd_by_days_past_due, segments
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RunCmd {
    #[command(flatten)]
    pub inputs: BookInputs,
    /// Output directory; replaced whole and atomically when the run succeeds
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Format of the per-account file
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress, no log lines, no summary on stdout
    #[arg(long, short)]
    pub quiet: bool,
    /// Fail with exit code 5 when more than this share of an input's rows is rejected (e.g. 0.01)
    #[arg(long, value_name = "SHARE")]
    pub max_reject_rate: Option<String>,
    /// Fail with exit code 6 when any account's valuation is older than N days at as_of
    #[arg(long, value_name = "DAYS")]
    pub fail_on_stale: Option<u32>,
    /// Skip the outlook: no stress scenarios and no run-off (summary_scenarios.csv and
    /// summary_runoff.csv are not written, months_to_positive_equity is empty)
    #[arg(long)]
    pub no_outlook: bool,
    /// Compare with a finished earlier run (its --out directory): band migrations, delinquency roll
    /// rates and the negative-equity bridge in summary_changes_*.csv
    #[arg(long, value_name = "DIR")]
    pub previous: Option<PathBuf>,
    /// Bytes of input per parallel chunk (for tests of chunk boundaries)
    #[arg(long, hide = true, default_value_t = crate::input::reader::CHUNK_BYTES)]
    pub chunk_bytes: usize,
}

/// Runs a parsed command line; prints results on stdout.
pub fn execute(cli: Cli) -> Result<(), Error> {
    // A test hook (tests/claims.rs): the one way to make the binary panic on purpose, so that a test
    // sees a panic exit 1 with its message, never Rust's 101.
    if std::env::var_os("UNDERWATER_TEST_PANIC").is_some() {
        panic!("UNDERWATER_TEST_PANIC is set");
    }
    match cli.command {
        Command::Run(cmd) => run_command(cmd),
        Command::Backtest(cmd) => {
            let (config, args) = backtest_config(cmd)?;
            let outcome = commands::backtest::run(&config, &args, Progress::new(config.quiet))?;
            match config.quiet {
                true => Ok(()),
                false => commands::print(outcome.summary.as_bytes()),
            }
        }
        Command::Calibrate(cmd) => {
            let (config, args) = backtest_config(cmd.backtest)?;
            let progress = Progress::new(config.quiet);
            let printed = commands::calibrate::run(&config, &args, cmd.min_accounts, progress)?;
            match config.quiet {
                true => Ok(()),
                false => commands::print(printed.as_bytes()),
            }
        }
        Command::Query(cmd) => query_command(cmd),
        Command::Report { run, out } => {
            let written = commands::report::report(&run, out.as_deref())?;
            eprintln!(
                "underwater: report.html and report.xlsx in {}",
                written.display()
            );
            Ok(())
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "underwater", &mut script);
            commands::print(&script)
        }
        Command::Floor { loans, valuations } => {
            let (l, v) =
                commands::floor::read_both(&loans, &valuations).map_err(Error::Internal)?;
            commands::print(
                format!("polars read {l} loan rows and {v} valuation rows\n").as_bytes(),
            )
        }
        Command::Generate(cmd) => generate_command(cmd),
    }
}

impl BookInputs {
    /// The loans file: `--loans` or the tape file; one of them is required.
    fn loans_file(&mut self) -> Result<PathBuf, ConfigError> {
        self.loans
            .take()
            .or(self.tape_file.take())
            .ok_or(ConfigError::NoLoans)
    }
}

/// `underwater run`: the config from the flags, the run, the summary on stdout.
fn run_command(cmd: RunCmd) -> Result<(), Error> {
    let mut spooled = Vec::new();
    let config = run_config(cmd, &mut spooled)?;
    let outcome = commands::run::run(&config, Progress::new(config.quiet))?;
    match config.quiet {
        true => Ok(()),
        false => commands::print(outcome.summary.as_bytes()),
    }
}

/// The run's config from `run`'s flags (standard input spooled into `spooled`, which must outlive the
/// run).
pub fn run_config(mut cmd: RunCmd, spooled: &mut Vec<tempfile::TempPath>) -> Result<Config, Error> {
    let loans = cmd.inputs.loans_file()?;
    let (loans, valuations) = from_stdin(loans, cmd.inputs.valuations, spooled)?;
    let tape_period = tape_period(cmd.inputs.tape, &loans)?;
    Ok(Config::build(RunArgs {
        out: cmd.out,
        format: cmd.format,
        threads: cmd.threads,
        quiet: cmd.quiet,
        chunk_bytes: cmd.chunk_bytes,
        max_reject_rate: cmd.max_reject_rate,
        fail_on_stale: cmd.fail_on_stale,
        no_outlook: cmd.no_outlook,
        previous: cmd.previous,
        ..RunArgs::book(
            loans,
            valuations,
            cmd.inputs.tape,
            tape_period,
            cmd.inputs.config,
            cmd.inputs.as_of,
        )
    })?)
}

/// `underwater query`: the source (finished runs or raw inputs), the format, the answer.
fn query_command(cmd: QueryCmd) -> Result<(), Error> {
    let mut spooled = Vec::new();
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let quiet = cmd.quiet;
    let args = query_args(cmd, terminal, &mut spooled)?;
    crate::commands::query::query(args, Progress::new(quiet))
}

/// The query's arguments from `query`'s flags: `terminal` says whether stdout is one (the default
/// format); standard input is spooled into `spooled`, which must outlive the query.
pub fn query_args(
    cmd: QueryCmd,
    terminal: bool,
    spooled: &mut Vec<tempfile::TempPath>,
) -> Result<crate::commands::query::QueryArgs, Error> {
    use crate::commands::query::{QueryArgs, Source};
    let source = match (cmd.run.is_empty(), cmd.loans) {
        (false, _) => Source::Runs(crate::commands::query::expand_runs(&cmd.run)?),
        (true, Some(loans)) => {
            let (loans, valuations) = from_stdin(loans, cmd.valuations, spooled)?;
            let tape_period = tape_period(cmd.tape, &loans)?;
            // Query's tables show no scenario; the run-off column stays.
            Source::Inputs(Box::new(Config::build(RunArgs {
                threads: cmd.threads,
                quiet: cmd.quiet,
                ..RunArgs::book(
                    loans,
                    valuations,
                    cmd.tape,
                    tape_period,
                    cmd.config,
                    cmd.as_of,
                )
            })?))
        }
        (true, None) => unreachable!("clap requires --run or --loans"),
    };
    let (output, format) = crate::commands::query::output_format(cmd.output, cmd.format, terminal)?;
    Ok(QueryArgs {
        source,
        sql: cmd.sql,
        filter: cmd.filter,
        by: cmd.by,
        top: cmd.top,
        order_by: cmd.order_by,
        format,
        output,
    })
}

/// `underwater generate`: the flags checked, the book written.
fn generate_command(cmd: GenerateCmd) -> Result<(), Error> {
    if cmd.loans > 1_000_000_000 || cmd.valuations_per_loan > 1000 {
        return Err(ConfigError::OutOfRange {
            flag: "--loans / --valuations-per-loan",
            value: format!("{} / {}", cmd.loans, cmd.valuations_per_loan),
            range: "at most 1,000,000,000 loans and 1,000 valuations per loan",
        }
        .into());
    }
    let as_of = crate::date::Date::parse(&cmd.as_of)
        .ok_or_else(|| ConfigError::BadAsOf(cmd.as_of.clone()))?;
    let args = crate::commands::generate::GenerateArgs {
        loans: cmd.loans,
        seed: cmd.seed,
        out: cmd.out,
        as_of,
        valuations_per_loan: cmd.valuations_per_loan,
        dirty: cmd.dirty,
        months_later: cmd.months_later,
        outcome_months: cmd.outcome_months,
    };
    let threads = cmd
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    commands::thread_pool(threads)?
        .install(|| commands::generate::generate(&args, Progress::new(cmd.quiet)))
        .map_err(|e| OutputError(e).into())
}

/// A tape's reporting period (its own default as_of), read before the config is built; `None` for
/// underwater's own loans file.
fn tape_period(
    tape: Option<crate::input::tape::Tape>,
    loans: &std::path::Path,
) -> Result<Option<crate::date::Date>, Error> {
    match tape {
        Some(_) => Ok(crate::input::tape::peek_period(loans)?),
        None => Ok(None),
    }
}

/// The run's config and the backtest's own arguments, from `backtest`'s (and `calibrate`'s) flags.
fn backtest_config(
    mut cmd: BacktestCmd,
) -> Result<(Config, commands::backtest::BacktestArgs), Error> {
    let from_run = match cmd.run.take() {
        Some(dir) => Some(commands::backtest::run_book(&dir)?),
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
    let loans = cmd.inputs.loans_file()?;
    let tape_period = tape_period(cmd.inputs.tape, &loans)?;
    let config = Config::build(RunArgs {
        out: cmd.out,
        threads: cmd.threads,
        quiet: cmd.quiet,
        // The backtest compares the base figures: no scenario, no run-off.
        no_outlook: true,
        ..RunArgs::book(
            loans,
            cmd.inputs.valuations,
            cmd.inputs.tape,
            tape_period,
            cmd.inputs.config,
            cmd.inputs.as_of,
        )
    })?;
    let args = commands::backtest::BacktestArgs {
        outcomes: cmd.outcomes,
        horizon: cmd.horizon,
        from_run,
    };
    Ok((config, args))
}

/// `-` as the loans or valuations file is standard input. The loader reads a file more than once (the
/// header, then chunks in parallel), so standard input is first copied to a temporary file
/// (`$TMPDIR/underwater-stdin-*.csv`, the name the manifest and rejects.csv give), removed when the
/// command ends and on a signal. Only one of the two can be `-`.
fn from_stdin(
    loans: PathBuf,
    valuations: Option<PathBuf>,
    spooled: &mut Vec<tempfile::TempPath>,
) -> Result<(PathBuf, Option<PathBuf>), Error> {
    let dash = |p: &PathBuf| p.as_os_str() == "-";
    if dash(&loans) && valuations.as_ref().is_some_and(dash) {
        return Err(ConfigError::OutOfRange {
            flag: "--loans / --valuations",
            value: "- / -".into(),
            range: "at most one of them can be standard input (-)",
        }
        .into());
    }
    let mut spool = |p: PathBuf| -> Result<PathBuf, Error> {
        if !dash(&p) {
            return Ok(p);
        }
        let copy = || -> std::io::Result<tempfile::TempPath> {
            let mut file = tempfile::Builder::new()
                .prefix("underwater-stdin-")
                .suffix(".csv")
                .tempfile()?;
            crate::cleanup::register(file.path());
            std::io::copy(&mut std::io::stdin().lock(), file.as_file_mut())?;
            Ok(file.into_temp_path())
        };
        let path = copy().map_err(|source| InputError::Read {
            path: PathBuf::from("- (standard input)"),
            source,
        })?;
        let p = path.to_path_buf();
        spooled.push(path);
        Ok(p)
    };
    Ok((spool(loans)?, valuations.map(&mut spool).transpose()?))
}
