//! `underwater query`: real queries on the hand-computed book (answers checked against its hand-
//! made
//! figures and summary files), on the sample book (sums reconcile with summary.json), over every
//! source (run directory in CSV or Parquet, raw inputs), and the errors an analyst can act on.

use crate::common::*;
use std::process::Output;

mod raw;

/// The hand book, run once to CSV (`out`) and once to Parquet (`pq`).
fn hand_runs() -> Sandbox {
    let s = Sandbox::new();
    s.write("loans.csv", HAND_LOANS);
    s.write("valuations.csv", &hand_valuations());
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    assert_ok(&s.run_loans("pq", &["--as-of", "2024-06-30", "--format", "parquet"]));
    s
}

fn query(s: &Sandbox, args: &[&str]) -> Output {
    let mut all = vec!["query", "-q"];
    all.extend_from_slice(args);
    s.run(&all)
}

fn answer(s: &Sandbox, args: &[&str]) -> String {
    let out = query(s, args);
    assert_ok(&out);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn by_state_matches_the_summary_file_to_the_cent() {
    let s = hand_runs();
    let got = answer(&s, &["--run", "out", "--by", "state", "--format", "csv"]);
    // The hand book's summary_by_state.csv, with the empty state as an empty group, last.
    let money: Vec<String> = got
        .lines()
        .map(|l| l.splitn(11, ',').take(10).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        money.join("\n"),
        "state,accounts,closed_accounts,valued_accounts,balance,value,underwater_accounts,negative_equity,\
         deficiency_if_default,expected_deficiency\n\
         CA,5,0,5,56000.00,50000.00,4,6000.01,18500.00,370.00\n\
         NY,4,0,4,51000.00,38500.00,4,12500.00,22275.00,445.50\n\
         TX,9,1,5,60020.40,61500.00,1,3500.00,17845.40,4767.52\n\
         ,2,0,1,14000.00,9000.00,0,0.00,7350.00,147.00\n\
         TOTAL,20,1,15,181020.40,159000.00,9,22000.01,65970.40,5730.02"
    );
    // The ratios the summary rounds to 4 places, as floats at full precision: share = underwater /
    // valued open accounts (TX's closed account is not one), avg_ltv = Σ balance² / value ÷ Σ balance over valued accounts (hand book, by hand).
    let ratios: Vec<(f64, f64)> = got
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.rsplitn(3, ',').collect();
            (f[1].parse().unwrap(), f[0].parse().unwrap())
        })
        .collect();
    let want = [
        (4.0 / 5.0, 1.1286),
        (1.0, 1.3398),
        (1.0 / 5.0, 0.9904),
        (0.0, 1.0),
        (9.0 / 15.0, 1.1421),
    ];
    for ((share, ltv), (want_share, want_ltv)) in ratios.iter().zip(want) {
        assert_eq!(*share, want_share, "{got}");
        assert!((ltv - want_ltv).abs() < 0.00005, "{ltv} against {want_ltv}");
    }
    // The same from the Parquet run and from the raw inputs.
    assert_eq!(
        answer(&s, &["--run", "pq", "--by", "state", "--format", "csv"]),
        got
    );
    assert_eq!(
        answer(
            &s,
            &[
                "--loans",
                "loans.csv",
                "--valuations",
                "valuations.csv",
                "--as-of",
                "2024-06-30",
                "--by",
                "state",
                "--format",
                "csv"
            ]
        ),
        got
    );
}

#[test]
fn sql_sums_are_exact_and_shorthands_answer_common_questions() {
    let s = hand_runs();
    // CA: 2000.00 + 1999.99 + 2000.01 + 0.01 = 6000.01 of negative equity.
    let sql = "SELECT SUM(negative_equity) AS ne, COUNT(*) AS n FROM accounts WHERE state = 'CA' AND negative_equity > 0";
    for run in ["out", "pq"] {
        assert_eq!(
            answer(&s, &["--run", run, sql, "--format", "csv"]),
            "ne,n\n6000.01,4\n"
        );
    }
    // The two largest expected deficiencies among delinquent accounts: NOVAL (0.65 × 7,000) and HE2.
    let top = answer(
        &s,
        &[
            "--run",
            "out",
            "--where",
            "days_past_due >= 1",
            "--top",
            "2",
            "--order-by",
            "expected_deficiency",
            "--format",
            "csv",
        ],
    );
    let ids: Vec<&str> = top
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, ["NOVAL", "HE2"]);
    // Loan columns are typed: term_months compares as a number, from the CSV run as from Parquet.
    for run in ["out", "pq"] {
        assert_eq!(
            answer(
                &s,
                &[
                    "--run",
                    run,
                    "SELECT COUNT(*) AS n FROM accounts WHERE term_months >= 72",
                    "--format",
                    "csv"
                ]
            ),
            "n\n7\n"
        );
    }
}

