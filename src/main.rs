//! The `underwater` binary: parse arguments, run, map the error to an exit code.

use clap::Parser;
use std::process::ExitCode;

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
