//! summary.json built from a run's book: each section's constructor, from the book's tallies and
//! the run's config (the types and their serialization are in the parent module).

use super::*;
use crate::book::lifetime::{Lifetime, LossCurve, NOT_COMPUTED};

impl ScenarioJson {
    fn new(scenario: &crate::book::model::Scenario, table: &Table, lifetime: bool) -> ScenarioJson {
        ScenarioJson {
            name: scenario.name.clone(),
            value_change: Dec(scenario.value_change),
            value_change_by: scenario.value_change_by.as_ref().map(|by| {
                let changes = by
                    .changes
                    .iter()
                    .map(|(l, c)| (l.clone(), Dec(*c)))
                    .collect();
                BTreeMap::from([(by.segment.clone(), changes)])
            }),
            recovery_rate_change: Dec(scenario.recovery_rate_change),
            repossession_cost_change: Dec(scenario.repossession_cost_change),
            pd_multiplier: Dec(scenario.pd_multiplier),
            totals: with_lifetime(&table.total, lifetime),
        }
    }
}

impl TopExposuresJson {
    /// A book's lists (see [`crate::book::summarize::TopExposures`]).
    pub fn of(book: &Book) -> TopExposuresJson {
        let rows = |list: &[u32]| list.iter().map(|&i| ExposureJson::new(book, i)).collect();
        TopExposuresJson {
            expected_deficiency: rows(&book.summaries.top.expected_deficiency),
            unvalued_balance: rows(&book.summaries.top.unvalued_balance),
        }
    }

    /// The lists of two parts of a book as one book's: the largest first, ties to the lower account
    /// id, at most [`crate::book::summarize::TOP_N`] each, as the summary pass keeps them.
    pub fn merge(mut self, other: TopExposuresJson) -> TopExposuresJson {
        let keep = |mut list: Vec<ExposureJson>,
                    more: Vec<ExposureJson>,
                    amount: fn(&ExposureJson) -> Decimal| {
            list.extend(more);
            list.sort_by(|a, b| {
                amount(b)
                    .cmp(&amount(a))
                    .then_with(|| a.account_id.cmp(&b.account_id))
            });
            list.truncate(crate::book::summarize::TOP_N);
            list
        };
        self.expected_deficiency = keep(self.expected_deficiency, other.expected_deficiency, |e| {
            e.expected_deficiency.0
        });
        self.unvalued_balance = keep(self.unvalued_balance, other.unvalued_balance, |e| {
            e.balance.0
        });
        self
    }
}

impl ExposureJson {
    fn new(book: &Book, i: u32) -> ExposureJson {
        let i = i as usize;
        let (loan, f, val) = (&book.loaded.loans[i], book.figures(i), book.valuation(i));
        ExposureJson {
            account_id: loan.account_id().to_string(),
            balance: Dec(f.balance),
            value: f.valued.as_ref().map(|v| Dec(v.value)),
            value_source: match val {
                Some(v) if v.source.is_empty() => {
                    crate::output::accounts_csv::UNNAMED_SOURCE.into()
                }
                Some(v) => v.source.to_string(),
                None => crate::output::accounts_csv::NO_SOURCE.into(),
            },
            estimated: f.valued.as_ref().is_some_and(|v| v.estimated),
            ltv_bucket: book.bands.labels[f.bucket].clone(),
            negative_equity: f.valued.as_ref().map(|v| Dec(v.negative_equity)),
            expected_deficiency: Dec(f.expected_deficiency),
            days_past_due: loan.days_past_due,
        }
    }
}

