//! Document totals per EN 16931: line net amounts, VAT per (category, rate), document
//! allowances and charges, and the sums BT-106 … BT-115. Validation checks a source's totals
//! with these functions and posting stores what they return, so the numbers in the ledger,
//! the exports and the e-invoices are the same numbers.

use rust_decimal::Decimal;

use super::checked::{add, bounded, div, mul, sub, sum};
use super::{round_money, Currency, InvoiceHeader, InvoiceLine, Overflow};

/// Where VAT is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoundingPolicy {
    /// VAT per (category, rate) on the sum of the line nets, rounded once (EN 16931).
    #[default]
    Document,
    /// VAT rounded on every line and summed per (category, rate), as many legacy systems did.
    Line,
}

impl RoundingPolicy {
    /// The policy's name as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            RoundingPolicy::Document => "document",
            RoundingPolicy::Line => "line",
        }
    }
}

/// The tax of one line: its tax code with category and rate.
#[derive(Debug, Clone, PartialEq)]
pub struct LineTax {
    /// Sales tax code (a name of the master data).
    pub code: super::Name,
    /// EN 16931 VAT category (S, Z, E, AE, K, G, O, L, M).
    pub category: super::Name,
    /// Percent.
    pub rate: Decimal,
}

/// One row of the VAT breakdown (BG-23).
#[derive(Debug, Clone, PartialEq)]
pub struct VatGroup {
    /// VAT category (BT-118).
    pub category: super::Name,
    /// Rate in percent (BT-119).
    pub rate: Decimal,
    /// The tax code of the group's first line (its ledger account is used).
    pub tax_code: super::Name,
    /// Sum of the group's line nets.
    pub lines: Decimal,
    /// The group's share of the document allowance.
    pub allowance: Decimal,
    /// The group's share of the document charge.
    pub charge: Decimal,
    /// Taxable amount (BT-116) = lines − allowance + charge.
    pub base: Decimal,
    /// Tax amount (BT-117).
    pub amount: Decimal,
}

/// The totals of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// Line net amounts (BT-131), in line order.
    pub line_nets: Vec<Decimal>,
    /// Each line's own VAT (net × rate, rounded), for line exports; the document's VAT is
    /// the breakdown's.
    pub line_taxes: Vec<Decimal>,
    /// Each line's gross amount as EN 16931 documents show it: quantity × net price ÷ base
    /// quantity at two decimals (BT-129 × BT-146 ÷ BT-149).
    pub line_gross: Vec<Decimal>,
    /// What takes a line's gross amount to its net amount besides its charge: its discounts and
    /// the currency's rounding (gross + charge − net; negative when it adds).
    pub line_allowances: Vec<Decimal>,
    /// Sum of line nets (BT-106).
    pub line_total: Decimal,
    /// Document allowances (BT-107).
    pub allowance_total: Decimal,
    /// Document charges (BT-108).
    pub charge_total: Decimal,
    /// Total without VAT (BT-109).
    pub tax_exclusive: Decimal,
    /// VAT total (BT-110).
    pub vat_total: Decimal,
    /// Total with VAT (BT-112).
    pub tax_inclusive: Decimal,
    /// Paid amount (BT-113).
    pub prepaid: Decimal,
    /// Amount due (BT-115).
    pub payable: Decimal,
    /// VAT breakdown, in order of first appearance.
    pub groups: Vec<VatGroup>,
    /// How VAT was rounded.
    pub policy: RoundingPolicy,
}

/// Splits `amount` over `weights` in proportion, rounding every share but the last, which
/// takes the remainder (so the shares always add up to `amount`).
pub fn split(amount: Decimal, weights: &[Decimal], currency: Currency) -> Result<Vec<Decimal>, Overflow> {
    let total = sum(weights.iter().copied())?;
    let mut out = Vec::with_capacity(weights.len());
    let mut given = Decimal::ZERO;
    for (i, w) in weights.iter().enumerate() {
        let share = if i + 1 == weights.len() {
            sub(amount, given)?
        } else if total.is_zero() {
            if i == 0 {
                amount
            } else {
                Decimal::ZERO
            }
        } else {
            round_money(div(mul(amount, *w)?, total)?, currency)
        };
        given = add(given, share)?;
        out.push(bounded(share)?);
    }
    Ok(out)
}

