//! Rejects files: for each input file with rejected rows, `<name>.rejects.csv` holds the
//! original columns of every rejected row plus `file`, `line`, `field`, `rule`, `message`; and
//! `rejects.csv` lists all rejects of the run (without the original columns). Files are
//! written to a temp file, synced and renamed, so a reader never sees half a file.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::read::{self, Origin, RawBatch, ReadError};
use crate::validate::{Reject, Rule};

/// What went wrong writing rejects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RejectsError {
    /// The directory or file cannot be written.
    #[error("{path}: cannot write rejects: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The input file cannot be read again for its original columns.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// One input file whose rejects are to be written.
pub struct RejectSource<'a> {
    /// The input file.
    pub path: &'a Path,
    /// How it was read.
    pub csv: &'a read::csv::CsvOptions,
    /// Its index in the run's file table (its rejects are those of this file).
    pub file: u32,
    /// Write the rejects in the file's own dialect (its delimiter, encoding, BOM and line
    /// ends; the values are its own text anyway), so that they can be corrected and fed back
    /// through the same mapping; else UTF-8 with commas.
    pub like_source: bool,
}

/// A CSV row's bytes: written by the `csv` crate with `dialect`'s delimiter and line end (its
/// defaults without one), then encoded in the dialect's encoding.
fn row_bytes(row: &[Vec<u8>], dialect: Option<read::csv::Dialect>) -> std::io::Result<Vec<u8>> {
    let mut b = csv::WriterBuilder::new();
    b.flexible(true);
    if let Some(d) = dialect {
        b.delimiter(d.delimiter);
        match d.line_end {
            b"\r\n" => {
                b.terminator(csv::Terminator::CRLF);
            }
            b"\r" => {
                b.terminator(csv::Terminator::Any(b'\r'));
            }
            _ => {}
        }
    }
    let mut w = b.from_writer(Vec::new());
    w.write_record(row)?;
    let utf8 = w.into_inner().map_err(|e| e.into_error())?;
    Ok(match dialect.and_then(|d| d.encoding) {
        None => utf8,
        encoding => read::csv::encode_text(&String::from_utf8_lossy(&utf8), encoding),
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RejectsError + '_ {
    move |source| RejectsError::Io { path: path.to_path_buf(), source }
}

/// Writes `path` atomically: `write` fills a temp file in the same directory, which is then
/// synced and renamed over `path`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), RejectsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("out")));
    let file = File::create(&tmp).map_err(io(&tmp))?;
    let mut w = BufWriter::new(file);
    write(&mut w).map_err(io(&tmp))?;
    let file = w.into_inner().map_err(|e| RejectsError::Io { path: tmp.clone(), source: e.into_error() })?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

/// The rejects file name for an input file: `<file name>.rejects.csv`.
pub fn rejects_name(input: &Path) -> String {
    format!("{}.rejects.csv", input.file_name().and_then(|n| n.to_str()).unwrap_or("input"))
}

/// Writes one input file's rejects with their original columns (read again from the file,
/// streaming, up to the last rejected record), taking them from `rejects` (a row with several
/// rejects is written once, with the last). Returns the path written.
pub fn write_file_rejects(
    dir: &Path,
    src: &RejectSource<'_>,
    file_label: &str,
    rejects: &mut Sorted<'_>,
) -> Result<PathBuf, RejectsError> {
    let out = dir.join(rejects_name(src.path));
    let mut source = read::open(src.path, src.csv)?;
    let columns = source.columns().to_vec();
    let dialect = if src.like_source { source.dialect() } else { None };
    let mut next = rejects.next_of(src.file)?;
    let mut result: Result<(), RejectsError> = Ok(());
    write_atomically(&out, |w| {
        if let Some(d) = dialect.filter(|d| d.bom) {
            w.write_all(read::csv::bom_of(d.encoding))?;
        }
        let mut header: Vec<Vec<u8>> = columns.iter().map(|c| c.as_bytes().to_vec()).collect();
        header.extend(["file", "line", "field", "rule", "message"].map(|h| h.as_bytes().to_vec()));
        w.write_all(&row_bytes(&header, dialect)?)?;
        let mut batch = RawBatch::default();
        'outer: while next.is_some() {
            match source.next_batch(&mut batch, 4096) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
            for (rec, (_, record_no)) in batch.iter() {
                // The rejects of this record (the last one is written); those of records the
                // file does not have are passed over.
                let mut hit = None;
                while let Some(r) = next.take_if(|r| r.origin.record <= record_no) {
                    if r.origin.record == record_no {
                        hit = Some(r);
                    }
                    next = match rejects.next_of(src.file) {
                        Ok(n) => n,
                        Err(e) => {
                            result = Err(e);
                            break 'outer;
                        }
                    };
                }
                if let Some(r) = hit {
                    let mut row: Vec<Vec<u8>> = rec.iter().map(<[u8]>::to_vec).collect();
                    row.resize(columns.len().max(row.len()), Vec::new());
                    row.push(file_label.as_bytes().to_vec());
                    row.push(r.origin.line.to_string().into_bytes());
                    row.push(r.field.unwrap_or_default().into_bytes());
                    row.push(r.rule.id().as_bytes().to_vec());
                    row.push(r.message.into_bytes());
                    w.write_all(&row_bytes(&row, dialect)?)?;
                }
                if next.is_none() {
                    break 'outer;
                }
            }
        }
        Ok(())
    })?;
    result.map(|()| out)
}

/// Writes `rejects.csv`: every reject of the run, in file and line order; calls `each` with
/// every reject written.
pub fn write_index(
    dir: &Path,
    files: &[String],
    rejects: &mut Sorted<'_>,
    mut each: impl FnMut(&Reject),
) -> Result<PathBuf, RejectsError> {
    let out = dir.join("rejects.csv");
    let mut result = Ok(());
    write_atomically(&out, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(["file", "line", "field", "rule", "message"])?;
        loop {
            let r = match rejects.next_reject() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let file = files.get(r.origin.file as usize).map(String::as_str).unwrap_or("");
            csv.write_record([
                file,
                &r.origin.line.to_string(),
                r.field.as_deref().unwrap_or(""),
                r.rule.id(),
                &r.message,
            ])?;
            each(&r);
        }
        csv.flush()?;
        Ok(())
    })?;
    result.map(|()| out)
}

