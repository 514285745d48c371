//! report.xlsx: the run as a workbook — a Summary sheet with the headline, then one sheet per summary
//! table, the scenarios, the run-off, the lifetime loss curve and the largest exposures. From summary.json alone, like
//! report.html.
//!
//! Money is written as numbers with a `#,##0.00` format, never as text, so a treasurer can sum a column.
//! A spreadsheet number is a binary double: every figure here is below 2^53 cents (the loader caps
//! amounts at 12 integer digits, so a sum needs over 90,000 of the largest loans to pass it), where the
//! double nearest a two-decimal figure prints back as that figure; the test reads the workbook back and
//! finds summary.json's totals cent for cent.

use crate::output::summary_json::{Dec, ExposureJson, Row, Summary, TallyJson};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

struct Formats {
    money: Format,
    share: Format,
    count: Format,
    header: Format,
    bold: Format,
}

/// Text from an input as a cell shows it: characters that hide or reorder text (controls, bidi
/// overrides) written as a visible `\u{...}`, as in the CSVs, and a text past Excel's 32,767
/// characters cut there with a note (the CSVs hold it whole).
fn shown(text: &str) -> String {
    let visible = crate::csvfmt::visible(text);
    if visible.chars().count() <= MAX_CELL_CHARS {
        return visible.into_owned();
    }
    let note = " … (cut: the CSVs hold the whole text)";
    let keep = MAX_CELL_CHARS - note.chars().count();
    visible.chars().take(keep).collect::<String>() + note
}

fn number(d: &Dec) -> f64 {
    d.0.to_string().parse().unwrap_or(0.0)
}

/// A sheet name Excel accepts and no other sheet of the workbook has: at most 31 characters, none of
/// `[]:*?/\\`, no `'` at either end; a name taken already (Excel compares them case-blind) gets `~2`,
/// `~3`, … within the 31 characters. Segment names come from the config, so two can share their first
/// 31 characters.
fn sheet_name(name: &str, used: &mut std::collections::BTreeSet<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let clean = clean.trim_matches('\'').to_string();
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("~{n}")
        };
        let keep = 31 - suffix.chars().count();
        let candidate: String = clean.chars().take(keep).collect::<String>() + &suffix;
        if used.insert(candidate.to_lowercase()) {
            return candidate;
        }
        n += 1;
    }
}

/// Excel's limits: the rows of a sheet (header included) and the characters of a cell.
const MAX_ROWS: usize = 1_048_576;
const MAX_CELL_CHARS: usize = 32_767;

/// Writes a header row, freezes it, and remembers the width for the autofilter.
fn header(ws: &mut Worksheet, f: &Formats, names: &[&str]) -> Result<(), XlsxError> {
    for (c, n) in names.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *n, &f.header)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

fn finish(ws: &mut Worksheet, rows: u32, cols: u16) -> Result<(), XlsxError> {
    if rows > 0 && cols > 0 {
        ws.autofilter(0, 0, rows, cols - 1)?;
    }
    ws.autofit();
    Ok(())
}

