//! Night over night (`run --previous`): two hand books a month apart with every class of account
//! and
//! every line of the bridge worked out in the comments; a run compared with itself; A→B then B→C
//! composing on generated months; and every previous run that cannot be compared refused.

use crate::common::*;
use std::collections::BTreeMap;

mod generated;

/// May 31: A 10,000 on 10,000 (80-100); B 13,000 on 10,000 (120-140, 35 days late); C 9,000 on 10,000
/// (80-100, 10 days late); D 5,000 on 4,000 (120-140); E 6,000, no value; F 3,000 on 2,000 (>140).
const PREV_LOANS: &str = "\
account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due
A,VA,2023-01-15,20000,60,10000.00,0
B,VB,2023-01-15,20000,60,13000.00,35
C,VC,2023-01-15,20000,60,9000.00,10
D,VD,2023-01-15,20000,60,5000.00,0
E,VE,2023-01-15,20000,60,6000.00,0
F,VF,2023-01-15,20000,60,3000.00,0
";
const PREV_VALS: &str =
    "vin,valuation_date,value\nVA,2024-05-01,10000.00\nVB,2024-05-01,10000.00\n\
VC,2024-05-01,10000.00\nVD,2024-05-01,4000.00\nVF,2024-05-01,2000.00\n";

/// June 30: A 9,800 on 9,500 (100-120: up); B 12,600 on 10,000 (120-140, now 65 days); C 7,900 on 10,000
/// (<=80: down, cured); D gone (closed); E 6,000 on 4,500 (gained a value: 120-140); F 2,900 with no
/// value (lost it); G new, 20,000 on 16,000 (120-140).
const LOANS: &str = "\
account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due
A,VA,2023-01-15,20000,60,9800.00,0
B,VB,2023-01-15,20000,60,12600.00,65
C,VC,2023-01-15,20000,60,7900.00,0
E,VE,2023-01-15,20000,60,6000.00,0
F,VF,2023-01-15,20000,60,2900.00,0
G,VG,2024-06-01,20000,60,20000.00,0
";
const VALS: &str = "vin,valuation_date,value\nVA,2024-06-15,9500.00\nVB,2024-06-15,10000.00\n\
VC,2024-06-15,10000.00\nVE,2024-06-15,4500.00\nVG,2024-06-15,16000.00\n";

fn two_months(extra: &[&str]) -> Sandbox {
    let s = Sandbox::new();
    s.write("prev_loans.csv", PREV_LOANS);
    s.write("prev_vals.csv", PREV_VALS);
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    let mut args = vec![
        "run",
        "--loans",
        "prev_loans.csv",
        "--valuations",
        "prev_vals.csv",
        "--as-of",
        "2024-05-31",
        "--out",
        "may",
        "-q",
    ];
    args.extend_from_slice(extra);
    assert_ok(&s.run(&args));
    s
}

