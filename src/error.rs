//! The errors a command can end with, one type per layer, and the exit code each maps to.
//!
//! [`EXIT_CODES`] is the one table of exit codes: `--help` prints it, [`Error::exit_code`] returns its
//! codes, and a test checks that docs/REFERENCE.md's table says the same. Bad *rows* are not errors: they go
//! to `rejects.csv` and the run succeeds.

use std::path::PathBuf;

pub const EXIT_OK: u8 = 0;
pub const EXIT_INTERNAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INPUT: u8 = 3;
pub const EXIT_OUTPUT: u8 = 4;
pub const EXIT_REJECT_RATE: u8 = 5;
pub const EXIT_STALE: u8 = 6;

/// More worker threads than any machine this runs on has cores: a typo, refused up front.
pub const MAX_THREADS: usize = 1024;

/// Every exit code and what it means, as `--help` and docs/REFERENCE.md show them.
pub const EXIT_CODES: [(u8, &str); 10] = [
    (EXIT_OK, "success: all outputs written (bad rows, if any, are in rejects.csv)"),
    (EXIT_INTERNAL, "internal error (a bug: please report it)"),
    (EXIT_USAGE, "bad command line, config file or query: nothing read or written"),
    (
        EXIT_INPUT,
        "an input file cannot be used (missing, unreadable, not CSV, missing a required column; \
         for query, a directory that is not a usable run): nothing written",
    ),
    (
        EXIT_OUTPUT,
        "outputs could not be written (permissions, disk full, unsafe --out, stdout): previous outputs intact",
    ),
    (
        EXIT_REJECT_RATE,
        "--max-reject-rate exceeded: --out left as it was; rejects.csv and summary.json in <out>.failed",
    ),
    (
        EXIT_STALE,
        "--fail-on-stale: some valuations are too old: --out left as it was; rejects.csv and summary.json in <out>.failed",
    ),
    (
        128 + 1,
        "interrupted by SIGHUP: temporaries removed, --out left as it was",
    ),
    (
        128 + 2,
        "interrupted by Ctrl-C (SIGINT): temporaries removed, --out left as it was",
    ),
    (
        128 + 15,
        "terminated by SIGTERM: temporaries removed, --out left as it was",
    ),
];

/// The exit-code table as `--help` prints it.
pub fn exit_codes_help() -> String {
    let mut out = String::from("Exit codes:");
    for (code, meaning) in EXIT_CODES {
        out.push_str(&format!("\n  {code}  {meaning}"));
    }
    out
}

/// An input file that cannot be used as a whole. Messages name the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("--previous {dir}: {problem}")]
    Previous { dir: PathBuf, problem: String },
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
    #[error(
        "{path}: its lines end in a bare CR (a carriage return without a line feed, as Excel's old \
         \"CSV (Macintosh)\" writes), so its rows cannot be told apart. Fix: save it as \"CSV UTF-8\", \
         or convert the line ends, e.g. tr '\\r' '\\n' < in.csv > out.csv"
    )]
    BareCr { path: PathBuf },
    #[error(
        "{path} starts with a blank line: the header must be the first line, or every line number \
         in rejects.csv would be off. Fix: delete the blank lines above the header"
    )]
    LeadingBlankLine { path: PathBuf },
    #[error(
        "polars could not read {path} as a table: {reason}. Fix: pass a CSV file with a header line"
    )]
    NotATable { path: PathBuf, reason: String },
    #[error("{path}: cannot read the outcome records: {reason}")]
    Outcomes { path: PathBuf, reason: String },
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
    #[error(
        "segment `{segment}` has {groups} groups, more than the {limit} a summary table holds \
         (summary_by_{segment}.csv, summary.json and the reports would grow past what anyone reads). \
         Fix: take `{segment}` out of `segments` in the config, and ask \
         `underwater query --by {segment}` for it instead"
    )]
    TooManyGroups {
        segment: String,
        groups: usize,
        limit: usize,
    },
    #[error("--run {dir}: {problem}. Fix: {fix}")]
    RunInputs {
        dir: PathBuf,
        problem: String,
        fix: &'static str,
    },
    #[error(
        "--start-month {month}: the outcome data ends after month {months_of_data}, so no month after \
         it is left to judge. Fix: pass --start-month {} or less",
        months_of_data.saturating_sub(1)
    )]
    StartMonth { month: u32, months_of_data: u32 },
}

