//! Typing one record: the plan's fields, each converted to its type; every problem of the row
//! is collected into one reject (the first problem names the field and rule).

use crate::read::Record;

use crate::entity::Entity;
use crate::map::{MapProblem, Plan, Source};
use crate::read::Origin;

use super::field::{self, Value};
use super::{Reject, Rule};

/// Converts `record` into `out` (one value per entity field), or says why the row is rejected.
pub fn convert<'r>(
    plan: &'r Plan<'_>,
    columns: &[String],
    record: Record<'r>,
    origin: Origin,
    out: &mut Vec<Value<'r>>,
) -> Result<(), Reject> {
    let entity = plan.entity;
    if record.len() != columns.len() {
        return Err(shape_reject(columns, record, origin));
    }
    if let Some(&first) = plan.missing_required.first() {
        let names: Vec<String> = plan.missing_required.iter().map(|&i| describe_missing(plan, i)).collect();
        return Err(Reject::new(
            origin,
            Some(&entity.fields[first].name),
            Rule::ColumnMissing,
            format!(
                "required {} not in the file (header columns: {}) — {}",
                if names.len() == 1 {
                    format!("field {} is", names[0])
                } else {
                    format!("fields {} are", names.join(", "))
                },
                columns.join(", "),
                Rule::ColumnMissing.fix()
            ),
        ));
    }
    out.clear();
    let mut problems: Vec<(usize, Rule, String)> = Vec::new();
    let fields = crate::map::record_text(record);
    for (i, f) in entity.fields.iter().enumerate() {
        let text: &'r str = match plan.text_in(i, record, fields) {
            Ok(std::borrow::Cow::Borrowed(t)) => t,
            Ok(std::borrow::Cow::Owned(_)) => unreachable!("mapped text borrows the record or the plan"),
            Err(MapProblem::NotUtf8(at)) => {
                problems.push((
                    i,
                    Rule::EncodingInvalid,
                    format!("holds bytes that are not UTF-8 (at byte {at} of the value)"),
                ));
                out.push(Value::Empty);
                continue;
            }
        };
        match field::parse(text, &f.ty, &plan.formats[i]) {
            Ok(Value::Empty) if f.required => {
                problems.push((i, Rule::FieldRequired, "is required but empty".to_string()));
                out.push(Value::Empty);
            }
            Ok(v) => out.push(v),
            Err((rule, msg)) => {
                problems.push((i, rule, msg));
                out.push(Value::Empty);
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let (fi, rule, _) = &problems[0];
    let parts: Vec<String> =
        problems.iter().map(|(i, _, m)| format!("{} {m}", field_label(plan, entity, *i))).collect();
    let text = plan.text_in(*fi, record, fields).unwrap_or_default();
    let mut message = format!("{} — {}", parts[0], field::fix(*rule, &text, &plan.formats[*fi]));
    if parts.len() > 1 {
        message.push_str("; also: ");
        message.push_str(&parts[1..].join("; "));
    }
    Err(Reject::new(origin, Some(&entity.fields[*fi].name), *rule, message))
}

/// `InvoiceDate` or `InvoiceDate (column Rechnungsdatum)` when a mapping renamed it.
fn field_label(plan: &Plan<'_>, entity: &Entity, i: usize) -> String {
    let name = &entity.fields[i].name;
    match (&plan.rules[i].column, &plan.sources[i]) {
        (Some(col), Source::Column(_)) if !col.eq_ignore_ascii_case(name) => {
            format!("{name} (column {col})")
        }
        _ => name.clone(),
    }
}

/// A required field that no column feeds: `CustomerAccount`, or `CustomerAccount (mapped from column KUNNR)`.
pub fn describe_missing(plan: &Plan<'_>, i: usize) -> String {
    let f = &plan.entity.fields[i];
    match &plan.sources[i] {
        Source::Missing { column: Some(c) } => format!("{} (mapped from column {c})", f.name),
        _ if f.staging != f.name.to_ascii_uppercase() || f.staging == f.name => f.name.clone(),
        _ => format!("{} ({})", f.name, f.staging),
    }
}

/// A record whose field count differs from the header's: a ragged row, or a quote left open
/// (which swallows the line breaks after it into one field).
fn shape_reject(columns: &[String], record: Record<'_>, origin: Origin) -> Reject {
    let swallowed = record.iter().position(|f| f.contains(&b'\n') || f.contains(&b'\r'));
    if let Some(fi) = swallowed {
        let breaks: u64 = record.iter().map(crate::read::records::line_ends).sum();
        let col = columns.get(fi).map(String::as_str).unwrap_or("?");
        return Reject::new(
            origin,
            Some(col),
            Rule::CsvUnclosedQuote,
            format!(
                "a quote opened in column {col} is not closed: the record runs from line {} to line {} and has {} fields instead of {} — {}",
                origin.line,
                origin.line + breaks,
                record.len(),
                columns.len(),
                Rule::CsvUnclosedQuote.fix()
            ),
        );
    }
    Reject::new(
        origin,
        None,
        Rule::CsvFieldCount,
        format!(
            "the record has {} fields; the header has {} — {}",
            record.len(),
            columns.len(),
            Rule::CsvFieldCount.fix()
        ),
    )
}
