//! An event function on tinyfc for Alibaba Cloud Function Compute: a trigger (OSS, a timer, a
//! queue...) or an `InvokeFunction` call sends the event as the body of `POST /invoke`.
//!
//! `cargo test` runs the handler in-process and over a socket; README.md has the other commands.

// No #[global_allocator]: the system allocator is tinyfc's choice (within 10% of the fastest
// measured on throughput, with the quickest first answer and the least memory).

use std::io;

use tinyfc::log::info;
use tinyfc::{Context, Error, Function, InitError, Request, Response};

/// What the initializer builds once per instance life and every invocation borrows: clients,
/// configuration, a model...
struct State {
    function_name: String,
}

/// The whole function: the initializer, the handler and the pre-stop hook, as one value that
/// `main` serves and the tests start.
fn function() -> Function<State> {
    Function::with_initializer(initialize, handler).pre_stop(pre_stop)
}

/// Runs once, before the first invocation. `?` on an error asks the platform to retry;
/// `InitError::fatal(e)` has it restart the instance.
fn initialize(ctx: &Context) -> Result<State, InitError> {
    info!("initializing {}", ctx.function_name);
    Ok(State {
        function_name: ctx.function_name.clone(),
    })
}

/// Runs once when the platform stops the instance, after in-flight invocations have finished.
fn pre_stop(_state: &State, _ctx: &Context) -> Result<(), Error> {
    info!("pre-stop: flush and close here");
    Ok(())
}

/// Every invocation: the event is the request body. A returned error (here: an event that is not
/// UTF-8) or a panic fails this invocation only.
fn handler(state: &State, _ctx: &Context, req: Request) -> Result<Response, Error> {
    let event = std::str::from_utf8(&req.body)?;
    info!("event of {} bytes", event.len());
    Ok(Response::text(format!(
        "{} processed an event of {} bytes\n",
        state.function_name,
        event.len()
    )))
}

/// Serves the function, configured from the environment (`FC_SERVER_PORT`, `TINYFC_*`).
fn main() -> io::Result<()> {
    tinyfc::run(function())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinyfc::testing::{self, TestServer};

    #[test]
    fn the_handler_processes_an_event_in_process() {
        let state = initialize(&testing::context()).unwrap();
        let event = testing::event(b"{\"bucket\": \"photos\"}");
        let response = handler(&state, &testing::context(), event).unwrap();
        assert_eq!(response.status, 200);
        let text = String::from_utf8(testing::body(response).unwrap()).unwrap();
        assert!(text.ends_with("processed an event of 20 bytes\n"), "{text}");
    }

    #[test]
    fn an_event_that_is_not_utf8_fails_the_invocation() {
        let state = initialize(&testing::context()).unwrap();
        let event = testing::event(b"\xff\xfe");
        assert!(handler(&state, &testing::context(), event).is_err());
    }

    #[test]
    fn the_function_runs_its_lifecycle_over_a_socket() -> io::Result<()> {
        let server = TestServer::start(function())?;
        assert_eq!(server.initialize()?.status, 200);
        let answer = server.invoke(b"{\"bucket\": \"photos\"}")?;
        assert_eq!(answer.status, 200);
        assert!(answer.text().ends_with("processed an event of 20 bytes\n"));
        // A failed invocation answers 404 with FC's JSON error body; the instance lives on.
        let failed = server.invoke(b"\xff")?;
        assert_eq!(failed.status, 404);
        assert!(failed.text().contains("errorMessage"), "{}", failed.text());
        assert_eq!(server.invoke(b"again")?.status, 200);
        assert_eq!(server.pre_stop()?.status, 200);
        Ok(())
    }
}
