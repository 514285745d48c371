//! `underwater._native`: the Python package's native part, as thin as `main`. Each function takes the
//! CLI's own flags (the Python layer turns keyword arguments into them), parses them with the CLI's
//! parser, calls the library the CLI calls and hands the results over: frames as Arrow streams
//! ([`frames`]), files as bytes, errors as the exception class of the CLI's exit code. No figure is
//! computed here or in Python.

mod errors;
mod frames;

use frames::Frames;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;
use std::sync::Arc;
use underwater::cli::{Cli, Command};
use underwater::commands;
use underwater::config::Config;
use underwater::error::Error;
use underwater::output::summary_json::TopExposuresJson;
use underwater::progress::Progress;

// As in the CLI: loading a book makes millions of small allocations, several times cheaper in mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The exception for a CLI exit code, with the CLI's message (an error the library did not raise:
/// a flag clap refused, a panic).
fn exception(py: Python<'_>, code: u8, message: String) -> PyErr {
    errors::exception(py, code, message, errors::Details::default())
}

fn error(py: Python<'_>, e: Error) -> PyErr {
    errors::exception(py, e.exit_code(), e.to_string(), errors::Details::of(&e))
}

pub(crate) fn internal(e: impl std::fmt::Display) -> PyErr {
    Python::attach(|py| exception(py, underwater::error::EXIT_INTERNAL, format!("{e}")))
}

/// Runs `f` without the GIL; a panic (a bug whatever the input) becomes `InternalError`, never a crash
/// of the interpreter.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T, Error> + Send) -> PyResult<T> {
    let result = py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(error(py, e)),
        Err(_) => Err(exception(
            py,
            underwater::error::EXIT_INTERNAL,
            "internal error (a bug: please report it with the call that caused it)".into(),
        )),
    }
}

/// The command line `underwater <command> <argv>` parsed as the CLI parses it.
fn parse(py: Python<'_>, command: &str, argv: Vec<String>) -> PyResult<Command> {
    let line = ["underwater".to_string(), command.to_string()]
        .into_iter()
        .chain(argv);
    <Cli as clap::Parser>::try_parse_from(line)
        .map(|cli| cli.command)
        .map_err(|e| exception(py, underwater::error::EXIT_USAGE, e.to_string()))
}

/// A computed run: the book and its guard rails, published only when asked.
#[pyclass(module = "underwater._native", frozen)]
struct Run {
    config: Config,
    computed: Arc<commands::run::Computed>,
}

