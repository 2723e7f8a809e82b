//! Mapping: which source column (or constant) feeds which entity field, and the text
//! transforms on the way (trim, defaults, value maps, date formats, decimal separators).
//!
//! D365-shaped files need no mapping file: columns match fields by OData or staging name,
//! case-insensitively. Legacy layouts are described by `mappings/*.toml`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::entity::{Catalog, Entity, FieldType};
use crate::model::DatePattern;
use crate::read::csv::{CsvOptions, Encoding};
use crate::read::Record;

/// A broken mapping file: an operational error that stops the run before anything is read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The file cannot be read.
    #[error("{path}: cannot read the mapping: {source}")]
    Io {
        /// The mapping file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML does not parse or has unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The mapping file.
        path: PathBuf,
        /// What the TOML parser said (with line and column).
        message: String,
    },
    /// The mapping parses but says something impossible.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The mapping file.
        path: PathBuf,
        /// Dotted path of the bad key.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    /// Format version; 1.
    version: u32,
    /// Short name of the layout.
    name: String,
    /// What system and export the layout comes from.
    #[serde(default)]
    description: String,
    /// How the source files are written.
    #[serde(default)]
    source: SourceFile,
    /// Per target entity: which columns feed which fields (none: the file only says how
    /// files are written, and columns match fields by name).
    #[serde(default)]
    entity: BTreeMap<String, EntityMappingFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    /// Field delimiter (one character, `\t` for tab); sniffed from the header when absent.
    delimiter: Option<String>,
    /// `utf-8` (default), `windows-1252`, `utf-16le`, `utf-16be`; a BOM always wins.
    encoding: Option<Encoding>,
    /// Decimal separator of numbers, `.` (default) or `,`.
    decimal_separator: Option<String>,
    /// Thousands separator to drop from numbers (`.`, `,`, `'` or a space).
    thousands_separator: Option<String>,
    /// Date pattern, e.g. `dd.MM.yyyy`; ISO dates when absent.
    date_format: Option<String>,
    /// Trim spaces around values (default true).
    trim: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityMappingFile {
    /// File-name patterns (`*` wildcard, case-insensitive) that hold this entity.
    #[serde(default)]
    files: Vec<String>,
    /// Entity field → source column (a string) or rule (a table), read one by one so that an
    /// error names the key it is in.
    #[serde(default)]
    columns: BTreeMap<String, toml::Value>,
    /// Header entities: the column that says invoice or credit note.
    document_type: Option<DocumentType>,
}

/// A header column that says whether a row is an invoice or a credit note (legacy exports:
/// `RE` / `GU`, `INV` / `CRN`), held against the invoice's sign. Values are matched as written
/// (trimmed), then case-insensitively.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentType {
    /// Source column name (matched case-insensitively).
    pub column: String,
    /// Values that mean an invoice (`RE`, `INV`).
    pub invoice: Vec<String>,
    /// Values that mean a credit note (`GU`, `CRN`).
    pub credit_note: Vec<String>,
}

impl DocumentType {
    /// What `value` says: `None` when it is neither an invoice nor a credit note value.
    pub fn kind(&self, value: &str) -> Option<crate::model::TypedAs> {
        use crate::model::TypedAs;
        let v = value.trim();
        let find =
            |list: &[String], exact: bool| list.iter().any(|x| if exact { x == v } else { x.eq_ignore_ascii_case(v) });
        for exact in [true, false] {
            if find(&self.invoice, exact) {
                return Some(TypedAs::Invoice);
            }
            if find(&self.credit_note, exact) {
                return Some(TypedAs::CreditNote);
            }
        }
        None
    }

