//! XML e-invoices: PEPPOL BIS Billing 3.0 UBL 2.1 (Invoice, CreditNote) and UN/CEFACT CII D16B
//! (EN 16931 profile), written from what posting stored, read from partner files, and checked
//! against the EN 16931 rules before anything is written. Exports print, they never compute
//! money: every amount here is a posted amount (sign-flipped for credit notes).

mod build;
pub mod catalog;
pub mod cii;
pub mod codes;
mod national;
pub mod read;
pub mod rules;
pub mod schema;
pub mod syntax;
pub mod ubl;
pub mod xml;

use rust_decimal::Decimal;
use serde::Serialize;

/// Output syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Syntax {
    /// UBL 2.1, PEPPOL BIS Billing 3.0.
    Ubl,
    /// UN/CEFACT CII D16B, EN 16931.
    Cii,
}

/// Findings of a check: (rule, message).
pub type Findings = Vec<(String, String)>;

/// The result of checking one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    /// The file.
    pub file: String,
    /// Whether no fatal rule broke.
    pub ok: bool,
    /// Findings of fatal rules: (rule, message).
    pub findings: Vec<(String, String)>,
    /// Findings of warnings (the document is not refused for them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<(String, String)>,
}

/// The findings split into the fatal ones and the warnings.
fn split(findings: Vec<rules::Finding>) -> (Findings, Findings) {
    let (fatal, warnings): (Vec<_>, Vec<_>) = findings.into_iter().partition(|f| f.fatal);
    (
        fatal.into_iter().map(|f| (f.rule, f.message)).collect(),
        warnings.into_iter().map(|f| (f.rule, f.message)).collect(),
    )
}

/// Reads and checks one e-invoice file's bytes.
pub fn check_bytes(file: &str, bytes: &[u8]) -> FileCheck {
    thread_local! {
        // The element trees of this thread's documents, one at a time: reset before each, so
        // that its memory serves the next.
        static ARENA: std::cell::RefCell<read::Arena> = std::cell::RefCell::new(read::Arena::new());
    }
    ARENA.with_borrow_mut(|arena| {
        // An arena that grew for a very large document is given back rather than kept.
        if arena.allocated_bytes() > ARENA_KEPT {
            *arena = read::Arena::new();
        }
        arena.reset();
        check_in(file, bytes, arena)
    })
}

/// The most arena memory a thread keeps between documents (a tree of a few megabytes; an
/// e-invoice's takes some kilobytes).
const ARENA_KEPT: usize = 16 << 20;

fn check_in(file: &str, bytes: &[u8], arena: &read::Arena) -> FileCheck {
    match read::read_with_tree(bytes, arena) {
        Err(e) => FileCheck {
            file: file.to_string(),
            ok: false,
            findings: vec![("XML".into(), e.to_string())],
            warnings: Vec::new(),
        },
        Ok((doc, issues, root)) => {
            let mut findings: Vec<(String, String)> =
                issues.into_iter().map(|(p, m)| ("SYNTAX".to_string(), format!("{p}: {m}"))).collect();
            let binding = match doc.syntax {
                Syntax::Ubl => {
                    let mut found = schema::ubl(&root);
                    found.extend(syntax::ubl(&root));
                    found
                }
                Syntax::Cii => {
                    let mut found = schema::cii(&root);
                    found.extend(syntax::cii(&root));
                    found
                }
            };
            debug_assert!(binding.iter().all(|(r, _)| catalog::known(r)), "{binding:?}: a rule not in the list");
            findings.extend(binding.into_iter().map(|(r, m)| (r.to_string(), m)));
            if doc.syntax == Syntax::Ubl && rules::peppol_applies(&doc) {
                let danish = national::danish_parties(&doc);
                findings.extend(syntax::peppol(&root, danish).into_iter().map(|(r, m)| (r.to_string(), m)));
            }
            let (fatal, warnings) = split(rules::check(&doc));
            findings.extend(fatal);
            FileCheck { file: file.to_string(), ok: findings.is_empty(), findings, warnings }
        }
    }
}

/// Checks a document this program built, on the model it is written from: no re-parse. The
/// writers print the model as it is, so this reports what [`check_bytes`] reports on the bytes
/// written (`xml`); debug builds, and so every test, check that on every document.
pub fn check_built(file: &str, doc: &Doc, xml: &[u8]) -> FileCheck {
    let (findings, warnings) = split(rules::check(doc));
    let checked = FileCheck { file: file.to_string(), ok: findings.is_empty(), findings, warnings };
    if cfg!(debug_assertions) {
        // The same findings; the rules on the tree report theirs before the model's.
        let sorted = |f: &Findings| {
            let mut f = f.clone();
            f.sort();
            f
        };
        let reread = check_bytes(file, xml);
        assert_eq!(
            sorted(&reread.findings),
            sorted(&checked.findings),
            "{file}: the bytes written check otherwise than their model"
        );
        assert_eq!(
            sorted(&reread.warnings),
            sorted(&checked.warnings),
            "{file}: the bytes written warn otherwise than their model"
        );
    }
    checked
}

pub use build::{build, build_with, stored_of};

