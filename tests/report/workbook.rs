//! report.xlsx: opened by LibreOffice, and every sheet's cells, formats, panes and filters read
//! from its XML.

use super::*;

/// LibreOffice opens the workbook and converts it to PDF without an error.
#[test]
fn report_xlsx_converts_in_libreoffice() {
    let office = ["libreoffice", "soffice"].into_iter().find(|p| have(p));
    let Some(office) = office else {
        return cannot_run(
            "report_xlsx_converts_in_libreoffice",
            "LibreOffice is not installed (.ci/run installs Debian's libreoffice-calc-nogui)",
        );
    };
    let s = Sandbox::new();
    sample_run(&s, "out");
    assert_converts_to_pdf(&s, office, "out/report.xlsx");
}

/// LibreOffice (`office`) converts the workbook at `xlsx` (in the sandbox) to a PDF without an error.
pub fn assert_converts_to_pdf(s: &Sandbox, office: &str, xlsx: &str) {
    let out = Command::new(office)
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(s.path("pdf"))
        .arg(s.path(xlsx))
        .env("HOME", s.path("."))
        .output()
        .expect("libreoffice runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(!log.to_lowercase().contains("error"), "{log}");
    let stem = std::path::Path::new(xlsx)
        .file_stem()
        .unwrap()
        .to_string_lossy();
    let pdf = std::fs::metadata(s.path(&format!("pdf/{stem}.pdf")))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(pdf > 1000, "no PDF: {log}");
}

/// A part of the workbook's zip, as text (`unzip -p`, which every CI image here has).
fn zip_part(path: &std::path::Path, part: &str) -> String {
    let out = Command::new("unzip").arg("-p").arg(path).arg(part).output();
    let out = out.expect("unzip runs");
    assert!(out.status.success(), "{part}");
    String::from_utf8(out.stdout).unwrap()
}

/// Each attribute `name="…"` of an XML tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let at = match tag.starts_with(&key) {
        true => key.len(),
        false => tag.find(&format!(" {key}"))? + key.len() + 1,
    };
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// The number format of each styled cell of a sheet: cell reference → format code.
fn cell_formats(sheet: &str, styles: &str) -> std::collections::BTreeMap<String, String> {
    let codes: std::collections::BTreeMap<&str, &str> = styles
        .split("<numFmt ")
        .skip(1)
        .map(|t| (attr(t, "numFmtId").unwrap(), attr(t, "formatCode").unwrap()))
        .collect();
    let xfs = &styles[styles.find("<cellXfs").unwrap()..styles.find("</cellXfs>").unwrap()];
    let xf_formats: Vec<&str> = xfs
        .split("<xf ")
        .skip(1)
        .map(|t| {
            let id = attr(t, "numFmtId").unwrap();
            codes.get(id).copied().unwrap_or("General")
        })
        .collect();
    sheet
        .split("<c ")
        .skip(1)
        .filter_map(|t| {
            let s: usize = attr(t, "s")?.parse().unwrap();
            Some((attr(t, "r")?.to_string(), xf_formats[s].to_string()))
        })
        .collect()
}

/// `A`, `B`, … `Z`, `AA` for column 0, 1, …
fn column_letter(i: usize) -> String {
    match i {
        0..=25 => ((b'A' + i as u8) as char).to_string(),
        _ => format!("{}{}", column_letter(i / 26 - 1), column_letter(i % 26)),
    }
}

/// The format each kind of column must have.
fn format_of(column: &str) -> Option<&'static str> {
    match column {
        "balance"
        | "value"
        | "negative_equity"
        | "deficiency_if_default"
        | "expected_deficiency"
        | "expected_loss"
        | "cumulative_loss"
        | "estimated_value_balance" => Some("#,##0.00"),
        "accounts"
        | "closed_accounts"
        | "valued_accounts"
        | "underwater_accounts"
        | "estimated_value_accounts"
        | "estimated_underwater_accounts"
        | "open_accounts" => Some("#,##0"),
        "share_underwater" => Some("0.00%"),
        _ => None,
    }
}

