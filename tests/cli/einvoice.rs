//! E-invoices: the checker on the official examples and on broken copies, documents from the
//! samples (snapshots), incremental runs.

use std::path::{Path, PathBuf};

use crate::{invoiceflow, root};

/// The official example documents, when the reference material is present (see
/// [`crate::reference`]); `None` skips the test that needs them.
fn examples() -> Option<PathBuf> {
    crate::reference("einvoice-examples")
}

#[test]
fn check_accepts_every_official_example() {
    let Some(examples) = examples() else { return };
    let run = invoiceflow(&["check", &examples.display().to_string()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("16 passed, 0 failed"), "{}", run.stderr);
}

fn broken(examples: &Path, name: &str, from: &str, to: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(examples.join(name)).unwrap();
    assert!(text.contains(from), "{name} lacks {from}");
    let path = dir.join(format!("broken-{}", name));
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

fn rules_of(path: &Path) -> Vec<String> {
    let run = invoiceflow(&["check", "--json", &path.display().to_string()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    json[0]["findings"].as_array().unwrap().iter().map(|f| f[0].as_str().unwrap().to_string()).collect()
}

#[test]
fn check_rejects_broken_copies_with_the_right_rule() {
    let Some(examples) = examples() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        ("peppol-base-example.xml", "<cbc:RegistrationName>Buyer Official Name</cbc:RegistrationName>", "", "BR-07"),
        ("peppol-base-example.xml", "<cbc:PriceAmount currencyID=\"EUR\">400</cbc:PriceAmount>", "<cbc:PriceAmount currencyID=\"EUR\">399</cbc:PriceAmount>", "PEPPOL-EN16931-R120"),
        ("peppol-base-example.xml", "<cbc:LineExtensionAmount currencyID=\"EUR\">1300</cbc:LineExtensionAmount>", "<cbc:LineExtensionAmount currencyID=\"EUR\">1400</cbc:LineExtensionAmount>", "BR-CO-10"),
        ("peppol-base-example.xml", "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>", "<cbc:DocumentCurrencyCode>EUX</cbc:DocumentCurrencyCode>", "BR-CL-04"),
        (
            "peppol-base-example.xml",
            "<cac:ClassifiedTaxCategory>\n                <cbc:ID>S</cbc:ID>\n                <cbc:Percent>25.0</cbc:Percent>",
            "<cac:ClassifiedTaxCategory>\n                <cbc:ID>S</cbc:ID>\n                <cbc:Percent>0</cbc:Percent>",
            "BR-S-05",
        ),
        ("peppol-base-example.xml", "<cbc:PayableAmount currencyID=\"EUR\">", "<cbc:PayableAmount currencyID=\"EUR\">1", "BR-CO-16"),
        ("cen-cii-example4.xml", "<ram:CountryID>DK</ram:CountryID>", "", "BR-09"),
        // Identifiers by scheme and country (a Swedish organisation number with a wrong check
        // digit, a GLN with a wrong one, a VAT identifier without its country prefix).
        (
            "peppol-base-example.xml",
            "<cbc:EndpointID schemeID=\"0088\">9482348239847239874</cbc:EndpointID>",
            "<cbc:EndpointID schemeID=\"0007\">5560360794</cbc:EndpointID>",
            "PEPPOL-COMMON-R049",
        ),
        (
            "peppol-base-example.xml",
            "<cbc:EndpointID schemeID=\"0088\">9482348239847239874</cbc:EndpointID>",
            "<cbc:EndpointID schemeID=\"0088\">9482348239847239875</cbc:EndpointID>",
            "PEPPOL-COMMON-R040",
        ),
        ("peppol-base-example.xml", "<cbc:CompanyID>SE4598375937</cbc:CompanyID>", "<cbc:CompanyID>4598375937</cbc:CompanyID>", "BR-CO-09"),
        // A legal registration identifier with a scheme: a Norwegian number, check digit wrong.
        (
            "peppol-base-example.xml",
            "<cbc:CompanyID schemeID=\"0183\">39937423947</cbc:CompanyID>",
            "<cbc:CompanyID schemeID=\"0192\">974760674</cbc:CompanyID>",
            "PEPPOL-COMMON-R041",
        ),
    ];
    for (file, from, to, rule) in cases {
        let path = broken(&examples, file, from, to, d);
        let rules = rules_of(&path);
        assert!(rules.contains(&rule.to_string()), "{file} with `{to}`: expected {rule}, got {rules:?}");
    }
}

#[test]
fn a_doctype_is_refused_and_no_entity_is_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "<?xml version=\"1.0\"?>\n<!DOCTYPE Invoice [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n\
        <Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"><cbc:ID>&x;</cbc:ID></Invoice>";
    let path = dir.path().join("evil.xml");
    std::fs::write(&path, evil).unwrap();
    let run = invoiceflow(&["check", &path.display().to_string()]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("XML: documents with a DOCTYPE are refused (no entity is resolved)"), "{}", run.stderr);
    assert!(run.stderr.contains("evil.xml (1 finding)\n"), "{}", run.stderr);
}

fn sample_store(dir: &Path) -> PathBuf {
    let store = dir.join("s.db");
    let run = invoiceflow(&[
        "run",
        &root().join("samples/job.toml").display().to_string(),
        "--store",
        &store.display().to_string(),
        "--rejects",
        &dir.join("rejects").display().to_string(),
        "--exports",
        &dir.join("dw").display().to_string(),
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    store
}

fn einvoice(store: &Path, syntax: &str, out: &Path, job: Option<&str>) -> serde_json::Value {
    let mut args = vec!["einvoice", "--json", "--syntax", syntax];
    let (s, o) = (store.display().to_string(), out.display().to_string());
    args.extend(["--store", s.as_str(), "--out", o.as_str()]);
    if let Some(j) = job {
        args.extend(["--job", j]);
    }
    let run = invoiceflow(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["einvoices"][0].clone()
}

#[test]
fn sample_documents_snapshot_and_pass_the_checker() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    let ubl = einvoice(&store, "ubl", &dir.path().join("ubl"), None);
    assert_eq!((ubl["documents"].as_u64(), ubl["credit_notes"].as_u64()), (Some(14), Some(1)));
    assert_eq!(ubl["refused"].as_array().unwrap().len(), 0);
    let cii = einvoice(&store, "cii", &dir.path().join("cii"), None);
    assert_eq!(cii["documents"], 14);
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
    insta::assert_snapshot!("ubl_invoice_multi_rate", read(dir.path().join("ubl/DEMF/DEMF-INV-000101.xml")));
    insta::assert_snapshot!("ubl_credit_note", read(dir.path().join("ubl/DEMF/DEMF-CRN-000105.xml")));
    insta::assert_snapshot!("cii_invoice_foreign_currency", read(dir.path().join("cii/DEMF/DEMF-INV-000104.xml")));
    let all = invoiceflow(&[
        "check",
        &dir.path().join("ubl").display().to_string(),
        &dir.path().join("cii").display().to_string(),
    ]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert!(all.stderr.contains("28 passed, 0 failed"));
}

/// CII as UBL: BR-CO-15 counts the VAT totals whose `currencyID` equals the invoice currency
/// code as written (white space around it matches no amount), BR-CL-04 looks the code up
/// normalised (a no-break space is part of it) — the official verdicts on the same documents.
#[test]
fn a_cii_currency_code_is_matched_as_written_and_looked_up_normalised() {
    let cii = sample_document("cii", "DEMF-INV-000101.xml");
    let currency = "<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>";
    let code = |c: &str| {
        rules_of_text(&edited(&cii, &[(currency, &format!("<ram:InvoiceCurrencyCode>{c}</ram:InvoiceCurrencyCode>"))]))
    };
    assert_eq!(code("EUR"), Vec::<String>::new());
    assert_eq!(code(" EUR\t"), ["BR-CO-15"]);
    assert_eq!(code("\u{a0}EUR"), ["BR-CO-15", "BR-CL-04"]);
}

#[test]
fn amounts_in_the_xml_equal_the_posted_amounts() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    einvoice(&store, "ubl", &dir.path().join("ubl"), None);
    let s = invoiceflow::store::Store::open(&store).unwrap();
    let rows = s.query_text("SELECT legal_entity, number, tax_inclusive, vat_total FROM invoice", &[]).unwrap();
    assert_eq!(rows.len(), 14);
    for r in rows {
        let (le, number) = (r[0].clone().unwrap(), r[1].clone().unwrap());
        let xml = std::fs::read(dir.path().join(format!("ubl/{le}/{number}.xml"))).unwrap();
        let (doc, _) = invoiceflow::einvoice::read::read(&xml).unwrap();
        let total: rust_decimal::Decimal = r[2].as_deref().unwrap().parse().unwrap();
        let vat: rust_decimal::Decimal = r[3].as_deref().unwrap().parse().unwrap();
        assert_eq!(doc.totals.tax_inclusive, Some(total.abs()), "{number}");
        assert_eq!(doc.totals.vat_total, Some(vat.abs()), "{number}");
    }
}

#[test]
fn incremental_einvoices_write_each_document_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    let first = einvoice(&store, "cii", &dir.path().join("out"), Some("edi"));
    assert_eq!(first["documents"], 14);
    let second = einvoice(&store, "cii", &dir.path().join("out"), Some("edi"));
    assert_eq!(second["documents"], 0);
    let files = |le: &str| std::fs::read_dir(dir.path().join("out").join(le)).unwrap().count();
    assert_eq!((files("DEMF"), files("USMF")), (11, 3));
}

/// What `einvoice` checks before writing (the document's model, no re-parse) and what `check`
/// finds in the written bytes agree: on every official example written in either syntax, and on
/// broken copies of each (a rule broken, texts a reader gets back otherwise than written).
#[test]
fn the_check_on_the_model_and_on_the_written_bytes_agree() {
    use invoiceflow::einvoice::{self, cii, read, ubl, Doc, Syntax};
    use rust_decimal::Decimal;
    let Some(examples) = examples() else { return };
    type Break = (&'static str, fn(&mut Doc), Option<&'static str>);
    let breaks: [Break; 8] = [
        ("as read", |_| {}, None),
        ("buyer without country", |d| d.buyer.country = None, Some("BR-11")),
        ("seller name of spaces and a control character", |d| d.seller.name = Some("  \u{1} ".into()), Some("BR-06")),
        ("payable one more", |d| d.totals.payable = d.totals.payable.map(|p| p + Decimal::ONE), Some("BR-CO-16")),
        ("no VAT breakdown", |d| d.vat.clear(), Some("BR-CO-18")),
        ("currency a tab", |d| d.currency = Some("\t".into()), Some("BR-05")),
        ("number with CRLF inside and spaces around", |d| d.number = Some(" INV\r\n1 ".into()), None),
        ("a line name with a form feed", |d| d.lines[0].item_name = Some("Bolt\u{c}M8".into()), None),
    ];
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 16);
    let (mut compared, mut broke) = (0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let (doc, _) = read::read(&std::fs::read(file).unwrap()).unwrap();
        for syntax in [Syntax::Ubl, Syntax::Cii] {
            for (what, f, rule) in &breaks {
                let mut d = doc.as_written(syntax);
                f(&mut d);
                d.tidy();
                let xml = match syntax {
                    Syntax::Ubl => ubl::write(&d),
                    Syntax::Cii => cii::write(&d),
                };
                let on_model = einvoice::check_built(&name, &d, xml.as_bytes());
                let on_bytes = einvoice::check_bytes(&name, xml.as_bytes());
                // The same findings (the rules on the tree report theirs first).
                let sorted = |f: &[(String, String)]| {
                    let mut f = f.to_vec();
                    f.sort();
                    f
                };
                assert_eq!(sorted(&on_model.findings), sorted(&on_bytes.findings), "{name} as {syntax:?}, {what}");
                compared += 1;
                if let Some(rule) = rule {
                    assert!(
                        on_model.findings.iter().any(|(r, _)| r == rule),
                        "{name} as {syntax:?}, {what}: {:?}",
                        on_model.findings
                    );
                    broke += 1;
                }
            }
        }
    }
    assert_eq!((compared, broke), (16 * 2 * 8, 16 * 2 * 5));
}

#[test]
fn documents_are_reissued_with_corrected_master_data_and_the_posted_amounts() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    einvoice(&store, "cii", &dir.path().join("before"), None);
    // The master data corrected after posting: a customer moved, an exemption reason reworded.
    let master = crate::sample_master_copy(dir.path());
    let edit = |file: &str, from: &str, to: &str| {
        let text = std::fs::read_to_string(master.join(file)).unwrap();
        assert!(text.contains(from), "{file}: {from}");
        std::fs::write(master.join(file), text.replacen(from, to, 1)).unwrap();
    };
    edit("Customer.csv", "Industriering 22,Stuttgart,70173", "Donaustraße 3,Ulm,89073");
    edit("SalesTaxCode.csv", "Export outside the EU", "Ausfuhrlieferung");
    let out = dir.path().join("after");
    let (s, o, m) = (store.display().to_string(), out.display().to_string(), master.display().to_string());
    let run = invoiceflow(&["einvoice", "--json", "--syntax", "cii", "--store", &s, "--out", &o, "--master", &m]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["einvoices"][0]["documents"], 14);
    let read = |d: &str, n: &str| std::fs::read_to_string(dir.path().join(d).join("DEMF").join(n)).unwrap();
    // DE-002's invoice: the new address, everything else (amounts included) as first written.
    let (was, is) = (read("before", "DEMF-INV-000102.xml"), read("after", "DEMF-INV-000102.xml"));
    assert!(
        is.contains("<ram:LineOne>Donaustraße 3</ram:LineOne>") && is.contains("<ram:CityName>Ulm</ram:CityName>"),
        "{is}"
    );
    let back =
        is.replace("Donaustraße 3", "Industriering 22").replace(">Ulm<", ">Stuttgart<").replace(">89073<", ">70173<");
    assert_eq!(back, was);
    // The export's exemption reason as the tax code has it now.
    let (was, is) = (read("before", "DEMF-INV-000104.xml"), read("after", "DEMF-INV-000104.xml"));
    assert!(is.contains("<ram:ExemptionReason>Ausfuhrlieferung</ram:ExemptionReason>"), "{is}");
    assert_eq!(is.replace("Ausfuhrlieferung", "Export outside the EU"), was);
}

#[test]
fn a_tax_code_whose_category_needs_an_exemption_reason_is_rejected_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let master = crate::sample_master_copy(dir.path());
    let codes = std::fs::read_to_string(master.join("SalesTaxCode.csv")).unwrap();
    let codes = codes.replacen("0,G,VATEX-EU-G,Export outside the EU", "0,G,,", 1).replacen(
        "VAT7,VAT7,7,S,,",
        "VAT7,VAT7,7,S,VATEX-EU-O,",
        1,
    );
    std::fs::write(master.join("SalesTaxCode.csv"), codes).unwrap();
    let run = crate::import(
        &["SalesInvoiceHeaderV2.csv", "Customer invoice lines.csv"]
            .map(|f| root().join("samples/d365").join(f).display().to_string()),
        &master,
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let rejects: Vec<_> = run.rejects().into_iter().filter(|r| r.file.ends_with("SalesTaxCode.csv")).collect();
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert_eq!(
        (rejects[0].line, rejects[0].field.as_str(), rejects[0].rule.as_str()),
        (3, "ExemptionReasonCode", "field.vat_category")
    );
    assert!(rejects[0].message.starts_with("tax code VAT7 (category S) has an exemption reason; category S takes none: every document using it would break BR-S-10 — "), "{}", rejects[0].message);
    assert_eq!(rejects[1].line, 5);
    assert!(rejects[1].message.starts_with("tax code EXPORT (category G) has no exemption reason; category G needs a VATEX code (ExemptionReasonCode) or a text (ExemptionReason): every document using it would break BR-G-10 — "), "{}", rejects[1].message);
}

#[test]
fn an_intra_community_supply_without_its_exemption_reason_breaks_br_ic_10() {
    // The rule family of category K is BR-IC (it was reported as BR-K-10, an id no rule set has).
    let doc = sample_document("ubl", "DEMF-INV-000103.xml");
    let reason = "<cbc:TaxExemptionReasonCode>VATEX-EU-IC</cbc:TaxExemptionReasonCode>";
    let text = "<cbc:TaxExemptionReason>Intra-Community supply</cbc:TaxExemptionReason>";
    assert!(doc.contains(reason) && doc.contains(text));
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, doc.replace(reason, "").replace(text, "")).unwrap();
    assert_eq!(rules_of(&broken), ["BR-IC-10"]);
    assert_eq!(invoiceflow::einvoice::rules::rule_of("M", "05"), "BR-AG-05");
}

