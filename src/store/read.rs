//! The reads: export scans, the documents of e-invoices, the canonical dump. Invoice bodies are
//! handed out under the column names of the row tables they replaced.

use std::str::FromStr;

use rusqlite::params;
use rust_decimal::Decimal;

use super::FieldNames;
use super::{body, ExportRange, Store, StoreError};

impl Store {
    /// A canonical text dump of the business content (invoices, lines, taxes, ledger, open
    /// items, number sequences, change version), for comparing stores in tests and audits;
    /// fields without a role as JSON by the names `field_names` gives.
    pub fn dump(&self, field_names: FieldNames) -> Result<String, StoreError> {
        let mut out = String::new();
        let text = |c: &body::Cell| match c {
            body::Cell::Null => "∅".to_string(),
            c => c.to_text().unwrap_or_default(),
        };
        let rows: [(&str, &str, Option<Columns>); 3] = [
            ("meta", "SELECT * FROM meta ORDER BY key", None),
            ("number_sequence", "SELECT * FROM number_sequence ORDER BY legal_entity, reference", None),
            ("invoice", "SELECT * FROM invoice ORDER BY id", None),
        ];
        let bodies = BODY_VIEWS.map(|(table, sql, kinds)| (table, sql, Some(kinds)));
        let open_items = ("customer_trans", "SELECT * FROM customer_trans ORDER BY id", None);
        for (table, sql, kinds) in rows.into_iter().chain(bodies).chain([open_items]) {
            let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
            let names: Vec<String> = match kinds {
                Some(k) => body_names(&stmt, k),
                None => stmt.column_names().map(str::to_string).collect(),
            };
            out.push_str(&format!("## {table}: {}\n", names.join(",")));
            let mut rows = stmt.query([]).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                let cells = match kinds {
                    Some(k) => body_rows(r, k, field_names).map_err(|e| self.damaged(e))?,
                    None => {
                        vec![(0..names.len()).map(|i| r.get_ref(i).map(sql_cell).unwrap_or(body::Cell::Null)).collect()]
                    }
                };
                for row in cells {
                    out.push_str(&row.iter().map(text).collect::<Vec<_>>().join("|"));
                    out.push('\n');
                }
            }
        }
        Ok(out)
    }

    /// Lays the invoice bodies out as the row tables they replaced (`invoice_line`,
    /// `invoice_tax`, `ledger_entry`, with their columns; a line also names its entity), as
    /// temporary tables of this connection, for audits and tests that query them with SQL. A ledger entry's `id` is its
    /// place in posting order. Fields without a role are JSON by the names `field_names` gives.
    pub fn expand_bodies(&self, field_names: FieldNames) -> Result<(), StoreError> {
        for (table, sql, kinds) in BODY_VIEWS {
            let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
            let names = body_names(&stmt, kinds);
            let id = if table == "ledger_entry" { "id INTEGER PRIMARY KEY, " } else { "" };
            // The column types of the row tables: integers, the rest text (decimals as text).
            let typed: Vec<String> = names
                .iter()
                .map(|n| match n.as_str() {
                    "invoice_id" | "position" | "version" | "is_credit" => format!("{n} INTEGER"),
                    _ => format!("{n} TEXT"),
                })
                .collect();
            self.conn
                .execute_batch(&format!(
                    "DROP TABLE IF EXISTS temp.{table}; CREATE TEMP TABLE {table} ({id}{});",
                    typed.join(", ")
                ))
                .map_err(self.err())?;
            let marks = vec!["?"; names.len()].join(", ");
            let mut insert = self
                .conn
                .prepare(&format!("INSERT INTO temp.{table} ({}) VALUES ({marks})", names.join(", ")))
                .map_err(self.err())?;
            let mut rows = stmt.query([]).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                for row in body_rows(r, kinds, field_names).map_err(|e| self.damaged(e))? {
                    let values: Vec<rusqlite::types::Value> = row
                        .iter()
                        .map(|c| match c {
                            body::Cell::Null => rusqlite::types::Value::Null,
                            body::Cell::Int(v) => rusqlite::types::Value::Integer(*v),
                            c => rusqlite::types::Value::Text(c.to_text().unwrap_or_default()),
                        })
                        .collect();
                    insert.execute(rusqlite::params_from_iter(values)).map_err(self.err())?;
                }
            }
        }
        Ok(())
    }

    /// Runs a query returning rows of text (NULL as None), for tests and audits (exports read
    /// with [`Store::scan`] and [`Store::scan_chunks`]).
    pub fn query_text(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let n = stmt.column_count();
        let mut rows = stmt.query(args).map_err(self.err())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(self.err())? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i).map_err(self.err())? {
                    rusqlite::types::ValueRef::Null => None,
                    rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                    rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                    rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    rusqlite::types::ValueRef::Blob(_) => None,
                });
            }
            out.push(row);
        }
        Ok(out)
    }
}

