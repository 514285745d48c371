//! Loan tapes: SEC Reg AB II EX-102 files (`run --tape regab`), estimated values, origination LTV
//! and
//! the migration matrix, on hand-written tapes with every quirk and on the two real tapes in
//! `../shared/data/regab/` (a test fails when that folder is absent, unless `UNDERWATER_ALLOW_SKIP=1`).

use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod xml;

const TAPE_HEADER: &str = ",assetNumber,reportingPeriodEndingDate,originationDate,originalLoanAmount,originalLoanTerm,\
originalInterestRatePercentage,vehicleNewUsedCode,vehicleValueAmount,obligorCreditScore,obligorGeographicLocation,\
reportingPeriodActualEndBalanceAmount,currentDelinquencyStatus,repossessedProceedsAmount,subvented,subvented";

/// One row of each quirk; the line number is in the comment.
fn hand_tape() -> String {
    let rows = [
        TAPE_HEADER, // 1: an unnamed first column (R row names) and `subvented` twice
        "1,123456789012345678,07-31-2020,06/2019,22000,72,0.053900000000000003,1,20000,NA,NC,18000.00,0,NA,0,0", // 2
        "2,USED1,07-31-2020,06/2019,18000,60,0.0699,2,20000,-,AL,15000.00,0,-250.00,0,0", // 3
        "3,SHARED,07-31-2020,01/2020,10000,60,0.05,1,10000,700,NC,9000,0,0,0,0", // 4
        "4,SHARED,07-31-2020,02/2020,12000,60,0.05,1,12000,700,NC,11000,0,0,0,0", // 5
        "5,TWIN,07-31-2020,02/2020,12000,60,0.05,1,12000,700,NC,11000,0,0,0,0", // 6
        "6,TWIN,07-31-2020,02/2020,12000,60,0.05,1,12000,700,NC,11000,0,0,0,0", // 7
        "7,BADAMT,07-31-2020,06/2019,abc,60,0.05,1,10000,700,NC,9000,0,0,0,0", // 8
        "8,NABAL,07-31-2020,06/2019,10000,60,0.05,1,10000,700,NC,NA,0,0,0,0", // 9
        "9,OLDPERIOD,06-30-2020,06/2019,10000,60,0.05,1,10000,700,NC,9000,0,0,0,0", // 10
        "10,NOVALUE,07-31-2020,06/2019,10000,60,0.05,1,NA,700,NC,9000,0,0,0,0", // 11
    ];
    rows.join("\n") + "\n"
}

fn by_id(rows: &[BTreeMap<String, String>]) -> BTreeMap<String, BTreeMap<String, String>> {
    rows.iter()
        .map(|r| (r["account_id"].clone(), r.clone()))
        .collect()
}

