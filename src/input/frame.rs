//! A frame handed over in memory — a polars DataFrame from Python, a Spark partition's Arrow record
//! batches — read as an input file is read, without writing it out as CSV and parsing it back.
//!
//! Each column becomes the text a CSV file would hold in its cells, and the rows then go through the
//! same parsing, validation and rejects as a file's ([`crate::input::load::rows`]), so a frame gives the
//! cells a file of the same text gives. Text columns are read as they are. A typed column is read
//! through its canonical text: a decimal as its exact digits (`34974.50` for `DECIMAL(38, 2)`), an integer
//! as its digits, a date as `YYYY-MM-DD`, a float as its shortest round-trip text (`34974.52`, the text
//! the file held before a reader inferred a float; never `34974.520000000004`). A null is an empty
//! field. A column of another type (a list, a struct, bytes) is refused, naming it.
//!
//! A Parquet file (`--loans book.parquet`) is read whole as such a frame.
//!
//! A reject names the frame (`loans`, `valuations`) as its file and the row's index in the frame (0 for
//! the first row, as `DataFrame.row(0)` and `with_row_index` count) as its line, unless the frame
//! carries the lines itself in a [`LINE_COLUMN`] (Spark's `run_csv`, whose rows keep their file's line).
//! Its raw record is the row written as a CSV line.

use crate::error::InputError;
use crate::input::reader::{Chunk, ChunkReader, FileFacts, Header, Row, RowSource};
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The sha256 in the facts of a frame read [`FrameInput::without_digest`].
pub const NOT_DIGESTED: &str = "not computed";

/// A frame's column holding each row's line (in a file the frame was read from); not an input column.
pub const LINE_COLUMN: &str = "_underwater_line";

/// A frame's rows as text cells, ready to be read as an input file.
pub struct FrameInput {
    /// What rejects and the manifest call it (`loans`).
    name: String,
    header: Vec<String>,
    /// One text column per header name, each in one chunk.
    columns: Vec<StringChunked>,
    /// Each row's line, when the frame carried them; else a row's line is its index.
    lines: Option<Vec<u64>>,
    rows: usize,
    /// Whether the manifest's sha256 of the frame (its rows written as CSV lines) is computed; a
    /// caller that never reads the manifest (a Spark partition's kernel) spares every row's CSV text.
    digest: bool,
}

impl std::fmt::Debug for FrameInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrameInput({}: {} rows)", self.name, self.rows)
    }
}

/// The frames a run reads in place of its files, when handed over in memory.
#[derive(Clone, Debug, Default)]
pub struct FrameInputs {
    pub loans: Option<Arc<FrameInput>>,
    pub valuations: Option<Arc<FrameInput>>,
}

impl FrameInput {
    /// Reads `frame`'s columns as text; `name` is what rejects call it.
    pub fn new(name: &str, frame: &DataFrame) -> Result<FrameInput, InputError> {
        let bad = |problem: String| InputError::BadHeader {
            path: PathBuf::from(name),
            problem,
        };
        let mut header = Vec::new();
        let mut columns = Vec::new();
        let mut lines = None;
        for column in frame.columns() {
            let column_name = column.name().as_str();
            if column_name == LINE_COLUMN {
                lines = Some(line_numbers(column).map_err(|e| bad(e.to_string()))?);
                continue;
            }
            header.push(column_name.trim().to_string());
            columns.push(text_column(column).map_err(bad)?);
        }
        if header.is_empty() {
            return Err(InputError::Empty {
                path: PathBuf::from(name),
            });
        }
        Ok(FrameInput {
            name: name.to_string(),
            header,
            columns,
            lines,
            rows: frame.height(),
            digest: true,
        })
    }

    /// The same input without the manifest's sha256: its facts give the frame's rows as its bytes and
    /// [`NOT_DIGESTED`] as its sha256.
    pub fn without_digest(self) -> FrameInput {
        FrameInput {
            digest: false,
            ..self
        }
    }

