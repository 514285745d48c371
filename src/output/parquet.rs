//! accounts.parquet: the per-account file with typed columns, money as exact decimals (`Decimal(18, 2)` in
//! the file when the book's amounts fit it, `Decimal(38, 2)` otherwise and in queries); the same columns
//! are the `accounts` table of `underwater query` on raw inputs ([`AccountsScan`]).
//!
//! polars builds the frame and writes it; money goes in as the i128 mantissa at a fixed scale, so no
//! figure passes through a binary float on the way.

use crate::book::summarize::{credit_tier, term_band};
use crate::book::Book;
use crate::input::load::Loan;
use polars::prelude::*;
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::fs::File;

fn at_scale(d: Decimal, scale: u32) -> i128 {
    let mut d = d;
    d.rescale(scale);
    d.mantissa()
}

/// A `Decimal(38, scale)` column of `values` (the type `underwater query` shows).
pub fn money(
    name: &str,
    values: impl Iterator<Item = Option<Decimal>>,
    scale: u32,
) -> PolarsResult<Column> {
    money_at(name, values, scale, WIDE)
}

/// The precision of money in `query`'s tables, and of a decimal that may need it in accounts.parquet.
pub const WIDE: usize = 38;
/// The precision of money in accounts.parquet when every amount of the book fits it: Parquet keeps
/// a decimal of up to 18 digits as a 64-bit integer (16 bytes otherwise), which made the file's write
/// stage 0.1 s faster on the 1M-loan book. `query` reads such columns back as [`WIDE`].
const NARROW: usize = 18;

/// [`money`] at a given precision. A value beyond it is an error, never a cut: polars would keep
/// only its low 64 bits.
fn money_at(
    name: &str,
    values: impl Iterator<Item = Option<Decimal>>,
    scale: u32,
    precision: usize,
) -> PolarsResult<Column> {
    let limit = (precision < WIDE).then(|| 10i128.pow(precision as u32));
    let mut too_wide = false;
    let ca = Int128Chunked::from_iter_options(
        name.into(),
        values.map(|v| {
            v.map(|d| {
                let m = at_scale(d, scale);
                too_wide |= limit.is_some_and(|l| m.unsigned_abs() >= l as u128);
                m
            })
        }),
    );
    if too_wide {
        return Err(polars_err!(ComputeError:
            "internal error (a bug: please report it): a value of `{name}` has more than {precision} digits"));
    }
    Ok(ca.into_decimal(precision, scale as usize)?.into_column())
}

pub fn date_column(name: &str, values: impl Iterator<Item = Option<crate::date::Date>>) -> Column {
    Int32Chunked::from_iter_options(name.into(), values.map(|d| d.map(|d| d.days_since_epoch())))
        .into_date()
        .into_column()
}

pub fn text<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), values).into_column()
}

/// Columns written as exact decimals at a fixed scale, in accounts.parquet and in query tables.
pub const MONEY_COLUMNS: [&str; 7] = [
    "balance",
    "value",
    "equity",
    "negative_equity",
    "net_recovery",
    "deficiency_if_default",
    "expected_deficiency",
];
/// Ratio columns, 4 places.
pub const RATIO_COLUMNS: [&str; 2] = ["ltv", "origination_ltv"];

/// A loan column as the narrowest exact type all its values fit: `YYYY-MM-DD` dates as Date, whole
/// numbers (no leading zeros, so ZIP codes and ids stay text) as Int64, decimals as Decimal at their
/// largest scale, else text.
pub fn typed_column(name: &str, values: &[Option<&str>]) -> PolarsResult<Column> {
    let mut kind = Kind::ANY;
    values.iter().flatten().for_each(|s| kind.see(s));
    kind.column(name, values.iter().copied(), false)
}

/// What a column's values allow it to be typed as ([`typed_column`]'s rules), seen one value at a time,
/// so parts of a column can be seen apart and merged.
#[derive(Clone, Copy, Debug)]
struct Kind {
    present: bool,
    dates: bool,
    /// Every value a plain number (`-12.5`, `7`; no leading zeros, no exponent, no grouping).
    numbers: bool,
    /// ... and each whole, at most 18 characters: an Int64.
    ints: bool,
    /// The most digits before the point and after it, of any value: a Decimal at the largest scale
    /// when every value fits it in 28 digits (rust_decimal's precision, so no digit is lost).
    int_digits: u32,
    scale: u32,
}

