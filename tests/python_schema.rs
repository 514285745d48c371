//! The Python package types summary.json by its own lists of text keys (python/underwater/summary.py):
//! checked here against the schema itself. Every string of a real summary.json that looks like a
//! number is a decimal in the Rust types exactly when Python reads it as a `Decimal`. The schema is
//! asked directly: the string is replaced by `x`, and the typed summary still reads only if that field
//! is text.

use crate::common::*;
use serde_json::Value;

/// Every string leaf that reads as a number, with its path (keys and list positions).
fn numeric_strings(v: &Value, path: &mut Vec<Value>, out: &mut Vec<(Vec<Value>, String)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                path.push(Value::String(k.clone()));
                numeric_strings(child, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                path.push(Value::from(i));
                numeric_strings(child, path, out);
                path.pop();
            }
        }
        Value::String(s) if s.parse::<f64>().is_ok() && !s.contains(['e', 'E', '+']) => {
            out.push((path.clone(), s.clone()));
        }
        _ => {}
    }
}

fn leaf<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, p| match p {
        Value::String(k) => &mut v[k.as_str()],
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

#[test]
fn regression_python_read_every_figure_of_the_summary_tables_as_text() {
    let s = Sandbox::new();
    assert_ok(&run_sample_book(&s, "out", &[]));
    let text = s.read("out/summary.json");
    let summary: Value = serde_json::from_str(&text).unwrap();
    let mut found = Vec::new();
    numeric_strings(&summary, &mut Vec::new(), &mut found);
    assert!(found.len() > 100, "{} numeric strings", found.len());
    // The schema: does the typed summary still read with `x` in this field?
    let rust_text: Vec<bool> = found
        .iter()
        .map(|(path, _)| {
            let mut changed = summary.clone();
            *leaf(&mut changed, path) = Value::String("x".into());
            serde_json::from_value::<underwater::output::summary_json::Summary>(changed).is_ok()
        })
        .collect();
    // Python: the package's own parse, read from its file (it needs only the standard library).
    s.write(
        "paths.json",
        &serde_json::to_string(&found.iter().map(|f| &f.0).collect::<Vec<_>>()).unwrap(),
    );
    let module =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/underwater/summary.py");
    let script = format!(
        "import importlib.util, json, sys\n\
         spec = importlib.util.spec_from_file_location('summary', {module:?})\n\
         m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n\
         parsed = m.parse(open('out/summary.json', 'rb').read())\n\
         out = []\n\
         for path in json.load(open('paths.json')):\n\
         \x20   v = parsed\n\
         \x20   for p in path: v = v[p]\n\
         \x20   out.append(isinstance(v, str))\n\
         print(json.dumps(out))\n"
    );
    let py = std::process::Command::new("python3")
        .args(["-c", &script])
        .current_dir(s.dir.path())
        .output()
        .expect("python3 runs");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let python_text: Vec<bool> = serde_json::from_slice(&py.stdout).unwrap();
    let mismatches: Vec<String> = found
        .iter()
        .zip(rust_text.iter().zip(&python_text))
        .filter(|(_, (r, p))| r != p)
        .map(|((path, v), (r, _))| {
            let kind = if *r {
                "text in the schema"
            } else {
                "a decimal in the schema"
            };
            format!("{path:?} = {v:?} is {kind}, but Python reads it otherwise")
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // Both kinds were seen, so the check can fail either way.
    assert!(rust_text.iter().any(|t| *t) && rust_text.iter().any(|t| !t));
}
