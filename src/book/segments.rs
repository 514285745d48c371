//! The groups of the segment tables: each account's group (sort position and label) in a segment, the
//! derived segments' labels (credit tier, term band, vintage) and their natural order.

use crate::input::load::{Loan, SegmentSource};

/// A segment value's sort position and label.
#[derive(Clone, Copy, Debug, Eq, PartialOrd, Ord)]
pub(crate) struct Key<'a> {
    pub(crate) position: u32,
    pub(crate) label: &'a str,
}

/// Equal as the derived `PartialEq` would say (same position, same bytes), without a call to `memcmp` for
/// every lookup: every account looks up one key per segment, and `memcmp` of two-letter states and
/// static labels was 2.3% of a run. Written out because the measurement said so.
impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.label.as_bytes(), other.label.as_bytes());
        self.position == other.position
            && a.len() == b.len()
            // Derived segments' labels are the same static strings; a column's point into loans' text.
            && (std::ptr::eq(a.as_ptr(), b.as_ptr())
                || if a.len() <= 16 {
                    a.iter().zip(b).all(|(x, y)| x == y)
                } else {
                    a == b
                })
    }
}

/// Hashed as derived: equal keys (same position, same bytes) hash the same.
impl std::hash::Hash for Key<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.position.hash(state);
        self.label.hash(state);
    }
}

const UNKNOWN: &str = "unknown";
/// The label of every table's last row.
pub const TOTAL: &str = "TOTAL";
/// The label of a segment value that is literally `TOTAL`.
pub const TOTAL_AS_VALUE: &str = "TOTAL (value)";
const UNKNOWN_POSITION: u32 = u32::MAX;
pub const CREDIT_TIERS: [(u32, u32, &str); 5] = [
    (250, 579, "deep_subprime"),
    (580, 619, "subprime"),
    (620, 659, "near_prime"),
    (660, 719, "prime"),
    (720, 900, "super_prime"),
];
pub const TERM_BANDS: [(u32, &str); 6] = [
    (36, "<=36"),
    (48, "37-48"),
    (60, "49-60"),
    (72, "61-72"),
    (84, "73-84"),
    (u32::MAX, ">84"),
];

/// The credit tier of a score (its position and label), `unknown` without one or out of range.
pub fn credit_tier(score: Option<u32>) -> (u32, &'static str) {
    score
        .and_then(|s| {
            CREDIT_TIERS
                .iter()
                .position(|&(lo, hi, _)| (lo..=hi).contains(&s))
        })
        .map_or((UNKNOWN_POSITION, UNKNOWN), |i| {
            (i as u32, CREDIT_TIERS[i].2)
        })
}

/// The term band of a term in months (its position and label).
pub fn term_band(term_months: u32) -> (u32, &'static str) {
    let i = TERM_BANDS
        .iter()
        .position(|&(hi, _)| term_months <= hi)
        .unwrap_or(TERM_BANDS.len() - 1);
    (i as u32, TERM_BANDS[i].1)
}

/// Every label of a derived segment in its natural order, `unknown` last where it can occur.
pub fn ordered_labels(segment: &str) -> Option<Vec<&'static str>> {
    match segment {
        "credit_tier" => Some(CREDIT_TIERS.iter().map(|t| t.2).chain([UNKNOWN]).collect()),
        "term_band" => Some(TERM_BANDS.iter().map(|t| t.1).collect()),
        _ => None,
    }
}

/// An account's group in a segment, as the summaries sort and label it: (sort position, label).
pub fn segment_group(loan: &Loan, source: &SegmentSource) -> (u32, String) {
    let key = segment_key(loan, source);
    (key.0, segment_label(key).into_owned())
}

/// An account's group in a segment without building its label: (sort position, label), the label
/// empty for a vintage, whose year is its position. Sorts as [`segment_group`] does.
pub fn segment_key<'a>(loan: &'a Loan, source: &SegmentSource) -> (u32, &'a str) {
    let k = key(loan, source);
    (k.position, k.label)
}

/// The label of a group from its [`segment_key`].
pub fn segment_label((position, label): (u32, &str)) -> std::borrow::Cow<'_, str> {
    match label {
        "" => position.to_string().into(),
        label => label.into(),
    }
}

pub(crate) fn key<'a>(loan: &'a Loan, source: &SegmentSource) -> Key<'a> {
    match source {
        SegmentSource::Vintage => Key {
            position: loan.origination_date.year() as u32,
            label: "",
        },
        SegmentSource::CreditTier => {
            let (position, label) = credit_tier(loan.credit_score);
            Key { position, label }
        }
        SegmentSource::TermBand => {
            let (position, label) = term_band(loan.term_months);
            Key { position, label }
        }
        SegmentSource::Column(n) => match loan.segment_value(*n) {
            // A value that says "unknown" is the missing group, not a second `unknown` row.
            "" | UNKNOWN => Key {
                position: UNKNOWN_POSITION,
                label: UNKNOWN,
            },
            // The total row's own label, as data: kept apart from it under a name that says so.
            TOTAL => Key {
                position: 0,
                label: TOTAL_AS_VALUE,
            },
            v => Key {
                position: 0,
                label: v,
            },
        },
    }
}