/// What `einvoice` writes.
#[derive(Debug, Clone)]
pub struct EinvoiceRequest {
    /// Syntax.
    pub syntax: Syntax,
    /// Output folder.
    pub out: std::path::PathBuf,
    /// Change-tracking job.
    pub job: Option<String>,
    /// Build and check every document, write none and record nothing (no watermark moves, no
    /// document becomes pending): which documents would be refused, and why.
    pub dry_run: bool,
    /// Re-issue: every document of the run is built with the master data [`run`] is given
    /// (seller, buyer, exemption reasons as corrected; amounts as posted), not only those
    /// pending from earlier runs.
    pub reissue: bool,
    /// A folder for the refused documents as they would have been sent (same file names as in
    /// the output folder), to look at or to check with another validator; plain files, not
    /// part of the run's exactly-once publication. Dry runs write them too.
    pub refused_dir: Option<std::path::PathBuf>,
}

/// A document not written because it broke a rule.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    /// Legal entity.
    pub legal_entity: String,
    /// Invoice number.
    pub number: String,
    /// (rule, message).
    pub findings: Vec<(String, String)>,
    /// Whether an earlier run of the job refused it already (it stays pending until written or
    /// skipped).
    pub pending_before: bool,
}

/// What `einvoice` did.
#[derive(Debug, Clone, Serialize)]
pub struct EinvoiceReport {
    /// Syntax.
    pub syntax: Syntax,
    /// Job.
    pub job: Option<String>,
    /// Documents written (with `dry_run`: that passed the check and would be written).
    pub documents: u64,
    /// Whether this was a dry run: nothing written or recorded.
    pub dry_run: bool,
    /// Credit notes among them.
    pub credit_notes: u64,
    /// Documents refused by the checks (not written): new ones and those still pending.
    pub refused: Vec<Refused>,
    /// Documents of the job pending from earlier runs that this run wrote (with `dry_run`:
    /// that would now be written).
    pub pending_written: u64,
    /// Output folder.
    pub dir: String,
    /// Versions covered.
    pub from_version: i64,
    /// See `from_version`.
    pub to_version: i64,
}

/// The change-tracking name of a syntax's output (its watermark and pending list).
pub fn output_name(syntax: Syntax) -> &'static str {
    match syntax {
        Syntax::Ubl => "einvoice-ubl",
        Syntax::Cii => "einvoice-cii",
    }
}

/// Writes the e-invoices of posted invoices (all, or those since the job's watermark): each
/// document is checked on its model ([`check_built`]) and printed; one that breaks a rule is
/// reported and not written. For a job, a refused document stays pending: every later run tries it again
/// (with the parties and exemption reasons of `master` when given, so corrected master data
/// takes effect) until it is written or skipped (`skip-einvoice`). With `req.reissue`, every
/// document of the run is built so (parties refreshed, exemption reasons by [`build_with`]): the way to re-issue documents
/// after master data was corrected, amounts as posted. Files are named after the legal entity and the invoice
/// number, so a re-run rewrites the same files.
///
/// The work runs as a pipeline over chunks of 2,048 documents: this thread reads a chunk from
/// the store while a builder thread builds the one before on every core and a writer thread
/// publishes the one before that, so memory holds about three chunks whatever the store's size.
/// A dry run (`req.dry_run`) builds and checks the same documents and writes and records
/// nothing.
pub fn run(
    store: &mut crate::store::Store,
    req: &EinvoiceRequest,
    master: Option<&crate::model::master::MasterData>,
) -> Result<EinvoiceReport, crate::export::ExportError> {
    let werr = |p: &std::path::Path, m: String| crate::export::ExportError::Write { path: p.to_path_buf(), message: m };
    if !req.dry_run {
        std::fs::create_dir_all(&req.out).map_err(|e| werr(&req.out, e.to_string()))?;
    }
    let output = output_name(req.syntax);
    let from = store.path().to_path_buf();
    let damaged = |e: crate::store::Damaged| {
        crate::export::ExportError::from(crate::store::StoreError::Damaged {
            path: from.clone(),
            message: e.to_string(),
        })
    };
    let range = match &req.job {
        Some(job) if !req.dry_run => store.begin_export(job, output)?,
        Some(job) => store.export_range(job, output)?,
        None => crate::store::ExportRange { from: 0, to: store.change_version()?, resumed: false },
    };
    let mut report = EinvoiceReport {
        syntax: req.syntax,
        job: req.job.clone(),
        documents: 0,
        dry_run: req.dry_run,
        credit_notes: 0,
        refused: Vec::new(),
        pending_written: 0,
        dir: req.out.display().to_string(),
        from_version: range.from,
        to_version: range.to,
    };
    let mut outcome = Outcome::default();
    let stage = crate::progress::Stage::start("e-invoices", output);
    let pb = crate::progress::spinner(&format!("e-invoices {}", output), "documents");
    // Documents refused by earlier runs of the job come first, with today's master data.
    if let Some(job) = &req.job {
        let mut pending = Vec::new();
        store.pending_documents(job, output, |d| pending.push(d))?;
        for d in &mut pending {
            if let Some(md) = master {
                refresh_parties(d, md);
            }
        }
        for chunk in pending.chunks(CHUNK) {
            let built = build_chunk(chunk, req.syntax, master).map_err(damaged)?;
            publish_chunk(built, req, true, &mut report, &mut outcome)?;
            pb.inc(chunk.len() as u64);
        }
    }
    if range.to > range.from || req.job.is_none() {
        std::thread::scope(|scope| -> Result<(), crate::export::ExportError> {
            // Capacity 0 on both channels: a stage takes a chunk when it is done with the one
            // before, so one chunk is read while one is built and one is written.
            let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Vec<crate::store::PostedDoc>>(0);
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Built>>(0);
            let (report, outcome, pb) = (&mut report, &mut outcome, &pb);
            let writer = scope.spawn(move || -> Result<(), crate::export::ExportError> {
                for built in rx {
                    let n = built.len() as u64;
                    publish_chunk(built, req, false, report, outcome)?;
                    pb.inc(n);
                }
                Ok(())
            });
            // A send fails when the stage after stopped on an error: reported when it is joined.
            let builder = scope.spawn(move || -> Result<(), crate::export::ExportError> {
                use rayon::prelude::*;
                let master = master.filter(|_| req.reissue);
                for mut chunk in raw_rx {
                    // A re-issue: today's parties, as pending documents get them.
                    if let Some(md) = master {
                        chunk.par_iter_mut().for_each(|d| refresh_parties(d, md));
                    }
                    let built = build_chunk(&chunk, req.syntax, master).map_err(damaged)?;
                    drop(chunk);
                    if tx.send(built).is_err() {
                        break;
                    }
                }
                Ok(())
            });
            let mut chunk: Vec<crate::store::PostedDoc> = Vec::with_capacity(CHUNK);
            let mut stopped = false;
            let read = store.documents(range, |d| {
                if stopped {
                    return;
                }
                chunk.push(d);
                if chunk.len() == CHUNK {
                    stopped = raw_tx.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_err();
                }
            });
            if read.is_ok() && !stopped && !chunk.is_empty() {
                let _ = raw_tx.send(chunk);
            }
            drop(raw_tx);
            let failed = |what: &str| Err(werr(&req.out, format!("the {what} thread failed")));
            let built = builder.join().unwrap_or_else(|_| failed("building"));
            let written = writer.join().unwrap_or_else(|_| failed("writer"));
            read?;
            built?;
            written
        })?;
    }
    pb.finish_and_clear();
    stage.done(report.documents + report.refused.len() as u64, "documents");
    if let (Some(job), false) = (&req.job, req.dry_run) {
        let today = crate::pipeline::today().to_string();
        let run = crate::store::EinvoiceRun {
            to: (range.to > range.from).then_some(range.to),
            refused: &outcome.refused,
            written: &outcome.written_pending,
            parties: &outcome.refreshed,
            today: &today,
        };
        store.finish_einvoices(job, output, &run)?;
    }
    Ok(report)
}

