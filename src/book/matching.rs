//! Matching each loan to the valuation of its vehicle as of the run date.
//!
//! Rule: among a VIN's valuations dated on or before `as_of`, take the latest; on a tie of dates take the
//! lowest value (the conservative choice for a risk report), then the lowest source name, so the choice
//! never depends on file order. Valuations dated after `as_of` are ignored and counted.
//!
//! The valuations file is streamed (read by [`crate::input::valuations`], its rows parsed there): only the
//! best candidate per VIN of the book is kept, so memory is bounded by the book, not by the valuations
//! file.

use super::vin_index::{Probe, VinIndex};
use crate::date::Date;
use crate::error::InputError;
use crate::input::conventions::Conventions;
use crate::input::frame::InputRef;
use crate::input::load::rows::{parse_valuations, ValuationLayout};
use crate::input::load::{Loan, Reject};
use crate::input::reader::{Chunk, FileFacts};
use crate::input::valuations;
use crate::input::valuations::{Source, Valuation};
use crate::input::RowCounts;
use crate::progress::Progress;
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::Mutex;

/// `Less` when `(date, value, source)` is the better choice than `other`'s: the later date, then the
/// lower value, then the lower source name.
fn preference(date: Date, value: Decimal, source: &str, other: &Valuation) -> Ordering {
    other
        .date
        .cmp(&date)
        .then(value.cmp(&other.value))
        .then(source.cmp(&*other.source))
}

/// Counts from matching, for the data-quality report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchCounts {
    /// Accepted valuation rows dated after as_of (ignored).
    pub future_dated: u64,
    /// Accepted valuation rows for VINs not in the book.
    pub vin_not_in_book: u64,
    /// Accepted valuation rows that were candidates for a loan of the book.
    pub candidates: u64,
}

impl MatchCounts {
    fn add(&mut self, o: MatchCounts) {
        self.future_dated += o.future_dated;
        self.vin_not_in_book += o.vin_not_in_book;
        self.candidates += o.candidates;
    }
}

/// What one chunk of the valuations file gave.
pub struct ValuationBatch {
    pub rows: u64,
    pub rejects: Vec<Reject>,
    pub best: Vec<(u32, Valuation)>,
    pub counts: MatchCounts,
}

/// A run of consecutive rows of one VIN, reduced to its best candidate, waiting for its lookup.
struct Pending {
    probe: Probe,
    rows: u64,
    best: (Date, Decimal, Source),
}

/// How many VINs ahead of its lookup a VIN's slots are asked of the cache. Not tuned: 8 VINs are
/// about 24 rows to parse, time for the loads to arrive, and their few lines are still in L1 when
/// used.
const LOOKUPS_AHEAD: usize = 8;

/// Parses one chunk and keeps, per VIN of the book, its best candidate within the chunk.
///
/// Valuation exports list a vehicle's valuations together (by VIN, then date): a run of rows of one
/// VIN is one lookup, of its best row. The lookups are made [`LOOKUPS_AHEAD`] VINs after they are known
/// ([`VinIndex::prefetch`]): at random places of a table larger than the cache, each was two misses
/// the core waited on. A VIN that comes back later in the chunk is a second entry, which
/// [`merge_best`] settles by the same rule.
pub fn match_chunk(
    chunk: &Chunk,
    layout: &ValuationLayout,
    index: &VinIndex<'_>,
    as_of: Date,
) -> ValuationBatch {
    let mut counts = MatchCounts::default();
    let mut best: Vec<(u32, Valuation)> = Vec::new();
    let mut sources: rustc_hash::FxHashSet<Source> = Default::default();
    let mut intern = |source: &str| match sources.get(source) {
        Some(shared) => shared.clone(),
        None => {
            let shared = Source::from(source);
            sources.insert(shared.clone());
            shared
        }
    };
    let mut resolve = |p: Pending| match index.find(&p.probe) {
        None => counts.vin_not_in_book += p.rows,
        Some(id) => {
            counts.candidates += p.rows;
            let (date, value, source) = p.best;
            best.push((
                id,
                Valuation {
                    date,
                    value,
                    source,
                    estimated: false,
                },
            ));
        }
    };
    let mut future_dated = 0;
    let mut pending: VecDeque<Pending> = VecDeque::with_capacity(LOOKUPS_AHEAD + 1);
    let mut last_vin: Vec<u8> = Vec::new();
    let (rows, rejects) = parse_valuations(chunk, layout, |v| {
        if v.date > as_of {
            future_dated += 1;
            return;
        }
        if let Some(run) = pending.back_mut().filter(|_| last_vin == v.vin.as_bytes()) {
            run.rows += 1;
            let (date, value, source) = &run.best;
            let better = date
                .cmp(&v.date)
                .then(v.value.cmp(value))
                .then(v.source.cmp(&**source))
                == Ordering::Less;
            if better {
                run.best = (v.date, v.value, intern(v.source));
            }
            return;
        }
        last_vin.clear();
        last_vin.extend_from_slice(v.vin.as_bytes());
        let probe = index.probe(v.vin);
        index.prefetch(&probe);
        pending.push_back(Pending {
            probe,
            rows: 1,
            best: (v.date, v.value, intern(v.source)),
        });
        if pending.len() > LOOKUPS_AHEAD {
            if let Some(p) = pending.pop_front() {
                resolve(p);
            }
        }
    });
    pending.into_iter().for_each(&mut resolve);
    counts.future_dated = future_dated;
    ValuationBatch {
        rows,
        rejects,
        best,
        counts,
    }
}

