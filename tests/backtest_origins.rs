//! `backtest --start-month K` (the book re-anchored K months on) and calibrate's lifetime fit, on the
//! hand panel of `backtest.rs`, every figure worked out here; and the recovery line's window.

use crate::backtest::{backtest_panel, hand_panel};
use crate::common::*;

/// The hand panel backtested from month `k` into `bt`.
fn hand_panel_from(s: &Sandbox, k: &str) -> std::process::Output {
    s.write("panel.csv", &hand_panel());
    let args = [
        "backtest",
        "--tape",
        "regab",
        "panel.csv",
        "--start-month",
        k,
    ];
    s.run(&[&args[..], &["--out", "bt", "-q"]].concat())
}

/// The hand panel re-anchored at month 1: who is still open, at what balance and days past due, and
/// what happens to each over the months after.
#[test]
fn start_month_re_anchors_the_hand_panel_at_month_1() {
    let s = Sandbox::new();
    assert_ok(&hand_panel_from(&s, "1"));
    let rows = read_csv(&s.path("bt/backtest.csv"));
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            [
                "account_id",
                "balance",
                "pd",
                "status",
                "default_month",
                "default_rule",
            ]
            .map(|c| r[c].clone())
            .join(" ")
        })
        .collect();
    // Month 1 by hand (month 0 unpaid counts in the run of unpaid months):
    // A paid → 0 days, 9700; B unpaid months 0 and 1 → 30 days, 8000, charged off in month 2 (its
    // new month 1); C paid → 0 days, 4800, written off in month 2; D unpaid in month 1 only → 1 day
    // (pd 0.05), 6000, pays again in month 4: performing; E unpaid months 0 and 1 → 30 days, and
    // month 2 makes three in a row with no payment after: dpd_90 in new month 1; F paid off in month
    // 1 and H closed at month 0 are gone; G's records stop after month 1: it left the pool in its
    // new month 1.
    assert_eq!(
        got,
        [
            "A 9700.00 0.02 performing  ",
            "B 8000.00 0.15 defaulted 1 charge_off",
            "C 4800.00 0.02 defaulted 1 written_off",
            "D 6000.00 0.05 performing  ",
            "E 7000.00 0.15 defaulted 1 dpd_90",
            "G 3900.00 0.02 left_pool  ",
        ]
    );
    let j = s.summary("bt");
    assert_eq!(j["as_of"], "2017-06-30");
    assert_eq!(j["months_of_data"], 3);
    let r = &j["re_anchored"];
    assert_eq!(r["start_month"], 1);
    assert_eq!(r["accounts_at_month_0"], 8);
    assert_eq!(r["accounts_open"], 6);
    let gone = &r["gone_before"];
    assert_eq!(
        [
            &gone["closed_at_start"],
            &gone["no_records"],
            &gone["defaulted"],
            &gone["paid_off"],
            &gone["left_pool"],
        ],
        [1, 0, 0, 1, 0]
    );
    // The outcome rows are still every row of the file.
    assert_eq!(j["outcome_rows"]["read"], 8);
    assert_eq!(j["outcome_rows"]["not_in_book"], 0);
}

/// Re-anchoring at or past the data's last month leaves nothing to judge: refused, naming the fix.
#[test]
fn start_month_at_the_end_of_the_data_is_refused_with_the_fix() {
    let s = Sandbox::new();
    let out = hand_panel_from(&s, "4");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--start-month 4") && err.contains("pass --start-month 3 or less"),
        "{err}"
    );
    assert!(!s.path("bt").exists());
}

