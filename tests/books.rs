//! Hand-computed books run through the real binary: band edges, valuation matching, rounding, config.

use crate::common::*;
use std::collections::BTreeMap;

fn book() -> Sandbox {
    let s = Sandbox::new();
    s.write("loans.csv", HAND_LOANS);
    s.write("valuations.csv", &hand_valuations());
    s
}

fn accounts(s: &Sandbox, out: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    read_csv(&s.path(&format!("{out}/accounts.csv")))
        .into_iter()
        .map(|r| (r["account_id"].clone(), r))
        .collect()
}

fn check(row: &BTreeMap<String, String>, expected: &[(&str, &str)]) {
    for (col, want) in expected {
        assert_eq!(row[*col], *want, "{} column {col}", row["account_id"]);
    }
}

#[test]
fn band_edges_and_one_cent_either_side() {
    let s = book();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let a = accounts(&s, "out");
    for (id, ltv, bucket) in [
        ("E080M", "0.8000", "<=80"),
        ("E080", "0.8000", "<=80"),
        ("E080P", "0.8000", "80-100"),
        ("E100M", "1.0000", "80-100"),
        ("E100", "1.0000", "80-100"),
        ("E100P", "1.0000", "100-120"),
        ("E120M", "1.2000", "100-120"),
        ("E120", "1.2000", "100-120"),
        ("E120P", "1.2000", "120-140"),
        ("E140M", "1.4000", "120-140"),
        ("E140", "1.4000", "120-140"),
        ("E140P", "1.4000", ">140"),
    ] {
        check(&a[id], &[("ltv", ltv), ("ltv_bucket", bucket)]);
    }
    check(
        &a["E100"],
        &[
            ("balance", "10000.00"),
            ("value", "10000.00"),
            ("equity", "0.00"),
            ("negative_equity", "0.00"),
            ("net_recovery", "7500.00"),
            ("deficiency_if_default", "2500.00"),
            ("pd", "0.02"),
            ("expected_deficiency", "50.00"),
        ],
    );
}

#[test]
fn valuation_ties_future_dates_and_missing_values() {
    let s = book();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let a = accounts(&s, "out");
    // 9000 / 8500 = 1.058823…; 8500 × 0.85 − 1000 = 6225; 9000 − 6225 = 2775; × 0.02 = 55.50
    check(
        &a["TIE"],
        &[
            ("value", "8500.00"),
            ("value_date", "2024-06-01"),
            // June 1 to June 30.
            ("value_age_days", "29"),
            ("value_source", "kbb"),
            ("equity", "-500.00"),
            ("negative_equity", "500.00"),
            ("ltv", "1.0588"),
            ("ltv_bucket", "100-120"),
            ("net_recovery", "6225.00"),
            ("deficiency_if_default", "2775.00"),
            ("expected_deficiency", "55.50"),
        ],
    );
    check(
        &a["FUT"],
        &[
            ("value", "9000.00"),
            ("value_date", "2024-05-01"),
            // 31 days of May, 29 of June.
            ("value_age_days", "60"),
            ("expected_deficiency", "47.00"),
        ],
    );
    for id in ["ONLYFUT", "NOVAL", "HE1"] {
        check(
            &a[id],
            &[
                ("value", ""),
                ("value_date", ""),
                ("value_age_days", ""),
                ("value_source", "none"),
                ("equity", ""),
                ("negative_equity", ""),
                ("ltv", ""),
                ("ltv_bucket", "no_value"),
                ("net_recovery", "0.00"),
            ],
        );
    }
    check(
        &a["ONLYFUT"],
        &[
            ("days_past_due", "0"),
            ("deficiency_if_default", "5000.00"),
            ("expected_deficiency", "100.00"),
        ],
    );
    // 95 days past due: pd 0.65 × 7000 = 4550
    check(
        &a["NOVAL"],
        &[("pd", "0.65"), ("expected_deficiency", "4550.00")],
    );
}

