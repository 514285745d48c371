//! Loan files in other shapes than underwater's own columns: the SEC Reg AB II auto-loan tape (Form
//! ABS-EE, EX-102), and any lender's export through a `[columns]` mapping in the config.
//!
//! A mapping renames the file's columns to underwater's names when the header is read (`our = their`),
//! so every later stage sees one schema and accounts.csv uses the same names whatever the source. The
//! tape's own value conventions are a [`Conventions`]: which texts mean "missing", how dates are written,
//! and that its rate is a fraction. Columns that are not mapped are echoed unchanged.
//!
//! Documented rules for EX-102 tapes (see docs/GUIDE.md "Real loan tapes"):
//! - Empty and the missing words (default `NA`, `N/A`, `NULL`, `null`, `None`, `-`, `#N/A`) mean missing. A missing required field (id, dates, amounts, term, balance) is
//!   a reject naming the tape's column.
//! - `assetNumber` is read as text. `originationDate` is `MM/YYYY` (the first of that month);
//!   `reportingPeriodEndingDate` is `MM-DD-YYYY`.
//! - `originalInterestRatePercentage` is a fraction (0.0687); accounts.csv shows `apr` in percent (6.87).
//! - `vehicleNewUsedCode` 1 is new, 2 is used.
//! - One reporting period per run: the period of the first row. Rows of another period are rejects.
//! - Repeated header names are numbered as R and pandas do (`subvented`, `subvented.1`); an unnamed
//!   column (R's row names) is called `column_<n>`.

use crate::date::Date;
use crate::error::InputError;
use crate::input::reader::Header;
use std::path::Path;

/// The loan tape formats underwater reads besides its own CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Tape {
    /// SEC Reg AB II auto-loan asset-level data (Form ABS-EE, EX-102), as CSV with the schema's field names
    Regab,
}

/// underwater's column ← the EX-102 field it is read from.
pub const REGAB_COLUMNS: [(&str, &str); 16] = [
    ("account_id", "assetNumber"),
    ("origination_date", "originationDate"),
    ("amount_financed", "originalLoanAmount"),
    ("term_months", "originalLoanTerm"),
    ("current_balance", "reportingPeriodActualEndBalanceAmount"),
    ("days_past_due", "currentDelinquencyStatus"),
    ("apr", "originalInterestRatePercentage"),
    ("monthly_payment", "reportingPeriodScheduledPaymentAmount"),
    ("credit_score", "obligorCreditScore"),
    ("origination_value", "vehicleValueAmount"),
    ("vehicle_year", "vehicleModelYear"),
    ("make", "vehicleManufacturerName"),
    ("model", "vehicleModelName"),
    ("new_used", "vehicleNewUsedCode"),
    ("state", "obligorGeographicLocation"),
    (PERIOD, "reportingPeriodEndingDate"),
];

/// The column that carries a tape row's reporting period.
pub const PERIOD: &str = "reporting_period_end";

/// Renames the file's columns to underwater's names (`mapping` is `(ours, theirs)`), and, for tapes,
/// numbers repeated names. A mapped column the file lacks is left to the required-column check, which
/// names it; a mapping onto a name the file already uses for another column is an error.
pub fn apply_mapping(
    header: &mut Header,
    mapping: &[(String, String)],
    number_repeats: bool,
    path: &Path,
) -> Result<(), InputError> {
    if number_repeats {
        for (i, name) in header.names.iter_mut().enumerate() {
            // R writes its row names as a first column with an empty name.
            if name.is_empty() {
                *name = format!("column_{}", i + 1);
            }
        }
        for i in 0..header.names.len() {
            let name = header.names[i].clone();
            let seen = header.names[..i]
                .iter()
                .filter(|n| n.eq_ignore_ascii_case(&name) || is_numbered(n, &name))
                .count();
            if seen > 0 {
                header.names[i] = format!("{name}.{seen}");
            }
        }
    }
    for (ours, theirs) in mapping {
        let Some(col) = header.find(theirs) else {
            continue;
        };
        if let Some(other) = header.find(ours).filter(|&c| c != col) {
            return Err(InputError::BadHeader {
                path: path.to_path_buf(),
                problem: format!(
                    "column `{theirs}` is mapped to `{ours}`, but column {} is already named `{}`; \
                     map only one of them (config [columns])",
                    other + 1,
                    header.names[other]
                ),
            });
        }
        header.names[col] = ours.clone();
    }
    header.check_unique(path)
}

fn is_numbered(candidate: &str, base: &str) -> bool {
    candidate.len() > base.len()
        && candidate[..base.len()].eq_ignore_ascii_case(base)
        && candidate[base.len()..].starts_with('.')
        && candidate[base.len() + 1..]
            .bytes()
            .all(|b| b.is_ascii_digit())
}

