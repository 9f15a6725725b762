//! Typed JSON (cargo feature `json`): [`Request::json`], [`Response::json`] and [`event`], which
//! turns a handler of serde types into the raw handler a [`Function`](crate::Function) takes.
//!
//! A body that does not parse fails that invocation, never the instance: the error's `errorType`
//! is [`INVALID_EVENT_JSON`] and its `errorMessage` is serde's message (what was expected, with
//! line and column). An event invocation then answers 404 with FC's JSON error body, like any
//! failed handler. A result that does not serialize fails with [`INVALID_RESULT_JSON`].
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use tinyfc::{json, Context, Error, Function};
//!
//! #[derive(Deserialize)]
//! struct Order { id: u64, items: Vec<String> }
//!
//! #[derive(Serialize)]
//! struct Receipt { id: u64, count: usize }
//!
//! fn main() -> std::io::Result<()> {
//!     tinyfc::run(Function::new(json::event(|_: &(), _: &Context, o: Order| -> Result<Receipt, Error> {
//!         Ok(Receipt { id: o.id, count: o.items.len() })
//!     })))
//! }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::context::Context;
use crate::error::Error;
use crate::request::Request;
use crate::response::Response;

/// `errorType` of an invocation whose body is not JSON of the type the handler reads.
pub const INVALID_EVENT_JSON: &str = "InvalidEventJson";

/// `errorType` of an invocation whose result could not be written as JSON (e.g. a map whose keys
/// are not strings).
pub const INVALID_RESULT_JSON: &str = "InvalidResultJson";

impl Request {
    /// The body parsed as JSON into `T`. An empty body reads as `null`, so `Option<T>` and `()`
    /// accept an invocation without a payload. Fails with `errorType` [`INVALID_EVENT_JSON`] and
    /// serde's message; returning that error (`?`) fails the invocation with FC's error body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| Error::typed(INVALID_EVENT_JSON, e.to_string()))
    }
}

impl Response {
    /// A 200 `application/json` response with `value` as its body, or the error
    /// (`errorType` [`INVALID_RESULT_JSON`]) if it cannot be written as JSON (a map whose keys
    /// are not strings): returned from a handler, with `?` or as is, it fails the invocation as
    /// any error does, so an unwritable result never reaches FC as a success.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Response, Error> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::typed(INVALID_RESULT_JSON, e.to_string()))?;
        Ok(Response::new(200)
            .header("content-type", "application/json")
            .body(body))
    }
}

/// Adapts a handler that takes an event `E` and returns a result `R` (both serde types) into the
/// raw handler a [`Function`](crate::Function) takes: the body is parsed with
/// [`Request::json`], the result written with [`Response::json`]. A body that does not parse
/// fails the invocation with `errorType` [`INVALID_EVENT_JSON`] before `f` runs.
///
/// `E` can be one of the trigger events in `tinyfc::events` (feature `events`), your own type, or
/// `serde_json::Value` for anything.
pub fn event<S, E, R, F>(
    f: F,
) -> impl Fn(&S, &Context, Request) -> Result<Response, Error> + Send + Sync + 'static
where
    F: Fn(&S, &Context, E) -> Result<R, Error> + Send + Sync + 'static,
    E: DeserializeOwned,
    R: Serialize,
{
    move |state: &S, ctx: &Context, req: Request| {
        let event = req.json::<E>()?;
        Response::json(&f(state, ctx, event)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;
    use crate::request::Kind;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Ping {
        n: u32,
    }

    fn request(body: &[u8]) -> Request {
        Request {
            kind: Kind::Event,
            method: "POST".into(),
            path: "/invoke".into(),
            headers: Headers::default(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn body_parses_into_the_requested_type() {
        assert_eq!(
            request(br#"{"n": 7}"#).json::<Ping>().unwrap(),
            Ping { n: 7 }
        );
    }

    #[test]
    fn malformed_or_mistyped_body_is_an_invalid_event_json_error_with_serdes_message() {
        let e = request(b"{\"n\": ").json::<Ping>().unwrap_err();
        assert_eq!(e.error_type, INVALID_EVENT_JSON);
        assert!(
            e.error_message.contains("EOF while parsing"),
            "{}",
            e.error_message
        );
        let e = request(br#"{"n": "seven"}"#).json::<Ping>().unwrap_err();
        assert!(
            e.error_message.contains("invalid type: string \"seven\""),
            "{}",
            e.error_message
        );
        let e = request(b"\xff\xfe").json::<Ping>().unwrap_err();
        assert_eq!(e.error_type, INVALID_EVENT_JSON);
    }

    #[test]
    fn deeply_nested_body_is_an_error_not_a_stack_overflow() {
        let body = "[".repeat(100_000);
        let e = request(body.as_bytes())
            .json::<serde_json::Value>()
            .unwrap_err();
        assert!(
            e.error_message.contains("recursion limit"),
            "{}",
            e.error_message
        );
    }

    #[test]
    fn empty_body_reads_as_null() {
        assert_eq!(request(b"").json::<Option<Ping>>().unwrap(), None);
        assert_eq!(request(b" \n").json::<()>().unwrap(), ());
        let e = request(b"").json::<Ping>().unwrap_err();
        assert!(
            e.error_message.contains("invalid type: null"),
            "{}",
            e.error_message
        );
    }

    #[test]
    fn response_json_is_application_json() {
        let r = Response::json(&Ping { n: 1 }).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, br#"{"n":1}"#);
        assert_eq!(r.headers.get("content-type"), Some("application/json"));
    }

    #[test]
    fn unserializable_result_is_an_invalid_result_json_error() {
        let mut m = std::collections::HashMap::new();
        m.insert((1, 2), 3); // tuple keys have no JSON form
        let e = Response::json(&m).unwrap_err();
        assert_eq!(e.error_type, INVALID_RESULT_JSON);
    }

    #[test]
    fn adapter_parses_runs_and_serializes() {
        let h = event(|state: &u32, _: &Context, p: Ping| Ok(Ping { n: p.n + state }));
        let ctx = Context::default();
        let r = h(&10, &ctx, request(br#"{"n": 5}"#)).unwrap();
        assert_eq!(r.body, br#"{"n":15}"#);
        let e = h(&10, &ctx, request(b"nope")).unwrap_err();
        assert_eq!(e.error_type, INVALID_EVENT_JSON);
    }
}
