//! An invoice header packed into one block of bytes while it waits in the header book for its
//! lines. A typed header is ~400 bytes of fields and two more blocks for its texts (~750 bytes
//! with its place in the book); most of its fields are short texts, small dates and decimals
//! with few digits, and every header of an import waits until its lines are read. Packed, a
//! full-width D365 header is ~170 bytes in one block (the generated 100k set: 168 on average,
//! its CSV row 186). [`PackedHeader::unpack`] gives back the header that was packed, equal
//! field for field (tests pack and unpack every shape, and thousands of generated rows).
//!
//! The encoding: a presence mask (which optional fields are there), then the fields in a fixed
//! order — whole numbers in groups of six bits (signed ones zigzagged), texts as length and
//! UTF-8 bytes, decimals as a byte of scale and sign and the mantissa's magnitude, the fields
//! without a role as (field id, text) pairs. Every byte that is not a text's is ASCII, so the
//! whole is one `str` and a text is read back by slicing it, without checking its bytes again.
//! The fields the book's rules read (number, voucher, customer, terms, dates) come first, so
//! that [`PackedHeader::head`] reads them without the rest.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::{Currency, Date, Extras, HeaderTotals, InvoiceHeader, Name, TypedAs};
use crate::entity::DocumentKind;
use crate::read::Origin;

/// A header packed (see the module). Its origin and legal entity are not in it: the book keeps
/// them beside it, and [`PackedHeader::unpack`] is given them back.
#[derive(Debug, Clone)]
pub struct PackedHeader {
    entity: Name,
    bytes: Box<str>,
}

/// The fields of a packed header that the rules on headers alone read, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Head<'a> {
    /// The invoice number.
    pub number: Option<&'a str>,
    /// Ledger voucher from the source.
    pub voucher: Option<&'a str>,
    /// Customer account.
    pub customer: &'a str,
    /// Terms of payment.
    pub payment_terms: Option<&'a str>,
    /// Invoice date.
    pub date: Date,
    /// Due date.
    pub due_date: Option<Date>,
}

// Which optional fields a packed header has.
const NUMBER: u32 = 1;
const VOUCHER: u32 = 1 << 1;
const PAYMENT_TERMS: u32 = 1 << 2;
const DUE_DATE: u32 = 1 << 3;
const RECORD_ID: u32 = 1 << 4;
const ORDER_REFERENCE: u32 = 1 << 5;
const BUYER_REFERENCE: u32 = 1 << 6;
const SALES_ORDER: u32 = 1 << 7;
const ORIGINAL_INVOICE: u32 = 1 << 8;
const EXCHANGE_RATE: u32 = 1 << 9;
const AMOUNT: u32 = 1 << 10;
const TAX: u32 = 1 << 11;
const CHARGE: u32 = 1 << 12;
const DISCOUNT: u32 = 1 << 13;
const TAX_GROUP: u32 = 1 << 14;
const ITEM_TAX_GROUP: u32 = 1 << 15;
const FREE_TEXT: u32 = 1 << 16;
const TYPED_INVOICE: u32 = 1 << 17;
const TYPED_CREDIT_NOTE: u32 = 1 << 18;
const NET: u32 = 1 << 19;

impl PackedHeader {
    /// Packs `h` (all of it but its origin and legal entity).
    pub fn pack(h: &InvoiceHeader) -> PackedHeader {
        PackedHeader::pack_with(h, &h.extras)
    }

