//! The README's Ally 2017-3 figures, pinned: each figure below was worked out apart from underwater
//! (python/tests/test_ally_reference.py recomputes the realized side from the raw panel with its own
//! reading of the rules), so a change in any of them is a change in what the backtest says.

use crate::common::*;

fn ally() -> Option<std::path::PathBuf> {
    let panel = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/regab/ally_2017_3_panel.csv");
    if !panel.exists() {
        cannot_run("ally_figures", "../shared/data/regab is absent");
        return None;
    }
    Some(panel)
}

/// Per horizon: per pd class (pd, accounts, defaults), then the TOTAL's; realized loss, balance at
/// default, loss severity, modeled severity, AUC of pd.
struct Pinned {
    horizon: &'static str,
    classes: [(&'static str, u64, u64); 4],
    realized_loss: &'static str,
    balance_at_default: &'static str,
    loss_severity: &'static str,
    modeled_severity: &'static str,
    auc_pd: &'static str,
}

const PINNED: [Pinned; 2] = [
    Pinned {
        horizon: "12",
        classes: [
            ("0.02", 1974, 15),
            ("0.05", 144, 1),
            ("0.15", 12, 4),
            ("TOTAL", 2130, 20),
        ],
        realized_loss: "68178.46",
        balance_at_default: "200002.82",
        loss_severity: "0.3409",
        modeled_severity: "0.3049",
        auc_pd: "0.5959",
    },
    Pinned {
        horizon: "24",
        classes: [
            ("0.02", 1974, 28),
            ("0.05", 144, 7),
            ("0.15", 12, 6),
            ("TOTAL", 2130, 41),
        ],
        realized_loss: "177370.95",
        balance_at_default: "420104.18",
        loss_severity: "0.4222",
        modeled_severity: "0.3369",
        auc_pd: "0.6289",
    },
];

#[test]
fn the_readme_s_ally_figures_at_12_and_24_months() {
    let Some(panel) = ally() else { return };
    let s = Sandbox::new();
    for p in &PINNED {
        let out = format!("bt{}", p.horizon);
        let args = [
            "backtest",
            "--tape",
            "regab",
            panel.to_str().unwrap(),
            "--horizon",
        ];
        assert_ok(&s.run(&[&args[..], &[p.horizon, "--out", &out, "-q"]].concat()));
        let j = s.summary(&out);
        let classes: Vec<(String, u64, u64)> = j["by_pd"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let n = r["accounts"].as_u64().unwrap();
                (
                    r["pd"].as_str().unwrap().to_string(),
                    n,
                    r["defaults"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, u64, u64)> = p
            .classes
            .iter()
            .map(|&(pd, n, d)| (pd.to_string(), n, d))
            .collect();
        assert_eq!(classes, want, "H = {}", p.horizon);
        let total = total_row(&j, "by_ltv_bucket");
        assert_eq!(total["realized_loss"], p.realized_loss);
        assert_eq!(total["balance_at_default"], p.balance_at_default);
        assert_eq!(total["loss_severity"], p.loss_severity);
        assert_eq!(total["modeled_severity"], p.modeled_severity);
        assert_eq!(j["auc_pd"], p.auc_pd);
        // The expected deficiency the README quotes: every estimate rounded once.
        assert_eq!(total["expected_deficiency"], "179079.83");
        assert_eq!(j["outcome_rows"]["rejected"], 0);
        assert_eq!(
            j["rules_evaluated"],
            serde_json::json!(["charge_off", "written_off", "dpd_90"])
        );
    }
    // The verdicts the README reads: the current class's 2% is too high at 12 months.
    let j = s.summary("bt12");
    assert_eq!(j["by_pd"][0]["verdict"], "pd_too_high");
}

#[test]
fn the_readme_s_ally_calibration() {
    let Some(panel) = ally() else { return };
    let s = Sandbox::new();
    let args = [
        "calibrate",
        "--tape",
        "regab",
        panel.to_str().unwrap(),
        "--horizon",
        "12",
    ];
    assert_ok(&s.run(&[&args[..], &["--out", "cal", "-q"]].concat()));
    let toml = s.read("cal/calibrated.toml");
    // The current class: 15 defaults in 1,974 = 0.0076; the recovery line through the origin (its
    // intercept came out positive) over the 20 defaulted accounts with a value, each value carried
    // to its default month along the used-car curve: Σxy / Σx² = 0.592002…, computed outside the
    // code from backtest.csv's value, default_month and recoveries and the panel's origination
    // month (0.5546 against the values at as_of).
    assert!(
        toml.contains("pd_by_days_past_due = [[0, 0.0076]"),
        "{toml}"
    );
    assert!(toml.contains("recovery_rate = 0.592\n"), "{toml}");
    assert!(toml.contains("repossession_cost = 0"), "{toml}");
    let j: serde_json::Value = serde_json::from_str(&s.read("cal/calibration.json")).unwrap();
    let recovery = &j["recovery"];
    assert_eq!(recovery["defaulted_accounts_with_value"], 20, "{recovery}");
    assert_eq!(recovery["through_origin"], true, "{recovery}");
    // One manifest type for backtest and calibrate: program, version, command, inputs, outputs.
    let m = &s.summary("cal")["manifest"];
    assert_eq!(
        [&m["program"], &m["command"], &m["version"]],
        ["underwater", "calibrate", env!("CARGO_PKG_VERSION")]
    );
    assert_eq!(m["inputs"][0], panel.to_str().unwrap());
    assert_eq!(m["outputs"].as_array().unwrap().len(), 3);
}

/// Three loans of the panel saved with CRLF line ends give the outcomes they have with LF: each its
/// own, none the next row's.
#[test]
fn regression_three_ally_loans_with_crlf_get_their_own_outcomes() {
    let Some(panel) = ally() else { return };
    let text = std::fs::read_to_string(panel).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let picked: Vec<&str> = lines
        .filter(|l| {
            ["19467279", "19837202", "20135274"]
                .iter()
                .any(|id| l.contains(id))
        })
        .collect();
    assert_eq!(picked.len(), 3);
    let s = Sandbox::new();
    let lf = format!("{header}\n{}\n", picked.join("\n"));
    s.write("lf.csv", &lf);
    s.write("crlf.csv", &lf.replace('\n', "\r\n"));
    for (file, out) in [("lf.csv", "lf"), ("crlf.csv", "crlf")] {
        let args = [
            "backtest",
            "--tape",
            "regab",
            file,
            "--horizon",
            "24",
            "--out",
            out,
            "-q",
        ];
        assert_ok(&s.run(&args));
    }
    assert_eq!(s.read("crlf/backtest.csv"), s.read("lf/backtest.csv"));
    let j = s.summary("crlf");
    assert_eq!(j["outcome_rows"]["not_in_book"], 0);
    assert_eq!(j["accounts"]["no_outcome"], 0);
}
