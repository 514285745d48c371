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
    /// ([`super::generate_outcomes`]); 0: none.
    pub outcome_months: u32,
}

/// SplitMix64: tiny, fast and good enough for synthetic data; seeded per loan for determinism.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    fn pick<'a, T>(&mut self, weighted: &'a [(T, f64)]) -> &'a T {
        let total: f64 = weighted.iter().map(|(_, w)| w).sum();
        let mut x = self.unit() * total;
        for (v, w) in weighted {
            if x < *w {
                return v;
            }
            x -= w;
        }
        &weighted[weighted.len() - 1].0
    }
}

const VIN_CHARS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
const MAKES: [(&str, &[&str]); 8] = [
    ("Toyota", &["Camry", "Corolla", "RAV4", "Tacoma"]),
    ("Ford", &["F-150", "Escape", "Explorer"]),
    ("Chevrolet", &["Silverado", "Equinox", "Malibu"]),
    ("Honda", &["Civic", "Accord", "CR-V"]),
    ("Nissan", &["Altima", "Rogue", "Sentra"]),
    ("Hyundai", &["Elantra", "Tucson", "Santa Fe"]),
    ("Jeep", &["Wrangler", "Grand Cherokee"]),
    ("Mercedes-Benz, Inc", &["C300", "GLE"]),
];
const STATES: [(&str, f64); 12] = [
    ("CA", 12.0),
    ("TX", 10.0),
    ("FL", 8.0),
    ("NY", 6.0),
    ("PA", 4.0),
    ("IL", 4.0),
    ("OH", 4.0),
    ("GA", 3.5),
    ("NC", 3.5),
    ("MI", 3.0),
    ("AZ", 2.5),
    ("WA", 2.5),
];
const SOURCES: [&str; 4] = ["kbb", "nada", "black_book", "auction"];

