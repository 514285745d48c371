//! The backtest: each account's predicted figures beside what really happened to it ([`outcome`]),
//! and the tables a model validator reads — predicted against realized default rates per pd class
//! with their Jeffreys intervals, modeled against realized loss severity per group, and the AUC of
//! pd and of LTV for the defaults.
//!
//! Money is summed exactly; the ratios (rates, severities, AUC) are exact quotients rounded once to
//! their places. The Jeffreys bounds are beta quantiles, floats printed at full precision.
//!
//! [`outcome`]: crate::book::outcome

use crate::book::lifetime::AccountLifetime;
use crate::book::metrics::{figures, Detail, Figures};
use crate::book::outcome::{closed_at_as_of, walk, History, Realized, Status};
use crate::book::segments::{segment_key, segment_label};
use crate::book::Book;
use crate::money::ratio;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// One account: the predicted side and, when it has records, the realized side.
pub struct Account {
    /// Index into the book's loans.
    pub loan: usize,
    pub figures: Figures,
    /// `None`: no outcome records for the account.
    pub realized: Option<Realized>,
    /// `pd_H` and `expected_deficiency_H` of the lifetime model, for a tested account that has them
    /// (see [`crate::book::predicted`]).
    pub predicted: Option<AccountLifetime>,
}

impl Account {
    fn defaulted(&self) -> bool {
        self.realized
            .as_ref()
            .is_some_and(|r| r.status == Status::Defaulted)
    }

    /// The lifetime model's pd to the horizon, as a decimal of 18 places.
    fn predicted_pd(&self) -> Option<Decimal> {
        self.predicted.map(|p| p.pd_decimal())
    }

    /// Open at as_of with records: the accounts the pd is tested on.
    fn tested(&self) -> bool {
        self.realized.as_ref().is_some_and(|r| r.status.tested())
    }
}
impl crate::book::predicted::Tested for Account {
    fn tested_loan(&self) -> Option<usize> {
        self.tested().then_some(self.loan)
    }

    fn band(&self) -> usize {
        self.figures.bucket
    }

    fn realized_default(&self) -> Option<(u32, Decimal)> {
        let r = self.realized.as_ref()?;
        let (month, _) = r.default?;
        Some((month, r.realized_loss))
    }

    fn set_predicted(&mut self, predicted: AccountLifetime) {
        self.predicted = Some(predicted);
    }
}

crate::sums::summable! {
    /// Predicted against realized losses for a group of accounts (an LTV band, a segment value).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct LossTally {
        /// Accounts with an outcome.
        pub accounts: u64,
        pub defaults: u64,
        pub expected_deficiency: Decimal,
        /// Σ deficiency_if_default over the accounts that defaulted.
        pub deficiency_if_default_of_defaulted: Decimal,
        /// Σ balance at as_of over the accounts that defaulted (the modeled severity's denominator).
        pub balance_of_defaulted: Decimal,
        pub balance_at_default: Decimal,
        pub recoveries: Decimal,
        pub realized_loss: Decimal,
        /// Σ expected_deficiency_H of the lifetime model over the accounts that have it.
        pub predicted_loss: Decimal,
    }
}

impl LossTally {
    fn add(&mut self, a: &Account) {
        let Some(r) = &a.realized else { return };
        self.accounts += 1;
        self.expected_deficiency += a.figures.expected_deficiency;
        if let Some(p) = a.predicted {
            self.predicted_loss += Decimal::new(p.loss, 2);
        }
        if r.status == Status::Defaulted {
            self.defaults += 1;
            self.deficiency_if_default_of_defaulted += a.figures.deficiency_if_default;
            self.balance_of_defaulted += a.figures.balance;
            self.balance_at_default += r.balance_at_default;
            self.recoveries += r.recoveries;
            self.realized_loss += r.realized_loss;
        }
    }

    /// realized loss / balance at default, 4 places.
    pub fn loss_severity(&self) -> Option<Decimal> {
        (!self.balance_at_default.is_zero())
            .then(|| ratio(self.realized_loss, self.balance_at_default, 4))
    }

    /// Σ deficiency_if_default / Σ balance over the defaulted accounts, 4 places.
    pub fn modeled_severity(&self) -> Option<Decimal> {
        (!self.balance_of_defaulted.is_zero()).then(|| {
            ratio(
                self.deficiency_if_default_of_defaulted,
                self.balance_of_defaulted,
                4,
            )
        })
    }
}

