//! Queries over raw inputs (`--loans`, `--valuations`): the accounts, valuations and rejects tables
//! as a run would write them.

use super::*;

/// The sample book's input paths, after a run of them (as of 2025-06-30, default config) into `out`.
fn sample_inputs_run(s: &Sandbox) -> (String, String) {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let path = |name: &str| data.join(name).to_str().unwrap().to_string();
    let (loans, vals) = (path("loans.csv"), path("valuations.csv"));
    assert_ok(&s.run(&[
        "run",
        "--loans",
        &loans,
        "--valuations",
        &vals,
        "--as-of",
        "2025-06-30",
        "--out",
        "out",
        "-q",
    ]));
    (loans, vals)
}

/// A CSV answer from the raw inputs, as of 2025-06-30.
fn raw_answer(s: &Sandbox, loans: &str, vals: &str, sql: &str) -> String {
    answer(
        s,
        &[
            "--loans",
            loans,
            "--valuations",
            vals,
            "--as-of",
            "2025-06-30",
            "--format",
            "csv",
            sql,
        ],
    )
}

/// The rejects were nowhere in query: now a `rejects` table (file, line, field, reason, raw_record), from
/// a run's rejects.csv or computed with the raw inputs, the same rows either way.
#[test]
fn rejects_table_in_run_and_raw_modes() {
    let s = Sandbox::new();
    let (loans, vals) = sample_inputs_run(&s);
    let (loans, vals) = (loans.as_str(), vals.as_str());
    let sql = "SELECT line, field FROM rejects ORDER BY file, line";
    let from_run = answer(&s, &["--run", "out", "--format", "csv", sql]);
    let raw = raw_answer(&s, loans, vals, sql);
    assert_eq!(from_run, raw);
    // One row per line of rejects.csv, in the same order.
    let want: String = read_csv(&s.path("out/rejects.csv"))
        .iter()
        .map(|r| format!("{},{}\n", r["line"], r["field"]))
        .collect();
    assert_eq!(from_run, format!("line,field\n{want}"));
    assert_eq!(from_run.lines().count(), 1 + 16);
}

/// In raw-input mode `valuations.value` was text and still held the rows `run` rejected. It now holds
/// the accepted rows, typed, so joins and sums on it are exact.
#[test]
fn regression_raw_valuations_were_text_and_held_rejected_rows() {
    let s = Sandbox::new();
    let (loans, vals) = sample_inputs_run(&s);
    let (loans, vals) = (loans.as_str(), vals.as_str());
    // Independently: every data line of valuations.csv whose line rejects.csv does not name.
    let rejected: std::collections::BTreeSet<u64> = read_csv(&s.path("out/rejects.csv"))
        .iter()
        .filter(|r| r["file"].ends_with("valuations.csv"))
        .map(|r| r["line"].parse().unwrap())
        .collect();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(vals)
        .unwrap();
    let (mut n, mut total) = (0u64, rust_decimal::Decimal::ZERO);
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.unwrap();
        if rejected.contains(&(i as u64 + 2)) {
            continue;
        }
        n += 1;
        total += rec[2]
            .replace(['$', ','], "")
            .parse::<rust_decimal::Decimal>()
            .unwrap();
    }
    let got = raw_answer(
        &s,
        loans,
        vals,
        "SELECT COUNT(*) AS n, SUM(value) AS v FROM valuations",
    );
    assert_eq!(got, format!("n,v\n{n},{total:.2}\n"));
    // Dates are dates: the latest valuation on or before as_of of one VIN, by SQL, is the matched one.
    let joined = raw_answer(
        &s,
        loans,
        vals,
        "SELECT COUNT(*) AS n FROM accounts a JOIN (SELECT vin, MAX(valuation_date) AS d FROM valuations \
         WHERE valuation_date <= CAST('2025-06-30' AS DATE) GROUP BY vin) m ON a.vin = m.vin \
         WHERE a.value_date = m.d",
    );
    let valued = read_csv(&s.path("out/accounts.csv"))
        .iter()
        .filter(|r| !r["value_date"].is_empty())
        .count();
    assert_eq!(joined, format!("n\n{valued}\n"));
}

/// In raw-input mode `accounts` is a scan that builds only the columns a query reads. Whatever it
/// reads, every cell must be accounts.csv's: all columns, a few, one computed and one loan column, a
/// join of two reads of the table, and no column at all (a count).
#[test]
fn raw_accounts_hold_accounts_csv_whatever_columns_a_query_reads() {
    let s = Sandbox::new();
    let (loans, vals) = sample_inputs_run(&s);
    let (loans, vals) = (loans.as_str(), vals.as_str());
    let rows = read_csv(&s.path("out/accounts.csv"));
    let header: Vec<String> = s
        .read("out/accounts.csv")
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let money = |t: &str| t.parse::<rust_decimal::Decimal>().ok();
    let same =
        |got: &str, want: &str| got == want || (money(got).is_some() && money(got) == money(want));
    for columns in [
        header.clone(),
        vec![
            "account_id".to_string(),
            "negative_equity".to_string(),
            "state".to_string(),
        ],
        vec!["months_to_positive_equity".to_string(), "make".to_string()],
    ] {
        let sql = format!(
            "SELECT {} FROM accounts ORDER BY account_id",
            columns.join(", ")
        );
        let got = raw_answer(&s, loans, vals, &sql);
        let mut reader = csv::Reader::from_reader(got.as_bytes());
        let answer: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(answer.len(), rows.len(), "{sql}");
        for (record, row) in answer.iter().zip(&rows) {
            for (c, name) in columns.iter().enumerate() {
                assert!(
                    same(&record[c], &row[name]),
                    "{name}: {} against {}",
                    &record[c],
                    row[name]
                );
            }
        }
    }
    let joined = raw_answer(
        &s,
        loans,
        vals,
        "SELECT COUNT(*) AS n, SUM(b.balance) AS b FROM accounts a JOIN accounts b ON a.account_id = b.account_id",
    );
    let balance: rust_decimal::Decimal = rows.iter().map(|r| money(&r["balance"]).unwrap()).sum();
    assert_eq!(joined, format!("n,b\n{},{balance}\n", rows.len()));
    let count = raw_answer(&s, loans, vals, "SELECT COUNT(*) AS n FROM accounts");
    assert_eq!(count, format!("n\n{}\n", rows.len()));
    // A LIMIT is a slice polars may hand to the scan; with a filter it must come after the filter.
    let underwater: Vec<&str> = rows
        .iter()
        .filter(|r| money(&r["negative_equity"]).is_some_and(|d| d > rust_decimal::Decimal::ZERO))
        .map(|r| r["account_id"].as_str())
        .take(3)
        .collect();
    for sql in [
        "SELECT account_id FROM accounts WHERE negative_equity > 0 LIMIT 3",
        "SELECT account_id FROM accounts WHERE negative_equity > 0 ORDER BY account_id LIMIT 3",
    ] {
        let got = raw_answer(&s, loans, vals, sql);
        assert_eq!(
            got,
            format!("account_id\n{}\n", underwater.join("\n")),
            "{sql}"
        );
    }
    let first = raw_answer(&s, loans, vals, "SELECT account_id FROM accounts LIMIT 2");
    assert_eq!(
        first,
        format!(
            "account_id\n{}\n{}\n",
            rows[0]["account_id"], rows[1]["account_id"]
        )
    );
}