/// What an export reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTable {
    /// Posted invoices (headers).
    Invoices,
    /// Their lines, with the invoice's columns.
    Lines,
    /// Ledger entries, with the invoice number.
    Ledger,
    /// Customer transactions.
    CustomerTrans,
}

impl ExportTable {
    fn sql(self, document: Option<crate::entity::DocumentKind>) -> String {
        let doc = match document {
            Some(crate::entity::DocumentKind::Sales) => " AND i.document = 'sales'",
            Some(crate::entity::DocumentKind::FreeText) => " AND i.document = 'free_text'",
            None => "",
        };
        match self {
            ExportTable::Invoices => format!(
                "SELECT i.* FROM invoice i WHERE i.status = 'posted' AND i.version > ?1 AND i.version <= ?2{doc}
                 ORDER BY i.version"
            ),
            ExportTable::Lines => format!(
                "SELECT i.id AS invoice_id, i.version AS version, i.legal_entity, i.number, i.invoice_date, i.voucher,
                    i.currency, i.customer, i.record_id, i.line_entity, b.lines
                 FROM invoice i JOIN invoice_body b ON b.invoice_id = i.id
                 WHERE i.status = 'posted' AND i.version > ?1 AND i.version <= ?2{doc}
                 ORDER BY i.version"
            ),
            ExportTable::Ledger => "SELECT i.id AS invoice_id, i.version AS version, i.voucher, i.legal_entity,
                    i.invoice_date AS entry_date, i.currency, i.accounting_currency, i.number, b.ledger
                 FROM invoice i JOIN invoice_body b ON b.invoice_id = i.id
                 WHERE b.ledger IS NOT NULL AND i.version > ?1 AND i.version <= ?2 ORDER BY i.version"
                .to_string(),
            ExportTable::CustomerTrans => {
                "SELECT t.* FROM customer_trans t WHERE t.version > ?1 AND t.version <= ?2 ORDER BY t.id".to_string()
            }
        }
    }

    /// Whether rows of this table come from invoice bodies (then [`Store::scan_chunks`] reads
    /// them).
    pub fn has_body(self) -> bool {
        self.body().is_some()
    }

    /// The body blob an export of this table reads (its last column), and its columns.
    fn body(self) -> Option<&'static [(&'static str, body::Kind)]> {
        match self {
            ExportTable::Lines => Some(body::LINE),
            ExportTable::Ledger => Some(body::LEDGER),
            ExportTable::Invoices | ExportTable::CustomerTrans => None,
        }
    }
}

/// One row of an export scan: typed cells by column index, text borrowed from the store.
pub enum ScanRow<'a, 'b> {
    /// A row of a row table.
    Sql(&'a rusqlite::Row<'b>),
    /// A row of an invoice body: its invoice's columns, its position in the invoice, its cells.
    Body {
        /// The invoice's columns.
        shared: &'a [body::CellRef<'a>],
        /// The position of the row in its invoice.
        position: usize,
        /// The row's cells.
        cells: &'a [body::CellRef<'a>],
    },
}

impl ScanRow<'_, '_> {
    /// The cell of column `i` (null when there is none; a value SQLite holds as a float or a
    /// blob reads as null).
    pub fn cell(&self, i: usize) -> body::CellRef<'_> {
        match self {
            ScanRow::Sql(r) => r.get_ref(i).map(sql_cell_ref).unwrap_or(body::CellRef::Null),
            ScanRow::Body { shared, position, cells } => match i.cmp(&shared.len()) {
                std::cmp::Ordering::Less => shared[i],
                std::cmp::Ordering::Equal => body::CellRef::Int(*position as i64),
                std::cmp::Ordering::Greater => cells.get(i - shared.len() - 1).copied().unwrap_or(body::CellRef::Null),
            },
        }
    }

    /// The text of column `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        match self.cell(i) {
            body::CellRef::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// An SQL value as a cell, text borrowed (text that is not UTF-8, floats and blobs as null:
