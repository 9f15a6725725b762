//! `cargo tinyfc check`'s rules on the function `local` is about to run, so that `local` fails
//! where `s deploy` and FC fail: the props s.yaml gives, with the flags that override them
//! (`--memory` is held to memorySize's rule). The rules are check's own (`check::check_function`,
//! `check::edition`), not a copy. An error of the fc3 schema's or FC's refuses the run, listing
//! them all; warnings, and the errors of tinyfc's own rules (about the runtime inside: `s deploy`
//! applies none of them, and `local` runs any custom runtime), are printed and the run goes on.

use std::path::Path;

use yaml_serde::Value;

use super::args::LocalArgs;
use crate::check;
use crate::syaml::{Function, FunctionProps, Manifest};

/// The flags that override a prop check has a rule for: (flag, prop, the value given).
fn overrides(a: &LocalArgs) -> Vec<(&'static str, &'static str, String)> {
    let given = [
        ("--memory", "memorySize", a.memory.map(|v| v.to_string())),
        ("--timeout", "timeout", a.timeout.map(|v| v.to_string())),
        (
            "--concurrency",
            "instanceConcurrency",
            a.concurrency.map(|v| v.to_string()),
        ),
        ("--function-name", "functionName", a.function_name.clone()),
        ("--region", "region", a.region.clone()),
    ];
    given
        .into_iter()
        .filter_map(|(flag, prop, v)| Some((flag, prop, v?)))
        .collect()
}

/// `p` with the flags' values in place of the props they override.
fn overridden(mut p: FunctionProps, a: &LocalArgs) -> FunctionProps {
    p.memory_size = a.memory.or(p.memory_size);
    p.timeout = a.timeout.or(p.timeout);
    p.instance_concurrency = a.concurrency.map(u32::from).or(p.instance_concurrency);
    p.function_name = a.function_name.clone().or(p.function_name);
    p.region = a.region.clone().or(p.region);
    p
}

/// Check's rules on what `local` runs: the function s.yaml gives (None: there is no s.yaml; then
/// only the props a flag sets are checked, FC's defaults being fine), with `a`'s flags over it.
/// Ok: the lines to print before the run (warnings); Err: why FC would refuse it, one line each.
pub fn apply(
    a: &LocalArgs,
    manifest: Option<&Manifest>,
    function: Option<&Function>,
) -> Result<Vec<String>, String> {
    let flags = overrides(a);
    let mut f = function.cloned().unwrap_or_else(|| Function {
        resource: String::new(),
        props: FunctionProps::default(),
        raw: Value::Null,
    });
    f.props = overridden(f.props, a);
    let base = manifest
        .and_then(|m| m.file.parent())
        .unwrap_or(Path::new("."));
    let prefix = format!("resources.{}.props.", f.resource);
    let (mut refused, mut warnings) = (Vec::new(), Vec::new());
    if let Some(rule) = manifest.and_then(check::edition) {
        refused.push(format!("edition: {rule} [fc3 schema]"));
    }
    for finding in check::check_function(&f, base).0 {
        let flag = flags
            .iter()
            .find(|(_, prop, _)| *prop == finding.field)
            .map(|(flag, _, v)| format!("{flag} {v}"));
        let line = match (function, &flag) {
            (Some(_), None) => finding.describe(&prefix),
            (Some(_), Some(flag)) => format!("{} (from {flag})", finding.describe(&prefix)),
            (None, Some(flag)) => format!("{flag}: {}", finding.describe("")),
            // Without an s.yaml, only what a flag sets is there to check.
            (None, None) => continue,
        };
        if finding.refused_by_fc() {
            refused.push(line);
        } else if finding.error {
            warnings.push(format!(
                "warning: {line} (an error to `cargo tinyfc check`, a rule of tinyfc's runtime \
                 that FC does not apply: local goes on)"
            ));
        } else {
            warnings.push(format!("warning: {line}"));
        }
    }
    if refused.is_empty() {
        return Ok(warnings);
    }
    let what = match manifest {
        Some(m) => format!(
            "{}: `s deploy` would refuse this function",
            m.file.display()
        ),
        None => "FC would refuse this function".into(),
    };
    Err(format!(
        "{what} (`cargo tinyfc check` says the same):\n  {}",
        refused.join("\n  ")
    ))
}
