//! Parquet exports: decimals as exact Decimal128 with the entity's precision and scale, dates
//! as Date32, values dictionary-encoded while the dictionary stays small, zstd, bounded row
//! groups, written batch by batch so memory stays flat in the number of rows. Batches are built
//! ([`BatchBuilder`], on any thread) apart from the writer that encodes them ([`Shape::writer`]).

use std::fs::File;
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int32Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rust_decimal::Decimal;

use crate::entity::{Entity, FieldType};
use crate::model::Date;

use super::value::{Scratch, Value};
use super::Sink;

/// Rows per record batch.
pub const BATCH: usize = 65_536;
/// Rows per row group.
const ROW_GROUP: usize = 262_144;

enum Col {
    Text(StringBuilder),
    Decimal(Decimal128Builder, u32),
    Int(Int32Builder),
    Long(Int64Builder),
    Date(Date32Builder),
    Bool(BooleanBuilder),
}

/// The shape of a Parquet export: its schema and the type of each column.
#[derive(Debug, Clone)]
pub struct Shape {
    schema: SchemaRef,
    kinds: Vec<FieldType>,
    names: Vec<String>,
}

fn data_type(ty: &FieldType) -> DataType {
    match ty {
        FieldType::String { .. } | FieldType::Enum(_) => DataType::Utf8,
        FieldType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale as i8),
        FieldType::Int => DataType::Int32,
        FieldType::Int64 => DataType::Int64,
        FieldType::Date => DataType::Date32,
        FieldType::Bool => DataType::Boolean,
    }
}

impl Shape {
    /// The shape of `entity`'s exports.
    pub fn new(entity: &Entity) -> Shape {
        Shape::with_text_columns(entity, &[])
    }

    /// The shape of a file of `entity` in which the fields flagged in `as_text` are text
    /// whatever their type (for files that carry values their type cannot hold, such as
    /// defective test data: the reader then rejects them as it would in a CSV file).
    pub fn with_text_columns(entity: &Entity, as_text: &[bool]) -> Shape {
        let text = FieldType::String { max: u32::MAX };
        let kinds: Vec<FieldType> = entity
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| if as_text.get(i).copied().unwrap_or(false) { text.clone() } else { f.ty.clone() })
            .collect();
        let fields: Vec<Field> = entity
            .fields
            .iter()
            .zip(&kinds)
            .map(|(f, ty)| Field::new(f.staging.clone(), data_type(ty), !f.required))
            .collect();
        Shape {
            schema: Arc::new(Schema::new(fields)),
            kinds,
            names: entity.fields.iter().map(|f| f.staging.clone()).collect(),
        }
    }

    /// The writer of a file of this shape, with [`properties`].
    pub fn writer(&self, file: File) -> Result<ArrowWriter<File>, String> {
        ArrowWriter::try_new(file, Arc::clone(&self.schema), Some(properties())).map_err(|e| e.to_string())
    }

    /// Builders for one batch; text column `k`'s bytes sized as `text_bytes[k]` (by a batch
    /// before, [`text_bytes`]), so that they seldom grow by copying.
    pub fn batch(&self, text_bytes: &[usize]) -> Result<BatchBuilder<'_>, String> {
        let cols = self
            .kinds
            .iter()
            .enumerate()
            .map(|(k, ty)| {
                Ok(match ty {
                    FieldType::String { .. } | FieldType::Enum(_) => {
                        let bytes = text_bytes.get(k).map_or(BATCH * 8, |b| b + b / 8);
                        Col::Text(StringBuilder::with_capacity(BATCH, bytes))
                    }
                    FieldType::Decimal { precision, scale } => Col::Decimal(
                        Decimal128Builder::with_capacity(BATCH)
                            .with_precision_and_scale(*precision, *scale as i8)
                            .map_err(|e| e.to_string())?,
                        u32::from(*scale),
                    ),
                    FieldType::Int => Col::Int(Int32Builder::with_capacity(BATCH)),
                    FieldType::Int64 => Col::Long(Int64Builder::with_capacity(BATCH)),
                    FieldType::Date => Col::Date(Date32Builder::with_capacity(BATCH)),
                    FieldType::Bool => Col::Bool(BooleanBuilder::with_capacity(BATCH)),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(BatchBuilder { shape: self, cols })
    }
}

/// The writer properties of every Parquet export: zstd, row groups of 262,144 rows, and a
/// column's values dictionary-encoded while its dictionary stays within 16 KiB in a row group.
pub fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_dictionary_page_size_limit(DICTIONARY_PAGE)
        .build()
}

/// The largest dictionary page of a column chunk (16 KiB). Codes, units, currencies and the
/// like keep their dictionary; a column of (nearly) distinct values — numbers, names, record
/// ids — gives it up after a few thousand rows rather than after the writer's default 1 MiB,
/// which it filled and hashed for nothing: 12 % less file on 1M lines of the line entity, 7 %
/// fewer instructions on 10k (BENCHMARKS.md).
const DICTIONARY_PAGE: usize = 16 << 10;

/// The bytes of each text column of a batch (0 for other columns).
pub fn text_bytes(batch: &RecordBatch) -> Vec<usize> {
    batch
        .columns()
        .iter()
        .map(|c| c.as_any().downcast_ref::<arrow_array::StringArray>().map_or(0, |a| a.values().len()))
        .collect()
}

/// The rows of one record batch being laid into Arrow builders.
pub struct BatchBuilder<'s> {
    shape: &'s Shape,
    cols: Vec<Col>,
}