/// the store writes none).
fn sql_cell_ref(v: rusqlite::types::ValueRef<'_>) -> body::CellRef<'_> {
    match v {
        rusqlite::types::ValueRef::Integer(v) => body::CellRef::Int(v),
        rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).map_or(body::CellRef::Null, body::CellRef::Text),
        _ => body::CellRef::Null,
    }
}

/// The columns of a body blob.
type Columns = &'static [(&'static str, body::Kind)];

/// The invoice bodies as the row tables they replaced: table name, the query (the blob last),
/// the blob's columns.
const BODY_VIEWS: [(&str, &str, Columns); 3] = [
    (
        "invoice_line",
        "SELECT b.invoice_id, i.version, i.line_entity, b.lines FROM invoice_body b JOIN invoice i ON i.id = b.invoice_id
         ORDER BY b.invoice_id",
        body::LINE,
    ),
    (
        "invoice_tax",
        "SELECT b.invoice_id, i.version, b.taxes FROM invoice_body b JOIN invoice i ON i.id = b.invoice_id
         ORDER BY b.invoice_id",
        body::TAX,
    ),
    (
        "ledger_entry",
        "SELECT b.invoice_id, i.version, i.voucher, i.legal_entity, i.invoice_date AS entry_date, i.currency,
            i.accounting_currency, b.ledger
         FROM invoice_body b JOIN invoice i ON i.id = b.invoice_id WHERE b.ledger IS NOT NULL
         ORDER BY i.version",
        body::LEDGER,
    ),
];

/// The column names of a body scan: the query's (but its last, the blob), `position`, then
/// the body's.
fn body_names(stmt: &rusqlite::Statement<'_>, kinds: &[(&str, body::Kind)]) -> Vec<String> {
    let n = stmt.column_count();
    let mut names: Vec<String> = stmt.column_names().take(n.saturating_sub(1)).map(str::to_string).collect();
    names.push("position".to_string());
    names.extend(kinds.iter().map(|(k, _)| k.to_string()));
    names
}

/// The cell of an SQL value.
fn sql_cell(v: rusqlite::types::ValueRef<'_>) -> body::Cell {
    match v {
        rusqlite::types::ValueRef::Integer(v) => body::Cell::Int(v),
        rusqlite::types::ValueRef::Text(t) => body::Cell::Text(String::from_utf8_lossy(t).into_owned()),
        rusqlite::types::ValueRef::Real(v) => body::Cell::Text(v.to_string()),
        rusqlite::types::ValueRef::Null | rusqlite::types::ValueRef::Blob(_) => body::Cell::Null,
    }
}

/// The blob in column `i` of `r`.
fn blob_at<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r [u8], body::Damaged> {
    match r.get_ref(i) {
        Ok(rusqlite::types::ValueRef::Blob(b)) => Ok(b),
        _ => Err(body::Damaged("no body")),
    }
}

/// The body blob in the last column of a body query's row, and the row's other columns (the
/// invoice's, shared by every row of the body).
fn blob_and_shared<'r>(r: &'r rusqlite::Row<'_>) -> Result<(&'r [u8], Vec<body::Cell>), body::Damaged> {
    let n = r.as_ref().column_count();
    let shared = (0..n - 1).map(|i| r.get_ref(i).map(sql_cell).unwrap_or(body::Cell::Null)).collect();
    Ok((blob_at(r, n - 1)?, shared))
}

/// The rows of the body blob in the last column of `r`, each as the row's other columns,
/// its position and its cells.
fn body_rows(
    r: &rusqlite::Row<'_>,
    kinds: &[(&str, body::Kind)],
    names: FieldNames,
) -> Result<Vec<Vec<body::Cell>>, body::Damaged> {
    let (blob, shared) = blob_and_shared(r)?;
    let n = shared.len() + 1;
    let entity = (0..n - 1)
        .find(|i| r.as_ref().column_name(*i).ok() == Some("line_entity"))
        .and_then(|i| r.get_ref(i).ok())
        .and_then(|v| v.as_str().ok())
        .unwrap_or_default();
    Ok(body::read(blob, kinds.len())?
        .into_iter()
        .enumerate()
        .map(|(pos, cells)| {
            let mut row = Vec::with_capacity(shared.len() + 1 + cells.len());
            row.extend(shared.iter().cloned());
            row.push(body::Cell::Int(pos as i64));
            row.extend(cells.into_iter().map(|c| named_fields(names, entity, c)));
            row
        })
        .collect())
}

