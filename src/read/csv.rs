//! Delimited text: any delimiter (`,` `;` tab `|`, or sniffed from the header), RFC 4180
//! quotes with embedded delimiters and newlines, CRLF or LF, UTF-8 with or without BOM,
//! UTF-16 LE/BE with BOM (D365's CSV-Unicode) and Windows-1252 for legacy files.
//!
//! UTF-8 input is passed through undecoded: a field that is not valid UTF-8 is a data problem
//! of that row (found when the field is converted), not a reason to stop the file.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use encoding_rs_io::DecodeReaderBytesBuilder;

use super::records::{Records, TokenizeError, Tokenizer};
use super::{RawBatch, ReadError, Record, RecordSource};

/// Text encodings a CSV file may be declared to have (a BOM always wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8 unless a BOM says UTF-16.
    #[default]
    #[serde(rename = "utf-8", alias = "utf8")]
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// Windows-1252 (Western European legacy exports) unless a BOM says otherwise.
    #[serde(rename = "windows-1252", alias = "cp1252", alias = "latin1", alias = "iso-8859-1")]
    #[value(name = "windows-1252", alias = "cp1252", alias = "latin1", alias = "iso-8859-1")]
    Windows1252,
    /// UTF-16 little endian (with or without BOM).
    #[serde(rename = "utf-16le")]
    #[value(name = "utf-16le")]
    Utf16le,
    /// UTF-16 big endian (with or without BOM).
    #[serde(rename = "utf-16be")]
    #[value(name = "utf-16be")]
    Utf16be,
}

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Field delimiter; sniffed from the header row when `None`.
    pub delimiter: Option<u8>,
    /// Quote character.
    pub quote: u8,
    /// Declared encoding.
    pub encoding: Encoding,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { delimiter: None, quote: b'"', encoding: Encoding::Utf8 }
    }
}

/// A reader that counts the bytes it hands out (for progress bars).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// How a CSV file is written, as read: to write rows back the same way (rejects files a team
/// corrects and feeds back through the same mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// Field delimiter.
    pub delimiter: u8,
    /// The encoding of its text (`None`: UTF-8).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// Whether it starts with a byte order mark.
    pub bom: bool,
    /// How its lines end: `\r\n`, `\r` or `\n`.
    pub line_end: &'static [u8],
}

/// `text` written in `encoding` (UTF-8 when `None`): UTF-16 as its code units (`encoding_rs`
/// encodes UTF-16 as UTF-8, as the web does); in a single-byte encoding, a character it lacks
/// as a numeric reference (`&#8364;`).
pub fn encode_text(text: &str, encoding: Option<&'static encoding_rs::Encoding>) -> Vec<u8> {
    match encoding {
        None => text.as_bytes().to_vec(),
        Some(e) if e == encoding_rs::UTF_16LE => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Some(e) if e == encoding_rs::UTF_16BE => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Some(e) => e.encode(text).0.into_owned(),
    }
}

