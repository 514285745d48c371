//! `underwater run`: load, validate, match, compute, summarize, write — the nightly job end to end.

use crate::config::{Config, Format, Model};
use crate::date::rfc3339_utc;
use crate::error::{InputError, RunError};
use crate::estimate::{estimate, NoEstimate};
use crate::load::{
    parse_loans, InputKind, Loan, LoanBatch, LoanFileRules, LoanLayout, Reject, ValuationLayout,
};
use crate::matching::{match_chunk, merge_best, MatchCounts, Valuation, VinIndex};
use crate::metrics::{figures, Bands, Figures};
use crate::output::Staging;
use crate::progress::Progress;
use crate::reader::{ChunkReader, FileFacts};
use crate::report;
use crate::summarize::{summarize, Summaries};
use anyhow::Context;
use rayon::prelude::*;
use rustc_hash::FxHashSet;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

/// What a finished run reports back to the command line.
pub struct Outcome {
    /// The human summary for stdout.
    pub summary: String,
}

/// Rows read, accepted and rejected from one input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// Everything computed from the inputs, before any output is written.
pub struct Book {
    /// Accepted loans, in the order their chunks finished parsing (no output depends on it).
    pub loans: Vec<Loan>,
    /// Indices into `loans` in output order (by account id, then line): see [`output_order`].
    pub order: Vec<u32>,
    pub valuations: Vec<Option<Valuation>>,
    pub vin_ids: Vec<u32>,
    /// Per loan: the estimated value of a loan with no matched valuation (empty when estimates are off).
    pub estimates: Vec<Option<Valuation>>,
    pub estimate_counts: EstimateCounts,
    pub rejects: Vec<Reject>,
    pub loan_counts: RowCounts,
    pub valuation_counts: RowCounts,
    pub duplicate_rows: u64,
    /// Ids shared by different loans in a tape, kept apart as `<id>#<n>` (see `disambiguate_ids`).
    pub shared_ids: SharedIds,
    pub match_counts: MatchCounts,
    pub loans_file: FileFacts,
    pub valuations_file: Option<FileFacts>,
    pub layout: LoanLayout,
    pub model: Model,
    pub bands: Bands,
    pub summaries: Summaries,
}

impl Book {
    /// The valuation of the i-th loan: matched, else estimated.
    pub fn valuation(&self, i: usize) -> Option<&Valuation> {
        self.valuations[self.vin_ids[i] as usize]
            .as_ref()
            .or_else(|| self.estimates.get(i).and_then(Option::as_ref))
    }

    /// The figures of the i-th account. They are computed where they are used (summaries, then the
    /// accounts file) rather than held: at 10M accounts, holding them all would take about 2 GiB.
    pub fn figures(&self, i: usize) -> Figures {
        figures(&self.loans[i], self.valuation(i), &self.model, &self.bands)
    }
}

/// Accounts with no matched valuation, by what estimation made of them.
#[derive(Clone, Copy, Debug, Default)]
pub struct EstimateCounts {
    pub estimated: u64,
    pub no_origination_value: u64,
    pub no_index_for_origination_month: u64,
}

/// Account ids that several different loans of a tape share.
#[derive(Clone, Copy, Debug, Default)]
pub struct SharedIds {
    pub ids: u64,
    pub rows: u64,
}

/// Runs the whole job on `config`'s thread pool and writes the outputs.
pub fn run(config: &Config, progress: Progress) -> Result<Outcome, RunError> {
    let started = SystemTime::now();
    refuse_unsafe_out(config)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .map_err(|e| RunError::Internal(e.into()))?;
    pool.install(|| {
        let book = compute(config, progress)?;
        let guards = check_guards(config, &book);
        let stage = progress.spinner("write");
        write_outputs(config, &book, started, &guards).map_err(RunError::Output)?;
        stage.finish(&format!("outputs in {}", config.out.display()));
        if let Some(failure) = guards.failure {
            return Err(failure);
        }
        let summary = report::terminal_summary(
            &book.summaries,
            book.loan_counts.accepted,
            book.loan_counts.rejected + book.valuation_counts.rejected,
            &config.as_of.to_string(),
            &config.out.display().to_string(),
        );
        // Freeing a book of millions of small allocations takes most of a second; the outputs are
        // committed, so let a thread do it while the caller carries on (the process usually just exits).
        std::thread::spawn(move || drop(book));
        Ok(Outcome { summary })
    })
}

