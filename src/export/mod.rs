//! Entity exports from the store: CSV (DMF column names) and Parquet (exact decimals), full or
//! incremental per named job. A file is written to a temp name, synced and renamed; a job's
//! watermark moves only after that, and an interrupted range is redone into the same file
//! name, so a consumer gets every row exactly once. Exports print what posting computed; they
//! compute no money.

mod csv;
mod parquet;
pub use parquet::properties as parquet_properties;
pub mod proforma;
mod value;

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::entity::{Catalog, Entity, EntityKind, FieldType, Role};
use crate::store::{BodyChunk, CellRef, ExportRange, ExportTable, ScanRow, Store, StoreError};
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
    /// CSV for spreadsheets: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a CR
    /// gets a `'` in front, so that a spreadsheet shows it instead of running it as a formula
    /// (OWASP's advice on CSV injection). Off by default: the file then holds the values as
    /// they are and imports back unchanged. Numbers and dates are never touched.
    pub spreadsheet_safe: bool,
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
        Role::TotalNet => "tax_exclusive",
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

/// Receives rows field by field.
trait Sink {
    /// The value of field `k` of the current row (fields come in order, each once).
    fn value(&mut self, k: usize, v: &Value<'_>) -> Result<(), String>;
    /// Ends the current row.
    fn end_row(&mut self) -> Result<(), String>;
}

/// Why writing an export failed.
enum Failure {
    /// Writing (or a value its column cannot hold).
    Write(String),
    /// A stored body that does not read back.
    Damaged(crate::store::Damaged),
}

/// Makes the parts of one export's file.
enum Maker {
    /// CSV, UTF-8 or UTF-16; with `guard`, the text columns whose cells are made safe for
    /// spreadsheets ([`ExportRequest::spreadsheet_safe`]).
    Csv { utf16: bool, guard: Option<std::sync::Arc<[bool]>> },
    /// Parquet of this shape.
    Parquet(parquet::Shape),
}

impl Maker {
    /// Rows per part: a Parquet part is one record batch.
    fn rows(&self) -> usize {
        match self {
            Maker::Csv { .. } => 4_096,
            Maker::Parquet(_) => parquet::BATCH,
        }
    }

    /// Threads making parts from chunks copied out of the store (for CSV, as many as `--threads`
    /// says, at most four); with one, the parts are made on the thread reading the store, with
    /// no copy ([`Rows::write_rows`]). A record batch is
    /// ~35 MB and its encoding (on the writer's thread) takes about as long as making it: one
    /// maker keeps both cores busy, where more would add copies and batches in memory (measured:
    /// 2.3–2.6 s and 420–500 MB against 2.0 s and 253 MB for the line export of 1M lines).
    fn workers(&self) -> usize {
        match self {
            Maker::Csv { .. } => rayon::current_num_threads().clamp(1, 4),
            Maker::Parquet(_) => 1,
        }
    }

    /// An empty part, sized like a part made before (`like`), so that it seldom grows by
    /// copying.
    fn sink(&self, like: &Sizes) -> Result<PartSink<'_>, String> {
        Ok(match self {
            Maker::Csv { utf16, guard } => {
                let bytes = like.0.first().map_or(1 << 20, |b| b + b / 8);
                PartSink::Csv(Box::new(csv::CsvPart::new(*utf16, bytes).guarding(guard.clone())))
            }
            Maker::Parquet(shape) => PartSink::Parquet(shape.batch(&like.0)?),
        })
    }
}

/// A part being made.
enum PartSink<'m> {
    Csv(Box<csv::CsvPart>),
    Parquet(parquet::BatchBuilder<'m>),
}

impl PartSink<'_> {
    fn finish(self) -> Result<Part, String> {
        Ok(match self {
            PartSink::Csv(p) => Part::Csv(p.finish()?),
            PartSink::Parquet(b) => Part::Parquet(b.finish()?),
        })
    }
}

