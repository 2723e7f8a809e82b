//! Invoice bodies: the lines, VAT breakdown and ledger entries of one invoice, each kept as one
//! compact blob in the invoice's `invoice_body` row instead of a row per line. A store of a
//! million lines then writes ~100k rows, not ~2.5M, and an export reads an invoice's lines in
//! one fetch.
//!
//! A blob is a table of typed cells, row after row, with a fixed column list per kind
//! ([`LINE`], [`TAX`], [`LEDGER`]): a leading byte says the layout version, then the number of
//! rows; each cell is a tag and its payload:
//!
//! | tag | cell | payload |
//! |---|---|---|
//! | 0 | null | — |
//! | 1 | integer | zigzag LEB128 |
//! | 2 | decimal | one byte: scale (bits 0–4) and sign (bit 7); the mantissa's magnitude, LEB128 |
//! | 3 | text | length (LEB128), UTF-8 bytes |
//! | 4 | fields without a role | their number, then per field its index in the entity and its text |
//!
//! Decimals keep their scale and sign, so a decimal reads back as the same text it was written
//! from (`1.50` stays `1.50`, `-0.00` stays `-0.00`). Columns a whole invoice shares (its id,
//! version, voucher, currency, date) live once in the invoice row; readers put them back into
//! each row they hand out, under the column names of the row tables these blobs replaced.

use rust_decimal::Decimal;

/// The type of a body column (what its cells hold when not null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer.
    Int,
    /// An exact decimal.
    Dec,
    /// Text.
    Text,
}

/// The stored columns of a line.
pub const LINE: &[(&str, Kind)] = &[
    ("line_number", Kind::Dec),
    ("quantity", Kind::Dec),
    ("unit_price", Kind::Dec),
    ("price_unit", Kind::Dec),
    ("discount_per_unit", Kind::Dec),
    ("discount_percent", Kind::Dec),
    ("discount_amount", Kind::Dec),
    ("charge_amount", Kind::Dec),
    ("net_amount", Kind::Dec),
    ("tax_code", Kind::Text),
    ("tax_category", Kind::Text),
    ("tax_rate", Kind::Dec),
    ("tax_amount", Kind::Dec),
    ("allowance_amount", Kind::Dec),
    ("tax_group", Kind::Text),
    ("item_tax_group", Kind::Text),
    ("item_id", Kind::Text),
    ("item_name", Kind::Text),
    ("description", Kind::Text),
    ("unit", Kind::Text),
    ("main_account", Kind::Text),
    ("distribution", Kind::Text),
    ("extras", Kind::Text),
];

/// The stored columns of a VAT breakdown row.
pub const TAX: &[(&str, Kind)] = &[
    ("category", Kind::Text),
    ("rate", Kind::Dec),
    ("tax_code", Kind::Text),
    ("lines", Kind::Dec),
    ("allowance", Kind::Dec),
    ("charge", Kind::Dec),
    ("base", Kind::Dec),
    ("amount", Kind::Dec),
    ("exemption_code", Kind::Text),
    ("exemption_reason", Kind::Text),
];

/// The stored columns of a ledger entry (its voucher, legal entity, date and currencies are
/// the invoice's).
pub const LEDGER: &[(&str, Kind)] = &[
    ("account", Kind::Text),
    ("posting_type", Kind::Text),
    ("amount", Kind::Dec),
    ("amount_acc", Kind::Dec),
    ("is_credit", Kind::Int),
    ("tax_code", Kind::Text),
    ("line_number", Kind::Dec),
];

/// The position of column `name` among `kinds`; a name that is not there stops the build.
const fn position(kinds: &[(&str, Kind)], name: &str) -> usize {
    let name = name.as_bytes();
    let mut i = 0;
    'columns: while i < kinds.len() {
        let candidate = kinds[i].0.as_bytes();
        if candidate.len() == name.len() {
            let mut k = 0;
            while k < name.len() {
                if candidate[k] != name[k] {
                    i += 1;
                    continue 'columns;
                }
                k += 1;
            }
            return i;
        }
        i += 1;
    }
    panic!("no such body column")
}

