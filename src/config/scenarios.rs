//! The `[[scenario]]` tables of the config file: each one's name and changes range-checked, then the
//! scenarios checked against the whole model.

use super::values::decimal;
use crate::book::model::{Model, Scenario, ValueChangeBy};
use rust_decimal::Decimal;

/// At most this many stress scenarios: each is a pass of the figures and a table.
pub const MAX_SCENARIOS: usize = 20;

/// One `[[scenario]]` table: a name and changes relative to the base model, each range-checked.
pub(super) fn scenario(table: &toml_edit::Table) -> Result<Scenario, String> {
    let usage = "keys: name, value_change, value_change_by, recovery_rate_change, \
                 repossession_cost_change, pd_multiplier";
    let name = scenario_name(table)?;
    let mut s = Scenario {
        name: name.clone(),
        value_change: Decimal::ZERO,
        value_change_by: None,
        recovery_rate_change: Decimal::ZERO,
        repossession_cost_change: Decimal::ZERO,
        pd_multiplier: Decimal::ONE,
    };
    let number =
        |key: &str, v: &toml_edit::Item, range: Range| scenario_number(&name, key, v, range);
    let (minus_one, zero) = (Decimal::NEGATIVE_ONE, Decimal::ZERO);
    for (key, v) in table.iter() {
        match key {
            "name" => {}
            "value_change" => {
                s.value_change = number(key, v, Range::above(minus_one, Decimal::TEN))?
            }
            "recovery_rate_change" => {
                s.recovery_rate_change = number(key, v, Range::from(minus_one, Decimal::TEN))?
            }
            "repossession_cost_change" => {
                s.repossession_cost_change =
                    number(key, v, Range::from(minus_one, Decimal::ONE_HUNDRED))?
            }
            "pd_multiplier" => {
                s.pd_multiplier = number(key, v, Range::from(zero, Decimal::ONE_HUNDRED))?
            }
            "value_change_by" => s.value_change_by = Some(value_change_by(&name, v)?),
            other => return Err(format!("{name}: unknown key `{other}`; {usage}")),
        }
    }
    Ok(s)
}

/// A scenario's name: 1 to 64 letters, digits, `_` or `-`, and not `base`.
fn scenario_name(table: &toml_edit::Table) -> Result<String, String> {
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
    Ok(name)
}

/// The values a scenario's change may take: above (or from) `low`, at most `high`.
#[derive(Clone, Copy)]
struct Range {
    low: Decimal,
    high: Decimal,
    /// `low` itself is not allowed (a value change of -1 would leave no car).
    low_open: bool,
}

impl Range {
    fn above(low: Decimal, high: Decimal) -> Range {
        Range {
            low,
            high,
            low_open: true,
        }
    }

    fn from(low: Decimal, high: Decimal) -> Range {
        Range {
            low,
            high,
            low_open: false,
        }
    }
}

/// A scenario's number, within `range` and with at most 6 decimals.
fn scenario_number(
    name: &str,
    key: &str,
    v: &toml_edit::Item,
    range: Range,
) -> Result<Decimal, String> {
    let d = v.as_value().and_then(decimal).ok_or_else(|| {
        format!("{name}: `{key}` must be a number, e.g. {key} = -0.2 (a fraction: -0.2 is -20%)")
    })?;
    let Range {
        low,
        high,
        low_open,
    } = range;
    let low_ok = if low_open { d > low } else { d >= low };
    if !low_ok || d > high || d.scale() > 6 {
        let side = if low_open { "above" } else { "at least" };
        return Err(format!(
            "{name}: `{key} = {d}` must be {side} {low} and at most {high}, with at most 6 decimals"
        ));
    }
    Ok(d)
}

/// `value_change_by = { segment = { label = change, … } }`: one segment, a change per label.
fn value_change_by(name: &str, v: &toml_edit::Item) -> Result<ValueChangeBy, String> {
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
        let range = Range::above(Decimal::NEGATIVE_ONE, Decimal::TEN);
        changes.push((
            label.to_string(),
            scenario_number(name, &key, change, range)?,
        ));
    }
    Ok(ValueChangeBy {
        segment: segment.to_string(),
        changes,
    })
}

/// Checks the scenarios against the whole model: names unique, at most [`MAX_SCENARIOS`], every
/// `value_change_by` segment one of the run's segments, every shocked recovery rate within 0-1.
pub(super) fn check_scenarios(model: &Model) -> Result<(), String> {
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
