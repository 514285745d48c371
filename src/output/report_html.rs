//! report.html: the run for people who read rather than parse — one self-contained page (inline CSS and
//! SVG, nothing fetched, no script), printable, from summary.json alone, so `underwater report --run DIR`
//! rebuilds it from a finished run without recomputing anything.
//!
//! Every figure on the page is the text of a figure in summary.json (a test reads the page back and
//! compares). Charts are drawn by plotters' SVG backend; the positions of bars and lines are the only
//! floats here, and each chart has its numbers in a table beside it.

use crate::output::html::{bar_chart, esc, line_chart};
use crate::output::summary_json::{Dec, ExposureJson, Row, Summary, TallyJson};
use std::fmt::Write as _;

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
        let total = label == crate::book::segments::TOTAL;
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
        as_of = esc(&m.record.as_of),
    );
    headline(&mut out, s);
    ltv_section(&mut out, s);
    segments_section(&mut out, s);
    migration_section(&mut out, s);
    scenarios_section(&mut out, s);
    runoff_section(&mut out, s);
    lifetime_section(&mut out, s);
    exposures_section(&mut out, s);
    quality_section(&mut out, s);
    manifest_section(&mut out, s);
    out
}

/// The headline figures, the estimates note and the bridge from the previous run.
fn headline(out: &mut String, s: &Summary) {
    let t = &s.portfolio.totals;
    out.push_str("<section><h2>Headline</h2><div class=\"headline\">");
    kpi(out, "accounts", &count(t.accounts));
    kpi(out, "balance", &money(&t.balance));
    kpi(out, "valued open accounts", &count(t.valued_accounts));
    kpi(
        out,
        "closed accounts (balance 0)",
        &count(t.closed_accounts),
    );
    kpi(out, "underwater accounts", &count(t.underwater_accounts));
    kpi(
        out,
        "share underwater (of valued open accounts)",
        &percent(&t.share_underwater),
    );
    kpi(out, "negative equity", &money(&t.negative_equity));
    kpi(
        out,
        "deficiency if default",
        &money(&t.deficiency_if_default),
    );
    kpi(out, "expected deficiency", &money(&t.expected_deficiency));
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
        header(out, "bridge", &["negative equity bridge", "amount"]);
        for (line, v) in &c.negative_equity_bridge {
            cells(out, &[esc(line), money(v)], 1);
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}

/// Accounts and balance by LTV band.
fn ltv_section(out: &mut String, s: &Summary) {
    let ltv = labelled(&s.tables.ltv_bucket, "ltv_bucket");
    let bands: Vec<&(String, &TallyJson)> = ltv
        .iter()
        .filter(|(l, _)| l != crate::book::segments::TOTAL)
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
    tally_table(out, "ltv", "LTV band", &ltv);
    out.push_str("</section>");
}

/// Negative equity by every segment.
fn segments_section(out: &mut String, s: &Summary) {
    out.push_str("<section><h2>Segments</h2>");
    for (name, rows) in &s.tables.segments {
        let rows = labelled(rows, name);
        let groups: Vec<&(String, &TallyJson)> = rows
            .iter()
            .filter(|(l, _)| l != crate::book::segments::TOTAL)
            .collect();
        let id = format!("seg-{}", crate::columns::segment_file_part(name));
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
        tally_table(out, &id, name, &rows);
    }
    out.push_str("</section>");
}

/// The origination → current LTV band heat map.
fn migration_section(out: &mut String, s: &Summary) {
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
    header(out, "migration", &names);
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
}

/// The stress scenarios beside the base.
fn scenarios_section(out: &mut String, s: &Summary) {
    let t = &s.portfolio.totals;
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
        let lifetime = t.lifetime_expected_deficiency.is_some();
        let mut names = vec![
            "scenario",
            "values",
            "recovery",
            "pd ×",
            "underwater",
            "negative equity",
            "deficiency if default",
            "expected deficiency",
        ];
        if lifetime {
            names.push("lifetime expected loss");
        }
        header(out, "scenarios", &names);
        let pct = |d: &Dec| {
            format!(
                "{:+}%",
                (d.0 * rust_decimal::Decimal::ONE_HUNDRED).normalize()
            )
        };
        let figures = |t: &TallyJson| {
            let mut c = vec![
                count(t.underwater_accounts),
                money(&t.negative_equity),
                money(&t.deficiency_if_default),
                money(&t.expected_deficiency),
            ];
            c.extend(t.lifetime_expected_deficiency.as_ref().map(money));
            c
        };
        let mut base = vec!["base".into(), String::new(), String::new(), String::new()];
        base.extend(figures(t));
        cells(out, &base, 4);
        for x in &s.scenarios {
            let mut row = vec![
                esc(&x.name),
                pct(&x.value_change),
                pct(&x.recovery_rate_change),
                x.pd_multiplier.0.normalize().to_string(),
            ];
            row.extend(figures(&x.totals));
            cells(out, &row, 4);
        }
        out.push_str("</tbody></table></section>");
    }
}

