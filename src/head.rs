//! Request heads: parsed with `httparse`, then checked (line endings, request target,
//! Content-Length, Transfer-Encoding, Connection, Expect, Host). What is malformed is decided here,
//! as a [`Reject`] with the status to answer; trailers are held to the same field rules
//! ([`check_trailers`]). The grammar accepted, head and body, is written down in one place:
//! docs/hardening.md, section "Accepted grammar".

use std::mem::MaybeUninit;

use crate::grammar::{is_token, trim_blanks};
use crate::headers::Headers;

/// The most headers a request may have; more is answered 431.
const MAX_HEADERS: usize = 128;

/// A request head, parsed and checked.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    /// Header names lower-cased, values as text (invalid UTF-8 replaced).
    pub(crate) headers: Headers,
    /// Bytes of the head, including the final blank line.
    pub(crate) len: usize,
    pub(crate) body: BodyKind,
    pub(crate) keep_alive: bool,
    /// An HTTP/1.0 request (else 1.1): a kept connection is answered `connection: keep-alive`.
    pub(crate) http10: bool,
    /// An HTTP/1.1 client asked for `100 Continue` (never sent to 1.0 clients: RFC 9110 10.1.1).
    pub(crate) expect_continue: bool,
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Length(u64),
    Chunked,
}

/// A request the server refuses: answered with `status` and the connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reject {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
}

pub(crate) const fn reject(status: u16, message: &'static str) -> Reject {
    Reject { status, message }
}

/// Headers parsed into a stack array first; a head with more is parsed again on the heap.
const FEW_HEADERS: usize = 32;
const TOO_MANY_HEADERS: Reject = reject(431, "too many headers");

/// Parses the head at the start of `buf`: `Ok(None)` while incomplete.
pub(crate) fn parse_head(buf: &[u8], max_bytes: usize) -> Result<Option<Head>, Reject> {
    // Most heads fit a small array; the rare larger one costs a second parse (`parse_many`), and
    // every thread's stack stays a page shallower. Left uninitialised: httparse writes what it
    // returns, and zeroing 1 KiB of headers cost more than parsing a short head.
    let mut few = [const { MaybeUninit::uninit() }; FEW_HEADERS];
    parse_with(buf, max_bytes, &mut few)
}

/// [`parse_head`] for a head with more than [`FEW_HEADERS`] headers.
#[cold]
fn parse_many(buf: &[u8], max_bytes: usize) -> Result<Option<Head>, Reject> {
    let mut many: Vec<_> = std::iter::repeat_with(MaybeUninit::uninit)
        .take(MAX_HEADERS)
        .collect();
    parse_with(buf, max_bytes, &mut many)
}

