//! The ledger store: one SQLite file (WAL), versioned schema migrations, one transaction per
//! batch, a store-wide change version per committed invoice. The only module that knows SQL.
//!
//! An invoice is a row of `invoice` and a row of `invoice_body` whose blobs hold its lines, VAT
//! breakdown and ledger entries ([`body`]). Decimals are exact (text in `invoice`, scaled in the
//! blobs); sums are done in Rust, never in SQL.

mod body;
mod jobs;
mod schema;

pub use jobs::{path_of as jobs_path, EinvoiceRun, ExportRange, PendingDoc, PendingEntry, Skip};

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rust_decimal::Decimal;

use crate::entity::Catalog;
use crate::model::master::MasterData;
use crate::model::Extras;
use crate::post::{CreditLimitCheck, Posted};
use crate::validate::{Reject, Rule};

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

/// What happened to one invoice of a batch.
#[derive(Debug)]
pub enum Committed {
    /// Written, with its number, voucher and change version.
    Posted {
        /// Invoice number.
        number: String,
        /// Ledger voucher.
        voucher: String,
        /// Change version.
        version: i64,
    },
    /// Stored as a draft (not posted).
    Draft {
        /// Change version.
        version: i64,
    },
    /// Identical to what the store holds: nothing written.
    Unchanged,
    /// Refused (a changed posted invoice, a credit limit, a number in use), with the role of
    /// the field at fault for the caller to name (the store knows no entity definitions).
    Rejected(Reject, Option<crate::entity::Role>),
}

fn fmt_number(format: &str, n: i64) -> String {
    let width = format.chars().filter(|c| *c == '#').count();
    if width == 0 {
        return format!("{format}{n}");
    }
    let start = format.find('#').unwrap_or(0);
    let digits = format!("{n:0width$}");
    let end = start + format[start..].chars().take_while(|c| *c == '#').count();
    format!("{}{}{}", &format[..start], digits, &format[end..])
}

fn extras_json(entity: &str, extras: &Extras) -> String {
    fields_json(entity, extras.iter())
}

/// Fields without a role as a JSON object by field name (an index the entity does not have
/// under its number).
fn fields_json<'a>(entity: &str, fields: impl Iterator<Item = (u16, &'a str)>) -> String {
    let e = Catalog::builtin().get(entity);
    let mut map = serde_json::Map::new();
    for (i, v) in fields {
        let name =
            e.and_then(|e| e.fields.get(usize::from(i))).map(|f| f.name.clone()).unwrap_or_else(|| i.to_string());
        map.insert(name, serde_json::Value::String(v.to_string()));
    }
    serde_json::Value::Object(map).to_string()
}

/// An invoice's body blobs ([`body`]): encoded beside the posting, on the posting threads, so
/// that the one writer only stores them.
#[derive(Debug, Clone, Default)]
pub struct Body {
    lines: Vec<u8>,
    taxes: Vec<u8>,
    ledger: Option<Vec<u8>>,
}

