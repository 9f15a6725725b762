//! tinyfc: a tiny synchronous runtime for Alibaba Cloud Function Compute (FC) custom runtimes and
//! custom containers.
//!
//! A function is an initializer that builds state, a handler that answers invocations with that
//! state, and optional lifecycle hooks. tinyfc serves the platform's protocol (`POST /initialize`,
//! `POST /invoke`, HTTP invocations, `GET /pre-stop`, `GET /pre-freeze`) on its own small
//! HTTP/1.1 server (std::net + httparse, a bounded worker pool, no async runtime).
//!
//! ```no_run
//! use tinyfc::{Context, Error, Function, Request, Response};
//!
//! struct App { greeting: String }
//!
//! fn main() -> std::io::Result<()> {
//!     tinyfc::run(Function::with_initializer(
//!         |_ctx: &Context| Ok(App { greeting: "Hello, World!".into() }),
//!         |app: &App, _ctx: &Context, _req: Request| -> Result<Response, Error> {
//!             Ok(Response::text(app.greeting.clone()))
//!         },
//!     ))
//! }
//! ```
//!
//! Modules: [`config`] (environment); `conn` (a connection and its reads), `head` (request
//! heads), `body` (request bodies), `grammar` (the HTTP syntax checked beside httparse), `answer`
//! (writing responses); `listener` (accepting), `poller`
//! (where connections wait between requests), `pool` (workers), `main_loop` (start-up and the main
//! thread: timeouts, starting workers, the signal's drain), `signals` (SIGTERM and SIGINT),
//! `server` (serving a request on a worker), `control` (the control thread: /pre-stop,
//! /pre-freeze, and nothing else); `lifecycle`
//! (the state machine), `function` ([`Function`]: the user's code as one value), `runtime`
//! ([`run`], and how each platform call reaches the function);
//! `request` ([`Request`]), `response` ([`Response`], [`Body`]), `headers` ([`Headers`]),
//! `context` ([`Context`] and the table of FC's headers), `protocol` (the platform's calls,
//! answers and error bodies; hidden, for the tools), [`error`], `logging`;
//! `websocket` (feature `websocket`: upgrades, sockets, closing them at a drain); and
//! [`client`] (the HTTP client of [`testing`], whose answers are its `Response`; the tools use it
//! too); [`testing`] (a function's tests: a
//! context, requests, and an in-process server called as the platform calls it). With cargo
//! features: `json` (typed JSON: `Request::json`, `Response::json`, the `json::event` adapter) and
//! `events` (serde types for FC's trigger events, with their sample payloads); see docs/events.md.

#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod answer;
mod body;
mod budget;
pub mod client;
pub mod config;
mod conn;
mod context;
mod control;
pub mod error;
#[cfg(feature = "events")]
pub mod events;
mod followers;
mod function;
mod grammar;
mod head;
mod headers;
#[cfg(feature = "json")]
pub mod json;
mod lifecycle;
mod listener;
mod logging;
mod main_loop;
mod poller;
mod pool;
// Public only for the workspace's tools and examples, not part of the API: see its header.
#[doc(hidden)]
pub mod protocol;
mod ranked;
mod request;
mod response;
mod runtime;
mod server;
mod service;
mod signals;
mod stream;
mod sys;
pub mod testing;
#[cfg(feature = "websocket")]
pub mod websocket;

/// Locks `m`; a thread that panicked while holding it does not make every later user panic too.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `log` facade tinyfc logs through, re-exported so a function can log
/// (`tinyfc::log::info!(..)`) without its own dependency; lines carry the request id.
pub use log;

pub use config::Config;
pub use context::{Context, Credentials};
pub use error::{Error, InitError};
pub use function::Function;
pub use headers::{HeaderIter, Headers};
pub use request::{Kind, Request};
pub use response::{Body, Response, Stream};
pub use runtime::{run, run_with};
