//! A corpus of analyst questions on the sample book, each answered by `underwater query` and by an
//! independent computation written here from accounts.csv (exact decimals; floats only for ratios,
//! compared to 1e-12 relative). The same questions are asked of the CSV run and of the Parquet run.

use crate::common::*;
use rust_decimal::prelude::*;
use std::collections::BTreeMap;

type Row = BTreeMap<String, String>;

fn money(d: Decimal) -> String {
    format!("{d:.2}")
}

/// What a question's answer must be.
enum Want {
    /// The CSV text, exactly.
    Exact(String),
    /// One float (a ratio), to 1e-12 relative.
    Ratio(f64),
}

struct Book {
    accounts: Vec<Row>,
}

impl Book {
    fn rows(&self, keep: impl Fn(&Row) -> bool) -> Vec<&Row> {
        self.accounts.iter().filter(|r| keep(r)).collect()
    }

    fn sum(&self, col: &str, keep: impl Fn(&Row) -> bool) -> Decimal {
        self.rows(keep)
            .iter()
            .map(|r| amount_or_zero(&r[col]))
            .sum()
    }

    fn count(&self, keep: impl Fn(&Row) -> bool) -> usize {
        self.rows(keep).len()
    }

    /// `label,n,sum` lines per group, in `order` (labels absent from the book are skipped).
    fn grouped(&self, key: &str, order: &[String], col: &str) -> String {
        let mut out = String::new();
        for label in order {
            let rows = self.rows(|r| &r[key] == label);
            if rows.is_empty() {
                continue;
            }
            let s: Decimal = rows.iter().map(|r| amount_or_zero(&r[col])).sum();
            out.push_str(&format!("{label},{},{}\n", rows.len(), money(s)));
        }
        out
    }

    fn labels(&self, key: &str) -> Vec<String> {
        let mut l: Vec<String> = self.accounts.iter().map(|r| r[key].clone()).collect();
        l.sort();
        l.dedup();
        l
    }
}

