//! One validated, typed configuration, built before any input is read: CLI flags over TOML over defaults.
//!
//! Numbers in the TOML file are read as the exact decimal they spell (`0.85` is 85/100, not the nearest
//! binary float), by reading the literal's own text. Every rule a key must obey is checked here, so a
//! bad config fails with its key named before a single loan is loaded.

use crate::book::estimate::Estimate;
use crate::book::model::Model;
use crate::book::Plan;
use crate::date::Date;
use crate::error::ConfigError;
use crate::input::conventions::Conventions;
use crate::input::frame::{FrameInputs, InputRef};
use crate::input::load::LoanFileRules;
use crate::input::tape::Tape;
use crate::input::LoanSource;
use rust_decimal::Decimal;
use std::path::PathBuf;
use std::str::FromStr;

mod file;
mod lifetime;
mod scenarios;
mod values;
pub use file::{parse_toml, FileSettings, KEYS, MAX_LTV_EDGES, MAX_SEGMENTS};
pub use scenarios::MAX_SCENARIOS;

/// The largest `--fail-on-stale`: a century of days (larger values would also overflow day arithmetic).
pub const MAX_STALE_DAYS: u32 = 36_500;

/// Output format of the per-account file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Parquet,
}

/// Where the as-of date came from; written to the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOfSource {
    CommandLine,
    ConfigFile,
    /// The tape's reporting period end (its first row's `reportingPeriodEndingDate`).
    Tape,
    Today,
}

impl AsOfSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AsOfSource::CommandLine => "--as-of",
            AsOfSource::ConfigFile => "config as_of",
            AsOfSource::Tape => "tape reportingPeriodEndingDate",
            AsOfSource::Today => "today (UTC)",
        }
    }
}

/// Everything one `run` needs, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub loans: PathBuf,
    /// None when values are only estimated (loan tapes carry no VIN to match).
    pub valuations: Option<PathBuf>,
    /// The loans file is a loan tape of this format.
    pub tape: Option<Tape>,
    /// The tape's reporting period; rows of other periods are rejected.
    pub tape_period: Option<Date>,
    /// Frames read in place of the files (the Python package's DataFrames); `loans` and `valuations`
    /// then name them.
    pub frames: FrameInputs,
    /// Loan column renames, `(ours, theirs)`: the tape's fixed mapping, then the config's `[columns]`.
    pub columns: Vec<(String, String)>,
    /// Words that mean "no value" in any input field (an empty field always does).
    pub missing: Vec<String>,
    pub estimate: Estimate,
    pub out: PathBuf,
    pub config_file: Option<PathBuf>,
    pub format: Format,
    pub threads: usize,
    pub quiet: bool,
    /// Target bytes per parallel chunk of input (tests lower it to exercise chunk boundaries).
    pub chunk_bytes: usize,
    /// Fail (exit 5) when an input's share of rejected rows exceeds this.
    pub max_reject_rate: Option<Decimal>,
    /// Fail (exit 6) when an account's valuation is older than this many days at as_of.
    pub fail_on_stale: Option<u32>,
    /// A finished earlier run to compare with.
    pub previous: Option<PathBuf>,
    pub as_of: Date,
    pub as_of_source: AsOfSource,
    pub model: Model,
}

/// The command-line part of a `run`, before the config file is merged in.
#[derive(Clone, Debug)]
pub struct RunArgs {
    pub loans: PathBuf,
    pub valuations: Option<PathBuf>,
    pub tape: Option<Tape>,
    /// The tape's period as read from its first row (see [`crate::input::tape::peek_period`]).
    pub tape_period: Option<Date>,
    pub out: PathBuf,
    pub config_file: Option<PathBuf>,
    pub as_of: Option<String>,
    pub format: Format,
    pub threads: Option<usize>,
    pub quiet: bool,
    pub chunk_bytes: usize,
    pub max_reject_rate: Option<String>,
    pub fail_on_stale: Option<u32>,
    /// No stress scenarios, no run-off, whatever the config says.
    pub no_outlook: bool,
    /// No lifetime figures, whatever the config says.
    pub no_lifetime: bool,
    /// A finished earlier run to compare with (`--previous`).
    pub previous: Option<PathBuf>,
}

