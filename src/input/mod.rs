//! The input stage: files into typed loans and valuations, every unusable row into a reject.
//!
//! [`reader`] cuts a file into line-exact chunks, [`schema`] names the columns, [`load`] parses rows,
//! [`dedup`] rejects repeated account ids, [`tape`] and [`xmltape`] read SEC loan tapes, [`price_index`]
//! reads the used-vehicle price index the estimates move with. The loans
//! stage, [`load_loans`], strings them together; valuations are streamed by the book's matching stage
//! (see [`crate::book::matching`]) so that only the best candidate per vehicle is ever held.

pub mod conventions;
pub mod dedup;
pub mod frame;
pub mod load;
pub mod outcomes;
pub mod previous;
pub mod price_index;
pub mod reader;
pub mod record;
pub mod schema;
pub mod tape;
pub mod valuations;
pub mod xmltape;

use crate::error::InputError;
use crate::progress::Progress;
use dedup::SharedIds;
use load::rows::parse_loans;
use load::{FieldCount, Loan, LoanBatch, LoanFileRules, LoanLayout, Reject, Unreadable};
use rayon::prelude::*;
use reader::FileFacts;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// Rows read, accepted and rejected from one input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// The size of a file for a progress bar (0 when it cannot be read: the reader reports that).
pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Where the loans come from and how to read them.
pub struct LoanSource<'a> {
    /// The file as given: a loans CSV, or a tape in CSV or EX-102 XML.
    pub path: &'a Path,
    /// The frame read in the file's place, when one was handed over in memory (`path` names it).
    pub frame: Option<&'a std::sync::Arc<frame::FrameInput>>,
    /// Target bytes per parallel chunk.
    pub chunk_bytes: usize,
    pub rules: LoanFileRules,
}

/// The loans of the book, with everything the reports say about how they were read.
pub struct Loans {
    /// Accepted loans, in the order their chunks finished parsing (no output depends on it).
    pub loans: Vec<Loan>,
    /// Indices into `loans` in output order (by account id, then line).
    pub order: Vec<u32>,
    /// Every rejected loan row, with its line.
    pub rejects: Vec<Reject>,
    pub counts: RowCounts,
    /// Rows rejected because their account id repeats.
    pub duplicate_rows: u64,
    /// Ids shared by different loans in a tape, kept apart as `<id>#<n>`.
    pub shared_ids: SharedIds,
    /// Optional fields that could not be read and count as missing, by the field's label
    /// (`credit_score (obligorCreditScore)` for a mapped column).
    pub unreadable: BTreeMap<String, FieldCount>,
    /// The file's size and sha256, for the manifest (the XML's own for an XML tape).
    pub file: FileFacts,
    pub layout: LoanLayout,
}

/// What the parallel parse has gathered so far; chunks are folded in as they finish.
#[derive(Default)]
struct Parsed {
    loans: Vec<Loan>,
    rejects: Vec<(Option<Box<str>>, Reject)>,
    rows: u64,
    unreadable: Unreadable,
}

impl Parsed {
    /// Adds one chunk's loans. The vector is sized once, from the first chunk's row density, so the
    /// book is never copied to grow (which would need twice its memory).
    fn add(&mut self, batch: LoanBatch, chunk_bytes: u64, file_bytes: u64) {
        if self.loans.capacity() == 0 {
            // Unused capacity is address space, not memory: pages are only touched when written.
            let accepted = batch.loans.len() as u64;
            let estimate =
                (accepted.saturating_mul(file_bytes) / chunk_bytes).saturating_mul(11) / 10 + 1024;
            // Bounded by rows of 48 bytes (real loan rows are longer), so a first chunk of odd short
            // rows cannot ask for an absurd reservation; past the bound, or if even that is refused,
            // the vector grows as usual.
            let _ = self
                .loans
                .try_reserve(estimate.min(file_bytes / 48 + 1024) as usize);
        }
        self.loans.extend(batch.loans);
        self.rejects.extend(batch.rejects);
        self.rows += batch.rows;
        self.unreadable.merge(batch.unreadable);
    }
}

