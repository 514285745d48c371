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