/// A cell of fields without a role as the JSON object by field name the readers take
/// (`{"DeliveryModeCode":"PARCEL"}`); other cells as they are.
fn named_fields(names: FieldNames, entity: &str, c: body::Cell) -> body::Cell {
    match c {
        body::Cell::Fields(f) => body::Cell::Text(fields_json(names, entity, f.iter().map(|(i, t)| (*i, t.as_str())))),
        c => c,
    }
}

impl Store {
    /// The column names of an export scan.
    pub fn scan_columns(
        &self,
        table: ExportTable,
        document: Option<crate::entity::DocumentKind>,
    ) -> Result<Vec<String>, StoreError> {
        let stmt = self.conn.prepare(&table.sql(document)).map_err(self.err())?;
        Ok(match table.body() {
            Some(kinds) => body_names(&stmt, kinds),
            None => stmt.column_names().map(str::to_string).collect(),
        })
    }

    /// Calls `f` for every row of `table` with `from < version <= to` (of invoices of one
    /// document kind, when given), in version order, inside one read transaction (a consistent
    /// snapshot).
    pub fn scan(
        &self,
        table: ExportTable,
        document: Option<crate::entity::DocumentKind>,
        range: ExportRange,
        mut f: impl FnMut(&ScanRow<'_, '_>) -> Result<(), String>,
    ) -> Result<Result<(), String>, StoreError> {
        let mut stmt = self.conn.prepare(&table.sql(document)).map_err(self.err())?;
        let mut rows = stmt.query(params![range.from, range.to]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let Some(kinds) = table.body() else {
                if let Err(e) = f(&ScanRow::Sql(r)) {
                    return Ok(Err(e));
                }
                continue;
            };
            let n = r.as_ref().column_count();
            let shared: Vec<body::CellRef<'_>> =
                (0..n - 1).map(|i| r.get_ref(i).map(sql_cell_ref).unwrap_or(body::CellRef::Null)).collect();
            let blob = blob_at(r, n - 1).map_err(|e| self.damaged(e))?;
            let mut rows = body::Rows::new(blob, kinds.len()).map_err(|e| self.damaged(e))?;
            let mut cells = Vec::with_capacity(kinds.len());
            let mut position = 0;
            while rows.next_into(&mut cells).map_err(|e| self.damaged(e))? {
                if let Err(e) = f(&ScanRow::Body { shared: &shared, position, cells: &cells }) {
                    return Ok(Err(e));
                }
                position += 1;
            }
        }
        Ok(Ok(()))
    }
}

/// Body rows copied out of the store, to be made into export rows on another thread: whole
/// invoice bodies, or the part of one that falls into this chunk.
#[derive(Debug, Default)]
pub struct BodyChunk {
    /// The invoices' columns, `width` per invoice.
    shared: Vec<body::Cell>,
    width: usize,
    /// The bodies, one after another.
    blobs: Vec<u8>,
    parts: Vec<ChunkPart>,
    columns: usize,
    rows: usize,
}

/// One invoice's share of a chunk: its body (a range of `blobs`), the rows before its share,
/// the rows in it, and whether they are its last.
#[derive(Debug)]
struct ChunkPart {
    blob: std::ops::Range<usize>,
    skip: usize,
    take: usize,
    to_end: bool,
}

impl BodyChunk {
    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Calls `f` with every row, in order, each with its position in its invoice.
    pub fn scan(
        &self,
        mut f: impl FnMut(&ScanRow<'_, '_>) -> Result<(), String>,
    ) -> Result<Result<(), String>, body::Damaged> {
        let mut cells = Vec::with_capacity(self.columns);
        for (i, part) in self.parts.iter().enumerate() {
            let shared: Vec<body::CellRef<'_>> =
                self.shared[i * self.width..(i + 1) * self.width].iter().map(body::Cell::as_cell_ref).collect();
            let mut rows = body::Rows::new(&self.blobs[part.blob.clone()], self.columns)?;
            for _ in 0..part.skip {
                rows.next_into(&mut cells)?;
            }
            for position in part.skip..part.skip + part.take {
                if !rows.next_into(&mut cells)? {
                    return Err(body::Damaged("fewer rows than counted"));
                }
                if let Err(e) = f(&ScanRow::Body { shared: &shared, position, cells: &cells }) {
                    return Ok(Err(e));
                }
            }
            // The last share of a body also checks that the body ends there.
            if part.to_end && rows.next_into(&mut cells)? {
                return Err(body::Damaged("more rows than counted"));
            }
        }
        Ok(Ok(()))
    }
}

