//! Rejects files: for each input file with rejected rows, `<name>.rejects.csv` holds the
//! original columns of every rejected row plus `file`, `line`, `field`, `rule`, `message`; and
//! `rejects.csv` lists all rejects of the run (without the original columns). Files are
//! written to a temp file, synced and renamed, so a reader never sees half a file.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::read::{self, RawBatch, ReadError};
use crate::validate::Reject;

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
    /// Its rejects, sorted by record number.
    pub rejects: Vec<&'a Reject>,
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
/// streaming, up to the last rejected record). Returns the path written.
pub fn write_file_rejects(dir: &Path, src: &RejectSource<'_>, file_label: &str) -> Result<PathBuf, RejectsError> {
    let out = dir.join(rejects_name(src.path));
    let mut source = read::open(src.path, src.csv)?;
    let columns = source.columns().to_vec();
    let by_record: HashMap<u64, &Reject> = src.rejects.iter().map(|r| (r.origin.record, *r)).collect();
    let last = src.rejects.iter().map(|r| r.origin.record).max().unwrap_or(0);
    let mut result: Result<(), RejectsError> = Ok(());
    write_atomically(&out, |w| {
        let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(w);
        let mut header: Vec<&str> = columns.iter().map(String::as_str).collect();
        header.extend(["file", "line", "field", "rule", "message"]);
        csv.write_record(&header)?;
        let mut batch = RawBatch::default();
        'outer: loop {
            match source.next_batch(&mut batch, 4096) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
            for (rec, (_, record_no)) in batch.iter() {
                if record_no > last {
                    break 'outer;
                }
                if let Some(r) = by_record.get(&record_no) {
                    let mut row: Vec<Vec<u8>> = rec.iter().map(<[u8]>::to_vec).collect();
                    row.resize(columns.len().max(row.len()), Vec::new());
                    row.push(file_label.as_bytes().to_vec());
                    row.push(r.origin.line.to_string().into_bytes());
                    row.push(r.field.clone().unwrap_or_default().into_bytes());
                    row.push(r.rule.id().as_bytes().to_vec());
                    row.push(r.message.clone().into_bytes());
                    csv.write_record(&row)?;
                }
            }
        }
        csv.flush()?;
        Ok(())
    })?;
    result.map(|()| out)
}

/// Writes `rejects.csv`: every reject of the run, in file and line order.
pub fn write_index(dir: &Path, files: &[String], rejects: &[&Reject]) -> Result<PathBuf, RejectsError> {
    let out = dir.join("rejects.csv");
    write_atomically(&out, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(["file", "line", "field", "rule", "message"])?;
        for r in rejects {
            let file = files.get(r.origin.file as usize).map(String::as_str).unwrap_or("");
            csv.write_record([
                file,
                &r.origin.line.to_string(),
                r.field.as_deref().unwrap_or(""),
                r.rule.id(),
                &r.message,
            ])?;
        }
        csv.flush()?;
        Ok(())
    })?;
    Ok(out)
}

/// Creates the rejects directory.
pub fn ensure_dir(dir: &Path) -> Result<(), RejectsError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let probe = dir.join(".invoiceflow-write-test");
    File::create(&probe).and_then(|mut f| f.write_all(b"")).map_err(io(dir))?;
    let _ = fs::remove_file(probe);
    Ok(())
}
