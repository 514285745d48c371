//! `generate --outcome-months N`: what happened to a generated book, as loan-month records
//! (`outcomes.csv`, the form `backtest --outcomes` reads), with a known truth to calibrate against.
//!
//! The documented rules, per loan of the book at as_of (its own random stream, so the book's files
//! are the same with or without outcomes), for months k = 1 … N at the loan's age a + k:
//! - a loan with nothing owed has one record, of a zero balance;
//! - a loan **current** at as_of defaults in month k with the known age hazard ([`TRUE_HAZARD`]: 0.2%
//!   a month before age 24, 0.4% from it), else prepays its whole balance with the ABS convention's
//!   SMM at [`TRUE_ABS`] (1.5%: `SMM = ABS / (1 − ABS × (age − 1))`), else pays its scheduled payment
//!   (interest at its apr on the balance, the rest principal) until the balance is paid;
//! - a loan **past due** at as_of defaults within the N months with the probability the default
//!   model gives its days past due (5% 1–29, 15% 30–59, 35% 60–89, 65% 90+), in a month drawn evenly
//!   from 1 … min(3, N) (its risk is front-loaded), paying only the interest until then; any other
//!   is current from month 1 on and prepays or pays as a current loan does;
//! - in its default month k a loan's balance is charged off and its car sold for **60% of its value
//!   in month k, less $600**, ± up to $300, booked as repossession proceeds; then its records stop,
//!   as they do after a payoff. The value in month k is the one `run` matches at as_of (the latest
//!   valuation on or before as_of, the lowest on a tie, then the lowest source) carried along the
//!   default config's depreciation curve as the run-off carries it
//!   ([`crate::book::runoff::Projection::value_in_month`]); a car without one sells for nothing.
//!
//! Amounts are computed in exact decimals and written in cents.

use crate::book::runoff::Projection;
use rust_decimal::Decimal;
use std::fmt::Write as _;

/// The header of outcomes.csv.
pub const OUTCOMES_HEADER: &str =
    "account_id,month,balance,principal_paid,amount_paid,charged_off,\
recoveries,repossession_proceeds,days_past_due";

/// The generator's truth for a current loan's monthly default hazard: `(first age, hazard)`.
pub const TRUE_HAZARD: [(u32, f64); 2] = [(0, 0.002), (24, 0.004)];
/// The generator's truth for prepayment: the ABS speed.
pub const TRUE_ABS: f64 = 0.015;

/// The generator's truth for a sale: rate × value − cost, ± up to `SALE_NOISE`.
pub const SALE_RATE: &str = "0.60";
pub const SALE_COST: &str = "600";
const SALE_NOISE: f64 = 300.0;

/// What the records of one loan are drawn from.
pub struct LoanFacts<'a> {
    pub account: &'a str,
    pub balance: Decimal,
    pub days_past_due: u32,
    /// Percent, as the loans file has it.
    pub apr: Decimal,
    pub payment: Decimal,
    /// The value `run` matches, if any.
    pub value: Option<Decimal>,
    pub new_used: Option<crate::input::load::NewUsed>,
    /// Whole months from origination to as_of.
    pub age: u32,
}

/// The default model, whose pd table is the generator's truth (read once, not per loan).
static DEFAULT_MODEL: std::sync::LazyLock<crate::book::model::Model> =
    std::sync::LazyLock::new(crate::book::model::Model::default);

/// The probability of default of the default model, for `days` past due.
fn pd(days: u32) -> f64 {
    f64::try_from(DEFAULT_MODEL.pd_for(days)).unwrap_or(0.0)
}

/// The hazard of [`TRUE_HAZARD`] at `age`.
fn hazard(age: u32) -> f64 {
    TRUE_HAZARD
        .iter()
        .rev()
        .find(|(from, _)| age >= *from)
        .map_or(0.0, |(_, h)| *h)
}

/// The SMM at `age` of [`TRUE_ABS`].
fn smm(age: u32) -> f64 {
    if age == 0 {
        return 0.0;
    }
    let left = 1.0 - TRUE_ABS * f64::from(age - 1);
    if left <= TRUE_ABS {
        1.0
    } else {
        TRUE_ABS / left
    }
}

