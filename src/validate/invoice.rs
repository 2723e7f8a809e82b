//! Invoice rows: typed values → headers and lines of the domain model, then the rules across
//! rows: duplicate keys, lines without headers and headers without lines, references to master
//! data, totals, signs and dates. An invoice is accepted whole or rejected whole.

use rustc_hash::FxHashMap as HashMap;

use rayon::iter::{IntoParallelRefMutIterator as _, ParallelIterator as _};
use rayon::slice::ParallelSliceMut as _;
use rust_decimal::Decimal;

use crate::entity::{DocumentKind, Entity, Role};
use crate::model::master::MasterData;
use crate::model::totals::{self, LineTax, RoundingPolicy, Totals};
use crate::model::{
    ChunkBuilder, Currency, Date, Head, HeaderRef, HeaderTotals, Invoice, InvoiceHeader, InvoiceLine, PackedHeader,
    Slot, TypedAs,
};
use crate::read::Origin;

use super::field::Value;
use super::{Reject, Rule};

fn take<'a>(entity: &Entity, values: &mut [Value<'a>], role: Role) -> Value<'a> {
    entity.role_index(role).map(|i| std::mem::take(&mut values[i])).unwrap_or_default()
}

fn take_str(entity: &Entity, values: &mut [Value<'_>], role: Role) -> Option<Box<str>> {
    match take(entity, values, role) {
        Value::Str(s) => Some(s.into()),
        _ => None,
    }
}

/// A text field without copying it.
fn take_text<'a>(entity: &Entity, values: &mut [Value<'a>], role: Role) -> Option<std::borrow::Cow<'a, str>> {
    match take(entity, values, role) {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// A code-like text (legal entity, tax group, unit, account): the few distinct values of a
/// file are allocated once per thread and shared by the rows that carry them.
fn take_code(entity: &Entity, values: &mut [Value<'_>], role: Role) -> Option<std::sync::Arc<str>> {
    match take(entity, values, role) {
        Value::Str(s) => Some(intern(&s)),
        _ => None,
    }
}

/// The shared copy of `s` (a per-thread table, emptied when it reaches 16,384 values so that
/// a column of distinct values costs no more than copying them).
pub fn intern(s: &str) -> std::sync::Arc<str> {
    thread_local! {
        static CODES: std::cell::RefCell<rustc_hash::FxHashSet<std::sync::Arc<str>>> = Default::default();
    }
    CODES.with(|codes| {
        let mut codes = codes.borrow_mut();
        if let Some(a) = codes.get(s) {
            return std::sync::Arc::clone(a);
        }
        if codes.len() >= 1 << 14 {
            codes.clear();
        }
        let a: std::sync::Arc<str> = s.into();
        codes.insert(std::sync::Arc::clone(&a));
        a
    })
}

fn take_dec(entity: &Entity, values: &mut [Value<'_>], role: Role) -> Option<Decimal> {
    match take(entity, values, role) {
        Value::Dec(d) => Some(d),
        Value::Int(i) => Some(Decimal::from(i)),
        _ => None,
    }
}

fn take_date(entity: &Entity, values: &mut [Value<'_>], role: Role) -> Option<Date> {
    match take(entity, values, role) {
        Value::Date(d) => Some(d),
        _ => None,
    }
}

fn take_int(entity: &Entity, values: &mut [Value<'_>], role: Role) -> Option<i64> {
    match take(entity, values, role) {
        Value::Int(i) => Some(i),
        _ => None,
    }
}

/// The fields without a role that have a value: (field index, field, value).
fn without_role<'v, 'a>(
    entity: &'v Entity,
    values: &'v [Value<'a>],
) -> impl Iterator<Item = (u16, &'v crate::entity::Field, &'v Value<'a>)> {
    entity
        .fields
        .iter()
        .zip(values)
        .enumerate()
        .filter(|(_, (f, v))| f.role.is_none() && !matches!(v, Value::Empty))
        .map(|(i, (f, v))| (i as u16, f, v))
}

/// The values of the fields without a role, in canonical text, into a chunk builder.
fn extras_into(entity: &Entity, values: &[Value<'_>], out: &mut ChunkBuilder) {
    for (i, f, v) in without_role(entity, values) {
        out.push_with(i, |s| v.write_canonical(&f.ty, s));
    }
}

/// The values of the fields without a role, in canonical text, in a buffer of their own.
fn extras(entity: &Entity, values: &[Value<'_>]) -> crate::model::Extras {
    let fields = without_role(entity, values).count();
    let mut out = crate::model::Extras::with_capacity(fields * 12, fields);
    for (i, f, v) in without_role(entity, values) {
        out.push_with(i, |s| v.write_canonical(&f.ty, s));
    }
    out
}

fn currency(
    entity: &Entity,
    code: Option<std::borrow::Cow<'_, str>>,
    origin: Origin,
) -> Result<Option<Currency>, Reject> {
    let Some(code) = code else { return Ok(None) };
    match Currency::from_code(&code) {
        Some(c) => Ok(Some(c)),
        None => {
            let field = entity.role_index(Role::Currency).map(|i| entity.fields[i].name.as_str());
            Err(Reject::new(
                origin,
                field,
                Rule::RefCurrency,
                format!(
                    "{} `{code}` is not an ISO 4217 currency code — {}",
                    field.unwrap_or("currency"),
                    Rule::RefCurrency.fix()
                ),
            ))
        }
    }
}

/// A header from a typed row (the values are moved out).
pub fn header_from(
    entity: &Entity,
    values: &mut [Value<'_>],
    origin: Origin,
    default_legal_entity: &str,
) -> Result<InvoiceHeader, Reject> {
    let extras = extras(entity, values);
    header_with(entity, values, origin, default_legal_entity, extras)
}

/// What a header's document type column says (a mapping's `document_type`, see
/// [`crate::map::DocumentType`]): `None` when the mapping has none. A file without the column,
/// or a value that is neither kind, is the row's reject.
pub fn typed_as(
    plan: &crate::map::Plan<'_>,
    columns: &[String],
    record: crate::read::Record<'_>,
    origin: Origin,
) -> Result<Option<TypedAs>, Reject> {
    let Some((d, at)) = &plan.document_type else { return Ok(None) };
    let Some(at) = at else {
        return Err(Reject::new(
            origin,
            Some(&d.column),
            Rule::ColumnMissing,
            format!(
                "the document type column {} (the mapping's document_type) is not in the file (header columns: {}) — {}",
                d.column,
                columns.join(", "),
                Rule::ColumnMissing.fix()
            ),
        ));
    };
    let value = record.get(*at).map(String::from_utf8_lossy).unwrap_or_default();
    d.kind(&value).map(Some).ok_or_else(|| {
        Reject::new(
            origin,
            Some(&d.column),
            Rule::FieldEnum,
            format!(
                "document type {} `{}` is neither an invoice nor a credit note (the mapping's document_type lists {}) — add the value to the mapping's document_type, or correct the row",
                d.column,
                value.trim(),
                d.listed()
            ),
        )
    })
}

/// [`header_from`] with the texts of the fields without a role already written (`extras`).
pub(crate) fn header_with(
    entity: &Entity,
    values: &mut [Value<'_>],
    origin: Origin,
    default_legal_entity: &str,
    mut extras: crate::model::Extras,
) -> Result<InvoiceHeader, Reject> {
    // Headers stay in the book until their lines are read: no spare room.
    extras.shrink_to_fit();
    let Some(cur) = currency(entity, take_text(entity, values, Role::Currency), origin)? else {
        // Currency is required on every header entity; this only guards the invariant.
        return Err(Reject::new(
            origin,
            None,
            Rule::FieldRequired,
            "the header has no currency — fill in the currency",
        ));
    };
    let h = InvoiceHeader {
        origin,
        entity: entity.shared_name,
        document: entity.document,
        legal_entity: take_code(entity, values, Role::LegalEntity).unwrap_or_else(|| intern(default_legal_entity)),
        number: take_text(entity, values, Role::InvoiceNumber).map(|t| std::sync::Arc::from(&*t)),
        record_id: take_int(entity, values, Role::RecordId),
        // InvoiceDate, Customer and Currency are required fields of every header entity
        // (checked when definitions load), so a typed row has them.
        date: take_date(entity, values, Role::InvoiceDate).unwrap_or(Date::from_days_since_epoch(0)),
        customer: take_code(entity, values, Role::Customer).unwrap_or_else(|| intern("")),
        currency: cur,
        payment_terms: take_code(entity, values, Role::PaymentTerms),
        due_date: take_date(entity, values, Role::DueDate),
        order_reference: take_str(entity, values, Role::OrderReference),
        buyer_reference: take_str(entity, values, Role::BuyerReference),
        sales_order: take_str(entity, values, Role::SalesOrder),
        original_invoice: take_str(entity, values, Role::OriginalInvoice),
        voucher: take_str(entity, values, Role::Voucher),
        exchange_rate: take_dec(entity, values, Role::ExchangeRate),
        totals: HeaderTotals {
            amount: take_dec(entity, values, Role::TotalAmount),
            tax: take_dec(entity, values, Role::TotalTax),
            charge: take_dec(entity, values, Role::TotalCharge),
            discount: take_dec(entity, values, Role::TotalDiscount),
            net: take_dec(entity, values, Role::TotalNet),
        },
        tax_group: take_code(entity, values, Role::TaxGroup),
        item_tax_group: take_code(entity, values, Role::ItemTaxGroup),
        extras,
        // Set from the mapping's document type column by the caller ([`typed_as`]).
        typed_as: None,
    };
    Ok(h)
}

/// What the lines typed together share: the chunk their texts go into, and the invoice number
/// of the line before.
#[derive(Debug, Default)]
pub struct LineTyping {
    /// The texts of the lines (see [`crate::model::TextChunk`]).
    pub texts: ChunkBuilder,
    number: Option<std::sync::Arc<str>>,
    /// The code each coded field of the line before had (see [`LineTyping::code`]).
    codes: [Option<std::sync::Arc<str>>; CODED.len()],
    /// The ISO date text last read and its date (see [`LineTyping::iso_date`]).
    date: ([u8; DATE_TEXT], u8, Option<Date>),
}

/// The longest date text [`LineTyping::iso_date`] keeps (`yyyy-MM-ddTHH:mm:ss.fffffffZ`).
const DATE_TEXT: usize = 28;

/// The code-like fields of a line (each [`LineTyping::code`]'s `k` is an index here).
const CODED: [Role; 6] =
    [Role::LegalEntity, Role::TaxCode, Role::TaxGroup, Role::ItemTaxGroup, Role::Unit, Role::MainAccount];

impl LineTyping {
    /// The shared copy of the value of coded field `k` ([`CODED`]): the line before's when it
    /// is the same (lines in a row mostly share their codes), else [`intern`]'s.
    fn code(&mut self, k: usize, text: Option<std::borrow::Cow<'_, str>>) -> Option<std::sync::Arc<str>> {
        let s = text?;
        match &self.codes[k] {
            Some(c) if **c == *s => Some(std::sync::Arc::clone(c)),
            _ => {
                let c = intern(&s);
                self.codes[k] = Some(std::sync::Arc::clone(&c));
                Some(c)
            }
        }
    }

    /// The ISO date `text` is ([`Date::parse_iso`]): the line before's when it is the same text
    /// (the lines of a file share a few dates), else read.
    pub(crate) fn iso_date(&mut self, text: &str) -> Option<Date> {
        let (kept, len, date) = &mut self.date;
        let b = text.as_bytes();
        if usize::from(*len) == b.len() && kept[..b.len()] == *b {
            return *date;
        }
        let d = Date::parse_iso(text);
        if b.len() <= DATE_TEXT {
            kept[..b.len()].copy_from_slice(b);
            (*len, *date) = (b.len() as u8, d);
        }
        d
    }

    /// `number` shared with the line before when it is the same (the lines of an invoice
    /// usually come together).
    fn number(&mut self, number: &str) -> std::sync::Arc<str> {
        match &self.number {
            Some(n) if **n == *number => std::sync::Arc::clone(n),
            _ => {
                let n: std::sync::Arc<str> = number.into();
                self.number = Some(std::sync::Arc::clone(&n));
                n
            }
        }
    }
}

/// A line from a typed row (the values are moved out). Its texts go into `typing`'s chunk: the
/// line's [`InvoiceLine::extras`] point there until [`crate::model::Extras::attach`] points them
/// at the finished chunk.
pub fn line_from(
    entity: &Entity,
    values: &mut [Value<'_>],
    origin: Origin,
    default_legal_entity: &str,
    typing: &mut LineTyping,
) -> Result<InvoiceLine, Reject> {
    let parts = LineParts::take(entity, values);
    let line = line_with(entity, parts, origin, default_legal_entity, typing, |texts| {
        extras_into(entity, values, texts);
        true
    })?;
    Ok(line.expect("the texts of typed values are always written"))
}

/// What a line's fields with a role give, as the line is made of them ([`line_with`]): each
/// role's value as the line takes it (a text, a decimal, a date or a record id), `None` when
/// the field is empty or has a value of another kind.
#[derive(Debug, Default)]
pub(crate) struct LineParts<'a> {
    /// By [`TEXT_PARTS`].
    texts: [Option<std::borrow::Cow<'a, str>>; TEXT_PARTS.len()],
    /// By [`DECIMAL_PARTS`].
    decimals: [Option<Decimal>; DECIMAL_PARTS.len()],
    invoice_date: Option<Date>,
    parent_record_id: Option<i64>,
}

/// The roles whose part is a text: the currency, the roles of the line's [`Slot`]s (in
/// [`Slot::ALL`]'s order), the invoice number, then the [`CODED`] roles (in that order).
const TEXT_PARTS: [Role; 12] = {
    let mut t = [Role::Currency; 12];
    let mut k = 0;
    while k < Slot::ALL.len() {
        t[1 + k] = Slot::ALL[k].role();
        k += 1;
    }
    t[1 + Slot::ALL.len()] = Role::InvoiceNumber;
    let mut k = 0;
    while k < CODED.len() {
        t[2 + Slot::ALL.len() + k] = CODED[k];
        k += 1;
    }
    t
};

/// The roles whose part is a decimal.
const DECIMAL_PARTS: [Role; 11] = [
    Role::LineNumber,
    Role::Quantity,
    Role::UnitPrice,
    Role::PriceUnit,
    Role::DiscountPerUnit,
    Role::DiscountPercent,
    Role::DiscountAmount,
    Role::ChargeAmount,
    Role::LineAmount,
    Role::LineTax,
    Role::TaxRate,
];

/// Which part of a line a role gives (see [`LineParts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinePart {
    /// `texts[k]`.
    Text(u8),
    /// `decimals[k]`.
    Decimal(u8),
    /// The invoice date.
    Date,
    /// The parent record id.
    RecordId,
    /// None: a line does not use the role.
    Unused,
}

impl LinePart {
    /// The part `role` gives.
    #[inline]
    pub(crate) fn of(role: Role) -> LinePart {
        /// [`LinePart::of`] by role (`Role as usize`; roles are fewer than 64).
        const BY_ROLE: [LinePart; 64] = {
            let mut t = [LinePart::Unused; 64];
            let mut k = 0;
            while k < TEXT_PARTS.len() {
                t[TEXT_PARTS[k] as usize] = LinePart::Text(k as u8);
                k += 1;
            }
            let mut k = 0;
            while k < DECIMAL_PARTS.len() {
                t[DECIMAL_PARTS[k] as usize] = LinePart::Decimal(k as u8);
                k += 1;
            }
            t[Role::InvoiceDate as usize] = LinePart::Date;
            t[Role::ParentRecordId as usize] = LinePart::RecordId;
            t
        };
        BY_ROLE[role as usize]
    }
}

impl<'a> LineParts<'a> {
    /// The parts of a typed row (the values of its fields with a role are moved out).
    fn take(entity: &Entity, values: &mut [Value<'a>]) -> LineParts<'a> {
        let mut parts = LineParts::default();
        for (i, value) in values.iter_mut().enumerate() {
            if let Some(role) = entity.role_of(i) {
                parts.set(LinePart::of(role), std::mem::take(value));
            }
        }
        parts
    }

    /// Sets the invoice date.
    pub(crate) fn set_date(&mut self, d: Date) {
        self.invoice_date = Some(d);
    }

    /// Sets `part` from the value of its field: a text part takes a text, a decimal part a
    /// decimal or a whole number, the date a date, the record id a whole number; any other
    /// value leaves the part empty.
    pub(crate) fn set(&mut self, part: LinePart, value: Value<'a>) {
        match part {
            LinePart::Text(k) => {
                self.texts[usize::from(k)] = match value {
                    Value::Str(s) => Some(s),
                    _ => None,
                }
            }
            LinePart::Decimal(k) => {
                self.decimals[usize::from(k)] = match value {
                    Value::Dec(d) => Some(d),
                    Value::Int(i) => Some(Decimal::from(i)),
                    _ => None,
                }
            }
            LinePart::Date => {
                self.invoice_date = match value {
                    Value::Date(d) => Some(d),
                    _ => None,
                }
            }
            LinePart::RecordId => {
                self.parent_record_id = match value {
                    Value::Int(i) => Some(i),
                    _ => None,
                }
            }
            LinePart::Unused => {}
        }
    }

    /// Sets text part `k` (what [`LineParts::set`] does with a text).
    #[inline]
    pub(crate) fn set_text(&mut self, k: u8, text: &'a str) {
        self.texts[usize::from(k)] = Some(std::borrow::Cow::Borrowed(text));
    }

    /// Sets decimal part `k` (what [`LineParts::set`] does with a decimal).
    #[inline]
    pub(crate) fn set_decimal(&mut self, k: u8, d: Decimal) {
        self.decimals[usize::from(k)] = Some(d);
    }
}

/// [`line_from`] of a line's parts, with the texts of the fields without a role written by
/// `extras` (into the chunk, after the line's slots). `Ok(None)` when `extras` finds a field
/// it cannot write (its texts are then taken back).
pub(crate) fn line_with(
    entity: &Entity,
    parts: LineParts<'_>,
    origin: Origin,
    default_legal_entity: &str,
    typing: &mut LineTyping,
    extras: impl FnOnce(&mut ChunkBuilder) -> bool,
) -> Result<Option<InvoiceLine>, Reject> {
    let LineParts {
        texts: [currency_code, slots @ .., number, le, tc, tg, itg, u, ma],
        decimals,
        invoice_date,
        parent_record_id,
    } = parts;
    let [line_number, quantity, unit_price, price_unit, discount_per_unit, discount_percent, discount_amount, charge_amount, line_amount, line_tax, tax_rate] =
        decimals;
    let texts = &mut typing.texts;
    let cur = currency(entity, currency_code, origin)?;
    // The line's free texts first (a row's slots come before its fields), then the fields
    // without a role.
    let first = texts.start_row();
    for (slot, t) in Slot::ALL.into_iter().zip(&slots) {
        if let Some(t) = t {
            texts.push_slot(slot, t);
        }
    }
    if !extras(texts) {
        texts.rollback(first);
        return Ok(None);
    }
    let extras = texts.end_row(first);
    let header = match entity.document {
        DocumentKind::Sales => HeaderRef::Number(typing.number(number.as_deref().unwrap_or_default())),
        DocumentKind::FreeText => HeaderRef::RecordId(parent_record_id.unwrap_or_default()),
    };
    let price_unit = price_unit.unwrap_or(Decimal::ONE);
    let legal_entity = typing.code(0, le).unwrap_or_else(|| intern(default_legal_entity));
    let tax_code = typing.code(1, tc);
    let tax_group = typing.code(2, tg);
    let item_tax_group = typing.code(3, itg);
    let unit = typing.code(4, u);
    let main_account = typing.code(5, ma);
    Ok(Some(InvoiceLine {
        origin,
        entity: entity.shared_name,
        legal_entity,
        header,
        invoice_date,
        line_number: line_number.unwrap_or_default(),
        quantity: quantity.unwrap_or_default(),
        unit_price: unit_price.unwrap_or_default(),
        price_unit: if price_unit.is_zero() { Decimal::ONE } else { price_unit },
        discount_per_unit: discount_per_unit.unwrap_or_default(),
        discount_percent: discount_percent.unwrap_or_default(),
        discount_amount: discount_amount.unwrap_or_default(),
        charge_amount: charge_amount.unwrap_or_default(),
        line_amount,
        line_tax,
        tax_rate,
        tax_code,
        tax_group,
        item_tax_group,
        unit,
        main_account,
        currency: cur,
        extras,
    }))
}

/// What the cross-row rules need to know besides the rows.
pub struct Context<'a> {
    /// Master data.
    pub master: &'a MasterData,
    /// The date of the run (dates more than a year after it are implausible).
    pub run_date: Date,
    /// File names by file index, for messages.
    pub files: &'a [String],
    /// Field names used in messages: (entity of the file) per file index.
    pub entities: &'a [&'a Entity],
    /// VAT rounding for documents whose source gives no tax total.
    pub rounding: RoundingPolicy,
    /// The mapping each file was read through, by file index (for the source's column names).
    pub mappings: &'a [Option<std::sync::Arc<crate::map::Mapping>>],
}

impl Context<'_> {
    fn at(&self, o: Origin) -> String {
        let file = self.files.get(o.file as usize).map(String::as_str).unwrap_or("?");
        // Line 0: a row of no file (an invoice read back from the store).
        match o.line {
            0 => file.to_string(),
            line => format!("{file} line {line}"),
        }
    }
    fn field(&self, o: Origin, role: Role) -> Option<&str> {
        let e = self.entities.get(o.file as usize)?;
        e.role_index(role).map(|i| e.fields[i].name.as_str())
    }

    /// The source column a mapping renamed the field of `role` from, in the file of `o`.
    fn column(&self, o: Origin, role: Role) -> Option<&str> {
        let e = self.entities.get(o.file as usize)?;
        let i = e.role_index(role)?;
        let m = self.mappings.get(o.file as usize)?.as_ref()?;
        let column = m.entities.get(&e.name)?.fields.get(&i)?.column.as_deref()?;
        (!column.eq_ignore_ascii_case(&e.fields[i].name)).then_some(column)
    }

    /// The reject of `rule` for the field of `role` in the row at `o`: the message, led by the
    /// field and its source column when a mapping renamed it (`InvoiceCustomerAccountNumber
    /// (column KUNNR): …`, as `field.*` messages name it), and the rule's fix.
    fn reject(&self, o: Origin, role: Role, rule: Rule, msg: &str) -> Reject {
        let field = self.field(o, role);
        let message = match (field, self.column(o, role)) {
            (Some(f), Some(c)) => format!("{f} (column {c}): {msg} — {}", rule.fix()),
            _ => format!("{msg} — {}", rule.fix()),
        };
        Reject::new(o, field, rule, message)
    }
}

/// The invoices that passed every rule, and the rejects.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Accepted invoices, in input order of their headers.
    pub invoices: Vec<Invoice>,
    /// Rejected rows (one per row).
    pub rejects: Vec<Reject>,
}

/// Whether `b` is greater than `a`: by the mantissas when both have one scale (line numbers
/// mostly do), without the general comparison's alignment of scales.
fn increases(a: Decimal, b: Decimal) -> bool {
    if a.scale() == b.scale() {
        a.mantissa() < b.mantissa()
    } else {
        a < b
    }
}

/// The identity a header is known by and lines point to: (legal entity, number or record id).
pub type HeaderKey = (std::sync::Arc<str>, HeaderRef);

fn header_key(h: &InvoiceHeader) -> HeaderKey {
    let r = match (&h.number, h.document) {
        (_, DocumentKind::FreeText) => HeaderRef::RecordId(h.record_id.unwrap_or_default()),
        (Some(n), DocumentKind::Sales) => HeaderRef::Number(std::sync::Arc::clone(n)),
        (None, DocumentKind::Sales) => HeaderRef::Number("".into()),
    };
    (h.legal_entity.clone(), r)
}

fn describe(r: &HeaderRef) -> String {
    match r {
        HeaderRef::Number(n) => format!("invoice {n}"),
        HeaderRef::RecordId(id) => format!("free-text invoice record {id}"),
    }
}

/// The header key of a row that failed the row rules, read leniently from the raw record so
/// that its invoice can go with it; `None` when the record's shape cannot be trusted.
pub fn raw_key(
    plan: &crate::map::Plan<'_>,
    columns: usize,
    record: crate::read::Record<'_>,
    default_legal_entity: &str,
) -> Option<HeaderKey> {
    raw_key_view(plan, columns, record, default_legal_entity, |le, r| (intern(le), r.to_ref()))
}

/// The position of the header a raw line belongs to (read leniently, as [`raw_key`] does),
/// without building the key; `None` when it has none or the key cannot be read.
pub fn raw_ordinal(
    plan: &crate::map::Plan<'_>,
    columns: usize,
    record: crate::read::Record<'_>,
    default_legal_entity: &str,
    book: &HeaderBook,
) -> Option<usize> {
    raw_key_view(plan, columns, record, default_legal_entity, |le, r| book.ordinal_view(le, r)).flatten()
}

/// Calls `f` with the key of a raw row (legal entity and reference, read leniently, as
/// [`raw_key`] does) without building it; `None` when the row has none or it cannot be read.
pub fn raw_key_view<R>(
    plan: &crate::map::Plan<'_>,
    columns: usize,
    record: crate::read::Record<'_>,
    default_legal_entity: &str,
    f: impl FnOnce(&str, RefView<'_>) -> R,
) -> Option<R> {
    if record.len() != columns {
        return None;
    }
    let entity = plan.entity;
    let text = |role: Role| -> Option<std::borrow::Cow<'_, str>> {
        let i = entity.role_index(role)?;
        plan.text(i, record).ok().filter(|t| !t.is_empty())
    };
    let le = text(Role::LegalEntity);
    let le = le.as_deref().unwrap_or(default_legal_entity);
    match (entity.kind, entity.document) {
        (crate::entity::EntityKind::InvoiceHeader, DocumentKind::FreeText) => {
            Some(f(le, RefView::RecordId(text(Role::RecordId)?.parse().ok()?)))
        }
        (crate::entity::EntityKind::InvoiceLine, DocumentKind::FreeText) => {
            Some(f(le, RefView::RecordId(text(Role::ParentRecordId)?.parse().ok()?)))
        }
        _ => Some(f(le, RefView::Number(&text(Role::InvoiceNumber)?))),
    }
}

/// A header reference by view: what [`HeaderRef`] holds, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefView<'a> {
    /// By invoice number.
    Number(&'a str),
    /// By record id.
    RecordId(i64),
}

impl RefView<'_> {
    /// The reference, owned.
    pub fn to_ref(self) -> HeaderRef {
        match self {
            RefView::Number(n) => HeaderRef::Number(n.into()),
            RefView::RecordId(id) => HeaderRef::RecordId(id),
        }
    }
}

impl HeaderRef {
    /// The reference, borrowed.
    pub fn view(&self) -> RefView<'_> {
        match self {
            HeaderRef::Number(n) => RefView::Number(n),
            HeaderRef::RecordId(id) => RefView::RecordId(*id),
        }
    }
}

/// A row that failed the row rules before it became a header or line.
#[derive(Debug)]
pub struct EarlyReject {
    /// The reject.
    pub reject: Reject,
    /// Its invoice, when it can be read.
    pub key: Option<HeaderKey>,
    /// Whether the row is a header (else a line).
    pub is_header: bool,
}

struct HSlot {
    key: HeaderKey,
    origin: Origin,
    /// Packed: a book of a million headers holds a million of them until their lines come.
    header: Option<PackedHeader>,
    bad: Option<Box<Reject>>,
    /// Rows that are this same header through another entity (see [`merge_views`]).
    copies: Vec<Origin>,
}

struct LSlot {
    origin: Origin,
    /// Index into the lines (which stay where they are: slots are small).
    line: Option<usize>,
    bad: Option<Reject>,
    /// Rows that are this same line through another entity.
    copies: Vec<Origin>,
}

/// Rejects every line that has no reject yet, with `rule` and `message` (an invoice is a unit:
/// its other rows go with the one that failed).
fn reject_all(ls: &mut [LSlot], rule: Rule, message: &str) {
    for l in ls {
        let origin = l.origin;
        l.bad.get_or_insert_with(|| Reject::new(origin, None, rule, message));
    }
}

/// The headers of one import after the rules on headers alone (duplicate keys, numbers used
/// twice, the same document through two views, references and dates), in input order, indexed
/// by key. Lines then come invoice by invoice ([`HeaderBook::invoice`]).
pub struct HeaderBook {
    slots: Vec<HSlot>,
    /// The first header with each key (lines go to it), by a hash of the key (a line's key is
    /// looked up without building one); keys whose hash another key has are in `collided`.
    index: HashMap<u64, usize>,
    collided: HashMap<HeaderKey, usize>,
    /// Whether a slot's invoice has been assembled.
    done: Vec<bool>,
}

/// A line row of one invoice: typed, or rejected by the row rules (its key known). Both boxed:
/// rows are moved between containers until their invoice is complete.
#[derive(Debug)]
pub enum LineRow {
    /// A typed line.
    Line(Box<InvoiceLine>),
    /// A line that failed the row rules.
    Early(Box<EarlyReject>),
}

impl LineRow {
    /// The row's place in its file.
    pub fn origin(&self) -> Origin {
        match self {
            LineRow::Line(l) => l.origin,
            LineRow::Early(e) => e.reject.origin,
        }
    }
}

/// What assembling one invoice gave: the invoice when it passed, and the rejects of its rows.
#[derive(Debug, Default)]
pub struct Assembled {
    /// The accepted invoice.
    pub invoice: Option<Invoice>,
    /// Its header's position in input order.
    pub ordinal: Option<usize>,
    /// Rejected rows.
    pub rejects: Vec<Reject>,
}

/// A typed header on its way into the book: its key and origin, and the header packed.
#[derive(Debug)]
pub struct Booked {
    key: HeaderKey,
    origin: Origin,
    header: PackedHeader,
}

impl Booked {
    /// `h` packed for the book.
    pub fn new(h: &InvoiceHeader) -> Booked {
        Booked::with_texts(h, &h.extras)
    }

    /// `h` packed for the book with `extras` as its texts (whatever `h.extras` holds).
    pub fn with_texts(h: &InvoiceHeader, extras: &crate::model::Extras) -> Booked {
        Booked { key: header_key(h), origin: h.origin, header: PackedHeader::pack_with(h, extras) }
    }

    /// The header that was packed.
    pub fn unpacked(&self) -> InvoiceHeader {
        unpack_with(&self.header, self.origin, &self.key)
    }

    /// Its invoice key.
    pub fn key(&self) -> &HeaderKey {
        &self.key
    }

    /// Its row.
    pub fn origin(&self) -> Origin {
        self.origin
    }
}

/// The header packed in `slot`, unpacked with the slot's origin and the shared parts of its key.
fn unpack(header: &PackedHeader, slot: &HSlot) -> InvoiceHeader {
    unpack_with(header, slot.origin, &slot.key)
}

fn unpack_with(header: &PackedHeader, origin: Origin, key: &HeaderKey) -> InvoiceHeader {
    let number = match &key.1 {
        HeaderRef::Number(n) => Some(n),
        HeaderRef::RecordId(_) => None,
    };
    header.unpack(origin, std::sync::Arc::clone(&key.0), number, intern)
}

impl HeaderBook {
    /// Books the header rows of an import (typed, or rejected by the row rules) and applies
    /// the rules on headers alone. Rows rejected without a readable key go to `rejects`.
    // Boxed: a million headers do not need one contiguous allocation beside the slots.
    #[allow(clippy::vec_box)]
    pub fn new(
        headers: Vec<Box<Booked>>,
        early: Vec<EarlyReject>,
        ctx: &Context<'_>,
        rejects: &mut impl Extend<Reject>,
    ) -> HeaderBook {
        let mut hs: Vec<HSlot> = Vec::with_capacity(headers.len() + early.len());
        hs.extend(headers.into_iter().map(|b| {
            let Booked { key, origin, header } = *b;
            HSlot { key, origin, header: Some(header), bad: None, copies: Vec::new() }
        }));
        for e in early {
            match e.key {
                Some(key) => hs.push(HSlot {
                    key,
                    origin: e.reject.origin,
                    header: None,
                    bad: Some(Box::new(e.reject)),
                    copies: Vec::new(),
                }),
                None => rejects.extend([e.reject]),
            }
        }
        hs.sort_by_key(|h| h.origin);
        let is_free_text = |k: &HeaderKey| matches!(k.1, HeaderRef::RecordId(_));

        // The same document through two views of it (SalesInvoiceHeaderV2 and
        // SalesInvoiceJournalHeader), as importing every export of a store brings it: counted
        // once when the copies agree.
        let mut view_conflicts: HashMap<HeaderKey, String> = HashMap::default();
        {
            let (groups, _) = shared_keys(
                hs.iter()
                    .enumerate()
                    .filter(|(_, h)| h.bad.is_none() && h.header.is_some())
                    .map(|(i, h)| (i, slot_key(h).0)),
                |i| slot_key(&hs[i]).1,
            );
            let mut drop = vec![false; hs.len()];
            for idxs in groups {
                let Some(entities) = distinct_entities(idxs.iter().map(|&i| hs[i].origin), ctx) else { continue };
                let keep = widest(&idxs, |i| hs[i].origin, ctx);
                let mut merged = match &hs[keep].header {
                    Some(h) => unpack(h, &hs[keep]),
                    None => continue,
                };
                let mut verdict = Ok(());
                for &i in idxs.iter().filter(|&&i| i != keep) {
                    if let Some(other) = &hs[i].header {
                        let other = unpack(other, &hs[i]);
                        verdict = verdict.and_then(|()| merge_header(&mut merged, &other, ctx));
                    }
                }
                match verdict {
                    Ok(()) => {
                        hs[keep].header = Some(PackedHeader::pack(&merged));
                        for &i in idxs.iter().filter(|&&i| i != keep) {
                            drop[i] = true;
                            let o = hs[i].origin;
                            hs[keep].copies.push(o);
                        }
                    }
                    Err(difference) => {
                        view_conflicts.insert(
                            hs[keep].key.clone(),
                            format!("it arrives through {entities} with different content: {difference}"),
                        );
                    }
                }
            }
            let mut i = 0;
            hs.retain(|_| {
                i += 1;
                !drop[i - 1]
            });
        }

        // Duplicate header keys, inside a file or across files: every copy is rejected.
        let (duplicated, firsts) =
            shared_keys(hs.iter().enumerate().map(|(i, h)| (i, slot_key(h).0)), |i| slot_key(&hs[i]).1);
        for idxs in &duplicated {
            let key = &hs[idxs[0]].key.clone();
            for &i in idxs {
                if hs[i].bad.is_some() {
                    continue;
                }
                let o = hs[i].origin;
                let others: Vec<String> = idxs.iter().filter(|&&j| j != i).map(|&j| ctx.at(hs[j].origin)).collect();
                let field = ctx.field(o, if is_free_text(key) { Role::RecordId } else { Role::InvoiceNumber });
                let why = view_conflicts.get(key).map(|c| format!(" ({c})")).unwrap_or_default();
                hs[i].bad = Some(Box::new(Reject::new(
                    o,
                    field,
                    Rule::KeyDuplicate,
                    format!(
                        "{} of legal entity {} occurs again at {}{why} — {}",
                        describe(&key.1),
                        key.0,
                        others.join(", "),
                        Rule::KeyDuplicate.fix()
                    ),
                )));
            }
        }
        let mut index: HashMap<u64, usize> = HashMap::default();
        let mut collided: HashMap<HeaderKey, usize> = HashMap::default();
        index.reserve(firsts.len());
        for first in firsts {
            let key = &hs[first].key;
            match index.entry(key_hash(&key.0, key.1.view())) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(first);
                }
                std::collections::hash_map::Entry::Occupied(_) => {
                    collided.insert(key.clone(), first);
                }
            }
        }

        // Invoice numbers and vouchers belong to one document of a legal entity, whatever its
        // kind (a sales invoice and a free-text invoice cannot share a number): every copy is
        // rejected.
        for (role, what) in [(Role::InvoiceNumber, "invoice number"), (Role::Voucher, "voucher")] {
            let number_of = |h| slot_number(h, role);
            let (shared, _) = shared_keys(hs.iter().enumerate().filter_map(|(i, h)| Some((i, number_of(h)?.0))), |i| {
                number_of(&hs[i]).map(|(_, k)| k)
            });
            let mut found: Vec<(usize, Reject)> = Vec::new();
            for idxs in &shared {
                let Some((_, (le, value))) = number_of(&hs[idxs[0]]) else { continue };
                for &i in idxs {
                    let o = hs[i].origin;
                    let others: Vec<String> = idxs.iter().filter(|&&j| j != i).map(|&j| ctx.at(hs[j].origin)).collect();
                    found.push((
                        i,
                        Reject::new(
                            o,
                            ctx.field(o, role),
                            Rule::KeyNumberInUse,
                            format!(
                                "{what} {value} of legal entity {le} is used again at {} — {}",
                                others.join(", "),
                                Rule::KeyNumberInUse.fix()
                            ),
                        ),
                    ));
                }
            }
            for (i, r) in found {
                hs[i].bad.get_or_insert(Box::new(r));
            }
        }

        // Header rules: references and dates.
        let (earliest, latest) = plausible_dates(ctx);
        hs.par_iter_mut().for_each(|slot| {
            if let (Some(h), None) = (&slot.header, &slot.bad) {
                slot.bad = header_rule(slot.origin, &slot.key.0, h.head(), earliest, latest, ctx).map(Box::new);
            }
        });
        let done = vec![false; hs.len()];
        HeaderBook { slots: hs, index, collided, done }
    }

    /// Number of headers (after copies through other views were merged).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The bytes of the headers packed in the book (for the log).
    pub fn packed_bytes(&self) -> usize {
        self.slots.iter().filter_map(|s| s.header.as_ref()).map(PackedHeader::len).sum()
    }

    /// Whether the import has no headers.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The position in input order of the header with `key` (the first, when duplicated).
    pub fn ordinal(&self, key: &HeaderKey) -> Option<usize> {
        self.ordinal_of(&key.0, &key.1)
    }

    /// [`HeaderBook::ordinal`] of a key given by its parts (nothing is allocated).
    pub fn ordinal_of(&self, legal_entity: &str, href: &HeaderRef) -> Option<usize> {
        self.ordinal_view(legal_entity, href.view())
    }

    /// [`HeaderBook::ordinal`] of a key given by borrowed parts.
    pub fn ordinal_view(&self, legal_entity: &str, href: RefView<'_>) -> Option<usize> {
        let &i = self.index.get(&key_hash(legal_entity, href))?;
        let k = &self.slots[i].key;
        if &*k.0 == legal_entity && k.1.view() == href {
            return Some(i);
        }
        if self.collided.is_empty() {
            return None;
        }
        self.collided.get(&(legal_entity.into(), href.to_ref())).copied()
    }

    /// (legal entity, number) of every header with a number that passed the rules on
    /// headers alone (for the originals of credit notes).
    pub fn numbers(&self) -> impl Iterator<Item = (std::sync::Arc<str>, std::sync::Arc<str>)> + '_ {
        self.slots.iter().filter(|s| s.bad.is_none()).filter_map(|s| {
            let number = s.header.as_ref()?.head().number?;
            let number = match &s.key.1 {
                HeaderRef::Number(n) if **n == *number => std::sync::Arc::clone(n),
                _ => number.into(),
            };
            Some((std::sync::Arc::clone(&s.key.0), number))
        })
    }

    /// The key of the header at `ordinal`.
    pub fn key(&self, ordinal: usize) -> &HeaderKey {
        &self.slots[ordinal].key
    }

    /// Applies the rules on lines and on the whole invoice to the lines with `key` (all of
    /// them, in input order): those of the header at `ordinal`, or lines whose key has no
    /// header (`None`). An invoice is accepted whole or rejected whole.
    pub fn invoice(&mut self, ordinal: Option<usize>, rows: Vec<LineRow>, ctx: &Context<'_>) -> Assembled {
        let claim = self.claim(ordinal);
        claim.assemble(rows, ctx)
    }

    /// Adds a header that is not a row of the import (an invoice of the store that an
    /// incremental push completes) after the rules on one header alone, and gives its position.
    /// Its key must not be in the book yet.
    pub fn adopt(&mut self, h: &InvoiceHeader, ctx: &Context<'_>) -> usize {
        let key = header_key(h);
        let header = PackedHeader::pack(h);
        let (earliest, latest) = plausible_dates(ctx);
        let bad = header_rule(h.origin, &key.0, header.head(), earliest, latest, ctx).map(Box::new);
        let at = self.slots.len();
        match self.index.entry(key_hash(&key.0, key.1.view())) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(at);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(key.clone(), at);
            }
        }
        self.slots.push(HSlot { key, origin: h.origin, header: Some(header), bad, copies: Vec::new() });
        self.done.push(false);
        at
    }

    /// The positions of the headers that passed the rules on headers alone and whose invoice
    /// has not been assembled yet (no line came for them so far).
    pub fn waiting(&self) -> Vec<usize> {
        (0..self.slots.len()).filter(|&i| !self.done[i] && self.slots[i].bad.is_none()).collect()
    }

    /// Takes the header at `ordinal` out of the book for assembling its invoice (possibly on
    /// another thread); `None` for lines whose key has no header.
    pub fn claim(&mut self, ordinal: Option<usize>) -> Claim {
        let slot = ordinal.map(|hi| {
            self.done[hi] = true;
            let placeholder = HSlot {
                key: self.slots[hi].key.clone(),
                origin: self.slots[hi].origin,
                header: None,
                bad: None,
                copies: Vec::new(),
            };
            std::mem::replace(&mut self.slots[hi], placeholder)
        });
        Claim { ordinal, slot }
    }
}

