//! Domain types: invoices, their lines, money. No I/O. Every number that leaves invoiceflow
//! (posting, exports, e-invoices) is computed by functions of this module or of `post`.

mod currency;
mod date;
mod extras;
pub mod ident;
pub mod master;
mod name;
mod packed;
pub mod totals;

use rust_decimal::{Decimal, RoundingStrategy};

pub use currency::Currency;
pub use date::{Date, DatePattern};
pub use extras::{ChunkBuilder, Extras, Slot, TextChunk, TextSink};
pub use name::{name, Name};
pub use packed::{Head, PackedHeader};

use crate::entity::DocumentKind;
use crate::read::Origin;

/// The one rounding rule for money: to the currency's minor unit, half away from zero
/// (commercial rounding, what EN 16931 examples and D365 use).
/// The result always has exactly the currency's decimals (`0.00`, never `0` or `-0`).
pub fn round_money(amount: Decimal, currency: Currency) -> Decimal {
    let units = currency.minor_units();
    // An amount with the currency's decimals already (most are: line nets, totals) is its own
    // rounding, but for the sign of a zero.
    if amount.scale() == units && !amount.is_zero() {
        return amount;
    }
    let mut r = amount.round_dp_with_strategy(units, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(units);
    if r.is_zero() {
        r.set_sign_positive(true);
    }
    r
}

/// The largest amount invoiceflow computes, exclusive: 10^26, what D365's amount fields
/// (`decimal(32,6)`: 26 digits before the point) and the exports' Decimal128 columns hold. Every
/// computed amount (line net, totals, VAT, ledger amounts) stays below it in absolute value;
/// an invoice whose amounts do not is rejected (`amount.overflow`), never computed wrongly.
pub const AMOUNT_LIMIT: Decimal = Decimal::from_parts(0xe400_0000, 0xdcc8_0cd2, 0x0052_b7d2, false, 0);

/// The limit as people read it, for messages.
pub const AMOUNT_LIMIT_TEXT: &str = "99,999,999,999,999,999,999,999,999.99 (26 digits before the point)";

/// An amount that cannot be computed within [`AMOUNT_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an amount exceeds the largest amount invoiceflow computes, {AMOUNT_LIMIT_TEXT}")
    }
}

/// Checked arithmetic on amounts: every operation fails with [`Overflow`] instead of
/// panicking, and results must stay within [`AMOUNT_LIMIT`].
pub mod checked {
    use rust_decimal::Decimal;

    use super::{Overflow, AMOUNT_LIMIT};

    /// `x` when it lies within the limit.
    pub fn bounded(x: Decimal) -> Result<Decimal, Overflow> {
        // The usual amount answers without comparing decimals: |x| is at most its mantissa,
        // and a mantissa of 64 bits is far below the limit (10^26).
        if x.mantissa().unsigned_abs() <= u128::from(u64::MAX) || x.abs() < AMOUNT_LIMIT {
            Ok(x)
        } else {
            Err(Overflow)
        }
    }
    /// `a + b`.
    pub fn add(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
        a.checked_add(b).ok_or(Overflow)
    }
    /// `a − b`.
    pub fn sub(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
        a.checked_sub(b).ok_or(Overflow)
    }
    /// `a × b`.
    pub fn mul(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
        a.checked_mul(b).ok_or(Overflow)
    }
    /// `a ÷ b` (division by zero is an overflow too).
    pub fn div(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
        a.checked_div(b).ok_or(Overflow)
    }
    /// The sum of `values`.
    pub fn sum(values: impl IntoIterator<Item = Decimal>) -> Result<Decimal, Overflow> {
        values.into_iter().try_fold(Decimal::ZERO, add)
    }
}

/// Whether two decimals have the same value (as `==` says), answered without aligning scales
/// when they have the same scale (the usual case: amounts of one column).
pub fn same_value(a: Decimal, b: Decimal) -> bool {
    if a.scale() == b.scale() {
        a.mantissa() == b.mantissa()
    } else {
        a == b
    }
}

