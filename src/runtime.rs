//! Serving a [`Function`]: [`run`] and [`run_with`], and how each platform call reaches the
//! user's code through the lifecycle, and how results become FC responses.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::context::Context;
use crate::control::{ControlCall, Hooks};
use crate::error::Error;
use crate::function::HealthFn;
use crate::function::{Function, HandlerFn};
use crate::grammar::{is_field_value, is_token};
use crate::lifecycle::{Health, Lifecycle, NotReady};
use crate::logging::{self, FcEvent, PlatformLines};
use crate::protocol::{reserved_response_header, Answer, Call};
use crate::request::{Kind, Request};
use crate::response::{Body, Response};
use crate::service::{Reply, Sent, Service};

/// Serves `function` on the platform, configured from the environment ([`Config::from_env`]).
/// Returns only on a start-up error (an invalid configuration included); a signal ends the
/// process with exit code 0 after draining.
pub fn run<S: Send + Sync + 'static>(function: Function<S>) -> io::Result<()> {
    run_with(Config::from_env()?, function)
}

/// [`run`] with an explicit configuration, checked first ([`Config::validate`]).
pub fn run_with<S: Send + Sync + 'static>(
    mut config: Config,
    function: Function<S>,
) -> io::Result<()> {
    config.validate()?;
    logging::init();
    let served = Served::new(&mut config, function, PlatformLines::PRINTED);
    crate::main_loop::serve(config, served.clone(), served)
}

/// The user's code behind the lifecycle: what the workers (as a `Service`) and the control
/// thread (as `Hooks`) of one server share.
pub(crate) struct Served<S> {
    lifecycle: Lifecycle<S>,
    health: Option<HealthFn<S>>,
    handler: HandlerFn<S>,
    drain: Duration,
    #[cfg(feature = "websocket")]
    sockets: Vec<(String, crate::websocket::SocketFn<S>)>,
}

impl<S: Send + Sync + 'static> Served<S> {
    /// `function` behind its lifecycle, as `config` serves it, its platform lines to `lines`.
    /// The function's health path goes into `config` unless `TINYFC_HEALTH_PATH` set one.
    pub(crate) fn new(
        config: &mut Config,
        function: Function<S>,
        lines: PlatformLines,
    ) -> Arc<Served<S>> {
        let (health_path, health) = match function.health {
            Some((path, check)) => (Some(path), Some(check)),
            None => (None, None),
        };
        if config.health_path.is_none() {
            config.health_path = health_path;
        }
        let lifecycle =
            Lifecycle::new(function.initializer, function.pre_stop, function.pre_freeze);
        Arc::new(Served {
            lifecycle: lifecycle.with_lines(lines),
            health,
            handler: function.handler,
            drain: config.drain,
            #[cfg(feature = "websocket")]
            sockets: function.sockets,
        })
    }
}

impl<S: Send + Sync + 'static> Service for Served<S> {
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
                self.lifecycle
                    .lines()
                    .write(FcEvent::InvokeStart, &ctx.request_id);
                let resp = match self.lifecycle.ready(ctx) {
                    Ok(app) => self.invoke(&app, ctx, req, kind),
                    Err(e) => not_ready(&e),
                };
                if resp.resp.is_stream() {
                    // The body is produced while it is written: the invocation ends after it.
                    let sent = reply.send(resp);
                    self.lifecycle
                        .lines()
                        .write(FcEvent::InvokeEnd, &ctx.request_id);
                    sent
                } else {
                    self.lifecycle
                        .lines()
                        .write(FcEvent::InvokeEnd, &ctx.request_id);
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
        let drains = self.lifecycle.sockets().drains();
        let Ok(_in_flight) = self.lifecycle.admit() else {
            upgrade.refuse(&stopping());
            return true;
        };
        match self.lifecycle.ready(ctx) {
            Ok(app) => {
                let registry = (self.lifecycle.sockets(), drains);
                upgrade.accept(req, ctx, registry, |socket| handler(&app, ctx, req, socket))
            }
            Err(e) => upgrade.refuse(&not_ready(&e)),
        }
        true
    }
}

