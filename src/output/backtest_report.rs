//! The backtest for people: report.html (one self-contained page, inline SVG, nothing fetched, no
//! script) and report.xlsx, both pure serializers of the backtest's [`BacktestSummary`], so every
//! figure they show is summary.json's.
//!
//! The page shows predicted against realized default rates per pd class with each Jeffreys interval
//! drawn, modeled against realized loss severity per LTV band, the book's expected deficiency
//! against its realized loss, and (with the lifetime model) its cumulative predicted against realized
//! loss month by month. Positions in the charts are the only floats; each chart has its
//! figures in a table beside it.

use crate::output::backtest_files::{BacktestSummary, CurveRow, LossRow, PdRow};
use crate::output::html::{esc, lines_chart};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use std::fmt::Write as _;

fn float(text: &str) -> f64 {
    text.parse().unwrap_or(0.0)
}

const STYLE: &str = "body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  color: #1d2733; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 2px solid #2d6cdf; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #d8dee6; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f1f4f8; }
.note { color: #5b6b7c; font-size: 0.85rem; } .bad { color: #b3261e; font-weight: 600; }
.headline { display: flex; gap: 2rem; } .headline div { background: #f1f4f8; padding: 0.6rem 1rem; }
.headline b { display: block; font-size: 1.3rem; }";

/// report.html of a backtest.
pub fn backtest_html(s: &BacktestSummary) -> String {
    let mut out = String::with_capacity(16 << 10);
    let total = s.by_ltv_bucket.last();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>underwater backtest as of {as_of}</title><style>{STYLE}</style></head><body>\n\
         <h1>Backtest as of {as_of}, over {h} months</h1>\n<p class=\"note\">{n} accounts, {no} without \
         outcome records; {m} months of data. Inputs: {inputs}.</p>\n",
        as_of = esc(&s.as_of),
        h = s.horizon_months,
        n = s.accounts.in_book,
        no = s.accounts.no_outcome,
        m = s.months_of_data,
        inputs = esc(&s.manifest.record.inputs.join(", ")),
    );
    if let Some(t) = total {
        let _ = writeln!(
            out,
            "<div class=\"headline\"><div>Expected deficiency<b>{}</b></div><div>Realized loss<b>{}</b></div>\
             <div>Defaults<b>{}</b></div><div>AUC of pd<b>{}</b></div></div>",
            esc(&t.expected_deficiency),
            esc(&t.realized_loss),
            t.defaults,
            esc(s.auc_pd.as_deref().unwrap_or("–")),
        );
    }
    pd_section(&mut out, &s.by_pd);
    severity_section(&mut out, &s.by_ltv_bucket);
    if let Some(curve) = &s.curve {
        curve_section(&mut out, curve);
    }
    let _ = write!(
        out,
        "<h2>Rules</h2><p class=\"note\">{}</p>\n</body></html>\n",
        esc(s.rules)
    );
    out
}

fn pd_section(out: &mut String, rows: &[PdRow]) {
    out.push_str(
        "<h2>Predicted against realized default rate, per pd class</h2>\n<p class=\"note\">Dot: the \
         realized rate; bar: its Jeffreys 95% interval; red tick: the class's pd. A pd outside its \
         interval is rejected.</p>\n",
    );
    out.push_str(&pd_chart(rows));
    out.push_str(
        "<table><tr><th>pd</th><th>accounts</th><th>expected defaults</th><th>defaults</th>\
         <th>default rate</th><th>Jeffreys low</th><th>Jeffreys high</th><th>verdict</th></tr>\n",
    );
    for r in rows {
        let verdict = r.verdict.unwrap_or("");
        let class = if verdict.starts_with("pd_too") {
            " class=\"bad\""
        } else {
            ""
        };
        let f = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{class}>{}</td></tr>",
            esc(&r.pd),
            r.accounts,
            esc(&r.expected_defaults),
            r.defaults,
            esc(r.default_rate.as_deref().unwrap_or("")),
            f(r.jeffreys_low),
            f(r.jeffreys_high),
            verdict
        );
    }
    out.push_str("</table>\n");
}

