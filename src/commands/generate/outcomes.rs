//! `generate --outcome-months N`: what happened to a generated book, as loan-month records
//! (`outcomes.csv`, the form `backtest --outcomes` reads), with a known truth to calibrate against.
//!
//! The documented rules, per loan of the book at as_of (its own random stream, so the book's files
//! are the same with or without outcomes):
//! - a loan with nothing owed has one record, of a zero balance;
//! - it **defaults** within the N months with the probability the default model gives its days past
//!   due (2% current, 5% 1–29, 15% 30–59, 35% 60–89, 65% 90+), in a month drawn evenly from 1 … N.
//!   Until then it pays only the interest; in that month its balance is charged off and its car sold for
//!   **60% of its value at as_of, less $600**, ± up to $300 (the value is the one `run` matches: the
//!   latest valuation on or before as_of, the lowest on a tie, then the lowest source; a car without
//!   one sells for nothing), booked as repossession proceeds; then its records stop;
//! - any other loan is current from month 1 on, paying its scheduled payment (interest at its apr on
//!   the balance, the rest principal) until the balance is paid, and its records stop after that.
//!
//! Amounts are computed in exact decimals and written in cents.

use crate::date::Date;
use rust_decimal::Decimal;
use std::fmt::Write as _;

/// The header of outcomes.csv.
pub const OUTCOMES_HEADER: &str =
    "account_id,month,balance,principal_paid,amount_paid,charged_off,\
recoveries,repossession_proceeds,days_past_due";

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
}

/// The default model, whose pd table is the generator's truth (read once, not per loan).
static DEFAULT_MODEL: std::sync::LazyLock<crate::book::model::Model> =
    std::sync::LazyLock::new(crate::book::model::Model::default);

/// The probability of default of the default model, for `days` past due.
fn pd(days: u32) -> f64 {
    f64::try_from(DEFAULT_MODEL.pd_for(days)).unwrap_or(0.0)
}

/// Appends one loan's records; `unit` and `below` draw from the loan's own outcome stream.
pub fn push_records(
    out: &mut String,
    loan: &LoanFacts<'_>,
    as_of: Date,
    months: u32,
    unit: &mut dyn FnMut() -> f64,
) {
    let month = |k: u32| {
        let (y, m, _) = as_of.plus_months(k as i32).ymd();
        format!("{y:04}-{m:02}")
    };
    if loan.balance.is_zero() {
        let _ = writeln!(out, "{},{},0.00,0.00,0.00,,,,0", loan.account, month(1));
        return;
    }
    let defaults = unit() < pd(loan.days_past_due);
    let default_month = 1 + ((unit() * f64::from(months)) as u32).min(months - 1);
    let rate = loan.apr / Decimal::from(1200);
    let mut balance = loan.balance;
    for k in 1..=months {
        if defaults && k == default_month {
            let sale = loan.value.map_or(Decimal::ZERO, |v| {
                let noise =
                    Decimal::try_from((unit() * 2.0 - 1.0) * SALE_NOISE).unwrap_or_default();
                let rate: Decimal = SALE_RATE.parse().unwrap_or_default();
                let cost: Decimal = SALE_COST.parse().unwrap_or_default();
                (v * rate - cost + noise).round_dp(2)
            });
            let dpd = loan.days_past_due + 30 * k;
            let _ = writeln!(
                out,
                "{},{},0.00,0.00,0.00,{:.2},,{sale:.2},{dpd}",
                loan.account,
                month(k),
                balance
            );
            return;
        }
        let interest = (balance * rate).round_dp(2);
        // A defaulter pays only the interest until its default month, so it cannot pay off first
        // and its realized default rate is the pd.
        let principal = match defaults {
            true => Decimal::ZERO,
            false => (loan.payment - interest).max(Decimal::ZERO).min(balance),
        };
        balance -= principal;
        // A defaulter stays as behind as it was (below 90 days) until its default month.
        let dpd = if defaults {
            loan.days_past_due.min(89)
        } else {
            0
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

    #[test]
    fn a_paying_loan_amortizes_to_zero_and_stops() {
        let loan = LoanFacts {
            account: "A",
            balance: "1000.00".parse().unwrap(),
            days_past_due: 0,
            apr: "12".parse().unwrap(),
            payment: "400.00".parse().unwrap(),
            value: None,
        };
        let mut out = String::new();
        let as_of = Date::parse("2024-06-30").unwrap();
        // No default (0.99 is above every pd).
        push_records(&mut out, &loan, as_of, 12, &mut || 0.99);
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
        };
        let mut out = String::new();
        let as_of = Date::parse("2024-06-30").unwrap();
        // Draws: 0.0 defaults; 0.25 × 4 months → month 2; 0.5 → no noise.
        let mut draws = [0.0, 0.25, 0.5].into_iter();
        push_records(&mut out, &loan, as_of, 4, &mut || draws.next().unwrap());
        // Sale: 0.60 × 10,000 − 600 = 5,400.00.
        assert_eq!(
            out,
            "B,2024-07,9000.00,0.00,0.00,,,,30\n\
             B,2024-08,0.00,0.00,0.00,9000.00,,5400.00,90\n"
        );
    }
}
