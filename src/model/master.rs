//! Master data: the legal entities (sellers), customers (buyers), sales tax setup, terms of
//! payment, exchange rates, posting setup and number sequences that invoices refer to.

use std::collections::{BTreeMap, BTreeSet};

/// The master data's maps: keyed by codes of the master files, looked up for every line (Fx
/// hashing: no need for SipHash's defence against crafted keys in a batch run).
type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;

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
    pub code: super::Name,
    pub name: Option<String>,
    /// Percent.
    pub rate: Decimal,
    /// EN 16931 VAT category (S, Z, E, AE, K, G, O, L, M).
    pub category: super::Name,
    pub exemption_reason_code: Option<String>,
    pub exemption_reason: Option<String>,
    pub payable_account: super::Name,
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
    /// The cash discount the terms carry.
    pub cash_discount: Option<CashDiscount>,
}

/// A cash discount: `percent` off the amount due when paid within `days` and `months` of the
/// invoice date.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct CashDiscount {
    pub code: String,
    pub description: Option<String>,
    pub percent: Decimal,
    pub days: i32,
    pub months: i32,
}

impl CashDiscount {
    /// The last day of the discount for an invoice of `date`: the months first (the day kept,
    /// or the month's last day when it has fewer), then the days.
    pub fn date(&self, date: super::Date) -> super::Date {
        let (y, m, d) = date.ymd();
        let total = y as i64 * 12 + (m as i64 - 1) + self.months as i64;
        let (ny, nm) = (total.div_euclid(12) as i32, total.rem_euclid(12) as u32 + 1);
        let shifted = (1..=d).rev().find_map(|day| super::Date::from_ymd(ny, nm, day)).unwrap_or(date);
        shifted.add_days(self.days)
    }

    /// The discount on `amount` (the amount due, VAT included), rounded to `currency`'s minor
    /// unit half away from zero: the one rounding of a cash discount.
    pub fn amount(&self, amount: Decimal, currency: super::Currency) -> Decimal {
        super::round_money(amount * self.percent / Decimal::ONE_HUNDRED, currency)
    }
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
    pub main_account: super::Name,
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
    pub cash_discounts: HashMap<String, CashDiscount>,
    pub exchange_rates: Vec<ExchangeRate>,
    pub posting_setup: Vec<PostingSetup>,
    pub number_sequences: Vec<NumberSequence>,
    /// `posting_setup` indexed (see [`MasterData::index_posting_setup`]).
    pub posting_index: PostingIndex,
    /// Customers whose master row was rejected, with why (`line 13, field.identifier`): an
    /// invoice for one says so rather than that the customer is unknown.
    pub rejected_customers: HashMap<String, String>,
    /// Terms of payment whose master row was rejected, and why (line and rule), so that an
    /// invoice naming them says so rather than that they do not exist.
    pub rejected_payment_terms: HashMap<String, String>,
}

/// The rows of the posting setup by (posting type, account code, relation) and by (posting
/// type, account code), in row order: posting looks an account up for every line, and a real
/// setup has a row per item or group (thousands), which a scan per line would walk each time.
#[derive(Debug, Clone, Default)]
pub struct PostingIndex {
    /// How many rows were indexed (an index of another length is not used).
    rows: usize,
    by_relation: rustc_hash::FxHashMap<u64, Vec<u32>>,
    by_code: rustc_hash::FxHashMap<u64, Vec<u32>>,
}

fn posting_hash(ty: &str, code: &str, relation: Option<Option<&str>>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    (ty, code, relation).hash(&mut h);
    h.finish()
}

impl MasterData {
    /// Indexes the posting setup (called once its rows are loaded).
    pub fn index_posting_setup(&mut self) {
        let mut index = PostingIndex { rows: self.posting_setup.len(), ..PostingIndex::default() };
        for (i, r) in self.posting_setup.iter().enumerate() {
            let (ty, code) = (r.posting_type.as_str(), r.account_code.as_str());
            index.by_relation.entry(posting_hash(ty, code, Some(r.relation.as_deref()))).or_default().push(i as u32);
            index.by_code.entry(posting_hash(ty, code, None)).or_default().push(i as u32);
        }
        self.posting_index = index;
    }

    /// The first posting setup row of a posting type and account code, with this relation
    /// (`Some`) or any (`None`).
    pub fn posting_row(&self, ty: &str, code: &str, relation: Option<Option<&str>>) -> Option<&PostingSetup> {
        let fits = |r: &&PostingSetup| {
            r.posting_type == ty && r.account_code == code && relation.is_none_or(|rel| r.relation.as_deref() == rel)
        };
        let index = &self.posting_index;
        if index.rows != self.posting_setup.len() {
            return self.posting_setup.iter().find(fits);
        }
        let map = if relation.is_some() { &index.by_relation } else { &index.by_code };
        map.get(&posting_hash(ty, code, relation))?.iter().map(|&i| &self.posting_setup[i as usize]).find(fits)
    }

