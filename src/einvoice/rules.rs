//! The built-in EN 16931 checks: mandatory elements (BR-01 … BR-38), the sums (BR-CO-10 …
//! BR-CO-18, BR-CO-26), the VAT categories (BR-S/Z/E/AE/K/G/O-*, BR-IC-*), decimals
//! (BR-DEC-*), code lists (BR-CL-*), payment (BR-61), line arithmetic, and for PEPPOL
//! documents the PEPPOL-EN16931 rules on references and electronic addresses. The official
//! Schematron is the authority; these run on every document before it is written.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::Doc;
use crate::model::Currency;

/// A rule a document breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id as the official rule sets name it (`BR-CO-15`).
    pub rule: String,
    /// What is wrong.
    pub message: String,
}

/// The finding of a document whose amounts are too large to add up or multiply (beyond what a
/// decimal of 28 digits holds): its sums cannot be checked, so it never passes.
const RANGE: &str = "RANGE";

fn range_message(what: &str) -> String {
    format!("{what} cannot be computed: the amounts are beyond 28 significant digits, so the sums cannot be checked")
}

/// The sum of `values`, `None` when it overflows.
fn csum(values: impl IntoIterator<Item = Decimal>) -> Option<Decimal> {
    values.into_iter().try_fold(Decimal::ZERO, |a, b| a.checked_add(b))
}

fn r2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// PEPPOL electronic address schemes (EAS code list, as the PEPPOL BIS 3.0.21 rules carry it).
pub const EAS: &[&str] = &[
    "0002", "0007", "0009", "0060", "0088", "0096", "0097", "0106", "0130", "0135", "0142", "0151", "0183", "0184",
    "0188", "0190", "0191", "0192", "0195", "0196", "0198", "0199", "0200", "0201", "0204", "0208", "0209", "0210",
    "0211", "0216", "0218", "0221", "0225", "0230", "0235", "0240", "0242", "0244", "0245", "0246", "0248", "9910",
    "9913", "9914", "9915", "9918", "9919", "9920", "9922", "9923", "9924", "9925", "9926", "9927", "9928", "9929",
    "9930", "9931", "9932", "9933", "9934", "9935", "9936", "9937", "9938", "9939", "9940", "9941", "9942", "9943",
    "9944", "9945", "9946", "9947", "9948", "9949", "9950", "9951", "9952", "9953", "9957", "9959",
];
const CATEGORIES: &[&str] = &["S", "Z", "E", "AE", "K", "G", "O", "L", "M"];
const TYPE_CODES: &[&str] =
    &["380", "381", "383", "384", "386", "389", "393", "395", "396", "326", "261", "262", "296", "308", "325", "751"];

/// The id of rule `n` of the family of VAT category `c` (`BR-S-05`): named after the category
/// but for K (intra-community supply: `BR-IC-*`), L (Canary Islands: `BR-AF-*`) and M (Ceuta
/// and Melilla: `BR-AG-*`).
pub fn rule_of(c: &str, n: &str) -> String {
    let family = match c {
        "K" => "IC",
        "L" => "AF",
        "M" => "AG",
        other => other,
    };
    format!("BR-{family}-{n}")
}

