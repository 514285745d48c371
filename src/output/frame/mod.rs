//! The book's accounts as a polars frame with typed columns, money as exact decimals: the cells of
//! accounts.parquet, the `accounts` table of `underwater query` ([`AccountsScan`]) and the Python
//! package's frames ([`AccountsFrames`]).
//!
//! Money goes in as the i128 mantissa at a fixed scale, so no figure passes through a binary float on
//! the way. The frame is built a part of the output order at a time ([`Frames`]), from what
//! [`settled`] fixed over the whole book first.

pub mod columns;
mod computed;
pub(crate) mod loan_columns;
mod parts;
mod settled;

use crate::book::Book;
use computed::{computed_columns, computed_names};
use loan_columns::PartBuffers;
use parts::parts;
use polars::prelude::*;
use rayon::prelude::*;
pub(crate) use settled::Settled;

pub use columns::{date_column, money, text, typed_column, MONEY_COLUMNS, RATIO_COLUMNS, WIDE};

/// The accounts of a book as frames of a row group each, in output order, every decimal at precision 38
/// (the cells of the per-account file, as `query`'s `accounts` table types them): what the Python
/// package hands over, one group at a time so a book is never held twice.
pub struct AccountsFrames {
    book: std::sync::Arc<Book>,
    settled: Settled,
    groups: std::vec::IntoIter<std::ops::Range<usize>>,
}

impl AccountsFrames {
    pub fn new(book: std::sync::Arc<Book>) -> PolarsResult<AccountsFrames> {
        let settled = Settled::of(&book, false)?;
        let groups = row_groups(book.loaded.loans.len()).into_iter();
        Ok(AccountsFrames {
            book,
            settled,
            groups,
        })
    }
}

impl Iterator for AccountsFrames {
    type Item = PolarsResult<DataFrame>;

    fn next(&mut self) -> Option<PolarsResult<DataFrame>> {
        let group = self.groups.next()?;
        Some(Frames::all(&self.book, &self.settled).frame(group))
    }
}

/// The row groups of a book of `n` accounts, in output order: 2^17 accounts each (the last has the
/// rest; an empty book has one, empty). Against polars' default of 512² (three groups of 333,333 at
/// 1M), the writer overlaps the building of eight groups instead of three, and holds less, for a file
/// a little larger (docs/perf-log.md).
pub(crate) fn row_groups(n: usize) -> Vec<std::ops::Range<usize>> {
    const ROW_GROUP: usize = 1 << 17;
    (0..n.div_ceil(ROW_GROUP).max(1))
        .map(|g| g * ROW_GROUP..((g + 1) * ROW_GROUP).min(n))
        .collect()
}

/// Builds the accounts frame, or some of its columns, a range of the output order at a time.
pub(crate) struct Frames<'a> {
    book: &'a Book,
    settled: &'a Settled,
    /// The columns to build (None: all).
    wanted: Option<&'a [PlSmallStr]>,
}

impl<'a> Frames<'a> {
    pub(crate) fn all(book: &'a Book, settled: &'a Settled) -> Frames<'a> {
        Frames {
            book,
            settled,
            wanted: None,
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.wanted.is_none_or(|w| w.iter().any(|c| c == name))
    }

    /// The accounts at output positions `range`, one chunk per column.
    pub(crate) fn frame(&self, range: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
        let rows = range.len();
        let width = self.book.loaded.layout.tail_names.len();
        let parts: Vec<Vec<Column>> = parts(range.clone())
            .map_init(
                || PartBuffers::new(width),
                |buffers, part| self.columns(part, buffers),
            )
            .collect::<PolarsResult<_>>()?;
        let columns = if parts.is_empty() {
            self.columns(range.start..range.start, &mut PartBuffers::new(width))?
        } else {
            append_parts(parts)?
        };
        DataFrame::new(rows, columns)
    }

