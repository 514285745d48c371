//! underwater: negative equity, LTV and deficiency exposure for auto-loan books, exact to the cent.
//!
//! The folders are the stages, and data flows one way through them:
//!
//! - [`input`]: files into typed loans and valuations, or rejects (line-exact CSV reading, the column
//!   schema, loan tapes, duplicate ids);
//! - [`book`]: the risk model and everything computed from the inputs (matching, estimated values,
//!   per-account figures, summaries), built one stage at a time into a [`book::Book`];
//! - [`output`]: pure serializers from the book to bytes, and the staging directory that publishes them
//!   atomically;
//! - [`commands`]: one file per subcommand, stringing the stages together.
//!
//! [`config`] sits between the book and the output: it is built once, up front, from the stages' own
//! types (the model, the tape formats), and hands each stage what it needs (`book::Plan`), never itself.
//! Beneath every stage sits only what they all share: [`error`] (one type per layer and the exit-code
//! table), [`columns`] (the outputs' names), [`money`], [`date`], [`csvfmt`], [`progress`], [`memory`], [`sums`], [`run_dir`] (what a run directory
//! holds) and [`cleanup`] (temporaries removed on a signal); [`cli`] and `main` are the thin command
//! line. `tests/architecture.rs` keeps the imports acyclic and in this order: shared, input, book,
//! config, output, commands, cli.

pub mod book;
pub mod cleanup;
pub mod cli;
pub mod columns;
pub mod commands;
pub mod config;
pub mod csvfmt;
pub mod date;
pub mod error;
pub mod input;
pub mod memory;
pub mod money;
pub mod output;
pub mod progress;
pub mod run_dir;
pub mod sums;
