//! `underwater run`: the nightly job, one call per stage — build the book (load loans, match
//! valuations, estimate, summarize), check the guard rails, publish the outputs.

use crate::book::{self, guards};
use crate::config::Config;
use crate::error::{Error, OutputError};
use crate::output::finished_run::FinishedRun;
use crate::output::{self, terminal};
use crate::progress::Progress;
use std::path::PathBuf;
use std::time::SystemTime;

/// What a finished run reports back to the command line.
pub struct Finished {
    /// The human summary for stdout.
    pub summary: String,
}

/// A book computed and checked against the guard rails, not yet published.
pub struct Computed {
    /// Shared, so the Python package can hand its frames over while the run object lives.
    pub book: std::sync::Arc<book::Book>,
    pub guards: guards::Guards,
    /// When the run started (summary.json's manifest gives it).
    pub started: SystemTime,
}

/// Runs the whole job on `config`'s thread pool and writes the outputs.
pub fn run(config: &Config, progress: Progress) -> Result<Finished, Error> {
    let started = SystemTime::now();
    refuse_unsafe_out(config)?;
    let _lock = output::staging::OutLock::take(&config.out).map_err(OutputError)?;
    super::thread_pool(config.threads)?.install(|| {
        let computed = compute_in_pool(config, progress, started)?;
        write_in_pool(config, &computed, progress)?;
        let summary = terminal::terminal_summary(
            &computed.book,
            &computed.guards.ages,
            &config.as_of.to_string(),
            &config.out.display().to_string(),
        );
        // Freeing a book of millions of small allocations takes most of a second; the outputs are
        // committed, so let a thread do it while the caller carries on (the process usually just exits).
        std::thread::spawn(move || drop(computed));
        Ok(Finished { summary })
    })
}

/// Builds the book and checks the guard rails on `config`'s thread pool, writing nothing.
pub fn compute(config: &Config, progress: Progress) -> Result<Computed, Error> {
    let started = SystemTime::now();
    super::thread_pool(config.threads)?.install(|| compute_in_pool(config, progress, started))
}

/// Publishes a computed book to `config.out` as `run` does (the same checks of the target and lock
/// first); a failed guard rail is the same error as `run`'s, after its report is written.
pub fn publish(config: &Config, computed: &Computed, progress: Progress) -> Result<(), Error> {
    refuse_unsafe_out(config)?;
    let _lock = output::staging::OutLock::take(&config.out).map_err(OutputError)?;
    super::thread_pool(config.threads)?.install(|| write_in_pool(config, computed, progress))
}

fn compute_in_pool(
    config: &Config,
    progress: Progress,
    started: SystemTime,
) -> Result<Computed, Error> {
    let previous = match &config.previous {
        Some(dir) => Some(FinishedRun::open(dir)?.previous_head()?),
        None => None,
    };
    let plan = book::Plan {
        previous: previous.as_ref(),
        ..config.plan()
    };
    let book = book::build(&plan, progress)?;
    book::check_segment_groups(&book.summaries)?;
    let guards = guards::check(
        &book,
        config.max_reject_rate,
        config.fail_on_stale,
        config.as_of,
    );
    Ok(Computed {
        book: std::sync::Arc::new(book),
        guards,
        started,
    })
}

fn write_in_pool(config: &Config, computed: &Computed, progress: Progress) -> Result<(), Error> {
    crate::cleanup::test_hook("computed");
    let stage = progress.spinner("write");
    let written = output::publish(config, &computed.book, &computed.guards, computed.started)?;
    stage.finish(&format!("outputs in {}", written.display()));
    match computed.guards.failure.clone() {
        Some(failure) => Err(Error::Guard {
            failure,
            out: config.out.clone(),
            report: written,
        }),
        None => Ok(()),
    }
}

