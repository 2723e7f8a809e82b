//! The `invoiceflow` binary: parse arguments, set up logging, run, map the outcome to an
//! exit code (0 ok, 3 some rows rejected, 1 fatal, 2 usage).

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use invoiceflow::cli::{Cli, Command};
use invoiceflow::entity::Catalog;
use invoiceflow::job::{self, Job};
use invoiceflow::pipeline::{self, ImportRequest, PostRequest};
use invoiceflow::post::PostingOptions;

// mimalloc: the import path allocates and frees many small values across threads, where it
// is markedly faster than the system allocator (measured in BENCHMARKS.md).
#[global_allocator]
static GLOBAL: invoiceflow::alloc::MiMalloc = invoiceflow::alloc::MiMalloc;

mod commands;

use commands::{EXIT_FATAL, EXIT_OK, EXIT_USAGE};

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
        Command::Entities(a) => commands::info::entities(a.entity.as_deref()),
        Command::Rules => commands::info::rules(),
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
                        rejects_like_source: job.rejects_like_source,
                        batch_size: job.batch_size,
                        run_date: pipeline::today(),
                        progress: !a.common.quiet,
                        post: job.post,
                        master_mappings: job.master_mappings,
                    };
                    let dry_run = req.post.is_none();
                    commands::import::run_import(&req, &a.common, dry_run, started, &job.exports, &job.einvoices)
                }
                Err(e) => {
                    commands::fail(&a.common, anyhow::Error::new(e).context("the job file is not usable"), started)
                }
            }
        }
        Command::Import(a) => commands::import::import(a),
        Command::Export(a) => commands::export::export_command(a),
        Command::Post(a) => commands::post::post_command(a),
        Command::Check(a) => commands::check::check_command(a),
        Command::Einvoice(a) => commands::einvoice::einvoice_command(a),
        Command::SkipEinvoice(a) => commands::einvoice::skip_command(a),
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
                all_categories: a.all_categories,
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