#[test]
fn two_hand_books_a_month_apart() {
    let s = two_months(&[]);
    assert_ok(&s.run_loans("june", &["--as-of", "2024-06-30", "--previous", "may"]));
    // The bridge (cents are whole here). Previous negative equity: B 3,000 + D 1,000 + F 1,000 = 5,000.
    // closed: D −1,000. new: G +4,000. Continuing and valued in both (A, B, C), with V0 last month's
    // value: balance_change = Σ max(B1 − V0, 0) − NE0 = A (0 − 0) + B (2,600 − 3,000) + C (0 − 0) = −400;
    // value_change = Σ NE1 − max(B1 − V0, 0) = A (300 − 0) + B (2,600 − 2,600) + C 0 = 300. Valued in one
    // run only: E gained a value (NE 1,500 − 0), F lost one (0 − 1,000): +500. Current: A 300 + B 2,600
    // + E 1,500 + G 4,000 = 8,400 = 5,000 − 1,000 + 4,000 − 400 + 300 + 500.
    let bridge: Vec<(String, String)> = read_csv(&s.path("june/summary_changes_bridge.csv"))
        .into_iter()
        .map(|r| (r["line"].clone(), r["negative_equity"].clone()))
        .collect();
    let want = [
        ("previous", "5000.00"),
        ("closed", "-1000.00"),
        ("new", "4000.00"),
        ("balance_change", "-400.00"),
        ("value_change", "300.00"),
        ("valuation_gained_or_lost", "500.00"),
        ("current", "8400.00"),
    ];
    assert_eq!(
        bridge,
        want.map(|(l, v)| (l.to_string(), v.to_string())).to_vec()
    );
    let j = s.summary("june");
    assert_eq!(j["portfolio"]["negative_equity"], "8400.00");
    let c = &j["changes"];
    for (key, n) in [
        ("continuing_accounts", 5),
        ("new_accounts", 1),
        ("closed_accounts", 1),
        ("ltv_band_up", 1),
        ("ltv_band_down", 1),
        ("lost_value", 1),
        ("gained_value", 1),
    ] {
        assert_eq!(c[key], n, "{key}");
    }
    assert_eq!(c["previous_as_of"], "2024-05-31");
    // Expected deficiency, pd × max(B − max(V × 0.85 − 1,000, 0), 0). May: A 2,500 × .02 = 50; B 5,500 ×
    // .15 = 825; C 1,500 × .05 = 75; D 2,600 × .02 = 52; E 6,000 × .02 = 120; F 2,300 × .02 = 46: 1,168.
    // June: A 2,725 × .02 = 54.50; B 5,100 × .35 = 1,785; C 400 × .02 = 8; E 3,175 × .02 = 63.50; F 2,900
    // × .02 = 58; G 7,400 × .02 = 148: 2,117. Continuing: 4.50 + 960 − 67 − 56.50 + 12 = 853.
    let ed = &c["expected_deficiency_bridge"];
    for (line, v) in [
        ("previous", "1168.00"),
        ("closed", "-52.00"),
        ("new", "148.00"),
        ("continuing", "853.00"),
        ("current", "2117.00"),
    ] {
        assert_eq!(ed[line], v, "{line}");
    }
    // LTV migration cells that hold an account (balance tonight's; D's last month's).
    let ltv: BTreeMap<(String, String), (String, String)> =
        read_csv(&s.path("june/summary_changes_ltv.csv"))
            .into_iter()
            .map(|r| {
                (
                    (
                        r["previous_ltv_bucket"].clone(),
                        r["current_ltv_bucket"].clone(),
                    ),
                    (r["accounts"].clone(), r["balance"].clone()),
                )
            })
            .collect();
    assert_eq!(ltv.len(), 7 * 7, "every pair, zeros included");
    let held: BTreeMap<(String, String), (String, String)> =
        ltv.into_iter().filter(|(_, (n, _))| n != "0").collect();
    let cell = |a: &str, b: &str, n: &str, bal: &str| {
        (
            (a.to_string(), b.to_string()),
            (n.to_string(), bal.to_string()),
        )
    };
    assert_eq!(
        held,
        BTreeMap::from([
            cell("80-100", "100-120", "1", "9800.00"),
            cell("120-140", "120-140", "1", "12600.00"),
            cell("80-100", "<=80", "1", "7900.00"),
            cell("120-140", "closed", "1", "5000.00"),
            cell("no_value", "120-140", "1", "6000.00"),
            cell(">140", "no_value", "1", "2900.00"),
            cell("new", "120-140", "1", "20000.00"),
        ])
    );
    // Roll rates: current last month: A, E, F stay current, D closed → 3/4 and 1/4.
    let dq = read_csv(&s.path("june/summary_changes_delinquency.csv"));
    let row = |a: &str, b: &str| {
        dq.iter()
            .find(|r| r["previous"] == a && r["current"] == b)
            .unwrap()
            .clone()
    };
    assert_eq!(row("current", "current")["accounts"], "3");
    assert_eq!(row("current", "current")["balance"], "18700.00");
    assert_eq!(row("current", "current")["share_of_previous"], "0.7500");
    assert_eq!(row("current", "closed")["share_of_previous"], "0.2500");
    assert_eq!(row("30-59", "60-89")["accounts"], "1");
    assert_eq!(row("1-29", "current")["share_of_previous"], "1.0000");
    assert_eq!(row("new", "current")["accounts"], "1");
    assert_eq!(
        row("90+", "90+")["share_of_previous"],
        "",
        "an empty class has no share"
    );
    for name in [
        "summary_changes_ltv.csv",
        "summary_changes_delinquency.csv",
        "summary_changes_bridge.csv",
    ] {
        golden(&format!("changes/{name}"), &s.read(&format!("june/{name}")));
    }
    // The accounts carry last month's band and days past due (empty for the new account).
    let accounts: BTreeMap<String, BTreeMap<String, String>> =
        read_csv(&s.path("june/accounts.csv"))
            .into_iter()
            .map(|r| (r["account_id"].clone(), r))
            .collect();
    assert_eq!(accounts["B"]["previous_ltv_bucket"], "120-140");
    assert_eq!(accounts["B"]["previous_days_past_due"], "35");
    assert_eq!(accounts["G"]["previous_ltv_bucket"], "");
    // ... and so does query, in band order.
    let out = s.run(&[
        "query",
        "--run",
        "june",
        "SELECT previous_ltv_bucket, COUNT(*) AS n FROM accounts GROUP BY previous_ltv_bucket \
         ORDER BY previous_ltv_bucket",
        "--format",
        "csv",
    ]);
    assert_ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "previous_ltv_bucket,n\n80-100,2\n120-140,1\n>140,1\nno_value,1\n,1\n"
    );
}

