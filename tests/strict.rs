//! Parser strictness and answer validity, through real sockets against the probe: chunk-size
//! lines, transfer codings, trailers, line endings and Host lines are held to the grammar in
//! docs/hardening.md ("Accepted grammar"); HTTP/1.0 clients get what HTTP/1.0 allows; a handler's
//! invalid status or header fails only that invocation.

use std::io::Write;
use std::thread;
use std::time::Duration;

use tinyfc_harness::*;

/// Sends `bytes` on a fresh connection: expects one 400 answer, then a closed connection, and
/// that nothing ran (the smuggled `GET /panic` behind the request included).
fn expect_one_400(f: &Function, bytes: &[u8]) {
    let text = send_raw(f, bytes);
    let shown = String::from_utf8_lossy(bytes);
    assert_eq!(status_of(&text), 400, "{shown:?} -> {text}");
    assert!(text.contains(r#""errorType":"BadRequest""#), "{text}");
    assert_eq!(
        count(&text, "HTTP/1.1 "),
        1,
        "{shown:?}: one answer: {text}"
    );
    assert_eq!(f.state().1, 0, "{shown:?}: an invocation ran");
    assert!(!f.stdout().contains("probe panic"), "{shown:?}: smuggled");
}

/// A chunked POST /echo whose body is `body`, with a smuggled request behind it.
fn chunked_then_smuggled(body: &str) -> Vec<u8> {
    format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}GET /panic HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn chunk_size_lines_with_blanks_bare_cr_or_non_token_extensions_get_400() {
    let f = Function::start("probe", &[]);
    for body in [
        " 0\r\n\r\n",
        "\t0\r\n\r\n",
        "0 \r\n\r\n",
        "0\t\r\n\r\n",
        "0;a\rb\r\n\r\n",
        "0;a\r\r\n\r\n",
        "5 ;a=b\r\nhello\r\n0\r\n\r\n",
        "5;a b\r\nhello\r\n0\r\n\r\n",
        "5;\r\nhello\r\n0\r\n\r\n",
        "5;a=\r\nhello\r\n0\r\n\r\n",
        "5;a=b=c\r\nhello\r\n0\r\n\r\n",
        "5;a=\"b\r\nhello\r\n0\r\n\r\n",
        "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n",
        "5;a=\"b\\\"\r\nhello\r\n0\r\n\r\n",
        "5;a=\"b\x7f\"\r\nhello\r\n0\r\n\r\n",
        "5;a=\"b\\\x01\"\r\nhello\r\n0\r\n\r\n",
        "5;\"b\"\r\nhello\r\n0\r\n\r\n",
    ] {
        expect_one_400(&f, &chunked_then_smuggled(body));
    }
    assert_still_serving(&f);
}

#[test]
fn chunk_extensions_of_tokens_are_accepted() {
    let f = Function::start("probe", &[]);
    let text = send_raw(
        &f,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5;a=b;c\r\nhello\r\n0;last\r\n\r\n",
    );
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.ends_with("\r\n\r\nhello"), "{text}");
}

#[test]
fn chunk_extensions_with_quoted_string_values_are_accepted() {
    let f = Function::start("probe", &[]);
    // RFC 9112 7.1.1: chunk-ext-val = token / quoted-string, with quoted-pair escapes.
    let text = send_raw(
        &f,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          3;name=\"q v\"\r\nhel\r\n2;a=\"x;y=\\\"z\\\\\";b;c=\"\"\r\nlo\r\n0;e=\"\t\x80\"\r\n\r\n",
    );
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.ends_with("\r\n\r\nhello"), "{text}");
}

#[test]
fn chunk_size_line_over_4096_bytes_is_400_whether_or_not_it_came_in_one_read() {
    let f = Function::start("probe", &[]);
    // A chunk-size line of `n` bytes (without its CRLF), extensions making up the length.
    let line = |size: &str, n: usize| format!("{size};a={}", "b".repeat(n - size.len() - 3));
    let echo = |body: &str| {
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n{body}"
        )
    };
    for n in [4097, 8_000, 30_000] {
        // In the buffer whole (the case that was let through), and the last chunk's line too.
        expect_one_400(
            &f,
            &chunked_then_smuggled(&format!("{}\r\nabc\r\n0\r\n\r\n", line("3", n))),
        );
        expect_one_400(
            &f,
            &chunked_then_smuggled(&format!("3\r\nabc\r\n{}\r\n\r\n", line("0", n))),
        );
        // The head first, then the line in a later read.
        let mut s = f.raw();
        s.write_all(echo("").as_bytes()).unwrap();
        thread::sleep(Duration::from_millis(100));
        let _ = s.write_all(format!("{}\r\nabc\r\n0\r\n\r\n", line("3", n)).as_bytes());
        let text = read_to_close(&mut s);
        assert_eq!(status_of(&text), 400, "{n} bytes, split: {text}");
    }
    let longest = format!("{}\r\nabc\r\n{}\r\n\r\n", line("3", 4096), line("0", 4096));
    let text = send_raw(&f, echo(&longest).as_bytes());
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.ends_with("\r\n\r\nabc"), "{text}");
}