#[test]
fn hand_tape_every_quirk_is_a_rule_or_an_explained_reject() {
    let s = Sandbox::new();
    s.write("tape.csv", &hand_tape());
    assert_ok(&s.run(&["run", "--tape", "regab", "tape.csv", "--out", "out", "-q"]));

    let rejects = read_csv(&s.path("out/rejects.csv"));
    let got: Vec<(&str, &str, &str)> = rejects
        .iter()
        .map(|r| {
            (
                r["line"].as_str(),
                r["field"].as_str(),
                r["reason"].as_str(),
            )
        })
        .collect();
    assert_eq!(got.len(), 5, "{got:#?}");
    assert_eq!(got[0].0, "6");
    assert_eq!(got[1].0, "7");
    assert!(got[0].2.starts_with("duplicate account_id"), "{got:?}");
    assert_eq!(got[2].0, "8");
    assert_eq!(got[2].1, "amount_financed (originalLoanAmount)");
    assert_eq!(
        (got[3].0, got[3].1, got[3].2),
        (
            "9",
            "current_balance (reportingPeriodActualEndBalanceAmount)",
            "required value is missing (`NA`)"
        )
    );
    assert_eq!(got[4].0, "10");
    assert_eq!(got[4].1, "reporting_period_end (reportingPeriodEndingDate)");
    assert!(got[4].2.contains("2020-07-31"), "{}", got[4].2);

    let accounts = by_id(&read_csv(&s.path("out/accounts.csv")));
    let ids: Vec<&str> = accounts.keys().map(String::as_str).collect();
    // The 18-digit id is kept as text, exactly; two different loans sharing an id are kept apart.
    assert_eq!(
        ids,
        [
            "123456789012345678",
            "NOVALUE",
            "SHARED#1",
            "SHARED#2",
            "USED1"
        ]
    );
    let new1 = &accounts["123456789012345678"];
    // New car, 13 months old (2019-06-01 to 2020-07-31): 0.80 + (0.696 − 0.80) × 1/12 = 0.791333…;
    // 20,000 × that = 15,826.67.
    assert_eq!(new1["value"], "15826.67");
    assert_eq!(new1["value_source"], "estimated");
    assert_eq!(new1["value_date"], "2020-07-31");
    // An estimate is dated as_of, not appraised then: no valuation age.
    assert_eq!(new1["value_age_days"], "");
    assert_eq!(new1["negative_equity"], "2173.33");
    assert_eq!(new1["origination_ltv"], "1.1000");
    assert_eq!(new1["origination_ltv_bucket"], "100-120");
    // The rate's float noise goes; accounts.csv shows percent like underwater's own apr.
    assert_eq!(new1["apr"], "5.39");
    assert_eq!(new1["subvented.1"], "0");
    assert_eq!(new1["column_1"], "1");
    // Used curve: 0.89 + (0.7921 − 0.89) × 1/12 = 0.881841…; 20,000 × that = 17,636.83.
    let used = &accounts["USED1"];
    assert_eq!(used["value"], "17636.83");
    assert_eq!(used["origination_ltv"], "0.9000");
    assert_eq!(used["ltv_bucket"], "80-100");
    assert_eq!(used["repossessedProceedsAmount"], "-250.00");
    // Regression: the filer's code 2 was echoed as `2`, so `query --by new_used` grouped by codes.
    assert_eq!(used["new_used"], "used");
    assert_eq!(new1["new_used"], "new");
    let novalue = &accounts["NOVALUE"];
    assert_eq!(novalue["value_source"], "none");
    assert_eq!(novalue["ltv_bucket"], "no_value");
    assert_eq!(novalue["origination_ltv_bucket"], "no_value");

    let j = s.summary("out");
    assert_eq!(j["manifest"]["as_of"], "2020-07-31");
    assert_eq!(
        j["manifest"]["as_of_source"],
        "tape reportingPeriodEndingDate"
    );
    let q = &j["data_quality"]["loans"];
    assert_eq!(q["rows_read"], 10);
    assert_eq!(q["rows_accepted"], 5);
    assert_eq!(q["rows_rejected"], 5);
    assert_eq!(q["ids_shared_by_different_loans"]["ids"], 1);
    assert_eq!(q["ids_shared_by_different_loans"]["rows"], 2);
    assert_eq!(j["data_quality"]["estimates"]["accounts_estimated"], 4);
    assert_eq!(
        j["data_quality"]["estimates"]["no_valuation_and_no_origination_value"],
        1
    );
    assert!(j["data_quality"]["valuations"].is_null());
    assert_eq!(j["portfolio"]["estimated_value_accounts"], 4);
    let tiers = read_csv(&s.path("out/summary_by_credit_tier.csv"));
    let unknown = tiers
        .iter()
        .find(|r| r["credit_tier"] == "unknown")
        .unwrap();
    assert_eq!(unknown["accounts"], "2", "NA and - scores are missing");
    let new_used = read_csv(&s.path("out/summary_by_new_used.csv"));
    let labels: Vec<&str> = new_used.iter().map(|r| r["new_used"].as_str()).collect();
    assert_eq!(
        labels,
        ["new", "used", "TOTAL"],
        "codes 1/2 read as new/used"
    );
}

