//! Account ids: every row of an id that appears more than once is rejected (none is silently picked),
//! and a tape's ids that different loans share are told apart. Also the output order (by account id,
//! then line) that every per-account file follows.

use crate::error::InputError;
use crate::input::frame::InputRef;
use crate::input::load::{InputKind, Loan, Reject};
use rayon::prelude::*;
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

/// Account ids that several different loans of a tape share.
#[derive(Clone, Copy, Debug, Default)]
pub struct SharedIds {
    pub ids: u64,
    pub rows: u64,
}

/// Tapes re-published by researchers can carry ids that went through a floating-point column, so
/// different loans share one id (every World Omni 2020-A assetNumber is a multiple of 128). In a tape,
/// rows that share an id but differ in their terms (origination date, amount financed, term, origination
/// value, balance) are different loans: each is kept as `<id>#<n>`, numbered in file order (skipping an `<id>#<n>` the
/// tape itself has), so no one mistakes it for the filer's id. If any two rows of an id agree on all of those, the id is left alone
/// and `reject_duplicates` rejects all its rows as duplicates.
pub fn disambiguate_ids(loans: &mut [Loan]) -> SharedIds {
    let order = output_order(loans);
    let mut shared = SharedIds::default();
    // Ids the tape already has with a `#`: a generated `<id>#<n>` skips them (a tape id `5#1` once
    // collided with the `5#1` made for the first of several loans sharing `5`). Read only when needed.
    let mut taken: Option<FxHashSet<String>> = None;
    let mut start = 0;
    while start < order.len() {
        let id = |k: usize| loans[order[k] as usize].account_id_bytes();
        let mut end = start + 1;
        while end < order.len() && id(end) == id(start) {
            end += 1;
        }
        let group = &order[start..end];
        // The terms of the loan tell loans apart (not, say, an R row-number column).
        let distinct = group.len() > 1 && {
            let mut seen = FxHashSet::default();
            group.iter().map(|&i| &loans[i as usize]).all(|l| {
                seen.insert((
                    l.origination_date,
                    l.amount_financed,
                    l.term_months,
                    l.origination_value(),
                    l.balance,
                    l.vin(),
                ))
            })
        };
        if distinct {
            shared.ids += 1;
            shared.rows += group.len() as u64;
            let taken = taken.get_or_insert_with(|| {
                loans
                    .iter()
                    .filter(|l| l.account_id().contains('#'))
                    .map(|l| l.account_id().to_string())
                    .collect()
            });
            let mut n = 0;
            for &i in group {
                let loan = &mut loans[i as usize];
                let id = loop {
                    n += 1;
                    let id = format!("{}#{}", loan.account_id(), n);
                    if taken.insert(id.clone()) {
                        break id;
                    }
                };
                loan.set_account_id(&id);
            }
        }
        start = end;
    }
    shared
}

/// Loan indices in output order: by account id, then file line.
pub fn output_order(loans: &[Loan]) -> Vec<u32> {
    sorted_keys(loans).into_iter().map(SortKey::index).collect()
}

/// A loan's id prefix and index in one integer: the id's first [`SortKey::PREFIX`] bytes, big-endian
/// and zero-padded (integer order is byte order, and a shorter id sorts first), above the index.
/// 16 bytes a loan instead of 32 for a prefix and an index apart: at 10M loans the sort's keys were
/// the run's peak memory.
#[derive(Clone, Copy)]
struct SortKey(u128);

impl SortKey {
    const PREFIX: usize = 12;

    fn of(id: &[u8], index: u32) -> SortKey {
        let mut b = [0u8; 16];
        let n = id.len().min(Self::PREFIX);
        b[..n].copy_from_slice(&id[..n]);
        b[12..].copy_from_slice(&index.to_be_bytes());
        SortKey(u128::from_be_bytes(b))
    }

    fn prefix(self) -> u128 {
        self.0 >> 32
    }

    fn index(self) -> u32 {
        self.0 as u32
    }
}

/// Each loan's id prefix and index, in output order.
///
/// The loans themselves stay where they are: sorting id prefixes with an index is far cheaper than
/// moving loans, and ties (ids sharing their first 12 bytes) fall back to the whole id. Neighbours with
/// different prefixes have different ids, so a duplicate scan reads loans only on a prefix tie.
fn sorted_keys(loans: &[Loan]) -> Vec<SortKey> {
    let mut keys: Vec<SortKey> = loans
        .par_iter()
        .enumerate()
        .map(|(i, l)| SortKey::of(l.account_id_bytes(), i as u32))
        .collect();
    keys.par_sort_unstable_by(|a, b| {
        a.prefix().cmp(&b.prefix()).then_with(|| {
            let (x, y) = (&loans[a.index() as usize], &loans[b.index() as usize]);
            x.account_id_bytes()
                .cmp(y.account_id_bytes())
                .then(x.line.cmp(&y.line))
        })
    });
    keys
}

