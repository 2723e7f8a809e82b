//! The usual invoice line in one pass. Most lines of a large file are well formed, and most of
//! their fields have no role: typing such a field into a value only to write the value back as
//! text costs more than everything else done to the line. Here a field without a role whose
//! text is already in canonical form (a text that fits, a plain decimal or whole number as
//! [`Value::write_canonical`] writes it) is copied as it stands; the other fields are typed as
//! [`super::convert`] types them.
//!
//! Whatever is not usual — a field breaking a rule, a row of the wrong width, text that is not
//! UTF-8, a currency that does not fit — gives `None`, and the caller types the row the full
//! way, which finds the same values and writes the reject with every problem of the row. The
//! line made here is the line the full way makes (a test compares them).

use crate::map::{record_text, FieldOp, OpKind, Plan, RecordText};
use crate::model::{ChunkBuilder, Extras, InvoiceLine, TextSink};
use crate::read::{Origin, Record};

use super::field::{self, Value};
use super::invoice::{self, LinePart, LineParts, LineTyping};

/// The line of `record` when every field of it passes (see the module): its fields with a role
/// typed straight into the line's parts, `typing` the chunk the line's texts go into.
pub fn line<'r>(
    plan: &'r Plan<'_>,
    columns: usize,
    record: Record<'r>,
    origin: Origin,
    default_legal_entity: &str,
    typing: &mut LineTyping,
) -> Option<InvoiceLine> {
    if record.len() != columns || !plan.missing_required.is_empty() {
        return None;
    }
    let all = record_text(record)?;
    let entity = plan.entity;
    let mut parts = LineParts::default();
    for op in &plan.roles {
        let text = plan.op_text(op, all)?;
        if text.is_empty() {
            if op.required {
                return None;
            }
            continue;
        }
        // The usual text and decimal straight into their part; the rest typed, then set.
        let part = op.role.map_or(LinePart::Unused, LinePart::of);
        let quick_value = match (op.kind, part) {
            (OpKind::Text { max }, LinePart::Text(k)) if text.len() <= max as usize => {
                parts.set_text(k, text);
                continue;
            }
            (OpKind::Decimal { precision, scale }, LinePart::Decimal(k)) => {
                match field::quick_decimal(text.as_bytes(), precision, scale, b'.') {
                    Some(d) => {
                        parts.set_decimal(k, d);
                        continue;
                    }
                    // Not the usual decimal: typed the general way below (no second look).
                    None => None,
                }
            }
            // An ISO date (no pattern of the mapping's): the line before's when the same text.
            (OpKind::Other, LinePart::Date)
                if plan.formats[op.field].date.is_none()
                    && matches!(entity.fields[op.field].ty, crate::entity::FieldType::Date) =>
            {
                parts.set_date(typing.iso_date(text)?);
                continue;
            }
            _ => quick(op, text),
        };
        let value = match quick_value {
            Some(v) => v,
            None => field::parse(text, &entity.fields[op.field].ty, &plan.formats[op.field]).ok()?,
        };
        parts.set(part, value);
    }
    let extras = |texts: &mut ChunkBuilder| extras(plan, all, texts);
    invoice::line_with(entity, parts, origin, default_legal_entity, typing, extras).ok().flatten()
}

/// The usual text, decimal and whole number without the general typing's look-ups (the same
/// values).
fn quick<'r>(op: &FieldOp, text: &'r str) -> Option<Value<'r>> {
    match op.kind {
        OpKind::Text { max } if text.len() <= max as usize => Some(Value::Str(text.into())),
        OpKind::Decimal { precision, scale } => {
            field::quick_decimal(text.as_bytes(), precision, scale, b'.').map(Value::Dec)
        }
        OpKind::Int32 => quick_int(text.as_bytes(), true).map(Value::Int),
        OpKind::Int64 => quick_int(text.as_bytes(), false).map(Value::Int),
        _ => None,
    }
}

