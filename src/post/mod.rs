//! Posting: a validated invoice → its totals, the ledger voucher (balanced in transaction and
//! accounting currency) and the customer's open item. Pure computation, no I/O: numbers
//! (invoice and voucher) are drawn by the store when it commits, in input order.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::master::MasterData;
use crate::model::totals::Totals;
use crate::model::{checked, parse_distribution, round_money, Currency, Date, Invoice, Overflow};
use crate::validate::{Reject, Rule};

/// Whether to check credit limits when posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CreditLimitCheck {
    /// No check.
    #[default]
    None,
    /// The customer's open balance plus the invoice must stay within the credit limit.
    Balance,
}

/// How much detail a voucher's ledger entries keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LedgerDetail {
    /// One entry per invoice line, tax code, charge and discount.
    #[default]
    Line,
    /// D365's summarised voucher: entries with the same main account, posting type and tax
    /// code added into one (the revenue of an invoice's lines on one account is one entry).
    Summary,
}

/// Posting options (the AR parameters of D365 that matter here).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostingOptions {
    /// VAT rounding for documents whose source gives no tax total (`document` or `line`).
    pub rounding: crate::model::totals::RoundingPolicy,
    /// Post zero-priced lines to revenue with 0.00 (D365 "Post to Revenue account for zero
    /// priced … lines"); otherwise they get no ledger line.
    pub zero_price_to_revenue: bool,
    /// Renumber lines 1, 2, 3 … when posting (D365 "Assign sequential line numbers").
    pub sequential_line_numbers: bool,
    /// Credit limit check.
    pub credit_limit: CreditLimitCheck,
    /// Credit correction (storno): credit notes keep the original side with negative amounts.
    pub credit_correction: bool,
    /// Compute and report, post nothing, change no state.
    pub pro_forma: bool,
    /// Accept credit notes whose original invoice is neither in the store nor in the import
    /// (a migration that starts mid-history); they are counted in the summary.
    pub originals_outside_store: bool,
    /// Ledger entries per line (`line`) or summarised per account (`summary`).
    pub ledger_detail: LedgerDetail,
}

impl Default for PostingOptions {
    fn default() -> Self {
        PostingOptions {
            rounding: Default::default(),
            zero_price_to_revenue: true,
            sequential_line_numbers: false,
            credit_limit: CreditLimitCheck::None,
            credit_correction: false,
            pro_forma: false,
            originals_outside_store: false,
            ledger_detail: LedgerDetail::Line,
        }
    }
}

/// What a ledger line posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PostingType {
    /// The customer's summary account (accounts receivable).
    CustomerBalance,
    /// Revenue per line.
    Revenue,
    /// Sales tax payable per tax code.
    SalesTax,
    /// Document charges.
    Charges,
    /// Document discounts.
    Discount,
    /// Rounding difference from currency conversion.
    PennyDifference,
}

impl PostingType {
    /// The name as in PostingSetup and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            PostingType::CustomerBalance => "CustomerBalance",
            PostingType::Revenue => "Revenue",
            PostingType::SalesTax => "SalesTax",
            PostingType::Charges => "Charges",
            PostingType::Discount => "Discount",
            PostingType::PennyDifference => "PennyDifference",
        }
    }
}

/// A party of an e-invoice as it was when the invoice was posted (posted documents keep the
/// addresses they were issued with).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Party {
    pub name: String,
    pub vat_id: Option<String>,
    pub tax_registration_id: Option<String>,
    pub legal_id: Option<String>,
    pub endpoint: Option<String>,
    pub endpoint_scheme: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub contact_phone: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
}

/// Seller, buyer and payment details of a posted invoice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Parties {
    pub seller: Party,
    pub buyer: Party,
    /// Buyer account.
    pub customer: String,
    /// The buyer's reference from the customer master (e.g. a Leitweg-ID).
    #[serde(default)]
    pub buyer_reference: Option<String>,
    /// UNCL4461 payment means code.
    pub payment_means: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    /// Payment terms text (BT-20).
    pub terms: Option<String>,
}

