//! The subset of Python literal syntax that `.npy` headers use: a dict of
//! strings, integers, booleans, `None`, tuples and lists, as
//! `ast.literal_eval` would read it (numpy's own reader does exactly that).
//!
//! Works on bytes so that error offsets are byte offsets into the header;
//! non-ASCII bytes may only appear inside string literals.

/// A parsed Python literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PyValue {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Tuple(Vec<PyValue>),
    List(Vec<PyValue>),
    Dict(Vec<(PyValue, PyValue)>),
}

impl PyValue {
    /// How the value is spelled, for error messages ("a tuple", "an integer").
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            PyValue::Str(_) => "a string",
            PyValue::Int(_) => "an integer",
            PyValue::Bool(_) => "a boolean",
            PyValue::None => "None",
            PyValue::Tuple(_) => "a tuple",
            PyValue::List(_) => "a list",
            PyValue::Dict(_) => "a dict",
        }
    }
}

/// A syntax error at byte `offset` of the parsed text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub offset: usize,
    pub problem: SyntaxProblem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SyntaxProblem {
    /// Something else was expected here (`found` is `None` at the end).
    Expected {
        expected: &'static str,
        found: Option<u8>,
    },
    /// An integer literal beyond the 128-bit range.
    IntegerTooLarge,
    /// Containers nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A string literal whose bytes are not valid in the header's encoding.
    BadStringEncoding,
}

/// Nesting limit: real headers nest two levels; this keeps hostile input from
/// exhausting the stack.
pub(crate) const MAX_DEPTH: usize = 32;

/// How string literal bytes become text: version 1.0 and 2.0 headers are
/// latin-1, version 3.0 headers UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Latin1,
    Utf8,
}

/// Parses `text` as exactly one literal, surrounded by optional whitespace.
pub(crate) fn parse_literal(text: &[u8], encoding: Encoding) -> Result<PyValue, SyntaxError> {
    let mut p = Parser {
        text,
        pos: 0,
        encoding,
    };
    let value = p.value(0)?;
    p.skip_space();
    if p.pos < text.len() {
        return Err(p.expected("the end of the header"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    encoding: Encoding,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn expected(&self, expected: &'static str) -> SyntaxError {
        SyntaxError {
            offset: self.pos,
            problem: SyntaxProblem::Expected {
                expected,
                found: self.peek(),
            },
        }
    }

    fn error(&self, offset: usize, problem: SyntaxProblem) -> SyntaxError {
        SyntaxError { offset, problem }
    }

    /// Skips whitespace and backslash line continuations, as Python's tokenizer does.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => self.pos += 1,
                b'\\' if matches!(self.text.get(self.pos + 1), Some(b'\n')) => self.pos += 2,
                _ => break,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error(self.pos, SyntaxProblem::TooDeep));
        }
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.dict(depth),
            Some(b'(') => self.tuple(depth),
            Some(b'[') => {
                self.pos += 1;
                Ok(PyValue::List(self.items(b']', depth)?.0))
            }
            Some(b'\'' | b'"') => self.string(),
            Some(b'u' | b'U') if matches!(self.text.get(self.pos + 1), Some(b'\'' | b'"')) => {
                self.pos += 1;
                self.string()
            }
            Some(b'0'..=b'9' | b'-' | b'+') => self.integer(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.name(),
            _ => Err(self.expected("a value")),
        }
    }

    fn name(&mut self) -> Result<PyValue, SyntaxError> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        match &self.text[start..self.pos] {
            b"True" => Ok(PyValue::Bool(true)),
            b"False" => Ok(PyValue::Bool(false)),
            b"None" => Ok(PyValue::None),
            _ => {
                self.pos = start;
                Err(self.expected(
                    "a value (True, False, None, a number, a string, a tuple, a list or a dict)",
                ))
            }
        }
    }

    fn integer(&mut self) -> Result<PyValue, SyntaxError> {
        let start = self.pos;
        let mut negative = false;
        while let Some(c @ (b'-' | b'+')) = self.peek() {
            negative ^= c == b'-';
            self.pos += 1;
            self.skip_space();
        }
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.expected("a digit"));
        }
        let mut value: i128 = 0;
        let mut last_was_digit = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => {
                    let digit = i128::from(c - b'0');
                    value = value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(digit))
                        .ok_or_else(|| self.error(start, SyntaxProblem::IntegerTooLarge))?;
                    last_was_digit = true;
                }
                // Python 3.6 digit grouping: `1_000`.
                b'_' if last_was_digit
                    && matches!(self.text.get(self.pos + 1), Some(b'0'..=b'9')) =>
                {
                    last_was_digit = false;
                }
                _ => break,
            }
            self.pos += 1;
        }
        // Python 2 long integers, as old numpy wrote them: `(3L,)`.
        if let Some(b'L' | b'l') = self.peek() {
            self.pos += 1;
        }
        if matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'.' || c == b'_') {
            return Err(self.expected("an integer"));
        }
        Ok(PyValue::Int(if negative { -value } else { value }))
    }

    fn string(&mut self) -> Result<PyValue, SyntaxError> {
        let start = self.pos;
        let Some(quote) = self.peek() else {
            return Err(self.expected("a string"));
        };
        self.pos += 1;
        let mut bytes = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.expected("the closing quote of the string"));
            };
            self.pos += 1;
            match c {
                _ if c == quote => break,
                b'\n' => {
                    self.pos -= 1;
                    return Err(self.expected("the closing quote of the string"));
                }
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.expected("an escaped character"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => bytes.push(b'\n'),
                        b't' => bytes.push(b'\t'),
                        b'r' => bytes.push(b'\r'),
                        b'0' => bytes.push(0),
                        b'\\' | b'\'' | b'"' => bytes.push(e),
                        b'\n' => {}
                        // Unknown escapes keep their backslash, as in Python.
                        _ => {
                            bytes.push(b'\\');
                            bytes.push(e);
                        }
                    }
                }
                _ => bytes.push(c),
            }
        }
        let text = match self.encoding {
            Encoding::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Encoding::Utf8 => String::from_utf8(bytes)
                .map_err(|_| self.error(start, SyntaxProblem::BadStringEncoding))?,
        };
        Ok(PyValue::Str(text))
    }

    /// Comma-separated values up to `close`, trailing comma allowed. Returns
    /// the values and whether a comma followed the last one.
    fn items(&mut self, close: u8, depth: usize) -> Result<(Vec<PyValue>, bool), SyntaxError> {
        let mut values = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((values, trailing_comma));
            }
            values.push(self.value(depth + 1)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    trailing_comma = true;
                }
                Some(c) if c == close => trailing_comma = false,
                _ => return Err(self.expected(close_expectation(close))),
            }
        }
    }

    fn tuple(&mut self, depth: usize) -> Result<PyValue, SyntaxError> {
        self.pos += 1;
        let (mut values, trailing_comma) = self.items(b')', depth)?;
        // `(x)` is just `x` in parentheses; `(x,)` and `()` are tuples.
        if values.len() == 1 && !trailing_comma {
            if let Some(v) = values.pop() {
                return Ok(v);
            }
        }
        Ok(PyValue::Tuple(values))
    }

    fn dict(&mut self, depth: usize) -> Result<PyValue, SyntaxError> {
        self.pos += 1;
        let mut entries = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(PyValue::Dict(entries));
            }
            let key = self.value(depth + 1)?;
            self.skip_space();
            if self.peek() != Some(b':') {
                return Err(self.expected("':' after the dict key"));
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.expected("',' or '}'")),
            }
        }
    }
}

