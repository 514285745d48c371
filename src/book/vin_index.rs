//! The distinct VINs of the book, each with an id, for the valuations file to be matched against.
//!
//! The matching stage looks a VIN up once per vehicle of the valuations file (a million times on the
//! 1M-loan book), at random places of a table of 30 MB: with hashbrown each lookup is two cache misses (a group of
//! its control bytes, then the bucket), and with the TLB misses of a virtual machine they are a fifth
//! of the stage. So the table is our own (hand-written for a measurement, the reason the
//! guide's rule 7 allows): open addressing whose slot is known from the hash alone, so a lookup can
//! be asked of the cache several rows before it is made ([`VinIndex::prefetch`]), which hashbrown's
//! API has no way to do.

use super::cache::{prefetch, prefetch_value};
use crate::input::load::Loan;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// The distinct VINs of the book, each with an id: the position of its first loan (so ids need no
/// counter, and the shards below can be built at once).
///
/// A VIN of up to [`InlineVin::MAX`] bytes (every real one: VINs have 17) is a key held in the table
/// itself; a `&str` key sent each probe on to the loan's text, a second cache miss per lookup. Longer
/// ones, which only odd files have, keep a map of their own. The inline keys are split into tables
/// built in parallel (one table built by one thread was a third of a second on the 1M-loan book with
/// the other core idle), as many as [`shard_count`] says.
pub struct VinIndex<'a> {
    shards: Vec<Table>,
    long: FxHashMap<&'a str, u32>,
    slots: usize,
}

/// A looked-for VIN, made once: its inline key and hash, or the id a long VIN's map gave at once.
#[derive(Clone, Copy)]
pub enum Probe {
    Inline(InlineVin, u64),
    Long(Option<u32>),
}

/// How many tables the inline keys of `loans` loans are split into: enough that each table's expected
/// share is 80% of a power-of-two table, with at least 8 tables and at most 255 (a shard number is a
/// byte). Linear probing there takes about 3 slots to find a key and 13 tags to miss one, all in the
/// lines asked for ahead; at 70% the probes were no faster and the 10M-loan book's tables 46 MB larger,
/// at its peak. A share a little over 80% by chance still fits its table (see [`Table::for_keys`]); a
/// share of more than 7/8 would double it.
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
/// 32 bits: with its id a table entry takes 24 bytes (64-bit words would pad it to 32, 80 MB more at
/// 10M loans).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlineVin([u32; 5]);

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

    /// 64 well-mixed bits of the key: its top bits pick the shard ([`shard_of`]), its low bits the
    /// slot and bits 40.. the tag ([`Table`]), so the three are independent. Each pair of words is
    /// multiplied by its own odd constant (a bijection), and murmur3's finalizer spreads every bit of
    /// the sum over all 64: VINs share long prefixes and run in serial order.
    fn hash(&self) -> u64 {
        let [a, b, c, d, e] = self.0.map(u64::from);
        let x = (a | b << 32).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (c | d << 32)
                .wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
                .rotate_left(32)
            ^ e.wrapping_mul(0x1656_67B1_9E37_79F9);
        let x = (x ^ x >> 33).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        let x = (x ^ x >> 33).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        x ^ x >> 33
    }
}

/// The shard of a key's `hash` among `count`: its top bits scaled to `count` (a multiply, not a modulo).
fn shard_of(hash: u64, count: usize) -> usize {
    ((u128::from(hash) * count as u128) >> 64) as usize
}

/// One shard: open addressing with linear probing over a power-of-two number of slots. A slot's tag is
/// 0 when empty, else 7 bits of its key's hash with the top bit set, so most slots a probe passes are
/// ruled out by a byte, and a miss ends at the first empty one. Never more than 7/8 full, and never
/// grown: a table is built for the keys it will hold.
struct Table {
    tags: Vec<u8>,
    entries: Vec<(InlineVin, u32)>,
    mask: usize,
}

impl Table {
    /// The slots of a table for `keys` keys: the smallest power of two above 8/7 of them.
    fn slots_for(keys: usize) -> usize {
        (keys + keys / 7 + 1).next_power_of_two().max(16)
    }

    fn for_keys(keys: usize) -> Table {
        let slots = Table::slots_for(keys);
        Table {
            tags: vec![0; slots],
            entries: vec![(InlineVin([0; 5]), 0); slots],
            mask: slots - 1,
        }
    }

    fn tag(hash: u64) -> u8 {
        0x80 | (hash >> 40) as u8
    }

    fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask
    }

    /// Asks the cache for the tag and the first entries a lookup of `hash` reads: at 80% full a key is
    /// found about 2 slots past its home on average, and an entry is 24 bytes, so the lines of the home
    /// entry and of the one two past it cover most lookups.
    #[inline(always)]
    fn prefetch(&self, hash: u64) {
        let home = self.home(hash);
        prefetch(&self.tags[home]);
        prefetch(&self.entries[home]);
        prefetch(&self.entries[(home + 2) & self.mask]);
    }

    fn get(&self, key: &InlineVin, hash: u64) -> Option<u32> {
        let tag = Table::tag(hash);
        let mut i = self.home(hash);
        // Ends: the table always has an empty slot (at most 7/8 full).
        loop {
            match self.tags[i] {
                0 => return None,
                t if t == tag && self.entries[i].0 == *key => return Some(self.entries[i].1),
                _ => i = (i + 1) & self.mask,
            }
        }
    }

    /// The id of `key`, inserting it with `id` when it is not there yet.
    fn get_or_insert(&mut self, key: InlineVin, hash: u64, id: u32) -> u32 {
        let tag = Table::tag(hash);
        let mut i = self.home(hash);
        loop {
            match self.tags[i] {
                0 => {
                    self.tags[i] = tag;
                    self.entries[i] = (key, id);
                    return id;
                }
                t if t == tag && self.entries[i].0 == key => return self.entries[i].1,
                _ => i = (i + 1) & self.mask,
            }
        }
    }
}

impl<'a> VinIndex<'a> {
    /// Builds the index; returns it with each loan's VIN id, in loan order.
    pub fn build(loans: &'a [Loan]) -> (VinIndex<'a>, Vec<u32>) {
        // Each loan's shard (LONG: a VIN held apart); the keys themselves are made again where
        // needed, as a vector of them would be the run's peak memory (320 MB at 10M loans).
        const LONG: u8 = u8::MAX;
        let shards = shard_count(loans.len());
        let inline = |loan: &Loan| InlineVin::of(loan.vin().as_bytes(), false);
        let shard_of_loan: Vec<u8> = loans
            .par_iter()
            .map(|l| inline(l).map_or(LONG, |k| shard_of(k.hash(), shards) as u8))
            .collect();
        // The loans of each shard, in loan order (a counting sort), so a VIN's first loan is found first.
        let mut starts = vec![0usize; shards + 1];
        for &s in shard_of_loan.iter().filter(|&&s| s != LONG) {
            starts[s as usize + 1] += 1;
        }
        for s in 0..shards {
            starts[s + 1] += starts[s];
        }
        let mut next = starts.clone();
        let mut members = vec![0u32; starts[shards]];
        for (i, &s) in shard_of_loan.iter().enumerate().filter(|(_, &s)| s != LONG) {
            members[next[s as usize]] = i as u32;
            next[s as usize] += 1;
        }
        // Each shard's table, and the id of each of its loans.
        // One shard a piece: rayon would otherwise run a quarter of the shards as one piece, and the
        // last such piece alone on one core.
        let built: Vec<(Table, Vec<u32>)> = (0..shards)
            .into_par_iter()
            .with_max_len(1)
            .map(|s| {
                let members = &members[starts[s]..starts[s + 1]];
                let mut table = Table::for_keys(members.len());
                // A shard's loans are a small share of the book: each VIN is two cache misses (the
                // loan, then its text), so both are asked for ahead, as `Book::prefetch_ahead` does.
                let ids = (0..members.len())
                    .map(|j| {
                        if let Some(&ahead) = members.get(j + 8) {
                            prefetch_value(&loans[ahead as usize]);
                        }
                        if let Some(&ahead) = members.get(j + 4) {
                            prefetch(loans[ahead as usize].text_address().0);
                        }
                        let i = members[j];
                        match inline(&loans[i as usize]) {
                            Some(key) => table.get_or_insert(key, key.hash(), i),
                            // Not reached: the loan was put in this shard for its inline key.
                            None => i,
                        }
                    })
                    .collect();
                (table, ids)
            })
            .collect();
        let mut ids = vec![0u32; loans.len()];
        for (s, (_, shard_ids)) in built.iter().enumerate() {
            for (&i, &id) in members[starts[s]..starts[s + 1]].iter().zip(shard_ids) {
                ids[i as usize] = id;
            }
        }
        let mut long = FxHashMap::default();
        for (i, _) in shard_of_loan.iter().enumerate().filter(|(_, &s)| s == LONG) {
            ids[i] = *long.entry(loans[i].vin()).or_insert(i as u32);
        }
        let index = VinIndex {
            shards: built.into_iter().map(|(table, _)| table).collect(),
            long,
            slots: VinIndex::slots_for(loans),
        };
        (index, ids)
    }

    /// The size of the best-valuation table: one slot per loan (the ids are loan positions).
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// What [`VinIndex::slots`] will be for an index of `loans`, known before it is built.
    pub fn slots_for(loans: &[Loan]) -> usize {
        loans.len()
    }

