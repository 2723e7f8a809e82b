//! A seeded generator of D365-shaped test data: master data, sales invoice headers
//! (SalesInvoiceHeaderV2) and lines (BusinessDocumentSalesInvoiceLineItem), with a skewed
//! number of lines per invoice, several currencies and VAT categories, ~3 % credit notes and
//! an optional rate of defective invoices. The same seed gives the same bytes.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use crate::model::{round_money, Currency, Date};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// Number of invoices (credit notes included).
    pub invoices: u64,
    /// Seed.
    pub seed: u64,
    /// Output folder (files are written into it, `master/` below it).
    pub out: PathBuf,
    /// Share of invoices with one defect, 0.0–1.0.
    pub defect_rate: f64,
    /// Number of customers.
    pub customers: u64,
    /// Number of the first invoice (to generate a later batch of the same data set).
    pub first: u64,
    /// Also write the header and line files as Parquet (same rows, typed columns).
    pub parquet: bool,
    /// Interleave the lines of blocks of invoices instead of keeping each invoice's lines
    /// together (files that are not grouped by invoice).
    pub unsorted: bool,
    /// Customers of every VAT category the writers support besides S, K and G: zero rated (Z),
    /// exempt (E), domestic reverse charge (AE), not subject to VAT (O), IGIC (L) and IPSI
    /// (M), so that the documents of every category can be validated (a different data set).
    pub all_categories: bool,
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Generated {
    /// Invoices written (credit notes included).
    pub invoices: u64,
    /// Credit notes among them.
    pub credit_notes: u64,
    /// Lines written.
    pub lines: u64,
    /// Invoices given a defect.
    pub defective: u64,
    /// Header file.
    pub headers: PathBuf,
    /// Line file.
    pub lines_file: PathBuf,
    /// Master data folder.
    pub master: PathBuf,
}

/// SplitMix64: small, fast, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    /// A generator with a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const CURRENCIES: &[(&str, &str)] =
    &[("EUR", "1"), ("USD", "0.9245"), ("GBP", "1.1650"), ("CHF", "1.0412"), ("JPY", "0.0062")];
const ITEMS: &[(&str, &str, &str)] = &[
    ("BK-1001", "City bike 28\"", "FULL"),
    ("BK-2040", "Trekking bike Alpina", "FULL"),
    ("AC-0101", "Bike lock, steel", "FULL"),
    ("AC-0330", "Helmet, size M", "FULL"),
    ("BO-0007", "Cycling guide book", "REDUCED"),
    ("SV-0100", "Workshop hour", "FULL"),
    ("TI-0028", "Inner tube 28\", box of 10", "FULL"),
    ("FD-0001", "Energy bar, box", "REDUCED"),
];
/// Customer tax groups with their share of customers: domestic, EU (reverse charge), export.
const GROUPS: &[(&str, u64)] = &[("DOM", 80), ("EU", 12), ("EXP", 8)];

/// The tax groups with `--all-categories`: the three above and one per further category.
const ALL_GROUPS: &[(&str, u64)] =
    &[("DOM", 40), ("EU", 10), ("EXP", 8), ("ZRO", 7), ("EXM", 7), ("RC", 7), ("OUT", 7), ("IGIC", 7), ("IPSI", 7)];

