//! Push modes: what an import does with the invoices of the store that its files do not carry
//! whole.
//!
//! A **replace** push (the default) stores each invoice of the files in the place of the draft
//! with its key, whole, and touches nothing else. A **full** push does the same and says that
//! its header files hold the complete set of their entity for each
//! legal entity they name: once the import is committed, the drafts of that entity and those
//! legal entities that no header row names any more are removed, and the posted invoices that
//! no row names are reported and never touched (posted documents are immutable; a credit note
//! cancels one). An **incremental** push carries new and changed rows only: an invoice the store
//! holds (draft or posted) is completed from it before it is validated — a header without lines
//! keeps the stored lines, lines without a header take the stored header, and lines of a header
//! that comes with some of its lines replace the stored lines with the same line number and add
//! the others. A completed draft is stored (or posted) whole; a completed posted invoice is
//! unchanged when it is the same, and refused (`store.posted_changed`) when it is not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use rustc_hash::FxHashSet;
use serde::Serialize;

use super::{JobError, Push};
use crate::model::{Invoice, InvoiceHeader, InvoiceLine};
use crate::read::Origin;
use crate::store::{Absent, Store};
use crate::validate::invoice::{HeaderKey, LineRow};

/// Absent invoices listed in the report (all of them go to `absent.csv` in the rejects folder).
const LISTED: usize = 100;

/// What the push mode did besides importing rows.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct PushReport {
    /// The push mode of the import's files.
    pub mode: Push,
    /// Full push: drafts removed because no header row names them any more.
    pub drafts_removed: u64,
    /// Full push: posted invoices no header row names any more (left as they are).
    pub posted_absent: u64,
    /// The first of those (up to 100), each with its status.
    pub absent: Vec<Absent>,
    /// Every one of them, when there is a rejects folder (`absent.csv`).
    pub absent_file: Option<String>,
    /// Full push: header entities whose store invoices were left alone, and why.
    pub not_swept: Vec<String>,
    /// Incremental push: invoices completed from the store.
    pub completed: u64,
    /// Incremental push: stored lines taken into them.
    pub stored_lines: u64,
}

/// The one push mode of an import's files (an import that mixes them is refused: a file pushed
/// in full beside one pushed incrementally would say two things about the same invoices).
pub(super) fn mode_of(files: &[super::InputFile]) -> Result<Push, JobError> {
    let mut modes = files.iter().map(|f| f.push);
    let first = modes.next().unwrap_or_default();
    if let Some(f) = files.iter().find(|f| f.push != first) {
        return Err(JobError::Input(format!(
            "{}: push {}, while {} has push {}: the files of one import share one push mode (run them as two imports)",
            f.path.display(),
            name(f.push),
            files[0].path.display(),
            name(first)
        )));
    }
    Ok(first)
}

fn name(p: Push) -> &'static str {
    match p {
        Push::Replace => "replace",
        Push::Full => "full",
        Push::Incremental => "incremental",
    }
}

fn key_hash(legal_entity: &str, key: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(legal_entity.as_bytes());
    h.update(&[0xff]);
    h.update(key.as_bytes());
    h.digest()
}

/// The invoice keys a full push's header files name, by header entity.
#[derive(Default)]
pub(super) struct Present {
    entities: BTreeMap<String, Scope>,
}

#[derive(Default)]
struct Scope {
    legal_entities: BTreeSet<String>,
    /// Hashes of (legal entity, key): a key that shares its hash with another counts as
    /// present, so that a collision can only keep a draft, never remove one.
    keys: FxHashSet<u64>,
    /// Rows whose key could not be read: any draft could be theirs.
    keyless: u64,
}

impl Present {
    /// A header row of `entity` with `key` (`None`: its key could not be read).
    pub(super) fn add(&mut self, entity: &str, key: Option<&HeaderKey>) {
        let scope = match self.entities.get_mut(entity) {
            Some(s) => s,
            None => self.entities.entry(entity.to_string()).or_default(),
        };
        match key {
            Some((le, r)) => {
                if !scope.legal_entities.contains(&**le) {
                    scope.legal_entities.insert(le.to_string());
                }
                scope.keys.insert(key_hash(le, &crate::store::source_key(r)));
            }
            None => scope.keyless += 1,
        }
    }

