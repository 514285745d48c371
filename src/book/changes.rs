//! Night over night: tonight's book against a finished earlier run (`run --previous DIR`).
//!
//! Accounts are joined on `account_id`: continuing (in both), new (tonight only), closed (before only).
//! Both runs list their accounts in id order, so the join is one merge, and the comparison is summed in
//! the same parallel pass as the summaries. The negative-equity bridge is exact to the cent and adds up by
//! construction: for continuing accounts valued in both runs,
//! `balance_change = max(B1 − V0, 0) − NE0` and `value_change = NE1 − max(B1 − V0, 0)` (B balance, V value,
//! NE negative equity, 0 before and 1 tonight, all in cents as the accounts files show them), so the two
//! sum to `NE1 − NE0`; accounts valued in one run only go to `valuation_gained_or_lost` (`NE1 − NE0`, a
//! missing value counting as 0); closed accounts take away their `NE0`, new ones add their `NE1`.

use crate::book::metrics::{Bands, Figures};
use crate::date::Date;
use crate::error::InputError;
use crate::input::load::Loan;
use crate::input::previous::{PreviousAccount, PreviousRun};

/// A figure (rounded to cents, so at scale 2) as a count of cents.
fn in_cents(d: rust_decimal::Decimal) -> i128 {
    debug_assert_eq!(d.scale(), 2, "figures are rounded to cents");
    d.mantissa()
}

/// Delinquency classes of the roll-rate matrix, by days past due.
pub const DPD_CLASSES: [&str; 5] = ["current", "1-29", "30-59", "60-89", "90+"];
/// The row label of accounts that were not in the previous run.
pub const NEW: &str = "new";
/// The column label of accounts that are not in tonight's run.
pub const CLOSED: &str = "closed";
/// `prev_of` of a new account.
const NONE: u32 = u32::MAX;

/// The delinquency class of `days` past due (index into [`DPD_CLASSES`]).
pub fn dpd_class(days: u32) -> usize {
    match days {
        0 => 0,
        1..=29 => 1,
        30..=59 => 2,
        60..=89 => 3,
        _ => 4,
    }
}

/// Tonight's loans joined to the previous run's accounts.
#[derive(Debug)]
pub struct Join {
    pub previous: PreviousRun,
    /// Per loan (by index into the book's loans): index into `previous.accounts`, or none.
    prev_of: Vec<u32>,
    /// Per previous account: whether tonight has it.
    matched: Vec<bool>,
    /// Per previous band label: tonight's band index.
    band_of_label: Vec<usize>,
}

impl Join {
    /// The previous run's account for tonight's loan `i`, with its band (tonight's index).
    pub fn previous_of(&self, i: usize) -> Option<(&PreviousAccount, usize)> {
        match self.prev_of.get(i).copied() {
            Some(p) if p != NONE => {
                let a = &self.previous.accounts[p as usize];
                Some((a, self.band_of_label[a.band as usize]))
            }
            _ => None,
        }
    }
}

