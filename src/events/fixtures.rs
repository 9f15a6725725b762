//! The documented sample payload of each trigger, by name: what `cargo tinyfc local
//! --event-example NAME` sends, and what each event type is tested against. Sources are named in
//! the module of each type.

/// Every example name, in the order a tool should list them.
pub const NAMES: &[&str] = &[
    "oss",
    "timer",
    "mns-topic",
    "mns-topic-attributes",
    "mns-topic-stream",
    "mns-queue",
    "sls",
    "tablestore",
    "cdn",
    "cdn-cached-objects",
    "cdn-domain-started",
    "cdn-domain-added",
    "eventbridge",
    "rocketmq",
    "rabbitmq",
    "kafka",
    "http",
];

/// The sample payload (JSON text) named `name`, or `None` for a name not in [`NAMES`].
pub fn example(name: &str) -> Option<&'static str> {
    Some(match name {
        "oss" => include_str!("fixtures/oss.json"),
        "timer" => include_str!("fixtures/timer.json"),
        "mns-topic" => include_str!("fixtures/mns-topic.json"),
        "mns-topic-attributes" => include_str!("fixtures/mns-topic-attributes.json"),
        "mns-topic-stream" => include_str!("fixtures/mns-topic-stream.json"),
        "mns-queue" => include_str!("fixtures/mns-queue.json"),
        "sls" => include_str!("fixtures/sls.json"),
        "tablestore" => include_str!("fixtures/tablestore.json"),
        "cdn" => include_str!("fixtures/cdn.json"),
        "cdn-cached-objects" => include_str!("fixtures/cdn-cached-objects.json"),
        "cdn-domain-started" => include_str!("fixtures/cdn-domain-started.json"),
        "cdn-domain-added" => include_str!("fixtures/cdn-domain-added.json"),
        "eventbridge" => include_str!("fixtures/eventbridge.json"),
        "rocketmq" => include_str!("fixtures/rocketmq.json"),
        "rabbitmq" => include_str!("fixtures/rabbitmq.json"),
        "kafka" => include_str!("fixtures/kafka.json"),
        "http" => include_str!("fixtures/http.json"),
        _ => return None,
    })
}
