//! The ledger store: one SQLite file (WAL), versioned schema migrations, one transaction per
//! batch, a store-wide change version per committed invoice. The only module that knows SQL.
//!
//! Decimals are stored as exact text; sums are done in Rust, never in SQL.

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
    let e = Catalog::builtin().get(entity);
    let mut map = serde_json::Map::new();
    for (i, v) in extras.iter() {
        let name =
            e.and_then(|e| e.fields.get(usize::from(i))).map(|f| f.name.clone()).unwrap_or_else(|| i.to_string());
        map.insert(name, serde_json::Value::String(v.to_string()));
    }
    serde_json::Value::Object(map).to_string()
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
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        Ok(Store { path: path.to_path_buf(), conn, _lock: lock, jobs: false, balances: HashMap::new() })
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
        for p in batch {
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
                for t in ["invoice_line", "invoice_tax"] {
                    tx.execute(&format!("DELETE FROM {t} WHERE invoice_id = ?1"), [id]).map_err(sql)?;
                }
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
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO invoice_line (invoice_id, position, line_number, quantity, unit_price, price_unit,
                            discount_per_unit, discount_percent, discount_amount, charge_amount, net_amount, tax_code,
                            tax_category, tax_rate, tax_amount, allowance_amount, tax_group,
                            item_tax_group, item_id, item_name, description, unit, main_account, distribution,
                            extras, version)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                            ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
                    )
                    .map_err(sql)?;
                for (i, (l, tax)) in p.invoice.lines.iter().zip(&p.invoice.taxes).enumerate() {
                    stmt.execute(params![
                        id,
                        i as i64,
                        l.line_number.normalize().to_string(),
                        l.quantity.to_string(),
                        l.unit_price.to_string(),
                        l.price_unit.to_string(),
                        l.discount_per_unit.to_string(),
                        l.discount_percent.to_string(),
                        l.discount_amount.to_string(),
                        l.charge_amount.to_string(),
                        t.line_nets[i].to_string(),
                        tax.code,
                        tax.category,
                        tax.rate.normalize().to_string(),
                        t.line_taxes[i].to_string(),
                        t.line_allowances[i].to_string(),
                        l.tax_group.as_deref().or(h.tax_group.as_deref()),
                        l.item_tax_group.as_deref().or(h.item_tax_group.as_deref()),
                        l.item_id(),
                        l.item_name(),
                        l.description(),
                        l.unit.as_deref(),
                        l.main_account.as_deref(),
                        l.distribution(),
                        extras_json(l.entity, &l.extras),
                        version,
                    ])
                    .map_err(sql)?;
                }
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO invoice_tax (invoice_id, position, category, rate, tax_code, lines, allowance, charge,
                            base, amount, exemption_code, exemption_reason, version)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    )
                    .map_err(sql)?;
                for (i, g) in t.groups.iter().enumerate() {
                    stmt.execute(params![
                        id,
                        i as i64,
                        g.category,
                        g.rate.normalize().to_string(),
                        g.tax_code,
                        g.lines.to_string(),
                        g.allowance.to_string(),
                        g.charge.to_string(),
                        g.base.to_string(),
                        g.amount.to_string(),
                        p.exemptions.get(i).and_then(|e| e.0.as_deref()),
                        p.exemptions.get(i).and_then(|e| e.1.as_deref()),
                        version
                    ])
                    .map_err(sql)?;
                }
            }
            match (number, voucher) {
                (Some(number), Some(voucher)) if !draft => {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT INTO ledger_entry (voucher, legal_entity, invoice_id, position, entry_date, account,
                                posting_type, amount, currency, amount_acc, accounting_currency, is_credit, tax_code,
                                line_number, version)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                        )
                        .map_err(sql)?;
                    for (i, e) in p.ledger.iter().enumerate() {
                        stmt.execute(params![
                            voucher,
                            &*h.legal_entity,
                            id,
                            i as i64,
                            h.date.to_string(),
                            &*e.account,
                            e.posting_type.as_str(),
                            e.amount.to_string(),
                            h.currency.code(),
                            e.amount_acc.to_string(),
                            p.accounting_currency.code(),
                            e.is_credit,
                            e.tax_code,
                            e.line_number.map(|n| n.normalize().to_string()),
                            version,
                        ])
                        .map_err(sql)?;
                    }
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
        for (table, order) in [
            ("meta", "key"),
            ("number_sequence", "legal_entity, reference"),
            ("invoice", "id"),
            ("invoice_line", "invoice_id, position"),
            ("invoice_tax", "invoice_id, position"),
            ("ledger_entry", "id"),
            ("customer_trans", "id"),
        ] {
            let mut stmt = self.conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}")).map_err(self.err())?;
            let n = stmt.column_count();
            let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
            out.push_str(&format!("## {table}: {}\n", names.join(",")));
            let mut rows = stmt.query([]).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                let vals: Vec<String> = (0..n)
                    .map(|i| match r.get_ref(i) {
                        Ok(rusqlite::types::ValueRef::Null) => "∅".to_string(),
                        Ok(rusqlite::types::ValueRef::Integer(v)) => v.to_string(),
                        Ok(rusqlite::types::ValueRef::Real(v)) => v.to_string(),
                        Ok(rusqlite::types::ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                        Ok(rusqlite::types::ValueRef::Blob(b)) => format!("{b:?}"),
                        Err(e) => format!("error {e}"),
                    })
                    .collect();
                out.push_str(&vals.join("|"));
                out.push('\n');
            }
        }
        Ok(out)
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
                "SELECT l.*, i.legal_entity, i.number, i.invoice_date, i.voucher, i.currency, i.customer, i.record_id
                 FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id
                 WHERE i.status = 'posted' AND l.version > ?1 AND l.version <= ?2{doc}
                 ORDER BY l.version, l.position"
            ),
            ExportTable::Ledger => "SELECT e.*, i.number FROM ledger_entry e JOIN invoice i ON i.id = e.invoice_id
                 WHERE e.version > ?1 AND e.version <= ?2 ORDER BY e.id"
                .to_string(),
            ExportTable::CustomerTrans => {
                "SELECT t.* FROM customer_trans t WHERE t.version > ?1 AND t.version <= ?2 ORDER BY t.id".to_string()
            }
        }
    }
}