/// Positions of the columns of a line blob that readers take by position (found by name in
/// the blob's column list when the program is built).
#[allow(missing_docs)]
pub mod line_col {
    use super::{position, LINE};
    pub const LINE_NUMBER: usize = position(LINE, "line_number");
    pub const QUANTITY: usize = position(LINE, "quantity");
    pub const UNIT_PRICE: usize = position(LINE, "unit_price");
    pub const PRICE_UNIT: usize = position(LINE, "price_unit");
    pub const DISCOUNT_PER_UNIT: usize = position(LINE, "discount_per_unit");
    pub const DISCOUNT_PERCENT: usize = position(LINE, "discount_percent");
    pub const DISCOUNT_AMOUNT: usize = position(LINE, "discount_amount");
    pub const CHARGE_AMOUNT: usize = position(LINE, "charge_amount");
    pub const NET_AMOUNT: usize = position(LINE, "net_amount");
    pub const TAX_CATEGORY: usize = position(LINE, "tax_category");
    pub const TAX_RATE: usize = position(LINE, "tax_rate");
    pub const ALLOWANCE_AMOUNT: usize = position(LINE, "allowance_amount");
    pub const ITEM_ID: usize = position(LINE, "item_id");
    pub const ITEM_NAME: usize = position(LINE, "item_name");
    pub const DESCRIPTION: usize = position(LINE, "description");
    pub const UNIT: usize = position(LINE, "unit");
    pub const EXTRAS: usize = position(LINE, "extras");
}

/// Positions of the columns of a VAT breakdown blob that readers take by position (found by
/// name when the program is built).
#[allow(missing_docs)]
pub mod tax_col {
    use super::{position, TAX};
    pub const CATEGORY: usize = position(TAX, "category");
    pub const RATE: usize = position(TAX, "rate");
    pub const TAX_CODE: usize = position(TAX, "tax_code");
    pub const ALLOWANCE: usize = position(TAX, "allowance");
    pub const CHARGE: usize = position(TAX, "charge");
    pub const BASE: usize = position(TAX, "base");
    pub const AMOUNT: usize = position(TAX, "amount");
    pub const EXEMPTION_CODE: usize = position(TAX, "exemption_code");
    pub const EXEMPTION_REASON: usize = position(TAX, "exemption_reason");
}

/// The layout version written in a blob's first byte.
const LAYOUT: u8 = 1;

const NULL: u8 = 0;
const INT: u8 = 1;
const DEC: u8 = 2;
const TEXT: u8 = 3;
const FIELDS: u8 = 4;

/// Writes one blob: call [`Writer::row`] per row, then a cell method per column, in the
/// column order of the kind.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
    rows: u32,
    /// The number of rows the blob's start says already (see [`Writer::with_rows`]).
    declared: Option<u32>,
}

impl Writer {
    /// An empty blob.
    pub fn new() -> Writer {
        Writer { buf: Vec::with_capacity(256), rows: 0, declared: None }
    }

    /// An empty blob that will have `rows` rows, in room for about `bytes` bytes: its start is
    /// written now, and [`Writer::finish`] hands the buffer over as it stands (with another
    /// number of rows, it writes the start again).
    pub fn with_rows(rows: usize, bytes: usize) -> Writer {
        let mut buf = Vec::with_capacity(bytes + 6);
        match u32::try_from(rows) {
            Ok(n) => {
                buf.push(LAYOUT);
                put_varint(&mut buf, u128::from(n));
                Writer { buf, rows: 0, declared: Some(n) }
            }
            Err(_) => Writer { buf, rows: 0, declared: None },
        }
    }

    /// Starts a row.
    pub fn row(&mut self) -> &mut Writer {
        self.rows += 1;
        self
    }

    /// A null cell.
    pub fn null(&mut self) -> &mut Writer {
        self.buf.push(NULL);
        self
    }

    /// An integer cell.
    pub fn int(&mut self, v: i64) -> &mut Writer {
        self.buf.push(INT);
        put_varint(&mut self.buf, u128::from(((v << 1) ^ (v >> 63)) as u64));
        self
    }

