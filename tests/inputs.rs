//! Inputs in their other forms: the XML form of
//! a tape read as its CSV form is, an undefined XML entity refused, and a previous run with more band
//! labels than a run can have refused at the first one past the limit.

use crate::common::*;

/// One record of the EX-102 fields both forms carry, its delinquency the missing word `-` and its make
/// and model starting with characters a spreadsheet reads as a formula.
const FIELDS: [(&str, &str); 10] = [
    ("assetNumber", "1"),
    ("reportingPeriodEndingDate", "07-31-2020"),
    ("originationDate", "01/2019"),
    ("originalLoanAmount", "20000"),
    ("originalLoanTerm", "60"),
    ("reportingPeriodActualEndBalanceAmount", "15000"),
    ("vehicleValueAmount", "22000"),
    ("currentDelinquencyStatus", "-"),
    ("vehicleManufacturerName", "=Kia"),
    ("vehicleModelName", "@Rio"),
];

/// The XML form turned `-` into `'-` (a reject: "not a whole number >= 0: '-") and gave makes and
/// models starting with `= + @` a stray quote that the CSV form did not have: the XML was converted to
/// CSV with the outputs' escaping. Both forms now give the same accounts and no reject.
#[test]
fn regression_an_xml_tape_rejected_the_missing_word_dash_and_kept_stray_quotes() {
    let s = Sandbox::new();
    let elements: String = FIELDS
        .iter()
        .map(|(k, v)| format!("<{k}>{v}</{k}>"))
        .collect();
    s.write(
        "t.xml",
        &format!("<assetData><assets>{elements}</assets></assetData>\n"),
    );
    let header: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
    let row: Vec<&str> = FIELDS.iter().map(|f| f.1).collect();
    s.write(
        "t.csv",
        &format!("{}\n{}\n", header.join(","), row.join(",")),
    );
    for form in ["xml", "csv"] {
        let tape = format!("t.{form}");
        assert_ok(&s.run(&["run", "--tape", "regab", &tape, "--out", form, "-q"]));
        assert_eq!(
            s.read(&format!("{form}/rejects.csv")).lines().count(),
            1,
            "{form}: no reject"
        );
    }
    assert_eq!(s.read("xml/accounts.csv"), s.read("csv/accounts.csv"));
    let a = &read_csv(&s.path("xml/accounts.csv"))[0];
    // `-` is no value: the delinquency counts as current; the texts are neutralized once on output.
    let cells = ["days_past_due", "make", "model"].map(|c| a[c].as_str());
    assert_eq!(cells, ["0", "'=Kia", "'@Rio"]);
}

/// An entity the XML does not define (`&bogus;`) became an empty field silently.
#[test]
fn regression_an_undefined_xml_entity_was_read_as_an_empty_field() {
    let s = Sandbox::new();
    s.write(
        "e.xml",
        "<assetData><assets><assetNumber>1&bogus;</assetNumber></assets></assetData>\n",
    );
    let out = s.run(&["run", "--tape", "regab", "e.xml", "--out", "out", "-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("undefined entity `&bogus;`"),
        "{}",
        stderr(&out)
    );
    assert!(!s.path("out").exists());
}

/// A previous run whose accounts file carries 200,000 distinct band labels took 52 s before refusing
/// (a linear search of the labels per row). It is refused at the first label past the most a run can
/// have, at once, naming the label.
#[test]
fn regression_a_previous_run_with_200k_band_labels_took_52_s_to_refuse() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        &format!("{LOAN_HEADER}\nA,V1,2022-01-15,20000,60,10000.00,0\n"),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-06-01,9000\n",
    );
    assert_ok(&s.run_loans("prev", &["--as-of", "2024-05-31"]));
    strip_digest(&s, "prev");
    let accounts = s.read("prev/accounts.csv");
    let (header, row) = accounts.split_once('\n').unwrap();
    let band = read_csv(&s.path("prev/accounts.csv"))[0]["ltv_bucket"].clone();
    let mut edited = format!("{header}\n");
    for i in 0..200_000 {
        let line = row.trim_end().replacen("A,", &format!("A{i},"), 1);
        edited.push_str(&line.replacen(&format!(",{band},"), &format!(",band{i},"), 1));
        edited.push('\n');
    }
    s.write("prev/accounts.csv", &edited);
    let started = std::time::Instant::now();
    let out = s.run_loans("out", &["--as-of", "2024-06-30", "--previous", "prev"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("one more band label than a run can have"),
        "{}",
        stderr(&out)
    );
    assert!(took.as_secs() < 10, "refused after {took:?}");
}
