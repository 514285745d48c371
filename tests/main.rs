//! The integration tests, as one binary (as ripgrep and xsv do): polars is linked once per test run,
//! not once per file. Each file is a module named after what it tests; `common` holds the helpers
//! they share.

mod common;

mod architecture;
mod backtest;
mod backtest_inputs;
mod backtest_origins;
mod books;
mod changes;
mod corpus;
mod dirty;
mod edges;
mod errors;
mod guarantees;
mod guide_claims;
mod hostile;
mod inputs;
mod lifetime;
mod merges;
mod parquet;
mod properties;
mod python_schema;
mod query;
mod report;
mod runoff;
mod scenarios;
mod summaries;
mod tapes;
