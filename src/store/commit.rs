//! The commit: a batch of posted invoices written in one transaction, with their numbers
//! drawn from the number sequences in input order.

use std::path::Path;

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use rust_decimal::Decimal;

use super::{body, Store, StoreError};
use crate::model::master::MasterData;
use crate::post::{CreditLimitCheck, Posted};

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
    /// Refused by the store's own checks: the caller says why, under which rule and field (the
    /// store knows no validation rules).
    Refused(Refusal),
}

/// Why the store refused an invoice, with what an explanation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A posted invoice of the same legal entity and key differs from this one.
    PostedChanged {
        /// The invoice's key in the store (its number, or `FT:` and the record id).
        source_key: String,
    },
    /// Posting it would take the customer's open balance (accounting currency) above the credit
    /// limit.
    CreditLimit {
        /// The open balance before it.
        balance: Decimal,
        /// What it adds.
        adds: Decimal,
        /// The customer's credit limit.
        limit: Decimal,
    },
    /// The invoice number or voucher its source gives is another document's.
    NumberInUse {
        /// The invoice's key in the store.
        source_key: String,
        /// Which number.
        kind: NumberKind,
        /// The number.
        value: String,
        /// The document using it, described ("the posted sales invoice S-1").
        other: String,
    },
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

/// An invoice's body blobs (`store/body.rs`): encoded beside the posting, on the posting threads, so
/// that the one writer only stores them.
#[derive(Debug, Clone, Default)]
pub struct Body {
    lines: Vec<u8>,
    taxes: Vec<u8>,
    ledger: Vec<u8>,
    /// The header's fields without a role, as the invoice row holds them (JSON by name).
    extras: String,
}

impl Body {
    /// The body of a posted invoice (the commit leaves the ledger out of a draft); the header's
    /// fields without a role named by `names`.
    pub fn of(p: &Posted, names: super::FieldNames) -> Body {
        let h = &p.invoice.header;
        let t = &p.totals;
        let mut lines = body::Writer::with_rows(p.invoice.lines.len(), 256 * p.invoice.lines.len());
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
        let mut taxes = body::Writer::with_rows(t.groups.len(), 48 * t.groups.len());
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
        let mut ledger = body::Writer::with_rows(p.ledger.len(), 48 * p.ledger.len());
        for e in &p.ledger {
            ledger
                .row()
                .text(&e.account)
                .text(e.posting_type.as_str())
                .dec(e.amount)
                .dec(e.amount_acc)
                .int(i64::from(e.is_credit))
                .opt_text(e.tax_code)
                .opt_dec(e.line_number.map(|n| n.normalize()));
        }
        Body {
            lines: lines.finish(),
            taxes: taxes.finish(),
            ledger: ledger.finish(),
            extras: super::read::fields_json(names, h.entity, h.extras.iter()),
        }
    }

    /// The line and VAT breakdown blobs, as [`crate::store::PostedDoc`] holds them.
    pub fn into_lines_and_taxes(self) -> (Vec<u8>, Vec<u8>) {
        (self.lines, self.taxes)
    }
}

impl Store {
    /// Commits a batch of posted invoices, each with its body, in one transaction, in order:
    /// unchanged ones are skipped, changed posted ones refused, the rest numbered and written
    /// with the next change versions. `draft` stores them unposted (no numbers drawn, no ledger).
    pub fn commit(
        &mut self,
        batch: &[(Posted, Body)],
        draft: bool,
        credit_limit: CreditLimitCheck,
        md: &MasterData,
    ) -> Result<Vec<Committed>, StoreError> {
        // The keys known before the batch; a batch that fails leaves them unknown (found again).
        let mut keys = std::mem::take(&mut self.keys);
        let out = self.commit_batch(batch, draft, credit_limit, md, &mut keys)?;
        self.keys = keys;
        Ok(out)
    }

