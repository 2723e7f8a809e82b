//! Records as the readers hand them on: the fields of many records stored back to back in one
//! buffer, viewed one record at a time (no allocation per record); and the CSV tokenizer that
//! fills them straight from the read buffer, one copy per record.

use std::io::{self, Read};
use std::ops::Range;

/// One record of a [`Records`] store: its bytes and where each field lies in them.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The record's bytes: its fields, and for a CSV record the delimiters and quotes between
    /// them too (ASCII; after a field decoded in place, spaces where its quotes were). A field
    /// is only what its range says.
    bytes: &'a [u8],
    /// Where each field starts and ends in `bytes`.
    fields: &'a [(u32, u32)],
}

impl<'a> Record<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the record has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Where field `i` lies in [`Record::as_slice`].
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        let &(start, end) = self.fields.get(i)?;
        Some(start as usize..end as usize)
    }

    /// Where field `i` starts and ends in [`Record::as_slice`] (as [`Record::range`], without
    /// making a range).
    pub fn bounds(&self, i: usize) -> Option<(usize, usize)> {
        self.fields.get(i).map(|&(s, e)| (s as usize, e as usize))
    }

    /// The bytes of field `i`.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.range(i).map(|r| &self.bytes[r])
    }

    /// The record's bytes, every field's range within them (and, for a CSV record, the ASCII
    /// delimiters and quotes around them).
    pub fn as_slice(&self) -> &'a [u8] {
        self.bytes
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let bytes = self.bytes;
        self.fields.iter().map(move |&(s, e)| &bytes[s as usize..e as usize])
    }
}

impl std::ops::Index<usize> for Record<'_> {
    type Output = [u8];

    fn index(&self, i: usize) -> &[u8] {
        self.get(i).expect("field index in range")
    }
}

/// Records stored back to back: one buffer of their bytes, one list of field ranges (each
/// relative to its record's start), and where each record begins in both. Cleared and refilled
/// batch after batch, it keeps its capacity.
#[derive(Debug, Default)]
pub struct Records {
    data: Vec<u8>,
    fields: Vec<(u32, u32)>,
    /// Per record: the index of its first field, and where its bytes start.
    starts: Vec<(usize, usize)>,
}

impl Records {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Room for `records` records of `fields` fields and `bytes` bytes in all (a store filled
    /// once, whose doubling growth would otherwise leave up to half of it unused).
    pub fn reserve(&mut self, records: usize, fields: usize, bytes: usize) {
        self.data.reserve_exact(bytes);
        self.fields.reserve_exact(fields);
        self.starts.reserve_exact(records);
    }

    /// Removes every record (keeping the space).
    pub fn clear(&mut self) {
        self.data.clear();
        self.fields.clear();
        self.starts.clear();
    }

    /// Record `i`.
    pub fn get(&self, i: usize) -> Record<'_> {
        let (first, base) = self.starts[i];
        let (last, end) = self.starts.get(i + 1).copied().unwrap_or((self.fields.len(), self.data.len()));
        Record { bytes: &self.data[base..end], fields: &self.fields[first..last] }
    }

    /// Starts a new record (its fields follow with [`Records::push_field`]).
    pub fn start_record(&mut self) {
        self.starts.push((self.fields.len(), self.data.len()));
    }

    /// Appends a field to the record last started. A field of more than 4 GiB is cut there
    /// (no reader hands one on: CSV records are bounded well below).
    pub fn push_field(&mut self, field: &[u8]) {
        let base = self.starts.last().map(|s| s.1).unwrap_or(0);
        let start = self.data.len() - base;
        self.data.extend_from_slice(field);
        let end = self.data.len() - base;
        self.fields.push((clip(start), clip(end)));
    }

    /// Removes the record last started.
    pub fn pop(&mut self) {
        if let Some((first, base)) = self.starts.pop() {
            self.fields.truncate(first);
            self.data.truncate(base);
        }
    }
}

