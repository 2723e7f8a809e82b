//! Party identifiers as the receiving side checks them: an identifier by its scheme (the
//! PEPPOL-COMMON rules R040 to R057 of PEPPOL BIS Billing 3.0: GLN, Norwegian, Danish, Belgian,
//! Italian, Swedish, Australian and Dutch numbers), and a VAT identifier by its country prefix
//! (EN 16931 BR-CO-09, then the national format of the EU member states, Northern Ireland, the
//! United Kingdom, Norway and Switzerland). Master data is checked with these when it is read,
//! and `check` applies them to e-invoices, so that an identifier an access point would refuse is
//! found before a document carries it.
//!
//! The scheme rules follow the official rule set's own tests step by step (its `u:gln`,
//! `u:mod11`, `u:mod97-0208`, `u:checkCF`, `u:checkPIVAseIT`, `u:checkSEOrgnr`, `u:abn`), so
//! that both accept and refuse the same values.

/// Why an identifier is refused: the rule, and what its scheme asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdProblem {
    /// The rule broken (`PEPPOL-COMMON-R049`, `BR-CO-09`, `VAT-FORMAT`).
    pub rule: &'static str,
    /// What a valid identifier looks like.
    pub expected: String,
}

impl IdProblem {
    fn new(rule: &'static str, expected: impl Into<String>) -> IdProblem {
        IdProblem { rule, expected: expected.into() }
    }
}

