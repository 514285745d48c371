//! Guarantees for nightly runs: guard rails with their own exit codes, and outputs that a SIGKILL at any
//! moment leaves either completely old or completely new.

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const LOANS: &str = "account_id,vin,origination_date,amount_financed,term_months,current_balance\n\
A1,V1,2022-01-01,20000,60,15000.00\nA2,V2,2022-01-01,20000,60,oops\nA3,V3,2022-01-01,20000,60,9000.00\n\
A4,V4,2022-01-01,20000,60,8000.00\n";
const VALS: &str = "vin,valuation_date,value\nV1,2024-06-01,12000.00\nV3,2023-01-01,9500.00\nV4,2024-05-01,10000.00\n";

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    s
}

/// Every file of a directory, byte for byte (summary.json's run times included).
fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn reject_rate_above_the_limit_fails_with_exit_5_and_does_not_publish_the_book() {
    let s = sandbox();
    // Last night's good book.
    assert_ok(&s.run_book(
        "out",
        &["--as-of", "2024-06-30", "--max-reject-rate", "0.25"],
    ));
    let before = snapshot(&s.path("out"));
    // 1 of 4 loan rows is rejected: 25%.
    let out = s.run_book(
        "out",
        &["--as-of", "2024-06-30", "--max-reject-rate", "0.2"],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("1 of 4 loans rows were rejected"), "{err}");
    assert!(
        err.contains("out.failed"),
        "names where the reasons are: {err}"
    );
    assert_eq!(
        snapshot(&s.path("out")),
        before,
        "the published book is untouched"
    );
    assert!(s.path("out.failed/rejects.csv").exists());
    assert!(
        !s.path("out.failed/accounts.csv").exists(),
        "a failed book is not published anywhere"
    );
    let json: serde_json::Value = serde_json::from_str(&s.read("out.failed/summary.json")).unwrap();
    assert_eq!(json["status"]["ok"], false);
    assert_eq!(json["status"]["exit_code"], 5);
    // The next good night publishes and clears the failed report.
    assert_ok(&s.run_book(
        "out",
        &["--as-of", "2024-06-30", "--max-reject-rate", "0.25"],
    ));
    assert!(s.path("out/accounts.csv").exists());
    assert!(!s.path("out.failed").exists());
    let bad = s.run_book("out", &["--as-of", "2024-06-30", "--max-reject-rate", "2"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn regression_a_failed_guard_replaced_the_good_book() {
    let s = sandbox();
    assert_ok(&s.run_book("out", &["--as-of", "2024-06-30"]));
    let before = snapshot(&s.path("out"));
    // V3's valuation (2023-01-01) is 546 days old at 2024-06-30.
    let out = s.run_book("out", &["--as-of", "2024-06-30", "--fail-on-stale", "365"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 accounts are valued by valuations older than 365 days"));
    assert_eq!(
        snapshot(&s.path("out")),
        before,
        "the published book is untouched"
    );
    let json: serde_json::Value = serde_json::from_str(&s.read("out.failed/summary.json")).unwrap();
    assert_eq!(json["data_quality"]["stale_valuations"]["accounts"], 1);
    assert!(!s.path("out.failed/accounts.csv").exists());
    // A second failed night replaces the failed report whole.
    let again = s.run_book("out", &["--as-of", "2024-06-30", "--fail-on-stale", "300"]);
    assert_eq!(again.status.code(), Some(6));
    let json: serde_json::Value = serde_json::from_str(&s.read("out.failed/summary.json")).unwrap();
    assert_eq!(json["manifest"]["config"]["fail_on_stale_days"], 300);
    assert_eq!(snapshot(&s.path("out")), before);
}

#[test]
fn stale_valuations_fail_with_exit_6_when_asked() {
    let s = sandbox();
    let out = s.run_book("out", &["--as-of", "2024-06-30", "--fail-on-stale", "365"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        !s.path("out").exists(),
        "nothing is published on a first failed night"
    );
    assert_ok(&s.run_book("out", &["--as-of", "2024-06-30", "--fail-on-stale", "600"]));
    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    assert_eq!(json["data_quality"]["stale_valuations"]["accounts"], 0);
    assert_eq!(json["status"]["ok"], true);
    assert!(!s.path("out.failed").exists());
}

/// SIGKILL during a run, many times at spread-out moments: `out` always holds one complete set of
/// outputs (the previous run's or the new run's), never a mix and never a truncated file.
#[test]
fn a_run_killed_at_any_moment_leaves_old_or_new_outputs_whole() {
    let s = Sandbox::new();
    assert_ok(&s.run(&[
        "generate", "--loans", "60000", "--seed", "4", "--out", "book", "-q",
    ]));
    let run_args = |out: &str, as_of: &str| {
        vec![
            "run".to_string(),
            "--loans".into(),
            "book/loans.csv".into(),
            "--valuations".into(),
            "book/valuations.csv".into(),
            "--as-of".into(),
            as_of.into(),
            "--out".into(),
            out.into(),
            "-q".into(),
        ]
    };
    let run = |out: &str, as_of: &str| {
        let o = s.run(
            &run_args(out, as_of)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_ok(&o);
    };
    run("old", "2025-03-31");
    run("new", "2025-06-30");
    let old = outputs_without_times(&s.path("old"));
    let new = outputs_without_times(&s.path("new"));
    assert_ne!(old, new);
    // Time one run to spread the kills over its whole length.
    let t = std::time::Instant::now();
    run("timing", "2025-06-30");
    let full = t.elapsed().as_micros() as u64;
    let (mut saw_old, mut saw_new) = (0, 0);
    let kills = 24;
    for i in 0..kills {
        let _ = std::fs::remove_dir_all(s.path("out"));
        run("out", "2025-03-31");
        let mut child = Command::new(env!("CARGO_BIN_EXE_underwater"))
            .args(run_args("out", "2025-06-30"))
            .current_dir(s.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(full * (i + 1) / kills));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = outputs_without_times(&s.path("out"));
        if now == old {
            saw_old += 1;
        } else if now == new {
            saw_new += 1;
        } else {
            panic!(
                "kill {i}: out holds a mix of outputs: {:?}",
                now.iter().map(|(n, b)| (n, b.len())).collect::<Vec<_>>()
            );
        }
    }
    eprintln!("{kills} kills: {saw_old} left the previous outputs, {saw_new} the new ones");
    assert_eq!(saw_old + saw_new, kills as usize);
}

/// Unmounts the test's tmpfs when the test ends, even on failure.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A disk that fills up mid-write: a clear error (exit 4), the previous outputs intact, no staging left.
#[test]
fn disk_full_mid_write_keeps_previous_outputs() {
    let s = Sandbox::new();
    let disk = s.path("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&disk)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        cannot_run(
            "disk_full_mid_write_keeps_previous_outputs",
            "cannot mount a small tmpfs (needs root)",
        );
        return;
    }
    let _unmount = Mount(disk.clone());
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    assert_ok(&s.run_book("disk/out", &["--as-of", "2024-06-30"]));
    let before = outputs_without_times(&s.path("disk/out"));
    // A 20,000-loan book's accounts.csv (~4 MB) cannot fit on the 1 MiB disk.
    assert_ok(&s.run(&[
        "generate", "--loans", "20000", "--seed", "2", "--out", "book", "-q",
    ]));
    let out = s.run_generated("disk/out", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("disk full") || stderr(&out).contains("No space"),
        "{}",
        stderr(&out)
    );
    assert_eq!(outputs_without_times(&s.path("disk/out")), before);
    let left: Vec<String> = std::fs::read_dir(&disk)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["out"], "no staging directory left on the full disk");
}

/// A permission error (the output's parent is not writable by the user running the job): a clear
/// error naming the problem (exit 4), the previous outputs intact. Run as `nobody` through setpriv,
/// because root bypasses file permissions.
#[test]
fn permission_denied_keeps_previous_outputs() {
    use std::os::unix::fs::PermissionsExt;
    let s = sandbox();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let has_setpriv = Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if !is_root || !has_setpriv {
        cannot_run(
            "permission_denied_keeps_previous_outputs",
            "needs root and setpriv to run as nobody",
        );
        return;
    }
    assert_ok(&s.run_book("shared/out", &["--as-of", "2024-06-30"]));
    let before = outputs_without_times(&s.path("shared/out"));
    // nobody can read the inputs and run a copy of the binary, but not write in shared/.
    let bin = s.path("underwater");
    std::fs::copy(env!("CARGO_BIN_EXE_underwater"), &bin).unwrap();
    for (p, mode) in [
        (s.dir.path().to_path_buf(), 0o755),
        (s.path("shared"), 0o755),
        (s.path("loans.csv"), 0o644),
        (s.path("valuations.csv"), 0o644),
        (bin.clone(), 0o755),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args([
            "run",
            "--loans",
            "loans.csv",
            "--valuations",
            "valuations.csv",
            "--as-of",
            "2024-07-31",
            "--out",
            "shared/out",
            "-q",
        ])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("ermission denied"), "{err}");
    assert!(
        err.contains("shared"),
        "the message names the directory: {err}"
    );
    assert_eq!(outputs_without_times(&s.path("shared/out")), before);
}

/// Staleness is reported on every run, not only with `--fail-on-stale`: the age of each matched
/// valuation at as_of, in four bands, in summary.json and on the terminal.
#[test]
fn valuation_ages_are_always_reported() {
    let s = Sandbox::new();
    s.write(
        "loans.csv",
        "account_id,vin,origination_date,amount_financed,term_months,current_balance\n\
         A,VA,2022-01-15,20000,60,10000\nB,VB,2022-01-15,20000,60,10000\n\
         C,VC,2022-01-15,20000,60,10000\nD,VD,2022-01-15,20000,60,10000\n\
         E,VE,2022-01-15,20000,60,10000\nF,VF,2022-01-15,20000,60,10000\n",
    );
    // At 2024-06-30: 30 days (edge of the first band), 31, 180 (edge), 181 days; F has no valuation.
    s.write(
        "valuations.csv",
        "vin,valuation_date,value\nVA,2024-05-31,9000\nVB,2024-05-30,9000\nVC,2024-01-02,9000\n\
         VD,2024-01-01,9000\nVE,2024-06-30,9000\n",
    );
    let out = s.run_book_printed("out", &["--as-of", "2024-06-30"]);
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    assert_eq!(
        json["data_quality"]["valuation_age_days"],
        serde_json::json!({"0-30": 2, "31-90": 1, "91-180": 1, ">180": 1})
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("valuation age: 2 within 30 days, 1 31-90, 1 91-180, 1 older than 180"),
        "{stdout}"
    );
}

/// Ctrl-C or SIGTERM left the staging folder (up to the size of the outputs) and a tape's temporary CSV
/// behind for good. A signal now removes them and exits 128 + the signal (143 for SIGTERM) with `--out`
/// as it was; what a SIGKILL leaves is swept by the next run. It still failed one CI run in many: the
/// folder was registered just after it was created, and removed while outputs were still written into it.
#[test]
fn regression_a_signal_left_staging_and_temporary_files_behind() {
    let s = Sandbox::new();
    assert_ok(&s.run(&[
        "generate", "--loans", "200000", "--seed", "5", "--out", "book", "-q",
    ]));
    assert_ok(&s.run_generated("out", &[]));
    let old = outputs_without_times(&s.path("out"));
    // The signal lands at different moments of the write stage: as the staging folder appears (a
    // signal between its creation and its registration left it behind), and while outputs are being
    // written into it (the watcher's removal raced the next file created).
    let delays_ms = [0, 3, 10];
    let mut terminated = 0;
    for attempt in 0..15 {
        if terminated == delays_ms.len() {
            break;
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_underwater"))
            .args([
                "run",
                "--loans",
                "book/loans.csv",
                "--valuations",
                "book/valuations.csv",
                "--as-of",
                "2025-03-31",
                "--out",
                "out",
                "-q",
            ])
            .current_dir(s.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let staging = s.path(&format!(".out.underwater-staging-{}", child.id()));
        // Wait until the run is writing its outputs, then interrupt it.
        let started = std::time::Instant::now();
        while !staging.exists() && started.elapsed() < Duration::from_secs(30) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_millis(delays_ms[terminated]));
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let out = child.wait_with_output().unwrap();
        if out.status.code() == Some(0) {
            // The run finished before the signal landed: try again.
            assert_ok(&s.run_generated("out", &[]));
            continue;
        }
        assert_eq!(
            out.status.code(),
            Some(143),
            "attempt {attempt}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
        assert!(!staging.exists(), "the staging folder was left behind");
        assert_eq!(outputs_without_times(&s.path("out")), old);
        terminated += 1;
    }
    assert!(
        terminated > 0,
        "no SIGTERM landed during a run in 15 attempts"
    );

    // What a SIGKILL leaves (a staging folder and a tape conversion of a process that is gone) is swept.
    // 4194305 is above Linux's largest pid, so it is never a running process.
    s.write(".out.underwater-staging-4194305/accounts.csv", "half");
    let tmp = s.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("underwater-tape-4194305-1.csv"), "half").unwrap();
    s.write(
        "tape.csv",
        "assetNumber,reportingPeriodEndingDate,originationDate,originalLoanAmount,originalLoanTerm,\
         reportingPeriodActualEndBalanceAmount,vehicleValueAmount\n1,07-31-2020,01/2019,20000,60,15000,22000\n",
    );
    s.write(
        "tape.xml",
        "<assetData><assets><assetNumber>1</assetNumber><reportingPeriodEndingDate>07-31-2020</reportingPeriodEndingDate>\
         <originationDate>01/2019</originationDate><originalLoanAmount>20000</originalLoanAmount>\
         <originalLoanTerm>60</originalLoanTerm><reportingPeriodActualEndBalanceAmount>15000</reportingPeriodActualEndBalanceAmount>\
         <vehicleValueAmount>22000</vehicleValueAmount></assets></assetData>\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_underwater"))
        .args(["run", "--tape", "regab", "tape.xml", "--out", "out", "-q"])
        .env("TMPDIR", &tmp)
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(!s.path(".out.underwater-staging-4194305").exists());
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The SIGKILL test sleeps fractions of a run; the swap takes microseconds, so no kill landed in it,
/// and the two-rename fallback (filesystems without RENAME_EXCHANGE) never ran. Test-only hooks now
/// stop the process at each point of the commit sequence, in both modes, as a SIGKILL would (abort: no
/// destructor, no cleanup). After each: `out` holds the old or the new outputs whole — or, between the
/// fallback's two renames only, is absent with the old outputs whole beside it — and the next run
/// leaves the right outputs and nothing else behind.
#[test]
fn regression_no_kill_landed_in_the_commit_sequence() {
    let s = Sandbox::new();
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    let run = |as_of: &str, env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_underwater"));
        c.args(book_args("out", &["--as-of", as_of], true))
            .current_dir(s.dir.path());
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    assert_ok(&run("2024-06-30", &[]));
    let old = outputs_without_times(&s.path("out"));
    assert_ok(&run("2024-09-30", &[]));
    let new = outputs_without_times(&s.path("out"));
    assert_ne!(old, new);
    let leftovers = || -> Vec<String> {
        std::fs::read_dir(s.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("underwater-staging"))
            .collect()
    };
    for (mode, points) in [
        ("exchange", &["staged", "exchanged"][..]),
        ("fallback", &["staged", "moved_aside", "exchanged"][..]),
    ] {
        for point in points {
            let _ = std::fs::remove_dir_all(s.path("out"));
            assert_ok(&run("2024-06-30", &[]));
            let mut env = vec![("UNDERWATER_TEST_ABORT_AT", *point)];
            if mode == "fallback" {
                env.push(("UNDERWATER_TEST_NO_EXCHANGE", "1"));
            }
            let killed = run("2024-09-30", &env);
            assert_eq!(
                killed.status.code(),
                None,
                "{mode} {point}: aborted by a signal"
            );
            let now = || outputs_without_times(&s.path("out"));
            match *point {
                "staged" => assert_eq!(now(), old, "{mode} {point}"),
                "exchanged" => assert_eq!(now(), new, "{mode} {point}"),
                _ => {
                    assert!(!s.path("out").exists(), "{mode} {point}");
                    let aside: Vec<String> = leftovers()
                        .into_iter()
                        .filter(|n| n.ends_with(".previous"))
                        .collect();
                    assert_eq!(aside.len(), 1, "{mode} {point}: {:?}", leftovers());
                    assert_eq!(outputs_without_times(&s.path(&aside[0])), old);
                }
            }
            // The next run cleans up (or puts the old outputs back first) and publishes.
            assert_ok(&run("2024-09-30", &[]));
            assert_eq!(outputs_without_times(&s.path("out")), new, "{mode} {point}");
            assert_eq!(leftovers(), Vec::<String>::new(), "{mode} {point}");
        }
    }
}
