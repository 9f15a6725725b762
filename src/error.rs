//! Errors a user's code returns, and how they reach the platform.

use std::error::Error as StdError;
use std::fmt;

/// A failed invocation, initializer or hook. Becomes FC's JSON error body, whose keys name the
/// fields: `{"errorMessage", "errorType", "stackTrace"}`.
///
/// `?` converts into it whatever converts into `Box<dyn std::error::Error + Send + Sync>`: any
/// `std::error::Error + Send + Sync` type, that box itself, `anyhow::Error`, `String` and `&str`.
/// (It deliberately does not implement `std::error::Error` itself, which is what makes that
/// blanket conversion possible.) A `Box<dyn std::error::Error>` without `Send` cannot be given a
/// `?` conversion beside that one (Rust's coherence rules refuse the two together):
/// `.map_err(|e| Error::from_dyn(&*e))` converts it.
///
/// ```
/// use tinyfc::Error;
///
/// fn parse(s: &str) -> Result<u32, Error> {
///     Ok(s.parse::<u32>()?) // a std error: errorType "ParseIntError"
/// }
/// fn boxed() -> Result<(), Error> {
///     let e: Box<dyn std::error::Error + Send + Sync> = "no disk".into();
///     Err(e)?
/// }
/// fn text() -> Result<(), Error> {
///     Err("plain words")?
/// }
/// assert_eq!(parse("x").unwrap_err().error_type, "ParseIntError");
/// assert_eq!(boxed().unwrap_err().error_message, "no disk");
/// assert_eq!(text().unwrap_err().error_type, "Error");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Error {
    /// `errorMessage`: what went wrong.
    pub error_message: String,
    /// `errorType`: a short type name, e.g. the Rust error type or `Panic`.
    pub error_type: String,
    /// `stackTrace`: the error's source chain, outermost first.
    pub stack_trace: Vec<String>,
}

impl Error {
    /// An error with a message and the type `Error`.
    pub fn msg(message: impl Into<String>) -> Error {
        Error::typed("Error", message)
    }

    /// An error with an explicit `errorType`.
    pub fn typed(error_type: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            error_message: message.into(),
            error_type: error_type.into(),
            stack_trace: Vec::new(),
        }
    }

    /// This error with `line` added at the end of its `stackTrace`.
    pub fn with_trace(mut self, line: impl Into<String>) -> Error {
        self.stack_trace.push(line.into());
        self
    }

    /// An error from any `std::error::Error` behind a reference (e.g. a `Box<dyn Error>` that is
    /// not `Send`): its message, `errorType` `Error`, and its source chain.
    pub fn from_dyn(e: &dyn StdError) -> Error {
        Error {
            error_message: e.to_string(),
            error_type: "Error".into(),
            stack_trace: source_chain(e),
        }
    }

    /// The error a caught panic becomes: `errorType` `Panic`, the panic message as `errorMessage`.
    #[cold]
    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Error {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_string()
        };
        Error::typed("Panic", message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

impl<E: Into<Box<dyn StdError + Send + Sync>>> From<E> for Error {
    fn from(e: E) -> Error {
        let full = std::any::type_name::<E>();
        // "std::io::error::Error" -> "Error"; keep generic arguments out of the short name.
        let base = full.split('<').next().unwrap_or(full);
        let short = base.rsplit("::").next().unwrap_or(base);
        // A box or plain text names no error type of its own.
        let error_type = match short {
            "Box" | "String" | "&str" | "str" | "Cow" => "Error",
            short => short,
        };
        let boxed: Box<dyn StdError + Send + Sync> = e.into();
        Error {
            error_message: boxed.to_string(),
            error_type: error_type.to_string(),
            stack_trace: source_chain(&*boxed),
        }
    }
}

/// The messages of `e`'s sources, outermost first.
fn source_chain(e: &dyn StdError) -> Vec<String> {
    let mut stack = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        stack.push(s.to_string());
        source = s.source();
    }
    stack
}

/// How an initializer failed, which decides what the platform does next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// Answered 404: the platform retries the initializer on this instance. `?` gives this.
    Retry(Error),
    /// Answered 500: the platform restarts the instance; until then every invocation gets this error.
    Fatal(Error),
}

impl InitError {
    /// A retryable failure (the platform calls the initializer again).
    pub fn retry(e: impl Into<Error>) -> InitError {
        InitError::Retry(e.into())
    }

    /// A fatal failure (the platform restarts the instance).
    pub fn fatal(e: impl Into<Error>) -> InitError {
        InitError::Fatal(e.into())
    }

    /// The underlying error.
    pub fn error(&self) -> &Error {
        match self {
            InitError::Retry(e) | InitError::Fatal(e) => e,
        }
    }

    /// True for [`InitError::Fatal`].
    pub fn is_fatal(&self) -> bool {
        matches!(self, InitError::Fatal(_))
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.is_fatal() {
            "fatal"
        } else {
            "retryable"
        };
        write!(f, "{how}: {}", self.error())
    }
}

impl<E: Into<Error>> From<E> for InitError {
    fn from(e: E) -> InitError {
        InitError::Retry(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_errors_convert_with_short_type_name() {
        let e: Error = std::io::Error::other("disk gone").into();
        assert_eq!(e.error_type, "Error");
        assert_eq!(e.error_message, "disk gone");
        let e: Error = "x".parse::<u32>().unwrap_err().into();
        assert_eq!(e.error_type, "ParseIntError");
    }

    #[test]
    fn question_mark_works_on_boxed_errors_and_text() {
        fn send_sync() -> Result<(), Error> {
            let inner = std::io::Error::other("cause");
            let e: Box<dyn StdError + Send + Sync> =
                Box::new(std::io::Error::new(std::io::ErrorKind::NotFound, inner));
            Err(e)?
        }
        let e = send_sync().unwrap_err();
        assert_eq!(
            (e.error_type.as_str(), e.error_message.as_str()),
            ("Error", "cause")
        );
        fn text() -> Result<(), Error> {
            Err(format!("{} words", 2))?
        }
        assert_eq!(text().unwrap_err().error_message, "2 words");
        fn anyhow_error() -> Result<(), Error> {
            Err(anyhow::anyhow!("from anyhow"))?
        }
        let e = anyhow_error().unwrap_err();
        assert_eq!(
            (e.error_type.as_str(), e.error_message.as_str()),
            ("Error", "from anyhow")
        );
        let not_send: Box<dyn StdError> = "local".into();
        assert_eq!(Error::from_dyn(&*not_send).error_message, "local");
    }

    #[test]
    fn question_mark_in_initializer_is_retryable_and_init_errors_display() {
        fn init() -> Result<(), InitError> {
            Err(std::io::Error::other("later"))?
        }
        let e = init().unwrap_err();
        assert!(!e.is_fatal());
        assert_eq!(e.to_string(), "retryable: Error: later");
        let fatal = InitError::fatal(Error::msg("no"));
        assert!(fatal.is_fatal());
        assert_eq!(fatal.to_string(), "fatal: Error: no");
    }
}
