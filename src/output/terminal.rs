//! The short summary printed on stdout at the end of a run: a pure serializer, results in, text out.

use crate::book::changes::Changes;
use crate::book::guards::Ages;
use crate::book::runoff::{back_above_water, NotProjected, Runoff};
use crate::book::segments::TOTAL;
use crate::book::tally::Cents;
use crate::book::Book;
use crate::money::group_thousands;
use crate::output::format::money;
use rust_decimal::Decimal;

/// Money with thousands separators, for people: `$1,234,567.89`.
pub fn human_money(d: &Decimal) -> String {
    let s = money(*d);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |r| ("-", r));
    format!("{sign}${}", group_thousands(digits))
}

fn human_count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// A share as a percent with one decimal, rounded half-even (`{:.1}` on a Decimal truncates).
fn percent(share: Option<Decimal>) -> String {
    share.map_or("-".into(), |d| {
        format!("{}%", crate::money::round_to(d * Decimal::ONE_HUNDRED, 1))
    })
}

/// The short summary printed on stdout at the end of a run.
pub fn terminal_summary(book: &Book, ages: &Ages, as_of: &str, out_dir: &str) -> String {
    let mut out = headline(book, as_of);
    out.push_str(&input_notes(book, ages));
    out.push_str(&outlook_notes(book));
    out.push('\n');
    out.push_str(&ltv_table(&book.summaries));
    out.push_str(&format!("\n  outputs in {out_dir}\n"));
    out
}

/// The first lines: the book, its rejects and its totals.
fn headline(book: &Book, as_of: &str) -> String {
    let s = &book.summaries;
    let accepted = book.loaded.counts.accepted;
    // Loan rows and valuation rows are different things: a rejected loan is lost exposure, a rejected
    // valuation may not matter. Never one sum of the two.
    let rejected = match &book.valuations_file {
        Some(_) => format!(
            "{} loan rows and {} valuation rows rejected",
            human_count(book.loaded.counts.rejected),
            human_count(book.valuation_counts.rejected)
        ),
        None => format!(
            "{} loan rows rejected",
            human_count(book.loaded.counts.rejected)
        ),
    };
    let t = &s.ltv.total;
    let pct = percent;
    format!(
        "underwater: book as of {as_of}: {} accounts ({rejected}), balance {}\n  \
         underwater {} accounts ({} of {} valued open accounts; {} closed), negative equity {}\n  \
         deficiency if default {}, expected deficiency {}\n",
        human_count(accepted),
        human_money(&t.balance.dec()),
        human_count(t.underwater_accounts),
        pct(t.share_underwater()),
        human_count(t.valued_accounts),
        human_count(t.closed_accounts),
        human_money(&t.negative_equity.dec()),
        human_money(&t.deficiency_if_default.dec()),
        human_money(&t.expected_deficiency.dec()),
    )
}

/// The notes on the inputs, each when the run has it: estimates, valuation ages, files cut short,
/// unreadable fields.
fn input_notes(book: &Book, ages: &Ages) -> String {
    let s = &book.summaries;
    let t = &s.ltv.total;
    let pct = percent;
    let mut notes = String::new();
    if t.estimated_accounts > 0 {
        notes.push_str(&format!(
                "  values ESTIMATED for {} accounts ({} of the balance), {} of them underwater\n    ({})\n",
                human_count(t.estimated_accounts),
                pct(t.estimated_balance_share()),
                human_count(t.estimated_underwater_accounts),
                match &book.price_index {
                    Some(p) => format!(
                        "origination value × depreciation curve × price index {}",
                        p.display()
                    ),
                    None => "origination value × depreciation curve, no price index: \
                             market moves since origination not reflected"
                        .into(),
                },
            ),
        );
    }
    let matched = ages.days_0_30 + ages.days_31_90 + ages.days_91_180 + ages.days_over_180;
    if matched > 0 {
        notes.push_str(&format!(
            "  valuation age: {} within 30 days, {} 31-90, {} 91-180, {} older than 180\n",
            human_count(ages.days_0_30),
            human_count(ages.days_31_90),
            human_count(ages.days_91_180),
            human_count(ages.days_over_180),
        ));
    }
    for file in std::iter::once(&book.loaded.file).chain(&book.valuations_file) {
        if file.no_final_line_end {
            notes.push_str(&format!(
                    "  WARNING: {} does not end with a line end: was it cut short? Its last row was read as it stands\n",
                    file.path.display()
                ),
            );
        }
    }
    if !book.loaded.unreadable.is_empty() {
        let fields: Vec<String> = book
            .loaded
            .unreadable
            .iter()
            .map(|(field, c)| format!("{field} on {} rows", human_count(c.rows)))
            .collect();
        notes.push_str(&format!(
                "  unreadable optional fields counted as missing, loans kept: {} (lines in summary.json)\n",
                fields.join(", ")
            ),
        );
    }
    notes
}