#[test]
fn price_index_scales_estimates_and_a_missing_month_is_counted() {
    let s = Sandbox::new();
    s.write("tape.csv", &hand_tape());
    s.write("index.csv", "month,level\n2019-06,100\n2020-07,110\n");
    s.write("c.toml", "[estimate]\nprice_index = \"index.csv\"\n");
    let run = |out: &str| {
        s.run(&[
            "run", "--tape", "regab", "tape.csv", "--config", "c.toml", "--out", out, "-q",
        ])
    };
    assert_ok(&run("out"));
    let accounts = by_id(&read_csv(&s.path("out/accounts.csv")));
    // 20,000 × 0.791333… × 110/100 = 17,409.33
    assert_eq!(accounts["123456789012345678"]["value"], "17409.33");
    // Originated in months the index does not cover: no estimate, counted.
    assert_eq!(accounts["SHARED#1"]["value_source"], "none");
    let j = s.summary("out");
    assert_eq!(
        j["data_quality"]["estimates"]["no_price_index_for_origination_month"],
        2
    );
    // The summary names the index the estimates moved with.
    assert!(j["data_quality"]["estimates"]["price_index"]
        .as_str()
        .is_some_and(|p| p.ends_with("index.csv")));

    // An index without the as_of month is a config error before anything is read.
    s.write("index.csv", "month,level\n2019-06,100\n");
    let out = run("out2");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("2020-07"), "{}", stderr(&out));
    assert!(!s.path("out2").exists());
}

#[test]
fn a_lenders_export_is_read_through_a_columns_mapping() {
    let s = Sandbox::new();
    s.write(
        "export.csv",
        "LoanNo,Serial,Opened,Financed,Months,Owed,OrigValue\n\
         L1,VIN1,2022-01-15,21000,60,19000,20000\n\
         L2,VIN2,2022-01-15,oops,60,100,20000\n",
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nVIN1,2024-06-01,15500\n",
    );
    s.write(
        "c.toml",
        "[columns]\naccount_id = \"LoanNo\"\nvin = \"Serial\"\norigination_date = \"Opened\"\n\
         amount_financed = \"Financed\"\nterm_months = \"Months\"\ncurrent_balance = \"Owed\"\n\
         origination_value = \"OrigValue\"\n",
    );
    let run = |out: &str| {
        s.run(&[
            "run",
            "--loans",
            "export.csv",
            "--valuations",
            "valuations.csv",
            "--config",
            "c.toml",
            "--as-of",
            "2024-06-30",
            "--out",
            out,
            "-q",
        ])
    };
    assert_ok(&run("out"));
    let accounts = by_id(&read_csv(&s.path("out/accounts.csv")));
    assert_eq!(accounts["L1"]["negative_equity"], "3500.00");
    assert_eq!(accounts["L1"]["origination_ltv"], "1.0500");
    let rejects = read_csv(&s.path("out/rejects.csv"));
    assert_eq!(rejects[0]["field"], "amount_financed (Financed)");

    // A mapped column the file lacks is named in the error, with the file's own name.
    s.write("c.toml", "[columns]\naccount_id = \"LoanNumber\"\n");
    let out = run("out2");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("account_id (LoanNumber)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn without_valuations_a_run_needs_estimates() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        &format!("{LOAN_HEADER}\nA,V,2022-01-15,100,60,50,0\n"),
    );
    let out = s.run(&["run", "--loans", "loans.csv", "--out", "out", "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--valuations"), "{}", stderr(&out));
    // With estimates on, a plain loans file runs on its origination values alone (none here).
    s.write("c.toml", "[estimate]\nenabled = true\n");
    assert_ok(&s.run(&[
        "run",
        "--loans",
        "loans.csv",
        "--config",
        "c.toml",
        "--as-of",
        "2024-06-30",
        "--out",
        "out",
        "-q",
    ]));
}

/// A real tape from `../shared/data/regab/`, or None (with a message) when it is not there.
fn real_tape(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/regab")
        .join(name);
    if p.exists() {
        Some(p)
    } else {
        cannot_run(
            name,
            &format!(
                "{} is absent; real-tape checks need ../shared beside the project",
                p.display()
            ),
        );
        None
    }
}

