//! What really happened to an account after as_of: the walk over its monthly records that finds its
//! default month, the balance it defaulted with, what was recovered and the loss that remained.
//!
//! The rules (docs/GUIDE.md "Backtest"), for month k = 1 … the horizon, each only where the file
//! carries its fields ([`Rules`]):
//! - (a) `charge_off`: a charge-off, repossession proceeds or recoveries other than 0 that month;
//! - (b) `written_off`: the balance reaches 0 while the principal collected that month is below the
//!   previous month's balance minus $10;
//! - (c) `dpd_90`: 90 days past due where the records carry it, and not current again (under 30 days)
//!   later in the data; without it (a panel), three months in a row with no payment (month 0 counts)
//!   and no payment in any later month of the data (a deferral, or a delinquency that cures, is not a
//!   default).
//!
//! A month with no record ends the walk (the loan left the pool); a balance paid to 0 ends it too; a
//! record without a balance goes on from the last balance reported. The rules compare exact amounts;
//! the account's balance at default, recoveries and loss are rounded once to cents, so every table sums
//! the cents backtest.csv shows.

pub use crate::input::outcomes::{Amount, History, MonthFields, MonthRecord, Rules};
use crate::money::cents;
use rust_decimal::Decimal;

/// The rules, as summary.json states them.
pub const RULES: &str = "default month = the first month k in 1..horizon with (a) a charge-off, repossession \
proceeds or recoveries other than 0, (b) the balance reaching 0 with principal collected below the previous \
balance minus $10, or (c) 90+ days past due and not under 30 later in the data (panels: 3 months in a row \
without payment, month 0 counting, and no payment later in the data), each rule only where the file carries \
its fields; a month without a record ends the walk. balance_at_default = the balance at \
the end of month k-1; recoveries = every recovery and repossession proceed from month k to the end of the \
data; realized_loss = max(balance_at_default - recoveries, 0)";

/// Which rule marked the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    ChargeOff,
    WrittenOff,
    Dpd90,
}

impl Rule {
    pub fn label(self) -> &'static str {
        match self {
            Rule::ChargeOff => "charge_off",
            Rule::WrittenOff => "written_off",
            Rule::Dpd90 => "dpd_90",
        }
    }
}

/// How an account's walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Defaulted,
    /// Open to the horizon (or to the end of the data) without a default.
    Performing,
    /// Paid to 0 within the horizon.
    PaidOff,
    /// Its records stop within the horizon without a default: it left the pool.
    LeftPool,
    /// A balance of 0 at as_of: it cannot default.
    ClosedAtAsOf,
}

impl Status {
    /// Open at as_of: an account whose pd can be tested.
    pub fn tested(self) -> bool {
        self != Status::ClosedAtAsOf
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Defaulted => "defaulted",
            Status::Performing => "performing",
            Status::PaidOff => "paid_off",
            Status::LeftPool => "left_pool",
            Status::ClosedAtAsOf => "closed_at_as_of",
        }
    }
}

/// What happened to one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Realized {
    pub status: Status,
    /// The default's month and rule.
    pub default: Option<(u32, Rule)>,
    /// The balance at the end of the month before the default.
    pub balance_at_default: Decimal,
    /// Every repossession proceed and recovery from the default month to the end of the data.
    pub recoveries: Decimal,
    /// max(balance at default − recoveries, 0).
    pub realized_loss: Decimal,
    /// The months the account was seen at risk: to its default or payoff (that month included), to
    /// its last record before it left the pool, else to the horizon or the data's end.
    pub months_at_risk: u32,
    /// Paid off: the balance at the end of the month before (a payoff of no more than the scheduled
    /// payment is the schedule's last, not a prepayment).
    pub balance_before_payoff: Decimal,
}

/// Written off: the principal collected falls short of the previous balance by more than this.
const WRITE_OFF_TOLERANCE: Decimal = Decimal::from_parts(10, 0, 0, false, 0);

/// An account with a balance of 0 at as_of: it cannot default, whatever its records.
pub fn closed_at_as_of() -> Realized {
    Realized {
        status: Status::ClosedAtAsOf,
        default: None,
        balance_at_default: Decimal::ZERO,
        recoveries: Decimal::ZERO,
        realized_loss: Decimal::ZERO,
        months_at_risk: 0,
        balance_before_payoff: Decimal::ZERO,
    }
}

