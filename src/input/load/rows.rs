//! Rows into typed structs: each loan and valuation row parsed into a [`Loan`] or a valuation, or
//! turned into a [`Reject`] naming its line, field and reason.

use super::*;

fn text<'a>(row: &Row<'a>, col: usize, name: &'static str) -> Result<&'a str, Problem> {
    let bytes = row.get(col).unwrap_or_default();
    let text = if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8. (Most fields are short ASCII; the full check cost 5% of a run.)
        unsafe { std::str::from_utf8_unchecked(bytes) }
    } else {
        std::str::from_utf8(bytes).map_err(|_| (name, "not valid UTF-8 text".to_string()))?
    };
    let padded = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    if padded(bytes.first()) || padded(bytes.last()) {
        Ok(text.trim_matches(|c: char| c == ' ' || c == '\t'))
    } else {
        Ok(text)
    }
}

fn required<'a>(
    row: &Row<'a>,
    col: usize,
    name: &'static str,
    conventions: &Conventions,
) -> Result<&'a str, Problem> {
    let t = text(row, col, name)?;
    if t.is_empty() {
        Err((name, "required value is empty".into()))
    } else if conventions.is_missing(t) {
        Err((name, format!("required value is missing (`{t}`)")))
    } else {
        Ok(t)
    }
}

fn amount(t: &str, name: &'static str) -> Result<Decimal, Problem> {
    parse_amount(t).map_err(|e| match e {
        AmountError::Empty => (name, "required value is empty".to_string()),
        e => (name, format!("{e}: `{t}`")),
    })
}

/// A tape's interest rate: a fraction, often written through a binary float by the filer's tools
/// (`0.053900000000000003`). A rate is not money, so it is rounded to 6 places (0.0001%): the float
/// noise goes, every real rate stays exact.
fn tape_rate(t: &str) -> Result<Decimal, Problem> {
    use std::str::FromStr;
    Decimal::from_str(t)
        .map(|v| v.round_dp(6).normalize())
        .map_err(|_| {
            (
                "apr",
                format!("not a rate (a fraction such as 0.0539): `{t}`"),
            )
        })
}

fn count(t: &str, name: &'static str) -> Result<u32, Problem> {
    let digits = t.trim();
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // A whole number, but past what any count here can be: say so, not "not a number".
        return parse_count(t)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| (name, format!("out of range (at most {}): `{t}`", u32::MAX)));
    }
    Err((name, format!("not a whole number >= 0: `{t}`")))
}

fn optional<'a>(
    row: &Row<'a>,
    col: Option<usize>,
    name: &'static str,
    conventions: &Conventions,
) -> Result<Option<&'a str>, Problem> {
    match col {
        None => Ok(None),
        Some(c) => text(row, c, name).map(|t| (!conventions.is_missing(t)).then_some(t)),
    }
}

fn field_count_problem(row: &Row<'_>, width: usize) -> Option<Problem> {
    (row.len() != width).then(|| {
        (
            "",
            format!(
                "expected {width} fields as in the header, found {}",
                row.len()
            ),
        )
    })
}

/// What rejects.csv quotes at most of a raw record (the reason: [`crate::csvfmt::MAX_REASON_BYTES`]).
const MAX_RAW_BYTES: usize = 4096;

fn reject(input: InputKind, row: &Row<'_>, (field, reason): Problem) -> Reject {
    Reject {
        input,
        line: row.line,
        field: field.to_string(),
        reason: crate::csvfmt::shortened(&reason, crate::csvfmt::MAX_REASON_BYTES).into_owned(),
        raw: quoted_raw(&row.raw()),
    }
}