/// One ledger line of a voucher. Amounts are signed: debit positive, credit negative.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerLine {
    /// What it posts.
    pub posting_type: PostingType,
    /// Main account: a name of the master data, or the line's own account.
    pub account: std::borrow::Cow<'static, str>,
    /// Amount in the invoice currency.
    pub amount: Decimal,
    /// Amount in the accounting currency.
    pub amount_acc: Decimal,
    /// Credit side (a storno keeps the original side with the opposite sign).
    pub is_credit: bool,
    /// Tax code of a sales tax line.
    pub tax_code: Option<crate::model::Name>,
    /// Invoice line of a revenue line.
    pub line_number: Option<Decimal>,
}

/// A posted invoice: everything the store writes, but its numbers.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The invoice (lines renumbered when sequential line numbers are on).
    pub invoice: Invoice,
    /// Its totals.
    pub totals: Totals,
    /// Credit note (total below zero).
    pub credit_note: bool,
    /// The legal entity's accounting currency.
    pub accounting_currency: Currency,
    /// Invoice currency → accounting currency rate used.
    pub rate: Decimal,
    /// Due date of the open item.
    pub due_date: Date,
    /// Voucher lines; they add up to zero in both currencies.
    pub ledger: Vec<LedgerLine>,
    /// Which number sequence the invoice draws from when it has no number.
    pub sequence: &'static str,
    /// Hash of the business content, to recognise an unchanged re-import (empty in a pro
    /// forma run, which stores nothing to compare).
    pub content_hash: String,
    /// The legacy hash of the source content, when line numbers were changed by posting
    /// (else [`Posted::legacy_hash`] computes it from the invoice).
    pub legacy_hash: Option<String>,
    /// Seller, buyer, payment (shared by the invoices of one customer).
    pub parties: std::sync::Arc<Parties>,
    /// The parties as JSON, as the store keeps them: written when first asked for (a pro
    /// forma run never does), once for all the invoices that share them.
    parties_json: PartiesJson,
    /// Exemption reason (code, text) of every VAT group, in the order of `totals.groups`.
    pub exemptions: Vec<(Option<String>, Option<String>)>,
    /// VAT total in the accounting currency (what the ledger's tax lines hold).
    pub vat_total_acc: Decimal,
    /// The cash discount of the open item (an invoice whose terms carry one): its last day
    /// and its amount in the document currency (`percent` of the amount due, rounded once).
    pub cash_discount: Option<CashDiscountDue>,
}

/// A cash discount an open item grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CashDiscountDue {
    /// The last day it may be taken.
    pub date: Date,
    /// The discount, in the document currency.
    pub amount: Decimal,
    /// Its percent.
    pub percent: Decimal,
}

impl Posted {
    /// The parties as JSON, as the store keeps them (see [`Posted::parties`]).
    pub fn parties_json(&self) -> &str {
        self.parties_json.get_or_init(|| serde_json::to_string(&*self.parties).unwrap_or_else(|_| "{}".into()))
    }

    /// The hash a store written before [`content_hash`] holds for this invoice.
    pub fn legacy_hash(&self) -> String {
        self.legacy_hash.clone().unwrap_or_else(|| legacy_content_hash(&self.invoice))
    }

    /// The customer balance line's amounts: the open item (transaction, accounting currency).
    pub fn open_item(&self) -> (Decimal, Decimal) {
        self.ledger
            .iter()
            .find(|l| l.posting_type == PostingType::CustomerBalance)
            .map(|l| (l.amount, l.amount_acc))
            .unwrap_or_default()
    }
}

/// Posting failed for an invoice: the invoice back and why.
pub type PostError = Box<(Invoice, Reject)>;

fn reject(inv: Invoice, field: Option<&str>, rule: Rule, msg: String) -> PostError {
    let r = Reject::new(inv.header.origin, field, rule, format!("{msg} — {}", rule.fix()));
    Box::new((inv, r))
}

/// The main account for a posting type: the row for the specific record (Table) first, then
/// its group (Group), then All — the lookup order of D365 posting profiles.
pub fn account(
    md: &MasterData,
    ty: PostingType,
    table: Option<&str>,
    group: Option<&str>,
) -> Option<crate::model::Name> {
    let ty = ty.as_str();
    let by = |code: &str, rel: Option<&str>| rel.and_then(|rel| md.posting_row(ty, code, Some(Some(rel))));
    by("Table", table)
        .or_else(|| by("Group", group))
        .or_else(|| md.posting_row(ty, "All", None))
        .map(|r| r.main_account)
}