impl Sink for PartSink<'_> {
    fn value(&mut self, k: usize, v: &Value<'_>) -> Result<(), String> {
        match self {
            PartSink::Csv(p) => p.value(k, v),
            PartSink::Parquet(b) => b.value(k, v),
        }
    }

    fn end_row(&mut self) -> Result<(), String> {
        match self {
            PartSink::Csv(p) => p.end_row(),
            PartSink::Parquet(b) => b.end_row(),
        }
    }
}

/// A part made: CSV bytes, or a record batch.
enum Part {
    Csv(Vec<u8>),
    Parquet(arrow_array::RecordBatch),
}

/// The sizes of a part: the bytes of a CSV part; of a record batch, the text bytes per column.
#[derive(Debug, Default)]
struct Sizes(Vec<usize>);

impl Part {
    fn sizes(&self) -> Sizes {
        Sizes(match self {
            Part::Csv(bytes) => vec![bytes.len()],
            Part::Parquet(batch) => parquet::text_bytes(batch),
        })
    }
}

/// Writes the parts into the file.
enum FileWriter {
    Csv(csv::CsvFile),
    Parquet(Box<::parquet::arrow::ArrowWriter<File>>),
}

/// Writes the parts received, in the order of their numbers, and hands back the file; the
/// first failure ends it (then the parts' makers stop, their sends refused).
fn write_parts(
    mut writer: FileWriter,
    parts: std::sync::mpsc::Receiver<(usize, Result<Part, Failure>)>,
) -> Result<File, Failure> {
    let mut next = 0;
    let mut waiting = std::collections::BTreeMap::new();
    for (seq, part) in parts {
        waiting.insert(seq, part?);
        while let Some(part) = waiting.remove(&next) {
            match (&mut writer, part) {
                (FileWriter::Csv(w), Part::Csv(bytes)) => w.write(&bytes),
                (FileWriter::Parquet(w), Part::Parquet(batch)) => w.write(&batch).map_err(|e| e.to_string()),
                _ => Err("a part of another format".to_string()),
            }
            .map_err(Failure::Write)?;
            next += 1;
        }
    }
    if !waiting.is_empty() {
        return Err(Failure::Write(format!("part {next} of the export was never made")));
    }
    match writer {
        FileWriter::Csv(w) => w.finish(),
        FileWriter::Parquet(w) => w.into_inner().map_err(|e| e.to_string()),
    }
    .map_err(Failure::Write)
}

/// The file name of an export: entity, job range or full snapshot, extension.
pub fn file_name(entity: &str, range: ExportRange, incremental: bool, format: Format) -> String {
    if incremental {
        format!("{entity}_v{:08}-v{:08}.{}", range.from + 1, range.to, format.ext())
    } else {
        format!("{entity}_full_v{:08}.{}", range.to, format.ext())
    }
}

