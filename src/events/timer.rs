//! Timer trigger. Sample: FC docs, "Trigger event format" (触发器event格式), section Time triggers.

use serde::{Deserialize, Serialize};

/// What a timer (time) trigger delivers each time it fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimerEvent {
    /// `triggerTime`: when the trigger fired, UTC, e.g. `2023-12-26T07:49:00Z`.
    pub trigger_time: String,
    /// `triggerName`: the trigger's name.
    pub trigger_name: String,
    /// `payload`: the trigger's "Trigger Message", as configured (often JSON text of your own).
    #[serde(default)]
    pub payload: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures::example;

    #[test]
    fn timer_sample_deserializes() {
        let e: TimerEvent = serde_json::from_str(example("timer").unwrap()).unwrap();
        assert_eq!(e.trigger_name, "timer-trigger");
        assert_eq!(e.trigger_time, "2023-12-26T07:49:00Z");
        assert_eq!(e.payload.as_deref(), Some("awesome-fc"));
    }

    #[test]
    fn timer_without_payload_and_with_unknown_fields_deserializes() {
        let e: TimerEvent =
            serde_json::from_str(r#"{"triggerTime":"t","triggerName":"n","addedLater":{"x":1}}"#)
                .unwrap();
        assert_eq!(e.payload, None);
    }
}
