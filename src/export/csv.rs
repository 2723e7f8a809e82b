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
    rows: Rows,
    scratch: Scratch,
    /// The columns whose text cells are made safe for spreadsheets (see [`CsvPart::guarding`]).
    guard: Option<std::sync::Arc<[bool]>>,
    /// A guarded cell with its `'`.
    guarded: Vec<u8>,
}

/// Whether a spreadsheet would take a cell that starts with `first` for a formula (OWASP's
/// list: `=`, `+`, `-`, `@`, tab, CR).
fn formula_like(first: Option<&u8>) -> bool {
    matches!(first, Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// Rows formatted as the `csv` crate writes them with its defaults (`,` and `"`, a field quoted
/// only when it holds `,` `"` CR or LF, quotes doubled; a row of one empty field as `""`), into
/// one buffer with no writer in between.
struct Rows {
    out: Vec<u8>,
    utf16: bool,
    /// Fields written in the row so far.
    in_row: usize,
    /// Where the row's last field starts in `out`.
    field_at: usize,
}

/// The bytes that make a field quoted.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

impl Rows {
    /// Writes one field of the current row.
    fn field(&mut self, field: &[u8]) {
        if self.in_row > 0 {
            self.out.push(b',');
        }
        self.in_row += 1;
        self.field_at = self.out.len();
        if !field.iter().any(|&b| SPECIAL[usize::from(b)]) {
            self.out.extend_from_slice(field);
            return;
        }
        self.out.push(b'"');
        for part in field.split_inclusive(|&b| b == b'"') {
            self.out.extend_from_slice(part);
            if part.last() == Some(&b'"') {
                self.out.push(b'"');
            }
        }
        self.out.push(b'"');
    }

    /// Ends the current row.
    fn end_row(&mut self) {
        // A row of one empty field would read back as no field at all.
        if self.in_row == 1 && self.field_at == self.out.len() {
            self.out.extend_from_slice(b"\"\"");
        }
        self.out.extend_from_slice(if self.utf16 { b"\r\n" } else { b"\n" });
        self.in_row = 0;
    }
}

impl CsvPart {
    /// An empty part; `utf16` for D365's CSV-Unicode (then rows end in CRLF).
    pub fn new(utf16: bool, capacity: usize) -> CsvPart {
        let rows = Rows { out: Vec::with_capacity(capacity), utf16, in_row: 0, field_at: 0 };
        CsvPart { rows, scratch: Scratch::new(), guard: None, guarded: Vec::new() }
    }

    /// Makes the text cells of the columns flagged in `guard` safe for spreadsheets: one that
    /// starts like a formula gets a `'` in front (then quoted as any field is when it needs it).
    pub fn guarding(mut self, guard: Option<std::sync::Arc<[bool]>>) -> CsvPart {
        self.guard = guard;
        self
    }

    /// The part's bytes, in the file's encoding.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        if !self.rows.utf16 {
            return Ok(self.rows.out);
        }
        // Every field came in as text, so the bytes are UTF-8.
        let text = String::from_utf8(self.rows.out).map_err(|e| e.to_string())?;
        Ok(crate::read::csv::encode_text(&text, Some(encoding_rs::UTF_16LE)))
    }
}

impl Sink for CsvPart {
    fn value(&mut self, k: usize, v: &Value<'_>) -> Result<(), String> {
        match v {
            // Digits, sign and point: formatted on the stack, never quoted.
            Value::Dec(d) => self.rows.field(crate::model::decimal_text(*d).as_bytes()),
            v => {
                let text = v.text(&mut self.scratch).unwrap_or("").as_bytes();
                let guarded = self.guard.as_ref().is_some_and(|g| g.get(k) == Some(&true));
                if guarded && formula_like(text.first()) {
                    self.guarded.clear();
                    self.guarded.push(b'\'');
                    self.guarded.extend_from_slice(text);
                    self.rows.field(&self.guarded);
                } else {
                    self.rows.field(text);
                }
            }
        }
        Ok(())
    }

    fn end_row(&mut self) -> Result<(), String> {
        self.rows.end_row();
        Ok(())
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
        for f in &entity.fields {
            header.rows.field(f.staging.as_bytes());
        }
        header.rows.end_row();
        if utf16 {
            out.write_all(crate::read::csv::bom_of(Some(encoding_rs::UTF_16LE))).map_err(|e| e.to_string())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Our rows against the `csv` crate's writer on the fields that need care.
    #[test]
    fn rows_are_written_as_the_csv_crate_writes_them() {
        let rows: Vec<Vec<&str>> = vec![
            vec!["a", "b,c", "say \"hi\"", "", "line\nbreak", "cr\rhere", "\"", "ü ñ", " lead"],
            vec![""],
            vec!["", ""],
            vec!["only"],
            vec!["\"\"", ",", "x\r\ny"],
        ];
        for utf16 in [false, true] {
            let mut ours = CsvPart::new(utf16, 16);
            let mut builder = csv::WriterBuilder::new();
            builder.flexible(true);
            if utf16 {
                builder.terminator(csv::Terminator::CRLF);
            }
            let mut theirs = builder.from_writer(Vec::new());
            for row in &rows {
                for f in row {
                    ours.rows.field(f.as_bytes());
                }
                ours.rows.end_row();
                theirs.write_record(row).unwrap();
            }
            let theirs = theirs.into_inner().unwrap();
            assert_eq!(String::from_utf8_lossy(&ours.rows.out), String::from_utf8_lossy(&theirs), "utf16 {utf16}");
        }
    }
}