    /// A decimal cell (scale and sign kept).
    pub fn dec(&mut self, d: Decimal) -> &mut Writer {
        self.buf.push(DEC);
        self.buf.push(d.scale() as u8 | if d.is_sign_negative() { 0x80 } else { 0 });
        put_varint(&mut self.buf, d.mantissa().unsigned_abs());
        self
    }

    /// A text cell.
    pub fn text(&mut self, t: &str) -> &mut Writer {
        self.buf.push(TEXT);
        put_varint(&mut self.buf, t.len() as u128);
        self.buf.extend_from_slice(t.as_bytes());
        self
    }

    /// A cell of fields without a role: (index of the field in its entity, text), in order.
    pub fn fields<'a>(&mut self, fields: impl Iterator<Item = (u16, &'a str)>) -> &mut Writer {
        self.buf.push(FIELDS);
        let count_at = self.buf.len();
        self.buf.push(0);
        let mut n = 0u32;
        for (i, t) in fields {
            put_varint(&mut self.buf, u128::from(i));
            put_varint(&mut self.buf, t.len() as u128);
            self.buf.extend_from_slice(t.as_bytes());
            n += 1;
        }
        if n < 0x80 {
            self.buf[count_at] = n as u8;
        } else {
            let mut count = Vec::new();
            put_varint(&mut count, u128::from(n));
            self.buf.splice(count_at..count_at + 1, count);
        }
        self
    }

    /// A text cell, or null.
    pub fn opt_text(&mut self, t: Option<&str>) -> &mut Writer {
        match t {
            Some(t) => self.text(t),
            None => self.null(),
        }
    }

    /// A decimal cell, or null.
    pub fn opt_dec(&mut self, d: Option<Decimal>) -> &mut Writer {
        match d {
            Some(d) => self.dec(d),
            None => self.null(),
        }
    }

    /// The blob.
    pub fn finish(self) -> Vec<u8> {
        let body = match self.declared {
            Some(n) if n == self.rows => return self.buf,
            // The start says another number: written again.
            Some(n) => &self.buf[1 + varint_len(u128::from(n))..],
            None => &self.buf[..],
        };
        let mut out = Vec::with_capacity(body.len() + 6);
        out.push(LAYOUT);
        put_varint(&mut out, self.rows as u128);
        out.extend_from_slice(body);
        out
    }
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

#[inline]
fn put_varint(buf: &mut Vec<u8>, v: u128) {
    // Most values (lengths, field numbers, mantissas) fit 64 bits: shifted as such.
    if let Ok(mut v) = u64::try_from(v) {
        while v >= 0x80 {
            buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        buf.push(v as u8);
        return;
    }
    let mut v = v;
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// The bytes [`put_varint`] writes for `v`.
fn varint_len(v: u128) -> usize {
    (128 - v.leading_zeros() as usize).max(1).div_ceil(7)
}

/// A cell read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Null.
    Null,
    /// An integer.
    Int(i64),
    /// A decimal.
    Dec(Decimal),
    /// Text.
    Text(String),
    /// Fields without a role: (index of the field in its entity, text).
    Fields(Vec<(u16, String)>),
}

impl Cell {
    /// The cell, borrowed (fields without a role, which only a body holds, as null).
    pub fn as_cell_ref(&self) -> CellRef<'_> {
        match self {
            Cell::Null | Cell::Fields(_) => CellRef::Null,
            Cell::Int(v) => CellRef::Int(*v),
            Cell::Dec(d) => CellRef::Dec(*d),
            Cell::Text(t) => CellRef::Text(t),
        }
    }

    /// The cell as the text the row tables held (null as `None`).
    pub fn to_text(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Int(v) => Some(v.to_string()),
            Cell::Dec(d) => Some(d.to_string()),
            Cell::Text(t) => Some(t.clone()),
            Cell::Fields(f) => Some(f.iter().map(|(i, t)| format!("{i}={t}")).collect::<Vec<_>>().join(";")),
        }
    }
}

