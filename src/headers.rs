//! The request header store: every header of a request in arrival order, as slices of one copy
//! of the head.

use std::fmt;

use crate::grammar::trim_blank_bytes;

/// Headers whose values are secrets: never logged.
pub(crate) const SECRET_HEADERS: [&str; 3] = [
    "x-fc-access-key-id",
    "x-fc-access-key-secret",
    "x-fc-security-token",
];

/// Headers in order, of a request or a response: names lower-cased (names are case-blind), values
/// as given (invalid UTF-8 replaced); a request's values without the blanks around them, which
/// are not part of a value (RFC 9110 section 5.5). They are slices of one text (of a request, a
/// copy of its head): a request with the platform's twenty `x-fc-*` headers costs two allocations
/// here, not forty, and so does a response's few headers. `Debug` hides the credential values.
#[derive(Clone)]
pub struct Headers {
    /// The names and values, each at its span.
    text: String,
    /// Per header: where its name starts and ends, and its value starts and ends, in `text`.
    spans: Vec<[usize; 4]>,
    /// True while `text` is exactly the headers as HTTP lines, `name: value\r\n` each, in order
    /// (built by `push`, none removed): an answer copies them whole.
    lines: bool,
}

impl Default for Headers {
    fn default() -> Headers {
        Headers {
            text: String::new(),
            spans: Vec::new(),
            lines: true,
        }
    }
}

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// The headers of a request head `head`, as `httparse` found them in it.
    pub(crate) fn from_head(head: &[u8], parsed: &[httparse::Header<'_>]) -> Headers {
        let mut text = head.to_vec();
        let mut spans = Vec::with_capacity(parsed.len());
        let offset = |s: &[u8]| s.as_ptr() as usize - head.as_ptr() as usize;
        for p in parsed {
            let (name, value) = (p.name.as_bytes(), trim_blank_bytes(p.value));
            let n = offset(name);
            // An empty value's slice may not point into `head`.
            let v = if value.is_empty() {
                n + name.len()
            } else {
                offset(value)
            };
            spans.push([n, n + name.len(), v, v + value.len()]);
            // A name is a token (httparse checks): ASCII, so lower-casing keeps the text UTF-8.
            lower_ascii(&mut text[n..][..name.len()]);
        }
        match String::from_utf8(text) {
            Ok(text) => Headers {
                text,
                spans,
                lines: false, // a copy of the whole head
            },
            Err(_) => {
                // Rare: built header by header, invalid UTF-8 replaced.
                let mut h = Headers::new();
                for p in parsed {
                    h.push_bytes(p.name.as_bytes(), trim_blank_bytes(p.value));
                }
                h
            }
        }
    }

    /// Appends a header; the name is stored lower-cased, the value as given.
    pub fn push(&mut self, name: &str, value: &str) {
        if self.text.capacity() == 0 {
            // A response's few headers in one allocation, not one that grows with each.
            self.text.reserve(FIRST_ROOM);
        }
        let name_start = self.text.len();
        self.text.push_str(name);
        if let Some(pushed) = self.text.get_mut(name_start..) {
            pushed.make_ascii_lowercase();
        }
        let name_end = self.text.len();
        self.text.push_str(": ");
        let value_start = self.text.len();
        self.text.push_str(value);
        let value_end = self.text.len();
        self.text.push_str("\r\n");
        self.spans
            .push([name_start, name_end, value_start, value_end]);
    }

    /// Keeps only the headers for which `keep(name, value)` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let (text, before) = (&self.text, self.spans.len());
        self.spans.retain(|span| {
            let (name, value) = at(text, span);
            keep(name, value)
        });
        self.lines &= self.spans.len() == before;
    }

    /// The headers as HTTP lines (`name: value\r\n` each, in order), if that is what the text
    /// holds: headers built by [`Headers::push`], none removed.
    pub(crate) fn as_lines(&self) -> Option<&str> {
        self.lines.then_some(self.text.as_str())
    }

    /// [`Headers::push`] for bytes (a name must be UTF-8; a value's invalid UTF-8 is replaced).
    fn push_bytes(&mut self, name: &[u8], value: &[u8]) {
        let name = String::from_utf8_lossy(name);
        self.push(&name, &String::from_utf8_lossy(value));
    }

    /// The value of the first header named `name` (any case), if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        // Names are stored lower-case, as tinyfc asks for them: an exact compare first, which is
        // several times cheaper than a case-blind one.
        self.iter()
            .find(|(k, _)| *k == name || k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// `(name, value)` pairs in arrival order.
    pub fn iter(&self) -> HeaderIter<'_> {
        HeaderIter {
            headers: self,
            front: 0,
            back: self.spans.len(),
        }
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `i`th header (`i < len()`).
    fn at(&self, i: usize) -> (&str, &str) {
        at(&self.text, &self.spans[i])
    }
}

/// Bytes of text a first push reserves: a response's usual headers.
const FIRST_ROOM: usize = 128;

/// The header of a [`Headers`] whose `text` `span` is. (`get`: every span lies on char
/// boundaries within `text`, so none is empty for want of one.)
fn at<'t>(text: &'t str, span: &[usize; 4]) -> (&'t str, &'t str) {
    let [ns, ne, vs, ve] = *span;
    (
        text.get(ns..ne).unwrap_or_default(),
        text.get(vs..ve).unwrap_or_default(),
    )
}

