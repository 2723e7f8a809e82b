//! The state of export and e-invoice jobs: watermarks with their pending ranges, e-invoices a
//! job refused (pending until written or skipped), and the parties a refused e-invoice was
//! finally written with.
//!
//! It lives in a database of its own beside the store (`<store>.jobs`), attached to reader
//! connections only. An import holds the store's write lock for a batch at a time; an export's
//! own small writes (its range, its watermark) go to this database and never wait for it. The
//! store's rows are read in snapshots, so a job sees the last committed state.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Store, StoreError};

/// The jobs database's schema versions (`PRAGMA jobs.user_version`); each entry is applied once.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE IF NOT EXISTS jobs.export_watermark (job TEXT NOT NULL, entity TEXT NOT NULL,
        version INTEGER NOT NULL, pending_to INTEGER, PRIMARY KEY (job, entity));
    CREATE TABLE IF NOT EXISTS jobs.einvoice_pending (
        job TEXT NOT NULL, output TEXT NOT NULL, invoice_id INTEGER NOT NULL,
        legal_entity TEXT NOT NULL, number TEXT NOT NULL, findings TEXT NOT NULL,
        first_refused TEXT NOT NULL, last_refused TEXT NOT NULL, runs INTEGER NOT NULL,
        skipped_by TEXT, skipped_at TEXT, skip_reason TEXT,
        PRIMARY KEY (job, output, invoice_id));
    CREATE TABLE IF NOT EXISTS jobs.einvoice_parties (invoice_id INTEGER PRIMARY KEY, parties TEXT NOT NULL);
    "];

/// The jobs database of a store.
pub fn path_of(store: &std::path::Path) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}.jobs", store.display()))
}

/// Attaches the jobs database of `store` as `jobs` and brings its schema up to date.
pub(super) fn attach(conn: &Connection, store: &std::path::Path) -> rusqlite::Result<()> {
    conn.execute("ATTACH DATABASE ?1 AS jobs", [path_of(store).display().to_string()])?;
    conn.query_row("PRAGMA jobs.journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA jobs.synchronous = FULL")?;
    let current: i64 = conn.query_row("PRAGMA jobs.user_version", [], |r| r.get(0))?;
    for (i, m) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        conn.execute_batch(&format!("BEGIN; {m} PRAGMA jobs.user_version = {}; COMMIT;", i + 1))?;
    }
    Ok(())
}

/// Copies the watermarks an older store kept in its own tables into the jobs database (the
/// store's migration 3 then drops them). Idempotent: run again after a crash, it copies nothing
/// twice.
pub(super) fn adopt_watermarks(conn: &Connection, store: &std::path::Path) -> rusqlite::Result<()> {
    let has_old: bool = conn
        .query_row(
            "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'export_watermark'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !has_old {
        return Ok(());
    }
    attach(conn, store)?;
    let copied = conn.execute_batch(
        "BEGIN; INSERT OR IGNORE INTO jobs.export_watermark (job, entity, version, pending_to)
             SELECT job, entity, version, pending_to FROM main.export_watermark; COMMIT;",
    );
    conn.execute("DETACH DATABASE jobs", [])?;
    copied
}

/// A job's export range for an entity: rows with `from < version <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportRange {
    /// Exclusive lower bound (the watermark).
    pub from: i64,
    /// Inclusive upper bound.
    pub to: i64,
    /// Whether this range was left pending by a run that did not finish (it is redone).
    pub resumed: bool,
}

/// A document an e-invoice run refused.
#[derive(Debug, Clone)]
pub struct PendingDoc {
    /// The invoice's row id.
    pub invoice_id: i64,
    /// Its legal entity.
    pub legal_entity: String,
    /// Its number.
    pub number: String,
    /// The findings, as JSON.
    pub findings: String,
}

