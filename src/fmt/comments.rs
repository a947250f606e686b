//! Comments are not in the AST: they are recovered from the source text by
//! byte position. A comment that has code before it on its line trails that
//! code; a comment on a line of its own belongs to what follows it.

/// One `//` comment, its text without trailing whitespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// Nothing but whitespace before it on its line.
    pub own_line: bool,
}

/// Every comment of `text`, in order (`//` inside a string is not a comment).
pub fn scan(text: &str) -> Vec<Comment> {
    let bytes = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    let mut in_string = false;
    let mut line_start = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\n' {
            line_start = i + 1;
            in_string = false;
        } else if in_string {
            in_string = b != b'"';
        } else if b == b'"' {
            in_string = true;
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            let start = i;
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            let own_line = text[line_start..start].trim().is_empty();
            out.push(Comment {
                start,
                end: i,
                text: text[start..i].trim_end().to_string(),
                own_line,
            });
            continue;
        }
        i += 1;
    }
    out
}

/// Whether the text between two positions holds an empty line.
pub fn blank_between(text: &str, from: usize, to: usize) -> bool {
    text.get(from..to)
        .is_some_and(|gap| gap.matches('\n').count() >= 2)
}

/// Whether a line break lies between two positions.
pub fn newline_between(text: &str, from: usize, to: usize) -> bool {
    text.get(from..to).is_some_and(|gap| gap.contains('\n'))
}

/// The first position at or after `from` that is neither whitespace nor
/// inside a comment.
pub fn next_token(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
        } else if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else {
            break;
        }
    }
    i
}

/// The position of the first `{` at or after `from` outside comments and strings.
pub fn find_brace(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            in_string = b != b'"' && b != b'\n';
        } else if b == b'"' {
            in_string = true;
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        } else if b == b'{' {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Whether `text[start..end]` is wrapped in one pair of parentheses that
/// match each other (`(a + b)`, not `(a) + (b)`).
pub fn wrapped_in_parens(text: &str, start: usize, end: usize) -> bool {
    let Some(s) = text.get(start..end) else {
        return false;
    };
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'(') || bytes.last() != Some(&b')') {
        return false;
    }
    let mut depth = 0i32;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            in_string = b != b'"';
        } else if b == b'"' {
            in_string = true;
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        } else if b == b'(' {
            depth += 1;
        } else if b == b')' {
            depth -= 1;
            if depth == 0 {
                return i == bytes.len() - 1;
            }
        }
        i += 1;
    }
    false
}

/// The number token written at or after `from` (digits, fraction, exponent).
pub fn number_text(text: &str, from: usize) -> &str {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() && !bytes[i].is_ascii_digit() {
        i += 1;
    }
    let start = i;
    let digits = |i: &mut usize| {
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        digits(&mut i);
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            i = j;
            digits(&mut i);
        }
    }
    &text[start..i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_in_strings_are_not_comments() {
        let c = scan("param w: i8[1] = load(\"a//b.npy\") // real\n  // own\n");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].text, "// real");
        assert!(!c[0].own_line);
        assert!(c[1].own_line);
    }

    #[test]
    fn parens_must_match_each_other() {
        assert!(wrapped_in_parens("(a + b)", 0, 7));
        assert!(!wrapped_in_parens("(a) + (b)", 0, 9));
        assert!(wrapped_in_parens("((a) + (b))", 0, 11));
    }

    #[test]
    fn numbers_keep_their_spelling() {
        assert_eq!(number_text("x = 1.5e-3 ", 4), "1.5e-3");
        assert_eq!(number_text("( 12 )", 0), "12");
        assert_eq!(number_text("3e", 0), "3");
    }
}