#[test]
fn output_formats_and_atomic_file() {
    let s = hand_runs();
    let sql =
        "SELECT account_id, balance, negative_equity FROM accounts WHERE account_id = 'README'";
    let table = answer(&s, &["--run", "out", sql, "--format", "table"]);
    assert_eq!(
        table,
        "account_id    balance  negative_equity\n\
         --------------------------------------\n\
         README      19,000.00         3,500.00\n"
    );
    let md = answer(&s, &["--run", "out", sql, "--format", "markdown"]);
    assert_eq!(
        md,
        "| account_id |  balance | negative_equity |\n\
         |------------|---------:|----------------:|\n\
         | README     | 19000.00 |         3500.00 |\n"
    );
    // Wide characters take two columns on a terminal: the rule and the rows line up under them.
    let wide = answer(
        &s,
        &[
            "--run",
            "out",
            "SELECT '東京都' AS city, account_id FROM accounts WHERE account_id = 'README'",
            "--format",
            "table",
        ],
    );
    assert_eq!(
        wide,
        "city    account_id\n\
         ------------------\n\
         東京都  README\n"
    );
    assert_ok(&query(&s, &["--run", "out", sql, "-o", "answer.json"]));
    let json: serde_json::Value = serde_json::from_str(&s.read("answer.json")).unwrap();
    assert_eq!(
        json[0]["negative_equity"], "3500.00",
        "money stays a string"
    );
    assert_ok(&query(&s, &["--run", "out", sql, "-o", "answer.parquet"]));
    assert!(std::fs::metadata(s.path("answer.parquet")).unwrap().len() > 0);
}

#[test]
fn sample_book_query_sums_reconcile_with_the_summary() {
    let s = Sandbox::new();
    let run = run_sample_book(&s, "out", &["--format", "parquet"]);
    assert_ok(&run);
    let got = answer(
        &s,
        &[
            "--run",
            "out",
            "SELECT COUNT(*) AS accounts, SUM(balance) AS balance, SUM(negative_equity) AS negative_equity, \
             SUM(deficiency_if_default) AS deficiency_if_default, SUM(expected_deficiency) AS expected_deficiency \
             FROM accounts",
            "--format",
            "json",
        ],
    );
    let q: serde_json::Value = serde_json::from_str(&got).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    let p = &summary["portfolio"];
    assert_eq!(q[0]["accounts"], p["accounts"]);
    for m in [
        "balance",
        "negative_equity",
        "deficiency_if_default",
        "expected_deficiency",
    ] {
        assert_eq!(q[0][m], p[m], "{m}");
    }
}