/// Refuses an `--out` that would replace or contain an input, before anything is read.
fn refuse_unsafe_out(config: &Config) -> Result<(), RunError> {
    if let Ok(out) = config.out.canonicalize() {
        for input in std::iter::once(&config.loans).chain(&config.valuations) {
            if let Ok(input) = input.canonicalize() {
                if input.starts_with(&out) {
                    return Err(RunError::Output(anyhow::anyhow!(
                        "--out {} contains the input {}; a run replaces its output directory whole. \
                         Fix: write outputs to a separate directory",
                        config.out.display(),
                        input.display()
                    )));
                }
            }
        }
    }
    crate::output::check_target(&config.out).map_err(RunError::Output)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Loads both inputs, matches, and computes every figure and summary. Writes nothing.
pub fn compute(config: &Config, progress: Progress) -> Result<Book, RunError> {
    let model = &config.model;

    // Loans: parsed chunk by chunk in parallel, put back in file order.
    // An EX-102 XML tape is streamed into a temporary CSV first; rejects still name XML lines.
    let converted = match config.tape {
        Some(_) if crate::xmltape::is_xml(&config.loans) => {
            let stage = progress.spinner("xml tape");
            let c = crate::xmltape::convert(&config.loans)?;
            stage.finish(&format!("{} records", c.xml_lines.len()));
            Some(c)
        }
        _ => None,
    };
    let loans_path = converted.as_ref().map_or(&config.loans, |c| &c.csv);
    let line_of = |line: u64| converted.as_ref().map_or(line, |c| c.xml_line(line));
    let stage = progress.bytes("loans", file_size(loans_path));
    let bar = stage.bar();
    let (mut reader, header) = ChunkReader::open(
        loans_path,
        config.chunk_bytes,
        Box::new(move |n| bar.inc(n)),
    )?;
    let mut header = header;
    crate::tape::apply_mapping(
        &mut header,
        &config.columns,
        config.tape.is_some(),
        &config.loans,
    )?;
    let rules = LoanFileRules {
        dialect: crate::tape::Dialect {
            tape: config.tape.is_some(),
        },
        need_vin: config.valuations.is_some(),
        period: config.tape_period,
        columns: config.columns.clone(),
    };
    let layout = LoanLayout::new(&config.loans, &header, model, &rules)?;
    // Chunks are added as they finish, in whatever order: the output order is by account id and line,
    // and nothing else depends on where a loan sits in memory. The vector is sized once from the first
    // chunk's row density, so the book is never copied to grow (which would need twice its memory).
    let file_bytes = file_size(loans_path);
    let merged = std::sync::Mutex::new((Vec::<Loan>::new(), Vec::new(), 0u64));
    (&mut reader)
        .par_bridge()
        .try_for_each(|chunk| -> Result<(), InputError> {
            let chunk = chunk?;
            let batch: LoanBatch = parse_loans(&chunk, &layout);
            let chunk_bytes = chunk.bytes.len().max(1) as u64;
            drop(chunk);
            // A poisoned lock means another worker panicked; that panic is the error to report.
            let mut m = merged.lock().unwrap_or_else(|e| e.into_inner());
            let (loans, rejects, rows) = &mut *m;
            if loans.capacity() == 0 {
                // Unused capacity is address space, not memory: pages are only touched when written.
                let accepted = batch.loans.len() as u64;
                let estimate =
                    (accepted.saturating_mul(file_bytes) / chunk_bytes).saturating_mul(11) / 10
                        + 1024;
                // Bounded by rows of 48 bytes (real loan rows are longer), so a first chunk of odd short
                // rows cannot ask for an absurd reservation; past the bound, or if even that is refused,
                // the vector grows as usual.
                let _ = loans.try_reserve(estimate.min(file_bytes / 48 + 1024) as usize);
            }
            loans.extend(batch.loans);
            rejects.extend(batch.rejects);
            *rows += batch.rows;
            Ok(())
        })?;
    let loans_file = match &converted {
        Some(c) => c.facts.clone(),
        None => reader.finish(),
    };
    let (mut loans, mut loan_rejects, rows_read) =
        merged.into_inner().unwrap_or_else(|e| e.into_inner());
    if converted.is_some() {
        loans.iter_mut().for_each(|l| l.line = line_of(l.line));
        loan_rejects
            .iter_mut()
            .for_each(|(_, r)| r.line = line_of(r.line));
    }
    let (loans, shared_ids) = if config.tape.is_some() {
        disambiguate_ids(loans)
    } else {
        (loans, SharedIds::default())
    };
    let (loans, order, mut rejects, duplicate_rows) = reject_duplicates(
        loans,
        loan_rejects,
        // A tape's ids are not reliable enough to tie a rejected row to an accepted one.
        config.tape.is_none(),
    );
    if duplicate_rows > 0 {
        fill_raw_records(loans_path, &line_of, &mut rejects)?;
    }
    let loan_counts = RowCounts {
        read: rows_read,
        accepted: loans.len() as u64,
        rejected: rejects.len() as u64,
    };
    stage.finish(&format!(
        "{} rows: {} accepted, {} rejected",
        loan_counts.read, loan_counts.accepted, loan_counts.rejected
    ));

    // Valuations: streamed, keeping only the best candidate per VIN of the book.
    let (index, vin_ids) = VinIndex::build(&loans);
    let mut best: Vec<Option<Valuation>> = vec![None; index.len()];
    let mut match_counts = MatchCounts::default();
    let mut valuation_counts = RowCounts::default();
    let mut valuations_file = None;
    if let Some(path) = &config.valuations {
        let stage = progress.bytes("valuations", file_size(path));
        let bar = stage.bar();
        let (mut reader, header) =
            ChunkReader::open(path, config.chunk_bytes, Box::new(move |n| bar.inc(n)))?;
        let vlayout = ValuationLayout::new(path, &header)?;
        // Chunk results are folded in as they finish, in whatever order: the matching rule is a total
        // order and rejects are sorted at the end, so the outcome is the same, and at most a few
        // chunks' candidates are held at once (all of them would be about 1.5 GB for 30M valuations).
        let merged = std::sync::Mutex::new((best, match_counts, valuation_counts, rejects));
        (&mut reader)
            .par_bridge()
            .try_for_each(|chunk| -> Result<(), InputError> {
                let mut batch = match_chunk(&chunk?, &vlayout, &index, config.as_of);
                // A poisoned lock means another worker panicked; that panic is the error to report.
                let mut m = merged.lock().unwrap_or_else(|e| e.into_inner());
                let (best, counts, rows, rejects) = &mut *m;
                rows.read += batch.rows;
                rows.rejected += batch.rejects.len() as u64;
                rejects.append(&mut batch.rejects);
                merge_best(best, counts, batch);
                Ok(())
            })?;
        valuations_file = Some(reader.finish());
        (best, match_counts, valuation_counts, rejects) =
            merged.into_inner().unwrap_or_else(|e| e.into_inner());
        valuation_counts.accepted = valuation_counts.read - valuation_counts.rejected;
        stage.finish(&format!(
            "{} rows: {} accepted, {} rejected; {} dated after {} ignored",
            valuation_counts.read,
            valuation_counts.accepted,
            valuation_counts.rejected,
            match_counts.future_dated,
            config.as_of
        ));
    }
    drop(index);

    // Estimates for loans that no valuation matched.
    let mut estimate_counts = EstimateCounts::default();
    let estimates: Vec<Option<Valuation>> = if config.estimate.enabled {
        let estimates: Vec<Result<Option<Valuation>, NoEstimate>> = loans
            .par_iter()
            .zip(vin_ids.par_iter())
            .map(|(loan, &id)| match best[id as usize] {
                Some(_) => Ok(None),
                None => estimate(loan, config.as_of, &config.estimate).map(Some),
            })
            .collect();
        estimates
            .into_iter()
            .map(|e| match e {
                Ok(v) => {
                    estimate_counts.estimated += u64::from(v.is_some());
                    v
                }
                Err(NoEstimate::NoOriginationValue) => {
                    estimate_counts.no_origination_value += 1;
                    None
                }
                Err(NoEstimate::NoIndexForOriginationMonth) => {
                    estimate_counts.no_index_for_origination_month += 1;
                    None
                }
            })
            .collect()
    } else {
        Vec::new()
    };

    // Figures and summaries.
    let stage = progress.spinner("figures");
    let bands = Bands::new(&model.ltv_bands);
    let valuation_of = |i: usize| {
        best[vin_ids[i] as usize]
            .as_ref()
            .or_else(|| estimates.get(i).and_then(Option::as_ref))
    };
    let summaries = summarize(
        &loans,
        |i| figures(&loans[i], valuation_of(i), model, &bands),
        &bands,
        &layout.segments,
    );
    stage.finish(&format!("{} accounts", loans.len()));
    rejects.sort_by_key(|r| (r.input, r.line));

    Ok(Book {
        loans,
        order,
        valuations: best,
        vin_ids,
        estimates,
        estimate_counts,
        rejects,
        loan_counts,
        valuation_counts,
        duplicate_rows,
        shared_ids,
        match_counts,
        loans_file,
        valuations_file,
        layout,
        model: model.clone(),
        bands,
        summaries,
    })
}

/// Tapes re-published by researchers can carry ids that went through a floating-point column, so
/// different loans share one id (every World Omni 2020-A assetNumber is a multiple of 128). In a tape,
/// rows that share an id but differ in their terms (origination date, amount financed, term, origination
/// value, balance) are different loans: each is kept as `<id>#<n>`, numbered in file order, so no one
/// mistakes it for the filer's id. If any two rows of an id agree on all of those, the id is left alone
/// and `reject_duplicates` rejects all its rows as duplicates.
fn disambiguate_ids(mut loans: Vec<Loan>) -> (Vec<Loan>, SharedIds) {
    let order = output_order(&loans);
    let mut shared = SharedIds::default();
    let mut start = 0;
    while start < order.len() {
        let id = |k: usize| loans[order[k] as usize].account_id_bytes();
        let mut end = start + 1;
        while end < order.len() && id(end) == id(start) {
            end += 1;
        }
        let group = &order[start..end];
        // The terms of the loan tell loans apart (not, say, an R row-number column).
        let distinct = group.len() > 1 && {
            let mut seen = FxHashSet::default();
            group.iter().map(|&i| &loans[i as usize]).all(|l| {
                seen.insert((
                    l.origination_date,
                    l.amount_financed,
                    l.term_months,
                    l.origination_value,
                    l.balance,
                    l.vin(),
                ))
            })
        };
        if distinct {
            shared.ids += 1;
            shared.rows += group.len() as u64;
            for (n, &i) in group.iter().enumerate() {
                let loan = &mut loans[i as usize];
                let id = format!("{}#{}", loan.account_id(), n + 1);
                loan.set_account_id(&id);
            }
        }
        start = end;
    }
    (loans, shared)
}

/// Loan indices in output order: by account id, then file line.
pub fn output_order(loans: &[Loan]) -> Vec<u32> {
    sorted_keys(loans).into_iter().map(|(_, i)| i).collect()
}

/// Each loan's id prefix and index, in output order.
///
/// The loans themselves stay where they are: sorting 16-byte id prefixes with an index is far cheaper
/// than moving loans, and ties (ids sharing 16 bytes) fall back to the whole id. Neighbours with
/// different prefixes have different ids, so a duplicate scan reads loans only on a prefix tie.
fn sorted_keys(loans: &[Loan]) -> Vec<(u128, u32)> {
    let prefix = |id: &[u8]| {
        let mut b = [0u8; 16];
        let n = id.len().min(16);
        b[..n].copy_from_slice(&id[..n]);
        // Big-endian and zero-padded: integer order is byte order, and a shorter id sorts first.
        u128::from_be_bytes(b)
    };
    let mut keys: Vec<(u128, u32)> = loans
        .par_iter()
        .enumerate()
        .map(|(i, l)| (prefix(l.account_id_bytes()), i as u32))
        .collect();
    keys.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            let (x, y) = (&loans[a.1 as usize], &loans[b.1 as usize]);
            x.account_id_bytes()
                .cmp(y.account_id_bytes())
                .then(x.line.cmp(&y.line))
        })
    });
    keys
}

