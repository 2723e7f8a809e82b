//! `invoiceflow import` and `run`: read, validate, post, then a job's exports and e-invoices.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;

use invoiceflow::cli::{CommonArgs, ImportArgs, RoundingArg};
use invoiceflow::entity::Catalog;
use invoiceflow::export::{self, ExportReport, ExportRequest};
use invoiceflow::job;
use invoiceflow::map::Mapping;
use invoiceflow::model::totals::RoundingPolicy;
use invoiceflow::pipeline::{self, ImportRequest, InputFile, PostRequest, Summary};
use invoiceflow::store::Store;

use super::{fail, print_json, EXIT_OK, EXIT_REJECTS, EXIT_USAGE};

pub(crate) fn import(a: ImportArgs) -> u8 {
    let started = Instant::now();
    if a.no_post && a.store.is_none() {
        eprintln!("error: --no-post stores drafts and needs --store");
        return EXIT_USAGE;
    }
    let catalog = Catalog::builtin();
    let mappings = match super::load_mappings(&a.mapping) {
        Ok(m) => m,
        Err(e) => return fail(&a.common, e, started),
    };
    let mut files = Vec::new();
    for spec in &a.files {
        let (named, path) = match spec.split_once('=') {
            Some((e, p)) if !e.contains(['/', '\\']) && !e.is_empty() => (Some(e), PathBuf::from(p)),
            _ => (None, PathBuf::from(spec)),
        };
        let mut mapping = job::pick_mapping(&mappings, &path, named, catalog);
        if let Some(enc) = a.encoding {
            mapping = match mapping {
                None => Some(Arc::new(Mapping::with_encoding(enc))),
                Some(m) if !m.encoding_given => {
                    let mut m = (*m).clone();
                    m.csv.encoding = enc;
                    Some(Arc::new(m))
                }
                some => some,
            };
        }
        match job::resolve_entity(named, &path, mapping.as_deref(), catalog) {
            Ok(entity) => files.push(InputFile { entity, path, mapping, push: a.push }),
            Err(m) => {
                eprintln!("error: {m}");
                return EXIT_USAGE;
            }
        }
    }
    let req = ImportRequest {
        files,
        master_dir: a.master.clone(),
        legal_entity: match &a.legal_entity {
            Some(le) => le.clone(),
            // Never a silent default: the master data's only legal entity, or none (a row
            // without a dataAreaId is then rejected, naming the legal entities to choose from).
            None => match pipeline::master_legal_entities(&a.master, &mappings) {
                Ok(les) if les.len() == 1 => les[0].clone(),
                _ => String::new(),
            },
        },
        rejects_dir: a.rejects.clone(),
        rejects_like_source: a.rejects_dialect == invoiceflow::cli::RejectsDialect::Source,
        batch_size: a.batch_size.max(1),
        run_date: pipeline::today(),
        progress: !a.common.quiet,
        post: post_request(&a),
        master_mappings: mappings.clone(),
    };
    let dry_run = req.post.is_none();
    run_import(&req, &a.common, dry_run, started, &[], &[])
}

pub(crate) fn post_request(a: &ImportArgs) -> Option<PostRequest> {
    let rounding = match a.rounding {
        RoundingArg::Document => RoundingPolicy::Document,
        RoundingArg::Line => RoundingPolicy::Line,
    };
    let options = a.posting.options(rounding, a.pro_forma);
    let invoices_per_batch = a.posting.invoices_per_batch.max(1);
    let lock_timeout = job::lock_timeout(a.common.lock_timeout);
    let pro_forma_out = a
        .pro_forma_out
        .clone()
        .map(|dir| invoiceflow::export::proforma::ProFormaOut { dir, syntax: a.pro_forma_syntax });
    match (&a.store, a.dry_run) {
        (Some(store), false) => Some(PostRequest {
            store: store.clone(),
            options,
            draft: a.no_post,
            invoices_per_batch,
            lock_timeout,
            pro_forma_out,
        }),
        (None, false) if a.pro_forma => Some(PostRequest {
            store: PathBuf::new(),
            options,
            draft: false,
            invoices_per_batch,
            lock_timeout,
            pro_forma_out,
        }),
        _ => None,
    }
}

pub(crate) fn run_import(
    req: &ImportRequest,
    common: &CommonArgs,
    dry_run: bool,
    started: Instant,
    exports: &[ExportRequest],
    einvoices: &[invoiceflow::einvoice::EinvoiceRequest],
) -> u8 {
    if let Some(n) = common.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global() {
            eprintln!("warning: --threads {n} not applied: {e}");
        }
    }
    match pipeline::import(req, Catalog::builtin()).context("import failed") {
        Ok(outcome) => {
            let mut summary = Summary::from_import(&outcome, dry_run, started);
            if let (Some(post), false) = (&req.post, exports.is_empty() && einvoices.is_empty()) {
                if post.options.pro_forma {
                    eprintln!("note: pro forma run: exports and e-invoices skipped");
                } else {
                    match run_exports(
                        &post.store,
                        post.lock_timeout,
                        exports,
                        einvoices,
                        Some((&req.master_dir, &req.master_mappings)),
                    ) {
                        Ok((reports, docs)) => {
                            summary.exports = reports;
                            summary.einvoices = docs;
                        }
                        Err(e) => return fail(common, e, started),
                    }
                    if summary.einvoices.iter().any(|e| !e.refused.is_empty()) {
                        summary.status = "partial";
                    }
                }
            }
            summary.duration_ms = started.elapsed().as_millis();
            eprint!("{}", summary.to_text());
            if common.json {
                print_json(&summary);
            }
            if summary.status == "ok" {
                EXIT_OK
            } else {
                EXIT_REJECTS
            }
        }
        Err(e) => fail(common, e, started),
    }
}

type OutputReports = (Vec<ExportReport>, Vec<invoiceflow::einvoice::EinvoiceReport>);

pub(crate) fn run_exports(
    store: &std::path::Path,
    lock_timeout: std::time::Duration,
    exports: &[ExportRequest],
    einvoices: &[invoiceflow::einvoice::EinvoiceRequest],
    master: Option<(&std::path::Path, &[std::sync::Arc<invoiceflow::map::Mapping>])>,
) -> anyhow::Result<OutputReports> {
    let md = match (master, einvoices.is_empty()) {
        (Some((dir, mappings)), false) => Some(pipeline::load_master(dir, Catalog::builtin(), mappings)?.0),
        _ => None,
    };
    let mut store = Store::open_reader(store, lock_timeout).context("cannot open the store for export")?;
    let mut out = Vec::new();
    for e in exports {
        out.push(
            export::export(&mut store, e, Catalog::builtin())
                .with_context(|| format!("export of {} failed", e.entity))?,
        );
    }
    let mut docs = Vec::new();
    for e in einvoices {
        docs.push(invoiceflow::einvoice::run(&mut store, e, md.as_ref()).context("e-invoices failed")?);
    }
    Ok((out, docs))
}