fn clip(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Where a record starts in the text a [`Tokenizer`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Line (1-based) of the record's first byte: the line ends before it (LF, CRLF or a lone
    /// CR, each one line end; blank lines and the line breaks inside quoted fields included),
    /// plus one. What an editor shows, whatever the file's line ends. (The `csv` crate
    /// counts line feeds only, and before the line feed of a CRLF: one line too few on every
    /// record of a CRLF file after the first.)
    pub line: u64,
    /// Records before this one (the header row is record 0).
    pub record: u64,
    /// Byte offset in the text where reading the record began: before a BOM and the blank
    /// lines in front of it, as the `csv` crate reports it (a split point is met by it, see
    /// `Split::meets`).
    pub byte: u64,
}

/// The line ends in `text`: LF, CRLF and a lone CR each count once. A CR at the end of `text`
/// counts (whatever follows it).
pub fn line_ends(text: &[u8]) -> u64 {
    let lf = memchr::memchr_iter(b'\n', text).count();
    let cr = memchr::memchr_iter(b'\r', text).filter(|&i| text.get(i + 1) != Some(&b'\n')).count();
    (lf + cr) as u64
}

/// Why a [`Tokenizer`] stopped.
#[derive(Debug)]
pub enum TokenizeError {
    /// Reading the text failed.
    Io(io::Error),
    /// The record that starts at this position ran past the tokenizer's bound.
    TooLong(Position),
}

/// The read buffer (256 KiB); it grows for a longer record.
const BUFFER: usize = 1 << 18;

/// A record found in the read buffer: where it ends, and its line end (CR or LF) if any.
struct Scanned {
    end: usize,
    term: Option<u8>,
    lines: u64,
}

/// A CSV tokenizer with the `csv` crate's reading (RFC 4180 quotes with doubled quotes, CR,
/// LF or CRLF line ends, blank lines skipped, a UTF-8 BOM at the start dropped, records of any
/// length) and the same positions. A record is found in the read buffer with a tight loop over
/// its bytes and copied into the [`Records`] store whole; only quoted fields with quotes inside
/// are decoded, in place.
pub struct Tokenizer {
    input: Box<dyn Read + Send>,
    buf: Vec<u8>,
    at: usize,
    filled: usize,
    /// Byte offset of `buf[0]` in the text.
    buf_start: u64,
    eof: bool,
    started: bool,
    /// Line of `buf[at]`.
    line: u64,
    /// The byte before `buf[at]` was a CR (counted as a line end already: an LF after it is
    /// the same line end).
    after_cr: bool,
    record: u64,
    delimiter: u8,
    quote: u8,
    /// Bytes that end an unquoted field: the delimiter, CR and LF.
    stops: [bool; 256],
    /// The delimiter, CR and LF, each repeated in every byte of a word.
    needles: [u64; 3],
    max_record_bytes: u64,
    /// Fields of the record being read that need decoding (their index in the store's list).
    raw: Vec<usize>,
    /// The stop bytes of the last 64 bytes of the buffer looked at.
    block: Block,
    /// Fields a record keeps (see [`Tokenizer::keep_fields`]).
    keep: Option<usize>,
    /// Scans begun again because a record ran past the buffer (for a test).
    #[cfg(test)]
    rescans: usize,
}

impl Tokenizer {
    /// A tokenizer of `input` with `delimiter` and `quote`; a record longer than
    /// `max_record_bytes` is an error.
    pub fn new(input: Box<dyn Read + Send>, delimiter: u8, quote: u8, max_record_bytes: u64) -> Tokenizer {
        let mut stops = [false; 256];
        for b in [delimiter, b'\r', b'\n'] {
            stops[usize::from(b)] = true;
        }
        Tokenizer {
            input,
            buf: vec![0u8; BUFFER],
            at: 0,
            filled: 0,
            buf_start: 0,
            eof: false,
            started: false,
            line: 1,
            after_cr: false,
            record: 0,
            delimiter,
            quote,
            stops,
            needles: [delimiter, b'\r', b'\n'].map(|b| u64::from(b) * LOW_BYTES),
            max_record_bytes,
            raw: Vec::new(),
            block: Block::NONE,
            keep: None,
            #[cfg(test)]
            rescans: 0,
        }
    }

    /// Keeps only the first `n` fields of a record (the rest is passed over to the line end
    /// without looking for delimiters): for a reading that needs a few leading columns only.
    /// Records and positions stay what they are; a record's bytes end with its last field.
    pub fn keep_fields(&mut self, n: usize) {
        self.keep = Some(n.max(1));
    }

    /// The line end of the record just read: `\r\n`, `\r` or `\n` (after the header: how the
    /// file ends its lines; `\n` when it has none).
    pub fn line_end(&mut self) -> &'static [u8] {
        if !self.after_cr {
            return b"\n";
        }
        // The CR was read; whether an LF follows it is in the next byte.
        if self.at == self.filled && self.read_more().is_err() {
            return b"\r";
        }
        if self.buf.get(self.at) == Some(&b'\n') {
            b"\r\n"
        } else {
            b"\r"
        }
    }

    /// Where the next record would start.
    pub fn position(&self) -> Position {
        Position { line: self.line, record: self.record, byte: self.buf_start + self.at as u64 }
    }

    /// Reads more of the text after the bytes from `self.at` on, which move to the front of
    /// the buffer (it doubles when they fill it), until the buffer is full or the text ends;
    /// false when nothing more was read. Filling it whole keeps a record longer than the
    /// buffer from being scanned again after every short read (a pipe, a decoder): it is
    /// scanned again only once the buffer has doubled.
    fn read_more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.block = Block::NONE;
        if self.at > 0 {
            self.buf.copy_within(self.at..self.filled, 0);
            self.buf_start += self.at as u64;
            self.filled -= self.at;
            self.at = 0;
        }
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let before = self.filled;
        while self.filled < self.buf.len() {
            match self.input.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.filled > before)
    }

    /// Reads the next record into `out`; `None` at the end of the text.
    pub fn read_record(&mut self, out: &mut Records) -> Result<Option<Position>, TokenizeError> {
        // The byte is taken before the BOM and the blank lines, as the `csv` crate takes it; the
        // line is that of the record's first byte.
        let mut pos = self.position();
        if !self.started {
            self.started = true;
            while self.filled - self.at < 3 && self.read_more().map_err(TokenizeError::Io)? {}
            if self.buf[self.at..self.filled].starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.at += 3;
            }
        }
        // Blank lines (and the LF of a CRLF) are no record.
        loop {
            if self.at == self.filled && !self.read_more().map_err(TokenizeError::Io)? {
                return Ok(None);
            }
            match self.buf[self.at] {
                b'\n' => self.line += u64::from(!self.after_cr),
                b'\r' => self.line += 1,
                _ => break,
            }
            self.after_cr = self.buf[self.at] == b'\r';
            self.at += 1;
        }
        self.after_cr = false;
        pos.line = self.line;
        let base = out.data.len();
        out.starts.push((out.fields.len(), base));
        let first = out.fields.len();
        let scanned = loop {
            if let Some(s) = self.scan(&mut out.fields) {
                break s;
            }
            out.fields.truncate(first);
            #[cfg(test)]
            {
                self.rescans += 1;
            }
            if (self.filled - self.at) as u64 > self.max_record_bytes {
                out.starts.pop();
                return Err(TokenizeError::TooLong(pos));
            }
            // The record runs past the buffer: read on (at the end of the text, the scan
            // ends it there).
            if let Err(e) = self.read_more() {
                out.starts.pop();
                return Err(TokenizeError::Io(e));
            }
        };
        if (scanned.end - self.at) as u64 > self.max_record_bytes {
            out.fields.truncate(first);
            out.starts.pop();
            return Err(TokenizeError::TooLong(pos));
        }
        self.line += scanned.lines;
        // One copy of the record (the field ranges are relative to its start; when only the
        // first fields are kept, through the last of them), then the fields that need decoding
        // are decoded in place.
        let copied = match self.keep {
            Some(_) => self.at + out.fields[first..].last().map_or(0, |f| f.1 as usize),
            None => scanned.end,
        };
        out.data.extend_from_slice(&self.buf[self.at..copied]);
        for &f in &self.raw {
            let (s, e) = out.fields[f];
            let n = decode_in_place(&mut out.data[base + s as usize..base + e as usize], self.quote);
            out.fields[f].1 = s + n as u32;
        }
        self.at = scanned.end;
        if let Some(t) = scanned.term {
            self.line += 1;
            self.after_cr = t == b'\r';
            self.at += 1;
        }
        self.record += 1;
        Ok(Some(pos))
    }

    /// Finds the record that starts at `self.at` (not a line end) in the buffer: its fields'
    /// ranges (from `self.at`) go into `fields`, those that need decoding into `self.raw`.
    /// `None` when it runs past the buffer and the text goes on.
    fn scan(&mut self, fields: &mut Vec<(u32, u32)>) -> Option<Scanned> {
        let buf = &self.buf[..self.filled];
        let n = buf.len();
        let (quote, delimiter, eof, from) = (self.quote, self.delimiter, self.eof, self.at);
        let stops = &self.stops;
        let needles = self.needles;
        let raw_fields = &mut self.raw;
        raw_fields.clear();
        let block = &mut self.block;
        // The fields after which the rest of the record may be passed over, counted down.
        let mut keep = self.keep.unwrap_or(usize::MAX);
        // Offsets from the record's start; the caller bounds a record well below 4 GiB.
        let mut push = |start: usize, end: usize, raw: bool| {
            if raw {
                raw_fields.push(fields.len());
            }
            fields.push(((start - from) as u32, (end - from) as u32));
        };
        let mut lines = 0u64;
        let mut i = from;
        loop {
            // The usual fields first: unquoted ones, found through the stop bits of the 64 bytes
            // from the field's start, one field per bit (no end-of-buffer check: the block lies
            // inside the buffer), as far as the block's first quote. Anything else (a quote, a
            // field running past the block, the last block of the buffer, the field after which
            // the rest may be passed over) goes the general way below.
            while keep > 1 {
                let Some(bytes) = buf.get(i..i + 64) else { break };
                let (stops, quotes) = stop_and_quote_masks(bytes.try_into().expect("64 bytes"), needles, quote);
                // The stops before the first quote (all when there is none).
                let mut m = stops & quotes.wrapping_sub(1) & !quotes;
                let mut start = i;
                while m != 0 && keep > 1 {
                    let end = i + m.trailing_zeros() as usize;
                    m &= m - 1;
                    push(start, end, false);
                    let c = buf[end];
                    if c != delimiter {
                        return Some(Scanned { end, term: Some(c), lines });
                    }
                    lines += u64::from(c == b'\n');
                    start = end + 1;
                    keep -= 1;
                }
                let found = start != i;
                i = start;
                // On with the next block only when this one ended fields and held no quote.
                if !found || quotes != 0 {
                    break;
                }
            }
            let start = i;
            if i < n && buf[i] == quote {
                // A quoted field: to its closing quote; a doubled quote is a quote.
                let mut raw = false;
                i += 1;
                loop {
                    // To the next quote, counting the line ends on the way (an LF, a CR
                    // not followed by one).
                    let Some(k) = memchr::memchr3(quote, b'\n', b'\r', &buf[i..]) else {
                        if !eof {
                            return None;
                        }
                        // Not closed: the field runs to the end of the text.
                        push(if raw { start } else { start + 1 }, n, raw);
                        return Some(Scanned { end: n, term: None, lines });
                    };
                    i += k + 1;
                    match buf[i - 1] {
                        b'\n' => {
                            lines += 1;
                            continue;
                        }
                        b'\r' => {
                            if i == n && !eof {
                                return None;
                            }
                            lines += u64::from(buf.get(i) != Some(&b'\n'));
                            continue;
                        }
                        _ => {}
                    }
                    if i == n && !eof {
                        return None;
                    }
                    if i < n && buf[i] == quote {
                        raw = true;
                        i += 1;
                        continue;
                    }
                    break;
                }
                if i == n || stops[usize::from(buf[i])] {
                    if raw {
                        push(start, i, true);
                    } else {
                        push(start + 1, i - 1, false);
                    }
                } else {
                    // Text after the closing quote belongs to the field, as it is.
                    i = plain_end(buf, i, stops, needles, block);
                    if i == n && !eof {
                        return None;
                    }
                    push(start, i, true);
                }
            } else {
                i = plain_end(buf, i, stops, needles, block);
                if i == n && !eof {
                    return None;
                }
                push(start, i, false);
            }
            if i == n {
                return Some(Scanned { end: n, term: None, lines });
            }
            let c = buf[i];
            if c == delimiter {
                lines += u64::from(c == b'\n');
                i += 1;
                keep -= 1;
                if keep == 0 {
                    // The rest of the record is passed over to its line end.
                    let (end, term) = rest_end(buf, i, quote, delimiter, eof, &mut lines)?;
                    return Some(Scanned { end, term, lines });
                }
                continue;
            }
            return Some(Scanned { end: i, term: Some(c), lines });
        }
    }
}

