//! The level monthly payment of a loan whose file does not give one.

use crate::money::cents;
use rust_decimal::Decimal;

/// The level monthly payment of `amount` over `term` months at `apr` percent, rounded to cents:
/// `A·r / (1 − (1 + r)^−n)` with `r = apr / 1200`, or `A / n` at 0%. When `(1 + r)^n` leaves decimal's
/// range the payment is its limit `A·r`, the interest alone (such an account is then not projected).
pub fn level_payment(amount: Decimal, apr: Decimal, term: u32) -> Decimal {
    if apr.is_zero() || term == 0 {
        return cents(amount / Decimal::from(term.max(1)));
    }
    let r = apr / Decimal::from(1200);
    let growth = pow(Decimal::ONE + r, term);
    match growth.and_then(|f| {
        let top = amount.checked_mul(r)?.checked_mul(f)?;
        top.checked_div(f - Decimal::ONE)
    }) {
        Some(p) => cents(p),
        None => cents(amount * apr / Decimal::from(1200)),
    }
}

/// `base^n` by repeated squaring; None when it leaves decimal's range.
fn pow(base: Decimal, mut n: u32) -> Option<Decimal> {
    let (mut result, mut b) = (Decimal::ONE, base);
    while n > 0 {
        if n & 1 == 1 {
            result = result.checked_mul(b)?;
        }
        n >>= 1;
        if n > 0 {
            b = b.checked_mul(b)?;
        }
    }
    Some(result)
}