/// A blob that does not read back: the store file was damaged or written by something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an invoice body does not read back ({0}); the store file is damaged")]
pub struct Damaged(pub &'static str);

/// Reads a blob of `columns` columns into rows of cells.
pub fn read(blob: &[u8], columns: usize) -> Result<Vec<Vec<Cell>>, Damaged> {
    let mut rows = Rows::new(blob, columns)?;
    let mut out = Vec::with_capacity(rows.left);
    let mut cells = Vec::with_capacity(columns);
    while rows.next_into(&mut cells)? {
        out.push(cells.iter().map(|c| c.into_cell()).collect());
    }
    Ok(out)
}

/// A cell read in place: text borrowed from the blob, nothing allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellRef<'a> {
    /// Null.
    Null,
    /// An integer.
    Int(i64),
    /// A decimal.
    Dec(Decimal),
    /// Text.
    Text(&'a str),
    /// Fields without a role.
    Fields(FieldsRef<'a>),
}

impl CellRef<'_> {
    /// The cell, owning its text.
    pub fn into_cell(self) -> Cell {
        match self {
            CellRef::Null => Cell::Null,
            CellRef::Int(v) => Cell::Int(v),
            CellRef::Dec(d) => Cell::Dec(d),
            CellRef::Text(t) => Cell::Text(t.to_string()),
            CellRef::Fields(f) => Cell::Fields(f.iter().map(|(i, t)| (i, t.to_string())).collect()),
        }
    }
}

/// The fields without a role of a cell, in the blob (checked when the cell was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldsRef<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> FieldsRef<'a> {
    /// (index of the field in its entity, text), in the order written.
    pub fn iter(self) -> impl Iterator<Item = (u16, &'a str)> {
        let mut r = Reader { b: self.bytes, at: 0 };
        // The bytes were checked when the cell was read: a field that does not read ends the
        // iteration, which cannot happen.
        (0..self.count).map_while(move |_| r.checked_field().ok())
    }
}

/// The rows of a blob, read one at a time into a caller's buffer.
pub struct Rows<'a> {
    r: Reader<'a>,
    left: usize,
    columns: usize,
}

