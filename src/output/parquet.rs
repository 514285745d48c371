//! accounts.parquet: the per-account file with typed columns, money as exact decimals (`Decimal(18, 2)` in
//! the file when the book's amounts fit it, `Decimal(38, 2)` otherwise and in queries); the same columns
//! are the `accounts` table of `underwater query` on raw inputs ([`AccountsScan`]).
//!
//! polars builds the frame and writes it; money goes in as the i128 mantissa at a fixed scale, so no
//! figure passes through a binary float on the way.

use crate::book::Book;
use crate::input::load::Loan;
use polars::prelude::*;
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::fs::File;

pub use crate::output::columns::{
    date_column, money, text, typed_column, MONEY_COLUMNS, RATIO_COLUMNS, WIDE,
};
use crate::output::columns::{money_at, Kind, NARROW};
use crate::output::loan_columns::Scratch;

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
