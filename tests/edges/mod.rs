//! The figures and the run directory at their edges: a value below half a cent, a shock to below a
//! cent, an edited or bit-flipped previous run, a live run's staging folder, hidden characters and
//! limits in the reports, data quality counted by hand, dates past 9999, look-alike ids — each a
//! regression test named after its bug, checked against figures worked out here, not by the code.

use crate::common::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

mod query;

fn query(s: &Sandbox, args: &[&str]) -> Output {
    s.run(&[&["query", "-q"][..], args].concat())
}

/// A small book run as of 2024-06-30 into `out`: loans with LOAN_HEADER's columns (and `extra`
/// ones), their rows, and valuation rows (`vin,valuation_date,value`).
fn small_book(s: &Sandbox, extra: &str, loans: &str, valuations: &str) {
    s.write("loans.csv", &format!("{LOAN_HEADER}{extra}\n{loans}"));
    s.write(
        "valuations.csv",
        &format!("vin,valuation_date,value\n{valuations}"),
    );
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
}

/// The one reject of the run in `out`: (line, field, reason).
fn the_reject(s: &Sandbox) -> (String, String, String) {
    let rejects = read_csv(&s.path("out/rejects.csv"));
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let r = &rejects[0];
    (r["line"].clone(), r["field"].clone(), r["reason"].clone())
}

/// The rows of summary_scenarios.csv's TOTAL lines: (scenario, underwater accounts, negative equity).
fn scenario_totals(s: &Sandbox, out: &str) -> Vec<(String, String, String)> {
    read_csv(&s.path(&format!("{out}/summary_scenarios.csv")))
        .into_iter()
        .filter(|r| r["ltv_bucket"] == "TOTAL")
        .map(|r| {
            (
                r["scenario"].clone(),
                r["underwater_accounts"].clone(),
                r["negative_equity"].clone(),
            )
        })
        .collect()
}

#[test]
fn regression_a_value_below_half_a_cent_is_rejected_not_counted_in_the_base_only() {
    let s = Sandbox::new();
    small_book(
        &s,
        "",
        "TINY,VINTINY,2022-01-15,20000,60,10000.00,0\nUW,VINUW,2022-01-15,20000,60,12000.00,0\n",
        "VINTINY,2024-06-01,0.004\nVINUW,2024-06-01,10000\n",
    );
    let (line, field, _) = the_reject(&s);
    assert_eq!((line.as_str(), field.as_str()), ("2", "value"));
    // Base and every scenario agree on who has a value: UW alone is underwater, by 2,000.00 in the
    // base and in recovery_moderate (which does not touch values).
    let totals = scenario_totals(&s, "out");
    let base = totals.iter().find(|t| t.0 == "base").unwrap();
    assert_eq!((base.1.as_str(), base.2.as_str()), ("1", "2000.00"));
    let moderate = totals.iter().find(|t| t.0 == "recovery_moderate").unwrap();
    assert_eq!((moderate.1.as_str(), moderate.2.as_str()), ("1", "2000.00"));
}

#[test]
fn regression_a_shock_that_takes_a_value_below_a_cent_keeps_the_account_valued() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        &format!("{LOAN_HEADER}\nSMALL,VINS,2022-01-15,20000,60,5000.00,0\n"),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nVINS,2024-06-01,10.00\n",
    );
    s.write(
        "c.toml",
        "[[scenario]]\nname = \"wipeout\"\nvalue_change = -0.9999\n",
    );
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30", "--config", "c.toml"]));
    let totals = scenario_totals(&s, "out");
    // Base: 5,000 − 10 = 4,990.00. The shock: 10 × 0.0001 = 0.001, at least a cent → 4,999.99;
    // a stress never shows less exposure than the base for a value it lowers.
    assert_eq!(
        totals,
        [
            ("base".into(), "1".into(), "4990.00".into()),
            ("wipeout".into(), "1".into(), "4999.99".into())
        ]
    );
}

#[test]
fn regression_accounts_without_value_does_not_count_a_closed_account_with_a_value() {
    let s = Sandbox::new();
    s.write("loans.csv", HAND_LOANS);
    s.write("valuations.csv", &hand_valuations());
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    // By hand: ONLYFUT (only a valuation after as_of), NOVAL, HE1 and HE2 (no valuation at all);
    // CLOSED is paid off but has a value.
    let j = s.summary("out");
    assert_eq!(j["data_quality"]["accounts_without_value"], 4);
}