fn parse_with<'b>(
    buf: &'b [u8],
    max_bytes: usize,
    headers: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<Head>, Reject> {
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, headers) {
        Ok(httparse::Status::Complete(n)) if n > max_bytes => {
            return Err(reject(431, "request head too large"))
        }
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > max_bytes => {
            return Err(reject(431, "request head too large"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        // Returned from here, not matched by the caller: a head is returned without a copy.
        Err(httparse::Error::TooManyHeaders) if headers.len() < MAX_HEADERS => {
            return parse_many(buf, max_bytes)
        }
        Err(httparse::Error::TooManyHeaders) => return Err(TOO_MANY_HEADERS),
        Err(_) => return Err(reject(400, "malformed request")),
    };
    // httparse takes a bare LF for a line end; RFC 9112 lets a server do so, we do not.
    let start = req.method.map_or(0, |m| offset(buf, m.as_bytes()));
    if !buf[..start].chunks(2).all(|c| c == b"\r\n")
        || !crlf_line_ends(&buf[..len], true, req.headers)
    {
        return Err(reject(400, "bare LF in request head"));
    }
    let version = req.version.unwrap_or(1);
    let method = req.method.unwrap_or("").to_string();
    let path = served_path(&method, req.path.unwrap_or(""))?;
    let headers = Headers::from_head(&buf[..len], req.headers);

    let mut length: Option<u64> = None;
    let mut has_te = false;
    let mut codings: Vec<String> = Vec::new();
    let mut connection = String::new();
    let mut expect_continue = false;
    let mut hosts = 0usize;
    for (name, value) in &headers {
        // On the length first: a `match` on strings alone compares with every arm in turn.
        match (name.len(), name) {
            (14, "content-length") => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(reject(400, "invalid content-length"));
                }
                let n: u64 = value
                    .parse()
                    .map_err(|_| reject(400, "invalid content-length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(reject(400, "conflicting content-length"));
                }
                length = Some(n);
            }
            (17, "transfer-encoding") => {
                has_te = true;
                for coding in value.split(',').map(trim_blanks).filter(|c| !c.is_empty()) {
                    if !is_token(coding.as_bytes()) {
                        return Err(reject(400, "invalid transfer-encoding"));
                    }
                    codings.push(coding.to_ascii_lowercase());
                }
            }
            (10, "connection") => {
                connection.push_str(&value.to_ascii_lowercase());
                connection.push(',');
            }
            (6, "expect") => {
                expect_continue = version == 1 && value.eq_ignore_ascii_case("100-continue")
            }
            (4, "host") => hosts += 1,
            _ => {}
        }
    }
    // RFC 9112 3.2: one Host field line, required in HTTP/1.1; its value (empty when the target
    // has no authority, RFC 9110 7.2) is not checked further.
    if hosts > 1 {
        return Err(reject(400, "repeated host"));
    }
    if hosts == 0 && version == 1 {
        return Err(reject(400, "missing host"));
    }
    let body = match (has_te, length) {
        (true, Some(_)) => return Err(reject(400, "both content-length and transfer-encoding")),
        (true, None) if version == 0 => {
            return Err(reject(400, "transfer-encoding in an HTTP/1.0 request"))
        }
        (true, None) if codings == ["chunked"] => BodyKind::Chunked,
        (true, None) if codings.last().is_some_and(|c| c == "chunked") => {
            return Err(reject(501, "unsupported transfer-encoding"))
        }
        (true, None) => return Err(reject(400, "invalid transfer-encoding")),
        (false, n) => BodyKind::Length(n.unwrap_or(0)),
    };
    let has = |token: &str| connection.split(',').any(|t| trim_blanks(t) == token);
    let keep_alive = if version == 0 {
        has("keep-alive")
    } else {
        !has("close")
    };
    Ok(Some(Head {
        method,
        path,
        headers,
        len,
        body,
        keep_alive,
        http10: version == 0,
        expect_continue,
    }))
}

const BAD_TARGET: Reject = reject(400, "bad request target");

/// The path a request with `target` is served by: an origin-form target (`/p?q`) itself, else
/// [`other_form`]'s.
fn served_path(method: &str, target: &str) -> Result<String, Reject> {
    if target.starts_with('/') && method != "CONNECT" {
        return Ok(target.to_string());
    }
    other_form(method, target)
}

/// An absolute-form target's path and query (`http://host/p?q` is `/p?q`, `https://host` is `/`),
/// which RFC 9112 3.2.2 has a server route on; `*` for OPTIONS alone. CONNECT asks for a tunnel:
/// 501. Anything else is 400.
#[cold]
fn other_form(method: &str, target: &str) -> Result<String, Reject> {
    if method == "CONNECT" {
        return Err(reject(501, "CONNECT is not supported"));
    }
    if target == "*" && method == "OPTIONS" {
        return Ok(target.to_string());
    }
    // The scheme in any case (RFC 9110 4.2.3); a host, without userinfo (RFC 9110 4.2.4).
    let rest = without_prefix_any_case(target, "http://")
        .or_else(|| without_prefix_any_case(target, "https://"))
        .ok_or(BAD_TARGET)?;
    let host_end = rest.bytes().position(|b| b == b'/' || b == b'?');
    let (host, tail) = rest.split_at(host_end.unwrap_or(rest.len()));
    if host.is_empty() || host.bytes().any(|b| b == b'@') {
        return Err(BAD_TARGET);
    }
    let mut path = String::from(if tail.starts_with('/') { "" } else { "/" });
    path.push_str(tail);
    Ok(path)
}

/// `s` without `prefix`, matched in any case; None if `s` does not start with it.
fn without_prefix_any_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let (head, rest) = s.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

/// Where `part` (a slice of `buf`) starts in `buf`.
fn offset(buf: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - buf.as_ptr() as usize
}

/// True if every line of `block` (a head, or a trailer section, that httparse parsed into
/// `fields`, ending with its blank line) ends with CRLF. httparse rejects a bare CR and an LF
/// inside a line, so every LF in it ends a line: the one before each field line, and the blank
/// line's and the line's before it (the last four bytes). No scan of the whole block.
fn crlf_line_ends(block: &[u8], start_line: bool, fields: &[httparse::Header<'_>]) -> bool {
    let ends_ok = if start_line || !fields.is_empty() {
        block.ends_with(b"\r\n\r\n")
    } else {
        block == b"\r\n"
    };
    let line_ok = |at: usize| at < 2 || &block[at - 2..at] == b"\r\n";
    ends_ok
        && fields
            .iter()
            .all(|f| line_ok(offset(block, f.name.as_bytes())))
}

/// Checks a trailer section (its field lines and the blank line, CRLFs included) by the head's
/// field rules: httparse's field-line parse, CRLF line ends, at most [`MAX_HEADERS`] fields.
pub(crate) fn check_trailers(block: &[u8]) -> Result<(), Reject> {
    let mut fields = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::parse_headers(block, &mut fields) {
        Ok(httparse::Status::Complete((n, parsed)))
            if n == block.len() && crlf_line_ends(block, false, parsed) =>
        {
            Ok(())
        }
        Err(httparse::Error::TooManyHeaders) => Err(reject(431, "too many trailers")),
        _ => Err(reject(400, "malformed trailer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<Head>, Reject> {
        parse_head(s.as_bytes(), 1024)
    }

    #[test]
    fn incomplete_head_waits_and_oversized_head_is_431() {
        assert!(parse("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(2000));
        assert_eq!(parse(&long).unwrap_err().status, 431);
    }

    #[test]
    fn smuggling_shapes_are_rejected() {
        let both =
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(both).unwrap_err().status, 400);
        let two = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        assert_eq!(parse(two).unwrap_err().status, 400);
        let gz = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(parse(gz).unwrap_err().status, 501);
        let signed = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n";
        assert_eq!(parse(signed).unwrap_err().status, 400);
        assert_eq!(parse("GET httpx HTTP/1.1\r\n\r\n").unwrap_err().status, 400);
        let absolute = "GET http://h/p HTTP/1.1\r\nHost: h\r\n\r\n";
        assert!(parse(absolute).unwrap().is_some());
    }

    #[test]
    fn targets_are_served_in_origin_form() {
        for (method, target, path) in [
            ("GET", "/a?b", "/a?b"),
            ("GET", "http://h/a?b", "/a?b"),
            ("GET", "hTTpS://h:1/a", "/a"),
            ("GET", "http://h", "/"),
            ("GET", "http://h?b", "/?b"),
            ("OPTIONS", "*", "*"),
        ] {
            assert_eq!(served_path(method, target).as_deref(), Ok(path), "{target}");
        }
        for (method, target, status) in [
            ("GET", "http://", 400),
            ("GET", "http:///a", 400),
            ("GET", "http://u@h/a", 400),
            ("GET", "h:80", 400),
            ("GET", "*", 400),
            ("CONNECT", "h:443", 501),
        ] {
            let refused = served_path(method, target).map_err(|r| r.status);
            assert_eq!(refused, Err(status), "{method} {target}");
        }
    }

    #[test]
    fn line_ends_are_crlf_and_codings_are_tokens() {
        for bad in [
            "GET / HTTP/1.1\nX: y\r\n\r\n",
            "GET / HTTP/1.1\r\nX: y\n\r\n",
            "GET / HTTP/1.1\r\n\n",
            "\nGET / HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\u{a0}\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
        ] {
            assert_eq!(parse(bad).unwrap_err().status, 400, "{bad:?}");
        }
        let ok = "\r\nPOST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,\tChunked ,\r\n\r\n";
        assert_eq!(parse(ok).unwrap().unwrap().body, BodyKind::Chunked);
    }

    #[test]
    fn trailers_are_field_lines_ending_in_crlf() {
        for ok in [&b"\r\n"[..], b"X: 1\r\n\r\n", b"X: 1\r\nY:\r\n\r\n"] {
            assert_eq!(check_trailers(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            &b"X\r\n\r\n"[..],
            b"X: 1\r\n y\r\n\r\n",
            b"X: 1\n\r\n",
            b"\n",
        ] {
            assert_eq!(check_trailers(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn http_1_0_never_expects_100_continue() {
        let ask = |v: &str| format!("POST / HTTP/1.{v}\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
        assert!(parse(&ask("1")).unwrap().unwrap().expect_continue);
        let old = parse(&ask("0")).unwrap().unwrap();
        assert!(old.http10 && !old.expect_continue);
    }

    #[test]
    fn heads_with_many_headers_parse_up_to_the_limit() {
        let head = |n: usize| {
            // Host is one of the `n`.
            let mut h = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
            for i in 1..n {
                h.push_str(&format!("x-h{i}: v\r\n"));
            }
            h + "\r\n"
        };
        for n in [FEW_HEADERS, FEW_HEADERS + 1, MAX_HEADERS] {
            let parsed = parse_head(head(n).as_bytes(), 1 << 20).unwrap().unwrap();
            assert_eq!(parsed.headers.len(), n);
        }
        let r = parse_head(head(MAX_HEADERS + 1).as_bytes(), 1 << 20).unwrap_err();
        assert_eq!(r, TOO_MANY_HEADERS);
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        let kept = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(parse(kept).unwrap().unwrap().keep_alive);
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap().keep_alive);
        let ka = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
        assert!(parse(ka).unwrap().unwrap().keep_alive);
        let close = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        assert!(!parse(close).unwrap().unwrap().keep_alive);
    }

    #[test]
    fn host_is_required_in_http_1_1_and_never_repeated() {
        let missing = parse("GET / HTTP/1.1\r\nX: y\r\n\r\n").unwrap_err();
        assert_eq!(missing, reject(400, "missing host"));
        for twice in [
            "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nhost: a\r\nX: y\r\nHOST: b\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost:\r\nHost:\r\n\r\n",
        ] {
            assert_eq!(
                parse(twice).unwrap_err(),
                reject(400, "repeated host"),
                "{twice:?}"
            );
        }
        // HTTP/1.0 may leave it out; an empty value (a target without authority) is allowed.
        for ok in [
            "GET / HTTP/1.0\r\n\r\n",
            "GET / HTTP/1.1\r\nHost:\r\n\r\n",
            "GET / HTTP/1.1\r\nHOST: a.example:8080\r\n\r\n",
        ] {
            assert!(parse(ok).unwrap().is_some(), "{ok:?}");
        }
    }
}
