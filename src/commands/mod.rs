//! One file per subcommand, each stringing the stages together: [`run`] (the nightly job), [`backtest`]
//! (the figures against what happened), [`calibrate`] (the assumptions fitted to it), [`query`]
//! (analysts' SQL over the exact figures), [`report`] (report.html and report.xlsx from a finished run),
//! and [`generate`] (synthetic books). Each holds its own flags
//! and their conversion into its config; what several share is declared once: [`args`] (a book's
//! inputs, standard input) and [`history`] (the book and what happened to it, for `backtest` and
//! `calibrate`). A command never imports another command (`tests/architecture.rs`).

pub mod args;
pub mod backtest;
pub mod calibrate;
pub mod generate;
pub mod history;
pub mod query;
pub mod report;
pub mod run;

use crate::error::{ConfigError, Error, OutputError};
use std::io::Write;

/// A rayon pool of `threads` workers for one command.
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, Error> {
    if threads == 0 || threads > crate::error::MAX_THREADS {
        return Err(ConfigError::BadThreads.into());
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(Error::internal)
}

/// Writes a command's answer to stdout. A closed pipe (`| head`) is not a failure: the reader has
/// what it wanted. Any other failure (a full disk behind `> file`) is, so a script never takes a cut
/// answer for a whole one.
pub fn print(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(OutputError(anyhow::anyhow!(
            "cannot write to standard output: {e}. Fix: check the disk or pipe it is redirected to"
        ))
        .into()),
    }
}
