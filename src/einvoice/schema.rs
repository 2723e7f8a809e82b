//! The schema layer of the check: what the UBL 2.1 schema asks of an Invoice or CreditNote,
//! and the CII D16B schema of a CrossIndustryInvoice, on the element tree — every element where
//! its parent's sequence (or choice) has it, as often as it allows, none missing, in the
//! namespace the schema declares it in; leaf elements with text only, their required attributes,
//! fixed attributes at their value and no others; numbers, dates, times, indicators and binary
//! objects as their XSD types write them. The content models are the data files
//! `codes/ubl-content.txt` and `codes/cii-content.txt`, derived from the official schemas by
//! `tools/xsd_content.py`. The content of a wildcard (UBL's `ExtensionContent`) is not looked at.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::read::Node;
use super::xml::{local, same, XmlTrim};
use crate::model::ident::digits;

/// A child in an aggregate's sequence or choice; its kind an index into [`Model::kinds`] (a
/// name while the file is read).
struct Item<K = usize> {
    /// Its namespace.
    ns: &'static str,
    name: &'static str,
    /// [`key`] of its name.
    key: u64,
    kind: K,
    min: u32,
    /// `u32::MAX`: unbounded.
    max: u32,
}

/// An attribute of a leaf element.
struct Attribute {
    name: &'static str,
    required: bool,
    /// The one value the schema allows, if it fixes one.
    fixed: Option<&'static str>,
}

enum Kind {
    /// Child elements in this sequence.
    /// And the positions of the items the sequence requires (`min` > 0).
    Aggregate(Vec<Item>, Vec<usize>),
    /// Exactly one child, one of these.
    Choice(Vec<Item>),
    /// Any content (a wildcard's).
    Any,
    /// Text of an XSD type, with attributes.
    Leaf { base: Base, attributes: Vec<Attribute> },
}

/// The XSD types whose written form the layer checks; the string types take any text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Base {
    Decimal,
    Date,
    Time,
    DateTime,
    Boolean,
    Base64,
    Text,
}

impl Base {
    fn of(xsd: &str) -> Base {
        match xsd {
            "decimal" => Base::Decimal,
            "date" => Base::Date,
            "time" => Base::Time,
            "dateTime" => Base::DateTime,
            "boolean" => Base::Boolean,
            "base64Binary" => Base::Base64,
            _ => Base::Text,
        }
    }
}

struct Model {
    kinds: Vec<Kind>,
    /// Document elements: (local name, namespace, kind).
    roots: Vec<(&'static str, &'static str, usize)>,
}

static UBL: LazyLock<Model> = LazyLock::new(|| load(include_str!("codes/ubl-content.txt")));
static CII: LazyLock<Model> = LazyLock::new(|| load(include_str!("codes/cii-content.txt")));