/// Checks a document; an empty result means no rule broke.
pub fn check(d: &Doc) -> Vec<Finding> {
    let mut f: Vec<Finding> = Vec::new();
    let mut fail = |rule: &str, message: String| f.push(Finding { rule: rule.to_string(), message });
    let missing = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    let peppol = d.customization.as_deref().is_some_and(|c| c.contains("peppol.eu"));
    // Mandatory elements.
    for (rule, v, what) in [
        ("BR-01", &d.customization, "Specification identifier (BT-24)"),
        ("BR-02", &d.number, "Invoice number (BT-1)"),
        ("BR-03", &d.issue_date, "Invoice issue date (BT-2)"),
        ("BR-04", &d.type_code, "Invoice type code (BT-3)"),
        ("BR-05", &d.currency, "Invoice currency code (BT-5)"),
        ("BR-06", &d.seller.name, "Seller name (BT-27)"),
        ("BR-07", &d.buyer.name, "Buyer name (BT-44)"),
        ("BR-09", &d.seller.country, "Seller country code (BT-40)"),
        ("BR-11", &d.buyer.country, "Buyer country code (BT-55)"),
    ] {
        if missing(v) {
            fail(rule, format!("{what} is missing"));
        }
    }
    let t = &d.totals;
    for (rule, v, what) in [
        ("BR-12", t.line_total, "Sum of Invoice line net amount (BT-106)"),
        ("BR-13", t.tax_exclusive, "Invoice total amount without VAT (BT-109)"),
        ("BR-14", t.tax_inclusive, "Invoice total amount with VAT (BT-112)"),
        ("BR-15", t.payable, "Amount due for payment (BT-115)"),
    ] {
        if v.is_none() {
            fail(rule, format!("{what} is missing"));
        }
    }
    if d.lines.is_empty() {
        fail("BR-16", "an invoice has at least one line (BG-25)".into());
    }
    for l in &d.lines {
        let at = format!("line {}", if l.id.is_empty() { "?" } else { &l.id });
        if l.id.trim().is_empty() {
            fail("BR-21", "an invoice line has no identifier (BT-126)".into());
        }
        if l.quantity.is_none() {
            fail("BR-22", format!("{at}: invoiced quantity (BT-129) is missing"));
        }
        if missing(&l.unit) {
            fail("BR-23", format!("{at}: unit of measure code (BT-130) is missing"));
        }
        if l.net_amount.is_none() {
            fail("BR-24", format!("{at}: line net amount (BT-131) is missing"));
        }
        if missing(&l.item_name) {
            fail("BR-25", format!("{at}: item name (BT-153) is missing"));
        }
        match l.price {
            None => fail("BR-26", format!("{at}: item net price (BT-146) is missing")),
            Some(p) if p < Decimal::ZERO => fail("BR-27", format!("{at}: item net price {p} is negative")),
            _ => {}
        }
        if missing(&l.category) {
            fail("BR-CO-04", format!("{at}: invoiced item VAT category code (BT-151) is missing"));
        }
        if let (true, Some(q), Some(p), Some(n)) = (peppol, l.quantity, l.price, l.net_amount) {
            let base = l.base_quantity.filter(|b| !b.is_zero()).unwrap_or(Decimal::ONE);
            let adj = csum(l.allowances.iter().map(|(c, a, _)| if *c { *a } else { -*a }));
            let expected = adj.and_then(|adj| q.checked_mul(p)?.checked_div(base)?.checked_add(adj)).map(r2);
            match expected {
                None => fail(RANGE, range_message(&format!("{at}: quantity {q} × price {p} ÷ base quantity {base}"))),
                Some(expected) if n != expected => fail("PEPPOL-EN16931-R120", format!("{at}: line net amount {n} differs from quantity {q} × price {p} ÷ {base} ± allowances and charges = {expected}")),
                Some(_) => {}
            }
        }
        if let Some(n) = l.net_amount.filter(|n| n.normalize().scale() > 2) {
            fail("BR-DEC-23", format!("{at}: line net amount {n} has more than two decimals"));
        }
    }
    for a in &d.allowances {
        let (amount_rule, cat_rule, reason_rule, dec_rule) =
            if a.charge { ("BR-36", "BR-37", "BR-38", "BR-DEC-05") } else { ("BR-31", "BR-32", "BR-33", "BR-DEC-01") };
        let _ = amount_rule;
        if a.category.is_none() {
            fail(
                cat_rule,
                format!("a document-level {} has no VAT category", if a.charge { "charge" } else { "allowance" }),
            );
        }
        if missing(&a.reason) {
            fail(
                reason_rule,
                format!("a document-level {} has no reason", if a.charge { "charge" } else { "allowance" }),
            );
        }
        if a.amount.normalize().scale() > 2 {
            fail(dec_rule, format!("amount {} has more than two decimals", a.amount));
        }
    }
    // Sums.
    let sums = (
        csum(d.lines.iter().filter_map(|l| l.net_amount)),
        csum(d.allowances.iter().filter(|a| !a.charge).map(|a| a.amount)),
        csum(d.allowances.iter().filter(|a| a.charge).map(|a| a.amount)),
        csum(d.vat.iter().map(|v| v.amount)),
    );
    let (Some(lines), Some(allowances), Some(charges), Some(vat)) = sums else {
        fail(RANGE, range_message("the document's sums"));
        return f;
    };
    if let Some(lt) = t.line_total {
        if lt != r2(lines) {
            fail("BR-CO-10", format!("sum of line net amounts (BT-106) {lt} differs from the lines' {}", r2(lines)));
        }
    }
    if t.allowance_total.unwrap_or_default() != r2(allowances) {
        fail(
            "BR-CO-11",
            format!(
                "sum of allowances (BT-107) {:?} differs from the allowances' {}",
                t.allowance_total,
                r2(allowances)
            ),
        );
    }
    if t.charge_total.unwrap_or_default() != r2(charges) {
        fail(
            "BR-CO-12",
            format!("sum of charges (BT-108) {:?} differs from the charges' {}", t.charge_total, r2(charges)),
        );
    }
    if let (Some(lt), Some(te)) = (t.line_total, t.tax_exclusive) {
        let e = lt
            .checked_sub(t.allowance_total.unwrap_or_default())
            .and_then(|x| x.checked_add(t.charge_total.unwrap_or_default()))
            .map(r2);
        if let Some(e) = e.filter(|e| *e != te) {
            fail("BR-CO-13", format!("total without VAT (BT-109) {te} differs from {e} = BT-106 − BT-107 + BT-108"));
        }
    }
    if let Some(vt) = t.vat_total {
        if !d.vat.is_empty() && vt != r2(vat) {
            fail("BR-CO-14", format!("total VAT (BT-110) {vt} differs from the breakdown's {}", r2(vat)));
        }
    }
    if let (Some(te), Some(ti)) = (t.tax_exclusive, t.tax_inclusive) {
        let e = te.checked_add(t.vat_total.unwrap_or_default()).map(r2);
        if let Some(e) = e.filter(|e| *e != ti) {
            fail("BR-CO-15", format!("total with VAT (BT-112) {ti} differs from {e} = BT-109 + BT-110"));
        }
    }
    if let (Some(ti), Some(p)) = (t.tax_inclusive, t.payable) {
        let e = ti
            .checked_sub(t.prepaid.unwrap_or_default())
            .and_then(|x| x.checked_add(t.rounding.unwrap_or_default()))
            .map(r2);
        if let Some(e) = e.filter(|e| *e != p) {
            fail("BR-CO-16", format!("amount due (BT-115) {p} differs from {e} = BT-112 − BT-113 + BT-114"));
        }
    }
    if d.vat.is_empty() {
        fail("BR-CO-18", "the invoice has no VAT breakdown (BG-23)".into());
    }
    if missing(&d.seller.legal_id) && missing(&d.seller.vat_id) && missing(&d.seller.id) {
        fail("BR-CO-26", "the seller needs an identifier (BT-29), a legal registration identifier (BT-30) or a VAT identifier (BT-31)".into());
    }
    for (who, bt, p) in [("seller", "BT-31", &d.seller), ("buyer", "BT-48", &d.buyer)] {
        if let Some(vat) = p.vat_id.as_deref().filter(|v| !crate::model::ident::vat_prefix_ok(v)) {
            fail(
                "BR-CO-09",
                format!("{who} VAT identifier ({bt}) `{vat}` has no ISO 3166-1 country prefix (EL for Greece)"),
            );
        }
    }
    for v in &d.vat {
        let rate = v.rate.unwrap_or_default();
        if !rate.is_zero() {
            let Some(e) = v.base.abs().checked_mul(rate).and_then(|x| x.checked_div(Decimal::ONE_HUNDRED)).map(r2)
            else {
                fail(RANGE, range_message(&format!("the VAT of category {} ({} × {rate} %)", v.category, v.base)));
                continue;
            };
            if v.amount.abs().checked_sub(e).is_none_or(|x| x.abs() >= Decimal::ONE) {
                fail(
                    "BR-CO-17",
                    format!(
                        "VAT {} of category {} at {rate} % is not {e} = {} × {rate} %",
                        v.amount, v.category, v.base
                    ),
                );
            }
        } else if r2(v.amount).round() != Decimal::ZERO {
            fail("BR-CO-17", format!("VAT {} of category {} at 0 % is not zero", v.amount, v.category));
        }
        for (amount, rule) in [(v.base, "BR-DEC-19"), (v.amount, "BR-DEC-20")] {
            if amount.normalize().scale() > 2 {
                fail(rule, format!("{amount} has more than two decimals"));
            }
        }
    }
    for (v, rule) in [
        (t.line_total, "BR-DEC-09"),
        (t.allowance_total, "BR-DEC-10"),
        (t.charge_total, "BR-DEC-11"),
        (t.tax_exclusive, "BR-DEC-12"),
        (t.vat_total, "BR-DEC-13"),
        (t.tax_inclusive, "BR-DEC-14"),
        (t.vat_total_accounting, "BR-DEC-15"),
        (t.prepaid, "BR-DEC-16"),
        (t.payable, "BR-DEC-18"),
    ] {
        if let Some(v) = v.filter(|v| v.normalize().scale() > 2) {
            fail(rule, format!("{v} has more than two decimals"));
        }
    }
    // Code lists.
    if let Some(c) = d.currency.as_deref().filter(|c| Currency::from_code(c).is_none()) {
        fail("BR-CL-04", format!("invoice currency code `{c}` is not an ISO 4217 code"));
    }
    if let Some(c) = d.tax_currency.as_deref().filter(|c| Currency::from_code(c).is_none()) {
        fail("BR-CL-05", format!("VAT accounting currency code `{c}` is not an ISO 4217 code"));
    }
    if let Some(c) = d.type_code.as_deref().filter(|c| !TYPE_CODES.contains(c)) {
        fail("BR-CL-01", format!("invoice type code `{c}` is not a UNTDID 1001 invoice or credit note code"));
    }
    for c in [&d.seller.country, &d.buyer.country, &d.delivery_country].into_iter().flatten() {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            fail("BR-CL-14", format!("country code `{c}` is not an ISO 3166-1 alpha-2 code"));
        }
    }
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for c in d
        .lines
        .iter()
        .filter_map(|l| l.category.as_deref())
        .chain(d.allowances.iter().filter_map(|a| a.category.as_deref()))
    {
        used.insert(c);
    }
    for c in used.iter().chain(d.vat.iter().map(|v| &v.category).map(String::as_str).collect::<Vec<_>>().iter()) {
        if !CATEGORIES.contains(c) {
            fail("BR-CL-17", format!("VAT category code `{c}` is not in UNTDID 5305 (S, Z, E, AE, K, G, O, L, M)"));
        }
    }
    // VAT categories.
    for c in &used {
        let id = |n: &str| rule_of(c, n);
        if !d.vat.iter().any(|v| v.category == *c) {
            fail(&id("01"), format!("lines or allowances of category {c} need a VAT breakdown of category {c}"));
        }
        for l in d.lines.iter().filter(|l| l.category.as_deref() == Some(*c)) {
            let rate = l.rate.unwrap_or_default();
            let bad = match *c {
                "S" => rate <= Decimal::ZERO,
                "Z" | "E" | "AE" | "K" | "G" => !rate.is_zero(),
                "O" => l.rate.is_some(),
                _ => false,
            };
            if bad {
                let want = match *c {
                    "S" => "greater than zero",
                    "O" => "absent",
                    _ => "zero",
                };
                fail(&id("05"), format!("line {}: the VAT rate of category {c} must be {want}, not {rate}", l.id));
            }
        }
        let has_vat = |p: &super::Party| p.vat_id.as_deref().is_some_and(|v| !v.is_empty());
        let has_tax = |p: &super::Party| has_vat(p) || p.tax_registration_id.as_deref().is_some_and(|v| !v.is_empty());
        match *c {
            "S" | "Z" | "E" if !has_tax(&d.seller) => fail(
                &id("02"),
                format!(
                    "category {c} needs the seller's VAT identifier (BT-31) or tax registration identifier (BT-32)"
                ),
            ),
            "AE" | "K" if !(has_vat(&d.seller) && has_vat(&d.buyer)) => {
                fail(&id("02"), format!("category {c} needs the seller's and the buyer's VAT identifiers"))
            }
            "G" if !has_vat(&d.seller) => fail(&id("02"), "category G needs the seller's VAT identifier".into()),
            _ => {}
        }
    }
    for v in &d.vat {
        let c = v.category.as_str();
        if !CATEGORIES.contains(&c) {
            continue;
        }
        let id = |n: &str| rule_of(c, n);
        let same = |cat: Option<&str>, rate: Option<Decimal>| cat == Some(c) && (c != "S" || rate == v.rate);
        let base =
            csum(d.lines.iter().filter(|l| same(l.category.as_deref(), l.rate)).filter_map(|l| l.net_amount).chain(
                d.allowances.iter().filter(|a| same(a.category.as_deref(), a.rate)).map(|a| {
                    if a.charge {
                        a.amount
                    } else {
                        -a.amount
                    }
                }),
            ));
        let Some(base) = base else {
            fail(RANGE, range_message(&format!("the taxable amount of category {c}")));
            continue;
        };
        if v.base.checked_sub(base).is_none_or(|x| x.abs() >= Decimal::ONE) {
            fail(
                &id("08"),
                format!("taxable amount {} of category {c} differs from the lines' and allowances' {base}", v.base),
            );
        }
        let exempt = v.exemption_code.is_some() || v.exemption_reason.is_some();
        match c {
            "S" | "Z" if exempt => fail(&id("10"), format!("category {c} takes no exemption reason")),
            "E" | "AE" | "K" | "G" | "O" if !exempt => {
                fail(&id("10"), format!("category {c} needs an exemption reason (BT-120) or code (BT-121)"))
            }
            _ => {}
        }
        if matches!(c, "Z" | "E" | "AE" | "K" | "G" | "O") && !v.amount.is_zero() {
            fail(&id("09"), format!("VAT of category {c} must be zero, not {}", v.amount));
        }
        if c == "K" {
            if d.delivery_date.is_none() {
                fail(
                    "BR-IC-11",
                    "an intra-community supply needs the actual delivery date (BT-72) or an invoicing period".into(),
                );
            }
            if d.delivery_country.is_none() {
                fail("BR-IC-12", "an intra-community supply needs the deliver-to country (BT-80)".into());
            }
        }
    }
    // Payment.
    if matches!(d.payment_means.as_deref(), Some("30" | "58")) && d.iban.is_none() {
        fail("BR-61", "credit transfer (30, 58) needs the payment account identifier (BT-84)".into());
    }
    // PEPPOL BIS Billing 3.0.
    if peppol {
        if missing(&d.profile) {
            fail("PEPPOL-EN16931-R001", "business process (BT-23) must be provided".into());
        }
        if missing(&d.buyer_reference) && missing(&d.order_reference) {
            fail(
                "PEPPOL-EN16931-R003",
                "a buyer reference (BT-10) or purchase order reference (BT-13) must be provided".into(),
            );
        }
        if d.buyer.endpoint.is_none() {
            fail("PEPPOL-EN16931-R010", "buyer electronic address (BT-49) must be provided".into());
        }
        if d.seller.endpoint.is_none() {
            fail("PEPPOL-EN16931-R020", "seller electronic address (BT-34) must be provided".into());
        }
        for (who, p) in [("seller", &d.seller), ("buyer", &d.buyer)] {
            if let Some((_, scheme)) = p.endpoint.as_ref().filter(|(_, s)| !EAS.contains(&s.as_str())) {
                fail(
                    "PEPPOL-EN16931-CL008",
                    format!("{who} electronic address scheme `{scheme}` is not in the EAS code list"),
                );
            }
            // PEPPOL-COMMON: the identifier in the format (and with the check digit) of its scheme.
            if let Some((id, scheme)) = &p.endpoint {
                if let Err(problem) = crate::model::ident::check_scheme(scheme, id, true) {
                    fail(
                        problem.rule,
                        format!("{who} electronic address `{id}` (scheme {scheme}) is not {}", problem.expected),
                    );
                }
            }
            for (scheme, id) in &p.scheme_ids {
                if let Err(problem) = crate::model::ident::check_scheme(scheme, id, false) {
                    fail(
                        problem.rule,
                        format!("{who} identifier `{}` (scheme {scheme}) is not {}", id.trim(), problem.expected),
                    );
                }
            }
            if let Some(vat) = p.vat_id.as_deref().filter(|v| !crate::model::ident::dutch_vat_ok(v)) {
                fail("PEPPOL-COMMON-R056-2", format!("{who} VAT identifier `{vat}` is not NL, 9 digits, B, 2 digits"));
            }
        }
    }
    f
}