impl Store {
    /// Hands `f` the rows of a body table (lines or ledger) with `from < version <= to`, in
    /// version order, as chunks of exactly `rows` rows (the last one fewer), copied out of one
    /// read transaction; stops early when `f` says `false`.
    pub fn scan_chunks(
        &self,
        table: ExportTable,
        document: Option<crate::entity::DocumentKind>,
        range: ExportRange,
        rows: usize,
        mut f: impl FnMut(BodyChunk) -> bool,
    ) -> Result<(), StoreError> {
        let Some(kinds) = table.body() else {
            return Err(StoreError::Damaged {
                path: self.path.clone(),
                message: format!("{table:?} has no invoice bodies to read in chunks"),
            });
        };
        let rows = rows.max(1);
        let mut stmt = self.conn.prepare(&table.sql(document)).map_err(self.err())?;
        let width = stmt.column_count() - 1;
        let fresh = || BodyChunk { width, columns: kinds.len(), ..BodyChunk::default() };
        let mut chunk = fresh();
        let mut found = stmt.query(params![range.from, range.to]).map_err(self.err())?;
        while let Some(r) = found.next().map_err(self.err())? {
            let blob = blob_at(r, width).map_err(|e| self.damaged(e))?;
            let total = body::Rows::new(blob, kinds.len()).map_err(|e| self.damaged(e))?.left();
            let mut done = 0;
            while done < total {
                let take = (total - done).min(rows - chunk.rows);
                chunk.shared.extend((0..width).map(|i| r.get_ref(i).map(sql_cell).unwrap_or(body::Cell::Null)));
                let start = chunk.blobs.len();
                chunk.blobs.extend_from_slice(blob);
                chunk.parts.push(ChunkPart {
                    blob: start..chunk.blobs.len(),
                    skip: done,
                    take,
                    to_end: done + take == total,
                });
                chunk.rows += take;
                done += take;
                if chunk.rows == rows && !f(std::mem::replace(&mut chunk, fresh())) {
                    return Ok(());
                }
            }
        }
        if chunk.rows > 0 {
            f(chunk);
        }
        Ok(())
    }
}

/// A stored invoice with its columns by name and its lines and VAT breakdown as rows of text
/// by column name: how drafts are read back to be posted.
#[derive(Debug, Clone, Default)]
pub struct StoredDoc {
    /// Invoice columns (name → text).
    pub invoice: std::collections::HashMap<String, String>,
    /// Line rows, in position order.
    pub lines: Vec<std::collections::HashMap<String, String>>,
    /// VAT breakdown rows, in position order.
    pub taxes: Vec<std::collections::HashMap<String, String>>,
}

/// A posted invoice as its e-invoice is built from it: the invoice row's columns a document
/// prints, typed, and the line and VAT breakdown blobs as stored, read in place with
/// [`super::BodyRows`] by the positions of [`super::line_col`] and [`super::tax_col`] (no row is
/// laid out into maps).
#[derive(Debug, Clone, Default)]
pub struct PostedDoc {
    /// The invoice's row id.
    pub id: i64,
    /// Legal entity.
    pub legal_entity: String,
    /// Invoice number.
    pub number: String,
    /// Whether it is a credit note.
    pub credit_note: bool,
    /// Document currency.
    pub currency: String,
    /// The legal entity's accounting currency.
    pub accounting_currency: String,
    /// Invoice date, ISO.
    pub invoice_date: String,
    /// Due date, ISO.
    pub due_date: String,
    /// Customer account.
    pub customer: String,
    /// Terms of payment.
    pub payment_terms: Option<String>,
    /// The customer's order reference.
    pub order_reference: Option<String>,
    /// Buyer reference.
    pub buyer_reference: Option<String>,
    /// The invoice a credit note corrects.
    pub original_invoice: Option<String>,
    /// Posted totals.
    pub totals: PostedTotals,
    /// The parties as JSON: as posted, or as a refused document was finally written.
    pub parties: String,
    /// Whether `parties` were replaced by today's master data (a pending document tried again).
    pub parties_refreshed: bool,
    /// The line blob.
    pub lines: Vec<u8>,
    /// The VAT breakdown blob.
    pub taxes: Vec<u8>,
    /// The cash discount of its open item: last day (ISO), amount, percent.
    pub cash_discount: Option<(String, Decimal, Decimal)>,
}

