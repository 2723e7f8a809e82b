//! The texts of a row that are not typed into the domain model: the fields without a role (kept
//! as canonical text, so that exports can write the entity back whole) and, on invoice lines,
//! the line's free texts (item id and name, description, account distribution).
//!
//! A row's texts live either in a buffer of its own (rows built one at a time: headers, drafts,
//! e-invoices read back, tests) or in a [`TextChunk`] that the rows typed together share: one
//! buffer for a few hundred lines instead of a handful of allocations per line. The chunk lives
//! as long as any of its rows.

use std::sync::Arc;

use crate::entity::Role;

/// A line's free texts, kept beside its fields without a role under ids no entity field has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Item number.
    ItemId,
    /// Item name (BT-153).
    ItemName,
    /// Description (BT-154).
    Description,
    /// Distribution of the line amount over main accounts (free-text lines).
    Distribution,
}

impl Slot {
    /// Every slot, in the order a row's texts list them.
    pub const ALL: [Slot; 4] = [Slot::ItemId, Slot::ItemName, Slot::Description, Slot::Distribution];

    /// The role of the entity field the slot's text comes from.
    pub const fn role(self) -> Role {
        match self {
            Slot::ItemId => Role::ItemId,
            Slot::ItemName => Role::ItemName,
            Slot::Description => Role::Description,
            Slot::Distribution => Role::Distribution,
        }
    }

    /// The slot's name where the line is stored (a column of the store's lines) and in
    /// messages.
    pub const fn name(self) -> &'static str {
        match self {
            Slot::ItemId => "item_id",
            Slot::ItemName => "item_name",
            Slot::Description => "description",
            Slot::Distribution => "distribution",
        }
    }

    /// The id the slot is kept under (above every field index).
    const fn id(self) -> u16 {
        SLOT_BASE + self as u16
    }
}

/// Ids from here up are slots, below are entity field indexes.
const SLOT_BASE: u16 = 0xFFF0;

/// The texts of many rows in one buffer, one after the other: (id, end) per text (a text
/// starts where the one before it ends).
#[derive(Debug, Default)]
pub struct TextChunk {
    text: String,
    entries: Vec<(u16, u32)>,
}

impl TextChunk {
    fn entry(&self, i: usize) -> (u16, &str) {
        let start = i.checked_sub(1).map(|p| self.entries[p].1 as usize).unwrap_or(0);
        let (id, end) = self.entries[i];
        (id, &self.text[start..end as usize])
    }
}

/// Where the texts of a row's fields are written: a row's own [`Extras`] or a chunk being
/// built ([`ChunkBuilder`]).
pub trait TextSink {
    /// Adds a field's value written by `write` (nothing when it writes nothing).
    fn push_with(&mut self, field: u16, write: impl FnOnce(&mut String));
}

impl TextSink for ChunkBuilder {
    fn push_with(&mut self, field: u16, write: impl FnOnce(&mut String)) {
        ChunkBuilder::push_with(self, field, write)
    }
}

impl TextSink for Extras {
    fn push_with(&mut self, field: u16, write: impl FnOnce(&mut String)) {
        Extras::push_with(self, field, write)
    }
}

/// Builds a [`TextChunk`] row by row; [`ChunkBuilder::finish`] shares it with the rows.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    chunk: TextChunk,
}

impl ChunkBuilder {
    /// Starts a row: texts pushed from now on belong to it until [`ChunkBuilder::end_row`].
    pub fn start_row(&self) -> u32 {
        self.chunk.entries.len() as u32
    }

    /// Adds a field's value written by `write` (nothing when it writes nothing).
    pub fn push_with(&mut self, field: u16, write: impl FnOnce(&mut String)) {
        let start = self.chunk.text.len();
        write(&mut self.chunk.text);
        let end = self.chunk.text.len();
        if end > start {
            self.chunk.entries.push((field, end as u32));
        }
    }

