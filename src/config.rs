//! One validated, typed configuration, built before any input is read: CLI flags over TOML over defaults.
//!
//! Numbers in the TOML file are read as the exact decimal they spell (`0.85` is 85/100, not the nearest
//! binary float), by reading the literal's own text. Every rule a key must obey is checked here, so a
//! bad config fails with its key named before a single loan is loaded.

use crate::book::estimate::{Curve, Estimate, PriceIndex};
use crate::book::model::{Model, Scenario, ValueChangeBy};
use crate::book::Plan;
use crate::date::Date;
use crate::error::ConfigError;
use crate::input::load::LoanFileRules;
use crate::input::tape::{Dialect, Tape, DEFAULT_MISSING};
use crate::input::LoanSource;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The largest `--fail-on-stale`: a century of days (larger values would also overflow day arithmetic).
pub const MAX_STALE_DAYS: u32 = 36_500;

/// The keys a config file may have at its top level.
pub const KEYS: [&str; 12] = [
    "as_of",
    "columns",
    "estimate",
    "ltv_bands",
    "missing",
    "recovery_rate",
    "repossession_cost",
    "pd_by_days_past_due",
    "runoff_months",
    "segments",
    "scenario",
    "scenarios",
];

/// At most this many stress scenarios: each is a pass of the figures and a table.
pub const MAX_SCENARIOS: usize = 20;

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
                chunk_bytes: self.chunk_bytes,
                rules: LoanFileRules {
                    dialect: self.dialect(self.tape.is_some()),
                    need_vin: self.valuations.is_some(),
                    period: self.tape_period,
                    as_of: Some(self.as_of),
                    columns: self.columns.clone(),
                    segments: self.model.segments.clone(),
                },
            },
            valuations: self.valuations.as_deref(),
            valuations_dialect: self.dialect(false),
            as_of: self.as_of,
            estimate: &self.estimate,
            model: &self.model,
            previous: self.previous.as_deref(),
        }
    }

    /// The value conventions of an input: a tape's, or underwater's own CSV's, with the missing words.
    /// How this run reads text fields: the missing words, and a tape's conventions when `tape`.
    pub fn dialect(&self, tape: bool) -> Dialect {
        Dialect::new(tape, &self.missing)
    }

    /// Merges flags over the config file over defaults, and validates the result.
    pub fn build(args: RunArgs) -> Result<Config, ConfigError> {
        let cli_as_of = match &args.as_of {
            Some(text) => {
                Some(Date::parse(text.trim()).ok_or_else(|| ConfigError::BadAsOf(text.clone()))?)
            }
            None => None,
        };
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
        // The run-off's months are dated YYYY-MM-DD: past 9999-12 they cannot be written (they fell
        // back to as_of's date).
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
        let mut estimate = file.estimate;
        estimate.enabled = file.estimate_enabled.unwrap_or(args.tape.is_some());
        if args.valuations.is_none() && !estimate.enabled {
            return Err(ConfigError::NothingToValue);
        }
        if let Some(path) = &file.price_index {
            let index = read_price_index(path)?;
            let (y, m, _) = as_of.ymd();
            let month = Date::from_ymd(y, m, 1).expect("first day of a real month");
            if !index.levels.contains_key(&month) {
                return Err(ConfigError::PriceIndex {
                    path: path.clone(),
                    problem: format!(
                        "has no level for the as_of month {}. Fix: add a row `{},<level>`",
                        &month.to_string()[..7],
                        &month.to_string()[..7]
                    ),
                });
            }
            estimate.index = Some(index);
        }
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
        Ok(Config {
            loans: args.loans,
            valuations: args.valuations,
            tape: args.tape,
            tape_period: args.tape_period,
            columns: crate::input::tape::mapping(args.tape, &file.columns),
            missing: file.missing,
            estimate,
            out: args.out,
            config_file: args.config_file,
            format: args.format,
            threads,
            quiet: args.quiet,
            chunk_bytes: args.chunk_bytes.max(1),
            max_reject_rate,
            fail_on_stale: args.fail_on_stale,
            previous: args.previous,
            as_of,
            as_of_source,
            model: match args.no_outlook {
                true => Model {
                    scenarios: Vec::new(),
                    runoff_months: None,
                    ..file.model
                },
                false => file.model,
            },
        })
    }
}

