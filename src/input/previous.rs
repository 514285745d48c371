//! A finished earlier run, read for `run --previous DIR`: per account, what the night-over-night
//! comparison needs from its accounts.csv or accounts.parquet, checked against the totals of its
//! summary.json (which the one reader of a finished run, `output::finished_run`, reads and hands over
//! as a [`PreviousHead`]).
//!
//! Only a run that published its book can be compared with: a failed run, one whose accounts lack a
//! needed column (an older version), or one whose accounts do not add up to its own summary.json (an
//! edited file) is refused with the difference named, so no comparison is built on a wrong base.

use crate::date::Date;
use crate::error::InputError;
use crate::input::reader::ChunkReader;
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The accounts columns the comparison reads.
pub const NEEDED: [&str; 7] = [
    "account_id",
    "balance",
    "value",
    "negative_equity",
    "expected_deficiency",
    "ltv_bucket",
    "days_past_due",
];

/// One account of the previous run; money in cents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousAccount {
    pub id: Box<str>,
    pub balance: i64,
    pub value: Option<i64>,
    pub negative_equity: i64,
    pub expected_deficiency: i64,
    /// Index into [`PreviousRun::band_labels`].
    pub band: u16,
    pub days_past_due: u32,
}

/// The previous run, as the comparison needs it.
#[derive(Clone, Debug)]
pub struct PreviousRun {
    pub dir: PathBuf,
    pub as_of: Date,
    /// The run's LTV band edges (percent), to compare with tonight's.
    pub ltv_bands: Vec<Decimal>,
    /// The band labels its accounts carry, in the order first seen.
    pub band_labels: Vec<String>,
    /// Sorted by account id (byte order), as the run wrote them.
    pub accounts: Vec<PreviousAccount>,
}

/// What the previous run's summary.json says, as the one reader of a finished run
/// (`output::finished_run`) hands it over: the run opened, its status checked (it published its book)
/// and its accounts file checked to be the one it wrote.
#[derive(Clone, Debug)]
pub struct PreviousHead {
    pub dir: PathBuf,
    pub as_of: Date,
    /// The run's LTV band edges (percent).
    pub ltv_bands: Vec<Decimal>,
    /// Its accounts file, digest checked.
    pub accounts_file: PathBuf,
    /// Its book's totals, which its accounts must add up to.
    pub totals: PreviousTotals,
}

/// The previous book's totals, from its summary.json; money in cents.
#[derive(Clone, Debug)]
pub struct PreviousTotals {
    pub accounts: u64,
    pub closed_accounts: u64,
    pub underwater_accounts: u64,
    pub balance: i128,
    pub value: i128,
    pub negative_equity: i128,
    pub expected_deficiency: i128,
}

fn refuse(dir: &Path, problem: impl Into<String>) -> InputError {
    InputError::Previous {
        dir: dir.to_path_buf(),
        problem: problem.into(),
    }
}

/// Cents of a money cell as underwater writes it (`-12.34`, `0.00`); None for an empty cell.
fn parse_cents(text: &str) -> Result<Option<i64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if let Some(c) = plain_cents(text) {
        return Ok(Some(c));
    }
    let d: Decimal = text
        .parse()
        .map_err(|_| format!("`{text}` is not an amount"))?;
    let mut d = d;
    d.rescale(2);
    i64::try_from(d.mantissa())
        .map(Some)
        .map_err(|_| format!("`{text}` is too large"))
}

/// `-?digits.dd`, the way underwater writes money, as cents: four of these per account, where a
/// decimal parse was most of reading the previous accounts. Anything else: None (the decimal parse
/// reads it).
fn plain_cents(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.as_bytes()),
        None => (false, text.as_bytes()),
    };
    let dot = digits.len().checked_sub(3)?;
    // At most 15 integer digits: the cents fit an i64.
    if dot == 0 || digits.len() > 18 || digits[dot] != b'.' {
        return None;
    }
    let mut cents: i64 = 0;
    for (i, &c) in digits.iter().enumerate() {
        if i != dot {
            if !c.is_ascii_digit() {
                return None;
            }
            cents = cents * 10 + i64::from(c - b'0');
        }
    }
    Some(if negative { -cents } else { cents })
}

/// Reads the previous run's accounts, as its `head` (from its summary.json) points to them.
pub fn read(head: PreviousHead) -> Result<PreviousRun, InputError> {
    let PreviousHead {
        dir,
        as_of,
        ltv_bands,
        accounts_file: path,
        totals,
    } = head;
    let dir = dir.as_path();
    let (band_labels, mut accounts) = match path.ends_with("accounts.parquet") {
        true => read_parquet(dir, &path)?,
        false => read_csv(dir, &path)?,
    };
    // Written by the run sorted by id; sort anyway, so a reordered file still joins.
    if !accounts.windows(2).all(|w| w[0].id < w[1].id) {
        accounts.par_sort_unstable_by(|a, b| a.id.cmp(&b.id));
        if let Some(w) = accounts.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(refuse(dir, format!("account `{}` appears twice", w[0].id)));
        }
    }
    totals.check(dir, &accounts)?;
    Ok(PreviousRun {
        dir: dir.to_path_buf(),
        as_of,
        ltv_bands,
        band_labels,
        accounts,
    })
}