impl Body {
    /// The body of a posted invoice (its ledger left out when it is stored as a draft).
    pub fn of(p: &Posted, draft: bool) -> Body {
        let h = &p.invoice.header;
        let t = &p.totals;
        let mut lines = body::Writer::new();
        for (i, (l, tax)) in p.invoice.lines.iter().zip(&p.invoice.taxes).enumerate() {
            lines
                .row()
                .dec(l.line_number.normalize())
                .dec(l.quantity)
                .dec(l.unit_price)
                .dec(l.price_unit)
                .dec(l.discount_per_unit)
                .dec(l.discount_percent)
                .dec(l.discount_amount)
                .dec(l.charge_amount)
                .dec(t.line_nets[i])
                .text(tax.code)
                .text(tax.category)
                .dec(tax.rate.normalize())
                .dec(t.line_taxes[i])
                .dec(t.line_allowances[i])
                .opt_text(l.tax_group.as_deref().or(h.tax_group.as_deref()))
                .opt_text(l.item_tax_group.as_deref().or(h.item_tax_group.as_deref()))
                .opt_text(l.item_id())
                .opt_text(l.item_name())
                .opt_text(l.description())
                .opt_text(l.unit.as_deref())
                .opt_text(l.main_account.as_deref())
                .opt_text(l.distribution())
                .fields(l.extras.iter());
        }
        let mut taxes = body::Writer::new();
        for (i, g) in t.groups.iter().enumerate() {
            taxes
                .row()
                .text(g.category)
                .dec(g.rate.normalize())
                .text(g.tax_code)
                .dec(g.lines)
                .dec(g.allowance)
                .dec(g.charge)
                .dec(g.base)
                .dec(g.amount)
                .opt_text(p.exemptions.get(i).and_then(|e| e.0.as_deref()))
                .opt_text(p.exemptions.get(i).and_then(|e| e.1.as_deref()));
        }
        let ledger = (!draft).then(|| {
            let mut w = body::Writer::new();
            for e in &p.ledger {
                w.row()
                    .text(&e.account)
                    .text(e.posting_type.as_str())
                    .dec(e.amount)
                    .dec(e.amount_acc)
                    .int(i64::from(e.is_credit))
                    .opt_text(e.tax_code)
                    .opt_dec(e.line_number.map(|n| n.normalize()));
            }
            w.finish()
        });
        Body { lines: lines.finish(), taxes: taxes.finish(), ledger }
    }
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
        Ok(Store { path: path.to_path_buf(), conn, _lock: lock, jobs: false, balances: HashMap::new() })
    }

    fn damaged(&self, e: body::Damaged) -> StoreError {
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

    /// Commits a batch of posted invoices in one transaction, in order: unchanged ones are
    /// skipped, changed posted ones refused, the rest numbered and written with the next
    /// change versions. `draft` stores them unposted (no numbers drawn, no ledger).
    pub fn commit(
        &mut self,
        batch: &[Posted],
        bodies: &[Body],
        draft: bool,
        credit_limit: CreditLimitCheck,
        md: &MasterData,
    ) -> Result<Vec<Committed>, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let mut version = self.change_version()?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let mut out = Vec::with_capacity(batch.len());
        let mut balances = self.balances.clone();
        if bodies.len() != batch.len() {
            // A caller's defect, not the data's: nothing is written.
            return Err(StoreError::Damaged {
                path: self.path.clone(),
                message: format!("{} invoices to commit with {} bodies", batch.len(), bodies.len()),
            });
        }
        for (p, b) in batch.iter().zip(bodies) {
            let h = &p.invoice.header;
            let source_key = match (h.document, &h.number, h.record_id) {
                (crate::entity::DocumentKind::FreeText, _, Some(id)) => format!("FT:{id}"),
                (_, Some(n), _) => n.to_string(),
                (_, None, id) => format!("FT:{}", id.unwrap_or_default()),
            };
            type Existing = (i64, String, String, Option<String>, Option<String>);
            let existing: Option<Existing> = tx
                .prepare_cached(
                    "SELECT id, content_hash, status, number, voucher FROM invoice
                     WHERE legal_entity = ?1 AND source_key = ?2",
                )
                .map_err(sql)?
                .query_row(params![&*h.legal_entity, source_key], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()
                .map_err(sql)?;
            let target = if draft { "draft" } else { "posted" };
            if let Some((_, hash, status, number, voucher)) = &existing {
                // The same content, and the same number and voucher where this row gives them
                // (a drawn number comes back in the invoice's own export).
                let same_content =
                    if hash.starts_with("x3:") { *hash == p.content_hash } else { *hash == p.legacy_hash() };
                let same_numbers = h.number.as_deref().is_none_or(|n| number.as_deref() == Some(n))
                    && h.voucher.as_deref().is_none_or(|v| voucher.as_deref() == Some(v));
                if same_content && same_numbers && (status == target || status == "posted") {
                    out.push(Committed::Unchanged);
                    continue;
                }
                if status == "posted" {
                    out.push(Committed::Rejected(
                        Reject::new(
                            h.origin,
                            None,
                            Rule::StorePostedChanged,
                            format!(
                                "invoice {source_key} of legal entity {} is posted and differs from this row — {}",
                                h.legal_entity,
                                Rule::StorePostedChanged.fix()
                            ),
                        ),
                        None,
                    ));
                    continue;
                }
            }
            // A number or voucher the source gives must not be another document's.
            if let Some((r, role)) = number_in_use(&tx, &path, h, &source_key)? {
                out.push(Committed::Rejected(r, Some(role)));
                continue;
            }
            let (open, open_acc) = p.open_item();
            if !draft && credit_limit == CreditLimitCheck::Balance {
                let limit = md.customers.get(&*h.customer).and_then(|c| c.credit_limit).unwrap_or_default();
                if limit > Decimal::ZERO {
                    let key = (h.legal_entity.to_string(), h.customer.to_string());
                    let balance = match balances.get(&key) {
                        Some(b) => *b,
                        None => {
                            let mut stmt = tx
                                .prepare_cached(
                                    "SELECT amount_acc FROM customer_trans WHERE legal_entity = ?1 AND customer = ?2",
                                )
                                .map_err(sql)?;
                            let rows = stmt.query_map(params![key.0, key.1], |r| r.get::<_, String>(0)).map_err(sql)?;
                            let mut sum = Decimal::ZERO;
                            for v in rows {
                                let v = v.map_err(sql)?.parse::<Decimal>().unwrap_or_default();
                                // Open items are each within the amount limit; their sum is
                                // capped rather than overflowing (it is then above any limit).
                                sum = sum.checked_add(v).unwrap_or(Decimal::MAX);
                            }
                            sum
                        }
                    };
                    let after = balance.checked_add(open_acc).unwrap_or(Decimal::MAX);
                    if after > limit {
                        out.push(Committed::Rejected(Reject::new(
                            h.origin,
                            None,
                            Rule::PostCreditLimit,
                            format!(
                                "customer {} has an open balance of {balance} and this invoice adds {open_acc}: above the credit limit {limit} — {}",
                                h.customer,
                                Rule::PostCreditLimit.fix()
                            ),
                        ), None));
                        continue;
                    }
                    balances.insert(key, after);
                }
            }
            // Every check passed: a draft of the same invoice is replaced.
            if let Some((id, ..)) = &existing {
                tx.execute("DELETE FROM invoice_body WHERE invoice_id = ?1", [id]).map_err(sql)?;
                tx.execute("DELETE FROM invoice WHERE id = ?1", [id]).map_err(sql)?;
            }
            version += 1;
            let (number, voucher) = if draft {
                (h.number.as_deref().map(str::to_string), h.voucher.as_deref().map(str::to_string))
            } else {
                let number = match &h.number {
                    Some(n) => n.to_string(),
                    None => next_number(&tx, &path, &h.legal_entity, p.sequence)?,
                };
                let voucher = match &h.voucher {
                    Some(v) => v.to_string(),
                    None => next_number(&tx, &path, &h.legal_entity, "Voucher")?,
                };
                (Some(number), Some(voucher))
            };
            let t = &p.totals;
            let line_entity = p.invoice.lines.first().map(|l| l.entity.to_string()).unwrap_or_default();
            tx.prepare_cached(
                "INSERT INTO invoice (legal_entity, source_key, number, status, document, kind, header_entity, line_entity,
                    invoice_date, due_date, customer, currency, accounting_currency, exchange_rate, payment_terms,
                    order_reference, buyer_reference, sales_order, original_invoice, voucher, record_id,
                    line_total, allowance_total, charge_total, tax_exclusive, vat_total, tax_inclusive, prepaid, payable,
                    vat_total_acc, rounding, content_hash, extras, parties, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
                    ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    &*h.legal_entity,
                    source_key,
                    number,
                    target,
                    match h.document {
                        crate::entity::DocumentKind::Sales => "sales",
                        crate::entity::DocumentKind::FreeText => "free_text",
                    },
                    if p.credit_note { "credit_note" } else { "invoice" },
                    &*h.entity,
                    line_entity,
                    h.date.to_string(),
                    p.due_date.to_string(),
                    &*h.customer,
                    h.currency.code(),
                    p.accounting_currency.code(),
                    p.rate.normalize().to_string(),
                    h.payment_terms.as_deref(),
                    h.order_reference.as_deref(),
                    h.buyer_reference.as_deref(),
                    h.sales_order.as_deref(),
                    h.original_invoice.as_deref(),
                    voucher,
                    h.record_id,
                    t.line_total.to_string(),
                    t.allowance_total.to_string(),
                    t.charge_total.to_string(),
                    t.tax_exclusive.to_string(),
                    t.vat_total.to_string(),
                    t.tax_inclusive.to_string(),
                    t.prepaid.to_string(),
                    t.payable.to_string(),
                    p.vat_total_acc.to_string(),
                    t.policy.as_str(),
                    p.content_hash,
                    extras_json(h.entity, &h.extras),
                    p.parties_json(),
                    version,
                ])
            })
            .map_err(sql)?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO invoice_body (invoice_id, lines, taxes, ledger) VALUES (?1, ?2, ?3, ?4)")
                .map_err(sql)?
                .execute(params![id, b.lines, b.taxes, if draft { None } else { b.ledger.as_deref() }])
                .map_err(sql)?;
            match (number, voucher) {
                (Some(number), Some(voucher)) if !draft => {
                    tx.prepare_cached(
                        "INSERT INTO customer_trans (legal_entity, customer, invoice_id, invoice_number, voucher, trans_date,
                            due_date, amount, currency, amount_acc, accounting_currency, version)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute(params![
                            &*h.legal_entity,
                            &*h.customer,
                            id,
                            number,
                            voucher,
                            h.date.to_string(),
                            p.due_date.to_string(),
                            open.to_string(),
                            h.currency.code(),
                            open_acc.to_string(),
                            p.accounting_currency.code(),
                            version,
                        ])
                    })
                    .map_err(sql)?;
                    out.push(Committed::Posted { number, voucher, version });
                }
                _ => out.push(Committed::Draft { version }),
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('change_version', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [version.to_string()],
        )
        .map_err(sql)?;
        if let Some(ms) = std::env::var("INVOICEFLOW_TEST_SLOW_COMMIT_MS").ok().and_then(|v| v.parse().ok()) {
            // Test hook: hold the write transaction open, as a slow disk or a huge batch would.
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        tx.commit().map_err(sql)?;
        self.balances = balances;
        Ok(out)
    }

    /// A canonical text dump of the business content (invoices, lines, taxes, ledger, open
    /// items, number sequences, change version), for comparing stores in tests and audits.
    pub fn dump(&self) -> Result<String, StoreError> {
        let mut out = String::new();
        let text = |c: &body::Cell| match c {
            body::Cell::Null => "∅".to_string(),
            c => c.to_text().unwrap_or_default(),
        };
        for (table, sql, kinds) in [
            ("meta", "SELECT * FROM meta ORDER BY key", None),
            ("number_sequence", "SELECT * FROM number_sequence ORDER BY legal_entity, reference", None),
            ("invoice", "SELECT * FROM invoice ORDER BY id", None),
            (BODY_VIEWS[0].0, BODY_VIEWS[0].1, Some(BODY_VIEWS[0].2)),
            (BODY_VIEWS[1].0, BODY_VIEWS[1].1, Some(BODY_VIEWS[1].2)),
            (BODY_VIEWS[2].0, BODY_VIEWS[2].1, Some(BODY_VIEWS[2].2)),
            ("customer_trans", "SELECT * FROM customer_trans ORDER BY id", None),
        ] {
            let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
            let names: Vec<String> = match kinds {
                Some(k) => body_names(&stmt, k),
                None => stmt.column_names().map(str::to_string).collect(),
            };
            out.push_str(&format!("## {table}: {}\n", names.join(",")));
            let mut rows = stmt.query([]).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                let cells = match kinds {
                    Some(k) => body_rows(r, k).map_err(|e| self.damaged(e))?,
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
    /// `invoice_tax`, `ledger_entry`, with the same columns), as temporary tables of this
    /// connection, for audits and tests that query them with SQL. A ledger entry's `id` is its
    /// place in posting order.
    pub fn expand_bodies(&self) -> Result<(), StoreError> {
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
                for row in body_rows(r, kinds).map_err(|e| self.damaged(e))? {
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

    /// Runs a query returning rows of text (NULL as None), for exports and checks.
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

    /// The body blob an export of this table reads (its last column), and its columns.
    fn body(self) -> Option<&'static [(&'static str, body::Kind)]> {
        match self {
            ExportTable::Lines => Some(body::LINE),
            ExportTable::Ledger => Some(body::LEDGER),
            ExportTable::Invoices | ExportTable::CustomerTrans => None,
        }
    }
}

/// One row of an export scan: text by column index (NULL as `None`).
pub enum ScanRow<'a, 'b> {
    /// A row of a row table.
    Sql(&'a rusqlite::Row<'b>),
    /// A row of an invoice body: its invoice's columns, its position, its cells (decimals as
    /// text; fields without a role as [`ScanRow::fields`] gives them).
    Body {
        /// The invoice's columns.
        shared: &'a [body::Cell],
        /// The position of the row in its invoice, as text.
        position: &'a str,
        /// The row's cells.
        cells: &'a [body::Cell],
    },
}

impl ScanRow<'_, '_> {
    fn cell(&self, i: usize) -> Option<&body::Cell> {
        match self {
            ScanRow::Sql(_) => None,
            ScanRow::Body { shared, cells, .. } => {
                if i < shared.len() {
                    shared.get(i)
                } else {
                    cells.get(i - shared.len() - 1)
                }
            }
        }
    }

    /// The text of column `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        match self {
            ScanRow::Sql(r) => match r.get_ref(i) {
                Ok(rusqlite::types::ValueRef::Text(t)) => std::str::from_utf8(t).ok(),
                _ => None,
            },
            ScanRow::Body { shared, position, .. } if i == shared.len() => Some(position),
            ScanRow::Body { .. } => match self.cell(i) {
                Some(body::Cell::Text(t)) => Some(t),
                _ => None,
            },
        }
    }

    /// The integer of column `i`.
    pub fn int(&self, i: usize) -> Option<i64> {
        match self {
            ScanRow::Sql(r) => match r.get_ref(i) {
                Ok(rusqlite::types::ValueRef::Integer(v)) => Some(v),
                _ => None,
            },
            ScanRow::Body { .. } => match self.cell(i) {
                Some(body::Cell::Int(v)) => Some(*v),
                _ => None,
            },
        }
    }

    /// The fields without a role of column `i`, by their index in the row's entity (the
    /// `line_entity` column), when the store holds them so; `None` when it holds them as a JSON
    /// text ([`ScanRow::get`] gives that).
    pub fn fields(&self, i: usize) -> Option<&[(u16, String)]> {
        match self.cell(i) {
            Some(body::Cell::Fields(f)) => Some(f),
            _ => None,
        }
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

/// The rows of the body blob in the last column of `r`, each as the row's other columns,
/// its position and its cells.
fn body_rows(r: &rusqlite::Row<'_>, kinds: &[(&str, body::Kind)]) -> Result<Vec<Vec<body::Cell>>, body::Damaged> {
    let n = r.as_ref().column_count();
    let blob = match r.get_ref(n - 1) {
        Ok(rusqlite::types::ValueRef::Blob(b)) => b,
        _ => return Err(body::Damaged("no body")),
    };
    let shared: Vec<body::Cell> = (0..n - 1).map(|i| r.get_ref(i).map(sql_cell).unwrap_or(body::Cell::Null)).collect();
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
            row.extend(cells.into_iter().map(|c| named_fields(entity, c)));
            row
        })
        .collect())
}

