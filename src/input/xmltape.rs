//! The SEC's own EX-102 XML (Form ABS-EE auto-loan asset data), read as a filer publishes it.
//!
//! The file is `<assetData xmlns=".../absee/autoloan/assetdata">` with one `<assets>` element per loan
//! and flat leaf elements inside, named as the CSV columns of [`crate::input::tape`]. It is streamed twice with
//! quick-xml, never held in memory: the first pass collects the field names in order of first
//! appearance, the second writes one CSV line per `<assets>` to a temporary file that the normal loader
//! reads. Elements absent from a record are empty (missing); an element repeated within one record
//! (the schema allows several zero-balance or modification codes) becomes `name`, `name.1`, … as in
//! the flattened CSV tapes. Line breaks inside a value become spaces, so each record is one CSV line
//! and rejects can name the XML line where the record's `<assets>` tag is.

use crate::date::Date;
use crate::error::InputError;
use crate::input::reader::FileFacts;
use quick_xml::events::Event;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

const ROOT: &[u8] = b"assetData";
const RECORD: &[u8] = b"assets";

/// Bounds no real tape reaches (a record is a few kB, EX-102 defines about 70 fields), past which the
/// file is refused: without them 100 MB of blank lines in one text node takes 1.9 GB, and a 7.8 MB tape
/// with one unique element per record a 401 MB temporary CSV.
const MAX_EVENT_BYTES: u64 = 4 << 20;
const MAX_COLUMNS: usize = 2_000;

/// Whether `path` holds XML rather than CSV: its first non-blank byte (after a BOM) is `<`.
pub fn is_xml(path: &Path) -> bool {
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = head[..n]
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&head[..n]);
    head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// Newline offsets of the bytes read so far, shared with the counting reader.
#[derive(Default)]
struct Lines {
    /// Offsets of newlines read but not yet passed by the parser.
    pending: VecDeque<u64>,
    /// Newlines already passed by the parser.
    passed: u64,
    read: u64,
    /// Where the parser returned its last event: a single event may not run past [`MAX_EVENT_BYTES`].
    event_start: u64,
    hasher: Option<Sha256>,
}