    /// The values of both kinds, for messages: `RE (invoice), GU (credit note)`.
    pub fn listed(&self) -> String {
        let kind = |list: &[String], what: &str| list.iter().map(|v| format!("{v} ({what})")).collect::<Vec<_>>();
        [kind(&self.invoice, "invoice"), kind(&self.credit_note, "credit note")].concat().join(", ")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FullSpecFile {
    /// Source column name (matched case-insensitively).
    column: Option<String>,
    /// A constant for every row (no column).
    constant: Option<String>,
    /// Value used when the column is empty.
    default: Option<String>,
    /// Source value → entity value (exact match first, then case-insensitive).
    #[serde(default)]
    values: BTreeMap<String, String>,
    /// Date pattern of this column.
    date_format: Option<String>,
    /// Decimal separator of this column.
    decimal_separator: Option<String>,
    /// Thousands separator of this column.
    thousands_separator: Option<String>,
    /// Trim this column.
    trim: Option<bool>,
}

/// Text conventions of numbers and dates.
#[derive(Debug, Clone)]
pub struct TextFormat {
    /// Decimal separator.
    pub decimal_separator: u8,
    /// Thousands separator to drop.
    pub thousands_separator: Option<u8>,
    /// Date pattern; ISO when `None`.
    pub date: Option<DatePattern>,
    /// Trim spaces.
    pub trim: bool,
}

impl Default for TextFormat {
    fn default() -> Self {
        TextFormat { decimal_separator: b'.', thousands_separator: None, date: None, trim: true }
    }
}

/// How one entity field is fed.
#[derive(Debug, Clone, Default)]
pub struct FieldRule {
    /// Source column name (mapping files); `None` means "by the field's own name".
    pub column: Option<String>,
    /// Constant value.
    pub constant: Option<String>,
    /// Default for empty values.
    pub default: Option<String>,
    /// Value map (keys as written, and lower-cased for the second try).
    pub values: HashMap<String, String>,
    values_lower: HashMap<String, String>,
    /// Text conventions (after overrides).
    pub format: Option<TextFormat>,
}

/// A mapping for one entity.
#[derive(Debug, Clone)]
pub struct EntityMapping {
    /// File-name patterns.
    pub files: Vec<String>,
    /// Field index → rule.
    pub fields: HashMap<usize, FieldRule>,
    /// The document type column (header entities).
    pub document_type: Option<DocumentType>,
}

/// A loaded mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The file it came from.
    pub path: PathBuf,
    /// Layout name.
    pub name: String,
    /// Description.
    pub description: String,
    /// How to read the files.
    pub csv: CsvOptions,
    /// Default text conventions.
    pub format: TextFormat,
    /// Per entity name.
    pub entities: BTreeMap<String, EntityMapping>,
    /// Whether `[source]` names the encoding (else `--encoding` may set it).
    pub encoding_given: bool,
}

fn one_byte(path: &Path, key: &str, v: &str) -> Result<u8, MappingError> {
    let v = if v == "\\t" { "\t" } else { v };
    match v.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(MappingError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message: format!("`{v}` must be a single ASCII character"),
        }),
    }
}

