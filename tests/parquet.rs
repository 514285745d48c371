//! `--format parquet` writes the same per-account figures as the CSV, with exact decimal money columns.

mod common;
use common::*;
use polars::prelude::*;

#[test]
fn parquet_accounts_hold_the_same_exact_figures_as_csv() {
    let s = Sandbox::new();
    assert_ok(&s.run(&[
        "generate", "--loans", "500", "--seed", "3", "--out", "book", "-q",
    ]));
    assert_ok(&s.run_generated("csv", &["--format", "csv"]));
    assert_ok(&s.run_generated("pq", &["--format", "parquet"]));
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
    assert!(matches!(
        df.column("negative_equity").unwrap().dtype(),
        DataType::Decimal(38, 2)
    ));
    assert!(matches!(
        df.column("ltv").unwrap().dtype(),
        DataType::Decimal(38, 4)
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
            let cell = match col.get(i).unwrap() {
                AnyValue::Null => String::new(),
                AnyValue::String(v) => v.to_string(),
                AnyValue::StringOwned(v) => v.to_string(),
                other => other.to_string(),
            };
            assert_eq!(cell, row[name], "row {i} column {name}");
        }
    }
}