/// The loans of a book with every row of a repeated account id taken out.
pub struct Deduplicated {
    /// The loans kept.
    pub loans: Vec<Loan>,
    /// Indices into `loans` in output order (see [`output_order`]).
    pub order: Vec<u32>,
    /// Every loan reject: the parser's, then one per row of a repeated id.
    pub rejects: Vec<Reject>,
    /// Rows rejected for a repeated id.
    pub duplicate_rows: u64,
}

/// Whether a rejected row's account id counts toward the id's repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectedRows {
    /// It does: an id on an accepted row and on a rejected one is a repeated id (underwater's own CSV).
    ShareTheirIds,
    /// It does not (a tape, whose ids are not reliable enough to tie a rejected row to an accepted one).
    Apart,
}

/// Rejects every row of an account id that appears more than once (among accepted rows, and among
/// rejected rows too when they [`RejectedRows::ShareTheirIds`]).
pub fn reject_duplicates(
    loans: Vec<Loan>,
    rejected: Vec<(Option<Box<str>>, Reject)>,
    rejected_rows: RejectedRows,
) -> Deduplicated {
    let keys = sorted_keys(&loans);
    let mut lines_by_id: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let rejected_ids: FxHashSet<&str> = rejected
        .iter()
        .filter(|_| rejected_rows == RejectedRows::ShareTheirIds)
        .filter_map(|(id, _)| id.as_deref())
        .collect();
    for w in keys.windows(2) {
        if w[0].prefix() != w[1].prefix() {
            continue;
        }
        let (a, b) = (&loans[w[0].index() as usize], &loans[w[1].index() as usize]);
        if a.account_id_bytes() == b.account_id_bytes() {
            lines_by_id.entry(a.account_id()).or_default();
        }
    }
    let order: Vec<u32> = keys.into_iter().map(SortKey::index).collect();
    if !rejected_ids.is_empty() {
        for l in &loans {
            if rejected_ids.contains(l.account_id()) {
                lines_by_id.entry(l.account_id()).or_default();
            }
        }
    }
    // A clean book has no repeated id: nothing more to look up.
    if lines_by_id.is_empty() {
        return Deduplicated {
            loans,
            order,
            rejects: rejected.into_iter().map(|(_, r)| r).collect(),
            duplicate_rows: 0,
        };
    }
    for (id, r) in &rejected {
        if let Some(lines) = id.as_deref().and_then(|id| lines_by_id.get_mut(id)) {
            lines.push(r.line);
        }
    }
    for l in &loans {
        if let Some(lines) = lines_by_id.get_mut(l.account_id()) {
            lines.push(l.line);
        }
    }
    let dup_reasons = duplicate_reasons(lines_by_id);
    let mut rejects: Vec<Reject> = rejected.into_iter().map(|(_, r)| r).collect();
    let mut kept = Vec::with_capacity(loans.len());
    let mut duplicates = 0;
    for loan in loans {
        match dup_reasons.get(loan.account_id()) {
            Some(reason) => {
                duplicates += 1;
                rejects.push(Reject {
                    input: InputKind::Loans,
                    line: loan.line,
                    field: "account_id".into(),
                    reason: reason.clone(),
                    // Filled in by `fill_raw_records`: accepted rows do not keep their raw text.
                    raw: String::new(),
                });
            }
            None => kept.push(loan),
        }
    }
    let order = output_order(&kept);
    Deduplicated {
        loans: kept,
        order,
        rejects,
        duplicate_rows: duplicates,
    }
}

/// Each repeated id's reject reason, naming the lines it appears on (the first ten).
fn duplicate_reasons(lines_by_id: BTreeMap<&str, Vec<u64>>) -> BTreeMap<String, String> {
    lines_by_id
        .into_iter()
        .map(|(id, mut lines)| {
            lines.sort_unstable();
            let shown: Vec<String> = lines.iter().take(10).map(|l| l.to_string()).collect();
            let more = if lines.len() > 10 { ", …" } else { "" };
            (
                id.to_string(),
                format!(
                    "duplicate account_id: appears on {} rows (lines {}{more}); every row of a repeated id is rejected",
                    lines.len(),
                    shown.join(", ")
                ),
            )
        })
        .collect()
}

/// Reads the raw text of rejects that lack it (duplicates of accepted rows) with a second pass over the
/// loans input; only runs when there are duplicates, which a clean book does not have.
pub fn fill_raw_records(
    input: InputRef<'_>,
    line_of: &dyn Fn(u64) -> u64,
    rejects: &mut [Reject],
) -> Result<(), InputError> {
    let wanted: FxHashSet<u64> = rejects
        .iter()
        .filter(|r| r.raw.is_empty())
        .map(|r| r.line)
        .collect();
    let mut found = input.raw_records(&wanted, line_of)?;
    for r in rejects.iter_mut().filter(|r| r.raw.is_empty()) {
        if let Some(raw) = found.remove(&r.line) {
            r.raw = raw;
        }
    }
    Ok(())
}
