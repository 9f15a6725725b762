//! Typed JSON through real sockets (feature `json`): examples/json_event reads an order with
//! `tinyfc::json::event`; a good event answers its JSON result, a bad body fails only that
//! invocation with FC's JSON error body naming `InvalidEventJson` and serde's message.
#![cfg(feature = "json")]

use tinyfc_harness::*;

#[test]
fn good_event_answers_200_with_the_json_result() {
    let f = Function::start("json_event", &[]);
    let r = f.invoke("req-1", br#"{"id": 7, "items": ["tea", "cake"]}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-fc-status"), Some("200"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.text(),
        r#"{"id":7,"count":2,"first":"tea","greeting":"hello"}"#
    );
}

#[test]
fn bad_event_body_answers_404_with_invalid_event_json_and_serdes_message() {
    let f = Function::start("json_event", &[]);
    for (body, serde_says) in [
        (
            &br#"{"id": "seven", "items": []}"#[..],
            "invalid type: string \"seven\", expected u64",
        ),
        (br#"{"id": 7"#, "EOF while parsing an object"),
        (br#"{"items": []}"#, "missing field `id`"),
        (b"not json", "expected ident"),
        (b"", "invalid type: null, expected struct Order"),
    ] {
        let r = f.invoke("req-bad", body);
        assert_eq!(
            r.status,
            404,
            "{:?} -> {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        assert_eq!(r.header("x-fc-status"), Some("404"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let text = r.text();
        assert!(text.contains(r#""errorType":"InvalidEventJson""#), "{text}");
        let message = text
            .split(r#""errorMessage":""#)
            .nth(1)
            .unwrap_or_else(|| panic!("no errorMessage in {text}"));
        assert!(
            message.replace("\\\"", "\"").starts_with(serde_says),
            "{:?}: {text}",
            String::from_utf8_lossy(body)
        );
    }
    // Only those invocations failed: the instance still answers, and nothing panicked.
    let r = f.invoke("req-2", br#"{"id": 1, "items": []}"#);
    assert_eq!((r.status, r.text().contains(r#""count":0"#)), (200, true));
    assert!(!f.stderr().contains("panic"), "{}", f.stderr());
}