/// The rate from `from` to `to` valid on `date`: the latest rate starting on or before it, or
/// the inverse of the opposite rate.
pub fn exchange_rate(md: &MasterData, from: Currency, to: Currency, date: Date) -> Option<Decimal> {
    if from == to {
        return Some(Decimal::ONE);
    }
    let find = |a: &str, b: &str| {
        md.exchange_rates
            .iter()
            .filter(|r| r.from == a && r.to == b && r.start <= date)
            .max_by_key(|r| r.start)
            .map(|r| r.rate)
    };
    find(from.code(), to.code()).or_else(|| find(to.code(), from.code()).map(|r| Decimal::ONE / r))
}

/// The terms of payment of an invoice: its own, else its customer's.
fn terms_of<'m>(inv: &Invoice, md: &'m MasterData) -> Option<&'m crate::model::master::PaymentTerms> {
    terms(md, inv.header.payment_terms.as_deref(), &inv.header.customer)
}

/// Terms of payment `given`, else those of `customer`, from the master data.
fn terms<'m>(
    md: &'m MasterData,
    given: Option<&str>,
    customer: &str,
) -> Option<&'m crate::model::master::PaymentTerms> {
    given
        .or_else(|| md.customers.get(customer).and_then(|c| c.payment_terms.as_deref()))
        .and_then(|t| md.payment_terms.get(t))
}

/// The due date: from the invoice date (or the end of its month) plus the terms' days.
pub fn due_date(inv: &Invoice, md: &MasterData) -> Date {
    if let Some(d) = inv.header.due_date {
        return d;
    }
    match terms_of(inv, md) {
        None => inv.header.date,
        Some(t) => {
            let base = if t.from_month_end {
                let (y, m, _) = inv.header.date.ymd();
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                Date::from_ymd(ny, nm, 1).map(|d| d.add_days(-1)).unwrap_or(inv.header.date)
            } else {
                inv.header.date
            };
            base.add_days(t.days)
        }
    }
}

/// A canonical rendering of values for xxh3-128: texts followed by a unit separator, numbers
/// and dates as fixed-width bytes, so that no two different sequences of values render alike.
/// The rendering is gathered in one buffer and hashed once (the same digest as feeding the
/// pieces one by one, without the streaming hasher's cost per piece).
struct Feed<'b> {
    bytes: &'b mut Vec<u8>,
    /// The entity whose shared fields were looked up last, those flags and its fields (none
    /// when it shares no field: its fields are then not looked at).
    entity: Option<(&'static str, &'static [bool], &'static [crate::entity::Field])>,
}

impl Feed<'_> {
    fn str(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0x1f);
    }
    fn opt(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.bytes.extend_from_slice(&[0x00, 0x1f]),
        }
    }
    /// An integer, as its eight bytes.
    fn int(&mut self, v: i64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    /// A decimal by value (1.50 and 1.5 alike): its normalized mantissa and scale.
    fn dec(&mut self, d: Decimal) {
        let n = d.normalize();
        let mantissa = if n.is_zero() { 0 } else { n.mantissa() };
        self.bytes.extend_from_slice(&mantissa.to_le_bytes());
        self.bytes.push(n.scale() as u8);
    }
    fn date(&mut self, d: Date) {
        self.int(i64::from(d.days_since_epoch()));
    }
    /// The fields of `extras` that every entity of the same documents has, by name.
    fn extras(&mut self, entity: &'static str, extras: &crate::model::Extras) {
        let (shared, fields) = match self.entity {
            Some((name, shared, fields)) if name == entity => (shared, fields),
            _ => {
                let Some(e) = crate::entity::Catalog::builtin().get(entity) else { return };
                let shared: &'static [bool] = if e.shared.contains(&true) { &e.shared } else { &[] };
                self.entity = Some((entity, shared, &e.fields));
                (shared, &e.fields[..])
            }
        };
        if shared.is_empty() {
            return;
        }
        for (i, v) in extras.iter() {
            let i = usize::from(i);
            if shared.get(i).copied().unwrap_or(false) {
                self.str(&fields[i].name);
                self.str(v);
            }
        }
    }
}