impl Mapping {
    /// Reads and checks a mapping file against the entity catalog.
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Mapping, MappingError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| MappingError::Io { path: path.to_path_buf(), source })?;
        Mapping::parse(path, &text, catalog)
    }

    /// Parses mapping text (`path` is for messages).
    pub fn parse(path: &Path, text: &str, catalog: &Catalog) -> Result<Mapping, MappingError> {
        let file: MappingFile = toml::from_str(text).map_err(|e| MappingError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |key: String, message: String| MappingError::Invalid { path: path.to_path_buf(), key, message };
        if file.version != 1 {
            return Err(invalid("version".into(), format!("{} is not supported; write version = 1", file.version)));
        }
        let src = &file.source;
        let csv = CsvOptions {
            delimiter: src.delimiter.as_deref().map(|d| one_byte(path, "source.delimiter", d)).transpose()?,
            quote: b'"',
            encoding: src.encoding.unwrap_or_default(),
        };
        let format = text_format(
            path,
            "source",
            &TextFormat::default(),
            src.decimal_separator.as_deref(),
            src.thousands_separator.as_deref(),
            src.date_format.as_deref(),
            src.trim,
        )?;
        let mut entities = BTreeMap::new();
        for (ename, em) in file.entity {
            let entity = catalog.get(&ename).ok_or_else(|| {
                invalid(format!("entity.{ename}"), "no such entity; `invoiceflow entities` lists them".into())
            })?;
            let mut fields = HashMap::new();
            for (fname, spec) in em.columns {
                let key = format!("entity.{ename}.columns.{fname}");
                let idx = entity.field_index(&fname).ok_or_else(|| {
                    invalid(
                        key.clone(),
                        format!(
                            "{} has no field {fname}; `invoiceflow entities {}` lists its fields",
                            entity.name, entity.name
                        ),
                    )
                })?;
                let rule = match spec {
                    toml::Value::String(c) => FieldRule { column: Some(c), ..FieldRule::default() },
                    toml::Value::Table(t) => {
                        let f: FullSpecFile = toml::Value::Table(t)
                            .try_into()
                            .map_err(|e: toml::de::Error| invalid(key.clone(), e.message().trim_end().to_string()))?;
                        if f.column.is_some() == f.constant.is_some() {
                            return Err(invalid(key, "give exactly one of `column` and `constant`".into()));
                        }
                        let overrides = f.date_format.is_some()
                            || f.decimal_separator.is_some()
                            || f.thousands_separator.is_some()
                            || f.trim.is_some();
                        let fmt = if overrides {
                            Some(text_format(
                                path,
                                &key,
                                &format,
                                f.decimal_separator.as_deref(),
                                f.thousands_separator.as_deref(),
                                f.date_format.as_deref(),
                                f.trim,
                            )?)
                        } else {
                            None
                        };
                        let values_lower = f.values.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect();
                        FieldRule {
                            column: f.column,
                            constant: f.constant,
                            default: f.default,
                            values: f.values.into_iter().collect(),
                            values_lower,
                            format: fmt,
                        }
                    }
                    other => {
                        return Err(invalid(
                            key,
                            format!(
                                "a column is a name (\"Rechnungsnummer\") or a rule ({{ column = \"…\", values = {{ … }} }}), not a {}",
                                other.type_str()
                            ),
                        ))
                    }
                };
                if fields.insert(idx, rule).is_some() {
                    return Err(invalid(key, "this field is mapped twice (by OData and staging name)".into()));
                }
            }
            let document_type = match em.document_type {
                None => None,
                Some(_) if entity.kind != crate::entity::EntityKind::InvoiceHeader => {
                    return Err(invalid(
                        format!("entity.{ename}.document_type"),
                        format!(
                            "{} is not an invoice header entity: the document type belongs on the header",
                            entity.name
                        ),
                    ))
                }
                Some(d) => {
                    let key = format!("entity.{ename}.document_type");
                    if d.invoice.is_empty() || d.credit_note.is_empty() {
                        return Err(invalid(
                            key,
                            "list the values of both kinds: invoice = [\"RE\"], credit_note = [\"GU\"]".into(),
                        ));
                    }
                    if let Some(both) =
                        d.invoice.iter().find(|v| d.credit_note.iter().any(|c| c.eq_ignore_ascii_case(v)))
                    {
                        return Err(invalid(key, format!("`{both}` is listed as an invoice and as a credit note")));
                    }
                    Some(d)
                }
            };
            entities.insert(entity.name.clone(), EntityMapping { files: em.files, fields, document_type });
        }
        Ok(Mapping {
            path: path.to_path_buf(),
            name: file.name,
            description: file.description,
            csv,
            format,
            entities,
            encoding_given: src.encoding.is_some(),
        })
    }

    /// A mapping that only sets the encoding (`--encoding`): columns match fields by name.
    pub fn with_encoding(encoding: Encoding) -> Mapping {
        Mapping {
            path: PathBuf::from("--encoding"),
            name: "--encoding".into(),
            description: String::new(),
            csv: CsvOptions { encoding, ..CsvOptions::default() },
            format: TextFormat::default(),
            entities: BTreeMap::new(),
            encoding_given: true,
        }
    }

    /// Whether `entity`'s file patterns in this mapping match this file name.
    pub fn matches_file(&self, entity: &str, file_name: &str) -> bool {
        let name = file_name.to_lowercase();
        self.entities.get(entity).is_some_and(|m| m.files.iter().any(|p| wildcard_match(&p.to_lowercase(), &name)))
    }

    /// The entity whose file patterns match this file name, if exactly one does.
    pub fn entity_for_file(&self, file_name: &str) -> Option<&str> {
        let mut hits = self.entities.keys().filter(|e| self.matches_file(e, file_name));
        match (hits.next(), hits.next()) {
            (Some(name), None) => Some(name),
            _ => None,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn text_format(
    path: &Path,
    key: &str,
    base: &TextFormat,
    decimal: Option<&str>,
    thousands: Option<&str>,
    date: Option<&str>,
    trim: Option<bool>,
) -> Result<TextFormat, MappingError> {
    let mut f = base.clone();
    if let Some(d) = decimal {
        f.decimal_separator = one_byte(path, &format!("{key}.decimal_separator"), d)?;
    }
    if let Some(t) = thousands {
        f.thousands_separator = Some(one_byte(path, &format!("{key}.thousands_separator"), t)?);
    }
    if f.thousands_separator == Some(f.decimal_separator) {
        return Err(MappingError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message: "the decimal and thousands separators are the same character".into(),
        });
    }
    if let Some(p) = date {
        f.date = Some(DatePattern::new(p).map_err(|message| MappingError::Invalid {
            path: path.to_path_buf(),
            key: format!("{key}.date_format"),
            message,
        })?);
    }
    if let Some(t) = trim {
        f.trim = t;
    }
    Ok(f)
}

/// The text of all fields of `record` (as [`Record::as_slice`] holds them) when it is
/// UTF-8 and no field starts inside a character, so that each field's range of it is text too:
/// one check per record instead of one per field.
pub fn record_text<'r>(record: Record<'r>) -> Option<RecordText<'r>> {
    let bytes = record.as_slice();
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8 (and in ASCII text every byte starts a character). One look at
        // the bytes instead of a validation and then this look.
        return Some(RecordText { record, text: unsafe { std::str::from_utf8_unchecked(bytes) } });
    }
    let text = simdutf8::basic::from_utf8(bytes).ok()?;
    (0..record.len())
        .all(|i| record.range(i).is_some_and(|r| text.is_char_boundary(r.start)))
        .then_some(RecordText { record, text })
}

