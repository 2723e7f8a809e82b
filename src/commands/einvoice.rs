//! `invoiceflow einvoice` and `skip-einvoice`.

use std::time::Instant;

use anyhow::Context as _;

use invoiceflow::cli::{EinvoiceArgs, SkipArgs};
use invoiceflow::entity::Catalog;
use invoiceflow::job;
use invoiceflow::pipeline::{self, Summary};
use invoiceflow::store::Store;

use super::{fail, print_json, EXIT_FATAL, EXIT_OK, EXIT_REJECTS};

pub(crate) fn einvoice_command(a: EinvoiceArgs) -> u8 {
    let started = Instant::now();
    let run = || -> anyhow::Result<invoiceflow::einvoice::EinvoiceReport> {
        if !a.store.exists() {
            anyhow::bail!("{}: no such store; import into it first", a.store.display());
        }
        let md = match &a.master {
            Some(dir) => {
                let mappings = super::load_mappings(&a.mapping)?;
                let (md, rejects) = pipeline::load_master(dir, Catalog::builtin(), &mappings)?;
                if !rejects.is_empty() {
                    eprintln!("warning: {} master data rows rejected (import shows which)", rejects.len());
                }
                Some(md)
            }
            None => None,
        };
        let mut store =
            Store::open_reader(&a.store, job::lock_timeout(a.common.lock_timeout)).context("cannot open the store")?;
        let req = invoiceflow::einvoice::EinvoiceRequest {
            syntax: a.syntax,
            out: a.out.clone().unwrap_or_default(),
            job: a.job.clone(),
            dry_run: a.dry_run,
            reissue: md.is_some(),
            refused_dir: a.refused.clone(),
        };
        Ok(invoiceflow::einvoice::run(&mut store, &req, md.as_ref())?)
    };
    match run() {
        Ok(r) => {
            if r.dry_run {
                eprintln!(
                    "dry run: {} documents pass the checks ({} credit notes) for versions {}–{}; {} would be refused; nothing written",
                    r.documents,
                    r.credit_notes,
                    r.from_version + 1,
                    r.to_version,
                    r.refused.len()
                );
            } else {
                eprintln!(
                    "{} documents written ({} credit notes) to {} for versions {}–{}; {} refused",
                    r.documents,
                    r.credit_notes,
                    r.dir,
                    r.from_version + 1,
                    r.to_version,
                    r.refused.len()
                );
            }
            for f in &r.refused {
                for (rule, msg) in &f.findings {
                    eprintln!("    {} {}: {rule}: {msg}", f.legal_entity, f.number);
                }
            }
            if r.pending_written > 0 {
                let were = if r.dry_run { "would now be" } else { "were" };
                eprintln!("{} documents refused by earlier runs {were} written", r.pending_written);
            }
            if r.job.is_some() && !r.refused.is_empty() && !r.dry_run {
                eprintln!(
                    "refused documents stay pending for job {}: correct them (with --master for master data) or skip them with `invoiceflow skip-einvoice`",
                    r.job.as_deref().unwrap_or("")
                );
            }
            let refused = !r.refused.is_empty();
            if a.common.json {
                let summary =
                    Summary { einvoices: vec![r], ..Summary::empty(if refused { "partial" } else { "ok" }, started) };
                print_json(&summary);
            }
            if refused {
                EXIT_REJECTS
            } else {
                EXIT_OK
            }
        }
        Err(e) => fail(&a.common, e, started),
    }
}

pub(crate) fn skip_command(a: SkipArgs) -> u8 {
    let run = || -> anyhow::Result<Vec<invoiceflow::store::PendingEntry>> {
        let mut store =
            Store::open_reader(&a.store, job::lock_timeout(a.lock_timeout)).context("cannot open the store")?;
        let output = invoiceflow::einvoice::output_name(a.syntax);
        if !a.list && !a.numbers.is_empty() {
            let Some(reason) = a.reason.clone().filter(|r| !r.trim().is_empty()) else {
                anyhow::bail!("say why with --reason: it is recorded with who skipped the documents");
            };
            let by = a.by.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
            let skip = invoiceflow::store::Skip { by, reason, at: invoiceflow::pipeline::now_utc() };
            // Never a silent default legal entity: the one each number is pending in.
            let pending = store.pending_einvoices(&a.job, output)?;
            let mut targets = Vec::new();
            for n in &a.numbers {
                let le = match &a.legal_entity {
                    Some(le) => le.clone(),
                    None => {
                        let mut les: Vec<&str> =
                            pending.iter().filter(|e| e.number == *n).map(|e| e.legal_entity.as_str()).collect();
                        les.sort_unstable();
                        les.dedup();
                        if les.len() > 1 {
                            anyhow::bail!(
                                "document {n} is pending in legal entities {}: say which with --legal-entity; nothing was skipped",
                                les.join(", ")
                            );
                        }
                        les.first().map(|s| s.to_string()).unwrap_or_default()
                    }
                };
                targets.push((le, n.as_str()));
            }
            let missing: Vec<&str> = targets
                .iter()
                .filter(|(le, n)| le.is_empty() || !pending.iter().any(|e| e.legal_entity == *le && e.number == *n))
                .map(|(_, n)| *n)
                .collect();
            if !missing.is_empty() {
                anyhow::bail!(
                    "job {} has no pending {output} document {}{} (`--list` shows the pending ones); nothing was skipped",
                    a.job,
                    missing.join(", "),
                    a.legal_entity.as_ref().map(|le| format!(" of legal entity {le}")).unwrap_or_default()
                );
            }
            for (le, n) in &targets {
                store.skip_einvoice(&a.job, output, le, n, &skip)?;
            }
            eprintln!("skipped {} documents of job {} as {}: {}", a.numbers.len(), a.job, skip.by, skip.reason);
        }
        Ok(store.pending_einvoices(&a.job, output)?)
    };
    match run() {
        Ok(entries) => {
            if a.list || a.numbers.is_empty() {
                for e in &entries {
                    match (&e.skipped_by, &e.skipped_at) {
                        (Some(by), Some(at)) => eprintln!(
                            "{} {}: skipped by {by} at {at}: {}",
                            e.legal_entity,
                            e.number,
                            e.skip_reason.as_deref().unwrap_or("")
                        ),
                        _ => eprintln!(
                            "{} {}: pending since {} ({} runs): {}",
                            e.legal_entity, e.number, e.first_refused, e.runs, e.findings
                        ),
                    }
                }
            }
            if a.json {
                match serde_json::to_string(&entries) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("error: {e}"),
                }
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FATAL
        }
    }
}
