//! ISO 4217 currencies and their minor units (how many decimals an amount is rounded to), from
//! the `iso_currency` crate's table: current codes and those superseded since (HRK, SLL, VES …,
//! which old invoices of a migration carry); funds, precious metals and special codes (XAU,
//! XDR, XXX) are no invoice currencies.

/// A currency: its ISO 4217 alphabetic code and minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    minor_units: u8,
}

impl Currency {
    /// The currency with this code (upper case, as ISO 4217 writes it), if it is one.
    pub fn from_code(code: &str) -> Option<Currency> {
        let b = code.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        let iso = iso_currency::Currency::from_code(code)?;
        if iso.is_special() || iso.is_fund() {
            return None;
        }
        let minor_units = u8::try_from(iso.exponent()?).ok()?;
        let mut c = [0u8; 3];
        c.copy_from_slice(b);
        Some(Currency { code: c, minor_units })
    }

    /// The alphabetic code.
    pub fn code(&self) -> &str {
        // The bytes are three ASCII capitals (checked in from_code).
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Decimals of the minor unit: 2 for EUR, 0 for JPY, 3 for KWD.
    pub fn minor_units(&self) -> u32 {
        u32::from(self.minor_units)
    }

    /// The code's bytes and the minor units, for [`Currency::from_bytes`].
    pub(crate) fn to_bytes(self) -> [u8; 4] {
        let [a, b, c] = self.code;
        [a, b, c, self.minor_units]
    }

    /// The currency [`Currency::to_bytes`] gave (only ever given bytes it wrote).
    pub(crate) fn from_bytes([a, b, c, minor_units]: [u8; 4]) -> Currency {
        Currency { code: [a, b, c], minor_units }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_and_codes() {
        assert_eq!(Currency::from_code("EUR").unwrap().minor_units(), 2);
        assert_eq!(Currency::from_code("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::from_code("KWD").unwrap().minor_units(), 3);
        assert_eq!(Currency::from_code("EURO"), None);
        assert_eq!(Currency::from_code("eur"), None);
        assert_eq!(Currency::from_code("XYZ"), None);
        assert_eq!(Currency::from_code("CLF"), None, "a fund");
        assert_eq!(Currency::from_code("XAU"), None, "a precious metal");
        assert_eq!(Currency::from_code("XXX"), None, "no currency");
        // Superseded currencies stay readable: a migration carries invoices from before.
        assert_eq!(Currency::from_code("HRK").unwrap().minor_units(), 2);
        assert_eq!(Currency::from_code("ZWG").unwrap().minor_units(), 2);
        assert_eq!(Currency::from_code("BHD").unwrap().minor_units(), 3);
        assert_eq!(Currency::from_code("CLP").unwrap().minor_units(), 0);
    }
}
