//! Posting into the store: invariants over generated data, determinism across threads and
//! batch sizes, idempotent re-imports, kills at any point, the lock, immutability of posted
//! invoices, drafts and the credit limit.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use invoiceflow::generate::{generate, GenerateRequest};
use invoiceflow::store::Store;

use crate::{fixture, invoiceflow, root, walk};

fn data(dir: &Path, invoices: u64, defect_rate: f64) {
    generate(&GenerateRequest {
        invoices,
        seed: 42,
        out: dir.to_path_buf(),
        defect_rate,
        customers: 300,
        first: 1,
        parquet: false,
        unsorted: false,
        all_categories: false,
    })
    .unwrap();
}

fn import_args(dir: &Path, store: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["import", "--quiet", "--json", "--master"].map(String::from).to_vec();
    a.push(dir.join("master").display().to_string());
    a.extend(["--store".into(), store.display().to_string()]);
    a.push(dir.join("SalesInvoiceHeaderV2.csv").display().to_string());
    a.push(dir.join("BusinessDocumentSalesInvoiceLineItem.csv").display().to_string());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn import_into(dir: &Path, store: &Path, extra: &[&str]) -> crate::Run {
    let a = import_args(dir, store, extra);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    invoiceflow(&refs)
}

fn dec(s: &Option<String>) -> Decimal {
    Decimal::from_str(s.as_deref().unwrap_or("0")).unwrap()
}

fn dump(store: &Path) -> String {
    Store::open(store).unwrap().dump(invoiceflow::entity::field_name).unwrap()
}

/// The ledger invariants; returns the number of invoices checked.
fn check_invariants(store: &Path) -> usize {
    let s = Store::open(store).unwrap();
    s.expand_bodies(invoiceflow::entity::field_name).unwrap();
    // Every voucher balances in both currencies.
    let mut vouchers: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for r in s.query_text("SELECT voucher, amount, amount_acc FROM ledger_entry", &[]).unwrap() {
        let e = vouchers.entry(r[0].clone().unwrap()).or_default();
        e.0 += dec(&r[1]);
        e.1 += dec(&r[2]);
    }
    for (v, (a, b)) in &vouchers {
        assert!(a.is_zero() && b.is_zero(), "voucher {v} does not balance: {a} / {b}");
    }
    // Each customer's balance (customer balance ledger lines) equals the sum of its open items.
    let mut ledger: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in s
        .query_text(
            "SELECT i.customer, e.amount_acc FROM ledger_entry e JOIN invoice i ON i.id = e.invoice_id WHERE e.posting_type = 'CustomerBalance'",
            &[],
        )
        .unwrap()
    {
        *ledger.entry(r[0].clone().unwrap()).or_default() += dec(&r[1]);
    }
    let mut items: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in s.query_text("SELECT customer, amount_acc FROM customer_trans", &[]).unwrap() {
        *items.entry(r[0].clone().unwrap()).or_default() += dec(&r[1]);
    }
    assert_eq!(ledger, items);
    // Every header total equals its lines plus VAT.
    let invoices = s
        .query_text("SELECT id, line_total, allowance_total, charge_total, vat_total, tax_inclusive FROM invoice", &[])
        .unwrap();
    for r in &invoices {
        let lines: Decimal = s
            .query_text("SELECT net_amount FROM invoice_line WHERE invoice_id = ?1", &[&r[0].clone().unwrap()])
            .unwrap()
            .iter()
            .map(|l| dec(&l[0]))
            .sum();
        let vat: Decimal = s
            .query_text("SELECT amount FROM invoice_tax WHERE invoice_id = ?1", &[&r[0].clone().unwrap()])
            .unwrap()
            .iter()
            .map(|l| dec(&l[0]))
            .sum();
        assert_eq!(lines, dec(&r[1]), "invoice {:?}", r[0]);
        assert_eq!(vat, dec(&r[4]));
        assert_eq!(dec(&r[5]), lines - dec(&r[2]) + dec(&r[3]) + vat, "invoice {:?}", r[0]);
    }
    // Numbers are gap-free per sequence.
    let mut seqs: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in s
        .query_text(
            "SELECT voucher FROM invoice UNION ALL SELECT number FROM invoice WHERE source_key LIKE 'FT:%'",
            &[],
        )
        .unwrap()
    {
        let v = r[0].clone().unwrap();
        let cut = v.rfind('-').unwrap();
        seqs.entry(v[..cut].to_string()).or_default().push(v[cut + 1..].parse().unwrap());
    }
    for (prefix, mut n) in seqs {
        n.sort_unstable();
        assert_eq!(n, (1..=n.len() as u64).collect::<Vec<_>>(), "sequence {prefix} has gaps");
    }
    invoices.len()
}

#[test]
fn generated_data_posts_with_every_invariant_holding() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path(), 1500, 0.02);
    let store = dir.path().join("s.db");
    let run = import_into(dir.path(), &store, &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    crate::assert_nothing_lost(&json);
    let posted = json["posting"]["invoices"].as_u64().unwrap() + json["posting"]["credit_notes"].as_u64().unwrap();
    assert!(posted > 1400, "{posted}");
    assert_eq!(check_invariants(&store), posted as usize);
}