impl BatchBuilder<'_> {
    /// The batch.
    pub fn finish(self) -> Result<RecordBatch, String> {
        let arrays: Vec<ArrayRef> = self
            .cols
            .into_iter()
            .map(|c| -> ArrayRef {
                match c {
                    Col::Text(mut b) => Arc::new(b.finish()),
                    Col::Decimal(mut b, _) => Arc::new(b.finish()),
                    Col::Int(mut b) => Arc::new(b.finish()),
                    Col::Long(mut b) => Arc::new(b.finish()),
                    Col::Date(mut b) => Arc::new(b.finish()),
                    Col::Bool(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        RecordBatch::try_new(Arc::clone(&self.shape.schema), arrays).map_err(|e| e.to_string())
    }
}

/// Whether a non-empty text can be written into a column of type `ty` (what
/// [`BatchBuilder`] accepts as text).
pub fn fits(ty: &FieldType, text: &str) -> bool {
    match ty {
        FieldType::String { .. } | FieldType::Enum(_) | FieldType::Bool => true,
        FieldType::Decimal { scale, .. } => Decimal::from_str(text).is_ok_and(|mut d| {
            d.rescale(u32::from(*scale));
            d.scale() == u32::from(*scale)
        }),
        FieldType::Int => text.parse::<i32>().is_ok(),
        FieldType::Int64 => text.parse::<i64>().is_ok(),
        FieldType::Date => Date::parse_iso(text).is_some(),
    }
}

/// A decimal's mantissa at `scale`, when that is exact without rounding and within the 96 bits
/// of a decimal (else the caller takes `Decimal::rescale`'s path and its verdict).
fn mantissa_at(d: &Decimal, scale: u32) -> Option<i128> {
    let from = d.scale();
    if from > scale {
        return None;
    }
    let m = d.mantissa().checked_mul(10i128.checked_pow(scale - from)?)?;
    (m.unsigned_abs() < 1u128 << 96).then_some(m)
}

impl BatchBuilder<'_> {
    /// Appends a value given as text (how values of another type than their column's arrive).
    fn text_value(&mut self, k: usize, v: Option<&str>) -> Result<(), String> {
        let v = v.filter(|t| !t.is_empty());
        let name = &self.shape.names[k];
        let bad = |what: &str| format!("column {name}: `{}` is not {what}", v.unwrap_or(""));
        match &mut self.cols[k] {
            Col::Text(b) => b.append_option(v),
            Col::Decimal(b, scale) => match v {
                None => b.append_null(),
                Some(t) => {
                    let mut d = Decimal::from_str(t).map_err(|_| bad("a decimal"))?;
                    d.rescale(*scale);
                    if d.scale() != *scale {
                        return Err(bad("representable at the column's scale"));
                    }
                    b.append_value(d.mantissa());
                }
            },
            Col::Int(b) => b.append_option(v.map(|t| t.parse::<i32>().map_err(|_| bad("an integer"))).transpose()?),
            Col::Long(b) => b.append_option(v.map(|t| t.parse::<i64>().map_err(|_| bad("an integer"))).transpose()?),
            Col::Date(b) => b.append_option(
                v.map(|t| Date::parse_iso(t).map(|d| d.days_since_epoch()).ok_or_else(|| bad("a date"))).transpose()?,
            ),
            Col::Bool(b) => b.append_option(v.map(|t| matches!(t, "Yes" | "true" | "1"))),
        }
        Ok(())
    }
}

impl Sink for BatchBuilder<'_> {
    fn value(&mut self, k: usize, v: &Value<'_>) -> Result<(), String> {
        // The typed paths; any other pairing goes through the value's text, as it would from
        // a CSV file, with the same verdicts.
        match (&mut self.cols[k], v) {
            (Col::Text(b), Value::Text(t)) => {
                b.append_option(Some(*t).filter(|t| !t.is_empty()));
                return Ok(());
            }
            (Col::Decimal(b, scale), Value::Dec(d)) => {
                if let Some(m) = mantissa_at(d, *scale) {
                    b.append_value(m);
                    return Ok(());
                }
            }
            (Col::Int(b), Value::Int(i)) => {
                if let Ok(i) = i32::try_from(*i) {
                    b.append_value(i);
                    return Ok(());
                }
            }
            (Col::Long(b), Value::Int(i)) => {
                b.append_value(*i);
                return Ok(());
            }
            (col, Value::Null) => {
                match col {
                    Col::Text(b) => b.append_null(),
                    Col::Decimal(b, _) => b.append_null(),
                    Col::Int(b) => b.append_null(),
                    Col::Long(b) => b.append_null(),
                    Col::Date(b) => b.append_null(),
                    Col::Bool(b) => b.append_null(),
                }
                return Ok(());
            }
            _ => {}
        }
        let mut scratch = Scratch::new();
        self.text_value(k, v.text(&mut scratch))
    }

    fn end_row(&mut self) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::Catalog;
    use arrow_array::{Array, BooleanArray, Date32Array, Decimal128Array, Int32Array, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    const ENTITY: &str = r#"
version = 1
name = "Probe"
label = "Probe"
kind = "master"
description = "Every column type."
key = ["Name"]

[[field]]
name = "Name"
type = "string(10)"

[[field]]
name = "Amount"
type = "decimal(9,2)"

[[field]]
name = "Count"
type = "int"

[[field]]
name = "Day"
type = "date"

[[field]]
name = "Flag"
type = "bool"
"#;

    fn write(rows: &[[Value<'_>; 5]]) -> Result<RecordBatch, String> {
        let catalog = Catalog::from_sources([("Probe.toml", ENTITY)]).unwrap();
        let entity = catalog.get("Probe").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.parquet");
        let shape = Shape::new(entity);
        let mut batch = shape.batch(&[])?;
        for row in rows {
            for (k, v) in row.iter().enumerate() {
                batch.value(k, v)?;
            }
            batch.end_row()?;
        }
        let mut writer = shape.writer(File::create(&path).unwrap())?;
        writer.write(&batch.finish()?).map_err(|e| e.to_string())?;
        writer.close().map_err(|e| e.to_string())?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap().build().unwrap();
        let mut batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches.len(), 1);
        Ok(batches.remove(0))
    }

    #[test]
    fn typed_values_and_text_land_in_their_columns() {
        let mut negative_zero = Decimal::new(0, 2);
        negative_zero.set_sign_negative(true);
        let batch = write(&[
            [
                Value::Text("a"),
                Value::Dec(Decimal::new(15, 1)),
                Value::Int(3),
                Value::Text("2026-01-31"),
                Value::Text("Yes"),
            ],
            [Value::Null, Value::Dec(negative_zero), Value::Dec(Decimal::new(7, 0)), Value::Null, Value::Null],
            [
                Value::Int(12),
                Value::Text("2.25"),
                Value::Text(""),
                Value::Owned("2026-02-01".into()),
                Value::Text("No"),
            ],
        ])
        .unwrap();
        let col = |i: usize| batch.column(i).clone();
        let names = col(0);
        let names = names.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((names.value(0), names.is_null(1), names.value(2)), ("a", true, "12"));
        let amounts = col(1);
        let amounts = amounts.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!((amounts.value(0), amounts.value(1), amounts.value(2)), (150, 0, 225));
        let counts = col(2);
        let counts = counts.as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!((counts.value(0), counts.value(1), counts.is_null(2)), (3, 7, true));
        let days = col(3);
        let days = days.as_any().downcast_ref::<Date32Array>().unwrap();
        assert_eq!((days.value(0), days.is_null(1), days.value(2)), (20_484, true, 20_485));
        let flags = col(4);
        let flags = flags.as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!((flags.value(0), flags.is_null(1), flags.value(2)), (true, true, false));
    }

    /// A column of few values keeps its dictionary; one of distinct values gives it up (plain
    /// pages after the dictionary page) once the dictionary passes [`DICTIONARY_PAGE`].
    #[test]
    fn only_columns_of_few_values_stay_dictionary_encoded() {
        use parquet::basic::Encoding;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let catalog = Catalog::from_sources([("Probe.toml", ENTITY)]).unwrap();
        let shape = Shape::new(catalog.get("Probe").unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.parquet");
        let mut batch = shape.batch(&[]).unwrap();
        let names: Vec<String> = (0..10_000).map(|i| format!("N{i:07}")).collect();
        for (i, name) in names.iter().enumerate() {
            batch.value(0, &Value::Text(name)).unwrap();
            batch.value(1, &Value::Dec(Decimal::new(i as i64 % 3, 2))).unwrap();
            for k in 2..5 {
                batch.value(k, &Value::Null).unwrap();
            }
        }
        let mut writer = shape.writer(File::create(&path).unwrap()).unwrap();
        writer.write(&batch.finish().unwrap()).unwrap();
        writer.close().unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        // The encodings of a column's data pages (its dictionary page, if any, is plain).
        let data_pages = |c: usize| {
            let pages = reader.get_row_group(0).unwrap().get_column_page_reader(c).unwrap();
            let mut e: Vec<Encoding> = pages
                .map(Result::unwrap)
                .filter(|p| !matches!(p, parquet::column::page::Page::DictionaryPage { .. }))
                .map(|p| p.encoding())
                .collect();
            e.sort_by_key(|e| *e as u8);
            e.dedup();
            e
        };
        // 10,000 names of 8 bytes: an 80 KB dictionary, past the limit.
        assert_eq!(data_pages(0), [Encoding::PLAIN, Encoding::RLE_DICTIONARY]);
        // Three amounts: dictionary only.
        assert_eq!(data_pages(1), [Encoding::RLE_DICTIONARY]);
    }

    #[test]
    fn a_value_its_column_cannot_hold_is_refused_with_its_text() {
        let row =
            |count: Value<'static>, amount: Value<'static>| [Value::Text("a"), amount, count, Value::Null, Value::Null];
        let err = write(&[row(Value::Int(3_000_000_000), Value::Null)]).unwrap_err();
        assert_eq!(err, "column COUNT: `3000000000` is not an integer");
        let err = write(&[row(Value::Dec(Decimal::new(15, 1)), Value::Null)]).unwrap_err();
        assert_eq!(err, "column COUNT: `1.5` is not an integer");
        let err = write(&[row(Value::Null, Value::Text("1,5"))]).unwrap_err();
        assert_eq!(err, "column AMOUNT: `1,5` is not a decimal");
        let err = write(&[row(Value::Null, Value::Dec(Decimal::MAX))]).unwrap_err();
        assert_eq!(err, "column AMOUNT: `79228162514264337593543950335` is not representable at the column's scale");
        // A decimal of a lower scale is scaled up exactly.
        let batch = write(&[row(Value::Null, Value::Dec(Decimal::new(10_000_000, 0)))]).unwrap();
        let amounts = batch.column(1).clone();
        assert_eq!(amounts.as_any().downcast_ref::<Decimal128Array>().unwrap().value(0), 1_000_000_000);
    }
}
