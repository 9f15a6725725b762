//! `cargo tinyfc check`: validates what `s deploy` will deploy, before it does. Each fc3 function
//! in s.yaml (or the one `--resource` names) against the fc3 component's schema and FC's own rules
//! (src/check/schema.rs, the triggers in src/check/triggers.rs, keys the schema does not know in
//! src/check/keys.rs) and tinyfc's (src/check/tinyfc_rules.rs). Every finding names the prop and
//! the rule; errors fail the check (exit 1), warnings do not.

mod keys;
mod schema;
mod tinyfc_rules;
mod triggers;

pub use tinyfc_rules::elf_or_script;

use std::path::Path;

use crate::cli::Exit;
use crate::syaml::{Function, Manifest, ManifestArgs};

/// `cargo tinyfc check`'s command line.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Validates s.yaml before `s deploy` does: every fc3 function (or the one \
--resource names)\nagainst the fc3 component's schema (required props, runtime, memorySize, cpu, \
timeout,\ninstanceConcurrency, triggers, ...), FC's rules, and tinyfc's (preStop timeout over the \
drain,\nTINYFC_WORKERS and the body budget against instanceConcurrency and memorySize, the port, \
an\nexecutable bootstrap at the code package's root). Prints each finding with its prop and rule.",
    after_help = "examples:
  cargo tinyfc check
  cargo tinyfc check --config deploy/s.prod.yaml --resource api

exit codes: 0 no error (warnings are printed), 1 an error found or s.yaml unreadable, 2 usage."
)]
pub struct CheckArgs {
    /// Which file and function.
    #[command(flatten)]
    manifest: ManifestArgs,
}

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The fc3 component's `src/schema.json` (what `s deploy` validates).
    Schema,
    /// FC's API and docs.
    Fc,
    /// tinyfc's runtime (its settings from the environment).
    Tinyfc,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Schema => "fc3 schema",
            Source::Fc => "FC",
            Source::Tinyfc => "tinyfc",
        }
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// An error (the check fails) or a warning.
    pub error: bool,
    /// Where the rule comes from.
    pub source: Source,
    /// The prop, under `props` (`instanceLifecycleConfig.preStop.timeout`).
    pub field: String,
    /// The rule, and the value that breaks it.
    pub rule: String,
}

impl Finding {
    /// Whether `s deploy` or FC refuses the function for it: an error of the fc3 schema's or
    /// FC's. tinyfc's rules are about the runtime inside, which neither applies.
    pub fn refused_by_fc(&self) -> bool {
        self.error && self.source != Source::Tinyfc
    }

    /// `PREFIX FIELD: RULE [SOURCE]`, as `check` and `local` say it (the prefix
    /// `resources.NAME.props.`).
    pub fn describe(&self, prefix: &str) -> String {
        format!(
            "{prefix}{}: {} [{}]",
            self.field,
            self.rule,
            self.source.name()
        )
    }
}

/// The findings of one function.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    /// Adds an error.
    pub fn error(&mut self, source: Source, field: impl Into<String>, rule: String) {
        self.push(true, source, field.into(), rule);
    }

    /// Adds a warning.
    pub fn warn(&mut self, source: Source, field: impl Into<String>, rule: String) {
        self.push(false, source, field.into(), rule);
    }

    fn push(&mut self, error: bool, source: Source, field: String, rule: String) {
        self.0.push(Finding {
            error,
            source,
            field,
            rule,
        });
    }
}

/// Every rule on one function; `base` is s.yaml's directory.
pub fn check_function(function: &Function, base: &Path) -> Findings {
    let mut out = Findings::default();
    schema::check(&function.props, &function.raw, &mut out);
    tinyfc_rules::check(&function.props, base, &mut out);
    out
}

/// The file's own rule (not a function's): Some(why) when `edition` is not the fc3 component's.
pub fn edition(manifest: &Manifest) -> Option<&'static str> {
    (manifest.edition.as_deref() != Some("3.0.0"))
        .then_some("the fc3 component needs Serverless Devs 3 (`edition: 3.0.0`)")
}

/// `cargo tinyfc check ARGS`: the exit code.
pub fn main(args: CheckArgs) -> Exit {
    let loaded = match &args.manifest.resource {
        Some(_) => args
            .manifest
            .read(Path::new("."))
            .map(|(m, f)| (m, vec![f])),
        None => Manifest::find(args.manifest.config.as_deref(), Path::new("."))
            .map(|m| (m.clone(), m.functions)),
    };
    let (manifest, functions) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("cargo tinyfc check: {e}");
            return Ok(1);
        }
    };
    let file = manifest.file.display();
    if functions.is_empty() {
        eprintln!("cargo tinyfc check: {file}: no resource with `component: fc3`");
        return Ok(1);
    }
    let mut errors = 0;
    if let Some(rule) = edition(&manifest) {
        println!("{file}: error: edition: {rule} [fc3 schema]");
        errors += 1;
    }
    for other in &manifest.others {
        println!("{file}: note: resources.{other}: not an fc3 function, not checked");
    }
    let base = manifest.file.parent().unwrap_or(Path::new("."));
    let mut warnings = 0;
    for function in &functions {
        let findings = check_function(function, base);
        for f in &findings.0 {
            let level = if f.error { "error" } else { "warning" };
            let prefix = format!("resources.{}.props.", function.resource);
            println!("{file}: {level}: {}", f.describe(&prefix));
        }
        let e = findings.0.iter().filter(|f| f.error).count();
        errors += e;
        warnings += findings.0.len() - e;
    }
    for (at, expression) in &manifest.unresolved {
        println!("{file}: note: {at}: {expression} is left for `s` to resolve");
    }
    let app = manifest.name.as_deref().unwrap_or("s.yaml");
    let n = functions.len();
    println!("{file}: {app}: {n} function(s), {errors} error(s), {warnings} warning(s)");
    Ok(if errors == 0 { 0 } else { 1 })
}
