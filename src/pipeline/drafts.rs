//! Posting drafts: invoices stored with `--no-post` are read back from the store, posted with
//! the current master data and committed like any import (numbers and versions in order).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::entity::{Catalog, DocumentKind};
use crate::model::totals::{LineTax, RoundingPolicy};
use crate::model::{Currency, Date, Extras, HeaderRef, HeaderTotals, Invoice, InvoiceHeader, InvoiceLine, Slot};
use crate::read::Origin;
use crate::store::StoredDoc;

fn get(m: &HashMap<String, String>, k: &str) -> Option<Box<str>> {
    m.get(k).filter(|v| !v.is_empty()).map(|v| v.as_str().into())
}

fn dec(m: &HashMap<String, String>, k: &str) -> Decimal {
    m.get(k).and_then(|v| Decimal::from_str(v).ok()).unwrap_or_default()
}

fn extras(entity: &str, json: Option<&String>) -> Extras {
    let mut out = Extras::default();
    let Some(e) = Catalog::builtin().get(entity) else { return out };
    let map: serde_json::Map<String, serde_json::Value> =
        json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
    let mut fields: Vec<(u16, &str)> =
        map.iter().filter_map(|(k, v)| Some((e.field_index(k)? as u16, v.as_str()?))).collect();
    fields.sort();
    for (i, v) in fields {
        out.push(i, v);
    }
    out
}

/// A stored draft as an invoice ready to post, and the content hash it was imported with (kept,
/// so that re-importing the original file later is recognised as unchanged).
pub fn invoice_of(d: &StoredDoc) -> Option<(Invoice, String)> {
    let i = &d.invoice;
    let currency = Currency::from_code(i.get("currency")?)?;
    let document = if i.get("document").map(String::as_str) == Some("free_text") {
        DocumentKind::FreeText
    } else {
        DocumentKind::Sales
    };
    let record_id = i.get("record_id").and_then(|r| r.parse().ok());
    let number: Option<Arc<str>> = get(i, "number").map(Into::into);
    let header_ref = match (document, record_id, &number) {
        (DocumentKind::FreeText, Some(id), _) => HeaderRef::RecordId(id),
        (_, _, Some(n)) => HeaderRef::Number(Arc::clone(n)),
        _ => HeaderRef::Number("".into()),
    };
    let legal_entity = get(i, "legal_entity")?;
    let origin = Origin { file: 0, line: 0, record: 0 };
    // Entity names are names of the catalog, bounded as the catalog is.
    let header_entity = crate::model::name(i.get("header_entity").map(String::as_str).unwrap_or(""));
    let line_entity = crate::model::name(i.get("line_entity").map(String::as_str).unwrap_or(""));
    let header = InvoiceHeader {
        origin,
        entity: header_entity,
        document,
        legal_entity: legal_entity.clone().into(),
        number,
        record_id,
        date: Date::parse_iso(i.get("invoice_date")?)?,
        customer: get(i, "customer")?.into(),
        currency,
        payment_terms: get(i, "payment_terms").map(Into::into),
        due_date: i.get("due_date").and_then(|d| Date::parse_iso(d)),
        order_reference: get(i, "order_reference"),
        buyer_reference: get(i, "buyer_reference"),
        sales_order: get(i, "sales_order"),
        original_invoice: get(i, "original_invoice"),
        voucher: get(i, "voucher"),
        exchange_rate: None,
        totals: HeaderTotals {
            amount: None,
            tax: None,
            charge: Some(dec(i, "charge_total")),
            discount: Some(dec(i, "allowance_total")),
            net: None,
        },
        tax_group: None,
        item_tax_group: None,
        extras: extras(header_entity, i.get("extras")),
        // The document type was held against the sign when the draft was imported.
        typed_as: None,
    };
    let mut lines = Vec::with_capacity(d.lines.len());
    let mut taxes = Vec::with_capacity(d.lines.len());
    for l in &d.lines {
        lines.push(InvoiceLine {
            origin,
            entity: line_entity,
            legal_entity: legal_entity.clone().into(),
            header: header_ref.clone(),
            invoice_date: None,
            line_number: dec(l, "line_number"),
            quantity: dec(l, "quantity"),
            unit_price: dec(l, "unit_price"),
            price_unit: dec(l, "price_unit"),
            discount_per_unit: dec(l, "discount_per_unit"),
            discount_percent: dec(l, "discount_percent"),
            discount_amount: dec(l, "discount_amount"),
            charge_amount: dec(l, "charge_amount"),
            line_amount: None,
            line_tax: None,
            tax_rate: None,
            tax_code: get(l, "tax_code").map(Into::into),
            tax_group: get(l, "tax_group").map(Into::into),
            item_tax_group: get(l, "item_tax_group").map(Into::into),
            unit: get(l, "unit").map(Into::into),
            main_account: get(l, "main_account").map(Into::into),
            currency: None,
            extras: {
                let mut e = extras(line_entity, l.get("extras"));
                for slot in Slot::ALL {
                    if let Some(v) = get(l, slot.name()) {
                        e.set_slot(slot, Some(&v));
                    }
                }
                e
            },
        });
        taxes.push(LineTax {
            // Codes and categories of the master data's tax codes, which bound them.
            code: crate::model::name(&get(l, "tax_code")?),
            category: crate::model::name(&get(l, "tax_category")?),
            rate: dec(l, "tax_rate"),
        });
    }
    let rounding = if i.get("rounding").map(String::as_str) == Some("line") {
        RoundingPolicy::Line
    } else {
        RoundingPolicy::Document
    };
    Some((
        Invoice { header, lines, taxes, rounding, copies: Vec::new(), computed: None },
        i.get("content_hash").cloned().unwrap_or_default(),
    ))
}

/// Posts every draft of the store with the master data of `master_dir`; rejects (of the master
/// data and of posting) go to `rejects_dir` when given.
pub fn post_drafts(
    req: &super::PostRequest,
    master_dir: &std::path::Path,
    rejects_dir: Option<&std::path::Path>,
    catalog: &Catalog,
    mappings: &[std::sync::Arc<crate::map::Mapping>],
) -> Result<super::ImportOutcome, super::JobError> {
    let master_req = super::ImportRequest {
        files: Vec::new(),
        master_dir: master_dir.to_path_buf(),
        legal_entity: String::new(),
        rejects_dir: rejects_dir.map(std::path::Path::to_path_buf),
        rejects_like_source: false,
        batch_size: crate::job::DEFAULT_BATCH_SIZE,
        run_date: super::today(),
        progress: false,
        post: Some(req.clone()),
        master_mappings: mappings.to_vec(),
    };
    let mut docs = Vec::new();
    {
        let store = crate::store::Store::open_reader(&req.store, req.lock_timeout)?;
        store.drafts(crate::entity::field_name, |d| docs.push(d))?;
    }
    let mut invoices = Vec::with_capacity(docs.len());
    for d in &docs {
        let found = invoice_of(d).ok_or_else(|| {
            super::JobError::Input(format!(
                "{}: draft {} cannot be read back; the store is damaged",
                req.store.display(),
                d.invoice.get("source_key").map(String::as_str).unwrap_or("?")
            ))
        })?;
        invoices.push(found);
    }
    drop(docs);
    // Drafts are rows of a file of their own in messages and the rejects index.
    super::post_invoices(&master_req, catalog, format!("{} (drafts)", req.store.display()), invoices)
}