    fn commit_batch(
        &mut self,
        batch: &[(Posted, Body)],
        draft: bool,
        credit_limit: CreditLimitCheck,
        md: &MasterData,
        keys: &mut Keys,
    ) -> Result<Vec<Committed>, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let mut version = self.change_version()?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        if let Keys::Unknown = keys {
            let any: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM invoice)", [], |r| r.get(0)).map_err(sql)?;
            *keys = if any { Keys::Ask } else { Keys::Own(Default::default()) };
        }
        let mut out = Vec::with_capacity(batch.len());
        let mut balances = self.balances.clone();
        let mut drawn = Drawn::default();
        let mut st = Statements::new(&tx).map_err(sql)?;
        for (p, b) in batch {
            let h = &p.invoice.header;
            let source_key = match (h.document, &h.number, h.record_id) {
                (crate::entity::DocumentKind::FreeText, _, Some(id)) => format!("FT:{id}"),
                (_, Some(n), _) => n.to_string(),
                (_, None, id) => format!("FT:{}", id.unwrap_or_default()),
            };
            type Existing = (i64, String, String, Option<String>, Option<String>);
            let existing: Option<Existing> = if keys.maybe(Keys::SOURCE, &h.legal_entity, &source_key) {
                st.existing
                    .query_row(params![&*h.legal_entity, source_key], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .optional()
                    .map_err(sql)?
            } else {
                None
            };
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
                    out.push(Committed::Refused(Refusal::PostedChanged { source_key: source_key.clone() }));
                    continue;
                }
            }
            // A number or voucher the source gives must not be another document's.
            if let Some(refusal) = number_in_use(&mut st, keys, &path, h, &source_key)? {
                out.push(Committed::Refused(refusal));
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
                        out.push(Committed::Refused(Refusal::CreditLimit { balance, adds: open_acc, limit }));
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
                    None => next_number(&tx, &mut st, keys, &path, &mut drawn, &h.legal_entity, p.sequence)?,
                };
                let voucher = match &h.voucher {
                    Some(v) => v.to_string(),
                    None => next_number(&tx, &mut st, keys, &path, &mut drawn, &h.legal_entity, "Voucher")?,
                };
                (Some(number), Some(voucher))
            };
            let t = &p.totals;
            let line_entity = p.invoice.lines.first().map(|l| l.entity.to_string()).unwrap_or_default();
            st.invoice
                .execute(params![
                    &*h.legal_entity,
                    source_key,
                    number,
                    target,
                    match h.document {
                        crate::entity::DocumentKind::Sales => "sales",
                        crate::entity::DocumentKind::FreeText => "free_text",
                    },
                    if p.credit_note { "credit_note" } else { "invoice" },
                    h.entity,
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
                    b.extras,
                    p.parties_json(),
                    version,
                ])
                .map_err(sql)?;
            let id = tx.last_insert_rowid();
            keys.add(Keys::SOURCE, &h.legal_entity, &source_key);
            if let Some(n) = &number {
                keys.add(Keys::NUMBER, &h.legal_entity, n);
            }
            if let Some(v) = &voucher {
                keys.add(Keys::VOUCHER, &h.legal_entity, v);
            }
            st.body.execute(params![id, b.lines, b.taxes, (!draft).then_some(&b.ledger)]).map_err(sql)?;
            match (number, voucher) {
                (Some(number), Some(voucher)) if !draft => {
                    st.open_item
                        .execute(params![
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
                            p.cash_discount.map(|c| c.date.to_string()),
                            p.cash_discount.map(|c| c.amount.to_string()),
                            p.cash_discount.map(|c| c.percent.normalize().to_string()),
                        ])
                        .map_err(sql)?;
                    out.push(Committed::Posted { number, voucher, version });
                }
                _ => out.push(Committed::Draft { version }),
            }
        }
        drop(st);
        drawn.store(&tx, &path)?;
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
}

/// Which number of an invoice: its invoice number or its voucher (each unique per legal entity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    /// The invoice number.
    Invoice,
    /// The ledger voucher.
    Voucher,
}