    /// The row's line: the frame's own, else its index.
    fn line(&self, row: usize) -> u64 {
        self.lines.as_ref().map_or(row as u64, |lines| lines[row])
    }

    /// Calls `each` for rows `start..end`.
    fn for_each_row_in(&self, start: usize, end: usize, each: &mut dyn FnMut(Row<'_>)) {
        let arrays: Vec<_> = self
            .columns
            .iter()
            .map(|c| c.downcast_iter().next())
            .collect();
        let mut fields: Vec<&[u8]> = Vec::with_capacity(arrays.len());
        for row in start..end {
            fields.clear();
            fields.extend(arrays.iter().map(|a| match a {
                Some(a) if row < a.len() => a.get(row).map_or(&b""[..], str::as_bytes),
                _ => b"",
            }));
            each(Row::of_fields(self.line(row), &fields));
        }
    }

    /// The raw records of the rows on `wanted` lines (rejected duplicates of accepted rows).
    pub fn raw_records(
        &self,
        wanted: &rustc_hash::FxHashSet<u64>,
    ) -> rustc_hash::FxHashMap<u64, String> {
        let mut found = rustc_hash::FxHashMap::default();
        self.for_each_row_in(0, self.rows, &mut |row| {
            if wanted.contains(&row.line) {
                found.insert(row.line, String::from_utf8_lossy(&row.raw()).into_owned());
            }
        });
        found
    }
}

/// The frame's line column as numbers.
fn line_numbers(column: &Column) -> PolarsResult<Vec<u64>> {
    let lines = column.cast(&DataType::UInt64)?;
    let lines = lines.u64()?;
    Ok(lines.iter().map(|l| l.unwrap_or(0)).collect())
}

/// A column's cells as the text a CSV file would hold, in one chunk.
fn text_column(column: &Column) -> Result<StringChunked, String> {
    let dtype = column.dtype();
    let readable = dtype.is_primitive_numeric()
        || matches!(
            dtype,
            DataType::String
                | DataType::Decimal(..)
                | DataType::Date
                | DataType::Boolean
                | DataType::Null
        );
    if !readable {
        return Err(format!(
            "column `{}` is {dtype}, which has no text to read as a field. Fix: select it out, or \
             cast it to text",
            column.name()
        ));
    }
    let text = column
        .cast(&DataType::String)
        .map_err(|e| format!("column `{}` cannot be read as text: {e}", column.name()))?;
    let text = text.as_materialized_series().rechunk();
    text.str()
        .cloned()
        .map_err(|e| format!("column `{}`: {e}", column.name()))
}

/// A frame's rows in chunks, hashed as they are handed out (the manifest's sha256 of the frame
/// written as CSV lines: its header, then each row's raw record, each ending in `\n`).
pub struct FrameChunks {
    input: Arc<FrameInput>,
    next: usize,
    rows_per_chunk: usize,
    hasher: Sha256,
    bytes: u64,
}

/// Rows `start..end` of a frame: one chunk.
struct FrameRows {
    input: Arc<FrameInput>,
    start: usize,
    end: usize,
}

impl RowSource for FrameRows {
    fn for_each_row(&self, each: &mut dyn FnMut(Row<'_>)) {
        self.input.for_each_row_in(self.start, self.end, each);
    }

    fn rows(&self) -> usize {
        self.end - self.start
    }
}

impl FrameChunks {
    fn new(input: Arc<FrameInput>, chunk_bytes: usize) -> FrameChunks {
        let mut hasher = Sha256::new();
        let mut head = String::new();
        crate::csvfmt::push_plain_line(&mut head, input.header.iter().map(String::as_str));
        hasher.update(head.as_bytes());
        FrameChunks {
            input,
            next: 0,
            // About as many rows as a file chunk of `chunk_bytes` holds (a loan row is ~100 bytes).
            rows_per_chunk: (chunk_bytes / 100).max(1),
            hasher,
            bytes: head.len() as u64,
        }
    }