/// XPath's `normalize-space`: trimmed, inner runs of spaces as one (borrowed when it is so
/// already, as identifiers mostly are).
fn normalize(s: &str) -> std::borrow::Cow<'_, str> {
    let t = s.trim_ascii();
    let b = t.as_bytes();
    let tidy = !b.iter().any(|&c| c.is_ascii_whitespace() && c != b' ') && !b.windows(2).any(|w| w == b"  ");
    if tidy {
        std::borrow::Cow::Borrowed(t)
    } else {
        std::borrow::Cow::Owned(s.split_ascii_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// Digits only, at least one.
pub(crate) fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn letters(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// XPath's `castable as xs:integer`: an optional sign, then digits.
fn integer(s: &str) -> bool {
    digits(s.strip_prefix(['+', '-']).unwrap_or(s))
}

fn digit(b: u8) -> u32 {
    u32::from(b.wrapping_sub(b'0'))
}

/// GS1 check digit (`u:gln`): weights 3, 1, 3, … from the right of all but the last digit.
fn gln(v: &str) -> bool {
    let b = v.as_bytes();
    let Some((&last, body)) = b.split_last() else { return false };
    let sum: u32 = body.iter().rev().enumerate().map(|(i, &d)| digit(d) * if i % 2 == 0 { 3 } else { 1 }).sum();
    (10 - sum % 10) % 10 == digit(last)
}

/// Modulus 11 (`u:mod11`): weights 2 to 7, repeated, from the right of all but the last digit.
pub(crate) fn mod11(v: &str) -> bool {
    let b = v.as_bytes();
    let Some((&last, body)) = b.split_last() else { return false };
    let sum: u32 = body.iter().rev().enumerate().map(|(i, &d)| digit(d) * (i as u32 % 6 + 2)).sum();
    v.parse::<u64>().is_ok_and(|n| n > 0) && (11 - sum % 11) % 11 == digit(last)
}

/// Belgian enterprise number (`u:mod97-0208`): the last two digits are 97 less the first
/// eight modulo 97.
fn mod97(v: &str) -> bool {
    let (Ok(body), Ok(check)) = (v[..8].parse::<u64>(), v[8..10].parse::<u64>()) else { return false };
    check == 97 - body % 97
}

/// Italian fiscal code (`u:checkCF`): 16 characters in its pattern, or 11 digits (counted in
/// characters, as XPath counts).
fn codice_fiscale(v: &str) -> bool {
    let c: Vec<char> = v.chars().collect();
    let part = |from: usize, to: usize| c[from..to].iter().collect::<String>();
    match c.len() {
        16 => {
            letters(&part(0, 6))
                && integer(&part(6, 8))
                && letters(&part(8, 9))
                && integer(&part(9, 11))
                && integer(&part(14, 15))
                && letters(&part(15, 16))
        }
        11 => integer(v),
        _ => false,
    }
}

/// Italian VAT number (`u:checkPIVAseIT`): with the prefix IT, 11 digits whose Luhn-like sum
/// (every second digit doubled, its digits added) ends in 0; without it, anything.
fn partita_iva(v: &str) -> bool {
    let (country, code) = v.split_at(v.char_indices().nth(2).map_or(v.len(), |(i, _)| i));
    if country != "IT" && country != "it" {
        return true;
    }
    if code.len() != 11 || !digits(code) {
        return false;
    }
    let sum: u32 = code
        .bytes()
        .enumerate()
        .map(|(i, d)| if i % 2 == 1 { [0, 2, 4, 6, 8, 1, 3, 5, 7, 9][digit(d) as usize] } else { digit(d) })
        .sum();
    sum.is_multiple_of(10)
}

/// Swedish organisation number (`u:checkSEOrgnr`): the tenth digit is the Luhn check digit of
/// the first nine.
pub(crate) fn se_orgnr(v: &str) -> bool {
    if !digits(v) || v.len() < 10 {
        return false;
    }
    let sum: u32 = v.as_bytes()[..9]
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 0 { digit(d) * 2 % 10 + digit(d) * 2 / 10 } else { digit(d) })
        .sum();
    (10 - sum % 10) % 10 == digit(v.as_bytes()[9])
}

/// Australian Business Number (`u:abn`): weights 10, 1, 3, 5, …, 19 with the first digit less
/// one; the sum divides by 89.
fn abn(v: &str) -> bool {
    let b = v.as_bytes();
    let weights = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
    let sum: i64 =
        b.iter().zip(weights).enumerate().map(|(i, (&d, w))| (i64::from(d) - if i == 0 { 49 } else { 48 }) * w).sum();
    sum % 89 == 0
}

/// PEPPOL-COMMON-R056-2: a VAT identifier that starts with `NL` is NL, 9 digits, B, 2 digits
/// (true for any other).
pub fn dutch_vat_ok(vat: &str) -> bool {
    let v = normalize(vat);
    !v.starts_with("NL") || dutch_vat(&v)
}

fn dutch_vat(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 14 && v.starts_with("NL") && digits(&v[2..11]) && b[11] == b'B' && digits(&v[12..14])
}

/// Checks `id` given with scheme `scheme` (an EAS or ICD code) as PEPPOL BIS Billing 3.0's
/// PEPPOL-COMMON rules do; an identifier of a scheme without such a rule passes. `endpoint`:
/// the identifier is an electronic address (scheme 9907 has a rule for those only).
pub fn check_scheme(scheme: &str, id: &str, endpoint: bool) -> Result<(), IdProblem> {
    let n = normalize(id);
    let v: &str = &n;
    let (ok, rule, expected) = match scheme.trim() {
        "0088" => (digits(v) && gln(v), "PEPPOL-COMMON-R040", "a GLN: digits with the GS1 check digit last"),
        "0192" => (
            v.len() == 9 && digits(v) && mod11(v),
            "PEPPOL-COMMON-R041",
            "a Norwegian organisation number: 9 digits with the modulus-11 check digit last",
        ),
        "0184" => (
            (id.len() == 10 && id.starts_with("DK") && digits(&id[2..]))
                || (id.len() == 8 && digits(id)),
            "PEPPOL-COMMON-R042",
            "a Danish CVR number: 8 digits, or DK and 8 digits",
        ),
        "0096" => (id.len() == 10 && digits(id), "PEPPOL-COMMON-R052", "a Danish P number: 10 digits"),
        "0198" => (
            id.len() == 10 && id.starts_with("DK") && digits(&id[2..]),
            "PEPPOL-COMMON-R053",
            "a Danish SE number: DK and 8 digits",
        ),
        "0208" => (
            v.len() == 10 && digits(v) && mod97(v),
            "PEPPOL-COMMON-R043",
            "a Belgian enterprise number: 10 digits, the last two 97 less the first eight modulo 97",
        ),
        "0201" => (
            v.len() == 6 && v.bytes().all(|b| b.is_ascii_alphanumeric()),
            "PEPPOL-COMMON-R044",
            "an Italian IPA code: 6 letters or digits",
        ),
        "0210" => (
            codice_fiscale(v),
            "PEPPOL-COMMON-R045",
            "an Italian fiscal code: 16 characters (6 letters, 2 digits, a letter, 2 digits, 3 characters, a digit, a letter) or 11 digits",
        ),
        "9907" if endpoint => (
            codice_fiscale(v),
            "PEPPOL-COMMON-R046",
            "an Italian fiscal code: 16 characters (6 letters, 2 digits, a letter, 2 digits, 3 characters, a digit, a letter) or 11 digits",
        ),
        "0211" => (
            partita_iva(v),
            "PEPPOL-COMMON-R047",
            "an Italian VAT number: IT and 11 digits with their check digit",
        ),
        "0007" => (
            v.len() == 10 && se_orgnr(v),
            "PEPPOL-COMMON-R049",
            "a Swedish organisation number: 10 digits, the last the Luhn check digit of the first nine",
        ),
        "0151" => (
            v.len() == 11 && digits(v) && abn(v),
            "PEPPOL-COMMON-R050",
            "an Australian Business Number: 11 digits that pass the ABN check",
        ),
        "0106" => (v.len() == 8 && digits(v), "PEPPOL-COMMON-R054", "a Dutch KVK number: 8 digits"),
        "0190" => (v.len() == 20 && digits(v), "PEPPOL-COMMON-R055", "a Dutch OIN: 20 digits"),
        "9944" => (dutch_vat(v), "PEPPOL-COMMON-R056-1", "a Dutch VAT number: NL, 9 digits, B, 2 digits"),
        "0217" => (v.len() == 12 && digits(v), "PEPPOL-COMMON-R057", "a Dutch KVK establishment number: 12 digits"),
        _ => (true, "", ""),
    };
    if ok {
        Ok(())
    } else {
        Err(IdProblem::new(rule, expected))
    }
}

/// The country prefixes EN 16931 BR-CO-09 takes for VAT identifiers (ISO 3166-1 alpha-2, `EL`
/// for Greece, `XI` for Northern Ireland, `1A` for Kosovo), as its rule set lists them.
const VAT_PREFIXES: &str = " 1A AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH EL ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XI YE YT ZA ZM ZW ";

/// Whether a VAT identifier has a prefix BR-CO-09 takes (its own test: the first two
/// characters occur in the list).
pub fn vat_prefix_ok(vat: &str) -> bool {
    static CODES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let b = vat.as_bytes();
    if b.len() >= 2 && b[..2].iter().all(u8::is_ascii_alphanumeric) {
        // Two letters or digits can only be found in the list as a code of it.
        let codes = CODES.get_or_init(|| VAT_PREFIXES.split_ascii_whitespace().collect());
        return codes.binary_search(&&vat[..2]).is_ok();
    }
    let end = vat.char_indices().nth(2).map_or(vat.len(), |(i, _)| i);
    VAT_PREFIXES.contains(&vat[..end])
}

/// Whether a VAT identifier begins with a country prefix as the CII binding of BR-CO-09 asks:
/// its first two characters are one of the codes (its list has AN where UBL's has SS).
pub fn vat_prefix_exact(vat: &str) -> bool {
    let end = vat.char_indices().nth(2).map_or(vat.len(), |(i, _)| i);
    let prefix = &vat[..end];
    prefix.len() == 2
        && prefix != "SS"
        && (prefix == "AN" || VAT_PREFIXES.split_ascii_whitespace().any(|c| c == prefix))
}

/// A national VAT number format: the pattern after the prefix, as a list of alternatives, each a
/// sequence of classes (`9` a digit, `A` a letter, `X` a letter or digit, anything else itself).
fn national(prefix: &str) -> Option<(&'static [&'static str], &'static str)> {
    Some(match prefix {
        "AT" => (&["U99999999"], "ATU and 8 digits"),
        "BE" => (&["0999999999", "1999999999"], "BE and 10 digits starting with 0 or 1"),
        "BG" => (&["999999999", "9999999999"], "BG and 9 or 10 digits"),
        "CY" => (&["99999999A"], "CY, 8 digits and a letter"),
        "CZ" => (&["99999999", "999999999", "9999999999"], "CZ and 8 to 10 digits"),
        "DE" => (&["999999999"], "DE and 9 digits"),
        "DK" => (&["99999999"], "DK and 8 digits"),
        "EE" => (&["999999999"], "EE and 9 digits"),
        "EL" => (&["999999999"], "EL and 9 digits"),
        "ES" => (&["X9999999X"], "ES, a letter or digit, 7 digits, a letter or digit"),
        "FI" => (&["99999999"], "FI and 8 digits"),
        "FR" => (&["XX999999999"], "FR, 2 letters or digits and 9 digits"),
        "HR" => (&["99999999999"], "HR and 11 digits"),
        "HU" => (&["99999999"], "HU and 8 digits"),
        "IE" => {
            (&["9999999A", "9999999AA", "9X99999A"], "IE, 7 digits and one or two letters (or the old form 9X99999A)")
        }
        "IT" => (&["99999999999"], "IT and 11 digits"),
        "LT" => (&["999999999", "999999999999"], "LT and 9 or 12 digits"),
        "LU" => (&["99999999"], "LU and 8 digits"),
        "LV" => (&["99999999999"], "LV and 11 digits"),
        "MT" => (&["99999999"], "MT and 8 digits"),
        "NL" => (&["999999999B99"], "NL, 9 digits, B, 2 digits"),
        "PL" => (&["9999999999"], "PL and 10 digits"),
        "PT" => (&["999999999"], "PT and 9 digits"),
        "RO" => (
            &["99", "999", "9999", "99999", "999999", "9999999", "99999999", "999999999", "9999999999"],
            "RO and 2 to 10 digits",
        ),
        "SE" => (&["999999999999"], "SE and 12 digits"),
        "SI" => (&["99999999"], "SI and 8 digits"),
        "SK" => (&["9999999999"], "SK and 10 digits"),
        "XI" | "GB" => (
            &["999999999", "999999999999", "GD999", "HA999"],
            "GB or XI and 9 or 12 digits (GD or HA and 3 digits for government bodies)",
        ),
        "NO" => (&["999999999", "999999999MVA"], "NO, 9 digits and MVA"),
        "CH" => {
            (&["E999999999", "E999999999MWST", "E999999999TVA", "E999999999IVA"], "CHE, 9 digits and MWST, TVA or IVA")
        }
        _ => return None,
    })
}

/// Whether `text` (the bytes after the prefix, separators left out) fits `pattern`.
fn fits(mut text: impl Iterator<Item = u8>, pattern: &str) -> bool {
    pattern.bytes().all(|p| {
        text.next().is_some_and(|t| match p {
            b'9' => t.is_ascii_digit(),
            b'A' => t.is_ascii_uppercase(),
            b'X' => t.is_ascii_uppercase() || t.is_ascii_digit(),
            other => t == other,
        })
    }) && text.next().is_none()
}

/// Checks a VAT identifier: a country prefix BR-CO-09 takes, then (for the EU member states,
/// Northern Ireland, the United Kingdom, Norway and Switzerland) the national format; spaces,
/// dots and dashes inside are allowed (`CHE-123.456.789 MWST`), letters are upper case. The
/// Dutch format is PEPPOL-COMMON-R056-2's.
pub fn check_vat(vat: &str) -> Result<(), IdProblem> {
    let v = vat.trim();
    if !vat_prefix_ok(v) {
        return Err(IdProblem::new(
            "BR-CO-09",
            "a VAT identifier with its country's ISO 3166-1 prefix (EL for Greece, XI for Northern Ireland), e.g. DE123456789",
        ));
    }
    let Some((patterns, expected)) = v.get(..2).and_then(national) else { return Ok(()) };
    let prefix = &v[..2];
    if prefix == "NL" {
        // PEPPOL's rule takes the text as it is.
        return if dutch_vat(&normalize(v)) { Ok(()) } else { Err(IdProblem::new("PEPPOL-COMMON-R056-2", expected)) };
    }
    let rest = || v[2..].bytes().filter(|b| !matches!(b, b' ' | b'.' | b'-'));
    if patterns.iter().any(|p| fits(rest(), p)) {
        Ok(())
    } else {
        Err(IdProblem::new("VAT-FORMAT", expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(scheme: &str, id: &str) -> Option<&'static str> {
        check_scheme(scheme, id, true).err().map(|p| p.rule)
    }

    #[test]
    fn scheme_rules_accept_valid_numbers_and_name_the_rule_of_a_wrong_one() {
        // Valid numbers, each with the check digit its scheme asks (worked by hand).
        for (scheme, id) in [
            ("0088", "5790000435951"),
            ("0088", "4000001123452"),
            ("0192", "974760673"),
            ("0184", "DK12345678"),
            ("0184", "12345678"),
            ("0096", "1234567890"),
            ("0198", "DK12345678"),
            ("0208", "0403170701"),
            ("0201", "UFY9MH"),
            ("0210", "RSSMRA85T10A562S"),
            ("0210", "12345678901"),
            ("9907", "RSSMRA85T10A562S"),
            ("0211", "IT01234567897"),
            ("0211", "DE123"),
            ("0007", "5560360793"),
            ("0151", "51824753556"),
            ("0106", "12345678"),
            ("0190", "12345678901234567890"),
            ("9944", "NL123456789B01"),
            ("0217", "123456789012"),
            ("9930", "anything"),
        ] {
            assert_eq!(rule(scheme, id), None, "{scheme}:{id}");
        }
        for (scheme, id, r) in [
            ("0088", "5790000435952", "PEPPOL-COMMON-R040"),
            ("0088", "57900004359A1", "PEPPOL-COMMON-R040"),
            ("0192", "974760674", "PEPPOL-COMMON-R041"),
            ("0192", "000000000", "PEPPOL-COMMON-R041"),
            ("0184", "DK1234567", "PEPPOL-COMMON-R042"),
            ("0096", "123456789", "PEPPOL-COMMON-R052"),
            ("0198", "12345678", "PEPPOL-COMMON-R053"),
            ("0208", "0403170702", "PEPPOL-COMMON-R043"),
            ("0201", "UFY9M", "PEPPOL-COMMON-R044"),
            ("0210", "RSSMRA85T10A562", "PEPPOL-COMMON-R045"),
            ("0211", "IT01234567890", "PEPPOL-COMMON-R047"),
            ("0007", "5560360794", "PEPPOL-COMMON-R049"),
            ("0007", "556036079", "PEPPOL-COMMON-R049"),
            ("0151", "51824753557", "PEPPOL-COMMON-R050"),
            ("0106", "1234567", "PEPPOL-COMMON-R054"),
            ("0190", "1234567890123456789", "PEPPOL-COMMON-R055"),
            ("9944", "NL123456789B1", "PEPPOL-COMMON-R056-1"),
            ("0217", "12345678901", "PEPPOL-COMMON-R057"),
        ] {
            assert_eq!(rule(scheme, id), Some(r), "{scheme}:{id}");
        }
        // 9907 has a rule for electronic addresses only.
        assert_eq!(check_scheme("9907", "x", false), Ok(()));
    }

    #[test]
    fn spaces_are_normalized_as_xpath_does() {
        assert!(matches!(normalize(" 974760673 "), std::borrow::Cow::Borrowed("974760673")));
        assert_eq!(normalize("97 47\t60  673"), "97 47 60 673");
        assert_eq!(rule("0192", " 974760673 "), None);
    }

    #[test]
    fn vat_identifiers_need_a_prefix_and_their_country_format() {
        for v in [
            "DE123456789",
            "ATU12345678",
            "EL123456789",
            "NL123456789B01",
            "FR0A123456789",
            "CHE-123.456.789 MWST",
            "NO123456789MVA",
            "US12-3456789",
            "XI123456789",
            "IE1234567WA",
            "ESB1234567A",
        ] {
            assert_eq!(check_vat(v), Ok(()), "{v}");
        }
        assert_eq!(check_vat("123456789").unwrap_err().rule, "BR-CO-09");
        assert_eq!(check_vat("GR123456789").map_err(|p| p.rule), Ok(()), "GR is a listed prefix");
        assert_eq!(check_vat("DE12345678").unwrap_err(), IdProblem::new("VAT-FORMAT", "DE and 9 digits"));
        assert_eq!(check_vat("NL123456789B1").unwrap_err().rule, "PEPPOL-COMMON-R056-2");
        assert_eq!(check_vat("ATU1234567").unwrap_err().rule, "VAT-FORMAT");
        // The list is sorted (the binary search needs it), and the search agrees with the
        // rule's own `contains` on every two-character prefix.
        let codes: Vec<&str> = VAT_PREFIXES.split_ascii_whitespace().collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        for a in (b'0'..=b'9').chain(b'A'..=b'Z') {
            for b in (b'0'..=b'9').chain(b'A'..=b'Z').chain([b'a']) {
                let p = String::from_utf8(vec![a, b]).unwrap();
                assert_eq!(vat_prefix_ok(&format!("{p}123")), VAT_PREFIXES.contains(p.as_str()), "{p}");
            }
        }
    }
}
