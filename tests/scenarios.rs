//! Stress scenarios on hand-computed accounts: every shocked figure worked out in the comments, the
//! base rows equal to the LTV summary, and every bad scenario refused with the key named.

use crate::common::*;
use std::collections::BTreeMap;

/// The README account (19,000 owed on a 15,500 car, current), a used car 95 days past due with no
/// valuation, and a new car worth 30,000 owing 20,000.
const LOANS: &str = "\
account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due,new_used
README,V1,2024-01-10,21000,72,19000.00,0,used
LATE,V2,2021-07-01,15000,60,7000.00,95,used
NEW,V3,2024-01-10,30000,60,20000.00,0,new
";
const VALS: &str = "vin,valuation_date,value\nV1,2024-06-15,15500.00\nV3,2024-06-15,30000.00\n";

fn totals(s: &Sandbox, out: &str) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    read_csv(&s.path(&format!("{out}/summary_scenarios.csv")))
        .into_iter()
        .map(|r| ((r["scenario"].clone(), r["ltv_bucket"].clone()), r))
        .collect()
}

#[test]
fn built_in_scenarios_by_hand() {
    let s = Sandbox::new();
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let t = totals(&s, "out");
    let row = |scenario: &str, band: &str| &t[&(scenario.to_string(), band.to_string())];
    let check = |scenario: &str, band: &str, want: &[(&str, &str)]| {
        for (col, value) in want {
            assert_eq!(row(scenario, band)[*col], *value, "{scenario} {band} {col}");
        }
    };
    // Base: README 3,500.00 underwater (band 120-140), deficiency 19,000 − 12,175 = 6,825.00, × 0.02 =
    // 136.50; LATE no value: 7,000 at risk × 0.65 = 4,550.00; NEW 20,000 on 30,000 (<=80): net recovery
    // 24,500, no deficiency.
    check(
        "base",
        "120-140",
        &[("accounts", "1"), ("negative_equity", "3500.00")],
    );
    check(
        "base",
        "TOTAL",
        &[
            ("accounts", "3"),
            ("balance", "46000.00"),
            ("value", "45500.00"),
            ("underwater_accounts", "1"),
            ("negative_equity", "3500.00"),
            ("deficiency_if_default", "13825.00"),
            ("expected_deficiency", "4686.50"),
        ],
    );
    // gfc_2008, values × 0.857: README 13,283.50 → negative equity 5,716.50, LTV 1.4303 (>140); net
    // recovery 13,283.50 × 0.85 − 1,000 = 10,290.975, deficiency 8,709.025 → 8,709.02 (half-even),
    // × 0.02 = 174.1805 → 174.18. NEW 25,710.00: 20,000 / 25,710 = 0.778 (<=80), net 20,853.50, none.
    check(
        "gfc_2008",
        ">140",
        &[
            ("accounts", "1"),
            ("value", "13283.50"),
            ("negative_equity", "5716.50"),
            ("deficiency_if_default", "8709.02"),
            ("expected_deficiency", "174.18"),
        ],
    );
    check(
        "gfc_2008",
        "TOTAL",
        &[
            ("value", "38993.50"),
            ("underwater_accounts", "1"),
            ("deficiency_if_default", "15709.02"),
            ("expected_deficiency", "4724.18"),
        ],
    );
    // recovery_severe, recovery 0.85 × 0.5 = 0.425: README net 15,500 × 0.425 − 1,000 = 5,587.50,
    // deficiency 13,412.50, × 0.02 = 268.25; NEW net 11,750, deficiency 8,250.00, × 0.02 = 165.00.
    check(
        "recovery_severe",
        "TOTAL",
        &[
            ("value", "45500.00"),
            ("negative_equity", "3500.00"),
            ("deficiency_if_default", "28662.50"),
            ("expected_deficiency", "4983.25"),
        ],
    );
    // severe: values × 0.77, recovery 0.425, pd × 2. README 11,935.00: negative equity 7,065.00; net
    // 4,072.375, deficiency 14,927.625 → 14,927.62, × 0.04 = 597.105 → 597.10. LATE: pd 0.65 × 2 capped
    // at 1: 7,000.00. NEW 23,100.00: net 8,817.50, deficiency 11,182.50, × 0.04 = 447.30.
    check(
        "severe",
        "TOTAL",
        &[
            ("value", "35035.00"),
            ("underwater_accounts", "1"),
            ("negative_equity", "7065.00"),
            ("deficiency_if_default", "33110.12"),
            ("expected_deficiency", "8044.40"),
        ],
    );
    // Base rows are the LTV summary's, band for band.
    for r in read_csv(&s.path("out/summary_by_ltv_bucket.csv")) {
        for col in [
            "accounts",
            "balance",
            "value",
            "negative_equity",
            "expected_deficiency",
        ] {
            assert_eq!(
                row("base", &r["ltv_bucket"])[col],
                r[col],
                "{}",
                r["ltv_bucket"]
            );
        }
    }
    let j: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    let names: Vec<&str> = j["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "gfc_2008",
            "used_2023",
            "recovery_moderate",
            "recovery_severe",
            "severe"
        ]
    );
    assert_eq!(
        j["scenarios"][4]["totals"]["expected_deficiency"],
        "8044.40"
    );
    assert_eq!(j["scenarios"][0]["value_change"], "-0.143");
}