/// The usual whole number (what `str::parse::<i64>` reads, 32-bit when `int32`): an optional
/// `-` and at most 18 digits; `None` for everything else (typed the general way).
fn quick_int(text: &[u8], int32: bool) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v = 0i64;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d >= 10 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    let v = if negative { -v } else { v };
    (!int32 || i32::try_from(v).is_ok()).then_some(v)
}

/// The header of `record`, packed for the book, when every field of it passes (see the
/// module; `values` the room its typed fields are put in).
pub fn header<'r>(
    plan: &'r Plan<'_>,
    columns: usize,
    record: Record<'r>,
    origin: Origin,
    default_legal_entity: &str,
    values: &mut Vec<Value<'r>>,
) -> Option<invoice::Booked> {
    thread_local! {
        /// The texts of the header being typed, in room kept from header to header.
        static TEXTS: std::cell::RefCell<Extras> = std::cell::RefCell::default();
    }
    let all = roles(plan, columns, record, values)?;
    TEXTS.with(|t| {
        let mut t = t.borrow_mut();
        t.clear();
        if !extras(plan, all, &mut *t) {
            return None;
        }
        // What the document type column says, when the mapping has one (anything unusual the
        // full way, which says what is wrong).
        let typed_as = match &plan.document_type {
            None => None,
            Some((d, at)) => Some(d.kind(all.field((*at)?)?)?),
        };
        // Typed without its texts and packed with them: they are copied once, into the pack.
        let mut h = invoice::header_with(plan.entity, values, origin, default_legal_entity, Extras::default()).ok()?;
        h.typed_as = typed_as;
        Some(invoice::Booked::with_texts(&h, &t))
    })
}

/// The fields with a role of a header's `record`, typed into `values`; the record's text, `None` when a
/// field breaks a rule or the record is not the usual one.
fn roles<'r>(
    plan: &'r Plan<'_>,
    columns: usize,
    record: Record<'r>,
    values: &mut Vec<Value<'r>>,
) -> Option<RecordText<'r>> {
    let entity = plan.entity;
    if record.len() != columns || !plan.missing_required.is_empty() {
        return None;
    }
    let all = record_text(record)?;
    values.clear();
    values.resize(entity.fields.len(), Value::Empty);
    for op in &plan.roles {
        let i = op.field;
        let text = plan.op_text(op, all)?;
        if text.is_empty() {
            if op.required {
                return None;
            }
            continue;
        }
        values[i] = match quick(op, text) {
            Some(v) => v,
            None => field::parse(text, &entity.fields[i].ty, &plan.formats[i]).ok()?,
        };
    }
    Some(all)
}

/// The texts of the fields without a role into `texts` (false when one breaks a rule).
fn extras(plan: &Plan<'_>, all: RecordText<'_>, texts: &mut impl TextSink) -> bool {
    for op in &plan.others {
        let Some(text) = plan.op_text(op, all) else { return false };
        if text.is_empty() {
            if op.required {
                return false;
            }
            continue;
        }
        let canonical = match op.kind {
            OpKind::Text { max } => text.len() <= max as usize,
            OpKind::Decimal { precision, scale } => canonical_decimal(text.as_bytes(), precision, scale),
            OpKind::Int32 => canonical_int(text.as_bytes(), true),
            OpKind::Int64 => canonical_int(text.as_bytes(), false),
            OpKind::Other => false,
        };
        let i = op.field;
        if canonical {
            texts.push_with(i as u16, |s| s.push_str(text));
            continue;
        }
        let ty = &plan.entity.fields[i].ty;
        match field::parse(text, ty, &plan.formats[i]) {
            Ok(v) => texts.push_with(i as u16, |s| v.write_canonical(ty, s)),
            Err(_) => return false,
        }
    }
    true
}

/// Whether `text` is a decimal that fits `precision` and `scale` and that
/// [`crate::model::write_decimal`] writes back as it stands: a plain decimal that fits
/// ([`field::PlainDecimal`]), without a `+` and without a leading zero (but `0` itself).
fn canonical_decimal(text: &[u8], precision: u8, scale: u8) -> bool {
    field::PlainDecimal::read(text, b'.').is_some_and(|d| {
        let leading_zero = d.int_digits > 1 && d.leading_zeros() > 0;
        !d.plus && !leading_zero && d.fits(precision, scale)
    })
}

