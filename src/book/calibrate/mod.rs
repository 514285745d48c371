//! Calibration: the model's assumptions fitted to what happened ([`crate::book::backtest`]).
//!
//! - pd per days-past-due class = the class's realized default rate over the horizon, made
//!   non-decreasing in days past due by pooling adjacent violators (the pooled rate Σd / Σn, exact,
//!   rounded once to 4 places). A class with fewer than `min_accounts` tested accounts or no default
//!   keeps its current pd, held between the fitted classes around it so the table never falls, and
//!   says why.
//! - recovery_rate and repossession_cost = the least-squares line `recoveries ≈ rate × value − cost`
//!   (with the lifetime model, the value in the default month, which is what the lifetime loss
//!   applies the line to: a line fitted against the value at as_of and applied to a depreciated
//!   value would count the depreciation twice) over the defaulted accounts with a value whose
//!   default is at least `--recovery-months` before the data's end (recoveries lag the default: a
//!   later default has not recovered yet, and its few recoveries would pull the rate down): the
//!   normal equations solved exactly in integer cents, the rate rounded once to 4 places and
//!   clipped to [0, 1], the cost to cents. A line whose cost comes out below 0 is fitted again
//!   through the origin (cost 0: the best line with a cost of at least 0). The residual spread is a
//!   float (a statistic, not money), printed at full precision.

pub mod lifetime;
pub mod ltv_factor;
mod pooling;

use crate::book::backtest::{Backtest, Jeffreys};
use crate::book::Book;
use crate::money::{cents, div_half_even, ratio};
use rust_decimal::Decimal;

/// One days-past-due class, before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct PdFit {
    pub from_day: u32,
    pub current: Decimal,
    pub accounts: u64,
    pub defaults: u64,
    /// defaults / accounts, 4 places.
    pub rate: Option<Decimal>,
    pub jeffreys: Option<Jeffreys>,
    /// The calibrated pd (the current one when the class is kept).
    pub fitted: Decimal,
    /// Why the class kept its pd; `None`: fitted.
    pub kept_because: Option<String>,
}

/// The recovery line, before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveryFit {
    /// Defaulted accounts with a value and the window's months of data after their default: the
    /// points of the fit.
    pub accounts: u64,
    /// Defaulted accounts with a value left out: their default is within `window` months of the
    /// data's end, so their recoveries are not all in it yet.
    pub too_recent: u64,
    pub window: u32,
    pub current_rate: Decimal,
    pub current_cost: Decimal,
    pub rate: Decimal,
    pub cost: Decimal,
    /// The fitted line before clipping: (slope, intercept in dollars).
    pub line: Option<(Decimal, Decimal)>,
    /// The line's intercept was positive, so the rate is the fit through the origin (cost 0).
    pub through_origin: bool,
    /// Which value the line is fitted against.
    pub value_at: ValueAt,
    /// sqrt(Σ residual² / (n − 2)) of the clipped line, in dollars.
    pub residual_spread: Option<f64>,
    pub kept_because: Option<String>,
}

/// The value a recovery is regressed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueAt {
    /// The value at as_of: what the flat pd's `deficiency_if_default` reads (no lifetime model).
    AsOf,
    /// The value at as_of carried along the depreciation curve to the default month, as the run-off
    /// projects it: what the lifetime loss reads in that month.
    DefaultMonth,
}

/// Everything calibrate fitted.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub horizon: u32,
    pub min_accounts: u64,
    pub pd: Vec<PdFit>,
    pub recovery: RecoveryFit,
    /// The lifetime model fitted (`None`: the lifetime figures are off).
    pub lifetime: Option<lifetime::LifetimeFit>,
}

/// Which defaults have had time to recover: those at least `months` before the data's end.
#[derive(Clone, Copy, Debug)]
pub struct RecoveryWindow {
    pub months: u32,
    /// The months of data after the book's as_of.
    pub months_of_data: u32,
}

/// Fits the model of `book` to the outcomes of `bt`.
pub fn calibrate(
    book: &Book,
    bt: &Backtest,
    min_accounts: u64,
    window: RecoveryWindow,
) -> Calibration {
    Calibration {
        horizon: bt.horizon,
        min_accounts,
        pd: fit_pd(book, bt, min_accounts),
        recovery: fit_recovery(book, bt, window),
        lifetime: book
            .model
            .lifetime
            .as_ref()
            .map(|current| lifetime::fit(book, &bt.accounts, current, min_accounts)),
    }
}

