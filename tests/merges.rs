//! The summaries of a book are folded in pieces of at most 16,384 accounts and the pieces merged. A
//! generated book of 120,000 accounts (seven pieces and more, a month apart with `--previous`) must
//! give in every additive column of every summary table, and in summary.json's counts and amounts, the
//! sums of the same figures of its parts run apart (eight parts by account id, a few thousand accounts
//! each); its top exposures must be the largest of its parts' lists. The sums are the test's own, so a
//! merge that drops, doubles or misorders a piece (a segment group, a run-off month a piece does not
//! reach, a changes cell, a tie in the top lists) fails here.

use crate::common::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

const LOANS: &str = "120000";
const PARTS: usize = 8;

/// The label columns of the summary tables (the row's key); every other column but the ratios is a
/// count or an amount, and adds up.
const LABELS: [&str; 15] = [
    "ltv_bucket",
    "credit_tier",
    "new_used",
    "state",
    "term_band",
    "vintage",
    "scenario",
    "previous",
    "current",
    "previous_ltv_bucket",
    "current_ltv_bucket",
    "origination_ltv_bucket",
    "line",
    "month",
    "date",
];

/// Ratios of the tables' sums: checked against accounts.csv elsewhere, not additive.
const RATIOS: [&str; 3] = ["share_underwater", "avg_ltv", "share_of_previous"];

/// A table as (row key → column → sum).
type Sums = BTreeMap<Vec<String>, BTreeMap<String, Decimal>>;

/// Adds a summary table's additive cells into `sums`.
fn add_table(sums: &mut Sums, path: &std::path::Path) {
    for row in read_csv(path) {
        let key: Vec<String> = LABELS
            .iter()
            .filter_map(|l| row.get(*l).map(|v| format!("{l}={v}")))
            .collect();
        let cells = sums.entry(key).or_default();
        for (column, value) in &row {
            if LABELS.contains(&column.as_str()) || RATIOS.contains(&column.as_str()) {
                continue;
            }
            // The loss curve's surviving balance has 20 decimals, beyond what 28-digit decimals add
            // exactly at book scale: its whole dollars and its fraction (in 10^-20) are summed apart,
            // and the fraction's carry moved over by `carry_fractions`.
            if column == "surviving_balance" {
                let (whole, fraction) = value.split_once('.').unwrap();
                *cells.entry(format!("{column} dollars")).or_default() += dec(whole);
                *cells.entry(format!("{column} fraction")).or_default() +=
                    dec(&format!("{fraction:0<20}"));
                continue;
            }
            *cells.entry(column.clone()).or_default() += dec(value);
        }
    }
}

/// Moves whole dollars out of the summed 20-decimal fractions (see [`add_table`]).
fn carry_fractions(sums: &mut Sums) {
    let one = dec("100000000000000000000");
    for cells in sums.values_mut() {
        if let Some(fraction) = cells.get("surviving_balance fraction").copied() {
            let carry = (fraction / one).floor();
            cells.insert("surviving_balance fraction".into(), fraction - carry * one);
            *cells.get_mut("surviving_balance dollars").unwrap() += carry;
        }
    }
}

/// The part of the book an account goes to: by a hash of its id, so a repeated id stays in one part.
fn part_of(id: &str) -> usize {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % PARTS as u64) as usize
}

/// Writes `book`'s loans.csv split into the parts' `part{i}/{name}`.
fn split(s: &Sandbox, book: &str, name: &str) {
    let mut reader = csv::Reader::from_path(s.path(&format!("{book}/loans.csv"))).unwrap();
    let header = reader.headers().unwrap().clone();
    let mut writers: Vec<csv::Writer<std::fs::File>> = (0..PARTS)
        .map(|i| {
            std::fs::create_dir_all(s.path(&format!("part{i}"))).unwrap();
            let mut w = csv::Writer::from_path(s.path(&format!("part{i}/{name}"))).unwrap();
            w.write_record(&header).unwrap();
            w
        })
        .collect();
    for record in reader.records() {
        let record = record.unwrap();
        writers[part_of(&record[0])].write_record(&record).unwrap();
    }
    for mut w in writers {
        w.flush().unwrap();
    }
}

/// The two nights of a book: `loans0` at 2025-06-30, then `loans1` a month later against the first.
fn run_two_nights(s: &Sandbox, dir: &str, loans0: &str, loans1: &str, threads: &str) {
    let night = |loans: &str, book: &str, as_of: &str, out: &str, previous: Option<&str>| {
        let valuations = format!("{book}/valuations.csv");
        let mut args = vec![
            "run",
            "--loans",
            loans,
            "--valuations",
            &valuations,
            "--as-of",
            as_of,
            "--out",
            out,
            "--threads",
            threads,
            "-q",
        ];
        if let Some(p) = previous {
            args.extend(["--previous", p]);
        }
        assert_ok(&s.run(&args));
    };
    let (first, second) = (format!("{dir}/night0"), format!("{dir}/night1"));
    night(loans0, "g0", "2025-06-30", &first, None);
    night(loans1, "g1", "2025-07-31", &second, Some(&first));
}

