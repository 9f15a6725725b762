//! Errors a user's code returns, and how they reach the platform.

use std::fmt;

/// A failed invocation, initializer or hook. Becomes the JSON body
/// `{"errorMessage", "errorType", "stackTrace"}`.
///
/// Any `std::error::Error` converts into it, so `?` works in handlers. (It deliberately does not
/// implement `std::error::Error` itself, which is what makes that blanket conversion possible.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// `errorMessage`: what went wrong.
    pub message: String,
    /// `errorType`: a short type name, e.g. the Rust error type or `Panic`.
    pub kind: String,
    /// `stackTrace`: the error's source chain, outermost first.
    pub stack: Vec<String>,
}

impl Error {
    /// An error with a message and the type `Error`.
    pub fn msg(message: impl Into<String>) -> Error {
        Error::typed("Error", message)
    }

    /// An error with an explicit `errorType`.
    pub fn typed(kind: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            kind: kind.into(),
            stack: Vec::new(),
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
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
    fn from(e: E) -> Error {
        let full = std::any::type_name::<E>();
        // "std::io::error::Error" -> "Error"; keep generic arguments out of the short name.
        let base = full.split('<').next().unwrap_or(full);
        let kind = base.rsplit("::").next().unwrap_or(base).to_string();
        let mut stack = Vec::new();
        let mut source = e.source();
        while let Some(s) = source {
            stack.push(s.to_string());
            source = s.source();
        }
        Error {
            message: e.to_string(),
            kind,
            stack,
        }
    }
}

/// How an initializer failed, which decides what the platform does next.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        assert_eq!(e.kind, "Error");
        assert_eq!(e.message, "disk gone");
        let e: Error = "x".parse::<u32>().unwrap_err().into();
        assert_eq!(e.kind, "ParseIntError");
    }

    #[test]
    fn question_mark_in_initializer_is_retryable() {
        fn init() -> Result<(), InitError> {
            Err(std::io::Error::other("later"))?
        }
        assert!(!init().unwrap_err().is_fatal());
        assert!(InitError::fatal(Error::msg("no")).is_fatal());
    }
}
