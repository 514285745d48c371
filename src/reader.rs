//! Line-exact CSV reading at book scale.
//!
//! polars cannot say which line a bad row is on, so rows are read here with the `csv` crate, whose
//! positions are exact. To parse in parallel, the file is cut into chunks of whole records: a fast scan
//! finds record boundaries with the same quoting rule `csv` uses (a quote opens a quoted field only at
//! the start of a field; `""` inside one is a literal quote), so a quoted field containing newlines is
//! never split. Each chunk carries the line number of its first byte, so positions inside a chunk map to
//! file lines. While reading, the bytes are hashed (sha256 for the manifest) and counted for progress.

use crate::error::InputError;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Default target size of one chunk: big enough to amortize per-chunk work, small enough to bound memory.
pub const CHUNK_BYTES: usize = 4 << 20;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The header of an input file: column names as written (trimmed), in order.
#[derive(Clone, Debug)]
pub struct Header {
    pub names: Vec<String>,
}

impl Header {
    /// Position of a column, matched case-insensitively.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }

    /// Refuses a header with an unnamed column or a name used twice (case-insensitively). Layouts call it
    /// after any column mapping, which may number repeats first (loan tapes).
    pub fn check_unique(&self, path: &Path) -> Result<(), InputError> {
        for (i, name) in self.names.iter().enumerate() {
            if name.is_empty() {
                return Err(InputError::BadHeader {
                    path: path.to_path_buf(),
                    problem: format!("column {} has an empty name", i + 1),
                });
            }
            if self.names[..i].iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(InputError::BadHeader {
                    path: path.to_path_buf(),
                    problem: format!("column name `{name}` appears twice"),
                });
            }
        }
        Ok(())
    }
}

/// A run of whole records from one file.
pub struct Chunk {
    /// Order of the chunk in the file, for putting parallel results back in order.
    pub index: usize,
    /// File line number of the chunk's first byte (the header is line 1).
    pub first_line: u64,
    pub bytes: Vec<u8>,
}

/// One record of a chunk: its fields, its first line in the file, and its raw bytes.
pub struct Row<'a> {
    pub line: u64,
    pub record: &'a csv::ByteRecord,
    pub raw: &'a [u8],
}

impl Chunk {
    /// Calls `each` for every record, in order. Blank lines are not records (as in `csv`).
    pub fn for_each_row(&self, mut each: impl FnMut(Row<'_>)) {
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
            each(Row {
                line,
                record: &record,
                raw: trim_line_end(&self.bytes[start..end]),
            });
        }
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
    next_index: usize,
    hasher: Sha256,
    bytes_read: u64,
    chunk_bytes: usize,
    on_bytes: Box<dyn FnMut(u64) + Send>,
}

/// What a finished read tells the manifest.
#[derive(Clone, Debug)]
pub struct FileFacts {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
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
            next_index: 0,
            hasher: Sha256::new(),
            bytes_read: 0,
            // Reads grow the buffer to the chunk size, so bound it.
            chunk_bytes: chunk_bytes.clamp(1, 1 << 30),
            on_bytes,
        };
        let header = reader.read_header()?;
        Ok((reader, header))
    }

    fn fill(&mut self, want: usize) -> Result<(), InputError> {
        while !self.eof && self.pending.len() < want {
            let old = self.pending.len();
            let grow = (want - old).max(64 << 10);
            self.pending.resize(old + grow, 0);
            let n =
                self.file
                    .read(&mut self.pending[old..])
                    .map_err(|source| InputError::Read {
                        path: self.path.clone(),
                        source,
                    })?;
            self.pending.truncate(old + n);
            if n == 0 {
                self.eof = true;
            } else {
                self.hasher.update(&self.pending[old..]);
                self.bytes_read += n as u64;
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
            return Err(InputError::Empty {
                path: self.path.clone(),
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
                let rest = self.pending.split_off(cut);
                let bytes = std::mem::replace(&mut self.pending, rest);
                let chunk = Chunk {
                    index: self.next_index,
                    first_line: self.next_line,
                    bytes,
                };
                self.next_index += 1;
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
            sha256: format!("{:x}", self.hasher.finalize()),
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
}
