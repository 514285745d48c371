//! The package's exceptions, created here as polars creates its own: one class per exit code of the
//! CLI under `UnderwaterError`, each with the class attribute `exit_code`, and on every instance the
//! attributes a program reads instead of parsing the message: `path` (the file or directory), `line`,
//! `field` (the config key, flag, column or segment) and `keyword` (the keyword argument the Python
//! layer refused), each `None` where the error has none.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use underwater::error::{
    Error, EXIT_INPUT, EXIT_INTERNAL, EXIT_OUTPUT, EXIT_REJECT_RATE, EXIT_STALE, EXIT_USAGE,
};

create_exception!(
    underwater.errors,
    UnderwaterError,
    PyException,
    "Any failure of underwater. Catch this to catch them all."
);
create_exception!(
    underwater.errors,
    InternalError,
    UnderwaterError,
    "A bug (exit code 1): please report it with the call that caused it."
);
create_exception!(
    underwater.errors,
    ConfigError,
    UnderwaterError,
    "A bad argument, config file or query (exit code 2): nothing read or written."
);
create_exception!(
    underwater.errors,
    InputError,
    UnderwaterError,
    "An input file cannot be used, or a directory is not a usable run (exit code 3): nothing written."
);
create_exception!(
    underwater.errors,
    OutputError,
    UnderwaterError,
    "Outputs could not be written (exit code 4): previous outputs intact."
);
create_exception!(
    underwater.errors,
    RejectRateError,
    UnderwaterError,
    "max_reject_rate exceeded (exit code 5): the book was not published."
);
create_exception!(
    underwater.errors,
    StaleError,
    UnderwaterError,
    "fail_on_stale: some valuations are too old (exit code 6): the book was not published."
);

/// Each class with its exit code.
fn classes(py: Python<'_>) -> [(Bound<'_, pyo3::types::PyType>, u8); 7] {
    [
        (py.get_type::<UnderwaterError>(), EXIT_INTERNAL),
        (py.get_type::<InternalError>(), EXIT_INTERNAL),
        (py.get_type::<ConfigError>(), EXIT_USAGE),
        (py.get_type::<InputError>(), EXIT_INPUT),
        (py.get_type::<OutputError>(), EXIT_OUTPUT),
        (py.get_type::<RejectRateError>(), EXIT_REJECT_RATE),
        (py.get_type::<StaleError>(), EXIT_STALE),
    ]
}

/// Adds the classes to the module, with their exit codes and the attributes' defaults.
pub(crate) fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for (class, code) in classes(m.py()) {
        class.setattr("exit_code", code)?;
        for name in ["path", "line", "field", "keyword"] {
            class.setattr(name, m.py().None())?;
        }
        m.add(class.name()?, class)?;
    }
    Ok(())
}

/// What an error names, for the instance's attributes.
#[derive(Default)]
pub(crate) struct Details {
    pub path: Option<String>,
    pub field: Option<String>,
}

impl Details {
    pub(crate) fn of(e: &Error) -> Details {
        Details {
            path: e.path().map(|p| p.display().to_string()),
            field: e.field(),
        }
    }
}

/// The exception for a CLI exit code, with the CLI's message and what the error names.
pub(crate) fn exception(py: Python<'_>, code: u8, message: String, details: Details) -> PyErr {
    let err = match code {
        EXIT_USAGE => ConfigError::new_err(message),
        EXIT_INPUT => InputError::new_err(message),
        EXIT_OUTPUT => OutputError::new_err(message),
        EXIT_REJECT_RATE => RejectRateError::new_err(message),
        EXIT_STALE => StaleError::new_err(message),
        _ => InternalError::new_err(message),
    };
    let value = err.value(py);
    // Setting an attribute on a fresh exception instance cannot fail short of memory; the message
    // still says everything if it does.
    let _ = value.setattr("path", details.path);
    let _ = value.setattr("field", details.field);
    err
}
