//! The line pass of an import: lines reach the header book invoice by invoice, in the order of
//! the headers, with bounded memory.
//!
//! A first pass reads only the invoice key of every line (beside the reading of the headers,
//! with the keys compared with the header order once the book is complete). When each line file lists its
//! invoices in header order (DMF exports and most legacy exports do), the files are read once
//! more and merged as they stream: an invoice is assembled as soon as its last line is read and
//! handed to posting. Otherwise the raw lines are written to temporary partitions, each
//! covering a range of header positions and small enough to sort in memory, and the partitions
//! are read back in order. Either way every invoice sees all of its lines, and the results do
//! not depend on the path taken. Lines whose key has no header are assembled last: only where
//! they are is kept while the lines stream, and they are read again from their files into
//! temporary partitions by key (see [`orphans`]).

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufReader, BufWriter, Read as _, Write as _};

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

mod grouped;

use super::posting::{Batch, PostOutcome, Poster};
use super::{parse_row, parse_rows, push, FileEntry, ImportRequest, JobError, Parsed, Reader, Validated};
use crate::entity::Entity;
use crate::map::Plan;
use crate::model::{HeaderRef, Invoice};
use crate::read::{Origin, RawBatch, Record, Records};
use crate::rejects::RejectLog;
use crate::validate::invoice::{self, Context, HeaderBook, HeaderKey, LineRow};

/// Invoices handed to posting at a time.
const SEND: usize = 512;

/// Lines placed into partitions per task of the pool (see [`partitioned`]).
const PLACE_CHUNK: usize = 1024;

/// Raw line bytes per partition of the partitioned path (16 MiB; `INVOICEFLOW_PARTITION_BYTES`
/// sets another size, for tests and tuning).
fn partition_bytes() -> u64 {
    std::env::var("INVOICEFLOW_PARTITION_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&b| b > 0)
        .unwrap_or(16 << 20)
}

/// What a sink gives back: the counts of accepted invoices, the copies counted when nothing
/// posts (per file), and what posting did.
pub(super) type Sunk = (Validated, BTreeMap<u32, u64>, Option<PostOutcome>, Vec<Invoice>);

/// Where assembled invoices go: the posting stage in batches, or only counted (validation).
pub(super) struct Sink<'s> {
    poster: Option<Poster<'s>>,
    batch: Batch,
    validated: Validated,
    /// Copies of accepted invoices through other entities, when nothing posts (per file).
    copies: BTreeMap<u32, u64>,
    stopped: bool,
    /// Set when the run fails while assembling: nothing more is taken.
    halted: bool,
    /// Accepted invoices kept (when asked, for tools on small data sets).
    kept: Option<Vec<Invoice>>,
    /// Accepted invoices done with when nothing posts, to be dropped by the pool
    /// ([`Sink::release`]) rather than one by one on the assembling thread.
    done: Vec<Invoice>,
}

impl<'s> Sink<'s> {
    pub(super) fn new(poster: Option<Poster<'s>>, keep: bool) -> Sink<'s> {
        Sink {
            poster,
            batch: Vec::new(),
            validated: Validated::default(),
            copies: BTreeMap::new(),
            stopped: false,
            halted: false,
            kept: keep.then(Vec::new),
            done: Vec::new(),
        }
    }

    fn accept(&mut self, inv: Invoice) {
        if self.halted {
            return;
        }
        self.validated.add(&inv);
        if self.poster.is_some() {
            self.batch.push((inv, None));
            if self.batch.len() >= SEND {
                self.flush();
            }
        } else {
            for o in &inv.copies {
                *self.copies.entry(o.file).or_default() += 1;
            }
            match &mut self.kept {
                Some(k) => k.push(inv),
                None => self.done.push(inv),
            }
        }
    }

    /// Drops the invoices done with, in parallel: dropping a million lines one after the other
    /// on the thread that assembles them held up the stages that wait for it.
    fn release(&mut self) {
        if !self.done.is_empty() {
            std::mem::take(&mut self.done).into_par_iter().for_each(drop);
        }
    }

    fn flush(&mut self) {
        if let Some(p) = &mut self.poster {
            // The next batch in room of a full one (grown from nothing, its invoices were
            // copied nine times over).
            if !p.send(std::mem::replace(&mut self.batch, Vec::with_capacity(SEND))) {
                self.stopped = true;
            }
        }
    }

    /// Whether posting stopped (its error comes from [`Sink::finish`]).
    fn stopped(&self) -> bool {
        self.stopped
    }

    /// Takes no more invoices: the run is failing, and what was handed on is all it commits.
    fn halt(&mut self) {
        self.halted = true;
        self.stopped = true;
        self.batch.clear();
    }

    /// Waits for posting to finish: the counts of accepted invoices, the copies counted when
    /// nothing posts, and what posting did.
    pub(super) fn finish(mut self) -> Result<Sunk, JobError> {
        self.flush();
        let posting = match self.poster.take() {
            Some(p) => Some(p.finish()?),
            None => None,
        };
        Ok((self.validated, self.copies, posting, self.kept.take().unwrap_or_default()))
    }
}

/// The state of assembling: the book, the rejects, where invoices go, and the lines without a
/// header.
struct Assembly<'a, 'b, 's> {
    book: &'a mut HeaderBook,
    ctx: &'a Context<'b>,
    rejects: &'a mut RejectLog,
    sink: &'a mut Sink<'s>,
    current: Option<usize>,
    rows: Vec<LineRow>,
    /// Invoices whose lines are complete, assembled together (in parallel) in header order
    /// (with the order of their lines when an incremental push completed them from the store).
    pending: Vec<(invoice::Claim, Vec<LineRow>, Option<push::Order>)>,
    /// The store an incremental push completes invoices from.
    stored: Option<&'a mut push::Stored>,
    /// Where the lines whose key has no header are (they are read again at the end, see
    /// [`orphans`]): kept small, as a file of them may be large.
    orphans: Vec<Orphan>,
}

