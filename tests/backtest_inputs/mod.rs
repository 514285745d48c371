//! The backtest's inputs read right or refused, and its figures pinned: each regression test is named
//! after a figure that was wrong with exit 0, and checks the right one, worked out by hand here.

mod ally;

use crate::backtest::{backtest_panel, backtest_records, hand_panel, RECORDS_HEADER};
use crate::common::*;
use std::collections::BTreeMap;

fn by_id(rows: &[BTreeMap<String, String>]) -> BTreeMap<String, BTreeMap<String, String>> {
    rows.iter()
        .map(|r| (r["account_id"].clone(), r.clone()))
        .collect()
}

/// A book of loans `(id, balance, days past due)` with a valuation of 12,000 each.
fn records_book(s: &Sandbox, loans: &[(&str, &str, u32)]) {
    let mut l = format!("{LOAN_HEADER}\n");
    let mut v = "vin,valuation_date,value\n".to_string();
    for (id, balance, dpd) in loans {
        l.push_str(&format!(
            "{id},VIN{id},2022-01-15,20000,60,{balance},{dpd}\n"
        ));
        v.push_str(&format!("VIN{id},2024-06-01,12000\n"));
    }
    s.write("loans.csv", &l);
    s.write("valuations.csv", &v);
}

fn realized(s: &Sandbox, id: &str, columns: &[&str]) -> Vec<String> {
    let rows = by_id(&read_csv(&s.path("bt/backtest.csv")));
    columns.iter().map(|c| rows[id][*c].clone()).collect()
}

#[test]
fn regression_a_crlf_panel_gave_each_loan_the_next_rows_outcomes() {
    let s = Sandbox::new();
    s.write("lf.csv", &hand_panel());
    s.write("crlf.csv", &hand_panel().replace('\n', "\r\n"));
    for (panel, out) in [("lf.csv", "lf"), ("crlf.csv", "crlf")] {
        assert_ok(&backtest_panel(&s, panel, out));
    }
    // The same accounts, statuses and amounts line for line, whatever the line ends.
    assert_eq!(s.read("crlf/backtest.csv"), s.read("lf/backtest.csv"));
    // And the right ones: B (line 3) charged off in month 2, C (line 4) written off in month 2.
    let rows = by_id(&read_csv(&s.path("crlf/backtest.csv")));
    assert_eq!(rows["B"]["default_rule"], "charge_off");
    assert_eq!(rows["C"]["default_rule"], "written_off");
    assert_eq!(rows["H"]["status"], "closed_at_as_of");
    assert_eq!(s.summary("crlf")["outcome_rows"]["not_in_book"], 0);
}

#[test]
fn regression_records_lacking_a_column_were_read_as_if_nothing_happened() {
    let s = Sandbox::new();
    // F owes 3,000 and pays 3,010 in month 1: a payoff, not a write-off, when principal_paid is not
    // carried; D pays nothing for three months without days_past_due or amount_paid: no rule reads
    // payments, so it performs.
    records_book(&s, &[("F", "3000.00", 0), ("D", "6000.00", 0)]);
    let records = "account_id,month,balance,amount_paid\nF,2024-07,0.00,3010.00\n\
                   D,2024-07,6000,0\nD,2024-08,6000,0\nD,2024-09,6000,0\n";
    assert_ok(&backtest_records(&s, records, &["-q"]));
    assert_eq!(
        realized(&s, "F", &["status", "defaulted"]),
        ["paid_off", "false"]
    );
    let j = s.summary("bt");
    // (c) reads the amount paid: D's three unpaid months (month 0 counts, as no payment is known) do
    // default under it.
    assert_eq!(j["rules_evaluated"], serde_json::json!(["dpd_90"]));
    assert_eq!(realized(&s, "D", &["default_rule"]), ["dpd_90"]);

    // Without the balance, the walk goes on over the months that have a row; without amount_paid
    // and days_past_due no payment rule fires, and a charge-off still does.
    let records = "account_id,month,principal_paid,charged_off\nF,2024-07,300,\nF,2024-08,300,\n\
                   F,2024-09,300,\nD,2024-07,0,\nD,2024-08,0,\nD,2024-09,0,6000\n";
    assert_ok(&backtest_records(&s, records, &["-q"]));
    assert_eq!(realized(&s, "F", &["status"]), ["performing"]);
    assert_eq!(
        realized(
            &s,
            "D",
            &["default_month", "default_rule", "balance_at_default"]
        ),
        ["3", "charge_off", "6000.00"]
    );
    assert_eq!(
        s.summary("bt")["rules_evaluated"],
        serde_json::json!(["charge_off"])
    );

    // 90 days past due with an empty balance is still 90 days past due.
    let records = format!("{RECORDS_HEADER}\nD,2024-07,6000,0,0,,,,60\nD,2024-08,,0,0,,,,90\n");
    assert_ok(&backtest_records(&s, &records, &["-q"]));
    assert_eq!(
        realized(
            &s,
            "D",
            &["default_month", "default_rule", "balance_at_default"]
        ),
        ["2", "dpd_90", "6000.00"]
    );
}