/// The raw record as rejects.csv quotes it: whole up to [`MAX_RAW_BYTES`], else cut there (at a
/// character boundary) with the count of bytes left out.
fn quoted_raw(raw: &[u8]) -> String {
    if raw.len() <= MAX_RAW_BYTES {
        return String::from_utf8_lossy(raw).into_owned();
    }
    let mut end = MAX_RAW_BYTES;
    while end > 0 && raw[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    format!(
        "{}… ({} more bytes not shown)",
        String::from_utf8_lossy(&raw[..end]),
        raw.len() - end
    )
}

/// Digits with at most one inner `.` and no leading zero (`0.0563`, `19000.00`, `84`): the text a parsed
/// amount or count writes back unchanged, and that `push_text` would not touch either. (A count column
/// holding `84.0` fails to parse and is echoed as text: unchanged too.)
fn is_canonical_number(t: &str) -> bool {
    let b = t.as_bytes();
    let int_len = b.iter().position(|&c| c == b'.').unwrap_or(b.len());
    let frac = &b[int_len..];
    int_len > 0
        && int_len <= 18
        && (int_len == 1 || b[0] != b'0')
        && b[..int_len].iter().all(u8::is_ascii_digit)
        // Up to the places `parse_amount` keeps: it drops zeros beyond them (`1.230000` is `1.2300`).
        && (frac.is_empty()
            || (frac.len() > 1
                && frac.len() <= 1 + crate::money::MAX_DECIMAL_PLACES as usize
                && frac[1..].iter().all(u8::is_ascii_digit)))
}

/// Parses one chunk of the loans file.
pub fn parse_loans(chunk: &Chunk, layout: &LoanLayout) -> LoanBatch {
    // Sized once from the chunk's line count (an upper bound on its rows): growing by doubling copied
    // each chunk's loans about once more (1.6% of a run's CPU time, in `realloc`).
    let mut batch = LoanBatch {
        loans: Vec::with_capacity(chunk.records_bound()),
        ..LoanBatch::default()
    };
    let mut scratch = String::new();
    let mut bad = Vec::new();
    chunk.for_each_row(|row| {
        batch.rows += 1;
        bad.clear();
        match parse_loan(&row, layout, &mut scratch, &mut bad) {
            Ok(loan) => {
                for field in &bad {
                    batch.unreadable.note(field, row.line);
                }
                batch.loans.push(loan)
            }
            Err((field, reason)) => {
                let field = label(&layout.columns, field);
                let id = row
                    .get(layout.account_id)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Box::from);
                let mut r = reject(InputKind::Loans, &row, ("", reason));
                r.field = field;
                batch.rejects.push((id, r));
            }
        }
    });
    batch
}

/// An optional field parsed by `parse`: None when it is missing, and when it cannot be read, which is
/// noted in `bad`.
fn optional_noted<T>(
    row: &Row<'_>,
    (col, name): (Option<usize>, &'static str),
    conventions: &Conventions,
    bad: &mut Vec<&'static str>,
    parse: impl FnOnce(&str) -> Result<T, Problem>,
) -> Option<T> {
    optional(row, col, name, conventions)
        .and_then(|t| t.map(parse).transpose())
        .unwrap_or_else(|(field, _)| {
            bad.push(field);
            None
        })
}

/// Parses one row; `scratch` is a buffer reused across rows for the echoed columns, `bad` receives the
/// optional fields that could not be read.
fn parse_loan(
    row: &Row<'_>,
    l: &LoanLayout,
    scratch: &mut String,
    bad: &mut Vec<&'static str>,
) -> Result<Loan, Problem> {
    check_row(row, l)?;
    let key = KeyFields::parse(row, l)?;
    let terms = OptionalTerms::parse(row, l, bad);
    push_carried_columns(row, l, scratch)?;
    let vin: std::borrow::Cow<'_, str> = if key.vin.bytes().any(|b| b.is_ascii_lowercase()) {
        key.vin.to_ascii_uppercase().into()
    } else {
        key.vin.into()
    };
    let mut parts: Vec<&str> = Vec::with_capacity(3 + l.segment_columns.len());
    parts.extend([key.account_id, &*vin]);
    for col in &l.segment_columns {
        parts.push(match col {
            // new/used reads the same whichever way the file codes it.
            // Missing or unreadable, it is the `unknown` segment (its raw text is still echoed).
            Some(c) if Some(*c) == l.new_used => terms.new_used.map_or("", NewUsed::label),
            Some(c) => match text(row, *c, "a segment column")? {
                t if l.conventions.is_missing(t) => "",
                t => t,
            },
            None => "",
        });
    }
    parts.push(scratch.as_str());
    Ok(Loan {
        line: row.line,
        origination_date: key.origination_date,
        term_months: key.term_months,
        amount_financed: key.amount_financed,
        origination_value: terms.origination_value.into(),
        new_used: terms.new_used,
        balance: key.balance,
        days_past_due: key.days_past_due,
        credit_score: terms.credit_score,
        apr: terms.apr.into(),
        monthly_payment: terms.monthly_payment.into(),
        text: LoanText::new(&parts),
    })
}

/// The row as a whole: its field count, its length, and (on a tape) its reporting period.
fn check_row(row: &Row<'_>, l: &LoanLayout) -> Result<(), Problem> {
    if let Some(p) = field_count_problem(row, l.width) {
        return Err(p);
    }
    if row.raw_len() > MAX_ROW_BYTES {
        return Err(("", format!("row longer than {MAX_ROW_BYTES} bytes")));
    }
    let d = &l.conventions;
    if let Some((col, period)) = l.period {
        let t = required(row, col, PERIOD, d)?;
        match d.parse_date(t) {
            Some(date) if date == period => {}
            Some(_) => {
                return Err((
                    PERIOD,
                    format!(
                        "row of reporting period `{t}`, but this run is the tape's period {period} \
                         (its first row); run one period at a time"
                    ),
                ))
            }
            None => return Err((PERIOD, format!("not a date: `{t}` ({})", d.date_hint()))),
        }
    }
    Ok(())
}

