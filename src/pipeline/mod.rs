//! The job: stages in order — master data, entity files (read → map → type), cross-row
//! validation, rejects — with progress on stderr and a run summary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::ProgressBar;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::entity::{Catalog, Entity, EntityKind};
use crate::map::{Mapping, MappingError, Plan};
use crate::model::master::MasterData;
use crate::model::totals::RoundingPolicy;
use crate::model::{Date, Invoice, InvoiceHeader, InvoiceLine};
use crate::read::{self, csv::CsvOptions, Origin, RawBatch, ReadError};
use crate::rejects::{self, RejectLog, RejectSource, RejectsError};
use crate::validate::field::Value;
use crate::validate::invoice::{self, Context, EarlyReject};
use crate::validate::{self, Reject};

pub mod drafts;
mod posting;
pub mod push;
mod stream;
mod summary;

pub use posting::{PostReport, PostRequest};
pub use push::PushReport;
pub use summary::{Summary, Validated};

/// An operational failure: the run stops, nothing of the failing stage is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// A file cannot be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A mapping file is broken.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// Rejects cannot be written.
    #[error(transparent)]
    Rejects(#[from] RejectsError),
    /// The store failed; the failing batch was rolled back.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The job file is broken.
    #[error("{path}: {message}")]
    JobFile {
        /// The job file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An input is named wrongly.
    #[error("{0}")]
    Input(String),
}

/// What an import's files say about the invoices of the store (see [`push`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Push {
    /// Each invoice of the files replaces the stored draft with its key whole; nothing else
    /// is touched.
    #[default]
    Replace,
    /// As `replace`, and the header files are the complete set of their entity for each legal
    /// entity they name: drafts they no longer hold are removed, posted ones reported.
    Full,
    /// The files hold new and changed rows only: invoices of the store are completed from them
    /// (lines merged by line number).
    Incremental,
}

/// One entity file to import.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Entity name (as in the catalog).
    pub entity: String,
    /// The file.
    pub path: PathBuf,
    /// Its mapping, for legacy layouts.
    pub mapping: Option<Arc<Mapping>>,
    /// Push mode.
    pub push: Push,
}

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// Entity files.
    pub files: Vec<InputFile>,
    /// Folder of master data files (`Customer.csv`, `SalesTaxCode.csv`, …).
    pub master_dir: PathBuf,
    /// Legal entity for rows without dataAreaId.
    pub legal_entity: String,
    /// Where rejects files go; none are written when `None`.
    pub rejects_dir: Option<PathBuf>,
    /// Write each file's rejects in its own dialect (delimiter, encoding, BOM, line ends), to
    /// be corrected and fed back through the same mapping; else UTF-8 with commas.
    pub rejects_like_source: bool,
    /// Records per batch.
    pub batch_size: usize,
    /// The run date (plausibility of dates).
    pub run_date: Date,
    /// Show progress bars on stderr (when it is a terminal).
    pub progress: bool,
    /// Post the accepted invoices into a store (or compute them pro forma); validate only
    /// when `None`.
    pub post: Option<PostRequest>,
    /// Mappings for the master data files: a master entity's file is the one named after it
    /// or matched by a mapping's `files` patterns for it, read through the mapping that
    /// describes it (`[entity.Customer]`: columns, value maps, formats, the file's encoding).
    pub master_mappings: Vec<std::sync::Arc<Mapping>>,
}

/// Counts of one file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileReport {
    /// Entity.
    pub entity: String,
    /// The file as given.
    pub file: String,
    /// Data records read.
    pub read: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Records identical to what the store holds (no store yet: 0).
    pub unchanged: u64,
    /// Encoding found.
    pub encoding: String,
    /// Columns no field uses (reported once per file).
    pub unknown_columns: Vec<String>,
    /// Push mode.
    pub push: Option<Push>,
    /// This file's rejects file, when it has rejects.
    pub rejects_file: Option<String>,
}

/// Rejects per rule, for the summary.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RuleCount {
    /// Rule id.
    pub rule: String,
    /// Rows rejected under it.
    pub rows: u64,
}

/// How many rejects the summary lists by themselves (all of them are in the rejects files).
pub const FIRST_REJECTS: usize = 20;

/// One reject as the summary lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RejectEntry {
    /// The file (or the store's drafts).
    pub file: String,
    /// Line where the row starts.
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// Rule id.
    pub rule: String,
    /// What is wrong and what fixes it.
    pub message: String,
}

/// What an import did.
#[derive(Debug)]
pub struct ImportOutcome {
    /// Entity files, in the order given.
    pub imports: Vec<FileReport>,
    /// Master data files.
    pub master: Vec<FileReport>,
    /// Counts of the accepted invoices.
    pub validated: Validated,
    /// What posting did, when it ran.
    pub posting: Option<PostReport>,
    /// Rows rejected, in all (every one is in the rejects files).
    pub rejected: u64,
    /// The run's rejects index, when written.
    pub rejects_file: Option<PathBuf>,
    /// Rejects per rule.
    pub by_rule: Vec<RuleCount>,
    /// The first rejects by file and line, with file names.
    pub first_rejects: Vec<RejectEntry>,
    /// What the push mode did (an import of entity files; none for posting drafts).
    pub push: Option<PushReport>,
}