/// Rejects every row of an account id that appears more than once (among accepted and rejected rows
/// alike). Returns the kept loans with their output order, all loan rejects, and the
/// duplicate count.
fn reject_duplicates(
    loans: Vec<Loan>,
    rejected: Vec<(Option<Box<str>>, Reject)>,
    count_rejected_ids: bool,
) -> (Vec<Loan>, Vec<u32>, Vec<Reject>, u64) {
    let keys = sorted_keys(&loans);
    let mut lines_by_id: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let rejected_ids: FxHashSet<&str> = rejected
        .iter()
        .filter(|_| count_rejected_ids)
        .filter_map(|(id, _)| id.as_deref())
        .collect();
    for w in keys.windows(2) {
        if w[0].0 != w[1].0 {
            continue;
        }
        let (a, b) = (&loans[w[0].1 as usize], &loans[w[1].1 as usize]);
        if a.account_id_bytes() == b.account_id_bytes() {
            lines_by_id.entry(a.account_id()).or_default();
        }
    }
    let order: Vec<u32> = keys.into_iter().map(|(_, i)| i).collect();
    if !rejected_ids.is_empty() {
        for l in &loans {
            if rejected_ids.contains(l.account_id()) {
                lines_by_id.entry(l.account_id()).or_default();
            }
        }
    }
    // A clean book has no repeated id: nothing more to look up.
    if lines_by_id.is_empty() {
        return (
            loans,
            order,
            rejected.into_iter().map(|(_, r)| r).collect(),
            0,
        );
    }
    for (id, r) in &rejected {
        if let Some(lines) = id.as_deref().and_then(|id| lines_by_id.get_mut(id)) {
            lines.push(r.line);
        }
    }
    for l in &loans {
        if let Some(lines) = lines_by_id.get_mut(l.account_id()) {
            lines.push(l.line);
        }
    }
    let dup_reasons: BTreeMap<String, String> = lines_by_id
        .into_iter()
        .map(|(id, mut lines)| {
            lines.sort_unstable();
            let shown: Vec<String> = lines.iter().take(10).map(|l| l.to_string()).collect();
            let more = if lines.len() > 10 { ", …" } else { "" };
            (
                id.to_string(),
                format!(
                    "duplicate account_id: appears on {} rows (lines {}{more}); every row of a repeated id is rejected",
                    lines.len(),
                    shown.join(", ")
                ),
            )
        })
        .collect();
    let mut rejects: Vec<Reject> = rejected.into_iter().map(|(_, r)| r).collect();
    let mut kept = Vec::with_capacity(loans.len());
    let mut duplicates = 0;
    for loan in loans {
        match dup_reasons.get(loan.account_id()) {
            Some(reason) => {
                duplicates += 1;
                rejects.push(Reject {
                    input: InputKind::Loans,
                    line: loan.line,
                    field: "account_id".into(),
                    reason: reason.clone(),
                    // Filled in by `fill_raw_records`: accepted rows do not keep their raw text.
                    raw: String::new(),
                });
            }
            None => kept.push(loan),
        }
    }
    let order = output_order(&kept);
    (kept, order, rejects, duplicates)
}