/// A cell of fields without a role as the JSON object by field name the readers take
/// (`{"DeliveryModeCode":"PARCEL"}`); other cells as they are.
fn named_fields(entity: &str, c: body::Cell) -> body::Cell {
    match c {
        body::Cell::Fields(f) => body::Cell::Text(fields_json(entity, f.iter().map(|(i, t)| (*i, t.as_str())))),
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
            let blob = match r.get_ref(n - 1) {
                Ok(rusqlite::types::ValueRef::Blob(b)) => b,
                _ => return Err(self.damaged(body::Damaged("no body"))),
            };
            let shared: Vec<body::Cell> =
                (0..n - 1).map(|i| r.get_ref(i).map(sql_cell).unwrap_or(body::Cell::Null)).collect();
            let mut position = String::new();
            for (pos, mut cells) in body::read(blob, kinds.len()).map_err(|e| self.damaged(e))?.into_iter().enumerate()
            {
                for c in &mut cells {
                    if let body::Cell::Dec(d) = c {
                        *c = body::Cell::Text(d.to_string());
                    }
                }
                position.clear();
                std::fmt::Write::write_fmt(&mut position, format_args!("{pos}")).ok();
                if let Err(e) = f(&ScanRow::Body { shared: &shared, position: &position, cells: &cells }) {
                    return Ok(Err(e));
                }
            }
        }
        Ok(Ok(()))
    }
}

