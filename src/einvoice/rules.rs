//! The built-in EN 16931 checks: mandatory elements (BR-01 … BR-38), the sums (BR-CO-10 …
//! BR-CO-18, BR-CO-26), the VAT categories (BR-S/Z/E/AE/K/G/O-*, BR-IC-*), decimals
//! (BR-DEC-*), code lists (BR-CL-*), payment (BR-61), line arithmetic, and for PEPPOL
//! documents the PEPPOL-EN16931 rules on references and electronic addresses. The official
//! Schematron is the authority; these run on every document before it is written.

use super::xml::XmlTrim;
use rust_decimal::Decimal;

use super::codes::{self, List};
use super::{Doc, VatRow};

/// A rule a document breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id as the official rule sets name it (`BR-CO-15`).
    pub rule: String,
    /// What is wrong.
    pub message: String,
    /// Whether the rule is fatal (a document that breaks it is refused); else a warning.
    pub fatal: bool,
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

/// PEPPOL electronic address schemes (EAS code list, as the PEPPOL BIS 3.0.21 rules carry it).
pub const EAS: &[&str] = &[
    "0002", "0007", "0009", "0060", "0088", "0096", "0097", "0106", "0130", "0135", "0142", "0151", "0183", "0184",
    "0188", "0190", "0191", "0192", "0195", "0196", "0198", "0199", "0200", "0201", "0204", "0208", "0209", "0210",
    "0211", "0216", "0218", "0221", "0225", "0230", "0235", "0240", "0242", "0244", "0245", "0246", "0248", "9910",
    "9913", "9914", "9915", "9918", "9919", "9920", "9922", "9923", "9924", "9925", "9926", "9927", "9928", "9929",
    "9930", "9931", "9932", "9933", "9934", "9935", "9936", "9937", "9938", "9939", "9940", "9941", "9942", "9943",
    "9944", "9945", "9946", "9947", "9948", "9949", "9950", "9951", "9952", "9953", "9957", "9959",
];

/// The id of rule `n` of the family of VAT category `c` (`BR-S-05`): named after the category
/// but for K (intra-community supply: `BR-IC-*`), L (Canary Islands: `BR-AF-*`) and M (Ceuta
/// and Melilla: `BR-AG-*`).
pub fn rule_of(c: &str, n: &str) -> String {
    format!("BR-{}-{n}", super::catalog::family(c))
}

/// XPath's `round`: half towards positive infinity (what the official rules compute with);
/// `None` beyond what a decimal holds.
fn xround(d: Decimal) -> Option<Decimal> {
    Some(d.checked_add(Decimal::new(5, 1))?.floor())
}

/// Rounded to two decimals as the official rules round (`round(x * 10 * 10) div 100`).
fn x2(d: Decimal) -> Option<Decimal> {
    // A whole number of cents (`xround` floors: scale 0) ÷ 100, as the division writes it: a
    // whole number when the cents make one, else at scale 2 (`2.50`); the general division
    // cost ~1,900 instructions.
    let cents = xround(d.checked_mul(Decimal::ONE_HUNDRED)?)?;
    let mut r = cents;
    r.set_scale(2).ok()?;
    Some(if cents.mantissa() % 100 == 0 { r.trunc() } else { r })
}

/// `a − b + c` rounded to two decimals as the rules round (BT-106 − BT-107 + BT-108,
/// BT-112 − BT-113 + BT-114; an absent amount counts 0); `None` beyond what a decimal holds.
fn less_plus(a: Decimal, b: Option<Decimal>, c: Option<Decimal>) -> Option<Decimal> {
    x2(a.checked_sub(b.unwrap_or_default())?.checked_add(c.unwrap_or_default())?)
}

/// Whether `a` and `b` differ by less than `by` (or at most `by` when `inclusive`); a
/// difference too large to compute is not within.
fn within(a: Decimal, b: Decimal, by: Decimal, inclusive: bool) -> bool {
    a.checked_sub(b).is_some_and(|x| if inclusive { x.abs() <= by } else { x.abs() < by })
}

/// The number of decimals as written (`1.500` has three): the BR-DEC rules count the digits
/// after the point of the lexical value. A value read back carries its written scale.
fn decimals(d: Decimal) -> u32 {
    d.scale()
}

/// A line's VAT category code when it is of the VAT scheme (what most rules look at).
fn line_cat(l: &super::Line) -> Option<&str> {
    l.category.as_deref().filter(|_| l.category_vat)
}

/// A document-level allowance's or charge's VAT category code when it is of the VAT scheme.
fn charge_cat(a: &super::AllowanceCharge) -> Option<&str> {
    a.category.as_deref().filter(|_| a.category_vat)
}

fn nonempty(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.xml_trim().is_empty())
}