/// What a run must record besides the files: refused documents, pending ones now written, and
/// parties refreshed from master data for documents that were written with them.
#[derive(Default)]
struct Outcome {
    refused: Vec<crate::store::PendingDoc>,
    written_pending: Vec<i64>,
    refreshed: Vec<(i64, String)>,
}

/// Replaces a stored document's parties by those of today's master data (for a document that
/// was refused, e.g. for a missing buyer country, and is tried again).
fn refresh_parties(d: &mut crate::store::PostedDoc, md: &crate::model::master::MasterData) {
    let terms = d.payment_terms.as_deref().filter(|t| !t.is_empty());
    if let Some(p) = crate::post::parties(md, &d.legal_entity, &d.customer, terms) {
        if let Ok(json) = serde_json::to_string(&p) {
            d.parties = json;
            d.parties_refreshed = true;
        }
    }
}

/// Documents per chunk.
const CHUNK: usize = 2048;

/// A document built, printed and checked.
struct Built {
    id: i64,
    legal_entity: String,
    number: String,
    kind: Kind,
    file: std::path::PathBuf,
    /// The XML, or why it was refused (with the XML refused).
    result: Result<String, (Findings, String)>,
    /// The parties it was built with, when refreshed from today's master data.
    refreshed: Option<String>,
}

/// Builds, prints and checks the documents of a chunk on every core.
fn build_chunk(
    docs: &[crate::store::PostedDoc],
    syntax: Syntax,
    master: Option<&crate::model::master::MasterData>,
) -> Result<Vec<Built>, crate::store::Damaged> {
    use rayon::prelude::*;
    docs.par_iter()
        .map(|s| {
            let doc = build::build_with(s, syntax, master)?;
            let xml = match syntax {
                Syntax::Ubl => ubl::write(&doc),
                Syntax::Cii => cii::write(&doc),
            };
            let checked = check_built(&s.number, &doc, xml.as_bytes());
            Ok(Built {
                id: s.id,
                file: document_path(&s.legal_entity, &s.number),
                legal_entity: s.legal_entity.clone(),
                number: s.number.clone(),
                kind: doc.kind,
                result: if checked.ok { Ok(xml) } else { Err((checked.findings, xml)) },
                refreshed: s.parties_refreshed.then(|| s.parties.clone()),
            })
        })
        .collect()
}