#[test]
fn regression_records_without_payments_defaulted_196_of_200_generated_accounts() {
    let s = Sandbox::new();
    let args = [
        "generate",
        "--loans",
        "200",
        "--outcome-months",
        "6",
        "--out",
        "g",
    ];
    assert_ok(&s.run(&args));
    // The same records without amount_paid and days_past_due.
    let full = s.read("g/outcomes.csv");
    let mut lines = full.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !matches!(header[i], "amount_paid" | "days_past_due"))
        .collect();
    let cut = |line: &str| -> String {
        let cells: Vec<&str> = line.split(',').collect();
        keep.iter().map(|&i| cells[i]).collect::<Vec<_>>().join(",")
    };
    let mut dropped = cut(&header.join(","));
    for line in lines {
        dropped.push('\n');
        dropped.push_str(&cut(line));
    }
    s.write("dropped.csv", &(dropped + "\n"));
    let book = ["--loans", "g/loans.csv", "--valuations", "g/valuations.csv"];
    let as_of = ["--as-of", "2025-06-30", "--horizon", "6", "-q"];
    for (records, out) in [("g/outcomes.csv", "full"), ("dropped.csv", "dropped")] {
        let args = [
            &["backtest"][..],
            &book,
            &as_of,
            &["--outcomes", records, "--out", out],
        ];
        assert_ok(&s.run(&args.concat()));
    }
    // Every generated default ends in a charge-off within the data: the dropped file finds the same
    // accounts (each by its charge-off) and no more.
    let defaults = |out: &str| -> Vec<(String, String)> {
        read_csv(&s.path(&format!("{out}/backtest.csv")))
            .into_iter()
            .filter(|r| r["defaulted"] == "true")
            .map(|r| (r["account_id"].clone(), r["default_rule"].clone()))
            .collect()
    };
    let (full, dropped) = (defaults("full"), defaults("dropped"));
    assert!(!full.is_empty() && full.len() < 40, "{full:?}");
    let ids = |d: &[(String, String)]| -> Vec<String> { d.iter().map(|x| x.0.clone()).collect() };
    assert_eq!(ids(&dropped), ids(&full));
    assert!(dropped.iter().all(|d| d.1 == "charge_off"), "{dropped:?}");
    let j = s.summary("dropped");
    assert_eq!(
        j["rules_evaluated"],
        serde_json::json!(["charge_off", "written_off"])
    );
}

