//! Schema migrations, applied in order; `PRAGMA user_version` records how many ran. A
//! migration is never edited once released: add a new one.

/// The migrations.
pub const MIGRATIONS: &[&str] = &[
    // 1: invoices, lines, VAT breakdown, ledger, open items, number sequences, watermarks.
    "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE number_sequence (
        legal_entity TEXT NOT NULL, reference TEXT NOT NULL, format TEXT NOT NULL, next INTEGER NOT NULL,
        PRIMARY KEY (legal_entity, reference));
    CREATE TABLE invoice (
        id INTEGER PRIMARY KEY,
        legal_entity TEXT NOT NULL, source_key TEXT NOT NULL, number TEXT, status TEXT NOT NULL,
        document TEXT NOT NULL, kind TEXT NOT NULL, header_entity TEXT NOT NULL, line_entity TEXT NOT NULL,
        invoice_date TEXT NOT NULL, due_date TEXT NOT NULL, customer TEXT NOT NULL, currency TEXT NOT NULL,
        accounting_currency TEXT NOT NULL, exchange_rate TEXT NOT NULL, payment_terms TEXT, order_reference TEXT,
        buyer_reference TEXT, sales_order TEXT, original_invoice TEXT, voucher TEXT, record_id INTEGER,
        line_total TEXT NOT NULL, allowance_total TEXT NOT NULL, charge_total TEXT NOT NULL,
        tax_exclusive TEXT NOT NULL, vat_total TEXT NOT NULL, tax_inclusive TEXT NOT NULL, prepaid TEXT NOT NULL,
        payable TEXT NOT NULL, vat_total_acc TEXT NOT NULL, rounding TEXT NOT NULL, content_hash TEXT NOT NULL,
        extras TEXT NOT NULL, parties TEXT NOT NULL,
        version INTEGER NOT NULL,
        UNIQUE (legal_entity, source_key));
    CREATE INDEX invoice_version ON invoice (version);
    CREATE TABLE invoice_line (
        invoice_id INTEGER NOT NULL, position INTEGER NOT NULL, line_number TEXT NOT NULL,
        quantity TEXT NOT NULL, unit_price TEXT NOT NULL, price_unit TEXT NOT NULL, discount_per_unit TEXT NOT NULL,
        discount_percent TEXT NOT NULL, discount_amount TEXT NOT NULL, charge_amount TEXT NOT NULL,
        net_amount TEXT NOT NULL, tax_code TEXT NOT NULL, tax_category TEXT NOT NULL, tax_rate TEXT NOT NULL,
        tax_amount TEXT NOT NULL, allowance_amount TEXT NOT NULL,
        tax_group TEXT, item_tax_group TEXT,
        item_id TEXT, item_name TEXT, description TEXT, unit TEXT, main_account TEXT, distribution TEXT,
        extras TEXT NOT NULL, version INTEGER NOT NULL,
        PRIMARY KEY (invoice_id, position));
    CREATE INDEX invoice_line_version ON invoice_line (version);
    CREATE TABLE invoice_tax (
        invoice_id INTEGER NOT NULL, position INTEGER NOT NULL, category TEXT NOT NULL, rate TEXT NOT NULL,
        tax_code TEXT NOT NULL, lines TEXT NOT NULL, allowance TEXT NOT NULL, charge TEXT NOT NULL,
        base TEXT NOT NULL, amount TEXT NOT NULL, exemption_code TEXT, exemption_reason TEXT,
        version INTEGER NOT NULL,
        PRIMARY KEY (invoice_id, position));
    CREATE TABLE ledger_entry (
        id INTEGER PRIMARY KEY, voucher TEXT NOT NULL, legal_entity TEXT NOT NULL, invoice_id INTEGER NOT NULL,
        position INTEGER NOT NULL, entry_date TEXT NOT NULL, account TEXT NOT NULL, posting_type TEXT NOT NULL,
        amount TEXT NOT NULL, currency TEXT NOT NULL, amount_acc TEXT NOT NULL, accounting_currency TEXT NOT NULL,
        is_credit INTEGER NOT NULL, tax_code TEXT, line_number TEXT, version INTEGER NOT NULL);
    CREATE INDEX ledger_entry_version ON ledger_entry (version);
    CREATE TABLE customer_trans (
        id INTEGER PRIMARY KEY, legal_entity TEXT NOT NULL, customer TEXT NOT NULL, invoice_id INTEGER NOT NULL,
        invoice_number TEXT NOT NULL, voucher TEXT NOT NULL, trans_date TEXT NOT NULL, due_date TEXT NOT NULL,
        amount TEXT NOT NULL, currency TEXT NOT NULL, amount_acc TEXT NOT NULL, accounting_currency TEXT NOT NULL,
        version INTEGER NOT NULL);
    CREATE INDEX customer_trans_customer ON customer_trans (legal_entity, customer);
    CREATE TABLE export_watermark (job TEXT NOT NULL, entity TEXT NOT NULL, version INTEGER NOT NULL,
        pending_to INTEGER, PRIMARY KEY (job, entity));
    ",
    // 2: invoice numbers and vouchers are unique per legal entity, across every invoice kind.
    "
    CREATE UNIQUE INDEX invoice_number_unique ON invoice (legal_entity, number) WHERE number IS NOT NULL;
    CREATE UNIQUE INDEX invoice_voucher_unique ON invoice (legal_entity, voucher) WHERE voucher IS NOT NULL;
    ",
    // 3: export job state moves to the jobs database beside the store (its rows are copied
    // there first), so that exports never wait for an import's write lock.
    "
    DROP TABLE export_watermark;
    ",
    // 4: an invoice's lines, VAT breakdown and ledger entries move into blobs beside it, one
    // row per invoice (`store::body`); `Store::migrate` converts the row tables, then drops them.
    "
    CREATE TABLE invoice_body (
        invoice_id INTEGER PRIMARY KEY, lines BLOB NOT NULL, taxes BLOB NOT NULL, ledger BLOB);
    ",
    // 5: an open item's cash discount (the last day, the amount and the percent), from its terms
    // of payment; open items by invoice (an e-invoice prints its cash discount).
    "
    ALTER TABLE customer_trans ADD COLUMN cash_discount_date TEXT;
    ALTER TABLE customer_trans ADD COLUMN cash_discount_amount TEXT;
    ALTER TABLE customer_trans ADD COLUMN cash_discount_percent TEXT;
    CREATE INDEX customer_trans_invoice ON customer_trans (invoice_id);
    ",
];

/// Invoice numbers and vouchers that more than one document of a legal entity uses (the first
/// ten), as `DEMF number X ×2`.
pub fn duplicate_numbers(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<Vec<String>> {
    let mut out = Vec::new();
    for (column, what) in [("number", "number"), ("voucher", "voucher")] {
        let mut stmt = tx.prepare(&format!(
            "SELECT legal_entity, {column}, COUNT(*) FROM invoice WHERE {column} IS NOT NULL
             GROUP BY legal_entity, {column} HAVING COUNT(*) > 1 ORDER BY legal_entity, {column} LIMIT 10"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok(format!("{} {what} {} ×{}", r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })?;
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}
