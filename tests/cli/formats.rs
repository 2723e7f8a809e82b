//! The readers on valid files of every supported shape: delimiters, encodings, line ends,
//! quotes, Parquet.

use std::fs::File;
use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, Decimal128Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;

use crate::{assert_nothing_lost, fixture, import, root};

fn headers_with_base_lines(headers: &str) -> crate::Run {
    import(
        &[
            format!("SalesInvoiceJournalHeader={headers}"),
            format!("BusinessDocumentSalesInvoiceLineItem={}", fixture("base/lines.csv").display()),
        ],
        &root().join("samples/master"),
    )
}

#[test]
fn every_delimiter_encoding_and_line_end_reads_the_same_three_invoices() {
    for (file, encoding) in [
        ("formats/headers_semicolon_crlf.csv", "UTF-8"),
        ("formats/headers_tab.csv", "UTF-8"),
        ("formats/headers_pipe_bom.csv", "UTF-8 (BOM)"),
        ("formats/headers_utf16le.csv", "UTF-16LE"),
        ("formats/headers_utf16be.csv", "UTF-16BE"),
    ] {
        let run = headers_with_base_lines(&fixture(file).display().to_string());
        assert_eq!(run.code, 0, "{file}: {}", run.stderr);
        let h = run.import_of(file.rsplit('/').next().unwrap());
        assert_eq!((h["read"].as_u64(), h["accepted"].as_u64()), (Some(3), Some(3)), "{file}");
        assert_eq!(h["encoding"], encoding, "{file}");
        assert_eq!(run.json()["validated"]["lines"], 4, "{file}");
    }
}

