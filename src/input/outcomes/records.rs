//! Loan-month records: one row per account per month after as_of, read in parallel blocks by the
//! loader's own reader and joined to the book's loans by account id as they are read.

use super::history::{
    Amount, MonthFields, MonthRecord, OutcomeReject, Outcomes, RuleColumns, Slot, Span,
};
use crate::date::Date;
use crate::error::InputError;
use crate::input::conventions::Conventions;
use crate::input::reader::{Chunk, ChunkReader, Header, Row, CHUNK_BYTES};
use rustc_hash::FxHashMap;
use std::path::Path;

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

/// Where a parsed row belongs: the book's loan, its month after as_of and its file line.
#[derive(Clone, Copy)]
struct RowKey {
    loan: u32,
    k: u32,
    line: u64,
}

/// What one block of a records file gave: its accepted rows' keys and months, side by side.
#[derive(Default)]
struct Block {
    keys: Vec<RowKey>,
    months: Vec<MonthRecord>,
    rejects: Vec<OutcomeReject>,
    read: u64,
    not_in_book: u64,
}

/// The columns of a records file, under either set of names.
struct Columns {
    names: &'static [&'static str; 9],
    /// Each of [`RECORD_COLUMNS`]' place in the file.
    at: Vec<Option<usize>>,
}

impl Columns {
    fn of(path: &Path, header: &Header) -> Result<Columns, InputError> {
        let names = match header.find("account_id") {
            None if header.find("assetNumber").is_some() => &EX102_RECORD_COLUMNS,
            _ => &RECORD_COLUMNS,
        };
        let at: Vec<Option<usize>> = names.iter().map(|c| header.find(c)).collect();
        if at[0].is_none() || at[1].is_none() {
            return Err(InputError::Outcomes {
                path: path.to_path_buf(),
                reason: "loan-month records need the columns account_id and month (YYYY-MM), then \
                         any of balance, principal_paid, amount_paid, charged_off, recoveries, \
                         repossession_proceeds, days_past_due. Fix: rename the columns"
                    .into(),
            });
        }
        Ok(Columns { names, at })
    }

    /// Which of the rules' fields the file carries.
    fn rule_columns(&self) -> RuleColumns {
        let has = |i: usize| self.at[i].is_some();
        RuleColumns {
            balance: has(2),
            principal_paid: has(3),
            amount_paid: has(4),
            charged_off: has(5),
            recoveries: has(6),
            repossession_proceeds: has(7),
            days_past_due: has(8),
        }
    }
}

/// What reading a block needs.
struct Reading<'a> {
    path: &'a Path,
    as_of: Date,
    conventions: &'a Conventions,
    ids: &'a FxHashMap<&'a str, u32>,
    columns: Columns,
}

/// Reads loan-month records (one row per account per month after `as_of`), in parallel blocks as the
/// loans are read; `ids` maps the book's account ids to their loans (of `loans`).
pub fn read_records(
    path: &Path,
    as_of: Date,
    conventions: &Conventions,
    ids: &FxHashMap<&str, u32>,
    loans: usize,
) -> Result<Outcomes, InputError> {
    use rayon::prelude::*;
    let (reader, header) = ChunkReader::open(path, CHUNK_BYTES, Box::new(|_| {}))?;
    let columns = Columns::of(path, &header)?;
    let rules = columns.rule_columns().rules(path)?;
    let reading = Reading {
        path,
        as_of,
        conventions,
        ids,
        columns,
    };
    let mut blocks: Vec<Block> = reader
        .without_hash()
        .par_bridge()
        .map(|chunk| Ok(read_block(&chunk?, &reading)))
        .collect::<Result<_, InputError>>()?;
    let mut out = Outcomes {
        rules,
        ..Outcomes::default()
    };
    for b in &mut blocks {
        out.rows_read += b.read;
        out.rejects.append(&mut b.rejects);
        out.rows_not_in_book += b.not_in_book;
    }
    place(path, &blocks, loans, &mut out);
    out.records = blocks.into_iter().map(|b| b.months).collect();
    out.rejects.sort_by_key(|r| r.line);
    Ok(out)
}

