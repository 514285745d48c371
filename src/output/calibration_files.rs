//! calibrate's files, as pure serializers: calibrated.toml (a config `run --config` takes, every
//! fitted figure with its sample size and interval as a comment) and calibration.json (the same
//! figures, before and after).

use crate::book::calibrate::lifetime::{HazardFit, LifetimeFit};
use crate::book::calibrate::{Calibration, PdFit, ValueAt};
use crate::book::model::Model;
use serde::Serialize;

fn interval(f: &PdFit) -> String {
    f.jeffreys
        .map(|j| format!(", Jeffreys 95% [{}, {}]", j.low, j.high))
        .unwrap_or_default()
}

/// calibrated.toml: the run's model with the fitted pd, recovery rate and repossession cost.
pub fn calibrated_toml(c: &Calibration, model: &Model, about: &str) -> String {
    let mut out = format!(
        "# Calibrated by `underwater calibrate` ({about}), horizon {} months.\n\
         # Use it with `underwater run --config calibrated.toml` (or backtest with it to compare).\n\n",
        c.horizon
    );
    let edges: Vec<String> = model.ltv_bands.iter().map(|e| e.to_string()).collect();
    out.push_str(&format!("ltv_bands = [{}]\n\n", edges.join(", ")));
    out.push_str(
        "# pd by days past due: each class's realized default rate over the horizon, non-decreasing in \
         days past due\n# (adjacent falling classes pooled). [first day, pd]; per class: accounts, defaults, \
         rate, interval.\n",
    );
    for f in &c.pd {
        let why = match &f.kept_because {
            Some(why) => format!("kept {}: {why}", f.current),
            None => format!("was {}", f.current),
        };
        let rate = f.rate.map(|r| r.to_string()).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "#   from day {}: {} accounts, {} defaults, rate {rate}{}; {why}\n",
            f.from_day,
            f.accounts,
            f.defaults,
            interval(f)
        ));
    }
    let pairs: Vec<String> =
        c.pd.iter()
            .map(|f| format!("[{}, {}]", f.from_day, f.fitted.normalize()))
            .collect();
    out.push_str(&format!("pd_by_days_past_due = [{}]\n\n", pairs.join(", ")));
    out.push_str(&recovery_toml(&c.recovery));
    let segments: Vec<String> = model
        .segments
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    out.push_str(&format!("segments = [{}]\n", segments.join(", ")));
    if let Some(fit) = &c.lifetime {
        out.push_str(&lifetime_toml(fit));
    }
    out
}

/// The recovery line's keys, with the fit in comments.
fn recovery_toml(r: &crate::book::calibrate::RecoveryFit) -> String {
    let mut out = String::new();
    let value = match r.value_at {
        ValueAt::AsOf => "the value at as_of",
        ValueAt::DefaultMonth => {
            "the value in the default month (the value at as_of along the depreciation curve, as the \
             lifetime loss reads it)"
        }
    };
    out.push_str(&format!(
        "# Recovery: least squares of recoveries on {value} over {} defaulted accounts with a value.\n",
        r.accounts
    ));
    if r.too_recent > 0 {
        out.push_str(&format!(
            "#   left out: {} defaulted accounts with a value whose default is within {} months of the \
             data's end (their recoveries are not all in it yet; --recovery-months)\n",
            r.too_recent, r.window
        ));
    }
    match (&r.kept_because, r.line) {
        (Some(why), _) => out.push_str(&format!("#   kept: {why}\n")),
        (None, Some((slope, intercept))) => {
            let sign = if intercept.is_sign_negative() {
                "-"
            } else {
                "+"
            };
            out.push_str(&format!(
                "#   line: recoveries = {slope} x value {sign} {}; was {} and {}\n",
                intercept.abs(),
                r.current_rate,
                r.current_cost
            ));
            if r.through_origin {
                out.push_str(
                    "#   its intercept is positive (recoveries beyond the sale), a negative cost: fitted \
                     again through the origin, cost 0\n",
                );
            }
            let spread = r.residual_spread.map_or("-".into(), |s| s.to_string());
            out.push_str(&format!(
                "#   residual spread of the line used: {spread} dollars\n"
            ));
        }
        (None, None) => {}
    }
    out.push_str(&format!(
        "recovery_rate = {}\nrepossession_cost = {}\n\n",
        r.rate.normalize(),
        r.cost
    ));
    out
}

/// One hazard's comment line: its cell, rate and interval, and how it was fitted.
fn hazard_comment(label: &str, f: &HazardFit) -> String {
    let c = &f.cell;
    let rate = f.rate.map_or("-".into(), |r| r.normalize().to_string());
    let interval = f
        .jeffreys
        .map(|j| format!(", Jeffreys 95% [{}, {}]", j.low, j.high))
        .unwrap_or_default();
    let how = match &f.note {
        Some(note) => note.clone(),
        None => format!("was {}", f.current),
    };
    format!(
        "#   {label}: {} accounts, {} account-months, {} defaults, hazard {rate}{interval}; {how}\n",
        c.accounts, c.months, c.defaults
    )
}

