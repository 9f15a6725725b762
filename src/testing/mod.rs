//! Testing a function without the platform.
//!
//! Two levels, both plain functions that cost nothing to a function that does not call them:
//!
//! - **The handler alone**, as a function call: [`context`] gives the [`Context`] the platform
//!   would pass (its defaults; change fields by assigning them), [`event`] and [`http`]
//!   build the [`Request`], and [`Request::with_header`] / [`Request::with_body`] fill it in.
//! - **The whole function**, over real sockets: [`TestServer`] serves a [`Function`] on a free port
//!   of 127.0.0.1 on background threads of the test process, and calls it as the platform does
//!   (`POST /initialize`, invocations, `GET /pre-stop`), so the initializer, the hooks, the FC
//!   status codes and the JSON error bodies are exercised too.
//!
//! ```
//! use tinyfc::testing::{self, TestServer};
//! use tinyfc::{Context, Error, Function, Request, Response};
//!
//! struct App { greeting: String }
//!
//! fn handler(app: &App, ctx: &Context, req: Request) -> Result<Response, Error> {
//!     let name = String::from_utf8(req.body).map_err(|_| Error::msg("the event is not UTF-8"))?;
//!     Ok(Response::text(format!("{}, {name} (from {})", app.greeting, ctx.function_name)))
//! }
//!
//! // The handler alone.
//! let app = App { greeting: "Hello".into() };
//! let resp = handler(&app, &testing::context(), testing::event("World")).unwrap();
//! assert_eq!(resp.body, b"Hello, World (from test-function)");
//! let mut ctx = testing::context();
//! ctx.function_name = "greeter".into();
//! let resp = handler(&app, &ctx, testing::event("FC")).unwrap();
//! assert_eq!(resp.body, b"Hello, FC (from greeter)");
//!
//! // The whole runtime, as the platform calls it.
//! let function = Function::with_initializer(|_ctx| Ok(App { greeting: "Hi".into() }), handler);
//! let server = TestServer::start(function)?;
//! assert_eq!(server.initialize()?.status, 200);
//! let resp = server.invoke(b"World")?;
//! assert_eq!((resp.status, resp.text().as_str()), (200, "Hi, World (from test-function)"));
//! let failed = server.invoke(&[0xff])?; // the handler's error: 404 and FC's JSON error body
//! assert_eq!(failed.status, 404);
//! assert!(failed.text().contains(r#""errorMessage":"the event is not UTF-8""#));
//! assert_eq!(server.pre_stop()?.status, 200);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client;
use crate::config::Config;
use crate::context::{Context, Credentials, Value, FIELDS};
use crate::function::Function;
use crate::headers::Headers;
use crate::logging::PlatformLines;
use crate::main_loop::{self, Mode};
use crate::request::{Kind, Request};
use crate::runtime::Served;
use crate::server::Shared;

mod streams;

pub use streams::{body, chunks, Chunk, Streamed};

/// The request id [`context`] sets.
pub const REQUEST_ID: &str = "test-request-id";

/// How long a [`TestServer`] call waits for its answer unless told otherwise
/// ([`TestServer::with_timeout`]): the function timeout of [`context`].
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The variable of [`Context::instance_id`] (environment only).
const INSTANCE_ID: &str = "FC_INSTANCE_ID";
/// The variable of [`Context::code_path`] (environment only).
const CODE_PATH: &str = "FC_FUNC_CODE_PATH";

/// The context the platform would pass with its defaults: request id [`REQUEST_ID`],
/// function `test-function` (handler `index.handler`, initializer `index.initializer`, pre-stop
/// handler `index.preStop`), 512 MB, a 60 s timeout (so [`Context::deadline`] is 60 s from now),
/// region `cn-hangzhou`, account `1234567890`, service `test-service`, qualifier `LATEST`, version
/// `1`, control path `/invoke`, dummy credentials, and the instance's `test-instance-id` and
/// `/code` (which a handler behind a [`TestServer`] sees too). Change fields by assigning them:
///
/// ```
/// use tinyfc::testing;
///
/// let mut ctx = testing::context();
/// (ctx.function_name, ctx.memory_mb) = ("resize".into(), Some(1024));
/// assert_eq!((ctx.function_name.as_str(), ctx.region.as_str()), ("resize", "cn-hangzhou"));
/// ```
pub fn context() -> Context {
    Context {
        request_id: REQUEST_ID.into(),
        credentials: Credentials {
            access_key_id: "test-access-key-id".into(),
            access_key_secret: "test-access-key-secret".into(),
            security_token: "test-security-token".into(),
        },
        function_name: "test-function".into(),
        function_handler: "index.handler".into(),
        memory_mb: Some(512),
        timeout_s: Some(60),
        initializer: "index.initializer".into(),
        initialization_timeout_s: Some(60),
        pre_stop_handler: "index.preStop".into(),
        region: "cn-hangzhou".into(),
        account_id: "1234567890".into(),
        qualifier: "LATEST".into(),
        version_id: "1".into(),
        service_name: "test-service".into(),
        log_project: "test-logproject".into(),
        log_store: "test-logstore".into(),
        control_path: "/invoke".into(),
        instance_id: Some("test-instance-id".into()),
        code_path: Some("/code".into()),
        deadline: Some(Instant::now() + Duration::from_secs(60)),
        ..Context::default()
    }
}

