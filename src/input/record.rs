//! One record of an input as the row parsers read it ([`Row`]), the header naming its fields, and
//! rows that come already split into fields ([`RowSource`]: a frame's), whichever reader produced them.

use crate::error::InputError;
use std::path::Path;

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

/// One record of a chunk: its fields, its first line in the file, and its raw bytes.
pub struct Row<'a> {
    pub line: u64,
    fields: &'a [&'a [u8]],
    /// The record as the file holds it; None for a frame's row, which is written as CSV when asked.
    raw: Option<&'a [u8]>,
}

impl<'a> Row<'a> {
    /// A file's record: its fields and its bytes.
    pub fn of_record(line: u64, fields: &'a [&'a [u8]], raw: &'a [u8]) -> Row<'a> {
        Row {
            line,
            fields,
            raw: Some(raw),
        }
    }

    /// A row of fields with no text of its own (a frame's): its raw record is its fields as CSV.
    pub fn of_fields(line: u64, fields: &'a [&'a [u8]]) -> Row<'a> {
        Row {
            line,
            fields,
            raw: None,
        }
    }

    /// The raw record: the file's bytes, or a frame row's fields written as a CSV line.
    pub fn raw(&self) -> std::borrow::Cow<'a, [u8]> {
        match self.raw {
            Some(raw) => raw.into(),
            None => {
                let mut out = String::with_capacity(self.raw_len() + 2);
                for (i, field) in self.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    crate::csvfmt::push_field(&mut out, &String::from_utf8_lossy(field));
                }
                out.into_bytes().into()
            }
        }
    }

    /// The raw record's length in bytes (a frame row's fields and commas, quotes not counted).
    pub fn raw_len(&self) -> usize {
        match self.raw {
            Some(raw) => raw.len(),
            None => self
                .fields
                .iter()
                .map(|f| f.len() + 1)
                .sum::<usize>()
                .saturating_sub(1),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The i-th field, unquoted.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.fields.get(i).copied()
    }
}

/// Rows already split into fields (a frame's cells as text), read as a chunk's records are.
pub trait RowSource: Send + Sync {
    /// Calls `each` for every row, in order.
    fn for_each_row(&self, each: &mut dyn FnMut(Row<'_>));
    /// How many rows there are.
    fn rows(&self) -> usize;
}