#[test]
fn absolute_form_targets_are_served_by_their_path_and_query_and_other_forms_are_refused() {
    let f = Function::start("probe", &[]);
    let close = |line: &str| format!("{line} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    for bad in [
        "GET http://",
        "GET http:///x",
        "GET http://u@h/x",
        "GET ftp://h/",
        "GET *",
    ] {
        expect_one_400(&f, close(bad).as_bytes());
    }
    for connect in ["CONNECT h:443", "CONNECT /"] {
        let text = send_raw(&f, close(connect).as_bytes());
        assert_eq!(status_of(&text), 501, "{connect}: {text}");
    }
    assert_eq!(f.state().1, 0, "an invocation ran");
    // The scheme in any case; the handler sees origin form, `/` when the URL has no path.
    for (target, path) in [
        ("HTTP://h/echo?q=1", "/echo?q=1"),
        ("https://h:8443/echo", "/echo"),
        ("http://h?x=/echo", "/?x=/echo"),
    ] {
        let text = send_raw(&f, close(&format!("POST {target}")).as_bytes());
        assert_eq!(status_of(&text), 200, "{target}: {text}");
        let routed = path.starts_with("/echo");
        assert_eq!(
            text.contains(&format!("x-probe-path: {path}\r\n")),
            routed,
            "{text}"
        );
    }
    assert_eq!(status_of(&send_raw(&f, close("OPTIONS *").as_bytes())), 200);
    // A platform path in absolute form is that platform call: /pre-stop runs the hook.
    let text = send_raw(&f, close("GET http://h/pre-stop").as_bytes());
    assert_eq!(status_of(&text), 200, "{text}");
    assert_eq!(f.counters()[2], 1, "the pre-stop hook did not run");
}

#[test]
fn transfer_coding_ending_in_a_unicode_space_is_not_chunked() {
    let f = Function::start("probe", &[]);
    for te in [
        &b"chunked\xc2\xa0"[..],
        b"\xc2\xa0chunked",
        b"chunked\xe2\x80\x83",
    ] {
        let mut req = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ".to_vec();
        req.extend_from_slice(te);
        req.extend_from_slice(b"\r\n\r\n0\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\n");
        expect_one_400(&f, &req);
    }
    // Spaces and tabs around codings are optional whitespace.
    let text = send_raw(
        &f,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\t chunked \t\r\nConnection: close\r\n\r\n\
          2\r\nok\r\n0\r\n\r\n",
    );
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.ends_with("\r\n\r\nok"), "{text}");
}

#[test]
fn trailers_follow_the_rules_of_head_fields() {
    let f = Function::start("probe", &[]);
    for trailers in [
        "NoColon\r\n",
        "X: a\r\n folded\r\n",
        "X: a\r\n\tfolded\r\n",
        " X: a\r\n",
        "X : a\r\n",
        "X\x01: a\r\n",
        "X: a\x01b\r\n",
        "X: a\rb\r\n",
        ": a\r\n",
    ] {
        expect_one_400(&f, &chunked_then_smuggled(&format!("0\r\n{trailers}\r\n")));
    }
    assert_still_serving(&f);
}

