//! Reading UBL 2.1 and CII D16B documents into the semantic model, from the element tree of
//! [`super::xml`].

use std::str::FromStr;

use rust_decimal::Decimal;

use super::{
    AllowanceCharge, Doc, Kind, Line, LineCharge, Party, Payee, Payment, Period, Reference, Syntax, Totals, VatRow,
};

pub use super::xml::{parse, too_large, Arena, Node, ReadError, MAX_DEPTH, MAX_DOCUMENT_BYTES};

/// Syntax problems met while mapping (a value that is not a number, …): (path, message).
pub type SyntaxIssues = Vec<(String, String)>;

fn dec(n: Option<&Node>, path: &str, issues: &mut SyntaxIssues) -> Option<Decimal> {
    let t = n?.trimmed();
    if t.is_empty() {
        return None;
    }
    match Decimal::from_str(t) {
        Ok(d) => Some(d),
        Err(_) => {
            issues.push((path.to_string(), format!("`{t}` is not a decimal number")));
            None
        }
    }
}

/// A CII date: the text of a `DateTimeString` as an ISO date when it reads YYYYMMDD (any other
/// text as written).
fn date102(n: Option<&Node>) -> Option<String> {
    let t = n?.trimmed().to_string();
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("{}-{}-{}", &t[0..4], &t[4..6], &t[6..8]))
    } else if t.is_empty() {
        None
    } else {
        Some(t)
    }
}

/// Reads a UBL or CII document.
pub fn read(xml: &[u8]) -> Result<(Doc, SyntaxIssues), ReadError> {
    read_with_tree(xml, &Arena::new()).map(|(doc, issues, _)| (doc, issues))
}

/// [`read`], with the element tree the document was read from (for the syntax rules), kept
/// in `arena`.
pub fn read_with_tree<'a>(xml: &'a [u8], arena: &'a Arena) -> Result<(Doc, SyntaxIssues, Node<'a>), ReadError> {
    let root = parse(xml, arena)?;
    let mut issues = Vec::new();
    let doc = match root.name {
        "Invoice" => ubl(&root, Kind::Invoice, &mut issues),
        "CreditNote" => ubl(&root, Kind::CreditNote, &mut issues),
        "CrossIndustryInvoice" => cii(&root, &mut issues),
        other => return Err(ReadError::UnknownRoot(other.to_string())),
    };
    Ok((doc, issues, root))
}

/// Whether a UBL tax category (or a CII trade tax, by `TypeCode`) is of the VAT scheme, as the
/// rules ask (`normalize-space(upper-case(ID)) = 'VAT'`).
pub(super) fn is_vat(scheme: Option<String>) -> bool {
    scheme.is_some_and(|s| s.eq_ignore_ascii_case("VAT"))
}

/// What the rules ask of the whole tree, in one walk: the `currencyID` of every amount (UBL:
/// the elements BR-CL-03 names; CII: any element that has one), each currency once, and the
/// number of elements without child elements and without text (PEPPOL-EN16931-R008).
fn tree_facts(root: &Node) -> (Vec<String>, usize) {
    const AMOUNTS: &[&str] = &[
        "Amount",
        "BaseAmount",
        "PriceAmount",
        "TaxAmount",
        "TaxableAmount",
        "LineExtensionAmount",
        "TaxExclusiveAmount",
        "TaxInclusiveAmount",
        "AllowanceTotalAmount",
        "ChargeTotalAmount",
        "PrepaidAmount",
        "PayableRoundingAmount",
        "PayableAmount",
    ];
    let cii = root.name == "CrossIndustryInvoice";
    let (mut currencies, mut empty): (Vec<&str>, _) = (Vec::new(), 0);
    for n in root.elements() {
        if cii {
            if let Some(c) = n.attr("currencyID") {
                currencies.push(c);
            }
        } else if super::xml::ends_with(n.name, "Amount") && AMOUNTS.iter().any(|a| super::xml::same(a, n.name)) {
            // A UBL amount without its currency has the empty one (no ISO 4217 code).
            currencies.push(n.attr("currencyID").unwrap_or(""));
        }
        if n.children.is_empty() && n.trimmed().is_empty() {
            empty += 1;
        }
    }
    currencies.sort_unstable();
    currencies.dedup();
    (currencies.into_iter().map(str::to_string).collect(), empty)
}

/// A UBL tax category's code, and whether it is of the VAT scheme.
fn ubl_category(cat: Option<&Node>) -> (Option<String>, bool) {
    match cat {
        Some(c) => (c.code_at(&["ID"]), is_vat(c.text_at(&["TaxScheme", "ID"]))),
        None => (None, false),
    }
}

fn ubl_period(p: Option<&Node>) -> Option<Period> {
    p.map(|p| Period {
        start: p.text_at(&["StartDate"]),
        end: p.text_at(&["EndDate"]),
        code: p.text_at(&["DescriptionCode"]),
    })
}

