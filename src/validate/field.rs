//! Typing one field: text → a value of the field's type, or the rule it breaks.

use std::borrow::Cow;

use rust_decimal::Decimal;

use crate::entity::FieldType;
use crate::map::TextFormat;
use crate::model::Date;

use super::Rule;

/// A typed field value; text borrows the record it was read from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value<'a> {
    /// No value.
    #[default]
    Empty,
    /// Text.
    Str(Cow<'a, str>),
    /// Exact decimal.
    Dec(Decimal),
    /// Integer.
    Int(i64),
    /// Date.
    Date(Date),
    /// Enum ordinal.
    Enum(u16),
    /// Yes/No.
    Bool(bool),
}

impl Value<'_> {
    /// The value as text in canonical form (decimals plain with the scale they were written
    /// with, dates ISO, enums by name).
    pub fn canonical(&self, ty: &FieldType) -> String {
        let mut s = String::new();
        self.write_canonical(ty, &mut s);
        s
    }

    /// Appends the canonical text (see [`Value::canonical`]) to `out`, without allocating.
    pub fn write_canonical(&self, ty: &FieldType, out: &mut String) {
        use std::fmt::Write as _;
        match (self, ty) {
            (Value::Empty, _) => {}
            (Value::Str(s), _) => out.push_str(s),
            (Value::Dec(d), _) => crate::model::write_decimal(out, *d),
            (Value::Int(i), _) => crate::model::write_int(out, *i),
            (Value::Date(d), _) => d.write_iso(out),
            (Value::Enum(i), FieldType::Enum(names)) => {
                out.push_str(names.get(usize::from(*i)).map(String::as_str).unwrap_or(""))
            }
            (Value::Enum(i), _) => {
                let _ = write!(out, "{i}");
            }
            (Value::Bool(b), _) => out.push_str(if *b { "Yes" } else { "No" }),
        }
    }

    /// The value with its text owned (for rows kept after their record, such as master data).
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Empty => Value::Empty,
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Dec(d) => Value::Dec(d),
            Value::Int(i) => Value::Int(i),
            Value::Date(d) => Value::Date(d),
            Value::Enum(e) => Value::Enum(e),
            Value::Bool(b) => Value::Bool(b),
        }
    }
}

/// Why a value does not fit its field: the rule and a message (without the field name).
pub type Problem = (Rule, String);

/// Types `text` (already trimmed and mapped) as `ty`. Empty text is `Value::Empty`; whether
/// that is allowed is the caller's business.
pub fn parse<'a>(text: &'a str, ty: &FieldType, format: &TextFormat) -> Result<Value<'a>, Problem> {
    if text.is_empty() {
        return Ok(Value::Empty);
    }
    match ty {
        FieldType::String { max } => {
            // A text has at most as many characters as bytes.
            if text.len() <= *max as usize {
                return Ok(Value::Str(Cow::Borrowed(text)));
            }
            let n = text.chars().count();
            if n > *max as usize {
                return Err((Rule::FieldMaxLength, format!("is {n} characters long; at most {max} fit")));
            }
            Ok(Value::Str(Cow::Borrowed(text)))
        }
        FieldType::Decimal { precision, scale } => parse_decimal(text, *precision, *scale, format).map(Value::Dec),
        FieldType::Int | FieldType::Int64 => {
            let v: i64 = text.parse().map_err(|_| (Rule::FieldInt, format!("`{text}` is not a whole number")))?;
            if matches!(ty, FieldType::Int) && i32::try_from(v).is_err() {
                return Err((Rule::FieldInt, format!("{v} is out of range for a 32-bit integer")));
            }
            Ok(Value::Int(v))
        }
        FieldType::Date => {
            let parsed = match &format.date {
                Some(p) => Date::parse_with(text, p).or_else(|| Date::parse_iso(text)),
                None => Date::parse_iso(text),
            };
            parsed.map(Value::Date).ok_or_else(|| {
                // Written in the expected shape, but a day the calendar does not have.
                let parts =
                    format.date.as_ref().and_then(|p| Date::parts_with(text, p)).or_else(|| Date::iso_parts(text));
                if let Some(why) = parts.and_then(|(y, m, d)| Date::why_not(y, m, d)) {
                    return (Rule::FieldDate, format!("`{text}` is no date: {why}"));
                }
                let expected = format.date.as_ref().map(|p| p.as_str()).unwrap_or("yyyy-MM-dd");
                (Rule::FieldDate, format!("`{text}` is not a valid date in the format {expected}"))
            })
        }
        FieldType::Enum(names) => {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
                return Ok(Value::Enum(i as u16));
            }
            if let Ok(i) = text.parse::<u16>() {
                if usize::from(i) < names.len() {
                    return Ok(Value::Enum(i));
                }
            }
            Err((Rule::FieldEnum, format!("`{text}` is not one of {}", names.join(", "))))
        }
        FieldType::Bool => {
            let is = |words: [&str; 4]| words.iter().any(|w| w.eq_ignore_ascii_case(text));
            if is(["yes", "true", "1", "y"]) {
                Ok(Value::Bool(true))
            } else if is(["no", "false", "0", "n"]) {
                Ok(Value::Bool(false))
            } else {
                Err((Rule::FieldBool, format!("`{text}` is not Yes or No")))
            }
        }
    }
}

