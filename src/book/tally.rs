//! The summary metrics of a group of accounts ([`Tally`]), summed exactly in integer cents
//! ([`Cents`], [`ExactSum`]) so a table does not depend on how the parallel fold split the book.

use crate::book::metrics::{Figures, SummaryCents};
use crate::input::load::Loan;
use crate::money::ratio;
use rust_decimal::Decimal;

/// An exact sum of cent amounts. Per-account figures are already rounded to cents, so their sums are
/// integers of cents: adding them as `i128` is exact and much cheaper than decimal addition.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Cents(pub i128);

impl Cents {
    /// Cents of a figure rounded to 2 places (see [`crate::money::cents`]).
    pub fn of(d: Decimal) -> Cents {
        debug_assert_eq!(
            d.scale(),
            2,
            "figures are rounded to cents before they are summed"
        );
        Cents(d.mantissa())
    }

    pub fn dec(self) -> Decimal {
        Decimal::from_i128_with_scale(self.0, 2)
    }
}

impl std::ops::AddAssign for Cents {
    fn add_assign(&mut self, o: Cents) {
        self.0 += o.0;
    }
}

/// An exact sum of decimals, as `Decimal`'s own `+` would give it (same digits, same scale), kept as
/// an integer of 10^-4 units while every term has at most 4 places (every amount read from a file:
/// [`crate::money::parse_amount`] allows 4), and in decimal beyond. Adding two `Decimal`s for each of
/// the dozen tables an account lands in was 4% of the figures stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExactSum {
    units: i128,
    /// The largest scale of the terms held in `units`: the scale `Decimal`'s sum of them would have.
    scale: u32,
    /// The terms with more than 4 places.
    #[serde(with = "rust_decimal::serde::str")]
    rest: Decimal,
    /// The sum left `i128`'s range (no book comes near: 4 billion balances of $10^12 are 4·10^25
    /// units), so it has no value rather than a wrapped one.
    overflowed: bool,
}

impl ExactSum {
    const UNITS: u32 = 4;

    /// Inlined: a dozen calls per account.
    #[inline]
    pub fn add(&mut self, d: Decimal) {
        const TO_UNITS: [i128; 5] = [10_000, 1_000, 100, 10, 1];
        match TO_UNITS.get(d.scale() as usize) {
            Some(&to_units) => {
                match d
                    .mantissa()
                    .checked_mul(to_units)
                    .and_then(|u| self.units.checked_add(u))
                {
                    Some(units) => self.units = units,
                    None => self.overflowed = true,
                }
                self.scale = self.scale.max(d.scale());
            }
            None => match self.rest.checked_add(d) {
                Some(rest) => self.rest = rest,
                None => self.overflowed = true,
            },
        }
    }

    pub fn merge(&mut self, o: &ExactSum) {
        match (
            self.units.checked_add(o.units),
            self.rest.checked_add(o.rest),
        ) {
            (Some(units), Some(rest)) => (self.units, self.rest) = (units, rest),
            _ => self.overflowed = true,
        }
        self.scale = self.scale.max(o.scale);
        self.overflowed |= o.overflowed;
    }

    /// The sum; None beyond `Decimal`'s 96 bits (where `Decimal`'s `+` would have panicked).
    pub fn value(&self) -> Option<Decimal> {
        if self.overflowed {
            return None;
        }
        let mut held = Decimal::try_from_i128_with_scale(self.units, Self::UNITS).ok()?;
        // Exact: the units below the terms' largest scale are zeros.
        held.rescale(self.scale);
        held.checked_add(self.rest)
    }
}