/// Reads the raw text of rejects that lack it (duplicates of accepted rows) with a second pass over the
/// loans file; only runs when there are duplicates, which a clean book does not have.
fn fill_raw_records(
    path: &Path,
    line_of: &dyn Fn(u64) -> u64,
    rejects: &mut [Reject],
) -> Result<(), InputError> {
    let wanted: FxHashSet<u64> = rejects
        .iter()
        .filter(|r| r.raw.is_empty())
        .map(|r| r.line)
        .collect();
    let mut found: rustc_hash::FxHashMap<u64, String> = Default::default();
    let (reader, _) = ChunkReader::open(path, crate::reader::CHUNK_BYTES, Box::new(|_| {}))?;
    for chunk in reader {
        chunk?.for_each_row(|row| {
            let line = line_of(row.line);
            if wanted.contains(&line) {
                found.insert(line, String::from_utf8_lossy(row.raw).into_owned());
            }
        });
    }
    for r in rejects.iter_mut().filter(|r| r.raw.is_empty()) {
        if let Some(raw) = found.remove(&r.line) {
            r.raw = raw;
        }
    }
    Ok(())
}

/// The rows of accounts.csv for a range of the output order.
fn account_lines(book: &Book, range: std::ops::Range<usize>) -> String {
    let mut out = String::with_capacity(range.len() * 200);
    let order = &book.order[range];
    for (k, &i) in order.iter().enumerate() {
        // Output order is account-id order, loans sit in file order: each account is a few random
        // memory reads. Ask for the loan 8 accounts ahead, and for the text and valuation of the one
        // 4 ahead (whose loan was asked for 4 accounts ago), so they arrive while this one is formatted.
        if let Some(&ahead) = order.get(k + 8) {
            prefetch(&book.loans[ahead as usize]);
        }
        if let Some(&ahead) = order.get(k + 4) {
            let loan = &book.loans[ahead as usize];
            prefetch(loan.text_address());
            prefetch(&book.vin_ids[ahead as usize]);
        }
        let i = i as usize;
        report::account_line(
            &mut out,
            &book.loans[i],
            book.valuation(i),
            &book.figures(i),
            &book.bands,
        );
    }
    out
}

