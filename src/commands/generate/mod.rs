//! `underwater generate`: deterministic, realistic synthetic books for tests, samples and benchmarks.
//!
//! The same arguments give byte-identical files, whatever the thread count: loan `i` draws from its own
//! random stream seeded by (seed, i). Floats are used only to *draw* inputs; every amount is written
//! rounded to cents, and underwater reads it back as an exact decimal.
//!
//! The rules, grounded in `shared/domain.md`:
//! - **Vehicle**: 45% new. Price lognormal with a long right tail (new median ~$41k, used ~$25k).
//!   Model year: the origination year for new cars, 1–8 years older for used.
//! - **Term**: 36–84 months, skewed long for new cars (72–84 months for two thirds of them).
//! - **Credit score**: ~N(705, 75) clipped to 300–850, 2% missing; APR by tier (super prime ~5%,
//!   deep subprime ~19%), lower for new cars.
//! - **Amount financed**: price × origination LTV, LTV ~N(1.06, 0.16) clipped to 0.55–1.6 (published
//!   medians 1.10–1.11); 15% of loans roll in old negative equity ($1k–$14k, mean ~$6k).
//! - **Balance at as_of**: the amortization schedule after the months elapsed; 12% prepay ahead of
//!   schedule, 2% are paid off (zero balance), delinquent loans are behind by their missed payments.
//! - **Delinquency**: 88% current, 6% 1–29 days, 3% 30–59, 1.5% 60–89, 1.5% 90+.
//! - **Depreciation**: new cars keep 80% after year one, then lose 13%/yr; used cars lose ~11%/yr;
//!   ±8% vehicle noise. Valuations: K per vehicle over the last 18 months from kbb, nada, black_book and
//!   auction; 10% of vehicles get two valuations on one date (a tie), 3% one dated after as_of, 4% none;
//!   5% more rows are for VINs not in the book.
//! - With `--dirty`: a BOM, CRLF line ends, quoted commas, `"$19,000.00"` amounts, and one bad row in
//!   every ~500 (wrong field count, unparsable amount, impossible date, empty VIN, negative balance,
//!   duplicate account id), each listed in `dirty_manifest.csv` with its file, line and expected outcome.

use crate::date::Date;
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

mod loan;
pub mod outcomes;
pub mod parts;

use loan::{cents_of, generate_loan, money, vin, Generated, Later, Rng};

/// Arguments of `underwater generate`.
#[derive(Clone, Debug)]
pub struct GenerateArgs {
    pub loans: u64,
    pub seed: u64,
    pub out: PathBuf,
    pub as_of: Date,
    pub valuations_per_loan: u32,
    pub dirty: bool,
    /// Write the same book this many months after `as_of` (see [`Later`]).
    pub months_later: u32,
    /// Also write outcomes.csv: this many months of loan-month records after `as_of`
    /// ([`outcomes`]); 0: none.
    pub outcome_months: u32,
    /// Also lay the book out in this many Parquet parts by VIN hash ([`parts`]); 0: none.
    pub parts: u32,
}

const LOAN_HEADER: &str = "account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due,apr,monthly_payment,credit_score,origination_value,vehicle_year,make,model,new_used,state,dealer_id";
const BLOCK: u64 = 1 << 14;

/// One injected bad row: where it is and what underwater must do with it.
struct Injected {
    file: &'static str,
    line: u64,
    kind: &'static str,
    expected: &'static str,
}

fn push_row(out: &mut String, fields: &[String], eol: &str) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::csvfmt::push_field(out, f);
    }
    out.push_str(eol);
}

/// A block of loans: its loans, valuations and outcomes text, its row counts, and its injected rows
/// (at lines counted within the block).
struct Block {
    loans: String,
    valuations: String,
    outcomes: String,
    loan_lines: u64,
    valuation_lines: u64,
    injected: Vec<Injected>,
}