/// What a config file says; defaults for absent keys.
#[derive(Clone, Debug, PartialEq)]
pub struct FileSettings {
    pub model: Model,
    pub as_of: Option<Date>,
    /// `[columns]`: our name = the file's name.
    pub columns: Vec<(String, String)>,
    /// `[estimate] enabled`; None: on for tapes, off otherwise.
    pub estimate_enabled: Option<bool>,
    /// `[estimate]` curves (`enabled` is resolved later).
    pub estimate: Estimate,
    pub price_index: Option<PathBuf>,
    /// `missing`: words that mean "no value" in any input field.
    pub missing: Vec<String>,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            model: Model::default(),
            as_of: None,
            columns: Vec::new(),
            estimate_enabled: None,
            estimate: Estimate::defaults(false),
            price_index: None,
            missing: DEFAULT_MISSING.iter().map(|w| w.to_string()).collect(),
        }
    }
}

/// Parses a config file; defaults for absent keys.
pub fn parse_toml(path: &Path, text: &str) -> Result<FileSettings, ConfigError> {
    let doc = toml_edit::DocumentMut::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    let bad = |key: &'static str, problem: String| ConfigError::BadValue {
        path: path.to_path_buf(),
        key,
        problem,
    };
    let mut settings = FileSettings::default();
    let mut as_of = None;
    // `[[scenario]]` tables replace the built-in set; `scenarios = []` turns them off.
    let mut scenarios: Option<Vec<Scenario>> = None;
    let mut scenarios_off = false;
    for (key, item) in doc.as_table().iter() {
        let value = item.as_value();
        match key {
            "columns" => {
                let table = item.as_table_like().ok_or_else(|| {
                    bad(
                        "columns",
                        "must be a table of our_name = \"their column\", e.g. [columns] account_id = \"LoanNo\"".into(),
                    )
                })?;
                for (ours, theirs) in table.iter() {
                    let theirs = theirs.as_str().map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
                        bad("columns", format!("`{ours}` must name a column of the loans file as a string, e.g. {ours} = \"LoanNo\""))
                    })?;
                    let known = crate::input::schema::LOAN_REQUIRED.contains(&ours)
                        || crate::input::schema::LOAN_OPTIONAL.contains(&ours)
                        || ours == crate::input::tape::PERIOD;
                    if !known {
                        return Err(bad(
                            "columns",
                            format!(
                                "`{ours}` is not a loan column underwater reads. Known: {}, {}, {}",
                                crate::input::schema::LOAN_REQUIRED.join(", "),
                                crate::input::schema::LOAN_OPTIONAL.join(", "),
                                crate::input::tape::PERIOD
                            ),
                        ));
                    }
                    settings
                        .columns
                        .push((ours.to_string(), theirs.to_string()));
                }
            }
            "estimate" => {
                let table = item.as_table_like().ok_or_else(|| {
                    bad("estimate", "must be a table: [estimate] enabled = true, new = [[0, 1.0], [12, 0.8]], used = [...], price_index = \"index.csv\"".into())
                })?;
                for (k, v) in table.iter() {
                    let v = v.as_value();
                    match k {
                        "enabled" => {
                            settings.estimate_enabled = Some(v.and_then(|v| v.as_bool()).ok_or_else(|| {
                                bad("estimate", "`enabled` must be true or false".into())
                            })?);
                        }
                        "new" => settings.estimate.new = curve_points(v).map_err(|p| bad("estimate", format!("`new` {p}")))?,
                        "used" => settings.estimate.used = curve_points(v).map_err(|p| bad("estimate", format!("`used` {p}")))?,
                        "price_index" => {
                            let p = v.and_then(|v| v.as_str()).ok_or_else(|| {
                                bad("estimate", "`price_index` must be the path of a CSV of month,index".into())
                            })?;
                            // Relative to the config file, so a config and its index travel together.
                            settings.price_index = Some(path.parent().unwrap_or(Path::new("")).join(p));
                        }
                        other => {
                            return Err(bad(
                                "estimate",
                                format!("has unknown key `{other}`. Valid keys: enabled, new, used, price_index"),
                            ))
                        }
                    }
                }
            }
            "as_of" => {
                let text = match value {
                    Some(toml_edit::Value::String(s)) => s.value().clone(),
                    Some(toml_edit::Value::Datetime(d)) => d.value().to_string(),
                    _ => String::new(),
                };
                as_of = Some(Date::parse(text.trim()).ok_or_else(|| {
                    bad(
                        "as_of",
                        "must be a date written YYYY-MM-DD, e.g. as_of = \"2024-06-30\"".into(),
                    )
                })?);
            }
            "runoff_months" => {
                let max = crate::book::runoff::MAX_RUNOFF_MONTHS;
                let months = value
                    .and_then(|v| v.as_integer())
                    .and_then(|i| u32::try_from(i).ok())
                    .filter(|&m| m <= max)
                    .ok_or_else(|| {
                        bad(
                            "runoff_months",
                            format!(
                                "must be a whole number of months from 0 to {max}, e.g. 60 \
                                 (0 turns the run-off off)"
                            ),
                        )
                    })?;
                settings.model.runoff_months = (months > 0).then_some(months);
            }
            "ltv_bands" => {
                let edges = decimal_list(value).ok_or_else(|| {
                    bad(
                        "ltv_bands",
                        "must be a list of numbers in percent, e.g. [80, 100, 120, 140]".into(),
                    )
                })?;
                if edges.is_empty() || edges.len() > MAX_LTV_EDGES {
                    return Err(bad(
                        "ltv_bands",
                        format!(
                            "must list 1 to {MAX_LTV_EDGES} band edges, not {}",
                            edges.len()
                        ),
                    ));
                }
                for e in &edges {
                    if *e <= Decimal::ZERO || *e >= Decimal::from(100_000) || e.scale() > 4 {
                        return Err(bad(
                            "ltv_bands",
                            format!("edge {e} must be a percent above 0 and below 100000, with at most 4 decimals"),
                        ));
                    }
                }
                if edges.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(bad(
                        "ltv_bands",
                        "edges must be strictly increasing, e.g. [80, 100, 120, 140]".into(),
                    ));
                }
                settings.model.ltv_bands = edges;
            }
            "recovery_rate" => {
                let rate = value.and_then(decimal).ok_or_else(|| {
                    bad(
                        "recovery_rate",
                        "must be a number between 0 and 1, e.g. 0.85".into(),
                    )
                })?;
                if rate < Decimal::ZERO || rate > Decimal::ONE || rate.scale() > 6 {
                    return Err(bad(
                        "recovery_rate",
                        format!("is {rate}; it must be between 0 and 1 (a share of the value, 0.85 = 85%), at most 6 decimals"),
                    ));
                }
                settings.model.recovery_rate = rate;
            }
            "repossession_cost" => {
                let cost = value.and_then(decimal).ok_or_else(|| {
                    bad(
                        "repossession_cost",
                        "must be an amount in dollars, e.g. 1000.00".into(),
                    )
                })?;
                if cost < Decimal::ZERO || cost.scale() > 4 || cost >= Decimal::from(1_000_000_000)
                {
                    return Err(bad(
                        "repossession_cost",
                        format!("is {cost}; it must be zero or more, below 1e9, with at most 4 decimals"),
                    ));
                }
                settings.model.repossession_cost = cost;
            }
            "pd_by_days_past_due" => {
                settings.model.pd_by_days_past_due =
                    pd_table(value).map_err(|p| bad("pd_by_days_past_due", p))?;
            }
            "missing" => {
                let words = text_list(value).ok_or_else(|| {
                    bad(
                        "missing",
                        "must be a list of texts that mean \"no value\", e.g. [\"NA\", \"None\"]"
                            .into(),
                    )
                })?;
                if words.len() > 100 {
                    return Err(bad("missing", "lists more than 100 words".into()));
                }
                if let Some(w) = words.iter().find(|w| w.is_empty() || w.len() > 32) {
                    return Err(bad(
                        "missing",
                        format!(
                            "`{w}` must be 1 to 32 characters (an empty field is always missing)"
                        ),
                    ));
                }
                settings.missing = words;
            }
            "scenarios" => match value.and_then(|v| v.as_array()) {
                Some(list) if list.is_empty() => scenarios_off = true,
                _ => {
                    return Err(bad(
                        "scenarios",
                        "only `scenarios = []` (no stress scenarios) goes here; define scenarios as \
                         [[scenario]] tables, e.g. [[scenario]] name = \"crash\" value_change = -0.2"
                            .into(),
                    ))
                }
            },
            "scenario" => {
                let tables = item.as_array_of_tables().ok_or_else(|| {
                    bad(
                        "scenario",
                        "must be [[scenario]] tables, e.g. [[scenario]] name = \"crash\" value_change = -0.2"
                            .into(),
                    )
                })?;
                let mut list = Vec::new();
                for table in tables.iter() {
                    list.push(scenario(table).map_err(|p| bad("scenario", p))?);
                }
                scenarios = Some(list);
            }
            "segments" => {
                let names = text_list(value).ok_or_else(|| {
                    bad(
                        "segments",
                        "must be a list of column names, e.g. [\"vintage\", \"state\"]".into(),
                    )
                })?;
                check_segment_names(&names).map_err(|problem| bad("segments", problem))?;
                settings.model.segments = names;
            }
            other => {
                return Err(ConfigError::UnknownKey {
                    path: path.to_path_buf(),
                    key: other.to_string(),
                    valid: &KEYS,
                })
            }
        }
    }
    settings.as_of = as_of;
    settings.model.scenarios = match (scenarios, scenarios_off) {
        (Some(_), true) => return Err(bad(
            "scenarios",
            "`scenarios = []` turns stress scenarios off, yet [[scenario]] tables define some: \
                 keep one of the two"
                .into(),
        )),
        (Some(list), false) => list,
        (None, true) => Vec::new(),
        (None, false) => Scenario::built_in(),
    };
    check_scenarios(&settings.model).map_err(|p| bad("scenario", p))?;
    Ok(settings)
}