/// The most digits after the point a decimal loan column may have.
const MAX_SCALE: u32 = 12;

impl Kind {
    /// Before any value: every type still possible.
    const ANY: Kind = Kind {
        present: false,
        dates: true,
        numbers: true,
        ints: true,
        int_digits: 0,
        scale: 0,
    };

    /// Takes a present value into account.
    fn see(&mut self, s: &str) {
        self.present = true;
        if self.dates {
            self.dates = date(s).is_some();
        }
        if !self.numbers {
            return;
        }
        match Shape::of(s) {
            None => self.numbers = false,
            Some(shape) => {
                self.ints &= shape.fraction.is_none() && s.len() <= 18;
                self.int_digits = self.int_digits.max(shape.int_digits);
                self.scale = self.scale.max(shape.fraction.unwrap_or(0));
            }
        }
    }

    fn merge(self, other: Kind) -> Kind {
        Kind {
            present: self.present || other.present,
            dates: self.dates && other.dates,
            numbers: self.numbers && other.numbers,
            ints: self.ints && other.ints,
            int_digits: self.int_digits.max(other.int_digits),
            scale: self.scale.max(other.scale),
        }
    }

    /// The column of `values`, every present one of which has been seen. `narrow`: a decimal column
    /// whose every value has at most [`NARROW`] digits is written at that precision (for the file).
    fn column<'a>(
        self,
        name: &str,
        values: impl Iterator<Item = Option<&'a str>>,
        narrow: bool,
    ) -> PolarsResult<Column> {
        if !self.present {
            return Ok(text(name, values));
        }
        if self.dates {
            return Ok(date_column(name, values.map(|v| v.and_then(date))));
        }
        if self.numbers && self.ints {
            let ints = values.map(|v| v.and_then(|s| s.parse::<i64>().ok()));
            return Ok(Int64Chunked::from_iter_options(name.into(), ints).into_column());
        }
        if self.numbers && self.scale <= MAX_SCALE && self.int_digits + self.scale <= 28 {
            let scale = self.scale;
            let units = values.map(|v| v.and_then(|s| Shape::of(s)?.units(s, scale)));
            let ca = Int128Chunked::from_iter_options(name.into(), units);
            let precision = match narrow && self.int_digits + scale <= NARROW as u32 {
                true => NARROW,
                false => WIDE,
            };
            return Ok(ca.into_decimal(precision, scale as usize)?.into_column());
        }
        Ok(text(name, values))
    }
}

fn date(s: &str) -> Option<crate::date::Date> {
    crate::date::Date::parse(s).filter(|_| s.len() == 10)
}

/// A plain number's digits: a sign, digits with no leading zero (`007` and ZIP codes are labels, not
/// numbers), and at most one point with digits after it.
struct Shape {
    int_digits: u32,
    /// Digits after the point (None: no point).
    fraction: Option<u32>,
}

impl Shape {
    fn of(s: &str) -> Option<Shape> {
        let digits = s.strip_prefix('-').unwrap_or(s).as_bytes();
        let point = digits.iter().position(|&b| b == b'.');
        let (int, fraction) = match point {
            Some(p) => (&digits[..p], Some(&digits[p + 1..])),
            None => (digits, None),
        };
        let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
        let plain = !int.is_empty()
            && (int.len() == 1 || int[0] != b'0')
            && all_digits(int)
            && fraction.is_none_or(|f| !f.is_empty() && all_digits(f));
        plain.then(|| Shape {
            int_digits: int.len() as u32,
            fraction: fraction.map(|f| f.len() as u32),
        })
    }

    /// `s` (of this shape) in units of 10^-scale, if it has at most `scale` digits after the point
    /// and 28 in all. Integer arithmetic: exact, and cheaper than a decimal parse and rescale.
    fn units(&self, s: &str, scale: u32) -> Option<i128> {
        let fraction = self.fraction.unwrap_or(0);
        if fraction > scale || self.int_digits + scale > 28 {
            return None;
        }
        let magnitude = s
            .bytes()
            .filter(u8::is_ascii_digit)
            .fold(0i128, |n, b| n * 10 + i128::from(b - b'0'));
        let units = magnitude * 10i128.pow(scale - fraction);
        Some(if s.starts_with('-') { -units } else { units })
    }
}