    /// The lookup of a valuation's VIN, matched with its letters uppercased. A long VIN is looked up
    /// at once (those are rare); an inline one when [`VinIndex::find`] is called, after
    /// [`VinIndex::prefetch`] has had time to bring its slots in.
    pub fn probe(&self, vin: &str) -> Probe {
        let upper = vin.bytes().any(|b| b.is_ascii_lowercase());
        match InlineVin::of(vin.as_bytes(), upper) {
            Some(key) => Probe::Inline(key, key.hash()),
            None if upper => Probe::Long(self.long.get(vin.to_ascii_uppercase().as_str()).copied()),
            None => Probe::Long(self.long.get(vin).copied()),
        }
    }

    #[inline(always)]
    pub fn prefetch(&self, probe: &Probe) {
        if let Probe::Inline(_, hash) = *probe {
            self.shards[shard_of(hash, self.shards.len())].prefetch(hash);
        }
    }

    /// The id of the probed VIN, if the book has it.
    pub fn find(&self, probe: &Probe) -> Option<u32> {
        match probe {
            Probe::Inline(key, hash) => {
                self.shards[shard_of(*hash, self.shards.len())].get(key, *hash)
            }
            Probe::Long(id) => *id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each table's expected share of the keys stays within its power-of-two table at about 80%, and
    /// the shard numbers fit a byte below the long-VIN mark.
    #[test]
    fn vin_tables_are_sized_to_keep_probes_short() {
        // Worked by hand: 1M / 13,104 (80% of 2^14, in fifths of the table: 16,384 / 5 * 4) is
        // 76.3; 10M needs 2^16 slots a table (52,428 keys: 190.7 tables), 100M 2^19 (419,428 keys:
        // 238.4 tables).
        for (loans, shards) in [
            (0, 8),
            (4_000, 8),
            (1_000_000, 77),
            (10_000_000, 191),
            (100_000_000, 239),
        ] {
            assert_eq!(shard_count(loans), shards, "{loans} loans");
        }
        // A large book's tables are between 40% and 80% full: never doubled past 7/8, never mostly
        // empty.
        for loans in [1_000_000usize, 1_250_000, 3_333_333, 10_000_000, 1 << 33] {
            let count = shard_count(loans);
            assert!((8..=255).contains(&count), "{loans}: {count}");
            let share = loans.div_ceil(count);
            let slots = Table::slots_for(share);
            assert!(
                share * 100 >= slots * 40 && share * 100 <= slots * 80 + 100,
                "{loans}: {share} in {slots}"
            );
        }
        // Shards spread evenly: 100,000 serial VINs over 77 shards, each near its 1,299.
        let mut counts = vec![0usize; 77];
        for i in 0..100_000u32 {
            let vin = format!("1HGCM8{i:011}");
            let key = InlineVin::of(vin.as_bytes(), false).unwrap();
            counts[shard_of(key.hash(), 77)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (1_150..1_450).contains(&c)),
            "{counts:?}"
        );
    }

    /// A table as full as it is built (55 keys in 64 slots: 86%, under the 7/8 that doubles it) finds
    /// every key it holds and none it does not, however the keys cluster: here every key is sent to
    /// one home slot, and the run of them wraps past the table's end.
    #[test]
    fn a_table_finds_its_keys_and_misses_others_even_when_every_key_collides() {
        let keys: Vec<InlineVin> = (0..55u32)
            .map(|i| InlineVin::of(format!("VIN{i}").as_bytes(), false).unwrap())
            .collect();
        let mut table = Table::for_keys(keys.len());
        assert_eq!(table.tags.len(), 64);
        // One hash for all: the same home and tag, so only the keys themselves tell them apart.
        let hash = 40;
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(table.get_or_insert(*key, hash, i as u32), i as u32);
        }
        // A second insert of a key keeps its first id.
        assert_eq!(table.get_or_insert(keys[3], hash, 99), 3);
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(table.get(key, hash), Some(i as u32));
        }
        let absent = InlineVin::of(b"VIN55", false).unwrap();
        assert_eq!(table.get(&absent, hash), None);
        assert_eq!(table.get(&keys[0], hash + 1), None);
    }

    #[test]
    fn inline_keys_tell_length_and_case_apart() {
        let key = |v: &[u8], upper| InlineVin::of(v, upper).unwrap();
        assert_ne!(key(b"A", false), key(b"A\0", false));
        assert_eq!(key(b"1hgcm", true), key(b"1HGCM", false));
        assert_ne!(key(b"1hgcm", false), key(b"1HGCM", false));
        assert!(InlineVin::of(&[b'X'; 19], false).is_some());
        assert!(InlineVin::of(&[b'X'; 20], false).is_none());
    }
}
