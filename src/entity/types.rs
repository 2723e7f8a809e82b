//! Field types of entity definitions: `string(max)`, `decimal(precision, scale)`, `int`,
//! `int64`, `date`, `enum[A,B,…]`, `bool`.

use std::fmt;

/// The type of an entity field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// Text of at most `max` characters.
    String {
        /// Maximum length in characters.
        max: u32,
    },
    /// Exact decimal with at most `precision` digits, `scale` of them after the point.
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the decimal point.
        scale: u8,
    },
    /// 32-bit integer.
    Int,
    /// 64-bit integer (RecIds).
    Int64,
    /// Calendar date (a time part in the input is accepted and dropped).
    Date,
    /// One of the listed values (matched case-insensitively; its ordinal is accepted too).
    Enum(Vec<String>),
    /// Yes/No, true/false, 1/0.
    Bool,
}

impl FieldType {
    /// Parses the type notation of entity files.
    pub fn parse(text: &str) -> Result<FieldType, String> {
        let t = text.trim();
        let args = |prefix: &str| -> Option<&str> { t.strip_prefix(prefix)?.strip_suffix(')') };
        if let Some(a) = args("string(") {
            let max: u32 = a.trim().parse().map_err(|_| format!("string length `{a}` is not a number"))?;
            if max == 0 {
                return Err("string length must be at least 1".into());
            }
            return Ok(FieldType::String { max });
        }
        if let Some(a) = args("decimal(") {
            let mut it = a.split(',').map(|p| p.trim().parse::<u8>());
            return match (it.next(), it.next(), it.next()) {
                (Some(Ok(precision)), Some(Ok(scale)), None)
                    if scale <= precision && precision <= 38 && scale <= 28 =>
                {
                    Ok(FieldType::Decimal { precision, scale })
                }
                _ => Err(format!("`{t}` is not decimal(precision, scale) with scale ≤ precision ≤ 38, scale ≤ 28")),
            };
        }
        if let Some(list) = t.strip_prefix("enum[").and_then(|r| r.strip_suffix(']')) {
            let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
            if values.iter().any(String::is_empty) {
                return Err(format!("`{t}` has an empty enum value"));
            }
            return Ok(FieldType::Enum(values));
        }
        match t {
            "int" => Ok(FieldType::Int),
            "int64" => Ok(FieldType::Int64),
            "date" => Ok(FieldType::Date),
            "bool" => Ok(FieldType::Bool),
            _ => Err(format!("unknown type `{t}` (string(n), decimal(p,s), int, int64, date, enum[..], bool)")),
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldType::String { max } => write!(f, "string({max})"),
            FieldType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            FieldType::Int => f.write_str("int"),
            FieldType::Int64 => f.write_str("int64"),
            FieldType::Date => f.write_str("date"),
            FieldType::Enum(v) => write!(f, "enum[{}]", v.join(",")),
            FieldType::Bool => f.write_str("bool"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_type() {
        for t in ["string(20)", "decimal(32,6)", "int", "int64", "date", "enum[No,Yes]", "bool"] {
            assert_eq!(FieldType::parse(t).unwrap().to_string(), t);
        }
        assert_eq!(
            FieldType::parse("decimal(4,6)").unwrap_err(),
            "`decimal(4,6)` is not decimal(precision, scale) with scale ≤ precision ≤ 38, scale ≤ 28"
        );
        assert!(FieldType::parse("float").is_err());
    }
}