/// Publishes one chunk of built documents (unless a dry run): the files are written to temp
/// names, flushed to disk together, then renamed into place; then the chunk is counted.
fn publish_chunk(
    results: Vec<Built>,
    req: &EinvoiceRequest,
    pending: bool,
    report: &mut EinvoiceReport,
    outcome: &mut Outcome,
) -> Result<(), crate::export::ExportError> {
    let werr = |p: &std::path::Path, m: String| crate::export::ExportError::Write { path: p.to_path_buf(), message: m };
    if !req.dry_run {
        let mut dirs: Vec<std::path::PathBuf> =
            results.iter().filter_map(|b| b.file.parent().map(|p| req.out.join(p))).collect();
        dirs.sort();
        dirs.dedup();
        for d in &dirs {
            std::fs::create_dir_all(d).map_err(|e| werr(d, e.to_string()))?;
        }
        // One thread creates the files: two contend on the folder's lock in the kernel,
        // spinning (a third of the time in `rwsem_spin_on_owner`, measured on 10k documents).
        let mut renames = Vec::with_capacity(results.len());
        let mut first_error = None;
        for (b, xml) in results.iter().filter_map(|b| b.result.as_ref().ok().map(|xml| (b, xml))) {
            let path = req.out.join(&b.file);
            let name = b.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let tmp = path.with_file_name(format!(".{name}.tmp"));
            match std::fs::write(&tmp, xml) {
                Ok(()) => renames.push((tmp, path)),
                Err(e) => {
                    first_error =
                        Some(werr(&tmp, format!("document {} of legal entity {}: {e}", b.number, b.legal_entity)));
                    break;
                }
            }
        }
        if let Some(e) = first_error {
            // Leave no stray temp file behind.
            for (tmp, _) in &renames {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(e);
        }
        sync_files(&req.out, renames.iter().map(|(tmp, _)| tmp.as_path()))
            .map_err(|e| werr(&req.out, e.to_string()))?;
        for (tmp, path) in &renames {
            std::fs::rename(tmp, path).map_err(|e| werr(path, e.to_string()))?;
        }
        for d in std::iter::once(&req.out).chain(&dirs) {
            if let Ok(dir) = std::fs::File::open(d) {
                dir.sync_all().map_err(|e| werr(d, e.to_string()))?;
            }
        }
    }
    if let Some(dir) = &req.refused_dir {
        for b in &results {
            if let Err((_, xml)) = &b.result {
                let path = dir.join(&b.file);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| werr(parent, e.to_string()))?;
                }
                std::fs::write(&path, xml).map_err(|e| werr(&path, e.to_string()))?;
            }
        }
    }
    for b in results {
        match b.result {
            Ok(_) => {
                report.documents += 1;
                if b.kind == Kind::CreditNote {
                    report.credit_notes += 1;
                }
                if pending {
                    report.pending_written += 1;
                    outcome.written_pending.push(b.id);
                    if let Some(json) = b.refreshed {
                        outcome.refreshed.push((b.id, json));
                    }
                }
            }
            Err((findings, _)) => {
                outcome.refused.push(crate::store::PendingDoc {
                    invoice_id: b.id,
                    legal_entity: b.legal_entity.clone(),
                    number: b.number.clone(),
                    findings: serde_json::to_string(&findings).unwrap_or_default(),
                });
                report.refused.push(Refused {
                    legal_entity: b.legal_entity,
                    number: b.number,
                    findings,
                    pending_before: pending,
                });
            }
        }
    }
    Ok(())
}

/// Makes the written files durable. On Linux one `syncfs` flushes the whole file system the
/// folder is on (one call for thousands of files); elsewhere each file is synced.
fn sync_files<'a>(dir: &std::path::Path, files: impl Iterator<Item = &'a std::path::Path>) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let _ = files;
        let d = std::fs::File::open(dir)?;
        // SAFETY: syncfs only reads the descriptor, which `d` keeps open for the call.
        if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        for f in files {
            std::fs::File::open(f)?.sync_all()?;
        }
        Ok(())
    }
}

/// Document kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// Commercial invoice (380).
    Invoice,
    /// Credit note (381).
    CreditNote,
}

impl Kind {
    /// UNTDID 1001 code.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Invoice => "380",
            Kind::CreditNote => "381",
        }
    }
}

/// A party (seller BG-4 or buyer BG-7).
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct Party {
    /// Party identifier (BT-29 / BT-46).
    pub id: Option<String>,
    pub name: Option<String>,
    pub vat_id: Option<String>,
    pub tax_registration_id: Option<String>,
    pub legal_id: Option<String>,
    pub endpoint: Option<(String, String)>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    /// Contact (BG-6 / BG-9): name, telephone, e-mail.
    pub contact: Option<(Option<String>, Option<String>, Option<String>)>,
    /// The identifiers a read document gives with a scheme (UBL PartyIdentification/ID and
    /// PartyLegalEntity/CompanyID with `schemeID`), (scheme, identifier), for the PEPPOL-COMMON
    /// rules; the documents invoiceflow builds give none.
    pub scheme_ids: Vec<(String, String)>,
    /// Trading name (BT-28).
    pub trading_name: Option<String>,
    /// The schemes of its identifiers (BT-29 / BT-46: UBL PartyIdentification, CII GlobalID).
    pub id_schemes: Vec<String>,
    /// The scheme of its legal registration identifier (BT-30 / BT-47).
    pub legal_id_scheme: Option<String>,
    /// Whether the party has a postal address (BG-5, BG-8, BG-12), however empty.
    pub postal_address: bool,
    /// Whether the party element is there at all (UBL AccountingSupplierParty/Party …).
    pub given: bool,
    /// Whether the element that holds the party is there (UBL AccountingSupplierParty,
    /// AccountingCustomerParty, even without their `Party`; CII: the trade party itself): the
    /// context of the rules asked of the role rather than of the party (BR-CO-26).
    pub role: bool,
    /// The tax schemes a read document gives the party (UBL PartyTaxScheme: scheme id, company
    /// id; both as written, trimmed), for the national rules on tax registrations.
    pub tax_schemes: Vec<(String, String)>,
}

