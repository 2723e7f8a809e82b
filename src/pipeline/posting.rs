//! The posting stage: validated invoices → posted in batches. Batches are computed in
//! parallel (rayon) on one thread while the writer commits the previous batch, in input order,
//! so numbers and change versions never depend on thread count or batch size.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc;

use rayon::prelude::*;
use serde::Serialize;

use crate::model::master::MasterData;
use crate::model::Invoice;
use crate::post::{self, PostError, Posted, PostingOptions};
use crate::read::Origin;
use crate::store::{Committed, Store};
use crate::validate::{Reject, Rule};

use super::JobError;

/// Where and how to post.
#[derive(Debug, Clone)]
pub struct PostRequest {
    /// The store (created when missing).
    pub store: PathBuf,
    /// Posting options.
    pub options: PostingOptions,
    /// Store as drafts instead of posting.
    pub draft: bool,
    /// Invoices per batch (one transaction each).
    pub invoices_per_batch: usize,
    /// How long to wait for another process that holds the store.
    pub lock_timeout: std::time::Duration,
    /// Pro forma: where to write the computed invoices (report, e-invoices).
    pub pro_forma_out: Option<crate::export::proforma::ProFormaOut>,
}

/// What posting did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PostReport {
    /// The store.
    pub store: String,
    /// Computed only, nothing written.
    pub pro_forma: bool,
    /// Invoices posted (or computed, pro forma).
    pub invoices: u64,
    /// Credit notes posted.
    pub credit_notes: u64,
    /// Lines posted.
    pub lines: u64,
    /// Vouchers written.
    pub vouchers: u64,
    /// Ledger entries written.
    pub ledger_entries: u64,
    /// Customer transactions (open items) written.
    pub customer_transactions: u64,
    /// Invoices stored as drafts.
    pub drafts: u64,
    /// Invoices identical to the store's: nothing written.
    pub unchanged: u64,
    /// Invoices refused by posting.
    pub rejected: u64,
    /// The store's change version after the run.
    pub change_version: i64,
    /// Batches committed.
    pub batches: u64,
    /// Credit notes posted whose original invoice is neither in the store nor in the import
    /// (allowed by `originals_outside_store`, for migrations that start mid-history).
    pub originals_outside_store: u64,
    /// The pro forma invoices written, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pro_forma_report: Option<crate::export::proforma::ProFormaReport>,
}

/// The check of credit notes' original invoices: each must be an invoice of the import, or a
/// posted invoice of the store (unless originals outside the store are allowed; then they are
/// counted).
struct Originals {
    in_import: HashSet<(Box<str>, Box<str>)>,
    allow_outside: bool,
    outside: u64,
}

impl Originals {
    fn of(invoices: &[(Invoice, Option<String>)], allow_outside: bool) -> Originals {
        let in_import = invoices
            .iter()
            .filter_map(|(i, _)| Some((i.header.legal_entity.clone(), i.header.number.clone()?)))
            .collect();
        Originals { in_import, allow_outside, outside: 0 }
    }

    /// `p` when its original invoice (if it names one) is known; else its reject.
    fn check(
        &mut self,
        p: Posted,
        in_store: impl Fn(&str, &str) -> Result<bool, crate::store::StoreError>,
    ) -> Result<Posted, PostError> {
        let h = &p.invoice.header;
        let Some(original) = h.original_invoice.clone() else { return Ok(p) };
        let key = (h.legal_entity.clone(), original);
        if self.in_import.contains(&key) {
            return Ok(p);
        }
        let found = match in_store(&key.0, &key.1) {
            Ok(found) => found,
            Err(e) => {
                let r = Reject::new(h.origin, None, Rule::RefOriginalInvoice, format!("the store cannot be read: {e}"));
                return Err(Box::new((p.invoice, r)));
            }
        };
        if found {
            return Ok(p);
        }
        if self.allow_outside {
            self.outside += 1;
            return Ok(p);
        }
        let field = crate::entity::Catalog::builtin()
            .get(&h.entity)
            .and_then(|e| e.role_index(crate::entity::Role::OriginalInvoice).map(|i| e.fields[i].name.as_str()));
        let r = Reject::new(
            h.origin,
            field,
            Rule::RefOriginalInvoice,
            format!(
                "original invoice {} of legal entity {} is neither a posted invoice of the store nor an invoice of this import — {}",
                key.1,
                key.0,
                Rule::RefOriginalInvoice.fix()
            ),
        );
        Err(Box::new((p.invoice, r)))
    }
}

