//! Property tests over random books, run through the real binary:
//! - every per-account figure equals an independent, sequential reference computation;
//! - every summary reconciles to accounts.csv to the cent;
//! - shuffling the input rows changes no output;
//! - 1 thread and several threads (with many small chunks) give byte-identical outputs.

use crate::common::*;
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;

mod reference;
use reference::{expected, expected_scenario};

#[derive(Clone, Debug)]
struct Loan {
    id: String,
    /// VIN number; written as `VIN<n>`, `vin<n>` or ` VIN<n> ` (matched upper-cased and trimmed).
    vin: usize,
    vin_style: usize,
    balance: Decimal,
    /// Written as `$12,345.67` (US-formatted, quoted) rather than `12345.67`.
    us_format: bool,
    amount_financed: Decimal,
    term: u32,
    /// None: the field is left empty (0 days).
    dpd: Option<u32>,
    year: u32,
    origination_value: Option<Decimal>,
    credit_score: Option<u32>,
    state: &'static str,
    new_used: &'static str,
}

#[derive(Clone, Debug)]
struct Val {
    vin: usize,
    vin_style: usize,
    day: u32,
    value: Decimal,
    source: &'static str,
}

/// A random model: band edges, recovery, repossession cost and a PD table.
#[derive(Clone, Debug)]
struct Cfg {
    bands: Vec<u32>,
    recovery: Decimal,
    cost: Decimal,
    /// (first day past due, pd), starting at day 0.
    pd: Vec<(u32, Decimal)>,
    scenario: Shock,
}

/// A random stress scenario (the only one of the run).
#[derive(Clone, Debug)]
struct Shock {
    value: Decimal,
    /// A change for `used` cars only, through `value_change_by`.
    used: Option<Decimal>,
    recovery: Decimal,
    cost: Decimal,
    pd: Decimal,
}

impl Cfg {
    fn toml(&self) -> String {
        let bands: Vec<String> = self.bands.iter().map(|b| b.to_string()).collect();
        let pd: Vec<String> = self.pd.iter().map(|(d, p)| format!("[{d}, {p}]")).collect();
        let sc = &self.scenario;
        let by = sc
            .used
            .map(|u| format!("value_change_by = {{ new_used = {{ used = {u} }} }}\n"))
            .unwrap_or_default();
        format!(
            "ltv_bands = [{}]\nrecovery_rate = {}\nrepossession_cost = {}\npd_by_days_past_due = [{}]\n\
             [[scenario]]\nname = \"shock\"\nvalue_change = {}\nrecovery_rate_change = {}\n\
             repossession_cost_change = {}\npd_multiplier = {}\n{by}",
            bands.join(", "),
            self.recovery,
            self.cost,
            pd.join(", "),
            sc.value,
            sc.recovery,
            sc.cost,
            sc.pd,
        )
    }

    fn labels(&self) -> Vec<String> {
        let b = &self.bands;
        let mut l = vec![format!("<={}", b[0])];
        for w in b.windows(2) {
            l.push(format!("{}-{}", w[0], w[1]));
        }
        l.push(format!(">{}", b[b.len() - 1]));
        l
    }

    fn pd_for(&self, dpd: u32) -> Decimal {
        self.pd.iter().rev().find(|(d, _)| *d <= dpd).unwrap().1
    }
}

const AS_OF_DAY: u32 = 20; // valuations are dated 2024-06-DD; as_of is 2024-06-20

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(48)
}

fn amount(max_units: i64) -> impl Strategy<Value = Decimal> {
    (0..max_units, 0u32..=4).prop_map(|(u, scale)| Decimal::new(u, scale))
}

fn cfgs() -> impl Strategy<Value = Cfg> {
    (
        prop::sample::subsequence(vec![50, 80, 90, 100, 110, 120, 125, 140, 150, 200], 1..5),
        0i64..=20,
        0i64..300_000,
        prop::sample::subsequence(vec![1u32, 15, 30, 60, 90, 120], 0..5),
        prop::collection::vec(0i64..=100, 6),
        (
            -60i64..=40,
            prop::option::of(-60i64..=0),
            -10i64..=0,
            -5i64..=5,
            0i64..=6,
        ),
    )
        .prop_map(|(bands, rec, cost, days, probs, (v, used, r, c, k))| Cfg {
            scenario: Shock {
                value: Decimal::new(v, 2),
                used: used.map(|u| Decimal::new(u, 2)),
                recovery: Decimal::new(r * 5, 2),
                cost: Decimal::new(c * 10, 2),
                pd: Decimal::new(k * 5, 1),
            },
            bands,
            recovery: Decimal::new(rec * 5, 2),
            cost: Decimal::new(cost, 2),
            pd: std::iter::once(0)
                .chain(days)
                .zip(probs)
                .map(|(d, p)| (d, Decimal::new(p, 2)))
                .collect(),
        })
}

