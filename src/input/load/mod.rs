//! Loading the two inputs into typed rows, with every unusable row turned into a reject.
//!
//! Each chunk of a file (see [`crate::input::reader`]) is parsed independently, so this runs in parallel;
//! results are put back in file order. A row is either accepted (one typed struct) or rejected (one
//! [`Reject`] naming its line, field and reason): never both, never neither.

use crate::columns::{ACCOUNT_COLUMNS, LIFETIME_COLUMNS, PREVIOUS_COLUMNS};
use crate::csvfmt;
use crate::date::Date;
use crate::error::InputError;
use crate::input::conventions::Conventions;
use crate::input::reader::{Chunk, Header, Row};
use crate::input::schema::{
    DEFAULT_SEGMENTS, DERIVED_SEGMENTS, LOAN_OPTIONAL, LOAN_REQUIRED, VALUATION_REQUIRED,
};
use crate::input::tape::PERIOD;
use crate::money::{parse_amount, parse_count, AmountError, OptionalDecimal};
use rust_decimal::Decimal;
use std::path::Path;

pub mod rows;

/// Which input a reject came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputKind {
    Loans,
    Valuations,
}

/// A row that could not be used.
#[derive(Clone, Debug)]
pub struct Reject {
    pub input: InputKind,
    pub line: u64,
    pub field: String,
    pub reason: String,
    pub raw: String,
}

/// Where a segment's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentSource {
    Vintage,
    CreditTier,
    TermBand,
    /// The n-th value of [`Loan::segment_value`].
    Column(usize),
}

/// How a loan column is echoed in accounts.csv.
#[derive(Clone, Copy, Debug)]
enum Echo {
    /// Free text, neutralized against formula injection.
    Text,
    /// A number we parsed: written in plain form (`$19,000.00` becomes `19000.00`).
    Amount,
    Count,
    /// A tape's rate, a fraction: written in percent like underwater's own `apr` (0.0687 → 6.87).
    FractionAsPercent,
    /// A tape's new/used code (1/2): written as `new`/`used`, as the summaries label it.
    NewUsedLabel,
}

/// New or used vehicle, from `new_used` (`new`/`used`, `n`/`u`, or the EX-102 codes 1/2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewUsed {
    New,
    Used,
}

impl NewUsed {
    pub fn parse(text: &str) -> Option<NewUsed> {
        match text.to_ascii_lowercase().as_str() {
            "new" | "n" | "1" => Some(NewUsed::New),
            "used" | "u" | "2" => Some(NewUsed::Used),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            NewUsed::New => "new",
            NewUsed::Used => "used",
        }
    }
}

/// How to read a loans file beyond its header: its value conventions and what the run needs of it.
#[derive(Clone, Debug, Default)]
pub struct LoanFileRules {
    pub conventions: Conventions,
    /// Matching needs a VIN; a run on estimated values alone does not.
    pub need_vin: bool,
    /// Only rows of this reporting period are loans of the run (tapes).
    pub period: Option<Date>,
    /// The date the book is valued at: a loan originated after it is rejected (it would be valued
    /// as a car bought tomorrow).
    pub as_of: Option<Date>,
    /// `(ours, theirs)` renames applied to the header, to name the file's own column in rejects.
    pub columns: Vec<(String, String)>,
    /// Segment names of the summaries, in config order: derived ones or loans columns.
    pub segments: Vec<String>,
}

impl LoanFileRules {
    /// underwater's own loans CSV, matched to a valuations file by VIN, with the default segments.
    pub fn own_csv() -> LoanFileRules {
        LoanFileRules {
            need_vin: true,
            segments: DEFAULT_SEGMENTS.iter().map(|s| s.to_string()).collect(),
            ..LoanFileRules::default()
        }
    }
}

