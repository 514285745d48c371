//! The `underwater` binary: parse arguments, run, map the error to an exit code.

use clap::Parser;
use std::process::ExitCode;

// Loading a book makes millions of small allocations (ids, VINs, echoed columns); mimalloc makes them
// several times cheaper than glibc's allocator and frees without consolidation stalls.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = underwater::cli::Cli::parse();
    match underwater::cli::execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("underwater: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
