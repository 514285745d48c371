//! The outcome histories: the month records as the default rules read them, where they were read,
//! and each account's months in order as a list of their places.

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::path::PathBuf;

/// An optional amount of at most 12 integer digits and 4 decimals (what `parse_amount` reads), in 8
/// bytes, as ten-thousandths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount(i64);

impl Amount {
    pub const NONE: Amount = Amount(i64::MIN);

    pub fn of(amount: Option<Decimal>) -> Amount {
        amount
            .and_then(|d| i64::try_from(crate::money::mantissa_at(d.round_dp(4), 4)).ok())
            .filter(|&m| m != i64::MIN)
            .map_or(Amount::NONE, Amount)
    }

    pub fn get(self) -> Option<Decimal> {
        (self != Amount::NONE).then(|| Decimal::new(self.0, 4))
    }

    /// An amount's text, as [`crate::money::parse_amount`] reads it.
    pub fn parse(text: &str) -> Result<Amount, crate::money::AmountError> {
        crate::money::parse_amount_e4(text).map(Amount)
    }

    /// Other than none and 0.
    fn is_nonzero(self) -> bool {
        self != Amount::NONE && self.0 != 0
    }

    /// The amount, 0 for none, in ten-thousandths.
    fn or_zero(self) -> i64 {
        match self {
            Amount::NONE => 0,
            Amount(a) => a,
        }
    }
}

impl Default for Amount {
    fn default() -> Amount {
        Amount::NONE
    }
}

/// One month of an account's records as read (month k ≥ 1 after as_of); none: no figure that month.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthFields {
    /// The balance at the month's end; none: no record that month.
    pub balance: Amount,
    pub principal_paid: Amount,
    pub amount_paid: Amount,
    pub charged_off: Amount,
    pub recoveries: Amount,
    pub repossession_proceeds: Amount,
    pub days_past_due: Option<u32>,
}

/// One month as the default rules read it ([`crate::book::outcome`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonthRecord {
    /// The balance at the month's end; none: not reported.
    pub balance: Amount,
    pub principal_paid: Amount,
    /// Recoveries plus repossession proceeds, in ten-thousandths (each below 10^16: the sum fits).
    recovered: i64,
    /// Days past due as reported ([`MonthRecord::NO_DAYS`]: not reported), capped at 65,534.
    days_past_due: u16,
    flags: u8,
}

impl MonthRecord {
    const PAID: u8 = 1;
    const CHARGE_OFF_EVENT: u8 = 2;
    const DPD_90: u8 = 4;
    /// The account has a record this month (a records row; a panel month with a balance).
    const RECORD: u8 = 8;
    /// Under 30 days past due: current again.
    const CURRENT: u8 = 16;
    const NO_DAYS: u16 = u16::MAX;

    /// A month without a record.
    pub const NONE: MonthRecord = MonthRecord {
        balance: Amount::NONE,
        principal_paid: Amount::NONE,
        recovered: 0,
        days_past_due: MonthRecord::NO_DAYS,
        flags: 0,
    };

    /// A month's fields as the rules read them; `record`: the account has a record this month.
    pub fn of(m: &MonthFields, record: bool) -> MonthRecord {
        let flag = |on: bool, flag: u8| if on { flag } else { 0 };
        let charge_off = [m.charged_off, m.recoveries, m.repossession_proceeds]
            .iter()
            .any(|a| a.is_nonzero());
        MonthRecord {
            balance: m.balance,
            principal_paid: m.principal_paid,
            recovered: m.recoveries.or_zero() + m.repossession_proceeds.or_zero(),
            days_past_due: m.days_past_due.map_or(Self::NO_DAYS, |d| {
                d.min(u32::from(Self::NO_DAYS) - 1) as u16
            }),
            flags: flag(m.amount_paid.or_zero() > 0, Self::PAID)
                | flag(charge_off, Self::CHARGE_OFF_EVENT)
                | flag(m.days_past_due.is_some_and(|d| d >= 90), Self::DPD_90)
                | flag(m.days_past_due.is_some_and(|d| d < 30), Self::CURRENT)
                | flag(record, Self::RECORD),
        }
    }

    /// Money came back this month (recoveries and sale proceeds, negative costs included).
    pub fn recovered(&self) -> Decimal {
        Decimal::new(self.recovered, 4)
    }

    /// Rule (a): a charge-off, repossession proceeds or recoveries other than 0.
    pub fn charge_off_event(&self) -> bool {
        self.flags & Self::CHARGE_OFF_EVENT != 0
    }

    /// Something was paid this month (an amount paid above 0).
    pub fn paid(&self) -> bool {
        self.flags & Self::PAID != 0
    }

    /// 90 days past due or more.
    pub fn dpd_90(&self) -> bool {
        self.flags & Self::DPD_90 != 0
    }

