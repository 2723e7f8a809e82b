//! CSV exports: DMF upper-case column names, `.` decimals, ISO dates; UTF-8, or D365's
//! CSV-Unicode (UTF-16 LE with BOM, CRLF) for files meant to go back into D365. Rows are
//! formatted in parts ([`CsvPart`], on any thread) that [`CsvFile`] writes in order.

use std::fs::File;
use std::io::{BufWriter, Write};

use crate::entity::Entity;

use super::value::{Scratch, Value};
use super::Sink;

/// The rows of one part of a CSV file, formatted.
pub struct CsvPart {
    writer: csv::Writer<Vec<u8>>,
    utf16: bool,
    scratch: Scratch,
}

impl CsvPart {
    /// An empty part; `utf16` for D365's CSV-Unicode (then rows end in CRLF).
    pub fn new(utf16: bool, capacity: usize) -> CsvPart {
        let mut builder = csv::WriterBuilder::new();
        if utf16 {
            builder.terminator(csv::Terminator::CRLF);
        }
        CsvPart { writer: builder.from_writer(Vec::with_capacity(capacity)), utf16, scratch: Scratch::new() }
    }

    /// The part's bytes, in the file's encoding.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        let utf8 = self.writer.into_inner().map_err(|e| e.to_string())?;
        if !self.utf16 {
            return Ok(utf8);
        }
        // Every field came in as text, so the bytes are UTF-8.
        let text = String::from_utf8(utf8).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(text.len() * 2);
        for u in text.encode_utf16() {
            out.extend_from_slice(&u.to_le_bytes());
        }
        Ok(out)
    }
}

impl Sink for CsvPart {
    fn value(&mut self, _k: usize, v: &Value<'_>) -> Result<(), String> {
        let field = v.text(&mut self.scratch).unwrap_or("").as_bytes();
        self.writer.write_field(field).map_err(|e| e.to_string())
    }

    fn end_row(&mut self) -> Result<(), String> {
        self.writer.write_record(None::<&[u8]>).map_err(|e| e.to_string())
    }
}

/// A CSV export file: the header (after a BOM in UTF-16), then the parts in the order given.
pub struct CsvFile {
    out: BufWriter<File>,
}

impl CsvFile {
    /// Starts the file of `entity` with its header.
    pub fn new(file: File, entity: &Entity, utf16: bool) -> Result<CsvFile, String> {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut header = CsvPart::new(utf16, 1024);
        header.writer.write_record(entity.fields.iter().map(|f| f.staging.as_bytes())).map_err(|e| e.to_string())?;
        if utf16 {
            out.write_all(&[0xFF, 0xFE]).map_err(|e| e.to_string())?;
        }
        out.write_all(&header.finish()?).map_err(|e| e.to_string())?;
        Ok(CsvFile { out })
    }

    /// Writes a part.
    pub fn write(&mut self, part: &[u8]) -> Result<(), String> {
        self.out.write_all(part).map_err(|e| e.to_string())
    }

    /// Writes what is buffered and hands the file back, unsynced.
    pub fn finish(self) -> Result<File, String> {
        self.out.into_inner().map_err(|e| e.to_string())
    }
}
