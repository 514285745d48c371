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

use crate::book;
use crate::config::Config;
use crate::error::{Error, InputError, OutputError, QueryError};
use crate::output::summary_json::Summary;
use crate::output::tables::SUM_METRICS;
use crate::progress::Progress;
use polars::prelude::*;
use polars::sql::SQLContext;
use std::path::{Path, PathBuf};

/// Output formats of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns for people: money right-aligned with thousands separators
    Table,
    Csv,
    Json,
    Markdown,
    Parquet,
}

/// Where the `accounts` table comes from.
pub enum Source {
    /// Finished runs' output directories (one or more).
    Runs(Vec<PathBuf>),
    /// Raw inputs, computed as `run` does.
    Inputs(Box<Config>),
}

/// A query as the command line gave it.
pub struct QueryArgs {
    pub source: Source,
    pub sql: Option<String>,
    pub filter: Option<String>,
    pub by: Vec<String>,
    pub top: Option<usize>,
    pub order_by: Option<String>,
    pub format: QueryFormat,
    pub output: Option<PathBuf>,
}

/// Columns a run directory's accounts file must have for this version's queries.
const REQUIRED: [&str; 5] = [
    "account_id",
    "balance",
    "negative_equity",
    "origination_ltv_bucket",
    "term_band",
];

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
    let sql = build_sql(&args)?;
    let ctx = SQLContext::new();
    let (accounts, bands) = match &args.source {
        Source::Runs(dirs) => {
            // The run's rejects.csv, line numbers as integers (one run: several runs' rejects would
            // need a run column of their own).
            if let [dir] = &dirs[..] {
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
            (frame.lazy(), bands)
        }
        Source::Inputs(config) => {
            let pool = super::thread_pool(config.threads)?;
            // The query's tables show no stress scenario: leave them out of the book (a quarter of
            // the figures' time). The run-off stays: `months_to_positive_equity` is a column.
            let model = book::model::Model {
                scenarios: Vec::new(),
                ..config.model.clone()
            };
            let plan = book::Plan {
                model: &model,
                ..config.plan()
            };
            let book = pool.install(|| book::build(&plan, progress))?;
            for (name, path) in [
                ("loans", Some(&config.loans)),
                ("valuations", config.valuations.as_ref()),
            ] {
                // Read only when the SQL names the table: at 1M loans and 3M valuations the two raw
                // tables as text take 1.5 GB and seconds that a query of `accounts` does not need.
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
            let files = config.input_names();
            let rejects = &book.rejects;
            let table = DataFrame::new(
                rejects.len(),
                vec![
                    crate::output::parquet::text(
                        "file",
                        rejects.iter().map(|r| Some(files.of(r.input))),
                    ),
                    UInt64Chunked::from_iter_options(
                        "line".into(),
                        rejects.iter().map(|r| Some(r.line)),
                    )
                    .into_column(),
                    crate::output::parquet::text(
                        "field",
                        rejects.iter().map(|r| Some(r.field.as_str())),
                    ),
                    crate::output::parquet::text(
                        "reason",
                        rejects.iter().map(|r| Some(r.reason.as_str())),
                    ),
                    crate::output::parquet::text(
                        "raw_record",
                        rejects.iter().map(|r| Some(r.raw.as_str())),
                    ),
                ],
            )
            .map_err(internal)?;
            ctx.register("rejects", table.lazy());
            let bands = book.bands.labels.clone();
            let scan = crate::output::parquet::AccountsScan::new(
                std::sync::Arc::new(book),
                std::sync::Arc::new(pool),
            );
            (scan.and_then(|s| s.lazy()).map_err(internal)?, bands)
        }
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
    check_columns(&args, &scope.columns)?;
    ctx.register("accounts", accounts);
    let mut ctx = ctx;
    let answer = run_sql(&mut ctx, &sql, &scope)?;
    let answer = match (&args.by[..], args.sql.is_none()) {
        (by, true) if !by.is_empty() => with_total(&mut ctx, &args, answer, &scope)?,
        _ => answer,
    };
    let bytes = render(answer, args.format).map_err(internal)?;
    match &args.output {
        Some(path) => {
            use crate::output::staging::{refuse_run_file, write_file};
            refuse_run_file(path)
                .and_then(|()| write_file(path, &bytes))
                .map_err(|e| OutputError(e).into())
        }
        None => super::print(&bytes),
    }
}

fn internal(e: PolarsError) -> Error {
    Error::internal(e)
}

/// What SQL is checked and rewritten against: the columns of `accounts`, and the columns whose labels
/// have a natural order.
struct Scope {
    columns: Vec<String>,
    ordered: Vec<(String, Vec<String>)>,
}

/// The report's ordered labels: the LTV bands of the run (then `no_value`), credit tiers and term
/// bands. Text sorts `<=80` after `>140` and `100-120` before `80-100`; these sort as the report does.
fn natural_orders(bands: Vec<String>) -> Vec<(String, Vec<String>)> {
    let derived = |name: &str| {
        let labels = book::summarize::ordered_labels(name).unwrap_or_default();
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

/// The SQL of a query: as given, or built from the shorthands.
fn build_sql(args: &QueryArgs) -> Result<String, QueryError> {
    let shorthand = args.filter.is_some() || !args.by.is_empty() || args.top.is_some();
    match (&args.sql, shorthand) {
        (Some(_), true) => return Err(QueryError::Both),
        (Some(sql), false) => return Ok(sql.clone()),
        (None, false) => return Err(QueryError::Nothing),
        (None, true) => {}
    }
    let filter = args
        .filter
        .as_ref()
        .map(|w| format!(" WHERE {w}"))
        .unwrap_or_default();
    let order_by = |default: String| match (&args.order_by, args.top) {
        (Some(col), _) => Ok(format!(" ORDER BY {} DESC", quote(col))),
        (None, Some(_)) => Err(QueryError::TopWithoutOrder),
        (None, None) => Ok(default),
    };
    let limit = args.top.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    if !args.by.is_empty() {
        let by = args
            .by
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ");
        let order = order_by(format!(" ORDER BY {by}"))?;
        return Ok(format!(
            "SELECT {by}, {} FROM accounts{filter} GROUP BY {by}{order}{limit}",
            metrics()
        ));
    }
    let order = order_by(String::new())?;
    Ok(format!("SELECT * FROM accounts{filter}{order}{limit}"))
}

/// The metric columns of a `--by` answer beyond the summary tables' sums.
const RATIO_METRICS: [&str; 2] = ["share_underwater", "avg_ltv"];

/// Every column a shorthand names must exist: an unknown one is refused with the list of columns,
/// before polars sees it (`--order-by` may also name a metric of `--by`).
fn check_columns(args: &QueryArgs, columns: &[String]) -> Result<(), QueryError> {
    let known = |c: &str| columns.iter().any(|k| k == c.trim());
    let metric = |c: &str| {
        let c = c.trim();
        !args.by.is_empty() && (SUM_METRICS.contains(&c) || RATIO_METRICS.contains(&c))
    };
    let unknown = args
        .by
        .iter()
        .find(|c| !known(c))
        .or(args.order_by.as_ref().filter(|c| !known(c) && !metric(c)));
    match unknown {
        Some(column) => Err(QueryError::UnknownColumn {
            column: column.clone(),
            available: columns.join(", "),
        }),
        None => Ok(()),
    }
}

/// The standard metrics of the summary reports, as SQL aggregates: money sums stay exact decimals;
/// `share_underwater` (of the valued open accounts, as in the summary tables) and `avg_ltv` (balance-weighted, from the exact ratio balance /
/// value over valued accounts) are floats at full precision, where summary_by_*.csv rounds to 4 places.
fn metrics() -> String {
    [
        "COUNT(*) AS accounts",
        "SUM(CASE WHEN balance = 0 THEN 1 ELSE 0 END) AS closed_accounts",
        "SUM(CASE WHEN value IS NOT NULL AND balance > 0 THEN 1 ELSE 0 END) AS valued_accounts",
        "SUM(balance) AS balance",
        "SUM(value) AS value",
        "SUM(CASE WHEN negative_equity > 0 THEN 1 ELSE 0 END) AS underwater_accounts",
        "SUM(negative_equity) AS negative_equity",
        "SUM(deficiency_if_default) AS deficiency_if_default",
        "SUM(expected_deficiency) AS expected_deficiency",
        "SUM(CASE WHEN negative_equity > 0 THEN 1 ELSE 0 END) \
         / NULLIF(SUM(CASE WHEN value IS NOT NULL AND balance > 0 THEN 1 ELSE 0 END), 0) AS share_underwater",
        "SUM(CASE WHEN value IS NOT NULL THEN balance * balance / value END) \
         / SUM(CASE WHEN value IS NOT NULL THEN balance END) AS avg_ltv",
    ]
    .join(", ")
}

fn quote(column: &str) -> String {
    format!("\"{}\"", column.trim().replace('"', "\"\""))
}

/// Rewrites an analyst's SQL so it cannot print a silently wrong number or order:
///
/// - polars divides two decimals at their own scale, so `SUM(expected_deficiency) / SUM(balance)` on
///   money (2 places) gives 0.01 for 0.0081. Every `/` is therefore done in 64-bit floats, which [`cell`]
///   prints at full precision.
/// - `ORDER BY` puts missing values last unless the SQL says `NULLS FIRST`.
/// - `ORDER BY` a column of ordered labels (`ltv_bucket`, `credit_tier`, `term_band`, …) sorts in the
///   report's order rather than as text: the column is replaced in the ORDER BY by a `CASE` giving each
///   label its rank (labels it does not know sort last, as text after them).
///
/// SQL that sqlparser cannot read is left as written, for polars to report with its position.
fn rewrite(sql: &str, ordered: &[(String, Vec<String>)]) -> String {
    use sqlparser::ast::{visit_expressions_mut, BinaryOperator, CastKind, DataType, Expr};
    use sqlparser::ast::{ExactNumberInfo, VisitMut};
    use sqlparser::dialect::GenericDialect;
    use sqlparser::parser::{Parser, ParserOptions};
    let lower = sql.to_ascii_lowercase();
    let orders = lower.contains("order");
    if !sql.contains('/') && !orders {
        return sql.to_string();
    }
    let parsed = Parser::new(&GenericDialect)
        .with_options(ParserOptions {
            trailing_commas: true,
            ..Default::default()
        })
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements());
    let Ok(mut statements) = parsed else {
        return sql.to_string();
    };
    let as_double = |e: &mut Box<Expr>| {
        let inner = std::mem::replace(
            e.as_mut(),
            Expr::Wildcard(sqlparser::ast::helpers::attached_token::AttachedToken::empty()),
        );
        **e = Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(inner),
            data_type: DataType::Double(ExactNumberInfo::None),
            array: false,
            format: None,
        };
    };
    let _ = visit_expressions_mut(&mut statements, |e| {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Divide,
            right,
        } = e
        {
            as_double(left);
            as_double(right);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    if orders {
        let _ = statements.visit(&mut NaturalOrder(ordered));
    }
    statements
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Replaces `ORDER BY <ordered column>` with `ORDER BY CASE <column> WHEN <label> THEN <rank> … END`.
struct NaturalOrder<'a>(&'a [(String, Vec<String>)]);

impl sqlparser::ast::VisitorMut for NaturalOrder<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut sqlparser::ast::Query) -> std::ops::ControlFlow<()> {
        use sqlparser::ast::{Expr, OrderByKind};
        let Some(order) = query.order_by.as_mut() else {
            return std::ops::ControlFlow::Continue(());
        };
        let OrderByKind::Expressions(exprs) = &mut order.kind else {
            return std::ops::ControlFlow::Continue(());
        };
        for item in exprs {
            // Missing values sort last unless the SQL says otherwise: "the top 3 by negative equity"
            // must not be three unvalued accounts (SQL's default puts NULLs first when descending).
            if item.options.nulls_first.is_none() {
                item.options.nulls_first = Some(false);
            }
            let name = match &item.expr {
                Expr::Identifier(id) => Some(id.value.clone()),
                Expr::CompoundIdentifier(ids) => ids.last().map(|id| id.value.clone()),
                _ => None,
            };
            let Some((_, labels)) =
                name.and_then(|n| self.0.iter().find(|(c, _)| c.eq_ignore_ascii_case(&n)))
            else {
                continue;
            };
            let mut case = format!("CASE {} ", item.expr);
            for (rank, label) in labels.iter().enumerate() {
                case.push_str(&format!(
                    "WHEN '{}' THEN {rank} ",
                    label.replace('\'', "''")
                ));
            }
            case.push_str(&format!("ELSE {} END", labels.len()));
            if let Ok(expr) = sqlparser::parser::Parser::new(&sqlparser::dialect::GenericDialect)
                .try_with_sql(&case)
                .and_then(|mut p| p.parse_expr())
            {
                item.expr = expr;
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Executes SQL, turning polars' errors into ones an analyst can act on.
/// The most operators and nested parentheses a query may hold. Each nests the expression tree one level
/// deeper, and the parser and planner walk it recursively: thousands of `OR` terms overflowed the stack.
const MAX_SQL_DEPTH: usize = 1000;

/// Refuses SQL whose expressions could nest deeper than [`MAX_SQL_DEPTH`], counted on its tokens (each
/// binary operator or open parenthesis is at most one level), before anything parses it recursively.
fn check_depth(sql: &str) -> Result<(), QueryError> {
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = sqlparser::dialect::GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return Ok(()); // the parser reports the error, with its position
    };
    let levels = tokens
        .iter()
        .filter(|t| match t {
            Token::Word(w) => matches!(w.keyword, Keyword::AND | Keyword::OR | Keyword::NOT),
            Token::LParen
            | Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq => true,
            _ => false,
        })
        .count();
    if levels > MAX_SQL_DEPTH {
        return Err(QueryError::Sql {
            message: format!(
                "the query has {levels} operators and parentheses; at most {MAX_SQL_DEPTH}. Fix: write a \
                 long list of alternatives as `column IN (a, b, ...)`, or split the query"
            ),
        });
    }
    Ok(())
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

/// The SQL line a parser error points at (`at Line: L, Column: C`), with a caret under the column.
fn caret(sql: &str, message: &str) -> String {
    let number_after = |key: &str| -> Option<usize> {
        let rest = &message[message.find(key)? + key.len()..];
        rest.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    match (number_after("Line:"), number_after("Column:")) {
        (Some(line), Some(column)) if line >= 1 && column >= 1 => match sql.lines().nth(line - 1) {
            Some(text) => format!("\n  {text}\n  {}^", " ".repeat(column - 1)),
            None => String::new(),
        },
        _ => String::new(),
    }
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
                    if v == book::summarize::TOTAL {
                        book::summarize::TOTAL_AS_VALUE
                    } else {
                        v
                    }
                })
            })
            .collect();
        grouped_cols.push(Column::new(name.into(), labels));
        let label = if i == 0 { book::summarize::TOTAL } else { "" };
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

/// The version that wrote a summary.json, read on its own when the whole file cannot be.
#[derive(serde::Deserialize)]
struct VersionOf {
    manifest: VersionOnly,
}

#[derive(serde::Deserialize)]
struct VersionOnly {
    version: String,
}

/// `--run` values as directories: each as given, or a pattern whose last part has `*` or `?`, expanded
/// to the matching run directories (those with a summary.json) in name order. A pattern skips hidden
/// directories (a killed run's staging folder) and `<name>.failed` ones, saying so on stderr; a run
/// named twice (by two values, or a value and a pattern) is read once, where it is first named.
pub fn expand_runs(values: &[PathBuf]) -> Result<Vec<PathBuf>, QueryError> {
    let mut seen = std::collections::HashSet::new();
    let mut once = Vec::new();
    for dir in matched_runs(values)? {
        let key = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if seen.insert(key) {
            once.push(dir);
        }
    }
    Ok(once)
}

/// Whether a pattern skips a directory of this name: hidden (staging) or a failed run's.
fn not_a_published_run(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".failed")
}

fn matched_runs(values: &[PathBuf]) -> Result<Vec<PathBuf>, QueryError> {
    let mut dirs = Vec::new();
    for value in values {
        let name = value
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.contains(['*', '?']) {
            dirs.push(value.clone());
            continue;
        }
        let parent = match value.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut found: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            let entry_name = entry.file_name().to_string_lossy().into_owned();
            if !wildcard(&name, &entry_name) || !entry.path().join("summary.json").is_file() {
                continue;
            }
            if not_a_published_run(&entry_name) {
                eprintln!(
                    "underwater: note: {} skipped: a hidden or failed run is not a published one",
                    entry.path().display()
                );
                continue;
            }
            found.push(entry.path());
        }
        if found.is_empty() {
            return Err(QueryError::NotARun {
                dir: value.clone(),
                problem: "the pattern matches no run directory (one with a summary.json)".into(),
            });
        }
        found.sort();
        dirs.extend(found);
    }
    Ok(dirs)
}

/// Shell-style matching of one name: `*` any run of characters, `?` one character.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Reads several runs into one `accounts` with an `as_of` column (`run_as_of` if the loans have an
/// `as_of` of their own). Columns must be the same in every run; a column whose type differs between
/// runs is widened: decimals to the largest scale, anything else to text.
fn read_runs(dirs: &[PathBuf]) -> Result<(DataFrame, Vec<String>), Error> {
    let mut frames = Vec::with_capacity(dirs.len());
    let mut bands: Vec<String> = Vec::new();
    for dir in dirs {
        let (mut df, run_bands, as_of) = read_run(dir)?;
        for b in run_bands {
            if !bands.contains(&b) {
                bands.push(b);
            }
        }
        let name = if df.column("as_of").is_ok() {
            "run_as_of"
        } else {
            "as_of"
        };
        let day = crate::date::Date::parse(&as_of);
        let column =
            crate::output::parquet::date_column(name, std::iter::repeat_n(day, df.height()));
        df.with_column(column).map_err(internal)?;
        frames.push((dir, df));
    }
    let (first_dir, first) = &frames[0];
    let names: Vec<String> = first
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    for (dir, df) in &frames[1..] {
        let theirs: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        if theirs != names {
            let differ: Vec<&String> = names
                .iter()
                .filter(|c| !theirs.contains(c))
                .chain(theirs.iter().filter(|c| !names.contains(c)))
                .collect();
            return Err(QueryError::NotARun {
                dir: dir.to_path_buf(),
                problem: format!(
                    "its accounts columns differ from those of {} ({}): runs queried together need \
                     the same columns",
                    first_dir.display(),
                    differ.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                ),
            }
            .into());
        }
    }
    let mut out: Option<DataFrame> = None;
    for name in &names {
        let dtypes: Vec<&DataType> = frames
            .iter()
            .map(|(_, df)| df.column(name).map(|c| c.dtype()))
            .collect::<PolarsResult<_>>()
            .map_err(internal)?;
        let widest = if dtypes.iter().all(|d| *d == dtypes[0]) {
            None
        } else if dtypes.iter().all(|d| matches!(d, DataType::Decimal(..))) {
            let scale = dtypes
                .iter()
                .filter_map(|d| match d {
                    DataType::Decimal(_, s) => Some(*s),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            Some(DataType::Decimal(38, scale))
        } else {
            Some(DataType::String)
        };
        if let Some(to) = widest {
            for (_, df) in frames.iter_mut() {
                let cast = df
                    .column(name)
                    .and_then(|c| c.cast(&to))
                    .map_err(internal)?;
                df.with_column(cast).map_err(internal)?;
            }
        }
    }
    for (_, df) in frames {
        match out.as_mut() {
            None => out = Some(df),
            Some(all) => {
                all.vstack_mut(&df).map_err(internal)?;
            }
        }
    }
    let mut all = out.expect("at least one run");
    all.align_chunks();
    Ok((all, bands))
}

/// Reads a finished run's summary.json: typed, from this version, of a run that published its book.
pub fn run_summary(dir: &Path) -> Result<Summary, Error> {
    let not_a_run = |problem: String| QueryError::NotARun {
        dir: dir.to_path_buf(),
        problem,
    };
    let summary = std::fs::read(dir.join("summary.json"))
        .map_err(|e| not_a_run(format!("cannot read summary.json ({e})")))?;
    let summary: Summary = match serde_json::from_slice(&summary) {
        Ok(summary) => summary,
        Err(e) => {
            // An older version's summary: say so, rather than show a parse error.
            let version = serde_json::from_slice::<VersionOf>(&summary)
                .ok()
                .map(|v| v.manifest.version);
            return Err(match version {
                Some(found) if found != env!("CARGO_PKG_VERSION") => QueryError::Incompatible {
                    dir: dir.to_path_buf(),
                    found,
                    missing: "the summary.json this version reads".into(),
                    ours: env!("CARGO_PKG_VERSION"),
                },
                _ => not_a_run(format!("summary.json is not a run summary ({e})")),
            }
            .into());
        }
    };
    if !summary.status.ok {
        return Err(
            not_a_run("that run failed a guard rail and published no accounts".into()).into(),
        );
    }
    Ok(summary)
}

/// Reads a run directory's accounts, after checking it is one this version can read; with the run's
/// LTV band labels and its as_of.
fn read_run(dir: &Path) -> Result<(DataFrame, Vec<String>, String), Error> {
    let not_a_run = |problem: String| QueryError::NotARun {
        dir: dir.to_path_buf(),
        problem,
    };
    let summary = run_summary(dir)?;
    let found = summary.manifest.version;
    let bands = summary.tables.ltv_migration.columns_current_ltv_bucket;
    let as_of = summary.manifest.as_of;
    let parquet = dir.join("accounts.parquet");
    let df = if parquet.exists() {
        let file = std::fs::File::open(&parquet)
            .map_err(|e| not_a_run(format!("cannot open accounts.parquet ({e})")))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| not_a_run(format!("accounts.parquet cannot be read ({e})")))?;
        widen_decimals(df).map_err(internal)?
    } else {
        read_accounts_csv(&dir.join("accounts.csv")).map_err(not_a_run)?
    };
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| df.column(c).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(QueryError::Incompatible {
            dir: dir.to_path_buf(),
            found,
            missing: format!("the accounts columns {}", missing.join(", ")),
            ours: env!("CARGO_PKG_VERSION"),
        }
        .into());
    }
    Ok((df, bands, as_of))
}

/// accounts.parquet keeps money of up to 18 digits as 64-bit decimals; the `accounts` table has every
/// decimal at precision 38 whichever way the run wrote it, so arithmetic on it never narrows.
fn widen_decimals(mut df: DataFrame) -> PolarsResult<DataFrame> {
    let narrow: Vec<(PlSmallStr, usize)> = df
        .schema()
        .iter()
        .filter_map(|(name, dtype)| match dtype {
            DataType::Decimal(p, s) if *p < crate::output::parquet::WIDE => {
                Some((name.clone(), *s))
            }
            _ => None,
        })
        .collect();
    for (name, scale) in narrow {
        let wide = df
            .column(&name)?
            .cast(&DataType::Decimal(crate::output::parquet::WIDE, scale))?;
        df.with_column(wide)?;
    }
    Ok(df)
}

/// accounts.csv as the same typed frame as accounts.parquet: money and ratios as exact decimals.
fn read_accounts_csv(path: &Path) -> Result<DataFrame, String> {
    let mut rdr = csv::Reader::from_path(path)
        .map_err(|e| format!("cannot read accounts.csv or accounts.parquet ({e})"))?;
    let names: Vec<String> = rdr
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(String::from)
        .collect();
    let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); names.len()];
    for record in rdr.records() {
        let record = record.map_err(|e| format!("accounts.csv: {e}"))?;
        for (col, field) in values.iter_mut().zip(record.iter()) {
            // Text as it went in: accounts.csv neutralized it against formulas (numbers never start
            // with a quote, so every cell goes through the same rule).
            let field = crate::csvfmt::unneutralize(field);
            col.push((!field.is_empty()).then(|| field.to_string()));
        }
    }
    let n = values.first().map_or(0, Vec::len);
    let mut columns = Vec::with_capacity(names.len());
    for (name, vals) in names.iter().zip(&values) {
        let decimal = |scale: u32| {
            crate::output::parquet::money(
                name,
                vals.iter()
                    .map(|v| v.as_deref().and_then(|s| s.parse().ok())),
                scale,
            )
        };
        let column = if crate::output::parquet::MONEY_COLUMNS.contains(&name.as_str()) {
            decimal(2)
        } else if crate::output::parquet::RATIO_COLUMNS.contains(&name.as_str()) {
            decimal(4)
        } else if matches!(
            name.as_str(),
            "account_id" | "vin" | "value_source" | "credit_tier" | "term_band"
        ) || name.ends_with("_bucket")
        {
            Ok(crate::output::parquet::text(
                name,
                vals.iter().map(|v| v.as_deref()),
            ))
        } else {
            let vals: Vec<Option<&str>> = vals.iter().map(|v| v.as_deref()).collect();
            crate::output::parquet::typed_column(name, &vals)
        };
        columns.push(column.map_err(|e| format!("accounts.csv column {name}: {e}"))?);
    }
    DataFrame::new(n, columns).map_err(|e| e.to_string())
}

