//! The XML reader of the e-invoice check: one pass over the document's bytes into a tree of
//! [`Node`]s whose names, and texts and attribute values without references, borrow the
//! document; the nodes, their attribute lists and the few texts that had to be decoded live in
//! an [`Arena`] the caller owns and reuses, so that a document costs no allocation per element
//! and its tree is freed at once. Only what an e-invoice is made of is read: elements,
//! attributes, text, CDATA, comments and processing instructions (skipped). A document with a
//! DOCTYPE is refused, and no entity but the five predefined ones and character references is
//! resolved, so no external entity can be reached. The document must be UTF-8 (UBL and CII are).

use std::borrow::Cow;

/// Where a document's tree lives while it is looked at (a bump arena: [`Arena::reset`] frees a
/// tree at once and keeps the memory for the next document).
pub use bumpalo::Bump as Arena;

/// An element: local name, attributes (local names), text, children.
#[derive(Debug, Default, Clone, Copy)]
pub struct Node<'a> {
    /// Local name (namespace prefix dropped).
    pub name: &'a str,
    /// Namespace (URI), resolved through the declarations in scope; empty when none.
    pub namespace: &'a str,
    /// Attributes: (name as written, value).
    pub attrs: &'a [(&'a str, &'a str)],
    /// Text content: the element's own text pieces joined; whitespace before its first
    /// non-blank piece (indentation between elements) is not kept.
    pub text: &'a str,
    /// Child elements.
    pub children: &'a [Node<'a>],
}

impl<'a> Node<'a> {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Node<'a>> {
        self.children.iter().find(|c| same(c.name, name))
    }
    /// Every child called `name`.
    pub fn all<'n>(&'n self, name: &'n str) -> impl Iterator<Item = &'n Node<'a>> + 'n {
        self.children.iter().filter(move |c| same(c.name, name))
    }
    /// The node at a path of child names.
    pub fn at(&self, path: &[&str]) -> Option<&Node<'a>> {
        path.iter().try_fold(self, |n, p| n.child(p))
    }
    /// Its text without the XML whitespace around it (what XPath's `normalize-space` keeps of
    /// the ends: space, tab, CR and LF only — a no-break space is text).
    pub fn trimmed(&self) -> &'a str {
        trim(self.text)
    }
    /// The trimmed text at a path, when not empty.
    pub fn text_at(&self, path: &[&str]) -> Option<String> {
        self.at(path).map(|n| n.trimmed().to_string()).filter(|t| !t.is_empty())
    }
    /// The text at a path as written but for leading XML whitespace, when not blank.
    pub fn text_kept_at(&self, path: &[&str]) -> Option<String> {
        self.at(path).map(|n| n.text.trim_start_matches([' ', '\t', '\n', '\r']).to_string()).filter(|t| !t.is_empty())
    }
    /// The trimmed text at a path when the element is there, however empty: a code the rules
    /// check against its list as written (an empty one is in no list).
    pub fn code_at(&self, path: &[&str]) -> Option<String> {
        self.at(path).map(|n| n.trimmed().to_string())
    }
    /// This element and every element below it, each once, in document order.
    pub fn elements<'n>(&'n self) -> impl Iterator<Item = &'n Node<'a>> + 'n {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            let n = stack.pop()?;
            stack.extend(n.children.iter().rev());
            Some(n)
        })
    }
    /// An attribute, by its local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| same(local(k), name)).map(|(_, v)| *v)
    }
}

/// Why a file cannot be read as an e-invoice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Not well-formed XML.
    #[error("not well-formed XML at byte {position}: {message}")]
    Xml {
        /// Byte offset.
        position: u64,
        /// What is wrong there.
        message: String,
    },
    /// A DOCTYPE, an unknown entity, nesting too deep, a document too large.
    #[error("{0}")]
    Refused(String),
    /// Neither UBL Invoice/CreditNote nor CII.
    #[error("the root element <{0}> is neither a UBL Invoice or CreditNote nor a CII CrossIndustryInvoice")]
    UnknownRoot(String),
}

/// The deepest nesting of elements read (the root is level 1). UBL and CII invoices nest about
/// ten levels, signatures in extensions a few more; a document nested deeper is refused, so that
/// no hostile file can exhaust the stack of whatever walks the tree (its drop included).
pub const MAX_DEPTH: usize = 200;

/// The largest document read (100 MiB). E-invoices are kilobytes, a few megabytes with
/// embedded attachments; a larger file is refused before it is parsed.
pub const MAX_DOCUMENT_BYTES: u64 = 100 << 20;

/// The refusal of a document of `bytes` bytes, larger than [`MAX_DOCUMENT_BYTES`].
pub fn too_large(bytes: u64) -> ReadError {
    ReadError::Refused(format!(
        "the file has {bytes} bytes; documents over {} MiB are refused unread (e-invoices are kilobytes, a few megabytes with attachments)",
        MAX_DOCUMENT_BYTES >> 20
    ))
}

fn xml_error(position: usize, message: impl Into<String>) -> ReadError {
    ReadError::Xml { position: position as u64, message: message.into() }
}

/// The character a reference (`amp`, `#38`, `#x26`: the text between `&` and `;`) stands for.
fn entity(name: &str) -> Result<char, ReadError> {
    Ok(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else {
                name.strip_prefix('#').and_then(|d| d.parse().ok())
            };
            return code.and_then(char::from_u32).ok_or_else(|| {
                ReadError::Refused(format!("the entity &{name}; is not resolved (only the predefined ones are)"))
            });
        }
    })
}