/// Refuses an `--out` that would replace or contain an input (the config and price index included),
/// before anything is read.
fn refuse_unsafe_out(config: &Config) -> Result<(), OutputError> {
    if let Ok(out) = config.out.canonicalize() {
        let index = config.estimate.index.as_ref().map(|i| &i.path);
        // A frame handed over in memory is named, not read, by its path.
        let frames = &config.frames;
        let inputs = [
            Some(&config.loans).filter(|_| frames.loans.is_none()),
            config
                .valuations
                .as_ref()
                .filter(|_| frames.valuations.is_none()),
        ]
        .into_iter()
        .chain([config.config_file.as_ref(), index])
        .flatten();
        for input in inputs {
            if let Ok(input) = input.canonicalize() {
                if input.starts_with(&out) {
                    return Err(OutputError(anyhow::anyhow!(
                        "--out {} contains the input {}; a run replaces its output directory whole. \
                         Fix: write outputs to a separate directory",
                        config.out.display(),
                        input.display()
                    )));
                }
            }
        }
    }
    Ok(output::staging::check_target(&config.out)?)
}

/// `underwater run`'s flags.
#[derive(clap::Args, Debug)]
pub struct RunCmd {
    #[command(flatten)]
    pub inputs: super::args::BookInputs,
    /// Output directory; replaced whole and atomically when the run succeeds
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Format of the per-account file
    #[arg(long, value_enum, default_value = "csv")]
    pub format: crate::config::Format,
    #[command(flatten)]
    pub workers: super::args::Workers,
    /// Fail with exit code 5 when more than this share of an input's rows is rejected (e.g. 0.01)
    #[arg(long, value_name = "SHARE")]
    pub max_reject_rate: Option<String>,
    /// Fail with exit code 6 when any account's valuation is older than N days at as_of
    #[arg(long, value_name = "DAYS")]
    pub fail_on_stale: Option<u32>,
    /// Skip the outlook: no stress scenarios and no run-off (summary_scenarios.csv and
    /// summary_runoff.csv are not written, months_to_positive_equity is empty)
    #[arg(long)]
    pub no_outlook: bool,
    /// Skip the lifetime expected loss: no lifetime columns in accounts.csv and the tables, no
    /// summary_loss_curve.csv (every other output as with the lifetime figures)
    #[arg(long)]
    pub no_lifetime: bool,
    /// Compare with a finished earlier run (its --out directory): band migrations, delinquency roll
    /// rates and the negative-equity bridge in summary_changes_*.csv
    #[arg(long, value_name = "DIR")]
    pub previous: Option<PathBuf>,
    /// Bytes of input per parallel chunk (for tests of chunk boundaries)
    #[arg(long, hide = true, default_value_t = crate::input::reader::CHUNK_BYTES)]
    pub chunk_bytes: usize,
}

/// `underwater run`: the config from the flags, the run, the summary on stdout.
pub fn command(cmd: RunCmd) -> Result<(), Error> {
    let mut spooled = Vec::new();
    let config = config(cmd, &mut spooled)?;
    let outcome = run(&config, Progress::new(config.quiet))?;
    match config.quiet {
        true => Ok(()),
        false => super::print(outcome.summary.as_bytes()),
    }
}

/// The run's config from `run`'s flags (standard input spooled into `spooled`, which must outlive the
/// run).
pub fn config(cmd: RunCmd, spooled: &mut Vec<tempfile::TempPath>) -> Result<Config, Error> {
    Ok(Config::build(crate::config::RunArgs {
        out: cmd.out,
        format: cmd.format,
        threads: cmd.workers.threads,
        quiet: cmd.workers.quiet,
        chunk_bytes: cmd.chunk_bytes,
        max_reject_rate: cmd.max_reject_rate,
        fail_on_stale: cmd.fail_on_stale,
        no_outlook: cmd.no_outlook,
        no_lifetime: cmd.no_lifetime,
        previous: cmd.previous,
        ..cmd.inputs.run_args(spooled)?
    })?)
}