/// A line whose key has no header: its file and record, and a hash of its key.
struct Orphan {
    file: u32,
    record: u64,
    key: u64,
}

/// Invoices assembled at a time (in parallel).
const ASSEMBLE: usize = 256;

/// Where a parsed line row belongs.
enum Class {
    /// To the header at this position.
    Invoice(usize),
    /// To a key no header has.
    Orphan(HeaderKey),
    /// Nowhere: its key cannot be read (rejected as it is).
    Alone,
}

fn classify(p: &Parsed, book: &HeaderBook) -> Class {
    let (le, href) = match p {
        Parsed::Line(l) => (&*l.legal_entity, &l.header),
        Parsed::Rejected(e) => match &e.key {
            Some(k) => (&*k.0, &k.1),
            None => return Class::Alone,
        },
        Parsed::Header(_) | Parsed::Master(..) => return Class::Alone,
    };
    match book.ordinal_of(le, href) {
        Some(o) => Class::Invoice(o),
        None => Class::Orphan((le.into(), href.clone())),
    }
}

/// [`classify`], remembering the last line's key: the lines of an invoice typed together share
/// their legal entity and number (the same `Arc`s), so that one look-up in the book serves them
/// all. Keys that are equal but not shared are looked up again (the answer is the same).
#[derive(Default)]
struct Classifier {
    last: Option<(std::sync::Arc<str>, HeaderRef, Option<usize>)>,
}

impl Classifier {
    fn classify(&mut self, p: &Parsed, book: &HeaderBook) -> Class {
        let Parsed::Line(l) = p else { return classify(p, book) };
        if let Some((le, r, o)) = &self.last {
            let same_ref = match (r, &l.header) {
                (HeaderRef::Number(a), HeaderRef::Number(b)) => std::sync::Arc::ptr_eq(a, b),
                (HeaderRef::RecordId(a), HeaderRef::RecordId(b)) => a == b,
                _ => false,
            };
            if same_ref && std::sync::Arc::ptr_eq(le, &l.legal_entity) {
                return match o {
                    Some(o) => Class::Invoice(*o),
                    None => Class::Orphan((std::sync::Arc::clone(le), r.clone())),
                };
            }
        }
        let class = classify(p, book);
        let o = match class {
            Class::Invoice(o) => Some(o),
            _ => None,
        };
        self.last = Some((std::sync::Arc::clone(&l.legal_entity), l.header.clone(), o));
        class
    }
}

fn row_of(p: Parsed) -> Option<LineRow> {
    match p {
        Parsed::Line(l) => Some(LineRow::Line(l)),
        Parsed::Rejected(e) => Some(LineRow::Early(e)),
        Parsed::Header(_) | Parsed::Master(..) => None,
    }
}

impl Assembly<'_, '_, '_> {
    /// Takes one parsed line row; rows of one invoice arrive together, invoices in header order.
    fn take(&mut self, class: Class, p: Parsed) {
        match class {
            Class::Invoice(o) => {
                if self.current != Some(o) {
                    self.flush();
                    self.current = Some(o);
                }
                self.rows.extend(row_of(p));
            }
            Class::Orphan(key) => {
                if let Some(row) = row_of(p) {
                    let o = row.origin();
                    self.orphans.push(Orphan { file: o.file, record: o.record, key: key_hash(&key) });
                }
            }
            Class::Alone => match p {
                Parsed::Rejected(e) => self.rejects.push(e.reject),
                // A typed row always has its key; this arm only completes the match.
                other => self.rows.extend(row_of(other)),
            },
        }
    }

    /// Closes the invoice whose lines have all been taken.
    fn flush(&mut self) {
        if let Some(o) = self.current.take() {
            // The next invoice's lines in room of this one's (invoices are alike).
            let room = self.rows.len();
            let rows = std::mem::replace(&mut self.rows, Vec::with_capacity(room));
            self.close(o, rows);
        }
    }

    /// The stored invoice with `key` (an incremental push); a store that fails halts the sink,
    /// so that no invoice goes on without what the store holds of it.
    fn load(&mut self, key: &HeaderKey) -> Option<push::Completion> {
        let st = self.stored.as_deref_mut()?;
        let found = st.load(key);
        if st.failed() {
            self.sink.halt();
        }
        found
    }

    /// Queues the invoice of the header at `o` with its lines `rows` for assembling, completed
    /// from the store when an incremental push finds it there.
    fn close(&mut self, o: usize, mut rows: Vec<LineRow>) {
        let key = self.book.key(o).clone();
        let order = match self.load(&key) {
            Some(c) => self.stored.as_deref_mut().map(|st| st.complete(&mut rows, c)),
            None => None,
        };
        let claim = self.book.claim(Some(o));
        self.queue(claim, rows, order);
    }

    /// Queues a claimed header with its rows (and, completed from the store, their order);
    /// a full queue is assembled.
    fn queue(&mut self, claim: invoice::Claim, rows: Vec<LineRow>, order: Option<push::Order>) {
        self.pending.push((claim, rows, order));
        if self.pending.len() >= ASSEMBLE {
            self.assemble();
        }
    }

    /// Assembles the closed invoices, in parallel, and hands them on in header order.
    fn assemble(&mut self) {
        let ctx = self.ctx;
        let done: Vec<(invoice::Assembled, Option<push::Order>)> = std::mem::take(&mut self.pending)
            .into_par_iter()
            .map(|(claim, rows, order)| (claim.assemble(rows, ctx), order))
            .collect();
        for (a, order) in done {
            self.rejects.extend(a.rejects);
            if let Some(mut inv) = a.invoice {
                if let Some(order) = order {
                    push::reorder(&mut inv, &order);
                }
                self.sink.accept(inv);
            }
        }
        self.sink.release();
    }

    /// Assembles what is left (the lines whose key has no header are [`orphans`]' business):
    /// with an incremental push, first the headers no line came for whose invoice the store
    /// holds (they keep its lines). Gives the store's error, if reading it failed.
    fn finish(mut self) -> Option<JobError> {
        self.flush();
        if self.stored.is_some() {
            for o in self.book.waiting() {
                let key = self.book.key(o).clone();
                let Some(c) = self.load(&key) else { continue };
                let mut rows = Vec::new();
                let order = self.stored.as_deref_mut().map(|st| st.complete(&mut rows, c));
                let claim = self.book.claim(Some(o));
                self.queue(claim, rows, order);
            }
        }
        self.assemble();
        self.stored.and_then(push::Stored::take_error)
    }

    /// Assembles the lines of one key that has no header: each is rejected, unless an
    /// incremental push finds the invoice in the store (it then takes the stored header).
    fn orphan_group(&mut self, mut rows: Vec<LineRow>) {
        let key = match rows.first() {
            Some(LineRow::Line(l)) => Some((std::sync::Arc::clone(&l.legal_entity), l.header.clone())),
            Some(LineRow::Early(e)) => e.key.clone(),
            None => None,
        };
        if let Some(c) = key.filter(|_| self.stored.is_some()).and_then(|k| self.load(&k)) {
            let o = self.book.adopt(&c.header, self.ctx);
            let order = self.stored.as_deref_mut().map(|st| st.complete(&mut rows, c));
            let claim = self.book.claim(Some(o));
            self.queue(claim, rows, order);
            return;
        }
        let a = self.book.invoice(None, rows, self.ctx);
        self.rejects.extend(a.rejects);
    }
}

