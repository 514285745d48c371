//! Outcome records: what happened to each account in the months after as_of, for the backtest.
//!
//! Two forms:
//! - a **panel tape**: an EX-102 row whose following months are appended as numbered columns
//!   (`BALk`, `PRCk`, `PMTk`, `RECk`, `REPk` for month k = 1, 2, …); the row's own
//!   `totalActualAmountPaid` is month 0's payment. Read by file line, so it joins the loan read from
//!   the same line;
//! - **loan-month records** in underwater's names, one row per account per month after as_of:
//!   `account_id, month (YYYY-MM), balance, principal_paid, amount_paid, charged_off, recoveries,
//!   repossession_proceeds, days_past_due` (each but the first two optional), or the same fields under
//!   their SEC EX-102 names (monthly tapes of the pool, flattened to CSV). Read by account id.
//!
//! A bad field, a month at or before as_of, a repeated account-month or a record after a missing month
//! is a reject with the file, line, field and reason; the rest of the file is read.

use crate::date::Date;
use crate::error::InputError;
use crate::input::reader::{ChunkReader, Row, CHUNK_BYTES};
use crate::input::tape::Dialect;
use crate::money::parse_amount;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

/// One month of an account's records (month k ≥ 1 after as_of); `None`: no figure that month.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthRecord {
    /// The balance at the month's end; none: no record that month.
    pub balance: Amount,
    pub principal_paid: Amount,
    pub amount_paid: Amount,
    pub charged_off: Amount,
    pub recoveries: Amount,
    pub repossession_proceeds: Amount,
    pub days_past_due: Option<u32>,
}

/// An optional amount of at most 12 integer digits and 4 decimals (what `parse_amount` reads), in 8
/// bytes: a book's 11 million loan-month records took 1.6 GB as `Option<Decimal>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount(i64);

impl Amount {
    pub const NONE: Amount = Amount(i64::MIN);

    pub fn of(amount: Option<Decimal>) -> Amount {
        amount
            .and_then(|d| i64::try_from(crate::money::mantissa_at(d.round_dp(4), 4)).ok())
            .filter(|&m| m != i64::MIN)
            .map_or(Amount::NONE, Amount)
    }

    pub fn get(self) -> Option<Decimal> {
        (self != Amount::NONE).then(|| Decimal::new(self.0, 4))
    }
}

impl Default for Amount {
    fn default() -> Amount {
        Amount::NONE
    }
}

impl MonthRecord {
    /// Money came back this month (recoveries or sale proceeds, negative costs included).
    pub fn recovered(&self) -> Decimal {
        self.recoveries.get().unwrap_or_default()
            + self.repossession_proceeds.get().unwrap_or_default()
    }

    /// Rule (a): a charge-off, repossession proceeds or recoveries other than 0.
    pub fn charge_off_event(&self) -> bool {
        [
            self.charged_off,
            self.recoveries,
            self.repossession_proceeds,
        ]
        .iter()
        .any(|a| a.get().is_some_and(|a| !a.is_zero()))
    }

    pub fn paid(&self) -> bool {
        self.amount_paid.get().is_some_and(|p| p > Decimal::ZERO)
    }
}

/// An account's records after as_of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// What was paid in month 0 (the tape's own period), for the no-payment rule.
    pub month0_paid: Option<Decimal>,
    /// Months 1, 2, … in order.
    pub months: Vec<MonthRecord>,
    /// The records carry days past due: rule (c) reads them instead of counting unpaid months.
    pub has_days_past_due: bool,
}

/// An outcome row that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeReject {
    pub file: PathBuf,
    pub line: u64,
    pub field: String,
    pub reason: String,
}

/// The outcome histories read from a file.
#[derive(Debug, Default)]
pub struct Outcomes {
    /// Panel tapes: by the file line of the loan's row.
    pub by_line: FxHashMap<u64, History>,
    /// Loan-month records: by the index of the account's loan in the book (`None`: no records).
    pub by_loan: Vec<Option<History>>,
    /// Accounts with accepted records that are not in the book.
    pub not_in_book: u64,
    pub rows_read: u64,
    pub rejects: Vec<OutcomeReject>,
    /// The months of data after as_of (the panel's columns, or the latest record's month).
    pub months_of_data: u32,
}

/// The columns of one panel month.
struct PanelMonth {
    balance: Option<usize>,
    principal: Option<usize>,
    paid: Option<usize>,
    recoveries: Option<usize>,
    repossession: Option<usize>,
}

