//! Line-exact CSV reading at book scale.
//!
//! polars cannot say which line a bad row is on, so rows are read here, exactly as the `csv` crate reads
//! them and counting lines as they go: a line without quotes is split on commas directly, any other
//! record goes through `csv_core`, the `csv` crate's own parser. To parse in parallel, the file is cut into chunks of whole records: a fast scan
//! finds record boundaries with the same quoting rule `csv` uses (a quote opens a quoted field only at
//! the start of a field; `""` inside one is a literal quote), so a quoted field containing newlines is
//! never split. Each chunk carries the line number of its first byte, so positions inside a chunk map to
//! file lines. While reading, the bytes are hashed (sha256 for the manifest) and counted for progress.

use crate::error::InputError;
pub use crate::input::record::{Header, Row, RowSource};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Default target size of one chunk: big enough to amortize per-chunk work, small enough to bound memory.
pub const CHUNK_BYTES: usize = 4 << 20;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A run of whole records from one file, or rows of a frame handed over in memory.
pub struct Chunk {
    /// File line number of the chunk's first byte (the header is line 1).
    pub first_line: u64,
    pub bytes: Vec<u8>,
    /// Where the buffer goes back when the chunk is done (see [`Buffers`]).
    buffers: Option<Buffers>,
    /// Rows that are not CSV bytes (a frame's: [`crate::input::frame`]); `bytes` is then empty.
    rows: Option<Box<dyn RowSource>>,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if let Some(pool) = &self.buffers {
            pool.put(std::mem::take(&mut self.bytes));
        }
    }
}