/// Resource bounds no real config reaches: the migration matrix grows with the square of the bands
/// (4,000 bands once took 5.6 GB), and every segment is a table and a file.
pub const MAX_LTV_EDGES: usize = 100;
pub const MAX_SEGMENTS: usize = 100;

// A loan's text holds its id, VIN, each segment's value and its echoed columns.
const _: () = assert!(MAX_SEGMENTS + 3 <= crate::input::load::MAX_TEXT_PARTS);

/// Segment names must give distinct output names: a summary file each (compared ignoring case, as
/// on a case-insensitive file system), a key each in summary.json, none of them the run's own.
fn check_segment_names(names: &[String]) -> Result<(), String> {
    use crate::input::schema::{segment_file_part, RESERVED_SEGMENT_NAMES};
    if names.len() > MAX_SEGMENTS {
        return Err(format!(
            "lists {} segments; at most {MAX_SEGMENTS} (each is a summary file and a table)",
            names.len()
        ));
    }
    let mut files: std::collections::BTreeMap<String, &str> = Default::default();
    for n in names {
        if n.is_empty() {
            return Err("lists an empty name".into());
        }
        let file = segment_file_part(n).to_ascii_lowercase();
        if let Some(r) = RESERVED_SEGMENT_NAMES
            .iter()
            .find(|r| r.eq_ignore_ascii_case(n) || **r == file)
        {
            return Err(format!(
                "`{n}` cannot be a segment: `{r}` is one of the summary's own names ({}). Fix: \
                 rename the column in the loans file, or leave it out of segments",
                RESERVED_SEGMENT_NAMES.join(", ")
            ));
        }
        if let Some(other) = files.insert(file.clone(), n) {
            return Err(if other == n {
                format!("lists `{n}` twice")
            } else {
                format!(
                    "`{other}` and `{n}` would both be written to summary_by_{file}.csv. Fix: keep \
                     one of them, or rename a column"
                )
            });
        }
    }
    Ok(())
}

