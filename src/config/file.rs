//! The config file (`--config`, TOML): every key it may have, each parsed and checked into
//! [`FileSettings`], the settings the file gives before the command line and the defaults are merged
//! ([`super::Config::build`]).

use super::scenarios::{check_scenarios, scenario};
use super::values::{decimal, decimal_list, step_table, strictly_increasing, text_list};
use crate::book::estimate::{Curve, Estimate};
use crate::book::model::{Model, Scenario};
use crate::date::Date;
use crate::error::ConfigError;
use crate::input::conventions::DEFAULT_MISSING;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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

/// The keys a config file may have at its top level, each with its parser: one table gives both the
/// parsing and the list of valid keys an error shows.
const KEY_TABLE: [(&str, KeyParser); 13] = [
    ("as_of", key_as_of),
    ("columns", key_columns),
    ("estimate", key_estimate),
    ("lifetime", key_lifetime),
    ("ltv_bands", key_ltv_bands),
    ("missing", key_missing),
    ("recovery_rate", key_recovery_rate),
    ("repossession_cost", key_repossession_cost),
    ("pd_by_days_past_due", key_pd_by_days_past_due),
    ("runoff_months", key_runoff_months),
    ("segments", key_segments),
    ("scenario", key_scenario),
    ("scenarios", key_scenarios),
];

/// The keys a config file may have at its top level.
pub const KEYS: [&str; 13] = {
    let mut keys = [""; 13];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = KEY_TABLE[i].0;
        i += 1;
    }
    keys
};

/// A key's parser: reads its item into the draft, or says what is wrong with it.
type KeyParser = fn(&mut Draft, &toml_edit::Item, &Ctx<'_>) -> Result<(), ConfigError>;

/// What the file's keys have set so far.
#[derive(Default)]
struct Draft {
    settings: FileSettings,
    as_of: Option<Date>,
    /// `[[scenario]]` tables replace the built-in set; `scenarios = []` turns them off.
    scenarios: Option<Vec<Scenario>>,
    scenarios_off: bool,
}

/// The file being read, for errors that name it.
struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn bad(&self, key: &'static str, problem: String) -> ConfigError {
        ConfigError::BadValue {
            path: self.path.to_path_buf(),
            key,
            problem,
        }
    }
}

/// Parses a config file; defaults for absent keys.
pub fn parse_toml(path: &Path, text: &str) -> Result<FileSettings, ConfigError> {
    let doc = toml_edit::DocumentMut::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    let c = Ctx { path };
    let mut d = Draft::default();
    for (key, item) in doc.as_table().iter() {
        let Some((_, parse)) = KEY_TABLE.iter().find(|(k, _)| *k == key) else {
            return Err(ConfigError::UnknownKey {
                path: path.to_path_buf(),
                key: key.to_string(),
                valid: &KEYS,
            });
        };
        parse(&mut d, item, &c)?;
    }
    let mut settings = d.settings;
    settings.as_of = d.as_of;
    // The default factors belong to the default LTV bands: other bands have none unless given.
    let factors_given = doc
        .get("lifetime")
        .and_then(|l| l.as_table_like())
        .is_some_and(|l| l.contains_key("hazard_factor_by_ltv_band"));
    if doc.contains_key("ltv_bands") && !factors_given {
        if let Some(l) = settings.model.lifetime.as_mut() {
            l.hazard_factor_by_ltv_band.clear();
        }
    }
    settings.model.scenarios = match (d.scenarios, d.scenarios_off) {
        (Some(_), true) => return Err(c.bad(
            "scenarios",
            "`scenarios = []` turns stress scenarios off, yet [[scenario]] tables define some: \
                 keep one of the two"
                .into(),
        )),
        (Some(list), false) => list,
        (None, true) => Vec::new(),
        (None, false) => Scenario::built_in(),
    };
    check_scenarios(&settings.model).map_err(|p| c.bad("scenario", p))?;
    check_ltv_factors(&settings.model).map_err(|p| c.bad("lifetime", p))?;
    Ok(settings)
}

/// `hazard_factor_by_ltv_band` has one factor per band of `ltv_bands` (edges + 1), once both are read.
fn check_ltv_factors(model: &crate::book::model::Model) -> Result<(), String> {
    let Some(l) = &model.lifetime else {
        return Ok(());
    };
    let (factors, bands) = (l.hazard_factor_by_ltv_band.len(), model.ltv_bands.len() + 1);
    match factors == 0 || factors == bands {
        true => Ok(()),
        false => Err(format!(
            "`hazard_factor_by_ltv_band` has {factors} factors, but `ltv_bands` makes {bands} bands: \
             give one factor per band, from the lowest LTV up"
        )),
    }
}

