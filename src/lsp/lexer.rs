//! A forgiving tokenizer for text being typed: completion must work on
//! half-written lines that the parser rejects. Its tokens follow
//! `grammar/convoy.pest`; it never fails.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ident,
    Number,
    /// `"..."`, possibly unterminated (then it ends at the line's end).
    Str,
    /// `// ...` and `/// ...`.
    Comment,
    /// `::`, `|>`, `>>`, `<<` or one character of punctuation.
    Punct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }
}

pub fn tokens(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if src[i..].starts_with("//") {
            i = src[i..].find('\n').map_or(src.len(), |n| i + n);
            Kind::Comment
        } else if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
            }
            Kind::Str
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            Kind::Ident
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            Kind::Number
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            i += if ["::", "|>", ">>", "<<"].contains(&two) {
                2
            } else {
                src[i..].chars().next().map_or(1, char::len_utf8)
            };
            Kind::Punct
        };
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_a_line() {
        let src = "let y = x |> upsample(2, nearest) >> 1 // done\nuse std::blocks::\"a";
        let texts: Vec<&str> = tokens(src).iter().map(|t| t.text(src)).collect();
        assert_eq!(
            texts,
            [
                "let", "y", "=", "x", "|>", "upsample", "(", "2", ",", "nearest", ")", ">>", "1",
                "// done", "use", "std", "::", "blocks", "::", "\"a"
            ]
        );
    }
}