impl Party {
    /// Whether any part of the postal address is given (the writers write the address then).
    pub fn has_address_parts(&self) -> bool {
        [&self.street, &self.city, &self.zip, &self.country].iter().any(|v| v.is_some())
    }

    /// Sets [`Party::tax_schemes`] to what the writers of `syntax` write: the VAT identifier
    /// (UBL scheme `VAT`, CII `VA`) and the tax registration (UBL `TAX`, CII `FC`).
    pub fn set_written_tax_schemes(&mut self, syntax: Syntax) {
        let (vat, tax) = match syntax {
            Syntax::Ubl => ("VAT", "TAX"),
            Syntax::Cii => ("VA", "FC"),
        };
        self.tax_schemes = [(vat, &self.vat_id), (tax, &self.tax_registration_id)]
            .into_iter()
            .filter_map(|(s, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| (s.to_string(), v.clone())))
            .collect();
    }
}

/// A period (BG-14 of the invoice, BG-26 of a line): start and end dates (ISO), either absent.
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct Period {
    pub start: Option<String>,
    pub end: Option<String>,
    /// The VAT point date code (BT-8) UBL carries in the invoicing period.
    pub code: Option<String>,
}

/// A payment instruction (BG-16): means code (BT-81), the account (BT-84, with whether the
/// account element is there at all), the service provider (BT-86), a card's number (BT-87).
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct Payment {
    pub code: Option<String>,
    pub account: Option<String>,
    pub account_given: bool,
    /// Whether the account's identifier element is there, however empty (BR-61).
    pub account_id_given: bool,
    pub bic: Option<String>,
    pub card: Option<String>,
    /// Whether a payment card group (BG-18) is given, however empty.
    pub card_given: bool,
    /// Remittance information (BT-83).
    pub payment_id: Option<String>,
    /// Direct debit (BG-19): the mandate reference (BT-89) and the debited account (BT-91),
    /// when the mandate group is given.
    pub mandate: Option<(Option<String>, Option<String>)>,
}

/// The payee (BG-10): name (BT-59), identifier (BT-60), legal registration (BT-61).
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct Payee {
    pub name: Option<String>,
    pub id: Option<String>,
    pub legal_id: Option<String>,
}

/// A line allowance or charge (BG-27 / BG-28).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct LineCharge {
    pub charge: bool,
    pub amount: Option<Decimal>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    /// Base amount (BT-137) and percentage (BT-138).
    pub base: Option<Decimal>,
    pub percent: Option<Decimal>,
}

/// A document-level allowance or charge (BG-20 / BG-21).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct AllowanceCharge {
    pub charge: bool,
    pub amount: Option<Decimal>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    /// VAT category code (BT-95 / BT-102) as given, whatever its tax scheme.
    pub category: Option<String>,
    /// Whether the category is of the VAT tax scheme (most rules look only at those).
    pub category_vat: bool,
    pub rate: Option<Decimal>,
    /// Base amount (BT-93 / BT-100) and percentage (BT-94 / BT-101).
    pub base: Option<Decimal>,
    pub percent: Option<Decimal>,
}

/// One row of the VAT breakdown (BG-23).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct VatRow {
    /// BT-118 as given, whatever its tax scheme (empty when absent).
    pub category: String,
    /// Whether the category is of the VAT tax scheme.
    pub category_vat: bool,
    pub rate: Option<Decimal>,
    pub base: Option<Decimal>,
    pub amount: Option<Decimal>,
    pub exemption_code: Option<String>,
    pub exemption_reason: Option<String>,
}

/// An invoice line (BG-25).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Line {
    pub id: String,
    pub quantity: Option<Decimal>,
    pub unit: Option<String>,
    pub net_amount: Option<Decimal>,
    pub price: Option<Decimal>,
    pub base_quantity: Option<Decimal>,
    pub item_name: Option<String>,
    pub item_id: Option<String>,
    /// Invoiced item VAT category code (BT-151) as given, whatever its tax scheme.
    pub category: Option<String>,
    /// Whether the category is of the VAT tax scheme.
    pub category_vat: bool,
    pub rate: Option<Decimal>,
    /// Line allowances and charges.
    pub allowances: Vec<LineCharge>,
    /// Line period (BG-26).
    pub period: Option<Period>,
    /// Item gross price (BT-148).
    pub gross_price: Option<Decimal>,
    /// Item attributes (BG-32): name, value.
    pub attributes: Vec<(Option<String>, Option<String>)>,
    /// Item standard identifiers (BT-157) with their scheme.
    pub standard_ids: Vec<(String, Option<String>)>,
    /// Item classification identifiers (BT-158) with their scheme (list id).
    pub classifications: Vec<(String, Option<String>)>,
    /// Item country of origin (BT-159).
    pub origin_country: Option<String>,
    /// The price discount (BT-147).
    pub price_discount: Option<Decimal>,
    /// Referenced purchase order line (BT-132).
    pub order_line: Option<String>,
}

