//! Serverless Devs' `${...}` expressions in s.yaml: `${vars.NAME}` (a path into the top-level
//! `vars`, e.g. `${vars.oss.bucket}`) and `${env('NAME')}` / `${env.NAME}` (the environment) are
//! resolved; any other expression (`${config('AccountID')}`, `${resources...}`) is left as
//! written and listed, since only `s` knows its value.
//!
//! A string that is only an expression takes the value's type (`memorySize: ${vars.memory}` is a
//! number); an expression inside a longer string is replaced by the value's text. The environment
//! gives strings: `memorySize: ${env(MEMORY)}` is a string, and a number prop refuses it.

use yaml_serde::Value;

/// What resolving found: expressions left as written, with where they are.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unresolved(pub Vec<(String, String)>);

/// Resolves every expression in `value` (at `path`, for messages) against `vars`.
pub fn resolve(
    value: &mut Value,
    path: &str,
    vars: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    left: &mut Unresolved,
) -> Result<(), String> {
    match value {
        Value::String(s) => {
            if let Some(new) = resolve_str(s, path, vars, env, left)? {
                *value = new;
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve(item, &format!("{path}[{i}]"), vars, env, left)?;
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let key = key
                    .as_str()
                    .map_or_else(|| format!("{key:?}"), String::from);
                let here = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                resolve(item, &here, vars, env, left)?;
            }
        }
        Value::Tagged(tagged) => resolve(&mut tagged.value, path, vars, env, left)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// The string with its expressions resolved; None when it has none to resolve.
fn resolve_str(
    s: &str,
    path: &str,
    vars: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    left: &mut Unresolved,
) -> Result<Option<Value>, String> {
    if !s.contains("${") {
        return Ok(None);
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or_else(|| format!("{path}: {s:?} has a ${{ with no closing }}"))?;
        let expression = rest[start + 2..end].trim();
        let value = match lookup(expression, vars, env) {
            Lookup::Found(v) => v,
            Lookup::Missing(why) => return Err(format!("{path}: ${{{expression}}}: {why}")),
            Lookup::NotOurs => {
                left.0
                    .push((path.to_string(), format!("${{{expression}}}")));
                Value::String(rest[start..=end].to_string())
            }
        };
        // The whole string is one expression: the value as it is, of its own type.
        if start == 0 && end == rest.len() - 1 && out.is_empty() {
            return Ok(Some(value));
        }
        out.push_str(&rest[..start]);
        out.push_str(&scalar_text(&value).ok_or_else(|| {
            format!("{path}: ${{{expression}}} is a list or a map, it cannot be part of a string")
        })?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(Some(Value::String(out)))
}

/// What one expression names.
enum Lookup {
    Found(Value),
    Missing(String),
    NotOurs,
}

fn lookup(expression: &str, vars: &Value, env: &dyn Fn(&str) -> Option<String>) -> Lookup {
    if let Some(path) = expression.strip_prefix("vars.") {
        let mut at = vars;
        for key in path.split('.') {
            match at.get(key) {
                Some(v) => at = v,
                None => return Lookup::Missing("no such variable under vars".into()),
            }
        }
        return Lookup::Found(at.clone());
    }
    let name = expression
        .strip_prefix("env(")
        .and_then(|e| e.strip_suffix(')'))
        .map(|e| e.trim().trim_matches(|c| c == '\'' || c == '"'))
        .or_else(|| expression.strip_prefix("env."));
    match name {
        Some(name) => match env(name) {
            Some(v) => Lookup::Found(Value::String(v)),
            None => Lookup::Missing(format!("{name} is not set in the environment")),
        },
        None => Lookup::NotOurs,
    }
}

/// A scalar's text, as it reads in YAML; None for a list or a map.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Tagged(t) => scalar_text(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> (Result<Value, String>, Unresolved) {
        let mut doc: Value = yaml_serde::from_str(yaml).unwrap();
        let vars = doc.get("vars").cloned().unwrap_or_default();
        let env = |name: &str| (name == "HOME_REGION").then(|| "cn-shanghai".to_string());
        let mut left = Unresolved::default();
        let result = resolve(&mut doc, "", &vars, &env, &mut left).map(|()| doc);
        (result, left)
    }

    #[test]
    fn a_whole_expression_keeps_the_type_and_a_part_becomes_text() {
        let (doc, left) = run("vars: { memory: 256, region: cn-hangzhou, oss: { bucket: b } }\n\
             props: { memorySize: '${vars.memory}', name: 'f-${vars.region}-${vars.memory}',\n\
             bucket: '${vars.oss.bucket}', home: '${env(HOME_REGION)}', also: '${env.HOME_REGION}',\n\
             role: 'acs:ram::${config(''AccountID'')}:role/r' }");
        let doc = doc.unwrap();
        let props = &doc["props"];
        assert_eq!(props["memorySize"].as_u64(), Some(256));
        assert_eq!(props["name"].as_str(), Some("f-cn-hangzhou-256"));
        assert_eq!(props["bucket"].as_str(), Some("b"));
        assert_eq!(props["home"].as_str(), Some("cn-shanghai"));
        assert_eq!(props["also"].as_str(), Some("cn-shanghai"));
        assert_eq!(
            props["role"].as_str(),
            Some("acs:ram::${config('AccountID')}:role/r")
        );
        assert_eq!(
            left.0,
            [("props.role".into(), "${config('AccountID')}".into())]
        );
    }

    #[test]
    fn an_unknown_variable_or_unset_environment_variable_names_where_it_is() {
        let (doc, _) = run("vars: { a: 1 }\nprops: { region: '${vars.regoin}' }");
        let e = doc.unwrap_err();
        assert!(
            e.contains("props.region") && e.contains("vars.regoin"),
            "{e}"
        );
        let (doc, _) = run("props: { x: '${env(NOPE_NOT_SET)}' }");
        assert!(doc.unwrap_err().contains("NOPE_NOT_SET is not set"));
        let (doc, _) = run("vars: { l: [1] }\nprops: { x: 'a${vars.l}' }");
        assert!(doc.unwrap_err().contains("list or a map"));
        let (doc, _) = run("props: { x: 'a${vars.l' }");
        assert!(doc.unwrap_err().contains("no closing"));
    }
}
