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
use crate::rejects::{self, RejectSource, RejectsError};
use crate::validate::field::Value;
use crate::validate::invoice::{self, Context, EarlyReject};
use crate::validate::{self, Reject};

pub mod drafts;
mod posting;
mod summary;

pub use posting::{PostReport, PostRequest};
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

/// Full or incremental push (DMF semantics: the file is the complete set, or only changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Push {
    /// The file is the complete set.
    #[default]
    Full,
    /// The file holds new and changed rows only.
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
    /// Records per batch.
    pub batch_size: usize,
    /// The run date (plausibility of dates).
    pub run_date: Date,
    /// Show progress bars on stderr (when it is a terminal).
    pub progress: bool,
    /// Post the accepted invoices into a store (or compute them pro forma); validate only
    /// when `None`.
    pub post: Option<PostRequest>,
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
    /// All rejects, by file and line.
    pub rejects: Vec<Reject>,
    /// The run's rejects index, when written.
    pub rejects_file: Option<PathBuf>,
    /// Rejects per rule.
    pub by_rule: Vec<RuleCount>,
    /// The first rejects by file and line, with file names.
    pub first_rejects: Vec<RejectEntry>,
}

impl ImportOutcome {
    /// Whether any row was rejected.
    pub fn has_rejects(&self) -> bool {
        !self.rejects.is_empty()
    }
}

enum Parsed {
    Header(InvoiceHeader),
    Line(InvoiceLine),
    Master(Origin, Vec<Value>),
    Rejected(EarlyReject),
}

/// The rows read so far, by kind (a batch's results are sorted into these as it finishes, so
/// no whole-file list of mixed results ever exists).
#[derive(Default)]
struct Rows {
    headers: Vec<InvoiceHeader>,
    lines: Vec<InvoiceLine>,
    master: Vec<(Origin, Vec<Value>)>,
    early: Vec<EarlyReject>,
}

struct FileEntry<'e> {
    run: FileRun,
    entity: &'e Entity,
    push: Option<Push>,
    path: PathBuf,
    csv: CsvOptions,
    is_master: bool,
}

struct FileRun {
    label: String,
    read: u64,
    encoding: &'static str,
    unknown_columns: Vec<String>,
}

/// Reads one file through its plan into parsed rows; rejects of single rows are collected.
#[allow(clippy::too_many_arguments)]
fn read_file(
    file_index: u32,
    path: &Path,
    label: &str,
    entity: &Entity,
    mapping: Option<&Mapping>,
    csv: &CsvOptions,
    req: &ImportRequest,
    out: &mut Rows,
) -> Result<FileRun, JobError> {
    let stage = crate::progress::Stage::start("read", path.display().to_string());
    let mut source = read::open(path, csv)?;
    let columns = source.columns().to_vec();
    let plan = Plan::new(entity, &columns, mapping);
    let pb =
        if req.progress { crate::progress::bar(source.total_bytes(), label, "bytes") } else { ProgressBar::hidden() };
    let mut batch = RawBatch::default();
    let mut read = 0u64;
    while source.next_batch(&mut batch, req.batch_size)? {
        read += batch.len as u64;
        let results: Vec<Parsed> = batch.records[..batch.len]
            .par_iter()
            .zip(batch.positions[..batch.len].par_iter())
            .map_init(Vec::new, |values, (rec, &(line, record))| {
                let origin = Origin { file: file_index, line, record };
                let parsed = validate::convert(&plan, &columns, rec, origin, values).and_then(|()| match entity.kind {
                    EntityKind::InvoiceHeader => {
                        invoice::header_from(entity, values, origin, &req.legal_entity).map(Parsed::Header)
                    }
                    EntityKind::InvoiceLine => {
                        invoice::line_from(entity, values, origin, &req.legal_entity).map(Parsed::Line)
                    }
                    EntityKind::Master | EntityKind::Ledger => Ok(Parsed::Master(origin, std::mem::take(values))),
                });
                parsed.unwrap_or_else(|reject| {
                    let key = match entity.kind {
                        EntityKind::Master | EntityKind::Ledger => None,
                        _ => invoice::raw_key(&plan, columns.len(), rec, &req.legal_entity),
                    };
                    let is_header = entity.kind == EntityKind::InvoiceHeader;
                    Parsed::Rejected(EarlyReject { reject, key, is_header })
                })
            })
            .collect();
        for p in results {
            match p {
                Parsed::Header(h) => out.headers.push(h),
                Parsed::Line(l) => out.lines.push(l),
                Parsed::Master(o, v) => out.master.push((o, v)),
                Parsed::Rejected(e) => out.early.push(e),
            }
        }
        pb.set_position(source.bytes_read());
    }
    pb.finish_and_clear();
    stage.done(read, "rows");
    Ok(FileRun { label: label.to_string(), read, encoding: source.encoding(), unknown_columns: plan.unknown_columns })
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
/// case-insensitively.
fn find_master_file(dir: &Path, entity: &Entity) -> Result<Option<PathBuf>, JobError> {
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
        if stem.eq_ignore_ascii_case(&entity.name) || stem.eq_ignore_ascii_case(&entity.label) {
            hits.push(p);
        }
    }
    hits.sort();
    Ok(hits.into_iter().next())
}

