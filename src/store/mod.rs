//! The ledger store: one SQLite file (WAL), versioned schema migrations, one transaction per
//! batch, a store-wide change version per committed invoice. The only module that knows SQL.
//!
//! An invoice is a row of `invoice` and a row of `invoice_body` whose blobs hold its lines, VAT
//! breakdown and ledger entries (`body.rs`). Decimals are exact (text in `invoice`, scaled in the
//! blobs); sums are done in Rust, never in SQL.

mod body;
mod commit;
mod jobs;
mod push;
mod read;
mod schema;

pub use body::{line_col, tax_col, CellRef, Damaged, FieldsRef, Rows as BodyRows};

/// The number of columns of a line blob ([`line_col`] names their positions).
pub const LINE_COLUMNS: usize = body::LINE.len();
/// The number of columns of a VAT breakdown blob ([`tax_col`]).
pub const TAX_COLUMNS: usize = body::TAX.len();
pub use commit::{Body, Committed, NumberKind, Refusal};
pub use jobs::{path_of as jobs_path, EinvoiceRun, ExportRange, PendingDoc, PendingEntry, Skip};
pub use push::{source_key, Absent, Swept};
pub use read::{BodyChunk, ExportTable, PostedDoc, PostedTotals, ScanRow, StoredDoc};

/// The name of field `index` of entity `entity`, for the readers that show the fields without a
/// role by name: the store keeps them by index and knows no entity definitions (the entity
/// catalog answers: `crate::entity::field_name`).
pub type FieldNames = fn(&str, u16) -> Option<&'static str>;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rust_decimal::Decimal;

use crate::model::master::MasterData;

/// A store failure: operational, the run stops and the failing batch is rolled back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite said no.
    #[error("{path}: {}", describe_sqlite(source))]
    Sqlite {
        /// The store.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// Another process holds the store for writing, longer than we wait.
    #[error("{path}: the store is in use by another invoiceflow process ({holder}); waited {waited_s} s for it (--lock-timeout). Wait for it to finish, or give a longer --lock-timeout")]
    Locked {
        /// The store.
        path: PathBuf,
        /// Who holds it, as its lock file says.
        holder: String,
        /// How long we waited.
        waited_s: u64,
    },
    /// The store does not exist (a reader never creates one).
    #[error("{path}: no such store; import into it first")]
    Missing {
        /// The store.
        path: PathBuf,
    },
    /// The lock file cannot be created.
    #[error("{path}: cannot create the lock file: {source}")]
    Io {
        /// The store.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store was written by a newer invoiceflow.
    #[error(
        "{path}: the store has schema version {found}; this invoiceflow knows up to {known}: use a newer invoiceflow"
    )]
    TooNew {
        /// The store.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// A store written by an older invoiceflow holds invoice numbers or vouchers twice.
    #[error(
        "{path}: the store holds invoice numbers or vouchers used by more than one document ({numbers}), written by an earlier invoiceflow that did not keep them unique; this invoiceflow needs them unique. Export the store with the older release, correct the documents (a credit note and a new invoice under a free number) and import into a new store"
    )]
    DuplicateNumbers {
        /// The store.
        path: PathBuf,
        /// The numbers, with their legal entity.
        numbers: String,
    },
    /// An invoice body does not read back.
    #[error("{path}: {message}")]
    Damaged {
        /// The store.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A number sequence is missing (checked before posting, so this is a defect guard).
    #[error("{path}: no number sequence {reference} for legal entity {legal_entity}")]
    NoSequence {
        /// The store.
        path: PathBuf,
        /// Legal entity.
        legal_entity: String,
        /// Sequence reference.
        reference: String,
    },
}

/// The message of an SQLite error; a store another program keeps locked says so.
fn describe_sqlite(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => format!(
            "the store is locked by another program and stayed locked longer than the lock timeout ({e}); close the program that holds it (a database browser with an open transaction, say), or give a longer --lock-timeout"
        ),
        _ => format!("store error: {e}"),
    }
}