/// A config file or flag that cannot be used. Each message names the key and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}. Fix: check the path passed to --config")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config file {path}: unknown key `{key}`. Valid keys: {}", valid.join(", "))]
    UnknownKey {
        path: PathBuf,
        key: String,
        valid: &'static [&'static str],
    },
    #[error("config file {path}: `{key}` {problem}")]
    BadValue {
        path: PathBuf,
        key: &'static str,
        problem: String,
    },
    #[error("--as-of `{0}` is not a date. Fix: write it as YYYY-MM-DD, e.g. --as-of 2024-06-30")]
    BadAsOf(String),
    #[error("--threads must be between 1 and {}", crate::error::MAX_THREADS)]
    BadThreads,
    #[error("{flag} {value} is out of range. Fix: give {range}")]
    OutOfRange {
        flag: &'static str,
        value: String,
        range: &'static str,
    },
    #[error("--max-reject-rate `{0}` must be a share between 0 and 1, e.g. 0.01 for 1%")]
    BadRejectRate(String),
    #[error(
        "no loans file. Fix: pass --loans FILE, a tape as --tape regab FILE, or (backtest, calibrate) \
         a finished run as --run DIR"
    )]
    NoLoans,
    #[error(
        "no --valuations file and value estimates are off, so no account could have a value. \
             Fix: pass --valuations FILE, or set `enabled = true` under [estimate] in the config"
    )]
    NothingToValue,
    #[error("price index {path}: {problem}")]
    PriceIndex { path: PathBuf, problem: String },
}

/// A query that cannot be answered; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(
        "column `{column}` of the answer left the 38 digits of an exact decimal (a product too large: \
         about {approximately:e}), so no number is printed rather than a wrapped one. Fix: scale the \
         terms down before multiplying (e.g. balance / 1000), or CAST them to DOUBLE for a float answer"
    )]
    Overflow { column: String, approximately: f64 },
    #[error(
        "nothing to ask: give SQL (e.g. \"SELECT state, SUM(negative_equity) FROM accounts GROUP BY state\") \
         or a shorthand (--where, --by, --top)"
    )]
    Nothing,
    #[error("give either SQL or the shorthands (--where, --by, --top), not both")]
    Both,
    #[error("--top needs --order-by COLUMN (the largest values of that column come first)")]
    TopWithoutOrder,
    #[error(
        "-o {path}: {problem}. Fix: name the file .csv, .json, .md, .parquet or .txt (an aligned table), \
         or give -o - for standard output"
    )]
    BadOutput { path: PathBuf, problem: String },
    #[error("SQL error: {message}")]
    Sql { message: String },
    #[error("unknown column `{column}`. Columns of accounts: {available}")]
    UnknownColumn { column: String, available: String },
    #[error(
        "{dir} is not the output of `underwater run`: {problem}. Fix: pass the --out directory of a finished run"
    )]
    NotARun { dir: PathBuf, problem: String },
    #[error(
        "{dir} and {first} are runs with different accounts columns ({columns}): runs queried together \
         need the same loan columns. Fix: query them apart, or run both with the same loans layout and config"
    )]
    DifferentColumns {
        dir: PathBuf,
        first: PathBuf,
        columns: String,
    },
    #[error(
        "{dir} was written by underwater {found}, whose outputs lack {missing}; this is underwater {ours}. \
         Fix: re-run `underwater run` with this version, then query its output"
    )]
    Incompatible {
        dir: PathBuf,
        found: String,
        missing: String,
        ours: &'static str,
    },
}

/// Outputs that could not be written (permissions, a full disk, an unsafe `--out`, a failed stdout).
/// Built with context at the I/O edge, so the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct OutputError(#[from] pub anyhow::Error);

/// A nightly guard rail that failed the run.
#[derive(Clone, Debug, thiserror::Error)]
pub enum GuardError {
    #[error("{rejected} of {read} {input} rows were rejected, above --max-reject-rate {max}")]
    RejectRate {
        input: &'static str,
        rejected: u64,
        read: u64,
        max: rust_decimal::Decimal,
    },
    #[error(
        "{accounts} accounts are valued by valuations older than {days} days (--fail-on-stale)"
    )]
    Stale { accounts: u64, days: u32 },
}