/// One row of an export scan: text by column index (NULL as `None`).
pub struct ScanRow<'a, 'b>(&'a rusqlite::Row<'b>);

impl ScanRow<'_, '_> {
    /// The text of column `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        match self.0.get_ref(i) {
            Ok(rusqlite::types::ValueRef::Text(t)) => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }
    /// The integer of column `i`.
    pub fn int(&self, i: usize) -> Option<i64> {
        match self.0.get_ref(i) {
            Ok(rusqlite::types::ValueRef::Integer(v)) => Some(v),
            _ => None,
        }
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
        Ok(stmt.column_names().map(str::to_string).collect())
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
            if let Err(e) = f(&ScanRow(r)) {
                return Ok(Err(e));
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

/// The rows of an ordered child scan that belong to invoice `id`; the first row of the next
/// invoice is kept in `pending` for the next call (a merge join on `invoice_id`).
fn take_children(
    rows: &mut rusqlite::Rows<'_>,
    names: &[String],
    pending: &mut Option<RowMap>,
    id: &str,
) -> rusqlite::Result<Vec<RowMap>> {
    let mut out = Vec::new();
    loop {
        let row = match pending.take() {
            Some(p) => Some(p),
            None => rows.next()?.map(|r| row_map(r, names)),
        };
        match row {
            Some(r) if r.get("invoice_id").map(String::as_str) == Some(id) => out.push(r),
            Some(r) => {
                *pending = Some(r);
                return Ok(out);
            }
            None => return Ok(out),
        }
    }
}

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
            "SELECT i.*, p.parties AS parties_written FROM invoice i
             LEFT JOIN jobs.einvoice_parties p ON p.invoice_id = i.id"
        } else {
            "SELECT i.* FROM invoice i"
        };
        let mut inv = tx.prepare(&format!("{select} WHERE {filter} ORDER BY i.id")).map_err(self.err())?;
        let mut lines = tx
            .prepare(&format!("SELECT l.* FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id WHERE {filter} ORDER BY l.invoice_id, l.position"))
            .map_err(self.err())?;
        let mut taxes = tx
            .prepare(&format!("SELECT t.* FROM invoice_tax t JOIN invoice i ON i.id = t.invoice_id WHERE {filter} ORDER BY t.invoice_id, t.position"))
            .map_err(self.err())?;
        let names = |s: &rusqlite::Statement<'_>| s.column_names().map(str::to_string).collect::<Vec<_>>();
        let (in_names, l_names, t_names) = (names(&inv), names(&lines), names(&taxes));
        let mut lrows = lines.query(args.clone()).map_err(self.err())?;
        let mut trows = taxes.query(args.clone()).map_err(self.err())?;
        let mut irows = inv.query(args).map_err(self.err())?;
        let mut pending_line = None;
        let mut pending_tax = None;
        while let Some(r) = irows.next().map_err(self.err())? {
            let mut invoice = row_map(r, &in_names);
            if let Some(p) = invoice.remove("parties_written") {
                invoice.insert("parties".into(), p);
            }
            let id = invoice.get("id").cloned().unwrap_or_default();
            let mut doc = StoredDoc { invoice, ..StoredDoc::default() };
            doc.lines = take_children(&mut lrows, &l_names, &mut pending_line, &id).map_err(self.err())?;
            doc.taxes = take_children(&mut trows, &t_names, &mut pending_tax, &id).map_err(self.err())?;
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
        .query_row(
            "SELECT format, next FROM number_sequence WHERE legal_entity = ?1 AND reference = ?2",
            params![legal_entity, reference],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql)?;
    let Some((format, next)) = row else {
        return Err(StoreError::NoSequence {
            path: path.to_path_buf(),
            legal_entity: legal_entity.to_string(),
            reference: reference.to_string(),
        });
    };
    tx.execute(
        "UPDATE number_sequence SET next = next + 1 WHERE legal_entity = ?1 AND reference = ?2",
        params![legal_entity, reference],
    )
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
