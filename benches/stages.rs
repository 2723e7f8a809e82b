//! criterion benches for the stages, on a generated data set (2,000 invoices, ~21,000 lines):
//! read + map + validate, posting (compute), store commit, CSV and Parquet export, UBL and CII
//! writing (with the check). `cargo bench`; the end-to-end figures come from `benches/e2e.sh`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use invoiceflow::einvoice::{self, Syntax};
use invoiceflow::entity::Catalog;
use invoiceflow::export::{self, ExportRequest, Format};
use invoiceflow::generate::{generate, GenerateRequest};
use invoiceflow::model::Date;
use invoiceflow::pipeline::{self, ImportRequest, InputFile, PostRequest, Push};
use invoiceflow::post::{self, PostingOptions};
use invoiceflow::store::{Body, ExportRange, Store};

fn request(dir: &Path, post: Option<PostRequest>) -> ImportRequest {
    let file = |entity: &str, name: &str| InputFile {
        entity: entity.into(),
        path: dir.join(name),
        mapping: None,
        push: Push::Replace,
    };
    ImportRequest {
        files: vec![
            file("SalesInvoiceHeaderV2", "SalesInvoiceHeaderV2.csv"),
            file("BusinessDocumentSalesInvoiceLineItem", "BusinessDocumentSalesInvoiceLineItem.csv"),
        ],
        master_dir: dir.join("master"),
        legal_entity: "DEMF".into(),
        rejects_dir: None,
        rejects_like_source: false,
        batch_size: 8192,
        run_date: Date::from_ymd(2026, 1, 1).unwrap(),
        progress: false,
        post,
        master_mappings: Vec::new(),
    }
}

fn stages(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let g = generate(&GenerateRequest {
        invoices: 2000,
        seed: 7,
        out: dir.to_path_buf(),
        defect_rate: 0.0,
        customers: 500,
        first: 1,
        parquet: false,
        unsorted: false,
        all_categories: false,
    })
    .unwrap();
    let catalog = Catalog::builtin();
    let mut group = c.benchmark_group("stages");
    group.sample_size(10);

    group.throughput(Throughput::Elements(g.lines));
    group.bench_function("read_map_validate", |b| {
        b.iter(|| pipeline::import(&request(dir, None), catalog).unwrap().validated.lines)
    });

    let (master, invoices) = pipeline::validated_invoices(&request(dir, None), catalog).unwrap();
    struct V {
        master: invoiceflow::model::master::MasterData,
        invoices: Vec<invoiceflow::model::Invoice>,
    }
    let v = V { master, invoices };
    let opts = PostingOptions::default();
    group.bench_function("post_compute", |b| {
        b.iter_batched(
            || v.invoices.clone(),
            |invoices| {
                invoices
                    .into_iter()
                    .map(|i| post::post(i, &v.master, &opts).map(|p| p.ledger.len()).unwrap_or(0))
                    .sum::<usize>()
            },
            BatchSize::LargeInput,
        )
    });

    // Each with its body, as the posting threads of a run hand them to the commit.
    let posted: Vec<(post::Posted, Body)> = v
        .invoices
        .iter()
        .cloned()
        .map(|i| post::post(i, &v.master, &opts).unwrap())
        .map(|p| {
            let b = Body::of(&p, invoiceflow::entity::field_name);
            (p, b)
        })
        .collect();
    group.bench_function("store_commit", |b| {
        b.iter_batched(
            || {
                let d = tempfile::tempdir().unwrap();
                let mut s = Store::open(&d.path().join("s.db")).unwrap();
                s.seed_sequences(&v.master).unwrap();
                (d, s)
            },
            |(_d, mut s)| {
                for chunk in posted.chunks(500) {
                    s.commit(chunk, false, post::CreditLimitCheck::None, &v.master).unwrap();
                }
            },
            BatchSize::PerIteration,
        )
    });

    let store_path = dir.join("bench.db");
    {
        let mut s = Store::open(&store_path).unwrap();
        s.seed_sequences(&v.master).unwrap();
        s.commit(&posted, false, post::CreditLimitCheck::None, &v.master).unwrap();
    }
    let mut store = Store::open(&store_path).unwrap();
    for (name, format) in [("export_csv", Format::Csv), ("export_parquet", Format::Parquet)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let out = tempfile::tempdir().unwrap();
                let req = ExportRequest {
                    entity: "BusinessDocumentSalesInvoiceLineItem".into(),
                    format,
                    out: out.path().to_path_buf(),
                    job: None,
                    dmf_unicode: false,
                    spreadsheet_safe: false,
                };
                export::export(&mut store, &req, catalog).unwrap().rows
            })
        });
    }

    let mut docs = Vec::new();
    store.documents(ExportRange { from: 0, to: i64::MAX, resumed: false }, |d| docs.push(d)).unwrap();
    group.throughput(Throughput::Elements(docs.len() as u64));
    for (name, syntax) in [("ubl_write_and_check", Syntax::Ubl), ("cii_write_and_check", Syntax::Cii)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                docs.iter()
                    .map(|s| {
                        let doc = einvoice::build(s, syntax).unwrap();
                        let xml = match syntax {
                            Syntax::Ubl => einvoice::ubl::write(&doc),
                            Syntax::Cii => einvoice::cii::write(&doc),
                        };
                        einvoice::check_bytes("bench", xml.as_bytes()).ok as usize
                    })
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