fn loans() -> impl Strategy<Value = Vec<Loan>> {
    prop::collection::vec(
        (
            (0usize..12, 0usize..3, amount(6_000_000), any::<bool>()),
            (100_000i64..8_000_000, 1u32..100),
            prop::option::of(0u32..200),
            2018u32..2025,
            prop::option::of((1i64..6_000_000, 0u32..=2)),
            prop::option::of(240u32..920),
            prop::sample::select(vec!["CA", "TX", ""]),
            prop::sample::select(vec!["new", "used", ""]),
        ),
        0..40,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(
                |(
                    i,
                    ((vin, vin_style, balance, us), (af, term), dpd, year, ov, score, state, nu),
                )| {
                    Loan {
                        id: format!("A{:03}", (i * 37) % 1000),
                        vin,
                        vin_style,
                        balance,
                        us_format: us,
                        amount_financed: Decimal::new(af, 2),
                        term,
                        dpd,
                        year,
                        origination_value: ov.map(|(u, s)| Decimal::new(u, s)),
                        credit_score: score,
                        state,
                        new_used: nu,
                    }
                },
            )
            .collect()
    })
}

fn vals() -> impl Strategy<Value = Vec<Val>> {
    prop::collection::vec(
        (
            (0usize..12, 0usize..3),
            10u32..=25,
            // A few shared values make ties on (date, value), so the source tie-break is exercised.
            prop_oneof![
                prop::sample::select(vec![Decimal::new(900_000, 2), Decimal::new(1_500_000, 2)]),
                (1i64..4_000_000, 0u32..=4).prop_map(|(u, s)| Decimal::new(u, s)),
            ],
            prop::sample::select(vec!["kbb", "nada", "", "appraisal"]),
        ),
        0..40,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|((vin, vin_style), day, value, source)| Val {
                vin,
                vin_style,
                day,
                value,
                source,
            })
            .collect()
    })
}

fn vin_text(n: usize, style: usize) -> String {
    match style {
        0 => format!("VIN{n}"),
        1 => format!("vin{n}"),
        _ => format!(" VIN{n} "),
    }
}

/// `$12,345.6789` for 12345.6789: a leading `$` and comma thousands, as US exports write amounts.
fn us(d: Decimal) -> String {
    let text = d.to_string();
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("\"${grouped}.{f}\""),
        None => format!("\"${grouped}\""),
    }
}

fn loans_csv(loans: &[Loan]) -> String {
    let mut s = String::from("account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due,origination_value,credit_score,state,new_used\n");
    for l in loans {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let balance = if l.us_format {
            us(l.balance)
        } else {
            l.balance.to_string()
        };
        s.push_str(&format!(
            "{},{},{}-03-01,{},{},{balance},{},{},{},{},{}\n",
            l.id,
            vin_text(l.vin, l.vin_style),
            l.year,
            l.amount_financed,
            l.term,
            opt(l.dpd.map(|d| d.to_string())),
            opt(l.origination_value.map(|v| v.to_string())),
            opt(l.credit_score.map(|v| v.to_string())),
            l.state,
            l.new_used,
        ));
    }
    s
}

fn vals_csv(vals: &[Val]) -> String {
    let mut s = String::from("vin,valuation_date,value,source\n");
    for v in vals {
        s.push_str(&format!(
            "{},2024-06-{:02},{},{}\n",
            vin_text(v.vin, v.vin_style),
            v.day,
            v.value,
            v.source
        ));
    }
    s
}

fn r(d: Decimal, dp: u32) -> String {
    let mut x = d.round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven);
    x.rescale(dp);
    if x.is_zero() {
        x.set_sign_positive(true);
    }
    x.to_string()
}

fn unique_ids(loans: &[Loan]) -> bool {
    let mut ids: Vec<&str> = loans.iter().map(|l| l.id.as_str()).collect();
    ids.sort();
    ids.windows(2).all(|w| w[0] != w[1])
}

