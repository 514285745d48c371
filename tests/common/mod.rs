//! Helpers for integration tests: a temp dir with input files, and the real binary run inside it.
#![allow(dead_code)] // each test file uses a different subset of these helpers

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const LOAN_HEADER: &str =
    "account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due";

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        self.write_bytes(name, content.as_bytes())
    }

    pub fn write_bytes(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Runs `underwater ARGS` with the sandbox as working directory.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_underwater"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("binary runs")
    }

    /// The summary.json of the output directory `out` in the sandbox.
    pub fn summary(&self, out: &str) -> serde_json::Value {
        serde_json::from_str(&self.read(&format!("{out}/summary.json")))
            .unwrap_or_else(|e| panic!("{out}/summary.json: {e}"))
    }

    /// Runs `underwater run` on loans.csv and valuations.csv with `extra` flags, into `out`, quietly.
    pub fn run_loans(&self, out: &str, extra: &[&str]) -> Output {
        self.run(&book_args(out, extra, true))
    }

    /// The same, with the summary printed on stdout.
    pub fn run_book_printed(&self, out: &str, extra: &[&str]) -> Output {
        self.run(&book_args(out, extra, false))
    }
}

/// The arguments of `underwater run` on loans.csv and valuations.csv into `out`, then `extra`.
pub fn book_args<'a>(out: &'a str, extra: &[&'a str], quiet: bool) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--loans",
        "loans.csv",
        "--valuations",
        "valuations.csv",
        "--out",
        out,
    ];
    if quiet {
        args.push("-q");
    }
    args.extend_from_slice(extra);
    args
}

impl Sandbox {
    /// Runs `underwater run` on the generated book in `book/` as of 2025-06-30, into `out`.
    pub fn run_generated(&self, out: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "run",
            "--loans",
            "book/loans.csv",
            "--valuations",
            "book/valuations.csv",
            "--as-of",
            "2025-06-30",
            "--out",
            out,
            "-q",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Parses a CSV file into rows of (column name → value) maps, in file order.
pub fn read_csv(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut rdr =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Compares `actual` with the golden file tests/golden/NAME; `UPDATE_GOLDEN=1` rewrites it.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} missing ({e}); run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "output differs from golden file {}",
        path.display()
    );
}