/// Bytes of rejects held in memory before they are written to a temporary file (32 MiB;
/// `INVOICEFLOW_REJECTS_BYTES` sets another size, for tests).
fn held_bytes_bound() -> usize {
    std::env::var("INVOICEFLOW_REJECTS_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(32 << 20)
}

/// The rejects of a run in bounded memory. They are held until they take
/// `INVOICEFLOW_REJECTS_BYTES`, then sorted and written to a temporary file as one sorted run;
/// [`RejectLog::sorted`] reads them all back merged in file and line order (rejects of one row
/// in the order they were logged), as a stable sort of everything logged would give them. A
/// run whose every row fails (a wrong mapping, missing master data) keeps its memory flat.
pub struct RejectLog {
    /// Held rejects with the order they were logged in.
    held: Vec<(u64, Reject)>,
    held_bytes: usize,
    /// Bytes held at most.
    bound: usize,
    /// Sorted runs written out, and the folder they are in (made at the first).
    runs: Vec<PathBuf>,
    dir: Option<tempfile::TempDir>,
    /// Rejects logged, in all and per file.
    count: u64,
    per_file: BTreeMap<u32, u64>,
    per_rule: BTreeMap<&'static str, u64>,
    /// Whether a write to a temporary file failed: the rejects are held from then on.
    unbounded: bool,
    /// Merges of runs made (to name their files).
    merges: usize,
}

/// Runs written out at most before they are merged into one.
const MAX_RUNS: usize = 64;

impl Default for RejectLog {
    fn default() -> Self {
        RejectLog::with_bound(held_bytes_bound())
    }
}

/// What a reject takes in memory, roughly (its texts and its place).
fn held_size(r: &Reject) -> usize {
    std::mem::size_of::<(u64, Reject)>() + r.message.len() + r.field.as_ref().map_or(0, String::len)
}

impl RejectLog {
    /// A log that holds at most `bytes` of rejects in memory.
    pub fn with_bound(bytes: usize) -> RejectLog {
        RejectLog {
            held: Vec::new(),
            held_bytes: 0,
            bound: bytes,
            runs: Vec::new(),
            dir: None,
            count: 0,
            per_file: BTreeMap::new(),
            per_rule: BTreeMap::new(),
            unbounded: false,
            merges: 0,
        }
    }

    /// Logs a reject.
    pub fn push(&mut self, r: Reject) {
        self.count += 1;
        *self.per_file.entry(r.origin.file).or_default() += 1;
        *self.per_rule.entry(r.rule.id()).or_default() += 1;
        self.held_bytes += held_size(&r);
        self.held.push((self.count, r));
        if self.held_bytes > self.bound {
            self.spill();
        }
    }

    /// Logs the rejects of another log after this one's: in its sorted order, which keeps
    /// the order of the rejects of one row as they were logged there (so that everything sorts
    /// as if it had been logged here).
    pub fn append(&mut self, mut other: RejectLog) -> Result<(), RejectsError> {
        if other.runs.is_empty() {
            self.extend(std::mem::take(&mut other.held).into_iter().map(|(_, r)| r));
            return Ok(());
        }
        let mut sorted = other.sorted()?;
        while let Some(r) = sorted.next_reject()? {
            self.push(r);
        }
        Ok(())
    }

    /// Rejects logged.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Rejects logged per file index.
    pub fn per_file(&self) -> &BTreeMap<u32, u64> {
        &self.per_file
    }

    /// Rejects logged per rule id, in id order.
    pub fn per_rule(&self) -> &BTreeMap<&'static str, u64> {
        &self.per_rule
    }

    /// Writes the held rejects, sorted, as one more run.
    fn spill(&mut self) {
        if self.held.is_empty() || self.unbounded {
            return;
        }
        self.held.sort_by_key(|(seq, r)| (r.origin, *seq));
        if let Err(e) = self.write_run() {
            // Held on in memory, as if there were no bound (slower to fail than to stop a run
            // at its end for want of temporary space).
            tracing::warn!(error = %e, "Rejects cannot be written to a temporary file; they are held in memory.");
            self.unbounded = true;
        }
    }

    /// Writes the held rejects (sorted) to a new run file; merges the runs when they are many.
    fn write_run(&mut self) -> Result<(), RejectsError> {
        if self.dir.is_none() {
            let dir = tempfile::Builder::new().prefix("invoiceflow-rejects-").tempdir();
            self.dir = Some(dir.map_err(io(&std::env::temp_dir()))?);
        }
        let dir = self.dir.as_ref().map(|d| d.path().to_path_buf()).unwrap_or_default();
        // Named by the last reject in it: unique.
        let path = dir.join(format!("{}.run", self.count));
        let mut w = BufWriter::new(File::create(&path).map_err(io(&path))?);
        for (seq, r) in &self.held {
            write_spilled(&mut w, *seq, r).map_err(io(&path))?;
        }
        w.flush().map_err(io(&path))?;
        self.runs.push(path);
        self.held.clear();
        self.held_bytes = 0;
        if self.runs.len() >= MAX_RUNS {
            self.merge_runs()?;
        }
        Ok(())
    }

    /// Everything logged, in file and line order (see [`RejectLog`]); an error when a
    /// temporary file cannot be read back. Each call reads them from the start.
    pub fn sorted(&mut self) -> Result<Sorted<'_>, RejectsError> {
        self.held.sort_by_key(|(seq, r)| (r.origin, *seq));
        Sorted::of(&self.held, &self.runs)
    }

    /// Merges the runs written out into one, so that reading them back never opens more than
    /// [`MAX_RUNS`] files at once.
    fn merge_runs(&mut self) -> Result<(), RejectsError> {
        let Some(dir) = self.dir.as_ref().map(|d| d.path().to_path_buf()) else { return Ok(()) };
        self.merges += 1;
        let path = dir.join(format!("merged-{}.run", self.merges));
        let mut w = BufWriter::new(File::create(&path).map_err(io(&path))?);
        {
            let mut sorted = Sorted::of(&[], &self.runs)?;
            while let Some((seq, r)) = sorted.next_entry()? {
                write_spilled(&mut w, seq, &r).map_err(io(&path))?;
            }
        }
        w.flush().map_err(io(&path))?;
        for old in std::mem::replace(&mut self.runs, vec![path]) {
            let _ = fs::remove_file(old);
        }
        Ok(())
    }
}