/// Every summary row equals the sum of its accounts' rounded figures; every TOTAL is the book total.
fn assert_reconciles(s: &Sandbox, out: &str) {
    let accounts = read_csv(&s.path(&format!("{out}/accounts.csv")));
    let money = [
        "balance",
        "value",
        "negative_equity",
        "deficiency_if_default",
        "expected_deficiency",
    ];
    let mut by_bucket: BTreeMap<String, BTreeMap<&str, Decimal>> = BTreeMap::new();
    for a in &accounts {
        for key in [a["ltv_bucket"].clone(), "TOTAL".to_string()] {
            let e = by_bucket.entry(key).or_default();
            *e.entry("accounts").or_default() += Decimal::ONE;
            for m in money {
                *e.entry(m).or_default() += amount_or_zero(&a[m]);
            }
            if amount_or_zero(&a["negative_equity"]) > Decimal::ZERO {
                *e.entry("underwater_accounts").or_default() += Decimal::ONE;
            }
        }
    }
    // The migration matrix: every cell is the count and balance of its accounts.
    let mut cells: BTreeMap<(String, String), (Decimal, Decimal)> = BTreeMap::new();
    for a in &accounts {
        let c = cells
            .entry((a["origination_ltv_bucket"].clone(), a["ltv_bucket"].clone()))
            .or_default();
        c.0 += Decimal::ONE;
        c.1 += amount_or_zero(&a["balance"]);
    }
    for m in read_csv(&s.path(&format!("{out}/summary_ltv_migration.csv"))) {
        let key = (
            m["origination_ltv_bucket"].clone(),
            m["current_ltv_bucket"].clone(),
        );
        let want = cells.remove(&key).unwrap_or_default();
        assert_eq!(
            (
                amount_or_zero(&m["accounts"]),
                amount_or_zero(&m["balance"])
            ),
            want,
            "{key:?}"
        );
    }
    assert!(cells.is_empty(), "accounts outside the matrix: {cells:?}");
    let ltv = read_csv(&s.path(&format!("{out}/summary_by_ltv_bucket.csv")));
    let total = ltv.last().unwrap().clone();
    for row in &ltv {
        let want = by_bucket
            .get(&row["ltv_bucket"])
            .cloned()
            .unwrap_or_default();
        for col in ["accounts", "underwater_accounts"]
            .iter()
            .chain(money.iter())
        {
            assert_eq!(
                amount_or_zero(&row[*col]),
                want.get(col).copied().unwrap_or_default(),
                "{} {col}",
                row["ltv_bucket"]
            );
        }
    }
    for seg in ["vintage", "credit_tier", "term_band"] {
        let rows = read_csv(&s.path(&format!("{out}/summary_by_{seg}.csv")));
        let seg_total = rows.last().unwrap();
        let mut sum: BTreeMap<&str, Decimal> = BTreeMap::new();
        for row in &rows[..rows.len() - 1] {
            for col in ["accounts", "underwater_accounts"]
                .iter()
                .chain(money.iter())
            {
                *sum.entry(col).or_default() += amount_or_zero(&row[*col]);
            }
        }
        for col in ["accounts", "underwater_accounts"]
            .iter()
            .chain(money.iter())
        {
            assert_eq!(seg_total[*col], total[*col], "{seg} TOTAL {col}");
            assert_eq!(
                sum.get(col).copied().unwrap_or_default(),
                amount_or_zero(&total[*col]),
                "{seg} rows sum {col}"
            );
        }
    }
}

fn csv_outputs(s: &Sandbox, out: &str) -> Vec<(String, Vec<u8>)> {
    outputs_without_times(&s.path(out))
        .into_iter()
        .filter(|(n, _)| n.ends_with(".csv"))
        .collect()
}

