//! The panel tape: an EX-102 row with its following months appended as numbered columns, read by
//! the file line of the loan's row.

use super::history::{Amount, MonthFields, MonthRecord, OutcomeReject, Outcomes, Slot, Span};
use crate::error::InputError;
use crate::input::tape::Dialect;
use crate::money::parse_amount;
use rust_decimal::Decimal;
use std::path::Path;

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
    let months = panel_months(path, &names)?;
    let paid0 = names.iter().position(|h| h == "totalActualAmountPaid");
    let mut out = Outcomes {
        months_of_data: months.len() as u32,
        records: vec![Vec::new()],
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
        let month0_paid = Amount::of(cell.amount(paid0));
        let fields: Vec<MonthFields> = months.iter().map(|m| m.fields(&mut cell)).collect();
        match cell.problem {
            Some((field, reason)) => out.rejects.push(OutcomeReject {
                file: path.to_path_buf(),
                line,
                field,
                reason,
            }),
            None => add_history(&mut out, line, month0_paid, &fields),
        }
    }
    Ok(out)
}

/// The columns of each month the panel has: BAL1, PRC1, … while a BALk column follows.
fn panel_months(path: &Path, names: &[String]) -> Result<Vec<PanelMonth>, InputError> {
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
    Ok(months)
}

impl PanelMonth {
    /// This month's fields of a row.
    fn fields(&self, cell: &mut Cell<'_>) -> MonthFields {
        MonthFields {
            balance: Amount::of(cell.amount(self.balance)),
            principal_paid: Amount::of(cell.amount(self.principal)),
            amount_paid: Amount::of(cell.amount(self.paid)),
            charged_off: Amount::NONE,
            recoveries: Amount::of(cell.amount(self.recoveries)),
            repossession_proceeds: Amount::of(cell.amount(self.repossession)),
            days_past_due: None,
        }
    }
}

/// Keeps a row's months as the history of the loan on file line `line`.
fn add_history(out: &mut Outcomes, line: u64, month0_paid: Amount, fields: &[MonthFields]) {
    let start = out.slots.len();
    let records = &mut out.records[0];
    for m in fields {
        let row = records.len() as u32;
        records.push(MonthRecord::from(m));
        out.slots.push(Slot { block: 0, row });
    }
    let span = Span {
        start,
        len: fields.len() as u32,
        month0_paid,
    };
    out.by_line.insert(line, span);
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