/// A document of the sample job (legal entity DEMF) as `einvoice` writes it in `syntax`.
fn sample_document(syntax: &str, file: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    einvoice(&store, syntax, &dir.path().join(syntax), None);
    std::fs::read_to_string(dir.path().join(syntax).join("DEMF").join(file)).unwrap()
}

/// One of our own documents (a snapshot): the base every rule case below breaks once.
fn own_document(name: &str) -> String {
    let snap = std::fs::read_to_string(root().join("tests/cli/snapshots").join(name)).unwrap();
    let at = snap.find("<?xml").unwrap();
    snap[at..].to_string()
}

fn rules_of_text(xml: &str) -> Vec<String> {
    invoiceflow::einvoice::check_bytes("case", xml.as_bytes()).findings.into_iter().map(|(r, _)| r).collect()
}

/// Applies the edits (each `from` must be there; the first occurrence is replaced).
fn edited(base: &str, edits: &[(&str, &str)]) -> String {
    let mut xml = base.to_string();
    for (from, to) in edits {
        assert!(xml.contains(from), "the base lacks `{from}`");
        xml = xml.replacen(from, to, 1);
    }
    xml
}

/// The base document's payment instruction: SEPA credit transfer to its account.
const UBL_CREDIT_TRANSFER: &str = "<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>\n    <cac:PayeeFinancialAccount>\n      <cbc:ID>DE89370400440532013000</cbc:ID>\n      <cac:FinancialInstitutionBranch>\n        <cbc:ID>COBADEFFXXX</cbc:ID>\n      </cac:FinancialInstitutionBranch>\n    </cac:PayeeFinancialAccount>";

const UBL_LINE_CAT: &str =
    "<cac:ClassifiedTaxCategory>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent>";
const UBL_VAT_ROW: &str = "<cac:TaxCategory>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent>";
const UBL_ALLOWANCE: &str = "<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReason>Promotion</cbc:AllowanceChargeReason><cbc:Amount currencyID=\"EUR\">0.00</cbc:Amount><cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>19</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:AllowanceCharge>\n  <cac:TaxTotal>";

