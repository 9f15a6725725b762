//! The front door: what a caller (curl, a browser, an SDK) talks to, on tiny_http. Every request
//! becomes an HTTP invocation, except FC's InvokeFunction path, which becomes an event invocation.

use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tiny_http::{Header, Request, Response, Server};

use super::activity::Activity;
use super::async_queue::{AsyncQueue, Job};
use super::options::Options;
use super::platform::{error_message, request_id, Failure, Kind, Platform, Reply, Unavailable};
use super::tunnel::Refusal;
use crate::say;
use tinyfc::client::BodyReader;

/// FC's limit on request headers in all (name, value and separators).
const MAX_HEADERS: usize = 8 * 1024;
/// FC's limit on the path with its query.
const MAX_PATH: usize = 4 * 1024;
/// FC's limit on a synchronous invocation's body.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// FC's limit on an asynchronous invocation's event.
const MAX_ASYNC_BODY: usize = 128 * 1024;

/// The HTTP trigger's `methods` (s.yaml): FC refuses any other method before the function. Why
/// `method` is refused, or None; the front door (405 `MethodNotAllowed`) and `--once --http` /
/// `--invoke N --http` (a failed step) both apply it.
pub fn refused_method(opts: &Options, method: &str) -> Option<String> {
    let allowed = opts.http_methods.as_ref()?;
    (!allowed.iter().any(|m| m.eq_ignore_ascii_case(method))).then(|| {
        format!(
            "the HTTP trigger does not allow {method} (its methods: {})",
            allowed.join(", ")
        )
    })
}

/// Request headers a proxy does not forward (hop-by-hop), plus the platform's own.
fn forwardable(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    !(n.starts_with("x-fc-")
        || matches!(
            n.as_str(),
            "connection"
                | "keep-alive"
                | "transfer-encoding"
                | "te"
                | "upgrade"
                | "content-length"
                | "expect"
                | "proxy-connection"
                | "trailer"
        ))
}

/// Response headers of the function that reach the caller: FC drops the ones the runtime may not
/// set either.
fn passes_back(name: &str) -> bool {
    !tinyfc::protocol::reserved_response_header(name)
}

/// Serves the front door on `threads` threads until `stop` is set; async invocations go to
/// `queue`.
pub fn serve(
    server: Arc<Server>,
    platform: Arc<Platform>,
    stop: Arc<AtomicBool>,
    activity: Arc<Activity>,
    queue: Arc<AsyncQueue>,
    threads: usize,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..threads)
        .map(|_| {
            let (server, platform, stop, activity, queue) = (
                server.clone(),
                platform.clone(),
                stop.clone(),
                activity.clone(),
                queue.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(100)) {
                        let _busy = activity.busy();
                        answer(&platform, &activity, &queue, req);
                    }
                }
            })
        })
        .collect()
}

/// Answers one caller. A panic on the way (a bug, or a function's answer the client cannot take)
/// becomes a 502 for this caller only: the thread goes on serving, so the front door never loses
/// capacity.
fn answer(
    platform: &Arc<Platform>,
    activity: &Arc<Activity>,
    queue: &AsyncQueue,
    mut req: Request,
) {
    let rid = request_id();
    if super::tunnel::is_upgrade(&req) {
        return super::tunnel::pass(
            platform,
            activity,
            forwardable,
            req,
            &rid,
            |req, refusal| reply(req, with_request_id(refused(refusal), &rid)),
        );
    }
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        handle(platform, activity, queue, &mut req, &rid)
    }));
    let resp = match outcome {
        Ok(Outgoing::Stream(status, headers, body)) => {
            return super::relay::relay(req, status, &headers, body)
        }
        Ok(Outgoing::Whole(resp)) => Ok(resp),
        Err(panic) => Err(panic),
    };
    let resp = resp.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        say!(
            "{} {} -> 502: the platform failed: {why}",
            req.method(),
            req.url()
        );
        error(
            502,
            "PlatformError",
            &format!("the local platform failed: {why}"),
        )
    });
    reply(req, with_request_id(resp, &rid));
}

/// Every answer carries `X-Fc-Request-Id`, as FC's do.
fn with_request_id(resp: Answer, rid: &str) -> Answer {
    if resp
        .headers()
        .iter()
        .any(|h| h.field.equiv("x-fc-request-id"))
    {
        resp
    } else {
        resp.with_header(header("X-Fc-Request-Id", rid))
    }
}

/// What the caller gets for an upgrade that was not tunnelled (as for an invocation).
fn refused(refusal: Refusal) -> Answer {
    match refusal {
        Refusal::Busy(full) => error(429, "ResourceThrottled", &full),
        Refusal::Failed(failure) => failure_answer(&failure, Kind::Http),
        Refusal::Answer(r) => function_answer(&r, Kind::Http, false),
    }
}