impl RunArgs {
    /// A book's inputs with every other setting at `run`'s default (CSV, all cores, progress shown,
    /// no guard rails, the outlook on, no previous run, `--out .`): the commands set what they change.
    pub fn book(
        loans: PathBuf,
        valuations: Option<PathBuf>,
        tape: Option<Tape>,
        tape_period: Option<Date>,
        config_file: Option<PathBuf>,
        as_of: Option<String>,
    ) -> RunArgs {
        RunArgs {
            loans,
            valuations,
            tape,
            tape_period,
            out: PathBuf::from("."),
            config_file,
            as_of,
            format: Format::Csv,
            threads: None,
            quiet: false,
            chunk_bytes: crate::input::reader::CHUNK_BYTES,
            max_reject_rate: None,
            fail_on_stale: None,
            no_outlook: false,
            no_lifetime: false,
            previous: None,
        }
    }
}

/// The input files as rejects name them (`file` of rejects.csv and of query's `rejects` table).
pub struct InputNames {
    pub loans: String,
    pub valuations: String,
}

impl InputNames {
    pub fn of(&self, kind: crate::input::load::InputKind) -> &str {
        match kind {
            crate::input::load::InputKind::Loans => &self.loans,
            crate::input::load::InputKind::Valuations => &self.valuations,
        }
    }
}

impl Config {
    /// The input files as rejects name them: their paths as given.
    pub fn input_names(&self) -> InputNames {
        InputNames {
            loans: self.loans.display().to_string(),
            valuations: self
                .valuations
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }

    /// What the book stage computes: the inputs, how to read them, the date and the model.
    pub fn plan(&self) -> Plan<'_> {
        Plan {
            loans: LoanSource {
                path: &self.loans,
                frame: self.frames.loans.as_ref(),
                chunk_bytes: self.chunk_bytes,
                rules: LoanFileRules {
                    conventions: self.conventions(self.tape.is_some()),
                    need_vin: self.valuations.is_some(),
                    period: self.tape_period,
                    as_of: Some(self.as_of),
                    columns: self.columns.clone(),
                    segments: self.model.segments.clone(),
                },
            },
            valuations: self.valuations.as_deref().map(|path| InputRef {
                path,
                frame: self.frames.valuations.as_ref(),
            }),
            valuations_conventions: self.conventions(false),
            as_of: self.as_of,
            estimate: &self.estimate,
            model: &self.model,
            // Opened by the command that compares (`run`): the one reader of a finished run is an
            // output module, later than the config.
            previous: None,
        }
    }

    /// The value conventions of an input: a tape's, or underwater's own CSV's, with the missing words.
    /// How this run reads text fields: the missing words, and a tape's conventions when `tape`.
    pub fn conventions(&self, tape: bool) -> Conventions {
        Conventions::new(tape, &self.missing)
    }