/// What a byte is to the scanner: [`NAME`] may be in a name, [`STOP`] ends or interrupts a run
/// of text or of an attribute value (`<`, `&`, `]`, the quotes, the control characters XML
/// does not allow).
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':') || b >= 0x80 {
            t[c] |= NAME;
        }
        if matches!(b, b'<' | b'&' | b']' | b'"' | b'\'') || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) {
            t[c] |= STOP;
        }
        c += 1;
    }
    t
};
const NAME: u8 = 1;
const STOP: u8 = 2;

/// The first byte from `from` that is [`STOP`] (or the end): sixteen bytes at a time where
/// sixteen are left, one at a time after.
fn stop(b: &[u8], from: usize) -> usize {
    let mut j = from;
    while let Some(sixteen) = b.get(j..j + 16).and_then(|s| <&[u8; 16]>::try_from(s).ok()) {
        let m = Sixteen::of(sixteen).stop();
        if m != 0 {
            return j + m.trailing_zeros() as usize;
        }
        j += 16;
    }
    while j < b.len() && CLASS[b[j] as usize] & STOP == 0 {
        j += 1;
    }
    j
}

/// The first byte from `from` that is not XML whitespace (or the end), as [`stop`] goes.
fn skip_blank(b: &[u8], from: usize) -> usize {
    let mut j = from;
    while let Some(sixteen) = b.get(j..j + 16).and_then(|s| <&[u8; 16]>::try_from(s).ok()) {
        let m = !Sixteen::of(sixteen).blank() & 0xFFFF;
        if m != 0 {
            return j + m.trailing_zeros() as usize;
        }
        j += 16;
    }
    while j < b.len() && blank(b[j]) {
        j += 1;
    }
    j
}

/// Sixteen bytes of the document, classified at once: each method gives a bit per byte (the
/// first byte the lowest bit) of the bytes in one of the scanner's classes. With SSE2 where
/// there is (every x86-64 processor, one load), else a byte at a time through [`CLASS`].
#[derive(Clone, Copy)]
struct Sixteen(#[cfg(target_arch = "x86_64")] std::arch::x86_64::__m128i, #[cfg(not(target_arch = "x86_64"))] [u8; 16]);

#[cfg(target_arch = "x86_64")]
impl Sixteen {
    #[inline(always)]
    fn of(bytes: &[u8; 16]) -> Sixteen {
        // SAFETY: the load reads the sixteen bytes of `bytes` (unaligned loads allowed); SSE2 is
        // part of every x86-64 processor (the target's baseline).
        Sixteen(unsafe { std::arch::x86_64::_mm_loadu_si128(bytes.as_ptr().cast()) })
    }

    /// Each byte equal to `c`, as all ones.
    #[inline(always)]
    fn eq(self, c: u8) -> std::arch::x86_64::__m128i {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_set1_epi8};
        // SAFETY (here and in the methods below): SSE2 register arithmetic, no memory access;
        // SSE2 is part of every x86-64 processor.
        unsafe { _mm_cmpeq_epi8(self.0, _mm_set1_epi8(c as i8)) }
    }

    /// [`STOP`] bytes.
    #[inline(always)]
    fn stop(self) -> u32 {
        use std::arch::x86_64::{
            _mm_andnot_si128, _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        let [lt, amp, bracket, quot, apos, tab, lf, cr] =
            [b'<', b'&', b']', b'"', b'\'', b'\t', b'\n', b'\r'].map(|c| self.eq(c));
        unsafe {
            let marks = _mm_or_si128(_mm_or_si128(_mm_or_si128(lt, amp), _mm_or_si128(bracket, quot)), apos);
            // Below 0x20 (unsigned: the largest of the byte and 0x1F is 0x1F), but tab, LF, CR.
            let low = _mm_cmpeq_epi8(_mm_max_epu8(self.0, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F));
            let allowed = _mm_or_si128(_mm_or_si128(tab, lf), cr);
            _mm_movemask_epi8(_mm_or_si128(marks, _mm_andnot_si128(allowed, low))) as u32
        }
    }

    /// XML whitespace.
    #[inline(always)]
    fn blank(self) -> u32 {
        use std::arch::x86_64::{_mm_movemask_epi8, _mm_or_si128};
        let [space, lf, tab, cr] = [b' ', b'\n', b'\t', b'\r'].map(|c| self.eq(c));
        unsafe { _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(space, lf), _mm_or_si128(tab, cr))) as u32 }
    }

    /// [`NAME`] bytes, and the colons among them.
    #[inline(always)]
    fn name(self) -> (u32, u32) {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_sub_epi8,
        };
        let [colon, underscore, dash, dot] = [b':', b'_', b'-', b'.'].map(|c| self.eq(c));
        unsafe {
            // `lo..=hi` of `x`, unsigned: `x - lo` is at most `hi - lo`.
            let within = |x: __m128i, lo: u8, hi: u8| {
                let t = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
                _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8((hi - lo) as i8)), t)
            };
            let letters = within(_mm_or_si128(self.0, _mm_set1_epi8(0x20)), b'a', b'z');
            let marks = _mm_or_si128(_mm_or_si128(underscore, dash), _mm_or_si128(dot, colon));
            let name = _mm_or_si128(_mm_or_si128(letters, within(self.0, b'0', b'9')), marks);
            // Bytes from 0x80 on (UTF-8 sequences) are name bytes: their top bit.
            let high = _mm_movemask_epi8(self.0) as u32;
            ((_mm_movemask_epi8(name) as u32) | high, _mm_movemask_epi8(colon) as u32)
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
impl Sixteen {
    fn of(bytes: &[u8; 16]) -> Sixteen {
        Sixteen(*bytes)
    }