/// The fields a loan cannot be figured without: one that is missing or cannot be read rejects the row.
struct KeyFields<'a> {
    account_id: &'a str,
    vin: &'a str,
    origination_date: Date,
    amount_financed: Decimal,
    term_months: u32,
    balance: Decimal,
    days_past_due: u32,
}

impl<'a> KeyFields<'a> {
    fn parse(row: &Row<'a>, l: &LoanLayout) -> Result<Self, Problem> {
        let d = &l.conventions;
        let account_id = required(row, l.account_id, "account_id", d)?;
        let vin = match l.vin {
            Some(col) => required(row, col, "vin", d)?,
            None => "",
        };
        let date_text = required(row, l.origination_date, "origination_date", d)?;
        let origination_date = d.parse_date(date_text).ok_or_else(|| {
            (
                "origination_date",
                format!("not a date: `{date_text}` ({})", d.date_hint()),
            )
        })?;
        if let Some(as_of) = l.as_of.filter(|&as_of| origination_date > as_of) {
            return Err((
                "origination_date",
                format!(
                    "after as_of {as_of}: `{date_text}` (a loan not yet made is not in the book)"
                ),
            ));
        }
        let amount_financed = amount(
            required(row, l.amount_financed, "amount_financed", d)?,
            "amount_financed",
        )?;
        if amount_financed < Decimal::ZERO {
            return Err(("amount_financed", format!("negative: `{amount_financed}`")));
        }
        let term_months = count(
            required(row, l.term_months, "term_months", d)?,
            "term_months",
        )?;
        if term_months == 0 {
            return Err(("term_months", "must be at least 1".into()));
        }
        let balance = amount(
            required(row, l.current_balance, "current_balance", d)?,
            "current_balance",
        )?;
        if balance < Decimal::ZERO {
            return Err(("current_balance", format!("negative balance: `{balance}`")));
        }
        // Days past due set the probability of default, a figure: a value that cannot be read rejects
        // the row rather than pass as current.
        let days_past_due = match optional(row, l.days_past_due, "days_past_due", d)? {
            None => 0,
            Some(t) => count(t, "days_past_due")?,
        };
        Ok(KeyFields {
            account_id,
            vin,
            origination_date,
            amount_financed,
            term_months,
            balance,
            days_past_due,
        })
    }
}

/// The optional fields: a value that cannot be read counts as missing and is noted in `bad`; the row
/// stays in the book, because its balance is exposure whatever its score or rate says.
struct OptionalTerms {
    apr: Option<Decimal>,
    monthly_payment: Option<Decimal>,
    origination_value: Option<Decimal>,
    credit_score: Option<u32>,
    new_used: Option<NewUsed>,
}

impl OptionalTerms {
    fn parse(row: &Row<'_>, l: &LoanLayout, bad: &mut Vec<&'static str>) -> Self {
        let d = &l.conventions;
        let rate_or_amount = |name: &'static str| {
            move |t: &str| {
                let v = if name == "apr" && d.tape {
                    tape_rate(t)? * Decimal::ONE_HUNDRED
                } else {
                    amount(t, name)?
                };
                match v < Decimal::ZERO {
                    true => Err((name, format!("must not be negative: `{t}`"))),
                    false => Ok(v.normalize()),
                }
            }
        };
        let apr = optional_noted(row, (l.apr, "apr"), d, bad, rate_or_amount("apr"));
        let payment = (l.monthly_payment, "monthly_payment");
        let monthly_payment = optional_noted(row, payment, d, bad, rate_or_amount(payment.1));
        let value = (l.origination_value, "origination_value");
        let origination_value = optional_noted(row, value, d, bad, |t| match amount(t, value.1)? {
            v if v <= Decimal::ZERO => Err((value.1, "must be greater than 0".into())),
            v => Ok(v),
        });
        let score = (l.credit_score, "credit_score");
        let credit_score = optional_noted(row, score, d, bad, |t| count(t, score.1));
        // The model year is not a figure here; an unreadable one is still noted.
        let year = (l.vehicle_year, "vehicle_year");
        optional_noted(row, year, d, bad, |t| count(t, year.1));
        let new_used = optional_noted(row, (l.new_used, "new_used"), d, bad, |t| {
            NewUsed::parse(t).ok_or(("new_used", String::new()))
        });
        OptionalTerms {
            apr,
            monthly_payment,
            origination_value,
            credit_score,
            new_used,
        }
    }
}