impl ChangesJson {
    fn new(c: &Changes, previous: &crate::input::previous::PreviousRun) -> ChangesJson {
        let m = |x: i128| Dec(Cents(x).dec());
        let ed = &c.expected_deficiency;
        ChangesJson {
            previous_run: previous.dir.display().to_string(),
            previous_as_of: previous.as_of.to_string(),
            continuing_accounts: c.continuing,
            new_accounts: c.new,
            closed_accounts: c.closed,
            ltv_band_up: c.band_up,
            ltv_band_down: c.band_down,
            lost_value: c.to_no_value,
            gained_value: c.from_no_value,
            negative_equity_bridge: c
                .negative_equity
                .lines()
                .iter()
                .map(|(l, v)| (l.to_string(), m(*v)))
                .collect(),
            expected_deficiency_bridge: [
                ("previous", ed.previous),
                ("closed", ed.closed),
                ("new", ed.new),
                ("continuing", ed.continuing),
                ("current", ed.current),
            ]
            .iter()
            .map(|(l, v)| (l.to_string(), m(*v)))
            .collect(),
        }
    }
}

impl RunoffRow {
    fn new(accounts: u64, m: &MonthTally) -> RunoffRow {
        let c = |x: i128| Dec(Cents(x).dec());
        RunoffRow {
            accounts,
            balance: c(m.balance),
            value: c(m.value),
            underwater_accounts: m.underwater_accounts,
            negative_equity: c(m.negative_equity),
        }
    }
}

impl RunoffJson {
    fn new(
        runoff: &Runoff,
        months_to_positive_equity: &[u32],
        as_of: crate::date::Date,
    ) -> RunoffJson {
        let back = back_above_water(months_to_positive_equity);
        let mut within: BTreeMap<String, u64> = back
            .by_month
            .iter()
            .map(|(limit, n)| (format!("by_month_{limit:02}"), *n))
            .collect();
        within.insert("later".into(), back.later);
        within.insert("not_within_1200_months".into(), runoff.beyond_projection);
        let month0 = &runoff.months[0];
        RunoffJson {
            months: (runoff.months.len() - 1) as u32,
            rule: "per open account with a value and an apr: balance B[k] = max(B[k-1] + \
                   cents(B[k-1] × apr / 1200) − payment, 0), value V[k] = cents(V[0] × retained(e+k) / \
                   retained(e)) on the [estimate] curve (e: months since origination); \
                   months_to_positive_equity = first k with B[k] <= V[k]"
                .into(),
            projected: RunoffRow::new(month0.open_accounts, month0),
            not_projected: NotProjected::ALL
                .iter()
                .zip(&runoff.not_projected)
                .map(|(why, (n, t))| (why.label().to_string(), RunoffRow::new(*n, t)))
                .collect(),
            underwater_back_above_water: within,
            median_months_to_positive_equity: back.median,
            by_month: runoff
                .months
                .iter()
                .enumerate()
                .map(|(k, m)| {
                    let c = |x: i128| Dec(Cents(x).dec());
                    RunoffMonthJson {
                        month: k as u32,
                        date: crate::book::runoff::month_date(as_of, k as u32).to_string(),
                        open_accounts: m.open_accounts,
                        balance: c(m.balance),
                        value: c(m.value),
                        underwater_accounts: m.underwater_accounts,
                        negative_equity: c(m.negative_equity),
                    }
                })
                .collect(),
        }
    }
}

impl From<&Tally> for TallyJson {
    fn from(t: &Tally) -> TallyJson {
        TallyJson {
            accounts: t.accounts,
            closed_accounts: t.closed_accounts,
            balance: money(t.balance.dec()),
            value: money(t.value.dec()),
            valued_accounts: t.valued_accounts,
            underwater_accounts: t.underwater_accounts,
            negative_equity: money(t.negative_equity.dec()),
            deficiency_if_default: money(t.deficiency_if_default.dec()),
            expected_deficiency: money(t.expected_deficiency.dec()),
            share_underwater: t.share_underwater().map(Dec),
            avg_ltv: t.avg_ltv().map(Dec),
            estimated_value_accounts: t.estimated_accounts,
            estimated_underwater_accounts: t.estimated_underwater_accounts,
            estimated_value_balance: money(t.estimated_balance.dec()),
            lifetime_expected_deficiency: None,
        }
    }
}

