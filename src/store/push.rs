//! A full push's sweep: the invoices of the store that the pushed file no longer holds. Drafts
//! among them are removed; posted invoices are only reported (they are immutable).

use rusqlite::{params, TransactionBehavior};
use serde::Serialize;

use super::{Store, StoreError};
use crate::model::HeaderRef;

/// The key an invoice is stored under in its legal entity: its number, or `FT:` and the record
/// id of a free-text invoice (as the commit gives it).
pub fn source_key(r: &HeaderRef) -> String {
    match r {
        HeaderRef::Number(n) => n.to_string(),
        HeaderRef::RecordId(id) => format!("FT:{id}"),
    }
}

/// An invoice of the store that a full push's file no longer holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Absent {
    /// Legal entity.
    pub legal_entity: String,
    /// Its key in the legal entity (see [`source_key`]).
    pub key: String,
    /// The header entity it was imported through.
    pub entity: String,
    /// `draft` (removed by the sweep) or `posted` (left as it is).
    pub status: String,
}

/// What a sweep found: counts, and the change version after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Drafts removed.
    pub removed: u64,
    /// Posted invoices the file lacks, left as they are.
    pub posted: u64,
}

impl Store {
    /// Sweeps the invoices of header entity `entity` in each of `legal_entities` (one
    /// transaction): every one for which `present(legal entity, key)` is false is handed to
    /// `f`, and the drafts among them are removed (their lines and VAT breakdown with them).
    /// Posted invoices are never touched. The change version moves on by one when a draft was
    /// removed.
    pub fn sweep_absent(
        &mut self,
        entity: &str,
        legal_entities: &[String],
        present: impl Fn(&str, &str) -> bool,
        mut f: impl FnMut(&Absent),
    ) -> Result<Swept, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let version = self.change_version()?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let mut swept = Swept::default();
        let mut drafts: Vec<i64> = Vec::new();
        {
            let mut stmt = tx
                .prepare(
                    "SELECT id, source_key, status FROM invoice
                     WHERE legal_entity = ?1 AND header_entity = ?2 ORDER BY id",
                )
                .map_err(sql)?;
            for le in legal_entities {
                let mut rows = stmt.query(params![le, entity]).map_err(sql)?;
                while let Some(r) = rows.next().map_err(sql)? {
                    let (id, key, status): (i64, String, String) =
                        (r.get(0).map_err(sql)?, r.get(1).map_err(sql)?, r.get(2).map_err(sql)?);
                    if present(le, &key) {
                        continue;
                    }
                    if status == "draft" {
                        drafts.push(id);
                        swept.removed += 1;
                    } else {
                        swept.posted += 1;
                    }
                    f(&Absent { legal_entity: le.clone(), key, entity: entity.to_string(), status });
                }
            }
        }
        for id in &drafts {
            tx.execute("DELETE FROM invoice_body WHERE invoice_id = ?1", [id]).map_err(sql)?;
            tx.execute("DELETE FROM invoice WHERE id = ?1 AND status = 'draft'", [id]).map_err(sql)?;
        }
        if !drafts.is_empty() {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('change_version', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(version + 1).to_string()],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(swept)
    }
}