/// A cell against summary.json's value: numbers as numbers (cent for cent), text as text, none empty.
fn same_cell(cell: &Data, want: &serde_json::Value) -> bool {
    match (cell, want) {
        (Data::Empty, serde_json::Value::Null) => true,
        (Data::Float(f), serde_json::Value::String(s)) => s.parse::<f64>().ok() == Some(*f),
        (Data::Float(f), serde_json::Value::Number(n)) => n.as_f64() == Some(*f),
        (Data::Int(i), serde_json::Value::Number(n)) => n.as_i64() == Some(*i),
        (Data::String(t), serde_json::Value::String(s)) => t == s,
        _ => false,
    }
}

/// Every sheet of a summary table (LTV bands, each segment), the run-off and the top exposures: every
/// cell is summary.json's, each money cell formatted `#,##0.00`, counts `#,##0`, shares `0.00%`, the
/// header row frozen and an autofilter over the table; the Summary sheet's headline by label.
#[test]
fn the_workbook_holds_summary_json_cell_for_cell_with_formats_panes_and_filters() {
    let s = Sandbox::new();
    sample_run(&s, "out");
    let j = s.summary("out");
    let path = s.path("out/report.xlsx");
    let mut wb: Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let names = wb.sheet_names();
    let styles = zip_part(&path, "xl/styles.xml");
    let segments: Vec<&str> = j["manifest"]["config"]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut sheets: Vec<(String, Vec<serde_json::Value>)> = vec![(
        "LTV bands".into(),
        j["tables"]["ltv_bucket"].as_array().unwrap().clone(),
    )];
    for seg in &segments {
        sheets.push((
            format!("By {seg}"),
            j["tables"][seg].as_array().unwrap().clone(),
        ));
    }
    sheets.push((
        "Run-off".into(),
        j["runoff"]["by_month"].as_array().unwrap().clone(),
    ));
    sheets.push((
        "Lifetime loss".into(),
        j["lifetime"]["by_month"].as_array().unwrap().clone(),
    ));
    for (sheet, list) in [
        ("Top expected deficiency", "expected_deficiency"),
        ("Top unvalued", "unvalued_balance"),
    ] {
        let rows = j["top_exposures"][list].as_array().unwrap().clone();
        sheets.push((sheet.into(), rows));
    }
    for (sheet, rows) in &sheets {
        let index = names
            .iter()
            .position(|n| n == sheet)
            .unwrap_or_else(|| panic!("{sheet}"));
        let range = wb.worksheet_range(sheet).unwrap();
        let cells: Vec<&[Data]> = range.rows().collect();
        let header: Vec<String> = cells[0].iter().map(|c| c.to_string()).collect();
        assert_eq!(cells.len(), rows.len() + 1, "{sheet}: rows");
        let xml = zip_part(&path, &format!("xl/worksheets/sheet{}.xml", index + 1));
        let formats = cell_formats(&xml, &styles);
        for (r, (row, want)) in cells[1..].iter().zip(rows).enumerate() {
            for (c, name) in header.iter().enumerate() {
                let w = match (name.as_str(), &want[name.as_str()]) {
                    ("value_is_estimate", _) => continue,
                    // The label column of a summary table holds its dimension's value.
                    (_, serde_json::Value::Null) if c == 0 => &want[&header[0]],
                    (_, w) => w,
                };
                assert!(
                    same_cell(&row[c], w),
                    "{sheet} row {r} {name}: {:?} against {w}",
                    row[c]
                );
                let reference = format!("{}{}", column_letter(c), r + 2);
                if let (Some(fmt), false) = (format_of(name), w.is_null()) {
                    assert_eq!(
                        formats.get(&reference).map(String::as_str),
                        Some(fmt),
                        "{sheet} {reference} {name}"
                    );
                }
            }
        }
        assert!(
            xml.contains("ySplit=\"1\"") && xml.contains("state=\"frozen\""),
            "{sheet}: header frozen"
        );
        let last = format!("{}{}", column_letter(header.len() - 1), rows.len() + 1);
        assert!(
            xml.contains(&format!("<autoFilter ref=\"A1:{last}\"/>")),
            "{sheet}: autofilter A1:{last}"
        );
    }
}