#[test]
fn every_rule_fires_on_its_defect_and_a_valid_document_passes() {
    let ubl = own_document("cli__einvoice__ubl_invoice_multi_rate.snap");
    assert_eq!(rules_of_text(&ubl), Vec::<String>::new(), "the base document is valid");
    let with_allowance = edited(&ubl, &[("<cac:TaxTotal>", UBL_ALLOWANCE)]);
    assert_eq!(rules_of_text(&with_allowance), Vec::<String>::new(), "a zero allowance keeps it valid");
    type Case = (&'static str, Vec<(&'static str, &'static str)>, &'static str);
    let seller_vat = "<cac:PartyTaxScheme>\n        <cbc:CompanyID>DE123456789</cbc:CompanyID>\n        <cac:TaxScheme>\n          <cbc:ID>VAT</cbc:ID>\n        </cac:TaxScheme>\n      </cac:PartyTaxScheme>";
    let cases: Vec<Case> = vec![
        ("seller address", vec![("<cac:PostalAddress>\n        <cbc:StreetName>Hafenstraße 12", "<cac:X>\n        <cbc:StreetName>Hafenstraße 12"), ("</cac:PostalAddress>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>DE123456789", "</cac:X>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>DE123456789")], "BR-08"),
        ("buyer address", vec![("<cac:PostalAddress>\n        <cbc:StreetName>Lindenallee 5", "<cac:X>\n        <cbc:StreetName>Lindenallee 5"), ("</cac:PostalAddress>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>DE987654321", "</cac:X>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>DE987654321")], "BR-10"),
        ("payee without name", vec![("<cac:PaymentMeans>", "<cac:PayeeParty><cac:PartyIdentification><cbc:ID>P1</cbc:ID></cac:PartyIdentification></cac:PayeeParty>\n  <cac:PaymentMeans>")], "BR-17"),
        ("tax representative without name", vec![("<cac:PaymentMeans>", "<cac:TaxRepresentativeParty><cac:PostalAddress><cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:PostalAddress><cac:PartyTaxScheme><cbc:CompanyID>DE111111111</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:TaxRepresentativeParty>\n  <cac:PaymentMeans>")], "BR-18"),
        ("tax representative without address", vec![("<cac:PaymentMeans>", "<cac:TaxRepresentativeParty><cac:PartyName><cbc:Name>Rep</cbc:Name></cac:PartyName><cac:PartyTaxScheme><cbc:CompanyID>DE111111111</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:TaxRepresentativeParty>\n  <cac:PaymentMeans>")], "BR-19"),
        ("tax representative without country", vec![("<cac:PaymentMeans>", "<cac:TaxRepresentativeParty><cac:PartyName><cbc:Name>Rep</cbc:Name></cac:PartyName><cac:PostalAddress><cbc:CityName>Kiel</cbc:CityName></cac:PostalAddress><cac:PartyTaxScheme><cbc:CompanyID>DE111111111</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:TaxRepresentativeParty>\n  <cac:PaymentMeans>")], "BR-20"),
        ("tax representative without VAT identifier", vec![("<cac:PaymentMeans>", "<cac:TaxRepresentativeParty><cac:PartyName><cbc:Name>Rep</cbc:Name></cac:PartyName><cac:PostalAddress><cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:PostalAddress></cac:TaxRepresentativeParty>\n  <cac:PaymentMeans>")], "BR-56"),
        ("period ends before it starts", vec![("<cac:OrderReference>", "<cac:InvoicePeriod><cbc:StartDate>2024-03-31</cbc:StartDate><cbc:EndDate>2024-03-01</cbc:EndDate></cac:InvoicePeriod>\n  <cac:OrderReference>")], "BR-29"),
        ("empty period", vec![("<cac:OrderReference>", "<cac:InvoicePeriod></cac:InvoicePeriod>\n  <cac:OrderReference>")], "BR-CO-19"),
        ("VAT point date and code", vec![("<cbc:DueDate>", "<cbc:TaxPointDate>2024-03-04</cbc:TaxPointDate>\n  <cbc:DueDate>"), ("<cac:OrderReference>", "<cac:InvoicePeriod><cbc:DescriptionCode>3</cbc:DescriptionCode></cac:InvoicePeriod>\n  <cac:OrderReference>")], "BR-CO-03"),
        ("VAT point code not in its list", vec![("<cac:OrderReference>", "<cac:InvoicePeriod><cbc:DescriptionCode>7</cbc:DescriptionCode></cac:InvoicePeriod>\n  <cac:OrderReference>")], "BR-CL-06"),
        ("negative gross price", vec![("<cbc:PriceAmount currencyID=\"EUR\">549.00</cbc:PriceAmount>", "<cbc:PriceAmount currencyID=\"EUR\">549.00</cbc:PriceAmount><cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">0</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">-1</cbc:BaseAmount></cac:AllowanceCharge>")], "BR-28"),
        ("line period ends before it starts", vec![("<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount>", "<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount><cac:InvoicePeriod><cbc:StartDate>2024-02-02</cbc:StartDate><cbc:EndDate>2024-02-01</cbc:EndDate></cac:InvoicePeriod>")], "BR-30"),
        ("empty line period", vec![("<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount>", "<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount><cac:InvoicePeriod/>")], "BR-CO-20"),
        ("line allowance without amount", vec![("<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount>", "<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount><cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReason>Promo</cbc:AllowanceChargeReason></cac:AllowanceCharge>")], "BR-41"),
        ("line allowance without reason", vec![("<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount>", "<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount><cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">0</cbc:Amount></cac:AllowanceCharge>")], "BR-CO-23"),
        ("line charge without amount", vec![("<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount>", "<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount><cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>AA</cbc:AllowanceChargeReasonCode></cac:AllowanceCharge>")], "BR-43"),
        ("line charge without reason", vec![("<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount>", "<cbc:LineExtensionAmount currencyID=\"EUR\">1098.00</cbc:LineExtensionAmount><cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">0</cbc:Amount></cac:AllowanceCharge>")], "BR-44"),
        ("allowance without amount", vec![("<cbc:Amount currencyID=\"EUR\">0.00</cbc:Amount>", "")], "BR-31"),
        ("allowance reason code not in UNCL 5189", vec![("<cbc:AllowanceChargeReason>Promotion</cbc:AllowanceChargeReason>", "<cbc:AllowanceChargeReasonCode>99</cbc:AllowanceChargeReasonCode>")], "BR-CL-19"),
        ("allowance with a reason code only", vec![("<cbc:AllowanceChargeReason>Promotion</cbc:AllowanceChargeReason>", "<cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode>")], ""),
        ("allowance without reason", vec![("<cbc:AllowanceChargeReason>Promotion</cbc:AllowanceChargeReason>", "")], "BR-CO-21"),
        ("charge without amount", vec![("<cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReason>Promotion</cbc:AllowanceChargeReason><cbc:Amount currencyID=\"EUR\">0.00</cbc:Amount>", "<cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>AA</cbc:AllowanceChargeReasonCode>")], "BR-36"),
        ("charge reason code not in UNCL 7161", vec![("<cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReason>Promotion</cbc:AllowanceChargeReason>", "<cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>ZZZZ</cbc:AllowanceChargeReasonCode>")], "BR-CL-20"),
        ("allowance of standard rate at zero", vec![("<cbc:ID>S</cbc:ID><cbc:Percent>19</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:AllowanceCharge>", "<cbc:ID>S</cbc:ID><cbc:Percent>0</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:AllowanceCharge>")], "BR-S-06"),
        ("allowance of standard rate without seller VAT", vec![(seller_vat, "")], "BR-S-03"),
        ("VAT breakdown without taxable amount", vec![("<cbc:TaxableAmount currencyID=\"EUR\">55.50</cbc:TaxableAmount>", "")], "BR-45"),
        ("VAT breakdown without tax amount", vec![("<cbc:TaxAmount currencyID=\"EUR\">3.89</cbc:TaxAmount>", "")], "BR-46"),
        ("VAT breakdown of another scheme", vec![("<cbc:Percent>7</cbc:Percent>\n        <cac:TaxScheme>\n          <cbc:ID>VAT</cbc:ID>", "<cbc:Percent>7</cbc:Percent>\n        <cac:TaxScheme>\n          <cbc:ID>GST</cbc:ID>")], "BR-47"),
        ("VAT breakdown without rate", vec![(UBL_VAT_ROW, "<cac:TaxCategory>\n        <cbc:ID>S</cbc:ID>")], "BR-48"),
        ("a breakdown row without rate between German parties", vec![(UBL_VAT_ROW, "<cac:TaxCategory>\n        <cbc:ID>S</cbc:ID>")], "DE-R-014"),
        ("line category of another scheme", vec![("<cbc:Percent>7</cbc:Percent>\n        <cac:TaxScheme>\n          <cbc:ID>VAT</cbc:ID>\n        </cac:TaxScheme>\n      </cac:ClassifiedTaxCategory>", "<cbc:Percent>7</cbc:Percent>\n        <cac:TaxScheme>\n          <cbc:ID>GST</cbc:ID>\n        </cac:TaxScheme>\n      </cac:ClassifiedTaxCategory>")], "BR-CO-04"),
        ("payment means without code", vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "")], "BR-49"),
        ("credit transfer account without identifier", vec![("<cbc:ID>DE89370400440532013000</cbc:ID>", "")], "BR-50"),
        ("a second payment means by transfer without an account", vec![("<cac:PaymentTerms>", "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode></cac:PaymentMeans>\n  <cac:PaymentTerms>")], "BR-61"),
        ("payment means code not in UNCL 4461", vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "<cbc:PaymentMeansCode>99</cbc:PaymentMeansCode>")], "BR-CL-16"),
        ("supporting document without reference", vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:DocumentDescription>Delivery note</cbc:DocumentDescription></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")], "BR-52"),
        ("attachment of a MIME type EN 16931 does not allow", vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>A1</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode=\"application/zip\" filename=\"a.zip\">UEsDBA==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")], "BR-CL-24"),
        ("object identifier of an unknown scheme", vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID schemeID=\"QQQQ\">OBJ-1</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")], "BR-CL-07"),
        ("VAT accounting currency without its total", vec![("<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>", "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>\n  <cbc:TaxCurrencyCode>SEK</cbc:TaxCurrencyCode>")], "BR-53"),
        ("item attribute without value", vec![("<cbc:Name>Bike lock, steel</cbc:Name>", "<cbc:Name>Bike lock, steel</cbc:Name><cac:AdditionalItemProperty><cbc:Name>Colour</cbc:Name></cac:AdditionalItemProperty>")], "BR-54"),
        ("preceding invoice reference without number", vec![("<cac:AccountingSupplierParty>", "<cac:BillingReference><cac:InvoiceDocumentReference><cbc:IssueDate>2024-01-01</cbc:IssueDate></cac:InvoiceDocumentReference></cac:BillingReference>\n  <cac:AccountingSupplierParty>")], "BR-55"),
        ("deliver-to address without country", vec![("<cac:PaymentMeans>", "<cac:Delivery><cac:DeliveryLocation><cac:Address><cbc:CityName>Kiel</cbc:CityName></cac:Address></cac:DeliveryLocation></cac:Delivery>\n  <cac:PaymentMeans>")], "BR-57"),
        ("seller electronic address without scheme", vec![("<cbc:EndpointID schemeID=\"9930\">DE123456789</cbc:EndpointID>", "<cbc:EndpointID>DE123456789</cbc:EndpointID>")], "BR-62"),
        ("buyer electronic address without scheme", vec![("<cbc:EndpointID schemeID=\"9930\">DE987654321</cbc:EndpointID>", "<cbc:EndpointID>DE987654321</cbc:EndpointID>")], "BR-63"),
        ("electronic address scheme outside EAS", vec![("<cbc:EndpointID schemeID=\"9930\">DE987654321</cbc:EndpointID>", "<cbc:EndpointID schemeID=\"XX99\">DE987654321</cbc:EndpointID>")], "BR-CL-25"),
        ("standard item identifier without scheme", vec![("<cbc:Name>Bike lock, steel</cbc:Name>", "<cbc:Name>Bike lock, steel</cbc:Name><cac:StandardItemIdentification><cbc:ID>4000001234567</cbc:ID></cac:StandardItemIdentification>")], "BR-64"),
        ("standard item identifier of an unknown scheme", vec![("<cbc:Name>Bike lock, steel</cbc:Name>", "<cbc:Name>Bike lock, steel</cbc:Name><cac:StandardItemIdentification><cbc:ID schemeID=\"9999\">4000001234567</cbc:ID></cac:StandardItemIdentification>")], "BR-CL-21"),
        ("classification without scheme", vec![(UBL_LINE_CAT, "<cac:CommodityClassification><cbc:ItemClassificationCode>123</cbc:ItemClassificationCode></cac:CommodityClassification>\n      <cac:ClassifiedTaxCategory>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent>")], "BR-65"),
        ("classification of an unknown scheme", vec![(UBL_LINE_CAT, "<cac:CommodityClassification><cbc:ItemClassificationCode listID=\"QQ\">123</cbc:ItemClassificationCode></cac:CommodityClassification>\n      <cac:ClassifiedTaxCategory>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent>")], "BR-CL-13"),
        ("origin country outside ISO 3166", vec![(UBL_LINE_CAT, "<cac:OriginCountry><cbc:IdentificationCode>XY</cbc:IdentificationCode></cac:OriginCountry>\n      <cac:ClassifiedTaxCategory>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent>")], "BR-CL-15"),
        ("unit code outside Recommendation 20", vec![("<cbc:InvoicedQuantity unitCode=\"C62\">3</cbc:InvoicedQuantity>", "<cbc:InvoicedQuantity unitCode=\"PCS\">3</cbc:InvoicedQuantity>")], "BR-CL-23"),
        ("amount in a currency outside ISO 4217", vec![("<cbc:PriceAmount currencyID=\"EUR\">18.50</cbc:PriceAmount>", "<cbc:PriceAmount currencyID=\"EUX\">18.50</cbc:PriceAmount>")], "BR-CL-03"),
        ("party identifier of an unknown scheme", vec![("<cbc:EndpointID schemeID=\"9930\">DE123456789</cbc:EndpointID>", "<cbc:EndpointID schemeID=\"9930\">DE123456789</cbc:EndpointID><cac:PartyIdentification><cbc:ID schemeID=\"ABCD\">77</cbc:ID></cac:PartyIdentification>")], "BR-CL-10"),
        ("legal registration of an unknown scheme", vec![("<cbc:CompanyID>HRB 12345</cbc:CompanyID>", "<cbc:CompanyID schemeID=\"ABCD\">HRB 12345</cbc:CompanyID>")], "BR-CL-11"),
        ("a credit note code on an invoice", vec![("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>", "<cbc:InvoiceTypeCode>381</cbc:InvoiceTypeCode>")], "BR-CL-01"),
        ("a self-billed invoice code, which PEPPOL billing does not take", vec![("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>", "<cbc:InvoiceTypeCode>389</cbc:InvoiceTypeCode>")], "PEPPOL-EN16931-P0100"),
        ("a partial construction invoice code", vec![("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>", "<cbc:InvoiceTypeCode>875</cbc:InvoiceTypeCode>")], ""),
        ("exemption code outside VATEX", vec![(UBL_VAT_ROW, "<cac:TaxCategory>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent><cbc:TaxExemptionReasonCode>VATEX-XX</cbc:TaxExemptionReasonCode>")], "BR-CL-22"),
        ("a breakdown row of category Z without lines of it", vec![("<cbc:ID>S</cbc:ID>\n        <cbc:Percent>7</cbc:Percent>\n        <cac:TaxScheme>\n          <cbc:ID>VAT</cbc:ID>\n        </cac:TaxScheme>\n      </cac:TaxCategory>", "<cbc:ID>Z</cbc:ID>\n        <cbc:Percent>0</cbc:Percent>\n        <cac:TaxScheme>\n          <cbc:ID>VAT</cbc:ID>\n        </cac:TaxScheme>\n      </cac:TaxCategory>")], "BR-Z-08"),
        ("a tax representative's VAT identifier covers standard rate", vec![(seller_vat, ""), ("<cac:PaymentMeans>", "<cac:TaxRepresentativeParty><cac:PartyName><cbc:Name>Rep</cbc:Name></cac:PartyName><cac:PostalAddress><cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:PostalAddress><cac:PartyTaxScheme><cbc:CompanyID>DE111111111</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:TaxRepresentativeParty>\n  <cac:PaymentMeans>")], ""),
        ("tax representative VAT identifier without country prefix", vec![("<cac:PaymentMeans>", "<cac:TaxRepresentativeParty><cac:PartyName><cbc:Name>Rep</cbc:Name></cac:PartyName><cac:PostalAddress><cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:PostalAddress><cac:PartyTaxScheme><cbc:CompanyID>111111111</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:TaxRepresentativeParty>\n  <cac:PaymentMeans>")], "BR-CO-09"),
        ("a tax total in a third currency is not the VAT total", vec![("<cbc:TaxAmount currencyID=\"EUR\">221.97</cbc:TaxAmount>", "<cbc:TaxAmount currencyID=\"USD\">221.97</cbc:TaxAmount>")], "BR-CO-15"),
        ("line net amount 0.02 off the price", vec![("<cbc:PriceAmount currencyID=\"EUR\">18.50</cbc:PriceAmount>", "<cbc:PriceAmount currencyID=\"EUR\">18.5066</cbc:PriceAmount>")], ""),
        ("line net amount 0.03 off the price", vec![("<cbc:PriceAmount currencyID=\"EUR\">18.50</cbc:PriceAmount>", "<cbc:PriceAmount currencyID=\"EUR\">18.51</cbc:PriceAmount>")], "PEPPOL-EN16931-R120"),
        ("a specification identifier with an empty part", vec![("poacc:billing:3.0</cbc:CustomizationID>", "poacc:billing:3.0::x</cbc:CustomizationID>")], "PEPPOL-EN16931-R004"),
        ("a business process PEPPOL does not know", vec![("<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>", "<cbc:ProfileID>urn:example:process</cbc:ProfileID>")], "PEPPOL-EN16931-R007"),
        ("an amount in another currency", vec![("<cbc:PriceAmount currencyID=\"EUR\">18.50</cbc:PriceAmount>", "<cbc:PriceAmount currencyID=\"USD\">18.50</cbc:PriceAmount>")], "PEPPOL-EN16931-R051"),
        ("an empty element", vec![("<cbc:Name>Bike lock, steel</cbc:Name>", "<cbc:Name>Bike lock, steel</cbc:Name><cbc:Description> </cbc:Description>")], "PEPPOL-EN16931-R008"),
        ("the seller's VAT identifier twice", vec![(seller_vat, "<cac:PartyTaxScheme><cbc:CompanyID>DE123456789</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme><cac:PartyTaxScheme><cbc:CompanyID>DE123456789</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>")], "UBL-SR-12"),
        ("three tax schemes of the seller", vec![(seller_vat, "<cac:PartyTaxScheme><cbc:CompanyID>DE123456789</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme><cac:PartyTaxScheme><cbc:CompanyID>1</cbc:CompanyID><cac:TaxScheme><cbc:ID>TAX</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme><cac:PartyTaxScheme><cbc:CompanyID>2</cbc:CompanyID><cac:TaxScheme><cbc:ID>FC</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>")], "UBL-SR-42"),
        ("two payment identifiers", vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode><cbc:PaymentID>P1</cbc:PaymentID>"), ("<cac:PaymentTerms>", "<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode><cbc:PaymentID>P2</cbc:PaymentID><cac:PayeeFinancialAccount><cbc:ID>DE89370400440532013000</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>\n  <cac:PaymentTerms>")], "UBL-SR-44"),
        ("two payment means codes", vec![("<cac:PaymentTerms>", "<cac:PaymentMeans><cbc:PaymentMeansCode>48</cbc:PaymentMeansCode></cac:PaymentMeans>\n  <cac:PaymentTerms>")], "UBL-SR-47"),
        ("an attachment without file name", vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>A1</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode=\"application/pdf\">JVBERg==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")], "UBL-DT-07"),
        ("a line amount with three decimals as written", vec![("<cbc:LineExtensionAmount currencyID=\"EUR\">49.80</cbc:LineExtensionAmount>", "<cbc:LineExtensionAmount currencyID=\"EUR\">49.800</cbc:LineExtensionAmount>")], "UBL-DT-01"),
        ("a line's object identifier of an unknown scheme", vec![("<cbc:LineExtensionAmount currencyID=\"EUR\">49.80</cbc:LineExtensionAmount>", "<cbc:LineExtensionAmount currencyID=\"EUR\">49.80</cbc:LineExtensionAmount><cac:DocumentReference><cbc:ID schemeID=\"QQQQ\">OBJ-9</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode></cac:DocumentReference>")], "BR-CL-07"),
        ("a total with three decimals as written", vec![("<cbc:PayableAmount currencyID=\"EUR\">1425.27</cbc:PayableAmount>", "<cbc:PayableAmount currencyID=\"EUR\">1425.270</cbc:PayableAmount>")], "BR-DEC-18"),
    ];
    let mut checked = 0;
    for (what, edits, rule) in &cases {
        let xml = edited(&with_allowance, edits);
        let rules = rules_of_text(&xml);
        if rule.is_empty() {
            assert_eq!(rules, Vec::<String>::new(), "{what}: a valid document");
        } else {
            assert!(rules.iter().any(|r| r == rule), "{what}: expected {rule}, found {rules:?}");
        }
        checked += 1;
    }
    assert_eq!(checked, 77);
}

/// BR-CO-26 is asked of the seller's role element: with its party removed whole, the seller
/// has no identifier at all (the official rules fire; PEPPOL's R020, asked of the party, does
/// not).
#[test]
fn a_seller_role_without_its_party_breaks_br_co_26() {
    let ubl = own_document("cli__einvoice__ubl_invoice_multi_rate.snap");
    let (open, close) = ("<cac:AccountingSupplierParty>", "</cac:AccountingSupplierParty>");
    let (a, b) = (ubl.find(open).unwrap() + open.len(), ubl.find(close).unwrap());
    let without = format!("{}{}", &ubl[..a], &ubl[b..]);
    let rules = rules_of_text(&without);
    assert!(rules.iter().any(|r| r == "BR-CO-26"), "{rules:?}");
    assert!(!rules.iter().any(|r| r == "PEPPOL-EN16931-R020"), "{rules:?}");
    assert!(!rules_of_text(&ubl).iter().any(|r| r == "BR-CO-26"));
}