/// The rejects of a [`RejectLog`] merged in order.
pub struct Sorted<'a> {
    held: std::iter::Peekable<std::slice::Iter<'a, (u64, Reject)>>,
    runs: Vec<(std::io::BufReader<File>, PathBuf)>,
    /// The next reject of each run (`None` when it has ended).
    heads: Vec<Option<(u64, Reject)>>,
    /// A reject read ahead by [`Sorted::next_of`].
    pending: Option<Reject>,
}

impl<'a> Sorted<'a> {
    /// The rejects of `held` (sorted) and of the runs at `paths`, merged.
    fn of(held: &'a [(u64, Reject)], paths: &[PathBuf]) -> Result<Sorted<'a>, RejectsError> {
        let mut runs = Vec::with_capacity(paths.len());
        for path in paths {
            let file = File::open(path).map_err(io(path))?;
            runs.push((std::io::BufReader::with_capacity(64 << 10, file), path.clone()));
        }
        let mut heads = Vec::with_capacity(runs.len());
        for (r, path) in &mut runs {
            heads.push(read_spilled(r).map_err(io(path))?);
        }
        Ok(Sorted { held: held.iter().peekable(), runs, heads, pending: None })
    }

    /// The next reject; `None` after the last.
    pub fn next_reject(&mut self) -> Result<Option<Reject>, RejectsError> {
        if let Some(r) = self.pending.take() {
            return Ok(Some(r));
        }
        Ok(self.next_entry()?.map(|(_, r)| r))
    }

    /// The next reject with the place it was logged in.
    fn next_entry(&mut self) -> Result<Option<(u64, Reject)>, RejectsError> {
        // The least of the runs' heads and the held rejects' next, by (origin, order logged).
        let mut best: Option<(usize, (Origin, u64))> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some((seq, r)) = h {
                let k = (r.origin, *seq);
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((i, k));
                }
            }
        }
        let held_first = match (self.held.peek(), best) {
            (Some((seq, r)), Some((_, b))) => (r.origin, *seq) < b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if held_first {
            return Ok(self.held.next().cloned());
        }
        let Some((i, _)) = best else { return Ok(None) };
        let (run, path) = &mut self.runs[i];
        let next = read_spilled(run).map_err(io(path))?;
        Ok(std::mem::replace(&mut self.heads[i], next))
    }