/// `amount × rate ÷ 100` rounded to the currency ([`round_money`]): VAT at a rate in percent.
/// The usual amount and rate (mantissas whose product stays below 10^28, scales adding up to at
/// most 26) are computed exactly in integers, giving the value and scale the decimal steps give
/// (a test compares them); the others take those steps.
pub fn percent_of(amount: Decimal, rate: Decimal, currency: Currency) -> Result<Decimal, Overflow> {
    const E28: i128 = 10_000_000_000_000_000_000_000_000_000;
    let scale = amount.scale() + rate.scale() + 2;
    let product = amount.mantissa().checked_mul(rate.mantissa()).filter(|p| p.unsigned_abs() < E28 as u128);
    let (Some(p), true) = (product, scale <= 28) else {
        return Ok(round_money(div(mul(amount, rate)?, Decimal::ONE_HUNDRED)?, currency));
    };
    let units = currency.minor_units();
    let mantissa = if scale <= units {
        p * 10i128.pow(units - scale)
    } else {
        // Half away from zero, as round_money rounds; in 64 bits when both fit (a division the
        // processor does, where 128 bits take a call of ~60 instructions).
        let d = 10i128.pow(scale - units);
        match (i64::try_from(p), i64::try_from(d)) {
            (Ok(p), Ok(d)) => {
                let (q, r) = (p / d, p % d);
                i128::from(if r.unsigned_abs() * 2 >= d.unsigned_abs() { q + p.signum() } else { q })
            }
            _ => {
                let (q, r) = (p / d, p % d);
                if r.unsigned_abs() * 2 >= d.unsigned_abs() {
                    q + p.signum()
                } else {
                    q
                }
            }
        }
    };
    // A zero is positive (round_money's rule).
    Ok(Decimal::from_i128_with_scale(mantissa, units))
}

/// Computes the totals of a document from its header (currency, document allowance and charge)
/// and its lines with their taxes (one per line). Fails with [`Overflow`] when an amount
/// leaves [`super::AMOUNT_LIMIT`].
pub fn compute<'a>(
    header: &InvoiceHeader,
    lines: impl IntoIterator<Item = &'a InvoiceLine>,
    taxes: &[LineTax],
    policy: RoundingPolicy,
) -> Result<Totals, Overflow> {
    let lines: Vec<&InvoiceLine> = lines.into_iter().collect();
    let line_nets: Vec<Decimal> = lines.iter().map(|l| l.net_amount(header.currency)).collect::<Result<_, _>>()?;
    compute_with_nets(header, &lines, line_nets, taxes, policy)
}