/// Chunk buffers handed back for reuse. A fresh 4 MiB buffer per chunk costs the kernel a page fault and a
/// page clear per 4 KiB; reusing the few buffers in flight avoids both.
#[derive(Clone, Default)]
struct Buffers(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl Buffers {
    /// At most this many idle buffers are kept (more than the chunks a pool of workers holds at once).
    const KEEP: usize = 16;

    fn take(&self, capacity: usize) -> Vec<u8> {
        // A poisoned lock only means another thread panicked while pushing; the buffers are still fine.
        let mut idle = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = idle.pop().unwrap_or_default();
        drop(idle);
        buf.clear();
        buf.reserve(capacity);
        buf
    }

    fn put(&self, buf: Vec<u8>) {
        let mut idle = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < Self::KEEP && buf.capacity() > 0 {
            idle.push(buf);
        }
    }
}

impl Chunk {
    /// A chunk of rows that are not CSV bytes (a frame's).
    pub fn of_rows(rows: Box<dyn RowSource>) -> Chunk {
        Chunk {
            first_line: 0,
            bytes: Vec::new(),
            buffers: None,
            rows: Some(rows),
        }
    }

    /// The chunk's size in the unit its input's size is counted in: bytes of a file, rows of a frame.
    pub fn size(&self) -> usize {
        self.rows.as_ref().map_or(self.bytes.len(), |r| r.rows())
    }

    /// At least as many as the chunk's records (its lines, or a frame's rows), to size a vector once.
    pub fn records_bound(&self) -> usize {
        match &self.rows {
            Some(rows) => rows.rows(),
            None => memchr::memchr_iter(b'\n', &self.bytes).count() + 1,
        }
    }

    /// Calls `each` for every record, in order. Blank lines are not records (as in `csv`).
    ///
    /// Reads exactly as the `csv` crate does (a test checks it against `csv` on random bytes), but a
    /// line with no quote and no bare CR, which is most lines of a real export, is split on commas
    /// directly; only other lines go through `csv`'s own parser, `csv_core`.
    pub fn for_each_row(&self, mut each: impl FnMut(Row<'_>)) {
        if let Some(rows) = &self.rows {
            return rows.for_each_row(&mut each);
        }
        let bytes = &self.bytes[..];
        let mut fields: Vec<&[u8]> = Vec::with_capacity(32);
        let mut quoted = QuotedRecords::new();
        let mut line = self.first_line;
        let mut pos = 0;
        loop {
            // Line ends between records: blank lines, and an LF the record parser stopped before.
            while pos < bytes.len() && matches!(bytes[pos], b'\r' | b'\n') {
                line += u64::from(bytes[pos] == b'\n');
                pos += 1;
            }
            if pos == bytes.len() {
                break;
            }
            let line_end = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |p| pos + p);
            let text = &bytes[pos..line_end];
            let body = text.strip_suffix(b"\r").unwrap_or(text);
            if memchr::memchr2(b'"', b'\r', body).is_none() {
                fields.clear();
                fields.extend(body.split(|&b| b == b','));
                each(Row::of_record(line, &fields, body));
                pos = line_end;
            } else {
                let consumed = quoted.read(&bytes[pos..]);
                let record = &bytes[pos..pos + consumed];
                each(Row::of_record(
                    line,
                    &quoted.fields(),
                    trim_line_end(record),
                ));
                line += memchr::memchr_iter(b'\n', record).count() as u64;
                pos += consumed;
            }
        }
    }

    /// The reference reading: the `csv` crate over the whole chunk.
    #[cfg(test)]
    fn for_each_csv_row(&self, mut each: impl FnMut(Row<'_>)) {
        // `csv` drops a UTF-8 BOM at the start of its input, which is right for a file but wrong for a
        // chunk that happens to start with a row beginning with BOM bytes: that row must read the same
        // wherever the chunk boundaries fall. A leading blank line (not a record) disarms the stripping.
        let prefixed;
        let (data, shift) = if self.bytes.starts_with(UTF8_BOM) {
            prefixed = [b"\n".as_slice(), &self.bytes].concat();
            (&prefixed[..], 1)
        } else {
            (&self.bytes[..], 0)
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(data);
        let mut record = csv::ByteRecord::new();
        // Lines are counted here rather than taken from `csv`, whose positions put a CRLF record's start
        // on the LF of the line before. A record starts at its first byte that is not a line end.
        let (mut counted_to, mut line) = (0usize, self.first_line);
        // With `flexible`, `csv` reports no error for field counts, and no I/O error can happen on a byte
        // slice, so anything but Ok(true) is the end of the chunk.
        while let Ok(true) = reader.read_byte_record(&mut record) {
            let end = (reader.position().byte() as usize)
                .saturating_sub(shift)
                .min(self.bytes.len());
            let mut start = (record.position().map_or(0, |p| p.byte()) as usize)
                .saturating_sub(shift)
                .min(end);
            start = start.max(counted_to);
            while start < end && matches!(self.bytes[start], b'\r' | b'\n') {
                start += 1;
            }
            line += memchr::memchr_iter(b'\n', &self.bytes[counted_to..start]).count() as u64;
            counted_to = start;
            let fields: Vec<&[u8]> = record.iter().collect();
            each(Row::of_record(
                line,
                &fields,
                trim_line_end(&self.bytes[start..end]),
            ));
        }
    }
}

/// Records read with `csv_core`, the parser inside the `csv` crate, one at a time from a record's start.
struct QuotedRecords {
    reader: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// The last record: its field bytes are `out[..out_len]`, each field ending at `ends[..ends_len]`.
    out_len: usize,
    ends_len: usize,
}

impl QuotedRecords {
    fn new() -> QuotedRecords {
        let mut reader = csv_core::Reader::new();
        // `csv_core` strips a UTF-8 BOM from the first bytes it reads. Records here start mid-file, where
        // a BOM is data (as in the `csv` path of a file), so it first reads a blank line.
        let _ = reader.read_record(b"\n", &mut [], &mut []);
        QuotedRecords {
            reader,
            out: vec![0; 1024],
            ends: vec![0; 64],
            out_len: 0,
            ends_len: 0,
        }
    }

    /// Parses the record at the start of `input`, which runs to the end of the chunk (so the end of
    /// `input` ends the record); returns how many bytes it took.
    fn read(&mut self, input: &[u8]) -> usize {
        use csv_core::ReadRecordResult as R;
        self.out_len = 0;
        self.ends_len = 0;
        let mut taken = 0;
        loop {
            // Once `input` is used up, the empty rest tells `csv_core` the data has ended.
            let (result, nin, nout, nends) = self.reader.read_record(
                &input[taken..],
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            taken += nin;
            self.out_len += nout;
            self.ends_len += nends;
            match result {
                R::OutputFull => self.out.resize(self.out.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::InputEmpty => {}
                R::Record | R::End => return taken,
            }
        }
    }

    fn fields(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends[..self.ends_len]
            .iter()
            .map(|&end| {
                let field = &self.out[start..end];
                start = end;
                field
            })
            .collect()
    }
}

fn trim_line_end(mut raw: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = raw {
        raw = rest;
    }
    raw
}

/// Reads a file as a header and a sequence of chunks, hashing and counting bytes as it goes.
pub struct ChunkReader {
    path: PathBuf,
    file: File,
    pending: Vec<u8>,
    eof: bool,
    next_line: u64,
    /// None when the caller does not need the file's hash (see [`ChunkReader::without_hash`]).
    hasher: Option<Sha256>,
    bytes_read: u64,
    last_byte: Option<u8>,
    chunk_bytes: usize,
    on_bytes: Box<dyn FnMut(u64) + Send>,
    buffers: Buffers,
}

/// What a finished read tells the manifest.
#[derive(Clone, Debug)]
pub struct FileFacts {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    /// The file does not end with a line end: it may have been cut short mid-row, and its last row
    /// was read as it stands (`…,19` as 19.00).
    pub no_final_line_end: bool,
}

impl ChunkReader {
    /// Opens `path` and reads its header; chunks will be about `chunk_bytes` long. `on_bytes` is told how
    /// many bytes each read added.
    pub fn open(
        path: &Path,
        chunk_bytes: usize,
        on_bytes: Box<dyn FnMut(u64) + Send>,
    ) -> Result<(ChunkReader, Header), InputError> {
        let file = File::open(path).map_err(|source| InputError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(InputError::NotCsv {
                path: path.to_path_buf(),
                reason: "it is a directory".into(),
            });
        }
        let mut reader = ChunkReader {
            path: path.to_path_buf(),
            file,
            pending: Vec::new(),
            eof: false,
            next_line: 1,
            hasher: Some(Sha256::new()),
            bytes_read: 0,
            last_byte: None,
            // Reads grow the buffer to the chunk size, so bound it.
            chunk_bytes: chunk_bytes.clamp(1, 1 << 30),
            on_bytes,
            buffers: Buffers::default(),
        };
        let header = reader.read_header()?;
        Ok((reader, header))
    }

    /// Reads without hashing: for a file no manifest names (a previous run's accounts, 250 MB at 1M
    /// accounts, whose sha256 was a sixth of the `--previous` stage). [`ChunkReader::finish`] then gives
    /// an empty sha256.
    pub fn without_hash(mut self) -> ChunkReader {
        self.hasher = None;
        self
    }

    fn fill(&mut self, want: usize) -> Result<(), InputError> {
        while !self.eof && self.pending.len() < want {
            let old = self.pending.len();
            let grow = (want - old).max(64 << 10);
            self.pending.reserve(grow);
            // `read_to_end` reads into the spare capacity without zeroing it first.
            let n = (&mut self.file)
                .take(grow as u64)
                .read_to_end(&mut self.pending)
                .map_err(|source| InputError::Read {
                    path: self.path.clone(),
                    source,
                })?;
            if n < grow {
                self.eof = true;
            }
            if n > 0 {
                if let Some(h) = &mut self.hasher {
                    h.update(&self.pending[old..]);
                }
                self.bytes_read += n as u64;
                self.last_byte = self.pending.last().copied();
                (self.on_bytes)(n as u64);
            }
        }
        Ok(())
    }

    fn read_header(&mut self) -> Result<Header, InputError> {
        let path = self.path.clone();
        let not_csv = |reason: &str| InputError::NotCsv {
            path: path.clone(),
            reason: reason.to_string(),
        };
        let mut want = 64 << 10;
        let end = loop {
            self.fill(want)?;
            if let Some(end) = first_boundary(&self.pending) {
                break end;
            }
            if self.eof {
                break self.pending.len();
            }
            if self.pending.len() > 16 << 20 {
                return Err(not_csv("the first 16 MiB hold no complete header line"));
            }
            want *= 2;
        };
        let mut head = &self.pending[..end];
        if head.starts_with(UTF8_BOM) {
            head = &head[UTF8_BOM.len()..];
        }
        if trim_line_end(head).iter().all(|b| b.is_ascii_whitespace()) {
            // A blank first line with text after it is not an empty file (it once said so).
            let more = !self.eof || self.pending[end..].iter().any(|b| !b.is_ascii_whitespace());
            return Err(match more {
                true => InputError::LeadingBlankLine {
                    path: self.path.clone(),
                },
                false => InputError::Empty {
                    path: self.path.clone(),
                },
            });
        }
        if head.contains(&0) {
            return Err(not_csv(
                "its first line contains NUL bytes (a binary file such as a zip or PDF?)",
            ));
        }
        let text = std::str::from_utf8(head).map_err(|_| {
            not_csv("its header line is not UTF-8 text (a binary file, or another encoding?)")
        })?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut record = csv::StringRecord::new();
        if !rdr.read_record(&mut record).unwrap_or(false) {
            return Err(InputError::Empty {
                path: self.path.clone(),
            });
        }
        // The header is read up to the first LF. Lines that end in a bare CR (Excel's old "CSV
        // (Macintosh)") put more records before it: the whole file would read as a header and no rows.
        if rdr
            .read_record(&mut csv::StringRecord::new())
            .unwrap_or(false)
        {
            return Err(InputError::BareCr {
                path: self.path.clone(),
            });
        }
        let names: Vec<String> = record.iter().map(|s| s.trim().to_string()).collect();
        self.next_line += memchr::memchr_iter(b'\n', &self.pending[..end]).count() as u64;
        self.pending.drain(..end);
        Ok(Header { names })
    }

    /// The next chunk of whole records, or `None` at the end of the file.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, InputError> {
        let mut want = self.chunk_bytes;
        loop {
            self.fill(want)?;
            if self.pending.is_empty() {
                return Ok(None);
            }
            let cut = if self.eof && self.pending.len() <= want {
                Some(self.pending.len())
            } else {
                last_boundary(&self.pending[..want.min(self.pending.len())])
            };
            if let Some(cut) = cut.filter(|&c| c > 0) {
                let mut rest = self.buffers.take(self.chunk_bytes + (64 << 10));
                rest.extend_from_slice(&self.pending[cut..]);
                self.pending.truncate(cut);
                let bytes = std::mem::replace(&mut self.pending, rest);
                let chunk = Chunk {
                    first_line: self.next_line,
                    bytes,
                    buffers: Some(self.buffers.clone()),
                    rows: None,
                };
                self.next_line += memchr::memchr_iter(b'\n', &chunk.bytes).count() as u64;
                return Ok(Some(chunk));
            }
            // A record longer than the window (a huge quoted field): widen it.
            want = want.saturating_mul(2);
        }
    }

    /// Size and sha256 of everything read; call after the last chunk.
    pub fn finish(self) -> FileFacts {
        FileFacts {
            path: self.path,
            bytes: self.bytes_read,
            sha256: self
                .hasher
                .map(|h| format!("{:x}", h.finalize()))
                .unwrap_or_default(),
            no_final_line_end: self.last_byte.is_some_and(|b| b != b'\n' && b != b'\r'),
        }
    }
}

impl Iterator for ChunkReader {
    type Item = Result<Chunk, InputError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// Scans `buf` (which starts at a record boundary) and returns the offset just after the first or last
/// record-ending newline, following `csv`'s quoting rule.
fn scan(buf: &[u8], stop_at_first: bool) -> Option<usize> {
    let mut last = None;
    let mut i = 0;
    while let Some(p) = memchr::memchr2(b'"', b'\n', &buf[i..]).map(|p| p + i) {
        if buf[p] == b'\n' {
            last = Some(p + 1);
            if stop_at_first {
                return last;
            }
            i = p + 1;
            continue;
        }
        let at_field_start = p == 0 || matches!(buf[p - 1], b',' | b'\n' | b'\r');
        if !at_field_start {
            i = p + 1;
            continue;
        }
        // Inside a quoted field: skip to its closing quote; `""` is an escaped quote.
        let mut q = p + 1;
        loop {
            match memchr::memchr(b'"', &buf[q..]) {
                None => return last,
                Some(off) => {
                    let close = q + off;
                    if close + 1 >= buf.len() {
                        // Cannot tell a closing quote from the first of `""` yet.
                        return last;
                    }
                    if buf[close + 1] == b'"' {
                        q = close + 2;
                        continue;
                    }
                    i = close + 1;
                    break;
                }
            }
        }
    }
    last
}

fn first_boundary(buf: &[u8]) -> Option<usize> {
    scan(buf, true)
}

fn last_boundary(buf: &[u8]) -> Option<usize> {
    scan(buf, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_respect_quoted_newlines_and_escaped_quotes() {
        assert_eq!(last_boundary(b"a,b\nc,d\n"), Some(8));
        assert_eq!(last_boundary(b"a,\"b\nc\"\nd"), Some(8));
        assert_eq!(last_boundary(b"a,\"b\"\"\n\"\nx"), Some(9));
        // A quote in the middle of a field is literal, as in `csv`.
        assert_eq!(last_boundary(b"a,b\"c\nd\n"), Some(8));
        // An unterminated quote hides the rest.
        assert_eq!(last_boundary(b"a\n\"b\nc\n"), Some(2));
        assert_eq!(first_boundary(b"h1,h2\r\nx,y\r\n"), Some(7));
    }

    fn rows(chunk: &Chunk, reference: bool) -> Vec<(u64, Vec<Vec<u8>>, Vec<u8>)> {
        let mut out = Vec::new();
        let collect = |row: Row<'_>| {
            let fields = (0..row.len())
                .map(|i| row.get(i).unwrap().to_vec())
                .collect();
            out.push((row.line, fields, row.raw().to_vec()));
        };
        if reference {
            chunk.for_each_csv_row(collect);
        } else {
            chunk.for_each_row(collect);
        }
        out
    }

    fn chunk(bytes: &[u8]) -> Chunk {
        Chunk {
            rows: None,
            first_line: 7,
            bytes: bytes.to_vec(),
            buffers: None,
        }
    }

    #[test]
    fn rows_read_exactly_as_csv_reads_them() {
        let cases: [&[u8]; 14] = [
            b"a,b,c\nd,e,f\n",
            b"a,b\r\n\r\nc,d\r\n",
            b"\n\na,,\n,\n",
            b"x,y",
            b"\xEF\xBB\xBFa,b\nc\n",
            b" a , b \n\t,\n",
            b"a,\"b,c\",d\ne,f\n",
            b"a,\"multi\nline\",z\nnext\n",
            b"a,\"say \"\"hi\"\"\",b\n",
            b"a,b\"c,d\n",
            b"a\rb\r\nc\n",
            b"\"abc\"def,x\n",
            b"a,\"unterminated\nstill",
            b"\xEF\xBB\xBF\"q\",b\n",
        ];
        for bytes in cases {
            let c = chunk(bytes);
            assert_eq!(
                rows(&c, false),
                rows(&c, true),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // And on random bytes from the characters that matter, with a fixed seed.
        let alphabet: [&[u8]; 8] = [
            b"a",
            b",",
            b"\"",
            b"\r",
            b"\n",
            b" ",
            b"\xEF\xBB\xBF",
            b"\"\"",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for _ in 0..(seed >> 59) + 1 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                bytes.extend_from_slice(alphabet[(seed >> 61) as usize]);
            }
            let c = chunk(&bytes);
            assert_eq!(
                rows(&c, false),
                rows(&c, true),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