/// How long to wait for a store another process holds (the default of `--lock-timeout`).
pub const DEFAULT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// An open store: a writer holds the store's lock file for the life of the value (one writer at
/// a time); a reader holds nothing and reads committed states while a writer works (WAL).
pub struct Store {
    path: PathBuf,
    conn: Connection,
    _lock: Option<File>,
    /// Whether the jobs database is attached (readers).
    jobs: bool,
    balances: HashMap<(String, String), Decimal>,
    /// What this writer knows of the invoice keys in the store (see [`commit::Keys`]).
    keys: commit::Keys,
}

/// Takes the writer lock of a store, waiting up to `timeout` for another invoiceflow process
/// to release it; the lock file then says who holds it.
fn lock_for_writing(path: &Path, timeout: std::time::Duration) -> Result<File, StoreError> {
    use std::io::{Read as _, Seek as _, Write as _};
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let io = |source| StoreError::Io { path: path.to_path_buf(), source };
    let mut lock = File::options().create(true).truncate(false).read(true).write(true).open(&lock_path).map_err(io)?;
    let started = std::time::Instant::now();
    let mut announced = false;
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = File::open(&lock_path).and_then(|mut f| f.read_to_string(&mut holder));
                let holder = holder.trim().to_string();
                let holder = if holder.is_empty() { format!("lock file {}", lock_path.display()) } else { holder };
                if started.elapsed() >= timeout {
                    return Err(StoreError::Locked {
                        path: path.to_path_buf(),
                        holder,
                        waited_s: started.elapsed().as_secs(),
                    });
                }
                if !announced {
                    tracing::warn!(store = %path.display(), holder = %holder, "Waiting for another process to release the store.");
                    announced = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
        }
    }
    // Say who holds it, for whoever waits next.
    let args: Vec<String> = std::env::args().collect();
    let who = format!("pid {}, since {}: {}", std::process::id(), crate::pipeline::now_utc(), args.join(" "));
    lock.set_len(0).and_then(|()| lock.rewind()).and_then(|()| lock.write_all(who.as_bytes())).map_err(io)?;
    Ok(lock)
}

