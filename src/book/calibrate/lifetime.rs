//! The lifetime model ([`crate::book::lifetime`]) fitted to what happened: default hazards by loan
//! age and by delinquent class, and the ABS prepayment speed.
//!
//! Each tested account (open at as_of with records) is followed month by month over its months at
//! risk ([`Realized::months_at_risk`]): it enters the risk set at its age at as_of (left truncation:
//! the months before as_of were never observed), and leaves it at its default, its payoff (the
//! competing risk), its last record before it left the pool, or the horizon or the data's end
//! (censored). Month t of an account of age `a` and delinquent class `c` at as_of counts in the cell
//! the model reads for it: month t of class c's list while the list lasts, else the age band of
//! `a + t`. A cell's hazard = its defaults / its account-months, rounded once to 6 places, with the
//! Jeffreys 95% interval of that rate.
//!
//! Sparse cells are pooled: a cell with account-months but fewer than `min_accounts` accounts or no
//! default is joined with the cells after it (the last with the ones before) until the pool is not
//! sparse, and every cell of the pool takes its rate. A cell without any account-month (an age the
//! pool never reached) takes the nearest fitted cell's hazard (the one before it, else after). A
//! delinquent class with fewer than `min_accounts` accounts keeps its current list.
//!
//! The ABS speed is the one whose expected payoffs over the observed account-months,
//! `Σ SMM(a + t)`, equal the payoffs seen (a moment estimate; `Σ SMM` rises with the speed, so the
//! root is found by bisection in floats — a rate, not money — and rounded to 6 places). A payoff in
//! the loan's last scheduled month (its opening balance plus the month's interest no more than the
//! scheduled payment; by the term where the file gives no payment) is its maturity, not a
//! prepayment: it ends the account's months without counting. The interval maps the Jeffreys interval of payoffs per account-month through
//! the same equation.

use super::ltv_factor::{FactorFit, Grid};
use crate::book::backtest::{Account, Jeffreys};
use crate::book::lifetime::Lifetime;
use crate::book::outcome::Status;
use crate::book::Book;
use crate::money::ratio;
use rust_decimal::Decimal;

/// What one cell saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    /// Accounts with at least one month in the cell.
    pub accounts: u64,
    /// Account-months at risk.
    pub months: u64,
    pub defaults: u64,
}

impl Cell {
    fn add(&mut self, other: Cell) {
        self.accounts += other.accounts;
        self.months += other.months;
        self.defaults += other.defaults;
    }
}

/// One fitted hazard: an age band, or one month after as_of of a delinquent class.
#[derive(Clone, Debug, PartialEq)]
pub struct HazardFit {
    /// The band's first age, or the month after as_of.
    pub from: u32,
    pub cell: Cell,
    /// The cell's own rate, 6 places.
    pub rate: Option<Decimal>,
    pub jeffreys: Option<Jeffreys>,
    pub current: Decimal,
    pub fitted: Decimal,
    /// How `fitted` was reached when not from the cell alone (pooled, or kept).
    pub note: Option<String>,
}

/// A delinquent class's list.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassFit {
    pub from_day: u32,
    /// Tested accounts of the class at as_of.
    pub accounts: u64,
    pub months: Vec<HazardFit>,
}

/// The ABS speed, before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeedFit {
    /// Account-months at risk of prepayment.
    pub months: u64,
    pub payoffs: u64,
    /// Payoffs in the loan's last scheduled month: maturities, not counted.
    pub matured: u64,
    pub current: Decimal,
    pub fitted: Decimal,
    /// The speeds that give the Jeffreys 95% bounds of the payoffs (floats).
    pub interval: Option<(f64, f64)>,
    pub kept_because: Option<String>,
}

/// The lifetime model fitted.
#[derive(Clone, Debug, PartialEq)]
pub struct LifetimeFit {
    pub by_age: Vec<HazardFit>,
    /// Per LTV band, the hazard's factor (empty: the data supports none, the current ones kept).
    pub ltv_factors: Vec<FactorFit>,
    pub delinquent: Vec<ClassFit>,
    pub speed: SpeedFit,
    /// The model with the fitted figures (its discount as it was).
    pub model: Lifetime,
}

