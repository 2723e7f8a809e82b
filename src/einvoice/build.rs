//! From what the store holds to the semantic document: posted amounts, sign-flipped for credit
//! notes (e-invoice credit notes carry positive amounts), parties as they were at posting. The
//! lines and the VAT breakdown are read in place from the stored blobs, cell by cell.

use rust_decimal::Decimal;

use super::{
    unit_code, AllowanceCharge, Doc, Kind, Line, LineCharge, Party, Payment, Syntax, Totals, VatRow, EN16931,
    PEPPOL_CUSTOMIZATION, PEPPOL_PROFILE,
};

use crate::post::Parties;
use crate::store::{line_col as lc, tax_col as tc, BodyRows, CellRef, Damaged, PostedDoc};

/// A cell's text, when not empty.
fn text<'a>(c: CellRef<'a>) -> Option<&'a str> {
    match c {
        CellRef::Text(t) if !t.is_empty() => Some(t),
        _ => None,
    }
}

/// A cell's decimal (null as zero).
fn dec(c: CellRef<'_>) -> Decimal {
    match c {
        CellRef::Dec(d) => d,
        CellRef::Int(v) => Decimal::from(v),
        _ => Decimal::ZERO,
    }
}

fn party(p: &crate::post::Party) -> Party {
    let mut out = Party {
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
        // The writers print identifiers without a scheme attribute.
        scheme_ids: Vec::new(),
        trading_name: None,
        id_schemes: Vec::new(),
        legal_id_scheme: None,
        postal_address: false,
        given: true,
        role: true,
        tax_schemes: Vec::new(),
    };
    // The writers write the postal address when it has a part.
    out.postal_address = out.has_address_parts();
    out
}

/// The semantic document of a stored, posted invoice (an error when its blobs do not read back).
pub fn build(s: &PostedDoc, syntax: Syntax) -> Result<Doc, Damaged> {
    build_with(s, syntax, None)
}

