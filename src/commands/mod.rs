//! The command bodies of the binary, one module per command; `main.rs` parses and dispatches.

pub(crate) mod check;
pub(crate) mod einvoice;
pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod info;
pub(crate) mod post;

use std::time::Instant;

use invoiceflow::cli::CommonArgs;
use invoiceflow::pipeline::Summary;

pub(crate) const EXIT_OK: u8 = 0;

/// The mapping files named on the command line, loaded.
pub(crate) fn load_mappings(
    paths: &[std::path::PathBuf],
) -> anyhow::Result<Vec<std::sync::Arc<invoiceflow::map::Mapping>>> {
    use anyhow::Context as _;
    paths
        .iter()
        .map(|p| {
            invoiceflow::map::Mapping::load(p, invoiceflow::entity::Catalog::builtin())
                .map(std::sync::Arc::new)
                .context("the mapping file is broken")
        })
        .collect()
}
pub(crate) const EXIT_FATAL: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;
pub(crate) const EXIT_REJECTS: u8 = 3;

pub(crate) fn fail(common: &CommonArgs, e: anyhow::Error, started: Instant) -> u8 {
    eprintln!("error: {e:#}");
    if common.json {
        print_json(&Summary::failed(format!("{e:#}"), started));
    }
    EXIT_FATAL
}

pub(crate) fn print_json(summary: &Summary) {
    match serde_json::to_string(summary) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print the summary as JSON: {e}"),
    }
}