/// Builds the accounts frame and writes it as Parquet to `file`, a row group at a time, so memory holds
/// a few row groups' columns rather than the book's (1.3 GB at 1M accounts before). LZ4: on the 1M book it
/// writes in about 1.0 s against zstd's 1.7 s (files of 95 MB against 64 MB), and a nightly run is
/// judged on time.
pub fn write_accounts(book: &Book, file: File) -> PolarsResult<super::staging::Written> {
    let settled = Settled::of(book, true)?;
    let frames = Frames::all(book, &settled);
    let mut groups = row_groups(book.loans.len()).into_iter();
    // There is always a first group (an empty book's is empty): the writer takes its schema.
    let first = frames.frame(groups.next().unwrap_or(0..0))?;
    // polars writes each page header and footer field as a write of its own: buffer them, and write
    // the file straight to the disk as it grows, so the fsync that publishes it has little left.
    let mut direct = super::staging::DirectFile::new(file);
    let mut writer = ParquetWriter::new(&mut direct)
        .with_compression(ParquetCompression::Lz4Raw)
        .batched(first.schema())?;
    // polars compresses and writes a row group on the calling thread: one thread does that while the
    // pool builds the next row group.
    let (send, received) = std::sync::mpsc::sync_channel::<DataFrame>(1);
    let (built, wrote) = std::thread::scope(|scope| {
        let written = scope.spawn(move || -> PolarsResult<()> {
            for group in received {
                writer.write_batch(&group)?;
            }
            writer.finish()?;
            Ok(())
        });
        let mut built = Ok(());
        if send.send(first).is_ok() {
            for group in groups {
                match frames.frame(group) {
                    // A failed send means the writer stopped on an error, which `join` returns.
                    Ok(frame) => {
                        if send.send(frame).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        built = Err(e);
                        break;
                    }
                }
            }
        }
        drop(send);
        let wrote = written.join().unwrap_or_else(|_| {
            Err(polars_err!(ComputeError: "the accounts.parquet writer panicked"))
        });
        (built, wrote)
    });
    built.and(wrote)?;
    Ok(direct.into_file()?)
}

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
        let groups = row_groups(book.loans.len()).into_iter();
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
/// 1M), the writer overlaps the building of eight groups instead of three, and holds less: on the 1M
/// book the Parquet run was 10% faster with 150 MB less peak memory, for a file 0.14% larger.
fn row_groups(n: usize) -> Vec<std::ops::Range<usize>> {
    const ROW_GROUP: usize = 1 << 17;
    (0..n.div_ceil(ROW_GROUP).max(1))
        .map(|g| g * ROW_GROUP..((g + 1) * ROW_GROUP).min(n))
        .collect()
}

/// What every part of the accounts frame shares, settled over the whole book first: the pd column's
/// scale, the money columns' precision and the loan columns' types.
struct Settled {
    pd_scale: u32,
    /// Of the columns in cents, and of pd (at most 1, so narrow in a file up to 12 places).
    money_precision: usize,
    pd_precision: usize,
    /// Of the LTV and origination LTV columns (4 places).
    ltv_precision: usize,
    origination_ltv_precision: usize,
    /// Decimal loan columns narrow where their values allow (the file), or all wide (query's tables).
    narrow: bool,
    tail: Vec<Kind>,
}