    fn finish(self) -> FileFacts {
        let (bytes, sha256) = match self.input.digest {
            true => (self.bytes, format!("{:x}", self.hasher.finalize())),
            false => (self.input.rows as u64, NOT_DIGESTED.to_string()),
        };
        FileFacts {
            path: PathBuf::from(&self.input.name),
            bytes,
            sha256,
            no_final_line_end: false,
        }
    }
}

impl Iterator for FrameChunks {
    type Item = Result<Chunk, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next;
        let end = start
            .saturating_add(self.rows_per_chunk)
            .min(self.input.rows);
        if start >= end {
            return None;
        }
        self.next = end;
        if self.input.digest {
            let (hasher, bytes) = (&mut self.hasher, &mut self.bytes);
            self.input.for_each_row_in(start, end, &mut |row| {
                let raw = row.raw();
                hasher.update(&raw);
                hasher.update(b"\n");
                *bytes += raw.len() as u64 + 1;
            });
        }
        let rows = FrameRows {
            input: self.input.clone(),
            start,
            end,
        };
        Some(Ok(Chunk::of_rows(Box::new(rows))))
    }
}

/// An input as the loaders take it: the path the run names it by, and the frame read in its place
/// when one was handed over.
#[derive(Clone, Copy)]
pub struct InputRef<'a> {
    pub path: &'a Path,
    pub frame: Option<&'a Arc<FrameInput>>,
}

/// Whether a file is read as Parquet (by its extension) rather than as CSV.
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// A Parquet file read whole into a frame input (its columns typed or text, read as a frame's are).
fn read_parquet(path: &Path) -> Result<Arc<FrameInput>, InputError> {
    let file = std::fs::File::open(path).map_err(|source| InputError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let frame = ParquetReader::new(file)
        .finish()
        .map_err(|e| InputError::NotCsv {
            path: path.to_path_buf(),
            reason: format!("it cannot be read as Parquet: {e}"),
        })?;
    Ok(Arc::new(FrameInput::new(
        &path.display().to_string(),
        &frame,
    )?))
}

impl InputRef<'_> {
    /// The input's size in the unit its chunks report (bytes of a CSV file, rows of a frame; a
    /// Parquet file's rows are known once it is read, so it reports none ahead).
    pub fn size(&self) -> u64 {
        match self.frame {
            Some(f) => f.rows as u64,
            None if is_parquet(self.path) => 0,
            None => std::fs::metadata(self.path).map_or(0, |m| m.len()),
        }
    }

    /// The frame the input is read from: the one handed over, or a Parquet file read whole.
    fn frame(&self) -> Result<Option<Arc<FrameInput>>, InputError> {
        match self.frame {
            Some(frame) => Ok(Some(frame.clone())),
            None if is_parquet(self.path) => read_parquet(self.path).map(Some),
            None => Ok(None),
        }
    }

    /// Opens the input: its header and its chunks. `on_size` is told each chunk's size as it is read.
    pub fn open(
        &self,
        chunk_bytes: usize,
        on_size: Box<dyn FnMut(u64) + Send>,
    ) -> Result<(Chunks, Header), InputError> {
        match self.frame()? {
            Some(frame) => {
                let header = Header {
                    names: frame.header.clone(),
                };
                let mut on_size = on_size;
                on_size(frame.rows as u64);
                let chunks = FrameChunks::new(frame, chunk_bytes);
                Ok((Chunks::Frame(chunks), header))
            }
            None => {
                let (reader, header) = ChunkReader::open(self.path, chunk_bytes, on_size)?;
                Ok((Chunks::File(reader), header))
            }
        }
    }

    /// The raw records of the rows on `wanted` lines, read again (a file's second pass).
    pub fn raw_records(
        &self,
        wanted: &rustc_hash::FxHashSet<u64>,
        line_of: &dyn Fn(u64) -> u64,
    ) -> Result<rustc_hash::FxHashMap<u64, String>, InputError> {
        if let Some(frame) = self.frame()? {
            return Ok(frame.raw_records(wanted));
        }
        let mut found = rustc_hash::FxHashMap::default();
        let (reader, _) = ChunkReader::open(
            self.path,
            crate::input::reader::CHUNK_BYTES,
            Box::new(|_| {}),
        )?;
        for chunk in reader {
            chunk?.for_each_row(|row| {
                let line = line_of(row.line);
                if wanted.contains(&line) {
                    found.insert(line, String::from_utf8_lossy(&row.raw()).into_owned());
                }
            });
        }
        Ok(found)
    }
}