/// The posted totals of an invoice row, in the document currency (and the VAT total in the
/// accounting currency).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct PostedTotals {
    pub line_total: Decimal,
    pub allowance_total: Decimal,
    pub charge_total: Decimal,
    pub tax_exclusive: Decimal,
    pub vat_total: Decimal,
    pub tax_inclusive: Decimal,
    pub prepaid: Decimal,
    pub payable: Decimal,
    pub vat_total_acc: Decimal,
}

/// The rows of a body blob as maps of the row tables' column names to text.
fn body_maps(
    blob: &[u8],
    kinds: &[(&str, body::Kind)],
    id: &str,
    version: &str,
    entity: &str,
    names: FieldNames,
) -> Result<Vec<RowMap>, body::Damaged> {
    Ok(body::read(blob, kinds.len())?
        .into_iter()
        .enumerate()
        .map(|(pos, cells)| {
            let mut m = RowMap::with_capacity(kinds.len() + 3);
            m.insert("invoice_id".into(), id.to_string());
            m.insert("position".into(), pos.to_string());
            m.insert("version".into(), version.to_string());
            for ((name, _), c) in kinds.iter().zip(cells) {
                if let Some(t) = named_fields(names, entity, c).to_text() {
                    m.insert(name.to_string(), t);
                }
            }
            m
        })
        .collect())
}

type RowMap = std::collections::HashMap<String, String>;

fn row_map(r: &rusqlite::Row<'_>, names: &[String]) -> std::collections::HashMap<String, String> {
    let mut m = std::collections::HashMap::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        let v = match r.get_ref(i) {
            Ok(rusqlite::types::ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
            Ok(rusqlite::types::ValueRef::Integer(v)) => v.to_string(),
            _ => continue,
        };
        m.insert(n.clone(), v);
    }
    m
}

impl Store {
    /// Calls `f` with every posted invoice with `from < version <= to`, in the order posted (one
    /// read transaction).
    pub fn documents(&self, range: ExportRange, f: impl FnMut(PostedDoc)) -> Result<(), StoreError> {
        let filter = "i.status = 'posted' AND i.version > ?1 AND i.version <= ?2";
        self.posted_where(filter, params![range.from, range.to], f)
    }