    fn bits(self, class: impl Fn(u8) -> bool) -> u32 {
        self.0.iter().enumerate().fold(0, |m, (k, &c)| m | u32::from(class(c)) << k)
    }

    fn stop(self) -> u32 {
        self.bits(|c| CLASS[c as usize] & STOP != 0)
    }

    fn blank(self) -> u32 {
        self.bits(blank)
    }

    fn name(self) -> (u32, u32) {
        (self.bits(|c| CLASS[c as usize] & NAME != 0), self.bits(|c| c == b':'))
    }
}

/// A control character XML does not allow, in a comment, processing instruction or CDATA
/// section (text and attribute values are checked as they are scanned).
fn no_control(body: &str, at: usize) -> Result<(), ReadError> {
    match body.bytes().position(|c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')) {
        Some(k) => Err(control(body.as_bytes()[k], at + k)),
        None => Ok(()),
    }
}

fn control(c: u8, at: usize) -> ReadError {
    xml_error(at, format!("the control character U+{c:04X} is not allowed in XML"))
}

/// XML whitespace.
fn blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// [`trim`] as a method of text: how the rules trim a value (XPath's white space, not
/// Unicode's).
pub(crate) trait XmlTrim {
    /// The text without the XML whitespace at its ends.
    fn xml_trim(&self) -> &str;
}

impl XmlTrim for str {
    fn xml_trim(&self) -> &str {
        trim(self)
    }
}

/// `text` without the XML whitespace (space, tab, CR, LF) at its ends; other white space, such
/// as a no-break space, is text to XML and stays.
fn trim(text: &str) -> &str {
    let b = text.as_bytes();
    let Some(start) = b.iter().position(|&c| !blank(c)) else { return "" };
    let end = b.iter().rposition(|&c| !blank(c)).map_or(start, |e| e + 1);
    // Both ends are next to ASCII bytes: character boundaries.
    &text[start..end]
}

/// String equality without a call to `memcmp`: names and prefixes are a few bytes, where the
/// call costs more than the comparison; eight bytes at a time from eight on (the last word
/// overlapping the one before).
pub(crate) fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// Whether a name ends with `suffix`, compared as [`same`] compares (the standard library's
/// `ends_with` calls `memcmp`, which costs more than a name's few bytes).
pub(crate) fn ends_with(name: &str, suffix: &str) -> bool {
    name.len() >= suffix.len() && same_bytes(&name.as_bytes()[name.len() - suffix.len()..], suffix.as_bytes())
}

/// [`same`] of bytes.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());
    let mut at = 0;
    while at + 8 < a.len() {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    word(a, a.len() - 8) == word(b, b.len() - 8)
}

/// Checks an XML declaration's pseudo-attributes (`text`: between `<?xml` and `?>`):
/// `version` first, then any of `encoding` and `standalone`, each quoted.
fn declaration(text: &str, at: usize) -> Result<(), ReadError> {
    let bad = |what: &str| Err(xml_error(at, format!("the XML declaration {what}")));
    let mut rest = text;
    let mut names = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return bad("lacks a space between its parts");
        }
        let Some((name, value)) = trimmed.split_once('=') else { return bad("has a part without a value") };
        let value = value.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let quote = match value.chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => return bad("has a value without quotes"),
        };
        let Some(close) = value[1..].find(quote) else { return bad("has a value not closed") };
        names.push(name.trim_end_matches(|c: char| c.is_ascii_whitespace()));
        rest = &value[close + 2..];
    }
    match names.split_first() {
        Some((&"version", others)) if others.iter().all(|n| matches!(*n, "encoding" | "standalone")) => Ok(()),
        _ => bad("must give `version` first, then `encoding` or `standalone`"),
    }
}

/// The local part of a qualified name (after the last `:`).
pub(crate) fn local(qname: &str) -> &str {
    match qname.bytes().rposition(|c| c == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    }
}

/// The reference behind a `&` (`after`: the text that follows it; `at`: the `&`'s byte): its
/// character, and how many bytes of `after` it takes (its name and `;`).
fn reference(after: &str, at: usize) -> Result<(char, usize), ReadError> {
    let semi = after
        .find(';')
        .ok_or_else(|| xml_error(at, "a `&` that starts no reference (write `&amp;` for the character)"))?;
    Ok((entity(&after[..semi])?, semi + 1))
}

