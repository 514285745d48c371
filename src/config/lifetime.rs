//! The config file's `[lifetime]` table: the lifetime expected loss model ([`Lifetime`]), each key
//! checked so a bad model fails with its key named before a loan is read.

use super::values::{decimal, decimal_list, step_table, strictly_increasing};
use crate::book::lifetime::{Discount, Lifetime};
use rust_decimal::Decimal;

/// The keys of `[lifetime]`.
pub const LIFETIME_KEYS: &str =
    "enabled, hazard_by_age, hazard_factor_by_ltv_band, delinquent, abs_speed, discount";

/// Reads `[lifetime]` over the default model: `Ok(None)` for `enabled = false`.
pub(super) fn parse(
    item: &toml_edit::Item,
    mut model: Lifetime,
) -> Result<Option<Lifetime>, String> {
    let table = item.as_table_like().ok_or_else(|| {
        "must be a table: [lifetime] hazard_by_age = [[0, 0.0005], [12, 0.0009]], abs_speed = 0.013"
            .to_string()
    })?;
    let mut enabled = true;
    // The default factors were fitted with the default hazards: a table of one's own has none
    // unless it gives them.
    if table.contains_key("hazard_by_age") {
        model.hazard_factor_by_ltv_band.clear();
    }
    for (k, v) in table.iter() {
        match k {
            "enabled" => {
                enabled = v
                    .as_value()
                    .and_then(|v| v.as_bool())
                    .ok_or("`enabled` must be true or false")?
            }
            "hazard_by_age" => model.hazard_by_age = hazards(v.as_value())?,
            "delinquent" => model.delinquent = delinquent(v)?,
            "hazard_factor_by_ltv_band" => model.hazard_factor_by_ltv_band = factors(v.as_value())?,
            "abs_speed" => {
                model.abs_speed = v
                    .as_value()
                    .and_then(decimal)
                    .filter(|a| *a >= Decimal::ZERO && *a < Decimal::ONE && a.scale() <= 8)
                    .ok_or("`abs_speed` must be a share from 0 up to 1 with at most 8 decimals, e.g. 0.013 (1.3% ABS)")?
            }
            "discount" => {
                model.discount = match v.as_value().and_then(|v| v.as_str()) {
                    Some("none") => Discount::None,
                    Some("apr") => Discount::Apr,
                    _ => return Err("`discount` must be \"none\" or \"apr\"".into()),
                }
            }
            other => return Err(format!("has unknown key `{other}`. Valid keys: {LIFETIME_KEYS}")),
        }
    }
    Ok(enabled.then_some(model))
}

/// A monthly hazard: a share from 0 to 1 with at most 12 decimals.
fn hazard(h: Decimal) -> Result<(), String> {
    match h >= Decimal::ZERO && h <= Decimal::ONE && h.scale() <= 12 {
        true => Ok(()),
        false => Err(format!(
            "hazard {h} must be a monthly share from 0 to 1 with at most 12 decimals"
        )),
    }
}

fn hazards(value: Option<&toml_edit::Value>) -> Result<Vec<(u32, Decimal)>, String> {
    let usage = "`hazard_by_age` must be [[first age in months, monthly hazard], ...] from age 0, e.g. [[0, 0.0005], [12, 0.0009]]";
    let table = step_table(value, usage, "ages", |_, h| hazard(h))?;
    if table.first().map(|s| s.0) != Some(0) || table.len() > 1200 {
        return Err(format!("{usage} (at most 1200 steps)"));
    }
    strictly_increasing(&table, "`hazard_by_age` ages")?;
    if table.last().is_some_and(|s| s.0 > 1200) {
        return Err("`hazard_by_age` ages must be at most 1200 months".into());
    }
    Ok(table)
}

/// One factor per LTV band: shares from 0 to 100 with at most 6 decimals (so a hazard times its
/// factor is exact).
fn factors(value: Option<&toml_edit::Value>) -> Result<Vec<Decimal>, String> {
    let usage =
        "`hazard_factor_by_ltv_band` must be one factor per LTV band of `ltv_bands`, from 0 to \
                 100 with at most 6 decimals, e.g. [0.5, 0.8, 1, 1.5, 2]";
    let list = decimal_list(value).ok_or(usage)?;
    match list
        .iter()
        .all(|f| *f >= Decimal::ZERO && *f <= Decimal::ONE_HUNDRED && f.scale() <= 6)
    {
        true => Ok(list),
        false => Err(usage.into()),
    }
}

fn delinquent(item: &toml_edit::Item) -> Result<Vec<(u32, Vec<Decimal>)>, String> {
    let usage = "`delinquent` must be a table of days past due = monthly hazards for the months after as_of, e.g. [lifetime.delinquent] 30 = [0.10, 0.08, 0.05]";
    let table = item.as_table_like().ok_or(usage)?;
    let mut classes = Vec::new();
    for (k, v) in table.iter() {
        let days = k
            .parse::<u32>()
            .ok()
            .filter(|&d| (1..=36_500).contains(&d))
            .ok_or_else(|| format!("{usage}; `{k}` is not a number of days from 1"))?;
        let list = decimal_list(v.as_value()).ok_or(usage)?;
        if list.len() > 1200 {
            return Err("`delinquent` lists at most 1200 months".into());
        }
        for h in &list {
            hazard(*h)?;
        }
        classes.push((days, list));
    }
    classes.sort_by_key(|c| c.0);
    Ok(classes)
}
