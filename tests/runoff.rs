//! Negative-equity run-off: the README example worked out by hand, every reason an account is left
//! out, month 0 reconciling to tonight's totals, and random books against an independent reference of
//! the month-by-month rules (exact rational arithmetic written here, not the code under test).

use crate::common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn json(s: &Sandbox, out: &str) -> serde_json::Value {
    serde_json::from_str(&s.read(&format!("{out}/summary.json"))).unwrap()
}

fn months(s: &Sandbox, out: &str) -> BTreeMap<String, String> {
    read_csv(&s.path(&format!("{out}/accounts.csv")))
        .into_iter()
        .map(|r| {
            (
                r["account_id"].clone(),
                r["months_to_positive_equity"].clone(),
            )
        })
        .collect()
}

/// The Federal Reserve's consumer leasing guide example: $24,000 financed over 60 months at 8% (payment
/// $486.63) on a new car worth $19,000, valued the day the loan is made. Figures from exact fractions:
/// month 1 interest 24,000 × 8 / 1200 = 160.00, balance 24,000 + 160 − 486.63 = 23,673.37; value
/// 19,000 × retained(1) = 19,000 × (1 − 0.2/12) = 18,683.33. Month 12: value 19,000 × 0.80 = 15,200.00.
/// The balance first falls to the value in month 34.
#[test]
fn readme_example_comes_back_above_water_in_month_34() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,apr,new_used\n\
         FED,V1,2025-06-30,24000,60,24000.00,8,new\n",
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2025-06-30,19000.00\n",
    );
    assert_ok(&s.run_book("out", &["--as-of", "2025-06-30"]));
    assert_eq!(months(&s, "out")["FED"], "34");
    let rows = read_csv(&s.path("out/summary_runoff.csv"));
    assert_eq!(rows.len(), 61, "months 0..=60");
    let want = [
        (0, "2025-06-30", "1", "24000.00", "19000.00", "1", "5000.00"),
        (1, "2025-07-31", "1", "23673.37", "18683.33", "1", "4990.04"),
        (2, "2025-08-31", "1", "23344.56", "18366.67", "1", "4977.89"),
        (
            12,
            "2026-06-30",
            "1",
            "19933.48",
            "15200.00",
            "1",
            "4733.48",
        ),
        (
            24,
            "2027-06-30",
            "1",
            "15529.45",
            "13224.00",
            "1",
            "2305.45",
        ),
        (33, "2028-03-31", "1", "11988.16", "11934.38", "1", "53.78"),
        (34, "2028-04-30", "1", "11581.45", "11791.08", "0", "0.00"),
        (36, "2028-06-30", "1", "10759.88", "11504.50", "0", "0.00"),
        (59, "2030-05-31", "1", "483.69", "8816.16", "0", "0.00"),
        // The rounded level payment leaves 28 cents: the rule runs it to month 61.
        (60, "2030-06-30", "1", "0.28", "8707.70", "0", "0.00"),
    ];
    for (k, date, open, balance, value, under, ne) in want {
        let r = &rows[k];
        let got = [
            &r["month"],
            &r["date"],
            &r["open_accounts"],
            &r["balance"],
            &r["value"],
            &r["underwater_accounts"],
            &r["negative_equity"],
        ];
        assert_eq!(
            got,
            [&k.to_string(), date, open, balance, value, under, ne],
            "month {k}"
        );
    }
    let j = json(&s, "out");
    assert_eq!(j["runoff"]["median_months_to_positive_equity"], 34);
    // query sees the column, typed as a whole number.
    let out = s.run(&[
        "query",
        "--run",
        "out",
        "SELECT months_to_positive_equity + 1 AS m FROM accounts",
        "--format",
        "csv",
    ]);
    assert_ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "m\n35\n");
    assert_eq!(j["runoff"]["underwater_back_above_water"]["by_month_36"], 1);
}

