//! Calendar dates without time zones: the type behind `date` fields, parsed from ISO text or a
//! mapping's pattern (`dd.MM.yyyy`), stored as days since 1970-01-01 (Parquet's `Date32`).

use std::fmt;

/// A proleptic Gregorian date, stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    /// The date for a year, month (1–12) and day (1–31), or `None` when it does not exist.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        if day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days_since_epoch(days: i32) -> Date {
        Date(days)
    }

    /// (year, month, day).
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// The date `n` days later (earlier when negative).
    pub fn add_days(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// Parses ISO 8601 `yyyy-MM-dd`, optionally followed by a time part (`T12:00:00Z`,
    /// ` 00:00:00`), as D365 writes dates of date fields in OData and DMF files.
    pub fn parse_iso(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        if b.len() > 10 && !(b[10] == b'T' || b[10] == b' ') {
            return None;
        }
        if b.len() > 10 && !valid_time_suffix(&text[11..]) {
            return None;
        }
        let y = digits(&b[0..4])?;
        let m = digits(&b[5..7])?;
        let d = digits(&b[8..10])?;
        Date::from_ymd(y as i32, m, d)
    }

    /// Parses with a pattern made of `yyyy`, `yy`, `MM`, `M`, `dd`, `d` and literal characters,
    /// for example `dd.MM.yyyy` or `MM/dd/yyyy`. Two-digit years are 2000–2068 / 1969–1999.
    pub fn parse_with(text: &str, pattern: &DatePattern) -> Option<Date> {
        let b = text.as_bytes();
        let mut pos = 0usize;
        let (mut y, mut m, mut d) = (None, None, None);
        for part in &pattern.parts {
            match part {
                PatternPart::Literal(c) => {
                    if b.get(pos) != Some(c) {
                        return None;
                    }
                    pos += 1;
                }
                PatternPart::Year4 => {
                    y = Some(digits(b.get(pos..pos + 4)?)? as i32);
                    pos += 4;
                }
                PatternPart::Year2 => {
                    let v = digits(b.get(pos..pos + 2)?)? as i32;
                    y = Some(if v < 69 { 2000 + v } else { 1900 + v });
                    pos += 2;
                }
                PatternPart::Month2 => {
                    m = Some(digits(b.get(pos..pos + 2)?)?);
                    pos += 2;
                }
                PatternPart::Day2 => {
                    d = Some(digits(b.get(pos..pos + 2)?)?);
                    pos += 2;
                }
                PatternPart::Month1 | PatternPart::Day1 => {
                    let len = if b.get(pos + 1).is_some_and(u8::is_ascii_digit) { 2 } else { 1 };
                    let v = digits(b.get(pos..pos + len)?)?;
                    pos += len;
                    if matches!(part, PatternPart::Month1) {
                        m = Some(v);
                    } else {
                        d = Some(v);
                    }
                }
            }
        }
        if pos != b.len() && !(b.len() > pos && valid_time_suffix(text[pos..].trim_start())) {
            return None;
        }
        Date::from_ymd(y?, m?, d?)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// A compiled date pattern such as `dd.MM.yyyy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePattern {
    source: String,
    parts: Vec<PatternPart>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternPart {
    Year4,
    Year2,
    Month2,
    Month1,
    Day2,
    Day1,
    Literal(u8),
}

impl DatePattern {
    /// Compiles a pattern; it must hold a year, a month and a day and only ASCII literals.
    pub fn new(pattern: &str) -> Result<DatePattern, String> {
        let b = pattern.as_bytes();
        let mut parts = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let run = b[i..].iter().take_while(|&&c| c == b[i]).count();
            let part = match (b[i], run) {
                (b'y', 4) => PatternPart::Year4,
                (b'y', 2) => PatternPart::Year2,
                (b'M', 2) => PatternPart::Month2,
                (b'M', 1) => PatternPart::Month1,
                (b'd', 2) => PatternPart::Day2,
                (b'd', 1) => PatternPart::Day1,
                (b'y' | b'M' | b'd', _) => {
                    return Err(format!(
                        "date pattern `{pattern}`: `{}` is not a known part (use yyyy, yy, MM, M, dd, d)",
                        &pattern[i..i + run]
                    ))
                }
                (c, _) if c.is_ascii() && !c.is_ascii_alphanumeric() => {
                    parts.push(PatternPart::Literal(c));
                    i += 1;
                    continue;
                }
                _ => {
                    return Err(format!(
                        "date pattern `{pattern}`: only yyyy, yy, MM, M, dd, d and punctuation are allowed"
                    ))
                }
            };
            parts.push(part);
            i += run;
        }
        let has = |p: &[PatternPart]| parts.iter().any(|x| p.contains(x));
        if !has(&[PatternPart::Year4, PatternPart::Year2])
            || !has(&[PatternPart::Month2, PatternPart::Month1])
            || !has(&[PatternPart::Day2, PatternPart::Day1])
        {
            return Err(format!("date pattern `{pattern}` needs a year, a month and a day"));
        }
        Ok(DatePattern { source: pattern.to_string(), parts })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// A time part after a date: `12:00:00`, `00:00:00.000`, `12:00:00Z`, `12:00:00+01:00`.
fn valid_time_suffix(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() < 5 || b[2] != b':' || digits(&b[0..2]).is_none() || digits(&b[3..5]).is_none() {
        return false;
    }
    b[5..].iter().all(|c| c.is_ascii_digit() || matches!(c, b':' | b'.' | b'Z' | b'+' | b'-'))
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe as i32 - 719468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = (z - era * 146097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip_and_epoch() {
        let d = Date::parse_iso("2024-02-29").unwrap();
        assert_eq!(d.to_string(), "2024-02-29");
        assert_eq!(Date::parse_iso("1970-01-01").unwrap().days_since_epoch(), 0);
        assert_eq!(Date::parse_iso("2000-03-01").unwrap().days_since_epoch(), 11017);
        assert_eq!(Date::parse_iso("2024-02-22T12:00:00Z").unwrap().to_string(), "2024-02-22");
        assert_eq!(Date::parse_iso("2024-02-22 00:00:00").unwrap().to_string(), "2024-02-22");
    }

    #[test]
    fn rejects_impossible_dates() {
        assert_eq!(Date::parse_iso("2023-02-29"), None);
        assert_eq!(Date::parse_iso("2023-13-01"), None);
        assert_eq!(Date::parse_iso("2023-1-01"), None);
        assert_eq!(Date::parse_iso("2023-01-01X"), None);
        assert_eq!(Date::parse_iso("20230101"), None);
    }

    #[test]
    fn patterns() {
        let de = DatePattern::new("dd.MM.yyyy").unwrap();
        assert_eq!(Date::parse_with("31.12.2023", &de).unwrap().to_string(), "2023-12-31");
        assert_eq!(Date::parse_with("31.12.23", &de), None);
        let us = DatePattern::new("M/d/yyyy").unwrap();
        assert_eq!(Date::parse_with("3/7/2024", &us).unwrap().to_string(), "2024-03-07");
        assert_eq!(Date::parse_with("12/31/2024", &us).unwrap().to_string(), "2024-12-31");
        assert_eq!(Date::parse_with("12/31/2024 10:00", &us).unwrap().to_string(), "2024-12-31");
        assert!(DatePattern::new("dd.MM").is_err());
        assert!(DatePattern::new("ddd.MM.yyyy").is_err());
    }

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-200_000..200_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            if (1..=9999).contains(&y) {
                assert_eq!(Date::from_ymd(y, m, d).unwrap().days_since_epoch(), days);
            }
        }
    }
}