impl Settled {
    /// `narrow`: money as [`NARROW`] decimals where every amount of the book fits (for the file);
    /// else every decimal is [`WIDE`] (query's tables).
    fn of(book: &Book, narrow: bool) -> PolarsResult<Settled> {
        // One pass over the loans as they lie in memory (none of this depends on the order) sees
        // every loan column's values, since a column's type depends on all of them, and the sizes of
        // the amounts the money and ratio columns are bounded by.
        let width = book.layout.tail_names.len();
        let loans = parts(0..book.loans.len())
            .map(|range| {
                let mut seen = LoansSeen::new(width);
                book.loans[range]
                    .iter()
                    .for_each(|loan| seen.see(loan, book));
                seen
            })
            .reduce(|| LoansSeen::new(width), LoansSeen::merge);
        let values = |values: &[Option<crate::book::matching::Valuation>]| {
            values
                .par_iter()
                .fold(Extent::default, |mut e, v| {
                    if let Some(v) = v {
                        e.see(v.value);
                    }
                    e
                })
                .reduce(Extent::default, Extent::merge)
        };
        let value = values(&book.valuations).merge(values(&book.estimates));
        // Every money column is bounded by the balance or the value: equity by either, negative
        // equity, deficiency and expected deficiency by the balance, net recovery by the value (the
        // recovery rate is at most 1). Both below $10^15 leave every one of them within 18 digits.
        // (Only looked at for the file: query's tables are wide whatever the amounts.)
        let money_fits = loans.balance.below(15) && value.below(15);
        // An LTV is at most the largest amount over the smallest value; below 10^13, 4 places and
        // the rounding of the last one fit 18 digits.
        let ltv_fits = quotients_below(loans.balance, value, 13);
        let origination_ltv_fits = quotients_below(loans.financed, loans.origination_value, 13);
        let precision = |fits: bool| if narrow && fits { NARROW } else { WIDE };
        let pd_scale = loans.pd_scale.unwrap_or(2);
        Ok(Settled {
            pd_scale,
            money_precision: precision(money_fits),
            pd_precision: precision(pd_scale <= 12),
            ltv_precision: precision(ltv_fits),
            origination_ltv_precision: precision(origination_ltv_fits),
            narrow,
            tail: loans.kinds,
        })
    }
}

/// What [`Settled::of`] gathers from a part of the loans.
struct LoansSeen {
    /// Of each loan column, in the layout's order.
    kinds: Vec<Kind>,
    balance: Extent,
    financed: Extent,
    origination_value: Extent,
    /// The largest scale of the accounts' pds: the pd column's one scale.
    pd_scale: Option<u32>,
}

impl LoansSeen {
    fn new(width: usize) -> LoansSeen {
        LoansSeen {
            kinds: vec![Kind::ANY; width],
            balance: Extent::default(),
            financed: Extent::default(),
            origination_value: Extent::default(),
            pd_scale: None,
        }
    }

    fn see(&mut self, loan: &Loan, book: &Book) {
        if let Some(fields) = loan.tail().strip_prefix(',') {
            // The fields as the gather pass will read them (which checks their count).
            let mut kinds = self.kinds.iter_mut();
            crate::csvfmt::for_each_field(fields, |field| {
                if let Some(kind) = kinds.next() {
                    if !field.is_empty() {
                        kind.see(crate::csvfmt::unneutralize(field));
                    }
                }
            });
        }
        self.balance.see(loan.balance);
        self.financed.see(loan.amount_financed);
        if let Some(v) = loan.origination_value() {
            self.origination_value.see(v);
        }
        let pd = book.model.pd_for(loan.days_past_due).scale();
        self.pd_scale = Some(self.pd_scale.map_or(pd, |s| s.max(pd)));
    }

    fn merge(self, other: LoansSeen) -> LoansSeen {
        LoansSeen {
            kinds: self
                .kinds
                .into_iter()
                .zip(other.kinds)
                .map(|(a, b)| a.merge(b))
                .collect(),
            balance: self.balance.merge(other.balance),
            financed: self.financed.merge(other.financed),
            origination_value: self.origination_value.merge(other.origination_value),
            pd_scale: self.pd_scale.max(other.pd_scale),
        }
    }
}

/// Powers of ten bounding some amounts, from their digits alone (comparing the decimals themselves
/// was a tenth of settling the columns): every amount seen is below 10^upper in size, and every
/// nonzero one at least 10^lower.
#[derive(Clone, Copy, Debug, Default)]
struct Extent {
    upper: Option<i32>,
    lower: Option<i32>,
}

