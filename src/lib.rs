//! invoiceflow: customer invoices between systems.
//!
//! The stages, each a module with plain functions over plain types:
//! - [`entity`]: entity definitions (fields, types, keys, roles) from `entities/*.toml`;
//! - [`read`]: CSV and Parquet files → raw records with positions;
//! - [`map`]: mapping files → which column feeds which field, with text transforms;
//! - [`validate`]: typed rows, cross-row rules → accepted invoices and rejects;
//! - [`post`]: posting: totals, ledger vouchers, open items (pure);
//! - [`model`]: domain types (invoices, lines, money, dates, master data);
//! - [`store`]: the SQLite ledger store, change versions;
//! - [`export`]: CSV and Parquet entity exports with change tracking;
//! - [`einvoice`]: UBL and CII e-invoices out, partner files in, EN 16931 checks;
//! - [`rejects`]: rejects files (original columns + file, line, field, rule, message);
//! - [`pipeline`]: the job that wires the stages, with progress and the run summary;
//! - [`generate`]: seeded test data for tests and benchmarks;
//! - [`progress`]: progress bars and stage events;
//! - [`job`]: job files; [`cli`]: the command line.

pub mod alloc;
pub mod cli;
pub mod einvoice;
pub mod entity;
pub mod export;
pub mod generate;
pub mod job;
pub mod map;
pub mod model;
pub mod pipeline;
pub mod post;
pub mod progress;
pub mod read;
pub mod rejects;
pub mod store;
pub mod validate;