/// Writes a decimal as `Display` does (plain, with its scale, `-` when negative), without
/// allocating.
pub fn write_decimal(out: &mut String, d: Decimal) {
    let t = decimal_text(d);
    // Only ASCII digits, '-' and '.': each byte is its char (no UTF-8 check).
    out.extend(t.text[..t.len].iter().map(|&b| char::from(b)));
}

/// A decimal's text as [`write_decimal`] writes it, held on the stack (it derefs to `&str`).
pub struct DecimalText {
    text: [u8; 72],
    len: usize,
}

impl DecimalText {
    /// The text's bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.text[..self.len]
    }
}

impl std::ops::Deref for DecimalText {
    type Target = str;
    fn deref(&self) -> &str {
        // Only ASCII digits, '-' and '.' are written, so the check cannot fail.
        std::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

/// A decimal's text as `Display` writes it, without allocating.
pub fn decimal_text(d: Decimal) -> DecimalText {
    // The digits, least significant first, in u64 arithmetic (a u128 division is a call per
    // digit): the mantissa (at most 96 bits) as two parts of at most 19 digits.
    fn put_digits(mut v: u64, digits: &mut [u8; 40], n: &mut usize, at_least: usize) {
        // Two digits per division, from a table of the pairs "00" to "99".
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
                                    2021222324252627282930313233343536373839\
                                    4041424344454647484950515253545556575859\
                                    6061626364656667686970717273747576777879\
                                    8081828384858687888990919293949596979899";
        let start = *n;
        let mut pair = |r: usize, n: &mut usize| {
            digits[*n] = PAIRS[2 * r + 1];
            digits[*n + 1] = PAIRS[2 * r];
            *n += 2;
        };
        while v >= 100 {
            pair((v % 100) as usize, n);
            v /= 100;
        }
        if v >= 10 {
            pair(v as usize, n);
        } else {
            digits[*n] = b'0' + v as u8;
            *n += 1;
        }
        while *n - start < at_least {
            digits[*n] = b'0';
            *n += 1;
        }
    }
    const E19: u128 = 10_000_000_000_000_000_000;
    let m = d.mantissa().unsigned_abs();
    let mut digits = [0u8; 40];
    let mut n = 0usize;
    // Most mantissas fit 64 bits: no u128 division (a library call) for them.
    let small = u64::try_from(m).ok();
    let (hi, lo) = match small {
        Some(v) => (0, v),
        None => ((m / E19) as u64, (m % E19) as u64),
    };
    if hi == 0 {
        put_digits(lo, &mut digits, &mut n, 1);
    } else {
        put_digits(lo, &mut digits, &mut n, 19);
        put_digits(hi, &mut digits, &mut n, 1);
    }
    let scale = d.scale() as usize;
    // Sign, integer digits, point, leading zeros of the fraction: at most 1 + 40 + 1 + 28.
    let mut text = [0u8; 72];
    let mut k = 0usize;
    let mut put = |b: u8| {
        text[k] = b;
        k += 1;
    };
    if d.is_sign_negative() {
        put(b'-');
    }
    if n <= scale {
        put(b'0');
        put(b'.');
        for _ in n..scale {
            put(b'0');
        }
        for i in (0..n).rev() {
            put(digits[i]);
        }
    } else {
        for i in (scale..n).rev() {
            put(digits[i]);
        }
        if scale > 0 {
            put(b'.');
            for i in (0..scale).rev() {
                put(digits[i]);
            }
        }
    }
    DecimalText { text, len: k }
}

/// Appends `i` in decimal digits (as `{i}` writes it, without the formatting machinery).
pub fn write_int(out: &mut String, i: i64) {
    let mut digits = [0u8; 20];
    let mut n = digits.len();
    let mut v = i.unsigned_abs();
    loop {
        n -= 1;
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    // ASCII digits: each byte is its char (no UTF-8 check).
    out.extend(digits[n..].iter().map(|&b| char::from(b)));
}

/// An invoice header as read and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceHeader {
    /// Where the row came from.
    pub origin: Origin,
    /// The entity it was read as (shared by every row of the entity).
    pub entity: Name,
    /// Sales or free-text invoice.
    pub document: DocumentKind,
    /// Company (dataAreaId).
    pub legal_entity: std::sync::Arc<str>,
    /// The invoice number; `None` for a free-text invoice that gets one when posted. Shared
    /// with the header's key in the book (one copy per header).
    pub number: Option<std::sync::Arc<str>>,
    /// Free-text invoices: the source's record id that lines point to (ParentRecId).
    pub record_id: Option<i64>,
    /// Invoice date (BT-2).
    pub date: Date,
    /// Customer account (the buyer).
    pub customer: std::sync::Arc<str>,
    /// Invoice currency (BT-5).
    pub currency: Currency,
    /// Terms of payment.
    pub payment_terms: Option<std::sync::Arc<str>>,
    /// Due date (BT-9), when the source gives one.
    pub due_date: Option<Date>,
    /// The customer's order reference (BT-13).
    pub order_reference: Option<Box<str>>,
    /// Buyer reference (BT-10).
    pub buyer_reference: Option<Box<str>>,
    /// Sales order number.
    pub sales_order: Option<Box<str>>,
    /// Credit notes: the invoice corrected (BT-25).
    pub original_invoice: Option<Box<str>>,
    /// Ledger voucher from the source.
    pub voucher: Option<Box<str>>,
    /// Exchange rate given by the source.
    pub exchange_rate: Option<Decimal>,
    /// Header totals when the source carries them (checked against the lines).
    pub totals: HeaderTotals,
    /// Default sales tax group of the lines (free-text headers).
    pub tax_group: Option<std::sync::Arc<str>>,
    /// Default item sales tax group of the lines (free-text headers).
    pub item_tax_group: Option<std::sync::Arc<str>>,
    /// Fields without a role.
    pub extras: Extras,
    /// What the source's document type column says the invoice is (a mapping's
    /// `document_type`); `None` when the source has none (the sign decides).
    pub typed_as: Option<TypedAs>,
}

/// A document kind that a source states in a column of its own (a mapping's `document_type`:
/// `RE` invoice, `GU` credit note), held against the invoice's sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedAs {
    /// An invoice: its total is not negative.
    Invoice,
    /// A credit note: its total is not positive.
    CreditNote,
}

/// Totals a header may carry.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HeaderTotals {
    /// Total incl. tax.
    pub amount: Option<Decimal>,
    /// Total without tax (lines less discounts plus charges), when a (legacy) source gives it.
    pub net: Option<Decimal>,
    /// Total tax.
    pub tax: Option<Decimal>,
    /// Total charges.
    pub charge: Option<Decimal>,
    /// Total discount.
    pub discount: Option<Decimal>,
}

