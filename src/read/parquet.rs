//! Parquet entity files, read batch by batch with the arrow reader. Every value is rendered
//! as text (decimals exactly, dates ISO) so that the same mapping and validation apply as for
//! CSV; a null is an empty field. Text is taken as it is, and whole numbers, decimals and dates
//! are written by the model's writers (those the exports use), which write what arrow's
//! formatter writes (a test holds them to it); other types go through that formatter.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Int32Type, Int64Type};
use arrow_array::{Array, PrimitiveArray, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

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

    /// Reads only the first `n` columns from here on (the others are not decoded): asked before
    /// the first batch, as the reading of the line keys asks. A file that cannot be opened again
    /// is read whole, as before.
    fn keep_fields(&mut self, n: usize) {
        if self.rows_done > 0 || self.pending.is_some() || n >= self.columns.len() {
            return;
        }
        let path = &self.path;
        let projected = super::contain(|| {
            let file = File::open(path).map_err(|e| parquet::errors::ParquetError::General(e.to_string()))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), 0..n);
            builder.with_projection(mask).with_batch_size(8192).build()
        });
        if let Ok(Ok(reader)) = projected {
            self.reader = reader;
        }
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
                .map(|c| Column::of(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ReadError::Parquet { path: self.path.clone(), message: e.to_string() })?;
            let take = (rb.num_rows() - offset).min(max - batch.len());
            for row in offset..offset + take {
                batch.records.start_record();
                for f in &formatters {
                    f.push(row, &mut self.text, &mut batch.records);
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

/// One column of a record batch as its values are written as text: the usual types straight
/// (text as it is, whole numbers, decimals, dates), the same text as arrow's formatter writes;
/// every other type through that formatter.
enum Column<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Int32(&'a PrimitiveArray<Int32Type>),
    Int64(&'a PrimitiveArray<Int64Type>),
    Decimal128(&'a PrimitiveArray<Decimal128Type>, i8),
    Date32(&'a PrimitiveArray<Date32Type>),
    Other(ArrayFormatter<'a>),
}

impl<'a> Column<'a> {
    fn of(array: &'a dyn Array, options: &FormatOptions<'a>) -> Result<Column<'a>, arrow_schema::ArrowError> {
        Ok(match array.data_type() {
            DataType::Utf8 => Column::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => Column::LargeUtf8(array.as_string::<i64>()),
            DataType::Int32 => Column::Int32(array.as_primitive()),
            DataType::Int64 => Column::Int64(array.as_primitive()),
            DataType::Decimal128(_, scale) => Column::Decimal128(array.as_primitive(), *scale),
            DataType::Date32 => Column::Date32(array.as_primitive()),
            _ => Column::Other(ArrayFormatter::try_new(array, options)?),
        })
    }

    /// Appends the text of value `row` to `records` as a field (a null is an empty field);
    /// `text` is room for writing it. Numbers and dates are written by the writers exports
    /// use, which write what arrow's formatter writes for them; a value outside what they hold
    /// (a decimal beyond 96 bits or with a scale beyond 28 or below 0, a date outside the
    /// years 0 to 9999) goes through the formatter.
    fn push(&self, row: usize, text: &mut String, records: &mut super::Records) {
        use crate::model::{decimal_text, write_int, Date};
        text.clear();
        match self {
            Column::Utf8(a) if a.is_valid(row) => records.push_field(a.value(row).as_bytes()),
            Column::LargeUtf8(a) if a.is_valid(row) => records.push_field(a.value(row).as_bytes()),
            Column::Int32(a) if a.is_valid(row) => {
                write_int(text, i64::from(a.value(row)));
                records.push_field(text.as_bytes());
            }
            Column::Int64(a) if a.is_valid(row) => {
                write_int(text, a.value(row));
                records.push_field(text.as_bytes());
            }
            Column::Decimal128(a, scale) if a.is_valid(row) => {
                let value = u32::try_from(*scale)
                    .ok()
                    .and_then(|s| rust_decimal::Decimal::try_from_i128_with_scale(a.value(row), s).ok());
                match value {
                    Some(d) => records.push_field(decimal_text(d).as_bytes()),
                    None => formatted(*a, row, text, records),
                }
            }
            Column::Date32(a) if a.is_valid(row) => {
                let days = a.value(row);
                if ISO_YEARS.contains(&days) {
                    Date::from_days_since_epoch(days).write_iso(text);
                    records.push_field(text.as_bytes());
                } else {
                    formatted(*a, row, text, records);
                }
            }
            // Nulls.
            Column::Utf8(_)
            | Column::LargeUtf8(_)
            | Column::Int32(_)
            | Column::Int64(_)
            | Column::Decimal128(..)
            | Column::Date32(_) => records.push_field(b""),
            Column::Other(f) => {
                // Writing into a String cannot fail (a value the formatter cannot write leaves
                // what it wrote so far, as before).
                let _ = write!(text, "{}", f.value(row));
                records.push_field(text.as_bytes());
            }
        }
    }
}

/// The days since 1970-01-01 of the years 0 to 9999 (0000-01-01 to 9999-12-31), which arrow's
/// formatter writes as `YYYY-MM-DD`, as [`crate::model::Date::write_iso`] does.
const ISO_YEARS: std::ops::RangeInclusive<i32> = -719_528..=2_932_896;

/// Value `row` of `array` through arrow's formatter.
fn formatted(array: &dyn Array, row: usize, text: &mut String, records: &mut super::Records) {
    text.clear();
    if let Ok(f) = ArrayFormatter::try_new(array, &FormatOptions::default()) {
        let _ = write!(text, "{}", f.value(row));
    }
    records.push_field(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The text every value of `array` gets here, and the text arrow's formatter gives it.
    fn both(array: &dyn Array) -> (Vec<String>, Vec<String>) {
        let options = FormatOptions::default();
        let column = Column::of(array, &options).unwrap();
        let formatter = ArrayFormatter::try_new(array, &options).unwrap();
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let mut text = String::new();
        for row in 0..array.len() {
            let mut records = super::super::Records::default();
            records.start_record();
            column.push(row, &mut text, &mut records);
            ours.push(String::from_utf8(records.get(0)[0].to_vec()).unwrap());
            theirs.push(formatter.value(row).to_string());
        }
        (ours, theirs)
    }

    /// Keeping the first fields reads the same values as a whole reading, and no others.
    #[test]
    fn a_reading_of_the_first_fields_gives_those_fields_of_every_record() {
        use arrow_array::{Decimal128Array, Int64Array, StringArray};
        let dir = tempfile::tempdir().unwrap();
        let parquet = dir.path().join("lines.parquet");
        let batch = RecordBatch::try_from_iter([
            ("a", Arc::new(Int64Array::from(vec![1, 2, 3])) as Arc<dyn Array>),
            ("b", Arc::new(StringArray::from(vec![Some("x"), Some("y, z"), None]))),
            ("c", Arc::new(Decimal128Array::from(vec![250, 375, 1]).with_precision_and_scale(10, 2).unwrap())),
            ("d", Arc::new(StringArray::from(vec![None, Some("q"), Some("r")]))),
        ])
        .unwrap();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(File::create(&parquet).unwrap(), batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let read = |keep: Option<usize>| {
            let mut source = ParquetSource::open(&parquet).unwrap();
            if let Some(n) = keep {
                source.keep_fields(n);
            }
            let mut batch = RawBatch::default();
            let mut rows: Vec<Vec<String>> = Vec::new();
            while source.next_batch(&mut batch, 2).unwrap() {
                for i in 0..batch.len() {
                    rows.push(batch.record(i).iter().map(|f| String::from_utf8(f.to_vec()).unwrap()).collect());
                }
            }
            rows
        };
        let whole = read(None);
        let first = read(Some(2));
        assert_eq!(whole.len(), 3);
        assert_eq!(first, whole.iter().map(|r| r[..2].to_vec()).collect::<Vec<_>>());
        assert_eq!(whole[1], ["2", "y, z", "3.75", "q"]);
        assert_eq!(first[2], ["3", ""]);
    }

    #[test]
    fn the_usual_types_are_written_as_arrows_formatter_writes_them() {
        use arrow_array::{Date32Array, Decimal128Array, Int32Array, Int64Array, LargeStringArray, StringArray};
        let mut rng = crate::generate::Rng::new(3);
        let mut wholes: Vec<Option<i64>> =
            vec![None, Some(0), Some(-1), Some(1), Some(9), Some(10), Some(-10), Some(i64::MAX), Some(i64::MIN)];
        let mut decimals: Vec<Option<i128>> = vec![
            None,
            Some(0),
            Some(5),
            Some(-5),
            Some(123_456),
            Some(-123_456),
            Some(1_000_000),
            Some(i128::from(i64::MAX)),
            Some(i128::from(i64::MIN)),
            Some(i128::from(i64::MIN) + 1),
            Some(i128::from(i64::MAX) + 1),
            Some(-99_999_999_999_999_999_999_999_999_999_999),
        ];
        for _ in 0..5_000 {
            let magnitude = 10i64.pow(rng.below(18) as u32 + 1);
            let v = rng.below(magnitude as u64) as i64 * if rng.below(2) == 0 { -1 } else { 1 };
            wholes.push(Some(v));
            decimals.push(Some(i128::from(v)));
        }
        let mut checked = 0;
        let ints: Vec<Option<i32>> = wholes.iter().map(|v| v.map(|v| v as i32)).collect();
        for array in [Arc::new(Int32Array::from(ints)) as Arc<dyn Array>, Arc::new(Int64Array::from(wholes.clone()))] {
            let (ours, theirs) = both(array.as_ref());
            assert_eq!(ours, theirs);
            checked += ours.len();
        }
        for scale in [-3i8, -1, 0, 1, 2, 6, 10, 18, 19, 30, 38] {
            let precision = 38;
            let array = Decimal128Array::from(decimals.clone()).with_precision_and_scale(precision, scale).unwrap();
            let (ours, theirs) = both(&array);
            assert_eq!(ours, theirs, "scale {scale}");
            checked += ours.len();
        }
        let mut days: Vec<Option<i32>> = vec![
            None,
            Some(0),
            Some(-1),
            Some(-719_162),
            Some(-719_163),
            Some(2_932_896),
            Some(2_932_897),
            Some(i32::MIN),
        ];
        days.extend((0..5_000).map(|_| Some(rng.below(4_000_000) as i32 - 1_000_000)));
        let (ours, theirs) = both(&Date32Array::from(days));
        assert_eq!(ours, theirs);
        checked += ours.len();
        let texts = vec![None, Some(""), Some("Bike lock, steel"), Some("Größe \"L\"")];
        for array in
            [Arc::new(StringArray::from(texts.clone())) as Arc<dyn Array>, Arc::new(LargeStringArray::from(texts))]
        {
            let (ours, theirs) = both(array.as_ref());
            assert_eq!(ours, theirs);
            checked += ours.len();
        }
        assert_eq!(checked, 2 * 5_009 + 11 * 5_012 + 5_008 + 2 * 4);
    }
}
