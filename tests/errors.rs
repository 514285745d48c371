//! Every error path: a clear message naming the problem and the fix, the documented exit code, one
//! error line on stderr, nothing on stdout, and no outputs written (previous ones left intact).

use crate::common::*;
use std::process::Output;

const LOANS: &str = "account_id,vin,origination_date,amount_financed,term_months,current_balance\nA1,V1,2022-01-01,20000,60,15000.00\n";
const VALS: &str = "vin,valuation_date,value\nV1,2024-01-01,12000.00\n";

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    s
}

fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(out));
    let err = stderr(out);
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert_eq!(
        err.matches("underwater: error:").count(),
        1,
        "error printed once: {err}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout");
}

/// Runs the sandbox's book and expects an input error (exit 3) mentioning `needles`.
fn assert_input_error(s: &Sandbox, needles: &[&str]) {
    assert_fails(&s.run_loans("out", &["--as-of", "2024-06-30"]), 3, needles);
}

fn no_outputs(s: &Sandbox) {
    assert!(
        !s.path("out").exists(),
        "no output directory after a failed run"
    );
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

#[test]
fn missing_required_column_names_file_column_and_fix() {
    let s = sandbox();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months\nA1,V1,2022-01-01,20000,60\n",
    );
    let out = s.run_loans("out", &["--as-of", "2024-06-30"]);
    assert_fails(&out, 3, &["loans.csv", "current_balance", "Fix"]);
    no_outputs(&s);
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", "vin,date,value\n");
    assert_input_error(&s, &["valuations.csv", "valuation_date"]);
    no_outputs(&s);
}

#[test]
fn unreadable_input_is_an_input_error() {
    let s = sandbox();
    let out = s.run(&[
        "run",
        "--loans",
        "nope.csv",
        "--valuations",
        "valuations.csv",
        "--out",
        "out",
        "--as-of",
        "2024-06-30",
    ]);
    assert_fails(&out, 3, &["nope.csv", "cannot open"]);
    no_outputs(&s);
    let out = s.run(&[
        "run",
        "--loans",
        ".",
        "--valuations",
        "valuations.csv",
        "--out",
        "out",
        "--as-of",
        "2024-06-30",
    ]);
    assert_fails(&out, 3, &["directory"]);
}

#[test]
fn binary_empty_and_malformed_header_files_are_refused() {
    let s = sandbox();
    s.write_bytes(
        "loans.csv",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00!\x00\xb7\xac\xce\x00\n",
    );
    assert_input_error(&s, &["not a CSV file"]);
    s.write_bytes("loans.csv", b"%PDF-1.7\n\xe2\xe3\xcf\xd3\n");
    assert_input_error(&s, &["loans.csv"]);
    s.write("loans.csv", "");
    assert_input_error(&s, &["is empty"]);
    s.write_bytes("loans.csv", b"\xEF\xBB\xBF\r\n");
    assert_input_error(&s, &["is empty"]);
    s.write(
        "loans.csv",
        "account_id,vin,vin,origination_date,amount_financed,term_months,current_balance\n",
    );
    assert_input_error(&s, &["`vin` appears twice"]);
    no_outputs(&s);
}

#[test]
fn header_only_file_is_a_valid_empty_book() {
    let s = sandbox();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance\n",
    );
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    assert_eq!(read_csv(&s.path("out/accounts.csv")).len(), 0);
    let ltv = read_csv(&s.path("out/summary_by_ltv_bucket.csv"));
    assert_eq!(ltv.last().unwrap()["accounts"], "0");
}