/// Reads a content-model file (its format: `tools/xsd_content.py`).
fn load(text: &'static str) -> Model {
    enum Named {
        Done(Kind),
        Items { choice: bool, items: Vec<Item<&'static str>> },
    }
    let mut namespaces: HashMap<&str, &'static str> = HashMap::new();
    let mut named: Vec<(&'static str, Named)> = Vec::new();
    let mut roots_named = Vec::new();
    let items = |fields: std::str::Split<'static, char>, namespaces: &HashMap<&str, &'static str>| {
        fields
            .map(|item| {
                let mut f = item.split(':');
                let ns = f.next().and_then(|p| namespaces.get(p).copied()).unwrap_or("");
                let (name, kind) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
                let min = f.next().and_then(|m| m.parse().ok()).unwrap_or(0);
                let max = f.next().map_or(1, |m| if m == "unbounded" { u32::MAX } else { m.parse().unwrap_or(1) });
                Item { ns, name, key: key(name), kind, min, max }
            })
            .collect()
    };
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let mut fields = line.split('\t');
        let (what, name) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        match what {
            "ns" => {
                namespaces.insert(name, fields.next().unwrap_or(""));
            }
            "leaf" => {
                let base = Base::of(fields.next().unwrap_or(""));
                let mut attributes: Vec<Attribute> = fields
                    .map(|a| {
                        let (a, fixed) = a.split_once('=').map_or((a, None), |(a, v)| (a, Some(v)));
                        let (name, required) = a.strip_suffix('!').map_or((a, false), |a| (a, true));
                        Attribute { name, required, fixed }
                    })
                    .collect();
                // The required ones first: an element is asked for those only.
                attributes.sort_by_key(|a| !a.required);
                named.push((name, Named::Done(Kind::Leaf { base, attributes })));
            }
            "any" => named.push((name, Named::Done(Kind::Any))),
            "type" | "choice" => {
                named.push((name, Named::Items { choice: what == "choice", items: items(fields, &namespaces) }))
            }
            "root" => roots_named.push((name, fields.next().unwrap_or(""))),
            _ => {}
        }
    }
    let index: HashMap<&str, usize> = named.iter().enumerate().map(|(i, (n, _))| (*n, i)).collect();
    // A kind the file does not define is taken as any content (none is missing in it).
    let any = named.iter().position(|(_, k)| matches!(k, Named::Done(Kind::Any))).unwrap_or(0);
    let kinds = named
        .into_iter()
        .map(|(_, kind)| match kind {
            Named::Done(kind) => kind,
            Named::Items { choice, items } => {
                let items: Vec<Item> = items
                    .into_iter()
                    .map(|i| Item {
                        kind: index.get(i.kind).copied().unwrap_or(any),
                        ns: i.ns,
                        name: i.name,
                        key: i.key,
                        min: i.min,
                        max: i.max,
                    })
                    .collect();
                if choice {
                    Kind::Choice(items)
                } else {
                    let required = items.iter().enumerate().filter(|(_, i)| i.min > 0).map(|(k, _)| k).collect();
                    Kind::Aggregate(items, required)
                }
            }
        })
        .collect();
    let roots = roots_named
        .into_iter()
        .filter_map(|(element, kind)| {
            let (prefix, name) = element.split_once(':')?;
            Some((name, *namespaces.get(prefix)?, *index.get(kind)?))
        })
        .collect();
    Model { kinds, roots }
}

/// A name's length and some of its bytes (the first three, the last four) in one word: a
/// child's name is compared with a sequence's items by this first, most of them differ in it.
fn key(name: &str) -> u64 {
    let b = name.as_bytes();
    let at = |i: usize| b.get(i).map_or(0, |&c| u64::from(c));
    let n = b.len();
    (n as u64 & 0xff)
        | at(0) << 8
        | at(1) << 16
        | at(2) << 24
        | n.checked_sub(4).map_or(0, |i| at(i) << 32 | at(i + 1) << 40 | at(i + 2) << 48 | at(i + 3) << 56)
}

/// At most this many schema findings are reported per document (the first ones in document
/// order); one misplaced element can make many.
const MAX_FINDINGS: usize = 20;

/// The schema findings of a UBL document: (`XSD`, message), in document order.
pub fn ubl(root: &Node) -> Vec<(&'static str, String)> {
    document(&UBL, root)
}

/// The schema findings of a CII document: (`XSD`, message), in document order.
pub fn cii(root: &Node) -> Vec<(&'static str, String)> {
    document(&CII, root)
}

fn document(model: &Model, root: &Node) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(&(name, expected, kind)) = model.roots.iter().find(|(name, ..)| *name == root.name) {
        if root.namespace != expected {
            out.push(format!(
                "{name}: in the namespace `{}`; the schema's <{name}> is in `{expected}`",
                root.namespace
            ));
        } else {
            let mut w = Walk { path: vec![root.name], namespaces: Vec::new() };
            element(model, root, kind, &mut w, &mut out);
        }
    }
    out.truncate(MAX_FINDINGS);
    out.into_iter().map(|m| ("XSD", m)).collect()
}

/// Where the walk is: the path of element names from the root, and the pairs of namespaces
/// (the document's, the model's) found equal so far — a document gives every element of a
/// namespace the same string, so that most checks are a comparison of addresses.
struct Walk<'a> {
    path: Vec<&'a str>,
    namespaces: Vec<(*const u8, *const u8)>,
}

