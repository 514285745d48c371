//! Outcome records: what happened to each account in the months after as_of, for the backtest.
//!
//! Two forms:
//! - a **panel tape** ([`panel`]): an EX-102 row whose following months are appended as numbered
//!   columns (`BALk`, `PRCk`, `PMTk`, `RECk`, `REPk` for month k = 1, 2, …); the row's own
//!   `totalActualAmountPaid` is month 0's payment. Read by file line, so it joins the loan read from
//!   the same line;
//! - **loan-month records** ([`records`]) in underwater's names, one row per account per month after
//!   as_of: `account_id, month (YYYY-MM), balance, principal_paid, amount_paid, charged_off,
//!   recoveries, repossession_proceeds, days_past_due` (each but the first two optional), or the same
//!   fields under their SEC EX-102 names (monthly tapes of the pool, flattened to CSV). Read by
//!   account id.
//!
//! A bad field, a month at or before as_of, a repeated account-month or a record after a missing month
//! is a reject with the file, line, field and reason; the rest of the file is read.
//!
//! Each month is kept as what the default rules read of it ([`MonthRecord`], 32 bytes), where it was
//! read; an account's history is the list of their places, in month order. A year of a 1M-loan
//! book's records is 11 million months: copying them into order, or keeping every field, cost more
//! than reading them (docs/perf-log.md).

mod history;
mod panel;
mod records;

pub use history::{
    Amount, History, MonthFields, MonthRecord, OutcomeReject, Outcomes, RuleColumns, Rules,
};
pub use panel::{is_panel, read_panel};
pub use records::read_records;