/// A hint to the CPU to load the cache line holding `p`; it never faults and changes nothing.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing the program sees and cannot fault, whatever the
    // address. SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Writes accounts.csv. Lines are formatted in parallel a group at a time (so memory stays bounded at
/// book scale) while another thread writes the group before, and each written group is handed to the
/// kernel for writeback at once, so the final fsync finds little left to do.
fn write_accounts_csv(book: &Book, file: std::fs::File) -> anyhow::Result<std::fs::File> {
    const GROUP: usize = 1 << 16;
    const PIECE: usize = 1 << 12;
    let n = book.loans.len();
    let header = report::accounts_header(&book.layout);
    let (groups, received) = std::sync::mpsc::sync_channel::<Vec<String>>(1);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> anyhow::Result<std::fs::File> {
            let mut file = file;
            let context = "cannot write accounts.csv (disk full?)";
            file.write_all(header.as_bytes()).context(context)?;
            let mut written = header.len() as u64;
            let mut previous = (0, written);
            for pieces in received {
                let start = written;
                for p in pieces {
                    file.write_all(p.as_bytes()).context(context)?;
                    written += p.len() as u64;
                }
                writeback(&file, (start, written), previous);
                previous = (start, written);
            }
            Ok(file)
        });
        for start in (0..n).step_by(GROUP) {
            let end = (start + GROUP).min(n);
            let pieces: Vec<String> = (start..end)
                .step_by(PIECE)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|s| account_lines(book, s..(s + PIECE).min(end)))
                .collect();
            if groups.send(pieces).is_err() {
                // The writer stopped on an error, which `join` returns below.
                break;
            }
        }
        drop(groups);
        writer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the accounts.csv writer panicked")))
    })
}