/// calibrate's lifetime fit on the hand panel over its 4 months, by hand (loans of age 16 at as_of;
/// H is closed). The current accounts A, C, D, F, G spend 4 + 2 + 4 + 1 + 1 = 12 months in the band
/// from age 12, with C's default: 1 / 12. E (30 days) and B (60) each spend 2 months in their list,
/// defaulting in the second: month 1 has no default, so it is pooled with month 2, 1 / 2. F's payoff
/// in month 1 (age 17, long before its 72nd month) is the one prepayment.
#[test]
fn calibrate_fits_the_lifetime_hazards_and_speed_of_the_hand_panel() {
    let s = Sandbox::new();
    s.write("panel.csv", &hand_panel());
    assert_ok(&backtest_panel(&s, "panel.csv", "bt"));
    let out = s.run(&[
        "calibrate",
        "--tape",
        "regab",
        "panel.csv",
        "--horizon",
        "4",
        "--min-accounts",
        "1",
        "--out",
        "cal",
        "-q",
    ]);
    assert_ok(&out);
    let toml = s.read("cal/calibrated.toml");
    let h = "0.083333";
    assert!(
        toml.contains(&format!(
            "hazard_by_age = [[0, {h}], [12, {h}], [24, {h}], [36, {h}], [48, {h}]]"
        )),
        "{toml}"
    );
    assert!(toml.contains("30 = [0.5, 0.5, 0.5]"), "{toml}");
    assert!(toml.contains("60 = [0.5, 0.5, 0.5]"), "{toml}");
    // No account 90 days past due: the class keeps its list.
    assert!(toml.contains("90 = [0.35, 0.15, 0.08]"), "{toml}");
    let c: serde_json::Value = serde_json::from_str(&s.read("cal/calibration.json")).unwrap();
    let band = &c["lifetime"]["hazard_by_age"][1];
    assert_eq!(
        [
            &band["accounts"],
            &band["account_months"],
            &band["defaults"]
        ],
        [5, 12, 1]
    );
    // The speed: at risk of prepayment, 7 accounts at age 17, 5 at 18, 2 at 19 and 2 at 20; the
    // speed whose Σ n × s / (1 − s (age − 1)) is the one payoff, solved here by its own bisection.
    let expected = |s: f64| {
        [(17.0, 7.0), (18.0, 5.0), (19.0, 2.0), (20.0, 2.0)]
            .iter()
            .map(|(age, n)| n * s / (1.0 - s * (age - 1.0)))
            .sum::<f64>()
    };
    let (mut lo, mut hi) = (0.0, 0.05);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if expected(mid) < 1.0 {
            lo = mid
        } else {
            hi = mid
        }
    }
    let speed = format!("{:.6}", lo);
    let speed = speed.trim_end_matches('0');
    let s_json = &c["lifetime"]["abs_speed"];
    assert_eq!(s_json["account_months"], 16);
    assert_eq!(s_json["prepayments"], 1);
    assert_eq!(
        s_json["after"].as_str().unwrap().trim_end_matches('0'),
        speed
    );
    assert!(toml.contains(&format!("abs_speed = {speed}\n")), "{toml}");
    // The calibrated config is one `run` and `backtest` take.
    let again = s.run(&[
        "backtest",
        "--tape",
        "regab",
        "panel.csv",
        "--config",
        "cal/calibrated.toml",
        "--out",
        "bt2",
        "-q",
    ]);
    assert_ok(&again);
}

/// Three loans with exact values (10,000, 20,000 and 15,000 on 2024-06-01; new cars of age 29 at
/// as_of 2024-06-30) that default in months 1, 2 and 4 of 4 months of records, their cars sold for
/// `sales` in their default months (empty: nothing recovered yet), checked by a backtest first.
/// Returns `calibrate`: its calibration.json for `--recovery-months` and `extra` flags into `out`.
fn three_defaults<'s>(
    s: &'s Sandbox,
    sales: [&str; 3],
) -> impl Fn(&str, &str, &[&str]) -> serde_json::Value + 's {
    use crate::backtest::{backtest_records, three_loans, RECORDS_HEADER};
    three_loans(
        s,
        [
            ("10000.00", 0, 10000),
            ("15000.00", 0, 20000),
            ("12000.00", 0, 15000),
        ],
    );
    let records = [
        RECORDS_HEADER.to_string(),
        format!("L1,2024-07,0,0,0,10000,,{},", sales[0]),
        "L2,2024-07,15000,300,300,,,,0".into(),
        format!("L2,2024-08,0,0,0,15000,,{},", sales[1]),
        "L3,2024-07,11700,300,300,,,,0".into(),
        "L3,2024-08,11400,300,300,,,,0".into(),
        "L3,2024-09,11100,300,300,,,,0".into(),
        format!("L3,2024-10,0,0,0,11100,,{},", sales[2]),
    ]
    .join("\n");
    // The records written (and the book checked) by a backtest first.
    assert_ok(&backtest_records(s, &records, &["-q"]));
    move |months: &str, out: &str, extra: &[&str]| {
        let args = [
            "calibrate",
            "--loans",
            "loans.csv",
            "--valuations",
            "valuations.csv",
            "--as-of",
            "2024-06-30",
            "--outcomes",
            "records.csv",
            "--horizon",
            "4",
            "--recovery-months",
            months,
            "--out",
            out,
            "-q",
        ];
        assert_ok(&s.run(&[&args[..], extra].concat()));
        serde_json::from_str(&s.read(&format!("{out}/calibration.json"))).unwrap()
    }
}