fn ubl_party(role: Option<&Node>) -> Party {
    match role.map(|r| r.child("Party")) {
        Some(Some(p)) => Party { given: true, role: true, ..ubl_party_node(p) },
        Some(None) => Party { role: true, ..Party::default() },
        None => Party::default(),
    }
}

fn ubl_party_node(p: &Node) -> Party {
    let mut party = Party {
        id: p
            .all("PartyIdentification")
            .filter_map(|i| i.child("ID"))
            .find(|i| i.attr("schemeID") != Some("SEPA"))
            .map(|i| i.trimmed().to_string())
            .filter(|t| !t.is_empty()),
        name: p.text_at(&["PartyLegalEntity", "RegistrationName"]),
        trading_name: p.text_at(&["PartyName", "Name"]),
        legal_id: p.text_at(&["PartyLegalEntity", "CompanyID"]),
        endpoint: p
            .child("EndpointID")
            .map(|e| (e.trimmed().to_string(), e.attr("schemeID").unwrap_or("").to_string())),
        postal_address: p.child("PostalAddress").is_some(),
        street: p.text_at(&["PostalAddress", "StreetName"]),
        city: p.text_at(&["PostalAddress", "CityName"]),
        zip: p.text_at(&["PostalAddress", "PostalZone"]),
        country: p.code_at(&["PostalAddress", "Country", "IdentificationCode"]),
        contact: p
            .child("Contact")
            .map(|c| (c.text_at(&["Name"]), c.text_at(&["Telephone"]), c.text_at(&["ElectronicMail"]))),
        scheme_ids: p
            .all("PartyIdentification")
            .filter_map(|i| i.child("ID"))
            .chain(p.child("PartyLegalEntity").and_then(|l| l.child("CompanyID")))
            .filter_map(|i| i.attr("schemeID").map(|s| (s.to_string(), i.text.to_string())))
            .collect(),
        id_schemes: p
            .all("PartyIdentification")
            .filter_map(|i| i.child("ID")?.attr("schemeID").map(str::to_string))
            .collect(),
        legal_id_scheme: p.at(&["PartyLegalEntity", "CompanyID"]).and_then(|c| c.attr("schemeID")).map(str::to_string),
        ..Party::default()
    };
    for ts in p.all("PartyTaxScheme") {
        if let Some(id) = ts.code_at(&["CompanyID"]) {
            party.tax_schemes.push((ts.text_at(&["TaxScheme", "ID"]).unwrap_or_default(), id));
        }
        let id = ts.text_at(&["CompanyID"]);
        if is_vat(ts.text_at(&["TaxScheme", "ID"])) {
            party.vat_id = id;
        } else {
            party.tax_registration_id = id;
        }
    }
    party
}

fn ubl_charge(a: &Node, issues: &mut SyntaxIssues, path: &str) -> LineCharge {
    LineCharge {
        charge: a.text_at(&["ChargeIndicator"]).as_deref() == Some("true"),
        amount: dec(a.child("Amount"), path, issues),
        reason: a.text_at(&["AllowanceChargeReason"]),
        reason_code: a.text_at(&["AllowanceChargeReasonCode"]),
        base: dec(a.child("BaseAmount"), "AllowanceCharge/BaseAmount", issues),
        percent: dec(a.child("MultiplierFactorNumeric"), "AllowanceCharge/MultiplierFactorNumeric", issues),
    }
}