/// A supporting document (BG-24), or a reference written as one (BT-17, BT-18).
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct Reference {
    /// BT-122 (or BT-17 / BT-18), its scheme, the document type code (`130` for BT-18, `50`
    /// for BT-17 in UBL) and the description (BT-123).
    pub id: Option<String>,
    pub type_code: Option<String>,
    pub description: Option<String>,
    /// The external location (BT-124), the attached document's file name (BT-125) and MIME code.
    pub uri: Option<String>,
    pub filename: Option<String>,
    pub mime: Option<String>,
}

/// Document totals (BG-22).
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct Totals {
    pub line_total: Option<Decimal>,
    pub allowance_total: Option<Decimal>,
    pub charge_total: Option<Decimal>,
    pub tax_exclusive: Option<Decimal>,
    pub vat_total: Option<Decimal>,
    pub vat_total_accounting: Option<Decimal>,
    pub tax_inclusive: Option<Decimal>,
    pub prepaid: Option<Decimal>,
    pub rounding: Option<Decimal>,
    pub payable: Option<Decimal>,
    /// UBL: the VAT total of the tax total that holds the breakdown, whatever its currency
    /// (BR-CO-14 compares it with the breakdown); CII: none (the VAT total is compared).
    pub breakdown_vat: Option<Decimal>,
    /// How many VAT totals the document gives in its invoice currency (BR-CO-15 wants one).
    pub vat_totals_in_currency: usize,
    /// Whether the document totals group is given at all (UBL LegalMonetaryTotal, CII
    /// SpecifiedTradeSettlementHeaderMonetarySummation): the rules on the totals look at it.
    pub given: bool,
}

/// The EN 16931 semantic content of a document, as much as invoiceflow writes and checks.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Doc {
    /// The syntax it was read from or is built for (a few rules differ by binding).
    pub syntax: Syntax,
    pub kind: Kind,
    /// BT-24.
    pub customization: Option<String>,
    /// BT-23.
    pub profile: Option<String>,
    pub number: Option<String>,
    pub issue_date: Option<String>,
    pub due_date: Option<String>,
    pub type_code: Option<String>,
    pub currency: Option<String>,
    /// UBL: the invoice currency code as written, when white space around it makes it differ
    /// from [`Doc::currency`]: PEPPOL-EN16931-R051 compares amounts' `currencyID` with the code
    /// as written (BR-CO-15 does too; the readers count its VAT totals that way,
    /// [`Totals::vat_totals_in_currency`]).
    pub currency_written: Option<String>,
    pub tax_currency: Option<String>,
    pub buyer_reference: Option<String>,
    pub order_reference: Option<String>,
    pub preceding_invoice: Option<String>,
    pub delivery_date: Option<String>,
    pub delivery_country: Option<String>,
    /// Whether a deliver-to address (BG-15) is given.
    pub delivery_address: bool,
    /// Deliver-to city (BT-77) and post code (BT-78).
    pub delivery_city: Option<String>,
    pub delivery_zip: Option<String>,
    /// Invoice notes (BT-22), each as written.
    pub notes: Vec<String>,
    /// Supporting documents (BG-24) of a read document, and the invoiced object (BT-18) and
    /// tender or lot (BT-17) references that UBL writes in the same element.
    pub references: Vec<Reference>,
    /// Bank assigned creditor identifier (BT-90).
    pub creditor_id: Option<String>,
    /// Invoicing period (BG-14).
    pub invoice_period: Option<Period>,
    /// VAT point date (BT-7) and its code (BT-8).
    pub tax_point_date: Option<String>,
    pub tax_point_code: Option<String>,
    /// Payment instructions (BG-16), in document order.
    pub payments: Vec<Payment>,
    pub payment_terms: Option<String>,
    pub seller: Party,
    pub buyer: Party,
    /// Payee (BG-10), when not the seller.
    pub payee: Option<Payee>,
    /// Seller tax representative (BG-11).
    pub tax_rep: Option<Party>,
    /// Preceding invoice references (BG-3) without their reference (BT-25).
    pub preceding_without_id: usize,
    /// The schemes of invoiced object identifiers (BT-18).
    pub object_id_schemes: Vec<String>,
    /// Elements of a read document without child elements and without text (`None` for a
    /// document built to be written: the writers write no empty element): PEPPOL-EN16931-R008.
    pub empty_elements: Option<usize>,
    /// The currencies a read document's amounts give (`currencyID`, each once), for BR-CL-03;
    /// `None` for a document built to be written, whose amounts the writer gives the
    /// document's currency (and its VAT total in accounting currency that currency).
    pub amount_currencies: Option<Vec<String>>,
    pub allowances: Vec<AllowanceCharge>,
    pub vat: Vec<VatRow>,
    pub totals: Totals,
    pub lines: Vec<Line>,
}

/// A text as a reader of the written XML gets it back: control characters (which XML cannot
/// carry) as spaces, as the writers put them; line ends as XML normalises them; trimmed.
fn tidy_text(t: &mut String) {
    let needs = t.bytes().any(|b| b < 0x20) || t.starts_with(char::is_whitespace) || t.ends_with(char::is_whitespace);
    if !needs {
        return;
    }
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 => out.push(' '),
            c => out.push(c),
        }
    }
    *t = out.trim().to_string();
}

