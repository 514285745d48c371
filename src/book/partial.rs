//! A book's summary tables as a partial that merges with another book's. The Spark path computes the
//! book of each partition in its executor (each loan with every valuation of its VIN, each account id
//! once) and folds the partitions' partials into the whole book's tables: every tally is an exact sum,
//! so the folded tables are the tables of one run over the whole book, cent for cent, in the same order.

use crate::book::lifetime::LossCurve;
use crate::book::percentiles::{Counted, Percentiles};
use crate::book::runoff::Runoff;
use crate::book::summarize::{Migration, Summaries, Table, TopExposures};
use crate::book::tally::Tally;
use serde::{Deserialize, Serialize};

/// What the summary CSV files are made of, for one part of a book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    pub ltv: Table,
    pub scenarios: Vec<(String, Table)>,
    pub segments: Vec<Table>,
    pub migration: Migration,
    pub runoff: Option<Runoff>,
    /// The lifetime loss curve, when the lifetime figures are on.
    #[serde(default)]
    pub loss_curve: Option<LossCurve>,
    /// Origination LTVs (mantissa, scale) and how many accounts have each: the whole book's
    /// percentiles are taken from the folded counts.
    pub origination_ltv: Vec<(i128, u32, u64)>,
}

impl Partial {
    pub fn of(s: &Summaries) -> Partial {
        Partial {
            ltv: s.ltv.clone(),
            scenarios: s.scenarios.clone(),
            segments: s.segments.clone(),
            migration: s.migration.clone(),
            runoff: s.runoff.clone(),
            loss_curve: s.loss_curve.clone(),
            origination_ltv: s.origination_ltv_counts.entries(),
        }
    }

    /// The partial of both books; an error when they were not computed with one config (other bands,
    /// scenarios, segments or run-off), which would make the sum meaningless.
    /// Destructured, so a field added and not merged here does not compile.
    pub fn merge(mut self, o: &Partial) -> Result<Partial, String> {
        let Partial {
            ltv,
            scenarios,
            segments,
            migration,
            runoff,
            loss_curve,
            origination_ltv,
        } = o;
        let same = self.migration.labels == migration.labels
            && self.migration.cells.len() == migration.cells.len()
            && self.scenarios.len() == scenarios.len()
            && self.segments.len() == segments.len()
            && self.runoff.as_ref().map(|r| r.months.len())
                == runoff.as_ref().map(|r| r.months.len())
            && self.loss_curve.is_some() == loss_curve.is_some();
        if !same {
            return Err("the partials were computed with different configs".into());
        }
        merge_bands(&mut self.ltv, ltv)?;
        for ((name, mine), (other_name, theirs)) in self.scenarios.iter_mut().zip(scenarios) {
            if name != other_name {
                return Err(format!("scenario {name} against {other_name}"));
            }
            merge_bands(mine, theirs)?;
        }
        for (mine, theirs) in self.segments.iter_mut().zip(segments) {
            merge_segment(mine, theirs)?;
        }
        for (a, b) in self.migration.cells.iter_mut().zip(&migration.cells) {
            a.0 += b.0;
            a.1 += b.1;
        }
        if let (Some(a), Some(b)) = (&mut self.runoff, runoff) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.loss_curve, loss_curve) {
            a.merge(b);
        }
        let mut counted = Counted::from_entries(&self.origination_ltv);
        counted.merge(Counted::from_entries(origination_ltv));
        self.origination_ltv = counted.entries();
        Ok(self)
    }

    /// The summaries the tables are written from, with the percentiles (no top exposures or changes:
    /// the top exposures are folded apart, from their rows).
    pub fn into_summaries(self) -> Summaries {
        let counted = Counted::from_entries(&self.origination_ltv);
        Summaries {
            ltv: self.ltv,
            scenarios: self.scenarios,
            segments: self.segments,
            migration: self.migration,
            origination_ltv: Percentiles::of(counted.clone()),
            origination_ltv_counts: counted,
            runoff: self.runoff,
            loss_curve: self.loss_curve,
            changes: None,
            top: TopExposures::default(),
        }
    }
}

/// Tables of the same bands: row by row.
fn merge_bands(mine: &mut Table, theirs: &Table) -> Result<(), String> {
    let labels = |t: &Table| t.rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>();
    if mine.dimension != theirs.dimension || labels(mine) != labels(theirs) {
        return Err(format!(
            "table {} has other rows in another partial",
            mine.dimension
        ));
    }
    for ((_, a), (_, b)) in mine.rows.iter_mut().zip(&theirs.rows) {
        a.merge(b);
    }
    mine.total.merge(&theirs.total);
    Ok(())
}

/// Tables of one segment: the union of their groups, each group's tallies merged, in (position, label)
/// order as the summary pass sorts them.
fn merge_segment(mine: &mut Table, theirs: &Table) -> Result<(), String> {
    if mine.dimension != theirs.dimension
        || mine.positions.len() != mine.rows.len()
        || theirs.positions.len() != theirs.rows.len()
    {
        return Err(format!(
            "segment {} differs between partials",
            mine.dimension
        ));
    }
    let mut groups: std::collections::BTreeMap<(u32, String), Tally> = Default::default();
    let both = mine
        .positions
        .iter()
        .zip(&mine.rows)
        .chain(theirs.positions.iter().zip(&theirs.rows));
    for (&position, (label, tally)) in both {
        groups
            .entry((position, label.clone()))
            .and_modify(|t| t.merge(tally))
            .or_insert_with(|| tally.clone());
    }
    mine.positions = groups.keys().map(|k| k.0).collect();
    mine.rows = groups
        .into_iter()
        .map(|((_, label), t)| (label, t))
        .collect();
    mine.total.merge(&theirs.total);
    Ok(())
}
