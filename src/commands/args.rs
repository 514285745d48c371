//! The flags several commands share, declared once: the workers (threads, quiet), a book's inputs
//! (`run`, `backtest`, `calibrate`),
//! and how standard input and a tape's reporting period are read before a config is built.

use crate::config::RunArgs;
use crate::error::{ConfigError, Error, InputError};
use clap::Args;
use std::path::PathBuf;

/// How a command works: its threads and whether it prints progress. Every command has them.
#[derive(Args, Debug)]
pub struct Workers {
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress or log lines, and no summary on stdout (an answer asked for is still printed)
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

impl BookInputs {
    /// The loans file: `--loans` or the tape file; one of them is required.
    pub fn loans_file(&mut self) -> Result<PathBuf, ConfigError> {
        self.loans
            .take()
            .or(self.tape_file.take())
            .ok_or(ConfigError::NoLoans)
    }

    /// The book's part of a command's arguments: the loans (or tape), valuations, tape, config and
    /// as_of; standard input is spooled into `spooled`, which must outlive the command.
    pub fn run_args(mut self, spooled: &mut Vec<tempfile::TempPath>) -> Result<RunArgs, Error> {
        let loans = self.loans_file()?;
        let (loans, valuations) = from_stdin(loans, self.valuations, spooled)?;
        let tape_period = tape_period(self.tape, &loans)?;
        Ok(RunArgs::book(
            loans,
            valuations,
            self.tape,
            tape_period,
            self.config,
            self.as_of,
        ))
    }
}

/// A tape's reporting period (its own default as_of), read before the config is built; `None` for
/// underwater's own loans file.
pub fn tape_period(
    tape: Option<crate::input::tape::Tape>,
    loans: &std::path::Path,
) -> Result<Option<crate::date::Date>, Error> {
    match tape {
        Some(_) => Ok(crate::input::tape::peek_period(loans)?),
        None => Ok(None),
    }
}

/// `-` as the loans or valuations file is standard input. The loader reads a file more than once (the
/// header, then chunks in parallel), so standard input is first copied to a temporary file
/// (`$TMPDIR/underwater-stdin-*.csv`, the name the manifest and rejects.csv give), removed when the
/// command ends and on a signal. Only one of the two can be `-`.
pub fn from_stdin(
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