/// The record of a default in month `k` (labelled `label`): the balance charged off, the car sold at
/// the documented rule.
fn push_default(
    out: &mut String,
    (loan, projection): (&LoanFacts<'_>, &Projection),
    (label, k): (&str, u32),
    balance: Decimal,
    unit: &mut dyn FnMut() -> f64,
) {
    let value_then = loan.value.and_then(|v| {
        let cents = projection.value_along(loan.new_used, loan.age, v, k)?;
        Some(Decimal::from_i128_with_scale(cents as i128, 2))
    });
    let sale = value_then.map_or(Decimal::ZERO, |v| {
        let noise = Decimal::try_from((unit() * 2.0 - 1.0) * SALE_NOISE).unwrap_or_default();
        let rate: Decimal = SALE_RATE.parse().unwrap_or_default();
        let cost: Decimal = SALE_COST.parse().unwrap_or_default();
        (v * rate - cost + noise).round_dp(2)
    });
    let dpd = loan.days_past_due + 30 * k;
    let _ = writeln!(
        out,
        "{},{label},0.00,0.00,0.00,{balance:.2},,{sale:.2},{dpd}",
        loan.account
    );
}

/// How a loan's months go.
enum Path {
    /// Past due, drawn to default in this month: interest only until then.
    Defaults(u32),
    /// Month by month: default with the age hazard (current loans only), prepay, or pay.
    Drawn { hazard: bool },
}

/// Appends one loan's records, from the projection's as_of on; `unit` draws from the loan's own
/// outcome stream.
pub fn push_records(
    out: &mut String,
    loan: &LoanFacts<'_>,
    projection: &Projection,
    months: u32,
    unit: &mut dyn FnMut() -> f64,
) {
    let as_of = projection.as_of();
    let month = |k: u32| {
        let (y, m, _) = as_of.plus_months(k as i32).ymd();
        format!("{y:04}-{m:02}")
    };
    if loan.balance.is_zero() {
        let _ = writeln!(out, "{},{},0.00,0.00,0.00,,,,0", loan.account, month(1));
        return;
    }
    let path = match loan.days_past_due {
        0 => Path::Drawn { hazard: true },
        days => {
            let defaults = unit() < pd(days);
            let window = months.min(3);
            let default_month = 1 + ((unit() * f64::from(window)) as u32).min(window - 1);
            match defaults {
                true => Path::Defaults(default_month),
                false => Path::Drawn { hazard: false },
            }
        }
    };
    let rate = loan.apr / Decimal::from(1200);
    let mut balance = loan.balance;
    for k in 1..=months {
        let age = loan.age.saturating_add(k);
        let (defaults, prepays) = match path {
            Path::Defaults(m) => (k == m, false),
            Path::Drawn { hazard: h } => {
                let u = unit();
                let h = if h { hazard(age) } else { 0.0 };
                (u < h, u >= h && u < h + smm(age))
            }
        };
        if defaults {
            push_default(out, (loan, projection), (&month(k), k), balance, unit);
            return;
        }
        let interest = (balance * rate).round_dp(2);
        // A past-due loan drawn to default pays only the interest until its default month, so it
        // cannot pay off first and its realized default rate is the pd; a prepayment pays it all.
        let principal = match (&path, prepays) {
            (Path::Defaults(_), _) => Decimal::ZERO,
            (_, true) => balance,
            _ => (loan.payment - interest).max(Decimal::ZERO).min(balance),
        };
        balance -= principal;
        // A loan drawn to default stays as behind as it was (below 90 days) until its default month.
        let dpd = match path {
            Path::Defaults(_) => loan.days_past_due.min(89),
            Path::Drawn { .. } => 0,
        };
        let _ = writeln!(
            out,
            "{},{},{balance:.2},{principal:.2},{:.2},,,,{dpd}",
            loan.account,
            month(k),
            interest + principal
        );
        if balance.is_zero() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Date;

    /// The default config's curves from 2024-06-30.
    fn projection() -> Projection {
        let as_of = Date::parse("2024-06-30").unwrap();
        Projection::new(0, &crate::book::estimate::Estimate::defaults(false), as_of)
    }

    #[test]
    fn a_paying_loan_amortizes_to_zero_and_stops() {
        let loan = LoanFacts {
            account: "A",
            balance: "1000.00".parse().unwrap(),
            days_past_due: 0,
            apr: "12".parse().unwrap(),
            payment: "400.00".parse().unwrap(),
            value: None,
            new_used: None,
            age: 10,
        };
        let mut out = String::new();
        // Neither default nor prepayment (0.99 is above every hazard plus SMM).
        push_records(&mut out, &loan, &projection(), 12, &mut || 0.99);
        // 1% a month: 10.00 interest, 390.00 principal → 610.00; 6.10 → 216.10; 2.16 + 216.10.
        assert_eq!(
            out,
            "A,2024-07,610.00,390.00,400.00,,,,0\n\
             A,2024-08,216.10,393.90,400.00,,,,0\n\
             A,2024-09,0.00,216.10,218.26,,,,0\n"
        );
    }

    #[test]
    fn a_defaulter_is_charged_off_and_its_car_sold_at_the_documented_rule() {
        let loan = LoanFacts {
            account: "B",
            balance: "9000.00".parse().unwrap(),
            days_past_due: 30,
            apr: "0".parse().unwrap(),
            payment: "500.00".parse().unwrap(),
            value: Some("10000.00".parse().unwrap()),
            new_used: None,
            age: 10,
        };
        let mut out = String::new();
        // Draws: 0.0 defaults; 0.5 × min(3, 4) months → month 2; 0.5 → no noise.
        let mut draws = [0.0, 0.5, 0.5].into_iter();
        push_records(&mut out, &loan, &projection(), 4, &mut || {
            draws.next().unwrap()
        });
        // A new car (not `used`) keeps 1 − 0.2·m/12 of its value in its first year: from age 10 to 12,
        // 10,000 × 0.8 / (10/12) = 9,600.00. Sale: 0.60 × 9,600 − 600 = 5,160.00.
        assert_eq!(
            out,
            "B,2024-07,9000.00,0.00,0.00,,,,30\n\
             B,2024-08,0.00,0.00,0.00,9000.00,,5160.00,90\n"
        );
    }

    /// A current loan at age 10 + 1: a draw below the hazard (0.002) defaults, one between it and
    /// the hazard plus SMM(11) = 0.015 / (1 − 0.015 × 10) = 0.0176… prepays the whole balance.
    #[test]
    fn a_current_loan_defaults_below_the_hazard_and_prepays_below_hazard_plus_smm() {
        let loan = LoanFacts {
            account: "C",
            balance: "1000.00".parse().unwrap(),
            days_past_due: 0,
            apr: "12".parse().unwrap(),
            payment: "400.00".parse().unwrap(),
            value: Some("2000.00".parse().unwrap()),
            new_used: Some(crate::input::load::NewUsed::Used),
            age: 10,
        };
        let mut out = String::new();
        let mut draws = [0.001, 0.5].into_iter();
        push_records(&mut out, &loan, &projection(), 12, &mut || {
            draws.next().unwrap()
        });
        // A used car keeps 1 − 0.11·m/12 in its first year: from age 10 to 11, 2,000 × 10.79 / 10.9
        // = 1,979.8165… → 1,979.82. Sale: 0.60 × 1,979.82 − 600 = 587.892 → 587.89.
        assert_eq!(out, "C,2024-07,0.00,0.00,0.00,1000.00,,587.89,30\n");
        let mut out = String::new();
        push_records(&mut out, &loan, &projection(), 12, &mut || 0.019);
        assert_eq!(out, "C,2024-07,0.00,1000.00,1010.00,,,,0\n");
        let mut out = String::new();
        push_records(&mut out, &loan, &projection(), 12, &mut || 0.0197);
        assert!(out.starts_with("C,2024-07,610.00,390.00,400.00"), "{out}");
    }
}
