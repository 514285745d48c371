//! Matching each loan to the valuation of its vehicle as of the run date.
//!
//! Rule: among a VIN's valuations dated on or before `as_of`, take the latest; on a tie of dates take the
//! lowest value (the conservative choice for a risk report), then the lowest source name, so the choice
//! never depends on file order. Valuations dated after `as_of` are ignored and counted.
//!
//! The valuations file is streamed: only the best candidate per VIN of the book is kept, so memory is
//! bounded by the book, not by the valuations file.

use crate::date::Date;
use crate::error::InputError;
use crate::input::load::{parse_valuations, Loan, Reject, ValuationLayout};
use crate::input::reader::{Chunk, ChunkReader, FileFacts};
use crate::input::tape::Dialect;
use crate::input::{file_size, RowCounts};
use crate::progress::Progress;
use rayon::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;

/// The valuation an account was matched to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Valuation {
    pub date: Date,
    pub value: Decimal,
    pub source: Source,
    /// An estimate from the depreciation curve (see [`crate::book::estimate`]), not an appraisal.
    pub estimated: bool,
}

/// A valuation's source name, shared: a book has millions of valuations but a handful of sources.
/// A thin pointer (8 bytes where `Arc<str>` takes 16), as the best-valuation table holds one for every
/// VIN of the book: a slot of that table is 32 bytes instead of 40 (80 MB at 10M loans).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source(Arc<Box<str>>);

impl std::ops::Deref for Source {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

// Hashes as the `str` it holds (`Arc` and `Box` hash their contents), as a set looked up by `&str`
// needs.
impl std::borrow::Borrow<str> for Source {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Source {
    fn from(name: &str) -> Source {
        Source(Arc::new(name.into()))
    }
}

/// `Less` when `(date, value, source)` is the better choice than `other`'s.
fn rank(date: Date, value: Decimal, source: &str, other: &Valuation) -> Ordering {
    other
        .date
        .cmp(&date)
        .then(value.cmp(&other.value))
        .then(source.cmp(&*other.source))
}

/// The distinct VINs of the book, each with an id: the position of its first loan (so ids need no
/// counter, and the shards below can be built at once).
///
/// A VIN of up to [`InlineVin::MAX`] bytes (every real one: VINs have 17) is a key held in the table
/// itself; a `&str` key sent each probe on to the loan's text, a second cache miss per valuation row
/// (of three million on the 1M-loan book). Longer ones, which only odd files have, keep a map of their
/// own. The inline keys are split into maps built in parallel (one map built by one thread was a third
/// of a second on the 1M-loan book with the other core idle), as many as [`shard_count`] says.
pub struct VinIndex<'a> {
    shards: Vec<FxHashMap<InlineVin, u32>>,
    long: FxHashMap<&'a str, u32>,
    slots: usize,
}

/// How many maps the inline keys of `loans` loans are split into: enough that each map's expected
/// share is 80% of a power-of-two table (hashbrown doubles a map past 7/8 full, which the spread of the
/// shares stays well below), with at least 8 maps and at most 255 (a shard number is a byte). With 64
/// maps, the 1M-loan book's 15,625 keys a map just passed 16,384 × 7/8, so every map took 32,768
/// slots, half empty: 50 MB of table for the valuation rows to probe at random, more than the 32 MB L3
/// cache. With 77 maps of 16,384 slots it is 30 MB (at 10M loans, 403 MB became 300 MB).
fn shard_count(loans: usize) -> usize {
    let mut slots = 1usize << 14;
    loop {
        let count = loans.div_ceil(slots / 5 * 4).max(8);
        if count <= 255 {
            return count;
        }
        slots *= 2;
    }
}

/// A VIN's bytes, zero-padded, with its length in the last byte (so `A` and `A\0` differ). Words of
/// 32 bits: with its id a table entry takes 24 bytes (64-bit words would pad it to 32, 134 MB more at
/// 10M loans).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct InlineVin([u32; 5]);

impl InlineVin {
    const MAX: usize = 19;

