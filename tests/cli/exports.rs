//! Exports with change tracking: incremental runs send exactly what changed, a crash between
//! publishing a file and moving the watermark is redone into the same file, CSV-Unicode.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use invoiceflow::generate::{generate, GenerateRequest};

use crate::invoiceflow;

fn batch(dir: &Path, invoices: u64, first: u64) -> invoiceflow::generate::Generated {
    generate(&GenerateRequest {
        invoices,
        seed: 9,
        out: dir.to_path_buf(),
        defect_rate: 0.0,
        customers: 200,
        first,
        parquet: false,
        unsorted: false,
        all_categories: false,
    })
    .unwrap()
}

fn import(data: &Path, master: &Path, store: &Path) {
    let run = invoiceflow(&[
        "import",
        "--quiet",
        "--master",
        &master.display().to_string(),
        "--store",
        &store.display().to_string(),
        &data.join("SalesInvoiceHeaderV2.csv").display().to_string(),
        &data.join("BusinessDocumentSalesInvoiceLineItem.csv").display().to_string(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

fn export(store: &Path, entity: &str, format: &str, out: &Path, job: Option<&str>) -> serde_json::Value {
    let mut args = vec!["export", "--json", "--store"];
    let store = store.display().to_string();
    let out = out.display().to_string();
    args.extend([store.as_str(), "--entity", entity, "--format", format, "--out", out.as_str()]);
    if let Some(j) = job {
        args.extend(["--job", j]);
    }
    let run = invoiceflow(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["exports"][0].clone()
}

fn rows_of(files: &[PathBuf]) -> Vec<String> {
    let mut rows = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        rows.extend(text.lines().skip(1).map(str::to_string));
    }
    rows
}

fn files(v: &serde_json::Value) -> Vec<PathBuf> {
    v["files"].as_array().unwrap().iter().map(|f| PathBuf::from(f.as_str().unwrap())).collect()
}

#[test]
fn incremental_exports_send_exactly_what_changed_and_add_up_to_a_full_export() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let ga = batch(&a, 120, 1);
    let gb = batch(&b, 150, 1001);
    assert!(gb.credit_notes > 0, "batch B has credit notes");
    let store = dir.path().join("s.db");
    let out = dir.path().join("dw");
    let master = a.join("master");
    import(&a, &master, &store);
    let mut all_lines = Vec::new();
    let mut all_headers = Vec::new();

    let h1 = export(&store, "SalesInvoiceJournalHeader", "csv", &out, Some("dw"));
    let l1 = export(&store, "BusinessDocumentSalesInvoiceLineItem", "csv", &out, Some("dw"));
    assert_eq!((h1["rows"].as_u64(), l1["rows"].as_u64()), (Some(ga.invoices), Some(ga.lines)));
    assert_eq!((h1["from_version"].as_i64(), h1["to_version"].as_i64()), (Some(0), Some(120)));
    assert!(files(&h1)[0].ends_with("SalesInvoiceJournalHeader_v00000001-v00000120.csv"));
    all_headers.extend(files(&h1));
    all_lines.extend(files(&l1));

    import(&b, &master, &store);
    let h2 = export(&store, "SalesInvoiceJournalHeader", "csv", &out, Some("dw"));
    let l2 = export(&store, "BusinessDocumentSalesInvoiceLineItem", "csv", &out, Some("dw"));
    assert_eq!((h2["rows"].as_u64(), l2["rows"].as_u64()), (Some(gb.invoices), Some(gb.lines)));
    assert!(rows_of(&files(&h2))
        .iter()
        .all(|r| r.split(',').nth(1).unwrap() > "INV-00001000" || r.contains(",CRN-0000")));
    all_headers.extend(files(&h2));
    all_lines.extend(files(&l2));

    let h3 = export(&store, "SalesInvoiceJournalHeader", "csv", &out, Some("dw"));
    assert_eq!(h3["rows"], 0);
    assert!(files(&h3).is_empty());
    assert_eq!(h3["note"], "nothing new since change version 270: no file written");

    let full = export(&store, "BusinessDocumentSalesInvoiceLineItem", "csv", &dir.path().join("full"), None);
    let mut union = rows_of(&all_lines);
    let mut whole = rows_of(&files(&full));
    assert_eq!(union.len() as u64, ga.lines + gb.lines);
    union.sort();
    whole.sort();
    assert_eq!(union, whole);
    let distinct: BTreeSet<&String> = union.iter().collect();
    assert_eq!(distinct.len(), union.len(), "no row twice");
    assert_eq!(rows_of(&all_headers).len() as u64, ga.invoices + gb.invoices);
}

#[test]
fn a_crash_after_publishing_is_redone_into_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    batch(&a, 60, 1);
    let store = dir.path().join("s.db");
    import(&a, &a.join("master"), &store);
    let out = dir.path().join("dw");
    let args = [
        "export",
        "--store",
        &store.display().to_string(),
        "--entity",
        "GeneralJournalAccountEntry",
        "--format",
        "parquet",
        "--out",
        &out.display().to_string(),
        "--job",
        "dw",
    ]
    .map(String::from);
    let crashed = std::process::Command::new(env!("CARGO_BIN_EXE_invoiceflow"))
        .args(&args)
        .env("INVOICEFLOW_TEST_CRASH_AFTER_PUBLISH", "1")
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    let name = "GeneralJournalAccountEntry_v00000001-v00000060.parquet";
    let first = std::fs::read(out.join(name)).unwrap();
    // Posting more invoices in between does not change the range that was pending.
    let b = dir.path().join("b");
    batch(&b, 10, 501);
    import(&b, &a.join("master"), &store);
    let rerun = export(&store, "GeneralJournalAccountEntry", "parquet", &out, Some("dw"));
    assert_eq!(rerun["resumed"], true);
    assert!(files(&rerun)[0].ends_with(name));
    assert_eq!(std::fs::read(out.join(name)).unwrap(), first, "the same file, byte for byte");
    let next = export(&store, "GeneralJournalAccountEntry", "parquet", &out, Some("dw"));
    assert!(files(&next)[0].ends_with("GeneralJournalAccountEntry_v00000061-v00000070.parquet"));
    let listing: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(listing.len(), 2, "{listing:?}");
}

#[test]
fn csv_unicode_for_d365_and_byte_identical_reexports() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    batch(&a, 20, 1);
    let store = dir.path().join("s.db");
    import(&a, &a.join("master"), &store);
    let out = dir.path().join("u");
    let run = invoiceflow(&[
        "export",
        "--store",
        &store.display().to_string(),
        "--entity",
        "SalesInvoiceHeaderV2",
        "--format",
        "csv",
        "--out",
        &out.display().to_string(),
        "--dmf-unicode",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bytes = std::fs::read(out.join("SalesInvoiceHeaderV2_full_v00000020.csv")).unwrap();
    assert_eq!(&bytes[..4], &[0xFF, 0xFE, b'D', 0]);
    let units: Vec<u16> = bytes[2..].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let text = String::from_utf16(&units).unwrap();
    assert_eq!(text.matches("\r\n").count(), 21);
    assert!(text.starts_with("DATAAREAID,INVOICENUMBER,INVOICEDATE,LEDGERVOUCHER,"));
    let p1 = export(&store, "BusinessDocumentSalesInvoiceLineItem", "parquet", &dir.path().join("p1"), None);
    let p2 = export(&store, "BusinessDocumentSalesInvoiceLineItem", "parquet", &dir.path().join("p2"), None);
    assert_eq!(std::fs::read(&files(&p1)[0]).unwrap(), std::fs::read(&files(&p2)[0]).unwrap());
}

#[test]
fn spreadsheet_safe_csv_defuses_formula_like_text_cells_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    batch(&a, 6, 1);
    // Item names that a spreadsheet would run: the first four lines get one each.
    let path = a.join("BusinessDocumentSalesInvoiceLineItem.csv");
    let mut r = csv::Reader::from_path(&path).unwrap();
    let head = r.headers().unwrap().clone();
    let name = head.iter().position(|h| h == "ITEMNAME").unwrap();
    let names = ["=HYPERLINK(\"http://x\",\"click\")", "-2 for 1", "@SUM(A1)", "+49 30 1234"];
    let mut w = csv::Writer::from_path(a.join("l.csv")).unwrap();
    w.write_record(&head).unwrap();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.unwrap();
        let fields: Vec<&str> =
            rec.iter().enumerate().map(|(k, f)| if k == name && i < 4 { names[i] } else { f }).collect();
        w.write_record(&fields).unwrap();
    }
    w.flush().unwrap();
    std::fs::rename(a.join("l.csv"), &path).unwrap();
    let store = dir.path().join("s.db");
    import(&a, &a.join("master"), &store);
    let entity = "BusinessDocumentSalesInvoiceLineItem";
    let plain = export(&store, entity, "csv", &dir.path().join("plain"), None);
    let mut args = vec!["export", "--json", "--spreadsheet-safe", "--store"];
    let (s, out) = (store.display().to_string(), dir.path().join("safe").display().to_string());
    args.extend([s.as_str(), "--entity", entity, "--format", "csv", "--out", out.as_str()]);
    let run = invoiceflow(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let safe = run.json()["exports"][0].clone();
    let plain = std::fs::read_to_string(&files(&plain)[0]).unwrap();
    let safe = std::fs::read_to_string(&files(&safe)[0]).unwrap();
    // The default keeps every value as it is (and so imports back unchanged).
    assert!(plain.contains(",\"=HYPERLINK(\"\"http://x\"\",\"\"click\"\")\","), "{plain}");
    // The safe file differs in exactly those four cells, each with a ' in front.
    let expected = plain
        .replace("\"=HYPERLINK(", "\"'=HYPERLINK(")
        .replace(",-2 for 1,", ",'-2 for 1,")
        .replace(",@SUM(A1),", ",'@SUM(A1),")
        .replace(",+49 30 1234,", ",'+49 30 1234,");
    for cell in ["\"=HYPERLINK(", ",-2 for 1,", ",@SUM(A1),", ",+49 30 1234,"] {
        assert_eq!(plain.matches(cell).count(), 1, "{cell}");
    }
    assert_eq!(safe, expected);
    // Parquet cells are typed: the option is refused there.
    let run = invoiceflow(&[
        "export",
        "--spreadsheet-safe",
        "--store",
        &s,
        "--entity",
        entity,
        "--format",
        "parquet",
        "--out",
        &out,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("--spreadsheet-safe applies to CSV only"), "{}", run.stderr);
}

#[test]
fn a_job_asking_spreadsheet_safe_parquet_is_refused_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    let text = "version = 1\nlegal_entity = \"DEMF\"\nmaster = \"m\"\nstore = \"s.db\"\n[[export]]\nentity = \"SalesInvoiceHeaderV2\"\nformat = \"parquet\"\nout = \"o\"\nspreadsheet_safe = true\n";
    std::fs::write(&job, text).unwrap();
    let e = invoiceflow::job::Job::load(&job, invoiceflow::entity::Catalog::builtin()).unwrap_err().to_string();
    assert!(
        e.ends_with("export[0]: spreadsheet_safe applies to CSV only (Parquet cells are typed and run nothing)"),
        "{e}"
    );
    std::fs::write(&job, text.replace("parquet", "csv")).unwrap();
    let loaded = invoiceflow::job::Job::load(&job, invoiceflow::entity::Catalog::builtin()).unwrap();
    assert!(loaded.exports[0].spreadsheet_safe);
}

/// The four exports of a store (headers, lines, ledger, open items) as CSV: (file name, text).
fn four_exports(store: &Path, out: &Path) -> Vec<(String, String)> {
    let entities = [
        "SalesInvoiceHeaderV2",
        "BusinessDocumentSalesInvoiceLineItem",
        "GeneralJournalAccountEntry",
        "CustomerTransaction",
    ];
    entities
        .iter()
        .map(|e| {
            let f = files(&export(store, e, "csv", out, None))[0].clone();
            (f.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

#[test]
fn exports_import_into_a_fresh_store_by_their_file_names_and_post_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    batch(&a, 30, 1);
    let first = dir.path().join("first.db");
    import(&a, &a.join("master"), &first);
    let before = four_exports(&first, &dir.path().join("before"));
    for format in ["csv", "parquet"] {
        let out = dir.path().join(format!("x-{format}"));
        let heads = export(&first, "SalesInvoiceHeaderV2", format, &out, None);
        let lines = export(&first, "BusinessDocumentSalesInvoiceLineItem", format, &out, None);
        // No ENTITY=FILE: the names say it (lines first, to show the order does not matter).
        let store = dir.path().join(format!("{format}.db"));
        let (l, h) = (files(&lines)[0].display().to_string(), files(&heads)[0].display().to_string());
        let master = a.join("master").display().to_string();
        let run = invoiceflow(&[
            "import",
            "--json",
            "--quiet",
            "--master",
            &master,
            "--store",
            &store.display().to_string(),
            &l,
            &h,
        ]);
        assert_eq!(run.code, 0, "{format}: {}", run.stderr);
        let json = run.json();
        assert_eq!(
            json["posting"]["invoices"].as_u64().unwrap() + json["posting"]["credit_notes"].as_u64().unwrap(),
            30
        );
        let after = four_exports(&store, &dir.path().join(format!("after-{format}")));
        for ((name, was), (_, is)) in before.iter().zip(&after) {
            if format == "csv" || name.starts_with("GeneralJournal") || name.starts_with("CustomerTrans") {
                // Headers, lines, ledger entries and open items byte for byte.
                assert_eq!(is, was, "{format}: {name}");
            } else {
                // Parquet decimals carry the column's scale (`11` comes back as `11.000000` in
                // the fields kept as given): the same values.
                let cells = |t: &str| {
                    t.lines().flat_map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>()).collect::<Vec<_>>()
                };
                let (was, is) = (cells(was), cells(is));
                assert_eq!(was.len(), is.len(), "{name}");
                for (w, i) in was.iter().zip(&is) {
                    let same = w == i || matches!((w.parse::<f64>(), i.parse::<f64>()), (Ok(x), Ok(y)) if x == y);
                    assert!(same, "{name}: {w} against {i}");
                }
            }
        }
    }
}