/// The byte order mark of `encoding` (UTF-8 when `None`).
pub fn bom_of(encoding: Option<&'static encoding_rs::Encoding>) -> &'static [u8] {
    match encoding {
        Some(e) if e == encoding_rs::UTF_16LE => &[0xFF, 0xFE],
        Some(e) if e == encoding_rs::UTF_16BE => &[0xFE, 0xFF],
        _ => &[0xEF, 0xBB, 0xBF],
    }
}

/// The longest record a CSV file may have (64 MiB): a longer one is an unclosed quote or a
/// file without line breaks, and reading it whole would exhaust memory.
pub const MAX_RECORD_BYTES: u64 = 64 << 20;

/// A CSV file opened for reading.
pub struct CsvSource {
    path: PathBuf,
    reader: Tokenizer,
    columns: Vec<String>,
    count: Arc<AtomicU64>,
    total: u64,
    encoding: &'static str,
    /// UTF-8 read as it is (no decoding): byte positions of records are file offsets less
    /// the BOM.
    undecoded: bool,
    /// Bytes of the BOM skipped.
    bom: u64,
    delimiter: u8,
    quote: u8,
    /// How the file is written.
    dialect: Dialect,
}

/// Files smaller than this (64 MiB; `INVOICEFLOW_SPLIT_BYTES` sets another size, for tests)
/// are not read from two points.
fn split_bytes() -> u64 {
    std::env::var("INVOICEFLOW_SPLIT_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(64 << 20)
}

/// A second point to read an undecoded UTF-8 CSV file from: just after the first line break
/// at or past its middle. A record starts there only if the line break does not lie inside a
/// quoted field, which only a reading from the start can tell: [`Split::meets`] says so for
/// each record that reading meets near the point, and [`Split::records`] reads from it.
#[derive(Debug, Clone)]
pub struct Split {
    path: PathBuf,
    /// File offset of the point.
    pub at: u64,
    /// The bytes before the point (up to [`Split::WINDOW`]).
    before: Vec<u8>,
    bom: u64,
    delimiter: u8,
    quote: u8,
    /// Fields a record keeps (see [`Tokenizer::keep_fields`]).
    pub keep: Option<usize>,
}

/// Where a record read from the start lies against the split point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meets {
    /// Well before it.
    Before,
    /// It is the first record at the point: only line breaks lie between its start and the
    /// point, so a reading from the point starts with it.
    Aligned,
    /// Past it: the point lies inside a record (a quoted field with line breaks), and a
    /// reading from it is wrong.
    Past,
}

impl Split {
    /// Bytes before the point that are checked for line breaks.
    pub const WINDOW: u64 = 256;

    /// Where the record that starts at byte `start` of the text (its position as the CSV
    /// reader reports it) lies against the point.
    pub fn meets(&self, start: u64) -> Meets {
        let at = start + self.bom;
        if at > self.at {
            return Meets::Past;
        }
        let gap = self.at - at;
        if gap > self.before.len() as u64 {
            return Meets::Before;
        }
        let tail = &self.before[self.before.len() - gap as usize..];
        if tail.iter().all(|&b| b == b'\n' || b == b'\r') {
            Meets::Aligned
        } else {
            Meets::Before
        }
    }

    /// Reads the records from the point to the end of the file and hands each to `f` (blank
    /// lines are no records, as in [`CsvSource`]) until it returns false. `Ok(true)`: the end
    /// of the file was reached. An error (a record longer than [`MAX_RECORD_BYTES`], which a
    /// point inside a quoted field can make) means only that this reading is of no use.
    pub fn records(&self, mut f: impl FnMut(Record<'_>) -> bool) -> io::Result<bool> {
        use std::io::{Seek, SeekFrom};
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.at))?;
        let mut reader = Tokenizer::new(Box::new(file), self.delimiter, self.quote, MAX_RECORD_BYTES);
        if let Some(n) = self.keep {
            reader.keep_fields(n);
        }
        let mut store = Records::default();
        loop {
            store.clear();
            match reader.read_record(&mut store) {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(true),
                Err(TokenizeError::Io(e)) => return Err(e),
                Err(TokenizeError::TooLong(_)) => return Err(io::Error::other("a record is too long")),
            }
            let rec = store.get(0);
            if is_blank(rec) {
                continue;
            }
            if !f(rec) {
                return Ok(false);
            }
        }
    }
}

impl CsvSource {
    /// Opens `path`, detects the encoding and delimiter, and reads the header row.
    pub fn open(path: &Path, options: &CsvOptions) -> Result<CsvSource, ReadError> {
        let io_err = |source| ReadError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io_err)?;
        let total = file.metadata().map(|m| m.len()).unwrap_or(0);
        let count = Arc::new(AtomicU64::new(0));
        let mut raw = BufReader::with_capacity(1 << 16, Counting { inner: file, count: Arc::clone(&count) });
        let mut head = [0u8; 4];
        let n = read_up_to(&mut raw, &mut head).map_err(io_err)?;
        let head = &head[..n];
        let (encoding, skip): (Option<&'static encoding_rs::Encoding>, usize) = if head.starts_with(&[0xEF, 0xBB, 0xBF])
        {
            (None, 3)
        } else if head.starts_with(&[0xFF, 0xFE]) {
            (Some(encoding_rs::UTF_16LE), 0)
        } else if head.starts_with(&[0xFE, 0xFF]) {
            (Some(encoding_rs::UTF_16BE), 0)
        } else {
            match options.encoding {
                Encoding::Utf8 => (None, 0),
                Encoding::Windows1252 => (Some(encoding_rs::WINDOWS_1252), 0),
                Encoding::Utf16le => (Some(encoding_rs::UTF_16LE), 0),
                Encoding::Utf16be => (Some(encoding_rs::UTF_16BE), 0),
            }
        };
        let label = match (encoding, skip) {
            (None, 3) => "UTF-8 (BOM)",
            (None, _) => "UTF-8",
            (Some(e), _) if e == encoding_rs::UTF_16LE => "UTF-16LE",
            (Some(e), _) if e == encoding_rs::UTF_16BE => "UTF-16BE",
            (Some(_), _) => "Windows-1252",
        };
        let prefix = io::Cursor::new(head[skip..].to_vec());
        let chained = prefix.chain(raw);
        let mut text: Box<dyn Read + Send> = match encoding {
            None => Box::new(chained),
            Some(enc) => Box::new(
                DecodeReaderBytesBuilder::new().encoding(Some(enc)).bom_sniffing(true).strip_bom(true).build(chained),
            ),
        };
        let delimiter = match options.delimiter {
            Some(d) => d,
            None => {
                // Sniff from the first line, then hand the bytes back to the CSV reader.
                let (line, rest) = first_line(&mut text).map_err(io_err)?;
                let d = sniff_delimiter(&line, options.quote);
                text = Box::new(io::Cursor::new(line).chain(io::Cursor::new(rest)).chain(text));
                d
            }
        };
        let mut reader = Tokenizer::new(text, delimiter, options.quote, MAX_RECORD_BYTES);
        let mut header = Records::default();
        let got = reader.read_record(&mut header).map_err(|e| csv_error(path, e))?;
        if got.is_none() || is_blank(header.get(0)) {
            return Err(ReadError::Empty { path: path.to_path_buf() });
        }
        let columns = header.get(0).iter().map(|c| String::from_utf8_lossy(c).trim().to_string()).collect();
        let dialect = Dialect {
            delimiter,
            encoding,
            bom: skip > 0 || matches!(head, [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..]),
            line_end: reader.line_end(),
        };
        Ok(CsvSource {
            dialect,
            path: path.to_path_buf(),
            reader,
            columns,
            count,
            total,
            encoding: label,
            undecoded: encoding.is_none(),
            bom: skip as u64,
            delimiter,
            quote: options.quote,
        })
    }