/// What a writer knows of the keys of the invoices in its store (source keys, invoice numbers,
/// vouchers, each with its legal entity): nothing yet; that the store must be asked; or every
/// key there is — the store held no invoice when this writer first committed, and every invoice
/// since is its own (a writer holds the store's lock) — as hashes. A key whose hash is not
/// among them is in no row, and the store is not asked; one whose hash is may be (the store is
/// asked). A migration into an empty store then asks nothing per invoice; a store with invoices
/// is asked as before.
#[derive(Debug, Default)]
pub(super) enum Keys {
    #[default]
    Unknown,
    Ask,
    Own(rustc_hash::FxHashSet<u64>),
}

impl Keys {
    const SOURCE: u64 = 1;
    const NUMBER: u64 = 2;
    const VOUCHER: u64 = 3;

    fn hash(tag: u64, legal_entity: &str, value: &str) -> u64 {
        use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};
        xxh3_64_with_seed(value.as_bytes(), xxh3_64(legal_entity.as_bytes()).wrapping_add(tag))
    }

    /// Whether a row may have this key (`false`: certainly none has).
    fn maybe(&self, tag: u64, legal_entity: &str, value: &str) -> bool {
        match self {
            Keys::Own(known) => known.contains(&Keys::hash(tag, legal_entity, value)),
            Keys::Unknown | Keys::Ask => true,
        }
    }

    /// A key a row now has.
    fn add(&mut self, tag: u64, legal_entity: &str, value: &str) {
        if let Keys::Own(known) = self {
            known.insert(Keys::hash(tag, legal_entity, value));
        }
    }
}

/// The statements a commit runs for each invoice, prepared once per commit (not looked up in
/// the statement cache for every invoice).
struct Statements<'t> {
    /// The stored invoice with a legal entity and source key.
    existing: rusqlite::CachedStatement<'t>,
    /// Another document of a legal entity with an invoice number, or with a voucher.
    number_used: rusqlite::CachedStatement<'t>,
    voucher_used: rusqlite::CachedStatement<'t>,
    /// The invoice row, its body, its open item.
    invoice: rusqlite::CachedStatement<'t>,
    body: rusqlite::CachedStatement<'t>,
    open_item: rusqlite::CachedStatement<'t>,
}

impl<'t> Statements<'t> {
    fn new(tx: &'t rusqlite::Transaction<'_>) -> rusqlite::Result<Statements<'t>> {
        Ok(Statements {
            existing: tx.prepare_cached(
                "SELECT id, content_hash, status, number, voucher FROM invoice
                 WHERE legal_entity = ?1 AND source_key = ?2",
            )?,
            number_used: tx.prepare_cached(
                "SELECT document, source_key, status FROM invoice
                 WHERE legal_entity = ?1 AND number = ?2 AND source_key <> ?3 LIMIT 1",
            )?,
            voucher_used: tx.prepare_cached(
                "SELECT document, source_key, status FROM invoice
                 WHERE legal_entity = ?1 AND voucher = ?2 AND source_key <> ?3 LIMIT 1",
            )?,
            invoice: tx.prepare_cached(
                "INSERT INTO invoice (legal_entity, source_key, number, status, document, kind, header_entity, line_entity,
                    invoice_date, due_date, customer, currency, accounting_currency, exchange_rate, payment_terms,
                    order_reference, buyer_reference, sales_order, original_invoice, voucher, record_id,
                    line_total, allowance_total, charge_total, tax_exclusive, vat_total, tax_inclusive, prepaid, payable,
                    vat_total_acc, rounding, content_hash, extras, parties, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
                    ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35)",
            )?,
            body: tx.prepare_cached("INSERT INTO invoice_body (invoice_id, lines, taxes, ledger) VALUES (?1, ?2, ?3, ?4)")?,
            open_item: tx.prepare_cached(
                "INSERT INTO customer_trans (legal_entity, customer, invoice_id, invoice_number, voucher, trans_date,
                    due_date, amount, currency, amount_acc, accounting_currency, version,
                    cash_discount_date, cash_discount_amount, cash_discount_percent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?,
        })
    }
}

