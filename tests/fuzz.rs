//! A fuzz test on stable Rust (cargo fuzz needs nightly), through real sockets and public API
//! only: mutations of hostile requests sent to the probe, mutations of responses read by the
//! public client (`tinyfc::client`, which decodes bodies with the server's decoder), and random
//! valid chunked encodings that must come back whole. Invariants are checked on what comes back,
//! with httparse as the oracle for the headers a handler sees.
//!
//! `cargo test --test fuzz` runs a bounded number of cases (CI); `make fuzz` runs each test for
//! `TINYFC_FUZZ_SECS` seconds (`FUZZ_SECS`, default 60).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tinyfc_harness::*;

/// The probe's limits while fuzzed: small, so that 413 and 431 are reached.
const MAX_HEAD: usize = 1024;
const MAX_BODY: usize = 4096;

/// Seeds: well-formed requests (most to `/headers`, for the header oracle, and `/echo`) and the
/// hostile shapes: smuggling, bad chunks, control bytes, bare LF, absurd methods and targets, a
/// missing or repeated Host. No path is a few mutations away from the probe's failing or slow
/// paths (`/with-header`, `/status/`, `/sleep/`, `/spin/`, `/panic`, `/error`).
const SEEDS: &[&[u8]] = &[
    b"GET /headers HTTP/1.1\r\nHost: a\r\nX-A:  b \r\n\r\n",
    b"GET /headers HTTP/1.1\r\nA: 1\r\nB:\r\nHost: a\r\nC: \xc3\xa9\xff\r\nD: x y\r\n\r\nGET /headers HTTP/1.1\r\nHost:\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 0\r\n\r\nGET /headers HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \xc2\xa0\r\n\r\n0\r\nT\r\n\r\n",
    b"GET /headers\x00\x7f HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
    b"G\xc3\xa9T /headers HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://x/../../etc/passwd HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    b"GET /headers HTTP/1.1\r\n Folded: header\r\nHost: a\r\n\r\n",
    b"GET /headers HTTP/1.1\nHost: a\nX: y\n\n",
    b"GET /headers HTTP/9.9\r\nHost: a\r\n\r\n",
    b"GET /headers HTTP/1.1\r\nX: y\r\n\r\n",
    b"GET /headers HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
];

/// Response seeds for the client.
const RESPONSE_SEEDS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nthe body runs until the close",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nabc",
];

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked",
    b"chunked",
    b", ",
    b";",
    b":",
    b"=",
    b" ",
    b"\t",
    b"\0",
    b"\x7f",
    b"\xff",
    b"\xc2\xa0",
    b"0",
    b"ffffffffffffffff",
    b"99999999999999999999",
    b"-",
    b"HTTP/1.0",
    b"Host: ",
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

/// One to four mutations: flip a bit, insert a byte or a token, delete or copy a run, or splice
/// in the tail of another seed.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[&[u8]]) {
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
                let other = seeds[rng.below(seeds.len())];
                let cut = rng.below(other.len());
                input.truncate(at);
                input.extend_from_slice(&other[cut..]);
            }
        }
    }
}

/// Runs `case` until `TINYFC_FUZZ_SECS` pass, if set, else `count` times; returns how many ran.
fn run(count: usize, mut case: impl FnMut()) -> usize {
    let until = std::env::var("TINYFC_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(|secs| Instant::now() + Duration::from_secs(secs));
    let mut done = 0;
    while match until {
        Some(t) => Instant::now() < t,
        None => done < count,
    } {
        case();
        done += 1;
    }
    done
}

fn fuzzed_probe() -> Function {
    Function::start(
        "probe",
        &[
            ("TINYFC_MAX_HEADER_BYTES", &MAX_HEAD.to_string()),
            ("TINYFC_MAX_BODY_BYTES", &MAX_BODY.to_string()),
            // Long: every input ends with a half-close, which must end the connection at once
            // (no 408, no wait for the idle timeout).
            ("TINYFC_HEADER_TIMEOUT_MS", "30000"),
            ("TINYFC_IDLE_TIMEOUT_MS", "30000"),
            ("RUST_LOG", "warn"),
        ],
    )
}

/// One answer on the wire: status, headers (names lower-case) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(k, _)| k == name);
        found.map(|(_, v)| v.as_str())
    }
}