fn tally_sheet(
    wb: &mut Workbook,
    f: &Formats,
    name: &str,
    used: &mut std::collections::BTreeSet<String>,
    (dimension, rows): (&str, &[Row]),
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name(sheet_name(name, used))?;
    // The summary tables' columns, in their order (see summary_by_*.csv).
    let mut names = vec![dimension];
    names.extend(crate::columns::SUM_METRICS);
    names.extend(["share_underwater", "avg_ltv", "estimated_value_accounts"]);
    header(ws, f, &names)?;
    // Past Excel's rows: the first groups, a note, and the TOTAL row (the last) still on the sheet.
    let cut = (rows.len() + 1).saturating_sub(MAX_ROWS - 1);
    let kept: Vec<&Row> = match (cut, rows.split_last()) {
        (0, _) | (_, None) => rows.iter().collect(),
        (_, Some((total, groups))) => groups[..groups.len() - cut].iter().chain([total]).collect(),
    };
    if cut > 0 {
        let note = format!("… {cut} more groups than a sheet holds: see the summary CSV");
        ws.write_string(kept.len() as u32, 0, note)?;
    }
    for (r, row) in kept.iter().enumerate() {
        let r = r as u32 + 1 + u32::from(cut > 0 && r + 1 == kept.len());
        let t: &TallyJson = &row.totals;
        let label = row.label.get(dimension).cloned().unwrap_or_default();
        ws.write_string(r, 0, shown(&label))?;
        ws.write_number_with_format(r, 1, t.accounts as f64, &f.count)?;
        ws.write_number_with_format(r, 2, t.closed_accounts as f64, &f.count)?;
        ws.write_number_with_format(r, 3, t.valued_accounts as f64, &f.count)?;
        ws.write_number_with_format(r, 4, number(&t.balance), &f.money)?;
        ws.write_number_with_format(r, 5, number(&t.value), &f.money)?;
        ws.write_number_with_format(r, 6, t.underwater_accounts as f64, &f.count)?;
        ws.write_number_with_format(r, 7, number(&t.negative_equity), &f.money)?;
        ws.write_number_with_format(r, 8, number(&t.deficiency_if_default), &f.money)?;
        ws.write_number_with_format(r, 9, number(&t.expected_deficiency), &f.money)?;
        if let Some(s) = &t.share_underwater {
            ws.write_number_with_format(r, 10, number(s), &f.share)?;
        }
        if let Some(a) = &t.avg_ltv {
            ws.write_number(r, 11, number(a))?;
        }
        ws.write_number_with_format(r, 12, t.estimated_value_accounts as f64, &f.count)?;
    }
    finish(
        ws,
        (kept.len() + usize::from(cut > 0)) as u32,
        names.len() as u16,
    )
}

fn exposures_sheet(
    wb: &mut Workbook,
    f: &Formats,
    name: &str,
    list: &[ExposureJson],
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name(name)?;
    let names = [
        "account_id",
        "balance",
        "value",
        "value_is_estimate",
        "value_source",
        "ltv_bucket",
        "negative_equity",
        "expected_deficiency",
        "days_past_due",
    ];
    header(ws, f, &names)?;
    for (r, e) in list.iter().enumerate() {
        let r = r as u32 + 1;
        ws.write_string(r, 0, shown(&e.account_id))?;
        ws.write_number_with_format(r, 1, number(&e.balance), &f.money)?;
        if let Some(v) = &e.value {
            ws.write_number_with_format(r, 2, number(v), &f.money)?;
        }
        ws.write_string(r, 3, if e.estimated { "estimate" } else { "" })?;
        ws.write_string(r, 4, shown(&e.value_source))?;
        ws.write_string(r, 5, &e.ltv_bucket)?;
        if let Some(v) = &e.negative_equity {
            ws.write_number_with_format(r, 6, number(v), &f.money)?;
        }
        ws.write_number_with_format(r, 7, number(&e.expected_deficiency), &f.money)?;
        ws.write_number_with_format(r, 8, f64::from(e.days_past_due), &f.count)?;
    }
    finish(ws, list.len() as u32, names.len() as u16)
}

/// The workbook's bytes.
pub fn report_xlsx(s: &Summary) -> Result<Vec<u8>, XlsxError> {
    let f = Formats {
        money: Format::new().set_num_format("#,##0.00"),
        share: Format::new().set_num_format("0.00%"),
        count: Format::new().set_num_format("#,##0"),
        header: Format::new().set_bold().set_background_color("#F3F6FA"),
        bold: Format::new().set_bold(),
    };
    let mut wb = Workbook::new();
    // Dated as of the book, not by the clock: the same run gives the same bytes.
    if let Some(d) = crate::date::Date::parse(&s.manifest.record.as_of) {
        let (y, m, day) = d.ymd();
        if let Ok(when) = ExcelDateTime::from_ymd(y.clamp(1900, 9999) as u16, m as u8, day as u8) {
            wb.set_properties(&DocProperties::new().set_creation_datetime(&when));
        }
    }
    summary_sheet(&mut wb, &f, s)?;

    let mut used = [
        "summary",
        "scenarios",
        "run-off",
        "lifetime loss",
        "top expected deficiency",
        "top unvalued",
    ]
    .map(String::from)
    .into();
    let ltv = ("ltv_bucket", &s.tables.ltv_bucket[..]);
    tally_sheet(&mut wb, &f, "LTV bands", &mut used, ltv)?;
    for (name, rows) in &s.tables.segments {
        tally_sheet(&mut wb, &f, &format!("By {name}"), &mut used, (name, rows))?;
    }

    scenarios_sheet(&mut wb, &f, s)?;
    runoff_sheet(&mut wb, &f, s)?;
    lifetime_sheet(&mut wb, &f, s)?;

    exposures_sheet(
        &mut wb,
        &f,
        "Top expected deficiency",
        &s.top_exposures.expected_deficiency,
    )?;
    exposures_sheet(
        &mut wb,
        &f,
        "Top unvalued",
        &s.top_exposures.unvalued_balance,
    )?;
    wb.save_to_buffer()
}

