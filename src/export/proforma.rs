//! Pro forma invoices: what posting computed, written for the customer to see before anything
//! is posted — a JSON report with every invoice, its VAT breakdown and lines, CSV files of the
//! invoices and lines, and, when asked, the e-invoices (UBL or CII) with the pro forma type code
//! 325 (UNTDID 1001; credit notes have no pro forma code and keep 381). The store is not
//! touched. Each file is written to a temp name, synced and renamed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::einvoice::{self, Syntax};
use crate::post::Posted;

/// Where pro forma invoices go.
#[derive(Debug, Clone)]
pub struct ProFormaOut {
    /// Output folder.
    pub dir: PathBuf,
    /// Also write e-invoices in this syntax (below `dir/ubl` or `dir/cii`).
    pub syntax: Option<Syntax>,
}

/// What was written.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ProFormaReport {
    /// Documents in the report.
    pub documents: u64,
    /// Files written.
    pub files: Vec<String>,
    /// E-invoices written.
    pub einvoices: u64,
    /// E-invoices the built-in check refused (not written): (number, rules).
    pub refused: Vec<(String, Vec<String>)>,
}

#[derive(Serialize)]
struct VatRow {
    category: String,
    rate: String,
    base: String,
    amount: String,
}

#[derive(Serialize)]
struct LineRow {
    line_number: String,
    item_id: Option<String>,
    description: Option<String>,
    quantity: String,
    unit_price: String,
    price_unit: String,
    net_amount: String,
    tax_code: String,
    tax_rate: String,
    tax_amount: String,
}

#[derive(Serialize)]
struct DocRow {
    legal_entity: String,
    /// The number the source gives; posting draws one when it gives none.
    number: Option<String>,
    /// The number used in this report and its e-invoice file.
    provisional_number: String,
    kind: &'static str,
    customer: String,
    currency: String,
    invoice_date: String,
    due_date: String,
    line_total: String,
    allowance_total: String,
    charge_total: String,
    tax_exclusive: String,
    vat_total: String,
    tax_inclusive: String,
    payable: String,
    vat: Vec<VatRow>,
    lines: Vec<LineRow>,
}

/// The number a pro forma document shows: the source's, else `PROFORMA-` and its position.
fn provisional(p: &Posted, position: usize) -> String {
    match &p.invoice.header.number {
        Some(n) => n.to_string(),
        None => match p.invoice.header.record_id {
            Some(id) => format!("PROFORMA-{id}"),
            None => format!("PROFORMA-{}", position + 1),
        },
    }
}

fn doc_row(p: &Posted, position: usize) -> DocRow {
    let h = &p.invoice.header;
    let t = &p.totals;
    DocRow {
        legal_entity: h.legal_entity.to_string(),
        number: h.number.as_deref().map(str::to_string),
        provisional_number: provisional(p, position),
        kind: if p.credit_note { "credit_note" } else { "invoice" },
        customer: h.customer.to_string(),
        currency: h.currency.code().to_string(),
        invoice_date: h.date.to_string(),
        due_date: p.due_date.to_string(),
        line_total: t.line_total.to_string(),
        allowance_total: t.allowance_total.to_string(),
        charge_total: t.charge_total.to_string(),
        tax_exclusive: t.tax_exclusive.to_string(),
        vat_total: t.vat_total.to_string(),
        tax_inclusive: t.tax_inclusive.to_string(),
        payable: t.payable.to_string(),
        vat: t
            .groups
            .iter()
            .map(|g| VatRow {
                category: g.category.to_string(),
                rate: g.rate.normalize().to_string(),
                base: g.base.to_string(),
                amount: g.amount.to_string(),
            })
            .collect(),
        lines: p
            .invoice
            .lines
            .iter()
            .zip(&p.invoice.taxes)
            .enumerate()
            .map(|(i, (l, tax))| LineRow {
                line_number: l.line_number.normalize().to_string(),
                item_id: l.item_id().map(str::to_string),
                description: l.description().or(l.item_name()).map(str::to_string),
                quantity: l.quantity.to_string(),
                unit_price: l.unit_price.to_string(),
                price_unit: l.price_unit.to_string(),
                net_amount: t.line_nets[i].to_string(),
                tax_code: tax.code.to_string(),
                tax_rate: tax.rate.normalize().to_string(),
                tax_amount: t.line_taxes[i].to_string(),
            })
            .collect(),
    }
}