/// A default near the data's end has not recovered yet: its few recoveries pulled calibrate's
/// recovery line down. Three defaults on exact values: month 1 (value 10,000, 5,000 recovered),
/// month 2 (20,000, 11,000) and month 4 (15,000, nothing yet) of 4 months of data, without the
/// lifetime model (so the line is fitted against the value at as_of). With
/// `--recovery-months 2` the month-4 default is left out and the line through the other two is
/// recoveries = 0.6 × value − 1,000; with 0 it is counted and the cost becomes 3,666.67 (the least
/// squares of all three: x̄ = 15,000, ȳ = 5,333.33, slope 30,000,000 / 50,000,000 = 0.6).
#[test]
fn regression_calibrate_fitted_the_recovery_line_on_defaults_too_recent_to_have_recovered() {
    let s = Sandbox::new();
    let calibrate = three_defaults(&s, ["5000", "11000", ""]);
    let r = &calibrate("2", "cal", &["--no-lifetime"])["recovery"];
    assert_eq!(r["defaulted_accounts_with_value"], 2);
    assert_eq!(r["defaulted_too_recently"], 1);
    assert_eq!(dec(r["recovery_rate_after"].as_str().unwrap()), dec("0.6"));
    assert_eq!(r["repossession_cost_after"], "1000.00");
    assert!(s
        .read("cal/calibrated.toml")
        .contains("left out: 1 defaulted accounts"));
    let all = &calibrate("0", "cal0", &["--no-lifetime"])["recovery"];
    assert_eq!(all["defaulted_accounts_with_value"], 3);
    assert_eq!(all["repossession_cost_after"], "3666.67");
}

/// The lifetime loss applies the recovery line to the car's value in the default month, but
/// calibrate fitted it against the value at as_of: on a pool whose defaults come later, the line
/// came out too low, and the loss counted the depreciation twice. Three new cars of age 29 at
/// as_of (the default curve keeps 0.656625 of the value at 29 months and loses 0.007875 a month
/// until 36) default in months 1, 2 and 4, each car sold for exactly 0.6 × its value that month −
/// 1,000 (cents half to even):
/// 10,000 × 0.64875 / 0.656625 = 9,885.44 → 4,931.26; 20,000 × 0.640875 / 0.656625 = 19,541.74 →
/// 10,725.04; 15,000 × 0.625125 / 0.656625 = 14,312.61 → 7,587.57. The least squares of those
/// three points is 0.6000 × value − 1,000.00 (to 4 places and to cents; against the values at
/// as_of it would be 0.5794 × value − 942.71).
#[test]
fn regression_calibrate_fitted_the_recovery_line_against_the_value_at_as_of_not_in_the_default_month(
) {
    let s = Sandbox::new();
    let calibrate = three_defaults(&s, ["4931.26", "10725.04", "7587.57"]);
    let r = &calibrate("0", "cal", &[])["recovery"];
    assert_eq!(r["defaulted_accounts_with_value"], 3);
    assert_eq!(r["value_at"], "default_month");
    assert_eq!(dec(r["recovery_rate_after"].as_str().unwrap()), dec("0.6"));
    assert_eq!(r["repossession_cost_after"], "1000.00");
    assert!(s
        .read("cal/calibrated.toml")
        .contains("value in the default month"));
}

/// `generate --outcome-months` draws a current loan's default from a known age hazard (0.2% a
/// month before age 24, 0.4% from it) and every loan's prepayment at a known ABS speed (1.5%);
/// calibrate recovers each within its interval on a 100,000-loan history. The config gives the
/// past-due accounts a 12-month list, so the age cells hold only the current accounts (the
/// generator's past-due loans follow their pd class instead).
#[test]
fn calibrate_recovers_the_generated_age_hazard_and_abs_speed() {
    let s = Sandbox::new();
    let generate = ["generate", "--loans", "100000", "--outcome-months", "12"];
    assert_ok(&s.run(&[&generate[..], &["--out", "g", "-q"]].concat()));
    let list = ["0.1"; 12].join(", ");
    s.write(
        "model.toml",
        &format!(
            "[lifetime]\nhazard_by_age = [[0, 0.001], [24, 0.001]]\nabs_speed = 0.01\n\
             [lifetime.delinquent]\n1 = [{list}]\n"
        ),
    );
    let args = [
        "calibrate",
        "--loans",
        "g/loans.csv",
        "--valuations",
        "g/valuations.csv",
        "--as-of",
        "2025-06-30",
        "--outcomes",
        "g/outcomes.csv",
        "--config",
        "model.toml",
        "--recovery-months",
        "0",
        "--out",
        "cal",
        "-q",
    ];
    assert_ok(&s.run(&args));
    let c: serde_json::Value = serde_json::from_str(&s.read("cal/calibration.json")).unwrap();
    let life = &c["lifetime"];
    for (cell, truth) in life["hazard_by_age"]
        .as_array()
        .unwrap()
        .iter()
        .zip([0.002, 0.004])
    {
        let (low, high) = (
            cell["jeffreys_low"].as_f64().unwrap(),
            cell["jeffreys_high"].as_f64().unwrap(),
        );
        assert!(cell["defaults"].as_u64().unwrap() > 500, "{cell}");
        assert!(
            low <= truth && truth <= high,
            "{truth} outside [{low}, {high}]: {cell}"
        );
    }
    let speed = &life["abs_speed"];
    let (low, high) = (
        speed["low"].as_f64().unwrap(),
        speed["high"].as_f64().unwrap(),
    );
    assert!(speed["prepayments"].as_u64().unwrap() > 10_000, "{speed}");
    assert!(
        low <= 0.015 && 0.015 <= high,
        "0.015 outside [{low}, {high}]: {speed}"
    );
}
