//! The national rules of PEPPOL BIS Billing 3.0 (Germany, the Netherlands, Norway, Italy,
//! Sweden, Denmark, Iceland, Greece), on the semantic model. They apply, as the PEPPOL rules
//! do, to UBL documents that declare PEPPOL BIS Billing 3.0; each decides by the countries of
//! seller and buyer, as the official rules do (mostly the postal address's country; Norway,
//! Italy and Greece by the VAT identifier's prefix first).

use super::xml::XmlTrim;
use rust_decimal::Decimal;

use super::{Doc, Kind, Party};
use crate::model::ident::{digits as all_digits, se_orgnr as swedish_org_ok};

/// A trimmed, non-blank text.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::xml_trim).filter(|s| !s.is_empty())
}

fn country(p: &Party) -> Option<String> {
    given(&p.country).map(str::to_ascii_uppercase)
}

/// The first two letters of a VAT identifier, upper case.
fn vat_prefix(p: &Party) -> Option<String> {
    let v = given(&p.vat_id)?;
    Some(v.chars().take(2).collect::<String>().to_uppercase())
}

/// The country of the seller as PEPPOL's `supplierCountry` has it: the VAT identifier's
/// prefix, else the tax representative's, else the postal address's country.
fn seller_country(d: &Doc) -> Option<String> {
    vat_prefix(&d.seller).or_else(|| d.tax_rep.as_ref().and_then(vat_prefix)).or_else(|| country(&d.seller))
}

/// The buyer's: the VAT identifier's prefix, else the address's country.
fn buyer_country(d: &Doc) -> Option<String> {
    vat_prefix(&d.buyer).or_else(|| country(&d.buyer))
}

/// XPath `number(s) != NaN`: an optionally signed decimal number, blanks around allowed.
fn is_number(s: &str) -> bool {
    let t = s.xml_trim();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    (!int.is_empty() || !frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// An IBAN: two letters, two digits, up to 30 letters or digits, and the check digits right
/// (ISO 13616, modulo 97), blanks ignored (DE-R-019, DE-R-020).
pub fn iban_ok(v: &str) -> bool {
    let s: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    let b = s.as_bytes();
    if b.len() < 4
        || b.len() > 34
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b[4..].iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let v = if c.is_ascii_digit() { u32::from(c - b'0') } else { u32::from(c.to_ascii_uppercase() - b'A') + 10 };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// Greek tax number (`u:TinVerification`): nine digits, the last the weighted sum of the first
/// eight (weights 256 … 2) modulo 11, modulo 10.
pub fn greek_tin_ok(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() < 9 || !b[..9].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..8].iter().enumerate().map(|(i, &d)| u32::from(d - b'0') << (8 - i)).sum();
    (sum % 11) % 10 == u32::from(b[8] - b'0')
}

/// A German cash discount line (`#SKONTO#TAGE=N#PROZENT=N.NN#` with an optional
/// `BASISBETRAG=-N.NN#`), as XRechnung's regular expression has it.
fn skonto_line(l: &str) -> bool {
    let Some(rest) = l.strip_prefix("#SKONTO#TAGE=") else { return false };
    let Some((days, rest)) = rest.split_once("#PROZENT=") else { return false };
    let two_decimals = |s: &str| s.split_once('.').is_some_and(|(i, f)| all_digits(i) && f.len() == 2 && all_digits(f));
    let Some(rest) = rest.strip_suffix('#') else { return false };
    let (percent, base) = match rest.split_once("#BASISBETRAG=") {
        Some((p, b)) => (p, Some(b)),
        None => (rest, None),
    };
    all_digits(days) && two_decimals(percent) && base.is_none_or(|b| two_decimals(b.strip_prefix('-').unwrap_or(b)))
}

/// DE-R-018: when a line of the payment terms begins with `#`, every such line is a cash
/// discount line, and the text after the last `#…#` of a line begins with blanks holding a line
/// break (`tokenize(., '#.+#')[last()]` matches `^\s*\n`).
fn skonto_ok(terms: &str) -> bool {
    let normal = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut hash_lines = terms.split('\n').map(normal).filter(|l| l.starts_with('#')).peekable();
    if hash_lines.peek().is_none() {
        return true;
    }
    if !hash_lines.all(|l| skonto_line(&l)) {
        return false;
    }
    let mut tail_at = 0;
    let mut at = 0;
    for line in terms.split('\n') {
        if line.matches('#').count() >= 2 {
            tail_at = at + line.rfind('#').map_or(0, |i| i + 1);
        }
        at += line.len() + 1;
    }
    terms[tail_at..].chars().take_while(|c| c.is_whitespace()).any(|c| c == '\n')
}

/// `^[^@\s]+@([^@.\s]+\.)+[^@.\s]+$`.
fn email_ok(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else { return false };
    let bad = |c: char| c == '@' || c.is_whitespace();
    if local.is_empty() || local.chars().any(bad) {
        return false;
    }
    let parts: Vec<&str> = domain.split('.').collect();
    parts.len() >= 2 && parts.iter().all(|p| !p.is_empty() && !p.chars().any(bad))
}

/// `^([a-zA-Z])([a-zA-Z0-9+.-])+:.*`.
fn url_ok(u: &str) -> bool {
    let Some((scheme, _)) = u.split_once(':') else { return false };
    let mut c = scheme.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic())
        && scheme.len() >= 2
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '+' | '.' | '-'))
}

