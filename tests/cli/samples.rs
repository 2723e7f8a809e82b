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
    assert_eq!(json["master"].as_array().unwrap().len(), 10);
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
    assert_eq!(run.stdout.lines().count(), 19, "{}", run.stdout);
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
    // Every column of the legacy header is mapped (the net total too).
    assert_eq!(run.import_of("Rechnungskopf.csv")["unknown_columns"], serde_json::json!([]));
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

/// The legacy-de sample with a document type column `Belegart` (one value per invoice), in
/// `dir`, with `edits` (text → text, on the Windows-1252 bytes of both files) made first; and
/// the legacy-de mapping, with `document_type` when `typed`.
fn legacy_de_typed(dir: &std::path::Path, types: [&str; 3], edits: &[(&str, &str)], typed: bool) -> crate::Run {
    // Each edit is made in the file that holds its text.
    let mut made = 0;
    let mut edit = |name: &str| {
        let mut text = std::fs::read(root().join("samples/legacy-de").join(name)).unwrap();
        for (from, to) in edits {
            if let Some(at) = text.windows(from.len()).position(|w| w == from.as_bytes()) {
                text.splice(at..at + from.len(), to.bytes());
                made += 1;
            }
        }
        text
    };
    let heads = edit("Rechnungskopf.csv");
    let lines = edit("Rechnungspositionen.csv");
    assert_eq!(made, edits.len(), "every edit finds its text");
    let mut out = Vec::new();
    for (i, row) in heads.split(|&b| b == b'\n').filter(|r| !r.is_empty()).enumerate() {
        let row = row.strip_suffix(b"\r").unwrap_or(row);
        out.extend_from_slice(row);
        out.extend_from_slice(if i == 0 { b";Belegart" } else { types[i - 1].as_bytes() });
        out.extend_from_slice(b"\r\n");
    }
    std::fs::write(dir.join("Rechnungskopf.csv"), out).unwrap();
    std::fs::write(dir.join("Rechnungspositionen.csv"), lines).unwrap();
    let mut mapping = std::fs::read_to_string(root().join("mappings/legacy-de.toml")).unwrap();
    if typed {
        mapping = mapping.replace(
            "[entity.SalesInvoiceJournalHeader.columns]",
            "[entity.SalesInvoiceJournalHeader.document_type]\ncolumn = \"Belegart\"\ninvoice = [\"RE\"]\ncredit_note = [\"GU\"]\n\n[entity.SalesInvoiceJournalHeader.columns]",
        );
    }
    std::fs::write(dir.join("m.toml"), mapping).unwrap();
    let mut args = vec!["import".to_string(), "--dry-run".into(), "--json".into(), "--quiet".into()];
    args.extend(["--rejects".into(), dir.join("rejects").display().to_string()]);
    args.extend(["--master".into(), root().join("samples/master").display().to_string()]);
    args.extend(["--mapping".into(), dir.join("m.toml").display().to_string()]);
    args.extend(["Rechnungskopf.csv", "Rechnungspositionen.csv"].map(|f| dir.join(f).display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    invoiceflow(&refs)
}

/// (line, field, rule, message) of the rejects of `file` in a run's rejects index at `dir`.
fn rejects_of(dir: &std::path::Path, file: &str) -> Vec<(u64, String, String, String)> {
    let mut r = csv::Reader::from_path(dir.join("rejects/rejects.csv")).unwrap();
    r.deserialize::<crate::RejectRow>()
        .map(|row| row.unwrap())
        .filter(|row| row.file.ends_with(file))
        .map(|row| (row.line, row.field, row.rule, row.message))
        .collect()
}

#[test]
fn a_document_type_column_marks_credit_notes_and_is_held_against_the_sign() {
    // GU with positive amounts, an unknown type, RE as it should be.
    let dir = tempfile::tempdir().unwrap();
    let run = legacy_de_typed(dir.path(), [";GU", ";XX", ";RE"], &[], true);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    crate::assert_nothing_lost(&json);
    assert_eq!(
        (json["validated"]["invoices"].as_u64(), json["validated"]["credit_notes"].as_u64()),
        (Some(1), Some(0))
    );
    let heads = rejects_of(dir.path(), "Rechnungskopf.csv");
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert_eq!((heads[0].0, heads[0].1.as_str(), heads[0].2.as_str()), (2, "TotalInvoiceAmount", "amount.sign"));
    assert_eq!(
        heads[0].3,
        "the document type says a credit note but its total is 629.76 — a credit note's quantities and totals are negative: negate them, or correct the document type"
    );
    assert_eq!((heads[1].0, heads[1].1.as_str(), heads[1].2.as_str()), (3, "Belegart", "field.enum"));
    assert_eq!(
        heads[1].3,
        "document type Belegart `XX` is neither an invoice nor a credit note (the mapping's document_type lists RE (invoice), GU (credit note)) — add the value to the mapping's document_type, or correct the row"
    );
    // The column is the mapping's: not reported as unknown.
    assert_eq!(run.import_of("Rechnungskopf.csv")["unknown_columns"], serde_json::json!([]));

    // R2019-00451 as a real credit note (negative quantities and totals) typed GU is accepted
    // as one; R2019-00453 negated but typed RE is refused.
    let negate = [
        ("532,60;97,16;629,76", "-532,60;-97,16;-629,76"),
        ("4.066,30;0,00;4.066,30", "-4.066,30;0,00;-4.066,30"),
        ("Zoll;1;Stk;499,00;;1;499,00", "Zoll;-1;Stk;499,00;;1;-499,00"),
        ("Bayern;2;Stk;16,80;;2;33,60", "Bayern;-2;Stk;16,80;;2;-33,60"),
        (";4;Stk;1.099,00;7,50;9;4.066,30", ";-4;Stk;1.099,00;7,50;9;-4.066,30"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let run = legacy_de_typed(dir.path(), [";GU", ";RE", ";RE"], &negate, true);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(
        (json["validated"]["invoices"].as_u64(), json["validated"]["credit_notes"].as_u64()),
        (Some(1), Some(1))
    );
    let heads = rejects_of(dir.path(), "Rechnungskopf.csv");
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert_eq!((heads[0].0, heads[0].2.as_str()), (4, "amount.sign"));
    assert_eq!(
        heads[0].3,
        "the document type says an invoice but its total is -4066.30 — an invoice's total is not negative: correct the document type, or the quantities and totals"
    );
    assert_eq!(rejects_of(dir.path(), "Rechnungspositionen.csv").iter().map(|r| r.0).collect::<Vec<_>>(), [6]);

    // Without document_type in the mapping, today's reading stays: the sign decides, and the
    // column is one the mapping does not use.
    let dir = tempfile::tempdir().unwrap();
    let run = legacy_de_typed(dir.path(), [";GU", ";XX", ";RE"], &[], false);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["validated"]["invoices"], 3);
    assert_eq!(run.import_of("Rechnungskopf.csv")["unknown_columns"], serde_json::json!(["Belegart"]));

    // The typed mapping on the sample without the column: every header says so.
    let typed = tempfile::tempdir().unwrap();
    legacy_de_typed(typed.path(), [";RE", ";RE", ";RE"], &[], true);
    let mut args = vec!["import".to_string(), "--dry-run".into(), "--json".into(), "--quiet".into()];
    args.extend(["--rejects".into(), dir.path().join("rejects").display().to_string()]);
    args.extend(["--master".into(), root().join("samples/master").display().to_string()]);
    args.extend(["--mapping".into(), typed.path().join("m.toml").display().to_string()]);
    args.extend(
        ["Rechnungskopf.csv", "Rechnungspositionen.csv"]
            .map(|f| root().join("samples/legacy-de").join(f).display().to_string()),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = invoiceflow(&refs);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let heads = rejects_of(dir.path(), "Rechnungskopf.csv");
    assert_eq!(
        heads.iter().map(|r| (r.0, r.2.as_str())).collect::<Vec<_>>(),
        [(2, "column.missing"), (3, "column.missing"), (4, "column.missing")]
    );
    assert!(heads[0].3.starts_with("the document type column Belegart (the mapping's document_type) is not in the file (header columns: Rechnungsnummer, "), "{}", heads[0].3);
}

#[test]
fn master_identifiers_are_checked_by_scheme_and_country_when_read() {
    // Two customers of the sample's master data: DE-002 with a Swedish organisation number
    // whose check digit is wrong (scheme 0007), DE-001 with a VAT number one digit short.
    let dir = tempfile::tempdir().unwrap();
    let master = crate::sample_master_copy(dir.path());
    let customers = std::fs::read_to_string(master.join("Customer.csv")).unwrap();
    let customers = customers
        .replacen("DE,DE811122233,DE811122233,9930", "DE,DE811122233,5560360794,0007", 1)
        .replacen("DE,DE987654321,DE987654321,9930", "DE,DE98765432,DE987654321,9930", 1);
    std::fs::write(master.join("Customer.csv"), customers).unwrap();
    let run = crate::import(
        &["SalesInvoiceHeaderV2.csv", "Customer invoice lines.csv"]
            .map(|f| root().join("samples/d365").join(f).display().to_string()),
        &master,
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let rejects = run.rejects();
    let of = |file: &str| rejects.iter().filter(|r| r.file.ends_with(file)).collect::<Vec<_>>();
    let masters = of("Customer.csv");
    assert_eq!(masters.len(), 2, "{masters:?}");
    assert_eq!(
        (masters[0].line, masters[0].field.as_str(), masters[0].rule.as_str()),
        (2, "TaxExemptNumber", "field.identifier")
    );
    assert_eq!(
        masters[0].message,
        "TaxExemptNumber `DE98765432` does not have its country's format: DE and 9 digits (VAT-FORMAT) — Correct the identifier or its scheme; documents that carry it would be refused."
    );
    assert_eq!((masters[1].line, masters[1].field.as_str()), (3, "ElectronicAddress"));
    assert_eq!(
        masters[1].message,
        "ElectronicAddress `5560360794` (scheme 0007) is not a Swedish organisation number: 10 digits, the last the Luhn check digit of the first nine (PEPPOL-COMMON-R049) — Correct the identifier or its scheme; documents that carry it would be refused."
    );
    // The invoices of DE-002 say why their customer is missing.
    let refused: Vec<_> = of("SalesInvoiceHeaderV2.csv").into_iter().filter(|r| r.rule == "ref.customer").collect();
    assert!(
        refused.iter().any(|r| r.message.starts_with(
            "customer `DE-002` was rejected from the Customer master data (line 3, field.identifier): fix that row"
        )),
        "{refused:?}"
    );
}

/// The legacy-de sample's master data with the customers in a legacy list `Kunden.csv` (KUNNR,
/// NAME, …; semicolons, Windows-1252 as the mapping says) instead of Customer.csv, and the
/// legacy-de mapping with an `[entity.Customer]` section; `columns` the list's header.
fn legacy_customers(dir: &std::path::Path, columns: &str) -> crate::Run {
    let master = crate::sample_master_copy(dir);
    std::fs::remove_file(master.join("Customer.csv")).unwrap();
    let rows = "DE-001;Bäckerei Müller KG;DOM;Net30;DE;DE987654321\r\n\
                DE-002;Fahrradwerk Süd GmbH;DOM;Net14;DE;DE811122233\r\n\
                FR-001;Vélos de Lyon SARL;EU;CM30;FR;FR40303265045\r\n";
    let text = format!("{columns}\r\n{rows}");
    let bytes: Vec<u8> = text.chars().map(|c| u8::try_from(u32::from(c)).expect("Latin-1")).collect();
    std::fs::write(master.join("Kunden.csv"), bytes).unwrap();
    let mapping = std::fs::read_to_string(root().join("mappings/legacy-de.toml")).unwrap()
        + "\n[entity.Customer]\nfiles = [\"kunden*.csv\"]\n\n[entity.Customer.columns]\nCustomerAccount = \"KUNNR\"\n\
           OrganizationName = \"NAME\"\nCustomerGroupId = \"GRUPPE\"\nSalesTaxGroup = \"GRUPPE\"\nPaymentTerms = \"ZAHLUNG\"\n\
           AddressCountryRegionISOCode = \"LAND\"\nTaxExemptNumber = \"USTID\"\n";
    std::fs::write(dir.join("m.toml"), mapping).unwrap();
    let mut args = vec!["import".to_string(), "--dry-run".into(), "--json".into(), "--quiet".into()];
    args.extend(["--rejects".into(), dir.join("rejects").display().to_string()]);
    args.extend(["--master".into(), master.display().to_string()]);
    args.extend(["--mapping".into(), dir.join("m.toml").display().to_string()]);
    args.extend(
        ["Rechnungskopf.csv", "Rechnungspositionen.csv"]
            .map(|f| root().join("samples/legacy-de").join(f).display().to_string()),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    invoiceflow(&refs)
}

#[test]
fn a_legacy_customer_list_is_read_through_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let run = legacy_customers(dir.path(), "KUNNR;NAME;GRUPPE;ZAHLUNG;LAND;USTID");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    crate::assert_nothing_lost(&json);
    let customers = run.import_of("Kunden.csv");
    assert_eq!((customers["entity"].as_str(), customers["accepted"].as_u64()), (Some("Customer"), Some(3)));
    assert_eq!(customers["encoding"], "Windows-1252");
    assert_eq!(json["validated"]["invoices"], 3);
}

#[test]
fn a_master_file_without_a_required_column_stops_the_run_naming_file_and_column() {
    // NAME is not in the list: nothing is read, no row is rejected, the run stops.
    let dir = tempfile::tempdir().unwrap();
    let run = legacy_customers(dir.path(), "KUNNR;BEZEICHNUNG;GRUPPE;ZAHLUNG;LAND;USTID");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let kunden = dir.path().join("master/Kunden.csv");
    let expected = format!(
        "{}: Customer lacks the required column OrganizationName (mapped from column NAME) (its columns: KUNNR, BEZEICHNUNG, GRUPPE, ZAHLUNG, LAND, USTID); name them in the file, or map them in a mapping's [entity.Customer.columns] ({} is the mapping read)",
        kunden.display(),
        dir.path().join("m.toml").display()
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(!dir.path().join("rejects/rejects.csv").exists(), "nothing is written");
}

#[test]
fn messages_speak_the_mappings_formats_and_an_impossible_date_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let edits = [("14.02.2019", "31.02.2019"), ("15.02.2019", "15/02/2019"), (";16,80;", ";abc;")];
    let run = legacy_de_typed(dir.path(), [";RE", ";RE", ";RE"], &edits, false);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let messages = |file: &str, rule: &str| -> Vec<(u64, String)> {
        rejects_of(dir.path(), file).into_iter().filter(|r| r.2 == rule).map(|r| (r.0, r.3)).collect()
    };
    assert_eq!(
        messages("Rechnungskopf.csv", "field.date"),
        [
            (2, "InvoiceDate (column Rechnungsdatum) `31.02.2019` is no date: February 2019 has no day 31 (it has 28 days) — Correct the day, month or year: the date does not exist.".to_string()),
            (3, "InvoiceDate (column Rechnungsdatum) `15/02/2019` is not a valid date in the format dd.MM.yyyy — Write the date as dd.MM.yyyy (the mapping's date_format).".to_string()),
        ]
    );
    assert_eq!(
        messages("Rechnungspositionen.csv", "field.decimal"),
        [(3, "SalesPrice (column Einzelpreis) `abc` is not a number — Write a number such as 1.234,50 or 1234,50 (the mapping's separators).".to_string())]
    );

    // ref.* and amount.* name the source column too.
    let dir = tempfile::tempdir().unwrap();
    let edits = [(";DE-002;", ";DE-009;"), ("4.066,30;0,00;4.066,30", "4.066,30;0,00;4.066,31")];
    let run = legacy_de_typed(dir.path(), [";RE", ";RE", ";RE"], &edits, false);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let messages = |rule: &str| -> Vec<String> {
        rejects_of(dir.path(), "Rechnungskopf.csv").into_iter().filter(|r| r.2 == rule).map(|r| r.3).collect()
    };
    assert_eq!(
        messages("ref.customer"),
        ["InvoiceCustomerAccountNumber (column Kundennummer): customer `DE-009` is not in the Customer master data — Use a customer from Customer, or add the customer there."]
    );
    let total = messages("amount.total");
    assert_eq!(total.len(), 1);
    assert!(
        total[0].starts_with("TotalInvoiceAmount (column Bruttobetrag): total 4066.31 differs from 4066.30 = "),
        "{}",
        total[0]
    );
}

#[test]
fn rejects_in_the_source_dialect_are_corrected_and_fed_back_through_the_same_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = std::fs::read(root().join("samples/legacy-de/Rechnungspositionen.csv")).unwrap();
    let at = bytes.windows(6).position(|w| w == b";16,80").unwrap();
    std::fs::write(d.join("Rechnungspositionen.csv"), [&bytes[..at], b";16,8x", &bytes[at + 6..]].concat()).unwrap();
    std::fs::copy(root().join("samples/legacy-de/Rechnungskopf.csv"), d.join("Rechnungskopf.csv")).unwrap();
    let mapping = root().join("mappings/legacy-de.toml").display().to_string();
    let master = root().join("samples/master").display().to_string();
    let import = |rejects: &str, files: &[&str], dialect: &str| {
        let mut args = vec!["import", "--dry-run", "--json", "--quiet", "--master", &master, "--mapping", &mapping];
        args.extend(["--rejects", rejects, "--rejects-dialect", dialect]);
        args.extend(files);
        invoiceflow(&args)
    };
    let (h, l) =
        (d.join("Rechnungskopf.csv").display().to_string(), d.join("Rechnungspositionen.csv").display().to_string());
    let rejects = d.join("rejects").display().to_string();
    let run = import(&rejects, &[&h, &l], "source");
    assert_eq!(run.code, 3, "{}", run.stderr);
    // Semicolons, Windows-1252 (ü as one byte), CRLF: as the source.
    let written = std::fs::read(d.join("rejects/Rechnungspositionen.csv.rejects.csv")).unwrap();
    assert!(written.starts_with(b"Rechnungsnummer;Pos;Artikelnummer;Bezeichnung;Menge;ME;Einzelpreis;Rabatt %;Steuerschl\xFCssel;Nettobetrag;file;line;field;rule;message\r\n"));
    let row: &[u8] = b"R2019-00451;2;BO-0007;Radwanderf\xFChrer Bayern;2;Stk;16,8x;";
    assert!(written.windows(row.len()).any(|w| w == row), "{}", String::from_utf8_lossy(&written));
    // Corrected where it stands, both rejects files go back through the same mapping.
    let at = written.windows(5).position(|w| w == b"16,8x").unwrap();
    let fixed = [&written[..at], b"16,80", &written[at + 5..]].concat();
    std::fs::write(d.join("rejects/Rechnungspositionen.csv.rejects.csv"), fixed).unwrap();
    let again = d.join("again").display().to_string();
    let heads = d.join("rejects/Rechnungskopf.csv.rejects.csv").display().to_string();
    let lines = d.join("rejects/Rechnungspositionen.csv.rejects.csv").display().to_string();
    let run = import(&again, &[&heads, &lines], "source");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!((json["validated"]["invoices"].as_u64(), json["validated"]["lines"].as_u64()), (Some(1), Some(2)));
    // The default stays UTF-8 with commas.
    let run = import(&d.join("plain").display().to_string(), &[&h, &l], "csv");
    assert_eq!(run.code, 3);
    let plain = std::fs::read_to_string(d.join("plain/Rechnungspositionen.csv.rejects.csv")).unwrap();
    assert!(plain.starts_with("Rechnungsnummer,Pos,Artikelnummer,Bezeichnung,Menge,ME,Einzelpreis,Rabatt %,Steuerschlüssel,Nettobetrag,file,line,field,rule,message\n"));
}

#[test]
fn a_legacy_net_total_is_checked_against_the_lines() {
    let dir = tempfile::tempdir().unwrap();
    let run = legacy_de_typed(dir.path(), [";RE", ";RE", ";RE"], &[(";575,58;", ";575,68;")], false);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let heads = rejects_of(dir.path(), "Rechnungskopf.csv");
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert_eq!((heads[0].0, heads[0].1.as_str(), heads[0].2.as_str()), (3, "TotalNetAmount", "amount.total"));
    assert!(
        heads[0].3.starts_with(
            "TotalNetAmount (column Nettobetrag): net total 575.68 differs from 575.58 = lines 575.58 − discount 0"
        ),
        "{}",
        heads[0].3
    );
}

#[test]
fn the_net_total_is_exported_as_posted() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db").display().to_string();
    let mut args = vec!["import".to_string(), "--quiet".into(), "--store".into(), store.clone()];
    args.extend(["--master".into(), root().join("samples/master").display().to_string()]);
    args.extend(["--mapping".into(), root().join("mappings/legacy-de.toml").display().to_string()]);
    args.extend(
        ["Rechnungskopf.csv", "Rechnungspositionen.csv"]
            .map(|f| root().join("samples/legacy-de").join(f).display().to_string()),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = invoiceflow(&refs);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = dir.path().join("x").display().to_string();
    let run = invoiceflow(&[
        "export",
        "--store",
        &store,
        "--entity",
        "SalesInvoiceJournalHeader",
        "--format",
        "csv",
        "--out",
        &out,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let file = std::fs::read_dir(dir.path().join("x")).unwrap().next().unwrap().unwrap().path();
    let mut r = csv::Reader::from_path(file).unwrap();
    let at = r.headers().unwrap().iter().position(|h| h == "TOTALNETAMOUNT").expect("the column");
    let nets: Vec<String> = r.records().map(|rec| rec.unwrap()[at].to_string()).collect();
    assert_eq!(nets, ["532.60", "575.58", "4066.30"]);
}

#[test]
fn einvoice_and_post_read_a_legacy_customer_list_through_mapping_too() {
    let dir = tempfile::tempdir().unwrap();
    // The store, posted from the legacy-de sample with the customers in Kunden.csv.
    legacy_customers(dir.path(), "KUNNR;NAME;GRUPPE;ZAHLUNG;LAND;USTID");
    let (master, mapping) = (dir.path().join("master"), dir.path().join("m.toml"));
    let store = dir.path().join("s.db").display().to_string();
    let (m, map) = (master.display().to_string(), mapping.display().to_string());
    let mut args = vec!["import", "--quiet", "--store", &store, "--master", &m, "--mapping", &map];
    let files = ["Rechnungskopf.csv", "Rechnungspositionen.csv"]
        .map(|f| root().join("samples/legacy-de").join(f).display().to_string());
    args.extend(files.iter().map(String::as_str));
    let run = invoiceflow(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Re-issued with today's master data: the customers are found through the mapping (CII:
    // PEPPOL's UBL would also want the buyers' electronic addresses, which the list lacks).
    let ei = |extra: &[&str]| {
        let mut args = vec!["einvoice", "--json", "--dry-run", "--syntax", "cii", "--store", &store, "--master", &m];
        args.extend(extra);
        invoiceflow(&args)
    };
    let with = ei(&["--mapping", &map]);
    assert_eq!(with.code, 0, "{}", with.stderr);
    assert_eq!(with.json()["einvoices"][0]["documents"], 3);
    // Without the mapping the list is not found: the buyers have no name, and the documents
    // would be refused (nothing is written: a dry run).
    let without = ei(&[]);
    assert_eq!(without.code, 3, "{}", without.stderr);
    assert_eq!(without.json()["einvoices"][0]["refused"].as_array().unwrap().len(), 3);
}

#[test]
fn rejects_of_a_file_with_lone_cr_line_ends_end_their_lines_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cr = |bytes: Vec<u8>| -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        for (i, &b) in bytes.iter().enumerate() {
            if !(b == b'\n' && i > 0 && bytes[i - 1] == b'\r') {
                out.push(b);
            }
        }
        out
    };
    let lines = std::fs::read(root().join("samples/legacy-de/Rechnungspositionen.csv")).unwrap();
    let lines = cr(lines);
    let at = lines.windows(6).position(|w| w == b";16,80").unwrap();
    std::fs::write(d.join("Rechnungspositionen.csv"), [&lines[..at], b";16,8x", &lines[at + 6..]].concat()).unwrap();
    std::fs::write(
        d.join("Rechnungskopf.csv"),
        cr(std::fs::read(root().join("samples/legacy-de/Rechnungskopf.csv")).unwrap()),
    )
    .unwrap();
    let (m, master) = (
        root().join("mappings/legacy-de.toml").display().to_string(),
        root().join("samples/master").display().to_string(),
    );
    let (h, l, r) = (
        d.join("Rechnungskopf.csv").display().to_string(),
        d.join("Rechnungspositionen.csv").display().to_string(),
        d.join("rejects").display().to_string(),
    );
    let run = invoiceflow(&[
        "import",
        "--dry-run",
        "--json",
        "--quiet",
        "--master",
        &master,
        "--mapping",
        &m,
        "--rejects",
        &r,
        "--rejects-dialect",
        "source",
        &h,
        &l,
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let written = std::fs::read(d.join("rejects/Rechnungspositionen.csv.rejects.csv")).unwrap();
    assert!(!written.contains(&b'\n'), "{}", String::from_utf8_lossy(&written));
    // The column names, the two rows of R2019-00451: three lines, each ended by a CR.
    assert_eq!(written.iter().filter(|&&b| b == b'\r').count(), 3);
    // And the reject's line is the line an editor shows (the CR file's third line).
    assert!(rejects_of(d, "Rechnungspositionen.csv").iter().any(|r| r.2 == "field.decimal" && r.0 == 3));
}