    /// The wanted columns of the accounts at output positions `range`: the computed ones, then the
    /// loan's own.
    fn columns(
        &self,
        range: std::ops::Range<usize>,
        buffers: &mut PartBuffers<'a>,
    ) -> PolarsResult<Vec<Column>> {
        let (book, settled) = (self.book, self.settled);
        let wants = |name: &str| self.wants(name);
        let computed = computed_names().any(|name| wants(name));
        let names = &book.loaded.layout.tail_names;
        let tail = names.iter().any(|name| wants(name));
        buffers.gather(book, &book.loaded.order[range], computed, tail)?;
        let mut columns = match computed {
            true => computed_columns(book, settled, &wants, buffers)?,
            false => Vec::new(),
        };
        if tail {
            for (c, (name, inferred)) in names.iter().zip(&settled.tail).enumerate() {
                if wants(name) {
                    columns.push(inferred.column(name, buffers.tail.values(c), settled.narrow)?);
                }
            }
        }
        Ok(columns)
    }
}

/// Parts' columns joined into whole columns of one chunk each (as a column built whole is, so the
/// Parquet file does not depend on the part size).
fn append_parts(parts: Vec<Vec<Column>>) -> PolarsResult<Vec<Column>> {
    let mut parts = parts.into_iter();
    let Some(mut columns) = parts.next() else {
        return Ok(Vec::new());
    };
    for part in parts {
        for (c, more) in columns.iter_mut().zip(part) {
            c.append_owned(more)?;
        }
    }
    columns.par_iter_mut().for_each(|c| *c = c.rechunk());
    Ok(columns)
}

/// The accounts of a book as the `accounts` table of `underwater query`: a polars scan that builds
/// only the columns the query reads (polars' projection pushdown names them), plus `as_of`. A query
/// by `new_used` of the 1M-loan book builds a few of the 36 columns instead of all of them.
pub struct AccountsScan {
    book: std::sync::Arc<Book>,
    settled: Settled,
    schema: SchemaRef,
    /// The run's thread pool (`--threads`): the scan is called on one of polars' threads.
    pool: std::sync::Arc<rayon::ThreadPool>,
}

impl AccountsScan {
    pub fn new(
        book: std::sync::Arc<Book>,
        pool: std::sync::Arc<rayon::ThreadPool>,
    ) -> PolarsResult<AccountsScan> {
        let settled = pool.install(|| Settled::of(&book, false))?;
        let mut schema = Frames::all(&book, &settled)
            .frame(0..0)?
            .schema()
            .as_ref()
            .clone();
        if schema.get("as_of").is_none() {
            schema.with_column("as_of".into(), DataType::Date);
        }
        Ok(AccountsScan {
            book,
            settled,
            schema: std::sync::Arc::new(schema),
            pool,
        })
    }

    pub fn lazy(self) -> PolarsResult<LazyFrame> {
        let args = ScanArgsAnonymous {
            schema: Some(self.schema.clone()),
            name: "accounts",
            ..ScanArgsAnonymous::default()
        };
        LazyFrame::anonymous_scan(std::sync::Arc::new(self), args)
    }
}

impl AnonymousScan for AccountsScan {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn schema(&self, _infer_schema_length: Option<usize>) -> PolarsResult<SchemaRef> {
        Ok(self.schema.clone())
    }

    fn allows_projection_pushdown(&self) -> bool {
        true
    }

    fn scan(&self, args: AnonymousScanArgs) -> PolarsResult<DataFrame> {
        let book = &*self.book;
        let rows = args
            .n_rows
            .map_or(book.loaded.loans.len(), |n| n.min(book.loaded.loans.len()));
        let frames = Frames {
            book,
            settled: &self.settled,
            wanted: args.with_columns.as_deref(),
        };
        let mut frame = self.pool.install(|| frames.frame(0..rows))?;
        if frames.wants("as_of") && frame.column("as_of").is_err() {
            let as_of = std::iter::repeat_n(Some(book.as_of), rows);
            frame.with_column(date_column("as_of", as_of))?;
        }
        match args.with_columns {
            Some(wanted) => frame.select(wanted.iter().cloned()),
            None => Ok(frame),
        }
    }
}
