//! Temporary files and directories removed on Ctrl-C or SIGTERM, not left behind.
//!
//! A staging directory (up to the size of the outputs) and a tape's CSV conversion register here while
//! they exist. On SIGINT, SIGTERM or SIGHUP a watcher thread removes whatever is registered, says so on
//! stderr and exits with 128 + the signal number, as a shell does for a killed command. `--out` is
//! never among them: it is replaced only by the atomic exchange, so an interrupted run leaves it whole.
//! SIGKILL cannot be caught; what it leaves behind is swept by the next run (see
//! [`pid_is_running`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static REGISTERED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary path to remove if the process is interrupted.
pub fn register(path: &Path) {
    if let Ok(mut paths) = REGISTERED.lock() {
        paths.push(path.to_path_buf());
    }
}

/// Forgets a path: it was removed or published.
pub fn unregister(path: &Path) {
    if let Ok(mut paths) = REGISTERED.lock() {
        paths.retain(|p| p != path);
    }
}

/// Starts the watcher thread. Called once by `main`; without it (library use, tests) signals keep
/// their default action.
pub fn on_signal_remove_temporaries() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // Holding the lock while removing: no new path registers and escapes the sweep.
            let paths = REGISTERED.lock().map(|p| p.clone()).unwrap_or_default();
            for p in &paths {
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(p)
                } else {
                    std::fs::remove_file(p)
                };
            }
            eprintln!(
                "underwater: interrupted (signal {signal}): temporary files removed, --out left as it was"
            );
            std::process::exit(128 + signal);
        }
    });
    Ok(())
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