/// What the caller gets when the function gave no answer.
fn failure_answer(failure: &Failure, kind: Kind) -> Answer {
    let msg = failure.to_string();
    match failure {
        // What FC tells a caller when the instance could not be initialized.
        Failure::Unavailable(Unavailable::InitFailed(_)) => {
            error(200, "", &msg).with_header(header("X-Fc-Error-Type", "InitializationError"))
        }
        Failure::Unavailable(Unavailable::Stopping) => stopping(),
        // A timeout is the function's failure: an event invocation's caller gets 200 with the
        // error type, as for any failed invocation; an HTTP caller 502 (there is no answer of
        // the function's to pass on).
        Failure::TimedOut(_) => {
            let status = if kind == Kind::Event { 200 } else { 502 };
            error(status, "", &msg)
                .with_header(header("X-Fc-Error-Type", "UnhandledInvocationError"))
        }
        Failure::BadResponse(_) => error(502, "BadResponse", &msg),
        Failure::IdleClosed(_) | Failure::Unreachable(_) => {
            error(502, "FunctionNotReachable", &msg)
        }
    }
}

/// The function's answer as the caller gets it: `x-fc-status: 404` becomes
/// `X-Fc-Error-Type: UnhandledInvocationError` (status 200 for an event invocation), the headers
/// FC drops are dropped, and an answer to HEAD keeps the length GET's would have (RFC 9110 8.6).
fn function_answer(r: &tinyfc::client::Response, kind: Kind, head: bool) -> Answer {
    let failed = r.header("x-fc-status") == Some("404");
    let status = if failed && kind == Kind::Event {
        200
    } else {
        r.status
    };
    let mut resp = Response::from_data(r.body.clone()).with_status_code(status);
    for (k, v) in r.headers.iter().filter(|(k, _)| passes_back(k)) {
        resp.add_header(header(k, v));
    }
    if head {
        if let Some(length) = r.header("content-length") {
            // tiny_http sends no body for HEAD; a length past its threshold would become chunked.
            resp.add_header(header("Content-Length", length));
            resp = resp.with_chunked_threshold(usize::MAX);
        }
    }
    if failed {
        resp.add_header(header("X-Fc-Error-Type", "UnhandledInvocationError"));
    }
    resp
}

/// A response with its body in memory.
type Answer = Response<std::io::Cursor<Vec<u8>>>;

/// What a caller gets.
enum Outgoing {
    /// An answer in memory.
    Whole(Answer),
    /// A function's streamed answer: status, headers, and the body as it arrives.
    Stream(u16, Vec<(String, String)>, BodyReader),
}

impl From<Answer> for Outgoing {
    fn from(a: Answer) -> Outgoing {
        Outgoing::Whole(a)
    }
}

