//! One defect per fixture file: each test imports the fixture with the valid counterpart
//! (headers or lines from tests/fixtures/base) and asserts the exact rule, line and field of
//! the reject, and how many rows of each file went with it (an invoice is a unit).

use std::fs;
use std::path::Path;

use crate::{assert_nothing_lost, fixture, import, root};

#[derive(Clone, Copy)]
enum Slot {
    Headers,
    Lines,
    Customer,
}

struct Case {
    fixture: &'static str,
    slot: Slot,
    line: u64,
    field: &'static str,
    rule: &'static str,
    headers_rejected: u64,
    lines_rejected: u64,
}

fn check(c: Case) {
    let defect = fixture(&format!("defects/{}", c.fixture));
    let headers = match c.slot {
        Slot::Headers => defect.clone(),
        _ => fixture("base/headers.csv"),
    };
    let lines = match c.slot {
        Slot::Lines => defect.clone(),
        _ => fixture("base/lines.csv"),
    };
    let master_tmp = tempfile::tempdir().unwrap();
    let master = match c.slot {
        Slot::Customer => {
            let master = crate::sample_master_copy(master_tmp.path());
            fs::copy(&defect, master.join("Customer.csv")).unwrap();
            master
        }
        _ => root().join("samples/master"),
    };
    let run = import(
        &[
            format!("SalesInvoiceJournalHeader={}", headers.display()),
            format!("BusinessDocumentSalesInvoiceLineItem={}", lines.display()),
        ],
        &master,
    );
    assert_eq!(run.code, 3, "exit code; stderr:\n{}", run.stderr);
    let json = run.json();
    assert_eq!(json["status"], "partial");
    assert_nothing_lost(&json);
    let defect_name = match c.slot {
        Slot::Customer => "Customer.csv",
        _ => c.fixture,
    };
    let rejects = run.rejects();
    let hit = rejects.iter().find(|r| {
        Path::new(&r.file).file_name().and_then(|n| n.to_str()) == Some(defect_name)
            && r.line == c.line
            && r.rule == c.rule
    });
    let hit = hit
        .unwrap_or_else(|| panic!("no {} reject at line {} of {defect_name}; rejects:\n{rejects:#?}", c.rule, c.line));
    assert_eq!(hit.field, c.field, "field of {hit:?}");
    assert!(hit.message.contains(" — "), "a message says what fixes the row: {}", hit.message);
    assert_eq!(
        run.import_of(if matches!(c.slot, Slot::Headers) { c.fixture } else { "headers.csv" })["rejected"],
        c.headers_rejected,
        "headers rejected"
    );
    assert_eq!(
        run.import_of(if matches!(c.slot, Slot::Lines) { c.fixture } else { "lines.csv" })["rejected"],
        c.lines_rejected,
        "lines rejected"
    );
    // Every rejected row is in the rejects index exactly once.
    let total: u64 = json["imports"]
        .as_array()
        .unwrap()
        .iter()
        .chain(json["master"].as_array().unwrap())
        .map(|i| i["rejected"].as_u64().unwrap())
        .sum();
    assert_eq!(rejects.len() as u64, total);
}

macro_rules! defect {
    ($name:ident, $fixture:literal, $slot:ident, line $line:literal, field $field:literal, rule $rule:literal, rejects $h:literal / $l:literal) => {
        #[test]
        fn $name() {
            check(Case {
                fixture: $fixture,
                slot: Slot::$slot,
                line: $line,
                field: $field,
                rule: $rule,
                headers_rejected: $h,
                lines_rejected: $l,
            });
        }
    };
}

