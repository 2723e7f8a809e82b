//! XML e-invoices: PEPPOL BIS Billing 3.0 UBL 2.1 (Invoice, CreditNote) and UN/CEFACT CII D16B
//! (EN 16931 profile), written from what posting stored, read from partner files, and checked
//! against the EN 16931 rules before anything is written. Exports print, they never compute
//! money: every amount here is a posted amount (sign-flipped for credit notes).

mod build;
pub mod cii;
pub mod read;
pub mod rules;
pub mod ubl;

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
    /// Whether no rule broke.
    pub ok: bool,
    /// Findings: (rule, message).
    pub findings: Vec<(String, String)>,
}

/// Reads and checks one e-invoice file's bytes.
pub fn check_bytes(file: &str, bytes: &[u8]) -> FileCheck {
    match read::read(bytes) {
        Err(e) => FileCheck { file: file.to_string(), ok: false, findings: vec![("XML".into(), e.to_string())] },
        Ok((doc, issues)) => {
            let mut findings: Vec<(String, String)> =
                issues.into_iter().map(|(p, m)| ("SYNTAX".to_string(), format!("{p}: {m}"))).collect();
            findings.extend(rules::check(&doc).into_iter().map(|f| (f.rule, f.message)));
            FileCheck { file: file.to_string(), ok: findings.is_empty(), findings }
        }
    }
}

pub use build::build;

/// What `einvoice` writes.
#[derive(Debug, Clone)]
pub struct EinvoiceRequest {
    /// Syntax.
    pub syntax: Syntax,
    /// Output folder.
    pub out: std::path::PathBuf,
    /// Change-tracking job.
    pub job: Option<String>,
}

/// A document not written because it broke a rule.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    /// Invoice number.
    pub number: String,
    /// (rule, message).
    pub findings: Vec<(String, String)>,
}

/// What `einvoice` did.
#[derive(Debug, Clone, Serialize)]
pub struct EinvoiceReport {
    /// Syntax.
    pub syntax: Syntax,
    /// Job.
    pub job: Option<String>,
    /// Documents written.
    pub documents: u64,
    /// Credit notes among them.
    pub credit_notes: u64,
    /// Documents refused by the checks (not written).
    pub refused: Vec<Refused>,
    /// Output folder.
    pub dir: String,
    /// Versions covered.
    pub from_version: i64,
    /// See `from_version`.
    pub to_version: i64,
}