/// Where the record whose rest starts at `from` (a field's start) ends, passing over its fields
/// without finding them: its line end (CR or LF) or the end of the text, and which (as
/// [`Scanned`]); line ends inside quoted fields are added to `lines`. `None` when the buffer
/// ends first and the text goes on. A quote opens a quoted field only at a field's start
/// (elsewhere it is text, as the `csv` crate reads it); a doubled quote inside one is a quote.
/// Only quotes, CR and LF are looked at, found through their bits in 64-byte blocks.
fn rest_end(
    buf: &[u8],
    from: usize,
    quote: u8,
    delimiter: u8,
    eof: bool,
    lines: &mut u64,
) -> Option<(usize, Option<u8>)> {
    /// What a quote, CR or LF does.
    enum Step {
        Go,
        /// A doubled quote: the next byte (its second quote) is passed over.
        Skip,
        End(usize, Option<u8>),
        /// The buffer ends before it is known.
        More,
    }
    let n = buf.len();
    let mut quoted = false;
    let mut at = |p: usize, quoted: &mut bool| -> Step {
        let b = buf[p];
        if !*quoted {
            if b != quote {
                return Step::End(p, Some(b));
            }
            // A quote inside unquoted text is text.
            *quoted = p == from || buf[p - 1] == delimiter;
            return Step::Go;
        }
        match b {
            b'\n' => *lines += 1,
            // A CR is a line end unless an LF follows (which counts).
            b'\r' => match buf.get(p + 1) {
                None if !eof => return Step::More,
                Some(b'\n') => {}
                _ => *lines += 1,
            },
            _ => {}
        }
        if b != quote {
            return Step::Go;
        }
        match buf.get(p + 1) {
            None if !eof => Step::More,
            Some(&c) if c == quote => Step::Skip,
            _ => {
                *quoted = false;
                Step::Go
            }
        }
    };
    let needles = [quote, b'\r', b'\n'].map(|b| u64::from(b) * LOW_BYTES);
    let mut i = from;
    while let Some(bytes) = buf.get(i..i + 64) {
        let mut m = stop_mask(bytes.try_into().expect("64 bytes"), needles);
        let mut next = i + 64;
        while m != 0 {
            let k = m.trailing_zeros() as usize;
            m &= m - 1;
            match at(i + k, &mut quoted) {
                Step::Go => {}
                Step::Skip if k < 63 => m &= !(1u64 << (k + 1)),
                Step::Skip => next = i + k + 2,
                Step::End(e, t) => return Some((e, t)),
                Step::More => return None,
            }
        }
        i = next;
    }
    // Fewer than 64 bytes left: a byte at a time.
    while i < n {
        let b = buf[i];
        if b == quote || b == b'\r' || b == b'\n' {
            match at(i, &mut quoted) {
                Step::Go => {}
                Step::Skip => i += 1,
                Step::End(e, t) => return Some((e, t)),
                Step::More => return None,
            }
        }
        i += 1;
    }
    eof.then_some((n, None))
}

