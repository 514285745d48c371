//! Hostile input: generated garbage after a valid header, invalid UTF-8, NUL bytes, unbalanced quotes,
//! embedded newlines, huge fields and very wide rows. The program must never panic or hang, and for every
//! input rows read = accepted + rejected, with rows read equal to the records an independent CSV reader sees.

use crate::common::*;
use proptest::prelude::*;
use underwater::config::{Config, Format, RunArgs};
use underwater::progress::Progress;

const HEADER: &str =
    "account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due\n";

fn config(s: &Sandbox, chunk_bytes: usize) -> Config {
    Config::build(RunArgs {
        loans: s.path("loans.csv"),
        valuations: Some(s.path("valuations.csv")),
        tape: None,
        tape_period: None,
        out: s.path("out"),
        config_file: None,
        as_of: Some("2024-06-30".into()),
        format: Format::Csv,
        threads: Some(2),
        quiet: true,
        chunk_bytes,
        max_reject_rate: None,
        fail_on_stale: None,
        no_outlook: false,
        no_lifetime: false,
        previous: None,
    })
    .unwrap()
}

/// Records after the header as the `csv` crate itself counts them (blank lines are not records).
fn csv_records(bytes: &[u8]) -> u64 {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    let mut n = 0;
    while let Ok(true) = rdr.read_byte_record(&mut rec) {
        n += 1;
    }
    n
}

/// Runs the pipeline in-process on `loans` bytes; checks the accounting identity.
fn check(loans: &[u8], chunk_bytes: usize) -> Result<(), TestCaseError> {
    let s = Sandbox::new();
    s.write_bytes("loans.csv", loans);
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-01-01,100\n",
    );
    match underwater::book::build(&config(&s, chunk_bytes).plan(), Progress::hidden()) {
        Ok(book) => {
            let c = book.loaded.counts;
            prop_assert_eq!(c.read, c.accepted + c.rejected);
            prop_assert_eq!(c.read, csv_records(loans));
            prop_assert_eq!(book.loaded.loans.len() as u64, c.accepted);
            for r in &book.rejects {
                prop_assert!(r.line >= 2 && !r.reason.is_empty());
            }
        }
        // A whole-file error (not CSV, bad header) is allowed; a panic is not.
        Err(e) => prop_assert_eq!(underwater::error::Error::from(e).exit_code(), 3),
    }
    Ok(())
}

fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop::sample::select(vec![
        &b"A1,V1,2022-01-01,100,60,50.00,0\n"[..],
        b"\"",
        b",",
        b"\n",
        b"\r\n",
        b"\r",
        b"\0",
        b"\xff\xfe",
        b"\xc3",
        b"$1,000.00",
        b"\"a,b\"",
        b"\"multi\nline\"",
        b"2024-02-30",
        b"-5",
        b"9999999999999999999999",
        b"=cmd|' /C calc'!A0",
        b" ",
        b"A1",
        b"V1",
        b"\xEF\xBB\xBF",
    ]);
    prop::collection::vec(
        prop_oneof![
            atoms.prop_map(|a| a.to_vec()),
            any::<u8>().prop_map(|b| vec![b])
        ],
        0..120,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    // 2,000 cases per test on every run; PROPTEST_CASES=N runs a longer fuzzing session.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2000)
    ))]

    #[test]
    fn garbage_after_a_valid_header_is_accounted_for(body in hostile_bytes(), chunk in 1usize..64) {
        let mut loans = HEADER.as_bytes().to_vec();
        loans.extend(&body);
        check(&loans, chunk)?;
    }

    #[test]
    fn garbage_anywhere_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&bytes, 4096)?;
    }

    #[test]
    fn amount_parser_round_trips_what_it_accepts(text in "[-$0-9,. ]{0,24}") {
        if let Ok(d) = underwater::money::parse_amount(&text) {
            prop_assert_eq!(underwater::money::parse_amount(&d.to_string()), Ok(d));
        }
    }
}

