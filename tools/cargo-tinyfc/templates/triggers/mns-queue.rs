/// The event: a batch of queue messages as CloudEvents (an MNS queue triggers through
/// EventBridge).
fn read_event(req: &Request) -> Result<MnsQueueEvent, Error> {
    req.json()
}

/// One line per message: its id and body. Handle each message here.
fn process(event: &MnsQueueEvent) -> Vec<String> {
    event
        .iter()
        .map(|e| {
            let id = e.data.message_id.as_deref().unwrap_or(&e.id);
            format!("{id}: {}", e.data.message_body)
        })
        .collect()
}

/// What `process` makes of `event.json`.
#[cfg(test)]
const SAMPLE_RESULT: &[&str] = &[
    "C6DB60D1574661357FA227277445****: TEST",
    "C6DB60D1574661357FA227277445****: TEST",
];
