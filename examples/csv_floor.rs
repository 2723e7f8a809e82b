//! The floor for any importer: a bare `csv` loop over the same files (ByteRecord, no decoding,
//! no validation). Used by `benches/e2e.sh`.
//!
//! `cargo run --release --example csv_floor -- FILE...`

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut records = 0u64;
    let mut fields = 0u64;
    for path in std::env::args().skip(1) {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(&path)?;
        let mut rec = csv::ByteRecord::new();
        while reader.read_byte_record(&mut rec)? {
            records += 1;
            fields += rec.len() as u64;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{{\"records\": {records}, \"fields\": {fields}, \"seconds\": {secs:.3}}}");
    Ok(())
}