#[test]
fn one_megabyte_field_and_ten_thousand_columns() {
    let mut loans = HEADER.as_bytes().to_vec();
    loans.extend(format!("A1,V1,2022-01-01,100,60,\"{}\",0\n", "9".repeat(1 << 20)).as_bytes());
    loans.extend(format!("A2,{}\n", vec!["x"; 10_000].join(",")).as_bytes());
    loans.extend(b"A3,V1,2022-01-01,100,60,50.00,0\n");
    let s = Sandbox::new();
    s.write_bytes("loans.csv", &loans);
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-01-01,100\n",
    );
    let book = underwater::book::build(&config(&s, 1 << 16).plan(), Progress::hidden()).unwrap();
    assert_eq!(
        (
            book.loaded.counts.read,
            book.loaded.counts.accepted,
            book.loaded.counts.rejected
        ),
        (3, 1, 2)
    );
    let lines: Vec<u64> = book.rejects.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 3]);
}

#[test]
fn no_newline_at_end_and_unbalanced_quote() {
    let s = Sandbox::new();
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-01-01,100",
    );
    s.write("loans.csv", &format!("{HEADER}A1,V1,2022-01-01,100,60,50.00,0\nA2,\"V2,2022-01-01,100,60,50.00,0\nA3,V3,2022-01-01,100,60,50.00,0"));
    let book = underwater::book::build(&config(&s, 16).plan(), Progress::hidden()).unwrap();
    // The unbalanced quote swallows the rest of the file into one bad record, as in any CSV reader.
    assert_eq!(
        (
            book.loaded.counts.read,
            book.loaded.counts.accepted,
            book.loaded.counts.rejected
        ),
        (2, 1, 1)
    );
    assert_eq!(book.rejects[0].line, 3);
    assert_eq!(book.valuation_counts.accepted, 1);
}

/// Found by `garbage_after_a_valid_header_is_accounted_for`: `csv` strips a BOM at the start of its input,
/// so a row beginning with BOM bytes lost them (and changed its account id) when it happened to start a chunk.
#[test]
fn regression_bom_at_the_start_of_a_chunk_is_kept() {
    let mut loans = HEADER.as_bytes().to_vec();
    loans.extend(
        b"A1,V1,2022-01-01,100,60,50.00,0
\xEF\xBB\xBFA2,V1,2022-01-01,100,60,50.00,0
",
    );
    let s = Sandbox::new();
    s.write_bytes("loans.csv", &loans);
    s.write("valuations.csv", "vin,valuation_date,value\n");
    for chunk in [1, 4096] {
        let book = underwater::book::build(&config(&s, chunk).plan(), Progress::hidden()).unwrap();
        let ids: Vec<&str> = book
            .loaded
            .order
            .iter()
            .map(|&i| book.loaded.loans[i as usize].account_id())
            .collect();
        assert_eq!(ids, ["A1", "\u{feff}A2"], "chunk size {chunk}");
    }
}

/// A large file (many default-size chunks) with one bad row near the end reports exactly that line.
#[test]
fn one_bad_row_near_the_end_of_a_large_file_reports_its_line() {
    let rows = 400_000u64;
    let bad_line = rows - 1; // the header is line 1, so data row k is on line k + 1
    let mut loans = String::with_capacity(rows as usize * 40 + HEADER.len());
    loans.push_str(HEADER);
    for k in 1..=rows {
        if k + 1 == bad_line {
            loans.push_str(&format!("A{k},V1,2022-01-01,100,60,12.3.4,0\n"));
        } else {
            loans.push_str(&format!("A{k},V1,2022-01-01,100,60,50.00,0\n"));
        }
    }
    let s = Sandbox::new();
    s.write("loans.csv", &loans);
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-01-01,100\n",
    );
    let book = underwater::book::build(
        &config(&s, underwater::input::reader::CHUNK_BYTES).plan(),
        Progress::hidden(),
    )
    .unwrap();
    assert!(
        loans.len() > 3 * underwater::input::reader::CHUNK_BYTES,
        "spans several chunks"
    );
    assert_eq!(
        (book.loaded.counts.read, book.loaded.counts.rejected),
        (rows, 1)
    );
    assert_eq!(book.rejects[0].line, bad_line);
    assert_eq!(book.rejects[0].field, "current_balance");
}