fn ubl(root: &Node, kind: Kind, issues: &mut SyntaxIssues) -> Doc {
    let cur = root.code_at(&["DocumentCurrencyCode"]);
    // The code as written, which the rules matching amounts by `currencyID` compare with.
    let written = root.child("DocumentCurrencyCode").map(|c| c.text);
    let tax_cur = root.text_at(&["TaxCurrencyCode"]);
    let mut vat = Vec::new();
    let (mut vat_total, mut vat_acc, mut breakdown_vat) = (None, None, None);
    let mut in_currency = 0;
    for tt in root.all("TaxTotal") {
        let amount = dec(tt.child("TaxAmount"), "TaxTotal/TaxAmount", issues);
        let c = tt.child("TaxAmount").and_then(|a| a.attr("currencyID"));
        in_currency += usize::from(c.is_some() && (c == written || (c == Some("") && cur.is_none())));
        if breakdown_vat.is_none() && tt.child("TaxSubtotal").is_some() {
            breakdown_vat = amount;
        }
        let c = tt.child("TaxAmount").and_then(|a| a.attr("currencyID"));
        if tax_cur.is_some() && c == tax_cur.as_deref() && c != cur.as_deref() {
            vat_acc = amount;
            continue;
        }
        // The total VAT (BT-110) is the one in the document currency (the rules find it by its
        // currencyID: one without is not it; without an invoice currency, the empty one is).
        if c.is_some() && (c == cur.as_deref() || (c == Some("") && cur.is_none())) {
            vat_total = amount;
        }
        for st in tt.all("TaxSubtotal") {
            let cat = st.child("TaxCategory");
            let (category, category_vat) = ubl_category(cat);
            vat.push(VatRow {
                category: category.unwrap_or_default(),
                category_vat,
                rate: dec(cat.and_then(|c| c.child("Percent")), "TaxCategory/Percent", issues),
                base: dec(st.child("TaxableAmount"), "TaxSubtotal/TaxableAmount", issues),
                amount: dec(st.child("TaxAmount"), "TaxSubtotal/TaxAmount", issues),
                exemption_code: cat.and_then(|c| c.text_at(&["TaxExemptionReasonCode"])),
                exemption_reason: cat.and_then(|c| c.text_at(&["TaxExemptionReason"])),
            });
        }
    }
    let m = root.child("LegalMonetaryTotal");
    let g = |name: &str, issues: &mut SyntaxIssues| dec(m.and_then(|m| m.child(name)), name, issues);
    let totals = Totals {
        line_total: g("LineExtensionAmount", issues),
        allowance_total: g("AllowanceTotalAmount", issues),
        charge_total: g("ChargeTotalAmount", issues),
        tax_exclusive: g("TaxExclusiveAmount", issues),
        vat_total,
        vat_total_accounting: vat_acc,
        tax_inclusive: g("TaxInclusiveAmount", issues),
        prepaid: g("PrepaidAmount", issues),
        rounding: g("PayableRoundingAmount", issues),
        payable: g("PayableAmount", issues),
        breakdown_vat,
        vat_totals_in_currency: in_currency,
        given: m.is_some(),
    };
    let allowances = root
        .all("AllowanceCharge")
        .map(|a| {
            let c = ubl_charge(a, issues, "AllowanceCharge/Amount");
            let (category, category_vat) = ubl_category(a.child("TaxCategory"));
            AllowanceCharge {
                charge: c.charge,
                amount: c.amount,
                reason: c.reason,
                reason_code: c.reason_code,
                category,
                category_vat,
                rate: dec(a.at(&["TaxCategory", "Percent"]), "AllowanceCharge/TaxCategory/Percent", issues),
                base: c.base,
                percent: c.percent,
            }
        })
        .collect();
    // Lines of either tag (a credit note with invoice lines breaks the schema; its rules still
    // apply to them).
    let lines = root
        .children
        .iter()
        .filter(|c| c.name == "InvoiceLine" || c.name == "CreditNoteLine")
        .map(|l| {
            let qty_tag = if l.name == "InvoiceLine" { "InvoicedQuantity" } else { "CreditedQuantity" };
            // The line's aggregates, each found once (a path from the line searches its
            // children again for each of its fields).
            let item = l.child("Item");
            let price = l.child("Price");
            let quantity = l.child(qty_tag);
            let tax_category = item.and_then(|i| i.child("ClassifiedTaxCategory"));
            let price_charge = price.and_then(|p| p.child("AllowanceCharge"));
            let in_item = |path: &[&str]| item.and_then(|i| i.text_at(path));
            let (category, category_vat) = ubl_category(tax_category);
            let texts = |name: &str, inner: &str, attr: &str| -> Vec<(String, Option<String>)> {
                item.into_iter()
                    .flat_map(|i| i.all(name))
                    .filter_map(|n| n.child(inner))
                    .map(|n| (n.trimmed().to_string(), n.attr(attr).map(str::to_string)))
                    .collect()
            };
            Line {
                id: l.text_at(&["ID"]).unwrap_or_default(),
                quantity: dec(quantity, qty_tag, issues),
                unit: quantity.and_then(|q| q.attr("unitCode")).map(str::to_string),
                net_amount: dec(l.child("LineExtensionAmount"), "InvoiceLine/LineExtensionAmount", issues),
                price: dec(price.and_then(|p| p.child("PriceAmount")), "Price/PriceAmount", issues),
                base_quantity: dec(price.and_then(|p| p.child("BaseQuantity")), "Price/BaseQuantity", issues),
                item_name: in_item(&["Name"]),
                item_id: in_item(&["SellersItemIdentification", "ID"]),
                category,
                category_vat,
                rate: dec(tax_category.and_then(|c| c.child("Percent")), "ClassifiedTaxCategory/Percent", issues),
                allowances: l
                    .all("AllowanceCharge")
                    .map(|a| ubl_charge(a, issues, "InvoiceLine/AllowanceCharge/Amount"))
                    .collect(),
                period: ubl_period(l.child("InvoicePeriod")),
                gross_price: dec(
                    price_charge.and_then(|c| c.child("BaseAmount")),
                    "Price/AllowanceCharge/BaseAmount",
                    issues,
                ),
                attributes: item
                    .into_iter()
                    .flat_map(|i| i.all("AdditionalItemProperty"))
                    .map(|p| (p.text_at(&["Name"]), p.text_at(&["Value"])))
                    .collect(),
                standard_ids: texts("StandardItemIdentification", "ID", "schemeID"),
                classifications: texts("CommodityClassification", "ItemClassificationCode", "listID"),
                origin_country: in_item(&["OriginCountry", "IdentificationCode"]),
                price_discount: dec(
                    price_charge.and_then(|c| c.child("Amount")),
                    "Price/AllowanceCharge/Amount",
                    issues,
                ),
                order_line: l.text_at(&["OrderLineReference", "LineID"]),
            }
        })
        .collect();
    let payments: Vec<Payment> = root
        .all("PaymentMeans")
        .map(|p| Payment {
            code: p.text_at(&["PaymentMeansCode"]),
            account: p.text_at(&["PayeeFinancialAccount", "ID"]),
            account_given: p.child("PayeeFinancialAccount").is_some(),
            account_id_given: p.at(&["PayeeFinancialAccount", "ID"]).is_some(),
            bic: p.text_at(&["PayeeFinancialAccount", "FinancialInstitutionBranch", "ID"]),
            card: p.text_at(&["CardAccount", "PrimaryAccountNumberID"]),
            card_given: p.child("CardAccount").is_some(),
            payment_id: p.text_at(&["PaymentID"]),
            mandate: p
                .child("PaymentMandate")
                .map(|m| (m.text_at(&["ID"]), m.text_at(&["PayerFinancialAccount", "ID"]))),
        })
        .collect();
    let pm = root.child("PaymentMeans");
    let (currencies, empty) = tree_facts(root);
    Doc {
        syntax: Syntax::Ubl,
        kind,
        customization: root.text_at(&["CustomizationID"]),
        profile: root.code_at(&["ProfileID"]),
        number: root.text_at(&["ID"]),
        issue_date: root.text_at(&["IssueDate"]),
        due_date: root.text_at(&["DueDate"]).or_else(|| pm.and_then(|p| p.text_at(&["PaymentDueDate"]))),
        type_code: root.code_at(&["InvoiceTypeCode"]).or_else(|| root.code_at(&["CreditNoteTypeCode"])),
        currency_written: written.filter(|w| Some(*w) != cur.as_deref()).map(str::to_string),
        currency: cur,
        tax_currency: tax_cur,
        buyer_reference: root.text_at(&["BuyerReference"]),
        order_reference: root.text_at(&["OrderReference", "ID"]),
        preceding_invoice: root.text_at(&["BillingReference", "InvoiceDocumentReference", "ID"]),
        preceding_without_id: root
            .all("BillingReference")
            .filter(|b| b.text_at(&["InvoiceDocumentReference", "ID"]).is_none())
            .count(),
        // The invoiced object (BT-18) and the lines' objects (BT-128).
        object_id_schemes: root
            .all("AdditionalDocumentReference")
            .chain(
                root.children
                    .iter()
                    .filter(|c| c.name == "InvoiceLine" || c.name == "CreditNoteLine")
                    .flat_map(|l| l.all("DocumentReference")),
            )
            .filter(|r| r.text_at(&["DocumentTypeCode"]).as_deref() == Some("130"))
            .filter_map(|r| r.child("ID")?.attr("schemeID").map(str::to_string))
            .collect(),
        amount_currencies: Some(currencies),
        empty_elements: Some(empty),
        delivery_date: root.text_at(&["Delivery", "ActualDeliveryDate"]),
        delivery_country: root.code_at(&["Delivery", "DeliveryLocation", "Address", "Country", "IdentificationCode"]),
        delivery_address: root.at(&["Delivery", "DeliveryLocation", "Address"]).is_some(),
        delivery_city: root.text_at(&["Delivery", "DeliveryLocation", "Address", "CityName"]),
        delivery_zip: root.text_at(&["Delivery", "DeliveryLocation", "Address", "PostalZone"]),
        notes: root.all("Note").map(|n| n.text.to_string()).collect(),
        references: root
            .all("AdditionalDocumentReference")
            .map(|r| {
                let object = r.at(&["Attachment", "EmbeddedDocumentBinaryObject"]);
                Reference {
                    id: r.text_at(&["ID"]),
                    type_code: r.text_at(&["DocumentTypeCode"]),
                    description: r.text_at(&["DocumentDescription"]),
                    uri: r.text_at(&["Attachment", "ExternalReference", "URI"]),
                    filename: object.and_then(|o| o.attr("filename")).map(str::to_string),
                    mime: object.and_then(|o| o.attr("mimeCode")).map(str::to_string),
                }
            })
            .collect(),
        creditor_id: [root.at(&["AccountingSupplierParty", "Party"]), root.child("PayeeParty")]
            .into_iter()
            .flatten()
            .flat_map(|p| p.all("PartyIdentification"))
            .filter_map(|i| i.child("ID"))
            .find(|i| i.attr("schemeID") == Some("SEPA"))
            .map(|i| i.trimmed().to_string()),
        invoice_period: ubl_period(root.child("InvoicePeriod")),
        tax_point_date: root.text_at(&["TaxPointDate"]),
        tax_point_code: root.text_at(&["InvoicePeriod", "DescriptionCode"]),
        payments,
        payment_terms: root.text_kept_at(&["PaymentTerms", "Note"]),
        seller: ubl_party(root.child("AccountingSupplierParty")),
        buyer: ubl_party(root.child("AccountingCustomerParty")),
        payee: root.child("PayeeParty").map(|p| Payee {
            name: p.text_at(&["PartyName", "Name"]),
            id: p.text_at(&["PartyIdentification", "ID"]),
            legal_id: p.text_at(&["PartyLegalEntity", "CompanyID"]),
        }),
        tax_rep: root.child("TaxRepresentativeParty").map(|p| {
            let mut party = ubl_party_node(p);
            party.name = p.text_at(&["PartyName", "Name"]);
            party
        }),
        allowances,
        vat,
        totals,
        lines,
    }
}

