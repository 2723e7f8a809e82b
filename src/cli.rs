//! Command line: clap definitions, and the step from arguments to a job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::pipeline::Push;

/// invoiceflow moves customer invoices between systems: it reads D365-shaped header and line
/// entity files (or legacy exports through mapping files), validates them row by row and
/// reports every rejected row with file, line, field and rule, posts the accepted invoices into
/// a ledger store, and writes CSV/Parquet exports and UBL/CII e-invoices with change tracking.
///
/// Exit codes: 0 everything accepted; 3 finished with rejected rows (rejects written, the rest
/// committed) or refused e-invoices; 1 fatal (nothing of the failing stage kept); 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "invoiceflow", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a job file: master data, imports, validation, posting, exports, e-invoices (see
    /// samples/job.toml).
    Run(RunArgs),
    /// Import entity files: read, map, validate, and post into the store (with --store); write
    /// rejects.
    Import(ImportArgs),
    /// Post the drafts stored with `import --no-post`, with the current master data.
    Post(PostArgs),
    /// Export entities from the store as CSV or Parquet: full, or incremental for a named job.
    Export(ExportArgs),
    /// Write e-invoices (PEPPOL BIS 3 UBL or CII) for posted invoices; each is checked first.
    Einvoice(EinvoiceArgs),
    /// Skip e-invoices a job refused (they stay pending until written or skipped), recording
    /// who skipped which and why; or list the pending ones.
    SkipEinvoice(SkipArgs),
    /// Check UBL or CII e-invoice files (ours or a partner's) against the built-in EN 16931
    /// and PEPPOL rules.
    Check(CheckArgs),
    /// List the entity definitions, or describe one with its fields, types and keys.
    Entities(EntitiesArgs),
    /// List the validation rules with their ids and what fixes a row that breaks them.
    Rules,
    /// Write a seeded D365-shaped data set (master data, headers, lines) for tests and
    /// benchmarks.
    Generate(GenerateArgs),
}

/// Options shared by commands that do work.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Print the run summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Worker threads, 1 to 256 (default: all cores). Output is the same for any number.
    #[arg(long, value_name = "N", value_parser = ranged::<1, { crate::job::MAX_THREADS }>)]
    pub threads: Option<usize>,
    /// Hide progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Seconds to wait for another process that holds the store (an import writing, or another
    /// program with the database open) before giving up. Exports and e-invoices do not wait for
    /// an import: they read the last committed state.
    #[arg(long, value_name = "SECS")]
    pub lock_timeout: Option<u64>,
}

