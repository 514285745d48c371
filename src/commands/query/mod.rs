//! `underwater query`: analysts' questions answered with the exact figures of `run`, in SQL.
//!
//! Tables: `accounts` (every per-account figure of `run` with the loan's own columns), and with raw
//! inputs also `loans` and `valuations` as polars reads them. The SQL engine is polars'. A source is
//! either a finished run's directory (accounts.parquet or accounts.csv, read as written, nothing
//! recomputed) or the raw inputs, computed on the spot exactly as `run` does.
//!
//! Exactness through SQL: money columns are `Decimal(38, 2)` and ratios `Decimal(38, 4)`, the same
//! integers of cents `run` writes. `SUM`, `MIN`, `MAX`, comparisons and `GROUP BY` on them stay exact
//! decimals, so a sum in a query equals the sum of the per-account figures to the cent. `AVG` and
//! division leave decimals for floats in polars: use them for ratios, not for money totals.
//!
//! The shorthands build SQL: `--where` filters, `--by` groups with the standard metrics of the summary
//! reports plus a TOTAL row, `--top N --order-by COL` keeps the N largest.

mod args;
mod render;
mod runs;
mod sql;

pub use args::{QueryArgs, QueryCmd, QueryFormat, Source, QUERY_HELP};
pub use runs::{expand_runs, read_run};

use crate::book;
use crate::config::Config;
use crate::error::{Error, InputError, OutputError, QueryError};
use crate::progress::Progress;
use args::{internal, Scope};
use polars::prelude::*;
use polars::sql::SQLContext;
use runs::read_runs;
use sql::{build_sql, caret, check_columns, check_depth, metrics, rewrite};
use std::path::{Path, PathBuf};

/// Where the answer goes and in what format: `-o FILE` (None: standard output, also for `-o -`) and the
/// format from `--format`, else from the file's extension, else a table on a terminal and CSV in a pipe.
/// An extension that is not a format, or that contradicts `--format`, is refused: a CSV in a file named
/// `.xlsx` would open as garbage.
pub fn output_format(
    output: Option<PathBuf>,
    format: Option<QueryFormat>,
    terminal: bool,
) -> Result<(Option<PathBuf>, QueryFormat), QueryError> {
    let output = output.filter(|p| p.as_os_str() != "-");
    let by_extension = match output.as_ref().and_then(|p| Some((p, p.extension()?))) {
        None => None,
        Some((path, ext)) => Some(match ext.to_string_lossy().to_ascii_lowercase().as_str() {
            "parquet" => QueryFormat::Parquet,
            "json" => QueryFormat::Json,
            "md" | "markdown" => QueryFormat::Markdown,
            "csv" => QueryFormat::Csv,
            "txt" => QueryFormat::Table,
            other => {
                return Err(QueryError::BadOutput {
                    path: path.clone(),
                    problem: format!("`.{other}` is not a format underwater writes"),
                })
            }
        }),
    };
    let format = match (format, by_extension) {
        (Some(f), Some(e)) if f != e => {
            return Err(QueryError::BadOutput {
                path: output.clone().unwrap_or_default(),
                problem: format!("--format {f:?} does not match the file's extension")
                    .to_lowercase(),
            })
        }
        (Some(f), _) | (None, Some(f)) => f,
        (None, None) if terminal && output.is_none() => QueryFormat::Table,
        (None, None) => QueryFormat::Csv,
    };
    Ok((output, format))
}

/// Runs a query and writes its answer (stdout or `-o FILE`).
pub fn query(args: QueryArgs, progress: Progress) -> Result<(), Error> {
    let answer = answer(&args, progress)?;
    let bytes = render::render(answer, args.format).map_err(internal)?;
    match &args.output {
        Some(path) => {
            use crate::output::single_file::{refuse_run_file, write_file};
            refuse_run_file(path)
                .and_then(|()| write_file(path, &bytes))
                .map_err(|e| OutputError(e).into())
        }
        None => super::print(&bytes),
    }
}