/// Starts writing the byte range `now` of `file` to disk, then waits until the range `before` is on disk
/// (Linux only). The writer thread waits on the disk while the pool formats the next group, so at the end the
/// fsync that publishes the outputs has only the last group left. A hint: failures are ignored, the fsync
/// is what guarantees durability.
fn writeback(file: &std::fs::File, now: (u64, u64), before: (u64, u64)) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let range = |(start, end): (u64, u64), flags| {
            // SAFETY: a plain system call on a file descriptor that `file` keeps open for the call.
            unsafe {
                libc::sync_file_range(
                    file.as_raw_fd(),
                    start as libc::off64_t,
                    (end - start) as libc::off64_t,
                    flags,
                );
            }
        };
        range(now, libc::SYNC_FILE_RANGE_WRITE);
        range(
            before,
            libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER,
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, now, before);
}

/// What the nightly guard rails found.
pub struct Guards {
    /// Matched valuations older than `--fail-on-stale` days (None when the flag is not given).
    pub stale_valuations: Option<u64>,
    /// The guard that failed the run, if any.
    pub failure: Option<RunError>,
}

/// Applies `--max-reject-rate` and `--fail-on-stale`. A failed guard still writes rejects.csv and
/// summary.json (so the cause can be read), but not the book itself, and exits with its own code.
fn check_guards(config: &Config, book: &Book) -> Guards {
    let mut failure = None;
    if let Some(max) = config.max_reject_rate {
        for (name, c) in [
            ("loans", book.loan_counts),
            ("valuations", book.valuation_counts),
        ] {
            let rate = if c.read == 0 {
                rust_decimal::Decimal::ZERO
            } else {
                rust_decimal::Decimal::from(c.rejected) / rust_decimal::Decimal::from(c.read)
            };
            if failure.is_none() && rate > max {
                failure = Some(RunError::RejectRate {
                    input: name,
                    rejected: c.rejected,
                    read: c.read,
                    max,
                });
            }
        }
    }
    let stale_valuations = config.fail_on_stale.map(|days| {
        let stale = (0..book.loans.len())
            .filter(|&i| {
                book.valuation(i)
                    .is_some_and(|v| v.date.days_until(config.as_of) > days as i32)
            })
            .count() as u64;
        if failure.is_none() && stale > 0 {
            failure = Some(RunError::Stale {
                accounts: stale,
                days,
            });
        }
        stale
    });
    Guards {
        stale_valuations,
        failure,
    }
}

