//! Outcome records: what happened to each account in the months after as_of, for the backtest.
//!
//! Two forms:
//! - a **panel tape**: an EX-102 row whose following months are appended as numbered columns
//!   (`BALk`, `PRCk`, `PMTk`, `RECk`, `REPk` for month k = 1, 2, …); the row's own
//!   `totalActualAmountPaid` is month 0's payment. Read by file line, so it joins the loan read from
//!   the same line;
//! - **loan-month records** in underwater's names, one row per account per month after as_of:
//!   `account_id, month (YYYY-MM), balance, principal_paid, amount_paid, charged_off, recoveries,
//!   repossession_proceeds, days_past_due` (each but the first two optional). Read by account id.
//!
//! A bad field, a month at or before as_of, a repeated account-month or a record after a missing month
//! is a reject with the file, line, field and reason; the rest of the file is read.

use crate::date::Date;
use crate::error::InputError;
use crate::input::tape::Dialect;
use crate::money::parse_amount;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

/// One month of an account's records (month k ≥ 1 after as_of); `None`: no figure that month.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthRecord {
    /// The balance at the month's end; `None`: no record that month.
    pub balance: Option<Decimal>,
    pub principal_paid: Option<Decimal>,
    pub amount_paid: Option<Decimal>,
    pub charged_off: Option<Decimal>,
    pub recoveries: Option<Decimal>,
    pub repossession_proceeds: Option<Decimal>,
    pub days_past_due: Option<u32>,
}

impl MonthRecord {
    /// Money came back this month (recoveries or sale proceeds, negative costs included).
    pub fn recovered(&self) -> Decimal {
        self.recoveries.unwrap_or_default() + self.repossession_proceeds.unwrap_or_default()
    }

    /// Rule (a): a charge-off, repossession proceeds or recoveries other than 0.
    pub fn charge_off_event(&self) -> bool {
        [
            self.charged_off,
            self.recoveries,
            self.repossession_proceeds,
        ]
        .iter()
        .any(|a| a.is_some_and(|a| !a.is_zero()))
    }