fn generate_block(args: &GenerateArgs, start: u64, end: u64) -> Block {
    let eol = if args.dirty { "\r\n" } else { "\n" };
    let mut b = Block {
        loans: String::with_capacity(((end - start) * 170) as usize),
        valuations: String::with_capacity(
            ((end - start) * 40 * u64::from(args.valuations_per_loan)) as usize,
        ),
        outcomes: String::new(),
        loan_lines: 0,
        valuation_lines: 0,
        injected: Vec::new(),
    };
    let mut stray = Rng::new(args.seed ^ 0x5eed, start);
    // The sales' values follow the default config's curves (outcomes.rs).
    let projection = (args.outcome_months > 0).then(|| {
        let curves = crate::book::estimate::Estimate::defaults(false);
        crate::book::runoff::Projection::new(0, &curves, args.as_of)
    });
    for i in start..end {
        let later = Later {
            months: args.months_later,
            first_new: args.loans,
        };
        let Some(g) = generate_loan(
            args.seed,
            i,
            args.as_of,
            args.valuations_per_loan,
            args.dirty,
            later,
        ) else {
            continue;
        };
        push_row(&mut b.loans, &g.loan_row, eol);
        b.loan_lines += 1;
        if let Some(projection) = &projection {
            push_outcomes(&mut b.outcomes, (&g, projection), args, i);
        }
        for (date, v, src) in &g.valuations {
            let _ = write!(
                b.valuations,
                "{},{},{},{}{eol}",
                g.vin,
                date,
                money(*v),
                src
            );
            b.valuation_lines += 1;
        }
        if stray.chance(0.05 * f64::from(args.valuations_per_loan) / 3.0) {
            let _ = write!(
                b.valuations,
                "{},{},{},auction{eol}",
                vin(&mut stray),
                Date::from_days_since_epoch(
                    args.as_of.days_since_epoch() - stray.below(365) as i32
                ),
                money(5_000.0 + 20_000.0 * stray.unit())
            );
            b.valuation_lines += 1;
        }
        if args.dirty && i % 499 == 17 {
            inject_bad_loan(&mut b, &g, i, eol);
        }
        if args.dirty && i % 499 == 251 {
            inject_bad_valuation(&mut b, &g, i, eol);
        }
    }
    b
}

/// A `--dirty` book's bad loan row after loan `i`: a copy of its row with one of seven faults.
fn inject_bad_loan(b: &mut Block, g: &Generated, i: u64, eol: &str) {
    let mut bad = g.loan_row.clone();
    bad[0] = format!("BAD{i:09}");
    let (kind, expected) = match (i / 499) % 7 {
        0 => {
            bad.pop();
            ("wrong field count", "reject")
        }
        1 => {
            bad[5] = "12.3.4".into();
            ("unparsable amount", "reject")
        }
        2 => {
            bad[2] = "2024-13-45".into();
            ("impossible date", "reject")
        }
        3 => {
            bad[1] = String::new();
            ("empty required field", "reject")
        }
        4 => {
            bad[5] = "-100.00".into();
            ("negative balance", "reject")
        }
        5 => {
            bad[5] = "$19,000.00".into();
            ("US-formatted amount", "accept")
        }
        _ => {
            // A second row with this loan's own id: both rows must be rejected.
            bad[0] = g.loan_row[0].clone();
            b.injected.push(Injected {
                file: "loans.csv",
                line: b.loan_lines,
                kind: "duplicate account_id (original)",
                expected: "reject",
            });
            ("duplicate account_id", "reject")
        }
    };
    push_row(&mut b.loans, &bad, eol);
    b.loan_lines += 1;
    b.injected.push(Injected {
        file: "loans.csv",
        line: b.loan_lines,
        kind,
        expected,
    });
}

/// A `--dirty` book's bad valuation row for loan `i`'s vehicle.
fn inject_bad_valuation(b: &mut Block, g: &Generated, i: u64, eol: &str) {
    let (row, kind) = match (i / 499) % 3 {
        0 => (format!("{},2024-01-01,abc,kbb", g.vin), "unparsable value"),
        1 => (
            format!("{},2024-02-30,1000.00,kbb", g.vin),
            "impossible date",
        ),
        _ => (format!("{},2024-01-01,0,kbb", g.vin), "zero value"),
    };
    b.valuations.push_str(&row);
    b.valuations.push_str(eol);
    b.valuation_lines += 1;
    b.injected.push(Injected {
        file: "valuations.csv",
        line: b.valuation_lines,
        kind,
        expected: "reject",
    });
}

