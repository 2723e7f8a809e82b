//! Entity exports from the store: CSV (DMF column names) and Parquet (exact decimals), full or
//! incremental per named job. A file is written to a temp name, synced and renamed; a job's
//! watermark moves only after that, and an interrupted range is redone into the same file
//! name, so a consumer gets every row exactly once. Exports print what posting computed; they
//! compute no money.

mod csv;
mod parquet;
pub mod proforma;
mod value;

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::entity::{Catalog, Entity, EntityKind, FieldType, Role};
use crate::store::{CellRef, ExportRange, ExportTable, ScanRow, Store, StoreError};
use value::Value;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// CSV with DMF upper-case headers.
    Csv,
    /// Apache Parquet with Decimal128 and Date32.
    Parquet,
}

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Entity name.
    pub entity: String,
    /// Format.
    pub format: Format,
    /// Output folder.
    pub out: PathBuf,
    /// Change-tracking job; a full export without it.
    pub job: Option<String>,
    /// CSV as D365's CSV-Unicode (UTF-16 LE with BOM, CRLF).
    pub dmf_unicode: bool,
}

/// What an export did.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// Entity.
    pub entity: String,
    /// Format.
    pub format: Format,
    /// Job, when incremental.
    pub job: Option<String>,
    /// Rows written.
    pub rows: u64,
    /// Files written.
    pub files: Vec<String>,
    /// Versions covered: above `from_version`, up to `to_version`.
    pub from_version: i64,
    /// See `from_version`.
    pub to_version: i64,
    /// Whether an interrupted range was redone.
    pub resumed: bool,
    /// What happened, in a sentence.
    pub note: String,
}

/// An export failure: nothing is published and no watermark moves.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The entity cannot be exported.
    #[error("{0}")]
    Entity(String),
    /// Writing failed.
    #[error("{path}: cannot write the export: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

/// Where an exported field's value comes from.
#[derive(Debug, Clone)]
enum Source {
    Column(usize),
    Extra(String),
    /// A line's whole discount as one amount, for line entities that have no discount percent
    /// or per-unit discount (SalesInvoiceLineV3's LineTotalDiscountAmount): quantity × price ÷
    /// price unit + charge − net, at six decimals. Columns: quantity, price, price unit, charge,
    /// net amount.
    TotalDiscount([usize; 5]),
    Empty,
}

fn header_column(role: Role) -> Option<&'static str> {
    Some(match role {
        Role::LegalEntity => "legal_entity",
        Role::InvoiceNumber => "number",
        Role::InvoiceDate => "invoice_date",
        Role::Voucher => "voucher",
        Role::Customer => "customer",
        Role::Currency => "currency",
        Role::PaymentTerms => "payment_terms",
        Role::DueDate => "due_date",
        Role::OrderReference => "order_reference",
        Role::BuyerReference => "buyer_reference",
        Role::SalesOrder => "sales_order",
        Role::OriginalInvoice => "original_invoice",
        Role::ExchangeRate => "exchange_rate",
        Role::RecordId => "record_id",
        Role::TotalAmount => "tax_inclusive",
        Role::TotalTax => "vat_total",
        Role::TotalCharge => "charge_total",
        Role::TotalDiscount => "allowance_total",
        _ => return None,
    })
}

fn line_column(role: Role) -> Option<&'static str> {
    Some(match role {
        Role::LegalEntity => "legal_entity",
        Role::InvoiceNumber => "number",
        Role::InvoiceDate => "invoice_date",
        Role::Voucher => "voucher",
        Role::Currency => "currency",
        Role::Customer => "customer",
        Role::ParentRecordId => "record_id",
        Role::LineNumber => "line_number",
        Role::Quantity => "quantity",
        Role::UnitPrice => "unit_price",
        Role::PriceUnit => "price_unit",
        Role::DiscountPerUnit => "discount_per_unit",
        Role::DiscountPercent => "discount_percent",
        Role::DiscountAmount => "discount_amount",
        Role::ChargeAmount => "charge_amount",
        Role::LineAmount => "net_amount",
        Role::LineTax => "tax_amount",
        Role::TaxRate => "tax_rate",
        Role::TaxCode => "tax_code",
        Role::TaxGroup => "tax_group",
        Role::ItemTaxGroup => "item_tax_group",
        Role::ItemId => "item_id",
        Role::ItemName => "item_name",
        Role::Description => "description",
        Role::Unit => "unit",
        Role::MainAccount => "main_account",
        Role::Distribution => "distribution",
        _ => return None,
    })
}

