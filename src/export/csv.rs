//! CSV exports: DMF upper-case column names, `.` decimals, ISO dates; UTF-8, or D365's
//! CSV-Unicode (UTF-16 LE with BOM, CRLF) for files meant to go back into D365.

use std::fs::File;
use std::io::{BufWriter, Write};

use crate::entity::Entity;

use super::value::{Scratch, Value};
use super::Sink;

/// Writes UTF-16 LE, transcoding the UTF-8 the CSV writer produces.
struct Utf16Le<W: Write>(W);

impl<W: Write> Write for Utf16Le<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The CSV writer hands over whole records or fields, always valid UTF-8.
        let text = std::str::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut out = Vec::with_capacity(buf.len() * 2);
        for u in text.encode_utf16() {
            out.extend_from_slice(&u.to_le_bytes());
        }
        self.0.write_all(&out)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

enum Writer {
    Utf8(csv::Writer<BufWriter<File>>),
    Utf16(csv::Writer<Utf16Le<BufWriter<File>>>),
}

/// A CSV export being written.
pub struct CsvSink {
    writer: Writer,
    header: Option<Vec<String>>,
    scratch: Scratch,
}

impl CsvSink {
    /// Starts a CSV file for `entity`.
    pub fn new(file: File, entity: &Entity, dmf_unicode: bool) -> CsvSink {
        let header = entity.fields.iter().map(|f| f.staging.clone()).collect();
        let buf = BufWriter::with_capacity(1 << 20, file);
        let writer = if dmf_unicode {
            let mut inner = buf;
            // A BOM first; the writer's errors surface on the first record.
            let _ = inner.write_all(&[0xFF, 0xFE]);
            Writer::Utf16(
                csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .buffer_capacity(1 << 16)
                    .from_writer(Utf16Le(inner)),
            )
        } else {
            Writer::Utf8(csv::WriterBuilder::new().buffer_capacity(1 << 16).from_writer(buf))
        };
        CsvSink { writer, header: Some(header), scratch: [0; 64] }
    }

    fn write<I, T>(&mut self, record: I) -> Result<(), String>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        match &mut self.writer {
            Writer::Utf8(w) => w.write_record(record),
            Writer::Utf16(w) => w.write_record(record),
        }
        .map_err(|e| e.to_string())
    }
}

impl Sink for CsvSink {
    fn value(&mut self, _k: usize, v: &Value<'_>) -> Result<(), String> {
        if let Some(h) = self.header.take() {
            self.write(&h)?;
        }
        let field = v.text(&mut self.scratch).unwrap_or("").as_bytes();
        match &mut self.writer {
            Writer::Utf8(w) => w.write_field(field),
            Writer::Utf16(w) => w.write_field(field),
        }
        .map_err(|e| e.to_string())
    }

    fn end_row(&mut self) -> Result<(), String> {
        self.write(None::<&[u8]>)
    }

    fn finish(mut self) -> Result<File, String> {
        if let Some(h) = self.header.take() {
            self.write(&h)?;
        }
        let file = match self.writer {
            Writer::Utf8(w) => w.into_inner().map_err(|e| e.to_string())?.into_inner().map_err(|e| e.to_string())?,
            Writer::Utf16(w) => w.into_inner().map_err(|e| e.to_string())?.0.into_inner().map_err(|e| e.to_string())?,
        };
        Ok(file)
    }
}