/// A summary.json amount (a string) as its exact decimal.
fn json_decimal(v: &serde_json::Value) -> rust_decimal::Decimal {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn world_omni_2020_a_runs_end_to_end_and_matches_the_publishers_origination_ltv() {
    let Some(tape) = real_tape("world_omni_2020_07.csv") else {
        return;
    };
    let s = Sandbox::new();
    let tape = tape.to_str().unwrap();
    assert_ok(&s.run(&["run", "--tape", "regab", tape, "--out", "out", "-q"]));
    let j = s.summary("out");
    let q = &j["data_quality"]["loans"];
    assert_eq!(q["rows_read"], 7572);
    assert_eq!(q["rows_rejected"], 0, "no unexplained rejects");
    assert_eq!(q["rows_accepted"], 7572);
    // Every assetNumber of this re-published tape went through a float: 1,460 ids are shared.
    assert_eq!(q["ids_shared_by_different_loans"]["ids"], 1460);
    assert_eq!(q["ids_shared_by_different_loans"]["rows"], 6873);
    assert_eq!(j["manifest"]["as_of"], "2020-07-31");
    let p = &j["portfolio"];
    assert_eq!(p["accounts"], 7572);
    assert_eq!(p["balance"], "184506367.68");
    assert_eq!(p["estimated_value_accounts"], 7572);
    // The publisher: median origination LTV about 1.11, 5th–95th percentile 0.75–1.43.
    let o = &p["origination_ltv"];
    let near = |v: &serde_json::Value, want: &str, tol: &str| {
        let (v, want, tol) = (
            json_decimal(v),
            want.parse::<rust_decimal::Decimal>().unwrap(),
            tol.parse::<rust_decimal::Decimal>().unwrap(),
        );
        assert!((v - want).abs() <= tol, "{v} not within {tol} of {want}");
    };
    near(&o["median"], "1.11", "0.005");
    near(&o["p05"], "0.75", "0.01");
    near(&o["p95"], "1.43", "0.01");

    // The migration matrix reconciles to accounts.csv, cell by cell, to the cent.
    let accounts = read_csv(&s.path("out/accounts.csv"));
    let mut cells: BTreeMap<(String, String), (u64, rust_decimal::Decimal)> = BTreeMap::new();
    for a in &accounts {
        let c = cells
            .entry((a["origination_ltv_bucket"].clone(), a["ltv_bucket"].clone()))
            .or_default();
        c.0 += 1;
        c.1 += a["balance"].parse::<rust_decimal::Decimal>().unwrap();
    }
    let migration = read_csv(&s.path("out/summary_ltv_migration.csv"));
    assert_eq!(migration.len(), 36, "6 × 6 bands, zeros included");
    for m in &migration {
        let key = (
            m["origination_ltv_bucket"].clone(),
            m["current_ltv_bucket"].clone(),
        );
        let (n, bal) = cells.get(&key).copied().unwrap_or_default();
        assert_eq!(m["accounts"], n.to_string(), "{key:?}");
        assert_eq!(
            m["balance"].parse::<rust_decimal::Decimal>().unwrap(),
            bal,
            "{key:?}"
        );
    }
}

#[test]
fn carmax_extract_with_r_row_names_runs() {
    let Some(tape) = real_tape("carmax_2017_9loans.csv") else {
        return;
    };
    let s = Sandbox::new();
    let out = s.run(&[
        "run",
        "--tape",
        "regab",
        tape.to_str().unwrap(),
        "--out",
        "out",
    ]);
    assert_ok(&out);
    let j = s.summary("out");
    assert_eq!(j["data_quality"]["loans"]["rows_accepted"], 9);
    assert_eq!(j["data_quality"]["loans"]["rows_rejected"], 0);
    assert_eq!(j["manifest"]["as_of"], "2017-03-31");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("(66.7% of 9 valued open accounts; 0 closed)"),
        "{stdout}"
    );
    // Every value is an estimate, and the summary says so with the share of balance and the method.
    assert!(
        stdout.contains(
            "values ESTIMATED for 9 accounts (100.0% of the balance), 6 of them underwater\n    \
             (origination value × depreciation curve, no price index"
        ),
        "{stdout}"
    );
    assert_eq!(
        j["data_quality"]["estimates"]["share_of_balance_estimated"],
        "1.0000"
    );
    assert_eq!(
        j["data_quality"]["estimates"]["balance_estimated"],
        "212077.46"
    );
    assert!(j["data_quality"]["estimates"]["price_index"].is_null());
}