/// A query's answer as a frame (what `query` renders; the Python package returns it as it is).
pub fn answer(args: &QueryArgs, progress: Progress) -> Result<DataFrame, Error> {
    let sql = build_sql(args)?;
    let ctx = SQLContext::new();
    let (accounts, bands) = match &args.source {
        Source::Runs(dirs) => runs_tables(&ctx, dirs)?,
        Source::Inputs(config) => inputs_tables(&ctx, config, &sql, progress)?,
    };
    let mut accounts = accounts;
    let scope = Scope {
        columns: accounts
            .collect_schema()
            .map_err(internal)?
            .iter_names()
            .map(|c| c.to_string())
            .collect(),
        ordered: natural_orders(bands),
    };
    check_columns(args, &scope.columns)?;
    // With a product, the same SQL over the accounts in floating point: a decimal answer that is not
    // near its float twin wrapped past 38 digits (polars' decimal arithmetic does not check).
    // The shorthands' own products (a balance times a ratio) stay far inside 38 digits: only the
    // user's SQL and `--where` are checked.
    let products = args.sql.as_deref().is_some_and(sql::multiplies)
        || args
            .filter
            .as_deref()
            .is_some_and(|w| sql::multiplies(&format!("SELECT 1 WHERE {w}")));
    let floats = match products {
        true => Some((as_floats(accounts.clone())?, accounts.clone())),
        false => None,
    };
    ctx.register("accounts", accounts);
    let mut ctx = ctx;
    let answer = run_sql(&mut ctx, &sql, &scope)?;
    if let Some((floats, exact)) = floats {
        ctx.register("accounts", floats);
        let twin = run_sql(&mut ctx, &sql, &scope)?;
        // The exact table back, for the TOTAL row of `--by`.
        ctx.register("accounts", exact);
        check_no_wrap(&answer, &twin)?;
    }
    match (&args.by[..], args.sql.is_none()) {
        (by, true) if !by.is_empty() => with_total(&mut ctx, args, answer, &scope),
        _ => Ok(answer),
    }
}

/// Registers a finished run's rejects (one run) and returns its accounts and bands.
fn runs_tables(ctx: &SQLContext, dirs: &[PathBuf]) -> Result<(LazyFrame, Vec<String>), Error> {
    // The run's rejects.csv, line numbers as integers (one run: several runs' rejects would need a
    // run column of their own).
    if let [dir] = dirs {
        let path = dir.join("rejects.csv");
        if path.exists() {
            let mut rejects = read_raw(&path)?;
            if let Ok(line) = rejects
                .column("line")
                .and_then(|c| c.cast(&DataType::UInt64))
            {
                rejects.with_column(line).map_err(internal)?;
            }
            ctx.register("rejects", rejects.lazy());
        }
    }
    let (frame, bands) = read_runs(dirs)?;
    Ok((frame.lazy(), bands))
}

/// Computes the book of raw inputs, registers its rejects and the raw tables the SQL names, and
/// returns its accounts (a scan computed on demand) and bands.
fn inputs_tables(
    ctx: &SQLContext,
    config: &Config,
    sql: &str,
    progress: Progress,
) -> Result<(LazyFrame, Vec<String>), Error> {
    let pool = super::thread_pool(config.threads)?;
    // The query's tables show no stress scenario: leave them out of the book (a quarter of the
    // figures' time). The run-off stays: `months_to_positive_equity` is a column.
    let model = book::model::Model {
        scenarios: Vec::new(),
        ..config.model.clone()
    };
    let plan = book::Plan {
        model: &model,
        ..config.plan()
    };
    let book = pool.install(|| book::build(&plan, progress))?;
    register_raw_tables(ctx, config, sql)?;
    ctx.register("rejects", rejects_frame(&book, config)?.lazy());
    let bands = book.bands.labels.clone();
    let scan = crate::output::frame::AccountsScan::new(
        std::sync::Arc::new(book),
        std::sync::Arc::new(pool),
    );
    Ok((scan.and_then(|s| s.lazy()).map_err(internal)?, bands))
}

/// Registers `loans` and `valuations` as read from the input files, each only when the SQL names it:
/// at 1M loans and 3M valuations the two raw tables as text take 1.5 GB and seconds that a query of
/// `accounts` does not need.
fn register_raw_tables(ctx: &SQLContext, config: &Config, sql: &str) -> Result<(), Error> {
    for (name, path) in [
        ("loans", Some(&config.loans)),
        ("valuations", config.valuations.as_ref()),
    ] {
        let named = sql
            .to_ascii_lowercase()
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word == name);
        if let Some(path) = path.filter(|_| named && name == "valuations") {
            ctx.register("valuations", valuations_table(path, config)?.lazy());
            continue;
        }
        if let Some(path) = path.filter(|_| named) {
            let raw = if name == "loans"
                && config.tape.is_some()
                && crate::input::xmltape::is_xml(path)
            {
                // polars reads CSV, not XML: give it the tape's CSV form, as `run` reads it.
                read_raw(&crate::input::xmltape::convert(path)?.csv)?
            } else {
                read_raw(path)?
            };
            ctx.register(name, raw.lazy());
        }
    }
    Ok(())
}