/// Ledger sums by (voucher, account, posting type, tax code): amount, accounting amount, entries.
type Sums = BTreeMap<(Option<String>, Option<String>, Option<String>, Option<String>), (Decimal, Decimal, u32)>;

#[test]
fn a_summarised_ledger_has_fewer_entries_with_the_same_balances() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path(), 400, 0.0);
    let mut runs = Vec::new();
    for detail in ["line", "summary"] {
        let store = dir.path().join(format!("{detail}.db"));
        let run = import_into(dir.path(), &store, &["--ledger-detail", detail]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let json = run.json();
        assert_eq!(check_invariants(&store), 400);
        let s = Store::open(&store).unwrap();
        s.expand_bodies(invoiceflow::entity::field_name).unwrap();
        // Per voucher, account, posting type and tax code: the same sum whatever the detail.
        let mut sums: Sums = BTreeMap::new();
        for r in s
            .query_text("SELECT voucher, account, posting_type, tax_code, amount, amount_acc FROM ledger_entry", &[])
            .unwrap()
        {
            let e = sums.entry((r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone())).or_default();
            e.0 += dec(&r[4]);
            e.1 += dec(&r[5]);
            e.2 += 1;
        }
        runs.push((json["posting"]["ledger_entries"].as_u64().unwrap(), sums));
    }
    let (line, summary) = (&runs[0], &runs[1]);
    let amounts = |m: &Sums| m.iter().map(|(k, v)| (k.clone(), v.0, v.1)).collect::<Vec<_>>();
    assert_eq!(amounts(&line.1), amounts(&summary.1));
    // A summarised voucher has one entry per group; the line detail has more wherever an
    // invoice has two lines on one revenue account.
    assert_eq!(summary.0, summary.1.len() as u64);
    assert!(summary.1.values().all(|v| v.2 == 1));
    assert!(line.0 > summary.0 + 100, "{} vs {}", line.0, summary.0);
}

/// Lines of one invoice cut by batch boundaries anywhere, with rows whose key has no header
/// (or cannot be read) among them — inside an invoice's lines, and filling a whole batch while
/// an invoice is open — give the same summary and the same rejects at every batch size.
#[test]
fn invoices_cut_by_batches_around_rows_without_a_header_import_alike_at_every_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("lines.csv");
    std::fs::write(
        &lines,
        "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,LINEAMOUNT,ITEMSALESTAXGROUP\n\
         DEMF,T-001,1,BK-1001,City bike,2,50.00,100.00,FULL\n\
         DEMF,T-002,1,AC-0101,Lock,1,10.00,10.00,FULL\n\
         DEMF,X-404,1,AC-0101,Lock,1,10.00,10.00,FULL\n\
         DEMF,X-404,2,AC-0101,Lock,1,10.00,10.00,FULL\n\
         DEMF,too,few\n\
         DEMF,T-002,2,BO-0007,Book,4,2.50,10.00,REDUCED\n\
         DEMF,T-003,1,TI-0028,Tubes,3,33.33,99.99,FULL\n",
    )
    .unwrap();
    let headers = format!("SalesInvoiceJournalHeader={}", fixture("base/headers.csv").display());
    let lines = format!("BusinessDocumentSalesInvoiceLineItem={}", lines.display());
    let mut seen: Option<(String, Vec<String>)> = None;
    for batch in ["1", "2", "3", "4", "5", "100"] {
        let rejects = dir.path().join(format!("rejects-{batch}"));
        let run = invoiceflow(&[
            "import",
            "--dry-run",
            "--json",
            "--quiet",
            "--batch-size",
            batch,
            "--master",
            root().join("samples/master").to_str().unwrap(),
            "--rejects",
            rejects.to_str().unwrap(),
            &headers,
            &lines,
        ]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        let json = run.json();
        let counts: Vec<String> = json["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {} {} {}", f["entity"], f["read"], f["accepted"], f["rejected"]))
            .collect();
        // The three invoices pass with their four lines; the two lines of X-404 have no
        // header, and the short row has no key.
        assert_eq!(
            counts,
            ["\"SalesInvoiceJournalHeader\" 3 3 0", "\"BusinessDocumentSalesInvoiceLineItem\" 7 4 3"],
            "batch size {batch}"
        );
        let rows = std::fs::read_to_string(rejects.join("rejects.csv")).unwrap();
        let rules: Vec<String> =
            rows.lines().skip(1).map(|l| l.split(',').take(4).collect::<Vec<_>>().join(",")).collect();
        assert_eq!(rules.iter().filter(|r| r.contains("relation.no_header")).count(), 2, "batch size {batch}: {rows}");
        match &seen {
            None => seen = Some((rows, counts)),
            Some((r, c)) => {
                assert_eq!((r, c), (&rows, &counts), "batch size {batch}");
            }
        }
    }
}

