//! `invoiceflow entities` and `rules`: what the program knows.

use invoiceflow::entity::{Catalog, EntityKind};
use invoiceflow::validate::Rule;

use super::{EXIT_OK, EXIT_USAGE};

pub(crate) fn entities(name: Option<&str>) -> u8 {
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

pub(crate) fn rules() -> u8 {
    for r in Rule::ALL {
        println!("{:<26} {}\n{:<26} fix: {}", r.id(), r.what(), "", r.fix());
    }
    EXIT_OK
}
