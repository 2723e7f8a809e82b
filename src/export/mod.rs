//! Entity exports from the store: CSV (DMF column names) and Parquet (exact decimals), full or
//! incremental per named job. A file is written to a temp name, synced and renamed; a job's
//! watermark moves only after that, and an interrupted range is redone into the same file
//! name, so a consumer gets every row exactly once. Exports print what posting computed; they
//! compute no money.

mod csv;
mod parquet;
pub mod proforma;

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::entity::{Catalog, Entity, EntityKind, FieldType, Role};
use crate::store::{ExportRange, ExportTable, ScanRow, Store, StoreError};

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

/// Receives rows of field texts and writes them.
trait Sink {
    fn push(&mut self, values: &[Option<Cow<'_, str>>]) -> Result<(), String>;
    fn finish(self: Box<Self>) -> Result<File, String>;
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
    let sources = sources(entity, table, &columns);
    let extras_col = columns.iter().position(|c| c == "extras");
    let entity_col = columns.iter().position(|c| c == "line_entity");
    // Fields without a role held by index: the index of each exported field's name in the
    // entity the row came from, per such entity.
    let mut by_entity: std::collections::HashMap<String, Vec<Option<u16>>> = std::collections::HashMap::new();
    let name = file_name(&entity.name, range, req.job.is_some(), req.format);
    let path = req.out.join(&name);
    let tmp = req.out.join(format!(".{name}.tmp"));
    let werr = |p: &Path, m: String| ExportError::Write { path: p.to_path_buf(), message: m };
    let file = File::create(&tmp).map_err(|e| werr(&tmp, e.to_string()))?;
    let mut sink: Box<dyn Sink> = match req.format {
        Format::Csv => Box::new(csv::CsvSink::new(file, entity, req.dmf_unicode)),
        Format::Parquet => Box::new(parquet::ParquetSink::new(file, entity).map_err(|m| werr(&tmp, m))?),
    };
    let stage = crate::progress::Stage::start("export", format!("{} {:?}", entity.name, req.format));
    let pb = crate::progress::spinner(&format!("export {}", entity.name), "rows");
    let mut rows = 0u64;
    let scanned = store.scan(table, document, range, |row| {
        if rows.is_multiple_of(4096) {
            pb.set_position(rows);
        }
        let fields = extras_col.and_then(|c| row.fields(c));
        let extras = match fields {
            Some(fields) => {
                let source = entity_col.and_then(|c| row.get(c)).unwrap_or_default();
                if !by_entity.contains_key(source) {
                    let of = catalog.get(source);
                    let index = entity
                        .fields
                        .iter()
                        .map(|f| of.and_then(|e| e.field_index(&f.name)).and_then(|i| u16::try_from(i).ok()))
                        .collect();
                    by_entity.insert(source.to_string(), index);
                }
                Extras::Fields { index: &by_entity[source], fields }
            }
            None => match extras_col.and_then(|c| row.get(c)).filter(|t| *t != "{}") {
                Some(t) => serde_json::from_str(t).map(Extras::Json).unwrap_or(Extras::None),
                None => Extras::None,
            },
        };
        let values: Vec<Option<Cow<'_, str>>> = entity
            .fields
            .iter()
            .zip(&sources)
            .enumerate()
            .map(|(k, (f, s))| value(row, &f.ty, s, &extras, k))
            .collect();
        rows += 1;
        sink.push(&values)
    })?;
    let finished = scanned.and_then(|()| sink.finish());
    pb.finish_and_clear();
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

/// The fields without a role of an exported row.
enum Extras<'r> {
    /// None.
    None,
    /// By name (as stored in a row table).
    Json(serde_json::Map<String, serde_json::Value>),
    /// By index in the row's own entity; `index[k]` is the index of exported field `k` there.
    Fields {
        /// Per exported field, its index in the row's entity.
        index: &'r [Option<u16>],
        /// (index, text).
        fields: &'r [(u16, String)],
    },
}

fn value<'r>(
    row: &'r ScanRow<'_, '_>,
    ty: &FieldType,
    s: &Source,
    extras: &Extras<'r>,
    k: usize,
) -> Option<Cow<'r, str>> {
    match s {
        Source::Column(c) => match row.get(*c) {
            Some(t) => Some(Cow::Borrowed(t)),
            None => row.int(*c).map(|i| match ty {
                FieldType::Enum(names) => Cow::Owned(names.get(i as usize).cloned().unwrap_or_else(|| i.to_string())),
                _ => Cow::Owned(i.to_string()),
            }),
        },
        Source::Extra(name) => match extras {
            Extras::None => None,
            Extras::Json(m) => m.get(name).and_then(|v| v.as_str()).map(|v| Cow::Owned(v.to_string())),
            Extras::Fields { index, fields } => {
                let i = index.get(k).copied().flatten()?;
                fields.iter().find(|(f, _)| *f == i).map(|(_, t)| Cow::Borrowed(t.as_str()))
            }
        },
        Source::TotalDiscount([q, p, pu, c, n]) => {
            let d = |i: usize| row.get(i).and_then(|t| t.parse::<rust_decimal::Decimal>().ok());
            let (q, p, pu, c, n) = (d(*q)?, d(*p)?, d(*pu)?, d(*c)?, d(*n)?);
            let pu = if pu.is_zero() { rust_decimal::Decimal::ONE } else { pu };
            // Stored amounts are within the amount limit, so this cannot overflow.
            let total = q.checked_mul(p)?.checked_div(pu)?.checked_add(c)?.checked_sub(n)?;
            let total = total.round_dp_with_strategy(6, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            Some(Cow::Owned(total.normalize().to_string()))
        }
        Source::Empty => None,
    }
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
    while reader.read_record(&mut rec).map_err(|e| e.to_string())? {
        let mut values: Vec<Option<Cow<'_, str>>> = vec![None; entity.fields.len()];
        for (v, c) in rec.iter().zip(&columns) {
            if let Some(i) = c {
                values[*i] = Some(Cow::Borrowed(v));
            }
        }
        sink.push(&values)?;
        rows += 1;
    }
    Box::new(sink).finish()?.sync_all().map_err(|e| e.to_string())?;
    Ok(rows)
}