/// A posted invoice as stored, for writing its e-invoice: text columns by name.
#[derive(Debug, Clone, Default)]
pub struct StoredDoc {
    /// Invoice columns (name → text).
    pub invoice: std::collections::HashMap<String, String>,
    /// Line rows, in position order.
    pub lines: Vec<std::collections::HashMap<String, String>>,
    /// VAT breakdown rows, in position order.
    pub taxes: Vec<std::collections::HashMap<String, String>>,
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
    /// Calls `f` with every posted invoice with `from < version <= to`, its lines and VAT
    /// breakdown (three ordered scans merged, one read transaction).
    pub fn documents(&self, range: ExportRange, f: impl FnMut(StoredDoc)) -> Result<(), StoreError> {
        self.documents_with_status("posted", range, f)
    }

    /// Calls `f` with every draft (unposted) invoice, in the order it was stored.
    pub fn drafts(&self, f: impl FnMut(StoredDoc)) -> Result<(), StoreError> {
        self.documents_with_status("draft", ExportRange { from: i64::MIN, to: i64::MAX, resumed: false }, f)
    }

    fn documents_with_status(
        &self,
        status: &str,
        range: ExportRange,
        f: impl FnMut(StoredDoc),
    ) -> Result<(), StoreError> {
        let status = if status == "draft" { "draft" } else { "posted" };
        let filter = format!("i.status = '{status}' AND i.version > ?1 AND i.version <= ?2");
        self.documents_where(&filter, params![range.from, range.to], f)
    }