    /// Removes the drafts the files no longer name and lists the posted invoices they no
    /// longer name (in `rejects_dir/absent.csv` when given).
    pub(super) fn sweep(
        self,
        store: &Path,
        lock_timeout: std::time::Duration,
        rejects_dir: Option<&Path>,
        report: &mut PushReport,
    ) -> Result<(), JobError> {
        let mut store = Store::open_writer(store, lock_timeout)?;
        let mut all: Vec<Absent> = Vec::new();
        let mut listed = 0usize;
        let keep_all = rejects_dir.is_some();
        for (entity, scope) in self.entities {
            if scope.keyless > 0 {
                report.not_swept.push(format!(
                    "{entity}: {} header row{} without a readable invoice key could be any stored draft, so none was removed",
                    scope.keyless,
                    if scope.keyless == 1 { "" } else { "s" }
                ));
                continue;
            }
            let les: Vec<String> = scope.legal_entities.into_iter().collect();
            let keys = scope.keys;
            let swept = store.sweep_absent(
                &entity,
                &les,
                |le, key| keys.contains(&key_hash(le, key)),
                |a| {
                    if listed < LISTED {
                        report.absent.push(a.clone());
                        listed += 1;
                    }
                    if keep_all {
                        all.push(a.clone());
                    }
                },
            )?;
            report.drafts_removed += swept.removed;
            report.posted_absent += swept.posted;
        }
        if let (Some(dir), false) = (rejects_dir, all.is_empty()) {
            let path = dir.join("absent.csv");
            crate::rejects::write_atomically(&path, |out| {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(["legal_entity", "invoice", "entity", "status", "action"])?;
                for a in &all {
                    let action = if a.status == "draft" { "removed" } else { "left as it is (posted)" };
                    w.write_record([
                        a.legal_entity.as_str(),
                        a.key.as_str(),
                        a.entity.as_str(),
                        a.status.as_str(),
                        action,
                    ])?;
                }
                w.flush()
            })?;
            report.absent_file = Some(path.display().to_string());
        }
        Ok(())
    }
}

/// The store an incremental push completes invoices from, and what it took.
pub(super) struct Stored {
    store: Store,
    path: PathBuf,
    /// The run's file numbers of the stored headers and lines (for their origins).
    header_file: u32,
    line_file: u32,
    pub(super) completed: u64,
    pub(super) lines: u64,
    error: Option<JobError>,
}

/// A stored invoice taken to complete one of the import: its header, its lines, and the line
/// numbers of its lines in their stored order.
pub(super) struct Completion {
    pub(super) header: InvoiceHeader,
    lines: Vec<InvoiceLine>,
}

/// Where the lines of a completed invoice go: the stored order by line number (a line of the
/// file with a stored line's number takes its place; new lines follow in file order).
pub(super) type Order = Vec<Decimal>;

impl Stored {
    /// The store at `path` for reading, when it exists.
    pub(super) fn open(
        path: &Path,
        lock_timeout: std::time::Duration,
        header_file: u32,
        line_file: u32,
    ) -> Result<Option<Stored>, JobError> {
        if !path.is_file() {
            return Ok(None);
        }
        let store = Store::open_reader(path, lock_timeout)?;
        Ok(Some(Stored {
            store,
            path: path.to_path_buf(),
            header_file,
            line_file,
            completed: 0,
            lines: 0,
            error: None,
        }))
    }