/// One generated loan and its vehicle's valuations.
struct Generated {
    loan_row: Vec<String>,
    valuations: Vec<(Date, f64, &'static str)>,
    vin: String,
}

fn vin(rng: &mut Rng) -> String {
    (0..17)
        .map(|_| VIN_CHARS[rng.below(VIN_CHARS.len() as u64) as usize] as char)
        .collect()
}

/// Share of the origination value a vehicle keeps after `years`.
fn retained(new: bool, years: f64) -> f64 {
    if new {
        if years <= 1.0 {
            1.0 - 0.20 * years
        } else {
            0.80 * 0.87f64.powf(years - 1.0)
        }
    } else {
        0.89f64.powf(years)
    }
}

fn money(x: f64) -> String {
    format!("{:.2}", (x * 100.0).round() / 100.0)
}

/// An amount as [`money`] writes it, as the exact decimal underwater reads back.
fn cents_of(x: f64) -> rust_decimal::Decimal {
    money(x).parse().unwrap_or_default()
}

fn us_money(x: f64) -> String {
    format!("${}", crate::money::group_thousands(&money(x)))
}

/// A later month of the same book (`--months-later N`): loan `i` keeps every attribute it has at
/// `as_of` (its draws come from the same stream), and a second stream decides what N months did to it:
/// ~1.5% a month repay in full and leave the file, as do loans paid to zero; delinquency rolls (a
/// current loan falls behind with 4%; a late one cures with 35%, stays with 35%, rolls a class further
/// each month with 30%); the balance is amortized N more months; valuations are dated around the new
/// date. New loans (2% of the book a month, originated in those months) take the indices after the book's.
#[derive(Clone, Copy, Debug)]
struct Later {
    months: u32,
    /// Loans with an index from here are new since `as_of`.
    first_new: u64,
}

fn generate_loan(
    seed: u64,
    i: u64,
    as_of: Date,
    k: u32,
    dirty: bool,
    later: Later,
) -> Option<Generated> {
    let mut rng = Rng::new(seed, i);
    let young = i >= later.first_new;
    let now = as_of.plus_months(later.months as i32);
    let mut lrng = Rng::new(seed ^ 0x1a7e_4d0e, i);
    let new = rng.chance(0.45);
    let term: u32 = *rng.pick(if new {
        &[(36, 5.0), (48, 7.0), (60, 21.0), (72, 40.0), (84, 27.0)]
    } else {
        &[(36, 12.0), (48, 15.0), (60, 35.0), (72, 30.0), (84, 8.0)]
    });
    let age_months = match young {
        false => rng.below(u64::from(term.min(66))) as i32,
        true => rng.below(u64::from(later.months.max(1))) as i32,
    };
    let orig = match young {
        false => as_of.plus_months(-age_months - 1),
        true => now.plus_months(-age_months - 1),
    };
    // Months of payments since origination at the book's date.
    let elapsed = age_months + if young { 0 } else { later.months as i32 };
    let orig = Date::from_days_since_epoch(orig.days_since_epoch() + rng.below(28) as i32);
    let score = (705.0 + 75.0 * rng.normal()).clamp(300.0, 850.0) as u32;
    let has_score = !rng.chance(0.02);
    let base_apr: f64 = match score {
        0..=579 => 0.19,
        580..=619 => 0.145,
        620..=659 => 0.10,
        660..=719 => 0.07,
        _ => 0.052,
    };
    let apr = (base_apr - if new { 0.01 } else { 0.0 } + 0.01 * rng.normal()).max(0.0);
    let price = if new { 41_000.0 } else { 25_000.0 } * (0.33 * rng.normal()).exp();
    let price = price.clamp(6_000.0, 180_000.0);
    let mut ltv = (1.06 + 0.16 * rng.normal()).clamp(0.55, 1.6);
    if rng.chance(0.15) {
        ltv += (1_000.0 + 13_000.0 * rng.unit().powf(1.4)) / price;
    }
    let financed = price * ltv;
    let r = apr / 12.0;
    let n = f64::from(term);
    let payment = if r > 0.0 {
        financed * r / (1.0 - (1.0 + r).powf(-n))
    } else {
        financed / n
    };
    let dpd: u32 = match rng.unit() {
        x if x < 0.88 => 0,
        x if x < 0.94 => 1 + rng.below(29) as u32,
        x if x < 0.97 => 30 + rng.below(30) as u32,
        x if x < 0.985 => 60 + rng.below(30) as u32,
        _ => 90 + rng.below(90) as u32,
    };
    let dpd = match (later.months, young, dpd) {
        (0, _, d) | (_, true, d) => d,
        (_, false, 0) if lrng.chance(0.04) => 1 + lrng.below(29) as u32,
        (_, false, 0) => 0,
        (m, false, d) => match lrng.unit() {
            x if x < 0.35 => 0,
            x if x < 0.70 => d,
            _ => d + 30 * m,
        },
    };
    let paid = (elapsed - (dpd / 30) as i32).max(0) as f64;
    let mut balance = if r > 0.0 {
        financed * (1.0 + r).powf(paid) - payment * ((1.0 + r).powf(paid) - 1.0) / r
    } else {
        financed - payment * paid
    };
    if rng.chance(0.12) {
        balance *= 0.8 + 0.15 * rng.unit();
    }
    if rng.chance(0.02) {
        balance = 0.0;
    }
    let balance = balance.max(0.0);
    let repaid = !young && lrng.chance(1.0 - 0.985f64.powi(later.months as i32));
    if later.months > 0 && (balance < 0.005 || repaid || paid >= n) {
        return None;
    }
    let (make, models) = MAKES[rng.below(MAKES.len() as u64) as usize];
    let model = models[rng.below(models.len() as u64) as usize];
    let year = orig.year() - if new { 0 } else { 1 + rng.below(8) as i32 };
    let state = rng.pick(&STATES);
    // The VIN from a stream of its own: drawn from the middle of the loan's stream it repeated other
    // loans' (the per-loan streams are shifted copies of each other), and ~5% of a book shared a VIN.
    let the_vin = vin(&mut Rng::new(seed ^ 0x5649_4e5f_5649_4e5f, i));
    let account = format!(
        "AC{:010}",
        (i.wrapping_mul(2_654_435_761) ^ seed) % 10_000_000_000
    );
    let vehicle_noise = 1.0 + 0.08 * rng.normal();
    let money_text = |x: f64, rng: &mut Rng| {
        if dirty && rng.chance(0.2) {
            us_money(x)
        } else {
            money(x)
        }
    };
    let loan_row = vec![
        account,
        the_vin.clone(),
        orig.to_string(),
        money_text(financed, &mut rng),
        term.to_string(),
        money_text(balance, &mut rng),
        dpd.to_string(),
        // Percent, as lenders export it (7.71, not 0.0771).
        format!("{:.2}", apr * 100.0),
        money(payment),
        if has_score {
            score.to_string()
        } else {
            String::new()
        },
        money(price),
        year.to_string(),
        make.to_string(),
        model.to_string(),
        if new { "new" } else { "used" }.to_string(),
        state.to_string(),
        format!("D{:04}", rng.below(400)),
    ];
    let mut valuations = Vec::new();
    if !rng.chance(0.04) {
        let age_years = |d: Date| f64::from(orig.days_until(d).max(0)) / 365.25;
        for _ in 0..k {
            let date = Date::from_days_since_epoch(now.days_since_epoch() - rng.below(540) as i32);
            let date = if date < orig { orig } else { date };
            let v = price
                * retained(new, age_years(date))
                * vehicle_noise
                * (1.0 + 0.03 * rng.normal());
            valuations.push((
                date,
                v.max(500.0),
                SOURCES[rng.below(SOURCES.len() as u64) as usize],
            ));
        }
        if rng.chance(0.10) {
            if let Some(&(date, v, src)) = valuations.first() {
                let other = SOURCES
                    .iter()
                    .find(|s| **s != src)
                    .copied()
                    .unwrap_or("kbb");
                valuations.push((date, v * (1.0 + 0.04 * rng.normal()), other));
            }
        }
        if rng.chance(0.03) {
            let date =
                Date::from_days_since_epoch(now.days_since_epoch() + 1 + rng.below(60) as i32);
            valuations.push((date, price * retained(new, 3.0), "kbb"));
        }
    }
    Some(Generated {
        loan_row,
        valuations,
        vin: the_vin,
    })
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

/// A block of loans: (loans text, valuations text, loan rows, valuation rows, injections at local lines).
struct Block {
    loans: String,
    valuations: String,
    outcomes: String,
    loan_lines: u64,
    valuation_lines: u64,
    injected: Vec<(bool, u64, &'static str, &'static str)>,
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
        if args.outcome_months > 0 {
            push_outcomes(&mut b.outcomes, &g, args, i);
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
                    b.injected.push((
                        true,
                        b.loan_lines,
                        "duplicate account_id (original)",
                        "reject",
                    ));
                    ("duplicate account_id", "reject")
                }
            };
            push_row(&mut b.loans, &bad, eol);
            b.loan_lines += 1;
            b.injected.push((true, b.loan_lines, kind, expected));
        }
        if args.dirty && i % 499 == 251 {
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
            b.injected.push((false, b.valuation_lines, kind, "reject"));
        }
    }
    b
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
fn push_outcomes(out: &mut String, g: &Generated, args: &GenerateArgs, i: u64) {
    use super::generate_outcomes::{push_records, LoanFacts};
    let amount = |t: &str| crate::money::parse_amount(t).unwrap_or_default();
    let row = &g.loan_row;
    let facts = LoanFacts {
        account: &row[0],
        balance: amount(&row[5]),
        days_past_due: row[6].parse().unwrap_or(0),
        apr: amount(&row[7]),
        payment: amount(&row[8]),
        value: matched_value(&g.valuations, args.as_of),
    };
    let mut rng = Rng::new(args.seed ^ 0x0c7c_0e5d, i);
    push_records(out, &facts, args.as_of, args.outcome_months, &mut || {
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
    let eol = if args.dirty { "\r\n" } else { "\n" };
    let create = |name: &str| -> Result<std::io::BufWriter<std::fs::File>> {
        let path = args.out.join(name);
        let f = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(std::io::BufWriter::with_capacity(1 << 20, f))
    };
    let mut loans = create("loans.csv")?;
    let mut vals = create("valuations.csv")?;
    let mut outcomes = match args.outcome_months {
        0 => None,
        _ => {
            let mut f = create("outcomes.csv")?;
            writeln!(f, "{}", super::generate_outcomes::OUTCOMES_HEADER)?;
            Some(f)
        }
    };
    if args.dirty {
        loans.write_all(b"\xEF\xBB\xBF")?;
    }
    write!(loans, "{LOAN_HEADER}{eol}")?;
    write!(vals, "vin,valuation_date,value,source{eol}")?;
    let (mut loan_line, mut val_line) = (1u64, 1u64);
    let mut injected = Vec::new();
    let starts: Vec<u64> = (0..total).step_by(BLOCK as usize).collect();
    for group in starts.chunks(16) {
        let blocks: Vec<Block> = group
            .par_iter()
            .map(|&s| generate_block(args, s, (s + BLOCK).min(total)))
            .collect();
        for (b, &s) in blocks.iter().zip(group) {
            loans.write_all(b.loans.as_bytes())?;
            vals.write_all(b.valuations.as_bytes())?;
            if let Some(f) = outcomes.as_mut() {
                f.write_all(b.outcomes.as_bytes())?;
            }
            for &(is_loan, local, kind, expected) in &b.injected {
                let (file, base) = if is_loan {
                    ("loans.csv", loan_line)
                } else {
                    ("valuations.csv", val_line)
                };
                injected.push(Injected {
                    file,
                    line: base + local,
                    kind,
                    expected,
                });
            }
            loan_line += b.loan_lines;
            val_line += b.valuation_lines;
            bar.set_position((s + BLOCK).min(total));
        }
    }
    loans.flush()?;
    vals.flush()?;
    if let Some(mut f) = outcomes {
        f.flush()?;
    }
    if args.dirty {
        let mut m = create("dirty_manifest.csv")?;
        writeln!(m, "file,line,kind,expected")?;
        injected.sort_by(|a, b| (a.file, a.line).cmp(&(b.file, b.line)));
        for x in &injected {
            writeln!(m, "{},{},{},{}", x.file, x.line, x.kind, x.expected)?;
        }
        m.flush()?;
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
