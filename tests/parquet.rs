//! `--format parquet` writes the same per-account figures as the CSV, with exact decimal money columns.

use crate::common::*;
use polars::prelude::*;

/// A generated book of `loans` loans run twice: into `csv/` as CSV and into `pq/` as Parquet.
fn csv_and_parquet_runs(loans: &str, seed: &str) -> Sandbox {
    let s = Sandbox::new();
    assert_ok(&s.run(&[
        "generate", "--loans", loans, "--seed", seed, "--out", "book", "-q",
    ]));
    assert_ok(&s.run_generated("csv", &["--format", "csv"]));
    assert_ok(&s.run_generated("pq", &["--format", "parquet"]));
    s
}

/// Row `i` of a Parquet column as accounts.csv writes it (a null as an empty cell).
fn cell(column: &Column, i: usize) -> String {
    match column.get(i).unwrap() {
        AnyValue::Null => String::new(),
        AnyValue::String(v) => v.to_string(),
        AnyValue::StringOwned(v) => v.to_string(),
        other => other.to_string(),
    }
}

#[test]
fn parquet_accounts_hold_the_same_exact_figures_as_csv() {
    let s = csv_and_parquet_runs("500", "3");
    assert!(!s.path("pq/accounts.csv").exists());
    for f in [
        "summary_by_ltv_bucket.csv",
        "summary_by_state.csv",
        "rejects.csv",
    ] {
        assert_eq!(
            s.read(&format!("csv/{f}")),
            s.read(&format!("pq/{f}")),
            "{f}"
        );
    }
    let file = std::fs::File::open(s.path("pq/accounts.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let rows = read_csv(&s.path("csv/accounts.csv"));
    assert_eq!(df.height(), rows.len());
    // Money of a book whose amounts fit 18 digits is kept as 64-bit decimals (README "Parquet").
    assert!(matches!(
        df.column("negative_equity").unwrap().dtype(),
        DataType::Decimal(18, 2)
    ));
    assert!(matches!(
        df.column("ltv").unwrap().dtype(),
        DataType::Decimal(18, 4)
    ));
    for name in [
        "account_id",
        "balance",
        "value",
        "value_date",
        "negative_equity",
        "ltv",
        "ltv_bucket",
        "expected_deficiency",
        "dealer_id",
    ] {
        let col = df.column(name).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let cell = cell(col, i);
            assert_eq!(cell, row[name], "row {i} column {name}");
        }
    }
}

/// The loan's own columns are read back from their CSV-encoded form: quoted text (a comma, a quote, a
/// line break, a neutralized formula) must come back as the loans file held it — what a reader of
/// accounts.csv gets once it removes the formula mark — and each column typed by its values (dates,
/// whole numbers, decimals at their largest scale, else text).
#[test]
fn parquet_loan_columns_hold_quoted_text_as_accounts_csv_shows_it() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due,make,zip,rate,note\n\
         A1,V1,2022-01-15,\"$21,000.00\",60,19000,0,\"Mercedes-Benz, Inc\",02134,1.5,\n\
         A2,V2,2022-02-15,21000.5,72,1000,0,\"say \"\"hi\"\"\",90210,2.25,\"two\nlines\"\n\
         A3,V3,2022-03-15,9000,36,500,0,=HYPERLINK(\"x\"),10001,3,plain\n",
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2022-06-01,15500\nV2,2022-06-01,900\n",
    );
    assert_ok(&s.run_loans("csv", &["--as-of", "2022-06-30"]));
    assert_ok(&s.run_loans("pq", &["--as-of", "2022-06-30", "--format", "parquet"]));
    let file = std::fs::File::open(s.path("pq/accounts.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let rows = read_csv(&s.path("csv/accounts.csv"));
    let types = [
        ("origination_date", DataType::Date),
        ("amount_financed", DataType::Decimal(18, 2)),
        ("term_months", DataType::Int64),
        ("make", DataType::String),
        ("zip", DataType::String),
        ("rate", DataType::Decimal(18, 2)),
        ("note", DataType::String),
    ];
    for (name, dtype) in types {
        let col = df.column(name).unwrap();
        assert_eq!(col.dtype(), &dtype, "{name}");
        for (i, row) in rows.iter().enumerate() {
            let cell = cell(col, i);
            if matches!(dtype, DataType::Decimal(..)) {
                let number = |t: &str| t.parse::<rust_decimal::Decimal>().unwrap();
                assert_eq!(number(&cell), number(&row[name]), "row {i} column {name}");
            } else {
                let written = row[name].strip_prefix('\'').unwrap_or(&row[name]);
                assert_eq!(cell, written, "row {i} column {name}");
            }
        }
    }
    let make: Vec<&str> = rows.iter().map(|r| r["make"].as_str()).collect();
    assert_eq!(
        make,
        ["Mercedes-Benz, Inc", "say \"hi\"", "'=HYPERLINK(\"x\")"]
    );
    assert_eq!(rows[1]["note"], "two\nlines");
}

/// A loan column holding a 25-digit number and a 12-place decimal was typed Decimal at scale 12: the
/// 25-digit value, rescaled past rust_decimal's 28 digits, was written as 12345678901234567.89012345,
/// a silently wrong number. A column whose values need more than 28 digits at one scale stays text.
#[test]
fn regression_a_long_number_beside_a_fine_decimal_lost_digits_in_parquet() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        &format!(
            "{LOAN_HEADER},big,fine\n\
             A1,V1,2022-01-15,21000,60,19000,0,1234567890123456789012345,1234567890123456.5\n\
             A2,V2,2022-01-15,21000,60,19000,0,0.123456789012,0.123456789012\n"
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2022-06-01,15500\n",
    );
    assert_ok(&s.run_loans("pq", &["--as-of", "2022-06-30", "--format", "parquet"]));
    let file = std::fs::File::open(s.path("pq/accounts.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let big = df.column("big").unwrap();
    assert_eq!(big.dtype(), &DataType::String);
    assert_eq!(
        big.get(0).unwrap().get_str(),
        Some("1234567890123456789012345")
    );
    // 16 + 12 digits fit rust_decimal's 28: a decimal, exact.
    let fine = df.column("fine").unwrap();
    assert_eq!(fine.dtype(), &DataType::Decimal(38, 12));
    assert_eq!(
        fine.get(0).unwrap().to_string(),
        "1234567890123456.500000000000"
    );
}

/// The LTV columns and decimal loan columns are 18-digit decimals only where every value fits: the
/// largest balance a loan may have ($999,999,999,999) over a 1-cent value is an LTV of about 10^14,
/// which does not, and must be written whole rather than refused or cut; a book of ordinary ratios is
/// narrow (and reads back the same).
#[test]
fn ratios_and_loan_decimals_beyond_18_digits_are_written_wide_and_whole() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        &format!(
            "{LOAN_HEADER},origination_value,rate,big\n\
             A1,V1,2022-01-15,999999999999,60,999999999999,0,0.01,1.5,1234567890123456.78\n\
             A2,V2,2022-01-15,21000,60,19000,0,15000,2.25,1.5\n"
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2022-06-01,0.01\nV2,2022-06-01,15500\n",
    );
    assert_ok(&s.run_loans("wide", &["--as-of", "2022-06-30", "--format", "parquet"]));
    let read = |dir: &str| {
        let file = std::fs::File::open(s.path(&format!("{dir}/accounts.parquet"))).unwrap();
        ParquetReader::new(file).finish().unwrap()
    };
    let df = read("wide");
    let text = |name: &str, i: usize| df.column(name).unwrap().get(i).unwrap().to_string();
    assert_eq!(df.column("ltv").unwrap().dtype(), &DataType::Decimal(38, 4));
    // 999,999,999,999 / 0.01, both for the balance and the amount financed (worked by hand).
    assert_eq!(text("ltv", 0), "99999999999900.0000");
    assert_eq!(
        df.column("origination_ltv").unwrap().dtype(),
        &DataType::Decimal(38, 4)
    );
    assert_eq!(text("origination_ltv", 0), "99999999999900.0000");
    assert_eq!(text("ltv", 1), "1.2258"); // 19,000 / 15,500
                                          // 16 + 2 digits fit 18; the other loan decimal too.
    assert_eq!(df.column("big").unwrap().dtype(), &DataType::Decimal(18, 2));
    assert_eq!(text("big", 0), "1234567890123456.78");
    assert_eq!(
        df.column("rate").unwrap().dtype(),
        &DataType::Decimal(18, 2)
    );

    // Without the tiny values every ratio fits: narrow, and the same figures.
    s.write(
        "loans.csv",
        &format!(
            "{LOAN_HEADER},origination_value,rate,big\n\
             A2,V2,2022-01-15,21000,60,19000,0,15000,2.25,12345678901234567.8\n"
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV2,2022-06-01,15500\n",
    );
    assert_ok(&s.run_loans("narrow", &["--as-of", "2022-06-30", "--format", "parquet"]));
    let df = read("narrow");
    let text = |name: &str| df.column(name).unwrap().get(0).unwrap().to_string();
    assert_eq!(df.column("ltv").unwrap().dtype(), &DataType::Decimal(18, 4));
    assert_eq!(text("ltv"), "1.2258"); // 19,000 / 15,500
    assert_eq!(text("origination_ltv"), "1.4000"); // 21,000 / 15,000
                                                   // 17 + 1 digits: still 18; one more digit would not be.
    assert_eq!(df.column("big").unwrap().dtype(), &DataType::Decimal(18, 1));
    assert_eq!(text("big"), "12345678901234567.8");
}

/// A book of more than one row group (2^17 accounts each) is written a group at a time while the next
/// is built: every account must be there once, in accounts.csv's order, with the same money.
#[test]
fn parquet_of_several_row_groups_holds_every_account_in_order() {
    let s = csv_and_parquet_runs("140000", "5");
    let file = std::fs::File::open(s.path("pq/accounts.parquet")).unwrap();
    let mut reader = ParquetReader::new(file);
    assert_eq!(reader.num_rows().unwrap(), 140_000);
    let df = reader.finish().unwrap();
    let rows = read_csv(&s.path("csv/accounts.csv"));
    assert_eq!(df.height(), rows.len());
    let ids = df.column("account_id").unwrap().str().unwrap().clone();
    let ne = df.column("negative_equity").unwrap();
    let mut total = rust_decimal::Decimal::ZERO;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(ids.get(i), Some(row["account_id"].as_str()), "row {i}");
        // Empty for an account with no value (a null in Parquet).
        if let Ok(d) = row["negative_equity"].parse::<rust_decimal::Decimal>() {
            total += d;
        }
        if i % 9973 == 0 {
            assert_eq!(cell(ne, i), row["negative_equity"], "row {i}");
        }
    }
    let sum = ne.as_materialized_series().sum_reduce().unwrap();
    assert_eq!(sum.value().to_string(), total.to_string());
}

#[test]
fn query_sees_the_same_decimals_in_a_parquet_run_as_in_a_csv_run() {
    // accounts.parquet keeps money as 18-digit decimals; query widens them back to 38 digits, so
    // products far beyond 18 digits (and their sums) answer exactly as on accounts.csv.
    let s = csv_and_parquet_runs("300", "5");
    let sql = "SELECT SUM(balance * balance * balance * balance) AS fourth, MAX(negative_equity * value * value) \
               AS m, SUM(expected_deficiency) AS ed, MIN(pd) AS pd FROM accounts";
    let answer = |run: &str| {
        let out = s.run(&["query", "-q", "--run", run, "--format", "csv", sql]);
        assert_ok(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let (csv, pq) = (answer("csv"), answer("pq"));
    assert_eq!(csv, pq);
    // And the same types: a query's own Parquet output of a money column is `Decimal(38, 2)` from both.
    for run in ["csv", "pq"] {
        let out = format!("{run}-balance.parquet");
        let args = [
            "query",
            "-q",
            "--run",
            run,
            "SELECT balance FROM accounts",
            "-o",
            &out,
        ];
        assert_ok(&s.run(&args));
        let df = ParquetReader::new(std::fs::File::open(s.path(&out)).unwrap())
            .finish()
            .unwrap();
        assert_eq!(
            df.column("balance").unwrap().dtype(),
            &DataType::Decimal(38, 2),
            "{run}"
        );
    }
    // Fourth powers of balances of thousands of dollars, summed: past 18 digits.
    let fourth = csv.lines().nth(1).unwrap().split(',').next().unwrap();
    assert!(fourth.split('.').next().unwrap().len() > 18, "{csv}");
}

/// The VINs of a Parquet part (trimmed, upper case: as matched).
fn part_vins(s: &Sandbox, file: &str) -> std::collections::BTreeSet<String> {
    let df = ParquetReader::new(std::fs::File::open(s.path(file)).unwrap())
        .finish()
        .unwrap();
    let vins = df.column("vin").unwrap().str().unwrap().clone();
    vins.iter()
        .map(|v| v.unwrap_or("").trim().to_ascii_uppercase())
        .collect()
}

#[test]
fn generated_parts_split_the_book_by_vin_and_their_tables_sum_to_the_whole_books() {
    let s = Sandbox::new();
    assert_ok(&s.run(&[
        "generate", "--loans", "3000", "--seed", "8", "--out", "book", "--parts", "3", "-q",
    ]));
    assert_ok(&s.run_generated("whole", &[]));
    let mut sums: std::collections::BTreeMap<(String, String), rust_decimal::Decimal> =
        Default::default();
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..3 {
        let (loans, valuations) = (
            format!("book/parts/loans/part-{i:05}.parquet"),
            format!("book/parts/valuations/part-{i:05}.parquet"),
        );
        // A VIN lies in one part only, its loans and valuations together.
        let vins = part_vins(&s, &loans);
        assert!(
            vins.is_disjoint(&seen),
            "part {i} shares a VIN with an earlier part"
        );
        assert!(part_vins(&s, &valuations).is_disjoint(&seen));
        seen.extend(vins);
        let out = format!("p{i}");
        assert_ok(&s.run(&[
            "run",
            "--loans",
            &loans,
            "--valuations",
            &valuations,
            "--as-of",
            "2025-06-30",
            "--out",
            &out,
            "-q",
        ]));
        for row in read_csv(&s.path(&format!("{out}/summary_by_ltv_bucket.csv"))) {
            for (column, cell) in &row {
                if column != "ltv_bucket" {
                    *sums
                        .entry((row["ltv_bucket"].clone(), column.clone()))
                        .or_default() += cell.parse::<rust_decimal::Decimal>().unwrap();
                }
            }
        }
    }
    let whole = read_csv(&s.path("whole/summary_by_ltv_bucket.csv"));
    for row in &whole {
        for (column, cell) in row {
            if column != "ltv_bucket" {
                let sum = sums[&(row["ltv_bucket"].clone(), column.clone())];
                assert_eq!(sum.to_string(), *cell, "{} {column}", row["ltv_bucket"]);
            }
        }
    }
    assert_eq!(whole.last().unwrap()["accounts"], "3000");
}

#[test]
fn a_parquet_input_is_read_as_its_csv_text_and_its_rejects_name_the_row() {
    let s = Sandbox::new();
    let loans = "account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due\n\
                 P1,1HGCM82633A004352,2023-01-15,25000.00,72,19000.00,0\n\
                 P2,1HGCM82633A004353,2023-01-15,25000.00,72,not-money,0\n";
    s.write("loans.csv", loans);
    s.write("valuations.csv", &hand_valuations());
    let mut frame = CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(s.path("loans.csv")))
        .unwrap()
        .finish()
        .unwrap();
    ParquetWriter::new(std::fs::File::create(s.path("loans.parquet")).unwrap())
        .finish(&mut frame)
        .unwrap();
    assert_ok(&s.run(&book_args("csv", &["--as-of", "2025-06-30"], true)));
    assert_ok(&s.run(&[
        "run",
        "--loans",
        "loans.parquet",
        "--valuations",
        "valuations.csv",
        "--as-of",
        "2025-06-30",
        "--out",
        "pq",
        "-q",
    ]));
    assert_eq!(s.read("csv/accounts.csv"), s.read("pq/accounts.csv"));
    assert_eq!(
        s.read("csv/summary_by_ltv_bucket.csv"),
        s.read("pq/summary_by_ltv_bucket.csv")
    );
    // Line 3 of the CSV is the Parquet file's row 1 (counted from 0, as a frame's rows are).
    let csv_reject = &read_csv(&s.path("csv/rejects.csv"))[0];
    let pq_reject = &read_csv(&s.path("pq/rejects.csv"))[0];
    assert_eq!(
        (csv_reject["line"].as_str(), pq_reject["line"].as_str()),
        ("3", "1")
    );
    assert_eq!(pq_reject["file"], "loans.parquet");
    for k in ["field", "reason", "raw_record"] {
        assert_eq!(csv_reject[k], pq_reject[k], "{k}");
    }
}
