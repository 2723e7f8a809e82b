//! UBL 2.1 Invoice and CreditNote, PEPPOL BIS Billing 3.0: elements in schema order, escaped
//! text, amounts with their currency.

use rust_decimal::Decimal;

use super::{AllowanceCharge, Doc, Kind, Party};

/// The namespaces of UBL 2.1 Invoice and CreditNote documents and their components.
pub const NS_INVOICE: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";
/// See [`NS_INVOICE`].
pub const NS_CREDIT_NOTE: &str = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2";
/// Aggregate components (`cac:`).
pub const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
/// Basic components (`cbc:`).
pub const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
/// Extension components (`ext:`).
pub const NS_EXT: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2";

/// A small XML writer: elements in the order they are written, text escaped, indented two
/// spaces per level (readable diffs; the whitespace is insignificant to both syntaxes).
pub struct Xml {
    s: String,
    depth: usize,
    /// Each open element: where its indentation starts and where its content starts. An
    /// element closed without content is taken out again: no empty element is ever written
    /// (PEPPOL-EN16931-R008), so a container of absent values disappears with them.
    opened: Vec<(usize, usize)>,
}

impl Xml {
    /// A document with the XML declaration.
    pub fn new() -> Xml {
        Xml::with_capacity(0)
    }
    /// A document with the XML declaration, room made for `bytes` of text (one allocation for
    /// a document of about that size).
    pub fn with_capacity(bytes: usize) -> Xml {
        let mut s = String::with_capacity(bytes);
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        Xml { s, depth: 0, opened: Vec::new() }
    }
    fn indent(&mut self) {
        self.s.push('\n');
        for _ in 0..self.depth {
            self.s.push_str("  ");
        }
    }
    /// `<tag>`.
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.open_attrs(tag, &[])
    }
    /// `<tag>` of an element the schema requires even when it has no content (written always).
    pub fn open_required(&mut self, tag: &str) -> &mut Self {
        self.open(tag);
        if let Some(top) = self.opened.last_mut() {
            top.1 = usize::MAX;
        }
        self
    }
    /// `<tag a="v" …>`.
    pub fn open_attrs(&mut self, tag: &str, attrs: &[(&str, &str)]) -> &mut Self {
        let before = self.s.len();
        self.indent();
        self.start(tag, attrs);
        self.opened.push((before, self.s.len()));
        self.depth += 1;
        self
    }
    fn start(&mut self, tag: &str, attrs: &[(&str, &str)]) {
        self.s.push('<');
        self.s.push_str(tag);
        for (k, v) in attrs {
            self.s.push(' ');
            self.s.push_str(k);
            self.s.push_str("=\"");
            escape_into(&mut self.s, v);
            self.s.push('"');
        }
        self.s.push('>');
    }
    /// `</tag>`, or nothing when nothing was written since its `<tag>` (the element is taken
    /// out).
    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.depth = self.depth.saturating_sub(1);
        if let Some((before, content)) = self.opened.pop() {
            if self.s.len() == content {
                self.s.truncate(before);
                return self;
            }
        }
        self.indent();
        self.s.push_str("</");
        self.s.push_str(tag);
        self.s.push('>');
        self
    }
    /// `<tag>text</tag>`; nothing when the text is blank.
    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        self.leaf_attrs(tag, &[], text)
    }
    /// `<tag>text</tag>` when there is a text (a blank one is left out, as by [`Xml::leaf`]).
    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(tag, t);
        }
        self
    }
    /// `<tag a="v">text</tag>`.
    pub fn leaf_attr(&mut self, tag: &str, attr: &str, value: &str, text: &str) -> &mut Self {
        self.leaf_attrs(tag, &[(attr, value)], text)
    }
    fn leaf_attrs(&mut self, tag: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        // An element without text is not written (control characters are written as spaces).
        if text.chars().all(|c| c.is_whitespace() || c.is_control()) {
            return self;
        }
        self.indent();
        self.start(tag, attrs);
        escape_into(&mut self.s, text);
        self.s.push_str("</");
        self.s.push_str(tag);
        self.s.push('>');
        self
    }
    /// The text.
    pub fn finish(mut self) -> String {
        self.s.push('\n');
        self.s
    }
}

