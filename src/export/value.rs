//! The values an export hands its sinks: typed as the store holds them (a decimal stays a
//! decimal, text stays borrowed from the store's row), so a Parquet column takes a decimal's
//! mantissa without a text round trip and a CSV field's text is written into a reused buffer.

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

/// The buffer a value's text is written into ([`Value::text`]), reused from row to row.
pub(super) type Scratch = String;

impl Value<'_> {
    /// The value as the text the store's row tables held (`None` for null): decimals with
    /// their scale (`1.50`, `-0.00`), as `Decimal`'s `Display` writes them.
    pub(super) fn text<'s>(&'s self, scratch: &'s mut Scratch) -> Option<&'s str> {
        match self {
            Value::Null => None,
            Value::Text(t) => Some(t),
            Value::Owned(t) => Some(t),
            Value::Int(v) => {
                scratch.clear();
                crate::model::write_int(scratch, *v);
                Some(scratch)
            }
            Value::Dec(d) => {
                scratch.clear();
                crate::model::write_decimal(scratch, *d);
                Some(scratch)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        let mut scratch = Scratch::new();
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
            assert_eq!(Value::Dec(d).text(&mut scratch), Some(d.to_string().as_str()), "{d:?}");
        }
        assert_eq!(Value::Dec(negative_zero).text(&mut scratch), Some("-0.00"));
    }

    #[test]
    fn integers_are_written_as_display_writes_them() {
        let mut scratch = Scratch::new();
        for v in [0i64, 7, -7, 10, i64::MIN, i64::MAX, 1_000_000] {
            assert_eq!(Value::Int(v).text(&mut scratch), Some(v.to_string().as_str()));
        }
        assert_eq!(Value::Null.text(&mut scratch), None);
        assert_eq!(Value::Text("Tür").text(&mut scratch), Some("Tür"));
    }
}
