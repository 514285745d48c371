//! Lifetime expected loss (docs/GUIDE.md "Lifetime expected loss"): a book worked by hand, and the
//! same formula written again here, independently, in 28-digit decimals with the guide's 18-place
//! rounding of each probability, against the program's integer arithmetic.

use crate::common::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

const HEADER: &str = "account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due,apr,monthly_payment,new_used\n";

/// A flat value curve (a car keeps its value: `V(t) = V(0)`), recovery 50% less $100, and the model
/// under test.
fn config(abs: &str, discount: &str) -> String {
    format!(
        "recovery_rate = 0.5\nrepossession_cost = 100\nscenarios = []\n\
         [estimate]\nnew = [[0, 1], [120, 1]]\nused = [[0, 1], [120, 1]]\n\
         [lifetime]\nhazard_by_age = [[0, 0.01], [24, 0.02]]\nabs_speed = {abs}\ndiscount = \"{discount}\"\n\
         [lifetime.delinquent]\n60 = [0.5]\n"
    )
}

/// A: current, 12 months old, $3,000 paid $1,000 a month at 0%, car $1,500 (net recovery $650).
/// B: 60 days past due, $2,000 paid $1,000 a month, car $1,000 (net recovery $400).
/// C: paid off. D: no valuation.
fn book(s: &Sandbox) {
    s.write(
        "loans.csv",
        &format!(
            "{HEADER}A,VA,2024-06-30,12000,12,3000.00,0,0,1000.00,new\n\
             B,VB,2024-06-30,12000,12,2000.00,60,0,1000.00,new\n\
             C,VC,2024-06-30,12000,12,0.00,0,0,1000.00,new\n\
             D,VD,2024-06-30,12000,12,500.00,0,0,1000.00,new\n"
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value,source\nVA,2025-06-01,1500,kbb\nVB,2025-06-01,1000,kbb\nVC,2025-06-01,900,kbb\n",
    );
}

fn accounts(s: &Sandbox, out: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    read_csv(&s.path(&format!("{out}/accounts.csv")))
        .into_iter()
        .map(|r| (r["account_id"].clone(), r))
        .collect()
}

/// Worked by hand, no prepayment. A: h = 0.01 at ages 13, 14, 15; D = 2,350, 1,350, 350.
/// pd = 0.01 + 0.99·0.01 + 0.99²·0.01 = 0.029701; loss = 23.50 + 13.365 + 3.43035 = 40.29535 → 40.30.
/// B: h(1) = 0.5 from its class, then 0.01 by age; D = 1,600, 600. pd = 0.5 + 0.5·0.01 = 0.505;
/// loss = 800 + 3 = 803.00. C is closed: nothing to lose. D has no value: no figures.
#[test]
fn a_hand_worked_book_gives_the_lifetime_figures_of_the_formula() {
    let s = Sandbox::new();
    book(&s);
    s.write("model.toml", &config("0", "none"));
    assert_ok(&s.run_loans("out", &["--as-of", "2025-06-30", "--config", "model.toml"]));
    let a = accounts(&s, "out");
    let cols = |id: &str| {
        let r = &a[id];
        [
            r["lifetime_pd"].clone(),
            r["lifetime_expected_deficiency"].clone(),
            r["expected_deficiency_12m"].clone(),
        ]
    };
    assert_eq!(cols("A"), ["0.029701000000000000", "40.30", "40.30"]);
    assert_eq!(cols("B"), ["0.505000000000000000", "803.00", "803.00"]);
    assert_eq!(cols("C"), ["0.000000000000000000", "0.00", "0.00"]);
    assert_eq!(cols("D"), ["", "", ""]);
    // The tables' column and the loss curve reconcile to the accounts.
    let by_ltv = read_csv(&s.path("out/summary_by_ltv_bucket.csv"));
    let total = by_ltv.iter().find(|r| r["ltv_bucket"] == "TOTAL").unwrap();
    assert_eq!(total["lifetime_expected_deficiency"], "843.30");
    let curve = read_csv(&s.path("out/summary_loss_curve.csv"));
    // Month 1: A 0.01 × 2,350 = 23.50 and B 0.5 × 1,600 = 800.00.
    assert_eq!(curve[1]["expected_loss"], "823.50");
    assert_eq!(curve[1]["expected_defaults"], "0.510000000000000000");
    assert_eq!(curve.last().unwrap()["cumulative_loss"], "843.30");
    let summary = s.summary("out");
    assert_eq!(
        summary["lifetime"]["lifetime_expected_deficiency"],
        "843.30"
    );
    assert_eq!(summary["lifetime"]["not_computed"]["no_value"], 1);
}

/// The reference: the guide's formula in decimals, probabilities rounded half to even to 18 places
/// at each product (`S(t)`, `S(t−1)·h(t)`, the SMM, the discount factor), the loss rounded once.
fn reference(
    age: u32,
    list: &[Decimal],
    balances: &[Decimal],
    net: Decimal,
    abs: Decimal,
    (apr, times): (Option<Decimal>, Decimal),
) -> (Decimal, Decimal) {
    let r18 = |d: Decimal| {
        d.round_dp_with_strategy(18, rust_decimal::RoundingStrategy::MidpointNearestEven)
    };
    let by_age = |a: u32| Decimal::from_str(if a < 24 { "0.01" } else { "0.02" }).unwrap();
    let (mut s, mut pd, mut loss, mut factor) =
        (Decimal::ONE, Decimal::ZERO, Decimal::ZERO, Decimal::ONE);
    for t in 1..balances.len() {
        let at = age + t as u32;
        let h = list.get(t - 1).copied().unwrap_or_else(|| by_age(at));
        let h = (h * times).min(Decimal::ONE);
        let denominator = Decimal::ONE - abs * Decimal::from(at - 1);
        let smm = match abs.is_zero() {
            true => Decimal::ZERO,
            false if denominator <= abs => Decimal::ONE,
            false => r18(abs / denominator),
        };
        let p = smm.min(Decimal::ONE - h);
        let q = r18(s * h);
        let weight = match apr {
            Some(apr) => {
                factor = r18(factor * Decimal::from(1200) / (Decimal::from(1200) + apr));
                r18(q * factor)
            }
            None => q,
        };
        pd += q;
        loss += weight * (balances[t - 1] - net).max(Decimal::ZERO);
        s = r18(s * (Decimal::ONE - h - p));
    }
    (
        pd,
        loss.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven),
    )
}