/// One account for every reason not to project, beside a projected one; month 0 plus the accounts left
/// out add up to the LTV table's TOTAL, column by column.
#[test]
fn every_reason_to_leave_an_account_out_and_month_0_reconciles() {
    let s = Sandbox::new();
    // PAID: balance 0. NOVAL: no valuation. NOAPR: no rate. SHORT: 10,000 at 12% is 100.00 of interest
    // a month, the payment 100.00 does not cover it. OLD: the curve below reaches 0 at month 24, and this
    // car is 30 months old. OK: projected (900 on a 1,000 car, above water: month 0).
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,apr,monthly_payment,new_used\n\
         PAID,V1,2024-01-01,5000,36,0.00,5,,used\n\
         NOVAL,V2,2024-01-01,5000,36,3000.00,5,,used\n\
         NOAPR,V3,2024-01-01,5000,36,3000.00,,150,used\n\
         SHORT,V4,2024-01-01,12000,60,10000.00,12,100.00,used\n\
         OLD,V5,2022-12-01,5000,60,2500.00,6,100,new\n\
         OK,V6,2024-01-01,2000,36,900.00,6,60,used\n",
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2025-06-01,4000.00\nV3,2025-06-01,2000.00\n\
         V4,2025-06-01,9000.00\nV5,2025-06-01,2000.00\nV6,2025-06-01,1000.00\n",
    );
    s.write("config.toml", "[estimate]\nnew = [[0, 1], [24, 0]]\n");
    assert_ok(&s.run_book("out", &["--as-of", "2025-06-30", "--config", "config.toml"]));
    let m = months(&s, "out");
    assert_eq!(m["OK"], "0");
    for id in ["PAID", "NOVAL", "NOAPR", "SHORT", "OLD"] {
        assert_eq!(m[id], "", "{id}");
    }
    let j = json(&s, "out");
    let np = &j["runoff"]["not_projected"];
    for (reason, accounts, balance, ne) in [
        ("closed", 1, "0.00", "0.00"),
        ("no_value", 1, "3000.00", "0.00"),
        ("no_apr", 1, "3000.00", "1000.00"),
        ("payment_below_interest", 1, "10000.00", "1000.00"),
        ("curve_at_zero", 1, "2500.00", "500.00"),
    ] {
        assert_eq!(np[reason]["accounts"], accounts, "{reason}");
        assert_eq!(np[reason]["balance"], balance, "{reason}");
        assert_eq!(np[reason]["negative_equity"], ne, "{reason}");
    }
    // Reconciliation: projected (month 0) + every reason = TOTAL of summary_by_ltv_bucket.csv.
    let total = read_csv(&s.path("out/summary_by_ltv_bucket.csv"))
        .into_iter()
        .find(|r| r["ltv_bucket"] == "TOTAL")
        .unwrap();
    let cents =
        |v: &serde_json::Value| -> i64 { v.as_str().unwrap().replace('.', "").parse().unwrap() };
    let mut groups = vec![&j["runoff"]["projected"]];
    groups.extend(np.as_object().unwrap().values());
    for col in ["balance", "value", "negative_equity"] {
        let sum: i64 = groups.iter().map(|g| cents(&g[col])).sum();
        assert_eq!(
            sum,
            total[col].replace('.', "").parse::<i64>().unwrap(),
            "{col}"
        );
    }
    for col in ["accounts", "underwater_accounts"] {
        let sum: u64 = groups.iter().map(|g| g[col].as_u64().unwrap()).sum();
        assert_eq!(sum.to_string(), total[col], "{col}");
    }
    let month0 = &read_csv(&s.path("out/summary_runoff.csv"))[0];
    assert_eq!(month0["balance"], "900.00");
    assert_eq!(month0["value"], "1000.00");
}

#[test]
fn no_outlook_and_runoff_months_turn_it_off() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,apr\n\
         A,V1,2024-01-01,5000,36,3000.00,5\n",
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2025-06-01,2000.00\n",
    );
    assert_ok(&s.run_book("out", &["--as-of", "2025-06-30", "--no-outlook"]));
    assert!(!s.path("out/summary_runoff.csv").exists());
    assert!(!s.path("out/summary_scenarios.csv").exists());
    assert_eq!(months(&s, "out")["A"], "");
    assert!(json(&s, "out")["runoff"].is_null());

    s.write("off.toml", "runoff_months = 0\n");
    assert_ok(&s.run_book("off", &["--as-of", "2025-06-30", "--config", "off.toml"]));
    assert!(!s.path("off/summary_runoff.csv").exists());
    assert!(s.path("off/summary_scenarios.csv").exists());

    s.write("short.toml", "runoff_months = 3\n");
    assert_ok(&s.run_book(
        "short",
        &["--as-of", "2025-06-30", "--config", "short.toml"],
    ));
    assert_eq!(read_csv(&s.path("short/summary_runoff.csv")).len(), 4);

    for bad in [
        "runoff_months = 601",
        "runoff_months = -1",
        "runoff_months = 1.5",
    ] {
        s.write("bad.toml", bad);
        let out = s.run_book("bad", &["--as-of", "2025-06-30", "--config", "bad.toml"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains("runoff_months"),
            "{bad}: {}",
            stderr(&out)
        );
    }
}

// ---- An independent reference of the rules, in exact integer arithmetic ----

/// `n / d` rounded half to even, `d > 0`, `n >= 0`.
fn half_even(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if 2 * r > d || (2 * r == d && q % 2 == 1) {
        q + 1
    } else {
        q
    }
}

/// The default curves (README), as (month, share in 1/10,000).
const NEW: [(i128, i128); 10] = [
    (0, 10000),
    (12, 8000),
    (24, 6960),
    (36, 6055),
    (48, 5268),
    (60, 4583),
    (72, 3987),
    (84, 3469),
    (96, 3018),
    (120, 2285),
];
const USED: [(i128, i128); 10] = [
    (0, 10000),
    (12, 8900),
    (24, 7921),
    (36, 7050),
    (48, 6274),
    (60, 5584),
    (72, 4970),
    (84, 4423),
    (96, 3937),
    (120, 3118),
];

