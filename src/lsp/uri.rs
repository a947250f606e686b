//! `file://` URIs and paths. Only what an editor sends: absolute paths,
//! percent-encoded bytes, an optional empty or `localhost` authority.

use lsp_types::Uri;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The path of a `file:` URI; `None` for other schemes (`untitled:` buffers).
pub fn to_path(uri: &Uri) -> Option<PathBuf> {
    let s = uri.as_str();
    let rest = s.strip_prefix("file://")?;
    let path = if rest.starts_with('/') {
        rest
    } else {
        // `file://localhost/...` (or another host: treat it as local).
        &rest[rest.find('/')?..]
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let bytes = decode(path)?;
    // Windows drive letters arrive as `/C:/...`.
    let text = String::from_utf8(bytes).ok()?;
    let text = match text.as_bytes() {
        [b'/', d, b':', ..] if d.is_ascii_alphabetic() && cfg!(windows) => text[1..].to_string(),
        _ => text,
    };
    Some(PathBuf::from(text))
}

/// The `file:` URI of an absolute path.
pub fn from_path(path: &Path) -> Option<Uri> {
    let text = path.to_str()?.replace('\\', "/");
    let mut out = String::from("file://");
    if !text.starts_with('/') {
        out.push('/');
    }
    for b in text.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"/-_.~:".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::from_str(&out).ok()
}

fn decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_spaces_and_unicode() {
        let p = Path::new("/home/me/my models/séance.cnn");
        let uri = from_path(p).unwrap();
        assert_eq!(uri.as_str(), "file:///home/me/my%20models/s%C3%A9ance.cnn");
        assert_eq!(to_path(&uri).unwrap(), p);
    }

    #[test]
    fn other_schemes_have_no_path() {
        let uri = Uri::from_str("untitled:Untitled-1").unwrap();
        assert_eq!(to_path(&uri), None);
        let local = Uri::from_str("file://localhost/tmp/a.cnn").unwrap();
        assert_eq!(to_path(&local).unwrap(), Path::new("/tmp/a.cnn"));
    }
}