/// How an invoice line points to its header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HeaderRef {
    /// By invoice number (sales invoices); the lines of one invoice typed together share it.
    Number(std::sync::Arc<str>),
    /// By the header's record id (free-text invoices: ParentRecId).
    RecordId(i64),
}

/// An invoice line as read and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceLine {
    /// Where the row came from.
    pub origin: Origin,
    /// The entity it was read as (shared by every row of the entity).
    pub entity: Name,
    /// Company (dataAreaId).
    pub legal_entity: std::sync::Arc<str>,
    /// Its header.
    pub header: HeaderRef,
    /// Invoice date repeated on the line (checked against the header).
    pub invoice_date: Option<Date>,
    /// Line number (LineCreationSequenceNumber, or the free-text LineNumber).
    pub line_number: Decimal,
    /// Invoiced quantity (BT-129); negative on credit notes.
    pub quantity: Decimal,
    /// Unit price (BT-146).
    pub unit_price: Decimal,
    /// Price unit: the quantity the price is for (BT-149); 1 when absent.
    pub price_unit: Decimal,
    /// Discount per unit, taken off the price.
    pub discount_per_unit: Decimal,
    /// Discount percent of the gross line amount.
    pub discount_percent: Decimal,
    /// Line discount amount (BT-136).
    pub discount_amount: Decimal,
    /// Line charge amount (BT-141).
    pub charge_amount: Decimal,
    /// Line net amount as the source gives it (checked against the computed one).
    pub line_amount: Option<Decimal>,
    /// Line tax as the source gives it.
    pub line_tax: Option<Decimal>,
    /// Tax rate as the source gives it.
    pub tax_rate: Option<Decimal>,
    /// Tax code given directly by the source.
    pub tax_code: Option<std::sync::Arc<str>>,
    /// Sales tax group.
    pub tax_group: Option<std::sync::Arc<str>>,
    /// Item sales tax group.
    pub item_tax_group: Option<std::sync::Arc<str>>,
    /// Unit of measure.
    pub unit: Option<std::sync::Arc<str>>,
    /// Main account (free-text lines).
    pub main_account: Option<std::sync::Arc<str>>,
    /// Currency repeated on the line (checked against the header).
    pub currency: Option<Currency>,
    /// Fields without a role, and the line's free texts ([`Slot`]: item id and name,
    /// description, distribution).
    pub extras: Extras,
}

