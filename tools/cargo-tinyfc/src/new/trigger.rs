//! `new --trigger KIND`: an event function typed for one trigger. Each kind names its event type
//! in `tinyfc::events`, its documented sample (`tinyfc::events::fixtures`, written as
//! `event.json`), the part of `src/main.rs` that reads and handles its event
//! (`templates/triggers/KIND.rs`), and its trigger in s.yaml with the source ARN and role to fill.

/// The triggers `new --trigger` writes a typed function for (`http` is `--http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// OSS object events (`triggerType: oss`).
    Oss,
    /// A schedule (`timer`).
    Timer,
    /// Messages published to an MNS topic (`mns_topic`).
    MnsTopic,
    /// Messages sent to an MNS queue, through EventBridge (`eventbridge`, source MNS).
    MnsQueue,
    /// New logs in a Simple Log Service logstore (`log`).
    Sls,
    /// CDN events (`cdn_events`).
    Cdn,
    /// Events an EventBridge rule matches (`eventbridge`, default bus).
    EventBridge,
    /// Rows changed in a Tablestore table (`tablestore`).
    Tablestore,
}

/// Every `--trigger` value, `http` included, as the usage lists them.
pub const KINDS: &str = "oss, timer, mns-topic, mns-queue, sls, cdn, eventbridge, tablestore, http";

/// What `--trigger VALUE` asks for: a typed event function, or (`http`) an HTTP function.
pub fn parse(value: &str) -> Result<Option<Trigger>, String> {
    Ok(Some(match value {
        "oss" => Trigger::Oss,
        "timer" => Trigger::Timer,
        "mns-topic" | "mns_topic" => Trigger::MnsTopic,
        "mns-queue" | "mns_queue" => Trigger::MnsQueue,
        "sls" | "log" => Trigger::Sls,
        "cdn" | "cdn_events" => Trigger::Cdn,
        "eventbridge" => Trigger::EventBridge,
        "tablestore" => Trigger::Tablestore,
        "http" => return Ok(None),
        other => return Err(format!("--trigger {other:?}: the kinds are {KINDS}")),
    }))
}