defect!(header_customer_empty, "h_customer_empty.csv", Headers, line 2, field "InvoiceCustomerAccountNumber", rule "field.required", rejects 1 / 1);
defect!(header_customer_unknown, "h_customer_unknown.csv", Headers, line 2, field "InvoiceCustomerAccountNumber", rule "ref.customer", rejects 1 / 1);
defect!(header_customer_on_hold, "h_customer_on_hold.csv", Headers, line 3, field "InvoiceCustomerAccountNumber", rule "ref.customer_blocked", rejects 1 / 2);
defect!(header_date_invalid, "h_date_invalid.csv", Headers, line 2, field "InvoiceDate", rule "field.date", rejects 1 / 1);
defect!(header_date_implausible, "h_date_implausible.csv", Headers, line 4, field "InvoiceDate", rule "date.implausible", rejects 1 / 1);
defect!(header_currency_unknown, "h_currency_unknown.csv", Headers, line 3, field "CurrencyCode", rule "ref.currency", rejects 1 / 2);
defect!(header_number_too_long, "h_number_too_long.csv", Headers, line 4, field "InvoiceNumber", rule "field.max_length", rejects 1 / 1);
defect!(header_terms_unknown, "h_terms_unknown.csv", Headers, line 2, field "PaymentTermsName", rule "ref.payment_terms", rejects 1 / 1);
defect!(header_total_mismatch, "h_total_mismatch.csv", Headers, line 2, field "TotalInvoiceAmount", rule "amount.total", rejects 1 / 1);
defect!(header_tax_mismatch, "h_tax_mismatch.csv", Headers, line 2, field "TotalTaxAmount", rule "amount.tax", rejects 1 / 1);
defect!(header_total_not_a_number, "h_total_not_a_number.csv", Headers, line 3, field "TotalInvoiceAmount", rule "field.decimal", rejects 1 / 2);
defect!(header_total_too_many_decimals, "h_total_too_many_decimals.csv", Headers, line 2, field "TotalInvoiceAmount", rule "field.decimal_scale", rejects 1 / 1);
defect!(header_legal_entity_unknown, "h_legal_entity_unknown.csv", Headers, line 4, field "dataAreaId", rule "ref.legal_entity", rejects 1 / 1);
defect!(header_due_before_invoice, "h_due_before_invoice.csv", Headers, line 2, field "DueDate", rule "date.due_before_invoice", rejects 1 / 1);
defect!(header_credit_note_positive, "h_credit_note_positive.csv", Headers, line 4, field "OriginalInvoiceNumber", rule "amount.sign", rejects 1 / 1);
defect!(header_total_wrong_sign, "h_total_wrong_sign.csv", Headers, line 2, field "TotalInvoiceAmount", rule "amount.sign", rejects 1 / 1);
defect!(header_key_duplicate, "h_key_duplicate.csv", Headers, line 3, field "InvoiceNumber", rule "key.duplicate", rejects 2 / 2);
defect!(header_without_lines, "h_without_lines.csv", Headers, line 5, field "InvoiceNumber", rule "relation.no_lines", rejects 1 / 0);
defect!(header_column_missing, "h_column_missing.csv", Headers, line 2, field "InvoiceDate", rule "column.missing", rejects 3 / 4);
defect!(header_ragged_row, "h_ragged_row.csv", Headers, line 3, field "", rule "csv.field_count", rejects 1 / 2);
defect!(header_unclosed_quote, "h_unclosed_quote.csv", Headers, line 3, field "PAYMENTTERMSNAME", rule "csv.unclosed_quote", rejects 1 / 3);
defect!(header_not_utf8, "h_not_utf8.csv", Headers, line 2, field "CustomersOrderReference", rule "encoding.invalid", rejects 1 / 1);
defect!(line_qty_not_a_number, "l_qty_not_a_number.csv", Lines, line 3, field "Qty", rule "field.decimal", rejects 1 / 2);
defect!(line_price_empty, "l_price_empty.csv", Lines, line 5, field "SalesPrice", rule "field.required", rejects 1 / 1);
defect!(line_amount_mismatch, "l_amount_mismatch.csv", Lines, line 2, field "LineAmount", rule "amount.line", rejects 1 / 1);
defect!(line_item_tax_group_unknown, "l_item_tax_group_unknown.csv", Lines, line 5, field "ItemSalesTaxGroup", rule "ref.tax_code", rejects 1 / 1);
defect!(line_without_header, "l_without_header.csv", Lines, line 2, field "InvoiceId", rule "relation.no_header", rejects 1 / 1);
defect!(line_number_not_int, "l_line_number_not_int.csv", Lines, line 4, field "LineCreationSequenceNumber", rule "field.int", rejects 1 / 2);
defect!(line_qty_too_many_digits, "l_qty_too_many_digits.csv", Lines, line 2, field "Qty", rule "field.decimal_precision", rejects 1 / 1);
defect!(line_key_duplicate, "l_key_duplicate.csv", Lines, line 4, field "LineCreationSequenceNumber", rule "key.duplicate", rejects 1 / 3);
defect!(line_tax_code_unknown, "l_tax_code_unknown.csv", Lines, line 4, field "TaxName", rule "ref.tax_code", rejects 1 / 2);
defect!(line_date_mismatch, "l_date_mismatch.csv", Lines, line 5, field "InvoiceDate", rule "relation.mismatch", rejects 1 / 1);
defect!(master_customer_hold_not_enum, "m_customer_hold_not_enum.csv", Customer, line 3, field "OnHoldStatus", rule "field.enum", rejects 1 / 2);

