//! What every command shares: the usage error a command finds after clap has parsed its
//! arguments, clap value parsers, and (until `local` moves to clap) the std-only argument walker
//! `local` still uses.

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

/// Prints `cargo tinyfc COMMAND: message` and the command's usage to stderr; returns exit code 2.
pub fn usage_error(command: &str, message: &str, usage: &str) -> i32 {
    let name = if command.is_empty() {
        "cargo tinyfc".to_string()
    } else {
        format!("cargo tinyfc {command}")
    };
    eprintln!("{name}: {message}\n\n{usage}");
    2
}

/// Why parsing stopped: `--help` was asked for, or the arguments are wrong (the message).
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// `-h` / `--help`: print the usage, exit 0.
    Help,
    /// A usage error.
    Usage(String),
}

impl From<String> for Stop {
    fn from(message: String) -> Stop {
        Stop::Usage(message)
    }
}

/// Prints the usage (`--help`, exit 0) or the usage error (exit 2); the exit code.
pub fn stopped(command: &str, stop: Stop, usage: &str) -> i32 {
    match stop {
        Stop::Help => {
            print!("{usage}");
            0
        }
        Stop::Usage(message) => usage_error(command, &message, usage),
    }
}

/// A command's arguments, one at a time.
pub struct Args<'a> {
    rest: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    /// Walks `args`.
    pub fn new(args: &'a [String]) -> Args<'a> {
        Args { rest: args.iter() }
    }

    /// The next argument; `-h`/`--help` anywhere stops with [`Stop::Help`].
    pub fn next(&mut self) -> Result<Option<&'a str>, Stop> {
        match self.rest.next().map(String::as_str) {
            Some("-h" | "--help") => Err(Stop::Help),
            other => Ok(other),
        }
    }

    /// Everything after the current argument (what follows `--`).
    pub fn remaining(&mut self) -> Vec<String> {
        self.rest.by_ref().cloned().collect()
    }

    /// The value of option `option` (the next argument).
    pub fn value(&mut self, option: &str) -> Result<&'a str, Stop> {
        self.rest
            .next()
            .map(String::as_str)
            .ok_or_else(|| Stop::Usage(format!("{option} needs a value")))
    }

    /// The value of option `option`, parsed.
    pub fn parsed<T: FromStr>(&mut self, option: &str) -> Result<T, Stop> {
        let v = self.value(option)?;
        Ok(number(option, v)?)
    }

    /// The value of option `option` as (fractional) seconds.
    pub fn secs(&mut self, option: &str) -> Result<Duration, Stop> {
        let v = self.value(option)?;
        Ok(secs(option, v)?)
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

    #[test]
    fn help_anywhere_stops_and_a_missing_value_is_a_usage_error() {
        let argv: Vec<String> = ["--out", "x", "--help"].map(String::from).to_vec();
        let mut a = Args::new(&argv);
        assert_eq!(a.next(), Ok(Some("--out")));
        assert_eq!(a.value("--out"), Ok("x"));
        assert_eq!(a.next(), Err(Stop::Help));
        let argv = vec!["--out".to_string()];
        let mut a = Args::new(&argv);
        a.next().unwrap();
        assert!(matches!(a.value("--out"), Err(Stop::Usage(_))));
    }
}
