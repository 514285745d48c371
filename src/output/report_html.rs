//! report.html: the run for people who read rather than parse — one self-contained page (inline CSS and
//! SVG, nothing fetched, no script), printable, from summary.json alone, so `underwater report --run DIR`
//! rebuilds it from a finished run without recomputing anything.
//!
//! Every figure on the page is the text of a figure in summary.json (a test reads the page back and
//! compares). Charts are drawn by plotters' SVG backend; the positions of bars and lines are the only
//! floats here, and each chart has its numbers in a table beside it.

use crate::output::summary_json::{Dec, ExposureJson, Row, Summary, TallyJson};
use plotters::prelude::*;
use std::fmt::Write as _;

/// Escapes text for HTML (ids, labels and paths come from the inputs). Characters that hide or
/// reorder text (NUL and other controls, the bidi overrides such as U+202E) are shown as a visible
/// `\u{...}`, as in the CSVs.
pub(crate) fn esc(text: &str) -> String {
    let shown = crate::csvfmt::visible(text);
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A money figure as the page shows it: the exact text, grouped (`1,234,567.89`).
fn money(d: &Dec) -> String {
    crate::money::group_thousands(&d.0.to_string())
}

fn money_opt(d: &Option<Dec>) -> String {
    d.as_ref().map(money).unwrap_or_default()
}

fn count(n: u64) -> String {
    crate::money::group_thousands(&n.to_string())
}

/// A share (4 places) as a percent with two decimals, exactly: 0.2919 → 29.19%.
fn percent(d: &Option<Dec>) -> String {
    match d {
        Some(d) => format!("{:.2}%", d.0 * rust_decimal::Decimal::ONE_HUNDRED),
        None => String::new(),
    }
}

/// A float for drawing only (a bar's height), never for a figure shown as text.
fn draw(d: &Dec) -> f64 {
    d.0.to_string().parse().unwrap_or(0.0)
}

const STYLE: &str = "
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1d2733;
  margin: 2rem auto; max-width: 72rem; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
  border-bottom: 2px solid #2d6cdf; padding-bottom: 0.2rem; } h3 { font-size: 1rem; }
.sub { color: #5b6b7c; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.8rem; }
th, td { padding: 0.2rem 0.55rem; border-bottom: 1px solid #dde3ea; }
th { text-align: left; background: #f3f6fa; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #8a99aa; }
.headline { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: 0.6rem; }
.kpi { border: 1px solid #dde3ea; border-radius: 6px; padding: 0.5rem 0.7rem; }
.kpi .v { font-size: 1.25rem; font-weight: 600; } .kpi .l { color: #5b6b7c; font-size: 0.8rem; }
.note { background: #fff7e0; border-left: 4px solid #e0a800; padding: 0.4rem 0.7rem; font-size: 0.85rem; }
figure { margin: 0.5rem 0; } figcaption { font-size: 0.8rem; color: #5b6b7c; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
pre { font-size: 0.75rem; background: #f6f8fa; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; }
section, figure, table, .kpi { break-inside: avoid; }
@page { size: A4; margin: 12mm; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } }
";

/// A bar chart of `values` by `labels`, as an SVG element described by `table_id`.
fn bar_chart(title: &str, labels: &[String], values: &[f64], table_id: &str) -> String {
    // Labels come from the inputs: hidden characters are shown as in the tables (plotters escapes
    // markup, not these).
    let labels: Vec<String> = labels
        .iter()
        .map(|l| crate::csvfmt::visible(l).into_owned())
        .collect();
    let labels = &labels[..];
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        // Wide enough for every label side by side (scenario names run to 17 characters).
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as u32;
        let n = labels.len().max(1);
        let width = 460.max(90 + n as u32 * (7 * longest).max(40));
        let root = SVGBackend::with_string(&mut svg, (width, 240)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = values.iter().copied().fold(0.0, f64::max).max(1.0) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .x_labels(n)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|y| short_number(*y))
            .draw()?;
        // Rectangles in label order (plotters' Histogram groups through a hash map, so the SVG's
        // element order, and with it the file's bytes, would change from run to run).
        let bar = RGBColor(45, 108, 223).filled();
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                bar,
            );
            r.set_margin(0, 0, 6, 6);
            r
        }))?;
        root.present()?;
        Ok(())
    })();
    figure(svg, drawn.is_ok(), title, table_id)
}

/// A line chart of `values` by month.
fn line_chart(title: &str, values: &[f64], table_id: &str) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (620, 260)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = values.iter().copied().fold(0.0, f64::max).max(1.0) * 1.1;
        let last = values.len().saturating_sub(1).max(1) as u32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(0..last, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("months from as_of")
            .max_light_lines(1)
            .y_label_formatter(&|y| short_number(*y))
            .draw()?;
        chart.draw_series(LineSeries::new(
            values.iter().enumerate().map(|(k, v)| (k as u32, *v)),
            RGBColor(200, 60, 60).stroke_width(2),
        ))?;
        root.present()?;
        Ok(())
    })();
    figure(svg, drawn.is_ok(), title, table_id)
}

