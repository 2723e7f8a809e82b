//! Job files (`samples/job.toml`): the store-independent part of a run — legal entity, master
//! data, imports with their mappings, rejects folder. Paths are relative to the job file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::entity::Catalog;
use crate::map::Mapping;
use crate::pipeline::{InputFile, JobError, PostRequest, Push};
use crate::post::PostingOptions;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    /// Format version; 1.
    version: u32,
    /// Legal entity (dataAreaId) of rows that carry none.
    legal_entity: String,
    /// Folder of master data files.
    master: PathBuf,
    /// A mapping for the master data files (legacy customer lists): its `[entity.Customer]`
    /// and other master sections. The mappings of the imports apply as well.
    master_mapping: Option<PathBuf>,
    /// Folder for rejects files.
    rejects: Option<PathBuf>,
    /// `csv` (default) or `source`: how rejects files are written.
    #[serde(default)]
    rejects_dialect: crate::cli::RejectsDialect,
    /// Records per batch (default 8192).
    batch_size: Option<usize>,
    /// The ledger store (SQLite); when absent the job validates only.
    store: Option<PathBuf>,
    /// Seconds to wait for another process that holds the store (default 60).
    lock_timeout: Option<u64>,
    /// Posting options.
    #[serde(default)]
    posting: PostingSection,
    /// Entity files to import, in order.
    #[serde(default)]
    import: Vec<ImportSection>,
    /// Exports to write after posting, in order.
    #[serde(default)]
    export: Vec<ExportSection>,
    /// E-invoices to write after the exports.
    #[serde(default)]
    einvoice: Vec<EinvoiceSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EinvoiceSection {
    /// `ubl` (PEPPOL BIS 3) or `cii`.
    syntax: crate::einvoice::Syntax,
    /// Output folder.
    out: PathBuf,
    /// Change-tracking job name; all posted invoices without it.
    job: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportSection {
    /// Entity to export.
    entity: String,
    /// `csv` or `parquet`.
    format: crate::export::Format,
    /// Output folder.
    out: PathBuf,
    /// Change-tracking job name; a full export without it.
    job: Option<String>,
    /// CSV-Unicode for D365.
    #[serde(default)]
    dmf_unicode: bool,
    /// CSV for spreadsheets (formula-like text cells prefixed with `'`).
    #[serde(default)]
    spreadsheet_safe: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PostingSection {
    /// Store invoices as drafts, post nothing.
    #[serde(default)]
    drafts: bool,
    /// Invoices per store transaction (default 2000).
    invoices_per_batch: Option<usize>,
    /// With `pro_forma = true`: the folder for the computed invoices (report and CSV files).
    pro_forma_out: Option<PathBuf>,
    /// With `pro_forma_out`: also write them as e-invoices in this syntax (type code 325).
    pro_forma_syntax: Option<crate::einvoice::Syntax>,
    /// The posting options proper.
    #[serde(flatten)]
    options: PostingOptions,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportSection {
    /// Entity name; taken from the mapping's file patterns or the file name when absent.
    entity: Option<String>,
    /// The entity file.
    file: PathBuf,
    /// Mapping file for a legacy layout.
    mapping: Option<PathBuf>,
    /// `replace` (default), `full` or `incremental` (see `invoiceflow import --help`).
    #[serde(default)]
    push: Push,
}

/// A loaded job.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job file.
    pub path: PathBuf,
    /// Default legal entity.
    pub legal_entity: String,
    /// Master data folder.
    pub master: PathBuf,
    /// Rejects folder.
    pub rejects: Option<PathBuf>,
    /// Rejects files in each input file's own dialect.
    pub rejects_like_source: bool,
    /// Batch size.
    pub batch_size: usize,
    /// Entity files.
    pub imports: Vec<InputFile>,
    /// Posting, when the job names a store.
    pub post: Option<PostRequest>,
    /// Exports (they need the store).
    pub exports: Vec<crate::export::ExportRequest>,
    /// E-invoice outputs (they need the store).
    pub einvoices: Vec<crate::einvoice::EinvoiceRequest>,
    /// Mappings for the master data files: `master_mapping`, then those of the imports.
    pub master_mappings: Vec<Arc<Mapping>>,
}

/// Default records per batch.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// Default invoices per store transaction.
pub const DEFAULT_INVOICES_PER_BATCH: usize = 2000;

/// The largest batch of records (`batch_size`, `--batch-size`): beyond it memory grows for
/// nothing.
pub const MAX_BATCH_SIZE: usize = 1_000_000;

/// The largest number of invoices per store transaction.
pub const MAX_INVOICES_PER_BATCH: usize = 1_000_000;

/// The most worker threads (`--threads`).
pub const MAX_THREADS: usize = 256;

/// The lock timeout of a job file or flag, in seconds (default 60).
pub fn lock_timeout(seconds: Option<u64>) -> std::time::Duration {
    seconds.map(std::time::Duration::from_secs).unwrap_or(crate::store::DEFAULT_LOCK_TIMEOUT)
}

/// A setting of a job file within `1..=max`, or an error that names its key.
fn setting(key: &str, value: Option<usize>, default: usize, max: usize) -> Result<usize, String> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(format!("{key} = {n} is out of range: write a whole number from 1 to {max}")),
    }
}