impl ImportOutcome {
    /// Whether any row was rejected.
    pub fn has_rejects(&self) -> bool {
        self.rejected > 0
    }
}

enum Parsed {
    /// Packed for the book (boxed: a batch of rows is one vector of them).
    Header(Box<invoice::Booked>),
    /// Boxed: a line is handed on several times before it is assembled (a pointer moves, not
    /// the 408 bytes of the line).
    Line(Box<InvoiceLine>),
    /// Boxed, as the rejected row: rare variants do not make every typed row larger (a batch
    /// of rows is one vector of them).
    Master(Box<(Origin, Vec<Value<'static>>)>),
    Rejected(Box<EarlyReject>),
}

/// Space reused from record to record while typing: the values of a record, and the chunk the
/// texts of the lines typed together go into.
#[derive(Default)]
struct Scratch {
    values: Vec<Value<'static>>,
    lines: invoice::LineTyping,
}

thread_local! {
    /// A thread's scratch space, kept from batch to batch (rayon would start a new one for
    /// every piece of work it splits off, each growing its buffers from nothing).
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Lines typed together share one buffer for their texts (about 40 KB of full-width lines).
const TEXT_CHUNK_ROWS: usize = 256;

/// Types rows `0..len` with `type_one`, in parallel and in order; the lines of every run of
/// [`TEXT_CHUNK_ROWS`] rows share one [`crate::model::TextChunk`].
fn parse_rows(len: usize, type_one: impl Fn(usize, &mut Scratch) -> Parsed + Sync) -> Vec<Parsed> {
    (0..len.div_ceil(TEXT_CHUNK_ROWS))
        .into_par_iter()
        .map(|c| type_chunk(c * TEXT_CHUNK_ROWS..((c + 1) * TEXT_CHUNK_ROWS).min(len), &type_one))
        .collect::<Vec<Vec<Parsed>>>()
        .into_iter()
        .fold(Vec::with_capacity(len), |mut all, rows| {
            all.extend(rows);
            all
        })
}

/// Types `rows` with `type_one` on this thread, in order, with its scratch space; their lines
/// share one [`crate::model::TextChunk`].
fn type_chunk(rows: std::ops::Range<usize>, type_one: impl Fn(usize, &mut Scratch) -> Parsed) -> Vec<Parsed> {
    SCRATCH.with(|scratch| {
        let scratch = &mut *scratch.borrow_mut();
        let mut out: Vec<Parsed> = rows.map(|i| type_one(i, scratch)).collect();
        let chunk = scratch.lines.texts.finish();
        for p in &mut out {
            if let Parsed::Line(l) = p {
                l.extras.attach(&chunk);
            }
        }
        out
    })
}

/// Turns one raw record into a typed row (or the reject of its row rules), through its file's
/// plan, with `scratch` space (see [`parse_rows`]).
#[allow(clippy::too_many_arguments)]
fn parse_row(
    plan: &Plan<'_>,
    columns: &[String],
    entity: &Entity,
    rec: read::Record<'_>,
    origin: Origin,
    default_legal_entity: &str,
    scratch: &mut Scratch,
) -> Parsed {
    // The scratch vector's buffer is reused for this record's values (which borrow it): an
    // empty vector collected into one of another lifetime keeps its allocation.
    let mut values: Vec<Value<'_>> = std::mem::take(&mut scratch.values).into_iter().map(|_| Value::Empty).collect();
    // The usual row the quick way; else (or when it breaks a rule) the full way.
    let (n, dle) = (columns.len(), default_legal_entity);
    let fast = match entity.kind {
        EntityKind::InvoiceLine => {
            validate::fast::line(plan, n, rec, origin, dle, &mut scratch.lines).map(|l| Parsed::Line(Box::new(l)))
        }
        EntityKind::InvoiceHeader => {
            validate::fast::header(plan, n, rec, origin, dle, &mut values).map(|b| Parsed::Header(Box::new(b)))
        }
        EntityKind::Master | EntityKind::Ledger => None,
    };
    if let Some(parsed) = fast {
        values.clear();
        scratch.values = values.into_iter().map(|_| Value::Empty).collect();
        return parsed;
    }
    let parsed = validate::convert(plan, columns, rec, origin, &mut values).and_then(|()| match entity.kind {
        EntityKind::InvoiceHeader => invoice::header_from(entity, &mut values, origin, default_legal_entity)
            .and_then(|mut h| {
                h.typed_as = invoice::typed_as(plan, columns, rec, origin)?;
                Ok(h)
            })
            .map(|h| booked(&h)),
        EntityKind::InvoiceLine => {
            invoice::line_from(entity, &mut values, origin, default_legal_entity, &mut scratch.lines)
                .map(|l| Parsed::Line(Box::new(l)))
        }
        EntityKind::Master | EntityKind::Ledger => Ok(Parsed::Master(Box::new((
            origin,
            std::mem::take(&mut values).into_iter().map(Value::into_owned).collect(),
        )))),
    });
    values.clear();
    scratch.values = values.into_iter().map(|_| Value::Empty).collect();
    parsed.unwrap_or_else(|reject| {
        let key = match entity.kind {
            EntityKind::Master | EntityKind::Ledger => None,
            _ => invoice::raw_key(plan, columns.len(), rec, default_legal_entity),
        };
        let is_header = entity.kind == EntityKind::InvoiceHeader;
        Parsed::Rejected(Box::new(EarlyReject { reject, key, is_header }))
    })
}

/// A typed header, packed for the book.
fn booked(h: &InvoiceHeader) -> Parsed {
    Parsed::Header(Box::new(invoice::Booked::new(h)))
}

struct FileEntry<'e> {
    run: FileRun,
    entity: &'e Entity,
    push: Option<Push>,
    path: PathBuf,
    csv: CsvOptions,
    is_master: bool,
}

impl<'e> FileEntry<'e> {
    /// The report of one of the import's entity files (not master data), read to its end.
    fn of_input(reader: Reader<'_>, entity: &'e Entity, file: &InputFile, csv: CsvOptions) -> FileEntry<'e> {
        FileEntry {
            run: reader.finish(),
            entity,
            push: Some(file.push),
            path: file.path.clone(),
            csv,
            is_master: false,
        }
    }
}

struct FileRun {
    label: String,
    read: u64,
    encoding: &'static str,
    unknown_columns: Vec<String>,
}

/// One entity file being read: raw batches, or batches of typed rows converted in parallel.
struct Reader<'e> {
    file_index: u32,
    source: Box<dyn read::RecordSource>,
    columns: Vec<String>,
    plan: Plan<'e>,
    entity: &'e Entity,
    batch: RawBatch,
    /// The batch read ahead while the last one was typed, and whether there was one.
    ahead: RawBatch,
    ahead_read: Option<Result<bool, JobError>>,
    batch_size: usize,
    read: u64,
    pb: ProgressBar,
    stage: crate::progress::Stage,
    label: String,
}