/// A chart in a figure that points at its table; a chart that could not be drawn is left out (the
/// table carries the numbers either way).
fn figure(svg: String, drawn: bool, title: &str, table_id: &str) -> String {
    if !drawn {
        return String::new();
    }
    format!(
        "<figure role=\"img\" aria-label=\"{t}\" aria-describedby=\"{table_id}\">{svg}\
         <figcaption>{t}: the numbers are in the table below.</figcaption></figure>",
        t = esc(title)
    )
}

/// Axis labels: 1.2M, 350k.
fn short_number(x: f64) -> String {
    match x.abs() {
        a if a >= 1e9 => format!("{:.1}B", x / 1e9),
        a if a >= 1e6 => format!("{:.1}M", x / 1e6),
        a if a >= 1e4 => format!("{:.0}k", x / 1e3),
        a if a >= 1e3 => format!("{:.1}k", x / 1e3),
        _ => format!("{x:.0}"),
    }
}

fn cells(out: &mut String, cells: &[String], numeric_from: usize) {
    row(out, "", cells, numeric_from);
}

/// A table row; `class` is the row's own (`total`), empty for none.
fn row(out: &mut String, class: &str, cells: &[String], numeric_from: usize) {
    match class {
        "" => out.push_str("<tr>"),
        c => {
            let _ = write!(out, "<tr class=\"{c}\">");
        }
    }
    for (i, c) in cells.iter().enumerate() {
        let class = if i >= numeric_from {
            " class=\"n\""
        } else {
            ""
        };
        let _ = write!(out, "<td{class}>{c}</td>");
    }
    out.push_str("</tr>");
}

fn header(out: &mut String, id: &str, names: &[&str]) {
    let _ = write!(out, "<table id=\"{id}\"><thead><tr>");
    for n in names {
        let _ = write!(out, "<th>{}</th>", esc(n));
    }
    out.push_str("</tr></thead><tbody>");
}

/// A summary table: label, accounts, balance, value, underwater accounts, share, negative equity,
/// deficiency, expected deficiency, estimated values.
fn tally_table(out: &mut String, id: &str, dimension: &str, rows: &[(String, &TallyJson)]) {
    header(
        out,
        id,
        &[
            dimension,
            "accounts",
            "balance",
            "value",
            "underwater",
            "share underwater",
            "negative equity",
            "deficiency if default",
            "expected deficiency",
            "estimated values",
        ],
    );
    for (label, t) in rows {
        let total = label == crate::book::summarize::TOTAL;
        let values = [
            esc(label),
            count(t.accounts),
            money(&t.balance),
            money(&t.value),
            count(t.underwater_accounts),
            percent(&t.share_underwater),
            money(&t.negative_equity),
            money(&t.deficiency_if_default),
            money(&t.expected_deficiency),
            count(t.estimated_value_accounts),
        ];
        row(out, if total { "total" } else { "" }, &values, 1);
    }
    out.push_str("</tbody></table>");
}

fn labelled<'a>(rows: &'a [Row], dimension: &str) -> Vec<(String, &'a TallyJson)> {
    rows.iter()
        .map(|r| {
            (
                r.label.get(dimension).cloned().unwrap_or_default(),
                &r.totals,
            )
        })
        .collect()
}

fn kpi(out: &mut String, label: &str, value: &str) {
    let _ = write!(
        out,
        "<div class=\"kpi\"><div class=\"v\">{value}</div><div class=\"l\">{}</div></div>",
        esc(label)
    );
}

