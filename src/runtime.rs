//! The user-facing builder, and the function it builds: how each platform call reaches the user's
//! code through the lifecycle, and how results become FC responses.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::context::Context;
use crate::control::{ControlCall, Hooks};
use crate::error::{Error, InitError};
use crate::grammar::{is_field_value, is_token};
use crate::lifecycle::{HookFn, InitFn, Lifecycle, NotReady};
use crate::logging::{self, fc_line};
use crate::protocol::{reserved_response_header, Answer, Call};
use crate::request::{Kind, Request, Response};
use crate::server::{Reply, Sent, Service};

/// A function instance under construction. `S` is the state the initializer builds and every
/// invocation and hook borrows.
///
/// ```no_run
/// fn main() -> std::io::Result<()> {
///     tinyfc::Runtime::from_env()?
///         .initializer(|_ctx| Ok(String::from("state built once")))
///         .pre_stop(|_state, _ctx| Ok(()))
///         .run(|state, _ctx, _req| Ok(tinyfc::Response::text(state.clone())))
/// }
/// ```
pub struct Runtime<S = ()> {
    config: Config,
    initializer: InitFn<S>,
    pre_stop: Option<HookFn<S>>,
    pre_freeze: Option<HookFn<S>>,
    /// WebSocket handlers by path.
    #[cfg(feature = "websocket")]
    sockets: Vec<(String, crate::websocket::SocketFn<S>)>,
}

impl Runtime<()> {
    /// A runtime configured from the environment (see [`Config`]), with no initializer yet.
    pub fn from_env() -> io::Result<Runtime<()>> {
        Ok(Runtime::with_config(Config::from_env()?))
    }

    /// A runtime with an explicit configuration.
    pub fn with_config(config: Config) -> Runtime<()> {
        Runtime {
            config,
            initializer: Box::new(|_| Ok(())),
            pre_stop: None,
            pre_freeze: None,
            #[cfg(feature = "websocket")]
            sockets: Vec::new(),
        }
    }
}

