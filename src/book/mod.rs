//! The book stage: everything computed from the inputs, before anything is written.
//!
//! [`build`] reads like the pipeline: load the loans, match valuations, estimate the values no
//! valuation gave, then total the figures. The per-account figures themselves ([`metrics`]) are not
//! held: they are computed where they are used, from the loan, its valuation and the [`model`].

pub mod backtest;
mod cache;
pub mod calibrate;
pub mod changes;
pub mod estimate;
pub mod guards;
pub mod lifetime;
mod magic_div;
pub mod matching;
pub mod metrics;
pub mod model;
pub mod outcome;
pub mod partial;
pub mod percentiles;
pub mod predicted;
pub mod reanchor;
pub mod runoff;
pub mod segments;
pub mod stress;
pub mod summarize;
pub mod tally;
pub mod vin_index;

use crate::date::Date;
use crate::error::InputError;
use crate::input::conventions::Conventions;
use crate::input::load::Reject;
use crate::input::reader::FileFacts;
use crate::input::valuations::Valuation;
use crate::input::{load_loans, LoanSource, RowCounts};
use crate::progress::Progress;
use cache::{prefetch, prefetch_bytes, prefetch_value};
use estimate::{estimate_unmatched, Estimate, EstimateCounts};
use matching::{match_valuations, MatchCounts};
use metrics::{figures, Bands, Detail, Figures, ScaledModel};
use model::Model;
use runoff::Projection;
use std::path::PathBuf;
use stress::Stress;
use summarize::{summarize, Passes, Summaries};

/// What to compute: the inputs, the date and the model (see [`crate::config::Config::plan`]).
pub struct Plan<'a> {
    pub loans: LoanSource<'a>,
    /// The valuations file, or the frame read in its place; None when values are only estimated.
    pub valuations: Option<crate::input::frame::InputRef<'a>>,
    pub valuations_conventions: Conventions,
    pub as_of: Date,
    pub estimate: &'a Estimate,
    pub model: &'a Model,
    /// A finished earlier run to compare with, as its summary.json describes it (the command opens it:
    /// `output::finished_run`).
    pub previous: Option<&'a crate::input::previous::PreviousHead>,
}

/// What an account shows beyond its loan, valuation and figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutlookAndPrevious<'a> {
    pub months_to_positive_equity: Option<u32>,
    /// `Some` when the lifetime figures are on: the account's (`None`: it has none).
    pub lifetime: Option<Option<lifetime::AccountLifetime>>,
    /// `Some` in a run with `--previous`: the account's band and days past due then (`None`: new).
    pub previous: Option<Option<(&'a str, u32)>>,
}

/// Everything computed from the inputs, before any output is written.
pub struct Book {
    /// The date the book is valued at.
    pub as_of: Date,
    /// The loans file as loaded ([`crate::input::Loans`]: the accepted loans, their output order, the
    /// row counts, repeated and shared ids, unreadable fields, the file's facts and its layout); its
    /// rejects are moved into `rejects`, beside the valuations'.
    pub loaded: crate::input::Loans,
    /// Per VIN id: the matched valuation.
    pub valuations: Vec<Option<Valuation>>,
    /// Per loan: the id of its VIN.
    pub vin_ids: Vec<u32>,
    /// Per loan: the estimated value of a loan with no matched valuation (empty when estimates are off).
    pub estimates: Vec<Option<Valuation>>,
    pub estimate_counts: EstimateCounts,
    /// The value curves (and price index) of the estimates and the run-off's schedules.
    pub estimate: Estimate,
    /// The price index estimates were adjusted with (`None`: curve only, or estimates off).
    pub price_index: Option<PathBuf>,
    /// Every reject of both inputs, loans first, each in line order.
    pub rejects: Vec<Reject>,
    pub valuation_counts: RowCounts,
    pub match_counts: MatchCounts,
    pub valuations_file: Option<FileFacts>,
    pub model: Model,
    pub bands: Bands,
    /// The model in scaled integers, for the figures (`None`: a config decimal too fine for them).
    pub scaled: Option<ScaledModel>,
    pub summaries: Summaries,
    /// Per loan: `months_to_positive_equity` ([`runoff::NO_MONTHS`]: none); empty when the run-off is off.
    pub months_to_positive_equity: Vec<u32>,
    /// Per loan: the lifetime figures ([`lifetime::AccountLifetime::NONE`]: none); empty when the
    /// lifetime figures are off.
    pub lifetime: Vec<lifetime::AccountLifetime>,
    /// Tonight's loans joined to the previous run's accounts (`--previous`).
    pub previous: Option<changes::Join>,
}

