//! The fc3 component's function props, typed: the part of s.yaml that `local` runs with and
//! `check` validates. Field names are the props' (camelCase in YAML); the types are what FC's API
//! takes, so a value of the wrong type fails to load, naming its field. Props tinyfc does not use
//! (vpcConfig, nasConfig, ...) are kept only in [`super::Function::raw`].

use std::collections::BTreeMap;

use serde::Deserialize;

/// The props of one `component: fc3` resource.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FunctionProps {
    /// `region`, e.g. cn-hangzhou (FC_REGION).
    pub region: Option<String>,
    /// `functionName` (FC_FUNCTION_NAME, x-fc-function-name).
    pub function_name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `runtime`: custom.debian10/11/12, custom, custom-container, ...
    pub runtime: Option<String>,
    /// `code`: the code package (a local path, or an OSS object).
    pub code: Option<Code>,
    /// `handler`: required by the API for built-in runtimes, unused by a custom runtime.
    pub handler: Option<String>,
    /// `memorySize`, in MB (FC_FUNCTION_MEMORY_SIZE).
    pub memory_size: Option<u32>,
    /// `cpu`, in vCPUs.
    pub cpu: Option<f64>,
    /// `diskSize`, in MB (512 or 10240).
    pub disk_size: Option<u32>,
    /// `timeout`, in seconds (x-fc-function-timeout).
    pub timeout: Option<u32>,
    /// `instanceConcurrency`: invocations one instance serves at once.
    pub instance_concurrency: Option<u32>,
    /// `environmentVariables`: the instance's environment (strings only, as FC's schema says).
    #[serde(default)]
    pub environment_variables: Environment,
    /// `instanceLifecycleConfig`: the initializer and preStop hooks.
    pub instance_lifecycle_config: Option<InstanceLifecycleConfig>,
    /// `customRuntimeConfig`: how FC starts a custom runtime.
    pub custom_runtime_config: Option<CustomRuntimeConfig>,
    /// `customContainerConfig`: the image of a custom container.
    pub custom_container_config: Option<CustomContainerConfig>,
    /// `asyncInvokeConfig`: retries, event age and destinations of asynchronous invocations.
    pub async_invoke_config: Option<AsyncInvokeConfig>,
    /// `role`: the RAM role whose temporary credentials the instance gets (x-fc-access-key-id...).
    pub role: Option<String>,
    /// `logConfig`: where the function's log goes (SLS), or `auto`.
    pub log_config: Option<LogConfig>,
    /// `triggers`.
    #[serde(default)]
    pub triggers: Vec<Trigger>,
}

/// `environmentVariables`: names to values. Its `Debug` shows the names only: values are where
/// users put secrets (a database password, ALIBABA_CLOUD_* keys), and a derived `Debug` of the
/// props must not print them.
#[derive(Deserialize, Clone, Default, PartialEq, Eq)]
#[serde(transparent)]
pub struct Environment(pub BTreeMap<String, String>);

impl std::ops::Deref for Environment {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Environment {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

/// `code`: a path (a directory or a zip, relative to s.yaml) or an OSS object.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum Code {
    /// A local path.
    Path(String),
    /// `{ ossBucketName, ossObjectName, src }`.
    #[serde(rename_all = "camelCase")]
    Oss {
        /// `ossBucketName`.
        oss_bucket_name: String,
        /// `ossObjectName`.
        oss_object_name: String,
        /// `src`: the local path uploaded there.
        src: Option<String>,
    },
}

impl Code {
    /// The local path of the code package, if there is one.
    pub fn local_path(&self) -> Option<&str> {
        match self {
            Code::Path(p) => Some(p),
            Code::Oss { src, .. } => src.as_deref(),
        }
    }
}

/// `instanceLifecycleConfig`.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceLifecycleConfig {
    /// `initializer`: POST /initialize.
    pub initializer: Option<LifecycleHook>,
    /// `preStop`: GET /pre-stop.
    pub pre_stop: Option<LifecycleHook>,
}

/// One lifecycle hook.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleHook {
    /// `handler`: FC calls the hook only when it is set.
    pub handler: Option<String>,
    /// `timeout`, in seconds (at least 1).
    pub timeout: Option<u32>,
}

/// `customRuntimeConfig`.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomRuntimeConfig {
    /// `command`: what FC runs (none: /code/bootstrap).
    #[serde(default)]
    pub command: Vec<String>,
    /// `args`: its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// `port`: where the function listens (FC_SERVER_PORT; FC's default 9000).
    pub port: Option<u16>,
    /// `healthCheckConfig`.
    pub health_check_config: Option<HealthCheckConfig>,
}