impl<S: Send + Sync + 'static> Runtime<S> {
    /// Sets the initializer, which builds the state. It runs once per life of the instance, before
    /// any invocation of that life: on the platform's POST /initialize, or on the first invocation
    /// if the platform never calls it. A life ends with GET /pre-stop (the state is dropped after
    /// the pre-stop hook); the next call begins a new life, which runs the initializer again.
    /// Return [`InitError::Retry`] (what `?` gives) to have the platform retry it, or
    /// [`InitError::Fatal`] to have it restart the instance. Call this before the hooks, which
    /// take the state's type.
    pub fn initializer<T, F>(self, f: F) -> Runtime<T>
    where
        F: Fn(&Context) -> Result<T, InitError> + Send + Sync + 'static,
    {
        Runtime {
            config: self.config,
            initializer: Box::new(f),
            pre_stop: None,
            pre_freeze: None,
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

    /// Sets the pre-freeze hook, run on GET /pre-freeze (FC 2.0) while the current life is
    /// initialized (otherwise the call succeeds without running it).
    pub fn pre_freeze<F>(mut self, f: F) -> Self
    where
        F: Fn(&S, &Context) -> Result<(), Error> + Send + Sync + 'static,
    {
        self.pre_freeze = Some(Box::new(f));
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

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Serves the platform with `handler` for every invocation (event and HTTP). Returns only on a
    /// start-up error; a signal ends the process with exit code 0 after draining.
    pub fn run<H>(self, handler: H) -> io::Result<()>
    where
        H: Fn(&S, &Context, Request) -> Result<Response, Error> + Send + Sync + 'static,
    {
        logging::init();
        let (config, function) = self.into_function(handler);
        crate::main_loop::serve(config, function.clone(), function)
    }

    /// What [`Runtime::run`] serves: the configuration, and the function (both the workers'
    /// service and the control thread's hooks).
    pub(crate) fn into_function<H>(self, handler: H) -> (Config, Arc<Function<S, H>>)
    where
        H: Fn(&S, &Context, Request) -> Result<Response, Error> + Send + Sync + 'static,
    {
        crate::context::set_environment(&self.config);
        let function = Arc::new(Function {
            lifecycle: Lifecycle::new(self.initializer, self.pre_stop, self.pre_freeze),
            handler,
            drain: self.config.drain,
            #[cfg(feature = "websocket")]
            sockets: self.sockets,
        });
        (self.config, function)
    }
}

/// The user's code behind the lifecycle.
pub(crate) struct Function<S, H> {
    lifecycle: Lifecycle<S>,
    handler: H,
    drain: Duration,
    #[cfg(feature = "websocket")]
    sockets: Vec<(String, crate::websocket::SocketFn<S>)>,
}

impl<S, H> Service for Function<S, H>
where
    S: Send + Sync + 'static,
    H: Fn(&S, &Context, Request) -> Result<Response, Error> + Send + Sync + 'static,
{
    fn call(&self, call: Call, ctx: &Context, req: Request, reply: Reply<'_>) -> Sent {
        match call {
            Call::Initialize => {
                let Ok(_in_flight) = self.lifecycle.admit() else {
                    return reply.send(stopping());
                };
                reply.send(match self.lifecycle.ready(ctx) {
                    Ok(_) => ok(Response::new(200)),
                    Err(e) => not_ready(&e),
                })
            }
            // The control thread's (see `Hooks`); the workers never send these here.
            Call::PreStop => reply.send(self.control(ControlCall::PreStop, ctx)),
            Call::PreFreeze => reply.send(self.control(ControlCall::PreFreeze, ctx)),
            Call::Invoke(kind) => {
                let Ok(_in_flight) = self.lifecycle.admit() else {
                    return reply.send(stopping());
                };
                fc_line("Invoke Start", &ctx.request_id);
                let resp = match self.lifecycle.ready(ctx) {
                    Ok(app) => self.invoke(&app, ctx, req, kind),
                    Err(e) => not_ready(&e),
                };
                if resp.resp.is_stream() {
                    // The body is produced while it is written: the invocation ends after it.
                    let sent = reply.send(resp);
                    fc_line("Invoke End", &ctx.request_id);
                    sent
                } else {
                    fc_line("Invoke End", &ctx.request_id);
                    reply.send(resp) // still in flight until the answer is written
                }
            }
        }
    }

    #[cfg(feature = "websocket")]
    fn websocket(
        &self,
        ctx: &Context,
        req: &Request,
        upgrade: &mut crate::websocket::Upgrade<'_>,
    ) -> bool {
        let path = req.route_path();
        let Some((_, handler)) = self.sockets.iter().find(|(p, _)| p == path) else {
            return false;
        };
        // Counted in flight for the socket's life: a drain waits for it, then closes it.
        let Ok(_in_flight) = self.lifecycle.admit() else {
            upgrade.refuse(&stopping());
            return true;
        };
        match self.lifecycle.ready(ctx) {
            Ok(app) => upgrade.accept(req, ctx, |socket| handler(&app, ctx, req, socket)),
            Err(e) => upgrade.refuse(&not_ready(&e)),
        }
        true
    }
}

impl<S, H> Hooks for Function<S, H>
where
    S: Send + Sync + 'static,
    H: Fn(&S, &Context, Request) -> Result<Response, Error> + Send + Sync + 'static,
{
    fn control(&self, call: ControlCall, ctx: &Context) -> Answer {
        let (end, result) = match call {
            ControlCall::PreStop => {
                fc_line("PreStop Start", &ctx.request_id);
                ("PreStop End", self.lifecycle.stop(ctx, self.drain))
            }
            ControlCall::PreFreeze => {
                fc_line("PreFreeze Start", &ctx.request_id);
                ("PreFreeze End", self.lifecycle.pre_freeze(ctx))
            }
        };
        fc_line(end, &ctx.request_id);
        hook_response(result)
    }

    #[cold]
    fn shutdown(&self) {
        log::info!("draining for up to {} ms", self.drain.as_millis() as u64);
        if let Err(e) = self.lifecycle.shut_down(&Context::default(), self.drain) {
            log::error!("pre-stop failed: {e}");
        }
    }
}

impl<S, H> Function<S, H>
where
    H: Fn(&S, &Context, Request) -> Result<Response, Error>,
{
    /// Runs the handler; an error or panic fails this invocation only.
    fn invoke(&self, app: &S, ctx: &Context, req: Request, kind: Kind) -> Answer {
        let result = catch_unwind(AssertUnwindSafe(|| (self.handler)(app, ctx, req)))
            .unwrap_or_else(|panic| Err(Error::from_panic(panic)));
        let status = if kind == Kind::Event { 404 } else { 500 };
        match result {
            Ok(mut resp) => {
                resp.headers.retain(|(k, _)| !reserved_response_header(k));
                if kind == Kind::Event && resp.is_stream() {
                    if let Err(e) = collect_stream(&mut resp) {
                        log::error!("invocation failed: {e}");
                        return failed(status, &e);
                    }
                }
                match check_response(&resp) {
                    Ok(()) => ok(resp),
                    Err(why) => {
                        log::error!("invalid response: {why}");
                        failed(status, &Error::typed("InvalidResponse", why))
                    }
                }
            }
            Err(e) => {
                log::error!("invocation failed: {e}");
                failed(status, &e)
            }
        }
    }
}

/// A handler's response can be written only with a final status (an interim 1xx would leave the
/// client waiting for another answer; HTTP has three digits) and header names and values of the
/// HTTP grammar (a CR or LF would split the answer). Names are shown escaped; values are not shown
/// (they may be secrets).
fn check_response(resp: &Response) -> Result<(), String> {
    if !(200..=999).contains(&resp.status) {
        return Err(format!(
            "the handler's status {} is not a final status (200 to 999)",
            resp.status
        ));
    }
    for (name, value) in &resp.headers {
        if !is_token(name.as_bytes()) {
            return Err(format!("the handler's header name {name:?} is not a token"));
        }
        if !is_field_value(value.as_bytes()) {
            return Err(format!(
                "the value of the handler's header {name:?} has a control character or \
                 leading or trailing blanks"
            ));
        }
    }
    Ok(())
}

/// Runs a streamed response's producer into its body. An event's result goes to the platform
/// whole, so it is collected first: an error while producing it still fails the invocation.
fn collect_stream(resp: &mut Response) -> Result<(), Error> {
    let Some(produce) = resp.producer.take().and_then(|p| p.take()) else {
        return Ok(());
    };
    let mut body = Vec::new();
    match catch_unwind(AssertUnwindSafe(|| produce(&mut body))) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(Error::typed("StreamFailed", e.to_string())),
        Err(panic) => return Err(Error::from_panic(panic)),
    }
    resp.body = body;
    Ok(())
}

/// A successful answer: `x-fc-status: 200`.
fn ok(resp: Response) -> Answer {
    Answer {
        resp,
        fc_status: 200,
    }
}

/// A failed answer: the JSON error body and `x-fc-status: 404`.
#[cold]
fn failed(status: u16, e: &Error) -> Answer {
    Answer {
        resp: crate::protocol::error_response(status, e),
        fc_status: 404,
    }
}

/// Retryable: 404, the platform retries the initializer. Fatal: 500, it restarts the instance.
/// A call whose life ended before it reached the state: as if it came after pre-stop.
#[cold]
fn not_ready(e: &NotReady) -> Answer {
    match e {
        NotReady::Init(e) => failed(if e.is_fatal() { 500 } else { 404 }, e.error()),
        NotReady::Stopped => stopping(),
    }
}

/// After pre-stop began: 503, `errorType` `InstanceStopping`.
#[cold]
fn stopping() -> Answer {
    failed(
        503,
        &Error::typed("InstanceStopping", "the instance is stopping"),
    )
}

fn hook_response(result: Result<(), Error>) -> Answer {
    match result {
        Ok(()) => ok(Response::new(200)),
        Err(e) => failed(404, &e),
    }
}