#[test]
fn bad_config_fails_before_any_input_is_read() {
    let s = Sandbox::new(); // no input files at all: a config error must come first
    let run_with_config = |config: &str| {
        s.run(&[
            "run",
            "--loans",
            "l.csv",
            "--valuations",
            "v.csv",
            "--out",
            "out",
            "--config",
            config,
        ])
    };
    for (toml, key) in [
        ("bands = [1, 2]", "unknown key `bands`"),
        ("ltv_bands = [100, 80]", "ltv_bands"),
        ("recovery_rate = 1.2", "recovery_rate"),
        ("repossession_cost = -5", "repossession_cost"),
        ("pd_by_days_past_due = [[30, 0.1]]", "must start at day 0"),
        ("as_of = \"June 30\"", "as_of"),
        ("ltv_bands = [80, 100", "not valid TOML"),
    ] {
        s.write("bad.toml", toml);
        assert_fails(&run_with_config("bad.toml"), 2, &["bad.toml", key]);
    }
    assert_fails(&run_with_config("missing.toml"), 2, &["missing.toml"]);
    let out = s.run(&[
        "run",
        "--loans",
        "l.csv",
        "--valuations",
        "v.csv",
        "--out",
        "out",
        "--as-of",
        "2024-02-30",
    ]);
    assert_fails(&out, 2, &["--as-of", "YYYY-MM-DD"]);
    no_outputs(&s);
}

#[test]
fn unknown_segment_lists_the_available_columns() {
    let s = sandbox();
    s.write("c.toml", "segments = [\"dealer\"]\n");
    let out = s.run_loans("out", &["--as-of", "2024-06-30", "--config", "c.toml"]);
    assert_fails(&out, 3, &["segment `dealer`", "vintage", "current_balance"]);
    no_outputs(&s);
}

#[test]
fn a_failed_run_leaves_previous_outputs_intact() {
    let s = sandbox();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let before = outputs_without_times(&s.path("out"));
    s.write("loans.csv", "account_id,vin\nA,B\n");
    assert_input_error(&s, &["current_balance"]);
    assert_eq!(outputs_without_times(&s.path("out")), before);
    s.write("loans.csv", LOANS);
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
}

/// A rerun deleted files underwater did not write: run into `out/`, add `out/notes.xlsx` and
/// `out/cfg.toml`, rerun with `--config out/cfg.toml --out out` → exit 0, both files gone (and this
/// suite asserted that a stray file was silently deleted). A rerun now refuses, naming the files, and
/// leaves the directory as it was; the config and price index count as inputs too.
#[test]
fn regression_rerun_deleted_files_underwater_did_not_write() {
    let s = sandbox();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    s.write("out/notes.xlsx", "mine");
    let before = outputs_without_times(&s.path("out"));
    assert_fails(
        &s.run_loans("out", &["--as-of", "2024-06-30"]),
        4,
        &["refusing to replace", "notes.xlsx", "move them out"],
    );
    assert_eq!(outputs_without_times(&s.path("out")), before);
    assert_eq!(s.read("out/notes.xlsx"), "mine");
    std::fs::remove_file(s.path("out/notes.xlsx")).unwrap();

    s.write("out/cfg.toml", "as_of = \"2024-06-30\"\n");
    assert_fails(
        &s.run_loans("out", &["--config", "out/cfg.toml"]),
        4,
        &["contains the input", "cfg.toml"],
    );
    assert_eq!(s.read("out/cfg.toml"), "as_of = \"2024-06-30\"\n");
    std::fs::remove_file(s.path("out/cfg.toml")).unwrap();

    s.write("index.csv", "month,level\n2024-06,100\n");
    std::fs::copy(s.path("index.csv"), s.path("out/index.csv")).unwrap();
    s.write(
        "c.toml",
        "as_of = \"2024-06-30\"\n[estimate]\nprice_index = \"out/index.csv\"\n",
    );
    assert_fails(
        &s.run_loans("out", &["--config", "c.toml"]),
        4,
        &["contains the input", "index.csv"],
    );
    std::fs::remove_file(s.path("out/index.csv")).unwrap();
    // With only its own outputs in it, the directory is replaced as before.
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
}