impl Extent {
    fn see(&mut self, amount: Decimal) {
        let units = amount.mantissa().unsigned_abs();
        if units == 0 {
            return;
        }
        // units has `digits` digits: 10^(digits-1) <= units < 10^digits, in units of 10^-scale.
        let digits = units.ilog10() as i32 + 1;
        let (upper, lower) = (
            digits - amount.scale() as i32,
            digits - 1 - amount.scale() as i32,
        );
        self.upper = Some(self.upper.map_or(upper, |u| u.max(upper)));
        self.lower = Some(self.lower.map_or(lower, |l| l.min(lower)));
    }

    fn merge(self, other: Extent) -> Extent {
        let pick = |a: Option<i32>, b: Option<i32>, f: fn(i32, i32) -> i32| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        Extent {
            upper: pick(self.upper, other.upper, i32::max),
            lower: pick(self.lower, other.lower, i32::min),
        }
    }

    /// Whether every amount seen is below 10^e in size.
    fn below(self, e: i32) -> bool {
        self.upper.is_none_or(|u| u <= e)
    }
}

/// Whether every quotient of an amount of `numerators` by a nonzero one of `denominators` is below
/// 10^e in size.
fn quotients_below(numerators: Extent, denominators: Extent, e: i32) -> bool {
    match (numerators.upper, denominators.lower) {
        (Some(upper), Some(lower)) => upper - lower <= e,
        _ => true,
    }
}

/// Builds the accounts frame, or some of its columns, a range of the output order at a time.
struct Frames<'a> {
    book: &'a Book,
    settled: &'a Settled,
    /// The columns to build (None: all).
    wanted: Option<&'a [PlSmallStr]>,
}

/// Accounts per part: a part's figures and rows (360 bytes an account, 0.7 MB at 2,048 accounts) fit
/// in a core's L2 cache (1 MB here) while its twenty-odd columns read them one after another. With
/// 16,384 they came from L3 for every column, and the Parquet write stage of the 1M book took about
/// 0.1-0.15 s longer (4,096 and 1,024 were within the noise of 2,048). (Built over the whole book at
/// once, every column walked 400 MB of figures; before that, at 1M accounts the frame took 20 s when
/// each column walked the book in random order.)
const PART: usize = 1 << 11;

fn parts(
    range: std::ops::Range<usize>,
) -> impl IndexedParallelIterator<Item = std::ops::Range<usize>> {
    let (start, end) = (range.start, range.end);
    (0..range.len().div_ceil(PART))
        .into_par_iter()
        .map(move |p| start + p * PART..(start + (p + 1) * PART).min(end))
}

