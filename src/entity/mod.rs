//! Entity definitions: the fields, types, keys and header↔line relations of every entity
//! invoiceflow reads or writes, loaded from `entities/*.toml` (compiled into the binary).
//!
//! An entity field is known by its OData name (`InvoiceNumber`) and its DMF staging name
//! (`INVOICENUMBER`); both match input columns case-insensitively. Invoice entities also give
//! each field a [`Role`], which is how the domain model reads rows of different entities
//! (a journal header and a free-text header) the same way.

mod types;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

pub use types::FieldType;

/// The definition files, compiled in so that the binary runs anywhere.
const SOURCES: &[(&str, &str)] = &[
    ("SalesInvoiceJournalHeader.toml", include_str!("../../entities/SalesInvoiceJournalHeader.toml")),
    ("SalesInvoiceHeaderV2.toml", include_str!("../../entities/SalesInvoiceHeaderV2.toml")),
    (
        "BusinessDocumentSalesInvoiceLineItem.toml",
        include_str!("../../entities/BusinessDocumentSalesInvoiceLineItem.toml"),
    ),
    ("SalesInvoiceLineV3.toml", include_str!("../../entities/SalesInvoiceLineV3.toml")),
    ("FreeTextInvoiceHeader.toml", include_str!("../../entities/FreeTextInvoiceHeader.toml")),
    ("FreeTextInvoiceLine.toml", include_str!("../../entities/FreeTextInvoiceLine.toml")),
    ("Customer.toml", include_str!("../../entities/Customer.toml")),
    ("LegalEntity.toml", include_str!("../../entities/LegalEntity.toml")),
    ("SalesTaxCode.toml", include_str!("../../entities/SalesTaxCode.toml")),
    ("SalesTaxGroup.toml", include_str!("../../entities/SalesTaxGroup.toml")),
    ("ItemSalesTaxGroup.toml", include_str!("../../entities/ItemSalesTaxGroup.toml")),
    ("ExchangeRate.toml", include_str!("../../entities/ExchangeRate.toml")),
    ("CashDiscount.toml", include_str!("../../entities/CashDiscount.toml")),
    ("PaymentTerms.toml", include_str!("../../entities/PaymentTerms.toml")),
    ("PostingSetup.toml", include_str!("../../entities/PostingSetup.toml")),
    ("NumberSequence.toml", include_str!("../../entities/NumberSequence.toml")),
    ("GeneralJournalAccountEntry.toml", include_str!("../../entities/GeneralJournalAccountEntry.toml")),
    ("CustomerTransaction.toml", include_str!("../../entities/CustomerTransaction.toml")),
];

/// What went wrong loading an entity definition.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntityError {
    /// The TOML does not parse or has an unknown key.
    #[error("entities/{file}: {message}")]
    Parse { file: String, message: String },
    /// The definition parses but is inconsistent.
    #[error("entities/{file}: {message}")]
    Invalid { file: String, message: String },
}

/// What an entity holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// Invoice headers (one row per invoice).
    InvoiceHeader,
    /// Invoice lines (rows that belong to a header).
    InvoiceLine,
    /// Reference data: customers, tax codes, …
    Master,
    /// Records that posting creates (ledger entries, customer transactions): exported only.
    Ledger,
}

/// Which kind of invoice document an invoice entity carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Sales-order invoices (lines with items).
    #[default]
    Sales,
    /// Free-text invoices (lines with main accounts).
    FreeText,
}

/// The meaning of an invoice field to the domain model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Role {
    LegalEntity,
    InvoiceNumber,
    InvoiceDate,
    Voucher,
    Customer,
    Currency,
    PaymentTerms,
    DueDate,
    OrderReference,
    BuyerReference,
    SalesOrder,
    OriginalInvoice,
    ExchangeRate,
    ExternalId,
    RecordId,
    TotalAmount,
    TotalNet,
    TotalTax,
    TotalCharge,
    TotalDiscount,
    ParentRecordId,
    LineNumber,
    Quantity,
    UnitPrice,
    PriceUnit,
    DiscountPerUnit,
    DiscountPercent,
    DiscountAmount,
    ChargeAmount,
    LineAmount,
    LineTax,
    TaxRate,
    TaxCode,
    TaxGroup,
    ItemTaxGroup,
    ItemId,
    ItemName,
    Description,
    Unit,
    MainAccount,
    Distribution,
}