/// `invoiceflow run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job file.
    #[arg(value_name = "JOB.toml")]
    pub job: PathBuf,
    /// Use this store instead of the job's.
    #[arg(long, value_name = "DB")]
    pub store: Option<PathBuf>,
    /// Write rejects here instead of the job's folder.
    #[arg(long, value_name = "DIR")]
    pub rejects: Option<PathBuf>,
    /// Write the job's exports into this folder instead of their own.
    #[arg(long, value_name = "DIR")]
    pub exports: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `invoiceflow import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Entity files, as ENTITY=FILE or FILE (the entity is then taken from the mapping's file
    /// patterns or the file name, e.g. SalesInvoiceJournalHeader.csv or
    /// "Customer invoice lines.csv"). CSV, or Parquet by extension.
    #[arg(value_name = "[ENTITY=]FILE", required = true)]
    pub files: Vec<String>,
    /// Folder with master data files named after their entities (Customer.csv,
    /// LegalEntity.csv, SalesTaxCode.csv, SalesTaxGroup.csv, ItemSalesTaxGroup.csv,
    /// PaymentTerms.csv, ExchangeRate.csv, …).
    #[arg(long, value_name = "DIR")]
    pub master: PathBuf,
    /// Mapping file for a legacy layout; repeat for several layouts. A file takes the mapping
    /// whose `files` patterns match its name (or, with ENTITY=FILE, the one mapping that
    /// describes that entity; or the only mapping given when it has no patterns).
    #[arg(long, value_name = "M.toml")]
    pub mapping: Vec<PathBuf>,
    /// Encoding of files whose mapping does not name one (a BOM always wins), e.g.
    /// windows-1252 for a Western European legacy export without a mapping file.
    #[arg(long, value_enum, value_name = "ENCODING")]
    pub encoding: Option<crate::read::csv::Encoding>,
    /// Legal entity (dataAreaId) for rows that carry none. Without it, the only legal entity
    /// of the master data; when it has several, a row without one is rejected and says so.
    #[arg(long, value_name = "ID")]
    pub legal_entity: Option<String>,
    /// What the files say about the invoices of the store. `replace`: each invoice of the files
    /// replaces the stored draft with its key, whole; nothing else is touched. `full`: as
    /// replace, and the header files are the complete set of their entity for each legal entity
    /// they name: drafts they no longer hold are removed and posted ones they no longer hold are
    /// listed (never touched; `absent.csv` in the rejects folder lists them all). `incremental`:
    /// the files hold new and changed rows only; an invoice of the store is completed from them
    /// (a header alone keeps the stored lines, lines alone take the stored header, lines replace
    /// stored lines with the same line number and add the others); a completed posted invoice
    /// that differs is refused (store.posted_changed).
    #[arg(long, value_enum, default_value_t = Push::Replace)]
    pub push: Push,
    /// Folder for rejects files (default: no rejects files).
    #[arg(long, value_name = "DIR")]
    pub rejects: Option<PathBuf>,
    /// How each file's rejects file is written: `csv` (UTF-8, commas) or `source` (the input
    /// file's own delimiter, encoding, BOM and line ends, so that the corrected rows can be fed
    /// back through the same mapping).
    #[arg(long, value_enum, default_value_t = RejectsDialect::Csv)]
    pub rejects_dialect: RejectsDialect,
    /// Ledger store to post into (SQLite, created when missing). Without it, import validates
    /// only.
    #[arg(long, value_name = "DB")]
    pub store: Option<PathBuf>,
    /// Validate only; commit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Store validated invoices as drafts without posting them (needs --store).
    #[arg(long)]
    pub no_post: bool,
    /// Compute the posting and report it; write nothing to the store.
    #[arg(long)]
    pub pro_forma: bool,
    /// With --pro-forma: write the computed invoices to this folder (pro-forma.json with totals,
    /// VAT breakdown and lines; pro-forma-invoices.csv and pro-forma-lines.csv).
    #[arg(long, value_name = "DIR", requires = "pro_forma")]
    pub pro_forma_out: Option<PathBuf>,
    /// With --pro-forma-out: also write each pro forma invoice as an e-invoice in this syntax,
    /// with the pro forma type code 325.
    #[arg(long, value_enum, requires = "pro_forma_out")]
    pub pro_forma_syntax: Option<crate::einvoice::Syntax>,
    /// VAT rounding for documents whose source gives no tax total.
    #[arg(long, value_enum, default_value_t = RoundingArg::Document)]
    pub rounding: RoundingArg,
    #[command(flatten)]
    pub posting: PostingFlags,
    /// Records per batch.
    #[arg(long, value_name = "N", default_value_t = crate::job::DEFAULT_BATCH_SIZE,
          value_parser = ranged::<1, { crate::job::MAX_BATCH_SIZE }>)]
    pub batch_size: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Posting options shared by `import` and `post`.
#[derive(Debug, Args)]
pub struct PostingFlags {
    /// Credit limit check when posting.
    #[arg(long, value_enum, default_value_t = crate::post::CreditLimitCheck::None)]
    pub credit_limit: crate::post::CreditLimitCheck,
    /// Credit correction (storno): credit notes keep the original side with negative amounts.
    #[arg(long)]
    pub credit_correction: bool,
    /// Renumber invoice lines 1, 2, 3 … when posting.
    #[arg(long)]
    pub sequential_line_numbers: bool,
    /// Do not post zero-priced lines to revenue.
    #[arg(long)]
    pub no_zero_price_revenue: bool,
    /// Accept credit notes whose original invoice is neither in the store nor in the import
    /// (a migration that starts mid-history); the summary counts them.
    #[arg(long)]
    pub originals_outside_store: bool,
    /// Ledger entries per invoice line (`line`), or summarised per main account, posting type
    /// and tax code (`summary`, D365's summarised voucher).
    #[arg(long, value_enum, default_value_t = crate::post::LedgerDetail::Line)]
    pub ledger_detail: crate::post::LedgerDetail,
    /// Invoices per store transaction.
    #[arg(long, value_name = "N", default_value_t = crate::job::DEFAULT_INVOICES_PER_BATCH,
          value_parser = ranged::<1, { crate::job::MAX_INVOICES_PER_BATCH }>)]
    pub invoices_per_batch: usize,
}

impl PostingFlags {
    /// The posting options these flags ask for.
    pub fn options(
        &self,
        rounding: crate::model::totals::RoundingPolicy,
        pro_forma: bool,
    ) -> crate::post::PostingOptions {
        crate::post::PostingOptions {
            rounding,
            zero_price_to_revenue: !self.no_zero_price_revenue,
            sequential_line_numbers: self.sequential_line_numbers,
            credit_limit: self.credit_limit,
            credit_correction: self.credit_correction,
            pro_forma,
            originals_outside_store: self.originals_outside_store,
            ledger_detail: self.ledger_detail,
        }
    }
}

/// `invoiceflow post`.
#[derive(Debug, Args)]
pub struct PostArgs {
    /// The ledger store holding the drafts.
    #[arg(long, value_name = "DB")]
    pub store: PathBuf,
    /// Folder with the master data files (as for import).
    #[arg(long, value_name = "DIR")]
    pub master: PathBuf,
    /// Folder for rejects files (rejected master data rows and drafts refused by posting).
    #[arg(long, value_name = "DIR")]
    pub rejects: Option<PathBuf>,
    /// A mapping for master data files that are not named after their entity (a legacy
    /// customer list: its `[entity.Customer]` section), as for import; repeatable.
    #[arg(long, value_name = "M.toml")]
    pub mapping: Vec<PathBuf>,
    #[command(flatten)]
    pub posting: PostingFlags,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `invoiceflow export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The ledger store.
    #[arg(long, value_name = "DB")]
    pub store: PathBuf,
    /// Entity to export (repeat for several): SalesInvoiceJournalHeader, SalesInvoiceHeaderV2,
    /// BusinessDocumentSalesInvoiceLineItem, SalesInvoiceLineV3, FreeTextInvoiceHeader,
    /// FreeTextInvoiceLine, GeneralJournalAccountEntry, CustomerTransaction.
    #[arg(long, value_name = "E", required = true)]
    pub entity: Vec<String>,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: crate::export::Format,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Change-tracking job: export what changed since this job's last run (all on its first).
    /// Without it, a full export.
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// Forget the job's watermarks first (the next run exports everything).
    #[arg(long, requires = "job")]
    pub reset: bool,
    /// CSV as D365's CSV-Unicode (UTF-16 LE with BOM, CRLF), for files going back into D365.
    #[arg(long)]
    pub dmf_unicode: bool,
    /// CSV to open in a spreadsheet: a text cell that starts with =, +, -, @, a tab or a CR
    /// gets a ' in front so that it shows instead of running as a formula (OWASP's advice).
    /// Off by default: the file keeps the values as they are and imports back unchanged.
    #[arg(long)]
    pub spreadsheet_safe: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `invoiceflow einvoice`.
