//! The module tree keeps its shape: data flows input → book → output, commands on top, and no module
//! imports another that imports it back.
//!
//! Reads `src/` as text: every `crate::…` path, `super::…`, and in a `mod.rs` every path through a
//! child module, outside comments and `#[cfg(test)]` modules, is an edge from the file to the module it
//! names. A tool such as `cargo modules` would need a rust-analyzer build in CI; this needs nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers in the order data flows. A module may use its own layer and earlier ones, never a later one.
/// `config` is built from the stages' own types (the model, the tape formats), so it comes after them;
/// the stages are handed what they need (`book::Plan`), never the config.
const LAYERS: [(&str, &[&str]); 7] = [
    (
        "shared",
        &[
            "date", "money", "csvfmt", "progress", "error", "cleanup", "memory", "run_dir", "sums",
            "columns",
        ],
    ),
    ("input", &["input"]),
    ("book", &["book"]),
    ("config", &["config"]),
    ("output", &["output"]),
    ("commands", &["commands"]),
    ("cli", &["cli"]),
];

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or(module);
    LAYERS.iter().position(|(_, tops)| tops.contains(&top))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/input/load.rs` → `input::load`; `src/input/mod.rs` → `input`.
fn module_name(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its `#[cfg(test)]` module (tests may use anything).
fn code(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_path(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = s;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        parts.push(&rest[..end]);
        match rest[end..].strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    parts
}

/// The longest known module named by `path` (a list of segments from the crate root).
fn resolve(path: &[&str], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// Every module a file's code names.
fn imports(module: &str, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let children: Vec<String> = modules
        .iter()
        .filter_map(|m| m.strip_prefix(&format!("{module}::")))
        .filter(|rest| !rest.contains("::"))
        .map(String::from)
        .collect();
    let parent = module.rsplit_once("::").map(|(p, _)| p.to_string());
    let mut add_path = |base: Vec<String>, rest: &str| {
        let tail = ident_path(rest);
        let mut full: Vec<&str> = base.iter().map(String::as_str).collect();
        full.extend(&tail);
        if let Some(m) = resolve(&full, modules) {
            found.insert(m.clone());
        }
        // A group: `crate::output::{self, terminal}`.
        let after: usize = tail.iter().map(|t| t.len() + 2).sum();
        if let Some(group) = rest.get(after..).and_then(|g| g.strip_prefix('{')) {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let mut full: Vec<&str> = base.iter().map(String::as_str).collect();
                full.extend(&tail);
                full.extend(ident_path(item.trim()));
                if let Some(m) = resolve(&full, modules) {
                    found.insert(m);
                }
            }
        }
    };
    let bytes = code.as_bytes();
    let boundary = |i: usize| {
        i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':')
    };
    for (i, _) in code.match_indices("crate::") {
        if boundary(i) {
            add_path(Vec::new(), &code[i + "crate::".len()..]);
        }
    }
    if let Some(parent) = &parent {
        for (i, _) in code.match_indices("super::") {
            if boundary(i) {
                let base: Vec<String> = parent.split("::").map(String::from).collect();
                add_path(base, &code[i + "super::".len()..]);
            }
        }
    }
    for child in &children {
        let token = format!("{child}::");
        for (i, _) in code.match_indices(&token) {
            if boundary(i) {
                let base: Vec<String> = module.split("::").map(String::from).collect();
                add_path(base, &code[i..]);
            }
        }
    }
    found.remove(module);
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let names: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| (module_name(&src, &f), f))
        .filter(|(m, _)| m != "lib" && m != "main")
        .collect();
    let modules: BTreeSet<String> = names.iter().map(|(m, _)| m.clone()).collect();
    names
        .iter()
        .map(|(m, f)| {
            let text = std::fs::read_to_string(f).unwrap();
            (m.clone(), imports(m, &code(&text), &modules))
        })
        .collect()
}

#[test]
fn every_module_belongs_to_a_layer() {
    let unplaced: Vec<String> = graph()
        .into_keys()
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules in no layer of tests/architecture.rs: {unplaced:?}. Put each in a stage folder, or \
         add it to LAYERS if every stage shares it"
    );
}

#[test]
fn no_module_imports_from_a_later_stage() {
    let mut violations = Vec::new();
    for (module, uses) in graph() {
        let Some(mine) = layer_of(&module) else {
            continue;
        };
        for used in uses {
            if layer_of(&used).is_some_and(|theirs| theirs > mine) {
                violations.push(format!(
                    "{module} ({}) uses {used} ({})",
                    LAYERS[mine].0,
                    LAYERS[layer_of(&used).unwrap()].0
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "data flows input → book → output, commands on top:\n  {}",
        violations.join("\n  ")
    );
}

#[test]
fn module_imports_have_no_cycles() {
    let g = graph();
    // Depth-first search; a back edge is a cycle.
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for next in g.get(m).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                0 => visit(next, g, state, stack, cycles),
                1 => {
                    let from = stack.iter().position(|s| s == next).unwrap_or(0);
                    cycles.push(format!("{} → {next}", stack[from..].join(" → ")));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    let mut cycles = Vec::new();
    for m in g.keys() {
        if !state.contains_key(m.as_str()) {
            visit(m, &g, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(
        cycles.is_empty(),
        "module cycles:\n  {}",
        cycles.join("\n  ")
    );
}

#[test]
fn the_check_sees_imports() {
    // A check that finds nothing because it reads nothing would pass forever: pin a few known edges.
    let g = graph();
    let uses = |a: &str, b: &str| g.get(a).is_some_and(|s| s.contains(b));
    assert!(
        uses("commands::run", "book"),
        "{:?}",
        g.get("commands::run")
    );
    assert!(uses("commands::run", "output::terminal"));
    assert!(uses("input", "input::xmltape"), "{:?}", g.get("input"));
    assert!(uses("book::matching", "input::load"));
    assert!(uses("commands::run", "commands"), "super:: is an edge");
    assert!(uses("config", "book::model"));
}

/// The command a module belongs to (`commands::query::sql` → `query`), or `None` for what commands
/// share (`commands`, `commands::args`, `commands::history`) and for every other layer.
fn command_of(module: &str) -> Option<&str> {
    let rest = module.strip_prefix("commands::")?;
    let name = rest.split("::").next().unwrap_or(rest);
    (!matches!(name, "args" | "history")).then_some(name)
}

#[test]
fn no_command_imports_another_command() {
    let mut violations = Vec::new();
    for (module, uses) in graph() {
        let Some(mine) = command_of(&module) else {
            continue;
        };
        for used in uses {
            if command_of(&used).is_some_and(|theirs| theirs != mine) {
                violations.push(format!("{module} uses {used}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "a command shares through commands::args, commands::history or a stage, never another \
         command:\n  {}",
        violations.join("\n  ")
    );
    // The check reads edges between commands' own modules.
    let g = graph();
    assert!(g["commands::backtest"].contains("commands::history"));
    assert!(g["commands::calibrate"].contains("commands::history"));
}