const VAL_HEADER: &str = "vin,valuation_date,value,source\n";

fn hostile_valuations() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop::sample::select(vec![
        &b"V1,2024-06-01,15500.00,kbb\n"[..],
        b"v1 ,2024-06-01,\"$9,000\",nada\n",
        b"\"",
        b",",
        b"\n",
        b"\r\n",
        b"\0",
        b"\xff",
        b"0",
        b"-1",
        b"2024-13-01",
        b"=HYPERLINK(\"x\")",
        b"\xe2\x80\xae",
        b"V1",
    ]);
    prop::collection::vec(
        prop_oneof![
            atoms.prop_map(|a| a.to_vec()),
            any::<u8>().prop_map(|b| vec![b])
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

/// Checks a finished run end to end, writers included: exit 0 with rows read = accepted + rejected
/// for both inputs and one rejects.csv line per rejected row, or a whole-file error (exit 3). Never a
/// panic (exit 1) and never a signal.
fn check_binary(s: &Sandbox) -> Result<(), TestCaseError> {
    let out = s.run(&[
        "run",
        "--loans",
        "loans.csv",
        "--valuations",
        "valuations.csv",
        "--as-of",
        "2024-06-30",
        "--out",
        "out",
        "-q",
    ]);
    match out.status.code() {
        Some(0) => {
            let j: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
            let mut rejected = 0;
            for input in ["loans", "valuations"] {
                let i = &j["manifest"]["inputs"][input];
                let (read, ok, bad) = (
                    i["rows_read"].as_u64().unwrap(),
                    i["rows_accepted"].as_u64().unwrap(),
                    i["rows_rejected"].as_u64().unwrap(),
                );
                prop_assert_eq!(read, ok + bad, "{}", input);
                rejected += bad;
            }
            let rejects = read_csv(&s.path("out/rejects.csv"));
            // Duplicate ids are rejected once per row; each reject is one line.
            prop_assert_eq!(rejects.len() as u64, rejected);
            for r in &rejects {
                for cell in r.values() {
                    prop_assert!(
                        !cell.contains('\0') && !cell.contains('\u{202e}'),
                        "{cell:?}"
                    );
                    prop_assert!(!cell.starts_with('='), "{cell:?}");
                }
            }
            let accounts = read_csv(&s.path("out/accounts.csv"));
            let loans = &j["manifest"]["inputs"]["loans"];
            prop_assert_eq!(
                accounts.len() as u64,
                loans["rows_accepted"].as_u64().unwrap()
            );
        }
        Some(3) => {}
        code => prop_assert!(false, "exit {:?}: {}", code, stderr(&out)),
    }
    Ok(())
}

proptest! {
    // Each case runs the binary: fewer cases than the in-process tests.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(150)
    ))]

    /// The valuations file was fuzzed nowhere, and the binary with its writers only on the loans side.
    #[test]
    fn hostile_valuations_and_loans_through_the_binary(vals in hostile_valuations(), body in hostile_bytes()) {
        let s = Sandbox::new();
        let mut loans = HEADER.as_bytes().to_vec();
        loans.extend(b"A1,V1,2022-01-01,100,60,50.00,0\n");
        loans.extend(&body);
        s.write_bytes("loans.csv", &loans);
        let mut v = VAL_HEADER.as_bytes().to_vec();
        v.extend(&vals);
        s.write_bytes("valuations.csv", &v);
        check_binary(&s)?;
    }
}