fn cii_party(p: Option<&Node>) -> Party {
    let Some(p) = p else { return Party::default() };
    let mut party = Party {
        given: true,
        role: true,
        id: p.text_at(&["ID"]).or_else(|| p.text_at(&["GlobalID"])),
        name: p.text_at(&["Name"]),
        trading_name: p.text_at(&["SpecifiedLegalOrganization", "TradingBusinessName"]),
        legal_id: p.text_at(&["SpecifiedLegalOrganization", "ID"]),
        // The electronic address is there with its communication group (however empty).
        endpoint: p.child("URIUniversalCommunication").map(|u| {
            let id = u.child("URIID");
            (
                id.map_or(String::new(), |e| e.trimmed().to_string()),
                id.and_then(|e| e.attr("schemeID")).unwrap_or("").to_string(),
            )
        }),
        postal_address: p.child("PostalTradeAddress").is_some(),
        id_schemes: p.all("GlobalID").filter_map(|g| g.attr("schemeID").map(str::to_string)).collect(),
        legal_id_scheme: p
            .at(&["SpecifiedLegalOrganization", "ID"])
            .and_then(|i| i.attr("schemeID"))
            .map(str::to_string),
        street: p.text_at(&["PostalTradeAddress", "LineOne"]),
        city: p.text_at(&["PostalTradeAddress", "CityName"]),
        zip: p.text_at(&["PostalTradeAddress", "PostcodeCode"]),
        country: p.code_at(&["PostalTradeAddress", "CountryID"]),
        contact: p.child("DefinedTradeContact").map(|c| {
            (
                c.text_at(&["PersonName"]),
                c.text_at(&["TelephoneUniversalCommunication", "CompleteNumber"]),
                c.text_at(&["EmailURIUniversalCommunication", "URIID"]),
            )
        }),
        ..Party::default()
    };
    // VA: the VAT identifier (BT-31, BT-48, BT-63); FC: the tax registration (BT-32). Other
    // schemes are neither.
    for r in p.all("SpecifiedTaxRegistration") {
        let id = r.child("ID");
        if let Some(i) = id {
            party.tax_schemes.push((i.attr("schemeID").unwrap_or("").to_string(), i.trimmed().to_string()));
        }
        let text = id.map(|i| i.trimmed().to_string()).filter(|t| !t.is_empty());
        match id.and_then(|i| i.attr("schemeID")) {
            Some("VA") => party.vat_id = text,
            Some("FC") => party.tax_registration_id = text,
            _ => {}
        }
    }
    party
}