fn fit_pd(book: &Book, bt: &Backtest, min_accounts: u64) -> Vec<PdFit> {
    let classes = &book.model.pd_by_days_past_due;
    let mut tally = vec![(0u64, 0u64); classes.len()];
    for a in &bt.accounts {
        let Some(r) = a.realized.as_ref().filter(|r| r.status.tested()) else {
            continue;
        };
        let dpd = book.loaded.loans[a.loan].days_past_due;
        if let Some(c) = classes.iter().rposition(|&(from, _)| dpd >= from) {
            tally[c].0 += 1;
            tally[c].1 += u64::from(r.default.is_some());
        }
    }
    let mut fits: Vec<PdFit> = classes
        .iter()
        .zip(&tally)
        .map(|(&(from_day, current), &(n, d))| PdFit {
            from_day,
            current,
            accounts: n,
            defaults: d,
            rate: (n > 0).then(|| ratio(Decimal::from(d), Decimal::from(n), 4)),
            jeffreys: Jeffreys::of(n, d),
            fitted: current,
            kept_because: if n < min_accounts {
                Some(format!(
                    "{n} accounts, fewer than min_accounts = {min_accounts}"
                ))
            } else if d == 0 {
                Some(format!("no default among {n} accounts"))
            } else {
                None
            },
        })
        .collect();
    pool_adjacent_violators(&mut fits);
    fits
}

/// Makes the written pd table non-decreasing in days past due.
///
/// First the fitted classes: adjacent classes whose rates fall are pooled into one rate Σd / Σn,
/// until none falls (pool-adjacent-violators). Then each kept class: its current pd is held between
/// the fitted classes around it (at least the largest fitted pd before it, at most the smallest after
/// it), and last a running maximum over the whole table, so no class is ever below the one before —
/// whatever the current table was. A kept class that moves says so in `kept_because`.
fn pool_adjacent_violators(fits: &mut [PdFit]) {
    pool_fitted(fits);
    let fitted: Vec<Option<Decimal>> = fits
        .iter()
        .map(|f| f.kept_because.is_none().then_some(f.fitted))
        .collect();
    let mut floor: Option<Decimal> = None;
    for i in 0..fits.len() {
        let f = &mut fits[i];
        if let Some(p) = fitted[i] {
            floor = Some(p);
            continue;
        }
        let ceiling = fitted[i + 1..].iter().flatten().next().copied();
        let mut pd = f.current;
        if let Some(c) = ceiling {
            pd = pd.min(c);
        }
        if let Some(fl) = floor {
            pd = pd.max(fl);
        }
        f.fitted = pd;
    }
    for i in 1..fits.len() {
        let before = fits[i - 1].fitted;
        if fits[i].fitted < before {
            fits[i].fitted = before;
        }
    }
    for f in fits.iter_mut() {
        if let Some(why) = &mut f.kept_because {
            if f.fitted != f.current {
                why.push_str(&format!(
                    "; moved to {} so the table never falls as days past due rise",
                    f.fitted.normalize()
                ));
            }
        }
    }
}

/// Pools the fitted (not kept) classes' adjacent falling rates.
fn pool_fitted(fits: &mut [PdFit]) {
    // Blocks of fitted classes (kept classes are placed after): members, Σ defaults, Σ accounts.
    let mut blocks: Vec<(Vec<usize>, u64, u64)> = Vec::new();
    for (i, f) in fits.iter().enumerate() {
        if f.kept_because.is_some() {
            continue;
        }
        blocks.push((vec![i], f.defaults, f.accounts));
        while let [.., a, b] = &blocks[..] {
            // a's rate > b's rate  ⇔  a.d × b.n > b.d × a.n
            if u128::from(a.1) * u128::from(b.2) <= u128::from(b.1) * u128::from(a.2) {
                break;
            }
            let (members, d, n) = blocks.pop().expect("two blocks, matched above");
            let last = blocks.last_mut().expect("two blocks, matched above");
            last.0.extend(members);
            last.1 += d;
            last.2 += n;
        }
    }
    for (members, d, n) in blocks {
        let pooled = ratio(Decimal::from(d), Decimal::from(n), 4);
        for i in members {
            fits[i].fitted = pooled;
        }
    }
}

/// Σ over the fit's points, in integer cents.
#[derive(Default)]
struct Sums {
    n: i128,
    x: i128,
    y: i128,
    xx: i128,
    xy: i128,
}