    /// The next reject when it is one of file `file` (those of files before it are passed
    /// over); `None` when the next one is of a later file, or there is none.
    pub fn next_of(&mut self, file: u32) -> Result<Option<Reject>, RejectsError> {
        while let Some(r) = self.next_reject()? {
            if r.origin.file == file {
                return Ok(Some(r));
            }
            if r.origin.file > file {
                self.pending = Some(r);
                return Ok(None);
            }
        }
        Ok(None)
    }
}

fn write_spilled(w: &mut impl Write, seq: u64, r: &Reject) -> std::io::Result<()> {
    let rule = Rule::ALL.iter().position(|&x| x == r.rule).unwrap_or(0) as u16;
    w.write_all(&seq.to_le_bytes())?;
    w.write_all(&r.origin.file.to_le_bytes())?;
    w.write_all(&r.origin.line.to_le_bytes())?;
    w.write_all(&r.origin.record.to_le_bytes())?;
    w.write_all(&rule.to_le_bytes())?;
    match &r.field {
        Some(f) => {
            w.write_all(&[1])?;
            w.write_all(&(f.len() as u64).to_le_bytes())?;
            w.write_all(f.as_bytes())?;
        }
        None => w.write_all(&[0])?,
    }
    w.write_all(&(r.message.len() as u64).to_le_bytes())?;
    w.write_all(r.message.as_bytes())
}

/// The next reject of a run, `None` at its end.
fn read_spilled(r: &mut impl Read) -> std::io::Result<Option<(u64, Reject)>> {
    let mut seq = [0u8; 8];
    match r.read_exact(&mut seq) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut u32b = [0u8; 4];
    let mut u64b = [0u8; 8];
    let mut u16b = [0u8; 2];
    let mut one = [0u8; 1];
    r.read_exact(&mut u32b)?;
    let file = u32::from_le_bytes(u32b);
    r.read_exact(&mut u64b)?;
    let line = u64::from_le_bytes(u64b);
    r.read_exact(&mut u64b)?;
    let record = u64::from_le_bytes(u64b);
    r.read_exact(&mut u16b)?;
    let rule = Rule::ALL.get(usize::from(u16::from_le_bytes(u16b))).copied().unwrap_or(Rule::ALL[0]);
    let mut text = |r: &mut dyn Read| -> std::io::Result<String> {
        r.read_exact(&mut u64b)?;
        let mut bytes = vec![0u8; u64::from_le_bytes(u64b) as usize];
        r.read_exact(&mut bytes)?;
        String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    };
    r.read_exact(&mut one)?;
    let field = if one[0] == 1 { Some(text(r)?) } else { None };
    let message = text(r)?;
    Ok(Some((u64::from_le_bytes(seq), Reject { origin: Origin { file, line, record }, field, rule, message })))
}