    /// Calls `f` with every document a job's e-invoice output refused and nobody skipped, in
    /// the order they were posted.
    pub fn pending_documents(&self, job: &str, output: &str, f: impl FnMut(StoredDoc)) -> Result<(), StoreError> {
        let filter = "i.id IN (SELECT invoice_id FROM jobs.einvoice_pending
                       WHERE job = ?1 AND output = ?2 AND skipped_at IS NULL)";
        self.documents_where(filter, params![job, output], f)
    }

    /// The documents whose invoice row passes `filter` (an SQL condition on `i`), with their
    /// lines and VAT breakdown: three ordered scans merged in one read transaction.
    fn documents_where(
        &self,
        filter: &str,
        args: impl rusqlite::Params + Clone,
        mut f: impl FnMut(StoredDoc),
    ) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        // The parties a refused e-invoice was finally written with take the place of those
        // the invoice was posted with.
        let select = if self.jobs {
            "SELECT i.*, p.parties AS parties_written, b.lines AS body_lines, b.taxes AS body_taxes FROM invoice i
             JOIN invoice_body b ON b.invoice_id = i.id
             LEFT JOIN jobs.einvoice_parties p ON p.invoice_id = i.id"
        } else {
            "SELECT i.*, b.lines AS body_lines, b.taxes AS body_taxes FROM invoice i
             JOIN invoice_body b ON b.invoice_id = i.id"
        };
        let mut inv = tx.prepare(&format!("{select} WHERE {filter} ORDER BY i.id")).map_err(self.err())?;
        let in_names: Vec<String> = inv.column_names().map(str::to_string).collect();
        let at = |name: &str| in_names.iter().position(|n| n == name).unwrap_or(usize::MAX);
        let (lines_at, taxes_at) = (at("body_lines"), at("body_taxes"));
        let mut irows = inv.query(args).map_err(self.err())?;
        while let Some(r) = irows.next().map_err(self.err())? {
            let mut invoice = row_map(r, &in_names);
            if let Some(p) = invoice.remove("parties_written") {
                invoice.insert("parties".into(), p);
            }
            let id = invoice.get("id").cloned().unwrap_or_default();
            let version = invoice.get("version").cloned().unwrap_or_default();
            let line_entity = invoice.get("line_entity").cloned().unwrap_or_default();
            let children = |at: usize, kinds: &[(&str, body::Kind)]| -> Result<Vec<RowMap>, StoreError> {
                let blob = match r.get_ref(at) {
                    Ok(rusqlite::types::ValueRef::Blob(b)) => b,
                    _ => return Err(self.damaged(body::Damaged("no body"))),
                };
                let rows = body::read(blob, kinds.len()).map_err(|e| self.damaged(e))?;
                Ok(rows
                    .into_iter()
                    .enumerate()
                    .map(|(pos, cells)| {
                        let mut m = RowMap::with_capacity(kinds.len() + 3);
                        m.insert("invoice_id".into(), id.clone());
                        m.insert("position".into(), pos.to_string());
                        m.insert("version".into(), version.clone());
                        for ((name, _), c) in kinds.iter().zip(cells) {
                            if let Some(t) = named_fields(&line_entity, c).to_text() {
                                m.insert(name.to_string(), t);
                            }
                        }
                        m
                    })
                    .collect())
            };
            let lines = children(lines_at, body::LINE)?;
            let taxes = children(taxes_at, body::TAX)?;
            let doc = StoredDoc { invoice, lines, taxes };
            f(doc);
        }
        Ok(())
    }
}

