//! Validation: field rules (types, required, lengths, enums) per row, then the rules across
//! rows (keys, header↔line relations, master-data references, totals, signs, dates). It never
//! writes: it turns typed rows into accepted domain invoices and [`Reject`]s.

pub mod fast;
pub mod field;
pub mod invoice;
pub mod master;
mod row;
mod rules;

pub use row::{convert, describe_missing};
pub use rules::{Reject, Rule};
