//! The bundled samples: the README's job, and `import` over each layout.

use crate::{assert_nothing_lost, invoiceflow, root};

#[test]
fn the_sample_job_posts_every_sample_invoice_and_a_rerun_changes_nothing() {
    let job = root().join("samples/job.toml").display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db").display().to_string();
    let rejects = dir.path().join("rejects").display().to_string();
    let dw = dir.path().join("dw").display().to_string();
    let run =
        invoiceflow(&["run", &job, "--store", &store, "--rejects", &rejects, "--exports", &dw, "--json", "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let posting = &json["posting"];
    assert_eq!((posting["invoices"].as_u64(), posting["credit_notes"].as_u64()), (Some(13), Some(1)));
    assert_eq!(posting["lines"], 29);
    assert_eq!(posting["vouchers"], 14);
    assert_eq!(posting["ledger_entries"], 60);
    assert_eq!(posting["change_version"], 14);
    let exports = json["exports"].as_array().unwrap();
    assert_eq!(exports.len(), 4);
    // The sales entities export the 12 sales invoices with their 26 lines; the two free-text
    // invoices (3 lines) belong to the free-text entities only.
    assert_eq!(
        (exports[0]["entity"].as_str(), exports[0]["rows"].as_u64()),
        (Some("SalesInvoiceJournalHeader"), Some(12))
    );
    assert_eq!(exports[1]["entity"], "BusinessDocumentSalesInvoiceLineItem");
    assert_eq!(exports[1]["rows"], 26);
    assert_eq!(exports[2]["rows"], 60);
    let again =
        invoiceflow(&["run", &job, "--store", &store, "--rejects", &rejects, "--exports", &dw, "--json", "--quiet"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let again = again.json();
    assert_eq!(again["posting"]["unchanged"], 14);
    assert_eq!(again["posting"]["invoices"], 0);
    assert_eq!(again["posting"]["change_version"], 14);
    assert!(again["exports"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["rows"] == 0 && e["files"].as_array().unwrap().is_empty()));
    assert_nothing_lost(&again);
    for i in again["imports"].as_array().unwrap() {
        assert_eq!(i["unchanged"], i["read"], "{i}");
    }
    assert_eq!(json["status"], "ok");
    assert_nothing_lost(&json);
    assert_eq!(json["imports"].as_array().unwrap().len(), 8);
    assert_eq!(json["master"].as_array().unwrap().len(), 9);
    assert_eq!(json["validated"]["invoices"], 13);
    assert_eq!(json["validated"]["credit_notes"], 1);
    assert_eq!(json["validated"]["lines"], 29);
    for key in ["status", "imports", "rejects_file", "posting", "exports", "einvoices", "duration_ms"] {
        assert!(json.get(key).is_some(), "summary key {key}");
    }
    let lines = run.import_of("Customer invoice lines.csv");
    assert_eq!(lines["encoding"], "UTF-16LE");
    assert_eq!(lines["read"], 15);
    assert_eq!(run.import_of("Rechnungspositionen.csv")["encoding"], "Windows-1252");
}

fn import_layout(mapping: Option<&str>, files: &[&str]) -> crate::Run {
    let mut args = vec!["import".to_string(), "--dry-run".into(), "--json".into(), "--quiet".into()];
    args.extend(["--master".into(), root().join("samples/master").display().to_string()]);
    if let Some(m) = mapping {
        args.extend(["--mapping".into(), root().join(m).display().to_string()]);
    }
    args.extend(files.iter().map(|f| root().join(f).display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    invoiceflow(&refs)
}

#[test]
fn import_dry_run_over_each_sample_layout_accepts_everything() {
    for (mapping, files, rows) in [
        (None, vec!["samples/d365/SalesInvoiceHeaderV2.csv", "samples/d365/Customer invoice lines.csv"], (6, 15)),
        (None, vec!["samples/d365/FreeTextInvoiceHeader.csv", "samples/d365/FreeTextInvoiceLine.csv"], (2, 3)),
        (
            Some("mappings/legacy-de.toml"),
            vec!["samples/legacy-de/Rechnungskopf.csv", "samples/legacy-de/Rechnungspositionen.csv"],
            (3, 5),
        ),
        (
            Some("mappings/legacy-us.toml"),
            vec!["samples/legacy-us/invoices.csv", "samples/legacy-us/invoice_lines.csv"],
            (3, 6),
        ),
    ] {
        let run = import_layout(mapping, &files);
        assert_eq!(run.code, 0, "{files:?}: {}", run.stderr);
        let json = run.json();
        assert_nothing_lost(&json);
        let imports = json["imports"].as_array().unwrap();
        assert_eq!(imports[0]["accepted"], rows.0, "{files:?}");
        assert_eq!(imports[1]["accepted"], rows.1, "{files:?}");
        assert_eq!(json["dry_run"], true);
    }
}

#[test]
fn every_mapping_and_job_file_in_the_repository_loads() {
    let catalog = invoiceflow::entity::Catalog::builtin();
    let mut n = 0;
    for e in std::fs::read_dir(root().join("mappings")).unwrap() {
        let p = e.unwrap().path();
        invoiceflow::map::Mapping::load(&p, catalog).unwrap_or_else(|e| panic!("{e}"));
        n += 1;
    }
    assert_eq!(n, 2);
    invoiceflow::job::Job::load(&root().join("samples/job.toml"), catalog).unwrap();
}

#[test]
fn entities_lists_and_describes() {
    let run = invoiceflow(&["entities"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.lines().count(), 18, "{}", run.stdout);
    let run = invoiceflow(&["entities", "Customer invoice lines"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.starts_with("BusinessDocumentSalesInvoiceLineItem — Customer invoice lines\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("import key: dataAreaId, InvoiceId, LineCreationSequenceNumber"));
    let run = invoiceflow(&["entities", "Nope"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.trim(), "error: unknown entity `Nope`; `invoiceflow entities` lists them");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(invoiceflow(&["import"]).code, 2);
    assert_eq!(invoiceflow(&["frobnicate"]).code, 2);
    assert_eq!(invoiceflow(&["--help"]).code, 0);
}

#[test]
fn one_import_takes_every_sample_layout_with_its_mapping() {
    let mut args: Vec<String> = ["import", "--dry-run", "--json", "--quiet", "--master"].map(String::from).to_vec();
    args.push(root().join("samples/master").display().to_string());
    for m in ["mappings/legacy-de.toml", "mappings/legacy-us.toml"] {
        args.extend(["--mapping".to_string(), root().join(m).display().to_string()]);
    }
    for dir in ["samples/legacy-de", "samples/legacy-us", "samples/d365"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            args.push(e.unwrap().path().display().to_string());
        }
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = invoiceflow(&refs);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_nothing_lost(&json);
    assert_eq!(json["imports"].as_array().unwrap().len(), 8);
    assert_eq!(json["validated"]["invoices"], 13);
    assert_eq!(run.import_of("Rechnungskopf.csv")["unknown_columns"], serde_json::json!(["Nettobetrag"]));
}

#[test]
fn the_readme_documents_every_rule() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for r in invoiceflow::validate::Rule::ALL {
        assert!(readme.contains(&format!("| `{}` |", r.id())), "README lacks rule {}", r.id());
    }
}

#[test]
fn a_misgrouped_number_in_a_legacy_file_is_rejected_not_read_a_thousand_times_off() {
    // The price `16,80` of the second line made `1.6800,00`: not a number (it was read as
    // 16800), rejected where it stands.
    let dir = tempfile::tempdir().unwrap();
    let heads = dir.path().join("Rechnungskopf.csv");
    std::fs::copy(root().join("samples/legacy-de/Rechnungskopf.csv"), &heads).unwrap();
    let bytes = std::fs::read(root().join("samples/legacy-de/Rechnungspositionen.csv")).unwrap();
    let text = bytes.windows(6).position(|w| w == b";16,80").expect("the price of the second line");
    let lines = dir.path().join("Rechnungspositionen.csv");
    std::fs::write(&lines, [&bytes[..text], b";1.6800,00", &bytes[text + 6..]].concat()).unwrap();
    let mut args = vec!["import".to_string(), "--dry-run".into(), "--json".into(), "--quiet".into()];
    args.extend(["--rejects".into(), "rejects".into()]);
    args.extend(["--master".into(), root().join("samples/master").display().to_string()]);
    args.extend(["--mapping".into(), root().join("mappings/legacy-de.toml").display().to_string()]);
    args.extend([heads.display().to_string(), lines.display().to_string()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = invoiceflow(&refs);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let rejects = run.rejects();
    let bad: Vec<_> = rejects.iter().filter(|r| r.rule == "field.decimal").collect();
    assert_eq!(bad.len(), 1, "{rejects:?}");
    assert_eq!((bad[0].line, bad[0].file.ends_with("Rechnungspositionen.csv")), (3, true), "{:?}", bad[0]);
    assert!(
        bad[0].message.starts_with("SalesPrice (column Einzelpreis) `1.6800,00` is not a number: the thousands separator `.` stands only between groups of three digits"),
        "{}",
        bad[0].message
    );
}
