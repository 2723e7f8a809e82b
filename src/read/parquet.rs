//! Parquet entity files, read batch by batch with the arrow reader. Every value is rendered
//! as text (decimals exactly, dates ISO) so that the same mapping and validation apply as for
//! CSV; a null is an empty field.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::{RawBatch, ReadError, RecordSource};

/// A Parquet file opened for reading.
pub struct ParquetSource {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    columns: Vec<String>,
    pending: Option<(RecordBatch, usize)>,
    rows_done: u64,
    total_rows: u64,
    total_bytes: u64,
    text: String,
}

impl ParquetSource {
    /// Opens `path` and reads its schema.
    pub fn open(path: &Path) -> Result<ParquetSource, ReadError> {
        let file = File::open(path).map_err(|source| ReadError::Io { path: path.to_path_buf(), source })?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let perr = |e: &dyn std::fmt::Display| ReadError::Parquet { path: path.to_path_buf(), message: e.to_string() };
        let opened = super::contain(|| {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
            let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
            let columns: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
            Ok::<_, parquet::errors::ParquetError>((builder.with_batch_size(8192).build()?, total_rows, columns))
        });
        let (reader, total_rows, columns) = opened.map_err(|m| perr(&corrupt(&m)))?.map_err(|e| perr(&e))?;
        Ok(ParquetSource {
            path: path.to_path_buf(),
            reader,
            columns,
            pending: None,
            rows_done: 0,
            total_rows,
            total_bytes,
            text: String::new(),
        })
    }
}

impl RecordSource for ParquetSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_batch(&mut self, batch: &mut RawBatch, max: usize) -> Result<bool, ReadError> {
        let path = self.path.clone();
        super::contain(|| self.fill(batch, max))
            .unwrap_or_else(|m| Err(ReadError::Parquet { path, message: corrupt(&m) }))
    }

    fn bytes_read(&self) -> u64 {
        if self.total_rows == 0 {
            return self.total_bytes;
        }
        (u128::from(self.total_bytes) * u128::from(self.rows_done.min(self.total_rows)) / u128::from(self.total_rows))
            as u64
    }

    fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    fn encoding(&self) -> &'static str {
        "Parquet"
    }
}

/// The message for a decoder that gave up on a corrupt file.
fn corrupt(decoder: &str) -> String {
    format!(
        "the file is corrupt (the Parquet decoder failed: {decoder}); write it again, or check it with another reader"
    )
}

impl ParquetSource {
    fn fill(&mut self, batch: &mut RawBatch, max: usize) -> Result<bool, ReadError> {
        batch.reset();
        let options = FormatOptions::default();
        while batch.len() < max {
            let (rb, offset) = match self.pending.take() {
                Some(p) => p,
                None => match self.reader.next() {
                    None => break,
                    Some(Ok(rb)) => (rb, 0),
                    Some(Err(e)) => return Err(ReadError::Parquet { path: self.path.clone(), message: e.to_string() }),
                },
            };
            let formatters = rb
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ReadError::Parquet { path: self.path.clone(), message: e.to_string() })?;
            let take = (rb.num_rows() - offset).min(max - batch.len());
            for row in offset..offset + take {
                batch.records.start_record();
                for f in &formatters {
                    self.text.clear();
                    // Writing into a String cannot fail.
                    let _ = write!(self.text, "{}", f.value(row));
                    batch.records.push_field(self.text.as_bytes());
                }
                self.rows_done += 1;
                batch.positions.push(super::Position { line: self.rows_done + 1, record: self.rows_done, byte: 0 });
            }
            let rows = rb.num_rows();
            drop(formatters);
            if offset + take < rows {
                self.pending = Some((rb, offset + take));
            }
        }
        Ok(!batch.is_empty())
    }
}
