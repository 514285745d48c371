//! Temporary files and directories removed on Ctrl-C or SIGTERM, not left behind.
//!
//! A staging directory (up to the size of the outputs) and a tape's CSV conversion register here while
//! they exist. On SIGINT, SIGTERM or SIGHUP a watcher thread removes whatever is registered, says so on
//! stderr and exits with 128 + the signal number, as a shell does for a killed command. `--out` is
//! never among them: it is replaced only by the atomic exchange, so an interrupted run leaves it whole.
//! SIGKILL cannot be caught; what it leaves behind is swept by the next run (see
//! [`pid_is_running`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

static REGISTERED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Set by the watcher once it holds [`REGISTERED`] for good: the process is about to exit.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn registered() -> MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves the list as it was: still the list to sweep.
    REGISTERED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers a temporary path to remove if the process is interrupted. Register before creating it:
/// a signal between the two would otherwise leave it behind.
pub fn register(path: &Path) {
    registered().push(path.to_path_buf());
}

/// Forgets a path: it was removed or published.
pub fn unregister(path: &Path) {
    registered().retain(|p| p != path);
}

/// Keeps the watcher out while held: a signal that lands meanwhile is acted on once it is dropped,
/// or, if the watcher got there first, this waits until the process exits. Publishing holds it
/// across the exchange, so the watcher never removes a directory that has just become `--out`.
pub struct Hold(MutexGuard<'static, Vec<PathBuf>>);

/// Takes the [`Hold`].
pub fn hold() -> Hold {
    Hold(registered())
}

impl Hold {
    /// [`unregister`] while held.
    pub fn unregister(&mut self, path: &Path) {
        self.0.retain(|p| p != path);
    }
}

/// Called on a command's error: an error caused by the watcher removing the files under the
/// command's feet would otherwise race the watcher's exit code (128 + the signal) with its own.
/// Blocks until the process exits if the watcher is at work; returns at once otherwise.
pub fn wait_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        let _blocked_until_exit = registered();
    }
}

/// Starts the watcher thread. Called once by `main`; without it (library use, tests) signals keep
/// their default action.
pub fn on_signal_remove_temporaries() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // The lock is held until the process exits: no path registers and escapes the sweep,
            // and no publishing starts.
            let paths = registered();
            INTERRUPTED.store(true, Ordering::SeqCst);
            for p in paths.iter() {
                remove(p);
            }
            eprintln!(
                "underwater: interrupted (signal {signal}): temporary files removed, --out left as it was"
            );
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

/// Removes a file or a directory tree. Other threads may still be writing into a directory while it
/// is removed, and a file they create after the listing makes the last `rmdir` fail with "not
/// empty" (a staging folder was left behind that way): so it is tried again, a bounded number of
/// times, until the path is gone. A writer cannot recreate the directory itself (files are created
/// in it, never it), so this ends once its writers have stopped.
fn remove(path: &Path) {
    for _ in 0..200 {
        let result = match std::fs::symlink_metadata(path) {
            Err(_) => return,
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
            Ok(_) => std::fs::remove_file(path),
        };
        if result.is_ok() || std::fs::symlink_metadata(path).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Whether a process with this id is running (Linux `/proc`; elsewhere assumed running, so nothing
/// of a live run is ever swept).
pub fn pid_is_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Test hooks at named points of a run, so a test can stop or interrupt it at each point instead of
/// hoping a timed signal lands in a window of microseconds:
/// - `UNDERWATER_TEST_ABORT_AT=<point>`: the process aborts there, as a SIGKILL would stop it (no
///   destructor, no cleanup);
/// - `UNDERWATER_TEST_PAUSE_AT=<point>`: it says so on stderr and waits there (a minute at most) for
///   the test's signal.
///
/// The points: `loading` (the loans file open, a tape converted and standard input spooled),
/// `computed` (the book computed, nothing written), `accounts_written` (the per-account file in the
/// staging directory), `staged`, `exchanged` (the commit), and with the two-rename fallback
/// `moved_aside` and `renamed_in`.
pub fn test_hook(point: &str) {
    if std::env::var_os("UNDERWATER_TEST_ABORT_AT").is_some_and(|p| p == point) {
        std::process::abort();
    }
    if std::env::var_os("UNDERWATER_TEST_PAUSE_AT").is_some_and(|p| p == point) {
        eprintln!("underwater: test hook: paused at {point}");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::remove;
    use std::fs;

    /// The signal's watcher removed the staging folder while the run went on writing its next output
    /// into it; the file created after the listing made the last `rmdir` fail, and the folder stayed.
    #[test]
    fn regression_a_directory_written_into_while_it_was_removed_was_left_behind() {
        let base = tempfile::tempdir().unwrap();
        for round in 0..5 {
            let dir = base.path().join(format!("staging-{round}"));
            fs::create_dir(&dir).unwrap();
            for i in 0..200 {
                fs::write(dir.join(format!("old-{i}")), "x").unwrap();
            }
            // A writer that goes on creating files, as the run does, until the folder is gone or
            // its outputs are written.
            let writer = {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for i in 0..300 {
                        if fs::write(dir.join(format!("new-{i}")), "x").is_err() {
                            break;
                        }
                    }
                })
            };
            remove(&dir);
            let gone = !dir.exists();
            writer.join().unwrap();
            assert!(gone, "round {round}: the folder was left behind");
        }
    }
}