#[test]
fn bare_lf_anywhere_in_the_head_gets_400() {
    let f = Function::start("probe", &[]);
    for head in [
        &b"GET /a HTTP/1.1\nHost: x\n\n"[..],
        b"GET /a HTTP/1.1\nHost: x\r\n\r\n",
        b"GET /a HTTP/1.1\r\nHost: x\n\r\n",
        b"GET /a HTTP/1.1\r\nHost: x\r\n\n",
        b"GET /a HTTP/1.1\r\n\n",
        b"GET /a HTTP/1.1\n\r\n",
        b"\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\r\n\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        expect_one_400(&f, head);
    }
    // An empty line (CRLF) before the request line is ignored, as RFC 9112 section 2.2 allows.
    let text = send_raw(
        &f,
        b"\r\nGET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&text), 200, "{text}");
}

/// Sends `bytes` on a fresh connection and reads until the function closes it: its answer, and
/// a failure if it is still open after 5 s.
fn answer_then_closed(f: &Function, bytes: &[u8]) -> String {
    let mut s = f.raw();
    let _ = s.write_all(bytes);
    let (out, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(
        closed,
        "{:?}: left open: {text}",
        String::from_utf8_lossy(bytes)
    );
    text
}

/// Sends `head` (a request the server must refuse, with a request pipelined behind it): expects
/// 400 naming `why`, the connection closed and said closed, and nothing run (`expect_one_400`).
fn expect_400_closed_saying(f: &Function, head: &[u8], why: &str) {
    let text = answer_then_closed(f, head);
    assert_eq!(status_of(&text), 400, "{text}");
    assert!(text.contains(why), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    expect_one_400(f, head);
}

#[test]
fn http_1_1_without_a_host_line_gets_400_and_the_connection_closes() {
    let f = Function::start("probe", &[]);
    // RFC 9112 3.2; the well-formed request pipelined behind it never runs.
    for head in [
        &b"GET /a HTTP/1.1\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /a HTTP/1.1\r\nX-Host: x\r\nHosts: x\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        expect_400_closed_saying(&f, head, "missing host");
    }
    assert_still_serving(&f);
}

#[test]
fn two_host_lines_get_400_in_http_1_1_and_in_http_1_0() {
    let f = Function::start("probe", &[]);
    for head in [
        &b"GET /a HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /a HTTP/1.1\r\nhost: x\r\nX: y\r\nHOST: y\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /a HTTP/1.1\r\nHost:\r\nHost:\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /a HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n",
        b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\nHost: x\r\nHost: x\r\n\r\n\
          GET /panic HTTP/1.0\r\n\r\n",
    ] {
        expect_400_closed_saying(&f, head, "repeated host");
    }
    assert_still_serving(&f);
}

#[test]
fn http_1_0_without_a_host_line_is_answered() {
    let f = Function::start("probe", &[]);
    let text = answer_then_closed(&f, b"GET /headers HTTP/1.0\r\nX: y\r\n\r\n");
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.contains("\r\n\r\nx: y\n"), "{text}");
}

#[test]
fn an_empty_host_value_is_accepted() {
    let f = Function::start("probe", &[]);
    // RFC 9110 7.2: empty when the target has no authority. The value is not checked further.
    let text = answer_then_closed(
        &f,
        b"GET /headers HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.contains("\r\n\r\nhost: \n"), "{text}");
}

#[test]
fn http_1_0_keep_alive_answer_says_keep_alive_and_the_connection_stays_open() {
    let f = Function::start("probe", &[]);
    let mut conn = f.connect();
    for i in 0..3 {
        let path = format!("/a{i}");
        let req = format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        conn.stream().write_all(req.as_bytes()).unwrap();
        let r = conn.read_response(false).unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "hello"));
        assert_eq!(
            r.header("connection"),
            Some("keep-alive"),
            "{:?}",
            r.headers
        );
    }
    // Without the header, HTTP/1.0 closes.
    conn.stream()
        .write_all(b"GET /last HTTP/1.0\r\n\r\n")
        .unwrap();
    let r = conn.read_response(false).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(f.state().1, 4);
}

#[test]
fn http_1_0_expect_100_continue_gets_no_interim_response() {
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    s.write_all(b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .unwrap();
    // Long enough for the server to find the body missing (when a 1.1 client gets its 100).
    thread::sleep(Duration::from_millis(300));
    s.write_all(b"data").unwrap();
    let text = read_to_close(&mut s);
    assert_eq!(status_of(&text), 200, "{text}");
    assert_eq!(count(&text, "HTTP/1.1 "), 1, "{text}");
    assert!(text.ends_with("data"), "{text}");
}

/// The answer to a handler that broke the response rules: 500, InvalidResponse, the log line.
fn assert_invalid_response(f: &Function, r: &Response, what: &str) {
    assert_eq!(r.status, 500, "{what}: {:?} {}", r.headers, r.text());
    assert_eq!(r.header("x-fc-status"), Some("404"), "{what}");
    assert!(
        r.text().contains(r#""errorType":"InvalidResponse""#),
        "{what}: {}",
        r.text()
    );
    assert!(f.wait_stdout("invalid response"), "{what}: no log line");
}

#[test]
fn handler_status_outside_200_to_999_fails_the_invocation_with_500() {
    let f = Function::start("probe", &[]);
    let mut conn = f.connect();
    for status in [0, 99, 100, 101, 199, 1000, 65535] {
        let r = conn
            .request("GET", &format!("/status/{status}"), &[], b"")
            .unwrap();
        assert_invalid_response(&f, &r, &format!("status {status}"));
    }
    for status in [200, 204, 404, 999] {
        let r = conn
            .request("GET", &format!("/status/{status}"), &[], b"")
            .unwrap();
        assert_eq!(r.status, status);
    }
    assert_still_serving(&f);
}

#[test]
fn handler_header_with_an_invalid_name_or_value_fails_the_invocation_with_500() {
    let f = Function::start("probe", &[]);
    let mut conn = f.connect();
    for (name, value) in [
        ("", "v"),
        ("bad name", "v"),
        ("x:y", "v"),
        ("x\r\ninjected", "v"),
        ("caf\u{e9}", "v"),
        ("x-ok", "a\r\nInjected: 1"),
        ("x-ok", "a\nb"),
        ("x-ok", "a\0b"),
        ("x-ok", "a\x7f"),
        ("x-ok", " leading"),
        ("x-ok", "trailing\t"),
    ] {
        let body = format!("{name}\0{value}");
        let r = conn
            .request("POST", "/with-header", &[], body.as_bytes())
            .unwrap();
        assert_invalid_response(&f, &r, &format!("{name:?}: {value:?}"));
    }
    let r = conn
        .request(
            "POST",
            "/with-header",
            &[],
            "X-Ok\0a \t b, caf\u{e9}".as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ok"), Some("a \t b, caf\u{e9}"));
    assert!(
        r.headers.iter().any(|(name, _)| name == "x-ok"),
        "a response header's name is sent lower-cased: {:?}",
        r.headers
    );
    assert_still_serving(&f);
}
