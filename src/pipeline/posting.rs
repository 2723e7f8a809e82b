//! The posting stage: validated invoices → posted in batches. Batches are computed in
//! parallel (rayon) on one thread while the writer commits the previous batch, in input order,
//! so numbers and change versions never depend on thread count or batch size.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc;

use rayon::prelude::*;
use serde::Serialize;

use crate::model::master::MasterData;
use crate::model::Invoice;
use crate::post::{self, PostError, Posted, PostingOptions};
use crate::read::Origin;
use crate::rejects::RejectLog;
use crate::store::{Body, Committed, Store};
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

/// (legal entity, invoice number) pairs, held compactly (a million cost ~30 MB): their text
/// in one buffer, an index of their hashes sorted for lookup.
#[derive(Default)]
pub struct NumberSet {
    text: String,
    /// (hash, start of the legal entity in `text`, its length, the number's length).
    index: Vec<(u64, usize, u32, u32)>,
}

impl NumberSet {
    fn hash(legal_entity: &str, number: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        legal_entity.hash(&mut h);
        number.hash(&mut h);
        h.finish()
    }

    /// Whether the pair is in the set.
    pub fn contains(&self, legal_entity: &str, number: &str) -> bool {
        let h = Self::hash(legal_entity, number);
        let from = self.index.partition_point(|e| e.0 < h);
        self.index[from..].iter().take_while(|e| e.0 == h).any(|&(_, start, le, n)| {
            let (le, n) = (le as usize, n as usize);
            &self.text[start..start + le] == legal_entity && &self.text[start + le..start + le + n] == number
        })
    }
}

impl<A: AsRef<str>, B: AsRef<str>> FromIterator<(A, B)> for NumberSet {
    fn from_iter<I: IntoIterator<Item = (A, B)>>(pairs: I) -> NumberSet {
        let mut set = NumberSet::default();
        for (le, number) in pairs {
            let (le, number) = (le.as_ref(), number.as_ref());
            // Lengths fit: fields are at most a few dozen characters (their entities' limits).
            set.index.push((Self::hash(le, number), set.text.len(), le.len() as u32, number.len() as u32));
            set.text.push_str(le);
            set.text.push_str(number);
        }
        set.index.sort_unstable();
        set.text.shrink_to_fit();
        set
    }
}

/// The check of credit notes' original invoices: each must be an invoice of the import, or a
/// posted invoice of the store (unless originals outside the store are allowed; then they are
/// counted).
struct Originals {
    in_import: NumberSet,
    allow_outside: bool,
    outside: u64,
}