/// The Summary sheet: the headline figures by label, the program and the bridge.
fn summary_sheet(wb: &mut Workbook, f: &Formats, s: &Summary) -> Result<(), XlsxError> {
    let t = &s.portfolio.totals;
    let ws = wb.add_worksheet();
    ws.set_name("Summary")?;
    ws.write_string_with_format(0, 0, "Auto-loan book risk report", &f.bold)?;
    ws.write_string(1, 0, "as of")?;
    ws.write_string(1, 1, &s.manifest.record.as_of)?;
    let lines: [(&str, f64, &Format); 10] = [
        ("accounts", t.accounts as f64, &f.count),
        ("closed accounts", t.closed_accounts as f64, &f.count),
        ("valued open accounts", t.valued_accounts as f64, &f.count),
        ("balance", number(&t.balance), &f.money),
        ("value", number(&t.value), &f.money),
        (
            "underwater accounts",
            t.underwater_accounts as f64,
            &f.count,
        ),
        ("negative equity", number(&t.negative_equity), &f.money),
        (
            "deficiency if default",
            number(&t.deficiency_if_default),
            &f.money,
        ),
        (
            "expected deficiency",
            number(&t.expected_deficiency),
            &f.money,
        ),
        (
            "accounts valued by estimate",
            t.estimated_value_accounts as f64,
            &f.count,
        ),
    ];
    let mut r = 2;
    for (label, v, format) in lines {
        ws.write_string(r, 0, label)?;
        ws.write_number_with_format(r, 1, v, format)?;
        r += 1;
    }
    ws.write_string(r, 0, "share underwater (of valued open accounts)")?;
    if let Some(share) = &t.share_underwater {
        ws.write_number_with_format(r, 1, number(share), &f.share)?;
    }
    r += 1;
    ws.write_string(r, 0, "program")?;
    ws.write_string(
        r,
        1,
        format!("{} {}", s.manifest.program, s.manifest.version),
    )?;
    if let Some(c) = &s.changes {
        r += 2;
        ws.write_string_with_format(r, 0, "negative equity bridge", &f.bold)?;
        ws.write_string(r, 1, format!("since {}", c.previous_as_of))?;
        for (line, v) in &c.negative_equity_bridge {
            r += 1;
            ws.write_string(r, 0, line)?;
            ws.write_number_with_format(r, 1, number(v), &f.money)?;
        }
    }
    ws.autofit();
    Ok(())
}