#[test]
fn quoted_fields_keep_delimiters_quotes_and_newlines_and_lines_stay_exact() {
    let run = import(
        &[
            format!("SalesInvoiceJournalHeader={}", fixture("base/headers.csv").display()),
            format!("BusinessDocumentSalesInvoiceLineItem={}", fixture("formats/lines_quoted.csv").display()),
        ],
        &root().join("samples/master"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Now break the record after the two-line one: its line number is 4, not 3.
    let text = std::fs::read_to_string(fixture("formats/lines_quoted.csv")).unwrap();
    let broken = text.replacen("DEMF,T-002,1,AC-0101,Lock,1,", "DEMF,T-002,1,AC-0101,Lock,one,", 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.csv");
    std::fs::write(&path, broken).unwrap();
    let run = import(
        &[
            format!("SalesInvoiceJournalHeader={}", fixture("base/headers.csv").display()),
            format!("BusinessDocumentSalesInvoiceLineItem={}", path.display()),
        ],
        &root().join("samples/master"),
    );
    assert_eq!(run.code, 3);
    let r = run.rejects().into_iter().find(|r| r.rule == "field.decimal").unwrap();
    assert_eq!((r.line, r.field.as_str()), (4, "Qty"));
}

/// `text` with `\n` line ends replaced by `eol`, encoded as `encoding` says (with its BOM).
fn encoded(text: &str, eol: &str, encoding: &str) -> Vec<u8> {
    let text = text.replace('\n', eol);
    match encoding {
        "UTF-8" => text.into_bytes(),
        "UTF-8 (BOM)" => [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat(),
        "UTF-16LE" => [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect(),
        "UTF-16BE" => [0xFE, 0xFF].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes)).collect(),
        other => panic!("{other}"),
    }
}

#[test]
fn reject_lines_are_the_lines_an_editor_shows_for_every_line_end_bom_and_encoding() {
    // Line 1 the column names, lines 2-3 a record with a quoted line break, line 4 blank,
    // line 5 the first line of T-002, line 6 its second (broken: its quantity is a word),
    // line 7 blank, line 8 T-003. The header file has a blank line after T-001: T-002 is on
    // line 4.
    let lines =
        "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,LINEAMOUNT,ITEMSALESTAXGROUP\n\
                 DEMF,T-001,1,BK-1001,\"City bike, 28\"\", with\nnewline\",2,50.00,100.00,FULL\n\
                 \n\
                 DEMF,T-002,1,AC-0101,Lock,1,10.00,10.00,FULL\n\
                 DEMF,T-002,2,BO-0007,Book,four,2.50,10.00,REDUCED\n\
                 \n\
                 DEMF,T-003,1,TI-0028,Tubes,3,33.33,99.99,FULL\n";
    let headers = std::fs::read_to_string(fixture("base/headers.csv")).unwrap();
    let headers = headers.replacen("\nDEMF,T-002", "\n\nDEMF,T-002", 1);
    for eol in ["\n", "\r\n", "\r"] {
        for encoding in ["UTF-8", "UTF-8 (BOM)", "UTF-16LE", "UTF-16BE"] {
            let case = format!("{eol:?} {encoding}");
            let dir = tempfile::tempdir().unwrap();
            let (h, l) = (dir.path().join("h.csv"), dir.path().join("l.csv"));
            std::fs::write(&h, encoded(&headers, eol, encoding)).unwrap();
            std::fs::write(&l, encoded(lines, eol, encoding)).unwrap();
            let run = import(
                &[
                    format!("SalesInvoiceJournalHeader={}", h.display()),
                    format!("BusinessDocumentSalesInvoiceLineItem={}", l.display()),
                ],
                &root().join("samples/master"),
            );
            assert_eq!(run.code, 3, "{case}: {}", run.stderr);
            assert_eq!(run.import_of("l.csv")["encoding"], encoding, "{case}");
            let at = |rule: &str, file: &str| {
                let found: Vec<(u64, String)> = run
                    .rejects()
                    .into_iter()
                    .filter(|r| r.rule == rule && r.file.ends_with(file))
                    .map(|r| (r.line, r.message))
                    .collect();
                found
            };
            let bad = at("field.decimal", "l.csv");
            assert_eq!(bad.iter().map(|r| r.0).collect::<Vec<_>>(), [6], "{case}: {bad:?}");
            // The header and the other line of T-002 are rejected with it, pointing at line 6.
            let header = at("relation.line_rejected", "h.csv");
            assert_eq!(header.iter().map(|r| r.0).collect::<Vec<_>>(), [4], "{case}: {header:?}");
            assert!(header[0].1.contains("l.csv line 6"), "{case}: {}", header[0].1);
            let sibling = at("relation.line_rejected", "l.csv");
            assert_eq!(sibling.iter().map(|r| r.0).collect::<Vec<_>>(), [5], "{case}: {sibling:?}");
            let json = run.json();
            assert_nothing_lost(&json);
            assert_eq!(json["validated"]["lines"], 2, "{case}");
        }
    }
}

#[test]
fn unknown_columns_are_reported_once_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("base/headers.csv")).unwrap();
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        out.push_str(l);
        out.push_str(if i == 0 { ",LEGACYFLAG,Remark\n" } else { ",x,y\n" });
    }
    let path = dir.path().join("h.csv");
    std::fs::write(&path, out).unwrap();
    let run = headers_with_base_lines(&path.display().to_string());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.import_of("h.csv")["unknown_columns"], serde_json::json!(["LEGACYFLAG", "Remark"]));
    assert_eq!(run.stderr.matches("unknown columns (ignored): LEGACYFLAG, Remark").count(), 1, "{}", run.stderr);
}

