/// The event: which shard of which logstore has new logs, between two cursors.
fn read_event(req: &Request) -> Result<SlsEvent, Error> {
    req.json()
}

/// One line: the logstore, shard and cursors. Read the logs between the cursors here (SLS's
/// PullLogs API, with the function role's temporary keys in `ctx.credentials`).
fn process(event: &SlsEvent) -> Vec<String> {
    let s = &event.source;
    vec![format!(
        "{}/{} shard {}: {}..{}",
        s.project_name, s.logstore_name, s.shard_id, s.begin_cursor, s.end_cursor
    )]
}

/// What `process` makes of `event.json`.
#[cfg(test)]
const SAMPLE_RESULT: &[&str] =
    &["fc-test-project/fc-test-logstore shard 0: MTUyOTQ4MDIwOTY1NTk3ODQ2Mw==..MTUyOTQ4MDIwOTY1NTk3ODQ2NA=="];
