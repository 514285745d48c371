//! Dirty inputs: every bad row goes to rejects.csv with its file, line, field and reason; the run goes
//! on; rows read = accepted + rejected for every input.

use crate::common::*;

/// A hand-made export with a BOM, CRLF line ends, a quoted comma, a record spanning two lines,
/// US-formatted amounts, and one row of each kind of problem. Line numbers are in the comments.
fn dirty_loans() -> Vec<u8> {
    let lines = [
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due,make", // 1
        "OK1,VIN1,2022-01-15,\"$21,000.00\",60,\"$19,000.00\",0,\"Mercedes-Benz, Inc\"",                    // 2
        "OK2,VIN2,2022-01-15,21000,60,\"1,000.5\",0,\"two\nline make\"",                                   // 3-4
        "BADCOUNT,VIN3,2022-01-15,21000,60,100.00,0",                                                      // 5
        "BADAMT,VIN4,2022-01-15,21000,60,1.000.00,0,x",                                                    // 6
        "BADDATE,VIN5,2022-02-30,21000,60,100.00,0,x",                                                     // 7
        ",VIN6,2022-01-15,21000,60,100.00,0,x",                                                            // 8
        "NEG,VIN7,2022-01-15,21000,60,-5.00,0,x",                                                          // 9
        "DUP,VIN8,2022-01-15,21000,60,100.00,0,x",                                                         // 10
        "BADGROUP,VIN9,2022-01-15,21000,60,\"1,00\",0,x",                                                  // 11
        "DUP,VIN10,2022-01-15,21000,60,200.00,0,x",                                                        // 12
        "ZEROTERM,VIN11,2022-01-15,21000,0,100.00,0,x",                                                    // 13
        "BADDPD,VIN12,2022-01-15,21000,60,100.00,-3,x",                                                    // 14
        "",                                                                                                // 15 (blank: not a row)
        "OK3,VIN13,2022-01-15,21000,60,0,,=HYPERLINK(\"x\")",                                              // 16
    ];
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(lines.join("\r\n").into_bytes());
    bytes.extend(b"\r\n");
    bytes
}

const DIRTY_VALUATIONS: &str = "vin,valuation_date,value\nVIN1,2024-06-01,\"$15,500.00\"\nVIN2,2024-06-01,0\nVIN2,06/01/2024,100\nVIN13,2024-06-01,abc\nVIN13,2024-06-01,100,extra\n";

#[test]
fn every_bad_row_is_rejected_with_its_line_and_reason() {
    let s = Sandbox::new();
    s.write_bytes("loans.csv", &dirty_loans());
    s.write("valuations.csv", DIRTY_VALUATIONS);
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let rejects = read_csv(&s.path("out/rejects.csv"));
    let got: Vec<(String, String, String)> = rejects
        .iter()
        .map(|r| (r["file"].clone(), r["line"].clone(), r["field"].clone()))
        .collect();
    let want: Vec<(String, String, String)> = [
        ("loans.csv", "5", ""),
        ("loans.csv", "6", "current_balance"),
        ("loans.csv", "7", "origination_date"),
        ("loans.csv", "8", "account_id"),
        ("loans.csv", "9", "current_balance"),
        ("loans.csv", "10", "account_id"),
        ("loans.csv", "11", "current_balance"),
        ("loans.csv", "12", "account_id"),
        ("loans.csv", "13", "term_months"),
        ("loans.csv", "14", "days_past_due"),
        ("valuations.csv", "3", "value"),
        ("valuations.csv", "4", "valuation_date"),
        ("valuations.csv", "5", "value"),
        ("valuations.csv", "6", ""),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);
    let dup = &rejects[5];
    assert!(
        dup["reason"].contains("duplicate account_id") && dup["reason"].contains("lines 10, 12"),
        "{dup:?}"
    );
    assert_eq!(dup["raw_record"], "DUP,VIN8,2022-01-15,21000,60,100.00,0,x");
    assert!(
        rejects[1]["reason"].contains("1.000.00"),
        "{:?}",
        rejects[1]
    );

    let accounts = read_csv(&s.path("out/accounts.csv"));
    let ids: Vec<&str> = accounts.iter().map(|r| r["account_id"].as_str()).collect();
    assert_eq!(ids, ["OK1", "OK2", "OK3"]);
    assert_eq!(accounts[0]["balance"], "19000.00");
    assert_eq!(accounts[0]["amount_financed"], "21000.00");
    assert_eq!(accounts[0]["value"], "15500.00");
    assert_eq!(accounts[0]["negative_equity"], "3500.00");
    assert_eq!(accounts[0]["make"], "Mercedes-Benz, Inc");
    assert_eq!(accounts[1]["balance"], "1000.50");
    assert_eq!(accounts[1]["make"], "two\nline make");
    // A formula from the input is neutralized, never executed by a spreadsheet.
    assert_eq!(accounts[2]["make"], "'=HYPERLINK(\"x\")");

    // Tiny chunks cut the file at every record boundary, including inside the CRLF and quoted lines.
    assert_ok(&s.run_loans(
        "small",
        &[
            "--as-of",
            "2024-06-30",
            "--chunk-bytes",
            "7",
            "--threads",
            "3",
        ],
    ));
    assert_eq!(
        outputs_without_times(&s.path("out")),
        outputs_without_times(&s.path("small"))
    );

    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    let loans = &json["manifest"]["inputs"]["loans"];
    assert_eq!(
        (
            loans["rows_read"].as_u64(),
            loans["rows_accepted"].as_u64(),
            loans["rows_rejected"].as_u64()
        ),
        (Some(13), Some(3), Some(10))
    );
    let vals = &json["manifest"]["inputs"]["valuations"];
    assert_eq!(
        (
            vals["rows_read"].as_u64(),
            vals["rows_accepted"].as_u64(),
            vals["rows_rejected"].as_u64()
        ),
        (Some(5), Some(1), Some(4))
    );
}

