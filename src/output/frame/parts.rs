//! The parts the accounts frame is built in, a few thousand accounts each, in parallel.

use rayon::prelude::*;

/// Accounts per part: a part's figures and rows (360 bytes an account, 0.7 MB at 2,048 accounts) fit
/// in a core's L2 cache while its twenty-odd columns read them one after another; much larger parts
/// come from L3 for every column (the sizes tried are in docs/perf-log.md).
const PART: usize = 1 << 11;

/// The parts of `range`, in order.
pub(super) fn parts(
    range: std::ops::Range<usize>,
) -> impl IndexedParallelIterator<Item = std::ops::Range<usize>> {
    let (start, end) = (range.start, range.end);
    (0..range.len().div_ceil(PART))
        .into_par_iter()
        .map(move |p| start + p * PART..(start + (p + 1) * PART).min(end))
}