/// [`build`] with each VAT row's exemption reason (code and text) as its tax code has it in
/// `master` now, when given (a tax code the master data no longer has keeps what was stored);
/// every amount as posted. The parties are the document's stored ones: a re-issue puts
/// today's in first (`refresh_parties`).
pub fn build_with(
    s: &PostedDoc,
    syntax: Syntax,
    master: Option<&crate::model::master::MasterData>,
) -> Result<Doc, Damaged> {
    let credit = s.credit_note;
    let sign = if credit { -Decimal::ONE } else { Decimal::ONE };
    let opt_text = |t: &Option<String>| t.clone().filter(|t| !t.is_empty());
    let currency = s.currency.clone();
    let tax_currency = Some(s.accounting_currency.clone()).filter(|a| !a.is_empty() && *a != currency);
    let parties: Parties = serde_json::from_str(&s.parties).unwrap_or_default();
    let opt = |v: Decimal| if v.is_zero() { None } else { Some(v * sign) };
    let mut cells = Vec::with_capacity(crate::store::LINE_COLUMNS);
    let mut vat = Vec::new();
    let mut allowances = Vec::new();
    let mut intra_community = false;
    let mut taxes = BodyRows::new(&s.taxes, crate::store::TAX_COLUMNS)?;
    while taxes.next_into(&mut cells)? {
        let category = text(cells[tc::CATEGORY]).unwrap_or("").to_string();
        intra_community |= category == "K";
        let rate = if category == "O" { None } else { Some(dec(cells[tc::RATE])) };
        for (charge, at) in [(false, tc::ALLOWANCE), (true, tc::CHARGE)] {
            let a = dec(cells[at]) * sign;
            if !a.is_zero() {
                allowances.push(AllowanceCharge {
                    charge,
                    amount: Some(a),
                    reason: Some(if charge { "Charge" } else { "Discount" }.into()),
                    reason_code: None,
                    category: Some(category.clone()),
                    category_vat: true,
                    rate,
                    base: None,
                    percent: None,
                });
            }
        }
        let today = master.and_then(|md| md.tax_codes.get(text(cells[tc::TAX_CODE]).unwrap_or("")));
        let (exemption_code, exemption_reason) = match today {
            Some(t) => (t.exemption_reason_code.clone(), t.exemption_reason.clone()),
            None => (
                text(cells[tc::EXEMPTION_CODE]).map(str::to_string),
                text(cells[tc::EXEMPTION_REASON]).map(str::to_string),
            ),
        };
        // A breakdown row not subject to VAT gets the rate 0 all the same: EN 16931 allows it
        // (BR-48 only excuses its absence), and the German PEPPOL rule DE-R-014 asks for a rate
        // on every row when seller and buyer are in Germany. Its lines and allowances get none
        // (BR-O-05 … BR-O-07).
        let row_rate = if category == "O" { Some(Decimal::ZERO) } else { rate };
        vat.push(VatRow {
            category,
            category_vat: true,
            rate: row_rate,
            base: Some(dec(cells[tc::BASE]) * sign),
            amount: Some(dec(cells[tc::AMOUNT]) * sign),
            exemption_code,
            exemption_reason,
        });
    }
    let mut rows = BodyRows::new(&s.lines, crate::store::LINE_COLUMNS)?;
    let mut lines = Vec::with_capacity(rows.left());
    // The roles e-invoices print come before the fields without a role, which are stepped over.
    while rows.next_into_first(&mut cells, lc::UNIT + 1)? {
        let c = |at: usize| dec(cells[at]);
        let qty = c(lc::QUANTITY);
        let price = c(lc::UNIT_PRICE) - c(lc::DISCOUNT_PER_UNIT);
        let base = c(lc::PRICE_UNIT);
        let base = if base.is_zero() { Decimal::ONE } else { base };
        let net = c(lc::NET_AMOUNT);
        let charge = c(lc::CHARGE_AMOUNT);
        // Posting stored the line's two-decimal gross amount and what takes it to the net
        // (discounts and the currency's rounding); printed as an allowance, or a charge when
        // it adds. On a credit note every amount turns sign.
        let allowance = c(lc::ALLOWANCE_AMOUNT);
        let discounted = !(c(lc::DISCOUNT_PER_UNIT).is_zero()
            && c(lc::DISCOUNT_PERCENT).is_zero()
            && c(lc::DISCOUNT_AMOUNT).is_zero());
        let mut adj = Vec::new();
        let adjustment = |charge: bool, amount: Decimal, reason: &str| LineCharge {
            charge,
            amount: Some(amount),
            reason: Some(reason.into()),
            reason_code: None,
            base: None,
            percent: None,
        };
        if !charge.is_zero() {
            adj.push(adjustment(true, charge * sign, "Charge"));
        }
        if !allowance.is_zero() {
            let reason = if discounted { "Discount" } else { "Rounding" };
            let signed = allowance * sign;
            adj.push(adjustment(signed < Decimal::ZERO, signed.abs(), reason));
        }
        let category = text(cells[lc::TAX_CATEGORY]).map(str::to_string);
        let line_number = match cells[lc::LINE_NUMBER] {
            CellRef::Dec(d) => {
                let mut id = String::new();
                crate::model::write_decimal(&mut id, d);
                id
            }
            other => text(other).unwrap_or("").to_string(),
        };
        let item_id = text(cells[lc::ITEM_ID]);
        lines.push(Line {
            id: line_number,
            quantity: Some(qty * sign),
            unit: Some(unit_code(text(cells[lc::UNIT]))),
            net_amount: Some(net * sign),
            price: Some(price),
            base_quantity: if base == Decimal::ONE { None } else { Some(base) },
            item_name: text(cells[lc::ITEM_NAME])
                .or_else(|| text(cells[lc::DESCRIPTION]))
                .or(item_id)
                .map(str::to_string),
            item_id: item_id.map(str::to_string),
            rate: if category.as_deref() == Some("O") { None } else { Some(c(lc::TAX_RATE)) },
            category,
            category_vat: true,
            allowances: adj,
            period: None,
            gross_price: None,
            attributes: Vec::new(),
            standard_ids: Vec::new(),
            classifications: Vec::new(),
            origin_country: None,
            price_discount: None,
            order_line: None,
        });
    }
    let order_reference = opt_text(&s.order_reference);
    // BT-10: the invoice's own, else the customer's from master data, else the customer account
    // (PEPPOL needs BT-10 or BT-13, German rules BT-10).
    let buyer_reference = opt_text(&s.buyer_reference)
        .or_else(|| parties.buyer_reference.clone())
        .or_else(|| Some(parties.customer.clone()).filter(|c| !c.is_empty()));
    let means = parties.payment_means.clone().filter(|m| !matches!(m.as_str(), "30" | "58") || parties.iban.is_some());
    let (customization, profile) = match syntax {
        Syntax::Ubl => (PEPPOL_CUSTOMIZATION, Some(PEPPOL_PROFILE.to_string())),
        Syntax::Cii => (EN16931, None),
    };
    let t = &s.totals;
    let issue_date = Some(s.invoice_date.clone()).filter(|d| !d.is_empty());
    let mut doc = Doc {
        syntax,
        kind: if credit { Kind::CreditNote } else { Kind::Invoice },
        customization: Some(customization.into()),
        profile,
        number: Some(s.number.clone()).filter(|n| !n.is_empty()),
        due_date: Some(s.due_date.clone()).filter(|d| !d.is_empty()),
        type_code: Some(if credit { "381" } else { "380" }.into()),
        currency: Some(currency),
        currency_written: None,
        buyer_reference,
        order_reference,
        preceding_invoice: opt_text(&s.original_invoice),
        delivery_date: if intra_community { issue_date.clone() } else { None },
        issue_date,
        delivery_country: if intra_community { parties.buyer.country.clone() } else { None },
        payments: means
            .iter()
            .map(|code| Payment {
                code: Some(code.clone()),
                account: parties.iban.clone(),
                account_given: parties.iban.is_some(),
                account_id_given: parties.iban.is_some(),
                bic: parties.iban.as_ref().and(parties.bic.clone()),
                card: None,
                card_given: false,
                payment_id: None,
                mandate: None,
            })
            .collect(),
        delivery_address: intra_community && parties.buyer.country.is_some(),
        delivery_city: None,
        delivery_zip: None,
        notes: Vec::new(),
        references: Vec::new(),
        creditor_id: None,
        invoice_period: None,
        tax_point_date: None,
        tax_point_code: None,
        payee: None,
        tax_rep: None,
        preceding_without_id: 0,
        object_id_schemes: Vec::new(),
        amount_currencies: None,
        empty_elements: None,
        payment_terms: payment_terms(parties.terms.as_deref(), s.cash_discount.as_ref(), &s.currency),
        seller: party(&parties.seller),
        buyer: party(&parties.buyer),
        allowances,
        vat,
        totals: Totals {
            line_total: Some(t.line_total * sign),
            allowance_total: opt(t.allowance_total),
            charge_total: opt(t.charge_total),
            tax_exclusive: Some(t.tax_exclusive * sign),
            vat_total: Some(t.vat_total * sign),
            vat_total_accounting: tax_currency.as_ref().map(|_| t.vat_total_acc * sign),
            tax_inclusive: Some(t.tax_inclusive * sign),
            prepaid: opt(t.prepaid),
            rounding: None,
            payable: Some(t.payable * sign),
            vat_totals_in_currency: 1,
            // (UBL writes the VAT total into the tax total that holds the breakdown.)
            breakdown_vat: Some(t.vat_total * sign).filter(|_| syntax == Syntax::Ubl),
            given: true,
        },
        tax_currency,
        lines,
    };
    // A document not subject to VAT names no VAT identifier of the seller or the buyer
    // (BR-O-02 … BR-O-04): the seller is identified by its legal registration.
    if doc.vat.iter().any(|v| v.category == "O") {
        doc.seller.vat_id = None;
        doc.buyer.vat_id = None;
    }
    doc.tidy();
    for p in [&mut doc.seller, &mut doc.buyer] {
        p.set_written_tax_schemes(syntax);
    }
    Ok(doc)
}