#[test]
fn tape_outputs_are_identical_across_threads_and_chunk_sizes() {
    let s = Sandbox::new();
    let tape = match real_tape("world_omni_2020_07.csv") {
        Some(p) => p,
        None => s.write("tape.csv", &hand_tape()),
    };
    let tape = tape.to_str().unwrap();
    assert_ok(&s.run(&[
        "run",
        "--tape",
        "regab",
        tape,
        "--out",
        "one",
        "-q",
        "--threads",
        "1",
    ]));
    assert_ok(&s.run(&[
        "run",
        "--tape",
        "regab",
        tape,
        "--out",
        "many",
        "-q",
        "--threads",
        "4",
        "--chunk-bytes",
        "4096",
    ]));
    let (one, many) = (
        outputs_without_times(&s.path("one")),
        outputs_without_times(&s.path("many")),
    );
    assert_eq!(one.len(), many.len());
    for ((n1, b1), (n2, b2)) in one.iter().zip(&many) {
        assert_eq!(n1, n2);
        assert!(b1 == b2, "{n1} differs between 1 thread and 4 threads");
    }
}

/// An estimate that rounds to $0.00 (`vehicleValueAmount = 0.005`) or a curve that reaches 0 panicked
/// "Division by zero" (exit 101); a price-index level of 1e-22 did the same and 1e25 "Multiplication
/// overflowed". Such an estimate leaves the account unvalued (whole balance at risk, counted); an index
/// level no real index has is a config error naming the line.
#[test]
fn regression_estimate_of_zero_or_extreme_index_level_panicked() {
    let s = Sandbox::new();
    let rows = [
        TAPE_HEADER,
        "1,TINY,07-31-2020,06/2019,22000,72,0.05,1,0.005,700,NC,18000.00,0,0,0,0",
        "2,USED,07-31-2020,06/2019,18000,60,0.05,2,20000,700,AL,15000.00,0,0,0,0",
        "3,NEW,07-31-2020,06/2019,18000,60,0.05,1,20000,700,AL,15000.00,0,0,0,0",
    ];
    s.write("tape.csv", &(rows.join("\n") + "\n"));
    // Used cars are worth nothing after a year on this curve.
    s.write("zero.toml", "[estimate]\nused = [[0, 1], [12, 0]]\n");
    let out = s.run(&[
        "run",
        "--tape",
        "regab",
        "tape.csv",
        "--config",
        "zero.toml",
        "--out",
        "out",
        "-q",
    ]);
    assert_ok(&out);
    let accounts = by_id(&read_csv(&s.path("out/accounts.csv")));
    for id in ["TINY", "USED"] {
        assert_eq!(accounts[id]["value_source"], "none", "{id}");
        assert_eq!(accounts[id]["ltv_bucket"], "no_value", "{id}");
    }
    // New car, 13 months: 20,000 × 0.791333… = 15,826.67, as in the hand tape.
    assert_eq!(accounts["NEW"]["value"], "15826.67");
    let j = s.summary("out");
    assert_eq!(
        j["data_quality"]["estimates"]["rounds_to_zero_left_unvalued"],
        2
    );
    assert_eq!(j["data_quality"]["estimates"]["accounts_estimated"], 1);

    for level in [
        "1e-22",
        "0.0000000000000000000001",
        "10000000000000000000000000",
    ] {
        s.write(
            "index.csv",
            &format!("month,level\n2019-06,{level}\n2020-07,110\n"),
        );
        s.write("c.toml", "[estimate]\nprice_index = \"index.csv\"\n");
        let out = s.run(&[
            "run", "--tape", "regab", "tape.csv", "--config", "c.toml", "--out", "bad", "-q",
        ]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "level {level}: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(
            err.contains("line 2") && err.contains("outside"),
            "level {level}: {err}"
        );
    }
}