#[test]
fn thread_count_and_batch_size_do_not_change_the_store() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path(), 800, 0.01);
    let mut dumps = Vec::new();
    let mut exports = Vec::new();
    for (threads, batch) in [("1", "1000"), ("4", "1000"), ("4", "7"), ("2", "64")] {
        let store = dir.path().join(format!("s-{threads}-{batch}.db"));
        let run = import_into(
            dir.path(),
            &store,
            &["--threads", threads, "--invoices-per-batch", batch, "--batch-size", batch],
        );
        assert_eq!(run.code, 3, "{}", run.stderr);
        dumps.push(dump(&store));
        // Exports with as many threads: a CSV export of the lines is made in chunks of 4,096
        // rows on several threads, or on one without chunks; the bytes are the same.
        let out = dir.path().join(format!("x-{threads}-{batch}"));
        let entities = ["BusinessDocumentSalesInvoiceLineItem", "GeneralJournalAccountEntry"];
        for (format, unicode) in [("parquet", false), ("csv", false), ("csv", true)] {
            let mut args = vec!["export", "--store", store.to_str().unwrap(), "--threads", threads, "--format", format];
            for e in entities {
                args.extend(["--entity", e]);
            }
            let sub = out.join(format!("{format}-{unicode}"));
            args.extend(["--out", sub.to_str().unwrap()]);
            if unicode {
                args.push("--dmf-unicode");
            }
            let run = invoiceflow(&args);
            assert_eq!(run.code, 0, "{}", run.stderr);
        }
        let mut files: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        exports.push(files.iter().map(|f| std::fs::read(f).unwrap()).collect::<Vec<_>>());
    }
    assert!(dumps[0].lines().count() > 8000);
    for d in &dumps[1..] {
        assert!(d == &dumps[0], "stores differ");
    }
    assert_eq!(exports[0].len(), 6);
    // The line export in CSV (the first file: csv-false/BusinessDocument…): a header and a row
    // for each of the 8,172 lines, two chunks on several threads; in UTF-16 (the third), a BOM
    // first.
    let lines = &exports[0][0];
    assert!(lines.starts_with(b"DATAAREAID,INVOICEID,"));
    assert_eq!(lines.iter().filter(|b| **b == b'\n').count(), 1 + 8172);
    assert!(exports[0][2].starts_with(&[0xFF, 0xFE, b'D', 0]));
    for e in &exports[1..] {
        assert!(e == &exports[0], "exports differ");
    }
}

#[test]
fn importing_the_same_files_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path(), 300, 0.0);
    let store = dir.path().join("s.db");
    let first = import_into(dir.path(), &store, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = dump(&store);
    let second = import_into(dir.path(), &store, &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let json = second.json();
    assert_eq!(json["posting"]["unchanged"], 300);
    assert_eq!(json["posting"]["change_version"], first.json()["posting"]["change_version"]);
    for i in json["imports"].as_array().unwrap() {
        assert_eq!((i["accepted"].as_u64(), i["unchanged"].as_u64()), (Some(0), i["read"].as_u64()));
    }
    assert_eq!(dump(&store), before);
}

fn version_of(store: &Path) -> i64 {
    let Ok(c) = rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return 0;
    };
    c.query_row("SELECT value FROM meta WHERE key = 'change_version'", [], |r| r.get::<_, String>(0))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_kill_at_any_point_then_a_rerun_gives_the_store_of_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path(), 4000, 0.01);
    let clean = dir.path().join("clean.db");
    let run = import_into(dir.path(), &clean, &["--invoices-per-batch", "25"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let total = version_of(&clean);
    assert!(total > 3800);

    let store = dir.path().join("crash.db");
    let args = import_args(dir.path(), &store, &["--invoices-per-batch", "25"]);
    let mut mid_run_kills = 0;
    // Kill while reading (no commit yet), after the first commit, and half way.
    for target in [0, 1, total / 2, total - 200] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_invoiceflow")).args(&args).spawn().unwrap();
        let started = Instant::now();
        if target == 0 {
            std::thread::sleep(Duration::from_millis(150));
        } else {
            while version_of(&store) < target && started.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let at = version_of(&store);
        if at > 0 && at < total {
            mid_run_kills += 1;
        }
        // Whatever was committed is whole.
        check_invariants(&store);
    }
    assert!(mid_run_kills >= 2, "only {mid_run_kills} kills landed while posting");
    let rerun = import_into(dir.path(), &store, &["--invoices-per-batch", "25"]);
    assert_eq!(rerun.code, 3, "{}", rerun.stderr);
    assert_eq!(dump(&store), dump(&clean));
}

#[test]
fn a_second_process_on_the_same_store_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let held = Store::open(&store).unwrap();
    let run = invoiceflow(&[
        "import",
        "--quiet",
        "--lock-timeout",
        "1",
        "--master",
        &root().join("samples/master").display().to_string(),
        "--store",
        &store.display().to_string(),
        &format!("SalesInvoiceJournalHeader={}", fixture("base/headers.csv").display()),
        &format!("BusinessDocumentSalesInvoiceLineItem={}", fixture("base/lines.csv").display()),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("the store is in use by another invoiceflow process (pid "), "{}", run.stderr);
    assert!(run.stderr.contains("waited 1 s for it (--lock-timeout)"), "{}", run.stderr);
    drop(held);
}

fn base_import(store: &Path, headers: &Path, extra: &[&str], master: &Path) -> crate::Run {
    let mut a: Vec<String> =
        ["import", "--quiet", "--json", "--rejects", "rejects", "--master"].map(String::from).to_vec();
    a.push(master.display().to_string());
    a.extend(["--store".into(), store.display().to_string()]);
    a.push(format!("SalesInvoiceJournalHeader={}", headers.display()));
    a.push(format!("BusinessDocumentSalesInvoiceLineItem={}", fixture("base/lines.csv").display()));
    a.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    invoiceflow(&refs)
}

#[test]
fn a_posted_invoice_is_immutable_and_a_draft_is_upserted() {
    let dir = tempfile::tempdir().unwrap();
    let master = root().join("samples/master");
    let changed = dir.path().join("headers.csv");
    let text = std::fs::read_to_string(fixture("base/headers.csv")).unwrap().replace("PO 1", "PO 1 changed");
    std::fs::write(&changed, text).unwrap();

    let posted = dir.path().join("posted.db");
    assert_eq!(base_import(&posted, &fixture("base/headers.csv"), &[], &master).code, 0);
    let run = base_import(&posted, &changed, &[], &master);
    assert_eq!(run.code, 3);
    let json = run.json();
    assert_eq!(json["posting"]["rejected"], 1);
    assert_eq!(json["posting"]["unchanged"], 2);
    assert_eq!(json["rejects_by_rule"][0]["rule"], "relation.header_rejected");
    assert_eq!(json["rejects_by_rule"][1]["rule"], "store.posted_changed");
    let r = run.rejects().into_iter().find(|r| r.rule == "store.posted_changed").unwrap();
    assert!(
        r.message.starts_with("invoice T-001 of legal entity DEMF is posted and differs from this row — "),
        "{}",
        r.message
    );

    let drafts = dir.path().join("drafts.db");
    assert_eq!(base_import(&drafts, &fixture("base/headers.csv"), &["--no-post"], &master).code, 0);
    let run = base_import(&drafts, &changed, &["--no-post"], &master);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!((json["posting"]["drafts"].as_u64(), json["posting"]["unchanged"].as_u64()), (Some(1), Some(2)));
    let s = Store::open(&drafts).unwrap();
    s.expand_bodies(invoiceflow::entity::field_name).unwrap();
    let rows = s.query_text("SELECT order_reference, status, version FROM invoice ORDER BY source_key", &[]).unwrap();
    assert_eq!(rows[0], vec![Some("PO 1 changed".into()), Some("draft".into()), Some("4".into())]);
    assert_eq!(s.query_text("SELECT count(*) FROM ledger_entry", &[]).unwrap()[0][0].as_deref(), Some("0"));
}

#[test]
fn the_credit_limit_check_refuses_what_would_exceed_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let master = crate::sample_master_copy(dir.path());
    let customers = std::fs::read_to_string(master.join("Customer.csv")).unwrap();
    let mut out = String::new();
    for (i, l) in customers.lines().enumerate() {
        out.push_str(l);
        out.push_str(match i {
            0 => ",CreditLimit\n",
            1 => ",200\n",
            _ => ",\n",
        });
    }
    std::fs::write(master.join("Customer.csv"), out).unwrap();
    let store = dir.path().join("s.db");
    let run = base_import(&store, &fixture("base/headers.csv"), &["--credit-limit", "balance"], &master);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["posting"]["rejected"], 1);
    assert_eq!(json["posting"]["invoices"], 2);
    let r = run.rejects().into_iter().find(|r| r.rule == "post.credit_limit").unwrap();
    assert_eq!(r.line, 4);
    assert!(
        r.message.starts_with(
            "customer DE-001 has an open balance of 119.00 and this invoice adds 118.99: above the credit limit 200"
        ),
        "{}",
        r.message
    );
}

