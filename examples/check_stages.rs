//! Where the time of `invoiceflow check` goes, without the file system: the `.xml` files under
//! a folder are read into memory first, then each stage runs over all of them `ROUNDS` times
//! on one thread — the XML tree alone, the tree read into the model, the whole check — and the
//! best round of each is printed as documents per second.
//!
//! `cargo run --release --example check_stages -- DIR [ROUNDS]`

use std::path::Path;
use std::time::Instant;

use invoiceflow::einvoice;

// The allocator of the program, so that the stages cost here what they cost there.
#[global_allocator]
static GLOBAL: invoiceflow::alloc::MiMalloc = invoiceflow::alloc::MiMalloc;

#[path = "common/xml_files.rs"]
mod xml_files;
use xml_files::files;

/// One stage over one document: a number that depends on its work (so none is optimised away).
type Stage<'a> = &'a dyn Fn(&[u8]) -> usize;

fn best(rounds: usize, docs: &[Vec<u8>], stage: impl Fn(&[u8]) -> usize) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut sum = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        sum = docs.iter().map(|d| stage(d)).sum();
        best = best.min(start.elapsed().as_secs_f64());
    }
    (best, sum)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().ok_or("usage: check_stages DIR [ROUNDS]")?;
    let rounds: usize = args.get(1).map_or(Ok(9), |r| r.parse())?;
    let mut paths = Vec::new();
    files(Path::new(dir), &mut paths)?;
    paths.sort();
    let docs: Vec<Vec<u8>> = paths.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    let bytes: usize = docs.iter().map(Vec::len).sum();
    println!("{} documents, {} bytes", docs.len(), bytes);
    // One arena, reset per document, as the check keeps one per thread.
    let arena = std::cell::RefCell::new(einvoice::xml::Arena::new());
    let stages: [(&str, Stage); 3] = [
        ("tree", &|d| {
            let mut arena = arena.borrow_mut();
            arena.reset();
            einvoice::xml::parse(d, &arena).map_or(0, |n| n.children.len())
        }),
        ("tree + model", &|d| {
            let mut arena = arena.borrow_mut();
            arena.reset();
            einvoice::read::read_with_tree(d, &arena).map_or(0, |(doc, ..)| doc.lines.len())
        }),
        ("check", &|d| einvoice::check_bytes("x", d).findings.len()),
    ];
    for (name, stage) in stages {
        let (seconds, sum) = best(rounds, &docs, stage);
        println!(
            "{name:<14} {:>8.1} ms {:>8.0} documents/s {:>7.0} MB/s (checksum {sum})",
            seconds * 1e3,
            docs.len() as f64 / seconds,
            bytes as f64 / seconds / 1e6
        );
    }
    Ok(())
}