impl Parsed {
    /// Gives every loan, reject and unreadable field the line `line_of` maps its line to (a tape's
    /// CSV conversion line to its XML line).
    fn map_lines(&mut self, line_of: impl Fn(u64) -> u64 + Copy) {
        self.loans.iter_mut().for_each(|l| l.line = line_of(l.line));
        self.rejects
            .iter_mut()
            .for_each(|(_, r)| r.line = line_of(r.line));
        self.unreadable.map_lines(line_of);
    }
}

/// An EX-102 XML tape streamed into a temporary CSV (None for a CSV file).
fn convert_xml_tape(
    source: &LoanSource<'_>,
    progress: Progress,
) -> Result<Option<xmltape::Converted>, InputError> {
    if source.frame.is_some() || !(source.rules.conventions.tape && xmltape::is_xml(source.path)) {
        return Ok(None);
    }
    let stage = progress.spinner("xml tape");
    let c = xmltape::convert(source.path)?;
    stage.finish(&format!("{} records", c.xml_lines.len()));
    Ok(Some(c))
}

/// Reads the loans file: parses it chunk by chunk in parallel, rejects repeated ids, and puts the
/// loans in output order. An EX-102 XML tape is streamed into a temporary CSV first (removed when
/// this returns); rejects still name XML lines.
pub fn load_loans(source: &LoanSource<'_>, progress: Progress) -> Result<Loans, InputError> {
    let tape = source.rules.conventions.tape;
    let converted = convert_xml_tape(source, progress)?;
    let input = frame::InputRef {
        path: converted.as_ref().map_or(source.path, |c| c.csv.as_path()),
        frame: source.frame,
    };
    let line_of = |line: u64| converted.as_ref().map_or(line, |c| c.xml_line(line));
    let file_bytes = input.size();
    let stage = progress.bytes("loans", file_bytes);
    let bar = stage.bar();
    let (mut reader, mut header) = input.open(source.chunk_bytes, Box::new(move |n| bar.inc(n)))?;
    tape::apply_mapping(&mut header, &source.rules.columns, tape, source.path)?;
    let layout = LoanLayout::new(source.path, &header, &source.rules)?;
    crate::cleanup::test_hook("loading");
    // Chunks are added as they finish, in whatever order: the output order is by account id and line,
    // and nothing else depends on where a loan sits in memory.
    let parsed = Mutex::new(Parsed::default());
    (&mut reader)
        .par_bridge()
        .try_for_each(|chunk| -> Result<(), InputError> {
            let chunk = chunk?;
            let batch = parse_loans(&chunk, &layout);
            let chunk_bytes = chunk.size().max(1) as u64;
            drop(chunk);
            // A poisoned lock means another worker panicked; that panic is the error to report.
            let mut parsed = parsed.lock().unwrap_or_else(|e| e.into_inner());
            parsed.add(batch, chunk_bytes, file_bytes);
            Ok(())
        })?;
    let file = match &converted {
        Some(c) => c.facts.clone(),
        None => reader.finish(),
    };
    let mut parsed = parsed.into_inner().unwrap_or_else(|e| e.into_inner());
    if converted.is_some() {
        parsed.map_lines(line_of);
    }
    let shared_ids = if tape {
        dedup::disambiguate_ids(&mut parsed.loans)
    } else {
        SharedIds::default()
    };
    // A tape's ids are not reliable enough to tie a rejected row to an accepted one.
    let rejected_rows = match tape {
        true => dedup::RejectedRows::Apart,
        false => dedup::RejectedRows::ShareTheirIds,
    };
    let mut kept = dedup::reject_duplicates(parsed.loans, parsed.rejects, rejected_rows);
    if kept.duplicate_rows > 0 {
        dedup::fill_raw_records(input, &line_of, &mut kept.rejects)?;
    }
    let counts = RowCounts {
        read: parsed.rows,
        accepted: kept.loans.len() as u64,
        rejected: kept.rejects.len() as u64,
    };
    stage.finish(&format!(
        "{} rows: {} accepted, {} rejected",
        counts.read, counts.accepted, counts.rejected
    ));
    Ok(Loans {
        loans: kept.loans,
        order: kept.order,
        rejects: kept.rejects,
        counts,
        duplicate_rows: kept.duplicate_rows,
        shared_ids,
        unreadable: parsed
            .unreadable
            .0
            .into_iter()
            .map(|(field, c)| (layout.label(field), c))
            .collect(),
        file,
        layout,
    })
}
