//! An event function with typed JSON (`--features json`): it reads an order and answers a
//! receipt. A body that is not an order fails the invocation with `errorType` `InvalidEventJson`
//! and serde's message (404 and FC's JSON error body), without running the handler.
//!
//! ```text
//! $ curl -s localhost:9000/invoke -d '{"id": 7, "items": ["tea", "cake"]}'
//! {"id":7,"count":2,"first":"tea","greeting":"hello"}
//! $ curl -s localhost:9000/invoke -d '{"id": "seven"}'
//! {"errorMessage":"invalid type: string \"seven\", expected u64 at line 1 column 14","errorType":"InvalidEventJson","stackTrace":[]}
//! ```

use serde::{Deserialize, Serialize};
use tinyfc::{json, Context, Error, Function};

/// The event this function reads.
#[derive(Deserialize)]
struct Order {
    id: u64,
    items: Vec<String>,
}

/// What it answers.
#[derive(Serialize)]
struct Receipt {
    id: u64,
    count: usize,
    first: Option<String>,
    greeting: String,
}

fn main() -> std::io::Result<()> {
    tinyfc::run(Function::with_initializer(
        |_ctx: &Context| Ok(String::from("hello")),
        json::event(
            |greeting: &String, _ctx: &Context, order: Order| -> Result<Receipt, Error> {
                Ok(Receipt {
                    id: order.id,
                    count: order.items.len(),
                    first: order.items.into_iter().next(),
                    greeting: greeting.clone(),
                })
            },
        ),
    ))
}