fn open(path: &Path) -> Result<csv::Reader<std::fs::File>, InputError> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| InputError::Outcomes {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

fn headers(path: &Path, r: &mut csv::Reader<std::fs::File>) -> Result<Vec<String>, InputError> {
    Ok(r.headers()
        .map_err(|e| InputError::Outcomes {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect())
}

/// Whether a file's header is a panel tape's (it has `BAL1`).
pub fn is_panel(path: &Path) -> Result<bool, InputError> {
    let mut r = open(path)?;
    Ok(headers(path, &mut r)?.iter().any(|h| h == "BAL1"))
}

/// Reads a panel tape's monthly columns.
pub fn read_panel(path: &Path, dialect: &Dialect) -> Result<Outcomes, InputError> {
    let mut r = open(path)?;
    let names = headers(path, &mut r)?;
    let find = |name: &str| names.iter().position(|h| h == name);
    let mut months = Vec::new();
    while let Some(balance) = find(&format!("BAL{}", months.len() + 1)) {
        let k = months.len() + 1;
        months.push(PanelMonth {
            balance: Some(balance),
            principal: find(&format!("PRC{k}")),
            paid: find(&format!("PMT{k}")),
            recoveries: find(&format!("REC{k}")),
            repossession: find(&format!("REP{k}")),
        });
    }
    if months.is_empty() {
        return Err(InputError::Outcomes {
            path: path.to_path_buf(),
            reason: "no outcome columns: a panel tape has BAL1, PRC1, PMT1, REC1, REP1, BAL2, … \
                     Fix: pass the panel tape, or loan-month records with --outcomes"
                .into(),
        });
    }
    let paid0 = find("totalActualAmountPaid");
    let mut out = Outcomes {
        months_of_data: months.len() as u32,
        ..Outcomes::default()
    };
    let mut record = csv::StringRecord::new();
    loop {
        match r.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(InputError::Outcomes {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        }
        out.rows_read += 1;
        let line = record.position().map_or(0, |p| p.line());
        let mut cell = Cell {
            record: &record,
            names: &names,
            dialect,
            problem: None,
        };
        let history = History {
            month0_paid: cell.amount(paid0),
            months: months
                .iter()
                .map(|m| MonthRecord {
                    balance: Amount::of(cell.amount(m.balance)),
                    principal_paid: Amount::of(cell.amount(m.principal)),
                    amount_paid: Amount::of(cell.amount(m.paid)),
                    charged_off: Amount::NONE,
                    recoveries: Amount::of(cell.amount(m.recoveries)),
                    repossession_proceeds: Amount::of(cell.amount(m.repossession)),
                    days_past_due: None,
                })
                .collect(),
            has_days_past_due: false,
        };
        match cell.problem {
            Some((field, reason)) => out.rejects.push(OutcomeReject {
                file: path.to_path_buf(),
                line,
                field,
                reason,
            }),
            None => {
                out.by_line.insert(line, history);
            }
        }
    }
    Ok(out)
}

/// Reads the cells of one record, keeping the first problem.
struct Cell<'a> {
    record: &'a csv::StringRecord,
    names: &'a [String],
    dialect: &'a Dialect,
    problem: Option<(String, String)>,
}

impl Cell<'_> {
    fn text(&self, column: Option<usize>) -> Option<&str> {
        let t = self.record.get(column?)?.trim();
        (!t.is_empty() && !self.dialect.is_missing(t)).then_some(t)
    }

    fn amount(&mut self, column: Option<usize>) -> Option<Decimal> {
        let t = self.text(column)?;
        match parse_amount(t) {
            Ok(a) => Some(a),
            Err(e) => {
                self.fail(column, format!("not an amount: `{t}` ({e})"));
                None
            }
        }
    }

    fn fail(&mut self, column: Option<usize>, reason: String) {
        if self.problem.is_none() {
            let field = column
                .and_then(|c| self.names.get(c))
                .cloned()
                .unwrap_or_default();
            self.problem = Some((field, reason));
        }
    }
}

/// The columns of loan-month records in underwater's names.
const RECORD_COLUMNS: [&str; 9] = [
    "account_id",
    "month",
    "balance",
    "principal_paid",
    "amount_paid",
    "charged_off",
    "recoveries",
    "repossession_proceeds",
    "days_past_due",
];

/// The same columns under their SEC EX-102 names: a set of monthly tapes of the pool, flattened to
/// CSV, reads as loan-month records.
const EX102_RECORD_COLUMNS: [&str; 9] = [
    "assetNumber",
    "reportingPeriodEndingDate",
    "reportingPeriodActualEndBalanceAmount",
    "actualPrincipalCollectedAmount",
    "totalActualAmountPaid",
    "chargedoffPrincipalAmount",
    "recoveredAmount",
    "repossessedProceedsAmount",
    "currentDelinquencyStatus",
];

/// One parsed loan-month row of an account in the book.
struct RecordRow {
    loan: u32,
    k: u32,
    line: u64,
    month: MonthRecord,
}

/// What one chunk of a records file gave.
#[derive(Default)]
struct ChunkRecords {
    rows: Vec<RecordRow>,
    rejects: Vec<OutcomeReject>,
    read: u64,
    not_in_book: rustc_hash::FxHashSet<String>,
}

/// Reads loan-month records (one row per account per month after `as_of`), in parallel chunks as the
/// loans are read; `ids` maps the book's account ids to their loans (of `loans`).
pub fn read_records(
    path: &Path,
    as_of: Date,
    dialect: &Dialect,
    ids: &FxHashMap<&str, u32>,
    loans: usize,
) -> Result<Outcomes, InputError> {
    use rayon::prelude::*;
    let (reader, header) = ChunkReader::open(path, CHUNK_BYTES, Box::new(|_| {}))?;
    let names = match header.find("account_id") {
        None if header.find("assetNumber").is_some() => &EX102_RECORD_COLUMNS,
        _ => &RECORD_COLUMNS,
    };
    let cols: Vec<Option<usize>> = names.iter().map(|c| header.find(c)).collect();
    if cols[0].is_none() || cols[1].is_none() {
        return Err(InputError::Outcomes {
            path: path.to_path_buf(),
            reason: "loan-month records need the columns account_id and month (YYYY-MM), then any \
                     of balance, principal_paid, amount_paid, charged_off, recoveries, \
                     repossession_proceeds, days_past_due. Fix: rename the columns"
                .into(),
        });
    }
    let chunks: Vec<ChunkRecords> = reader
        .without_hash()
        .par_bridge()
        .map(|chunk| -> Result<ChunkRecords, InputError> {
            let chunk = chunk?;
            let mut out = ChunkRecords::default();
            chunk.for_each_row(|row| {
                out.read += 1;
                let cells = RowCells { row: &row, dialect };
                match record_row(&cells, &cols, as_of, ids) {
                    Ok(Some((loan, k, month))) => out.rows.push(RecordRow {
                        loan,
                        k,
                        line: row.line,
                        month,
                    }),
                    Ok(None) => {
                        let id = cells.text(cols[0]).unwrap_or_default();
                        out.not_in_book.insert(id.to_string());
                    }
                    Err((field, reason)) => out.rejects.push(OutcomeReject {
                        file: path.to_path_buf(),
                        line: row.line,
                        field: names.get(field).copied().unwrap_or("").into(),
                        reason,
                    }),
                }
            });
            Ok(out)
        })
        .collect::<Result<_, _>>()?;
    let mut out = Outcomes {
        by_loan: vec![None; loans],
        ..Outcomes::default()
    };
    // Sized once: growing by doubling held up to twice the rows at the last step.
    let mut rows = Vec::with_capacity(chunks.iter().map(|c| c.rows.len()).sum());
    let mut not_in_book = rustc_hash::FxHashSet::default();
    for c in chunks {
        out.rows_read += c.read;
        out.rejects.extend(c.rejects);
        rows.extend(c.rows);
        not_in_book.extend(c.not_in_book);
    }
    out.not_in_book = not_in_book.len() as u64;
    gather(path, rows, cols[8].is_some(), &mut out);
    Ok(out)
}

/// The text cells of one row (empty and the missing words are `None`).
struct RowCells<'a, 'r> {
    row: &'r Row<'a>,
    dialect: &'r Dialect,
}

impl RowCells<'_, '_> {
    fn text(&self, column: Option<usize>) -> Option<&str> {
        let t = std::str::from_utf8(self.row.get(column?)?).ok()?.trim();
        (!t.is_empty() && !self.dialect.is_missing(t)).then_some(t)
    }
}

/// A problem with a row: the index of its field in [`RECORD_COLUMNS`] and the reason.
type RowProblem = (usize, String);

/// One row: `Ok(None)` for an account not in the book.
fn record_row(
    cells: &RowCells<'_, '_>,
    cols: &[Option<usize>],
    as_of: Date,
    ids: &FxHashMap<&str, u32>,
) -> Result<Option<(u32, u32, MonthRecord)>, RowProblem> {
    let id = cells.text(cols[0]).ok_or((0, "empty".to_string()))?;
    let month_text = cells.text(cols[1]).unwrap_or("");
    let k = month_after(as_of, month_text).ok_or_else(|| {
        (
            1,
            format!("not a month after as_of {as_of}: `{month_text}` (write YYYY-MM)"),
        )
    })?;
    let Some(&loan) = ids.get(id) else {
        return Ok(None);
    };
    let amount = |f: usize| -> Result<Amount, RowProblem> {
        cells
            .text(cols[f])
            .map(|t| parse_amount(t).map_err(|e| (f, format!("not an amount: `{t}` ({e})"))))
            .transpose()
            .map(Amount::of)
    };
    let days_past_due = cells
        .text(cols[8])
        .map(|t| {
            t.parse()
                .map_err(|_| (8, format!("not a whole number of days >= 0: `{t}`")))
        })
        .transpose()?;
    let month = MonthRecord {
        balance: amount(2)?,
        principal_paid: amount(3)?,
        amount_paid: amount(4)?,
        charged_off: amount(5)?,
        recoveries: amount(6)?,
        repossession_proceeds: amount(7)?,
        days_past_due,
    };
    Ok(Some((loan, k, month)))
}

/// The month `text` (YYYY-MM, or a date in it) as months after as_of's; `None` if not after it.
fn month_after(as_of: Date, text: &str) -> Option<u32> {
    let (y, m) = match text.len() {
        7 => year_month(text)?,
        _ => {
            // YYYY-MM-DD, or a tape's MM-DD-YYYY.
            let (y, m, _) = Date::parse_tape(text)?.ymd();
            (y, m)
        }
    };
    let (ya, ma, _) = as_of.ymd();
    let k = (y - ya) * 12 + (m as i32 - ma as i32);
    u32::try_from(k).ok().filter(|&k| k >= 1)
}

/// `YYYY-MM` as (year, month), read without building a date (one per record).
fn year_month(text: &str) -> Option<(i32, u32)> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (y, m) = (digits(0..4)?, digits(5..7)?);
    (b[4] == b'-' && (1..=12).contains(&m)).then_some((y as i32, m))
}

/// Orders each account's months; a repeated month or a gap rejects the rows from there on. Records
/// that stop before the data's last month are padded with empty months: the loan left the pool then,
/// as in a panel.
fn gather(path: &Path, mut rows: Vec<RecordRow>, has_dpd: bool, out: &mut Outcomes) {
    use rayon::slice::ParallelSliceMut;
    rows.par_sort_unstable_by_key(|r| (r.loan, r.k, r.line));
    let mut i = 0;
    while i < rows.len() {
        let loan = rows[i].loan;
        let mut history = History {
            month0_paid: None,
            months: Vec::new(),
            has_days_past_due: has_dpd,
        };
        while i < rows.len() && rows[i].loan == loan {
            let row = &rows[i];
            i += 1;
            let expected = history.months.len() as u32 + 1;
            if row.k == expected {
                history.months.push(row.month.clone());
                continue;
            }
            let reason = if row.k < expected {
                format!("month {} repeats a month of this account", row.k)
            } else {
                format!(
                    "no record for month {expected} after as_of: a record set must not skip a month"
                )
            };
            out.rejects.push(OutcomeReject {
                file: path.to_path_buf(),
                line: row.line,
                field: "month".into(),
                reason,
            });
        }
        out.months_of_data = out.months_of_data.max(history.months.len() as u32);
        out.by_loan[loan as usize] = Some(history);
    }
    for history in out.by_loan.iter_mut().flatten() {
        history
            .months
            .resize(out.months_of_data as usize, MonthRecord::default());
    }
    out.rejects.sort_by_key(|r| r.line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_count_from_as_of() {
        let as_of = Date::parse("2024-06-30").unwrap();
        assert_eq!(month_after(as_of, "2024-07"), Some(1));
        assert_eq!(month_after(as_of, "2025-06-30"), Some(12));
        assert_eq!(month_after(as_of, "2024-06"), None);
        assert_eq!(month_after(as_of, "2024-13"), None);
        assert_eq!(month_after(as_of, "07-31-2024"), Some(1));
    }
}