fn key_columns(d: &mut Draft, item: &toml_edit::Item, c: &Ctx<'_>) -> Result<(), ConfigError> {
    let table = item.as_table_like().ok_or_else(|| {
        c.bad(
            "columns",
            "must be a table of our_name = \"their column\", e.g. [columns] account_id = \"LoanNo\"".into(),
        )
    })?;
    for (ours, theirs) in table.iter() {
        let theirs = theirs.as_str().map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
            c.bad("columns", format!("`{ours}` must name a column of the loans file as a string, e.g. {ours} = \"LoanNo\""))
        })?;
        let known = crate::input::schema::LOAN_REQUIRED.contains(&ours)
            || crate::input::schema::LOAN_OPTIONAL.contains(&ours)
            || ours == crate::input::tape::PERIOD;
        if !known {
            return Err(c.bad(
                "columns",
                format!(
                    "`{ours}` is not a loan column underwater reads. Known: {}, {}, {}",
                    crate::input::schema::LOAN_REQUIRED.join(", "),
                    crate::input::schema::LOAN_OPTIONAL.join(", "),
                    crate::input::tape::PERIOD
                ),
            ));
        }
        d.settings
            .columns
            .push((ours.to_string(), theirs.to_string()));
    }
    Ok(())
}

fn key_estimate(d: &mut Draft, item: &toml_edit::Item, c: &Ctx<'_>) -> Result<(), ConfigError> {
    let table = item.as_table_like().ok_or_else(|| {
        c.bad("estimate", "must be a table: [estimate] enabled = true, new = [[0, 1.0], [12, 0.8]], used = [...], price_index = \"index.csv\"".into())
    })?;
    for (k, v) in table.iter() {
        let v = v.as_value();
        match k {
            "enabled" => {
                d.settings.estimate_enabled =
                    Some(v.and_then(|v| v.as_bool()).ok_or_else(|| {
                        c.bad("estimate", "`enabled` must be true or false".into())
                    })?);
            }
            "new" => {
                d.settings.estimate.new =
                    curve_points(v).map_err(|p| c.bad("estimate", format!("`new` {p}")))?
            }
            "used" => {
                d.settings.estimate.used =
                    curve_points(v).map_err(|p| c.bad("estimate", format!("`used` {p}")))?
            }
            "price_index" => {
                let p = v.and_then(|v| v.as_str()).ok_or_else(|| {
                    c.bad(
                        "estimate",
                        "`price_index` must be the path of a CSV of month,index".into(),
                    )
                })?;
                // Relative to the config file, so a config and its index travel together.
                d.settings.price_index = Some(c.path.parent().unwrap_or(Path::new("")).join(p));
            }
            other => {
                return Err(c.bad(
                    "estimate",
                    format!(
                        "has unknown key `{other}`. Valid keys: enabled, new, used, price_index"
                    ),
                ))
            }
        }
    }
    Ok(())
}

fn key_lifetime(d: &mut Draft, item: &toml_edit::Item, c: &Ctx<'_>) -> Result<(), ConfigError> {
    let default = d.settings.model.lifetime.clone().unwrap_or_default();
    d.settings.model.lifetime =
        super::lifetime::parse(item, default).map_err(|p| c.bad("lifetime", p))?;
    Ok(())
}

fn key_as_of(d: &mut Draft, item: &toml_edit::Item, c: &Ctx<'_>) -> Result<(), ConfigError> {
    let value = item.as_value();
    let text = match value {
        Some(toml_edit::Value::String(s)) => s.value().clone(),
        Some(toml_edit::Value::Datetime(d)) => d.value().to_string(),
        _ => String::new(),
    };
    d.as_of = Some(Date::parse(text.trim()).ok_or_else(|| {
        c.bad(
            "as_of",
            "must be a date written YYYY-MM-DD, e.g. as_of = \"2024-06-30\"".into(),
        )
    })?);
    Ok(())
}

