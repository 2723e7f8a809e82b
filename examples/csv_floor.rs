//! The floor for any importer: a bare `csv` loop over the same files (ByteRecord, no decoding,
//! no validation). Used by `benches/e2e.sh`.
//!
//! `cargo run --release --example csv_floor -- FILE...`
//! `cargo run --release --example csv_floor -- --tokenizer FILE...` walks the files with
//! invoiceflow's own tokenizer instead (the same records, into a batch store of 8,192 records
//! at a time, as the import reads them), for comparison.

use std::time::Instant;

use invoiceflow::read::records::{Records, Tokenizer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let ours = args.first().is_some_and(|a| a == "--tokenizer");
    if ours {
        args.remove(0);
    }
    let started = Instant::now();
    let mut records = 0u64;
    let mut fields = 0u64;
    let mut bytes = 0u64;
    for path in &args {
        if ours {
            let file = std::fs::File::open(path)?;
            let mut t = Tokenizer::new(Box::new(file), b',', b'"', u64::MAX);
            let mut store = Records::default();
            loop {
                store.clear();
                let mut more = true;
                while store.len() < 8192 {
                    if t.read_record(&mut store).map_err(|e| format!("{path}: {e:?}"))?.is_none() {
                        more = false;
                        break;
                    }
                }
                for i in 0..store.len() {
                    let r = store.get(i);
                    fields += r.len() as u64;
                    bytes += r.iter().map(|f| f.len() as u64).sum::<u64>();
                }
                records += store.len() as u64;
                if !more {
                    break;
                }
            }
            // The header row, which the csv loop does not count.
            records -= 1;
        } else {
            let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
            let mut rec = csv::ByteRecord::new();
            while reader.read_byte_record(&mut rec)? {
                records += 1;
                fields += rec.len() as u64;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if ours {
        println!("{{\"records\": {records}, \"fields\": {fields}, \"field_bytes\": {bytes}, \"seconds\": {secs:.3}}}");
    } else {
        println!("{{\"records\": {records}, \"fields\": {fields}, \"seconds\": {secs:.3}}}");
    }
    Ok(())
}