/// Folds chunk results into the best valuation per VIN id. The rule is a total order, so the result
/// does not depend on the order batches arrive in.
pub fn merge_best(best: &mut [Option<Valuation>], counts: &mut MatchCounts, batch: ValuationBatch) {
    counts.add(batch.counts);
    for (id, v) in batch.best {
        let slot = &mut best[id as usize];
        match slot {
            Some(cur) if preference(v.date, v.value, &v.source, cur) != Ordering::Less => {}
            _ => *slot = Some(v),
        }
    }
}
/// The book's valuations: per VIN of the book, the one matched (if any), with what reading the file gave.
pub struct Matched {
    /// Per VIN id (see [`VinIndex`]): the matched valuation, None when no row qualified.
    pub best: Vec<Option<Valuation>>,
    /// Per loan: the id of its VIN.
    pub vin_ids: Vec<u32>,
    pub counts: MatchCounts,
    pub rows: RowCounts,
    /// Rejected valuation rows.
    pub rejects: Vec<Reject>,
    /// The file's size and sha256; None when there is no valuations file.
    pub file: Option<FileFacts>,
}

/// What the parallel match has gathered so far; chunks are folded in as they finish.
struct Folded {
    best: Vec<Option<Valuation>>,
    counts: MatchCounts,
    rows: RowCounts,
    rejects: Vec<Reject>,
}

/// The matching stage: streams the valuations file (when there is one), keeping only the best candidate
/// per VIN of the book.
pub fn match_valuations(
    input: Option<InputRef<'_>>,
    conventions: &Conventions,
    chunk_bytes: usize,
    loans: &[Loan],
    as_of: Date,
    progress: Progress,
) -> Result<Matched, InputError> {
    // The stage's time includes building the index, which only matching needs.
    let stage = input.map(|input| progress.bytes("valuations", input.size()));
    // Filling the best-valuation table (every page handed out and zeroed by the kernel) holds one core
    // while the other would wait: it runs beside the index build.
    let ((index, vin_ids), best) = rayon::join(
        || VinIndex::build(loans),
        || vec![None; VinIndex::slots_for(loans)],
    );
    debug_assert_eq!(best.len(), index.slots());
    let mut folded = Folded {
        best,
        counts: MatchCounts::default(),
        rows: RowCounts::default(),
        rejects: Vec::new(),
    };
    let (Some(input), Some(stage)) = (input, stage) else {
        return Ok(Matched {
            best: folded.best,
            vin_ids,
            counts: folded.counts,
            rows: folded.rows,
            rejects: folded.rejects,
            file: None,
        });
    };
    let bar = stage.bar();
    let (mut reader, layout) = valuations::open(
        input,
        conventions,
        chunk_bytes,
        Box::new(move |n| bar.inc(n)),
    )?;
    // Chunk results are folded in as they finish, in whatever order: the matching rule is a total
    // order and rejects are sorted at the end, so the outcome is the same, and at most a few chunks'
    // candidates are held at once (all of them would be about 1.5 GB for 30M valuations).
    let shared = Mutex::new(folded);
    (&mut reader)
        .par_bridge()
        .try_for_each(|chunk| -> Result<(), InputError> {
            let mut batch = match_chunk(&chunk?, &layout, &index, as_of);
            // A poisoned lock means another worker panicked; that panic is the error to report.
            let mut f = shared.lock().unwrap_or_else(|e| e.into_inner());
            f.rows.read += batch.rows;
            f.rows.rejected += batch.rejects.len() as u64;
            f.rejects.append(&mut batch.rejects);
            let Folded { best, counts, .. } = &mut *f;
            merge_best(best, counts, batch);
            Ok(())
        })?;
    let file = reader.finish();
    folded = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    folded.rows.accepted = folded.rows.read - folded.rows.rejected;
    stage.finish(&format!(
        "{} rows: {} accepted, {} rejected; {} dated after {} ignored",
        folded.rows.read,
        folded.rows.accepted,
        folded.rows.rejected,
        folded.counts.future_dated,
        as_of
    ));
    Ok(Matched {
        best: folded.best,
        vin_ids,
        counts: folded.counts,
        rows: folded.rows,
        rejects: folded.rejects,
        file: Some(file),
    })
}