    /// Merges flags over the config file over defaults, and validates the result.
    pub fn build(args: RunArgs) -> Result<Config, ConfigError> {
        let cli_as_of = as_of_flag(&args)?;
        let file = match &args.config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                parse_toml(path, &text)?
            }
            None => FileSettings::default(),
        };
        let (as_of, as_of_source) = match (cli_as_of, file.as_of, args.tape_period) {
            (Some(d), _, _) => (d, AsOfSource::CommandLine),
            (None, Some(d), _) => (d, AsOfSource::ConfigFile),
            (None, None, Some(d)) => (d, AsOfSource::Tape),
            (None, None, None) => (Date::today_utc(), AsOfSource::Today),
        };
        check_runoff_months(&args, &file, as_of)?;
        let estimate = estimate(&args, &file, as_of)?;
        let flags = Flags::of(&args)?;
        Ok(Config {
            loans: args.loans,
            valuations: args.valuations,
            tape: args.tape,
            tape_period: args.tape_period,
            frames: FrameInputs::default(),
            columns: crate::input::tape::mapping(args.tape, &file.columns),
            missing: file.missing,
            estimate,
            out: args.out,
            config_file: args.config_file,
            format: args.format,
            threads: flags.threads,
            quiet: args.quiet,
            chunk_bytes: args.chunk_bytes.max(1),
            max_reject_rate: flags.max_reject_rate,
            fail_on_stale: args.fail_on_stale,
            previous: args.previous,
            as_of,
            as_of_source,
            model: Model {
                lifetime: file.model.lifetime.clone().filter(|_| !args.no_lifetime),
                ..match args.no_outlook {
                    true => Model {
                        scenarios: Vec::new(),
                        runoff_months: None,
                        ..file.model
                    },
                    false => file.model,
                }
            },
        })
    }
}

/// `--as-of`, read before anything else.
fn as_of_flag(args: &RunArgs) -> Result<Option<Date>, ConfigError> {
    match &args.as_of {
        Some(text) => Date::parse(text.trim())
            .map(Some)
            .ok_or_else(|| ConfigError::BadAsOf(text.clone())),
        None => Ok(None),
    }
}

/// The run-off's months are dated YYYY-MM-DD: past 9999-12 they cannot be written.
fn check_runoff_months(
    args: &RunArgs,
    file: &FileSettings,
    as_of: Date,
) -> Result<(), ConfigError> {
    if let Some(months) = file.model.runoff_months.filter(|_| !args.no_outlook) {
        let (y, m, _) = as_of.ymd();
        if y * 12 + m as i32 - 1 + months as i32 > 9999 * 12 + 11 {
            return Err(ConfigError::OutOfRange {
                flag: "runoff_months",
                value: format!("{months} months after as_of {as_of}"),
                range: "months that end by 9999-12-31 (the run-off's dates are YYYY-MM-DD). \
                        Fix: a smaller runoff_months, an earlier as_of, or --no-outlook",
            });
        }
    }
    Ok(())
}

/// How values are estimated: on by default for a tape; the price index read and checked to cover
/// as_of's month.
fn estimate(args: &RunArgs, file: &FileSettings, as_of: Date) -> Result<Estimate, ConfigError> {
    let mut estimate = file.estimate.clone();
    estimate.enabled = file.estimate_enabled.unwrap_or(args.tape.is_some());
    if args.valuations.is_none() && !estimate.enabled {
        return Err(ConfigError::NothingToValue);
    }
    if let Some(path) = &file.price_index {
        let index =
            crate::input::price_index::read(path).map_err(|bad| ConfigError::PriceIndex {
                path: path.clone(),
                problem: bad.0,
            })?;
        check_index_month(&index, as_of)?;
        estimate.index = Some(index);
    }
    Ok(estimate)
}

/// A price index must have a level for the as_of month, or the estimates could not be adjusted to it.
pub fn check_index_month(
    index: &crate::input::price_index::PriceIndex,
    as_of: Date,
) -> Result<(), ConfigError> {
    let (y, m, _) = as_of.ymd();
    let month = Date::from_ymd(y, m, 1).expect("first day of a real month");
    match index.levels.contains_key(&month) {
        true => Ok(()),
        false => Err(ConfigError::PriceIndex {
            path: index.path.clone(),
            problem: format!(
                "has no level for the as_of month {}. Fix: add a row `{},<level>`",
                &month.to_string()[..7],
                &month.to_string()[..7]
            ),
        }),
    }
}

/// The flags that take a value to validate.
struct Flags {
    threads: usize,
    max_reject_rate: Option<Decimal>,
}

