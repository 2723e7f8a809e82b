//! The `invoiceflow` binary: parse arguments, set up logging, run, map the outcome to an
//! exit code (0 ok, 3 some rows rejected, 1 fatal, 2 usage).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;

use invoiceflow::cli::{
    CheckArgs, Cli, Command, CommonArgs, EinvoiceArgs, ExportArgs, ImportArgs, PostArgs, RoundingArg, SkipArgs,
};
use invoiceflow::entity::{Catalog, EntityKind};
use invoiceflow::export::{self, ExportReport, ExportRequest};
use invoiceflow::job::{self, Job};
use invoiceflow::map::Mapping;
use invoiceflow::model::totals::RoundingPolicy;
use invoiceflow::pipeline::{self, ImportRequest, InputFile, PostRequest, Summary};
use invoiceflow::post::PostingOptions;
use invoiceflow::store::Store;
use invoiceflow::validate::Rule;

// mimalloc: the import path allocates and frees many small values across threads, where it
// is markedly faster than the system allocator (measured in BENCHMARKS.md).
#[global_allocator]
static GLOBAL: invoiceflow::alloc::MiMalloc = invoiceflow::alloc::MiMalloc;

const EXIT_OK: u8 = 0;
const EXIT_FATAL: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_REJECTS: u8 = 3;

/// No transparent huge pages for this process (Linux). The allocator asks for them, and every
/// page it hands back and takes again then costs a fault that zeroes 2 MiB: on the 1M-line
/// import that was ~10 % of the CPU and ~45 MB of peak RSS (BENCHMARKS.md). The setting only
/// affects how memory is backed, never a result.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_THP_DISABLE) takes integer arguments only and changes no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    no_huge_pages();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    invoiceflow::read::install_panic_hook();
    init_logging();
    invoiceflow::progress::set_enabled(!quiet(&cli.command));
    ExitCode::from(match cli.command {
        Command::Entities(a) => entities(a.entity.as_deref()),
        Command::Rules => rules(),
        Command::Run(a) => {
            let started = Instant::now();
            let catalog = Catalog::builtin();
            match Job::load(&a.job, catalog) {
                Ok(mut job) => {
                    if let Some(store) = &a.store {
                        let mut post = job.post.take().unwrap_or_else(|| PostRequest {
                            store: store.clone(),
                            options: PostingOptions::default(),
                            draft: false,
                            invoices_per_batch: job::DEFAULT_INVOICES_PER_BATCH,
                            lock_timeout: job::lock_timeout(None),
                            pro_forma_out: None,
                        });
                        post.store = store.clone();
                        job.post = Some(post);
                    }
                    if a.rejects.is_some() {
                        job.rejects = a.rejects.clone();
                    }
                    if let (Some(t), Some(post)) = (a.common.lock_timeout, job.post.as_mut()) {
                        post.lock_timeout = job::lock_timeout(Some(t));
                    }
                    if let Some(dir) = &a.exports {
                        for e in &mut job.exports {
                            e.out = dir.clone();
                        }
                        for e in &mut job.einvoices {
                            e.out = dir.join(match e.syntax {
                                invoiceflow::einvoice::Syntax::Ubl => "ubl",
                                invoiceflow::einvoice::Syntax::Cii => "cii",
                            });
                        }
                    }
                    let req = ImportRequest {
                        files: job.imports,
                        master_dir: job.master,
                        legal_entity: job.legal_entity,
                        rejects_dir: job.rejects,
                        batch_size: job.batch_size,
                        run_date: pipeline::today(),
                        progress: !a.common.quiet,
                        post: job.post,
                    };
                    let dry_run = req.post.is_none();
                    run_import(&req, &a.common, dry_run, started, &job.exports, &job.einvoices)
                }
                Err(e) => fail(&a.common, anyhow::Error::new(e).context("the job file is not usable"), started),
            }
        }
        Command::Import(a) => import(a),
        Command::Export(a) => export_command(a),
        Command::Post(a) => post_command(a),
        Command::Check(a) => check_command(a),
        Command::Einvoice(a) => einvoice_command(a),
        Command::SkipEinvoice(a) => skip_command(a),
        Command::Generate(a) => {
            let req = invoiceflow::generate::GenerateRequest {
                invoices: a.invoices,
                seed: a.seed,
                out: a.out,
                defect_rate: a.defect_rate.clamp(0.0, 1.0),
                customers: a.customers,
                first: a.first.max(1),
                parquet: a.parquet,
                unsorted: a.unsorted,
            };
            match invoiceflow::generate::generate(&req) {
                Ok(g) => {
                    eprintln!(
                        "wrote {} invoices ({} credit notes, {} defective) with {} lines to {} and {}; master data in {}",
                        g.invoices,
                        g.credit_notes,
                        g.defective,
                        g.lines,
                        g.headers.display(),
                        g.lines_file.display(),
                        g.master.display()
                    );
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("error: cannot write the data set: {e}");
                    EXIT_FATAL
                }
            }
        }
    })
}