    /// Packs `h` with `extras` as its texts (whatever `h.extras` holds).
    pub fn pack_with(h: &InvoiceHeader, extras: &Extras) -> PackedHeader {
        // A header's texts are a few dozen at most: two bytes each for id and length.
        let mut w = Writer(Vec::with_capacity(64 + extras.text_len() + 4 * extras.texts().count()));
        let t = &h.totals;
        let present = [
            (NUMBER, h.number.is_some()),
            (VOUCHER, h.voucher.is_some()),
            (PAYMENT_TERMS, h.payment_terms.is_some()),
            (DUE_DATE, h.due_date.is_some()),
            (RECORD_ID, h.record_id.is_some()),
            (ORDER_REFERENCE, h.order_reference.is_some()),
            (BUYER_REFERENCE, h.buyer_reference.is_some()),
            (SALES_ORDER, h.sales_order.is_some()),
            (ORIGINAL_INVOICE, h.original_invoice.is_some()),
            (EXCHANGE_RATE, h.exchange_rate.is_some()),
            (AMOUNT, t.amount.is_some()),
            (TAX, t.tax.is_some()),
            (CHARGE, t.charge.is_some()),
            (DISCOUNT, t.discount.is_some()),
            (TAX_GROUP, h.tax_group.is_some()),
            (ITEM_TAX_GROUP, h.item_tax_group.is_some()),
            (FREE_TEXT, h.document == DocumentKind::FreeText),
            (TYPED_INVOICE, h.typed_as == Some(TypedAs::Invoice)),
            (TYPED_CREDIT_NOTE, h.typed_as == Some(TypedAs::CreditNote)),
            (NET, t.net.is_some()),
        ]
        .iter()
        .fold(0u32, |m, &(bit, set)| if set { m | bit } else { m });
        w.uint(u64::from(present));
        // What `head` reads, first.
        w.opt_text(h.number.as_deref());
        w.opt_text(h.voucher.as_deref());
        w.text(&h.customer);
        w.opt_text(h.payment_terms.as_deref());
        w.int(i64::from(h.date.days_since_epoch()));
        if let Some(d) = h.due_date {
            w.int(i64::from(d.days_since_epoch()));
        }
        // The rest.
        if let Some(id) = h.record_id {
            w.int(id);
        }
        w.currency(h.currency);
        for text in [&h.order_reference, &h.buyer_reference, &h.sales_order, &h.original_invoice] {
            w.opt_text(text.as_deref());
        }
        for d in [h.exchange_rate, t.amount, t.tax, t.charge, t.discount, t.net].into_iter().flatten() {
            w.decimal(d);
        }
        w.opt_text(h.tax_group.as_deref());
        w.opt_text(h.item_tax_group.as_deref());
        // The texts last, up to the end (no count).
        for (field, text) in extras.texts() {
            w.uint(u64::from(field));
            w.text(text);
        }
        // ASCII and whole texts: UTF-8 (checked once here, so that reading never checks again).
        let bytes = String::from_utf8(w.0).unwrap_or_default().into_boxed_str();
        PackedHeader { entity: h.entity, bytes }
    }

    /// The bytes the header takes (for memory accounting).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was packed (never: every header has fields).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The fields the book's rules read, without unpacking the rest.
    pub fn head(&self) -> Head<'_> {
        self.read_head().0
    }

    fn read_head(&self) -> (Head<'_>, u32, Reader<'_>) {
        let mut r = Reader { text: &self.bytes, at: 0 };
        let present = r.uint() as u32;
        let number = r.opt_text(present & NUMBER != 0);
        let voucher = r.opt_text(present & VOUCHER != 0);
        let customer = r.text();
        let payment_terms = r.opt_text(present & PAYMENT_TERMS != 0);
        let date = r.date();
        let due_date = (present & DUE_DATE != 0).then(|| r.date());
        (Head { number, voucher, customer, payment_terms, date, due_date }, present, r)
    }

    /// The header that was packed, with the `origin` and `legal_entity` it had. `number`, when
    /// it is the header's number, is shared rather than copied; codes are shared through
    /// `intern`.
    pub fn unpack(
        &self,
        origin: Origin,
        legal_entity: Arc<str>,
        number: Option<&Arc<str>>,
        intern: impl Fn(&str) -> Arc<str>,
    ) -> InvoiceHeader {
        let (head, present, mut r) = self.read_head();
        let has = |bit: u32| present & bit != 0;
        let record_id = has(RECORD_ID).then(|| r.int());
        let currency = r.currency();
        let mut boxed = |bit| r.opt_text(has(bit)).map(Box::<str>::from);
        let order_reference = boxed(ORDER_REFERENCE);
        let buyer_reference = boxed(BUYER_REFERENCE);
        let sales_order = boxed(SALES_ORDER);
        let original_invoice = boxed(ORIGINAL_INVOICE);
        let mut decimal = |bit| has(bit).then(|| r.decimal());
        let exchange_rate = decimal(EXCHANGE_RATE);
        let totals = HeaderTotals {
            amount: decimal(AMOUNT),
            tax: decimal(TAX),
            charge: decimal(CHARGE),
            discount: decimal(DISCOUNT),
            net: None,
        };
        let totals = HeaderTotals { net: decimal(NET), ..totals };
        let tax_group = r.opt_text(has(TAX_GROUP)).map(&intern);
        let item_tax_group = r.opt_text(has(ITEM_TAX_GROUP)).map(&intern);
        // The texts are the rest, each at least two bytes shorter than its entry.
        let rest = r.text.len().saturating_sub(r.at);
        let mut extras = Extras::with_capacity(rest, rest / 3);
        while r.at < r.text.len() {
            let field = r.uint() as u16;
            extras.push(field, r.text());
        }
        InvoiceHeader {
            origin,
            entity: self.entity,
            document: if has(FREE_TEXT) { DocumentKind::FreeText } else { DocumentKind::Sales },
            legal_entity,
            number: head.number.map(|n| match number {
                Some(shared) if **shared == *n => Arc::clone(shared),
                _ => Arc::from(n),
            }),
            record_id,
            date: head.date,
            customer: intern(head.customer),
            currency,
            payment_terms: head.payment_terms.map(&intern),
            due_date: head.due_date,
            order_reference,
            buyer_reference,
            sales_order,
            original_invoice,
            voucher: head.voucher.map(Box::from),
            exchange_rate,
            totals,
            tax_group,
            item_tax_group,
            extras,
            typed_as: if has(TYPED_INVOICE) {
                Some(TypedAs::Invoice)
            } else if has(TYPED_CREDIT_NOTE) {
                Some(TypedAs::CreditNote)
            } else {
                None
            },
        }
    }
}

