//! One line file whose invoices come in header order, with the invoice as the unit of work.
//!
//! Each batch of raw records is cut into the runs of its invoices (by each record's key, read
//! from its text as the order check read it), the runs' headers are claimed from the book in
//! order, and each piece of work — a run of whole invoices — types their lines and assembles
//! them on the same core, while the lines are still in its cache, instead of handing every
//! typed line to a merging thread and then to another core to be assembled. The invoice a
//! batch ends with stays open: its lines may go on in the next batch.
//!
//! What comes out is what the merging path ([`super::merged`]) gives: the same invoices, in
//! header order, with the same rejects; rows whose key has no header (or cannot be read) are
//! taken as that path takes them.

use std::ops::Range;

use rayon::prelude::*;

use super::{classify, key_sources, row_of, Assembly, Class, Classifier};
use crate::entity::Entity;
use crate::map::Plan;
use crate::pipeline::{parse_row, type_chunk, FileEntry, ImportRequest, JobError, Parsed, Reader};
use crate::read::{Origin, RawBatch, Record};
use crate::validate::invoice::{self, Assembled, Claim, Context, HeaderBook, LineRow};

/// Records typed in one piece of work, at least (a piece ends with an invoice; the lines typed
/// together share one text chunk).
const PIECE_ROWS: usize = 256;

/// The invoice a batch ended with: its header's position, its claim and its rows so far.
pub(super) struct Open {
    ordinal: usize,
    claim: Claim,
    rows: Vec<LineRow>,
}

/// The records of one invoice in a batch: its header's position, and the records from its
/// first to its last (records between them whose key has no header are not its).
struct Run {
    ordinal: usize,
    records: Range<usize>,
}

/// A run's header: claimed here, or the open invoice of the batch before, which goes on.
enum Head {
    Claimed(Claim),
    GoesOn,
}

/// A piece of work: runs of whole invoices and the records from the first's to the next
/// piece's, the runs' headers, and the invoice open before them (the first piece only).
struct Piece {
    runs: Range<usize>,
    records: Range<usize>,
    heads: Vec<Head>,
    open: Option<Open>,
}

/// What a piece of work gives back.
#[derive(Default)]
struct Done {
    /// Its invoices, in header order.
    assembled: Vec<Assembled>,
    /// Its rows that belong to no invoice of a run, in file order, with where they belong.
    strays: Vec<(Class, Parsed)>,
    /// The invoice the batch ends with (the last piece only).
    open: Option<Open>,
}

/// Streams line file `i` of the import (whose invoices come in header order) into `asm`.
pub(super) fn grouped<'c>(
    req: &ImportRequest,
    first: usize,
    i: usize,
    entity: &'c Entity,
    asm: &mut Assembly<'_, '_, '_>,
) -> Result<Vec<(usize, FileEntry<'c>)>, JobError> {
    let idx = first + i;
    let (mut reader, csv) = Reader::open_input(req, first, i, entity, &asm.ctx.files[idx], true)?;
    let le = req.legal_entity.as_str();
    let file = reader.file_index;
    let mut open: Option<Open> = None;
    while !asm.sink.stopped() {
        let (book, ctx, carried) = (&mut *asm.book, asm.ctx, &mut open);
        let work = |batch: &RawBatch, plan: &Plan<'_>, columns: &[String]| {
            let at = Batch { batch, plan, columns, entity, file, legal_entity: le };
            at.work(book, ctx, carried)
        };
        let Some(pieces) = reader.next_with(work)? else { break };
        for done in pieces {
            for a in done.assembled {
                accept(asm, a);
            }
            for (class, p) in done.strays {
                asm.take(class, p);
            }
        }
        // A row typed into another invoice than its run's (see `Batch::piece`) closes here.
        asm.flush();
        asm.sink.release();
    }
    if let Some(o) = open.take() {
        if !asm.sink.stopped() {
            let a = o.claim.assemble(o.rows, asm.ctx);
            accept(asm, a);
        }
    }
    Ok(vec![(idx, FileEntry::of_input(reader, entity, &req.files[i], csv))])
}

/// Hands an assembled invoice on, and logs the rejects of its rows.
fn accept(asm: &mut Assembly<'_, '_, '_>, a: Assembled) {
    asm.rejects.extend(a.rejects);
    if let Some(inv) = a.invoice {
        asm.sink.accept(inv);
    }
}

/// One raw batch of the file, with what typing its rows needs.
struct Batch<'a, 'p> {
    batch: &'a RawBatch,
    plan: &'a Plan<'p>,
    columns: &'a [String],
    entity: &'a Entity,
    file: u32,
    legal_entity: &'a str,
}