/// The layout of the loans file, resolved from its header.
#[derive(Clone, Debug)]
pub struct LoanLayout {
    width: usize,
    account_id: usize,
    vin: Option<usize>,
    origination_date: usize,
    amount_financed: usize,
    term_months: usize,
    current_balance: usize,
    days_past_due: Option<usize>,
    apr: Option<usize>,
    monthly_payment: Option<usize>,
    credit_score: Option<usize>,
    origination_value: Option<usize>,
    vehicle_year: Option<usize>,
    new_used: Option<usize>,
    period: Option<(usize, Date)>,
    as_of: Option<Date>,
    conventions: Conventions,
    columns: Vec<(String, String)>,
    /// Columns echoed after the computed ones: (file column, echo rule).
    tail: Vec<(usize, Echo)>,
    /// Names of the echoed columns, as written in accounts.csv.
    pub tail_names: Vec<String>,
    /// Segment names in config order, with their sources.
    pub segments: Vec<(String, SegmentSource)>,
    /// File columns read for `SegmentSource::Column` segments (None: a known optional column that is absent).
    segment_columns: Vec<Option<usize>>,
}

fn missing_columns(path: &Path, header: &Header, required: &[&str]) -> Result<(), InputError> {
    let missing: Vec<String> = required
        .iter()
        .filter(|c| header.find(c).is_none())
        .map(|c| c.to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(InputError::MissingColumns {
            path: path.to_path_buf(),
            missing,
            found: header.names.clone(),
        })
    }
}

/// The name a loan column is carried under in accounts.csv: its own, unless an account column has it,
/// then `loan_<name>` — and `loan_` again while that is taken too (a file with both `value` and
/// `loan_value` gets `loan_loan_value` and `loan_value`), so no output column name repeats. Names are
/// compared ignoring case, as the header is read.
fn carried_name(name: &str, header: &[String]) -> String {
    let taken_by_account = |n: &str| {
        ACCOUNT_COLUMNS
            .iter()
            .chain(&PREVIOUS_COLUMNS)
            .chain(&LIFETIME_COLUMNS)
            .any(|c| c.eq_ignore_ascii_case(n))
    };
    if !taken_by_account(name) {
        return name.to_string();
    }
    let mut carried = format!("loan_{name}");
    while taken_by_account(&carried) || header.iter().any(|h| h.eq_ignore_ascii_case(&carried)) {
        carried.insert_str(0, "loan_");
    }
    carried
}

impl LoanLayout {
    pub fn new(
        path: &Path,
        header: &Header,
        rules: &LoanFileRules,
    ) -> Result<LoanLayout, InputError> {
        header.check_unique(path)?;
        check_required(path, header, rules)?;
        let req = |name: &str| header.find(name).expect("checked by check_required");
        let opt = |name: &str| header.find(name);
        let (tail, tail_names) = carried_columns(header, rules);
        let (segments, segment_columns) = segment_sources(path, header, rules)?;
        Ok(LoanLayout {
            width: header.names.len(),
            account_id: req("account_id"),
            vin: opt("vin"),
            origination_date: req("origination_date"),
            amount_financed: req("amount_financed"),
            term_months: req("term_months"),
            current_balance: req("current_balance"),
            days_past_due: opt("days_past_due"),
            apr: opt("apr"),
            monthly_payment: opt("monthly_payment"),
            credit_score: opt("credit_score"),
            origination_value: opt("origination_value"),
            vehicle_year: opt("vehicle_year"),
            new_used: opt("new_used"),
            period: rules
                .period
                .and_then(|date| opt(PERIOD).map(|col| (col, date))),
            as_of: rules.as_of,
            conventions: rules.conventions.clone(),
            columns: rules.columns.clone(),
            tail,
            tail_names,
            segments,
            segment_columns,
        })
    }
}

/// Every required column is in the header (the VIN only when the run matches valuations); a missing
/// one is named as the file names it: "account_id (assetNumber)".
fn check_required(path: &Path, header: &Header, rules: &LoanFileRules) -> Result<(), InputError> {
    let required: Vec<&str> = LOAN_REQUIRED
        .iter()
        .copied()
        .filter(|c| rules.need_vin || *c != "vin")
        .collect();
    missing_columns(path, header, &required).map_err(|e| match e {
        InputError::MissingColumns {
            path,
            missing,
            found,
        } => InputError::MissingColumns {
            path,
            missing: missing
                .into_iter()
                .map(|m| label(&rules.columns, &m))
                .collect(),
            found,
        },
        e => e,
    })
}