/// The valuation `run` matches among a vehicle's: the latest on or before as_of, the lowest value
/// on a tie, then the lowest source name (values as written, in cents).
fn matched_value(
    valuations: &[(Date, f64, &'static str)],
    as_of: Date,
) -> Option<rust_decimal::Decimal> {
    valuations
        .iter()
        .filter(|(d, _, _)| *d <= as_of)
        .map(|&(d, v, s)| (d, cents_of(v), s))
        .min_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(b.2)))
        .map(|(_, v, _)| v)
}

/// Appends the outcome records of generated loan `i` (its own random stream).
fn push_outcomes(
    out: &mut String,
    (g, projection): (&Generated, &crate::book::runoff::Projection),
    args: &GenerateArgs,
    i: u64,
) {
    use outcomes::{push_records, LoanFacts};
    let amount = |t: &str| crate::money::parse_amount(t).unwrap_or_default();
    let row = &g.loan_row;
    let facts = LoanFacts {
        account: &row[0],
        balance: amount(&row[5]),
        days_past_due: row[6].parse().unwrap_or(0),
        apr: amount(&row[7]),
        payment: amount(&row[8]),
        value: matched_value(&g.valuations, args.as_of),
        new_used: crate::input::load::NewUsed::parse(&row[14]),
        age: crate::date::Date::parse(&row[2]).map_or(0, |o| o.months_until(args.as_of)),
    };
    let mut rng = Rng::new(args.seed ^ 0x0c7c_0e5d, i);
    push_records(out, &facts, projection, args.outcome_months, &mut || {
        rng.unit()
    });
}

/// Writes loans.csv, valuations.csv (and dirty_manifest.csv with --dirty, outcomes.csv with
/// `outcome_months`) into `args.out`.
pub fn generate(args: &GenerateArgs, progress: crate::progress::Progress) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    // A later month adds 2% of the book a month in new loans, after the book's own indices.
    let total = args.loans + args.loans * u64::from(args.months_later) * 2 / 100;
    let stage = progress.bytes("generate", total);
    let bar = stage.bar();
    let mut files = Files::create(args)?;
    let (mut loan_line, mut val_line) = (1u64, 1u64);
    let mut injected = Vec::new();
    let starts: Vec<u64> = (0..total).step_by(BLOCK as usize).collect();
    for group in starts.chunks(16) {
        let blocks: Vec<Block> = group
            .par_iter()
            .map(|&s| generate_block(args, s, (s + BLOCK).min(total)))
            .collect();
        for (b, &s) in blocks.into_iter().zip(group) {
            files.loans.write_all(b.loans.as_bytes())?;
            files.valuations.write_all(b.valuations.as_bytes())?;
            if let Some(f) = files.outcomes.as_mut() {
                f.write_all(b.outcomes.as_bytes())?;
            }
            injected.extend(b.injected.into_iter().map(|x| Injected {
                line: x.line
                    + if x.file == "loans.csv" {
                        loan_line
                    } else {
                        val_line
                    },
                ..x
            }));
            loan_line += b.loan_lines;
            val_line += b.valuation_lines;
            bar.set_position((s + BLOCK).min(total));
        }
    }
    files.flush()?;
    if args.dirty {
        write_manifest(args, &mut injected)?;
    }
    if args.parts > 0 {
        for name in ["loans", "valuations"] {
            let dir = args.out.join("parts").join(name);
            parts::split(&args.out.join(format!("{name}.csv")), &dir, args.parts)?;
        }
    }
    stage.finish(&format!(
        "{} loans ({} lines), {} valuation rows in {}",
        loan_line - 1,
        loan_line - 1,
        val_line - 1,
        args.out.display()
    ));
    Ok(())
}

type Writer = std::io::BufWriter<std::fs::File>;

fn create(args: &GenerateArgs, name: &str) -> Result<Writer> {
    let path = args.out.join(name);
    let f = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(std::io::BufWriter::with_capacity(1 << 20, f))
}

/// The generated files, each opened with its header written.
struct Files {
    loans: Writer,
    valuations: Writer,
    outcomes: Option<Writer>,
}