impl From<&Percentiles> for OriginationLtv {
    fn from(p: &Percentiles) -> OriginationLtv {
        OriginationLtv {
            accounts_with_origination_value: p.count,
            p05: Dec(p.p05),
            median: Dec(p.median),
            p95: Dec(p.p95),
            method: "nearest rank over the 4-place per-account origination_ltv".into(),
        }
    }
}

fn rows(table: &Table, lifetime: bool) -> Vec<Row> {
    let row = |label: &str, t: &Tally| Row {
        totals: with_lifetime(t, lifetime),
        label: BTreeMap::from([(table.dimension.clone(), label.to_string())]),
    };
    table
        .rows
        .iter()
        .map(|(label, t)| row(label, t))
        .chain(std::iter::once(row(TOTAL, &table.total)))
        .collect()
}

impl Portfolio {
    /// The whole book's totals (of one run, or of partials folded on Spark).
    pub fn of(s: &crate::book::summarize::Summaries) -> Portfolio {
        Portfolio {
            totals: with_lifetime(&s.ltv.total, s.loss_curve.is_some()),
            origination_ltv: s.origination_ltv.as_ref().map(Into::into),
        }
    }
}

/// A tally's totals, with its lifetime column when the lifetime figures are on.
fn with_lifetime(t: &Tally, lifetime: bool) -> TallyJson {
    TallyJson {
        lifetime_expected_deficiency: lifetime.then(|| money(t.lifetime_expected_deficiency.dec())),
        ..t.into()
    }
}

impl LifetimeJson {
    fn new(l: &Lifetime, curve: &LossCurve, book: &Book) -> LifetimeJson {
        let (mut defaults, mut accounts) = (0u128, 0u64);
        for a in book.lifetime.iter().filter_map(|a| a.get()) {
            defaults += u128::from(a.pd);
            accounts += 1;
        }
        let cents = |c: i128| Dec(Decimal::from_i128_with_scale(c, 2));
        LifetimeJson {
            hazard_by_age: l.hazard_by_age.iter().map(|&(a, h)| (a, Dec(h))).collect(),
            delinquent: l
                .delinquent
                .iter()
                .map(|(d, list)| (*d, list.iter().map(|&h| Dec(h)).collect()))
                .collect(),
            hazard_factor_by_ltv_band: l
                .hazard_factor_by_ltv_band
                .iter()
                .map(|&f| Dec(f))
                .collect(),
            abs_speed: Dec(l.abs_speed),
            discount: l.discount.label().into(),
            accounts,
            not_computed: NOT_COMPUTED
                .iter()
                .zip(curve.not_computed)
                .map(|(k, n)| (k.to_string(), n))
                .collect(),
            lifetime_expected_deficiency: cents(curve.loss_to(usize::MAX)),
            expected_deficiency_12m: cents(curve.loss_to(12)),
            expected_defaults: Dec(
                Decimal::try_from_i128_with_scale(defaults as i128, 18).unwrap_or(Decimal::MAX)
            ),
            months: curve.months.len(),
            by_month: loss_months(curve, book.as_of),
        }
    }
}

/// The loss curve's months as summary.json lists them (the same sums as summary_loss_curve.csv).
fn loss_months(curve: &LossCurve, as_of: crate::date::Date) -> Vec<LossMonthJson> {
    let accounts = |units: u128| {
        Dec(Decimal::try_from_i128_with_scale(units as i128, 18).unwrap_or(Decimal::MAX))
    };
    let cents = |c: i128| Dec(Decimal::from_i128_with_scale(c, 2));
    let (mut defaults, mut loss) = (0u128, 0i128);
    curve
        .months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            defaults += m.defaults;
            loss += m.loss;
            LossMonthJson {
                month: i as u32 + 1,
                date: crate::book::runoff::month_date(as_of, i as u32 + 1).to_string(),
                expected_defaults: accounts(m.defaults),
                expected_loss: cents(m.loss),
                cumulative_defaults: accounts(defaults),
                cumulative_loss: cents(loss),
            }
        })
        .collect()
}

