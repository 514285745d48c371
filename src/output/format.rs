//! How the outputs write a figure as text, in one place: money at two places, an optional ratio, a
//! float at full precision. (The page's grouped money, `1,234,567.89`, is presentation: report_html.)

use rust_decimal::Decimal;

/// Money at two places, exactly: rounded once to cents (half to even), `-0.00` never written.
pub fn money(d: Decimal) -> String {
    crate::money::cents(d).to_string()
}

/// An optional exact figure (a ratio, a rate) as written; empty when there is none.
pub fn opt(d: Option<Decimal>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// An optional float at full precision (the shortest text that reads back as the same float).
pub fn float(f: Option<f64>) -> String {
    f.map(|f| f.to_string()).unwrap_or_default()
}