/// With prepayment at 2% ABS and with the loss discounted at a 12% APR, each account's figures equal
/// the reference's, and so does a stress scenario's total (values −25%, recovery −20%, hazards × 1.5).
#[test]
fn lifetime_figures_equal_an_independent_reference_with_prepayment_and_discounting() {
    let d = |x: &str| Decimal::from_str(x).unwrap();
    for (abs, discount, apr) in [("0.02", "none", "0"), ("0.015", "apr", "12")] {
        let s = Sandbox::new();
        // E: 30 months old, $10,000 over 10 payments of $1,000 at `apr` (its balance schedule below).
        let mut loans = HEADER.to_string();
        loans.push_str(&format!(
            "E,VE,2022-12-30,30000,40,10000.00,0,{apr},1000.00,new\n"
        ));
        loans.push_str(&format!(
            "B,VB,2024-06-30,12000,12,2000.00,60,{apr},1000.00,new\n"
        ));
        s.write("loans.csv", &loans);
        s.write(
            "valuations.csv",
            "vin,valuation_date,value,source\nVE,2025-06-01,4000,kbb\nVB,2025-06-01,1000,kbb\n",
        );
        let stress = "[[scenario]]\nname = \"stress\"\nvalue_change = -0.25\n\
                      recovery_rate_change = -0.2\npd_multiplier = 1.5\n";
        let model = config(abs, discount).replace("scenarios = []\n", "") + stress;
        s.write("model.toml", &model);
        assert_ok(&s.run_loans("out", &["--as-of", "2025-06-30", "--config", "model.toml"]));
        let a = accounts(&s, "out");
        let rate = (apr != "0").then(|| d(apr));
        let mut stressed = Decimal::ZERO;
        for (id, age, list, b0, net, stressed_net) in [
            ("E", 30, vec![], "10000", "1900", "1100"),
            ("B", 12, vec![d("0.5")], "2000", "400", "200"),
        ] {
            // The schedule: B(t) = max(B(t−1) + cents(B(t−1) × apr / 1200) − 1,000, 0).
            let mut balances = vec![d(b0)];
            while *balances.last().unwrap() > Decimal::ZERO {
                let b = *balances.last().unwrap();
                let interest = (b * rate.unwrap_or_default() / Decimal::from(1200))
                    .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven);
                balances.push((b + interest - d("1000")).max(Decimal::ZERO));
            }
            let (pd, loss) = reference(age, &list, &balances, d(net), d(abs), (rate, Decimal::ONE));
            let net = d(stressed_net);
            stressed += reference(age, &list, &balances, net, d(abs), (rate, d("1.5"))).1;
            assert_eq!(
                a[id]["lifetime_pd"],
                format!("{pd:.18}"),
                "{id} {abs} {discount}"
            );
            assert_eq!(
                a[id]["lifetime_expected_deficiency"],
                format!("{loss:.2}"),
                "{id} {abs} {discount}"
            );
        }
        let scenarios = read_csv(&s.path("out/summary_scenarios.csv"));
        let total = scenarios
            .iter()
            .find(|r| r["scenario"] == "stress" && r["ltv_bucket"] == "TOTAL")
            .unwrap();
        assert_eq!(
            total["lifetime_expected_deficiency"],
            format!("{stressed:.2}"),
            "{abs} {discount}"
        );
    }
}