impl PreviousTotals {
    /// Whether the accounts are the book this summary describes: every total the accounts file
    /// carries, since an edit that keeps some of them (50,000 added to both the balance and the value
    /// of an account keeps its negative equity) still changes another.
    fn check(&self, dir: &Path, accounts: &[PreviousAccount]) -> Result<(), InputError> {
        let total =
            |f: fn(&PreviousAccount) -> i64| accounts.iter().map(|a| i128::from(f(a))).sum();
        let count =
            |f: fn(&PreviousAccount) -> bool| accounts.iter().filter(|a| f(a)).count() as i128;
        let checks = [
            (
                "accounts",
                accounts.len() as i128,
                Some(self.accounts as i128),
            ),
            (
                "closed_accounts",
                count(|a| a.balance == 0),
                Some(self.closed_accounts as i128),
            ),
            (
                "underwater_accounts",
                count(|a| a.negative_equity > 0),
                Some(self.underwater_accounts as i128),
            ),
            ("balance", total(|a| a.balance), Some(self.balance)),
            ("value", total(|a| a.value.unwrap_or(0)), Some(self.value)),
            (
                "negative_equity",
                total(|a| a.negative_equity),
                Some(self.negative_equity),
            ),
            (
                "expected_deficiency",
                total(|a| a.expected_deficiency),
                Some(self.expected_deficiency),
            ),
        ];
        for (what, sum, want) in checks {
            if Some(sum) != want {
                return Err(refuse(
                    dir,
                    format!(
                        "its accounts do not add up to its summary.json ({what}: {sum} against \
                         {want:?}); was a file edited or replaced? Fix: compare with an untouched \
                         run directory"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Interns band labels as they are read.
#[derive(Default)]
struct Labels(Vec<String>);

/// The most band labels a run has: 100 `ltv_bands` edges make 101 bands, and `no_value`.
const MAX_LABELS: usize = 102;

impl Labels {
    /// The label's number; an error at the first label past [`MAX_LABELS`], so a file of edited
    /// labels is refused at once rather than searched row by row.
    fn index(&mut self, label: &str) -> Result<u16, String> {
        match self.0.iter().position(|l| l == label) {
            Some(i) => Ok(i as u16),
            None if self.0.len() >= MAX_LABELS => Err(format!(
                "ltv_bucket `{}` is one more band label than a run can have ({MAX_LABELS})",
                crate::csvfmt::shortened(label, 64)
            )),
            None => {
                self.0.push(label.to_string());
                Ok((self.0.len() - 1) as u16)
            }
        }
    }
}

fn missing_columns(dir: &Path, found: &[String]) -> Result<(), InputError> {
    let missing: Vec<&str> = NEEDED
        .iter()
        .copied()
        .filter(|c| !found.iter().any(|f| f == c))
        .collect();
    match missing.is_empty() {
        true => Ok(()),
        false => Err(refuse(
            dir,
            format!(
                "its accounts lack the columns {} (written by an older version?). Fix: rerun that night \
                 with this version, or compare with a newer run",
                missing.join(", ")
            ),
        )),
    }
}

/// One account from its text cells, in [`NEEDED`] order.
fn account(cells: [&str; 7], labels: &mut Labels) -> Result<PreviousAccount, String> {
    let [id, balance, value, ne, ed, band, dpd] = cells;
    let need = |t: &str, what: &str| -> Result<i64, String> {
        parse_cents(t)?.ok_or_else(|| format!("empty {what}"))
    };
    Ok(PreviousAccount {
        id: id.into(),
        balance: need(balance, "balance")?,
        value: parse_cents(value)?,
        negative_equity: parse_cents(ne)?.unwrap_or(0),
        expected_deficiency: need(ed, "expected_deficiency")?,
        band: labels.index(band)?,
        days_past_due: dpd
            .parse()
            .map_err(|_| format!("days_past_due `{dpd}` is not a whole number"))?,
    })
}

/// The band labels (in the order first seen) and the accounts, in file order.
type Accounts = (Vec<String>, Vec<PreviousAccount>);

fn read_csv(dir: &Path, path: &Path) -> Result<Accounts, InputError> {
    let (reader, header) =
        ChunkReader::open(path, crate::input::reader::CHUNK_BYTES, Box::new(|_| {}))?;
    let reader = reader.without_hash();
    missing_columns(dir, &header.names)?;
    let cols = NEEDED.map(|c| header.find(c).expect("checked by missing_columns"));
    let labels = Mutex::new(Labels::default());
    let rows = Mutex::new(Vec::new());
    reader
        .par_bridge()
        .try_for_each(|chunk| -> Result<(), InputError> {
            let chunk = chunk?;
            let mut mine = Vec::new();
            let mut bad = None;
            let mut local = Labels::default();
            chunk.for_each_row(|row| {
                if bad.is_some() {
                    return;
                }
                let cell = |c: usize| {
                    row.get(c)
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .unwrap_or("")
                };
                let mut cells = cols.map(cell);
                // The id as it went in: accounts.csv neutralized it against formulas.
                cells[0] = crate::csvfmt::unneutralize(cells[0]);
                match account(cells, &mut local) {
                    Ok(a) => mine.push((row.line, a)),
                    Err(e) => bad = Some(format!("{} line {}: {e}", path.display(), row.line)),
                }
            });
            if let Some(problem) = bad {
                return Err(refuse(dir, problem));
            }
            // This chunk's label numbers, renumbered into the run's.
            let global: Vec<u16> = {
                let mut labels = labels.lock().unwrap_or_else(|e| e.into_inner());
                local
                    .0
                    .iter()
                    .map(|l| labels.index(l))
                    .collect::<Result<_, _>>()
                    .map_err(|e| refuse(dir, format!("{}: {e}", path.display())))?
            };
            for (_, a) in &mut mine {
                a.band = global[a.band as usize];
            }
            rows.lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&mut mine);
            Ok(())
        })?;
    let mut rows = rows.into_inner().unwrap_or_else(|e| e.into_inner());
    rows.par_sort_unstable_by_key(|(line, _)| *line);
    Ok((
        labels.into_inner().unwrap_or_else(|e| e.into_inner()).0,
        rows.into_iter().map(|(_, a)| a).collect(),
    ))
}

fn read_parquet(dir: &Path, path: &Path) -> Result<Accounts, InputError> {
    use polars::prelude::*;
    let polars_problem = |e: PolarsError| refuse(dir, format!("{}: {e}", path.display()));
    let file =
        std::fs::File::open(path).map_err(|e| refuse(dir, format!("{}: {e}", path.display())))?;
    let schema_names: Vec<String> = ParquetReader::new(file)
        .schema()
        .map_err(polars_problem)?
        .iter_names()
        .map(|n| n.to_string())
        .collect();
    missing_columns(dir, &schema_names)?;
    let file =
        std::fs::File::open(path).map_err(|e| refuse(dir, format!("{}: {e}", path.display())))?;
    let df = ParquetReader::new(file)
        .with_columns(Some(NEEDED.iter().map(|c| c.to_string()).collect()))
        .finish()
        .map_err(polars_problem)?;
    // Every needed column as text, read by the same rules as accounts.csv.
    let text: Vec<StringChunked> = NEEDED
        .iter()
        .map(|c| {
            let col = df.column(c)?.cast(&DataType::String)?;
            Ok(col.str()?.clone())
        })
        .collect::<PolarsResult<_>>()
        .map_err(polars_problem)?;
    let mut labels = Labels::default();
    let iters: Vec<Vec<Option<&str>>> = text.iter().map(|c| c.iter().collect()).collect();
    let accounts = (0..df.height())
        .map(|r| {
            let cells: [&str; 7] = std::array::from_fn(|c| iters[c][r].unwrap_or(""));
            account(cells, &mut labels)
                .map_err(|e| refuse(dir, format!("{} row {}: {e}", path.display(), r + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((labels.0, accounts))
}

#[cfg(test)]
mod tests {
    use super::{parse_cents, plain_cents};

    /// The fast reading of a money cell gives the decimal parse's cents, and leaves to it whatever is
    /// not `-?digits.dd`.
    #[test]
    fn plain_cents_agree_with_the_decimal_parse() {
        let decimal = |t: &str| {
            let mut d: rust_decimal::Decimal = t.parse().unwrap();
            d.rescale(2);
            i64::try_from(d.mantissa()).unwrap()
        };
        for t in [
            "0.00",
            "-12.34",
            "19000.00",
            "007.50",
            "1.05",
            "999999999999999.99",
        ] {
            assert_eq!(plain_cents(t), Some(decimal(t)), "{t}");
            assert_eq!(parse_cents(t), Ok(Some(decimal(t))), "{t}");
        }
        for t in [
            ".50",
            "-.50",
            "1.5",
            "12.345",
            "1e5",
            "1,000.00",
            "--1.00",
            "1.0a",
            "-",
            "1234567890123456.00",
        ] {
            assert_eq!(plain_cents(t), None, "{t}");
        }
        assert_eq!(parse_cents("1.5"), Ok(Some(150)));
        assert!(parse_cents("1,000.00").is_err());
    }
}
