//! An account's schedule in integers: where it starts, its monthly terms, and its value month by
//! month along the curve.

use super::*;

/// Where an account's schedule starts: its age in months at as_of, and its balance and value in
/// cents.
#[derive(Clone, Copy)]
pub(super) struct Start {
    pub(super) age: u32,
    pub(super) balance: u128,
    pub(super) value: u128,
}

/// An account's monthly terms as integers: the payment in cents, and the rate as `apr_m / apr_div`
/// a month (apr = m / 10^s percent a year: the month's interest on B cents is B·m / (1200·10^s)).
pub(super) struct Terms {
    pub(super) apr: Decimal,
    pub(super) payment: u128,
    pub(super) apr_m: u128,
    pub(super) apr_div: u128,
    /// `apr_m` and `apr_div` when both fit 64 bits.
    pub(super) fast: Option<(u64, u64)>,
}

impl Terms {
    pub(super) fn of(loan: &Loan) -> Result<Terms, NotProjected> {
        let apr = loan.apr().ok_or(NotProjected::NoApr)?;
        let payment = match loan.monthly_payment() {
            Some(p) => p,
            None => level_payment(loan.amount_financed, apr, loan.term_months),
        };
        let payment = cents_int(payment).unwrap_or(0);
        let apr_m = u128::try_from(apr.mantissa()).map_err(|_| NotProjected::NoApr)?;
        let apr_div = 1200 * 10u128.pow(apr.scale());
        let fast = u64::try_from(apr_m).ok().zip(u64::try_from(apr_div).ok());
        Ok(Terms {
            apr,
            payment,
            apr_m,
            apr_div,
            fast,
        })
    }

    /// The month's interest on `b` cents, rounded half to even.
    pub(super) fn interest(&self, b: u128) -> u128 {
        if let Some((m, d)) = self.fast {
            if let Some(n) = u64::try_from(b).ok().and_then(|b| b.checked_mul(m)) {
                return u128::from(div_half_even_u64(n, d));
            }
        }
        match b.checked_mul(self.apr_m) {
            Some(n) => div_half_even(n, self.apr_div),
            // Beyond 10^38: only a balance of 10^24 dollars at a rate with 14 decimals gets here.
            None => cents_int(
                Decimal::from_i128_with_scale(b as i128, 2) * self.apr / Decimal::from(1200),
            )
            .unwrap_or(u128::MAX / 4),
        }
    }
}

/// The car's value month by month: V0 · share(age + k) / share(age), rounded once.
pub(super) struct ValuePath<'c> {
    pub(super) curve: &'c ExactCurve,
    pub(super) age: u32,
    pub(super) v0: u128,
    /// The share kept at `age`, as a fraction.
    pub(super) now: (u128, u128),
}

impl ValuePath<'_> {
    pub(super) fn at(&self, k: u32) -> u128 {
        let (v0, (now_num, now_den)) = (self.v0, self.now);
        let (num, den) = self.curve.retained(self.age.saturating_add(k));
        if (num, den) == (now_num, now_den) {
            return v0;
        }
        // Same-segment denominators cancel.
        let (top, bottom) = if den == now_den {
            (num, now_num)
        } else {
            (num * now_den, now_num * den)
        };
        let fast = u64::try_from(v0)
            .ok()
            .zip(u64::try_from(top).ok())
            .and_then(|(v, t)| v.checked_mul(t))
            .zip(u64::try_from(bottom).ok());
        if let Some((n, d)) = fast {
            return u128::from(div_half_even_u64(n, d));
        }
        match v0.checked_mul(top) {
            Some(n) => div_half_even(n, bottom),
            // A value of 10^12 dollars with curve points years apart: decimal, 28 digits.
            None => {
                let v = Decimal::from_i128_with_scale(v0 as i128, 2);
                let q = Decimal::from(num) * Decimal::from(now_den)
                    / (Decimal::from(now_num) * Decimal::from(den));
                cents_int(v * q).unwrap_or(0)
            }
        }
    }
}