impl Walk<'_> {
    fn same_namespace(&mut self, found: &str, expected: &'static str) -> bool {
        let pair = (found.as_ptr(), expected.as_ptr());
        if found.len() == expected.len() && self.namespaces.contains(&pair) {
            return true;
        }
        let same = found == expected;
        if same && self.namespaces.len() < 8 {
            self.namespaces.push(pair);
        }
        same
    }
}

/// Attributes any element may carry: namespace declarations, and the schema instance's.
fn foreign(attribute: &str) -> bool {
    attribute == "xmlns" || attribute.starts_with("xmlns:") || attribute.starts_with("xsi:")
}

fn element<'a>(model: &Model, n: &'a Node<'a>, kind: usize, w: &mut Walk<'a>, out: &mut Vec<String>) {
    let path = &w.path;
    if out.len() >= MAX_FINDINGS {
        return;
    }
    let at = |path: &[&str]| path.join("/");
    match model.kinds.get(kind) {
        None | Some(Kind::Any) => {}
        Some(Kind::Leaf { base, attributes }) => {
            if let Some(c) = n.children.first() {
                out.push(format!("{}: <{}> inside; the schema gives <{}> text only", at(path), c.name, n.name));
            }
            for a in attributes.iter().take_while(|a| a.required) {
                if n.attr(a.name).is_none() {
                    out.push(format!(
                        "{}: the attribute `{}`, which the schema requires, is missing",
                        at(path),
                        a.name
                    ));
                }
            }
            for (q, value) in n.attrs {
                if foreign(q) {
                    continue;
                }
                match attributes.iter().find(|a| same(a.name, local(q))) {
                    None => out.push(format!("{}: the attribute `{q}` is not one the schema allows here", at(path))),
                    Some(Attribute { fixed: Some(fixed), .. }) if !collapsed_eq(value, fixed) => out.push(format!(
                        "{}: the attribute `{q}` is `{value}`; the schema fixes it to `{fixed}`",
                        at(path)
                    )),
                    Some(_) => {}
                }
            }
            if let Some(problem) = lexical(*base, n.text) {
                out.push(format!("{}: `{}` {problem}", at(path), n.text));
            }
        }
        Some(Kind::Aggregate(items, required)) => {
            content_only(n, path, out);
            sequence(model, n, (items, required), w, out);
        }
        Some(Kind::Choice(items)) => {
            content_only(n, path, out);
            choice(model, n, items, w, out);
        }
    }
}

/// An element of element content: no attributes (but namespace and schema-instance ones), no
/// text.
fn content_only(n: &Node, path: &[&str], out: &mut Vec<String>) {
    if let Some((q, _)) = n.attrs.iter().find(|(q, _)| !foreign(q)) {
        out.push(format!("{}: the attribute `{q}` is not one the schema allows here", path.join("/")));
    }
    if !n.trimmed().is_empty() {
        out.push(format!("{}: text `{}` where the schema has elements only", path.join("/"), n.trimmed()));
    }
}

/// `value` equals `fixed` once its whitespace is collapsed (as the schema's token types do).
fn collapsed_eq(value: &str, fixed: &str) -> bool {
    value.split_ascii_whitespace().eq(fixed.split_ascii_whitespace())
}

/// A child `c` against the item the schema has for it: its namespace, then its content.
fn child<'a>(model: &Model, c: &'a Node<'a>, item: &Item, w: &mut Walk<'a>, out: &mut Vec<String>) {
    w.path.push(c.name);
    if !w.same_namespace(c.namespace, item.ns) {
        out.push(format!(
            "{}: in the namespace `{}`; the schema's <{}> here is in `{}`",
            w.path.join("/"),
            c.namespace,
            c.name,
            item.ns
        ));
    } else {
        element(model, c, item.kind, w, out);
    }
    w.path.pop();
}

/// The children of `n` against a choice: exactly one, one of the items.
fn choice<'a>(model: &Model, n: &'a Node<'a>, items: &[Item], w: &mut Walk<'a>, out: &mut Vec<String>) {
    let names = || items.iter().map(|i| format!("<{}>", i.name)).collect::<Vec<_>>().join(" or ");
    if n.children.is_empty() {
        out.push(format!("{}: {} is missing; the schema requires one", w.path.join("/"), names()));
    }
    for (k, c) in n.children.iter().enumerate() {
        match items.iter().find(|i| same(i.name, c.name)) {
            Some(item) if k == 0 => child(model, c, item, w, out),
            _ if k == 1 => out.push(format!(
                "{}: <{}> after <{}>; the schema allows one of {}",
                w.path.join("/"),
                c.name,
                n.children[0].name,
                names()
            )),
            None if k == 0 => out.push(format!(
                "{}: <{}> is not an element the schema allows here (one of {})",
                w.path.join("/"),
                c.name,
                names()
            )),
            _ => {}
        }
    }
}