impl Book {
    /// The valuation of the i-th loan: matched, else estimated.
    pub fn valuation(&self, i: usize) -> Option<&Valuation> {
        valuation_of(&self.valuations, &self.vin_ids, &self.estimates, i)
    }

    /// The i-th account's `months_to_positive_equity`, if it has one.
    pub fn months_to_positive_equity(&self, i: usize) -> Option<u32> {
        self.months_to_positive_equity
            .get(i)
            .copied()
            .filter(|&m| m != runoff::NO_MONTHS)
    }

    /// What the i-th account shows beyond its figures: its run-off and its previous run.
    pub fn outlook(&self, i: usize) -> OutlookAndPrevious<'_> {
        OutlookAndPrevious {
            months_to_positive_equity: self.months_to_positive_equity(i),
            lifetime: (!self.lifetime.is_empty()).then(|| self.lifetime[i].get()),
            previous: self.previous.as_ref().map(|j| {
                j.previous_of(i)
                    .map(|(a, band)| (self.bands.labels[band].as_str(), a.days_past_due))
            }),
        }
    }

    /// Asks the CPU for what the accounts a little after `order[k]` will need, while `order[k]` is
    /// worked on: output order is account-id order and loans sit in file order, so each account is a
    /// few random memory reads. The loan 8 accounts ahead; the text, VIN id and run-off month of the
    /// one 4 ahead (whose loan was asked for 4 accounts ago); the valuation of the one 2 ahead.
    #[inline(always)]
    pub fn prefetch_ahead(&self, order: &[u32], k: usize) {
        if let Some(&ahead) = order.get(k + 8) {
            prefetch_value(&self.loaded.loans[ahead as usize]);
        }
        if let Some(&ahead) = order.get(k + 4) {
            let (text, len) = self.loaded.loans[ahead as usize].text_address();
            prefetch_bytes(text, len);
            prefetch(&self.vin_ids[ahead as usize]);
            if let Some(months) = self.months_to_positive_equity.get(ahead as usize) {
                prefetch(months);
            }
        }
        if let Some(&ahead) = order.get(k + 2) {
            if let Some(valuation) = self.valuations.get(self.vin_ids[ahead as usize] as usize) {
                prefetch(valuation);
            }
        }
    }

    /// The figures of the i-th account. They are computed where they are used (summaries, then the
    /// accounts file) rather than held: at 10M accounts, holding them all would take about 2 GiB.
    pub fn figures(&self, i: usize) -> Figures {
        figures(
            &self.loaded.loans[i],
            self.valuation(i),
            &self.model,
            &self.bands,
            self.scaled.as_ref(),
            Detail::Account,
        )
    }
}

fn valuation_of<'a>(
    matched: &'a [Option<Valuation>],
    vin_ids: &[u32],
    estimates: &'a [Option<Valuation>],
    i: usize,
) -> Option<&'a Valuation> {
    matched[vin_ids[i] as usize]
        .as_ref()
        .or_else(|| estimates.get(i).and_then(Option::as_ref))
}

/// The most groups one segment's summary table may have. A table is for groups people read: ten
/// segments of 100,000 values each on a 100k-loan book make a 530 MB summary.json, a 239 MB report.html
/// and 4.7 GB of memory. 50,000 is more than the dealers of the largest lenders; `query --by` answers
/// any number of groups.
pub const MAX_SEGMENT_GROUPS: usize = 50_000;

/// Refuses a book whose segment tables would be too large to publish ([`MAX_SEGMENT_GROUPS`]); `run`
/// checks it before writing (`query` needs no tables, and answers any number of groups).
pub fn check_segment_groups(summaries: &summarize::Summaries) -> Result<(), InputError> {
    match summaries
        .segments
        .iter()
        .find(|t| t.rows.len() > MAX_SEGMENT_GROUPS)
    {
        Some(t) => Err(InputError::TooManyGroups {
            segment: t.dimension.clone(),
            groups: t.rows.len(),
            limit: MAX_SEGMENT_GROUPS,
        }),
        None => Ok(()),
    }
}