/// Runs the import stages: master data, entity files, validation, rejects.
pub fn import(req: &ImportRequest, catalog: &Catalog) -> Result<ImportOutcome, JobError> {
    let mut v = validate(req, catalog)?;
    let invoices = std::mem::take(&mut v.invoices).into_iter().map(|i| (i, None)).collect();
    finish(req, v, invoices)
}

/// The result of the read and validate stages: accepted invoices, master data, rejects so far.
pub struct Validation<'c> {
    /// Accepted invoices, in input order.
    pub invoices: Vec<Invoice>,
    /// The master data read.
    pub master: MasterData,
    /// Rejects of reading and validation.
    pub rejects: Vec<Reject>,
    labels: Vec<String>,
    reports: Vec<FileEntry<'c>>,
}

/// Reads master data and entity files and validates them (no store, no output).
pub fn validate<'c>(req: &ImportRequest, catalog: &'c Catalog) -> Result<Validation<'c>, JobError> {
    let mut labels: Vec<String> = Vec::new();
    let mut entities_of: Vec<&Entity> = Vec::new();
    let mut all_rejects: Vec<Reject> = Vec::new();
    let mut reports: Vec<FileEntry<'_>> = Vec::new();

    // Check every input before reading anything: a bad operation stops before any output.
    let mut plans = Vec::new();
    for f in &req.files {
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
        plans.push((f, entity));
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

    // Master data.
    let mut md = MasterData::default();
    let default_csv = CsvOptions::default();
    for entity in catalog.entities().iter().filter(|e| e.kind == EntityKind::Master) {
        let Some(path) = find_master_file(&req.master_dir, entity)? else {
            continue;
        };
        let idx = labels.len() as u32;
        let label = path.display().to_string();
        labels.push(label.clone());
        entities_of.push(entity);
        let mut rows = Rows::default();
        let run = read_file(idx, &path, &label, entity, None, &default_csv, req, &mut rows)?;
        all_rejects.extend(rows.early.into_iter().map(|e| e.reject));
        all_rejects.extend(validate::master::add_rows(entity, rows.master, &mut md));
        reports.push(FileEntry { run, entity, push: None, path, csv: default_csv.clone(), is_master: true });
    }

    // Entity files.
    let mut rows = Rows::default();
    for (f, entity) in plans {
        let idx = labels.len() as u32;
        let label = f.path.display().to_string();
        labels.push(label.clone());
        entities_of.push(entity);
        let csv = f.mapping.as_ref().map(|m| m.csv.clone()).unwrap_or_default();
        let run = read_file(idx, &f.path, &label, entity, f.mapping.as_deref(), &csv, req, &mut rows)?;
        reports.push(FileEntry { run, entity, push: Some(f.push), path: f.path.clone(), csv, is_master: false });
    }

    let ctx = Context {
        master: &md,
        run_date: req.run_date,
        files: &labels,
        entities: &entities_of,
        rounding: req.post.as_ref().map(|p| p.options.rounding).unwrap_or(RoundingPolicy::Document),
    };
    let stage = crate::progress::Stage::start("validate", "");
    let rows_in = (rows.headers.len() + rows.lines.len() + rows.early.len()) as u64;
    let pb =
        if req.progress { crate::progress::spinner("validating across rows", "rows") } else { ProgressBar::hidden() };
    pb.set_position(rows_in);
    let outcome = invoice::assemble(rows.headers, rows.lines, rows.early, &ctx);
    pb.finish_and_clear();
    stage.done(rows_in, "rows");
    all_rejects.extend(outcome.rejects);
    Ok(Validation { invoices: outcome.invoices, master: md, rejects: all_rejects, labels, reports })
}