/// Receives rows field by field and writes them.
trait Sink {
    /// The value of field `k` of the current row (fields come in order, each once).
    fn value(&mut self, k: usize, v: &Value<'_>) -> Result<(), String>;
    /// Ends the current row.
    fn end_row(&mut self) -> Result<(), String>;
    /// Writes what is buffered and hands the file back, unsynced.
    fn finish(self) -> Result<File, String>;
}

/// The file name of an export: entity, job range or full snapshot, extension.
pub fn file_name(entity: &str, range: ExportRange, incremental: bool, format: Format) -> String {
    if incremental {
        format!("{entity}_v{:08}-v{:08}.{}", range.from + 1, range.to, format.ext())
    } else {
        format!("{entity}_full_v{:08}.{}", range.to, format.ext())
    }
}

/// Runs one export.
pub fn export(store: &mut Store, req: &ExportRequest, catalog: &Catalog) -> Result<ExportReport, ExportError> {
    let entity = catalog.get(&req.entity).ok_or_else(|| {
        ExportError::Entity(format!("unknown entity `{}`; `invoiceflow entities` lists them", req.entity))
    })?;
    // Every document belongs to the header and line entities of its kind: sales invoices to the
    // sales entities (each of them a view of all sales invoices), free-text invoices to the
    // free-text entities only.
    let (table, document) = match (entity.kind, entity.name.as_str()) {
        (EntityKind::InvoiceHeader, _) => (ExportTable::Invoices, Some(entity.document)),
        (EntityKind::InvoiceLine, _) => (ExportTable::Lines, Some(entity.document)),
        (EntityKind::Ledger, "GeneralJournalAccountEntry") => (ExportTable::Ledger, None),
        (EntityKind::Ledger, _) => (ExportTable::CustomerTrans, None),
        (EntityKind::Master, _) => {
            return Err(ExportError::Entity(format!(
                "{} is master data; invoiceflow exports what it posts",
                entity.name
            )))
        }
    };
    std::fs::create_dir_all(&req.out)
        .map_err(|e| ExportError::Write { path: req.out.clone(), message: e.to_string() })?;
    let range = match &req.job {
        Some(job) => store.begin_export(job, &entity.name)?,
        None => ExportRange { from: 0, to: store.change_version()?, resumed: false },
    };
    let mut report = ExportReport {
        entity: entity.name.clone(),
        format: req.format,
        job: req.job.clone(),
        rows: 0,
        files: Vec::new(),
        from_version: range.from,
        to_version: range.to,
        resumed: range.resumed,
        note: String::new(),
    };
    if req.job.is_some() && range.to <= range.from {
        report.note = format!("nothing new since change version {}: no file written", range.from);
        return Ok(report);
    }
    let columns = store.scan_columns(table, document)?;
    let rows_of = Rows {
        entity,
        catalog,
        sources: sources(entity, table, &columns),
        extras_col: columns.iter().position(|c| c == "extras"),
        entity_col: columns.iter().position(|c| c == "line_entity"),
        by_entity: std::collections::HashMap::new(),
        spare: Vec::new(),
    };
    let name = file_name(&entity.name, range, req.job.is_some(), req.format);
    let path = req.out.join(&name);
    let tmp = req.out.join(format!(".{name}.tmp"));
    let werr = |p: &Path, m: String| ExportError::Write { path: p.to_path_buf(), message: m };
    let file = File::create(&tmp).map_err(|e| werr(&tmp, e.to_string()))?;
    let stage = crate::progress::Stage::start("export", format!("{} {:?}", entity.name, req.format));
    let pb = crate::progress::spinner(&format!("export {}", entity.name), "rows");
    let written = match req.format {
        Format::Csv => {
            rows_of.write(store, table, document, range, csv::CsvSink::new(file, entity, req.dmf_unicode), &pb)
        }
        Format::Parquet => match parquet::ParquetSink::new(file, entity) {
            Ok(sink) => rows_of.write(store, table, document, range, sink, &pb),
            Err(m) => Ok((0, Err(m))),
        },
    };
    pb.finish_and_clear();
    let (rows, finished) = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    };
    stage.done(rows, "rows");
    let file = match finished {
        Ok(f) => f,
        Err(m) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(werr(&tmp, m));
        }
    };
    if rows == 0 && req.job.is_some() {
        drop(file);
        let _ = std::fs::remove_file(&tmp);
        if let Some(job) = &req.job {
            store.finish_export(job, &entity.name, range.to)?;
        }
        report.note =
            format!("no {} rows changed in versions {}–{}: no file written", entity.name, range.from + 1, range.to);
        return Ok(report);
    }
    file.sync_all().map_err(|e| werr(&tmp, e.to_string()))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(|e| werr(&path, e.to_string()))?;
    if let Ok(dir) = File::open(&req.out) {
        let _ = dir.sync_all();
    }
    if std::env::var_os("INVOICEFLOW_TEST_CRASH_AFTER_PUBLISH").is_some() {
        // Test hook: die between publishing the file and moving the watermark.
        std::process::abort();
    }
    if let Some(job) = &req.job {
        store.finish_export(job, &entity.name, range.to)?;
    }
    report.rows = rows;
    report.files.push(path.display().to_string());
    report.note = match &req.job {
        Some(_) => format!(
            "{rows} rows of versions {}–{}{}",
            range.from + 1,
            range.to,
            if range.resumed { " (an interrupted export, redone)" } else { "" }
        ),
        None => format!("{rows} rows, full export at version {}", range.to),
    };
    Ok(report)
}

