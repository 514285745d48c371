//! Loading the two inputs into typed rows, with every unusable row turned into a reject.
//!
//! Each chunk of a file (see [`crate::input::reader`]) is parsed independently, so this runs in parallel;
//! results are put back in file order. A row is either accepted (one typed struct) or rejected (one
//! [`Reject`] naming its line, field and reason): never both, never neither.

use crate::csvfmt;
use crate::date::Date;
use crate::error::InputError;
use crate::input::reader::{Chunk, Header, Row};
use crate::input::schema::{
    ACCOUNT_COLUMNS, DEFAULT_SEGMENTS, DERIVED_SEGMENTS, LOAN_OPTIONAL, LOAN_REQUIRED,
    PREVIOUS_COLUMNS, VALUATION_REQUIRED,
};
use crate::input::tape::{Dialect, PERIOD};
use crate::money::{parse_amount, parse_count, AmountError, OptionalDecimal};
use rust_decimal::Decimal;
use std::path::Path;

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
    pub dialect: Dialect,
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
    dialect: Dialect,
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
                // Name the file's own column for a mapped one: "account_id (assetNumber)".
                missing: missing
                    .into_iter()
                    .map(|m| label(&rules.columns, &m))
                    .collect(),
                found,
            },
            e => e,
        })?;
        let req = |name: &str| header.find(name).expect("checked by missing_columns");
        let opt = |name: &str| header.find(name);
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
                "apr" if rules.dialect.tape => Echo::FractionAsPercent,
                "new_used" if rules.dialect.tape => Echo::NewUsedLabel,
                "amount_financed" | "apr" | "monthly_payment" | "origination_value" => Echo::Amount,
                "term_months" | "credit_score" | "vehicle_year" => Echo::Count,
                _ => Echo::Text,
            };
            tail.push((i, echo));
            tail_names.push(carried_name(name, &header.names));
        }
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
            dialect: rules.dialect.clone(),
            columns: rules.columns.clone(),
            tail,
            tail_names,
            segments,
            segment_columns,
        })
    }
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
    dialect: &Dialect,
) -> Result<&'a str, Problem> {
    let t = text(row, col, name)?;
    if t.is_empty() {
        Err((name, "required value is empty".into()))
    } else if dialect.is_missing(t) {
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
    dialect: &Dialect,
) -> Result<Option<&'a str>, Problem> {
    match col {
        None => Ok(None),
        Some(c) => text(row, c, name).map(|t| (!dialect.is_missing(t)).then_some(t)),
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

/// What rejects.csv quotes at most of a reason and of a raw record: enough to find the row and see
/// what is wrong with it. One unclosed quote once made the rest of a file one row, repeated in its
/// reason and its raw record (a 229 MB rejects.csv).
const MAX_REASON_BYTES: usize = 500;
const MAX_RAW_BYTES: usize = 4096;

fn reject(input: InputKind, row: &Row<'_>, (field, reason): Problem) -> Reject {
    Reject {
        input,
        line: row.line,
        field: field.to_string(),
        reason: crate::csvfmt::shortened(&reason, MAX_REASON_BYTES).into_owned(),
        raw: quoted_raw(row.raw),
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
    let lines = memchr::memchr_iter(b'\n', &chunk.bytes).count() + 1;
    let mut batch = LoanBatch {
        loans: Vec::with_capacity(lines),
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

/// An optional field's value, or None when it is missing or cannot be read; the second is noted in `bad`.
fn soft<T>(parsed: Result<Option<T>, Problem>, bad: &mut Vec<&'static str>) -> Option<T> {
    parsed.unwrap_or_else(|(field, _)| {
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
    if let Some(p) = field_count_problem(row, l.width) {
        return Err(p);
    }
    if row.raw.len() > MAX_ROW_BYTES {
        return Err(("", format!("row longer than {MAX_ROW_BYTES} bytes")));
    }
    let d = &l.dialect;
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
            format!("after as_of {as_of}: `{date_text}` (a loan not yet made is not in the book)"),
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
    // The other optional fields: a value that cannot be read counts as missing and is noted in `bad`;
    // the row stays in the book, because its balance is exposure whatever its score or rate says.
    let read = |col, name, parse: &dyn Fn(&str) -> Result<(), Problem>| {
        optional(row, col, name, d).and_then(|t| t.map(parse).transpose())
    };
    // Days past due set the probability of default, a figure: a value that cannot be read rejects the
    // row rather than pass as current.
    let days_past_due = match optional(row, l.days_past_due, "days_past_due", d)? {
        None => 0,
        Some(t) => count(t, "days_past_due")?,
    };
    let [apr, monthly_payment] =
        [(l.apr, "apr"), (l.monthly_payment, "monthly_payment")].map(|(col, name)| {
            soft(
                optional(row, col, name, d).and_then(|t| {
                    t.map(|t| {
                        let v = if name == "apr" && d.tape {
                            tape_rate(t)? * Decimal::ONE_HUNDRED
                        } else {
                            amount(t, name)?
                        };
                        match v < Decimal::ZERO {
                            true => Err((name, format!("must not be negative: `{t}`"))),
                            false => Ok(v.normalize()),
                        }
                    })
                    .transpose()
                }),
                bad,
            )
        });
    let origination_value = soft(
        optional(row, l.origination_value, "origination_value", d).and_then(|t| {
            t.map(|t| match amount(t, "origination_value")? {
                v if v <= Decimal::ZERO => {
                    Err(("origination_value", "must be greater than 0".into()))
                }
                v => Ok(v),
            })
            .transpose()
        }),
        bad,
    );
    let credit_score = soft(
        optional(row, l.credit_score, "credit_score", d)
            .and_then(|t| t.map(|t| count(t, "credit_score")).transpose()),
        bad,
    );
    soft(
        read(l.vehicle_year, "vehicle_year", &|t| {
            count(t, "vehicle_year").map(|_| ())
        }),
        bad,
    );
    let new_used = soft(
        optional(row, l.new_used, "new_used", d).and_then(|t| {
            t.map(|t| NewUsed::parse(t).ok_or(("new_used", String::new())))
                .transpose()
        }),
        bad,
    );

    let tail = scratch;
    tail.clear();
    for &(col, echo) in &l.tail {
        tail.push(',');
        let name = "a loan column";
        let t = text(row, col, name)?;
        match echo {
            // Missing words mean no value in every field, carried ones too: a tape's CSV form writes
            // `NA` where its XML form leaves the element out, and both give an empty cell.
            _ if d.is_missing(t) => {}
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
    let vin: std::borrow::Cow<'_, str> = if vin.bytes().any(|b| b.is_ascii_lowercase()) {
        vin.to_ascii_uppercase().into()
    } else {
        vin.into()
    };
    let mut parts: Vec<&str> = Vec::with_capacity(3 + l.segment_columns.len());
    parts.extend([account_id, &*vin]);
    for col in &l.segment_columns {
        parts.push(match col {
            // new/used reads the same whichever way the file codes it.
            // Missing or unreadable, it is the `unknown` segment (its raw text is still echoed).
            Some(c) if Some(*c) == l.new_used => new_used.map_or("", NewUsed::label),
            Some(c) => match text(row, *c, "a segment column")? {
                t if d.is_missing(t) => "",
                t => t,
            },
            None => "",
        });
    }
    parts.push(tail.as_str());
    Ok(Loan {
        line: row.line,
        origination_date,
        term_months,
        amount_financed,
        origination_value: origination_value.into(),
        new_used,
        balance,
        days_past_due,
        credit_score,
        apr: apr.into(),
        monthly_payment: monthly_payment.into(),
        text: LoanText::new(&parts),
    })
}

/// The layout of the valuations file.
#[derive(Clone, Debug)]
pub struct ValuationLayout {
    width: usize,
    vin: usize,
    date: usize,
    value: usize,
    source: Option<usize>,
    dialect: Dialect,
}

impl ValuationLayout {
    pub fn new(
        path: &Path,
        header: &Header,
        dialect: Dialect,
    ) -> Result<ValuationLayout, InputError> {
        header.check_unique(path)?;
        missing_columns(path, header, &VALUATION_REQUIRED)?;
        Ok(ValuationLayout {
            width: header.names.len(),
            vin: header.find("vin").expect("checked"),
            date: header.find("valuation_date").expect("checked"),
            value: header.find("value").expect("checked"),
            source: header.find("source"),
            dialect,
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
    let d = &l.dialect;
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

    /// Every loan of the book is held in memory: at 10M loans each byte of it is 10 MB of peak memory
    /// (it was 144 bytes, with the optional amounts as `Option<Decimal>`).
    #[test]
    fn a_loan_takes_at_most_128_bytes() {
        assert!(
            std::mem::size_of::<Loan>() <= 128,
            "{}",
            std::mem::size_of::<Loan>()
        );
    }

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