impl<'a> Rows<'a> {
    /// Starts reading a blob of `columns` columns.
    pub fn new(blob: &'a [u8], columns: usize) -> Result<Rows<'a>, Damaged> {
        let mut r = Reader { b: blob, at: 0 };
        if r.byte()? != LAYOUT {
            return Err(Damaged("unknown layout"));
        }
        let left = r.varint()? as usize;
        if left > blob.len() {
            return Err(Damaged("row count beyond the blob"));
        }
        Ok(Rows { r, left, columns })
    }

    /// The number of rows not read yet.
    pub fn left(&self) -> usize {
        self.left
    }

    /// Reads the next row's cells into `out` (cleared first); `false` after the last row, when
    /// the whole blob has been read.
    pub fn next_into(&mut self, out: &mut Vec<CellRef<'a>>) -> Result<bool, Damaged> {
        self.next_into_first(out, self.columns)
    }

    /// As [`Rows::next_into`], reading only the first `wanted` cells of the row: the others
    /// are stepped over (their lengths followed, their texts not checked, as nobody gets them).
    pub fn next_into_first(&mut self, out: &mut Vec<CellRef<'a>>, wanted: usize) -> Result<bool, Damaged> {
        out.clear();
        if self.left == 0 {
            if self.r.at != self.r.b.len() {
                return Err(Damaged("bytes after the last row"));
            }
            return Ok(false);
        }
        self.left -= 1;
        for c in 0..self.columns {
            if c < wanted {
                out.push(self.r.cell()?);
            } else {
                self.r.skip_cell()?;
            }
        }
        Ok(true)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, Damaged> {
        let v = *self.b.get(self.at).ok_or(Damaged("cut short"))?;
        self.at += 1;
        Ok(v)
    }

    fn varint(&mut self) -> Result<u128, Damaged> {
        // Most numbers are one byte.
        if let Some(&b) = self.b.get(self.at) {
            if b < 0x80 {
                self.at += 1;
                return Ok(u128::from(b));
            }
        }
        let mut v = 0u128;
        for shift in (0..128).step_by(7) {
            let b = self.byte()?;
            v |= u128::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Damaged("a number too long"))
    }

    /// A length (LEB128) and that many bytes; `short` says what was cut when they are not all
    /// there.
    fn take(&mut self, short: &'static str) -> Result<&'a [u8], Damaged> {
        let n = self.varint()? as usize;
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len()).ok_or(Damaged(short))?;
        let bytes = &self.b[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn text(&mut self) -> Result<&'a str, Damaged> {
        utf8(self.take("text cut short")?).ok_or(Damaged("text not UTF-8"))
    }

    /// Steps over a cell without reading it into a value.
    fn skip_cell(&mut self) -> Result<(), Damaged> {
        match self.byte()? {
            NULL => {}
            INT => {
                self.varint()?;
            }
            DEC => {
                self.byte()?;
                self.varint()?;
            }
            TEXT => {
                self.take("cut short")?;
            }
            FIELDS => {
                let count = self.varint()? as usize;
                if count > self.b.len() {
                    return Err(Damaged("field count beyond the blob"));
                }
                for _ in 0..count {
                    self.varint()?;
                    self.take("cut short")?;
                }
            }
            _ => return Err(Damaged("unknown cell tag")),
        }
        Ok(())
    }

    /// A field of a [`FieldsRef`], whose texts [`Reader::cell`] checked already: the lengths
    /// are followed again, the UTF-8 not checked twice.
    fn checked_field(&mut self) -> Result<(u16, &'a str), Damaged> {
        let i = u16::try_from(self.varint()?).map_err(|_| Damaged("a field index too large"))?;
        let bytes = self.take("text cut short")?;
        // SAFETY: a `FieldsRef` is made only by `Reader::cell`, over bytes whose every field
        // text `Reader::field` read with a UTF-8 check (its fields are private); this reads
        // the same texts at the same places.
        Ok((i, unsafe { std::str::from_utf8_unchecked(bytes) }))
    }

    fn field(&mut self) -> Result<(u16, &'a str), Damaged> {
        let i = u16::try_from(self.varint()?).map_err(|_| Damaged("a field index too large"))?;
        Ok((i, self.text()?))
    }

    fn cell(&mut self) -> Result<CellRef<'a>, Damaged> {
        Ok(match self.byte()? {
            NULL => CellRef::Null,
            INT => {
                let z = self.varint()?;
                let z = u64::try_from(z).map_err(|_| Damaged("an integer too large"))?;
                CellRef::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            DEC => {
                let flags = self.byte()?;
                let scale = u32::from(flags & 0x1f);
                let m = self.varint()?;
                if scale > 28 || m >= 1u128 << 96 {
                    return Err(Damaged("a decimal out of range"));
                }
                let mut d = Decimal::from_i128_with_scale(m as i128, scale);
                d.set_sign_negative(flags & 0x80 != 0);
                CellRef::Dec(d)
            }
            TEXT => CellRef::Text(self.text()?),
            FIELDS => {
                let count = self.varint()? as usize;
                if count > self.b.len() {
                    return Err(Damaged("field count beyond the blob"));
                }
                let start = self.at;
                for _ in 0..count {
                    self.field()?;
                }
                CellRef::Fields(FieldsRef { bytes: &self.b[start..self.at], count })
            }
            _ => return Err(Damaged("unknown cell tag")),
        })
    }
}

/// A cell of a row-table value (text as the old row tables held it), typed by its column:
/// decimals that read back as the same text become decimals, the rest stays text. For the
/// migration of stores written before bodies.
pub fn cell_of_text(kind: Kind, text: Option<&str>, int: Option<i64>) -> Cell {
    match (kind, text, int) {
        (_, None, None) => Cell::Null,
        (_, None, Some(v)) => Cell::Int(v),
        (Kind::Dec, Some(t), _) => match t.parse::<Decimal>() {
            Ok(d) if d.to_string() == t => Cell::Dec(d),
            _ => Cell::Text(t.to_string()),
        },
        (Kind::Int, Some(t), _) => match t.parse::<i64>() {
            Ok(v) if v.to_string() == t => Cell::Int(v),
            _ => Cell::Text(t.to_string()),
        },
        (Kind::Text, Some(t), _) => Cell::Text(t.to_string()),
    }
}

/// Converts the row tables of a store written before bodies (`invoice_line`, `invoice_tax`,
/// `ledger_entry`) into `invoice_body` rows, then drops them: three ordered scans merged by
/// invoice, so memory stays flat in the store's size. A posted invoice gets a ledger blob (its
/// entries in their posting order), a draft none.
pub fn convert_row_tables(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<u64> {
    let cols = |k: &[(&str, Kind)]| k.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    let mut lines =
        tx.prepare(&format!("SELECT invoice_id, {} FROM invoice_line ORDER BY invoice_id, position", cols(LINE)))?;
    let mut taxes =
        tx.prepare(&format!("SELECT invoice_id, {} FROM invoice_tax ORDER BY invoice_id, position", cols(TAX)))?;
    let mut ledger =
        tx.prepare(&format!("SELECT invoice_id, {} FROM ledger_entry ORDER BY invoice_id, id", cols(LEDGER)))?;
    let mut invoices = tx.prepare("SELECT id, status FROM invoice ORDER BY id")?;
    let mut insert =
        tx.prepare("INSERT INTO invoice_body (invoice_id, lines, taxes, ledger) VALUES (?1, ?2, ?3, ?4)")?;
    let mut lines = Group { rows: lines.query([])?, kinds: LINE, pending: None, done: false };
    let mut taxes = Group { rows: taxes.query([])?, kinds: TAX, pending: None, done: false };
    let mut ledger = Group { rows: ledger.query([])?, kinds: LEDGER, pending: None, done: false };
    let mut rows = invoices.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let (id, status): (i64, String) = (r.get(0)?, r.get(1)?);
        let entries = ledger.take(id)?;
        let entries = (status == "posted").then_some(entries);
        insert.execute(rusqlite::params![id, lines.take(id)?, taxes.take(id)?, entries])?;
        n += 1;
    }
    drop((lines, taxes, ledger, rows, insert));
    tx.execute_batch("DROP TABLE invoice_line; DROP TABLE invoice_tax; DROP TABLE ledger_entry;")?;
    Ok(n)
}

/// The rows of one row table, grouped by invoice (an ordered scan read ahead by one row).
struct Group<'s> {
    rows: rusqlite::Rows<'s>,
    kinds: &'static [(&'static str, Kind)],
    pending: Option<(i64, Vec<Cell>)>,
    done: bool,
}

