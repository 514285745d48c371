//! Book totals: the LTV-band table and one table per segment.
//!
//! Totals are sums of the *rounded* per-account figures, so every summary reconciles to accounts.csv to
//! the cent. Sums are exact decimals, so the result does not depend on how the parallel fold splits work.

use crate::book::changes::{Changes, Join};
use crate::book::lifetime::{AccountLifetime, LossCurve, Rates};
use crate::book::metrics::{Bands, Figures};
use crate::book::percentiles::{Counted, Percentiles};
use crate::book::runoff::{Projection, Runoff, NO_MONTHS};
use crate::book::segments::{key, Key};
use crate::book::stress::{Amounts, Riders, Stress};
use crate::book::tally::{Cents, Tally};
use crate::input::load::{Loan, SegmentSource};
use rayon::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// One summary table: rows in order, then the total.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Table {
    /// Column name of the group label (`ltv_bucket`, or the segment name).
    pub dimension: String,
    pub rows: Vec<(String, Tally)>,
    pub total: Tally,
    /// A segment table's sort position of each row (rows are in (position, label) order), so two books' tables
    /// of one segment merge into the order one book of both would give; empty for the LTV-band tables,
    /// whose rows are the bands.
    pub positions: Vec<u32>,
}

/// All summaries of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summaries {
    pub ltv: Table,
    /// Per stress scenario, in config order: its name and its LTV-band table.
    pub scenarios: Vec<(String, Table)>,
    pub segments: Vec<Table>,
    pub migration: Migration,
    /// Origination LTV percentiles over accounts with an origination value.
    pub origination_ltv: Option<Percentiles>,
    /// The counts they are taken from (a book's part folds with another's by these).
    pub origination_ltv_counts: Counted,
    /// The negative-equity run-off, unless it is off.
    pub runoff: Option<Runoff>,
    /// The lifetime loss curve, unless the lifetime figures are off.
    pub loss_curve: Option<LossCurve>,
    /// Changes since the previous run (`--previous`).
    pub changes: Option<Changes>,
    pub top: TopExposures,
}

/// What a summary pass computes beside the base tables, each from the same per-account figures.
#[derive(Clone, Copy)]
pub struct Passes<'a> {
    pub stresses: &'a [Stress<'a>],
    /// The accounts' schedules, for the run-off table and the lifetime figures.
    pub projection: Option<&'a Projection>,
    /// Months of the run-off table (`None`: no table).
    pub runoff_months: Option<u32>,
    /// The lifetime model (`None`: no lifetime figures).
    pub lifetime: Option<&'a Rates>,
    pub join: Option<&'a Join>,
}

/// What the summary pass writes per account, by loan index: an empty list for a figure that is off.
#[derive(Clone, Debug, Default)]
pub struct PerAccount {
    /// `months_to_positive_equity` ([`NO_MONTHS`]: none), with the run-off.
    pub months: Vec<u32>,
    /// The lifetime figures ([`AccountLifetime::NONE`]: not computed), with the lifetime model.
    pub lifetime: Vec<AccountLifetime>,
}

/// Origination LTV band × current LTV band: how the book drifted since origination.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Migration {
    pub labels: Vec<String>,
    /// `(accounts, balance)` at `[origination band × labels.len() + current band]`.
    pub cells: Vec<(u64, Cents)>,
}

impl Migration {
    pub fn cell(&self, origination: usize, current: usize) -> (u64, Cents) {
        self.cells[origination * self.labels.len() + current]
    }
}

#[derive(Clone)]
struct Acc<'a> {
    buckets: Vec<Tally>,
    /// Per scenario, per band of the shocked value.
    stressed: Vec<Vec<Tally>>,
    segments: Vec<FxHashMap<Key<'a>, Tally>>,
    migration: Vec<(u64, Cents)>,
    origination_ltv: Counted,
    runoff: Option<Runoff>,
    loss_curve: Option<LossCurve>,
    changes: Option<Changes>,
    top: Top<'a>,
}

/// The most accounts one piece of the summary fold takes (see `summarize`): a few milliseconds of work.
const FOLD_PIECE: usize = 16_384;

/// How many accounts each list of largest exposures keeps.
pub const TOP_N: usize = 20;

/// The largest exposures, as loan indices, largest first: the expected deficiencies of open valued
/// accounts, and the balances of open unvalued ones. Ties go to the lower account id, so the lists do
/// not depend on how the parallel fold split the book.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopExposures {
    pub expected_deficiency: Vec<u32>,
    pub unvalued_balance: Vec<u32>,
}

