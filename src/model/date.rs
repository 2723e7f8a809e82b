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
        let (y, m, d) = Date::iso_parts(text)?;
        Date::from_ymd(y, m, d)
    }

    /// The year, month and day that `text` writes in the shape [`Date::parse_iso`] reads,
    /// whether or not that day exists (`2024-02-30` gives (2024, 2, 30)).
    pub fn iso_parts(text: &str) -> Option<(i32, u32, u32)> {
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
        Some((y as i32, m, d))
    }

    /// Parses with a pattern made of `yyyy`, `yy`, `MMMM`, `MMM`, `MM`, `M`, `dd`, `d`, a time
    /// (`HH`, `H`, `hh`, `h`, `mm`, `ss`, `tt`) and literal characters, for example
    /// `dd.MM.yyyy`, `dd-MMM-yyyy` or `MM/dd/yyyy HH:mm`. Month names are English or German, in
    /// full or abbreviated, in any case. Two-digit years are 2000–2068 / 1969–1999. A time is
    /// checked and dropped (date fields hold dates).
    pub fn parse_with(text: &str, pattern: &DatePattern) -> Option<Date> {
        let (y, m, d) = Date::parts_with(text, pattern)?;
        Date::from_ymd(y, m, d)
    }

    /// The year, month and day that `text` writes in `pattern`'s shape, whether or not that
    /// day exists (`31.02.2024` gives (2024, 2, 31)).
    pub fn parts_with(text: &str, pattern: &DatePattern) -> Option<(i32, u32, u32)> {
        let b = text.as_bytes();
        let mut pos = 0usize;
        let (mut y, mut m, mut d) = (None, None, None);
        for part in &pattern.parts {
            match part {
                PatternPart::MonthName => {
                    let (month, len) = month_name(text.get(pos..)?)?;
                    m = Some(month);
                    pos += len;
                }
                PatternPart::Time(max, width) => {
                    let len = match width {
                        Some(w) => *w,
                        None if b.get(pos + 1).is_some_and(u8::is_ascii_digit) => 2,
                        None => 1,
                    };
                    let v = digits(b.get(pos..pos + len)?)?;
                    if v > *max || (*max == 12 && v == 0) {
                        return None;
                    }
                    pos += len;
                }
                PatternPart::AmPm => {
                    let t = b.get(pos..pos + 2)?;
                    if !(t.eq_ignore_ascii_case(b"AM") || t.eq_ignore_ascii_case(b"PM")) {
                        return None;
                    }
                    pos += 2;
                }
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
        Some((y?, m?, d?))
    }

    /// Why year `y`, month `m`, day `d` is no date (`None` when it is one): "February 2024 has
    /// 29 days", "there is no month 13".
    pub fn why_not(y: i32, m: u32, d: u32) -> Option<String> {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        if !(1..=9999).contains(&y) {
            return Some(format!("the year {y} is out of range (1 to 9999)"));
        }
        if !(1..=12).contains(&m) {
            return Some(format!("there is no month {m}"));
        }
        let days = days_in_month(y, m);
        if d == 0 || d > days {
            return Some(format!("{} {y} has no day {d} (it has {days} days)", MONTHS[m as usize - 1]));
        }
        None
    }
}

impl Date {
    /// Appends `yyyy-MM-dd` to `out`, without allocating.
    pub fn write_iso(self, out: &mut String) {
        let (y, m, d) = self.ymd();
        let push2 = |out: &mut String, v: u32| {
            out.push((b'0' + (v / 10) as u8) as char);
            out.push((b'0' + (v % 10) as u8) as char);
        };
        if (0..10000).contains(&y) {
            let y = y as u32;
            push2(out, y / 100);
            push2(out, y % 100);
        } else {
            use std::fmt::Write as _;
            let _ = write!(out, "{y:04}");
        }
        out.push('-');
        push2(out, m);
        out.push('-');
        push2(out, d);
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(10);
        self.write_iso(&mut s);
        f.write_str(&s)
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
    /// `MMM` or `MMMM`: an English or German month name, full or abbreviated.
    MonthName,
    Day2,
    Day1,
    /// Hours, minutes or seconds: the largest value and the width (`None`: one or two digits).
    Time(u32, Option<usize>),
    /// `tt`: AM or PM.
    AmPm,
    Literal(u8),
}

/// Month names and abbreviations (English, German), lower case, longest first within a month so
/// that "june" is not read as "jun" + "e".
const MONTH_NAMES: [&[&str]; 12] = [
    &["january", "januar", "jan", "jän"],
    &["february", "februar", "feb"],
    &["march", "märz", "mar", "mär", "mrz"],
    &["april", "apr"],
    &["may", "mai"],
    &["june", "juni", "jun"],
    &["july", "juli", "jul"],
    &["august", "aug"],
    &["september", "sept", "sep"],
    &["october", "oktober", "oct", "okt"],
    &["november", "nov"],
    &["december", "dezember", "dec", "dez"],
];

/// The month whose name `text` starts with (case-insensitively), and the name's length in bytes;
/// the longest name that matches wins.
fn month_name(text: &str) -> Option<(u32, usize)> {
    let mut best: Option<(u32, usize)> = None;
    for (i, names) in MONTH_NAMES.iter().enumerate() {
        for name in *names {
            let mut t = text.char_indices();
            let mut end = 0;
            let matched = name.chars().all(|c| match t.next() {
                Some((at, tc)) if tc.to_lowercase().eq(std::iter::once(c)) => {
                    end = at + tc.len_utf8();
                    true
                }
                _ => false,
            });
            if matched && best.is_none_or(|(_, len)| end > len) {
                best = Some((i as u32 + 1, end));
            }
        }
    }
    best
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
                (b'M', 3 | 4) => PatternPart::MonthName,
                (b'M', 2) => PatternPart::Month2,
                (b'M', 1) => PatternPart::Month1,
                (b'd', 2) => PatternPart::Day2,
                (b'd', 1) => PatternPart::Day1,
                (b'H', 2) => PatternPart::Time(23, Some(2)),
                (b'H', 1) => PatternPart::Time(23, None),
                (b'h', 2) => PatternPart::Time(12, Some(2)),
                (b'h', 1) => PatternPart::Time(12, None),
                (b'm', 2) => PatternPart::Time(59, Some(2)),
                (b's', 2) => PatternPart::Time(59, Some(2)),
                (b't', 2) => PatternPart::AmPm,
                (b'y' | b'M' | b'd' | b'H' | b'h' | b'm' | b's' | b't', _) => {
                    return Err(format!(
                        "date pattern `{pattern}`: `{}` is not a known part (use yyyy, yy, MMMM, MMM, MM, M, dd, d, HH, H, hh, h, mm, ss, tt)",
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
                        "date pattern `{pattern}`: only yyyy, yy, MMMM, MMM, MM, M, dd, d, HH, H, hh, h, mm, ss, tt, spaces and punctuation are allowed"
                    ))
                }
            };
            parts.push(part);
            i += run;
        }
        let has = |p: &[PatternPart]| parts.iter().any(|x| p.contains(x));
        if !has(&[PatternPart::Year4, PatternPart::Year2])
            || !has(&[PatternPart::Month2, PatternPart::Month1, PatternPart::MonthName])
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
    fn a_day_the_calendar_lacks_says_why() {
        assert_eq!(Date::why_not(2024, 2, 29), None);
        assert_eq!(Date::why_not(2023, 2, 29).as_deref(), Some("February 2023 has no day 29 (it has 28 days)"));
        assert_eq!(Date::why_not(2024, 13, 1).as_deref(), Some("there is no month 13"));
        assert_eq!(Date::why_not(2024, 4, 0).as_deref(), Some("April 2024 has no day 0 (it has 30 days)"));
        assert_eq!(Date::iso_parts("2024-02-30"), Some((2024, 2, 30)));
        assert_eq!(Date::parse_iso("2024-02-30"), None);
    }

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
    fn month_names_and_times() {
        let p = DatePattern::new("dd-MMM-yyyy").unwrap();
        assert_eq!(Date::parse_with("07-Mar-2024", &p).unwrap().to_string(), "2024-03-07");
        assert_eq!(Date::parse_with("07-MAR-2024", &p).unwrap().to_string(), "2024-03-07");
        assert_eq!(Date::parse_with("07-Mär-2024", &p).unwrap().to_string(), "2024-03-07");
        assert_eq!(Date::parse_with("07-MÄR-2024", &p).unwrap().to_string(), "2024-03-07");
        assert_eq!(Date::parse_with("01-Okt-2024", &p).unwrap().to_string(), "2024-10-01");
        assert_eq!(Date::parse_with("31-Jun-2024", &p), None);
        assert_eq!(Date::parse_with("07-Mrx-2024", &p), None);
        let full = DatePattern::new("d MMMM yyyy").unwrap();
        assert_eq!(Date::parse_with("5 September 2024", &full).unwrap().to_string(), "2024-09-05");
        assert_eq!(Date::parse_with("5 June 2024", &full).unwrap().to_string(), "2024-06-05");
        assert_eq!(Date::parse_with("5 Juni 2024", &full).unwrap().to_string(), "2024-06-05");
        let us = DatePattern::new("MM/dd/yyyy HH:mm").unwrap();
        assert_eq!(Date::parse_with("03/07/2024 23:59", &us).unwrap().to_string(), "2024-03-07");
        assert_eq!(Date::parse_with("03/07/2024 24:00", &us), None);
        assert_eq!(Date::parse_with("03/07/2024", &us), None);
        let am = DatePattern::new("M/d/yyyy h:mm:ss tt").unwrap();
        assert_eq!(Date::parse_with("3/7/2024 9:05:00 PM", &am).unwrap().to_string(), "2024-03-07");
        assert_eq!(Date::parse_with("3/7/2024 13:05:00 PM", &am), None);
        assert!(DatePattern::new("dd-MMMMM-yyyy").is_err());
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