/// A record whose fields are all text, with that text ([`record_text`] makes it): each field's
/// range of the text starts on a character boundary, and ends on one (where the record does,
/// or before the next field's start, a delimiter, a quote or the spaces of a decoded quoted
/// field, all ASCII).
#[derive(Debug, Clone, Copy)]
pub struct RecordText<'r> {
    record: Record<'r>,
    text: &'r str,
}

impl<'r> RecordText<'r> {
    /// The text of all fields (as [`Record::as_slice`] holds them).
    pub fn as_str(self) -> &'r str {
        self.text
    }

    /// The text of field `i`.
    #[inline(always)]
    pub(crate) fn field(self, i: usize) -> Option<&'r str> {
        let (start, end) = self.record.bounds(i)?;
        debug_assert!(start <= end && self.text.is_char_boundary(start) && self.text.is_char_boundary(end));
        // SAFETY: a field's range lies in the record's bytes, which `text` is, and starts and
        // ends on character boundaries (see the type).
        Some(unsafe { self.text.get_unchecked(start..end) })
    }
}

/// `str::trim`, with a quick answer for the usual value that starts and ends with a visible
/// ASCII character.
#[inline]
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        (None, _) => s,
        _ => s.trim(),
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(p) => rest = &rest[p + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Where a field's value comes from in one particular file.
#[derive(Debug, Clone)]
pub enum Source {
    /// A column of the file.
    Column(usize),
    /// The same value for every row.
    Constant(String),
    /// Nothing: the field is empty (or its default) in every row.
    Missing {
        /// The column the mapping named, when it named one.
        column: Option<String>,
    },
}

/// How to get every field of an entity out of one file's records.
#[derive(Debug)]
pub struct Plan<'e> {
    /// The target entity.
    pub entity: &'e Entity,
    /// Per entity field: its source.
    pub sources: Vec<Source>,
    /// Per entity field: its mapping rule (defaults when unmapped).
    pub rules: Vec<FieldRule>,
    /// Per entity field: text conventions.
    pub formats: Vec<TextFormat>,
    /// Columns of the file no field uses, reported once.
    pub unknown_columns: Vec<String>,
    /// Required fields with no column, constant or default: every row lacks them.
    pub missing_required: Vec<usize>,
    /// The fields with a role, then those without, as the quick typing of a line takes them
    /// (`crate::validate::fast`), worked out once per file.
    pub roles: Vec<FieldOp>,
    /// See [`Plan::roles`].
    pub others: Vec<FieldOp>,
    /// The mapping's document type column (header entities) and where it is in the file
    /// (`None`: not in it, and every row is rejected for it).
    pub document_type: Option<(DocumentType, Option<usize>)>,
}