/// Checks a document; an empty result means no rule broke. Every rule is evaluated on its
/// own: a missing element fails the rules that ask for it and no other.
pub fn check(d: &Doc) -> Vec<Finding> {
    let mut f: Vec<Finding> = Vec::new();
    let mut fail = |rule: &str, message: String| {
        debug_assert!(super::catalog::known(rule), "{rule} is not in the rule list (einvoice::catalog)");
        let fatal = !super::catalog::is_warning(rule);
        f.push(Finding { rule: rule.to_string(), message, fatal })
    };
    let missing = |v: &Option<String>| !nonempty(v);
    let peppol = peppol_applies(d);
    let cii = d.syntax == super::Syntax::Cii;
    // The CII rules find a breakdown row of category L, M or O (of the VAT scheme) by its
    // category's rule first, which leaves it to no other: BR-45 … BR-48, BR-CO-03, BR-CO-17,
    // BR-DEC-19 and BR-DEC-20 do not look at such a row.
    let category_only = |v: &VatRow| cii && v.category_vat && matches!(v.category.as_str(), "L" | "M" | "O");
    // Mandatory elements.
    for (rule, v, what) in [
        ("BR-01", &d.customization, "Specification identifier (BT-24)"),
        ("BR-02", &d.number, "Invoice number (BT-1)"),
        ("BR-03", &d.issue_date, "Invoice issue date (BT-2)"),
        ("BR-04", &d.type_code, "Invoice type code (BT-3)"),
        ("BR-05", &d.currency, "Invoice currency code (BT-5)"),
        ("BR-06", &d.seller.name, "Seller name (BT-27)"),
        ("BR-07", &d.buyer.name, "Buyer name (BT-44)"),
    ] {
        if missing(v) {
            fail(rule, format!("{what} is missing"));
        }
    }
    // UBL asks for the country in the address; CII asks for it from the document (an address
    // missing misses its country too).
    if !d.seller.postal_address {
        fail("BR-08", "the Seller postal address (BG-5) is missing".into());
    }
    if (d.seller.postal_address || cii) && missing(&d.seller.country) {
        fail("BR-09", "the Seller country code (BT-40) is missing".into());
    }
    if !d.buyer.postal_address {
        fail("BR-10", "the Buyer postal address (BG-8) is missing".into());
    }
    if (d.buyer.postal_address || cii) && missing(&d.buyer.country) {
        fail("BR-11", "the Buyer country code (BT-55) is missing".into());
    }
    let t = &d.totals;
    for (rule, v, what) in [
        ("BR-12", t.line_total, "Sum of Invoice line net amount (BT-106)"),
        ("BR-13", t.tax_exclusive, "Invoice total amount without VAT (BT-109)"),
        ("BR-14", t.tax_inclusive, "Invoice total amount with VAT (BT-112)"),
        ("BR-15", t.payable, "Amount due for payment (BT-115)"),
    ] {
        // (The rules on the totals look at the totals group; a document without one is
        // refused by the schema and by BR-CO-15.)
        if t.given && v.is_none() {
            fail(rule, format!("{what} is missing"));
        }
    }
    if d.lines.is_empty() {
        fail("BR-16", "an invoice has at least one line (BG-25)".into());
    }
    // Payee and tax representative.
    if let Some(p) = &d.payee {
        let same_name = p.name.is_some() && p.name == d.seller.trading_name;
        let same_id = p.id.is_some() && p.id == d.seller.id;
        if missing(&p.name) || same_name || same_id {
            fail("BR-17", "the Payee name (BT-59) must be given when the Payee (BG-10) is not the Seller".into());
        }
    }
    if let Some(r) = &d.tax_rep {
        if missing(&r.name) {
            fail("BR-18", "the Seller tax representative name (BT-62) is missing".into());
        }
        if !r.postal_address {
            fail("BR-19", "the Seller tax representative postal address (BG-12) is missing".into());
        } else if missing(&r.country) {
            fail("BR-20", "the Seller tax representative country code (BT-69) is missing".into());
        }
        if missing(&r.vat_id) {
            fail("BR-56", "the Seller tax representative VAT identifier (BT-63) is missing".into());
        }
    }
    // Periods and the VAT point.
    if let Some(p) = &d.invoice_period {
        if p.start.is_none() && p.end.is_none() && p.code.is_none() {
            fail("BR-CO-19", "the Invoicing period (BG-14) has neither a start (BT-73) nor an end date (BT-74)".into());
        }
        if let (Some(s), Some(e)) = (&p.start, &p.end) {
            if e < s {
                fail("BR-29", format!("the Invoicing period ends ({e}) before it starts ({s})"));
            }
        }
    }
    let tax_point_checked = !cii || d.vat.iter().any(|v| !category_only(v));
    if d.tax_point_date.is_some() && d.tax_point_code.is_some() && tax_point_checked {
        fail("BR-CO-03", "the VAT point date (BT-7) and the VAT point date code (BT-8) exclude each other".into());
    }
    for l in &d.lines {
        let at = format!("line {}", if l.id.is_empty() { "?" } else { &l.id });
        if l.id.xml_trim().is_empty() {
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
            None => {
                fail("BR-26", format!("{at}: item net price (BT-146) is missing"));
                // `(PriceAmount) >= 0` holds for no price either.
                fail("BR-27", format!("{at}: item net price (BT-146) is missing, so not zero or more"));
            }
            Some(p) if p < Decimal::ZERO => fail("BR-27", format!("{at}: item net price {p} is negative")),
            _ => {}
        }
        if let Some(g) = l.gross_price.filter(|g| *g < Decimal::ZERO) {
            fail("BR-28", format!("{at}: item gross price {g} is negative"));
        }
        // (An empty code is a code, which BR-CL-18 finds outside its list.)
        if line_cat(l).is_none() {
            fail("BR-CO-04", format!("{at}: invoiced item VAT category code (BT-151) is missing"));
        }
        if let Some(p) = &l.period {
            if p.start.is_none() && p.end.is_none() {
                fail("BR-CO-20", format!("{at}: the line period (BG-26) has neither a start nor an end date"));
            }
            if let (Some(s), Some(e)) = (&p.start, &p.end) {
                if e < s {
                    fail("BR-30", format!("{at}: the line period ends ({e}) before it starts ({s})"));
                }
            }
        }
        for c in &l.allowances {
            let (amount_rule, reason_rule, co_rule, what) = if c.charge {
                ("BR-43", "BR-44", "BR-CO-24", "charge")
            } else {
                ("BR-41", "BR-42", "BR-CO-23", "allowance")
            };
            if c.amount.is_none() {
                fail(amount_rule, format!("{at}: a line {what} has no amount"));
            }
            if c.reason.is_none() && c.reason_code.is_none() {
                fail(reason_rule, format!("{at}: a line {what} has neither a reason nor a reason code"));
                fail(co_rule, format!("{at}: a line {what} has neither a reason nor a reason code"));
            }
            if let Some(a) = c.amount.filter(|a| decimals(*a) > 2) {
                fail(
                    if c.charge { "BR-DEC-27" } else { "BR-DEC-24" },
                    format!("{at}: line {what} amount {a} has more than two decimals"),
                );
            }
        }
        for (name, value) in &l.attributes {
            if name.is_none() || value.is_none() {
                fail("BR-54", format!("{at}: an item attribute (BG-32) lacks its name or its value"));
            }
        }
        if l.standard_ids.iter().any(|(_, s)| s.as_deref().is_none_or(|s| s.xml_trim().is_empty())) {
            fail("BR-64", format!("{at}: the item standard identifier (BT-157) has no scheme"));
        }
        if l.classifications.iter().any(|(_, s)| s.as_deref().is_none_or(|s| s.xml_trim().is_empty())) {
            fail("BR-65", format!("{at}: the item classification identifier (BT-158) has no scheme"));
        }
        if peppol && (l.price.is_none() || l.net_amount.is_none()) {
            fail(
                "PEPPOL-EN16931-R120",
                format!("{at}: the line net amount cannot be checked against its price: one of them is missing"),
            );
        }
        if let (true, Some(p), Some(n)) = (peppol, l.price, l.net_amount) {
            let q = l.quantity.unwrap_or(Decimal::ONE);
            let base = l.base_quantity.filter(|b| !b.is_zero()).unwrap_or(Decimal::ONE);
            let adj = |charge: bool| {
                csum(l.allowances.iter().filter(|c| c.charge == charge).filter_map(|c| c.amount)).and_then(x2)
            };
            let expected =
                (|| q.checked_mul(p.checked_div(base)?)?.checked_add(adj(true)?)?.checked_sub(adj(false)?))();
            match expected {
                None => fail(RANGE, range_message(&format!("{at}: quantity {q} × price {p} ÷ base quantity {base}"))),
                Some(e) if !within(n, e, Decimal::new(2, 2), true) => fail("PEPPOL-EN16931-R120", format!("{at}: line net amount {n} differs from quantity {q} × price {p} ÷ {base} + charges − allowances = {} by more than 0.02", e.round_dp(4))),
                Some(_) => {}
            }
        }
        if let Some(n) = l.net_amount.filter(|n| decimals(*n) > 2) {
            fail("BR-DEC-23", format!("{at}: line net amount {n} has more than two decimals"));
        }
    }
    for a in &d.allowances {
        let (amount_rule, cat_rule, reason_rule, co_rule, dec_rule, what) = if a.charge {
            ("BR-36", "BR-37", "BR-38", "BR-CO-22", "BR-DEC-05", "charge")
        } else {
            ("BR-31", "BR-32", "BR-33", "BR-CO-21", "BR-DEC-01", "allowance")
        };
        if a.amount.is_none() {
            fail(amount_rule, format!("a document-level {what} has no amount"));
        }
        if charge_cat(a).is_none() {
            fail(cat_rule, format!("a document-level {what} has no VAT category"));
        }
        if a.reason.is_none() && a.reason_code.is_none() {
            fail(reason_rule, format!("a document-level {what} has neither a reason nor a reason code"));
            fail(co_rule, format!("a document-level {what} has neither a reason nor a reason code"));
        }
        if let Some(x) = a.amount.filter(|x| decimals(*x) > 2) {
            fail(dec_rule, format!("{what} amount {x} has more than two decimals"));
        }
        if let Some(code) = &a.reason_code {
            let (list, rule) =
                if a.charge { (List::ChargeReason, "BR-CL-20") } else { (List::AllowanceReason, "BR-CL-19") };
            if !codes::has(list, code) {
                fail(rule, format!("{what} reason code `{code}` is not in its code list"));
            }
        }
    }
    for l in &d.lines {
        for c in &l.allowances {
            if let Some(code) = &c.reason_code {
                let (list, rule) =
                    if c.charge { (List::ChargeReason, "BR-CL-20") } else { (List::AllowanceReason, "BR-CL-19") };
                if !codes::has(list, code) {
                    fail(rule, format!("line {}: reason code `{code}` is not in its code list", l.id));
                }
            }
        }
    }
    // Sums.
    let sums = (
        csum(d.lines.iter().filter_map(|l| l.net_amount)),
        csum(d.allowances.iter().filter(|a| !a.charge).filter_map(|a| a.amount)),
        csum(d.allowances.iter().filter(|a| a.charge).filter_map(|a| a.amount)),
        csum(d.vat.iter().filter_map(|v| v.amount)),
    );
    let (Some(lines), Some(allowances), Some(charges), Some(vat)) = sums else {
        fail(RANGE, range_message("the document's sums"));
        return f;
    };
    let (Some(lines2), Some(allowances2), Some(charges2), Some(vat2)) =
        (x2(lines), x2(allowances), x2(charges), x2(vat))
    else {
        fail(RANGE, range_message("the document's sums"));
        return f;
    };
    // The rules on the totals compare what is there: a missing total equals nothing.
    if t.given && t.line_total != Some(lines2) {
        fail(
            "BR-CO-10",
            format!("sum of line net amounts (BT-106) {:?} differs from the lines' {lines2}", t.line_total),
        );
    }
    if t.given && t.allowance_total.unwrap_or_default() != allowances2 {
        fail(
            "BR-CO-11",
            format!("sum of allowances (BT-107) {:?} differs from the allowances' {allowances2}", t.allowance_total),
        );
    }
    if t.given && t.charge_total.unwrap_or_default() != charges2 {
        fail("BR-CO-12", format!("sum of charges (BT-108) {:?} differs from the charges' {charges2}", t.charge_total));
    }
    match (t.line_total, t.tax_exclusive) {
        (Some(lt), Some(te)) => {
            if let Some(e) = less_plus(lt, t.allowance_total, t.charge_total).filter(|e| *e != te) {
                fail(
                    "BR-CO-13",
                    format!("total without VAT (BT-109) {te} differs from {e} = BT-106 − BT-107 + BT-108"),
                );
            }
        }
        _ if t.given => fail(
            "BR-CO-13",
            format!(
                "total without VAT (BT-109) {:?} cannot be BT-106 {:?} − BT-107 + BT-108",
                t.tax_exclusive, t.line_total
            ),
        ),
        _ => {}
    }
    // UBL: the tax total holding the breakdown, whatever its currency; CII: the VAT total.
    let breakdown_total = if cii { t.vat_total } else { t.breakdown_vat };
    if let Some(vt) = breakdown_total {
        // (UBL: a tax total without breakdown is not compared; CII compares with the sum of
        // the rows, none making zero.)
        if (cii || !d.vat.is_empty()) && vt != vat2 {
            fail("BR-CO-14", format!("total VAT (BT-110) {vt} differs from the breakdown's {vat2}"));
        }
    }
    // BR-CO-15 is checked for the invoice currency's element (none: nothing to check).
    if d.currency.is_some() {
        match (t.tax_exclusive, t.tax_inclusive) {
            (Some(te), Some(ti)) => {
                // The CII binding also accepts a total with VAT equal to the one without.
                let cii_plain = d.syntax == super::Syntax::Cii && ti == te;
                match t.vat_total.and_then(|v| te.checked_add(v)).and_then(x2) {
                    _ if cii_plain => {}
                    // Exactly one VAT total in the invoice currency.
                    _ if t.vat_totals_in_currency != 1 => fail(
                        "BR-CO-15",
                        format!("{} VAT totals in the invoice currency; exactly one", t.vat_totals_in_currency),
                    ),
                    Some(e) if e == ti => {}
                    Some(e) => {
                        fail("BR-CO-15", format!("total with VAT (BT-112) {ti} differs from {e} = BT-109 + BT-110"))
                    }
                    None => fail(
                        "BR-CO-15",
                        format!("total with VAT (BT-112) {ti} cannot be BT-109 + BT-110: the total VAT amount (BT-110) in the invoice currency is missing"),
                    ),
                }
            }
            (te, ti) => fail("BR-CO-15", format!("total with VAT (BT-112) {ti:?} cannot be BT-109 {te:?} + BT-110")),
        }
    }
    match (t.tax_inclusive, t.payable) {
        (Some(ti), Some(p)) => {
            if let Some(e) = less_plus(ti, t.prepaid, t.rounding).filter(|e| *e != p) {
                fail("BR-CO-16", format!("amount due (BT-115) {p} differs from {e} = BT-112 − BT-113 + BT-114"));
            }
        }
        (ti, p) if t.given => {
            fail("BR-CO-16", format!("amount due (BT-115) {p:?} cannot be BT-112 {ti:?} − BT-113 + BT-114"))
        }
        _ => {}
    }
    // (CII asks it of each line: a document without lines is not asked.)
    if d.vat.is_empty() && (!cii || !d.lines.is_empty()) {
        fail("BR-CO-18", "the invoice has no VAT breakdown (BG-23)".into());
    }
    if let Some(tc) = &d.tax_currency {
        // (The CII binding also wants the accounting currency to differ from the invoice's.)
        let same = d.currency.as_ref() == Some(tc);
        if (t.vat_total_accounting.is_none() && !same) || (cii && same) {
            fail("BR-53", format!("the VAT total in the accounting currency {tc} (BT-111) is missing"));
        }
    }
    // (Asked of the seller's role element when it is there, with or without its party; the
    // VAT identifier's element counts.)
    let vat_element =
        d.seller
            .tax_schemes
            .iter()
            .any(|(s, _)| if cii { s == "VA" } else { s.xml_trim().eq_ignore_ascii_case("VAT") });
    if d.seller.role
        && missing(&d.seller.legal_id)
        && missing(&d.seller.vat_id)
        && missing(&d.seller.id)
        && !vat_element
    {
        fail("BR-CO-26", "the seller needs an identifier (BT-29), a legal registration identifier (BT-30) or a VAT identifier (BT-31)".into());
    }
    for (who, bt, p) in [
        ("seller", "BT-31", Some(&d.seller)),
        ("buyer", "BT-48", Some(&d.buyer)),
        ("tax representative", "BT-63", d.tax_rep.as_ref()),
    ] {
        // UBL: the identifier's first two characters are found in the list of prefixes; CII:
        // every VAT identifier element (scheme VA), however empty, begins with one of them.
        let bad: Vec<&str> = match (cii, p) {
            (false, Some(p)) => {
                p.vat_id.as_deref().filter(|v| !crate::model::ident::vat_prefix_ok(v)).into_iter().collect()
            }
            (true, Some(p)) => p
                .tax_schemes
                .iter()
                .filter(|(scheme, id)| scheme == "VA" && !crate::model::ident::vat_prefix_exact(id))
                .map(|(_, id)| id.as_str())
                .collect(),
            (_, None) => Vec::new(),
        };
        for vat in bad {
            fail(
                "BR-CO-09",
                format!("{who} VAT identifier ({bt}) `{vat}` has no ISO 3166-1 country prefix (EL for Greece)"),
            );
        }
    }
    for v in d.vat.iter().filter(|v| !category_only(v)) {
        let what = if v.category.is_empty() {
            "a VAT breakdown".to_string()
        } else {
            format!("the VAT breakdown of category {}", v.category)
        };
        if v.base.is_none() {
            fail("BR-45", format!("{what} has no taxable amount (BT-116)"));
        }
        if v.amount.is_none() {
            fail("BR-46", format!("{what} has no tax amount (BT-117)"));
        }
        if v.category.is_empty() || !v.category_vat {
            fail("BR-47", "a VAT breakdown has no VAT category code (BT-118) of the VAT scheme".into());
        }
        // A rate of the VAT scheme, but for category O.
        if !(v.category_vat && (v.rate.is_some() || v.category == "O")) {
            fail("BR-48", format!("{what} has no VAT rate (BT-119) of the VAT scheme"));
        }
        let amount = v.amount;
        let rounded_zero = |x: Option<Decimal>| x.and_then(xround).is_some_and(|x| x.is_zero());
        // The CII binding allows a difference of one; UBL less than one.
        let near = |a: Decimal, e: Decimal| within(a.abs(), e, Decimal::ONE, d.syntax == super::Syntax::Cii);
        let ok = match v.rate.filter(|_| v.category_vat) {
            Some(rate) if xround(rate).is_some_and(|r| r.is_zero()) => rounded_zero(amount),
            Some(rate) => match (
                amount,
                v.base.and_then(|b| b.abs().checked_mul(rate)).map(|x| x / Decimal::ONE_HUNDRED).and_then(x2),
            ) {
                (Some(a), Some(e)) => near(a, e),
                (_, None) if v.base.is_some() => {
                    fail(RANGE, range_message(&format!("the VAT of category {}", v.category)));
                    true
                }
                _ => false,
            },
            None => rounded_zero(amount),
        };
        if !ok {
            fail(
                "BR-CO-17",
                format!(
                    "VAT {:?} of category {} is not the taxable amount {:?} × the rate {:?} %, rounded",
                    v.amount, v.category, v.base, v.rate
                ),
            );
        }
        for (amount, rule) in [(v.base, "BR-DEC-19"), (v.amount, "BR-DEC-20")] {
            if let Some(a) = amount.filter(|a| decimals(*a) > 2) {
                fail(rule, format!("{a} has more than two decimals"));
            }
        }
        if let Some(code) = &v.exemption_code {
            if !codes::has(List::Vatex, &code.to_ascii_uppercase()) {
                fail("BR-CL-22", format!("exemption reason code `{code}` is not a VATEX code"));
            }
        }
    }
    for (v, rule) in [
        (t.line_total, "BR-DEC-09"),
        (t.allowance_total, "BR-DEC-10"),
        (t.charge_total, "BR-DEC-11"),
        (t.tax_exclusive, "BR-DEC-12"),
        (t.tax_inclusive, "BR-DEC-14"),
        (t.vat_total_accounting, "BR-DEC-15"),
        (t.prepaid, "BR-DEC-16"),
        (t.rounding, "BR-DEC-17"),
        (t.payable, "BR-DEC-18"),
    ] {
        if let Some(v) = v.filter(|v| decimals(*v) > 2) {
            fail(rule, format!("{v} has more than two decimals"));
        }
    }
    // BR-DEC-13 as the bindings have it: UBL's compares the VAT total's currency with a path
    // that finds nothing, so it never fails; CII's looks at the value (`1.500` passes) and is
    // met by any total in another currency.
    if let Some(v) = t.vat_total.filter(|v| cii && v.round_dp(2) != *v && t.vat_total_accounting.is_none()) {
        fail("BR-DEC-13", format!("{v} has more than two decimals"));
    }
    // References, delivery, payment.
    if d.preceding_without_id > 0 {
        fail("BR-55", "a preceding invoice reference (BG-3) has no invoice reference (BT-25)".into());
    }
    if d.references.iter().any(|r| r.id.is_none()) {
        fail("BR-52", "a supporting document (BG-24) has no reference (BT-122)".into());
    }
    if d.delivery_address && missing(&d.delivery_country) {
        fail("BR-57", "the deliver-to address (BG-15) has no country code (BT-80)".into());
    }
    for p in &d.payments {
        if let Some(card) = p.card.as_deref().filter(|c| c.xml_trim().chars().count() > 10) {
            fail(
                "BR-51",
                format!(
                    "the card number `{card}` is longer than the first six and last four digits a document may show"
                ),
            );
        }
        let code = p.code.as_deref().map(str::xml_trim);
        if missing(&p.code) {
            fail("BR-49", "a payment instruction (BG-16) has no payment means type code (BT-81)".into());
        }
        let transfer = matches!(code, Some("30" | "58"));
        // UBL looks for the account identifier's element in the payment instruction; CII in the
        // account group, when there is one (CII-SR-470 asks for it).
        if transfer && !p.account_id_given && (!cii || p.account_given) {
            fail("BR-61", "credit transfer (30, 58) needs the payment account identifier (BT-84)".into());
        }
        if transfer && p.account_given && p.account.is_none() {
            fail("BR-50", "the credit transfer account (BG-17) has no payment account identifier (BT-84)".into());
        }
        if let Some(c) = code.filter(|c| !codes::has(List::PaymentMeans, c)) {
            fail("BR-CL-16", format!("payment means code `{c}` is not in UNCL 4461"));
        }
    }
    for (who, rule, p) in [("seller", "BR-62", &d.seller), ("buyer", "BR-63", &d.buyer)] {
        if let Some((_, scheme)) = &p.endpoint {
            if scheme.xml_trim().is_empty() {
                fail(rule, format!("the {who} electronic address has no scheme identifier"));
            } else if !codes::has(List::Eas, scheme) {
                fail("BR-CL-25", format!("the {who} electronic address scheme `{scheme}` is not in the EAS list"));
            }
        }
    }
    // Code lists.
    let written: Vec<String>;
    let amount_currencies = match &d.amount_currencies {
        Some(read) => read,
        None => {
            // As the writers give them: every amount in the document currency (CII: the VAT
            // total), the VAT total in accounting currency in that one.
            let mut c: Vec<String> = std::iter::once(d.currency.clone().unwrap_or_default())
                .chain(d.tax_currency.clone().filter(|_| t.vat_total_accounting.is_some()))
                .collect();
            c.sort_unstable();
            c.dedup();
            written = c;
            &written
        }
    };
    for c in amount_currencies {
        if !codes::has(List::Currency, c) {
            fail("BR-CL-03", format!("the currency `{c}` of an amount is not an ISO 4217 code"));
        }
    }
    for s in &d.object_id_schemes {
        if !codes::has(List::ObjectScheme, s) {
            fail("BR-CL-07", format!("object identifier scheme `{s}` is not in UNTDID 1153"));
        }
    }
    for m in d.references.iter().filter_map(|r| r.mime.as_deref()) {
        if !MIME.contains(&m) {
            fail("BR-CL-24", format!("attachment MIME code `{m}` is not one EN 16931 allows"));
        }
    }
    for (who, p) in [("seller", Some(&d.seller)), ("buyer", Some(&d.buyer)), ("tax representative", d.tax_rep.as_ref())]
    {
        let Some(p) = p else { continue };
        for s in &p.id_schemes {
            // UBL also allows SEPA (a creditor identifier).
            let sepa = s == "SEPA" && d.syntax == super::Syntax::Ubl;
            if !(codes::has(List::Icd, s) || sepa) {
                fail("BR-CL-10", format!("{who} identifier scheme `{s}` is not an ISO 6523 ICD"));
            }
        }
        if let Some(s) = p.legal_id_scheme.as_deref().filter(|s| !codes::has(List::Icd, s)) {
            fail("BR-CL-11", format!("{who} legal registration identifier scheme `{s}` is not an ISO 6523 ICD"));
        }
    }
    for l in &d.lines {
        if let Some(c) = l.origin_country.as_deref().filter(|c| !codes::has(List::Country, c)) {
            fail("BR-CL-15", format!("line {}: country of origin `{c}` is not an ISO 3166-1 alpha-2 code", l.id));
        }
    }
    if let Some(c) = d.currency.as_deref().filter(|c| !codes::has(List::Currency, c)) {
        fail("BR-CL-04", format!("invoice currency code `{c}` is not an ISO 4217 code"));
    }
    if let Some(c) = d.tax_currency.as_deref().filter(|c| !codes::has(List::Currency, c)) {
        fail("BR-CL-05", format!("VAT accounting currency code `{c}` is not an ISO 4217 code"));
    }
    if let Some(c) = d.type_code.as_deref() {
        let list = match d.kind {
            super::Kind::Invoice => List::InvoiceType,
            super::Kind::CreditNote => List::CreditNoteType,
        };
        if !codes::has(list, c) {
            fail(
                "BR-CL-01",
                format!(
                    "document type code `{c}` is not a UNTDID 1001 {} code",
                    match d.kind {
                        super::Kind::Invoice => "invoice",
                        super::Kind::CreditNote => "credit note",
                    }
                ),
            );
        }
    }
    // UBL codes the VAT point date as UNTDID 2005 (3, 35, 432), CII as UNTDID 2475 (5, 29, 72).
    let (point_list, point_codes) = if cii {
        (List::VatPointEvent, "5, 29 or 72 (UNTDID 2475)")
    } else {
        (List::VatPointCode, "3, 35 or 432 (UNTDID 2005)")
    };
    if let Some(c) = d.tax_point_code.as_deref().filter(|c| !codes::has(point_list, c)) {
        fail("BR-CL-06", format!("VAT point date code `{c}` is not {point_codes}"));
    }
    for c in
        [&d.seller.country, &d.buyer.country, &d.delivery_country, &d.tax_rep.as_ref().and_then(|r| r.country.clone())]
            .into_iter()
            .flatten()
    {
        if !codes::has(List::Country, c) {
            fail("BR-CL-14", format!("country code `{c}` is not an ISO 3166-1 alpha-2 code"));
        }
    }
    for l in &d.lines {
        if let Some(u) = l.unit.as_deref().filter(|u| !codes::has(List::Unit, u)) {
            fail("BR-CL-23", format!("line {}: unit code `{u}` is not in UN/ECE Recommendation 20 or 21", l.id));
        }
        for (_, scheme) in &l.standard_ids {
            if let Some(s) = scheme.as_deref().filter(|s| !s.xml_trim().is_empty() && !codes::has(List::Icd, s)) {
                fail("BR-CL-21", format!("line {}: standard identifier scheme `{s}` is not an ISO 6523 ICD", l.id));
            }
        }
        for (_, scheme) in &l.classifications {
            if let Some(s) =
                scheme.as_deref().filter(|s| !s.xml_trim().is_empty() && !codes::has(List::ItemClassification, s))
            {
                fail("BR-CL-13", format!("line {}: classification scheme `{s}` is not in UNTDID 7143", l.id));
            }
        }
    }
    for (list_rule, c) in d
        .lines
        .iter()
        .filter_map(|l| l.category.as_deref().map(|c| ("BR-CL-18", c)))
        .chain(d.allowances.iter().filter_map(|a| a.category.as_deref().map(|c| ("BR-CL-17", c))))
        .chain(d.vat.iter().filter(|v| !v.category.is_empty()).map(|v| ("BR-CL-17", v.category.as_str())))
    {
        if !codes::has(List::VatCategory, c) {
            fail(list_rule, format!("VAT category code `{c}` is not in UNCL 5305"));
        }
    }
    categories(d, &mut fail);
    // PEPPOL BIS Billing 3.0.
    if peppol {
        peppol_rules(d, &mut fail);
        for c in amount_currencies {
            if !codes::has(List::Currency, c) {
                fail("PEPPOL-EN16931-CL007", format!("the currency `{c}` of an amount is not an ISO 4217 code"));
            }
            let vat_acc = d.tax_currency.as_deref() == Some(c.as_str()) && t.vat_total_accounting.is_some();
            if d.currency_written.as_ref().or(d.currency.as_ref()) != Some(c) && !vat_acc {
                fail("PEPPOL-EN16931-R051", format!("an amount is in {c}, not in the invoice currency"));
            }
        }
    }
    f
}