#[test]
fn a_parquet_previous_gives_the_same_changes() {
    let s = two_months(&["--format", "parquet"]);
    assert_ok(&s.run_loans("june", &["--as-of", "2024-06-30", "--previous", "may"]));
    assert_eq!(
        s.read("june/summary_changes_bridge.csv").lines().last(),
        Some("current,8400.00")
    );
    assert_eq!(
        s.read("june/summary_changes_ltv.csv"),
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden/changes/summary_changes_ltv.csv")
        )
        .unwrap()
    );
}

#[test]
fn a_previous_that_cannot_be_compared_is_refused() {
    let s = two_months(&[]);
    let refused = |s: &Sandbox, extra: &[&str], says: &str| {
        let mut args = vec!["--as-of", "2024-06-30", "--previous", "may"];
        args.extend_from_slice(extra);
        let out = s.run_loans("june", &args);
        assert_eq!(out.status.code(), Some(3), "{says}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{says}: {}", stderr(&out));
        assert!(!s.path("june").exists(), "nothing written");
    };
    // Other bands.
    s.write("bands.toml", "ltv_bands = [90, 110]\n");
    refused(
        &s,
        &["--config", "bands.toml"],
        "used LTV bands [80, 100, 120, 140]",
    );
    // A previous as_of after tonight's.
    let out = s.run_loans("june", &["--as-of", "2024-05-30", "--previous", "may"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("later than tonight's"),
        "{}",
        stderr(&out)
    );
    // An edited accounts file.
    let accounts = s.read("may/accounts.csv");
    s.write(
        "may/accounts.csv",
        &accounts.replacen(",825.00,", ",825.01,", 1),
    );
    refused(&s, &[], "not the file the run wrote");
    // The same edit in a run from before digests were recorded: its totals refuse it.
    strip_digest(&s, "may");
    refused(&s, &[], "do not add up to its summary.json");
    // An older version's accounts, without days_past_due.
    let mut lines: Vec<String> = Vec::new();
    let rows = read_csv(&s.path("may/summary_by_ltv_bucket.csv"));
    assert!(!rows.is_empty());
    for line in accounts.lines() {
        let cells: Vec<&str> = line.split(',').collect();
        let col = accounts
            .lines()
            .next()
            .unwrap()
            .split(',')
            .position(|c| c == "days_past_due")
            .unwrap();
        lines.push(
            cells
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != col)
                .map(|(_, c)| *c)
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    s.write("may/accounts.csv", &(lines.join("\n") + "\n"));
    refused(&s, &[], "lack the columns days_past_due");
    // A failed run (its summary says so) and a directory that is not a run.
    let summary = s.read("may/summary.json");
    s.write(
        "may/summary.json",
        &summary.replacen("\"ok\": true", "\"ok\": false", 1),
    );
    refused(&s, &[], "that run failed");
    std::fs::remove_file(s.path("may/summary.json")).unwrap();
    refused(&s, &[], "cannot read");
}

/// A run compared with itself changes nothing; months 0 → 1 → 2 of a generated book compose: each
/// bridge adds up, and the first's `current` is the second's `previous`.
#[test]
fn self_comparison_is_still_and_months_compose() {
    let s = Sandbox::new();
    for (m, date) in [(0, "2025-06-30"), (1, "2025-07-31"), (2, "2025-08-31")] {
        let dir = format!("book{m}");
        let months = m.to_string();
        assert_ok(&s.run(&[
            "generate",
            "--loans",
            "3000",
            "--seed",
            "9",
            "--out",
            &dir,
            "--months-later",
            &months,
            "-q",
        ]));
        let loans = format!("{dir}/loans.csv");
        let vals = format!("{dir}/valuations.csv");
        let out = format!("run{m}");
        let mut args = vec![
            "run",
            "--loans",
            &loans,
            "--valuations",
            &vals,
            "--as-of",
            date,
            "--out",
            &out,
            "-q",
        ];
        let prev = format!("run{}", m.max(1) - 1);
        if m > 0 {
            args.extend(["--previous", &prev]);
        }
        assert_ok(&s.run(&args));
    }
    // Itself: every account continuing, in its own band, no line but previous and current.
    assert_ok(&s.run(&[
        "run",
        "--loans",
        "book1/loans.csv",
        "--valuations",
        "book1/valuations.csv",
        "--as-of",
        "2025-07-31",
        "--out",
        "again",
        "-q",
        "--previous",
        "run1",
    ]));
    let c = &s.summary("again")["changes"];
    assert_eq!(c["new_accounts"], 0);
    assert_eq!(c["closed_accounts"], 0);
    assert_eq!(c["ltv_band_up"], 0);
    assert_eq!(c["ltv_band_down"], 0);
    let b = &c["negative_equity_bridge"];
    assert_eq!(b["previous"], b["current"]);
    for line in [
        "closed",
        "new",
        "balance_change",
        "value_change",
        "valuation_gained_or_lost",
    ] {
        assert_eq!(b[line], "0.00", "{line}");
    }
    for row in read_csv(&s.path("again/summary_changes_ltv.csv")) {
        if row["previous_ltv_bucket"] != row["current_ltv_bucket"] {
            assert_eq!(row["accounts"], "0", "{row:?}");
        }
    }
    // Composition, in cents.
    let cents =
        |v: &serde_json::Value| -> i64 { v.as_str().unwrap().replace('.', "").parse().unwrap() };
    let bridge = |run: &str| s.summary(run)["changes"]["negative_equity_bridge"].clone();
    let (ab, bc) = (bridge("run1"), bridge("run2"));
    for b in [&ab, &bc] {
        let lines: i64 = [
            "previous",
            "closed",
            "new",
            "balance_change",
            "value_change",
            "valuation_gained_or_lost",
        ]
        .iter()
        .map(|l| cents(&b[l]))
        .sum();
        assert_eq!(lines, cents(&b["current"]));
    }
    assert_eq!(ab["current"], bc["previous"]);
    assert_eq!(
        ab["previous"],
        s.summary("run0")["portfolio"]["negative_equity"]
    );
    assert_eq!(
        bc["current"],
        s.summary("run2")["portfolio"]["negative_equity"]
    );
    // Every class happened in a month of a generated book.
    let c = &s.summary("run1")["changes"];
    for key in [
        "new_accounts",
        "closed_accounts",
        "ltv_band_up",
        "ltv_band_down",
    ] {
        assert!(c[key].as_u64().unwrap() > 0, "{key}");
    }
}

/// One account of an accounts.csv, as the night-over-night rules read it (amounts in cents).
struct Night {
    balance: i128,
    /// `None`: no value.
    value: Option<i128>,
    negative_equity: i128,
    expected_deficiency: i128,
    band: String,
    dpd_class: &'static str,
    previous_band: String,
    previous_dpd: String,
}

fn cents(s: &str) -> i128 {
    let d: rust_decimal::Decimal = s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"));
    assert_eq!(d.scale(), 2, "{s}");
    d.mantissa()
}