/// One `[[scenario]]` table: a name and changes relative to the base model, each range-checked.
fn scenario(table: &toml_edit::Table) -> Result<Scenario, String> {
    let usage = "keys: name, value_change, value_change_by, recovery_rate_change, \
                 repossession_cost_change, pd_multiplier";
    let name = table
        .get("name")
        .and_then(|v| v.as_str())
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && name != "base";
    if !name_ok {
        return Err(format!(
            "`name = \"{name}\"` must be 1 to 64 letters, digits, `_` or `-`, and not `base` (the base \
             figures' own name)"
        ));
    }
    let mut s = Scenario {
        name: name.clone(),
        value_change: Decimal::ZERO,
        value_change_by: None,
        recovery_rate_change: Decimal::ZERO,
        repossession_cost_change: Decimal::ZERO,
        pd_multiplier: Decimal::ONE,
    };
    let number = |key: &str, v: &toml_edit::Item, lo: Decimal, hi: Decimal, lo_open: bool| {
        let d = v.as_value().and_then(decimal).ok_or_else(|| {
            format!(
                "{name}: `{key}` must be a number, e.g. {key} = -0.2 (a fraction: -0.2 is -20%)"
            )
        })?;
        let low_ok = if lo_open { d > lo } else { d >= lo };
        if !low_ok || d > hi || d.scale() > 6 {
            let side = if lo_open { "above" } else { "at least" };
            return Err(format!(
                "{name}: `{key} = {d}` must be {side} {lo} and at most {hi}, with at most 6 decimals"
            ));
        }
        Ok(d)
    };
    let (minus_one, zero) = (Decimal::NEGATIVE_ONE, Decimal::ZERO);
    for (key, v) in table.iter() {
        match key {
            "name" => {}
            "value_change" => s.value_change = number(key, v, minus_one, Decimal::TEN, true)?,
            "recovery_rate_change" => {
                s.recovery_rate_change = number(key, v, minus_one, Decimal::TEN, false)?
            }
            "repossession_cost_change" => {
                s.repossession_cost_change = number(key, v, minus_one, Decimal::ONE_HUNDRED, false)?
            }
            "pd_multiplier" => s.pd_multiplier = number(key, v, zero, Decimal::ONE_HUNDRED, false)?,
            "value_change_by" => {
                let by = v.as_table_like().filter(|t| t.len() == 1).ok_or_else(|| {
                    format!(
                        "{name}: `value_change_by` must name one segment and a change per label, e.g. \
                         value_change_by = {{ new_used = {{ new = -0.10, used = -0.25 }} }}"
                    )
                })?;
                let (segment, labels) = by.iter().next().expect("one entry, checked above");
                let labels = labels.as_table_like().ok_or_else(|| {
                    format!("{name}: `value_change_by.{segment}` must be a table of label = change")
                })?;
                let mut changes = Vec::new();
                for (label, change) in labels.iter() {
                    let key = format!("value_change_by.{segment}.{label}");
                    changes.push((
                        label.to_string(),
                        number(&key, change, minus_one, Decimal::TEN, true)?,
                    ));
                }
                s.value_change_by = Some(ValueChangeBy {
                    segment: segment.to_string(),
                    changes,
                });
            }
            other => return Err(format!("{name}: unknown key `{other}`; {usage}")),
        }
    }
    Ok(s)
}

