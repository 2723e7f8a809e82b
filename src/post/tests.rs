//! Worked examples with hand-checked numbers (the arithmetic is written out next to each).

use std::str::FromStr;

use rust_decimal::Decimal;

use super::*;
use crate::entity::DocumentKind;
use crate::model::master::*;
use crate::model::totals::{LineTax, RoundingPolicy};
use crate::model::{HeaderRef, HeaderTotals, InvoiceHeader, InvoiceLine};
use crate::read::Origin;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn master() -> MasterData {
    let mut md = MasterData::default();
    md.legal_entities.insert(
        "DEMF".into(),
        LegalEntity {
            id: "DEMF".into(),
            name: "Nordwind".into(),
            accounting_currency: Currency::from_code("EUR").unwrap(),
            vat_number: None,
            tax_registration_id: None,
            legal_registration_id: None,
            street: None,
            city: None,
            zip: None,
            country: "DE".into(),
            electronic_address: None,
            electronic_address_scheme: None,
            iban: None,
            bic: None,
            contact_name: None,
            contact_phone: None,
            contact_email: None,
        },
    );
    md.customers.insert(
        "C1".into(),
        Customer {
            account: "C1".into(),
            name: "Customer".into(),
            group: Some("DOM".into()),
            invoice_account: None,
            currency: None,
            credit_limit: None,
            payment_terms: Some("Net30".into()),
            tax_group: Some("DOM".into()),
            blocked: false,
            street: None,
            city: None,
            zip: None,
            country: None,
            email: None,
            vat_id: None,
            electronic_address: None,
            electronic_address_scheme: None,
            legal_registration_id: None,
            buyer_reference: None,
        },
    );
    for (code, rate, account) in [("VAT19", "19", "260100"), ("VAT7", "7", "260110")] {
        md.tax_codes.insert(
            code.into(),
            TaxCode {
                code,
                name: None,
                rate: d(rate),
                category: "S",
                exemption_reason_code: None,
                exemption_reason: None,
                payable_account: account,
            },
        );
    }
    md.payment_terms.insert(
        "Net30".into(),
        PaymentTerms {
            name: "Net30".into(),
            description: None,
            days: 30,
            from_month_end: false,
            means_code: None,
            cash_discount: None,
        },
    );
    for (from, rate) in [("USD", "0.9245"), ("JPY", "0.0062")] {
        md.exchange_rates.push(ExchangeRate {
            from: from.into(),
            to: "EUR".into(),
            start: Date::from_ymd(2020, 1, 1).unwrap(),
            rate: d(rate),
        });
    }
    for (ty, code, rel, acc) in [
        ("CustomerBalance", "All", None, "130100"),
        ("Revenue", "All", None, "401100"),
        ("Revenue", "Group", Some("REDUCED"), "401200"),
        ("PennyDifference", "All", None, "850100"),
    ] {
        md.posting_setup.push(PostingSetup {
            posting_type: ty.into(),
            account_code: code.into(),
            relation: rel.map(Into::into),
            main_account: acc,
        });
    }
    md
}

fn header(currency: &str, document: DocumentKind) -> InvoiceHeader {
    InvoiceHeader {
        origin: Origin { file: 0, line: 2, record: 1 },
        entity: "SalesInvoiceJournalHeader",
        document,
        legal_entity: "DEMF".into(),
        number: Some("INV-1".into()),
        record_id: None,
        date: Date::from_ymd(2024, 3, 4).unwrap(),
        customer: "C1".into(),
        currency: Currency::from_code(currency).unwrap(),
        payment_terms: None,
        due_date: None,
        order_reference: None,
        buyer_reference: None,
        sales_order: None,
        original_invoice: None,
        voucher: None,
        exchange_rate: None,
        totals: HeaderTotals::default(),
        tax_group: None,
        item_tax_group: None,
        extras: Default::default(),
        typed_as: None,
    }
}