impl Originals {
    /// `p` when its original invoice (if it names one) is known; else its reject.
    fn check(
        &mut self,
        p: Posted,
        in_store: impl Fn(&str, &str) -> Result<bool, crate::store::StoreError>,
    ) -> Result<Posted, PostError> {
        let h = &p.invoice.header;
        let Some(original) = h.original_invoice.clone() else { return Ok(p) };
        let key = (h.legal_entity.clone(), original);
        if self.in_import.contains(&key.0, &key.1) {
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
            .get(h.entity)
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

fn reject_with_lines(inv: &Invoice, r: Reject, files: &[String], out: &mut RejectLog) {
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

/// The report, the rejects of posting (each with its lines), and per file the number of rows
/// that are unchanged in the store (or copies of an invoice through another entity).
pub type PostOutcome = (PostReport, RejectLog, BTreeMap<u32, u64>);

/// Invoices to post, each with the content hash it keeps (drafts read back from the store).
pub type Batch = Vec<(Invoice, Option<String>)>;

/// The posting stage running beside the stages that feed it: batches of invoices go in, in
/// input order; they are computed in parallel and committed in that order by one writer, so
/// numbers and change versions never depend on thread count or batch size. The channel holds
/// two batches: a fast reader waits for the writer, and memory stays bounded.
pub struct Poster<'s> {
    tx: Option<mpsc::SyncSender<Batch>>,
    handle: std::thread::ScopedJoinHandle<'s, Result<PostOutcome, JobError>>,
}

impl<'s> Poster<'s> {
    /// Starts posting into `req`'s store (or computing, pro forma). `in_import` holds the
    /// (legal entity, number) of every invoice of the import, for the originals of credit
    /// notes; `total` sizes the progress bar.
    pub fn start<'e: 's>(
        scope: &'s std::thread::Scope<'s, 'e>,
        md: &'e MasterData,
        req: &'e PostRequest,
        files: &'e [String],
        in_import: NumberSet,
        total: u64,
    ) -> Poster<'s> {
        let (tx, rx) = mpsc::sync_channel::<Batch>(2);
        let handle = scope.spawn(move || post_all(rx, md, req, files, in_import, total));
        Poster { tx: Some(tx), handle }
    }

    /// Hands a batch over (in input order). Fails only when the posting stage stopped; its
    /// error then comes from [`Poster::finish`].
    pub fn send(&mut self, batch: Batch) -> bool {
        match &self.tx {
            Some(tx) if !batch.is_empty() => tx.send(batch).is_ok(),
            Some(_) => true,
            None => false,
        }
    }

    /// Waits for the last batch to be committed.
    pub fn finish(mut self) -> Result<PostOutcome, JobError> {
        drop(self.tx.take());
        match self.handle.join() {
            Ok(r) => r,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
}

fn post_all(
    rx: mpsc::Receiver<Batch>,
    md: &MasterData,
    req: &PostRequest,
    files: &[String],
    in_import: NumberSet,
    total: u64,
) -> Result<PostOutcome, JobError> {
    let mut report =
        PostReport { store: req.store.display().to_string(), pro_forma: req.options.pro_forma, ..Default::default() };
    let mut rejects = RejectLog::default();
    let mut unchanged: BTreeMap<u32, u64> = BTreeMap::new();
    let mut same = |origins: &mut dyn Iterator<Item = Origin>| {
        for o in origins {
            *unchanged.entry(o.file).or_default() += 1;
        }
    };
    let opts = &req.options;
    let mut originals = Originals { in_import, allow_outside: opts.originals_outside_store, outside: 0 };
    let stage = crate::progress::Stage::start(
        if opts.pro_forma { "pro forma" } else { "post" },
        req.store.display().to_string(),
    );
    let pb = crate::progress::bar(total, if opts.pro_forma { "computing (pro forma)" } else { "posting" }, "invoices");
    let mut posted_count = 0u64;
    let cache = post::PartiesCache::default();

    if opts.pro_forma {
        // Pro forma reads the store, when there is one, for the originals of credit notes.
        let store = match req.store.is_file() {
            true => Some(Store::open_reader(&req.store, req.lock_timeout)?),
            false => None,
        };
        let mut shown = Vec::new();
        for batch in rx {
            pb.inc(batch.len() as u64);
            posted_count += batch.len() as u64;
            let results: Vec<Result<Posted, PostError>> =
                batch.into_par_iter().map(|(inv, _)| post::post_with(inv, md, opts, &cache)).collect();
            // The computed invoices not written out are dropped by the pool afterwards: dropped
            // one by one on this thread, they held up the stages waiting for it.
            let mut done: Vec<Posted> = Vec::with_capacity(results.len());
            for r in results {
                let r = r.and_then(|p| {
                    originals.check(p, |le, n| store.as_ref().map_or(Ok(false), |s| s.has_posted_invoice(le, n)))
                });
                match r {
                    Ok(p) => {
                        count(&mut report, &p);
                        same(&mut p.invoice.copies.iter().copied());
                        if req.pro_forma_out.is_some() {
                            shown.push(p);
                        } else {
                            done.push(p);
                        }
                    }
                    Err(e) => {
                        let (inv, r) = *e;
                        report.rejected += 1;
                        reject_with_lines(&inv, r, files, &mut rejects);
                    }
                }
            }
            done.into_par_iter().for_each(drop);
        }
        // Pro forma writes no ledger, so there are no entries or open items to report.
        report.ledger_entries = 0;
        report.customer_transactions = 0;
        report.originals_outside_store = originals.outside;
        pb.finish_and_clear();
        stage.done(posted_count, "invoices");
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
    let draft = req.draft;
    // Two stages: this thread posts a batch on every core while the committer thread below
    // commits the batch before it (checks against the store, numbers, the transaction) and
    // accounts for the outcome. Batches keep their order: numbers and versions are the same
    // whatever overlaps.
    std::thread::scope(|s| -> Result<(), JobError> {
        type Computed = Vec<Result<(Posted, Body), PostError>>;
        let (to_commit, committing) = mpsc::sync_channel::<Computed>(0);
        let (store, report, rejects, originals, same) =
            (&mut store, &mut report, &mut rejects, &mut originals, &mut same);
        let committer = s.spawn(move || -> Result<(), JobError> {
            for computed in committing {
                let mut ok = Vec::with_capacity(computed.len());
                for r in computed {
                    match r
                        .and_then(|(p, b)| originals.check(p, |le, n| store.has_posted_invoice(le, n)).map(|p| (p, b)))
                    {
                        Ok(pb) => ok.push(pb),
                        Err(e) => {
                            let (inv, r) = *e;
                            report.rejected += 1;
                            reject_with_lines(&inv, r, files, rejects);
                        }
                    }
                }
                let results = store.commit(&ok, draft, opts.credit_limit, md)?;
                report.batches += 1;
                for ((p, _), c) in ok.iter().zip(results) {
                    match c {
                        Committed::Posted { .. } => {
                            count(report, p);
                            report.vouchers += 1;
                            same(&mut p.invoice.copies.iter().copied());
                        }
                        Committed::Draft { .. } => {
                            report.drafts += 1;
                            same(&mut p.invoice.copies.iter().copied());
                        }
                        Committed::Unchanged => {
                            report.unchanged += 1;
                            same(&mut std::iter::once(p.invoice.header.origin));
                            same(&mut p.invoice.lines.iter().map(|l| l.origin));
                            same(&mut p.invoice.copies.iter().copied());
                        }
                        Committed::Refused(refusal) => {
                            report.rejected += 1;
                            reject_with_lines(&p.invoice, refused(p, refusal), files, rejects);
                        }
                    }
                }
                // Dropped by the pool: freeing a batch here held up the next commit.
                rayon::spawn(move || drop(ok));
            }
            Ok(())
        });
        // Incoming batches are cut into store transactions of `invoices_per_batch`.
        let mut pending: Batch = Vec::new();
        let mut incoming = rx.into_iter();
        let mut done = false;
        while !done {
            match incoming.next() {
                Some(b) => pending.extend(b),
                None => done = true,
            }
            while pending.len() >= per_batch || (done && !pending.is_empty()) {
                let rest = pending.split_off(pending.len().min(per_batch));
                let batch = std::mem::replace(&mut pending, rest);
                pb.inc(batch.len() as u64);
                posted_count += batch.len() as u64;
                let computed: Computed = batch
                    .into_par_iter()
                    .map(|(inv, keep)| {
                        let mut p = post::post_with(inv, md, opts, &cache)?;
                        if let Some(h) = keep {
                            p.content_hash = h;
                        }
                        // A draft draws no numbers; a posting needs the sequences it draws from.
                        let le = p.invoice.header.legal_entity.to_string();
                        let needs = [
                            (p.invoice.header.number.is_none(), p.sequence),
                            (p.invoice.header.voucher.is_none(), "Voucher"),
                        ];
                        for (needed, reference) in needs {
                            if !draft && needed && !sequences.contains(&(le.clone(), reference.to_string())) {
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
                        let body = Body::of(&p, crate::entity::field_name);
                        // The parties' JSON (shared by the invoices with the same parties) is
                        // written here when it is not yet, so that the one writer only stores it.
                        let _ = p.parties_json();
                        Ok((p, body))
                    })
                    .collect();
                // A refused send: the committer stopped on an error, which its join gives.
                if to_commit.send(computed).is_err() {
                    done = true;
                    break;
                }
            }
        }
        drop(to_commit);
        match committer.join() {
            Ok(r) => r,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    })?;
    report.change_version = store.change_version()?;
    report.originals_outside_store = originals.outside;
    pb.finish_and_clear();
    stage.done(posted_count, "invoices");
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

/// The reject of an invoice the store refused, in the words of the rule it breaks, naming the
/// field at fault when there is one.
fn refused(p: &Posted, refusal: crate::store::Refusal) -> Reject {
    use crate::store::{NumberKind, Refusal};
    let h = &p.invoice.header;
    let (rule, role, message) = match refusal {
        Refusal::PostedChanged { source_key } => (
            Rule::StorePostedChanged,
            None,
            format!("invoice {source_key} of legal entity {} is posted and differs from this row", h.legal_entity),
        ),
        Refusal::CreditLimit { balance, adds, limit } => (
            Rule::PostCreditLimit,
            None,
            format!(
                "customer {} has an open balance of {balance} and this invoice adds {adds}: above the credit limit {limit}",
                h.customer
            ),
        ),
        Refusal::NumberInUse { source_key, kind, value, other } => {
            let this = match source_key.strip_prefix("FT:") {
                Some(rec) => format!("free-text invoice record {rec}"),
                None => format!("invoice {source_key}"),
            };
            let (role, what) = match kind {
                NumberKind::Invoice => (crate::entity::Role::InvoiceNumber, "invoice number"),
                NumberKind::Voucher => (crate::entity::Role::Voucher, "voucher"),
            };
            (
                Rule::KeyNumberInUse,
                Some(role),
                format!(
                    "{this} of legal entity {} has the {what} {value}, which {other} uses already",
                    h.legal_entity
                ),
            )
        }
    };
    let mut r = Reject::new(h.origin, None, rule, format!("{message} — {}", rule.fix()));
    r.field = role.and_then(|role| field_name(h.entity, role));
    r
}

/// The name of the field with `role` in the entity `entity` (for rejects the store makes).
fn field_name(entity: &str, role: crate::entity::Role) -> Option<String> {
    let e = crate::entity::Catalog::builtin().get(entity)?;
    e.role_index(role).map(|i| e.fields[i].name.clone())
}

#[cfg(test)]
mod tests {
    use super::NumberSet;

    #[test]
    fn number_set_holds_exactly_its_pairs() {
        let set: NumberSet =
            [("DEMF", "INV-1"), ("DEMF", "INV-2"), ("USMF", "INV-1"), ("DEM", "FINV-1")].into_iter().collect();
        assert!(set.contains("DEMF", "INV-1"));
        assert!(set.contains("USMF", "INV-1"));
        assert!(set.contains("DEM", "FINV-1"));
        assert!(!set.contains("DEMFI", "NV-1"));
        assert!(!set.contains("USMF", "INV-2"));
        assert!(!set.contains("", ""));
    }
}