/// Which column of `invoice` a number lives in.
#[derive(Clone, Copy)]
enum NumberKind {
    Invoice,
    Voucher,
}

impl NumberKind {
    fn query(self) -> &'static str {
        match self {
            NumberKind::Invoice => {
                "SELECT document, source_key, status FROM invoice
                 WHERE legal_entity = ?1 AND number = ?2 AND source_key <> ?3 LIMIT 1"
            }
            NumberKind::Voucher => {
                "SELECT document, source_key, status FROM invoice
                 WHERE legal_entity = ?1 AND voucher = ?2 AND source_key <> ?3 LIMIT 1"
            }
        }
    }
}

/// The document of a legal entity other than `except` (a source key) that uses `number` (as
/// invoice number or voucher): a description such as "the posted sales invoice S-1".
fn used_by(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    legal_entity: &str,
    kind: NumberKind,
    number: &str,
    except: &str,
) -> Result<Option<String>, StoreError> {
    let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let row: Option<(String, String, String)> = tx
        .prepare_cached(kind.query())
        .map_err(sql)?
        .query_row(params![legal_entity, number, except], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(sql)?;
    Ok(row.map(|(document, key, status)| {
        let status = if status == "posted" { "posted" } else { "draft" };
        match key.strip_prefix("FT:") {
            Some(rec) if document == "free_text" => format!("the {status} free-text invoice of record {rec}"),
            _ => format!("the {status} sales invoice {key}"),
        }
    }))
}

/// The reject of an invoice whose source number or voucher another document of its legal
/// entity uses already (invoice numbers and vouchers are unique per legal entity, across sales
/// and free-text invoices).
fn number_in_use(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    h: &crate::model::InvoiceHeader,
    source_key: &str,
) -> Result<Option<(Reject, crate::entity::Role)>, StoreError> {
    let this = match source_key.strip_prefix("FT:") {
        Some(rec) => format!("free-text invoice record {rec}"),
        None => format!("invoice {source_key}"),
    };
    for (kind, value, what) in [
        (NumberKind::Invoice, h.number.as_deref(), "invoice number"),
        (NumberKind::Voucher, h.voucher.as_deref(), "voucher"),
    ] {
        let Some(value) = value else { continue };
        if let Some(other) = used_by(tx, path, &h.legal_entity, kind, value, source_key)? {
            let role = match kind {
                NumberKind::Invoice => crate::entity::Role::InvoiceNumber,
                NumberKind::Voucher => crate::entity::Role::Voucher,
            };
            let r = Reject::new(
                h.origin,
                None,
                Rule::KeyNumberInUse,
                format!(
                    "{this} of legal entity {} has the {what} {value}, which {other} uses already — {}",
                    h.legal_entity,
                    Rule::KeyNumberInUse.fix()
                ),
            );
            return Ok(Some((r, role)));
        }
    }
    Ok(None)
}

/// The next number of a sequence that no document of the legal entity uses (a number a source
/// document brought along is skipped; the sequence moves past it).
fn next_number(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    legal_entity: &str,
    reference: &str,
) -> Result<String, StoreError> {
    let kind = if reference == "Voucher" { NumberKind::Voucher } else { NumberKind::Invoice };
    loop {
        let candidate = draw(tx, path, legal_entity, reference)?;
        if used_by(tx, path, legal_entity, kind, &candidate, "")?.is_none() {
            return Ok(candidate);
        }
    }
}

fn draw(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    legal_entity: &str,
    reference: &str,
) -> Result<String, StoreError> {
    let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let row: Option<(String, i64)> = tx
        .prepare_cached("SELECT format, next FROM number_sequence WHERE legal_entity = ?1 AND reference = ?2")
        .and_then(|mut s| s.query_row(params![legal_entity, reference], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(sql)?;
    let Some((format, next)) = row else {
        return Err(StoreError::NoSequence {
            path: path.to_path_buf(),
            legal_entity: legal_entity.to_string(),
            reference: reference.to_string(),
        });
    };
    tx.prepare_cached("UPDATE number_sequence SET next = next + 1 WHERE legal_entity = ?1 AND reference = ?2")
        .and_then(|mut s| s.execute(params![legal_entity, reference]))
        .map_err(sql)?;
    Ok(fmt_number(&format, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(fmt_number("DE-FTI-######", 42), "DE-FTI-000042");
        assert_eq!(fmt_number("V##-X", 123), "V123-X");
        assert_eq!(fmt_number("INV", 7), "INV7");
    }
}