/// Reads one block of rows.
fn read_block(chunk: &Chunk, reading: &Reading<'_>) -> Block {
    // About 50 bytes a record: sized once, as growing by doubling copies every row.
    let rows = chunk.bytes.len() / 32;
    let mut out = Block {
        keys: Vec::with_capacity(rows),
        months: Vec::with_capacity(rows),
        ..Block::default()
    };
    let (cols, names) = (&reading.columns.at, reading.columns.names);
    let mut ids = LastId::new(reading.ids);
    chunk.for_each_row(|row| {
        out.read += 1;
        let cells = RowCells {
            row: &row,
            conventions: reading.conventions,
        };
        match record_row(&cells, cols, reading.as_of, &mut ids) {
            Ok(Some((loan, k, month))) => {
                let line = row.line;
                out.keys.push(RowKey { loan, k, line });
                out.months.push(month);
            }
            Ok(None) => out.not_in_book += 1,
            Err((field, reason)) => out.rejects.push(OutcomeReject::new(
                reading.path,
                row.line,
                names.get(field).copied().unwrap_or(""),
                &reason,
            )),
        }
    });
    out
}

/// The book's loan of an account id, remembering the last one: a file's records usually come
/// account by account, so most rows skip the hash.
struct LastId<'a> {
    ids: &'a FxHashMap<&'a str, u32>,
    last: Option<(String, Option<u32>)>,
}

impl<'a> LastId<'a> {
    fn new(ids: &'a FxHashMap<&'a str, u32>) -> LastId<'a> {
        LastId { ids, last: None }
    }

    fn get(&mut self, id: &str) -> Option<u32> {
        match &self.last {
            Some((last, loan)) if last == id => *loan,
            _ => {
                let loan = self.ids.get(id).copied();
                self.last = Some((id.to_string(), loan));
                loan
            }
        }
    }
}

/// The text cells of one row (empty and the missing words are `None`).
struct RowCells<'a, 'r> {
    row: &'r Row<'a>,
    conventions: &'r Conventions,
}

impl RowCells<'_, '_> {
    /// Field `f`'s text at `column`; a cell that is not UTF-8 is the row's problem, as in the loans.
    fn text(&self, f: usize, column: Option<usize>) -> Result<Option<&str>, RowProblem> {
        let Some(bytes) = column.and_then(|c| self.row.get(c)) else {
            return Ok(None);
        };
        let t = std::str::from_utf8(bytes)
            .map_err(|_| {
                let shown = String::from_utf8_lossy(bytes);
                (f, format!("not UTF-8 text: `{shown}`"))
            })?
            .trim();
        Ok((!t.is_empty() && !self.conventions.is_missing(t)).then_some(t))
    }
}

/// A problem with a row: the index of its field in [`RECORD_COLUMNS`] and the reason.
type RowProblem = (usize, String);