fn key_runoff_months(
    d: &mut Draft,
    item: &toml_edit::Item,
    c: &Ctx<'_>,
) -> Result<(), ConfigError> {
    let value = item.as_value();
    let max = crate::book::runoff::MAX_RUNOFF_MONTHS;
    let months = value
        .and_then(|v| v.as_integer())
        .and_then(|i| u32::try_from(i).ok())
        .filter(|&m| m <= max)
        .ok_or_else(|| {
            c.bad(
                "runoff_months",
                format!(
                    "must be a whole number of months from 0 to {max}, e.g. 60 \
                     (0 turns the run-off off)"
                ),
            )
        })?;
    d.settings.model.runoff_months = (months > 0).then_some(months);
    Ok(())
}

fn key_ltv_bands(d: &mut Draft, item: &toml_edit::Item, c: &Ctx<'_>) -> Result<(), ConfigError> {
    let value = item.as_value();
    let edges = decimal_list(value).ok_or_else(|| {
        c.bad(
            "ltv_bands",
            "must be a list of numbers in percent, e.g. [80, 100, 120, 140]".into(),
        )
    })?;
    if edges.is_empty() || edges.len() > MAX_LTV_EDGES {
        return Err(c.bad(
            "ltv_bands",
            format!(
                "must list 1 to {MAX_LTV_EDGES} band edges, not {}",
                edges.len()
            ),
        ));
    }
    for e in &edges {
        if *e <= Decimal::ZERO || *e >= Decimal::from(100_000) || e.scale() > 4 {
            return Err(c.bad(
                "ltv_bands",
                format!(
                    "edge {e} must be a percent above 0 and below 100000, with at most 4 decimals"
                ),
            ));
        }
    }
    if edges.windows(2).any(|w| w[0] >= w[1]) {
        return Err(c.bad(
            "ltv_bands",
            "edges must be strictly increasing, e.g. [80, 100, 120, 140]".into(),
        ));
    }
    d.settings.model.ltv_bands = edges;
    Ok(())
}

fn key_recovery_rate(
    d: &mut Draft,
    item: &toml_edit::Item,
    c: &Ctx<'_>,
) -> Result<(), ConfigError> {
    let value = item.as_value();
    let rate = value.and_then(decimal).ok_or_else(|| {
        c.bad(
            "recovery_rate",
            "must be a number between 0 and 1, e.g. 0.85".into(),
        )
    })?;
    if rate < Decimal::ZERO || rate > Decimal::ONE || rate.scale() > 6 {
        return Err(c.bad(
            "recovery_rate",
            format!("is {rate}; it must be between 0 and 1 (a share of the value, 0.85 = 85%), at most 6 decimals"),
        ));
    }
    d.settings.model.recovery_rate = rate;
    Ok(())
}

fn key_repossession_cost(
    d: &mut Draft,
    item: &toml_edit::Item,
    c: &Ctx<'_>,
) -> Result<(), ConfigError> {
    let value = item.as_value();
    let cost = value.and_then(decimal).ok_or_else(|| {
        c.bad(
            "repossession_cost",
            "must be an amount in dollars, e.g. 1000.00".into(),
        )
    })?;
    if cost < Decimal::ZERO || cost.scale() > 4 || cost >= Decimal::from(1_000_000_000) {
        return Err(c.bad(
            "repossession_cost",
            format!("is {cost}; it must be zero or more, below 1e9, with at most 4 decimals"),
        ));
    }
    d.settings.model.repossession_cost = cost;
    Ok(())
}

fn key_pd_by_days_past_due(
    d: &mut Draft,
    item: &toml_edit::Item,
    c: &Ctx<'_>,
) -> Result<(), ConfigError> {
    let value = item.as_value();
    d.settings.model.pd_by_days_past_due =
        pd_table(value).map_err(|p| c.bad("pd_by_days_past_due", p))?;
    Ok(())
}

fn key_missing(d: &mut Draft, item: &toml_edit::Item, c: &Ctx<'_>) -> Result<(), ConfigError> {
    let value = item.as_value();
    let words = text_list(value).ok_or_else(|| {
        c.bad(
            "missing",
            "must be a list of texts that mean \"no value\", e.g. [\"NA\", \"None\"]".into(),
        )
    })?;
    if words.len() > 100 {
        return Err(c.bad("missing", "lists more than 100 words".into()));
    }
    if let Some(w) = words.iter().find(|w| w.is_empty() || w.len() > 32) {
        return Err(c.bad(
            "missing",
            format!("`{w}` must be 1 to 32 characters (an empty field is always missing)"),
        ));
    }
    d.settings.missing = words;
    Ok(())
}

