//! From what the store holds to the semantic document: posted amounts, sign-flipped for credit
//! notes (e-invoice credit notes carry positive amounts), parties as they were at posting.

use std::collections::HashMap;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::{
    unit_code, AllowanceCharge, Doc, Kind, Line, Party, Syntax, Totals, VatRow, EN16931, PEPPOL_CUSTOMIZATION,
    PEPPOL_PROFILE,
};

use crate::post::Parties;
use crate::store::StoredDoc;

fn get<'a>(m: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    m.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

fn dec(m: &HashMap<String, String>, k: &str) -> Decimal {
    get(m, k).and_then(|v| Decimal::from_str(v).ok()).unwrap_or_default()
}

fn party(p: &crate::post::Party) -> Party {
    Party {
        id: None,
        name: Some(p.name.clone()).filter(|n| !n.is_empty()),
        vat_id: p.vat_id.clone(),
        tax_registration_id: p.tax_registration_id.clone(),
        legal_id: p.legal_id.clone(),
        endpoint: match (&p.endpoint, &p.endpoint_scheme) {
            (Some(e), Some(s)) => Some((e.clone(), s.clone())),
            _ => None,
        },
        street: p.street.clone(),
        city: p.city.clone(),
        zip: p.zip.clone(),
        country: p.country.clone(),
        contact: if p.contact_name.is_some() || p.contact_phone.is_some() || p.contact_email.is_some() {
            Some((p.contact_name.clone(), p.contact_phone.clone(), p.contact_email.clone()))
        } else {
            None
        },
    }
}