/// Writes the e-invoices of posted invoices (all, or those since the job's watermark): each
/// document is written to text, read back and checked; one that breaks a rule is reported and
/// not written. Files are named after the invoice number, so a re-run rewrites the same files.
pub fn run(
    store: &mut crate::store::Store,
    req: &EinvoiceRequest,
) -> Result<EinvoiceReport, crate::export::ExportError> {
    let werr = |p: &std::path::Path, m: String| crate::export::ExportError::Write { path: p.to_path_buf(), message: m };
    std::fs::create_dir_all(&req.out).map_err(|e| werr(&req.out, e.to_string()))?;
    let watermark_name = match req.syntax {
        Syntax::Ubl => "einvoice-ubl",
        Syntax::Cii => "einvoice-cii",
    };
    let range = match &req.job {
        Some(job) => store.begin_export(job, watermark_name)?,
        None => crate::store::ExportRange { from: 0, to: store.change_version()?, resumed: false },
    };
    let mut report = EinvoiceReport {
        syntax: req.syntax,
        job: req.job.clone(),
        documents: 0,
        credit_notes: 0,
        refused: Vec::new(),
        dir: req.out.display().to_string(),
        from_version: range.from,
        to_version: range.to,
    };
    if range.to <= range.from && req.job.is_some() {
        return Ok(report);
    }
    // Stream the documents in chunks: memory holds one chunk, whatever the store's size.
    let mut chunk: Vec<crate::store::StoredDoc> = Vec::with_capacity(CHUNK);
    let mut failure: Option<crate::export::ExportError> = None;
    store.documents(range, |d| {
        chunk.push(d);
        if chunk.len() == CHUNK && failure.is_none() {
            if let Err(e) = write_chunk(&chunk, req, &mut report) {
                failure = Some(e);
            }
            chunk.clear();
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    write_chunk(&chunk, req, &mut report)?;
    if let Some(job) = &req.job {
        store.finish_export(job, watermark_name, range.to)?;
    }
    Ok(report)
}

/// Documents per chunk.
const CHUNK: usize = 4096;

/// Builds, writes, checks and publishes one chunk of documents: the files of the chunk are
/// written to temp names, flushed to disk together, then renamed into place.
fn write_chunk(
    docs: &[crate::store::StoredDoc],
    req: &EinvoiceRequest,
    report: &mut EinvoiceReport,
) -> Result<(), crate::export::ExportError> {
    use rayon::prelude::*;
    let werr = |p: &std::path::Path, m: String| crate::export::ExportError::Write { path: p.to_path_buf(), message: m };
    let syntax = req.syntax;
    let results: Vec<(String, Kind, Result<String, Findings>)> = docs
        .par_iter()
        .map(|s| {
            let doc = build(s, syntax);
            let xml = match syntax {
                Syntax::Ubl => ubl::write(&doc),
                Syntax::Cii => cii::write(&doc),
            };
            let number = doc.number.clone().unwrap_or_default();
            let checked = check_bytes(&number, xml.as_bytes());
            (number, doc.kind, if checked.ok { Ok(xml) } else { Err(checked.findings) })
        })
        .collect();
    let written: Vec<Result<(std::path::PathBuf, std::path::PathBuf), crate::export::ExportError>> = results
        .par_iter()
        .filter_map(|(number, _, r)| r.as_ref().ok().map(|xml| (number, xml)))
        .map(|(number, xml)| {
            let name = safe_file_name(number, "xml");
            let tmp = req.out.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, xml).map_err(|e| werr(&tmp, e.to_string()))?;
            Ok((tmp, req.out.join(&name)))
        })
        .collect();
    let mut renames = Vec::with_capacity(written.len());
    for w in written {
        renames.push(w?);
    }
    sync_files(&req.out, renames.iter().map(|(tmp, _)| tmp.as_path())).map_err(|e| werr(&req.out, e.to_string()))?;
    for (tmp, path) in &renames {
        std::fs::rename(tmp, path).map_err(|e| werr(path, e.to_string()))?;
    }
    if let Ok(dir) = std::fs::File::open(&req.out) {
        dir.sync_all().map_err(|e| werr(&req.out, e.to_string()))?;
    }
    for (number, kind, r) in results {
        match r {
            Ok(_) => {
                report.documents += 1;
                if kind == Kind::CreditNote {
                    report.credit_notes += 1;
                }
            }
            Err(findings) => report.refused.push(Refused { number, findings }),
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
}

/// A document-level allowance or charge (BG-20 / BG-21).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct AllowanceCharge {
    pub charge: bool,
    pub amount: Decimal,
    pub reason: Option<String>,
    pub category: Option<String>,
    pub rate: Option<Decimal>,
}

/// One row of the VAT breakdown (BG-23).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct VatRow {
    pub category: String,
    pub rate: Option<Decimal>,
    pub base: Decimal,
    pub amount: Decimal,
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
    pub category: Option<String>,
    pub rate: Option<Decimal>,
    /// Line allowances and charges (charge, amount, reason).
    pub allowances: Vec<(bool, Decimal, &'static str)>,
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
}

/// The EN 16931 semantic content of a document, as much as invoiceflow writes and checks.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Doc {
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
    pub tax_currency: Option<String>,
    pub buyer_reference: Option<String>,
    pub order_reference: Option<String>,
    pub preceding_invoice: Option<String>,
    pub delivery_date: Option<String>,
    pub delivery_country: Option<String>,
    pub payment_means: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub payment_terms: Option<String>,
    pub seller: Party,
    pub buyer: Party,
    pub allowances: Vec<AllowanceCharge>,
    pub vat: Vec<VatRow>,
    pub totals: Totals,
    pub lines: Vec<Line>,
}

/// PEPPOL BIS Billing 3.0 customization id (BT-24).
pub const PEPPOL_CUSTOMIZATION: &str = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0";
/// PEPPOL business process (BT-23).
pub const PEPPOL_PROFILE: &str = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0";
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
    let mut s: String = number
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    while s.starts_with('.') {
        s.replace_range(..1, "_");
    }
    if s.is_empty() {
        s.push('_');
    }
    format!("{s}.{ext}")
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
    fn units() {
        assert_eq!(unit_code(Some("ea")), "C62");
        assert_eq!(unit_code(Some("Std")), "HUR");
        assert_eq!(unit_code(Some("KGM")), "KGM");
        assert_eq!(unit_code(None), "C62");
    }
}
