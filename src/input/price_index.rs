//! A monthly used-vehicle price index (e.g. Manheim), read from a `month,level` CSV named by the
//! config's `[estimate] price_index`: the estimates of a car's value move with it.

use crate::date::Date;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The index's level by month (the first day of the month).
#[derive(Clone, Debug, PartialEq)]
pub struct PriceIndex {
    pub path: PathBuf,
    pub levels: BTreeMap<Date, Decimal>,
}

/// What is wrong with a price index file, and the fix.
#[derive(Debug)]
pub struct BadPriceIndex(pub String);

/// Reads a price index CSV: a header, then `YYYY-MM` (or `YYYY-MM-DD`, any day) and a level > 0.
pub fn read(path: &Path) -> Result<PriceIndex, BadPriceIndex> {
    let bad = BadPriceIndex;
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(format!(
            "cannot be read: {e}. Fix: check [estimate] price_index"
        ))
    })?;
    let mut levels = BTreeMap::new();
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
        let level = Decimal::from_str(level.trim())
            .ok()
            .ok_or_else(usage)?
            .normalize();
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
        // An estimate is one exact fraction of the origination value, the curve and two levels
        // (`crate::money::cents_of_fraction`); six decimals keep it inside 256 bits.
        if level.scale() > 6 {
            return Err(bad(format!(
                "line {}: level {level} has more than 6 decimals. Fix: give the index level as \
                 published (e.g. 150.2)",
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