impl<'a> Frames<'a> {
    fn all(book: &'a Book, settled: &'a Settled) -> Frames<'a> {
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
    fn frame(&self, range: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
        let rows = range.len();
        let width = self.book.layout.tail_names.len();
        let parts: Vec<Vec<Column>> = parts(range.clone())
            .map_init(
                || Scratch::new(width),
                |scratch, part| self.columns(part, scratch),
            )
            .collect::<PolarsResult<_>>()?;
        let columns = if parts.is_empty() {
            self.columns(range.start..range.start, &mut Scratch::new(width))?
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
        scratch: &mut Scratch<'a>,
    ) -> PolarsResult<Vec<Column>> {
        let (book, settled) = (self.book, self.settled);
        let wants = |name: &str| self.wants(name);
        let computed = computed_names().any(|name| wants(name));
        let names = &book.layout.tail_names;
        let tail = names.iter().any(|name| wants(name));
        scratch.gather(book, &book.order[range], computed, tail)?;
        let mut columns = match computed {
            true => computed_columns(book, settled, &wants, scratch)?,
            false => Vec::new(),
        };
        if tail {
            for (c, (name, kind)) in names.iter().zip(&settled.tail).enumerate() {
                if wants(name) {
                    columns.push(kind.column(name, scratch.tail.values(c), settled.narrow)?);
                }
            }
        }
        Ok(columns)
    }
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
            .map_or(book.loans.len(), |n| n.min(book.loans.len()));
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

/// The names of the computed columns, in the frame's order (the previous run's two last).
fn computed_names() -> impl Iterator<Item = &'static &'static str> + Clone {
    crate::input::schema::ACCOUNT_COLUMNS
        .iter()
        .chain(&crate::input::schema::PREVIOUS_COLUMNS)
}

/// The computed columns (figures, valuation, outlook, segments) of the accounts `scratch` has gathered.
fn computed_columns<'a>(
    book: &'a Book,
    settled: &Settled,
    wants: &dyn Fn(&str) -> bool,
    scratch: &Scratch<'a>,
) -> PolarsResult<Vec<Column>> {
    let names = computed_names();
    let (figures, rows) = (&scratch.figures, &scratch.rows);
    let n = rows.len();
    let ks = || 0..n;
    let f = |k: usize| &figures[k];
    let v = |k: usize| figures[k].valued.as_ref();
    let val = |k: usize| rows[k].valuation;
    let labels = &book.bands.labels;
    let cents = |name: &str, values: &mut dyn Iterator<Item = Option<Decimal>>| {
        money_at(name, values, 2, settled.money_precision)
    };
    type Build<'a> = Box<dyn Fn() -> PolarsResult<Column> + Sync + 'a>;
    let mut builders: Vec<Build<'_>> = vec![
        Box::new(|| Ok(text("account_id", rows.iter().map(|r| Some(r.id))))),
        Box::new(|| Ok(text("vin", rows.iter().map(|r| Some(r.vin))))),
        Box::new(|| cents("balance", &mut ks().map(|k| Some(f(k).balance)))),
        Box::new(|| cents("value", &mut ks().map(|k| v(k).map(|v| v.value)))),
        Box::new(|| {
            Ok(date_column(
                "value_date",
                ks().map(|k| val(k).map(|v| v.date)),
            ))
        }),
        Box::new(|| {
            let age = ks().map(|k| match (v(k), val(k)) {
                (Some(fig), Some(m)) if !fig.estimated => {
                    Some(m.date.days_until(book.as_of).max(0) as u32)
                }
                _ => None,
            });
            Ok(UInt32Chunked::from_iter_options("value_age_days".into(), age).into_column())
        }),
        Box::new(|| {
            let source = ks().map(|k| {
                Some(match val(k) {
                    Some(v) if v.source.is_empty() => crate::output::accounts_csv::UNNAMED_SOURCE,
                    Some(v) => &*v.source,
                    None => crate::output::accounts_csv::NO_SOURCE,
                })
            });
            Ok(text("value_source", source))
        }),
        Box::new(|| cents("equity", &mut ks().map(|k| v(k).map(|v| v.equity)))),
        Box::new(|| {
            cents(
                "negative_equity",
                &mut ks().map(|k| v(k).map(|v| v.negative_equity)),
            )
        }),
        Box::new(|| {
            let ltv = ks().map(|k| v(k).map(|v| v.ltv));
            money_at("ltv", ltv, 4, settled.ltv_precision)
        }),
        Box::new(|| {
            Ok(text(
                "ltv_bucket",
                ks().map(|k| Some(labels[f(k).bucket].as_str())),
            ))
        }),
        Box::new(|| {
            let ltv = ks().map(|k| f(k).origination_ltv);
            money_at("origination_ltv", ltv, 4, settled.origination_ltv_precision)
        }),
        Box::new(|| {
            Ok(text(
                "origination_ltv_bucket",
                ks().map(|k| Some(labels[f(k).origination_bucket].as_str())),
            ))
        }),
        Box::new(|| cents("net_recovery", &mut ks().map(|k| Some(f(k).net_recovery)))),
        Box::new(|| {
            cents(
                "deficiency_if_default",
                &mut ks().map(|k| Some(f(k).deficiency_if_default)),
            )
        }),
        Box::new(|| {
            let dpd = rows.iter().map(|r| Some(r.days_past_due));
            Ok(UInt32Chunked::from_iter_options("days_past_due".into(), dpd).into_column())
        }),
        Box::new(|| {
            money_at(
                "pd",
                ks().map(|k| Some(f(k).pd)),
                settled.pd_scale,
                settled.pd_precision,
            )
        }),
        Box::new(|| {
            cents(
                "expected_deficiency",
                &mut ks().map(|k| Some(f(k).expected_deficiency)),
            )
        }),
        Box::new(|| {
            let months = rows.iter().map(|r| r.outlook.months_to_positive_equity);
            Ok(
                UInt32Chunked::from_iter_options("months_to_positive_equity".into(), months)
                    .into_column(),
            )
        }),
        Box::new(|| {
            let year = rows.iter().map(|r| Some(r.vintage));
            Ok(Int32Chunked::from_iter_options("vintage".into(), year).into_column())
        }),
        Box::new(|| {
            Ok(text(
                "credit_tier",
                rows.iter().map(|r| Some(r.credit_tier)),
            ))
        }),
        Box::new(|| Ok(text("term_band", rows.iter().map(|r| Some(r.term_band))))),
    ];
    if book.previous.is_some() {
        builders.push(Box::new(|| {
            let band = rows
                .iter()
                .map(|r| r.outlook.previous.flatten().map(|p| p.0));
            Ok(text("previous_ltv_bucket", band))
        }));
        builders.push(Box::new(|| {
            let days = rows
                .iter()
                .map(|r| r.outlook.previous.flatten().map(|p| p.1));
            Ok(
                UInt32Chunked::from_iter_options("previous_days_past_due".into(), days)
                    .into_column(),
            )
        }));
    }
    // The builders are in the order of the names (a test checks the frame's column names).
    builders
        .iter()
        .zip(names)
        .filter(|(_, name)| wants(name))
        .map(|(build, _)| build())
        .collect()
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

/// The loan's own columns of the accounts at some output positions, read back from their CSV-encoded
/// form (a comma before each field) into one buffer of the same form, quotes removed: row r's field c
/// lies after the comma at `marks[r * (width + 1) + c]`, up to the next mark.
struct TailPart {
    text: String,
    marks: Vec<u32>,
    width: usize,
}

impl TailPart {
    fn new(width: usize) -> TailPart {
        TailPart {
            text: String::new(),
            marks: Vec::new(),
            width,
        }
    }