#[test]
fn out_directory_that_holds_inputs_or_foreign_files_is_refused() {
    let s = sandbox();
    // --out containing an input
    s.write("book/loans.csv", LOANS);
    let out = s.run(&[
        "run",
        "--loans",
        "book/loans.csv",
        "--valuations",
        "valuations.csv",
        "--out",
        "book",
        "--as-of",
        "2024-06-30",
    ]);
    assert_fails(&out, 4, &["contains the input"]);
    assert_eq!(s.read("book/loans.csv"), LOANS);
    // --out with files underwater did not write
    s.write("mine/notes.txt", "keep me");
    assert_fails(
        &s.run_loans("mine", &["--as-of", "2024-06-30"]),
        4,
        &["refusing to replace"],
    );
    assert_eq!(s.read("mine/notes.txt"), "keep me");
    // --out that is a file
    assert_fails(
        &s.run_loans("loans.csv", &["--as-of", "2024-06-30"]),
        4,
        &["contains the input"],
    );
    assert_eq!(s.read("loans.csv"), LOANS);
    s.write("report.txt", "mine");
    assert_fails(
        &s.run_loans("report.txt", &["--as-of", "2024-06-30"]),
        4,
        &["is a file"],
    );
    assert_eq!(s.read("report.txt"), "mine");
}

#[test]
fn staging_left_by_a_killed_run_is_cleaned_up() {
    let s = sandbox();
    s.write(".out.underwater-staging-4000000/accounts.csv", "half");
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    assert!(!s.path(".out.underwater-staging-4000000").exists());
}

#[test]
fn threads_zero_is_a_usage_error() {
    let s = sandbox();
    assert_fails(
        &s.run_loans("out", &["--as-of", "2024-06-30", "--threads", "0"]),
        2,
        &["--threads"],
    );
}

/// `--fail-on-stale 4000000000` wrapped to a negative limit and failed a fresh book; `--threads 5000`
/// ran on. Numeric flags have ranges, checked before anything is read.
#[test]
fn regression_out_of_range_flags_wrapped_or_ran_on() {
    let s = sandbox();
    assert_fails(
        &s.run_loans(
            "out",
            &["--as-of", "2024-06-30", "--fail-on-stale", "4000000000"],
        ),
        2,
        &["--fail-on-stale", "36500"],
    );
    assert_fails(
        &s.run_loans("out", &["--as-of", "2024-06-30", "--threads", "5000"]),
        2,
        &["--threads", "1024"],
    );
    assert_fails(
        &s.run(&[
            "generate",
            "--loans",
            "100",
            "--valuations-per-loan",
            "100000",
            "--out",
            "g",
        ]),
        2,
        &["--valuations-per-loan"],
    );
    assert_ok(&s.run_loans(
        "out",
        &["--as-of", "2024-06-30", "--fail-on-stale", "36500"],
    ));
}

#[test]
fn help_documents_exit_codes() {
    let s = Sandbox::new();
    let out = s.run(&["run", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Exit codes") && text.contains("3  an input file"),
        "{text}"
    );
}

#[test]
fn help_prints_every_row_of_the_exit_code_table() {
    let s = Sandbox::new();
    for command in [&["--help"][..], &["run", "--help"], &["query", "--help"]] {
        let out = s.run(command);
        // clap wraps long lines to the terminal's width: compare words, not line breaks.
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = words(&String::from_utf8_lossy(&out.stdout));
        for (code, meaning) in underwater::error::EXIT_CODES {
            assert!(
                text.contains(&words(&format!("{code}  {meaning}"))),
                "`{command:?}` lacks exit code {code}: {text}"
            );
        }
    }
}

/// docs/REFERENCE.md's table of exit codes is `--help`'s, row for row: the same codes, in the same order,
/// with the same words (the help's are `EXIT_CODES`, which the test above finds in every `--help`).
#[test]
fn the_reference_lists_the_exit_codes_of_help_row_for_row() {
    let reference = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/REFERENCE.md"),
    )
    .unwrap();
    let section = reference
        .split("## Exit codes")
        .nth(1)
        .expect("docs/REFERENCE.md has an `## Exit codes` section");
    let rows: Vec<(u8, String)> = section
        .lines()
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            let code = cells.first()?.parse::<u8>().ok()?;
            Some((code, cells.get(1)?.to_string()))
        })
        .collect();
    let help: Vec<(u8, String)> = underwater::error::EXIT_CODES
        .iter()
        .map(|&(code, meaning)| (code, meaning.to_string()))
        .collect();
    assert_eq!(
        rows, help,
        "docs/REFERENCE.md's exit codes differ from --help's"
    );
}