fn fit_recovery(book: &Book, bt: &Backtest, window: RecoveryWindow) -> RecoveryFit {
    let model = &book.model;
    let mut too_recent = 0;
    let at_default = model
        .lifetime
        .is_some()
        .then(|| crate::book::runoff::Projection::new(0, &book.estimate, book.as_of));
    let points: Vec<(i128, i128)> = bt
        .accounts
        .iter()
        .filter_map(|a| {
            let r = a.realized.as_ref()?;
            let (month, _) = r.default?;
            let v = a.figures.valued.as_ref()?;
            if month.saturating_add(window.months) > window.months_of_data {
                too_recent += 1;
                return None;
            }
            // A car the curve cannot carry (it is at 0 at the loan's age) has no lifetime figure
            // to apply the line to, only the flat one: its value at as_of.
            let x = match &at_default {
                Some(p) => p
                    .value_in_month(&book.loaded.loans[a.loan], v.value, month)
                    .map_or_else(|| in_cents(v.value), |v| v as i128),
                None => in_cents(v.value),
            };
            Some((x, in_cents(r.recoveries)))
        })
        .collect();
    let mut fit = RecoveryFit {
        accounts: points.len() as u64,
        too_recent,
        window: window.months,
        current_rate: model.recovery_rate,
        current_cost: model.repossession_cost,
        rate: model.recovery_rate,
        cost: model.repossession_cost,
        line: None,
        through_origin: false,
        value_at: match at_default {
            Some(_) => ValueAt::DefaultMonth,
            None => ValueAt::AsOf,
        },
        residual_spread: None,
        kept_because: None,
    };
    match solve(&points) {
        Ok((slope, intercept)) => {
            fit.line = Some((slope, intercept));
            // A positive intercept is a negative cost (recoveries beyond the sale: collections from
            // the borrower). The best line with a cost of at least 0 then has a cost of 0: the
            // least-squares slope through the origin, Σxy / Σx².
            let (rate, cost) = if intercept > Decimal::ZERO {
                fit.through_origin = true;
                (through_origin(&points).unwrap_or(slope), Decimal::ZERO)
            } else {
                (slope, -intercept)
            };
            fit.rate = rate.clamp(Decimal::ZERO, Decimal::ONE);
            fit.cost = cost;
            fit.residual_spread = spread(&points, fit.rate, fit.cost);
        }
        Err(why) => fit.kept_because = Some(why),
    }
    fit
}

/// The least-squares slope of a line through the origin, Σxy / Σx², to 4 places (rounded once).
fn through_origin(points: &[(i128, i128)]) -> Option<Decimal> {
    let (mut xx, mut xy) = (0i128, 0i128);
    for &(x, y) in points {
        xx = xx.checked_add(x.checked_mul(x)?)?;
        xy = xy.checked_add(x.checked_mul(y)?)?;
    }
    let scaled = xy.checked_mul(10_000)?;
    (xx != 0).then(|| Decimal::from_i128_with_scale(div_half_even(scaled, xx), 4))
}

fn in_cents(d: Decimal) -> i128 {
    crate::money::mantissa_at(cents(d), 2)
}

/// The least-squares line through `points` (cents): slope to 4 places, intercept to cents, each
/// rounded once from the exact solution of the normal equations.
fn solve(points: &[(i128, i128)]) -> Result<(Decimal, Decimal), String> {
    if points.len() < 2 {
        return Err(format!(
            "{} defaulted accounts with a value: a line needs at least 2",
            points.len()
        ));
    }
    let too_large = || "the sums are too large to solve exactly".to_string();
    let mut s = Sums::default();
    for &(x, y) in points {
        s.n += 1;
        s.x += x;
        s.y += y;
        s.xx = s.xx.checked_add(x * x).ok_or_else(too_large)?;
        s.xy = s.xy.checked_add(x * y).ok_or_else(too_large)?;
    }
    let mul = |a: i128, b: i128| a.checked_mul(b).ok_or_else(too_large);
    let den = mul(s.n, s.xx)? - mul(s.x, s.x)?;
    if den == 0 {
        return Err("every defaulted account has the same value: no line fits".into());
    }
    let num = mul(s.n, s.xy)? - mul(s.x, s.y)?;
    let slope = div_half_even(mul(num, 10_000)?, den);
    // intercept = (Σy − slope·Σx) / n with the exact slope num / den: (Σy·den − num·Σx) / (n·den).
    let top = mul(s.y, den)? - mul(num, s.x)?;
    let intercept = div_half_even(top, mul(s.n, den)?);
    Ok((
        Decimal::from_i128_with_scale(slope, 4),
        Decimal::from_i128_with_scale(intercept, 2),
    ))
}