/// Logs on stderr: `INVOICEFLOW_LOG`, else `RUST_LOG` (tracing's filter syntax, e.g. `info`
/// for the stage events, `invoiceflow=debug`), else warnings only; colours only on a terminal.
fn init_logging() {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("INVOICEFLOW_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
}

/// Whether the command asked for no progress bars.
fn quiet(command: &Command) -> bool {
    match command {
        Command::Run(a) => a.common.quiet,
        Command::Import(a) => a.common.quiet,
        Command::Post(a) => a.common.quiet,
        Command::Export(a) => a.common.quiet,
        Command::Einvoice(a) => a.common.quiet,
        _ => true,
    }
}

fn import(a: ImportArgs) -> u8 {
    let started = Instant::now();
    if a.no_post && a.store.is_none() {
        eprintln!("error: --no-post stores drafts and needs --store");
        return EXIT_USAGE;
    }
    let catalog = Catalog::builtin();
    let mut mappings = Vec::new();
    for m in &a.mapping {
        match Mapping::load(m, catalog) {
            Ok(m) => mappings.push(Arc::new(m)),
            Err(e) => return fail(&a.common, anyhow::Error::new(e).context("the mapping file is broken"), started),
        }
    }
    let mut files = Vec::new();
    for spec in &a.files {
        let (named, path) = match spec.split_once('=') {
            Some((e, p)) if !e.contains(['/', '\\']) && !e.is_empty() => (Some(e), PathBuf::from(p)),
            _ => (None, PathBuf::from(spec)),
        };
        let mut mapping = job::pick_mapping(&mappings, &path, named, catalog);
        if let Some(enc) = a.encoding {
            mapping = match mapping {
                None => Some(Arc::new(Mapping::with_encoding(enc))),
                Some(m) if !m.encoding_given => {
                    let mut m = (*m).clone();
                    m.csv.encoding = enc;
                    Some(Arc::new(m))
                }
                some => some,
            };
        }
        match job::resolve_entity(named, &path, mapping.as_deref(), catalog) {
            Ok(entity) => files.push(InputFile { entity, path, mapping, push: a.push }),
            Err(m) => {
                eprintln!("error: {m}");
                return EXIT_USAGE;
            }
        }
    }
    let req = ImportRequest {
        files,
        master_dir: a.master.clone(),
        legal_entity: a.legal_entity.clone(),
        rejects_dir: a.rejects.clone(),
        batch_size: a.batch_size.max(1),
        run_date: pipeline::today(),
        progress: !a.common.quiet,
        post: post_request(&a),
    };
    let dry_run = req.post.is_none();
    run_import(&req, &a.common, dry_run, started, &[], &[])
}

fn post_request(a: &ImportArgs) -> Option<PostRequest> {
    let rounding = match a.rounding {
        RoundingArg::Document => RoundingPolicy::Document,
        RoundingArg::Line => RoundingPolicy::Line,
    };
    let options = a.posting.options(rounding, a.pro_forma);
    let invoices_per_batch = a.posting.invoices_per_batch.max(1);
    let lock_timeout = job::lock_timeout(a.common.lock_timeout);
    let pro_forma_out = a
        .pro_forma_out
        .clone()
        .map(|dir| invoiceflow::export::proforma::ProFormaOut { dir, syntax: a.pro_forma_syntax });
    match (&a.store, a.dry_run) {
        (Some(store), false) => Some(PostRequest {
            store: store.clone(),
            options,
            draft: a.no_post,
            invoices_per_batch,
            lock_timeout,
            pro_forma_out,
        }),
        (None, false) if a.pro_forma => Some(PostRequest {
            store: PathBuf::new(),
            options,
            draft: false,
            invoices_per_batch,
            lock_timeout,
            pro_forma_out,
        }),
        _ => None,
    }
}

fn run_import(
    req: &ImportRequest,
    common: &CommonArgs,
    dry_run: bool,
    started: Instant,
    exports: &[ExportRequest],
    einvoices: &[invoiceflow::einvoice::EinvoiceRequest],
) -> u8 {
    if let Some(n) = common.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global() {
            eprintln!("warning: --threads {n} not applied: {e}");
        }
    }
    match pipeline::import(req, Catalog::builtin()).context("import failed") {
        Ok(outcome) => {
            let mut summary = Summary::from_import(&outcome, dry_run, started);
            if let (Some(post), false) = (&req.post, exports.is_empty() && einvoices.is_empty()) {
                if post.options.pro_forma {
                    eprintln!("note: pro forma run: exports and e-invoices skipped");
                } else {
                    match run_exports(&post.store, post.lock_timeout, exports, einvoices, Some(&req.master_dir)) {
                        Ok((reports, docs)) => {
                            summary.exports = reports;
                            summary.einvoices = docs;
                        }
                        Err(e) => return fail(common, e, started),
                    }
                    if summary.einvoices.iter().any(|e| !e.refused.is_empty()) {
                        summary.status = "partial";
                    }
                }
            }
            summary.duration_ms = started.elapsed().as_millis();
            eprint!("{}", summary.to_text());
            if common.json {
                print_json(&summary);
            }
            if summary.status == "ok" {
                EXIT_OK
            } else {
                EXIT_REJECTS
            }
        }
        Err(e) => fail(common, e, started),
    }
}