impl Extend<Reject> for RejectLog {
    fn extend<I: IntoIterator<Item = Reject>>(&mut self, rejects: I) {
        for r in rejects {
            self.push(r);
        }
    }
}

/// Creates the rejects directory.
pub fn ensure_dir(dir: &Path) -> Result<(), RejectsError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let probe = dir.join(".invoiceflow-write-test");
    File::create(&probe).and_then(|mut f| f.write_all(b"")).map_err(io(dir))?;
    let _ = fs::remove_file(probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rejects of random rows (files 0–3, records 1–40, so that rows repeat), rules and texts.
    fn random_rejects(seed: u64, n: usize) -> Vec<Reject> {
        let mut rng = crate::generate::Rng::new(seed);
        (0..n)
            .map(|k| {
                let record = rng.below(40) + 1;
                let origin = Origin { file: rng.below(4) as u32, line: record + 1, record };
                let rule = Rule::ALL[rng.below(Rule::ALL.len() as u64) as usize];
                let field = (rng.below(3) > 0).then(|| format!("Field{}", rng.below(9)));
                Reject::new(
                    origin,
                    field.as_deref(),
                    rule,
                    format!("reject {k}: {}", "é".repeat(rng.below(5) as usize)),
                )
            })
            .collect()
    }

    fn all(log: &mut RejectLog) -> Vec<Reject> {
        let mut sorted = log.sorted().unwrap();
        std::iter::from_fn(|| sorted.next_reject().unwrap()).collect()
    }

    /// A log that writes its rejects out gives back what a stable sort of everything logged
    /// gives, every time it is read; so does one that holds them all, and one log appended to
    /// another.
    #[test]
    fn rejects_written_out_come_back_as_a_stable_sort_of_them() {
        let first = random_rejects(1, 700);
        let second = random_rejects(2, 300);
        let mut expected: Vec<Reject> = first.iter().chain(&second).cloned().collect();
        expected.sort_by_key(|r| r.origin);
        for bound in [usize::MAX, 2_000, 1] {
            let mut log = RejectLog::with_bound(bound);
            log.extend(first.iter().cloned());
            let mut other = RejectLog::with_bound(bound);
            other.extend(second.iter().cloned());
            log.append(other).unwrap();
            // Written out when bounded, and never more runs than are merged at once.
            assert_eq!(!log.runs.is_empty(), bound < usize::MAX, "runs written at bound {bound}");
            assert!(log.runs.len() < MAX_RUNS, "{} runs", log.runs.len());
            assert!(bound != 1 || log.merges > 0, "a run per reject: merged");
            assert_eq!(all(&mut log), expected, "bound {bound}");
            assert_eq!(all(&mut log), expected, "read again, bound {bound}");
            assert_eq!(log.len(), 1_000);
            assert_eq!(log.per_file().values().sum::<u64>(), 1_000);
            let of_rule = |id: &str| expected.iter().filter(|r| r.rule.id() == id).count() as u64;
            assert!(log.per_rule().iter().all(|(id, n)| *n == of_rule(id)));
        }
    }

    /// The rejects of one file are taken in order, those of the files before it passed over,
    /// the first of the next file kept for it.
    #[test]
    fn the_rejects_of_one_file_are_taken_in_turn() {
        let rejects = random_rejects(3, 400);
        let mut log = RejectLog::with_bound(500);
        log.extend(rejects.iter().cloned());
        let mut sorted = log.sorted().unwrap();
        let mut of = |file| std::iter::from_fn(|| sorted.next_of(file).unwrap()).count();
        let count = |file| rejects.iter().filter(|r| r.origin.file == file).count();
        // File 0 is skipped: its rejects are passed over when file 1's are asked for.
        assert_eq!((of(1), of(2), of(3)), (count(1), count(2), count(3)));
        assert!(count(0) > 0 && count(1) > 0);
    }
}