/// The semantic document of a stored, posted invoice.
pub fn build(s: &StoredDoc, syntax: Syntax) -> Doc {
    let inv = &s.invoice;
    let credit = get(inv, "kind") == Some("credit_note");
    let sign = if credit { -Decimal::ONE } else { Decimal::ONE };
    let currency = get(inv, "currency").unwrap_or("").to_string();
    let acc = get(inv, "accounting_currency").map(str::to_string);
    let tax_currency = acc.filter(|a| *a != currency);
    let parties: Parties = get(inv, "parties").and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
    let opt = |v: Decimal| if v.is_zero() { None } else { Some(v * sign) };
    let mut vat = Vec::new();
    let mut allowances = Vec::new();
    for t in &s.taxes {
        let category = get(t, "category").unwrap_or("").to_string();
        let rate = if category == "O" { None } else { Some(dec(t, "rate")) };
        for (charge, key) in [(false, "allowance"), (true, "charge")] {
            let a = dec(t, key) * sign;
            if !a.is_zero() {
                allowances.push(AllowanceCharge {
                    charge,
                    amount: a,
                    reason: Some(if charge { "Charge" } else { "Discount" }.into()),
                    category: Some(category.clone()),
                    rate,
                });
            }
        }
        vat.push(VatRow {
            category,
            rate,
            base: dec(t, "base") * sign,
            amount: dec(t, "amount") * sign,
            exemption_code: get(t, "exemption_code").map(str::to_string),
            exemption_reason: get(t, "exemption_reason").map(str::to_string),
        });
    }
    let lines = s
        .lines
        .iter()
        .map(|l| {
            let qty = dec(l, "quantity");
            let price = dec(l, "unit_price") - dec(l, "discount_per_unit");
            let base = dec(l, "price_unit");
            let base = if base.is_zero() { Decimal::ONE } else { base };
            let net = dec(l, "net_amount");
            let charge = dec(l, "charge_amount");
            // Posting stored the line's two-decimal gross amount and what takes it to the net
            // (discounts and the currency's rounding); printed as an allowance, or a charge when
            // it adds. On a credit note every amount turns sign.
            let allowance = dec(l, "allowance_amount");
            let discounted = !(dec(l, "discount_per_unit").is_zero()
                && dec(l, "discount_percent").is_zero()
                && dec(l, "discount_amount").is_zero());
            let mut adj = Vec::new();
            if !charge.is_zero() {
                adj.push((true, charge * sign, "Charge"));
            }
            if !allowance.is_zero() {
                let reason = if discounted { "Discount" } else { "Rounding" };
                let signed = allowance * sign;
                adj.push((signed < Decimal::ZERO, signed.abs(), reason));
            }
            let category = get(l, "tax_category").map(str::to_string);
            Line {
                id: get(l, "line_number").unwrap_or("").to_string(),
                quantity: Some(qty * sign),
                unit: Some(unit_code(get(l, "unit"))),
                net_amount: Some(net * sign),
                price: Some(price),
                base_quantity: if base == Decimal::ONE { None } else { Some(base) },
                item_name: get(l, "item_name")
                    .or_else(|| get(l, "description"))
                    .or_else(|| get(l, "item_id"))
                    .map(str::to_string),
                item_id: get(l, "item_id").map(str::to_string),
                rate: if category.as_deref() == Some("O") { None } else { Some(dec(l, "tax_rate")) },
                category,
                allowances: adj,
            }
        })
        .collect();
    let intra_community = s.taxes.iter().any(|t| get(t, "category") == Some("K"));
    let order_reference = get(inv, "order_reference").map(str::to_string);
    // BT-10: the invoice's own, else the customer's from master data, else the customer account
    // (PEPPOL needs BT-10 or BT-13, German rules BT-10).
    let buyer_reference = get(inv, "buyer_reference")
        .map(str::to_string)
        .or_else(|| parties.buyer_reference.clone())
        .or_else(|| Some(parties.customer.clone()).filter(|c| !c.is_empty()));
    let means = parties.payment_means.clone().filter(|m| !matches!(m.as_str(), "30" | "58") || parties.iban.is_some());
    let (customization, profile) = match syntax {
        Syntax::Ubl => (PEPPOL_CUSTOMIZATION, Some(PEPPOL_PROFILE.to_string())),
        Syntax::Cii => (EN16931, None),
    };
    let mut doc = Doc {
        kind: if credit { Kind::CreditNote } else { Kind::Invoice },
        customization: Some(customization.into()),
        profile,
        number: get(inv, "number").map(str::to_string),
        issue_date: get(inv, "invoice_date").map(str::to_string),
        due_date: get(inv, "due_date").map(str::to_string),
        type_code: Some(if credit { "381" } else { "380" }.into()),
        currency: Some(currency.clone()),
        tax_currency: tax_currency.clone(),
        buyer_reference,
        order_reference,
        preceding_invoice: get(inv, "original_invoice").map(str::to_string),
        delivery_date: if intra_community { get(inv, "invoice_date").map(str::to_string) } else { None },
        delivery_country: if intra_community { parties.buyer.country.clone() } else { None },
        payment_means: means.clone(),
        iban: means.as_ref().and(parties.iban.clone()),
        bic: means.as_ref().and(parties.bic.clone()),
        payment_terms: parties.terms.clone(),
        seller: party(&parties.seller),
        buyer: party(&parties.buyer),
        allowances,
        vat,
        totals: Totals {
            line_total: Some(dec(inv, "line_total") * sign),
            allowance_total: opt(dec(inv, "allowance_total")),
            charge_total: opt(dec(inv, "charge_total")),
            tax_exclusive: Some(dec(inv, "tax_exclusive") * sign),
            vat_total: Some(dec(inv, "vat_total") * sign),
            vat_total_accounting: tax_currency.as_ref().map(|_| dec(inv, "vat_total_acc") * sign),
            tax_inclusive: Some(dec(inv, "tax_inclusive") * sign),
            prepaid: opt(dec(inv, "prepaid")),
            rounding: None,
            payable: Some(dec(inv, "payable") * sign),
        },
        lines,
    };
    doc.tidy();
    doc
}

