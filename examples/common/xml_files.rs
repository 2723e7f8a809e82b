//! The `.xml` files under a folder, for the examples that time e-invoice work.

use std::path::{Path, PathBuf};

/// The `.xml` files under `dir`, sub-folders too (unsorted).
pub fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "xml") {
            out.push(p);
        }
    }
    Ok(())
}