/// Posts `invoices` (each with the content hash it keeps, for drafts read back from the store)
/// and writes the counts and rejects files of the files `v` read.
fn finish(
    req: &ImportRequest,
    v: Validation<'_>,
    invoices: Vec<(Invoice, Option<String>)>,
) -> Result<ImportOutcome, JobError> {
    let Validation { invoices: _, master: md, rejects: mut all_rejects, labels, reports } = v;
    let validated = Validated::of(invoices.iter().map(|(i, _)| i));

    // Posting: rejects of its own, and rows identical to what the store holds.
    let mut unchanged: BTreeMap<u32, u64> = BTreeMap::new();
    let posting = match &req.post {
        Some(pr) => {
            let (report, post_rejects, same) = posting::run(invoices, &md, pr, &labels)?;
            all_rejects.extend(post_rejects);
            for o in same {
                *unchanged.entry(o.file).or_default() += 1;
            }
            Some(report)
        }
        None => {
            // Validating only: copies of accepted invoices through other entities count once.
            for (inv, _) in &invoices {
                for o in &inv.copies {
                    *unchanged.entry(o.file).or_default() += 1;
                }
            }
            None
        }
    };
    all_rejects.sort_by_key(|r| r.origin);

    // Counts and rejects files.
    let mut by_file: BTreeMap<u32, Vec<&Reject>> = BTreeMap::new();
    for r in &all_rejects {
        by_file.entry(r.origin.file).or_default().push(r);
    }
    let mut imports = Vec::new();
    let mut master = Vec::new();
    for (i, FileEntry { run, entity, push, path, csv, is_master }) in reports.iter().enumerate() {
        let file_rejects = by_file.remove(&(i as u32)).unwrap_or_default();
        let rejected = file_rejects.len() as u64;
        let rejects_file = match (&req.rejects_dir, file_rejects.is_empty()) {
            (Some(dir), false) => {
                let src = RejectSource { path, csv, rejects: file_rejects };
                Some(rejects::write_file_rejects(dir, &src, &run.label)?.display().to_string())
            }
            _ => None,
        };
        let report = FileReport {
            entity: entity.name.clone(),
            file: run.label.clone(),
            read: run.read,
            accepted: run.read - rejected - unchanged.get(&(i as u32)).copied().unwrap_or(0),
            rejected,
            unchanged: unchanged.get(&(i as u32)).copied().unwrap_or(0),
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
    let rejects_file = match &req.rejects_dir {
        Some(dir) => {
            let refs: Vec<&Reject> = all_rejects.iter().collect();
            Some(rejects::write_index(dir, &labels, &refs)?)
        }
        None => None,
    };
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    for r in &all_rejects {
        *counts.entry(r.rule.id()).or_default() += 1;
    }
    let by_rule = counts.into_iter().map(|(rule, rows)| RuleCount { rule: rule.to_string(), rows }).collect();
    let first_rejects = all_rejects
        .iter()
        .take(FIRST_REJECTS)
        .map(|r| RejectEntry {
            file: labels.get(r.origin.file as usize).cloned().unwrap_or_default(),
            line: r.origin.line,
            field: r.field.clone(),
            rule: r.rule.id().to_string(),
            message: r.message.clone(),
        })
        .collect();
    Ok(ImportOutcome {
        imports,
        master,
        validated,
        posting,
        rejects: all_rejects,
        rejects_file,
        by_rule,
        first_rejects,
    })
}

/// Reads the master data folder alone (for commands that need master data but import nothing):
/// the master data and the rejects of its rows.
pub fn load_master(dir: &Path, catalog: &Catalog) -> Result<(MasterData, Vec<Reject>), JobError> {
    let req = ImportRequest {
        files: Vec::new(),
        master_dir: dir.to_path_buf(),
        legal_entity: String::new(),
        rejects_dir: None,
        batch_size: crate::job::DEFAULT_BATCH_SIZE,
        run_date: today(),
        progress: false,
        post: None,
    };
    let v = validate(&req, catalog)?;
    Ok((v.master, v.rejects))
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