/// A header taken out of its book to assemble its invoice: the header and what the rules on
/// headers alone said about it.
pub struct Claim {
    ordinal: Option<usize>,
    slot: Option<HSlot>,
}

impl Claim {
    /// Applies the rules on lines and on the whole invoice to the claimed header's lines (all
    /// of them, in input order), or to lines whose key has no header. An invoice is accepted
    /// whole or rejected whole.
    pub fn assemble(self, rows: Vec<LineRow>, ctx: &Context<'_>) -> Assembled {
        let Claim { ordinal, slot } = self;
        let mut out = Assembled { ordinal, ..Default::default() };
        let mut rows = rows;
        rows.sort_by_key(LineRow::origin);
        // Slots of the lines; `lines` keeps the typed lines by slot.
        let mut lines: Vec<Option<Box<InvoiceLine>>> = Vec::with_capacity(rows.len());
        let mut ls: Vec<LSlot> = Vec::with_capacity(rows.len());
        // Every row of the group has the same key; the first row's is taken (once).
        let key: HeaderKey = match rows.first() {
            Some(LineRow::Line(l)) => (std::sync::Arc::clone(&l.legal_entity), l.header.clone()),
            Some(LineRow::Early(e)) => e.key.clone().unwrap_or_else(|| ("".into(), HeaderRef::Number("".into()))),
            None => ("".into(), HeaderRef::Number("".into())),
        };
        for (i, r) in rows.into_iter().enumerate() {
            match r {
                LineRow::Line(l) => {
                    ls.push(LSlot { origin: l.origin, line: Some(i), bad: None, copies: Vec::new() });
                    lines.push(Some(l));
                }
                LineRow::Early(e) => {
                    ls.push(LSlot { origin: e.reject.origin, line: None, bad: Some(e.reject), copies: Vec::new() });
                    lines.push(None);
                }
            }
        }
        let is_free_text = |k: &HeaderKey| matches!(k.1, HeaderRef::RecordId(_));

        // Views and duplicates both need two rows with one line number: when no number repeats
        // (the usual case) neither check has anything to do.
        let repeats = {
            let numbers = ls.iter().filter_map(|l| l.line.and_then(|li| lines[li].as_ref())).map(|l| l.line_number);
            // Lines numbered upwards (the usual order) repeat none; else sorted and compared.
            let mut last: Option<Decimal> = None;
            let ascending = numbers.clone().all(|n| {
                let up = last.is_none_or(|l| increases(l, n));
                last = Some(n);
                up
            });
            if ascending {
                false
            } else {
                let mut numbers: Vec<Decimal> = numbers.collect();
                numbers.sort_unstable();
                numbers.windows(2).any(|w| w[0] == w[1])
            }
        };
        // The same line through two views of it, counted once when the copies agree.
        let mut line_conflicts: HashMap<Decimal, String> = HashMap::default();
        if repeats {
            let keyed = ls.iter().enumerate().filter_map(|(i, l)| {
                let line = l.line.and_then(|li| lines[li].as_ref()).filter(|_| l.bad.is_none())?;
                Some((i, line.line_number.normalize()))
            });
            let groups = views(keyed);
            let mut drop = vec![false; ls.len()];
            for idxs in groups {
                let Some(entities) = distinct_entities(idxs.iter().map(|&i| ls[i].origin), ctx) else { continue };
                let keep = widest(&idxs, |i| ls[i].origin, ctx);
                let Some(mut merged) = ls[keep].line.and_then(|li| lines[li].clone()) else { continue };
                let mut verdict = Ok(());
                for &i in idxs.iter().filter(|&&i| i != keep) {
                    if let Some(other) = ls[i].line.and_then(|li| lines[li].as_ref()) {
                        verdict = verdict.and_then(|()| merge_line(&mut merged, other, ctx));
                    }
                }
                match verdict {
                    Ok(()) => {
                        if let Some(li) = ls[keep].line {
                            lines[li] = Some(merged);
                        }
                        for &i in idxs.iter().filter(|&&i| i != keep) {
                            drop[i] = true;
                            let o = ls[i].origin;
                            ls[keep].copies.push(o);
                        }
                    }
                    Err(difference) => {
                        line_conflicts.insert(
                            merged.line_number.normalize(),
                            format!("it arrives through {entities} with different content: {difference}"),
                        );
                    }
                }
            }
            let mut i = 0;
            ls.retain(|_| {
                i += 1;
                !drop[i - 1]
            });
        }

        // Duplicate line keys (among lines that have a line number).
        let mut by_line_key: HashMap<Decimal, Vec<usize>> = HashMap::default();
        for (i, l) in ls.iter().enumerate().filter(|_| repeats) {
            if let Some(line) = l.line.and_then(|i| lines[i].as_ref()) {
                by_line_key.entry(line.line_number.normalize()).or_default().push(i);
            }
        }
        let mut dup_lines: Vec<(usize, Reject)> = Vec::new();
        for (num, idxs) in &by_line_key {
            if idxs.len() < 2 {
                continue;
            }
            for &i in idxs {
                let o = ls[i].origin;
                let others: Vec<String> = idxs.iter().filter(|&&j| j != i).map(|&j| ctx.at(ls[j].origin)).collect();
                dup_lines.push((
                    i,
                    Reject::new(
                        o,
                        ctx.field(o, Role::LineNumber),
                        Rule::KeyDuplicate,
                        format!(
                            "line {num} of {} occurs again at {}{} — {}",
                            describe(&key.1),
                            others.join(", "),
                            line_conflicts.get(num).map(|c| format!(" ({c})")).unwrap_or_default(),
                            Rule::KeyDuplicate.fix()
                        ),
                    ),
                ));
            }
        }
        for (i, r) in dup_lines {
            ls[i].bad.get_or_insert(r);
        }

        let Some(mut slot) = slot else {
            // No header: every line not rejected yet says so.
            for l in ls.iter_mut() {
                if l.bad.is_none() {
                    let role = if is_free_text(&key) { Role::ParentRecordId } else { Role::InvoiceNumber };
                    l.bad = Some(Reject::new(
                        l.origin,
                        ctx.field(l.origin, role),
                        Rule::RelationNoHeader,
                        format!(
                            "{} of legal entity {} has no header in this import — {}",
                            describe(&key.1),
                            key.0,
                            Rule::RelationNoHeader.fix()
                        ),
                    ));
                }
            }
            for l in ls {
                if let Some(r) = l.bad {
                    out.rejects.extend(l.copies.iter().map(|&o| copy_reject(o, l.origin, &r, ctx)));
                    out.rejects.push(r);
                }
            }
            return out;
        };
        // The header, unpacked when it passed (a rejected one is not needed again).
        let mut header = match (slot.header.take(), &slot.bad) {
            (Some(h), None) => Some(unpack(&h, &slot)),
            _ => None,
        };
        // Line rules, for lines whose header passed.
        // Per line that passed: its tax and its net amount.
        let mut resolved: Vec<Option<(LineTax, Decimal)>> = vec![None; ls.len()];
        if let (Some(h), None) = (&header, &slot.bad) {
            for (li, l) in ls.iter_mut().enumerate() {
                let (Some(line), None) = (l.line.and_then(|i| lines[i].as_ref()), &l.bad) else {
                    continue;
                };
                let (bad, tax, net) = line_rule(line, h, ctx);
                if let (Ok(t), Some(n)) = (tax, net) {
                    resolved[li] = Some((t, n));
                }
                l.bad = bad;
            }
        }

        // An invoice is a unit: headers without lines, headers with a rejected line, totals.
        let mut rounding = ctx.rounding;
        let mut computed = None;
        if slot.bad.is_none() {
            let key = slot.key.clone();
            let o = slot.origin;
            if ls.is_empty() {
                let field = ctx.field(o, Role::InvoiceNumber).or(ctx.field(o, Role::RecordId));
                slot.bad = Some(Box::new(Reject::new(
                    o,
                    field,
                    Rule::RelationNoLines,
                    format!("{} has no lines in this import — {}", describe(&key.1), Rule::RelationNoLines.fix()),
                )));
            } else if let Some(first_bad) = ls.iter().position(|l| l.bad.is_some()) {
                let cause = ls[first_bad].bad.as_ref().map(|r| r.rule.id()).unwrap_or("");
                let at = ctx.at(ls[first_bad].origin);
                slot.bad = Some(Box::new(Reject::new(
                    o,
                    None,
                    Rule::RelationLineRejected,
                    format!("its line at {at} was rejected ({cause}) — {}", Rule::RelationLineRejected.fix()),
                )));
                let message = format!(
                    "another line of {} at {at} was rejected ({cause}) — {}",
                    describe(&key.1),
                    Rule::RelationLineRejected.fix()
                );
                reject_all(&mut ls, Rule::RelationLineRejected, &message);
            } else {
                // Every line here passed its rules, so it has a line and a resolved tax.
                // Filled into room of their size (collected through a filter, they grew from
                // nothing invoice after invoice).
                let (mut taxes, mut nets, mut line_refs): (Vec<LineTax>, Vec<Decimal>, Vec<&InvoiceLine>) =
                    (Vec::with_capacity(ls.len()), Vec::with_capacity(ls.len()), Vec::with_capacity(ls.len()));
                for (t, n) in resolved.iter().flatten() {
                    taxes.push(t.clone());
                    nets.push(*n);
                }
                line_refs.extend(ls.iter().filter_map(|l| l.line.and_then(|i| lines[i].as_deref())));
                if let Some(h) = &header {
                    match invoice_rules(h, &line_refs, nets, &taxes, ctx) {
                        Ok(t) => {
                            rounding = t.policy;
                            computed = Some(Box::new(t));
                        }
                        Err(r) => slot.bad = Some(Box::new(r)),
                    }
                }
            }
        }

        // Lines of a rejected header go with it.
        if let Some(hr) = &slot.bad {
            let at = ctx.at(slot.origin);
            let message = format!(
                "its header at {at} was rejected ({}: {}) — {}",
                hr.rule.id(),
                hr.message,
                Rule::RelationHeaderRejected.fix()
            );
            reject_all(&mut ls, Rule::RelationHeaderRejected, &message);
        }

        // Copies of rejected rows are rejected with them.
        if let Some(r) = &slot.bad {
            out.rejects.extend(slot.copies.iter().map(|&o| copy_reject(o, slot.origin, r, ctx)));
        }
        for l in &ls {
            if let Some(r) = &l.bad {
                out.rejects.extend(l.copies.iter().map(|&o| copy_reject(o, l.origin, r, ctx)));
            }
        }
        if let Some(r) = slot.bad.take() {
            out.rejects.push(*r);
            out.rejects.extend(ls.into_iter().filter_map(|l| l.bad));
            return out;
        }
        let Some(header) = header.take() else {
            out.rejects.extend(ls.into_iter().filter_map(|l| l.bad));
            return out;
        };
        // Accepted: lines in line-number order.
        let mut copies = std::mem::take(&mut slot.copies);
        let mut accepted: Vec<InvoiceLine> = Vec::with_capacity(ls.len());
        let mut taxes: Vec<LineTax> = Vec::with_capacity(ls.len());
        for (li, l) in ls.iter().enumerate() {
            copies.extend_from_slice(&l.copies);
            let Some(mut line) = l.line.and_then(|i| lines[i].take()) else { continue };
            let Some((t, _)) = resolved[li].take() else { continue };
            if line.tax_code.as_deref() != Some(t.code) {
                line.tax_code = Some(intern(t.code));
            }
            accepted.push(*line);
            taxes.push(t);
        }
        // The totals are kept when they were computed with the lines in this order (the VAT
        // breakdown follows the order of the lines).
        if !accepted.is_sorted_by_key(|l| l.line_number) {
            let mut pairs: Vec<(InvoiceLine, LineTax)> = accepted.into_iter().zip(taxes).collect();
            pairs.sort_by_key(|(l, _)| l.line_number);
            (accepted, taxes) = pairs.into_iter().unzip();
            computed = None;
        }
        out.invoice = Some(Invoice { header, lines: accepted, taxes, rounding, copies, computed });
        out
    }
}

