//! Unit tests of the parent module.

use super::*;
use crate::date::Date;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn loan(balance: &str, dpd: u32) -> Loan {
    Loan {
        line: 2,
        origination_date: Date::parse("2022-01-01").unwrap(),
        term_months: 60,
        amount_financed: d("20000"),
        origination_value: None.into(),
        new_used: None,
        balance: d(balance),
        days_past_due: dpd,
        credit_score: None,
        apr: None.into(),
        monthly_payment: None.into(),
        text: crate::input::load::LoanText::new(&["A", "V", ""]),
    }
}

/// The figures in decimals and in scaled integers, checked equal.
fn both(loan: &Loan, valuation: Option<&Valuation>, m: &Model, b: &Bands) -> Figures {
    let decimal = figures(loan, valuation, m, b, None, Detail::Account);
    let scaled = figures(
        loan,
        valuation,
        m,
        b,
        ScaledModel::new(m, b).as_ref(),
        Detail::Account,
    );
    assert_eq!(decimal, scaled);
    decimal
}

fn val(value: &str) -> Valuation {
    Valuation {
        date: Date::parse("2024-01-01").unwrap(),
        value: d(value),
        source: "kbb".into(),
        estimated: false,
    }
}

/// A random amount with up to `places` decimals.
fn amount(places: u32) -> impl proptest::strategy::Strategy<Value = Decimal> {
    use proptest::prelude::*;
    (0i64..=2_000_000_000, 0..=places).prop_map(|(m, s)| Decimal::new(m, s))
}

/// A random model: recovery rate and cost with up to 10 places, pds with up to 6, odd band edges.
fn random_model() -> impl proptest::strategy::Strategy<Value = Model> {
    use proptest::prelude::*;
    (
        (0i64..=10_000_000_000, 0u32..=10),
        (0i64..=5_000_000_000, 0u32..=10),
        prop::collection::vec((0u32..150, 0i64..=1_000_000, 0u32..=6), 1..5),
        prop::collection::vec((1i64..=400_000, 0u32..=3), 1..6),
    )
        .prop_map(|(rr, cost, pds, edges)| {
            let mut edges: Vec<Decimal> = edges.iter().map(|&(m, s)| Decimal::new(m, s)).collect();
            edges.sort();
            edges.dedup();
            let mut pd: Vec<(u32, Decimal)> = pds
                .iter()
                .map(|&(d, m, s)| (d, Decimal::new(m, s).min(Decimal::ONE)))
                .collect();
            pd.sort_by_key(|p| p.0);
            pd.dedup_by_key(|p| p.0);
            Model {
                ltv_bands: edges,
                recovery_rate: Decimal::new(rr.0, rr.1).min(Decimal::ONE),
                repossession_cost: Decimal::new(cost.0, cost.1),
                pd_by_days_past_due: pd,
                ..Model::default()
            }
        })
}

/// The scaled-integer summary figures against the decimal ones, over random balances, values,
/// days past due and models, with the value shocked by a random change: every field equal, on ties
/// and band edges too.
#[test]
fn scaled_figures_equal_the_decimal_ones() {
    use proptest::prelude::*;
    let strategy = (
        (amount(4), prop::option::of(amount(4)), 0u32..200),
        random_model(),
        (-999_999i64..=2_000_000, 6u32..=6),
        any::<bool>(),
    );
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(
            &strategy,
            |((balance, value, dpd), model, change, estimated)| {
                let bands = Bands::new(&model.ltv_bands);
                let scaled = ScaledModel::new(&model, &bands).expect("scales within range");
                let m = Decimal::ONE + Decimal::new(change.0, change.1);
                let shocked = value.map(|v| (cents(v * m), estimated));
                let mut l = loan("0", dpd);
                l.balance = balance;
                let d = figures_of_value(&l, shocked, &model, &bands, Detail::Summary);
                let v = value.map(|v| {
                    let v = ScaledModel::amount(v).unwrap();
                    (
                        ScaledModel::shock(v, (m.mantissa(), m.scale())) * 100,
                        estimated,
                    )
                });
                let s = scaled.figures(ScaledModel::amount(balance).unwrap(), dpd, v);
                let c = |x: Decimal| crate::book::tally::Cents::of(x).0;
                prop_assert_eq!(s.balance, c(d.balance));
                prop_assert_eq!(s.bucket, d.bucket);
                prop_assert_eq!(s.deficiency_if_default, c(d.deficiency_if_default));
                prop_assert_eq!(s.expected_deficiency, c(d.expected_deficiency));
                prop_assert_eq!(
                    s.value,
                    d.valued.as_ref().map(|x| (c(x.value), x.estimated))
                );
                prop_assert_eq!(
                    s.negative_equity,
                    d.valued.as_ref().map_or(0, |x| c(x.negative_equity))
                );
                Ok(())
            },
        )
        .unwrap();
}

