//! The hazard's factor per LTV band, fitted with the age hazards ([`super::lifetime`]).
//!
//! Defaults concentrate where the car is worth least against the loan, so a hazard by age alone
//! spreads them evenly over the book and understates the loss. The model multiplies the age hazard
//! by a factor of the account's LTV band at as_of; calibrate fits both by Poisson maximum likelihood:
//! alternately, each age pool's hazard = its defaults / Σ its account-months × their band's factor,
//! and each band's factor = its defaults / Σ its account-months × their age hazard (iterative
//! proportional fitting, 200 rounds), the factors scaled so their mean over the account-months is 1.
//! Floats (rates, not money), rounded once: hazards to 6 places, factors to 4.
//!
//! Only the age table's months count (a delinquent list is its class's own risk), and only accounts
//! with a value (the others have no band, and no lifetime figures). A band with fewer than
//! `min_accounts` accounts or no default is pooled with the bands after it (the last with the ones
//! before); then, while a factor falls as the LTV rises, the two pools are joined and the fit run
//! again (pool-adjacent-violators: a car covering less of the loan does not make a default less
//! likely, and on a small history such a fall is noise). A band without any account takes the
//! nearest fitted band's factor. Fewer than two pools: no factors.

use rust_decimal::Decimal;

/// What one LTV band saw, and its factor.
#[derive(Clone, Debug, PartialEq)]
pub struct FactorFit {
    pub band: String,
    pub accounts: u64,
    /// Account-months in the age table's cells.
    pub months: u64,
    pub defaults: u64,
    /// The current factor (1 when the model has none).
    pub current: Decimal,
    pub fitted: Decimal,
    pub note: Option<String>,
}

/// The age table's months by (age pool, band): what the fit reads.
pub struct Grid {
    /// Per age cell (hazard_by_age step), per band: (account-months, defaults).
    pub cells: Vec<Vec<(u64, u64)>>,
    /// Per band: accounts with a month in the age table.
    pub accounts: Vec<u64>,
}

/// Fits the factors and the pooled age hazards; `pools` are the age cells' pools (each a list of
/// cell indices). Returns the factors (empty when the data supports none) and each pool's hazard.
pub fn fit(
    grid: &Grid,
    pools: &[Vec<usize>],
    labels: &[String],
    current: &[Decimal],
    min_accounts: u64,
) -> (Vec<FactorFit>, Vec<f64>) {
    let bands = labels.len();
    let band_total = |b: usize| -> (u64, u64) {
        grid.cells
            .iter()
            .fold((0, 0), |(n, d), row| (n + row[b].0, d + row[b].1))
    };
    let mut fits: Vec<FactorFit> = (0..bands)
        .map(|b| {
            let (months, defaults) = band_total(b);
            FactorFit {
                band: labels[b].clone(),
                accounts: grid.accounts[b],
                months,
                defaults,
                current: current.get(b).copied().unwrap_or(Decimal::ONE),
                fitted: current.get(b).copied().unwrap_or(Decimal::ONE),
                note: None,
            }
        })
        .collect();
    let mut band_pools = pool_bands(&mut fits, min_accounts);
    if band_pools.len() < 2 {
        return (Vec::new(), Vec::new());
    }
    let (factor, hazard) = loop {
        let (factor, hazard) = alternate(grid, pools, &band_pools, bands);
        // A factor falling as the LTV rises is noise (the car covers less of the loan): the two
        // pools are joined and the fit run again (pool-adjacent-violators, as the pd table).
        match (1..factor.len()).find(|&p| factor[p] < factor[p - 1]) {
            Some(p) => {
                let next = band_pools.remove(p);
                band_pools[p - 1].extend(next);
                let names: Vec<String> = band_pools[p - 1]
                    .iter()
                    .map(|&b| fits[b].band.clone())
                    .collect();
                let note = format!("pooled bands {} (factors rise with LTV)", names.join(", "));
                band_pools[p - 1]
                    .iter()
                    .for_each(|&b| fits[b].note = Some(note.clone()));
            }
            None => break (factor, hazard),
        }
    };
    if band_pools.len() < 2 {
        return (Vec::new(), Vec::new());
    }
    for (p, pool) in band_pools.iter().enumerate() {
        let f = Decimal::from_f64_retain(factor[p]).map_or(Decimal::ONE, |f| f.round_dp(4));
        for &b in pool {
            fits[b].fitted = f.min(Decimal::ONE_HUNDRED);
        }
    }
    carry_to_empty(&mut fits);
    (fits, hazard)
}