fn write_outputs(
    config: &Config,
    book: &Book,
    started: SystemTime,
    guards: &Guards,
) -> anyhow::Result<()> {
    let staging = Staging::new(&config.out)?;
    let mut outputs = Vec::new();
    let publish = guards.failure.is_none();
    match config.format {
        _ if !publish => {}
        Format::Csv => {
            let name = "accounts.csv";
            let file = write_accounts_csv(book, staging.create(name)?)?;
            staging.finish_file(name, file)?;
            outputs.push(name.to_string());
        }
        Format::Parquet => {
            let name = "accounts.parquet";
            let file = staging.create(name)?;
            crate::parquet::write_accounts(book, file).context("cannot write accounts.parquet")?;
            outputs.push(name.to_string());
        }
    }
    let loans_path = config.loans.display().to_string();
    let valuations_path = config
        .valuations
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    staging.write(
        "rejects.csv",
        &report::rejects_csv(&book.rejects, &loans_path, &valuations_path),
    )?;
    outputs.push("rejects.csv".into());
    if publish {
        staging.write(
            "summary_by_ltv_bucket.csv",
            &report::table_csv(&book.summaries.ltv, false),
        )?;
        outputs.push("summary_by_ltv_bucket.csv".into());
        staging.write(
            "summary_ltv_migration.csv",
            &report::migration_csv(&book.summaries.migration),
        )?;
        outputs.push("summary_ltv_migration.csv".into());
        for table in &book.summaries.segments {
            let name = format!("summary_by_{}.csv", sanitize(&table.dimension));
            staging.write(&name, &report::table_csv(table, true))?;
            outputs.push(name);
        }
    }
    outputs.push("summary.json".into());
    let mut json = summary_json(config, book, started, &outputs);
    json["status"] = match &guards.failure {
        None => json!({"ok": true}),
        Some(e) => json!({"ok": false, "exit_code": e.exit_code(), "reason": e.to_string(),
                          "note": "guard rail failed: the book (accounts and summaries) was not published"}),
    };
    if let Some(stale) = guards.stale_valuations {
        json["data_quality"]["stale_valuations"] = json!({
            "older_than_days": config.fail_on_stale,
            "accounts": stale,
        });
    }
    let mut bytes = serde_json::to_vec_pretty(&json)?;
    bytes.push(b'\n');
    staging.write("summary.json", &bytes)?;
    staging.commit()
}

/// A segment name as a safe file-name part.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn input_json(facts: &FileFacts, counts: RowCounts) -> Value {
    json!({
        "path": facts.path.display().to_string(),
        "bytes": facts.bytes,
        "sha256": facts.sha256,
        "rows_read": counts.read,
        "rows_accepted": counts.accepted,
        "rows_rejected": counts.rejected,
    })
}

fn rejects_by_field(rejects: &[Reject], input: InputKind) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in rejects.iter().filter(|r| r.input == input) {
        let field = if r.field.is_empty() {
            "(field count)"
        } else {
            &r.field
        };
        *m.entry(field.to_string()).or_insert(0) += 1;
    }
    m
}