fn exposure_table(out: &mut String, id: &str, list: &[ExposureJson]) {
    header(
        out,
        id,
        &[
            "account",
            "balance",
            "value",
            "LTV band",
            "negative equity",
            "expected deficiency",
            "days past due",
        ],
    );
    for e in list {
        let value = match (&e.value, e.estimated) {
            (Some(v), true) => format!("{} (estimate)", money(v)),
            (v, _) => money_opt(v),
        };
        cells(
            out,
            &[
                esc(&e.account_id),
                money(&e.balance),
                value,
                esc(&e.ltv_bucket),
                money_opt(&e.negative_equity),
                money(&e.expected_deficiency),
                e.days_past_due.to_string(),
            ],
            1,
        );
    }
    out.push_str("</tbody></table>");
}

/// The whole page.
pub fn report_html(s: &Summary) -> String {
    let mut out = String::with_capacity(200_000);
    let m = &s.manifest;
    let t = &s.portfolio.totals;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Auto-loan book risk report, as of {as_of}</title><style>{STYLE}</style></head><body>\
         <h1>Auto-loan book risk report</h1><p class=\"sub\">As of <strong>{as_of}</strong> · {} accounts · \
         written by {} {}</p>",
        count(t.accounts),
        esc(&m.program),
        esc(&m.version),
        as_of = esc(&m.as_of),
    );

    // Headline.
    out.push_str("<section><h2>Headline</h2><div class=\"headline\">");
    kpi(&mut out, "accounts", &count(t.accounts));
    kpi(&mut out, "balance", &money(&t.balance));
    kpi(&mut out, "valued open accounts", &count(t.valued_accounts));
    kpi(
        &mut out,
        "closed accounts (balance 0)",
        &count(t.closed_accounts),
    );
    kpi(
        &mut out,
        "underwater accounts",
        &count(t.underwater_accounts),
    );
    kpi(
        &mut out,
        "share underwater (of valued open accounts)",
        &percent(&t.share_underwater),
    );
    kpi(&mut out, "negative equity", &money(&t.negative_equity));
    kpi(
        &mut out,
        "deficiency if default",
        &money(&t.deficiency_if_default),
    );
    kpi(
        &mut out,
        "expected deficiency",
        &money(&t.expected_deficiency),
    );
    out.push_str("</div>");
    if t.estimated_value_accounts > 0 {
        let _ = write!(
            out,
            "<p class=\"note\">{} accounts ({} of balance) are valued by <strong>estimate</strong> (a \
             depreciation curve from the value at origination), not by appraisal; {} of them are \
             underwater.</p>",
            count(t.estimated_value_accounts),
            money(&t.estimated_value_balance),
            count(t.estimated_underwater_accounts),
        );
    }
    if let Some(c) = &s.changes {
        let _ = write!(
            out,
            "<h3>Since the previous run (as of {})</h3><p>{} new accounts, {} closed, {} continuing; {} \
             moved to a higher LTV band, {} to a lower one.</p>",
            esc(&c.previous_as_of),
            count(c.new_accounts),
            count(c.closed_accounts),
            count(c.continuing_accounts),
            count(c.ltv_band_up),
            count(c.ltv_band_down),
        );
        header(&mut out, "bridge", &["negative equity bridge", "amount"]);
        for (line, v) in &c.negative_equity_bridge {
            cells(&mut out, &[esc(line), money(v)], 1);
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    // LTV distribution.
    let ltv = labelled(&s.tables.ltv_bucket, "ltv_bucket");
    let bands: Vec<&(String, &TallyJson)> = ltv
        .iter()
        .filter(|(l, _)| l != crate::book::summarize::TOTAL)
        .collect();
    let labels: Vec<String> = bands.iter().map(|(l, _)| l.clone()).collect();
    out.push_str("<section><h2>LTV distribution</h2><div class=\"charts\">");
    out.push_str(&bar_chart(
        "Accounts by LTV band",
        &labels,
        &bands
            .iter()
            .map(|(_, t)| t.accounts as f64)
            .collect::<Vec<_>>(),
        "ltv",
    ));
    out.push_str(&bar_chart(
        "Balance by LTV band",
        &labels,
        &bands
            .iter()
            .map(|(_, t)| draw(&t.balance))
            .collect::<Vec<_>>(),
        "ltv",
    ));
    out.push_str("</div>");
    tally_table(&mut out, "ltv", "LTV band", &ltv);
    out.push_str("</section>");

    // Segments.
    out.push_str("<section><h2>Segments</h2>");
    for (name, rows) in &s.tables.segments {
        let rows = labelled(rows, name);
        let groups: Vec<&(String, &TallyJson)> = rows
            .iter()
            .filter(|(l, _)| l != crate::book::summarize::TOTAL)
            .collect();
        let id = format!("seg-{}", crate::input::schema::segment_file_part(name));
        let _ = write!(out, "<h3>By {}</h3>", esc(name));
        if groups.len() <= 30 {
            out.push_str(&bar_chart(
                &format!("Negative equity by {name}"),
                &groups.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
                &groups
                    .iter()
                    .map(|(_, t)| draw(&t.negative_equity))
                    .collect::<Vec<_>>(),
                &id,
            ));
        }
        tally_table(&mut out, &id, name, &rows);
    }
    out.push_str("</section>");

    // Migration heat map.
    let mig = &s.tables.ltv_migration;
    let most = mig
        .accounts
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    out.push_str(
        "<section><h2>LTV migration: origination band → current band</h2>\
         <p class=\"sub\">Accounts per cell; the darker the cell, the more accounts.</p>",
    );
    let mut names = vec!["origination \\ current"];
    names.extend(mig.columns_current_ltv_bucket.iter().map(String::as_str));
    header(&mut out, "migration", &names);
    for (r, from) in mig.rows_origination_ltv_bucket.iter().enumerate() {
        let _ = write!(out, "<tr><th>{}</th>", esc(from));
        for n in mig.accounts.get(r).into_iter().flatten() {
            // Shade only: the cell's number is its text.
            let alpha = (*n as f64 / most as f64 * 0.85).min(0.85);
            let ink = if alpha > 0.45 { "#fff" } else { "#1d2733" };
            let _ = write!(
                out,
                "<td class=\"n\" style=\"background: rgba(45,108,223,{alpha:.3}); color: {ink}\">{}</td>",
                count(*n)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");

    // Scenarios.
    if !s.scenarios.is_empty() {
        out.push_str("<section><h2>Stress scenarios</h2>");
        let mut labels = vec!["base".to_string()];
        labels.extend(s.scenarios.iter().map(|x| x.name.clone()));
        let mut ne = vec![draw(&t.negative_equity)];
        ne.extend(s.scenarios.iter().map(|x| draw(&x.totals.negative_equity)));
        out.push_str(&bar_chart(
            "Negative equity by scenario",
            &labels,
            &ne,
            "scenarios",
        ));
        header(
            &mut out,
            "scenarios",
            &[
                "scenario",
                "values",
                "recovery",
                "pd ×",
                "underwater",
                "negative equity",
                "deficiency if default",
                "expected deficiency",
            ],
        );
        let pct = |d: &Dec| {
            format!(
                "{:+}%",
                (d.0 * rust_decimal::Decimal::ONE_HUNDRED).normalize()
            )
        };
        cells(
            &mut out,
            &[
                "base".into(),
                String::new(),
                String::new(),
                String::new(),
                count(t.underwater_accounts),
                money(&t.negative_equity),
                money(&t.deficiency_if_default),
                money(&t.expected_deficiency),
            ],
            4,
        );
        for x in &s.scenarios {
            cells(
                &mut out,
                &[
                    esc(&x.name),
                    pct(&x.value_change),
                    pct(&x.recovery_rate_change),
                    x.pd_multiplier.0.normalize().to_string(),
                    count(x.totals.underwater_accounts),
                    money(&x.totals.negative_equity),
                    money(&x.totals.deficiency_if_default),
                    money(&x.totals.expected_deficiency),
                ],
                4,
            );
        }
        out.push_str("</tbody></table></section>");
    }

    // Run-off.
    if let Some(r) = &s.runoff {
        out.push_str("<section><h2>Negative-equity run-off</h2>");
        let ne: Vec<f64> = r
            .by_month
            .iter()
            .map(|m| draw(&m.negative_equity))
            .collect();
        out.push_str(&line_chart("Negative equity by month", &ne, "runoff"));
        if let Some(median) = r.median_months_to_positive_equity {
            let _ = write!(
                out,
                "<p>Accounts underwater tonight come back above water after a median of {median} \
                 months on their payment schedules.</p>"
            );
        }
        header(
            &mut out,
            "runoff",
            &[
                "month",
                "date",
                "open accounts",
                "balance",
                "value",
                "underwater",
                "negative equity",
            ],
        );
        for m in r.by_month.iter().filter(|m| m.month % 6 == 0) {
            cells(
                &mut out,
                &[
                    m.month.to_string(),
                    esc(&m.date),
                    count(m.open_accounts),
                    money(&m.balance),
                    money(&m.value),
                    count(m.underwater_accounts),
                    money(&m.negative_equity),
                ],
                2,
            );
        }
        out.push_str(
            "</tbody></table><p class=\"sub\">Every sixth month; all months are in \
                      summary_runoff.csv.</p></section>",
        );
    }

    // Top exposures.
    out.push_str(
        "<section><h2>Largest exposures</h2><h3>Expected deficiency, valued accounts</h3>",
    );
    exposure_table(&mut out, "top-ed", &s.top_exposures.expected_deficiency);
    out.push_str("<h3>Balance without a value</h3>");
    exposure_table(&mut out, "top-unvalued", &s.top_exposures.unvalued_balance);
    out.push_str("</section>");

    // Data quality.
    let q = &s.data_quality;
    out.push_str("<section><h2>Data quality</h2>");
    header(
        &mut out,
        "quality",
        &["input", "rows read", "accepted", "rejected", "top reasons"],
    );
    let reasons = |m: &std::collections::BTreeMap<String, u64>| {
        let mut v: Vec<(&String, &u64)> = m.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1));
        v.iter()
            .take(3)
            .map(|(f, n)| format!("{} ({})", esc(f), count(**n)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    cells(
        &mut out,
        &[
            "loans".into(),
            count(q.loans.rows_read),
            count(q.loans.rows_accepted),
            count(q.loans.rows_rejected),
            reasons(&q.loans.rejects_by_field),
        ],
        1,
    );
    if let Some(v) = &q.valuations {
        cells(
            &mut out,
            &[
                "valuations".into(),
                count(v.rows_read),
                count(v.rows_accepted),
                count(v.rows_rejected),
                reasons(&v.rejects_by_field),
            ],
            1,
        );
    }
    out.push_str("</tbody></table>");
    let _ = write!(
        out,
        "<p>Accounts without a value: {}. Values estimated: {} ({} of balance). Valuation age at as_of: \
         {} within 30 days, {} 31–90, {} 91–180, {} older.</p>",
        count(q.accounts_without_value),
        count(q.estimates.accounts_estimated),
        money(&q.estimates.balance_estimated),
        count(q.valuation_age_days.days_0_30),
        count(q.valuation_age_days.days_31_90),
        count(q.valuation_age_days.days_91_180),
        count(q.valuation_age_days.days_over_180),
    );
    if let Some(st) = &q.stale_valuations {
        let _ = write!(
            out,
            "<p class=\"note\">{} accounts have a valuation older than {} days.</p>",
            count(st.accounts),
            st.older_than_days
        );
    }
    out.push_str("</section>");

    // Manifest.
    out.push_str("<section><h2>Manifest</h2>");
    header(&mut out, "inputs", &["input", "path", "bytes", "sha256"]);
    let inputs = [
        Some(("loans", &m.inputs.loans)),
        m.inputs.valuations.as_ref().map(|v| ("valuations", v)),
    ];
    for (name, i) in inputs.into_iter().flatten() {
        cells(
            &mut out,
            &[name.into(), esc(&i.path), count(i.bytes), esc(&i.sha256)],
            2,
        );
    }
    out.push_str("</tbody></table>");
    let config = serde_json::to_string_pretty(&m.config).unwrap_or_default();
    let _ = writeln!(
        out,
        "<h3>Config</h3><pre>{}</pre><p class=\"sub\">{} {} · as of {} ({})</p></section></body></html>",
        esc(&config),
        esc(&m.program),
        esc(&m.version),
        esc(&m.as_of),
        esc(&m.as_of_source),
    );
    out
}