    /// The split point of this file, when it has at least `min_bytes` and is read undecoded.
    fn split_point(&self, min_bytes: u64) -> Option<Split> {
        use std::io::{Seek, SeekFrom};
        if !self.undecoded || self.total < min_bytes.max(2 * Split::WINDOW) {
            return None;
        }
        // The first line break at or past the middle (within 1 MiB; else no split).
        let mut file = File::open(&self.path).ok()?;
        let middle = self.total / 2;
        file.seek(SeekFrom::Start(middle - Split::WINDOW)).ok()?;
        let mut buf = Vec::with_capacity(1 << 20);
        file.take(1 << 20).read_to_end(&mut buf).ok()?;
        let from = Split::WINDOW as usize;
        let nl = buf.get(from..)?.iter().position(|&b| b == b'\n')? + from;
        let at = middle - Split::WINDOW + nl as u64 + 1;
        if at >= self.total {
            return None;
        }
        let before = buf[nl + 1 - Split::WINDOW as usize..=nl].to_vec();
        Some(Split {
            path: self.path.clone(),
            at,
            before,
            bom: self.bom,
            delimiter: self.delimiter,
            quote: self.quote,
            keep: None,
        })
    }
}

/// A blank line reads as one empty field: it is no record (nor is a line of `""`, one quoted
/// empty field, as the csv crate's reader had it).
fn is_blank(rec: Record<'_>) -> bool {
    rec.len() == 1 && rec[0].is_empty()
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reads up to and including the first line break (or 64 KiB); returns it and any bytes
/// read past it.
fn first_line(r: &mut dyn Read) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = r.read(&mut chunk)?;
        if n == 0 {
            return Ok((buf, Vec::new()));
        }
        let start = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf[start..].iter().position(|&b| b == b'\n') {
            let rest = buf.split_off(start + p + 1);
            return Ok((buf, rest));
        }
        if buf.len() > 1 << 16 {
            return Ok((buf, Vec::new()));
        }
    }
}