/// Writes `bytes` to `path` durably: temp file, sync, rename.
fn publish(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| e.to_string())?;
    for r in rows {
        w.write_record(&r).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// Writes the pro forma report (and e-invoices) of `posted`, in input order.
pub fn write(out: &ProFormaOut, posted: &[Posted]) -> Result<ProFormaReport, String> {
    std::fs::create_dir_all(&out.dir).map_err(|e| format!("{}: {e}", out.dir.display()))?;
    let rows: Vec<DocRow> = posted.iter().enumerate().map(|(i, p)| doc_row(p, i)).collect();
    let mut report = ProFormaReport { documents: rows.len() as u64, ..Default::default() };
    let json = serde_json::to_vec_pretty(&rows).map_err(|e| e.to_string())?;
    let path = out.dir.join("pro-forma.json");
    publish(&path, &json)?;
    report.files.push(path.display().to_string());
    let header = [
        "legal_entity",
        "number",
        "kind",
        "customer",
        "currency",
        "invoice_date",
        "due_date",
        "line_total",
        "allowance_total",
        "charge_total",
        "tax_exclusive",
        "vat_total",
        "tax_inclusive",
        "payable",
    ];
    let invoices = csv_bytes(
        &header,
        rows.iter().map(|r| {
            vec![
                r.legal_entity.clone(),
                r.provisional_number.clone(),
                r.kind.to_string(),
                r.customer.clone(),
                r.currency.clone(),
                r.invoice_date.clone(),
                r.due_date.clone(),
                r.line_total.clone(),
                r.allowance_total.clone(),
                r.charge_total.clone(),
                r.tax_exclusive.clone(),
                r.vat_total.clone(),
                r.tax_inclusive.clone(),
                r.payable.clone(),
            ]
        }),
    )?;
    let path = out.dir.join("pro-forma-invoices.csv");
    publish(&path, &invoices)?;
    report.files.push(path.display().to_string());
    let lines = csv_bytes(
        &[
            "legal_entity",
            "number",
            "line_number",
            "item_id",
            "description",
            "quantity",
            "unit_price",
            "price_unit",
            "net_amount",
            "tax_code",
            "tax_rate",
            "tax_amount",
        ],
        rows.iter().flat_map(|r| {
            r.lines.iter().map(move |l| {
                vec![
                    r.legal_entity.clone(),
                    r.provisional_number.clone(),
                    l.line_number.clone(),
                    l.item_id.clone().unwrap_or_default(),
                    l.description.clone().unwrap_or_default(),
                    l.quantity.clone(),
                    l.unit_price.clone(),
                    l.price_unit.clone(),
                    l.net_amount.clone(),
                    l.tax_code.clone(),
                    l.tax_rate.clone(),
                    l.tax_amount.clone(),
                ]
            })
        }),
    )?;
    let path = out.dir.join("pro-forma-lines.csv");
    publish(&path, &lines)?;
    report.files.push(path.display().to_string());
    if let Some(syntax) = out.syntax {
        let base = out.dir.join(match syntax {
            Syntax::Ubl => "ubl",
            Syntax::Cii => "cii",
        });
        for (i, p) in posted.iter().enumerate() {
            let number = provisional(p, i);
            let mut doc = einvoice::build(&einvoice::stored_of(p, &number), syntax).map_err(|e| e.to_string())?;
            if !p.credit_note {
                doc.type_code = Some(einvoice::PRO_FORMA.into());
            }
            // A pro forma invoice is shown, not sent over PEPPOL (whose profile has no pro
            // forma type code): it declares plain EN 16931.
            doc.customization = Some(einvoice::EN16931.into());
            doc.profile = None;
            let xml = match syntax {
                Syntax::Ubl => einvoice::ubl::write(&doc),
                Syntax::Cii => einvoice::cii::write(&doc),
            };
            let checked = einvoice::check_built(&number, &doc, xml.as_bytes());
            if !checked.ok {
                report.refused.push((number, checked.findings.into_iter().map(|(rule, _)| rule).collect()));
                continue;
            }
            let path = base.join(einvoice::document_path(&p.invoice.header.legal_entity, &number));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            publish(&path, xml.as_bytes())?;
            report.einvoices += 1;
        }
    }
    Ok(report)
}