fn sources(entity: &Entity, table: ExportTable, columns: &[String]) -> Vec<Source> {
    let col = |name: &str| columns.iter().position(|c| c == name);
    let one_discount = table == ExportTable::Lines
        && entity.role_index(Role::DiscountPercent).is_none()
        && entity.role_index(Role::DiscountPerUnit).is_none();
    let total_discount = || -> Option<Source> {
        Some(Source::TotalDiscount([
            col("quantity")?,
            col("unit_price")?,
            col("price_unit")?,
            col("charge_amount")?,
            col("net_amount")?,
        ]))
    };
    entity
        .fields
        .iter()
        .map(|f| {
            if one_discount && f.role == Some(Role::DiscountAmount) {
                if let Some(s) = total_discount() {
                    return s;
                }
            }
            let by_store = f.store.as_deref().and_then(col);
            let by_role = f.role.and_then(|r| match table {
                ExportTable::Invoices => header_column(r),
                ExportTable::Lines => line_column(r),
                _ => None,
            });
            match (by_store, by_role.and_then(col)) {
                (Some(c), _) | (None, Some(c)) => Source::Column(c),
                _ if matches!(table, ExportTable::Invoices | ExportTable::Lines) => Source::Extra(f.name.clone()),
                _ => Source::Empty,
            }
        })
        .collect()
}

/// How the rows of one export are made from the store's rows.
struct Rows<'e> {
    entity: &'e Entity,
    catalog: &'e Catalog,
    sources: Vec<Source>,
    extras_col: Option<usize>,
    entity_col: Option<usize>,
    /// Fields without a role held by index: per entity a row came from, by index of a field
    /// there, the exported field it is.
    by_entity: std::collections::HashMap<String, Vec<Option<usize>>>,
    /// The buffer of a row's fields without a role, by exported field.
    spare: Vec<Option<&'static str>>,
}

impl Rows<'_> {
    /// Scans the store into `sink`: the rows written, and the file or why writing failed.
    fn write<S: Sink>(
        mut self,
        store: &Store,
        table: ExportTable,
        document: Option<crate::entity::DocumentKind>,
        range: ExportRange,
        mut sink: S,
        pb: &indicatif::ProgressBar,
    ) -> Result<(u64, Result<File, String>), StoreError> {
        let mut rows = 0u64;
        let scanned = store.scan(table, document, range, |row| {
            if rows.is_multiple_of(4096) {
                pb.set_position(rows);
            }
            self.row(row, &mut sink)?;
            rows += 1;
            Ok(())
        })?;
        Ok((rows, scanned.and_then(|()| sink.finish())))
    }

    fn row<S: Sink>(&mut self, row: &ScanRow<'_, '_>, sink: &mut S) -> Result<(), String> {
        let mut slots = recycle(std::mem::take(&mut self.spare));
        let extras = match self.extras_col.map(|c| row.cell(c)) {
            Some(CellRef::Fields(fields)) => {
                let source = self.entity_col.and_then(|c| row.get(c)).unwrap_or_default();
                if !self.by_entity.contains_key(source) {
                    let mut exported = Vec::new();
                    if let Some(of) = self.catalog.get(source) {
                        for (k, f) in self.entity.fields.iter().enumerate() {
                            if let Some(i) = of.field_index(&f.name) {
                                if exported.len() <= i {
                                    exported.resize(i + 1, None);
                                }
                                exported[i] = Some(k);
                            }
                        }
                    }
                    self.by_entity.insert(source.to_string(), exported);
                }
                // One pass over the row's fields puts each where the export wants it.
                let exported = &self.by_entity[source];
                slots.resize(self.entity.fields.len(), None);
                for (i, t) in fields.iter() {
                    if let Some(k) = exported.get(usize::from(i)).copied().flatten() {
                        slots[k] = Some(t);
                    }
                }
                Extras::Fields(&slots)
            }
            Some(CellRef::Text(t)) if t != "{}" => serde_json::from_str(t).map(Extras::Json).unwrap_or(Extras::None),
            _ => Extras::None,
        };
        let mut written = Ok(());
        for (k, (f, s)) in self.entity.fields.iter().zip(&self.sources).enumerate() {
            written = sink.value(k, &value(row, &f.ty, s, &extras, k));
            if written.is_err() {
                break;
            }
        }
        drop(extras);
        self.spare = recycle(slots);
        written?;
        sink.end_row()
    }
}