fn write_parquet(path: &std::path::Path, customers: [&str; 3]) {
    let s = |v: [&str; 3]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let dec =
        |v: [i128; 3]| Arc::new(Decimal128Array::from(v.to_vec()).with_precision_and_scale(32, 2).unwrap()) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        ("DATAAREAID", s(["DEMF", "DEMF", "DEMF"])),
        ("INVOICENUMBER", s(["T-001", "T-002", "T-003"])),
        ("INVOICEDATE", Arc::new(Date32Array::from(vec![19783, 19784, 19785])) as ArrayRef),
        ("INVOICECUSTOMERACCOUNTNUMBER", s(customers)),
        ("CURRENCYCODE", s(["EUR", "EUR", "EUR"])),
        ("TOTALTAXAMOUNT", dec([1900, 260, 1900])),
        ("TOTALINVOICEAMOUNT", dec([11900, 2260, 11899])),
    ])
    .unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn parquet_headers_read_with_exact_decimals_and_dates_and_row_positions() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("headers.parquet");
    write_parquet(&good, ["DE-001", "DE-002", "DE-001"]);
    let run = headers_with_base_lines(&good.display().to_string());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.import_of("headers.parquet")["encoding"], "Parquet");
    assert_nothing_lost(&run.json());
    let bad = dir.path().join("bad.parquet");
    write_parquet(&bad, ["DE-001", "DE-777", "DE-001"]);
    let run = headers_with_base_lines(&bad.display().to_string());
    assert_eq!(run.code, 3);
    let r = run.rejects().into_iter().find(|r| r.rule == "ref.customer").unwrap();
    // The second data row is reported as line 3, as it would be in the CSV export.
    assert_eq!((r.line, r.field.as_str()), (3, "InvoiceCustomerAccountNumber"));
}

#[test]
fn generated_parquet_files_import_like_their_csv() {
    let dir = tempfile::tempdir().unwrap();
    let g = invoiceflow::generate::generate(&invoiceflow::generate::GenerateRequest {
        invoices: 150,
        seed: 4,
        out: dir.path().to_path_buf(),
        defect_rate: 0.0,
        customers: 50,
        first: 1,
        parquet: true,
        unsorted: false,
        all_categories: false,
    })
    .unwrap();
    let run = import(
        &[
            dir.path().join("SalesInvoiceHeaderV2.parquet").display().to_string(),
            dir.path().join("BusinessDocumentSalesInvoiceLineItem.parquet").display().to_string(),
        ],
        &dir.path().join("master"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["validated"]["lines"].as_u64(), Some(g.lines));
    assert_eq!(run.import_of("SalesInvoiceHeaderV2.parquet")["accepted"].as_u64(), Some(g.invoices));
}

#[test]
fn rows_without_a_legal_entity_take_the_only_one_of_the_master_data_or_say_which_to_choose() {
    // The base files without their DATAAREAID column.
    let dir = tempfile::tempdir().unwrap();
    let strip = |name: &str| {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let out: String = text.lines().map(|l| format!("{}\n", l.split_once(',').unwrap().1)).collect();
        let path = dir.path().join(name.replace('/', "_"));
        std::fs::write(&path, out).unwrap();
        path
    };
    let (h, l) = (strip("base/headers.csv"), strip("base/lines.csv"));
    let files = [
        format!("SalesInvoiceJournalHeader={}", h.display()),
        format!("BusinessDocumentSalesInvoiceLineItem={}", l.display()),
    ];
    // The sample master data has two legal entities: nothing is assumed.
    let run = import(&files, &root().join("samples/master"));
    assert_eq!(run.code, 3, "{}", run.stderr);
    let rejects = run.rejects();
    let heads: Vec<_> = rejects.iter().filter(|r| r.rule == "ref.legal_entity").collect();
    assert_eq!(heads.len(), 3, "{rejects:?}");
    assert!(
        heads[0].message.starts_with("the row has no legal entity (dataAreaId) and none was given for such rows; the master data has DEMF, USMF: give --legal-entity ID (legal_entity in a job), or map dataAreaId"),
        "{}",
        heads[0].message
    );
    // With only DEMF in the master data, DEMF it is.
    let master = crate::sample_master_copy(dir.path());
    let les = std::fs::read_to_string(master.join("LegalEntity.csv")).unwrap();
    let les: String = les.lines().filter(|l| !l.starts_with("USMF")).map(|l| format!("{l}\n")).collect();
    std::fs::write(master.join("LegalEntity.csv"), les).unwrap();
    let run = import(&files, &master);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["validated"]["invoices"], 3);
}