    /// Calls `f` with every document a job's e-invoice output refused and nobody skipped, in
    /// the order they were posted.
    pub fn pending_documents(&self, job: &str, output: &str, f: impl FnMut(PostedDoc)) -> Result<(), StoreError> {
        let filter = "i.id IN (SELECT invoice_id FROM jobs.einvoice_pending
                       WHERE job = ?1 AND output = ?2 AND skipped_at IS NULL)";
        self.posted_where(filter, params![job, output], f)
    }

    /// The posted documents whose invoice row passes `filter` (an SQL condition on `i`).
    fn posted_where(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
        mut f: impl FnMut(PostedDoc),
    ) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        // The parties a refused e-invoice was finally written with take the place of those
        // the invoice was posted with.
        let (parties, join) = if self.jobs {
            ("COALESCE(p.parties, i.parties)", "LEFT JOIN jobs.einvoice_parties p ON p.invoice_id = i.id")
        } else {
            ("i.parties", "")
        };
        let sql = format!(
            "SELECT i.id, i.legal_entity, i.number, i.kind, i.currency, i.accounting_currency, i.invoice_date,
                    i.due_date, i.customer, i.payment_terms, i.order_reference, i.buyer_reference,
                    i.original_invoice, i.line_total, i.allowance_total, i.charge_total, i.tax_exclusive,
                    i.vat_total, i.tax_inclusive, i.prepaid, i.payable, i.vat_total_acc, {parties},
                    b.lines, b.taxes, ct.cash_discount_date, ct.cash_discount_amount, ct.cash_discount_percent
             FROM invoice i JOIN invoice_body b ON b.invoice_id = i.id
                  LEFT JOIN customer_trans ct ON ct.invoice_id = i.id {join}
             WHERE {filter} ORDER BY i.id"
        );
        let mut stmt = tx.prepare(&sql).map_err(self.err())?;
        let mut rows = stmt.query(args).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let doc = posted_doc(r).map_err(|e| self.damaged(e))?;
            f(doc);
        }
        Ok(())
    }

    /// Calls `f` with every draft (unposted) invoice, in the order it was stored (fields without
    /// a role as JSON by the names `names` gives).
    pub fn drafts(&self, names: FieldNames, f: impl FnMut(StoredDoc)) -> Result<(), StoreError> {
        self.stored_where("i.status = 'draft'", [], names, f)
    }

    /// The stored invoice (draft or posted) of `legal_entity` with `source_key` (its number, or
    /// `FT:` and the record id of a free-text invoice), as [`Store::drafts`] gives drafts: what
    /// an incremental push completes.
    pub fn stored_doc(
        &self,
        legal_entity: &str,
        source_key: &str,
        names: FieldNames,
    ) -> Result<Option<StoredDoc>, StoreError> {
        let mut found = None;
        self.stored_where(
            "i.legal_entity = ?1 AND i.source_key = ?2",
            params![legal_entity, source_key],
            names,
            |d| found = Some(d),
        )?;
        Ok(found)
    }

    /// The stored invoices whose invoice row passes `filter` (an SQL condition on `i`), with
    /// their lines and VAT breakdown as rows by column name, in the order stored.
    fn stored_where(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
        names: FieldNames,
        mut f: impl FnMut(StoredDoc),
    ) -> Result<(), StoreError> {
        let mut inv = self
            .conn
            .prepare_cached(&format!(
                "SELECT i.*, b.lines AS body_lines, b.taxes AS body_taxes FROM invoice i
                 JOIN invoice_body b ON b.invoice_id = i.id WHERE {filter} ORDER BY i.id"
            ))
            .map_err(self.err())?;
        let in_names: Vec<String> = inv.column_names().map(str::to_string).collect();
        let at = |name: &str| in_names.iter().position(|n| n == name).unwrap_or(usize::MAX);
        let (lines_at, taxes_at) = (at("body_lines"), at("body_taxes"));
        let mut irows = inv.query(args).map_err(self.err())?;
        while let Some(r) = irows.next().map_err(self.err())? {
            let invoice = row_map(r, &in_names);
            let get = |k: &str| invoice.get(k).map(String::as_str).unwrap_or_default();
            let (id, version, entity) = (get("id"), get("version"), get("line_entity"));
            let maps = |at: usize, kinds| {
                blob_at(r, at)
                    .and_then(|b| body_maps(b, kinds, id, version, entity, names))
                    .map_err(|e| self.damaged(e))
            };
            let (lines, taxes) = (maps(lines_at, body::LINE)?, maps(taxes_at, body::TAX)?);
            f(StoredDoc { invoice, lines, taxes });
        }
        Ok(())
    }
}

/// A row of [`Store::posted_where`]'s query as a document.
fn posted_doc(r: &rusqlite::Row<'_>) -> Result<PostedDoc, body::Damaged> {
    use rusqlite::types::ValueRef;
    let text = |i: usize| -> Result<Option<String>, body::Damaged> {
        match r.get_ref(i) {
            Ok(ValueRef::Text(t)) if !t.is_empty() => {
                std::str::from_utf8(t).map(|t| Some(t.to_string())).map_err(|_| body::Damaged("text not UTF-8"))
            }
            Ok(ValueRef::Text(_) | ValueRef::Null) => Ok(None),
            _ => Err(body::Damaged("a text column holds another type")),
        }
    };
    let req = |i: usize| text(i).map(Option::unwrap_or_default);
    let dec = |i: usize| -> Result<Decimal, body::Damaged> {
        match r.get_ref(i) {
            Ok(ValueRef::Text(t)) => std::str::from_utf8(t)
                .ok()
                .and_then(|t| Decimal::from_str(t).ok())
                .ok_or(body::Damaged("an amount does not read as a decimal")),
            _ => Err(body::Damaged("an amount is missing")),
        }
    };
    let blob = |i: usize| blob_at(r, i).map(<[u8]>::to_vec);
    Ok(PostedDoc {
        id: r.get(0).map_err(|_| body::Damaged("no invoice id"))?,
        legal_entity: req(1)?,
        number: req(2)?,
        credit_note: text(3)?.as_deref() == Some("credit_note"),
        currency: req(4)?,
        accounting_currency: req(5)?,
        invoice_date: req(6)?,
        due_date: req(7)?,
        customer: req(8)?,
        payment_terms: text(9)?,
        order_reference: text(10)?,
        buyer_reference: text(11)?,
        original_invoice: text(12)?,
        totals: PostedTotals {
            line_total: dec(13)?,
            allowance_total: dec(14)?,
            charge_total: dec(15)?,
            tax_exclusive: dec(16)?,
            vat_total: dec(17)?,
            tax_inclusive: dec(18)?,
            prepaid: dec(19)?,
            payable: dec(20)?,
            vat_total_acc: dec(21)?,
        },
        parties: req(22)?,
        parties_refreshed: false,
        lines: blob(23)?,
        taxes: blob(24)?,
        cash_discount: match (text(25)?, text(26)?, text(27)?) {
            (Some(date), Some(amount), Some(percent)) => Some((
                date,
                Decimal::from_str(&amount).map_err(|_| body::Damaged("a cash discount does not read as a decimal"))?,
                Decimal::from_str(&percent).map_err(|_| body::Damaged("a cash discount does not read as a decimal"))?,
            )),
            _ => None,
        },
    })
}