impl Batch<'_, '_> {
    /// Cuts the batch into runs, claims their headers in order (the first run's is `carried`'s
    /// when that invoice goes on), and types and assembles pieces of whole runs on every core.
    /// `carried` becomes the invoice the batch ends with.
    fn work(&self, book: &mut HeaderBook, ctx: &Context<'_>, carried: &mut Option<Open>) -> Vec<Done> {
        let n = self.batch.len();
        let ordinals = self.ordinals(book);
        let mut runs: Vec<Run> = Vec::new();
        for (r, o) in ordinals.iter().enumerate() {
            let Some(o) = *o else { continue };
            match runs.last_mut() {
                Some(run) if run.ordinal == o => run.records.end = r + 1,
                _ => runs.push(Run { ordinal: o, records: r..r + 1 }),
            }
        }
        let goes_on = |k: usize, run: &Run| k == 0 && carried.as_ref().is_some_and(|c| c.ordinal == run.ordinal);
        let heads: Vec<Head> = runs
            .iter()
            .enumerate()
            .map(|(k, run)| if goes_on(k, run) { Head::GoesOn } else { Head::Claimed(book.claim(Some(run.ordinal))) })
            .collect();
        // Pieces of whole runs of at least PIECE_ROWS records; the records after a run up to
        // the next one's (rows whose key has no header) go with it. The open invoice goes to
        // the first piece.
        let mut heads = heads.into_iter();
        let mut open = carried.take();
        let mut work: Vec<Piece> = Vec::new();
        let (mut first_run, mut first_record) = (0, 0);
        for k in 0..runs.len() {
            let end = runs.get(k + 1).map_or(n, |next| next.records.start);
            if end - first_record >= PIECE_ROWS || k + 1 == runs.len() {
                let heads = heads.by_ref().take(k + 1 - first_run).collect();
                work.push(Piece { runs: first_run..k + 1, records: first_record..end, heads, open: open.take() });
                (first_run, first_record) = (k + 1, end);
            }
        }
        if runs.is_empty() && n > 0 {
            work.push(Piece { runs: 0..0, records: 0..n, heads: Vec::new(), open: open.take() });
        }
        let last = work.len().saturating_sub(1);
        let book = &*book;
        let mut done: Vec<Done> = work
            .into_par_iter()
            .enumerate()
            .map(|(p, piece)| self.piece(&runs, piece, p == last, &ordinals, book, ctx))
            .collect();
        // The invoice the batch ends with (the one before, when the batch had no piece).
        *carried = done.last_mut().and_then(|d| d.open.take()).or(open);
        done
    }

    /// The header position of every record (`None`: its key has no header or cannot be read),
    /// in pieces on every core; a record with the key fields of the one before has its position.
    fn ordinals(&self, book: &HeaderBook) -> Vec<Option<usize>> {
        let n = self.batch.len();
        let key_columns = key_sources(self.plan);
        let width = self.columns.len();
        (0..n.div_ceil(PIECE_ROWS))
            .into_par_iter()
            .map(|c| {
                let mut out = Vec::with_capacity(PIECE_ROWS);
                let mut last: Option<(Record<'_>, Option<usize>)> = None;
                for r in c * PIECE_ROWS..((c + 1) * PIECE_ROWS).min(n) {
                    let rec = self.batch.record(r);
                    let o = match last {
                        Some((prev, o)) if same_key(prev, rec, &key_columns) => o,
                        _ => invoice::raw_ordinal(self.plan, width, rec, self.legal_entity, book),
                    };
                    last = Some((rec, o));
                    out.push(o);
                }
                out
            })
            .collect::<Vec<Vec<Option<usize>>>>()
            .concat()
    }

    /// Types the records of `piece` (its runs of `runs` and the rows between them) and
    /// assembles the runs' invoices, the one open before them first, or with the first run's
    /// rows when it goes on there. The last run of the batch's `last` piece stays open.
    fn piece(
        &self,
        runs: &[Run],
        piece: Piece,
        last: bool,
        ordinals: &[Option<usize>],
        book: &HeaderBook,
        ctx: &Context<'_>,
    ) -> Done {
        let Piece { runs: own, records, heads, mut open } = piece;
        let runs = &runs[own];
        let typed = type_chunk(records.clone(), |r, scratch| {
            let p = self.batch.positions[r];
            let origin = Origin { file: self.file, line: p.line, record: p.record };
            parse_row(self.plan, self.columns, self.entity, self.batch.record(r), origin, self.legal_entity, scratch)
        });
        let mut done = Done::default();
        let mut classifier = Classifier::default();
        let mut typed = records.zip(typed).peekable();
        for (k, (run, head)) in runs.iter().zip(heads).enumerate() {
            let (claim, mut rows) = match (head, open.take()) {
                (Head::GoesOn, Some(o)) => (o.claim, o.rows),
                (Head::Claimed(c), before) => {
                    // A new invoice: the one open before it is complete.
                    if let Some(o) = before {
                        done.assembled.push(o.claim.assemble(o.rows, ctx));
                    }
                    (c, Vec::with_capacity(run.records.len()))
                }
                // Not made (a run goes on only from an open invoice).
                (Head::GoesOn, None) => continue,
            };
            while let Some((r, p)) = typed.next_if(|(r, _)| *r < run.records.end) {
                if ordinals[r] == Some(run.ordinal) {
                    // The typed row's key is the one its text gave (the same fields, read the
                    // same way); a row that says otherwise is taken as the merging path takes it.
                    match classifier.classify(&p, book) {
                        Class::Invoice(o) if o == run.ordinal => rows.extend(row_of(p)),
                        class => done.strays.push((class, p)),
                    }
                } else {
                    done.strays.push((classify(&p, book), p));
                }
            }
            if last && k + 1 == runs.len() {
                done.open = Some(Open { ordinal: run.ordinal, claim, rows });
            } else {
                done.assembled.push(claim.assemble(rows, ctx));
            }
        }
        for (_, p) in typed {
            done.strays.push((classify(&p, book), p));
        }
        // A piece without runs (a batch of rows without a header): the open invoice goes on.
        if let Some(o) = open {
            done.open = Some(o);
        }
        done
    }
}

/// Whether two records have the same key (see [`key_sources`]).
fn same_key(a: Record<'_>, b: Record<'_>, columns: &[usize]) -> bool {
    a.len() == b.len() && columns.iter().all(|&c| a.get(c) == b.get(c))
}