/// `customContainerConfig`.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomContainerConfig {
    /// `image`: the image's address in ACR.
    pub image: Option<String>,
    /// `entrypoint`: overrides the image's entrypoint.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// `command`: overrides the image's command.
    #[serde(default)]
    pub command: Vec<String>,
    /// `port`: where the function listens (FC's default 9000).
    pub port: Option<u16>,
    /// `healthCheckConfig`.
    pub health_check_config: Option<HealthCheckConfig>,
}

/// `healthCheckConfig`: FC's HTTP health check of an instance.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckConfig {
    /// `httpGetUrl`: the path FC GETs.
    pub http_get_url: Option<String>,
    /// `initialDelaySeconds`: wait before the first check.
    pub initial_delay_seconds: Option<u32>,
    /// `periodSeconds`: between checks.
    pub period_seconds: Option<u32>,
    /// `timeoutSeconds`: one check's limit.
    pub timeout_seconds: Option<u32>,
    /// `failureThreshold`: failures in a row that fail the instance.
    pub failure_threshold: Option<u32>,
    /// `successThreshold`: successes in a row that make it healthy.
    pub success_threshold: Option<u32>,
}

/// `asyncInvokeConfig`.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AsyncInvokeConfig {
    /// `maxAsyncEventAgeInSeconds` (FC's default 18000, 1-2592000).
    pub max_async_event_age_in_seconds: Option<u32>,
    /// `maxAsyncRetryAttempts` (FC's default 3, 0-8).
    pub max_async_retry_attempts: Option<u32>,
    /// `destinationConfig`.
    pub destination_config: Option<DestinationConfig>,
    /// `asyncTask`: asynchronous tasks (stateful invocations).
    pub async_task: Option<bool>,
    /// `qualifier`.
    pub qualifier: Option<String>,
}

/// `destinationConfig`.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DestinationConfig {
    /// `onSuccess.destination`: an ARN.
    pub on_success: Option<Destination>,
    /// `onFailure.destination`: an ARN.
    pub on_failure: Option<Destination>,
}

/// One destination.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Destination {
    /// `destination`: the ARN (MNS queue or topic, function, EventBridge).
    pub destination: Option<String>,
}

/// `logConfig`: `auto`, or an SLS project and logstore.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum LogConfig {
    /// `auto`: Serverless Devs creates the project and logstore.
    Auto(String),
    /// `{ project, logstore, ... }`.
    Sls(SlsLogConfig),
}

/// `logConfig` as an object.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SlsLogConfig {
    /// `project`: the SLS project.
    pub project: Option<String>,
    /// `logstore`: the SLS logstore.
    pub logstore: Option<String>,
    /// `enableRequestMetrics`.
    pub enable_request_metrics: Option<bool>,
    /// `enableInstanceMetrics`.
    pub enable_instance_metrics: Option<bool>,
    /// `logBeginRule`: DefaultRegex or None.
    pub log_begin_rule: Option<String>,
}

/// One of `triggers`.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// `triggerName`.
    pub trigger_name: Option<String>,
    /// `triggerType`: http, timer, oss, log, mns_topic, cdn_events, tablestore, eventbridge.
    pub trigger_type: Option<String>,
    /// `triggerConfig`, as written: its shape depends on the type ([`Trigger::http`] reads an
    /// HTTP trigger's).
    pub trigger_config: Option<yaml_serde::Value>,
    /// `qualifier`.
    pub qualifier: Option<String>,
    /// `invocationRole`: the role the event source assumes to invoke the function.
    pub invocation_role: Option<String>,
    /// `sourceArn`: the event source.
    pub source_arn: Option<String>,
    /// `description`.
    pub description: Option<String>,
}

/// An HTTP trigger's `triggerConfig`.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpTriggerConfig {
    /// `authType`: anonymous, function or jwt.
    pub auth_type: Option<String>,
    /// `methods`: the HTTP methods the trigger accepts.
    #[serde(default)]
    pub methods: Vec<String>,
    /// `disableURLInternet`: no public URL.
    #[serde(rename = "disableURLInternet")]
    pub disable_url_internet: Option<bool>,
}

impl Trigger {
    /// The HTTP trigger's config, when this is one (an error names what does not fit).
    pub fn http(&self) -> Option<Result<HttpTriggerConfig, String>> {
        if self.trigger_type.as_deref() != Some("http") {
            return None;
        }
        let config = self.trigger_config.clone().unwrap_or_default();
        Some(yaml_serde::from_value(config).map_err(|e| e.to_string()))
    }
}