/// The loan columns accounts.csv carries after the computed ones (all but the four it computes from),
/// each with how it is written back, and the names they are carried under.
fn carried_columns(header: &Header, rules: &LoanFileRules) -> (Vec<(usize, Echo)>, Vec<String>) {
    let mut tail = Vec::new();
    let mut tail_names = Vec::new();
    for (i, name) in header.names.iter().enumerate() {
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "account_id" | "vin" | "current_balance" | "days_past_due"
        ) {
            continue;
        }
        let echo = match lower.as_str() {
            "apr" if rules.conventions.tape => Echo::FractionAsPercent,
            "new_used" if rules.conventions.tape => Echo::NewUsedLabel,
            "amount_financed" | "apr" | "monthly_payment" | "origination_value" => Echo::Amount,
            "term_months" | "credit_score" | "vehicle_year" => Echo::Count,
            _ => Echo::Text,
        };
        tail.push((i, echo));
        tail_names.push(carried_name(name, &header.names));
    }
    (tail, tail_names)
}

/// The configured segments with their sources, and the file columns the column segments read (None:
/// a known optional column that is absent). A segment that is neither derived nor a column is refused.
#[allow(clippy::type_complexity)] // two lists that go into the layout side by side
fn segment_sources(
    path: &Path,
    header: &Header,
    rules: &LoanFileRules,
) -> Result<(Vec<(String, SegmentSource)>, Vec<Option<usize>>), InputError> {
    let mut segments = Vec::new();
    let mut segment_columns = Vec::new();
    for name in &rules.segments {
        let source = match name.as_str() {
            "vintage" => SegmentSource::Vintage,
            "credit_tier" => SegmentSource::CreditTier,
            "term_band" => SegmentSource::TermBand,
            other => {
                let col = header.find(other);
                let known = LOAN_OPTIONAL.contains(&other) || LOAN_REQUIRED.contains(&other);
                if col.is_none() && !known {
                    return Err(InputError::UnknownSegment {
                        segment: other.to_string(),
                        path: path.to_path_buf(),
                        found: header.names.clone(),
                    });
                }
                segment_columns.push(col);
                SegmentSource::Column(segment_columns.len() - 1)
            }
        };
        debug_assert!(
            !matches!(source, SegmentSource::Column(_))
                || !DERIVED_SEGMENTS.contains(&name.as_str())
        );
        segments.push((name.clone(), source));
    }
    Ok((segments, segment_columns))
}

impl LoanLayout {
    /// A column's name for messages: ours, with the file's own name when it was mapped.
    pub fn label(&self, ours: &str) -> String {
        label(&self.columns, ours)
    }
}

/// A column's name for messages: ours, with the file's own name when it was mapped.
fn label(columns: &[(String, String)], ours: &str) -> String {
    match columns.iter().find(|(o, _)| o == ours) {
        Some((_, theirs)) => format!("{ours} ({theirs})"),
        None => ours.to_string(),
    }
}

/// An accepted loan: the fields the figures need, and its text (see the accessors).
#[derive(Clone, Debug)]
pub struct Loan {
    pub line: u64,
    pub origination_date: Date,
    pub term_months: u32,
    pub amount_financed: Decimal,
    pub(crate) origination_value: OptionalDecimal,
    pub new_used: Option<NewUsed>,
    pub balance: Decimal,
    pub days_past_due: u32,
    pub credit_score: Option<u32>,
    pub(crate) apr: OptionalDecimal,
    pub(crate) monthly_payment: OptionalDecimal,
    pub(crate) text: LoanText,
}

impl Loan {
    /// The vehicle's value at origination, for the origination LTV and a tape's estimates.
    pub fn origination_value(&self) -> Option<Decimal> {
        self.origination_value.get()
    }

    /// Annual rate in percent (a tape's fraction is converted), for the run-off.
    pub fn apr(&self) -> Option<Decimal> {
        self.apr.get()
    }

    /// The scheduled payment, for the run-off (None: the level payment is computed).
    pub fn monthly_payment(&self) -> Option<Decimal> {
        self.monthly_payment.get()
    }

    pub fn account_id(&self) -> &str {
        self.text.get(0)
    }