impl Group<'_> {
    /// The blob of invoice `id`'s rows.
    fn take(&mut self, id: i64) -> rusqlite::Result<Vec<u8>> {
        let mut w = Writer::new();
        loop {
            if self.pending.is_none() && !self.done {
                match self.rows.next()? {
                    Some(r) => {
                        let mut cells = Vec::with_capacity(self.kinds.len());
                        for (i, (_, kind)) in self.kinds.iter().enumerate() {
                            let (text, int) = match r.get_ref(i + 1)? {
                                rusqlite::types::ValueRef::Text(t) => (Some(String::from_utf8_lossy(t)), None),
                                rusqlite::types::ValueRef::Integer(v) => (None, Some(v)),
                                rusqlite::types::ValueRef::Real(v) => (Some(v.to_string().into()), None),
                                _ => (None, None),
                            };
                            cells.push(cell_of_text(*kind, text.as_deref(), int));
                        }
                        self.pending = Some((r.get(0)?, cells));
                    }
                    None => self.done = true,
                }
            }
            match &self.pending {
                Some((owner, cells)) if *owner == id => {
                    write_cells(&mut w, cells);
                    self.pending = None;
                }
                // Rows of an invoice that no longer exists (never written so): left behind.
                Some((owner, _)) if *owner < id => self.pending = None,
                _ => return Ok(w.finish()),
            }
        }
    }
}

/// Writes a row of cells.
pub fn write_cells(w: &mut Writer, cells: &[Cell]) {
    w.row();
    for c in cells {
        match c {
            Cell::Null => w.null(),
            Cell::Int(v) => w.int(*v),
            Cell::Dec(d) => w.dec(*d),
            Cell::Text(t) => w.text(t),
            Cell::Fields(f) => w.fields(f.iter().map(|(i, t)| (*i, t.as_str()))),
        };
    }
}