/// The counts of every cell.
struct Tally {
    by_age: Vec<Cell>,
    /// The age cells' months by LTV band, for the factors.
    grid: Grid,
    delinquent: Vec<(u64, Vec<Cell>)>,
    /// Account-months at risk of prepayment, by age.
    at_age: Vec<u64>,
    payoffs: u64,
    matured: u64,
}

/// Follows one tested account over its months at risk (see the module doc).
fn observe(t: &mut Tally, current: &Lifetime, book: &Book, a: &Account) {
    let Some(r) = a.realized.as_ref().filter(|r| r.status.tested()) else {
        return;
    };
    let loan = &book.loaded.loans[a.loan];
    let age = loan.origination_date.months_until(book.as_of);
    let class = current
        .delinquent
        .iter()
        .rposition(|(from, _)| loan.days_past_due >= *from);
    if let Some(c) = class {
        t.delinquent[c].0 += 1;
    }
    let list = class.map_or(0, |c| current.delinquent[c].1.len() as u32);
    // The LTV band at as_of; none without a value.
    let ltv = Some(a.figures.bucket).filter(|&b| b < t.grid.accounts.len());
    if ltv.is_some() && r.months_at_risk > list {
        t.grid.accounts[a.figures.bucket] += 1;
    }
    let mut last_band = None;
    for m in 1..=r.months_at_risk {
        let event = m == r.months_at_risk;
        let defaulted = u64::from(event && r.status == Status::Defaulted);
        let cell = match class {
            Some(c) if m <= list => &mut t.delinquent[c].1[m as usize - 1],
            _ => {
                let band = band_of(&current.hazard_by_age, age + m);
                if let Some(b) = ltv {
                    let g = &mut t.grid.cells[band][b];
                    (g.0, g.1) = (g.0 + 1, g.1 + defaulted);
                }
                let first = last_band != Some(band);
                last_band = Some(band);
                t.by_age[band].accounts += u64::from(first);
                &mut t.by_age[band]
            }
        };
        if m <= list {
            cell.accounts += 1;
        }
        cell.months += 1;
        cell.defaults += defaulted;
        let at = (age + m) as usize;
        if t.at_age.len() <= at {
            t.at_age.resize(at + 1, 0);
        }
        if event && r.status == Status::PaidOff {
            // The schedule's last month: its opening balance with the month's interest is no more
            // than the payment (by the term only where the file gives no payment).
            let last_month = match (loan.monthly_payment(), loan.apr()) {
                (Some(p), Some(apr)) => {
                    let b = r.balance_before_payoff;
                    b + b * apr / Decimal::from(1200) <= p
                }
                _ => age + m >= loan.term_months,
            };
            match last_month {
                true => {
                    t.matured += 1;
                    continue;
                }
                false => t.payoffs += 1,
            }
        }
        t.at_age[at] += 1;
    }
}

fn band_of(table: &[(u32, Decimal)], age: u32) -> usize {
    table
        .iter()
        .rposition(|(from, _)| age >= *from)
        .unwrap_or(0)
}