/// White space is XML's: space, tab, CR and LF. A value of a no-break space is text (XPath's
/// `normalize-space` keeps it, so the element is not empty), and element-only content holding
/// one breaks the schema; the same places with a plain space are empty and indentation.
#[test]
fn only_xml_white_space_is_blank() {
    let ubl = own_document("cli__einvoice__ubl_invoice_multi_rate.snap");
    let reference = "<cbc:BuyerReference>04011000-12345-34</cbc:BuyerReference>";
    let nbsp = rules_of_text(&edited(&ubl, &[(reference, "<cbc:BuyerReference>\u{a0}</cbc:BuyerReference>")]));
    assert_eq!(nbsp, Vec::<String>::new());
    let space = rules_of_text(&edited(&ubl, &[(reference, "<cbc:BuyerReference> </cbc:BuyerReference>")]));
    // Blank: empty (R008), and the German buyer reference is not given (DE-R-015), as the
    // official rules say of the same two documents.
    assert_eq!(space, ["PEPPOL-EN16931-R008", "DE-R-015"]);
    let order = "<cac:OrderReference>\n    <cbc:ID>";
    let in_content = edited(&ubl, &[(order, "<cac:OrderReference>\n  \u{a0}  <cbc:ID>")]);
    let found = invoiceflow::einvoice::check_bytes("case", in_content.as_bytes()).findings;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "XSD");
    assert!(found[0].1.contains("OrderReference: text `\u{a0}` where the schema has elements only"), "{found:?}");
    assert_eq!(
        rules_of_text(&edited(&ubl, &[(order, "<cac:OrderReference>\n \t\r\n   <cbc:ID>")])),
        Vec::<String>::new()
    );
    // The currency code: a no-break space makes it no ISO 4217 code (BR-CL-04); XML white space
    // around it does not, but the rules that match amounts by `currencyID` compare with the
    // code as written, and no amount is in ` EUR\t` (BR-CO-15, R051) — as the official rules
    // judge both documents.
    let currency = "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>";
    let code = |c: &str| {
        rules_of_text(&edited(
            &ubl,
            &[(currency, &format!("<cbc:DocumentCurrencyCode>{c}</cbc:DocumentCurrencyCode>"))],
        ))
    };
    assert_eq!(code("\u{a0}EUR\t"), ["BR-CO-15", "BR-CL-04", "PEPPOL-EN16931-R051"]);
    assert_eq!(code(" EUR\t"), ["BR-CO-15", "PEPPOL-EN16931-R051"]);
}

#[test]
fn category_rules_follow_the_identifiers_and_rates_each_category_needs() {
    let ubl = own_document("cli__einvoice__ubl_invoice_multi_rate.snap");
    // Every line and breakdown row moved to one category (rate 0 unless said), with the exemption
    // reason those categories need.
    let as_category = |c: &str, rate: &str, exempt: bool| {
        let mut xml = ubl.replace("<cbc:ID>S</cbc:ID>", &format!("<cbc:ID>{c}</cbc:ID>"));
        for r in ["19", "7"] {
            xml =
                xml.replace(&format!("<cbc:Percent>{r}</cbc:Percent>"), &format!("<cbc:Percent>{rate}</cbc:Percent>"));
        }
        if exempt {
            xml = xml.replacen(
                &format!("<cbc:Percent>{rate}</cbc:Percent>\n        <cac:TaxScheme>"),
                &format!("<cbc:Percent>{rate}</cbc:Percent>\n        <cbc:TaxExemptionReason>Exempt</cbc:TaxExemptionReason>\n        <cac:TaxScheme>"),
                1,
            );
        }
        xml
    };
    let has = |xml: &str, rule: &str| rules_of_text(xml).iter().any(|r| r == rule);
    // Two breakdown rows of one exempt category: exactly one is allowed.
    assert!(has(&as_category("E", "0", true), "BR-E-01"));
    assert!(has(&as_category("Z", "0", false), "BR-Z-01"));
    // A line of an exempt category at a rate.
    assert!(has(&as_category("E", "5", true), "BR-E-05"));
    assert!(has(&as_category("L", "-1", false), "BR-AF-05"));
    assert!(!has(&as_category("L", "3", false), "BR-AF-05"));
    // Reverse charge needs the buyer's VAT identifier or legal registration.
    let ae = as_category("AE", "0", true).replacen(
        "<cac:PartyTaxScheme>\n        <cbc:CompanyID>DE987654321</cbc:CompanyID>\n        <cac:TaxScheme>\n          <cbc:ID>VAT</cbc:ID>\n        </cac:TaxScheme>\n      </cac:PartyTaxScheme>",
        "",
        1,
    );
    assert!(has(&ae, "BR-AE-02"));
    let ae_legal = ae.replacen(
        "<cbc:RegistrationName>Bäckerei Müller KG</cbc:RegistrationName>",
        "<cbc:RegistrationName>Bäckerei Müller KG</cbc:RegistrationName><cbc:CompanyID>HRA 1</cbc:CompanyID>",
        1,
    );
    assert!(!has(&ae_legal, "BR-AE-02"));
    // Not subject to VAT: no VAT identifiers at all, no other category beside it.
    let o = as_category("O", "0", true).replace("<cbc:Percent>0</cbc:Percent>\n        ", "");
    assert!(has(&o, "BR-O-02"));
    let mixed = ubl.replacen("<cbc:ID>S</cbc:ID>\n        <cbc:Percent>7</cbc:Percent>\n        <cac:TaxScheme>\n          <cbc:ID>VAT</cbc:ID>\n        </cac:TaxScheme>\n      </cac:TaxCategory>", "<cbc:ID>O</cbc:ID>\n        <cbc:TaxExemptionReason>Outside</cbc:TaxExemptionReason>\n        <cac:TaxScheme>\n          <cbc:ID>VAT</cbc:ID>\n        </cac:TaxScheme>\n      </cac:TaxCategory>", 1);
    let found = rules_of_text(&mixed);
    for rule in ["BR-O-11", "BR-O-12"] {
        assert!(found.iter().any(|r| r == rule), "{rule}: {found:?}");
    }
    // Intra-community supply: a delivery date or an invoicing period will do.
    let k = as_category("K", "0", true);
    assert!(has(&k, "BR-IC-11"));
    let k_period = k.replacen(
        "<cac:OrderReference>",
        "<cac:InvoicePeriod><cbc:StartDate>2024-03-01</cbc:StartDate></cac:InvoicePeriod>\n  <cac:OrderReference>",
        1,
    );
    assert!(!has(&k_period, "BR-IC-11"));
    // Category B (split payment, Italy) is in UNCL 5305.
    assert!(!has(&as_category("B", "0", false), "BR-CL-17"));
}

#[test]
fn cii_documents_are_read_whole_for_the_rules() {
    let cii = own_document("cli__einvoice__cii_invoice_foreign_currency.snap");
    assert_eq!(rules_of_text(&cii), Vec::<String>::new(), "the base document is valid");
    let means = "<ram:SpecifiedTradeSettlementPaymentMeans>";
    // A proprietary account identifier and a second payment means are read (no false BR-61).
    let proprietary = edited(
        &cii,
        &[("<ram:IBANID>DE89370400440532013000</ram:IBANID>", "<ram:ProprietaryID>123-456</ram:ProprietaryID>")],
    );
    assert_eq!(rules_of_text(&proprietary), Vec::<String>::new());
    // (Payment means of two codes break CII-SR-467: the second transfer goes to another account.)
    let two_transfers = edited(&cii, &[(means, "<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>58</ram:TypeCode><ram:PayeePartyCreditorFinancialAccount><ram:ProprietaryID>123-456</ram:ProprietaryID></ram:PayeePartyCreditorFinancialAccount></ram:SpecifiedTradeSettlementPaymentMeans>\n      <ram:SpecifiedTradeSettlementPaymentMeans>")]);
    assert_eq!(rules_of_text(&two_transfers), Vec::<String>::new());
    let card_then_transfer = edited(&cii, &[(means, "<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>48</ram:TypeCode></ram:SpecifiedTradeSettlementPaymentMeans>\n      <ram:SpecifiedTradeSettlementPaymentMeans>")]);
    assert_eq!(rules_of_text(&card_then_transfer), ["CII-SR-467"]);
    let second_without_account = edited(&cii, &[(means, "<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>30</ram:TypeCode></ram:SpecifiedTradeSettlementPaymentMeans>\n      <ram:SpecifiedTradeSettlementPaymentMeans>")]);
    // CII looks for the account identifier in the account group (BR-61), and for the group in
    // the payment means (CII-SR-470).
    assert_eq!(rules_of_text(&second_without_account), ["CII-SR-470", "CII-SR-467"]);
    let empty_account = edited(
        &cii,
        &[("<ram:IBANID>DE89370400440532013000</ram:IBANID>", "<ram:AccountName>Nordwind</ram:AccountName>")],
    );
    assert_eq!(rules_of_text(&empty_account), ["CII-SR-470", "BR-61", "BR-50"]);
    // A seller VAT identifier of another scheme is no VAT identifier: category G needs one.
    let other_scheme = edited(
        &cii,
        &[("<ram:ID schemeID=\"VA\">DE123456789</ram:ID>", "<ram:ID schemeID=\"XX\">DE123456789</ram:ID>")],
    );
    let found = rules_of_text(&other_scheme);
    assert!(found.contains(&"BR-G-02".to_string()), "{found:?}");
    // A tax total in neither currency is no total; the one in the document currency is.
    let third = edited(
        &cii,
        &[(
            "<ram:TaxTotalAmount currencyID=\"GBP\">0</ram:TaxTotalAmount>",
            "<ram:TaxTotalAmount currencyID=\"USD\">5</ram:TaxTotalAmount>",
        )],
    );
    assert_eq!(
        rules_of_text(&third),
        Vec::<String>::new(),
        "without VAT the grand total equals the basis (CII BR-CO-15)"
    );
    // A credit note's own codes are read as a credit note (UNTDID 1001, e.g. 261 self-billed).
    let self_billed_credit = edited(&cii, &[("<ram:TypeCode>380</ram:TypeCode>", "<ram:TypeCode>261</ram:TypeCode>")]);
    assert!(!rules_of_text(&self_billed_credit).contains(&"BR-CL-01".to_string()));
    let unknown_type = edited(&cii, &[("<ram:TypeCode>380</ram:TypeCode>", "<ram:TypeCode>999</ram:TypeCode>")]);
    assert!(rules_of_text(&unknown_type).contains(&"BR-CL-01".to_string()));
}