/// summary.json: totals, every table, data quality and the manifest. Money is written as strings.
fn summary_json(config: &Config, book: &Book, started: SystemTime, outputs: &[String]) -> Value {
    let model = &config.model;
    let t = &book.summaries.ltv.total;
    let mut tables = serde_json::Map::new();
    tables.insert("ltv_bucket".into(), report::table_json(&book.summaries.ltv));
    tables.insert(
        "ltv_migration".into(),
        report::migration_json(&book.summaries.migration),
    );
    for table in &book.summaries.segments {
        tables.insert(table.dimension.clone(), report::table_json(table));
    }
    let score_out_of_range = book
        .loans
        .iter()
        .filter(|l| l.credit_score.is_some_and(|s| !(250..=900).contains(&s)))
        .count();
    let zero_balance = book.summaries.zero_balance_accounts;
    let mut portfolio = report::tally_json(t);
    portfolio["origination_ltv"] = match &book.summaries.origination_ltv {
        Some(p) => json!({
            "accounts_with_origination_value": p.count,
            "p05": p.p05.to_string(),
            "median": p.median.to_string(),
            "p95": p.p95.to_string(),
            "method": "nearest rank over the 4-place per-account origination_ltv",
        }),
        None => Value::Null,
    };
    json!({
        "portfolio": portfolio,
        "tables": tables,
        "data_quality": {
            "loans": {
                "rows_read": book.loan_counts.read,
                "rows_accepted": book.loan_counts.accepted,
                "rows_rejected": book.loan_counts.rejected,
                "duplicate_account_id_rows": book.duplicate_rows,
                "rejects_by_field": rejects_by_field(&book.rejects, InputKind::Loans),
                "credit_score_outside_250_900": score_out_of_range,
                "zero_balance_accounts": zero_balance,
                "ids_shared_by_different_loans": {
                    "ids": book.shared_ids.ids,
                    "rows": book.shared_ids.rows,
                    "rule": "tapes only: rows sharing an id but differing in origination date, amount financed, term, origination value or balance are kept as <id>#<n> in file order",
                },
            },
            "estimates": {
                "enabled": config.estimate.enabled,
                "accounts_estimated": book.estimate_counts.estimated,
                "no_valuation_and_no_origination_value": book.estimate_counts.no_origination_value,
                "no_price_index_for_origination_month": book.estimate_counts.no_index_for_origination_month,
            },
            "valuations": if config.valuations.is_none() { Value::Null } else { json!({
                "rows_read": book.valuation_counts.read,
                "rows_accepted": book.valuation_counts.accepted,
                "rows_rejected": book.valuation_counts.rejected,
                "rejects_by_field": rejects_by_field(&book.rejects, InputKind::Valuations),
                "dated_after_as_of_ignored": book.match_counts.future_dated,
                "vin_not_in_book": book.match_counts.vin_not_in_book,
                "candidates_for_book_vins": book.match_counts.candidates,
            })},
            "accounts_without_value": t.accounts - t.valued_accounts,
        },
        "manifest": {
            "program": "underwater",
            "version": env!("CARGO_PKG_VERSION"),
            "command": "run",
            "as_of": config.as_of.to_string(),
            "as_of_source": config.as_of_source.as_str(),
            "inputs": {
                "loans": input_json(&book.loans_file, book.loan_counts),
                "valuations": book.valuations_file.as_ref().map(|f| input_json(f, book.valuation_counts)),
            },
            "config": {
                "config_file": config.config_file.as_ref().map(|p| p.display().to_string()),
                "as_of": config.as_of.to_string(),
                "ltv_bands": model.ltv_bands.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                "recovery_rate": model.recovery_rate.to_string(),
                "repossession_cost": model.repossession_cost.to_string(),
                "pd_by_days_past_due": model.pd_by_days_past_due.iter().map(|(d, p)| json!([d, p.to_string()])).collect::<Vec<_>>(),
                "segments": model.segments,
                "tape": config.tape.map(|_| "regab"),
                "tape_period": config.tape_period.map(|d| d.to_string()),
                "columns": config.columns.iter().map(|(o, t)| (o.clone(), json!(t))).collect::<serde_json::Map<_, _>>(),
                "estimate": {
                    "enabled": config.estimate.enabled,
                    "new": config.estimate.new.0.iter().map(|(m, f)| json!([m, f.to_string()])).collect::<Vec<_>>(),
                    "used": config.estimate.used.0.iter().map(|(m, f)| json!([m, f.to_string()])).collect::<Vec<_>>(),
                    "price_index": config.estimate.index.as_ref().map(|i| i.path.display().to_string()),
                },
                "format": match config.format { Format::Csv => "csv", Format::Parquet => "parquet" },
                "max_reject_rate": config.max_reject_rate.map(|d| d.to_string()),
                "fail_on_stale_days": config.fail_on_stale,
            },
            "outputs": outputs,
            "threads": config.threads,
            "started_at": rfc3339_utc(started),
            "finished_at": rfc3339_utc(SystemTime::now()),
        },
    })
}