/// A posted invoice that was not stored (pro forma) in the form the store gives it back, so
/// that its e-invoice is built exactly as a posted one's would be. `number` stands in for the
/// number the store would draw.
pub fn stored_of(p: &crate::post::Posted, number: &str) -> StoredDoc {
    let h = &p.invoice.header;
    let t = &p.totals;
    let mut inv: HashMap<String, String> = HashMap::new();
    let put = |m: &mut HashMap<String, String>, k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put(&mut inv, "legal_entity", Some(h.legal_entity.to_string()));
    put(&mut inv, "number", Some(number.to_string()));
    put(&mut inv, "kind", Some(if p.credit_note { "credit_note" } else { "invoice" }.into()));
    put(&mut inv, "currency", Some(h.currency.code().into()));
    put(&mut inv, "accounting_currency", Some(p.accounting_currency.code().into()));
    put(&mut inv, "parties", Some(p.parties_json().to_string()));
    put(&mut inv, "invoice_date", Some(h.date.to_string()));
    put(&mut inv, "due_date", Some(p.due_date.to_string()));
    put(&mut inv, "customer", Some(h.customer.to_string()));
    put(&mut inv, "payment_terms", h.payment_terms.as_deref().map(str::to_string));
    put(&mut inv, "original_invoice", h.original_invoice.as_deref().map(str::to_string));
    put(&mut inv, "order_reference", h.order_reference.as_deref().map(str::to_string));
    put(&mut inv, "buyer_reference", h.buyer_reference.as_deref().map(str::to_string));
    for (k, v) in [
        ("line_total", t.line_total),
        ("allowance_total", t.allowance_total),
        ("charge_total", t.charge_total),
        ("tax_exclusive", t.tax_exclusive),
        ("vat_total", t.vat_total),
        ("tax_inclusive", t.tax_inclusive),
        ("prepaid", t.prepaid),
        ("payable", t.payable),
        ("vat_total_acc", p.vat_total_acc),
    ] {
        put(&mut inv, k, Some(v.to_string()));
    }
    let taxes = t
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut m = HashMap::new();
            put(&mut m, "category", Some(g.category.to_string()));
            put(&mut m, "rate", Some(g.rate.normalize().to_string()));
            put(&mut m, "tax_code", Some(g.tax_code.to_string()));
            for (k, v) in [
                ("lines", g.lines),
                ("allowance", g.allowance),
                ("charge", g.charge),
                ("base", g.base),
                ("amount", g.amount),
            ] {
                put(&mut m, k, Some(v.to_string()));
            }
            put(&mut m, "exemption_code", p.exemptions.get(i).and_then(|e| e.0.clone()));
            put(&mut m, "exemption_reason", p.exemptions.get(i).and_then(|e| e.1.clone()));
            m
        })
        .collect();
    let lines = p
        .invoice
        .lines
        .iter()
        .zip(&p.invoice.taxes)
        .enumerate()
        .map(|(i, (l, tax))| {
            let mut m = HashMap::new();
            put(&mut m, "line_number", Some(l.line_number.normalize().to_string()));
            for (k, v) in [
                ("quantity", l.quantity),
                ("unit_price", l.unit_price),
                ("price_unit", l.price_unit),
                ("discount_per_unit", l.discount_per_unit),
                ("discount_percent", l.discount_percent),
                ("discount_amount", l.discount_amount),
                ("charge_amount", l.charge_amount),
                ("net_amount", t.line_nets[i]),
                ("tax_amount", t.line_taxes[i]),
                ("allowance_amount", t.line_allowances[i]),
            ] {
                put(&mut m, k, Some(v.to_string()));
            }
            put(&mut m, "tax_code", Some(tax.code.to_string()));
            put(&mut m, "tax_category", Some(tax.category.to_string()));
            put(&mut m, "tax_rate", Some(tax.rate.normalize().to_string()));
            for (k, v) in [
                ("item_id", l.item_id()),
                ("item_name", l.item_name()),
                ("description", l.description()),
                ("unit", l.unit.as_deref()),
            ] {
                put(&mut m, k, v.map(str::to_string));
            }
            m
        })
        .collect();
    StoredDoc { invoice: inv, lines, taxes, bodies: None }
}