impl<'e> Reader<'e> {
    /// Opens entity file `i` of the import (file `first + i` of the run) with its mapping's
    /// CSV options, which come back too (for the file's report); `label` names it on the
    /// progress bar when `progress`.
    fn open_input(
        req: &ImportRequest,
        first: usize,
        i: usize,
        entity: &'e Entity,
        label: &str,
        progress: bool,
    ) -> Result<(Reader<'e>, CsvOptions), JobError> {
        let f = &req.files[i];
        let csv = f.mapping.as_ref().map(|m| m.csv.clone()).unwrap_or_default();
        let reader =
            Reader::open((first + i) as u32, &f.path, label, entity, f.mapping.as_deref(), &csv, req, progress)?;
        Ok((reader, csv))
    }

    #[allow(clippy::too_many_arguments)]
    fn open(
        file_index: u32,
        path: &Path,
        label: &str,
        entity: &'e Entity,
        mapping: Option<&Mapping>,
        csv: &CsvOptions,
        req: &ImportRequest,
        progress: bool,
    ) -> Result<Reader<'e>, JobError> {
        let stage = crate::progress::Stage::start("read", path.display().to_string());
        let source = read::open(path, csv)?;
        let columns = source.columns().to_vec();
        let plan = Plan::new(entity, &columns, mapping);
        let pb = if req.progress && progress {
            crate::progress::bar(source.total_bytes(), label, "bytes")
        } else {
            ProgressBar::hidden()
        };
        Ok(Reader {
            file_index,
            source,
            columns,
            plan,
            entity,
            batch: RawBatch::default(),
            ahead: RawBatch::default(),
            ahead_read: None,
            batch_size: req.batch_size,
            read: 0,
            pb,
            stage,
            label: label.to_string(),
        })
    }

    /// The next raw batch (in `self.batch`); false at the end.
    fn next_raw(&mut self) -> Result<bool, JobError> {
        let more = self.source.next_batch(&mut self.batch, self.batch_size)?;
        self.read += self.batch.len() as u64;
        self.pb.set_position(self.source.bytes_read());
        Ok(more)
    }

    /// The next batch as typed rows (converted in parallel, in file order); `None` at the end.
    fn next_parsed(&mut self, default_legal_entity: &str) -> Result<Option<Vec<Parsed>>, JobError> {
        let (entity, file) = (self.entity, self.file_index);
        self.next_with(|batch, plan, columns| {
            parse_rows(batch.len(), |i, scratch| {
                let p = batch.positions[i];
                let origin = Origin { file, line: p.line, record: p.record };
                parse_row(plan, columns, entity, batch.record(i), origin, default_legal_entity, scratch)
            })
        })
    }

    /// What `work` (run in the pool, with the file's plan and columns) makes of the next raw
    /// batch; `None` at the end. The batch after it is read meanwhile (reading is the one step
    /// that cannot be shared).
    fn next_with<R: Send>(
        &mut self,
        work: impl FnOnce(&RawBatch, &Plan<'e>, &[String]) -> R + Send,
    ) -> Result<Option<R>, JobError> {
        let more = match self.ahead_read.take() {
            Some(more) => {
                std::mem::swap(&mut self.batch, &mut self.ahead);
                more?
            }
            None => self.source.next_batch(&mut self.batch, self.batch_size)?,
        };
        if !more {
            return Ok(None);
        }
        self.read += self.batch.len() as u64;
        self.pb.set_position(self.source.bytes_read());
        let Reader { source, plan, columns, batch, ahead, batch_size, .. } = self;
        let batch_size = *batch_size;
        let (ahead_read, out) =
            rayon::join(|| source.next_batch(ahead, batch_size).map_err(JobError::from), || work(batch, plan, columns));
        self.ahead_read = Some(ahead_read);
        Ok(Some(out))
    }

    fn finish(self) -> FileRun {
        self.pb.finish_and_clear();
        self.stage.done(self.read, "rows");
        FileRun {
            label: self.label,
            read: self.read,
            encoding: self.source.encoding(),
            unknown_columns: self.plan.unknown_columns,
        }
    }
}

