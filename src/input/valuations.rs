//! The valuations file: opened with its layout (the columns checked), each row parsed or rejected by
//! `load::rows`, and the types a matched valuation is held in. The matching rule itself is the book's
//! (`book::matching`), which streams the file through [`open`].

use crate::date::Date;
use crate::error::InputError;
use crate::input::conventions::Conventions;
use crate::input::frame::{Chunks, InputRef};
use crate::input::load::rows::{parse_valuations, ValuationLayout};
use rust_decimal::Decimal;
use std::path::Path;
use std::sync::Arc;

/// The valuation an account was matched to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Valuation {
    pub date: Date,
    pub value: Decimal,
    pub source: Source,
    /// An estimate from the depreciation curve (see [`crate::book::estimate`]), not an appraisal.
    pub estimated: bool,
}

/// A valuation's source name, shared: a book has millions of valuations but a handful of sources.
/// A thin pointer (8 bytes where `Arc<str>` takes 16), as the best-valuation table holds one for every
/// VIN of the book: a slot of that table is 32 bytes instead of 40 (80 MB at 10M loans).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source(Arc<Box<str>>);

impl std::ops::Deref for Source {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

// Hashes as the `str` it holds (`Arc` and `Box` hash their contents), as a set looked up by `&str`
// needs.
impl std::borrow::Borrow<str> for Source {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Source {
    fn from(name: &str) -> Source {
        Source(Arc::new(name.into()))
    }
}

/// Opens a valuations file: its chunked reader (reporting bytes read to `progress`) and its layout,
/// the required columns checked.
pub fn open(
    input: InputRef<'_>,
    conventions: &Conventions,
    chunk_bytes: usize,
    progress: Box<dyn FnMut(u64) + Send>,
) -> Result<(Chunks, ValuationLayout), InputError> {
    let (reader, header) = input.open(chunk_bytes, progress)?;
    let layout = ValuationLayout::new(input.path, &header, conventions.clone())?;
    Ok((reader, layout))
}

/// An accepted valuation row, as the matching stage reads it.
pub struct AcceptedValuation {
    /// Upper-cased, as VINs are matched.
    pub vin: String,
    pub date: Date,
    pub value: Decimal,
    pub source: String,
}

/// Every accepted row of a valuations file, in file order, read by the same rules as the matching
/// stage (the rejected rows are left out): `query`'s typed `valuations` table.
pub fn accepted_valuations(
    path: &Path,
    conventions: &Conventions,
    chunk_bytes: usize,
) -> Result<Vec<AcceptedValuation>, InputError> {
    let input = InputRef { path, frame: None };
    let (reader, layout) = open(input, conventions, chunk_bytes, Box::new(|_| {}))?;
    let mut rows = Vec::new();
    for chunk in reader {
        let chunk = chunk?;
        parse_valuations(&chunk, &layout, |v| {
            rows.push(AcceptedValuation {
                vin: v.vin.to_ascii_uppercase(),
                date: v.date,
                value: v.value,
                source: v.source.to_string(),
            })
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The best-valuation table holds one slot per loan: at 10M loans each byte of a slot is 10 MB of
    /// peak memory (40 bytes with the source as `Arc<str>`).
    #[test]
    fn a_best_valuation_slot_takes_at_most_32_bytes() {
        assert!(std::mem::size_of::<Option<Valuation>>() <= 32);
    }

    #[test]
    fn a_source_compares_and_hashes_as_its_text() {
        let mut set = rustc_hash::FxHashSet::default();
        set.insert(Source::from("kbb"));
        assert!(set.contains("kbb") && !set.contains("KBB") && !set.contains(""));
        assert!(Source::from("jdp") < Source::from("kbb"));
        assert_eq!(&*Source::from("black_book"), "black_book");
    }
}