fn line(n: u32, qty: &str, price: &str, tax: &str) -> (InvoiceLine, LineTax) {
    let l = InvoiceLine {
        origin: Origin { file: 1, line: u64::from(n) + 1, record: u64::from(n) },
        entity: "BusinessDocumentSalesInvoiceLineItem",
        legal_entity: "DEMF".into(),
        header: HeaderRef::Number("INV-1".into()),
        invoice_date: None,
        line_number: Decimal::from(n),
        quantity: d(qty),
        unit_price: d(price),
        price_unit: Decimal::ONE,
        discount_per_unit: Decimal::ZERO,
        discount_percent: Decimal::ZERO,
        discount_amount: Decimal::ZERO,
        charge_amount: Decimal::ZERO,
        line_amount: None,
        line_tax: None,
        tax_rate: None,
        tax_code: Some(tax.into()),
        tax_group: None,
        item_tax_group: if tax == "VAT7" { Some("REDUCED".into()) } else { Some("FULL".into()) },
        unit: None,
        main_account: None,
        currency: None,
        extras: Default::default(),
    };
    let rate = if tax == "VAT7" { "7" } else { "19" };
    (l, LineTax { code: crate::model::name(tax), category: "S", rate: d(rate) })
}

fn invoice(h: InvoiceHeader, lines: Vec<(InvoiceLine, LineTax)>) -> Invoice {
    let (lines, taxes) = lines.into_iter().unzip();
    Invoice { header: h, lines, taxes, rounding: RoundingPolicy::Document, copies: Vec::new(), computed: None }
}

fn entries(p: &Posted) -> Vec<(&str, &str, String, String, bool)> {
    p.ledger
        .iter()
        .map(|l| (l.posting_type.as_str(), &*l.account, l.amount.to_string(), l.amount_acc.to_string(), l.is_credit))
        .collect()
}

#[test]
fn multi_rate_invoice() {
    let (mut l3, t3) = line(3, "1", "100.00", "VAT19");
    l3.discount_percent = d("10");
    let inv = invoice(
        header("EUR", DocumentKind::Sales),
        vec![line(1, "3", "19.99", "VAT19"), line(2, "2", "7.45", "VAT7"), (l3, t3)],
    );
    let p = post(inv, &master(), &PostingOptions::default()).unwrap();
    // 3 × 19.99 = 59.97; 2 × 7.45 = 14.90; 100.00 − 10 % = 90.00.
    // VAT 19 %: (59.97 + 90.00) × 0.19 = 28.4943 → 28.49; VAT 7 %: 14.90 × 0.07 = 1.043 → 1.04.
    assert_eq!(p.totals.line_total, d("164.87"));
    assert_eq!(p.totals.groups.iter().map(|g| g.amount.to_string()).collect::<Vec<_>>(), ["28.49", "1.04"]);
    assert_eq!(p.totals.tax_inclusive, d("194.40"));
    assert_eq!(p.due_date.to_string(), "2024-04-03");
    assert_eq!(
        entries(&p),
        vec![
            ("CustomerBalance", "130100", "194.40".into(), "194.40".into(), false),
            ("Revenue", "401100", "-59.97".into(), "-59.97".into(), true),
            ("Revenue", "401200", "-14.90".into(), "-14.90".into(), true),
            ("Revenue", "401100", "-90.00".into(), "-90.00".into(), true),
            ("SalesTax", "260100", "-28.49".into(), "-28.49".into(), true),
            ("SalesTax", "260110", "-1.04".into(), "-1.04".into(), true),
        ]
    );
}