/// A byte of value 1 in every byte of a word.
const LOW_BYTES: u64 = 0x0101_0101_0101_0101;
/// The low seven bits of every byte of a word.
const LOW_SEVEN: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// Which of 64 bytes from a point of the read buffer end unquoted text (bit `k`: byte
/// `start + k` is the delimiter, CR or LF). A field of ~7 bytes then ends with a shift and a
/// count of trailing zeros instead of a loop whose exit the processor mispredicts.
#[derive(Debug, Clone, Copy)]
struct Block {
    start: usize,
    mask: u64,
    /// 64, or 0 when there is no block yet.
    len: usize,
}

impl Block {
    const NONE: Block = Block { start: 0, mask: 0, len: 0 };

    /// The block of the 64 bytes of `buf` from `i`; `None` when fewer are left.
    #[inline(always)]
    fn at(buf: &[u8], i: usize, needles: [u64; 3]) -> Option<Block> {
        let bytes = buf.get(i..i + 64)?;
        Some(Block { start: i, mask: stop_mask(bytes.try_into().expect("64 bytes"), needles), len: 64 })
    }
}

/// Where the unquoted text from `i` ends: the first delimiter, CR or LF, or the end of `buf`.
/// `block` keeps the stop bytes of the last 64 bytes looked at (valid while `buf` is).
#[inline(always)]
fn plain_end(buf: &[u8], mut i: usize, stops: &[bool; 256], needles: [u64; 3], block: &mut Block) -> usize {
    loop {
        let k = i.wrapping_sub(block.start);
        if k < block.len {
            let m = block.mask >> k;
            if m != 0 {
                return i + m.trailing_zeros() as usize;
            }
            i = block.start + 64;
        }
        let Some(b) = Block::at(buf, i, needles) else { break };
        *block = b;
    }
    while i < buf.len() && !stops[usize::from(buf[i])] {
        i += 1;
    }
    i
}