/// Fits the lifetime model `current` to the backtest's accounts.
pub fn fit(
    book: &Book,
    accounts: &[Account],
    current: &Lifetime,
    min_accounts: u64,
) -> LifetimeFit {
    let bands = book.bands.labels.len() - 1;
    let mut t = Tally {
        by_age: vec![Cell::default(); current.hazard_by_age.len()],
        grid: Grid {
            cells: vec![vec![(0, 0); bands]; current.hazard_by_age.len()],
            accounts: vec![0; bands],
        },
        delinquent: current
            .delinquent
            .iter()
            .map(|(_, list)| (0, vec![Cell::default(); list.len()]))
            .collect(),
        at_age: Vec::new(),
        payoffs: 0,
        matured: 0,
    };
    for a in accounts {
        observe(&mut t, current, book, a);
    }
    let (mut by_age, pools) = hazards(
        current
            .hazard_by_age
            .iter()
            .copied()
            .zip(t.by_age.iter().copied()),
        min_accounts,
        "age",
    );
    let (ltv_factors, pooled) = super::ltv_factor::fit(
        &t.grid,
        &pools,
        &book.bands.labels[..bands],
        &current.hazard_factor_by_ltv_band,
        min_accounts,
    );
    if !ltv_factors.is_empty() {
        with_factors(&mut by_age, &pools, &pooled);
    }
    let delinquent: Vec<ClassFit> = current
        .delinquent
        .iter()
        .zip(&t.delinquent)
        .map(|((from_day, list), (accounts, cells))| ClassFit {
            from_day: *from_day,
            accounts: *accounts,
            months: class_hazards(list, cells, *accounts, min_accounts),
        })
        .collect();
    let speed = fit_speed(&t, current.abs_speed);
    let model = Lifetime {
        hazard_by_age: by_age.iter().map(|f| (f.from, f.fitted)).collect(),
        hazard_factor_by_ltv_band: match ltv_factors.is_empty() {
            true => current.hazard_factor_by_ltv_band.clone(),
            false => ltv_factors.iter().map(|f| f.fitted).collect(),
        },
        delinquent: delinquent
            .iter()
            .map(|c| (c.from_day, c.months.iter().map(|f| f.fitted).collect()))
            .collect(),
        abs_speed: speed.fitted,
        discount: current.discount,
    };
    LifetimeFit {
        by_age,
        ltv_factors,
        delinquent,
        speed,
        model,
    }
}

/// A delinquent class's list: fitted (its sparse months pooled) when the class has at least
/// `min_accounts` accounts, else kept whole.
fn class_hazards(
    list: &[Decimal],
    cells: &[Cell],
    accounts: u64,
    min_accounts: u64,
) -> Vec<HazardFit> {
    let (mut fits, _) = hazards(
        (1..).zip(list.iter().copied()).zip(cells.iter().copied()),
        min_accounts,
        "month",
    );
    if accounts < min_accounts {
        for f in &mut fits {
            f.fitted = f.current;
            f.note = Some(format!(
                "the class has {accounts} accounts, fewer than min_accounts = {min_accounts}: kept {}",
                f.current
            ));
        }
    }
    fits
}

/// Each cell's rate and interval, its sparse cells pooled (module doc); `what` names the cells'
/// starts in the notes ("age", "months").
fn hazards(
    cells: impl Iterator<Item = ((u32, Decimal), Cell)>,
    min_accounts: u64,
    what: &str,
) -> (Vec<HazardFit>, Vec<Vec<usize>>) {
    let mut fits: Vec<HazardFit> = cells
        .map(|((from, current), cell)| HazardFit {
            from,
            cell,
            rate: (cell.months > 0).then(|| rate(cell)),
            jeffreys: Jeffreys::of(cell.months, cell.defaults),
            current,
            fitted: current,
            note: (cell.months == 0)
                .then(|| format!("no account-months in the data: kept {current}")),
        })
        .collect();
    let with_data = fits
        .iter()
        .map(|f| (f.cell.months > 0).then_some((f.cell.accounts, f.cell.defaults)));
    let pools = match super::pooling::pools(with_data, min_accounts) {
        Ok(pools) => pools,
        Err(open) => {
            let mut pooled = Cell::default();
            open.iter().for_each(|&i| pooled.add(fits[i].cell));
            for i in open {
                let f = &mut fits[i];
                f.note = Some(format!(
                    "too sparse even pooled ({} accounts, {} defaults in all): kept {}",
                    pooled.accounts, pooled.defaults, f.current
                ));
            }
            Vec::new()
        }
    };
    for pool in &pools {
        let mut cell = Cell::default();
        pool.iter().for_each(|&i| cell.add(fits[i].cell));
        let fitted = rate(cell);
        let (first, last) = (fits[pool[0]].from, fits[pool[pool.len() - 1]].from);
        for &i in pool {
            fits[i].fitted = fitted;
            if pool.len() > 1 {
                fits[i].note = Some(format!(
                    "pooled {what}s {first} to {last}: {} account-months, {} defaults",
                    cell.months, cell.defaults
                ));
            }
        }
    }
    carry_to_empty(&mut fits, what);
    (fits, pools)
}