/// An input's chunks: a file's, or a frame's.
pub enum Chunks {
    File(ChunkReader),
    Frame(FrameChunks),
}

impl Chunks {
    /// Size and sha256 of everything read; call after the last chunk.
    pub fn finish(self) -> FileFacts {
        match self {
            Chunks::File(reader) => reader.finish(),
            Chunks::Frame(chunks) => chunks.finish(),
        }
    }
}

impl Iterator for Chunks {
    type Item = Result<Chunk, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Chunks::File(reader) => reader.next(),
            Chunks::Frame(chunks) => chunks.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(frame: &DataFrame) -> Vec<Vec<String>> {
        let input = FrameInput::new("loans", frame).unwrap();
        let mut out = Vec::new();
        input.for_each_row_in(0, input.rows, &mut |row| {
            let line = vec![row.line.to_string()];
            out.push(
                line.into_iter()
                    .chain(
                        (0..row.len())
                            .map(|i| String::from_utf8(row.get(i).unwrap().to_vec()).unwrap()),
                    )
                    .collect(),
            );
        });
        out
    }

    #[test]
    fn typed_columns_are_read_through_the_text_a_file_held() {
        let value = Column::new("value".into(), [Some(34974.52f64), None, Some(0.1 + 0.2)]);
        let amount = Series::new("amount".into(), ["34974.5", "19000", "0.07"])
            .cast(&DataType::Decimal(38, 2))
            .unwrap();
        let days = Column::new("days".into(), [0i64, -3, 120]);
        let date = Series::new("d".into(), [20269i32, 0, 1])
            .cast(&DataType::Date)
            .unwrap();
        let frame = DataFrame::new(3, vec![value, amount.into(), days, date.into()]).unwrap();
        assert_eq!(
            cells(&frame),
            [
                ["0", "34974.52", "34974.50", "0", "2025-06-30"],
                ["1", "", "19000.00", "-3", "1970-01-01"],
                ["2", "0.30000000000000004", "0.07", "120", "1970-01-02"],
            ]
        );
    }

    /// The manifest's sha256 of a frame is that of its rows written as CSV lines (computed here by
    /// sha2 over the text written in the test); without the digest the rows are the same and the
    /// facts say it was not computed.
    #[test]
    fn a_frame_s_digest_is_its_csv_text_s_and_can_be_skipped() {
        let frame = DataFrame::new(
            2,
            vec![
                Column::new("id".into(), ["A1", "B,2"]),
                Column::new("n".into(), [1i64, 2]),
            ],
        )
        .unwrap();
        let text = "id,n\nA1,1\n\"B,2\",2\n";
        let read = |input: FrameInput| {
            let input = Arc::new(input);
            let mut chunks = FrameChunks::new(input.clone(), 1 << 20);
            let mut rows = 0;
            for chunk in chunks.by_ref() {
                rows += chunk.unwrap().records_bound();
            }
            (rows, chunks.finish())
        };
        let (rows, facts) = read(FrameInput::new("loans", &frame).unwrap());
        assert_eq!(rows, 2);
        assert_eq!(
            facts.sha256,
            format!("{:x}", Sha256::digest(text.as_bytes()))
        );
        assert_eq!(facts.bytes, text.len() as u64);
        let (rows, facts) = read(FrameInput::new("loans", &frame).unwrap().without_digest());
        assert_eq!(rows, 2);
        assert_eq!((facts.sha256.as_str(), facts.bytes), (NOT_DIGESTED, 2));
        assert_eq!(
            cells(&frame),
            [["0", "A1", "1"], ["1", "B,2", "2"]],
            "the rows themselves"
        );
    }
}