/// The notes on the figures: the scenarios, the run-off, the changes and the origination LTV.
fn outlook_notes(book: &Book) -> String {
    let s = &book.summaries;
    let mut notes = String::new();
    if !s.scenarios.is_empty() {
        let lines: Vec<String> = s
            .scenarios
            .iter()
            .map(|(name, table)| {
                let lifetime = match s.loss_curve {
                    Some(_) => format!(
                        ", lifetime expected loss {}",
                        human_money(&table.total.lifetime_expected_deficiency.dec())
                    ),
                    None => String::new(),
                };
                format!(
                    "    {name}: underwater {} accounts, negative equity {}, expected deficiency {}{lifetime}\n",
                    human_count(table.total.underwater_accounts),
                    human_money(&table.total.negative_equity.dec()),
                    human_money(&table.total.expected_deficiency.dec()),
                )
            })
            .collect();
        notes.push_str(&format!(
            "  stress scenarios (summary_scenarios.csv):\n{}",
            lines.concat()
        ));
    }
    if let Some(runoff) = &s.runoff {
        notes.push_str(&runoff_lines(runoff, &book.months_to_positive_equity));
    }
    if let Some(curve) = &s.loss_curve {
        notes.push_str(&lifetime_line(&s.ltv.total, curve));
    }
    if let (Some(c), Some(j)) = (&s.changes, &book.previous) {
        notes.push_str(&changes_lines(c, &j.previous.as_of.to_string()));
    }
    if let Some(p) = &s.origination_ltv {
        notes.push_str(&format!(
            "  origination LTV median {} (5th-95th percentile {}-{}) over {} accounts\n",
            p.median,
            p.p05,
            p.p95,
            human_count(p.count)
        ));
    }
    notes
}

/// The lifetime expected loss: the allowance, beside its first 12 months and the accounts it covers.
fn lifetime_line(
    total: &crate::book::tally::Tally,
    curve: &crate::book::lifetime::LossCurve,
) -> String {
    format!(
        "  lifetime expected loss (summary_loss_curve.csv): {} ({} in the first 12 months) over {} accounts\n",
        human_money(&total.lifetime_expected_deficiency.dec()),
        human_money(&Decimal::from_i128_with_scale(curve.loss_to(12), 2)),
        human_count(total.lifetime_accounts),
    )
}