/// `--no-lifetime` leaves every lifetime output out: no columns, no curve, no summary section.
#[test]
fn no_lifetime_leaves_the_lifetime_outputs_out() {
    let s = Sandbox::new();
    book(&s);
    s.write("model.toml", &config("0", "none"));
    assert_ok(&s.run_loans(
        "out",
        &[
            "--as-of",
            "2025-06-30",
            "--config",
            "model.toml",
            "--no-lifetime",
        ],
    ));
    assert!(!s.read("out/accounts.csv").contains("lifetime"));
    assert!(!s.read("out/summary_by_ltv_bucket.csv").contains("lifetime"));
    assert!(!s.path("out/summary_loss_curve.csv").exists());
    assert!(s.summary("out").get("lifetime").is_none());
}

/// Stress scenarios apply to the lifetime figure: each scenario's car values (the base path's × `1 +
/// change`, rounded to cents), recovery and hazards (× the pd multiplier, at most 1), worked by hand
/// on the book above (flat values, no prepayment).
/// `values` (−20%): A's car $1,200, net $500: D = 2,500, 1,500, 500 at h = 0.01 → 25 + 14.85 +
/// 4.9005 = 44.7505 → 44.75. B's $800, net $300: 0.5 × 1,700 + 0.005 × 700 = 853.50. Total 898.25.
/// `severe` (−20% values, −20% recovery, pd × 2): A net 0.4 × 1,200 − 100 = 380, D = 2,620, 1,620,
/// 620 at h = 0.02: 52.40 + 0.0196 × 1,620 + 0.019208 × 620 = 96.06096 → 96.06. B's class hazard
/// 0.5 × 2 is capped at 1: it defaults in month 1 losing 2,000 − 220 = 1,780.00. Total 1,876.06.
#[test]
fn stress_scenarios_apply_to_the_lifetime_figure() {
    let s = Sandbox::new();
    book(&s);
    let scenarios = "[[scenario]]\nname = \"values\"\nvalue_change = -0.2\n\
                     [[scenario]]\nname = \"severe\"\nvalue_change = -0.2\nrecovery_rate_change = -0.2\npd_multiplier = 2\n";
    let model = config("0", "none").replace("scenarios = []\n", "") + scenarios;
    s.write("model.toml", &model);
    assert_ok(&s.run_loans("out", &["--as-of", "2025-06-30", "--config", "model.toml"]));
    let rows = read_csv(&s.path("out/summary_scenarios.csv"));
    let total = |name: &str| {
        rows.iter()
            .find(|r| r["scenario"] == name && r["ltv_bucket"] == "TOTAL")
            .map(|r| r["lifetime_expected_deficiency"].clone())
            .unwrap()
    };
    assert_eq!(
        [total("base"), total("values"), total("severe")],
        ["843.30", "898.25", "1876.06"]
    );
    let summary = s.summary("out");
    assert_eq!(
        summary["scenarios"][1]["totals"]["lifetime_expected_deficiency"],
        "1876.06"
    );
    // Without the lifetime figures the scenario table keeps its earlier columns.
    assert_ok(&s.run_loans(
        "off",
        &[
            "--as-of",
            "2025-06-30",
            "--config",
            "model.toml",
            "--no-lifetime",
        ],
    ));
    assert!(!s.read("off/summary_scenarios.csv").contains("lifetime"));
}

/// Regression: the bound on amounts the exact sums take counted dollars where the sums count cents, so
/// a balance near the inputs' limit ($999,999,999,999) with a 6-place recovery rate and a certain
/// default passed it, and `S·h × D` went past 2^126, where the division by multiplication is proven
/// exact (the figure was right here by luck, and guaranteed nowhere near it). Now such an account has
/// no lifetime figures, counted as out of range; an ordinary account beside it keeps its figures.
#[test]
fn regression_a_balance_near_the_input_limit_left_the_proven_range_of_the_exact_sums() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        &format!(
            "{HEADER}BIG,VX,2024-06-30,999999999999,12,999999999999.00,90,0,90000000000.00,new\n\
             A,VA,2024-06-30,12000,12,3000.00,0,0,1000.00,new\n"
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value,source\nVX,2025-06-01,1000,kbb\nVA,2025-06-01,1500,kbb\n",
    );
    let model = config("0", "none")
        .replace("recovery_rate = 0.5", "recovery_rate = 0.123456")
        .replace("60 = [0.5]", "90 = [1]");
    s.write("model.toml", &model);
    assert_ok(&s.run_loans("out", &["--as-of", "2025-06-30", "--config", "model.toml"]));
    let a = accounts(&s, "out");
    assert_eq!(a["BIG"]["lifetime_expected_deficiency"], "");
    assert_ne!(a["A"]["lifetime_expected_deficiency"], "");
    assert_eq!(
        s.summary("out")["lifetime"]["not_computed"]["out_of_range"],
        1
    );
}
