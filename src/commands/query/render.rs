//! An answer as bytes: CSV, JSON, markdown or an aligned table, every decimal exact. Pure: frame in,
//! bytes out.

use crate::commands::query::args::QueryFormat;
use polars::prelude::*;

/// One cell as text: decimals exactly at their scale, missing as empty.
pub(super) fn cell(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Decimal(m, _, scale) => decimal_text(*m, *scale),
        // Rust's own float formatting is the shortest text that reads back as the same float; polars'
        // display rounds (0.0081 printed as 0.01, 35,741,597.36 as 3.5742e7).
        AnyValue::Float64(f) => f.to_string(),
        AnyValue::Float32(f) => f.to_string(),
        other => other.to_string(),
    }
}

/// A polars decimal (an i128 mantissa, up to 38 digits) as exact text at its scale. Written out
/// because rust_decimal holds 28 digits and panics beyond them.
pub(super) fn decimal_text(mantissa: i128, scale: usize) -> String {
    let digits = mantissa.unsigned_abs().to_string();
    let sign = if mantissa < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

pub(super) fn is_numeric(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric() || matches!(dtype, DataType::Decimal(..))
}

/// Whether the terminal table groups a column's thousands: money, ratios and other fractions, and
/// whole numbers that are counts (`accounts`, `underwater_accounts`, `n`, `count`, COUNT(*)'s `len`).
/// Other whole numbers are years, ids, scores, terms or codes: `2,013` would misread them.
pub(super) fn groups_thousands(name: &str, dtype: &DataType) -> bool {
    if dtype.is_float() || matches!(dtype, DataType::Decimal(..)) {
        return true;
    }
    let name = name.to_ascii_lowercase();
    dtype.is_integer()
        && (name.ends_with("accounts")
            || name.starts_with("count")
            || name.ends_with("count")
            || matches!(name.as_str(), "n" | "len" | "rows" | "loans"))
}

/// Serializes an answer; pure: frame in, bytes out.
pub(super) fn render(mut df: DataFrame, format: QueryFormat) -> PolarsResult<Vec<u8>> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let rows: Vec<Vec<String>> = (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| c.get(i).map(|v| cell(&v)).unwrap_or_default())
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = df.columns().iter().map(|c| is_numeric(c.dtype())).collect();
    let grouped: Vec<bool> = df
        .columns()
        .iter()
        .map(|c| groups_thousands(c.name(), c.dtype()))
        .collect();
    let mut out = String::new();
    match format {
        QueryFormat::Csv => {
            crate::csvfmt::push_line(&mut out, names.iter().map(String::as_str));
            for row in &rows {
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if numeric[i] {
                        out.push_str(v);
                    } else {
                        crate::csvfmt::push_text(&mut out, v);
                    }
                }
                out.push('\n');
            }
        }
        QueryFormat::Json => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| {
                    let mut m = serde_json::Map::new();
                    for ((name, v), (col, num)) in
                        names.iter().zip(row).zip(df.columns().iter().zip(&numeric))
                    {
                        // Money and ratios stay strings, so no reader turns them into floats.
                        let value = if v.is_empty() {
                            serde_json::Value::Null
                        } else if *num && !matches!(col.dtype(), DataType::Decimal(..)) {
                            serde_json::from_str(v).unwrap_or(serde_json::json!(v))
                        } else {
                            serde_json::json!(v)
                        };
                        m.insert(name.clone(), value);
                    }
                    serde_json::Value::Object(m)
                })
                .collect();
            out = serde_json::to_string_pretty(&items).unwrap_or_default();
            out.push('\n');
        }
        QueryFormat::Markdown | QueryFormat::Table => {
            out = text_table(
                &names,
                &rows,
                &numeric,
                &grouped,
                format == QueryFormat::Markdown,
            );
        }
        QueryFormat::Parquet => {
            let mut bytes = Vec::new();
            ParquetWriter::new(&mut bytes).finish(&mut df)?;
            return Ok(bytes);
        }
    }
    Ok(out.into_bytes())
}

/// An aligned table for people (comfy-table measures wide characters): numbers right-aligned, and in
/// the terminal table thousands grouped; markdown marks numeric columns right-aligned (`---:`).
pub(super) fn text_table(
    names: &[String],
    rows: &[Vec<String>],
    numeric: &[bool],
    grouped: &[bool],
    markdown: bool,
) -> String {
    use comfy_table::{presets, CellAlignment, Table};
    let mut table = Table::new();
    // Markdown pipes, or no borders and one rule under the header.
    table.load_preset(if markdown {
        presets::ASCII_MARKDOWN
    } else {
        "     -              "
    });
    table.set_header(names);
    for row in rows {
        table.add_row(
            row.iter()
                .zip(grouped)
                .map(|(v, &group)| match group && !markdown {
                    true => crate::money::group_thousands(v),
                    false => v.clone(),
                }),
        );
    }
    let last = numeric.len().saturating_sub(1);
    for (i, &num) in numeric.iter().enumerate() {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(match num {
                true => CellAlignment::Right,
                false => CellAlignment::Left,
            });
            // The terminal table starts at the margin, with two spaces between columns.
            if !markdown {
                column.set_padding((0, if i == last { 0 } else { 2 }));
            }
        }
    }
    let mut out = String::new();
    for (n, line) in table.lines().enumerate() {
        let line = match (markdown, n) {
            (true, 1) => align_markers(&line, numeric),
            _ => line,
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Markdown's right-alignment marker: the rule under the header ends in `:` for numeric columns.
pub(super) fn align_markers(rule: &str, numeric: &[bool]) -> String {
    let cells: Vec<&str> = rule.split('|').collect();
    let last = cells.len().saturating_sub(1);
    cells
        .iter()
        .enumerate()
        .map(
            |(i, cell)| match i.checked_sub(1).and_then(|c| numeric.get(c)) {
                Some(true) if i < last && cell.ends_with('-') => {
                    format!("{}:", &cell[..cell.len() - 1])
                }
                _ => cell.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("|")
}