impl<S: Send + Sync + 'static> Hooks for Served<S> {
    fn control(&self, call: ControlCall, ctx: &Context) -> Answer {
        let (end, result) = match call {
            ControlCall::PreStop => {
                self.lifecycle
                    .lines()
                    .write(FcEvent::PreStopStart, &ctx.request_id);
                (FcEvent::PreStopEnd, self.lifecycle.stop(ctx, self.drain))
            }
            ControlCall::PreFreeze => {
                self.lifecycle
                    .lines()
                    .write(FcEvent::PreFreezeStart, &ctx.request_id);
                (FcEvent::PreFreezeEnd, self.lifecycle.pre_freeze(ctx))
            }
            ControlCall::Health => return self.health(), // not an invocation: no FC lines
        };
        self.lifecycle.lines().write(end, &ctx.request_id);
        hook_response(result)
    }

    #[cold]
    fn shutdown(&self, ctx: &Context) {
        log::info!("draining for up to {} ms", self.drain.as_millis() as u64);
        if let Err(e) = self.lifecycle.shut_down(ctx, self.drain) {
            log::error!("pre-stop failed: {e}");
        }
    }
}

impl<S> Served<S> {
    /// The health path's answer: 200 `ok`, or 503 with the reason.
    fn health(&self) -> Answer {
        let why = match (self.lifecycle.health(), &self.health) {
            (Health::Down(why), _) => why,
            (Health::Serving(Some(app)), Some(check)) => {
                match catch_unwind(AssertUnwindSafe(|| check(&app))) {
                    Ok(Ok(())) => return ok(Response::text("ok")),
                    Ok(Err(e)) => format!("the health check failed: {}", e.error_message),
                    Err(panic) => format!("the health check failed: {}", Error::from_panic(panic)),
                }
            }
            (Health::Serving(_), _) => return ok(Response::text("ok")),
        };
        log::warn!("health path answered 503: {why}");
        Answer {
            resp: Response::text(why).status(503),
            fc_status: 404,
        }
    }

    /// Runs the handler; an error or panic fails this invocation only.
    fn invoke(&self, app: &S, ctx: &Context, req: Request, kind: Kind) -> Answer {
        let result = catch_unwind(AssertUnwindSafe(|| (self.handler)(app, ctx, req)))
            .unwrap_or_else(|panic| Err(Error::from_panic(panic)));
        let status = if kind == Kind::Event { 404 } else { 500 };
        match result {
            Ok(mut resp) => {
                if kind == Kind::Event && resp.is_stream() {
                    if let Err(e) = collect_stream(&mut resp) {
                        log::error!("invocation failed: {e}");
                        return failed(status, &e);
                    }
                }
                match check_response(&mut resp) {
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
/// HTTP grammar (a CR or LF would split the answer). Headers the platform reserves are dropped
/// first, not checked. Names are shown escaped; values are not shown (they may be secrets).
fn check_response(resp: &mut Response) -> Result<(), String> {
    if !(200..=999).contains(&resp.status) {
        return Err(format!(
            "the handler's status {} is not a final status (200 to 999)",
            resp.status
        ));
    }
    // One pass over the headers, the usual case; a second only to drop reserved ones.
    let mut reserved = false;
    for (name, value) in &resp.headers {
        if reserved_response_header(name) {
            reserved = true;
            continue;
        }
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
    if reserved {
        resp.headers
            .retain(|name, _| !reserved_response_header(name));
    }
    Ok(())
}

/// Runs a streamed response's producer into its body. An event's result goes to the platform
/// whole, so it is collected first: an error while producing it still fails the invocation.
fn collect_stream(resp: &mut Response) -> Result<(), Error> {
    let Body::Stream(produce) = std::mem::take(&mut resp.body) else {
        return Ok(());
    };
    let mut body = Vec::new();
    match catch_unwind(AssertUnwindSafe(|| produce.produce(&mut body))) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(Error::typed("StreamFailed", e.to_string())),
        Err(panic) => return Err(Error::from_panic(panic)),
    }
    resp.body = Body::Bytes(body);
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