/// Bytes of keys [`scan_keys`] keeps at most (64 MiB, about 3M invoice changes;
/// `INVOICEFLOW_KEY_SCAN_BYTES` sets another bound, for tests); beyond that the order is checked
/// after the headers, with the book at hand.
fn key_scan_bytes() -> usize {
    std::env::var("INVOICEFLOW_KEY_SCAN_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(64 << 20)
}

/// The invoice keys of the line files in file order, one per run of lines with the same key,
/// encoded one after the other (legal entity length, legal entity, then 0 and the number or 1
/// and the record id): read while the headers are read, checked against the book once it is
/// complete.
pub(super) struct KeyRuns {
    data: Vec<u8>,
    ends: Vec<usize>,
    /// Bytes of all line files.
    bytes: u64,
    /// Whether every key is here (false: the bound was reached).
    complete: bool,
}

impl KeyRuns {
    fn new() -> KeyRuns {
        KeyRuns { data: Vec::new(), ends: Vec::new(), bytes: 0, complete: true }
    }

    /// The last key pushed.
    fn last(&self) -> Option<&[u8]> {
        let end = *self.ends.last()?;
        let start = self.ends.len().checked_sub(2).map(|i| self.ends[i]).unwrap_or(0);
        Some(&self.data[start..end])
    }

    /// Appends the keys of `other`, read after these.
    fn append(&mut self, other: KeyRuns) {
        let mut start = 0;
        for &end in &other.ends {
            let e = &other.data[start..end];
            start = end;
            if self.last() == Some(e) {
                continue;
            }
            self.data.extend_from_slice(e);
            self.ends.push(self.data.len());
        }
    }

    fn push(&mut self, le: &str, r: invoice::RefView<'_>, scratch: &mut Vec<u8>) {
        scratch.clear();
        scratch.extend_from_slice(&(le.len() as u32).to_le_bytes());
        scratch.extend_from_slice(le.as_bytes());
        match r {
            invoice::RefView::Number(n) => {
                scratch.push(0);
                scratch.extend_from_slice(n.as_bytes());
            }
            invoice::RefView::RecordId(id) => {
                scratch.push(1);
                scratch.extend_from_slice(&id.to_le_bytes());
            }
        }
        if self.last() == Some(&scratch[..]) {
            return;
        }
        self.data.extend_from_slice(scratch);
        self.ends.push(self.data.len());
    }

    /// Whether the keys come in the order of their headers in the book (keys without a header
    /// do not count).
    fn in_order(&self, book: &HeaderBook) -> bool {
        let mut start = 0;
        let mut last = 0usize;
        for &end in &self.ends {
            let e = &self.data[start..end];
            start = end;
            let n = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as usize;
            let (le, rest) = e[4..].split_at(n);
            let Ok(le) = std::str::from_utf8(le) else { continue };
            let r = match rest.split_first() {
                Some((0, number)) => match std::str::from_utf8(number) {
                    Ok(n) => invoice::RefView::Number(n),
                    Err(_) => continue,
                },
                Some((_, id)) => match <[u8; 8]>::try_from(id) {
                    Ok(b) => invoice::RefView::RecordId(i64::from_le_bytes(b)),
                    Err(_) => continue,
                },
                None => continue,
            };
            if let Some(o) = book.ordinal_view(le, r) {
                if o < last {
                    return false;
                }
                last = o;
            }
        }
        true
    }
}

/// The first pass over the line files, which needs no headers: the invoice key of every line,
/// in file order (run beside the reading of the header files). A large file is read from its
/// start and from a point past its middle at once (see [`crate::read::csv::Split`]), the two
/// readings joined where the first meets the point; when the point lies inside a record, the
/// first reading goes on alone.
pub(super) fn scan_keys(
    req: &ImportRequest,
    first: usize,
    files: &[(usize, &Entity)],
    stop: &std::sync::atomic::AtomicBool,
) -> Result<KeyRuns, JobError> {
    use crate::read::csv::Meets;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let mut runs = KeyRuns::new();
    let mut scratch = Vec::new();
    let bound = key_scan_bytes();
    for &(i, entity) in files {
        let f = &req.files[i];
        // A record repeats only a record of its own file and reading (another file has its own
        // mapping; after a second reading, the keys read last are that reading's).
        let mut last = LastKey::default();
        let (mut reader, _) = Reader::open_input(req, first, i, entity, "", false)?;
        runs.bytes += reader.source.total_bytes();
        if !runs.complete {
            continue;
        }
        let columns = reader.columns.len();
        // Only the key's columns are needed: the rest of a record is passed over where it can
        // be. A record cut after them counts as whole here (a row of that width with too few
        // fields gives its key too: the order check then only asks more).
        let keep = key_columns(&reader.plan);
        reader.source.keep_fields(keep);
        let width = |rec: &Record<'_>| if rec.len() == keep { keep } else { columns };
        let split = if rayon::current_num_threads() > 1 { reader.source.split() } else { None };
        let split = split.map(|mut s| {
            s.keep = Some(keep);
            s
        });
        // The second reading's own plan (the first one's belongs to its reader).
        let plan = split.as_ref().map(|_| Plan::new(entity, &reader.columns, f.mapping.as_deref()));
        let le = req.legal_entity.as_str();
        let abandon = AtomicBool::new(false);
        // Each of two readings keeps at most half the bound (their keys are joined after).
        let half = bound / 2;
        let mut full = false;
        std::thread::scope(|scope| -> Result<(), JobError> {
            // The second reading, from the split point.
            let mut second = split.as_ref().zip(plan.as_ref()).map(|(sp, plan)| {
                let abandon = &abandon;
                scope.spawn(move || {
                    let mut runs = KeyRuns::new();
                    let (mut scratch, mut last) = (Vec::new(), LastKey::default());
                    let done = sp.records(|rec| {
                        if !last.repeats(rec) {
                            invoice::raw_key_view(plan, width(&rec), rec, le, |le, r| runs.push(le, r, &mut scratch));
                        }
                        !abandon.load(Relaxed) && !stop.load(Relaxed) && runs.data.len() <= half
                    });
                    (matches!(done, Ok(true)), runs)
                })
            });
            let mut watching = split.as_ref();
            let mut first = || -> Result<(), JobError> {
                'file: while reader.next_raw()? {
                    for (ri, pos) in reader.batch.positions.iter().enumerate() {
                        let rec = reader.batch.record(ri);
                        if let Some(sp) = watching {
                            match sp.meets(pos.byte) {
                                Meets::Before => {}
                                Meets::Aligned => {
                                    watching = None;
                                    if let Some((true, rest)) = second.take().and_then(|h| h.join().ok()) {
                                        tracing::debug!(file = %f.path.display(), at = sp.at, "Line keys read from two points.");
                                        runs.append(rest);
                                        break 'file;
                                    }
                                    // The second reading stopped short: this one goes on.
                                }
                                Meets::Past => {
                                    watching = None;
                                    abandon.store(true, Relaxed);
                                    tracing::debug!(file = %f.path.display(), at = sp.at, "The split point lies inside a record: line keys read from the start only.");
                                }
                            }
                        }
                        if !last.repeats(rec) {
                            invoice::raw_key_view(&reader.plan, width(&rec), rec, le, |le, r| {
                                runs.push(le, r, &mut scratch)
                            });
                        }
                    }
                    let limit = if watching.is_some() { half } else { bound };
                    full = runs.data.len() > limit;
                    if stop.load(Relaxed) || full {
                        break;
                    }
                }
                Ok(())
            };
            let read = first();
            // Ends the second reading when it is still going (the file ended before the point,
            // or this reading stopped or failed).
            abandon.store(true, Relaxed);
            read
        })?;
        if stop.load(Relaxed) {
            return Ok(runs);
        }
        if full || runs.data.len() > bound {
            runs.complete = false;
            runs.data = Vec::new();
            runs.ends = Vec::new();
        }
    }
    Ok(runs)
}

