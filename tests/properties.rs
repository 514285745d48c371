//! Property tests over random books, run through the real binary:
//! - every per-account figure equals an independent, sequential reference computation;
//! - every summary reconciles to accounts.csv to the cent;
//! - shuffling the input rows changes no output;
//! - 1 thread and several threads (with many small chunks) give byte-identical outputs.

mod common;
use common::*;
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Clone, Debug)]
struct Loan {
    id: String,
    vin: String,
    balance: Decimal,
    dpd: u32,
    year: u32,
    origination_value: Option<Decimal>,
}

#[derive(Clone, Debug)]
struct Val {
    vin: String,
    day: u32,
    value: Decimal,
    source: &'static str,
}

const AS_OF_DAY: u32 = 20; // valuations are dated 2024-06-DD; as_of is 2024-06-20

fn amount(max_units: i64) -> impl Strategy<Value = Decimal> {
    (0..max_units, 0u32..=4).prop_map(|(u, scale)| Decimal::new(u, scale))
}

fn loans() -> impl Strategy<Value = Vec<Loan>> {
    prop::collection::vec(
        (
            0usize..12,
            amount(6_000_000),
            0u32..200,
            2018u32..2025,
            prop::option::of((1i64..6_000_000, 0u32..=2)),
        ),
        0..40,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (vin, balance, dpd, year, ov))| Loan {
                id: format!("A{:03}", (i * 37) % 1000),
                vin: format!("VIN{vin}"),
                balance,
                dpd,
                year,
                origination_value: ov.map(|(u, s)| Decimal::new(u, s)),
            })
            .collect()
    })
}

fn vals() -> impl Strategy<Value = Vec<Val>> {
    prop::collection::vec(
        (
            0usize..12,
            10u32..=25,
            (1i64..4_000_000, 0u32..=4),
            prop::sample::select(vec!["kbb", "nada", ""]),
        ),
        0..40,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(vin, day, (u, s), source)| Val {
                vin: format!("VIN{vin}"),
                day,
                value: Decimal::new(u, s),
                source,
            })
            .collect()
    })
}

fn loans_csv(loans: &[Loan]) -> String {
    let mut s = String::from("account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due,origination_value\n");
    for l in loans {
        let ov = l
            .origination_value
            .map(|v| v.to_string())
            .unwrap_or_default();
        s.push_str(&format!(
            "{},{},{}-03-01,30000,60,{},{},{ov}\n",
            l.id, l.vin, l.year, l.balance, l.dpd
        ));
    }
    s
}

