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
                let mut d = doc.clone();
                f(&mut d);
                d.tidy();
                let xml = match syntax {
                    Syntax::Ubl => ubl::write(&d),
                    Syntax::Cii => cii::write(&d),
                };
                let on_model = einvoice::check_built(&name, &d, xml.as_bytes());
                let on_bytes = einvoice::check_bytes(&name, xml.as_bytes());
                assert_eq!(on_model.findings, on_bytes.findings, "{name} as {syntax:?}, {what}");
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
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    einvoice(&store, "ubl", &dir.path().join("ubl"), None);
    let doc = std::fs::read_to_string(dir.path().join("ubl/DEMF/DEMF-INV-000103.xml")).unwrap();
    let reason = "<cbc:TaxExemptionReasonCode>VATEX-EU-IC</cbc:TaxExemptionReasonCode>";
    let text = "<cbc:TaxExemptionReason>Intra-Community supply</cbc:TaxExemptionReason>";
    assert!(doc.contains(reason) && doc.contains(text));
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, doc.replace(reason, "").replace(text, "")).unwrap();
    assert_eq!(rules_of(&broken), ["BR-IC-10"]);
    assert_eq!(invoiceflow::einvoice::rules::rule_of("M", "05"), "BR-AG-05");
}