    /// Adds a slot's text (nothing when it is empty); a row's slots come before its fields.
    pub fn push_slot(&mut self, slot: Slot, text: &str) {
        self.push_with(slot.id(), |s| s.push_str(text));
    }

    /// Takes back the texts of the row started at `first` (as if it had not been started).
    pub fn rollback(&mut self, first: u32) {
        let first = first as usize;
        let end = first.checked_sub(1).map(|p| self.chunk.entries[p].1 as usize).unwrap_or(0);
        self.chunk.entries.truncate(first);
        self.chunk.text.truncate(end);
    }

    /// Ends the row started at `first`: its texts, to be attached to the chunk once it is
    /// finished ([`Extras::attach`]).
    pub fn end_row(&self, first: u32) -> Extras {
        let row = &self.chunk.entries[first as usize..];
        // Slots were pushed first, in slot order.
        let slots = row.iter().take_while(|(id, _)| *id >= SLOT_BASE).fold(0u8, |m, (id, _)| m | 1 << (id - SLOT_BASE));
        Extras { texts: Texts::Pending { first, count: row.len() as u32, slots } }
    }

    /// The finished chunk, for [`Extras::attach`]. The builder starts the next one with the
    /// room this one took (rows typed together are alike), so that chunks are not kept with up
    /// to twice the room they need.
    pub fn finish(&mut self) -> Arc<TextChunk> {
        let next = TextChunk {
            text: String::with_capacity(self.chunk.text.len() + self.chunk.text.len() / 8),
            entries: Vec::with_capacity(self.chunk.entries.len() + self.chunk.entries.len() / 8),
        };
        Arc::new(std::mem::replace(&mut self.chunk, next))
    }
}

#[derive(Debug, Clone)]
enum Texts {
    /// In a buffer of its own.
    Owned { text: String, ends: Vec<(u16, u32)> },
    /// Entries `first..first + count` of a shared chunk; `slots` says which slots the row has
    /// (bit `k` for the slot `Slot::ALL[k]`), and they are its first entries, in that order.
    Shared { chunk: Arc<TextChunk>, first: u32, count: u32, slots: u8 },
    /// Entries of a chunk still being built (only between typing and [`Extras::attach`]).
    Pending { first: u32, count: u32, slots: u8 },
}

impl Default for Texts {
    fn default() -> Texts {
        Texts::Owned { text: String::new(), ends: Vec::new() }
    }
}

/// The texts of a row without a typed place: fields without a role as (field index, value), in
/// field order, empty values left out; on lines also the [`Slot`]s, which come first.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    texts: Texts,
}

impl Extras {
    /// Room for `bytes` of text in `fields` fields (no reallocation while a row is typed).
    pub fn with_capacity(bytes: usize, fields: usize) -> Extras {
        Extras { texts: Texts::Owned { text: String::with_capacity(bytes), ends: Vec::with_capacity(fields) } }
    }

    /// Empties the texts, keeping their room (a buffer reused from row to row).
    pub fn clear(&mut self) {
        self.texts = match std::mem::take(&mut self.texts) {
            Texts::Owned { mut text, mut ends } => {
                text.clear();
                ends.clear();
                Texts::Owned { text, ends }
            }
            _ => Texts::default(),
        };
    }

    /// Gives back the room not used (for values kept long, as the headers of an import are).
    pub fn shrink_to_fit(&mut self) {
        if let Texts::Owned { text, ends } = &mut self.texts {
            text.shrink_to_fit();
            ends.shrink_to_fit();
        }
    }

    /// The texts in a buffer of their own (copied out of a shared chunk).
    fn owned(&mut self) -> (&mut String, &mut Vec<(u16, u32)>) {
        if !matches!(self.texts, Texts::Owned { .. }) {
            let mut text = String::new();
            let mut ends = Vec::new();
            for (id, v) in self.all() {
                text.push_str(v);
                ends.push((id, text.len() as u32));
            }
            self.texts = Texts::Owned { text, ends };
        }
        match &mut self.texts {
            Texts::Owned { text, ends } => (text, ends),
            _ => unreachable!("made owned above"),
        }
    }