impl From<&Migration> for MigrationJson {
    fn from(m: &Migration) -> MigrationJson {
        let n = m.labels.len();
        MigrationJson {
            rows_origination_ltv_bucket: m.labels.clone(),
            columns_current_ltv_bucket: m.labels.clone(),
            accounts: (0..n)
                .map(|o| (0..n).map(|c| m.cell(o, c).0).collect())
                .collect(),
            balance: (0..n)
                .map(|o| (0..n).map(|c| money(m.cell(o, c).1.dec())).collect())
                .collect(),
        }
    }
}

impl LookAlikeIds {
    pub fn of<'a>(ids: impl Iterator<Item = &'a str> + Clone) -> LookAlikeIds {
        use unicode_normalization::UnicodeNormalization;
        let invisible = |c: &char| matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}');
        let key = |id: &str| -> String { id.nfc().filter(|c| !invisible(c)).collect() };
        let rule =
            "ids equal once put in Unicode NFC and stripped of zero-width characters, but not \
                    byte for byte: separate accounts"
                .to_string();
        // An all-ASCII book (the usual one) has no look-alikes: one pass, no normalization.
        let odd: rustc_hash::FxHashSet<String> =
            ids.clone().filter(|id| !id.is_ascii()).map(key).collect();
        if odd.is_empty() {
            return LookAlikeIds {
                rule,
                ..Default::default()
            };
        }
        let mut groups: rustc_hash::FxHashMap<String, rustc_hash::FxHashSet<&str>> =
            Default::default();
        for id in ids {
            let k = key(id);
            if odd.contains(&k) {
                groups.entry(k).or_default().insert(id);
            }
        }
        let alike = groups.values().filter(|g| g.len() > 1);
        LookAlikeIds {
            ids: alike.clone().count() as u64,
            accounts: alike.map(|g| g.len() as u64).sum(),
            rule,
        }
    }
}

impl InputJson {
    fn new(facts: &FileFacts, counts: RowCounts) -> InputJson {
        InputJson {
            path: facts.path.display().to_string(),
            bytes: facts.bytes,
            sha256: facts.sha256.clone(),
            rows_read: counts.read,
            rows_accepted: counts.accepted,
            rows_rejected: counts.rejected,
            no_final_line_end: facts.no_final_line_end,
        }
    }
}

fn rejects_by_field(rejects: &[Reject], input: InputKind) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in rejects.iter().filter(|r| r.input == input) {
        let field = if r.field.is_empty() {
            "(field count)"
        } else {
            &r.field
        };
        *m.entry(field.to_string()).or_insert(0) += 1;
    }
    m
}

fn points(curve: &[(u32, Decimal)]) -> Vec<(u32, Dec)> {
    curve.iter().map(|&(m, f)| (m, Dec(f))).collect()
}