impl Default for Xml {
    fn default() -> Self {
        Xml::new()
    }
}

/// Escapes XML text and attribute values: markup characters as entities, control characters
/// (which XML cannot carry) as spaces. The runs between them are copied whole.
pub fn escape_into(out: &mut String, text: &str) {
    let mut from = 0;
    for (i, b) in text.bytes().enumerate() {
        let with = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            b'\t' | b'\n' | b'\r' => continue,
            b if b < 0x20 => " ",
            _ => continue,
        };
        // `i` is at an ASCII byte: a character boundary.
        out.push_str(&text[from..i]);
        out.push_str(with);
        from = i + 1;
    }
    out.push_str(&text[from..]);
}

/// A decimal as XML text (as stored: exact, no exponent), without allocating.
pub fn num(d: Decimal) -> crate::model::DecimalText {
    crate::model::decimal_text(d)
}

fn amount(x: &mut Xml, tag: &str, cur: &str, d: Decimal) {
    x.leaf_attr(tag, "currencyID", cur, &num(d));
}

fn party(x: &mut Xml, p: &Party) {
    x.open("cac:Party");
    if let Some((id, scheme)) = &p.endpoint {
        x.leaf_attr("cbc:EndpointID", "schemeID", scheme, id);
    }
    if let Some(id) = &p.id {
        x.open("cac:PartyIdentification").leaf("cbc:ID", id).close("cac:PartyIdentification");
    }
    x.open("cac:PostalAddress");
    x.opt("cbc:StreetName", p.street.as_deref())
        .opt("cbc:CityName", p.city.as_deref())
        .opt("cbc:PostalZone", p.zip.as_deref());
    x.open("cac:Country").opt("cbc:IdentificationCode", p.country.as_deref()).close("cac:Country");
    x.close("cac:PostalAddress");
    if let Some(v) = p.vat_id.as_deref().filter(|v| !v.is_empty()) {
        x.open("cac:PartyTaxScheme").leaf("cbc:CompanyID", v);
        x.open("cac:TaxScheme").leaf("cbc:ID", "VAT").close("cac:TaxScheme").close("cac:PartyTaxScheme");
    }
    if let Some(v) = p.tax_registration_id.as_deref().filter(|v| !v.is_empty()) {
        x.open("cac:PartyTaxScheme").leaf("cbc:CompanyID", v);
        x.open("cac:TaxScheme").leaf("cbc:ID", "TAX").close("cac:TaxScheme").close("cac:PartyTaxScheme");
    }
    x.open("cac:PartyLegalEntity")
        .opt("cbc:RegistrationName", p.name.as_deref())
        .opt("cbc:CompanyID", p.legal_id.as_deref());
    x.close("cac:PartyLegalEntity");
    if let Some((name, phone, mail)) = &p.contact {
        x.open("cac:Contact").opt("cbc:Name", name.as_deref()).opt("cbc:Telephone", phone.as_deref());
        x.opt("cbc:ElectronicMail", mail.as_deref()).close("cac:Contact");
    }
    x.close("cac:Party");
}

/// A tax category: its code, the rate when there is one (a line's or an allowance's category
/// not subject to VAT has none; callers pass `None` then), an exemption.
fn tax_category(x: &mut Xml, tag: &str, category: &str, rate: Option<Decimal>, exemption: Option<(&str, &str)>) {
    x.open(tag).leaf("cbc:ID", category);
    if let Some(r) = rate {
        x.leaf("cbc:Percent", &num(r));
    }
    if let Some((code, reason)) = exemption {
        x.opt("cbc:TaxExemptionReasonCode", Some(code));
        x.opt("cbc:TaxExemptionReason", Some(reason));
    }
    x.open("cac:TaxScheme").leaf("cbc:ID", "VAT").close("cac:TaxScheme").close(tag);
}