/// Runs the binary with stdout sent to /dev/full, where every write fails with ENOSPC.
fn run_into_full_disk(s: &Sandbox, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_underwater"))
        .args(args)
        .current_dir(s.path("."))
        .stdout(std::fs::File::create("/dev/full").expect("/dev/full exists on Linux"))
        .output()
        .expect("binary runs")
}

#[test]
fn regression_query_into_a_full_disk_exited_0() {
    let s = sandbox();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let out = run_into_full_disk(
        &s,
        &[
            "query", "-q", "--run", "out", "--by", "vin", "--format", "csv",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("standard output"), "{}", stderr(&out));
}

#[test]
fn a_run_whose_summary_cannot_be_printed_says_so_with_outputs_in_place() {
    let s = sandbox();
    let out = run_into_full_disk(&s, &book_args("out", &["--as-of", "2024-06-30"], false));
    assert_eq!(out.status.code(), Some(4), "stderr: {}", stderr(&out));
    assert!(
        s.path("out/accounts.csv").is_file(),
        "the book was published before printing"
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let s = sandbox();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_underwater"))
        .args([
            "query",
            "-q",
            "--run",
            "out",
            "SELECT * FROM accounts",
            "--format",
            "csv",
        ])
        .current_dir(s.path("."))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
}

/// Bare-CR line ends read as a header and no rows (exit 0, an empty book); a header ending in CR before
/// LF rows lost the first row. Both are refused: exit 3, nothing written.
#[test]
fn regression_bare_cr_line_ends_gave_an_empty_book() {
    let s = sandbox();
    let mac = LOANS.replace('\n', "\r");
    for (name, loans) in [("mac", mac), ("mixed", LOANS.replacen('\n', "\r", 1))] {
        s.write("loans.csv", &loans);
        let out = s.run_loans(name, &["--as-of", "2024-06-30"]);
        assert_fails(&out, 3, &["loans.csv", "bare CR", "Fix"]);
        assert!(!s.path(name).exists());
    }
    // CRLF stays fine.
    s.write("loans.csv", &LOANS.replace('\n', "\r\n"));
    assert_ok(&s.run_loans("crlf", &["--as-of", "2024-06-30"]));
    assert_eq!(read_csv(&s.path("crlf/accounts.csv")).len(), 1);
}

/// A loans file with `value` and `loan_value` wrote two `loan_value` columns (query then failed); a
/// segment value `TOTAL` or `unknown` made a second TOTAL or unknown row.
#[test]
fn regression_output_names_collided_with_their_own() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance,value,loan_value,state\n\
         A1,V1,2022-01-01,1000,60,500,1,2,TOTAL\n\
         A2,V1,2022-01-01,1000,60,500,1,2,unknown\n\
         A3,V1,2022-01-01,1000,60,500,1,2,\n",
    );
    s.write("vals.csv", "vin,valuation_date,value\nV1,2022-06-01,600\n");
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--loans",
            "loans.csv",
            "--valuations",
            "vals.csv",
            "--as-of",
            "2022-06-30",
            "--out",
            out,
            "-q",
        ];
        args.extend_from_slice(extra);
        s.run(&args)
    };
    assert_ok(&run("out", &[]));
    let header = s.read("out/accounts.csv");
    let header: Vec<&str> = header.lines().next().unwrap().split(',').collect();
    let tail = &header[header.len() - 3..];
    assert_eq!(tail, ["loan_loan_value", "loan_value", "state"]);
    let rows: Vec<(String, String)> = read_csv(&s.path("out/summary_by_state.csv"))
        .into_iter()
        .map(|r| (r["state"].clone(), r["accounts"].clone()))
        .collect();
    let want = [("TOTAL (value)", "1"), ("unknown", "2"), ("TOTAL", "3")];
    assert_eq!(
        rows,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );

    // Segments whose outputs would collide are refused before anything is read (exit 2).
    for segments in [
        "[\"ltv bucket\"]",
        "[\"dealer.id\", \"dealer id\"]",
        "[\"balance\"]",
    ] {
        s.write("c.toml", &format!("segments = {segments}\n"));
        let out = run("bad", &["--config", "c.toml"]);
        assert_eq!(out.status.code(), Some(2), "{segments}: {}", stderr(&out));
        assert!(stderr(&out).contains("segments"), "{}", stderr(&out));
        assert!(!s.path("bad").exists());
    }
}

