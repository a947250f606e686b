//! Byte offsets (what spans hold) to LSP positions and back. LSP columns
//! count UTF-16 code units unless the client negotiates otherwise, so a line
//! with `é` or an emoji in a comment shifts every later column.

use lsp_types::{Position, Range};

/// The start of every line of one text, for conversions in both directions.
#[derive(Clone, Debug)]
pub struct LineIndex {
    text: String,
    /// Byte offset where each line starts; the first is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            text: text.to_string(),
            starts,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The LSP position of a byte offset (clamped to the text, and moved back
    /// to a character boundary if it falls inside one).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let character: usize = self.text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(line as u32, character as u32)
    }

    pub fn range(&self, span: std::ops::Range<usize>) -> Range {
        Range::new(self.position(span.start), self.position(span.end))
    }

    /// The byte offset of an LSP position. A column past the end of its line
    /// means the end of the line; a line past the end means the end of the text.
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(position.line as usize + 1)
            .map_or(self.text.len(), |&next| next - 1);
        let line = self.text[start..end].trim_end_matches('\r');
        let end = start + line.len();
        let mut units = 0usize;
        for (i, ch) in line.char_indices() {
            units += ch.len_utf16();
            // A column inside a surrogate pair means the character's start.
            if units > position.character as usize {
                return start + i;
            }
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_round_trip() {
        let ix = LineIndex::new("ab\ncd\n");
        assert_eq!(ix.position(0), Position::new(0, 0));
        assert_eq!(ix.position(4), Position::new(1, 1));
        assert_eq!(ix.position(6), Position::new(2, 0));
        assert_eq!(ix.offset(Position::new(1, 1)), 4);
        assert_eq!(ix.offset(Position::new(0, 99)), 2);
        assert_eq!(ix.offset(Position::new(9, 0)), 6);
    }

    #[test]
    fn columns_count_utf16_units() {
        // `é` is 2 bytes and 1 unit; `🦀` is 4 bytes and 2 units.
        let text = "// é🦀\nlet x = y";
        let ix = LineIndex::new(text);
        let after_crab = text.find('\n').unwrap();
        assert_eq!(ix.position(after_crab), Position::new(0, 6));
        assert_eq!(ix.offset(Position::new(0, 6)), after_crab);
        assert_eq!(ix.offset(Position::new(0, 4)), 5);
        assert_eq!(ix.offset(Position::new(0, 5)), 5);
        // Inside a character: back to its start.
        assert_eq!(ix.position(7), Position::new(0, 4));
        let y = text.rfind('y').unwrap();
        assert_eq!(ix.position(y), Position::new(1, 8));
    }

    #[test]
    fn crlf_lines() {
        let ix = LineIndex::new("a\r\nb");
        assert_eq!(ix.position(3), Position::new(1, 0));
        assert_eq!(ix.offset(Position::new(0, 5)), 1);
    }
}