/// One field as the quick typing of a line takes it (see [`Plan::roles`]).
#[derive(Debug, Clone, Copy)]
pub struct FieldOp {
    /// The entity field.
    pub field: usize,
    /// Its column, when its text is the column's as it stands (trimmed when the format says
    /// so): nothing else (a constant, a default, a value map) stands between them.
    pub direct: Option<Direct>,
    /// Whether it must have a value.
    pub required: bool,
    /// Its type, as far as the quick typing tells types apart.
    pub kind: OpKind,
    /// Its role, when it is the field the entity takes that role from.
    pub role: Option<crate::entity::Role>,
}

/// See [`FieldOp::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Text of at most `max` characters.
    Text {
        /// Characters.
        max: u32,
    },
    /// A decimal written with `.` as the separator.
    Decimal {
        /// Digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// A whole number of 32 bits.
    Int32,
    /// A whole number of 64 bits.
    Int64,
    /// Anything else (dates, enums, yes/no, decimals written otherwise).
    Other,
}
/// A field taken straight from a column (see [`FieldOp::direct`]).
#[derive(Debug, Clone, Copy)]
pub struct Direct {
    /// The column.
    pub column: u32,
    /// Whether spaces around the text are dropped.
    pub trim: bool,
}

/// A value problem found while mapping (before typing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapProblem {
    /// The bytes are not valid UTF-8 (byte offset of the first bad byte).
    NotUtf8(usize),
}