/// accounts.csv's figures in scaled integers against the decimal ones, over random balances,
/// values, origination amounts and models: every field equal (`Figures` compares them all,
/// decimal scales included), with and without the LTV weight.
#[test]
fn scaled_account_figures_equal_the_decimal_ones() {
    use proptest::prelude::*;
    let strategy = (
        (amount(4), prop::option::of(amount(4))),
        (amount(4), prop::option::of(amount(4))),
        0u32..200,
        random_model(),
        any::<bool>(),
    );
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(
            &strategy,
            |((balance, value), (financed, origination), dpd, model, estimated)| {
                let bands = Bands::new(&model.ltv_bands);
                let scaled = ScaledModel::new(&model, &bands).expect("scales within range");
                let mut l = loan("0", dpd);
                l.balance = balance;
                l.amount_financed = financed;
                l.origination_value = origination.filter(|o| *o > Decimal::ZERO).into();
                let value = value.map(|v| (v, estimated));
                for detail in [Detail::Account, Detail::Weighted] {
                    let d = figures_of_value(&l, value, &model, &bands, detail);
                    let s = scaled.account(&l, value, &model, detail);
                    prop_assert_eq!(Some(d), s);
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn the_readme_example() {
    let m = Model::default();
    let b = Bands::new(&m.ltv_bands);
    let f = both(&loan("19000", 0), Some(&val("15500")), &m, &b);
    let v = f.valued.clone().unwrap();
    assert_eq!(v.negative_equity.to_string(), "3500.00");
    assert_eq!(v.equity.to_string(), "-3500.00");
    assert_eq!(v.ltv.to_string(), "1.2258");
    assert_eq!(b.labels[f.bucket], "120-140");
    // 15500 × 0.85 − 1000 = 12175; 19000 − 12175 = 6825; × 0.02 = 136.50
    assert_eq!(f.net_recovery.to_string(), "12175.00");
    assert_eq!(f.deficiency_if_default.to_string(), "6825.00");
    assert_eq!(f.expected_deficiency.to_string(), "136.50");
}

#[test]
fn band_edges_are_right_closed_on_the_exact_ratio() {
    let b = Bands::new(&Model::default().ltv_bands);
    assert_eq!(
        b.labels,
        ["<=80", "80-100", "100-120", "120-140", ">140", "no_value"]
    );
    assert_eq!(b.labels[b.bucket(d("10000"), d("10000"))], "80-100");
    assert_eq!(b.labels[b.bucket(d("10000.01"), d("10000"))], "100-120");
    assert_eq!(b.labels[b.bucket(d("8000"), d("10000"))], "<=80");
    assert_eq!(b.labels[b.bucket(d("8000.01"), d("10000"))], "80-100");
    // 100.004% rounds to an LTV of 1.0000 but is above the 100% edge.
    assert_eq!(b.labels[b.bucket(d("100004"), d("100000"))], "100-120");
}

/// A balance of 10,000.0049 on a value of 10,000 is in band 100-120 (the exact ratio is above 1) but
/// its negative equity rounds to $0.00, so it is not counted underwater, while the README said every
/// account above 100% is. The README now states the rule this test pins: underwater means negative
/// equity of at least a cent, i.e. a balance above the value by more than half a cent.
#[test]
fn regression_above_100_by_less_than_half_a_cent_is_not_underwater() {
    let m = Model::default();
    let b = Bands::new(&m.ltv_bands);
    let f = both(&loan("10000.0049", 0), Some(&val("10000")), &m, &b);
    assert_eq!(b.labels[f.bucket], "100-120");
    let v = f.valued.unwrap();
    assert_eq!(v.negative_equity.to_string(), "0.00");
    assert_eq!(v.ltv.to_string(), "1.0000");
    let f = both(&loan("10000.005", 0), Some(&val("10000")), &m, &b);
    // Half a cent rounds to even: 0.00 still; 0.0051 is a cent.
    assert_eq!(f.valued.unwrap().negative_equity.to_string(), "0.00");
    let f = both(&loan("10000.0051", 0), Some(&val("10000")), &m, &b);
    assert_eq!(f.valued.unwrap().negative_equity.to_string(), "0.01");
}

/// A value of zero (a scenario's −100% shock) is no value, in decimals as in scaled integers: the
/// whole balance is at risk and no band divides by it (a mutant taking 0 as a value passed the
/// other tests).
#[test]
fn a_value_of_zero_is_no_value() {
    let m = Model::default();
    let b = Bands::new(&m.ltv_bands);
    let l = loan("10.10", 0);
    for detail in [Detail::Summary, Detail::Account] {
        let f = figures_of_value(&l, Some((d("0.00"), false)), &m, &b, detail);
        assert!(f.valued.is_none());
        assert_eq!(b.labels[f.bucket], "no_value");
        assert_eq!(f.deficiency_if_default.to_string(), "10.10");
    }
    let scaled = ScaledModel::new(&m, &b).unwrap();
    let s = scaled.figures(
        ScaledModel::amount(d("10.10")).unwrap(),
        0,
        Some((0, false)),
    );
    assert_eq!(
        (s.value, s.bucket, s.deficiency_if_default),
        (None, b.no_value(), 1010)
    );
}

/// Half to even beyond 64 bits too, where the 128-bit division runs (no book amount in the other
/// tests reaches it; cargo mutants showed its tie rule untested).
#[test]
fn div_half_even_is_exact_beyond_64_bits() {
    let e19 = 10i128.pow(19);
    for (n, d, want) in [
        (10 * e19 + 5, 10, e19),        // a tie, even quotient: stays
        (10 * e19 + 15, 10, e19 + 2),   // a tie, odd quotient: up to even
        (10 * e19 + 6, 10, e19 + 1),    // above half: up
        (10 * e19 + 4, 10, e19),        // below half: down
        (-10 * e19 - 5, 10, -e19),      // a negative tie: to even
        (-10 * e19 - 15, 10, -e19 - 2), // a negative tie, odd: to even
        (3 * e19, 2 * e19, 2),          // 1.5 with a wide divisor: up to even
        (5 * e19, 2 * e19, 2),          // 2.5: down to even
    ] {
        assert_eq!(div_half_even(n, d), want, "{n} / {d}");
    }
    // The 64-bit path agrees with the wide one on the same ties.
    assert_eq!(div_half_even(25, 10), 2);
    assert_eq!(div_half_even(35, 10), 4);
    assert_eq!(div_half_even(-25, 10), -2);
}

#[test]
fn no_value_means_the_whole_balance_is_at_risk() {
    let m = Model::default();
    let b = Bands::new(&m.ltv_bands);
    let f = both(&loan("10.10", 0), None, &m, &b);
    assert!(f.valued.is_none());
    assert_eq!(b.labels[f.bucket], "no_value");
    assert_eq!(f.deficiency_if_default.to_string(), "10.10");
    // 0.02 × 10.10 = 0.202
    assert_eq!(f.expected_deficiency.to_string(), "0.20");
}

#[test]
fn expected_deficiency_rounds_half_even() {
    let m = Model::default();
    let b = Bands::new(&m.ltv_bands);
    // dpd 1 → pd 0.05; 0.05 × 10.10 = 0.505 → 0.50; 0.05 × 10.30 = 0.515 → 0.52
    assert_eq!(
        both(&loan("10.10", 1), None, &m, &b)
            .expected_deficiency
            .to_string(),
        "0.50"
    );
    assert_eq!(
        both(&loan("10.30", 1), None, &m, &b)
            .expected_deficiency
            .to_string(),
        "0.52"
    );
}