/// The entity name in the stem of an export's file name ([`file_name`]:
/// `SalesInvoiceHeaderV2_full_v00005000`, `SalesInvoiceHeaderV2_v00005001-v00006000`), so that
/// an export imports back without naming its entity. `None` for any other stem.
pub fn entity_of_file_stem(stem: &str) -> Option<&str> {
    let digits = |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit());
    let (entity, tail) = stem.rsplit_once('_')?;
    if let Some(to) = tail.strip_prefix('v').and_then(|t| t.split_once("-v")) {
        return (digits(to.0) && digits(to.1)).then_some(entity);
    }
    let (entity, full) = entity.rsplit_once('_')?;
    (full == "full" && tail.strip_prefix('v').is_some_and(digits)).then_some(entity)
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
        by_entity: Vec::new(),
        spare: Vec::new(),
    };
    let name = file_name(&entity.name, range, req.job.is_some(), req.format);
    let path = req.out.join(&name);
    let tmp = req.out.join(format!(".{name}.tmp"));
    let werr = |p: &Path, m: String| ExportError::Write { path: p.to_path_buf(), message: m };
    let file = File::create(&tmp).map_err(|e| werr(&tmp, e.to_string()))?;
    let stage = crate::progress::Stage::start("export", format!("{} {:?}", entity.name, req.format));
    let pb = crate::progress::spinner(&format!("export {}", entity.name), "rows");
    let maker = match req.format {
        Format::Csv => Maker::Csv {
            utf16: req.dmf_unicode,
            guard: req.spreadsheet_safe.then(|| {
                entity.fields.iter().map(|f| matches!(f.ty, FieldType::String { .. } | FieldType::Enum(_))).collect()
            }),
        },
        Format::Parquet => Maker::Parquet(parquet::Shape::new(entity)),
    };
    let writer = match &maker {
        Maker::Csv { utf16, .. } => csv::CsvFile::new(file, entity, *utf16).map(FileWriter::Csv),
        Maker::Parquet(shape) => shape.writer(file).map(|w| FileWriter::Parquet(Box::new(w))),
    };
    let scan = Scan { table, document, range };
    let written = match writer {
        Ok(writer) if table.has_body() && maker.workers() > 1 => rows_of.write_chunks(store, scan, &maker, writer, &pb),
        Ok(writer) => rows_of.write_rows(store, scan, &maker, writer, &pb),
        Err(m) => Ok((0, Err(Failure::Write(m)))),
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
    let finished = finished.map_err(|f| match f {
        Failure::Write(m) => werr(&tmp, m),
        Failure::Damaged(d) => ExportError::Store(store.damaged(d)),
    });
    let file = match finished {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
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

/// What writing an export's rows gave: the rows written, and the file or why writing failed
/// (the store's failure apart).
type Written = Result<(u64, Result<File, Failure>), StoreError>;

/// What an export reads: the table, the document kind, the versions.
#[derive(Debug, Clone, Copy)]
struct Scan {
    table: ExportTable,
    document: Option<crate::entity::DocumentKind>,
    range: ExportRange,
}

/// How the rows of one export are made from the store's rows.
#[derive(Clone)]
struct Rows<'e> {
    entity: &'e Entity,
    catalog: &'e Catalog,
    sources: Vec<Source>,
    extras_col: Option<usize>,
    entity_col: Option<usize>,
    /// Fields without a role held by index: per entity a row came from, by index of a field
    /// there, the exported field it is.
    /// (A list searched in order: an export's rows come from one or two entities.)
    by_entity: Vec<(String, Vec<Option<usize>>)>,
    /// The buffer of a row's fields without a role, by exported field.
    spare: Vec<Option<&'static str>>,
}

impl Rows<'_> {
    /// Scans the store into parts made on this thread, written in order by a writer thread.
    fn write_rows(
        mut self,
        store: &Store,
        scan: Scan,
        maker: &Maker,
        writer: FileWriter,
        pb: &indicatif::ProgressBar,
    ) -> Written {
        std::thread::scope(|s| {
            // One part being made, one being written.
            let (parts, received) = std::sync::mpsc::sync_channel(0);
            let writing = s.spawn(move || write_parts(writer, received));
            let mut rows = 0u64;
            let mut seq = 0;
            let mut part: Option<PartSink<'_>> = None;
            let mut like = Sizes::default();
            let mut in_part = 0;
            let send = |sink: PartSink<'_>, like: &mut Sizes, seq: &mut usize| -> Result<(), String> {
                let made = sink.finish();
                if let Ok(p) = &made {
                    *like = p.sizes();
                }
                let sent = parts.send((*seq, made.map_err(Failure::Write)));
                *seq += 1;
                // A writer that stopped says why when joined.
                sent.map_err(|_| String::from("the writer stopped"))
            };
            let scanned = store.scan(scan.table, scan.document, scan.range, |row| {
                if rows.is_multiple_of(4096) {
                    pb.set_position(rows);
                }
                let sink = match &mut part {
                    Some(sink) => sink,
                    None => part.insert(maker.sink(&like)?),
                };
                self.row(row, sink)?;
                rows += 1;
                in_part += 1;
                if in_part == maker.rows() {
                    if let Some(sink) = part.take() {
                        send(sink, &mut like, &mut seq)?;
                    }
                    in_part = 0;
                }
                Ok(())
            });
            let last = match (&scanned, part) {
                (Ok(Ok(())), Some(sink)) => send(sink, &mut like, &mut seq),
                _ => Ok(()),
            };
            drop(parts);
            let written = writing.join().unwrap_or_else(|_| Err(Failure::Write("the writer failed".into())));
            let scanned = scanned?;
            // The writer's error first: a scan stopped by it says only that it stopped.
            let finished = written.and_then(|f| scanned.and(last).map(|()| f).map_err(Failure::Write));
            Ok((rows, finished))
        })
    }

    /// Reads a body table in chunks that worker threads ([`Maker::workers`]) make into parts,
    /// written in order by a writer thread. The parts are the same whatever the number of
    /// workers.
    fn write_chunks(
        self,
        store: &Store,
        scan: Scan,
        maker: &Maker,
        writer: FileWriter,
        pb: &indicatif::ProgressBar,
    ) -> Written {
        let workers = maker.workers();
        let (chunks, work) = std::sync::mpsc::sync_channel::<(usize, BodyChunk)>(1);
        // Held by the workers only: when the last one stops, sending more chunks fails.
        let work = std::sync::Arc::new(std::sync::Mutex::new(work));
        std::thread::scope(|s| {
            let (parts, received) = std::sync::mpsc::sync_channel(workers);
            let writing = s.spawn(move || write_parts(writer, received));
            for _ in 0..workers {
                let (parts, work, mut rows_of) = (parts.clone(), std::sync::Arc::clone(&work), self.clone());
                s.spawn(move || {
                    let mut like = Sizes::default();
                    loop {
                        let job = work.lock().map_err(|_| ()).and_then(|w| w.recv().map_err(|_| ()));
                        let Ok((seq, chunk)) = job else { break };
                        let part = rows_of.part(maker, &chunk, &like);
                        if let Ok(p) = &part {
                            like = p.sizes();
                        }
                        if parts.send((seq, part)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop((parts, work));
            let mut rows = 0u64;
            let mut seq = 0;
            let scanned = store.scan_chunks(scan.table, scan.document, scan.range, maker.rows(), |chunk| {
                rows += chunk.rows() as u64;
                pb.set_position(rows);
                let sent = chunks.send((seq, chunk)).is_ok();
                seq += 1;
                sent
            });
            drop(chunks);
            let written = writing.join().unwrap_or_else(|_| Err(Failure::Write("the writer failed".into())));
            scanned.map(|()| (rows, written))
        })
    }

    /// The part of one chunk.
    fn part(&mut self, maker: &Maker, chunk: &BodyChunk, like: &Sizes) -> Result<Part, Failure> {
        let mut sink = maker.sink(like).map_err(Failure::Write)?;
        chunk.scan(|row| self.row(row, &mut sink)).map_err(Failure::Damaged)?.map_err(Failure::Write)?;
        sink.finish().map_err(Failure::Write)
    }

    fn row<S: Sink>(&mut self, row: &ScanRow<'_, '_>, sink: &mut S) -> Result<(), String> {
        let mut slots = recycle(std::mem::take(&mut self.spare));
        let extras = match self.extras_col.map(|c| row.cell(c)) {
            Some(CellRef::Fields(fields)) => {
                let source = self.entity_col.and_then(|c| row.get(c)).unwrap_or_default();
                let known = match self.by_entity.iter().position(|(name, _)| name == source) {
                    Some(at) => at,
                    None => {
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
                        self.by_entity.push((source.to_string(), exported));
                        self.by_entity.len() - 1
                    }
                };
                // One pass over the row's fields puts each where the export wants it.
                let exported = &self.by_entity[known].1;
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
    let shape = parquet::Shape::with_text_columns(entity, &as_text);
    let mut writer = shape.writer(file)?;
    let mut batch = shape.batch(&[])?;
    let mut in_batch = 0;
    let mut rows = 0u64;
    let mut at: Vec<Option<usize>> = vec![None; entity.fields.len()];
    for (k, c) in columns.iter().enumerate() {
        if let Some(i) = c {
            at[*i] = Some(k);
        }
    }
    while reader.read_record(&mut rec).map_err(|e| e.to_string())? {
        for (k, c) in at.iter().enumerate() {
            batch.value(k, &c.and_then(|c| rec.get(c)).map_or(Value::Null, Value::Text))?;
        }
        batch.end_row()?;
        rows += 1;
        in_batch += 1;
        if in_batch == parquet::BATCH {
            writer.write(&std::mem::replace(&mut batch, shape.batch(&[])?).finish()?).map_err(|e| e.to_string())?;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        writer.write(&batch.finish()?).map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())?.sync_all().map_err(|e| e.to_string())?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entity_of_an_export_is_read_back_from_its_file_name() {
        let r = ExportRange { from: 5000, to: 6000, resumed: false };
        for (incremental, format) in [(false, Format::Csv), (true, Format::Parquet)] {
            let name = file_name("SalesInvoiceHeaderV2", r, incremental, format);
            let stem = name.rsplit_once('.').unwrap().0;
            assert_eq!(entity_of_file_stem(stem), Some("SalesInvoiceHeaderV2"), "{name}");
        }
        for stem in
            ["SalesInvoiceHeaderV2", "Headers_full_v123", "X_full_vABCDEFGH", "X_v00000001-00000002", "_full_v00000001"]
        {
            assert_eq!(entity_of_file_stem(stem).filter(|e| !e.is_empty()), None, "{stem}");
        }
    }

    fn csv_file(dir: &Path) -> (PathBuf, FileWriter) {
        let entity = Catalog::builtin().get("CustomerTransaction").unwrap();
        let path = dir.join("out.csv");
        let writer = csv::CsvFile::new(File::create(&path).unwrap(), entity, false).unwrap();
        (path, FileWriter::Csv(writer))
    }

    #[test]
    fn parts_are_written_in_their_order_whatever_order_they_come_in() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer) = csv_file(dir.path());
        let (parts, received) = std::sync::mpsc::sync_channel(4);
        for (seq, text) in [(2, "c\n"), (0, "a\n"), (3, "d\n"), (1, "b\n")] {
            parts.send((seq, Ok(Part::Csv(text.as_bytes().to_vec())))).unwrap();
        }
        drop(parts);
        assert!(write_parts(writer, received).is_ok());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("\na\nb\nc\nd\n"), "{text}");
    }

    #[test]
    fn a_missing_or_failed_part_fails_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (_, writer) = csv_file(dir.path());
        let (parts, received) = std::sync::mpsc::sync_channel(4);
        parts.send((1, Ok(Part::Csv(b"b\n".to_vec())))).unwrap();
        drop(parts);
        match write_parts(writer, received) {
            Err(Failure::Write(m)) => assert_eq!(m, "part 0 of the export was never made"),
            _ => panic!("a missing part went unnoticed"),
        }
        let (_, writer) = csv_file(dir.path());
        let (parts, received) = std::sync::mpsc::sync_channel(4);
        parts.send((0, Err(Failure::Write("column X: `y` is not a decimal".into())))).unwrap();
        drop(parts);
        match write_parts(writer, received) {
            Err(Failure::Write(m)) => assert_eq!(m, "column X: `y` is not a decimal"),
            _ => panic!("a failed part went unnoticed"),
        }
    }
}