#[test]
fn a_summarised_voucher_adds_the_entries_of_one_account_and_still_balances() {
    let mk = || {
        let (mut l3, t3) = line(3, "1", "100.00", "VAT19");
        l3.discount_percent = d("10");
        invoice(
            header("EUR", DocumentKind::Sales),
            vec![line(1, "3", "19.99", "VAT19"), line(2, "2", "7.45", "VAT7"), (l3, t3)],
        )
    };
    let opts = PostingOptions { ledger_detail: LedgerDetail::Summary, ..PostingOptions::default() };
    let p = post(mk(), &master(), &opts).unwrap();
    // The two revenue lines of account 401100 (−59.97, −90.00) become one entry of −149.97
    // without a line number; 401200's one line keeps its number; the totals do not move.
    assert_eq!(
        entries(&p),
        vec![
            ("CustomerBalance", "130100", "194.40".into(), "194.40".into(), false),
            ("Revenue", "401100", "-149.97".into(), "-149.97".into(), true),
            ("Revenue", "401200", "-14.90".into(), "-14.90".into(), true),
            ("SalesTax", "260100", "-28.49".into(), "-28.49".into(), true),
            ("SalesTax", "260110", "-1.04".into(), "-1.04".into(), true),
        ]
    );
    assert_eq!(p.ledger.iter().map(|l| l.line_number).collect::<Vec<_>>(), [None, None, Some(d("2")), None, None]);
    assert!(p.ledger.iter().map(|l| l.amount).sum::<Decimal>().is_zero());
    assert_eq!(p.totals, post(mk(), &master(), &PostingOptions::default()).unwrap().totals);
}

#[test]
fn credit_note_with_and_without_credit_correction() {
    let mk = || {
        let mut h = header("EUR", DocumentKind::Sales);
        h.original_invoice = Some("INV-0".into());
        invoice(h, vec![line(1, "-2", "24.90", "VAT19")])
    };
    // −2 × 24.90 = −49.80; VAT −49.80 × 0.19 = −9.462 → −9.46; total −59.26.
    let plain = post(mk(), &master(), &PostingOptions::default()).unwrap();
    assert!(plain.credit_note);
    assert_eq!(plain.sequence, "CreditNote");
    assert_eq!(
        entries(&plain),
        vec![
            ("CustomerBalance", "130100", "-59.26".into(), "-59.26".into(), true),
            ("Revenue", "401100", "49.80".into(), "49.80".into(), false),
            ("SalesTax", "260100", "9.46".into(), "9.46".into(), false),
        ]
    );
    // Storno: the same signed amounts, kept on the invoice's sides (negative debit, negative credit).
    let storno =
        post(mk(), &master(), &PostingOptions { credit_correction: true, ..PostingOptions::default() }).unwrap();
    assert_eq!(
        entries(&storno),
        vec![
            ("CustomerBalance", "130100", "-59.26".into(), "-59.26".into(), false),
            ("Revenue", "401100", "49.80".into(), "49.80".into(), true),
            ("SalesTax", "260100", "9.46".into(), "9.46".into(), true),
        ]
    );
}

#[test]
fn free_text_invoice_distributed_over_two_accounts() {
    let (mut l1, t1) = line(1, "1", "1000.00", "VAT19");
    l1.extras.set_slot(crate::model::Slot::Distribution, Some("401500=60;401600=40"));
    let (mut l2, t2) = line(2, "3", "33.33", "VAT19");
    l2.extras.set_slot(crate::model::Slot::Distribution, Some("401500=50;401600=50"));
    let mut h = header("EUR", DocumentKind::FreeText);
    h.number = None;
    h.record_id = Some(5637150001);
    let p = post(invoice(h, vec![(l1, t1), (l2, t2)]), &master(), &PostingOptions::default()).unwrap();
    // 1000.00 → 600.00 + 400.00; 3 × 33.33 = 99.99 → 49.995 → 50.00, and the rest 49.99.
    // VAT (1000.00 + 99.99) × 0.19 = 208.9981 → 209.00; total 1308.99.
    assert_eq!(p.sequence, "FreeTextInvoice");
    assert_eq!(
        entries(&p),
        vec![
            ("CustomerBalance", "130100", "1308.99".into(), "1308.99".into(), false),
            ("Revenue", "401500", "-600.00".into(), "-600.00".into(), true),
            ("Revenue", "401600", "-400.00".into(), "-400.00".into(), true),
            ("Revenue", "401500", "-50.00".into(), "-50.00".into(), true),
            ("Revenue", "401600", "-49.99".into(), "-49.99".into(), true),
            ("SalesTax", "260100", "-209.00".into(), "-209.00".into(), true),
        ]
    );
}