fn hazard_list(fits: &[HazardFit]) -> String {
    let list: Vec<String> = fits
        .iter()
        .map(|f| f.fitted.normalize().to_string())
        .collect();
    format!("[{}]", list.join(", "))
}

/// `hazard_factor_by_ltv_band` with a comment per band (nothing when the model has no factors).
fn factors_toml(fit: &LifetimeFit) -> String {
    let mut out = String::new();
    if fit.ltv_factors.is_empty() {
        if !fit.model.hazard_factor_by_ltv_band.is_empty() {
            out.push_str("# LTV factors: too few bands with data to fit; kept\n");
        }
    } else {
        out.push_str(
            "# Hazard factor per LTV band at as_of (Poisson fit with the age hazards; mean 1 over the \
             account-months):\n",
        );
        for f in &fit.ltv_factors {
            let how = match &f.note {
                Some(note) => format!("; {note}"),
                None => String::new(),
            };
            out.push_str(&format!(
                "#   {}: {} accounts, {} account-months, {} defaults, factor {}{how}; was {}\n",
                f.band,
                f.accounts,
                f.months,
                f.defaults,
                f.fitted.normalize(),
                f.current
            ));
        }
    }
    let list: Vec<String> = fit
        .model
        .hazard_factor_by_ltv_band
        .iter()
        .map(|f| f.normalize().to_string())
        .collect();
    if !list.is_empty() {
        out.push_str(&format!(
            "hazard_factor_by_ltv_band = [{}]\n",
            list.join(", ")
        ));
    }
    out
}

/// The `[lifetime]` table of calibrated.toml.
fn lifetime_toml(fit: &LifetimeFit) -> String {
    let mut out = String::from(
        "\n# Lifetime model: monthly default hazards = defaults / account-months at risk (an account enters \
         at its age at\n# as_of, leaves at its default, its payoff or the end of its records, the horizon \
         or the data); sparse cells\n# pooled with their neighbours. Per cell: accounts, account-months, \
         defaults, hazard, interval.\n[lifetime]\n",
    );
    let ages: Vec<String> = fit
        .by_age
        .iter()
        .map(|f| format!("[{}, {}]", f.from, f.fitted.normalize()))
        .collect();
    for f in &fit.by_age {
        out.push_str(&hazard_comment(&format!("from age {}", f.from), f));
    }
    out.push_str(&format!("hazard_by_age = [{}]\n", ages.join(", ")));
    out.push_str(&factors_toml(fit));
    let s = &fit.speed;
    let how = match (&s.kept_because, s.interval) {
        (Some(why), _) => format!("kept {}: {why}", s.current),
        (None, Some((low, high))) => format!("95% [{low}, {high}]; was {}", s.current),
        (None, None) => format!("was {}", s.current),
    };
    out.push_str(&format!(
        "# ABS speed: {} prepayments in {} account-months ({} payoffs at maturity not counted); {how}\n\
         abs_speed = {}\ndiscount = \"{}\"\n",
        s.payoffs,
        s.months,
        s.matured,
        s.fitted.normalize(),
        fit.model.discount.label()
    ));
    if fit.delinquent.is_empty() {
        return out;
    }
    out.push_str("\n# Delinquent classes: hazards for months 1, 2, … after as_of, then hazard_by_age.\n[lifetime.delinquent]\n");
    for class in &fit.delinquent {
        out.push_str(&format!(
            "# {} days past due at as_of: {} accounts\n",
            class.from_day, class.accounts
        ));
        for f in &class.months {
            out.push_str(&hazard_comment(&format!("month {}", f.from), f));
        }
        out.push_str(&format!(
            "{} = {}\n",
            class.from_day,
            hazard_list(&class.months)
        ));
    }
    out
}

/// calibration.json.
#[derive(Serialize)]
pub struct CalibrationJson {
    pub horizon_months: u32,
    pub min_accounts: u64,
    pub pd_by_days_past_due: Vec<PdJson>,
    pub recovery: RecoveryJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<LifetimeJson>,
}

/// The lifetime fit in calibration.json: every cell before and after.
#[derive(Serialize)]
pub struct LifetimeJson {
    pub hazard_by_age: Vec<HazardJson>,
    pub hazard_factor_by_ltv_band: Vec<FactorJson>,
    pub delinquent: Vec<ClassJson>,
    pub abs_speed: SpeedJson,
}

#[derive(Serialize)]
pub struct HazardJson {
    /// The band's first age, or the month after as_of.
    pub from: u32,
    pub accounts: u64,
    pub account_months: u64,
    pub defaults: u64,
    pub hazard: Option<String>,
    pub jeffreys_low: Option<f64>,
    pub jeffreys_high: Option<f64>,
    pub before: String,
    pub after: String,
    pub note: Option<String>,
}

#[derive(Serialize)]
pub struct FactorJson {
    pub band: String,
    pub accounts: u64,
    pub account_months: u64,
    pub defaults: u64,
    pub before: String,
    pub after: String,
    pub note: Option<String>,
}