#[test]
fn errors_say_what_to_change() {
    let s = hand_runs();
    let out = query(
        &s,
        &["--run", "out", "SELECT state, SUM(balance FROM accounts"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("SQL error"), "{err}");
    // The position is shown under the query: the parser stops at FROM, column 27.
    assert!(
        err.contains("\n  SELECT state, SUM(balance FROM accounts\n                            ^"),
        "{err}"
    );

    let out = query(&s, &["--run", "out", "SELECT dealer FROM accounts"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown column `dealer`"), "{err}");
    assert!(err.contains("negative_equity"), "lists the columns: {err}");

    let out = query(&s, &["--run", "out"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // A run directory from a version whose accounts lack this version's columns.
    s.write(
        "old/summary.json",
        "{\"manifest\": {\"version\": \"0.0.1\"}, \"status\": {\"ok\": true}}",
    );
    s.write(
        "old/accounts.csv",
        "account_id,balance,negative_equity\nA,1.00,0.00\n",
    );
    let out = query(&s, &["--run", "old", "SELECT * FROM accounts"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("underwater 0.0.1"),
        "{}",
        stderr(&out)
    );

    let out = query(&s, &["--run", "valuations.csv", "SELECT * FROM accounts"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("not the output of `underwater run`"));
}

/// `SUM(expected_deficiency) / SUM(balance)` printed 0.01 (polars divides decimals at their 2-place
/// scale) and `CAST(... AS DOUBLE)` printed 3.5742e7: silent wrong numbers. Divisions are floats, and
/// floats print at full precision in every format.
#[test]
fn regression_ratios_and_floats_were_rounded_silently() {
    use rust_decimal::prelude::ToPrimitive;
    let s = hand_runs();
    let sql = "SELECT SUM(expected_deficiency) / SUM(balance) AS r, CAST(SUM(balance) AS DOUBLE) AS b FROM accounts";
    for run in ["out", "pq"] {
        let csv = answer(&s, &["--run", run, sql, "--format", "csv"]);
        let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        // The hand book's totals (tests/golden/hand_book): 5,730.02 / 181,020.40, computed here exactly.
        let exact: rust_decimal::Decimal = "5730.02".parse::<rust_decimal::Decimal>().unwrap()
            / "181020.40".parse::<rust_decimal::Decimal>().unwrap();
        let r: f64 = row[0].parse().unwrap();
        assert!(
            (r - exact.to_f64().unwrap()).abs() < 1e-17,
            "{} against {exact}",
            row[0]
        );
        assert!(
            row[0].len() >= 12,
            "at least 10 significant decimals: {}",
            row[0]
        );
        assert_eq!(row[1], "181020.4");
        let json: serde_json::Value =
            serde_json::from_str(&answer(&s, &["--run", run, sql, "--format", "json"])).unwrap();
        assert_eq!(json[0]["b"].as_f64(), Some(181020.4));
        assert_eq!(json[0]["r"].as_f64(), Some(r));
    }
}

/// `--by pd` (and `--by apr`, `GROUP BY pd` on the sample book) panicked inside polars, which was built without the
/// 128-bit dtype its decimal grouping needs, and exited 101. Grouping on every decimal column works now;
/// the groups add up to the hand book's total (181,020.40 over 20 accounts).
#[test]
fn regression_by_pd_panicked_with_exit_101() {
    let s = hand_runs();
    for run in ["out", "pq"] {
        for by in ["pd", "ltv", "origination_ltv", "equity"] {
            let out = query(&s, &["--run", run, "--by", by, "--format", "csv"]);
            assert_ok(&out);
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(
                text.lines()
                    .last()
                    .unwrap()
                    .starts_with("TOTAL,20,1,15,181020.40,"),
                "--by {by} on {run}: {text}"
            );
        }
    }
}

/// `--by state --top 3 --order-by negative_equity` ignored --top and --order-by; a typo in --order-by
/// gave a raw polars error; `-o top.xlsx` wrote CSV into a .xlsx; `-o -` wrote a file named `-`.
#[test]
fn regression_shorthands_did_not_compose_and_output_names_were_ignored() {
    let s = hand_runs();
    let top = answer(
        &s,
        &[
            "--run",
            "out",
            "--by",
            "state",
            "--top",
            "2",
            "--order-by",
            "negative_equity",
            "--format",
            "csv",
        ],
    );
    let labels: Vec<&str> = top
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    // NY 12,500.00 and CA 6,000.01 are the two largest; TOTAL is still the whole book's.
    assert_eq!(labels, ["NY", "CA", "TOTAL"]);
    assert!(
        top.lines()
            .last()
            .unwrap()
            .starts_with("TOTAL,20,1,15,181020.40,"),
        "{top}"
    );

    let out = query(
        &s,
        &[
            "--run",
            "out",
            "--by",
            "state",
            "--order-by",
            "negativ_equity",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown column `negativ_equity`"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("negative_equity"),
        "lists the columns"
    );
    let out = query(&s, &["--run", "out", "--by", "stat"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown column `stat`"),
        "{}",
        stderr(&out)
    );

    let out = query(&s, &["--run", "out", "--by", "state", "-o", "top.xlsx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(".xlsx"), "{}", stderr(&out));
    assert!(!s.path("top.xlsx").exists());
    let out = query(
        &s,
        &[
            "--run", "out", "--by", "state", "-o", "top.csv", "--format", "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let to_stdout = answer(
        &s,
        &[
            "--run", "out", "--by", "state", "-o", "-", "--format", "csv",
        ],
    );
    assert!(to_stdout.starts_with("state,accounts"), "{to_stdout}");
    assert!(!s.path("-").exists(), "no file named -");
    assert_ok(&query(
        &s,
        &["--run", "out", "--by", "state", "-o", "top.txt"],
    ));
    assert!(s.read("top.txt").contains("TOTAL"));
}

/// `--by state,vintage` said `unknown column 'vintage'` (also credit_tier, term_band); bands sorted as
/// text (`<=36` after `73-84`, `100-120` before `80-100`); dates were text, so subtracting them failed;
/// the table put thousands separators in years (`2,013`).
#[test]
fn regression_report_words_natural_order_typed_dates_and_years() {
    let s = hand_runs();
    for run in ["out", "pq"] {
        let labels = |args: &[&str]| -> Vec<String> {
            let mut all = vec!["--run", run, "--format", "csv"];
            all.extend_from_slice(args);
            answer(&s, &all)
                .lines()
                .skip(1)
                .map(|l| l.split(',').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            labels(&["--by", "ltv_bucket"]),
            ["<=80", "80-100", "100-120", "120-140", ">140", "no_value", "TOTAL"],
            "{run}"
        );
        // The hand book: 60-month terms (13), 72 (4), 84 (3): 49-60 before 61-72 before 73-84.
        assert_eq!(
            labels(&["--by", "term_band"]),
            ["49-60", "61-72", "73-84", "TOTAL"],
            "{run}"
        );
        assert_eq!(
            labels(&["SELECT DISTINCT ltv_bucket FROM accounts ORDER BY ltv_bucket DESC"]),
            ["no_value", ">140", "120-140", "100-120", "80-100", "<=80"],
            "{run}"
        );
        assert_eq!(
            labels(&["--by", "vintage"]),
            ["2021", "2022", "2023", "2024", "TOTAL"],
            "{run}"
        );
        // Dates are dates: the README account was valued 2024-06-15 and originated 2024-01-10 (157 days).
        let days = answer(
            &s,
            &[
                "--run", run, "--format", "csv",
                "SELECT value_date - origination_date AS d FROM accounts WHERE account_id = 'README'",
            ],
        );
        assert_eq!(days, "d\n157d\n", "{run}");
        let years = answer(
            &s,
            &[
                "--run",
                run,
                "--format",
                "table",
                "SELECT vintage, COUNT(*) AS n FROM accounts GROUP BY vintage ORDER BY vintage",
            ],
        );
        assert!(
            years.contains("2021") && !years.contains("2,021"),
            "{years}"
        );
    }
}

/// `--run` could be given once, so last month against this month needed undocumented `read_parquet`
/// tricks. Several runs (repeated, or a quoted pattern) are one `accounts` with an `as_of` column.
#[test]
fn regression_several_runs_needed_read_parquet_tricks() {
    let s = hand_runs();
    std::fs::create_dir(s.path("nightly")).unwrap();
    for (dir, as_of) in [("nightly/a", "2024-06-30"), ("nightly/b", "2024-08-31")] {
        assert_ok(&s.run_loans(dir, &["--as-of", as_of]));
    }
    let expect = |run_args: &[&str]| {
        let mut args = run_args.to_vec();
        args.extend(["--by", "as_of", "--format", "csv"]);
        let got = answer(&s, &args);
        let rows: Vec<Vec<&str>> = got
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        // As of 2024-06-30 the hand book; as of 2024-08-31 the later valuations of VINFUT (5,000) and
        // VINONLYFUT (4,000) count: same 20 accounts and balance both nights.
        assert_eq!(rows.len(), 3, "{got}");
        assert_eq!(rows[0][..2], ["2024-06-30", "20"], "{got}");
        assert_eq!(rows[1][..2], ["2024-08-31", "20"], "{got}");
        assert_eq!(rows[2][..2], ["TOTAL", "40"], "{got}");
        for r in &rows[..2] {
            assert_eq!(r[4], "181020.40", "{got}");
        }
        assert_eq!(rows[2][4], "362040.80", "{got}");
    };
    expect(&["--run", "nightly/a", "--run", "nightly/b"]);
    expect(&["--run", "nightly/*"]);
    // Negative equity moved with the values: ONLYFUT (5,000 owed on 4,000) and FUT (9,000 on 5,000).
    let ne = answer(
        &s,
        &[
            "--run",
            "nightly/*",
            "--format",
            "csv",
            "SELECT as_of, SUM(negative_equity) AS ne FROM accounts GROUP BY as_of ORDER BY as_of",
        ],
    );
    assert_eq!(ne, "as_of,ne\n2024-06-30,22000.01\n2024-08-31,27000.01\n");

    // Runs with different columns are refused, naming the difference.
    s.write("c.toml", "segments = [\"state\"]\n");
    s.write(
        "loans2.csv",
        &HAND_LOANS.replace("state,new_used", "region,new_used"),
    );
    let out = s.run(&[
        "run",
        "--loans",
        "loans2.csv",
        "--valuations",
        "valuations.csv",
        "--as-of",
        "2024-06-30",
        "--out",
        "other",
        "-q",
    ]);
    assert_ok(&out);
    let out = query(
        &s,
        &["--run", "nightly/a", "--run", "other", "--by", "as_of"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("region"), "{}", stderr(&out));
    let out = query(&s, &["--run", "nothing/*", "--by", "as_of"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}
