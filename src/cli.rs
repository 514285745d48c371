//! The command line: the commands' flags gathered under one parser, and dispatch to the library. Each
//! command's flags and their conversion into its config live beside it in `commands/`.

use crate::commands::{self, backtest, calibrate, generate, history, query, report, run};
use crate::error::Error;
use clap::{Parser, Subcommand};

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
    Run(run::RunCmd),
    /// Backtest the figures against what happened: predicted against realized defaults and losses
    #[command(after_help = crate::error::exit_codes_help())]
    Backtest(history::BacktestCmd),
    /// Fit the pd per class and the recovery line to what happened: calibrated.toml for `run --config`
    #[command(after_help = crate::error::exit_codes_help())]
    Calibrate(calibrate::CalibrateCmd),
    /// Answer a question in SQL over the exact per-account figures of a run or of raw inputs
    #[command(after_help = format!("{}\n\n{}", query::QUERY_HELP, crate::error::exit_codes_help()))]
    Query(query::QueryCmd),
    /// Write report.html and report.xlsx from a finished run's summary.json (nothing recomputed)
    #[command(after_help = crate::error::exit_codes_help())]
    Report(report::ReportCmd),
    /// Write a deterministic synthetic book (loans.csv, valuations.csv) for samples, tests and benchmarks.
    Generate(generate::GenerateCmd),
    /// Print a shell completion script, e.g. `underwater completions bash > /etc/bash_completion.d/underwater`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs a parsed command line; prints results on stdout.
pub fn execute(cli: Cli) -> Result<(), Error> {
    // A test hook (tests/claims.rs): the one way to make the binary panic on purpose, so that a test
    // sees a panic exit 1 with its message, never Rust's 101.
    if std::env::var_os("UNDERWATER_TEST_PANIC").is_some() {
        panic!("UNDERWATER_TEST_PANIC is set");
    }
    match cli.command {
        Command::Run(cmd) => run::command(cmd),
        Command::Backtest(cmd) => backtest::command(cmd),
        Command::Calibrate(cmd) => calibrate::command(cmd),
        Command::Query(cmd) => query::command(cmd),
        Command::Report(cmd) => report::command(cmd),
        Command::Generate(cmd) => generate::command(cmd),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "underwater", &mut script);
            commands::print(&script)
        }
    }
}
