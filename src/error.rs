//! The errors a run can end with, and the exit code each maps to.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: all outputs written |
//! | 1 | unexpected internal error (a bug: please report it) |
//! | 2 | bad command line or config file: nothing was read or written |
//! | 3 | an input file cannot be used (missing, unreadable, not CSV, missing a required column): nothing written |
//! | 4 | outputs could not be written (permissions, disk full, unsafe --out): previous outputs left intact |
//! | 5 | `--max-reject-rate` exceeded: rejects.csv and summary.json written, the book not published |
//! | 6 | `--fail-on-stale`: some valuations are too old: rejects.csv and summary.json written, book not published |
//!
//! Bad *rows* are not errors: they go to `rejects.csv` and the run succeeds.

use std::path::PathBuf;

pub const EXIT_OK: u8 = 0;
pub const EXIT_INTERNAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INPUT: u8 = 3;
pub const EXIT_OUTPUT: u8 = 4;
pub const EXIT_REJECT_RATE: u8 = 5;
pub const EXIT_STALE: u8 = 6;

/// An input file that cannot be used as a whole. Messages name the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot open {path}: {source}. Fix: check the path and that the file is readable")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is empty. Fix: it needs a header line naming the columns, then one row per record"
    )]
    Empty { path: PathBuf },
    #[error(
        "{path} is not a CSV file: {reason}. Fix: pass the CSV export, not another kind of file"
    )]
    NotCsv { path: PathBuf, reason: String },
    #[error("{0}")]
    Query(String),
    #[error(
        "{path} is not an EX-102 auto-loan asset data XML file: {reason}. Fix: pass the filing's EX-102 \
         exhibit as downloaded from EDGAR, or its CSV flattening"
    )]
    NotTape { path: PathBuf, reason: String },
    #[error(
        "{path}: bad header: {problem}. Fix: give every column one unique name in the header line"
    )]
    BadHeader { path: PathBuf, problem: String },
    #[error(
        "{path} is missing required column{} {}. Fix: add {} to the header (names are case-insensitive). \
         Columns found: {}",
        if missing.len() > 1 { "s" } else { "" },
        missing.join(", "),
        if missing.len() > 1 { "them" } else { "it" },
        found.join(", ")
    )]
    MissingColumns {
        path: PathBuf,
        missing: Vec<String>,
        found: Vec<String>,
    },
    #[error(
        "segment `{segment}` (config `segments`) is neither a derived segment (vintage, credit_tier, term_band) \
         nor a column of {path}. Fix: use one of: vintage, credit_tier, term_band, {}",
        found.join(", ")
    )]
    UnknownSegment {
        segment: String,
        path: PathBuf,
        found: Vec<String>,
    },
}

/// Everything `run` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{0:#}")]
    Output(anyhow::Error),
    #[error("{0:#}")]
    Internal(anyhow::Error),
    #[error(
        "{rejected} of {read} {input} rows were rejected, above --max-reject-rate {max}. \
         See rejects.csv and summary.json in the output directory; the book was not published"
    )]
    RejectRate {
        input: &'static str,
        rejected: u64,
        read: u64,
        max: rust_decimal::Decimal,
    },
    #[error(
        "{accounts} accounts are valued by valuations older than {days} days (--fail-on-stale). \
         See summary.json in the output directory; the book was not published"
    )]
    Stale { accounts: u64, days: u32 },
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_) => EXIT_USAGE,
            RunError::Input(_) => EXIT_INPUT,
            RunError::Output(_) => EXIT_OUTPUT,
            RunError::Internal(_) => EXIT_INTERNAL,
            RunError::RejectRate { .. } => EXIT_REJECT_RATE,
            RunError::Stale { .. } => EXIT_STALE,
        }
    }
}