/// One column per pd class: the interval as a bar, the realized rate as a dot, the pd as a tick.
fn pd_chart(rows: &[PdRow]) -> String {
    let (w, h, left, bottom) = (640.0, 260.0, 50.0, 30.0);
    let top = rows
        .iter()
        .flat_map(|r| [r.jeffreys_high.unwrap_or(0.0), pd_value(r)])
        .fold(0.0f64, f64::max)
        .max(0.01)
        * 1.1;
    let y = |v: f64| h - bottom - (v / top) * (h - bottom - 10.0);
    let step = (w - left) / rows.len().max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"default rates per pd class\"><line x1=\"{left}\" y1=\"{b}\" x2=\"{w}\" y2=\"{b}\" \
         stroke=\"#5b6b7c\"/><text x=\"4\" y=\"14\" font-size=\"11\">{top:.3}</text>\
         <text x=\"4\" y=\"{b}\" font-size=\"11\">0</text>",
        b = h - bottom
    );
    for (i, r) in rows.iter().enumerate() {
        let x = left + step * (i as f64 + 0.5);
        if let (Some(lo), Some(hi)) = (r.jeffreys_low, r.jeffreys_high) {
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#2d6cdf\" stroke-width=\"6\" opacity=\"0.35\"/>",
                y(lo),
                y(hi)
            );
        }
        let rate = float(r.default_rate.as_deref().unwrap_or("0"));
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#2d6cdf\"/>\
             <line x1=\"{:.1}\" y1=\"{p:.1}\" x2=\"{:.1}\" y2=\"{p:.1}\" stroke=\"#b3261e\" stroke-width=\"3\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            y(rate),
            x - 12.0,
            x + 12.0,
            h - 10.0,
            esc(&r.pd),
            p = y(pd_value(r)),
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The pd the class is tested at: its own, or the TOTAL row's mean (expected / accounts).
fn pd_value(r: &PdRow) -> f64 {
    match r.pd.parse::<f64>() {
        Ok(pd) => pd,
        Err(_) if r.accounts > 0 => float(&r.expected_defaults) / r.accounts as f64,
        Err(_) => 0.0,
    }
}

