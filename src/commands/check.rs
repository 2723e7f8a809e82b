//! `invoiceflow check`: e-invoice files against the built-in rules.

use std::path::PathBuf;

use invoiceflow::cli::CheckArgs;

use super::{EXIT_FATAL, EXIT_OK, EXIT_REJECTS};

pub(crate) fn check_command(a: CheckArgs) -> u8 {
    if a.rules {
        let rules = &*invoiceflow::einvoice::catalog::RULES;
        if a.json {
            match serde_json::to_string(rules) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_FATAL;
                }
            }
        } else {
            use std::io::Write as _;
            // Written line by line: a closed pipe (`| head`) ends the listing, not the program.
            let mut out = std::io::stdout().lock();
            let header = writeln!(out, "{:<22} {:<13} {:<9} a document has / does", "rule", "set", "syntaxes");
            let _ = header.and_then(|()| {
                rules.iter().try_for_each(|r| writeln!(out, "{:<22} {:<13} {:<9} {}", r.id, r.set, r.syntaxes, r.asks))
            });
        }
        return EXIT_OK;
    }
    let mut files = Vec::new();
    for p in &a.files {
        if p.is_dir() {
            if let Err(e) = xml_files(p, &mut files) {
                eprintln!("error: {}: {e}", p.display());
                return EXIT_FATAL;
            }
        } else {
            files.push(p.clone());
        }
    }
    let mut results = Vec::new();
    let mut bytes = Vec::new();
    for f in &files {
        // A file too large to be an e-invoice is a finding, and is not read into memory.
        let len = match read_file(f, &mut bytes) {
            Ok(len) => len,
            Err(e) => {
                eprintln!("error: {}: cannot read: {e}", f.display());
                return EXIT_FATAL;
            }
        };
        if len > invoiceflow::einvoice::read::MAX_DOCUMENT_BYTES {
            let message = invoiceflow::einvoice::read::too_large(len).to_string();
            results.push(invoiceflow::einvoice::FileCheck {
                file: f.display().to_string(),
                ok: false,
                findings: vec![("XML".into(), message)],
                warnings: Vec::new(),
            });
            continue;
        }
        results.push(invoiceflow::einvoice::check_bytes(&f.display().to_string(), &bytes));
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    {
        use std::io::Write as _;
        // One write per many lines, not three per line; a closed stderr stops nothing.
        let mut err = std::io::BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
        let _ = results.iter().try_for_each(|r| {
            if r.ok {
                writeln!(err, "OK   {}", r.file)?;
            } else {
                writeln!(err, "FAIL {} ({} findings)", r.file, r.findings.len())?;
                for (rule, msg) in &r.findings {
                    writeln!(err, "    {rule}: {msg}")?;
                }
            }
            r.warnings.iter().try_for_each(|(rule, msg)| writeln!(err, "    warning {rule}: {msg}"))
        });
        let _ = writeln!(err, "{} passed, {} failed", results.len() - failed, failed);
        let _ = err.flush();
    }
    if a.json {
        match serde_json::to_string(&results) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    if failed > 0 {
        EXIT_REJECTS
    } else {
        EXIT_OK
    }
}

/// Reads a file into `bytes` (cleared first) unless it is larger than an e-invoice can be;
/// returns its length either way. One open, one `fstat`, the reads.
fn read_file(path: &std::path::Path, bytes: &mut Vec<u8>) -> std::io::Result<u64> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    bytes.clear();
    if len <= invoiceflow::einvoice::read::MAX_DOCUMENT_BYTES {
        // Read into a buffer of the length `fstat` gave (one byte over, to see the end; a file
        // that grew meanwhile is read whole). `read_to_end` would ask the length again.
        bytes.resize(len as usize + 1, 0);
        let mut filled = 0;
        loop {
            if filled == bytes.len() {
                bytes.resize(bytes.len() * 2, 0);
            }
            match file.read(&mut bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        bytes.truncate(filled);
    }
    Ok(len)
}

/// The `.xml` files below `dir` (sub-folders too, such as one per legal entity), sorted.
pub(crate) fn xml_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<(PathBuf, bool)> = std::fs::read_dir(dir)?
        .map(|e| {
            let e = e?;
            // The entry's own type (no `stat` per file); a link is followed to see a folder.
            let dir = match e.file_type()? {
                t if t.is_symlink() => e.path().is_dir(),
                t => t.is_dir(),
            };
            Ok((e.path(), dir))
        })
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    for (p, dir) in entries {
        if dir {
            xml_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")) {
            out.push(p);
        }
    }
    Ok(())
}