/// The tax code and rate of a line of a customer of `group` for an item of `item_group`.
fn tax_of(group: &str, item_group: &str) -> (Decimal, &'static str) {
    match (group, item_group) {
        ("DOM", "FULL") => (Decimal::from(19), "VAT19"),
        ("DOM", _) => (Decimal::from(7), "VAT7"),
        ("EU", _) => (Decimal::ZERO, "VAT0EU"),
        ("ZRO", _) => (Decimal::ZERO, "ZERO"),
        ("EXM", _) => (Decimal::ZERO, "EXEMPT"),
        ("RC", _) => (Decimal::ZERO, "RCDOM"),
        ("OUT", _) => (Decimal::ZERO, "NOTSUBJ"),
        ("IGIC", _) => (Decimal::from(7), "IGIC7"),
        ("IPSI", _) => (Decimal::from(4), "IPSI4"),
        _ => (Decimal::ZERO, "EXPORT"),
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn write_file(path: &Path, text: &str) -> io::Result<()> {
    fs::write(path, text).map_err(io_err(path))
}

/// Writes the lines of a block of invoices interleaved (the first line of each, then the
/// second of each, …): no invoice's lines stay together.
fn write_interleaved(w: &mut impl Write, block: &mut Vec<Vec<String>>) -> io::Result<()> {
    let longest = block.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for lines in block.iter() {
            if let Some(l) = lines.get(i) {
                w.write_all(l.as_bytes())?;
            }
        }
    }
    block.clear();
    Ok(())
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn master(
    dir: &Path,
    customers: u64,
    all_categories: bool,
    rng: &mut Rng,
) -> io::Result<Vec<(String, &'static str, &'static str)>> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    write_file(
        &dir.join("LegalEntity.csv"),
        "LegalEntityId,Name,AccountingCurrency,VatNumber,LegalRegistrationId,AddressStreet,AddressCity,AddressZipCode,AddressCountryRegionISOCode,ElectronicAddress,ElectronicAddressScheme,Iban,Bic,ContactName,ContactPhone,ContactEmail\n\
         DEMF,Nordwind Handels GmbH,EUR,DE123456789,HRB 12345,Hafenstraße 12,Hamburg,20457,DE,DE123456789,9930,DE89370400440532013000,COBADEFFXXX,Accounts Receivable,+49 40 123456-0,ar@nordwind.example\n",
    )?;
    write_file(
        &dir.join("SalesTaxCode.csv"),
        &format!(
            "TaxCode,Name,Rate,VatCategory,ExemptionReasonCode,ExemptionReason,SalesTaxPayableAccount\n\
             VAT19,VAT 19 %,19,S,,,260100\nVAT7,VAT 7 %,7,S,,,260110\n\
             VAT0EU,Intra-Community supply,0,K,VATEX-EU-IC,Intra-Community supply,260120\n\
             EXPORT,Export,0,G,VATEX-EU-G,Export outside the EU,260130\n{}",
            if all_categories {
                "ZERO,Zero rated,0,Z,,,260140\n\
                 EXEMPT,Exempt,0,E,VATEX-EU-132,Exempt (Art. 132),260150\n\
                 RCDOM,Domestic reverse charge,0,AE,VATEX-EU-AE,Reverse charge,260160\n\
                 NOTSUBJ,Not subject to VAT,0,O,VATEX-EU-O,Not subject to VAT,260170\n\
                 IGIC7,IGIC 7 %,7,L,,,260180\nIPSI4,IPSI 4 %,4,M,,,260190\n"
            } else {
                ""
            }
        ),
    )?;
    let (extra_groups, extra_items) = if all_categories {
        (
            "ZRO,ZERO\nEXM,EXEMPT\nRC,RCDOM\nOUT,NOTSUBJ\nIGIC,IGIC7\nIPSI,IPSI4\n",
            "FULL,ZERO\nFULL,EXEMPT\nFULL,RCDOM\nFULL,NOTSUBJ\nFULL,IGIC7\nFULL,IPSI4\n\
             REDUCED,ZERO\nREDUCED,EXEMPT\nREDUCED,RCDOM\nREDUCED,NOTSUBJ\nREDUCED,IGIC7\nREDUCED,IPSI4\n",
        )
    } else {
        ("", "")
    };
    write_file(
        &dir.join("SalesTaxGroup.csv"),
        &format!("SalesTaxGroup,TaxCode\nDOM,VAT19\nDOM,VAT7\nEU,VAT0EU\nEXP,EXPORT\n{extra_groups}"),
    )?;
    write_file(
        &dir.join("ItemSalesTaxGroup.csv"),
        &format!(
            "ItemSalesTaxGroup,TaxCode\nFULL,VAT19\nFULL,VAT0EU\nFULL,EXPORT\nREDUCED,VAT7\nREDUCED,VAT0EU\nREDUCED,EXPORT\n{extra_items}"
        ),
    )?;
    write_file(
        &dir.join("PaymentTerms.csv"),
        "Name,Description,Days,FromMonthEnd,PaymentMeansCode\nNet14,14 days net,14,No,58\nNet30,30 days net,30,No,58\nCM30,Current month + 30,30,Yes,58\n",
    )?;
    let mut rates = String::from("FromCurrency,ToCurrency,StartDate,Rate\n");
    for (c, r) in CURRENCIES.iter().skip(1) {
        let _ = writeln!(rates, "{c},EUR,2020-01-01,{r}");
    }
    write_file(&dir.join("ExchangeRate.csv"), &rates)?;
    write_file(
        &dir.join("PostingSetup.csv"),
        "PostingType,AccountCode,Relation,MainAccount\nCustomerBalance,All,,130100\nCustomerBalance,Group,EU,130110\n\
         Revenue,All,,401100\nRevenue,Group,REDUCED,401200\nCharges,All,,403100\nDiscount,All,,403200\nPennyDifference,All,,850100\n",
    )?;
    write_file(
        &dir.join("NumberSequence.csv"),
        "LegalEntityId,Reference,Format,NextNumber\nDEMF,Invoice,GEN-INV-########,1\nDEMF,CreditNote,GEN-CRN-########,1\nDEMF,Voucher,GV-##########,1\n",
    )?;
    let path = dir.join("Customer.csv");
    let mut w = BufWriter::new(File::create(&path).map_err(io_err(&path))?);
    writeln!(w, "CustomerAccount,OrganizationName,CustomerGroupId,SalesCurrencyCode,PaymentTerms,SalesTaxGroup,AddressStreet,AddressCity,AddressZipCode,AddressCountryRegionISOCode,TaxExemptNumber,ElectronicAddress,ElectronicAddressScheme")?;
    let mut out = Vec::with_capacity(customers as usize);
    for i in 0..customers {
        let roll = rng.below(100);
        let mut acc = 0;
        let groups = if all_categories { ALL_GROUPS } else { GROUPS };
        let group = groups.iter().find(|(_, share)| {
            acc += share;
            roll < acc
        });
        let group = group.map(|g| g.0).unwrap_or("DOM");
        let (country, scheme) = match group {
            "EU" => ("FR", "9957"),
            "EXP" => ("CH", "0060"),
            _ => ("DE", "9930"),
        };
        let terms = ["Net14", "Net30", "CM30"][rng.below(3) as usize];
        let account = format!("C{i:06}");
        // VAT identifiers in their country's format: FR with the key of its SIREN, CH as CHE.
        let id = 100_000_000 + i;
        let vat = match country {
            "FR" => format!("FR{:02}{id:09}", (12 + 3 * (id % 97)) % 97),
            "CH" => format!("CHE{id:09}"),
            _ => format!("{country}{id:09}"),
        };
        let endpoint = if scheme == "0060" { format!("{:09}", 100_000_000 + i) } else { vat.clone() };
        // A customer not subject to VAT has no VAT identifier (BR-O-02).
        let vat = if group == "OUT" { String::new() } else { vat };
        writeln!(
            w,
            "{account},Customer {i} GmbH,{group},EUR,{terms},{group},Street {},City {},{:05},{country},{vat},{endpoint},{scheme}",
            i % 200 + 1,
            i % 97,
            10_000 + i % 89_999
        )?;
        out.push((account, group, terms));
    }
    w.flush()?;
    Ok(out)
}

/// The header columns: every field of SalesInvoiceHeaderV2, as a DMF export writes them.
const HEADER_COLUMNS: &str = "DATAAREAID,INVOICENUMBER,INVOICEDATE,LEDGERVOUCHER,CONTACTPERSONID,CUSTOMERSORDERREFERENCE,DELIVERYMODECODE,DELIVERYTERMSCODE,PAYMENTTERMSNAME,TOTALINVOICEAMOUNT,CURRENCYCODE,INVOICEHEADERTAXAMOUNT,TOTALTAXAMOUNT,TOTALCHARGEAMOUNT,TOTALDISCOUNTCUSTOMERGROUPCODE,INVOICECUSTOMERACCOUNTNUMBER,SALESORDERNUMBER,INVOICEADDRESSSTATE,INVOICEADDRESSSTREET,INVOICEADDRESSSTREETNUMBER,INVOICEADDRESSZIPCODE,INVOICEADDRESSCITY,INVOICEADDRESSCOUNTRYREGIONID,INVOICEADDRESSCOUNTRYREGIONISOCODE,SALESORDERRESPONSIBLEPERSONNELNUMBER,TOTALDISCOUNTAMOUNT,SALESORDERORIGINCODE,ORIGINALINVOICENUMBER,DUEDATE,BUYERREFERENCE";

/// The line columns: every field of BusinessDocumentSalesInvoiceLineItem.
const LINE_COLUMNS: &str = "DATAAREAID,INVOICEID,INVOICEDATE,LINECREATIONSEQUENCENUMBER,LINEAMOUNTTAXMST,PARENTRECID,NAME,LINEAMOUNTTAX,DISCAMOUNT,QTY,ORIGSALESID,INVOICEACCOUNT,PRICEUNIT,INVENTDIMID,LINEDISC,LEDGERVOUCHER,DISCPERCENT,EXTERNALITEMDESCRIPTION,LINEAMOUNT,DATAAREA,CUSTINVOICETRANSRECID,ITEMBARCODE,CUSTINVOICETRANSTABLEID,SALESPRICE,SUMLINEDISC,EXTERNALITEMID,SALESUNIT,ISREVERSECHARGE,ITEMID,TAXEXEMPTCODEREASON_IT,UNITPRICENET,TAXNAME,TAXTYPE_IT,LINEAMOUNTMST,ITEMNAME,TAXRATE,TAXCOUNTRYREGIONTYPE,SALESTAXGROUP,ITEMSALESTAXGROUP";

/// Invoices whose lines are interleaved with `--unsorted` (bounded memory).
const UNSORTED_BLOCK: usize = 512;

const CITIES: &[(&str, &str, &str)] = &[
    ("Hamburg", "HH", "20457"),
    ("München", "BY", "80331"),
    ("Köln", "NW", "50667"),
    ("Stuttgart", "BW", "70173"),
    ("Lyon", "", "69002"),
    ("Zürich", "ZH", "8001"),
];

/// Writes the data set. Returns what was written.
///
/// Every field of the header and line entities is written (full width, as DMF exports them):
/// texts with commas and quotes, empty optional fields, record ids, dimension ids, addresses.
/// The values that matter to posting come from the seed's main stream; the other fields from
/// a second stream, so that they do not change the documents.
pub fn generate(req: &GenerateRequest) -> io::Result<Generated> {
    let mut rng = Rng::new(req.seed);
    let mut extra = Rng::new(req.seed ^ 0x5EED_F00D_CAFE_D00D);
    fs::create_dir_all(&req.out).map_err(io_err(&req.out))?;
    let master_dir = req.out.join("master");
    let customers = master(&master_dir, req.customers.max(1), req.all_categories, &mut rng)?;
    let headers_path = req.out.join("SalesInvoiceHeaderV2.csv");
    let lines_path = req.out.join("BusinessDocumentSalesInvoiceLineItem.csv");
    let mut hw = BufWriter::with_capacity(1 << 20, File::create(&headers_path).map_err(io_err(&headers_path))?);
    let mut lw = BufWriter::with_capacity(1 << 20, File::create(&lines_path).map_err(io_err(&lines_path))?);
    writeln!(hw, "{HEADER_COLUMNS}")?;
    writeln!(lw, "{LINE_COLUMNS}")?;
    let start = Date::from_ymd(2023, 1, 2).unwrap_or(Date::from_days_since_epoch(19359));
    let mut g = Generated {
        headers: headers_path.clone(),
        lines_file: lines_path.clone(),
        master: master_dir,
        ..Default::default()
    };
    let mut line = String::with_capacity(512);
    let hundred = Decimal::ONE_HUNDRED;
    let mut issued: Vec<u64> = Vec::new();
    // With --unsorted, the lines of a block of invoices, written interleaved at its end.
    let mut block: Vec<Vec<String>> = Vec::new();
    let mut trans_rec_id: u64 = 5_637_144_576;
    for n in 0..req.invoices {
        let credit = n > 10 && rng.below(100) < 3;
        let (customer, group, terms) = &customers[rng.below(customers.len() as u64) as usize];
        let roll = rng.below(100);
        let (cur_code, to_eur) = CURRENCIES[if roll < 85 { 0 } else { 1 + (roll % 4) as usize }];
        let cur = Currency::from_code(cur_code).unwrap_or_else(|| unreachable!("generator currencies are ISO codes"));
        let to_eur: Decimal = to_eur.parse().unwrap_or(Decimal::ONE);
        let date = start.add_days((n * 600 / req.invoices.max(1)) as i32);
        let number = format!("{}-{:08}", if credit { "CRN" } else { "INV" }, req.first + n);
        // A credit note corrects an invoice issued before it (not another credit note).
        let original = if credit {
            format!("INV-{:08}", req.first + issued[rng.below(issued.len() as u64) as usize])
        } else {
            issued.push(n);
            String::new()
        };
        let nlines = 1 + (49.0 * rng.unit().powi(4)) as u64;
        let defect = req.defect_rate > 0.0 && rng.unit() < req.defect_rate;
        let defect_kind = if defect { rng.below(5) } else { 99 };
        let defect_line = rng.below(nlines);
        let header_rec_id = 5_637_150_000 + req.first + n;
        let (tax_type, reverse) = match *group {
            "EU" => ("EU", 1),
            "RC" => ("Domestic", 1),
            "EXP" => ("Export", 0),
            _ => ("Domestic", 0),
        };
        // (net, rate) per line, for the header's totals.
        let mut per_rate: Vec<(Decimal, Decimal)> = Vec::new();
        let mut net_total = Decimal::ZERO;
        let mut lines: Vec<String> = Vec::with_capacity(nlines as usize);
        for li in 0..nlines {
            let (item, name, item_group) = ITEMS[rng.below(ITEMS.len() as u64) as usize];
            let mut qty = Decimal::from(1 + rng.below(20));
            if item == "SV-0100" && rng.below(2) == 0 {
                qty += Decimal::new(5, 1);
            }
            if credit {
                qty = -qty;
            }
            let price = Decimal::new(50 + rng.below(200_000) as i64, 2);
            let pct = if rng.below(10) == 0 { Decimal::from(5 * (1 + rng.below(4))) } else { Decimal::ZERO };
            let gross = qty * price;
            let net = round_money(gross - gross * pct / hundred, cur);
            let (rate, tax_name) = tax_of(group, item_group);
            match per_rate.iter_mut().find(|(r, _)| *r == rate) {
                Some((_, b)) => *b += net,
                None => per_rate.push((rate, net)),
            }
            net_total += net;
            let tax = round_money(net * rate / hundred, cur);
            let eur = Currency::from_code("EUR").unwrap_or(cur);
            line.clear();
            let qty_text = if defect_kind == 3 && li == defect_line { "two".to_string() } else { qty.to_string() };
            let amount = if defect_kind == 4 && li == defect_line { net + Decimal::ONE } else { net };
            trans_rec_id += 1;
            let external_desc = match extra.below(6) {
                0 => format!("\"{name}\", Kundenartikel {}", extra.below(900) + 100),
                1 => format!("Ref. {}; Lieferung {}", extra.below(99_999), li + 1),
                _ => String::new(),
            };
            let _ = writeln!(
                line,
                "DEMF,{number},{date}T12:00:00Z,{seq},{tax_mst},{header_rec_id},{desc},{tax},0,{qty_text},SO-{n},{customer},1,#{dim:08},0,,{pct},{ext},{amount},demf,{trans_rec_id},{ean},64,{price},0,{ext_id},ea,{reverse},{item},,{net_price},{tax_name},,{net_mst},{name_q},{rate},{tax_type},{group},{item_group}",
                seq = (li + 1) * 10,
                tax_mst = round_money(tax * to_eur, eur),
                desc = quote(name),
                dim = extra.below(50_000),
                ext = quote(&external_desc),
                ean = 4_006_381_000_000u64 + extra.below(999_999),
                ext_id = if extra.below(4) == 0 { format!("K-{}", extra.below(9_999)) } else { String::new() },
                net_price = price * (hundred - pct) / hundred,
                net_mst = round_money(net * to_eur, eur),
                name_q = quote(name),
            );
            lines.push(std::mem::take(&mut line));
            g.lines += 1;
        }
        if req.unsorted {
            block.push(lines);
            if block.len() == UNSORTED_BLOCK {
                write_interleaved(&mut lw, &mut block)?;
            }
        } else {
            for l in &lines {
                lw.write_all(l.as_bytes())?;
            }
        }
        // With all categories, some invoices also carry a document-level discount (3 % of the
        // net) and a freight charge, which posting splits over the VAT rates by their nets.
        let (discount, charge) = if req.all_categories && !credit {
            let d = if rng.below(6) == 0 { round_money(net_total * Decimal::new(3, 2), cur) } else { Decimal::ZERO };
            let c = if rng.below(8) == 0 { round_money(Decimal::new(1250, 2), cur) } else { Decimal::ZERO };
            (d, c)
        } else {
            (Decimal::ZERO, Decimal::ZERO)
        };
        let vat: Decimal = if discount.is_zero() && charge.is_zero() {
            per_rate.iter().map(|(r, b)| round_money(*b * *r / hundred, cur)).sum()
        } else {
            let weights: Vec<Decimal> = per_rate.iter().map(|(_, b)| *b).collect();
            let split = |amount: Decimal| {
                crate::model::totals::split(amount, &weights, cur).map_err(|_| io::Error::other("amounts overflow"))
            };
            let (allowances, charges) = (split(discount)?, split(charge)?);
            let mut vat = Decimal::ZERO;
            for (i, (r, b)) in per_rate.iter().enumerate() {
                let base = round_money(*b - allowances[i] + charges[i], cur);
                vat += crate::model::totals::percent_of(base, *r, cur)
                    .map_err(|_| io::Error::other("amounts overflow"))?;
            }
            vat
        };
        let total = net_total - discount + charge + vat;
        let customer = if defect_kind == 0 { "NOSUCHCUST" } else { customer.as_str() };
        let date_text = if defect_kind == 1 { "2023-02-30".to_string() } else { format!("{date}T12:00:00Z") };
        let total_text = if defect_kind == 2 { (total + Decimal::ONE).to_string() } else { total.to_string() };
        let (city, state, zip) = CITIES[extra.below(CITIES.len() as u64) as usize];
        let reference = match extra.below(8) {
            0 => format!("\"Rahmenvertrag {}\", Los {}", 2023 + extra.below(2), extra.below(9) + 1),
            1 => format!("Bestellung {}/{}", extra.below(999), 2023 + extra.below(2)),
            _ => format!("PO-{n}"),
        };
        let line = format!(
            "DEMF,{number},{date_text},,{contact},{reference},{mode},{terms_code},{terms},{total_text},{cur_code},{vat},{vat},{charge},0,{customer},SO-{n},{state},{street},{street_no},{zip},{city},{country_id},{iso},{personnel:06},{discount},{origin},{original},,{buyer}\n",
            contact = if extra.below(3) == 0 { String::new() } else { format!("CP-{:05}", extra.below(50_000)) },
            reference = quote(&reference),
            mode = ["TRUCK", "PARCEL", ""][extra.below(3) as usize],
            terms_code = ["EXW", "DAP", "FCA", ""][extra.below(4) as usize],
            street = quote(&format!("Industriestraße {}", extra.below(120) + 1)),
            street_no = if extra.below(5) == 0 { format!("{}a", extra.below(99) + 1) } else { String::new() },
            country_id = if city == "Lyon" { "FRA" } else if city == "Zürich" { "CHE" } else { "DEU" },
            iso = if city == "Lyon" { "FR" } else if city == "Zürich" { "CH" } else { "DE" },
            personnel = extra.below(999_999),
            origin = ["EDI", "WEB", "", "PHONE"][extra.below(4) as usize],
            buyer = if extra.below(4) == 0 { format!("LW-{:010}", extra.below(9_999_999_999)) } else { String::new() },
        );
        hw.write_all(line.as_bytes())?;
        g.invoices += 1;
        if credit {
            g.credit_notes += 1;
        }
        if defect {
            g.defective += 1;
        }
    }
    write_interleaved(&mut lw, &mut block)?;
    hw.flush()?;
    lw.flush()?;
    drop((hw, lw));
    if req.parquet {
        let catalog = crate::entity::Catalog::builtin();
        for (entity, csv) in
            [("SalesInvoiceHeaderV2", &headers_path), ("BusinessDocumentSalesInvoiceLineItem", &lines_path)]
        {
            let e = catalog.get(entity).ok_or_else(|| io::Error::other(format!("no entity {entity}")))?;
            crate::export::csv_to_parquet(e, csv, &csv.with_extension("parquet")).map_err(io::Error::other)?;
        }
    }
    Ok(g)
}