#[test]
fn generated_dirty_book_rejects_exactly_what_its_manifest_lists() {
    let s = Sandbox::new();
    let out = s.run(&[
        "generate", "--loans", "5000", "--seed", "11", "--out", "book", "--dirty", "-q",
    ]);
    assert_ok(&out);
    let run = s.run_generated("out", &[]);
    assert_ok(&run);
    let manifest = read_csv(&s.path("book/dirty_manifest.csv"));
    let rejects = read_csv(&s.path("out/rejects.csv"));
    let rejected: std::collections::BTreeSet<(String, String)> = rejects
        .iter()
        .map(|r| {
            (
                r["file"].trim_start_matches("book/").to_string(),
                r["line"].clone(),
            )
        })
        .collect();
    let expected: std::collections::BTreeSet<(String, String)> = manifest
        .iter()
        .filter(|m| m["expected"] == "reject")
        .map(|m| (m["file"].clone(), m["line"].clone()))
        .collect();
    assert!(
        expected.len() >= 20,
        "the generator injected {} bad rows",
        expected.len()
    );
    assert_eq!(
        rejected, expected,
        "rejects differ from the generator's manifest"
    );
    let accepted_injections = manifest
        .iter()
        .filter(|m| m["expected"] == "accept")
        .count();
    assert!(accepted_injections > 0);
    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    for input in ["loans", "valuations"] {
        let i = &json["manifest"]["inputs"][input];
        assert_eq!(
            i["rows_read"].as_u64().unwrap(),
            i["rows_accepted"].as_u64().unwrap() + i["rows_rejected"].as_u64().unwrap(),
            "{input}"
        );
    }
    let loan_lines = s.read("book/loans.csv").matches('\n').count() as u64 - 1;
    assert_eq!(
        json["manifest"]["inputs"]["loans"]["rows_read"]
            .as_u64()
            .unwrap(),
        loan_lines
    );
}

/// A real Ally tape wrote `None` for borrowers without a score, and 3.6% of the pool vanished from every
/// total. Now: a missing word is missing, an unreadable optional field counts as missing and is reported,
/// and every loan with a balance stays in the book.
#[test]
fn regression_an_unreadable_optional_field_lost_the_loan() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,apr,monthly_payment,credit_score,origination_value,vehicle_year,new_used\n\
         A1,V1,2022-01-15,20000,60,15000.00,6.5x,450.00,None,25000,2021,used\n\
         A2,V2,2022-01-15,20000,60,15000.00,6.5,-450,7x5,25000,2021,used\n\
         A3,V3,2022-01-15,20000,60,15000.00,NULL,450.00,720,0,20x1,certified\n\
         A4,V4,2022-01-15,20000,60,15000.00,6.5,450.00,#N/A,N/A,-,n\n",
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-06-01,12000\nV2,2024-06-01,12000\nV3,2024-06-01,12000\nV4,2024-06-01,12000\n",
    );
    let out = s.run_book_printed("out", &["--as-of", "2024-06-30"]);
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("unreadable optional fields counted as missing, loans kept"),
        "{stdout}"
    );
    let accounts = read_csv(&s.path("out/accounts.csv"));
    assert_eq!(accounts.len(), 4, "every loan stays in the book");
    assert_eq!(
        s.read("out/rejects.csv"),
        "file,line,field,reason,raw_record\n"
    );
    // The raw text of an unreadable field is echoed as filed; a missing word is empty.
    assert_eq!(accounts[0]["apr"], "6.5x");
    assert_eq!(accounts[0]["credit_score"], "");
    assert_eq!(accounts[1]["credit_score"], "7x5");
    assert_eq!(accounts[2]["vehicle_year"], "20x1");
    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    let fields = &json["data_quality"]["loans"]["optional_fields_unreadable"]["fields"];
    let expected = serde_json::json!({
        "apr": {"rows": 1, "first_lines": [2]},
        "monthly_payment": {"rows": 1, "first_lines": [3]},
        "credit_score": {"rows": 1, "first_lines": [3]},
        "origination_value": {"rows": 1, "first_lines": [4]},
        "vehicle_year": {"rows": 1, "first_lines": [4]},
        "new_used": {"rows": 1, "first_lines": [4]},
    });
    assert_eq!(fields, &expected);
    assert_eq!(json["data_quality"]["loans"]["rows_accepted"], 4);
    // The unreadable score is an unknown credit tier; all four balances are in the total.
    assert_eq!(json["portfolio"]["balance"], "60000.00");
    let tiers = read_csv(&s.path("out/summary_by_credit_tier.csv"));
    let unknown = tiers
        .iter()
        .find(|r| r["credit_tier"] == "unknown")
        .unwrap();
    assert_eq!(unknown["accounts"], "3");
}

