//! `invoiceflow post`: drafts in the store, posted.

use std::time::Instant;

use anyhow::Context as _;

use invoiceflow::cli::PostArgs;
use invoiceflow::entity::Catalog;
use invoiceflow::job;
use invoiceflow::model::totals::RoundingPolicy;
use invoiceflow::pipeline::{self, PostRequest, Summary};

use super::{fail, print_json, EXIT_OK, EXIT_REJECTS, EXIT_USAGE};

pub(crate) fn post_command(a: PostArgs) -> u8 {
    let started = Instant::now();
    if !a.store.exists() {
        eprintln!("error: {}: no such store; import with --no-post first", a.store.display());
        return EXIT_USAGE;
    }
    let req = PostRequest {
        store: a.store.clone(),
        options: a.posting.options(RoundingPolicy::Document, false),
        draft: false,
        invoices_per_batch: a.posting.invoices_per_batch.max(1),
        lock_timeout: job::lock_timeout(a.common.lock_timeout),
        pro_forma_out: None,
    };
    let mappings = match super::load_mappings(&a.mapping) {
        Ok(m) => m,
        Err(e) => return super::fail(&a.common, e, started),
    };
    match pipeline::drafts::post_drafts(&req, &a.master, a.rejects.as_deref(), Catalog::builtin(), &mappings)
        .context("posting the drafts failed")
    {
        Ok(outcome) => {
            let summary = Summary::from_import(&outcome, false, started);
            eprint!("{}", summary.to_text());
            if a.common.json {
                print_json(&summary);
            }
            if outcome.has_rejects() {
                EXIT_REJECTS
            } else {
                EXIT_OK
            }
        }
        Err(e) => fail(&a.common, e, started),
    }
}
