//! Every summary table rebuilt from accounts.csv by a second, independent implementation written here
//! (segments from the README's definitions, sums in exact decimals, ratios rounded half-even), and
//! compared row by row and column by column with summary_by_*.csv and summary.json's tables. The credit
//! tier and term band edges are pinned by hand.

use crate::common::*;
use rust_decimal::prelude::*;
use std::collections::BTreeMap;

type Row = BTreeMap<String, String>;

/// The totals of one group, from accounts.csv rows.
#[derive(Default)]
struct Group {
    accounts: u64,
    closed: u64,
    valued: u64,
    balance: Decimal,
    value: Decimal,
    underwater: u64,
    negative_equity: Decimal,
    deficiency: Decimal,
    expected: Decimal,
    estimated: u64,
    estimated_underwater: u64,
    weighted_ltv: Decimal,
    valued_balance: Decimal,
}

impl Group {
    fn add(&mut self, a: &Row) {
        let balance = dec(&a["balance"]);
        self.accounts += 1;
        self.closed += u64::from(balance.is_zero());
        self.balance += balance;
        self.deficiency += dec(&a["deficiency_if_default"]);
        self.expected += dec(&a["expected_deficiency"]);
        if a["value"].is_empty() {
            return;
        }
        let value = dec(&a["value"]);
        let negative_equity = dec(&a["negative_equity"]);
        self.value += value;
        self.valued += u64::from(!balance.is_zero());
        let underwater = negative_equity > Decimal::ZERO;
        self.underwater += u64::from(underwater);
        self.negative_equity += negative_equity;
        if a["value_source"] == "estimated" {
            self.estimated += 1;
            self.estimated_underwater += u64::from(underwater);
        }
        self.weighted_ltv += balance * (balance / value);
        self.valued_balance += balance;
    }

    fn round4(d: Decimal) -> String {
        format!(
            "{:.4}",
            d.round_dp_with_strategy(4, RoundingStrategy::MidpointNearestEven)
        )
    }

    /// The row as summary_by_*.csv writes it (ratios only in segment tables).
    fn cells(&self, ratios: bool) -> Vec<(&'static str, String)> {
        let money = |d: Decimal| format!("{d:.2}");
        let mut cells = vec![
            ("accounts", self.accounts.to_string()),
            ("closed_accounts", self.closed.to_string()),
            ("valued_accounts", self.valued.to_string()),
            ("balance", money(self.balance)),
            ("value", money(self.value)),
            ("underwater_accounts", self.underwater.to_string()),
            ("negative_equity", money(self.negative_equity)),
            ("deficiency_if_default", money(self.deficiency)),
            ("expected_deficiency", money(self.expected)),
            ("estimated_value_accounts", self.estimated.to_string()),
            (
                "estimated_underwater_accounts",
                self.estimated_underwater.to_string(),
            ),
        ];
        if ratios {
            let share = (self.valued > 0)
                .then(|| Self::round4(Decimal::from(self.underwater) / Decimal::from(self.valued)));
            let avg = (!self.valued_balance.is_zero())
                .then(|| Self::round4(self.weighted_ltv / self.valued_balance));
            cells.push(("share_underwater", share.unwrap_or_default()));
            cells.push(("avg_ltv", avg.unwrap_or_default()));
        }
        cells
    }
}

/// The README's credit tiers: 250-579, 580-619, 620-659, 660-719, 720-900; anything else unknown.
fn credit_tier(score: &str) -> (u32, &'static str) {
    match score.trim().parse::<u32>() {
        Ok(250..=579) => (0, "deep_subprime"),
        Ok(580..=619) => (1, "subprime"),
        Ok(620..=659) => (2, "near_prime"),
        Ok(660..=719) => (3, "prime"),
        Ok(720..=900) => (4, "super_prime"),
        _ => (u32::MAX, "unknown"),
    }
}