    /// The account id's bytes, for sorting: the same order as the text, without a UTF-8 check.
    pub fn account_id_bytes(&self) -> &[u8] {
        self.text.bytes(0)
    }

    /// Where the loan's text lives and its length, for a prefetch: reads the loan, not the text.
    pub(crate) fn text_address(&self) -> (*const u8, usize) {
        (self.text.0.as_ptr(), self.text.0.len())
    }

    /// Upper-cased, spaces trimmed: the matching key.
    pub fn vin(&self) -> &str {
        self.text.get(1)
    }

    /// The value of the n-th column segment (empty text for a missing value).
    pub fn segment_value(&self, n: usize) -> &str {
        self.text.get(2 + n)
    }

    /// The echoed loan columns, already CSV-encoded (one leading comma per field).
    pub fn tail(&self) -> &str {
        self.text.get(self.text.len() - 1)
    }

    /// Renames the account (tapes: ids shared by different loans become `<id>#<n>`).
    pub fn set_account_id(&mut self, id: &str) {
        let mut parts: Vec<&str> = (0..self.text.len()).map(|i| self.text.get(i)).collect();
        parts[0] = id;
        self.text = LoanText::new(&parts);
    }
}

/// A loan's strings in one allocation: a head byte (the part count, its top bit set when the part
/// ends are u32 rather than u16), each part's end as little-endian u16 (u32 past 64 KiB of text), then
/// the bytes. Parts: account id, VIN, each column segment value, the echoed columns. Held for every
/// loan of the book: one allocation instead of four or more saves about 150 bytes a loan (1.5 GB at
/// 10M), and u16 ends another 13 on a loan of a few segments, which for the generated book's loans is
/// the step from the allocator's 160-byte size class to its 128-byte one (320 MB at 10M).
#[derive(Clone, Debug)]
pub(crate) struct LoanText(Box<[u8]>);

/// The head byte's flag for u32 part ends.
const WIDE_ENDS: u8 = 0x80;

/// The most parts a loan's text holds: the part count shares the head byte with [`WIDE_ENDS`]. The
/// config keeps segments within it (`MAX_SEGMENTS` and a check beside it).
pub const MAX_TEXT_PARTS: usize = WIDE_ENDS as usize - 1;

impl LoanText {
    /// Packs `parts`; a loan's text comes from one row, far shorter than 4 GiB (see `MAX_ROW_BYTES`),
    /// in at most [`MAX_TEXT_PARTS`] parts.
    pub(crate) fn new(parts: &[&str]) -> LoanText {
        debug_assert!(parts.len() <= MAX_TEXT_PARTS);
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let wide = total > usize::from(u16::MAX);
        let width = if wide { 4 } else { 2 };
        let mut buf = Vec::with_capacity(1 + width * parts.len() + total);
        buf.push(parts.len() as u8 | if wide { WIDE_ENDS } else { 0 });
        let mut end = 0;
        for p in parts {
            end += p.len();
            match wide {
                true => buf.extend_from_slice(&(end as u32).to_le_bytes()),
                false => buf.extend_from_slice(&(end as u16).to_le_bytes()),
            }
        }
        for p in parts {
            buf.extend_from_slice(p.as_bytes());
        }
        LoanText(buf.into_boxed_slice())
    }

    fn len(&self) -> usize {
        usize::from(self.0[0] & !WIDE_ENDS)
    }

    /// Where the bytes start, and where part `i` ends within them.
    fn head_and_end(&self, i: usize) -> (usize, usize) {
        let n = self.len();
        if self.0[0] & WIDE_ENDS == 0 {
            let at = 1 + 2 * i;
            (
                1 + 2 * n,
                usize::from(u16::from_le_bytes([self.0[at], self.0[at + 1]])),
            )
        } else {
            let mut word = [0; 4];
            word.copy_from_slice(&self.0[1 + 4 * i..5 + 4 * i]);
            (1 + 4 * n, u32::from_le_bytes(word) as usize)
        }
    }

    fn bytes(&self, i: usize) -> &[u8] {
        let (head, end) = self.head_and_end(i);
        let start = if i == 0 {
            0
        } else {
            self.head_and_end(i - 1).1
        };
        &self.0[head + start..head + end]
    }