    /// The key of `vin`, its ASCII letters uppercased if `upper`; None if too long to hold inline.
    fn of(vin: &[u8], upper: bool) -> Option<InlineVin> {
        if vin.len() > Self::MAX {
            return None;
        }
        let mut bytes = [0u8; 20];
        bytes[..vin.len()].copy_from_slice(vin);
        if upper {
            bytes.make_ascii_uppercase();
        }
        bytes[19] = vin.len() as u8;
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&bytes[i * 4..i * 4 + 4]);
            u32::from_le_bytes(w)
        };
        Some(InlineVin([word(0), word(1), word(2), word(3), word(4)]))
    }

    /// The key's shard of `count`, from a mix of its own: each shard's map hashes with Fx, whose low
    /// bits pick a bucket and top bits tag it, so a shard chosen by either would crowd its map. The
    /// mix's top bits scaled to `count` (a multiply, not a modulo).
    fn shard(&self, count: usize) -> usize {
        let [a, b, c, d, e] = self.0.map(u64::from);
        let mixed = (a | b << 32) ^ (c | d << 32).rotate_left(21) ^ e.rotate_left(42);
        let spread = mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((u128::from(spread) * count as u128) >> 64) as usize
    }
}

impl<'a> VinIndex<'a> {
    /// Builds the index; returns it with each loan's VIN id, in loan order.
    pub fn build(loans: &'a [Loan]) -> (VinIndex<'a>, Vec<u32>) {
        // Each loan's shard (LONG: a VIN held apart); the keys themselves are made again where
        // needed, as a vector of them was 320 MB at 10M loans, the run's peak.
        const LONG: u8 = u8::MAX;
        let shards = shard_count(loans.len());
        let inline = |loan: &Loan| InlineVin::of(loan.vin().as_bytes(), false);
        let shard_of: Vec<u8> = loans
            .par_iter()
            .map(|l| inline(l).map_or(LONG, |k| k.shard(shards) as u8))
            .collect();
        // The loans of each shard, in loan order (a counting sort), so a VIN's first loan is found first.
        let mut starts = vec![0usize; shards + 1];
        for &s in shard_of.iter().filter(|&&s| s != LONG) {
            starts[s as usize + 1] += 1;
        }
        for s in 0..shards {
            starts[s + 1] += starts[s];
        }
        let mut next = starts.clone();
        let mut members = vec![0u32; starts[shards]];
        for (i, &s) in shard_of.iter().enumerate().filter(|(_, &s)| s != LONG) {
            members[next[s as usize]] = i as u32;
            next[s as usize] += 1;
        }
        // Each shard's map, and the id of each of its loans.
        let built: Vec<(FxHashMap<InlineVin, u32>, Vec<u32>)> = (0..shards)
            .into_par_iter()
            .map(|s| {
                let members = &members[starts[s]..starts[s + 1]];
                let mut map =
                    FxHashMap::with_capacity_and_hasher(members.len(), Default::default());
                // A shard's loans are a small share of the book: each VIN is two cache misses (the
                // loan, then its text), so both are asked for ahead, as `Book::prefetch_ahead` does
                // (valuations stage 0.73 -> 0.60 s on the 1M book).
                let ids = (0..members.len())
                    .map(|j| {
                        if let Some(&ahead) = members.get(j + 8) {
                            super::cache::prefetch_value(&loans[ahead as usize]);
                        }
                        if let Some(&ahead) = members.get(j + 4) {
                            super::cache::prefetch(loans[ahead as usize].text_address().0);
                        }
                        let i = members[j];
                        match inline(&loans[i as usize]) {
                            Some(key) => *map.entry(key).or_insert(i),
                            // Not reached: the loan was put in this shard for its inline key.
                            None => i,
                        }
                    })
                    .collect();
                (map, ids)
            })
            .collect();
        let mut ids = vec![0u32; loans.len()];
        for (s, (_, shard_ids)) in built.iter().enumerate() {
            for (&i, &id) in members[starts[s]..starts[s + 1]].iter().zip(shard_ids) {
                ids[i as usize] = id;
            }
        }
        let mut long = FxHashMap::default();
        for (i, _) in shard_of.iter().enumerate().filter(|(_, &s)| s == LONG) {
            ids[i] = *long.entry(loans[i].vin()).or_insert(i as u32);
        }
        let index = VinIndex {
            shards: built.into_iter().map(|(map, _)| map).collect(),
            long,
            slots: loans.len(),
        };
        (index, ids)
    }