/// The children of `n` against its sequence: in order, each as often as allowed, none missing.
fn sequence<'a>(
    model: &Model,
    n: &'a Node<'a>,
    (items, required): (&[Item], &[usize]),
    w: &mut Walk<'a>,
    out: &mut Vec<String>,
) {
    let mut pos = 0;
    let mut count = 0u32;
    // The first of the required items after `pos` (positions only grow).
    let mut next_required = 0;
    // Missing: fewer than required where the sequence has it, and none elsewhere either (an
    // element out of order is reported as that).
    let missing = |item: &Item, count: u32, path: &[&str], out: &mut Vec<String>| {
        if count < item.min && (count > 0 || !n.children.iter().any(|c| same(c.name, item.name))) {
            let times = if item.min > 1 { format!(" (at least {})", item.min) } else { String::new() };
            out.push(format!("{}: <{}> is missing{times}; the schema requires it", path.join("/"), item.name));
        }
    };
    for c in n.children {
        let wanted = key(c.name);
        let found = items[pos..].iter().position(|i| i.key == wanted && same(i.name, c.name)).map(|k| pos + k);
        match found {
            Some(k) if k == pos => count += 1,
            Some(k) => {
                missing(&items[pos], count, &w.path, out);
                while required.get(next_required).is_some_and(|&r| r <= pos) {
                    next_required += 1;
                }
                while let Some(&r) = required.get(next_required).filter(|&&r| r < k) {
                    missing(&items[r], 0, &w.path, out);
                    next_required += 1;
                }
                pos = k;
                count = 1;
            }
            None => {
                let placed = items[..pos].iter().any(|i| same(i.name, c.name));
                out.push(if placed {
                    let next = items.get(pos).map_or(String::new(), |i| format!(" (after <{}>)", i.name));
                    format!("{}: <{}> is out of the schema's order{next}", w.path.join("/"), c.name)
                } else {
                    format!("{}: <{}> is not an element the schema allows here", w.path.join("/"), c.name)
                });
                continue;
            }
        }
        let item = &items[pos];
        if count == item.max.saturating_add(1) {
            out.push(format!(
                "{}: more than {} <{}>; the schema allows {}",
                w.path.join("/"),
                item.max,
                item.name,
                item.max
            ));
        }
        child(model, c, item, w, out);
    }
    if let Some(item) = items.get(pos) {
        missing(item, count, &w.path, out);
    }
    for &r in required[next_required..].iter().filter(|&&r| r > pos) {
        missing(&items[r], 0, &w.path, out);
    }
}

/// What is wrong with `text` as a value of the XSD type `base` (whitespace collapsed first, as
/// the schema does for these types), if anything.
fn lexical(base: Base, text: &str) -> Option<&'static str> {
    if base == Base::Text {
        return None;
    }
    let t = text.xml_trim();
    let ok = match base {
        Base::Decimal => decimal(t),
        Base::Date => date(t).is_some_and(zone),
        Base::Time => time(t).is_some_and(zone),
        Base::DateTime => {
            t.split_once('T').is_some_and(|(d, rest)| date(d) == Some("") && time(rest).is_some_and(zone))
        }
        Base::Boolean => matches!(t, "true" | "false" | "1" | "0"),
        Base::Base64 | Base::Text => base64(text),
    };
    (!ok).then_some(match base {
        Base::Decimal => "is not a decimal number (digits, one optional point, an optional sign)",
        Base::Date => "is not a date (YYYY-MM-DD)",
        Base::Time => "is not a time (hh:mm:ss)",
        Base::DateTime => "is not a date and time (YYYY-MM-DDThh:mm:ss)",
        Base::Boolean => "is not an indicator (true or false)",
        Base::Base64 | Base::Text => "is not base64",
    })
}