/// The stop bytes of 64 bytes as bits (see [`Block`]), and the quotes among them as bits.
#[inline(always)]
fn stop_and_quote_masks(bytes: &[u8; 64], needles: [u64; 3], quote: u8) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        masks_sse2(bytes, needles, quote)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let q = u64::from(quote) * LOW_BYTES;
        (stop_mask_words(bytes, needles), stop_mask_words(bytes, [q; 3]))
    }
}

/// The stop bytes of 64 bytes as bits (see [`Block`]): with SSE2 where there is (every x86-64
/// processor), else a word at a time.
#[inline(always)]
fn stop_mask(bytes: &[u8; 64], needles: [u64; 3]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // The quotes' bits, unused, are not computed once this is inlined.
        masks_sse2(bytes, needles, 0).0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        stop_mask_words(bytes, needles)
    }
}

/// The bits of 64 bytes equal to one of `needles` (each a byte repeated in a word), and of
/// those equal to `quote`, with SSE2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks_sse2(bytes: &[u8; 64], needles: [u64; 3], quote: u8) -> (u64, u64) {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    let [d, cr, lf] = needles.map(|n| (n & 0xFF) as u8 as i8);
    let (mut stops, mut quotes) = (0u64, 0u64);
    for (k, sixteen) in bytes.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of every x86-64 processor (the target's baseline), and the load
        // reads the 16 bytes of `sixteen`, unaligned loads allowed.
        let (s, q) = unsafe {
            let v = _mm_loadu_si128(sixteen.as_ptr().cast());
            let hit = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(d)), _mm_cmpeq_epi8(v, _mm_set1_epi8(cr))),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(lf)),
            );
            (_mm_movemask_epi8(hit), _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(quote as i8))))
        };
        stops |= u64::from(s as u16) << (16 * k);
        quotes |= u64::from(q as u16) << (16 * k);
    }
    (stops, quotes)
}