/// A CII trade tax's category code, and whether it is of the VAT scheme (`TypeCode`).
fn cii_category(t: Option<&Node>) -> (Option<String>, bool) {
    match t {
        Some(t) => (t.code_at(&["CategoryCode"]), is_vat(t.text_at(&["TypeCode"]))),
        None => (None, false),
    }
}

fn cii_period(p: Option<&Node>) -> Option<Period> {
    p.map(|p| Period {
        start: date102(p.at(&["StartDateTime", "DateTimeString"])),
        end: date102(p.at(&["EndDateTime", "DateTimeString"])),
        code: None,
    })
}

fn cii_allowance(a: &Node, issues: &mut SyntaxIssues) -> AllowanceCharge {
    let (category, category_vat) = cii_category(a.child("CategoryTradeTax"));
    AllowanceCharge {
        charge: a.text_at(&["ChargeIndicator", "Indicator"]).as_deref() == Some("true"),
        amount: dec(a.child("ActualAmount"), "SpecifiedTradeAllowanceCharge/ActualAmount", issues),
        reason: a.text_at(&["Reason"]),
        reason_code: a.text_at(&["ReasonCode"]),
        category,
        category_vat,
        rate: dec(
            a.at(&["CategoryTradeTax", "RateApplicablePercent"]),
            "CategoryTradeTax/RateApplicablePercent",
            issues,
        ),
        base: dec(a.child("BasisAmount"), "SpecifiedTradeAllowanceCharge/BasisAmount", issues),
        percent: dec(a.child("CalculationPercent"), "SpecifiedTradeAllowanceCharge/CalculationPercent", issues),
    }
}

