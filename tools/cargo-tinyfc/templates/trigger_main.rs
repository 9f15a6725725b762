//! {{about}}
//!
//! `cargo test` runs the handler on `event.json`, FC's documented sample of this event, in-process
//! and over a socket; README.md has the other commands.

// No #[global_allocator]: the system allocator is tinyfc's choice (within 10% of the fastest
// measured on throughput, with the quickest first answer and the least memory).

use std::io;

use tinyfc::events::{{event_type}};
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

/// Every invocation: the trigger's event is the request body. An event of another shape (`?`:
/// errorType InvalidEventJson, serde's message), another returned error, or a panic fails this
/// invocation only. The answer, a JSON list of what was done, goes back to a synchronous caller.
fn handler(state: &State, _ctx: &Context, req: Request) -> Result<Response, Error> {
    let event = read_event(&req)?;
    let done = process(&event);
    for line in &done {
        info!("{}: {line}", state.function_name);
    }
    Response::json(&done)
}

{{trigger}}
/// Serves the function, configured from the environment (`FC_SERVER_PORT`, `TINYFC_*`).
fn main() -> io::Result<()> {
    tinyfc::run(function())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinyfc::testing::{self, TestServer};

    /// FC's documented sample of this trigger's event (`local --event-example {{example}}` sends it).
    const SAMPLE: &[u8] = include_bytes!("../event.json");

    #[test]
    fn the_handler_processes_the_sample_event_in_process() {
        let state = initialize(&testing::context()).unwrap();
        let response = handler(&state, &testing::context(), testing::event(SAMPLE)).unwrap();
        assert_eq!(response.status, 200);
        let done: Vec<String> = serde_json::from_slice(&testing::body(response).unwrap()).unwrap();
        assert_eq!(done, SAMPLE_RESULT);
    }

    #[test]
    fn an_event_of_another_shape_fails_the_invocation() {
        let state = initialize(&testing::context()).unwrap();
        let event = testing::event(b"\"not this event\"");
        assert!(handler(&state, &testing::context(), event).is_err());
    }

    #[test]
    fn the_function_runs_its_lifecycle_over_a_socket() -> io::Result<()> {
        let server = TestServer::start(function())?;
        assert_eq!(server.initialize()?.status, 200);
        let answer = server.invoke(SAMPLE)?;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let done: Vec<String> = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(done, SAMPLE_RESULT);
        // A failed invocation answers 404 with FC's JSON error body; the instance lives on.
        let failed = server.invoke(b"[1, 2]")?;
        assert_eq!(failed.status, 404);
        assert!(failed.text().contains("errorMessage"), "{}", failed.text());
        assert_eq!(server.invoke(SAMPLE)?.status, 200);
        assert_eq!(server.pre_stop()?.status, 200);
        Ok(())
    }
}