/// Joins tonight's loans (`order`: their indices in id order) to `previous`, after checking the two runs
/// can be compared: the previous as_of is not later than tonight's and the LTV bands are the same.
pub fn join(
    previous: PreviousRun,
    loans: &[Loan],
    order: &[u32],
    as_of: Date,
    ltv_bands: &[rust_decimal::Decimal],
    bands: &Bands,
) -> Result<Join, InputError> {
    let refuse = |problem: String| InputError::Previous {
        dir: previous.dir.clone(),
        problem,
    };
    if previous.as_of > as_of {
        return Err(refuse(format!(
            "its as_of {} is later than tonight's {as_of}. Fix: --previous names an earlier run",
            previous.as_of
        )));
    }
    if previous.ltv_bands != ltv_bands {
        let show = |b: &[rust_decimal::Decimal]| {
            b.iter()
                .map(|d| d.normalize().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(refuse(format!(
            "it used LTV bands [{}], tonight uses [{}]; band migrations need the same bands. Fix: run \
             with the same ltv_bands, or compare with a run that used them",
            show(&previous.ltv_bands),
            show(ltv_bands)
        )));
    }
    let band_of_label = previous
        .band_labels
        .iter()
        .map(|l| {
            bands.labels.iter().position(|b| b == l).ok_or_else(|| {
                refuse(format!(
                    "its accounts carry the LTV band `{l}`, which its bands do not have"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut prev_of = vec![NONE; loans.len()];
    let mut matched = vec![false; previous.accounts.len()];
    let mut p = 0;
    for &i in order {
        let id = loans[i as usize].account_id_bytes();
        while p < previous.accounts.len() && previous.accounts[p].id.as_bytes() < id {
            p += 1;
        }
        if p < previous.accounts.len() && previous.accounts[p].id.as_bytes() == id {
            prev_of[i as usize] = p as u32;
            matched[p] = true;
            p += 1;
        }
    }
    Ok(Join {
        previous,
        prev_of,
        matched,
        band_of_label,
    })
}
crate::sums::summable! {
    /// The negative-equity bridge, in cents; `previous` + every other line = `current`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Bridge {
        pub previous: i128,
        pub closed: i128,
        pub new: i128,
        pub balance_change: i128,
        pub value_change: i128,
        pub valuation_gained_or_lost: i128,
        pub current: i128,
    }
}

impl Bridge {
    /// The lines in file order, with their names.
    pub fn lines(&self) -> [(&'static str, i128); 7] {
        [
            ("previous", self.previous),
            ("closed", self.closed),
            ("new", self.new),
            ("balance_change", self.balance_change),
            ("value_change", self.value_change),
            ("valuation_gained_or_lost", self.valuation_gained_or_lost),
            ("current", self.current),
        ]
    }
}
crate::sums::summable! {
    /// The expected-deficiency bridge, in cents.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct DeficiencyBridge {
        pub previous: i128,
        pub closed: i128,
        pub new: i128,
        pub continuing: i128,
        pub current: i128,
    }
}

/// What changed: the two matrices, the counts and the bridges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Band labels (tonight's); rows are these then `new`, columns these then `closed`.
    pub bands: Vec<String>,
    /// `(accounts, balance in cents)` at `[row × (bands + 1) + column]`: tonight's balance, the previous
    /// one for closed accounts. (Figures are rounded to cents, scale 2, so a mantissa is a count of cents.)
    pub ltv: Vec<(u64, i128)>,
    /// The same over [`DPD_CLASSES`] (then `new` / `closed`).
    pub delinquency: Vec<(u64, i128)>,
    pub continuing: u64,
    pub new: u64,
    pub closed: u64,
    /// Continuing accounts whose LTV band rose (to a higher LTV) or fell, both valued in both runs.
    pub band_up: u64,
    pub band_down: u64,
    /// Continuing accounts that lost or gained a value.
    pub to_no_value: u64,
    pub from_no_value: u64,
    pub negative_equity: Bridge,
    pub expected_deficiency: DeficiencyBridge,
}

impl Changes {
    pub fn new(bands: &Bands) -> Changes {
        let n = bands.labels.len() + 1;
        Changes {
            bands: bands.labels.clone(),
            ltv: vec![(0, 0); n * n],
            delinquency: vec![(0, 0); (DPD_CLASSES.len() + 1) * (DPD_CLASSES.len() + 1)],
            ..Changes::default()
        }
    }

    fn cell(cells: &mut [(u64, i128)], width: usize, row: usize, col: usize, balance: i128) {
        let c = &mut cells[row * width + col];
        c.0 += 1;
        c.1 += balance;
    }

    /// Adds tonight's account with figures `f`, and its previous self if it has one.
    pub fn add(&mut self, loan: &Loan, f: &Figures, previous: Option<(&PreviousAccount, usize)>) {
        let (w_ltv, w_dpd) = (self.bands.len() + 1, DPD_CLASSES.len() + 1);
        let b1 = in_cents(f.balance);
        let ne1 = f.valued.as_ref().map_or(0, |v| in_cents(v.negative_equity));
        let ed1 = in_cents(f.expected_deficiency);
        let dpd1 = dpd_class(loan.days_past_due);
        self.negative_equity.current += ne1;
        self.expected_deficiency.current += ed1;
        let Some((p, band0)) = previous else {
            self.new += 1;
            Self::cell(&mut self.ltv, w_ltv, self.bands.len(), f.bucket, b1);
            Self::cell(&mut self.delinquency, w_dpd, DPD_CLASSES.len(), dpd1, b1);
            self.negative_equity.new += ne1;
            self.expected_deficiency.new += ed1;
            return;
        };
        self.continuing += 1;
        Self::cell(&mut self.ltv, w_ltv, band0, f.bucket, b1);
        Self::cell(
            &mut self.delinquency,
            w_dpd,
            dpd_class(p.days_past_due),
            dpd1,
            b1,
        );
        self.add_previous_totals(p);
        let ne0 = i128::from(p.negative_equity);
        match (p.value, &f.valued) {
            (Some(v0), Some(_)) => {
                let middle = (b1 - i128::from(v0)).max(0);
                self.negative_equity.balance_change += middle - ne0;
                self.negative_equity.value_change += ne1 - middle;
                match f.bucket.cmp(&band0) {
                    std::cmp::Ordering::Greater => self.band_up += 1,
                    std::cmp::Ordering::Less => self.band_down += 1,
                    std::cmp::Ordering::Equal => {}
                }
            }
            (v0, v1) => {
                self.negative_equity.valuation_gained_or_lost += ne1 - ne0;
                self.to_no_value += u64::from(v0.is_some() && v1.is_none());
                self.from_no_value += u64::from(v0.is_none() && v1.is_some());
            }
        }
        self.expected_deficiency.continuing += ed1 - i128::from(p.expected_deficiency);
    }

    fn add_previous_totals(&mut self, p: &PreviousAccount) {
        self.negative_equity.previous += i128::from(p.negative_equity);
        self.expected_deficiency.previous += i128::from(p.expected_deficiency);
    }

    /// Adds the previous run's accounts that tonight does not have.
    pub fn add_closed(&mut self, join: &Join) {
        let (w_ltv, w_dpd) = (self.bands.len() + 1, DPD_CLASSES.len() + 1);
        for (p, _) in join
            .previous
            .accounts
            .iter()
            .zip(&join.matched)
            .filter(|(_, m)| !**m)
        {
            let band0 = join.band_of_label[p.band as usize];
            let b0 = i128::from(p.balance);
            self.closed += 1;
            Self::cell(&mut self.ltv, w_ltv, band0, self.bands.len(), b0);
            Self::cell(
                &mut self.delinquency,
                w_dpd,
                dpd_class(p.days_past_due),
                DPD_CLASSES.len(),
                b0,
            );
            self.add_previous_totals(p);
            self.negative_equity.closed -= i128::from(p.negative_equity);
            self.expected_deficiency.closed -= i128::from(p.expected_deficiency);
        }
    }

    /// Adds another piece's changes. Destructured, so a field added and not merged here does not
    /// compile.
    pub fn merge(&mut self, o: &Changes) {
        let Changes {
            bands: _,
            ltv,
            delinquency,
            continuing,
            new,
            closed,
            band_up,
            band_down,
            to_no_value,
            from_no_value,
            negative_equity,
            expected_deficiency,
        } = o;
        for (a, b) in self.ltv.iter_mut().zip(ltv) {
            a.0 += b.0;
            a.1 += b.1;
        }
        for (a, b) in self.delinquency.iter_mut().zip(delinquency) {
            a.0 += b.0;
            a.1 += b.1;
        }
        self.continuing += continuing;
        self.new += new;
        self.closed += closed;
        self.band_up += band_up;
        self.band_down += band_down;
        self.to_no_value += to_no_value;
        self.from_no_value += from_no_value;
        self.negative_equity.merge(negative_equity);
        self.expected_deficiency.merge(expected_deficiency);
    }
}