    /// Under 30 days past due (reported so).
    pub fn current(&self) -> bool {
        self.flags & Self::CURRENT != 0
    }

    /// The account has a record this month.
    pub fn is_record(&self) -> bool {
        self.flags & Self::RECORD != 0
    }

    /// Days past due as reported, if the record carries them.
    pub fn days_past_due(&self) -> Option<u32> {
        (self.days_past_due != Self::NO_DAYS).then_some(u32::from(self.days_past_due))
    }
}

/// A panel's month: a record when it has a balance.
impl From<&MonthFields> for MonthRecord {
    fn from(m: &MonthFields) -> MonthRecord {
        MonthRecord::of(m, m.balance != Amount::NONE)
    }
}

/// Which default rules an outcome file's columns let the walk evaluate: a rule whose fields the file
/// does not carry cannot fire (docs/GUIDE.md "Backtest").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// (a): a charge-off, recoveries or repossession proceeds column.
    pub charge_off: bool,
    /// (b): balance and principal collected.
    pub written_off: bool,
    /// (c): days past due, or (without it) the amount paid.
    pub dpd_90: bool,
    /// (c) reads days past due rather than counting unpaid months.
    pub by_days_past_due: bool,
    /// The file carries the balance: a balance of 0 ends the walk as paid off.
    pub balance: bool,
}

impl Rules {
    /// The rules of a file with these columns.
    pub fn of(columns: &RuleColumns) -> Rules {
        let c = columns;
        Rules {
            charge_off: c.charged_off || c.recoveries || c.repossession_proceeds,
            written_off: c.balance && c.principal_paid,
            dpd_90: c.days_past_due || c.amount_paid,
            by_days_past_due: c.days_past_due,
            balance: c.balance,
        }
    }

    /// The labels of the rules evaluated, in order.
    pub fn evaluated(&self) -> Vec<&'static str> {
        [
            (self.charge_off, "charge_off"),
            (self.written_off, "written_off"),
            (self.dpd_90, "dpd_90"),
        ]
        .into_iter()
        .filter_map(|(on, label)| on.then_some(label))
        .collect()
    }

    /// Every rule: the worked examples' histories.
    pub const ALL: Rules = Rules {
        charge_off: true,
        written_off: true,
        dpd_90: true,
        by_days_past_due: false,
        balance: true,
    };
}

/// Which of the outcome fields a file carries.
#[derive(Clone, Copy, Debug, Default)]
pub struct RuleColumns {
    pub balance: bool,
    pub principal_paid: bool,
    pub amount_paid: bool,
    pub charged_off: bool,
    pub recoveries: bool,
    pub repossession_proceeds: bool,
    pub days_past_due: bool,
}

impl RuleColumns {
    /// The rules these columns support, or the refusal of a file that supports none.
    pub fn rules(&self, path: &std::path::Path) -> Result<Rules, crate::error::InputError> {
        let rules = Rules::of(self);
        match rules.evaluated().is_empty() {
            false => Ok(rules),
            true => Err(crate::error::InputError::Outcomes {
                path: path.to_path_buf(),
                reason: "its columns support no default rule: (a) needs charged_off, recoveries or \
                         repossession_proceeds, (b) balance and principal_paid, (c) days_past_due or \
                         amount_paid. Fix: add the columns the rules read (docs/GUIDE.md, Backtest)"
                    .into(),
            }),
        }
    }
}

/// Where a month record lies: block and row of [`Outcomes`]' records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) block: u32,
    pub(super) row: u32,
}

impl Slot {
    pub(super) const EMPTY: Slot = Slot {
        block: u32::MAX,
        row: u32::MAX,
    };
}

/// An account's records after as_of: a view into [`Outcomes`].
#[derive(Clone, Copy, Debug)]
pub struct History<'a> {
    /// Months in a row without a payment at the start (month 0, the tape's own period, counts: 1
    /// when nothing or nothing known was paid then), for the no-payment rule.
    pub unpaid_run: u32,
    /// Months 1, 2, … in order, up to the account's last record.
    slots: &'a [Slot],
    records: &'a [Vec<MonthRecord>],
    /// The months of data after as_of: a month after the account's records and within these has no
    /// record (the loan left the pool); after these the data ends.
    pub months_of_data: u32,
    /// The rules the file's columns support.
    pub rules: Rules,
}