#[test]
fn a_line_defect_rejects_its_header_and_siblings_each_saying_why() {
    let run = import(
        &[
            format!("SalesInvoiceJournalHeader={}", fixture("base/headers.csv").display()),
            format!("BusinessDocumentSalesInvoiceLineItem={}", fixture("defects/l_qty_not_a_number.csv").display()),
        ],
        &root().join("samples/master"),
    );
    let rejects = run.rejects();
    let rows: Vec<(String, u64, &str)> =
        rejects.iter().map(|r| (r.file.rsplit('/').next().unwrap().to_string(), r.line, r.rule.as_str())).collect();
    assert_eq!(
        rows,
        vec![
            ("headers.csv".to_string(), 3, "relation.line_rejected"),
            ("l_qty_not_a_number.csv".to_string(), 3, "field.decimal"),
            ("l_qty_not_a_number.csv".to_string(), 4, "relation.line_rejected"),
        ]
    );
    assert_eq!(
        rejects[1].message,
        "Qty `zwei` is not a number — Write a plain number such as 1234.50 (or set decimal_separator in the mapping)."
    );
    assert!(rejects[0].message.starts_with("its line at "), "{}", rejects[0].message);
    assert!(
        rejects[0].message.contains("l_qty_not_a_number.csv line 3 was rejected (field.decimal)"),
        "{}",
        rejects[0].message
    );
}

#[test]
fn the_per_file_rejects_file_keeps_the_original_columns() {
    let run = import(
        &[
            format!("SalesInvoiceJournalHeader={}", fixture("defects/h_customer_unknown.csv").display()),
            format!("BusinessDocumentSalesInvoiceLineItem={}", fixture("base/lines.csv").display()),
        ],
        &root().join("samples/master"),
    );
    let path = run.dir.path().join("rejects/h_customer_unknown.csv.rejects.csv");
    let mut r = csv::Reader::from_path(&path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(headers.len(), 11 + 5);
    assert_eq!(&headers[11..], ["file", "line", "field", "rule", "message"]);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][1], "T-001");
    assert_eq!(&rows[0][3], "DE-777");
    assert_eq!(&rows[0][12], "2");
    assert_eq!(&rows[0][14], "ref.customer");
    assert_eq!(&rows[0][15], "customer `DE-777` is not in the Customer master data — Use a customer from Customer, or add the customer there.");
    let lines = run.dir.path().join("rejects/lines.csv.rejects.csv");
    let mut r = csv::Reader::from_path(&lines).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][1], "T-001");
    assert_eq!(&rows[0][12], "relation.header_rejected");
}

#[test]
fn an_empty_file_is_an_operational_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("SalesInvoiceJournalHeader.csv");
    fs::write(&empty, b"").unwrap();
    let run = import(
        &[empty.display().to_string(), fixture("base/lines.csv").display().to_string()],
        &root().join("samples/master"),
    );
    // The lines file's name does not say its entity: a usage error before anything is read.
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cannot tell which entity"), "{}", run.stderr);
    let run = import(
        &[
            empty.display().to_string(),
            format!("BusinessDocumentSalesInvoiceLineItem={}", fixture("base/lines.csv").display()),
        ],
        &root().join("samples/master"),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.json()["status"], "failed");
    assert!(run.stderr.contains("the file is empty; an entity file starts with a header row"), "{}", run.stderr);
    assert!(!run.dir.path().join("rejects/rejects.csv").exists());
}

#[test]
fn a_broken_mapping_stops_before_reading_with_the_key_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.toml");
    fs::write(&m, "version = 1\nname = \"x\"\n[entity.SalesInvoiceJournalHeader.columns]\nInvoiceNumber = { column = \"Nr\", constant = \"1\" }\n").unwrap();
    let run = crate::invoiceflow(&[
        "import",
        "--dry-run",
        "--master",
        &root().join("samples/master").display().to_string(),
        "--mapping",
        &m.display().to_string(),
        &fixture("base/headers.csv").display().to_string(),
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "entity.SalesInvoiceJournalHeader.columns.InvoiceNumber: give exactly one of `column` and `constant`"
        ),
        "{}",
        run.stderr
    );
}
// Amounts that pass the field checks but leave what invoiceflow computes (10^26): a reject
// naming the field, never a panic, and the rest of the import goes on.
defect!(line_qty_overflow, "l_qty_overflow.csv", Lines, line 2, field "Qty", rule "amount.overflow", rejects 1 / 1);
defect!(line_price_unit_tiny, "l_price_unit_tiny.csv", Lines, line 2, field "SalesPrice", rule "amount.overflow", rejects 1 / 1);
defect!(line_discount_percent_overflow, "l_discount_percent_overflow.csv", Lines, line 3, field "DiscPercent", rule "amount.overflow", rejects 1 / 2);
defect!(line_sum_overflow, "l_sum_overflow.csv", Lines, line 2, field "", rule "relation.header_rejected", rejects 1 / 1000);
defect!(header_charge_overflow, "h_charge_overflow.csv", Headers, line 3, field "TotalChargeAmount", rule "amount.overflow", rejects 1 / 2);
defect!(header_discount_overflow, "h_discount_overflow.csv", Headers, line 3, field "TotalDiscountAmount", rule "amount.overflow", rejects 1 / 2);