fn cii(root: &Node, issues: &mut SyntaxIssues) -> Doc {
    let tx = root.child("SupplyChainTradeTransaction");
    let agreement = tx.and_then(|t| t.child("ApplicableHeaderTradeAgreement"));
    let delivery = tx.and_then(|t| t.child("ApplicableHeaderTradeDelivery"));
    let settlement = tx.and_then(|t| t.child("ApplicableHeaderTradeSettlement"));
    let s = |path: &[&str]| settlement.and_then(|n| n.text_at(path));
    let cur = settlement.and_then(|n| n.code_at(&["InvoiceCurrencyCode"]));
    let tax_cur = s(&["TaxCurrencyCode"]);
    let type_code = root.code_at(&["ExchangedDocument", "TypeCode"]);
    // One type code element for both: a credit note's code (and not an invoice's) makes one.
    let credit = type_code.as_deref().is_some_and(|c| {
        super::codes::has(super::codes::List::CreditNoteType, c)
            && !super::codes::has(super::codes::List::InvoiceType, c)
    });
    let kind = if credit { Kind::CreditNote } else { Kind::Invoice };
    let mut vat = Vec::new();
    let mut allowances = Vec::new();
    let (mut tax_point_date, mut tax_point_code) = (None, None);
    if let Some(st) = settlement {
        for t in st.all("ApplicableTradeTax") {
            let (category, of_vat) = cii_category(Some(t));
            vat.push(VatRow {
                category: category.unwrap_or_default(),
                category_vat: of_vat,
                rate: dec(
                    t.child("RateApplicablePercent").filter(|_| of_vat),
                    "ApplicableTradeTax/RateApplicablePercent",
                    issues,
                ),
                base: dec(t.child("BasisAmount"), "ApplicableTradeTax/BasisAmount", issues),
                amount: dec(t.child("CalculatedAmount"), "ApplicableTradeTax/CalculatedAmount", issues),
                exemption_code: t.text_at(&["ExemptionReasonCode"]),
                exemption_reason: t.text_at(&["ExemptionReason"]),
            });
            tax_point_date = tax_point_date.or_else(|| t.text_at(&["TaxPointDate", "DateString"]));
            tax_point_code = tax_point_code.or_else(|| t.text_at(&["DueDateTypeCode"]));
        }
        for a in st.all("SpecifiedTradeAllowanceCharge") {
            allowances.push(cii_allowance(a, issues));
        }
    }
    let m = settlement.and_then(|n| n.child("SpecifiedTradeSettlementHeaderMonetarySummation"));
    let g = |name: &str, issues: &mut SyntaxIssues| dec(m.and_then(|m| m.child(name)), name, issues);
    let (mut vat_total, mut vat_acc) = (None, None);
    let mut in_currency = 0;
    // BR-CO-15 matches amounts to the code as written (`@currencyID = $Currency`).
    let written = settlement.and_then(|n| n.child("InvoiceCurrencyCode")).map(|c| c.text);
    if let Some(m) = m {
        for t in m.all("TaxTotalAmount") {
            in_currency += usize::from(t.attr("currencyID").is_some() && t.attr("currencyID") == written);
            let v = dec(Some(t), "TaxTotalAmount", issues);
            match t.attr("currencyID") {
                Some(c) if tax_cur.as_deref() == Some(c) && cur.as_deref() != Some(c) => vat_acc = v,
                Some(c) if cur.as_deref() != Some(c) && !(c.is_empty() && cur.is_none()) => {}
                // The rules find the total VAT by its currency: one without is not it.
                None => {}
                _ => vat_total = v,
            }
        }
    }
    let totals = Totals {
        line_total: g("LineTotalAmount", issues),
        allowance_total: g("AllowanceTotalAmount", issues),
        charge_total: g("ChargeTotalAmount", issues),
        tax_exclusive: g("TaxBasisTotalAmount", issues),
        vat_total,
        vat_total_accounting: vat_acc,
        tax_inclusive: g("GrandTotalAmount", issues),
        prepaid: g("TotalPrepaidAmount", issues),
        rounding: g("RoundingAmount", issues),
        payable: g("DuePayableAmount", issues),
        breakdown_vat: None,
        vat_totals_in_currency: in_currency,
        given: m.is_some(),
    };
    let mut lines = Vec::new();
    for l in tx.into_iter().flat_map(|t| t.all("IncludedSupplyChainTradeLineItem")) {
        let qty = l.at(&["SpecifiedLineTradeDelivery", "BilledQuantity"]);
        let settle = l.child("SpecifiedLineTradeSettlement");
        let product = l.child("SpecifiedTradeProduct");
        let (category, category_vat) = cii_category(settle.and_then(|s| s.child("ApplicableTradeTax")));
        lines.push(Line {
            id: l.text_at(&["AssociatedDocumentLineDocument", "LineID"]).unwrap_or_default(),
            quantity: dec(qty, "BilledQuantity", issues),
            unit: qty.and_then(|q| q.attr("unitCode")).map(str::to_string),
            net_amount: dec(
                settle.and_then(|s| s.at(&["SpecifiedTradeSettlementLineMonetarySummation", "LineTotalAmount"])),
                "LineTotalAmount",
                issues,
            ),
            price: dec(
                l.at(&["SpecifiedLineTradeAgreement", "NetPriceProductTradePrice", "ChargeAmount"]),
                "ChargeAmount",
                issues,
            ),
            base_quantity: dec(
                l.at(&["SpecifiedLineTradeAgreement", "NetPriceProductTradePrice", "BasisQuantity"]),
                "BasisQuantity",
                issues,
            ),
            item_name: l.text_at(&["SpecifiedTradeProduct", "Name"]),
            item_id: l.text_at(&["SpecifiedTradeProduct", "SellerAssignedID"]),
            category,
            category_vat,
            rate: dec(
                settle.and_then(|s| s.at(&["ApplicableTradeTax", "RateApplicablePercent"])),
                "RateApplicablePercent",
                issues,
            ),
            allowances: settle
                .into_iter()
                .flat_map(|s| s.all("SpecifiedTradeAllowanceCharge"))
                .map(|a| {
                    let a = cii_allowance(a, issues);
                    LineCharge {
                        charge: a.charge,
                        amount: a.amount,
                        reason: a.reason,
                        reason_code: a.reason_code,
                        base: a.base,
                        percent: a.percent,
                    }
                })
                .collect(),
            period: cii_period(settle.and_then(|s| s.child("BillingSpecifiedPeriod"))),
            gross_price: dec(
                l.at(&["SpecifiedLineTradeAgreement", "GrossPriceProductTradePrice", "ChargeAmount"]),
                "GrossPriceProductTradePrice/ChargeAmount",
                issues,
            ),
            attributes: product
                .into_iter()
                .flat_map(|p| p.all("ApplicableProductCharacteristic"))
                .map(|c| (c.text_at(&["Description"]), c.text_at(&["Value"])))
                .collect(),
            standard_ids: product
                .into_iter()
                .flat_map(|p| p.all("GlobalID"))
                .map(|g| (g.trimmed().to_string(), g.attr("schemeID").map(str::to_string)))
                .collect(),
            classifications: product
                .into_iter()
                .flat_map(|p| p.all("DesignatedProductClassification"))
                .filter_map(|c| c.child("ClassCode"))
                .map(|c| (c.trimmed().to_string(), c.attr("listID").map(str::to_string)))
                .collect(),
            origin_country: l.text_at(&["SpecifiedTradeProduct", "OriginTradeCountry", "ID"]),
            price_discount: dec(
                l.at(&[
                    "SpecifiedLineTradeAgreement",
                    "GrossPriceProductTradePrice",
                    "AppliedTradeAllowanceCharge",
                    "ActualAmount",
                ]),
                "GrossPriceProductTradePrice/AppliedTradeAllowanceCharge/ActualAmount",
                issues,
            ),
            order_line: l.text_at(&["SpecifiedLineTradeAgreement", "BuyerOrderReferencedDocument", "LineID"]),
        });
    }
    let terms = settlement.and_then(|s| s.child("SpecifiedTradePaymentTerms"));
    let payments: Vec<Payment> = settlement
        .into_iter()
        .flat_map(|s| s.all("SpecifiedTradeSettlementPaymentMeans"))
        .map(|m| Payment {
            code: m.text_at(&["TypeCode"]),
            account: m
                .text_at(&["PayeePartyCreditorFinancialAccount", "IBANID"])
                .or_else(|| m.text_at(&["PayeePartyCreditorFinancialAccount", "ProprietaryID"])),
            account_given: m.child("PayeePartyCreditorFinancialAccount").is_some(),
            account_id_given: m.at(&["PayeePartyCreditorFinancialAccount", "IBANID"]).is_some()
                || m.at(&["PayeePartyCreditorFinancialAccount", "ProprietaryID"]).is_some(),
            bic: m.text_at(&["PayeeSpecifiedCreditorFinancialInstitution", "BICID"]),
            card: m.text_at(&["ApplicableTradeSettlementFinancialCard", "ID"]),
            card_given: m.child("ApplicableTradeSettlementFinancialCard").is_some(),
            payment_id: s(&["PaymentReference"]),
            mandate: terms
                .and_then(|t| t.text_at(&["DirectDebitMandateID"]))
                .map(|id| (Some(id), m.text_at(&["PayerPartyDebtorFinancialAccount", "IBANID"]))),
        })
        .collect();
    let tax_rep = agreement.and_then(|a| a.child("SellerTaxRepresentativeTradeParty"));
    let (currencies, empty) = tree_facts(root);
    Doc {
        syntax: Syntax::Cii,
        kind,
        customization: root.text_at(&["ExchangedDocumentContext", "GuidelineSpecifiedDocumentContextParameter", "ID"]),
        profile: root.text_at(&["ExchangedDocumentContext", "BusinessProcessSpecifiedDocumentContextParameter", "ID"]),
        number: root.text_at(&["ExchangedDocument", "ID"]),
        // BR-03 looks for the issue date of format 102 (`DateTimeString[@format = '102']`).
        issue_date: date102(
            root.at(&["ExchangedDocument", "IssueDateTime", "DateTimeString"])
                .filter(|d| d.attr("format") == Some("102")),
        ),
        due_date: date102(terms.and_then(|t| t.at(&["DueDateDateTime", "DateTimeString"]))),
        type_code,
        currency_written: None,
        currency: cur,
        tax_currency: tax_cur,
        buyer_reference: agreement.and_then(|a| a.text_at(&["BuyerReference"])),
        order_reference: agreement.and_then(|a| a.text_at(&["BuyerOrderReferencedDocument", "IssuerAssignedID"])),
        preceding_invoice: s(&["InvoiceReferencedDocument", "IssuerAssignedID"]),
        preceding_without_id: settlement
            .into_iter()
            .flat_map(|s| s.all("InvoiceReferencedDocument"))
            .filter(|r| r.text_at(&["IssuerAssignedID"]).is_none())
            .count(),
        object_id_schemes: agreement
            .into_iter()
            .flat_map(|a| a.all("AdditionalReferencedDocument"))
            .filter(|r| r.text_at(&["TypeCode"]).as_deref() == Some("130"))
            .filter_map(|r| r.child("ReferenceTypeCode").map(|c| c.trimmed().to_string()))
            .collect(),
        amount_currencies: Some(currencies),
        empty_elements: Some(empty),
        delivery_date: date102(
            delivery.and_then(|d| d.at(&["ActualDeliverySupplyChainEvent", "OccurrenceDateTime", "DateTimeString"])),
        ),
        delivery_country: delivery.and_then(|d| d.code_at(&["ShipToTradeParty", "PostalTradeAddress", "CountryID"])),
        delivery_address: delivery.and_then(|d| d.at(&["ShipToTradeParty", "PostalTradeAddress"])).is_some(),
        delivery_city: delivery.and_then(|d| d.text_at(&["ShipToTradeParty", "PostalTradeAddress", "CityName"])),
        delivery_zip: delivery.and_then(|d| d.text_at(&["ShipToTradeParty", "PostalTradeAddress", "PostcodeCode"])),
        notes: root
            .child("ExchangedDocument")
            .into_iter()
            .flat_map(|e| e.all("IncludedNote"))
            .map(|n| n.text_at(&["Content"]).unwrap_or_default())
            .collect(),
        references: agreement
            .into_iter()
            .flat_map(|a| a.all("AdditionalReferencedDocument"))
            .map(|r| {
                let object = r.child("AttachmentBinaryObject");
                Reference {
                    id: r.text_at(&["IssuerAssignedID"]),
                    type_code: r.text_at(&["TypeCode"]),
                    description: r.text_at(&["Name"]),
                    uri: r.text_at(&["URIID"]),
                    filename: object.and_then(|o| o.attr("filename")).map(str::to_string),
                    mime: object.and_then(|o| o.attr("mimeCode")).map(str::to_string),
                }
            })
            .collect(),
        creditor_id: s(&["CreditorReferenceID"]),
        invoice_period: cii_period(settlement.and_then(|s| s.child("BillingSpecifiedPeriod"))),
        tax_point_date,
        tax_point_code,
        payments,
        payment_terms: terms.and_then(|t| t.text_kept_at(&["Description"])),
        seller: cii_party(agreement.and_then(|a| a.child("SellerTradeParty"))),
        buyer: cii_party(agreement.and_then(|a| a.child("BuyerTradeParty"))),
        payee: settlement.and_then(|s| s.child("PayeeTradeParty")).map(|p| Payee {
            name: p.text_at(&["Name"]),
            id: p.text_at(&["ID"]),
            legal_id: p.text_at(&["SpecifiedLegalOrganization", "ID"]),
        }),
        tax_rep: tax_rep.map(|p| cii_party(Some(p))),
        allowances,
        vat,
        totals,
        lines,
    }
}