/// The LTV table: one row per band, then TOTAL.
fn ltv_table(s: &crate::book::summarize::Summaries) -> String {
    let t = &s.ltv.total;
    let mut out = String::new();
    let header = [
        "LTV band",
        "accounts",
        "balance",
        "underwater",
        "negative equity",
        "exp. deficiency",
    ];
    let mut rows: Vec<[String; 6]> = Vec::new();
    let total = (TOTAL.to_string(), t.clone());
    for (label, r) in s.ltv.rows.iter().chain(std::iter::once(&total)) {
        rows.push([
            label.clone(),
            human_count(r.accounts),
            human_money(&r.balance.dec()),
            human_count(r.underwater_accounts),
            human_money(&r.negative_equity.dec()),
            human_money(&r.expected_deficiency.dec()),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut l = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                l.push_str(&format!(" {:<w$}", c, w = widths[i]));
            } else {
                l.push_str(&format!("  {:>w$}", c, w = widths[i]));
            }
        }
        l.push('\n');
        l
    };
    out.push_str(&line(&header));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule.iter().map(String::as_str).collect::<Vec<_>>()));
    for (i, r) in rows.iter().enumerate() {
        if i == rows.len() - 1 {
            out.push_str(&line(&rule.iter().map(String::as_str).collect::<Vec<_>>()));
        }
        out.push_str(&line(&r.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out
}

/// What changed since the previous run, in two lines: accounts in and out, band moves, the bridge.
fn changes_lines(c: &Changes, previous_as_of: &str) -> String {
    let m = |x: i128| human_money(&Cents(x).dec());
    let signed = |x: i128| match x < 0 {
        true => format!("-{}", m(-x)),
        false => format!("+{}", m(x)),
    };
    let b = &c.negative_equity;
    format!(
        "  since {previous_as_of} (summary_changes_*.csv): {} new, {} closed, {} continuing; {} moved to a \
         higher LTV band, {} lower\n    negative equity {} -> {}: closed {}, new {}, balances {}, values {}, \
         valuations gained or lost {}\n",
        human_count(c.new),
        human_count(c.closed),
        human_count(c.continuing),
        human_count(c.band_up),
        human_count(c.band_down),
        m(b.previous),
        m(b.current),
        signed(b.closed),
        signed(b.new),
        signed(b.balance_change),
        signed(b.value_change),
        signed(b.valuation_gained_or_lost),
    )
}

/// The run-off in two lines: negative equity now and later, how soon accounts come back above water,
/// and what was left out.
fn runoff_lines(runoff: &Runoff, months_to_positive_equity: &[u32]) -> String {
    let ne = |k: usize| {
        runoff
            .months
            .get(k)
            .map(|m| human_money(&Cents(m.negative_equity).dec()))
    };
    let mut later: Vec<String> = [12, 36, 60]
        .into_iter()
        .filter(|&k| k < runoff.months.len())
        .filter_map(|k| ne(k).map(|v| format!("{v} in {k} months")))
        .collect();
    later.insert(0, format!("{} now", ne(0).unwrap_or_default()));
    let back = back_above_water(months_to_positive_equity);
    let median = match back.median {
        Some(m) => format!("; underwater accounts back above water after a median {m} months"),
        None => String::new(),
    };
    let left_out: Vec<String> = NotProjected::ALL
        .iter()
        .zip(&runoff.not_projected)
        .filter(|(_, (n, _))| *n > 0)
        .map(|(why, (n, _))| format!("{} {}", human_count(*n), why.label().replace('_', " ")))
        .collect();
    let left_out = match left_out.is_empty() {
        true => String::new(),
        false => format!("\n    not projected: {}", left_out.join(", ")),
    };
    format!(
        "  run-off (summary_runoff.csv): negative equity {}{median}{left_out}\n",
        later.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_money_groups_thousands() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(human_money(&d("1234567.89")), "$1,234,567.89");
        assert_eq!(human_money(&d("-3500.00")), "-$3,500.00");
        assert_eq!(human_money(&d("12")), "$12.00");
        assert_eq!(human_money(&Decimal::ZERO), "$0.00");
        assert_eq!(human_count(1234), "1,234");
    }

    #[test]
    fn terminal_share_rounds_instead_of_truncating() {
        let d = |s: &str| Some(s.parse::<Decimal>().unwrap());
        // 6 of 9 accounts: share 0.6667 printed as 66.6% before the fix.
        assert_eq!(percent(d("0.6667")), "66.7%");
        assert_eq!(percent(d("0.2750")), "27.5%");
        assert_eq!(percent(d("0.00025")), "0.0%");
        assert_eq!(percent(None), "-");
    }
}