/// A stable hash of an invoice's business content, to recognise an identical re-import: the
/// same document gives the same hash whichever file, position or entity it came through
/// (SalesInvoiceJournalHeader or SalesInvoiceHeaderV2, its own export or the original file).
///
/// It covers what posting uses and what an export gives back: identity, dates (the effective
/// due date), parties, references, charges and discounts, every line's quantity, price, net
/// amount, charge, resolved tax, item and accounts, the VAT rounding, and the fields without a role
/// that every entity of the documents shares. It leaves out what only checks or repeats: given
/// totals and line amounts (validation compared them with the computed ones), given exchange
/// rates (posting takes the master data's), numbers and vouchers (the store compares those it
/// is given with the ones it holds). `x3:` + xxh3-128 in hex; stores written before it hold
/// [`legacy_content_hash`]es, which the store still compares.
pub fn content_hash(inv: &Invoice, due_date: Date, line_nets: &[Decimal]) -> String {
    thread_local! {
        /// The rendering's room, kept from invoice to invoice.
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BYTES.with(|b| {
        let bytes = &mut *b.borrow_mut();
        bytes.clear();
        render(&mut Feed { bytes, entity: None }, inv, due_date, line_nets);
        let hash = format!("x3:{:032x}", xxhash_rust::xxh3::xxh3_128(bytes));
        // An invoice of thousands of lines does not keep its room for the rest of the run.
        if bytes.capacity() > 1 << 20 {
            *bytes = Vec::new();
        }
        hash
    })
}

/// Renders what [`content_hash`] covers into `f`.
fn render(f: &mut Feed<'_>, inv: &Invoice, due_date: Date, line_nets: &[Decimal]) {
    let hd = &inv.header;
    f.str(&hd.legal_entity);
    match hd.document {
        crate::entity::DocumentKind::Sales => {
            f.str("sales");
            f.opt(hd.number.as_deref());
        }
        crate::entity::DocumentKind::FreeText => {
            f.str("free_text");
            f.int(hd.record_id.unwrap_or_default());
        }
    }
    f.date(hd.date);
    f.date(due_date);
    f.str(&hd.customer);
    f.str(hd.currency.code());
    for v in [
        hd.payment_terms.as_deref(),
        hd.order_reference.as_deref(),
        hd.buyer_reference.as_deref(),
        hd.sales_order.as_deref(),
        hd.original_invoice.as_deref(),
    ] {
        f.opt(v);
    }
    f.dec(hd.totals.charge.unwrap_or_default());
    f.dec(hd.totals.discount.unwrap_or_default());
    f.str(inv.rounding.as_str());
    f.extras(hd.entity, &hd.extras);
    for ((l, t), net) in inv.lines.iter().zip(&inv.taxes).zip(line_nets) {
        f.str("\u{1e}");
        // The line's amount rather than how its discounts are split: a percent in one entity
        // is a total discount amount in another.
        for d in [l.line_number, l.quantity, l.unit_price, *net, l.charge_amount, t.rate] {
            f.dec(d);
        }
        f.str(t.code);
        f.str(t.category);
        for v in [
            l.item_id(),
            l.item_name(),
            l.description(),
            l.unit.as_deref(),
            l.main_account.as_deref(),
            l.distribution(),
        ] {
            f.opt(v);
        }
        f.extras(l.entity, &l.extras);
    }
}

/// The content hash of stores written before [`content_hash`] (FNV-1a over a rendering of
/// every field as the source gave it); the store compares it with what such stores hold.
pub fn legacy_content_hash(inv: &Invoice) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |s: &str| {
        for b in s.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let o = |v: Option<&str>| v.unwrap_or("\u{0}").to_string();
    let od = |v: &Option<Decimal>| v.map(|d| d.normalize().to_string()).unwrap_or_else(|| "\u{0}".into());
    let hd = &inv.header;
    for s in [
        hd.legal_entity.to_string(),
        o(hd.number.as_deref()),
        hd.record_id.map(|r| r.to_string()).unwrap_or_default(),
        hd.date.to_string(),
        hd.customer.to_string(),
        hd.currency.code().to_string(),
        o(hd.payment_terms.as_deref()),
        hd.due_date.map(|d| d.to_string()).unwrap_or_default(),
        o(hd.order_reference.as_deref()),
        o(hd.buyer_reference.as_deref()),
        o(hd.sales_order.as_deref()),
        o(hd.original_invoice.as_deref()),
        o(hd.voucher.as_deref()),
        od(&hd.exchange_rate),
        od(&hd.totals.amount),
        od(&hd.totals.tax),
        od(&hd.totals.charge),
        od(&hd.totals.discount),
        o(hd.tax_group.as_deref()),
        o(hd.item_tax_group.as_deref()),
        inv.rounding.as_str().to_string(),
    ] {
        feed(&s);
    }
    for (i, v) in hd.extras.iter() {
        feed(&format!("{i}={v}"));
    }
    for (l, t) in inv.lines.iter().zip(&inv.taxes) {
        feed("\u{1e}");
        for s in [
            l.line_number.normalize().to_string(),
            l.quantity.normalize().to_string(),
            l.unit_price.normalize().to_string(),
            l.price_unit.normalize().to_string(),
            l.discount_per_unit.normalize().to_string(),
            l.discount_percent.normalize().to_string(),
            l.discount_amount.normalize().to_string(),
            l.charge_amount.normalize().to_string(),
            od(&l.line_amount),
            od(&l.line_tax),
            od(&l.tax_rate),
            t.code.to_string(),
            t.category.to_string(),
            t.rate.normalize().to_string(),
            o(l.item_id()),
            o(l.item_name()),
            o(l.description()),
            o(l.unit.as_deref()),
            o(l.main_account.as_deref()),
            o(l.distribution()),
            l.invoice_date.map(|d| d.to_string()).unwrap_or_default(),
        ] {
            feed(&s);
        }
        for (i, v) in l.extras.iter() {
            feed(&format!("{i}={v}"));
        }
    }
    format!("{h:016x}")
}

/// Seller, buyer and payment details from the master data: the legal entity, the customer
/// and the terms of payment (the invoice's, else the customer's). `None` when the legal
/// entity is not in the master data.
pub fn parties(md: &MasterData, legal_entity: &str, customer_id: &str, payment_terms: Option<&str>) -> Option<Parties> {
    let le = md.legal_entities.get(legal_entity)?;
    let customer = md.customers.get(customer_id);
    let terms = terms(md, payment_terms, customer_id);
    Some(Parties {
        seller: Party {
            name: le.name.clone(),
            vat_id: le.vat_number.clone(),
            tax_registration_id: le.tax_registration_id.clone(),
            legal_id: le.legal_registration_id.clone(),
            endpoint: le.electronic_address.clone(),
            endpoint_scheme: le.electronic_address_scheme.clone(),
            street: le.street.clone(),
            city: le.city.clone(),
            zip: le.zip.clone(),
            country: Some(le.country.clone()),
            contact_name: le.contact_name.clone(),
            contact_phone: le.contact_phone.clone(),
            contact_email: le.contact_email.clone(),
        },
        buyer: customer
            .map(|c| Party {
                name: c.name.clone(),
                vat_id: c.vat_id.clone(),
                tax_registration_id: None,
                legal_id: c.legal_registration_id.clone(),
                endpoint: c.electronic_address.clone(),
                endpoint_scheme: c.electronic_address_scheme.clone(),
                street: c.street.clone(),
                city: c.city.clone(),
                zip: c.zip.clone(),
                country: c.country.clone(),
                contact_name: None,
                contact_phone: None,
                contact_email: c.email.clone(),
            })
            .unwrap_or_default(),
        customer: customer_id.to_string(),
        buyer_reference: customer.and_then(|c| c.buyer_reference.clone()),
        payment_means: terms.and_then(|t| t.means_code.clone()),
        iban: le.iban.clone(),
        bic: le.bic.clone(),
        terms: terms.map(|t| t.description.clone().unwrap_or_else(|| t.name.clone())),
    })
}

/// The parties of the invoices posted in one run, built once per (legal entity, customer,
/// terms of payment) and shared.
#[derive(Default)]
pub struct PartiesCache {
    map: std::sync::Mutex<rustc_hash::FxHashMap<String, SharedParties>>,
}

/// The JSON of some parties, written when first asked for and shared (see
/// [`Posted::parties_json`]).
type PartiesJson = std::sync::Arc<std::sync::OnceLock<String>>;

/// The parties of an invoice and room for their JSON, shared by the invoices that have them.
pub type SharedParties = (std::sync::Arc<Parties>, PartiesJson);

impl PartiesCache {
    /// The parties (and room for their JSON) of an invoice; `None` when the legal entity is not in the
    /// master data.
    pub fn get(
        &self,
        md: &MasterData,
        legal_entity: &str,
        customer: &str,
        terms: Option<&str>,
    ) -> Option<SharedParties> {
        thread_local! {
            /// The key of the last look-up, its buffer reused (no allocation per invoice).
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        KEY.with(|k| {
            let mut key = k.borrow_mut();
            key.clear();
            for part in [legal_entity, "\u{1f}", customer, "\u{1f}", terms.unwrap_or("\u{0}")] {
                key.push_str(part);
            }
            if let Some(hit) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get(key.as_str()) {
                return Some(hit.clone());
            }
            let p = parties(md, legal_entity, customer, terms)?;
            let entry = (std::sync::Arc::new(p), PartiesJson::default());
            self.map.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), entry.clone());
            Some(entry)
        })
    }
}