/// Fields without a role (an entity's field index and text) as a JSON object by field name, as
/// `names` names them (an index it does not name under its number).
pub(super) fn fields_json<'a>(names: FieldNames, entity: &str, fields: impl Iterator<Item = (u16, &'a str)>) -> String {
    use std::borrow::Cow;
    // By name, as a JSON object of serde_json's writes it (its map is ordered by key; a name
    // given twice keeps its last text), without building the map.
    let mut pairs: Vec<(Cow<'static, str>, &str)> =
        fields.map(|(i, v)| (names(entity, i).map_or_else(|| Cow::Owned(i.to_string()), Cow::Borrowed), v)).collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::with_capacity(2 + pairs.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>());
    out.push(b'{');
    for (k, (name, text)) in pairs.iter().enumerate() {
        if pairs.get(k + 1).is_some_and(|next| next.0 == *name) {
            continue;
        }
        if out.len() > 1 {
            out.push(b',');
        }
        json_string(&mut out, name);
        out.push(b':');
        json_string(&mut out, text);
    }
    out.push(b'}');
    // Texts are UTF-8 and escapes ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// `s` as a JSON string, escaped as serde_json escapes it: `"` and `\`, the control characters
/// (`\b \t \n \f \r`, the others as `\u00xx`); the runs between them copied whole.
fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let short = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(&[b'\\', short]);
        if short == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 0xf)]]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::fields_json;

    /// The JSON of fields without a role is written without a map in between, with the bytes
    /// serde_json's map gives: keys in order, a key given twice with its last text, escapes.
    #[test]
    fn fields_json_writes_what_a_serde_json_map_writes() {
        fn names(_: &str, i: u16) -> Option<&'static str> {
            ["Zeta", "alpha", "Ärger", "a\"b", "Zeta", "tab\there"].get(usize::from(i)).copied()
        }
        let controls: String = (0u8..0x20).map(char::from).collect();
        let texts =
            ["", "plain", "quote \" and \\ slash", "ctl \u{1} \u{1f} \n\r\t \u{7f}", "é ½ «»", "€ 𝄞", &controls];
        let serde = |fields: &[(u16, &str)]| {
            let mut map = serde_json::Map::new();
            for &(i, v) in fields {
                map.insert(
                    names("", i).map_or_else(|| i.to_string(), str::to_string),
                    serde_json::Value::String(v.into()),
                );
            }
            serde_json::Value::Object(map).to_string()
        };
        let mut cases: Vec<Vec<(u16, &str)>> = vec![vec![], vec![(1, "x")], vec![(0, "first"), (4, "second")]];
        // Every field index (0–5 named, 6–11 by number, 10 before 7 in text order) with each
        // text, in a rotating order.
        for r in 0..texts.len() {
            cases.push(
                (0..12u16)
                    .map(|i| (((i as usize * 5 + r) % 12) as u16, texts[(i as usize + r) % texts.len()]))
                    .collect(),
            );
        }
        for c in &cases {
            assert_eq!(fields_json(names, "E", c.iter().copied()), serde(c), "{c:?}");
        }
        assert_eq!(fields_json(names, "E", [(0, "a"), (4, "b"), (11, "c")].into_iter()), r#"{"11":"c","Zeta":"b"}"#);
    }
}
