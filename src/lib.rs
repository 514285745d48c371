//! underwater: negative equity, LTV and deficiency exposure for auto-loan books, exact to the cent.
//!
//! The pipeline, one module per stage: [`reader`] cuts input files into line-exact chunks, [`load`] turns
//! rows into typed loans and valuations (or rejects), [`matching`] picks each vehicle's valuation as of
//! the run date, [`metrics`] computes per-account figures, [`summarize`] totals them, [`report`]
//! serializes results to bytes and [`output`] puts them in place atomically. [`run`] strings them
//! together; [`cli`] and `main` are the thin command line around it.

pub mod cli;
pub mod config;
pub mod csvfmt;
pub mod date;
pub mod error;
pub mod estimate;
pub mod floor;
pub mod generate;
pub mod load;
pub mod matching;
pub mod metrics;
pub mod money;
pub mod output;
pub mod parquet;
pub mod progress;
pub mod query;
pub mod reader;
pub mod report;
pub mod run;
pub mod summarize;
pub mod tape;
pub mod xmltape;