/// `underwater run` with the CLI's flags (`--out` names where `write` publishes by default), computed
/// and not written. `frames` are read in place of the files their names (`loans`, `valuations`) stand
/// for: each any object with `__arrow_c_stream__`, its columns text or typed. `digest=False` skips
/// the manifest's sha256 of the frames (for a caller that never reads the manifest).
#[pyfunction]
#[pyo3(signature = (argv, progress, frames=None, digest=true))]
fn run(
    py: Python<'_>,
    argv: Vec<String>,
    progress: bool,
    frames: Option<Vec<(String, Bound<'_, PyAny>)>>,
    digest: bool,
) -> PyResult<Run> {
    let Command::Run(cmd) = parse(py, "run", argv)? else {
        return Err(internal("not a run command"));
    };
    let mut imported = Vec::new();
    for (name, object) in frames.unwrap_or_default() {
        imported.push((name, frames::import(py, &object)?));
    }
    let (config, computed) = detached(py, move || {
        let mut spooled = Vec::new();
        let mut config = underwater::commands::run::config(cmd, &mut spooled)?;
        config.frames = frame_inputs(&imported, &config, digest)?;
        let computed = commands::run::compute(&config, Progress::new(!progress))?;
        Ok((config, computed))
    })?;
    Ok(Run {
        config,
        computed: Arc::new(computed),
    })
}

/// The imported frames as the run's inputs, by the input each stands for, named as the flags name
/// them (rejects and the manifest call a frame so).
fn frame_inputs(
    imported: &[(String, polars::prelude::DataFrame)],
    config: &Config,
    digest: bool,
) -> Result<underwater::input::frame::FrameInputs, Error> {
    use underwater::input::frame::FrameInput;
    let names = config.input_names();
    let read = |name: &str, frame| -> Result<Arc<FrameInput>, Error> {
        let input = FrameInput::new(name, frame)?;
        Ok(Arc::new(match digest {
            true => input,
            false => input.without_digest(),
        }))
    };
    let mut inputs = underwater::input::frame::FrameInputs::default();
    for (input, frame) in imported {
        match input.as_str() {
            "loans" => inputs.loans = Some(read(&names.loans, frame)?),
            "valuations" => inputs.valuations = Some(read(&names.valuations, frame)?),
            other => return Err(Error::internal(format!("no input is called {other}"))),
        }
    }
    Ok(inputs)
}

#[pymethods]
impl Run {
    /// The per-account figures, a frame per row group.
    fn accounts(&self) -> PyResult<Frames> {
        let book = self.computed.book.clone();
        let frames = underwater::output::frame::AccountsFrames::new(book).map_err(internal)?;
        Ok(Frames::new(frames))
    }

    /// Every other output (rejects.csv, the summary tables, report.html, report.xlsx, summary.json) as
    /// `(name, bytes)`, exactly as `run` writes them.
    fn files<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
        let c = &self.computed;
        let accounts = underwater::output::accounts_name(&self.config, &c.guards);
        let files = detached(py, || {
            underwater::output::files(&self.config, &c.book, &c.guards, c.started, accounts, None)
                .map_err(Error::from)
        })?;
        Ok(files
            .into_iter()
            .map(|f| (f.name, PyBytes::new(py, &f.bytes)))
            .collect())
    }

    /// rejects.csv's bytes alone, as `files` gives them (a Spark partition needs no other output).
    fn rejects_csv<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let rejects = &self.computed.book.rejects;
        let bytes = underwater::output::tables::rejects_csv(rejects, &self.config.input_names());
        PyBytes::new(py, &bytes)
    }

    /// The names of the loan's own columns at the end of the accounts (after the computed ones).
    fn loan_columns(&self) -> Vec<String> {
        self.computed.book.loaded.layout.tail_names.to_vec()
    }

    /// The summary tables' partial and the top exposures, as JSON bytes, for [`fold`] to merge with
    /// other parts of a book.
    fn partial<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let book = &self.computed.book;
        let part = Part {
            tables: underwater::book::partial::Partial::of(&book.summaries),
            top_exposures: TopExposuresJson::of(book),
        };
        let json = serde_json::to_vec(&part).map_err(internal)?;
        Ok(PyBytes::new(py, &json))
    }

    /// Raises the guard rail's exception when one failed (nothing was written).
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        match &self.computed.guards.failure {
            None => Ok(()),
            Some(failure) => Err(exception(
                py,
                failure.exit_code(),
                format!("{failure}; nothing was written"),
            )),
        }
    }

    /// Publishes the run to `out` (`run`'s `--out` when None) as `run` does: atomically, the same
    /// checks of the target, the same error after a failed guard rail's report.
    #[pyo3(signature = (out=None, format=None))]
    fn write(&self, py: Python<'_>, out: Option<PathBuf>, format: Option<&str>) -> PyResult<()> {
        let mut config = self.config.clone();
        if let Some(out) = out {
            config.out = out;
        }
        if let Some(format) = format {
            // The CLI's own names for `--format`, so the two accept the same words.
            use clap::ValueEnum;
            use underwater::config::Format;
            config.format = Format::from_str(format, false).map_err(|_| {
                let names: Vec<String> = Format::value_variants()
                    .iter()
                    .filter_map(|v| Some(v.to_possible_value()?.get_name().to_string()))
                    .collect();
                let message = format!("format {format:?} is not one of {}", names.join(", "));
                exception(py, underwater::error::EXIT_USAGE, message)
            })?;
        }
        let computed = &self.computed;
        detached(py, || {
            commands::run::publish(&config, computed, Progress::new(true))
        })
    }
}

/// What a part of a book (a Spark partition) hands to [`fold`].
#[derive(serde::Serialize, serde::Deserialize)]
struct Part {
    tables: underwater::book::partial::Partial,
    top_exposures: TopExposuresJson,
}

