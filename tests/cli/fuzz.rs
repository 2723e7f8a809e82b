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
            InputFile { entity: entity.into(), path: path.clone(), mapping: None, push: Push::Replace },
            InputFile { entity: other.0.into(), path: other.1, mapping: None, push: Push::Replace },
        ],
        master_dir: root().join("samples/master"),
        legal_entity: "DEMF".into(),
        rejects_dir: Some(dir.path().join("rejects")),
        rejects_like_source: false,
        batch_size: 7,
        run_date: Date::from_ymd(2024, 6, 1).unwrap(),
        progress: false,
        post: None,
        master_mappings: Vec::new(),
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
        // An uncompressed Parquet file (written by pyarrow): mutations reach the page decoders.
        let parquet = std::fs::read(fixture("parquet/lines_uncompressed.parquet")).unwrap();
        let flips: Vec<(usize, u8, u8)> = edits.iter().map(|&(p, _, b)| (p, 0, b)).collect();
        run_on(&mutate(&parquet, &flips), "l.parquet", "BusinessDocumentSalesInvoiceLineItem");
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

/// Corrupt Parquet files on which the decoder panics (found by mutating valid files): each is
/// a clean fatal error that names the file, never a crash.
#[test]
fn corrupt_parquet_files_are_a_clean_error_naming_the_file() {
    for (name, decoder) in [
        ("corrupt_negative_offset.parquet", "column start and length should not be negative"),
        ("corrupt_divide_by_zero.parquet", "attempt to divide by zero"),
        ("corrupt_unwrap.parquet", "called `Option::unwrap()` on a `None` value"),
        ("corrupt_page_range.parquet", "out of range for slice"),
        ("corrupt_offset_len.parquet", "offset + len out of bounds"),
    ] {
        let file = fixture(&format!("parquet/{name}"));
        let run = crate::invoiceflow(&[
            "import",
            "--dry-run",
            "--quiet",
            "--master",
            &root().join("samples/master").display().to_string(),
            &format!("SalesInvoiceJournalHeader={}", fixture("base/headers.csv").display()),
            &format!("BusinessDocumentSalesInvoiceLineItem={}", file.display()),
        ]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        let expected = format!("{}: not a readable Parquet file: the file is corrupt", file.display());
        assert!(run.stderr.contains(&expected), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(decoder), "{name}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
    }
}

/// The XML documents of the snapshots (what invoiceflow writes), without the snapshot header.
fn xml_documents() -> Vec<String> {
    let dir = root().join("tests/cli/snapshots");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        if let Some(i) = text.find("<?xml") {
            out.push(text[i..].to_string());
        }
    }
    out.sort();
    assert_eq!(out.len(), 3);
    out
}

/// Numbers that break careless arithmetic: the largest decimal, the smallest step, zero,
/// negatives, and values beyond what a decimal holds.
const EXTREMES: &[&str] = &[
    "79228162514264337593543950335",
    "-79228162514264337593543950335",
    "0.0000000000000000000000000001",
    "0",
    "-0.00",
    "99999999999999999999999999.999999",
    "792281625142643375935439503350",
    "1e28",
    "NaN",
];

/// Replaces the `nth` number between `>` and `<` in `xml` by `value`.
fn replace_number(xml: &str, nth: usize, value: &str) -> String {
    let spans: Vec<(usize, usize)> = xml
        .match_indices('>')
        .filter_map(|(i, _)| {
            let end = i + 1 + xml[i + 1..].find('<')?;
            let t = &xml[i + 1..end];
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')).then_some((i + 1, end))
        })
        .collect();
    let (a, b) = spans[nth % spans.len()];
    format!("{}{value}{}", &xml[..a], &xml[b..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The e-invoice reader and checker on mutated documents: findings or a clean error.
    #[test]
    fn mutated_einvoices_never_panic(
        doc in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..8),
        numbers in proptest::collection::vec((any::<usize>(), 0usize..EXTREMES.len()), 0..4),
    ) {
        let mut xml = xml_documents()[doc].clone();
        for (nth, v) in numbers {
            xml = replace_number(&xml, nth, EXTREMES[v]);
        }
        let bytes = mutate(xml.as_bytes(), &edits);
        let checked = invoiceflow::einvoice::check_bytes("x.xml", &bytes);
        prop_assert!(checked.ok || !checked.findings.is_empty());
    }

    /// Documents with runs of nested elements (some deeper than the reader's limit) and of
    /// siblings inserted under the root: never a crash (a stack overflow would abort the whole
    /// test process), the depth finding exactly when the nesting passes the limit, and
    /// otherwise the findings of the document without them (the model ignores those elements)
    /// and, in a PEPPOL document, the empty elements' PEPPOL-EN16931-R008.
    #[test]
    fn deep_and_wide_documents_are_checked_or_refused(
        doc in 0usize..3,
        runs in proptest::collection::vec((prop_oneof![1usize..40, 150usize..260, 1000usize..3000], 0usize..2000, 0usize..3), 1..4),
    ) {
        let xml = xml_documents()[doc].clone();
        let before = invoiceflow::einvoice::check_bytes("x.xml", xml.as_bytes());
        let mut fragment = String::new();
        for &(depth, width, tag) in &runs {
            // Prefixed names with their namespace declared (an undeclared prefix is not
            // namespace-well-formed: the document would be refused for that alone).
            let (tag, declaration) = [
                ("a", ""),
                ("ext:Deep", " xmlns:ext=\"urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2\""),
                ("cbc:Unknown", " xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\""),
            ][tag];
            fragment.push_str(&format!("<{tag}{declaration}>").repeat(depth));
            fragment.push_str(&"<w/>".repeat(width));
            fragment.push_str(&format!("</{tag}>").repeat(depth));
        }
        let end = xml.rfind("</").unwrap();
        let bytes = format!("{}{fragment}{}", &xml[..end], &xml[end..]);
        let checked = invoiceflow::einvoice::check_bytes("x.xml", bytes.as_bytes());
        // The root is level 1: a run of `depth` nested elements under it reaches 1 + depth.
        let deepest = 1 + runs.iter().map(|r| r.0).max().unwrap();
        if deepest > invoiceflow::einvoice::read::MAX_DEPTH {
            prop_assert_eq!(checked.findings.len(), 1);
            prop_assert_eq!(&checked.findings[0].0, "XML");
            prop_assert!(checked.findings[0].1.starts_with("elements nest deeper than 200 levels (at <"), "{}", checked.findings[0].1);
        } else {
            // Empty elements break PEPPOL-EN16931-R008 (the UBL documents are PEPPOL's), and
            // elements the schema does not have break it (`XSD`, UBL and CII alike); the rest
            // is what the document without them gives.
            let peppol = xml.contains("urn:fdc:peppol.eu:2017:poacc:billing:3.0");
            let r008 = checked.findings.iter().any(|(r, _)| r == "PEPPOL-EN16931-R008");
            prop_assert_eq!(r008, peppol);
            let xsd: Vec<_> = checked.findings.iter().filter(|(r, _)| r == "XSD").collect();
            prop_assert!(!xsd.is_empty());
            let name = ["a", "Deep", "Unknown"][runs[0].2];
            prop_assert!(xsd[0].1.ends_with(&format!("<{name}> is not an element the schema allows here")), "{}", xsd[0].1);
            let rest: Vec<_> =
                checked.findings.into_iter().filter(|(r, _)| r != "PEPPOL-EN16931-R008" && r != "XSD").collect();
            prop_assert_eq!(rest, before.findings);
        }
    }

    /// Mapping files and job files with random edits load or fail with a message.
    #[test]
    fn mutated_mapping_and_job_files_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..10)) {
        let dir = tempfile::tempdir().unwrap();
        for m in ["mappings/legacy-de.toml", "mappings/legacy-us.toml"] {
            let path = dir.path().join("m.toml");
            std::fs::write(&path, mutate(&std::fs::read(root().join(m)).unwrap(), &edits)).unwrap();
            if let Err(e) = invoiceflow::map::Mapping::load(&path, Catalog::builtin()) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
        let job = dir.path().join("samples/job.toml");
        std::fs::create_dir_all(job.parent().unwrap()).unwrap();
        std::fs::write(&job, mutate(&std::fs::read(root().join("samples/job.toml")).unwrap(), &edits)).unwrap();
        if let Err(e) = invoiceflow::job::Job::load(&job, Catalog::builtin()) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// Posting arithmetic on extreme values: every invoice is posted (pro forma) or rejected,
    /// every row accounted for, nothing panics.
    #[test]
    fn extreme_amounts_are_posted_or_rejected(values in proptest::collection::vec(0usize..EXTREMES.len() + 4, 12)) {
        let ordinary = ["1", "12.50", "100", "0.5"];
        let v = |i: usize| -> &str {
            let k = values[i];
            if k < EXTREMES.len() { EXTREMES[k] } else { ordinary[k - EXTREMES.len()] }
        };
        let dir = tempfile::tempdir().unwrap();
        let headers = dir.path().join("h.csv");
        let lines = dir.path().join("l.csv");
        std::fs::write(
            &headers,
            format!(
                "DATAAREAID,INVOICENUMBER,INVOICEDATE,INVOICECUSTOMERACCOUNTNUMBER,CURRENCYCODE,TOTALCHARGEAMOUNT,TOTALDISCOUNTAMOUNT\n\
                 DEMF,P-1,2024-03-01,DE-001,EUR,{},{}\nDEMF,P-2,2024-03-01,GB-001,GBP,0,0\n",
                v(0), v(1)
            ),
        )
        .unwrap();
        std::fs::write(
            &lines,
            format!(
                "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,PRICEUNIT,LINEDISC,DISCPERCENT,DISCAMOUNT,ITEMSALESTAXGROUP\n\
                 DEMF,P-1,1,BK-1001,Bike,{},{},{},{},{},{},FULL\nDEMF,P-1,2,BK-1001,Bike,{},{},1,0,0,0,FULL\nDEMF,P-2,1,BK-1001,Bike,{},{},1,0,0,0,FULL\n",
                v(2), v(3), v(4), v(5), v(6), v(7), v(8), v(9), v(10), v(11)
            ),
        )
        .unwrap();
        let req = ImportRequest {
            files: vec![
                InputFile { entity: "SalesInvoiceJournalHeader".into(), path: headers, mapping: None, push: Push::Replace },
                InputFile { entity: "BusinessDocumentSalesInvoiceLineItem".into(), path: lines, mapping: None, push: Push::Replace },
            ],
            master_dir: root().join("samples/master"),
            legal_entity: "DEMF".into(),
            rejects_dir: None,
            rejects_like_source: false,
            batch_size: 7,
            run_date: Date::from_ymd(2024, 6, 1).unwrap(),
            progress: false,
            post: Some(pipeline::PostRequest {
                store: std::path::PathBuf::new(),
                options: invoiceflow::post::PostingOptions { pro_forma: true, ..Default::default() },
                draft: false,
                invoices_per_batch: 10,
                lock_timeout: std::time::Duration::from_secs(1),
                pro_forma_out: None,
            }),
            master_mappings: Vec::new(),
        };
        let out = pipeline::import(&req, Catalog::builtin()).unwrap();
        for f in &out.imports {
            prop_assert_eq!(f.read, f.accepted + f.rejected, "{:?}", f);
        }
        let posting = out.posting.unwrap();
        prop_assert_eq!(posting.invoices + posting.credit_notes + posting.rejected, out.validated.invoices + out.validated.credit_notes);
    }
}

#[test]
fn a_document_nested_200000_deep_is_a_finding_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.xml");
    let n = 200_000;
    let xml = format!(
        "<?xml version=\"1.0\"?><Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">{}{}</Invoice>",
        "<a>".repeat(n),
        "</a>".repeat(n)
    );
    std::fs::write(&path, xml).unwrap();
    let run = crate::invoiceflow(&["check", "--json", &path.display().to_string()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        json[0]["findings"][0][1],
        "elements nest deeper than 200 levels (at <a>, byte 690): e-invoices nest about ten: the document is refused"
    );
}

#[test]
fn a_file_too_large_to_be_an_einvoice_is_a_finding_and_is_not_read() {
    // 101 MiB, sparse (nothing is written to disk): check refuses it by its length, before reading it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.xml");
    std::fs::File::create(&path).unwrap().set_len(101 << 20).unwrap();
    let run = crate::invoiceflow(&["check", "--json", &path.display().to_string()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        json[0]["findings"][0][1],
        "the file has 105906176 bytes; documents over 100 MiB are refused unread (e-invoices are kilobytes, a few megabytes with attachments)"
    );
}
