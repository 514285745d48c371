//! Lifetime expected loss (CECL): for each open account, over every remaining month t of its
//! scheduled run-off, the chance it defaults that month times what would be lost then.
//!
//! - `h(t)`: the monthly default hazard. An account current at as_of (or in a delinquency class the
//!   model gives no list) takes `hazard_by_age(a + t) × f(b)`, `a` its age in whole months at as_of,
//!   `f(b)` the factor of its LTV band at as_of (`hazard_factor_by_ltv_band`, 1 without one; the
//!   product rounded half to even to 10^-18). An
//!   account in a delinquent class takes the class's list for months 1, 2, … after as_of (its risk is
//!   front-loaded: it defaults soon or cures), then `hazard_by_age` once the list ends.
//! - `p(t)`: prepayment at the ABS speed: `SMM(age) = ABS / (1 − ABS × (age − 1))` at the loan's age
//!   `a + t`, at most `1 − h(t)` (past the age where the convention's pool is exhausted, every loan
//!   still open prepays).
//! - `S(t) = S(t−1) × (1 − h(t) − p(t))`, `S(0) = 1`.
//! - `D(t) = max(B(t−1) − max(recovery_rate × V(t) − repossession_cost, 0), 0)`, with `B` and `V` the
//!   run-off's scheduled balance and value ([`crate::book::runoff`]), exact.
//! - `lifetime_pd = Σ S(t−1) h(t)`; `lifetime_expected_deficiency = Σ S(t−1) h(t) D(t)` (discounted
//!   at the loan's APR when `discount = "apr"`: each term × `(1 + apr/1200)^−t`); the same sums to
//!   month 12 give `expected_deficiency_12m`. The months run until the schedule pays the balance off.
//!
//! Probabilities are integers of 10^-18, each product rounded half to even to that unit (`S(t)`,
//! `S(t−1)·h(t)`, the discount factor): 18 decimal places, a rule any reimplementation reproduces
//! exactly. Money is exact: `Σ S(t−1) h(t) D(t)` is an integer of 10^-18 × the deficiency's unit,
//! rounded once to cents. Integers, not decimals, because this loop runs once per account and month
//! (tens of millions of times a night): a `Decimal` product is several times the cost.
//!
//! The model's types are in [`model`], its integers in [`rates`] (with the prepayment convention in
//! [`smm`]), and one account's walk in [`walk`].

mod model;
mod rates;
mod smm;
mod walk;

pub use model::{
    AccountLifetime, CurveMonth, Discount, Lifetime, LossCurve, NotComputed, NOT_COMPUTED, ONE,
};
pub use rates::{Hazards, Rates, Sequence};
pub use walk::{Rider, Step};