/// The national rules (see the module documentation).
pub(super) fn rules(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    germany(d, fail);
    netherlands(d, fail);
    norway_italy(d, fail);
    sweden(d, fail);
    denmark(d, fail);
    iceland(d, fail);
    greece(d, fail);
}

/// Whether seller and buyer are both in Germany (by their addresses).
pub(super) fn german_parties(d: &Doc) -> bool {
    country(&d.seller).as_deref() == Some("DE") && country(&d.buyer).as_deref() == Some("DE")
}

fn germany(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    if !german_parties(d) {
        return;
    }
    let de = "seller and buyer are in Germany";
    if d.payments.is_empty() {
        fail("DE-R-001", format!("{de}: payment instructions (BG-16) must be given"));
    }
    if given(&d.buyer_reference).is_none() {
        fail("DE-R-015", format!("{de}: the buyer reference (BT-10) must be given"));
    }
    const CODES: &[&str] = &["S", "Z", "E", "AE", "K", "G", "L", "M"];
    let vat_codes = d
        .allowances
        .iter()
        .filter(|a| a.charge || a.category_vat)
        .filter_map(|a| a.category.as_deref())
        .chain(d.lines.iter().filter_map(|l| l.category.as_deref()))
        .any(|c| CODES.contains(&c));
    let identified = d.tax_rep.is_some() || d.seller.tax_schemes.iter().any(|(_, id)| !id.xml_trim().is_empty());
    if vat_codes && !identified {
        fail(
            "DE-R-016",
            format!("{de}: with VAT categories S, Z, E, AE, K, G, L or M the seller's VAT identifier (BT-31), tax registration (BT-32) or tax representative (BG-11) must be given"),
        );
    }
    const TYPES: &[&str] = &["326", "380", "384", "389", "381", "875", "876", "877"];
    if !d.type_code.as_deref().is_some_and(|t| TYPES.contains(&t.xml_trim())) {
        fail(
            "DE-R-017",
            format!("{de}: the type code should be 326, 380, 384, 389, 381, 875, 876 or 877, not {:?}", d.type_code),
        );
    }
    if let Some(terms) = d.payment_terms.as_deref().filter(|t| !skonto_ok(t)) {
        fail(
            "DE-R-018",
            format!("{de}: cash discount lines of the payment terms (BT-20) must read `#SKONTO#TAGE=N#PROZENT=N.NN#` and end with a line break: `{}`", terms.xml_trim()),
        );
    }
    let mut names: Vec<&str> = Vec::new();
    for r in &d.references {
        if let Some(f) = r.filename.as_deref() {
            if names.contains(&f) {
                fail("DE-R-022", format!("{de}: attached documents need distinct file names; `{f}` repeats"));
            }
            names.push(f);
        }
        if let Some(u) = r.uri.as_deref().filter(|u| !url_ok(u)) {
            fail("DE-R-T02", format!("{de}: the external document location `{u}` (BT-124) is not an absolute URL"));
        }
    }
    if d.type_code.as_deref().map(str::xml_trim) == Some("384")
        && d.preceding_invoice.is_none()
        && d.preceding_without_id == 0
    {
        fail("DE-R-026", format!("{de}: a corrected invoice (384) should reference the preceding invoice (BG-3)"));
    }
    if d.payments.iter().any(|p| p.mandate.is_some()) {
        if given(&d.creditor_id).is_none() {
            fail("DE-R-030", format!("{de}: a direct debit needs the bank assigned creditor identifier (BT-90)"));
        }
        if !d.payments.iter().any(|p| p.mandate.as_ref().is_some_and(|m| m.1.is_some())) {
            fail("DE-R-031", format!("{de}: a direct debit needs the debited account identifier (BT-91)"));
        }
    }
    match &d.seller.contact {
        None => fail("DE-R-002", format!("{de}: the seller contact (BG-6) must be given")),
        Some((name, phone, email)) => {
            for (rule, v, what) in [
                ("DE-R-005", name, "contact point (BT-41)"),
                ("DE-R-006", phone, "telephone number (BT-42)"),
                ("DE-R-007", email, "e-mail address (BT-43)"),
            ] {
                if given(v).is_none() {
                    fail(rule, format!("{de}: the seller's {what} must be given"));
                }
            }
            let phone = given(phone).unwrap_or("");
            if phone.bytes().filter(u8::is_ascii_digit).count() < 3 {
                fail(
                    "DE-R-027",
                    format!("{de}: the seller's telephone number `{phone}` should have three digits at least"),
                );
            }
            let email = given(email).unwrap_or("");
            if !email_ok(&email.split_whitespace().collect::<Vec<_>>().join(" ")) {
                fail("DE-R-028", format!("{de}: the seller's e-mail address `{email}` should be one address"));
            }
        }
    }
    for (p, city_rule, zip_rule, who) in
        [(&d.seller, "DE-R-003", "DE-R-004", "seller"), (&d.buyer, "DE-R-008", "DE-R-009", "buyer")]
    {
        if p.postal_address {
            if given(&p.city).is_none() {
                fail(city_rule, format!("{de}: the {who}'s city must be given"));
            }
            if given(&p.zip).is_none() {
                fail(zip_rule, format!("{de}: the {who}'s post code must be given"));
            }
        }
    }
    if d.delivery_address {
        if given(&d.delivery_city).is_none() {
            fail("DE-R-010", format!("{de}: the deliver-to address needs its city (BT-77)"));
        }
        if given(&d.delivery_zip).is_none() {
            fail("DE-R-011", format!("{de}: the deliver-to address needs its post code (BT-78)"));
        }
    }
    if d.vat.iter().any(|v| v.rate.is_none()) {
        fail("DE-R-014", format!("{de}: every VAT breakdown row needs its rate (BT-119)"));
    }
    for p in &d.payments {
        let code = p.code.as_deref().map(str::xml_trim).unwrap_or("");
        match code {
            "30" | "58" => {
                if !p.account_given {
                    fail(
                        "DE-R-023-1",
                        format!("{de}: credit transfer ({code}) needs the credit transfer group (BG-17)"),
                    );
                }
                if p.card_given || p.mandate.is_some() {
                    fail(
                        "DE-R-023-2",
                        format!("{de}: credit transfer ({code}) takes no card (BG-18) or direct debit (BG-19)"),
                    );
                }
                if code == "58" && !p.account.as_deref().is_some_and(iban_ok) {
                    fail(
                        "DE-R-019",
                        format!("{de}: SEPA credit transfer should name a valid IBAN, not {:?}", p.account),
                    );
                }
            }
            "48" | "54" | "55" => {
                if !p.card_given {
                    fail("DE-R-024-1", format!("{de}: payment by card ({code}) needs the card information (BG-18)"));
                }
                if p.account_given || p.mandate.is_some() {
                    fail(
                        "DE-R-024-2",
                        format!(
                            "{de}: payment by card ({code}) takes no credit transfer (BG-17) or direct debit (BG-19)"
                        ),
                    );
                }
            }
            "59" => {
                if p.mandate.is_none() {
                    fail("DE-R-025-1", format!("{de}: SEPA direct debit (59) needs the direct debit group (BG-19)"));
                }
                if p.account_given || p.card_given {
                    fail(
                        "DE-R-025-2",
                        format!("{de}: SEPA direct debit (59) takes no credit transfer (BG-17) or card (BG-18)"),
                    );
                }
                let debited = p.mandate.as_ref().and_then(|m| m.1.as_deref());
                if !debited.is_some_and(iban_ok) {
                    fail("DE-R-020", format!("{de}: SEPA direct debit should debit a valid IBAN, not {debited:?}"));
                }
            }
            _ => {}
        }
    }
}