impl Lines {
    /// The 1-based line of the byte at `offset` (the parser's position).
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.pending.front().is_some_and(|&nl| nl < offset) {
            self.pending.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// Reads a file, noting where its newlines are (and hashing it) as the bytes go by.
struct Counting {
    file: std::fs::File,
    lines: Rc<RefCell<Lines>>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut lines = self.lines.borrow_mut();
        if lines.read.saturating_sub(lines.event_start) > MAX_EVENT_BYTES {
            return Err(std::io::Error::other(format!(
                "one element or text runs past {} MiB; no EX-102 record is that long",
                MAX_EVENT_BYTES >> 20
            )));
        }
        let n = self.file.read(buf)?;
        let base = lines.read;
        for i in memchr::memchr_iter(b'\n', &buf[..n]) {
            lines.pending.push_back(base + i as u64);
        }
        lines.read += n as u64;
        if let Some(h) = lines.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

type XmlReader = quick_xml::Reader<BufReader<Counting>>;

fn open(path: &Path, hash: bool) -> Result<(XmlReader, Rc<RefCell<Lines>>), InputError> {
    let file = std::fs::File::open(path).map_err(|source| InputError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let lines = Rc::new(RefCell::new(Lines {
        hasher: hash.then(Sha256::new),
        ..Lines::default()
    }));
    let counting = Counting {
        file,
        lines: lines.clone(),
    };
    Ok((
        quick_xml::Reader::from_reader(BufReader::with_capacity(1 << 16, counting)),
        lines,
    ))
}

fn bad(path: &Path, reason: String) -> InputError {
    InputError::NotTape {
        path: path.to_path_buf(),
        reason,
    }
}

/// Records inside a wrapper element, or misspelled (`<asset>`), once gave an empty book and exit 0.
fn not_a_record(path: &Path, name: &[u8], line: u64) -> InputError {
    bad(
        path,
        format!(
            "line {line}: `<{}>` directly inside `<assetData>`, where only `<assets>` records belong \
             (EX-102 schema). Fix: export the tape as EDGAR publishes it, one `<assets>` per loan",
            String::from_utf8_lossy(name)
        ),
    )
}

/// One event of the walk over the records.
enum Step<'a> {
    /// A record starts, at this line.
    Record(u64),
    /// A leaf field of the current record.
    Field(&'a [u8], String),
    /// The current record ends.
    EndRecord,
}

/// Streams the file, calling `each` for record starts, leaf fields and record ends. Stops early when
/// `each` returns false.
fn walk(
    path: &Path,
    hash: bool,
    mut each: impl FnMut(Step<'_>) -> bool,
) -> Result<Rc<RefCell<Lines>>, InputError> {
    let (mut reader, lines) = open(path, hash)?;
    let mut walker = Walker {
        path,
        lines,
        stack: Vec::new(),
        text: String::new(),
        leaf: false,
        root_seen: false,
    };
    let mut buf = Vec::new();
    loop {
        walker.lines.borrow_mut().event_start = reader.buffer_position();
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            let at = reader.error_position();
            let line = walker.lines.borrow_mut().line_at(at);
            bad(path, format!("XML error at line {line}: {e}"))
        })?;
        if !walker.take(event, reader.buffer_position(), &mut each)? {
            return Ok(walker.lines);
        }
        buf.clear();
    }
}

/// Where the walk is: the element names from the root down, and the text of the innermost element.
struct Walker<'p> {
    path: &'p Path,
    lines: Rc<RefCell<Lines>>,
    stack: Vec<Vec<u8>>,
    text: String,
    /// Whether the innermost open element has no child element yet.
    leaf: bool,
    root_seen: bool,
}

impl Walker<'_> {
    /// Takes one event, read up to byte `pos`; false when the walk ends (the file's end, or `each`).
    fn take(
        &mut self,
        event: Event<'_>,
        pos: u64,
        each: &mut impl FnMut(Step<'_>) -> bool,
    ) -> Result<bool, InputError> {
        match event {
            Event::Start(e) | Event::Empty(e) if self.stack.is_empty() => {
                self.root(e.local_name().as_ref())?
            }
            Event::Start(e) => return self.start(e.local_name().as_ref(), pos, each),
            Event::Empty(e) if self.stack.len() == 1 => {
                // `<assets/>`: a record with no fields, counted (and rejected for what it lacks).
                let line = self.lines.borrow_mut().line_at(pos);
                if e.local_name().as_ref() != RECORD {
                    return Err(not_a_record(self.path, e.local_name().as_ref(), line));
                }
                return Ok(each(Step::Record(line)) && each(Step::EndRecord));
            }
            Event::Empty(e) if self.stack.len() >= 2 => {
                return Ok(each(Step::Field(e.local_name().as_ref(), String::new())));
            }
            Event::Text(t) => {
                let t = t
                    .xml10_content()
                    .map_err(|e| bad(self.path, format!("text is not UTF-8: {e}")))?;
                self.text.push_str(&t);
            }
            Event::CData(t) => self
                .text
                .push_str(&String::from_utf8_lossy(&t.into_inner())),
            Event::GeneralRef(r) => {
                let resolved = resolve_reference(self.path, &r)?;
                self.text.push_str(&resolved);
            }
            Event::End(_) => return Ok(self.end(each)),
            Event::Eof if !self.root_seen => {
                return Err(bad(self.path, "it has no root element".into()))
            }
            Event::Eof => return Ok(false),
            _ => {}
        }
        Ok(true)
    }

    fn root(&mut self, name: &[u8]) -> Result<(), InputError> {
        if name != ROOT {
            return Err(bad(
                self.path,
                format!(
                    "its root element is `{}`, not `assetData`",
                    String::from_utf8_lossy(name)
                ),
            ));
        }
        self.stack.push(ROOT.to_vec());
        self.root_seen = true;
        Ok(())
    }

    /// An element opens: a record when it is directly inside the root.
    fn start(
        &mut self,
        name: &[u8],
        pos: u64,
        each: &mut impl FnMut(Step<'_>) -> bool,
    ) -> Result<bool, InputError> {
        if self.stack.len() == 1 {
            let line = self.lines.borrow_mut().line_at(pos);
            if name != RECORD {
                return Err(not_a_record(self.path, name, line));
            }
            if !each(Step::Record(line)) {
                return Ok(false);
            }
        }
        self.stack.push(name.to_vec());
        self.text.clear();
        self.leaf = true;
        Ok(true)
    }

    /// An element closes: a field when it held only text, the record's end when it is a record.
    fn end(&mut self, each: &mut impl FnMut(Step<'_>) -> bool) -> bool {
        let name = self.stack.pop().unwrap_or_default();
        let go_on = if self.stack.len() >= 2 && self.leaf {
            let value = self.text.trim().replace(['\r', '\n'], " ");
            each(Step::Field(&name, value))
        } else {
            !(self.stack.len() == 1 && name == RECORD) || each(Step::EndRecord)
        };
        self.leaf = false;
        self.text.clear();
        go_on
    }
}

/// The text of a character or entity reference. An entity XML does not predefine is refused like a
/// DOCTYPE: a tape defines no entities of its own, and an empty field in its place would be a silent
/// change to the data.
fn resolve_reference(
    path: &Path,
    r: &quick_xml::events::BytesRef<'_>,
) -> Result<String, InputError> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Ok(c.to_string());
    }
    let name = r.decode().unwrap_or_default();
    match quick_xml::escape::resolve_xml_entity(&name) {
        Some(s) => Ok(s.to_string()),
        None => Err(bad(
            path,
            format!(
                "undefined entity `&{name};`. Fix: write the character itself or one of &amp; \
                 &lt; &gt; &quot; &apos;"
            ),
        )),
    }
}

/// A tape converted to CSV in a temporary file (removed on drop), with the XML line of each record.
pub struct Converted {
    pub csv: PathBuf,
    /// `xml_lines[i]` is the XML line of the record on CSV line `i + 2`.
    pub xml_lines: Vec<u64>,
    /// The XML file's own facts for the manifest.
    pub facts: FileFacts,
}

impl Drop for Converted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.csv);
        crate::cleanup::unregister(&self.csv);
    }
}