/// A table of [`LossTally`] rows by group label, in the summaries' order, then the total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LossTable {
    pub dimension: String,
    pub rows: Vec<(String, LossTally)>,
    pub total: LossTally,
}

/// One pd class: its accounts' predicted and realized defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct PdClass {
    /// The class's pd (`None` in the TOTAL row, whose test uses the mean pd).
    pub pd: Option<Decimal>,
    pub accounts: u64,
    /// Σ pd, exact.
    pub expected_defaults: Decimal,
    pub defaults: u64,
    pub jeffreys: Option<Jeffreys>,
    /// Σ pd_H of the lifetime model, and how many of the class's accounts have it.
    pub predicted_defaults: Decimal,
    pub predicted_accounts: u64,
}

impl PdClass {
    /// defaults / accounts, 4 places.
    pub fn default_rate(&self) -> Option<Decimal> {
        (self.accounts > 0).then(|| {
            ratio(
                Decimal::from(self.defaults),
                Decimal::from(self.accounts),
                4,
            )
        })
    }

    /// The pd the interval is compared with: the class's, or the mean pd of the TOTAL row.
    pub fn tested_pd(&self) -> Option<Decimal> {
        self.pd.or_else(|| {
            (self.accounts > 0).then(|| self.expected_defaults / Decimal::from(self.accounts))
        })
    }

    /// The lifetime model's verdict: its mean `pd_H` over the class against the interval (when every
    /// account of the class has a prediction).
    pub fn predicted_verdict(&self) -> Option<&'static str> {
        if self.predicted_accounts != self.accounts || self.accounts == 0 {
            return None;
        }
        self.verdict_of(self.predicted_defaults / Decimal::from(self.accounts))
    }

    /// `consistent`, `pd_too_low` or `pd_too_high`: where the pd lies against the interval.
    pub fn verdict(&self) -> Option<&'static str> {
        self.verdict_of(self.tested_pd()?)
    }

    fn verdict_of(&self, pd: Decimal) -> Option<&'static str> {
        let j = self.jeffreys.as_ref()?;
        let pd = f64::try_from(pd).ok()?;
        Some(if pd < j.low {
            "pd_too_low"
        } else if pd > j.high {
            "pd_too_high"
        } else {
            "consistent"
        })
    }
}

/// The Jeffreys 95% interval of a default rate: the 2.5% and 97.5% quantiles of
/// Beta(d + ½, n − d + ½), with the lower bound 0 when d = 0 and the upper bound 1 when d = n.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jeffreys {
    pub low: f64,
    pub high: f64,
}

impl Jeffreys {
    pub fn of(accounts: u64, defaults: u64) -> Option<Jeffreys> {
        if accounts == 0 || defaults > accounts {
            return None;
        }
        let (a, b) = (defaults as f64 + 0.5, (accounts - defaults) as f64 + 0.5);
        // Brown, Cai and DasGupta (2001): the lower bound is 0 when no account defaulted and the
        // upper bound 1 when every one did, so a pd of 0 (or 1) is never refuted by the data that
        // agrees with it.
        Some(Jeffreys {
            low: match defaults {
                0 => 0.0,
                _ => beta_quantile(0.025, a, b),
            },
            high: match defaults == accounts {
                true => 1.0,
                false => beta_quantile(0.975, a, b),
            },
        })
    }
}

/// The p-quantile of Beta(a, b): bisection on [`beta_cdf`], which stays inside (0, 1); 200 halvings
/// reach the float's resolution.
fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if beta_cdf(a, b, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo + (hi - lo) / 2.0
}

