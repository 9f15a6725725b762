//! s.yaml, the Serverless Devs file a function is deployed with (FC 3.0, `edition: 3.0.0`): read
//! with yaml_serde, `${vars.NAME}` resolved (src/syaml/vars.rs), and each `component: fc3`
//! resource's props typed (src/syaml/model.rs). `local` runs a function with them and `check`
//! validates them.
//!
//! ```text
//! #[command(flatten)] manifest: syaml::ManifestArgs,         // --config FILE, --resource NAME
//! let (manifest, function) = args.manifest.read(Path::new("."))?;
//! function.props.memory_size                                 // Option<u32>
//! ```

mod model;
mod vars;

use std::fmt;
use std::path::{Path, PathBuf};

use yaml_serde::Value;

pub use model::*;

/// The files Serverless Devs reads when no `-t FILE` is given, in its order.
pub const DEFAULT_FILES: [&str; 2] = ["s.yaml", "s.yml"];

/// Why s.yaml could not be read or a function not chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The file.
    pub file: PathBuf,
    /// What is wrong, naming the field (`resources.hello.props.memorySize: ...`).
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for Error {}

/// `--config FILE` and `--resource NAME`: which s.yaml, and which function in it.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestArgs {
    /// The Serverless Devs file (default: s.yaml, else s.yml, in the current directory).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The fc3 resource (its key under `resources`) when the file has several functions.
    #[arg(long, value_name = "NAME")]
    pub resource: Option<String>,
}

impl ManifestArgs {
    /// Reads the file (relative to `dir` when not given) and selects the function.
    pub fn read(&self, dir: &Path) -> Result<(Manifest, Function), Error> {
        let manifest = Manifest::find(self.config.as_deref(), dir)?;
        let function = manifest.select(self.resource.as_deref())?.clone();
        Ok((manifest, function))
    }
}

/// A parsed s.yaml: its fc3 functions, in the file's order.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file read.
    pub file: PathBuf,
    /// Top-level `name`: the application.
    pub name: Option<String>,
    /// Top-level `edition` (3.0.0 for FC 3.0).
    pub edition: Option<String>,
    /// Every resource whose `component` is fc3.
    pub functions: Vec<Function>,
    /// Resources of other components (names), which tinyfc leaves alone.
    pub others: Vec<String>,
    /// Expressions left as written (`${config('AccountID')}`): (where, expression).
    pub unresolved: Vec<(String, String)>,
}

/// One `component: fc3` resource. Its `Debug` leaves out [`Function::raw`], which holds the
/// environment's values (see [`Environment`]).
#[derive(Clone)]
pub struct Function {
    /// Its key under `resources`.
    pub resource: String,
    /// Its props, typed.
    pub props: FunctionProps,
    /// Its props as written (after `${...}`), for the props [`FunctionProps`] does not model.
    pub raw: Value,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("resource", &self.resource)
            .field("props", &self.props)
            .finish_non_exhaustive()
    }
}

impl Manifest {
    /// The s.yaml to read: `config` when given, else `s.yaml` or `s.yml` in `dir`.
    pub fn find(config: Option<&Path>, dir: &Path) -> Result<Manifest, Error> {
        match config {
            Some(file) => Manifest::load(file),
            None => {
                let found = DEFAULT_FILES
                    .iter()
                    .map(|f| dir.join(f))
                    .find(|f| f.is_file());
                match found {
                    Some(file) => Manifest::load(&file),
                    None => Err(Error {
                        file: dir.join(DEFAULT_FILES[0]),
                        message: "no s.yaml or s.yml here (--config FILE names one)".into(),
                    }),
                }
            }
        }
    }

    /// Reads and parses `file`.
    pub fn load(file: &Path) -> Result<Manifest, Error> {
        let text = std::fs::read_to_string(file).map_err(|e| Error {
            file: file.to_path_buf(),
            message: e.to_string(),
        })?;
        Manifest::parse(&text, file, &|name| std::env::var(name).ok())
    }

    /// Parses `text`, read from `file`; `env` answers `${env(NAME)}`.
    pub fn parse(
        text: &str,
        file: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Manifest, Error> {
        let error = |message: String| Error {
            file: file.to_path_buf(),
            message,
        };
        let mut doc: Value = yaml_serde::from_str(text).map_err(|e| error(e.to_string()))?;
        doc.apply_merge().map_err(|e| error(e.to_string()))?;
        let mut left = vars::Unresolved::default();
        // `vars` may use the environment, not itself.
        let mut vars = doc.get("vars").cloned().unwrap_or_default();
        vars::resolve(&mut vars, "vars", &Value::Null, env, &mut left).map_err(error)?;
        let text_of = |key: &str| doc.get(key).and_then(Value::as_str).map(String::from);
        let (name, edition) = (text_of("name"), text_of("edition"));
        let resources = match doc.get_mut("resources") {
            Some(Value::Mapping(m)) => m,
            Some(_) => return Err(error("resources: must be a map of resource names".into())),
            None => return Err(error("no resources: nothing to deploy".into())),
        };
        let mut functions = Vec::new();
        let mut others = Vec::new();
        for (key, resource) in resources.iter_mut() {
            let Some(key) = key.as_str().map(String::from) else {
                return Err(error(format!("resources: the key {key:?} is not a name")));
            };
            let at = format!("resources.{key}");
            if resource.get("component").and_then(Value::as_str) != Some("fc3") {
                others.push(key);
                continue;
            }
            let mut raw = resource.get("props").cloned().unwrap_or_default();
            vars::resolve(&mut raw, &format!("{at}.props"), &vars, env, &mut left)
                .map_err(error)?;
            if !raw.is_mapping() {
                return Err(error(format!("{at}.props: must be a map of props")));
            }
            let props = serde_path_to_error::deserialize(raw.clone())
                .map_err(|e| error(format!("{at}.props.{}: {}", e.path(), e.inner())))?;
            functions.push(Function {
                resource: key,
                props,
                raw,
            });
        }
        Ok(Manifest {
            file: file.to_path_buf(),
            name,
            edition,
            functions,
            others,
            unresolved: left.0,
        })
    }

    /// The function `resource` names (`--resource NAME`), or the only one when None.
    pub fn select(&self, resource: Option<&str>) -> Result<&Function, Error> {
        let names = || {
            let all: Vec<&str> = self.functions.iter().map(|f| f.resource.as_str()).collect();
            all.join(", ")
        };
        let error = |message: String| Error {
            file: self.file.clone(),
            message,
        };
        match (resource, self.functions.as_slice()) {
            (_, []) => Err(error("no resource with `component: fc3`".into())),
            (None, [only]) => Ok(only),
            (None, _) => Err(error(format!(
                "it has several functions ({}): choose one with --resource NAME",
                names()
            ))),
            (Some(name), all) => all
                .iter()
                .find(|f| f.resource == name)
                .ok_or_else(|| error(format!("no fc3 resource {name:?} (it has: {})", names()))),
        }
    }
}

#[cfg(test)]
mod tests;
