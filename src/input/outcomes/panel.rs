//! The panel tape: an EX-102 row with its following months appended as numbered columns, read by
//! the file line of the loan's row.
//!
//! Read by the loader's own reader ([`ChunkReader`]), so a row's line is the line its loan was read
//! from whatever the line ends (LF or CRLF); a bad cell (not an amount, not UTF-8, a balance below 0)
//! rejects its row, and the rest of the file is read.

use super::history::{
    Amount, MonthFields, MonthRecord, OutcomeReject, Outcomes, RuleColumns, Slot, Span,
};
use crate::error::InputError;
use crate::input::conventions::Conventions;
use crate::input::reader::{ChunkReader, Header, Row, CHUNK_BYTES};
use crate::money::parse_amount;
use rust_decimal::Decimal;
use std::path::Path;

/// The month families of a panel: balance, principal collected, amount paid, recoveries and
/// repossession proceeds, each `<family><k>` for k = 1 … K.
const FAMILIES: [&str; 5] = ["BAL", "PRC", "PMT", "REC", "REP"];

/// The columns of one panel month.
struct PanelMonth {
    balance: usize,
    principal: Option<usize>,
    paid: Option<usize>,
    recoveries: Option<usize>,
    repossession: Option<usize>,
}

fn open(path: &Path) -> Result<(ChunkReader, Header), InputError> {
    ChunkReader::open(path, CHUNK_BYTES, Box::new(|_| {}))
}

/// Whether a file's header is a panel tape's (it has `BAL1`).
pub fn is_panel(path: &Path) -> Result<bool, InputError> {
    let (_, header) = open(path)?;
    Ok(header.names.iter().any(|h| h == "BAL1"))
}

/// Reads a panel tape's monthly columns.
pub fn read_panel(path: &Path, conventions: &Conventions) -> Result<Outcomes, InputError> {
    let (reader, header) = open(path)?;
    let names = &header.names;
    let (months, columns) = panel_months(path, names)?;
    let paid0 = names.iter().position(|h| h == "totalActualAmountPaid");
    let mut out = Outcomes {
        months_of_data: months.len() as u32,
        records: vec![Vec::new()],
        rules: columns.rules(path)?,
        ..Outcomes::default()
    };
    for chunk in reader.without_hash() {
        chunk?.for_each_row(|row| {
            out.rows_read += 1;
            let mut cell = Cell {
                row: &row,
                names,
                conventions,
                problem: None,
            };
            let month0_paid = Amount::of(cell.amount(paid0));
            let fields: Vec<MonthFields> = months.iter().map(|m| m.fields(&mut cell)).collect();
            match cell.problem {
                Some((field, reason)) => out
                    .rejects
                    .push(OutcomeReject::new(path, row.line, &field, &reason)),
                None => add_history(&mut out, row.line, month0_paid, &fields),
            }
        });
    }
    Ok(out)
}

/// The columns of each month the panel has: BAL1 … BALK, and of each other family it has, the same
/// months. A family that skips a month, repeats one or ends at another month than BAL is refused:
/// read as it is, the months after the gap would be cut off (or shifted) without a word.
fn panel_months(
    path: &Path,
    names: &[String],
) -> Result<(Vec<PanelMonth>, RuleColumns), InputError> {
    let months_of = |family: &str| -> Vec<(u32, usize)> {
        let mut ks: Vec<(u32, usize)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let digits = n.strip_prefix(family)?;
                let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
                Some((all_digits.then(|| digits.parse().ok()).flatten()?, i))
            })
            .collect();
        ks.sort_unstable();
        ks
    };
    let families: Vec<Vec<(u32, usize)>> = FAMILIES.iter().map(|f| months_of(f)).collect();
    let k = families[0].len() as u32;
    if k == 0 {
        return Err(InputError::Outcomes {
            path: path.to_path_buf(),
            reason: "no outcome columns: a panel tape has BAL1, PRC1, PMT1, REC1, REP1, BAL2, … \
                     Fix: pass the panel tape, or loan-month records with --outcomes"
                .into(),
        });
    }
    for (family, ks) in FAMILIES.iter().zip(&families) {
        check_family(path, family, ks, k)?;
    }
    let at = |f: usize, m: usize| families[f].get(m).map(|&(_, i)| i);
    let months = (0..k as usize)
        .map(|m| PanelMonth {
            balance: families[0][m].1,
            principal: at(1, m),
            paid: at(2, m),
            recoveries: at(3, m),
            repossession: at(4, m),
        })
        .collect();
    let has = |f: usize| !families[f].is_empty();
    let columns = RuleColumns {
        balance: true,
        principal_paid: has(1),
        amount_paid: has(2),
        charged_off: false,
        recoveries: has(3),
        repossession_proceeds: has(4),
        days_past_due: false,
    };
    Ok((months, columns))
}

/// A family's months, sorted, must be exactly 1 … `k` (or absent altogether).
fn check_family(path: &Path, family: &str, ks: &[(u32, usize)], k: u32) -> Result<(), InputError> {
    if ks.is_empty() {
        return Ok(());
    }
    let mut expected = 1u32;
    let mut problem = None;
    for &(month, _) in ks {
        if month != expected {
            problem = Some(match month < expected {
                true => format!("column {family}{month} appears twice"),
                false => {
                    format!("column {family}{expected} is missing (the panel has {family}{month})")
                }
            });
            break;
        }
        expected += 1;
    }
    if problem.is_none() && expected - 1 != k {
        problem = Some(format!(
            "{family} runs to month {} but BAL to month {k}",
            expected - 1
        ));
    }
    match problem {
        None => Ok(()),
        Some(p) => Err(InputError::Outcomes {
            path: path.to_path_buf(),
            reason: format!(
                "{p}: every month family (BAL, PRC, PMT, REC, REP) the panel has runs 1 … K without a \
                 gap. Fix: restore the column, or cut every family at the same month"
            ),
        }),
    }
}

impl PanelMonth {
    /// This month's fields of a row.
    fn fields(&self, cell: &mut Cell<'_, '_>) -> MonthFields {
        let balance = cell.amount(Some(self.balance));
        if balance.is_some_and(|b| b < Decimal::ZERO) {
            cell.fail(Some(self.balance), "a balance below 0".into());
        }
        MonthFields {
            balance: Amount::of(balance),
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
struct Cell<'a, 'r> {
    row: &'r Row<'a>,
    names: &'r [String],
    conventions: &'r Conventions,
    problem: Option<(String, String)>,
}

impl Cell<'_, '_> {
    fn amount(&mut self, column: Option<usize>) -> Option<Decimal> {
        let bytes = self.row.get(column?)?;
        let Ok(text) = std::str::from_utf8(bytes) else {
            let shown = String::from_utf8_lossy(bytes).into_owned();
            self.fail(column, format!("not UTF-8 text: `{shown}`"));
            return None;
        };
        let t = text.trim();
        if t.is_empty() || self.conventions.is_missing(t) {
            return None;
        }
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
