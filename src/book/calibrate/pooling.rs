//! What the lifetime fits share: sparse cells pooled with their neighbours, and an empty cell's
//! nearest fitted one.

/// Pools the cells with data, in order: each is added to an open pool until the pool holds at least
/// `min_accounts` accounts and a default; the cells left open at the end join the last pool. `cells`
/// gives each cell's `(accounts, defaults)`, `None` for a cell without data. `Err`: no pool reaches
/// the bar, with every cell that has data.
pub fn pools(
    cells: impl Iterator<Item = Option<(u64, u64)>>,
    min_accounts: u64,
) -> Result<Vec<Vec<usize>>, Vec<usize>> {
    let mut pools: Vec<Vec<usize>> = Vec::new();
    let (mut open, mut accounts, mut defaults) = (Vec::new(), 0, 0);
    for (i, (a, d)) in cells.enumerate().filter_map(|(i, c)| c.map(|c| (i, c))) {
        open.push(i);
        accounts += a;
        defaults += d;
        if accounts >= min_accounts && defaults > 0 {
            pools.push(std::mem::take(&mut open));
            (accounts, defaults) = (0, 0);
        }
    }
    match (open.is_empty(), pools.last_mut()) {
        (true, _) => {}
        (false, Some(last)) => last.extend(open),
        (false, None) => return Err(open),
    }
    Ok(pools)
}

/// The nearest fitted cell to cell `i`: the one before it, else the one after.
pub fn nearest(fitted: &[bool], i: usize) -> Option<usize> {
    (0..i)
        .rev()
        .find(|&j| fitted[j])
        .or_else(|| (i + 1..fitted.len()).find(|&j| fitted[j]))
}
