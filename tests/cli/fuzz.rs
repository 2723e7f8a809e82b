//! No panic on any input: random bytes and random mutations of a valid file go through the
//! readers, mapping, validation and rejects writing; the run either finishes with every row
//! accounted for, or stops with an error.

use std::path::Path;

use proptest::prelude::*;

use invoiceflow::entity::Catalog;
use invoiceflow::model::Date;
use invoiceflow::pipeline::{self, ImportRequest, InputFile, Push};

use crate::{fixture, root};

fn run_on(bytes: &[u8], name: &str, entity: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let other = if entity == "SalesInvoiceJournalHeader" {
        ("BusinessDocumentSalesInvoiceLineItem", fixture("base/lines.csv"))
    } else {
        ("SalesInvoiceJournalHeader", fixture("base/headers.csv"))
    };
    let req = ImportRequest {
        files: vec![
            InputFile { entity: entity.into(), path: path.clone(), mapping: None, push: Push::Full },
            InputFile { entity: other.0.into(), path: other.1, mapping: None, push: Push::Full },
        ],
        master_dir: root().join("samples/master"),
        legal_entity: "DEMF".into(),
        rejects_dir: Some(dir.path().join("rejects")),
        batch_size: 7,
        run_date: Date::from_ymd(2024, 6, 1).unwrap(),
        progress: false,
        post: None,
    };
    if let Ok(out) = pipeline::import(&req, Catalog::builtin()) {
        for f in out.imports.iter().chain(&out.master) {
            assert_eq!(f.read, f.accepted + f.rejected, "{f:?}");
        }
        let rejected: u64 = out.imports.iter().map(|f| f.rejected).sum();
        assert!(rejected <= out.imports.iter().map(|f| f.read).sum::<u64>());
    }
}

fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(pos, op, byte) in edits {
        if v.is_empty() {
            v.push(byte);
            continue;
        }
        let p = pos % v.len();
        match op % 4 {
            0 => v[p] = byte,
            1 => v.insert(p, byte),
            2 => {
                v.remove(p);
            }
            _ => v.insert(p, [b'"', b',', b'\n', b'\r', 0xFF][usize::from(byte) % 5]),
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        run_on(&bytes, "h.csv", "SalesInvoiceJournalHeader");
        run_on(&bytes, "l.parquet", "BusinessDocumentSalesInvoiceLineItem");
    }

    #[test]
    fn mutated_valid_files_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..12)) {
        let headers = std::fs::read(fixture("base/headers.csv")).unwrap();
        run_on(&mutate(&headers, &edits), "h.csv", "SalesInvoiceJournalHeader");
        let lines = std::fs::read(fixture("formats/lines_quoted.csv")).unwrap();
        run_on(&mutate(&lines, &edits), "l.csv", "BusinessDocumentSalesInvoiceLineItem");
        let utf16 = std::fs::read(fixture("formats/headers_utf16le.csv")).unwrap();
        run_on(&mutate(&utf16, &edits), "u.csv", "SalesInvoiceJournalHeader");
    }
}

#[test]
fn a_parquet_file_that_is_not_parquet_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.parquet");
    std::fs::write(&p, b"DATAAREAID,INVOICENUMBER\n").unwrap();
    let err = invoiceflow::read::parquet::ParquetSource::open(Path::new(&p)).err().unwrap();
    assert!(err.to_string().contains("not a readable Parquet file"), "{err}");
}
