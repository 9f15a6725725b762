/// The event: CloudEvents from an EventBridge rule (one, or a batch), `data` as JSON.
fn read_event(req: &Request) -> Result<EventBridgeEvent, Error> {
    req.json()
}

/// One line per event: its type and source. Read `e.data` (a `serde_json::Value`, or make
/// `CloudEvent<YourType>` your event type) here.
fn process(event: &EventBridgeEvent) -> Vec<String> {
    event
        .iter()
        .map(|e| format!("{} from {}", e.event_type, e.source))
        .collect()
}

/// What `process` makes of `event.json`.
#[cfg(test)]
const SAMPLE_RESULT: &[&str] = &["aliyuncvc:MeetingEvent:MemberOperate from acs:aliyuncvc"];