/// `bytes` as text when they are UTF-8. A stored text is mostly a few ASCII bytes (a code, an
/// amount's digits, a name), for which a check of the bytes' high bits costs a fraction of a
/// UTF-8 validator's set-up; anything else is validated in full.
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    simdutf8::basic::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn stored_text_is_read_only_when_utf8() {
        assert_eq!(utf8(b"EUR"), Some("EUR"));
        assert_eq!(utf8("Hafenstraße 12".as_bytes()), Some("Hafenstraße 12"));
        assert_eq!(utf8(b""), Some(""));
        // A lone continuation byte, a cut two-byte character, an overlong encoding.
        for bad in [&b"a\x80b"[..], &b"Stra\xc3"[..], &b"\xc0\xaf"[..]] {
            assert_eq!(utf8(bad), None, "{bad:?}");
        }
        let mut reader = Reader { b: &[3, b'a', 0xff, b'b'], at: 0 };
        assert_eq!(reader.text().unwrap_err().0, "text not UTF-8");
    }

    #[test]
    fn rows_read_in_part_step_over_the_rest() {
        let mut w = Writer::new();
        w.row().dec(Decimal::new(150, 2)).text("a").fields([(3u16, "x"), (7, "yz")].into_iter()).int(-5);
        w.row().null().text("b").fields(std::iter::empty()).int(9);
        let blob = w.finish();
        let mut rows = Rows::new(&blob, 4).unwrap();
        let mut cells = Vec::new();
        assert!(rows.next_into_first(&mut cells, 2).unwrap());
        assert_eq!(cells, vec![CellRef::Dec(Decimal::new(150, 2)), CellRef::Text("a")]);
        assert!(rows.next_into_first(&mut cells, 2).unwrap());
        assert_eq!(cells, vec![CellRef::Null, CellRef::Text("b")]);
        assert!(!rows.next_into_first(&mut cells, 2).unwrap());
        // A blob cut inside a skipped cell is still found damaged.
        let mut rows = Rows::new(&blob[..blob.len() - 3], 4).unwrap();
        assert!(rows.next_into_first(&mut cells, 2).unwrap());
        assert_eq!(rows.next_into_first(&mut cells, 2), Err(Damaged("cut short")));
    }

    /// A blob whose number of rows is written first is the blob written with the number at the
    /// end, whatever number was announced (rows counts at the edges of the varint's bytes).
    #[test]
    fn announced_rows_give_the_same_blob() {
        let fill = |w: &mut Writer, rows: usize| {
            for r in 0..rows {
                w.row().int(r as i64).dec(Decimal::new(-(r as i64) * 1_000_003, 3)).text("é").opt_text(None);
            }
        };
        for rows in [0usize, 1, 2, 127, 128, 300, 16_384] {
            let mut plain = Writer::new();
            fill(&mut plain, rows);
            let plain = plain.finish();
            for announced in [0usize, 1, rows, 127, 128, 16_384, usize::MAX] {
                let mut w = Writer::with_rows(announced, 0);
                fill(&mut w, rows);
                assert_eq!(w.finish(), plain, "{rows} rows, {announced} announced");
            }
            assert_eq!(Rows::new(&plain, 4).unwrap().left(), rows);
        }
        for v in [0u128, 1, 127, 128, 16_383, 16_384, u128::from(u64::MAX), u128::from(u64::MAX) + 1, u128::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "{v}");
        }
    }

    #[test]
    fn column_positions_name_the_columns() {
        let at = |kinds: &[(&str, Kind)], name: &str| kinds.iter().position(|(n, _)| *n == name).unwrap();
        assert_eq!(line_col::QUANTITY, at(LINE, "quantity"));
        assert_eq!(line_col::DISCOUNT_AMOUNT, at(LINE, "discount_amount"));
        assert_eq!(line_col::ALLOWANCE_AMOUNT, at(LINE, "allowance_amount"));
        assert_eq!(line_col::UNIT, at(LINE, "unit"));
        assert_eq!(line_col::EXTRAS, LINE.len() - 1);
        assert_eq!(tax_col::CATEGORY, at(TAX, "category"));
        assert_eq!(tax_col::EXEMPTION_REASON, TAX.len() - 1);
    }

    #[test]
    fn cells_read_back_as_written() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        // A negative zero (which parsing "-0.00" does not give).
        let mut negative_zero = Decimal::new(0, 2);
        negative_zero.set_sign_negative(true);
        let mut w = Writer::new();
        w.row().dec(d("1.50")).int(-3).text("Tür, \"quoted\"").null();
        w.row().dec(negative_zero).int(i64::MIN).text("").dec(d("-79228162514264337593543950335"));
        w.row().dec(d("0.0000000000000000000000000001")).int(i64::MAX).opt_text(None).opt_dec(Some(d("19")));
        let blob = w.finish();
        let rows = read(&blob, 4).unwrap();
        let text: Vec<Vec<Option<String>>> = rows.iter().map(|r| r.iter().map(Cell::to_text).collect()).collect();
        assert_eq!(
            text,
            vec![
                vec![Some("1.50".into()), Some("-3".into()), Some("Tür, \"quoted\"".into()), None],
                vec![
                    Some("-0.00".into()),
                    Some(i64::MIN.to_string()),
                    Some(String::new()),
                    Some("-79228162514264337593543950335".into())
                ],
                vec![
                    Some("0.0000000000000000000000000001".into()),
                    Some(i64::MAX.to_string()),
                    None,
                    Some("19".into())
                ],
            ]
        );
        // -0.00 keeps its sign and scale.
        assert!(matches!(&rows[1][0], Cell::Dec(z) if z.is_sign_negative() && z.scale() == 2));
    }

    #[test]
    fn fields_without_a_role_read_back_by_index() {
        let many: Vec<(u16, String)> = (0..200u16).map(|i| (i * 3, format!("v{i}"))).collect();
        let mut w = Writer::new();
        w.row().fields([(4u16, "PARCEL"), (300, "München, \"Süd\"")].into_iter()).int(1);
        w.row().fields(std::iter::empty()).int(2);
        w.row().fields(many.iter().map(|(i, t)| (*i, t.as_str()))).int(3);
        let rows = read(&w.finish(), 2).unwrap();
        assert_eq!(rows[0][0], Cell::Fields(vec![(4, "PARCEL".into()), (300, "München, \"Süd\"".into())]));
        assert_eq!(rows[1], vec![Cell::Fields(vec![]), Cell::Int(2)]);
        assert_eq!(rows[2], vec![Cell::Fields(many), Cell::Int(3)]);
    }

    #[test]
    fn a_damaged_blob_is_an_error_not_a_panic() {
        let mut w = Writer::new();
        w.row().text("abc").int(7);
        let blob = w.finish();
        assert_eq!(read(&blob[..blob.len() - 1], 2), Err(Damaged("cut short")));
        assert_eq!(read(&blob[..4], 2), Err(Damaged("text cut short")));
        assert_eq!(read(&blob, 1), Err(Damaged("bytes after the last row")));
        assert_eq!(read(&[9, 0], 1), Err(Damaged("unknown layout")));
        assert_eq!(read(&[LAYOUT, 1, 7], 1), Err(Damaged("unknown cell tag")));
        assert_eq!(read(&[LAYOUT, 1, DEC, 29, 1], 1), Err(Damaged("a decimal out of range")));
        assert_eq!(read(&[LAYOUT, 0xff, 0xff, 0x7f], 1), Err(Damaged("row count beyond the blob")));
    }

    #[test]
    fn row_table_text_becomes_typed_only_when_it_reads_back_the_same() {
        assert_eq!(cell_of_text(Kind::Dec, Some("1.50"), None), Cell::Dec(Decimal::new(150, 2)));
        assert_eq!(cell_of_text(Kind::Dec, Some("1e3"), None), Cell::Text("1e3".into()));
        assert_eq!(cell_of_text(Kind::Dec, Some("+1"), None), Cell::Text("+1".into()));
        assert_eq!(cell_of_text(Kind::Int, None, Some(4)), Cell::Int(4));
        assert_eq!(cell_of_text(Kind::Text, None, None), Cell::Null);
    }
}
