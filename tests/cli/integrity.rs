//! Integrity and operability: unique numbers, e-invoice jobs that cannot jam, round trips of
//! the exports, original invoices of credit notes, hostile input, exit codes that tell the truth.

use std::path::Path;

use crate::{invoiceflow, root};

/// A copy of `samples/` and `mappings/` in a temp dir (the job file points at `../mappings`),
/// so that a test can change master data or entity files.
pub fn sample_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["samples", "mappings"] {
        copy_dir(&root().join(sub), &dir.path().join(sub));
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Replaces the first `from` in a file with `to` (the text must be there).
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Runs the sample job of a copy with its outputs in the copy.
fn run_job(copy: &Path, extra: &[&str]) -> crate::Run {
    let job = s(&copy.join("samples/job.toml"));
    let mut args = vec!["run", job.as_str(), "--json", "--quiet"];
    args.extend(extra);
    invoiceflow(&args)
}

#[test]
fn run_exits_3_and_partial_when_einvoices_are_refused() {
    let copy = sample_copy();
    // Customer DE-001 without a country: its e-invoices break BR-11 and are refused.
    edit(&copy.path().join("samples/master/Customer.csv"), "80331,DE,", "80331,,");
    let run = run_job(copy.path(), &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["status"], "partial");
    let refused = json["einvoices"][0]["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert_eq!(refused[0]["findings"][0][0], "BR-11");
}

#[test]
fn post_lists_a_rejected_master_row_with_file_line_and_rule() {
    let copy = sample_copy();
    let store = copy.path().join("drafts.db");
    let master = copy.path().join("samples/master");
    let d365 = copy.path().join("samples/d365");
    let run = invoiceflow(&[
        "import",
        "--quiet",
        "--no-post",
        "--store",
        &s(&store),
        "--master",
        &s(&master),
        &s(&d365.join("SalesInvoiceHeaderV2.csv")),
        &s(&d365.join("Customer invoice lines.csv")),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A customer whose hold status is not a value of the enum (line 3 of Customer.csv).
    edit(&master.join("Customer.csv"), "9930,No,FWS-EINKAUF", "9930,Maybe,FWS-EINKAUF");
    let rejects = copy.path().join("rejects");
    let run = invoiceflow(&[
        "post",
        "--json",
        "--quiet",
        "--store",
        &s(&store),
        "--master",
        &s(&master),
        "--rejects",
        &s(&rejects),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["status"], "partial");
    let by_rule = json["rejects_by_rule"].as_array().unwrap();
    assert!(by_rule.iter().any(|r| r["rule"] == "field.enum" && r["rows"] == 1), "{json}");
    let first = &json["first_rejects"][0];
    assert!(first["file"].as_str().unwrap().ends_with("Customer.csv"), "{first}");
    assert_eq!(first["line"], 3);
    assert_eq!(first["field"], "OnHoldStatus");
    assert_eq!(first["rule"], "field.enum");
    let customer = json["master"].as_array().unwrap().iter().find(|m| m["entity"] == "Customer").unwrap().clone();
    assert_eq!(customer["rejected"], 1);
    assert!(customer["rejects_file"].as_str().is_some(), "{customer}");
    assert!(json["rejects_file"].as_str().unwrap().ends_with("rejects.csv"));
}

#[test]
fn a_defective_data_set_can_be_written_as_parquet_and_its_defects_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    let run = invoiceflow(&[
        "generate",
        "--invoices",
        "200",
        "--seed",
        "5",
        "--defect-rate",
        "0.3",
        "--parquet",
        "--customers",
        "50",
        "--out",
        &s(&out),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let import = |ext: &str| {
        let files: Vec<String> = ["SalesInvoiceHeaderV2", "BusinessDocumentSalesInvoiceLineItem"]
            .iter()
            .map(|f| s(&out.join(format!("{f}.{ext}"))))
            .collect();
        let run = crate::import(&files, &out.join("master"));
        assert_eq!(run.code, 3, "{}", run.stderr);
        run.json()
    };
    let (csv, parquet) = (import("csv"), import("parquet"));
    // The same rows are rejected for the same rules whichever format carries them.
    assert_eq!(csv["rejects_by_rule"], parquet["rejects_by_rule"]);
    let rules: Vec<&str> =
        parquet["rejects_by_rule"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"field.date") && rules.contains(&"field.decimal"), "{rules:?}");
    assert_eq!(csv["validated"], parquet["validated"]);
}