fn reject_with_lines(inv: &Invoice, r: Reject, files: &[String], out: &mut Vec<Reject>) {
    let at = r.origin;
    let file = files.get(at.file as usize).map(String::as_str).unwrap_or("?");
    // Its lines, and its copies through other entities of the same documents, go with it.
    for origin in inv.lines.iter().map(|l| l.origin).chain(inv.copies.iter().copied()) {
        out.push(Reject::new(
            origin,
            None,
            Rule::RelationHeaderRejected,
            format!(
                "its header at {file} line {} was rejected when posting ({}: {}) — {}",
                at.line,
                r.rule.id(),
                r.message,
                Rule::RelationHeaderRejected.fix()
            ),
        ));
    }
    out.push(r);
}

/// The report, the rejects of posting (each with its lines), and the origins of rows that are
/// unchanged in the store.
pub type PostOutcome = (PostReport, Vec<Reject>, Vec<Origin>);

/// Posts `invoices` in input order. An invoice may keep the content hash it was first imported
/// with (drafts read back from the store). Returns the report, the rejects of posting (each
/// with its lines), and the origins of rows that are unchanged in the store.
pub fn run(
    invoices: Vec<(Invoice, Option<String>)>,
    md: &MasterData,
    req: &PostRequest,
    files: &[String],
) -> Result<PostOutcome, JobError> {
    let mut report =
        PostReport { store: req.store.display().to_string(), pro_forma: req.options.pro_forma, ..Default::default() };
    let mut rejects = Vec::new();
    let mut unchanged = Vec::new();
    let opts = &req.options;

    let mut originals = Originals::of(&invoices, opts.originals_outside_store);
    let stage = crate::progress::Stage::start(
        if opts.pro_forma { "pro forma" } else { "post" },
        req.store.display().to_string(),
    );
    let total = invoices.len() as u64;
    let pb = crate::progress::bar(total, if opts.pro_forma { "computing (pro forma)" } else { "posting" }, "invoices");
    if opts.pro_forma {
        // Pro forma reads the store, when there is one, for the originals of credit notes.
        let store = match req.store.is_file() {
            true => Some(Store::open_reader(&req.store, req.lock_timeout)?),
            false => None,
        };
        let results: Vec<Result<Posted, PostError>> =
            invoices.into_par_iter().map(|(inv, _)| post::post(inv, md, opts)).collect();
        let mut shown = Vec::new();
        for r in results {
            let r = r.and_then(|p| {
                originals.check(p, |le, n| store.as_ref().map_or(Ok(false), |s| s.has_posted_invoice(le, n)))
            });
            match r {
                Ok(p) => {
                    count(&mut report, &p);
                    unchanged.extend_from_slice(&p.invoice.copies);
                    if req.pro_forma_out.is_some() {
                        shown.push(p);
                    }
                }
                Err(e) => {
                    let (inv, r) = *e;
                    report.rejected += 1;
                    reject_with_lines(&inv, r, files, &mut rejects);
                }
            }
        }
        // Pro forma writes no ledger, so there are no entries or open items to report.
        report.ledger_entries = 0;
        report.customer_transactions = 0;
        report.originals_outside_store = originals.outside;
        pb.finish_and_clear();
        stage.done(total, "invoices");
        if let Some(out) = &req.pro_forma_out {
            let written = crate::export::proforma::write(out, &shown)
                .map_err(|m| JobError::Input(format!("cannot write the pro forma invoices: {m}")))?;
            report.pro_forma_report = Some(written);
        }
        return Ok((report, rejects, unchanged));
    }

    let mut store = Store::open_writer(&req.store, req.lock_timeout)?;
    store.seed_sequences(md)?;
    let mut sequences: HashSet<(String, String)> = HashSet::new();
    for le in md.legal_entities.keys() {
        for r in ["Invoice", "FreeTextInvoice", "CreditNote", "Voucher"] {
            if store.has_sequence(le, r)? {
                sequences.insert((le.clone(), r.to_string()));
            }
        }
    }
    let per_batch = req.invoices_per_batch.max(1);
    let mut batches: Vec<Vec<(Invoice, Option<String>)>> = Vec::new();
    let mut it = invoices.into_iter().peekable();
    while it.peek().is_some() {
        batches.push(it.by_ref().take(per_batch).collect());
    }
    let draft = req.draft;
    std::thread::scope(|scope| -> Result<(), JobError> {
        let (tx, rx) = mpsc::sync_channel::<Vec<Result<Posted, PostError>>>(1);
        let sequences = &sequences;
        scope.spawn(move || {
            for batch in batches {
                let computed: Vec<Result<Posted, PostError>> = batch
                    .into_par_iter()
                    .map(|(inv, keep)| {
                        let mut p = post::post(inv, md, opts)?;
                        if let Some(h) = keep {
                            p.content_hash = h;
                        }
                        if draft {
                            return Ok(p);
                        }
                        let le = p.invoice.header.legal_entity.to_string();
                        let needs = [
                            (p.invoice.header.number.is_none(), p.sequence),
                            (p.invoice.header.voucher.is_none(), "Voucher"),
                        ];
                        for (needed, reference) in needs {
                            if needed && !sequences.contains(&(le.clone(), reference.to_string())) {
                                let r = Reject::new(
                                    p.invoice.header.origin,
                                    None,
                                    Rule::RefNumberSequence,
                                    format!(
                                        "legal entity {le} has no {reference} number sequence — {}",
                                        Rule::RefNumberSequence.fix()
                                    ),
                                );
                                return Err(Box::new((p.invoice, r)));
                            }
                        }
                        Ok(p)
                    })
                    .collect();
                if tx.send(computed).is_err() {
                    break;
                }
            }
        });
        for computed in rx {
            pb.inc(computed.len() as u64);
            let mut ok = Vec::with_capacity(computed.len());
            for r in computed {
                match r.and_then(|p| originals.check(p, |le, n| store.has_posted_invoice(le, n))) {
                    Ok(p) => ok.push(p),
                    Err(e) => {
                        let (inv, r) = *e;
                        report.rejected += 1;
                        reject_with_lines(&inv, r, files, &mut rejects);
                    }
                }
            }
            let results = store.commit(&ok, draft, opts.credit_limit, md)?;
            report.batches += 1;

            for (p, c) in ok.iter().zip(results) {
                match c {
                    Committed::Posted { .. } => {
                        count(&mut report, p);
                        report.vouchers += 1;
                        unchanged.extend_from_slice(&p.invoice.copies);
                    }
                    Committed::Draft { .. } => {
                        report.drafts += 1;
                        unchanged.extend_from_slice(&p.invoice.copies);
                    }
                    Committed::Unchanged => {
                        report.unchanged += 1;
                        unchanged.push(p.invoice.header.origin);
                        unchanged.extend(p.invoice.lines.iter().map(|l| l.origin));
                        unchanged.extend_from_slice(&p.invoice.copies);
                    }
                    Committed::Rejected(mut r, role) => {
                        if r.field.is_none() {
                            r.field = role.and_then(|role| field_name(&p.invoice.header.entity, role));
                        }
                        report.rejected += 1;
                        reject_with_lines(&p.invoice, r, files, &mut rejects);
                    }
                }
            }
        }
        Ok(())
    })?;
    report.change_version = store.change_version()?;
    report.originals_outside_store = originals.outside;
    pb.finish_and_clear();
    stage.done(total, "invoices");
    Ok((report, rejects, unchanged))
}

fn count(report: &mut PostReport, p: &Posted) {
    if p.credit_note {
        report.credit_notes += 1;
    } else {
        report.invoices += 1;
    }
    report.lines += p.invoice.lines.len() as u64;
    report.ledger_entries += p.ledger.len() as u64;
    report.customer_transactions += 1;
}

/// The name of the field with `role` in the entity `entity` (for rejects the store makes).
fn field_name(entity: &str, role: crate::entity::Role) -> Option<String> {
    let e = crate::entity::Catalog::builtin().get(entity)?;
    e.role_index(role).map(|i| e.fields[i].name.clone())
}
