//! UN/CEFACT Cross Industry Invoice D16B, EN 16931 profile: elements in schema order.

use rust_decimal::Decimal;

use super::ubl::{num, Xml};
use super::{Doc, Party};

fn date102(iso: &str) -> String {
    iso.chars().filter(|c| c.is_ascii_digit()).collect()
}

fn date(x: &mut Xml, tag: &str, iso: &str) {
    x.open(tag).leaf_attr("udt:DateTimeString", "format", "102", &date102(iso)).close(tag);
}

fn party(x: &mut Xml, tag: &str, p: &Party) {
    x.open(tag).opt("ram:ID", p.id.as_deref()).opt("ram:Name", p.name.as_deref());
    if let Some(id) = &p.legal_id {
        x.open("ram:SpecifiedLegalOrganization").leaf("ram:ID", id).close("ram:SpecifiedLegalOrganization");
    }
    if let Some((name, phone, mail)) = &p.contact {
        x.open("ram:DefinedTradeContact").opt("ram:PersonName", name.as_deref());
        if let Some(t) = phone {
            x.open("ram:TelephoneUniversalCommunication")
                .leaf("ram:CompleteNumber", t)
                .close("ram:TelephoneUniversalCommunication");
        }
        if let Some(m) = mail {
            x.open("ram:EmailURIUniversalCommunication")
                .leaf("ram:URIID", m)
                .close("ram:EmailURIUniversalCommunication");
        }
        x.close("ram:DefinedTradeContact");
    }
    x.open("ram:PostalTradeAddress").opt("ram:PostcodeCode", p.zip.as_deref()).opt("ram:LineOne", p.street.as_deref());
    x.opt("ram:CityName", p.city.as_deref()).opt("ram:CountryID", p.country.as_deref()).close("ram:PostalTradeAddress");
    if let Some((id, scheme)) = &p.endpoint {
        x.open("ram:URIUniversalCommunication").leaf_attr("ram:URIID", "schemeID", scheme, id);
        x.close("ram:URIUniversalCommunication");
    }
    if let Some(v) = &p.vat_id {
        x.open("ram:SpecifiedTaxRegistration")
            .leaf_attr("ram:ID", "schemeID", "VA", v)
            .close("ram:SpecifiedTaxRegistration");
    }
    if let Some(v) = &p.tax_registration_id {
        x.open("ram:SpecifiedTaxRegistration")
            .leaf_attr("ram:ID", "schemeID", "FC", v)
            .close("ram:SpecifiedTaxRegistration");
    }
    x.close(tag);
}

fn allowance(x: &mut Xml, charge: bool, amount: Decimal, reason: Option<&str>, tax: Option<(&str, Option<Decimal>)>) {
    x.open("ram:SpecifiedTradeAllowanceCharge");
    x.open("ram:ChargeIndicator")
        .leaf("udt:Indicator", if charge { "true" } else { "false" })
        .close("ram:ChargeIndicator");
    x.leaf("ram:ActualAmount", &num(amount)).opt("ram:Reason", reason);
    if let Some((cat, rate)) = tax {
        x.open("ram:CategoryTradeTax").leaf("ram:TypeCode", "VAT").leaf("ram:CategoryCode", cat);
        if cat != "O" {
            x.leaf("ram:RateApplicablePercent", &num(rate.unwrap_or_default()));
        }
        x.close("ram:CategoryTradeTax");
    }
    x.close("ram:SpecifiedTradeAllowanceCharge");
}

