//! Micro-benchmarks of the hot stages, on a generated 20,000-loan book: `cargo bench --bench stages`.
//! The end-to-end comparison with DuckDB and pandas is `benches/compare.sh` (see BENCHMARKS.md).

use std::sync::OnceLock;
use underwater::book::matching::{match_chunk, merge_best, MatchCounts};
use underwater::book::metrics::{figures, Bands, Detail, Figures, ScaledModel};
use underwater::book::model::Model;
use underwater::book::vin_index::VinIndex;
use underwater::date::Date;
use underwater::input::load::rows::{parse_loans, ValuationLayout};
use underwater::input::load::{Loan, LoanFileRules, LoanLayout};
use underwater::input::reader::{Chunk, ChunkReader, Header};
use underwater::input::valuations::Valuation;

fn main() {
    divan::main();
}

const AS_OF: &str = "2025-06-30";

struct Book {
    loans_chunk: Chunk,
    loans_header: Header,
    vals_chunk: Chunk,
    vals_header: Header,
    loans: Vec<Loan>,
    best: Vec<Option<Valuation>>,
    vin_ids: Vec<u32>,
    figures: Vec<Figures>,
    layout: LoanLayout,
}

/// Reads a whole file as one chunk.
fn one_chunk(path: &std::path::Path) -> (Chunk, Header) {
    let (mut r, header) = ChunkReader::open(
        path,
        std::fs::metadata(path).unwrap().len() as usize + 1,
        Box::new(|_| {}),
    )
    .unwrap();
    (r.next_chunk().unwrap().unwrap(), header)
}

fn book() -> &'static Book {
    static BOOK: OnceLock<Book> = OnceLock::new();
    BOOK.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("underwater-bench-{}", std::process::id()));
        let args = underwater::commands::generate::GenerateArgs {
            loans: 20_000,
            seed: 1,
            out: dir.clone(),
            as_of: Date::parse(AS_OF).unwrap(),
            valuations_per_loan: 3,
            dirty: false,
            months_later: 0,
            outcome_months: 0,
            parts: 0,
        };
        underwater::commands::generate::generate(&args, underwater::progress::Progress::hidden())
            .unwrap();
        let (loans_chunk, loans_header) = one_chunk(&dir.join("loans.csv"));
        let (vals_chunk, vals_header) = one_chunk(&dir.join("valuations.csv"));
        let model = Model::default();
        let layout = LoanLayout::new(
            &dir.join("loans.csv"),
            &loans_header,
            &LoanFileRules::own_csv(),
        )
        .unwrap();
        let loans = parse_loans(&loans_chunk, &layout).loans;
        let (index, vin_ids) = VinIndex::build(&loans);
        let vlayout = ValuationLayout::new(
            &dir.join("valuations.csv"),
            &vals_header,
            Default::default(),
        )
        .unwrap();
        let mut best = vec![None; index.slots()];
        let batch = match_chunk(&vals_chunk, &vlayout, &index, Date::parse(AS_OF).unwrap());
        merge_best(&mut best, &mut MatchCounts::default(), batch);
        drop(index);
        let bands = Bands::new(&model.ltv_bands);
        let scaled = ScaledModel::new(&model, &bands);
        let figures = loans
            .iter()
            .zip(&vin_ids)
            .map(|(l, &id)| {
                figures(
                    l,
                    best[id as usize].as_ref(),
                    &model,
                    &bands,
                    scaled.as_ref(),
                    Detail::Account,
                )
            })
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        Book {
            loans_chunk,
            loans_header,
            vals_chunk,
            vals_header,
            loans,
            best,
            vin_ids,
            figures,
            layout,
        }
    })
}

#[divan::bench]
fn parse_amounts(bencher: divan::Bencher) {
    let inputs = [
        "19000.00",
        "$19,000.00",
        "1234.5678",
        "0",
        "-5.25",
        "12,345,678.90",
    ];
    bencher.bench(|| {
        for s in divan::black_box(inputs) {
            divan::black_box(underwater::money::parse_amount(s).ok());
        }
    });
}

#[divan::bench]
fn parse_and_validate_loans(bencher: divan::Bencher) {
    let b = book();
    let layout = LoanLayout::new(
        std::path::Path::new("loans.csv"),
        &b.loans_header,
        &LoanFileRules::own_csv(),
    )
    .unwrap();
    bencher
        .counter(divan::counter::BytesCount::new(b.loans_chunk.bytes.len()))
        .bench(|| parse_loans(&b.loans_chunk, &layout).loans.len());
}

