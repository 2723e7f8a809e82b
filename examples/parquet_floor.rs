//! The floor for Parquet exports: what the Parquet writer alone (the `parquet` crate's
//! `ArrowWriter`, with the export's writer properties) costs to encode the rows of an export,
//! its Arrow batches built beforehand and nothing read from the store. Used by
//! `benches/e2e.sh` beside the Parquet export row, so that the part of its time that is the
//! encoder's is seen in the same run.
//!
//! `cargo run --release --example parquet_floor -- FILE.parquet` reads FILE (an export) into
//! memory, outside the timing, writes its batches again to a temporary file with the export's
//! properties from one thread (as the export does) and prints `{"rows": N, "seconds": S}`.

use std::fs::File;
use std::time::Instant;

use arrow_array::RecordBatchReader;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file] = args.as_slice() else {
        return Err("usage: parquet_floor FILE.parquet".into());
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(file)?)?.with_batch_size(65_536).build()?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let out = tempfile::NamedTempFile::new()?;
    let start = Instant::now();
    let mut writer = ArrowWriter::try_new(out.reopen()?, schema, Some(invoiceflow::export::parquet_properties()))?;
    for b in &batches {
        writer.write(b)?;
    }
    writer.close()?;
    println!("{{\"rows\": {rows}, \"seconds\": {:.3}}}", start.elapsed().as_secs_f64());
    Ok(())
}