/// Checks the scenarios against the whole model: names unique, at most [`MAX_SCENARIOS`], every
/// `value_change_by` segment one of the run's segments, every shocked recovery rate within 0-1.
fn check_scenarios(model: &Model) -> Result<(), String> {
    if model.scenarios.len() > MAX_SCENARIOS {
        return Err(format!(
            "{} scenarios; at most {MAX_SCENARIOS}",
            model.scenarios.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &model.scenarios {
        if !seen.insert(s.name.as_str()) {
            return Err(format!("the name `{}` is used twice", s.name));
        }
        if let Some(by) = &s.value_change_by {
            if !model.segments.contains(&by.segment) {
                return Err(format!(
                    "{}: `value_change_by` names the segment `{}`, which this run does not have. Fix: \
                     use one of the segments ({}), or add it to `segments`",
                    s.name,
                    by.segment,
                    model.segments.join(", ")
                ));
            }
        }
        let rate = s.model(model).recovery_rate;
        if rate > Decimal::ONE {
            return Err(format!(
                "{}: `recovery_rate_change = {}` gives a recovery rate of {rate}, above 1 (more than \
                 the car's value)",
                s.name, s.recovery_rate_change
            ));
        }
    }
    Ok(())
}

/// A retained-value curve: `[[months, fraction], ...]` from month 0, months strictly increasing.
fn curve_points(value: Option<&toml_edit::Value>) -> Result<Curve, String> {
    let usage =
        "must be a list of [months since origination, share of the origination value kept] \
                 pairs starting at month 0, e.g. [[0, 1.0], [12, 0.80], [24, 0.70]]";
    let rows = value
        .and_then(|v| v.as_array())
        .ok_or_else(|| usage.to_string())?;
    let mut points = Vec::new();
    for row in rows.iter() {
        let pair = row
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| usage.to_string())?;
        let months = pair
            .get(0)
            .and_then(|v| v.as_integer())
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| format!("months must be whole numbers >= 0; {usage}"))?;
        let kept = pair
            .get(1)
            .and_then(decimal)
            .ok_or_else(|| usage.to_string())?;
        if kept < Decimal::ZERO || kept > Decimal::TWO || kept.scale() > 6 {
            return Err(format!(
                "share {kept} at month {months} must be between 0 and 2, at most 6 decimals"
            ));
        }
        points.push((months, kept));
    }
    if points.first().map(|p| p.0) != Some(0) {
        return Err(format!("must start at month 0; {usage}"));
    }
    if points.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err("months must be strictly increasing".into());
    }
    Ok(Curve(points))
}