/// The VAT category rules (BR-S-*, BR-Z-*, BR-E-*, BR-AE-*, BR-IC-*, BR-G-*, BR-O-*, BR-AF-*,
/// BR-AG-*), as the official rules state them.
fn categories(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    // The identifiers as the rules find them: by their elements, however empty (UBL: a party
    // tax scheme's CompanyID, of the VAT scheme or any; CII: a tax registration of scheme VA, or
    // VA or FC).
    let cii = d.syntax == super::Syntax::Cii;
    let has = |p: Option<&super::Party>, vat_only: bool| {
        p.is_some_and(|p| {
            p.tax_schemes.iter().any(|(s, _)| match (cii, vat_only) {
                (false, true) => s.xml_trim().eq_ignore_ascii_case("VAT"),
                (false, false) => true,
                (true, true) => s == "VA",
                (true, false) => s == "VA" || s == "FC",
            })
        })
    };
    let seller_any = has(Some(&d.seller), false);
    let rep_vat = has(d.tax_rep.as_ref(), true);
    let seller_vat = has(Some(&d.seller), true);
    let buyer_vat = has(Some(&d.buyer), true);
    let buyer_vat_or_legal = buyer_vat || d.buyer.legal_id.is_some();
    let in_lines = |c: &str| d.lines.iter().any(|l| line_cat(l) == Some(c));
    let in_charges =
        |c: &str, charge: bool| d.allowances.iter().any(|a| a.charge == charge && charge_cat(a) == Some(c));
    let in_breakdown = |c: &str| d.vat.iter().filter(|v| v.category_vat && v.category == c).count();
    // BR-S-01 counts categories whatever their scheme.
    let used_any = |c: &str| {
        d.lines.iter().any(|l| l.category.as_deref() == Some(c))
            || d.allowances.iter().any(|a| a.category.as_deref() == Some(c))
    };
    // The categories the document names anywhere (of any scheme): one it does not name breaks
    // none of the rules below (nothing of it to count, no breakdown of it to need).
    let mut named: Vec<&str> = Vec::new();
    let codes = d.lines.iter().map(|l| l.category.as_deref()).chain(d.allowances.iter().map(|a| a.category.as_deref()));
    for c in codes.flatten().chain(d.vat.iter().map(|v| v.category.as_str())) {
        if !named.contains(&c) {
            named.push(c);
        }
    }
    for &(c, ..) in super::catalog::CATEGORIES {
        if !named.contains(&c) {
            continue;
        }
        let id = |n: &str| rule_of(c, n);
        let name = super::catalog::category_name(c);
        let used = in_lines(c) || in_charges(c, false) || in_charges(c, true);
        let breakdown = in_breakdown(c);
        // 01: the category in the breakdown (S, L, M: at least once; the others exactly once).
        let ok = if d.syntax == super::Syntax::Cii {
            // The CII binding counts trade taxes of the category whatever their type: lines
            // (or allowances and charges) of S, L or M and the breakdown rows make two at least;
            // the other categories take one row exactly, with lines or charges of it (O: no row
            // at all is also right).
            let lines = d.lines.iter().filter(|l| l.category.as_deref() == Some(c)).count();
            let charges = d.allowances.iter().filter(|a| a.category.as_deref() == Some(c)).count();
            let rows = d.vat.iter().filter(|v| v.category == c).count();
            match c {
                "S" | "L" | "M" => (lines == 0 || lines + rows >= 2) && (charges == 0 || charges + rows >= 2),
                "O" => rows == 0 || (rows == 1 && lines + charges > 0),
                _ => (rows == 0 && lines + charges == 0) || (rows == 1 && lines + charges > 0),
            }
        } else {
            match c {
                "S" => used_any(c) == d.vat.iter().any(|v| v.category == c),
                "L" | "M" => used == (breakdown > 0),
                _ => !(used || breakdown > 0) || breakdown == 1,
            }
        };
        if !ok {
            fail(&id("01"), format!("lines or allowances and charges of category {c} ({name}) need {} VAT breakdown of category {c}, and a breakdown of it needs them", if matches!(c, "S" | "L" | "M") { "a" } else { "exactly one" }));
        }
        // 02, 03, 04: the identifiers a document with the category needs (O: must not have).
        let parties_ok = match c {
            "S" | "Z" | "E" | "L" | "M" => seller_any || rep_vat,
            "AE" => (seller_any || rep_vat) && buyer_vat_or_legal,
            "K" => (seller_vat || rep_vat) && buyer_vat,
            "G" => seller_vat || rep_vat,
            "O" => !(seller_vat || rep_vat || buyer_vat),
            _ => true,
        };
        let need = match c {
            "S" | "Z" | "E" | "L" | "M" => "the Seller VAT identifier (BT-31), tax registration identifier (BT-32) or tax representative VAT identifier (BT-63)",
            "AE" => "the Seller VAT identifier (BT-31), tax registration identifier (BT-32) or tax representative VAT identifier (BT-63), and the Buyer VAT identifier (BT-48) or legal registration identifier (BT-47)",
            "K" => "the Seller VAT identifier (BT-31) or tax representative VAT identifier (BT-63), and the Buyer VAT identifier (BT-48)",
            "G" => "the Seller VAT identifier (BT-31) or tax representative VAT identifier (BT-63)",
            _ => "no Seller VAT identifier (BT-31), tax representative VAT identifier (BT-63) or Buyer VAT identifier (BT-48)",
        };
        // UBL's BR-S-02 also fails a document whose lines of S are all of another tax scheme.
        let s_of_other_scheme =
            !cii && c == "S" && !in_lines(c) && d.lines.iter().any(|l| l.category.as_deref() == Some("S"));
        for (n, present, what) in [
            ("02", in_lines(c), "lines"),
            ("03", in_charges(c, false), "allowances"),
            ("04", in_charges(c, true), "charges"),
        ] {
            if present && !parties_ok {
                fail(&id(n), format!("{what} of category {c} ({name}) need {need}"));
            } else if n == "02" && s_of_other_scheme {
                fail(&id(n), format!("lines of category {c} ({name}) need the VAT tax scheme"));
            }
        }
        // 05, 06, 07: the rate of lines, allowances and charges.
        let rate_ok = |rate: Option<Decimal>| match c {
            "S" => rate.is_some_and(|r| r > Decimal::ZERO),
            // The CII binding asks more than zero of L (IGIC).
            "L" if cii => rate.is_some_and(|r| r > Decimal::ZERO),
            "L" | "M" => rate.is_some_and(|r| r >= Decimal::ZERO),
            "O" => rate.is_none(),
            _ => rate.is_some_and(|r| r.is_zero()),
        };
        let want = match c {
            "S" => "above zero",
            "L" | "M" => "zero or more",
            "O" => "absent",
            _ => "zero",
        };
        for l in d.lines.iter().filter(|l| line_cat(l) == Some(c) && !rate_ok(l.rate)) {
            fail(&id("05"), format!("line {}: the VAT rate of category {c} must be {want}, not {:?}", l.id, l.rate));
        }
        for a in d.allowances.iter().filter(|a| charge_cat(a) == Some(c) && !rate_ok(a.rate)) {
            let (n, what) = if a.charge { ("07", "charge") } else { ("06", "allowance") };
            fail(
                &id(n),
                format!("a document-level {what}'s VAT rate of category {c} must be {want}, not {:?}", a.rate),
            );
        }
    }
    if d.vat.iter().any(|v| v.category_vat && v.category == "O") {
        if d.vat.iter().any(|v| v.category_vat && v.category != "O") {
            fail("BR-O-11", "a VAT breakdown of category O (not subject to VAT) allows no other breakdown".into());
        }
        if d.lines.iter().any(|l| line_cat(l).is_some_and(|c| c != "O")) {
            fail("BR-O-12", "with a VAT breakdown of category O every line is of category O".into());
        }
        if d.allowances.iter().any(|a| !a.charge && charge_cat(a).is_some_and(|c| c != "O")) {
            fail(
                "BR-O-13",
                "with a VAT breakdown of category O every document-level allowance is of category O".into(),
            );
        }
        if d.allowances.iter().any(|a| a.charge && charge_cat(a).is_some_and(|c| c != "O")) {
            fail("BR-O-14", "with a VAT breakdown of category O every document-level charge is of category O".into());
        }
    }
    // Category B (Italian split payment): only between Italian addresses, never with S. The
    // rules compare the codes as written, whatever their scheme.
    let b = |c: &str| {
        d.lines.iter().any(|l| l.category.as_deref() == Some(c))
            || d.allowances.iter().any(|a| a.category.as_deref() == Some(c))
            || d.vat.iter().any(|v| v.category == c)
    };
    if b("B") {
        let countries = [&d.seller.country, &d.buyer.country, &d.delivery_country]
            .into_iter()
            .chain(d.tax_rep.as_ref().map(|r| &r.country))
            .flatten()
            .chain(d.lines.iter().filter_map(|l| l.origin_country.as_ref()));
        let mut outside = countries.filter(|c| c.as_str() != "IT").peekable();
        if let Some(c) = outside.peek() {
            fail(
                "BR-B-01",
                format!(
                    "split payment (category B) is only for Italian domestic invoices; the document names country {c}"
                ),
            );
        }
        if b("S") {
            fail("BR-B-02", "split payment (category B) and standard rate (S) exclude each other".into());
        }
    }
    // 08, 09, 10: each breakdown row against its lines, its amount, its exemption reason.
    for v in d.vat.iter().filter(|v| v.category_vat) {
        let c = v.category.as_str();
        if !super::catalog::CATEGORIES.iter().any(|(code, ..)| *code == c) {
            continue;
        }
        let id = |n: &str| rule_of(c, n);
        let by_rate = matches!(c, "S" | "L" | "M");
        let same = |cat: Option<&str>, rate: Option<Decimal>| cat == Some(c) && (!by_rate || rate == v.rate);
        let cii = d.syntax == super::Syntax::Cii;
        // The lines, charges and allowances of the row (CII rounds each sum to the cent).
        let part = |sum: Option<Decimal>| if cii { sum.and_then(x2) } else { sum };
        let lines =
            part(csum(d.lines.iter().filter(|l| same(l.category.as_deref(), l.rate)).filter_map(|l| l.net_amount)));
        let charges = part(csum(
            d.allowances.iter().filter(|a| a.charge && same(a.category.as_deref(), a.rate)).filter_map(|a| a.amount),
        ));
        let allowances = part(csum(
            d.allowances.iter().filter(|a| !a.charge && same(a.category.as_deref(), a.rate)).filter_map(|a| a.amount),
        ));
        let base = match (lines, charges, allowances) {
            (Some(l), Some(c), Some(a)) => l.checked_add(c).and_then(|x| x.checked_sub(a)),
            _ => None,
        };
        let Some(base) = base else {
            fail(RANGE, range_message(&format!("the taxable amount of category {c}")));
            continue;
        };
        // Rows with a rate are checked rate by rate (none without a rate); UBL within one for
        // those and exactly for the others, CII exactly for those and within one for the others.
        let exact = by_rate == cii;
        // The CII binding's rules 08 and 09 of L and M check nothing (their rate is looked for
        // beside the row, not in it; 09 is `true()`).
        let lm_cii = cii && matches!(c, "L" | "M");
        let checked = (!by_rate || v.rate.is_some()) && !lm_cii;
        // UBL's window of one is computed in binary floating point (`TaxableAmount - 1` of an
        // untyped value is a double): the same arithmetic decides a difference of one exactly.
        let window = |b: Decimal| {
            let f: f64 = b.to_string().parse().unwrap_or(f64::NAN);
            match (Decimal::from_f64_retain(f - 1.0), Decimal::from_f64_retain(f + 1.0)) {
                (Some(lo), Some(hi)) => lo < base && hi > base,
                _ => within(b, base, Decimal::ONE, false),
            }
        };
        let differs = |b: Decimal| match (exact, by_rate && !cii) {
            (true, _) => b != base,
            (false, true) => !window(b),
            (false, false) => !within(b, base, Decimal::ONE, false),
        };
        if checked && v.base.is_none_or(differs) {
            fail(
                &id("08"),
                format!("taxable amount {:?} of category {c} differs from the lines' and allowances' {base}", v.base),
            );
        }
        let exempt = v.exemption_code.is_some() || v.exemption_reason.is_some();
        match c {
            "S" | "Z" | "L" | "M" if exempt => fail(&id("10"), format!("category {c} takes no exemption reason")),
            "E" | "AE" | "K" | "G" | "O" if !exempt => {
                fail(&id("10"), format!("category {c} needs an exemption reason (BT-120) or code (BT-121)"))
            }
            _ => {}
        }
        if matches!(c, "Z" | "E" | "AE" | "K" | "G" | "O") && v.amount.is_some_and(|a| !a.is_zero()) {
            fail(&id("09"), format!("VAT of category {c} must be zero, not {:?}", v.amount));
        }
        if by_rate && !lm_cii {
            let e = v
                .base
                .zip(v.rate)
                .and_then(|(b, r)| b.abs().checked_mul(r))
                .map(|x| x / Decimal::ONE_HUNDRED)
                .and_then(x2);
            let ok = matches!((v.amount, e), (Some(a), Some(e)) if within(a.abs(), e, Decimal::ONE, false));
            if !ok {
                fail(
                    &id("09"),
                    format!(
                        "VAT {:?} of category {c} is not the taxable amount {:?} × {:?} %",
                        v.amount, v.base, v.rate
                    ),
                );
            }
        }
        if c == "K" {
            let period = d.invoice_period.as_ref().is_some_and(|p| p.start.is_some() || p.end.is_some());
            if d.delivery_date.as_deref().is_none_or(|x| x.len() < 2) && !period {
                fail(
                    "BR-IC-11",
                    "an intra-community supply needs the actual delivery date (BT-72) or an invoicing period (BG-14)"
                        .into(),
                );
            }
            if d.delivery_country.as_deref().is_none_or(|x| x.len() < 2) {
                fail("BR-IC-12", "an intra-community supply needs the deliver-to country (BT-80)".into());
            }
        }
    }
}