/// The README's term bands.
fn term_band(term: &str) -> (u32, &'static str) {
    match term.parse::<u32>().unwrap() {
        0..=36 => (0, "<=36"),
        37..=48 => (1, "37-48"),
        49..=60 => (2, "49-60"),
        61..=72 => (3, "61-72"),
        73..=84 => (4, "73-84"),
        _ => (5, ">84"),
    }
}

const MISSING: [&str; 8] = ["", "NA", "N/A", "NULL", "null", "None", "-", "#N/A"];

/// The group of an account in a table, as a sort key (rank, label).
fn key(dimension: &str, a: &Row, bands: &[String]) -> (u32, String) {
    let fixed = |(rank, label): (u32, &str)| (rank, label.to_string());
    match dimension {
        "ltv_bucket" => {
            let b = &a["ltv_bucket"];
            (bands.iter().position(|l| l == b).unwrap() as u32, b.clone())
        }
        "vintage" => {
            // YYYY-MM-DD, or a tape's MM/YYYY.
            let d = &a["origination_date"];
            let year = if d.contains('/') {
                &d[d.len() - 4..]
            } else {
                &d[..4]
            };
            (year.parse().unwrap(), year.to_string())
        }
        "credit_tier" => fixed(credit_tier(a.get("credit_score").map_or("", |s| s))),
        "term_band" => fixed(term_band(&a["term_months"])),
        column => {
            let v = a.get(column).map_or("", |v| v.trim());
            if MISSING.contains(&v)
                || v == "unknown"
                || (column == "new_used" && v != "new" && v != "used")
            {
                (u32::MAX, "unknown".into())
            } else if v == "TOTAL" {
                (0, "TOTAL (value)".into())
            } else {
                (0, v.to_string())
            }
        }
    }
}

