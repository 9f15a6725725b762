//! [`Function`]: a whole function as one value (its initializer, hooks, WebSocket routes and
//! handler), which `tinyfc::run` serves on the platform and `TestServer::start` in a test.
//!
//! The state's type is fixed when the value is made (by the initializer and the handler given
//! together), and no later method changes it: every builder method adds to the function and none
//! rebuilds it, so no order of calls can drop a hook.

use crate::context::Context;
use crate::error::{Error, InitError};
use crate::lifecycle::{HookFn, InitFn};
use crate::request::Request;
use crate::response::Response;

/// The user's health check on the state ([`Function::health_check`]).
pub(crate) type HealthFn<S> = Box<dyn Fn(&S) -> Result<(), Error> + Send + Sync>;

/// The handler every invocation (event and HTTP) runs.
pub(crate) type HandlerFn<S> =
    Box<dyn Fn(&S, &Context, Request) -> Result<Response, Error> + Send + Sync>;

/// A complete function: the initializer that builds its state `S`, the handler that answers
/// invocations with that state, and the optional lifecycle hooks. Build it once (e.g. in
/// `fn function() -> Function<App>`) and give it to `tinyfc::run` in `main` and to
/// `tinyfc::testing::TestServer::start` in tests.
///
/// ```no_run
/// use tinyfc::{Context, Error, Function, InitError, Request, Response};
///
/// struct App { greeting: String }
///
/// fn initialize(_ctx: &Context) -> Result<App, InitError> {
///     Ok(App { greeting: "Hello".into() })
/// }
///
/// fn handler(app: &App, _ctx: &Context, _req: Request) -> Result<Response, Error> {
///     Ok(Response::text(app.greeting.clone()))
/// }
///
/// fn function() -> Function<App> {
///     Function::with_initializer(initialize, handler).pre_stop(|_app, _ctx| Ok(()))
/// }
///
/// fn main() -> std::io::Result<()> {
///     tinyfc::run(function())
/// }
/// ```
///
/// A hook is added to a function whose state type is already known, so no order of calls can
/// lose one; an initializer cannot be set after the fact:
///
/// ```compile_fail
/// use tinyfc::{Function, Response};
/// let f = Function::new(|_, _, _| Ok(Response::text("hi")))
///     .pre_stop(|_, _| Ok(()))
///     .initializer(|_| Ok(String::new())); // no such method: the state comes with the handler
/// ```
pub struct Function<S = ()> {
    pub(crate) initializer: InitFn<S>,
    pub(crate) handler: HandlerFn<S>,
    pub(crate) pre_stop: Option<HookFn<S>>,
    pub(crate) pre_freeze: Option<HookFn<S>>,
    /// The health path and the check on the state.
    pub(crate) health: Option<(String, HealthFn<S>)>,
    /// WebSocket handlers by path.
    #[cfg(feature = "websocket")]
    pub(crate) sockets: Vec<(String, crate::websocket::SocketFn<S>)>,
}

impl Function<()> {
    /// A function without state: `handler` answers every invocation (its first argument is `&()`).
    pub fn new<H>(handler: H) -> Function<()>
    where
        H: Fn(&(), &Context, Request) -> Result<Response, Error> + Send + Sync + 'static,
    {
        Function::with_initializer(|_: &Context| Ok(()), handler)
    }
}

impl<S: Send + Sync + 'static> Function<S> {
    /// A function whose `initializer` builds the state every invocation of `handler` borrows.
    ///
    /// The initializer runs once per life of the instance, before any invocation of that life: on
    /// the platform's POST /initialize, or on the first invocation if the platform never calls
    /// it. A life ends with GET /pre-stop (the state is dropped after the pre-stop hook); the next
    /// call begins a new life, which runs the initializer again. Return [`InitError::Retry`] (what
    /// `?` gives) to have the platform retry it, or [`InitError::Fatal`] to have it restart the
    /// instance. The handler's errors and panics fail that invocation only.
    pub fn with_initializer<I, H>(initializer: I, handler: H) -> Function<S>
    where
        I: Fn(&Context) -> Result<S, InitError> + Send + Sync + 'static,
        H: Fn(&S, &Context, Request) -> Result<Response, Error> + Send + Sync + 'static,
    {
        Function {
            initializer: Box::new(initializer),
            handler: Box::new(handler),
            pre_stop: None,
            pre_freeze: None,
            health: None,
            #[cfg(feature = "websocket")]
            sockets: Vec::new(),
        }
    }

    /// Sets the pre-stop hook: run once per life, on a dedicated thread, after in-flight
    /// invocations have drained, when the platform calls GET /pre-stop or the process gets
    /// SIGTERM/SIGINT. It does not run if the life's initializer never succeeded.
    pub fn pre_stop<F>(mut self, f: F) -> Self
    where
        F: Fn(&S, &Context) -> Result<(), Error> + Send + Sync + 'static,
    {
        self.pre_stop = Some(Box::new(f));
        self
    }

    /// Sets the pre-freeze hook, run on GET /pre-freeze while the current life is initialized
    /// (otherwise the call succeeds without running it). FC 2.0 only: FC 3.0 has no PreFreeze
    /// (its `instanceLifecycleConfig` has only `initializer` and `preStop`).
    pub fn pre_freeze<F>(mut self, f: F) -> Self
    where
        F: Fn(&S, &Context) -> Result<(), Error> + Send + Sync + 'static,
    {
        self.pre_freeze = Some(Box::new(f));
        self
    }

    /// Answers GET and HEAD on `path` (FC 3.0's `healthCheckConfig.httpGetUrl`; the variable
    /// `TINYFC_HEALTH_PATH` wins when set) in the runtime, never the handler: 200 while the
    /// instance can serve (uninitialized, or Ready and `check` passes on the state), 503 with the
    /// reason in the body after a fatal initializer failure, while a stop runs, or when `check`
    /// fails. `check` runs on a thread of its own, never counted as an invocation; keep it quick
    /// (FC waits 1 to 3 s for the answer).
    pub fn health_check<F>(mut self, path: &str, check: F) -> Self
    where
        F: Fn(&S) -> Result<(), Error> + Send + Sync + 'static,
    {
        self.health = Some((path.to_string(), Box::new(check)));
        self
    }

    /// Serves WebSocket on `path`, compared with [`Request::route_path`] (without FC's base path
    /// and the query; feature `websocket`, see docs/websocket.md): a valid upgrade there is
    /// answered 101 and `handler` runs with the socket on the worker that received it, counted in
    /// flight, until it returns; then the socket closes (1000 after `Ok`, 1011 after an error). A
    /// bad upgrade is answered 400; a request without an `Upgrade` header goes to the invocation
    /// handler.
    #[cfg(feature = "websocket")]
    pub fn websocket<F>(mut self, path: &str, handler: F) -> Self
    where
        F: Fn(&S, &Context, &Request, &mut crate::websocket::Socket<'_>) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        self.sockets.push((path.to_string(), Box::new(handler)));
        self
    }
}

impl<S> std::fmt::Debug for Function<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("pre_stop", &self.pre_stop.is_some())
            .field("pre_freeze", &self.pre_freeze.is_some())
            .field("health_path", &self.health.as_ref().map(|(p, _)| p))
            .finish_non_exhaustive()
    }
}