/// [`compute`] with the lines' net amounts already computed (`line_nets[i]` is
/// `lines[i].net_amount(header.currency)`), as validation has them.
pub fn compute_with_nets(
    header: &InvoiceHeader,
    lines: &[&InvoiceLine],
    line_nets: Vec<Decimal>,
    taxes: &[LineTax],
    policy: RoundingPolicy,
) -> Result<Totals, Overflow> {
    debug_assert_eq!(lines.len(), line_nets.len());
    let cur = header.currency;
    let two = |d: Decimal| d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    // Vectors of their final size at once (a collect through `Result` cannot know it).
    let mut line_gross = Vec::with_capacity(lines.len());
    for l in lines {
        let amount = mul(l.quantity, sub(l.unit_price, l.discount_per_unit)?)?;
        line_gross.push(two(bounded(if l.price_unit_is_one() { amount } else { div(amount, l.price_unit)? })?));
    }
    let mut line_allowances = Vec::with_capacity(lines.len());
    for ((l, g), n) in lines.iter().zip(&line_gross).zip(&line_nets) {
        line_allowances.push(bounded(sub(add(*g, l.charge_amount)?, *n)?)?);
    }
    let mut groups: Vec<VatGroup> = Vec::new();
    let mut line_vat: Vec<Decimal> = Vec::new();
    let mut line_taxes = Vec::with_capacity(line_nets.len());
    for (net, tax) in line_nets.iter().zip(taxes) {
        let gi = match groups.iter().position(|g| *g.category == *tax.category && super::same_value(g.rate, tax.rate)) {
            Some(i) => i,
            None => {
                groups.push(VatGroup {
                    category: tax.category,
                    rate: tax.rate,
                    tax_code: tax.code,
                    lines: Decimal::ZERO,
                    allowance: Decimal::ZERO,
                    charge: Decimal::ZERO,
                    base: Decimal::ZERO,
                    amount: Decimal::ZERO,
                });
                line_vat.push(Decimal::ZERO);
                groups.len() - 1
            }
        };
        groups[gi].lines = bounded(add(groups[gi].lines, *net)?)?;
        let own = bounded(percent_of(*net, tax.rate, cur)?)?;
        line_vat[gi] = bounded(add(line_vat[gi], own)?)?;
        line_taxes.push(own);
    }
    let allowance_total = bounded(round_money(header.totals.discount.unwrap_or_default(), cur))?;
    let charge_total = bounded(round_money(header.totals.charge.unwrap_or_default(), cur))?;
    let weights: Vec<Decimal> = groups.iter().map(|g| g.lines).collect();
    let allowances = split(allowance_total, &weights, cur)?;
    let charges = split(charge_total, &weights, cur)?;
    for (i, g) in groups.iter_mut().enumerate() {
        g.allowance = allowances[i];
        g.charge = charges[i];
        g.lines = round_money(g.lines, cur);
        g.base = bounded(round_money(add(sub(g.lines, g.allowance)?, g.charge)?, cur))?;
        g.amount = bounded(match policy {
            RoundingPolicy::Document => percent_of(g.base, g.rate, cur)?,
            RoundingPolicy::Line => add(line_vat[i], percent_of(sub(g.charge, g.allowance)?, g.rate, cur)?)?,
        })?;
    }
    let line_total = bounded(round_money(sum(line_nets.iter().copied())?, cur))?;
    let tax_exclusive = bounded(add(sub(line_total, allowance_total)?, charge_total)?)?;
    let vat_total = bounded(round_money(sum(groups.iter().map(|g| g.amount))?, cur))?;
    let tax_inclusive = bounded(add(tax_exclusive, vat_total)?)?;
    Ok(Totals {
        line_nets,
        line_taxes,
        line_gross,
        line_allowances,
        line_total,
        allowance_total,
        charge_total,
        tax_exclusive,
        vat_total,
        tax_inclusive,
        prepaid: Decimal::ZERO,
        payable: tax_inclusive,
        groups,
        policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// The integer way of [`percent_of`] gives the value and scale of the decimal steps.
    #[test]
    fn a_percent_computed_in_integers_is_the_decimal_one() {
        let slow = |a: Decimal, r: Decimal, c: Currency| {
            round_money(div(mul(a, r).unwrap(), Decimal::ONE_HUNDRED).unwrap(), c)
        };
        let currencies = ["EUR", "JPY", "BHD"].map(|c| Currency::from_code(c).unwrap());
        let rates = ["19", "7", "0", "5.5", "20.000", "2.1", "8.875", "100", "-19", "0.0001"];
        let mut rng = crate::generate::Rng::new(11);
        let mut amounts: Vec<Decimal> = [
            "0",
            "0.00",
            "-0.01",
            "0.05",
            "0.025",
            "-0.025",
            "1.005",
            "12345678901234567.89",
            "99999999999999999999.99",
        ]
        .iter()
        .map(|t| d(t))
        .collect();
        for _ in 0..20_000 {
            let m = rng.below(2_000_000_000_000) as i64 - 1_000_000_000_000;
            amounts.push(Decimal::new(m, rng.below(9) as u32));
        }
        let mut checked = 0;
        for a in &amounts {
            for r in rates {
                for c in currencies {
                    let (fast, slow) = (percent_of(*a, d(r), c).unwrap(), slow(*a, d(r), c));
                    assert_eq!((fast.mantissa(), fast.scale()), (slow.mantissa(), slow.scale()), "{a} × {r}% in {c:?}");
                    assert_eq!(fast.is_sign_negative(), slow.is_sign_negative(), "{a} × {r}% in {c:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, (20_000 + 9) * 10 * 3);
    }

    /// The shortcut of the line gross amounts: dividing by a price unit of 1 keeps value and
    /// scale.
    #[test]
    fn dividing_by_one_keeps_value_and_scale() {
        let mut rng = crate::generate::Rng::new(5);
        for _ in 0..20_000 {
            let m = rng.below(4_000_000_000_000_000_000) as i64 - 2_000_000_000_000_000_000;
            let x = Decimal::new(m, rng.below(29) as u32);
            let q = div(x, Decimal::ONE).unwrap();
            assert_eq!(
                (q.mantissa(), q.scale(), q.is_sign_negative()),
                (x.mantissa(), x.scale(), x.is_sign_negative())
            );
        }
    }

    #[test]
    fn split_adds_up_exactly() {
        let eur = Currency::from_code("EUR").unwrap();
        let s = split(d("10.00"), &[d("1"), d("1"), d("1")], eur).unwrap();
        assert_eq!(s, vec![d("3.33"), d("3.33"), d("3.34")]);
        assert_eq!(split(d("5"), &[d("0"), d("0")], eur), Ok(vec![d("5"), d("0")]));
    }
}