type OutputReports = (Vec<ExportReport>, Vec<invoiceflow::einvoice::EinvoiceReport>);

fn run_exports(
    store: &std::path::Path,
    lock_timeout: std::time::Duration,
    exports: &[ExportRequest],
    einvoices: &[invoiceflow::einvoice::EinvoiceRequest],
    master: Option<&std::path::Path>,
) -> anyhow::Result<OutputReports> {
    let md = match (master, einvoices.is_empty()) {
        (Some(dir), false) => Some(pipeline::load_master(dir, Catalog::builtin())?.0),
        _ => None,
    };
    let mut store = Store::open_reader(store, lock_timeout).context("cannot open the store for export")?;
    let mut out = Vec::new();
    for e in exports {
        out.push(
            export::export(&mut store, e, Catalog::builtin())
                .with_context(|| format!("export of {} failed", e.entity))?,
        );
    }
    let mut docs = Vec::new();
    for e in einvoices {
        docs.push(invoiceflow::einvoice::run(&mut store, e, md.as_ref()).context("e-invoices failed")?);
    }
    Ok((out, docs))
}

fn export_command(a: ExportArgs) -> u8 {
    let started = Instant::now();
    let run = || -> anyhow::Result<Vec<ExportReport>> {
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

fn einvoice_command(a: EinvoiceArgs) -> u8 {
    let started = Instant::now();
    let run = || -> anyhow::Result<invoiceflow::einvoice::EinvoiceReport> {
        if !a.store.exists() {
            anyhow::bail!("{}: no such store; import into it first", a.store.display());
        }
        let md = match &a.master {
            Some(dir) => {
                let (md, rejects) = pipeline::load_master(dir, Catalog::builtin())?;
                if !rejects.is_empty() {
                    eprintln!("warning: {} master data rows rejected (import shows which)", rejects.len());
                }
                Some(md)
            }
            None => None,
        };
        let mut store =
            Store::open_reader(&a.store, job::lock_timeout(a.common.lock_timeout)).context("cannot open the store")?;
        let req = invoiceflow::einvoice::EinvoiceRequest { syntax: a.syntax, out: a.out.clone(), job: a.job.clone() };
        Ok(invoiceflow::einvoice::run(&mut store, &req, md.as_ref())?)
    };
    match run() {
        Ok(r) => {
            eprintln!(
                "{} documents written ({} credit notes) to {} for versions {}–{}; {} refused",
                r.documents,
                r.credit_notes,
                r.dir,
                r.from_version + 1,
                r.to_version,
                r.refused.len()
            );
            for f in &r.refused {
                for (rule, msg) in &f.findings {
                    eprintln!("    {} {}: {rule}: {msg}", f.legal_entity, f.number);
                }
            }
            if r.pending_written > 0 {
                eprintln!("{} documents refused by earlier runs were written", r.pending_written);
            }
            if r.job.is_some() && !r.refused.is_empty() {
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

fn skip_command(a: SkipArgs) -> u8 {
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
            let mut missing = Vec::new();
            for n in &a.numbers {
                if !store.skip_einvoice(&a.job, output, &a.legal_entity, n, &skip)? {
                    missing.push(n.as_str());
                }
            }
            if !missing.is_empty() {
                anyhow::bail!(
                    "job {} has no pending {output} document {} of legal entity {} (`--list` shows the pending ones); nothing was skipped",
                    a.job,
                    missing.join(", "),
                    a.legal_entity
                );
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

fn post_command(a: PostArgs) -> u8 {
    let started = Instant::now();
    if !a.store.exists() {
        eprintln!("error: {}: no such store; import with --no-post first", a.store.display());
        return EXIT_USAGE;
    }
    let req = PostRequest {
        store: a.store.clone(),
        options: a.posting.options(RoundingPolicy::Document, false),
        draft: false,
        invoices_per_batch: a.posting.invoices_per_batch.max(1),
        lock_timeout: job::lock_timeout(a.common.lock_timeout),
        pro_forma_out: None,
    };
    match pipeline::drafts::post_drafts(&req, &a.master, a.rejects.as_deref(), Catalog::builtin())
        .context("posting the drafts failed")
    {
        Ok(outcome) => {
            let summary = Summary::from_import(&outcome, false, started);
            eprint!("{}", summary.to_text());
            if a.common.json {
                print_json(&summary);
            }
            if outcome.has_rejects() {
                EXIT_REJECTS
            } else {
                EXIT_OK
            }
        }
        Err(e) => fail(&a.common, e, started),
    }
}

fn check_command(a: CheckArgs) -> u8 {
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
fn xml_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
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

fn fail(common: &CommonArgs, e: anyhow::Error, started: Instant) -> u8 {
    eprintln!("error: {e:#}");
    if common.json {
        print_json(&Summary::failed(format!("{e:#}"), started));
    }
    EXIT_FATAL
}

fn print_json(summary: &Summary) {
    match serde_json::to_string(summary) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print the summary as JSON: {e}"),
    }
}

fn entities(name: Option<&str>) -> u8 {
    let catalog = Catalog::builtin();
    match name {
        None => {
            println!("{:<38} {:<14} {:>6}  label", "entity", "kind", "fields");
            for e in catalog.entities() {
                let kind = match e.kind {
                    EntityKind::InvoiceHeader => "header",
                    EntityKind::InvoiceLine => "line",
                    EntityKind::Master => "master",
                    EntityKind::Ledger => "ledger (export)",
                };
                println!("{:<38} {:<14} {:>6}  {}", e.name, kind, e.fields.len(), e.label);
            }
            EXIT_OK
        }
        Some(n) => {
            let Some(e) = catalog.get(n) else {
                eprintln!("error: unknown entity `{n}`; `invoiceflow entities` lists them");
                return EXIT_USAGE;
            };
            println!("{} — {}", e.name, e.label);
            if let Some(d) = &e.d365_entity {
                println!(
                    "D365 entity: {d}{}",
                    e.odata_collection.as_ref().map(|c| format!(" (OData {c})")).unwrap_or_default()
                );
            }
            println!("{}", e.description);
            let key: Vec<&str> = e.key.iter().map(|&k| e.fields[k].name.as_str()).collect();
            println!("import key: {}", key.join(", "));
            if !e.d365_key.is_empty() {
                println!("D365 key: {}", e.d365_key.join(", "));
            }
            if !e.headers.is_empty() {
                println!("lines of: {}", e.headers.join(", "));
            }
            println!();
            println!("{:<40} {:<40} {:<22} {:<9} role", "field", "staging (DMF column)", "type", "required");
            for f in &e.fields {
                let role = f.role.map(|r| format!("{r:?}")).unwrap_or_default();
                let ext = if f.extension { " (extension)" } else { "" };
                println!(
                    "{:<40} {:<40} {:<22} {:<9} {role}{ext}",
                    f.name,
                    f.staging,
                    f.ty.to_string(),
                    if f.required { "yes" } else { "" }
                );
            }
            EXIT_OK
        }
    }
}

fn rules() -> u8 {
    for r in Rule::ALL {
        println!("{:<26} {}\n{:<26} fix: {}", r.id(), r.what(), "", r.fix());
    }
    EXIT_OK
}