impl DataQuality {
    /// What the run read, accepted, rejected and estimated, and how old its values are.
    fn new(config: &Config, book: &Book, guards: &Guards) -> DataQuality {
        let s = &book.summaries;
        DataQuality {
            loans: LoansQuality::of(book),
            estimates: EstimatesQuality {
                enabled: config.estimate.enabled,
                accounts_estimated: book.estimate_counts.estimated,
                balance_estimated: money(s.ltv.total.estimated_balance.dec()),
                share_of_balance_estimated: s.ltv.total.estimated_balance_share().map(Dec),
                price_index: book.price_index.as_ref().map(|p| p.display().to_string()),
                no_valuation_and_no_origination_value: book.estimate_counts.no_origination_value,
                no_price_index_for_origination_month: book
                    .estimate_counts
                    .no_index_for_origination_month,
                rounds_to_zero_left_unvalued: book.estimate_counts.rounds_to_zero,
            },
            valuations: config.valuations.as_ref().map(|_| ValuationsQuality {
                rows_read: book.valuation_counts.read,
                rows_accepted: book.valuation_counts.accepted,
                rows_rejected: book.valuation_counts.rejected,
                rejects_by_field: rejects_by_field(&book.rejects, InputKind::Valuations),
                dated_after_as_of_ignored: book.match_counts.future_dated,
                vin_not_in_book: book.match_counts.vin_not_in_book,
                candidates_for_book_vins: book.match_counts.candidates,
            }),
            // The no_value band: every account without a value, closed ones included (valued
            // accounts count open ones only, so `accounts - valued_accounts` counted closed
            // accounts that do have a value).
            accounts_without_value: s
                .ltv
                .rows
                .iter()
                .filter(|(label, _)| label == crate::book::metrics::NO_VALUE)
                .map(|(_, t)| t.accounts)
                .sum(),
            valuation_age_days: ValuationAges {
                days_0_30: guards.ages.days_0_30,
                days_31_90: guards.ages.days_31_90,
                days_91_180: guards.ages.days_91_180,
                days_over_180: guards.ages.days_over_180,
            },
            stale_valuations: guards.stale_valuations.map(|s| StaleValuations {
                older_than_days: s.older_than_days,
                accounts: s.accounts,
            }),
        }
    }
}

impl LoansQuality {
    fn of(book: &Book) -> LoansQuality {
        let s = &book.summaries;
        LoansQuality {
                    rows_read: book.loaded.counts.read,
                    rows_accepted: book.loaded.counts.accepted,
                    rows_rejected: book.loaded.counts.rejected,
                    duplicate_account_id_rows: book.loaded.duplicate_rows,
                    rejects_by_field: rejects_by_field(&book.rejects, InputKind::Loans),
                    credit_score_outside_250_900: book
                        .loaded.loans
                        .iter()
                        .filter(|l| l.credit_score.is_some_and(|s| !(250..=900).contains(&s)))
                        .count() as u64,
                    zero_balance_accounts: s.ltv.total.closed_accounts,
                    look_alike_account_ids: LookAlikeIds::of(
                        book.loaded.loans.iter().map(|l| l.account_id()),
                    ),
                    ids_shared_by_different_loans: SharedIdsJson {
                        ids: book.loaded.shared_ids.ids,
                        rows: book.loaded.shared_ids.rows,
                        rule: "tapes only: rows sharing an id but differing in origination date, amount \
                               financed, term, origination value or balance are kept as <id>#<n> in file order"
                            .into(),
                    },
                    optional_fields_unreadable: OptionalUnreadable {
                        rule: "an optional field the figures do not need (apr, monthly_payment, credit_score, \
                               origination_value, vehicle_year, new_used) that cannot be read counts as \
                               missing: the loan stays in the book, its raw text is echoed (an account \
                               with no apr is left out of the run-off)"
                            .into(),
                        fields: book
                            .loaded.unreadable
                            .iter()
                            .map(|(field, c)| {
                                let c = UnreadableField {
                                    rows: c.rows,
                                    first_lines: c.first_lines.clone(),
                                };
                                (field.clone(), c)
                            })
                            .collect(),
                    },
                }
    }
}

impl RunRecord {
    /// The inputs, the config and the outputs of a run of `book`.
    fn new(config: &Config, book: &Book, started: SystemTime, outputs: Vec<String>) -> RunRecord {
        RunRecord {
            as_of: config.as_of.to_string(),
            as_of_source: config.as_of_source.as_str().into(),
            inputs: Inputs {
                loans: InputJson::new(&book.loaded.file, book.loaded.counts),
                valuations: book
                    .valuations_file
                    .as_ref()
                    .map(|f| InputJson::new(f, book.valuation_counts)),
            },
            config: ConfigJson::new(config),
            outputs,
            threads: config.threads,
            started_at: rfc3339_utc(started),
            finished_at: rfc3339_utc(SystemTime::now()),
            accounts_blake3: None,
        }
    }
}

