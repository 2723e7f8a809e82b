//! Reading UBL 2.1 and CII D16B documents into the semantic model. The XML is parsed with
//! quick-xml; a document with a DOCTYPE is refused, and no entity but the five predefined
//! ones and character references is resolved, so no external entity can be reached.

use std::str::FromStr;

use quick_xml::events::Event;
use quick_xml::Reader;
use rust_decimal::Decimal;

use super::{AllowanceCharge, Doc, Kind, Line, Party, Totals, VatRow};

/// An element: local name, attributes (local names), text, children.
#[derive(Debug, Default, Clone)]
pub struct Node {
    /// Local name (namespace prefix dropped).
    pub name: String,
    /// Attributes.
    pub attrs: Vec<(String, String)>,
    /// Text content.
    pub text: String,
    /// Child elements.
    pub children: Vec<Node>,
}

impl Node {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    /// Every child called `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    /// The node at a path of child names.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |n, p| n.child(p))
    }
    /// The trimmed text at a path, when not empty.
    pub fn text_at(&self, path: &[&str]) -> Option<String> {
        self.at(path).map(|n| n.text.trim().to_string()).filter(|t| !t.is_empty())
    }
    /// An attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Why a file cannot be read as an e-invoice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Not well-formed XML.
    #[error("not well-formed XML at byte {position}: {message}")]
    Xml {
        /// Byte offset.
        position: u64,
        /// The parser's message.
        message: String,
    },
    /// A DOCTYPE or an unknown entity.
    #[error("{0}")]
    Refused(String),
    /// Neither UBL Invoice/CreditNote nor CII.
    #[error("the root element <{0}> is neither a UBL Invoice or CreditNote nor a CII CrossIndustryInvoice")]
    UnknownRoot(String),
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    match s.rfind(':') {
        Some(i) => s[i + 1..].to_string(),
        None => s.into_owned(),
    }
}

fn entity(name: &str) -> Result<char, ReadError> {
    Ok(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else {
                name.strip_prefix('#').and_then(|d| d.parse().ok())
            };
            return code.and_then(char::from_u32).ok_or_else(|| {
                ReadError::Refused(format!("the entity &{name}; is not resolved (only the predefined ones are)"))
            });
        }
    })
}

/// The deepest nesting of elements read (the root is level 1). UBL and CII invoices nest about
/// ten levels, signatures in extensions a few more; a document nested deeper is refused, so that
/// no hostile file can exhaust the stack of whatever walks the tree (its drop included).
pub const MAX_DEPTH: usize = 200;

/// The largest document read (100 MiB). E-invoices are kilobytes, a few megabytes with
/// embedded attachments; a larger file is refused before it is parsed.
pub const MAX_DOCUMENT_BYTES: u64 = 100 << 20;