fn questions(b: &Book) -> Vec<(&'static str, Vec<String>, Want)> {
    let all = |_: &Row| true;
    let bands: Vec<String> = ["<=80", "80-100", "100-120", "120-140", ">140", "no_value"]
        .map(String::from)
        .to_vec();
    let tiers: Vec<String> = [
        "deep_subprime",
        "subprime",
        "near_prime",
        "prime",
        "super_prime",
        "unknown",
    ]
    .map(String::from)
    .to_vec();
    let terms: Vec<String> = ["<=36", "37-48", "49-60", "61-72", "73-84", ">84"]
        .map(String::from)
        .to_vec();
    let ne = |r: &Row| amount_or_zero(&r["negative_equity"]) > Decimal::ZERO;
    let sql = |s: &str| vec![s.to_string()];
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let exact = |header: &str, body: String| Want::Exact(format!("{header}\n{body}"));
    let one = |header: &str, v: String| Want::Exact(format!("{header}\n{v}\n"));
    let ratio =
        |num: Decimal, den: Decimal| Want::Ratio(num.to_f64().unwrap() / den.to_f64().unwrap());
    let top = |col: &str, n: usize, keep: &dyn Fn(&Row) -> bool| {
        let mut rows = b.rows(keep);
        rows.sort_by(|x, y| {
            amount_or_zero(&y[col])
                .cmp(&amount_or_zero(&x[col]))
                .then(x["account_id"].cmp(&y["account_id"]))
        });
        rows.iter()
            .take(n)
            .map(|r| format!("{},{}\n", r["account_id"], r[col]))
            .collect::<String>()
    };
    let mut state_ne: Vec<(String, Decimal)> = b
        .labels("state")
        .into_iter()
        .map(|s| {
            let v = b.sum("negative_equity", |r| r["state"] == s);
            (s, v)
        })
        .collect();
    state_ne.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let mut dealer_ne: Vec<(String, Decimal)> = b
        .labels("dealer_id")
        .into_iter()
        .map(|d| {
            let v = b.sum("negative_equity", |r| r["dealer_id"] == d);
            (d, v)
        })
        .collect();
    dealer_ne.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let big_states: String = b
        .labels("state")
        .into_iter()
        .filter_map(|s| {
            let n = b.count(|r| r["state"] == s);
            (n > 300).then(|| format!("{s},{n}\n"))
        })
        .collect();
    let vintages: Vec<String> = b
        .labels("origination_date")
        .into_iter()
        .map(|d| d[..4].to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let vintage_rows: String = vintages
        .iter()
        .map(|y| {
            let rows = b.rows(|r| r["origination_date"].starts_with(y.as_str()));
            let s: Decimal = rows
                .iter()
                .map(|r| amount_or_zero(&r["negative_equity"]))
                .sum();
            format!("{y},{},{}\n", rows.len(), money(s))
        })
        .collect();
    let sources: String = b
        .labels("value_source")
        .into_iter()
        .map(|s| format!("{s},{}\n", b.count(|r| r["value_source"] == s)))
        .collect();
    let max_date = b
        .labels("value_date")
        .into_iter()
        .filter(|d| !d.is_empty())
        .max()
        .unwrap();

    vec![
        ("accounts", sql("SELECT COUNT(*) AS n FROM accounts"), one("n", b.count(all).to_string())),
        ("book balance", sql("SELECT SUM(balance) AS b FROM accounts"), one("b", money(b.sum("balance", all)))),
        ("negative equity", sql("SELECT SUM(negative_equity) AS ne FROM accounts"), one("ne", money(b.sum("negative_equity", all)))),
        ("expected deficiency", sql("SELECT SUM(expected_deficiency) AS ed FROM accounts"), one("ed", money(b.sum("expected_deficiency", all)))),
        ("deficiency if default", sql("SELECT SUM(deficiency_if_default) AS d FROM accounts"), one("d", money(b.sum("deficiency_if_default", all)))),
        ("underwater accounts", sql("SELECT COUNT(*) AS n FROM accounts WHERE negative_equity > 0"), one("n", b.count(ne).to_string())),
        ("closed accounts", sql("SELECT COUNT(*) AS n FROM accounts WHERE balance = 0"), one("n", b.count(|r| amount_or_zero(&r["balance"]).is_zero()).to_string())),
        ("unvalued accounts", sql("SELECT COUNT(*) AS n FROM accounts WHERE ltv_bucket = 'no_value'"), one("n", b.count(|r| r["value"].is_empty()).to_string())),
        ("unvalued balance", sql("SELECT SUM(balance) AS b FROM accounts WHERE value IS NULL"), one("b", money(b.sum("balance", |r| r["value"].is_empty())))),
        ("Texas balance", sql("SELECT SUM(balance) AS b FROM accounts WHERE state = 'TX'"), one("b", money(b.sum("balance", |r| r["state"] == "TX")))),
        ("long used loans", sql("SELECT COUNT(*) AS n FROM accounts WHERE new_used = 'used' AND term_months >= 72"), one("n", b.count(|r| r["new_used"] == "used" && r["term_months"].parse::<u32>().unwrap() >= 72).to_string())),
        ("largest negative equity", sql("SELECT MAX(negative_equity) AS m FROM accounts"), one("m", money(b.rows(all).iter().map(|r| amount_or_zero(&r["negative_equity"])).max().unwrap()))),
        ("smallest open balance", sql("SELECT MIN(balance) AS m FROM accounts WHERE balance > 0"), one("m", money(b.rows(|r| amount_or_zero(&r["balance"]) > Decimal::ZERO).iter().map(|r| amount_or_zero(&r["balance"])).min().unwrap()))),
        ("top 5 expected deficiencies", sql("SELECT account_id, expected_deficiency FROM accounts ORDER BY expected_deficiency DESC, account_id LIMIT 5"), exact("account_id,expected_deficiency", top("expected_deficiency", 5, &all))),
        ("top 3 negative equity, 60+ days", sql("SELECT account_id, negative_equity FROM accounts WHERE days_past_due >= 60 ORDER BY negative_equity DESC, account_id LIMIT 3"), exact("account_id,negative_equity", top("negative_equity", 3, &|r: &Row| r["days_past_due"].parse::<u32>().unwrap() >= 60))),
        ("by LTV band, natural order", sql("SELECT ltv_bucket, COUNT(*) AS n, SUM(balance) AS b FROM accounts GROUP BY ltv_bucket ORDER BY ltv_bucket"), exact("ltv_bucket,n,b", b.grouped("ltv_bucket", &bands, "balance"))),
        ("by credit tier, natural order", sql("SELECT credit_tier, COUNT(*) AS n, SUM(balance) AS b FROM accounts GROUP BY credit_tier ORDER BY credit_tier"), exact("credit_tier,n,b", b.grouped("credit_tier", &tiers, "balance"))),
        ("by term band, natural order", sql("SELECT term_band, COUNT(*) AS n, SUM(negative_equity) AS ne FROM accounts GROUP BY term_band ORDER BY term_band"), exact("term_band,n,ne", b.grouped("term_band", &terms, "negative_equity"))),
        ("by vintage", sql("SELECT vintage, COUNT(*) AS n, SUM(negative_equity) AS ne FROM accounts GROUP BY vintage ORDER BY vintage"), exact("vintage,n,ne", vintage_rows)),
        ("by state", sql("SELECT state, COUNT(*) AS n, SUM(negative_equity) AS ne FROM accounts GROUP BY state ORDER BY state"), exact("state,n,ne", b.grouped("state", &b.labels("state"), "negative_equity"))),
        ("by new/used", sql("SELECT new_used, COUNT(*) AS n, SUM(deficiency_if_default) AS d FROM accounts GROUP BY new_used ORDER BY new_used"), exact("new_used,n,d", b.grouped("new_used", &b.labels("new_used"), "deficiency_if_default"))),
        ("top 3 dealers by negative equity", sql("SELECT dealer_id, SUM(negative_equity) AS ne FROM accounts GROUP BY dealer_id ORDER BY ne DESC, dealer_id LIMIT 3"), exact("dealer_id,ne", dealer_ne.iter().take(3).map(|(d, v)| format!("{d},{}\n", money(*v))).collect())),
        ("states with most negative equity", args(&["--by", "state", "--top", "2", "--order-by", "negative_equity"]), Want::Exact(String::new())),
        ("states over 300 accounts", sql("SELECT state, COUNT(*) AS n FROM accounts GROUP BY state HAVING COUNT(*) > 300 ORDER BY state"), exact("state,n", big_states)),
        ("distinct states", sql("SELECT COUNT(DISTINCT state) AS n FROM accounts"), one("n", b.labels("state").len().to_string())),
        ("distinct tiers in order", sql("SELECT DISTINCT credit_tier FROM accounts ORDER BY credit_tier"), exact("credit_tier", tiers.iter().filter(|t| b.count(|r| &r["credit_tier"] == *t) > 0).map(|t| format!("{t}\n")).collect())),
        ("value sources", sql("SELECT value_source, COUNT(*) AS n FROM accounts GROUP BY value_source ORDER BY value_source"), exact("value_source,n", sources)),
        ("stale valuations", sql("SELECT COUNT(*) AS n FROM accounts WHERE value_age_days > 180"), one("n", b.count(|r| !r["value_age_days"].is_empty() && r["value_age_days"].parse::<u32>().unwrap() > 180).to_string())),
        ("latest valuation date", sql("SELECT MAX(value_date) AS d FROM accounts"), one("d", max_date)),
        ("originated in 2024 or later", sql("SELECT COUNT(*) AS n FROM accounts WHERE vintage >= 2024"), one("n", b.count(|r| r["origination_date"][..4].parse::<u32>().unwrap() >= 2024).to_string())),
        ("migrated 100-120 to above 140", sql("SELECT COUNT(*) AS n, SUM(balance) AS b FROM accounts WHERE origination_ltv_bucket = '100-120' AND ltv_bucket = '>140'"), {
            let keep = |r: &Row| r["origination_ltv_bucket"] == "100-120" && r["ltv_bucket"] == ">140";
            // SQL's SUM of no rows is NULL, written empty.
            let sum = match b.count(keep) {
                0 => String::new(),
                _ => money(b.sum("balance", keep)),
            };
            one("n,b", format!("{},{sum}", b.count(keep)))
        }),
        ("LTV above 1.2 by the 4-place ratio", sql("SELECT COUNT(*) AS n FROM accounts WHERE ltv > 1.2"), one("n", b.count(|r| !r["ltv"].is_empty() && amount_or_zero(&r["ltv"]) > amount_or_zero("1.2")).to_string())),
        ("equity of underwater accounts", sql("SELECT SUM(equity) AS e FROM accounts WHERE equity < 0"), one("e", money(-b.sum("negative_equity", all)))),
        ("kbb values", sql("SELECT SUM(value) AS v FROM accounts WHERE value_source = 'kbb'"), one("v", money(b.sum("value", |r| r["value_source"] == "kbb")))),
        ("60+ days expected deficiency", sql("SELECT COUNT(*) AS n, SUM(expected_deficiency) AS ed FROM accounts WHERE days_past_due >= 60"), {
            let keep = |r: &Row| r["days_past_due"].parse::<u32>().unwrap() >= 60;
            one("n,ed", format!("{},{}", b.count(keep), money(b.sum("expected_deficiency", keep))))
        }),
        ("amount financed of 2025 loans", sql("SELECT SUM(amount_financed) AS a FROM accounts WHERE vintage = 2025"), one("a", money(b.sum("amount_financed", |r| r["origination_date"].starts_with("2025"))))),
        ("loss rate of the book", sql("SELECT SUM(expected_deficiency) / SUM(balance) AS r FROM accounts"), ratio(b.sum("expected_deficiency", all), b.sum("balance", all))),
        ("share of balance underwater", sql("SELECT SUM(CASE WHEN negative_equity > 0 THEN balance ELSE 0 END) / SUM(balance) AS r FROM accounts"), ratio(b.sum("balance", ne), b.sum("balance", all))),
        ("Texas share underwater of valued open", sql("SELECT SUM(CASE WHEN negative_equity > 0 THEN 1 ELSE 0 END) / SUM(CASE WHEN value IS NOT NULL AND balance > 0 THEN 1 ELSE 0 END) AS r FROM accounts WHERE state = 'TX'"), ratio(Decimal::from(b.count(|r| r["state"] == "TX" && ne(r))), Decimal::from(b.count(|r| r["state"] == "TX" && !r["value"].is_empty() && !amount_or_zero(&r["balance"]).is_zero())))),
        ("negative equity per underwater account", sql("SELECT SUM(negative_equity) / COUNT(*) AS r FROM accounts WHERE negative_equity > 0"), ratio(b.sum("negative_equity", all), Decimal::from(b.count(ne)))),
        ("book by as_of", args(&["--by", "as_of"]), Want::Exact(String::new())),
        ("top state per window", sql("SELECT state, account_id FROM (SELECT state, account_id, ROW_NUMBER() OVER (PARTITION BY state ORDER BY negative_equity DESC) AS k FROM accounts WHERE value IS NOT NULL) WHERE k = 1 ORDER BY state"), {
            let body: String = b.labels("state").into_iter().map(|s| {
                let mut rows = b.rows(|r| r["state"] == s && !r["value"].is_empty());
                rows.sort_by(|x, y| amount_or_zero(&y["negative_equity"]).cmp(&amount_or_zero(&x["negative_equity"])).then(x["account_id"].cmp(&y["account_id"])));
                format!("{s},{}\n", rows[0]["account_id"])
            }).collect();
            exact("state,account_id", body)
        }),
    ]
    .into_iter()
    .map(|(name, a, w)| {
        // The two shorthand questions: their answers are checked below against the same computations.
        let w = match (name, w) {
            ("states with most negative equity", _) => {
                let body: String = state_ne.iter().take(2).map(|(s, v)| format!("{s},{}\n", money(*v))).collect();
                Want::Exact(body)
            }
            ("book by as_of", _) => Want::Exact(format!("2025-06-30,{}\nTOTAL,{}\n", b.count(all), b.count(all))),
            (_, w) => w,
        };
        (name, a, w)
    })
    .collect()
}

#[test]
fn forty_analyst_questions_against_an_independent_computation() {
    let s = Sandbox::new();
    for (out, format) in [("out", "csv"), ("pq", "parquet")] {
        assert_ok(&run_sample_book(&s, out, &["--format", format]));
    }
    let book = Book {
        accounts: read_csv(&s.path("out/accounts.csv")),
    };
    let qs = questions(&book);
    assert!(qs.len() >= 40, "{} questions", qs.len());
    for run in ["out", "pq"] {
        for (name, args, want) in &qs {
            let mut all = vec!["query", "-q", "--run", run, "--format", "csv"];
            all.extend(args.iter().map(String::as_str));
            let out = s.run(&all);
            assert_ok(&out);
            let got = String::from_utf8(out.stdout).unwrap();
            match want {
                Want::Exact(text) if name.starts_with("states with most") => {
                    // `--by` rows: label, accounts, …, negative_equity is the 8th column.
                    let rows: String = got
                        .lines()
                        .skip(1)
                        .filter(|l| !l.starts_with("TOTAL"))
                        .map(|l| {
                            let f: Vec<&str> = l.split(',').collect();
                            format!("{},{}\n", f[0], f[7])
                        })
                        .collect();
                    assert_eq!(&rows, text, "{run}: {name}");
                }
                Want::Exact(text) if name.starts_with("book by") => {
                    let rows: String = got
                        .lines()
                        .skip(1)
                        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(",") + "\n")
                        .collect();
                    assert_eq!(&rows, text, "{run}: {name}");
                }
                Want::Exact(text) => assert_eq!(&got, text, "{run}: {name}"),
                Want::Ratio(r) => {
                    let v: f64 = got.lines().nth(1).unwrap().parse().unwrap();
                    assert!(
                        ((v - r) / r).abs() < 1e-12,
                        "{run}: {name}: {v} against {r}"
                    );
                }
            }
        }
    }
}