impl InvoiceLine {
    /// Item number.
    pub fn item_id(&self) -> Option<&str> {
        self.extras.slot(Slot::ItemId)
    }

    /// Item name (BT-153).
    pub fn item_name(&self) -> Option<&str> {
        self.extras.slot(Slot::ItemName)
    }

    /// Description (BT-154).
    pub fn description(&self) -> Option<&str> {
        self.extras.slot(Slot::Description)
    }

    /// Distribution of the line amount over main accounts by percent, `401100=60;401200=40`
    /// (free-text lines).
    pub fn distribution(&self) -> Option<&str> {
        self.extras.slot(Slot::Distribution)
    }

    /// Line net amount per EN 16931 (BT-131): quantity × (price − discount per unit) ÷ price
    /// unit, less the percentage discount and the discount amount, plus the charge, rounded
    /// once with [`round_money`].
    ///
    /// Fails with [`Overflow`] when an intermediate or the result leaves [`AMOUNT_LIMIT`].
    pub fn net_amount(&self, currency: Currency) -> Result<Decimal, Overflow> {
        use checked::{add, bounded, div, mul, sub};
        // The arithmetic of [`InvoiceLine::net_amount_full`], without the steps that change
        // neither value nor scale (the usual line has no price unit, per-unit or percentage
        // discount): division is the costly step.
        let zero_within = |d: Decimal, scale: u32| d.is_zero() && d.scale() <= scale;
        let price = if zero_within(self.discount_per_unit, self.unit_price.scale()) {
            self.unit_price
        } else {
            sub(self.unit_price, self.discount_per_unit)?
        };
        let amount = mul(self.quantity, price)?;
        let gross = bounded(if self.price_unit_is_one() { amount } else { div(amount, self.price_unit)? })?;
        let net = if zero_within(self.discount_percent, 0) {
            gross
        } else {
            sub(gross, div(mul(gross, self.discount_percent)?, Decimal::ONE_HUNDRED)?)?
        };
        let net = add(sub(net, self.discount_amount)?, self.charge_amount)?;
        bounded(round_money(bounded(net)?, currency))
    }

    /// Whether dividing by the price unit changes neither value nor scale: a price unit of 1 as
    /// written (scale 0), or none (0 stands for 1).
    pub fn price_unit_is_one(&self) -> bool {
        self.price_unit.is_zero() || (self.price_unit.mantissa() == 1 && self.price_unit.scale() == 0)
    }

    /// [`InvoiceLine::net_amount`] computed step by step, every step taken: what the shortcuts
    /// there must equal, value and scale.
    pub fn net_amount_full(&self, currency: Currency) -> Result<Decimal, Overflow> {
        use checked::{add, bounded, div, mul, sub};
        let price_unit = if self.price_unit.is_zero() { Decimal::ONE } else { self.price_unit };
        let gross = bounded(div(mul(self.quantity, sub(self.unit_price, self.discount_per_unit)?)?, price_unit)?)?;
        let percent = div(mul(gross, self.discount_percent)?, Decimal::ONE_HUNDRED)?;
        let net = add(sub(sub(gross, percent)?, self.discount_amount)?, self.charge_amount)?;
        bounded(round_money(bounded(net)?, currency))
    }

