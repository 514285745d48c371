//! HTML building blocks of the reports: escaping text from the inputs, and the SVG charts (drawn by
//! plotters' SVG backend; the positions of bars and lines are the only floats, and each chart points at
//! the table that carries its numbers).

use plotters::prelude::*;

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

/// A bar chart of `values` by `labels`, as an SVG element described by `table_id`.
pub(crate) fn bar_chart(title: &str, labels: &[String], values: &[f64], table_id: &str) -> String {
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
pub(crate) fn line_chart(title: &str, values: &[f64], table_id: &str) -> String {
    lines_chart(title, &[("", values)], table_id)
}

/// The series' colours, in order: the first is the one-line chart's.
const SERIES: [RGBColor; 2] = [RGBColor(200, 60, 60), RGBColor(45, 108, 223)];

/// A line chart of several `(label, values)` series by month, with a legend when they are labelled.
pub(crate) fn lines_chart(title: &str, series: &[(&str, &[f64])], table_id: &str) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (620, 260)).into_drawing_area();
        root.fill(&WHITE)?;
        let all = || series.iter().flat_map(|(_, v)| v.iter().copied());
        let top = all().fold(0.0, f64::max).max(1.0) * 1.1;
        let longest = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        let last = longest.saturating_sub(1).max(1) as u32;
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
        for (i, (label, values)) in series.iter().enumerate() {
            let colour = SERIES[i % SERIES.len()];
            let line = chart.draw_series(LineSeries::new(
                values.iter().enumerate().map(|(k, v)| (k as u32, *v)),
                colour.stroke_width(2),
            ))?;
            if !label.is_empty() {
                line.label(*label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            }
        }
        if series.iter().any(|(label, _)| !label.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
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