/// Bounded lists while folding: (amount in cents, account id, loan index), kept sorted largest first.
#[derive(Clone, Default)]
struct Top<'a> {
    expected_deficiency: Vec<(i128, &'a str, u32)>,
    unvalued_balance: Vec<(i128, &'a str, u32)>,
}

fn keep_largest<'a>(list: &mut Vec<(i128, &'a str, u32)>, item: (i128, &'a str, u32)) {
    let before = |a: &(i128, &str, u32), b: &(i128, &str, u32)| (b.0, a.1).cmp(&(a.0, b.1));
    if list.len() == TOP_N && before(list.last().expect("full"), &item).is_le() {
        return;
    }
    let at = list.partition_point(|x| before(x, &item).is_lt());
    list.insert(at, item);
    list.truncate(TOP_N);
}

impl<'a> Top<'a> {
    fn add(&mut self, loan: &'a Loan, i: usize, f: &Figures) {
        if f.balance.is_zero() {
            return;
        }
        let id = loan.account_id();
        match &f.valued {
            Some(_) => keep_largest(
                &mut self.expected_deficiency,
                (Cents::of(f.expected_deficiency).0, id, i as u32),
            ),
            None => keep_largest(
                &mut self.unvalued_balance,
                (Cents::of(f.balance).0, id, i as u32),
            ),
        }
    }

    fn merge(&mut self, o: &Top<'a>) {
        for &x in &o.expected_deficiency {
            keep_largest(&mut self.expected_deficiency, x);
        }
        for &x in &o.unvalued_balance {
            keep_largest(&mut self.unvalued_balance, x);
        }
    }
}

impl<'a> Acc<'a> {
    fn new(
        buckets: usize,
        segments: usize,
        scenarios: usize,
        passes: Passes<'_>,
        changes: Option<Changes>,
    ) -> Acc<'a> {
        Acc {
            changes,
            loss_curve: passes.lifetime.map(|_| LossCurve::default()),
            top: Top::default(),
            runoff: passes.runoff_months.map(Runoff::new),
            buckets: vec![Tally::zero(); buckets],
            stressed: vec![vec![Tally::zero(); buckets]; scenarios],
            segments: vec![FxHashMap::default(); segments],
            migration: vec![(0, Cents(0)); buckets * buckets],
            origination_ltv: Counted::default(),
        }
    }

    /// Two pieces' accumulators as one. Destructured, so a field added and not merged here does not
    /// compile.
    fn merge(mut self, other: Acc<'a>) -> Acc<'a> {
        let Acc {
            buckets,
            stressed,
            segments,
            migration,
            origination_ltv,
            runoff,
            loss_curve,
            changes,
            top,
        } = other;
        self.origination_ltv.merge(origination_ltv);
        if let (Some(a), Some(b)) = (&mut self.loss_curve, &loss_curve) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.runoff, &runoff) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.changes, &changes) {
            a.merge(b);
        }
        self.top.merge(&top);
        for (a, b) in self.buckets.iter_mut().zip(&buckets) {
            a.merge(b);
        }
        for (mine, theirs) in self.stressed.iter_mut().zip(&stressed) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                a.merge(b);
            }
        }
        for (a, b) in self.migration.iter_mut().zip(&migration) {
            a.0 += b.0;
            a.1 += b.1;
        }
        for (mine, theirs) in self.segments.iter_mut().zip(segments) {
            for (k, t) in theirs {
                mine.entry(k).or_insert_with(Tally::zero).merge(&t);
            }
        }
        self
    }
}

/// What every account of one summary pass is added to its accumulator with.
#[derive(Clone, Copy)]
struct Setting<'s> {
    bands: &'s Bands,
    segments: &'s [(String, SegmentSource)],
    passes: Passes<'s>,
}