fn tidy_opt(t: &mut Option<String>) {
    if let Some(v) = t {
        tidy_text(v);
        if v.is_empty() {
            *t = None;
        }
    }
}

impl Doc {
    /// The document as the writers of `syntax` write it: what they leave out (payee, tax
    /// representative, periods, item attributes and identifiers with their schemes, reason
    /// codes, cards, attachments …) dropped, every category of the VAT scheme, the postal
    /// addresses present, as reading the written bytes gives it back (with [`Doc::tidy`]).
    pub fn as_written(&self, syntax: Syntax) -> Doc {
        let mut d = self.clone();
        d.syntax = syntax;
        d.amount_currencies = None;
        d.currency_written = None;
        d.empty_elements = None;
        d.payee = None;
        d.tax_rep = None;
        d.invoice_period = None;
        d.tax_point_date = None;
        d.tax_point_code = None;
        d.preceding_without_id = 0;
        d.object_id_schemes.clear();
        d.notes.clear();
        d.references.clear();
        d.creditor_id = None;
        d.delivery_city = None;
        d.delivery_zip = None;
        d.delivery_address = d.delivery_country.is_some();
        // Amounts both writers always write (zero when the model has none).
        let t = &mut d.totals;
        for v in [&mut t.line_total, &mut t.tax_exclusive, &mut t.vat_total, &mut t.tax_inclusive, &mut t.payable] {
            *v = Some(v.unwrap_or_default());
        }
        t.given = true;
        // The writers write the VAT total, and the one in accounting currency when it differs;
        // of the same currency, that makes two.
        t.vat_totals_in_currency = 1 + usize::from(
            d.tax_currency.is_some() && d.tax_currency == d.currency && t.vat_total_accounting.is_some(),
        );
        // UBL writes the VAT total into the tax total that holds the breakdown.
        t.breakdown_vat = t.vat_total.filter(|_| syntax == Syntax::Ubl && !d.vat.is_empty());
        for v in &mut d.vat {
            v.base = Some(v.base.unwrap_or_default());
            v.amount = Some(v.amount.unwrap_or_default());
        }
        for a in &mut d.allowances {
            a.amount = Some(a.amount.unwrap_or_default());
        }
        for p in [&mut d.seller, &mut d.buyer] {
            p.trading_name = None;
            p.id_schemes.clear();
            p.legal_id_scheme = None;
            p.scheme_ids.clear();
            p.set_written_tax_schemes(syntax);
            // The writers leave out an empty element: an address of absent parts is none.
            p.postal_address = p.has_address_parts();
        }
        // A payment instruction of absent parts is left out too.
        let credit_note_due = d.kind == Kind::CreditNote && d.due_date.is_some() && syntax == Syntax::Ubl;
        d.payments.retain(|p| p.code.is_some() || p.account.is_some() || credit_note_due);
        for p in &mut d.payments {
            p.card = None;
            p.card_given = false;
            p.payment_id = None;
            p.mandate = None;
            p.account_given = p.account.is_some();
            p.account_id_given = p.account.is_some();
            if p.account.is_none() {
                p.bic = None;
            }
        }
        for a in &mut d.allowances {
            a.reason_code = None;
            a.base = None;
            a.percent = None;
            a.category_vat = a.category.is_some();
        }
        for v in &mut d.vat {
            v.category_vat = true;
        }
        for l in &mut d.lines {
            l.category_vat = l.category.is_some();
            l.period = None;
            l.gross_price = None;
            l.attributes.clear();
            l.standard_ids.clear();
            l.classifications.clear();
            l.origin_country = None;
            l.price_discount = None;
            l.order_line = None;
            l.quantity = Some(l.quantity.unwrap_or_default());
            l.net_amount = Some(l.net_amount.unwrap_or_default());
            for c in &mut l.allowances {
                c.reason_code = None;
                c.base = None;
                c.percent = None;
                c.amount = Some(c.amount.unwrap_or_default());
            }
        }
        d
    }

    /// Puts every text in the form a reader of the written document gets back (see
    /// `tidy_text`; an empty optional text becomes absent), so that checking the model
    /// ([`check_built`]) reports what checking the written bytes would. [`build`] does this.
    pub fn tidy(&mut self) {
        for t in [
            &mut self.customization,
            &mut self.profile,
            &mut self.number,
            &mut self.issue_date,
            &mut self.due_date,
            &mut self.type_code,
            &mut self.currency,
            &mut self.tax_currency,
            &mut self.buyer_reference,
            &mut self.order_reference,
            &mut self.preceding_invoice,
            &mut self.delivery_date,
            &mut self.delivery_country,
            &mut self.payment_terms,
        ] {
            tidy_opt(t);
        }
        for p in &mut self.payments {
            for t in [&mut p.code, &mut p.account, &mut p.bic] {
                tidy_opt(t);
            }
        }
        for p in [&mut self.seller, &mut self.buyer] {
            for t in [
                &mut p.id,
                &mut p.name,
                &mut p.vat_id,
                &mut p.tax_registration_id,
                &mut p.legal_id,
                &mut p.street,
                &mut p.city,
                &mut p.zip,
                &mut p.country,
            ] {
                tidy_opt(t);
            }
            if let Some((id, scheme)) = &mut p.endpoint {
                tidy_text(id);
                // An attribute: XML turns its tabs and line ends into spaces, and does not trim.
                if scheme.bytes().any(|b| b < 0x20) {
                    *scheme = scheme.chars().map(|c| if (c as u32) < 0x20 { ' ' } else { c }).collect();
                }
            }
            if let Some((name, phone, mail)) = &mut p.contact {
                for t in [name, phone, mail] {
                    tidy_opt(t);
                }
            }
        }
        for a in &mut self.allowances {
            tidy_opt(&mut a.reason);
            tidy_opt(&mut a.category);
        }
        for v in &mut self.vat {
            tidy_text(&mut v.category);
            tidy_opt(&mut v.exemption_code);
            tidy_opt(&mut v.exemption_reason);
        }
        for l in &mut self.lines {
            tidy_text(&mut l.id);
            for t in [&mut l.unit, &mut l.item_name, &mut l.item_id, &mut l.category] {
                tidy_opt(t);
            }
        }
    }
}

