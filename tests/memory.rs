//! Reading is streaming: a 1,000,000-line file never has more than one batch of raw records
//! in memory. A separate test binary, because it installs a counting global allocator and
//! must not share the process with other tests' allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use invoiceflow::read::{self, csv::CsvOptions, RawBatch};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn reading_a_million_line_file_holds_one_batch_of_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BusinessDocumentSalesInvoiceLineItem.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(
        w,
        "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,LINEAMOUNT,ITEMSALESTAXGROUP"
    )
    .unwrap();
    for i in 0..1_000_000u32 {
        writeln!(
            w,
            "DEMF,INV-{:07},{},BK-{:04},\"City bike, 28\"\"\",{},549.00,{}.00,FULL",
            i / 10,
            i % 10 + 1,
            i % 7919,
            i % 5 + 1,
            (i % 5 + 1) * 549
        )
        .unwrap();
    }
    drop(w);
    let file_size = std::fs::metadata(&path).unwrap().len() as usize;
    assert!(file_size > 60_000_000, "{file_size}");

    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut source = read::open(&path, &CsvOptions::default()).unwrap();
    let mut batch = RawBatch::default();
    let mut records = 0u64;
    let mut last_line = 0;
    while source.next_batch(&mut batch, 4096).unwrap() {
        records += batch.len as u64;
        last_line = batch.positions[batch.len - 1].0;
    }
    let peak = PEAK.load(Ordering::Relaxed) - base;
    assert_eq!(records, 1_000_000);
    assert_eq!(last_line, 1_000_001);
    // One batch of 4096 records of ~65 bytes, the read buffers and the header: well under
    // 8 MiB, against a file of more than 60 MB.
    assert!(peak < 8 << 20, "peak {peak} bytes while reading a {file_size}-byte file");
}