    /// Empties the part (see [`Scratch`] for why a part is refilled rather than made anew).
    fn clear(&mut self) {
        self.text.clear();
        self.marks.clear();
    }

    /// Adds one loan's columns after those the part holds.
    fn push(&mut self, loan: &Loan) -> PolarsResult<()> {
        let width = self.width;
        let part = self;
        let (tail, row) = (loan.tail(), part.marks.len());
        let at = part.text.len() as u32;
        // Most rows have no quote: the encoded form is the decoded one; mark its commas. (A byte
        // loop: `memchr_iter` costs a call per comma, and fields are a few bytes.) A field that starts
        // with `'` was neutralized against formulas: it takes the slow path, which removes the mark.
        let mut quoted = false;
        let mut previous = 0u8;
        for (p, &b) in tail.as_bytes().iter().enumerate() {
            quoted |= b == b'"' || (b == b'\'' && previous == b',');
            if b == b',' {
                part.marks.push(at + p as u32);
            }
            previous = b;
        }
        if !quoted {
            part.text.push_str(tail);
        } else if let Some(fields) = tail.strip_prefix(',') {
            part.marks.truncate(row);
            crate::csvfmt::for_each_field(fields, |field| {
                part.marks.push(part.text.len() as u32);
                part.text.push(',');
                part.text.push_str(crate::csvfmt::unneutralize(field));
            });
        }
        if part.marks.len() - row != width || (width > 0 && !tail.starts_with(',')) {
            return Err(polars_err!(ComputeError:
                "account {} has {} of its {width} loan columns in their encoded form",
                loan.account_id(), part.marks.len() - row));
        }
        part.marks.push(part.text.len() as u32);
        Ok(())
    }

    /// Column c's values, empty text as missing.
    fn values(&self, c: usize) -> impl Iterator<Item = Option<&str>> + '_ {
        self.marks.chunks_exact(self.width + 1).map(move |row| {
            let field = &self.text[row[c] as usize + 1..row[c + 1] as usize];
            Some(field).filter(|f| !f.is_empty())
        })
    }
}

/// A part's buffers, refilled for each part a thread builds: fresh buffers of a few MB each cost page
/// faults that took more time than filling them.
struct Scratch<'a> {
    tail: TailPart,
    figures: Vec<crate::book::metrics::Figures>,
    rows: Vec<Row<'a>>,
}

