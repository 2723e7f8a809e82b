//! Master data: the legal entities (sellers), customers (buyers), sales tax setup, terms of
//! payment, exchange rates, posting setup and number sequences that invoices refer to.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rust_decimal::Decimal;

use super::{Currency, Date};

/// A legal entity (company, dataAreaId): the seller.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct LegalEntity {
    pub id: String,
    pub name: String,
    pub accounting_currency: Currency,
    pub vat_number: Option<String>,
    /// Tax registration identifier other than a VAT number (BT-32).
    pub tax_registration_id: Option<String>,
    pub legal_registration_id: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub country: String,
    pub electronic_address: Option<String>,
    pub electronic_address_scheme: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
}

/// A customer: the buyer.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Customer {
    pub account: String,
    pub name: String,
    pub group: Option<String>,
    pub invoice_account: Option<String>,
    pub currency: Option<String>,
    pub credit_limit: Option<Decimal>,
    pub payment_terms: Option<String>,
    pub tax_group: Option<String>,
    /// On hold for invoicing (OnHoldStatus Invoice or All).
    pub blocked: bool,
    pub street: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
    pub vat_id: Option<String>,
    pub electronic_address: Option<String>,
    pub electronic_address_scheme: Option<String>,
    pub legal_registration_id: Option<String>,
    /// Buyer reference for e-invoices (BT-10), e.g. a Leitweg-ID.
    pub buyer_reference: Option<String>,
}

/// A sales tax code.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct TaxCode {
    pub code: std::sync::Arc<str>,
    pub name: Option<String>,
    /// Percent.
    pub rate: Decimal,
    /// EN 16931 VAT category (S, Z, E, AE, K, G, O, L, M).
    pub category: std::sync::Arc<str>,
    pub exemption_reason_code: Option<String>,
    pub exemption_reason: Option<String>,
    pub payable_account: std::sync::Arc<str>,
}

/// Terms of payment.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct PaymentTerms {
    pub name: String,
    pub description: Option<String>,
    pub days: i32,
    pub from_month_end: bool,
    pub means_code: Option<String>,
}

/// An exchange rate valid from a date.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct ExchangeRate {
    pub from: String,
    pub to: String,
    pub start: Date,
    pub rate: Decimal,
}

/// A posting setup row.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct PostingSetup {
    pub posting_type: String,
    pub account_code: String,
    pub relation: Option<String>,
    pub main_account: std::sync::Arc<str>,
}

/// A number sequence.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct NumberSequence {
    pub legal_entity: String,
    pub reference: String,
    pub format: String,
    pub next: i64,
}

/// All master data of a run.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct MasterData {
    pub legal_entities: BTreeMap<String, LegalEntity>,
    pub customers: HashMap<String, Customer>,
    pub tax_codes: HashMap<String, TaxCode>,
    pub tax_groups: HashMap<String, BTreeSet<String>>,
    pub item_tax_groups: HashMap<String, BTreeSet<String>>,
    pub payment_terms: HashMap<String, PaymentTerms>,
    pub exchange_rates: Vec<ExchangeRate>,
    pub posting_setup: Vec<PostingSetup>,
    pub number_sequences: Vec<NumberSequence>,
}

impl MasterData {
    /// The one tax code that a sales tax group and an item sales tax group share, or a
    /// sentence saying why there is none.
    pub fn resolve_tax(&self, group: &str, item_group: &str) -> Result<&TaxCode, String> {
        let g = self.tax_groups.get(group).ok_or_else(|| format!("sales tax group {group} is not in SalesTaxGroup"))?;
        let ig = self
            .item_tax_groups
            .get(item_group)
            .ok_or_else(|| format!("item sales tax group {item_group} is not in ItemSalesTaxGroup"))?;
        let common: Vec<&String> = g.intersection(ig).collect();
        match common.as_slice() {
            [one] => self.tax_codes.get(one.as_str()).ok_or_else(|| format!("tax code {one} is not in SalesTaxCode")),
            [] => Err(format!("sales tax group {group} and item sales tax group {item_group} share no tax code")),
            many => Err(format!(
                "sales tax group {group} and item sales tax group {item_group} share {} tax codes ({}); exactly one is needed",
                many.len(),
                many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}