/// The whole book's figures beside its tables: summary.json's portfolio (totals and origination-LTV
/// percentiles) and top exposures.
#[derive(serde::Serialize)]
struct Whole {
    portfolio: underwater::output::summary_json::Portfolio,
    top_exposures: TopExposuresJson,
}

/// A book from its parts (see `Run.partial`): the files of the summary tables one run over the whole
/// book writes, as `(name, bytes)`, and the whole book's portfolio and top exposures as JSON bytes.
#[pyfunction]
#[allow(clippy::type_complexity)] // a (files, json) pair, as Python unpacks it
fn fold<'py>(
    py: Python<'py>,
    partials: Vec<Vec<u8>>,
    as_of: &str,
) -> PyResult<(Vec<(String, Bound<'py, PyBytes>)>, Bound<'py, PyBytes>)> {
    let as_of = underwater::date::Date::parse(as_of)
        .ok_or_else(|| internal(format!("as_of {as_of:?} is not a date")))?;
    let mut parts = partials
        .iter()
        .map(|p| serde_json::from_slice::<Part>(p).map_err(internal));
    let first = parts
        .next()
        .ok_or_else(|| internal("no partial to fold"))??;
    let whole = parts.try_fold(first, |whole, part| {
        let part = part?;
        Ok::<Part, PyErr>(Part {
            tables: whole.tables.merge(&part.tables).map_err(internal)?,
            top_exposures: whole.top_exposures.merge(part.top_exposures),
        })
    })?;
    let summaries = whole.tables.into_summaries();
    let files = underwater::output::table_files(&summaries, as_of);
    let figures = Whole {
        portfolio: underwater::output::summary_json::Portfolio::of(&summaries),
        top_exposures: whole.top_exposures,
    };
    let json = serde_json::to_vec_pretty(&figures).map_err(internal)?;
    let files = files
        .into_iter()
        .map(|f| (f.name, PyBytes::new(py, &f.bytes)))
        .collect();
    Ok((files, PyBytes::new(py, &json)))
}

/// A finished run's per-account file (accounts.csv or accounts.parquet), typed as `query` reads it.
#[pyfunction]
fn read_accounts(py: Python<'_>, dir: PathBuf) -> PyResult<Frames> {
    let frame = detached(py, || {
        underwater::output::finished_run::FinishedRun::open(&dir)?.accounts()
    })?;
    Ok(Frames::one(frame))
}

/// One of underwater's own CSV files (a summary table, rejects.csv) as a typed frame.
#[pyfunction]
fn read_table(py: Python<'_>, bytes: &[u8], name: &str) -> PyResult<Frames> {
    let frame = underwater::output::finished_run::read_csv_frame(bytes, name)
        .map_err(|e| exception(py, underwater::error::EXIT_INPUT, e))?;
    Ok(Frames::one(frame))
}

/// `underwater query` with the CLI's flags; the answer as a frame.
#[pyfunction]
fn query(py: Python<'_>, argv: Vec<String>, progress: bool) -> PyResult<Frames> {
    let Command::Query(cmd) = parse(py, "query", argv)? else {
        return Err(internal("not a query command"));
    };
    let frame = detached(py, move || {
        let mut spooled = Vec::new();
        let args = underwater::commands::query::query_args(cmd, false, &mut spooled)?;
        commands::query::answer(&args, Progress::new(!progress))
    })?;
    Ok(Frames::one(frame))
}

/// Any other command (`generate`, `backtest`, `calibrate`, `report`) with the CLI's flags, as the CLI
/// runs it: its files are the result.
#[pyfunction]
fn execute(py: Python<'_>, command: &str, argv: Vec<String>) -> PyResult<()> {
    let command = parse(py, command, argv)?;
    detached(py, move || underwater::cli::execute(Cli { command }))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    underwater::memory::tune();
    errors::add(m)?;
    m.add_class::<Frames>()?;
    m.add_class::<Run>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(read_accounts, m)?)?;
    m.add_function(wrap_pyfunction!(fold, m)?)?;
    m.add_function(wrap_pyfunction!(read_table, m)?)?;
    m.add_function(wrap_pyfunction!(query, m)?)?;
    m.add_function(wrap_pyfunction!(execute, m)?)?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