/// The summary metrics of a group of accounts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub accounts: u64,
    /// Accounts whose balance rounds to $0.00: paid off, still on the book, never underwater.
    pub closed_accounts: u64,
    pub balance: Cents,
    /// Sum of values over accounts with a value (closed ones included, so it reconciles to accounts.csv).
    pub value: Cents,
    /// Open accounts with a value: the accounts that can be underwater, so the denominator of
    /// `share_underwater`.
    pub valued_accounts: u64,
    /// Balance of the accounts with a value (the weight of the average LTV), unrounded.
    pub valued_balance_raw: ExactSum,
    pub underwater_accounts: u64,
    /// Accounts whose value is an estimate (loan tapes), and how many of them are underwater.
    pub estimated_accounts: u64,
    pub estimated_underwater_accounts: u64,
    /// Balance of the accounts whose value is an estimate.
    pub estimated_balance: Cents,
    pub negative_equity: Cents,
    pub deficiency_if_default: Cents,
    pub expected_deficiency: Cents,
    /// Σ lifetime expected deficiency over the accounts that have one (0 when the lifetime figures
    /// are off; the tables show it only when they are on).
    pub lifetime_expected_deficiency: Cents,
    /// Accounts with lifetime figures.
    pub lifetime_accounts: u64,
    /// Σ balance × exact LTV over accounts with a value, in units of 10^-12; `None` if it left `i128`'s
    /// range or was not computed (stress scenarios).
    pub balance_times_ltv: Option<i128>,
}

impl Tally {
    /// No accounts; unlike `default()`, the LTV sum starts at 0 rather than "out of range".
    pub(crate) fn zero() -> Tally {
        Tally {
            balance_times_ltv: Some(0),
            ..Tally::default()
        }
    }

    pub fn add(&mut self, loan: &Loan, f: &Figures) {
        let cents = SummaryCents {
            balance: Cents::of(f.balance).0,
            value: f
                .valued
                .as_ref()
                .map(|v| (Cents::of(v.value).0, v.estimated)),
            negative_equity: f
                .valued
                .as_ref()
                .map_or(0, |v| Cents::of(v.negative_equity).0),
            deficiency_if_default: Cents::of(f.deficiency_if_default).0,
            expected_deficiency: Cents::of(f.expected_deficiency).0,
            bucket: f.bucket,
        };
        let weight = f.valued.as_ref().and_then(|v| v.balance_times_ltv);
        self.add_cents(loan, &cents, weight);
    }

    /// Adds an account's lifetime figures (none: counted nowhere).
    pub fn add_lifetime(&mut self, l: crate::book::lifetime::AccountLifetime) {
        if let Some(l) = l.get() {
            self.lifetime_accounts += 1;
            self.lifetime_expected_deficiency.0 += i128::from(l.loss);
        }
    }

    /// [`Tally::add`] for figures in integers of cents, with the account's LTV weight (`None`: not
    /// computed, as for a stress scenario, which leaves the table's average LTV out).
    pub fn add_cents(&mut self, loan: &Loan, f: &SummaryCents, weight: Option<i128>) {
        self.accounts += 1;
        let open = f.balance != 0;
        self.closed_accounts += u64::from(!open);
        self.balance.0 += f.balance;
        self.deficiency_if_default.0 += f.deficiency_if_default;
        self.expected_deficiency.0 += f.expected_deficiency;
        if let Some((value, estimated)) = f.value {
            self.valued_accounts += u64::from(open);
            self.value.0 += value;
            self.valued_balance_raw.add(loan.balance);
            let underwater = f.negative_equity > 0;
            if underwater {
                self.underwater_accounts += 1;
                self.negative_equity.0 += f.negative_equity;
            }
            if estimated {
                self.estimated_accounts += 1;
                self.estimated_underwater_accounts += u64::from(underwater);
                self.estimated_balance.0 += f.balance;
            }
            self.balance_times_ltv = self
                .balance_times_ltv
                .zip(weight)
                .and_then(|(s, x)| s.checked_add(x));
        }
    }