/// Number of roles (the last variant + 1).
const ROLE_COUNT: usize = Role::Distribution as usize + 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityFile {
    /// Format version of the definition file; 1.
    version: u32,
    /// Entity name used on the command line and in job files.
    name: String,
    /// The D365 AOT entity name, when it is a D365 entity.
    d365_entity: Option<String>,
    /// The OData collection name.
    odata_collection: Option<String>,
    /// The DMF label (used as file name in data packages).
    label: String,
    /// Header, line or master data.
    kind: EntityKind,
    /// Sales or free-text document (invoice entities).
    #[serde(default)]
    document: DocumentKind,
    /// What the entity is.
    description: String,
    /// D365's key (with dataAreaId), kept for export compatibility.
    #[serde(default)]
    d365_key: Vec<String>,
    /// invoiceflow's import identity; duplicates inside one file are rejected.
    key: Vec<String>,
    /// For lines: the header entities they belong to.
    #[serde(default)]
    headers: Vec<String>,
    /// The fields, in export order.
    field: Vec<FieldFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldFile {
    /// OData name.
    name: String,
    /// DMF staging name; the upper-cased name when absent.
    staging: Option<String>,
    /// `string(max)`, `decimal(p,s)`, `int`, `int64`, `date`, `enum[A,B]`, `bool`.
    #[serde(rename = "type")]
    ty: String,
    /// A row without a value is rejected.
    #[serde(default)]
    required: bool,
    /// Meaning to the domain model.
    role: Option<Role>,
    /// The D365 type when it is an enum we keep as text.
    d365_type: Option<String>,
    /// Not a D365 field: added by invoiceflow (entity extension).
    #[serde(default)]
    extension: bool,
    /// Documentation.
    doc: Option<String>,
    /// The store column an export reads (ledger entities).
    store: Option<String>,
}

/// One field of an entity.
#[derive(Debug, Clone)]
pub struct Field {
    /// OData name (`InvoiceNumber`).
    pub name: String,
    /// DMF staging name (`INVOICENUMBER`), the default export column name.
    pub staging: String,
    /// Value type.
    pub ty: FieldType,
    /// Whether a value is required.
    pub required: bool,
    /// Meaning to the domain model.
    pub role: Option<Role>,
    /// Added by invoiceflow, not part of the D365 entity.
    pub extension: bool,
    /// D365 enum type kept as text.
    pub d365_type: Option<String>,
    /// Documentation.
    pub doc: Option<String>,
    /// The store column an export reads (ledger entities).
    pub store: Option<String>,
}

/// An entity definition.
#[derive(Debug, Clone)]
pub struct Entity {
    /// invoiceflow name (`SalesInvoiceJournalHeader`).
    pub name: String,
    /// D365 AOT name.
    pub d365_entity: Option<String>,
    /// OData collection.
    pub odata_collection: Option<String>,
    /// DMF label.
    pub label: String,
    /// Header, line or master.
    pub kind: EntityKind,
    /// Sales or free text.
    pub document: DocumentKind,
    /// What it is.
    pub description: String,
    /// D365 key.
    pub d365_key: Vec<String>,
    /// Import identity (field indexes).
    pub key: Vec<usize>,
    /// Header entities of a line entity.
    pub headers: Vec<String>,
    /// Fields in export order.
    pub fields: Vec<Field>,
    /// Field index by name as defined (the usual look-up, without lower-casing; Fx-hashed:
    /// the master data look fields up by name for every row).
    by_exact_name: rustc_hash::FxHashMap<String, usize>,
    /// Field index by lower-cased OData or staging name.
    by_name: HashMap<String, usize>,
    /// Field index per role, indexed by `Role as usize` (a lookup per field of every row).
    by_role: Vec<Option<usize>>,
    /// The name, shared by every row read as this entity.
    pub shared_name: crate::model::Name,
    /// Per field: whether it is a field without a role that every other entity of the same
    /// kind and document (the other views of the same documents, such as SalesInvoiceHeaderV2
    /// for SalesInvoiceJournalHeader) has too, by name. Only these take part when documents
    /// are compared across entities.
    pub shared: Vec<bool>,
}

impl Entity {
    /// The field whose OData or staging name is `name`, case-insensitively.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        // Names as defined are found without lower-casing them (names are unique in any case).
        if let Some(&i) = self.by_exact_name.get(name) {
            return Some(i);
        }
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// The role field `i` gives, when it is the field the entity takes that role from.
    pub fn role_of(&self, i: usize) -> Option<Role> {
        self.fields.get(i)?.role.filter(|&r| self.role_index(r) == Some(i))
    }

    /// The field with a role.
    pub fn role_index(&self, role: Role) -> Option<usize> {
        self.by_role.get(role as usize).copied().flatten()
    }

    /// Whether this entity carries invoice headers or lines.
    pub fn is_invoice(&self) -> bool {
        matches!(self.kind, EntityKind::InvoiceHeader | EntityKind::InvoiceLine)
    }

    fn from_file(file: &str, text: &str) -> Result<Entity, EntityError> {
        let parsed: EntityFile =
            toml::from_str(text).map_err(|e| EntityError::Parse { file: file.to_string(), message: e.to_string() })?;
        let invalid = |message: String| EntityError::Invalid { file: file.to_string(), message };
        if parsed.version != 1 {
            return Err(invalid(format!("version = {} is not supported (expected 1)", parsed.version)));
        }
        let mut fields = Vec::with_capacity(parsed.field.len());
        let mut by_name = HashMap::new();
        let mut by_role: Vec<Option<usize>> = vec![None; ROLE_COUNT];
        for (i, f) in parsed.field.into_iter().enumerate() {
            let ty = FieldType::parse(&f.ty).map_err(|m| invalid(format!("field {}: {m}", f.name)))?;
            let staging = f.staging.unwrap_or_else(|| f.name.to_ascii_uppercase());
            for n in [&f.name, &staging] {
                if let Some(prev) = by_name.insert(n.to_ascii_lowercase(), i) {
                    if prev != i {
                        return Err(invalid(format!("field name {n} is used twice")));
                    }
                }
            }
            if let Some(role) = f.role {
                if by_role[role as usize].replace(i).is_some() {
                    return Err(invalid(format!("role {role:?} is given to two fields")));
                }
            }
            fields.push(Field {
                name: f.name,
                staging,
                ty,
                required: f.required,
                role: f.role,
                extension: f.extension,
                d365_type: f.d365_type,
                doc: f.doc,
                store: f.store,
            });
        }
        let key = parsed
            .key
            .iter()
            .map(|k| {
                by_name
                    .get(&k.to_ascii_lowercase())
                    .copied()
                    .ok_or_else(|| invalid(format!("key field {k} is not a field")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for k in &parsed.d365_key {
            if !by_name.contains_key(&k.to_ascii_lowercase()) {
                return Err(invalid(format!("d365_key field {k} is not a field")));
            }
        }
        let entity = Entity {
            shared_name: crate::model::name(&parsed.name),
            name: parsed.name,
            d365_entity: parsed.d365_entity,
            odata_collection: parsed.odata_collection,
            label: parsed.label,
            kind: parsed.kind,
            document: parsed.document,
            description: parsed.description,
            d365_key: parsed.d365_key,
            key,
            headers: parsed.headers,
            shared: vec![false; fields.len()],
            by_exact_name: fields.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect(),
            fields,
            by_name,
            by_role,
        };
        if format!("{}.toml", entity.name) != file {
            return Err(invalid(format!("name = \"{}\" does not match the file name", entity.name)));
        }
        let needs: &[Role] = match (entity.kind, entity.document) {
            (EntityKind::InvoiceHeader, DocumentKind::Sales) => {
                &[Role::InvoiceNumber, Role::InvoiceDate, Role::Customer, Role::Currency]
            }
            (EntityKind::InvoiceHeader, DocumentKind::FreeText) => {
                &[Role::RecordId, Role::InvoiceDate, Role::Customer, Role::Currency]
            }
            (EntityKind::InvoiceLine, DocumentKind::Sales) => {
                &[Role::InvoiceNumber, Role::LineNumber, Role::Quantity, Role::UnitPrice]
            }
            (EntityKind::InvoiceLine, DocumentKind::FreeText) => {
                &[Role::ParentRecordId, Role::LineNumber, Role::Quantity, Role::UnitPrice, Role::MainAccount]
            }
            (EntityKind::Master | EntityKind::Ledger, _) => &[],
        };
        for role in needs {
            if entity.role_index(*role).is_none() {
                return Err(invalid(format!("an invoice entity of this kind needs a field with role {role:?}")));
            }
        }
        Ok(entity)
    }
}

/// All entity definitions.
#[derive(Debug)]
pub struct Catalog {
    entities: Vec<Entity>,
}

/// The name of field `index` of the built-in entity `entity` (how the store's readers name the
/// fields without a role it keeps by index: a `store::FieldNames`).
pub fn field_name(entity: &str, index: u16) -> Option<&'static str> {
    Catalog::builtin().get(entity)?.fields.get(usize::from(index)).map(|f| f.name.as_str())
}

impl Catalog {
    /// The built-in catalog (the `entities/` folder compiled in). Loaded once.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            // The definitions are compiled in and checked by the test `every_definition_loads`,
            // so a failure here is a build defect, not an input problem.
            Catalog::from_sources(SOURCES.iter().copied()).expect("built-in entity definitions are valid")
        })
    }

    /// Loads definitions from (file name, TOML text) pairs and checks their relations.
    pub fn from_sources<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Catalog, EntityError> {
        let entities =
            sources.into_iter().map(|(file, text)| Entity::from_file(file, text)).collect::<Result<Vec<_>, _>>()?;
        let mut catalog = Catalog { entities };
        let shared: Vec<Vec<bool>> = catalog
            .entities
            .iter()
            .map(|e| {
                let others: Vec<&Entity> = catalog
                    .entities
                    .iter()
                    .filter(|o| o.name != e.name && o.kind == e.kind && o.document == e.document)
                    .collect();
                e.fields
                    .iter()
                    .map(|f| {
                        f.role.is_none()
                            && others.iter().all(|o| o.field_index(&f.name).is_some_and(|i| o.fields[i].role.is_none()))
                    })
                    .collect()
            })
            .collect();
        for (e, s) in catalog.entities.iter_mut().zip(shared) {
            e.shared = s;
        }
        for e in &catalog.entities {
            for h in &e.headers {
                match catalog.get(h) {
                    Some(he) if he.kind == EntityKind::InvoiceHeader && he.document == e.document => {}
                    _ => {
                        return Err(EntityError::Invalid {
                            file: format!("{}.toml", e.name),
                            message: format!("headers: {h} is not a header entity of the same document kind"),
                        })
                    }
                }
            }
        }
        Ok(catalog)
    }

    /// All entities, in catalog order.
    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// The entity called `name` (its name, D365 name, OData collection or DMF label),
    /// case-insensitively.
    pub fn get(&self, name: &str) -> Option<&Entity> {
        let n = name.trim();
        self.entities.iter().find(|e| {
            e.name.eq_ignore_ascii_case(n)
                || e.label.eq_ignore_ascii_case(n)
                || e.d365_entity.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(n))
                || e.odata_collection.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(n))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_loads() {
        let c = Catalog::builtin();
        assert_eq!(c.entities().len(), SOURCES.len());
        let h = c.get("SalesInvoiceJournalHeader").unwrap();
        assert_eq!(h.fields.len(), 30, "26 D365 fields + 4 extensions");
        assert_eq!(h.field_index("INVOICENUMBER"), h.field_index("invoicenumber"));
        assert_eq!(c.get("Customer invoice lines").unwrap().name, "BusinessDocumentSalesInvoiceLineItem");
        assert_eq!(c.get("SalesInvoiceV3Lines").unwrap().name, "SalesInvoiceLineV3");
    }

    #[test]
    fn every_file_in_the_folder_is_compiled_in() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/entities");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let mut compiled: Vec<String> = SOURCES.iter().map(|(f, _)| f.to_string()).collect();
        compiled.sort();
        assert_eq!(on_disk, compiled);
        for (file, _) in SOURCES {
            let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
            Entity::from_file(file, &text).unwrap();
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_the_file_name() {
        let err = Catalog::from_sources([("X.toml", "version = 1\nname = \"X\"\nlabel = \"x\"\nkind = \"master\"\ndescription = \"\"\nkey = []\nfield = []\ncolour = 1\n")])
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("entities/X.toml:"), "{msg}");
        assert!(msg.contains("unknown field `colour`"), "{msg}");
    }
}