/// summary.json's parts whose counts and amounts add up over accounts, and the keys in them that do
/// not (ratios, percentiles, medians, names, the run-off's rule and months, covered by the tables).
const ADDITIVE_JSON: [&str; 3] = ["portfolio", "runoff", "changes"];
const NOT_ADDITIVE: [&str; 9] = [
    "share_underwater",
    "avg_ltv",
    "origination_ltv",
    "months",
    "rule",
    "by_month",
    "median_months_to_positive_equity",
    "previous_run",
    "previous_as_of",
];

/// Every number (or number as text) under `j`, by its path, the keys above left out.
fn numbers(j: &serde_json::Value, at: String, out: &mut BTreeMap<String, Decimal>) {
    match j {
        serde_json::Value::Object(m) => {
            for (k, v) in m
                .iter()
                .filter(|(k, _)| !NOT_ADDITIVE.contains(&k.as_str()))
            {
                numbers(v, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Number(n) => {
            out.insert(at, dec(&n.to_string()));
        }
        serde_json::Value::String(t) => {
            out.insert(at, dec(t));
        }
        other => panic!("{at}: {other:?}"),
    }
}

/// A top-exposure list's entries, largest first, ties to the lower account id.
fn top_of(lists: &[serde_json::Value], kind: &str, amount: &str) -> Vec<serde_json::Value> {
    let mut all: Vec<serde_json::Value> = lists
        .iter()
        .flat_map(|j| j["top_exposures"][kind].as_array().unwrap().clone())
        .collect();
    let key = |e: &serde_json::Value| {
        (
            std::cmp::Reverse(dec(e[amount].as_str().unwrap())),
            e["account_id"].as_str().unwrap().to_string(),
        )
    };
    all.sort_by_key(key);
    all.truncate(20);
    all
}

#[test]
fn a_book_of_many_pieces_sums_its_parts_in_every_table() {
    let s = Sandbox::new();
    for (book, later) in [("g0", "0"), ("g1", "1")] {
        let args = ["generate", "--loans", LOANS, "--months-later", later];
        assert_ok(&s.run(&[&args[..], &["--out", book, "-q"]].concat()));
        split(&s, book, &format!("loans{}.csv", &book[1..]));
    }
    run_two_nights(&s, "whole", "g0/loans.csv", "g1/loans.csv", "2");
    for i in 0..PARTS {
        let dir = format!("part{i}");
        let (l0, l1) = (format!("{dir}/loans0.csv"), format!("{dir}/loans1.csv"));
        run_two_nights(&s, &dir, &l0, &l1, "1");
    }
    let whole = s.path("whole/night1");
    let mut tables: Vec<String> = std::fs::read_dir(&whole)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("summary_") && n.ends_with(".csv"))
        .collect();
    tables.sort();
    assert_eq!(tables.len(), 13, "{tables:?}");
    for table in &tables {
        let mut expected = Sums::new();
        for i in 0..PARTS {
            add_table(&mut expected, &s.path(&format!("part{i}/night1/{table}")));
        }
        let mut got = Sums::new();
        add_table(&mut got, &whole.join(table));
        carry_fractions(&mut expected);
        carry_fractions(&mut got);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{table}: rows"
        );
        for (key, cells) in &expected {
            for (column, sum) in cells {
                assert_eq!(got[key][column], *sum, "{table} {key:?} {column}");
            }
        }
    }
    let parts: Vec<serde_json::Value> = (0..PARTS)
        .map(|i| s.summary(&format!("part{i}/night1")))
        .collect();
    let j = s.summary("whole/night1");
    // Seven pieces at least.
    assert!(j["portfolio"]["accounts"].as_u64().unwrap() > 6 * 16_384);
    for part in ADDITIVE_JSON {
        let mut expected = BTreeMap::new();
        for p in &parts {
            let mut figures = BTreeMap::new();
            numbers(&p[part], part.into(), &mut figures);
            for (k, v) in figures {
                *expected.entry(k).or_insert(Decimal::ZERO) += v;
            }
        }
        let mut got = BTreeMap::new();
        numbers(&j[part], part.into(), &mut got);
        assert!(got.len() >= 5, "{part}: {got:?}");
        assert_eq!(got, expected, "summary.json {part}");
    }
    for (kind, amount) in [
        ("expected_deficiency", "expected_deficiency"),
        ("unvalued_balance", "balance"),
    ] {
        let top = top_of(&parts, kind, amount);
        assert_eq!(top.len(), 20, "{kind}");
        assert_eq!(j["top_exposures"][kind].as_array().unwrap(), &top, "{kind}");
    }
}
