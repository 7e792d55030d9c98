//! Errors of the RouterOS client.

use crate::codec::CodecError;

/// What went wrong talking to a router. `Display` texts are meant for an admin reading a log or a wizard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosError {
    /// Connecting, TLS, reading or writing failed, or the connection was lost.
    #[error("router connection failed: {0}")]
    Io(String),
    /// The router did not answer in time.
    #[error("router did not answer in time")]
    Timeout,
    /// The router rejected the user name or password (or the login exchange failed).
    #[error("router login failed: {0}")]
    Login(String),
    /// The router refused a command (`!trap`), with its own message.
    #[error("router refused: {message}")]
    Trap {
        /// `=category=` (0 missing item or command, 1 argument value, 2 interrupted, 3 scripting,
        /// 4 general failure, 5 API failure, 6 TTY, 7 `:return` value), when sent.
        category: Option<u32>,
        /// `=message=` exactly as the router sent it.
        message: String,
    },
    /// The router closed the session (`!fatal`), with its reason.
    #[error("router closed the session: {0}")]
    Fatal(String),
    /// The router sent something this client cannot understand.
    #[error("unexpected data from the router: {0}")]
    Protocol(String),
}

impl RosError {
    /// The router's trap message, if this is a trap.
    pub fn trap_message(&self) -> Option<&str> {
        match self {
            RosError::Trap { message, .. } => Some(message),
            _ => None,
        }
    }

    /// True when the connection this error came from can no longer be used.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, RosError::Io(_) | RosError::Fatal(_) | RosError::Protocol(_))
    }
}

impl From<CodecError> for RosError {
    fn from(err: CodecError) -> Self {
        RosError::Protocol(err.to_string())
    }
}

impl From<std::io::Error> for RosError {
    fn from(err: std::io::Error) -> Self {
        RosError::Io(err.to_string())
    }
}