/// A text or attribute value with its references resolved (`at`: where it starts in the document).
fn unescape(raw: &str, at: usize) -> Result<Cow<'_, str>, ReadError> {
    if memchr::memchr(b'&', raw.as_bytes()).is_none() {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let (c, taken) = reference(&rest[amp + 1..], at + (raw.len() - rest.len()) + amp)?;
        out.push(c);
        rest = &rest[amp + 1 + taken..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// A text as the tree keeps it: borrowed from the document, or decoded into the arena.
fn kept<'a>(text: Cow<'a, str>, arena: &'a Arena) -> &'a str {
    match text {
        Cow::Borrowed(t) => t,
        Cow::Owned(t) => arena.alloc_str(&t),
    }
}

/// Adds a piece of text to an element's: borrowed while it is the only piece.
#[inline(always)]
fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

/// Adds an element's text as it lies between two tags, `raw` starting at byte `at`: split at
/// its references, each piece joined to the text, except blank pieces while the element has
/// no text yet (indentation).
fn add_text<'a>(text: &mut Cow<'a, str>, raw: &'a str, at: usize) -> Result<(), ReadError> {
    let mut rest = raw;
    let mut offset = at;
    loop {
        let (piece, amp) = match memchr::memchr(b'&', rest.as_bytes()) {
            Some(amp) => (&rest[..amp], Some(amp)),
            None => (rest, None),
        };
        if !(text.is_empty() && piece.bytes().all(blank)) {
            append(text, Cow::Borrowed(piece));
        }
        let Some(amp) = amp else { return Ok(()) };
        let (c, taken) = reference(&rest[amp + 1..], offset + amp)?;
        text.to_mut().push(c);
        offset += amp + 1 + taken;
        rest = &rest[amp + 1 + taken..];
    }
}

/// An element open while its content is read.
#[derive(Default)]
struct Open<'a> {
    /// Its local name, namespace and attributes (its [`Node`] is made when it closes).
    name: &'a str,
    namespace: &'a str,
    attrs: &'a [(&'a str, &'a str)],
    /// Its text so far (owned once pieces are joined or references resolved).
    text: Cow<'a, str>,
    /// Its name as written (the end tag must repeat it).
    qname: &'a str,
    /// Where its children start in the list of closed elements (a document of at most
    /// [`MAX_DOCUMENT_BYTES`] has fewer elements than a `u32` counts).
    first_child: u32,
}

/// A name as scanned: where it ends, where its colon is, whether it is a valid name.
struct Scanned {
    end: usize,
    colon: Option<usize>,
    valid: bool,
}

/// Scans the name starting at `at` up to the first byte that cannot be in a name. Valid: not
/// empty, at most one colon, neither part starting with a digit, `-`, `.` (or being empty).
fn scan_name(b: &[u8], at: usize) -> Scanned {
    let starts = |c: Option<&u8>| c.is_some_and(|&c| !(c.is_ascii_digit() || matches!(c, b'-' | b'.' | b':')));
    // The name's end, its first colon and how many it has: sixteen bytes at a time where
    // sixteen are left.
    let (mut end, mut colon, mut colons) = (at, None, 0u32);
    loop {
        if let Some(sixteen) = b.get(end..end + 16).and_then(|s| <&[u8; 16]>::try_from(s).ok()) {
            let (name, colon_bits) = Sixteen::of(sixteen).name();
            // At most 16: the bit above the sixteen stops the count.
            let len = (!name | 0x1_0000).trailing_zeros();
            let within = colon_bits & ((1u32 << len) - 1);
            if within != 0 {
                colon = colon.or(Some(end + within.trailing_zeros() as usize));
                colons += within.count_ones();
            }
            end += len as usize;
            if len < 16 {
                break;
            }
        } else {
            while let Some(&c) = b.get(end).filter(|&&c| CLASS[c as usize] & NAME != 0) {
                if c == b':' {
                    colon = colon.or(Some(end));
                    colons += 1;
                }
                end += 1;
            }
            break;
        }
    }
    let valid = starts(b.get(at).filter(|_| end > at))
        && colon.is_none_or(|c| colons == 1 && starts(b.get(c + 1).filter(|_| c + 1 < end)));
    Scanned { end, colon, valid }
}

/// A namespace declaration in scope: the prefix (empty: the default namespace), the
/// namespace, the level of the element that declares it.
type Declared<'a> = (&'a str, &'a str, usize);

/// The namespace declarations in scope.
#[derive(Default)]
struct Scope<'a> {
    declared: Vec<Declared<'a>>,
}

impl<'a> Scope<'a> {
    /// The declarations of the elements at `level` and deeper go out of scope.
    fn leave(&mut self, level: usize) {
        while self.declared.last().is_some_and(|(_, _, l)| *l >= level) {
            self.declared.pop();
        }
    }

    /// The namespace of a prefix (empty: none), searched from the innermost declaration.
    #[inline(always)]
    fn find(&self, prefix: &str) -> Option<&'a str> {
        self.declared.iter().rev().find(|(d, _, _)| same(d, prefix)).map(|(_, uri, _)| *uri)
    }

    /// The namespace of an element without attributes (most elements: no declaration, no
    /// attribute to check) when its prefix is declared and is neither `xml` nor `xmlns`;
    /// `None` sends the element to [`namespaces`].
    #[inline(always)]
    fn quick(&self, node: &Node<'a>, prefix: Option<&str>) -> Option<&'a str> {
        if !node.attrs.is_empty() {
            return None;
        }
        let p = prefix.unwrap_or("");
        let uri = self.find(p)?;
        (!same(p, "xml") && !same(p, "xmlns")).then_some(uri)
    }
}

/// Completes the start of element `node` (level `level`, at byte `at`) once its attributes
/// are read: they are kept in the arena, and its name is given its namespace, the quick way
/// ([`Scope::quick`]) or through [`namespaces`].
#[inline(always)]
fn complete<'a>(
    node: &mut Node<'a>,
    attrs: &[(&'a str, &'a str)],
    arena: &'a Arena,
    (qname, prefix): (&str, Option<&'a str>),
    level: usize,
    ns: &mut Scope<'a>,
    at: usize,
) -> Result<(), ReadError> {
    if !attrs.is_empty() {
        node.attrs = arena.alloc_slice_copy(attrs);
    }
    match ns.quick(node, prefix) {
        Some(uri) => node.namespace = uri,
        None => namespaces(node, qname, prefix, level, ns, at)?,
    }
    Ok(())
}