/// An optional sign, digits with at most one point among them, at least one digit.
fn decimal(t: &str) -> bool {
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mut digits, mut point) = (0usize, false);
    for c in t.bytes() {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' if !point => point = true,
            _ => return false,
        }
    }
    digits > 0
}

/// A date `YYYY-MM-DD` that exists; returns what follows it (a time zone, if any).
fn date(t: &str) -> Option<&str> {
    let t = t.strip_prefix('-').unwrap_or(t);
    let dash = t.find('-')?;
    let (year, rest) = (&t[..dash], &t[dash + 1..]);
    if year.len() < 4
        || !digits(year)
        || rest.len() < 5
        || !digits(&rest[..2])
        || &rest[2..3] != "-"
        || !digits(&rest[3..5])
    {
        return None;
    }
    let y: i32 = year.parse().ok()?;
    let (m, d): (u32, u32) = (rest[..2].parse().ok()?, rest[3..5].parse().ok()?);
    // Years 1 to 9999 (the schema allows more digits; no invoice has them).
    crate::model::Date::from_ymd(y, m, d).map(|_| &rest[5..])
}

/// A time `hh:mm:ss[.s+]`; returns what follows it (a time zone, if any).
fn time(t: &str) -> Option<&str> {
    let b = t.as_bytes();
    if b.len() < 8 || !digits(&t[..2]) || b[2] != b':' || !digits(&t[3..5]) || b[5] != b':' || !digits(&t[6..8]) {
        return None;
    }
    let (h, m, s): (u32, u32, u32) = (t[..2].parse().ok()?, t[3..5].parse().ok()?, t[6..8].parse().ok()?);
    let mut rest = &t[8..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    (h < 24 && m < 60 && s < 60 || h == 24 && m == 0 && s == 0).then_some(rest)
}

/// An optional time zone: nothing, `Z`, or `+hh:mm` / `-hh:mm`.
fn zone(z: &str) -> bool {
    z.is_empty()
        || z == "Z"
        || (z.len() == 6
            && (z.starts_with('+') || z.starts_with('-'))
            && digits(&z[1..3])
            && &z[3..4] == ":"
            && digits(&z[4..6])
            && z[1..3].parse::<u32>().is_ok_and(|h| h <= 14)
            && z[4..6].parse::<u32>().is_ok_and(|m| m < 60))
}

fn base64(text: &str) -> bool {
    let b = text.as_bytes();
    // The alphabet up to the first `=` (attachments are megabytes: one table look-up a byte,
    // no branch), then only padding and whitespace.
    let end = memchr::memchr(b'=', b).unwrap_or(b.len());
    let (mut n, mut bad) = (0usize, false);
    for &c in &b[..end] {
        let class = BASE64[c as usize];
        n += usize::from(class == B64_LETTER);
        bad |= class == 0;
    }
    let mut pad = 0;
    for &c in &b[end..] {
        match BASE64[c as usize] {
            B64_PAD => pad += 1,
            B64_SPACE => {}
            _ => return false,
        }
    }
    !bad && (n + pad) % 4 == 0 && pad <= 2
}

const B64_LETTER: u8 = 1;
const B64_SPACE: u8 = 2;
const B64_PAD: u8 = 3;

/// What a byte is in base64 text: a letter of the alphabet, whitespace, padding, or none (0).
const BASE64: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
            B64_LETTER
        } else if b.is_ascii_whitespace() {
            B64_SPACE
        } else if b == b'=' {
            B64_PAD
        } else {
            0
        };
        c += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::einvoice::ubl::{NS_CAC as CAC, NS_CBC as CBC};

    #[test]
    fn values_are_judged_as_their_xsd_types_write_them() {
        for (base, ok, bad) in [
            // XSD's decimal: `(\+|-)?([0-9]+(\.[0-9]*)?|\.[0-9]+)`.
            (
                "decimal",
                &["1", "-1.50", "+.5", "7.", "5", ".5", "+5", "007", "0.000", "-0"][..],
                &["", "1,5", "1e3", ".", "1.2.3", "NaN", "+", "-", "--5", "5.-", "+-5", "\u{663}", "1_000"][..],
            ),
            (
                "date",
                &["2024-02-29", "2023-12-31Z", "2023-01-01+01:00"],
                &["2023-02-29", "2023-13-01", "20230101", "2023-1-01"],
            ),
            ("time", &["23:59:59", "10:00:00.5Z"], &["24:01:00", "10:00", "10:60:00"]),
            ("dateTime", &["2023-01-01T10:00:00"], &["2023-01-01 10:00:00", "2023-01-01T"]),
            ("boolean", &["true", "0"], &["True", "yes"]),
            (
                "base64Binary",
                &["QUJD", "QQ==", "", " QU\nJD ", "QUI=", "QQ = = "],
                &["QUJ", "Q=UJ", "QU*D", "Q===", "QQ==QQ==", "QUJD\u{e9}"],
            ),
        ] {
            for v in ok {
                assert_eq!(lexical(Base::of(base), v), None, "{base} {v}");
            }
            for v in bad {
                assert!(lexical(Base::of(base), v).is_some(), "{base} {v}");
            }
        }
    }

    #[test]
    fn elements_out_of_order_missing_repeated_or_unknown_are_found() {
        let xml = |payment: &str| {
            format!(
                "<Invoice xmlns=\"{}-2\" xmlns:cac=\"{CAC}\" xmlns:cbc=\"{CBC}\"><cbc:ID>1</cbc:ID><cbc:IssueDate>2024-01-01</cbc:IssueDate>{payment}</Invoice>",
                "urn:oasis:names:specification:ubl:schema:xsd:Invoice"
            )
        };
        let findings = |payment: &str| {
            let text = xml(payment);
            let arena = crate::einvoice::xml::Arena::new();
            let root = crate::einvoice::xml::parse(text.as_bytes(), &arena).unwrap();
            ubl(&root).into_iter().map(|(_, m)| m).collect::<Vec<_>>()
        };
        let base = findings("");
        // The fragment has no supplier, customer, totals …: those findings are the baseline.
        assert!(
            base.contains(&"Invoice: <AccountingSupplierParty> is missing; the schema requires it".to_string()),
            "{base:?}"
        );
        let extra = |payment: &str| findings(payment).into_iter().filter(|m| !base.contains(m)).collect::<Vec<_>>();
        assert_eq!(
            extra("<cac:PaymentMeans><cbc:PaymentID>X</cbc:PaymentID><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode></cac:PaymentMeans>"),
            ["Invoice/PaymentMeans: <PaymentMeansCode> is out of the schema's order (after <PaymentID>)"]
        );
        assert_eq!(
            extra("<cac:PaymentMeans><cbc:PaymentID>X</cbc:PaymentID></cac:PaymentMeans>"),
            ["Invoice/PaymentMeans: <PaymentMeansCode> is missing; the schema requires it"]
        );
        assert_eq!(
            extra("<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cbc:PaymentMeansCode>31</cbc:PaymentMeansCode><cbc:Colour>red</cbc:Colour></cac:PaymentMeans>"),
            [
                "Invoice/PaymentMeans: more than 1 <PaymentMeansCode>; the schema allows 1",
                "Invoice/PaymentMeans: <Colour> is not an element the schema allows here"
            ]
        );
        assert_eq!(
            extra("<cac:PaymentMeans><cac:PaymentMeansCode>30</cac:PaymentMeansCode></cac:PaymentMeans>"),
            [format!("Invoice/PaymentMeans/PaymentMeansCode: in the namespace `{CAC}`; the schema's <PaymentMeansCode> here is in `{CBC}`")]
        );
        assert_eq!(
            extra("<cac:PaymentMeans><cbc:PaymentMeansCode x=\"1\">30<cbc:B/></cbc:PaymentMeansCode><cbc:PaymentDueDate>2024-02-30</cbc:PaymentDueDate></cac:PaymentMeans>"),
            [
                "Invoice/PaymentMeans/PaymentMeansCode: <B> inside; the schema gives <PaymentMeansCode> text only",
                "Invoice/PaymentMeans/PaymentMeansCode: the attribute `x` is not one the schema allows here",
                "Invoice/PaymentMeans/PaymentDueDate: `2024-02-30` is not a date (YYYY-MM-DD)"
            ]
        );
    }
}
