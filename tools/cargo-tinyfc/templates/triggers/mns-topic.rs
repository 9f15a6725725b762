/// The event: one message published to the topic (the trigger's event format JSON; with STREAM
/// the body is the message itself).
fn read_event(req: &Request) -> Result<MnsTopicEvent, Error> {
    req.json()
}

/// One line per message: its topic and body. Handle the message here.
fn process(event: &MnsTopicEvent) -> Vec<String> {
    let topic = event.topic_name.as_deref().unwrap_or("?");
    vec![format!("{topic}: {}", event.message)]
}

/// What `process` makes of `event.json`.
#[cfg(test)]
const SAMPLE_RESULT: &[&str] = &["Mytopic: hello topic"];