/// The namespace declarations on `node` (level `level`) are added to those in scope; its name
/// is given its namespace, and the prefixes of its name and attributes must be declared (or be
/// `xml`, `xmlns`, which XML itself binds).
#[inline(never)]
fn namespaces<'a>(
    node: &mut Node<'a>,
    qname: &str,
    prefix: Option<&'a str>,
    level: usize,
    scope: &mut Scope<'a>,
    at: usize,
) -> Result<(), ReadError> {
    for &(k, v) in node.attrs {
        if same(k, "xmlns") {
            scope.declared.push(("", v, level));
        } else if k.as_bytes().starts_with(b"xmlns:") {
            scope.declared.push((&k[6..], v, level));
        }
    }
    let find = |p: &str| scope.find(p);
    let declared = |p: &str| same(p, "xml") || same(p, "xmlns") || find(p).is_some();
    node.namespace = match prefix {
        Some("xml") => "http://www.w3.org/XML/1998/namespace",
        Some(p) => match find(p) {
            Some(uri) => uri,
            None if same(p, "xmlns") => "",
            None => return Err(xml_error(at, format!("the namespace prefix of <{qname}> is not declared"))),
        },
        None => find("").unwrap_or_default(),
    };
    for (k, _) in node.attrs {
        if let Some(colon) = k.bytes().position(|c| c == b':') {
            if !declared(&k[..colon]) {
                return Err(xml_error(
                    at,
                    format!("the namespace prefix of the attribute `{k}` of <{qname}> is not declared"),
                ));
            }
        }
    }
    Ok(())
}

/// Parses a document into its root element, the tree in `arena`: without recursion, at most
/// [`MAX_DEPTH`] levels and [`MAX_DOCUMENT_BYTES`] bytes.
pub fn parse<'a>(xml: &'a [u8], arena: &'a Arena) -> Result<Node<'a>, ReadError> {
    if xml.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(too_large(xml.len() as u64));
    }
    // The SIMD check first; the standard library's says where a document that is not UTF-8
    // goes wrong.
    let doc = match simdutf8::basic::from_utf8(xml) {
        Ok(doc) => doc,
        Err(_) => std::str::from_utf8(xml)
            .map_err(|e| xml_error(e.valid_up_to(), format!("cannot decode input using UTF-8: {e}")))?,
    };
    let b = doc.as_bytes();
    let find = |from: usize, what: &str| doc.get(from..).and_then(|s| s.find(what)).map(|i| from + i);
    // The open elements, each with its name as written (the end tag must repeat it); the
    // document node is the first entry, so the root is level 1.
    let mut stack: Vec<Open> = Vec::with_capacity(32);
    stack.push(Open::default());
    // The elements closed whose parent is still open, in order: an element's children are
    // moved from here into a list of their exact length when it closes (no list grows).
    let mut done: Vec<Node> = Vec::with_capacity(64);
    // The namespace declarations in scope.
    let mut ns = Scope::default();
    // The attributes of the start tag being read.
    let mut attrs: Vec<(&str, &str)> = Vec::with_capacity(8);
    let first = if doc.starts_with('\u{feff}') { 3 } else { 0 };
    let mut i = first;
    while i < b.len() {
        if b[i] != b'<' {
            i = text(doc, i, &mut stack)?;
            continue;
        }
        match b.get(i + 1) {
            Some(b'/') => {
                if stack.len() == 1 {
                    let name = scan_name(b, i + 2);
                    return Err(xml_error(i, format!("the end tag </{}> closes no element", &doc[i + 2..name.end])));
                }
                let Open { name, namespace, attrs, text, qname: open, first_child } = stack.pop().unwrap_or_default();
                let (first_child, mut node) =
                    (first_child as usize, Node { name, namespace, attrs, ..Node::default() });
                let mut end = i + 2 + open.len();
                if !b.get(i + 2..end).is_some_and(|written| same_bytes(written, open.as_bytes()))
                    || b.get(end).is_some_and(|&c| CLASS[c as usize] & NAME != 0)
                {
                    let name = scan_name(b, i + 2);
                    return Err(xml_error(
                        i,
                        format!("expected `</{open}>`, but `</{}>` found", &doc[i + 2..name.end]),
                    ));
                }
                while end < b.len() && blank(b[end]) {
                    end += 1;
                }
                if b.get(end) != Some(&b'>') {
                    return Err(xml_error(i, format!("the end tag </{open}> is not closed by `>`")));
                }
                // Most elements are leaves: nothing to move (a copy of no nodes is still a call).
                if first_child < done.len() {
                    node.children = arena.alloc_slice_copy(&done[first_child..]);
                    done.truncate(first_child);
                }
                node.text = kept(text, arena);
                done.push(node);
                ns.leave(stack.len());
                i = end + 1;
            }
            Some(b'?') => {
                let end = find(i + 2, "?>").ok_or_else(|| xml_error(i, "a processing instruction without its `?>`"))?;
                let body = &doc[i + 2..end];
                no_control(body, i + 2)?;
                let target = body.split(|c: char| c.is_ascii_whitespace()).next().unwrap_or("");
                if target.eq_ignore_ascii_case("xml") {
                    if i != first {
                        return Err(xml_error(i, "an XML declaration not at the start of the document"));
                    }
                    declaration(&body[3..], i)?;
                }
                i = end + 2;
            }
            Some(b'!') => {
                let rest = &doc[i..];
                if rest.starts_with("<!--") {
                    let end = find(i + 4, "-->").ok_or_else(|| xml_error(i, "a comment without its `-->`"))?;
                    no_control(&doc[i + 4..end], i + 4)?;
                    i = end + 3;
                } else if rest.starts_with("<![CDATA[") {
                    let end = find(i + 9, "]]>").ok_or_else(|| xml_error(i, "a CDATA section without its `]]>`"))?;
                    if stack.len() == 1 {
                        return Err(xml_error(i, "a CDATA section outside the root element"));
                    }
                    no_control(&doc[i + 9..end], i + 9)?;
                    if let Some(top) = stack.last_mut() {
                        append(&mut top.text, Cow::Borrowed(&doc[i + 9..end]));
                    }
                    i = end + 3;
                } else if rest.starts_with("<!DOCTYPE") {
                    return Err(ReadError::Refused(
                        "documents with a DOCTYPE are refused (no entity is resolved)".into(),
                    ));
                } else {
                    return Err(xml_error(i, "a `<!` that starts no comment or CDATA section"));
                }
            }
            _ => i = start_tag(doc, i, arena, &mut stack, &mut done, (&mut ns, &mut attrs))?,
        }
    }
    if stack.len() > 1 {
        let open = stack.last().map_or("", |o| o.qname);
        return Err(ReadError::Refused(format!("the document ends inside an element (<{open}> is not closed)")));
    }
    done.pop().ok_or_else(|| ReadError::Refused("the document has no root element".into()))
}

