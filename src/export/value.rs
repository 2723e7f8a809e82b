//! The values an export hands its sinks: typed as the store holds them (a decimal stays a
//! decimal, text stays borrowed from the store's row), so a Parquet column takes a decimal's
//! mantissa without a text round trip and a CSV field is formatted straight into the output.

use rust_decimal::Decimal;

/// One exported field's value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value<'r> {
    /// No value (an empty CSV field, a Parquet null).
    Null,
    /// Text borrowed from the store's row or the entity.
    Text(&'r str),
    /// An integer.
    Int(i64),
    /// An exact decimal, with its scale.
    Dec(Decimal),
    /// Text made for this row (fields without a role of stores that hold them as JSON).
    Owned(String),
}

/// Room for the text of any integer or decimal: a sign, 29 digits, a point and a leading `0.`
/// with up to 28 zeros.
pub(super) type Scratch = [u8; 64];

impl Value<'_> {
    /// The value as the text the store's row tables held (`None` for null): decimals with
    /// their scale (`1.50`, `-0.00`), as `Decimal`'s `Display` writes them.
    pub(super) fn text<'s>(&'s self, scratch: &'s mut Scratch) -> Option<&'s str> {
        match self {
            Value::Null => None,
            Value::Text(t) => Some(t),
            Value::Owned(t) => Some(t),
            Value::Int(v) => Some(int_text(*v, scratch)),
            Value::Dec(d) => Some(decimal_text(d, scratch)),
        }
    }
}

/// Writes the decimal digits of `m` right-aligned ending at `end`; returns where they start.
fn digits(mut m: u128, buf: &mut [u8], end: usize) -> usize {
    let mut at = end;
    // Most amounts fit 64 bits, whose division is several times cheaper.
    while m > u128::from(u64::MAX) {
        at -= 1;
        buf[at] = b'0' + (m % 10) as u8;
        m /= 10;
    }
    let mut m = m as u64;
    loop {
        at -= 1;
        buf[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            return at;
        }
    }
}

fn int_text(v: i64, buf: &mut Scratch) -> &str {
    let end = buf.len();
    let mut at = digits(u128::from(v.unsigned_abs()), buf, end);
    if v < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    // Only ASCII digits and a sign were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// A decimal as `Display` writes it, without allocating.
pub(super) fn decimal_text<'s>(d: &Decimal, buf: &'s mut Scratch) -> &'s str {
    let scale = d.scale() as usize;
    let end = buf.len();
    let mut at = digits(d.mantissa().unsigned_abs(), buf, end);
    if scale > 0 {
        // Zeros up to the scale, then the point moved in front of the last `scale` digits.
        while end - at <= scale {
            at -= 1;
            buf[at] = b'0';
        }
        let point = end - scale;
        buf.copy_within(at..point, at - 1);
        at -= 1;
        buf[point - 1] = b'.';
    }
    if d.is_sign_negative() {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        let mut scratch = [0u8; 64];
        let mut negative_zero = Decimal::new(0, 2);
        negative_zero.set_sign_negative(true);
        let mut cases: Vec<Decimal> = [
            "0",
            "1",
            "-1",
            "1.50",
            "-0.05",
            "0.0000000000000000000000000001",
            "12345.678900",
            "100",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "7.9228162514264337593543950335",
            "18446744073709551615",
            "18446744073709551616",
            "-0.10",
            "0.000",
        ]
        .iter()
        .map(|s| Decimal::from_str(s).unwrap())
        .collect();
        cases.push(negative_zero);
        cases.push(Decimal::new(0, 28));
        // A spread of mantissas and scales.
        let mut m: i128 = 1;
        for i in 0..90 {
            m = (m * 7 + i) % (1i128 << 96);
            cases.push(Decimal::from_i128_with_scale(if i % 2 == 0 { m } else { -m }, (i % 29) as u32));
        }
        for d in cases {
            assert_eq!(decimal_text(&d, &mut scratch), d.to_string(), "{d:?}");
        }
        assert_eq!(decimal_text(&negative_zero, &mut scratch), "-0.00");
    }

    #[test]
    fn integers_are_written_as_display_writes_them() {
        let mut scratch = [0u8; 64];
        for v in [0i64, 7, -7, 10, i64::MIN, i64::MAX, 1_000_000] {
            assert_eq!(Value::Int(v).text(&mut scratch), Some(v.to_string().as_str()));
        }
        assert_eq!(Value::Null.text(&mut scratch), None);
        assert_eq!(Value::Text("Tür").text(&mut scratch), Some("Tür"));
    }
}
