//! The command line: argument definitions and dispatch to the library.

use crate::config::{Config, Format, RunArgs};
use crate::error::RunError;
use crate::progress::Progress;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

const EXIT_CODES: &str = "Exit codes:
  0  success: all outputs written (bad rows, if any, are in rejects.csv)
  1  internal error (a bug: please report it)
  2  bad command line or config file: nothing read or written
  3  an input file cannot be used (missing, unreadable, not CSV, missing a column): nothing written
  4  outputs could not be written (permissions, disk full, unsafe --out): previous outputs intact
  5  --max-reject-rate exceeded: rejects.csv and summary.json written, the book not published
  6  --fail-on-stale: valuations too old: rejects.csv and summary.json written, the book not published";

#[derive(Parser, Debug)]
#[command(name = "underwater", version, about = "Negative equity, LTV and deficiency exposure for auto-loan books, exact to the cent", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the book: match valuations, compute per-account figures and summaries, write them to --out.
    #[command(after_help = EXIT_CODES)]
    Run(RunCmd),
    /// Write a deterministic synthetic book (loans.csv, valuations.csv) for samples, tests and benchmarks.
    Generate(GenerateCmd),
    /// Benchmark floor: read both CSVs with polars, nothing else (see BENCHMARKS.md)
    #[command(hide = true)]
    Floor {
        #[arg(long)]
        loans: PathBuf,
        #[arg(long)]
        valuations: PathBuf,
    },
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
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress or log lines
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct RunCmd {
    /// Loans CSV (account_id, vin, origination_date, amount_financed, term_months, current_balance, ...)
    #[arg(
        long,
        value_name = "LOANS.csv",
        required_unless_present = "tape_file",
        conflicts_with = "tape_file"
    )]
    pub loans: Option<PathBuf>,
    /// The loan tape, with --tape (same as --loans)
    #[arg(value_name = "TAPE.csv", requires = "tape")]
    pub tape_file: Option<PathBuf>,
    /// The loans file is a loan tape in this format: regab = SEC Reg AB II EX-102 auto-loan data.
    /// Its columns are mapped, as_of defaults to its reporting period, values are estimated
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub tape: Option<crate::tape::Tape>,
    /// Valuations CSV (vin, valuation_date, value, [source]); optional when values are estimated
    #[arg(long, value_name = "VALUATIONS.csv")]
    pub valuations: Option<PathBuf>,
    /// Valuation date to run as of (YYYY-MM-DD); wins over the config's as_of; default today (UTC)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,
    /// TOML config: as_of, ltv_bands, recovery_rate, repossession_cost, pd_by_days_past_due, segments
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
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
    /// Bytes of input per parallel chunk (for tests of chunk boundaries)
    #[arg(long, hide = true, default_value_t = crate::reader::CHUNK_BYTES)]
    pub chunk_bytes: usize,
}

/// Runs a parsed command line; prints results on stdout.
pub fn execute(cli: Cli) -> Result<(), RunError> {
    match cli.command {
        Command::Run(cmd) => {
            let loans = cmd
                .loans
                .or(cmd.tape_file)
                .expect("clap requires --loans or a tape file");
            // The tape's period is its own default as_of; read before the config is built.
            let tape_period = match cmd.tape {
                Some(_) => crate::tape::peek_period(&loans)?,
                None => None,
            };
            let config = Config::build(RunArgs {
                loans,
                valuations: cmd.valuations,
                tape: cmd.tape,
                tape_period,
                out: cmd.out,
                config_file: cmd.config,
                as_of: cmd.as_of,
                format: cmd.format,
                threads: cmd.threads,
                quiet: cmd.quiet,
                chunk_bytes: cmd.chunk_bytes,
                max_reject_rate: cmd.max_reject_rate,
                fail_on_stale: cmd.fail_on_stale,
            })?;
            let outcome = crate::run::run(&config, Progress::new(config.quiet))?;
            if !config.quiet {
                // A closed stdout (`| head`) is not a failure of the run: outputs are already in place.
                let _ = std::io::stdout().write_all(outcome.summary.as_bytes());
            }
            Ok(())
        }
        Command::Floor { loans, valuations } => {
            let (l, v) =
                crate::floor::read_both(&loans, &valuations).map_err(RunError::Internal)?;
            println!("polars read {l} loan rows and {v} valuation rows");
            Ok(())
        }
        Command::Generate(cmd) => {
            let as_of = crate::date::Date::parse(&cmd.as_of)
                .ok_or_else(|| crate::config::ConfigError::BadAsOf(cmd.as_of.clone()))?;
            let args = crate::generate::GenerateArgs {
                loans: cmd.loans,
                seed: cmd.seed,
                out: cmd.out,
                as_of,
                valuations_per_loan: cmd.valuations_per_loan,
                dirty: cmd.dirty,
            };
            let threads = match cmd.threads {
                Some(0) => return Err(crate::config::ConfigError::BadThreads.into()),
                Some(n) => n,
                None => std::thread::available_parallelism().map_or(1, |n| n.get()),
            };
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| RunError::Internal(e.into()))?;
            pool.install(|| crate::generate::generate(&args, Progress::new(cmd.quiet)))
                .map_err(RunError::Output)
        }
    }
}