    /// Adds another group's tally. Destructured, so a field added to the tally and not merged here
    /// does not compile.
    pub fn merge(&mut self, o: &Tally) {
        let Tally {
            accounts,
            closed_accounts,
            balance,
            value,
            valued_accounts,
            valued_balance_raw,
            underwater_accounts,
            estimated_accounts,
            estimated_underwater_accounts,
            estimated_balance,
            negative_equity,
            deficiency_if_default,
            expected_deficiency,
            lifetime_expected_deficiency,
            lifetime_accounts,
            balance_times_ltv,
        } = o;
        self.lifetime_expected_deficiency += *lifetime_expected_deficiency;
        self.lifetime_accounts += lifetime_accounts;
        self.accounts += accounts;
        self.closed_accounts += closed_accounts;
        self.balance += *balance;
        self.value += *value;
        self.valued_accounts += valued_accounts;
        self.valued_balance_raw.merge(valued_balance_raw);
        self.underwater_accounts += underwater_accounts;
        self.estimated_accounts += estimated_accounts;
        self.estimated_underwater_accounts += estimated_underwater_accounts;
        self.estimated_balance += *estimated_balance;
        self.negative_equity += *negative_equity;
        self.deficiency_if_default += *deficiency_if_default;
        self.expected_deficiency += *expected_deficiency;
        self.balance_times_ltv = match (self.balance_times_ltv, *balance_times_ltv) {
            (Some(a), Some(b)) => a.checked_add(b),
            _ => None,
        };
    }

    /// Share of the valued open accounts that are underwater, 4 places (None when there are none).
    /// Closed accounts and accounts with no value cannot be underwater; counting them would dilute
    /// the share a risk person quotes.
    pub fn share_underwater(&self) -> Option<Decimal> {
        (self.valued_accounts > 0).then(|| {
            ratio(
                Decimal::from(self.underwater_accounts),
                Decimal::from(self.valued_accounts),
                4,
            )
        })
    }

    /// Share of the balance whose value is an estimate, 4 places (None for a zero balance).
    pub fn estimated_balance_share(&self) -> Option<Decimal> {
        (self.balance.0 != 0).then(|| ratio(self.estimated_balance.dec(), self.balance.dec(), 4))
    }

    /// Balance-weighted average LTV over accounts with a value, 4 places.
    pub fn avg_ltv(&self) -> Option<Decimal> {
        let valued_balance = self.valued_balance_raw.value()?;
        if valued_balance.is_zero() {
            return None;
        }
        let weighted = Decimal::try_from_i128_with_scale(self.balance_times_ltv?, 12).ok()?;
        // The quotient carries 28 significant digits; round it once to 4 places.
        weighted
            .checked_div(valued_balance)
            .map(|q| crate::money::round_to(q, 4))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// The sum written out as `Decimal`'s own `+` writes it (digits and scale), worked by hand:
    /// terms of 0 to 4 places held as integers, one of 6 places held apart, and halves merged.
    #[test]
    fn exact_sums_read_as_decimal_sums() {
        let sum = |terms: &[&str]| {
            let mut s = ExactSum::default();
            for t in terms {
                s.add(Decimal::from_str(t).unwrap());
            }
            s
        };
        let shown = |s: ExactSum| s.value().unwrap().to_string();
        assert_eq!(shown(sum(&[])), "0");
        assert_eq!(shown(sum(&["19000.00", "0.05", "-3.10"])), "18996.95");
        assert_eq!(shown(sum(&["7", "2.5"])), "9.5");
        assert_eq!(shown(sum(&["1.2345", "0.0005"])), "1.2350");
        assert_eq!(shown(sum(&["1.50", "0.000001"])), "1.500001");
        let mut halves = sum(&["10.25", "1"]);
        halves.merge(&sum(&["0.125", "0.0000001"]));
        assert_eq!(shown(halves), "11.3750001");
        // Past decimal's 96 bits, and past i128's: no value, rather than a panic or a wrapped one.
        let mut big = ExactSum::default();
        for _ in 0..10 {
            big.add(Decimal::MAX);
        }
        assert_eq!(big.value(), None);
        for _ in 0..1_000_000 {
            big.add(Decimal::MAX);
        }
        assert!(big.overflowed && big.value().is_none());
        let mut fine = sum(&["1"]);
        fine.merge(&big);
        assert_eq!(fine.value(), None);
    }
}