/// Writes a document as CII D16B (EN 16931).
pub fn write(d: &Doc) -> String {
    let mut x = Xml::with_capacity(4096 + 1536 * d.lines.len());
    let cur = d.currency.as_deref().unwrap_or("");
    x.open_attrs(
        "rsm:CrossIndustryInvoice",
        &[
            ("xmlns:rsm", "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"),
            ("xmlns:ram", "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"),
            ("xmlns:udt", "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"),
            ("xmlns:qdt", "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"),
        ],
    );
    x.open("rsm:ExchangedDocumentContext");
    if let Some(p) = &d.profile {
        x.open("ram:BusinessProcessSpecifiedDocumentContextParameter").leaf("ram:ID", p);
        x.close("ram:BusinessProcessSpecifiedDocumentContextParameter");
    }
    x.open("ram:GuidelineSpecifiedDocumentContextParameter").opt("ram:ID", d.customization.as_deref());
    x.close("ram:GuidelineSpecifiedDocumentContextParameter").close("rsm:ExchangedDocumentContext");
    x.open("rsm:ExchangedDocument")
        .opt("ram:ID", d.number.as_deref())
        .leaf("ram:TypeCode", d.type_code.as_deref().unwrap_or(d.kind.code()));
    if let Some(i) = &d.issue_date {
        date(&mut x, "ram:IssueDateTime", i);
    }
    x.close("rsm:ExchangedDocument");
    x.open("rsm:SupplyChainTradeTransaction");
    for l in &d.lines {
        x.open("ram:IncludedSupplyChainTradeLineItem");
        x.open("ram:AssociatedDocumentLineDocument")
            .leaf("ram:LineID", &l.id)
            .close("ram:AssociatedDocumentLineDocument");
        x.open("ram:SpecifiedTradeProduct")
            .opt("ram:SellerAssignedID", l.item_id.as_deref())
            .opt("ram:Name", l.item_name.as_deref());
        x.close("ram:SpecifiedTradeProduct");
        let unit = l.unit.as_deref().unwrap_or("C62");
        x.open("ram:SpecifiedLineTradeAgreement").open("ram:NetPriceProductTradePrice");
        x.leaf("ram:ChargeAmount", &num(l.price.unwrap_or_default()));
        if let Some(b) = l.base_quantity {
            x.leaf_attr("ram:BasisQuantity", "unitCode", unit, &num(b));
        }
        x.close("ram:NetPriceProductTradePrice").close("ram:SpecifiedLineTradeAgreement");
        x.open("ram:SpecifiedLineTradeDelivery");
        x.leaf_attr("ram:BilledQuantity", "unitCode", unit, &num(l.quantity.unwrap_or_default()));
        x.close("ram:SpecifiedLineTradeDelivery");
        x.open("ram:SpecifiedLineTradeSettlement");
        if let Some(c) = &l.category {
            x.open("ram:ApplicableTradeTax").leaf("ram:TypeCode", "VAT").leaf("ram:CategoryCode", c);
            if c != "O" {
                x.leaf("ram:RateApplicablePercent", &num(l.rate.unwrap_or_default()));
            }
            x.close("ram:ApplicableTradeTax");
        }
        for c in &l.allowances {
            allowance(&mut x, c.charge, c.amount.unwrap_or_default(), c.reason.as_deref(), None);
        }
        x.open("ram:SpecifiedTradeSettlementLineMonetarySummation");
        x.leaf("ram:LineTotalAmount", &num(l.net_amount.unwrap_or_default()));
        x.close("ram:SpecifiedTradeSettlementLineMonetarySummation");
        x.close("ram:SpecifiedLineTradeSettlement");
        x.close("ram:IncludedSupplyChainTradeLineItem");
    }
    x.open("ram:ApplicableHeaderTradeAgreement").opt("ram:BuyerReference", d.buyer_reference.as_deref());
    party(&mut x, "ram:SellerTradeParty", &d.seller);
    party(&mut x, "ram:BuyerTradeParty", &d.buyer);
    if let Some(o) = &d.order_reference {
        x.open("ram:BuyerOrderReferencedDocument")
            .leaf("ram:IssuerAssignedID", o)
            .close("ram:BuyerOrderReferencedDocument");
    }
    x.close("ram:ApplicableHeaderTradeAgreement");
    // Required by the CII schema, however empty.
    x.open_required("ram:ApplicableHeaderTradeDelivery");
    if let Some(c) = &d.delivery_country {
        x.open("ram:ShipToTradeParty").open("ram:PostalTradeAddress").leaf("ram:CountryID", c);
        x.close("ram:PostalTradeAddress").close("ram:ShipToTradeParty");
    }
    if let Some(dd) = &d.delivery_date {
        x.open("ram:ActualDeliverySupplyChainEvent");
        date(&mut x, "ram:OccurrenceDateTime", dd);
        x.close("ram:ActualDeliverySupplyChainEvent");
    }
    x.close("ram:ApplicableHeaderTradeDelivery");
    x.open("ram:ApplicableHeaderTradeSettlement");
    x.opt("ram:TaxCurrencyCode", d.tax_currency.as_deref()).opt("ram:InvoiceCurrencyCode", d.currency.as_deref());
    for p in &d.payments {
        x.open("ram:SpecifiedTradeSettlementPaymentMeans").opt("ram:TypeCode", p.code.as_deref());
        if let Some(iban) = &p.account {
            x.open("ram:PayeePartyCreditorFinancialAccount")
                .leaf("ram:IBANID", iban)
                .close("ram:PayeePartyCreditorFinancialAccount");
        }
        if let Some(bic) = &p.bic {
            x.open("ram:PayeeSpecifiedCreditorFinancialInstitution").leaf("ram:BICID", bic);
            x.close("ram:PayeeSpecifiedCreditorFinancialInstitution");
        }
        x.close("ram:SpecifiedTradeSettlementPaymentMeans");
    }
    for v in &d.vat {
        x.open("ram:ApplicableTradeTax").leaf("ram:CalculatedAmount", &num(v.amount.unwrap_or_default()));
        x.leaf("ram:TypeCode", "VAT");
        x.opt("ram:ExemptionReason", v.exemption_reason.as_deref());
        x.leaf("ram:BasisAmount", &num(v.base.unwrap_or_default())).leaf("ram:CategoryCode", &v.category);
        x.opt("ram:ExemptionReasonCode", v.exemption_code.as_deref());
        // A row not subject to VAT takes its rate when the model gives one (see `build`).
        match (v.category.as_str(), v.rate) {
            ("O", None) => {}
            (_, rate) => {
                x.leaf("ram:RateApplicablePercent", &num(rate.unwrap_or_default()));
            }
        }
        x.close("ram:ApplicableTradeTax");
    }
    for a in &d.allowances {
        let tax = a.category.as_deref().map(|c| (c, a.rate));
        allowance(&mut x, a.charge, a.amount.unwrap_or_default(), a.reason.as_deref(), tax);
    }
    if d.payment_terms.is_some() || d.due_date.is_some() {
        x.open("ram:SpecifiedTradePaymentTerms").opt("ram:Description", d.payment_terms.as_deref());
        if let Some(due) = &d.due_date {
            date(&mut x, "ram:DueDateDateTime", due);
        }
        x.close("ram:SpecifiedTradePaymentTerms");
    }
    let t = &d.totals;
    x.open("ram:SpecifiedTradeSettlementHeaderMonetarySummation");
    x.leaf("ram:LineTotalAmount", &num(t.line_total.unwrap_or_default()));
    if let Some(c) = t.charge_total {
        x.leaf("ram:ChargeTotalAmount", &num(c));
    }
    if let Some(a) = t.allowance_total {
        x.leaf("ram:AllowanceTotalAmount", &num(a));
    }
    x.leaf("ram:TaxBasisTotalAmount", &num(t.tax_exclusive.unwrap_or_default()));
    x.leaf_attr("ram:TaxTotalAmount", "currencyID", cur, &num(t.vat_total.unwrap_or_default()));
    if let (Some(tc), Some(acc)) = (&d.tax_currency, t.vat_total_accounting) {
        x.leaf_attr("ram:TaxTotalAmount", "currencyID", tc, &num(acc));
    }
    x.leaf("ram:GrandTotalAmount", &num(t.tax_inclusive.unwrap_or_default()));
    if let Some(p) = t.prepaid {
        x.leaf("ram:TotalPrepaidAmount", &num(p));
    }
    x.leaf("ram:DuePayableAmount", &num(t.payable.unwrap_or_default()));
    x.close("ram:SpecifiedTradeSettlementHeaderMonetarySummation");
    if let Some(p) = &d.preceding_invoice {
        x.open("ram:InvoiceReferencedDocument").leaf("ram:IssuerAssignedID", p).close("ram:InvoiceReferencedDocument");
    }
    x.close("ram:ApplicableHeaderTradeSettlement");
    x.close("rsm:SupplyChainTradeTransaction");
    x.close("rsm:CrossIndustryInvoice");
    x.finish()
}
