//! Integration tests: each runs the real `invoiceflow` binary in its own temp directory.

mod defects;
mod einvoice;
mod exports;
mod formats;
mod fuzz;
mod integrity;
mod posting;
mod samples;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A folder of the reference material that lives outside the repository (official example
/// e-invoices, schemas), named by the environment variable `INVOICEFLOW_REFERENCE`. A test that
/// needs it returns early when the variable is unset (a fresh clone has no reference material);
/// `.ci/run` sets it, and a set variable that names no such folder fails the test.
pub fn reference(sub: &str) -> Option<PathBuf> {
    let Some(base) = std::env::var_os("INVOICEFLOW_REFERENCE") else {
        eprintln!("skipped: set INVOICEFLOW_REFERENCE to the reference folder (../shared/reference) to run this test");
        return None;
    };
    let dir = PathBuf::from(base).join(sub);
    assert!(dir.is_dir(), "INVOICEFLOW_REFERENCE is set, but {} is not a folder", dir.display());
    Some(dir)
}

/// A fixture path.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// What a run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

impl Run {
    /// The JSON summary printed on stdout.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// The rows of the run's rejects index.
    pub fn rejects(&self) -> Vec<RejectRow> {
        let path = self.dir.path().join("rejects/rejects.csv");
        let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        r.deserialize().map(|row| row.unwrap()).collect()
    }

    /// The import entry of the file called `name`.
    pub fn import_of(&self, name: &str) -> Value {
        let json = self.json();
        json["imports"]
            .as_array()
            .unwrap()
            .iter()
            .chain(json["master"].as_array().unwrap().iter())
            .find(|i| Path::new(i["file"].as_str().unwrap()).file_name().and_then(|n| n.to_str()) == Some(name))
            .unwrap_or_else(|| panic!("no import of {name} in {json}"))
            .clone()
    }
}

/// One row of `rejects.csv`.
#[derive(Debug, serde::Deserialize, Clone)]
pub struct RejectRow {
    pub file: String,
    pub line: u64,
    pub field: String,
    pub rule: String,
    pub message: String,
}

/// Runs the binary with `args` in a fresh temp dir (the dir is in `Run`).
pub fn invoiceflow(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    invoiceflow_in(dir, args)
}

/// Runs the binary in `dir`.
pub fn invoiceflow_in(dir: tempfile::TempDir, args: &[&str]) -> Run {
    invoiceflow_env(dir, args, &[])
}

/// Runs the binary in `dir` with environment variables set.
pub fn invoiceflow_env(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_invoiceflow"))
        .args(args)
        .current_dir(dir.path())
        .env_remove("INVOICEFLOW_LOG")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
    }
}

/// `import --dry-run --json --quiet --rejects <tmp>/rejects --master <master>` over `files`.
pub fn import(files: &[String], master: &Path) -> Run {
    let mut args: Vec<String> = vec!["import".into(), "--dry-run".into(), "--json".into(), "--quiet".into()];
    args.extend(["--rejects".into(), "rejects".into(), "--master".into(), master.display().to_string()]);
    args.extend(files.iter().cloned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    invoiceflow(&refs)
}

/// A copy of the sample master data in `dir/master`, to edit.
/// Every file under `dir`, in its subfolders too.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn sample_master_copy(dir: &Path) -> PathBuf {
    let master = dir.join("master");
    std::fs::create_dir(&master).unwrap();
    for e in std::fs::read_dir(root().join("samples/master")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), master.join(e.file_name())).unwrap();
    }
    master
}

/// Asserts read = accepted + rejected (+ unchanged) for every file of a summary.
pub fn assert_nothing_lost(json: &Value) {
    for i in json["imports"].as_array().unwrap().iter().chain(json["master"].as_array().unwrap()) {
        let n = |k: &str| i[k].as_u64().unwrap();
        assert_eq!(n("read"), n("accepted") + n("rejected") + n("unchanged"), "{i}");
    }
}