/// Why `path` cannot be read as an entity file, if it cannot: missing, a folder, a device.
/// Regular files and pipes (`<(zcat invoices.csv.gz)`) can.
fn not_a_file(path: &Path) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some("no such file".into()),
        Err(e) => return Some(format!("cannot read the file: {e}")),
    };
    let ty = meta.file_type();
    if ty.is_dir() {
        return Some("is a folder, not a file: name the entity files in it (CSV or Parquet)".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ty.is_block_device() || ty.is_char_device() || ty.is_socket() {
            return Some("is a device, not a file: name an entity file (CSV or Parquet)".into());
        }
    }
    None
}

/// The master data file of an entity in `dir`: `<Name>.csv|.parquet` or `<label>.csv`,
/// case-insensitively, or a file that a mapping's `files` patterns for the entity match.
fn find_master_file(
    dir: &Path,
    entity: &Entity,
    mappings: &[std::sync::Arc<Mapping>],
) -> Result<Option<PathBuf>, JobError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ReadError::Io { path: dir.to_path_buf(), source })?;
    let mut hits: Vec<PathBuf> = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        let (Some(stem), Some(ext)) = (p.file_stem().and_then(|s| s.to_str()), p.extension().and_then(|s| s.to_str()))
        else {
            continue;
        };
        let ext = ext.to_ascii_lowercase();
        if !matches!(ext.as_str(), "csv" | "parquet" | "txt") {
            continue;
        }
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if stem.eq_ignore_ascii_case(&entity.name)
            || stem.eq_ignore_ascii_case(&entity.label)
            || mappings.iter().any(|m| m.matches_file(&entity.name, name))
        {
            hits.push(p);
        }
    }
    hits.sort();
    Ok(hits.into_iter().next())
}

/// The mapping a master data file of `entity` is read through (the one of `mappings` that
/// describes the entity and matches the file, see [`crate::job::pick_mapping`]), and how the
/// file is written (the mapping's, else the defaults).
fn master_mapping(
    mappings: &[std::sync::Arc<Mapping>],
    path: &Path,
    entity: &Entity,
) -> (Option<std::sync::Arc<Mapping>>, CsvOptions) {
    let mapping = crate::job::pick_mapping(mappings, path, Some(&entity.name), Catalog::builtin())
        .filter(|m| m.entities.contains_key(&entity.name));
    let csv = mapping.as_ref().map(|m| m.csv.clone()).unwrap_or_default();
    (mapping, csv)
}

/// The entity files of a run: (position in the request, entity).
type EntityFiles<'c> = Vec<(usize, &'c Entity)>;

/// What the run has found out so far: file names, entities, master data, reports and rejects.
struct Run<'c> {
    labels: Vec<String>,
    entities_of: Vec<&'c Entity>,
    /// The mapping each entity file is read through (none for master files).
    mappings_of: Vec<Option<std::sync::Arc<Mapping>>>,
    reports: Vec<Option<FileEntry<'c>>>,
    rejects: RejectLog,
    master: MasterData,
}

/// The master data files of a run: (file number, path, entity), in the catalog's order.
type MasterFiles<'c> = Vec<(u32, PathBuf, &'c Entity)>;

impl<'c> Run<'c> {
    /// Checks every input before reading anything (a bad operation stops before any output),
    /// reads the master data, and numbers the entity files in the order given.
    fn start(req: &ImportRequest, catalog: &'c Catalog) -> Result<(Run<'c>, EntityFiles<'c>), JobError> {
        let (mut run, files, masters) = Run::plan(req, catalog)?;
        run.read_master(req, masters)?;
        Ok((run, files))
    }

