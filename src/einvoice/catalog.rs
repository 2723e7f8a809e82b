//! The rules the built-in check implements: id, rule set, the syntaxes it applies to, and what
//! it asks (our words). `invoiceflow check --rules` prints it; every finding the check reports
//! names a rule of this list (debug builds assert it).

use std::sync::LazyLock;

use serde::Serialize;

/// One rule of the built-in check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// The official id (`BR-CO-15`).
    pub id: String,
    /// `EN 16931` or `PEPPOL BIS 3` (the PEPPOL rules apply to UBL documents that declare PEPPOL
    /// BIS Billing 3.0 in their specification identifier).
    pub set: &'static str,
    /// `UBL, CII`, or the one syntax it applies to.
    pub syntaxes: &'static str,
    /// What a document must do.
    pub asks: String,
    /// `fatal` (a document that breaks it is refused) or `warning` (reported only).
    pub flag: &'static str,
}

const EN: &str = "EN 16931";
const PEPPOL: &str = "PEPPOL BIS 3";
const BOTH: &str = "UBL, CII";

/// The rules with one statement each.
const FIXED: &[(&str, &str, &str, &str)] = &[
    ("BR-01", EN, BOTH, "a specification identifier (BT-24)"),
    ("BR-02", EN, BOTH, "an invoice number (BT-1)"),
    ("BR-03", EN, BOTH, "an issue date (BT-2)"),
    ("BR-04", EN, BOTH, "an invoice type code (BT-3)"),
    ("BR-05", EN, BOTH, "an invoice currency code (BT-5)"),
    ("BR-06", EN, BOTH, "the seller's name (BT-27)"),
    ("BR-07", EN, BOTH, "the buyer's name (BT-44)"),
    ("BR-08", EN, BOTH, "the seller's postal address (BG-5)"),
    ("BR-09", EN, BOTH, "the seller's country code (BT-40)"),
    ("BR-10", EN, BOTH, "the buyer's postal address (BG-8)"),
    ("BR-11", EN, BOTH, "the buyer's country code (BT-55)"),
    ("BR-12", EN, BOTH, "the sum of line net amounts (BT-106)"),
    ("BR-13", EN, BOTH, "the total without VAT (BT-109)"),
    ("BR-14", EN, BOTH, "the total with VAT (BT-112)"),
    ("BR-15", EN, BOTH, "the amount due (BT-115)"),
    ("BR-16", EN, BOTH, "at least one invoice line (BG-25)"),
    ("BR-17", EN, BOTH, "a payee that is not the seller has a name (BT-59)"),
    ("BR-18", EN, BOTH, "a tax representative has a name (BT-62)"),
    ("BR-19", EN, BOTH, "a tax representative has a postal address (BG-12)"),
    ("BR-20", EN, BOTH, "a tax representative's address has a country code (BT-69)"),
    ("BR-21", EN, BOTH, "every line has an identifier (BT-126)"),
    ("BR-22", EN, BOTH, "every line has an invoiced quantity (BT-129)"),
    ("BR-23", EN, BOTH, "every line has a unit of measure (BT-130)"),
    ("BR-24", EN, BOTH, "every line has a net amount (BT-131)"),
    ("BR-25", EN, BOTH, "every line has an item name (BT-153)"),
    ("BR-26", EN, BOTH, "every line has an item net price (BT-146)"),
    ("BR-27", EN, BOTH, "the item net price is not negative"),
    ("BR-28", EN, BOTH, "the item gross price (BT-148) is not negative"),
    ("BR-29", EN, BOTH, "the invoicing period does not end before it starts"),
    ("BR-30", EN, BOTH, "a line period does not end before it starts"),
    ("BR-31", EN, BOTH, "a document-level allowance has an amount (BT-92)"),
    ("BR-32", EN, BOTH, "a document-level allowance has a VAT category (BT-95)"),
    ("BR-33", EN, BOTH, "a document-level allowance has a reason or a reason code (BT-97, BT-98)"),
    ("BR-36", EN, BOTH, "a document-level charge has an amount (BT-99)"),
    ("BR-37", EN, BOTH, "a document-level charge has a VAT category (BT-102)"),
    ("BR-38", EN, BOTH, "a document-level charge has a reason or a reason code (BT-104, BT-105)"),
    ("BR-41", EN, BOTH, "a line allowance has an amount (BT-136)"),
    ("BR-42", EN, BOTH, "a line allowance has a reason or a reason code (BT-139, BT-140)"),
    ("BR-43", EN, BOTH, "a line charge has an amount (BT-141)"),
    ("BR-44", EN, BOTH, "a line charge has a reason or a reason code (BT-144, BT-145)"),
    ("BR-45", EN, BOTH, "a VAT breakdown row has a taxable amount (BT-116)"),
    ("BR-46", EN, BOTH, "a VAT breakdown row has a tax amount (BT-117)"),
    ("BR-47", EN, BOTH, "a VAT breakdown row has a VAT category code of the VAT scheme (BT-118)"),
    ("BR-48", EN, BOTH, "a VAT breakdown row has a rate (BT-119), unless not subject to VAT"),
    ("BR-49", EN, BOTH, "a payment instruction has a payment means code (BT-81)"),
    ("BR-50", EN, BOTH, "a credit transfer account has an account identifier (BT-84)"),
    ("BR-51", EN, BOTH, "a card number (BT-87) shows at most its first six and last four digits (a warning)"),
    ("BR-52", EN, BOTH, "a supporting document has a reference (BT-122)"),
    ("BR-53", EN, BOTH, "a VAT accounting currency (BT-6) comes with the VAT total in it (BT-111)"),
    ("BR-54", EN, BOTH, "an item attribute has a name and a value (BT-160, BT-161)"),
    ("BR-55", EN, BOTH, "a preceding invoice reference has the invoice's number (BT-25)"),
    ("BR-56", EN, BOTH, "a tax representative has a VAT identifier (BT-63)"),
    ("BR-57", EN, BOTH, "a deliver-to address has a country code (BT-80)"),
    ("BR-61", EN, BOTH, "a credit transfer (30, 58) names the payment account (BT-84)"),
    ("BR-62", EN, BOTH, "the seller's electronic address has a scheme (BT-34)"),
    ("BR-63", EN, BOTH, "the buyer's electronic address has a scheme (BT-49)"),
    ("BR-64", EN, BOTH, "an item standard identifier has a scheme (BT-157)"),
    ("BR-65", EN, BOTH, "an item classification identifier has a scheme (BT-158)"),
    ("BR-CO-03", EN, BOTH, "the VAT point date (BT-7) and its code (BT-8) exclude each other"),
    ("BR-CO-04", EN, BOTH, "every line has a VAT category of the VAT scheme (BT-151)"),
    (
        "BR-CO-09",
        EN,
        BOTH,
        "VAT identifiers (BT-31, BT-48, BT-63) start with an ISO 3166-1 country prefix (EL for Greece)",
    ),
    ("BR-CO-10", EN, BOTH, "BT-106 is the sum of the line net amounts"),
    ("BR-CO-11", EN, BOTH, "BT-107 is the sum of the document-level allowances"),
    ("BR-CO-12", EN, BOTH, "BT-108 is the sum of the document-level charges"),
    ("BR-CO-13", EN, BOTH, "BT-109 = BT-106 − BT-107 + BT-108"),
    ("BR-CO-14", EN, BOTH, "BT-110 is the sum of the VAT breakdown's tax amounts"),
    ("BR-CO-15", EN, BOTH, "BT-112 = BT-109 + BT-110 (CII: or BT-109 when there is no VAT)"),
    ("BR-CO-16", EN, BOTH, "BT-115 = BT-112 − BT-113 + BT-114"),
    ("BR-CO-17", EN, BOTH, "a breakdown row's tax amount is its taxable amount × rate, within one (CII: at most one)"),
    ("BR-CO-18", EN, BOTH, "at least one VAT breakdown row (BG-23)"),
    ("BR-CO-19", EN, BOTH, "an invoicing period has a start or an end date (UBL: or a VAT point date code)"),
    ("BR-CO-20", EN, BOTH, "a line period has a start or an end date"),
    ("BR-CO-21", EN, BOTH, "a document-level allowance has a reason or a reason code"),
    ("BR-CO-22", EN, BOTH, "a document-level charge has a reason or a reason code"),
    ("BR-CO-23", EN, BOTH, "a line allowance has a reason or a reason code"),
    ("BR-CO-24", EN, BOTH, "a line charge has a reason or a reason code"),
    (
        "BR-CO-26",
        EN,
        BOTH,
        "the seller has an identifier, a legal registration or a VAT identifier (BT-29, BT-30, BT-31)",
    ),
    ("BR-DEC-01", EN, BOTH, "a document-level allowance amount has at most two decimals as written"),
    ("BR-DEC-05", EN, BOTH, "a document-level charge amount has at most two decimals as written"),
    ("BR-DEC-09", EN, BOTH, "BT-106 has at most two decimals as written"),
    ("BR-DEC-10", EN, BOTH, "BT-107 has at most two decimals as written"),
    ("BR-DEC-11", EN, BOTH, "BT-108 has at most two decimals as written"),
    ("BR-DEC-12", EN, BOTH, "BT-109 has at most two decimals as written"),
    ("BR-DEC-13", EN, BOTH, "BT-110 has at most two decimals as written"),
    ("BR-DEC-14", EN, BOTH, "BT-112 has at most two decimals as written"),
    ("BR-DEC-15", EN, BOTH, "BT-111 has at most two decimals as written"),
    ("BR-DEC-16", EN, BOTH, "BT-113 has at most two decimals as written"),
    ("BR-DEC-17", EN, BOTH, "BT-114 has at most two decimals as written"),
    ("BR-DEC-18", EN, BOTH, "BT-115 has at most two decimals as written"),
    ("BR-DEC-19", EN, BOTH, "a breakdown row's taxable amount has at most two decimals as written"),
    ("BR-DEC-20", EN, BOTH, "a breakdown row's tax amount has at most two decimals as written"),
    ("BR-DEC-23", EN, BOTH, "a line net amount has at most two decimals as written"),
    ("BR-DEC-24", EN, BOTH, "a line allowance amount has at most two decimals as written"),
    ("BR-DEC-27", EN, BOTH, "a line charge amount has at most two decimals as written"),
    (
        "BR-CL-01",
        EN,
        BOTH,
        "the type code is a UNTDID 1001 invoice code (an invoice) or credit note code (a credit note)",
    ),
    ("BR-CL-03", EN, BOTH, "amounts' currencies are ISO 4217 codes"),
    ("BR-CL-04", EN, BOTH, "the invoice currency is an ISO 4217 code"),
    ("BR-CL-05", EN, BOTH, "the VAT accounting currency is an ISO 4217 code"),
    ("BR-CL-06", EN, BOTH, "the VAT point date code is 3, 35 or 432 (UNTDID 2005)"),
    ("BR-CL-07", EN, BOTH, "an invoiced object identifier's scheme (BT-18, BT-128) is in UNTDID 1153"),
    ("BR-CL-10", EN, BOTH, "party identifiers' schemes are ISO 6523 ICD codes (UBL: or SEPA)"),
    ("BR-CL-11", EN, BOTH, "legal registration identifiers' schemes are ISO 6523 ICD codes"),
    ("BR-CL-13", EN, BOTH, "item classification schemes are in UNTDID 7143"),
    ("BR-CL-14", EN, BOTH, "country codes are ISO 3166-1 alpha-2"),
    ("BR-CL-15", EN, BOTH, "an item's country of origin is ISO 3166-1 alpha-2"),
    ("BR-CL-16", EN, BOTH, "payment means codes are in UNCL 4461"),
    ("BR-CL-17", EN, BOTH, "VAT categories of the breakdown and of allowances and charges are in UNCL 5305"),
    ("BR-CL-18", EN, BOTH, "line VAT categories are in UNCL 5305"),
    ("BR-CL-19", EN, BOTH, "allowance reason codes are in UNCL 5189"),
    ("BR-CL-20", EN, BOTH, "charge reason codes are in UNCL 7161"),
    ("BR-CL-21", EN, BOTH, "item standard identifiers' schemes are ISO 6523 ICD codes"),
    ("BR-CL-22", EN, BOTH, "exemption reason codes are VATEX codes"),
    ("BR-CL-23", EN, BOTH, "unit codes are in UN/ECE Recommendation 20 or 21"),
    ("BR-CL-24", EN, BOTH, "attachments are PDF, PNG, JPEG, CSV, XLSX or ODS"),
    ("BR-CL-25", EN, BOTH, "electronic address schemes are in the EAS list"),
    ("BR-IC-11", EN, BOTH, "an intra-community supply has an actual delivery date (BT-72) or an invoicing period"),
    ("BR-IC-12", EN, BOTH, "an intra-community supply has the deliver-to country (BT-80)"),
    ("BR-O-11", EN, BOTH, "a breakdown row not subject to VAT is the only breakdown row"),
    ("BR-O-12", EN, BOTH, "with a breakdown row not subject to VAT, every line is not subject to VAT"),
    ("BR-O-13", EN, BOTH, "with a breakdown row not subject to VAT, every document-level allowance is too"),
    ("BR-O-14", EN, BOTH, "with a breakdown row not subject to VAT, every document-level charge is too"),
    ("PEPPOL-EN16931-R001", PEPPOL, "UBL", "a business process (BT-23)"),
    ("PEPPOL-EN16931-R003", PEPPOL, "UBL", "a buyer reference (BT-10) or an order reference (BT-13)"),
    (
        "PEPPOL-EN16931-R004",
        PEPPOL,
        BOTH,
        "the specification identifier starts with PEPPOL BIS Billing 3.0's and has no empty part",
    ),
    ("PEPPOL-EN16931-R005", PEPPOL, "UBL", "the VAT accounting currency differs from the invoice currency"),
    ("PEPPOL-EN16931-R007", PEPPOL, "UBL", "the business process is one PEPPOL approves"),
    ("PEPPOL-EN16931-R008", PEPPOL, "UBL", "no empty elements"),
    ("PEPPOL-EN16931-R010", PEPPOL, "UBL", "the buyer's electronic address (BT-49)"),
    ("PEPPOL-EN16931-R020", PEPPOL, "UBL", "the seller's electronic address (BT-34)"),
    ("PEPPOL-EN16931-R051", PEPPOL, "UBL", "every amount is in the invoice currency (but BT-111)"),
    ("PEPPOL-EN16931-R110", PEPPOL, "UBL", "a line period does not start before the invoicing period"),
    ("PEPPOL-EN16931-R111", PEPPOL, "UBL", "a line period does not end after the invoicing period"),
    (
        "PEPPOL-EN16931-R120",
        PEPPOL,
        BOTH,
        "a line net amount is quantity × price ÷ base quantity + charges − allowances, within 0.02",
    ),
    ("PEPPOL-EN16931-R121", PEPPOL, "UBL", "a base quantity is above zero"),
    ("PEPPOL-EN16931-P0100", PEPPOL, "UBL", "an invoice's type code is one the billing profile allows"),
    ("PEPPOL-EN16931-P0101", PEPPOL, "UBL", "a credit note's type code is one the billing profile allows"),
    ("DE-R-014", PEPPOL, "UBL", "seller and buyer in Germany: every VAT breakdown row has a rate (BT-119)"),
    ("PEPPOL-EN16931-CL007", PEPPOL, "UBL", "amounts' currencies are ISO 4217 codes"),
    ("PEPPOL-EN16931-CL008", PEPPOL, "UBL", "electronic address schemes are in PEPPOL's EAS list"),
    ("PEPPOL-COMMON-R040", PEPPOL, "UBL", "a GLN (0088) has its format and check digit"),
    ("PEPPOL-COMMON-R041", PEPPOL, "UBL", "a Norwegian organisation number (0192) has nine digits and its check digit"),
    ("PEPPOL-COMMON-R042", PEPPOL, "UBL", "a Danish CVR (0184) has its format"),
    ("PEPPOL-COMMON-R043", PEPPOL, "UBL", "a Belgian enterprise number (0208) has its format and check digits"),
    ("PEPPOL-COMMON-R044", PEPPOL, "UBL", "an Italian IPA code (0201) has its format"),
    ("PEPPOL-COMMON-R045", PEPPOL, "UBL", "an Italian tax code (0210) has its format"),
    ("PEPPOL-COMMON-R046", PEPPOL, "UBL", "an Italian VAT number (0211) has its format and check digit"),
    ("PEPPOL-COMMON-R047", PEPPOL, "UBL", "a Danish identifier (0096, 0198) has its format"),
    ("PEPPOL-COMMON-R049", PEPPOL, "UBL", "a Swedish organisation number (0007) has ten digits and its check digit"),
    ("PEPPOL-COMMON-R050", PEPPOL, "UBL", "an Australian ABN (0151) has its format and check digits"),
    ("PEPPOL-COMMON-R052", PEPPOL, "UBL", "a Dutch OIN (0190) has its format"),
    ("PEPPOL-COMMON-R053", PEPPOL, "UBL", "a Dutch KVK number (0106) has its format"),
    ("PEPPOL-COMMON-R054", PEPPOL, "UBL", "a Dutch identifier (0217) has its format"),
    ("PEPPOL-COMMON-R055", PEPPOL, "UBL", "a Dutch VAT identifier (9944) has its format"),
    ("PEPPOL-COMMON-R056-1", PEPPOL, "UBL", "a Dutch VAT identifier has its format"),
    ("PEPPOL-COMMON-R056-2", PEPPOL, "UBL", "a Dutch VAT identifier is NL, nine digits, B and two digits"),
    ("PEPPOL-COMMON-R057", PEPPOL, "UBL", "an identifier has the format of its scheme"),
    ("UBL-SR-12", EN, "UBL", "the seller's VAT identifier occurs at most once"),
    ("UBL-SR-18", EN, "UBL", "the buyer's VAT identifier occurs at most once"),
    ("UBL-SR-42", EN, "UBL", "the seller has at most two party tax schemes"),
    ("UBL-SR-44", EN, "UBL", "at most one distinct payment identifier"),
    ("UBL-SR-47", EN, "UBL", "all payment means codes are equal"),
    ("UBL-DT-01", EN, "UBL", "amounts (but prices and price allowances) have at most two decimals as written"),
    ("UBL-DT-06", EN, "UBL", "binary objects have a mimeCode"),
    ("UBL-DT-07", EN, "UBL", "binary objects have a filename"),
    ("RANGE", EN, BOTH, "amounts small enough (28 significant digits) for the sums to be checked"),
    ("XML", EN, BOTH, "a well-formed UBL or CII document without DOCTYPE, at most 200 levels deep and 100 MiB"),
    ("SYNTAX", EN, BOTH, "amounts, quantities and rates that read as decimal numbers"),
];