/// Walks an account's `history` from its balance at as_of over `horizon` months.
pub fn walk(balance_at_as_of: Decimal, history: &History<'_>, horizon: u32) -> Realized {
    let mut realized = Realized {
        status: Status::Performing,
        ..closed_at_as_of()
    };
    if balance_at_as_of <= Decimal::ZERO {
        return closed_at_as_of();
    }
    let mut previous = balance_at_as_of;
    let mut unpaid_run = history.unpaid_run;
    for k in 1..=horizon {
        let Some(m) = history.month(k) else { break };
        realized.months_at_risk = k;
        unpaid_run = if m.paid() { 0 } else { unpaid_run + 1 };
        if let Some(rule) = default_rule(m, previous, history, k, unpaid_run) {
            let recoveries: Decimal = history.records_from(k).map(MonthRecord::recovered).sum();
            let (balance, recoveries) = (cents(previous), cents(recoveries));
            realized.status = Status::Defaulted;
            realized.default = Some((k, rule));
            realized.balance_at_default = balance;
            realized.recoveries = recoveries;
            realized.realized_loss = cents((balance - recoveries).max(Decimal::ZERO));
            return realized;
        }
        if !m.is_record() {
            realized.status = Status::LeftPool;
            realized.months_at_risk = k - 1;
            return realized;
        }
        match m.balance.get() {
            // Not reported this month: the walk goes on from the last balance that was.
            None => {}
            Some(b) if b <= Decimal::ZERO => {
                realized.status = Status::PaidOff;
                realized.balance_before_payoff = previous;
                return realized;
            }
            Some(b) => previous = b,
        }
    }
    realized
}

