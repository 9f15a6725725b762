//! What every command shares: the usage error a command finds after clap has parsed its
//! arguments, and clap value parsers.

use std::str::FromStr;
use std::time::Duration;

/// A usage error a command found after parsing (a destination that exists, a name the packager
/// refuses): said with the command's usage, exit 2.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl From<String> for UsageError {
    fn from(message: String) -> UsageError {
        UsageError(message)
    }
}

/// A command's outcome: its exit code (0 success, 1 failed), or a usage error.
pub type Exit = Result<i32, UsageError>;

/// clap value parser: (fractional) seconds from 0 to [`MAX_SECS`].
pub fn seconds(v: &str) -> Result<Duration, String> {
    secs("the value", v)
}

/// clap value parser: a hook's limit, seconds as [`seconds`] but above 0 (FC's hook timeouts are
/// at least 1 s; a limit of nothing would fail every call).
pub fn limit_seconds(v: &str) -> Result<Duration, String> {
    match seconds(v)? {
        d if d.is_zero() => Err(format!(
            "the value: {v:?} is not above 0 seconds (a hook's timeout is at least 1 s on FC)"
        )),
        d => Ok(d),
    }
}

/// Parses `v`, the value of option `option`.
pub fn number<T: FromStr>(option: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{option}: {v:?} is not a valid number here"))
}

/// The longest duration a seconds option takes: a year, far past any FC limit, and far inside
/// what `Instant + Duration` can hold (a larger value would overflow it and panic).
pub const MAX_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// Parses `v` as (fractional) seconds from 0 to [`MAX_SECS`], the value of option `option`.
pub fn secs(option: &str, v: &str) -> Result<Duration, String> {
    let s: f64 = number(option, v)?;
    if (0.0..=MAX_SECS).contains(&s) {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(format!(
            "{option}: {v:?} is not a duration from 0 to {MAX_SECS} seconds"
        ))
    }
}

/// What `local` (with --once or --invoke) and `invoke` send: `--event`, `--event-example` and
/// `--http`, declared once for both.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct CallArgs {
    /// The event, or the body with --http (- for stdin; default: empty).
    #[arg(long, value_name = "FILE", conflicts_with = "event_example")]
    pub event: Option<String>,
    /// A trigger's documented sample event instead (oss, timer, mns-topic, mns-queue, sls,
    /// tablestore, cdn, eventbridge, http, ...; a wrong name lists them all).
    #[arg(long, value_name = "NAME", conflicts_with = "http")]
    pub event_example: Option<String>,
    /// An HTTP invocation of METHOD PATH instead of an event (as an HTTP trigger calls the
    /// function).
    #[arg(long, num_args = 2, value_names = ["METHOD", "PATH"])]
    pub http: Option<Vec<String>>,
}

/// The event (or body) in file `path`, `-` for stdin; empty without a path. `local --event` and
/// `invoke --event` read it so; Err names the file (`--event missing.json: No such file ...`).
pub fn read_event(path: Option<&str>) -> Result<Vec<u8>, String> {
    let read = match path {
        None => return Ok(Vec::new()),
        Some("-") => {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut v).map(|_| v)
        }
        Some(p) => std::fs::read(p),
    };
    read.map_err(|e| format!("--event {}: {e}", path.unwrap_or_default()))
}

/// The documented sample event named `name` (`--event-example`); Err lists the names.
pub fn event_example(name: &str) -> Result<&'static str, String> {
    use tinyfc::events::fixtures;
    fixtures::example(name).ok_or_else(|| {
        format!(
            "--event-example: no example {name:?}; the examples: {}",
            fixtures::NAMES.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_out_of_range_or_not_numbers_are_usage_errors() {
        assert_eq!(secs("--grace", "1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["1e30", "-1", "NaN", "inf", "soon", ""] {
            assert!(secs("--grace", bad).is_err(), "{bad}");
        }
    }
}