#[test]
fn check_lists_its_rules() {
    let run = crate::invoiceflow(&["check", "--rules", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rules = run.json();
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 553);
    let ic = rules.iter().find(|r| r["id"] == "BR-IC-02").unwrap();
    assert_eq!(ic["set"], "EN 16931");
    assert!(ic["asks"].as_str().unwrap().starts_with("intra-community supply: lines of the category need"), "{ic}");
    let text = crate::invoiceflow(&["check", "--rules"]);
    assert!(text.stdout.lines().any(|l| l.starts_with("PEPPOL-EN16931-P0100   PEPPOL BIS 3  UBL")), "{}", text.stdout);
}

#[test]
fn documents_of_every_vat_category_are_written_and_pass_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.display().to_string();
    let run = crate::invoiceflow(&["generate", "--invoices", "300", "--seed", "5", "--all-categories", "--out", &d]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let store = dir.path().join("s.db").display().to_string();
    let master = data.join("master").display().to_string();
    let run = crate::invoiceflow(&[
        "import",
        "--quiet",
        "--json",
        "--master",
        &master,
        "--store",
        &store,
        &format!("{d}/SalesInvoiceHeaderV2.csv"),
        &format!("{d}/BusinessDocumentSalesInvoiceLineItem.csv"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for syntax in ["ubl", "cii"] {
        let out = dir.path().join(syntax);
        let json = einvoice(Path::new(&store), syntax, &out, None);
        assert_eq!(
            (json["documents"].as_u64(), json["refused"].as_array().map(Vec::len)),
            (Some(300), Some(0)),
            "{json}"
        );
        // Every category is among the documents (the line categories as written), and
        // document-level allowances (the discount) and charges (the freight).
        let mut seen = std::collections::BTreeSet::new();
        let (mut discounts, mut charges) = (0, 0);
        for e in std::fs::read_dir(out.join("DEMF")).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            let (allowance, charge) = match syntax {
                "ubl" => (
                    "<cbc:AllowanceChargeReason>Discount</cbc:AllowanceChargeReason>",
                    "<cbc:AllowanceChargeReason>Charge</cbc:AllowanceChargeReason>",
                ),
                _ => ("<ram:Reason>Discount</ram:Reason>", "<ram:Reason>Charge</ram:Reason>"),
            };
            // (Line discounts carry the same reason inside the lines: count the document's,
            // before the VAT total in UBL, in the header settlement in CII.)
            let document = match syntax {
                "ubl" => text.split("<cac:TaxTotal>").next().unwrap_or(""),
                _ => text.split("<ram:ApplicableHeaderTradeSettlement>").nth(1).unwrap_or(""),
            };
            discounts += usize::from(document.contains(allowance));
            charges += usize::from(document.contains(charge));
            for c in ["S", "Z", "E", "AE", "K", "G", "O", "L", "M"] {
                let (ubl, cii) = (format!("<cbc:ID>{c}</cbc:ID>"), format!("<ram:CategoryCode>{c}</ram:CategoryCode>"));
                if text.contains(&ubl) || text.contains(&cii) {
                    seen.insert(c);
                }
            }
        }
        assert_eq!(seen.len(), 9, "{syntax}: {seen:?}");
        assert_eq!((discounts, charges), (56, 29), "{syntax}: documents with a discount, with a charge");
        let check = crate::invoiceflow(&["check", &out.display().to_string()]);
        assert_eq!(check.code, 0, "{}", check.stderr);
    }
}

#[test]
fn a_warning_is_reported_and_refuses_nothing() {
    let ubl = own_document("cli__einvoice__ubl_invoice_multi_rate.snap");
    // The one payment instruction by card (two codes would break UBL-SR-47; between German
    // parties a card payment names no account: DE-R-024-2).
    let card = |pan: &str| {
        edited(
            &ubl,
            &[(
                UBL_CREDIT_TRANSFER,
                &format!("<cbc:PaymentMeansCode>48</cbc:PaymentMeansCode><cac:CardAccount><cbc:PrimaryAccountNumberID>{pan}</cbc:PrimaryAccountNumberID><cbc:NetworkID>VISA</cbc:NetworkID></cac:CardAccount>"),
            )],
        )
    };
    let full = invoiceflow::einvoice::check_bytes("card", card("4111111111111111").as_bytes());
    assert!(full.ok, "{:?}", full.findings);
    assert_eq!(full.warnings.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(), ["BR-51"]);
    let masked = invoiceflow::einvoice::check_bytes("card", card("411111****").as_bytes());
    assert!(masked.ok && masked.warnings.is_empty(), "{:?}", masked.warnings);
}

fn warnings_of_text(xml: &str) -> Vec<String> {
    invoiceflow::einvoice::check_bytes("case", xml.as_bytes()).warnings.into_iter().map(|(r, _)| r).collect()
}

/// The seller's country (the first country code of the base document).
const SELLER_DE: &str = "<cbc:IdentificationCode>DE</cbc:IdentificationCode>";
const SELLER_CONTACT: &str = "<cac:Contact>\n        <cbc:Name>Accounts Receivable</cbc:Name>\n        <cbc:Telephone>+49 40 123456-0</cbc:Telephone>\n        <cbc:ElectronicMail>ar@nordwind.example</cbc:ElectronicMail>\n      </cac:Contact>";
const SELLER_VAT_ID: &str = "<cbc:CompanyID>DE123456789</cbc:CompanyID>";
const SELLER_LEGAL_ID: &str = "<cbc:CompanyID>HRB 12345</cbc:CompanyID>";
const LINE_AMOUNT: &str = "<cbc:LineExtensionAmount currencyID=\"EUR\">49.80</cbc:LineExtensionAmount>";
const PRICE: &str = "<cbc:PriceAmount currencyID=\"EUR\">18.50</cbc:PriceAmount>";
const ORDER_REFERENCE: &str = "<cac:OrderReference>\n    <cbc:ID>PO-4711</cbc:ID>\n  </cac:OrderReference>";

/// A country for the seller (`seller`) or for seller and buyer (`both`), as edits of the base.
fn seller_in(code: &'static str) -> Vec<(&'static str, &'static str)> {
    let to: &'static str =
        Box::leak(format!("<cbc:IdentificationCode>{code}</cbc:IdentificationCode>").into_boxed_str());
    vec![(SELLER_DE, to)]
}

fn both_in(code: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut e = seller_in(code);
    e.extend(seller_in(code));
    e
}

#[test]
fn peppol_national_and_syntax_rules_fire_on_their_defects() {
    let ubl = own_document("cli__einvoice__ubl_invoice_multi_rate.snap");
    let with_allowance = edited(&ubl, &[("<cac:TaxTotal>", UBL_ALLOWANCE)]);
    assert_eq!(rules_of_text(&with_allowance), Vec::<String>::new());
    let allowance_amount = "<cbc:Amount currencyID=\"EUR\">0.00</cbc:Amount>";
    let means = |inner: &'static str| -> (&'static str, &'static str) { (UBL_CREDIT_TRANSFER, inner) };
    let mandate = "<cac:PaymentMandate><cbc:ID>M-1</cbc:ID><cac:PayerFinancialAccount><cbc:ID>DE89370400440532013000</cbc:ID></cac:PayerFinancialAccount></cac:PaymentMandate>";
    let sepa_creditor = "<cbc:EndpointID schemeID=\"9930\">DE123456789</cbc:EndpointID><cac:PartyIdentification><cbc:ID schemeID=\"SEPA\">DE98ZZZ09999999999</cbc:ID></cac:PartyIdentification>";
    let buyer_in_at = ("<cbc:IdentificationCode>DE</cbc:IdentificationCode>\n        </cac:Country>\n      </cac:PostalAddress>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>DE987654321", "<cbc:IdentificationCode>AT</cbc:IdentificationCode>\n        </cac:Country>\n      </cac:PostalAddress>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>DE987654321");
    let attachment = |name: &str| {
        format!("<cac:AdditionalDocumentReference><cbc:ID>{name}</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode=\"application/pdf\" filename=\"a.pdf\">JVBERg==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>")
    };
    let two_attachments: &'static str = Box::leak(
        format!("{}{}\n  <cac:AccountingSupplierParty>", attachment("A1"), attachment("A2")).into_boxed_str(),
    );
    type Case = (&'static str, Vec<(&'static str, &'static str)>, &'static str);
    let mut cases: Vec<Case> = vec![
        // PEPPOL BIS 3.
        ("two notes, buyer not German", vec![buyer_in_at, ("<cbc:DocumentCurrencyCode>", "<cbc:Note>a</cbc:Note><cbc:Note>b</cbc:Note>\n  <cbc:DocumentCurrencyCode>")], "PEPPOL-EN16931-R002"),
        ("allowance amount not base × percentage", vec![(allowance_amount, "<cbc:MultiplierFactorNumeric>10</cbc:MultiplierFactorNumeric><cbc:Amount currencyID=\"EUR\">0.00</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">100.00</cbc:BaseAmount>")], "PEPPOL-EN16931-R040"),
        ("allowance percentage without base", vec![(allowance_amount, "<cbc:MultiplierFactorNumeric>10</cbc:MultiplierFactorNumeric><cbc:Amount currencyID=\"EUR\">0.00</cbc:Amount>")], "PEPPOL-EN16931-R041"),
        ("allowance base without percentage", vec![(allowance_amount, "<cbc:Amount currencyID=\"EUR\">0.00</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">100.00</cbc:BaseAmount>")], "PEPPOL-EN16931-R042"),
        ("charge indicator neither true nor false", vec![("<cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReason>Promotion", "<cbc:ChargeIndicator>no</cbc:ChargeIndicator><cbc:AllowanceChargeReason>Promotion")], "PEPPOL-EN16931-R043"),
        ("a charge on a price", vec![(PRICE, "<cbc:PriceAmount currencyID=\"EUR\">18.50</cbc:PriceAmount><cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">0</cbc:Amount></cac:AllowanceCharge>")], "PEPPOL-EN16931-R044"),
        ("net price not gross less discount", vec![(PRICE, "<cbc:PriceAmount currencyID=\"EUR\">18.50</cbc:PriceAmount><cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">1.00</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">20.00</cbc:BaseAmount></cac:AllowanceCharge>")], "PEPPOL-EN16931-R046"),
        ("two tax totals with a breakdown", vec![("<cac:TaxTotal>\n    <cbc:TaxAmount", "<cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">0.00</cbc:TaxAmount><cac:TaxSubtotal></cac:TaxSubtotal></cac:TaxTotal>\n  <cac:TaxTotal>\n    <cbc:TaxAmount")], "PEPPOL-EN16931-R053"),
        ("a tax total without breakdown and without accounting currency", vec![("<cac:LegalMonetaryTotal>", "<cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">221.97</cbc:TaxAmount></cac:TaxTotal>\n  <cac:LegalMonetaryTotal>")], "PEPPOL-EN16931-R054"),
        ("VAT totals of opposite signs", vec![("<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>", "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>\n  <cbc:TaxCurrencyCode>SEK</cbc:TaxCurrencyCode>"), ("<cac:LegalMonetaryTotal>", "<cac:TaxTotal><cbc:TaxAmount currencyID=\"SEK\">-2500.00</cbc:TaxAmount></cac:TaxTotal>\n  <cac:LegalMonetaryTotal>")], "PEPPOL-EN16931-R055"),
        ("direct debit without mandate", vec![means("<cbc:PaymentMeansCode>49</cbc:PaymentMeansCode>")], "PEPPOL-EN16931-R061"),
        ("two invoiced objects on a line", vec![(LINE_AMOUNT, "<cbc:LineExtensionAmount currencyID=\"EUR\">49.80</cbc:LineExtensionAmount><cac:DocumentReference><cbc:ID>O1</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode></cac:DocumentReference><cac:DocumentReference><cbc:ID>O2</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode></cac:DocumentReference>")], "PEPPOL-EN16931-R100"),
        ("a line's document reference of another type", vec![(LINE_AMOUNT, "<cbc:LineExtensionAmount currencyID=\"EUR\">49.80</cbc:LineExtensionAmount><cac:DocumentReference><cbc:ID>O1</cbc:ID><cbc:DocumentTypeCode>916</cbc:DocumentTypeCode></cac:DocumentReference>")], "PEPPOL-EN16931-R101"),
        ("base quantity in another unit", vec![(PRICE, "<cbc:PriceAmount currencyID=\"EUR\">18.50</cbc:PriceAmount><cbc:BaseQuantity unitCode=\"KGM\">1</cbc:BaseQuantity>")], "PEPPOL-EN16931-R130"),
        ("a date not YYYY-MM-DD", vec![("<cbc:IssueDate>2024-03-04</cbc:IssueDate>", "<cbc:IssueDate>2024-3-04</cbc:IssueDate>")], "PEPPOL-EN16931-F001"),
        ("invoice type 326 for a buyer outside Germany", vec![buyer_in_at, ("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>", "<cbc:InvoiceTypeCode>326</cbc:InvoiceTypeCode>")], "PEPPOL-EN16931-P0112"),
        ("attachment of a type PEPPOL does not take", vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>A1</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode=\"application/zip\" filename=\"a.zip\">UEsDBA==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")], "PEPPOL-EN16931-CL001"),
        ("allowance reason code outside UNCL 5189", vec![("<cbc:AllowanceChargeReason>Promotion</cbc:AllowanceChargeReason>", "<cbc:AllowanceChargeReasonCode>99</cbc:AllowanceChargeReasonCode>")], "PEPPOL-EN16931-CL002"),
        ("charge reason code outside UNCL 7161", vec![("<cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReason>Promotion</cbc:AllowanceChargeReason>", "<cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>ZZZZ</cbc:AllowanceChargeReasonCode>")], "PEPPOL-EN16931-CL003"),
        ("invoicing period description code outside UNCL 2005", vec![(ORDER_REFERENCE, "<cac:InvoicePeriod><cbc:DescriptionCode>7</cbc:DescriptionCode></cac:InvoicePeriod>\n  <cac:OrderReference>\n    <cbc:ID>PO-4711</cbc:ID>\n  </cac:OrderReference>")], "PEPPOL-EN16931-CL006"),
        // Germany (seller and buyer).
        ("no payment instructions", vec![("<cac:PaymentMeans>\n    ", "<cac:PaymentMeansX>\n    "), ("</cac:PaymentMeans>", "</cac:PaymentMeansX>")], "DE-R-001"),
        ("no seller contact", vec![(SELLER_CONTACT, "")], "DE-R-002"),
        ("no seller city", vec![("<cbc:CityName>Hamburg</cbc:CityName>", "")], "DE-R-003"),
        ("no seller post code", vec![("<cbc:PostalZone>20457</cbc:PostalZone>", "")], "DE-R-004"),
        ("no seller contact point", vec![("<cbc:Name>Accounts Receivable</cbc:Name>", "")], "DE-R-005"),
        ("no seller telephone", vec![("<cbc:Telephone>+49 40 123456-0</cbc:Telephone>", "")], "DE-R-006"),
        ("no seller e-mail", vec![("<cbc:ElectronicMail>ar@nordwind.example</cbc:ElectronicMail>", "")], "DE-R-007"),
        ("no buyer city", vec![("<cbc:CityName>München</cbc:CityName>", "")], "DE-R-008"),
        ("no buyer post code", vec![("<cbc:PostalZone>80331</cbc:PostalZone>", "")], "DE-R-009"),
        ("deliver-to address without city", vec![("<cac:PaymentMeans>\n    ", "<cac:Delivery><cac:DeliveryLocation><cac:Address><cbc:PostalZone>24103</cbc:PostalZone><cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:Address></cac:DeliveryLocation></cac:Delivery>\n  <cac:PaymentMeans>\n    ")], "DE-R-010"),
        ("deliver-to address without post code", vec![("<cac:PaymentMeans>\n    ", "<cac:Delivery><cac:DeliveryLocation><cac:Address><cbc:CityName>Kiel</cbc:CityName><cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:Address></cac:DeliveryLocation></cac:Delivery>\n  <cac:PaymentMeans>\n    ")], "DE-R-011"),
        ("no buyer reference", vec![("<cbc:BuyerReference>04011000-12345-34</cbc:BuyerReference>", "")], "DE-R-015"),
        ("standard rate without the seller's VAT identifier", vec![("<cac:PartyTaxScheme>\n        <cbc:CompanyID>DE123456789</cbc:CompanyID>\n        <cac:TaxScheme>\n          <cbc:ID>VAT</cbc:ID>\n        </cac:TaxScheme>\n      </cac:PartyTaxScheme>", "")], "DE-R-016"),
        ("cash discount percentage without its decimals", vec![("<cbc:Note>30 Tage netto</cbc:Note>", "<cbc:Note>#SKONTO#TAGE=14#PROZENT=2#\n</cbc:Note>")], "DE-R-018"),
        ("cash discount line without a line break after it", vec![("<cbc:Note>30 Tage netto</cbc:Note>", "<cbc:Note>#SKONTO#TAGE=14#PROZENT=2.00#</cbc:Note>")], "DE-R-018"),
        ("two attachments of one file name", vec![("<cac:AccountingSupplierParty>", two_attachments)], "DE-R-022"),
        ("credit transfer without its account", vec![means("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>")], "DE-R-023-1"),
        ("credit transfer with a card", vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode><cac:CardAccount><cbc:PrimaryAccountNumberID>411111****</cbc:PrimaryAccountNumberID><cbc:NetworkID>VISA</cbc:NetworkID></cac:CardAccount>")], "DE-R-023-2"),
        ("card payment without the card", vec![means("<cbc:PaymentMeansCode>48</cbc:PaymentMeansCode>")], "DE-R-024-1"),
        ("card payment with an account", vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "<cbc:PaymentMeansCode>48</cbc:PaymentMeansCode><cac:CardAccount><cbc:PrimaryAccountNumberID>411111****</cbc:PrimaryAccountNumberID><cbc:NetworkID>VISA</cbc:NetworkID></cac:CardAccount>")], "DE-R-024-2"),
        ("direct debit without the mandate", vec![means("<cbc:PaymentMeansCode>59</cbc:PaymentMeansCode>")], "DE-R-025-1"),
        ("direct debit with an account", vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", Box::leak(format!("<cbc:PaymentMeansCode>59</cbc:PaymentMeansCode>{mandate}").into_boxed_str()))], "DE-R-025-2"),
        ("direct debit without the creditor identifier", vec![means(Box::leak(format!("<cbc:PaymentMeansCode>59</cbc:PaymentMeansCode>{mandate}").into_boxed_str()))], "DE-R-030"),
        ("direct debit without the debited account", vec![("<cbc:EndpointID schemeID=\"9930\">DE123456789</cbc:EndpointID>", sepa_creditor), means("<cbc:PaymentMeansCode>59</cbc:PaymentMeansCode><cac:PaymentMandate><cbc:ID>M-1</cbc:ID></cac:PaymentMandate>")], "DE-R-031"),
        // The Netherlands.
        ("Dutch seller without post code", [seller_in("NL"), vec![("<cbc:PostalZone>20457</cbc:PostalZone>", "")]].concat(), "NL-R-002"),
        ("Dutch seller registered without KVK or OIN", seller_in("NL"), "NL-R-003"),
        ("Dutch buyer without post code", [both_in("NL"), vec![("<cbc:PostalZone>80331</cbc:PostalZone>", "")]].concat(), "NL-R-004"),
        ("Dutch buyer registered without KVK or OIN", [both_in("NL"), vec![("<cbc:RegistrationName>Bäckerei Müller KG</cbc:RegistrationName>", "<cbc:RegistrationName>Bäckerei Müller KG</cbc:RegistrationName><cbc:CompanyID>12345678</cbc:CompanyID>")]].concat(), "NL-R-005"),
        ("Dutch tax representative without post code", [seller_in("NL"), vec![("<cac:PaymentMeans>\n    ", "<cac:TaxRepresentativeParty><cac:PartyName><cbc:Name>Rep</cbc:Name></cac:PartyName><cac:PostalAddress><cbc:StreetName>Dam 1</cbc:StreetName><cbc:CityName>Amsterdam</cbc:CityName><cac:Country><cbc:IdentificationCode>NL</cbc:IdentificationCode></cac:Country></cac:PostalAddress><cac:PartyTaxScheme><cbc:CompanyID>NL123456789B01</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:TaxRepresentativeParty>\n  <cac:PaymentMeans>\n    ")]].concat(), "NL-R-006"),
        ("Dutch seller without payment instructions", [seller_in("NL"), vec![("<cac:PaymentMeans>\n    ", "<cac:PaymentMeansX>\n    "), ("</cac:PaymentMeans>", "</cac:PaymentMeansX>")]].concat(), "NL-R-007"),
        ("Dutch parties paying by a code Dutch rules do not take", [both_in("NL"), vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "<cbc:PaymentMeansCode>31</cbc:PaymentMeansCode>")]].concat(), "NL-R-008"),
        ("Dutch seller: order line without the order", [seller_in("NL"), vec![(ORDER_REFERENCE, ""), (LINE_AMOUNT, "<cbc:LineExtensionAmount currencyID=\"EUR\">49.80</cbc:LineExtensionAmount><cac:OrderLineReference><cbc:LineID>1</cbc:LineID></cac:OrderLineReference>")]].concat(), "NL-R-009"),
        // Norway, Italy (by the VAT identifier's prefix).
        ("Norwegian VAT identifier of eight digits", vec![(SELLER_VAT_ID, "<cbc:CompanyID>NO12345678MVA</cbc:CompanyID>")], "NO-R-001"),
        ("Italian tax registration of three letters", vec![(SELLER_VAT_ID, "<cbc:CompanyID>abc</cbc:CompanyID><cac:TaxScheme><cbc:ID>TAX</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme><cac:PartyTaxScheme><cbc:CompanyID>IT12345678901</cbc:CompanyID>")], "IT-R-001"),
        ("Italian seller without street", vec![(SELLER_VAT_ID, "<cbc:CompanyID>IT12345678901</cbc:CompanyID>"), ("<cbc:StreetName>Hafenstraße 12</cbc:StreetName>", "")], "IT-R-002"),
        ("Italian seller without city", vec![(SELLER_VAT_ID, "<cbc:CompanyID>IT12345678901</cbc:CompanyID>"), ("<cbc:CityName>Hamburg</cbc:CityName>", "")], "IT-R-003"),
        ("Italian seller without post code", vec![(SELLER_VAT_ID, "<cbc:CompanyID>IT12345678901</cbc:CompanyID>"), ("<cbc:PostalZone>20457</cbc:PostalZone>", "")], "IT-R-004"),
        // Sweden.
        ("Swedish VAT identifier of 13 characters", [seller_in("SE"), vec![(SELLER_VAT_ID, "<cbc:CompanyID>SE12345678901</cbc:CompanyID>")]].concat(), "SE-R-001"),
        ("Swedish VAT identifier with letters", [seller_in("SE"), vec![(SELLER_VAT_ID, "<cbc:CompanyID>SE1234567890AB</cbc:CompanyID>")]].concat(), "SE-R-002"),
        ("Swedish organisation number with letters", seller_in("SE"), "SE-R-003"),
        ("Swedish organisation number of nine digits", [seller_in("SE"), vec![(SELLER_LEGAL_ID, "<cbc:CompanyID>556036079</cbc:CompanyID>")]].concat(), "SE-R-004"),
        ("Swedish tax registration of another text", [seller_in("SE"), vec![(SELLER_LEGAL_ID, "<cbc:CompanyID>5560360793</cbc:CompanyID>"), (SELLER_VAT_ID, "<cbc:CompanyID>F-skatt</cbc:CompanyID><cac:TaxScheme><cbc:ID>TAX</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme><cac:PartyTaxScheme><cbc:CompanyID>DE123456789</cbc:CompanyID>")]].concat(), "SE-R-005"),
        ("Swedish standard rate of 19 %", [seller_in("SE"), vec![(SELLER_VAT_ID, "<cbc:CompanyID>SE556036079301</cbc:CompanyID>")]].concat(), "SE-R-006"),
        ("Swedish organisation number with a wrong check digit", [seller_in("SE"), vec![(SELLER_LEGAL_ID, "<cbc:CompanyID>5560360794</cbc:CompanyID>")]].concat(), "SE-R-013"),
        // Denmark.
        ("Danish seller without legal registration", [seller_in("DK"), vec![(SELLER_LEGAL_ID, "")]].concat(), "DK-R-002"),
        ("Danish seller registered without scheme 0184", seller_in("DK"), "DK-R-014"),
        ("Danish parties: UNSPSC classification of another version", [both_in("DK"), vec![(UBL_LINE_CAT, "<cac:CommodityClassification><cbc:ItemClassificationCode listID=\"TST\" listVersionID=\"10.0\">43211503</cbc:ItemClassificationCode></cac:CommodityClassification>\n      <cac:ClassifiedTaxCategory>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent>")]].concat(), "DK-R-003"),
        ("Danish parties: non-VAT tax without its category", [both_in("DK"), vec![("<cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReason>Promotion</cbc:AllowanceChargeReason>", "<cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>ZZZ</cbc:AllowanceChargeReasonCode><cbc:AllowanceChargeReason>Tax</cbc:AllowanceChargeReason>")]].concat(), "DK-R-004"),
        ("Danish parties paying by a code Denmark does not take", [both_in("DK"), vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "<cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>")]].concat(), "DK-R-005"),
        ("Danish parties: transfer without the registration number", [both_in("DK"), vec![means("<cbc:PaymentMeansCode>31</cbc:PaymentMeansCode><cac:PayeeFinancialAccount><cbc:ID>12345678</cbc:ID></cac:PayeeFinancialAccount>")]].concat(), "DK-R-006"),
        ("Danish parties: direct debit without the payer's account", [both_in("DK"), vec![means("<cbc:PaymentMeansCode>49</cbc:PaymentMeansCode><cac:PaymentMandate><cbc:ID>M-1</cbc:ID></cac:PaymentMandate>")]].concat(), "DK-R-007"),
        ("Danish parties: Giro with a payment id of another kind", [both_in("DK"), vec![means("<cbc:PaymentMeansCode>50</cbc:PaymentMeansCode><cbc:PaymentID>02#1</cbc:PaymentID><cac:PayeeFinancialAccount><cbc:ID>1234567</cbc:ID></cac:PayeeFinancialAccount>")]].concat(), "DK-R-008"),
        ("Danish parties: Giro id without its instruction", [both_in("DK"), vec![means("<cbc:PaymentMeansCode>50</cbc:PaymentMeansCode><cbc:PaymentID>04#123</cbc:PaymentID><cac:PayeeFinancialAccount><cbc:ID>1234567</cbc:ID></cac:PayeeFinancialAccount>")]].concat(), "DK-R-009"),
        ("Danish parties: FIK with a short account", [both_in("DK"), vec![means("<cbc:PaymentMeansCode>93</cbc:PaymentMeansCode><cbc:PaymentID>71#123456789012345</cbc:PaymentID><cac:PayeeFinancialAccount><cbc:ID>1234</cbc:ID></cac:PayeeFinancialAccount>")]].concat(), "DK-R-010"),
        ("Danish parties: FIK id without its instruction", [both_in("DK"), vec![means("<cbc:PaymentMeansCode>93</cbc:PaymentMeansCode><cbc:PaymentID>71#12</cbc:PaymentID><cac:PayeeFinancialAccount><cbc:ID>12345678</cbc:ID></cac:PayeeFinancialAccount>")]].concat(), "DK-R-011"),
        ("Danish parties: party identifier without scheme", [both_in("DK"), vec![("<cbc:EndpointID schemeID=\"9930\">DE987654321</cbc:EndpointID>", "<cbc:EndpointID schemeID=\"9930\">DE987654321</cbc:EndpointID><cac:PartyIdentification><cbc:ID>77</cbc:ID></cac:PartyIdentification>")]].concat(), "DK-R-013"),
        ("Danish buyer registered without scheme 0184", [both_in("DK"), vec![("<cbc:RegistrationName>Bäckerei Müller KG</cbc:RegistrationName>", "<cbc:RegistrationName>Bäckerei Müller KG</cbc:RegistrationName><cbc:CompanyID>12345678</cbc:CompanyID>")]].concat(), "DK-R-017"),
        // Iceland.
        ("Icelandic seller without kennitala", seller_in("IS"), "IS-R-002"),
        ("Icelandic seller without street", [seller_in("IS"), vec![("<cbc:StreetName>Hafenstraße 12</cbc:StreetName>", "")]].concat(), "IS-R-003"),
        ("Icelandic buyer without kennitala", both_in("IS"), "IS-R-004"),
        ("Icelandic buyer without post code", [both_in("IS"), vec![("<cbc:PostalZone>80331</cbc:PostalZone>", "")]].concat(), "IS-R-005"),
        ("Icelandic claim without a 12-digit account", [seller_in("IS"), vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "<cbc:PaymentMeansCode>9</cbc:PaymentMeansCode>")]].concat(), "IS-R-006"),
        ("Icelandic transfer without a 12-digit account", [seller_in("IS"), vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "<cbc:PaymentMeansCode>42</cbc:PaymentMeansCode>")]].concat(), "IS-R-007"),
        ("Icelandic EINDAGI not a date", [seller_in("IS"), vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>2024-4-30</cbc:ID><cbc:DocumentDescription>EINDAGI</cbc:DocumentDescription></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")]].concat(), "IS-R-008"),
        ("Icelandic EINDAGI without due date", [seller_in("IS"), vec![("<cbc:DueDate>2024-04-03</cbc:DueDate>", ""), ("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>2024-04-30</cbc:ID><cbc:DocumentDescription>EINDAGI</cbc:DocumentDescription></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")]].concat(), "IS-R-009"),
        ("Icelandic EINDAGI before the due date", [seller_in("IS"), vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>2024-04-01</cbc:ID><cbc:DocumentDescription>EINDAGI</cbc:DocumentDescription></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")]].concat(), "IS-R-010"),
        // Greece (by the VAT identifier's prefix).
        ("Greek seller's invoice number of one segment", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>")], "GR-R-001-1"),
        ("Greek seller's number of another TIN", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cbc:ID>DEMF-INV-000101</cbc:ID>", "<cbc:ID>123456789|04/03/2024|1|1.1|A|B</cbc:ID>")], "GR-R-001-2"),
        ("Greek seller's number of another date", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cbc:ID>DEMF-INV-000101</cbc:ID>", "<cbc:ID>094014201|05/03/2024|1|1.1|A|B</cbc:ID>")], "GR-R-001-3"),
        ("Greek seller's number of a negative serial", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cbc:ID>DEMF-INV-000101</cbc:ID>", "<cbc:ID>094014201|04/03/2024|x|1.1|A|B</cbc:ID>")], "GR-R-001-4"),
        ("Greek seller's number of an unknown type", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cbc:ID>DEMF-INV-000101</cbc:ID>", "<cbc:ID>094014201|04/03/2024|1|9.9|A|B</cbc:ID>")], "GR-R-001-5"),
        ("Greek seller's number with an empty fifth segment", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cbc:ID>DEMF-INV-000101</cbc:ID>", "<cbc:ID>094014201|04/03/2024|1|1.1||B</cbc:ID>")], "GR-R-001-6"),
        ("Greek seller's number with an empty sixth segment", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cbc:ID>DEMF-INV-000101</cbc:ID>", "<cbc:ID>094014201|04/03/2024|1|1.1|A|</cbc:ID>")], "GR-R-001-7"),
        ("Greek seller without trading name", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>")], "GR-R-002"),
        ("Greek VAT identifier with a wrong check digit", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014202</cbc:CompanyID>")], "GR-R-003"),
        ("Greek seller in Greece without MARK", [seller_in("GR"), vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>")]].concat(), "GR-R-004-1"),
        ("Greek MARK not a number", [seller_in("GR"), vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>x1</cbc:ID><cbc:DocumentDescription>##M.AR.K##</cbc:DocumentDescription></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")]].concat(), "GR-R-004-2"),
        ("Greek seller without buyer trading name", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>")], "GR-R-005"),
        ("Greek buyer without a Greek VAT identifier", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cbc:CompanyID>DE987654321</cbc:CompanyID>", "<cbc:CompanyID>EL094014202</cbc:CompanyID>")], "GR-R-006"),
        ("two Greek invoice URLs", [seller_in("GR"), vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>U1</cbc:ID><cbc:DocumentDescription>##INVOICE|URL##</cbc:DocumentDescription></cac:AdditionalDocumentReference><cac:AdditionalDocumentReference><cbc:ID>U2</cbc:ID><cbc:DocumentDescription>##INVOICE|URL##</cbc:DocumentDescription></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")]].concat(), "GR-R-008-2"),
        ("Greek invoice URL without its URI", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>U1</cbc:ID><cbc:DocumentDescription>##INVOICE|URL##</cbc:DocumentDescription></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")], "GR-R-008-3"),
        ("Greek seller's electronic address not its TIN", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>")], "GR-R-009"),
        ("Greek buyer's electronic address not its TIN", vec![(SELLER_VAT_ID, "<cbc:CompanyID>EL094014201</cbc:CompanyID>"), ("<cbc:CompanyID>DE987654321</cbc:CompanyID>", "<cbc:CompanyID>EL094014201</cbc:CompanyID>")], "GR-R-010"),
        // Category B (split payment): Italian addresses only, never with S.
        ("split payment between German addresses", vec![(UBL_LINE_CAT, "<cac:ClassifiedTaxCategory>\n        <cbc:ID>B</cbc:ID>\n        <cbc:Percent>19</cbc:Percent>")], "BR-B-01"),
        ("split payment beside standard rate", vec![(UBL_LINE_CAT, "<cac:ClassifiedTaxCategory>\n        <cbc:ID>B</cbc:ID>\n        <cbc:Percent>19</cbc:Percent>")], "BR-B-02"),
        ("no business process", vec![("<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>", "")], "PEPPOL-EN16931-R007"),
        ("a line price missing", vec![(PRICE, "")], "BR-27"),
        // UBL syntax.
        ("two contract references", vec![("<cac:AccountingSupplierParty>", "<cac:ContractDocumentReference><cbc:ID>C1</cbc:ID></cac:ContractDocumentReference><cac:ContractDocumentReference><cbc:ID>C2</cbc:ID></cac:ContractDocumentReference>\n  <cac:AccountingSupplierParty>")], "UBL-SR-01"),
        ("two payment terms notes", vec![("<cbc:Note>30 Tage netto</cbc:Note>", "<cbc:Note>30 Tage netto</cbc:Note><cbc:Note>Danke</cbc:Note>")], "UBL-SR-05"),
        ("two invoicing periods", vec![(ORDER_REFERENCE, "<cac:InvoicePeriod><cbc:StartDate>2024-03-01</cbc:StartDate></cac:InvoicePeriod><cac:InvoicePeriod><cbc:StartDate>2024-03-01</cbc:StartDate></cac:InvoicePeriod>\n  <cac:OrderReference>\n    <cbc:ID>PO-4711</cbc:ID>\n  </cac:OrderReference>")], "UBL-SR-08"),
        ("two seller legal registrations", vec![(SELLER_LEGAL_ID, "<cbc:CompanyID>HRB 12345</cbc:CompanyID><cbc:CompanyID>HRB 2</cbc:CompanyID>")], "UBL-SR-11"),
        ("two seller tax registrations", vec![(SELLER_VAT_ID, "<cbc:CompanyID>1</cbc:CompanyID><cbc:CompanyID>2</cbc:CompanyID><cac:TaxScheme><cbc:ID>TAX</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme><cac:PartyTaxScheme><cbc:CompanyID>DE123456789</cbc:CompanyID>")], "UBL-SR-13"),
        ("two buyer identifiers", vec![("<cbc:EndpointID schemeID=\"9930\">DE987654321</cbc:EndpointID>", "<cbc:EndpointID schemeID=\"9930\">DE987654321</cbc:EndpointID><cac:PartyIdentification><cbc:ID>1</cbc:ID><cbc:ID>2</cbc:ID></cac:PartyIdentification>")], "UBL-SR-16"),
        ("two deliveries", vec![("<cac:PaymentMeans>\n    ", "<cac:Delivery><cbc:ActualDeliveryDate>2024-03-01</cbc:ActualDeliveryDate></cac:Delivery><cac:Delivery><cbc:ActualDeliveryDate>2024-03-02</cbc:ActualDeliveryDate></cac:Delivery>\n  <cac:PaymentMeans>\n    ")], "UBL-SR-24"),
        ("two payment identifiers in one instruction", vec![("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>", "<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode><cbc:PaymentID>P1</cbc:PaymentID><cbc:PaymentID>P1</cbc:PaymentID>")], "UBL-SR-26"),
        ("two creditor identifiers", vec![("<cbc:EndpointID schemeID=\"9930\">DE123456789</cbc:EndpointID>", "<cbc:EndpointID schemeID=\"9930\">DE123456789</cbc:EndpointID><cac:PartyIdentification><cbc:ID schemeID=\"SEPA\">DE98ZZZ09999999999</cbc:ID></cac:PartyIdentification><cac:PartyIdentification><cbc:ID schemeID=\"SEPA\">DE98ZZZ09999999998</cbc:ID></cac:PartyIdentification>")], "UBL-SR-29"),
        ("two exemption reasons in a row", vec![(UBL_VAT_ROW, "<cac:TaxCategory>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent><cbc:TaxExemptionReason>a</cbc:TaxExemptionReason><cbc:TaxExemptionReason>b</cbc:TaxExemptionReason>")], "UBL-SR-32"),
        ("a document reference of type 916", vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>D1</cbc:ID><cbc:DocumentTypeCode>916</cbc:DocumentTypeCode></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")], "UBL-SR-43"),
        ("a line without classified tax category", vec![(UBL_LINE_CAT, "<cac:X>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent>"), ("</cac:ClassifiedTaxCategory>", "</cac:X>")], "UBL-SR-48"),
        ("two address lines", vec![("<cbc:StreetName>Hafenstraße 12</cbc:StreetName>", "<cbc:StreetName>Hafenstraße 12</cbc:StreetName><cac:AddressLine><cbc:Line>a</cbc:Line></cac:AddressLine><cac:AddressLine><cbc:Line>b</cbc:Line></cac:AddressLine>")], "UBL-SR-51"),
        ("a party tax scheme without identifier", vec![(SELLER_VAT_ID, "")], "UBL-SR-53"),
        ("a billing reference without the invoice number", vec![("<cac:AccountingSupplierParty>", "<cac:BillingReference><cac:InvoiceDocumentReference><cbc:IssueDate>2024-01-01</cbc:IssueDate></cac:InvoiceDocumentReference></cac:BillingReference>\n  <cac:AccountingSupplierParty>")], "UBL-SR-07"),
        ("a payee of the seller's name", vec![("<cac:PaymentMeans>\n    ", "<cac:PayeeParty><cac:PartyName><cbc:Name>Nordwind Handels GmbH</cbc:Name></cac:PartyName></cac:PayeeParty>\n  <cac:PaymentMeans>\n    ")], "UBL-SR-19"),
        ("an invoiced object with an attachment", vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>O1</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode><cac:Attachment><cac:ExternalReference><cbc:URI>https://example.com/o1</cbc:URI></cac:ExternalReference></cac:Attachment></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")], "UBL-CR-666"),
    ];
    for (code, rule) in [
        ("VATEX-EU-G", "PEPPOL-EN16931-P0104"),
        ("VATEX-EU-O", "PEPPOL-EN16931-P0105"),
        ("VATEX-EU-IC", "PEPPOL-EN16931-P0106"),
        ("VATEX-EU-AE", "PEPPOL-EN16931-P0107"),
        ("VATEX-EU-D", "PEPPOL-EN16931-P0108"),
        ("VATEX-EU-F", "PEPPOL-EN16931-P0109"),
        ("VATEX-EU-I", "PEPPOL-EN16931-P0110"),
        ("VATEX-EU-J", "PEPPOL-EN16931-P0111"),
    ] {
        let to: &'static str = Box::leak(format!("<cac:TaxCategory>\n        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>19</cbc:Percent><cbc:TaxExemptionReasonCode>{code}</cbc:TaxExemptionReasonCode>").into_boxed_str());
        // Each code on a row of S, which is none of the categories the codes name.
        cases.push(("an exemption code of another category", vec![(UBL_VAT_ROW, to)], rule));
    }
    let mut checked = 0;
    for (what, edits, rule) in &cases {
        let xml = edited(&with_allowance, edits);
        let rules = rules_of_text(&xml);
        assert!(rules.iter().any(|r| r == rule), "{what}: expected {rule}, found {rules:?}");
        checked += 1;
    }
    assert_eq!(checked, 132);
    // Warnings: reported, nothing refused.
    let warned: Vec<Case> = vec![
        ("a self-billed invoice between German parties", vec![("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>", "<cbc:InvoiceTypeCode>386</cbc:InvoiceTypeCode>")], "DE-R-017"),
        ("an IBAN with a wrong check", vec![("<cbc:ID>DE89370400440532013000</cbc:ID>", "<cbc:ID>DE89370400440532013001</cbc:ID>")], "DE-R-019"),
        ("a corrected invoice without the one it corrects", vec![("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>", "<cbc:InvoiceTypeCode>384</cbc:InvoiceTypeCode>")], "DE-R-026"),
        ("a telephone number of two digits", vec![("<cbc:Telephone>+49 40 123456-0</cbc:Telephone>", "<cbc:Telephone>+49</cbc:Telephone>")], "DE-R-027"),
        ("an e-mail address without domain", vec![("<cbc:ElectronicMail>ar@nordwind.example</cbc:ElectronicMail>", "<cbc:ElectronicMail>ar at nordwind</cbc:ElectronicMail>")], "DE-R-028"),
        ("an external location without scheme", vec![("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>D1</cbc:ID><cac:Attachment><cac:ExternalReference><cbc:URI>www.example.com/d1</cbc:URI></cac:ExternalReference></cac:Attachment></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")], "DE-R-T02"),
    ];
    for (what, edits, rule) in &warned {
        let xml = edited(&with_allowance, edits);
        assert!(
            warnings_of_text(&xml).iter().any(|r| r == rule),
            "{what}: expected warning {rule}, found {:?}",
            warnings_of_text(&xml)
        );
        assert!(!rules_of_text(&xml).iter().any(|r| r == rule), "{what}: {rule} is a warning");
    }
    // A credit note: at most one project reference (PEPPOL); a Dutch seller's names the invoice.
    let credit = own_document("cli__einvoice__ubl_credit_note.snap");
    assert_eq!(rules_of_text(&credit), Vec::<String>::new());
    let projects = edited(&credit, &[("<cac:AccountingSupplierParty>", "<cac:AdditionalDocumentReference><cbc:ID>P1</cbc:ID><cbc:DocumentTypeCode>50</cbc:DocumentTypeCode></cac:AdditionalDocumentReference><cac:AdditionalDocumentReference><cbc:ID>P2</cbc:ID><cbc:DocumentTypeCode>50</cbc:DocumentTypeCode></cac:AdditionalDocumentReference>\n  <cac:AccountingSupplierParty>")]);
    assert!(rules_of_text(&projects).contains(&"PEPPOL-EN16931-R080".to_string()));
    let dutch = edited(
        &credit,
        &[(SELLER_DE, "<cbc:IdentificationCode>NL</cbc:IdentificationCode>"), ("<cbc:ID>DEMF-INV-000101</cbc:ID>", "")],
    );
    assert!(rules_of_text(&dutch).contains(&"NL-R-001".to_string()), "{:?}", rules_of_text(&dutch));
}

/// The CII D16B schema: the choice of a date's forms, fixed code-list attributes, the
/// namespaces of local elements and the sequence's order, each with its message.
#[test]
fn cii_schema_findings_name_the_element_and_what_the_schema_wants() {
    let cii = own_document("cli__einvoice__cii_invoice_foreign_currency.snap");
    let xsd = |edits: &[(&str, &str)]| -> Vec<String> {
        let xml = edited(&cii, edits);
        let checked = invoiceflow::einvoice::check_bytes("case", xml.as_bytes());
        checked.findings.into_iter().filter(|(r, _)| r == "XSD").map(|(_, m)| m).collect()
    };
    assert_eq!(xsd(&[]), Vec::<String>::new());
    let issue = "CrossIndustryInvoice/ExchangedDocument/IssueDateTime";
    let date = "<udt:DateTimeString format=\"102\">20240307</udt:DateTimeString>";
    assert_eq!(
        xsd(&[(date, "")]),
        [format!("{issue}: <DateTimeString> or <DateTime> is missing; the schema requires one")]
    );
    assert_eq!(
        xsd(&[(date, &format!("{date}<udt:DateTime>2024-03-07T00:00:00</udt:DateTime>"))]),
        [format!(
            "{issue}: <DateTime> after <DateTimeString>; the schema allows one of <DateTimeString> or <DateTime>"
        )]
    );
    assert_eq!(
        xsd(&[(date, "<udt:DateTime>2024-03-07</udt:DateTime>")]),
        [format!("{issue}/DateTime: `2024-03-07` is not a date and time (YYYY-MM-DDThh:mm:ss)")]
    );
    assert_eq!(xsd(&[(date, "<udt:DateTime>2024-03-07T00:00:00</udt:DateTime>")]), Vec::<String>::new());
    assert_eq!(
        xsd(&[(date, "<ram:DateTimeString format=\"102\">20240307</ram:DateTimeString>")]),
        [format!(
            "{issue}/DateTimeString: in the namespace `urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100`; the schema's <DateTimeString> here is in `urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100`"
        )]
    );
    // ISO 4217 is the list the schema fixes for currency codes; whitespace is collapsed.
    let currency = "<ram:InvoiceCurrencyCode>GBP</ram:InvoiceCurrencyCode>";
    assert_eq!(
        xsd(&[(currency, "<ram:InvoiceCurrencyCode listID=\"ISO  4217 3A \">GBP</ram:InvoiceCurrencyCode>")]),
        Vec::<String>::new()
    );
    assert_eq!(
        xsd(&[(currency, "<ram:InvoiceCurrencyCode listID=\"4217\">GBP</ram:InvoiceCurrencyCode>")]),
        ["CrossIndustryInvoice/SupplyChainTradeTransaction/ApplicableHeaderTradeSettlement/InvoiceCurrencyCode: the attribute `listID` is `4217`; the schema fixes it to `ISO 4217 3A`"]
    );
    // The tax currency comes before the invoice currency.
    assert_eq!(
        xsd(&[
            ("<ram:TaxCurrencyCode>EUR</ram:TaxCurrencyCode>", ""),
            (currency, "<ram:InvoiceCurrencyCode>GBP</ram:InvoiceCurrencyCode><ram:TaxCurrencyCode>EUR</ram:TaxCurrencyCode>")
        ]),
        ["CrossIndustryInvoice/SupplyChainTradeTransaction/ApplicableHeaderTradeSettlement: <TaxCurrencyCode> is out of the schema's order (after <InvoiceCurrencyCode>)"]
    );
}

#[test]
fn cii_syntax_rules_fire_on_their_defects() {
    let cii = own_document("cli__einvoice__cii_invoice_foreign_currency.snap");
    assert_eq!(rules_of_text(&cii), Vec::<String>::new());
    type Case = (&'static str, Vec<(&'static str, &'static str)>, &'static str);
    let cases: Vec<Case> = vec![
        ("two specification groups", vec![("</ram:GuidelineSpecifiedDocumentContextParameter>", "</ram:GuidelineSpecifiedDocumentContextParameter><ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>x</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>")], "CII-SR-009"),
        ("two type codes", vec![("<ram:TypeCode>380</ram:TypeCode>", "<ram:TypeCode>380</ram:TypeCode><ram:TypeCode>380</ram:TypeCode>")], "CII-SR-014"),
        ("a standard identifier without scheme", vec![("<ram:SellerAssignedID>BK-2040</ram:SellerAssignedID>", "<ram:GlobalID>4000001234567</ram:GlobalID><ram:SellerAssignedID>BK-2040</ram:SellerAssignedID>")], "CII-SR-046"),
        ("an item attribute without name", vec![("<ram:Name>Helmet, size M</ram:Name>", "<ram:Name>Helmet, size M</ram:Name><ram:ApplicableProductCharacteristic><ram:Value>M</ram:Value></ram:ApplicableProductCharacteristic>")], "CII-SR-069"),
        ("a line without net price", vec![("<ram:ChargeAmount>59.95</ram:ChargeAmount>", "")], "CII-SR-439"),
        ("a line with two net prices", vec![("<ram:ChargeAmount>59.95</ram:ChargeAmount>", "<ram:ChargeAmount>59.95</ram:ChargeAmount><ram:ChargeAmount>59.95</ram:ChargeAmount>")], "CII-SR-441"),
        ("two seller contacts", vec![("</ram:DefinedTradeContact>", "</ram:DefinedTradeContact><ram:DefinedTradeContact><ram:PersonName>B</ram:PersonName></ram:DefinedTradeContact>")], "CII-SR-455"),
        ("an allowance without indicator", vec![("<ram:ApplicableTradeTax>\n        <ram:CalculatedAmount>", "<ram:SpecifiedTradeAllowanceCharge><ram:ActualAmount>0</ram:ActualAmount><ram:Reason>x</ram:Reason></ram:SpecifiedTradeAllowanceCharge><ram:ApplicableTradeTax>\n        <ram:CalculatedAmount>")], "CII-SR-463"),
        ("payment means of two codes", vec![("</ram:SpecifiedTradeSettlementPaymentMeans>", "</ram:SpecifiedTradeSettlementPaymentMeans><ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>30</ram:TypeCode><ram:PayeePartyCreditorFinancialAccount><ram:ProprietaryID>1</ram:ProprietaryID></ram:PayeePartyCreditorFinancialAccount></ram:SpecifiedTradeSettlementPaymentMeans>")], "CII-SR-467"),
        ("two remittance informations", vec![("<ram:TaxCurrencyCode>EUR</ram:TaxCurrencyCode>", "<ram:PaymentReference>A</ram:PaymentReference><ram:PaymentReference>B</ram:PaymentReference><ram:TaxCurrencyCode>EUR</ram:TaxCurrencyCode>")], "CII-SR-469"),
        ("a credit transfer without account", vec![("<ram:PayeePartyCreditorFinancialAccount>\n          <ram:IBANID>DE89370400440532013000</ram:IBANID>\n        </ram:PayeePartyCreditorFinancialAccount>", "")], "CII-SR-470"),
        ("two line totals", vec![("<ram:LineTotalAmount>4316.40</ram:LineTotalAmount>", "<ram:LineTotalAmount>4316.40</ram:LineTotalAmount><ram:LineTotalAmount>4316.40</ram:LineTotalAmount>")], "CII-SR-477"),
        ("a document number with a scheme", vec![("<ram:ID>DEMF-INV-000104</ram:ID>", "<ram:ID schemeID=\"X\">DEMF-INV-000104</ram:ID>")], "CII-DT-005"),
        ("a type code with a name", vec![("<ram:TypeCode>58</ram:TypeCode>", "<ram:TypeCode name=\"SEPA\">58</ram:TypeCode>")], "CII-DT-008"),
        ("a root with a language", vec![("<rsm:CrossIndustryInvoice xmlns", "<rsm:CrossIndustryInvoice languageID=\"de\" xmlns")], "CII-DT-013"),
        ("an order reference with a type code", vec![("<ram:IssuerAssignedID>TC-PO-1932</ram:IssuerAssignedID>", "<ram:IssuerAssignedID>TC-PO-1932</ram:IssuerAssignedID><ram:TypeCode>50</ram:TypeCode>")], "CII-DT-018"),
        ("an amount with a currency", vec![("<ram:LineTotalAmount>719.40</ram:LineTotalAmount>", "<ram:LineTotalAmount currencyID=\"GBP\">719.40</ram:LineTotalAmount>")], "CII-DT-031"),
        ("a quantity with a list id", vec![("<ram:BilledQuantity unitCode=\"C62\">12</ram:BilledQuantity>", "<ram:BilledQuantity unitCode=\"C62\" unitCodeListID=\"x\">12</ram:BilledQuantity>")], "CII-DT-034"),
        ("a trade tax of another type", vec![("<ram:TypeCode>VAT</ram:TypeCode>\n        <ram:ExemptionReason>", "<ram:TypeCode>GST</ram:TypeCode>\n        <ram:ExemptionReason>")], "CII-DT-037"),
        ("a billing period with a description", vec![("<ram:SpecifiedTradePaymentTerms>", "<ram:BillingSpecifiedPeriod><ram:Description>March</ram:Description><ram:StartDateTime><udt:DateTimeString format=\"102\">20240301</udt:DateTimeString></ram:StartDateTime></ram:BillingSpecifiedPeriod><ram:SpecifiedTradePaymentTerms>")], "CII-DT-071"),
        ("an address with a street name", vec![("<ram:LineOne>Hafenstraße 12</ram:LineOne>", "<ram:LineOne>Hafenstraße 12</ram:LineOne><ram:StreetName>Hafenstraße</ram:StreetName>")], "CII-DT-088"),
        ("a date of a thirteenth month", vec![("20240406", "20241306")], "CII-DT-097"),
        ("an electronic address with a scheme name", vec![("<ram:URIID schemeID=\"9932\">", "<ram:URIID schemeID=\"9932\" schemeName=\"x\">")], "CII-DT-101"),
        ("a seller VAT identifier without country prefix", vec![("<ram:ID schemeID=\"VA\">DE123456789</ram:ID>", "<ram:ID schemeID=\"VA\">O</ram:ID>")], "BR-CO-09"),
        ("an issue date of another format", vec![("<udt:DateTimeString format=\"102\">20240307</udt:DateTimeString>", "<udt:DateTimeString format=\"610\">202403</udt:DateTimeString>")], "BR-03"),
        ("a VAT point date code of UNTDID 2005 in CII", vec![("<ram:ExemptionReasonCode>VATEX-EU-G</ram:ExemptionReasonCode>", "<ram:ExemptionReasonCode>VATEX-EU-G</ram:ExemptionReasonCode><ram:DueDateTypeCode>3</ram:DueDateTypeCode>")], "BR-CL-06"),
        ("an electronic address group without address", vec![("<ram:URIID schemeID=\"9932\">GB123456789</ram:URIID>", "")], "BR-63"),
    ];
    for (what, edits, rule) in &cases {
        let xml = edited(&cii, edits);
        let rules = rules_of_text(&xml);
        assert!(rules.iter().any(|r| r == rule), "{what}: expected {rule}, found {rules:?}");
    }
    assert_eq!(cases.len(), 27);
    // CII codes the VAT point date as UNTDID 2475: 5 is a code.
    let event = edited(
        &cii,
        &[(
            "<ram:ExemptionReasonCode>VATEX-EU-G</ram:ExemptionReasonCode>",
            "<ram:ExemptionReasonCode>VATEX-EU-G</ram:ExemptionReasonCode><ram:DueDateTypeCode>5</ram:DueDateTypeCode>",
        )],
    );
    assert_eq!(rules_of_text(&event), Vec::<String>::new());
}

#[test]
fn refused_documents_are_written_to_the_refused_folder_as_they_would_be_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    // A customer moved to a street without post code: German rules want the buyer's (DE-R-009).
    let master = crate::sample_master_copy(dir.path());
    let customers = std::fs::read_to_string(master.join("Customer.csv")).unwrap();
    assert!(customers.contains("Industriering 22,Stuttgart,70173"));
    std::fs::write(
        master.join("Customer.csv"),
        customers.replacen("Industriering 22,Stuttgart,70173", "Industriering 22,Stuttgart,", 1),
    )
    .unwrap();
    let refused = dir.path().join("refused");
    let (s, m, r) = (store.display().to_string(), master.display().to_string(), refused.display().to_string());
    let run = invoiceflow(&[
        "einvoice",
        "--json",
        "--dry-run",
        "--syntax",
        "ubl",
        "--store",
        &s,
        "--master",
        &m,
        "--refused",
        &r,
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = &run.json()["einvoices"][0];
    let numbers: Vec<&str> =
        report["refused"].as_array().unwrap().iter().map(|f| f["number"].as_str().unwrap()).collect();
    // The customer's four documents, each for that rule alone.
    assert_eq!(numbers, ["DEMF-INV-000102", "DEMF-INV-000106", "DE-FTI-000001", "R2019-00452"]);
    for f in report["refused"].as_array().unwrap() {
        let rules: Vec<&str> = f["findings"].as_array().unwrap().iter().map(|f| f[0].as_str().unwrap()).collect();
        assert_eq!(rules, ["DE-R-009"], "{f}");
    }
    // The refused document as it would have been sent, which checking finds the same rule in.
    let file = refused.join("DEMF").join("DEMF-INV-000102.xml");
    let xml = std::fs::read_to_string(&file).unwrap();
    assert!(xml.contains("<cbc:CityName>Stuttgart</cbc:CityName>") && !xml.contains("70173"), "{xml}");
    assert_eq!(rules_of_text(&xml), ["DE-R-009"]);
    let files = crate::walk(&refused);
    assert_eq!(files.len(), 4, "{files:?}");
}
