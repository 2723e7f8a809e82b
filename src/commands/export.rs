//! `invoiceflow export`.

use std::time::Instant;

use anyhow::Context as _;

use invoiceflow::cli::ExportArgs;
use invoiceflow::entity::Catalog;
use invoiceflow::export::{self, ExportReport, ExportRequest};
use invoiceflow::job;
use invoiceflow::pipeline::Summary;
use invoiceflow::store::Store;

use super::{fail, print_json, EXIT_OK};

pub(crate) fn export_command(a: ExportArgs) -> u8 {
    let started = Instant::now();
    let run = || -> anyhow::Result<Vec<ExportReport>> {
        if a.spreadsheet_safe && a.format != export::Format::Csv {
            anyhow::bail!("--spreadsheet-safe applies to CSV only (Parquet cells are typed and run nothing)");
        }
        let mut store =
            Store::open_reader(&a.store, job::lock_timeout(a.common.lock_timeout)).context("cannot open the store")?;
        if let (true, Some(job)) = (a.reset, &a.job) {
            let n = store.reset_export(job)?;
            eprintln!("job {job}: {n} watermarks forgotten");
        }
        let mut out = Vec::new();
        for entity in &a.entity {
            let req = ExportRequest {
                entity: entity.clone(),
                format: a.format,
                out: a.out.clone(),
                job: a.job.clone(),
                dmf_unicode: a.dmf_unicode,
                spreadsheet_safe: a.spreadsheet_safe,
            };
            out.push(
                export::export(&mut store, &req, Catalog::builtin())
                    .with_context(|| format!("export of {entity} failed"))?,
            );
        }
        Ok(out)
    };
    match run() {
        Ok(reports) => {
            for r in &reports {
                eprintln!(
                    "{} → {}: {}",
                    r.entity,
                    if r.files.is_empty() { "-".to_string() } else { r.files.join(", ") },
                    r.note
                );
            }
            if a.common.json {
                let summary = Summary { exports: reports, ..Summary::empty("ok", started) };
                print_json(&summary);
            }
            EXIT_OK
        }
        Err(e) => fail(&a.common, e, started),
    }
}