/// The negative-equity run-off.
fn runoff_section(out: &mut String, s: &Summary) {
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
            out,
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
                out,
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
}

/// The lifetime expected loss: the cumulative curve and every sixth month.
fn lifetime_section(out: &mut String, s: &Summary) {
    let Some(l) = &s.lifetime else { return };
    out.push_str("<section><h2>Lifetime expected loss</h2>");
    // Month 0 (tonight) has lost nothing yet, so the x axis reads as months from as_of.
    let cumulative: Vec<f64> = std::iter::once(0.0)
        .chain(l.by_month.iter().map(|m| draw(&m.cumulative_loss)))
        .collect();
    out.push_str(&line_chart(
        "Cumulative expected loss by month",
        &cumulative,
        "lifetime",
    ));
    let _ = write!(
        out,
        "<p>Lifetime expected loss (the allowance) {} over {} accounts; {} in the first 12 \
         months.</p>",
        money(&l.lifetime_expected_deficiency),
        count(l.accounts),
        money(&l.expected_deficiency_12m),
    );
    header(
        out,
        "lifetime",
        &["month", "date", "expected loss", "cumulative loss"],
    );
    for m in l.by_month.iter().filter(|m| m.month % 6 == 0) {
        cells(
            out,
            &[
                m.month.to_string(),
                esc(&m.date),
                money(&m.expected_loss),
                money(&m.cumulative_loss),
            ],
            2,
        );
    }
    out.push_str(
        "</tbody></table><p class=\"sub\">Every sixth month; all months are in \
         summary_loss_curve.csv.</p></section>",
    );
}

/// The largest exposures.
fn exposures_section(out: &mut String, s: &Summary) {
    out.push_str(
        "<section><h2>Largest exposures</h2><h3>Expected deficiency, valued accounts</h3>",
    );
    exposure_table(out, "top-ed", &s.top_exposures.expected_deficiency);
    out.push_str("<h3>Balance without a value</h3>");
    exposure_table(out, "top-unvalued", &s.top_exposures.unvalued_balance);
    out.push_str("</section>");
}

/// Rows read, accepted and rejected, missing and stale values.
fn quality_section(out: &mut String, s: &Summary) {
    let q = &s.data_quality;
    out.push_str("<section><h2>Data quality</h2>");
    header(
        out,
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
        out,
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
            out,
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
}

/// The inputs, the config and the version.
fn manifest_section(out: &mut String, s: &Summary) {
    let m = &s.manifest;
    out.push_str("<section><h2>Manifest</h2>");
    header(out, "inputs", &["input", "path", "bytes", "sha256"]);
    let inputs = [
        Some(("loans", &m.record.inputs.loans)),
        m.record
            .inputs
            .valuations
            .as_ref()
            .map(|v| ("valuations", v)),
    ];
    for (name, i) in inputs.into_iter().flatten() {
        cells(
            out,
            &[name.into(), esc(&i.path), count(i.bytes), esc(&i.sha256)],
            2,
        );
    }
    out.push_str("</tbody></table>");
    let config = serde_json::to_string_pretty(&m.record.config).unwrap_or_default();
    let _ = writeln!(
        out,
        "<h3>Config</h3><pre>{}</pre><p class=\"sub\">{} {} · as of {} ({})</p></section></body></html>",
        esc(&config),
        esc(&m.program),
        esc(&m.version),
        esc(&m.record.as_of),
        esc(&m.record.as_of_source),
    );
}
