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
        let (len, read) = match read_file(f, &mut bytes) {
            Ok(found) => found,
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
        results.push(invoiceflow::einvoice::check_bytes(&f.display().to_string(), &bytes[..read]));
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
                let n = r.findings.len();
                writeln!(err, "FAIL {} ({n} finding{})", r.file, if n == 1 { "" } else { "s" })?;
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

/// Reads a file into the front of `buf` unless it is larger than an e-invoice can be; returns
/// its length and how many bytes were read (none for a file too large). The buffer keeps its
/// length from file to file (at least 64 KiB), so that only its growth is zeroed, and a file
/// that fits costs one open and two reads: its length is asked (`fstat`) only of a file larger
/// than the buffer, before it is read further.
fn read_file(path: &std::path::Path, buf: &mut Vec<u8>) -> std::io::Result<(u64, usize)> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    if buf.len() < 1 << 16 {
        buf.resize(1 << 16, 0);
    }
    let mut filled = 0;
    let mut sized = false;
    loop {
        if filled == buf.len() {
            let grown = if sized {
                buf.len() * 2
            } else {
                sized = true;
                let len = file.metadata()?.len();
                if len > invoiceflow::einvoice::read::MAX_DOCUMENT_BYTES {
                    return Ok((len, 0));
                }
                // One byte over, to see the end (a file that grows meanwhile is read whole).
                (len as usize + 1).max(buf.len() * 2)
            };
            buf.resize(grown, 0);
        }
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((filled as u64, filled))
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
    // By name: the paths differ in their last part only, whose bytes order them as `Path`
    // does, without walking their parts.
    entries.sort_unstable_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    for (p, dir) in entries {
        if dir {
            xml_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")) {
            out.push(p);
        }
    }
    Ok(())
}