/// The book's rejects as the `rejects` table: file, line, field, reason, raw record.
fn rejects_frame(book: &book::Book, config: &Config) -> Result<DataFrame, Error> {
    let files = config.input_names();
    let rejects = &book.rejects;
    use crate::output::frame::text;
    DataFrame::new(
        rejects.len(),
        vec![
            text("file", rejects.iter().map(|r| Some(files.of(r.input)))),
            UInt64Chunked::from_iter_options("line".into(), rejects.iter().map(|r| Some(r.line)))
                .into_column(),
            text("field", rejects.iter().map(|r| Some(r.field.as_str()))),
            text("reason", rejects.iter().map(|r| Some(r.reason.as_str()))),
            text("raw_record", rejects.iter().map(|r| Some(r.raw.as_str()))),
        ],
    )
    .map_err(internal)
}

/// The accounts with every decimal column as a float, for [`check_no_wrap`].
fn as_floats(mut accounts: LazyFrame) -> Result<LazyFrame, Error> {
    let schema = accounts.collect_schema().map_err(internal)?;
    let decimals: Vec<Expr> = schema
        .iter()
        .filter(|(_, dtype)| matches!(dtype, DataType::Decimal(..)))
        .map(|(name, _)| col(name.clone()).cast(DataType::Float64))
        .collect();
    Ok(accounts.with_columns(decimals))
}

/// Refuses an answer with a decimal that is not its float twin's value to 6 significant digits (both
/// sorted, so the order of ties does not matter): it wrapped past 38 digits.
fn check_no_wrap(answer: &DataFrame, twin: &DataFrame) -> Result<(), Error> {
    for column in answer.columns() {
        if !matches!(column.dtype(), DataType::Decimal(..)) || answer.height() != twin.height() {
            continue;
        }
        let floats = |c: &Column| -> Vec<f64> {
            let mut v: Vec<f64> = c
                .cast(&DataType::Float64)
                .ok()
                .and_then(|c| c.f64().ok().map(|ca| ca.iter().flatten().collect()))
                .unwrap_or_default();
            v.sort_by(f64::total_cmp);
            v
        };
        let Ok(other) = twin.column(column.name()) else {
            continue;
        };
        for (exact, float) in floats(column).into_iter().zip(floats(other)) {
            if float.is_finite() && (exact - float).abs() > 1e-6 * float.abs().max(1.0) {
                return Err(QueryError::Overflow {
                    column: column.name().to_string(),
                    approximately: float,
                }
                .into());
            }
        }
    }
    Ok(())
}

/// The report's ordered labels: the LTV bands of the run (then `no_value`), credit tiers and term
/// bands. Text sorts `<=80` after `>140` and `100-120` before `80-100`; these sort as the report does.
fn natural_orders(bands: Vec<String>) -> Vec<(String, Vec<String>)> {
    let derived = |name: &str| {
        let labels = book::segments::ordered_labels(name).unwrap_or_default();
        (
            name.to_string(),
            labels.into_iter().map(String::from).collect(),
        )
    };
    vec![
        ("ltv_bucket".to_string(), bands.clone()),
        ("origination_ltv_bucket".to_string(), bands.clone()),
        ("previous_ltv_bucket".to_string(), bands),
        derived("credit_tier"),
        derived("term_band"),
    ]
}

fn run_sql(ctx: &mut SQLContext, sql: &str, scope: &Scope) -> Result<DataFrame, Error> {
    check_depth(sql)?;
    let columns = &scope.columns;
    let explain = |e: PolarsError| -> Error {
        let message = e.to_string();
        if let PolarsError::ColumnNotFound(_) = e {
            let column = message
                .split('"')
                .nth(1)
                .unwrap_or(message.as_str())
                .to_string();
            return QueryError::UnknownColumn {
                column,
                available: columns.join(", "),
            }
            .into();
        }
        QueryError::Sql {
            message: format!(
                "{}{}",
                message.trim().replace('\n', " "),
                caret(sql, &message)
            ),
        }
        .into()
    };
    ctx.execute(&rewrite(sql, &scope.ordered))
        .and_then(|lf| lf.collect())
        .map_err(explain)
}