#[divan::bench]
fn match_valuations(bencher: divan::Bencher) {
    let b = book();
    let vlayout = ValuationLayout::new(
        std::path::Path::new("valuations.csv"),
        &b.vals_header,
        Default::default(),
    )
    .unwrap();
    let (index, _) = VinIndex::build(&b.loans);
    let as_of = Date::parse(AS_OF).unwrap();
    bencher
        .counter(divan::counter::BytesCount::new(b.vals_chunk.bytes.len()))
        .bench(|| {
            match_chunk(&b.vals_chunk, &vlayout, &index, as_of)
                .best
                .len()
        });
}

#[divan::bench]
fn per_account_figures(bencher: divan::Bencher) {
    let b = book();
    let model = Model::default();
    let bands = Bands::new(&model.ltv_bands);
    let scaled = ScaledModel::new(&model, &bands);
    bencher
        .counter(divan::counter::ItemsCount::new(b.loans.len()))
        .bench(|| {
            b.loans
                .iter()
                .zip(&b.vin_ids)
                .map(|(l, &id)| {
                    figures(
                        l,
                        b.best[id as usize].as_ref(),
                        &model,
                        &bands,
                        scaled.as_ref(),
                        Detail::Account,
                    )
                    .bucket
                })
                .sum::<usize>()
        });
}

/// The run-off of a default run: 60 months, the built-in depreciation curves.
fn default_projection() -> underwater::book::runoff::Projection {
    underwater::book::runoff::Projection::new(
        underwater::book::model::DEFAULT_RUNOFF_MONTHS,
        &underwater::book::estimate::Estimate::defaults(false),
        Date::parse(AS_OF).unwrap(),
    )
}

#[divan::bench]
fn runoff_projection(bencher: divan::Bencher) {
    // The default 60-month run-off of every account, alone (summaries includes it with the rest).
    let b = book();
    let projection = default_projection();
    bencher
        .counter(divan::counter::ItemsCount::new(b.loans.len()))
        .bench(|| {
            let mut runoff = underwater::book::runoff::Runoff::new(
                underwater::book::model::DEFAULT_RUNOFF_MONTHS,
            );
            b.loans
                .iter()
                .zip(&b.vin_ids)
                .map(|(l, &id)| {
                    let value = b.best[id as usize].as_ref().map(|v| v.value);
                    u64::from(projection.project(l, value, &mut runoff))
                })
                .sum::<u64>()
        });
}

#[divan::bench]
fn summaries(bencher: divan::Bencher) {
    let b = book();
    let model = Model::default();
    let bands = Bands::new(&model.ltv_bands);
    // With the built-in stress scenarios, the run-off and the lifetime figures, as a default run
    // computes them.
    let stresses = underwater::book::stress::Stress::of(&model, &bands, &b.layout.segments);
    let projection = default_projection();
    let lifetime = model.lifetime.as_ref().and_then(|l| {
        underwater::book::lifetime::Rates::new(l, model.recovery_rate, model.repossession_cost)
    });
    bencher
        .counter(divan::counter::ItemsCount::new(b.loans.len()))
        .bench(|| {
            underwater::book::summarize::summarize(
                &b.loans,
                |i| {
                    b.best[b.vin_ids[i] as usize]
                        .as_ref()
                        .map(|v| (v.value, v.estimated))
                },
                |i| b.figures[i].clone(),
                &bands,
                &b.layout.segments,
                underwater::book::summarize::Passes {
                    stresses: &stresses,
                    projection: Some(&projection),
                    runoff_months: model.runoff_months,
                    lifetime: lifetime.as_ref(),
                    join: None,
                },
            )
            .0
            .segments
            .len()
        });
}

#[divan::bench]
fn accounts_csv_lines(bencher: divan::Bencher) {
    let b = book();
    let bands = Bands::new(&Model::default().ltv_bands);
    bencher
        .counter(divan::counter::ItemsCount::new(b.loans.len()))
        .bench(|| {
            let mut out = String::with_capacity(b.loans.len() * 200);
            for (i, loan) in b.loans.iter().enumerate() {
                let val = b.best[b.vin_ids[i] as usize].as_ref();
                underwater::output::accounts_csv::account_line(
                    &mut out,
                    loan,
                    val,
                    &b.figures[i],
                    underwater::book::OutlookAndPrevious::default(),
                    &bands,
                    Date::parse(AS_OF).unwrap(),
                );
            }
            out.len()
        });
}