/// Checks FC's limits, then forwards the request as an HTTP or event invocation; the answer for
/// the caller (or why it cannot be forwarded).
fn handle(
    platform: &Arc<Platform>,
    activity: &Arc<Activity>,
    queue: &AsyncQueue,
    req: &mut Request,
    rid: &str,
) -> Outgoing {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let url = req.url().to_string();
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len() + 4)
        .sum();
    // FC's limits, answered as FC's docs say ("Limits on HTTP requests"): 400 InvalidArgument
    // for the head, 413 for a body.
    if url.len() > MAX_PATH {
        return error(
            400,
            "InvalidArgument",
            "the path with its query is over 4 KB",
        )
        .into();
    }
    if header_bytes > MAX_HEADERS {
        return error(400, "InvalidArgument", "the request headers are over 8 KB").into();
    }
    let too_large = || {
        let msg = "payload size exceeds maximum allowed size (33554432 bytes)";
        error(413, "EntityTooLarge", msg)
    };
    if req.body_length().is_some_and(|n| n > MAX_BODY) {
        return too_large().into();
    }
    let mut body = Vec::new();
    if req
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .is_err()
    {
        return error(400, "InvalidArgument", "could not read the request body").into();
    }
    if body.len() > MAX_BODY {
        return too_large().into();
    }

    let path = url.split('?').next().unwrap_or("");
    let is_event = method == "POST"
        && path.starts_with("/2023-03-30/functions/")
        && path.ends_with("/invocations");
    if let Some(msg) = refused_method(&platform.opts, &method).filter(|_| !is_event) {
        say!("{method} {url} -> 405: {msg}");
        return error(405, "MethodNotAllowed", &msg).into();
    }
    let is_async = is_event
        && req.headers().iter().any(|h| {
            h.field.equiv("x-fc-invocation-type") && h.value.as_str().eq_ignore_ascii_case("async")
        });
    if is_async && body.len() > MAX_ASYNC_BODY {
        let msg = "payload size exceeds maximum allowed size (131072 bytes) of an asynchronous invocation";
        return error(413, "EntityTooLarge", msg).into();
    }
    let (kind, fwd_path, headers) = if is_event {
        // InvokeFunction: the function gets the event alone, as octet-stream.
        let h = vec![(
            "content-type".to_string(),
            "application/octet-stream".to_string(),
        )];
        (Kind::Event, "/invoke".to_string(), h)
    } else {
        let h: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_string(),
                    h.value.as_str().to_string(),
                )
            })
            .filter(|(k, _)| forwardable(k))
            .collect();
        (Kind::Http, url.clone(), h)
    };
    // `x-fc-log-type: Tail` (a synchronous call): the answer carries the invocation's log.
    let tail = !is_async
        && req.headers().iter().any(|h| {
            h.field.equiv("x-fc-log-type") && h.value.as_str().eq_ignore_ascii_case("tail")
        });
    let mut headers = headers;
    if tail {
        headers.push(("x-fc-log-type".into(), "Tail".into()));
    }
    let rid = rid.to_string();
    if is_async {
        if platform.stopping() {
            return stopping().into();
        }
        // FC answers 202 at once and runs the invocation later; its outcome is only logged.
        let job = Job {
            rid: rid.clone(),
            headers,
            body,
            accepted: Instant::now(),
            busy: activity.busy(),
        };
        if let Err(full) = queue.push(job) {
            say!("async invoke RequestId {}: 429, {full}", rid);
            return error(429, "ResourceThrottled", &full).into();
        }
        return Response::from_data(Vec::new()).with_status_code(202).into();
    }

    if let Err(unavailable) = platform.wait_ready() {
        let failure = Failure::Unavailable(unavailable);
        say!("{method} {url} -> {failure}");
        return failure_answer(&failure, kind).into();
    }
    // A streamed answer frees its place once its head arrives (the relay is the caller's).
    let _permit = match platform.gate.enter() {
        Ok(p) => p,
        Err(full) => {
            say!("{method} {url} -> 429: {full}");
            return error(429, "ResourceThrottled", &full).into();
        }
    };
    match platform.invoke_streaming(&rid, kind, &method, &fwd_path, &headers, &body) {
        Ok(Reply::Streamed(r, reader)) => {
            say!(
                "invoke RequestId {rid}: {method} {url} -> {}, streamed after {} ms",
                r.status,
                super::ms(started.elapsed())
            );
            let mut headers: Vec<(String, String)> = r
                .headers
                .into_iter()
                .filter(|(k, _)| passes_back(k))
                .collect();
            headers.push(("X-Fc-Request-Id".into(), rid.clone()));
            Outgoing::Stream(r.status, headers, reader)
        }
        Ok(Reply::Whole(r)) => {
            let outcome = if r.header("x-fc-status") == Some("404") {
                format!(" UnhandledInvocationError: {}", error_message(&r))
            } else {
                String::new()
            };
            say!(
                "invoke RequestId {rid}: {method} {url} -> {} in {} ms{outcome}",
                r.status,
                super::ms(started.elapsed())
            );
            let mut resp = function_answer(&r, kind, method == "HEAD");
            if let Some(log) = tail.then(|| log_result(platform, &rid)).flatten() {
                resp.add_header(header("X-Fc-Log-Result", &log));
            }
            resp.into()
        }
        Err(failure) => {
            say!("{method} {url} -> {failure}");
            failure_answer(&failure, kind).into()
        }
    }
}

/// `X-Fc-Log-Result` for invocation `rid`: the base64 of its log's last 4 KB. FC returns none
/// when the instance concurrency is above 1 (its lines would mix with others'), and neither does
/// this, saying so.
fn log_result(platform: &Platform, rid: &str) -> Option<String> {
    if platform.opts.concurrency > 1 {
        say!(
            "invoke RequestId {rid}: x-fc-log-type: Tail: no log result, as FC returns none with \
             instanceConcurrency above 1 (here {})",
            platform.opts.concurrency
        );
        return None;
    }
    let log = platform.logs.tail(rid, Duration::from_secs(2));
    if log.is_none() {
        say!("invoke RequestId {rid}: x-fc-log-type: Tail: its FC Invoke Start/End lines were not seen");
    }
    log
}

/// 503 once the platform has begun stopping the instance.
fn stopping() -> Answer {
    error(
        503,
        "InstanceStopping",
        "the platform is stopping the instance",
    )
}

/// An FC-style error: `{"errorCode": .., "errorMessage": ..}` (`errorCode` only when given).
pub fn error(status: u16, code: &str, message: &str) -> Answer {
    let body = if code.is_empty() {
        serde_json::json!({ "errorMessage": message })
    } else {
        serde_json::json!({ "errorCode": code, "errorMessage": message })
    };
    Response::from_data(body.to_string().into_bytes())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

/// A response header (an invalid one becomes `X-Invalid-Header: 1` rather than a panic).
fn header(k: &str, v: &str) -> Header {
    Header::from_bytes(k.as_bytes(), v.as_bytes())
        .unwrap_or_else(|_| Header::from_bytes(&b"X-Invalid-Header"[..], &b"1"[..]).unwrap())
}

/// Sends the answer; a caller that went away is not an error.
fn reply<R: Read>(req: Request, resp: Response<R>) {
    let _ = req.respond(resp);
}