impl Files {
    fn create(args: &GenerateArgs) -> Result<Self> {
        let eol = if args.dirty { "\r\n" } else { "\n" };
        let mut loans = create(args, "loans.csv")?;
        let mut valuations = create(args, "valuations.csv")?;
        let outcomes = match args.outcome_months {
            0 => None,
            _ => {
                let mut f = create(args, "outcomes.csv")?;
                writeln!(f, "{}", outcomes::OUTCOMES_HEADER)?;
                Some(f)
            }
        };
        if args.dirty {
            loans.write_all(b"\xEF\xBB\xBF")?;
        }
        write!(loans, "{LOAN_HEADER}{eol}")?;
        write!(valuations, "vin,valuation_date,value,source{eol}")?;
        Ok(Files {
            loans,
            valuations,
            outcomes,
        })
    }

    fn flush(self) -> Result<()> {
        let Files {
            mut loans,
            mut valuations,
            outcomes,
        } = self;
        loans.flush()?;
        valuations.flush()?;
        if let Some(mut f) = outcomes {
            f.flush()?;
        }
        Ok(())
    }
}

/// dirty_manifest.csv: every injected bad row, by file and line, and what underwater must do with it.
fn write_manifest(args: &GenerateArgs, injected: &mut [Injected]) -> Result<()> {
    let mut m = create(args, "dirty_manifest.csv")?;
    writeln!(m, "file,line,kind,expected")?;
    injected.sort_by(|a, b| (a.file, a.line).cmp(&(b.file, b.line)));
    for x in injected.iter() {
        writeln!(m, "{},{},{},{}", x.file, x.line, x.kind, x.expected)?;
    }
    m.flush()?;
    Ok(())
}

/// `underwater generate`'s flags.
#[derive(clap::Args, Debug)]
pub struct GenerateCmd {
    /// Number of loans
    #[arg(long, value_name = "N")]
    pub loans: u64,
    /// Random seed: the same arguments always give byte-identical files
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory for loans.csv and valuations.csv
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Book date the balances and valuations are generated for
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2025-06-30")]
    pub as_of: String,
    /// Valuations per vehicle (before ties, future-dated and unvalued vehicles)
    #[arg(long, default_value_t = 3)]
    pub valuations_per_loan: u32,
    /// Inject the bad rows real exports carry, listed in dirty_manifest.csv
    #[arg(long)]
    pub dirty: bool,
    /// Write the same book N months after --as-of: balances amortized, some loans repaid, new ones
    /// added, delinquency rolled, fresh valuations (compare the two with `run --previous`)
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=120))]
    pub months_later: u32,
    /// Also write outcomes.csv: N months of loan-month records after --as-of for `backtest
    /// --outcomes`, defaults and sales drawn from documented rules (see `underwater backtest`)
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "months_later", value_parser = clap::value_parser!(u32).range(0..=120))]
    pub outcome_months: u32,
    /// Also lay the book out as N Parquet parts partitioned by VIN hash, in parts/loans/ and
    /// parts/valuations/ (part i of both holds the same VINs): the layout `underwater.spark.run_parts`
    /// runs without a shuffle
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub parts: u32,
    #[command(flatten)]
    pub workers: super::args::Workers,
}

/// `underwater generate`: the flags checked, the book written.
pub fn command(cmd: GenerateCmd) -> Result<(), crate::error::Error> {
    if cmd.loans > 1_000_000_000 || cmd.valuations_per_loan > 1000 {
        return Err(crate::error::ConfigError::OutOfRange {
            flag: "--loans / --valuations-per-loan",
            value: format!("{} / {}", cmd.loans, cmd.valuations_per_loan),
            range: "at most 1,000,000,000 loans and 1,000 valuations per loan",
        }
        .into());
    }
    let as_of = crate::date::Date::parse(&cmd.as_of)
        .ok_or_else(|| crate::error::ConfigError::BadAsOf(cmd.as_of.clone()))?;
    let args = GenerateArgs {
        loans: cmd.loans,
        seed: cmd.seed,
        out: cmd.out,
        as_of,
        valuations_per_loan: cmd.valuations_per_loan,
        dirty: cmd.dirty,
        months_later: cmd.months_later,
        outcome_months: cmd.outcome_months,
        parts: cmd.parts,
    };
    let threads = cmd
        .workers
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    super::thread_pool(threads)?
        .install(|| generate(&args, crate::progress::Progress::new(cmd.workers.quiet)))
        .map_err(|e| crate::error::OutputError(e).into())
}