/// A decimal as written in the usual plain way: an optional sign, then digits with at most one
/// decimal separator (no thousands separator), at most 19 bytes of them.
pub(crate) struct PlainDecimal<'a> {
    negative: bool,
    /// Whether it is written with a `+`.
    pub plus: bool,
    /// Its digits as a whole number (they fit 64 bits).
    mantissa: u64,
    /// Its digits and separator (after the sign).
    digits: &'a [u8],
    /// Digits before the separator.
    pub int_digits: usize,
    /// Digits after it.
    frac_digits: usize,
    /// Whether there is a separator.
    point: bool,
}

impl<'a> PlainDecimal<'a> {
    /// `text` read the plain way (`None` when it is written otherwise).
    pub fn read(text: &'a [u8], separator: u8) -> Option<PlainDecimal<'a>> {
        let (negative, plus, digits) = match text.first()? {
            b'-' => (true, false, &text[1..]),
            b'+' => (false, true, &text[1..]),
            _ => (false, false, text),
        };
        if digits.len() > 19 {
            return None;
        }
        // At most 19 bytes: the mantissa of their digits fits 64 bits.
        let (mut mantissa, mut point) = (0u64, None);
        for (k, &b) in digits.iter().enumerate() {
            let d = b.wrapping_sub(b'0');
            if d < 10 {
                mantissa = mantissa * 10 + u64::from(d);
            } else if b == separator && point.is_none() {
                point = Some(k);
            } else {
                return None;
            }
        }
        let (int_digits, frac_digits) = match point {
            Some(p) => (p, digits.len() - p - 1),
            None => (digits.len(), 0),
        };
        Some(PlainDecimal { negative, plus, mantissa, digits, int_digits, frac_digits, point: point.is_some() })
    }

    /// The zeros the digits before the separator start with (counted when asked: most
    /// decimals need not know).
    pub fn leading_zeros(&self) -> usize {
        self.digits[..self.int_digits].iter().take_while(|&&b| b == b'0').count()
    }

    /// Whether it is a decimal that fits `precision` and `scale` as written: digits on both sides
    /// of the separator (when there is one), at most 18, not a negative zero, no more decimals
    /// than the scale and no more digits before the separator (leading zeros not counted) than
    /// the precision leaves.
    pub fn fits(&self, precision: u8, scale: u8) -> bool {
        let room = usize::from(precision - scale);
        self.int_digits > 0
            && (!self.point || self.frac_digits > 0)
            && self.int_digits + self.frac_digits <= 18
            && !(self.negative && self.mantissa == 0)
            && self.frac_digits <= usize::from(scale)
            && (self.int_digits <= room || self.int_digits - self.leading_zeros() <= room)
    }

    /// Its value, with the scale it is written with.
    fn value(&self) -> Decimal {
        // At most 19 digits: the mantissa fits the low 64 bits of a decimal.
        let m = self.mantissa;
        Decimal::from_parts(m as u32, (m >> 32) as u32, 0, self.negative, self.frac_digits as u32)
    }
}

/// The usual decimal in one look ([`PlainDecimal`] that fits `precision` and `scale`). `None`
/// for everything else (which [`parse_decimal`] then reads the long way, with its messages).
pub(crate) fn quick_decimal(text: &[u8], precision: u8, scale: u8, separator: u8) -> Option<Decimal> {
    PlainDecimal::read(text, separator).filter(|d| d.fits(precision, scale)).map(|d| d.value())
}

/// What fixes a field's problem of `rule`, in the conventions of the field's source: the
/// mapping's date pattern and decimal separator rather than D365's (`Write the date as
/// dd.MM.yyyy`, `Write a plain number such as 1.234,50`); for a date the calendar does not
/// have (`text` in the right shape), to correct the day.
pub fn fix(rule: Rule, text: &str, format: &TextFormat) -> std::borrow::Cow<'static, str> {
    use std::borrow::Cow;
    match rule {
        Rule::FieldDate => {
            let shaped = format.date.as_ref().and_then(|p| Date::parts_with(text, p)).or_else(|| Date::iso_parts(text));
            if shaped.is_some() {
                return Cow::Borrowed("Correct the day, month or year: the date does not exist.");
            }
            match &format.date {
                Some(p) => Cow::Owned(format!("Write the date as {} (the mapping's date_format).", p.as_str())),
                None => Cow::Borrowed(rule.fix()),
            }
        }
        Rule::FieldDecimal if format.decimal_separator != b'.' || format.thousands_separator.is_some() => {
            let (point, group) = (char::from(format.decimal_separator), format.thousands_separator.map(char::from));
            let example = match group {
                Some(g) => format!("1{g}234{point}50 or 1234{point}50"),
                None => format!("1234{point}50"),
            };
            Cow::Owned(format!("Write a number such as {example} (the mapping's separators)."))
        }
        _ => Cow::Borrowed(rule.fix()),
    }
}

