//! `backtest --start-month k`: the book as it stood k months after the tape's period, so one panel
//! gives several origins (out-of-time validation).
//!
//! An account is in the book at month k when it was open at month 0 and its walk over months 1 … k
//! ([`crate::book::outcome::walk`], the backtest's own rules) neither defaulted, paid off nor left the
//! pool. Its balance is the last one reported by month k, in cents; its as_of moves k months on (so
//! its age is a + k, its remaining term and value follow); its days past due are:
//! - where the records carry days past due: month k's, as reported (none reported: 0);
//! - otherwise, where they carry the amount paid, from n, the months in a row without a payment that
//!   end with month k (month 0 counting, as in the no-payment default rule): 0 days for n = 0, 1 day
//!   for n = 1 (this month's payment is late, not yet a cycle: panels show many accounts that skip a
//!   month and pay two the next), `30 × (n − 1)` from n = 2. Shortfalls of partial payments are not
//!   added up: extensions and deferrals move the due dates, which the panel does not show, and summed
//!   shortfalls put 3.2% of the Ally 2017-3 book at month 18 in 90+ against 0.9% by this rule;
//! - otherwise 0: nothing in the file says the account is behind.
//!
//! Its history then starts after month k ([`History::from_month`]).

use crate::book::outcome::{walk, History, Status};
use crate::input::load::Loan;
use crate::input::Loans;
use crate::money::cents;
use rust_decimal::Decimal;

/// Where the accounts of the book at month 0 went by month k.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Gone {
    /// A balance of 0 at month 0.
    pub closed_at_start: u64,
    /// No outcome records: its balance at month k is unknown.
    pub no_records: u64,
    pub defaulted: u64,
    pub paid_off: u64,
    pub left_pool: u64,
}

/// The book re-anchored at month k.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Months after the tape's period.
    pub month: u32,
    /// Accounts of the book at month 0.
    pub accounts_at_start: u64,
    pub gone: Gone,
    /// Per loan of the re-anchored book, its index in the book at month 0 (whose records it has).
    pub loan_at_start: Vec<u32>,
}

/// Where one account stands at month k, or where it went.
enum Standing {
    Open {
        balance: Decimal,
        days_past_due: u32,
    },
    Gone(fn(&mut Gone) -> &mut u64),
}

fn standing(loan: &Loan, history: Option<History<'_>>, k: u32) -> Standing {
    let balance = loan.balance;
    if balance <= Decimal::ZERO {
        return Standing::Gone(|g| &mut g.closed_at_start);
    }
    let Some(h) = history else {
        return Standing::Gone(|g| &mut g.no_records);
    };
    match walk(balance, &h, k).status {
        Status::Defaulted => Standing::Gone(|g| &mut g.defaulted),
        Status::PaidOff => Standing::Gone(|g| &mut g.paid_off),
        Status::LeftPool | Status::ClosedAtAsOf => Standing::Gone(|g| &mut g.left_pool),
        Status::Performing => {
            let reported = (1..=k)
                .rev()
                .find_map(|m| h.month(m).and_then(|r| r.balance.get()));
            Standing::Open {
                balance: cents(reported.unwrap_or(balance)),
                days_past_due: days_past_due_at(&h, k),
            }
        }
    }
}

/// Days past due at month k, as the module doc defines them.
fn days_past_due_at(h: &History<'_>, k: u32) -> u32 {
    if h.rules.by_days_past_due {
        return h.month(k).and_then(|r| r.days_past_due()).unwrap_or(0);
    }
    if !h.rules.dpd_90 {
        return 0;
    }
    match h.from_month(k).unpaid_run {
        0 => 0,
        1 => 1,
        n => 30 * (n - 1),
    }
}

/// Re-anchors `loans` (the book at month 0) at month `k`: keeps the accounts open then, with their
/// balance and days past due at month k; `history` gives a loan's records by its index at month 0
/// and its file line.
pub fn reanchor<'h>(
    loans: &mut Loans,
    k: u32,
    history: impl Fn(usize, u64) -> Option<History<'h>>,
) -> Origin {
    let mut gone = Gone::default();
    let mut new_index = vec![u32::MAX; loans.loans.len()];
    let mut loan_at_start = Vec::new();
    let accounts_at_start = loans.loans.len() as u64;
    let mut kept = Vec::with_capacity(loans.loans.len());
    for (i, mut loan) in std::mem::take(&mut loans.loans).into_iter().enumerate() {
        match standing(&loan, history(i, loan.line), k) {
            Standing::Gone(count) => *count(&mut gone) += 1,
            Standing::Open {
                balance,
                days_past_due,
            } => {
                loan.balance = balance;
                loan.days_past_due = days_past_due;
                new_index[i] = kept.len() as u32;
                loan_at_start.push(i as u32);
                kept.push(loan);
            }
        }
    }
    loans.loans = kept;
    loans.order = loans
        .order
        .iter()
        .map(|&i| new_index[i as usize])
        .filter(|&i| i != u32::MAX)
        .collect();
    Origin {
        month: k,
        accounts_at_start,
        gone,
        loan_at_start,
    }
}
