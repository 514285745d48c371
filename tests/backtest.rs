//! `underwater backtest`: hand-worked panels and loan-month records, every rule checked line by line
//! against figures worked out here, the summaries rebuilt from backtest.csv by a second sum, and the
//! real Ally 2017-3 panel run end to end.

use crate::common::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

pub(crate) const PANEL_HEADER: &str = "assetNumber,reportingPeriodEndingDate,originationDate,originalLoanAmount,\
originalLoanTerm,originalInterestRatePercentage,vehicleNewUsedCode,vehicleValueAmount,obligorCreditScore,\
obligorGeographicLocation,reportingPeriodActualEndBalanceAmount,currentDelinquencyStatus,totalActualAmountPaid,\
BAL1,PRC1,PMT1,REC1,REP1,BAL2,PRC2,PMT2,REC2,REP2,BAL3,PRC3,PMT3,REC3,REP3,BAL4,PRC4,PMT4,REC4,REP4";

/// Eight loans, one per rule and status (no vehicle value: deficiency_if_default = balance).
pub(crate) fn hand_panel() -> String {
    let loan = |id: &str, balance: &str, dpd: u32, paid0: &str, months: &str| {
        format!(
            "{id},05-31-2017,01/2016,20000,72,0.05,2,NA,700,FL,{balance},{dpd},{paid0},{months}"
        )
    };
    let rows = [
        PANEL_HEADER.to_string(),
        // line 2: pays every month → performing
        loan(
            "A",
            "10000",
            0,
            "300",
            "9700,300,300,NA,0,9400,300,300,NA,0,9100,300,300,NA,0,8800,300,300,NA,0",
        ),
        // line 3: repossessed in month 2 (costs booked first), recoveries after → charge_off, month 2
        loan(
            "B",
            "8000",
            60,
            "0",
            "8000,0,0,NA,0,0,0,0,NA,-300,NA,NA,NA,5000,NA,NA,NA,NA,200.50,NA",
        ),
        // line 4: balance written to 0 in month 2 → written_off, month 2
        loan(
            "C",
            "5000",
            0,
            "250",
            "4800,200,250,NA,0,0,0,0,NA,0,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA",
        ),
        // line 5: three unpaid months, then payments resume → a deferral, performing
        loan(
            "D",
            "6000",
            0,
            "300",
            "6000,0,0,NA,0,6000,0,0,NA,0,6000,0,0,NA,0,5700,300,300,NA,0",
        ),
        // line 6: unpaid from month 0 on, never resumes → dpd_90 in month 2
        loan(
            "E",
            "7000",
            30,
            "0",
            "7000,0,0,NA,0,7000,0,0,NA,0,7000,0,0,NA,0,7000,0,0,NA,0",
        ),
        // line 7: paid in full in month 1 → paid_off
        loan(
            "F",
            "3000",
            0,
            "300",
            "0,3000,3010,NA,0,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA",
        ),
        // line 8: records stop after month 1 → left_pool
        loan(
            "G",
            "4000",
            0,
            "300",
            "3900,100,300,NA,0,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA",
        ),
        // line 9: nothing owed at as_of → closed_at_as_of
        loan(
            "H",
            "0",
            0,
            "0",
            "0,0,0,NA,0,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA",
        ),
    ];
    rows.join("\n") + "\n"
}

/// `backtest` of the panel tape `panel` (in the sandbox), quietly, into `out`.
pub(crate) fn backtest_panel(s: &Sandbox, panel: &str, out: &str) -> std::process::Output {
    s.run(&["backtest", "--tape", "regab", panel, "--out", out, "-q"])
}

/// The hand panel, backtested into `bt`.
fn hand_backtest(s: &Sandbox) {
    s.write("panel.csv", &hand_panel());
    assert_ok(&backtest_panel(s, "panel.csv", "bt"));
}

fn by_id(rows: &[BTreeMap<String, String>]) -> BTreeMap<String, BTreeMap<String, String>> {
    rows.iter()
        .map(|r| (r["account_id"].clone(), r.clone()))
        .collect()
}

