//! An HTTP function on tinyfc for Alibaba Cloud Function Compute: the HTTP trigger passes each
//! client request through with its own method, path, headers and body.
//!
//! `cargo test` runs the handler in-process and over a socket; README.md has the other commands.

// No #[global_allocator]: the system allocator is tinyfc's choice (within 10% of the fastest
// measured on throughput, with the quickest first answer and the least memory).

use std::io;

use tinyfc::log::info;
use tinyfc::{Context, Error, Function, InitError, Kind, Request, Response};

/// What the initializer builds once per instance life and every request borrows: clients,
/// configuration, a model...
struct State {
    greeting: String,
}

/// The whole function: the initializer, the handler and the pre-stop hook, as one value that
/// `main` serves and the tests start.
fn function() -> Function<State> {
    Function::with_initializer(initialize, handler).pre_stop(pre_stop)
}

/// Runs once, before the first request. `?` on an error asks the platform to retry;
/// `InitError::fatal(e)` has it restart the instance.
fn initialize(ctx: &Context) -> Result<State, InitError> {
    info!("initializing {}", ctx.function_name);
    Ok(State {
        greeting: "Hello".into(),
    })
}

/// Runs once when the platform stops the instance, after in-flight requests have finished.
fn pre_stop(_state: &State, _ctx: &Context) -> Result<(), Error> {
    info!("pre-stop: flush and close here");
    Ok(())
}

/// Every request. `route_path()` is the path without its query and without the base path FC puts
/// in front when the function is reached without a custom domain, so the routes are the same
/// behind either. A returned error or a panic answers 500 for this request only.
fn handler(state: &State, _ctx: &Context, req: Request) -> Result<Response, Error> {
    // An event invocation (`s invoke`, a timer trigger keeping instances warm) is not a request.
    if req.kind == Kind::Event {
        return Ok(Response::text("ok\n"));
    }
    match (req.method.as_str(), req.route_path()) {
        ("GET", "/") => Ok(Response::text(format!("{}, world!\n", state.greeting))),
        ("GET", path) if path.starts_with("/hello/") => {
            let name = &path["/hello/".len()..];
            Ok(Response::text(format!("{}, {name}!\n", state.greeting)))
        }
        ("POST", "/echo") => {
            let kind = req
                .header("content-type")
                .unwrap_or("application/octet-stream");
            Ok(Response::new(200)
                .header("content-type", kind)
                .body(req.body.as_slice()))
        }
        (_, "/" | "/echo") => Ok(Response::new(405).header("allow", "GET, POST")),
        _ => Ok(Response::new(404)
            .header("content-type", "text/plain; charset=utf-8")
            .body("not found\n")),
    }
}

/// Serves the function, configured from the environment (`FC_SERVER_PORT`, `TINYFC_*`).
fn main() -> io::Result<()> {
    tinyfc::run(function())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinyfc::testing::{self, TestServer};

    fn call(req: Request) -> Response {
        let state = initialize(&testing::context()).unwrap();
        handler(&state, &testing::context(), req).unwrap()
    }

    #[test]
    fn routes_answer_in_process() {
        assert_eq!(call(testing::http("GET", "/")).body, b"Hello, world!\n");
        assert_eq!(
            call(testing::http("GET", "/hello/rust?x=1")).body,
            b"Hello, rust!\n"
        );
        let echo = call(testing::http("POST", "/echo").with_body(b"ping"));
        assert_eq!(
            (echo.status, echo.body.as_bytes()),
            (200, Some(&b"ping"[..]))
        );
        assert_eq!(call(testing::http("DELETE", "/")).status, 405);
        assert_eq!(call(testing::http("GET", "/nowhere")).status, 404);
        assert_eq!(call(testing::event(b"{}")).body, b"ok\n");
    }

    #[test]
    fn routes_are_the_same_behind_fc_base_path() {
        let req = testing::http("GET", "/2016-08-15/proxy/svc/fn/hello/fc")
            .with_header("x-fc-base-path", "/2016-08-15/proxy/svc/fn");
        assert_eq!(call(req).body, b"Hello, fc!\n");
    }

    #[test]
    fn the_function_serves_requests_over_a_socket() -> io::Result<()> {
        let server = TestServer::start(function())?;
        assert_eq!(server.initialize()?.status, 200);
        let hello = server.request("GET", "/hello/socket", &[], b"")?;
        assert_eq!(
            (hello.status, hello.text().as_str()),
            (200, "Hello, socket!\n")
        );
        let echo = server.request("POST", "/echo", &[("content-type", "text/plain")], b"ping")?;
        assert_eq!(echo.header("content-type"), Some("text/plain"));
        assert_eq!(echo.body, b"ping");
        assert_eq!(server.request("GET", "/nowhere", &[], b"")?.status, 404);
        assert_eq!(server.pre_stop()?.status, 200);
        Ok(())
    }
}