/// Whether `text` is a whole number (32-bit when `int32`) that is written back as it stands:
/// an optional `-`, digits without a leading zero (but `0` itself), not `-0`.
fn canonical_int(text: &[u8], int32: bool) -> bool {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if digits.len() > 1 && digits[0] == b'0' || negative && digits == b"0" {
        return false;
    }
    if !int32 {
        return true;
    }
    let v = digits.iter().fold(0i64, |v, &b| v * 10 + i64::from(b - b'0'));
    i32::try_from(if negative { -v } else { v }).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::FieldType;
    use crate::map::TextFormat;

    /// What the full way makes of `text` as a field without a role: its canonical text, or
    /// `None` when it breaks a rule.
    fn full(text: &str, ty: &FieldType) -> Option<String> {
        field::parse(text, ty, &TextFormat::default()).ok().map(|v| v.canonical(ty))
    }

    /// Calls `each` with every record of a generated file of `entity` (as it is: `true` when the
    /// full way accepts it), and with the first dozen records each with one field changed to
    /// each of some awkward values (`false`).
    fn rows_and_changes(entity: &str, seed: u64, mut each: impl FnMut(&Plan<'_>, &[String], Record<'_>, Origin, bool)) {
        let dir = tempfile::tempdir().unwrap();
        crate::generate::generate(&crate::generate::GenerateRequest {
            invoices: 60,
            seed,
            out: dir.path().to_path_buf(),
            defect_rate: 0.2,
            customers: 10,
            first: 1,
            parquet: false,
            unsorted: false,
            all_categories: false,
        })
        .unwrap();
        let catalog = crate::entity::Catalog::builtin();
        let entity = catalog.get(entity).unwrap();
        let path = dir.path().join(format!("{}.csv", entity.name));
        let mut source = crate::read::open(&path, &Default::default()).unwrap();
        let columns = source.columns().to_vec();
        let plan = Plan::new(entity, &columns, None);
        let mut batch = crate::read::RawBatch::default();
        source.next_batch(&mut batch, 100_000).unwrap();
        let awkward =
            ["", " 5 ", "007", "-0", "+1", "1,5", "x", "0.0000001", "2023-01-02", "-12.5", "Yes", "10", "ä", "\"q\""];
        let long = "y".repeat(300);
        for i in 0..batch.len() {
            let origin = Origin { file: 0, line: i as u64 + 2, record: i as u64 + 1 };
            // The generator's defects are in a few rows; the others are well formed.
            let record = batch.record(i);
            let as_is = super::super::convert(&plan, &columns, record, origin, &mut Vec::new()).is_ok();
            each(&plan, &columns, record, origin, as_is);
            if i >= 12 {
                continue;
            }
            for col in 0..columns.len() {
                for v in awkward.iter().copied().chain([long.as_str()]) {
                    let mut changed = crate::read::Records::default();
                    changed.start_record();
                    for (c, f) in record.iter().enumerate() {
                        changed.push_field(if c == col { v.as_bytes() } else { f });
                    }
                    each(&plan, &columns, changed.get(0), origin, false);
                }
            }
        }
    }

    /// Where a line is made here, the full way makes the same line with the same texts; every
    /// line the full way accepts is made here (none falls back needlessly).
    #[test]
    fn a_line_made_here_is_the_line_the_full_way_makes() {
        let (mut fast_typing, mut full_typing) = (LineTyping::default(), LineTyping::default());
        let (mut made, mut full_ok) = (0, 0);
        rows_and_changes("BusinessDocumentSalesInvoiceLineItem", 7, |plan, columns, record, origin, as_is| {
            let fast = line(plan, columns.len(), record, origin, "DEMF", &mut fast_typing);
            let mut values = Vec::new();
            let full = super::super::convert(plan, columns, record, origin, &mut values)
                .and_then(|()| invoice::line_from(plan.entity, &mut values, origin, "DEMF", &mut full_typing));
            let (fast_chunk, full_chunk) = (fast_typing.texts.finish(), full_typing.texts.finish());
            full_ok += usize::from(full.is_ok());
            assert!(!as_is || fast.is_some(), "a well-formed line at {origin:?} is made here");
            if let Some(mut l) = fast {
                made += 1;
                let mut f = full.expect("the full way accepts the line too");
                l.extras.attach(&fast_chunk);
                f.extras.attach(&full_chunk);
                assert_eq!(l, f);
                assert_eq!(l.extras.iter().collect::<Vec<_>>(), f.extras.iter().collect::<Vec<_>>());
            }
        });
        assert_eq!(made, full_ok);
        assert!(made > 5000, "{made} lines made here");
    }

    /// As for lines, with headers (made here packed for the book: unpacked, the same header).
    #[test]
    fn a_header_made_here_is_the_header_the_full_way_makes() {
        let (mut made, mut full_ok) = (0, 0);
        rows_and_changes("SalesInvoiceHeaderV2", 9, |plan, columns, record, origin, as_is| {
            let fast = header(plan, columns.len(), record, origin, "DEMF", &mut Vec::new());
            let mut values = Vec::new();
            let full = super::super::convert(plan, columns, record, origin, &mut values)
                .and_then(|()| invoice::header_from(plan.entity, &mut values, origin, "DEMF"));
            full_ok += usize::from(full.is_ok());
            assert!(!as_is || fast.is_some(), "a well-formed header at {origin:?} is made here");
            if let Some(h) = fast.map(|b| b.unpacked()) {
                made += 1;
                let f = full.expect("the full way accepts the header too");
                assert_eq!(h, f);
                assert_eq!(h.extras.iter().collect::<Vec<_>>(), f.extras.iter().collect::<Vec<_>>());
            }
        });
        assert_eq!(made, full_ok);
        assert!(made > 2000, "{made} headers made here");
    }

    #[test]
    fn a_text_copied_as_it_stands_is_the_text_the_full_way_writes() {
        let dec = FieldType::Decimal { precision: 32, scale: 6 };
        let small = FieldType::Decimal { precision: 5, scale: 2 };
        let cases = [
            "0",
            "0.00",
            "-0.5",
            "12.345",
            "100",
            "-100.10",
            "007",
            "0.0000001",
            "1234567",
            "-0",
            "-0.00",
            "+1",
            "1.",
            ".5",
            "1e3",
            "1,5",
            "123456789012345678",
            "1234567890123456789",
            "999.99",
            "1000",
            "12.345",
            "0.000",
            "00",
            "-",
            "",
            "1.2.3",
        ];
        let mut copied = 0;
        for text in cases {
            for (ty, p, s) in [(&dec, 32, 6), (&small, 5, 2)] {
                if canonical_decimal(text.as_bytes(), p, s) {
                    copied += 1;
                    assert_eq!(full(text, ty).as_deref(), Some(text), "{text} as {ty:?}");
                }
            }
        }
        assert_eq!(copied, 18);
        let ints = ["0", "5", "-5", "007", "-0", "+5", "2147483647", "2147483648", "-2147483648", "99999999999", ""];
        let mut copied = 0;
        for text in ints {
            for (ty, int32) in [(FieldType::Int, true), (FieldType::Int64, false)] {
                if canonical_int(text.as_bytes(), int32) {
                    copied += 1;
                    assert_eq!(full(text, &ty).as_deref(), Some(text), "{text} as {ty:?}");
                }
            }
        }
        assert_eq!(copied, 12);
        // What is not copied is typed: none of these is copied.
        for text in ["007", "-0", "+5", "1.", "0.0000001"] {
            assert!(!canonical_decimal(text.as_bytes(), 5, 2) && !canonical_int(text.as_bytes(), false));
        }
    }
}