/// One row: `Ok(None)` for an account not in the book.
fn record_row(
    cells: &RowCells<'_, '_>,
    cols: &[Option<usize>],
    as_of: Date,
    ids: &mut LastId<'_>,
) -> Result<Option<(u32, u32, MonthRecord)>, RowProblem> {
    let id = cells.text(0, cols[0])?.ok_or((0, "empty".to_string()))?;
    let month_text = cells.text(1, cols[1])?.unwrap_or("");
    let k = month_after(as_of, month_text).ok_or_else(|| {
        (
            1,
            format!("not a month after as_of {as_of}: `{month_text}` (write YYYY-MM)"),
        )
    })?;
    let Some(loan) = ids.get(id) else {
        return Ok(None);
    };
    let amount = |f: usize| -> Result<Amount, RowProblem> {
        cells
            .text(f, cols[f])?
            .map(|t| Amount::parse(t).map_err(|e| (f, format!("not an amount: `{t}` ({e})"))))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let days_past_due = cells
        .text(8, cols[8])?
        .map(|t| {
            t.parse()
                .map_err(|_| (8, format!("not a whole number of days >= 0: `{t}`")))
        })
        .transpose()?;
    let balance = amount(2)?;
    if balance
        .get()
        .is_some_and(|b| b < rust_decimal::Decimal::ZERO)
    {
        return Err((2, "a balance below 0".into()));
    }
    let month = MonthFields {
        balance,
        principal_paid: amount(3)?,
        amount_paid: amount(4)?,
        charged_off: amount(5)?,
        recoveries: amount(6)?,
        repossession_proceeds: amount(7)?,
        days_past_due,
    };
    // Every row is a record of its month, whatever it leaves empty.
    Ok(Some((loan, k, MonthRecord::of(&month, true))))
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

/// Lists each account's months in month order in `out.slots`, account after account. An account
/// whose months are 1, 2, … n once each (nearly all) takes its slots straight, without a sort; the
/// others are [`regather`]ed.
fn place(path: &Path, blocks: &[Block], loans: usize, out: &mut Outcomes) {
    let mut counts = vec![0u32; loans];
    for key in blocks.iter().flat_map(|b| &b.keys) {
        counts[key.loan as usize] += 1;
    }
    let mut start = 0;
    out.by_loan = counts
        .iter()
        .map(|&len| {
            let span = Span {
                start,
                len,
                month0_paid: Amount::NONE,
            };
            start += len as usize;
            (len > 0).then_some(span)
        })
        .collect();
    drop(counts);
    out.slots = vec![Slot::EMPTY; start];
    let mut misplaced = Vec::new();
    for (block, b) in blocks.iter().enumerate() {
        for (row, key) in b.keys.iter().enumerate() {
            let here = Slot {
                block: block as u32,
                row: row as u32,
            };
            // Every key's loan was counted above, so it has a span: not reachable from the input.
            let span = out.by_loan[key.loan as usize].expect("a span for every counted loan");
            let at = span.start + key.k as usize - 1;
            if key.k <= span.len && out.slots[at] == Slot::EMPTY {
                out.slots[at] = here;
            } else {
                misplaced.push((key.loan, here));
            }
        }
    }
    regather(path, blocks, misplaced, out);
    out.months_of_data = out
        .by_loan
        .iter()
        .flatten()
        .map(|s| s.len)
        .max()
        .unwrap_or(0);
}

/// The accounts with a repeated or a missing month: their rows ordered by month and line. Every row
/// of a repeated month is rejected (as every row of a repeated account id is in the loans: which row
/// is right cannot be told, and keeping the first would make the result depend on row order), and a
/// gap rejects the rows from there on. Their accepted months take the first of their slots.
fn regather(path: &Path, blocks: &[Block], mut misplaced: Vec<(u32, Slot)>, out: &mut Outcomes) {
    let key = |s: &Slot| blocks[s.block as usize].keys[s.row as usize];
    misplaced.sort_unstable_by_key(|m| m.0);
    let mut rest = &misplaced[..];
    while let Some(&(loan, _)) = rest.first() {
        let n = rest.iter().take_while(|m| m.0 == loan).count();
        let (theirs, after) = rest.split_at(n);
        rest = after;
        let Some(span) = out.by_loan[loan as usize].as_mut() else {
            continue;
        };
        let placed = &out.slots[span.start..span.start + span.len as usize];
        let mut rows: Vec<Slot> = placed
            .iter()
            .copied()
            .filter(|s| *s != Slot::EMPTY)
            .chain(theirs.iter().map(|m| m.1))
            .collect();
        rows.sort_unstable_by_key(|s| (key(s).k, key(s).line));
        let mut accepted = 0u32;
        let mut gap = false;
        for month in rows.chunk_by(|a, b| key(a).k == key(b).k) {
            let k = key(&month[0]).k;
            let reason = if month.len() > 1 {
                gap = true;
                format!(
                    "month {k} of this account is on {} rows: every row of a repeated account-month \
                     is rejected",
                    month.len()
                )
            } else if !gap && k == accepted + 1 {
                out.slots[span.start + accepted as usize] = month[0];
                accepted += 1;
                continue;
            } else {
                gap = true;
                format!(
                    "no usable record for month {} after as_of: a record set must not skip a month",
                    accepted + 1
                )
            };
            for slot in month {
                out.rejects
                    .push(OutcomeReject::new(path, key(slot).line, "month", &reason));
            }
        }
        span.len = accepted;
        if accepted == 0 {
            // Every row rejected: the account has no usable records (`no_outcome`), not an empty walk.
            out.by_loan[loan as usize] = None;
        }
    }
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

    /// Rows in any order over several blocks, with repeats and gaps, placed as a plain reference
    /// orders them: every row sorted by (account, month, line), months accepted while they run 1, 2,
    /// 3 … once each; every row of a repeated month, and anything after it or after a gap, rejected.
    #[test]
    fn placing_equals_sorting_every_row_for_rows_in_any_order_with_repeats_and_gaps() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let loans = 40;
        let mut rows: Vec<RowKey> = Vec::new();
        for loan in 0..loans as u32 {
            let months = next(9) as u32;
            for k in 1..=months {
                rows.push(RowKey { loan, k, line: 0 });
                if next(12) == 0 {
                    rows.push(RowKey { loan, k, line: 0 }); // a repeat
                }
            }
            if next(6) == 0 {
                rows.push(RowKey {
                    loan,
                    k: months + 2,
                    line: 0,
                }); // after a gap
            }
        }
        // Shuffle, then number the lines in file order.
        for i in (1..rows.len()).rev() {
            rows.swap(i, next(i as u64 + 1) as usize);
        }
        for (i, r) in rows.iter_mut().enumerate() {
            r.line = i as u64 + 2;
        }
        // Blocks of 7 rows, handed over out of order as the parallel reader may.
        let mut blocks: Vec<Block> = rows
            .chunks(7)
            .map(|c| Block {
                keys: c.to_vec(),
                months: c
                    .iter()
                    .map(|r| {
                        MonthRecord::from(&MonthFields {
                            balance: Amount::parse(&r.line.to_string()).unwrap(),
                            ..MonthFields::default()
                        })
                    })
                    .collect(),
                ..Block::default()
            })
            .collect();
        blocks.reverse();
        let mut out = Outcomes::default();
        place(Path::new("r.csv"), &blocks, loans, &mut out);
        out.records = blocks.into_iter().map(|b| b.months).collect();

        let mut sorted = rows.clone();
        sorted.sort_by_key(|r| (r.loan, r.k, r.line));
        let mut expected: Vec<Vec<u64>> = vec![Vec::new(); loans];
        let mut rejected = Vec::new();
        let mut broken = vec![false; loans];
        for r in &sorted {
            let l = r.loan as usize;
            let repeated = sorted
                .iter()
                .filter(|o| o.loan == r.loan && o.k == r.k)
                .count()
                > 1;
            broken[l] |= repeated || r.k as usize != expected[l].len() + 1;
            match broken[l] {
                false => expected[l].push(r.line),
                true => rejected.push(r.line),
            }
        }
        for (loan, lines) in expected.iter().enumerate() {
            let got: Vec<u64> = match out.history(loan, 0) {
                None => Vec::new(),
                Some(h) => h
                    .records_from(1)
                    .map(|m| m.balance.get().unwrap().trunc().try_into().unwrap())
                    .collect(),
            };
            assert_eq!(&got, lines, "loan {loan}");
        }
        let mut got: Vec<u64> = out.rejects.iter().map(|r| r.line).collect();
        got.sort_unstable();
        rejected.sort_unstable();
        assert_eq!(got, rejected);
        assert!(!rejected.is_empty(), "the rows have repeats and gaps");
        let longest = expected.iter().map(Vec::len).max().unwrap() as u32;
        assert_eq!(out.months_of_data, longest);
    }
}