    /// [`Run::start`] without reading the master data: the master data files to read, numbered
    /// before the entity files.
    fn plan(
        req: &ImportRequest,
        catalog: &'c Catalog,
    ) -> Result<(Run<'c>, EntityFiles<'c>, MasterFiles<'c>), JobError> {
        let mut plans = Vec::new();
        for (i, f) in req.files.iter().enumerate() {
            let entity = catalog.get(&f.entity).ok_or_else(|| {
                JobError::Input(format!(
                    "{}: unknown entity `{}`; `invoiceflow entities` lists them",
                    f.path.display(),
                    f.entity
                ))
            })?;
            if entity.kind == EntityKind::Ledger {
                return Err(JobError::Input(format!(
                    "{}: {} is written by posting and can only be exported",
                    f.path.display(),
                    entity.name
                )));
            }
            if !entity.is_invoice() {
                return Err(JobError::Input(format!(
                    "{}: {} is master data; put it in the master data folder ({})",
                    f.path.display(),
                    entity.name,
                    req.master_dir.display()
                )));
            }
            if let Some(problem) = not_a_file(&f.path) {
                return Err(JobError::Input(format!("{}: {problem}", f.path.display())));
            }
            plans.push((i, entity));
        }
        if !req.master_dir.is_dir() {
            return Err(JobError::Input(format!(
                "{}: the master data folder does not exist (it holds Customer.csv, LegalEntity.csv, SalesTaxCode.csv, …)",
                req.master_dir.display()
            )));
        }
        if let Some(dir) = &req.rejects_dir {
            rejects::ensure_dir(dir)?;
        }
        let mut run = Run {
            labels: Vec::new(),
            entities_of: Vec::new(),
            mappings_of: Vec::new(),
            reports: Vec::new(),
            rejects: RejectLog::default(),
            master: MasterData::default(),
        };
        let mut masters = Vec::new();
        for entity in catalog.entities().iter().filter(|e| e.kind == EntityKind::Master) {
            let Some(path) = find_master_file(&req.master_dir, entity, &req.master_mappings)? else {
                continue;
            };
            let idx = run.add_file(path.display().to_string(), entity, None);
            masters.push((idx, path, entity));
        }
        // Entity files keep the numbers of the order they were given in.
        let first = run.labels.len();
        let files = plans
            .into_iter()
            .map(|(i, entity)| {
                let idx = run.add_file(req.files[i].path.display().to_string(), entity, req.files[i].mapping.clone());
                debug_assert_eq!(idx as usize, first + i);
                (i, entity)
            })
            .collect();
        Ok((run, files, masters))
    }

    /// Reads the master data files (see [`Run::plan`]).
    fn read_master(&mut self, req: &ImportRequest, masters: MasterFiles<'c>) -> Result<(), JobError> {
        for (idx, path, entity) in masters {
            let (mapping, csv) = master_mapping(&req.master_mappings, &path, entity);
            let mut reader =
                Reader::open(idx, &path, &self.labels[idx as usize], entity, mapping.as_deref(), &csv, req, true)?;
            // A master file without a required column is a broken operation, not a row's fault:
            // every row would be rejected, and every invoice that refers to one of them.
            if !reader.plan.missing_required.is_empty() {
                let plan = &reader.plan;
                let names: Vec<String> =
                    plan.missing_required.iter().map(|&i| validate::describe_missing(plan, i)).collect();
                return Err(JobError::Input(format!(
                    "{}: {} lacks the required column{} {} (its columns: {}); name them in the file, or map them in a mapping's [entity.{}.columns]{}",
                    path.display(),
                    entity.name,
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", "),
                    reader.columns.join(", "),
                    entity.name,
                    match &mapping {
                        Some(m) => format!(" ({} is the mapping read)", m.path.display()),
                        None => String::from(" (no mapping describes this file: give one with --mapping)"),
                    }
                )));
            }
            let mut rows = Vec::new();
            while let Some(batch) = reader.next_parsed("")? {
                for p in batch {
                    match p {
                        Parsed::Master(m) => rows.push(*m),
                        Parsed::Rejected(e) => self.rejects.push(e.reject),
                        Parsed::Header(_) | Parsed::Line(_) => {}
                    }
                }
            }
            self.rejects.extend(validate::master::add_rows(entity, rows, &mut self.master));
            let entry = FileEntry { run: reader.finish(), entity, push: None, path, csv, is_master: true };
            self.reports[idx as usize] = Some(entry);
        }
        Ok(())
    }

    fn add_file(&mut self, label: String, entity: &'c Entity, mapping: Option<std::sync::Arc<Mapping>>) -> u32 {
        self.labels.push(label);
        self.entities_of.push(entity);
        self.mappings_of.push(mapping);
        self.reports.push(None);
        (self.labels.len() - 1) as u32
    }
}

