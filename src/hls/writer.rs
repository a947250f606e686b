//! A structured writer for C++ text: blocks open and close, indentation
//! follows; callers never count spaces.

#[derive(Default)]
pub struct Code {
    text: String,
    depth: usize,
}

impl Code {
    pub fn new() -> Self {
        Code::default()
    }

    /// One line at the current depth (an empty line stays empty).
    pub fn line(&mut self, line: impl AsRef<str>) -> &mut Self {
        let line = line.as_ref();
        if !line.is_empty() {
            for _ in 0..self.depth {
                self.text.push_str("  ");
            }
            self.text.push_str(line);
        }
        self.text.push('\n');
        self
    }

    pub fn blank(&mut self) -> &mut Self {
        self.line("")
    }

    /// `head {`, then everything until [`Code::close`] one level deeper.
    pub fn open(&mut self, head: impl AsRef<str>) -> &mut Self {
        let head = head.as_ref();
        self.line(if head.is_empty() {
            "{".to_string()
        } else {
            format!("{head} {{")
        });
        self.depth += 1;
        self
    }

    pub fn close(&mut self) -> &mut Self {
        self.close_with("}")
    }

    /// Closes a block with `};` or `} else {` and the like.
    pub fn close_with(&mut self, tail: &str) -> &mut Self {
        self.depth = self.depth.saturating_sub(1);
        self.line(tail)
    }

    /// `} else {`: closes the block and opens the next at the same depth.
    pub fn reopen(&mut self, tail: &str) -> &mut Self {
        self.depth = self.depth.saturating_sub(1);
        self.line(tail);
        self.depth += 1;
        self
    }

    /// A `#pragma HLS ...` line, at the current depth.
    pub fn pragma(&mut self, body: impl AsRef<str>) -> &mut Self {
        self.line(format!("#pragma HLS {}", body.as_ref()))
    }

    pub fn finish(self) -> String {
        self.text
    }
}