impl<'a> History<'a> {
    /// Month `k` ≥ 1: its record, [`MonthRecord::NONE`] if the account has none that month, `None`
    /// after the data's last month.
    pub fn month(&self, k: u32) -> Option<&'a MonthRecord> {
        if k == 0 || k > self.months_of_data {
            return None;
        }
        Some(match self.slots.get(k as usize - 1) {
            Some(slot) => self.record(*slot),
            None => &MonthRecord::NONE,
        })
    }

    /// The account's records of month `k` ≥ 1 and after.
    pub fn records_from(&self, k: u32) -> impl Iterator<Item = &'a MonthRecord> + 'a {
        let records = self.records;
        let slots = self.slots.get(k.max(1) as usize - 1..).unwrap_or_default();
        slots
            .iter()
            .map(move |s| &records[s.block as usize][s.row as usize])
    }

    /// The history seen from the end of month `k` ≥ 1 (the book re-anchored there, `backtest
    /// --start-month`): its month 1 is month k + 1, its data ends `k` months earlier, and its unpaid
    /// run is the one at month k.
    pub fn from_month(&self, k: u32) -> History<'a> {
        let unpaid_run = (1..=k).fold(self.unpaid_run, |run, m| match self.month(m) {
            Some(r) if r.paid() => 0,
            _ => run + 1,
        });
        History {
            unpaid_run,
            slots: self.slots.get(k as usize..).unwrap_or_default(),
            records: self.records,
            months_of_data: self.months_of_data.saturating_sub(k),
            rules: self.rules,
        }
    }

    fn record(&self, slot: Slot) -> &'a MonthRecord {
        &self.records[slot.block as usize][slot.row as usize]
    }
}

/// Where one account's months lie in [`Outcomes`]' slots.
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) len: u32,
    pub(super) month0_paid: Amount,
}

/// An outcome row that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeReject {
    pub file: PathBuf,
    pub line: u64,
    pub field: String,
    pub reason: String,
}

impl OutcomeReject {
    /// A reject, its reason cut as the loans' rejects are (a cell quoted in it can be megabytes).
    pub fn new(file: &std::path::Path, line: u64, field: &str, reason: &str) -> OutcomeReject {
        OutcomeReject {
            file: file.to_path_buf(),
            line,
            field: field.to_string(),
            reason: crate::csvfmt::shortened(reason, crate::csvfmt::MAX_REASON_BYTES).into_owned(),
        }
    }
}

/// The outcome histories read from a file.
#[derive(Debug, Default)]
pub struct Outcomes {
    /// The month records, in blocks as they were read.
    pub(super) records: Vec<Vec<MonthRecord>>,
    /// Each account's months in month order, account after account.
    pub(super) slots: Vec<Slot>,
    /// Panel tapes: by the file line of the loan's row.
    pub(super) by_line: FxHashMap<u64, Span>,
    /// Loan-month records: by the index of the account's loan in the book (`None`: no records).
    pub(super) by_loan: Vec<Option<Span>>,
    /// The rules the file's columns support.
    pub rules: Rules,
    /// Rows of accounts that are not in the book (loan-month records; a panel counts them by line).
    pub(super) rows_not_in_book: u64,
    pub rows_read: u64,
    pub rejects: Vec<OutcomeReject>,
    /// The months of data after as_of (the panel's columns, or the latest record's month).
    pub months_of_data: u32,
}

impl Outcomes {
    /// One account's records (loan 0), for worked examples: `months` are months 1, 2, … and the
    /// data ends with them.
    pub fn of_one(month0_paid: Option<Decimal>, months: &[MonthFields], rules: Rules) -> Outcomes {
        let span = Span {
            start: 0,
            len: months.len() as u32,
            month0_paid: Amount::of(month0_paid),
        };
        Outcomes {
            records: vec![months.iter().map(MonthRecord::from).collect()],
            slots: (0..months.len() as u32)
                .map(|row| Slot { block: 0, row })
                .collect(),
            by_loan: vec![Some(span)],
            rules,
            months_of_data: months.len() as u32,
            ..Outcomes::default()
        }
    }

    /// The history of the book's `loan`, read from file line `line`: a panel's by its line, records
    /// by their loan.
    pub fn history(&self, loan: usize, line: u64) -> Option<History<'_>> {
        let span = match self.by_line.is_empty() {
            true => self.by_loan.get(loan).copied().flatten(),
            false => self.by_line.get(&line).copied(),
        }?;
        Some(History {
            unpaid_run: u32::from(span.month0_paid.get().is_none_or(|p| p <= Decimal::ZERO)),
            slots: &self.slots[span.start..span.start + span.len as usize],
            records: &self.records,
            months_of_data: self.months_of_data,
            rules: self.rules,
        })
    }

    /// Rows of outcomes whose account is not in the book, given the file lines of the book's loans
    /// (a panel's row is its loan's line).
    pub fn not_in_book(&self, book_lines: impl Iterator<Item = u64>) -> u64 {
        if self.by_line.is_empty() {
            return self.rows_not_in_book;
        }
        let lines: rustc_hash::FxHashSet<u64> = book_lines.collect();
        self.by_line.keys().filter(|l| !lines.contains(l)).count() as u64
    }
}