/// The mapping for a run: the tape's fixed one, then the config's `[columns]` (which win).
pub fn mapping(tape: Option<Tape>, columns: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = match tape {
        Some(Tape::Regab) => REGAB_COLUMNS
            .iter()
            .filter(|(ours, _)| !columns.iter().any(|(o, _)| o == ours))
            .map(|(o, t)| (o.to_string(), t.to_string()))
            .collect(),
        None => Vec::new(),
    };
    out.extend(columns.iter().cloned());
    out
}

/// The reporting period of a tape: `reportingPeriodEndingDate` of its first row, read without
/// reading the rest of the file. `None` when the tape has no such column or no rows.
pub fn peek_period(path: &Path) -> Result<Option<Date>, InputError> {
    use std::io::Read;
    if crate::input::xmltape::is_xml(path) {
        return crate::input::xmltape::peek_period(path);
    }
    let file = std::fs::File::open(path).map_err(|source| InputError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut head = Vec::new();
    file.take(4 << 20)
        .read_to_end(&mut head)
        .map_err(|source| InputError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head));
    let Ok(names) = rdr.byte_headers().cloned() else {
        return Ok(None);
    };
    let Some(col) = names.iter().position(|n| {
        n.trim_ascii()
            .eq_ignore_ascii_case(b"reportingPeriodEndingDate")
    }) else {
        return Ok(None);
    };
    let mut record = csv::ByteRecord::new();
    while let Ok(true) = rdr.read_byte_record(&mut record) {
        if let Some(date) = record
            .get(col)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| Date::parse_tape(t.trim()))
        {
            return Ok(Some(date));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::conventions::Conventions;

    #[test]
    fn a_field_is_missing_exactly_when_it_is_empty_or_a_missing_word() {
        let d = Conventions::default();
        for t in ["", "NA", "N/A", "NULL", "null", "None", "-", "#N/A"] {
            assert!(d.is_missing(t), "{t:?}");
        }
        for t in [
            "0", "60", "-1", "-5.00", "NAN", "na", "N", "NULLS", "#N/", "Non", "720", "#",
        ] {
            assert!(!d.is_missing(t), "{t:?}");
        }
        // A config's own words, digits and bytes of every range among them.
        let d = Conventions::new(false, &["9999", "0", "\u{e9}t\u{e9}", "~", "?"]);
        for t in ["", "9999", "0", "\u{e9}t\u{e9}", "~", "?"] {
            assert!(d.is_missing(t), "{t:?}");
        }
        for t in ["NA", "999", "99990", "00", "\u{e9}", "~~", "1"] {
            assert!(!d.is_missing(t), "{t:?}");
        }
        // No words: only the empty field.
        let d = Conventions::new::<&str>(false, &[]);
        assert!(d.is_missing(""));
        assert!(!d.is_missing("NA"));
    }

    fn header(names: &[&str]) -> Header {
        Header {
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn repeated_names_are_numbered_for_tapes_only() {
        let mut h = header(&["a", "subvented", "b", "subvented", "subvented"]);
        apply_mapping(&mut h, &[], true, Path::new("t.csv")).unwrap();
        assert_eq!(
            h.names,
            ["a", "subvented", "b", "subvented.1", "subvented.2"]
        );
        let mut h = header(&["a", "a"]);
        assert!(apply_mapping(&mut h, &[], false, Path::new("t.csv")).is_err());
    }

    #[test]
    fn mapping_renames_and_refuses_a_clash() {
        let map = vec![("account_id".to_string(), "LoanNo".to_string())];
        let mut h = header(&["LoanNo", "x"]);
        apply_mapping(&mut h, &map, false, Path::new("t.csv")).unwrap();
        assert_eq!(h.names, ["account_id", "x"]);
        let mut h = header(&["LoanNo", "account_id"]);
        let err = apply_mapping(&mut h, &map, false, Path::new("t.csv")).unwrap_err();
        assert!(err.to_string().contains("mapped to `account_id`"), "{err}");
    }

    #[test]
    fn tape_dates() {
        assert_eq!(Date::parse_tape("08/2019"), Date::parse("2019-08-01"));
        assert_eq!(Date::parse_tape("07-31-2020"), Date::parse("2020-07-31"));
        assert_eq!(Date::parse_tape("07/31/2020"), Date::parse("2020-07-31"));
        assert_eq!(Date::parse_tape("2020-07-31"), Date::parse("2020-07-31"));
        assert_eq!(Date::parse_tape("13/2019"), None);
        assert_eq!(Date::parse_tape("02-30-2020"), None);
        assert_eq!(Date::parse_tape("NA"), None);
    }
}