#[test]
fn vins_of_any_length_match_their_valuations_in_any_case() {
    // The VIN index holds VINs of up to 19 bytes inline and longer ones apart: each side of that
    // edge, and a VIN that is a prefix of another, matches only its own valuation, in either case.
    let s = Sandbox::new();
    let vins = [
        ("V17", "1HGCM82633A004352"),
        ("V19", "ABCDEFGHJKLMNPRSTUV"),
        ("V20", "ABCDEFGHJKLMNPRSTUVW"),
        ("V40", "ABCDEFGHJKLMNPRSTUVWXYZ1234567890ABCDEFG"),
        ("VA", "A"),
    ];
    let mut loans = format!("{LOAN_HEADER}\n");
    let mut valuations = String::from("vin,valuation_date,value,source\n");
    for (k, (id, vin)) in vins.iter().enumerate() {
        loans.push_str(&format!("{id},{vin},2022-01-01,20000,60,10000.00,0\n"));
        // Every other one written in lower case; values 8001, 8002, ... tell them apart.
        let written = if k % 2 == 1 {
            vin.to_lowercase()
        } else {
            vin.to_string()
        };
        valuations.push_str(&format!("{written},2024-06-01,{}.00,kbb\n", 8001 + k));
    }
    // Near misses of the edge VINs: one byte short, one byte more.
    valuations.push_str("ABCDEFGHJKLMNPRSTU,2024-06-02,1.00,kbb\n");
    valuations.push_str("ABCDEFGHJKLMNPRSTUVWX,2024-06-02,1.00,kbb\n");
    valuations.push_str("ABCDEFGHJKLMNPRSTUVWXYZ1234567890ABCDEFGH,2024-06-02,1.00,kbb\n");
    s.write("loans.csv", &loans);
    s.write("valuations.csv", &valuations);
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let a = accounts(&s, "out");
    for (k, (id, _)) in vins.iter().enumerate() {
        check(&a[*id], &[("value", &format!("{}.00", 8001 + k))]);
    }
}

#[test]
fn half_even_rounding_of_expected_deficiency() {
    let s = book();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let a = accounts(&s, "out");
    // 0.05 × 10.10 = 0.505 → 0.50 ; 0.05 × 10.30 = 0.515 → 0.52
    check(
        &a["HE1"],
        &[("pd", "0.05"), ("expected_deficiency", "0.50")],
    );
    check(
        &a["HE2"],
        &[("pd", "0.05"), ("expected_deficiency", "0.52")],
    );
}

/// The sample book counted its zero-balance loans as accounts in `share_underwater`: 27.5% was printed
/// where 28.6% of the valued accounts were underwater. A closed account stays in every table's
/// `accounts` (so they reconcile) and is counted as `closed_accounts`; the share is over the valued open
/// accounts (`valued_accounts`), and an account with no value is in neither.
#[test]
fn regression_closed_accounts_diluted_share_underwater() {
    let s = book();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    // 6000 × 0.85 − 1000 = 4100 recovered; nothing owed, so no deficiency.
    check(
        &accounts(&s, "out")["CLOSED"],
        &[
            ("balance", "0.00"),
            ("value", "6000.00"),
            ("equity", "6000.00"),
            ("negative_equity", "0.00"),
            ("ltv", "0.0000"),
            ("ltv_bucket", "<=80"),
            ("deficiency_if_default", "0.00"),
            ("expected_deficiency", "0.00"),
        ],
    );
    let rows: BTreeMap<String, BTreeMap<String, String>> =
        read_csv(&s.path("out/summary_by_ltv_bucket.csv"))
            .into_iter()
            .map(|r| (r["ltv_bucket"].clone(), r))
            .collect();
    // By hand: 20 accounts; 15 open with a value (19 open, of them NOVAL, ONLYFUT, HE1, HE2 unvalued);
    // 9 underwater (E100P, E120M, E120, E120P, E140M, E140, E140P, TIE, README).
    check(
        &rows["TOTAL"],
        &[
            ("accounts", "20"),
            ("closed_accounts", "1"),
            ("valued_accounts", "15"),
            ("underwater_accounts", "9"),
            ("value", "159000.00"),
        ],
    );
    check(
        &rows["<=80"],
        &[
            ("accounts", "3"),
            ("closed_accounts", "1"),
            ("valued_accounts", "2"),
        ],
    );
    check(
        &rows["no_value"],
        &[
            ("accounts", "4"),
            ("closed_accounts", "0"),
            ("valued_accounts", "0"),
        ],
    );
    let by_state: BTreeMap<String, BTreeMap<String, String>> =
        read_csv(&s.path("out/summary_by_state.csv"))
            .into_iter()
            .map(|r| (r["state"].clone(), r))
            .collect();
    // TX: 9 accounts, 1 closed, 5 valued open (E080, E080P, E080M, E100 and README), 1 underwater.
    check(
        &by_state["TX"],
        &[
            ("accounts", "9"),
            ("closed_accounts", "1"),
            ("valued_accounts", "5"),
            ("share_underwater", "0.2000"),
        ],
    );
    check(&by_state["TOTAL"], &[("share_underwater", "0.6000")]);
    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    assert_eq!(json["portfolio"]["closed_accounts"], 20 - 19);
    assert_eq!(json["portfolio"]["valued_accounts"], 15);
    assert_eq!(json["portfolio"]["share_underwater"], "0.6000");
}