    /// The stored invoice with `key`, when there is one (a store error is kept for
    /// [`Stored::take_error`] and nothing is found after it).
    pub(super) fn load(&mut self, key: &HeaderKey) -> Option<Completion> {
        if self.error.is_some() {
            return None;
        }
        let doc = match self.store.stored_doc(&key.0, &crate::store::source_key(&key.1), crate::entity::field_name) {
            Ok(d) => d?,
            Err(e) => {
                self.error = Some(e.into());
                return None;
            }
        };
        let Some((inv, _)) = super::drafts::invoice_of(&doc) else {
            self.error = Some(JobError::Input(format!(
                "{}: invoice {} of legal entity {} cannot be read back; the store is damaged",
                self.path.display(),
                crate::store::source_key(&key.1),
                key.0
            )));
            return None;
        };
        let Invoice { mut header, mut lines, .. } = inv;
        header.origin = Origin { file: self.header_file, line: 0, record: 0 };
        for (k, l) in lines.iter_mut().enumerate() {
            l.origin = Origin { file: self.line_file, line: k as u64 + 1, record: k as u64 + 1 };
        }
        Some(Completion { header, lines })
    }

    /// The store error met while loading, if any.
    pub(super) fn take_error(&mut self) -> Option<JobError> {
        self.error.take()
    }

    /// Whether reading the store failed.
    pub(super) fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Adds the stored lines of `c` that the file's `rows` do not replace (by line number) and
    /// gives the order the completed invoice's lines take.
    pub(super) fn complete(&mut self, rows: &mut Vec<LineRow>, c: Completion) -> Order {
        let given: FxHashSet<Decimal> = rows
            .iter()
            .filter_map(|r| match r {
                LineRow::Line(l) => Some(l.line_number.normalize()),
                LineRow::Early(_) => None,
            })
            .collect();
        let order: Order = c.lines.iter().map(|l| l.line_number.normalize()).collect();
        self.completed += 1;
        for l in c.lines {
            if !given.contains(&l.line_number.normalize()) {
                self.lines += 1;
                rows.push(LineRow::Line(Box::new(l)));
            }
        }
        order
    }
}

/// Puts the lines of a completed invoice in `order` (stored lines where they were, a file's line
/// in the place of the stored line it replaces, new lines after them in file order); the totals
/// are computed again by posting.
pub(super) fn reorder(inv: &mut Invoice, order: &[Decimal]) {
    let place: rustc_hash::FxHashMap<Decimal, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut at: Vec<(usize, usize)> = inv
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| (place.get(&l.line_number.normalize()).copied().unwrap_or(order.len() + i), i))
        .collect();
    if at.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    at.sort_unstable();
    let mut lines: Vec<Option<InvoiceLine>> = std::mem::take(&mut inv.lines).into_iter().map(Some).collect();
    let mut taxes: Vec<Option<crate::model::totals::LineTax>> =
        std::mem::take(&mut inv.taxes).into_iter().map(Some).collect();
    for &(_, i) in &at {
        inv.lines.extend(lines[i].take());
        if let Some(t) = taxes.get_mut(i).and_then(Option::take) {
            inv.taxes.push(t);
        }
    }
    inv.computed = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, push: Push) -> super::super::InputFile {
        super::super::InputFile { entity: "SalesInvoiceJournalHeader".into(), path: name.into(), mapping: None, push }
    }

    #[test]
    fn an_import_has_one_push_mode() {
        assert_eq!(mode_of(&[]).unwrap(), Push::Replace);
        assert_eq!(mode_of(&[file("a", Push::Full), file("b", Push::Full)]).unwrap(), Push::Full);
        let e = mode_of(&[file("a.csv", Push::Incremental), file("b.csv", Push::Full)]).unwrap_err().to_string();
        assert_eq!(
            e,
            "b.csv: push full, while a.csv has push incremental: the files of one import share one push mode (run them as two imports)"
        );
    }

    #[test]
    fn present_keys_are_kept_by_hash_and_keyless_rows_counted() {
        let mut p = Present::default();
        p.add("E", Some(&("DEMF".into(), crate::model::HeaderRef::Number("T-1".into()))));
        p.add("E", None);
        let s = &p.entities["E"];
        assert!(s.keys.contains(&key_hash("DEMF", "T-1")));
        assert!(!s.keys.contains(&key_hash("DEMF", "T-2")));
        assert_eq!((s.keyless, s.legal_entities.len()), (1, 1));
    }
}