/// A posted invoice that was not stored (pro forma) in the form the store gives it back (its
/// bodies encoded as a commit would store them), so that its e-invoice is built exactly as a
/// posted one's would be. `number` stands in for the number the store would draw.
pub fn stored_of(p: &crate::post::Posted, number: &str) -> PostedDoc {
    let h = &p.invoice.header;
    let t = &p.totals;
    let (lines, taxes) = crate::store::Body::of(p, crate::entity::field_name).into_lines_and_taxes();
    let opt = |v: Option<&str>| v.map(str::to_string);
    PostedDoc {
        id: 0,
        legal_entity: h.legal_entity.to_string(),
        number: number.to_string(),
        credit_note: p.credit_note,
        currency: h.currency.code().into(),
        accounting_currency: p.accounting_currency.code().into(),
        invoice_date: h.date.to_string(),
        due_date: p.due_date.to_string(),
        customer: h.customer.to_string(),
        payment_terms: opt(h.payment_terms.as_deref()),
        order_reference: opt(h.order_reference.as_deref()),
        buyer_reference: opt(h.buyer_reference.as_deref()),
        original_invoice: opt(h.original_invoice.as_deref()),
        totals: crate::store::PostedTotals {
            line_total: t.line_total,
            allowance_total: t.allowance_total,
            charge_total: t.charge_total,
            tax_exclusive: t.tax_exclusive,
            vat_total: t.vat_total,
            tax_inclusive: t.tax_inclusive,
            prepaid: t.prepaid,
            payable: t.payable,
            vat_total_acc: p.vat_total_acc,
        },
        parties: p.parties_json().to_string(),
        parties_refreshed: false,
        lines,
        taxes,
        cash_discount: p.cash_discount.map(|c| (c.date.to_string(), c.amount, c.percent)),
    }
}

/// The payment terms text (BT-20): the terms' description, and the cash discount of the open
/// item when it has one (`2 % cash discount (13.70 EUR) if paid by 2019-03-01`), exactly as
/// posted.
fn payment_terms(
    terms: Option<&str>,
    cash_discount: Option<&(String, Decimal, Decimal)>,
    currency: &str,
) -> Option<String> {
    let discount = cash_discount.map(|(date, amount, percent)| {
        let mut text = String::new();
        crate::model::write_decimal(&mut text, percent.normalize());
        text.push_str(" % cash discount (");
        crate::model::write_decimal(&mut text, *amount);
        text.push_str(&format!(" {currency}) if paid by {date}"));
        text
    });
    match (terms.filter(|t| !t.trim().is_empty()), discount) {
        (Some(t), Some(d)) => Some(format!("{t}; {d}")),
        (t, d) => t.map(str::to_string).or(d),
    }
}
