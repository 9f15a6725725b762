//! Each trigger of a function: the fc3 schema's required keys and types (`ITrigger`, and per
//! `triggerType` the config definition the schema gives that type), and FC's timer form.

use yaml_serde::Value;

use super::{Findings, Source};
use crate::syaml::FunctionProps;

/// Per `triggerType` (the schema's `ITriggerType`), the required keys of its `triggerConfig`
/// (the schema's definition for that type).
#[rustfmt::skip]
const TRIGGERS: &[(&str, &[&str])] = &[
    ("http", &["authType", "methods"]),
    ("timer", &["cronExpression", "enable"]),
    ("oss", &["events", "filter"]),
    ("log", &["enable", "jobConfig", "logConfig", "sourceConfig"]),
    ("mns_topic", &["notifyContentFormat", "notifyStrategy"]),
    ("cdn_events", &["eventName", "eventVersion", "filter", "notes"]),
    ("tablestore", &[]),
    (
        "eventbridge",
        &["asyncInvocationType", "eventRuleFilterPattern", "eventSinkConfig", "eventSourceConfig",
          "runOptions", "triggerEnable"],
    ),
];

/// What a trigger config's value must be.
enum Want {
    Bool,
    Text,
    OneOf(&'static [&'static str]),
}

/// Per trigger type, the schema's typed keys of its config (beyond `http`, checked through
/// [`crate::syaml::HttpTriggerConfig`]).
const TRIGGER_KEYS: &[(&str, &str, Want)] = &[
    ("timer", "cronExpression", Want::Text),
    ("timer", "enable", Want::Bool),
    ("timer", "payload", Want::Text),
    ("log", "enable", Want::Bool),
    (
        "mns_topic",
        "notifyContentFormat",
        Want::OneOf(&["JSON", "STREAM"]),
    ),
    (
        "mns_topic",
        "notifyStrategy",
        Want::OneOf(&["BACKOFF_RETRY", "EXPONENTIAL_DECAY_RETRY"]),
    ),
    ("mns_topic", "filterTag", Want::Text),
    ("cdn_events", "eventName", Want::Text),
    ("cdn_events", "eventVersion", Want::Text),
    ("cdn_events", "notes", Want::Text),
    ("eventbridge", "asyncInvocationType", Want::Bool),
    ("eventbridge", "triggerEnable", Want::Bool),
    ("eventbridge", "eventRuleFilterPattern", Want::Text),
];

/// FC's timer trigger: `@every 5m` (minutes or hours, `1h30m`), or a cron expression of six
/// fields in UTC, or in a zone given as `CRON_TZ=Asia/Shanghai ...`.
fn timer_expression(cron: &str) -> bool {
    if let Some(every) = cron.strip_prefix("@every ") {
        // `5m`, `2h`, `1h30m`: numbers each followed by h or m.
        let every = every.trim();
        let parts: Vec<&str> = every.split_inclusive(['h', 'm']).collect();
        return !every.is_empty()
            && parts.iter().all(|p| {
                let n = &p[..p.len() - 1];
                (p.ends_with('h') || p.ends_with('m')) && n.parse::<u32>().is_ok_and(|n| n > 0)
            });
    }
    let fields = cron.strip_prefix("CRON_TZ=").map_or(cron, |rest| {
        rest.split_once(' ').map_or("", |(_, fields)| fields)
    });
    fields.split_whitespace().count() == 6
}

/// `IHttpTriggerConfig.methods`' items.
const HTTP_METHODS: &[&str] = &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// Each trigger: the schema's required keys, its type, and its type's config.
pub fn check(p: &FunctionProps, out: &mut Findings) {
    let s = Source::Schema;
    for (i, t) in p.triggers.iter().enumerate() {
        let at = |f: &str| format!("triggers[{i}].{f}");
        for (field, here) in [
            ("triggerName", t.trigger_name.is_some()),
            ("triggerType", t.trigger_type.is_some()),
            ("triggerConfig", t.trigger_config.is_some()),
        ] {
            if !here {
                out.error(s, at(field), "required".into());
            }
        }
        let Some(kind) = t.trigger_type.as_deref() else {
            continue;
        };
        let Some((_, keys)) = TRIGGERS.iter().find(|(k, _)| *k == kind) else {
            let types: Vec<&str> = TRIGGERS.iter().map(|(k, _)| *k).collect();
            out.error(
                s,
                at("triggerType"),
                format!("{kind:?} is not one of {}", types.join(", ")),
            );
            continue;
        };
        let config = t.trigger_config.clone().unwrap_or_default();
        for key in keys.iter().filter(|k| config.get(**k).is_none()) {
            out.error(
                s,
                at(&format!("triggerConfig.{key}")),
                format!("required for a {kind} trigger"),
            );
        }
        for (_, key, want) in TRIGGER_KEYS.iter().filter(|(k, _, _)| *k == kind) {
            let Some(value) = config.get(*key) else {
                continue;
            };
            let ok = match want {
                Want::Bool => value.is_bool(),
                Want::Text => value.is_string(),
                Want::OneOf(allowed) => value.as_str().is_some_and(|v| allowed.contains(&v)),
            };
            if !ok {
                let rule = match want {
                    Want::Bool => "true or false".to_string(),
                    Want::Text => "a string (quote it)".to_string(),
                    Want::OneOf(allowed) => format!("one of {}", allowed.join(", ")),
                };
                out.error(s, at(&format!("triggerConfig.{key}")), rule);
            }
        }
        if let Some(cron) = config.get("cronExpression").and_then(Value::as_str) {
            if kind == "timer" && !timer_expression(cron) {
                // A warning: FC's parser may take more than this; five fields is the usual slip
                // (FC reads the first as seconds).
                let rule = format!(
                    "{cron:?}: FC's form is `@every 5m` or six cron fields (seconds minutes hours \
                     day month weekday), optionally after CRON_TZ=ZONE"
                );
                out.warn(Source::Fc, at("triggerConfig.cronExpression"), rule);
            }
        }
        match t.http() {
            Some(Ok(http)) => {
                let auth = http.auth_type.as_deref();
                if auth.is_some_and(|a| !["anonymous", "function", "jwt"].contains(&a)) {
                    let rule = "anonymous, function or jwt";
                    out.error(s, at("triggerConfig.authType"), rule.into());
                }
                for m in http
                    .methods
                    .iter()
                    .filter(|m| !HTTP_METHODS.contains(&m.as_str()))
                {
                    let rule = format!("{m:?} is not one of {}", HTTP_METHODS.join(", "));
                    out.error(s, at("triggerConfig.methods"), rule);
                }
            }
            Some(Err(e)) => out.error(s, at("triggerConfig"), e),
            None => {}
        }
    }
}
