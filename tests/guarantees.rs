//! Guarantees for nightly runs: guard rails with their own exit codes, and outputs that a SIGKILL at any
//! moment leaves either completely old or completely new.

use crate::common::*;
use std::path::Path;
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
    assert_ok(&s.run_loans(
        "out",
        &["--as-of", "2024-06-30", "--max-reject-rate", "0.25"],
    ));
    let before = snapshot(&s.path("out"));
    // 1 of 4 loan rows is rejected: 25%.
    let out = s.run_loans(
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
    assert_ok(&s.run_loans(
        "out",
        &["--as-of", "2024-06-30", "--max-reject-rate", "0.25"],
    ));
    assert!(s.path("out/accounts.csv").exists());
    assert!(!s.path("out.failed").exists());
    let bad = s.run_loans("out", &["--as-of", "2024-06-30", "--max-reject-rate", "2"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn regression_a_failed_guard_replaced_the_good_book() {
    let s = sandbox();
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
    let before = snapshot(&s.path("out"));
    // V3's valuation (2023-01-01) is 546 days old at 2024-06-30.
    let out = s.run_loans("out", &["--as-of", "2024-06-30", "--fail-on-stale", "365"]);
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
    let again = s.run_loans("out", &["--as-of", "2024-06-30", "--fail-on-stale", "300"]);
    assert_eq!(again.status.code(), Some(6));
    let json: serde_json::Value = serde_json::from_str(&s.read("out.failed/summary.json")).unwrap();
    assert_eq!(json["manifest"]["config"]["fail_on_stale_days"], 300);
    assert_eq!(snapshot(&s.path("out")), before);
}

#[test]
fn stale_valuations_fail_with_exit_6_when_asked() {
    let s = sandbox();
    let out = s.run_loans("out", &["--as-of", "2024-06-30", "--fail-on-stale", "365"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        !s.path("out").exists(),
        "nothing is published on a first failed night"
    );
    assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30", "--fail-on-stale", "600"]));
    let json: serde_json::Value = serde_json::from_str(&s.read("out/summary.json")).unwrap();
    assert_eq!(json["data_quality"]["stale_valuations"]["accounts"], 0);
    assert_eq!(json["status"]["ok"], true);
    assert!(!s.path("out.failed").exists());
}

/// An EX-102 XML tape of one loan.
const ONE_LOAN_XML_TAPE: &str = "<assetData><assets><assetNumber>1</assetNumber><reportingPeriodEndingDate>07-31-2020</reportingPeriodEndingDate>\
         <originationDate>01/2019</originationDate><originalLoanAmount>20000</originalLoanAmount>\
         <originalLoanTerm>60</originalLoanTerm><reportingPeriodActualEndBalanceAmount>15000</reportingPeriodActualEndBalanceAmount>\
         <vehicleValueAmount>22000</vehicleValueAmount></assets></assetData>\n";

/// Unmounts the test's small filesystem when the test ends, even on failure.
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
    // A 20,000-loan book's accounts.csv (~4 MB) cannot fit on the 1 MiB disk.
    a_book_too_big_for_the_disk_keeps_previous_outputs(&s, &disk, "20000");
}

/// Publishes a small book to `disk/out`, then a generated book of `loans` loans that cannot fit on the
/// disk mounted at `disk`: exit 4, an error naming the full disk, the previous outputs intact, and no
/// staging directory left on the disk.
fn a_book_too_big_for_the_disk_keeps_previous_outputs(s: &Sandbox, disk: &Path, loans: &str) {
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    assert_ok(&s.run_loans("disk/out", &["--as-of", "2024-06-30"]));
    let before = outputs_without_times(&s.path("disk/out"));
    assert_ok(&s.run(&[
        "generate", "--loans", loans, "--seed", "2", "--out", "book", "-q",
    ]));
    let out = s.run_generated("disk/out", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("disk full") || stderr(&out).contains("No space"),
        "{}",
        stderr(&out)
    );
    assert_eq!(outputs_without_times(&s.path("disk/out")), before);
    let left: Vec<String> = std::fs::read_dir(disk)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // ext4's own directory.
        .filter(|n| n != "lost+found")
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
    assert_ok(&s.run_loans("shared/out", &["--as-of", "2024-06-30"]));
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
    s.write("tape.xml", ONE_LOAN_XML_TAPE);
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

/// A SIGKILL test that slept fractions of a run never landed in the swap, which takes microseconds,
/// and the two-rename fallback (filesystems without RENAME_EXCHANGE) never ran. Test-only hooks stop
/// the process at each point of a run, as a SIGKILL would (abort: no destructor, no cleanup): with the
/// book computed, with the accounts file written into the staging directory, and at each point of the
/// commit sequence in both modes. After each: `out` holds the old or the new outputs whole — or,
/// between the fallback's first two renames, is absent with the old outputs whole beside it — and the
/// next run leaves the right outputs and nothing else behind.
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
        (
            "exchange",
            &["computed", "accounts_written", "staged", "exchanged"][..],
        ),
        (
            "fallback",
            &["staged", "moved_aside", "renamed_in", "exchanged"][..],
        ),
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
            let aside = || -> Vec<String> {
                leftovers()
                    .into_iter()
                    .filter(|n| n.ends_with(".previous"))
                    .collect()
            };
            match *point {
                "computed" | "accounts_written" | "staged" => {
                    assert_eq!(now(), old, "{mode} {point}")
                }
                "exchanged" => assert_eq!(now(), new, "{mode} {point}"),
                // Between the fallback's second and third renames: the new outputs in place, the
                // previous ones still aside, which the next run removes.
                "renamed_in" => {
                    assert_eq!(now(), new, "{mode} {point}");
                    assert_eq!(aside().len(), 1, "{mode} {point}: {:?}", leftovers());
                }
                _ => {
                    assert!(!s.path("out").exists(), "{mode} {point}");
                    let aside = aside();
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

/// The tmpfs of `disk_full_mid_write_keeps_previous_outputs` takes no direct writes, so the path most
/// runs take on a real disk (accounts.csv written with `O_DIRECT` in aligned blocks, synced as it goes)
/// never met a full disk in a test. On a 16 MiB ext4 filesystem (a loop device), a 100,000-loan book's
/// accounts.csv (about 25 MB) fills it: exit 4, the error names the full disk, the previous outputs
/// are intact and no staging is left.
#[test]
fn regression_a_full_disk_under_direct_writes_keeps_previous_outputs() {
    let s = Sandbox::new();
    let (image, disk) = (s.path("disk.img"), s.path("disk"));
    std::fs::create_dir_all(&disk).unwrap();
    std::fs::File::create(&image)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let ok = |c: &mut Command| {
        c.stderr(Stdio::null())
            .status()
            .is_ok_and(|st| st.success())
    };
    let made = ok(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image));
    if !made
        || !ok(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&disk))
    {
        cannot_run(
            "regression_a_full_disk_under_direct_writes_keeps_previous_outputs",
            "cannot make and loop-mount a small ext4 filesystem (needs root, mkfs.ext4 and a loop device)",
        );
        return;
    }
    // Mounted with `-o loop`: unmounting also frees the loop device.
    let _unmount = Mount(disk.clone());
    a_book_too_big_for_the_disk_keeps_previous_outputs(&s, &disk, "100000");
}

/// SIGINT (Ctrl-C, exit 130) and SIGHUP (a closed terminal, exit 129) while the loans are read: the
/// spooled copy of standard input and a tape's temporary CSV conversion are removed, and `--out` stays
/// as it was. The run waits at the `loading` test hook, so the signal lands while both files exist.
#[test]
fn regression_sigint_and_sighup_remove_the_stdin_spool_and_the_tape_conversion() {
    use std::io::{BufRead, Write};
    let s = Sandbox::new();
    s.write("loans.csv", LOANS);
    s.write("valuations.csv", VALS);
    s.write("tape.xml", ONE_LOAN_XML_TAPE);
    let tmp = s.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let temporaries = || -> Vec<String> {
        std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let stdin_run: &[&str] = &[
        "run",
        "--loans",
        "-",
        "--valuations",
        "valuations.csv",
        "--as-of",
        "2024-06-30",
    ];
    let tape_run: &[&str] = &["run", "--tape", "regab", "tape.xml"];
    for (signal, code, args, prefix) in [
        ("INT", 130, stdin_run, "underwater-stdin-"),
        ("HUP", 129, tape_run, "underwater-tape-"),
        ("INT", 130, tape_run, "underwater-tape-"),
        ("HUP", 129, stdin_run, "underwater-stdin-"),
    ] {
        assert_ok(&s.run_loans("out", &["--as-of", "2024-06-30"]));
        let before = outputs_without_times(&s.path("out"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_underwater"))
            .args([args, &["--out", "out", "-q"]].concat())
            .current_dir(s.dir.path())
            .env("TMPDIR", &tmp)
            .env("UNDERWATER_TEST_PAUSE_AT", "loading")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(LOANS.as_bytes()).unwrap();
        drop(stdin);
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert!(line.contains("paused at loading"), "{signal}: {line}");
        let here = temporaries();
        assert!(
            here.iter().any(|n| n.starts_with(prefix)),
            "{signal} {prefix}: {here:?}"
        );
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{signal} {prefix}: {rest}");
        assert!(rest.contains("interrupted"), "{rest}");
        assert_eq!(temporaries(), Vec::<String>::new(), "{signal} {prefix}");
        assert_eq!(outputs_without_times(&s.path("out")), before, "{signal}");
    }
}