const TEMP_PREFIX: &str = "underwater-tape-";

/// Removes the CSV conversions left in the temporary directory by runs that were killed (SIGKILL
/// cannot be caught): `underwater-tape-<pid>-<n>.csv` of a process no longer running.
fn remove_dead_conversions() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(TEMP_PREFIX)
            .filter(|rest| rest.ends_with(".csv"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !crate::cleanup::pid_is_running(p)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl Converted {
    /// The XML line of a CSV line of the converted file.
    pub fn xml_line(&self, csv_line: u64) -> u64 {
        csv_line
            .checked_sub(2)
            .and_then(|i| self.xml_lines.get(i as usize))
            .copied()
            .unwrap_or(csv_line)
    }
}

/// Numbers a field name by how often it already appeared in this record: `name`, `name.1`, …
fn numbered(name: &[u8], seen: &mut FxHashMap<Vec<u8>, usize>) -> String {
    let n = seen.entry(name.to_vec()).or_insert(0);
    let text = String::from_utf8_lossy(name);
    let out = if *n == 0 {
        text.into_owned()
    } else {
        format!("{text}.{n}")
    };
    *n += 1;
    out
}

/// Converts an EX-102 XML file to a temporary CSV, streaming it twice.
pub fn convert(path: &Path) -> Result<Converted, InputError> {
    let columns = Columns::of(path)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    remove_dead_conversions();
    let csv = std::env::temp_dir().join(format!("{TEMP_PREFIX}{}-{nanos}.csv", std::process::id()));
    crate::cleanup::register(&csv);
    let mut converted = Converted {
        csv,
        xml_lines: Vec::new(),
        facts: FileFacts {
            path: path.to_path_buf(),
            bytes: 0,
            sha256: String::new(),
            // The XML is parsed whole, element by element: a cut file is an XML error.
            no_final_line_end: false,
        },
    };
    let lines = write_records(path, &columns, &converted.csv, &mut converted.xml_lines)?;
    let mut lines = lines.borrow_mut();
    converted.facts.bytes = lines.read;
    converted.facts.sha256 = lines
        .hasher
        .take()
        .map(|h| format!("{:x}", h.finalize()))
        .unwrap_or_default();
    Ok(converted)
}

/// The tape's columns, in order of first appearance: the first pass.
struct Columns {
    names: Vec<String>,
    index: FxHashMap<String, usize>,
}

impl Columns {
    fn of(path: &Path) -> Result<Columns, InputError> {
        let mut names: Vec<String> = Vec::new();
        let mut index: FxHashMap<String, usize> = FxHashMap::default();
        let mut seen = FxHashMap::default();
        let mut too_many = false;
        walk(path, false, |step| {
            match step {
                Step::Record(_) => seen.clear(),
                Step::Field(name, _) => {
                    let name = numbered(name, &mut seen);
                    if !index.contains_key(&name) {
                        if names.len() == MAX_COLUMNS {
                            too_many = true;
                            return false;
                        }
                        index.insert(name.clone(), names.len());
                        names.push(name);
                    }
                }
                Step::EndRecord => {}
            }
            true
        })?;
        if too_many {
            return Err(bad(
                path,
                format!(
                    "its records have more than {MAX_COLUMNS} distinct field names; EX-102 defines \
                     about 70. Fix: check that the file is an auto-loan asset-data exhibit"
                ),
            ));
        }
        if names.is_empty() {
            return Err(bad(path, "it has no <assets> records with fields".into()));
        }
        Ok(Columns { names, index })
    }
}

/// Writes one CSV line per record to `csv` and the XML line of each into `xml_lines`: the second pass,
/// which also hashes the file.
fn write_records(
    path: &Path,
    columns: &Columns,
    csv: &Path,
    xml_lines: &mut Vec<u64>,
) -> Result<Rc<RefCell<Lines>>, InputError> {
    let write_error = |source: std::io::Error| InputError::Read {
        path: converted_path_hint(path),
        source,
    };
    let file = std::fs::File::create(csv).map_err(write_error)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut line = String::new();
    crate::csvfmt::push_plain_line(&mut line, columns.names.iter().map(String::as_str));
    let mut values: Vec<String> = vec![String::new(); columns.names.len()];
    let mut seen = FxHashMap::default();
    let mut io_error = None;
    let lines = walk(path, true, |step| {
        match step {
            Step::Record(at) => {
                seen.clear();
                values.iter_mut().for_each(String::clear);
                xml_lines.push(at);
            }
            Step::Field(name, value) => {
                let name = numbered(name, &mut seen);
                if let Some(&i) = columns.index.get(&name) {
                    values[i] = value;
                }
            }
            Step::EndRecord => {
                crate::csvfmt::push_plain_line(&mut line, values.iter().map(String::as_str));
                if line.len() > 1 << 20 {
                    if let Err(e) = out.write_all(line.as_bytes()) {
                        io_error = Some(e);
                        return false;
                    }
                    line.clear();
                }
            }
        }
        true
    })?;
    if let Some(e) = io_error {
        return Err(write_error(e));
    }
    out.write_all(line.as_bytes())
        .and_then(|_| out.flush())
        .map_err(write_error)?;
    Ok(lines)
}

fn converted_path_hint(path: &Path) -> PathBuf {
    PathBuf::from(format!(
        "{} (its CSV conversion in {})",
        path.display(),
        std::env::temp_dir().display()
    ))
}

/// The reporting period of an XML tape: its first `reportingPeriodEndingDate`.
pub fn peek_period(path: &Path) -> Result<Option<Date>, InputError> {
    let mut found = None;
    walk(path, false, |step| match step {
        Step::Field(name, value) if name == b"reportingPeriodEndingDate" => {
            found = Date::parse_tape(value.trim());
            found.is_none()
        }
        _ => true,
    })?;
    Ok(found)
}