/// Runs the import: master data, header files, line files invoice by invoice (validated,
/// posted and released as each invoice's lines are complete), rejects.
///
/// Headers are read first and kept in a book indexed by key. A first pass over each line file
/// reads only the invoice keys: when every line file lists its invoices in the order of the
/// headers (as DMF exports and most legacy exports do), lines stream — an invoice is validated
/// and posted as soon as its last line is read. Otherwise the lines are first partitioned by
/// invoice into temporary files of bounded size, and each partition is sorted and streamed the
/// same way. Memory stays flat in the number of lines either way, and the results are the same.
pub fn import(req: &ImportRequest, catalog: &Catalog) -> Result<ImportOutcome, JobError> {
    import_keeping(req, catalog, false).map(|(outcome, _)| outcome)
}

/// Validates like an import without posting (`req.post` is ignored) and returns the master
/// data and every accepted invoice, in input order: for benches and tools that work on the
/// validated invoices of small data sets.
pub fn validated_invoices(req: &ImportRequest, catalog: &Catalog) -> Result<(MasterData, Vec<Invoice>), JobError> {
    let req = ImportRequest { post: None, ..req.clone() };
    let (_, kept) = import_keeping(&req, catalog, true)?;
    kept.ok_or_else(|| JobError::Input("no invoices were kept".into()))
}

/// The master data and the accepted invoices of a validation.
type Kept = (MasterData, Vec<Invoice>);

fn import_keeping(
    req: &ImportRequest,
    catalog: &Catalog,
    keep: bool,
) -> Result<(ImportOutcome, Option<Kept>), JobError> {
    let (mut run, files, masters) = Run::plan(req, catalog)?;
    let first = run.labels.len() - files.len();
    let rounding = req.post.as_ref().map(|p| p.options.rounding).unwrap_or(RoundingPolicy::Document);
    let mode = push::mode_of(&req.files)?;
    let mut push_report = PushReport { mode, ..Default::default() };
    // What the store holds matters to a push that commits (or computes pro forma from a store).
    let store = req.post.as_ref().filter(|p| !p.store.as_os_str().is_empty());
    let sweeps = mode == Push::Full && store.is_some_and(|p| !p.options.pro_forma);
    // An incremental push completes invoices of the store: their rows are rows of two more
    // "files" of the run, the stored headers and the stored lines.
    let mut stored = match (mode, store) {
        (Push::Incremental, Some(p)) => {
            let entity_of = |kind: EntityKind, default: &str| {
                files
                    .iter()
                    .map(|(_, e)| *e)
                    .find(|e| e.kind == kind)
                    .or_else(|| catalog.get(default))
                    .unwrap_or(files[0].1)
            };
            let shown = p.store.display();
            let hf = run.add_file(
                format!("{shown} (stored invoices)"),
                entity_of(EntityKind::InvoiceHeader, "SalesInvoiceJournalHeader"),
                None,
            );
            let lf = run.add_file(
                format!("{shown} (stored lines)"),
                entity_of(EntityKind::InvoiceLine, "BusinessDocumentSalesInvoiceLineItem"),
                None,
            );
            push::Stored::open(&p.store, p.lock_timeout, hf, lf)?
        }
        _ => None,
    };
    let mut present = push::Present::default();

    let line_files: Vec<(usize, &Entity)> =
        files.iter().copied().filter(|(_, e)| e.kind == EntityKind::InvoiceLine).collect();

    // Master data, then headers into the book, while a thread of its own reads the invoice keys
    // of the lines.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (mut book, stage, scanned) = std::thread::scope(|scope| -> Result<_, JobError> {
        let scan = scope.spawn(|| stream::scan_keys(req, first, &line_files, &stop));
        let headers = run.read_master(req, masters).and_then(|()| read_headers(req, first, &files, &mut run));
        let (headers, early) = match headers {
            Ok(h) => h,
            Err(e) => {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(e);
            }
        };
        if sweeps {
            let entity = |o: Origin| run.entities_of[o.file as usize].name.as_str();
            for b in &headers {
                present.add(entity(b.origin()), Some(b.key()));
            }
            for e in &early {
                present.add(entity(e.reject.origin), e.key.as_ref());
            }
        }
        let Run { labels, entities_of, mappings_of, rejects, master: md, .. } = &mut run;
        let ctx = Context {
            master: md,
            run_date: req.run_date,
            files: labels,
            entities: entities_of,
            rounding,
            mappings: mappings_of,
        };
        let stage = crate::progress::Stage::start("validate", "");
        let started = std::time::Instant::now();
        let book = invoice::HeaderBook::new(headers, early, &ctx, rejects);
        let built = started.elapsed();
        let scanned = scan.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        tracing::debug!(
            book_ms = built.as_millis() as u64,
            headers = book.len(),
            packed_bytes = book.packed_bytes(),
            waited_for_key_scan_ms = (started.elapsed() - built).as_millis() as u64,
            "Header book built."
        );
        Ok((book, stage, scanned))
    })?;
    let Run { labels, entities_of, mappings_of, reports, rejects, master: md } = &mut run;
    let ctx = Context {
        master: md,
        run_date: req.run_date,
        files: labels,
        entities: entities_of,
        rounding,
        mappings: mappings_of,
    };
    let (validated, copies, posting, kept) = std::thread::scope(|scope| -> Result<_, JobError> {
        let poster = req.post.as_ref().map(|pr| {
            let in_import = book.numbers().collect();
            posting::Poster::start(scope, md, pr, labels, in_import, book.len() as u64)
        });
        let mut sink = stream::Sink::new(poster, keep);
        let entries = stream::lines(
            req,
            first,
            &line_files,
            &mut book,
            &ctx,
            rejects,
            &mut sink,
            Some(scanned),
            stored.as_mut(),
        )?;
        for (idx, entry) in entries {
            reports[idx] = Some(entry);
        }
        rejects.extend(book.finish(&ctx));
        sink.finish()
    })?;
    stage.done(validated.invoices + validated.credit_notes, "invoices");
    if let Some(s) = &stored {
        push_report.completed = s.completed;
        push_report.stored_lines = s.lines;
    }
    if let (true, Some(p)) = (sweeps, store) {
        present.sweep(&p.store, p.lock_timeout, req.rejects_dir.as_deref(), &mut push_report)?;
    }
    let kept = keep.then(|| (std::mem::take(&mut run.master), kept));
    Ok((finish(req, run, validated, copies, posting, Some(push_report))?, kept))
}