/// Rebuilds the table of `dimension` from the accounts and compares it with the run's CSV and JSON.
fn check_table(dir: &std::path::Path, dimension: &str, accounts: &[Row], bands: &[String]) {
    let segment = dimension != "ltv_bucket";
    let mut groups: BTreeMap<(u32, String), Group> = BTreeMap::new();
    if !segment {
        for (i, b) in bands.iter().enumerate() {
            groups.entry((i as u32, b.clone())).or_default();
        }
    }
    let mut total = Group::default();
    for a in accounts {
        groups.entry(key(dimension, a, bands)).or_default().add(a);
        total.add(a);
    }
    let mut want: Vec<(String, Vec<(&str, String)>)> = groups
        .iter()
        .map(|((_, label), g)| (label.clone(), g.cells(segment)))
        .collect();
    want.push(("TOTAL".into(), total.cells(segment)));

    let file = dir.join(format!("summary_by_{dimension}.csv"));
    let got = read_csv(&file);
    assert_eq!(
        got.iter().map(|r| r[dimension].clone()).collect::<Vec<_>>(),
        want.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
        "{dimension}: rows and their order"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let json_rows = json["tables"][dimension].as_array().unwrap();
    assert_eq!(json_rows.len(), want.len(), "{dimension} in summary.json");
    for ((label, cells), (row, jrow)) in want.iter().zip(got.iter().zip(json_rows)) {
        assert_eq!(
            jrow[dimension],
            label.as_str(),
            "{dimension} in summary.json"
        );
        for (column, value) in cells {
            assert_eq!(&row[*column], value, "{dimension} {label} {column}");
            let j = &jrow[*column];
            let j = j
                .as_str()
                .map(str::to_string)
                .or_else(|| j.as_u64().map(|n| n.to_string()))
                .unwrap_or_default();
            assert_eq!(&j, value, "{dimension} {label} {column} in summary.json");
        }
    }
}

fn check_run(dir: &std::path::Path) {
    let accounts = read_csv(&dir.join("accounts.csv"));
    assert!(!accounts.is_empty());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let bands: Vec<String> = json["tables"]["ltv_migration"]["columns_current_ltv_bucket"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    check_table(dir, "ltv_bucket", &accounts, &bands);
    let segments = json["manifest"]["config"]["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    for s in segments {
        check_table(dir, s.as_str().unwrap(), &accounts, &bands);
    }
}

#[test]
fn sample_book_summaries_rebuilt_from_accounts_csv() {
    let s = Sandbox::new();
    let out = run_sample_book(&s, "out", &[]);
    assert_ok(&out);
    check_run(&s.path("out"));
}

#[test]
fn hand_book_summaries_rebuilt_from_accounts_csv() {
    let s = Sandbox::new();
    s.write("loans.csv", HAND_LOANS);
    s.write("valuations.csv", &hand_valuations());
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    check_run(&s.path("out"));
}

#[test]
fn real_tape_summaries_rebuilt_from_accounts_csv() {
    let tape = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/regab/world_omni_2020_07.csv");
    if !tape.exists() {
        cannot_run(
            "real_tape_summaries_rebuilt_from_accounts_csv",
            "../shared is absent",
        );
        return;
    }
    let s = Sandbox::new();
    assert_ok(&s.run(&[
        "run",
        "--tape",
        "regab",
        tape.to_str().unwrap(),
        "--out",
        "out",
        "-q",
    ]));
    check_run(&s.path("out"));
}

/// Credit-tier and term-band edges were tested nowhere: one account at and either side of each edge,
/// with the expected tier and band written by hand.
#[test]
fn credit_tier_and_term_band_edges_by_hand() {
    let s = Sandbox::new();
    let mut loans = String::from(
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,credit_score\n",
    );
    let cases = [
        ("S249", "249", 36, "unknown", "<=36"),
        ("S250", "250", 37, "deep_subprime", "37-48"),
        ("S579", "579", 48, "deep_subprime", "37-48"),
        ("S580", "580", 49, "subprime", "49-60"),
        ("S619", "619", 60, "subprime", "49-60"),
        ("S620", "620", 61, "near_prime", "61-72"),
        ("S659", "659", 72, "near_prime", "61-72"),
        ("S660", "660", 73, "prime", "73-84"),
        ("S719", "719", 84, "prime", "73-84"),
        ("S720", "720", 85, "super_prime", ">84"),
        ("S900", "900", 1, "super_prime", "<=36"),
        ("S901", "901", 600, "unknown", ">84"),
        ("SNA", "NA", 12, "unknown", "<=36"),
        ("SBAD", "7x5", 12, "unknown", "<=36"),
    ];
    for (id, score, term, _, _) in cases {
        loans.push_str(&format!("{id},V{id},2022-01-01,1000,{term},500,{score}\n"));
    }
    s.write("loans.csv", &loans);
    s.write("valuations.csv", "vin,valuation_date,value\n");
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let count = |file: &str, dimension: &str| -> BTreeMap<String, String> {
        read_csv(&s.path(&format!("out/{file}")))
            .into_iter()
            .map(|r| (r[dimension].clone(), r["accounts"].clone()))
            .collect()
    };
    let mut tiers: BTreeMap<String, u64> = BTreeMap::new();
    let mut terms: BTreeMap<String, u64> = BTreeMap::new();
    for (_, _, _, tier, term) in cases {
        *tiers.entry(tier.into()).or_default() += 1;
        *terms.entry(term.into()).or_default() += 1;
    }
    let as_text = |m: BTreeMap<String, u64>| -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> =
            m.into_iter().map(|(k, v)| (k, v.to_string())).collect();
        m.insert("TOTAL".into(), cases.len().to_string());
        m
    };
    assert_eq!(
        count("summary_by_credit_tier.csv", "credit_tier"),
        as_text(tiers)
    );
    assert_eq!(
        count("summary_by_term_band.csv", "term_band"),
        as_text(terms)
    );
    // And the rows come in tier and band order, unknown last.
    let order: Vec<String> = read_csv(&s.path("out/summary_by_credit_tier.csv"))
        .into_iter()
        .map(|r| r["credit_tier"].clone())
        .collect();
    assert_eq!(
        order,
        [
            "deep_subprime",
            "subprime",
            "near_prime",
            "prime",
            "super_prime",
            "unknown",
            "TOTAL"
        ]
    );
    check_run(&s.path("out"));
}