/// Lower-cases the ASCII letters in `b`, eight bytes at a time: at opt-level "z" the byte loop
/// is not vectorised (about ten instructions a byte, on every header name of every request).
fn lower_ascii(b: &mut [u8]) {
    if b.len() < 8 {
        return b.make_ascii_lowercase();
    }
    let last = b.len() - 8;
    let mut i = 0;
    loop {
        let w: &mut [u8; 8] = (&mut b[i..i + 8]).try_into().expect("8 bytes");
        lower_word(w);
        if i == last {
            return;
        }
        // The last word may overlap the one before it: lower-casing twice changes nothing.
        i = (i + 8).min(last);
    }
}

fn lower_word(w: &mut [u8; 8]) {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_le_bytes(*w);
    if x & HIGH != 0 {
        return w.make_ascii_lowercase(); // not all ASCII: the trick below needs bytes under 0x80
    }
    // Per byte (no carries, all < 0x80): the high bit of x + 0x3f is set from 'A' up, that of
    // x + 0x25 from 'Z' + 1 up; they differ exactly for 'A'..='Z', which gain 0x20.
    let upper = ((x + 0x3f3f_3f3f_3f3f_3f3f) ^ (x + 0x2525_2525_2525_2525)) & HIGH;
    *w = (x | upper >> 2).to_le_bytes();
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Headers {
        let mut h = Headers::new();
        for (name, value) in iter {
            h.push(name.as_ref(), value.as_ref());
        }
        h
    }
}

/// Equal when the same headers come in the same order (not the rest of the head they came with).
impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = HeaderIter<'a>;

    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

/// Manual so that credentials never reach a log through `{:?}` of a request.
impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| {
                let secret = SECRET_HEADERS.contains(&k);
                (k, if secret { "<redacted>" } else { v })
            }))
            .finish()
    }
}

/// The headers of a [`Headers`], in order (and in reverse).
#[derive(Clone)]
pub struct HeaderIter<'a> {
    headers: &'a Headers,
    front: usize,
    back: usize,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        Some(self.headers.at(self.front - 1))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for HeaderIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        Some(self.headers.at(self.back))
    }
}

impl ExactSizeIterator for HeaderIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_keep_order_lower_case_names_and_values_as_given() {
        let mut h = Headers::new();
        h.push("Content-Type", "text/plain");
        h.push("X-Empty", "");
        h.push_bytes(b"x-bin", b"a\xffb");
        h.push("content-type", "second");
        let all: Vec<_> = h.iter().collect();
        assert_eq!(
            all,
            [
                ("content-type", "text/plain"),
                ("x-empty", ""),
                ("x-bin", "a\u{fffd}b"),
                ("content-type", "second"),
            ]
        );
        // Equal by content, whatever the text they were sliced from.
        let mut raw = [httparse::EMPTY_HEADER; 4];
        let mut req = httparse::Request::new(&mut raw);
        let head = b"PUT /other HTTP/1.1\r\nContent-Type:text/plain\r\nx-empty: \r\n\
                     X-Bin: a\xef\xbf\xbdb\r\ncontent-type:  second\r\n\r\n";
        assert!(req.parse(head).unwrap().is_complete());
        assert_eq!(Headers::from_head(head, req.headers), h);
        let reversed: Vec<_> = h.iter().rev().map(|(k, _)| k).collect();
        assert_eq!(
            reversed,
            ["content-type", "x-bin", "x-empty", "content-type"]
        );
        assert_eq!(
            (h.get("CONTENT-TYPE"), h.get("x-none")),
            (Some("text/plain"), None)
        );
        assert_eq!(
            (h.len(), h.iter().len(), Headers::new().is_empty()),
            (4, 4, true)
        );
        // A pushed value keeps its blanks (a response's are checked, not fixed); `retain` keeps
        // order.
        h.push("x-padded", " v\t");
        h.retain(|name, _| name != "content-type");
        let all: Vec<_> = h.iter().collect();
        assert_eq!(
            all,
            [
                ("x-empty", ""),
                ("x-bin", "a\u{fffd}b"),
                ("x-padded", " v\t")
            ]
        );
    }

    #[test]
    fn lower_ascii_matches_std_for_every_byte_at_every_position() {
        for len in 0..20 {
            for b in 0..=255u8 {
                for at in 0..len {
                    let mut mine: Vec<u8> = (0..len as u8).map(|i| b'@' + i).collect();
                    mine[at] = b;
                    let mut std = mine.clone();
                    std.make_ascii_lowercase();
                    lower_ascii(&mut mine);
                    assert_eq!(mine, std, "byte {b:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn headers_from_a_head_are_sliced_lower_cased_and_trimmed() {
        let parse = |head: &[u8]| {
            let mut raw = [httparse::EMPTY_HEADER; 8];
            let mut req = httparse::Request::new(&mut raw);
            assert!(req.parse(head).unwrap().is_complete());
            Headers::from_head(head, req.headers)
        };
        let head = b"GET / HTTP/1.1\r\nX-FC-Request-Id:  r-1 \r\nEmpty:\r\nACCEPT: a/b\r\n\r\n";
        let h = parse(head);
        let all: Vec<_> = h.iter().collect();
        assert_eq!(
            all,
            [("x-fc-request-id", "r-1"), ("empty", ""), ("accept", "a/b")]
        );
        let bad = parse(b"GET / HTTP/1.1\r\nX-Bin: a\xffb\r\nHost: h\r\n\r\n");
        let all: Vec<_> = bad.iter().collect();
        assert_eq!(all, [("x-bin", "a\u{fffd}b"), ("host", "h")]);
    }

    #[test]
    fn headers_debug_hides_credentials() {
        let h: Headers = [("x-fc-security-token", "SECRET2"), ("x-fc-region", "r1")]
            .into_iter()
            .collect();
        let shown = format!("{h:?}");
        assert!(
            !shown.contains("SECRET2") && shown.contains("r1"),
            "{shown}"
        );
    }
}