/// The key fields of the record read before, to pass over a record with the same ones (the
/// lines of an invoice follow one another) without reading its key again: its key is the same.
#[derive(Default)]
struct LastKey {
    fields: Vec<u8>,
    scratch: Vec<u8>,
}

impl LastKey {
    /// Whether the fields of `rec` (a record of the key fields) are those of the record before;
    /// `rec` is then the record before.
    fn repeats(&mut self, rec: Record<'_>) -> bool {
        // Each field with its length before it: the same bytes, the same fields.
        self.scratch.clear();
        for f in rec.iter() {
            self.scratch.extend_from_slice(&(f.len() as u32).to_le_bytes());
            self.scratch.extend_from_slice(f);
        }
        if self.scratch == self.fields {
            return true;
        }
        std::mem::swap(&mut self.scratch, &mut self.fields);
        false
    }
}

/// The columns of `plan`'s file a line's invoice key (legal entity, number or parent record
/// id) is read from (see [`invoice::raw_key_view`]): records of the same width with the same
/// bytes in them have the same key (fields not read from a column are the same in every row).
fn key_sources(plan: &Plan<'_>) -> Vec<usize> {
    use crate::entity::Role;
    [Role::LegalEntity, Role::InvoiceNumber, Role::ParentRecordId]
        .into_iter()
        .filter_map(|role| plan.entity.role_index(role))
        .filter_map(|i| match plan.sources[i] {
            crate::map::Source::Column(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// How many leading columns hold a line's invoice key in `plan`'s file (at least one).
fn key_columns(plan: &Plan<'_>) -> usize {
    key_sources(plan).into_iter().max().map_or(1, |c| c + 1)
}

/// Reads the line files into the book, invoice by invoice, and hands accepted invoices to the
/// sink. Returns the files' reports (by file number). `scanned` is the first pass when
/// [`scan_keys`] has made it.
#[allow(clippy::too_many_arguments)]
pub(super) fn lines<'c>(
    req: &ImportRequest,
    first: usize,
    files: &[(usize, &'c Entity)],
    book: &mut HeaderBook,
    ctx: &Context<'_>,
    rejects: &mut RejectLog,
    sink: &mut Sink<'_>,
    scanned: Option<KeyRuns>,
    stored: Option<&mut push::Stored>,
) -> Result<Vec<(usize, FileEntry<'c>)>, JobError> {
    let (mut in_order, mut bytes) = match &scanned {
        Some(runs) if runs.complete => (runs.in_order(book), runs.bytes),
        _ => (true, 0),
    };
    let scanned_all = scanned.is_some_and(|r| r.complete);
    if !scanned_all {
        // The first pass, with the book: the invoice key of every line, in file order.
        for &(i, entity) in files {
            let (mut reader, _) = Reader::open_input(req, first, i, entity, "", false)?;
            bytes += reader.source.total_bytes();
            if !in_order {
                // Known already; the sizes of the other files still count for partitioning.
                continue;
            }
            let mut last = 0usize;
            'file: while reader.next_raw()? {
                for (rec, _) in reader.batch.iter() {
                    let ordinal =
                        invoice::raw_ordinal(&reader.plan, reader.columns.len(), rec, &req.legal_entity, book);
                    if let Some(o) = ordinal {
                        if o < last {
                            in_order = false;
                            break 'file;
                        }
                        last = o;
                    }
                }
            }
        }
    }
    let checked = if scanned_all { "beside the headers" } else { "after the headers" };
    tracing::info!(files = files.len(), in_order, checked, "Lines checked for header order.");
    let mut asm = Assembly {
        book,
        ctx,
        rejects,
        sink,
        current: None,
        rows: Vec::new(),
        pending: Vec::new(),
        orphans: Vec::new(),
        stored,
    };
    let entries = match files {
        // One file in header order, nothing to complete from a store: the invoice is the unit
        // of work.
        &[(i, entity)] if in_order && asm.stored.is_none() => grouped::grouped(req, first, i, entity, &mut asm)?,
        _ if in_order => merged(req, first, files, &mut asm)?,
        _ => partitioned(req, first, files, bytes, &mut asm)?,
    };
    if !asm.sink.stopped() {
        orphans(req, first, files, &mut asm)?;
    }
    match asm.finish() {
        Some(e) => Err(e),
        None => Ok(entries),
    }
}

/// One line file being streamed: batches of parsed rows from its reading thread, and where
/// each row belongs.
struct Head {
    rx: std::sync::mpsc::Receiver<Result<Vec<Parsed>, JobError>>,
    buf: VecDeque<(Option<usize>, Class, Parsed)>,
    done: bool,
    classifier: Classifier,
}

impl Head {
    /// The header position of the next row, waiting for the reading thread as needed (`None`:
    /// the file is done).
    fn next_ordinal(&mut self, book: &HeaderBook) -> Result<Option<usize>, JobError> {
        while self.buf.is_empty() && !self.done {
            match self.rx.recv() {
                Ok(batch) => {
                    for p in batch? {
                        let class = self.classifier.classify(&p, book);
                        let o = match class {
                            Class::Invoice(o) => Some(o),
                            _ => None,
                        };
                        self.buf.push_back((o, class, p));
                    }
                }
                Err(_) => self.done = true,
            }
        }
        Ok(self.buf.front().map(|(o, _, _)| o.unwrap_or(usize::MAX)))
    }
}

/// Line files in header order: each read and parsed on a thread of its own, merged here as
/// they stream.
fn merged<'c>(
    req: &ImportRequest,
    first: usize,
    files: &[(usize, &'c Entity)],
    asm: &mut Assembly<'_, '_, '_>,
) -> Result<Vec<(usize, FileEntry<'c>)>, JobError> {
    let mut readers = Vec::with_capacity(files.len());
    for &(i, entity) in files {
        let idx = first + i;
        let (reader, csv) = Reader::open_input(req, first, i, entity, &asm.ctx.files[idx], true)?;
        readers.push((idx, entity, csv, reader));
    }
    std::thread::scope(|scope| {
        let mut heads = Vec::with_capacity(readers.len());
        let mut threads = Vec::with_capacity(readers.len());
        for (idx, entity, csv, mut reader) in readers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<Parsed>, JobError>>(2);
            let legal_entity = req.legal_entity.as_str();
            threads.push((
                idx,
                entity,
                csv,
                scope.spawn(move || {
                    loop {
                        match reader.next_parsed(legal_entity) {
                            Ok(Some(batch)) => {
                                if tx.send(Ok(batch)).is_err() {
                                    break;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                let _ = tx.send(Err(e));
                                break;
                            }
                        }
                    }
                    reader
                }),
            ));
            heads.push(Head { rx, buf: VecDeque::new(), done: false, classifier: Classifier::default() });
        }
        let merged = merge_heads(&mut heads, asm);
        // Stop the readers (on an error they may still be reading), then collect them.
        drop(heads);
        let mut out = Vec::with_capacity(threads.len());
        for (idx, entity, csv, t) in threads {
            let reader = match t.join() {
                Ok(r) => r,
                Err(payload) => std::panic::resume_unwind(payload),
            };
            out.push((idx, FileEntry::of_input(reader, entity, &req.files[idx - first], csv)));
        }
        merged.map(|()| out)
    })
}

fn merge_heads(heads: &mut [Head], asm: &mut Assembly<'_, '_, '_>) -> Result<(), JobError> {
    loop {
        // Rows that belong to no header's position are taken as they come.
        for h in heads.iter_mut() {
            while let Some(usize::MAX) = h.next_ordinal(asm.book)? {
                if let Some((_, class, p)) = h.buf.pop_front() {
                    asm.take(class, p);
                }
            }
        }
        let mut min: Option<usize> = None;
        for h in heads.iter_mut() {
            if let Some(o) = h.next_ordinal(asm.book)? {
                min = Some(min.map_or(o, |m| m.min(o)));
            }
        }
        let Some(min) = min else { return Ok(()) };
        for h in heads.iter_mut() {
            while h.next_ordinal(asm.book)? == Some(min) {
                if let Some((_, class, p)) = h.buf.pop_front() {
                    asm.take(class, p);
                }
            }
        }
        if asm.sink.stopped() {
            return Ok(());
        }
    }
}

/// A raw line kept in a partition: its file, position, header position, and its fields'
/// record in the partition's store.
struct RawLine {
    file: u32,
    line: u64,
    record: u64,
    ordinal: u32,
    index: usize,
}

const NO_HEADER: u32 = u32::MAX;

/// A raw line as a partition keeps it, appended to `out`: its head ([`RAW_HEAD`] bytes: file,
/// line, record, header position, field count), then each field's length and bytes.
fn encode_raw(out: &mut Vec<u8>, file: u32, pos: (u64, u64), ordinal: u32, rec: Record<'_>) {
    out.extend_from_slice(&file.to_le_bytes());
    out.extend_from_slice(&pos.0.to_le_bytes());
    out.extend_from_slice(&pos.1.to_le_bytes());
    out.extend_from_slice(&ordinal.to_le_bytes());
    out.extend_from_slice(&(rec.len() as u32).to_le_bytes());
    for f in rec.iter() {
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
}

/// The raw line at `at` of a partition's bytes, each of its fields handed to `field` in order
/// (where they are kept, and so the line's `index`, is the caller's business).
fn read_raw(data: &[u8], at: &mut usize, mut field: impl FnMut(&[u8])) -> Option<RawLine> {
    fn take<'d>(data: &'d [u8], at: &mut usize, n: usize) -> Option<&'d [u8]> {
        let s = data.get(*at..*at + n)?;
        *at += n;
        Some(s)
    }
    let (raw, n) = raw_head(take(data, at, RAW_HEAD)?.try_into().ok()?);
    for _ in 0..n {
        let len = u32::from_le_bytes(take(data, at, 4)?.try_into().ok()?) as usize;
        field(take(data, at, len)?);
    }
    Some(raw)
}

/// Bytes before the fields of a raw line (see [`encode_raw`]): file, line, record, ordinal and
/// the number of fields.
const RAW_HEAD: usize = 28;

/// The raw line whose head is `head` (its `index` for the caller to fill), and its number of
/// fields.
fn raw_head(head: &[u8; RAW_HEAD]) -> (RawLine, usize) {
    let u32_at = |at: usize| u32::from_le_bytes(head[at..at + 4].try_into().expect("four bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("eight bytes"));
    let raw = RawLine { file: u32_at(0), line: u64_at(4), record: u64_at(12), ordinal: u32_at(20), index: 0 };
    (raw, u32_at(24) as usize)
}

/// Records, fields and field bytes in a partition's bytes (a damaged end counts no further),
/// to size the partition's store at once.
fn count_raw(data: &[u8]) -> (usize, usize, usize) {
    let (mut records, mut fields, mut bytes) = (0, 0, 0);
    let mut at = 0usize;
    while read_raw(data, &mut at, |f| {
        fields += 1;
        bytes += f.len();
    })
    .is_some()
    {
        records += 1;
    }
    (records, fields, bytes)
}

/// A hash of a header key, to spread the lines of keys over partitions (the same key, the same
/// partition).
fn key_hash(key: &HeaderKey) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    h.finish()
}

/// The next raw line of a partition file read as a stream (its fields into `store`); `None`
/// at its end.
fn read_raw_from(r: &mut impl std::io::Read, store: &mut Records) -> std::io::Result<Option<RawLine>> {
    let mut head = [0u8; RAW_HEAD];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let (mut raw, n) = raw_head(&head);
    store.start_record();
    let mut field = Vec::new();
    for _ in 0..n {
        let mut len = [0u8; 4];
        r.read_exact(&mut len)?;
        field.resize(u32::from_le_bytes(len) as usize, 0);
        r.read_exact(&mut field)?;
        store.push_field(&field);
    }
    raw.index = store.len() - 1;
    Ok(Some(raw))
}

/// Per line file (by its index in the run): its columns, plan and entity, to parse its raw
/// lines when they are read back from temporary files.
type Plans<'p> = HashMap<u32, (Vec<String>, Plan<'p>, &'p Entity)>;

/// Parses raw lines whose fields are in `store` (in parallel, in order).
fn parse_raws(raws: &[RawLine], store: &Records, plans: &Plans<'_>, legal_entity: &str) -> Vec<Parsed> {
    parse_rows(raws.len(), |i, scratch| {
        let r = &raws[i];
        let origin = Origin { file: r.file, line: r.line, record: r.record };
        match plans.get(&r.file) {
            Some((columns, plan, entity)) => {
                parse_row(plan, columns, entity, store.get(r.index), origin, legal_entity, scratch)
            }
            None => Parsed::Master(Box::new((origin, Vec::new()))),
        }
    })
}

/// The rows of a partition file in the order written, parsed 8,192 at a time (in parallel) and
/// handed to `each`, which says whether to go on. Memory holds one chunk, whatever the file's
/// size.
fn stream_partition(
    path: &std::path::Path,
    plans: &Plans<'_>,
    legal_entity: &str,
    mut each: impl FnMut(Parsed) -> bool,
) -> std::io::Result<()> {
    let mut r = BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    let mut store = Records::default();
    let mut raws = Vec::with_capacity(8192);
    loop {
        store.clear();
        raws.clear();
        while raws.len() < 8192 {
            match read_raw_from(&mut r, &mut store)? {
                Some(raw) => raws.push(raw),
                None => break,
            }
        }
        if raws.is_empty() {
            return Ok(());
        }
        for p in parse_raws(&raws, &store, plans, legal_entity) {
            if !each(p) {
                return Ok(());
            }
        }
    }
}

/// Files the process keeps open beside the partitions it writes (the files read, the store,
/// the rejects spilled, the standard streams).
const OTHER_OPEN_FILES: u64 = 64;

/// Makes room for `partitions` files of `what` written at once: the soft limit on open files
/// (1,024 on many systems: 16 GiB of lines in partitions of 16 MiB) is raised as far as needed,
/// up to the hard limit; beyond that, an error that says what to change, before anything is
/// written.
fn room_for_open_files(what: &str, partitions: usize) -> Result<(), JobError> {
    #[cfg(unix)]
    {
        let want = partitions as u64 + OTHER_OPEN_FILES;
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit only writes the struct it is given, which lives for the call.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 || limit.rlim_cur >= want {
            return Ok(());
        }
        let raised = libc::rlimit { rlim_cur: want, rlim_max: limit.rlim_max };
        // SAFETY: setrlimit only reads the struct it is given, which lives for the call.
        if want > limit.rlim_max || unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            let may = if want > limit.rlim_max { limit.rlim_max } else { limit.rlim_cur };
            return Err(JobError::Input(format!(
                "{what} need {partitions} temporary partitions written at once, but this process may open \
                 only {may} files — raise the limit (`ulimit -n {want}`) or the size of a partition \
                 (INVOICEFLOW_PARTITION_BYTES, now {} bytes)",
                partition_bytes()
            )));
        }
    }
    Ok(())
}

/// A partition of lines read back: their fields, and their places sorted into header order.
struct Loaded {
    store: Records,
    raws: Vec<RawLine>,
}

/// Reads partition `p` of the folder `dir` back (and removes its file): its lines in the order
/// of their headers' positions, then of their files and lines.
fn load_partition(dir: &std::path::Path, p: usize) -> Result<Loaded, JobError> {
    let path = dir.join(format!("{p}.part"));
    let io = |e: std::io::Error| {
        JobError::Input(format!("{}: cannot read a partition of the lines back: {e}", path.display()))
    };
    let mut data = Vec::new();
    // Read whole: no buffer in front (read_to_end sizes its reads by the file).
    std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut data)).map_err(io)?;
    let _ = std::fs::remove_file(&path);
    let (records, fields, bytes) = count_raw(&data);
    let mut raws = Vec::with_capacity(records);
    let mut store = Records::default();
    store.reserve(records, fields, bytes);
    let mut at = 0usize;
    while at < data.len() {
        store.start_record();
        let Some(mut r) = read_raw(&data, &mut at, |f| store.push_field(f)) else {
            return Err(JobError::Input(format!("{}: a partition of the lines is damaged", path.display())));
        };
        r.index = store.len() - 1;
        raws.push(r);
    }
    drop(data);
    raws.sort_by_key(|r| (r.ordinal, r.file, r.line, r.record));
    Ok(Loaded { store, raws })
}

/// The lines whose key has no header (only where they are was kept while the lines streamed):
/// read again from their files into temporary partitions by key, each small enough to hold,
/// then assembled key by key (each line rejected: no header, or a duplicate line key). A file
/// whose every line has no header (the header file forgotten, keys that do not match) needs no
/// more memory than one that has them.
fn orphans(
    req: &ImportRequest,
    first: usize,
    files: &[(usize, &Entity)],
    asm: &mut Assembly<'_, '_, '_>,
) -> Result<(), JobError> {
    if asm.orphans.is_empty() {
        return Ok(());
    }
    let mut rows = std::mem::take(&mut asm.orphans);
    rows.sort_by_key(|o| (o.file, o.record));
    // About half a KiB a raw line: partitions of at most the partition size.
    let parts = (rows.len() as u64 * 512 / partition_bytes() + 1) as usize;
    room_for_open_files("the lines without a header", parts)?;
    let dir = tempfile::Builder::new().prefix("invoiceflow-orphans-").tempdir().map_err(|e| {
        JobError::Input(format!("cannot create a temporary folder for the lines without a header: {e}"))
    })?;
    let io = |e: std::io::Error| {
        JobError::Input(format!("{}: cannot write the lines without a header: {e}", dir.path().display()))
    };
    let part = |p: usize| dir.path().join(format!("{p}.orphans"));
    let mut writers: Vec<BufWriter<std::fs::File>> = Vec::with_capacity(parts);
    for p in 0..parts {
        writers.push(BufWriter::new(std::fs::File::create(part(p)).map_err(io)?));
    }
    let mut plans: Plans<'_> = HashMap::default();
    for &(i, entity) in files {
        let idx = (first + i) as u32;
        let start = rows.partition_point(|o| o.file < idx);
        let mine = &rows[start..rows.partition_point(|o| o.file <= idx)];
        if mine.is_empty() {
            continue;
        }
        let (mut reader, _) = Reader::open_input(req, first, i, entity, "", false)?;
        let mut k = 0usize;
        let mut bytes = Vec::new();
        'file: while reader.next_raw()? {
            for (rec, pos) in reader.batch.iter() {
                if mine[k].record == pos.1 {
                    let p = (mine[k].key % parts as u64) as usize;
                    bytes.clear();
                    encode_raw(&mut bytes, idx, pos, NO_HEADER, rec);
                    writers[p].write_all(&bytes).map_err(io)?;
                    k += 1;
                    if k == mine.len() {
                        break 'file;
                    }
                }
            }
        }
        if k < mine.len() {
            return Err(JobError::Input(format!(
                "{}: {} lines without a header were not found again (was the file changed during the import?)",
                req.files[i].path.display(),
                mine.len() - k
            )));
        }
        plans.insert(idx, (reader.columns, reader.plan, entity));
    }
    drop(rows);
    for w in writers.iter_mut() {
        w.flush().map_err(io)?;
    }
    drop(writers);
    for p in 0..parts {
        // The keys of this partition, in the order their first line comes.
        let mut groups: Vec<Vec<LineRow>> = Vec::new();
        let mut at: HashMap<HeaderKey, usize> = HashMap::default();
        stream_partition(&part(p), &plans, &req.legal_entity, |parsed| {
            match classify(&parsed, asm.book) {
                Class::Orphan(key) => {
                    let g = *at.entry(key).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[g].extend(row_of(parsed));
                }
                // Read again, a row is what it was (typing does not change).
                class => asm.take(class, parsed),
            }
            true
        })
        .map_err(io)?;
        let _ = std::fs::remove_file(part(p));
        for rows in groups {
            asm.orphan_group(rows);
        }
    }
    Ok(())
}

/// Line files not in header order: partitioned by header position into temporary files, each
/// sorted in memory and streamed in order.
fn partitioned<'c>(
    req: &ImportRequest,
    first: usize,
    files: &[(usize, &'c Entity)],
    bytes: u64,
    asm: &mut Assembly<'_, '_, '_>,
) -> Result<Vec<(usize, FileEntry<'c>)>, JobError> {
    let count = asm.book.len().max(1);
    let parts = (bytes / partition_bytes() + 1).min(count as u64).max(1) as usize;
    // Written at once: one more for the lines without a header position.
    room_for_open_files("the lines not in header order", parts + 1)?;
    let dir = tempfile::Builder::new().prefix("invoiceflow-lines-").tempdir().map_err(|e| {
        JobError::Input(format!("cannot create a temporary folder for the partitions of the lines: {e}"))
    })?;
    let io = |e: std::io::Error| {
        JobError::Input(format!("{}: cannot write a partition of the lines: {e}", dir.path().display()))
    };
    let mut writers: Vec<BufWriter<std::fs::File>> = Vec::with_capacity(parts + 1);
    for p in 0..=parts {
        writers.push(BufWriter::new(std::fs::File::create(dir.path().join(format!("{p}.part"))).map_err(io)?));
    }
    // Per file: its columns and plan, to parse the rows when their partition is read back.
    let mut plans: Plans<'c> = HashMap::default();
    let mut out = Vec::with_capacity(files.len());
    for &(i, entity) in files {
        let f = &req.files[i];
        let idx = first + i;
        let (mut reader, csv) = Reader::open_input(req, first, i, entity, &asm.ctx.files[idx], true)?;
        // Each batch is placed (its lines' header positions) and encoded by the pool, a chunk
        // of lines per task, while the batch after it is read; the chunks' bytes are then
        // written in line order, so every partition holds what one line at a time would write.
        let (book, le) = (&*asm.book, req.legal_entity.as_str());
        let place = |batch: &RawBatch, plan: &Plan<'_>, columns: &[String]| -> Vec<Vec<Vec<u8>>> {
            (0..batch.len().div_ceil(PLACE_CHUNK))
                .into_par_iter()
                .map(|c| {
                    let mut bufs = vec![Vec::new(); parts + 1];
                    for ri in c * PLACE_CHUNK..((c + 1) * PLACE_CHUNK).min(batch.len()) {
                        let (rec, p) = (batch.record(ri), batch.positions[ri]);
                        let (part, ord) = match invoice::raw_ordinal(plan, columns.len(), rec, le, book) {
                            Some(o) => (o * parts / count, o as u32),
                            None => (parts, NO_HEADER),
                        };
                        encode_raw(&mut bufs[part], idx as u32, (p.line, p.record), ord, rec);
                    }
                    bufs
                })
                .collect()
        };
        while let Some(placed) = reader.next_with(place)? {
            for bufs in placed {
                for (w, b) in writers.iter_mut().zip(bufs) {
                    w.write_all(&b).map_err(io)?;
                }
            }
        }
        let columns = reader.columns.clone();
        plans.insert(idx as u32, (columns.clone(), Plan::new(entity, &columns, f.mapping.as_deref()), entity));
        out.push((idx, FileEntry::of_input(reader, entity, f, csv)));
    }
    for w in writers.iter_mut() {
        w.flush().map_err(io)?;
    }
    drop(writers);
    // Each partition is read back, decoded and sorted by a thread of its own while the one
    // before it is parsed and assembled (the three ran between partitions, with the pool idle);
    // the channel holds none, so at most two partitions are in memory.
    let stopped = std::thread::scope(|scope| -> Result<bool, JobError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Loaded, JobError>>(0);
        let at = dir.path();
        scope.spawn(move || {
            for p in 0..parts {
                let loaded = load_partition(at, p);
                let failed = loaded.is_err();
                // A closed channel: the lines stopped (posting failed); a failure: reported.
                if tx.send(loaded).is_err() || failed {
                    return;
                }
            }
        });
        for loaded in rx {
            let Loaded { store, raws } = loaded?;
            let mut classifier = Classifier::default();
            for chunk in raws.chunks(8192) {
                for p in parse_raws(chunk, &store, &plans, &req.legal_entity) {
                    let class = classifier.classify(&p, asm.book);
                    asm.take(class, p);
                }
                if asm.sink.stopped() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    })?;
    if stopped {
        return Ok(out);
    }
    // The lines without a header position, in the order written (file by file), a chunk at a
    // time: there may be many (a line file whose header file was forgotten).
    stream_partition(&dir.path().join(format!("{parts}.part")), &plans, &req.legal_entity, |p| {
        let class = classify(&p, asm.book);
        asm.take(class, p);
        !asm.sink.stopped()
    })
    .map_err(io)?;
    let _ = std::fs::remove_file(dir.path().join(format!("{parts}.part")));
    Ok(out)
}