fn address_complete(p: &Party) -> bool {
    given(&p.street).is_some() && given(&p.city).is_some() && given(&p.zip).is_some()
}

fn netherlands(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    if country(&d.seller).as_deref() != Some("NL") {
        return;
    }
    let nl = "seller in the Netherlands";
    let buyer_nl = country(&d.buyer).as_deref() == Some("NL");
    if d.kind == Kind::CreditNote && d.preceding_invoice.is_none() {
        fail("NL-R-001", format!("{nl}: a credit note must reference the invoice it credits (BT-25)"));
    }
    if d.seller.postal_address && !address_complete(&d.seller) {
        fail("NL-R-002", format!("{nl}: the seller's address needs street, city and post code"));
    }
    let kvk = |p: &Party| matches!(p.legal_id_scheme.as_deref().map(str::xml_trim), Some("0106" | "0190"));
    if d.seller.legal_id.is_some() && !kvk(&d.seller) {
        fail("NL-R-003", format!("{nl}: the seller's legal registration must be a KVK (0106) or OIN (0190) number"));
    }
    if buyer_nl {
        if d.buyer.postal_address && !address_complete(&d.buyer) {
            fail("NL-R-004", format!("{nl}, buyer too: the buyer's address needs street, city and post code"));
        }
        if d.buyer.legal_id.is_some() && !kvk(&d.buyer) {
            fail(
                "NL-R-005",
                format!("{nl}, buyer too: the buyer's legal registration must be a KVK (0106) or OIN (0190) number"),
            );
        }
        for p in &d.payments {
            let code = p.code.as_deref().map(str::xml_trim).unwrap_or("");
            if !matches!(code, "30" | "48" | "49" | "57" | "58" | "59") {
                fail(
                    "NL-R-008",
                    format!("{nl}, buyer too: payment means code `{code}` is not 30, 48, 49, 57, 58 or 59"),
                );
            }
        }
    }
    if let Some(rep) = &d.tax_rep {
        if country(rep).as_deref() == Some("NL") && rep.postal_address && !address_complete(rep) {
            fail("NL-R-006", format!("{nl}: the tax representative's address needs street, city and post code"));
        }
    }
    let payable = d.totals.payable.unwrap_or_default();
    let nothing_to_pay = match d.kind {
        Kind::Invoice => payable <= Decimal::ZERO,
        Kind::CreditNote => payable >= Decimal::ZERO,
    };
    if !nothing_to_pay && d.payments.is_empty() {
        fail("NL-R-007", format!("{nl}: a document to be paid needs payment instructions (BG-16)"));
    }
    if d.lines.iter().any(|l| l.order_line.is_some()) && given(&d.order_reference).is_none() {
        fail("NL-R-009", format!("{nl}: a line referencing an order line needs the order reference (BT-13)"));
    }
}

