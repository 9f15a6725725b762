use super::*;

fn parse(text: &str) -> Result<Manifest, Error> {
    let env = |name: &str| (name == "FN_OWNER").then(|| "ops".to_string());
    Manifest::parse(text, Path::new("s.yaml"), &env)
}

/// The s.yaml `cargo tinyfc new` writes, its placeholders filled as `new` fills them.
fn generated(triggers: &str) -> String {
    let mut text = include_str!("../../templates/s.yaml.in")
        .replace("{{triggers}}", triggers)
        .replace("{{runtime}}", crate::new::CODE_RUNTIME);
    while let Some(start) = text.find("{{") {
        let end = start + text[start..].find("}}").unwrap() + 2;
        let value = if &text[start..end] == "{{resource}}" {
            "my_fn"
        } else {
            "my-fn"
        };
        text.replace_range(start..end, value);
    }
    text
}

#[test]
fn the_generated_template_reads_as_its_function() {
    let http =
        "      triggers:\n        - triggerName: http\n          triggerType: http\n          \
                triggerConfig:\n            authType: anonymous\n            methods: [GET, POST]";
    for triggers in ["", http] {
        let m = parse(&generated(triggers)).unwrap();
        let f = m.select(None).unwrap();
        assert_eq!(f.resource, "my_fn");
        let p = &f.props;
        assert_eq!(p.function_name.as_deref(), Some("my-fn"));
        assert_eq!(p.region.as_deref(), Some("cn-hangzhou"), "${{vars.region}}");
        assert!(p.memory_size.is_some() && p.timeout.is_some());
        assert!(p.instance_concurrency.is_some());
        assert!(p.environment_variables.contains_key("TINYFC_WORKERS"));
        let hooks = p.instance_lifecycle_config.as_ref().unwrap();
        assert!(hooks.pre_stop.as_ref().unwrap().timeout.is_some());
        assert!(hooks.initializer.as_ref().unwrap().handler.is_some());
        assert!(p.custom_runtime_config.as_ref().unwrap().port.is_some());
        if !triggers.is_empty() {
            let http = p.triggers[0].http().unwrap().unwrap();
            assert_eq!(http.methods, ["GET", "POST"]);
        }
    }
}

const FULL: &str = r#"
edition: 3.0.0
name: app
vars:
  region: cn-beijing
  memory: 256
  owner: ${env(FN_OWNER)}
  concurrency: 20
resources:
  bucket:
    component: oss
    props: { bucket: b }
  api:
    component: fc3
    props:
      region: ${vars.region}
      functionName: api-${vars.region}
      description: run by ${vars.owner}
      runtime: custom.debian12
      code: ./dist/function.zip
      memorySize: ${vars.memory}
      cpu: 0.25
      diskSize: 512
      timeout: 60
      instanceConcurrency: ${vars.concurrency}
      environmentVariables: { RUST_LOG: debug, TINYFC_WORKERS: "32" }
      role: acs:ram::${config('AccountID')}:role/fc-role
      logConfig: auto
      customRuntimeConfig:
        command: [/code/bootstrap]
        args: [--verbose]
        port: 8080
        healthCheckConfig:
          httpGetUrl: /ready
          initialDelaySeconds: 1
          periodSeconds: 5
          timeoutSeconds: 2
          failureThreshold: 3
          successThreshold: 1
      asyncInvokeConfig:
        maxAsyncEventAgeInSeconds: 300
        maxAsyncRetryAttempts: 2
        destinationConfig:
          onFailure: { destination: "acs:mns:cn-beijing::/queues/failed/messages" }
      instanceLifecycleConfig:
        preStop: { handler: index.preStop, timeout: 20 }
      triggers:
        - triggerName: tick
          triggerType: timer
          triggerConfig: { cronExpression: "@every 5m", enable: true }
  worker:
    component: fc3
    props:
      region: cn-beijing
      functionName: worker
      runtime: custom-container
      customContainerConfig: { image: registry.cn-beijing.aliyuncs.com/ns/worker:1, port: 9000 }
      logConfig: { project: p, logstore: l }
"#;