impl Trigger {
    /// The sample's name in `tinyfc::events::fixtures` (`local --event-example NAME`).
    pub fn example(self) -> &'static str {
        match self {
            Trigger::Oss => "oss",
            Trigger::Timer => "timer",
            Trigger::MnsTopic => "mns-topic",
            Trigger::MnsQueue => "mns-queue",
            Trigger::Sls => "sls",
            Trigger::Cdn => "cdn",
            Trigger::EventBridge => "eventbridge",
            Trigger::Tablestore => "tablestore",
        }
    }

    /// The event's type in `tinyfc::events`.
    pub fn event_type(self) -> &'static str {
        match self {
            Trigger::Oss => "OssEvent",
            Trigger::Timer => "TimerEvent",
            Trigger::MnsTopic => "MnsTopicEvent",
            Trigger::MnsQueue => "MnsQueueEvent",
            Trigger::Sls => "SlsEvent",
            Trigger::Cdn => "CdnEvent",
            Trigger::EventBridge => "EventBridgeEvent",
            Trigger::Tablestore => "TablestoreEvent",
        }
    }

    /// The first line of `src/main.rs`.
    pub fn about(self) -> &'static str {
        match self {
            Trigger::Oss => "A function FC calls for uploads to an OSS bucket (an OSS trigger).",
            Trigger::Timer => "A function FC calls on a schedule (a timer trigger).",
            Trigger::MnsTopic => "A function FC calls for messages published to an MNS topic.",
            Trigger::MnsQueue => "A function FC calls for messages sent to an MNS queue.",
            Trigger::Sls => "A function FC calls when a Simple Log Service logstore has new logs.",
            Trigger::Cdn => "A function FC calls for CDN events (log files, refreshes, domains).",
            Trigger::EventBridge => "A function FC calls for events an EventBridge rule matches.",
            Trigger::Tablestore => "A function FC calls for rows changed in a Tablestore table.",
        }
    }

    /// The part of `src/main.rs` that reads and handles the event: `read_event`, `process` and
    /// `SAMPLE_RESULT` (what `process` makes of the sample).
    pub fn code(self) -> &'static str {
        match self {
            Trigger::Oss => include_str!("../../templates/triggers/oss.rs"),
            Trigger::Timer => include_str!("../../templates/triggers/timer.rs"),
            Trigger::MnsTopic => include_str!("../../templates/triggers/mns-topic.rs"),
            Trigger::MnsQueue => include_str!("../../templates/triggers/mns-queue.rs"),
            Trigger::Sls => include_str!("../../templates/triggers/sls.rs"),
            Trigger::Cdn => include_str!("../../templates/triggers/cdn.rs"),
            Trigger::EventBridge => include_str!("../../templates/triggers/eventbridge.rs"),
            Trigger::Tablestore => include_str!("../../templates/triggers/tablestore.rs"),
        }
    }

    /// Dependencies beyond tinyfc, serde and serde_json (Cargo.toml lines).
    pub fn dependencies(self) -> &'static str {
        match self {
            // FC delivers Tablestore's event as CBOR: ciborium is the maintained serde CBOR crate.
            Trigger::Tablestore => "# FC sends Tablestore's event as CBOR.\nciborium = \"0.2\"\n",
            _ => "",
        }
    }

    /// The trigger in s.yaml (the `triggers:` list under `props`), with what to fill explained.
    pub fn yaml(self) -> &'static str {
        match self {
            Trigger::Oss => OSS,
            Trigger::Timer => TIMER,
            Trigger::MnsTopic => MNS_TOPIC,
            Trigger::MnsQueue => MNS_QUEUE,
            Trigger::Sls => SLS,
            Trigger::Cdn => CDN,
            Trigger::EventBridge => EVENTBRIDGE,
            Trigger::Tablestore => TABLESTORE,
        }
    }
}

/// How every sourced trigger's placeholders read.
const ROLES: &str = "      # ${config('AccountID')} is your account's ID (Serverless Devs fills it in from `s config`).
      # invocationRole is the RAM role the source service assumes to call the function: the
      # console creates it the first time you add such a trigger, or create it in RAM with the
      # service as trusted principal and the policy AliyunFCInvocationAccess.";

const OSS: &str =
    "      # OSS calls the function for each upload under uploads/ to the bucket my-bucket (replace
      # it with yours, in the same region).
{{roles}}
      triggers:
        - triggerName: oss-upload
          triggerType: oss
          sourceArn: acs:oss:${vars.region}:${config('AccountID')}:my-bucket
          invocationRole: acs:ram::${config('AccountID')}:role/aliyunosseventnotificationrole
          triggerConfig:
            events:
              - oss:ObjectCreated:PutObject
              - oss:ObjectCreated:PostObject
              - oss:ObjectCreated:CompleteMultipartUpload
            filter:
              key:
                prefix: uploads/
                suffix: ''";

const TIMER: &str = "      # FC calls the function every 5 minutes with the payload below (cronExpression also takes
      # a cron expression in UTC, e.g. '0 0 8 * * *').
      triggers:
        - triggerName: every-5-minutes
          triggerType: timer
          triggerConfig:
            cronExpression: '@every 5m'
            enable: true
            payload: awesome-fc";

const MNS_TOPIC: &str = "      # MNS calls the function for each message published to the topic my-topic (replace it with
      # yours). notifyContentFormat JSON gives src/main.rs's MnsTopicEvent; STREAM would give the
      # message body alone.
{{roles}}
      triggers:
        - triggerName: topic-messages
          triggerType: mns_topic
          sourceArn: acs:mns:${vars.region}:${config('AccountID')}:/topics/my-topic
          invocationRole: acs:ram::${config('AccountID')}:role/aliyunmnsnotificationrole
          triggerConfig:
            notifyContentFormat: JSON
            notifyStrategy: BACKOFF_RETRY";