    /// The same texts in a buffer of their own, so that a row kept long does not keep the
    /// chunk of the rows typed with it.
    pub fn detach(&mut self) {
        self.owned();
    }

    /// Points the texts of a row typed into a chunk at the finished chunk.
    pub fn attach(&mut self, chunk: &Arc<TextChunk>) {
        if let Texts::Pending { first, count, slots } = self.texts {
            self.texts = Texts::Shared { chunk: Arc::clone(chunk), first, count, slots };
        }
    }

    /// Adds a field's value written by `write` (nothing when it writes nothing).
    pub fn push_with(&mut self, field: u16, write: impl FnOnce(&mut String)) {
        let (text, ends) = self.owned();
        let start = text.len();
        write(text);
        if text.len() > start {
            ends.push((field, text.len() as u32));
        }
    }

    /// Adds a field's value.
    pub fn push(&mut self, field: u16, value: &str) {
        self.push_with(field, |s| s.push_str(value));
    }

    /// The bytes of every text together.
    pub(crate) fn text_len(&self) -> usize {
        match &self.texts {
            Texts::Owned { text, .. } => text.len(),
            _ => self.all().map(|(_, t)| t.len()).sum(),
        }
    }

    /// Every text as (id, text), slots included, in the order they were added (for
    /// [`Extras::push`] to add back in the same order).
    pub(crate) fn texts(&self) -> impl Iterator<Item = (u16, &str)> + Clone + '_ {
        self.all()
    }

    /// Every text, slots included, in the order they were added.
    fn all(&self) -> All<'_> {
        match &self.texts {
            Texts::Owned { text, ends } => All::Owned { text, ends: ends.iter(), start: 0 },
            Texts::Shared { chunk, first, count, .. } => {
                All::Shared { chunk, next: *first as usize, end: (*first + *count) as usize }
            }
            Texts::Pending { .. } => All::Owned { text: "", ends: [].iter(), start: 0 },
        }
    }

    /// (field index, value) of the fields without a role, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &str)> + '_ {
        let all = match &self.texts {
            // The slots skipped at once.
            Texts::Shared { chunk, first, count, slots } => {
                All::Shared { chunk, next: (*first + slots.count_ones()) as usize, end: (*first + *count) as usize }
            }
            _ => self.all(),
        };
        all.skip_while(|(f, _)| *f >= SLOT_BASE)
    }

    /// The value of a field.
    pub fn get(&self, field: u16) -> Option<&str> {
        self.all().find(|(f, _)| *f == field).map(|(_, v)| v)
    }

    /// A slot's text.
    pub fn slot(&self, slot: Slot) -> Option<&str> {
        if let Texts::Shared { chunk, first, slots, .. } = &self.texts {
            // Straight to its entry: the slots before it are the ones the row has.
            let bit = 1u8 << (slot as u8);
            if slots & bit == 0 {
                return None;
            }
            let at = *first + (slots & (bit - 1)).count_ones();
            return Some(chunk.entry(at as usize).1);
        }
        self.all().take_while(|(f, _)| *f >= SLOT_BASE).find(|(f, _)| *f == slot.id()).map(|(_, v)| v)
    }

    /// Sets (or, with `None`, clears) a slot's text.
    pub fn set_slot(&mut self, slot: Slot, value: Option<&str>) {
        let mut texts: Vec<(u16, String)> =
            self.all().filter(|(f, _)| *f != slot.id()).map(|(f, v)| (f, v.to_string())).collect();
        if let Some(v) = value {
            texts.push((slot.id(), v.to_string()));
        }
        // Slots first (in slot order), then the fields in the order they were added.
        texts.sort_by_key(|(f, _)| if *f >= SLOT_BASE { (0, *f) } else { (1, 0) });
        self.texts = Texts::default();
        for (f, v) in texts {
            self.push(f, &v);
        }
    }

    /// Whether no field without a role has a value.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// The texts of one row, wherever they are kept.