/// The answers in `bytes`, in order (interim 1xx ones left out); an error if any is malformed.
fn answers(mut bytes: &[u8]) -> Result<Vec<Answer>, String> {
    let mut all = Vec::new();
    while !bytes.is_empty() {
        let mut raw = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut raw);
        let n = match resp.parse(bytes).map_err(|e| e.to_string())? {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => return Err("a partial answer".into()),
        };
        let status = resp.code.unwrap_or(0);
        let headers: Vec<(String, String)> = resp
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value).into_owned();
                (h.name.to_ascii_lowercase(), value)
            })
            .collect();
        bytes = &bytes[n..];
        if status == 100 {
            continue;
        }
        let length = headers.iter().find(|(k, _)| k == "content-length");
        let length: usize = match length {
            Some((_, v)) => v.parse().map_err(|_| format!("content-length {v:?}"))?,
            None if status == 204 => 0,
            None => return Err(format!("{status} without content-length")),
        };
        if bytes.len() < length {
            return Err("a body cut short".into());
        }
        all.push(Answer {
            status,
            headers,
            body: bytes[..length].to_vec(),
        });
        bytes = &bytes[length..];
    }
    Ok(all)
}

/// Sends `input` to the probe on a fresh connection, half-closes it at once, and checks what comes
/// back: the connection closes (no wait for a timeout); only well-formed answers of expected
/// statuses; nothing after a rejection; a `/headers` answer is the headers httparse finds in the
/// request, as a handler sees them (names lower-cased, values trimmed of spaces and tabs, invalid
/// UTF-8 replaced), from a head with CRLF line ends only and one Host line (none only in HTTP/1.0).
fn check_request(f: &Function, input: &[u8]) {
    let shown = || String::from_utf8_lossy(input).into_owned();
    let mut s = f.raw();
    let _ = s.write_all(input); // a rejection may come before the end of it
    let _ = s.shutdown(Shutdown::Write);
    let (out, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert!(closed, "left open after a half-close: {:?}", shown());
    let all = answers(&out)
        .unwrap_or_else(|e| panic!("{e}: {:?} -> {:?}", shown(), String::from_utf8_lossy(&out)));
    for (i, a) in all.iter().enumerate() {
        assert!(
            [200, 400, 413, 431, 501].contains(&a.status),
            "{} to {:?}",
            a.status,
            shown()
        );
        if a.status >= 400 {
            assert_eq!(
                i + 1,
                all.len(),
                "an answer after a rejection: {:?}",
                shown()
            );
            assert_eq!(a.header("connection"), Some("close"), "{:?}", shown());
        }
    }
    let Some(first) = all.first().filter(|a| a.status == 200) else {
        return;
    };
    let mut raw = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut raw);
    let Ok(httparse::Status::Complete(len)) = req.parse(input) else {
        panic!("200 to a head httparse rejects: {:?}", shown());
    };
    let head = &input[..len];
    let bare = |i: usize, b: &u8| {
        (*b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
            || (*b == b'\r' && head.get(i + 1) != Some(&b'\n'))
    };
    assert!(
        !head.iter().enumerate().any(|(i, b)| bare(i, b)),
        "200 to a head with a bare LF or CR: {:?}",
        shown()
    );
    let hosts = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("host"));
    let hosts = hosts.count();
    assert!(
        hosts == 1 || (hosts == 0 && req.version == Some(0)),
        "200 to a head with {hosts} Host lines: {:?}",
        shown()
    );
    if req.path == Some("/headers") {
        let mut expected = String::new();
        for h in req.headers.iter() {
            let value = String::from_utf8_lossy(h.value);
            let value = value.trim_matches(|c| c == ' ' || c == '\t');
            expected.push_str(&format!("{}: {value}\n", h.name.to_ascii_lowercase()));
        }
        assert_eq!(
            String::from_utf8_lossy(&first.body),
            expected,
            "{:?}",
            shown()
        );
    }
}

