//! The run summary: human text on stderr, one JSON object on stdout with `--json`.

use std::time::Instant;

use serde::Serialize;

use super::{FileReport, ImportOutcome, PostReport, RejectEntry, RuleCount};
use crate::model::Invoice;

/// The run summary printed as JSON with `--json` (DESIGN §9).
#[derive(Debug, Serialize)]
pub struct Summary {
    /// "ok", "partial" or "failed".
    pub status: &'static str,
    /// Whether nothing was committed on purpose.
    pub dry_run: bool,
    /// Entity files.
    pub imports: Vec<FileReport>,
    /// Master data files.
    pub master: Vec<FileReport>,
    /// The rejects index of the run.
    pub rejects_file: Option<String>,
    /// Rejects per rule.
    pub rejects_by_rule: Vec<RuleCount>,
    /// The first rejects (up to 20) with file, line, field, rule and message; the rejects
    /// files hold all of them.
    pub first_rejects: Vec<RejectEntry>,
    /// Accepted invoices and credit notes.
    pub validated: Validated,
    /// What posting did (absent when only validating).
    pub posting: Option<PostReport>,
    /// What the push mode did: drafts a full push removed, posted invoices its files no longer
    /// name, invoices an incremental push completed from the store (absent without an import).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<super::PushReport>,
    /// Exports written.
    pub exports: Vec<crate::export::ExportReport>,
    /// E-invoices written.
    pub einvoices: Vec<crate::einvoice::EinvoiceReport>,
    /// Wall time.
    pub duration_ms: u128,
    /// Error message when the run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts of accepted documents.
#[derive(Debug, Serialize, Default, Clone)]
pub struct Validated {
    /// Invoices.
    pub invoices: u64,
    /// Credit notes.
    pub credit_notes: u64,
    /// Lines.
    pub lines: u64,
}

impl Validated {
    /// Counts one more accepted invoice.
    pub fn add(&mut self, inv: &Invoice) {
        if inv.is_credit_note() {
            self.credit_notes += 1;
        } else {
            self.invoices += 1;
        }
        self.lines += inv.lines.len() as u64;
    }

    /// Counts of validated invoices.
    pub fn of<'a>(invoices: impl IntoIterator<Item = &'a Invoice>) -> Validated {
        let mut v = Validated::default();
        for inv in invoices {
            if inv.is_credit_note() {
                v.credit_notes += 1;
            } else {
                v.invoices += 1;
            }
            v.lines += inv.lines.len() as u64;
        }
        v
    }
}

impl Summary {
    /// The summary of an import outcome.
    pub fn from_import(o: &ImportOutcome, dry_run: bool, started: Instant) -> Summary {
        Summary {
            status: if o.has_rejects() { "partial" } else { "ok" },
            dry_run,
            imports: o.imports.clone(),
            master: o.master.clone(),
            rejects_file: o.rejects_file.as_ref().map(|p| p.display().to_string()),
            rejects_by_rule: o.by_rule.clone(),
            first_rejects: o.first_rejects.clone(),
            validated: o.validated.clone(),
            posting: o.posting.clone(),
            push: o.push.clone(),
            exports: Vec::new(),
            einvoices: Vec::new(),
            duration_ms: started.elapsed().as_millis(),
            error: None,
        }
    }

    /// A failed run's summary.
    pub fn failed(message: String, started: Instant) -> Summary {
        Summary { error: Some(message), ..Summary::empty("failed", started) }
    }

    /// A summary with a status and nothing else yet (commands that only export or write
    /// e-invoices fill in their part).
    pub fn empty(status: &'static str, started: Instant) -> Summary {
        Summary {
            status,
            dry_run: false,
            imports: Vec::new(),
            master: Vec::new(),
            rejects_file: None,
            rejects_by_rule: Vec::new(),
            first_rejects: Vec::new(),
            validated: Validated::default(),
            posting: None,
            push: None,
            exports: Vec::new(),
            einvoices: Vec::new(),
            duration_ms: started.elapsed().as_millis(),
            error: None,
        }
    }