/// The rules that are warnings: reported, and a document that breaks them is not refused.
const WARNINGS: &[&str] = &["BR-51"];

/// Whether `id` is a warning.
pub fn is_warning(id: &str) -> bool {
    WARNINGS.contains(&id)
}

/// The VAT categories the rules know: code, the name of their rule family (K's rules are
/// BR-IC-*, L's BR-AF-*, M's BR-AG-*), and what the category means.
pub const CATEGORIES: &[(&str, &str, &str)] = &[
    ("S", "S", "standard rated"),
    ("Z", "Z", "zero rated"),
    ("E", "E", "exempt from VAT"),
    ("AE", "AE", "reverse charge"),
    ("K", "IC", "intra-community supply"),
    ("G", "G", "export outside the EU"),
    ("O", "O", "not subject to VAT"),
    ("L", "AF", "IGIC (Canary Islands)"),
    ("M", "AG", "IPSI (Ceuta and Melilla)"),
];

/// The rule family of VAT category `c` (`IC` for K), the code itself for one the list lacks.
pub fn family(c: &str) -> &str {
    CATEGORIES.iter().find(|(code, ..)| *code == c).map_or(c, |&(_, family, _)| family)
}

/// What VAT category `c` means (`unknown` for one the list lacks).
pub fn category_name(c: &str) -> &'static str {
    CATEGORIES.iter().find(|(code, ..)| *code == c).map_or("unknown", |&(.., name)| name)
}

