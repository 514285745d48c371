//! The reference model of the property tests: every figure and scenario of a generated book
//! computed independently, in plain exact decimal arithmetic.

use super::*;

/// The reference: a direct, sequential reading of the spec, sharing no code with the program. Every
/// column of accounts.csv, the loan's echoed columns included.
pub(super) fn expected(
    loans: &[Loan],
    vals: &[Val],
    cfg: &Cfg,
) -> BTreeMap<String, BTreeMap<&'static str, String>> {
    let labels = cfg.labels();
    let band = |num: Decimal, den: Decimal| {
        let i = cfg
            .bands
            .iter()
            .position(|&e| num * Decimal::ONE_HUNDRED <= Decimal::from(e) * den)
            .unwrap_or(cfg.bands.len());
        labels[i].clone()
    };
    let mut out = BTreeMap::new();
    for l in loans {
        let mut cands: Vec<&Val> = vals
            .iter()
            .filter(|v| v.vin == l.vin && v.day <= AS_OF_DAY)
            .collect();
        // Latest date; on a tie the lowest value, then the lowest source name.
        cands.sort_by(|a, b| {
            b.day
                .cmp(&a.day)
                .then(a.value.cmp(&b.value))
                .then(a.source.cmp(b.source))
        });
        let dpd = l.dpd.unwrap_or(0);
        let pd = cfg.pd_for(dpd);
        let mut row = BTreeMap::new();
        row.insert("account_id", l.id.clone());
        row.insert("vin", format!("VIN{}", l.vin));
        match l.origination_value {
            Some(ov) => {
                row.insert("origination_ltv", r(l.amount_financed / ov, 4));
                row.insert("origination_ltv_bucket", band(l.amount_financed, ov));
            }
            None => {
                row.insert("origination_ltv", String::new());
                row.insert("origination_ltv_bucket", "no_value".into());
            }
        }
        let net = match cands.first() {
            Some(v) => {
                let b = l.balance;
                row.insert("value", r(v.value, 2));
                row.insert("value_date", format!("2024-06-{:02}", v.day));
                row.insert("value_age_days", (AS_OF_DAY - v.day).to_string());
                row.insert("equity", r(v.value - b, 2));
                row.insert("negative_equity", r((b - v.value).max(Decimal::ZERO), 2));
                row.insert("ltv", r(b / v.value, 4));
                row.insert("ltv_bucket", band(b, v.value));
                let source = if v.source.is_empty() {
                    "valuation"
                } else {
                    v.source
                };
                row.insert("value_source", source.to_string());
                (v.value * cfg.recovery - cfg.cost).max(Decimal::ZERO)
            }
            None => {
                for empty in [
                    "value",
                    "value_date",
                    "value_age_days",
                    "equity",
                    "negative_equity",
                    "ltv",
                ] {
                    row.insert(empty, String::new());
                }
                row.insert("ltv_bucket", "no_value".into());
                row.insert("value_source", "none".into());
                Decimal::ZERO
            }
        };
        let def = (l.balance - net).max(Decimal::ZERO);
        row.insert("balance", r(l.balance, 2));
        row.insert("net_recovery", r(net, 2));
        row.insert("deficiency_if_default", r(def, 2));
        row.insert("days_past_due", dpd.to_string());
        row.insert("pd", pd.to_string());
        row.insert("expected_deficiency", r(pd * def, 2));
        // These loans carry no apr, so the run-off leaves every one out (tests/runoff.rs projects).
        row.insert("months_to_positive_equity", String::new());
        // Nor a lifetime schedule: an open loan's lifetime columns are empty, a closed loan (balance
        // $0.00) has nothing left to lose (tests/lifetime.rs computes the schedules).
        let closed = r(l.balance, 2) == "0.00";
        for (col, zero) in [
            ("lifetime_pd", "0.000000000000000000"),
            ("lifetime_expected_deficiency", "0.00"),
            ("expected_deficiency_12m", "0.00"),
        ] {
            row.insert(col, if closed { zero.into() } else { String::new() });
        }
        // The loan's own columns, echoed (amounts written plainly).
        row.insert("origination_date", format!("{}-03-01", l.year));
        row.insert("amount_financed", l.amount_financed.to_string());
        row.insert("term_months", l.term.to_string());
        row.insert(
            "origination_value",
            l.origination_value
                .map(|v| v.to_string())
                .unwrap_or_default(),
        );
        row.insert(
            "credit_score",
            l.credit_score.map(|v| v.to_string()).unwrap_or_default(),
        );
        // The report's segments, from the README's tables.
        row.insert("vintage", l.year.to_string());
        let tier = match l.credit_score {
            Some(250..=579) => "deep_subprime",
            Some(580..=619) => "subprime",
            Some(620..=659) => "near_prime",
            Some(660..=719) => "prime",
            Some(720..=900) => "super_prime",
            _ => "unknown",
        };
        row.insert("credit_tier", tier.to_string());
        let band = match l.term {
            0..=36 => "<=36",
            37..=48 => "37-48",
            49..=60 => "49-60",
            61..=72 => "61-72",
            73..=84 => "73-84",
            _ => ">84",
        };
        row.insert("term_band", band.to_string());
        row.insert("state", l.state.to_string());
        row.insert("new_used", l.new_used.to_string());
        out.insert(l.id.clone(), row);
    }
    out
}

