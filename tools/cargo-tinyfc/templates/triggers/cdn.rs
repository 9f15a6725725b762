/// The event: CDN events (a log file ready, objects refreshed or preloaded, a domain changed).
fn read_event(req: &Request) -> Result<CdnEvent, Error> {
    req.json()
}

/// One line per event: its name and domain. Handle each event here (for LogFileCreated, fetch
/// `event_parameter.file_path`).
fn process(event: &CdnEvent) -> Vec<String> {
    event
        .events
        .iter()
        .map(|e| {
            let domain = e.event_parameter.domain.as_deref().unwrap_or("?");
            format!("{} on {domain}", e.event_name)
        })
        .collect()
}

/// What `process` makes of `event.json`.
#[cfg(test)]
const SAMPLE_RESULT: &[&str] = &["LogFileCreated on example.com"];