#[test]
fn the_readme_example_19000_on_15500() {
    let s = book();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    check(
        &accounts(&s, "out")["README"],
        &[
            ("vin", "LOWER1"),
            ("balance", "19000.00"),
            ("value", "15500.00"),
            ("value_source", "appraisal"),
            ("negative_equity", "3500.00"),
            ("ltv", "1.2258"),
            ("ltv_bucket", "120-140"),
            ("net_recovery", "12175.00"),
            ("deficiency_if_default", "6825.00"),
            ("expected_deficiency", "136.50"),
        ],
    );
}

#[test]
fn reports_match_golden_files() {
    let s = book();
    // The golden files are the outputs without the lifetime figures (tests/lifetime.rs checks those).
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30", "--no-lifetime"]));
    for file in [
        "accounts.csv",
        "rejects.csv",
        "summary_by_ltv_bucket.csv",
        "summary_by_vintage.csv",
        "summary_by_new_used.csv",
        "summary_by_credit_tier.csv",
        "summary_by_term_band.csv",
        "summary_by_state.csv",
        "summary_scenarios.csv",
    ] {
        golden(
            &format!("hand_book/{file}"),
            &s.read(&format!("out/{file}")),
        );
    }
    let mut json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    let m = json["manifest"].as_object_mut().unwrap();
    // The per-account file's digest is the BLAKE3 of the accounts.csv beside it, computed here apart.
    let digest = blake3::hash(&std::fs::read(s.path("out/accounts.csv")).unwrap());
    assert_eq!(
        m.remove("accounts_blake3"),
        Some(serde_json::json!(digest.to_hex().to_string()))
    );
    for volatile in ["started_at", "finished_at", "threads"] {
        m.remove(volatile);
    }
    for input in ["loans", "valuations"] {
        m["inputs"][input]["path"] = serde_json::json!("(path)");
    }
    m["version"] = serde_json::json!("(version)");
    golden(
        "hand_book/summary.json",
        &serde_json::to_string_pretty(&json).unwrap(),
    );
}

#[test]
fn stdout_summary_is_a_table_of_the_book() {
    let s = book();
    let out = s.run_book_printed("out", &["--as-of", "2024-06-30"]);
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("20 accounts"), "{stdout}");
    assert!(
        stdout.contains("underwater 9 accounts (60.0% of 15 valued open accounts; 1 closed)"),
        "{stdout}"
    );
    assert!(stdout.contains("LTV band"), "{stdout}");
    assert!(stdout.contains("TOTAL"), "{stdout}");
    assert!(
        stdout.contains("$22,000.01"),
        "negative equity total (hand sum): {stdout}"
    );
}