/// Three accounts whose text a spreadsheet would run, and one that starts with a quote.
fn formula_book(s: &Sandbox) {
    s.write(
        "loans.csv",
        &format!(
            "{LOAN_HEADER},make\n\
             -A1,V1,2022-01-15,20000,60,10000.00,0,=Kia\n\
             @A2,V2,2022-01-15,20000,60,11000.00,0,Ford\n\
             'A3,V3,2022-01-15,20000,60,12000.00,0,+Fiat\n"
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-06-01,9000\nV2,2024-06-01,10000\nV3,2024-06-01,13000\n",
    );
}

#[test]
fn regression_neutralized_ids_round_trip_through_previous_and_query() {
    let s = Sandbox::new();
    formula_book(&s);
    assert_ok(&s.run_loans("csv", &["--as-of", "2024-06-30"]));
    assert_ok(&s.run_loans("pq", &["--as-of", "2024-06-30", "--format", "parquet"]));
    // accounts.csv shows them as text a spreadsheet will not run.
    let accounts = s.read("csv/accounts.csv");
    assert!(
        accounts.contains("'-A1,") && accounts.contains("''A3,"),
        "{accounts}"
    );
    for previous in ["csv", "pq"] {
        let out = format!("again_{previous}");
        assert_ok(&s.run_loans(&out, &["--as-of", "2024-06-30", "--previous", previous]));
        let c = &s.summary(&out)["changes"];
        assert_eq!(
            (
                &c["continuing_accounts"],
                &c["new_accounts"],
                &c["closed_accounts"]
            ),
            (&3.into(), &0.into(), &0.into()),
            "--previous {previous}"
        );
    }
    let sql = "SELECT account_id, make FROM accounts WHERE account_id IN ('-A1','@A2','''A3') \
               OR make = '=Kia' ORDER BY account_id";
    for run in ["csv", "pq"] {
        let out = query(&s, &["--run", run, sql, "--format", "json"]);
        assert_ok(&out);
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ids: Vec<(&str, &str)> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["account_id"].as_str().unwrap(),
                    r["make"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            ids,
            [("'A3", "+Fiat"), ("-A1", "=Kia"), ("@A2", "Ford")],
            "{run}"
        );
    }
}

fn hand_run(s: &Sandbox) {
    s.write("loans.csv", HAND_LOANS);
    s.write("valuations.csv", &hand_valuations());
    assert_ok(&s.run_loans("run", &["--as-of", "2024-06-30"]));
}

const COUNT_SQL: &str = "SELECT COUNT(*) AS n FROM accounts";

#[test]
fn regression_days_past_due_beyond_any_count_is_out_of_range_not_not_a_number() {
    let s = Sandbox::new();
    small_book(
        &s,
        "",
        "BIG,V1,2022-01-15,20000,60,10000.00,9223372036854775807\n",
        "V1,2024-06-01,9000\n",
    );
    let (_, field, reason) = the_reject(&s);
    assert_eq!(field, "days_past_due");
    assert!(reason.starts_with("out of range"), "{reason}");
}

#[test]
fn regression_a_previous_run_edited_to_keep_its_negative_equity_is_refused() {
    let s = Sandbox::new();
    hand_run(&s);
    // 50,000 more on both the balance and the value of E100: its negative equity, the book's count
    // and its expected deficiency's rounding stay as they were; the balance total does not.
    let accounts = s.read("run/accounts.csv");
    let edited: String = accounts
        .lines()
        .map(|l| {
            if l.starts_with("E100,") {
                l.replacen("10000.00,10000.00", "60000.00,60000.00", 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert_ne!(edited, accounts, "the edit applies");
    s.write("run/accounts.csv", &edited);
    let out = s.run_loans("again", &["--as-of", "2024-06-30", "--previous", "run"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("BLAKE3"), "{}", stderr(&out));
    // Without the digest (a run written before digests were recorded), the totals still refuse it.
    strip_digest(&s, "run");
    let out = s.run_loans("again", &["--as-of", "2024-06-30", "--previous", "run"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("balance"), "{}", stderr(&out));
}

/// A bit flipped in a finished run's per-account file (one digit of one balance: every total but the
/// balance's last cent as before) was read as the run's by `query` and `--previous`; every reader now
/// checks the file against the BLAKE3 digest summary.json recorded when it was written.
#[test]
fn regression_a_bit_flipped_accounts_file_is_refused_by_query_and_previous() {
    for format in ["csv", "parquet"] {
        let s = Sandbox::new();
        hand_run(&s);
        let run = format!("run_{format}");
        assert_ok(&s.run_loans(&run, &["--as-of", "2024-06-30", "--format", format]));
        let path = s.path(&format!("{run}/accounts.{format}"));
        let mut bytes = std::fs::read(&path).unwrap();
        // The last byte of the file's middle: a digit in the CSV, a page byte in the Parquet.
        let at = bytes.len() / 2;
        bytes[at] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let query = s.run(&["query", "--run", &run, "SELECT SUM(balance) FROM accounts"]);
        assert_eq!(query.status.code(), Some(3), "{format}: {}", stderr(&query));
        assert!(stderr(&query).contains("BLAKE3"), "{}", stderr(&query));
        let previous = s.run_loans("again", &["--as-of", "2024-06-30", "--previous", &run]);
        assert_eq!(
            previous.status.code(),
            Some(3),
            "{format}: {}",
            stderr(&previous)
        );
        assert!(
            stderr(&previous).contains("not the file the run wrote"),
            "{}",
            stderr(&previous)
        );
        assert!(!s.path("again").exists());
    }
}

#[test]
fn regression_the_staging_sweep_spares_a_live_run_of_another_pid_namespace() {
    use rustix::fs::{flock, FlockOperation};
    let s = Sandbox::new();
    hand_run(&s);
    // A live run in another container: its pid (above Linux's largest) means nothing here, but it
    // holds its staging directory's lock.
    let staging = s.path(".run.underwater-staging-4194999");
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(staging.join("accounts.csv"), "half written").unwrap();
    let lock = std::fs::File::create(s.path(".run.underwater-staging-4194999.lock")).unwrap();
    flock(&lock, FlockOperation::NonBlockingLockExclusive).unwrap();
    assert_ok(&s.run_loans("run", &["--as-of", "2024-06-30"]));
    assert!(
        staging.join("accounts.csv").exists(),
        "a live run's staging was swept"
    );
    // Once that run is gone (its lock released), the next run sweeps what it left.
    drop(lock);
    assert_ok(&s.run_loans("run", &["--as-of", "2024-06-30"]));
    assert!(!staging.exists(), "a dead run's staging was left");
    assert!(!s.path(".run.underwater-staging-4194999.lock").exists());
    // And a finished run leaves no lock file of its own behind.
    let left: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("underwater-staging"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn regression_the_reports_show_hidden_and_invisible_characters_as_the_csvs_do() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        &format!(
            "{LOAN_HEADER},state\n\
             A\u{202e}1,V1,2022-01-15,20000,60,19000.00,0,T\u{200b}X\n\
             B\u{feff}2,V2,2022-01-15,20000,60,11000.00,0,NY\n"
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-06-01,9000\nV2,2024-06-01,10000\n",
    );
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let hidden = ['\u{202e}', '\u{200b}', '\u{feff}'];
    for file in ["accounts.csv", "summary_by_state.csv", "report.html"] {
        let text = s.read(&format!("out/{file}"));
        assert!(!text.contains(hidden), "{file} holds a hidden character");
    }
    let page = s.read("out/report.html");
    assert!(
        page.contains("A\\u{202e}1") && page.contains("T\\u{200b}X"),
        "escaped forms shown"
    );
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = calamine::open_workbook(s.path("out/report.xlsx")).unwrap();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        for cell in range.used_cells() {
            if let Data::String(t) = cell.2 {
                assert!(!t.contains(hidden), "sheet {name} holds {t:?}");
            }
        }
    }
}

#[test]
fn regression_a_report_limit_degrades_the_workbook_instead_of_losing_the_run() {
    let s = Sandbox::new();
    // Two segment names alike in their first 28 characters (Excel's sheet names hold 31), one ending
    // in a quote (Excel refuses it at either end), and a state past a cell's 32,767 characters.
    let long_state = "S".repeat(40_000);
    s.write(
        "loans.csv",
        &format!(
            "{LOAN_HEADER},state,dealer_identifier_of_the_region_a,dealer_identifier_of_the_region_b,dealer'\n\
             A1,V1,2022-01-15,20000,60,10000.00,0,{long_state},x,y,z\n\
             A2,V2,2022-01-15,20000,60,11000.00,0,TX,x,y,z\n"
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-06-01,9000\nV2,2024-06-01,10000\n",
    );
    s.write(
        "c.toml",
        "segments = [\"state\", \"dealer_identifier_of_the_region_a\", \
         \"dealer_identifier_of_the_region_b\", \"dealer'\"]\n",
    );
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30", "--config", "c.toml"]));
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = calamine::open_workbook(s.path("out/report.xlsx")).unwrap();
    let names = wb.sheet_names();
    let by: Vec<&String> = names.iter().filter(|n| n.starts_with("By ")).collect();
    assert_eq!(by.len(), 4, "{names:?}");
    let lower: std::collections::BTreeSet<String> =
        names.iter().map(|n| n.to_lowercase()).collect();
    assert_eq!(
        lower.len(),
        names.len(),
        "sheet names must differ: {names:?}"
    );
    assert!(names
        .iter()
        .all(|n| n.chars().count() <= 31 && !n.ends_with('\'')));
    let state = wb.worksheet_range("By state").unwrap();
    let cells: Vec<String> = state
        .rows()
        .skip(1)
        .filter_map(|r| match &r[0] {
            Data::String(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    let cut = cells
        .iter()
        .find(|c| c.starts_with("SSS"))
        .expect("the long state");
    assert!(cut.chars().count() <= 32_767 && cut.ends_with("the CSVs hold the whole text)"));
    // The CSV holds it whole.
    assert!(s.read("out/summary_by_state.csv").contains(&long_state));
}

#[test]
fn every_data_quality_figure_of_the_hand_book_is_its_count_by_hand() {
    let s = Sandbox::new();
    s.write("loans.csv", HAND_LOANS);
    s.write("valuations.csv", &hand_valuations());
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let q = &s.summary("out")["data_quality"];
    // Counted from HAND_LOANS and hand_valuations() in tests/common, not from any output:
    // 20 loan rows, all usable; CLOSED owes nothing.
    assert_eq!(q["loans"]["rows_read"], 20);
    assert_eq!(q["loans"]["rows_accepted"], 20);
    assert_eq!(q["loans"]["rows_rejected"], 0);
    assert_eq!(q["loans"]["zero_balance_accounts"], 1);
    assert_eq!(q["loans"]["duplicate_account_id_rows"], 0);
    // 12 E* rows + 3 TIE + 3 future-test rows + LOWER1 + CLOSED = 20 valuation rows; VINFUT's
    // 2024-07-15 and VINONLYFUT's 2024-08-01 are after as_of; the other 18 are candidates.
    assert_eq!(q["valuations"]["rows_read"], 20);
    assert_eq!(q["valuations"]["rows_rejected"], 0);
    assert_eq!(q["valuations"]["dated_after_as_of_ignored"], 2);
    assert_eq!(q["valuations"]["vin_not_in_book"], 0);
    assert_eq!(q["valuations"]["candidates_for_book_vins"], 18);
    // ONLYFUT, NOVAL, HE1, HE2 have no value.
    assert_eq!(q["accounts_without_value"], 4);
    // Valued 2024-06-01 (29 days): the 12 E* accounts, TIE and CLOSED; README's 2024-06-15 (15
    // days); FUT's 2024-05-01 (60 days).
    assert_eq!(q["valuation_age_days"]["0-30"], 15);
    assert_eq!(q["valuation_age_days"]["31-90"], 1);
    assert_eq!(q["valuation_age_days"]["91-180"], 0);
    assert_eq!(q["valuation_age_days"][">180"], 0);
}

#[test]
fn regression_run_off_months_past_9999_are_refused_not_dated_as_of() {
    let s = Sandbox::new();
    s.write("loans.csv", HAND_LOANS);
    s.write("valuations.csv", &hand_valuations());
    s.write("c.toml", "runoff_months = 120\n");
    // 9995-01 + 120 months is 10005-01: no YYYY-MM-DD date.
    let args = ["--as-of", "9995-01-31", "--config", "c.toml"];
    let out = s.run_loans("out", &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("runoff_months"), "{}", stderr(&out));
    assert!(!s.path("out").exists());
    // Without the outlook there is no run-off to date.
    assert_ok(&s.run_loans("out", &[&args[..], &["--no-outlook"]].concat()));
}

#[test]
fn regression_a_loan_originated_after_as_of_is_rejected_not_valued_at_full_price() {
    let s = Sandbox::new();
    small_book(
        &s,
        "",
        "LATER,V1,2024-07-15,20000,60,20000.00,0\nNOW,V2,2024-06-30,20000,60,20000.00,0\n",
        "V1,2024-06-01,21000\nV2,2024-06-01,21000\n",
    );
    let (line, field, reason) = the_reject(&s);
    assert_eq!((line.as_str(), field.as_str()), ("2", "origination_date"));
    assert!(reason.contains("after as_of 2024-06-30"), "{reason}");
    assert_eq!(s.summary("out")["portfolio"]["accounts"], 1);
}

#[test]
fn regression_a_second_run_to_the_same_out_is_refused_while_the_first_runs() {
    use rustix::fs::{flock, FlockOperation};
    let s = Sandbox::new();
    hand_run(&s);
    let before = s.read("run/accounts.csv");
    // Another run to `run` is under way: it holds --out's lock.
    let lock = std::fs::File::create(s.path(".run.underwater-lock")).unwrap();
    flock(&lock, FlockOperation::NonBlockingLockExclusive).unwrap();
    let out = s.run_loans("run", &["--as-of", "2024-06-30"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another underwater run"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.read("run/accounts.csv"), before);
    drop(lock);
    assert_ok(&s.run_loans("run", &["--as-of", "2024-06-30"]));
}

/// A segment of 50,001 distinct values (every account its own group) grew summary.json, the reports and
/// memory without bound; the run now refuses it up front with exit 3, nothing written, and `query --by`
/// still answers it.
#[test]
fn regression_a_segment_of_more_groups_than_a_table_holds_is_refused() {
    let s = Sandbox::new();
    let mut loans = String::from(
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,branch\n",
    );
    for i in 0..50_001 {
        loans.push_str(&format!(
            "A{i:06},V{i:016},2023-01-15,20000.00,60,15000.00,B{i}\n"
        ));
    }
    s.write("loans.csv", &loans);
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV0000000000000000,2024-06-01,12000\n",
    );
    s.write("branches.toml", "segments = [\"branch\"]\n");
    let inputs = [
        "--loans",
        "loans.csv",
        "--valuations",
        "valuations.csv",
        "--config",
        "branches.toml",
        "--as-of",
        "2024-06-30",
    ];
    let out = s.run(&[&["run"][..], &inputs, &["--out", "out", "-q"]].concat());
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("segment `branch` has 50001 groups, more than the 50000"),
        "{}",
        stderr(&out)
    );
    assert!(!s.path("out").exists());
    let query = s.run(
        &[
            &["query"][..],
            &inputs,
            &["--by", "branch", "--format", "csv"],
        ]
        .concat(),
    );
    assert_ok(&query);
    // 50,001 groups, the header and the TOTAL row.
    assert_eq!(
        String::from_utf8_lossy(&query.stdout).lines().count(),
        50_003
    );
}

/// Ids equal once normalized (`Café` in NFC and in NFD; `A1` and `A1` followed by a zero-width space)
/// are separate accounts, as documented, and were counted nowhere; data quality now counts them.
#[test]
fn regression_look_alike_account_ids_were_not_counted() {
    let s = Sandbox::new();
    let loans = "account_id,vin,origination_date,amount_financed,term_months,current_balance\n\
                 Caf\u{e9},V1,2023-01-15,20000,60,15000\n\
                 Cafe\u{301},V2,2023-01-15,20000,60,15000\n\
                 A1,V3,2023-01-15,20000,60,15000\n\
                 A1\u{200b},V4,2023-01-15,20000,60,15000\n\
                 B2,V5,2023-01-15,20000,60,15000\n";
    s.write("loans.csv", loans);
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-06-01,12000\n",
    );
    assert_ok(&s.run_loans("run", &["--as-of", "2024-06-30"]));
    let summary = s.summary("run");
    let alike = &summary["data_quality"]["loans"]["look_alike_account_ids"];
    // Two groups of two, worked by hand; B2 alone.
    assert_eq!(
        (alike["ids"].as_u64(), alike["accounts"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(summary["portfolio"]["accounts"], 5, "still five accounts");
}
