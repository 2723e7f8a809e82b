//! Parquet exports: decimals as exact Decimal128 with the entity's precision and scale, dates
//! as Date32, text dictionary-encoded by the writer where it pays, zstd, bounded row groups,
//! written batch by batch so memory stays flat in the number of rows.

use std::borrow::Cow;
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

use super::Sink;

/// Rows per record batch.
const BATCH: usize = 65_536;
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

/// A Parquet export being written.
pub struct ParquetSink {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    cols: Vec<Col>,
    names: Vec<String>,
    kinds: Vec<FieldType>,
    rows: usize,
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

fn builders(kinds: &[FieldType]) -> Result<Vec<Col>, String> {
    kinds
        .iter()
        .map(|ty| {
            Ok(match ty {
                FieldType::String { .. } | FieldType::Enum(_) => {
                    Col::Text(StringBuilder::with_capacity(BATCH, BATCH * 8))
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
        .collect()
}

impl ParquetSink {
    /// Starts a Parquet file for `entity`.
    pub fn new(file: File, entity: &Entity) -> Result<ParquetSink, String> {
        ParquetSink::with_text_columns(file, entity, &[])
    }

    /// Starts a Parquet file for `entity` in which the fields flagged in `as_text` are written
    /// as text whatever their type (for files that carry values their type cannot hold, such as
    /// defective test data: the reader then rejects them as it would in a CSV file).
    pub fn with_text_columns(file: File, entity: &Entity, as_text: &[bool]) -> Result<ParquetSink, String> {
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
        let schema = Arc::new(Schema::new(fields));
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP))
            .build();
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(|e| e.to_string())?;
        Ok(ParquetSink {
            writer,
            schema,
            cols: builders(&kinds)?,
            names: entity.fields.iter().map(|f| f.staging.clone()).collect(),
            kinds,
            rows: 0,
        })
    }

    fn flush_batch(&mut self) -> Result<(), String> {
        if self.rows == 0 {
            return Ok(());
        }
        let fresh = builders(&self.kinds)?;
        let arrays: Vec<ArrayRef> = std::mem::replace(&mut self.cols, fresh)
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
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays).map_err(|e| e.to_string())?;
        self.writer.write(&batch).map_err(|e| e.to_string())?;
        self.rows = 0;
        Ok(())
    }
}

/// Whether a non-empty text can be written into a column of type `ty` (what
/// [`ParquetSink::push`] accepts).
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

impl Sink for ParquetSink {
    fn push(&mut self, values: &[Option<Cow<'_, str>>]) -> Result<(), String> {
        for ((col, v), name) in self.cols.iter_mut().zip(values).zip(&self.names) {
            let v = v.as_deref().filter(|t| !t.is_empty());
            let bad = |what: &str| format!("column {name}: `{}` is not {what}", v.unwrap_or(""));
            match col {
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
                Col::Long(b) => {
                    b.append_option(v.map(|t| t.parse::<i64>().map_err(|_| bad("an integer"))).transpose()?)
                }
                Col::Date(b) => b.append_option(
                    v.map(|t| Date::parse_iso(t).map(|d| d.days_since_epoch()).ok_or_else(|| bad("a date")))
                        .transpose()?,
                ),
                Col::Bool(b) => b.append_option(v.map(|t| matches!(t, "Yes" | "true" | "1"))),
            }
        }
        self.rows += 1;
        if self.rows == BATCH {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<File, String> {
        self.flush_batch()?;
        self.writer.into_inner().map_err(|e| e.to_string())
    }
}