fn severity_section(out: &mut String, rows: &[LossRow]) {
    out.push_str(
        "<h2>Modeled against realized loss severity, per LTV band</h2>\n<p class=\"note\">Over the \
         accounts that defaulted: modeled = Σ deficiency if default ÷ Σ balance at as_of; realized = \
         Σ realized loss ÷ Σ balance at default. Grey bars: modeled; blue: realized.</p>\n",
    );
    out.push_str(&severity_chart(rows));
    out.push_str(
        "<table><tr><th>LTV band</th><th>accounts</th><th>defaults</th><th>expected deficiency</th>\
         <th>realized loss</th><th>balance at default</th><th>recoveries</th><th>modeled severity</th>\
         <th>realized severity</th></tr>\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.group),
            r.accounts,
            r.defaults,
            esc(&r.expected_deficiency),
            esc(&r.realized_loss),
            esc(&r.balance_at_default),
            esc(&r.recoveries),
            esc(r.modeled_severity.as_deref().unwrap_or("")),
            esc(r.loss_severity.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table>\n");
}

/// The lifetime model judged month by month: its cumulative predicted loss against the realized.
fn curve_section(out: &mut String, rows: &[CurveRow]) {
    out.push_str(
        "<h2>Lifetime model: predicted against realized, month by month</h2>\n<p class=\"note\">\
         Cumulative over the tested accounts with lifetime figures: predicted = Σ expected deficiency \
         (and Σ pd) to the month; realized = the defaults of each month and their realized loss.</p>\n",
    );
    let predicted: Vec<f64> = rows.iter().map(|r| float(&r.predicted_loss)).collect();
    let realized: Vec<f64> = rows.iter().map(|r| float(&r.realized_loss)).collect();
    out.push_str(&lines_chart(
        "Cumulative loss",
        &[("predicted", &predicted), ("realized", &realized)],
        "curve",
    ));
    out.push_str(
        "<table id=\"curve\"><tr><th>month</th><th>predicted defaults</th><th>realized defaults</th>\
         <th>predicted loss</th><th>realized loss</th></tr>\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.month,
            esc(&r.predicted_defaults),
            r.realized_defaults,
            esc(&r.predicted_loss),
            esc(&r.realized_loss),
        );
    }
    out.push_str("</table>\n");
}

/// Two bars per band: modeled (grey) and realized (blue) severity, on a 0–1 scale.
fn severity_chart(rows: &[LossRow]) -> String {
    let (w, h, bottom) = (640.0, 220.0, 30.0);
    let step = w / rows.len().max(1) as f64;
    let bar = |v: Option<&str>| v.map_or(0.0, float).clamp(0.0, 1.0) * (h - bottom - 10.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"loss severity per LTV band\"><line x1=\"0\" y1=\"{b}\" x2=\"{w}\" y2=\"{b}\" stroke=\"#5b6b7c\"/>",
        b = h - bottom
    );
    for (i, r) in rows.iter().enumerate() {
        let x = step * i as f64 + step * 0.2;
        let (m, q) = (
            bar(r.modeled_severity.as_deref()),
            bar(r.loss_severity.as_deref()),
        );
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{m:.1}\" fill=\"#9aa7b5\"/>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{q:.1}\" fill=\"#2d6cdf\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            h - bottom - m,
            x + step * 0.3,
            h - bottom - q,
            x + step * 0.3,
            h - 10.0,
            esc(&r.group),
            bw = step * 0.28,
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// report.xlsx of a backtest: the pd test and the loss table, numbers as numbers.
pub fn backtest_xlsx(s: &BacktestSummary) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let header = Format::new().set_bold().set_background_color("F1F4F8");
    let money = Format::new().set_num_format("#,##0.00");
    let ratio = Format::new().set_num_format("0.0000");
    let ws = wb.add_worksheet().set_name("pd classes")?;
    let names = crate::output::backtest_files::PD_COLUMNS;
    head(ws, &names, &header)?;
    for (i, r) in s.by_pd.iter().enumerate() {
        let row = i as u32 + 1;
        match r.pd.parse::<f64>() {
            Ok(pd) => ws.write_number(row, 0, pd)?,
            Err(_) => ws.write_string(row, 0, &r.pd)?,
        };
        ws.write_number(row, 1, r.accounts as f64)?;
        ws.write_number(row, 2, float(&r.expected_defaults))?;
        ws.write_number(row, 3, r.defaults as f64)?;
        if let Some(d) = &r.default_rate {
            ws.write_number_with_format(row, 4, float(d), &ratio)?;
        }
        for (c, v) in [(5, r.jeffreys_low), (6, r.jeffreys_high)] {
            if let Some(v) = v {
                ws.write_number(row, c, v)?;
            }
        }
        ws.write_string(row, 7, r.verdict.unwrap_or(""))?;
    }
    ws.autofilter(0, 0, s.by_pd.len() as u32, names.len() as u16 - 1)?;
    let ws = wb.add_worksheet().set_name("severity by LTV")?;
    let names = [
        "ltv_bucket",
        "accounts",
        "defaults",
        "expected_deficiency",
        "realized_loss",
        "balance_at_default",
        "recoveries",
        "modeled_severity",
        "loss_severity",
    ];
    head(ws, &names, &header)?;
    for (i, r) in s.by_ltv_bucket.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_string(row, 0, &r.group)?;
        ws.write_number(row, 1, r.accounts as f64)?;
        ws.write_number(row, 2, r.defaults as f64)?;
        let amounts = [
            &r.expected_deficiency,
            &r.realized_loss,
            &r.balance_at_default,
            &r.recoveries,
        ];
        for (c, a) in amounts.into_iter().enumerate() {
            ws.write_number_with_format(row, 3 + c as u16, float(a), &money)?;
        }
        for (c, v) in [(7, &r.modeled_severity), (8, &r.loss_severity)] {
            if let Some(v) = v {
                ws.write_number_with_format(row, c, float(v), &ratio)?;
            }
        }
    }
    ws.autofilter(0, 0, s.by_ltv_bucket.len() as u32, names.len() as u16 - 1)?;
    if let Some(curve) = &s.curve {
        curve_sheet(&mut wb, curve, &header, &money)?;
    }
    wb.save_to_buffer()
}

/// The curve sheet: summary_backtest_curve.csv's rows, numbers as numbers.
fn curve_sheet(
    wb: &mut Workbook,
    rows: &[CurveRow],
    header: &Format,
    money: &Format,
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet().set_name("lifetime curve")?;
    let names = [
        "month",
        "predicted_defaults",
        "realized_defaults",
        "predicted_loss",
        "realized_loss",
    ];
    head(ws, &names, header)?;
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_number(row, 0, f64::from(r.month))?;
        ws.write_number(row, 1, float(&r.predicted_defaults))?;
        ws.write_number(row, 2, r.realized_defaults as f64)?;
        ws.write_number_with_format(row, 3, float(&r.predicted_loss), money)?;
        ws.write_number_with_format(row, 4, float(&r.realized_loss), money)?;
    }
    ws.autofilter(0, 0, rows.len() as u32, names.len() as u16 - 1)?;
    Ok(())
}

fn head(ws: &mut Worksheet, names: &[&str], format: &Format) -> Result<(), XlsxError> {
    for (c, n) in names.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *n, format)?;
        ws.set_column_width(c as u16, 16)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}
