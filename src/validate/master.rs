//! Master data rows (already typed) → the master data model; duplicate keys and bad codes are
//! rejects like any other row's.

use rustc_hash::FxHashMap;

use rust_decimal::Decimal;

use crate::entity::{Entity, FieldType};
use crate::model::master::*;
use crate::model::{Currency, Date};
use crate::read::Origin;

use super::field::Value;
use super::{Reject, Rule};

/// Typed access to one row by field name.
struct Row<'a> {
    entity: &'a Entity,
    values: &'a [Value<'static>],
}

impl Row<'_> {
    /// The field of that name: its index and value.
    fn field(&self, name: &str) -> Option<(usize, &Value<'static>)> {
        // Field names used below are those of the compiled-in definitions (tested).
        let i = self.entity.field_index(name)?;
        Some((i, self.values.get(i)?))
    }
    fn get(&self, name: &str) -> &Value<'static> {
        self.field(name).map_or(&Value::Empty, |(_, v)| v)
    }
    fn s(&self, name: &str) -> Option<String> {
        match self.field(name)? {
            (_, Value::Str(s)) => Some(s.to_string()),
            (_, Value::Empty) => None,
            (i, other) => Some(other.canonical(&self.entity.fields[i].ty)),
        }
    }
    /// A text field's value, borrowed (`None` when empty or not text).
    fn str(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    fn req(&self, name: &str) -> String {
        self.s(name).unwrap_or_default()
    }
    fn dec(&self, name: &str) -> Option<Decimal> {
        match self.get(name) {
            Value::Dec(d) => Some(*d),
            _ => None,
        }
    }
    fn int(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    fn date(&self, name: &str) -> Option<Date> {
        match self.get(name) {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }
    fn enum_name(&self, name: &str) -> Option<String> {
        let (i, value) = self.field(name)?;
        match (value, &self.entity.fields[i].ty) {
            (Value::Enum(v), FieldType::Enum(names)) => names.get(usize::from(*v)).cloned(),
            _ => None,
        }
    }
}

fn key_of(entity: &Entity, values: &[Value<'_>]) -> Vec<String> {
    entity.key.iter().map(|&k| values[k].canonical(&entity.fields[k].ty)).collect()
}

/// The reject of a master row whose electronic address or VAT identifier a receiving access
/// point would refuse (see [`crate::model::ident`]): a customer's or legal entity's
/// `ElectronicAddress` by its `ElectronicAddressScheme` (which must be in the EAS code list),
/// its VAT identifier (`TaxExemptNumber`, `VatNumber`) by its country prefix.
fn identifiers(r: &Row<'_>, origin: Origin) -> Option<Reject> {
    use crate::model::ident;
    let vat_field = match r.entity.name.as_str() {
        "Customer" => "TaxExemptNumber",
        "LegalEntity" => "VatNumber",
        _ => return None,
    };
    let reject = |field: &str, message: String| {
        Some(Reject::new(
            origin,
            Some(field),
            Rule::FieldIdentifier,
            format!("{message} — {}", Rule::FieldIdentifier.fix()),
        ))
    };
    if let (Some(address), Some(scheme)) = (r.str("ElectronicAddress"), r.str("ElectronicAddressScheme")) {
        // The list is sorted (a test holds it so).
        if crate::einvoice::rules::EAS.binary_search(&scheme.trim()).is_err() {
            return reject(
                "ElectronicAddressScheme",
                format!("ElectronicAddressScheme `{scheme}` is not in the EAS code list (PEPPOL-EN16931-CL008): use a code such as 0088 (GLN), 0192 (NO), 0208 (BE) or 9930 (DE VAT)"),
            );
        }
        if let Err(p) = ident::check_scheme(scheme, address, true) {
            return reject(
                "ElectronicAddress",
                format!("ElectronicAddress `{address}` (scheme {scheme}) is not {} ({})", p.expected, p.rule),
            );
        }
    }
    if let Some(vat) = r.str(vat_field) {
        if let Err(p) = ident::check_vat(vat) {
            let message = if p.rule == "BR-CO-09" {
                format!("{vat_field} `{vat}` has no country prefix (BR-CO-09): write {}", p.expected)
            } else {
                format!("{vat_field} `{vat}` does not have its country's format: {} ({})", p.expected, p.rule)
            };
            return reject(vat_field, message);
        }
    }
    None
}

/// The reject of a sales tax code whose rate or exemption reason does not fit its VAT category:
/// every document that used it would break the category's rules (BR-S-05, BR-Z-05, BR-E-05,
/// BR-AE-05, BR-IC-05, BR-G-05, BR-O-05, BR-AF-05, BR-AG-05 on the rate; BR-*-10 on the
/// exemption reason), and only the e-invoice would find out, after posting.
fn vat_category(r: &Row<'_>, origin: Origin) -> Option<Reject> {
    let category = r.enum_name("VatCategory")?;
    let rate = r.dec("Rate").unwrap_or_default();
    let exempt = r.s("ExemptionReasonCode").is_some() || r.s("ExemptionReason").is_some();
    let (field, rule, problem) = match category.as_str() {
        "S" if rate <= Decimal::ZERO => ("Rate", "05", format!("has the rate {rate}; standard-rated (S) VAT is above zero")),
        "Z" | "E" | "AE" | "K" | "G" | "O" if !rate.is_zero() => {
            ("Rate", "05", format!("has the rate {rate}; category {category} is at zero"))
        }
        "L" | "M" if rate < Decimal::ZERO => ("Rate", "05", format!("has the rate {rate}; category {category} is not below zero")),
        "E" | "AE" | "K" | "G" | "O" if !exempt => (
            "ExemptionReasonCode",
            "10",
            format!("has no exemption reason; category {category} needs a VATEX code (ExemptionReasonCode) or a text (ExemptionReason)"),
        ),
        "S" | "Z" | "L" | "M" if exempt => (
            "ExemptionReasonCode",
            "10",
            format!("has an exemption reason; category {category} takes none"),
        ),
        _ => return None,
    };
    Some(Reject::new(
        origin,
        Some(field),
        Rule::FieldVatCategory,
        format!(
            "tax code {} (category {category}) {problem}: every document using it would break {} — {}",
            r.req("TaxCode"),
            crate::einvoice::rules::rule_of(&category, rule),
            Rule::FieldVatCategory.fix()
        ),
    ))
}

/// Adds typed rows of a master entity to `md`; returns the rows rejected.
pub fn add_rows(entity: &Entity, rows: Vec<(Origin, Vec<Value<'static>>)>, md: &mut MasterData) -> Vec<Reject> {
    let mut rejects = Vec::new();
    // Each row's key once; how many rows have it; the rows of a key that several rows have.
    let keys: Vec<Vec<String>> = rows.iter().map(|(_, v)| key_of(entity, v)).collect();
    let mut count: FxHashMap<&[String], u32> = FxHashMap::default();
    count.reserve(keys.len());
    for k in &keys {
        *count.entry(k.as_slice()).or_default() += 1;
    }
    let mut copies_of: FxHashMap<&[String], Vec<Origin>> = FxHashMap::default();
    for ((o, _), k) in rows.iter().zip(&keys) {
        if count[k.as_slice()] > 1 {
            copies_of.entry(k.as_slice()).or_default().push(*o);
        }
    }
    for ((origin, values), key) in rows.iter().zip(&keys) {
        if let Some(copies) = copies_of.get(key.as_slice()) {
            let others: Vec<String> =
                copies.iter().filter(|c| *c != origin).map(|c| format!("line {}", c.line)).collect();
            let key_names: Vec<&str> = entity.key.iter().map(|&k| entity.fields[k].name.as_str()).collect();
            rejects.push(Reject::new(
                *origin,
                Some(key_names[0]),
                Rule::KeyDuplicate,
                format!(
                    "{} {} occurs again at {} — {}",
                    key_names.join("+"),
                    key.join("+"),
                    others.join(", "),
                    Rule::KeyDuplicate.fix()
                ),
            ));
            continue;
        }
        let r = Row { entity, values };
        let bad_currency = |field: &str, code: &str| {
            Reject::new(
                *origin,
                Some(field),
                Rule::RefCurrency,
                format!("{field} `{code}` is not an ISO 4217 currency — {}", Rule::RefCurrency.fix()),
            )
        };
        if let Some(reject) = identifiers(&r, *origin) {
            if entity.name == "Customer" {
                let why = format!("line {}, {}", origin.line, reject.rule.id());
                md.rejected_customers.insert(r.req("CustomerAccount"), why);
            }
            rejects.push(reject);
            continue;
        }
        match entity.name.as_str() {
            "LegalEntity" => {
                let code = r.req("AccountingCurrency");
                let Some(cur) = Currency::from_code(&code) else {
                    rejects.push(bad_currency("AccountingCurrency", &code));
                    continue;
                };
                let le = LegalEntity {
                    id: r.req("LegalEntityId"),
                    name: r.req("Name"),
                    accounting_currency: cur,
                    vat_number: r.s("VatNumber"),
                    tax_registration_id: r.s("TaxRegistrationId"),
                    legal_registration_id: r.s("LegalRegistrationId"),
                    street: r.s("AddressStreet"),
                    city: r.s("AddressCity"),
                    zip: r.s("AddressZipCode"),
                    country: r.req("AddressCountryRegionISOCode"),
                    electronic_address: r.s("ElectronicAddress"),
                    electronic_address_scheme: r.s("ElectronicAddressScheme"),
                    iban: r.s("Iban"),
                    bic: r.s("Bic"),
                    contact_name: r.s("ContactName"),
                    contact_phone: r.s("ContactPhone"),
                    contact_email: r.s("ContactEmail"),
                };
                md.legal_entities.insert(le.id.clone(), le);
            }
            "Customer" => {
                let hold = r.enum_name("OnHoldStatus");
                let c = Customer {
                    account: r.req("CustomerAccount"),
                    name: r.req("OrganizationName"),
                    group: r.s("CustomerGroupId"),
                    invoice_account: r.s("InvoiceAccount"),
                    currency: r.s("SalesCurrencyCode"),
                    credit_limit: r.dec("CreditLimit"),
                    payment_terms: r.s("PaymentTerms"),
                    tax_group: r.s("SalesTaxGroup"),
                    blocked: matches!(hold.as_deref(), Some("Invoice" | "All")),
                    street: r.s("AddressStreet"),
                    city: r.s("AddressCity"),
                    zip: r.s("AddressZipCode"),
                    country: r.s("AddressCountryRegionISOCode"),
                    email: r.s("PrimaryContactEmail"),
                    vat_id: r.s("TaxExemptNumber"),
                    electronic_address: r.s("ElectronicAddress"),
                    electronic_address_scheme: r.s("ElectronicAddressScheme"),
                    legal_registration_id: r.s("LegalRegistrationId"),
                    buyer_reference: r.s("BuyerReference"),
                };
                md.customers.insert(c.account.clone(), c);
            }
            "SalesTaxCode" => {
                if let Some(reject) = vat_category(&r, *origin) {
                    rejects.push(reject);
                    continue;
                }
                let t = TaxCode {
                    code: crate::model::name(&r.req("TaxCode")),
                    name: r.s("Name"),
                    rate: r.dec("Rate").unwrap_or_default(),
                    category: crate::model::name(&r.enum_name("VatCategory").unwrap_or_default()),
                    exemption_reason_code: r.s("ExemptionReasonCode"),
                    exemption_reason: r.s("ExemptionReason"),
                    payable_account: crate::model::name(&r.req("SalesTaxPayableAccount")),
                };
                md.tax_codes.insert(t.code.to_string(), t);
            }
            "SalesTaxGroup" => {
                md.tax_groups.entry(r.req("SalesTaxGroup")).or_default().insert(r.req("TaxCode"));
            }
            "ItemSalesTaxGroup" => {
                md.item_tax_groups.entry(r.req("ItemSalesTaxGroup")).or_default().insert(r.req("TaxCode"));
            }
            "CashDiscount" => {
                let percent = r.dec("Percent").unwrap_or_default();
                let (days, months) =
                    (r.int("NumberOfDays").unwrap_or_default(), r.int("NumberOfMonths").unwrap_or_default());
                let out_of_range = if percent <= Decimal::ZERO || percent >= Decimal::ONE_HUNDRED {
                    Some(("Percent", format!("Percent {percent} is not above 0 and below 100")))
                } else if !(0..=36_500).contains(&days) {
                    Some(("NumberOfDays", format!("NumberOfDays {days} is not between 0 and 36500")))
                } else if !(0..=1_200).contains(&months) {
                    Some(("NumberOfMonths", format!("NumberOfMonths {months} is not between 0 and 1200")))
                } else {
                    None
                };
                if let Some((field, problem)) = out_of_range {
                    rejects.push(Reject::new(
                        *origin,
                        Some(field),
                        Rule::FieldRange,
                        format!("cash discount {}: {problem} — {}", r.req("CashDiscountCode"), Rule::FieldRange.fix()),
                    ));
                    continue;
                }
                let c = CashDiscount {
                    code: r.req("CashDiscountCode"),
                    description: r.s("Description"),
                    percent,
                    days: days as i32,
                    months: months as i32,
                };
                md.cash_discounts.insert(c.code.clone(), c);
            }
            "PaymentTerms" => {
                let name = r.req("Name");
                let cash_discount = match r.s("CashDiscountCode") {
                    None => None,
                    Some(code) => match md.cash_discounts.get(&code) {
                        Some(c) => Some(c.clone()),
                        None => {
                            md.rejected_payment_terms
                                .insert(name.clone(), format!("line {}, {}", origin.line, Rule::RefCashDiscount.id()));
                            rejects.push(Reject::new(
                                *origin,
                                Some("CashDiscountCode"),
                                Rule::RefCashDiscount,
                                format!(
                                    "terms of payment {name} name the cash discount `{code}`, which is not in the CashDiscount master data{} — {}",
                                    if md.cash_discounts.is_empty() { " (there is none: add CashDiscount.csv)" } else { "" },
                                    Rule::RefCashDiscount.fix()
                                ),
                            ));
                            continue;
                        }
                    },
                };
                let p = PaymentTerms {
                    name,
                    description: r.s("Description"),
                    days: r.int("Days").unwrap_or_default() as i32,
                    from_month_end: r.enum_name("FromMonthEnd").as_deref() == Some("Yes"),
                    means_code: r.s("PaymentMeansCode"),
                    cash_discount,
                };
                md.payment_terms.insert(p.name.clone(), p);
            }
            "ExchangeRate" => {
                let (from, to) = (r.req("FromCurrency"), r.req("ToCurrency"));
                if Currency::from_code(&from).is_none() {
                    rejects.push(bad_currency("FromCurrency", &from));
                    continue;
                }
                if Currency::from_code(&to).is_none() {
                    rejects.push(bad_currency("ToCurrency", &to));
                    continue;
                }
                let rate = r.dec("Rate").unwrap_or_default();
                if rate <= Decimal::ZERO {
                    rejects.push(Reject::new(
                        *origin,
                        Some("Rate"),
                        Rule::FieldDecimal,
                        format!("Rate {rate} must be greater than zero — correct the rate"),
                    ));
                    continue;
                }
                // StartDate is required, so it is present on an accepted row.
                let start = r.date("StartDate").unwrap_or(Date::from_days_since_epoch(0));
                md.exchange_rates.push(ExchangeRate { from, to, start, rate });
            }
            "PostingSetup" => md.posting_setup.push(PostingSetup {
                posting_type: r.enum_name("PostingType").unwrap_or_default(),
                account_code: r.enum_name("AccountCode").unwrap_or_default(),
                relation: r.s("Relation"),
                main_account: crate::model::name(&r.req("MainAccount")),
            }),
            "NumberSequence" => md.number_sequences.push(NumberSequence {
                legal_entity: r.req("LegalEntityId"),
                reference: r.enum_name("Reference").unwrap_or_default(),
                format: r.req("Format"),
                next: r.int("NextNumber").unwrap_or(1),
            }),
            _ => {}
        }
    }
    md.exchange_rates.sort_by(|a, b| (&a.from, &a.to, a.start).cmp(&(&b.from, &b.to, b.start)));
    md.index_posting_setup();
    rejects
}

#[cfg(test)]
mod tests {
    use crate::entity::Catalog;

    #[test]
    fn the_eas_list_is_sorted_for_its_binary_search() {
        let eas = crate::einvoice::rules::EAS;
        assert!(eas.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn every_field_name_used_here_exists() {
        let c = Catalog::builtin();
        let uses: &[(&str, &[&str])] = &[
            (
                "LegalEntity",
                &[
                    "LegalEntityId",
                    "Name",
                    "AccountingCurrency",
                    "VatNumber",
                    "LegalRegistrationId",
                    "AddressStreet",
                    "AddressCity",
                    "AddressZipCode",
                    "AddressCountryRegionISOCode",
                    "ElectronicAddress",
                    "ElectronicAddressScheme",
                    "Iban",
                    "Bic",
                    "ContactName",
                    "ContactPhone",
                    "ContactEmail",
                    "TaxRegistrationId",
                ],
            ),
            (
                "Customer",
                &[
                    "CustomerAccount",
                    "OrganizationName",
                    "CustomerGroupId",
                    "InvoiceAccount",
                    "SalesCurrencyCode",
                    "CreditLimit",
                    "PaymentTerms",
                    "SalesTaxGroup",
                    "OnHoldStatus",
                    "AddressStreet",
                    "AddressCity",
                    "AddressZipCode",
                    "AddressCountryRegionISOCode",
                    "PrimaryContactEmail",
                    "TaxExemptNumber",
                    "ElectronicAddress",
                    "ElectronicAddressScheme",
                    "LegalRegistrationId",
                    "BuyerReference",
                ],
            ),
            (
                "SalesTaxCode",
                &[
                    "TaxCode",
                    "Name",
                    "Rate",
                    "VatCategory",
                    "ExemptionReasonCode",
                    "ExemptionReason",
                    "SalesTaxPayableAccount",
                ],
            ),
            ("SalesTaxGroup", &["SalesTaxGroup", "TaxCode"]),
            ("ItemSalesTaxGroup", &["ItemSalesTaxGroup", "TaxCode"]),
            ("PaymentTerms", &["Name", "Description", "Days", "FromMonthEnd", "PaymentMeansCode", "CashDiscountCode"]),
            ("CashDiscount", &["CashDiscountCode", "Description", "Percent", "NumberOfDays", "NumberOfMonths"]),
            ("ExchangeRate", &["FromCurrency", "ToCurrency", "StartDate", "Rate"]),
            ("PostingSetup", &["PostingType", "AccountCode", "Relation", "MainAccount"]),
            ("NumberSequence", &["LegalEntityId", "Reference", "Format", "NextNumber"]),
        ];
        for (e, fields) in uses {
            let ent = c.get(e).unwrap();
            for f in *fields {
                assert!(ent.field_index(f).is_some(), "{e}.{f}");
            }
        }
    }
}