/// A document pending for a job's e-invoice output, as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PendingEntry {
    /// Legal entity.
    pub legal_entity: String,
    /// Invoice number.
    pub number: String,
    /// The findings of the last run, as JSON.
    pub findings: String,
    /// Date of the first refusal.
    pub first_refused: String,
    /// Date of the last refusal.
    pub last_refused: String,
    /// Runs that refused it.
    pub runs: i64,
    /// Who skipped it.
    pub skipped_by: Option<String>,
    /// When.
    pub skipped_at: Option<String>,
    /// Why.
    pub skip_reason: Option<String>,
}

/// Who skips a pending e-invoice, why and when.
#[derive(Debug, Clone)]
pub struct Skip {
    /// Who.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When (UTC, ISO 8601).
    pub at: String,
}

impl Store {
    fn jobs_only(&self) -> Result<(), StoreError> {
        if self.jobs {
            Ok(())
        } else {
            // A defect guard: job state is reached through reader connections only.
            Err(StoreError::Sqlite {
                path: self.path.clone(),
                source: rusqlite::Error::InvalidParameterName("jobs database not attached (open_reader)".into()),
            })
        }
    }

    /// Runs `f` in a transaction that writes the jobs database only, so it never waits for an
    /// import. Another job's transaction that committed first is waited for and `f` retried.
    fn jobs_transaction<T>(
        &mut self,
        mut f: impl FnMut(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.jobs_only()?;
        let path = self.path.clone();
        let mut attempts = 0;
        loop {
            let result: rusqlite::Result<T> = (|| {
                let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })();
            match result {
                Ok(out) => return Ok(out),
                Err(e)
                    if attempts < 50
                        && matches!(
                            e.sqlite_error_code(),
                            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                        ) =>
                {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(source) => return Err(StoreError::Sqlite { path, source }),
            }
        }
    }

    /// The range a job exports next for an entity. A range left pending by an interrupted run
    /// is returned again (so its file is rewritten, not duplicated); otherwise the range up to
    /// the store's last committed change version is recorded as pending.
    pub fn begin_export(&mut self, job: &str, entity: &str) -> Result<ExportRange, StoreError> {
        self.export_range_with(job, entity, true)
    }

    /// The range [`Store::begin_export`] would give, recording nothing (for a dry run).
    pub fn export_range(&mut self, job: &str, entity: &str) -> Result<ExportRange, StoreError> {
        self.export_range_with(job, entity, false)
    }

    fn export_range_with(&mut self, job: &str, entity: &str, record: bool) -> Result<ExportRange, StoreError> {
        let current = self.change_version()?;
        self.jobs_transaction(|tx| {
            let row: Option<(i64, Option<i64>)> = tx
                .query_row(
                    "SELECT version, pending_to FROM jobs.export_watermark WHERE job = ?1 AND entity = ?2",
                    params![job, entity],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let range = match row {
                Some((from, Some(to))) => ExportRange { from, to, resumed: true },
                Some((from, None)) => ExportRange { from, to: current.max(from), resumed: false },
                None => ExportRange { from: 0, to: current, resumed: false },
            };
            if record && !range.resumed && range.to > range.from {
                tx.execute(
                    "INSERT INTO jobs.export_watermark (job, entity, version, pending_to) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(job, entity) DO UPDATE SET pending_to = excluded.pending_to",
                    params![job, entity, range.from, range.to],
                )?;
            }
            Ok(range)
        })
    }

    /// Advances a job's watermark after its file is durably published.
    pub fn finish_export(&mut self, job: &str, entity: &str, to: i64) -> Result<(), StoreError> {
        self.jobs_transaction(|tx| set_watermark(tx, job, entity, to))
    }

    /// Forgets a job's watermarks (every entity); returns how many were removed.
    pub fn reset_export(&mut self, job: &str) -> Result<usize, StoreError> {
        self.jobs_transaction(|tx| tx.execute("DELETE FROM jobs.export_watermark WHERE job = ?1", [job]))
    }

    /// Records the outcome of an e-invoice run in one transaction: documents refused are (still)
    /// pending for the job's output, documents written are pending no more (with the parties
    /// they were written with, when refreshed from master data), and the job's watermark moves
    /// to `to` (when the run covered a new range).
    pub fn finish_einvoices(&mut self, job: &str, output: &str, run: &EinvoiceRun<'_>) -> Result<(), StoreError> {
        self.jobs_transaction(|tx| {
            let mut up = tx.prepare(
                "INSERT INTO jobs.einvoice_pending (job, output, invoice_id, legal_entity, number, findings,
                    first_refused, last_refused, runs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1)
                 ON CONFLICT(job, output, invoice_id) DO UPDATE SET findings = excluded.findings,
                    last_refused = excluded.last_refused, runs = runs + 1",
            )?;
            for r in run.refused {
                up.execute(params![job, output, r.invoice_id, r.legal_entity, r.number, r.findings, run.today])?;
            }
            let mut del =
                tx.prepare("DELETE FROM jobs.einvoice_pending WHERE job = ?1 AND output = ?2 AND invoice_id = ?3")?;
            for id in run.written {
                del.execute(params![job, output, id])?;
            }
            let mut parties = tx.prepare(
                "INSERT INTO jobs.einvoice_parties (invoice_id, parties) VALUES (?1, ?2)
                 ON CONFLICT(invoice_id) DO UPDATE SET parties = excluded.parties",
            )?;
            for (id, json) in run.parties {
                parties.execute(params![id, json])?;
            }
            if let Some(to) = run.to {
                set_watermark(tx, job, output, to)?;
            }
            Ok(())
        })
    }

    /// The documents pending for a job's e-invoice output (skipped ones too, marked), by
    /// legal entity and number.
    pub fn pending_einvoices(&self, job: &str, output: &str) -> Result<Vec<PendingEntry>, StoreError> {
        self.jobs_only()?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT legal_entity, number, findings, first_refused, last_refused, runs, skipped_by, skipped_at,
                    skip_reason FROM jobs.einvoice_pending WHERE job = ?1 AND output = ?2
                 ORDER BY legal_entity, number",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![job, output], |r| {
                Ok(PendingEntry {
                    legal_entity: r.get(0)?,
                    number: r.get(1)?,
                    findings: r.get(2)?,
                    first_refused: r.get(3)?,
                    last_refused: r.get(4)?,
                    runs: r.get(5)?,
                    skipped_by: r.get(6)?,
                    skipped_at: r.get(7)?,
                    skip_reason: r.get(8)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Marks a pending document as skipped; false when the job has no such pending document.
    pub fn skip_einvoice(
        &mut self,
        job: &str,
        output: &str,
        legal_entity: &str,
        number: &str,
        skip: &Skip,
    ) -> Result<bool, StoreError> {
        let n = self.jobs_transaction(|tx| {
            tx.execute(
                "UPDATE jobs.einvoice_pending SET skipped_by = ?5, skipped_at = ?6, skip_reason = ?7
                 WHERE job = ?1 AND output = ?2 AND legal_entity = ?3 AND number = ?4 AND skipped_at IS NULL",
                params![job, output, legal_entity, number, skip.by, skip.at, skip.reason],
            )
        })?;
        Ok(n > 0)
    }
}

/// What an e-invoice run records (see [`Store::finish_einvoices`]).
pub struct EinvoiceRun<'a> {
    /// The new watermark, when the run covered a new range.
    pub to: Option<i64>,
    /// Documents refused.
    pub refused: &'a [PendingDoc],
    /// Pending documents now written.
    pub written: &'a [i64],
    /// Parties refreshed from master data for documents written with them: (invoice id, JSON).
    pub parties: &'a [(i64, String)],
    /// The run's date.
    pub today: &'a str,
}

fn set_watermark(tx: &rusqlite::Transaction<'_>, job: &str, entity: &str, to: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO jobs.export_watermark (job, entity, version, pending_to) VALUES (?1, ?2, ?3, NULL)
         ON CONFLICT(job, entity) DO UPDATE SET version = excluded.version, pending_to = NULL",
        params![job, entity, to],
    )
    .map(|_| ())
}