#[test]
fn drafts_posted_later_give_the_ledger_of_a_direct_import() {
    let dir = tempfile::tempdir().unwrap();
    let master = root().join("samples/master").display().to_string();
    let files = [
        "d365/SalesInvoiceHeaderV2.csv",
        "d365/Customer invoice lines.csv",
        "d365/FreeTextInvoiceHeader.csv",
        "d365/FreeTextInvoiceLine.csv",
    ]
    .map(|f| root().join("samples").join(f).display().to_string());
    let import = |store: &Path, extra: &[&str]| {
        let mut a: Vec<String> =
            ["import", "--quiet", "--json", "--master", master.as_str(), "--store"].map(String::from).to_vec();
        a.push(store.display().to_string());
        a.extend(files.iter().cloned());
        a.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        invoiceflow(&refs)
    };
    let direct = dir.path().join("direct.db");
    assert_eq!(import(&direct, &[]).code, 0);
    let later = dir.path().join("later.db");
    let drafts = import(&later, &["--no-post"]);
    assert_eq!(drafts.json()["posting"]["drafts"], 8);
    let run = invoiceflow(&["post", "--json", "--store", &later.display().to_string(), "--master", &master]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["posting"]["invoices"], 7);
    assert_eq!(run.json()["posting"]["credit_notes"], 1);
    let content = |p: &Path| {
        let s = Store::open(p).unwrap();
        s.expand_bodies(invoiceflow::entity::field_name).unwrap();
        let mut out = s
            .query_text(
                "SELECT number, voucher, tax_inclusive, vat_total, content_hash FROM invoice ORDER BY number",
                &[],
            )
            .unwrap();
        out.extend(
            s.query_text("SELECT voucher, account, posting_type, amount, amount_acc, is_credit FROM ledger_entry ORDER BY voucher, position", &[])
                .unwrap(),
        );
        out.extend(
            s.query_text(
                "SELECT customer, invoice_number, amount, due_date FROM customer_trans ORDER BY invoice_number",
                &[],
            )
            .unwrap(),
        );
        out
    };
    assert_eq!(content(&later), content(&direct));
    // The original files are unchanged against the posted drafts.
    let again = import(&later, &[]);
    assert_eq!(again.json()["posting"]["unchanged"], 8);
    let nothing = invoiceflow(&["post", "--json", "--store", &later.display().to_string(), "--master", &master]);
    assert_eq!(nothing.json()["posting"]["invoices"], 0);
}