const MNS_QUEUE: &str = "      # Messages sent to the MNS queue my-queue (replace it with yours) reach the function through
      # EventBridge, as CloudEvents. EventBridge needs no invocationRole, but its service-linked
      # role: the EventBridge console asks to create it once.
      triggers:
        - triggerName: queue-messages
          triggerType: eventbridge
          triggerConfig:
            triggerEnable: true
            asyncInvocationType: false
            eventRuleFilterPattern: '{\"source\":[\"MNS-{{name}}-queue-messages\"]}'
            eventSourceConfig:
              eventSourceType: MNS
              eventSourceParameters:
                sourceMNSParameters:
                  QueueName: my-queue
                  IsBase64Decode: false
            # One message per call. mode event-streaming with runOptions.batchWindow delivers
            # batches (a JSON array, which MnsQueueEvent reads too).
            eventSinkConfig:
              deliveryOption:
                mode: event-driven
                eventSchema: CloudEvents
            runOptions:
              mode: event-driven";

const SLS: &str =
    "      # Simple Log Service calls the function every 60 s for new logs in my-logstore of the
      # project my-project (replace both), and logs each run in my-trigger-logs.
{{roles}}
      triggers:
        - triggerName: new-logs
          triggerType: log
          sourceArn: acs:log:${vars.region}:${config('AccountID')}:project/my-project
          invocationRole: acs:ram::${config('AccountID')}:role/aliyunlogetlrole
          triggerConfig:
            sourceConfig:
              logstore: my-logstore
            logConfig:
              project: my-project
              logstore: my-trigger-logs
            jobConfig:
              maxRetryTime: 3
              triggerInterval: 60
            functionParameter: {}
            enable: true";

const CDN: &str =
    "      # CDN calls the function when a log file of the domain example.com is ready (replace it
      # with yours; eventName and eventVersion cannot change once the trigger exists).
{{roles}}
      triggers:
        - triggerName: cdn-logs
          triggerType: cdn_events
          sourceArn: acs:cdn:*:${config('AccountID')}
          invocationRole: acs:ram::${config('AccountID')}:role/aliyuncdneventnotificationrole
          triggerConfig:
            eventName: LogFileCreated
            eventVersion: '1.0.0'
            notes: log files of example.com
            filter:
              domain:
                - example.com";

const EVENTBRIDGE: &str = "      # An EventBridge rule on the default bus sends the function the events its pattern matches
      # (here every event from OSS; see EventBridge's event patterns). EventBridge needs no
      # invocationRole, but its service-linked role: its console asks to create it once.
      triggers:
        - triggerName: bus-events
          triggerType: eventbridge
          triggerConfig:
            triggerEnable: true
            asyncInvocationType: false
            eventRuleFilterPattern: '{\"source\":[\"acs.oss\"]}'
            eventSourceConfig:
              eventSourceType: Default
            eventSinkConfig:
              deliveryOption:
                mode: event-driven
                eventSchema: CloudEvents
            runOptions:
              mode: event-driven";

const TABLESTORE: &str = "      # Tablestore calls the function for rows changed in my-table of the instance my-instance
      # (replace both; the table needs Stream enabled).
{{roles}}
      triggers:
        - triggerName: row-changes
          triggerType: tablestore
          sourceArn: acs:ots:${vars.region}:${config('AccountID')}:instance/my-instance/table/my-table
          invocationRole: acs:ram::${config('AccountID')}:role/aliyuntablestorestreamnotificationrole
          triggerConfig: {}";

/// `yaml` with the shared explanation of ARNs and roles put in.
pub fn yaml_with_roles(t: Trigger) -> String {
    t.yaml().replace("{{roles}}", ROLES)
}