/// An event invocation as the handler sees it: [`Kind::Event`], `POST /invoke`, header
/// `content-type: application/octet-stream`, the event as its body.
pub fn event(body: impl Into<Vec<u8>>) -> Request {
    Request {
        kind: Kind::Event,
        method: "POST".into(),
        path: "/invoke".into(),
        headers: [("content-type", "application/octet-stream")]
            .into_iter()
            .collect(),
        body: body.into(),
    }
}

/// An HTTP invocation as the handler sees it: [`Kind::Http`], `method` and `path` (with its
/// query, e.g. `/users?id=1`), no headers, no body (add them with [`Request::with_header`] and
/// [`Request::with_body`]).
pub fn http(method: &str, path: &str) -> Request {
    Request {
        kind: Kind::Http,
        method: method.into(),
        path: path.into(),
        headers: Headers::new(),
        body: Vec::new(),
    }
}

impl Request {
    /// This request with one more header (the name lower-cased, the value trimmed, as the server
    /// stores them), e.g. to build a test request.
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers.push(name, crate::grammar::trim_blanks(value));
        self
    }

    /// This request with `body` as its body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }
}

/// A fresh request id shaped like the platform's, e.g. `1-6a5f0e2c-9b1d4c3e-7f20a1b2c3d4`.
pub fn request_id() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    // RandomState's keys are random per instance: hashing a counter gives unpredictable bits
    // without a dependency.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
    let a = h.finish();
    h.write_u64(a);
    let b = h.finish();
    format!(
        "1-{:08x}-{:08x}-{:012x}",
        a >> 32,
        a & 0xffff_ffff,
        b & 0xffff_ffff_ffff
    )
}

/// A [`Function`] served in-process on `127.0.0.1:<a free port>`, called as the platform calls it.
///
/// The server is tinyfc's own, on background threads of the test process; no signal action is
/// installed (the test runner's Ctrl-C stays the runner's) and nothing is printed (no listening
/// line, no `FC ... RequestId:` lines in this process from then on; the runtime's logger is not
/// installed). Each call is one request on a fresh connection, with the platform's `x-fc-*` headers
/// made from [`TestServer::context`] (a fresh request id each) and a [`TIMEOUT`].
///
/// A test process may start as many as it likes, each on its own port. Dropping one closes its
/// port (new connections are refused), keeps no connection alive, and ends its threads (the main
/// loop, the workers, and the control thread once a hook was called) soon after: once the last
/// one has, the function and its state are dropped.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    context: Context,
    timeout: Duration,
}

