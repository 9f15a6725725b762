/// The event: changed rows. FC sends it as CBOR; `cargo tinyfc local --event-example` sends the
/// same event as JSON (a body that starts with `{`), which is read too.
fn read_event(req: &Request) -> Result<TablestoreEvent, Error> {
    if req.body.first() == Some(&b'{') {
        return req.json();
    }
    Ok(ciborium::from_reader(req.body.as_slice())?)
}

/// One line per row: the change and the primary key. Handle each row here.
fn process(event: &TablestoreEvent) -> Vec<String> {
    event
        .records
        .iter()
        .map(|r| {
            let key: Vec<String> = r
                .primary_key
                .iter()
                .map(|k| format!("{}={:?}", k.column_name, k.value))
                .collect();
            format!("{} {}", r.row_type, key.join(","))
        })
        .collect()
}

/// What `process` makes of `event.json`.
#[cfg(test)]
const SAMPLE_RESULT: &[&str] = &[
    "PutRow pk_0=Integer(1506416585881590900),pk_1=String(\"2017-09-26 17:03:05.8815909 +0800 CST\"),pk_2=Integer(1506416585741000)",
];

#[cfg(test)]
mod cbor {
    use super::*;
    use tinyfc::testing;

    #[test]
    fn the_cbor_fc_sends_reads_as_the_json_sample() {
        let sample: serde_json::Value =
            serde_json::from_slice(include_bytes!("../event.json")).expect("event.json is JSON");
        let mut cbor = Vec::new();
        ciborium::into_writer(&sample, &mut cbor).unwrap();
        let event = read_event(&testing::event(cbor)).unwrap();
        assert_eq!(process(&event), SAMPLE_RESULT);
    }
}