#[test]
fn jpy_invoice_rounds_to_whole_yen_and_books_the_conversion_difference() {
    let p = post(
        invoice(header("JPY", DocumentKind::Sales), vec![line(1, "3", "1333", "VAT19")]),
        &master(),
        &PostingOptions::default(),
    )
    .unwrap();
    // 3 × 1333 = 3999 JPY; VAT 3999 × 0.19 = 759.81 → 760; total 4759 JPY.
    // In EUR at 0.0062: 4759 → 29.5058 → 29.51; −3999 → −24.7938 → −24.79; −760 → −4.712 → −4.71;
    // 29.51 − 24.79 − 4.71 = 0.01, so −0.01 goes to the penny-difference account.
    assert_eq!(p.totals.tax_inclusive.to_string(), "4759");
    assert_eq!(
        entries(&p),
        vec![
            ("CustomerBalance", "130100", "4759".into(), "29.51".into(), false),
            ("Revenue", "401100", "-3999".into(), "-24.79".into(), true),
            ("SalesTax", "260100", "-760".into(), "-4.71".into(), true),
            ("PennyDifference", "850100", "0".into(), "-0.01".into(), true),
        ]
    );
}

#[test]
fn usd_invoice_with_a_rounding_difference() {
    let lines = vec![line(1, "1", "10.01", "VAT19"), line(2, "1", "10.01", "VAT19"), line(3, "1", "10.01", "VAT19")];
    let p = post(invoice(header("USD", DocumentKind::Sales), lines), &master(), &PostingOptions::default()).unwrap();
    // 3 × 10.01 = 30.03 USD; VAT 30.03 × 0.19 = 5.7057 → 5.71; total 35.74 USD.
    // At 0.9245: 35.74 → 33.04163 → 33.04; each −10.01 → −9.254245 → −9.25; −5.71 → −5.278895 → −5.28;
    // 33.04 − 3 × 9.25 − 5.28 = 0.01 → −0.01 to the penny-difference account.
    assert_eq!(p.rate, d("0.9245"));
    let e = entries(&p);
    assert_eq!(e[0], ("CustomerBalance", "130100", "35.74".into(), "33.04".into(), false));
    assert_eq!(e[1], ("Revenue", "401100", "-10.01".into(), "-9.25".into(), true));
    assert_eq!(e[4], ("SalesTax", "260100", "-5.71".into(), "-5.28".into(), true));
    assert_eq!(e[5], ("PennyDifference", "850100", "0.00".into(), "-0.01".into(), true));
    let sum: Decimal = p.ledger.iter().map(|l| l.amount_acc).sum();
    assert!(sum.is_zero());
}

#[test]
fn zero_priced_lines_and_the_revenue_option() {
    let inv = || {
        invoice(header("EUR", DocumentKind::Sales), vec![line(1, "1", "10.00", "VAT19"), line(2, "5", "0", "VAT19")])
    };
    let with = post(inv(), &master(), &PostingOptions::default()).unwrap();
    assert_eq!(with.ledger.iter().filter(|l| l.posting_type == PostingType::Revenue).count(), 2);
    let without =
        post(inv(), &master(), &PostingOptions { zero_price_to_revenue: false, ..PostingOptions::default() }).unwrap();
    assert_eq!(without.ledger.iter().filter(|l| l.posting_type == PostingType::Revenue).count(), 1);
}

#[test]
fn missing_exchange_rate_is_a_reject() {
    let err = post(
        invoice(header("CHF", DocumentKind::Sales), vec![line(1, "1", "10.00", "VAT19")]),
        &master(),
        &PostingOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.1.rule, Rule::RefExchangeRate);
    assert_eq!(err.1.message, "no exchange rate CHF → EUR valid on 2024-03-04 — Add the rate to ExchangeRate (FromCurrency = invoice currency, ToCurrency = accounting currency).");
}

