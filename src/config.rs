//! One validated, typed configuration, built before any input is read: CLI flags over TOML over defaults.
//!
//! Numbers in the TOML file are read as the exact decimal they spell (`0.85` is 85/100, not the nearest
//! binary float), by reading the literal's own text. Every rule a key must obey is checked here, so a
//! bad config fails with its key named before a single loan is loaded.

use crate::date::Date;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Segments reported when the config names none.
pub const DEFAULT_SEGMENTS: [&str; 5] =
    ["vintage", "new_used", "credit_tier", "term_band", "state"];
/// Segments computed from loan fields rather than read from a column of the same name.
pub const DERIVED_SEGMENTS: [&str; 3] = ["vintage", "credit_tier", "term_band"];
const KEYS: [&str; 6] = [
    "as_of",
    "ltv_bands",
    "recovery_rate",
    "repossession_cost",
    "pd_by_days_past_due",
    "segments",
];

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
    Today,
}

impl AsOfSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AsOfSource::CommandLine => "--as-of",
            AsOfSource::ConfigFile => "config as_of",
            AsOfSource::Today => "today (UTC)",
        }
    }
}

/// The risk model: every figure that changes a number in the outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// LTV band edges in percent, strictly increasing; bands are right-closed.
    pub ltv_bands: Vec<Decimal>,
    /// Share of the value recovered at resale, in [0, 1].
    pub recovery_rate: Decimal,
    /// Repossession and resale costs per account, in dollars.
    pub repossession_cost: Decimal,
    /// (first day past due, probability of default), starting at day 0, strictly increasing days.
    pub pd_by_days_past_due: Vec<(u32, Decimal)>,
    /// Segment names for `summary_by_<segment>.csv`.
    pub segments: Vec<String>,
}

impl Default for Model {
    fn default() -> Self {
        let d = |s: &str| Decimal::from_str(s).expect("literal default is a valid decimal");
        Model {
            ltv_bands: ["80", "100", "120", "140"].iter().map(|s| d(s)).collect(),
            recovery_rate: d("0.85"),
            repossession_cost: d("1000.00"),
            pd_by_days_past_due: vec![
                (0, d("0.02")),
                (1, d("0.05")),
                (30, d("0.15")),
                (60, d("0.35")),
                (90, d("0.65")),
            ],
            segments: DEFAULT_SEGMENTS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Model {
    /// Probability of default for an account `days` past due.
    pub fn pd_for(&self, days: u32) -> Decimal {
        self.pd_by_days_past_due
            .iter()
            .rev()
            .find(|(from, _)| days >= *from)
            .map_or(Decimal::ZERO, |(_, pd)| *pd)
    }
}

/// Everything one `run` needs, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub loans: PathBuf,
    pub valuations: PathBuf,
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
    pub as_of: Date,
    pub as_of_source: AsOfSource,
    pub model: Model,
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
    #[error("config file {path}: unknown key `{key}`. Valid keys: {}", KEYS.join(", "))]
    UnknownKey { path: PathBuf, key: String },
    #[error("config file {path}: `{key}` {problem}")]
    BadValue {
        path: PathBuf,
        key: &'static str,
        problem: String,
    },
    #[error("--as-of `{0}` is not a date. Fix: write it as YYYY-MM-DD, e.g. --as-of 2024-06-30")]
    BadAsOf(String),
    #[error("--threads must be at least 1")]
    BadThreads,
    #[error("--max-reject-rate `{0}` must be a share between 0 and 1, e.g. 0.01 for 1%")]
    BadRejectRate(String),
}

/// The command-line part of a `run`, before the config file is merged in.
#[derive(Clone, Debug)]
pub struct RunArgs {
    pub loans: PathBuf,
    pub valuations: PathBuf,
    pub out: PathBuf,
    pub config_file: Option<PathBuf>,
    pub as_of: Option<String>,
    pub format: Format,
    pub threads: Option<usize>,
    pub quiet: bool,
    pub chunk_bytes: usize,
    pub max_reject_rate: Option<String>,
    pub fail_on_stale: Option<u32>,
}

impl Config {
    /// Merges flags over the config file over defaults, and validates the result.
    pub fn build(args: RunArgs) -> Result<Config, ConfigError> {
        let cli_as_of = match &args.as_of {
            Some(text) => {
                Some(Date::parse(text.trim()).ok_or_else(|| ConfigError::BadAsOf(text.clone()))?)
            }
            None => None,
        };
        let (model, file_as_of) = match &args.config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                parse_toml(path, &text)?
            }
            None => (Model::default(), None),
        };
        let (as_of, as_of_source) = match (cli_as_of, file_as_of) {
            (Some(d), _) => (d, AsOfSource::CommandLine),
            (None, Some(d)) => (d, AsOfSource::ConfigFile),
            (None, None) => (Date::today_utc(), AsOfSource::Today),
        };
        let threads = match args.threads {
            Some(0) => return Err(ConfigError::BadThreads),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
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
            out: args.out,
            config_file: args.config_file,
            format: args.format,
            threads,
            quiet: args.quiet,
            chunk_bytes: args.chunk_bytes.max(1),
            max_reject_rate,
            fail_on_stale: args.fail_on_stale,
            as_of,
            as_of_source,
            model,
        })
    }
}

/// Parses a config file into a model (defaults for absent keys) and its optional `as_of`.
pub fn parse_toml(path: &Path, text: &str) -> Result<(Model, Option<Date>), ConfigError> {
    let doc = toml_edit::DocumentMut::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    let bad = |key: &'static str, problem: String| ConfigError::BadValue {
        path: path.to_path_buf(),
        key,
        problem,
    };
    let mut model = Model::default();
    let mut as_of = None;
    for (key, item) in doc.as_table().iter() {
        let value = item.as_value();
        match key {
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
            "ltv_bands" => {
                let edges = decimal_list(value).ok_or_else(|| {
                    bad(
                        "ltv_bands",
                        "must be a list of numbers in percent, e.g. [80, 100, 120, 140]".into(),
                    )
                })?;
                if edges.is_empty() {
                    return Err(bad("ltv_bands", "must list at least one band edge".into()));
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
                model.ltv_bands = edges;
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
                model.recovery_rate = rate;
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
                model.repossession_cost = cost;
            }
            "pd_by_days_past_due" => {
                model.pd_by_days_past_due =
                    pd_table(value).map_err(|p| bad("pd_by_days_past_due", p))?;
            }
            "segments" => {
                let names = value.and_then(|v| v.as_array()).and_then(|a| {
                    a.iter()
                        .map(|v| v.as_str().map(|s| s.trim().to_string()))
                        .collect::<Option<Vec<_>>>()
                });
                let names = names.ok_or_else(|| {
                    bad(
                        "segments",
                        "must be a list of column names, e.g. [\"vintage\", \"state\"]".into(),
                    )
                })?;
                if let Some(n) = names
                    .iter()
                    .find(|n| n.is_empty() || n.as_str() == "ltv_bucket")
                {
                    return Err(bad(
                        "segments",
                        format!("`{n}` cannot be a segment (empty or reserved)"),
                    ));
                }
                let mut seen = std::collections::BTreeSet::new();
                if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
                    return Err(bad("segments", format!("lists `{dup}` twice")));
                }
                model.segments = names;
            }
            other => {
                return Err(ConfigError::UnknownKey {
                    path: path.to_path_buf(),
                    key: other.to_string(),
                })
            }
        }
    }
    Ok((model, as_of))
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
        parse_toml(Path::new("test.toml"), text)
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
            ("bands = [1]", "bands"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }
}
