//! SEC EX-102 XML tapes: streamed, rejects naming the XML line, the same figures as the CSV form,
//! refused shapes.

use super::*;

/// Writes an EX-102 XML tape from rows of (element, value); `NA` values are left out, as filers do.
fn xml_tape(records: &[Vec<(String, String)>], prefix: &str) -> String {
    let p = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}:")
    };
    let ns = if prefix.is_empty() {
        "xmlns".to_string()
    } else {
        format!("xmlns:{prefix}")
    };
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{p}assetData {ns}=\"http://www.sec.gov/edgar/document/absee/autoloan/assetdata\">\n"
    );
    for r in records {
        x.push_str(&format!("  <{p}assets>\n"));
        for (k, v) in r.iter().filter(|(_, v)| v != "NA") {
            let v = v.replace('&', "&amp;").replace('<', "&lt;");
            x.push_str(&format!("    <{p}{k}>{v}</{p}{k}>\n"));
        }
        x.push_str(&format!("  </{p}assets>\n"));
    }
    x.push_str(&format!("</{p}assetData>\n"));
    x
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn sec_xml_tape_is_streamed_and_rejects_name_the_xml_line() {
    let s = Sandbox::new();
    let base = [
        ("assetNumber", "X1"),
        ("reportingPeriodEndingDate", "07-31-2020"),
        ("originationDate", "06/2019"),
        ("originalLoanAmount", "22000"),
        ("originalLoanTerm", "72"),
        ("vehicleNewUsedCode", "1"),
        ("vehicleValueAmount", "20000"),
        ("vehicleManufacturerName", "A&B Motors"),
        ("reportingPeriodActualEndBalanceAmount", "18000.00"),
        ("zeroBalanceCode", "1"),
        ("zeroBalanceCode", "2"),
    ];
    let mut bad = fields(&base);
    bad[0].1 = "X2".into();
    bad[3].1 = "abc".into();
    // An element left out (no rate) is missing, not an error.
    let xml = xml_tape(&[fields(&base), bad], "ns1");
    s.write("tape.xml", &xml);
    assert_ok(&s.run(&["run", "--tape", "regab", "tape.xml", "--out", "out", "-q"]));
    let accounts = by_id(&read_csv(&s.path("out/accounts.csv")));
    let x1 = &accounts["X1"];
    assert_eq!(x1["value"], "15826.67");
    assert_eq!(x1["make"], "A&B Motors");
    assert_eq!(x1["zeroBalanceCode"], "1");
    assert_eq!(x1["zeroBalanceCode.1"], "2");
    let rejects = read_csv(&s.path("out/rejects.csv"));
    assert_eq!(rejects.len(), 1);
    // Records start on lines 3 and 16: the second record's <assets> is on line 3 + 1 + 11 + 1 = 16.
    assert_eq!(rejects[0]["line"], "16");
    assert_eq!(rejects[0]["file"], "tape.xml");
    assert_eq!(rejects[0]["field"], "amount_financed (originalLoanAmount)");
    let j = s.summary("out");
    assert_eq!(j["manifest"]["as_of"], "2020-07-31");
    assert_eq!(
        j["manifest"]["inputs"]["loans"]["bytes"],
        xml.len() as u64,
        "the manifest describes the XML as given"
    );

    // Another XML document is a clear input error, and nothing is written.
    s.write(
        "other.xml",
        "<?xml version=\"1.0\"?><invoice><total>3</total></invoice>",
    );
    let out = s.run(&["run", "--tape", "regab", "other.xml", "--out", "out2", "-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`invoice`, not `assetData`"),
        "{}",
        stderr(&out)
    );
    assert!(!s.path("out2").exists());
    // A truncated download is an XML error with its line.
    s.write("cut.xml", &xml[..xml.len() / 2]);
    let out = s.run(&["run", "--tape", "regab", "cut.xml", "--out", "out3", "-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!s.path("out3").exists());
}

/// Regression: `query --tape regab --loans TAPE.xml` registered the XML file itself as the `loans` table,
/// which polars read as one meaningless CSV column.
#[test]
fn query_over_an_xml_tape_reads_its_records_as_the_loans_table() {
    let s = Sandbox::new();
    let record = |id: &str, amount: &str| {
        fields(&[
            ("assetNumber", id),
            ("reportingPeriodEndingDate", "07-31-2020"),
            ("originationDate", "06/2019"),
            ("originalLoanAmount", amount),
            ("originalLoanTerm", "72"),
            ("vehicleValueAmount", "20000"),
            ("reportingPeriodActualEndBalanceAmount", "18000.00"),
        ])
    };
    s.write(
        "tape.xml",
        &xml_tape(&[record("X2", "abc"), record("X1", "22000")], ""),
    );
    let out = s.run(&[
        "query",
        "-q",
        "--tape",
        "regab",
        "--loans",
        "tape.xml",
        "--format",
        "csv",
        "SELECT \"assetNumber\", \"originalLoanAmount\" FROM loans ORDER BY \"assetNumber\"",
    ]);
    assert_ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "assetNumber,originalLoanAmount\nX1,22000\nX2,abc\n"
    );
}

#[test]
fn world_omni_as_sec_xml_gives_the_same_figures_as_its_csv() {
    let Some(tape) = real_tape("world_omni_2020_07.csv") else {
        return;
    };
    let mut rdr = csv::Reader::from_path(&tape).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    // The schema's own fields: not the publisher's added columns or R's numbered repeats.
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| {
            let h = &header[i];
            !h.contains('.')
                && !h.ends_with("_clean")
                && !h.contains("_cat")
                && !h.contains("_n")
                && !h.ends_with("_char")
        })
        .collect();
    let records: Vec<Vec<(String, String)>> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            keep.iter()
                .map(|&i| (header[i].clone(), r[i].to_string()))
                .collect()
        })
        .collect();
    let s = Sandbox::new();
    s.write("wo.xml", &xml_tape(&records, ""));
    assert_ok(&s.run(&["run", "--tape", "regab", "wo.xml", "--out", "xml", "-q"]));
    assert_ok(&s.run(&[
        "run",
        "--tape",
        "regab",
        tape.to_str().unwrap(),
        "--out",
        "csv",
        "-q",
    ]));
    // Every column of accounts.csv the XML form has, by name, cell for cell (issue 30, audit item 8:
    // the first 17 columns were compared, and `NA` in a carried column of the CSV form was echoed where
    // the XML form, which leaves the element out, gave an empty cell).
    let (x, c) = (
        read_csv(&s.path("xml/accounts.csv")),
        read_csv(&s.path("csv/accounts.csv")),
    );
    assert_eq!(x.len(), 7572);
    assert_eq!(x.len(), c.len());
    let columns: Vec<&String> = x[0].keys().collect();
    assert!(columns.len() > 60, "{columns:?}");
    for (i, (xr, cr)) in x.iter().zip(&c).enumerate() {
        for col in &columns {
            assert_eq!(xr[*col], cr[*col], "row {i} column {col}");
        }
    }
    // A column only the CSV form has is the publisher's, or one the tape never fills (an XML record
    // leaves a missing field out, so no record of the XML form has it).
    let schema = |k: &str| keep.iter().any(|&i| header[i] == k);
    for k in c[0].keys().filter(|k| !x[0].contains_key(*k)) {
        assert!(
            !schema(k) || c.iter().all(|r| r[k].is_empty()),
            "{k}: a field of the schema with values, missing from the XML form's accounts"
        );
    }
    let tables = std::fs::read_dir(s.path("xml")).unwrap();
    let mut compared = 0;
    for f in tables.map(|e| e.unwrap().file_name().into_string().unwrap()) {
        if f.ends_with(".csv") && f != "accounts.csv" {
            assert_eq!(
                s.read(&format!("xml/{f}")),
                s.read(&format!("csv/{f}")),
                "{f}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 8, "{compared} tables");
}

/// XML records inside a wrapper element or misspelled (`<asset>`) gave exit 0 and an empty book; an
/// empty `<assets/>` was skipped and not counted; 100 MB of blank lines inside `<assetData>` took 1.9 GB,
/// and one unique element per record made a temporary CSV quadratic in the records. Each is now an
/// error naming the line or the limit (exit 3), or a counted record.
#[test]
fn regression_xml_wrapper_misspelled_empty_and_oversized_records() {
    let s = Sandbox::new();
    let record = fields(&[
        ("assetNumber", "X1"),
        ("reportingPeriodEndingDate", "07-31-2020"),
        ("originationDate", "06/2019"),
        ("originalLoanAmount", "22000"),
        ("originalLoanTerm", "72"),
        ("vehicleValueAmount", "20000"),
        ("reportingPeriodActualEndBalanceAmount", "18000.00"),
    ]);
    let good = xml_tape(std::slice::from_ref(&record), "");
    let run = |file: &str| s.run(&["run", "--tape", "regab", file, "--out", "out", "-q"]);

    let wrapped = good
        .replace("  <assets>", "  <loans><assets>")
        .replace("</assets>", "</assets></loans>");
    s.write("wrapped.xml", &wrapped);
    let out = run("wrapped.xml");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 3: `<loans>`"),
        "{}",
        stderr(&out)
    );

    s.write("misspelled.xml", &good.replace("assets>", "asset>"));
    let out = run("misspelled.xml");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("`<asset>`"), "{}", stderr(&out));
    assert!(!s.path("out").exists());

    // An empty record is a row read and rejected, so rows read = accepted + rejected still holds.
    s.write(
        "empty.xml",
        &good.replace("  <assets>", "  <assets/>\n  <assets>"),
    );
    assert_ok(&run("empty.xml"));
    let j = s.summary("out");
    assert_eq!(j["data_quality"]["loans"]["rows_read"], 2);
    assert_eq!(j["data_quality"]["loans"]["rows_accepted"], 1);
    assert_eq!(j["data_quality"]["loans"]["rows_rejected"], 1);
    assert_eq!(read_csv(&s.path("out/rejects.csv"))[0]["line"], "3");

    // 5 MB of blank lines in one text node: refused, without holding them.
    let blank = good.replace("  <assets>", &format!("{}  <assets>", "\n".repeat(5 << 20)));
    s.write("blank.xml", &blank);
    let out = s.run(&["run", "--tape", "regab", "blank.xml", "--out", "o2", "-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("4 MiB"), "{}", stderr(&out));

    // 2,001 records, each with an element of its own.
    let records: Vec<Vec<(String, String)>> = (0..2001)
        .map(|i| {
            let mut r = record.clone();
            r[0].1 = format!("X{i}");
            r.push((format!("extra{i}"), "1".into()));
            r
        })
        .collect();
    s.write("wide.xml", &xml_tape(&records, ""));
    let out = s.run(&["run", "--tape", "regab", "wide.xml", "--out", "o3", "-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than 2000 distinct field names"),
        "{}",
        stderr(&out)
    );
}