#[derive(Serialize)]
pub struct ClassJson {
    pub from_day: u32,
    pub accounts: u64,
    pub months: Vec<HazardJson>,
}

#[derive(Serialize)]
pub struct SpeedJson {
    pub account_months: u64,
    pub prepayments: u64,
    pub payoffs_at_maturity: u64,
    /// Floats: the speeds at the Jeffreys bounds of the prepayments.
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub before: String,
    pub after: String,
    pub kept_because: Option<String>,
}

impl LifetimeJson {
    fn new(fit: &LifetimeFit) -> LifetimeJson {
        let hazard = |f: &HazardFit| HazardJson {
            from: f.from,
            accounts: f.cell.accounts,
            account_months: f.cell.months,
            defaults: f.cell.defaults,
            hazard: f.rate.map(|r| r.to_string()),
            jeffreys_low: f.jeffreys.map(|j| j.low),
            jeffreys_high: f.jeffreys.map(|j| j.high),
            before: f.current.to_string(),
            after: f.fitted.to_string(),
            note: f.note.clone(),
        };
        let s = &fit.speed;
        LifetimeJson {
            hazard_by_age: fit.by_age.iter().map(hazard).collect(),
            hazard_factor_by_ltv_band: fit
                .ltv_factors
                .iter()
                .map(|f| FactorJson {
                    band: f.band.clone(),
                    accounts: f.accounts,
                    account_months: f.months,
                    defaults: f.defaults,
                    before: f.current.to_string(),
                    after: f.fitted.to_string(),
                    note: f.note.clone(),
                })
                .collect(),
            delinquent: fit
                .delinquent
                .iter()
                .map(|c| ClassJson {
                    from_day: c.from_day,
                    accounts: c.accounts,
                    months: c.months.iter().map(hazard).collect(),
                })
                .collect(),
            abs_speed: SpeedJson {
                account_months: s.months,
                prepayments: s.payoffs,
                payoffs_at_maturity: s.matured,
                low: s.interval.map(|i| i.0),
                high: s.interval.map(|i| i.1),
                before: s.current.to_string(),
                after: s.fitted.to_string(),
                kept_because: s.kept_because.clone(),
            },
        }
    }
}

#[derive(Serialize)]
pub struct PdJson {
    pub from_day: u32,
    pub accounts: u64,
    pub defaults: u64,
    pub default_rate: Option<String>,
    pub jeffreys_low: Option<f64>,
    pub jeffreys_high: Option<f64>,
    pub before: String,
    pub after: String,
    pub kept_because: Option<String>,
}

#[derive(Serialize)]
pub struct RecoveryJson {
    pub defaulted_accounts_with_value: u64,
    /// `--recovery-months`: a default counts when the data runs this many months past it.
    pub recovery_months: u32,
    /// Defaulted accounts with a value left out: defaulted within `recovery_months` of the data's end.
    pub defaulted_too_recently: u64,
    pub slope: Option<String>,
    pub intercept: Option<String>,
    pub through_origin: bool,
    /// `default_month` when the line is fitted against the value in the default month (the
    /// lifetime model); absent when against the value at as_of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_at: Option<&'static str>,
    /// A float (a statistic, not money), at full precision.
    pub residual_spread: Option<f64>,
    pub recovery_rate_before: String,
    pub recovery_rate_after: String,
    pub repossession_cost_before: String,
    pub repossession_cost_after: String,
    pub kept_because: Option<String>,
}

impl CalibrationJson {
    pub fn new(c: &Calibration) -> CalibrationJson {
        let r = &c.recovery;
        CalibrationJson {
            horizon_months: c.horizon,
            min_accounts: c.min_accounts,
            pd_by_days_past_due: c
                .pd
                .iter()
                .map(|f| PdJson {
                    from_day: f.from_day,
                    accounts: f.accounts,
                    defaults: f.defaults,
                    default_rate: f.rate.map(|d| d.to_string()),
                    jeffreys_low: f.jeffreys.map(|j| j.low),
                    jeffreys_high: f.jeffreys.map(|j| j.high),
                    before: f.current.to_string(),
                    after: f.fitted.to_string(),
                    kept_because: f.kept_because.clone(),
                })
                .collect(),
            recovery: RecoveryJson {
                defaulted_accounts_with_value: r.accounts,
                recovery_months: r.window,
                defaulted_too_recently: r.too_recent,
                slope: r.line.map(|l| l.0.to_string()),
                intercept: r.line.map(|l| l.1.to_string()),
                through_origin: r.through_origin,
                value_at: (r.value_at == ValueAt::DefaultMonth).then_some("default_month"),
                residual_spread: r.residual_spread,
                recovery_rate_before: r.current_rate.to_string(),
                recovery_rate_after: r.rate.to_string(),
                repossession_cost_before: r.current_cost.to_string(),
                repossession_cost_after: r.cost.to_string(),
                kept_because: r.kept_because.clone(),
            },
            lifetime: c.lifetime.as_ref().map(LifetimeJson::new),
        }
    }
}