/// The accepted rows of a valuations file, typed: `vin` (upper-cased, as matched), `valuation_date` a
/// date, `value` an exact decimal, `source` text. Rejected rows are in `rejects`.
fn valuations_table(path: &Path, config: &crate::config::Config) -> Result<DataFrame, Error> {
    let rows = book::matching::accepted_valuations(
        path,
        &config.plan().valuations_dialect,
        config.chunk_bytes,
    )?;
    let scale = rows
        .iter()
        .map(|v| v.value.scale())
        .max()
        .unwrap_or(2)
        .max(2);
    let columns = vec![
        crate::output::parquet::text("vin", rows.iter().map(|v| Some(v.vin.as_str()))),
        crate::output::parquet::date_column("valuation_date", rows.iter().map(|v| Some(v.date))),
        crate::output::parquet::money("value", rows.iter().map(|v| Some(v.value)), scale)
            .map_err(internal)?,
        crate::output::parquet::text("source", rows.iter().map(|v| Some(v.source.as_str()))),
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

/// One cell as text: decimals exactly at their scale, missing as empty.
fn cell(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Decimal(m, _, scale) => decimal_text(*m, *scale),
        // Rust's own float formatting is the shortest text that reads back as the same float; polars'
        // display rounds (0.0081 printed as 0.01, 35,741,597.36 as 3.5742e7).
        AnyValue::Float64(f) => f.to_string(),
        AnyValue::Float32(f) => f.to_string(),
        other => other.to_string(),
    }
}

/// A polars decimal (an i128 mantissa, up to 38 digits) as exact text at its scale. Written out
/// because rust_decimal holds 28 digits and panics beyond them.
fn decimal_text(mantissa: i128, scale: usize) -> String {
    let digits = mantissa.unsigned_abs().to_string();
    let sign = if mantissa < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

fn is_numeric(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric() || matches!(dtype, DataType::Decimal(..))
}

/// Whether the terminal table groups a column's thousands: money, ratios and other fractions, and
/// whole numbers that are counts (`accounts`, `underwater_accounts`, `n`, `count`, COUNT(*)'s `len`).
/// Other whole numbers are years, ids, scores, terms or codes: `2,013` would misread them.
fn groups_thousands(name: &str, dtype: &DataType) -> bool {
    if dtype.is_float() || matches!(dtype, DataType::Decimal(..)) {
        return true;
    }
    let name = name.to_ascii_lowercase();
    dtype.is_integer()
        && (name.ends_with("accounts")
            || name.starts_with("count")
            || name.ends_with("count")
            || matches!(name.as_str(), "n" | "len" | "rows" | "loans"))
}

/// Serializes an answer; pure: frame in, bytes out.
fn render(mut df: DataFrame, format: QueryFormat) -> PolarsResult<Vec<u8>> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let rows: Vec<Vec<String>> = (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| c.get(i).map(|v| cell(&v)).unwrap_or_default())
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = df.columns().iter().map(|c| is_numeric(c.dtype())).collect();
    let grouped: Vec<bool> = df
        .columns()
        .iter()
        .map(|c| groups_thousands(c.name(), c.dtype()))
        .collect();
    let mut out = String::new();
    match format {
        QueryFormat::Csv => {
            crate::csvfmt::push_line(&mut out, names.iter().map(String::as_str));
            for row in &rows {
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if numeric[i] {
                        out.push_str(v);
                    } else {
                        crate::csvfmt::push_text(&mut out, v);
                    }
                }
                out.push('\n');
            }
        }
        QueryFormat::Json => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| {
                    let mut m = serde_json::Map::new();
                    for ((name, v), (col, num)) in
                        names.iter().zip(row).zip(df.columns().iter().zip(&numeric))
                    {
                        // Money and ratios stay strings, so no reader turns them into floats.
                        let value = if v.is_empty() {
                            serde_json::Value::Null
                        } else if *num && !matches!(col.dtype(), DataType::Decimal(..)) {
                            serde_json::from_str(v).unwrap_or(serde_json::json!(v))
                        } else {
                            serde_json::json!(v)
                        };
                        m.insert(name.clone(), value);
                    }
                    serde_json::Value::Object(m)
                })
                .collect();
            out = serde_json::to_string_pretty(&items).unwrap_or_default();
            out.push('\n');
        }
        QueryFormat::Markdown | QueryFormat::Table => {
            out = text_table(
                &names,
                &rows,
                &numeric,
                &grouped,
                format == QueryFormat::Markdown,
            );
        }
        QueryFormat::Parquet => {
            let mut bytes = Vec::new();
            ParquetWriter::new(&mut bytes).finish(&mut df)?;
            return Ok(bytes);
        }
    }
    Ok(out.into_bytes())
}

