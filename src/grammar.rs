//! The pieces of HTTP/1.1 syntax tinyfc checks itself, beside what httparse checks for it: tokens
//! (transfer codings, chunk extensions, response header names), field values (response headers)
//! and chunk-size lines; and the two ways a parsed piece is read: a value without its optional
//! whitespace, a target without its query. The whole accepted grammar is in docs/hardening.md,
//! "Accepted grammar".

/// `tchar` of RFC 9110 section 5.6.2: the characters of a token.
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~')
}

/// [`is_tchar`] of every byte: one load per byte where the `matches!` is a chain of compares
/// (every answer's header names are checked).
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_tchar(b as u8);
        b += 1;
    }
    table
};

/// A space or a tab: RFC 9110's optional whitespace (not Unicode's white space).
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without surrounding blanks: a header value as the parser hands it on, the items of a
/// comma-separated list.
pub(crate) fn trim_blanks(s: &str) -> &str {
    s.trim_matches(|c| u8::try_from(c).is_ok_and(is_blank))
}

/// [`trim_blanks`] for bytes: a header value as httparse finds it (not yet known to be UTF-8).
pub(crate) fn trim_blank_bytes(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(start, |i| i + 1);
    &s[start..end]
}

/// A request target's path without its query (`/users?id=1` -> `/users`).
pub(crate) fn without_query(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

/// `token = 1*tchar`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| TCHAR[usize::from(b)])
}

/// `field-value` of RFC 9110 section 5.5: visible characters, obs-text (bytes from 0x80), and
/// spaces or tabs between them, never at either end. No control character (CR, LF, NUL, DEL).
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let visible = |b: &u8| (0x21..0x7f).contains(b) || *b >= 0x80;
    s.iter().all(|b| blank(b) || visible(b))
        && !s.first().is_some_and(blank)
        && !s.last().is_some_and(blank)
}

/// The chunk size of a chunk-size line (without its CRLF): `1*16HEXDIG *( ";" token [ "=" (
/// token / quoted-string ) ] )` (RFC 9112 section 7.1.1). No whitespace anywhere (RFC 9112's BWS
/// is not accepted).
pub(crate) fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let (hex, extensions) = line.split_at_checked(digits)?;
    if hex.is_empty() || hex.len() > 16 || !are_chunk_extensions(extensions) {
        return None;
    }
    // At most 16 hex digits: fits a u64.
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// `*( ";" token [ "=" ( token / quoted-string ) ] )`.
fn are_chunk_extensions(mut s: &[u8]) -> bool {
    while let Some(rest) = s.strip_prefix(b";") {
        let Some(rest) = after_token(rest) else {
            return false;
        };
        s = match rest.strip_prefix(b"=") {
            Some(value) if value.first() == Some(&b'"') => match after_quoted_string(value) {
                Some(rest) => rest,
                None => return false,
            },
            Some(value) => match after_token(value) {
                Some(rest) => rest,
                None => return false,
            },
            None => rest,
        };
    }
    s.is_empty()
}

/// What follows the token `s` starts with; None if it starts with none.
fn after_token(s: &[u8]) -> Option<&[u8]> {
    let n = s.iter().take_while(|&&b| is_tchar(b)).count();
    s.get(n..).filter(|_| n > 0)
}

/// What follows the `quoted-string` of RFC 9110 section 5.6.4 that `s` starts with: `DQUOTE *(
/// qdtext / quoted-pair ) DQUOTE`, where qdtext is a tab, a space or a visible character but `"`
/// and `\`, or obs-text, and `quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )`.
fn after_quoted_string(s: &[u8]) -> Option<&[u8]> {
    let text = |b: u8| b == b'\t' || b == b' ' || (0x21..0x7f).contains(&b) || b >= 0x80;
    let mut i = 1; // past the opening quote
    loop {
        match *s.get(i)? {
            b'"' => return s.get(i + 1..),
            b'\\' => {
                if !text(*s.get(i + 1)?) {
                    return None;
                }
                i += 2;
            }
            b if text(b) => i += 1,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_tchars_only() {
        assert!(is_token(b"chunked") && is_token(b"x-A_1.b~!#$%&'*+^`|"));
        for bad in [
            &b""[..],
            b"a b",
            b"a\t",
            b"a:b",
            b"a\"",
            b"caf\xc3\xa9",
            b"a\xc2\xa0",
        ] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn field_values_have_no_controls_and_no_blanks_at_the_ends() {
        for ok in [&b""[..], b"v", b"a b\tc", b"caf\xc3\xa9", b"\x80"] {
            assert!(is_field_value(ok), "{ok:?}");
        }
        for bad in [
            &b" a"[..],
            b"a\t",
            b"a\r\nb",
            b"a\nb",
            b"a\0",
            b"a\x7f",
            b"\x01",
        ] {
            assert!(!is_field_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn chunk_size_lines_are_hex_digits_and_token_extensions() {
        let cases: [(&[u8], Option<u64>); 26] = [
            (b"0", Some(0)),
            (b"fF", Some(255)),
            (b"ffffffffffffffff", Some(u64::MAX)),
            (b"0000000000000001", Some(1)),
            (b"5;a", Some(5)),
            (b"5;a=b;c=d;e", Some(5)),
            (b"00000000000000001", None),
            (b"", None),
            (b" 5", None),
            (b"5 ", None),
            (b"5 ;a", None),
            (b"5;", None),
            (b"5;a=", None),
            (b"5;a=b=c", None),
            (b"5;a\rb", None),
            (b"0x5", None),
            (b"3;name=\"q v\"", Some(3)),
            (b"3;a=\"x;y=\\\"z\\\\\";b;c=\"\"", Some(3)),
            (b"3;a=\"\t\x80\"", Some(3)),
            (b"3;a=\"b", None),
            (b"3;a=\"b\\\"", None),
            (b"3;a=\"b\"c", None),
            (b"3;a=\"b\x7f\"", None),
            (b"3;a=\"b\\\x01\"", None),
            (b"3;\"b\"", None),
            (b"3;a=\"b\" ", None),
        ];
        for (line, size) in cases {
            assert_eq!(
                chunk_size(line),
                size,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