/// The regularized incomplete beta I_x(a, b), by its continued fraction (modified Lentz), on the side
/// where it converges fast. Hand-written: the crates checked (puruspe 0.4) choose the wrong side or
/// switch to a quadrature for large a and b, and gave bounds of 1 for a class of 97,989 accounts
/// with 3,701 defaults, or panicked.
fn beta_cdf(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front =
        libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of I_x(a, b) (Numerical Recipes' `betacf`), to the float's precision.
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let clamp = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / clamp(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..100_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / clamp(1.0 + even * d);
        c = clamp(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / clamp(1.0 + odd * d);
        c = clamp(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// Everything the backtest computed.
pub struct Backtest {
    pub horizon: u32,
    /// The lifetime model's predictions against the outcomes, month by month (`None`: no lifetime
    /// model).
    pub curve: Option<crate::book::predicted::Curve>,
    /// In the book's output order.
    pub accounts: Vec<Account>,
    pub by_pd: Vec<PdClass>,
    pub by_ltv: LossTable,
    pub by_segment: Vec<LossTable>,
    /// AUC of pd for the defaults, over the tested accounts.
    pub auc_pd: Option<Decimal>,
    /// AUC of the exact LTV for the defaults, over the tested accounts with a value.
    pub auc_ltv: Option<Decimal>,
    pub counts: Counts,
}

/// How the book's accounts came out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub accounts: u64,
    pub no_outcome: u64,
    pub by_status: BTreeMap<&'static str, u64>,
}

/// Runs the backtest of `book` against each account's history (`history(i)` for the i-th loan).
pub fn backtest<'h>(
    book: &Book,
    horizon: u32,
    history: impl Fn(usize) -> Option<History<'h>> + Sync,
) -> Backtest {
    use rayon::prelude::*;
    let accounts: Vec<Account> = book
        .loaded
        .order
        .par_iter()
        .map(|&i| {
            let i = i as usize;
            let loan = &book.loaded.loans[i];
            let f = figures(
                loan,
                book.valuation(i),
                &book.model,
                &book.bands,
                book.scaled.as_ref(),
                Detail::Account,
            );
            // A balance of 0 at as_of is closed whether or not the file has its records: one rule
            // for panels (every loan has a row) and loan-month records (a closed loan rarely has any).
            let realized = match loan.balance <= Decimal::ZERO {
                true => Some(closed_at_as_of()),
                false => history(i).map(|h| walk(loan.balance, &h, horizon)),
            };
            Account {
                loan: i,
                figures: f,
                realized,
                predicted: None,
            }
        })
        .collect();
    let mut accounts = accounts;
    let curve = crate::book::predicted::predict(book, &mut accounts, horizon);
    let mut counts = Counts {
        accounts: accounts.len() as u64,
        ..Counts::default()
    };
    for a in &accounts {
        match &a.realized {
            Some(r) => *counts.by_status.entry(r.status.label()).or_default() += 1,
            None => counts.no_outcome += 1,
        }
    }
    let by_pd = by_pd(&accounts);
    let by_ltv = by_ltv(book, &accounts);
    let by_segment = by_segments(book, &accounts, &by_ltv.total);
    let auc_pd = auc_of_pd(&accounts);
    let auc_ltv = auc_of_ltv(&accounts);
    Backtest {
        horizon,
        curve,
        by_pd,
        by_ltv,
        by_segment,
        auc_pd,
        auc_ltv,
        accounts,
        counts,
    }
}

/// The pd classes in increasing pd, then the TOTAL row.
fn by_pd(accounts: &[Account]) -> Vec<PdClass> {
    // Per class: accounts, defaults, Σ pd_H and the accounts that have it.
    let mut classes: BTreeMap<Decimal, (u64, u64, Decimal, u64)> = BTreeMap::new();
    for a in accounts.iter().filter(|a| a.tested()) {
        let c = classes.entry(a.figures.pd.normalize()).or_default();
        c.0 += 1;
        c.1 += u64::from(a.defaulted());
        if let Some(pd) = a.predicted_pd() {
            c.2 += pd;
            c.3 += 1;
        }
    }
    let class =
        |pd: Option<Decimal>, (n, d, predicted, with): (u64, u64, Decimal, u64), expected| {
            PdClass {
                pd,
                accounts: n,
                expected_defaults: expected,
                defaults: d,
                jeffreys: Jeffreys::of(n, d),
                predicted_defaults: predicted,
                predicted_accounts: with,
            }
        };
    let mut rows: Vec<PdClass> = classes
        .iter()
        .map(|(&pd, &c)| class(Some(pd), c, pd * Decimal::from(c.0)))
        .collect();
    let all = classes.values().fold(
        (0, 0, Decimal::ZERO, 0),
        |(n, d, p, w), &(cn, cd, cp, cw)| (n + cn, d + cd, p + cp, w + cw),
    );
    let expected = rows.iter().map(|r| r.expected_defaults).sum();
    rows.push(class(None, all, expected));
    rows
}

fn by_ltv(book: &Book, accounts: &[Account]) -> LossTable {
    let mut rows: Vec<(String, LossTally)> = book
        .bands
        .labels
        .iter()
        .map(|l| (l.clone(), LossTally::default()))
        .collect();
    let mut total = LossTally::default();
    for a in accounts {
        rows[a.figures.bucket].1.add(a);
        total.add(a);
    }
    rows.retain(|(_, t)| t.accounts > 0);
    LossTable {
        dimension: "ltv_bucket".into(),
        rows,
        total,
    }
}

/// One table per segment, from one pass over the accounts in blocks side by side; groups keyed by
/// borrowed labels (a label built per account and segment cost more than the rest of the
/// backtest's tables together). Every segment's total is the book's, `total` (the LTV table's).
fn by_segments(book: &Book, accounts: &[Account], total: &LossTally) -> Vec<LossTable> {
    use rayon::prelude::*;
    type Groups<'a> = Vec<rustc_hash::FxHashMap<(u32, &'a str), LossTally>>;
    let segments = &book.loaded.layout.segments;
    let fresh = || -> Groups<'_> { vec![Default::default(); segments.len()] };
    let groups = accounts
        .par_chunks(16_384)
        .fold(fresh, |mut groups, block| {
            for a in block.iter().filter(|a| a.realized.is_some()) {
                let loan = &book.loaded.loans[a.loan];
                for (g, (_, source)) in groups.iter_mut().zip(segments) {
                    g.entry(segment_key(loan, source)).or_default().add(a);
                }
            }
            groups
        })
        .reduce(fresh, |mut into, from| {
            for (i, f) in into.iter_mut().zip(from) {
                for (key, t) in f {
                    i.entry(key).or_default().merge(&t);
                }
            }
            into
        });
    segments
        .iter()
        .zip(groups)
        .map(|((name, _), groups)| {
            let mut rows: Vec<_> = groups.into_iter().collect();
            rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            LossTable {
                dimension: name.clone(),
                rows: rows
                    .into_iter()
                    .map(|(key, t)| (segment_label(key).into_owned(), t))
                    .collect(),
                total: total.clone(),
            }
        })
        .collect()
}

/// The Mann–Whitney AUC of `score` for the defaults among `scored` (score, defaulted) pairs, ties
/// counting half: the exact rational, rounded once to 4 places. `same` tells equal scores apart.
fn auc<T>(mut scored: Vec<(T, bool)>, cmp: impl Fn(&T, &T) -> Ordering + Sync) -> Option<Decimal>
where
    T: Send,
{
    use rayon::slice::ParallelSliceMut;
    scored.par_sort_by(|a, b| cmp(&a.0, &b.0));
    let defaults = scored.iter().filter(|s| s.1).count() as u128;
    let others = scored.len() as u128 - defaults;
    if defaults == 0 || others == 0 {
        return None;
    }
    // Twice the U statistic, in integers: each default counts 2 per lower-scored non-default and
    // 1 per equally scored one.
    let (mut twice_u, mut below) = (0u128, 0u128);
    let mut start = 0;
    while start < scored.len() {
        let mut end = start + 1;
        while end < scored.len() && cmp(&scored[start].0, &scored[end].0) == Ordering::Equal {
            end += 1;
        }
        let group = &scored[start..end];
        let d = group.iter().filter(|s| s.1).count() as u128;
        let n = group.len() as u128 - d;
        twice_u += d * (2 * below + n);
        below += n;
        start = end;
    }
    Some(ratio(
        Decimal::from(twice_u),
        Decimal::from(2 * defaults * others),
        4,
    ))
}

fn auc_of_pd(accounts: &[Account]) -> Option<Decimal> {
    let scored = accounts
        .iter()
        .filter(|a| a.tested())
        .map(|a| (a.figures.pd, a.defaulted()))
        .collect();
    auc(scored, Decimal::cmp)
}

/// The exact LTV (balance / value) as its two terms, compared by cross-multiplication.
fn auc_of_ltv(accounts: &[Account]) -> Option<Decimal> {
    let scored = accounts
        .iter()
        .filter(|a| a.tested())
        .filter_map(|a| {
            let v = a.figures.valued.as_ref()?;
            Some(((a.figures.balance, v.value), a.defaulted()))
        })
        .collect();
    auc(scored, |a: &(Decimal, Decimal), b: &(Decimal, Decimal)| {
        (a.0 * b.1).cmp(&(b.0 * a.1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// A pd class of `n` accounts with `dflt` defaults.
    fn class(pd: &str, n: u64, dflt: u64) -> PdClass {
        PdClass {
            pd: Some(d(pd)),
            accounts: n,
            expected_defaults: d(pd) * Decimal::from(n),
            defaults: dflt,
            jeffreys: Jeffreys::of(n, dflt),
            predicted_defaults: Decimal::ZERO,
            predicted_accounts: 0,
        }
    }

    #[test]
    fn auc_counts_ties_half() {
        // Scores: defaults at 3 and 2; non-defaults at 1, 2, 4. Pairs (default, other): (3,1) 1,
        // (3,2) 1, (3,4) 0, (2,1) 1, (2,2) ½, (2,4) 0 → 3.5 / 6 = 0.58333… → 0.5833.
        let scored = vec![(3, true), (2, true), (1, false), (2, false), (4, false)];
        assert_eq!(auc(scored, i32::cmp), Some(d("0.5833")));
        // Perfect separation, and a coin.
        let scored = vec![(1, false), (2, false), (3, true)];
        assert_eq!(auc(scored, i32::cmp), Some(d("1")));
        let scored = vec![(1, false), (1, true)];
        assert_eq!(auc(scored, i32::cmp), Some(d("0.5")));
        assert_eq!(auc(vec![(1, true)], i32::cmp), None);
    }

    #[test]
    fn jeffreys_bounds_are_the_beta_quantiles() {
        // References: the quantiles of Beta(d + ½, n − d + ½) by bisection on mpmath's regularized
        // incomplete beta at 40 digits (written here, not computed by the code under test).
        for (n, dflt, low, high) in [
            (1, 0, 0.0, 0.853_253_683_690_424_9),
            (100, 2, 0.004_178_812_447_471_804, 0.062_605_848_784_811_37),
            (30, 0, 0.0, 0.079_678_173_817_26),
            (2171, 50, 0.017_340_373_392_584_83, 0.029_991_051_152_847_73),
            // Large a and b (by quadrature of the density, mpmath at 30 digits): the case a crate got wrong.
            (
                97_989,
                3_701,
                0.036_589_536_007_469_93,
                0.038_976_860_203_355_18,
            ),
        ] {
            let j = Jeffreys::of(n, dflt).unwrap();
            // Within a billionth of the bound (a float from Newton steps on the incomplete beta).
            assert!((j.low - low).abs() <= 1e-9 * low, "{n} {dflt}: {}", j.low);
            assert!(
                (j.high - high).abs() <= 1e-9 * high,
                "{n} {dflt}: {}",
                j.high
            );
        }
        assert_eq!(Jeffreys::of(0, 0), None);
    }

    /// A pd of 0 with no default in 1,000 accounts was `pd_too_low`, and a pd of 1 with 10 defaults
    /// in 10 was `pd_too_high`: the interval's edges are 0 and 1 there.
    #[test]
    fn regression_jeffreys_at_the_edges_refuted_a_pd_the_data_agrees_with() {
        assert_eq!(class("0", 1000, 0).verdict(), Some("consistent"));
        assert_eq!(class("1", 10, 10).verdict(), Some("consistent"));
        assert_eq!(Jeffreys::of(1000, 0).unwrap().low, 0.0);
        assert_eq!(Jeffreys::of(10, 10).unwrap().high, 1.0);
        // Beta(10.5, 0.5)'s 2.5% quantile (mpmath at 40 digits): the other edge is still a quantile.
        let low = Jeffreys::of(10, 10).unwrap().low;
        assert!((low - 0.782_803_732_490_789_4).abs() < 1e-9, "{low}");
    }

    #[test]
    fn a_class_outside_its_interval_says_which_side() {
        assert_eq!(class("0.02", 100, 2).verdict(), Some("consistent"));
        assert_eq!(class("0.02", 100, 20).verdict(), Some("pd_too_low"));
        assert_eq!(class("0.65", 100, 2).verdict(), Some("pd_too_high"));
    }
}