/// An aligned table for people (comfy-table measures wide characters): numbers right-aligned, and in
/// the terminal table thousands grouped; markdown marks numeric columns right-aligned (`---:`).
fn text_table(
    names: &[String],
    rows: &[Vec<String>],
    numeric: &[bool],
    grouped: &[bool],
    markdown: bool,
) -> String {
    use comfy_table::{presets, CellAlignment, Table};
    let mut table = Table::new();
    // Markdown pipes, or no borders and one rule under the header.
    table.load_preset(if markdown {
        presets::ASCII_MARKDOWN
    } else {
        "     -              "
    });
    table.set_header(names);
    for row in rows {
        table.add_row(
            row.iter()
                .zip(grouped)
                .map(|(v, &group)| match group && !markdown {
                    true => crate::money::group_thousands(v),
                    false => v.clone(),
                }),
        );
    }
    let last = numeric.len().saturating_sub(1);
    for (i, &num) in numeric.iter().enumerate() {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(match num {
                true => CellAlignment::Right,
                false => CellAlignment::Left,
            });
            // The terminal table starts at the margin, with two spaces between columns.
            if !markdown {
                column.set_padding((0, if i == last { 0 } else { 2 }));
            }
        }
    }
    let mut out = String::new();
    for (n, line) in table.lines().enumerate() {
        let line = match (markdown, n) {
            (true, 1) => align_markers(&line, numeric),
            _ => line,
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Markdown's right-alignment marker: the rule under the header ends in `:` for numeric columns.
fn align_markers(rule: &str, numeric: &[bool]) -> String {
    let cells: Vec<&str> = rule.split('|').collect();
    let last = cells.len().saturating_sub(1);
    cells
        .iter()
        .enumerate()
        .map(
            |(i, cell)| match i.checked_sub(1).and_then(|c| numeric.get(c)) {
                Some(true) if i < last && cell.ends_with('-') => {
                    format!("{}:", &cell[..cell.len() - 1])
                }
                _ => cell.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("|")
}