/// Appends the encoding's parts: its own parts as ASCII bytes, texts as they are.
struct Writer(Vec<u8>);

impl Writer {
    /// Six bits per byte, low first; `0x40` marks a byte that more follow (every byte ASCII).
    fn uint(&mut self, mut v: u64) {
        while v >= 0x40 {
            self.0.push(v as u8 & 0x3f | 0x40);
            v >>= 6;
        }
        self.0.push(v as u8);
    }

    fn int(&mut self, v: i64) {
        self.uint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn text(&mut self, t: &str) {
        self.uint(t.len() as u64);
        self.0.extend_from_slice(t.as_bytes());
    }

    fn opt_text(&mut self, t: Option<&str>) {
        if let Some(t) = t {
            self.text(t);
        }
    }

    /// Scale (0–28) and sign (`0x40`) in one byte, then the mantissa's magnitude (96 bits) as
    /// its low 64 bits and the rest: exact, `-0` included.
    fn decimal(&mut self, d: Decimal) {
        self.0.push(d.scale() as u8 | if d.is_sign_negative() { 0x40 } else { 0 });
        let m = d.mantissa().unsigned_abs();
        self.uint(m as u64);
        self.uint((m >> 64) as u64);
    }

    /// The code (three ASCII capitals) and the minor units (0–4).
    fn currency(&mut self, c: Currency) {
        let [a, b, c, units] = c.to_bytes();
        self.0.extend_from_slice(&[a, b, c, units & 0x3f]);
    }
}

/// Reads back what [`Writer`] wrote, in the same order. The text is only ever one a `Writer`
/// wrote: a read past its end gives zeros and empty texts rather than a panic.
struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        let b = self.text.as_bytes().get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn uint(&mut self) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = self.byte();
            v |= u64::from(b & 0x3f) << shift;
            shift += 6;
            if b & 0x40 == 0 || shift >= 64 {
                return v;
            }
        }
    }

    fn int(&mut self) -> i64 {
        let v = self.uint();
        (v >> 1) as i64 ^ -((v & 1) as i64)
    }

    fn date(&mut self) -> Date {
        Date::from_days_since_epoch(self.int() as i32)
    }

    fn text(&mut self) -> &'a str {
        let len = self.uint() as usize;
        let start = self.at;
        self.at += len;
        // Cut where a text was written, so on character boundaries (a slice, not a check of
        // every byte).
        self.text.get(start..self.at).unwrap_or_default()
    }

    fn opt_text(&mut self, present: bool) -> Option<&'a str> {
        present.then(|| self.text())
    }

    fn decimal(&mut self) -> Decimal {
        let first = self.byte();
        let (low, high) = (self.uint(), self.uint());
        let mut d = Decimal::from_parts(low as u32, (low >> 32) as u32, high as u32, false, u32::from(first & 0x3f));
        // After the parts: `from_parts` would make a negative zero positive.
        d.set_sign_negative(first & 0x40 != 0);
        d
    }

    fn currency(&mut self) -> Currency {
        Currency::from_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    fn full() -> InvoiceHeader {
        let mut extras = Extras::default();
        extras.push(3, "Contoso; \"Europe\"");
        extras.push(17, "ü");
        extras.push(300, "x");
        let mut negative_zero = Decimal::new(0, 2);
        negative_zero.set_sign_negative(true);
        InvoiceHeader {
            origin: Origin { file: 3, line: 1 << 40, record: 1 << 40 },
            entity: "SalesInvoiceHeaderV2",
            document: DocumentKind::Sales,
            legal_entity: code("DEMF"),
            number: Some(code("INV-0001")),
            record_id: Some(i64::MIN),
            date: Date::from_ymd(2026, 2, 28).unwrap(),
            customer: code("DE-001"),
            currency: Currency::from_code("KWD").unwrap(),
            payment_terms: Some(code("Net30")),
            due_date: Some(Date::from_days_since_epoch(-800_000)),
            order_reference: Some("PO 17".into()),
            buyer_reference: Some("".into()),
            sales_order: Some("SO-1".into()),
            original_invoice: Some("INV-0000".into()),
            voucher: Some("V-1".into()),
            exchange_rate: Some(Decimal::from_parts(u32::MAX, u32::MAX, u32::MAX, true, 28)),
            totals: HeaderTotals {
                amount: Some("1234.50".parse().unwrap()),
                tax: Some(negative_zero),
                charge: Some(Decimal::new(-5, 3)),
                discount: Some(Decimal::ZERO),
                net: Some(Decimal::new(123450, 2)),
            },
            tax_group: Some(code("FULL")),
            item_tax_group: Some(code("")),
            extras,
            typed_as: Some(TypedAs::CreditNote),
        }
    }

    fn round_trip(h: &InvoiceHeader) -> InvoiceHeader {
        let p = PackedHeader::pack(h);
        p.unpack(h.origin, Arc::clone(&h.legal_entity), h.number.as_ref(), code)
    }

    #[test]
    fn a_header_with_every_field_unpacks_as_it_was() {
        let h = full();
        let back = round_trip(&h);
        assert_eq!(back, h);
        // Equal as decimals is not enough: scale and sign are kept too (-0.00 stays -0.00).
        assert!(h.totals.tax.unwrap().is_sign_negative());
        assert!(back.totals.tax.unwrap().is_sign_negative());
        assert_eq!(back.totals.amount.unwrap().to_string(), "1234.50");
        assert_eq!(back.exchange_rate.unwrap().to_string(), h.exchange_rate.unwrap().to_string());
        assert_eq!(back.currency.minor_units(), 3);
        assert!(Arc::ptr_eq(back.number.as_ref().unwrap(), h.number.as_ref().unwrap()));
        assert_eq!(back.extras.iter().collect::<Vec<_>>(), vec![(3, "Contoso; \"Europe\""), (17, "ü"), (300, "x")]);
    }

    #[test]
    fn a_header_without_its_optional_fields_unpacks_as_it_was() {
        let h = InvoiceHeader {
            document: DocumentKind::FreeText,
            number: None,
            record_id: Some(5_637_144_576),
            payment_terms: None,
            due_date: None,
            order_reference: None,
            buyer_reference: None,
            sales_order: None,
            original_invoice: None,
            voucher: None,
            exchange_rate: None,
            totals: HeaderTotals::default(),
            tax_group: None,
            item_tax_group: None,
            extras: Extras::default(),
            typed_as: None,
            ..full()
        };
        let p = PackedHeader::pack(&h);
        assert_eq!(round_trip(&h), h);
        assert_eq!(
            p.head(),
            Head { number: None, voucher: None, customer: "DE-001", payment_terms: None, date: h.date, due_date: None }
        );
        // Presence mask (3 bytes), customer (7), date (3), record id (6), currency (4).
        assert_eq!(p.len(), 23);
    }

    #[test]
    fn head_reads_the_fields_the_book_needs() {
        let h = full();
        let p = PackedHeader::pack(&h);
        let head = p.head();
        assert_eq!(
            (head.number, head.voucher, head.customer, head.payment_terms, head.date, head.due_date),
            (Some("INV-0001"), Some("V-1"), "DE-001", Some("Net30"), h.date, h.due_date)
        );
    }
}