impl ConfigJson {
    /// The run's config as summary.json states it.
    fn new(config: &Config) -> ConfigJson {
        let model = &config.model;
        ConfigJson {
            config_file: config.config_file.as_ref().map(|p| p.display().to_string()),
            as_of: config.as_of.to_string(),
            ltv_bands: model.ltv_bands.iter().copied().map(Dec).collect(),
            recovery_rate: Dec(model.recovery_rate),
            repossession_cost: Dec(model.repossession_cost),
            pd_by_days_past_due: points(&model.pd_by_days_past_due),
            segments: model.segments.clone(),
            tape: config.tape.map(|_| "regab".into()),
            tape_period: config.tape_period.map(|d| d.to_string()),
            columns: config.columns.iter().cloned().collect(),
            missing: config.missing.clone(),
            estimate: EstimateJson {
                enabled: config.estimate.enabled,
                new: points(&config.estimate.new.0),
                used: points(&config.estimate.used.0),
                price_index: config
                    .estimate
                    .index
                    .as_ref()
                    .map(|i| i.path.display().to_string()),
            },
            format: match config.format {
                Format::Csv => "csv",
                Format::Parquet => "parquet",
            }
            .into(),
            max_reject_rate: config.max_reject_rate.map(Dec),
            fail_on_stale_days: config.fail_on_stale,
        }
    }
}

impl Status {
    /// Published, or the guard rail that failed.
    fn of(guards: &Guards) -> Status {
        match &guards.failure {
                None => Status {
                    ok: true,
                    exit_code: None,
                    reason: None,
                    note: None,
                },
                Some(e) => Status {
                    ok: false,
                    exit_code: Some(e.exit_code()),
                    reason: Some(e.to_string()),
                    note: Some(
                        "guard rail failed: the book (accounts and summaries) was not published; --out was left as it was"
                            .into(),
                    ),
                },
            }
    }
}

impl Summary {
    /// The summary of a run of `book`; `outputs` names the files written, summary.json last.
    pub fn new(
        config: &Config,
        book: &Book,
        guards: &Guards,
        started: SystemTime,
        outputs: Vec<String>,
    ) -> Summary {
        let model = &config.model;
        let s = &book.summaries;
        let lifetime = s.loss_curve.is_some();
        Summary {
            portfolio: Portfolio::of(s),
            scenarios: model
                .scenarios
                .iter()
                .zip(&s.scenarios)
                .map(|(scenario, (_, table))| ScenarioJson::new(scenario, table, lifetime))
                .collect(),
            runoff: s
                .runoff
                .as_ref()
                .map(|r| RunoffJson::new(r, &book.months_to_positive_equity, book.as_of)),
            lifetime: model
                .lifetime
                .as_ref()
                .zip(s.loss_curve.as_ref())
                .map(|(l, curve)| LifetimeJson::new(l, curve, book)),
            changes: s
                .changes
                .as_ref()
                .zip(book.previous.as_ref())
                .map(|(c, j)| ChangesJson::new(c, &j.previous)),
            top_exposures: TopExposuresJson::of(book),
            tables: Tables {
                ltv_bucket: rows(&s.ltv, lifetime),
                ltv_migration: (&s.migration).into(),
                segments: s
                    .segments
                    .iter()
                    .map(|table| (table.dimension.clone(), rows(table, lifetime)))
                    .collect(),
            },
            data_quality: DataQuality::new(config, book, guards),
            manifest: Manifest::new("run", RunRecord::new(config, book, started, outputs)),
            status: Status::of(guards),
        }
    }

    /// The file's bytes: pretty JSON and a final newline.
    pub fn to_bytes(&self) -> serde_json::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