fn vals_csv(vals: &[Val]) -> String {
    let mut s = String::from("vin,valuation_date,value,source\n");
    for v in vals {
        s.push_str(&format!(
            "{},2024-06-{:02},{},{}\n",
            v.vin, v.day, v.value, v.source
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

/// The reference: a direct, sequential reading of the spec, sharing no code with the program.
fn expected(loans: &[Loan], vals: &[Val]) -> BTreeMap<String, BTreeMap<&'static str, String>> {
    let d = |s: &str| Decimal::from_str(s).unwrap();
    let mut out = BTreeMap::new();
    for l in loans {
        let mut cands: Vec<&Val> = vals
            .iter()
            .filter(|v| v.vin == l.vin && v.day <= AS_OF_DAY)
            .collect();
        cands.sort_by(|a, b| {
            b.day
                .cmp(&a.day)
                .then(a.value.cmp(&b.value))
                .then(a.source.cmp(b.source))
        });
        let pd = match l.dpd {
            0 => d("0.02"),
            1..=29 => d("0.05"),
            30..=59 => d("0.15"),
            60..=89 => d("0.35"),
            _ => d("0.65"),
        };
        let mut row = BTreeMap::new();
        let band = |num: Decimal, den: Decimal| {
            let edges = [80, 100, 120, 140];
            let labels = ["<=80", "80-100", "100-120", "120-140", ">140"];
            let i = edges
                .iter()
                .position(|&e| num * Decimal::ONE_HUNDRED <= Decimal::from(e) * den)
                .unwrap_or(4);
            labels[i].to_string()
        };
        match l.origination_value {
            Some(ov) => {
                row.insert("origination_ltv", r(d("30000") / ov, 4));
                row.insert("origination_ltv_bucket", band(d("30000"), ov));
            }
            None => {
                row.insert("origination_ltv", String::new());
                row.insert("origination_ltv_bucket", "no_value".into());
            }
        }
        let net = match cands.first() {
            Some(v) => {
                let b = l.balance;
                row.insert("value", r(v.value, 2));
                row.insert("equity", r(v.value - b, 2));
                row.insert("negative_equity", r((b - v.value).max(Decimal::ZERO), 2));
                row.insert("ltv", r(b / v.value, 4));
                row.insert("ltv_bucket", band(b, v.value));
                row.insert(
                    "value_source",
                    if v.source.is_empty() {
                        "valuation".into()
                    } else {
                        v.source.to_string()
                    },
                );
                (v.value * d("0.85") - d("1000")).max(Decimal::ZERO)
            }
            None => {
                row.insert("value", String::new());
                row.insert("ltv_bucket", "no_value".into());
                row.insert("value_source", "none".into());
                Decimal::ZERO
            }
        };
        let def = (l.balance - net).max(Decimal::ZERO);
        row.insert("balance", r(l.balance, 2));
        row.insert("net_recovery", r(net, 2));
        row.insert("deficiency_if_default", r(def, 2));
        row.insert("expected_deficiency", r(pd * def, 2));
        out.insert(l.id.clone(), row);
    }
    out
}

fn unique_ids(loans: &[Loan]) -> bool {
    let mut ids: Vec<&str> = loans.iter().map(|l| l.id.as_str()).collect();
    ids.sort();
    ids.windows(2).all(|w| w[0] != w[1])
}

fn dec(s: &str) -> Decimal {
    if s.is_empty() {
        Decimal::ZERO
    } else {
        Decimal::from_str(s).unwrap()
    }
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
                *e.entry(m).or_default() += dec(&a[m]);
            }
            if dec(&a["negative_equity"]) > Decimal::ZERO {
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
        c.1 += dec(&a["balance"]);
    }
    for m in read_csv(&s.path(&format!("{out}/summary_ltv_migration.csv"))) {
        let key = (
            m["origination_ltv_bucket"].clone(),
            m["current_ltv_bucket"].clone(),
        );
        let want = cells.remove(&key).unwrap_or_default();
        assert_eq!((dec(&m["accounts"]), dec(&m["balance"])), want, "{key:?}");
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
                dec(&row[*col]),
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
                *sum.entry(col).or_default() += dec(&row[*col]);
            }
        }
        for col in ["accounts", "underwater_accounts"]
            .iter()
            .chain(money.iter())
        {
            assert_eq!(seg_total[*col], total[*col], "{seg} TOTAL {col}");
            assert_eq!(
                sum.get(col).copied().unwrap_or_default(),
                dec(&total[*col]),
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
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn figures_match_reference_and_summaries_reconcile(loans in loans(), vals in vals()) {
        prop_assume!(unique_ids(&loans));
        let s = Sandbox::new();
        s.write("loans.csv", &loans_csv(&loans));
        s.write("valuations.csv", &vals_csv(&vals));
        assert_ok(&s.run_book("out", &["--as-of", "2024-06-20"]));
        let want = expected(&loans, &vals);
        let got = read_csv(&s.path("out/accounts.csv"));
        prop_assert_eq!(got.len(), want.len());
        for row in &got {
            for (col, value) in &want[&row["account_id"]] {
                prop_assert_eq!(&row[*col], value, "{} {}", row["account_id"], col);
            }
        }
        assert_reconciles(&s, "out");
    }

    #[test]
    fn shuffled_rows_and_thread_counts_change_nothing(loans in loans(), vals in vals(), seed in any::<u64>()) {
        prop_assume!(unique_ids(&loans));
        let s = Sandbox::new();
        s.write("loans.csv", &loans_csv(&loans));
        s.write("valuations.csv", &vals_csv(&vals));
        assert_ok(&s.run_book("one", &["--as-of", "2024-06-20", "--threads", "1"]));
        // Many tiny chunks on several threads exercise the parallel paths even on a small book.
        assert_ok(&s.run_book("many", &["--as-of", "2024-06-20", "--threads", "4", "--chunk-bytes", "64"]));
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
        assert_ok(&s.run_book("shuffled", &["--as-of", "2024-06-20"]));
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