/// [`stop_mask`] a word at a time: a byte equal to a needle is a zero byte of the word xor
/// the needle, found exactly (no borrow between bytes) by adding to the low seven bits.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn stop_mask_words(bytes: &[u8; 64], needles: [u64; 3]) -> u64 {
    let zeros = |x: u64| !(((x & LOW_SEVEN).wrapping_add(LOW_SEVEN)) | x | LOW_SEVEN);
    let mut mask = 0u64;
    for (k, eight) in bytes.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
        // The top bit of every matching byte, gathered into the low eight bits.
        let high = zeros(w ^ needles[0]) | zeros(w ^ needles[1]) | zeros(w ^ needles[2]);
        let bits = ((high >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        mask |= bits << (8 * k);
    }
    mask
}

/// Decodes a quoted field's raw text (from its opening quote) in place: doubled quotes inside
/// the quotes become one, the closing quote goes, text after it stays as it is. Returns the
/// decoded length; the bytes after it become spaces (the record stays UTF-8 where it was).
fn decode_in_place(f: &mut [u8], quote: u8) -> usize {
    let mut w = 0;
    let mut r = 1;
    let mut quoted = true;
    while r < f.len() {
        let b = f[r];
        if quoted && b == quote {
            if r + 1 < f.len() && f[r + 1] == quote {
                f[w] = quote;
                w += 1;
                r += 2;
            } else {
                quoted = false;
                r += 1;
            }
            continue;
        }
        f[w] = b;
        w += 1;
        r += 1;
    }
    for b in &mut f[w..] {
        *b = b' ';
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Records read: their fields, and their positions (line, record, byte).
    type ReadRecords = Vec<(Vec<Vec<u8>>, (u64, u64, u64))>;

    /// The line of the record that the `csv` crate says starts at `byte`: the line ends before
    /// its first byte (past a BOM at the start and the blank lines), plus one. Written apart
    /// from the tokenizer's count: a byte at a time.
    fn line_of(text: &[u8], byte: u64) -> u64 {
        let mut at = byte as usize;
        if at == 0 && text.starts_with(b"\xEF\xBB\xBF") {
            at = 3;
        }
        while at < text.len() && (text[at] == b'\r' || text[at] == b'\n') {
            at += 1;
        }
        let mut lines = 1;
        for (i, &b) in text[..at].iter().enumerate() {
            if b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n')) {
                lines += 1;
            }
        }
        lines
    }

    /// Records and positions as the `csv` crate reads `text` (its records, record counts and
    /// byte offsets; the line of each record's first byte by [`line_of`]).
    fn by_csv(text: &[u8], delimiter: u8) -> ReadRecords {
        let mut r = ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(false)
            .buffer_capacity(7)
            .from_reader(text);
        let mut rec = ::csv::ByteRecord::new();
        let mut out = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            let p = rec.position().unwrap();
            out.push((rec.iter().map(<[u8]>::to_vec).collect(), (line_of(text, p.byte()), p.record(), p.byte())));
        }
        out
    }

    /// Reads in pieces of at most `piece` bytes, so that records straddle buffer ends.
    struct Pieces {
        text: Vec<u8>,
        at: usize,
        piece: usize,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (self.text.len() - self.at).min(self.piece).min(buf.len());
            buf[..n].copy_from_slice(&self.text[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn by_tokenizer(text: &[u8], delimiter: u8, piece: usize) -> ReadRecords {
        by_tokenizer_keeping(text, delimiter, piece, None)
    }

    fn by_tokenizer_keeping(text: &[u8], delimiter: u8, piece: usize, keep: Option<usize>) -> ReadRecords {
        let input = Box::new(Pieces { text: text.to_vec(), at: 0, piece });
        let mut t = Tokenizer::new(input, delimiter, b'"', u64::MAX);
        if let Some(n) = keep {
            t.keep_fields(n);
        }
        let mut store = Records::default();
        let mut out = Vec::new();
        while let Some(p) = t.read_record(&mut store).unwrap() {
            let r = store.get(store.len() - 1);
            out.push((r.iter().map(<[u8]>::to_vec).collect(), (p.line, p.record, p.byte)));
        }
        out
    }

    #[test]
    fn reads_as_the_csv_crate_on_the_usual_shapes() {
        let cases: [&[u8]; 12] = [
            b"a,b\nc,d\n",
            b"a,b\r\nc,d\r\n",
            b"a,b\rc,d",
            b"\n\na,\"b,\nc\"\n\r\n,\n",
            b"\"a\"\"b\",\"\"\nx\"y,z\n",
            b"\"ab\"c,d\n\"open",
            b"\xEF\xBB\xBFa,b\n",
            b"a,b,\n,\n",
            b"\"\"\n\"x\"\r",
            b"",
            b"\r\n\r\n",
            b"a\"b\"c,\"d\"\"\"\n",
        ];
        for text in cases {
            for piece in [1, 2, 3, 1000] {
                assert_eq!(by_tokenizer(text, b',', piece), by_csv(text, b','), "{:?} in pieces of {piece}", text);
            }
        }
    }

    #[test]
    fn a_record_longer_than_the_bound_is_an_error_at_its_start() {
        let text = b"a,b\nc,\"dddddddddddddddddddddddd\n";
        let mut t = Tokenizer::new(Box::new(Pieces { text: text.to_vec(), at: 0, piece: 4 }), b',', b'"', 16);
        let mut store = Records::default();
        assert!(t.read_record(&mut store).unwrap().is_some());
        match t.read_record(&mut store) {
            Err(TokenizeError::TooLong(p)) => assert_eq!((p.line, p.record, p.byte), (2, 1, 4)),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.len(), 1, "the record begun is removed");
    }

    #[test]
    fn a_record_longer_than_the_buffer_is_scanned_again_only_as_the_buffer_doubles() {
        // A 4 MiB field read 1 KiB at a time (as from a pipe or a decoder): the buffer of
        // 256 KiB doubles four times, and the record is scanned once more each time.
        let mut text = b"a,\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', 4 << 20));
        text.extend_from_slice(b"\",b\nc,d\n");
        let mut t = Tokenizer::new(Box::new(Pieces { text, at: 0, piece: 1024 }), b',', b'"', u64::MAX);
        let mut store = Records::default();
        t.read_record(&mut store).unwrap().unwrap();
        assert_eq!((store.get(0).len(), store.get(0)[1].len()), (3, 4 << 20));
        assert_eq!(t.rescans, 5);
        t.read_record(&mut store).unwrap().unwrap();
        assert_eq!(store.get(1).iter().collect::<Vec<_>>(), [&b"c"[..], &b"d"[..]]);
    }

    #[test]
    fn a_decoded_field_leaves_the_record_text_whole() {
        let text = "k,\"caf\u{e9}\"\"\",\"\u{e9}\"x\n".as_bytes();
        let mut t = Tokenizer::new(Box::new(Pieces { text: text.to_vec(), at: 0, piece: 5 }), b',', b'"', u64::MAX);
        let mut store = Records::default();
        t.read_record(&mut store).unwrap().unwrap();
        let r = store.get(0);
        let fields: Vec<&str> = r.iter().map(|f| std::str::from_utf8(f).unwrap()).collect();
        assert_eq!(fields, ["k", "caf\u{e9}\"", "\u{e9}x"]);
        assert!(std::str::from_utf8(r.as_slice()).is_ok(), "{:?}", r.as_slice());
    }

    #[test]
    fn a_store_gives_back_its_records() {
        let mut s = Records::default();
        s.start_record();
        s.push_field(b"ab");
        s.push_field(b"");
        s.push_field(b"c");
        s.start_record();
        s.start_record();
        s.push_field(b"xyz");
        let r = s.get(0);
        assert_eq!((r.len(), r.as_slice(), r.range(1), &r[2]), (3, &b"abc"[..], Some(2..2), &b"c"[..]));
        assert_eq!(s.get(1).len(), 0);
        assert_eq!(s.get(2).iter().collect::<Vec<_>>(), vec![&b"xyz"[..]]);
        s.pop();
        assert_eq!((s.len(), s.bytes()), (2, 3));
    }

    /// A reading that keeps the first `keep` fields finds the records of a whole reading at the
    /// same positions, each with the same first fields, and whole or cut right after them.
    fn keeping_the_first_fields(bytes: &[u8], keep: usize, piece: usize) -> Result<(), TestCaseError> {
        let whole = by_tokenizer(bytes, b',', piece);
        let kept = by_tokenizer_keeping(bytes, b',', piece, Some(keep));
        prop_assert_eq!(kept.len(), whole.len());
        for ((k, kp), (w, wp)) in kept.iter().zip(&whole) {
            prop_assert_eq!(kp, wp);
            prop_assert!(k == w || (k.len() == keep && w.len() > keep && k[..] == w[..keep]), "{:?} of {:?}", k, w);
        }
        Ok(())
    }

    /// Texts of fewer than `max` tokens, each drawn from `tokens` by its weight.
    fn text_of(tokens: &'static [(u32, &'static [u8])], max: usize) -> impl Strategy<Value = Vec<u8>> {
        let token = proptest::strategy::Union::new_weighted(tokens.iter().map(|&(w, t)| (w, Just(t))).collect());
        proptest::collection::vec(token, 0..max).prop_map(|t| t.concat())
    }

    proptest! {
        #[test]
        fn the_stop_bytes_of_64_bytes_are_found_either_way(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b','), Just(b'\r'), Just(b'\n'), Just(b'a'), Just(0x80u8), Just(0xAC), any::<u8>()],
                64,
            ),
            delimiter in prop_oneof![Just(b','), Just(b';'), Just(b'\t'), Just(0xACu8)],
        ) {
            let bytes: [u8; 64] = bytes.try_into().unwrap();
            let needles = [delimiter, b'\r', b'\n'].map(|b| u64::from(b) * LOW_BYTES);
            let expected = bytes
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == delimiter || b == b'\r' || b == b'\n')
                .fold(0u64, |m, (k, _)| m | 1 << k);
            prop_assert_eq!(stop_mask_words(&bytes, needles), expected);
            prop_assert_eq!(stop_mask(&bytes, needles), expected);
        }

        #[test]
        fn reads_as_the_csv_crate_on_any_text(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b','), Just(b';'), Just(b'"'), Just(b'\r'), Just(b'\n'), Just(0xEF), Just(0xBB), Just(0xBF)],
                0..120,
            ),
            semicolon in any::<bool>(),
            piece in 1usize..9,
        ) {
            let d = if semicolon { b';' } else { b',' };
            prop_assert_eq!(by_tokenizer(&bytes, d, piece), by_csv(&bytes, d));
        }

        /// A reading that keeps the first fields finds the same records at the same positions,
        /// each with the same first fields, and whole or cut right after them.
        #[test]
        fn a_reading_keeping_the_first_fields_finds_the_same_records(
            bytes in proptest::collection::vec(
                prop_oneof![4 => Just(b'a'), 3 => Just(b','), 1 => Just(b'"'), 1 => Just(b'\r'), 2 => Just(b'\n')],
                0..160,
            ),
            keep in 1usize..4,
            piece in prop_oneof![Just(1usize), Just(5), Just(100_000)],
        ) {
            keeping_the_first_fields(&bytes, keep, piece)?;
        }

        /// The same on long records (quoted fields and doubled quotes across 64-byte blocks).
        #[test]
        fn a_reading_keeping_the_first_fields_finds_the_same_long_records(
            bytes in text_of(&[(4, b"abcdefghijklmnopqrstu"), (3, b","), (2, b"\""), (1, b"\"\""), (1, b"\r"), (1, b"\n")], 60),
            keep in 1usize..4,
            piece in prop_oneof![Just(1usize), Just(70), Just(100_000)],
        ) {
            keeping_the_first_fields(&bytes, keep, piece)?;
        }

        #[test]
        fn reads_as_the_csv_crate_on_long_fields(
            bytes in text_of(
                &[(4, b"abcdefghijklm"), (4, b"xyz"), (2, b"\xC3\xA9"), (3, b","), (2, b"\""), (1, b"\r"), (2, b"\n")],
                80,
            ),
            piece in prop_oneof![Just(1usize), Just(7), Just(64), Just(100_000)],
        ) {
            prop_assert_eq!(by_tokenizer(&bytes, b',', piece), by_csv(&bytes, b','));
        }
    }
}