/// The document of a legal entity other than `except` (a source key) that uses `number` (as
/// invoice number or voucher): a description such as "the posted sales invoice S-1".
fn used_by(
    st: &mut Statements<'_>,
    keys: &Keys,
    path: &Path,
    legal_entity: &str,
    kind: NumberKind,
    number: &str,
    except: &str,
) -> Result<Option<String>, StoreError> {
    let tag = match kind {
        NumberKind::Invoice => Keys::NUMBER,
        NumberKind::Voucher => Keys::VOUCHER,
    };
    if !keys.maybe(tag, legal_entity, number) {
        return Ok(None);
    }
    let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let stmt = match kind {
        NumberKind::Invoice => &mut st.number_used,
        NumberKind::Voucher => &mut st.voucher_used,
    };
    let row: Option<(String, String, String)> = stmt
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

/// The refusal of an invoice whose source number or voucher another document of its legal
/// entity uses already (invoice numbers and vouchers are unique per legal entity, across sales
/// and free-text invoices).
fn number_in_use(
    st: &mut Statements<'_>,
    keys: &Keys,
    path: &Path,
    h: &crate::model::InvoiceHeader,
    source_key: &str,
) -> Result<Option<Refusal>, StoreError> {
    for (kind, value) in [(NumberKind::Invoice, h.number.as_deref()), (NumberKind::Voucher, h.voucher.as_deref())] {
        let Some(value) = value else { continue };
        if let Some(other) = used_by(st, keys, path, &h.legal_entity, kind, value, source_key)? {
            return Ok(Some(Refusal::NumberInUse {
                source_key: source_key.to_string(),
                kind,
                value: value.to_string(),
                other,
            }));
        }
    }
    Ok(None)
}

/// The next number of a sequence that no document of the legal entity uses (a number a source
/// document brought along is skipped; the sequence moves past it).
fn next_number(
    tx: &rusqlite::Transaction<'_>,
    st: &mut Statements<'_>,
    keys: &Keys,
    path: &Path,
    drawn: &mut Drawn,
    legal_entity: &str,
    reference: &str,
) -> Result<String, StoreError> {
    let kind = if reference == "Voucher" { NumberKind::Voucher } else { NumberKind::Invoice };
    loop {
        let candidate = drawn.draw(tx, path, legal_entity, reference)?;
        if used_by(st, keys, path, legal_entity, kind, &candidate, "")?.is_none() {
            return Ok(candidate);
        }
    }
}

/// The number sequences a commit draws from: each read once per transaction, counted in
/// memory, and written back once before the transaction commits ([`Drawn::store`]).
#[derive(Default)]
struct Drawn {
    /// (legal entity, reference) → (format, next number).
    sequences: std::collections::HashMap<(String, String), (String, i64)>,
}

impl Drawn {
    fn draw(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        path: &Path,
        legal_entity: &str,
        reference: &str,
    ) -> Result<String, StoreError> {
        let key = (legal_entity.to_string(), reference.to_string());
        let (format, next) = match self.sequences.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
                let row: Option<(String, i64)> = tx
                    .prepare_cached(
                        "SELECT format, next FROM number_sequence WHERE legal_entity = ?1 AND reference = ?2",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![legal_entity, reference], |r| Ok((r.get(0)?, r.get(1)?))).optional()
                    })
                    .map_err(sql)?;
                let Some(row) = row else {
                    return Err(StoreError::NoSequence {
                        path: path.to_path_buf(),
                        legal_entity: legal_entity.to_string(),
                        reference: reference.to_string(),
                    });
                };
                e.insert(row)
            }
        };
        let number = fmt_number(format, *next);
        *next += 1;
        Ok(number)
    }

    /// Writes the sequences' next numbers back (in the commit's transaction).
    fn store(self, tx: &rusqlite::Transaction<'_>, path: &Path) -> Result<(), StoreError> {
        let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let mut update = tx
            .prepare_cached("UPDATE number_sequence SET next = ?3 WHERE legal_entity = ?1 AND reference = ?2")
            .map_err(sql)?;
        for ((legal_entity, reference), (_, next)) in self.sequences {
            update.execute(params![legal_entity, reference, next]).map_err(sql)?;
        }
        Ok(())
    }
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