#[derive(Debug, Args)]
pub struct EinvoiceArgs {
    /// The ledger store.
    #[arg(long, value_name = "DB")]
    pub store: PathBuf,
    /// UBL (PEPPOL BIS Billing 3.0) or CII (D16B, EN 16931).
    #[arg(long, value_enum)]
    pub syntax: crate::einvoice::Syntax,
    /// Output folder (one file per document, named after its number).
    #[arg(long, value_name = "DIR", required_unless_present = "dry_run")]
    pub out: Option<PathBuf>,
    /// Change-tracking job: documents posted since this job's last run, and the documents
    /// earlier runs refused (they stay pending until written or skipped). Without it, all.
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// Build and check every document but write none and record nothing (the job's watermark
    /// and pending list stay as they are): which documents would be refused, and why (exit 3
    /// when any would be).
    #[arg(long)]
    pub dry_run: bool,
    /// Master data folder: re-issue the run's documents with today's master data — seller and
    /// buyer as corrected, each VAT row's exemption reason as its tax code has it now, every
    /// amount as posted (so a corrected address, identifier or exemption reason takes effect on
    /// documents refused before or already sent). Without it, documents carry the parties
    /// stored when they were posted.
    #[arg(long, value_name = "DIR")]
    pub master: Option<PathBuf>,
    /// A mapping for master data files that are not named after their entity (a legacy
    /// customer list: its `[entity.Customer]` section), as for import; repeatable.
    #[arg(long, value_name = "M.toml")]
    pub mapping: Vec<PathBuf>,
    /// Also write each refused document, as it would have been sent, into this folder (named
    /// as in the output folder): to see what a rule objects to, or to check it with another
    /// validator. Works with --dry-run.
    #[arg(long, value_name = "DIR")]
    pub refused: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `invoiceflow skip-einvoice`.
#[derive(Debug, Args)]
pub struct SkipArgs {
    /// The ledger store.
    #[arg(long, value_name = "DB")]
    pub store: PathBuf,
    /// The change-tracking job whose pending documents to skip.
    #[arg(long, value_name = "NAME")]
    pub job: String,
    /// The job's output syntax.
    #[arg(long, value_enum)]
    pub syntax: crate::einvoice::Syntax,
    /// Legal entity of the documents; without it, the one legal entity each number is pending
    /// in (a number pending in several asks for it).
    #[arg(long, value_name = "ID")]
    pub legal_entity: Option<String>,
    /// Invoice numbers to skip; without any, the pending documents are listed.
    #[arg(value_name = "NUMBER")]
    pub numbers: Vec<String>,
    /// Why they are skipped (required with numbers; recorded with the name and the time).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Who skips them (default: the USER environment variable).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// List the job's pending and skipped documents.
    #[arg(long)]
    pub list: bool,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for a writer's transaction.
    #[arg(long, value_name = "SECS")]
    pub lock_timeout: Option<u64>,
}

/// `invoiceflow check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// UBL Invoice/CreditNote or CII files, or folders of them (searched with their sub-folders).
    #[arg(value_name = "FILE", required_unless_present = "rules")]
    pub files: Vec<PathBuf>,
    /// List every rule the check implements (id, rule set, syntaxes, what it asks) instead of
    /// checking files; with --json as JSON.
    #[arg(long)]
    pub rules: bool,
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `invoiceflow generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of invoices (about 3 % of them credit notes; ~10.8 lines each on average). Every
    /// field of SalesInvoiceHeaderV2 and BusinessDocumentSalesInvoiceLineItem is written.
    #[arg(long, value_name = "N")]
    pub invoices: u64,
    /// Random seed: the same seed writes the same bytes.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Share of invoices given one defect (0 to 1), for the reject paths.
    #[arg(long, value_name = "R", default_value_t = 0.0)]
    pub defect_rate: f64,
    /// Number of customers.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub customers: u64,
    /// Number of the first invoice, to write a later batch of the same data set.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub first: u64,
    /// Also write the header and line files as Parquet.
    #[arg(long)]
    pub parquet: bool,
    /// Lines not grouped by invoice: the lines of each block of 512 invoices are interleaved.
    #[arg(long)]
    pub unsorted: bool,
    /// Customers of every VAT category the e-invoice writers support, not only S, K and G: zero
    /// rated (Z), exempt (E), domestic reverse charge (AE), not subject to VAT (O), IGIC (L),
    /// IPSI (M); one invoice in six also gets a document-level discount (3 %) and one in eight a freight charge — a different data set, for validating the documents of every category and structure.
    #[arg(long)]
    pub all_categories: bool,
}

/// A whole number in `LO..=HI` (a usage error otherwise, with the range in the message).
fn ranged<const LO: usize, const HI: usize>(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (LO..=HI).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not a whole number from {LO} to {HI}")),
    }
}

/// VAT rounding policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoundingArg {
    /// VAT per rate on the sum of the lines (EN 16931).
    Document,
    /// VAT per line, summed (legacy systems).
    Line,
}

/// `invoiceflow entities`.
#[derive(Debug, Args)]
pub struct EntitiesArgs {
    /// Entity to describe (name, D365 name, OData collection or DMF label).
    pub entity: Option<String>,
}

/// How rejects files are written (see `ImportArgs::rejects_dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectsDialect {
    /// UTF-8, commas.
    #[default]
    Csv,
    /// The input file's own delimiter, encoding, BOM and line ends.
    Source,
}