/// Reads the run of text at `i` (up to the next `<`) into the open element; returns its end.
fn text<'a>(doc: &'a str, i: usize, stack: &mut [Open<'a>]) -> Result<usize, ReadError> {
    let b = doc.as_bytes();
    // Indentation between elements, the most common run, is passed over first.
    let mut end = skip_blank(b, i);
    let inside = stack.len() > 1;
    let Some(Open { text: top, .. }) = stack.last_mut() else { return Ok(end) };
    if end == b.len() || b[end] == b'<' {
        // Whitespace after some text of the element is kept (it may lie between references).
        if inside && !top.is_empty() {
            append(top, Cow::Borrowed(&doc[i..end]));
        }
        return Ok(end);
    }
    if !inside {
        return Err(xml_error(end, "text outside the root element"));
    }
    let mut plain = true;
    loop {
        end = stop(b, end);
        match b.get(end) {
            None | Some(b'<') => break,
            Some(b'&' | b']' | b'"' | b'\'') => {
                plain = false;
                end += 1;
            }
            Some(&c) => return Err(control(c, end)),
        }
    }
    let raw = &doc[i..end];
    if plain {
        append(top, Cow::Borrowed(raw));
    } else {
        if raw.contains("]]>") {
            return Err(xml_error(i, "`]]>` in text (write `]]&gt;`)"));
        }
        add_text(top, raw, i)?;
    }
    Ok(end)
}