#[test]
fn custom_config_changes_bands_recovery_pd_and_segments() {
    let s = book();
    s.write(
        "custom.toml",
        "as_of = \"2024-06-30\"\nltv_bands = [90, 110]\nrecovery_rate = 0.5\nrepossession_cost = 500.50\n\
         pd_by_days_past_due = [[0, 0.1], [90, 0.9]]\nsegments = [\"state\"]\n",
    );
    assert_ok(&s.run_loans("out", &["--config", "custom.toml"]));
    let a = accounts(&s, "out");
    // 10000 × 0.5 − 500.50 = 4499.50; 10000 − 4499.50 = 5500.50; × 0.1 = 550.05
    check(
        &a["E100"],
        &[
            ("ltv_bucket", "90-110"),
            ("net_recovery", "4499.50"),
            ("deficiency_if_default", "5500.50"),
            ("pd", "0.1"),
            ("expected_deficiency", "550.05"),
        ],
    );
    check(&a["E120"], &[("ltv_bucket", ">110")]);
    check(&a["E080"], &[("ltv_bucket", "<=90")]);
    check(
        &a["NOVAL"],
        &[("pd", "0.9"), ("expected_deficiency", "6300.00")],
    );
    assert!(s.path("out/summary_by_state.csv").exists());
    assert!(!s.path("out/summary_by_vintage.csv").exists());
    let buckets: Vec<String> = read_csv(&s.path("out/summary_by_ltv_bucket.csv"))
        .into_iter()
        .map(|r| r["ltv_bucket"].clone())
        .collect();
    assert_eq!(buckets, ["<=90", "90-110", ">110", "no_value", "TOTAL"]);
    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    assert_eq!(json["manifest"]["as_of"], "2024-06-30");
    assert_eq!(json["manifest"]["as_of_source"], "config as_of");
    assert_eq!(json["manifest"]["config"]["recovery_rate"], "0.5");
}

#[test]
fn command_line_as_of_wins_over_config() {
    let s = book();
    s.write("c.toml", "as_of = \"2024-06-30\"\n");
    assert_ok(&s.run_loans("out", &["--config", "c.toml", "--as-of", "2024-08-31"]));
    let a = accounts(&s, "out");
    // As of 2024-08-31 the 2024-08-01 valuation counts.
    check(
        &a["ONLYFUT"],
        &[("value", "4000.00"), ("value_date", "2024-08-01")],
    );
    check(
        &a["FUT"],
        &[("value", "5000.00"), ("value_date", "2024-07-15")],
    );
    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    assert_eq!(json["manifest"]["as_of"], "2024-08-31");
    assert_eq!(json["manifest"]["as_of_source"], "--as-of");
}

#[test]
fn accounts_are_sorted_by_account_id() {
    let s = book();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let ids: Vec<String> = read_csv(&s.path("out/accounts.csv"))
        .into_iter()
        .map(|r| r["account_id"].clone())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 20);
}

/// summary.json is one typed struct: what `run` writes reads back into it and writes out again byte for
/// byte, for a published book, a failed guard rail and a tape (no valuations file), so `run` and `query`
/// cannot drift apart.
#[test]
fn summary_json_round_trips_through_its_typed_struct() {
    use underwater::output::summary_json::Summary;
    let s = book();
    assert_ok(&s.run_loans("ok", &["--as-of", "2024-06-30"]));
    let failed = s.run_loans("stale", &["--as-of", "2024-06-30", "--fail-on-stale", "1"]);
    assert_eq!(failed.status.code(), Some(6), "{}", stderr(&failed));
    s.write(
        "tape.csv",
        "assetNumber,reportingPeriodEndingDate,originationDate,originalLoanAmount,originalLoanTerm,\
         reportingPeriodActualEndBalanceAmount,vehicleValueAmount,vehicleNewUsedCode\n\
         1,07-31-2020,01/2019,20000,60,15000,22000,2\n",
    );
    assert_ok(&s.run(&["run", "--tape", "regab", "tape.csv", "--out", "tape"]));
    for dir in ["ok", "stale.failed", "tape"] {
        let bytes = std::fs::read(s.path(dir).join("summary.json")).unwrap();
        let summary: Summary = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{dir}/summary.json does not read back: {e}"));
        assert_eq!(
            String::from_utf8(summary.to_bytes().unwrap()).unwrap(),
            String::from_utf8(bytes).unwrap(),
            "{dir}/summary.json"
        );
        assert_eq!(summary.status.ok, dir != "stale.failed");
    }
}