fn close_expectation(close: u8) -> &'static str {
    match close {
        b')' => "',' or ')'",
        b']' => "',' or ']'",
        _ => "','",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PyValue, SyntaxError> {
        parse_literal(s.as_bytes(), Encoding::Utf8)
    }

    fn s(x: &str) -> PyValue {
        PyValue::Str(x.to_string())
    }

    #[test]
    fn numpy_header() {
        let v = parse("{'descr': '<i2', 'fortran_order': False, 'shape': (3, 4), }          \n")
            .expect("valid");
        assert_eq!(
            v,
            PyValue::Dict(vec![
                (s("descr"), s("<i2")),
                (s("fortran_order"), PyValue::Bool(false)),
                (
                    s("shape"),
                    PyValue::Tuple(vec![PyValue::Int(3), PyValue::Int(4)])
                ),
            ])
        );
    }

    #[test]
    fn tuples() {
        assert_eq!(parse("()"), Ok(PyValue::Tuple(vec![])));
        assert_eq!(parse("( )"), Ok(PyValue::Tuple(vec![])));
        assert_eq!(parse("(3,)"), Ok(PyValue::Tuple(vec![PyValue::Int(3)])));
        assert_eq!(parse("( 3 , )"), Ok(PyValue::Tuple(vec![PyValue::Int(3)])));
        assert_eq!(parse("(3)"), Ok(PyValue::Int(3)));
        assert_eq!(
            parse("[1,2,]"),
            Ok(PyValue::List(vec![PyValue::Int(1), PyValue::Int(2)]))
        );
        assert_eq!(
            parse("(3L, 1_000)"),
            Ok(PyValue::Tuple(vec![PyValue::Int(3), PyValue::Int(1000)]))
        );
        assert_eq!(parse("-5"), Ok(PyValue::Int(-5)));
    }

    #[test]
    fn strings() {
        assert_eq!(parse("\"<f8\""), Ok(s("<f8")));
        assert_eq!(parse("u'abc'"), Ok(s("abc")));
        assert_eq!(parse(r"'a\'b'"), Ok(s("a'b")));
        let latin = parse_literal(b"'\xe9'", Encoding::Latin1).expect("latin-1");
        assert_eq!(latin, s("\u{e9}"));
        assert!(parse_literal(b"'\xe9'", Encoding::Utf8).is_err());
    }

    #[test]
    fn errors() {
        let e = parse("{'a' 1}").expect_err("missing colon");
        assert_eq!(e.offset, 5);
        assert!(parse("{'a': 1").is_err());
        assert!(parse("{'a': 1} x").is_err());
        assert!(parse("Tru").is_err());
        assert!(parse("1.5").is_err());
        assert!(parse("'abc").is_err());
        assert_eq!(
            parse("99999999999999999999999999999999999999999").map_err(|e| e.problem),
            Err(SyntaxProblem::IntegerTooLarge)
        );
        let deep = "(".repeat(10_000);
        assert_eq!(
            parse(&deep).map_err(|e| e.problem),
            Err(SyntaxProblem::TooDeep)
        );
    }
}