/// D365's lookup order for a line's revenue account: the row for its item (Table), then its
/// item sales tax group's (Group), then All; lines of one invoice alternate between them.
#[test]
fn revenue_accounts_by_item_then_group_then_all() {
    let mut md = master();
    md.posting_setup.push(PostingSetup {
        posting_type: "Revenue".into(),
        account_code: "Table".into(),
        relation: Some("BIKE-1".into()),
        main_account: "401900",
    });
    md.index_posting_setup();
    let with_item = |(mut l, t): (InvoiceLine, LineTax), item: &str| {
        l.extras.set_slot(crate::model::Slot::ItemId, Some(item));
        (l, t)
    };
    let lines = vec![
        with_item(line(1, "1", "10.00", "VAT19"), "BIKE-1"),
        with_item(line(2, "1", "20.00", "VAT19"), "LOCK-1"),
        with_item(line(3, "1", "30.00", "VAT7"), "BIKE-1"),
        with_item(line(4, "1", "40.00", "VAT7"), "BOOK-1"),
        with_item(line(5, "1", "50.00", "VAT19"), "LOCK-1"),
    ];
    let p = post(invoice(header("EUR", DocumentKind::Sales), lines.clone()), &md, &PostingOptions::default()).unwrap();
    let revenue = |p: &Posted| {
        p.ledger
            .iter()
            .filter(|l| l.posting_type == PostingType::Revenue)
            .map(|l| l.account.to_string())
            .collect::<Vec<_>>()
    };
    // The item's row wins over the group (line 3 is REDUCED); the others: REDUCED's group row
    // or All.
    assert_eq!(revenue(&p), ["401900", "401100", "401900", "401200", "401100"]);
    // Without the item row, by group and All alone.
    let p = post(invoice(header("EUR", DocumentKind::Sales), lines), &master(), &PostingOptions::default()).unwrap();
    assert_eq!(revenue(&p), ["401100", "401100", "401200", "401200", "401100"]);
}

/// The content hash is what stores hold to recognise a re-import: its value must not move
/// between releases (a store written by an earlier one would see every invoice as changed).
/// Pinned for an invoice with non-ASCII texts, shared and unshared fields without a role on its
/// header, and a field without a role (shared by no other line entity) on every line.
#[test]
fn the_content_hash_of_an_invoice_stays_the_one_stores_hold() {
    let catalog = crate::entity::Catalog::builtin();
    let shared_and_not = |entity: &str| {
        let e = catalog.get(entity).unwrap();
        let yes: Vec<u16> = (0..e.fields.len()).filter(|&i| e.shared[i]).map(|i| i as u16).take(3).collect();
        let no = (0..e.fields.len()).find(|&i| !e.shared[i]).unwrap() as u16;
        (yes, no)
    };
    let (hs, hn) = shared_and_not("SalesInvoiceJournalHeader");
    let (ls, ln) = shared_and_not("BusinessDocumentSalesInvoiceLineItem");
    // The sales line entities share none (each names some differently); their fields are left
    // out of the hash.
    assert_eq!((hs.len(), ls.len()), (3, 0));
    let mut h = header("EUR", DocumentKind::Sales);
    h.buyer_reference = Some("Größe ½".into());
    for (k, &i) in hs.iter().enumerate() {
        h.extras.push(i, &format!("head {k} – é"));
    }
    h.extras.push(hn, "not shared");
    let mut lines = vec![line(1, "3", "19.99", "VAT19"), line(2, "2", "7.45", "VAT7"), line(3, "1", "100.00", "VAT19")];
    for (n, (l, _)) in lines.iter_mut().enumerate() {
        l.extras.set_slot(crate::model::Slot::ItemName, Some(&format!("Artikel {n} «x»")));
        l.extras.push(ln, "not shared either");
    }
    let inv = invoice(h, lines);
    let p = post(inv, &master(), &PostingOptions::default()).unwrap();
    assert_eq!(p.content_hash, "x3:3e39c59bb169d129527edc669f8a1c62");
}