/// The candidate delimiter that occurs most often outside quotes in the header line;
/// `,` when none occurs.
pub fn sniff_delimiter(line: &[u8], quote: u8) -> u8 {
    let mut counts = [0usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut in_quotes = false;
    for &b in line {
        if b == quote {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            if let Some(i) = candidates.iter().position(|&c| c == b) {
                counts[i] += 1;
            }
        }
    }
    let (best, n) = counts.iter().enumerate().max_by_key(|(i, n)| (**n, usize::MAX - i)).unwrap_or((0, &0));
    if *n == 0 {
        b','
    } else {
        candidates[best]
    }
}

/// The error of a CSV read.
fn csv_error(path: &Path, e: TokenizeError) -> ReadError {
    match e {
        TokenizeError::TooLong(start) => ReadError::Csv {
            path: path.to_path_buf(),
            line: start.line,
            message: format!(
                "the record that starts here is longer than {} MiB: a quote that is never closed, or a file without line breaks (check the delimiter and the quoting)",
                MAX_RECORD_BYTES >> 20
            ),
        },
        TokenizeError::Io(io) => {
            ReadError::Io { path: path.to_path_buf(), source: io::Error::new(io.kind(), io.to_string()) }
        }
    }
}

impl RecordSource for CsvSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_batch(&mut self, batch: &mut RawBatch, max: usize) -> Result<bool, ReadError> {
        batch.reset();
        while batch.len() < max {
            let Some(pos) = self.reader.read_record(&mut batch.records).map_err(|e| csv_error(&self.path, e))? else {
                break;
            };
            if is_blank(batch.records.get(batch.records.len() - 1)) {
                batch.records.pop();
                continue;
            }
            batch.positions.push(pos);
        }
        Ok(!batch.is_empty())
    }

    fn bytes_read(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn total_bytes(&self) -> u64 {
        self.total
    }

    fn encoding(&self) -> &'static str {
        self.encoding
    }

    fn dialect(&self) -> Option<Dialect> {
        Some(self.dialect)
    }

    fn split(&self) -> Option<Split> {
        self.split_point(split_bytes())
    }

    fn keep_fields(&mut self, n: usize) {
        self.reader.keep_fields(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys (first fields) of a file read from the start, and as the scan of the line keys
    /// reads it with a split point: from the start until a record meets the point, then from
    /// the point; `None` for the second when the point lies inside a record.
    fn read_both_ways(text: &[u8]) -> (Vec<String>, Option<Vec<String>>, Split) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.csv");
        std::fs::write(&path, text).unwrap();
        let mut src = CsvSource::open(&path, &CsvOptions::default()).unwrap();
        let split = src.split_point(1).expect("a split point");
        let key = |r: Record<'_>| String::from_utf8_lossy(&r[0]).into_owned();
        let (mut whole, mut joined, mut watching, mut past) = (Vec::new(), Vec::new(), true, false);
        let mut batch = RawBatch::default();
        while src.next_batch(&mut batch, 3).unwrap() {
            for (i, p) in batch.positions.iter().enumerate() {
                let r = batch.record(i);
                match (watching, split.meets(p.byte)) {
                    (true, Meets::Aligned) => watching = false,
                    (true, Meets::Past) => past = true,
                    _ if watching => joined.push(key(r)),
                    _ => {}
                }
                whole.push(key(r));
            }
        }
        let mut second = Vec::new();
        assert!(split
            .records(|r| {
                second.push(key(r));
                true
            })
            .unwrap());
        joined.extend(second);
        (whole, (!past).then_some(joined), split)
    }

    #[test]
    fn a_file_read_from_two_points_gives_the_records_of_one_reading() {
        // 600 records, LF and CRLF, with blank lines and quoted line breaks away from the middle.
        for eol in ["\n", "\r\n"] {
            let mut text = format!("Key,Text{eol}");
            for i in 0..600 {
                let t = if i % 50 == 7 { format!("\"two{eol}lines, quoted\"") } else { format!("t{i}") };
                text.push_str(&format!("k{i:04},{t}{eol}"));
                if i % 97 == 0 {
                    text.push_str(eol);
                }
            }
            let (whole, joined, split) = read_both_ways(text.as_bytes());
            assert_eq!(whole.len(), 600);
            assert!(split.at > 3000 && split.at < text.len() as u64, "{}", split.at);
            assert_eq!(joined.as_ref(), Some(&whole), "{eol:?}");
        }
    }

    #[test]
    fn a_split_point_inside_a_quoted_field_is_found_out() {
        // The middle of the file is inside one long quoted field full of line breaks.
        let mut text = String::from("Key,Text\n");
        for i in 0..100 {
            text.push_str(&format!("k{i:03},t{i}\n"));
        }
        text.push_str("k100,\"");
        for i in 0..200 {
            text.push_str(&format!("quoted line {i}\n"));
        }
        text.push_str("end\"\n");
        for i in 101..200 {
            text.push_str(&format!("k{i:03},t{i}\n"));
        }
        let (whole, joined, split) = read_both_ways(text.as_bytes());
        assert_eq!(whole.len(), 200);
        assert_eq!(joined, None, "the point {} was taken for a record start", split.at);
    }

    #[test]
    fn a_line_of_one_quoted_empty_field_is_no_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.csv");
        std::fs::write(&path, "Key,Text\nk1,a\n\"\"\n\nk2,b\n").unwrap();
        let mut src = CsvSource::open(&path, &CsvOptions::default()).unwrap();
        let mut batch = RawBatch::default();
        assert!(src.next_batch(&mut batch, 10).unwrap());
        let keys: Vec<(Vec<u8>, u64)> = batch.iter().map(|(r, (line, _))| (r[0].to_vec(), line)).collect();
        // k2 is on line 5, after the blank line 4.
        assert_eq!(keys, [(b"k1".to_vec(), 2), (b"k2".to_vec(), 5)]);
    }

    #[test]
    fn sniffs_the_delimiter_outside_quotes() {
        assert_eq!(sniff_delimiter(b"a;b;c\n", b'"'), b';');
        assert_eq!(sniff_delimiter(b"\"a,b\";c\n", b'"'), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n", b'"'), b'\t');
        assert_eq!(sniff_delimiter(b"a|b|c,d\n", b'"'), b'|');
        assert_eq!(sniff_delimiter(b"abc\n", b'"'), b',');
    }
}