#[test]
fn a_hand_panel_meets_every_rule_line_by_line() {
    let s = Sandbox::new();
    hand_backtest(&s);
    let rows = by_id(&read_csv(&s.path("bt/backtest.csv")));
    let realized = |id: &str| {
        let r = &rows[id];
        [
            "status",
            "default_month",
            "default_rule",
            "balance_at_default",
            "recoveries",
            "realized_loss",
        ]
        .map(|c| r[c].clone())
        .join(" ")
    };
    assert_eq!(realized("A"), "performing     ");
    assert_eq!(
        realized("B"),
        "defaulted 2 charge_off 8000.00 4900.50 3099.50"
    );
    assert_eq!(
        realized("C"),
        "defaulted 2 written_off 4800.00 0.00 4800.00"
    );
    assert_eq!(realized("D"), "performing     ");
    assert_eq!(realized("E"), "defaulted 2 dpd_90 7000.00 0.00 7000.00");
    assert_eq!(realized("F"), "paid_off     ");
    assert_eq!(realized("G"), "left_pool     ");
    assert_eq!(realized("H"), "closed_at_as_of     ");

    // The pd test by hand: pd 0.02 = A, C, D, F, G (C defaulted); 0.15 = E; 0.35 = B; H is closed.
    let by_pd = read_csv(&s.path("bt/summary_backtest_by_pd.csv"));
    let got: Vec<String> = by_pd
        .iter()
        .map(|r| {
            [
                "pd",
                "accounts",
                "expected_defaults",
                "defaults",
                "default_rate",
            ]
            .map(|c| r[c].clone())
            .join(" ")
        })
        .collect();
    assert_eq!(
        got,
        [
            "0.02 5 0.1 1 0.2000",
            "0.15 1 0.15 1 1.0000",
            "0.35 1 0.35 1 1.0000",
            "TOTAL 7 0.6 3 0.4286",
        ]
    );
    let j = s.summary("bt");
    // AUC of pd: defaults C (0.02), E (0.15), B (0.35) against A, D, F, G (all 0.02): C ties 4 (2),
    // E and B beat 4 each (8): 10 / 12.
    assert_eq!(j["auc_pd"], "0.8333");
    assert_eq!(j["accounts"]["in_book"], 8);
    assert_eq!(j["accounts"]["no_outcome"], 0);
    assert_eq!(j["months_of_data"], 4);

    // The loss table's TOTAL against a second sum over backtest.csv.
    let ltv = read_csv(&s.path("bt/summary_backtest_by_ltv_bucket.csv"));
    let total = ltv.last().unwrap();
    assert_eq!(total["ltv_bucket"], "TOTAL");
    let sum = |c: &str| -> Decimal {
        rows.values()
            .filter(|r| !r[c].is_empty())
            .map(|r| dec(&r[c]))
            .sum()
    };
    for c in [
        "expected_deficiency",
        "balance_at_default",
        "recoveries",
        "realized_loss",
    ] {
        assert_eq!(dec(&total[c]), sum(c), "{c}");
    }
    // By hand: Σ pd × balance = 200 + 2800 + 100 + 120 + 1050 + 60 + 80 = 4410; losses 14899.50.
    assert_eq!(total["expected_deficiency"], "4410.00");
    assert_eq!(total["realized_loss"], "14899.50");
    assert_eq!(total["balance_at_default"], "19800.00");
    // No value: the model says the whole balance is lost; really 14899.50 / 19800 of it was.
    assert_eq!(total["modeled_severity"], "1.0000");
    assert_eq!(total["loss_severity"], "0.7525");
}