/// The same rule on an SEC tape: the filer's own column is named in the count.
#[test]
fn tape_optional_fields_count_under_the_filers_column_name() {
    let s = Sandbox::new();
    s.write(
        "tape.csv",
        "assetNumber,reportingPeriodEndingDate,originationDate,originalLoanAmount,originalLoanTerm,\
         reportingPeriodActualEndBalanceAmount,vehicleValueAmount,vehicleNewUsedCode,obligorCreditScore\n\
         1,07-31-2020,01/2019,20000,60,15000,22000,2,None\n\
         2,07-31-2020,01/2019,20000,60,15000,22000,2,8o0\n\
         3,07-31-2020,01/2019,20000,60,15000,22000,2,700\n",
    );
    assert_ok(&s.run(&["run", "--tape", "regab", "tape.csv", "--out", "out", "-q"]));
    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    assert_eq!(json["data_quality"]["loans"]["rows_accepted"], 3);
    assert_eq!(
        json["data_quality"]["loans"]["optional_fields_unreadable"]["fields"],
        serde_json::json!({"credit_score (obligorCreditScore)": {"rows": 1, "first_lines": [3]}})
    );
}

/// Column headers that are formulas reached accounts.csv and the segment tables as they were (values
/// were neutralized, headers not); NUL and U+202E passed into outputs and reject reasons; a reject
/// repeated a whole runaway field (one unclosed quote made a 229 MB rejects.csv).
#[test]
fn regression_formula_headers_hidden_characters_and_runaway_rejects() {
    let s = Sandbox::new();
    let mut loans = String::from(
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,=HYPERLINK(\"x\"),@SUM(1+1)\n\
         A\u{0}1,V1,2022-01-01,1000,60,500,\u{202e}gpj.exe,x\n\
         A2,V1,2022-01-01,1000,60,5x0,a,b\n",
    );
    // An unclosed quote: the rest of the file is one field of about 1 MB.
    loans.push_str("A3,V1,2022-01-01,1000,60,\"500");
    loans.push_str(&"0123456789\n".repeat(100_000));
    s.write("loans.csv", &loans);
    s.write("vals.csv", "vin,valuation_date,value\nV1,2022-06-01,600\n");
    s.write("c.toml", "segments = [\"@SUM(1+1)\"]\n");
    let out = s.run(&[
        "run",
        "--loans",
        "loans.csv",
        "--valuations",
        "vals.csv",
        "--as-of",
        "2022-06-30",
        "--config",
        "c.toml",
        "--out",
        "out",
        "-q",
    ]);
    assert_ok(&out);
    let accounts = s.read("out/accounts.csv");
    let header = accounts.lines().next().unwrap();
    assert!(
        header.ends_with(",\"'=HYPERLINK(\"\"x\"\")\",'@SUM(1+1)"),
        "{header}"
    );
    assert!(accounts.contains("A\\u{0}1,"), "{accounts}");
    assert!(accounts.contains(",\\u{202e}gpj.exe,"), "{accounts}");
    assert!(!accounts.contains('\u{0}') && !accounts.contains('\u{202e}'));
    let table = s.read("out/summary_by__SUM_1_1_.csv");
    assert!(table.starts_with("'@SUM(1+1),accounts,"), "{table}");

    let rejects = s.read("out/rejects.csv");
    assert!(
        rejects.len() < 10_000,
        "rejects.csv is {} bytes",
        rejects.len()
    );
    let rows = read_csv(&s.path("out/rejects.csv"));
    assert_eq!(rows.len(), 2, "{rejects}");
    assert_eq!(rows[1]["line"], "4");
    assert!(rows[1]["raw_record"].ends_with("more bytes not shown)"));
    assert!(rows[1]["reason"].len() <= 600, "{}", rows[1]["reason"]);
}

/// A file cut mid-row with no final newline accepted `…,19` as 19.00 with no word said; a leading blank
/// line made the file "empty"; a tape id `5#1` collided with the `5#1` made for loans sharing id `5`.
#[test]
fn regression_cut_file_leading_blank_line_and_generated_id_collision() {
    let s = Sandbox::new();
    let loans = "account_id,vin,origination_date,amount_financed,term_months,current_balance\n\
                 A1,V1,2022-01-01,1000,60,500\nA2,V1,2022-01-01,1000,60,19";
    s.write("loans.csv", loans);
    s.write("vals.csv", "vin,valuation_date,value\nV1,2022-06-01,600\n");
    let args = |loans: &'static str, out: &'static str| {
        [
            "run",
            "--loans",
            loans,
            "--valuations",
            "vals.csv",
            "--as-of",
            "2022-06-30",
            "--out",
            out,
        ]
    };
    let out = s.run(&args("loans.csv", "out"));
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("loans.csv does not end with a line end: was it cut short?"),
        "{stdout}"
    );
    let j: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    assert_eq!(j["manifest"]["inputs"]["loans"]["no_final_line_end"], true);
    assert_eq!(
        j["manifest"]["inputs"]["valuations"]["no_final_line_end"],
        false
    );

    s.write("blank.csv", &format!("\n{loans}\n"));
    let out = s.run(&args("blank.csv", "out2"));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("starts with a blank line"),
        "{}",
        stderr(&out)
    );
    s.write("blank_only.csv", "\n\n");
    let out = s.run(&args("blank_only.csv", "out2"));
    assert!(stderr(&out).contains("is empty"), "{}", stderr(&out));

    // Tape: two different loans share id 5, and the filer also has an id `5#1`.
    s.write(
        "tape.csv",
        "assetNumber,reportingPeriodEndingDate,originationDate,originalLoanAmount,originalLoanTerm,\
         reportingPeriodActualEndBalanceAmount,vehicleValueAmount\n\
         5,07-31-2020,01/2019,20000,60,15000,22000\n\
         5,07-31-2020,02/2019,21000,60,16000,22000\n\
         5#1,07-31-2020,03/2019,22000,60,17000,22000\n",
    );
    assert_ok(&s.run(&["run", "--tape", "regab", "tape.csv", "--out", "tape", "-q"]));
    let ids: Vec<String> = read_csv(&s.path("tape/accounts.csv"))
        .into_iter()
        .map(|r| format!("{}={}", r["account_id"], r["balance"]))
        .collect();
    assert_eq!(ids, ["5#1=17000.00", "5#2=15000.00", "5#3=16000.00"]);
}