fn norway_italy(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    match seller_country(d).as_deref() {
        Some("NO") => {
            if let Some(vat) = given(&d.seller.vat_id).filter(|v| v.starts_with("NO")) {
                let digits = &vat[2..];
                let ok = digits.len() == 12
                    && digits.ends_with("MVA")
                    && all_digits(&digits[..9])
                    && crate::model::ident::mod11(&digits[..9]);
                if !ok {
                    fail("NO-R-001", format!("Norwegian seller: VAT identifier `{vat}` must be NO, a valid organisation number (nine digits) and MVA"));
                }
            }
            let register = d.seller.tax_schemes.iter().any(|(s, id)| s == "TAX" && id == "Foretaksregisteret");
            if !register {
                fail(
                    "NO-R-002",
                    "Norwegian seller: most sellers must state `Foretaksregisteret` (tax scheme TAX)".into(),
                );
            }
        }
        Some("IT") => {
            for (scheme, id) in d.seller.tax_schemes.iter().filter(|(s, _)| s != "VAT") {
                let ok =
                    (11..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
                if !ok {
                    fail("IT-R-001", format!("Italian seller: tax registration `{id}` (scheme {scheme}) must have 11 to 16 letters or digits"));
                }
            }
            for (rule, v, what) in [
                ("IT-R-002", &d.seller.street, "address line (BT-35)"),
                ("IT-R-003", &d.seller.city, "city (BT-37)"),
                ("IT-R-004", &d.seller.zip, "post code (BT-38)"),
            ] {
                if v.is_none() {
                    fail(rule, format!("Italian seller: the seller's {what} must be given"));
                }
            }
        }
        _ => {}
    }
}

fn sweden(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    if country(&d.seller).as_deref() != Some("SE") {
        return;
    }
    let se = "Swedish seller";
    let vat = given(&d.seller.vat_id).filter(|v| v.starts_with("SE"));
    if let Some(v) = vat {
        if v.chars().count() != 14 {
            fail("SE-R-001", format!("{se}: VAT identifier `{v}` must have 14 characters"));
        }
        let tail: String = v.chars().skip(2).take(12).collect();
        if !is_number(&tail) {
            fail("SE-R-002", format!("{se}: VAT identifier `{v}` must end in twelve digits"));
        }
        let standard = d
            .vat
            .iter()
            .map(|r| (r.category.as_str(), r.rate))
            .chain(d.allowances.iter().map(|a| (a.category.as_deref().unwrap_or(""), a.rate)))
            .chain(d.lines.iter().map(|l| (l.category.as_deref().unwrap_or(""), l.rate)));
        for (cat, rate) in standard {
            if cat == "S" && !rate.is_some_and(|r| [25, 12, 6].iter().any(|x| r == Decimal::from(*x))) {
                fail("SE-R-006", format!("{se}: standard rate must be 25, 12 or 6 %, not {rate:?}"));
            }
        }
    }
    if let Some(org) = given(&d.seller.legal_id) {
        if !is_number(org) {
            fail("SE-R-003", format!("{se}: organisation number `{org}` must be numeric"));
        }
        if org.chars().count() != 10 {
            fail("SE-R-004", format!("{se}: organisation number `{org}` must have ten digits"));
        }
        if !swedish_org_ok(org) {
            fail("SE-R-013", format!("{se}: organisation number `{org}` has a wrong check digit (Luhn)"));
        }
        for (_, id) in d.seller.tax_schemes.iter().filter(|(s, _)| !s.xml_trim().eq_ignore_ascii_case("VAT")) {
            if id.xml_trim().to_uppercase() != "GODKÄND FÖR F-SKATT" {
                fail("SE-R-005", format!("{se}: the tax registration must read `Godkänd för F-skatt`, not `{id}`"));
            }
        }
    }
    let buyer_se = country(&d.buyer).as_deref() == Some("SE");
    for p in &d.payments {
        let code = p.code.as_deref().map(str::xml_trim).unwrap_or("");
        let giro = p.bic.as_deref().map(str::xml_trim);
        if code == "30" {
            if let Some(acc) = &p.account {
                let n = acc.xml_trim().chars().count();
                match giro {
                    Some("SE:PLUSGIRO") => {
                        if !is_number(acc) {
                            fail("SE-R-007", format!("{se}: Plusgiro account `{acc}` should be numeric"));
                        }
                        if !(2..=8).contains(&n) {
                            fail("SE-R-010", format!("{se}: Plusgiro account `{acc}` should have 2 to 8 digits"));
                        }
                    }
                    Some("SE:BANKGIRO") => {
                        if !is_number(acc) {
                            fail("SE-R-008", format!("{se}: Bankgiro account `{acc}` should be numeric"));
                        }
                        if !(7..=8).contains(&n) {
                            fail("SE-R-009", format!("{se}: Bankgiro account `{acc}` should have 7 or 8 digits"));
                        }
                    }
                    _ => {}
                }
            }
        }
        if matches!(code, "50" | "56") {
            fail("SE-R-011", format!("{se}: Bankgiro or Plusgiro should be given as code 30 with branch SE:BANKGIRO or SE:PLUSGIRO, not code {code}"));
        }
        if code == "31" && buyer_se {
            fail("SE-R-012", format!("{se}, Swedish buyer: a domestic credit transfer should be code 30, not 31"));
        }
    }
}

/// Whether seller and buyer are both in Denmark (by their addresses).
pub(super) fn danish_parties(d: &Doc) -> bool {
    country(&d.seller).as_deref() == Some("DK") && country(&d.buyer).as_deref() == Some("DK")
}

fn denmark(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    if country(&d.seller).as_deref() != Some("DK") {
        return;
    }
    let dk = "Danish seller";
    let buyer_dk = country(&d.buyer).as_deref() == Some("DK");
    if given(&d.seller.legal_id).is_none() {
        fail("DK-R-002", format!("{dk}: the legal registration (CVR number, BT-30) must be given"));
    }
    if d.seller.legal_id.is_some() && d.seller.legal_id_scheme.as_deref().map(str::xml_trim) != Some("0184") {
        fail("DK-R-014", format!("{dk}: the legal registration must have scheme 0184 (CVR)"));
    }
    if d.kind == Kind::CreditNote && buyer_dk && d.totals.payable.is_some_and(|p| p < Decimal::ZERO) {
        fail("DK-R-016", format!("{dk}, Danish buyer: a credit note's amount due must not be negative"));
    }
    if !buyer_dk {
        return;
    }
    if d.buyer.legal_id.is_some() && d.buyer.legal_id_scheme.as_deref().map(str::xml_trim) != Some("0184") {
        fail("DK-R-017", format!("{dk}, Danish buyer: the buyer's legal registration must have scheme 0184 (CVR)"));
    }
    for a in d
        .allowances
        .iter()
        .map(|a| (&a.reason_code, &a.reason))
        .chain(d.lines.iter().flat_map(|l| l.allowances.iter().map(|a| (&a.reason_code, &a.reason))))
    {
        if a.0.as_deref() == Some("ZZZ") {
            let r = a.1.as_deref().unwrap_or("");
            let four = r.xml_trim().len() == 4 && all_digits(r.xml_trim());
            let hashed = r.contains('#') && !r.starts_with('#') && !r.ends_with('#');
            if !(four || hashed) {
                fail("DK-R-004", format!("{dk}: a non-VAT tax (reason code ZZZ) needs its 4-digit category or a `#` inside the reason, not `{r}`"));
            }
        }
    }
    if d.kind != Kind::Invoice {
        return;
    }
    for p in &d.payments {
        let code = p.code.as_deref().unwrap_or("");
        let pid = p.payment_id.as_deref().unwrap_or("");
        let acc = p.account.as_deref().unwrap_or("");
        if !matches!(code, "1" | "10" | "31" | "42" | "48" | "49" | "50" | "58" | "59" | "93" | "97") {
            fail("DK-R-005", format!("{dk}: payment means code `{code}` is not one Denmark allows"));
        }
        if matches!(code, "31" | "42") && (acc.xml_trim().is_empty() || given(&p.bic).is_none()) {
            fail("DK-R-006", format!("{dk}: payment means {code} needs the bank account and its registration number"));
        }
        if code == "49" && !p.mandate.as_ref().is_some_and(|m| m.0.is_some() && m.1.is_some()) {
            fail("DK-R-007", format!("{dk}: direct debit (49) needs the mandate and the payer's account"));
        }
        if code == "50" {
            let kinds = ["01#", "04#", "15#"].iter().any(|k| pid.starts_with(k));
            if !(kinds && (7..=8).contains(&acc.len()) && all_digits(acc)) {
                fail(
                    "DK-R-008",
                    format!("{dk}: Giro (50) needs a payment id beginning 01#, 04# or 15# and a 7 or 8 digit account"),
                );
            }
            if (pid.starts_with("04#") || pid.starts_with("15#")) && pid.chars().count() != 19 {
                fail("DK-R-009", format!("{dk}: Giro payment id `{pid}` needs its 16-digit instruction id"));
            }
        }
        if code == "93" {
            let kinds = ["71#", "73#", "75#"].iter().any(|k| pid.starts_with(k));
            if !(kinds && acc.chars().count() == 8) {
                fail(
                    "DK-R-010",
                    format!("{dk}: FIK (93) needs a payment id beginning 71#, 73# or 75# and an 8-character account"),
                );
            }
            if (pid.starts_with("71#") || pid.starts_with("75#")) && !matches!(pid.chars().count(), 18 | 19) {
                fail("DK-R-011", format!("{dk}: FIK payment id `{pid}` needs its 15 or 16-digit instruction id"));
            }
        }
    }
}

fn iceland(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    if country(&d.seller).as_deref() != Some("IS") {
        return;
    }
    let is = "Icelandic seller";
    if !matches!(d.type_code.as_deref().map(str::xml_trim), Some("380" | "381")) {
        fail("IS-R-001", format!("{is}: the type code should be 380 or 381"));
    }
    if d.seller.legal_id.is_none() || d.seller.legal_id_scheme.as_deref() != Some("0196") {
        fail("IS-R-002", format!("{is}: the seller's kennitala (BT-30, scheme 0196) must be given"));
    }
    if d.seller.street.is_none() || d.seller.zip.is_none() {
        fail("IS-R-003", format!("{is}: the seller's street and post code must be given"));
    }
    for (code, rule) in [("9", "IS-R-006"), ("42", "IS-R-007")] {
        if let Some(p) = d.payments.iter().find(|p| p.code.as_deref() == Some(code)) {
            if p.account.as_deref().is_none_or(|a| a.chars().count() != 12) {
                fail(rule, format!("{is}: payment means {code} needs a 12-digit account"));
            }
        }
    }
    if let Some(r) = d.references.iter().find(|r| r.description.as_deref() == Some("EINDAGI")) {
        let id = r.id.as_deref().unwrap_or("");
        if id.chars().count() != 10 || crate::model::Date::parse_iso(id).is_none() {
            fail("IS-R-008", format!("{is}: the EINDAGI date `{id}` must read YYYY-MM-DD"));
        }
        match d.due_date.as_deref() {
            None => fail("IS-R-009", format!("{is}: with an EINDAGI the due date (BT-9) must be given")),
            Some(due) if due > id => {
                fail("IS-R-010", format!("{is}: the EINDAGI {id} must not be before the due date {due}"))
            }
            Some(_) => {}
        }
    }
    if country(&d.buyer).as_deref() == Some("IS") {
        if d.buyer.legal_id.is_none() || d.buyer.legal_id_scheme.as_deref() != Some("0196") {
            fail(
                "IS-R-004",
                format!("{is}, Icelandic buyer: the buyer's kennitala (BT-47, scheme 0196) must be given"),
            );
        }
        if d.buyer.street.is_none() || d.buyer.zip.is_none() {
            fail("IS-R-005", format!("{is}, Icelandic buyer: the buyer's street and post code must be given"));
        }
    }
}

/// `^(0?[1-9]|[12][0-9]|3[01])[-\/ ]?(0?[1-9]|1[0-2])[-\/ ]?(19|20)[0-9]{2}` (a prefix).
fn greek_date_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let sep = |i: usize| if b.get(i).is_some_and(|c| matches!(c, b'-' | b'/' | b'\\' | b' ')) { i + 1 } else { i };
    // Tries the one- and two-digit forms of day and month.
    let two = |i: usize, lo: u32, hi: u32| -> Vec<usize> {
        let mut ends = Vec::new();
        if let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
            let one = u32::from(d - b'0');
            if (1..=9).contains(&one) {
                ends.push(i + 1);
            }
            if let Some(e) = b.get(i + 1).filter(|c| c.is_ascii_digit()) {
                let v = one * 10 + u32::from(e - b'0');
                if (lo..=hi).contains(&v) {
                    ends.push(i + 2);
                }
            }
        }
        ends
    };
    for day_end in two(0, 1, 31) {
        for month_start in [day_end, sep(day_end)] {
            for month_end in two(month_start, 1, 12) {
                for year in [month_end, sep(month_end)] {
                    let y = &b[year.min(b.len())..];
                    if y.len() >= 4
                        && (y.starts_with(b"19") || y.starts_with(b"20"))
                        && y[2..4].iter().all(u8::is_ascii_digit)
                    {
                        return true;
                    }
                }
            }
        }
    }
    false
}