    /// The net amount's formula with the line's values, for messages.
    pub fn formula(&self) -> String {
        format!(
            "{} × ({} − {}) ÷ {} − {}% − {} + {}",
            self.quantity,
            self.unit_price,
            self.discount_per_unit,
            self.price_unit,
            self.discount_percent,
            self.discount_amount,
            self.charge_amount
        )
    }

    /// The field name role of the line's largest input, to name in an overflow reject.
    pub fn largest_input(&self) -> crate::entity::Role {
        use crate::entity::Role;
        let price_unit_inverse = if self.price_unit.is_zero() {
            Decimal::ZERO
        } else {
            Decimal::ONE.checked_div(self.price_unit).unwrap_or(Decimal::MAX)
        };
        [
            (Role::Quantity, self.quantity),
            (Role::UnitPrice, self.unit_price),
            (Role::PriceUnit, price_unit_inverse),
            (Role::DiscountPerUnit, self.discount_per_unit),
            (Role::DiscountPercent, self.discount_percent),
            (Role::DiscountAmount, self.discount_amount),
            (Role::ChargeAmount, self.charge_amount),
        ]
        .into_iter()
        .max_by(|a, b| a.1.abs().cmp(&b.1.abs()))
        .map(|(r, _)| r)
        .unwrap_or(Role::Quantity)
    }
}

/// Parses an account distribution `401100=60;401200=40` into (account, percent) pairs whose
/// percents are positive and add up to 100.
pub fn parse_distribution(text: &str) -> Result<Vec<(Box<str>, Decimal)>, String> {
    let mut out = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (acc, pct) = part.split_once('=').ok_or_else(|| format!("`{part}` is not ACCOUNT=PERCENT"))?;
        let pct: Decimal =
            pct.trim().trim_end_matches('%').parse().map_err(|_| format!("`{pct}` in `{part}` is not a percent"))?;
        if pct <= Decimal::ZERO || acc.trim().is_empty() {
            return Err(format!("`{part}` needs an account and a percent above 0"));
        }
        out.push((acc.trim().into(), pct));
    }
    let sum: Decimal = out.iter().map(|(_, p)| *p).sum();
    if sum != Decimal::ONE_HUNDRED {
        return Err(format!("the percents add up to {sum}, not 100"));
    }
    Ok(out)
}

/// A validated invoice: its header and lines, with each line's tax and the VAT rounding that
/// reproduces the source's totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    /// The header.
    pub header: InvoiceHeader,
    /// The lines, in line-number order.
    pub lines: Vec<InvoiceLine>,
    /// The tax of every line (same order as `lines`).
    pub taxes: Vec<totals::LineTax>,
    /// How VAT is rounded for this document.
    pub rounding: totals::RoundingPolicy,
    /// Rows that are this same invoice (or its lines) through another entity of the same
    /// documents, counted with it: unchanged when it is accepted, rejected with it.
    pub copies: Vec<Origin>,
    /// The totals as validation computed them (with `rounding`, lines in this order), kept so
    /// that posting does not compute them again; `None` when they are to be computed.
    pub computed: Option<Box<totals::Totals>>,
}

impl Invoice {
    /// The document's totals (an [`Overflow`] when they leave [`AMOUNT_LIMIT`]; validation
    /// rejects such invoices, so an accepted one always has totals): the ones validation kept,
    /// taken, or computed.
    pub fn take_totals(&mut self) -> Result<totals::Totals, Overflow> {
        match self.computed.take() {
            Some(t) => {
                // Debug builds (every test) hold the kept totals to a fresh computation.
                debug_assert_eq!(
                    Ok(&*t),
                    totals::compute(&self.header, &self.lines, &self.taxes, self.rounding).as_ref()
                );
                Ok(*t)
            }
            None => totals::compute(&self.header, &self.lines, &self.taxes, self.rounding),
        }
    }