/// Appends a TOTAL row to a `--by` answer: the same metrics over the whole (filtered) book.
fn with_total(
    ctx: &mut SQLContext,
    args: &QueryArgs,
    grouped: DataFrame,
    scope: &Scope,
) -> Result<DataFrame, Error> {
    let filter = args
        .filter
        .as_ref()
        .map(|w| format!(" WHERE {w}"))
        .unwrap_or_default();
    let total = run_sql(
        ctx,
        &format!("SELECT {} FROM accounts{filter}", metrics()),
        scope,
    )?;
    let mut grouped_cols: Vec<Column> = Vec::new();
    let mut total_cols: Vec<Column> = Vec::new();
    for (i, name) in args.by.iter().enumerate() {
        let name = name.trim();
        let col = grouped
            .column(name)
            .and_then(|c| c.cast(&DataType::String))
            .map_err(internal)?;
        // A group literally named TOTAL is labelled as the summary files label it, so the total row
        // is the only `TOTAL`.
        let labels: Vec<Option<&str>> = col
            .str()
            .map_err(internal)?
            .iter()
            .map(|v| {
                v.map(|v| {
                    if v == book::segments::TOTAL {
                        book::segments::TOTAL_AS_VALUE
                    } else {
                        v
                    }
                })
            })
            .collect();
        grouped_cols.push(Column::new(name.into(), labels));
        let label = if i == 0 { book::segments::TOTAL } else { "" };
        total_cols.push(Column::new(name.into(), [label]));
    }
    for c in total.columns() {
        grouped_cols.push(
            grouped
                .column(c.name())
                .and_then(|g| g.cast(c.dtype()))
                .map_err(internal)?,
        );
        total_cols.push(c.clone());
    }
    let mut out = DataFrame::new(grouped.height(), grouped_cols).map_err(internal)?;
    let total = DataFrame::new(1, total_cols).map_err(internal)?;
    out.vstack_mut(&total).map_err(internal)?;
    Ok(out)
}

/// The accepted rows of a valuations file, typed: `vin` (upper-cased, as matched), `valuation_date` a
/// date, `value` an exact decimal, `source` text. Rejected rows are in `rejects`.
fn valuations_table(path: &Path, config: &crate::config::Config) -> Result<DataFrame, Error> {
    let rows = crate::input::valuations::accepted_valuations(
        path,
        &config.plan().valuations_conventions,
        config.chunk_bytes,
    )?;
    let scale = rows
        .iter()
        .map(|v| v.value.scale())
        .max()
        .unwrap_or(2)
        .max(2);
    let columns = vec![
        crate::output::frame::text("vin", rows.iter().map(|v| Some(v.vin.as_str()))),
        crate::output::frame::date_column("valuation_date", rows.iter().map(|v| Some(v.date))),
        crate::output::frame::money("value", rows.iter().map(|v| Some(v.value)), scale)
            .map_err(internal)?,
        crate::output::frame::text("source", rows.iter().map(|v| Some(v.source.as_str()))),
    ];
    DataFrame::new(rows.len(), columns).map_err(internal)
}

/// A raw input as polars reads it, every column as text (the `accounts` table has the exact figures).
fn read_raw(path: &Path) -> Result<DataFrame, Error> {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| {
            InputError::NotATable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
            .into()
        })
}

/// `underwater query`: the source (finished runs or raw inputs), the format, the answer.
pub fn command(cmd: QueryCmd) -> Result<(), Error> {
    let mut spooled = Vec::new();
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let quiet = cmd.workers.quiet;
    let args = query_args(cmd, terminal, &mut spooled)?;
    query(args, crate::progress::Progress::new(quiet))
}

/// The query's arguments from `query`'s flags: `terminal` says whether stdout is one (the default
/// format); standard input is spooled into `spooled`, which must outlive the query.
pub fn query_args(
    cmd: QueryCmd,
    terminal: bool,
    spooled: &mut Vec<tempfile::TempPath>,
) -> Result<QueryArgs, Error> {
    let source = match (cmd.run.is_empty(), cmd.loans) {
        (false, _) => Source::Runs(expand_runs(&cmd.run)?),
        (true, Some(loans)) => {
            let (loans, valuations) =
                crate::commands::args::from_stdin(loans, cmd.valuations, spooled)?;
            let tape_period = crate::commands::args::tape_period(cmd.tape, &loans)?;
            // Query's tables show no scenario; the run-off column stays.
            Source::Inputs(Box::new(Config::build(crate::config::RunArgs {
                threads: cmd.workers.threads,
                quiet: cmd.workers.quiet,
                ..crate::config::RunArgs::book(
                    loans,
                    valuations,
                    cmd.tape,
                    tape_period,
                    cmd.config,
                    cmd.as_of,
                )
            })?))
        }
        (true, None) => unreachable!("clap requires --run or --loans"),
    };
    let (output, format) = output_format(cmd.output, cmd.format, terminal)?;
    Ok(QueryArgs {
        source,
        sql: cmd.sql,
        filter: cmd.filter,
        by: cmd.by,
        top: cmd.top,
        order_by: cmd.order_by,
        format,
        output,
    })
}
