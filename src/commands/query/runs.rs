//! Finished runs as the `accounts` table: `--run` values and patterns expanded, each run's accounts
//! file read back typed as written, several runs stacked with their `as_of`.

use crate::columns::PREVIOUS_COLUMNS;
use crate::commands::query::args::internal;
use crate::error::{Error, QueryError};
use crate::output::finished_run::FinishedRun;
use polars::prelude::*;
use std::path::{Path, PathBuf};

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
pub(super) fn not_a_published_run(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".failed")
}

pub(super) fn matched_runs(values: &[PathBuf]) -> Result<Vec<PathBuf>, QueryError> {
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
pub(super) fn wildcard(pattern: &str, name: &str) -> bool {
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
/// `as_of` of their own). The `previous_*` columns a run without `--previous` lacks are empty in its
/// rows; any other column must be in every run; a column whose type differs between runs is widened: whole numbers and decimals to a decimal at the largest scale, anything else
/// to text.
pub(super) fn read_runs(dirs: &[PathBuf]) -> Result<(DataFrame, Vec<String>), Error> {
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
        let column = crate::output::frame::date_column(name, std::iter::repeat_n(day, df.height()));
        df.with_column(column).map_err(internal)?;
        frames.push((dir.as_path(), df));
    }
    let names = union_columns(&mut frames)?;
    for name in &names {
        widen(&mut frames, name)?;
    }
    let mut frames = frames.into_iter().map(|(_, df)| df);
    let mut all = frames.next().expect("at least one run");
    for df in frames {
        all.vstack_mut(&df).map_err(internal)?;
    }
    all.align_chunks();
    Ok((all, bands))
}

/// Every run's columns, in the order they are first seen. The columns a run made with `--previous`
/// adds ([`PREVIOUS_COLUMNS`]) may be missing from the others: they are added to those runs empty, with
/// the type the other runs give them, and a note says so. Any other difference is refused, naming it.
fn union_columns(frames: &mut [(&Path, DataFrame)]) -> Result<Vec<String>, Error> {
    let mut names: Vec<(String, DataType)> = Vec::new();
    for (_, df) in frames.iter() {
        for c in df.columns() {
            if !names.iter().any(|(n, _)| n == c.name().as_str()) {
                names.push((c.name().to_string(), c.dtype().clone()));
            }
        }
    }
    let first = frames[0].0.to_path_buf();
    for (dir, df) in frames.iter_mut() {
        let lacking: Vec<&(String, DataType)> = names
            .iter()
            .filter(|(n, _)| df.column(n).is_err())
            .collect();
        if lacking.is_empty() {
            continue;
        }
        let list: Vec<&str> = lacking.iter().map(|(n, _)| n.as_str()).collect();
        if !list.iter().all(|n| PREVIOUS_COLUMNS.contains(n)) {
            return Err(QueryError::DifferentColumns {
                dir: dir.to_path_buf(),
                first: first.clone(),
                columns: list.join(", "),
            }
            .into());
        }
        eprintln!(
            "underwater: note: {} was run without --previous: its {} are empty",
            dir.display(),
            list.join(", ")
        );
        for (name, dtype) in lacking {
            let empty = Column::full_null(name.as_str().into(), df.height(), dtype);
            df.with_column(empty).map_err(internal)?;
        }
    }
    for (_, df) in frames.iter_mut() {
        *df = df
            .select(names.iter().map(|(n, _)| n.as_str()))
            .map_err(internal)?;
    }
    Ok(names.into_iter().map(|(n, _)| n).collect())
}

/// Casts column `name` of every run to one type where the runs' types differ: whole numbers and
/// decimals stay numbers (a whole number is a decimal of scale 0), so they still sort and add up as
/// numbers (at most 19 digits, so scale 19 still fits); anything else becomes text.
fn widen(frames: &mut [(&Path, DataFrame)], name: &str) -> Result<(), Error> {
    let dtypes: Vec<&DataType> = frames
        .iter()
        .map(|(_, df)| df.column(name).map(|c| c.dtype()))
        .collect::<PolarsResult<_>>()
        .map_err(internal)?;
    if dtypes.iter().all(|d| *d == dtypes[0]) {
        return Ok(());
    }
    let numbers = dtypes
        .iter()
        .all(|d| d.is_integer() || matches!(d, DataType::Decimal(..)));
    let to = match numbers {
        true => {
            let scale = dtypes
                .iter()
                .filter_map(|d| match d {
                    DataType::Decimal(_, s) => Some(*s),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            DataType::Decimal(38, scale.min(19))
        }
        false => DataType::String,
    };
    for (_, df) in frames.iter_mut() {
        let cast = df
            .column(name)
            .and_then(|c| c.cast(&to))
            .map_err(internal)?;
        df.with_column(cast).map_err(internal)?;
    }
    Ok(())
}

/// A run's accounts, with its LTV band labels and its as_of.
pub fn read_run(dir: &Path) -> Result<(DataFrame, Vec<String>, String), Error> {
    let run = FinishedRun::open(dir)?;
    let df = run.accounts()?;
    let summary = run.summary;
    let bands = summary.tables.ltv_migration.columns_current_ltv_bucket;
    Ok((df, bands, summary.manifest.record.as_of))
}
