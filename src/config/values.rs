//! Values of the config file read exactly: a number as the decimal its literal spells (`0.85` is
//! 85/100, not the nearest binary float), and lists of them or of text.

use rust_decimal::Decimal;
use std::str::FromStr;

/// A TOML array of strings, each trimmed; None when the value is anything else.
pub(super) fn text_list(value: Option<&toml_edit::Value>) -> Option<Vec<String>> {
    value.and_then(|v| v.as_array()).and_then(|a| {
        a.iter()
            .map(|v| v.as_str().map(|s| s.trim().to_string()))
            .collect()
    })
}

pub(super) fn decimal_list(value: Option<&toml_edit::Value>) -> Option<Vec<Decimal>> {
    value?.as_array()?.iter().map(decimal).collect()
}

/// The exact decimal a TOML number (or numeric string) spells, read from its source text.
pub(super) fn decimal(value: &toml_edit::Value) -> Option<Decimal> {
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

/// A step table `[[whole number, decimal], ...]` as TOML writes it: the curves and the pd table. Each
/// pair's decimal is checked by `check`; the steps (named so in messages) must be whole numbers >= 0.
pub(super) fn step_table(
    value: Option<&toml_edit::Value>,
    usage: &str,
    steps: &str,
    check: impl Fn(u32, Decimal) -> Result<(), String>,
) -> Result<Vec<(u32, Decimal)>, String> {
    let rows = value
        .and_then(|v| v.as_array())
        .ok_or_else(|| usage.to_string())?;
    let mut table = Vec::new();
    for row in rows.iter() {
        let pair = row
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| usage.to_string())?;
        let step = pair
            .get(0)
            .and_then(|v| v.as_integer())
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| format!("{steps} must be whole numbers >= 0; {usage}"))?;
        let figure = pair
            .get(1)
            .and_then(decimal)
            .ok_or_else(|| usage.to_string())?;
        check(step, figure)?;
        table.push((step, figure));
    }
    Ok(table)
}

/// A step table's steps strictly increasing, checked after where it starts.
pub(super) fn strictly_increasing(table: &[(u32, Decimal)], steps: &str) -> Result<(), String> {
    match table.windows(2).any(|w| w[0].0 >= w[1].0) {
        true => Err(format!("{steps} must be strictly increasing")),
        false => Ok(()),
    }
}