#[derive(Clone)]
enum All<'a> {
    Owned { text: &'a str, ends: std::slice::Iter<'a, (u16, u32)>, start: usize },
    Shared { chunk: &'a TextChunk, next: usize, end: usize },
}

impl<'a> Iterator for All<'a> {
    type Item = (u16, &'a str);

    fn next(&mut self) -> Option<(u16, &'a str)> {
        match self {
            All::Owned { text, ends, start } => {
                let &(f, end) = ends.next()?;
                let v = &text[*start..end as usize];
                *start = end as usize;
                Some((f, v))
            }
            All::Shared { chunk, next, end } => {
                if *next >= *end {
                    return None;
                }
                *next += 1;
                Some(chunk.entry(*next - 1))
            }
        }
    }
}

impl PartialEq for Extras {
    /// The same texts under the same ids (wherever they are kept).
    fn eq(&self, other: &Extras) -> bool {
        self.all().count() == other.all().count() && self.all().all(|(f, v)| other.get(f) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_typed_into_a_chunk_read_back_their_own_texts() {
        let mut b = ChunkBuilder::default();
        let first = b.start_row();
        b.push_slot(Slot::ItemId, "I-1");
        b.push_with(3, |s| s.push('a'));
        b.push_with(5, |_| {});
        let mut one = b.end_row(first);
        let first = b.start_row();
        b.push_with(7, |s| s.push_str("bc"));
        let mut two = b.end_row(first);
        // Two slots with gaps between them: each is found at its own entry.
        let first = b.start_row();
        b.push_slot(Slot::ItemName, "Bike");
        b.push_slot(Slot::Distribution, "4010=100");
        b.push_with(2, |s| s.push('z'));
        let mut three = b.end_row(first);
        let chunk = b.finish();
        one.attach(&chunk);
        two.attach(&chunk);
        three.attach(&chunk);
        let slots = Slot::ALL.map(|s| three.slot(s));
        assert_eq!(slots, [None, Some("Bike"), None, Some("4010=100")]);
        assert_eq!(three.iter().collect::<Vec<_>>(), [(2, "z")]);
        drop(three);
        assert_eq!(one.iter().collect::<Vec<_>>(), [(3, "a")]);
        assert_eq!(one.slot(Slot::ItemId), Some("I-1"));
        assert_eq!(one.slot(Slot::ItemName), None);
        assert_eq!(two.iter().collect::<Vec<_>>(), [(7, "bc")]);
        assert_eq!((two.get(7), two.get(5), two.get(3)), (Some("bc"), None, None));
        assert_eq!(Arc::strong_count(&chunk), 3);

        // Owned and shared texts compare by content; detaching lets the chunk go.
        let mut owned = Extras::default();
        owned.push(3, "a");
        owned.set_slot(Slot::ItemId, Some("I-1"));
        assert_eq!(owned, one);
        assert_eq!((owned.slot(Slot::ItemId), owned.iter().collect::<Vec<_>>()), (Some("I-1"), vec![(3, "a")]));
        one.detach();
        two.detach();
        assert_eq!(Arc::strong_count(&chunk), 1);
        assert_eq!(owned, one);
        one.set_slot(Slot::ItemId, Some("I-2"));
        assert_ne!(owned, one);
        assert_eq!(one.slot(Slot::ItemId), Some("I-2"));
        one.set_slot(Slot::ItemId, None);
        assert_eq!(one.slot(Slot::ItemId), None);
        assert_eq!(one.iter().collect::<Vec<_>>(), [(3, "a")]);
        assert!(!one.is_empty());
    }
}