/// An emptied buffer of borrowed texts, for borrows of another lifetime: the allocation is
/// kept (the collect reuses it in place), so a row costs none.
fn recycle<'b>(mut v: Vec<Option<&str>>) -> Vec<Option<&'b str>> {
    v.clear();
    v.into_iter().map(|_| None).collect()
}

/// The fields without a role of an exported row.
enum Extras<'r> {
    /// None.
    None,
    /// By name (as stored in a row table).
    Json(serde_json::Map<String, serde_json::Value>),
    /// By exported field: `slots[k]` is the text of exported field `k`.
    Fields(&'r [Option<&'r str>]),
}

fn value<'r>(row: &'r ScanRow<'_, '_>, ty: &'r FieldType, s: &Source, extras: &Extras<'r>, k: usize) -> Value<'r> {
    match s {
        Source::Column(c) => match row.cell(*c) {
            CellRef::Text(t) => Value::Text(t),
            CellRef::Dec(d) => Value::Dec(d),
            CellRef::Int(i) => match ty {
                FieldType::Enum(names) => match names.get(i as usize) {
                    Some(n) => Value::Text(n),
                    None => Value::Int(i),
                },
                _ => Value::Int(i),
            },
            CellRef::Null | CellRef::Fields(_) => Value::Null,
        },
        Source::Extra(name) => match extras {
            Extras::None => Value::Null,
            Extras::Json(m) => match m.get(name).and_then(|v| v.as_str()) {
                Some(v) => Value::Owned(v.to_string()),
                None => Value::Null,
            },
            Extras::Fields(slots) => slots.get(k).copied().flatten().map_or(Value::Null, Value::Text),
        },
        Source::TotalDiscount(columns) => total_discount(row, columns).map_or(Value::Null, Value::Dec),
        Source::Empty => Value::Null,
    }
}

/// See [`Source::TotalDiscount`].
fn total_discount(row: &ScanRow<'_, '_>, [q, p, pu, c, n]: &[usize; 5]) -> Option<rust_decimal::Decimal> {
    let d = |i: usize| match row.cell(i) {
        CellRef::Dec(d) => Some(d),
        CellRef::Text(t) => t.parse::<rust_decimal::Decimal>().ok(),
        _ => None,
    };
    let (q, p, pu, c, n) = (d(*q)?, d(*p)?, d(*pu)?, d(*c)?, d(*n)?);
    let pu = if pu.is_zero() { rust_decimal::Decimal::ONE } else { pu };
    // Stored amounts are within the amount limit, so this cannot overflow.
    let total = q.checked_mul(p)?.checked_div(pu)?.checked_add(c)?.checked_sub(n)?;
    let total = total.round_dp_with_strategy(6, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    Some(total.normalize())
}

/// Writes a CSV file of `entity` (columns by OData or staging name) as Parquet with the
/// entity's schema (every field; absent ones null). For generated test data.
pub fn csv_to_parquet(entity: &Entity, csv_path: &Path, out: &Path) -> Result<u64, String> {
    let open = || ::csv::Reader::from_path(csv_path).map_err(|e| format!("{}: {e}", csv_path.display()));
    let mut reader = open()?;
    let columns: Vec<Option<usize>> =
        reader.headers().map_err(|e| e.to_string())?.iter().map(|c| entity.field_index(c)).collect();
    // A first pass finds the columns with values their type cannot hold (defective test data):
    // those are written as text, so that reading the file rejects the rows as it would the CSV.
    let mut as_text = vec![false; entity.fields.len()];
    let mut rec = ::csv::StringRecord::new();
    while reader.read_record(&mut rec).map_err(|e| e.to_string())? {
        for (v, c) in rec.iter().zip(&columns) {
            if let Some(i) = *c {
                if !v.is_empty() && !as_text[i] && !parquet::fits(&entity.fields[i].ty, v) {
                    as_text[i] = true;
                }
            }
        }
    }
    let mut reader = open()?;
    reader.headers().map_err(|e| e.to_string())?;
    let file = File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut sink = parquet::ParquetSink::with_text_columns(file, entity, &as_text)?;
    let mut rows = 0u64;
    let mut at: Vec<Option<usize>> = vec![None; entity.fields.len()];
    for (k, c) in columns.iter().enumerate() {
        if let Some(i) = c {
            at[*i] = Some(k);
        }
    }
    while reader.read_record(&mut rec).map_err(|e| e.to_string())? {
        for (k, c) in at.iter().enumerate() {
            sink.value(k, &c.and_then(|c| rec.get(c)).map_or(Value::Null, Value::Text))?;
        }
        sink.end_row()?;
        rows += 1;
    }
    sink.finish()?.sync_all().map_err(|e| e.to_string())?;
    Ok(rows)
}