proptest! {
    // PROPTEST_CASES=1000 cargo test --release --test properties runs more cases.
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn figures_match_reference_and_summaries_reconcile(loans in loans(), vals in vals(), cfg in cfgs()) {
        prop_assume!(unique_ids(&loans));
        let s = Sandbox::new();
        s.write("loans.csv", &loans_csv(&loans));
        s.write("valuations.csv", &vals_csv(&vals));
        s.write("model.toml", &cfg.toml());
        assert_ok(&s.run_loans("out", &["--as-of", "2024-06-20", "--config", "model.toml"]));
        let want = expected(&loans, &vals, &cfg);
        let got = read_csv(&s.path("out/accounts.csv"));
        prop_assert_eq!(got.len(), want.len());
        for row in &got {
            let w = &want[&row["account_id"]];
            // Every column is compared: none of the file's is left out, none of the reference's missing.
            prop_assert_eq!(row.len(), w.len(), "{:?} against {:?}", row.keys().collect::<Vec<_>>(), w.keys().collect::<Vec<_>>());
            for (col, value) in w {
                prop_assert_eq!(&row[*col], value, "{} {}", row["account_id"], col);
            }
        }
        assert_reconciles(&s, "out");
        // The scenario's table, row by row, against the reference.
        let want = expected_scenario(&loans, &vals, &cfg);
        let got: BTreeMap<String, [String; 7]> = read_csv(&s.path("out/summary_scenarios.csv"))
            .into_iter()
            .filter(|row| row["scenario"] == "shock" && row["accounts"] != "0")
            .map(|row| {
                let cols = ["accounts", "balance", "value", "underwater_accounts", "negative_equity",
                            "deficiency_if_default", "expected_deficiency"];
                (row["ltv_bucket"].clone(), cols.map(|c| row[c].clone()))
            })
            .collect();
        if !loans.is_empty() {
            prop_assert_eq!(got, want, "{}", cfg.toml());
        }
    }

    #[test]
    fn shuffled_rows_and_thread_counts_change_nothing(loans in loans(), vals in vals(), cfg in cfgs(), seed in any::<u64>()) {
        prop_assume!(unique_ids(&loans));
        let s = Sandbox::new();
        s.write("loans.csv", &loans_csv(&loans));
        s.write("valuations.csv", &vals_csv(&vals));
        s.write("model.toml", &cfg.toml());
        let config = ["--as-of", "2024-06-20", "--config", "model.toml"];
        assert_ok(&s.run_loans("one", &[&config[..], &["--threads", "1"]].concat()));
        // Many tiny chunks on several threads exercise the parallel paths even on a small book.
        assert_ok(&s.run_loans("many", &[&config[..], &["--threads", "4", "--chunk-bytes", "64"]].concat()));
        prop_assert_eq!(outputs_without_times(&s.path("one")), outputs_without_times(&s.path("many")));

        let mut rng = seed;
        let mut shuffle = |n: usize| -> Vec<usize> {
            let mut idx: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                idx.swap(i, (rng >> 33) as usize % (i + 1));
            }
            idx
        };
        let l2: Vec<Loan> = shuffle(loans.len()).into_iter().map(|i| loans[i].clone()).collect();
        let v2: Vec<Val> = shuffle(vals.len()).into_iter().map(|i| vals[i].clone()).collect();
        s.write("loans.csv", &loans_csv(&l2));
        s.write("valuations.csv", &vals_csv(&v2));
        assert_ok(&s.run_loans("shuffled", &config));
        prop_assert_eq!(csv_outputs(&s, "one"), csv_outputs(&s, "shuffled"));
    }
}

#[test]
fn generated_book_is_identical_across_threads_and_chunk_sizes() {
    let s = Sandbox::new();
    assert_ok(&s.run(&[
        "generate", "--loans", "3000", "--seed", "5", "--out", "book", "--dirty", "-q",
    ]));
    let run = |out: &str, threads: &str, chunk: &str| {
        assert_ok(&s.run_generated(out, &["--threads", threads, "--chunk-bytes", chunk]));
    };
    run("a", "1", "4194304");
    run("b", "2", "1000");
    run("c", "3", "10");
    let a = outputs_without_times(&s.path("a"));
    assert_eq!(a, outputs_without_times(&s.path("b")));
    assert_eq!(a, outputs_without_times(&s.path("c")));
    assert_reconciles(&s, "a");
}

/// The summary fold is cut into pieces of at most 16,384 accounts (so no core finishes alone): on a book
/// of several pieces, every summary still reconciles to accounts.csv, whatever the thread count.
#[test]
fn a_book_of_many_fold_pieces_reconciles_at_any_thread_count() {
    let s = Sandbox::new();
    assert_ok(&s.run(&[
        "generate", "--loans", "50000", "--seed", "7", "--out", "book", "--dirty", "-q",
    ]));
    assert_ok(&s.run_generated("one", &["--threads", "1"]));
    assert_ok(&s.run_generated("two", &["--threads", "2"]));
    assert_eq!(
        outputs_without_times(&s.path("one")),
        outputs_without_times(&s.path("two"))
    );
    assert_reconciles(&s, "two");
}

#[test]
fn generator_is_deterministic() {
    let s = Sandbox::new();
    let generate = |out: &str, seed: &str, threads: &str| {
        assert_ok(&s.run(&[
            "generate",
            "--loans",
            "2000",
            "--seed",
            seed,
            "--out",
            out,
            "-q",
            "--threads",
            threads,
        ]));
    };
    generate("x", "9", "1");
    generate("y", "9", "2");
    for f in ["loans.csv", "valuations.csv"] {
        assert_eq!(s.read(&format!("x/{f}")), s.read(&format!("y/{f}")), "{f}");
    }
    generate("z", "10", "2");
    assert_ne!(s.read("x/loans.csv"), s.read("z/loans.csv"));
}
