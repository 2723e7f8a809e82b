//! Reading entity files: bytes → raw records with positions. CSV (any delimiter, quotes,
//! BOMs, UTF-16, Windows-1252) and Parquet. Nothing here interprets business meaning: a record
//! is a list of byte fields and the place it came from.

pub mod csv;
pub mod parquet;
pub mod records;

use std::path::{Path, PathBuf};

pub use records::{Position, Record, Records};

/// Where a record came from; the file is an index into the run's file table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// Index of the file in the run's file table.
    pub file: u32,
    /// Line where the record starts (1-based; the header is line 1). For Parquet: the row
    /// number + 1, so that the first data row is 2 as in a CSV file.
    pub line: u64,
    /// Data record number (1-based, the header not counted).
    pub record: u64,
}

/// What went wrong reading a file: operational errors that stop the run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file cannot be opened or read.
    #[error("{path}: cannot read the file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file has no header row.
    #[error("{path}: the file is empty; an entity file starts with a header row of column names")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a readable Parquet file.
    #[error("{path}: not a readable Parquet file: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        message: String,
    },
    /// A byte-level CSV failure the reader cannot skip.
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Line of the failure.
        line: u64,
        /// The cause.
        message: String,
    },
}

thread_local! {
    /// Set while [`contain`] runs: the panic hook then keeps quiet and leaves the message here.
    static CONTAINED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs a panic hook that keeps panics inside [`contain`] off stderr (they become errors
/// that name the file); every other panic is printed as before. The binary calls it once.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let contained = CONTAINED.with(|c| {
            let mut c = c.borrow_mut();
            match c.as_mut() {
                Some(slot) => {
                    *slot = panic_text(info.payload());
                    true
                }
                None => false,
            }
        });
        if !contained {
            default(info);
        }
    }));
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a decoder failed".to_string())
}

/// Runs a third-party decoder (Parquet, Arrow) on untrusted bytes: a panic inside it becomes
/// an error message instead of taking the process down. Our own code never panics on data;
/// the decoders we use do on some corrupt files (a negative page offset, a dictionary index
/// out of range), and this is where that stops.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let outer = CONTAINED.with(|c| c.borrow_mut().replace(String::new()));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let message = CONTAINED.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    result.map_err(|payload| match message {
        Some(m) if !m.is_empty() => m,
        _ => panic_text(payload.as_ref()),
    })
}

/// A batch of records, reused from batch to batch so that reading allocates little.
#[derive(Debug, Default)]
pub struct RawBatch {
    /// The records.
    pub records: Records,
    /// Where each record starts.
    pub positions: Vec<Position>,
}

impl RawBatch {
    /// Empties the batch, keeping its space.
    pub fn reset(&mut self) {
        self.records.clear();
        self.positions.clear();
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether the batch has no record.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Record `i`.
    pub fn record(&self, i: usize) -> Record<'_> {
        self.records.get(i)
    }

    /// The records with their positions: (line, record number).
    pub fn iter(&self) -> impl Iterator<Item = (Record<'_>, (u64, u64))> {
        self.positions.iter().enumerate().map(|(i, p)| (self.records.get(i), (p.line, p.record)))
    }
}

/// Something that yields raw records in batches: a CSV or Parquet file.
pub trait RecordSource: Send {
    /// The column names of the header row, in file order.
    fn columns(&self) -> &[String];
    /// Fills `batch` with up to `max` records; returns false at the end of the file.
    fn next_batch(&mut self, batch: &mut RawBatch, max: usize) -> Result<bool, ReadError>;
    /// Bytes consumed so far, for progress.
    fn bytes_read(&self) -> u64;
    /// Size of the input, for progress.
    fn total_bytes(&self) -> u64;
    /// What the file's encoding was found to be (for the summary).
    fn encoding(&self) -> &'static str;

    /// How a CSV file is written (delimiter, encoding, BOM, line ends), to write rows back in
    /// the same way; `None` for other formats.
    fn dialect(&self) -> Option<csv::Dialect> {
        None
    }
    /// Where the rest of the file may be read from a second point at the same time (see
    /// [`csv::Split`]); `None` when it cannot.
    fn split(&self) -> Option<csv::Split> {
        None
    }
    /// Asks for only the first `n` fields of each record where that is quicker to read (see
    /// [`records::Tokenizer::keep_fields`]); a record may still come whole.
    fn keep_fields(&mut self, _n: usize) {}
}

/// The formats a file can be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format a path's extension suggests: `.parquet`/`.pq` is Parquet, anything else CSV.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("parquet" | "pq") => Format::Parquet,
            _ => Format::Csv,
        }
    }
}

/// Opens a file in the format its extension suggests.
pub fn open(path: &Path, csv_options: &csv::CsvOptions) -> Result<Box<dyn RecordSource>, ReadError> {
    Ok(match Format::from_path(path) {
        Format::Csv => Box::new(csv::CsvSource::open(path, csv_options)?),
        Format::Parquet => Box::new(parquet::ParquetSource::open(path)?),
    })
}