/// A symlinked `--out` was replaced by a folder (the link gone, the linked directory stale); `--out
/// ghost/../x` created `ghost/` on the way.
#[test]
fn regression_symlinked_out_was_replaced_and_dotdot_created_folders() {
    let s = sandbox();
    std::fs::create_dir(s.path("real")).unwrap();
    std::os::unix::fs::symlink("real", s.path("link")).unwrap();
    assert_ok(&s.run_loans("link", &["--as-of", "2024-06-30"]));
    assert!(std::fs::symlink_metadata(s.path("link"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(s.path("real/accounts.csv").exists());
    // A rerun goes through the link again.
    assert_ok(&s.run_loans("link", &["--as-of", "2024-06-30"]));
    assert!(std::fs::symlink_metadata(s.path("link"))
        .unwrap()
        .file_type()
        .is_symlink());

    let out = s.run_loans("ghost/../x", &["--as-of", "2024-06-30"]);
    assert_fails(&out, 4, &["`..`"]);
    assert!(!s.path("ghost").exists());
    assert!(!s.path("x").exists());
}

/// `underwater completions bash|zsh|fish` did not exist: each prints a script naming the subcommands, and
/// the bash one parses.
#[test]
fn completions_for_bash_zsh_and_fish() {
    let s = sandbox();
    for shell in ["bash", "zsh", "fish"] {
        let out = s.run(&["completions", shell]);
        assert_ok(&out);
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["run", "query", "generate", "as-of"] {
            assert!(script.contains(word), "{shell}: {word}");
        }
        if shell == "bash" {
            s.write("c.bash", &script);
            let parsed = std::process::Command::new("bash")
                .args(["-n", "c.bash"])
                .current_dir(s.dir.path())
                .status()
                .unwrap();
            assert!(parsed.success());
        }
    }
    let out = s.run(&["completions", "cmd.exe"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `--loans -` failed (a file named `-`): `-` is standard input for `--loans` or `--valuations`, read into
/// a temporary file that is gone when the run ends; the outputs equal a run on the file itself.
#[test]
fn regression_loans_from_standard_input_failed() {
    use std::io::Write;
    let s = sandbox();
    assert_ok(&s.run_loans("file", &["--as-of", "2024-06-30"]));
    let tmp = s.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_underwater"))
        .args([
            "run",
            "--loans",
            "-",
            "--valuations",
            "valuations.csv",
            "--as-of",
            "2024-06-30",
            "--out",
            "piped",
            "-q",
        ])
        .current_dir(s.dir.path())
        .env("TMPDIR", &tmp)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(s.read("loans.csv").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(s.read("piped/accounts.csv"), s.read("file/accounts.csv"));
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the spooled copy is removed"
    );
    let both = s.run(&[
        "run",
        "--loans",
        "-",
        "--valuations",
        "-",
        "--as-of",
        "2024-06-30",
        "--out",
        "x",
    ]);
    assert_eq!(both.status.code(), Some(2));
}