/// Reads the header files: typed headers and the rows rejected on the way.
// Boxed headers: the book keeps each in a slot of its own, and a million of them do not need
// one contiguous allocation beside the slots.
#[allow(clippy::vec_box)]
fn read_headers<'c>(
    req: &ImportRequest,
    first: usize,
    files: &[(usize, &'c Entity)],
    run: &mut Run<'c>,
) -> Result<(Vec<Box<invoice::Booked>>, Vec<EarlyReject>), JobError> {
    let mut headers = Vec::new();
    let mut early = Vec::new();
    for &(i, entity) in files.iter().filter(|(_, e)| e.kind == EntityKind::InvoiceHeader) {
        let f = &req.files[i];
        let idx = first + i;
        let (mut reader, csv) = Reader::open_input(req, first, i, entity, &run.labels[idx], true)?;
        while let Some(batch) = reader.next_parsed(&req.legal_entity)? {
            for p in batch {
                match p {
                    Parsed::Header(h) => headers.push(h),
                    Parsed::Rejected(e) => early.push(*e),
                    Parsed::Line(_) | Parsed::Master(..) => {}
                }
            }
        }
        run.reports[idx] = Some(FileEntry::of_input(reader, entity, f, csv));
    }
    Ok((headers, early))
}

/// Counts per file, rejects files and the rejects index, the outcome.
fn finish(
    req: &ImportRequest,
    run: Run<'_>,
    validated: Validated,
    mut unchanged: BTreeMap<u32, u64>,
    posting: Option<posting::PostOutcome>,
    push: Option<PushReport>,
) -> Result<ImportOutcome, JobError> {
    let Run { labels, reports, rejects: mut all_rejects, .. } = run;
    let posting = match posting {
        Some((report, post_rejects, same)) => {
            all_rejects.append(post_rejects)?;
            for (file, n) in same {
                *unchanged.entry(file).or_default() += n;
            }
            Some(report)
        }
        None => None,
    };

    // Counts and rejects files: the rejects are read back in file and line order (they may be
    // more than memory holds), once for the files' rejects files and once for the index.
    let per_file = all_rejects.per_file().clone();
    let by_rule: Vec<RuleCount> =
        all_rejects.per_rule().iter().map(|(rule, rows)| RuleCount { rule: rule.to_string(), rows: *rows }).collect();
    let rejected_in_all = all_rejects.len();
    let mut imports = Vec::new();
    let mut master = Vec::new();
    let mut sorted = all_rejects.sorted()?;
    for (i, entry) in reports.iter().enumerate() {
        let Some(FileEntry { run, entity, push, path, csv, is_master }) = entry else { continue };
        let rejected = per_file.get(&(i as u32)).copied().unwrap_or(0);
        let rejects_file = match (&req.rejects_dir, rejected) {
            (Some(dir), 1..) => {
                let src = RejectSource { path, csv, file: i as u32, like_source: req.rejects_like_source };
                Some(rejects::write_file_rejects(dir, &src, &run.label, &mut sorted)?.display().to_string())
            }
            _ => None,
        };
        let same = unchanged.get(&(i as u32)).copied().unwrap_or(0);
        let report = FileReport {
            entity: entity.name.clone(),
            file: run.label.clone(),
            read: run.read,
            accepted: run.read - rejected - same,
            rejected,
            unchanged: same,
            encoding: run.encoding.to_string(),
            unknown_columns: run.unknown_columns.clone(),
            push: *push,
            rejects_file,
        };
        if *is_master {
            master.push(report);
        } else {
            imports.push(report);
        }
    }
    drop(sorted);
    let entry = |r: &Reject| RejectEntry {
        file: labels.get(r.origin.file as usize).cloned().unwrap_or_default(),
        line: r.origin.line,
        field: r.field.clone(),
        rule: r.rule.id().to_string(),
        message: r.message.clone(),
    };
    let mut first_rejects = Vec::new();
    let mut sorted = all_rejects.sorted()?;
    let rejects_file = match &req.rejects_dir {
        Some(dir) => Some(rejects::write_index(dir, &labels, &mut sorted, |r| {
            if first_rejects.len() < FIRST_REJECTS {
                first_rejects.push(entry(r));
            }
        })?),
        None => {
            while first_rejects.len() < FIRST_REJECTS {
                let Some(r) = sorted.next_reject()? else { break };
                first_rejects.push(entry(&r));
            }
            None
        }
    };
    drop(sorted);
    Ok(ImportOutcome {
        imports,
        master,
        validated,
        posting,
        rejected: rejected_in_all,
        rejects_file,
        by_rule,
        first_rejects,
        push,
    })
}

/// Posts invoices read back from a store (drafts) with the master data of `req`, as one more
/// "file" of the run (`label`), and reports like an import.
pub(crate) fn post_invoices(
    req: &ImportRequest,
    catalog: &Catalog,
    label: String,
    invoices: Vec<(Invoice, String)>,
) -> Result<ImportOutcome, JobError> {
    let (mut run, _) = Run::start(req, catalog)?;
    let file = run.labels.len() as u32;
    run.labels.push(label);
    let mut validated = Validated::default();
    let invoices: posting::Batch = invoices
        .into_iter()
        .enumerate()
        .map(|(n, (mut inv, hash))| {
            let origin = Origin { file, line: 0, record: n as u64 + 1 };
            inv.header.origin = origin;
            for l in &mut inv.lines {
                l.origin = origin;
            }
            validated.add(&inv);
            (inv, Some(hash))
        })
        .collect();
    let posting = match &req.post {
        Some(pr) => {
            let Run { labels, master: md, .. } = &run;
            let total = invoices.len() as u64;
            let in_import: posting::NumberSet = invoices
                .iter()
                .filter_map(|(i, _)| Some((i.header.legal_entity.clone(), i.header.number.clone()?)))
                .collect();
            Some(std::thread::scope(|scope| {
                let mut poster = posting::Poster::start(scope, md, pr, labels, in_import, total);
                poster.send(invoices);
                poster.finish()
            })?)
        }
        None => None,
    };
    finish(req, run, validated, BTreeMap::new(), posting, None)
}

/// Reads the master data folder alone (for commands that need master data but import nothing):
/// the master data and the rejects of its rows.
pub fn load_master(
    dir: &Path,
    catalog: &Catalog,
    mappings: &[std::sync::Arc<Mapping>],
) -> Result<(MasterData, RejectLog), JobError> {
    let req = ImportRequest {
        files: Vec::new(),
        master_dir: dir.to_path_buf(),
        legal_entity: String::new(),
        rejects_dir: None,
        rejects_like_source: false,
        batch_size: crate::job::DEFAULT_BATCH_SIZE,
        run_date: today(),
        progress: false,
        post: None,
        master_mappings: mappings.to_vec(),
    };
    let (run, _) = Run::start(&req, catalog)?;
    Ok((run.master, run.rejects))
}

/// The legal entities of the master data in `dir` (their `LegalEntityId`, sorted, each once),
/// read from its LegalEntity file alone (through the mapping that describes it, if any): to
/// take the only one as the default of rows that carry none.
pub fn master_legal_entities(dir: &Path, mappings: &[std::sync::Arc<Mapping>]) -> Result<Vec<String>, JobError> {
    let catalog = Catalog::builtin();
    let Some(entity) = catalog.get("LegalEntity") else { return Ok(Vec::new()) };
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let Some(path) = find_master_file(dir, entity, mappings)? else { return Ok(Vec::new()) };
    let (mapping, csv) = master_mapping(mappings, &path, entity);
    let mut source = read::open(&path, &csv)?;
    let columns = source.columns().to_vec();
    let plan = Plan::new(entity, &columns, mapping.as_deref());
    let Some(id) = entity.field_index("LegalEntityId") else { return Ok(Vec::new()) };
    let mut batch = RawBatch::default();
    let mut out = Vec::new();
    while source.next_batch(&mut batch, 1024)? {
        for (rec, _) in batch.iter() {
            if let Ok(t) = plan.text(id, rec) {
                if !t.trim().is_empty() {
                    out.push(t.trim().to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The current time (UTC) as `yyyy-MM-ddTHH:mm:ssZ`, for records of who did what when.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let day = Date::from_days_since_epoch((secs / 86_400) as i32);
    let t = secs % 86_400;
    format!("{day}T{:02}:{:02}:{:02}Z", t / 3600, t % 3600 / 60, t % 60)
}

/// Today's date (UTC), the default run date.
pub fn today() -> Date {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Date::from_days_since_epoch((secs / 86_400) as i32)
}