/// With `--previous`, the previous run read and joined to tonight's accounts: a stage of its own, since
/// reading the previous run's accounts is I/O, not figures.
fn join_previous(
    plan: &Plan<'_>,
    loans: &crate::input::Loans,
    bands: &Bands,
    progress: Progress,
) -> Result<Option<changes::Join>, InputError> {
    let Some(head) = plan.previous else {
        return Ok(None);
    };
    let stage = progress.spinner("previous run");
    let previous = crate::input::previous::read(head.clone())?;
    let join = changes::join(
        previous,
        &loans.loans,
        &loans.order,
        plan.as_of,
        &plan.model.ltv_bands,
        bands,
    )?;
    stage.finish(&format!("{} accounts", join.previous.accounts.len()));
    Ok(Some(join))
}

/// The accounts' schedules, when the run-off or the lifetime figures walk them, and the lifetime
/// model in integers.
fn schedules(plan: &Plan<'_>) -> (Option<Projection>, Option<lifetime::Rates>) {
    let model = plan.model;
    let lifetime = model
        .lifetime
        .as_ref()
        .and_then(|l| lifetime::Rates::new(l, model.recovery_rate, model.repossession_cost));
    let projection = (model.runoff_months.is_some() || lifetime.is_some())
        .then(|| Projection::new(model.runoff_months.unwrap_or(0), plan.estimate, plan.as_of));
    (projection, lifetime)
}

/// Builds the book: one call per stage. Writes nothing.
pub fn build(plan: &Plan<'_>, progress: Progress) -> Result<Book, InputError> {
    let loans = load_loans(&plan.loans, progress)?;
    build_from(plan, loans, progress)
}

/// Builds the book of loans already loaded (`build`'s later stages; `backtest --start-month` builds
/// the re-anchored book so), their rejects kept as the book's.
pub fn build_from(
    plan: &Plan<'_>,
    loans: crate::input::Loans,
    progress: Progress,
) -> Result<Book, InputError> {
    let matched = match_valuations(
        plan.valuations,
        &plan.valuations_conventions,
        plan.loans.chunk_bytes,
        &loans.loans,
        plan.as_of,
        progress,
    )?;
    let estimates = estimate_unmatched(&loans.loans, &matched, plan.as_of, plan.estimate);

    let bands = Bands::new(&plan.model.ltv_bands);
    let scaled = ScaledModel::new(plan.model, &bands);
    let join = join_previous(plan, &loans, &bands, progress)?;
    let stage = progress.spinner("figures");
    let valuation = |i| valuation_of(&matched.best, &matched.vin_ids, &estimates.values, i);
    let stresses = Stress::of(plan.model, &bands, &loans.layout.segments);
    let (projection, lifetime) = schedules(plan);
    let (summaries, per_account) = summarize(
        &loans.loans,
        |i| valuation(i).map(|v| (v.value, v.estimated)),
        |i| {
            figures(
                &loans.loans[i],
                valuation(i),
                plan.model,
                &bands,
                scaled.as_ref(),
                Detail::Weighted,
            )
        },
        &bands,
        &loans.layout.segments,
        Passes {
            stresses: &stresses,
            projection: projection.as_ref(),
            runoff_months: plan.model.runoff_months,
            lifetime: lifetime.as_ref(),
            join: join.as_ref(),
        },
    );
    stage.finish(&format!("{} accounts", loans.loans.len()));

    let mut loans = loans;
    let mut rejects = std::mem::take(&mut loans.rejects);
    rejects.extend(matched.rejects);
    rejects.sort_by_key(|r| (r.input, r.line));
    Ok(Book {
        as_of: plan.as_of,
        loaded: loans,
        valuations: matched.best,
        vin_ids: matched.vin_ids,
        estimates: estimates.values,
        estimate_counts: estimates.counts,
        estimate: plan.estimate.clone(),
        price_index: plan
            .estimate
            .index
            .as_ref()
            .filter(|_| plan.estimate.enabled)
            .map(|i| i.path.clone()),
        rejects,
        valuation_counts: matched.rows,
        match_counts: matched.counts,
        valuations_file: matched.file,
        model: plan.model.clone(),
        bands,
        scaled,
        summaries,
        months_to_positive_equity: per_account.months,
        lifetime: per_account.lifetime,
        previous: join,
    })
}