/// The rule that marks month `k` as the default month, if any, in the order (a), (b), (c); a rule
/// whose fields the file does not carry never fires.
fn default_rule(
    m: &MonthRecord,
    previous: Decimal,
    history: &History<'_>,
    k: u32,
    unpaid_run: u32,
) -> Option<Rule> {
    let rules = &history.rules;
    if rules.charge_off && m.charge_off_event() {
        return Some(Rule::ChargeOff);
    }
    if !m.is_record() {
        return None;
    }
    if rules.written_off {
        // An empty principal cell in a file that carries the column reads as nothing collected.
        let principal = m.principal_paid.get().unwrap_or_default();
        if m.balance.get().is_some_and(|b| b <= Decimal::ZERO)
            && principal < previous - WRITE_OFF_TOLERANCE
        {
            return Some(Rule::WrittenOff);
        }
    }
    if !rules.dpd_90 {
        return None;
    }
    let delinquent = if rules.by_days_past_due {
        m.dpd_90() && !history.records_from(k + 1).any(MonthRecord::current)
    } else {
        unpaid_run >= 3 && !history.records_from(k + 1).any(MonthRecord::paid)
    };
    delinquent.then_some(Rule::Dpd90)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::outcomes::Outcomes;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn a(s: &str) -> Amount {
        Amount::of(Some(d(s)))
    }

    /// A month with a balance and a payment (principal = payment here).
    fn paid(balance: &str, payment: &str) -> MonthFields {
        MonthFields {
            balance: a(balance),
            principal_paid: a(payment),
            amount_paid: a(payment),
            ..MonthFields::default()
        }
    }

    fn unpaid(balance: &str) -> MonthFields {
        MonthFields {
            balance: a(balance),
            amount_paid: a("0"),
            ..MonthFields::default()
        }
    }

    /// A panel's history: month 0 paid, the data ending with `months`.
    fn panel(months: &[MonthFields]) -> Outcomes {
        Outcomes::of_one(Some(d("300")), months, Rules::ALL)
    }

    #[test]
    fn a_paid_loan_performs_and_a_paid_off_one_stops() {
        let months = [paid("9700", "300"), paid("9400", "300")];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        assert_eq!(walk(d("10000"), &h, 12).status, Status::Performing);
        let months = [paid("9700", "300"), paid("0", "9700")];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        assert_eq!(walk(d("10000"), &h, 12).status, Status::PaidOff);
        // A missing month ends the walk: the loan left the pool, whatever comes later.
        let months = [paid("9700", "300"), MonthFields::default(), unpaid("9700")];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        assert_eq!(walk(d("10000"), &h, 12).status, Status::LeftPool);
    }

    #[test]
    fn a_repossession_in_month_2_defaults_with_last_months_balance_and_every_later_recovery() {
        let mut m2 = unpaid("0");
        m2.repossession_proceeds = a("-400.00"); // costs booked before the sale
        let m3 = MonthFields {
            recoveries: a("5000.00"),
            ..MonthFields::default()
        };
        let m4 = MonthFields {
            recoveries: a("250.50"),
            ..MonthFields::default()
        };
        let months = [paid("9700", "300"), m2, m3, m4];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        // Horizon 2: the default is in it; the recoveries run to the end of the data.
        let r = walk(d("10000"), &h, 2);
        assert_eq!(r.default, Some((2, Rule::ChargeOff)));
        assert_eq!(r.balance_at_default, d("9700"));
        assert_eq!(r.recoveries, d("4850.50")); // -400 + 5000 + 250.50
        assert_eq!(r.realized_loss, d("4849.50"));
        // Horizon 1: no default yet.
        assert_eq!(walk(d("10000"), &h, 1).default, None);
    }

    #[test]
    fn a_balance_written_to_zero_defaults_but_a_payoff_within_ten_dollars_does_not() {
        let months = [paid("9700", "300"), unpaid("0")];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        let r = walk(d("10000"), &h, 12);
        assert_eq!(r.default, Some((2, Rule::WrittenOff)));
        assert_eq!(r.realized_loss, d("9700"));
        let months = [paid("9700", "300"), paid("0", "9690.01")];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        assert_eq!(walk(d("10000"), &h, 12).status, Status::PaidOff);
        let months = [paid("9700", "300"), paid("0", "9689.99")];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        assert_eq!(
            walk(d("10000"), &h, 12).default,
            Some((2, Rule::WrittenOff))
        );
    }

    #[test]
    fn three_unpaid_months_default_unless_payments_resume_later() {
        // Month 0 unpaid counts: months 0, 1, 2 unpaid → default in month 2.
        let months = [unpaid("10000"), unpaid("10000"), unpaid("10000")];
        let o = panel(&months);
        let mut h = o.history(0, 0).unwrap();
        h.unpaid_run = 1;
        let r = walk(d("10000"), &h, 12);
        assert_eq!(r.default, Some((2, Rule::Dpd90)));
        assert_eq!(r.balance_at_default, d("10000"));
        // A deferral: three unpaid months, then payments resume (beyond the horizon too).
        let months = [
            unpaid("10000"),
            unpaid("10000"),
            unpaid("10000"),
            paid("9700", "300"),
        ];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        assert_eq!(walk(d("10000"), &h, 3).default, None);
        assert_eq!(walk(d("10000"), &h, 12).status, Status::Performing);
        // Never resumed: the third unpaid month (month 3) is the default month.
        let months = [unpaid("10000"), unpaid("10000"), unpaid("10000")];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        assert_eq!(walk(d("10000"), &h, 12).default, Some((3, Rule::Dpd90)));
    }

    #[test]
    fn records_with_days_past_due_use_them() {
        let mut m2 = paid("9500", "10");
        m2.days_past_due = Some(90);
        let months = [unpaid("9700"), m2];
        let rules = Rules {
            by_days_past_due: true,
            ..Rules::ALL
        };
        let o = Outcomes::of_one(None, &months, rules);
        let h = o.history(0, 0).unwrap();
        let r = walk(d("10000"), &h, 12);
        assert_eq!(r.default, Some((2, Rule::Dpd90)));
        assert_eq!(r.balance_at_default, d("9700"));
    }

    #[test]
    fn a_zero_balance_at_as_of_cannot_default() {
        let months = [unpaid("0")];
        let o = panel(&months);
        let h = o.history(0, 0).unwrap();
        assert_eq!(walk(Decimal::ZERO, &h, 12).status, Status::ClosedAtAsOf);
    }
}