/// Posts one invoice: totals, voucher lines in both currencies (balanced; a conversion
/// difference goes to the penny-difference account), due date.
pub fn post(inv: Invoice, md: &MasterData, opts: &PostingOptions) -> Result<Posted, PostError> {
    post_with(inv, md, opts, &PartiesCache::default())
}

/// [`post`], with the parties of a cache shared by the invoices of a run.
pub fn post_with(
    mut inv: Invoice,
    md: &MasterData,
    opts: &PostingOptions,
    cache: &PartiesCache,
) -> Result<Posted, PostError> {
    let due_date = due_date(&inv, md);
    let totals = match inv.take_totals() {
        Ok(t) => t,
        Err(e) => {
            let msg = format!("its totals cannot be computed: {e}");
            return Err(reject(inv, None, Rule::AmountOverflow, msg));
        }
    };
    // Pro forma compares nothing with a store: no hashes.
    let content_hash = if opts.pro_forma { String::new() } else { content_hash(&inv, due_date, &totals.line_nets) };
    // Stores written before the content hash changed compare the legacy one; it is computed
    // here when line numbers change below, else by the store when it needs it.
    let legacy_hash = (opts.sequential_line_numbers && !opts.pro_forma).then(|| legacy_content_hash(&inv));
    if opts.sequential_line_numbers {
        for (i, l) in inv.lines.iter_mut().enumerate() {
            l.line_number = Decimal::from(i as u64 + 1);
        }
    }
    let Some(le) = md.legal_entities.get(&*inv.header.legal_entity) else {
        let msg = format!("legal entity `{}` is not in the master data", inv.header.legal_entity);
        return Err(reject(inv, None, Rule::RefLegalEntity, msg));
    };
    let acc = le.accounting_currency;
    let cur = inv.header.currency;
    let Some(rate) = exchange_rate(md, cur, acc, inv.header.date) else {
        let msg = format!("no exchange rate {} → {} valid on {}", cur.code(), acc.code(), inv.header.date);
        return Err(reject(inv, Some("CurrencyCode"), Rule::RefExchangeRate, msg));
    };
    let same_money = acc == cur && rate.scale() == 0 && rate.mantissa() == 1;
    let credit_note = totals.tax_exclusive < Decimal::ZERO;
    let customer = md.customers.get(&*inv.header.customer);
    // A line each, the balance, a VAT line per rate, discount, charge, penny difference.
    let mut ledger: Vec<LedgerLine> = Vec::with_capacity(inv.lines.len() + totals.groups.len() + 4);
    // An amount that leaves the limit in the accounting currency (a huge exchange rate) makes
    // the invoice a reject; the ledger is not used then.
    let mut overflow = false;
    let mut push = |ty: PostingType,
                    account: std::borrow::Cow<'static, str>,
                    amount: Decimal,
                    tax: Option<crate::model::Name>,
                    line: Option<Decimal>| {
        let rounded = round_money(amount, cur);
        // At the rate 1 (scale 0: the product has the amount's scale) into the same currency,
        // the amount rounded is the one in the accounting currency too.
        let amount_acc = if same_money {
            checked::bounded(rounded)
        } else {
            checked::mul(amount, rate).and_then(|a| checked::bounded(round_money(a, acc)))
        };
        overflow |= amount_acc.is_err();
        ledger.push(LedgerLine {
            posting_type: ty,
            account,
            amount: rounded,
            amount_acc: amount_acc.unwrap_or_default(),
            is_credit: false,
            tax_code: tax,
            line_number: line,
        });
    };
    let Some(ar) = account(
        md,
        PostingType::CustomerBalance,
        Some(&inv.header.customer),
        customer.and_then(|c| c.group.as_deref()),
    ) else {
        return Err(reject(inv, None, Rule::RefPostingAccount, "no CustomerBalance account in PostingSetup".into()));
    };
    push(PostingType::CustomerBalance, ar.into(), totals.payable, None, None);
    // A line's revenue account depends on its item only when the setup has Revenue rows per
    // item (Table); else on its item sales tax group alone, the same for most lines of an
    // invoice: the last one found is kept.
    let revenue_by_item = md.posting_row(PostingType::Revenue.as_str(), "Table", None).is_some();
    let mut last_revenue: Option<(Option<&str>, crate::model::Name)> = None;
    for (i, l) in inv.lines.iter().enumerate() {
        let net = totals.line_nets[i];
        if net.is_zero() && l.unit_price.is_zero() && !opts.zero_price_to_revenue {
            continue;
        }
        if let Some(dist) = l.distribution() {
            // Validated by the distribution rule; a parse failure here cannot happen.
            let parts = parse_distribution(dist).unwrap_or_default();
            let weights: Vec<Decimal> = parts.iter().map(|(_, p)| *p).collect();
            // The shares of an amount within the limit are within it too.
            let shares = crate::model::totals::split(net, &weights, cur).unwrap_or_default();
            for ((account, _), share) in parts.iter().zip(shares) {
                push(PostingType::Revenue, account.to_string().into(), -share, None, Some(l.line_number));
            }
            continue;
        }
        let group = l.item_tax_group.as_deref().or(inv.header.item_tax_group.as_deref());
        let revenue = match l.main_account.as_deref() {
            Some(own) => Some(std::borrow::Cow::Owned(own.to_string())),
            None if revenue_by_item => {
                account(md, PostingType::Revenue, l.item_id(), group).map(std::borrow::Cow::Borrowed)
            }
            None => match last_revenue {
                Some((g, a)) if g == group => Some(std::borrow::Cow::Borrowed(a)),
                _ => {
                    let a = account(md, PostingType::Revenue, None, group);
                    last_revenue = a.map(|a| (group, a));
                    a.map(std::borrow::Cow::Borrowed)
                }
            },
        };
        let Some(revenue) = revenue else {
            let msg = format!("no Revenue account for line {} in PostingSetup", l.line_number);
            return Err(reject(inv, None, Rule::RefPostingAccount, msg));
        };
        push(PostingType::Revenue, revenue, -net, None, Some(l.line_number));
    }
    for g in &totals.groups {
        let Some(tax) = md.tax_codes.get(g.tax_code) else {
            let msg = format!("tax code {} is not in SalesTaxCode", g.tax_code);
            return Err(reject(inv, None, Rule::RefTaxCode, msg));
        };
        push(PostingType::SalesTax, tax.payable_account.into(), -g.amount, Some(g.tax_code), None);
    }
    for (ty, amount) in [(PostingType::Discount, totals.allowance_total), (PostingType::Charges, -totals.charge_total)]
    {
        if amount.is_zero() {
            continue;
        }
        let Some(a) = account(md, ty, None, None) else {
            let msg = format!("no {} account in PostingSetup", ty.as_str());
            return Err(reject(inv, None, Rule::RefPostingAccount, msg));
        };
        push(ty, a.into(), amount, None, None);
    }
    let diff = checked::sum(ledger.iter().map(|l| l.amount_acc)).and_then(checked::bounded);
    let diff = match (overflow, diff) {
        (false, Ok(d)) => d,
        _ => {
            let msg = format!(
                "its amounts in the accounting currency {} (at the rate {rate} from {}) cannot be computed: {}",
                acc.code(),
                cur.code(),
                Overflow
            );
            return Err(reject(inv, Some("CurrencyCode"), Rule::AmountOverflow, msg));
        }
    };
    if !diff.is_zero() {
        let Some(a) = account(md, PostingType::PennyDifference, None, None) else {
            let msg = format!("a conversion difference of {diff} {} needs a PennyDifference account", acc.code());
            return Err(reject(inv, None, Rule::RefPostingAccount, msg));
        };
        ledger.push(LedgerLine {
            posting_type: PostingType::PennyDifference,
            account: a.into(),
            amount: round_money(Decimal::ZERO, cur),
            amount_acc: round_money(-diff, acc),
            is_credit: false,
            tax_code: None,
            line_number: None,
        });
    }
    if opts.ledger_detail == LedgerDetail::Summary {
        ledger = summarise(ledger);
    }
    for l in &mut ledger {
        // The natural side: debit for positive amounts. A storno credit note keeps the side
        // the invoice would have used, with the opposite sign.
        let natural_credit = match l.posting_type {
            PostingType::CustomerBalance | PostingType::Discount => false,
            PostingType::PennyDifference => l.amount_acc < Decimal::ZERO,
            _ => true,
        };
        let storno = credit_note && opts.credit_correction;
        l.is_credit = if storno || (l.amount.is_zero() && l.amount_acc.is_zero()) {
            natural_credit
        } else if l.amount.is_zero() {
            l.amount_acc < Decimal::ZERO
        } else {
            l.amount < Decimal::ZERO
        };
    }
    let sequence = match (inv.header.document, credit_note) {
        (crate::entity::DocumentKind::FreeText, _) => "FreeTextInvoice",
        (_, true) => "CreditNote",
        _ => "Invoice",
    };
    let Some((parties, parties_json)) =
        cache.get(md, &inv.header.legal_entity, &inv.header.customer, inv.header.payment_terms.as_deref())
    else {
        let msg = format!("legal entity `{}` is not in the master data", inv.header.legal_entity);
        return Err(reject(inv, None, Rule::RefLegalEntity, msg));
    };
    let exemptions = totals
        .groups
        .iter()
        .map(|g| {
            let t = md.tax_codes.get(g.tax_code);
            (t.and_then(|t| t.exemption_reason_code.clone()), t.and_then(|t| t.exemption_reason.clone()))
        })
        .collect();
    let vat_total_acc = round_money(
        -ledger.iter().filter(|l| l.posting_type == PostingType::SalesTax).map(|l| l.amount_acc).sum::<Decimal>(),
        acc,
    );
    // A cash discount is granted on what an invoice asks to be paid (credit notes grant none).
    let cash_discount =
        terms_of(&inv, md).and_then(|t| t.cash_discount.as_ref()).filter(|_| totals.payable > Decimal::ZERO).map(|c| {
            CashDiscountDue { date: c.date(inv.header.date), amount: c.amount(totals.payable, cur), percent: c.percent }
        });
    Ok(Posted {
        invoice: inv,
        totals,
        credit_note,
        cash_discount,
        accounting_currency: acc,
        rate,
        due_date,
        ledger,
        sequence,
        content_hash,
        legacy_hash,
        parties,
        parties_json,
        exemptions,
        vat_total_acc,
    })
}

/// The entries of a voucher with the same posting type, main account and tax code added into
/// one, in the order each first appears; an entry that stands alone keeps its line number.
/// Amounts are rounded already: their sums are exact, so the voucher balances as before.
fn summarise(ledger: Vec<LedgerLine>) -> Vec<LedgerLine> {
    let mut out: Vec<LedgerLine> = Vec::with_capacity(ledger.len().min(8));
    for l in ledger {
        match out
            .iter_mut()
            .find(|o| o.posting_type == l.posting_type && o.account == l.account && o.tax_code == l.tax_code)
        {
            Some(o) => {
                // Within the amount limit checked before posting: cannot overflow.
                o.amount += l.amount;
                o.amount_acc += l.amount_acc;
                o.line_number = None;
            }
            None => out.push(l),
        }
    }
    out
}

#[cfg(test)]
mod tests;