/// Every file of an output directory with its content, summary.json's run times and thread count removed.
pub fn outputs_without_times(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let mut bytes = std::fs::read(e.path()).unwrap();
            if name == "summary.json" {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                let m = v["manifest"].as_object_mut().unwrap();
                m.remove("started_at");
                m.remove("finished_at");
                m.remove("threads");
                bytes = serde_json::to_vec_pretty(&v).unwrap();
            }
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

/// A hand-computed book: each band edge and one cent either side, ties, future-dated valuations,
/// no valuation, half-even rounding, the README example, a closed (zero-balance) account with a value
/// (tests/books.rs checks every figure).
pub const HAND_LOANS: &str = "\
account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due,state,new_used
E080,VIN080,2022-01-15,20000,60,8000.00,0,TX,used
E080P,VIN080P,2022-01-15,20000,60,8000.01,0,TX,used
E080M,VIN080M,2022-01-15,20000,60,7999.99,0,TX,used
E100,VIN100,2022-01-15,20000,60,10000.00,0,TX,new
E100P,VIN100P,2022-01-15,20000,60,10000.01,0,CA,new
E100M,VIN100M,2022-01-15,20000,60,9999.99,0,CA,new
E120,VIN120,2023-03-01,20000,72,12000.00,0,CA,new
E120P,VIN120P,2023-03-01,20000,72,12000.01,0,CA,new
E120M,VIN120M,2023-03-01,20000,72,11999.99,0,CA,new
E140,VIN140,2023-03-01,20000,84,14000.00,0,NY,used
E140P,VIN140P,2023-03-01,20000,84,14000.01,0,NY,used
E140M,VIN140M,2023-03-01,20000,84,13999.99,0,NY,used
TIE,VINTIE,2021-07-01,15000,60,9000.00,0,NY,used
FUT,VINFUT,2021-07-01,15000,60,9000.00,0,,used
ONLYFUT,VINONLYFUT,2021-07-01,15000,60,5000.00,,,used
NOVAL,VINNOVAL,2021-07-01,15000,60,7000.00,95,TX,used
HE1,VINHE1,2021-07-01,15000,60,10.10,1,TX,used
HE2,VINHE2,2021-07-01,15000,60,10.30,1,TX,used
README,lower1,2024-01-10,21000,72,\"$19,000.00\",0,TX,used
CLOSED,VINCLOSED,2021-07-01,15000,60,0.00,0,TX,used
";

pub fn hand_valuations() -> String {
    let mut v = String::from("vin,valuation_date,value,source\n");
    for vin in [
        "VIN080", "VIN080P", "VIN080M", "VIN100", "VIN100P", "VIN100M", "VIN120", "VIN120P",
        "VIN120M",
    ] {
        v.push_str(&format!("{vin},2024-06-01,10000.00,kbb\n"));
    }
    for vin in ["VIN140", "VIN140P", "VIN140M"] {
        v.push_str(&format!("{vin},2024-06-01,10000.00,kbb\n"));
    }
    // Ties on the latest date take the lowest value; an older, lower one is not the latest.
    v.push_str("VINTIE,2024-06-01,9000.00,nada\nVINTIE,2024-06-01,8500.00,kbb\nVINTIE,2024-01-01,7000.00,kbb\n");
    // Valuations after as_of are ignored.
    v.push_str("VINFUT,2024-07-15,5000.00,kbb\nVINFUT,2024-05-01,9000.00,kbb\nVINONLYFUT,2024-08-01,4000.00,kbb\n");
    // VINs match case-insensitively.
    v.push_str("LOWER1,2024-06-15,15500.00,appraisal\n");
    // A paid-off account still on the book, with a value: never underwater, not in share_underwater.
    v.push_str("VINCLOSED,2024-06-01,6000.00,kbb\n");
    v
}

/// A test that cannot run here (no `../shared`, not root, no tmpfs, no browser) fails, so a skipped
/// guarantee is never reported as proven, unless `UNDERWATER_ALLOW_SKIP` says skipping is intended:
/// `1` for any test, `shared` only for the tests that need `../shared` (what `.ci/run` sets when it is
/// absent). A skip says so on stderr and, with `UNDERWATER_SKIP_LOG=FILE`, appends a line to FILE, which
/// `.ci/run` prints after the tests, outside the captured output.
pub fn cannot_run(test: &str, why: &str) {
    let allowed = std::env::var("UNDERWATER_ALLOW_SKIP").unwrap_or_default();
    let skip = allowed == "1" || (allowed == "shared" && why.contains("../shared"));
    if !skip {
        panic!("{test} cannot run: {why}. Set UNDERWATER_ALLOW_SKIP=1 to skip it on purpose");
    }
    eprintln!("SKIPPED {test}: {why} (UNDERWATER_ALLOW_SKIP={allowed})");
    if let Some(log) = std::env::var_os("UNDERWATER_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log)
        {
            let _ = writeln!(f, "SKIPPED {test}: {why}");
        }
    }
}

/// Runs the sample book in `data/` with its example config into `out`, quietly, with `extra` flags.
pub fn run_sample_book(s: &Sandbox, out: &str, extra: &[&str]) -> Output {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let file = |name: &str| data.join(name).to_str().unwrap().to_string();
    let (loans, vals, config) = (
        file("loans.csv"),
        file("valuations.csv"),
        file("example.toml"),
    );
    let mut args = vec![
        "run",
        "--loans",
        &loans,
        "--valuations",
        &vals,
        "--config",
        &config,
        "--out",
        out,
        "-q",
    ];
    args.extend_from_slice(extra);
    s.run(&args)
}

/// Takes the per-account file's digest out of a run's summary.json, as a run written before digests
/// were recorded has it: to reach the checks behind the digest's.
pub fn strip_digest(s: &Sandbox, run: &str) {
    let name = format!("{run}/summary.json");
    let summary = s.read(&name);
    let kept: Vec<&str> = summary
        .lines()
        .filter(|l| !l.contains("\"accounts_blake3\""))
        .collect();
    let stripped = kept.join("\n").replace("Z\",\n  }", "Z\"\n  }") + "\n";
    assert_ne!(
        stripped.trim_end(),
        summary.trim_end(),
        "{name} had a digest"
    );
    serde_json::from_str::<serde_json::Value>(&stripped).expect("still JSON");
    s.write(&name, &stripped);
}

/// The exact decimal a cell spells (a test's reference figures are decimals, never floats).
pub fn dec(s: &str) -> rust_decimal::Decimal {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} is not a decimal: {e}"))
}

/// An amount cell, empty as zero.
pub fn amount_or_zero(s: &str) -> rust_decimal::Decimal {
    if s.is_empty() {
        rust_decimal::Decimal::ZERO
    } else {
        dec(s)
    }
}

/// The last row (the TOTAL) of a table of a summary.json, e.g. `by_ltv_bucket`.
pub fn total_row(summary: &serde_json::Value, table: &str) -> serde_json::Value {
    let rows = summary[table].as_array();
    rows.and_then(|r| r.last()).cloned().unwrap_or_default()
}