/// Parses a decimal written with the given separators, exactly (no float on the way).
pub fn parse_decimal(text: &str, precision: u8, scale: u8, format: &TextFormat) -> Result<Decimal, Problem> {
    match quick_decimal(text.as_bytes(), precision, scale, format.decimal_separator) {
        Some(d) => Ok(d),
        None => parse_decimal_exact(text, precision, scale, format),
    }
}

/// [`parse_decimal`] for every form, with the reason when the text is not a decimal that fits.
fn parse_decimal_exact(text: &str, precision: u8, scale: u8, format: &TextFormat) -> Result<Decimal, Problem> {
    let bad = || (Rule::FieldDecimal, format!("`{text}` is not a number"));
    let mut buf = [0u8; 64];
    let mut n = 0;
    let mut seen_point = false;
    // The value as it is copied, while it has at most 18 digits: mantissa, digits before and
    // after the point, sign.
    let (mut mantissa, mut int_digits, mut frac_digits, mut negative) = (0u64, 0u32, 0u32, false);
    // Thousands separators: whether one was seen, and the digits since it (or since the start).
    let (mut grouped, mut group) = (false, 0u32);
    let misgrouped = |sep: u8| {
        let point = char::from(format.decimal_separator);
        (
            Rule::FieldDecimal,
            format!(
                "`{text}` is not a number: the thousands separator `{}` stands only between groups of three digits before the decimal separator `{point}` (1{0}234{0}567{point}89)",
                char::from(sep)
            ),
        )
    };
    for (i, &b) in text.as_bytes().iter().enumerate() {
        let out = if b == format.decimal_separator {
            if seen_point {
                return Err(bad());
            }
            if let Some(sep) = format.thousands_separator.filter(|_| grouped && group != 3) {
                return Err(misgrouped(sep));
            }
            seen_point = true;
            b'.'
        } else if Some(b) == format.thousands_separator && !seen_point {
            // Between digits, after one to three of them (the first group) or exactly three.
            if group == 0 || group > 3 || (grouped && group != 3) {
                return Err(misgrouped(b));
            }
            (grouped, group) = (true, 0);
            continue;
        } else if b.is_ascii_digit() {
            group += u32::from(!seen_point);
            if int_digits + frac_digits < 18 {
                mantissa = mantissa * 10 + u64::from(b - b'0');
            }
            if seen_point {
                frac_digits += 1;
            } else {
                int_digits += 1;
            }
            b
        } else if (b == b'-' || b == b'+') && i == 0 {
            negative = b == b'-';
            b
        } else {
            return Err(bad());
        };
        if n == buf.len() {
            return Err((Rule::FieldDecimalPrecision, format!("`{text}` has too many digits")));
        }
        buf[n] = out;
        n += 1;
    }
    if let Some(sep) = format.thousands_separator.filter(|_| grouped && !seen_point && group != 3) {
        return Err(misgrouped(sep));
    }
    // The usual value: digits on both sides of the point (if any), at most 18, not a negative
    // zero. It is what `Decimal::from_str_exact` makes of the copied text, without the text.
    let plain = int_digits > 0
        && (!seen_point || frac_digits > 0)
        && int_digits + frac_digits <= 18
        && !(negative && mantissa == 0);
    let d = if plain {
        let m = i128::from(mantissa);
        Decimal::from_i128_with_scale(if negative { -m } else { m }, frac_digits)
    } else {
        // Only ASCII was copied into buf.
        let s = std::str::from_utf8(&buf[..n]).map_err(|_| bad())?;
        if !s.bytes().any(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Decimal::from_str_exact(s).map_err(|_| {
            if s.len() > 29 {
                (Rule::FieldDecimalPrecision, format!("`{text}` has more than 28 significant digits"))
            } else {
                bad()
            }
        })?
    };
    if d.scale() > u32::from(scale) {
        let normalized = d.normalize();
        if normalized.scale() > u32::from(scale) {
            return Err((
                Rule::FieldDecimalScale,
                format!("`{text}` has {} decimals; at most {scale} fit", normalized.scale()),
            ));
        }
    }
    let int_digits = {
        // Digits of the mantissa less those after the point.
        let m = d.mantissa().unsigned_abs();
        let digits = if m == 0 { 0 } else { m.ilog10() + 1 };
        digits.saturating_sub(d.scale())
    };
    if int_digits > u32::from(precision - scale) {
        return Err((
            Rule::FieldDecimalPrecision,
            format!("`{text}` has {int_digits} digits before the point; at most {} fit", precision - scale),
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn de() -> TextFormat {
        TextFormat { decimal_separator: b',', thousands_separator: Some(b'.'), ..TextFormat::default() }
    }

    #[test]
    fn whole_numbers_are_written_as_format_writes_them() {
        for i in [0i64, 7, -7, 10, 1_000_000, -1_234_567_890, i64::MAX, i64::MIN] {
            let mut s = String::from("x");
            crate::model::write_int(&mut s, i);
            assert_eq!(s, format!("x{i}"));
        }
    }

    #[test]
    fn a_thousands_separator_stands_only_between_groups_of_three_digits() {
        // Each of these was read as a number ten or a thousand times off (issue 13, item 8).
        for text in ["1.234.5,6", "12.34,5", "1234.5", "1.2345,00", ".123", "1..234", "1.234.", "-.123", "1.23"] {
            let (rule, message) = parse_decimal(text, 32, 6, &de()).unwrap_err();
            assert_eq!(rule, Rule::FieldDecimal, "{text}");
            assert_eq!(
                message,
                format!("`{text}` is not a number: the thousands separator `.` stands only between groups of three digits before the decimal separator `,` (1.234.567,89)"),
            );
        }
        // After the decimal separator a thousands separator is no number at all.
        assert_eq!(
            parse_decimal("1,234.5", 32, 6, &de()).unwrap_err(),
            (Rule::FieldDecimal, "`1,234.5` is not a number".into())
        );
    }

    #[test]
    fn decimals_parse_exactly_with_separators() {
        let f = TextFormat::default();
        assert_eq!(parse_decimal("1234.50", 32, 6, &f).unwrap(), Decimal::from_str("1234.50").unwrap());
        assert_eq!(parse_decimal("-0.1", 32, 6, &f).unwrap(), Decimal::from_str("-0.1").unwrap());
        assert_eq!(parse_decimal("1.234,56", 32, 6, &de()).unwrap(), Decimal::from_str("1234.56").unwrap());
        assert_eq!(parse_decimal("1,5.0", 32, 6, &de()).unwrap_err().0, Rule::FieldDecimal);
        assert_eq!(parse_decimal("-12.345.678,9", 32, 6, &de()).unwrap(), Decimal::from_str("-12345678.9").unwrap());
        assert_eq!(parse_decimal("999", 32, 6, &de()).unwrap(), Decimal::from(999));
        assert_eq!(parse_decimal("1234,5", 32, 6, &de()).unwrap(), Decimal::from_str("1234.5").unwrap());
        assert_eq!(parse_decimal("1.000", 32, 6, &de()).unwrap(), Decimal::from(1000));
        assert_eq!(parse_decimal("12a", 32, 6, &f).unwrap_err().1, "`12a` is not a number");
        assert_eq!(parse_decimal("-", 32, 6, &f).unwrap_err().0, Rule::FieldDecimal);
        assert_eq!(parse_decimal("1.1234567", 32, 6, &f).unwrap_err().0, Rule::FieldDecimalScale);
        assert!(parse_decimal("1.1000000", 32, 6, &f).is_ok());
        assert_eq!(parse_decimal("123456", 9, 4, &f).unwrap_err().0, Rule::FieldDecimalPrecision);
        assert_eq!(parse_decimal("1e5", 32, 6, &f).unwrap_err().0, Rule::FieldDecimal);
    }

    #[test]
    fn the_quick_decimal_path_gives_what_the_exact_parser_gives() {
        // Mantissa, scale and sign (the canonical text shows all three) of every form the
        // quick path takes, and of the forms beside it that it leaves to the exact parser.
        let f = TextFormat::default();
        let mut seen = 0;
        for sign in ["", "-", "+"] {
            for int in ["0", "00", "7", "0012", "999999999", "123456789012345678", "1234567890123456789"] {
                for frac in ["", ".", ".0", ".5", ".50", ".000001", ".123456789", ".12345678901234567"] {
                    let t = format!("{sign}{int}{frac}");
                    let (Ok(want), Ok(got)) = (Decimal::from_str_exact(&t), parse_decimal(&t, 56, 28, &f)) else {
                        continue;
                    };
                    assert_eq!(
                        (got.to_string(), got.scale(), got.is_sign_negative()),
                        (want.to_string(), want.scale(), want.is_sign_negative()),
                        "{t}"
                    );
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, 162);
        assert_eq!(parse_decimal(".5", 32, 6, &f).unwrap(), Decimal::from_str("0.5").unwrap());
        assert!(parse_decimal("-0", 32, 6, &f).unwrap().is_zero());
    }

    #[test]
    fn the_one_look_decimal_agrees_with_the_long_way() {
        // Whenever the one look gives a value, the long way gives the same value, scale and
        // sign: for tight precisions and scales, and for decimal commas.
        let mut taken = 0;
        for format in [TextFormat::default(), de()] {
            let point = char::from(format.decimal_separator);
            for sign in ["", "-", "+"] {
                for int in ["0", "00", "7", "0012", "99999", "123456789012345678"] {
                    for frac in ["", "_", "_0", "_5", "_50", "_000001", "_1234567"] {
                        let t = format!("{sign}{int}{}", frac.replace('_', &point.to_string()));
                        for (precision, scale) in [(32, 6), (9, 4), (5, 0), (6, 2), (20, 2), (28, 10)] {
                            if let Some(q) = quick_decimal(t.as_bytes(), precision, scale, format.decimal_separator) {
                                let e = parse_decimal_exact(&t, precision, scale, &format).unwrap();
                                assert_eq!(
                                    (q.to_string(), q.scale(), q.is_sign_negative()),
                                    (e.to_string(), e.scale(), e.is_sign_negative()),
                                    "{t} ({precision},{scale})"
                                );
                                taken += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(taken, 670);
        // Left to the long way: thousands separators, a second point, a negative zero, more
        // decimals than fit (even when they are zeros), more digits than fit.
        let f = TextFormat::default();
        for (t, p, s) in [("1,234.5", 32, 6), ("1.2.3", 32, 6), ("-0.00", 32, 6), ("1.50", 32, 1), ("123456", 9, 4)] {
            assert_eq!(quick_decimal(t.as_bytes(), p, s, f.decimal_separator), None, "{t}");
        }
        assert_eq!(parse_decimal("1.50", 32, 1, &f).unwrap().to_string(), "1.50");
    }

    #[test]
    fn other_types() {
        let f = TextFormat::default();
        let e = FieldType::Enum(vec!["No".into(), "Yes".into()]);
        assert_eq!(parse("yes", &e, &f).unwrap(), Value::Enum(1));
        assert_eq!(parse("1", &e, &f).unwrap(), Value::Enum(1));
        assert_eq!(parse("2", &e, &f).unwrap_err().1, "`2` is not one of No, Yes");
        assert_eq!(parse("3000000000", &FieldType::Int, &f).unwrap_err().0, Rule::FieldInt);
        assert_eq!(
            parse("abcd", &FieldType::String { max: 3 }, &f).unwrap_err().1,
            "is 4 characters long; at most 3 fit"
        );
        assert_eq!(parse("äöü", &FieldType::String { max: 3 }, &f).unwrap(), Value::Str("äöü".into()));
        assert_eq!(
            parse_decimal("1234567890123456789012345678", 32, 6, &f).unwrap_err().0,
            Rule::FieldDecimalPrecision
        );
        assert!(parse_decimal("12345678901234567890123456", 32, 6, &f).is_ok());
        assert_eq!(parse_decimal("123456789012345678901234567", 32, 6, &f).unwrap_err().0, Rule::FieldDecimalPrecision);
        assert!(parse_decimal("0.000001", 32, 6, &f).is_ok());
    }
}