/// Every rule, in the order above (the category families after the fixed rules).
pub static RULES: LazyLock<Vec<RuleInfo>> = LazyLock::new(|| {
    let mut out: Vec<RuleInfo> = FIXED
        .iter()
        .map(|&(id, set, syntaxes, asks)| RuleInfo {
            id: id.into(),
            set,
            syntaxes,
            asks: asks.into(),
            flag: if is_warning(id) { "warning" } else { "fatal" },
        })
        .collect();
    for &(code, family, name) in CATEGORIES {
        let ids = match code {
            "S" | "Z" | "L" | "M" => "the seller's VAT or tax registration identifier, or the tax representative's",
            "E" => "the seller's VAT or tax registration identifier, or the tax representative's",
            "AE" => "the seller's VAT or tax registration identifier (or the representative's) and the buyer's VAT identifier or legal registration",
            "K" => "the seller's (or the representative's) and the buyer's VAT identifiers",
            "G" => "the seller's or the tax representative's VAT identifier",
            _ => "no VAT identifier of the seller, the tax representative or the buyer",
        };
        let rate = match code {
            "S" => "above zero",
            "L" | "M" => "zero or more",
            "O" => "absent",
            _ => "zero",
        };
        let (breakdown, exemption) = match code {
            "S" | "L" | "M" => ("at least one breakdown row of the category", "no exemption reason"),
            _ if code == "Z" => ("exactly one breakdown row of the category", "no exemption reason"),
            _ => ("exactly one breakdown row of the category", "an exemption reason or code"),
        };
        let amount = match code {
            "S" | "L" | "M" => "its taxable amount × rate, within one",
            _ => "zero",
        };
        for (n, asks) in [
            ("01", format!("{name}: lines, allowances or charges of the category come with {breakdown}")),
            ("02", format!("{name}: lines of the category need {ids}")),
            ("03", format!("{name}: document-level allowances of the category need {ids}")),
            ("04", format!("{name}: document-level charges of the category need {ids}")),
            ("05", format!("{name}: a line's VAT rate is {rate}")),
            ("06", format!("{name}: a document-level allowance's VAT rate is {rate}")),
            ("07", format!("{name}: a document-level charge's VAT rate is {rate}")),
            ("08", format!("{name}: a breakdown row's taxable amount is its lines + charges − allowances")),
            ("09", format!("{name}: a breakdown row's tax amount is {amount}")),
            ("10", format!("{name}: a breakdown row has {exemption}")),
        ] {
            out.push(RuleInfo { id: format!("BR-{family}-{n}"), set: EN, syntaxes: BOTH, asks, flag: "fatal" });
        }
    }
    out
});

/// Whether `id` is a rule of the list.
pub fn known(id: &str) -> bool {
    RULES.iter().any(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_official_in_form() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id.as_str()).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(n > 240, "{n}");
        assert!(known("BR-IC-05") && known("BR-AF-09") && known("PEPPOL-EN16931-R120") && !known("BR-K-05"));
    }
}
