//! Claims of the guide, each checked: a panic exits 1; query sorts
//! missing values last and widens a column typed differently in two runs; an `unknown` car takes the
//! new curve; `missing = [...]` from the config to every output.

use crate::common::*;
use std::process::Command;

#[test]
fn a_panic_exits_1_with_the_bug_message_never_101() {
    let s = Sandbox::new();
    let out = Command::new(env!("CARGO_BIN_EXE_underwater"))
        .args(["generate", "--loans", "1", "--out", "g", "-q"])
        .current_dir(s.dir.path())
        .env("UNDERWATER_TEST_PANIC", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("internal error (a bug"), "{err}");
    assert_eq!(err.matches("underwater:").count(), 1, "said once: {err}");
}

/// Three accounts: A valued 10,000, B unvalued, C valued 12,000.
fn three_accounts(s: &Sandbox, out: &str, extra_column: &str, cells: [&str; 3]) {
    s.write(
        &format!("{out}_loans.csv"),
        &format!(
            "{LOAN_HEADER},{extra_column}\nA,VA,2023-01-15,20000,60,9000.00,0,{}\n\
             B,VB,2023-01-15,20000,60,9000.00,0,{}\nC,VC,2023-01-15,20000,60,9000.00,0,{}\n",
            cells[0], cells[1], cells[2]
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nVA,2024-06-01,10000.00\nVC,2024-06-01,12000.00\n",
    );
    let loans = format!("{out}_loans.csv");
    let args = ["run", "--loans", &loans, "--valuations", "valuations.csv"];
    assert_ok(&s.run(&[&args[..], &["--as-of", "2024-06-30", "--out", out, "-q"]].concat()));
}

fn query_csv(s: &Sandbox, args: &[&str]) -> String {
    let out = s.run(&[&["query", "-q", "--format", "csv"][..], args].concat());
    assert_ok(&out);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn query_sorts_missing_values_last_unless_the_sql_says_nulls_first() {
    let s = Sandbox::new();
    three_accounts(&s, "r", "note", ["x", "y", "z"]);
    let ids = |sql: &str| -> Vec<String> {
        query_csv(&s, &["--run", "r", sql])
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    let select = "SELECT account_id, value FROM accounts ORDER BY value";
    assert_eq!(ids(select), ["A", "C", "B"]);
    assert_eq!(ids(&format!("{select} DESC")), ["C", "A", "B"]);
    assert_eq!(ids(&format!("{select} NULLS FIRST")), ["B", "A", "C"]);
    let top = query_csv(&s, &["--run", "r", "--top", "3", "--order-by", "value"]);
    let top: Vec<&str> = top.lines().skip(1).map(|l| &l[..1]).collect();
    assert_eq!(top, ["C", "A", "B"]);
}

#[test]
fn query_widens_a_column_typed_differently_in_two_runs() {
    let s = Sandbox::new();
    // `score`: whole numbers in one run, decimals in the other: decimals at the larger scale.
    three_accounts(&s, "ints", "score", ["5", "6", "7"]);
    three_accounts(&s, "decs", "score", ["5.25", "6.5", "7"]);
    // `code`: numbers in one run, text in the other: text.
    three_accounts(&s, "nums", "code", ["1", "2", "3"]);
    three_accounts(&s, "text", "code", ["a1", "b2", "c3"]);
    let sql = "SELECT account_id, score FROM accounts ORDER BY score, account_id";
    let got = query_csv(&s, &["--run", "ints", "--run", "decs", sql]);
    assert_eq!(
        got,
        "account_id,score\nA,5.00\nA,5.25\nB,6.00\nB,6.50\nC,7.00\nC,7.00\n"
    );
    let sql = "SELECT code FROM accounts ORDER BY code";
    let got = query_csv(&s, &["--run", "nums", "--run", "text", sql]);
    assert_eq!(got, "code\n1\n2\n3\na1\nb2\nc3\n");
}

/// An `unknown` (or empty) new/used takes the new curve: twelve months after a 20,000 origination value
/// the new curve keeps 0.80 (16,000.00), the used one 0.89 (17,800.00).
#[test]
fn an_unknown_car_is_estimated_on_the_new_curve() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        &format!(
            "{LOAN_HEADER},new_used,origination_value\n\
             N,V1,2023-06-30,20000,60,9000.00,0,new,20000\n\
             U,V2,2023-06-30,20000,60,9000.00,0,used,20000\n\
             K,V3,2023-06-30,20000,60,9000.00,0,unknown,20000\n\
             E,V4,2023-06-30,20000,60,9000.00,0,,20000\n"
        ),
    );
    s.write("valuations.csv", "vin,valuation_date,value\n");
    s.write("c.toml", "[estimate]\nenabled = true\n");
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30", "--config", "c.toml"]));
    let values: Vec<(String, String)> = read_csv(&s.path("out/accounts.csv"))
        .into_iter()
        .map(|r| (r["account_id"].clone(), r["value"].clone()))
        .collect();
    let want = [
        ("E", "16000.00"),
        ("K", "16000.00"),
        ("N", "16000.00"),
        ("U", "17800.00"),
    ];
    assert_eq!(values, want.map(|(a, v)| (a.to_string(), v.to_string())));
}

/// `missing = ["UNK"]` replaces the default words: `UNK` is no value in a required field (a reject), an
/// optional one (counted missing, not unreadable) and a carried one (an empty cell), while `NA` is
/// then text like any other. With the default words, `NA` in a carried column is an empty cell
/// (regression: it was echoed, where the XML form of a tape gave an empty cell).
#[test]
fn the_missing_words_of_the_config_reach_every_field() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        &format!(
            "{LOAN_HEADER},credit_score,dealer,note\n\
             A,V1,2023-06-30,20000,60,9000.00,0,UNK,UNK,NA\n\
             B,V2,2023-06-30,20000,60,UNK,0,700,D1,x\n"
        ),
    );
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nV1,2024-06-01,10000\n",
    );
    s.write("c.toml", "missing = [\"UNK\"]\n");
    assert_ok(&s.run_loans("own", &["--as-of", "2024-06-30", "--config", "c.toml"]));
    let a = &read_csv(&s.path("own/accounts.csv"))[0];
    let cells = ["credit_score", "credit_tier", "dealer", "note"].map(|c| a[c].as_str());
    assert_eq!(cells, ["", "unknown", "", "NA"]);
    let rejects = read_csv(&s.path("own/rejects.csv"));
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(
        (rejects[0]["line"].as_str(), rejects[0]["field"].as_str()),
        ("3", "current_balance")
    );
    let j = s.summary("own");
    let unreadable = &j["data_quality"]["loans"]["optional_fields_unreadable"]["fields"];
    assert_eq!(
        unreadable,
        &serde_json::json!({}),
        "UNK is missing, not unreadable"
    );

    assert_ok(&s.run_loans("default", &["--as-of", "2024-06-30"]));
    let a = &read_csv(&s.path("default/accounts.csv"))[0];
    assert_eq!((a["dealer"].as_str(), a["note"].as_str()), ("UNK", ""));
}