fn allowance(x: &mut Xml, cur: &str, a: &AllowanceCharge) {
    x.open("cac:AllowanceCharge").leaf("cbc:ChargeIndicator", if a.charge { "true" } else { "false" });
    x.opt("cbc:AllowanceChargeReason", a.reason.as_deref());
    amount(x, "cbc:Amount", cur, a.amount.unwrap_or_default());
    if let Some(c) = &a.category {
        tax_category(x, "cac:TaxCategory", c, (c != "O").then(|| a.rate.unwrap_or_default()), None);
    }
    x.close("cac:AllowanceCharge");
}

/// Writes a document as PEPPOL BIS 3 UBL (Invoice or CreditNote).
pub fn write(d: &Doc) -> String {
    let mut x = Xml::with_capacity(4096 + 1024 * d.lines.len());
    let (root, ns, line_tag, qty_tag) = match d.kind {
        Kind::Invoice => ("Invoice", NS_INVOICE, "cac:InvoiceLine", "cbc:InvoicedQuantity"),
        Kind::CreditNote => ("CreditNote", NS_CREDIT_NOTE, "cac:CreditNoteLine", "cbc:CreditedQuantity"),
    };
    let cur = d.currency.as_deref().unwrap_or("");
    x.open_attrs(root, &[("xmlns", ns), ("xmlns:cac", NS_CAC), ("xmlns:cbc", NS_CBC)]);
    x.opt("cbc:CustomizationID", d.customization.as_deref()).opt("cbc:ProfileID", d.profile.as_deref());
    x.opt("cbc:ID", d.number.as_deref()).opt("cbc:IssueDate", d.issue_date.as_deref());
    match d.kind {
        Kind::Invoice => {
            x.opt("cbc:DueDate", d.due_date.as_deref())
                .leaf("cbc:InvoiceTypeCode", d.type_code.as_deref().unwrap_or(d.kind.code()));
        }
        Kind::CreditNote => {
            x.leaf("cbc:CreditNoteTypeCode", d.type_code.as_deref().unwrap_or(d.kind.code()));
        }
    }
    x.opt("cbc:DocumentCurrencyCode", d.currency.as_deref()).opt("cbc:TaxCurrencyCode", d.tax_currency.as_deref());
    x.opt("cbc:BuyerReference", d.buyer_reference.as_deref());
    if let Some(o) = &d.order_reference {
        x.open("cac:OrderReference").leaf("cbc:ID", o).close("cac:OrderReference");
    }
    if let Some(p) = &d.preceding_invoice {
        x.open("cac:BillingReference").open("cac:InvoiceDocumentReference").leaf("cbc:ID", p);
        x.close("cac:InvoiceDocumentReference").close("cac:BillingReference");
    }
    x.open("cac:AccountingSupplierParty");
    party(&mut x, &d.seller);
    x.close("cac:AccountingSupplierParty");
    x.open("cac:AccountingCustomerParty");
    party(&mut x, &d.buyer);
    x.close("cac:AccountingCustomerParty");
    if d.delivery_date.is_some() || d.delivery_country.is_some() {
        x.open("cac:Delivery").opt("cbc:ActualDeliveryDate", d.delivery_date.as_deref());
        if let Some(c) = &d.delivery_country {
            x.open("cac:DeliveryLocation").open("cac:Address").open("cac:Country").leaf("cbc:IdentificationCode", c);
            x.close("cac:Country").close("cac:Address").close("cac:DeliveryLocation");
        }
        x.close("cac:Delivery");
    }
    for p in &d.payments {
        x.open("cac:PaymentMeans").opt("cbc:PaymentMeansCode", p.code.as_deref());
        if d.kind == Kind::CreditNote {
            x.opt("cbc:PaymentDueDate", d.due_date.as_deref());
        }
        if let Some(iban) = &p.account {
            x.open("cac:PayeeFinancialAccount").leaf("cbc:ID", iban);
            if let Some(bic) = &p.bic {
                x.open("cac:FinancialInstitutionBranch").leaf("cbc:ID", bic).close("cac:FinancialInstitutionBranch");
            }
            x.close("cac:PayeeFinancialAccount");
        }
        x.close("cac:PaymentMeans");
    }
    if let Some(t) = &d.payment_terms {
        x.open("cac:PaymentTerms").leaf("cbc:Note", t).close("cac:PaymentTerms");
    }
    for a in &d.allowances {
        allowance(&mut x, cur, a);
    }
    x.open("cac:TaxTotal");
    amount(&mut x, "cbc:TaxAmount", cur, d.totals.vat_total.unwrap_or_default());
    for v in &d.vat {
        x.open("cac:TaxSubtotal");
        amount(&mut x, "cbc:TaxableAmount", cur, v.base.unwrap_or_default());
        amount(&mut x, "cbc:TaxAmount", cur, v.amount.unwrap_or_default());
        let ex = match (&v.exemption_code, &v.exemption_reason) {
            (Some(c), Some(r)) => Some((c.as_str(), r.as_str())),
            (Some(c), None) => Some((c.as_str(), "")),
            (None, Some(r)) => Some(("", r.as_str())),
            _ => None,
        };
        // A row not subject to VAT takes its rate when the model gives one (see `build`).
        let rate = if v.category == "O" { v.rate } else { Some(v.rate.unwrap_or_default()) };
        tax_category(&mut x, "cac:TaxCategory", &v.category, rate, ex);
        x.close("cac:TaxSubtotal");
    }
    x.close("cac:TaxTotal");
    if let (Some(tc), Some(acc)) = (&d.tax_currency, d.totals.vat_total_accounting) {
        x.open("cac:TaxTotal");
        amount(&mut x, "cbc:TaxAmount", tc, acc);
        x.close("cac:TaxTotal");
    }
    let t = &d.totals;
    x.open("cac:LegalMonetaryTotal");
    amount(&mut x, "cbc:LineExtensionAmount", cur, t.line_total.unwrap_or_default());
    amount(&mut x, "cbc:TaxExclusiveAmount", cur, t.tax_exclusive.unwrap_or_default());
    amount(&mut x, "cbc:TaxInclusiveAmount", cur, t.tax_inclusive.unwrap_or_default());
    if let Some(a) = t.allowance_total {
        amount(&mut x, "cbc:AllowanceTotalAmount", cur, a);
    }
    if let Some(c) = t.charge_total {
        amount(&mut x, "cbc:ChargeTotalAmount", cur, c);
    }
    if let Some(p) = t.prepaid {
        amount(&mut x, "cbc:PrepaidAmount", cur, p);
    }
    amount(&mut x, "cbc:PayableAmount", cur, t.payable.unwrap_or_default());
    x.close("cac:LegalMonetaryTotal");
    for l in &d.lines {
        x.open(line_tag).leaf("cbc:ID", &l.id);
        x.leaf_attr(qty_tag, "unitCode", l.unit.as_deref().unwrap_or("C62"), &num(l.quantity.unwrap_or_default()));
        amount(&mut x, "cbc:LineExtensionAmount", cur, l.net_amount.unwrap_or_default());
        for c in &l.allowances {
            x.open("cac:AllowanceCharge").leaf("cbc:ChargeIndicator", if c.charge { "true" } else { "false" });
            x.opt("cbc:AllowanceChargeReason", c.reason.as_deref());
            amount(&mut x, "cbc:Amount", cur, c.amount.unwrap_or_default());
            x.close("cac:AllowanceCharge");
        }
        x.open("cac:Item").opt("cbc:Name", l.item_name.as_deref());
        if let Some(id) = &l.item_id {
            x.open("cac:SellersItemIdentification").leaf("cbc:ID", id).close("cac:SellersItemIdentification");
        }
        if let Some(c) = &l.category {
            tax_category(&mut x, "cac:ClassifiedTaxCategory", c, (c != "O").then(|| l.rate.unwrap_or_default()), None);
        }
        x.close("cac:Item");
        x.open("cac:Price");
        amount(&mut x, "cbc:PriceAmount", cur, l.price.unwrap_or_default());
        if let Some(b) = l.base_quantity {
            x.leaf_attr("cbc:BaseQuantity", "unitCode", l.unit.as_deref().unwrap_or("C62"), &num(b));
        }
        x.close("cac:Price");
        x.close(line_tag);
    }
    x.close(root);
    x.finish()
}
