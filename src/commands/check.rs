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
    for f in &files {
        // A file too large to be an e-invoice is a finding, and is not read into memory.
        let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
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
        match std::fs::read(f) {
            Ok(bytes) => results.push(invoiceflow::einvoice::check_bytes(&f.display().to_string(), &bytes)),
            Err(e) => {
                eprintln!("error: {}: cannot read: {e}", f.display());
                return EXIT_FATAL;
            }
        }
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    for r in &results {
        if r.ok {
            eprintln!("OK   {}", r.file);
        } else {
            eprintln!("FAIL {} ({} findings)", r.file, r.findings.len());
            for (rule, msg) in &r.findings {
                eprintln!("    {rule}: {msg}");
            }
        }
        for (rule, msg) in &r.warnings {
            eprintln!("    warning {rule}: {msg}");
        }
    }
    eprintln!("{} passed, {} failed", results.len() - failed, failed);
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

/// The `.xml` files below `dir` (sub-folders too, such as one per legal entity), sorted.
pub(crate) fn xml_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            xml_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")) {
            out.push(p);
        }
    }
    Ok(())
}