impl Job {
    /// Reads and checks a job file.
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Job, JobError> {
        let err = |message: String| JobError::JobFile { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read the job file: {e}")))?;
        let file: JobFile = toml::from_str(&text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        if file.version != 1 {
            return Err(err(format!("version = {} is not supported; write version = 1", file.version)));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut exports = Vec::new();
        for (i, e) in file.export.iter().enumerate() {
            let entity = catalog.get(&e.entity).ok_or_else(|| {
                err(format!("export[{i}]: unknown entity `{}`; `invoiceflow entities` lists them", e.entity))
            })?;
            if e.spreadsheet_safe && e.format != crate::export::Format::Csv {
                return Err(err(format!(
                    "export[{i}]: spreadsheet_safe applies to CSV only (Parquet cells are typed and run nothing)"
                )));
            }
            exports.push(crate::export::ExportRequest {
                entity: entity.name.clone(),
                format: e.format,
                out: join(base, &e.out),
                job: e.job.clone(),
                dmf_unicode: e.dmf_unicode,
                spreadsheet_safe: e.spreadsheet_safe,
            });
        }
        if !exports.is_empty() && file.store.is_none() {
            return Err(err("[[export]] needs a store: add store = \"…\"".into()));
        }
        if !file.einvoice.is_empty() && file.store.is_none() {
            return Err(err("[[einvoice]] needs a store: add store = \"…\"".into()));
        }
        let einvoices = file
            .einvoice
            .iter()
            .map(|e| crate::einvoice::EinvoiceRequest {
                syntax: e.syntax,
                out: join(base, &e.out),
                job: e.job.clone(),
                dry_run: false,
                // Documents of a job run carry the parties they were posted with; only
                // those pending from earlier runs take the run's master data.
                reissue: false,
                refused_dir: None,
            })
            .collect();
        let mut imports = Vec::new();
        for (i, s) in file.import.into_iter().enumerate() {
            let mapping = match &s.mapping {
                Some(m) => Some(Arc::new(Mapping::load(&join(base, m), catalog)?)),
                None => None,
            };
            let file_path = join(base, &s.file);
            let entity = resolve_entity(s.entity.as_deref(), &file_path, mapping.as_deref(), catalog)
                .map_err(|m| err(format!("import[{i}]: {m}")))?;
            imports.push(InputFile { entity, path: file_path, mapping, push: s.push });
        }
        let mut master_mappings: Vec<Arc<Mapping>> = match &file.master_mapping {
            Some(m) => vec![Arc::new(Mapping::load(&join(base, m), catalog)?)],
            None => Vec::new(),
        };
        for m in imports.iter().filter_map(|f| f.mapping.as_ref()) {
            if !master_mappings.iter().any(|k| k.path == m.path) {
                master_mappings.push(Arc::clone(m));
            }
        }
        if file.posting.pro_forma_out.is_some() && !file.posting.options.pro_forma {
            return Err(err("posting.pro_forma_out needs posting.pro_forma = true".into()));
        }
        if file.posting.pro_forma_syntax.is_some() && file.posting.pro_forma_out.is_none() {
            return Err(err("posting.pro_forma_syntax needs posting.pro_forma_out = \"folder\"".into()));
        }
        let invoices_per_batch = setting(
            "posting.invoices_per_batch",
            file.posting.invoices_per_batch,
            DEFAULT_INVOICES_PER_BATCH,
            MAX_INVOICES_PER_BATCH,
        )
        .map_err(err)?;
        Ok(Job {
            path: path.to_path_buf(),
            legal_entity: file.legal_entity,
            master: join(base, &file.master),
            rejects: file.rejects.map(|r| join(base, &r)),
            batch_size: setting("batch_size", file.batch_size, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE).map_err(err)?,
            imports,
            exports,
            einvoices,
            post: file.store.map(|store| PostRequest {
                store: join(base, &store),
                options: file.posting.options,
                draft: file.posting.drafts,
                invoices_per_batch,
                lock_timeout: lock_timeout(file.lock_timeout),
                pro_forma_out: file.posting.pro_forma_out.as_ref().map(|d| crate::export::proforma::ProFormaOut {
                    dir: join(base, d),
                    syntax: file.posting.pro_forma_syntax,
                }),
            }),
            master_mappings,
            rejects_like_source: file.rejects_dialect == crate::cli::RejectsDialect::Source,
        })
    }
}

/// `base/rel` with `.` and `..` resolved lexically (for readable paths in messages).
fn join(base: &Path, rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir
                if matches!(out.components().next_back(), Some(std::path::Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Which entity a file holds: the one named, else the mapping's file patterns, else the file
/// name (entity name, D365 name or DMF label, as DMF packages name their files).
pub fn resolve_entity(
    named: Option<&str>,
    path: &Path,
    mapping: Option<&Mapping>,
    catalog: &Catalog,
) -> Result<String, String> {
    if let Some(n) = named {
        return catalog
            .get(n)
            .map(|e| e.name.clone())
            .ok_or_else(|| format!("unknown entity `{n}`; `invoiceflow entities` lists them"));
    }
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if let Some(e) = mapping.and_then(|m| m.entity_for_file(file_name)) {
        return Ok(e.to_string());
    }
    if let Some(m) = mapping {
        if m.entities.len() == 1 {
            return Ok(m.entities.keys().next().cloned().unwrap_or_default());
        }
    }
    let stem = path.file_stem().and_then(|n| n.to_str()).unwrap_or("");
    // An entity's own name, or the name of one of our exports of it.
    let entity = catalog.get(stem).or_else(|| crate::export::entity_of_file_stem(stem).and_then(|e| catalog.get(e)));
    entity.map(|e| e.name.clone()).ok_or_else(|| {
        format!(
            "cannot tell which entity {} holds; write ENTITY=FILE (e.g. SalesInvoiceJournalHeader={})",
            path.display(),
            path.display()
        )
    })
}

/// Which of several mappings applies to a file: the one whose file patterns match its name;
/// else, for a named entity, the one mapping that describes that entity; else the only
/// mapping given, when it has no file patterns at all.
pub fn pick_mapping(
    mappings: &[Arc<Mapping>],
    path: &Path,
    named: Option<&str>,
    catalog: &Catalog,
) -> Option<Arc<Mapping>> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if let Some(m) = mappings.iter().find(|m| m.entity_for_file(file_name).is_some()) {
        return Some(Arc::clone(m));
    }
    if let Some(entity) = named.and_then(|n| catalog.get(n)) {
        let mut with = mappings.iter().filter(|m| m.entities.contains_key(&entity.name));
        if let (Some(m), None) = (with.next(), with.next()) {
            return Some(Arc::clone(m));
        }
    }
    match mappings {
        [only] if only.entities.values().all(|e| e.files.is_empty()) => Some(Arc::clone(only)),
        _ => None,
    }
}