impl<'a> Acc<'a> {
    /// Adds account `i` (`loan`, its figures `f`, and its value when a stress or the run-off reads it);
    /// `out` receives its months to positive equity and lifetime figures when they are on.
    fn add(
        &mut self,
        (i, loan, f): (usize, &'a Loan, &Figures),
        value: Option<(Decimal, bool)>,
        out: Out<'_>,
        s: Setting<'_>,
    ) {
        let Passes {
            projection, join, ..
        } = s.passes;
        let (mut months, life_out) = out;
        let stressed_bands = self.add_stressed(loan, value, s);
        let (life, runoff_done) = self.add_lifetime(
            (loan, f),
            value,
            (&mut months, life_out),
            &stressed_bands,
            s,
        );
        self.buckets[f.bucket].add(loan, f);
        if let Some(l) = life {
            self.buckets[f.bucket].add_lifetime(l);
        }
        self.top.add(loan, i, f);
        if let (Some(p), Some(runoff), Some(out), false) =
            (projection, self.runoff.as_mut(), months, runoff_done)
        {
            *out = p.project(loan, value.map(|v| v.0), runoff);
        }
        if let (Some(j), Some(c)) = (join, self.changes.as_mut()) {
            c.add(loan, f, j.previous_of(i));
        }
        if let Some(ltv) = f.origination_ltv {
            self.origination_ltv.add(ltv);
        }
        let cell = &mut self.migration[f.origination_bucket * s.bands.labels.len() + f.bucket];
        cell.0 += 1;
        cell.1 += Cents::of(f.balance);
        for (i, (_, source)) in s.segments.iter().enumerate() {
            let tally = self.segments[i]
                .entry(key(loan, source))
                .or_insert_with(Tally::zero);
            tally.add(loan, f);
            if let Some(l) = life {
                tally.add_lifetime(l);
            }
        }
    }

    /// Adds the account's figures under each stress scenario; returns its band under each.
    fn add_stressed(
        &mut self,
        loan: &Loan,
        value: Option<(Decimal, bool)>,
        s: Setting<'_>,
    ) -> Vec<usize> {
        let stresses = s.passes.stresses;
        if stresses.is_empty() {
            return Vec::new();
        }
        let amounts = Amounts::of(loan, value);
        stresses
            .iter()
            .zip(self.stressed.iter_mut())
            .map(|(stress, tallies)| stress.add(tallies, loan, value, amounts, s.bands, s.segments))
            .collect()
    }

    /// The account's lifetime figures (when they are on), with each stress scenario's riding the same
    /// walk in its band under the scenario (`stressed_bands`), and its run-off when that walk can carry
    /// it. Returns the figures and whether the run-off was done.
    fn add_lifetime(
        &mut self,
        (loan, f): (&Loan, &Figures),
        value: Option<(Decimal, bool)>,
        (months, life_out): (&mut Option<&mut u32>, Option<&mut AccountLifetime>),
        stressed_bands: &[usize],
        s: Setting<'_>,
    ) -> (Option<AccountLifetime>, bool) {
        let (Some(p), Some(rates), Some(curve)) = (
            s.passes.projection,
            s.passes.lifetime,
            self.loss_curve.as_mut(),
        ) else {
            return (None, false);
        };
        let input = (loan, value.map(|v| v.0), f.bucket);
        let mut riders = Riders(
            s.passes
                .stresses
                .iter()
                .zip(stressed_bands)
                .map(|(stress, &band)| stress.walk(rates, (loan, f.bucket, band), s.segments))
                .collect(),
        );
        let mut runoff_done = false;
        let figures = match (self.runoff.as_mut(), months.as_deref_mut()) {
            // One walk of the schedule for both.
            (Some(runoff), Some(out)) => {
                let (figures, found) =
                    rates.account_and_runoff(p, input, (curve, &mut riders), runoff);
                (*out, runoff_done) = (found, true);
                figures
            }
            _ => rates.account(p, input, curve, None, &mut riders),
        };
        let life = figures.unwrap_or(AccountLifetime::NONE);
        if let Some(out) = life_out {
            *out = life;
        }
        self.add_stressed_lifetime(figures.is_ok(), &riders, stressed_bands);
        (Some(life), runoff_done)
    }

    /// Each scenario's lifetime figures of an account, in its band under the scenario: none when the
    /// base walk has none (no value, no APR, …) or the scenario's amounts are out of range.
    fn add_stressed_lifetime(&mut self, computed: bool, riders: &Riders<'_>, bands: &[usize]) {
        for ((walk, &band), tallies) in riders.0.iter().zip(bands).zip(&mut self.stressed) {
            let figures = walk.as_ref().filter(|_| computed).map(|w| w.finish());
            tallies[band].add_lifetime(figures.unwrap_or(AccountLifetime::NONE));
        }
    }

    /// The summaries of the whole book, once every piece's accumulator is merged into this one.
    fn into_summaries(self, s: Setting<'_>) -> Summaries {
        let ltv = band_table(s.bands, self.buckets);
        let scenarios = s
            .passes
            .stresses
            .iter()
            .zip(self.stressed)
            .map(|(stress, tallies)| (stress.scenario.name.clone(), band_table(s.bands, tallies)))
            .collect();
        let segments = s
            .segments
            .iter()
            .zip(self.segments)
            .map(|((name, source), groups)| segment_table(name, source, groups))
            .collect();
        Summaries {
            ltv,
            scenarios,
            segments,
            migration: Migration {
                labels: s.bands.labels.clone(),
                cells: self.migration,
            },
            origination_ltv: Percentiles::of(self.origination_ltv.clone()),
            origination_ltv_counts: self.origination_ltv,
            top: TopExposures {
                expected_deficiency: self.top.expected_deficiency.iter().map(|x| x.2).collect(),
                unvalued_balance: self.top.unvalued_balance.iter().map(|x| x.2).collect(),
            },
            runoff: self.runoff,
            loss_curve: self.loss_curve,
            changes: self.changes.map(|mut c| {
                if let Some(j) = s.passes.join {
                    c.add_closed(j);
                }
                c
            }),
        }
    }
}

fn total_of(rows: &[(String, Tally)]) -> Tally {
    rows.iter().fold(Tally::zero(), |mut t, (_, r)| {
        t.merge(r);
        t
    })
}

/// A table by LTV band (of the base values or of a scenario's).
fn band_table(bands: &Bands, tallies: Vec<Tally>) -> Table {
    let rows: Vec<(String, Tally)> = bands.labels.iter().cloned().zip(tallies).collect();
    Table {
        dimension: "ltv_bucket".into(),
        total: total_of(&rows),
        rows,
        positions: Vec::new(),
    }
}

/// A table by segment, its rows in the order of their keys.
fn segment_table(name: &str, source: &SegmentSource, groups: FxHashMap<Key<'_>, Tally>) -> Table {
    // Hash maps for speed while folding; sorted by key here, so the order is fixed.
    let mut groups: Vec<(Key<'_>, Tally)> = groups.into_iter().collect();
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let positions = groups.iter().map(|(k, _)| k.position).collect();
    let rows: Vec<(String, Tally)> = groups
        .into_iter()
        .map(|(k, t)| {
            let label = match (source, k.label) {
                (SegmentSource::Vintage, "") => k.position.to_string(),
                (_, l) => l.to_string(),
            };
            (label, t)
        })
        .collect();
    Table {
        dimension: name.to_string(),
        total: total_of(&rows),
        rows,
        positions,
    }
}

/// Where one account's per-account figures go: its months to positive equity and its lifetime
/// figures, each when on.
type Out<'o> = (Option<&'o mut u32>, Option<&'o mut AccountLifetime>);

/// Summarizes accepted loans; `value_of(i)` gives the value of `loans[i]` (and whether it is an
/// estimate) and `figures_of(i)` its figures. Each stress scenario's figures, each account's run-off
/// and its lifetime figures are computed in the same pass, from the same value. Returns the summaries
/// and what the pass writes per account ([`PerAccount`], by loan index).
pub fn summarize<'a>(
    loans: &'a [Loan],
    value_of: impl Fn(usize) -> Option<(Decimal, bool)> + Sync,
    figures_of: impl Fn(usize) -> Figures + Sync,
    bands: &Bands,
    segments: &[(String, SegmentSource)],
    passes: Passes<'_>,
) -> (Summaries, PerAccount) {
    let s = Setting {
        bands,
        segments,
        passes,
    };
    let changes = passes.join.map(|_| Changes::new(bands));
    let new_acc = || {
        Acc::new(
            bands.labels.len(),
            segments.len(),
            passes.stresses.len(),
            passes,
            changes.clone(),
        )
    };
    let reads_value = !passes.stresses.is_empty() || passes.projection.is_some();
    let step = |mut acc: Acc<'a>, (i, out): (usize, Out<'_>)| -> Acc<'a> {
        let value = if reads_value { value_of(i) } else { None };
        acc.add((i, &loans[i], &figures_of(i)), value, out, s);
        acc
    };
    let runoff = passes.projection.is_some() && passes.runoff_months.is_some();
    let lifetime = passes.projection.is_some() && passes.lifetime.is_some();
    let mut per = PerAccount {
        months: vec![NO_MONTHS; if runoff { loans.len() } else { 0 }],
        lifetime: vec![AccountLifetime::NONE; if lifetime { loans.len() } else { 0 }],
    };
    // Rayon splits a fold only while its pieces are being stolen, so the last pieces can be a quarter of
    // the book each, and one core finishes them alone while the other waits. Pieces of at most
    // FOLD_PIECE accounts bound that wait, at the cost of one accumulator each. One arm per pair of
    // outputs, so each is an indexed iterator over exactly the vectors that are on.
    macro_rules! fold {
        ($iter:expr) => {
            $iter
                .enumerate()
                .with_max_len(FOLD_PIECE)
                .fold(new_acc, step)
                .reduce(new_acc, Acc::merge)
        };
    }
    let acc = match (runoff, lifetime) {
        (true, true) => fold!(per
            .months
            .par_iter_mut()
            .zip(per.lifetime.par_iter_mut())
            .map(|(m, l)| (Some(m), Some(l)))),
        (true, false) => fold!(per.months.par_iter_mut().map(|m| (Some(m), None))),
        (false, true) => fold!(per.lifetime.par_iter_mut().map(|l| (None, Some(l)))),
        (false, false) => fold!((0..loans.len()).into_par_iter().map(|_| (None, None))),
    };
    (acc.into_summaries(s), per)
}