impl TestServer {
    /// Serves `function` (what [`run`](crate::run) would serve) with [`Config::default`] on a
    /// free port of 127.0.0.1 and returns once it accepts connections.
    ///
    /// The handler sees the context [`TestServer::context`] says (with each call's request id,
    /// control path and deadline): the platform's headers carry most of it, and the two fields
    /// FC gives only through the instance's environment, `instance_id` (`FC_INSTANCE_ID`) and
    /// `code_path` (`FC_FUNC_CODE_PATH`), are [`context`]'s `test-instance-id` and `/code`: FC
    /// sets both in every instance, so a function behind a `TestServer` sees them set, as one
    /// tested alone with [`context`] does.
    pub fn start<S: Send + Sync + 'static>(function: Function<S>) -> io::Result<TestServer> {
        TestServer::start_with(Config::default(), function)
    }

    /// [`TestServer::start`] with `config` (checked first, as [`run_with`](crate::run_with) does),
    /// except its port. The server's `instance_id` and `code_path` are those of `config`'s
    /// environment (`FC_INSTANCE_ID` and `FC_FUNC_CODE_PATH` read by
    /// [`Config::from_lookup`]), else [`context`]'s, as in [`TestServer::start`]:
    ///
    /// ```
    /// use tinyfc::testing::TestServer;
    /// use tinyfc::{Config, Function, Response};
    ///
    /// let config = Config::from_lookup(|k| (k == "FC_INSTANCE_ID").then(|| "c-42".to_string()))?;
    /// let function = Function::new(|_: &(), ctx: &tinyfc::Context, _: tinyfc::Request| {
    ///     Ok(Response::text(format!("{:?} {:?}", ctx.instance_id, ctx.code_path)))
    /// });
    /// let server = TestServer::start_with(config, function)?;
    /// assert_eq!(server.invoke(b"")?.text(), r#"Some("c-42") Some("/code")"#);
    /// assert_eq!(server.context().instance_id.as_deref(), Some("c-42"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start_with<S: Send + Sync + 'static>(
        mut config: Config,
        function: Function<S>,
    ) -> io::Result<TestServer> {
        config.validate()?;
        // FC sets these in every instance, and they have no header: a config without them gets
        // `context()`'s, so the handler sees what a test of the handler alone passes it.
        let mut context = context();
        let instance_id = context.instance_id.take().unwrap_or_default();
        let code_path = context.code_path.take().unwrap_or_default();
        let environment = std::mem::take(&mut config.environment)
            .or_set(INSTANCE_ID, &instance_id)
            .or_set(CODE_PATH, &code_path);
        context.instance_id = environment.of(INSTANCE_ID).map(String::from);
        context.code_path = environment.of(CODE_PATH).map(String::from);
        config.environment = environment;
        let socket = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = socket.local_addr()?;
        let served = Served::new(&mut config, function, PlatformLines::QUIET);
        let shared = main_loop::serve_on(socket, config, served.clone(), served, Mode::Background)?;
        Ok(TestServer {
            addr,
            shared,
            context,
            timeout: TIMEOUT,
        })
    }

    /// This server with `context` as the source of the platform's headers on later calls (the
    /// request id stays fresh per call): e.g. `testing::context()` with `function_name` changed.
    /// Its `Some` optional fields are sent too (`base_path` as `x-fc-base-path`, ...); its
    /// `deadline` is not a header. Its `instance_id` and `code_path` are not headers either and
    /// are replaced by the server's (what the handler sees: set with
    /// [`TestServer::start_with`]), as the real server takes them from its environment, not from
    /// the call.
    pub fn with_context(mut self, mut context: Context) -> TestServer {
        context.instance_id = self.context.instance_id.take();
        context.code_path = self.context.code_path.take();
        self.context = context;
        self
    }

    /// This server with `timeout` for each call's connect, write and read ([`TIMEOUT`] unless
    /// set). A call that takes longer fails with an error of kind `WouldBlock` or `TimedOut`.
    pub fn with_timeout(mut self, timeout: Duration) -> TestServer {
        self.timeout = timeout;
        self
    }

    /// The context the platform's headers are made from ([`context`] unless set), with the
    /// server's `instance_id` and `code_path`: the context the handler sees, but for each call's
    /// request id, control path and deadline.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Where the server listens: `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `POST /initialize`, as the platform calls it when the function has an initializer: runs
    /// the initializer unless it has succeeded in this life. 200 on success; 404 and the JSON
    /// error body on a retryable error (call it again to retry), 500 on a fatal one.
    pub fn initialize(&self) -> io::Result<client::Response> {
        self.platform_call("POST", "/initialize", "/initialize", &[], b"")
    }

    /// `POST /invoke`, an event invocation with `event` as the body. 200 and the handler's body;
    /// 404 and the JSON error body (`errorMessage`, `errorType`, `stackTrace`) if it failed.
    pub fn invoke(&self, event: &[u8]) -> io::Result<client::Response> {
        let headers = [("content-type", "application/octet-stream")];
        self.platform_call("POST", "/invoke", "/invoke", &headers, event)
    }

    /// An HTTP invocation (`x-fc-control-path: /http-invoke`) of `method` and `path` (with its
    /// query) with `headers` and `body`, as an HTTP trigger forwards a client's request: the
    /// handler's status, headers and body come back. A header in `headers` replaces the
    /// platform's header of that name (e.g. `x-fc-base-path`, or `x-fc-function-name`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<client::Response> {
        self.platform_call(method, path, "/http-invoke", headers, body)
    }

    /// `GET /pre-stop`: waits for in-flight invocations (up to the configured drain), runs the
    /// pre-stop hook if the initializer had succeeded, and ends the life: the next call starts a
    /// new one (the initializer runs again). 200, or 404 and the JSON error body if the hook
    /// failed.
    pub fn pre_stop(&self) -> io::Result<client::Response> {
        self.platform_call("GET", "/pre-stop", "/pre-stop", &[], b"")
    }

    /// `GET /pre-freeze` (FC 2.0): runs the pre-freeze hook if the life is initialized. 200, or
    /// 404 and the JSON error body if the hook failed.
    pub fn pre_freeze(&self) -> io::Result<client::Response> {
        self.platform_call("GET", "/pre-freeze", "/pre-freeze", &[], b"")
    }

    /// An HTTP invocation like [`TestServer::request`] whose answer is read as it arrives: each
    /// chunk of a streamed answer ([`Response::stream`](crate::Response::stream): one per
    /// flush) with the time it arrived, counted from when the request was sent. An answer that
    /// is not streamed comes as the pieces its reads gave.
    ///
    /// An answer cut short after its head (a producer that fails after some chunks: the server
    /// closes the connection without the last chunk) is not an error: it comes with the chunks
    /// that arrived before the cut and [`complete`](Streamed::complete) `false`. Errors are those
    /// of the request and its head, a timeout (kind `WouldBlock` or `TimedOut`), and a body the
    /// client cannot read (kind `InvalidData`).
    pub fn stream(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Streamed> {
        let owned = self.headers("/http-invoke", headers);
        let headers: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (&**k, &**v)).collect();
        let mut conn = client::Connection::connect(self.addr, self.timeout)?;
        conn.send(method, path, &headers, body)?;
        let sent = Instant::now();
        let (head, mut reader) = conn.read_streaming(method.eq_ignore_ascii_case("HEAD"))?;
        let mut chunks = Vec::new();
        let complete = loop {
            match reader.next_chunk() {
                Ok(Some(data)) => chunks.push(Chunk {
                    data,
                    arrived: sent.elapsed(),
                }),
                Ok(None) => break true,
                // The server closed (or reset) the connection before the body's end: the stream
                // was cut, and what came before it is the test's to check.
                Err(e) if is_cut(&e) => break false,
                Err(e) => return Err(e),
            }
        };
        Ok(Streamed {
            status: head.status,
            headers: head.headers,
            chunks,
            complete,
        })
    }

    /// The platform's headers for a call on `control_path`, those of `extra` in place of
    /// theirs (and after them).
    fn headers(&self, control_path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let request_id = request_id();
        let platform = platform_headers(&self.context, &request_id, control_path);
        let mut headers: Vec<(String, String)> = platform
            .into_iter()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        headers
    }

    /// One call with the platform's headers (those of `extra` replace theirs) on a fresh
    /// connection.
    fn platform_call(
        &self,
        method: &str,
        path: &str,
        control_path: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<client::Response> {
        let owned = self.headers(control_path, extra);
        let headers: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (&**k, &**v)).collect();
        client::request(self.addr, method, path, &headers, body, self.timeout)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        main_loop::stop_background(&self.shared);
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Whether `e`, met while reading a body, says the connection ended before the body did.
fn is_cut(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// The `x-fc-*` headers the platform would send for a call with context `ctx`, e.g. to call a
/// function with a client of your own (`TestServer` sends these): every field that has a header
/// (docs/context.md), from the same table the server reads them with. Empty text fields and
/// `None`s are left out; the environment-only fields and `deadline` are not headers.
///
/// ```
/// let headers = tinyfc::testing::headers_of(&tinyfc::testing::context());
/// assert!(headers.contains(&("x-fc-function-name", "test-function".to_string())));
/// ```
pub fn headers_of(ctx: &Context) -> Vec<(&'static str, String)> {
    platform_headers(ctx, &ctx.request_id, &ctx.control_path)
}

/// [`headers_of`] `ctx`, with `request_id` and `control_path` in place of its own.
fn platform_headers(
    ctx: &Context,
    request_id: &str,
    control_path: &str,
) -> Vec<(&'static str, String)> {
    // The table's accessors borrow mutably: read a copy.
    let mut copy = ctx.clone();
    let mut value =
        |header: &str, field: &crate::context::Field| match (header, field.value(&mut copy)) {
            ("x-fc-request-id", _) => request_id.to_string(),
            ("x-fc-control-path", _) => control_path.to_string(),
            (_, Value::Text(text)) => text.clone(),
            (_, Value::Number(number)) => number.map_or(String::new(), |n| n.to_string()),
            (_, Value::Optional(optional)) => optional.clone().unwrap_or_default(),
        };
    FIELDS
        .iter()
        .filter_map(|f| {
            let header = f.header()?;
            Some((header, value(header, f))).filter(|(_, v)| !v.is_empty())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_headers_of_a_context_make_that_context_again() {
        let sent = Context {
            base_path: Some("/2016-08-15/proxy/svc/fn/".into()),
            retry_count: Some(2),
            ..context()
        };
        let headers: Headers = platform_headers(&sent, "rid-1", "/http-invoke")
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let arrived = Instant::now();
        let got = Context::from_headers(&headers, arrived);
        let expected = Context {
            request_id: "rid-1".into(),
            control_path: "/http-invoke".into(),
            deadline: Some(arrived + Duration::from_secs(60)),
            // From the environment only, not headers.
            instance_id: None,
            code_path: None,
            ..sent
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn request_ids_are_fresh_and_shaped_like_the_platforms() {
        let (a, b) = (request_id(), request_id());
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [1, 8, 8, 12]
        );
        assert!(
            a[2..].chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
            "{a}"
        );
    }
}