impl<'e> Plan<'e> {
    /// Matches the file's columns to the entity's fields, through the mapping when given.
    pub fn new(entity: &'e Entity, columns: &[String], mapping: Option<&Mapping>) -> Plan<'e> {
        let by_col: HashMap<String, usize> =
            columns.iter().enumerate().rev().map(|(i, c)| (c.to_lowercase(), i)).collect();
        let em = mapping.and_then(|m| m.entities.get(&entity.name));
        let base_format = mapping.map(|m| m.format.clone()).unwrap_or_default();
        let mut used = vec![false; columns.len()];
        let mut sources = Vec::with_capacity(entity.fields.len());
        let mut rules = Vec::with_capacity(entity.fields.len());
        let mut formats = Vec::with_capacity(entity.fields.len());
        let mut missing_required = Vec::new();
        for (i, field) in entity.fields.iter().enumerate() {
            let rule = em.and_then(|m| m.fields.get(&i)).cloned().unwrap_or_default();
            let source = if let Some(c) = &rule.constant {
                Source::Constant(c.clone())
            } else if let Some(col) = &rule.column {
                match by_col.get(&col.to_lowercase()) {
                    Some(&ci) => Source::Column(ci),
                    None => Source::Missing { column: Some(col.clone()) },
                }
            } else {
                let hit = by_col.get(&field.name.to_lowercase()).or_else(|| by_col.get(&field.staging.to_lowercase()));
                match hit {
                    Some(&ci) => Source::Column(ci),
                    None => Source::Missing { column: None },
                }
            };
            if let Source::Column(ci) = source {
                used[ci] = true;
            }
            if field.required && matches!(source, Source::Missing { .. }) && rule.default.is_none() {
                missing_required.push(i);
            }
            formats.push(rule.format.clone().unwrap_or_else(|| base_format.clone()));
            sources.push(source);
            rules.push(rule);
        }
        let document_type = em.and_then(|m| m.document_type.clone()).map(|d| {
            let at = by_col.get(&d.column.to_lowercase()).copied();
            if let Some(ci) = at {
                used[ci] = true;
            }
            (d, at)
        });
        let unknown_columns =
            columns.iter().zip(&used).filter(|(c, u)| !**u && !c.is_empty()).map(|(c, _)| c.clone()).collect();
        let direct: Vec<Option<Direct>> = (sources.iter().zip(&rules).zip(&formats))
            .map(|((source, rule), format)| match source {
                Source::Column(c) if rule.default.is_none() && rule.values.is_empty() => {
                    Some(Direct { column: *c as u32, trim: format.trim })
                }
                _ => None,
            })
            .collect();
        let op = |i: usize| {
            let f = &entity.fields[i];
            let kind = match f.ty {
                FieldType::String { max } => OpKind::Text { max },
                FieldType::Decimal { precision, scale } if formats[i].decimal_separator == b'.' => {
                    OpKind::Decimal { precision, scale }
                }
                FieldType::Int => OpKind::Int32,
                FieldType::Int64 => OpKind::Int64,
                _ => OpKind::Other,
            };
            FieldOp { field: i, direct: direct[i], required: f.required, kind, role: entity.role_of(i) }
        };
        let roles = (0..entity.fields.len()).filter(|&i| entity.fields[i].role.is_some()).map(op).collect();
        let others = (0..entity.fields.len()).filter(|&i| entity.fields[i].role.is_none()).map(op).collect();
        Plan { entity, sources, rules, formats, unknown_columns, missing_required, roles, others, document_type }
    }

    /// The text of field `i` in `record` after trimming, defaults and value maps; empty when
    /// the field has no value.
    pub fn text<'r>(&'r self, i: usize, record: Record<'r>) -> Result<Cow<'r, str>, MapProblem> {
        self.text_in(i, record, None)
    }

    /// [`Plan::text_in`] of the field of `op` (a field taken straight from a column the short
    /// way); `None` when it is not UTF-8.
    #[inline]
    pub fn op_text<'r>(&'r self, op: &FieldOp, text: RecordText<'r>) -> Option<&'r str> {
        // The short way inline (it is most fields of most rows), the rest out of line.
        let Some(d) = op.direct else { return self.mapped_text(op.field, text) };
        let raw = text.field(d.column as usize)?;
        Some(if d.trim { trim(raw) } else { raw })
    }

    /// [`Plan::op_text`] of a field that is not taken straight from a column.
    #[inline(never)]
    fn mapped_text<'r>(&'r self, i: usize, text: RecordText<'r>) -> Option<&'r str> {
        match self.text_in(i, text.record, Some(text)) {
            Ok(Cow::Borrowed(t)) => Some(t),
            _ => None,
        }
    }

    /// [`Plan::text`] of a record whose fields [`record_text`] has already read as UTF-8 (its
    /// result passed as `fields`; `None` checks this field alone).
    pub fn text_in<'r>(
        &'r self,
        i: usize,
        record: Record<'r>,
        fields: Option<RecordText<'r>>,
    ) -> Result<Cow<'r, str>, MapProblem> {
        let rule = &self.rules[i];
        let raw: &str = match &self.sources[i] {
            Source::Constant(c) => c.as_str(),
            Source::Missing { .. } => "",
            Source::Column(ci) => match (fields, record.range(*ci)) {
                // The record's text is UTF-8 and every field starts on a character boundary.
                (Some(all), Some(r)) => &all.as_str()[r],
                (_, r) => {
                    let bytes = r.map(|r| &record.as_slice()[r]).unwrap_or(b"");
                    std::str::from_utf8(bytes).map_err(|e| MapProblem::NotUtf8(e.valid_up_to()))?
                }
            },
        };
        let v = if self.formats[i].trim { trim(raw) } else { raw };
        let v = if v.is_empty() {
            match &rule.default {
                Some(d) => d.as_str(),
                None => return Ok(Cow::Borrowed("")),
            }
        } else {
            v
        };
        if !rule.values.is_empty() {
            if let Some(m) = rule.values.get(v).or_else(|| rule.values_lower.get(&v.to_lowercase())) {
                return Ok(Cow::Borrowed(m.as_str()));
            }
        }
        Ok(Cow::Borrowed(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("rechnungskopf*.csv", "rechnungskopf_2024.csv"));
        assert!(wildcard_match("*kopf*", "x_kopf_y"));
        assert!(!wildcard_match("*kopf*.csv", "x_pos.csv"));
        assert!(wildcard_match("a.csv", "a.csv"));
    }