/// Neutralization was tested in accounts.csv only: a formula in a segment value, a reject's raw record
/// and a query's output must be neutralized too (values and headers).
#[test]
fn formulas_are_neutralized_in_segment_tables_rejects_and_query_output() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,state\n\
         A1,V1,2022-01-01,1000,60,500,=cmd|' /C calc'!A0\n\
         =A2,V1,2022-01-01,1000,60,oops,TX\n",
    );
    s.write("vals.csv", "vin,valuation_date,value\nV1,2022-06-01,600\n");
    assert_ok(&s.run(&[
        "run",
        "--loans",
        "loans.csv",
        "--valuations",
        "vals.csv",
        "--as-of",
        "2022-06-30",
        "--out",
        "out",
        "-q",
        "--format",
        "parquet",
    ]));
    let states: Vec<String> = read_csv(&s.path("out/summary_by_state.csv"))
        .into_iter()
        .map(|r| r["state"].clone())
        .collect();
    assert_eq!(states, ["'=cmd|' /C calc'!A0", "TOTAL"]);
    let rejects = read_csv(&s.path("out/rejects.csv"));
    assert!(rejects[0]["raw_record"].starts_with("'=A2,"), "{rejects:?}");
    let out = s.run(&[
        "query",
        "--run",
        "out",
        "-q",
        "--format",
        "csv",
        "SELECT state AS \"=x\", account_id FROM accounts",
    ]);
    assert_ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "'=x,account_id\n'=cmd|' /C calc'!A0,A1\n"
    );
}
