//! The syntax-binding rules of EN 16931 (UBL-SR, UBL-CR, CII-SR, CII-DT): how often an element
//! may occur and which elements and attributes a binding does not use. They look at the
//! element tree, which the semantic model does not keep; the writers never break them, so a
//! document invoiceflow builds is checked on its model alone.
//!
//! The official rules are one Schematron pattern per binding, in which an element is checked
//! by the first rule whose context it matches; where two contexts overlap, the rules here do
//! the same (noted where it matters).
//!
//! The PEPPOL BIS 3 rules that look at the tree rather than the model ([`peppol`]) are here
//! too: the reader reads, the rules judge.

use super::read::Node;
use super::xml::{ends_with, same, XmlTrim};

/// A finding: rule id and message.
pub type SyntaxFinding = (&'static str, String);

/// How many nodes a path of child names reaches from `n` (every child of each name).
fn count(n: &Node, path: &[&str]) -> usize {
    match path.split_first() {
        None => 1,
        Some((first, rest)) => n.all(first).map(|c| count(c, rest)).sum(),
    }
}

/// Each node a path reaches.
fn each<'a, 'x>(n: &'a Node<'x>, path: &[&str], out: &mut Vec<&'a Node<'x>>) {
    match path.split_first() {
        None => out.push(n),
        Some((first, rest)) => {
            for c in n.children.iter().filter(|c| same(c.name, first)) {
                each(c, rest, out);
            }
        }
    }
}

fn nodes<'a, 'x>(n: &'a Node<'x>, path: &[&str]) -> Vec<&'a Node<'x>> {
    let mut out = Vec::new();
    each(n, path, &mut out);
    out
}

/// `(rule, path, at most)`: the path occurs at most so often in its context.
type Limit = (&'static str, &'static [&'static str], usize);

fn limits(n: &Node, table: &[Limit], context: impl Fn() -> String, out: &mut Vec<SyntaxFinding>) {
    for (rule, path, max) in table {
        let c = count(n, path);
        if c > *max {
            out.push((*rule, format!("{}: {} occurs {c} times; at most {max}", context(), path.join("/"))));
        }
    }
}

/// `(rule, attribute)`: the binding does not use the attribute on this element.
fn no_attributes(n: &Node, rules: &[(&'static str, &str)], out: &mut Vec<SyntaxFinding>) {
    for (rule, attr) in rules {
        if n.attr(attr).is_some() {
            out.push((*rule, format!("<{}> takes no {attr}", n.name)));
        }
    }
}

/// `(rule, path)`: the binding does not use the element at the path under `n` (`what`).
fn no_children(n: &Node, what: &str, rules: &[(&'static str, &[&str])], out: &mut Vec<SyntaxFinding>) {
    for (rule, path) in rules {
        if n.at(path).is_some() {
            out.push((*rule, format!("{what} takes no {}", path.join("/"))));
        }
    }
}

/// Every element of the tree, each once, with its parent.
fn walk<'a, 'x>(root: &'a Node<'x>) -> Vec<(&'a Node<'x>, Option<&'a Node<'x>>)> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Node, Option<&Node>)> = vec![(root, None)];
    while let Some((n, parent)) = stack.pop() {
        out.push((n, parent));
        stack.extend(n.children.iter().rev().map(|c| (c, Some(n))));
    }
    out
}

const SUPPLIER: &str = "AccountingSupplierParty";
const CUSTOMER: &str = "AccountingCustomerParty";

/// The UBL syntax rules (fatal ones; UBL-SR-12/18/42/44/47 and UBL-DT-01/06/07 are in
/// `ubl_syntax`).
pub fn ubl(root: &Node) -> Vec<SyntaxFinding> {
    let mut out = ubl_syntax(root);
    const DOCUMENT: &[Limit] = &[
        ("UBL-SR-01", &["ContractDocumentReference", "ID"], 1),
        ("UBL-SR-02", &["ReceiptDocumentReference", "ID"], 1),
        ("UBL-SR-03", &["DespatchDocumentReference", "ID"], 1),
        ("UBL-SR-05", &["PaymentTerms", "Note"], 1),
        ("UBL-SR-08", &["InvoicePeriod"], 1),
        ("UBL-SR-09", &[SUPPLIER, "Party", "PartyLegalEntity", "RegistrationName"], 1),
        ("UBL-SR-10", &[SUPPLIER, "Party", "PartyName", "Name"], 1),
        ("UBL-SR-11", &[SUPPLIER, "Party", "PartyLegalEntity", "CompanyID"], 1),
        ("UBL-SR-14", &[SUPPLIER, "Party", "PartyLegalEntity", "CompanyLegalForm"], 1),
        ("UBL-SR-15", &[CUSTOMER, "Party", "PartyLegalEntity", "RegistrationName"], 1),
        ("UBL-SR-16", &[CUSTOMER, "Party", "PartyIdentification", "ID"], 1),
        ("UBL-SR-17", &[CUSTOMER, "Party", "PartyLegalEntity", "CompanyID"], 1),
        ("UBL-SR-24", &["Delivery"], 1),
        ("UBL-SR-39", &["ProjectReference", "ID"], 1),
        ("UBL-SR-40", &[CUSTOMER, "Party", "PartyName", "Name"], 1),
        ("UBL-SR-45", &["PaymentMeans", "PaymentDueDate"], 1),
        ("UBL-SR-49", &["InvoicePeriod", "DescriptionCode"], 1),
        ("UBL-SR-54", &["PaymentMeans", "CardAccount"], 1),
        ("UBL-SR-55", &["PaymentMeans", "PaymentMandate"], 1),
        ("UBL-SR-56", &["OriginatorDocumentReference", "ID"], 1),
    ];
    limits(root, DOCUMENT, || "the document".into(), &mut out);
    let objects: Vec<&Node> = root
        .all("AdditionalDocumentReference")
        .filter(|r| r.text_at(&["DocumentTypeCode"]).as_deref() == Some("130"))
        .collect();
    let object_ids: usize = objects.iter().map(|r| r.all("ID").count()).sum();
    if object_ids > 1 {
        out.push(("UBL-SR-04", format!("{object_ids} invoiced object identifiers (BT-18); at most one")));
    }
    if objects.iter().any(|r| r.child("Attachment").is_some()) {
        out.push(("UBL-CR-666", "an invoiced object reference (type 130) takes no attachment".into()));
    }
    if objects.iter().any(|r| r.child("DocumentDescription").is_some()) {
        out.push(("UBL-CR-673", "an invoiced object reference (type 130) takes no description".into()));
    }
    let other_tax_ids = root
        .at(&[SUPPLIER, "Party"])
        .into_iter()
        .flat_map(|p| p.all("PartyTaxScheme"))
        .filter(|t| t.at(&["TaxScheme", "ID"]).is_none_or(|i| i.text.to_uppercase() != "VAT"))
        .map(|t| t.all("CompanyID").count())
        .sum::<usize>();
    if other_tax_ids > 1 {
        out.push(("UBL-SR-13", format!("the seller has {other_tax_ids} tax registrations (BT-32); at most one")));
    }
    let means_names =
        root.all("PaymentMeans").flat_map(|m| m.all("PaymentMeansCode")).filter(|c| c.attr("name").is_some()).count();
    if means_names > 1 {
        out.push(("UBL-SR-46", format!("{means_names} payment means texts (BT-82); at most one")));
    }
    let kind_credit = root.name == "CreditNote";
    let supplier_names: Vec<&str> =
        nodes(root, &[SUPPLIER, "Party", "PartyLegalEntity", "RegistrationName"]).iter().map(|n| n.text).collect();
    let mut sepa_ids = 0;
    for n in root.elements() {
        match n.name {
            "PartyIdentification" => {
                sepa_ids +=
                    n.all("ID").filter(|i| i.attr("schemeID").is_some_and(|s| s.to_uppercase() == "SEPA")).count();
            }
            "PostalAddress" | "Address" if n.all("AddressLine").count() > 1 => {
                out.push((
                    "UBL-SR-51",
                    format!("<{}> has {} address lines; at most one", n.name, n.all("AddressLine").count()),
                ));
            }
            "AdditionalDocumentReference" => {
                if n.all("DocumentDescription").count() > 1 {
                    out.push(("UBL-SR-33", "a supporting document has more than one description".into()));
                }
                let code = n.child("DocumentTypeCode").map(|c| c.text);
                let allowed = code == Some("130")
                    || (kind_credit && code == Some("50"))
                    || (n.child("ID").and_then(|i| i.attr("schemeID")).is_none() && code.is_none());
                if !allowed {
                    out.push((
                        "UBL-SR-43",
                        format!("a document reference of type {code:?} (or with a scheme and no type) is neither an invoiced object (130) nor a supporting document"),
                    ));
                }
            }
            "Delivery" if count(n, &["DeliveryParty", "PartyName", "Name"]) > 1 => {
                out.push(("UBL-SR-25", "the deliver-to party has more than one name (BT-70)".into()));
            }
            "AllowanceCharge" if n.all("AllowanceChargeReason").count() > 1 => {
                match n.child("ChargeIndicator").map(|c| c.trimmed()) {
                    Some("false" | "0") => out.push(("UBL-SR-30", "an allowance has more than one reason".into())),
                    Some("true" | "1") => out.push(("UBL-SR-31", "a charge has more than one reason".into())),
                    _ => {}
                }
            }
            "PartyTaxScheme" if n.at(&["TaxScheme", "ID"]).is_none() || n.child("CompanyID").is_none() => {
                out.push((
                    "UBL-SR-53",
                    "a party tax scheme needs its scheme (TaxScheme/ID) and its identifier (CompanyID)".into(),
                ));
            }
            "InvoiceLine" | "CreditNoteLine" => {
                // The line's id, for messages only.
                let id = || n.text_at(&["ID"]).unwrap_or_default();
                const LINE: &[Limit] = &[
                    ("UBL-SR-34", &["Note"], 1),
                    ("UBL-SR-35", &["OrderLineReference", "LineID"], 1),
                    ("UBL-SR-36", &["InvoicePeriod"], 1),
                    ("UBL-SR-37", &["Price", "AllowanceCharge", "Amount"], 1),
                    ("UBL-SR-50", &["Item", "Description"], 1),
                    ("UBL-SR-52", &["DocumentReference"], 1),
                ];
                limits(n, LINE, || format!("line {}", id()), &mut out);
                let categories = count(n, &["Item", "ClassifiedTaxCategory"]);
                if categories != 1 {
                    out.push((
                        "UBL-SR-48",
                        format!("line {} has {categories} classified tax categories; exactly one", id()),
                    ));
                }
            }
            "PayeeParty" => {
                let names: Vec<&Node> = nodes(n, &["PartyName", "Name"]);
                // `(PartyName/Name) != (seller's RegistrationName)`: some pair differs.
                let differs = names.iter().any(|p| supplier_names.iter().any(|s| *s != p.text));
                let ids = n
                    .all("PartyIdentification")
                    .flat_map(|p| p.all("ID"))
                    .filter(|i| i.attr("schemeID").unwrap_or("").to_uppercase() != "SEPA")
                    .count();
                for (rule, ok, what) in [
                    ("UBL-SR-19", names.len() <= 1, "at most one name"),
                    ("UBL-SR-20", ids <= 1, "at most one identifier"),
                    ("UBL-SR-21", count(n, &["PartyLegalEntity", "CompanyID"]) <= 1, "at most one legal registration"),
                ] {
                    if !(ok && differs) {
                        out.push((rule, format!("the payee needs {what} and a name other than the seller's")));
                    }
                }
            }
            "PaymentMeans" => {
                const MEANS: &[Limit] = &[
                    ("UBL-SR-26", &["PaymentID"], 1),
                    ("UBL-SR-27", &["PaymentMeansCode"], 1),
                    ("UBL-SR-28", &["PaymentMandate", "ID"], 1),
                ];
                limits(n, MEANS, || "a payment instruction".into(), &mut out);
            }
            "BillingReference" => {
                if n.all("InvoiceDocumentReference").count() > 1 {
                    out.push(("UBL-SR-06", "a billing reference holds more than one preceding invoice".into()));
                }
                if n.at(&["InvoiceDocumentReference", "ID"]).is_none() {
                    out.push(("UBL-SR-07", "a billing reference needs its preceding invoice's number".into()));
                }
            }
            "TaxRepresentativeParty" => {
                const REP: &[Limit] =
                    &[("UBL-SR-22", &["PartyName", "Name"], 1), ("UBL-SR-23", &["PartyTaxScheme", "CompanyID"], 1)];
                limits(n, REP, || "the tax representative".into(), &mut out);
            }
            "TaxSubtotal" if count(n, &["TaxCategory", "TaxExemptionReason"]) > 1 => {
                out.push(("UBL-SR-32", "a VAT breakdown row has more than one exemption reason".into()));
            }
            _ => {}
        }
    }
    if sepa_ids > 1 {
        out.push(("UBL-SR-29", format!("{sepa_ids} bank assigned creditor identifiers (SEPA); at most one")));
    }
    out
}

/// `CII-DT-097`: `^\s*(\d{4})(1[0-2]|0[1-9])(3[01]|[12][0-9]|0[1-9])\s*$`.
fn yyyymmdd(t: &str) -> bool {
    let t = t.xml_trim();
    let b = t.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = (b[4] - b'0') * 10 + (b[5] - b'0');
    let day = (b[6] - b'0') * 10 + (b[7] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// The CII syntax rules (fatal ones).
pub fn cii(root: &Node) -> Vec<SyntaxFinding> {
    let mut out = Vec::new();
    let tx = root.child("SupplyChainTradeTransaction");
    if let Some(c) = root.child("ExchangedDocumentContext") {
        let params = c.all("GuidelineSpecifiedDocumentContextParameter").count();
        if params != 1 {
            out.push(("CII-SR-009", format!("{params} specification identifier groups; exactly one")));
        }
        let ids = count(c, &["GuidelineSpecifiedDocumentContextParameter", "ID"]);
        if ids != 1 {
            out.push(("CII-SR-010", format!("{ids} specification identifiers (BT-24); exactly one")));
        }
    }
    if let Some(e) = root.child("ExchangedDocument") {
        let codes = e.all("TypeCode").count();
        if codes != 1 {
            out.push(("CII-SR-014", format!("{codes} invoice type codes (BT-3); exactly one")));
        }
    }
    for line in tx.into_iter().flat_map(|t| t.all("IncludedSupplyChainTradeLineItem")) {
        // The line's id, for messages only.
        let id = || line.text_at(&["AssociatedDocumentLineDocument", "LineID"]).unwrap_or_default();
        if let Some(p) = line.child("SpecifiedTradeProduct") {
            if p.all("GlobalID").next().is_some() && !p.all("GlobalID").any(|g| g.attr("schemeID").is_some()) {
                out.push(("CII-SR-046", format!("line {}: an item's standard identifier needs its scheme", id())));
            }
            if p.child("OriginTradeCountry").is_some() && count(p, &["OriginTradeCountry", "ID"]) != 1 {
                out.push(("CII-SR-090", format!("line {}: the country of origin needs exactly one code", id())));
            }
            for c in p.all("ApplicableProductCharacteristic") {
                if c.all("Description").count() != 1 {
                    out.push(("CII-SR-069", format!("line {}: an item attribute needs exactly one name", id())));
                }
                if c.all("Value").count() != 1 {
                    out.push(("CII-SR-072", format!("line {}: an item attribute needs exactly one value", id())));
                }
            }
        }
        if let Some(a) = line.child("SpecifiedLineTradeAgreement") {
            let prices = count(a, &["NetPriceProductTradePrice", "ChargeAmount"]);
            if prices != 1 {
                out.push(("CII-SR-439", format!("line {}: {prices} net prices (BT-146); exactly one", id())));
            }
            if prices > 1 {
                out.push(("CII-SR-441", format!("line {}: {prices} net prices (BT-146); at most one", id())));
            }
        }
    }
    if let Some(a) = tx.and_then(|t| t.child("ApplicableHeaderTradeAgreement")) {
        const AGREEMENT: &[Limit] = &[
            ("CII-SR-455", &["SellerTradeParty", "DefinedTradeContact"], 1),
            ("CII-SR-456", &["BuyerTradeParty", "DefinedTradeContact"], 1),
            ("CII-SR-459", &["SellerTradeParty", "URIUniversalCommunication"], 1),
            ("CII-SR-460", &["BuyerTradeParty", "URIUniversalCommunication"], 1),
        ];
        limits(a, AGREEMENT, || "the trade agreement".into(), &mut out);
    }
    if let Some(s) = tx.and_then(|t| t.child("ApplicableHeaderTradeSettlement")) {
        limits(s, &[("CII-SR-461", &["ApplicableTradeTax", "TaxPointDate"], 1)], || "the settlement".into(), &mut out);
        let bad_transfers = s
            .all("SpecifiedTradeSettlementPaymentMeans")
            .filter(|m| matches!(m.text_at(&["TypeCode"]).as_deref(), Some("30" | "58")))
            .filter(|m| {
                m.at(&["PayeePartyCreditorFinancialAccount", "IBANID"]).is_none()
                    && m.at(&["PayeePartyCreditorFinancialAccount", "ProprietaryID"]).is_none()
            })
            .count();
        if bad_transfers > 0 {
            out.push((
                "CII-SR-470",
                "a credit transfer (30, 58) needs the account's IBAN or proprietary identifier".into(),
            ));
        }
        if let Some(m) = s.child("SpecifiedTradeSettlementHeaderMonetarySummation") {
            const TOTALS: &[(&str, &str)] = &[
                ("CII-SR-477", "LineTotalAmount"),
                ("CII-SR-478", "ChargeTotalAmount"),
                ("CII-SR-479", "AllowanceTotalAmount"),
                ("CII-SR-480", "TaxBasisTotalAmount"),
                ("CII-SR-481", "RoundingAmount"),
                ("CII-SR-482", "GrandTotalAmount"),
                ("CII-SR-483", "InformationAmount"),
                ("CII-SR-484", "TotalPrepaidAmount"),
                ("CII-SR-485", "TotalDiscountAmount"),
                ("CII-SR-486", "TotalAllowanceChargeAmount"),
                ("CII-SR-487", "DuePayableAmount"),
                ("CII-SR-488", "RetailValueExcludingTaxInformationAmount"),
                ("CII-SR-489", "TotalDepositFeeInformationAmount"),
                ("CII-SR-490", "ProductValueExcludingTobaccoTaxInformationAmount"),
                ("CII-SR-491", "TotalRetailValueInformationAmount"),
                ("CII-SR-492", "GrossLineTotalAmount"),
                ("CII-SR-493", "NetLineTotalAmount"),
                ("CII-SR-494", "NetIncludingTaxesLineTotalAmount"),
            ];
            for (rule, name) in TOTALS {
                let c = m.all(name).count();
                if c > 1 {
                    out.push((*rule, format!("the document totals hold {c} {name}; at most one")));
                }
            }
        }
    }
    for attr in [("CII-DT-013", "languageID"), ("CII-DT-014", "languageLocaleID")] {
        if root.attr(attr.1).is_some() {
            out.push((attr.0, format!("the root element takes no {} attribute", attr.1)));
        }
    }
    let all = walk(root);
    let texts_of = |name: &str, parent: &str| -> Vec<String> {
        all.iter()
            .filter(|(n, p)| n.name == name && p.is_some_and(|p| p.name == parent))
            .map(|(n, _)| n.text.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let means = texts_of("TypeCode", "SpecifiedTradeSettlementPaymentMeans");
    if means.iter().any(|c| *c != means[0]) {
        out.push(("CII-SR-467", format!("payment means codes {} differ", means.join(", "))));
    }
    let info = texts_of("Information", "SpecifiedTradeSettlementPaymentMeans");
    if info.iter().any(|c| *c != info[0]) {
        out.push(("CII-SR-468", "payment means texts (BT-82) differ".into()));
    }
    let references = texts_of("PaymentReference", "ApplicableHeaderTradeSettlement").len();
    if references > 1 {
        out.push(("CII-SR-469", format!("{references} remittance informations (BT-83); at most one")));
    }
    let mut due_codes = texts_of("DueDateTypeCode", "ApplicableTradeTax");
    due_codes.sort();
    due_codes.dedup();
    if due_codes.len() > 1 {
        out.push(("CII-SR-462", format!("VAT point date codes {} differ", due_codes.join(", "))));
    }
    let billed_unit = tx
        .into_iter()
        .flat_map(|t| t.all("IncludedSupplyChainTradeLineItem"))
        .any(|l| l.at(&["SpecifiedLineTradeDelivery", "BilledQuantity"]).is_some_and(|q| q.attr("unitCode").is_some()));
    // The identifiers the rules CII-DT-001 … 007 take (and CII-DT-101 … 104 then do not).
    let special_id = |n: &Node, p: Option<&Node>| {
        matches!(
            (p.map(|p| p.name), n.name),
            (Some("GuidelineSpecifiedDocumentContextParameter" | "ExchangedDocument"), "ID")
                | (Some("AssociatedDocumentLineDocument"), "LineID")
                | (Some("SpecifiedTradeProduct"), "SellerAssignedID")
        )
    };
    for (n, parent) in &all {
        let name = n.name;
        // The first rule whose context an element matches is the one that checks it.
        if special_id(n, *parent) {
            no_attributes(
                n,
                &[
                    ("CII-DT-001", "schemeName"),
                    ("CII-DT-002", "schemeAgencyName"),
                    ("CII-DT-003", "schemeDataURI"),
                    ("CII-DT-004", "schemeURI"),
                    ("CII-DT-005", "schemeID"),
                    ("CII-DT-006", "schemeAgencyID"),
                    ("CII-DT-007", "schemeVersionID"),
                ],
                &mut out,
            );
            continue;
        }
        if ends_with(name, "ID") {
            no_attributes(
                n,
                &[
                    ("CII-DT-101", "schemeName"),
                    ("CII-DT-102", "schemeAgencyName"),
                    ("CII-DT-103", "schemeDataURI"),
                    ("CII-DT-104", "schemeURI"),
                ],
                &mut out,
            );
            continue;
        }
        if name == "TypeCode" {
            // (CII-DT-010 … 012 come after this rule and so never check an element.)
            no_attributes(n, &[("CII-DT-008", "name"), ("CII-DT-009", "listURI")], &mut out);
            continue;
        }
        if ends_with(name, "ReferencedDocument") {
            let additional = name == "AdditionalReferencedDocument";
            let code = n.child("TypeCode").map(|c| c.text);
            let has = |c: &str| n.child(c).is_some();
            let checks: [(&str, bool, &str); 16] = [
                ("CII-DT-015", !has("URIID") || (additional && code == Some("916")), "URIID"),
                ("CII-DT-016", !has("StatusCode"), "StatusCode"),
                ("CII-DT-017", !has("CopyIndicator"), "CopyIndicator"),
                (
                    "CII-DT-018",
                    !has("TypeCode") || (additional && matches!(code, Some("50" | "130" | "916"))),
                    "TypeCode",
                ),
                ("CII-DT-019", !has("GlobalID"), "GlobalID"),
                ("CII-DT-020", !has("RevisionID"), "RevisionID"),
                ("CII-DT-021", !has("Name") || (additional && code == Some("916")), "Name"),
                (
                    "CII-DT-022",
                    !has("AttachmentBinaryObject") || (additional && code == Some("916")),
                    "AttachmentBinaryObject",
                ),
                ("CII-DT-023", !has("Information"), "Information"),
                ("CII-DT-024", !has("ReferenceTypeCode") || (additional && code == Some("130")), "ReferenceTypeCode"),
                ("CII-DT-025", !has("SectionName"), "SectionName"),
                ("CII-DT-026", !has("PreviousRevisionID"), "PreviousRevisionID"),
                (
                    "CII-DT-027",
                    !has("FormattedIssueDateTime") || name == "InvoiceReferencedDocument",
                    "FormattedIssueDateTime",
                ),
                ("CII-DT-028", !has("EffectiveSpecifiedPeriod"), "EffectiveSpecifiedPeriod"),
                ("CII-DT-029", !has("IssuerTradeParty"), "IssuerTradeParty"),
                ("CII-DT-030", !has("AttachedSpecifiedBinaryFile"), "AttachedSpecifiedBinaryFile"),
            ];
            for (rule, ok, what) in checks {
                if !ok {
                    out.push((rule, format!("<{name}> takes no {what} here")));
                }
            }
            continue;
        }
        if ends_with(name, "Amount") && name != "TaxTotalAmount" {
            no_attributes(n, &[("CII-DT-031", "currencyID"), ("CII-DT-032", "currencyCodeListVersionID")], &mut out);
            continue;
        }
        if ends_with(name, "Quantity") {
            if n.attr("unitCode").is_some() && !billed_unit {
                out.push(("CII-DT-033", format!("<{name}> has a unit while no invoiced quantity has one")));
            }
            no_attributes(
                n,
                &[
                    ("CII-DT-034", "unitCodeListID"),
                    ("CII-DT-035", "unitCodeListAgencyID"),
                    ("CII-DT-036", "unitCodeListAgencyName"),
                ],
                &mut out,
            );
            continue;
        }
        if ends_with(name, "TradeTax") {
            if let Some(t) = n.child("TypeCode").filter(|t| t.text != "VAT") {
                out.push(("CII-DT-037", format!("<{name}>: tax type code `{}` is not VAT", t.text)));
            }
            continue;
        }
        if name == "BillingSpecifiedPeriod" {
            no_children(
                n,
                "a billing period",
                &[
                    ("CII-DT-068", &["StartDateTime", "DateTime"]),
                    ("CII-DT-069", &["DurationMeasure"]),
                    ("CII-DT-070", &["InclusiveIndicator"]),
                    ("CII-DT-071", &["Description"]),
                    ("CII-DT-072", &["EndDateTime", "DateTime"]),
                    ("CII-DT-073", &["CompleteDateTime"]),
                    ("CII-DT-074", &["OpenIndicator"]),
                    ("CII-DT-075", &["SeasonCode"]),
                    ("CII-DT-076", &["ID"]),
                    ("CII-DT-077", &["Name"]),
                    ("CII-DT-078", &["SequenceNumeric"]),
                    ("CII-DT-079", &["StartDateFlexibilityCode"]),
                    ("CII-DT-080", &["ContinuousIndicator"]),
                    ("CII-DT-081", &["PurposeCode"]),
                ],
                &mut out,
            );
            continue;
        }
        if name == "PostalTradeAddress" {
            no_children(
                n,
                "a postal address",
                &[
                    ("CII-DT-082", &["ID"]),
                    ("CII-DT-083", &["PostOfficeBox"]),
                    ("CII-DT-084", &["BuildingName"]),
                    ("CII-DT-086", &["LineFour"]),
                    ("CII-DT-087", &["LineFive"]),
                    ("CII-DT-088", &["StreetName"]),
                    ("CII-DT-089", &["CitySubDivisionName"]),
                    ("CII-DT-090", &["CountryName"]),
                    ("CII-DT-091", &["CountrySubDivisionID"]),
                    ("CII-DT-092", &["AttentionOf"]),
                    ("CII-DT-093", &["CareOf"]),
                    ("CII-DT-094", &["BuildingNumber"]),
                    ("CII-DT-095", &["DepartmentName"]),
                    ("CII-DT-096", &["AdditionalStreetName"]),
                ],
                &mut out,
            );
            continue;
        }
        if name == "DateTimeString" && n.attr("format") == Some("102") && !yyyymmdd(n.text) {
            out.push(("CII-DT-097", format!("date `{}` of format 102 is not YYYYMMDD", n.trimmed())));
        }
    }
    // The allowances and charges (their own rules, whose contexts no other rule shares).
    for (n, parent) in &all {
        if n.name == "SpecifiedTradeAllowanceCharge" {
            if n.child("ChargeIndicator").is_none() {
                out.push(("CII-SR-463", "an allowance or charge needs its indicator".into()));
            }
            const CHARGE: &[Limit] = &[
                ("CII-SR-471", &["RateApplicablePercent"], 1),
                ("CII-SR-472", &["CategoryTradeTax"], 1),
                ("CII-SR-473", &["ActualAmount"], 1),
            ];
            limits(n, CHARGE, || "an allowance or charge".into(), &mut out);
        }
        if n.name == "AppliedTradeAllowanceCharge"
            && parent.is_some_and(|p| p.name == "GrossPriceProductTradePrice")
            && n.all("ActualAmount").count() > 1
        {
            out.push(("CII-SR-440", "a price discount has more than one amount".into()));
        }
    }
    out
}

/// The UBL syntax rules the tree shows and the model does not keep (counts of elements, the
/// written form of amounts, attachment attributes): UBL-SR-12/18/42/44/47, UBL-DT-01/06/07.
/// Our writers never break them.
fn ubl_syntax(root: &Node) -> Vec<SyntaxFinding> {
    let mut out = Vec::new();
    let vat_ids = |party: Option<&Node>| {
        party
            .and_then(|p| p.child("Party"))
            .into_iter()
            .flat_map(|p| p.all("PartyTaxScheme"))
            .filter(|t| super::read::is_vat(t.text_at(&["TaxScheme", "ID"])) && t.child("CompanyID").is_some())
            .count()
    };
    for (rule, party, who) in [
        ("UBL-SR-12", root.child("AccountingSupplierParty"), "seller"),
        ("UBL-SR-18", root.child("AccountingCustomerParty"), "buyer"),
    ] {
        if vat_ids(party) > 1 {
            out.push((rule, format!("the {who}'s VAT identifier occurs more than once")));
        }
    }
    let schemes = root.at(&["AccountingSupplierParty", "Party"]).map_or(0, |p| p.all("PartyTaxScheme").count());
    if schemes > 2 {
        out.push(("UBL-SR-42", format!("the seller has {schemes} party tax schemes; at most two")));
    }
    let mut payment_ids: Vec<&str> = Vec::new();
    let mut means_codes: Vec<&str> = Vec::new();
    // Every element, with whether it lies in a price's allowance (whose amounts may have more
    // decimals).
    let mut stack: Vec<(&Node, bool)> = vec![(root, false)];
    while let Some((n, in_price)) = stack.pop() {
        match n.name {
            "PaymentID" => payment_ids.push(n.trimmed()),
            "PaymentMeansCode" => means_codes.push(n.trimmed()),
            name if ends_with(name, "BinaryObject") => {
                if n.attr("mimeCode").is_none() {
                    out.push(("UBL-DT-06", format!("<{name}> has no mimeCode")));
                }
                if n.attr("filename").is_none() {
                    out.push(("UBL-DT-07", format!("<{name}> has no filename")));
                }
            }
            name if ends_with(name, "Amount") && !ends_with(name, "PriceAmount") && !in_price => {
                let decimals = n.text.bytes().position(|c| c == b'.').map_or(0, |k| n.text[k + 1..].chars().count());
                if decimals > 2 {
                    out.push(("UBL-DT-01", format!("<{name}> {} has more than two decimals", n.trimmed())));
                }
            }
            _ => {}
        }
        let price_allowance = n.name == "Price";
        for c in n.children {
            stack.push((c, in_price || (price_allowance && c.name == "AllowanceCharge")));
        }
    }
    payment_ids.sort_unstable();
    payment_ids.dedup();
    if payment_ids.len() > 1 {
        out.push(("UBL-SR-44", format!("{} different payment identifiers; at most one", payment_ids.len())));
    }
    means_codes.sort_unstable();
    means_codes.dedup();
    if means_codes.len() > 1 {
        out.push(("UBL-SR-47", format!("payment means codes {} differ", means_codes.join(", "))));
    }
    out
}

/// The PEPPOL BIS Billing 3.0 rules on a UBL document's element tree that the model does not
/// keep (the written form of indicators and dates, counts of tax totals and line references,
/// unit codes of base quantities, exemption codes of allowances' categories):
/// PEPPOL-EN16931-R043/R044/R053/R054/R100/R101/R130/F001/P0104–P0111, and the Danish DK-R-003
/// and DK-R-013 (for a Danish seller and buyer, `danish`). Our writers never break them.
pub fn peppol(root: &Node, danish: bool) -> Vec<SyntaxFinding> {
    let mut out = Vec::new();
    let indicator = |a: &Node| a.child("ChargeIndicator").map_or(String::new(), |c| c.trimmed().to_string());
    let lines: Vec<&Node> =
        root.children.iter().filter(|c| c.name == "InvoiceLine" || c.name == "CreditNoteLine").collect();
    for a in root.all("AllowanceCharge").chain(lines.iter().flat_map(|l| l.all("AllowanceCharge"))) {
        let i = indicator(a);
        if i != "true" && i != "false" {
            out.push(("PEPPOL-EN16931-R043", format!("allowance/charge indicator `{i}` is neither true nor false")));
        }
    }
    let with_subtotals = root.all("TaxTotal").filter(|t| t.child("TaxSubtotal").is_some()).count();
    if with_subtotals != 1 {
        out.push(("PEPPOL-EN16931-R053", format!("{with_subtotals} tax totals with a VAT breakdown; exactly one")));
    }
    let without = root.all("TaxTotal").filter(|t| t.child("TaxSubtotal").is_none()).count();
    let expected = usize::from(root.child("TaxCurrencyCode").is_some());
    if without != expected {
        out.push((
            "PEPPOL-EN16931-R054",
            format!("{without} tax totals without a VAT breakdown; {expected} with this VAT accounting currency"),
        ));
    }
    for l in &lines {
        let id = l.text_at(&["ID"]).unwrap_or_default();
        let refs: Vec<&Node> = l.all("DocumentReference").collect();
        if refs.len() > 1 {
            out.push(("PEPPOL-EN16931-R100", format!("line {id}: {} invoiced objects; at most one", refs.len())));
        }
        if !refs.is_empty() && !refs.iter().any(|r| r.text_at(&["DocumentTypeCode"]).is_some_and(|c| c == "130")) {
            out.push((
                "PEPPOL-EN16931-R101",
                format!("line {id}: a document reference must be the invoiced object (130)"),
            ));
        }
        if let Some(price) = l.child("Price") {
            for a in price.all("AllowanceCharge") {
                if indicator(a) != "false" {
                    out.push((
                        "PEPPOL-EN16931-R044",
                        format!("line {id}: a price allows no charge, only an allowance"),
                    ));
                }
            }
            let qty = l.child("InvoicedQuantity").or_else(|| l.child("CreditedQuantity"));
            if let (Some(unit), Some(q)) = (price.child("BaseQuantity").and_then(|b| b.attr("unitCode")), qty) {
                if q.attr("unitCode") != Some(unit) {
                    out.push((
                        "PEPPOL-EN16931-R130",
                        format!(
                            "line {id}: the base quantity's unit {unit} is not the invoiced quantity's {:?}",
                            q.attr("unitCode")
                        ),
                    ));
                }
            }
        }
        if danish {
            for c in l.at(&["Item"]).into_iter().flat_map(|i| i.all("CommodityClassification")) {
                let Some(code) = c.child("ItemClassificationCode") else { continue };
                let version = code.attr("listVersionID").unwrap_or("");
                if code.attr("listID") == Some("TST")
                    && !["19.05.01", "19.0501", "26.08.01", "26.0801"].contains(&version)
                {
                    out.push(("DK-R-003", format!("line {id}: UNSPSC classification (TST) must be version 19.05.01 or 26.08.01, not `{version}`")));
                }
            }
        }
    }
    if danish {
        for party in ["AccountingSupplierParty", "AccountingCustomerParty"] {
            for i in root.at(&[party, "Party"]).into_iter().flat_map(|p| p.all("PartyIdentification")) {
                if i.child("ID").is_some_and(|id| id.attr("schemeID").unwrap_or("").trim().is_empty()) {
                    out.push((
                        "DK-R-013",
                        format!("Danish seller and buyer: a party identifier of the {party} needs its scheme"),
                    ));
                }
            }
        }
    }
    const VATEX: &[(&str, &str, &str)] = &[
        ("VATEX-EU-G", "G", "PEPPOL-EN16931-P0104"),
        ("VATEX-EU-O", "O", "PEPPOL-EN16931-P0105"),
        ("VATEX-EU-IC", "K", "PEPPOL-EN16931-P0106"),
        ("VATEX-EU-AE", "AE", "PEPPOL-EN16931-P0107"),
        ("VATEX-EU-D", "E", "PEPPOL-EN16931-P0108"),
        ("VATEX-EU-F", "E", "PEPPOL-EN16931-P0109"),
        ("VATEX-EU-I", "E", "PEPPOL-EN16931-P0110"),
        ("VATEX-EU-J", "E", "PEPPOL-EN16931-P0111"),
    ];
    const DATES: &[&str] = &["IssueDate", "DueDate", "TaxPointDate", "StartDate", "EndDate", "ActualDeliveryDate"];
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if n.name == "TaxCategory" {
            if let Some(code) = n.child("TaxExemptionReasonCode").map(|c| c.text.to_uppercase()) {
                if let Some((_, cat, rule)) = VATEX.iter().find(|(v, _, _)| *v == code) {
                    let id = n.text_at(&["ID"]).unwrap_or_default();
                    if id != *cat {
                        out.push((*rule, format!("exemption code {code} needs VAT category {cat}, not `{id}`")));
                    }
                }
            }
        }
        if DATES.contains(&n.name) {
            let t = &n.text;
            if t.len() != 10 || crate::model::Date::parse_iso(t).is_none() {
                out.push(("PEPPOL-EN16931-F001", format!("<{}> `{t}` is not a date written YYYY-MM-DD", n.name)));
            }
        }
        stack.extend(n.children.iter());
    }
    out
}
