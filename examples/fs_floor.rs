//! The floor for writing e-invoices: the file system's own cost of publishing the same files the
//! way `invoiceflow einvoice` does (each written to a temp name, one `syncfs` per 2,048 files, as its chunks,
//! then renamed into place), from one thread, with nothing built or checked. Used by
//! `benches/e2e.sh` beside the e-invoice rows, so that the part of their time that no program
//! writing one file per document can avoid is seen in the same run.
//!
//! `cargo run --release --example fs_floor -- FROM_DIR TO_DIR` copies the `.xml` files under
//! FROM_DIR (read into memory first, outside the timing) to TO_DIR and prints
//! `{"files": N, "bytes": B, "seconds": S}`.

use std::path::Path;
use std::time::Instant;

#[path = "common/xml_files.rs"]
mod xml_files;
use xml_files::files;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [from, to] = args.as_slice() else {
        return Err("usage: fs_floor FROM_DIR TO_DIR".into());
    };
    let (from, to) = (Path::new(from), Path::new(to));
    let mut paths = Vec::new();
    files(from, &mut paths)?;
    paths.sort();
    let mut docs = Vec::with_capacity(paths.len());
    for p in &paths {
        docs.push((to.join(p.strip_prefix(from)?), std::fs::read(p)?));
    }
    let bytes: usize = docs.iter().map(|(_, b)| b.len()).sum();
    let started = Instant::now();
    for chunk in docs.chunks(2048) {
        let mut dirs: Vec<&Path> = chunk.iter().filter_map(|(p, _)| p.parent()).collect();
        dirs.sort();
        dirs.dedup();
        for d in &dirs {
            std::fs::create_dir_all(d)?;
        }
        let mut renames = Vec::with_capacity(chunk.len());
        for (path, body) in chunk {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let tmp = path.with_file_name(format!(".{name}.tmp"));
            std::fs::write(&tmp, body)?;
            renames.push((tmp, path));
        }
        sync(to, renames.iter().map(|(tmp, _)| tmp.as_path()))?;
        for (tmp, path) in &renames {
            std::fs::rename(tmp, path)?;
        }
        for d in std::iter::once(to).chain(dirs.iter().copied()) {
            std::fs::File::open(d)?.sync_all()?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{{\"files\": {}, \"bytes\": {bytes}, \"seconds\": {seconds:.3}}}", docs.len());
    Ok(())
}

/// As the e-invoice writer makes a chunk durable: one `syncfs` on Linux, else each file.
#[cfg(target_os = "linux")]
fn sync<'a>(dir: &Path, _files: impl Iterator<Item = &'a Path>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let d = std::fs::File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `d` keeps open for the call.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn sync<'a>(_dir: &Path, files: impl Iterator<Item = &'a Path>) -> std::io::Result<()> {
    for f in files {
        std::fs::File::open(f)?.sync_all()?;
    }
    Ok(())
}