    pub fn paid(&self) -> bool {
        self.amount_paid.is_some_and(|p| p > Decimal::ZERO)
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
    /// Loan-month records: by account id.
    pub by_account: FxHashMap<String, History>,
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
                    balance: cell.amount(m.balance),
                    principal_paid: cell.amount(m.principal),
                    amount_paid: cell.amount(m.paid),
                    charged_off: None,
                    recoveries: cell.amount(m.recoveries),
                    repossession_proceeds: cell.amount(m.repossession),
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

    fn count(&mut self, column: Option<usize>) -> Option<u32> {
        let t = self.text(column)?;
        match t.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.fail(column, format!("not a whole number of days >= 0: `{t}`"));
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

/// One parsed loan-month row.
struct RecordRow {
    id: String,
    k: u32,
    line: u64,
    month: MonthRecord,
}

/// Reads loan-month records (one row per account per month after `as_of`).
pub fn read_records(path: &Path, as_of: Date, dialect: &Dialect) -> Result<Outcomes, InputError> {
    let mut r = open(path)?;
    let names = headers(path, &mut r)?;
    let cols: Vec<Option<usize>> = RECORD_COLUMNS
        .iter()
        .map(|c| names.iter().position(|h| h == c))
        .collect();
    if cols[0].is_none() || cols[1].is_none() {
        return Err(InputError::Outcomes {
            path: path.to_path_buf(),
            reason: "loan-month records need the columns account_id and month (YYYY-MM), then any \
                     of balance, principal_paid, amount_paid, charged_off, recoveries, \
                     repossession_proceeds, days_past_due. Fix: rename the columns"
                .into(),
        });
    }
    let mut out = Outcomes::default();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while r
        .read_record(&mut record)
        .map_err(|e| InputError::Outcomes {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
    {
        out.rows_read += 1;
        let line = record.position().map_or(0, |p| p.line());
        let reject = |field: &str, reason: String| OutcomeReject {
            file: path.to_path_buf(),
            line,
            field: field.into(),
            reason,
        };
        match record_row(&record, &names, &cols, dialect, as_of, line) {
            Ok(row) => rows.push(row),
            Err((field, reason)) => out.rejects.push(reject(&field, reason)),
        }
    }
    gather(path, rows, cols[8].is_some(), &mut out);
    // Records that stop before the data's last month: the loan left the pool then, as in a panel.
    for history in out.by_account.values_mut() {
        history
            .months
            .resize(out.months_of_data as usize, MonthRecord::default());
    }
    Ok(out)
}

fn record_row(
    record: &csv::StringRecord,
    names: &[String],
    cols: &[Option<usize>],
    dialect: &Dialect,
    as_of: Date,
    line: u64,
) -> Result<RecordRow, (String, String)> {
    let mut cell = Cell {
        record,
        names,
        dialect,
        problem: None,
    };
    let id = cell.text(cols[0]).unwrap_or("").to_string();
    if id.is_empty() {
        return Err(("account_id".into(), "empty".into()));
    }
    let month_text = cell.text(cols[1]).unwrap_or("");
    let k = month_after(as_of, month_text).ok_or_else(|| {
        (
            "month".to_string(),
            format!("not a month after as_of {as_of}: `{month_text}` (write YYYY-MM)"),
        )
    })?;
    let month = MonthRecord {
        balance: cell.amount(cols[2]),
        principal_paid: cell.amount(cols[3]),
        amount_paid: cell.amount(cols[4]),
        charged_off: cell.amount(cols[5]),
        recoveries: cell.amount(cols[6]),
        repossession_proceeds: cell.amount(cols[7]),
        days_past_due: cell.count(cols[8]),
    };
    match cell.problem {
        Some(p) => Err(p),
        None => Ok(RecordRow { id, k, line, month }),
    }
}

/// The month `text` (YYYY-MM, or a date in it) as months after as_of's; `None` if not after it.
fn month_after(as_of: Date, text: &str) -> Option<u32> {
    let date = Date::parse(text).or_else(|| Date::parse(&format!("{text}-01")))?;
    let (ya, ma, _) = as_of.ymd();
    let (y, m, _) = date.ymd();
    let k = (y - ya) * 12 + (m as i32 - ma as i32);
    u32::try_from(k).ok().filter(|&k| k >= 1)
}

/// Orders each account's months; a repeated month or a gap rejects the rows from there on.
fn gather(path: &Path, mut rows: Vec<RecordRow>, has_dpd: bool, out: &mut Outcomes) {
    rows.sort_by(|a, b| {
        a.id.cmp(&b.id)
            .then(a.k.cmp(&b.k))
            .then(a.line.cmp(&b.line))
    });
    let mut i = 0;
    while i < rows.len() {
        let mut j = i;
        while j < rows.len() && rows[j].id == rows[i].id {
            j += 1;
        }
        let mut history = History {
            month0_paid: None,
            months: Vec::new(),
            has_days_past_due: has_dpd,
        };
        for row in &rows[i..j] {
            let expected = history.months.len() as u32 + 1;
            if row.k != expected {
                let reason = if row.k < expected {
                    format!("month {} repeats a month of account {}", row.k, row.id)
                } else {
                    format!(
                        "account {} has no record for month {expected} after as_of: a record set \
                         must not skip a month",
                        row.id
                    )
                };
                out.rejects.push(OutcomeReject {
                    file: path.to_path_buf(),
                    line: row.line,
                    field: "month".into(),
                    reason,
                });
                continue;
            }
            history.months.push(row.month.clone());
        }
        out.months_of_data = out.months_of_data.max(history.months.len() as u32);
        out.by_account.insert(rows[i].id.clone(), history);
        i = j;
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
    }
}
