//! How an input file writes "no value" and dates: the conventions every loader reads its cells
//! through (loans, valuations, outcome records), from the config's `missing` words and the tape flag.

use crate::date::Date;

/// The texts real exports write for "no value" (besides an empty field), unless the config's `missing`
/// says otherwise.
pub const DEFAULT_MISSING: [&str; 7] = ["NA", "N/A", "NULL", "null", "None", "-", "#N/A"];

/// The value conventions of an input file: its missing words, and whether it is an EX-102 tape (its
/// date forms). Every input reads its cells through them: loans, valuations and outcome records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conventions {
    /// An EX-102 tape: tape date forms, rate as a fraction.
    pub tape: bool,
    /// Words that mean "no value" in any field (an empty field always does).
    missing: std::sync::Arc<[Box<str>]>,
    /// The longest missing word: a longer field is never missing (the common case, checked first).
    longest: usize,
    /// The first bytes of the missing words, as a bit set: a field starting with any other byte (a
    /// digit, in most fields) is not missing, with no comparison. Comparing every short field with
    /// every word was 3% of parsing a loan row, most of it in `memcmp`.
    starts: [u64; 4],
}

impl Default for Conventions {
    fn default() -> Conventions {
        Conventions::new(false, &DEFAULT_MISSING)
    }
}

impl Conventions {
    pub fn new<S: AsRef<str>>(tape: bool, missing: &[S]) -> Conventions {
        Conventions {
            tape,
            missing: missing.iter().map(|w| Box::from(w.as_ref())).collect(),
            longest: missing.iter().map(|w| w.as_ref().len()).max().unwrap_or(0),
            starts: missing
                .iter()
                .filter_map(|w| w.as_ref().bytes().next())
                .fold([0; 4], |mut set, b| {
                    set[usize::from(b >> 6)] |= 1 << (b & 63);
                    set
                }),
        }
    }

    /// Whether a (trimmed) field means "no value".
    pub fn is_missing(&self, text: &str) -> bool {
        let Some(&first) = text.as_bytes().first() else {
            return true;
        };
        text.len() <= self.longest
            && self.starts[usize::from(first >> 6)] & (1 << (first & 63)) != 0
            && self.missing.iter().any(|w| **w == *text)
    }

    pub fn parse_date(&self, text: &str) -> Option<Date> {
        if self.tape {
            Date::parse_tape(text)
        } else {
            Date::parse(text)
        }
    }

    /// How to write dates in reject reasons.
    pub fn date_hint(&self) -> &'static str {
        if self.tape {
            "write MM/YYYY, MM-DD-YYYY or YYYY-MM-DD"
        } else {
            "write YYYY-MM-DD"
        }
    }
}