/// Reads the start tag at `i` (its `<`) onto the stack, or as a child of the top when it is
/// empty (`/>`); returns where the tag ends.
fn start_tag<'a>(
    doc: &'a str,
    i: usize,
    arena: &'a Arena,
    stack: &mut Vec<Open<'a>>,
    done: &mut Vec<Node<'a>>,
    (ns, attrs): (&mut Scope<'a>, &mut Vec<(&'a str, &'a str)>),
) -> Result<usize, ReadError> {
    let b = doc.as_bytes();
    let name = scan_name(b, i + 1);
    let qname = &doc[i + 1..name.end];
    if qname.is_empty() {
        return Err(xml_error(i, "a `<` that starts no tag (write `&lt;` for the character)"));
    }
    if !name.valid || b.get(name.end).is_some_and(|&c| !(blank(c) || c == b'>' || c == b'/')) {
        let to = (name.end..b.len()).find(|&k| blank(b[k]) || matches!(b[k], b'>' | b'/')).unwrap_or(b.len());
        return Err(xml_error(i, format!("`{}` is not an element name", &doc[i + 1..to])));
    }
    if stack.len() == 1 && !done.is_empty() {
        return Err(xml_error(i, format!("<{qname}> after the root element")));
    }
    let (prefix, local) = match name.colon {
        Some(c) => (Some(&doc[i + 1..c]), &doc[c + 1..name.end]),
        None => (None, qname),
    };
    let mut node = Node { name: local, ..Node::default() };
    attrs.clear();
    let mut j = name.end;
    loop {
        let spaced = j < b.len() && blank(b[j]);
        while j < b.len() && blank(b[j]) {
            j += 1;
        }
        match b.get(j) {
            None => return Err(xml_error(i, format!("the tag <{qname}> is not closed"))),
            Some(b'>') => {
                if stack.len() > MAX_DEPTH {
                    return Err(ReadError::Refused(format!(
                        "elements nest deeper than {MAX_DEPTH} levels (at <{}>, byte {i}): e-invoices nest about ten: the document is refused",
                        node.name
                    )));
                }
                complete(&mut node, attrs, arena, (qname, prefix), stack.len(), ns, i)?;
                stack.push(Open {
                    name: node.name,
                    namespace: node.namespace,
                    attrs: node.attrs,
                    text: Cow::Borrowed(""),
                    qname,
                    first_child: done.len() as u32,
                });
                return Ok(j + 1);
            }
            Some(b'/') => {
                if b.get(j + 1) != Some(&b'>') {
                    return Err(xml_error(j, format!("`/` not followed by `>` in the tag <{qname}>")));
                }
                complete(&mut node, attrs, arena, (qname, prefix), stack.len(), ns, i)?;
                ns.leave(stack.len());
                done.push(node);
                return Ok(j + 2);
            }
            Some(_) if !spaced => {
                return Err(xml_error(j, format!("no space before an attribute of <{qname}>")));
            }
            Some(_) => {
                let scanned = scan_name(b, j);
                let key = &doc[j..scanned.end];
                if !scanned.valid || b.get(scanned.end).is_some_and(|&c| !(blank(c) || c == b'=')) {
                    let to =
                        (scanned.end..b.len()).find(|&k| blank(b[k]) || matches!(b[k], b'=' | b'>')).unwrap_or(b.len());
                    return Err(xml_error(j, format!("`{}` is not an attribute name (in <{qname}>)", &doc[j..to])));
                }
                let mut k = scanned.end;
                while k < b.len() && blank(b[k]) {
                    k += 1;
                }
                if b.get(k) != Some(&b'=') {
                    return Err(xml_error(j, format!("the attribute `{key}` of <{qname}> has no value")));
                }
                k += 1;
                while k < b.len() && blank(b[k]) {
                    k += 1;
                }
                let quote = match b.get(k) {
                    Some(&q @ (b'"' | b'\'')) => q,
                    _ => return Err(xml_error(k, format!("the value of `{key}` in <{qname}> is not quoted"))),
                };
                let mut close = k + 1;
                // Whether the value has a reference to resolve.
                let mut plain = true;
                loop {
                    close = stop(b, close);
                    match b.get(close) {
                        None => return Err(xml_error(k, format!("the value of `{key}` in <{qname}> is not closed"))),
                        Some(&c) if c == quote => break,
                        Some(b'<') => {
                            return Err(xml_error(
                                k,
                                format!("a `<` in the value of `{key}` in <{qname}> (write `&lt;`)"),
                            ))
                        }
                        Some(b'&') => {
                            plain = false;
                            close += 1;
                        }
                        Some(b']' | b'"' | b'\'') => close += 1,
                        Some(&c) => return Err(control(c, close)),
                    }
                }
                let raw = &doc[k + 1..close];
                if attrs.iter().any(|(n, _)| same(n, key)) {
                    return Err(xml_error(j, format!("the attribute `{key}` twice in <{qname}>")));
                }
                attrs.push((key, if plain { raw } else { kept(unescape(raw, k + 1)?, arena) }));
                j = close + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(xml: &str) -> String {
        parse(xml.as_bytes(), &Arena::new()).unwrap_err().to_string()
    }

    #[test]
    fn names_texts_and_attributes_are_read_and_borrowed_when_they_can_be() {
        let xml = "\u{feff}<?xml version=\"1.0\"?>\n<!-- c --><a:Root xmlns:a=\"u\" xmlns:b=\"v\">\n  <b:Amount currencyID='EUR' b:x=\"1 &amp; 2\">12.50</b:Amount>\n  <T>x &lt; y&#x41;&#66;</T><E/><C><![CDATA[<raw>]]></C>\n  <W>  \n</W></a:Root>";
        let arena = Arena::new();
        let root = parse(xml.as_bytes(), &arena).unwrap();
        assert_eq!(root.name, "Root");
        let names: Vec<&str> = root.children.iter().map(|c| c.name).collect();
        assert_eq!(names, ["Amount", "T", "E", "C", "W"]);
        let amount = &root.children[0];
        assert_eq!(amount.attr("currencyID"), Some("EUR"));
        assert_eq!(amount.attr("x"), Some("1 & 2"));
        // Borrowed from the document: no copy of a text or value without references.
        let inside = |t: &str| xml.as_bytes().as_ptr_range().contains(&t.as_ptr());
        assert!(amount.text == "12.50" && inside(amount.text));
        assert!(amount.attrs[0] == ("currencyID", "EUR") && inside(amount.attrs[0].1));
        assert!(!inside(amount.attrs[1].1));
        assert_eq!(root.children[1].text, "x < yAB");
        assert_eq!(root.children[3].text, "<raw>");
        // Indentation is not text; the root's own text is empty.
        assert_eq!(root.children[4].text, "");
        assert_eq!(root.text, "");
    }

    /// Every byte value at every place of sixteen bytes is classed as the byte table classes it.
    #[test]
    fn sixteen_bytes_are_classed_as_the_table_classes_each() {
        let mut checked = 0;
        for c in 0..=255u8 {
            for at in 0..16 {
                // The byte among plain letters and among spaces (both neighbours matter to none).
                for fill in [b'a', b' '] {
                    let mut bytes = [fill; 16];
                    bytes[at] = c;
                    let six = Sixteen::of(&bytes);
                    let bit = |m: u32, k: usize| m >> k & 1 == 1;
                    for (k, &b) in bytes.iter().enumerate() {
                        assert_eq!(bit(six.stop(), k), CLASS[b as usize] & STOP != 0, "stop of {b:#04x}");
                        assert_eq!(bit(six.blank(), k), blank(b), "blank of {b:#04x}");
                        let (name, colon) = six.name();
                        assert_eq!(bit(name, k), CLASS[b as usize] & NAME != 0, "name of {b:#04x}");
                        assert_eq!(bit(colon, k), b == b':', "colon of {b:#04x}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 256 * 16 * 2 * 16);
    }

    /// Suffixes of names compared as the standard library compares them, short and long.
    #[test]
    fn a_name_ends_with_a_suffix_as_str_says() {
        let names = ["ID", "Amount", "TaxAmount", "PriceAmount", "AdditionalReferencedDocument", "Amounts", ""];
        let suffixes = ["", "ID", "Amount", "PriceAmount", "ReferencedDocument", "Document"];
        let mut agreed = 0;
        for n in names {
            for x in suffixes {
                assert_eq!(ends_with(n, x), n.ends_with(x), "{n} {x}");
                agreed += usize::from(ends_with(n, x));
            }
        }
        assert_eq!(agreed, 14);
    }

    /// Names scanned sixteen bytes at a time (and the last bytes one at a time) end, and find
    /// their colons, where a byte-by-byte scan does.
    #[test]
    fn names_of_any_length_are_scanned_as_byte_by_byte() {
        // The scan the sixteen-byte one replaced: the name's end, its first colon, validity.
        let reference = |b: &[u8], at: usize| {
            let len = b[at..].iter().position(|&c| CLASS[c as usize] & NAME == 0).unwrap_or(b.len() - at);
            let name = &b[at..at + len];
            let starts = |c: Option<&u8>| c.is_some_and(|&c| !(c.is_ascii_digit() || matches!(c, b'-' | b'.' | b':')));
            let colon = name.iter().position(|&c| c == b':');
            let valid =
                starts(name.first()) && colon.is_none_or(|k| starts(name.get(k + 1)) && !name[k + 1..].contains(&b':'));
            (at + len, colon.map(|k| at + k), valid)
        };
        let parts = ["", "a", "cbc", ":", "1", "-x", "IdentificationCode", "ä", "Ä:b", "x:y:z", "abcdefghijklmnop"];
        let mut cases = 0;
        for first in parts {
            for second in parts {
                for end in ["", ">", " ", "/>", "=\"1\"", "<"] {
                    for padding in ["", "                                "] {
                        let text = format!("<{first}{second}{end}{padding}");
                        let b = text.as_bytes();
                        let got = scan_name(b, 1);
                        assert_eq!((got.end, got.colon, got.valid), reference(b, 1), "{text:?}");
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 11 * 11 * 6 * 2);
    }

    #[test]
    fn what_is_not_well_formed_is_refused_with_its_position() {
        for (xml, message) in [
            ("<a><b></a>", "not well-formed XML at byte 6: expected `</b>`, but `</a>` found"),
            ("<a>x &nbsp; y</a>", "the entity &nbsp; is not resolved (only the predefined ones are)"),
            ("<a>x & y</a>", "not well-formed XML at byte 5: a `&` that starts no reference (write `&amp;` for the character)"),
            ("<a b=\"1\" b=\"2\"/>", "not well-formed XML at byte 9: the attribute `b` twice in <a>"),
            ("<a b=1/>", "not well-formed XML at byte 5: the value of `b` in <a> is not quoted"),
            ("<a><b>", "the document ends inside an element (<b> is not closed)"),
            ("<a/><b/>", "not well-formed XML at byte 4: <b> after the root element"),
            ("x<a/>", "not well-formed XML at byte 0: text outside the root element"),
            ("<a>1 < 2</a>", "not well-formed XML at byte 5: a `<` that starts no tag (write `&lt;` for the character)"),
            ("<?xml version=\"1.0\"?>", "the document has no root element"),
            ("<a x'y=\"1\"/>", "not well-formed XML at byte 3: `x'y` is not an attribute name (in <a>)"),
            ("<a:b/>", "not well-formed XML at byte 0: the namespace prefix of <a:b> is not declared"),
            ("<a><b xmlns:p=\"u\"/><p:c/></a>", "not well-formed XML at byte 19: the namespace prefix of <p:c> is not declared"),
            ("<a>\u{1}</a>", "not well-formed XML at byte 3: the control character U+0001 is not allowed in XML"),
            ("<?xml encoding=\"UTF-8\"?><a/>", "not well-formed XML at byte 0: the XML declaration must give `version` first, then `encoding` or `standalone`"),
            ("<a/><?xml version=\"1.0\"?>", "not well-formed XML at byte 4: an XML declaration not at the start of the document"),
            ("<1a/>", "not well-formed XML at byte 0: `1a` is not an element name"),
            ("<a>x]]>y</a>", "not well-formed XML at byte 3: `]]>` in text (write `]]&gt;`)"),
            ("<!DOCTYPE a><a/>", "documents with a DOCTYPE are refused (no entity is resolved)"),
        ] {
            assert_eq!(err(xml), message, "{xml}");
        }
        assert!(parse(b"<a xmlns:p=\"u\"><p:b p:c=\"1\"/></a>\n<!-- after -->\n", &Arena::new()).is_ok());
        assert_eq!(
            parse(b"<a>\xff</a>", &Arena::new()).unwrap_err().to_string(),
            "not well-formed XML at byte 3: cannot decode input using UTF-8: invalid utf-8 sequence of 1 bytes from index 3"
        );
    }
}
