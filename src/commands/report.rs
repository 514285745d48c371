//! `underwater report --run DIR`: report.html and report.xlsx rebuilt from a finished run's
//! summary.json, nothing recomputed (after an upgrade, or for a run made before the reports existed).
//! Each file is written to a temporary file beside it and renamed into place, so a reader never sees
//! half a report.

use crate::error::{Error, OutputError};
use crate::output::finished_run::FinishedRun;
use crate::output::{report_html, report_xlsx};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Writes both reports of the run in `run` into `out` (default: the run directory); returns `out`.
pub fn report(run: &Path, out: Option<&Path>) -> Result<PathBuf, Error> {
    let summary = FinishedRun::open(run)?.summary;
    let out = out.unwrap_or(run).to_path_buf();
    let html = report_html::report_html(&summary);
    let xlsx = report_xlsx::report_xlsx(&summary)
        .context("cannot build report.xlsx")
        .map_err(OutputError)?;
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create {}", out.display()))
        .map_err(OutputError)?;
    for (name, bytes) in [("report.html", html.as_bytes()), ("report.xlsx", &xlsx[..])] {
        crate::output::single_file::write_file(&out.join(name), bytes).map_err(OutputError)?;
    }
    Ok(out)
}

/// `underwater report`'s flags.
#[derive(clap::Args, Debug)]
pub struct ReportCmd {
    /// The run's --out directory
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Where to write the reports (default: the run directory)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `underwater report`: both reports written, where they went on stderr.
pub fn command(cmd: ReportCmd) -> Result<(), Error> {
    let written = report(&cmd.run, cmd.out.as_deref())?;
    eprintln!(
        "underwater: report.html and report.xlsx in {}",
        written.display()
    );
    Ok(())
}
