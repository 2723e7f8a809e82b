//! The code lists the e-invoice rules check codes against, as data files (`codes/*.txt`, one
//! code per line after a `#` header naming the list, its source and the rules that use it),
//! compiled in and read once.

use super::xml::XmlTrim;
use std::sync::LazyLock;

/// A code list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// UNTDID 1001, invoice codes (BR-CL-01 on an invoice).
    InvoiceType,
    /// UNTDID 1001, credit note codes (BR-CL-01 on a credit note).
    CreditNoteType,
    /// ISO 4217 (BR-CL-03/04/05).
    Currency,
    /// UNTDID 2005, VAT point date codes (BR-CL-06, UBL).
    VatPointCode,
    /// UNTDID 2475, VAT point date codes (BR-CL-06, CII).
    VatPointEvent,
    /// UNTDID 1153 (BR-CL-07).
    ObjectScheme,
    /// UNCL 4451 (BR-CL-08).
    NoteSubject,
    /// ISO/IEC 6523 ICD (BR-CL-10/11/21/26).
    Icd,
    /// UNTDID 7143 (BR-CL-13).
    ItemClassification,
    /// ISO 3166-1 alpha-2 (BR-CL-14/15).
    Country,
    /// UNCL 4461 (BR-CL-16).
    PaymentMeans,
    /// UNCL 5305 (BR-CL-17/18).
    VatCategory,
    /// UNCL 5189 (BR-CL-19).
    AllowanceReason,
    /// UNCL 7161 (BR-CL-20).
    ChargeReason,
    /// VATEX (BR-CL-22).
    Vatex,
    /// UN/ECE Recommendation 20 and 21 (BR-CL-23).
    Unit,
    /// CEF EAS (BR-CL-25).
    Eas,
}

const SOURCES: &[(List, &str)] = &[
    (List::InvoiceType, include_str!("codes/untdid1001-invoice.txt")),
    (List::CreditNoteType, include_str!("codes/untdid1001-credit-note.txt")),
    (List::Currency, include_str!("codes/iso4217.txt")),
    (List::VatPointCode, include_str!("codes/untdid2005-vat-point.txt")),
    (List::VatPointEvent, include_str!("codes/untdid2475-vat-point.txt")),
    (List::ObjectScheme, include_str!("codes/untdid1153.txt")),
    (List::NoteSubject, include_str!("codes/uncl4451.txt")),
    (List::Icd, include_str!("codes/iso6523-icd.txt")),
    (List::ItemClassification, include_str!("codes/untdid7143.txt")),
    (List::Country, include_str!("codes/iso3166.txt")),
    (List::PaymentMeans, include_str!("codes/uncl4461.txt")),
    (List::VatCategory, include_str!("codes/uncl5305.txt")),
    (List::AllowanceReason, include_str!("codes/uncl5189.txt")),
    (List::ChargeReason, include_str!("codes/uncl7161.txt")),
    (List::Vatex, include_str!("codes/vatex.txt")),
    (List::Unit, include_str!("codes/rec20-21.txt")),
    (List::Eas, include_str!("codes/eas.txt")),
];

/// Every list's codes as a set, at the index of its [`List`] (read once; [`SOURCES`] lists
/// them in the order of [`List`], a test holds it).
static LISTS: LazyLock<Vec<rustc_hash::FxHashSet<&'static str>>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|&(_, text)| text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect())
        .collect()
});

/// Whether `code` is in `list`, as the rules test it: the code with the XML white space around
/// it removed, and no space inside.
pub fn has(list: List, code: &str) -> bool {
    let code = code.xml_trim();
    let spaced = if code.is_ascii() {
        code.bytes().any(|b| b.is_ascii_whitespace())
    } else {
        code.contains(char::is_whitespace)
    };
    !spaced && LISTS.get(list as usize).is_some_and(|codes| codes.contains(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of `list`, sorted.
    fn codes(list: List) -> Vec<&'static str> {
        let mut codes: Vec<&'static str> = LISTS.get(list as usize).map_or(Vec::new(), |c| c.iter().copied().collect());
        codes.sort_unstable();
        codes
    }

    #[test]
    fn every_list_reads_and_answers() {
        for (list, _) in SOURCES {
            assert!(!codes(*list).is_empty(), "{list:?}");
        }
        assert!(has(List::InvoiceType, "380") && has(List::InvoiceType, " 875 "));
        assert!(!has(List::InvoiceType, "381") && has(List::CreditNoteType, "381"));
        assert!(has(List::VatCategory, "B") && !has(List::VatCategory, "X"));
        assert!(has(List::Unit, "C62") && !has(List::Unit, "C 62"));
        assert_eq!(codes(List::VatPointCode), ["3", "35", "432"]);
        assert_eq!(codes(List::VatPointEvent), ["29", "5", "72"]);
        assert!(has(List::Country, "1A") && !has(List::Country, "EL"));
        // Every list at the index of its name.
        assert_eq!(SOURCES.len(), LISTS.len());
        assert!(SOURCES.iter().enumerate().all(|(i, (list, _))| *list as usize == i));
        // XML white space around a code is not part of it (normalize-space); a no-break space
        // is (the official BR-CL-04 refuses `\u{a0}EUR`), and spaces inside make it no code.
        assert!(has(List::Currency, " EUR\t") && !has(List::Currency, "\u{a0}EUR"));
        assert!(!has(List::Currency, "E UR") && !has(List::Currency, "E\u{2003}UR"));
    }
}