    /// The one tax code that a sales tax group and an item sales tax group share, or a
    /// sentence saying why there is none.
    pub fn resolve_tax(&self, group: &str, item_group: &str) -> Result<&TaxCode, String> {
        let g = self.tax_groups.get(group).ok_or_else(|| format!("sales tax group {group} is not in SalesTaxGroup"))?;
        let ig = self
            .item_tax_groups
            .get(item_group)
            .ok_or_else(|| format!("item sales tax group {item_group} is not in ItemSalesTaxGroup"))?;
        // The first two codes both groups have (one is the answer; a list only for the message).
        let mut common = g.intersection(ig);
        match (common.next(), common.next()) {
            (Some(one), None) => {
                self.tax_codes.get(one.as_str()).ok_or_else(|| format!("tax code {one} is not in SalesTaxCode"))
            }
            (None, _) => {
                Err(format!("sales tax group {group} and item sales tax group {item_group} share no tax code"))
            }
            (Some(a), Some(b)) => {
                let many: Vec<&str> = [a, b].into_iter().chain(common).map(String::as_str).collect();
                Err(format!(
                    "sales tax group {group} and item sales tax group {item_group} share {} tax codes ({}); exactly one is needed",
                    many.len(),
                    many.join(", ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tax_code_of_two_groups_is_the_one_they_share() {
        let mut md = MasterData::default();
        let set = |codes: &[&str]| codes.iter().map(|c| c.to_string()).collect::<BTreeSet<String>>();
        md.tax_groups.insert("DOM".into(), set(&["V19", "V7", "V0"]));
        md.item_tax_groups.insert("FULL".into(), set(&["V19"]));
        md.item_tax_groups.insert("NONE".into(), set(&["X"]));
        md.item_tax_groups.insert("BOTH".into(), set(&["V7", "V0", "V19"]));
        let code = TaxCode {
            code: "V19",
            name: None,
            rate: Decimal::from(19),
            category: "S",
            exemption_reason_code: None,
            exemption_reason: None,
            payable_account: "1776",
        };
        md.tax_codes.insert("V19".into(), code);
        assert_eq!(md.resolve_tax("DOM", "FULL").map(|t| t.code), Ok("V19"));
        assert_eq!(
            md.resolve_tax("DOM", "NONE").unwrap_err(),
            "sales tax group DOM and item sales tax group NONE share no tax code"
        );
        assert_eq!(
            md.resolve_tax("DOM", "BOTH").unwrap_err(),
            "sales tax group DOM and item sales tax group BOTH share 3 tax codes (V0, V19, V7); exactly one is needed"
        );
        assert_eq!(md.resolve_tax("EU", "FULL").unwrap_err(), "sales tax group EU is not in SalesTaxGroup");
    }

    #[test]
    fn a_cash_discount_adds_months_then_days_and_rounds_once() {
        let c = |days, months| CashDiscount {
            code: "X".into(),
            description: None,
            percent: Decimal::new(25, 1),
            days,
            months,
        };
        let d = |y, m, d| crate::model::Date::from_ymd(y, m, d).unwrap();
        assert_eq!(c(14, 0).date(d(2024, 2, 20)), d(2024, 3, 5));
        // A month later than 31 January is the last day of February (a leap year's 29th).
        assert_eq!(c(0, 1).date(d(2024, 1, 31)), d(2024, 2, 29));
        assert_eq!(c(10, 13).date(d(2023, 12, 31)), d(2025, 2, 10));
        let eur = crate::model::Currency::from_code("EUR").unwrap();
        let jpy = crate::model::Currency::from_code("JPY").unwrap();
        // 2.5 % of 684.94 = 17.1235 → 17.12; of 1,001 yen = 25.025 → 25.
        assert_eq!(c(14, 0).amount(Decimal::new(68494, 2), eur).to_string(), "17.12");
        assert_eq!(c(14, 0).amount(Decimal::from(1001), jpy).to_string(), "25");
        // 2.5 % of 0.20 = 0.005: half away from zero.
        assert_eq!(c(14, 0).amount(Decimal::new(20, 2), eur).to_string(), "0.01");
    }

    #[test]
    fn the_posting_index_finds_the_rows_a_scan_finds() {
        let mut md = MasterData::default();
        let rows = [
            ("Revenue", "Table", Some("ITEM-1"), "4001"),
            ("Revenue", "Group", Some("FULL"), "4002"),
            ("Revenue", "All", Some("odd"), "4003"),
            ("Revenue", "All", None, "4004"),
            ("SalesTax", "All", None, "1776"),
            ("Revenue", "Table", Some("ITEM-2"), "4005"),
        ];
        for (ty, code, rel, acc) in rows {
            md.posting_setup.push(PostingSetup {
                posting_type: ty.into(),
                account_code: code.into(),
                relation: rel.map(Into::into),
                main_account: acc,
            });
        }
        let questions: Vec<(&str, &str, Option<Option<&str>>)> = [
            ("Revenue", "Table", Some(Some("ITEM-1"))),
            ("Revenue", "Table", Some(Some("ITEM-2"))),
            ("Revenue", "Table", Some(Some("ITEM-3"))),
            ("Revenue", "Group", Some(Some("FULL"))),
            ("Revenue", "All", None),
            ("Revenue", "All", Some(None)),
            ("SalesTax", "All", None),
            ("Discount", "All", None),
        ]
        .into();
        // Not indexed yet: the rows are scanned.
        let scanned: Vec<Option<String>> =
            questions.iter().map(|&(t, c, r)| md.posting_row(t, c, r).map(|p| p.main_account.to_string())).collect();
        md.index_posting_setup();
        let indexed: Vec<Option<String>> =
            questions.iter().map(|&(t, c, r)| md.posting_row(t, c, r).map(|p| p.main_account.to_string())).collect();
        assert_eq!(scanned, indexed);
        let want = [Some("4001"), Some("4005"), None, Some("4002"), Some("4003"), Some("4004"), Some("1776"), None];
        assert_eq!(indexed, want.map(|w| w.map(String::from)));
        // A row added after indexing is found again (the index no longer fits and is not used).
        md.posting_setup.push(PostingSetup {
            posting_type: "Discount".into(),
            account_code: "All".into(),
            relation: None,
            main_account: "7001",
        });
        assert_eq!(md.posting_row("Discount", "All", None).map(|p| p.main_account), Some("7001"));
    }
}