/// Reads a price index CSV: a header, then `YYYY-MM` (or `YYYY-MM-DD`, any day) and a level > 0.
fn read_price_index(path: &Path) -> Result<PriceIndex, ConfigError> {
    let bad = |problem: String| ConfigError::PriceIndex {
        path: path.to_path_buf(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(format!(
            "cannot be read: {e}. Fix: check [estimate] price_index"
        ))
    })?;
    let mut levels = std::collections::BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let usage = || {
            bad(format!(
                "line {}: `{line}` is not `month,level` (e.g. `2020-07,150.2`, level > 0)",
                i + 1
            ))
        };
        let (month, level) = line.split_once(',').ok_or_else(usage)?;
        let month = month.trim();
        let date = Date::parse(&format!("{month}-01"))
            .or_else(|| Date::parse(month))
            .ok_or_else(usage)?;
        let (y, m, _) = date.ymd();
        let level = Decimal::from_str(level.trim()).ok().ok_or_else(usage)?;
        // Real indices (Manheim ~100-250, a 1.0-based series) sit far inside these bounds; outside
        // them a ratio of two levels could leave the range of exact decimals.
        let (lowest, highest) = (Decimal::new(1, 3), Decimal::from(1_000_000_000));
        if level < lowest || level > highest {
            return Err(bad(format!(
                "line {}: level {level} is outside {lowest}..={highest}. Fix: give the index level \
                 as published (e.g. 150.2)",
                i + 1
            )));
        }
        let first = Date::from_ymd(y, m, 1).expect("first day of a real month");
        if levels.insert(first, level).is_some() {
            return Err(bad(format!("line {}: month {month} appears twice", i + 1)));
        }
    }
    Ok(PriceIndex {
        path: path.to_path_buf(),
        levels,
    })
}

fn pd_table(value: Option<&toml_edit::Value>) -> Result<Vec<(u32, Decimal)>, String> {
    let usage = "must be a list of [first day past due, probability] pairs starting at day 0, \
                 e.g. [[0, 0.02], [30, 0.15], [90, 0.65]]";
    let rows = value
        .and_then(|v| v.as_array())
        .ok_or_else(|| usage.to_string())?;
    let mut table = Vec::new();
    for row in rows.iter() {
        let pair = row
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| usage.to_string())?;
        let day = pair
            .get(0)
            .and_then(|v| v.as_integer())
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| format!("day thresholds must be whole numbers >= 0; {usage}"))?;
        let pd = pair
            .get(1)
            .and_then(decimal)
            .ok_or_else(|| usage.to_string())?;
        if pd < Decimal::ZERO || pd > Decimal::ONE || pd.scale() > 6 {
            return Err(format!(
                "probability {pd} for day {day} must be between 0 and 1, at most 6 decimals"
            ));
        }
        table.push((day, pd));
    }
    match table.first() {
        None => return Err(usage.to_string()),
        Some((first, _)) if *first != 0 => {
            return Err(format!(
                "must start at day 0 (it starts at day {first}) so every account has a PD"
            ))
        }
        _ => {}
    }
    if table.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err("day thresholds must be strictly increasing".into());
    }
    Ok(table)
}

/// A TOML array of strings, each trimmed; None when the value is anything else.
fn text_list(value: Option<&toml_edit::Value>) -> Option<Vec<String>> {
    value.and_then(|v| v.as_array()).and_then(|a| {
        a.iter()
            .map(|v| v.as_str().map(|s| s.trim().to_string()))
            .collect()
    })
}

fn decimal_list(value: Option<&toml_edit::Value>) -> Option<Vec<Decimal>> {
    value?.as_array()?.iter().map(decimal).collect()
}

/// The exact decimal a TOML number (or numeric string) spells, read from its source text.
fn decimal(value: &toml_edit::Value) -> Option<Decimal> {
    let text = match value {
        toml_edit::Value::Integer(i) => return Some(Decimal::from(*i.value())),
        toml_edit::Value::Float(f) => f.display_repr().replace('_', ""),
        toml_edit::Value::String(s) => s.value().trim().to_string(),
        _ => return None,
    };
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(&text).ok()
    } else {
        Decimal::from_str(&text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            // Resource bounds: 4,000 bands once took 5.6 GB (the migration matrix is their square).
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