#[test]
fn configured_scenarios_by_segment_cost_and_pd_cap() {
    let s = Sandbox::new();
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    s.write(
        "c.toml",
        "[[scenario]]\nname = \"split\"\nvalue_change = -0.5\nvalue_change_by = { new_used = { new = -0.10, used = -0.25 } }\n\
         repossession_cost_change = 0.5\npd_multiplier = 3\n",
    );
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30", "--config", "c.toml"]));
    let t = totals(&s, "out");
    let names: std::collections::BTreeSet<&str> = t.keys().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["base", "split"].into_iter().collect());
    // README (used) × 0.75 = 11,625.00: negative equity 7,375.00; cost 1,500: net 11,625 × 0.85 − 1,500
    // = 8,381.25, deficiency 10,618.75, pd 0.06: 637.125 → 637.12. NEW (new) × 0.90 = 27,000.00: net
    // 21,450, none. LATE: pd 0.65 × 3 capped at 1, 7,000.00.
    let total = &t[&("split".to_string(), "TOTAL".to_string())];
    for (col, want) in [
        ("value", "38625.00"),
        ("negative_equity", "7375.00"),
        ("deficiency_if_default", "17618.75"),
        ("expected_deficiency", "7637.12"),
    ] {
        assert_eq!(total[col], want, "{col}");
    }

    s.write("off.toml", "scenarios = []\n");
    assert_ok(&s.run_loans("off", &["--as-of", "2024-06-30", "--config", "off.toml"]));
    assert!(!s.path("off/summary_scenarios.csv").exists());
}

#[test]
fn bad_scenarios_are_refused_naming_the_key() {
    let s = Sandbox::new();
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    for (toml, words) in [
        (
            "[[scenario]]\nname = \"x\"\nvalue_chnage = -0.2\n",
            &["unknown key `value_chnage`"][..],
        ),
        (
            "[[scenario]]\nname = \"x\"\nvalue_change = -1\n",
            &["value_change = -1", "above -1"],
        ),
        (
            "recovery_rate = 0.9\n[[scenario]]\nname = \"x\"\nrecovery_rate_change = 0.2\n",
            &["above 1"],
        ),
        (
            "[[scenario]]\nname = \"x\"\nvalue_change_by = { dealer = { D1 = -0.1 } }\n",
            &["segment `dealer`"],
        ),
        (
            "[[scenario]]\nname = \"x\"\n[[scenario]]\nname = \"x\"\n",
            &["used twice"],
        ),
        ("[[scenario]]\nname = \"base\"\n", &["not `base`"]),
        (
            "scenarios = []\n[[scenario]]\nname = \"x\"\n",
            &["keep one of the two"],
        ),
        ("scenarios = [\"gfc_2008\"]\n", &["scenarios = []"]),
        (
            "[[scenario]]\nname = \"x\"\npd_multiplier = -1\n",
            &["pd_multiplier"],
        ),
    ] {
        s.write("c.toml", toml);
        let out = s.run_loans("out", &["--as-of", "2024-06-30", "--config", "c.toml"]);
        assert_eq!(out.status.code(), Some(2), "{toml}: {}", stderr(&out));
        for w in words {
            assert!(stderr(&out).contains(w), "{toml}: {}", stderr(&out));
        }
        assert!(!s.path("out").exists());
    }
}

/// Audit item 7: an estimated value goes through a scenario as a valuation does. EST has no valuation:
/// a new car bought on 2023-06-30 for 20,000, twelve months old on 2024-06-30, is estimated at 20,000 ×
/// 0.80 = 16,000.00; VAL has a valuation of the same 16,000.00. Both owe 15,000.00, current.
/// Base: LTV 0.9375 (80-100), no negative equity, net recovery 16,000 × 0.85 − 1,000 = 12,600, deficiency
/// 2,400.00, × 0.02 = 48.00. `drop` (values × 0.8): 12,800.00, negative equity 2,200.00, LTV 1.1719
/// (100-120), net 9,880, deficiency 5,120.00, expected 102.40 — the same for both accounts.
#[test]
fn an_estimated_value_is_shocked_as_a_valuation_is() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due,\
         new_used,origination_value\n\
         EST,V1,2023-06-30,20000,60,15000.00,0,new,20000.00\n\
         VAL,V2,2023-06-30,20000,60,15000.00,0,new,20000.00\n",
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV2,2024-06-15,16000.00\n",
    );
    s.write(
        "c.toml",
        "[estimate]\nenabled = true\n[[scenario]]\nname = \"drop\"\nvalue_change = -0.2\n",
    );
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30", "--config", "c.toml"]));
    let accounts = read_csv(&s.path("out/accounts.csv"));
    let est = accounts.iter().find(|r| r["account_id"] == "EST").unwrap();
    assert_eq!(
        (est["value"].as_str(), est["value_source"].as_str()),
        ("16000.00", "estimated")
    );
    let t = totals(&s, "out");
    let want = [
        (
            "base",
            "80-100",
            ["2", "30000.00", "32000.00", "0", "0.00", "4800.00", "96.00"],
        ),
        (
            "drop",
            "100-120",
            [
                "2", "30000.00", "25600.00", "2", "4400.00", "10240.00", "204.80",
            ],
        ),
        (
            "drop",
            "TOTAL",
            [
                "2", "30000.00", "25600.00", "2", "4400.00", "10240.00", "204.80",
            ],
        ),
    ];
    let columns = [
        "accounts",
        "balance",
        "value",
        "underwater_accounts",
        "negative_equity",
        "deficiency_if_default",
        "expected_deficiency",
    ];
    for (scenario, band, cells) in want {
        let row = &t[&(scenario.to_string(), band.to_string())];
        assert_eq!(columns.map(|c| row[c].as_str()), cells, "{scenario} {band}");
    }
}