/// The Scenarios sheet: the base and each scenario's totals.
fn scenarios_sheet(wb: &mut Workbook, f: &Formats, s: &Summary) -> Result<(), XlsxError> {
    if s.scenarios.is_empty() {
        return Ok(());
    }
    let t = &s.portfolio.totals;
    let ws = wb.add_worksheet();
    ws.set_name("Scenarios")?;
    let mut names = vec![
        "scenario",
        "value_change",
        "recovery_rate_change",
        "pd_multiplier",
        "underwater_accounts",
        "negative_equity",
        "deficiency_if_default",
        "expected_deficiency",
    ];
    if t.lifetime_expected_deficiency.is_some() {
        names.push("lifetime_expected_deficiency");
    }
    header(ws, f, &names)?;
    ws.write_string(1, 0, "base")?;
    let totals = std::iter::once(("base", None, t)).chain(
        s.scenarios
            .iter()
            .map(|x| (x.name.as_str(), Some(x), &x.totals)),
    );
    for (r, (name, def, t)) in totals.enumerate() {
        let r = r as u32 + 1;
        ws.write_string(r, 0, shown(name))?;
        if let Some(x) = def {
            ws.write_number_with_format(r, 1, number(&x.value_change), &f.share)?;
            ws.write_number_with_format(r, 2, number(&x.recovery_rate_change), &f.share)?;
            ws.write_number(r, 3, number(&x.pd_multiplier))?;
        }
        ws.write_number_with_format(r, 4, t.underwater_accounts as f64, &f.count)?;
        ws.write_number_with_format(r, 5, number(&t.negative_equity), &f.money)?;
        ws.write_number_with_format(r, 6, number(&t.deficiency_if_default), &f.money)?;
        ws.write_number_with_format(r, 7, number(&t.expected_deficiency), &f.money)?;
        if let Some(l) = &t.lifetime_expected_deficiency {
            ws.write_number_with_format(r, 8, number(l), &f.money)?;
        }
    }
    finish(ws, s.scenarios.len() as u32 + 1, names.len() as u16)?;
    Ok(())
}

/// The Run-off sheet: every month.
fn runoff_sheet(wb: &mut Workbook, f: &Formats, s: &Summary) -> Result<(), XlsxError> {
    let Some(runoff) = &s.runoff else {
        return Ok(());
    };
    let ws = wb.add_worksheet();
    ws.set_name("Run-off")?;
    let names = [
        "month",
        "date",
        "open_accounts",
        "balance",
        "value",
        "underwater_accounts",
        "negative_equity",
    ];
    header(ws, f, &names)?;
    for (r, m) in runoff.by_month.iter().enumerate() {
        let r = r as u32 + 1;
        ws.write_number(r, 0, f64::from(m.month))?;
        ws.write_string(r, 1, &m.date)?;
        ws.write_number_with_format(r, 2, m.open_accounts as f64, &f.count)?;
        ws.write_number_with_format(r, 3, number(&m.balance), &f.money)?;
        ws.write_number_with_format(r, 4, number(&m.value), &f.money)?;
        ws.write_number_with_format(r, 5, m.underwater_accounts as f64, &f.count)?;
        ws.write_number_with_format(r, 6, number(&m.negative_equity), &f.money)?;
    }
    finish(ws, runoff.by_month.len() as u32, names.len() as u16)?;
    Ok(())
}

/// The Lifetime loss sheet: the expected loss curve month by month (summary.json's
/// `lifetime.by_month`). Expected defaults are counts of accounts with 18 decimals: a double keeps
/// about 15 significant digits of them (summary_loss_curve.csv has every place).
fn lifetime_sheet(wb: &mut Workbook, f: &Formats, s: &Summary) -> Result<(), XlsxError> {
    let Some(lifetime) = &s.lifetime else {
        return Ok(());
    };
    let ws = wb.add_worksheet();
    ws.set_name("Lifetime loss")?;
    let names = [
        "month",
        "date",
        "expected_defaults",
        "expected_loss",
        "cumulative_defaults",
        "cumulative_loss",
    ];
    header(ws, f, &names)?;
    for (r, m) in lifetime.by_month.iter().enumerate() {
        let r = r as u32 + 1;
        ws.write_number(r, 0, f64::from(m.month))?;
        ws.write_string(r, 1, &m.date)?;
        ws.write_number(r, 2, number(&m.expected_defaults))?;
        ws.write_number_with_format(r, 3, number(&m.expected_loss), &f.money)?;
        ws.write_number(r, 4, number(&m.cumulative_defaults))?;
        ws.write_number_with_format(r, 5, number(&m.cumulative_loss), &f.money)?;
    }
    finish(ws, lifetime.by_month.len() as u32, names.len() as u16)?;
    Ok(())
}