    /// The human-readable summary for stderr.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let width = self.imports.iter().chain(&self.master).map(|r| r.file.len()).max().unwrap_or(4).min(60);
        let _ = writeln!(
            s,
            "{:<width$}  {:<38} {:>9} {:>9} {:>9} {:>9}",
            "file", "entity", "read", "accepted", "rejected", "unchanged"
        );
        for r in self.master.iter().chain(&self.imports) {
            let _ = writeln!(
                s,
                "{:<width$}  {:<38} {:>9} {:>9} {:>9} {:>9}",
                r.file, r.entity, r.read, r.accepted, r.rejected, r.unchanged
            );
            if !r.unknown_columns.is_empty() {
                let _ = writeln!(s, "    unknown columns (ignored): {}", r.unknown_columns.join(", "));
            }
        }
        let _ = writeln!(
            s,
            "validated: {} invoices, {} credit notes, {} lines{}",
            self.validated.invoices,
            self.validated.credit_notes,
            self.validated.lines,
            if self.dry_run { " (dry run: nothing committed)" } else { "" }
        );
        if let Some(p) = &self.posting {
            if p.pro_forma {
                let _ = writeln!(
                    s,
                    "pro forma: {} invoices, {} credit notes computed; nothing posted",
                    p.invoices, p.credit_notes
                );
                if let Some(r) = &p.pro_forma_report {
                    let _ = writeln!(
                        s,
                        "pro forma invoices: {} documents, {} e-invoices → {}",
                        r.documents,
                        r.einvoices,
                        r.files.first().map(String::as_str).unwrap_or("")
                    );
                    for (number, rules) in &r.refused {
                        let _ = writeln!(s, "    pro forma e-invoice {number} refused: {}", rules.join(", "));
                    }
                }
            } else if p.drafts > 0 {
                let _ = writeln!(s, "drafts stored: {} (unchanged {}) in {}", p.drafts, p.unchanged, p.store);
            } else {
                let _ = writeln!(
                    s,
                    "posted: {} invoices, {} credit notes, {} lines, {} vouchers, {} ledger entries; {} unchanged; store {} (change version {})",
                    p.invoices, p.credit_notes, p.lines, p.vouchers, p.ledger_entries, p.unchanged, p.store, p.change_version
                );
            }
            if p.originals_outside_store > 0 {
                let _ = writeln!(
                    s,
                    "credit notes whose original invoice is outside the store (allowed): {}",
                    p.originals_outside_store
                );
            }
        }
        if let Some(p) = &self.push {
            if p.completed > 0 {
                let _ = writeln!(
                    s,
                    "incremental push: {} invoices completed from the store ({} stored lines kept)",
                    p.completed, p.stored_lines
                );
            }
            if p.drafts_removed > 0 || p.posted_absent > 0 {
                let shown: Vec<String> =
                    p.absent.iter().take(10).map(|a| format!("{} {} ({})", a.legal_entity, a.key, a.status)).collect();
                let more = (p.drafts_removed + p.posted_absent).saturating_sub(shown.len() as u64);
                let mut what = Vec::new();
                if p.drafts_removed > 0 {
                    what.push(format!("{} drafts the files no longer hold removed", p.drafts_removed));
                }
                if p.posted_absent > 0 {
                    what.push(format!(
                        "{} posted invoices they no longer hold left as they are (a credit note cancels one)",
                        p.posted_absent
                    ));
                }
                let _ = writeln!(
                    s,
                    "full push: {}: {}{}",
                    what.join("; "),
                    shown.join(", "),
                    match (&p.absent_file, more) {
                        (Some(f), _) => format!(" (all in {f})"),
                        (None, 0) => String::new(),
                        (None, n) => format!(" … and {n} more (--rejects DIR lists them all)"),
                    }
                );
            }
            for why in &p.not_swept {
                let _ = writeln!(s, "full push: {why}");
            }
        }
        if !self.rejects_by_rule.is_empty() {
            let parts: Vec<String> = self.rejects_by_rule.iter().map(|c| format!("{} {}", c.rule, c.rows)).collect();
            let _ = writeln!(s, "rejects by rule: {}", parts.join(", "));
        }
        for e in &self.einvoices {
            let _ = writeln!(
                s,
                "e-invoices {}: {} documents ({} credit notes) → {}; {} refused{}",
                match e.syntax {
                    crate::einvoice::Syntax::Ubl => "UBL",
                    crate::einvoice::Syntax::Cii => "CII",
                },
                e.documents,
                e.credit_notes,
                e.dir,
                e.refused.len(),
                if e.pending_written > 0 {
                    format!("; {} refused earlier now written", e.pending_written)
                } else {
                    String::new()
                }
            );
            for r in e.refused.iter().take(20) {
                let rules: Vec<&str> = r.findings.iter().map(|(rule, _)| rule.as_str()).collect();
                let _ = writeln!(
                    s,
                    "    refused {} {}{}: {}",
                    r.legal_entity,
                    r.number,
                    if r.pending_before { " (pending from an earlier run)" } else { "" },
                    rules.join(", ")
                );
            }
            if e.refused.len() > 20 {
                let _ = writeln!(s, "    … and {} more (--json lists them all)", e.refused.len() - 20);
            }
        }
        for e in &self.exports {
            let files = if e.files.is_empty() { "-".to_string() } else { e.files.join(", ") };
            let _ = writeln!(s, "export {} ({:?}): {} → {files}", e.entity, e.format, e.note);
        }
        if let Some(f) = &self.rejects_file {
            let _ = writeln!(s, "rejects: {f}");
        }
        let _ = writeln!(s, "status: {} in {} ms", self.status, self.duration_ms);
        s
    }
}