fn greece(d: &Doc, fail: &mut impl FnMut(&str, String)) {
    let greek = |c: Option<String>| matches!(c.as_deref(), Some("GR" | "EL"));
    let gr = "Greek seller";
    // GR-R-009 looks at the seller alone (its VAT prefix, else its address).
    if greek(vat_prefix(&d.seller).or_else(|| country(&d.seller))) {
        if let Some((id, scheme)) = &d.seller.endpoint {
            if scheme != "9933" || !greek_tin_ok(id.xml_trim()) {
                fail(
                    "GR-R-009",
                    format!("{gr}: the electronic address must be the TIN under scheme 9933, not `{id}` ({scheme})"),
                );
            }
        }
    }
    if !greek(seller_country(d)) {
        return;
    }
    let vat_tin =
        |p: Option<&Party>| p.and_then(|p| given(&p.vat_id)).map(|v| v.chars().skip(2).take(9).collect::<String>());
    if let Some(number) = d.number.as_deref() {
        let seg: Vec<&str> = number.split('|').collect();
        if seg.len() != 6 {
            fail("GR-R-001-1", format!("{gr}: the invoice number `{number}` must have six segments separated by |"));
        }
        let tin = seg[0];
        let matches_tin =
            Some(tin.to_string()) == vat_tin(Some(&d.seller)) || Some(tin.to_string()) == vat_tin(d.tax_rep.as_ref());
        if !(tin.xml_trim().len() == 9 && greek_tin_ok(tin) && matches_tin) {
            fail("GR-R-001-2", format!("{gr}: the invoice number's first segment `{tin}` must be the seller's (or tax representative's) TIN"));
        }
        let date = seg.get(1).copied().unwrap_or("");
        let parts: Vec<&str> = date.split('/').collect();
        let issue: Vec<&str> = d.issue_date.as_deref().unwrap_or("").split('-').collect();
        let same = parts.len() >= 3
            && issue.len() >= 3
            && parts[0] == issue[2]
            && parts[1] == issue[1]
            && parts[2] == issue[0];
        if !(greek_date_ok(date) && same) {
            fail(
                "GR-R-001-3",
                format!("{gr}: the invoice number's second segment `{date}` must be the issue date as DD/MM/YYYY"),
            );
        }
        let serial = seg.get(2).copied().unwrap_or("");
        if !(all_digits(serial.xml_trim())
            || is_number(serial) && serial.xml_trim().parse::<f64>().is_ok_and(|v| v >= 0.0 && v.fract() == 0.0))
        {
            fail(
                "GR-R-001-4",
                format!("{gr}: the invoice number's third segment `{serial}` must be a positive integer"),
            );
        }
        let kind = seg.get(3).copied().unwrap_or("");
        if !["1.1", "1.6", "2.1", "2.4", "5.1", "5.2"].contains(&kind) {
            fail(
                "GR-R-001-5",
                format!("{gr}: the invoice number's fourth segment `{kind}` must be a Greek document type"),
            );
        }
        if seg.get(4).is_none_or(|s| s.is_empty()) {
            fail("GR-R-001-6", format!("{gr}: the invoice number's fifth segment must not be empty"));
        }
        if seg.get(5).is_none_or(|s| s.is_empty()) {
            fail("GR-R-001-7", format!("{gr}: the invoice number's sixth segment must not be empty"));
        }
    }
    if d.seller.trading_name.is_none() {
        fail("GR-R-002", format!("{gr}: the seller's name as registered (PartyName) must be given"));
    }
    let greek_vat = |p: &Party| given(&p.vat_id).is_some_and(|v| v.starts_with("EL") && greek_tin_ok(&v[2..]));
    if !greek_vat(&d.seller) {
        fail("GR-S-011", format!("{gr}: the seller's VAT identifier should be EL and a valid TIN"));
        if d.seller.vat_id.is_some() {
            fail(
                "GR-R-003",
                format!("{gr}: the seller's VAT identifier must be EL and a valid TIN, not {:?}", d.seller.vat_id),
            );
        }
    }
    if country(&d.seller).as_deref() == Some("GR") {
        let count = |what: &str| d.references.iter().filter(|r| r.description.as_deref() == Some(what)).count();
        if count("##M.AR.K##") != 1 {
            fail("GR-R-004-1", format!("{gr}: exactly one MARK number (##M.AR.K##) must be given"));
        }
        let urls = count("##INVOICE|URL##");
        if urls != 1 {
            fail("GR-S-008-1", format!("{gr}: one invoice URL (##INVOICE|URL##) should be given"));
        }
        if urls > 1 {
            fail("GR-R-008-2", format!("{gr}: at most one invoice URL (##INVOICE|URL##)"));
        }
        for r in d.references.iter().filter(|r| r.description.as_deref() == Some("##M.AR.K##")) {
            let id = r.id.as_deref().unwrap_or("");
            if !id.as_bytes().first().is_some_and(|c| (b'1'..=b'9').contains(c)) {
                fail("GR-R-004-2", format!("{gr}: the MARK number `{id}` must be a positive integer"));
            }
        }
    }
    for r in d.references.iter().filter(|r| r.description.as_deref() == Some("##INVOICE|URL##")) {
        if given(&r.uri).is_none() {
            fail("GR-R-008-3", format!("{gr}: the invoice URL reference needs its URI"));
        }
    }
    if d.buyer.trading_name.is_none() {
        fail("GR-R-005", format!("{gr}: the buyer's name (PartyName) must be given"));
    }
    if greek(buyer_country(d)) {
        if !greek_vat(&d.buyer) {
            fail("GR-R-006", format!("{gr}, Greek buyer: the buyer's VAT identifier must be EL and a valid TIN"));
        }
        if let Some((id, scheme)) = &d.buyer.endpoint {
            if scheme != "9933" || !greek_tin_ok(id.xml_trim()) {
                fail(
                    "GR-R-010",
                    format!("{gr}, Greek buyer: the buyer's electronic address must be the TIN under scheme 9933"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_and_patterns() {
        assert!(iban_ok("DE89 3704 0044 0532 0130 00") && !iban_ok("DE89370400440532013001"));
        assert!(greek_tin_ok("094014201") && !greek_tin_ok("094014202"));
        assert!(swedish_org_ok("5560360793") && !swedish_org_ok("5560360794"));
        assert!(skonto_ok("#SKONTO#TAGE=14#PROZENT=2.00#\n") && !skonto_ok("#SKONTO#TAGE=14#PROZENT=2#\n"));
        assert!(!skonto_ok("#SKONTO#TAGE=14#PROZENT=2.00#") && skonto_ok("30 Tage netto"));
        assert!(skonto_ok("#SKONTO#TAGE=7#PROZENT=3.00#BASISBETRAG=-12.50#\n#SKONTO#TAGE=14#PROZENT=2.00#\n"));
        assert!(email_ok("ar@nordwind.example") && !email_ok("ar@nordwind") && !email_ok("a@b@c.d"));
        assert!(url_ok("https://example.com/x") && !url_ok("example.com") && !url_ok("h:x"));
        assert!(greek_date_ok("04/03/2024") && greek_date_ok("4/3/2024") && !greek_date_ok("2024-03-04"));
        assert!(is_number(" 12.5") && !is_number("12a") && !is_number(""));
    }
}
