//! The validation rules: a stable id for each, what it checks, and what fixes it. The ids are
//! part of the contract (they appear in rejects files and JSON) and never change meaning.

use std::fmt;

use crate::read::Origin;

macro_rules! rules {
    ($($variant:ident = $id:literal, $what:literal, $fix:literal;)*) => {
        /// A validation rule.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Rule { $(#[doc = $what] $variant,)* }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The stable id (`field.required`).
            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            /// What the rule checks.
            pub fn what(self) -> &'static str {
                match self { $(Rule::$variant => $what,)* }
            }

            /// What typically fixes a row that breaks it.
            pub fn fix(self) -> &'static str {
                match self { $(Rule::$variant => $fix,)* }
            }
        }
    };
}

rules! {
    CsvFieldCount = "csv.field_count", "A record has as many fields as the header row.", "Quote fields that contain the delimiter, or remove the extra delimiters.";
    CsvUnclosedQuote = "csv.unclosed_quote", "Every quoted field is closed.", "Add the closing quote (a quote inside a quoted field is written twice: \"\").";
    EncodingInvalid = "encoding.invalid", "Text is valid in the file's encoding.", "Save the file as UTF-8, or declare its encoding (encoding = \"windows-1252\") in the mapping.";
    ColumnMissing = "column.missing", "Every required field has a column (or a constant or default in the mapping).", "Add the column to the file, or map it in the mapping file.";
    FieldRequired = "field.required", "Required fields have a value.", "Fill in the value.";
    FieldMaxLength = "field.max_length", "Text fits the field's maximum length.", "Shorten the value.";
    FieldDecimal = "field.decimal", "Decimal fields hold a number.", "Write a plain number such as 1234.50 (or set decimal_separator in the mapping).";
    FieldDecimalScale = "field.decimal_scale", "Decimals have no more digits after the point than the field allows.", "Round the value to the field's scale.";
    FieldDecimalPrecision = "field.decimal_precision", "Decimals have no more digits than the field allows.", "Check the value; it is too large for the field.";
    FieldInt = "field.int", "Integer fields hold a whole number in range.", "Write a whole number without separators.";
    FieldDate = "field.date", "Date fields hold a real date in the expected format.", "Write the date as yyyy-MM-dd (or set date_format in the mapping).";
    FieldEnum = "field.enum", "Enum fields hold one of the listed values.", "Use one of the listed values, or add a value map in the mapping.";
    FieldIdentifier = "field.identifier", "Electronic addresses and VAT identifiers have the format and check digit of their scheme or country (PEPPOL-COMMON R040–R057, EN 16931 BR-CO-09, the national VAT formats), as access points check them.", "Correct the identifier or its scheme; documents that carry it would be refused.";
    FieldVatCategory = "field.vat_category", "A sales tax code's rate and exemption reason fit its VAT category, as EN 16931 asks of every document that uses it: S at a rate above zero, Z, E, AE, K, G and O at zero, L and M not below; E, AE, K, G and O with an exemption reason, S, Z, L and M without.", "Give the exemption reason (ExemptionReasonCode, a VATEX code such as VATEX-EU-IC, or ExemptionReason), or correct the rate or the category.";
    FieldRange = "field.range", "A number lies in its field's range: a cash discount's Percent above 0 and below 100, its NumberOfDays and NumberOfMonths not negative.", "Correct the value (a percent is written as 2 or 2.5, not 0.02).";
    FieldBool = "field.bool", "Yes/No fields hold Yes, No, true, false, 1 or 0.", "Write Yes or No.";
    KeyDuplicate = "key.duplicate", "An entity key occurs once per import (all copies are rejected, as D365 does).", "Keep one row per key.";
    KeyNumberInUse = "key.number_in_use", "An invoice number and a voucher belong to one document of a legal entity, across sales and free-text invoices, in the store and in the import.", "Give the document its own number, or leave it empty so that it is drawn from the number sequence.";
    RelationNoHeader = "relation.no_header", "Every line has a header in the same import.", "Import the header file together with the line file, or fix the line's invoice reference; lines of an invoice the store holds take its header with --push incremental.";
    RelationNoLines = "relation.no_lines", "Every header has at least one line.", "Import the lines together with the header, or remove the header; a header of an invoice the store holds keeps its lines with --push incremental.";
    RelationHeaderRejected = "relation.header_rejected", "A line is rejected with its rejected header (an invoice is a unit).", "Fix the header's problem; the line itself may be fine.";
    RelationLineRejected = "relation.line_rejected", "A header and its other lines are rejected with a rejected line (an invoice is a unit).", "Fix the named line's problem.";
    RelationMismatch = "relation.mismatch", "Values a line repeats from its header (date, currency, customer) agree with it.", "Make the line agree with its header.";
    RefLegalEntity = "ref.legal_entity", "The legal entity (dataAreaId) exists in the master data.", "Use a legal entity from LegalEntity, or add it there.";
    RefCustomer = "ref.customer", "The customer account exists in the master data.", "Use a customer from Customer, or add the customer there.";
    RefCustomerBlocked = "ref.customer_blocked", "The customer is not on hold for invoicing.", "Release the customer's hold (OnHoldStatus) or do not invoice them.";
    RefCurrency = "ref.currency", "The currency is an ISO 4217 code.", "Use the three-letter ISO code (EUR, USD, …), or map the legacy value in the mapping.";
    RefTaxCode = "ref.tax_code", "The line's sales tax resolves to exactly one known tax code.", "Give a known TaxName, or a SalesTaxGroup and ItemSalesTaxGroup that share exactly one tax code.";
    RefPaymentTerms = "ref.payment_terms", "The terms of payment exist in the master data.", "Use terms from PaymentTerms, or add them there.";
    DistributionInvalid = "distribution.invalid", "An account distribution reads ACCOUNT=PERCENT;… with percents that add up to 100.", "Write e.g. 401100=60;401200=40.";
    RefCashDiscount = "ref.cash_discount", "Terms of payment name a cash discount of the CashDiscount master data (CashDiscountCode).", "Add the cash discount to CashDiscount, or correct the terms' CashDiscountCode.";
    RefOriginalInvoice = "ref.original_invoice", "A credit note's original invoice (OriginalInvoiceNumber) is a posted invoice of the store or an invoice of the same import.", "Correct the number, or import the original invoice first; for a migration that starts mid-history, allow originals outside the store (originals_outside_store = true).";
    RefExchangeRate = "ref.exchange_rate", "A foreign-currency invoice has an exchange rate to the accounting currency valid on its date.", "Add the rate to ExchangeRate (FromCurrency = invoice currency, ToCurrency = accounting currency).";
    RefPostingAccount = "ref.posting_account", "Posting finds a main account for every ledger line (PostingSetup, the tax code, or the line).", "Add a PostingSetup row (an All row covers everything).";
    RefNumberSequence = "ref.number_sequence", "An invoice without a number, and every voucher, draws from a number sequence of its legal entity.", "Add the sequence to NumberSequence, or give the number in the file.";
    PostCreditLimit = "post.credit_limit", "With the credit limit check on, the customer's open balance plus the invoice stays within the credit limit.", "Raise the customer's CreditLimit, or post after payments arrive.";
    StorePostedChanged = "store.posted_changed", "A posted invoice is immutable: a re-import with other content is refused.", "Issue a credit note for the posted invoice and a new invoice, or re-import it unchanged.";
    AmountOverflow = "amount.overflow", "Every amount computed from a row (line net, totals, VAT, ledger amounts in both currencies) stays below 10^26, what D365's amount fields hold.", "Check the named field: a misplaced decimal separator, a price unit of 0.000001 or an exchange rate in the wrong direction are the usual causes.";
    AmountLine = "amount.line", "A line amount given by the source equals quantity × price ÷ price unit − discounts + charges, rounded to the currency.", "Correct the line amount or the quantity, price and discounts.";
    AmountTax = "amount.tax", "A header's total tax equals the tax computed from its lines.", "Correct TotalTaxAmount, or the lines' tax codes.";
    AmountTotal = "amount.total", "A header's invoice total equals its lines less discount plus charges plus tax, and its net total (when the source gives one) the same without tax.", "Correct TotalInvoiceAmount or TotalNetAmount, or the lines.";
    AmountSign = "amount.sign", "A credit note (one that names the invoice it corrects, or that a mapping's document type marks) has a negative total, an invoice marked by its document type no negative one, and a header total has the sign of its lines.", "Use negative quantities on credit notes, or remove the original-invoice reference or correct the document type.";
    DateImplausible = "date.implausible", "Invoice dates lie between 1950-01-01 and one year after the run date.", "Correct the date (a two-digit year or swapped day and month are the usual causes).";
    DateDueBeforeInvoice = "date.due_before_invoice", "The due date is not before the invoice date.", "Correct the due date.";
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A rejected row: where it is, which field and rule, and a message that says what is wrong
/// and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The row.
    pub origin: Origin,
    /// The entity field (or source column) at fault, when one is.
    pub field: Option<String>,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong and what fixes it.
    pub message: String,
}

impl Reject {
    /// A reject of a row.
    pub fn new(origin: Origin, field: Option<&str>, rule: Rule, message: impl Into<String>) -> Reject {
        Reject { origin, field: field.map(str::to_string), rule, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_dotted() {
        let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        assert!(ids.iter().all(|i| i.contains('.')));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Rule::ALL.len());
    }
}