    /// Whether this is a credit note: its total without VAT is below zero (false when its
    /// totals overflow, which validation rejects).
    pub fn is_credit_note(&self) -> bool {
        let net = || -> Result<Decimal, Overflow> {
            let lines = match &self.computed {
                // The sum of the line nets, which are rounded to the currency: rounding the sum
                // keeps its value.
                Some(t) => {
                    debug_assert_eq!(checked::sum(t.line_nets.iter().copied()), Ok(t.line_total));
                    t.line_total
                }
                None => self
                    .lines
                    .iter()
                    .try_fold(Decimal::ZERO, |sum, l| checked::add(sum, l.net_amount(self.header.currency)?))?,
            };
            checked::add(
                checked::sub(lines, self.header.totals.discount.unwrap_or_default())?,
                self.header.totals.charge.unwrap_or_default(),
            )
        };
        net().is_ok_and(|n| n < Decimal::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// Money rounds to the currency's decimals, half away from zero, zero without a sign; an
    /// amount with those decimals already comes back as it is.
    #[test]
    fn money_has_the_currency_decimals_and_no_negative_zero() {
        let (eur, jpy, bhd) = (
            Currency::from_code("EUR").unwrap(),
            Currency::from_code("JPY").unwrap(),
            Currency::from_code("BHD").unwrap(),
        );
        let cases = [
            ("12.34", eur, "12.34"),
            ("-12.34", eur, "-12.34"),
            ("12.345", eur, "12.35"),
            ("-12.345", eur, "-12.35"),
            ("12.344999", eur, "12.34"),
            ("5", eur, "5.00"),
            ("-0.004", eur, "0.00"),
            ("0", jpy, "0"),
            ("12.5", jpy, "13"),
            ("-12.5", jpy, "-13"),
            ("1.0005", bhd, "1.001"),
            ("1.000", bhd, "1.000"),
        ];
        for (amount, cur, want) in cases {
            let r = round_money(d(amount), cur);
            assert_eq!((r.to_string(), r.is_sign_negative()), (want.to_string(), want.starts_with('-')), "{amount}");
        }
        // A negative zero with the currency's decimals loses its sign.
        let mut neg_zero = Decimal::new(0, 2);
        neg_zero.set_sign_negative(true);
        assert!(neg_zero.is_sign_negative());
        let r = round_money(neg_zero, eur);
        assert_eq!((r.to_string(), r.is_sign_negative()), ("0.00".to_string(), false));
    }

    #[test]
    fn net_amount_shortcuts_equal_every_step_taken() {
        let cur = Currency::from_code("EUR").unwrap();
        let jpy = Currency::from_code("JPY").unwrap();
        let mut checked = 0;
        for q in ["3", "2.5", "-1", "0.001"] {
            for p in ["19.99", "7", "1234.5678"] {
                for per_unit in ["0", "0.00", "0.0000000", "0.5"] {
                    for unit in ["0", "1", "1.00", "100", "12"] {
                        for pct in ["0", "0.000", "10", "2.5"] {
                            for amount in ["0", "0.00", "1.25"] {
                                let mut l = line(q, p);
                                l.discount_per_unit = d(per_unit);
                                l.price_unit = d(unit);
                                l.discount_percent = d(pct);
                                l.discount_amount = d(amount);
                                for c in [cur, jpy] {
                                    let (fast, full) = (l.net_amount(c).unwrap(), l.net_amount_full(c).unwrap());
                                    assert_eq!(
                                        (fast.to_string(), fast.scale()),
                                        (full.to_string(), full.scale()),
                                        "{q} × ({p} − {per_unit}) ÷ {unit} − {pct}% − {amount}"
                                    );
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 3 * 4 * 5 * 4 * 3 * 2);
    }

    fn line(q: &str, p: &str) -> InvoiceLine {
        InvoiceLine {
            origin: Origin { file: 0, line: 2, record: 1 },
            entity: "BusinessDocumentSalesInvoiceLineItem",
            legal_entity: "DEMF".into(),
            header: HeaderRef::Number("1".into()),
            invoice_date: None,
            line_number: Decimal::ONE,
            quantity: d(q),
            unit_price: d(p),
            price_unit: Decimal::ONE,
            discount_per_unit: Decimal::ZERO,
            discount_percent: Decimal::ZERO,
            discount_amount: Decimal::ZERO,
            charge_amount: Decimal::ZERO,
            line_amount: None,
            line_tax: None,
            tax_rate: None,
            tax_code: None,
            tax_group: None,
            item_tax_group: None,
            unit: None,
            main_account: None,
            currency: None,
            extras: Default::default(),
        }
    }

    #[test]
    fn net_amount_rounds_once_half_away_from_zero() {
        let eur = Currency::from_code("EUR").unwrap();
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(line("3", "0.125").net_amount(eur), Ok(d("0.38")));
        assert_eq!(line("-3", "0.125").net_amount(eur), Ok(d("-0.38")));
        assert_eq!(line("3", "333.5").net_amount(jpy), Ok(d("1001")));
        let mut l = line("10", "12.50");
        l.price_unit = d("100");
        l.discount_percent = d("10");
        l.charge_amount = d("1");
        // 10 × 12.50 / 100 = 1.25; −10 % = 1.125; +1 = 2.125 → 2.13
        assert_eq!(l.net_amount(eur), Ok(d("2.13")));
    }

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        for t in [
            "0",
            "0.00",
            "-0.00",
            "1",
            "-1",
            "0.05",
            "-0.005",
            "1234.5600",
            "100",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "0.0000000000000000000000000001",
            "10.000",
            "-10",
            "18446744073709551615",
            "10000000000000000000",
            "-1234567890.1234567890",
            "99",
            "-0.99",
            "1000000",
            "123456789012345678",
            "10.05",
            "1844674407370955161.6",
            "-18446744073709551616",
            "0.18446744073709551616",
            "-0.0000000000000000000000000001",
        ] {
            let d = d(t);
            let mut s = String::new();
            write_decimal(&mut s, d);
            assert_eq!(s, d.to_string(), "{t}");
        }
    }

    #[test]
    fn amounts_beyond_the_limit_are_an_overflow_not_a_panic() {
        use crate::entity::Role;
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(AMOUNT_LIMIT, d("100000000000000000000000000"));
        // Quantity × price beyond what a decimal holds.
        let big = line("99999999999999999999999999.99", "1000");
        assert_eq!(big.net_amount(eur), Err(Overflow));
        assert_eq!(big.largest_input(), Role::Quantity);
        // Within a decimal, beyond the limit.
        assert_eq!(line("100000000000000", "1000000000000").net_amount(eur), Err(Overflow));
        assert_eq!(line("99999999999999", "1000000000000").net_amount(eur), Ok(d("99999999999999000000000000.00")));
        // A tiny price unit multiplies.
        let mut l = line("1000000", "100000000000000000000");
        l.price_unit = d("0.000001");
        assert_eq!(l.net_amount(eur), Err(Overflow));
        assert_eq!(l.largest_input(), Role::UnitPrice);
        // 10 × 26 nines % is within the limit; 10,000 × 26 nines % is not.
        let mut l = line("1", "10");
        l.discount_percent = d("99999999999999999999999999");
        assert_eq!(l.net_amount(eur), Ok(d("-9999999999999999999999989.90")));
        l.quantity = d("1000");
        assert_eq!(l.net_amount(eur), Err(Overflow));
        assert_eq!(l.largest_input(), Role::DiscountPercent);
    }

    #[test]
    fn the_quick_answers_on_decimals_are_the_long_ones() {
        use checked::bounded;
        for (t, within) in [
            ("0", true),
            ("-18446744073709551615", true),
            ("99999999999999999999999999.99", true),
            ("-9999999999999999999999999.999", true),
            ("100000000000000000000000000", false),
            ("-100000000000000000000000000.0", false),
            ("0.0000000000000000000000000001", true),
        ] {
            assert_eq!(bounded(d(t)).is_ok(), within, "{t}");
        }
        for (a, b, same) in
            [("1", "1.00", true), ("1.50", "1.5", true), ("1.5", "1.50", true), ("19", "7", false), ("-0", "0", true)]
        {
            assert_eq!(same_value(d(a), d(b)), same, "{a} {b}");
            assert_eq!(same_value(d(a), d(b)), d(a) == d(b), "{a} {b}");
        }
    }
}
