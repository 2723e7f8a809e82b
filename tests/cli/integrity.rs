//! Integrity and operability: unique numbers, e-invoice jobs that cannot jam, round trips of
//! the exports, original invoices of credit notes, hostile input, exit codes that tell the truth.

use std::path::{Path, PathBuf};

use crate::{invoiceflow, root};

/// A copy of `samples/` and `mappings/` in a temp dir (the job file points at `../mappings`),
/// so that a test can change master data or entity files.
pub fn sample_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["samples", "mappings"] {
        copy_dir(&root().join(sub), &dir.path().join(sub));
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Replaces the first `from` in a file with `to` (the text must be there).
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Runs the sample job of a copy with its outputs in the copy.
fn run_job(copy: &Path, extra: &[&str]) -> crate::Run {
    let job = s(&copy.join("samples/job.toml"));
    let mut args = vec!["run", job.as_str(), "--json", "--quiet"];
    args.extend(extra);
    invoiceflow(&args)
}

#[test]
fn run_exits_3_and_partial_when_einvoices_are_refused() {
    let copy = sample_copy();
    // Customer DE-001 without a country: its e-invoices break BR-11 and are refused.
    edit(&copy.path().join("samples/master/Customer.csv"), "80331,DE,", "80331,,");
    let run = run_job(copy.path(), &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["status"], "partial");
    let refused = json["einvoices"][0]["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert_eq!(refused[0]["findings"][0][0], "BR-11");
}

#[test]
fn post_lists_a_rejected_master_row_with_file_line_and_rule() {
    let copy = sample_copy();
    let store = copy.path().join("drafts.db");
    let master = copy.path().join("samples/master");
    let d365 = copy.path().join("samples/d365");
    let run = invoiceflow(&[
        "import",
        "--quiet",
        "--no-post",
        "--store",
        &s(&store),
        "--master",
        &s(&master),
        &s(&d365.join("SalesInvoiceHeaderV2.csv")),
        &s(&d365.join("Customer invoice lines.csv")),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A customer whose hold status is not a value of the enum (line 3 of Customer.csv).
    edit(&master.join("Customer.csv"), "9930,No,FWS-EINKAUF", "9930,Maybe,FWS-EINKAUF");
    let rejects = copy.path().join("rejects");
    let run = invoiceflow(&[
        "post",
        "--json",
        "--quiet",
        "--store",
        &s(&store),
        "--master",
        &s(&master),
        "--rejects",
        &s(&rejects),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["status"], "partial");
    let by_rule = json["rejects_by_rule"].as_array().unwrap();
    assert!(by_rule.iter().any(|r| r["rule"] == "field.enum" && r["rows"] == 1), "{json}");
    let first = &json["first_rejects"][0];
    assert!(first["file"].as_str().unwrap().ends_with("Customer.csv"), "{first}");
    assert_eq!(first["line"], 3);
    assert_eq!(first["field"], "OnHoldStatus");
    assert_eq!(first["rule"], "field.enum");
    let customer = json["master"].as_array().unwrap().iter().find(|m| m["entity"] == "Customer").unwrap().clone();
    assert_eq!(customer["rejected"], 1);
    assert!(customer["rejects_file"].as_str().is_some(), "{customer}");
    assert!(json["rejects_file"].as_str().unwrap().ends_with("rejects.csv"));
}

#[test]
fn a_defective_data_set_can_be_written_as_parquet_and_its_defects_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    let run = invoiceflow(&[
        "generate",
        "--invoices",
        "200",
        "--seed",
        "5",
        "--defect-rate",
        "0.3",
        "--parquet",
        "--customers",
        "50",
        "--out",
        &s(&out),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let import = |ext: &str| {
        let files: Vec<String> = ["SalesInvoiceHeaderV2", "BusinessDocumentSalesInvoiceLineItem"]
            .iter()
            .map(|f| s(&out.join(format!("{f}.{ext}"))))
            .collect();
        let run = crate::import(&files, &out.join("master"));
        assert_eq!(run.code, 3, "{}", run.stderr);
        run.json()
    };
    let (csv, parquet) = (import("csv"), import("parquet"));
    // The same rows are rejected for the same rules whichever format carries them.
    assert_eq!(csv["rejects_by_rule"], parquet["rejects_by_rule"]);
    let rules: Vec<&str> =
        parquet["rejects_by_rule"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"field.date") && rules.contains(&"field.decimal"), "{rules:?}");
    assert_eq!(csv["validated"], parquet["validated"]);
}

/// A copy of the sample master data in `dir/master`.
fn master_copy(dir: &Path) -> std::path::PathBuf {
    let master = dir.join("master");
    copy_dir(&root().join("samples/master"), &master);
    master
}

/// Writes `d/headers.csv` and `d/lines.csv`: invoice, … of 2024-03-01, one per
/// (customer, currency, unit price), each with one line of one bike; the import arguments of
/// the two files.
fn invoice_files(d: &Path, invoices: &[(&str, &str, &str)]) -> [String; 2] {
    let mut headers = String::from(
        "DATAAREAID,INVOICENUMBER,INVOICEDATE,INVOICECUSTOMERACCOUNTNUMBER,CURRENCYCODE,PAYMENTTERMSNAME\n",
    );
    let mut lines = String::from(
        "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,ITEMSALESTAXGROUP\n",
    );
    for (k, (customer, currency, price)) in invoices.iter().enumerate() {
        headers += &format!("DEMF,X-{},2024-03-01,{customer},{currency},Net30\n", k + 1);
        lines += &format!("DEMF,X-{},1,BK-1001,Bike,1,{price},FULL\n", k + 1);
    }
    std::fs::write(d.join("headers.csv"), headers).unwrap();
    std::fs::write(d.join("lines.csv"), lines).unwrap();
    [
        format!("SalesInvoiceJournalHeader={}", s(&d.join("headers.csv"))),
        format!("BusinessDocumentSalesInvoiceLineItem={}", s(&d.join("lines.csv"))),
    ]
}

/// Master rows with one key are all rejected, each naming the others by line; the other
/// customers stay, and invoices of a rejected customer are rejected as for an unknown one.
#[test]
fn master_rows_sharing_a_key_are_each_rejected_naming_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let master = master_copy(d);
    let customers = master.join("Customer.csv");
    let text = std::fs::read_to_string(&customers).unwrap();
    let de002 = text.lines().find(|l| l.starts_with("DE-002,")).unwrap().to_string();
    // DE-002 on line 3, again on lines 9 and 10.
    std::fs::write(&customers, format!("{text}{de002}\n{}\n", de002.replacen("Süd", "Nord", 1))).unwrap();
    let files = invoice_files(d, &[("DE-001", "EUR", "10.00"), ("DE-002", "EUR", "10.00")]);
    let run = crate::import(&files, &master);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let customer = run.import_of("Customer.csv");
    assert_eq!((customer["read"].as_u64(), customer["rejected"].as_u64()), (Some(9), Some(3)), "{customer}");
    let rejects = run.rejects();
    let dup: Vec<(u64, &str, &str)> = rejects
        .iter()
        .filter(|r| r.file.ends_with("Customer.csv"))
        .map(|r| (r.line, r.rule.as_str(), r.message.split(" — ").next().unwrap()))
        .collect();
    assert_eq!(
        dup,
        [
            (3, "key.duplicate", "CustomerAccount DE-002 occurs again at line 9, line 10"),
            (9, "key.duplicate", "CustomerAccount DE-002 occurs again at line 3, line 10"),
            (10, "key.duplicate", "CustomerAccount DE-002 occurs again at line 3, line 9"),
        ]
    );
    let json = run.json();
    assert_eq!(json["validated"]["invoices"], 1, "{json}");
    let x2 = rejects.iter().find(|r| r.file.ends_with("headers.csv")).unwrap();
    assert_eq!((x2.line, x2.rule.as_str()), (3, "ref.customer"), "{x2:?}");
}

#[test]
fn an_exchange_rate_that_overflows_the_accounting_amounts_rejects_its_invoice_and_the_rest_posts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let master = master_copy(d);
    edit(&master.join("ExchangeRate.csv"), "GBP,EUR,2024-01-01,1.1650", "GBP,EUR,2024-01-01,100000000000000000");
    let [headers, lines] = invoice_files(d, &[("GB-001", "GBP", "10000000000000"), ("DE-001", "EUR", "10.00")]);
    let store = d.join("s.db");
    let run =
        invoiceflow(&["import", "--json", "--quiet", "--master", &s(&master), "--store", &s(&store), &headers, &lines]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["posting"]["invoices"], 1);
    assert_eq!(json["posting"]["rejected"], 1);
    let first = &json["first_rejects"][0];
    assert!(first["file"].as_str().unwrap().ends_with("headers.csv"), "{json}");
    assert_eq!((first["line"].as_u64(), first["rule"].as_str()), (Some(2), Some("amount.overflow")), "{json}");
    assert!(first["message"].as_str().unwrap().contains("accounting currency EUR"), "{first}");
}

#[test]
fn a_free_text_quantity_beyond_the_limit_is_a_reject() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in ["FreeTextInvoiceHeader.csv", "FreeTextInvoiceLine.csv"] {
        std::fs::copy(root().join("samples/d365").join(f), d.join(f)).unwrap();
    }
    edit(
        &d.join("FreeTextInvoiceLine.csv"),
        "Q1 2024\",3,120.00,360.00",
        "Q1 2024\",99999999999999999999999999,1000,360.00",
    );
    let run = crate::import(
        &[s(&d.join("FreeTextInvoiceHeader.csv")), s(&d.join("FreeTextInvoiceLine.csv"))],
        &root().join("samples/master"),
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let rejects = run.rejects();
    let r = rejects.iter().find(|r| r.rule == "amount.overflow").unwrap_or_else(|| panic!("{rejects:#?}"));
    assert_eq!((r.line, r.field.as_str()), (3, "Quantity"));
    let json = run.json();
    assert_eq!(json["validated"]["invoices"], 1, "the other free-text invoice is accepted");
}

#[test]
fn check_gives_findings_not_a_crash_for_amounts_beyond_what_a_decimal_holds() {
    let copy = sample_copy();
    let run = run_job(copy.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = copy.path().join("out/einvoices/ubl/DEMF/DEMF-INV-000102.xml");
    let text = std::fs::read_to_string(&doc).unwrap();
    let max = "79228162514264337593543950335";
    let amount = |el: &str| {
        let start = text.find(&format!("<cbc:{el} ")).unwrap_or_else(|| panic!("no {el}"));
        let open = start + text[start..].find('>').unwrap() + 1;
        let close = open + text[open..].find('<').unwrap();
        format!("{}{max}{}", &text[..open], &text[close..])
    };
    let charge = "<cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator>\
        <cbc:AllowanceChargeReason>Freight</cbc:AllowanceChargeReason>\
        <cbc:Amount currencyID=\"EUR\">79228162514264337593543950335</cbc:Amount>\
        <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>19</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>\
        </cac:AllowanceCharge><cac:TaxTotal>";
    let price_end = text.find("</cbc:PriceAmount>").unwrap() + "</cbc:PriceAmount>".len();
    let cases = [
        ("PriceAmount", amount("PriceAmount")),
        ("TaxableAmount", amount("TaxableAmount")),
        ("TaxAmount", amount("TaxAmount")),
        ("LineExtensionAmount", amount("LineExtensionAmount")),
        ("document charge", text.replacen("<cac:TaxTotal>", charge, 1)),
        (
            "BaseQuantity",
            format!(
                "{}<cbc:BaseQuantity unitCode=\"C62\">0.0000000000000000000000000001</cbc:BaseQuantity>{}",
                &text[..price_end],
                &text[price_end..]
            ),
        ),
    ];
    for (what, xml) in cases {
        let path = copy.path().join(format!("{}.xml", what.replace(' ', "_")));
        std::fs::write(&path, xml).unwrap();
        let run = invoiceflow(&["check", "--json", &s(&path)]);
        assert_eq!(run.code, 3, "{what}: {}", run.stderr);
        let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert!(!json[0]["findings"].as_array().unwrap().is_empty(), "{what}: {json}");
    }
}

#[test]
fn settings_out_of_range_are_usage_errors_not_crashes() {
    let master = s(&root().join("samples/master"));
    let headers = s(&crate::fixture("base/headers.csv"));
    for (flag, value) in [
        ("--batch-size", "9223372036854775807"),
        ("--batch-size", "4294967296"),
        ("--batch-size", "0"),
        ("--threads", "10000"),
        ("--invoices-per-batch", "9223372036854775807"),
    ] {
        let run = invoiceflow(&["import", "--dry-run", "--master", &master, flag, value, &headers]);
        assert_eq!(run.code, 2, "{flag} {value}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("`{value}` is not a whole number from 1 to")), "{}", run.stderr);
    }
    // The same settings in a job file: an error that names the key.
    let copy = sample_copy();
    let job = copy.path().join("samples/job.toml");
    edit(&job, "version = 1\n", "version = 1\nbatch_size = 9223372036854775807\n");
    let run = invoiceflow(&["run", &s(&job), "--quiet"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("batch_size = 9223372036854775807 is out of range: write a whole number from 1 to 1000000"),
        "{}",
        run.stderr
    );
    edit(&job, "batch_size = 9223372036854775807\n", "");
    edit(&job, "[posting]\n", "[posting]\ninvoices_per_batch = 4294967296\n");
    let run = invoiceflow(&["run", &s(&job), "--quiet"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("posting.invoices_per_batch = 4294967296 is out of range"), "{}", run.stderr);
}

#[test]
fn a_record_without_an_end_is_a_clear_error_naming_the_line_where_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("headers.csv");
    // A header row, one good record, then 65 MiB without a line break.
    let mut bytes = std::fs::read(crate::fixture("base/headers.csv")).unwrap();
    bytes.truncate(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).unwrap().0 + 1);
    bytes.extend_from_slice(b"DEMF,");
    bytes.resize(bytes.len() + (65 << 20), b'x');
    std::fs::write(&path, &bytes).unwrap();
    let run = crate::import(
        &[
            format!("SalesInvoiceJournalHeader={}", s(&path)),
            format!("BusinessDocumentSalesInvoiceLineItem={}", s(&crate::fixture("base/lines.csv"))),
        ],
        &root().join("samples/master"),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expected = format!("{}: line 3: the record that starts here is longer than 64 MiB", s(&path));
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
}

/// (number, voucher, document) of every invoice of a store, by number.
fn numbers(store: &Path) -> Vec<(String, String, String)> {
    let s = invoiceflow::store::Store::open(store).unwrap();
    let mut rows: Vec<(String, String, String)> = s
        .query_text("SELECT number, voucher, document FROM invoice WHERE legal_entity = 'DEMF'", &[])
        .unwrap()
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].clone().unwrap()))
        .collect();
    rows.sort();
    rows
}

#[test]
fn drawn_numbers_skip_numbers_that_source_documents_brought() {
    let copy = sample_copy();
    let d365 = copy.path().join("samples/d365");
    // The first free-text invoice brings the number the sequence would draw first; a sales
    // invoice brings the voucher the voucher sequence would draw first.
    edit(&d365.join("FreeTextInvoiceHeader.csv"), "DEMF,5637150001,,", "DEMF,5637150001,DE-FTI-000001,");
    edit(&d365.join("SalesInvoiceHeaderV2.csv"), "DEV-00001000", "DEV-00000001");
    let run = run_job(copy.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = numbers(&copy.path().join("out/invoiceflow.db"));
    let ft: Vec<&(String, String, String)> = rows.iter().filter(|r| r.2 == "free_text").collect();
    assert_eq!(ft.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["DE-FTI-000001", "DE-FTI-000002"]);
    let mut vouchers: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    vouchers.sort();
    let before = vouchers.len();
    vouchers.dedup();
    assert_eq!(vouchers.len(), before, "a voucher twice: {rows:?}");
    assert!(vouchers.contains(&"DEV-00000001") && vouchers.contains(&"DEV-00000002"), "{vouchers:?}");
}

/// In one import into an empty store, a source number that an invoice drew before (in the same
/// commit) is another document's: the store knows it without asking (its own keys), and says so.
#[test]
fn a_number_drawn_earlier_in_the_same_import_is_in_use() {
    let copy = sample_copy();
    let d365 = copy.path().join("samples/d365");
    // The first free-text invoice draws DE-FTI-000001; the second brings that number.
    edit(&d365.join("FreeTextInvoiceHeader.csv"), "DEMF,5637150002,,", "DEMF,5637150002,DE-FTI-000001,");
    let run = run_job(copy.path(), &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let rows = numbers(&copy.path().join("out/invoiceflow.db"));
    let ft: Vec<&str> = rows.iter().filter(|r| r.2 == "free_text").map(|r| r.0.as_str()).collect();
    assert_eq!(ft, ["DE-FTI-000001"]);
    let rejects = std::fs::read_to_string(copy.path().join("out/rejects/rejects.csv")).unwrap();
    let refused: Vec<&str> = rejects.lines().filter(|l| l.contains(",key.number_in_use,")).collect();
    assert_eq!(refused.len(), 1, "{rejects}");
    assert!(refused[0].contains("FreeTextInvoiceHeader.csv,3,FreeTextNumber,"), "{rejects}");
    assert!(
        refused[0].contains(
            "invoice number DE-FTI-000001, which the posted free-text invoice of record 5637150001 uses already"
        ),
        "{rejects}"
    );
}

#[test]
fn a_number_another_document_uses_is_rejected_naming_that_document() {
    let copy = sample_copy();
    let run = run_job(copy.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let store = copy.path().join("out/invoiceflow.db");
    // A free-text invoice numbered like a posted sales invoice, and one whose voucher is a
    // posted invoice's voucher.
    let d = copy.path().join("later");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("FreeTextInvoiceHeader.csv"),
        "DATAAREAID,INVOICEIDENTIFIER,FREETEXTNUMBER,CUSTOMERACCOUNT,INVOICEDATE,CURRENCYCODE,SALESTAXGROUPID\n\
         DEMF,7001,DEMF-INV-000101,DE-001,2024-04-02,EUR,DOM\n\
         DEMF,7003,,DE-001,2024-04-02,EUR,DOM\n",
    )
    .unwrap();
    std::fs::write(
        d.join("FreeTextInvoiceLine.csv"),
        "DATAAREAID,PARENTRECID,LINENUMBER,DESCRIPTION,QUANTITY,UNITPRICE,MAINACCOUNTDISPLAYVALUE,SALESTAXITEMGROUPID\n\
         DEMF,7001,1,Rent,1,100.00,401500,FULL\nDEMF,7003,1,Rent,1,100.00,401500,FULL\n",
    )
    .unwrap();
    std::fs::write(
        d.join("headers.csv"),
        "DATAAREAID,INVOICENUMBER,INVOICEDATE,INVOICECUSTOMERACCOUNTNUMBER,CURRENCYCODE,LEDGERVOUCHER\n\
         DEMF,S-7002,2024-04-02,DE-001,EUR,DEV-00001001\n",
    )
    .unwrap();
    std::fs::write(
        d.join("lines.csv"),
        "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,ITEMSALESTAXGROUP\n\
         DEMF,S-7002,1,BK-1001,Bike,1,10.00,FULL\n",
    )
    .unwrap();
    let run = invoiceflow(&[
        "import",
        "--json",
        "--quiet",
        "--master",
        &s(&copy.path().join("samples/master")),
        "--store",
        &s(&store),
        "--rejects",
        "rejects",
        &s(&d.join("FreeTextInvoiceHeader.csv")),
        &s(&d.join("FreeTextInvoiceLine.csv")),
        &format!("SalesInvoiceJournalHeader={}", s(&d.join("headers.csv"))),
        &format!("BusinessDocumentSalesInvoiceLineItem={}", s(&d.join("lines.csv"))),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["posting"]["invoices"], 1, "{json}");
    let rejects = run.rejects();
    let by_line = |file: &str, line: u64| {
        rejects.iter().find(|r| r.line == line && r.file.ends_with(file)).unwrap_or_else(|| panic!("{rejects:#?}"))
    };
    let r = by_line("later/FreeTextInvoiceHeader.csv", 2);
    assert_eq!((r.rule.as_str(), r.field.as_str()), ("key.number_in_use", "FreeTextNumber"));
    assert!(
        r.message
            .contains("invoice number DEMF-INV-000101, which the posted sales invoice DEMF-INV-000101 uses already"),
        "{}",
        r.message
    );
    let r = by_line("later/headers.csv", 2);
    assert_eq!((r.rule.as_str(), r.field.as_str()), ("key.number_in_use", "LedgerVoucher"));
    assert!(
        r.message.contains("voucher DEV-00001001, which the posted sales invoice DEMF-INV-000102 uses already"),
        "{}",
        r.message
    );
    // The store refuses a second document with a number by itself (unique indexes).
    let conn = rusqlite::Connection::open(&store).unwrap();
    let err =
        conn.execute("UPDATE invoice SET number = 'DEMF-INV-000101' WHERE number = 'DEMF-INV-000102'", []).unwrap_err();
    assert!(err.to_string().contains("UNIQUE constraint failed: invoice.legal_entity, invoice.number"), "{err}");
}

#[test]
fn a_sales_and_a_free_text_invoice_sharing_a_number_in_one_import_are_both_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("FreeTextInvoiceHeader.csv"),
        "DATAAREAID,INVOICEIDENTIFIER,FREETEXTNUMBER,CUSTOMERACCOUNT,INVOICEDATE,CURRENCYCODE,SALESTAXGROUPID\n\
         DEMF,7001,T-002,DE-001,2024-03-02,EUR,DOM\n",
    )
    .unwrap();
    std::fs::write(
        d.join("FreeTextInvoiceLine.csv"),
        "DATAAREAID,PARENTRECID,LINENUMBER,DESCRIPTION,QUANTITY,UNITPRICE,MAINACCOUNTDISPLAYVALUE,SALESTAXITEMGROUPID\n\
         DEMF,7001,1,Rent,1,100.00,401500,FULL\n",
    )
    .unwrap();
    let run = crate::import(
        &[
            format!("SalesInvoiceJournalHeader={}", s(&crate::fixture("base/headers.csv"))),
            format!("BusinessDocumentSalesInvoiceLineItem={}", s(&crate::fixture("base/lines.csv"))),
            s(&d.join("FreeTextInvoiceHeader.csv")),
            s(&d.join("FreeTextInvoiceLine.csv")),
        ],
        &root().join("samples/master"),
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let rejects = run.rejects();
    let in_use: Vec<(String, u64)> = rejects
        .iter()
        .filter(|r| r.rule == "key.number_in_use")
        .map(|r| (Path::new(&r.file).file_name().unwrap().to_string_lossy().into_owned(), r.line))
        .collect();
    assert_eq!(in_use, [("headers.csv".to_string(), 3), ("FreeTextInvoiceHeader.csv".to_string(), 2)]);
}

#[test]
fn a_store_with_duplicate_numbers_from_an_earlier_release_says_which_numbers() {
    let copy = sample_copy();
    let store = earlier_store(copy.path());
    {
        // Back to schema 1, with a duplicate number such as earlier releases could write.
        let conn = rusqlite::Connection::open(&store).unwrap();
        conn.execute_batch(
            "DROP INDEX invoice_number_unique; DROP INDEX invoice_voucher_unique; PRAGMA user_version = 1;
             UPDATE invoice SET number = 'DEMF-INV-000101' WHERE number = 'DEMF-INV-000102';",
        )
        .unwrap();
    }
    let run = invoiceflow(&[
        "export",
        "--store",
        &s(&store),
        "--entity",
        "CustomerTransaction",
        "--format",
        "csv",
        "--out",
        "x",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("(DEMF number DEMF-INV-000101 ×2)"), "{}", run.stderr);
    assert!(run.stderr.contains("used by more than one document"), "{}", run.stderr);
}

#[test]
fn einvoice_file_names_are_unique_across_legal_entities_and_cleaned_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("headers.csv"),
        "DATAAREAID,INVOICENUMBER,INVOICEDATE,INVOICECUSTOMERACCOUNTNUMBER,CURRENCYCODE\n\
         DEMF,1001,2024-03-01,DE-001,EUR\nUSMF,1001,2024-03-01,US-001,USD\n\
         DEMF,R/2024 01,2024-03-01,DE-001,EUR\nDEMF,R_2024_01,2024-03-01,DE-002,EUR\n",
    )
    .unwrap();
    std::fs::write(
        d.join("lines.csv"),
        "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,TAXNAME\n\
         DEMF,1001,1,BK-1001,Bike,1,10.00,VAT19\nUSMF,1001,1,BK-1001,Bike,1,10.00,TXSALES\n\
         DEMF,R/2024 01,1,BK-1001,Bike,1,20.00,VAT19\nDEMF,R_2024_01,1,BK-1001,Bike,1,30.00,VAT19\n",
    )
    .unwrap();
    let store = d.join("s.db");
    let run = invoiceflow(&[
        "import",
        "--quiet",
        "--master",
        &s(&root().join("samples/master")),
        "--store",
        &s(&store),
        &format!("SalesInvoiceJournalHeader={}", s(&d.join("headers.csv"))),
        &format!("BusinessDocumentSalesInvoiceLineItem={}", s(&d.join("lines.csv"))),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = d.join("ubl");
    for attempt in 0..2 {
        let run = invoiceflow(&["einvoice", "--json", "--store", &s(&store), "--syntax", "ubl", "--out", &s(&out)]);
        assert_eq!(run.code, 0, "attempt {attempt}: {}", run.stderr);
        assert_eq!(run.json()["einvoices"][0]["documents"], 4);
    }
    let mut files: Vec<String> = Vec::new();
    for le in ["DEMF", "USMF"] {
        for e in std::fs::read_dir(out.join(le)).unwrap() {
            files.push(format!("{le}/{}", e.unwrap().file_name().to_string_lossy()));
        }
    }
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    assert_eq!(files[0], "DEMF/1001.xml");
    assert_eq!(files[1], "DEMF/R_2024_01.xml");
    assert!(files[2].starts_with("DEMF/R_2024_01~") && files[2].ends_with(".xml"), "{files:?}");
    assert_eq!(files[3], "USMF/1001.xml");
    // Each file holds its own document.
    let number_of = |f: &str| {
        let (doc, _) = invoiceflow::einvoice::read::read(&std::fs::read(out.join(f)).unwrap()).unwrap();
        (doc.number.unwrap(), doc.currency.unwrap())
    };
    assert_eq!(number_of(&files[1]), ("R_2024_01".to_string(), "EUR".to_string()));
    assert_eq!(number_of(&files[2]), ("R/2024 01".to_string(), "EUR".to_string()));
    assert_eq!(number_of(&files[3]), ("1001".to_string(), "USD".to_string()));
}

#[test]
fn a_refused_einvoice_stays_pending_until_written_or_skipped() {
    let copy = sample_copy();
    let customers = copy.path().join("samples/master/Customer.csv");
    let original = std::fs::read_to_string(&customers).unwrap();
    // DE-001 without a country: its four documents are refused (BR-11).
    edit(&customers, "80331,DE,", "80331,,");
    let first = run_job(copy.path(), &[]);
    assert_eq!(first.code, 3, "{}", first.stderr);
    let refused = |run: &crate::Run| -> Vec<(String, bool)> {
        run.json()["einvoices"][0]["refused"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["number"].as_str().unwrap().to_string(), r["pending_before"].as_bool().unwrap()))
            .collect()
    };
    assert_eq!(refused(&first).len(), 4);
    assert!(refused(&first).iter().all(|(_, before)| !before));
    let written = first.json()["einvoices"][0]["documents"].as_u64().unwrap();
    assert!(written > 0);
    // A dry run of another job finds the same documents and the same four refusals, writes
    // nothing and records nothing: the real run after it still has everything to do.
    let store = s(&copy.path().join("out/invoiceflow.db"));
    let preview = copy.path().join("preview");
    for dry in [true, false] {
        let mut args = vec!["einvoice", "--json", "--store", &store, "--syntax", "ubl", "--job", "preview"];
        let out = s(&preview);
        if dry {
            args.push("--dry-run");
        } else {
            args.extend(["--out", &out]);
        }
        let run = invoiceflow(&args);
        assert_eq!(run.code, 3, "{}", run.stderr);
        let e = &run.json()["einvoices"][0];
        assert_eq!((e["documents"].as_u64(), e["dry_run"].as_bool()), (Some(written), Some(dry)), "{e}");
        assert_eq!(refused(&run).len(), 4);
        assert!(refused(&run).iter().all(|(_, before)| !before), "the dry run made them pending");
        assert_eq!(preview.exists(), !dry);
    }
    // The next run has nothing new, yet reports the four again: they did not get lost.
    let second = run_job(copy.path(), &[]);
    assert_eq!(second.code, 3, "{}", second.stderr);
    assert_eq!(second.json()["status"], "partial");
    let again = refused(&second);
    assert_eq!(again.len(), 4, "{again:?}");
    assert!(again.iter().all(|(_, before)| *before));
    // One is skipped by someone, with a reason.
    let skip = invoiceflow(&[
        "skip-einvoice",
        "--store",
        &store,
        "--job",
        "edi",
        "--syntax",
        "ubl",
        "--by",
        "jane",
        "--reason",
        "sent on paper",
        "R2019-00451",
    ]);
    assert_eq!(skip.code, 0, "{}", skip.stderr);
    // A number that is not pending skips nothing, not even the pending one named with it (the
    // legal entity of each is the one it is pending in: no default is assumed).
    let (id, s) = ("edi", store.as_str());
    let args =
        ["skip-einvoice", "--store", s, "--job", id, "--syntax", "ubl", "--reason", "x", "DEMF-INV-000101", "NOPE-1"];
    let none = invoiceflow(&args);
    assert_eq!(none.code, 1, "{}", none.stderr);
    assert!(
        none.stderr.contains("job edi has no pending einvoice-ubl document NOPE-1 (`--list` shows the pending ones); nothing was skipped"),
        "{}",
        none.stderr
    );
    let list =
        invoiceflow(&["skip-einvoice", "--store", &store, "--job", "edi", "--syntax", "ubl", "--list", "--json"]);
    let entries: serde_json::Value = serde_json::from_str(list.stdout.trim()).unwrap();
    let skipped: Vec<&serde_json::Value> =
        entries.as_array().unwrap().iter().filter(|e| !e["skipped_by"].is_null()).collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!((skipped[0]["number"].as_str(), skipped[0]["skipped_by"].as_str()), (Some("R2019-00451"), Some("jane")));
    assert_eq!(skipped[0]["skip_reason"], "sent on paper");
    // The master data is corrected: the other three are written with the corrected buyer.
    std::fs::write(&customers, original).unwrap();
    let third = run_job(copy.path(), &[]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    let e = &third.json()["einvoices"][0];
    assert_eq!((e["pending_written"].as_u64(), e["refused"].as_array().unwrap().len()), (Some(3), 0));
    let doc = copy.path().join("out/einvoices/ubl/DEMF/DEMF-INV-000101.xml");
    let (doc, _) = invoiceflow::einvoice::read::read(&std::fs::read(doc).unwrap()).unwrap();
    assert_eq!(doc.buyer.country.as_deref(), Some("DE"));
    assert!(!copy.path().join("out/einvoices/ubl/DEMF/R2019-00451.xml").exists());
    let fourth = run_job(copy.path(), &[]);
    assert_eq!(fourth.code, 0, "{}", fourth.stderr);
    assert_eq!(fourth.json()["einvoices"][0]["pending_written"], 0);
}

/// Exports of job `dw` (the line entity, CSV) and e-invoices of job `edi`; returns the rows
/// exported and the documents written.
fn outputs(store: &Path, out: &Path) -> (u64, u64) {
    let export = invoiceflow(&[
        "export",
        "--json",
        "--store",
        &s(store),
        "--entity",
        "BusinessDocumentSalesInvoiceLineItem",
        "--format",
        "csv",
        "--out",
        &s(&out.join("dw")),
        "--job",
        "dw",
    ]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let einvoice = invoiceflow(&[
        "einvoice",
        "--json",
        "--store",
        &s(store),
        "--syntax",
        "ubl",
        "--out",
        &s(&out.join("ubl")),
        "--job",
        "edi",
    ]);
    assert_eq!(einvoice.code, 0, "{}", einvoice.stderr);
    (
        export.json()["exports"][0]["rows"].as_u64().unwrap(),
        einvoice.json()["einvoices"][0]["documents"].as_u64().unwrap(),
    )
}

#[test]
fn exports_and_einvoices_run_to_completion_while_an_import_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    invoiceflow::generate::generate(&invoiceflow::generate::GenerateRequest {
        invoices: 3000,
        seed: 9,
        out: d.join("g"),
        defect_rate: 0.0,
        customers: 200,
        first: 1,
        parquet: false,
        unsorted: false,
        all_categories: false,
    })
    .unwrap();
    let store = d.join("s.db");
    // Many small transactions, each held open for 40 ms: the import writes for a while.
    let mut import = std::process::Command::new(env!("CARGO_BIN_EXE_invoiceflow"))
        .env("INVOICEFLOW_TEST_SLOW_COMMIT_MS", "40")
        .args([
            "import",
            "--quiet",
            "--invoices-per-batch",
            "20",
            "--master",
            &s(&d.join("g/master")),
            "--store",
            &s(&store),
            &s(&d.join("g/SalesInvoiceHeaderV2.csv")),
            &s(&d.join("g/BusinessDocumentSalesInvoiceLineItem.csv")),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first committed batch.
    let version = |store: &Path| -> i64 {
        let Ok(conn) = rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
            return 0;
        };
        conn.query_row("SELECT value FROM meta WHERE key = 'change_version'", [], |r| r.get::<_, String>(0))
            .map(|v| v.parse().unwrap_or(0))
            .unwrap_or(0)
    };
    let started = std::time::Instant::now();
    while version(&store) == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the import never committed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (rows_during, docs_during) = outputs(&store, d);
    let overlapped = import.try_wait().unwrap().is_none();
    assert!(import.wait().unwrap().success());
    assert!(overlapped, "the import finished before the outputs ran; the test proves nothing");
    assert!(docs_during > 0 && docs_during < 3000, "{docs_during}");
    // The next runs take the rest: every line and document exactly once.
    let (rows_after, docs_after) = outputs(&store, d);
    let lines: u64 =
        std::fs::read_to_string(d.join("g/BusinessDocumentSalesInvoiceLineItem.csv")).unwrap().lines().count() as u64
            - 1;
    assert_eq!(rows_during + rows_after, lines);
    assert_eq!(docs_during + docs_after, 3000);
}

#[test]
fn a_folder_or_a_device_given_as_an_import_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let master = s(&root().join("samples/master"));
    for (file, says) in [
        (s(dir.path()), "is a folder, not a file"),
        ("/dev/null".to_string(), "is a device, not a file"),
        (s(&dir.path().join("missing.csv")), "no such file"),
    ] {
        let run =
            invoiceflow(&["import", "--dry-run", "--master", &master, &format!("SalesInvoiceJournalHeader={file}")]);
        assert_eq!(run.code, 1, "{file}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("{file}: {says}")), "{}", run.stderr);
    }
}

#[test]
fn a_store_of_an_earlier_schema_keeps_its_export_watermarks() {
    let copy = sample_copy();
    let store = earlier_store(copy.path());
    {
        // Back to schema 2: the watermarks in the store itself, no jobs database.
        let conn = rusqlite::Connection::open(&store).unwrap();
        conn.execute_batch(&format!(
            "ATTACH DATABASE '{}' AS jobs;
             CREATE TABLE export_watermark (job TEXT NOT NULL, entity TEXT NOT NULL, version INTEGER NOT NULL,
                 pending_to INTEGER, PRIMARY KEY (job, entity));
             INSERT INTO main.export_watermark SELECT job, entity, version, pending_to FROM jobs.export_watermark;
             DETACH DATABASE jobs; PRAGMA user_version = 2;",
            s(&invoiceflow::store::jobs_path(&store))
        ))
        .unwrap();
    }
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", s(&invoiceflow::store::jobs_path(&store))));
    }
    // The job's next run finds nothing new: its watermark survived the move.
    let again = run_job(copy.path(), &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let json = again.json();
    assert!(json["exports"].as_array().unwrap().iter().all(|e| e["rows"] == 0), "{json}");
    assert_eq!(json["einvoices"][0]["documents"], 0);
    let conn = rusqlite::Connection::open(&store).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 5);
}

/// The sample job's store as the release before invoice bodies wrote it (schema 3, with its
/// jobs database), placed where the sample job keeps its store; its path.
fn earlier_store(copy: &Path) -> PathBuf {
    let out = copy.join("out");
    std::fs::create_dir_all(&out).unwrap();
    for f in ["invoiceflow.db", "invoiceflow.db.jobs"] {
        std::fs::copy(root().join("tests/fixtures/store-v3").join(f), out.join(f)).unwrap();
    }
    out.join("invoiceflow.db")
}

#[test]
fn a_store_written_before_invoice_bodies_migrates_to_the_same_content() {
    let copy = sample_copy();
    let store = earlier_store(copy.path());
    let conn = rusqlite::Connection::open(&store).unwrap();
    let rows = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!((rows("SELECT count(*) FROM invoice_line"), rows("SELECT count(*) FROM ledger_entry")), (29, 60));
    drop(conn);
    // Migrated on first open: the same business content as a store this release writes.
    let migrated = invoiceflow::store::Store::open(&store).unwrap();
    let fresh_copy = sample_copy();
    assert_eq!(run_job(fresh_copy.path(), &[]).code, 0);
    let fresh = invoiceflow::store::Store::open(&fresh_copy.path().join("out/invoiceflow.db")).unwrap();
    let (a, b) =
        (migrated.dump(invoiceflow::entity::field_name).unwrap(), fresh.dump(invoiceflow::entity::field_name).unwrap());
    assert_eq!(a.lines().filter(|l| !l.starts_with("##")).count(), b.lines().filter(|l| !l.starts_with("##")).count());
    assert_eq!(a, b);
    // The row tables are gone; the bodies lay out as they did.
    migrated.expand_bodies(invoiceflow::entity::field_name).unwrap();
    let count = |sql: &str| migrated.query_text(sql, &[]).unwrap()[0][0].clone().unwrap();
    assert_eq!(count("SELECT count(*) FROM ledger_entry"), "60");
    assert_eq!(count("SELECT count(*) FROM invoice_line"), "29");
    let conn = rusqlite::Connection::open(&store).unwrap();
    assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), 5);
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('invoice_line', 'invoice_tax', 'ledger_entry')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
    drop((migrated, fresh, conn));
    // The job's next run on the migrated store finds everything unchanged and exported.
    let again = run_job(copy.path(), &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let json = again.json();
    assert!(json["exports"].as_array().unwrap().iter().all(|e| e["rows"] == 0), "{json}");
    assert_eq!(json["einvoices"][0]["documents"], 0);
}

#[test]
fn a_credit_notes_original_invoice_must_be_known_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, original: &str, number: &str| {
        std::fs::write(
            d.join(format!("{name}_h.csv")),
            format!(
                "DATAAREAID,INVOICENUMBER,INVOICEDATE,INVOICECUSTOMERACCOUNTNUMBER,CURRENCYCODE,ORIGINALINVOICENUMBER\n\
                 DEMF,{number},2024-03-05,DE-001,EUR,{original}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            d.join(format!("{name}_l.csv")),
            format!(
                "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,TAXNAME\n\
                 DEMF,{number},1,BK-1001,Bike,-1,10.00,VAT19\n"
            ),
        )
        .unwrap();
    };
    let store = d.join("s.db");
    let import = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "import".to_string(),
            "--json".into(),
            "--quiet".into(),
            "--master".into(),
            s(&root().join("samples/master")),
            "--store".into(),
            s(&store),
            format!("SalesInvoiceJournalHeader={}", s(&d.join(format!("{name}_h.csv")))),
            format!("BusinessDocumentSalesInvoiceLineItem={}", s(&d.join(format!("{name}_l.csv")))),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        invoiceflow(&refs)
    };
    // An original nobody knows: rejected, also pro forma.
    write("unknown", "NOSUCH-INV", "CN-1");
    for extra in [&["--pro-forma"][..], &[][..]] {
        let run = import("unknown", extra);
        assert_eq!(run.code, 3, "{extra:?}: {}", run.stderr);
        let json = run.json();
        let first = &json["first_rejects"][0];
        assert_eq!(
            (first["rule"].as_str(), first["field"].as_str()),
            (Some("ref.original_invoice"), Some("OriginalInvoiceNumber"))
        );
        assert!(
            first["message"].as_str().unwrap().contains("original invoice NOSUCH-INV of legal entity DEMF"),
            "{first}"
        );
    }
    // Allowed for a migration that starts mid-history: posted and counted.
    let run = import("unknown", &["--originals-outside-store"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["posting"]["originals_outside_store"], 1);
    assert_eq!(run.json()["posting"]["credit_notes"], 1);
    // An original posted earlier in the store is found.
    let base = invoiceflow(&[
        "import",
        "--quiet",
        "--master",
        &s(&root().join("samples/master")),
        "--store",
        &s(&store),
        &format!("SalesInvoiceJournalHeader={}", s(&crate::fixture("base/headers.csv"))),
        &format!("BusinessDocumentSalesInvoiceLineItem={}", s(&crate::fixture("base/lines.csv"))),
    ]);
    assert_eq!(base.code, 0, "{}", base.stderr);
    write("known", "T-001", "CN-2");
    let run = import("known", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["posting"]["originals_outside_store"], 0);
}

const INVOICE_ENTITIES: [&str; 6] = [
    "SalesInvoiceJournalHeader",
    "SalesInvoiceHeaderV2",
    "BusinessDocumentSalesInvoiceLineItem",
    "SalesInvoiceLineV3",
    "FreeTextInvoiceHeader",
    "FreeTextInvoiceLine",
];

/// What a store holds, by document: invoices with their totals, ledger entries and open items,
/// without row ids and change versions (which depend on the order of the import).
fn business_content(store: &Path) -> Vec<String> {
    let s = invoiceflow::store::Store::open(store).unwrap();
    s.expand_bodies(invoiceflow::entity::field_name).unwrap();
    let mut out = Vec::new();
    for (what, sql) in [
        (
            "invoice",
            "SELECT legal_entity, number, document, kind, invoice_date, due_date, customer, currency, voucher,
                    line_total, allowance_total, charge_total, tax_exclusive, vat_total, tax_inclusive, payable,
                    vat_total_acc, original_invoice, record_id
             FROM invoice",
        ),
        (
            "line",
            "SELECT i.number, l.position, l.line_number, l.quantity, l.unit_price, l.net_amount, l.tax_code, l.tax_amount,
                    l.item_id, l.main_account, l.description
             FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id",
        ),
        (
            "ledger",
            "SELECT e.voucher, e.position, e.account, e.posting_type, e.amount, e.amount_acc, e.is_credit, e.tax_code
             FROM ledger_entry e",
        ),
        ("open item", "SELECT customer, invoice_number, voucher, due_date, amount, amount_acc FROM customer_trans"),
    ] {
        for r in s.query_text(sql, &[]).unwrap() {
            let cells: Vec<String> = r.into_iter().map(|c| c.unwrap_or_else(|| "∅".into())).collect();
            out.push(format!("{what}: {}", cells.join("|")));
        }
    }
    out.sort();
    out
}

#[test]
fn every_export_of_a_store_imports_back_to_the_same_documents() {
    // All six entities (each sales document through both of its views), and each set of one
    // header and one line entity per document kind.
    round_trip(&INVOICE_ENTITIES);
    round_trip(&[INVOICE_ENTITIES[0], INVOICE_ENTITIES[2], INVOICE_ENTITIES[4], INVOICE_ENTITIES[5]]);
    round_trip(&[INVOICE_ENTITIES[1], INVOICE_ENTITIES[3], INVOICE_ENTITIES[4], INVOICE_ENTITIES[5]]);
}

fn round_trip(entities: &[&str]) {
    let copy = sample_copy();
    assert_eq!(run_job(copy.path(), &[]).code, 0);
    let source = copy.path().join("out/invoiceflow.db");
    let exports = copy.path().join("exports");
    let mut files = Vec::new();
    for &entity in entities {
        let run = invoiceflow(&[
            "export",
            "--json",
            "--store",
            &s(&source),
            "--entity",
            entity,
            "--format",
            "csv",
            "--out",
            &s(&exports),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let file = run.json()["exports"][0]["files"][0].as_str().unwrap().to_string();
        files.push(format!("{entity}={file}"));
    }
    let import = |store: &Path| {
        let mut args = vec![
            "import".to_string(),
            "--json".into(),
            "--quiet".into(),
            "--master".into(),
            s(&copy.path().join("samples/master")),
            "--store".into(),
            s(store),
        ];
        args.extend(files.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        invoiceflow(&refs)
    };
    // Into a fresh store: the same 14 documents, totals, ledger and open items.
    let fresh = copy.path().join("fresh.db");
    let run = import(&fresh);
    assert_eq!(run.code, 0, "{entities:?}: {}", run.stderr);
    let json = run.json();
    assert_eq!((json["posting"]["invoices"].as_u64(), json["posting"]["credit_notes"].as_u64()), (Some(13), Some(1)));
    crate::assert_nothing_lost(&json);
    let (a, b) = (business_content(&source), business_content(&fresh));
    let only_a: Vec<&String> = a.iter().filter(|r| !b.contains(r)).collect();
    let only_b: Vec<&String> = b.iter().filter(|r| !a.contains(r)).collect();
    assert!(only_a.is_empty() && only_b.is_empty(), "{entities:?}: source only: {only_a:#?}\nfresh only: {only_b:#?}");
    // Into the source store: every row unchanged.
    let run = import(&source);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["posting"]["unchanged"], 14, "{json}");
    for i in json["imports"].as_array().unwrap() {
        assert_eq!(i["unchanged"], i["read"], "{i}");
    }
}

#[test]
fn the_same_invoice_through_two_views_counts_once_and_different_copies_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = std::fs::read_to_string(crate::fixture("base/headers.csv")).unwrap();
    std::fs::write(d.join("v2.csv"), &base).unwrap();
    // The same three invoices as SalesInvoiceHeaderV2; T-002's customer differs.
    std::fs::write(d.join("jh.csv"), base.replacen("DEMF,T-002,2024-03-02,DE-002", "DEMF,T-002,2024-03-02,DE-001", 1))
        .unwrap();
    let run = crate::import(
        &[
            format!("SalesInvoiceHeaderV2={}", s(&d.join("v2.csv"))),
            format!("SalesInvoiceJournalHeader={}", s(&d.join("jh.csv"))),
            format!("BusinessDocumentSalesInvoiceLineItem={}", s(&crate::fixture("base/lines.csv"))),
        ],
        &root().join("samples/master"),
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    crate::assert_nothing_lost(&json);
    let (v2, jh) = (run.import_of("v2.csv"), run.import_of("jh.csv"));
    assert_eq!((v2["accepted"].as_u64(), v2["rejected"].as_u64()), (Some(2), Some(1)));
    assert_eq!((jh["unchanged"].as_u64(), jh["rejected"].as_u64()), (Some(2), Some(1)));
    let rejects = run.rejects();
    let dup = rejects.iter().find(|r| r.file.ends_with("jh.csv")).unwrap();
    assert_eq!(dup.rule, "key.duplicate");
    assert!(
        dup.message.contains(
            "it arrives through SalesInvoiceHeaderV2 and SalesInvoiceJournalHeader with different content: customer"
        ),
        "{}",
        dup.message
    );
}

#[test]
fn rust_log_shows_every_stage_with_counts_and_no_colour_off_a_terminal() {
    let copy = sample_copy();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_invoiceflow"))
        .args(["run", &s(&copy.path().join("samples/job.toml")), "--quiet"])
        .env_remove("INVOICEFLOW_LOG")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains('\u{1b}'), "ANSI escapes on a pipe:\n{stderr}");
    for stage in ["read", "validate", "post", "export", "e-invoices"] {
        assert!(stderr.contains(&format!("Stage finished. stage=\"{stage}\"")), "no end of stage {stage}:\n{stderr}");
    }
    assert!(stderr.contains("stage=\"post\"") && stderr.contains("count=14 items=\"invoices\""), "{stderr}");
    // INVOICEFLOW_LOG wins over RUST_LOG.
    let quiet = std::process::Command::new(env!("CARGO_BIN_EXE_invoiceflow"))
        .args(["run", &s(&copy.path().join("samples/job.toml")), "--quiet"])
        .env("INVOICEFLOW_LOG", "error")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("Stage finished"));
}

#[test]
fn a_typo_inside_a_column_rule_names_its_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("mappings/legacy-de.toml")).unwrap();
    let broken = text.replacen("CurrencyCode = { column = ", "CurrencyCode = { colum = ", 1);
    assert_ne!(text, broken);
    let mapping = dir.path().join("m.toml");
    std::fs::write(&mapping, broken).unwrap();
    let run = invoiceflow(&[
        "import",
        "--dry-run",
        "--master",
        &s(&root().join("samples/master")),
        "--mapping",
        &s(&mapping),
        &s(&root().join("samples/legacy-de/Rechnungskopf.csv")),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "entity.SalesInvoiceJournalHeader.columns.CurrencyCode: unknown field `colum`, expected one of `column`"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("untagged enum"), "{}", run.stderr);
}

#[test]
fn a_windows_1252_file_with_month_names_and_times_reads_with_encoding_and_a_source_only_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A Windows-1252 header file: "Bäckerei" in the order reference, dates like 05-Mär-2024 14:30.
    let mut headers: Vec<u8> =
        b"DATAAREAID,INVOICENUMBER,INVOICEDATE,INVOICECUSTOMERACCOUNTNUMBER,CURRENCYCODE,CUSTOMERSORDERREFERENCE\n"
            .to_vec();
    headers.extend_from_slice(b"DEMF,T-001,05-M\xe4r-2024 14:30,DE-001,EUR,B\xe4ckerei 1\n");
    headers.extend_from_slice(b"DEMF,T-002,06-Mar-2024 09:05,DE-002,EUR,Lieferung 2\n");
    std::fs::write(d.join("headers.csv"), &headers).unwrap();
    std::fs::write(
        d.join("lines.csv"),
        "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,TAXNAME\n\
         DEMF,T-001,1,BK-1001,Bike,1,10.00,VAT19\nDEMF,T-002,1,BK-1001,Bike,1,10.00,VAT19\n",
    )
    .unwrap();
    // A mapping with only [source]: the columns match the fields by name.
    std::fs::write(
        d.join("m.toml"),
        "version = 1\nname = \"dates\"\n\n[source]\ndate_format = \"dd-MMM-yyyy HH:mm\"\n",
    )
    .unwrap();
    let run = invoiceflow(&[
        "import",
        "--dry-run",
        "--json",
        "--quiet",
        "--encoding",
        "windows-1252",
        "--master",
        &s(&root().join("samples/master")),
        "--mapping",
        &s(&d.join("m.toml")),
        &format!("SalesInvoiceJournalHeader={}", s(&d.join("headers.csv"))),
        &format!("BusinessDocumentSalesInvoiceLineItem={}", s(&d.join("lines.csv"))),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["validated"]["invoices"], 2);
    assert_eq!(run.import_of("headers.csv")["encoding"], "Windows-1252");
    // The summary table shows the unchanged column, so that the columns add up on screen.
    assert!(
        run.stderr.lines().next().unwrap().trim_end().ends_with("read  accepted  rejected unchanged"),
        "{}",
        run.stderr
    );
}

#[test]
fn pro_forma_writes_the_computed_invoices_and_touches_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pf");
    let store = dir.path().join("s.db");
    let d365 = root().join("samples/d365");
    let run = invoiceflow(&[
        "import",
        "--json",
        "--quiet",
        "--pro-forma",
        "--pro-forma-out",
        &s(&out),
        "--pro-forma-syntax",
        "ubl",
        "--store",
        &s(&store),
        "--master",
        &s(&root().join("samples/master")),
        &s(&d365.join("SalesInvoiceHeaderV2.csv")),
        &s(&d365.join("Customer invoice lines.csv")),
        &s(&d365.join("FreeTextInvoiceHeader.csv")),
        &s(&d365.join("FreeTextInvoiceLine.csv")),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!store.exists(), "pro forma created the store");
    let report = &run.json()["posting"]["pro_forma_report"];
    assert_eq!((report["documents"].as_u64(), report["einvoices"].as_u64()), (Some(8), Some(8)));
    let docs: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("pro-forma.json")).unwrap()).unwrap();
    let first = &docs[0];
    assert_eq!(first["number"], "DEMF-INV-000101");
    assert_eq!((first["tax_inclusive"].as_str(), first["vat_total"].as_str()), (Some("1425.27"), Some("221.97")));
    assert_eq!(first["vat"].as_array().unwrap().len(), 2);
    assert_eq!(first["lines"][0]["net_amount"], "1098.00");
    // A free-text invoice without a number gets a provisional one.
    assert!(docs
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["provisional_number"] == "PROFORMA-5637150002" && d["number"].is_null()));
    let csv = std::fs::read_to_string(out.join("pro-forma-invoices.csv")).unwrap();
    assert_eq!(csv.lines().count(), 9);
    assert!(csv.lines().nth(1).unwrap().starts_with("DEMF,DEMF-INV-000101,invoice,DE-001,EUR,2024-03-04,"));
    assert_eq!(std::fs::read_to_string(out.join("pro-forma-lines.csv")).unwrap().lines().count(), 19);
    // The e-invoices carry the pro forma type code and pass the checks.
    let xml = std::fs::read_to_string(out.join("ubl/DEMF/DEMF-INV-000101.xml")).unwrap();
    assert!(xml.contains("<cbc:InvoiceTypeCode>325</cbc:InvoiceTypeCode>"), "{xml}");
    // Not for PEPPOL (its profile has no pro forma code): plain EN 16931.
    assert!(xml.contains("<cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>"), "{xml}");
    assert!(!xml.contains("<cbc:ProfileID>"), "{xml}");
    let check = invoiceflow(&["check", &s(&out.join("ubl"))]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(check.stderr.contains("8 passed, 0 failed"), "{}", check.stderr);
}

/// Rejects beyond what memory holds are written to temporary files and read back in order: a
/// run that writes out every reject (`INVOICEFLOW_REJECTS_BYTES=1`) gives the same rejects
/// files and summary as one that holds them all, for rejects of validation and of posting.
#[test]
fn rejects_written_out_to_temporary_files_give_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    let run = invoiceflow(&[
        "generate",
        "--invoices",
        "150",
        "--seed",
        "7",
        "--defect-rate",
        "0.3",
        "--customers",
        "40",
        "--out",
        &s(&out),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // No USD rate: every USD invoice is rejected when posting, with its lines.
    let rates = out.join("master/ExchangeRate.csv");
    let kept: String = std::fs::read_to_string(&rates)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("USD"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&rates, kept).unwrap();
    let import = |env: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = ["import", "--pro-forma", "--json", "--quiet", "--rejects", "rejects", "--master"]
            .map(String::from)
            .to_vec();
        args.push(s(&out.join("master")));
        for f in ["SalesInvoiceHeaderV2", "BusinessDocumentSalesInvoiceLineItem"] {
            args.push(s(&out.join(format!("{f}.csv"))));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = crate::invoiceflow_env(dir, &refs, env);
        assert_eq!(run.code, 3, "{}", run.stderr);
        let mut json = run.json();
        json["duration_ms"] = 0.into();
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(run.dir.path().join("rejects"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        (json, files)
    };
    let (held, held_files) = import(&[]);
    let (written, written_files) = import(&[("INVOICEFLOW_REJECTS_BYTES", "1")]);
    let rules: Vec<&str> =
        held["rejects_by_rule"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"ref.exchange_rate") && rules.contains(&"field.decimal"), "{rules:?}");
    assert_eq!(held_files.len(), 3);
    assert_eq!(held, written);
    assert_eq!(held_files, written_files);
}

/// Imports of the generated lines not in header order (2,000 invoices, 20,544 lines) in
/// partitions of 20,000 bytes — 273 of them and one for the lines without a header position,
/// written at once — with the open-files limit set by `ulimit` first (`soft`, then `hard`).
fn import_in_partitions_under(soft: u32, hard: u32, d: &Path) -> std::process::Output {
    let script = format!("ulimit -S -n {soft} && ulimit -H -n {hard} && exec \"$0\" \"$@\"");
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_invoiceflow"))
        .args(["import", "--quiet", "--json", "--dry-run", "--master", &s(&d.join("g/master"))])
        .args([s(&d.join("g/SalesInvoiceHeaderV2.csv")), s(&d.join("g/BusinessDocumentSalesInvoiceLineItem.csv"))])
        .env("INVOICEFLOW_PARTITION_BYTES", "20000")
        .output()
        .unwrap()
}

/// Lines not in header order are written to partitions all open at once: more of them than the
/// soft limit on open files (1,024 on many systems: 16 GiB of lines) failed with "Too many open
/// files" halfway through. The limit is raised up to the hard limit; beyond the hard limit the
/// import stops before anything is written and says what to change.
#[test]
fn lines_in_more_partitions_than_the_open_files_limit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    invoiceflow::generate::generate(&invoiceflow::generate::GenerateRequest {
        invoices: 2000,
        seed: 2,
        out: d.join("g"),
        defect_rate: 0.0,
        customers: 200,
        first: 1,
        parquet: false,
        unsorted: true,
        all_categories: false,
    })
    .unwrap();

    let raised = import_in_partitions_under(64, 4096, d);
    assert_eq!(raised.status.code(), Some(0), "{}", String::from_utf8_lossy(&raised.stderr));
    let json: serde_json::Value = serde_json::from_slice(&raised.stdout).unwrap();
    assert_eq!(json["imports"][1]["read"], 20544);
    assert_eq!(json["imports"][1]["accepted"], 20544);

    let stopped = import_in_partitions_under(100, 100, d);
    let err = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "the lines not in header order need 274 temporary partitions written at once, but this process \
             may open only 100 files — raise the limit (`ulimit -n 338`) or the size of a partition \
             (INVOICEFLOW_PARTITION_BYTES, now 20000 bytes)"
        ),
        "{err}"
    );
}
