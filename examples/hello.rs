//! The template function: copy this file and change the three closures.
//!
//! Run it under the local platform with `make run`, or alone with
//! `FC_SERVER_PORT=9000 cargo run --example hello` and `curl -XPOST localhost:9000/invoke`.
//! Test it without the platform with `tinyfc::testing` (docs/writing-functions.md, "Testing"):
//! call the handler with `testing::context()` and `testing::event(..)`, or serve the runtime in
//! the test's own process with `TestServer::start(function)?` and call `.invoke(b"..")`.

use tinyfc::{Context, Error, Function, Request, Response};

/// What the initializer builds once and every invocation borrows (a model, a client pool, ...).
struct App {
    function_name: String,
}

fn main() -> std::io::Result<()> {
    let function = Function::with_initializer(
        |ctx: &Context| {
            log::info!("initializing {}", ctx.function_name);
            Ok(App {
                function_name: std::env::var("FC_FUNCTION_NAME").unwrap_or_default(),
            })
        },
        |app: &App, _ctx: &Context, _req: Request| -> Result<Response, Error> {
            Ok(Response::text("Hello, World!").header("Function-Name", app.function_name.as_str()))
        },
    )
    .pre_stop(|_app: &App, _ctx: &Context| {
        log::info!("pre-stop: flushing and closing");
        Ok(())
    });
    tinyfc::run(function)
}
