//! The lifetime model judged by the backtest: each tested account's `pd_H` and
//! `expected_deficiency_H` (the lifetime sums stopped at the horizon, [`crate::book::lifetime`]),
//! and month by month the predicted against the realized cumulative defaults and loss.
//!
//! Both sides of the curve run over the same accounts, the tested ones (open at as_of with records)
//! that have lifetime figures, so a month's predicted and realized figures compare like with like.

use crate::book::lifetime::{AccountLifetime, LossCurve, Rates};
use crate::book::runoff::Projection;
use crate::book::Book;
use rust_decimal::Decimal;

/// Month by month from as_of to the horizon, over the tested accounts with predictions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Curve {
    /// The predicted months (expected defaults and loss; see [`LossCurve`]).
    pub predicted: LossCurve,
    /// Per month 1 ..= H: the accounts that defaulted that month and their realized loss.
    pub realized: Vec<(u64, Decimal)>,
}

/// What the prediction needs of a backtest's account (the backtest's `Account`, which this module
/// does not import: the backtest calls it).
pub trait Tested {
    /// The loan's index, if the account is tested (open at as_of with records).
    fn tested_loan(&self) -> Option<usize>;
    /// Its LTV band at as_of (the figures' bucket).
    fn band(&self) -> usize;
    /// The month of its default and its realized loss, if it defaulted.
    fn realized_default(&self) -> Option<(u32, Decimal)>;
    fn set_predicted(&mut self, predicted: AccountLifetime);
}

/// Sets each tested account's prediction to `horizon` and returns the curve; `None` when the
/// book's model has no lifetime figures.
pub fn predict<A: Tested + Send>(book: &Book, accounts: &mut [A], horizon: u32) -> Option<Curve> {
    use rayon::prelude::*;
    let model = &book.model;
    let lifetime = model.lifetime.as_ref()?;
    let rates = Rates::new(lifetime, model.recovery_rate, model.repossession_cost)?;
    let projection = Projection::new(0, &book.estimate, book.as_of);
    let fresh = || Curve {
        realized: vec![(0, Decimal::ZERO); horizon as usize],
        ..Curve::default()
    };
    let curve = accounts
        .par_iter_mut()
        .with_max_len(16_384)
        .fold(fresh, |mut curve, a| {
            let Some(i) = a.tested_loan() else {
                return curve;
            };
            let loan = &book.loaded.loans[i];
            let value = book.valuation(i).map(|v| v.value);
            let mut own = LossCurve::default();
            // An account without figures (no value, no APR, …) is left out of both sides;
            // summary_backtest_by_pd.csv's predicted_accounts counts the accounts that have them.
            if let Ok(p) = rates.account(
                &projection,
                (loan, value, a.band()),
                &mut own,
                Some(horizon),
                &mut (),
            ) {
                a.set_predicted(p);
                curve.predicted.merge(&own);
                if let Some((month, loss)) = a.realized_default() {
                    if let Some(m) = curve.realized.get_mut(month as usize - 1) {
                        m.0 += 1;
                        m.1 += loss;
                    }
                }
            }
            curve
        })
        .reduce(fresh, |mut a, b| {
            a.predicted.merge(&b.predicted);
            for (x, y) in a.realized.iter_mut().zip(&b.realized) {
                x.0 += y.0;
                x.1 += y.1;
            }
            a
        });
    Some(curve)
}