/// retained(m) as a fraction (numerator, denominator).
fn retained(curve: &[(i128, i128)], m: i128) -> (i128, i128) {
    for w in curve.windows(2) {
        let ((m0, f0), (m1, f1)) = (w[0], w[1]);
        if m0 <= m && m <= m1 {
            return (f0 * (m1 - m0) + (f1 - f0) * (m - m0), 10000 * (m1 - m0));
        }
    }
    (curve[curve.len() - 1].1, 10000)
}

#[derive(Clone, Debug)]
struct RefLoan {
    /// Cents.
    balance: i128,
    value: i128,
    /// Percent in 1/10,000 (7.25% is 72,500).
    apr: i128,
    payment: i128,
    /// Whole months since origination at as_of.
    age: i128,
    used: bool,
}

/// The schedule by the rules of the issue: (balance, value) per month and the first month above water.
fn reference(l: &RefLoan, table_months: i128) -> (Vec<(i128, i128)>, Option<i128>) {
    let curve: &[(i128, i128)] = if l.used { &USED } else { &NEW };
    let (n0, d0) = retained(curve, l.age);
    let mut b = l.balance;
    let mut out = vec![(b, l.value)];
    let mut found = (b <= l.value).then_some(0);
    let mut k = 0;
    while b > 0 && (k < table_months || found.is_none()) && k < 1200 {
        k += 1;
        let interest = half_even(b * l.apr, 1200 * 10000);
        b = (b + interest - l.payment).max(0);
        let (n1, d1) = retained(curve, l.age + k);
        let v = half_even(l.value * n1 * d0, d1 * n0);
        if found.is_none() && b <= v {
            found = Some(k);
        }
        out.push((b, v));
    }
    (out, found)
}

fn money(c: i128) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn loan_strategy() -> impl Strategy<Value = RefLoan> {
    (
        1i128..5_000_000,
        1i128..5_000_000,
        0i128..300_000,
        0i128..130,
        any::<bool>(),
        1i128..200_000,
    )
        .prop_map(|(balance, value, apr, age, used, extra)| {
            // A payment above the first month's interest, so the account is projected.
            let interest = half_even(balance * apr, 1200 * 10000);
            RefLoan {
                balance,
                value,
                apr,
                payment: interest + extra.min(balance + 1),
                age,
                used,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24)
    ))]

    /// Random books against the reference: every account's months_to_positive_equity and every row of
    /// summary_runoff.csv.
    #[test]
    fn runoff_matches_an_independent_reference(
        loans in proptest::collection::vec(loan_strategy(), 1..12),
        table_months in 1i128..90,
    ) {
        let s = Sandbox::new();
        let as_of = (2025, 6, 15);
        let mut l = String::from(
            "account_id,vin,origination_date,amount_financed,term_months,current_balance,apr,monthly_payment,new_used\n",
        );
        let mut v = String::from("vin,valuation_date,value\n");
        for (i, loan) in loans.iter().enumerate() {
            // Originated `age` whole months before as_of, on the 15th as as_of is.
            let months = as_of.0 * 12 + (as_of.1 - 1) - loan.age;
            let origination = format!("{:04}-{:02}-15", months / 12, months % 12 + 1);
            l.push_str(&format!(
                "L{i:02},V{i},{origination},50000,72,{},{}.{:04},{},{}\n",
                money(loan.balance),
                loan.apr / 10000,
                loan.apr % 10000,
                money(loan.payment),
                if loan.used { "used" } else { "new" },
            ));
            v.push_str(&format!("V{i},2025-06-01,{}\n", money(loan.value)));
        }
        s.write("loans.csv", &l);
        s.write("valuations.csv", &v);
        s.write("c.toml", &format!("runoff_months = {table_months}\nscenarios = []\n"));
        let out = s.run_book("out", &["--as-of", "2025-06-15", "--config", "c.toml"]);
        prop_assert!(out.status.success(), "{}", stderr(&out));
        let got = months(&s, "out");
        let mut table = vec![[0i128; 5]; table_months as usize + 1];
        for (i, loan) in loans.iter().enumerate() {
            let (schedule, found) = reference(loan, table_months);
            let want = found.map(|k| k.to_string()).unwrap_or_default();
            prop_assert_eq!(&got[&format!("L{i:02}")], &want, "L{:02} {:?}", i, loan);
            for (k, &(b, v)) in schedule.iter().enumerate().take(table.len()) {
                if b > 0 {
                    let row = &mut table[k];
                    row[0] += 1;
                    row[1] += b;
                    row[2] += v;
                    row[3] += i128::from(b > v);
                    row[4] += (b - v).max(0);
                }
            }
        }
        let rows = read_csv(&s.path("out/summary_runoff.csv"));
        prop_assert_eq!(rows.len(), table.len());
        for (k, (r, t)) in rows.iter().zip(&table).enumerate() {
            let got = [
                r["open_accounts"].clone(),
                r["balance"].clone(),
                r["value"].clone(),
                r["underwater_accounts"].clone(),
                r["negative_equity"].clone(),
            ];
            let want = [t[0].to_string(), money(t[1]), money(t[2]), t[3].to_string(), money(t[4])];
            prop_assert_eq!(got, want, "month {}", k);
        }
    }
}
