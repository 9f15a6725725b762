//! A fuzz test on stable Rust (cargo fuzz needs nightly) over the request-head parser and the body
//! decoder: mutations of a seed corpus of hostile requests, checked against invariants, plus a
//! differential check that any valid chunked encoding decodes to its payload.
//!
//! `cargo test --lib fuzz` runs a bounded number of cases (CI); `make fuzz` runs
//! `TINYFC_FUZZ_SECS=60` (any number of seconds) of them.

use std::io;
use std::time::{Duration, Instant};

use crate::body::{BodyError, Input};
use crate::head::{parse_head, BodyKind};

const MAX_HEAD: usize = 1024;
const MAX_BODY: usize = 4096;

/// Seeds: the shapes of issue 6 (smuggling, bad chunks, control bytes, absurd methods and URIs).
const SEEDS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /invoke HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
    b"GET /\x00\x7f HTTP/1.1\r\nX: \x01\r\n\r\n",
    b"G\xc3\xa9T / HTTP/1.1\r\n\r\n",
    b"GET http://x/../../etc/passwd HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    b"GET / HTTP/1.1\r\n Folded: header\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
];

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked",
    b"chunked",
    b", ",
    b";",
    b":",
    b" ",
    b"\t",
    b"\0",
    b"\x7f",
    b"\xff",
    b"0",
    b"ffffffff",
    b"99999999999999999999",
    b"-",
    b"HTTP/1.0",
];

/// xorshift64*: small, seedable, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(6) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 => input.insert(at, rng.next() as u8),
            2 if !input.is_empty() => {
                let end = (at + rng.below(8)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                input.splice(at..at, t.iter().copied());
            }
            4 if !input.is_empty() => {
                let from = rng.below(input.len());
                let end = (from + rng.below(16)).min(input.len());
                let piece = input[from..end].to_vec();
                input.splice(at..at, piece);
            }
            _ => {
                let other = SEEDS[rng.below(SEEDS.len())];
                let cut = rng.below(other.len());
                input.truncate(at);
                input.extend_from_slice(&other[cut..]);
            }
        }
    }
}

/// Parses `input` as a request and decodes its body; panics if an invariant breaks.
fn check(input: &[u8]) {
    let head = match parse_head(input, MAX_HEAD) {
        Ok(Some(head)) => head,
        Ok(None) => {
            assert!(
                input.len() <= MAX_HEAD,
                "a partial head may not exceed the limit"
            );
            return;
        }
        Err(r) => {
            assert!([400, 431, 501].contains(&r.status), "status {}", r.status);
            return;
        }
    };
    assert!(head.len <= input.len() && head.len <= MAX_HEAD);
    // The head parses the same without what follows it: no dependence on body bytes.
    let again = parse_head(&input[..head.len], MAX_HEAD).unwrap().unwrap();
    assert_eq!((again.len, again.body), (head.len, head.body));
    assert_eq!(again.headers, head.headers);
    // The headers are what httparse saw, each built the plain way: name lower-cased, value
    // trimmed of spaces and tabs, invalid UTF-8 replaced (`Headers` slices one copy instead).
    let mut raw = vec![httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut raw);
    assert!(req.parse(&input[..head.len]).unwrap().is_complete());
    let expected: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value);
            let value = value.trim_matches(|c| c == ' ' || c == '\t');
            (h.name.to_ascii_lowercase(), value.to_string())
        })
        .collect();
    let got: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, expected);
    let mut buf = input[head.len..].to_vec();
    let before = buf.len();
    let mut body_input = Input {
        buf: &mut buf,
        src: io::empty(),
    };
    match body_input.body(head.body, MAX_BODY) {
        Ok(body) => {
            assert!(body.len() <= MAX_BODY);
            assert!(buf.len() <= before, "decoding never invents input");
            if let BodyKind::Length(n) = head.body {
                assert_eq!(body.len() as u64, n);
            }
        }
        Err(BodyError::Gone) => {} // input ended early: the request never runs
        Err(BodyError::Reject(r)) => {
            assert!([400, 413, 431].contains(&r.status), "status {}", r.status)
        }
    }
}

/// A random valid chunked encoding of `payload`, with extensions and trailers.
fn encode_chunked(rng: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len());
        let ext = if rng.below(3) == 0 { ";a=b" } else { "" };
        let hex = if rng.below(2) == 0 {
            format!("{n:x}")
        } else {
            format!("{n:X}")
        };
        out.extend_from_slice(format!("{hex}{ext}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n");
    if rng.below(2) == 0 {
        out.extend_from_slice(b"X-Trailer: 1\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// How long or how many cases: `TINYFC_FUZZ_SECS` if set, else a bounded count for CI.
fn budget() -> (Option<Instant>, usize) {
    match std::env::var("TINYFC_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(secs) => (Some(Instant::now() + Duration::from_secs(secs)), usize::MAX),
        None => (None, 200_000),
    }
}

#[test]
fn fuzz_parser_and_body_decoder_hold_their_invariants() {
    for seed in SEEDS {
        check(seed);
    }
    let mut rng = Rng(0x7153_f00d_cafe_0001);
    let (until, cases) = budget();
    let mut input = Vec::new();
    let mut done = 0;
    while done < cases && !until.is_some_and(|t| done % 1024 == 0 && Instant::now() > t) {
        input.clear();
        input.extend_from_slice(SEEDS[rng.below(SEEDS.len())]);
        mutate(&mut rng, &mut input);
        check(&input);
        done += 1;
    }
    eprintln!("fuzz: {done} mutated requests checked");
}

#[test]
fn fuzz_valid_chunked_encodings_decode_to_their_payload() {
    let mut rng = Rng(0x5eed_0000_0000_0002);
    for _ in 0..2_000 {
        let len = rng.below(300);
        let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let mut buf = encode_chunked(&mut rng, &payload);
        buf.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
        let mut input = Input {
            buf: &mut buf,
            src: io::empty(),
        };
        let body = input.body(BodyKind::Chunked, MAX_BODY).unwrap();
        assert_eq!(body, payload);
        assert_eq!(
            buf, b"GET /next HTTP/1.1\r\n\r\n",
            "the next request is left intact"
        );
    }
}