impl HeaderBook {
    /// The rejects of the headers no lines came for (without lines, or copies of a duplicated
    /// key): called once every invoice has been assembled.
    pub fn finish(mut self, ctx: &Context<'_>) -> Vec<Reject> {
        let mut out = Vec::new();
        for hi in 0..self.slots.len() {
            if self.done[hi] {
                continue;
            }
            if self.slots[hi].bad.is_none() {
                // A header without lines.
                out.extend(self.invoice(Some(hi), Vec::new(), ctx).rejects);
                continue;
            }
            let slot = &mut self.slots[hi];
            if let Some(r) = slot.bad.take() {
                out.extend(slot.copies.iter().map(|&o| copy_reject(o, slot.origin, &r, ctx)));
                out.push(*r);
            }
        }
        out
    }
}

/// The range of plausible invoice dates: from 1950 to a year after the run date.
fn plausible_dates(ctx: &Context<'_>) -> (Date, Date) {
    (Date::from_ymd(1950, 1, 1).unwrap_or(Date::from_days_since_epoch(-7305)), ctx.run_date.add_days(366))
}

/// The rules on one header alone: references to master data and dates.
fn header_rule(
    o: Origin,
    legal_entity: &str,
    h: Head<'_>,
    earliest: Date,
    latest: Date,
    ctx: &Context<'_>,
) -> Option<Reject> {
    let reject = |role: Role, rule: Rule, msg: String| Some(ctx.reject(o, role, rule, &msg));
    if legal_entity.is_empty() {
        let known: Vec<&str> = ctx.master.legal_entities.keys().map(String::as_str).collect();
        reject(
            Role::LegalEntity,
            Rule::RefLegalEntity,
            format!(
                "the row has no legal entity (dataAreaId) and none was given for such rows; the master data has {}: give --legal-entity ID (legal_entity in a job), or map dataAreaId",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
        )
    } else if !ctx.master.legal_entities.contains_key(legal_entity) {
        reject(
            Role::LegalEntity,
            Rule::RefLegalEntity,
            format!("legal entity `{legal_entity}` is not in the LegalEntity master data"),
        )
    } else if let Some(c) = ctx.master.customers.get(h.customer).filter(|c| c.blocked) {
        reject(Role::Customer, Rule::RefCustomerBlocked, format!("customer {} is on hold for invoicing", c.account))
    } else if !ctx.master.customers.contains_key(h.customer) {
        let message = match ctx.master.rejected_customers.get(h.customer) {
            Some(why) => {
                format!("customer `{}` was rejected from the Customer master data ({why}): fix that row", h.customer)
            }
            None => format!("customer `{}` is not in the Customer master data", h.customer),
        };
        reject(Role::Customer, Rule::RefCustomer, message)
    } else if let Some(p) = h.payment_terms.filter(|p| !ctx.master.payment_terms.contains_key(*p)) {
        let message = match ctx.master.rejected_payment_terms.get(p) {
            Some(why) => {
                format!("terms of payment `{p}` were rejected from the PaymentTerms master data ({why}): fix that row")
            }
            None => format!("terms of payment `{p}` are not in the PaymentTerms master data"),
        };
        reject(Role::PaymentTerms, Rule::RefPaymentTerms, message)
    } else if h.date < earliest || h.date > latest {
        reject(
            Role::InvoiceDate,
            Rule::DateImplausible,
            format!("invoice date {} lies outside {earliest} … {latest}", h.date),
        )
    } else if let Some(d) = h.due_date.filter(|d| *d < h.date) {
        reject(Role::DueDate, Rule::DateDueBeforeInvoice, format!("due date {d} is before the invoice date {}", h.date))
    } else {
        None
    }
}

/// A line's tax, or the field and the message of why it has none.
type TaxOf = Result<LineTax, (Role, String)>;

/// The rules on one line of a header that passed: repeated values, tax, distribution, amount.
/// Returns the reject (if any), the line's tax and its net amount.
fn line_rule(l: &InvoiceLine, h: &InvoiceHeader, ctx: &Context<'_>) -> (Option<Reject>, TaxOf, Option<Decimal>) {
    let o = l.origin;
    let reject = |role: Role, rule: Rule, msg: String| Some(ctx.reject(o, role, rule, &msg));
    let tax = resolve_tax(l, h, ctx.master);
    let net = l.net_amount(h.currency);
    let bad = if let Some(c) = l.currency.filter(|c| *c != h.currency) {
        reject(
            Role::Currency,
            Rule::RelationMismatch,
            format!(
                "line currency {} differs from the header's {} ({})",
                c.code(),
                h.currency.code(),
                ctx.at(h.origin)
            ),
        )
    } else if let Some(d) = l.invoice_date.filter(|d| *d != h.date) {
        reject(
            Role::InvoiceDate,
            Rule::RelationMismatch,
            format!("line invoice date {d} differs from the header's {} ({})", h.date, ctx.at(h.origin)),
        )
    } else if let Err((role, msg)) = &tax {
        reject(*role, Rule::RefTaxCode, msg.clone())
    } else if let Some(Err(msg)) = l.distribution().map(crate::model::parse_distribution) {
        reject(Role::Distribution, Rule::DistributionInvalid, format!("account distribution: {msg}"))
    } else if let Err(e) = net {
        let field = l.largest_input();
        let name = ctx.field(o, field).unwrap_or("an amount");
        reject(
            field,
            Rule::AmountOverflow,
            format!("its line amount {} cannot be computed (largest input: {name}): {e}", l.formula()),
        )
    } else if let Some((given, net)) =
        net.ok().and_then(|n| l.line_amount.filter(|a| !crate::model::same_value(*a, n)).map(|a| (a, n)))
    {
        reject(Role::LineAmount, Rule::AmountLine, format!("line amount {given} differs from {net} = {}", l.formula()))
    } else {
        None
    };
    (bad, tax, net.ok())
}

/// Applies the cross-row rules to all headers and lines of one import, together with the rows
/// already rejected by the row rules (so that their invoices go with them): the whole import in
/// memory (tests and small imports; the pipeline streams invoice by invoice).
pub fn assemble(
    headers: Vec<InvoiceHeader>,
    lines: Vec<InvoiceLine>,
    early: Vec<EarlyReject>,
    ctx: &Context<'_>,
) -> Outcome {
    let mut out = Outcome::default();
    let (early_headers, early_lines): (Vec<EarlyReject>, Vec<EarlyReject>) =
        early.into_iter().partition(|e| e.is_header);
    let mut book = HeaderBook::new(
        headers.iter().map(|h| Box::new(Booked::new(h))).collect(),
        early_headers,
        ctx,
        &mut out.rejects,
    );
    // Lines by key, keys in order of first appearance.
    let mut groups: Vec<(HeaderKey, Vec<LineRow>)> = Vec::new();
    let mut at: HashMap<HeaderKey, usize> = HashMap::default();
    let mut rows: Vec<LineRow> = lines.into_iter().map(|l| LineRow::Line(Box::new(l))).collect();
    for e in early_lines {
        if e.key.is_some() {
            rows.push(LineRow::Early(Box::new(e)));
        } else {
            out.rejects.push(e.reject);
        }
    }
    rows.sort_by_key(LineRow::origin);
    for r in rows {
        let key = match &r {
            LineRow::Line(l) => (std::sync::Arc::clone(&l.legal_entity), l.header.clone()),
            LineRow::Early(e) => e.key.clone().unwrap_or_else(|| ("".into(), HeaderRef::Number("".into()))),
        };
        let i = *at.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(r);
    }
    let mut accepted: Vec<(usize, Invoice)> = Vec::new();
    for (key, rows) in groups {
        let ordinal = book.ordinal(&key);
        let a = book.invoice(ordinal, rows, ctx);
        out.rejects.extend(a.rejects);
        if let (Some(inv), Some(o)) = (a.invoice, a.ordinal) {
            accepted.push((o, inv));
        }
    }
    out.rejects.extend(book.finish(ctx));
    accepted.sort_by_key(|(o, _)| *o);
    out.invoices = accepted.into_iter().map(|(_, i)| i).collect();
    out.rejects.sort_by_key(|r| r.origin);
    out
}

/// The tax code of a line: the code it names, or the one its sales tax group (line, header or
/// customer) and item sales tax group (line or header) share.
fn resolve_tax(l: &InvoiceLine, h: &InvoiceHeader, md: &MasterData) -> Result<LineTax, (Role, String)> {
    if let Some(code) = &l.tax_code {
        return match md.tax_codes.get(&**code) {
            Some(t) => Ok(LineTax { code: t.code, category: t.category, rate: t.rate }),
            None => Err((Role::TaxCode, format!("tax code `{code}` is not in the SalesTaxCode master data"))),
        };
    }
    let customer_group = md.customers.get(&*h.customer).and_then(|c| c.tax_group.as_deref());
    let group = l.tax_group.as_deref().or(h.tax_group.as_deref()).or(customer_group);
    let item_group = l.item_tax_group.as_deref().or(h.item_tax_group.as_deref());
    match (group, item_group) {
        (Some(g), Some(ig)) => md
            .resolve_tax(g, ig)
            .map(|t| LineTax { code: t.code, category: t.category, rate: t.rate })
            .map_err(|m| (Role::ItemTaxGroup, m)),
        (None, _) => Err((
            Role::TaxGroup,
            "the line has no tax code and no sales tax group (neither on the line, the header nor the customer)".into(),
        )),
        (Some(_), None) => Err((Role::ItemTaxGroup, "the line has no tax code and no item sales tax group".into())),
    }
}

/// Totals, tax and sign of a whole invoice whose lines all passed (`taxes` and `nets`: theirs,
/// as the line rules found them).
/// Returns the totals with the VAT rounding that reproduces the source's tax total (the default
/// when it gives none).
fn invoice_rules(
    h: &InvoiceHeader,
    lines: &[&InvoiceLine],
    nets: Vec<Decimal>,
    taxes: &[LineTax],
    ctx: &Context<'_>,
) -> Result<Totals, Reject> {
    let o = h.origin;
    let reject = |role: Role, rule: Rule, msg: String| Err(ctx.reject(o, role, rule, &msg));
    let doc = match totals::compute_with_nets(h, lines, nets, taxes, RoundingPolicy::Document) {
        Ok(doc) => doc,
        Err(e) => return Err(overflow(h, lines, e, ctx)),
    };
    let net = doc.tax_exclusive;
    if h.original_invoice.is_some() && net > Decimal::ZERO {
        return reject(
            Role::OriginalInvoice,
            Rule::AmountSign,
            format!(
                "names original invoice {} (a credit note) but its total without VAT is +{net}",
                h.original_invoice.as_deref().unwrap_or("")
            ),
        );
    }
    // A document type column states the kind: a credit note has no positive total, an invoice
    // no negative one (the header's total as given, or the lines' net).
    if let Some(typed) = h.typed_as {
        let given = h.totals.amount;
        let credit = typed == TypedAs::CreditNote;
        let wrong = |d: Decimal| if credit { d > Decimal::ZERO } else { d < Decimal::ZERO };
        let what = if credit { "a credit note" } else { "an invoice" };
        let shown = match given.filter(|&t| wrong(t)) {
            Some(t) => Some(format!("its total is {t}")),
            None => wrong(net).then(|| format!("its total without VAT is {net}")),
        };
        if let Some(shown) = shown {
            let role = if given.is_some() { Role::TotalAmount } else { Role::InvoiceNumber };
            let fix = match typed {
                TypedAs::CreditNote => {
                    "a credit note's quantities and totals are negative: negate them, or correct the document type"
                }
                TypedAs::Invoice => {
                    "an invoice's total is not negative: correct the document type, or the quantities and totals"
                }
            };
            return Err(Reject::new(
                o,
                ctx.field(o, role),
                Rule::AmountSign,
                format!("the document type says {what} but {shown} — {fix}"),
            ));
        }
    }
    let compute = |policy| {
        totals::compute_with_nets(h, lines, doc.line_nets.clone(), taxes, policy)
            .map_err(|e| overflow(h, lines, e, ctx))
    };
    let chosen = match h.totals.tax {
        None if ctx.rounding == RoundingPolicy::Document => doc,
        None => compute(ctx.rounding)?,
        Some(t) if t == doc.vat_total => doc,
        Some(t) => {
            let per_line = compute(RoundingPolicy::Line)?;
            if t != per_line.vat_total {
                return reject(
                    Role::TotalTax,
                    Rule::AmountTax,
                    format!(
                        "total tax {t} differs from the {} computed from the lines (VAT per rate; {} when rounded per line)",
                        doc.vat_total, per_line.vat_total
                    ),
                );
            }
            per_line
        }
    };
    if let Some(total) = h.totals.amount {
        if !net.is_zero() && !total.is_zero() && total.is_sign_negative() != net.is_sign_negative() {
            return reject(
                Role::TotalAmount,
                Rule::AmountSign,
                format!("total {total} has the opposite sign of its lines ({net})"),
            );
        }
        if total != chosen.tax_inclusive {
            return reject(
                Role::TotalAmount,
                Rule::AmountTotal,
                format!(
                    "total {total} differs from {} = lines {} − discount {} + charges {} + tax {}",
                    chosen.tax_inclusive,
                    chosen.line_total,
                    chosen.allowance_total,
                    chosen.charge_total,
                    chosen.vat_total
                ),
            );
        }
    }
    // A net total as the source gives it (legacy headers carry one): the lines less the
    // discount plus the charges, as amount.total checks the gross.
    if let Some(net) = h.totals.net.filter(|&n| n != chosen.tax_exclusive) {
        return reject(
            Role::TotalNet,
            Rule::AmountTotal,
            format!(
                "net total {net} differs from {} = lines {} − discount {} + charges {}",
                chosen.tax_exclusive, chosen.line_total, chosen.allowance_total, chosen.charge_total
            ),
        );
    }
    Ok(chosen)
}

/// The reject of a header whose totals leave the amount limit, naming what makes them large:
/// the sum of its lines, its charge or discount, or its VAT.
fn overflow(h: &InvoiceHeader, lines: &[&InvoiceLine], e: crate::model::Overflow, ctx: &Context<'_>) -> Reject {
    use crate::model::checked;
    let nets: Result<Vec<Decimal>, _> = lines.iter().map(|l| l.net_amount(h.currency)).collect();
    let sum = nets.and_then(checked::sum).and_then(checked::bounded);
    let within = |x: Option<Decimal>| {
        sum.and_then(|s| checked::add(s, x.unwrap_or_default()).and_then(checked::bounded)).is_ok()
            && sum.and_then(|s| checked::sub(s, x.unwrap_or_default()).and_then(checked::bounded)).is_ok()
    };
    let (role, what) = if sum.is_err() {
        (Role::TotalAmount, format!("the sum of its {} line amounts", lines.len()))
    } else if !within(h.totals.charge) {
        (Role::TotalCharge, format!("its total charge {}", h.totals.charge.unwrap_or_default()))
    } else if !within(h.totals.discount) {
        (Role::TotalDiscount, format!("its total discount {}", h.totals.discount.unwrap_or_default()))
    } else {
        (Role::TotalTax, "its VAT".to_string())
    };
    let o = h.origin;
    Reject::new(
        o,
        ctx.field(o, role),
        Rule::AmountOverflow,
        format!("{what} cannot be computed: {e} — {}", Rule::AmountOverflow.fix()),
    )
}

/// The hash a header key is indexed by.
fn key_hash(legal_entity: &str, href: RefView<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    legal_entity.hash(&mut h);
    match href {
        RefView::Number(n) => {
            0u8.hash(&mut h);
            n.hash(&mut h);
        }
        RefView::RecordId(id) => {
            1u8.hash(&mut h);
            id.hash(&mut h);
        }
    }
    h.finish()
}

/// A slot's key, hashed, for [`shared_keys`].
fn slot_key(h: &HSlot) -> (u64, (&str, RefView<'_>)) {
    (key_hash(&h.key.0, h.key.1.view()), (&*h.key.0, h.key.1.view()))
}

/// A slot's (legal entity, invoice number or voucher), hashed, for [`shared_keys`].
fn slot_number(h: &HSlot, role: Role) -> Option<(u64, (&str, &str))> {
    let head = h.header.as_ref()?.head();
    let value = match role {
        Role::InvoiceNumber => head.number,
        _ => head.voucher,
    }?;
    let le: &str = &h.key.0;
    Some((key_hash(le, RefView::Number(value)), (le, value)))
}

/// Rows that share a key, found by sorting their keys' hashes (no map holding every key: a
/// million headers cost 16 bytes each here): the groups of two or more (indexes ascending,
/// groups in order of their first index), and the first index of every distinct key
/// (ascending). `hashed` gives (index, hash of its key); `key` the key of an index, compared
/// only among indexes of one hash (equal keys must hash equally).
fn shared_keys<K: PartialEq>(
    hashed: impl Iterator<Item = (usize, u64)>,
    key: impl Fn(usize) -> K,
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut hashed: Vec<(u64, u32)> = hashed.map(|(i, h)| (h, i as u32)).collect();
    // On every core (the book is built while nothing else runs); the pairs are distinct, so the
    // order is the same however the sort is split.
    hashed.par_sort_unstable();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut firsts: Vec<usize> = Vec::with_capacity(hashed.len());
    let mut run_start = 0;
    while run_start < hashed.len() {
        let h = hashed[run_start].0;
        let run_end = hashed[run_start..].iter().position(|&(x, _)| x != h).map_or(hashed.len(), |n| run_start + n);
        if run_end - run_start == 1 {
            firsts.push(hashed[run_start].1 as usize);
        } else {
            // One hash, one or more keys (a collision): group by the keys themselves. The run
            // is sorted by index, so every group is too.
            let mut subgroups: Vec<(K, Vec<usize>)> = Vec::new();
            for &(_, i) in &hashed[run_start..run_end] {
                let (i, k) = (i as usize, key(i as usize));
                match subgroups.iter_mut().find(|(gk, _)| *gk == k) {
                    Some((_, g)) => g.push(i),
                    None => subgroups.push((k, vec![i])),
                }
            }
            for (_, idxs) in subgroups {
                firsts.push(idxs[0]);
                if idxs.len() > 1 {
                    groups.push(idxs);
                }
            }
        }
        run_start = run_end;
    }
    groups.sort();
    firsts.par_sort_unstable();
    (groups, firsts)
}

/// Groups of two or more row indexes that share a key.
fn views<K: std::hash::Hash + Eq>(keyed: impl Iterator<Item = (usize, K)>) -> Vec<Vec<usize>> {
    let mut by: HashMap<K, Vec<usize>> = HashMap::default();
    for (i, k) in keyed {
        by.entry(k).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = by.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    groups
}

/// The entities of the rows, named (`A and B`), when every row comes from another entity of
/// the same documents (views of them); `None` when two come from the same entity (a true
/// duplicate) or they are not views of the same documents.
fn distinct_entities(origins: impl Iterator<Item = Origin>, ctx: &Context<'_>) -> Option<String> {
    let mut names: Vec<&Entity> = Vec::new();
    for o in origins {
        let e = *ctx.entities.get(o.file as usize)?;
        if names.iter().any(|n| n.name == e.name || n.kind != e.kind || n.document != e.document) {
            return None;
        }
        names.push(e);
    }
    Some(names.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(" and "))
}

/// The row to keep of copies: the one whose entity has the most fields (it can hold what the
/// others carry), among equals the one with the most fields without a role (those are kept by
/// the entity's own field list, where a value of another entity has no place), then the first
/// in input order.
fn widest(idxs: &[usize], origin: impl Fn(usize) -> Origin, ctx: &Context<'_>) -> usize {
    let width = |i: usize| {
        ctx.entities
            .get(origin(i).file as usize)
            .map(|e| (e.fields.len(), e.fields.iter().filter(|f| f.role.is_none()).count()))
            .unwrap_or((0, 0))
    };
    idxs.iter().copied().max_by_key(|&i| (width(i), std::cmp::Reverse(origin(i)))).unwrap_or(idxs[0])
}

/// Fills `kept`'s absent values from `other` where `other` has them; a value both have must be
/// equal. Err names the first difference.
macro_rules! merge_fields {
    ($kept:expr, $other:expr, [$($f:ident),*], [$($opt:ident),*]) => {{
        $(
            if $kept.$f != $other.$f {
                return Err(format!("{} is {:?} here and {:?} there", stringify!($f), $other.$f, $kept.$f));
            }
        )*
        $(
            match (&$kept.$opt, &$other.$opt) {
                (Some(a), Some(b)) if a != b => {
                    return Err(format!("{} is {:?} here and {:?} there", stringify!($opt), b, a));
                }
                (None, Some(b)) => $kept.$opt = Some(b.clone()),
                _ => {}
            }
        )*
    }};
}

fn merge_header(kept: &mut InvoiceHeader, other: &InvoiceHeader, ctx: &Context<'_>) -> Result<(), String> {
    merge_fields!(
        kept,
        other,
        [document, legal_entity, number, record_id, date, customer, currency],
        [
            payment_terms,
            due_date,
            order_reference,
            buyer_reference,
            sales_order,
            original_invoice,
            voucher,
            exchange_rate,
            tax_group,
            item_tax_group
        ]
    );
    merge_fields!(kept.totals, other.totals, [], [amount, tax, charge, discount, net]);
    merge_extras(kept.entity, &kept.extras, other.entity, &other.extras, ctx)
}

fn merge_line(kept: &mut InvoiceLine, other: &InvoiceLine, ctx: &Context<'_>) -> Result<(), String> {
    let find = |name: &str| ctx.entities.iter().copied().find(|e| e.name == name);
    let (Some(ke), Some(oe)) = (find(kept.entity), find(other.entity)) else {
        return Err("unknown entity".into());
    };
    let both = |role: Role| ke.role_index(role).is_some() && oe.role_index(role).is_some();
    merge_fields!(kept, other, [legal_entity, header, line_number, quantity, unit_price], []);
    // Values only some views of a line carry (SalesInvoiceLineV3 has no price unit and gives
    // its discounts as one total) are compared where both have them, and the lines must come
    // to the same amount.
    let discounts =
        [Role::PriceUnit, Role::DiscountPerUnit, Role::DiscountPercent, Role::DiscountAmount, Role::ChargeAmount];
    if discounts.iter().all(|&r| both(r) || (ke.role_index(r).is_none() && oe.role_index(r).is_none())) {
        merge_fields!(
            kept,
            other,
            [price_unit, discount_per_unit, discount_percent, discount_amount, charge_amount],
            []
        );
    } else {
        let eur = crate::model::Currency::from_code("EUR");
        let net = |l: &InvoiceLine| eur.and_then(|c| l.net_amount(c).ok());
        if net(kept) != net(other) {
            return Err(format!(
                "the line amount is {} here and {} there",
                net(other).map(|n| n.to_string()).unwrap_or_default(),
                net(kept).map(|n| n.to_string()).unwrap_or_default()
            ));
        }
    }
    macro_rules! optional {
        ($($f:ident: $role:ident),*) => {$(
            if both(Role::$role) {
                merge_fields!(kept, other, [], [$f]);
            } else if kept.$f.is_none() {
                kept.$f = other.$f.clone();
            }
        )*};
    }
    // The line's free texts (kept with its extras) merge as the optional fields do.
    let texts = |kept: &mut crate::model::Extras, other: &crate::model::Extras, slot: Slot| -> Result<(), String> {
        match (kept.slot(slot), other.slot(slot)) {
            (Some(a), Some(b)) if a != b && both(slot.role()) => {
                Err(format!("{} is {b:?} here and {a:?} there", slot.name()))
            }
            (None, Some(b)) => {
                let b = b.to_string();
                kept.set_slot(slot, Some(&b));
                Ok(())
            }
            _ => Ok(()),
        }
    };
    optional!(invoice_date: InvoiceDate, line_amount: LineAmount, line_tax: LineTax, tax_rate: TaxRate,
        tax_code: TaxCode, tax_group: TaxGroup, item_tax_group: ItemTaxGroup);
    texts(&mut kept.extras, &other.extras, Slot::ItemId)?;
    texts(&mut kept.extras, &other.extras, Slot::ItemName)?;
    texts(&mut kept.extras, &other.extras, Slot::Description)?;
    optional!(unit: Unit, main_account: MainAccount);
    texts(&mut kept.extras, &other.extras, Slot::Distribution)?;
    optional!(currency: Currency);
    merge_extras(kept.entity, &kept.extras, other.entity, &other.extras, ctx)
}

/// Fields without a role: a field both entities have must hold the same value in both copies,
/// and the dropped copy may carry nothing the kept entity has no field for.
fn merge_extras(
    kept_entity: &str,
    kept: &crate::model::Extras,
    other_entity: &str,
    other: &crate::model::Extras,
    ctx: &Context<'_>,
) -> Result<(), String> {
    let find = |name: &str| ctx.entities.iter().copied().find(|e| e.name == name);
    let (Some(ke), Some(oe)) = (find(kept_entity), find(other_entity)) else {
        return Err("unknown entity".into());
    };
    fn value(extras: &crate::model::Extras, i: usize) -> &str {
        extras.get(i as u16).unwrap_or("")
    }
    for (oi, f) in oe.fields.iter().enumerate().filter(|(_, f)| f.role.is_none()) {
        let theirs = value(other, oi);
        match ke.field_index(&f.name).filter(|&ki| ke.fields[ki].role.is_none()) {
            Some(ki) if value(kept, ki) != theirs => {
                return Err(format!("{} is `{theirs}` here and `{}` there", f.name, value(kept, ki)));
            }
            Some(_) => {}
            None if !theirs.is_empty() => {
                return Err(format!("{} = `{theirs}` has no field in {}", f.name, ke.name));
            }
            None => {}
        }
    }
    Ok(())
}

/// The reject of a copy of a rejected row (the same document through another entity).
fn copy_reject(copy: Origin, of: Origin, r: &Reject, ctx: &Context<'_>) -> Reject {
    Reject::new(
        copy,
        r.field.as_deref(),
        r.rule,
        format!("the same row as {}, which was rejected: {}", ctx.at(of), r.message),
    )
}

#[cfg(test)]
mod tests {
    use super::{increases, shared_keys, LinePart, LineParts, DECIMAL_PARTS, TEXT_PARTS};
    use crate::entity::Role;
    use crate::validate::field::Value;
    use rust_decimal::Decimal;

    /// Every role a line takes has the part the line takes it from; the others have none; a
    /// part is set only from a value of its kind.
    #[test]
    fn a_role_gives_the_part_of_its_kind() {
        assert_eq!(LinePart::of(Role::Currency), LinePart::Text(0));
        assert_eq!(LinePart::of(Role::Distribution), LinePart::Text(4));
        assert_eq!(LinePart::of(Role::InvoiceNumber), LinePart::Text(5));
        assert_eq!(LinePart::of(Role::MainAccount), LinePart::Text(11));
        assert_eq!(LinePart::of(Role::LineNumber), LinePart::Decimal(0));
        assert_eq!(LinePart::of(Role::TaxRate), LinePart::Decimal(10));
        assert_eq!(LinePart::of(Role::InvoiceDate), LinePart::Date);
        assert_eq!(LinePart::of(Role::ParentRecordId), LinePart::RecordId);
        for role in [Role::Customer, Role::DueDate, Role::TotalAmount, Role::RecordId, Role::Voucher] {
            assert_eq!(LinePart::of(role), LinePart::Unused, "{role:?}");
        }
        for (k, &role) in TEXT_PARTS.iter().enumerate() {
            assert_eq!(LinePart::of(role), LinePart::Text(k as u8));
        }
        for (k, &role) in DECIMAL_PARTS.iter().enumerate() {
            assert_eq!(LinePart::of(role), LinePart::Decimal(k as u8));
        }
        let mut parts = LineParts::default();
        parts.set(LinePart::Decimal(1), Value::Int(7));
        parts.set(LinePart::Decimal(2), Value::Str("7".into()));
        parts.set(LinePart::Text(0), Value::Dec(Decimal::ONE));
        parts.set(LinePart::RecordId, Value::Int(5637144577));
        assert_eq!(parts.decimals[1], Some(Decimal::from(7)));
        assert_eq!((parts.decimals[2], &parts.texts[0]), (None, &None));
        assert_eq!(parts.parent_record_id, Some(5637144577));
    }

    #[test]
    fn a_line_number_increases_by_value_whatever_its_scale() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert!(increases(d("1"), d("2")));
        assert!(increases(d("-3"), d("-2")));
        assert!(!increases(d("2"), d("2")));
        assert!(!increases(d("1.0"), d("1.00")));
        assert!(increases(d("1.5"), d("2")));
        assert!(!increases(d("10"), d("9.99")));
    }

    #[test]
    fn shared_keys_groups_equal_keys_and_splits_colliding_hashes() {
        // "a", "b" and "d" share the hash 7 (a collision); "c" has its own.
        let rows = [("a", 7u64), ("b", 7), ("a", 7), ("c", 9), ("b", 7), ("d", 7), ("a", 7)];
        let (groups, firsts) = shared_keys(rows.iter().enumerate().map(|(i, &(_, h))| (i, h)), |i| rows[i].0);
        assert_eq!(groups, vec![vec![0, 2, 6], vec![1, 4]]);
        assert_eq!(firsts, vec![0, 1, 3, 5]);
    }
}