impl Store {
    /// Opens (creating and migrating when needed) the store at `path` for writing, waiting up
    /// to [`DEFAULT_LOCK_TIMEOUT`] for another writer.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_writer(path, DEFAULT_LOCK_TIMEOUT)
    }

    /// Opens (creating and migrating when needed) the store at `path` for writing: takes its
    /// lock, waiting up to `timeout` for another invoiceflow process, and waits as long for a
    /// lock another program holds on the database ("database is locked").
    pub fn open_writer(path: &Path, timeout: std::time::Duration) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
        }
        let lock = lock_for_writing(path, timeout)?;
        let mut store = Store::connect(path, timeout, Some(lock))?;
        // A writer keeps 16 MiB of pages (SQLite's default, 2 MiB, is 64 of these 32 KiB pages):
        // with fewer than a batch touches, SQLite wrote dirty pages to the WAL in the middle of a
        // transaction and read pages back that it had just dropped — a durable import of 1M
        // lines read 63k pages (2 GB) and wrote 98k; now 17k and 55k.
        let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        store.conn.pragma_update(None, "cache_size", -16384).map_err(sql)?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store for reading with its jobs database attached (see
    /// [`Store::open_reader`]).
    fn reader(path: &Path, timeout: std::time::Duration) -> Result<Store, StoreError> {
        let mut store = Store::connect(path, timeout, None)?;
        jobs::attach(&store.conn, path).map_err(|source| StoreError::Sqlite { path: path.to_path_buf(), source })?;
        store.jobs = true;
        Ok(store)
    }

    /// Opens an existing store for reading (exports, e-invoices): no lock is taken, so a reader
    /// runs while an import writes and sees the last committed state of each read transaction.
    /// Its own small writes (watermarks) wait up to `timeout` for the writer's transaction. A
    /// store whose schema is older is migrated first under the writer lock.
    pub fn open_reader(path: &Path, timeout: std::time::Duration) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing { path: path.to_path_buf() });
        }
        let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let current: i64 = Connection::open(path)
            .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .map_err(sql)?;
        if current < schema::MIGRATIONS.len() as i64 {
            drop(Store::open_writer(path, timeout)?);
        }
        Store::reader(path, timeout)
    }

    fn connect(path: &Path, timeout: std::time::Duration, lock: Option<File>) -> Result<Store, StoreError> {
        let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(timeout).map_err(sql)?;
        // A new store gets 32 KiB pages (an invoice body of a few KiB fits a page; 4 KiB pages
        // chained them over overflow pages): 7.2 -> 5.4 s for a durable import of 1M lines. An
        // existing store keeps its page size. The WAL is checkpointed every 64 MiB, not 4.
        conn.pragma_update(None, "page_size", 32768).map_err(sql)?;
        conn.pragma_update(None, "wal_autocheckpoint", 2000).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn,
            _lock: lock,
            jobs: false,
            balances: HashMap::new(),
            keys: commit::Keys::default(),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The error of a body that does not read back.
    pub fn damaged(&self, e: body::Damaged) -> StoreError {
        StoreError::Damaged { path: self.path.clone(), message: e.to_string() }
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let current: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
        let known = schema::MIGRATIONS.len() as i64;
        if current > known {
            return Err(StoreError::TooNew { path: self.path.clone(), found: current, known });
        }
        for (i, m) in schema::MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
            if i == 2 {
                // Export job state moves to the jobs database: copy it before it is dropped.
                drop(tx);
                jobs::adopt_watermarks(&self.conn, &self.path).map_err(sql)?;
                let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
                tx.execute_batch(m).map_err(sql)?;
                tx.pragma_update(None, "user_version", i as i64 + 1).map_err(sql)?;
                tx.commit().map_err(sql)?;
                continue;
            }
            if i == 1 {
                // Stores written before numbers were unique may hold duplicates: say which.
                let dups = schema::duplicate_numbers(&tx).map_err(sql)?;
                if !dups.is_empty() {
                    return Err(StoreError::DuplicateNumbers { path: self.path.clone(), numbers: dups.join(", ") });
                }
            }
            tx.execute_batch(m).map_err(sql)?;
            if i == 3 {
                let n = body::convert_row_tables(&tx).map_err(sql)?;
                if n > 0 {
                    tracing::info!(store = %self.path.display(), invoices = n, "Converted lines, VAT breakdown and ledger entries to invoice bodies.");
                }
            }
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        Ok(())
    }

    /// The latest change version (0 for an empty store).
    pub fn change_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = 'change_version'", [], |r| r.get::<_, String>(0))
            .optional()
            .map_err(self.err())
            .map(|v| v.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Adds the number sequences of the master data that the store does not have yet (the
    /// store's own counters win: they have moved on).
    pub fn seed_sequences(&mut self, md: &MasterData) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        for s in &md.number_sequences {
            tx.execute(
                "INSERT OR IGNORE INTO number_sequence (legal_entity, reference, format, next) VALUES (?1, ?2, ?3, ?4)",
                params![s.legal_entity, s.reference, s.format, s.next],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// Whether the store holds a posted invoice (or credit note) of a legal entity with this
    /// number.
    pub fn has_posted_invoice(&self, legal_entity: &str, number: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT 1 FROM invoice WHERE legal_entity = ?1 AND number = ?2 AND status = 'posted' LIMIT 1",
            )
            .and_then(|mut s| s.query_row(params![legal_entity, number], |_| Ok(())).optional())
            .map(|o| o.is_some())
            .map_err(self.err())
    }

    /// Whether the store has a number sequence (legal entity, reference).
    pub fn has_sequence(&self, legal_entity: &str, reference: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM number_sequence WHERE legal_entity = ?1 AND reference = ?2",
                params![legal_entity, reference],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(self.err())
    }
}