/// The scenario's rows by an independent reading of the rules: the shocked value `value × (1 + change)`
/// rounded half-even to cents once, then every figure by the base rules with the shocked model; rows by
/// band of the shocked value, then TOTAL. Columns as summary_scenarios.csv writes them.
pub(super) fn expected_scenario(
    loans: &[Loan],
    vals: &[Val],
    cfg: &Cfg,
) -> BTreeMap<String, [String; 7]> {
    let sc = &cfg.scenario;
    let labels = cfg.labels();
    let recovery = cfg.recovery * (Decimal::ONE + sc.recovery);
    let cost = cfg.cost * (Decimal::ONE + sc.cost);
    #[derive(Default)]
    struct Sums {
        accounts: u64,
        balance: Decimal,
        value: Decimal,
        underwater: u64,
        negative_equity: Decimal,
        deficiency: Decimal,
        expected: Decimal,
    }
    let mut rows: BTreeMap<String, Sums> = BTreeMap::new();
    for l in loans {
        let best = vals
            .iter()
            .filter(|v| v.vin == l.vin && v.day <= AS_OF_DAY)
            .min_by(|a, b| {
                b.day
                    .cmp(&a.day)
                    .then(a.value.cmp(&b.value))
                    .then(a.source.cmp(b.source))
            });
        let change = match (sc.used, l.new_used) {
            (Some(u), "used") => u,
            _ => sc.value,
        };
        let shocked = best
            .map(|v| {
                (v.value * (Decimal::ONE + change))
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
            })
            .filter(|v| *v > Decimal::ZERO);
        let b = l.balance;
        let pd = (cfg.pd_for(l.dpd.unwrap_or(0)) * sc.pd).min(Decimal::ONE);
        let (band, value, ne, net) = match shocked {
            Some(v) => {
                let i = cfg
                    .bands
                    .iter()
                    .position(|&e| b * Decimal::ONE_HUNDRED <= Decimal::from(e) * v)
                    .unwrap_or(cfg.bands.len());
                let net = (v * recovery - cost).max(Decimal::ZERO);
                (labels[i].clone(), v, (b - v).max(Decimal::ZERO), net)
            }
            None => (
                "no_value".to_string(),
                Decimal::ZERO,
                Decimal::ZERO,
                Decimal::ZERO,
            ),
        };
        let def = (b - net).max(Decimal::ZERO);
        let cents = |d: Decimal| amount_or_zero(&r(d, 2));
        for key in [band, "TOTAL".to_string()] {
            let e = rows.entry(key).or_default();
            e.accounts += 1;
            e.balance += cents(b);
            e.value += value;
            e.underwater += u64::from(cents(ne) > Decimal::ZERO);
            e.negative_equity += cents(ne);
            e.deficiency += cents(def);
            e.expected += cents(pd * def);
        }
    }
    rows.into_iter()
        .map(|(k, t)| {
            let m = |d: Decimal| r(d, 2);
            let cells = [
                t.accounts.to_string(),
                m(t.balance),
                m(t.value),
                t.underwater.to_string(),
                m(t.negative_equity),
                m(t.deficiency),
                m(t.expected),
            ];
            (k, cells)
        })
        .collect()
}