/// Parses XML into a tree: without recursion, at most [`MAX_DEPTH`] levels and
/// [`MAX_DOCUMENT_BYTES`] bytes.
pub fn parse(xml: &[u8]) -> Result<Node, ReadError> {
    if xml.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(too_large(xml.len() as u64));
    }
    let mut reader = Reader::from_reader(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut buf = Vec::new();
    let xml_err = |r: &Reader<&[u8]>, e: &dyn std::fmt::Display| ReadError::Xml {
        position: r.buffer_position(),
        message: e.to_string(),
    };
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| xml_err(&reader, &e))?;
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                // Where the tag starts: `<`, its bytes, `>` were just read.
                let at = reader.buffer_position().saturating_sub(e.len() as u64 + 2);
                let mut node = Node { name: local(e.name().as_ref()), ..Node::default() };
                for a in e.attributes() {
                    let a = a.map_err(|e| xml_err(&reader, &e))?;
                    let v = a.unescape_value().map_err(|e| xml_err(&reader, &e))?;
                    node.attrs.push((local(a.key.as_ref()), v.into_owned()));
                }
                if empty {
                    if let Some(top) = stack.last_mut() {
                        top.children.push(node);
                    }
                } else {
                    // The document node is the stack's first entry: the root is level 1.
                    if stack.len() > MAX_DEPTH {
                        return Err(ReadError::Refused(format!(
                            "elements nest deeper than {MAX_DEPTH} levels (at <{}>, byte {}): e-invoices nest about ten: the document is refused",
                            node.name, at
                        )));
                    }
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| ReadError::Refused("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Err(ReadError::Refused("unbalanced end tag".into())),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| xml_err(&reader, &e))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                let s = String::from_utf8_lossy(&t).into_owned();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| xml_err(&reader, &e))?;
                let c = entity(&name)?;
                if let Some(top) = stack.last_mut() {
                    top.text.push(c);
                }
            }
            Event::DocType(_) => {
                return Err(ReadError::Refused("documents with a DOCTYPE are refused (no entity is resolved)".into()))
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let mut doc = stack.pop().unwrap_or_default();
    if !stack.is_empty() {
        return Err(ReadError::Refused("the document ends inside an element".into()));
    }
    doc.children.pop().ok_or_else(|| ReadError::Refused("the document has no root element".into()))
}

/// The refusal of a document of `bytes` bytes, larger than [`MAX_DOCUMENT_BYTES`].
pub fn too_large(bytes: u64) -> ReadError {
    ReadError::Refused(format!(
        "the file has {bytes} bytes; documents over {} MiB are refused unread (e-invoices are kilobytes, a few megabytes with attachments)",
        MAX_DOCUMENT_BYTES >> 20
    ))
}

/// Syntax problems met while mapping (a value that is not a number, …): (path, message).
pub type SyntaxIssues = Vec<(String, String)>;

fn dec(n: Option<&Node>, path: &str, issues: &mut SyntaxIssues) -> Option<Decimal> {
    let t = n?.text.trim();
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

fn date102(n: Option<&Node>) -> Option<String> {
    let t = n?.text.trim().to_string();
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
    let root = parse(xml)?;
    let mut issues = Vec::new();
    let doc = match root.name.as_str() {
        "Invoice" => ubl(&root, Kind::Invoice, &mut issues),
        "CreditNote" => ubl(&root, Kind::CreditNote, &mut issues),
        "CrossIndustryInvoice" => cii(&root, &mut issues),
        other => return Err(ReadError::UnknownRoot(other.to_string())),
    };
    Ok((doc, issues))
}

fn ubl_party(p: Option<&Node>) -> Party {
    let Some(p) = p.and_then(|p| p.child("Party")) else { return Party::default() };
    let mut party = Party {
        id: p
            .all("PartyIdentification")
            .filter_map(|i| i.child("ID"))
            .find(|i| i.attr("schemeID") != Some("SEPA"))
            .map(|i| i.text.trim().to_string())
            .filter(|t| !t.is_empty()),
        name: p.text_at(&["PartyLegalEntity", "RegistrationName"]),
        legal_id: p.text_at(&["PartyLegalEntity", "CompanyID"]),
        endpoint: p
            .child("EndpointID")
            .map(|e| (e.text.trim().to_string(), e.attr("schemeID").unwrap_or("").to_string())),
        street: p.text_at(&["PostalAddress", "StreetName"]),
        city: p.text_at(&["PostalAddress", "CityName"]),
        zip: p.text_at(&["PostalAddress", "PostalZone"]),
        country: p.text_at(&["PostalAddress", "Country", "IdentificationCode"]),
        contact: p
            .child("Contact")
            .map(|c| (c.text_at(&["Name"]), c.text_at(&["Telephone"]), c.text_at(&["ElectronicMail"]))),
        scheme_ids: p
            .all("PartyIdentification")
            .filter_map(|i| i.child("ID"))
            .chain(p.child("PartyLegalEntity").and_then(|l| l.child("CompanyID")))
            .filter_map(|i| i.attr("schemeID").map(|s| (s.to_string(), i.text.clone())))
            .collect(),
        ..Party::default()
    };
    for ts in p.all("PartyTaxScheme") {
        let id = ts.text_at(&["CompanyID"]);
        if ts.text_at(&["TaxScheme", "ID"]).as_deref() == Some("VAT") {
            party.vat_id = id;
        } else {
            party.tax_registration_id = id;
        }
    }
    party
}

fn ubl(root: &Node, kind: Kind, issues: &mut SyntaxIssues) -> Doc {
    let cur = root.text_at(&["DocumentCurrencyCode"]);
    let tax_cur = root.text_at(&["TaxCurrencyCode"]);
    let mut vat = Vec::new();
    let (mut vat_total, mut vat_acc) = (None, None);
    for tt in root.all("TaxTotal") {
        let amount = dec(tt.child("TaxAmount"), "TaxTotal/TaxAmount", issues);
        let c = tt.child("TaxAmount").and_then(|a| a.attr("currencyID"));
        if tax_cur.is_some() && c == tax_cur.as_deref() && c != cur.as_deref() {
            vat_acc = amount;
            continue;
        }
        vat_total = amount;
        for st in tt.all("TaxSubtotal") {
            let cat = st.child("TaxCategory");
            vat.push(VatRow {
                category: cat.and_then(|c| c.text_at(&["ID"])).unwrap_or_default(),
                rate: dec(cat.and_then(|c| c.child("Percent")), "TaxCategory/Percent", issues),
                base: dec(st.child("TaxableAmount"), "TaxSubtotal/TaxableAmount", issues).unwrap_or_default(),
                amount: dec(st.child("TaxAmount"), "TaxSubtotal/TaxAmount", issues).unwrap_or_default(),
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
    };
    let allowances = root
        .all("AllowanceCharge")
        .map(|a| AllowanceCharge {
            charge: a.text_at(&["ChargeIndicator"]).as_deref() == Some("true"),
            amount: dec(a.child("Amount"), "AllowanceCharge/Amount", issues).unwrap_or_default(),
            reason: a.text_at(&["AllowanceChargeReason"]),
            category: a.text_at(&["TaxCategory", "ID"]),
            rate: dec(a.at(&["TaxCategory", "Percent"]), "AllowanceCharge/TaxCategory/Percent", issues),
        })
        .collect();
    let (line_tag, qty_tag) = match kind {
        Kind::Invoice => ("InvoiceLine", "InvoicedQuantity"),
        Kind::CreditNote => ("CreditNoteLine", "CreditedQuantity"),
    };
    let lines = root
        .all(line_tag)
        .map(|l| Line {
            id: l.text_at(&["ID"]).unwrap_or_default(),
            quantity: dec(l.child(qty_tag), qty_tag, issues),
            unit: l.child(qty_tag).and_then(|q| q.attr("unitCode")).map(str::to_string),
            net_amount: dec(l.child("LineExtensionAmount"), "InvoiceLine/LineExtensionAmount", issues),
            price: dec(l.at(&["Price", "PriceAmount"]), "Price/PriceAmount", issues),
            base_quantity: dec(l.at(&["Price", "BaseQuantity"]), "Price/BaseQuantity", issues),
            item_name: l.text_at(&["Item", "Name"]),
            item_id: l.text_at(&["Item", "SellersItemIdentification", "ID"]),
            category: l.text_at(&["Item", "ClassifiedTaxCategory", "ID"]),
            rate: dec(l.at(&["Item", "ClassifiedTaxCategory", "Percent"]), "ClassifiedTaxCategory/Percent", issues),
            allowances: l
                .all("AllowanceCharge")
                .map(|a| {
                    (
                        a.text_at(&["ChargeIndicator"]).as_deref() == Some("true"),
                        dec(a.child("Amount"), "InvoiceLine/AllowanceCharge/Amount", issues).unwrap_or_default(),
                        "",
                    )
                })
                .collect(),
        })
        .collect();
    let pm = root.child("PaymentMeans");
    Doc {
        kind,
        customization: root.text_at(&["CustomizationID"]),
        profile: root.text_at(&["ProfileID"]),
        number: root.text_at(&["ID"]),
        issue_date: root.text_at(&["IssueDate"]),
        due_date: root.text_at(&["DueDate"]).or_else(|| pm.and_then(|p| p.text_at(&["PaymentDueDate"]))),
        type_code: root.text_at(&["InvoiceTypeCode"]).or_else(|| root.text_at(&["CreditNoteTypeCode"])),
        currency: cur,
        tax_currency: tax_cur,
        buyer_reference: root.text_at(&["BuyerReference"]),
        order_reference: root.text_at(&["OrderReference", "ID"]),
        preceding_invoice: root.text_at(&["BillingReference", "InvoiceDocumentReference", "ID"]),
        delivery_date: root.text_at(&["Delivery", "ActualDeliveryDate"]),
        delivery_country: root.text_at(&["Delivery", "DeliveryLocation", "Address", "Country", "IdentificationCode"]),
        payment_means: pm.and_then(|p| p.text_at(&["PaymentMeansCode"])),
        iban: pm.and_then(|p| p.text_at(&["PayeeFinancialAccount", "ID"])),
        bic: pm.and_then(|p| p.text_at(&["PayeeFinancialAccount", "FinancialInstitutionBranch", "ID"])),
        payment_terms: root.text_at(&["PaymentTerms", "Note"]),
        seller: ubl_party(root.child("AccountingSupplierParty")),
        buyer: ubl_party(root.child("AccountingCustomerParty")),
        allowances,
        vat,
        totals,
        lines,
    }
}

fn cii_party(p: Option<&Node>) -> Party {
    let Some(p) = p else { return Party::default() };
    let mut party = Party {
        id: p.text_at(&["ID"]).or_else(|| p.text_at(&["GlobalID"])),
        name: p.text_at(&["Name"]),
        legal_id: p.text_at(&["SpecifiedLegalOrganization", "ID"]),
        endpoint: p
            .at(&["URIUniversalCommunication", "URIID"])
            .map(|e| (e.text.trim().to_string(), e.attr("schemeID").unwrap_or("").to_string())),
        street: p.text_at(&["PostalTradeAddress", "LineOne"]),
        city: p.text_at(&["PostalTradeAddress", "CityName"]),
        zip: p.text_at(&["PostalTradeAddress", "PostcodeCode"]),
        country: p.text_at(&["PostalTradeAddress", "CountryID"]),
        contact: p.child("DefinedTradeContact").map(|c| {
            (
                c.text_at(&["PersonName"]),
                c.text_at(&["TelephoneUniversalCommunication", "CompleteNumber"]),
                c.text_at(&["EmailURIUniversalCommunication", "URIID"]),
            )
        }),
        ..Party::default()
    };
    for r in p.all("SpecifiedTaxRegistration") {
        let id = r.child("ID");
        match id.and_then(|i| i.attr("schemeID")) {
            Some("VA") => party.vat_id = id.map(|i| i.text.trim().to_string()),
            _ => party.tax_registration_id = id.map(|i| i.text.trim().to_string()),
        }
    }
    party
}

fn cii_allowance(a: &Node, issues: &mut SyntaxIssues) -> AllowanceCharge {
    AllowanceCharge {
        charge: a.text_at(&["ChargeIndicator", "Indicator"]).as_deref() == Some("true"),
        amount: dec(a.child("ActualAmount"), "SpecifiedTradeAllowanceCharge/ActualAmount", issues).unwrap_or_default(),
        reason: a.text_at(&["Reason"]),
        category: a.text_at(&["CategoryTradeTax", "CategoryCode"]),
        rate: dec(
            a.at(&["CategoryTradeTax", "RateApplicablePercent"]),
            "CategoryTradeTax/RateApplicablePercent",
            issues,
        ),
    }
}

fn cii(root: &Node, issues: &mut SyntaxIssues) -> Doc {
    let tx = root.child("SupplyChainTradeTransaction");
    let agreement = tx.and_then(|t| t.child("ApplicableHeaderTradeAgreement"));
    let delivery = tx.and_then(|t| t.child("ApplicableHeaderTradeDelivery"));
    let settlement = tx.and_then(|t| t.child("ApplicableHeaderTradeSettlement"));
    let s = |path: &[&str]| settlement.and_then(|n| n.text_at(path));
    let cur = s(&["InvoiceCurrencyCode"]);
    let tax_cur = s(&["TaxCurrencyCode"]);
    let type_code = root.text_at(&["ExchangedDocument", "TypeCode"]);
    let kind = if type_code.as_deref() == Some("381") { Kind::CreditNote } else { Kind::Invoice };
    let mut vat = Vec::new();
    let mut allowances = Vec::new();
    if let Some(st) = settlement {
        for t in st.all("ApplicableTradeTax") {
            vat.push(VatRow {
                category: t.text_at(&["CategoryCode"]).unwrap_or_default(),
                rate: dec(t.child("RateApplicablePercent"), "ApplicableTradeTax/RateApplicablePercent", issues),
                base: dec(t.child("BasisAmount"), "ApplicableTradeTax/BasisAmount", issues).unwrap_or_default(),
                amount: dec(t.child("CalculatedAmount"), "ApplicableTradeTax/CalculatedAmount", issues)
                    .unwrap_or_default(),
                exemption_code: t.text_at(&["ExemptionReasonCode"]),
                exemption_reason: t.text_at(&["ExemptionReason"]),
            });
        }
        for a in st.all("SpecifiedTradeAllowanceCharge") {
            allowances.push(cii_allowance(a, issues));
        }
    }
    let m = settlement.and_then(|n| n.child("SpecifiedTradeSettlementHeaderMonetarySummation"));
    let g = |name: &str, issues: &mut SyntaxIssues| dec(m.and_then(|m| m.child(name)), name, issues);
    let (mut vat_total, mut vat_acc) = (None, None);
    if let Some(m) = m {
        for t in m.all("TaxTotalAmount") {
            let v = dec(Some(t), "TaxTotalAmount", issues);
            match t.attr("currencyID") {
                Some(c) if tax_cur.as_deref() == Some(c) && cur.as_deref() != Some(c) => vat_acc = v,
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
    };
    let mut lines = Vec::new();
    for l in tx.into_iter().flat_map(|t| t.all("IncludedSupplyChainTradeLineItem")) {
        let qty = l.at(&["SpecifiedLineTradeDelivery", "BilledQuantity"]);
        let settle = l.child("SpecifiedLineTradeSettlement");
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
            category: settle.and_then(|s| s.text_at(&["ApplicableTradeTax", "CategoryCode"])),
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
                    (a.charge, a.amount, "")
                })
                .collect(),
        });
    }
    let terms = settlement.and_then(|s| s.child("SpecifiedTradePaymentTerms"));
    let means = settlement.and_then(|s| s.child("SpecifiedTradeSettlementPaymentMeans"));
    Doc {
        kind,
        customization: root.text_at(&["ExchangedDocumentContext", "GuidelineSpecifiedDocumentContextParameter", "ID"]),
        profile: root.text_at(&["ExchangedDocumentContext", "BusinessProcessSpecifiedDocumentContextParameter", "ID"]),
        number: root.text_at(&["ExchangedDocument", "ID"]),
        issue_date: date102(root.at(&["ExchangedDocument", "IssueDateTime", "DateTimeString"])),
        due_date: date102(terms.and_then(|t| t.at(&["DueDateDateTime", "DateTimeString"]))),
        type_code,
        currency: cur,
        tax_currency: tax_cur,
        buyer_reference: agreement.and_then(|a| a.text_at(&["BuyerReference"])),
        order_reference: agreement.and_then(|a| a.text_at(&["BuyerOrderReferencedDocument", "IssuerAssignedID"])),
        preceding_invoice: s(&["InvoiceReferencedDocument", "IssuerAssignedID"]),
        delivery_date: date102(
            delivery.and_then(|d| d.at(&["ActualDeliverySupplyChainEvent", "OccurrenceDateTime", "DateTimeString"])),
        ),
        delivery_country: delivery.and_then(|d| d.text_at(&["ShipToTradeParty", "PostalTradeAddress", "CountryID"])),
        payment_means: means.and_then(|m| m.text_at(&["TypeCode"])),
        iban: means.and_then(|m| m.text_at(&["PayeePartyCreditorFinancialAccount", "IBANID"])),
        bic: means.and_then(|m| m.text_at(&["PayeeSpecifiedCreditorFinancialInstitution", "BICID"])),
        payment_terms: terms.and_then(|t| t.text_at(&["Description"])),
        seller: cii_party(agreement.and_then(|a| a.child("SellerTradeParty"))),
        buyer: cii_party(agreement.and_then(|a| a.child("BuyerTradeParty"))),
        allowances,
        vat,
        totals,
        lines,
    }
}
