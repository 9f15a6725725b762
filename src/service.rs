//! The seam between the workers and the function: [`Service`], what a worker calls for each
//! invocation, and [`Reply`], the one answer a call gives (`server.rs` writes it; `runtime.rs`
//! implements the service over the lifecycle and the user's handler).

use crate::context::Context;
use crate::protocol::{Answer, Call};
use crate::request::Request;
#[cfg(feature = "websocket")]
use crate::websocket::Upgrade;

/// What the workers call: the function's invocations and /initialize (its hooks are the control
/// thread's: `control.rs`).
pub(crate) trait Service: Send + Sync + 'static {
    /// Answers one call with `reply`, while the call still counts as in flight, so a drain waits
    /// until the answer is written. The [`Sent`] it returns comes only from [`Reply::send`], which
    /// consumes the reply: every call answers exactly once, by construction.
    fn call(&self, call: Call, ctx: &Context, req: Request, reply: Reply<'_>) -> Sent;

    /// Serves a WebSocket upgrade if `req`'s path has a WebSocket handler (true), else leaves the
    /// request to [`Service::call`].
    #[cfg(feature = "websocket")]
    fn websocket(&self, ctx: &Context, req: &Request, upgrade: &mut Upgrade<'_>) -> bool;
}

/// A call's one answer: [`Reply::send`] writes it to the client and consumes the reply.
pub(crate) struct Reply<'a>(&'a mut dyn FnMut(Answer));

/// Proof that a call was answered: made only by [`Reply::send`].
#[must_use = "a Service::call returns the Sent of its one reply"]
pub(crate) struct Sent(());

impl<'a> Reply<'a> {
    /// The reply that hands its answer to `write` (the worker's writer for this call).
    pub(crate) fn new(write: &'a mut dyn FnMut(Answer)) -> Reply<'a> {
        Reply(write)
    }

    /// Writes `answer` (the whole answer, or a stream as it is produced).
    pub(crate) fn send(self, answer: Answer) -> Sent {
        (self.0)(answer);
        Sent(())
    }
}
