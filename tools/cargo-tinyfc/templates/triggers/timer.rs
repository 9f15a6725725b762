/// The event: the timer trigger's name, the time it fired and its configured payload.
fn read_event(req: &Request) -> Result<TimerEvent, Error> {
    req.json()
}

/// One line: which trigger fired, when, with what payload. The scheduled work goes here.
fn process(event: &TimerEvent) -> Vec<String> {
    let payload = event.payload.as_deref().unwrap_or("");
    vec![format!(
        "{} at {}: {payload}",
        event.trigger_name, event.trigger_time
    )]
}

/// What `process` makes of `event.json`.
#[cfg(test)]
const SAMPLE_RESULT: &[&str] = &["timer-trigger at 2023-12-26T07:49:00Z: awesome-fc"];