#[test]
fn a_horizon_shorter_than_the_default_month_counts_no_default() {
    let s = Sandbox::new();
    s.write("panel.csv", &hand_panel());
    assert_ok(&s.run(&[
        "backtest",
        "--tape",
        "regab",
        "panel.csv",
        "--horizon",
        "1",
        "--out",
        "bt",
        "-q",
    ]));
    let j = s.summary("bt");
    let total = j["by_pd"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(total["defaults"], 0);
    assert_eq!(j["auc_pd"], serde_json::Value::Null);
}

pub(crate) const RECORDS_HEADER: &str =
    "account_id,month,balance,principal_paid,amount_paid,charged_off,recoveries,\
repossession_proceeds,days_past_due";

/// `backtest` of loans.csv and valuations.csv at 2024-06-30 against `records`, into `bt`.
/// loans.csv and valuations.csv of three loans L1–L3 (VIN1–VIN3, financed 20,000 over 60 months in
/// January 2022), each `(balance, days past due, value on 2024-06-01)`.
pub(crate) fn three_loans(s: &Sandbox, loans: [(&str, u32, u32); 3]) {
    let mut loan_rows = format!("{LOAN_HEADER}\n");
    let mut value_rows = String::from("vin,valuation_date,value\n");
    for (i, (balance, dpd, value)) in loans.iter().enumerate() {
        let n = i + 1;
        loan_rows.push_str(&format!(
            "L{n},VIN{n},2022-01-15,20000,60,{balance},{dpd}\n"
        ));
        value_rows.push_str(&format!("VIN{n},2024-06-01,{value}\n"));
    }
    s.write("loans.csv", &loan_rows);
    s.write("valuations.csv", &value_rows);
}

pub(crate) fn backtest_records(
    s: &Sandbox,
    records: impl AsRef<[u8]>,
    extra: &[&str],
) -> std::process::Output {
    s.write_bytes("records.csv", records.as_ref());
    let args = [
        "backtest",
        "--loans",
        "loans.csv",
        "--valuations",
        "valuations.csv",
        "--as-of",
        "2024-06-30",
        "--outcomes",
        "records.csv",
        "--out",
        "bt",
    ];
    s.run(&[&args[..], extra].concat())
}

#[test]
fn loan_month_records_default_on_days_past_due_and_reject_repeats_and_gaps() {
    let s = Sandbox::new();
    three_loans(
        &s,
        [
            ("10000.00", 0, 12000),
            ("9000.00", 30, 6000),
            ("5000.00", 0, 7000),
        ],
    );
    let records = [
        RECORDS_HEADER,
        "L1,2024-07,9700,300,300,,,,0", // line 2
        "L1,2024-07,9700,300,300,,,,0", // line 3: repeats month 1
        "L1,2024-09,9100,300,300,,,,0", // line 4: month 2 is missing
        "L2,2024-07,9000,0,0,,,,60",    // line 5
        "L2,2024-08,9000,0,0,,,,90",    // line 6: 90 days past due → default, month 2
        "L2,2024-09,0,0,0,9000,,4000,", // line 7: charged off and sold
        "L2,2024-10,0,0,0,,500,,",      // line 8: a late recovery
        "X9,2024-07,100,0,0,,,,0",      // line 9: not in the book
    ]
    .join("\n");
    assert_ok(&backtest_records(&s, &records, &["-q"]));
    let rows = by_id(&read_csv(&s.path("bt/backtest.csv")));
    let l2 = &rows["L2"];
    assert_eq!(
        [
            "default_month",
            "default_rule",
            "balance_at_default",
            "recoveries",
            "realized_loss",
            "deficiency_if_default",
            "expected_deficiency"
        ]
        .map(|c| l2[c].as_str()),
        // 0.85 × 6000 − 1000 = 4100 recovered → 4900 deficiency, × 0.15 = 735.
        ["2", "dpd_90", "9000.00", "4500.00", "4500.00", "4900.00", "735.00"]
    );
    // L1's month 1 is on two rows: both rejected (which is right cannot be told), and month 3 after
    // the gap too, so L1 has no usable record; L3 has none at all.
    assert_eq!(rows["L1"]["status"], "no_outcome");
    assert_eq!(rows["L3"]["status"], "no_outcome");
    let rejects = read_csv(&s.path("bt/outcome_rejects.csv"));
    let lines: Vec<&str> = rejects.iter().map(|r| r["line"].as_str()).collect();
    assert_eq!(lines, ["2", "3", "4"]);
    assert!(rejects[0]["reason"].contains("repeated"), "{rejects:?}");
    assert!(rejects[1]["reason"].contains("repeated"), "{rejects:?}");
    assert!(rejects[2]["reason"].contains("skip a month"), "{rejects:?}");
    let j = s.summary("bt");
    assert_eq!(j["accounts"]["no_outcome"], 2);
    assert_eq!(j["outcome_rows"]["read"], 8);
    assert_eq!(j["outcome_rows"]["rejected"], 3);
    assert_eq!(j["outcome_rows"]["not_in_book"], 1);
    let total = total_row(&j, "by_ltv_bucket");
    assert_eq!(total["modeled_severity"], "0.5444");
    assert_eq!(total["loss_severity"], "0.5000");
}

#[test]
fn the_ally_2017_3_panel_accounts_for_every_loan_at_12_and_24_months() {
    let panel = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/regab/ally_2017_3_panel.csv");
    if !panel.exists() {
        cannot_run("ally_2017_3_panel", "../shared/data/regab is absent");
        return;
    }
    let s = Sandbox::new();
    for h in ["12", "24"] {
        let out = format!("bt{h}");
        let args = ["backtest", "--tape", "regab", panel.to_str().unwrap()];
        assert_ok(&s.run(&[&args[..], &["--horizon", h, "--out", &out, "-q"]].concat()));
        let j = s.summary(&out);
        assert_eq!(
            j["accounts"]["in_book"], 2171,
            "every row of the panel is a loan"
        );
        let by_status: u64 = j["accounts"]["by_status"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(by_status, 2171, "every loan has an outcome");
        assert_eq!(j["outcome_rows"]["rejected"], 0);
        let rows = read_csv(&s.path(&format!("{out}/backtest.csv")));
        let defaults = rows.iter().filter(|r| r["defaulted"] == "true").count() as u64;
        let total = j["by_pd"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(total["defaults"].as_u64().unwrap(), defaults);
        assert!(defaults > 0);
    }
}

/// The generator's documented truth (`generate --outcome-months`) for past-due loans: pd by days past
/// due as the default model's (current loans default by an age hazard instead), sales at 60% of the
/// value less $600.
const TRUE_PD: [(u32, f64); 5] = [(0, 0.02), (1, 0.05), (30, 0.15), (60, 0.35), (90, 0.65)];

#[test]
fn calibrate_recovers_a_generated_historys_truth_and_backtests_closer() {
    let s = Sandbox::new();
    let gen = s.run(&[
        "generate",
        "--loans",
        "100000",
        "--outcome-months",
        "12",
        "--out",
        "g",
        "-q",
    ]);
    assert_ok(&gen);
    let inputs = [
        "--loans",
        "g/loans.csv",
        "--valuations",
        "g/valuations.csv",
        "--as-of",
        "2025-06-30",
        "--outcomes",
        "g/outcomes.csv",
        "-q",
    ];
    // The generator books each sale in its default month: every default has recovered.
    let cal = ["--recovery-months", "0", "--out", "cal"];
    assert_ok(&s.run(&[&["calibrate"][..], &inputs, &cal].concat()));
    let c: serde_json::Value = serde_json::from_str(&s.read("cal/calibration.json")).unwrap();
    let classes = c["pd_by_days_past_due"].as_array().unwrap();
    assert_eq!(
        classes.len(),
        TRUE_PD.len(),
        "every class, not the first few"
    );
    // What calibrated.toml writes is each class's fitted pd (`after`), not its raw rate.
    let toml = s.read("cal/calibrated.toml");
    let written: Vec<String> = classes
        .iter()
        .map(|c| format!("[{}, {}]", c["from_day"], c["after"].as_str().unwrap()))
        .collect();
    let line = format!("pd_by_days_past_due = [{}]", written.join(", "));
    assert!(toml.contains(&line), "{line} not in\n{toml}");
    for (class, (from, pd)) in classes.iter().zip(TRUE_PD) {
        assert_eq!(class["from_day"], from);
        // A current loan defaults by the generator's age hazard, not a pd (see
        // `calibrate_recovers_the_generated_age_hazard_and_abs_speed`).
        if from == 0 {
            continue;
        }
        // The truth is inside the fitted pd's interval too: pooling moved nothing far.
        let after: f64 = class["after"].as_str().unwrap().parse().unwrap();
        assert!((after - pd).abs() < 0.03, "class {from}: fitted {after}");
        let (low, high) = (
            class["jeffreys_low"].as_f64().unwrap(),
            class["jeffreys_high"].as_f64().unwrap(),
        );
        assert!(
            low <= pd && pd <= high,
            "class {from}: {pd} outside [{low}, {high}]"
        );
    }
    let rate: f64 = c["recovery"]["recovery_rate_after"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((rate - 0.60).abs() <= 0.02, "recovery rate {rate}");
    // The generator's sale is 0.60 × value − 600 (± 300, evenly): the line's cost is near 600, and
    // fitted with its intercept (below 0), not through the origin.
    let cost: f64 = c["recovery"]["repossession_cost_after"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - 600.0).abs() <= 50.0, "repossession cost {cost}");
    assert_eq!(c["recovery"]["through_origin"], false);
    assert!(
        toml.contains(&format!(
            "repossession_cost = {}",
            c["recovery"]["repossession_cost_after"].as_str().unwrap()
        )),
        "{toml}"
    );
    // The same book backtested with the defaults and with calibrated.toml: the calibrated model's
    // expected deficiency is nearer the realized loss.
    let gap = |out: &str| -> Decimal {
        let total = read_csv(&s.path(&format!("{out}/summary_backtest_by_ltv_bucket.csv")))
            .pop()
            .unwrap();
        (dec(&total["expected_deficiency"]) - dec(&total["realized_loss"])).abs()
    };
    assert_ok(&s.run(&[&["backtest"][..], &inputs, &["--out", "base"]].concat()));
    let calibrated = ["--config", "cal/calibrated.toml", "--out", "tuned"];
    assert_ok(&s.run(&[&["backtest"][..], &inputs, &calibrated].concat()));
    assert!(
        gap("tuned") < gap("base"),
        "{} vs {}",
        gap("tuned"),
        gap("base")
    );
}

/// The backtest's report.html shows each pd class's figures in its own row, as summary.json has
/// them, renders in headless Chromium without a request or console error, and its workbook holds
/// the same figures and opens in LibreOffice.
#[test]
fn the_backtest_report_shows_summary_json_s_figures_and_opens_in_real_programs() {
    use crate::report::{assert_converts_to_pdf, assert_not_blank, chromium_shot, have};
    let s = Sandbox::new();
    hand_backtest(&s);
    let j = s.summary("bt");
    let page = s.read("bt/report.html");
    let rows: Vec<&str> = page.split("<tr>").skip(1).collect();
    for class in j["by_pd"].as_array().unwrap() {
        let cells = [
            class["pd"].as_str().unwrap().to_string(),
            class["accounts"].to_string(),
            class["expected_defaults"].as_str().unwrap().to_string(),
            class["defaults"].to_string(),
        ]
        .map(|c| format!("<td>{c}</td>"))
        .concat();
        assert!(
            rows.iter().any(|r| r.starts_with(&cells)),
            "no row {cells} on the page"
        );
    }
    // The workbook's pd sheet, read back: the defaults column is summary.json's.
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> = calamine::open_workbook(s.path("bt/report.xlsx")).unwrap();
    let sheet = wb.worksheet_range("pd classes").unwrap();
    let defaults: Vec<f64> = sheet
        .rows()
        .skip(1)
        .map(|r| match r[3] {
            calamine::Data::Float(f) => f,
            ref other => panic!("not a number: {other:?}"),
        })
        .collect();
    let want: Vec<f64> = j["by_pd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["defaults"].as_f64().unwrap())
        .collect();
    assert_eq!(defaults, want);
    if !have("chromium") {
        return cannot_run("backtest report in chromium", "chromium is not installed");
    }
    let log = chromium_shot(&s, "bt/report.html", "report.png");
    for bad in ["CONSOLE", "Failed to load resource", "net::ERR", "Uncaught"] {
        assert!(!log.contains(bad), "the page logged {bad}: {log}");
    }
    s.write("blank.html", "<!DOCTYPE html><html><body></body></html>");
    chromium_shot(&s, "blank.html", "blank.png");
    assert_not_blank(&s, "report.png", "blank.png");
    let Some(office) = ["libreoffice", "soffice"].into_iter().find(|p| have(p)) else {
        return cannot_run(
            "backtest workbook in LibreOffice",
            "LibreOffice is not installed",
        );
    };
    assert_converts_to_pdf(&s, office, "bt/report.xlsx");
}

#[test]
fn monthly_ex102_tapes_read_as_loan_month_records_give_the_panels_outcomes() {
    let s = Sandbox::new();
    s.write("panel.csv", &hand_panel());
    // Two of the panel's loans as a pool's monthly EX-102 tapes, flattened to CSV (a month with only
    // a recovery has no balance).
    s.write(
        "monthly.csv",
        "assetNumber,reportingPeriodEndingDate,reportingPeriodActualEndBalanceAmount,\
         actualPrincipalCollectedAmount,totalActualAmountPaid,chargedoffPrincipalAmount,recoveredAmount,\
         repossessedProceedsAmount,currentDelinquencyStatus\n\
         A,06-30-2017,9700,300,300,0,0,0,0\n\
         A,07-31-2017,9400,300,300,0,0,0,0\n\
         A,08-31-2017,9100,300,300,0,0,0,0\n\
         A,09-30-2017,8800,300,300,0,0,0,0\n\
         B,06-30-2017,8000,0,0,0,0,0,60\n\
         B,07-31-2017,0,0,0,0,0,-300,\n\
         B,08-31-2017,,,,,5000,,\n\
         B,09-30-2017,,,,,200.50,,\n",
    );
    let args = [
        "backtest",
        "--tape",
        "regab",
        "panel.csv",
        "--outcomes",
        "monthly.csv",
    ];
    assert_ok(&s.run(&[&args[..], &["--out", "bt", "-q"]].concat()));
    let rows = by_id(&read_csv(&s.path("bt/backtest.csv")));
    let realized = |id: &str| {
        [
            "status",
            "default_month",
            "default_rule",
            "balance_at_default",
            "recoveries",
            "realized_loss",
        ]
        .map(|c| rows[id][c].clone())
        .join(" ")
    };
    assert_eq!(realized("A"), "performing     ");
    assert_eq!(
        realized("B"),
        "defaulted 2 charge_off 8000.00 4900.50 3099.50"
    );
    assert_eq!(rows["C"]["status"], "no_outcome");
    // H owed nothing at as_of: closed, records or not; C to G have none.
    assert_eq!(rows["H"]["status"], "closed_at_as_of");
    let j = s.summary("bt");
    assert_eq!(j["accounts"]["no_outcome"], 5);
}

/// `backtest --run DIR` takes a finished run's inputs, config and as_of from its summary.json: the same
/// backtest as naming them, and refused (exit 3, nothing written) once an input no longer gives the
/// run's book.
#[test]
fn backtest_of_a_finished_run_is_the_backtest_of_its_inputs_and_refuses_a_changed_input() {
    let s = Sandbox::new();
    hand_backtest(&s);
    assert_ok(&s.run(&["run", "--tape", "regab", "panel.csv", "--out", "run", "-q"]));
    assert_ok(&s.run(&["backtest", "--run", "run", "--out", "bt_run", "-q"]));
    for file in [
        "backtest.csv",
        "summary_backtest_by_pd.csv",
        "summary_backtest_by_ltv_bucket.csv",
    ] {
        assert_eq!(
            s.read(&format!("bt_run/{file}")),
            s.read(&format!("bt/{file}")),
            "{file}"
        );
    }
    // The panel edited after the run: one balance a cent higher.
    let edited = hand_panel().replacen(",700,FL,10000,", ",700,FL,10000.01,", 1);
    assert_ne!(edited, hand_panel(), "the edit must change the panel");
    s.write("panel.csv", &edited);
    let out = s.run(&["backtest", "--run", "run", "--out", "bt_again", "-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("panel.csv changed since the run"),
        "{message}"
    );
    assert!(message.contains("balance is"), "{message}");
    assert!(!s.path("bt_again").exists());
    // --run and --loans together are a usage error.
    let both = s.run(&[
        "backtest",
        "--run",
        "run",
        "--loans",
        "panel.csv",
        "--out",
        "x",
        "-q",
    ]);
    assert_eq!(both.status.code(), Some(2));
}