#[test]
fn every_modelled_prop_is_read_with_vars_and_env_resolved() {
    let m = parse(FULL).unwrap();
    assert_eq!(m.others, ["bucket"]);
    assert_eq!(m.edition.as_deref(), Some("3.0.0"));
    let api = &m.select(Some("api")).unwrap().props;
    assert_eq!(api.function_name.as_deref(), Some("api-cn-beijing"));
    assert_eq!(api.memory_size, Some(256), "a number through vars");
    assert_eq!(
        api.description.as_deref(),
        Some("run by ops"),
        "env through vars"
    );
    assert_eq!(api.instance_concurrency, Some(20));
    assert_eq!(api.cpu, Some(0.25));
    assert_eq!(
        api.code.as_ref().unwrap().local_path(),
        Some("./dist/function.zip")
    );
    assert_eq!(api.log_config, Some(LogConfig::Auto("auto".into())));
    let crc = api.custom_runtime_config.as_ref().unwrap();
    assert_eq!(
        (crc.command.len(), crc.args.len(), crc.port),
        (1, 1, Some(8080))
    );
    let hc = crc.health_check_config.as_ref().unwrap();
    assert_eq!(hc.http_get_url.as_deref(), Some("/ready"));
    assert_eq!(
        (hc.period_seconds, hc.failure_threshold),
        (Some(5), Some(3))
    );
    let asynch = api.async_invoke_config.as_ref().unwrap();
    assert_eq!(asynch.max_async_retry_attempts, Some(2));
    let failure = asynch
        .destination_config
        .as_ref()
        .unwrap()
        .on_failure
        .as_ref();
    assert!(failure
        .unwrap()
        .destination
        .as_ref()
        .unwrap()
        .contains("queues/failed"));
    let pre_stop = api
        .instance_lifecycle_config
        .as_ref()
        .unwrap()
        .pre_stop
        .as_ref();
    assert_eq!(pre_stop.unwrap().timeout, Some(20));
    assert_eq!(api.triggers[0].trigger_type.as_deref(), Some("timer"));
    assert!(api.triggers[0].http().is_none());
    assert!(api
        .role
        .as_deref()
        .unwrap()
        .contains("${config('AccountID')}"));
    assert_eq!(m.unresolved.len(), 1);
    let worker = &m.select(Some("worker")).unwrap().props;
    let image = worker
        .custom_container_config
        .as_ref()
        .unwrap()
        .image
        .as_deref();
    assert!(image.unwrap().ends_with("worker:1"));
    assert!(matches!(worker.log_config, Some(LogConfig::Sls(_))));
}

#[test]
fn choosing_among_several_functions_needs_a_resource_name() {
    let m = parse(FULL).unwrap();
    let e = m.select(None).unwrap_err().to_string();
    assert!(e.contains("--resource") && e.contains("api, worker"), "{e}");
    let e = m.select(Some("nope")).unwrap_err().to_string();
    assert!(e.contains("\"nope\"") && e.contains("api, worker"), "{e}");
    let none = parse("resources: { b: { component: oss } }").unwrap();
    assert!(none
        .select(None)
        .unwrap_err()
        .message
        .contains("component: fc3"));
}

#[test]
fn a_value_of_the_wrong_type_names_its_field() {
    let with = |props: &str| {
        let text = format!("resources:\n  f:\n    component: fc3\n    props: {props}\n");
        parse(&text).unwrap_err().to_string()
    };
    let e = with("{ memorySize: lots }");
    assert!(e.contains("resources.f.props.memorySize"), "{e}");
    let e = with("{ environmentVariables: { TINYFC_WORKERS: 16 } }");
    assert!(e.contains("environmentVariables.TINYFC_WORKERS"), "{e}");
    let e = with("{ instanceLifecycleConfig: { preStop: { timeout: -1 } } }");
    assert!(e.contains("instanceLifecycleConfig.preStop.timeout"), "{e}");
    let e = with("[1, 2]");
    assert!(e.contains("must be a map"), "{e}");
    assert!(parse("resources: [").unwrap_err().message.contains("line"));
    assert!(parse("name: x")
        .unwrap_err()
        .message
        .contains("no resources"));
}

#[test]
fn find_reads_s_yaml_or_s_yml_or_the_config_given() {
    let dir = std::env::temp_dir().join(format!("tinyfc-syaml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let e = Manifest::find(None, &dir).unwrap_err();
    assert!(e.message.contains("--config"), "{e}");
    std::fs::write(dir.join("s.yml"), generated("")).unwrap();
    assert_eq!(Manifest::find(None, &dir).unwrap().file, dir.join("s.yml"));
    std::fs::write(
        dir.join("other.yaml"),
        generated("").replace("my_fn", "other"),
    )
    .unwrap();
    let other = Manifest::find(Some(&dir.join("other.yaml")), &dir).unwrap();
    assert_eq!(other.functions[0].resource, "other");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn debug_of_the_props_shows_environment_names_not_values() {
    let text = generated("").replace("RUST_LOG: info", "DB_PASSWORD: hunter2-secret");
    let m = parse(&text).unwrap();
    let props = &m.functions[0].props;
    assert_eq!(props.environment_variables["DB_PASSWORD"], "hunter2-secret");
    let debug = format!("{m:?}");
    assert!(
        debug.contains("DB_PASSWORD") && !debug.contains("hunter2"),
        "{debug}"
    );
}
