//! Names shared by every row that uses them without a reference count: entity names and the
//! codes of the master data (tax codes, VAT categories, ledger accounts). A shared `Arc` that
//! every line of every thread clones and drops costs an atomic operation on one cache line that
//! the cores pass between them; a name is a plain `&'static str`.
//!
//! A name lives as long as the process. Only what is bounded by the catalog and the master
//! data becomes one (never a value of an invoice header or line, which any file could make
//! unbounded), and a text is kept once however often it is named, so repeated runs in one
//! process reuse their names.

use std::sync::Mutex;

/// A name: text that lives as long as the process.
pub type Name = &'static str;

static NAMES: Mutex<Option<rustc_hash::FxHashSet<&'static str>>> = Mutex::new(None);

/// The name with the text `s` (the same one for every call with this text).
pub fn name(s: &str) -> Name {
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(Default::default);
    if let Some(&n) = names.get(s) {
        return n;
    }
    let n: Name = Box::leak(s.to_owned().into_boxed_str());
    names.insert(n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_kept_once() {
        let a = name(&String::from("4010"));
        let b = name(&String::from("4010"));
        assert_eq!(a, "4010");
        assert!(std::ptr::eq(a, b));
    }
}