    /// The size of the best-valuation table: one slot per loan (the ids are loan positions).
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The id of a valuation's VIN, matched with its letters uppercased.
    fn get(&self, vin: &str) -> Option<u32> {
        let upper = vin.bytes().any(|b| b.is_ascii_lowercase());
        match InlineVin::of(vin.as_bytes(), upper) {
            Some(key) => self.shards[key.shard(self.shards.len())].get(&key).copied(),
            None if upper => self.long.get(vin.to_ascii_uppercase().as_str()).copied(),
            None => self.long.get(vin).copied(),
        }
    }
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

/// Parses one chunk and keeps, per VIN of the book, its best candidate within the chunk.
pub fn match_chunk(
    chunk: &Chunk,
    layout: &ValuationLayout,
    index: &VinIndex<'_>,
    as_of: Date,
) -> ValuationBatch {
    let mut counts = MatchCounts::default();
    let mut local: FxHashMap<u32, (Date, Decimal, Source)> = FxHashMap::default();
    let mut sources: rustc_hash::FxHashSet<Source> = Default::default();
    let mut intern = |source: &str| match sources.get(source) {
        Some(shared) => shared.clone(),
        None => {
            let shared = Source::from(source);
            sources.insert(shared.clone());
            shared
        }
    };
    let (mut last_vin, mut last): (Vec<u8>, Option<Option<u32>>) = (Vec::new(), None);
    let (rows, rejects) = parse_valuations(chunk, layout, |v| {
        if v.date > as_of {
            counts.future_dated += 1;
            return;
        }
        // Valuation exports list a vehicle's valuations together (by VIN, then date): the row before's
        // answer saves a random read of the index for most rows.
        let id = match last {
            Some(id) if last_vin == v.vin.as_bytes() => id,
            _ => {
                let id = index.get(v.vin);
                last_vin.clear();
                last_vin.extend_from_slice(v.vin.as_bytes());
                last = Some(id);
                id
            }
        };
        let Some(id) = id else {
            counts.vin_not_in_book += 1;
            return;
        };
        counts.candidates += 1;
        let better = |cur: &(Date, Decimal, Source)| {
            cur.0
                .cmp(&v.date)
                .then(v.value.cmp(&cur.1))
                .then(v.source.cmp(&*cur.2))
                == Ordering::Less
        };
        match local.get_mut(&id) {
            Some(cur) if !better(cur) => {}
            Some(cur) => *cur = (v.date, v.value, intern(v.source)),
            None => {
                local.insert(id, (v.date, v.value, intern(v.source)));
            }
        }
    });
    let best = local
        .into_iter()
        .map(|(id, (date, value, source))| {
            (
                id,
                Valuation {
                    date,
                    value,
                    source,
                    estimated: false,
                },
            )
        })
        .collect();
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
            Some(cur) if rank(v.date, v.value, &v.source, cur) != Ordering::Less => {}
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

/// An accepted valuation row, as the matching stage reads it.
pub struct AcceptedValuation {
    /// Upper-cased, as VINs are matched.
    pub vin: String,
    pub date: Date,
    pub value: Decimal,
    pub source: String,
}

/// Every accepted row of a valuations file, in file order, read by the same rules as the matching
/// stage (the rejected rows are left out): `query`'s typed `valuations` table.
pub fn accepted_valuations(
    path: &Path,
    dialect: &Dialect,
    chunk_bytes: usize,
) -> Result<Vec<AcceptedValuation>, InputError> {
    let (reader, header) = ChunkReader::open(path, chunk_bytes, Box::new(|_| {}))?;
    let layout = ValuationLayout::new(path, &header, dialect.clone())?;
    let mut rows = Vec::new();
    for chunk in reader {
        let chunk = chunk?;
        parse_valuations(&chunk, &layout, |v| {
            rows.push(AcceptedValuation {
                vin: v.vin.to_ascii_uppercase(),
                date: v.date,
                value: v.value,
                source: v.source.to_string(),
            })
        });
    }
    Ok(rows)
}

/// The matching stage: streams the valuations file (when there is one), keeping only the best candidate
/// per VIN of the book.
pub fn match_valuations(
    path: Option<&Path>,
    dialect: &Dialect,
    chunk_bytes: usize,
    loans: &[Loan],
    as_of: Date,
    progress: Progress,
) -> Result<Matched, InputError> {
    // The stage's time includes building the index, which only matching needs.
    let stage = path.map(|path| progress.bytes("valuations", file_size(path)));
    let (index, vin_ids) = VinIndex::build(loans);
    let mut folded = Folded {
        best: vec![None; index.slots()],
        counts: MatchCounts::default(),
        rows: RowCounts::default(),
        rejects: Vec::new(),
    };
    let (Some(path), Some(stage)) = (path, stage) else {
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
    let (mut reader, header) = ChunkReader::open(path, chunk_bytes, Box::new(move |n| bar.inc(n)))?;
    let layout = ValuationLayout::new(path, &header, dialect.clone())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The best-valuation table holds one slot per loan: at 10M loans each byte of a slot is 10 MB of
    /// peak memory (40 bytes with the source as `Arc<str>`).
    #[test]
    fn a_best_valuation_slot_takes_at_most_32_bytes() {
        assert!(std::mem::size_of::<Option<Valuation>>() <= 32);
    }

    /// Each map's expected share of the keys stays within its power-of-two table (7/8 of it, where
    /// hashbrown doubles the table), and the shard numbers fit a byte below the long-VIN mark.
    #[test]
    fn vin_maps_are_sized_to_stay_within_their_tables() {
        // Worked by hand: 1M / 13,107 (80% of 2^14) is 76.3; 10M needs 2^16 slots a map (52,428
        // keys: 190.7 maps), 100M 2^19 (419,430 keys: 238.4 maps).
        for (loans, shards) in [
            (0, 8),
            (4_000, 8),
            (1_000_000, 77),
            (10_000_000, 191),
            (100_000_000, 239),
        ] {
            assert_eq!(shard_count(loans), shards, "{loans} loans");
        }
        // A large book's maps are between 40% and 80% full (the table hashbrown gives a map sized
        // for its share): never the half-empty doubled tables of before, never past 7/8.
        for loans in [1_000_000usize, 1_250_000, 3_333_333, 10_000_000, 1 << 33] {
            let count = shard_count(loans);
            assert!((8..=255).contains(&count), "{loans}: {count}");
            let share = loans.div_ceil(count);
            let slots = (share * 8 / 7).next_power_of_two();
            assert!(
                share * 10 >= slots * 4 && share * 5 <= slots * 4 + 5,
                "{loans}: {share} in {slots}"
            );
        }
        // Shards spread evenly: 100,000 keys over 77 shards, each near its 1,299.
        let mut counts = vec![0usize; 77];
        for i in 0..100_000u32 {
            let vin = format!("1HGCM8{i:011}");
            counts[InlineVin::of(vin.as_bytes(), false).unwrap().shard(77)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (1_150..1_450).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn a_source_compares_and_hashes_as_its_text() {
        let mut set = rustc_hash::FxHashSet::default();
        set.insert(Source::from("kbb"));
        assert!(set.contains("kbb") && !set.contains("KBB") && !set.contains(""));
        assert!(Source::from("jdp") < Source::from("kbb"));
        assert_eq!(&*Source::from("black_book"), "black_book");
    }
}
