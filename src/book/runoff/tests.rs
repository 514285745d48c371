//! Unit tests of the parent module.

use super::*;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// The Federal Reserve's consumer leasing guide example (shared/domain.md), then payments worked
/// out in exact rational arithmetic (`A·r·f / (f − 1)`, `f = (1 + r)^n` as a fraction, rounded half
/// to even) outside this code.
#[test]
fn level_payments_to_the_cent() {
    for (amount, apr, term, payment) in [
        ("24000", "8", 60, "486.63"),
        ("35000", "6.99", 72, "596.55"),
        ("18250.50", "19.9", 48, "554.40"),
        ("50000", "0.9", 36, "1408.24"),
        ("12000", "0", 60, "200.00"),
        ("9999.99", "24.9999", 84, "253.12"),
        ("40000", "3.25", 1, "40108.33"),
        ("1000000", "15", 120, "16133.50"),
        ("1000", "12", 1, "1010.00"),
    ] {
        assert_eq!(
            level_payment(d(amount), d(apr), term),
            d(payment),
            "{amount} at {apr}% over {term}"
        );
    }
}

#[test]
fn reciprocal_division_is_exact() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for d in [
        1u64,
        2,
        3,
        7,
        1200,
        120_000,
        12_000_000,
        999_999_937,
        (1 << 40) - 1,
        (1 << 61) + 1,
        1 << 61,
    ] {
        let div = FastDiv::new(d as i64);
        for _ in 0..20_000 {
            // xorshift: numbers of every size below 2^62, and exact ties around multiples of d.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for n in [x >> 2, x >> 20, x >> 40, (x >> 40) / d * d + d / 2] {
                assert_eq!(
                    div.half_even(n as i64) as u64,
                    div_half_even_u64(n, d),
                    "{n} / {d}"
                );
            }
        }
        // The edges of the domain: 0, around d and its multiples, and the largest n (2^62 − 1),
        // where the multiply's overshoot is largest.
        let top = (1u64 << 62) - 1;
        for n in [
            0,
            1,
            d - 1,
            d,
            d + 1,
            top,
            top / d * d,
            top / d * d - 1,
            top - d / 2,
        ] {
            assert_eq!(
                div.half_even(n as i64) as u64,
                div_half_even_u64(n, d),
                "{n} / {d}"
            );
        }
    }
}

#[test]
fn half_even_division() {
    assert_eq!(div_half_even(5, 2), 2);
    assert_eq!(div_half_even(7, 2), 4);
    assert_eq!(div_half_even(6, 4), 2);
    // Ties to the even neighbour, and plain roundings either way.
    for (n, d, q) in [
        (1, 2, 0),
        (3, 2, 2),
        (9, 2, 4),
        (10, 4, 2),
        (14, 4, 4),
        (1, 3, 0),
        (2, 3, 1),
    ] {
        assert_eq!(div_half_even(n, d), q, "{n} / {d}");
        assert_eq!(
            FastDiv::new(d as i64).half_even(n as i64),
            q as i64,
            "{n} / {d}"
        );
    }
    assert_eq!(div_half_even(1 << 100, 3), ((1u128 << 100) + 1) / 3);
}

#[test]
fn exact_curve_matches_the_decimal_one() {
    let est = Estimate::defaults(false);
    let exact = ExactCurve::new(&est.new);
    for m in [0, 5, 12, 13, 100, 119, 120, 500] {
        let (n, den) = exact.retained(m);
        let q = Decimal::from(n) / Decimal::from(den);
        assert_eq!(
            q.round_dp(20),
            est.new.retained(m).round_dp(20),
            "month {m}"
        );
    }
}

/// The value a calibrate line is fitted against is the one the lifetime walk reads in the same
/// month: the walk's own value, and the decimal curve's `V0 · retained(age + k) / retained(age)`
/// rounded half to even (computed here from the curve, not by the projection).
#[test]
fn the_value_in_a_month_is_the_walks() {
    let est = Estimate::defaults(false);
    let as_of = Date::parse("2025-06-30").unwrap();
    let projection = Projection::new(0, &est, as_of);
    for (origination, new_used, value) in [
        ("2022-01-15", Some(NewUsed::Used), "15500.00"),
        ("2025-06-01", Some(NewUsed::New), "41234.57"),
        ("2016-03-01", None, "999.99"),
    ] {
        let loan = crate::input::load::Loan {
            line: 2,
            origination_date: Date::parse(origination).unwrap(),
            term_months: 72,
            amount_financed: d("30000"),
            origination_value: None.into(),
            new_used,
            balance: d("12000"),
            days_past_due: 0,
            credit_score: None,
            apr: Some(d("6.5")).into(),
            monthly_payment: None.into(),
            text: crate::input::load::LoanText::new(&["A", "V", ""]),
        };
        let mut walked = Vec::new();
        projection
            .walk_to_end(&loan, Some(d(value)), |_, _, v| {
                walked.push(v);
                walked.len() < 40
            })
            .unwrap();
        let curve = match new_used {
            Some(NewUsed::Used) => &est.used,
            _ => &est.new,
        };
        let age = loan.origination_date.months_until(as_of);
        for (k, &v) in walked.iter().enumerate() {
            let k = k as u32;
            let exact = d(value) * curve.retained(age + k) / curve.retained(age);
            let reference = u128::try_from(
                exact
                    .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven)
                    .mantissa(),
            )
            .unwrap();
            let got = projection.value_in_month(&loan, d(value), k).unwrap();
            assert_eq!(got, v, "{origination} month {k}");
            assert_eq!(got, reference, "{origination} month {k}");
        }
    }
}