/// sqrt(Σ (y − (rate·x − cost))² / (n − 2)) in dollars; `None` for fewer than 3 points.
fn spread(points: &[(i128, i128)], rate: Decimal, cost: Decimal) -> Option<f64> {
    if points.len() < 3 {
        return None;
    }
    let (rate, cost) = (f64::try_from(rate).ok()?, f64::try_from(cost).ok()?);
    let ss: f64 = points
        .iter()
        .map(|&(x, y)| {
            let e = y as f64 / 100.0 - (rate * x as f64 / 100.0 - cost);
            e * e
        })
        .sum();
    Some((ss / (points.len() - 2) as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn the_line_through_exact_points_is_found_exactly() {
        // y = 0.6·x − 500 dollars: (10,000, 5,500), (20,000, 11,500), (15,000, 8,500), in cents.
        let points = [
            (1_000_000, 550_000),
            (2_000_000, 1_150_000),
            (1_500_000, 850_000),
        ];
        assert_eq!(solve(&points), Ok((d("0.6"), d("-500"))));
        assert_eq!(spread(&points, d("0.6"), d("500")), Some(0.0));
        // By hand: x = 1, 2, 4 dollars, y = 1, 3, 4: n = 3, Σx = 7, Σy = 8, Σx² = 21, Σxy = 23;
        // slope = (69 − 56) / (63 − 49) = 13/14 = 0.928571… → 0.9286; intercept = (8 − 7·13/14) / 3
        // = 1.5 / 3 = 0.50 dollars.
        let points = [(100, 100), (200, 300), (400, 400)];
        assert_eq!(solve(&points), Ok((d("0.9286"), d("0.5"))));
        assert!(solve(&[(100, 100)]).is_err());
        // Through the origin: Σxy / Σx² = (100·100 + 200·300 + 400·400) / 210000 = 230000 / 210000
        // = 1.095238… → 1.0952.
        assert_eq!(through_origin(&points), Some(d("1.0952")));
        assert!(solve(&[(100, 100), (100, 300)]).is_err());
    }

    fn class(from_day: u32, n: u64, dflt: u64) -> PdFit {
        PdFit {
            from_day,
            current: d("0.5"),
            accounts: n,
            defaults: dflt,
            rate: None,
            jeffreys: None,
            fitted: d("0.5"),
            kept_because: None,
        }
    }

    #[test]
    fn falling_rates_are_pooled_and_kept_classes_left_alone() {
        // Rates 0.02, 0.10, 0.05, 0.40: the middle two fall, pooled into 15 / 200 = 0.075.
        let mut fits = vec![
            class(0, 100, 2),
            class(1, 100, 10),
            class(30, 100, 5),
            class(60, 100, 40),
        ];
        pool_adjacent_violators(&mut fits);
        let got: Vec<Decimal> = fits.iter().map(|f| f.fitted).collect();
        assert_eq!(got, [d("0.02"), d("0.075"), d("0.075"), d("0.4")]);
    }

    /// The audit's case: the fitted classes were pooled past a kept class, which kept its old pd
    /// below them, and the written table fell ([0.2, 0.5, 0.2] here, worked by hand: the fitted
    /// classes 30/100 and 10/100 pool to 40/200 = 0.2; the kept class between them must be 0.2 too).
    #[test]
    fn regression_calibrate_wrote_a_pd_table_that_falls_as_days_past_due_rise() {
        let table = |fits: &[PdFit]| -> Vec<Decimal> { fits.iter().map(|f| f.fitted).collect() };
        let mut fits = vec![class(0, 100, 30), class(1, 10, 0), class(30, 100, 10)];
        fits[1].kept_because = Some("few".into());
        pool_adjacent_violators(&mut fits);
        assert_eq!(table(&fits), [d("0.2"), d("0.2"), d("0.2")]);
        assert!(fits[1]
            .kept_because
            .as_ref()
            .unwrap()
            .contains("moved to 0.2"));
        // The book: 100 current with 8 defaults, 40 at 10 days with none (kept at 0.05), 40
        // at 45 days with 2: the fitted 8/100 and 2/40 pool to 10/140 = 0.0714; the kept class
        // between is held at 0.0714, and the kept classes after (0.35, 0.65) stay.
        let mut fits = vec![
            class(0, 100, 8),
            class(1, 40, 0),
            class(30, 40, 2),
            class(60, 0, 0),
            class(90, 0, 0),
        ];
        for (i, pd) in [(1, "0.05"), (3, "0.35"), (4, "0.65")] {
            fits[i].kept_because = Some("kept".into());
            fits[i].current = d(pd);
        }
        pool_adjacent_violators(&mut fits);
        let want = [d("0.0714"), d("0.0714"), d("0.0714"), d("0.35"), d("0.65")];
        assert_eq!(table(&fits), want);
        // A current table that itself falls among kept classes is raised, never written falling.
        let mut fits = vec![class(0, 100, 2), class(30, 0, 0), class(60, 0, 0)];
        for (i, pd) in [(1, "0.40"), (2, "0.10")] {
            fits[i].kept_because = Some("kept".into());
            fits[i].current = d(pd);
        }
        pool_adjacent_violators(&mut fits);
        assert_eq!(table(&fits), [d("0.02"), d("0.40"), d("0.40")]);
    }
}
