//! One generated loan: its attributes drawn from its own random streams by the rules in
//! [`super`]'s documentation, written as the text of a loans.csv row, and its vehicle's valuations.

use crate::date::Date;

/// SplitMix64: tiny, fast and good enough for synthetic data; seeded per loan for determinism.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64, stream: u64) -> Rng {
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
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(super) fn chance(&mut self, p: f64) -> bool {
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
pub(super) struct Generated {
    pub(super) loan_row: Vec<String>,
    pub(super) valuations: Vec<(Date, f64, &'static str)>,
    pub(super) vin: String,
}

pub(super) fn vin(rng: &mut Rng) -> String {
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

pub(super) fn money(x: f64) -> String {
    format!("{:.2}", (x * 100.0).round() / 100.0)
}

/// An amount as [`money`] writes it, as the exact decimal underwater reads back.
pub(super) fn cents_of(x: f64) -> rust_decimal::Decimal {
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
pub(super) struct Later {
    pub(super) months: u32,
    /// Loans with an index from here are new since `as_of`.
    pub(super) first_new: u64,
}

pub(super) fn generate_loan(
    seed: u64,
    i: u64,
    as_of: Date,
    k: u32,
    dirty: bool,
    later: Later,
) -> Option<Generated> {
    // Every draw below comes from the loan's streams in a fixed order: reordering them changes every
    // generated book.
    let mut rng = Rng::new(seed, i);
    let mut lrng = Rng::new(seed ^ 0x1a7e_4d0e, i);
    let young = i >= later.first_new;
    let now = as_of.plus_months(later.months as i32);
    let o = Origination::draw(&mut rng, as_of, now, young, later);
    let dpd = draw_days_past_due(&mut rng, &mut lrng, later, young);
    let paid = (o.elapsed - (dpd / 30) as i32).max(0) as f64;
    let balance = draw_balance(&mut rng, &o, paid);
    let repaid = !young && lrng.chance(1.0 - 0.985f64.powi(later.months as i32));
    if later.months > 0 && (balance < 0.005 || repaid || paid >= f64::from(o.term)) {
        return None;
    }
    let (make, models) = MAKES[rng.below(MAKES.len() as u64) as usize];
    let model = models[rng.below(models.len() as u64) as usize];
    let year = o.date.year() - if o.new { 0 } else { 1 + rng.below(8) as i32 };
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
        o.date.to_string(),
        money_text(o.financed, &mut rng),
        o.term.to_string(),
        money_text(balance, &mut rng),
        dpd.to_string(),
        // Percent, as lenders export it (7.71, not 0.0771).
        format!("{:.2}", o.apr * 100.0),
        money(o.payment),
        if o.has_score {
            o.score.to_string()
        } else {
            String::new()
        },
        money(o.price),
        year.to_string(),
        make.to_string(),
        model.to_string(),
        if o.new { "new" } else { "used" }.to_string(),
        state.to_string(),
        format!("D{:04}", rng.below(400)),
    ];
    let valuations = draw_valuations(&mut rng, &o, now, vehicle_noise, k);
    Some(Generated {
        loan_row,
        valuations,
        vin: the_vin,
    })
}

/// A generated loan as it was made: the first draws of its stream.
struct Origination {
    new: bool,
    term: u32,
    date: Date,
    /// Months of payments since origination at the book's date.
    elapsed: i32,
    score: u32,
    has_score: bool,
    apr: f64,
    price: f64,
    financed: f64,
    payment: f64,
}

impl Origination {
    fn draw(rng: &mut Rng, as_of: Date, now: Date, young: bool, later: Later) -> Self {
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
        let month = match young {
            false => as_of.plus_months(-age_months - 1),
            true => now.plus_months(-age_months - 1),
        };
        let elapsed = age_months + if young { 0 } else { later.months as i32 };
        let date = Date::from_days_since_epoch(month.days_since_epoch() + rng.below(28) as i32);
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
        Origination {
            new,
            term,
            date,
            elapsed,
            score,
            has_score,
            apr,
            price,
            financed,
            payment,
        }
    }
}

/// Days past due at the book's date (`rng`), rolled forward over a later month's (`lrng`).
fn draw_days_past_due(rng: &mut Rng, lrng: &mut Rng, later: Later, young: bool) -> u32 {
    let dpd: u32 = match rng.unit() {
        x if x < 0.88 => 0,
        x if x < 0.94 => 1 + rng.below(29) as u32,
        x if x < 0.97 => 30 + rng.below(30) as u32,
        x if x < 0.985 => 60 + rng.below(30) as u32,
        _ => 90 + rng.below(90) as u32,
    };
    match (later.months, young, dpd) {
        (0, _, d) | (_, true, d) => d,
        (_, false, 0) if lrng.chance(0.04) => 1 + lrng.below(29) as u32,
        (_, false, 0) => 0,
        (m, false, d) => match lrng.unit() {
            x if x < 0.35 => 0,
            x if x < 0.70 => d,
            _ => d + 30 * m,
        },
    }
}

/// The balance after `paid` scheduled payments, some paid ahead and a few paid off.
fn draw_balance(rng: &mut Rng, o: &Origination, paid: f64) -> f64 {
    let r = o.apr / 12.0;
    let mut balance = if r > 0.0 {
        o.financed * (1.0 + r).powf(paid) - o.payment * ((1.0 + r).powf(paid) - 1.0) / r
    } else {
        o.financed - o.payment * paid
    };
    if rng.chance(0.12) {
        balance *= 0.8 + 0.15 * rng.unit();
    }
    if rng.chance(0.02) {
        balance = 0.0;
    }
    balance.max(0.0)
}

/// The vehicle's valuations: none for 4% of cars, else `k` around the date, sometimes a second source
/// on the same day and a valuation dated after it.
fn draw_valuations(
    rng: &mut Rng,
    o: &Origination,
    now: Date,
    vehicle_noise: f64,
    k: u32,
) -> Vec<(Date, f64, &'static str)> {
    let mut valuations = Vec::new();
    if rng.chance(0.04) {
        return valuations;
    }
    let age_years = |d: Date| f64::from(o.date.days_until(d).max(0)) / 365.25;
    for _ in 0..k {
        let date = Date::from_days_since_epoch(now.days_since_epoch() - rng.below(540) as i32);
        let date = if date < o.date { o.date } else { date };
        let v = o.price
            * retained(o.new, age_years(date))
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
        let date = Date::from_days_since_epoch(now.days_since_epoch() + 1 + rng.below(60) as i32);
        valuations.push((date, o.price * retained(o.new, 3.0), "kbb"));
    }
    valuations
}
