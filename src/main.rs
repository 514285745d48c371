//! The `underwater` binary: parse arguments, run, map the error to an exit code.

use clap::Parser;
use std::process::ExitCode;

// Loading a book makes millions of small allocations (ids, VINs, echoed columns); mimalloc makes them
// several times cheaper than glibc's allocator and frees without consolidation stalls.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    underwater::memory::tune();
    let cli = underwater::cli::Cli::parse();
    // Without the watcher an interrupted run leaves its temporaries until the next run sweeps them.
    if let Err(e) = underwater::cleanup::on_signal_remove_temporaries() {
        eprintln!("underwater: warning: cannot watch for Ctrl-C ({e}); temporaries of an interrupted run are removed by the next run");
    }
    // A panic is a bug whatever the input: say so once, and exit with the documented internal-error
    // code (1), not Rust's 101, which no exit-code table lists.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "underwater: internal error (a bug: please report it with the command that caused it): {info}"
        );
    }));
    let result = std::panic::catch_unwind(|| underwater::cli::execute(cli));
    if !matches!(result, Ok(Ok(()))) {
        // An error caused by a signal's watcher removing the run's files is not the run's error: the
        // watcher's exit (128 + the signal) is the answer.
        underwater::cleanup::wait_if_interrupted();
    }
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("underwater: error: {e}");
            ExitCode::from(e.exit_code())
        }
        Err(_) => ExitCode::from(underwater::error::EXIT_INTERNAL),
    }
}