#[test]
fn fuzz_mutated_requests_get_well_formed_answers_and_never_smuggle() {
    let f = fuzzed_probe();
    for seed in SEEDS {
        check_request(&f, seed);
    }
    let f = &f;
    let total: usize = thread::scope(|sc| {
        let fuzzers: Vec<_> = (0..4u64)
            .map(|t| {
                sc.spawn(move || {
                    let mut rng = Rng(0x7153_f00d_cafe_0001 + t);
                    let mut input = Vec::new();
                    run(1000, || {
                        input.clear();
                        input.extend_from_slice(SEEDS[rng.below(SEEDS.len())]);
                        mutate(&mut rng, &mut input, SEEDS);
                        check_request(f, &input);
                    })
                })
            })
            .collect();
        fuzzers.into_iter().map(|t| t.join().unwrap()).sum()
    });
    eprintln!("fuzz: {total} mutated requests checked");
    assert!(!f.stderr().contains("panicked"), "{}", f.stderr());
    assert_still_serving(f);
}

/// A random valid chunked encoding of `payload`, with extensions and trailers.
fn encode_chunked(rng: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len());
        let ext = ["", ";a", ";a=b", ";a=b;c=D-1"][rng.below(4)];
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
        out.extend_from_slice(b"X-Trailer: 1\r\nY:\t2 \r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[test]
fn fuzz_valid_chunked_encodings_decode_to_their_payload_and_the_next_request_is_served() {
    let f = fuzzed_probe();
    let mut rng = Rng(0x5eed_0000_0000_0002);
    let mut conn = f.connect();
    let done = run(300, || {
        let payload: Vec<u8> = (0..rng.below(MAX_BODY)).map(|_| rng.next() as u8).collect();
        let mut req =
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend_from_slice(&encode_chunked(&mut rng, &payload));
        req.extend_from_slice(b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n");
        conn.stream().write_all(&req).unwrap();
        let echoed = conn.read_response(false).unwrap();
        assert_eq!((echoed.status, &echoed.body), (200, &payload));
        let next = conn.read_response(false).unwrap();
        assert_eq!((next.status, next.text().as_str()), (200, "hello"));
    });
    eprintln!("fuzz: {done} chunked encodings checked");
}

/// A server that answers each connection's request with the next bytes from the channel, then
/// closes its side.
fn scripted_server() -> (std::net::SocketAddr, mpsc::Sender<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    thread::spawn(move || {
        for answer in rx {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(n @ 1..) => head.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let _ = s.write_all(&answer);
            let _ = s.shutdown(Shutdown::Write);
            let _ = s.set_read_timeout(Some(HANG));
            while let Ok(1..) = s.read(&mut buf) {} // until the client closes
        }
    });
    (addr, tx)
}

#[test]
fn fuzz_the_client_reads_mutated_responses_without_panicking_or_overrunning_its_limit() {
    let (addr, answers) = scripted_server();
    let mut rng = Rng(0xc11e_0000_0000_0003);
    let mut input = Vec::new();
    let done = run(2000, || {
        input.clear();
        input.extend_from_slice(RESPONSE_SEEDS[rng.below(RESPONSE_SEEDS.len())]);
        mutate(&mut rng, &mut input, RESPONSE_SEEDS);
        answers.send(input.clone()).unwrap();
        let mut c = tinyfc::client::Connection::connect(addr, HANG).unwrap();
        c.set_max_body(MAX_BODY);
        let shown = || String::from_utf8_lossy(&input).into_owned();
        match c.request("GET", "/", &[], b"") {
            Ok(r) => {
                assert!(r.body.len() <= MAX_BODY, "{:?}", shown());
                let length = r.header("content-length").filter(|_| {
                    r.header("transfer-encoding").is_none() && r.status != 204 && r.status != 304
                });
                if let Some(n) = length {
                    assert_eq!(n.parse::<usize>().ok(), Some(r.body.len()), "{:?}", shown());
                }
            }
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                ),
                "{e:?} for {:?}",
                shown()
            ),
        }
    });
    eprintln!("fuzz: {done} mutated responses read by the client");
}