/// The MIME codes of attachments EN 16931 (BR-CL-24) and PEPPOL (PEPPOL-EN16931-CL001) allow.
const MIME: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.spreadsheet",
];

/// What a PEPPOL BIS Billing 3.0 document's specification identifier (BT-24) contains.
const PEPPOL_BILLING: &str = "urn:fdc:peppol.eu:2017:poacc:billing:3.0";

/// Whether the PEPPOL BIS Billing 3.0 rules apply: to UBL documents that declare it (as the
/// official validation applies them with `--peppol auto`; PEPPOL BIS 3 is a UBL specification).
pub fn peppol_applies(d: &Doc) -> bool {
    d.syntax == super::Syntax::Ubl && d.customization.as_deref().is_some_and(|c| c.contains(PEPPOL_BILLING))
}

/// PEPPOL BIS Billing 3.0 rules on identifiers, profiles, currencies, periods, references and
/// electronic addresses.
fn peppol_rules(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    let missing = |v: &Option<String>| !nonempty(v);
    if let Some(n) = d.empty_elements.filter(|n| *n > 0) {
        fail("PEPPOL-EN16931-R008", format!("the document has {n} empty element{}", if n == 1 { "" } else { "s" }));
    }
    let customization = d.customization.as_deref().unwrap_or("").xml_trim();
    if !customization.starts_with(super::PEPPOL_CUSTOMIZATION) || customization.contains("::") {
        fail(
            "PEPPOL-EN16931-R004",
            format!("specification identifier `{customization}` must begin with {}", super::PEPPOL_CUSTOMIZATION),
        );
    }
    let profile = match d.profile.as_deref().map(str::xml_trim) {
        Some(
            super::PEPPOL_PROFILE | "urn:peppol:france:billing:regulated" | "urn:peppol:france:billing:non-regulated",
        ) => Some(1),
        Some("urn:peppol:bis:billing_with_response") => Some(2),
        _ => None,
    };
    if d.profile.is_none() {
        fail("PEPPOL-EN16931-R001", "business process (BT-23) must be provided".into());
    }
    if profile.is_none() {
        fail(
            "PEPPOL-EN16931-R007",
            format!("business process `{}` is not an approved identifier", d.profile.as_deref().unwrap_or("")),
        );
    }
    if let (Some(_), Some(code)) = (profile, d.type_code.as_deref().map(str::xml_trim)) {
        const INVOICE: &[&str] = &[
            "71", "80", "82", "84", "102", "218", "219", "326", "331", "380", "382", "383", "384", "386", "388", "393",
            "395", "553", "575", "623", "780", "817", "870", "875", "876", "877",
        ];
        const CREDIT_NOTE: &[&str] = &["381", "396", "81", "83", "532"];
        match d.kind {
            super::Kind::Invoice if d.syntax == super::Syntax::Ubl && !INVOICE.contains(&code) => {
                fail("PEPPOL-EN16931-P0100", format!("invoice type code `{code}` is not one the profile allows"))
            }
            super::Kind::CreditNote if d.syntax == super::Syntax::Ubl && !CREDIT_NOTE.contains(&code) => {
                fail("PEPPOL-EN16931-P0101", format!("credit note type code `{code}` is not one the profile allows"))
            }
            _ => {}
        }
    }
    let german = super::national::german_parties(d);
    if d.kind == super::Kind::Invoice
        && matches!(d.type_code.as_deref().map(str::xml_trim), Some("326" | "384"))
        && !german
    {
        fail("PEPPOL-EN16931-P0112", "invoice type codes 326 and 384 are only for a German seller and buyer".into());
    }
    if d.notes.len() > 1 && !german {
        fail(
            "PEPPOL-EN16931-R002",
            format!("{} invoice notes (BT-22); at most one unless seller and buyer are German", d.notes.len()),
        );
    }
    if d.kind == super::Kind::CreditNote
        && d.references.iter().filter(|r| r.type_code.as_deref() == Some("50")).count() > 1
    {
        fail("PEPPOL-EN16931-R080", "at most one project reference (a document reference of type 50)".into());
    }
    // Allowances and charges: percentage and base amount together, and the amount theirs.
    let charges =
        d.allowances.iter().map(|a| ("document-level", a.amount, a.base, a.percent, a.charge, &a.reason_code)).chain(
            d.lines.iter().flat_map(|l| {
                l.allowances.iter().map(|a| ("line", a.amount, a.base, a.percent, a.charge, &a.reason_code))
            }),
        );
    for (level, amount, base, percent, charge, reason_code) in charges {
        let what = if charge { "charge" } else { "allowance" };
        match (base, percent) {
            (Some(b), Some(p)) => {
                let expected = b.checked_mul(p).map(|x| x / Decimal::ONE_HUNDRED);
                let a = amount.unwrap_or_default();
                if expected.is_none_or(|e| (a - e).abs() > Decimal::new(2, 2)) {
                    fail(
                        "PEPPOL-EN16931-R040",
                        format!("a {level} {what} of {a} is not its base {b} × {p} % (within 0.02)"),
                    );
                }
            }
            (None, Some(p)) => fail("PEPPOL-EN16931-R041", format!("a {level} {what} of {p} % needs its base amount")),
            (Some(b), None) => {
                fail("PEPPOL-EN16931-R042", format!("a {level} {what} on base {b} needs its percentage"))
            }
            (None, None) => {}
        }
        if let Some(code) = reason_code {
            let (list, rule) = if charge {
                (List::ChargeReason, "PEPPOL-EN16931-CL003")
            } else {
                (List::AllowanceReason, "PEPPOL-EN16931-CL002")
            };
            if !codes::has(list, code) {
                fail(rule, format!("{level} {what} reason code `{code}` is not in its code list"));
            }
        }
    }
    for l in &d.lines {
        if let Some(gross) = l.gross_price {
            let net = l.price.zip(l.price_discount).map(|(p, x)| (p, gross - x));
            if net.is_none_or(|(p, e)| p != e) {
                fail(
                    "PEPPOL-EN16931-R046",
                    format!(
                        "line {}: the net price {:?} is not the gross price {gross} less the price discount {:?}",
                        l.id, l.price, l.price_discount
                    ),
                );
            }
        }
    }
    // The tax totals of a document built to be written (a read one's are counted on its tree,
    // syntax::peppol): the writers write one for the VAT total, with the breakdown when
    // there is one, and one for the VAT total in accounting currency when there is one.
    if d.amount_currencies.is_none() {
        if d.vat.is_empty() {
            fail("PEPPOL-EN16931-R053", "0 tax totals with a VAT breakdown; exactly one".into());
        }
        let without = usize::from(d.vat.is_empty())
            + usize::from(d.tax_currency.is_some() && d.totals.vat_total_accounting.is_some());
        let expected = usize::from(d.tax_currency.is_some());
        if without != expected {
            fail(
                "PEPPOL-EN16931-R054",
                format!("{without} tax totals without a VAT breakdown; {expected} with this VAT accounting currency"),
            );
        }
    }
    if d.tax_currency.is_some() {
        let same_sign = match (d.totals.vat_total, d.totals.vat_total_accounting) {
            (Some(a), Some(b)) => {
                (a <= Decimal::ZERO && b <= Decimal::ZERO) || (a >= Decimal::ZERO && b >= Decimal::ZERO)
            }
            _ => false,
        };
        if !same_sign {
            fail(
                "PEPPOL-EN16931-R055",
                format!(
                    "the VAT total {:?} and the VAT total in accounting currency {:?} must have the same sign",
                    d.totals.vat_total, d.totals.vat_total_accounting
                ),
            );
        }
    }
    for p in &d.payments {
        let code = p.code.as_deref().map(str::xml_trim).unwrap_or("");
        if matches!(code, "49" | "59") && p.mandate.as_ref().is_none_or(|m| m.0.is_none()) {
            fail("PEPPOL-EN16931-R061", format!("direct debit ({code}) needs the mandate reference (BT-89)"));
        }
    }
    for m in d.references.iter().filter_map(|r| r.mime.as_deref()).filter(|m| !MIME.contains(m)) {
        fail("PEPPOL-EN16931-CL001", format!("attachment MIME code `{m}` is not one PEPPOL allows"));
    }
    if let Some(c) = d.tax_point_code.as_deref().filter(|c| !codes::has(List::VatPointCode, c)) {
        fail("PEPPOL-EN16931-CL006", format!("invoicing period description code `{c}` is not 3, 35 or 432"));
    }
    super::national::rules(d, fail);
    if let (Some(tc), Some(c)) = (&d.tax_currency, &d.currency) {
        if tc.xml_trim() == c.xml_trim() {
            fail(
                "PEPPOL-EN16931-R005",
                format!("the VAT accounting currency {tc} must differ from the invoice currency"),
            );
        }
    }
    for l in &d.lines {
        if l.base_quantity.is_some_and(|b| b <= Decimal::ZERO) {
            fail("PEPPOL-EN16931-R121", format!("line {}: the base quantity must be above zero", l.id));
        }
        if let (Some(lp), Some(ip)) = (&l.period, &d.invoice_period) {
            if let (Some(ls), Some(is)) = (&lp.start, &ip.start) {
                if ls < is {
                    fail(
                        "PEPPOL-EN16931-R110",
                        format!("line {}: its period starts ({ls}) before the invoicing period ({is})", l.id),
                    );
                }
            }
            if let (Some(le), Some(ie)) = (&lp.end, &ip.end) {
                if le > ie {
                    fail(
                        "PEPPOL-EN16931-R111",
                        format!("line {}: its period ends ({le}) after the invoicing period ({ie})", l.id),
                    );
                }
            }
        }
    }
    if missing(&d.buyer_reference) && missing(&d.order_reference) {
        fail(
            "PEPPOL-EN16931-R003",
            "a buyer reference (BT-10) or purchase order reference (BT-13) must be provided".into(),
        );
    }
    if d.buyer.given && d.buyer.endpoint.is_none() {
        fail("PEPPOL-EN16931-R010", "buyer electronic address (BT-49) must be provided".into());
    }
    if d.seller.given && d.seller.endpoint.is_none() {
        fail("PEPPOL-EN16931-R020", "seller electronic address (BT-34) must be provided".into());
    }
    for (who, p) in [("seller", &d.seller), ("buyer", &d.buyer)] {
        if let Some((_, scheme)) = p.endpoint.as_ref().filter(|(_, s)| !s.is_empty() && !EAS.contains(&s.as_str())) {
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
                    format!("{who} identifier `{}` (scheme {scheme}) is not {}", id.xml_trim(), problem.expected),
                );
            }
        }
        if let Some(vat) = p.vat_id.as_deref().filter(|v| !crate::model::ident::dutch_vat_ok(v)) {
            fail("PEPPOL-COMMON-R056-2", format!("{who} VAT identifier `{vat}` is not NL, 9 digits, B, 2 digits"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x2` gives what rounding and dividing by 100 gives, value and scale (the messages print
    /// it), on amounts of every sign, size and number of decimals.
    #[test]
    fn rounding_to_cents_is_the_division_by_a_hundred() {
        let divided = |d: Decimal| Some(xround(d.checked_mul(Decimal::ONE_HUNDRED)?)? / Decimal::ONE_HUNDRED);
        let mut compared = 0;
        for m in (-25_000i64..25_000).step_by(7).chain([0, 1, -1, 99, 100, 101, 999_999_999_999]) {
            for scale in 0..=6 {
                let d = Decimal::new(m, scale);
                let (got, want) = (x2(d), divided(d));
                assert_eq!(got.map(|g| g.to_string()), want.map(|w| w.to_string()), "{d}");
                compared += 1;
            }
        }
        assert_eq!(compared, (50_000 / 7 + 1 + 7) * 7);
    }
}