/// Lines not grouped by invoice take the partitioned path; the store and every output are the
/// same as from the same data grouped, with 1 thread or several.
#[test]
fn unsorted_lines_give_the_store_and_outputs_of_sorted_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    // The last two check the order after the headers are read (the keys read beside the
    // headers exceed a bound of one byte), as imports with millions of invoices may.
    // The "split" cases read the keys of the line file from its start and from its middle at
    // once (any file larger than 512 bytes is split then).
    let cases = [
        ("sorted", false, "2", None, None),
        ("unsorted", true, "1", None, None),
        ("unsorted2", true, "2", None, None),
        ("sorted-late", false, "2", Some("1"), None),
        ("unsorted-late", true, "2", Some("1"), None),
        ("sorted-split", false, "2", None, Some("1")),
        ("unsorted-split", true, "2", None, Some("1")),
        ("sorted-split-late", false, "2", Some("1"), Some("1")),
    ];
    for (name, unsorted, threads, key_bound, split) in cases {
        let data = dir.path().join(name);
        generate(&GenerateRequest {
            invoices: 1500,
            seed: 11,
            out: data.clone(),
            defect_rate: 0.02,
            customers: 120,
            first: 1,
            parquet: false,
            unsorted,
            all_categories: false,
        })
        .unwrap();
        let store = dir.path().join(format!("{name}.db"));
        let args = import_args(&data, &store, &["--threads", threads, "--batch-size", "333"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut env = vec![("INVOICEFLOW_LOG", "invoiceflow::pipeline::stream=debug")];
        env.extend(key_bound.map(|b| ("INVOICEFLOW_KEY_SCAN_BYTES", b)));
        env.extend(split.map(|b| ("INVOICEFLOW_SPLIT_BYTES", b)));
        let run = crate::invoiceflow_env(tempfile::tempdir().unwrap(), &args, &env);
        assert_eq!(run.code, 3, "{}", run.stderr);
        let checked = format!(
            "in_order={} checked=\"{}\"",
            !unsorted,
            if key_bound.is_some() { "after the headers" } else { "beside the headers" }
        );
        assert!(run.stderr.contains(&checked), "{name}: no `{checked}` in {}", run.stderr);
        assert_eq!(
            run.stderr.contains("Line keys read from two points."),
            split.is_some() && key_bound.is_none(),
            "{name}: {}",
            run.stderr
        );
        let out = dir.path().join(format!("{name}-out"));
        for entity in ["BusinessDocumentSalesInvoiceLineItem", "GeneralJournalAccountEntry"] {
            let e = invoiceflow(&[
                "export",
                "--store",
                &store.display().to_string(),
                "--entity",
                entity,
                "--format",
                "csv",
                "--out",
                &out.display().to_string(),
            ]);
            assert_eq!(e.code, 0, "{}", e.stderr);
        }
        let e = invoiceflow(&[
            "einvoice",
            "--store",
            &store.display().to_string(),
            "--syntax",
            "ubl",
            "--out",
            &out.join("ubl").display().to_string(),
        ]);
        assert_eq!(e.code, 0, "{}", e.stderr);
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for entry in walk(&out) {
            files.push((entry.strip_prefix(&out).unwrap().display().to_string(), std::fs::read(&entry).unwrap()));
        }
        files.sort();
        let json = run.json();
        results.push((dump(&store), files, json["rejects_by_rule"].clone(), json["imports"][1]["rejected"].clone()));
    }
    assert!(results[0].1.len() > 1000, "{} files", results[0].1.len());
    for r in &results[1..] {
        assert!(r.0 == results[0].0, "the stores differ");
        assert!(r.1 == results[0].1, "the outputs differ");
        assert_eq!((&r.2, &r.3), (&results[0].2, &results[0].3));
    }
}

/// Writes header and line files of the base fixture holding only the invoices `keep` (line
/// rows as given, after the header) into `dir` as `name.h.csv` and `name.l.csv`.
fn base_subset(dir: &Path, name: &str, keep: &[&str], lines: &[&str]) -> (std::path::PathBuf, std::path::PathBuf) {
    let headers = std::fs::read_to_string(fixture("base/headers.csv")).unwrap();
    let mut h = String::new();
    for (i, l) in headers.lines().enumerate() {
        if i == 0 || keep.iter().any(|k| l.contains(&format!(",{k},"))) {
            h.push_str(l);
            h.push('\n');
        }
    }
    let mut l = String::from(
        "DATAAREAID,INVOICEID,LINECREATIONSEQUENCENUMBER,ITEMID,ITEMNAME,QTY,SALESPRICE,LINEAMOUNT,ITEMSALESTAXGROUP\n",
    );
    for row in lines {
        l.push_str(row);
        l.push('\n');
    }
    let (hp, lp) = (dir.join(format!("{name}.h.csv")), dir.join(format!("{name}.l.csv")));
    std::fs::write(&hp, h).unwrap();
    std::fs::write(&lp, l).unwrap();
    (hp, lp)
}

/// An import of `files` (ENTITY=FILE) into `store` with `extra` options.
fn import_files(store: &Path, files: &[String], extra: &[&str]) -> crate::Run {
    let master = root().join("samples/master").display().to_string();
    let mut a: Vec<String> =
        ["import", "--quiet", "--json", "--rejects", "rejects", "--master", master.as_str(), "--store"]
            .map(String::from)
            .to_vec();
    a.push(store.display().to_string());
    a.extend(files.iter().cloned());
    a.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    invoiceflow(&refs)
}

fn header_and_lines(h: &Path, l: &Path) -> Vec<String> {
    vec![
        format!("SalesInvoiceJournalHeader={}", h.display()),
        format!("BusinessDocumentSalesInvoiceLineItem={}", l.display()),
    ]
}

fn stored(store: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    let s = Store::open(store).unwrap();
    s.expand_bodies(invoiceflow::entity::field_name).unwrap();
    s.query_text(sql, &[]).unwrap()
}

fn keys_and_status(store: &Path) -> Vec<(String, String)> {
    stored(store, "SELECT source_key, status FROM invoice ORDER BY source_key")
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect()
}

#[test]
fn a_full_push_removes_the_drafts_its_files_no_longer_hold_and_lists_posted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let all = header_and_lines(&fixture("base/headers.csv"), &fixture("base/lines.csv"));
    let (h1, l1) = base_subset(dir.path(), "one", &["T-001"], &["DEMF,T-001,1,BK-1001,City bike,2,50.00,100.00,FULL"]);
    let one = header_and_lines(&h1, &l1);
    let draft = |k: &str| (k.to_string(), "draft".to_string());

    // The default (replace) leaves the drafts the files do not hold.
    let store = dir.path().join("replace.db");
    assert_eq!(import_files(&store, &all, &["--no-post"]).code, 0);
    let run = import_files(&store, &one, &["--no-post"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["push"]["mode"], "replace");
    assert_eq!(run.json()["push"]["drafts_removed"], 0);
    assert_eq!(keys_and_status(&store), vec![draft("T-001"), draft("T-002"), draft("T-003")]);

    // A full push removes them, lists them and writes them to absent.csv.
    let store = dir.path().join("full.db");
    assert_eq!(import_files(&store, &all, &["--no-post"]).code, 0);
    let run = import_files(&store, &one, &["--no-post", "--push", "full"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let push = &run.json()["push"];
    assert_eq!(
        (push["mode"].as_str(), push["drafts_removed"].as_u64(), push["posted_absent"].as_u64()),
        (Some("full"), Some(2), Some(0))
    );
    assert_eq!(push["absent"][1]["key"], "T-003");
    assert_eq!(push["absent"][1]["status"], "draft");
    let absent = std::fs::read_to_string(run.dir.path().join("rejects/absent.csv")).unwrap();
    assert_eq!(
        absent,
        "legal_entity,invoice,entity,status,action\nDEMF,T-002,SalesInvoiceJournalHeader,draft,removed\nDEMF,T-003,SalesInvoiceJournalHeader,draft,removed\n"
    );
    assert_eq!(keys_and_status(&store), vec![draft("T-001")]);
    // The complete set again removes nothing.
    let again = import_files(&store, &all, &["--no-post", "--push", "full"]);
    assert_eq!(again.json()["push"]["drafts_removed"], 0);
    assert_eq!(keys_and_status(&store), vec![draft("T-001"), draft("T-002"), draft("T-003")]);

    // A rejected row still names its invoice: its draft stays.
    let store = dir.path().join("rejected.db");
    assert_eq!(import_files(&store, &all, &["--no-post"]).code, 0);
    let (h2, l2) = base_subset(
        dir.path(),
        "two",
        &["T-001", "T-002"],
        &["DEMF,T-001,1,BK-1001,City bike,2,50.00,100.00,FULL", "DEMF,T-002,1,AC-0101,Lock,1,10.00,10.00,NOSUCHGROUP"],
    );
    let run = import_files(&store, &header_and_lines(&h2, &l2), &["--no-post", "--push", "full"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.json()["push"]["drafts_removed"], 1);
    assert_eq!(keys_and_status(&store), vec![draft("T-001"), draft("T-002")]);

    // Posted invoices are never touched: they are listed.
    let store = dir.path().join("posted.db");
    assert_eq!(import_files(&store, &all, &[]).code, 0);
    let run = import_files(&store, &one, &["--push", "full"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let push = &run.json()["push"];
    assert_eq!((push["drafts_removed"].as_u64(), push["posted_absent"].as_u64()), (Some(0), Some(2)));
    assert_eq!(push["absent"][0]["status"], "posted");
    let posted = |k: &str| (k.to_string(), "posted".to_string());
    assert_eq!(keys_and_status(&store), vec![posted("T-001"), posted("T-002"), posted("T-003")]);
    let human = {
        let master = root().join("samples/master").display().to_string();
        let mut a =
            vec!["import".to_string(), "--master".into(), master, "--store".into(), store.display().to_string()];
        a.extend(one.iter().cloned());
        a.extend(["--push".into(), "full".into()]);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        invoiceflow(&refs)
    };
    assert!(
        human.stderr.contains("full push: 2 posted invoices they no longer hold left as they are (a credit note cancels one): DEMF T-002 (posted), DEMF T-003 (posted)"),
        "{}",
        human.stderr
    );
}

#[test]
fn an_incremental_push_completes_invoices_of_the_store_by_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let all = header_and_lines(&fixture("base/headers.csv"), &fixture("base/lines.csv"));
    let store = dir.path().join("s.db");
    assert_eq!(import_files(&store, &all, &["--no-post"]).code, 0);
    let lines_of = |key: &str| {
        stored(
            &store,
            &format!(
                "SELECT l.line_number, l.quantity, l.net_amount FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id
                 WHERE i.source_key = '{key}' ORDER BY l.position"
            ),
        )
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
    };
    let lines_only = |name: &str, rows: &[&str]| {
        let (_, l) = base_subset(dir.path(), name, &[], rows);
        vec![format!("BusinessDocumentSalesInvoiceLineItem={}", l.display())]
    };

    // Lines alone: line 2 of T-002 changed and a line 3 added; line 1 is the stored one.
    let run = import_files(
        &store,
        &lines_only(
            "inc",
            &["DEMF,T-002,3,AC-0101,Lock,1,10.00,10.00,FULL", "DEMF,T-002,2,BO-0007,Book,5,2.50,12.50,REDUCED"],
        ),
        &["--no-post", "--push", "incremental"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!((json["push"]["completed"].as_u64(), json["push"]["stored_lines"].as_u64()), (Some(1), Some(1)));
    assert_eq!(
        (run.import_of("inc.l.csv")["read"].as_u64(), run.import_of("inc.l.csv")["accepted"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(lines_of("T-002"), vec!["1 1 10.00", "2 5 12.50", "3 1 10.00"]);
    assert_eq!(
        stored(&store, "SELECT line_total, tax_inclusive FROM invoice WHERE source_key = 'T-002'")[0],
        vec![Some("32.50".into()), Some("37.18".into())]
    );

    // A header alone keeps the stored lines; its total is checked against all of them.
    let (h, _) = base_subset(dir.path(), "hdr", &["T-001"], &[]);
    let changed = std::fs::read_to_string(&h).unwrap().replace("PO 1", "PO 1 revised");
    std::fs::write(&h, &changed).unwrap();
    let header_only = vec![format!("SalesInvoiceJournalHeader={}", h.display())];
    let run = import_files(&store, &header_only, &["--no-post", "--push", "incremental"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lines_of("T-001"), vec!["1 2 100.00"]);
    assert_eq!(
        stored(&store, "SELECT order_reference FROM invoice WHERE source_key = 'T-001'")[0][0].as_deref(),
        Some("PO 1 revised")
    );
    std::fs::write(&h, changed.replace("119.00", "119.01")).unwrap();
    let run = import_files(&store, &header_only, &["--no-post", "--push", "incremental"]);
    assert_eq!(run.code, 3);
    let r = run.rejects().into_iter().find(|r| r.rule == "amount.total").unwrap();
    assert_eq!((r.file.ends_with("hdr.h.csv"), r.line), (true, 2));
    assert!(r.message.starts_with("total 119.01 differs from 119.00 = lines 100.00"), "{}", r.message);
    let stored_line = run.rejects().into_iter().find(|r| r.file.ends_with("(stored lines)")).unwrap();
    assert_eq!((stored_line.line, stored_line.rule.as_str()), (1, "relation.header_rejected"));

    // Without incremental, the same lines have no header.
    let run =
        import_files(&store, &lines_only("plain", &["DEMF,T-002,2,BO-0007,Book,5,2.50,12.50,REDUCED"]), &["--no-post"]);
    assert_eq!(run.code, 3);
    assert_eq!(run.rejects()[0].rule, "relation.no_header");

    // Posted invoices: the same line again is unchanged; a changed one is refused.
    assert_eq!(
        invoiceflow(&[
            "post",
            "--quiet",
            "--json",
            "--store",
            &store.display().to_string(),
            "--master",
            &root().join("samples/master").display().to_string()
        ])
        .code,
        0
    );
    let same = lines_only("same", &["DEMF,T-002,2,BO-0007,Book,5,2.50,12.50,REDUCED"]);
    let run = import_files(&store, &same, &["--push", "incremental"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["posting"]["unchanged"], 1);
    assert_eq!(run.import_of("same.l.csv")["unchanged"], 1);
    let run = import_files(
        &store,
        &lines_only("diff", &["DEMF,T-002,2,BO-0007,Book,6,2.50,15.00,REDUCED"]),
        &["--push", "incremental"],
    );
    assert_eq!(run.code, 3);
    let rules: Vec<(String, String)> = run.rejects().into_iter().map(|r| (r.rule, r.file)).collect();
    assert!(
        rules.iter().any(|(rule, file)| rule == "store.posted_changed" && file.ends_with("(stored invoices)")),
        "{rules:?}"
    );
    assert!(
        rules.iter().any(|(rule, file)| rule == "relation.header_rejected" && file.ends_with("diff.l.csv")),
        "{rules:?}"
    );
    assert_eq!(lines_of("T-002"), vec!["1 1 10.00", "2 5 12.50", "3 1 10.00"]);
}

#[test]
fn terms_with_a_cash_discount_put_its_date_and_amount_on_the_open_item_and_the_einvoice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("legacy");
    std::fs::create_dir(&data).unwrap();
    for f in ["Rechnungskopf.csv", "Rechnungspositionen.csv"] {
        std::fs::copy(root().join("samples/legacy-de").join(f), data.join(f)).unwrap();
    }
    // R2019-00452 (684.94 EUR on 15.02.2019) on "14T2%": 2 % within 14 days, net 30.
    let heads = data.join("Rechnungskopf.csv");
    let bytes = std::fs::read(&heads).unwrap();
    // The file is Windows-1252: the ASCII code is replaced and the rest kept byte for byte.
    let at = bytes.windows(5).position(|w| w == b";N14;").unwrap();
    let mut edited = bytes[..at].to_vec();
    edited.extend_from_slice(b";14T2%;");
    edited.extend_from_slice(&bytes[at + 5..]);
    std::fs::write(&heads, edited).unwrap();
    let store = dir.path().join("s.db");
    let (s, master, mapping) = (
        store.display().to_string(),
        root().join("samples/master").display().to_string(),
        root().join("mappings/legacy-de.toml").display().to_string(),
    );
    let d = data.display().to_string();
    let run = invoiceflow(&[
        "import",
        "--quiet",
        "--json",
        "--master",
        &master,
        "--mapping",
        &mapping,
        "--store",
        &s,
        &format!("{d}/Rechnungskopf.csv"),
        &format!("{d}/Rechnungspositionen.csv"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let open = stored(&store, "SELECT invoice_number, due_date, cash_discount_date, cash_discount_amount, cash_discount_percent FROM customer_trans ORDER BY invoice_number");
    assert_eq!(open[0][2], None);
    assert_eq!(
        open[1],
        ["R2019-00452", "2019-03-17", "2019-03-01", "13.70", "2"].map(|v| Some(v.to_string())).to_vec()
    );
    let out = dir.path().join("out");
    let o = out.display().to_string();
    let run = invoiceflow(&[
        "export",
        "--quiet",
        "--store",
        &s,
        "--entity",
        "CustomerTransaction",
        "--format",
        "csv",
        "--out",
        &o,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let csv = std::fs::read_to_string(out.join("CustomerTransaction_full_v00000003.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",CASHDISCOUNTDATE,POSSIBLECASHDISCOUNT"), "{}", lines[0]);
    assert!(lines[2].ends_with(",2019-03-01,13.70"), "{}", lines[2]);
    assert!(lines[1].ends_with(",EUR,,"), "{}", lines[1]);
    let run = invoiceflow(&["einvoice", "--quiet", "--store", &s, "--syntax", "ubl", "--out", &format!("{o}/ubl")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let xml = std::fs::read_to_string(out.join("ubl/DEMF/R2019-00452.xml")).unwrap();
    assert!(
        xml.contains("<cbc:Note>14 Tage 2 % Skonto, 30 Tage netto; 2 % cash discount (13.70 EUR) if paid by 2019-03-01</cbc:Note>"),
        "{xml}"
    );
    let other = std::fs::read_to_string(out.join("ubl/DEMF/R2019-00451.xml")).unwrap();
    assert!(other.contains("<cbc:Note>30 Tage netto</cbc:Note>"), "{other}");
}

#[test]
fn a_cash_discount_out_of_range_or_unknown_rejects_its_master_row_and_says_so_on_invoices() {
    let dir = tempfile::tempdir().unwrap();
    let master = crate::sample_master_copy(dir.path());
    std::fs::write(
        master.join("CashDiscount.csv"),
        "CashDiscountCode,Description,Percent,NumberOfDays,NumberOfMonths\n2%14D,fine,2,14,0\nTENTH,a tenth as 0.1,100,10,0\n",
    )
    .unwrap();
    let terms = std::fs::read_to_string(master.join("PaymentTerms.csv"))
        .unwrap()
        .replace("Net30,30 Tage netto,30,No,58,", "Net30,30 Tage netto,30,No,58,NOPE");
    std::fs::write(master.join("PaymentTerms.csv"), terms).unwrap();
    let store = dir.path().join("s.db");
    let run = base_import(&store, &fixture("base/headers.csv"), &[], &master);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let rejects = run.rejects();
    let range = rejects.iter().find(|r| r.rule == "field.range").unwrap();
    assert_eq!((range.line, range.field.as_str()), (3, "Percent"));
    assert!(
        range.message.starts_with("cash discount TENTH: Percent 100 is not above 0 and below 100 — "),
        "{}",
        range.message
    );
    let unknown = rejects.iter().find(|r| r.rule == "ref.cash_discount").unwrap();
    assert_eq!((unknown.line, unknown.field.as_str()), (4, "CashDiscountCode"));
    assert!(
        unknown.message.starts_with(
            "terms of payment Net30 name the cash discount `NOPE`, which is not in the CashDiscount master data — "
        ),
        "{}",
        unknown.message
    );
    // T-001 and T-003 are on Net30.
    let invoice = rejects.iter().find(|r| r.rule == "ref.payment_terms").unwrap();
    assert!(
        invoice.message.starts_with("terms of payment `Net30` were rejected from the PaymentTerms master data (line 4, ref.cash_discount): fix that row"),
        "{}",
        invoice.message
    );
    assert_eq!(run.json()["posting"]["invoices"], 1);
}