/// PEPPOL BIS Billing 3.0 customization id (BT-24).
pub const PEPPOL_CUSTOMIZATION: &str = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0";
/// PEPPOL business process (BT-23).
pub const PEPPOL_PROFILE: &str = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0";
/// UNTDID 1001 code of a pro forma invoice (BT-3).
pub const PRO_FORMA: &str = "325";
/// EN 16931 core specification id, used for CII.
pub const EN16931: &str = "urn:cen.eu:en16931:2017";

/// UN/ECE Recommendation 20/21 unit code for the units invoices commonly carry.
pub fn unit_code(unit: Option<&str>) -> String {
    let u = unit.unwrap_or("").trim();
    match u.to_ascii_lowercase().as_str() {
        "" | "ea" | "each" | "pcs" | "pc" | "stk" | "st" | "unit" => "C62".into(),
        "h" | "hr" | "hour" | "hours" | "std" => "HUR".into(),
        "box" | "bx" | "krt" => "XBX".into(),
        "kg" => "KGM".into(),
        "m" => "MTR".into(),
        "l" => "LTR".into(),
        "day" | "d" => "DAY".into(),
        _ if (2..=3).contains(&u.len()) && u.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) => u.into(),
        _ => "C62".into(),
    }
}

/// A file name for a document number: letters, digits, `-`, `_` and `.` kept, anything else
/// `_`, never starting with a dot, so no data can point a file outside the output folder.
pub fn safe_file_name(number: &str, ext: &str) -> String {
    format!("{}.{ext}", clean(number))
}

fn clean(text: &str) -> String {
    let mut s: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    while s.starts_with('.') {
        s.replace_range(..1, "_");
    }
    if s.is_empty() {
        s.push('_');
    }
    s
}

/// Where a document goes below the output folder: `<legal entity>/<number>.xml`, unique by
/// construction. A number that had to be cleaned (`R/2024 01`) gets a suffix from a hash of
/// its exact text (`R_2024_01~1b7f3c0a9d2e4f51.xml`), so it cannot meet a number that is
/// already clean (`R_2024_01.xml`) or another that cleans alike; `~` is never part of a clean
/// name.
pub fn document_path(legal_entity: &str, number: &str) -> std::path::PathBuf {
    let cleaned = clean(number);
    let name =
        if cleaned == number { format!("{cleaned}.xml") } else { format!("{cleaned}~{:016x}.xml", name_hash(number)) };
    let le = clean(legal_entity);
    let le = if le == legal_entity { le } else { format!("{le}~{:016x}", name_hash(legal_entity)) };
    std::path::Path::new(&le).join(name)
}

/// FNV-1a, 64 bits: stable across releases and platforms (file names must not change).
fn name_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(safe_file_name("INV-0001", "xml"), "INV-0001.xml");
        assert_eq!(safe_file_name("../../etc/passwd", "xml"), "_._.._etc_passwd.xml");
        assert_eq!(safe_file_name("R 2019/451", "xml"), "R_2019_451.xml");
        assert_eq!(safe_file_name("", "xml"), "_.xml");
    }

    #[test]
    fn document_paths_are_unique_by_construction() {
        use std::path::Path;
        assert_eq!(document_path("DEMF", "1001"), Path::new("DEMF/1001.xml"));
        assert_eq!(document_path("USMF", "1001"), Path::new("USMF/1001.xml"));
        let clean = document_path("DEMF", "R_2024_01");
        let dirty = document_path("DEMF", "R/2024 01");
        let other = document_path("DEMF", "R 2024/01");
        assert_eq!(clean, Path::new("DEMF/R_2024_01.xml"));
        assert!(dirty.to_string_lossy().starts_with("DEMF/R_2024_01~"), "{}", dirty.display());
        assert_eq!(dirty.to_string_lossy().len(), "DEMF/R_2024_01~".len() + 16 + ".xml".len());
        assert_ne!(dirty, clean);
        assert_ne!(dirty, other);
        assert_eq!(dirty, document_path("DEMF", "R/2024 01"), "the same number, the same name");
        assert!(document_path("../x", "../../etc/passwd").to_string_lossy().starts_with("_._x~"));
    }

    #[test]
    fn units() {
        assert_eq!(unit_code(Some("ea")), "C62");
        assert_eq!(unit_code(Some("Std")), "HUR");
        assert_eq!(unit_code(Some("KGM")), "KGM");
        assert_eq!(unit_code(None), "C62");
    }
}
