/// The event: FC's OSS notification, one record per object event.
fn read_event(req: &Request) -> Result<OssEvent, Error> {
    req.json()
}

/// One line per new object. Fetch and process it here, with the function role's temporary keys
/// in `ctx.credentials` and the clients your initializer built.
fn process(event: &OssEvent) -> Vec<String> {
    let created = event
        .events
        .iter()
        .filter(|r| r.event_name.starts_with("ObjectCreated:"));
    created
        .map(|r| {
            let (bucket, object) = (&r.oss.bucket.name, &r.oss.object);
            let size = object.size.unwrap_or(0);
            format!("oss://{bucket}/{} ({size} bytes)", object.key)
        })
        .collect()
}

/// What `process` makes of `event.json`.
#[cfg(test)]
const SAMPLE_RESULT: &[&str] = &["oss://testbucket/source/a.png (122539 bytes)"];