/// Groups the bands with data into pools (sparse ones joined as the module doc says).
fn pool_bands(fits: &mut [FactorFit], min_accounts: u64) -> Vec<Vec<usize>> {
    let with_data = fits
        .iter()
        .map(|f| (f.months > 0).then_some((f.accounts, f.defaults)));
    let Ok(pools) = super::pooling::pools(with_data, min_accounts) else {
        return Vec::new();
    };
    for pool in pools.iter().filter(|p| p.len() > 1) {
        let names: Vec<String> = pool.iter().map(|&b| fits[b].band.clone()).collect();
        let note = format!("pooled bands {}", names.join(", "));
        for &b in pool {
            fits[b].note = Some(note.clone());
        }
    }
    pools
}

/// The alternating fit: per band pool its factor, per age pool its hazard.
fn alternate(
    grid: &Grid,
    pools: &[Vec<usize>],
    band_pools: &[Vec<usize>],
    bands: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut pool_of = vec![usize::MAX; bands];
    for (p, pool) in band_pools.iter().enumerate() {
        pool.iter().for_each(|&b| pool_of[b] = p);
    }
    let mut factor = vec![1.0f64; band_pools.len()];
    let mut hazard = vec![0.0f64; pools.len()];
    let cell = |j: usize, b: usize| grid.cells[j][b];
    for _ in 0..200 {
        for (g, pool) in pools.iter().enumerate() {
            let (mut d, mut weighted) = (0u64, 0.0f64);
            for &j in pool {
                for b in (0..bands).filter(|&b| pool_of[b] != usize::MAX) {
                    d += cell(j, b).1;
                    weighted += cell(j, b).0 as f64 * factor[pool_of[b]];
                }
            }
            hazard[g] = if weighted > 0.0 {
                d as f64 / weighted
            } else {
                0.0
            };
        }
        let (mut months, mut weighted_months) = (0.0f64, 0.0f64);
        for (p, pool) in band_pools.iter().enumerate() {
            let (mut d, mut expected, mut n) = (0u64, 0.0f64, 0u64);
            for &b in pool {
                for (g, ages) in pools.iter().enumerate() {
                    for &j in ages {
                        d += cell(j, b).1;
                        n += cell(j, b).0;
                        expected += cell(j, b).0 as f64 * hazard[g];
                    }
                }
            }
            factor[p] = if expected > 0.0 {
                d as f64 / expected
            } else {
                1.0
            };
            months += n as f64;
            weighted_months += n as f64 * factor[p];
        }
        // Scale so the factors' mean over the account-months is 1 (the hazards take the inverse).
        let scale = if weighted_months > 0.0 {
            weighted_months / months
        } else {
            1.0
        };
        factor.iter_mut().for_each(|f| *f /= scale);
        hazard.iter_mut().for_each(|h| *h *= scale);
    }
    (factor, hazard)
}

/// A band without data takes the nearest fitted band's factor (the one below it, else above).
fn carry_to_empty(fits: &mut [FactorFit]) {
    let fitted: Vec<bool> = fits.iter().map(|f| f.months > 0).collect();
    for i in 0..fits.len() {
        if fitted[i] {
            continue;
        }
        if let Some(from) = super::pooling::nearest(&fitted, i) {
            let (factor, band) = (fits[from].fitted, fits[from].band.clone());
            fits[i].fitted = factor;
            fits[i].note = Some(format!(
                "no account-months in the data: carried from band {band}"
            ));
        }
    }
}