impl GuardError {
    pub fn exit_code(&self) -> u8 {
        match self {
            GuardError::RejectRate { .. } => EXIT_REJECT_RATE,
            GuardError::Stale { .. } => EXIT_STALE,
        }
    }
}

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(
        "{failure}. The book was not published and {} is as it was; rejects.csv and summary.json \
         say why, in {}",
        out.display(),
        report.display()
    )]
    Guard {
        failure: GuardError,
        /// The `--out` left untouched.
        out: PathBuf,
        /// Where the failed run's rejects.csv and summary.json went.
        report: PathBuf,
    },
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

impl Error {
    /// The file or directory the error is about, where it names one (for programs: the Python
    /// package's `path` attribute).
    pub fn path(&self) -> Option<&std::path::Path> {
        use InputError as I;
        let path = match self {
            Error::Input(
                I::Previous { dir: p, .. }
                | I::Open { path: p, .. }
                | I::Read { path: p, .. }
                | I::Empty { path: p }
                | I::NotCsv { path: p, .. }
                | I::BareCr { path: p }
                | I::LeadingBlankLine { path: p }
                | I::NotATable { path: p, .. }
                | I::Outcomes { path: p, .. }
                | I::NotTape { path: p, .. }
                | I::BadHeader { path: p, .. }
                | I::MissingColumns { path: p, .. }
                | I::UnknownSegment { path: p, .. }
                | I::RunInputs { dir: p, .. },
            ) => p,
            Error::Config(
                ConfigError::Read { path: p, .. }
                | ConfigError::Syntax { path: p, .. }
                | ConfigError::UnknownKey { path: p, .. }
                | ConfigError::BadValue { path: p, .. }
                | ConfigError::PriceIndex { path: p, .. },
            ) => p,
            Error::Query(
                QueryError::NotARun { dir: p, .. }
                | QueryError::DifferentColumns { dir: p, .. }
                | QueryError::Incompatible { dir: p, .. },
            ) => p,
            _ => return None,
        };
        Some(path)
    }

    /// The config key, flag, column or segment the error is about, where it names one.
    pub fn field(&self) -> Option<String> {
        Some(match self {
            Error::Config(ConfigError::UnknownKey { key, .. }) => key.clone(),
            Error::Config(ConfigError::BadValue { key, .. }) => key.to_string(),
            Error::Config(ConfigError::OutOfRange { flag, .. }) => flag.to_string(),
            Error::Config(ConfigError::BadAsOf(_)) => "--as-of".into(),
            Error::Config(ConfigError::BadThreads) => "--threads".into(),
            Error::Config(ConfigError::BadRejectRate(_)) => "--max-reject-rate".into(),
            Error::Input(InputError::MissingColumns { missing, .. }) => missing.join(","),
            Error::Input(
                InputError::UnknownSegment { segment, .. }
                | InputError::TooManyGroups { segment, .. },
            ) => segment.clone(),
            Error::Query(QueryError::UnknownColumn { column, .. }) => column.clone(),
            _ => return None,
        })
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) => EXIT_USAGE,
            Error::Input(_) => EXIT_INPUT,
            Error::Query(
                QueryError::NotARun { .. }
                | QueryError::Incompatible { .. }
                | QueryError::DifferentColumns { .. },
            ) => EXIT_INPUT,
            Error::Query(_) => EXIT_USAGE,
            Error::Output(_) => EXIT_OUTPUT,
            Error::Guard { failure, .. } => failure.exit_code(),
            Error::Internal(_) => EXIT_INTERNAL,
        }
    }

    /// An unexpected failure of a library (polars, the thread pool): a bug to report, exit 1.
    pub fn internal(e: impl std::fmt::Display) -> Error {
        Error::Internal(anyhow::anyhow!("{e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_exit_code_table_is_this_table() {
        let reference = include_str!("../docs/REFERENCE.md");
        for (code, meaning) in EXIT_CODES {
            let row = format!("| {code} | {meaning} |");
            assert!(
                reference.contains(&row),
                "docs/REFERENCE.md lacks the row `{row}`"
            );
        }
    }
}