/// Writes the columns accounts.csv carries from the loans file into `tail`, each preceded by a comma.
fn push_carried_columns(row: &Row<'_>, l: &LoanLayout, tail: &mut String) -> Result<(), Problem> {
    tail.clear();
    for &(col, echo) in &l.tail {
        tail.push(',');
        let t = text(row, col, "a loan column")?;
        match echo {
            // Missing words mean no value in every field, carried ones too: a tape's CSV form writes
            // `NA` where its XML form leaves the element out, and both give an empty cell.
            _ if l.conventions.is_missing(t) => {}
            Echo::Text => csvfmt::push_text(tail, t),
            // Already in the form the arms below would write (`19000.00`, `84`): copy it.
            Echo::Amount | Echo::Count if is_canonical_number(t) => tail.push_str(t),
            // Already validated above when it is a known column; normalize its spelling.
            Echo::Amount => match parse_amount(t) {
                Ok(v) => tail.push_str(&v.to_string()),
                Err(_) => csvfmt::push_text(tail, t),
            },
            Echo::FractionAsPercent => match tape_rate(t) {
                Ok(v) => tail.push_str(&(v * Decimal::ONE_HUNDRED).normalize().to_string()),
                Err(_) => csvfmt::push_text(tail, t),
            },
            Echo::NewUsedLabel => match NewUsed::parse(t) {
                Some(nu) => tail.push_str(nu.label()),
                None => csvfmt::push_text(tail, t),
            },
            Echo::Count => match parse_count(t) {
                Some(v) => tail.push_str(&v.to_string()),
                None => csvfmt::push_text(tail, t),
            },
        }
    }
    Ok(())
}

/// The layout of the valuations file.
#[derive(Clone, Debug)]
pub struct ValuationLayout {
    width: usize,
    vin: usize,
    date: usize,
    value: usize,
    source: Option<usize>,
    conventions: Conventions,
}

impl ValuationLayout {
    pub fn new(
        path: &Path,
        header: &Header,
        conventions: Conventions,
    ) -> Result<ValuationLayout, InputError> {
        header.check_unique(path)?;
        missing_columns(path, header, &VALUATION_REQUIRED)?;
        Ok(ValuationLayout {
            width: header.names.len(),
            vin: header.find("vin").expect("checked"),
            date: header.find("valuation_date").expect("checked"),
            value: header.find("value").expect("checked"),
            source: header.find("source"),
            conventions,
        })
    }
}

/// One accepted valuation row, borrowing its text from the chunk.
pub struct ValuationRow<'a> {
    pub vin: &'a str,
    pub date: Date,
    pub value: Decimal,
    pub source: &'a str,
}

/// Parses each valuation row of a chunk, calling `accept` for the good ones; returns rows read and rejects.
pub fn parse_valuations(
    chunk: &Chunk,
    layout: &ValuationLayout,
    mut accept: impl FnMut(ValuationRow<'_>),
) -> (u64, Vec<Reject>) {
    let mut rows = 0;
    let mut rejects = Vec::new();
    chunk.for_each_row(|row| {
        rows += 1;
        match parse_valuation(&row, layout) {
            Ok(v) => accept(v),
            Err(p) => rejects.push(reject(InputKind::Valuations, &row, p)),
        }
    });
    (rows, rejects)
}

fn parse_valuation<'a>(row: &Row<'a>, l: &ValuationLayout) -> Result<ValuationRow<'a>, Problem> {
    if let Some(p) = field_count_problem(row, l.width) {
        return Err(p);
    }
    let d = &l.conventions;
    let vin = required(row, l.vin, "vin", d)?;
    let date_text = required(row, l.date, "valuation_date", d)?;
    // `ok_or_else`: the message is formatted for a bad row only (formatting it for every row was 5% of
    // the valuations stage).
    let date = Date::parse(date_text).ok_or_else(|| {
        (
            "valuation_date",
            format!("not a date: `{date_text}` (write YYYY-MM-DD)"),
        )
    })?;
    let value = amount(required(row, l.value, "value", d)?, "value")?;
    if !crate::money::has_value(value) {
        return Err((
            "value",
            format!("must be at least 0.01 (a value that rounds to $0.00 is no value): `{value}`"),
        ));
    }
    let source = optional(row, l.source, "source", d)?.unwrap_or("");
    Ok(ValuationRow {
        vin,
        date,
        value,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_numbers_are_echoed_as_parsing_would_write_them() {
        for t in [
            "0", "7", "84", "19000.00", "0.0563", "15195.31", "1.5", "0.0000",
        ] {
            assert!(is_canonical_number(t), "{t}");
            assert_eq!(parse_amount(t).unwrap().to_string(), t);
        }
        for t in [
            "",
            "007",
            "1.",
            ".5",
            "1.230000",
            "-5",
            "$19,000.00",
            "1,000",
            "1.2.3",
            "1e5",
            "0.00001",
        ] {
            assert!(!is_canonical_number(t), "{t}");
        }
    }
}