impl<'a> Scratch<'a> {
    fn new(width: usize) -> Self {
        Scratch {
            tail: TailPart::new(width),
            figures: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Gathers what the columns need of the accounts `order` lists, in one pass in that order: what the
    /// computed columns need (`computed`) and the loan's own columns (`tail`). In output order each
    /// account is a few random reads; one pass makes them once, and reads the loan's text while its
    /// id and VIN have just brought it into the cache (a second pass for the loan's columns stalled
    /// on the loans again: a third of the Parquet write stage).
    fn gather(
        &mut self,
        book: &'a Book,
        order: &[u32],
        computed: bool,
        tail: bool,
    ) -> PolarsResult<()> {
        self.figures.clear();
        self.rows.clear();
        self.tail.clear();
        for (k, &i) in order.iter().enumerate() {
            book.prefetch_ahead(order, k);
            let i = i as usize;
            let loan = &book.loans[i];
            if computed {
                self.figures.push(book.figures(i));
                self.rows.push(Row {
                    id: loan.account_id(),
                    vin: loan.vin(),
                    days_past_due: loan.days_past_due,
                    vintage: loan.origination_date.year(),
                    credit_tier: credit_tier(loan.credit_score).1,
                    term_band: term_band(loan.term_months).1,
                    outlook: book.outlook(i),
                    valuation: book.valuation(i),
                });
            }
            if tail {
                self.tail.push(loan)?;
            }
        }
        Ok(())
    }
}

/// What the columns need of one account, gathered in output order.
struct Row<'a> {
    id: &'a str,
    vin: &'a str,
    days_past_due: u32,
    vintage: i32,
    credit_tier: &'static str,
    term_band: &'static str,
    outlook: crate::book::Outlook<'a>,
    valuation: Option<&'a crate::book::matching::Valuation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_bound_amounts_by_their_digits() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let of = |amounts: &[&str]| {
            let mut e = Extent::default();
            amounts.iter().for_each(|a| e.see(d(a)));
            e
        };
        // The largest amount below $10^15, and 10^15 itself (also written with more places).
        assert!(of(&["999999999999999.99", "-5"]).below(15));
        assert!(!of(&["1000000000000000"]).below(15));
        assert!(!of(&["1000000000000000.000"]).below(15));
        assert!(!of(&["-1000000000000000"]).below(15));
        // Trailing zeros at a larger scale do not count: 5.000 is below 10.
        assert_eq!(of(&["5.000"]).upper, Some(1));
        // Zero is no size; nothing seen bounds nothing.
        assert_eq!((of(&["0", "0.00"]).upper, of(&["0"]).lower), (None, None));
        assert!(Extent::default().below(-100));
        // 0.01 is at least 10^-2; 150 at least 10^2 and below 10^3.
        let values = of(&["150", "0.01"]);
        assert_eq!((values.upper, values.lower), (Some(3), Some(-2)));
        // $999,999,999,999 over 1 cent is about 10^14, past 10^13; over $150 it is not.
        let balance = of(&["999999999999"]);
        assert!(!quotients_below(balance, values, 13));
        assert!(quotients_below(balance, of(&["150"]), 13));
        assert!(quotients_below(balance, Extent::default(), 13));
        // Parts merged see what the whole does.
        let merged = of(&["150"]).merge(of(&["0.01"])).merge(Extent::default());
        assert_eq!((merged.upper, merged.lower), (values.upper, values.lower));
    }

    #[test]
    fn a_narrow_money_column_refuses_a_value_it_cannot_hold() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        // 16 digits before the point and 2 after fill 18; one more does not fit, and is an error
        // rather than the low 64 bits polars would keep.
        let fits = money_at("m", [Some(d("9999999999999999.99"))].into_iter(), 2, NARROW);
        assert_eq!(fits.unwrap().dtype(), &DataType::Decimal(NARROW, 2));
        let beyond = money_at(
            "m",
            [Some(d("10000000000000000.00"))].into_iter(),
            2,
            NARROW,
        );
        assert!(beyond.is_err());
        let negative = money_at(
            "m",
            [Some(d("-10000000000000000.00"))].into_iter(),
            2,
            NARROW,
        );
        assert!(negative.is_err());
        let wide = money_at("m", [Some(d("10000000000000000.00"))].into_iter(), 2, WIDE);
        assert_eq!(wide.unwrap().dtype(), &DataType::Decimal(WIDE, 2));
    }
}
