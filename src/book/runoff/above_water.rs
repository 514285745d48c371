//! How soon the accounts underwater tonight come back above water: the run-off's
//! `months_to_positive_equity` summarized.

/// `months_to_positive_equity` of an account that was projected but stays underwater past
/// [`MAX_PROJECTION_MONTHS`](crate::book::runoff::MAX_PROJECTION_MONTHS), or was not projected: the
/// column is empty.
pub const NO_MONTHS: u32 = u32::MAX;

/// How soon the accounts underwater tonight come back above water.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackAboveWater {
    /// (month, accounts above water after the previous limit and by this month) for 12, 24, … 60.
    pub by_month: Vec<(u32, u64)>,
    /// Above water after month 60.
    pub later: u64,
    /// Median `months_to_positive_equity` (nearest rank), if any account is underwater and projected.
    pub median: Option<u32>,
}

/// Summarizes every account's `months_to_positive_equity` (0: not underwater, [`NO_MONTHS`]: none).
pub fn back_above_water(months_to_positive_equity: &[u32]) -> BackAboveWater {
    let mut back: Vec<u32> = months_to_positive_equity
        .iter()
        .copied()
        .filter(|&m| m > 0 && m != NO_MONTHS)
        .collect();
    back.sort_unstable();
    let mut by_month = Vec::new();
    let mut counted = 0;
    for limit in [12, 24, 36, 48, 60] {
        let n = back.partition_point(|&m| m <= limit) as u64;
        by_month.push((limit, n - counted));
        counted = n;
    }
    BackAboveWater {
        by_month,
        later: back.len() as u64 - counted,
        median: (!back.is_empty())
            .then(|| back[(back.len() * 50).div_ceil(100).clamp(1, back.len()) - 1]),
    }
}