/// The age hazards fitted with the LTV factors: each pool's hazard from the alternating fit,
/// rounded to 6 places, and the empty cells carried again from them.
fn with_factors(by_age: &mut [HazardFit], pools: &[Vec<usize>], hazard: &[f64]) {
    for (pool, &h) in pools.iter().zip(hazard) {
        let h = Decimal::from_f64_retain(h).map_or(Decimal::ZERO, |h| h.round_dp(6));
        for &i in pool {
            let f = &mut by_age[i];
            f.fitted = h.min(Decimal::ONE);
            let how = f.note.take().map_or(String::new(), |n| format!("{n}; "));
            f.note = Some(format!(
                "{how}fitted with the LTV factors, was {}",
                f.current
            ));
        }
    }
    for f in by_age.iter_mut().filter(|f| f.cell.months == 0) {
        f.note = None;
    }
    carry_to_empty(by_age, "age");
}

/// A cell without any account-month takes the hazard of the nearest cell fitted from data (the one
/// before it, else the one after): the data says nothing of it, and a figure from the data is better
/// than one from another source. With no cell fitted, every cell keeps its current hazard.
fn carry_to_empty(fits: &mut [HazardFit], what: &str) {
    let fitted: Vec<bool> = fits
        .iter()
        .map(|f| f.cell.months > 0 && !f.note.as_ref().is_some_and(|n| n.starts_with("too sparse")))
        .collect();
    for i in 0..fits.len() {
        if fits[i].cell.months > 0 {
            continue;
        }
        let Some(from) = super::pooling::nearest(&fitted, i) else {
            continue;
        };
        let (hazard, start) = (fits[from].fitted, fits[from].from);
        let f = &mut fits[i];
        f.fitted = hazard;
        f.note = Some(format!(
            "no account-months in the data: carried from {what} {start} (was {})",
            f.current
        ));
    }
}

fn rate(c: Cell) -> Decimal {
    ratio(Decimal::from(c.defaults), Decimal::from(c.months), 6)
}

/// The ABS speed (module doc).
fn fit_speed(t: &Tally, current: Decimal) -> SpeedFit {
    let months: u64 = t.at_age.iter().sum();
    let mut fit = SpeedFit {
        months,
        payoffs: t.payoffs,
        matured: t.matured,
        current,
        fitted: current,
        interval: None,
        kept_because: None,
    };
    if t.payoffs == 0 {
        fit.kept_because = Some(format!("no prepayment in {months} account-months"));
        return fit;
    }
    let speed = Decimal::from_f64_retain(speed_for(&t.at_age, t.payoffs as f64))
        .map(|s| s.round_dp(6))
        .unwrap_or(current);
    fit.fitted = speed;
    fit.interval = Jeffreys::of(months, t.payoffs).map(|j| {
        (
            speed_for(&t.at_age, j.low * months as f64),
            speed_for(&t.at_age, j.high * months as f64),
        )
    });
    fit
}

/// The speed whose expected payoffs over `at_age` account-months equal `payoffs`.
fn speed_for(at_age: &[u64], payoffs: f64) -> f64 {
    let expected = |s: f64| -> f64 {
        at_age
            .iter()
            .enumerate()
            .filter(|&(age, &n)| age > 0 && n > 0)
            .map(|(age, &n)| {
                let left = 1.0 - s * (age as f64 - 1.0);
                n as f64 * if left <= s { 1.0 } else { s / left }
            })
            .sum()
    };
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        match expected(mid) < payoffs {
            true => lo = mid,
            false => hi = mid,
        }
    }
    (lo + hi) / 2.0
}