    fn get(&self, i: usize) -> &str {
        // SAFETY: `new` copies each part whole from a `&str` and records where it ends, and the buffer is
        // never changed after, so every part is valid UTF-8. (Checking again here cost 5% of a run.)
        unsafe { std::str::from_utf8_unchecked(self.bytes(i)) }
    }
}

/// Rows longer than this are rejected. A real loan row is a few hundred bytes; a loan's packed text
/// addresses its bytes with u32 offsets, and a 135 MB field repeated in 32 segments once overflowed them.
/// With rows this short and at most `MAX_SEGMENTS` segments (the config checks it), it cannot.
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// What one chunk of the loans file gave.
#[derive(Default)]
pub struct LoanBatch {
    pub rows: u64,
    pub loans: Vec<Loan>,
    /// Rejected rows, with the account id they carried (if any) for duplicate detection.
    pub rejects: Vec<(Option<Box<str>>, Reject)>,
    /// Optional fields of accepted rows that could not be read.
    pub unreadable: Unreadable,
}

/// How many of an unreadable field's first lines are kept for the report.
pub const FIRST_LINES: usize = 5;

/// One optional field that could not be read: on how many rows, and the first lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldCount {
    pub rows: u64,
    /// The first [`FIRST_LINES`] lines, in order.
    pub first_lines: Vec<u64>,
}

/// Optional fields that could not be read and were treated as missing, by field (underwater's name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unreadable(pub std::collections::BTreeMap<&'static str, FieldCount>);

impl Unreadable {
    fn note(&mut self, field: &'static str, line: u64) {
        let c = self.0.entry(field).or_default();
        c.rows += 1;
        if c.first_lines.len() < FIRST_LINES {
            c.first_lines.push(line);
        }
    }

    /// Adds another chunk's counts; chunks finish in any order, so the first lines are re-sorted.
    pub fn merge(&mut self, other: Unreadable) {
        for (field, c) in other.0 {
            let mine = self.0.entry(field).or_default();
            mine.rows += c.rows;
            mine.first_lines.extend(c.first_lines);
            mine.first_lines.sort_unstable();
            mine.first_lines.truncate(FIRST_LINES);
        }
    }

    /// Rewrites every line (an XML tape's CSV lines to the XML's own).
    pub fn map_lines(&mut self, f: impl Fn(u64) -> u64) {
        for c in self.0.values_mut() {
            c.first_lines.iter_mut().for_each(|l| *l = f(*l));
        }
    }
}

type Problem = (&'static str, String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loan_text_gives_back_its_parts_with_short_and_long_ends() {
        let long = "é".repeat(40_000); // 80,000 bytes: past u16 ends
        let cases: Vec<Vec<&str>> = vec![
            vec!["A", "V", ""],
            vec!["", "", "", ""],
            vec![
                "AC0000000001",
                "1HGCM82633A004352",
                "CA",
                "used",
                ",2023-01-04,15195.31",
            ],
            vec!["id", &long[..65_534], "x"], // 65,537 bytes in all: just past
            vec!["id", &long[..65_532], "x"], // 65,535: the last total with short ends
            vec!["id", &long, "tail"],
        ];
        let max_parts: Vec<String> = (0..MAX_TEXT_PARTS).map(|i| i.to_string()).collect();
        let max_parts: Vec<&str> = max_parts.iter().map(String::as_str).collect();
        for parts in cases.iter().chain([&max_parts]) {
            let t = LoanText::new(parts);
            assert_eq!(t.len(), parts.len());
            for (i, p) in parts.iter().enumerate() {
                assert_eq!(t.get(i), *p, "part {i} of {} parts", parts.len());
            }
        }
        // Short ends: the head is 1 + 2 bytes a part.
        assert_eq!(LoanText::new(&["AB", "C"]).0.len(), 1 + 4 + 3);
    }

    /// Every loan of the book is held in memory: at 10M loans each byte of it is 10 MB of peak memory.
    #[test]
    fn a_loan_takes_at_most_128_bytes() {
        assert!(
            std::mem::size_of::<Loan>() <= 128,
            "{}",
            std::mem::size_of::<Loan>()
        );
    }
}