fn key_scenarios(d: &mut Draft, item: &toml_edit::Item, c: &Ctx<'_>) -> Result<(), ConfigError> {
    let value = item.as_value();
    match value.and_then(|v| v.as_array()) {
        Some(list) if list.is_empty() => d.scenarios_off = true,
        _ => {
            return Err(c.bad(
                "scenarios",
                "only `scenarios = []` (no stress scenarios) goes here; define scenarios as \
             [[scenario]] tables, e.g. [[scenario]] name = \"crash\" value_change = -0.2"
                    .into(),
            ))
        }
    };
    Ok(())
}

fn key_scenario(d: &mut Draft, item: &toml_edit::Item, c: &Ctx<'_>) -> Result<(), ConfigError> {
    let tables = item.as_array_of_tables().ok_or_else(|| {
        c.bad(
            "scenario",
            "must be [[scenario]] tables, e.g. [[scenario]] name = \"crash\" value_change = -0.2"
                .into(),
        )
    })?;
    let mut list = Vec::new();
    for table in tables.iter() {
        list.push(scenario(table).map_err(|p| c.bad("scenario", p))?);
    }
    d.scenarios = Some(list);
    Ok(())
}

fn key_segments(d: &mut Draft, item: &toml_edit::Item, c: &Ctx<'_>) -> Result<(), ConfigError> {
    let value = item.as_value();
    let names = text_list(value).ok_or_else(|| {
        c.bad(
            "segments",
            "must be a list of column names, e.g. [\"vintage\", \"state\"]".into(),
        )
    })?;
    check_segment_names(&names).map_err(|problem| c.bad("segments", problem))?;
    d.settings.model.segments = names;
    Ok(())
}

/// Resource bounds no real config reaches: the migration matrix grows with the square of the bands
/// (4,000 bands would take 5.6 GB), and every segment is a table and a file.
pub const MAX_LTV_EDGES: usize = 100;
pub const MAX_SEGMENTS: usize = 100;

// A loan's text holds its id, VIN, each segment's value and its echoed columns.
const _: () = assert!(MAX_SEGMENTS + 3 <= crate::input::load::MAX_TEXT_PARTS);

/// Segment names must give distinct output names: a summary file each (compared ignoring case, as
/// on a case-insensitive file system), a key each in summary.json, none of them the run's own.
fn check_segment_names(names: &[String]) -> Result<(), String> {
    use crate::columns::{segment_file_part, RESERVED_SEGMENT_NAMES};
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

/// A retained-value curve: `[[months, fraction], ...]` from month 0, months strictly increasing.
fn curve_points(value: Option<&toml_edit::Value>) -> Result<Curve, String> {
    let usage =
        "must be a list of [months since origination, share of the origination value kept] \
                 pairs starting at month 0, e.g. [[0, 1.0], [12, 0.80], [24, 0.70]]";
    let points = step_table(value, usage, "months", |months, kept| {
        match kept < Decimal::ZERO || kept > Decimal::TWO || kept.scale() > 6 {
            true => Err(format!(
                "share {kept} at month {months} must be between 0 and 2, at most 6 decimals"
            )),
            false => Ok(()),
        }
    })?;
    if points.first().map(|p| p.0) != Some(0) {
        return Err(format!("must start at month 0; {usage}"));
    }
    strictly_increasing(&points, "months")?;
    Ok(Curve(points))
}

fn pd_table(value: Option<&toml_edit::Value>) -> Result<Vec<(u32, Decimal)>, String> {
    let usage = "must be a list of [first day past due, probability] pairs starting at day 0, \
                 e.g. [[0, 0.02], [30, 0.15], [90, 0.65]]";
    let table = step_table(value, usage, "day thresholds", |day, pd| {
        match pd < Decimal::ZERO || pd > Decimal::ONE || pd.scale() > 6 {
            true => Err(format!(
                "probability {pd} for day {day} must be between 0 and 1, at most 6 decimals"
            )),
            false => Ok(()),
        }
    })?;
    match table.first() {
        None => return Err(usage.to_string()),
        Some((first, _)) if *first != 0 => {
            return Err(format!(
                "must start at day 0 (it starts at day {first}) so every account has a PD"
            ))
        }
        _ => {}
    }
    strictly_increasing(&table, "day thresholds")?;
    Ok(table)
}