    #[test]
    fn a_mapping_naming_an_unknown_field_names_the_key() {
        let text = "version = 1\nname = \"x\"\n[entity.SalesInvoiceJournalHeader.columns]\nInvoiceNumbr = \"Nr\"\n";
        let err = Mapping::parse(Path::new("m.toml"), text, Catalog::builtin()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "m.toml: entity.SalesInvoiceJournalHeader.columns.InvoiceNumbr: SalesInvoiceJournalHeader has no field InvoiceNumbr; `invoiceflow entities SalesInvoiceJournalHeader` lists its fields"
        );
    }

    #[test]
    fn a_document_type_belongs_on_a_header_and_names_each_value_once() {
        let parse = |entity: &str, values: &str| {
            let text =
                format!("version = 1\nname = \"x\"\n[entity.{entity}.document_type]\ncolumn = \"Art\"\n{values}\n");
            Mapping::parse(Path::new("m.toml"), &text, Catalog::builtin())
                .map(|m| m.entities[entity].document_type.clone())
        };
        let d = parse("SalesInvoiceJournalHeader", "invoice = [\"RE\"]\ncredit_note = [\"GU\", \"Gutschrift\"]")
            .unwrap()
            .unwrap();
        use crate::model::TypedAs;
        assert_eq!(
            [" RE ", "gu", "GUTSCHRIFT", "XX", ""].map(|v| d.kind(v)),
            [Some(TypedAs::Invoice), Some(TypedAs::CreditNote), Some(TypedAs::CreditNote), None, None]
        );
        assert_eq!(
            parse("BusinessDocumentSalesInvoiceLineItem", "invoice = [\"RE\"]\ncredit_note = [\"GU\"]").unwrap_err().to_string(),
            "m.toml: entity.BusinessDocumentSalesInvoiceLineItem.document_type: BusinessDocumentSalesInvoiceLineItem is not an invoice header entity: the document type belongs on the header"
        );
        assert_eq!(
            parse("SalesInvoiceJournalHeader", "invoice = [\"RE\"]\ncredit_note = [\"re\"]").unwrap_err().to_string(),
            "m.toml: entity.SalesInvoiceJournalHeader.document_type: `RE` is listed as an invoice and as a credit note"
        );
        assert!(parse("SalesInvoiceJournalHeader", "invoice = []\ncredit_note = [\"GU\"]")
            .unwrap_err()
            .to_string()
            .contains("list the values of both kinds"));
    }

    #[test]
    fn a_bad_date_pattern_is_refused() {
        let text = "version = 1\nname = \"x\"\n[source]\ndate_format = \"dd.MM\"\n[entity.Customer]\n";
        let err = Mapping::parse(Path::new("m.toml"), text, Catalog::builtin()).unwrap_err();
        assert_eq!(err.to_string(), "m.toml: source.date_format: date pattern `dd.MM` needs a year, a month and a day");
    }
}