#[test]
fn a_records_file_that_supports_no_rule_is_refused() {
    let s = Sandbox::new();
    records_book(&s, &[("A", "5000.00", 0)]);
    let out = backtest_records(&s, "account_id,month,balance\nA,2024-07,4900\n", &["-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("records.csv") && err.contains("no default rule"),
        "{err}"
    );
    assert!(err.contains("Fix:"), "{err}");
    assert!(!s.path("bt").exists(), "nothing written");
}

#[test]
fn regression_an_empty_balance_ended_the_walk_and_dropped_a_later_charge_off() {
    let s = Sandbox::new();
    records_book(&s, &[("L1", "10000.00", 0)]);
    let records = format!(
        "{RECORDS_HEADER}\nL1,2024-07,9900,100,300,,,,0\nL1,2024-08,,100,300,,,,0\n\
         L1,2024-09,9700,100,300,,,,0\nL1,2024-10,0,0,0,9700,,,\n"
    );
    assert_ok(&backtest_records(&s, &records, &["-q"]));
    // Month 2's balance is not reported; the walk goes on, and month 4's charge-off is the default,
    // from month 3's balance.
    assert_eq!(
        realized(
            &s,
            "L1",
            &[
                "status",
                "default_month",
                "default_rule",
                "balance_at_default"
            ]
        ),
        ["defaulted", "4", "charge_off", "9700.00"]
    );
    let j = s.summary("bt");
    assert_eq!(j["outcome_rows"]["accepted"], 4);
    assert_eq!(j["outcome_rows"]["rejected"], 0);
}

#[test]
fn regression_a_panel_missing_a_month_column_was_cut_there() {
    let s = Sandbox::new();
    let panel = hand_panel();
    let (header, body) = panel.split_once('\n').unwrap();
    let names: Vec<&str> = header.split(',').collect();
    for (gone, named) in [
        ("BAL3", "BAL3 is missing"),
        ("PRC2", "PRC2 is missing"),
        ("REP4", "REP runs to month 3"),
    ] {
        let at = names.iter().position(|n| *n == gone).unwrap();
        let drop = |line: &str| -> String {
            let cells: Vec<&str> = line.split(',').collect();
            let kept: Vec<&str> = (0..cells.len())
                .filter(|&i| i != at)
                .map(|i| cells[i])
                .collect();
            kept.join(",")
        };
        let cut: Vec<String> = std::iter::once(header)
            .chain(body.lines())
            .map(drop)
            .collect();
        s.write("cut.csv", &(cut.join("\n") + "\n"));
        let out = backtest_panel(&s, "cut.csv", "bt");
        assert_eq!(out.status.code(), Some(3), "{gone}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(named) && err.contains("Fix:"), "{gone}: {err}");
        assert!(!s.path("bt").exists(), "nothing written");
    }
}

#[test]
fn regression_the_backtest_total_was_not_the_sum_of_its_rows_at_four_decimals() {
    let s = Sandbox::new();
    records_book(&s, &[("A", "10000.00", 0), ("B", "5000.00", 0)]);
    // Balances at default 9,900.005 and 4,900.005: each rounds half-even to .00 in backtest.csv, and
    // the TOTAL is their sum, 14,800.00 (the unrounded sum rounds to 14,800.01).
    let records = format!(
        "{RECORDS_HEADER}\nA,2024-07,9900.005,99.995,300,,,,0\nA,2024-08,0,0,0,9900.005,,,\n\
         B,2024-07,4900.005,99.995,300,,,,0\nB,2024-08,0,0,0,4900.005,,,\n"
    );
    assert_ok(&backtest_records(&s, &records, &["-q"]));
    assert_eq!(
        realized(&s, "A", &["balance_at_default", "realized_loss"]),
        ["9900.00", "9900.00"]
    );
    assert_eq!(
        realized(&s, "B", &["balance_at_default", "realized_loss"]),
        ["4900.00", "4900.00"]
    );
    let table = read_csv(&s.path("bt/summary_backtest_by_ltv_bucket.csv"));
    let total = table.last().unwrap();
    assert_eq!(total["balance_at_default"], "14800.00");
    assert_eq!(total["realized_loss"], "14800.00");
}

#[test]
fn regression_a_non_utf8_amount_read_as_empty_and_a_negative_balance_was_accepted() {
    let s = Sandbox::new();
    records_book(&s, &[("A", "10000.00", 0), ("B", "5000.00", 0)]);
    let mut records = format!("{RECORDS_HEADER}\nA,2024-07,9900,100,300,,,,0\n").into_bytes();
    records.extend_from_slice(b"A,2024-08,0,0,0,\xa39900.00,,,\n");
    records.extend_from_slice(b"B,2024-07,-5,0,0,,,,0\n");
    assert_ok(&backtest_records(&s, &records, &["-q"]));
    let rejects = read_csv(&s.path("bt/outcome_rejects.csv"));
    let got: Vec<[&str; 2]> = rejects
        .iter()
        .map(|r| [r["line"].as_str(), r["field"].as_str()])
        .collect();
    assert_eq!(got, [["3", "charged_off"], ["4", "balance"]]);
    assert!(rejects[0]["reason"].contains("not UTF-8"), "{rejects:?}");
    assert!(rejects[1]["reason"].contains("below 0"), "{rejects:?}");

    // In a panel the same byte rejects its row, not the whole file: B's (line 3) month-1 proceeds
    // with a Latin-1 pound sign before the 0.
    let panel = hand_panel();
    let month1 = "8000,0,0,NA,0,0,0,0,NA,-300";
    assert_eq!(panel.matches(month1).count(), 1);
    let (before, after) = panel.split_once(month1).unwrap();
    let mut bytes = before.as_bytes().to_vec();
    bytes.extend_from_slice(b"8000,0,0,NA,\xa30,0,0,0,NA,-300");
    bytes.extend_from_slice(after.as_bytes());
    s.write_bytes("panel.csv", &bytes);
    assert_ok(&backtest_panel(&s, "panel.csv", "p"));
    let rejects = read_csv(&s.path("p/outcome_rejects.csv"));
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(
        [rejects[0]["line"].as_str(), rejects[0]["field"].as_str()],
        ["3", "REP1"]
    );
    let rows = by_id(&read_csv(&s.path("p/backtest.csv")));
    assert_eq!(rows["C"]["default_rule"], "written_off");
    // The loans' reader rejects the same row (its record is not UTF-8): B is not in the book.
    assert_eq!(rows.len(), 7, "{:?}", rows.keys());
    let loan_rejects = read_csv(&s.path("p/rejects.csv"));
    assert_eq!(loan_rejects.len(), 1);
    assert_eq!(loan_rejects[0]["line"], "3");
}

#[test]
fn regression_a_default_then_a_cure_lost_the_whole_balance() {
    let s = Sandbox::new();
    records_book(&s, &[("A", "9000.00", 30), ("B", "9000.00", 30)]);
    // A: 60 then 90 days past due, then current again, then paid off: a delinquency that cured, not
    // a default. B: the same to 90 days, never current again, then charged off: a default in month 2
    // (its 90 days), as the rules count it.
    let records = format!(
        "{RECORDS_HEADER}\nA,2024-07,9000,0,0,,,,60\nA,2024-08,9000,0,0,,,,90\n\
         A,2024-09,8400,600,900,,,,0\nA,2024-10,0,8400,8400,,,,0\n\
         B,2024-07,9000,0,0,,,,60\nB,2024-08,9000,0,0,,,,90\nB,2024-09,9000,0,0,,,,120\n\
         B,2024-10,0,0,0,9000,,5000,\n"
    );
    assert_ok(&backtest_records(&s, &records, &["-q"]));
    assert_eq!(
        realized(&s, "A", &["status", "defaulted"]),
        ["paid_off", "false"]
    );
    assert_eq!(
        realized(
            &s,
            "B",
            &[
                "default_month",
                "default_rule",
                "balance_at_default",
                "realized_loss"
            ]
        ),
        ["2", "dpd_90", "9000.00", "4000.00"]
    );
}

#[test]
fn regression_a_horizon_beyond_the_data_said_it_walked_600_months() {
    let s = Sandbox::new();
    records_book(&s, &[("A", "9000.00", 0)]);
    let records = format!(
        "{RECORDS_HEADER}\nA,2024-07,8800,200,300,,,,0\nA,2024-08,8600,200,300,,,,0\n\
         A,2024-09,8400,200,300,,,,0\n"
    );
    let out = backtest_records(&s, &records, &["--horizon", "600"]);
    assert_ok(&out);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
    assert!(!printed.contains("600 months"), "{printed}");
    assert!(printed.contains("over 3 months"), "{printed}");
    assert!(
        printed.contains("--horizon 600 is beyond the data"),
        "{printed}"
    );
    let j = s.summary("bt");
    assert_eq!(j["horizon_months"], 600);
    assert_eq!(j["months_walked"], 3);
    assert_eq!(j["horizon_beyond_data"], true);
}

#[test]
fn regression_backtest_of_a_run_read_from_stdin_said_to_start_where_it_was_started() {
    use std::io::Write;
    let s = Sandbox::new();
    records_book(&s, &[("A", "9000.00", 0)]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_underwater"))
        .args(["run", "--loans", "-", "--valuations", "valuations.csv"])
        .args(["--as-of", "2024-06-30", "--out", "piped", "-q"])
        .current_dir(s.dir.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let loans = s.read("loans.csv");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(loans.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    s.write(
        "records.csv",
        &format!("{RECORDS_HEADER}\nA,2024-07,8800,200,300,,,,0\n"),
    );
    let out = s.run(&[
        "backtest",
        "--run",
        "piped",
        "--outcomes",
        "records.csv",
        "--out",
        "bt",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("standard input"), "{err}");
    assert!(
        !err.contains("from the directory the run was started in"),
        "{err}"
    );
    assert!(err.contains("save the input to a file"), "{err}");
}

#[test]
fn regression_an_outcome_reject_quoted_a_40000_digit_cell_in_full() {
    let s = Sandbox::new();
    records_book(&s, &[("A", "9000.00", 0)]);
    let huge = "9".repeat(40_000);
    let records = format!("{RECORDS_HEADER}\nA,2024-07,{huge},200,300,,,,0\n");
    assert_ok(&backtest_records(&s, &records, &["-q"]));
    let rejects = read_csv(&s.path("bt/outcome_rejects.csv"));
    assert_eq!(rejects.len(), 1);
    let reason = &rejects[0]["reason"];
    assert!(reason.len() <= 600, "{} bytes", reason.len());
    assert!(reason.starts_with("not an amount"), "{reason}");
}

#[test]
fn regression_a_repeated_account_month_kept_the_first_row_by_file_order() {
    let s = Sandbox::new();
    records_book(&s, &[("A", "9000.00", 0), ("B", "5000.00", 0)]);
    let rows = [
        "A,2024-07,8800,200,300,,,,0",
        "A,2024-07,0,0,0,8800,,4000,",
        "A,2024-08,8600,200,300,,,,0",
        "B,2024-07,4800,200,300,,,,0",
    ];
    let mut outputs = Vec::new();
    for order in [[0, 1, 2, 3], [1, 0, 2, 3]] {
        let body: Vec<&str> = order.iter().map(|&i| rows[i]).collect();
        let records = format!("{RECORDS_HEADER}\n{}\n", body.join("\n"));
        assert_ok(&backtest_records(&s, &records, &["-q"]));
        outputs.push(s.read("bt/backtest.csv"));
        // Both rows of A's month 1 rejected, and month 2 after it: A has no usable record.
        let rejects = read_csv(&s.path("bt/outcome_rejects.csv"));
        let lines: Vec<&str> = rejects.iter().map(|r| r["line"].as_str()).collect();
        assert_eq!(lines, ["2", "3", "4"]);
        assert_eq!(realized(&s, "A", &["status"]), ["no_outcome"]);
        assert_eq!(realized(&s, "B", &["status"]), ["performing"]);
    }
    assert_eq!(outputs[0], outputs[1], "row order changes nothing");
}

#[test]
fn regression_not_in_book_counted_accounts_and_closed_accounts_counted_in_panels_only() {
    let s = Sandbox::new();
    // H owes nothing at as_of and, as usual for a closed loan, has no records.
    records_book(&s, &[("A", "9000.00", 0), ("H", "0.00", 0)]);
    let records = format!(
        "{RECORDS_HEADER}\nA,2024-07,8800,200,300,,,,0\nX9,2024-07,100,0,0,,,,0\n\
         X9,2024-08,100,0,0,,,,0\n"
    );
    assert_ok(&backtest_records(&s, &records, &["-q"]));
    let j = s.summary("bt");
    // Two rows of the one account the book does not have.
    assert_eq!(j["outcome_rows"]["not_in_book"], 2);
    assert_eq!(realized(&s, "H", &["status"]), ["closed_at_as_of"]);
    assert_eq!(j["accounts"]["no_outcome"], 0);
    // The by-LTV TOTAL counts H, as a panel's does (the hand panel's 8 loans, H among them).
    let total = total_row(&j, "by_ltv_bucket");
    assert_eq!(total["accounts"], 2);
    s.write("panel.csv", &hand_panel());
    assert_ok(&backtest_panel(&s, "panel.csv", "p"));
    let total = s.summary("p")["by_ltv_bucket"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(total["accounts"], 8);
}

#[test]
fn regression_query_of_a_run_with_previous_beside_one_without_said_not_a_run() {
    let s = Sandbox::new();
    assert_ok(&run_sample_book(&s, "p1", &[]));
    assert_ok(&run_sample_book(&s, "p2", &["--previous", "p1"]));
    let sql = "SELECT COUNT(*) AS n, COUNT(previous_ltv_bucket) AS with_previous FROM accounts";
    let out = s.run(&[
        "query", sql, "--run", "p1", "--run", "p2", "--format", "csv",
    ]);
    assert_ok(&out);
    let answer = String::from_utf8_lossy(&out.stdout).into_owned();
    let accounts = s.summary("p1")["portfolio"]["accounts"].as_u64().unwrap();
    let with_previous = read_csv(&s.path("p2/accounts.csv"))
        .iter()
        .filter(|r| !r["previous_ltv_bucket"].is_empty())
        .count();
    assert_eq!(
        answer,
        format!("n,with_previous\n{},{with_previous}\n", 2 * accounts)
    );
    assert!(
        stderr(&out).contains("p1 was run without --previous"),
        "{}",
        stderr(&out)
    );
}

/// The default config's retained-value curves (yearly points, linear between them, flat after the
/// last), written here from the guide's table, not read from the code: the share of the value at
/// origination a car of `months` keeps.
fn default_curve_share(used: bool, months: u32) -> rust_decimal::Decimal {
    let points: [&str; 11] = if used {
        [
            "1", "0.89", "0.7921", "0.7050", "0.6274", "0.5584", "0.4970", "0.4423", "0.3937",
            "0.35275", "0.3118",
        ]
    } else {
        [
            "1", "0.80", "0.696", "0.6055", "0.5268", "0.4583", "0.3987", "0.3469", "0.3018",
            "0.26515", "0.2285",
        ]
    };
    // Points at 0, 12, …, 96 and 120 (the 108 entry is the straight line's midpoint between them).
    let year = (months / 12).min(10) as usize;
    if year == 10 {
        return dec(points[10]);
    }
    let into = rust_decimal::Decimal::from(months % 12) / rust_decimal::Decimal::from(12);
    dec(points[year]) + (dec(points[year + 1]) - dec(points[year])) * into
}

/// `generate --outcome-months` adds outcomes.csv and changes nothing else; its draws stay inside the
/// documented bounds (a default month in 1 … M, both ends drawn; a sale of 0.60 × the value in the
/// default month − 600 ± 300, that value being the value at as_of along the default curve).
#[test]
fn the_generators_outcomes_leave_its_book_alone_and_stay_inside_their_bounds() {
    let s = Sandbox::new();
    assert_ok(&s.run(&["generate", "--loans", "20000", "--out", "plain", "-q"]));
    let args = [
        "generate",
        "--loans",
        "20000",
        "--outcome-months",
        "6",
        "--out",
        "g",
        "-q",
    ];
    assert_ok(&s.run(&args));
    for file in ["loans.csv", "valuations.csv"] {
        assert_eq!(
            s.read(&format!("g/{file}")),
            s.read(&format!("plain/{file}")),
            "{file}"
        );
    }
    let book = [
        "run",
        "--loans",
        "g/loans.csv",
        "--valuations",
        "g/valuations.csv",
    ];
    assert_ok(&s.run(&[&book[..], &["--as-of", "2025-06-30", "--out", "r", "-q"]].concat()));
    let values: BTreeMap<String, String> = read_csv(&s.path("r/accounts.csv"))
        .into_iter()
        .map(|r| (r["account_id"].clone(), r["value"].clone()))
        .collect();
    // Per account: used or not, and whole months from origination to as_of (2025-06-30).
    let ages: BTreeMap<String, (bool, u32)> = read_csv(&s.path("g/loans.csv"))
        .into_iter()
        .map(|r| {
            let o = &r["origination_date"];
            let (y, m, d): (u32, u32, u32) = (
                o[..4].parse().unwrap(),
                o[5..7].parse().unwrap(),
                o[8..].parse().unwrap(),
            );
            let age = (2025 * 12 + 6) - (y * 12 + m) - u32::from(30 < d);
            (r["account_id"].clone(), (r["new_used"] == "used", age))
        })
        .collect();
    let mut months = std::collections::BTreeSet::new();
    let mut sales = 0;
    for r in read_csv(&s.path("g/outcomes.csv")) {
        if r["charged_off"].is_empty() {
            continue;
        }
        let k: u32 = match r["month"].as_str() {
            m if m.starts_with("2025-") => m[5..].parse::<u32>().unwrap() - 6,
            m => m[5..].parse::<u32>().unwrap() + 6,
        };
        months.insert(k);
        let value = &values[&r["account_id"]];
        if value.is_empty() {
            continue;
        }
        let (used, age) = ages[&r["account_id"]];
        let then = dec(value) * default_curve_share(used, age + k) / default_curve_share(used, age);
        // ± a cent: the generator rounds the value in the month to cents.
        let base = then * dec("0.60") - dec("600");
        let base_range = (base - dec("0.01"), base + dec("0.01"));
        let sale = dec(&r["repossession_proceeds"]);
        assert!(
            sale >= base_range.0 - dec("300") && sale <= base_range.1 + dec("300"),
            "{r:?}: {sale} vs {base}"
        );
        sales += 1;
    }
    assert_eq!(months.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    assert!(sales > 100, "{sales} sales");
}

/// Six loans worked by hand (value 10,000 each; recovery 0.85 × 10,000 − 1,000 = 7,500): A (9,000,
/// current, charged off in month 1, 6,000 recovered), B (9,000, current, pays), C (6,000, current,
/// pays), D (12,500, 30 days, charged off in month 2, 7,000 recovered), E (5,000, 30 days, pays), F
/// (8,000, no records).
fn hand_records_backtest(s: &Sandbox) {
    let loans = [
        ("A", "9000.00", 0, "FL"),
        ("B", "9000.00", 0, "TX"),
        ("C", "6000.00", 0, "FL"),
        ("D", "12500.00", 30, "TX"),
        ("E", "5000.00", 30, "FL"),
        ("F", "8000.00", 0, "TX"),
    ];
    let mut l = format!("{LOAN_HEADER},state\n");
    let mut v = "vin,valuation_date,value\n".to_string();
    for (id, balance, dpd, state) in loans {
        l.push_str(&format!(
            "{id},VIN{id},2022-01-15,20000,60,{balance},{dpd},{state}\n"
        ));
        v.push_str(&format!("VIN{id},2024-06-01,10000\n"));
    }
    s.write("loans.csv", &l);
    s.write("valuations.csv", &v);
    let records = format!(
        "{RECORDS_HEADER}\nA,2024-07,0,0,0,9000,,6000,\n\
         B,2024-07,8800,200,300,,,,0\nB,2024-08,8600,200,300,,,,0\n\
         C,2024-07,5800,200,300,,,,0\nC,2024-08,5600,200,300,,,,0\n\
         D,2024-07,12500,0,0,,,,60\nD,2024-08,0,0,0,12500,,7000,\n\
         E,2024-07,4800,200,300,,,,0\nE,2024-08,4600,200,300,,,,0\n"
    );
    assert_ok(&backtest_records(s, &records, &["-q"]));
}

#[test]
fn jeffreys_verdicts_auc_of_ltv_and_segments_of_a_hand_backtest() {
    let s = Sandbox::new();
    hand_records_backtest(&s);
    let j = s.summary("bt");
    // pd classes: 0.02 over A, B, C (1 default); 0.15 over D, E (1); TOTAL 5 and 2 at the mean pd
    // (0.06 + 0.30) / 5 = 0.072. Jeffreys bounds: Beta(d + ½, n − d + ½) quantiles by mpmath at 40
    // digits; a pd below the low bound is too low.
    let want = [
        (
            "0.02",
            3,
            "0.06",
            1,
            0.038_747_617_785_165_16,
            0.823_263_902_868_742_6,
            "pd_too_low",
        ),
        (
            "0.15",
            2,
            "0.3",
            1,
            0.060_830_275_920_097_36,
            0.939_169_724_079_902_6,
            "consistent",
        ),
        (
            "TOTAL",
            5,
            "0.36",
            2,
            0.094_390_327_344_344_06,
            0.790_583_335_923_995_1,
            "pd_too_low",
        ),
    ];
    let rows = j["by_pd"].as_array().unwrap();
    assert_eq!(rows.len(), want.len());
    for (r, (pd, n, expected, d, low, high, verdict)) in rows.iter().zip(want) {
        assert_eq!(
            (r["pd"].as_str().unwrap(), r["accounts"].as_u64().unwrap()),
            (pd, n)
        );
        assert_eq!(r["expected_defaults"], expected);
        assert_eq!(r["defaults"], d);
        for (got, reference) in [(&r["jeffreys_low"], low), (&r["jeffreys_high"], high)] {
            let got = got.as_f64().unwrap();
            assert!(
                (got - reference).abs() <= 1e-9 * reference,
                "{pd}: {got} vs {reference}"
            );
        }
        assert_eq!(r["verdict"], verdict, "{pd}");
    }
    // AUC of LTV: defaults A (0.90) and D (1.25) against B (0.90: a tie, ½), C (0.60), E (0.50):
    // (½ + 1 + 1 + 1 + 1 + 1) / 6 = 0.91666… → 0.9167; of pd: (½ + ½ + 0 + 1 + 1 + ½) / 6 → 0.5833.
    assert_eq!(j["auc_ltv"], "0.9167");
    assert_eq!(j["auc_pd"], "0.5833");
    // F has no records: not in the loss tables, listed as no_outcome, and the TOTAL reconciles.
    assert_eq!(j["accounts"]["no_outcome"], 1);
    let cells = |r: &serde_json::Value| -> Vec<String> {
        [
            "accounts",
            "defaults",
            "expected_deficiency",
            "deficiency_if_default_of_defaulted",
            "balance_of_defaulted",
            "balance_at_default",
            "recoveries",
            "realized_loss",
            "loss_severity",
            "modeled_severity",
        ]
        .iter()
        .map(|c| r[*c].to_string().trim_matches('"').to_string())
        .collect()
    };
    let total = &total_row(&j, "by_ltv_bucket");
    // Deficiencies: A 1,500 (× 0.02 = 30), B 1,500 (30), C and E 0, D 5,000 (× 0.15 = 750).
    // Severity 8,500 / 21,500 = 0.3953; modeled (1,500 + 5,000) / 21,500 = 0.3023.
    let want_total = [
        "5", "2", "810.00", "6500.00", "21500.00", "21500.00", "13000.00", "8500.00", "0.3953",
        "0.3023",
    ];
    assert_eq!(cells(total), want_total);
    let state = j["by_segment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["segment"] == "state")
        .unwrap();
    let by_state: Vec<Vec<String>> = state["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(cells)
        .collect();
    assert_eq!(
        by_state[0],
        [
            "3", "1", "30.00", "1500.00", "9000.00", "9000.00", "6000.00", "3000.00", "0.3333",
            "0.1667"
        ]
    );
    assert_eq!(
        by_state[1],
        [
            "2", "1", "780.00", "5000.00", "12500.00", "12500.00", "7000.00", "5500.00", "0.4400",
            "0.4000"
        ]
    );
    assert_eq!(by_state[2], want_total);
    // Every segment table's rows sum to its TOTAL, in every additive column.
    for table in j["by_segment"].as_array().unwrap() {
        let rows = table["rows"].as_array().unwrap();
        let (groups, total) = rows.split_at(rows.len() - 1);
        for c in 0..8 {
            let sum: rust_decimal::Decimal = groups.iter().map(|r| dec(&cells(r)[c])).sum();
            assert_eq!(
                sum,
                dec(&cells(&total[0])[c]),
                "{} column {c}",
                table["segment"]
            );
        }
    }
}

#[test]
fn every_cell_of_the_backtest_report_and_workbook_is_summary_json_s() {
    use calamine::{Data, Reader, Xlsx};
    let s = Sandbox::new();
    hand_records_backtest(&s);
    let j = s.summary("bt");
    let page = s.read("bt/report.html");
    let text = |v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(t) => t.clone(),
            other => other.to_string(),
        }
    };
    let pd_columns = [
        "pd",
        "accounts",
        "expected_defaults",
        "defaults",
        "default_rate",
        "jeffreys_low",
        "jeffreys_high",
        "verdict",
    ];
    let ltv_columns = [
        "group",
        "accounts",
        "defaults",
        "expected_deficiency",
        "realized_loss",
        "balance_at_default",
        "recoveries",
        "modeled_severity",
        "loss_severity",
    ];
    let row_of = |r: &serde_json::Value, columns: &[&str]| -> Vec<String> {
        columns.iter().map(|c| text(&r[*c])).collect()
    };
    let page_rows: Vec<Vec<String>> = page
        .split("<tr>")
        .skip(1)
        .map(|r| {
            r.split("<td")
                .skip(1)
                .map(|c| {
                    let c = &c[c.find('>').unwrap() + 1..];
                    // The page escapes text; read it back as a browser shows it.
                    c[..c.find("</td>").unwrap()]
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                        .replace("&quot;", "\"")
                        .replace("&#39;", "'")
                        .replace("&amp;", "&")
                })
                .collect()
        })
        .filter(|cells: &Vec<String>| !cells.is_empty())
        .collect();
    let mut want: Vec<Vec<String>> = Vec::new();
    want.extend(
        j["by_pd"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| row_of(r, &pd_columns)),
    );
    want.extend(
        j["by_ltv_bucket"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| row_of(r, &ltv_columns)),
    );
    // The lifetime curve: summary.json's rows are summary_backtest_curve.csv's, and the page's.
    let curve_columns = [
        "month",
        "predicted_defaults",
        "realized_defaults",
        "predicted_loss",
        "realized_loss",
    ];
    let curve = j["curve"]
        .as_array()
        .expect("the lifetime curve in summary.json");
    let csv_rows: Vec<Vec<String>> = read_csv(&s.path("bt/summary_backtest_curve.csv"))
        .iter()
        .map(|r| curve_columns.iter().map(|c| r[*c].clone()).collect())
        .collect();
    let json_rows: Vec<Vec<String>> = curve.iter().map(|r| row_of(r, &curve_columns)).collect();
    assert_eq!(json_rows, csv_rows);
    want.extend(json_rows);
    assert_eq!(page_rows, want);
    // The workbook: every cell of both sheets, numbers as numbers.
    let mut wb: Xlsx<_> = calamine::open_workbook(s.path("bt/report.xlsx")).unwrap();
    let cell = |d: &Data| -> String {
        match d {
            Data::Float(f) => f.to_string(),
            Data::String(t) => t.clone(),
            Data::Empty => String::new(),
            other => format!("{other:?}"),
        }
    };
    let number = |t: String| -> String {
        match t.parse::<f64>() {
            Ok(f) => f.to_string(),
            Err(_) => t,
        }
    };
    for (sheet, key, columns) in [
        ("pd classes", "by_pd", &pd_columns[..]),
        ("severity by LTV", "by_ltv_bucket", &ltv_columns[..]),
        ("lifetime curve", "curve", &curve_columns[..]),
    ] {
        let range = wb.worksheet_range(sheet).unwrap();
        let got: Vec<Vec<String>> = range
            .rows()
            .skip(1)
            .map(|r| r.iter().map(cell).collect())
            .collect();
        let want: Vec<Vec<String>> = j[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| row_of(r, columns).into_iter().map(number).collect())
            .collect();
        assert_eq!(got, want, "{sheet}");
    }
}