impl Flags {
    fn of(args: &RunArgs) -> Result<Flags, ConfigError> {
        let threads = match args.threads {
            Some(n) if n == 0 || n > crate::error::MAX_THREADS => {
                return Err(ConfigError::BadThreads)
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if let Some(days) = args.fail_on_stale.filter(|&d| d > MAX_STALE_DAYS) {
            return Err(ConfigError::OutOfRange {
                flag: "--fail-on-stale",
                value: days.to_string(),
                range: "a number of days from 0 to 36500 (100 years)",
            });
        }
        let max_reject_rate = match &args.max_reject_rate {
            None => None,
            Some(text) => match Decimal::from_str(text.trim()) {
                Ok(r) if r >= Decimal::ZERO && r <= Decimal::ONE => Some(r),
                _ => return Err(ConfigError::BadRejectRate(text.clone())),
            },
        };
        Ok(Flags {
            threads,
            max_reject_rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<(Model, Option<Date>), ConfigError> {
        parse_toml(Path::new("test.toml"), text).map(|f| (f.model, f.as_of))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let (m, as_of) = parse("").unwrap();
        assert_eq!(m, Model::default());
        assert_eq!(as_of, None);
    }

    #[test]
    fn reads_numbers_as_the_decimal_they_spell() {
        let (m, as_of) = parse(
            "as_of = 2024-06-30\nrecovery_rate = 0.1\nrepossession_cost = 1_250.50\nltv_bands = [90, 110.5]\n\
             pd_by_days_past_due = [[0, 0.01], [30, 0.3]]\nsegments = [\"state\"]\n",
        )
        .unwrap();
        assert_eq!(as_of, Date::parse("2024-06-30"));
        assert_eq!(m.recovery_rate.to_string(), "0.1");
        assert_eq!(m.repossession_cost.to_string(), "1250.50");
        assert_eq!(m.ltv_bands[1].to_string(), "110.5");
        assert_eq!(m.pd_for(29).to_string(), "0.01");
        assert_eq!(m.pd_for(30).to_string(), "0.3");
        assert_eq!(m.segments, vec!["state"]);
    }

    #[test]
    fn every_bad_value_names_its_key() {
        for (text, key) in [
            ("ltv_bands = [100, 80]", "ltv_bands"),
            ("ltv_bands = []", "ltv_bands"),
            ("recovery_rate = 1.5", "recovery_rate"),
            ("recovery_rate = -0.1", "recovery_rate"),
            ("repossession_cost = -1", "repossession_cost"),
            ("pd_by_days_past_due = [[1, 0.05]]", "pd_by_days_past_due"),
            (
                "pd_by_days_past_due = [[0, 0.05], [0, 0.1]]",
                "pd_by_days_past_due",
            ),
            ("pd_by_days_past_due = [[0, 2]]", "pd_by_days_past_due"),
            ("as_of = \"30/06/2024\"", "as_of"),
            ("segments = [\"a\", \"a\"]", "segments"),
            // Regression: these overwrote summary_by_ltv_bucket.csv, wrote one summary_by_dealer_id.csv
            // for two segments, and replaced summary.json's migration matrix and every row's balance.
            ("segments = [\"ltv bucket\"]", "segments"),
            ("segments = [\"dealer.id\", \"dealer id\"]", "segments"),
            ("segments = [\"State\", \"state\"]", "segments"),
            ("segments = [\"ltv_migration\"]", "segments"),
            ("segments = [\"Balance\"]", "segments"),
            // Resource bounds: 4,000 bands would take 5.6 GB (the migration matrix is their square).
            (
                &*format!(
                    "ltv_bands = [{}]",
                    (1..=101)
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "ltv_bands",
            ),
            (
                &*format!(
                    "segments = [{}]",
                    (0..101)
                        .map(|i| format!("\"s{i}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "segments",
            ),
            ("bands = [1]", "bands"),
            ("[columns]\naccount = \"LoanNo\"", "columns"),
            ("[estimate]\nnew = [[1, 0.9]]", "estimate"),
            ("[estimate]\nused = [[0, 1], [12, 3]]", "estimate"),
            ("[estimate]\nspeed = 1", "estimate"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }
}
