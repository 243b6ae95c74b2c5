use thiserror::Error;

use crate::limits::Refusal;

/// Why a client's connection ended.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("connection closed")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad packet: {0}")]
    Malformed(String),
    #[error("the client does not take its data")]
    TooSlow,
    #[error("{0}")]
    Refused(String),
    #[error("over a limit: {}", .0.label())]
    Limit(Refusal),
}

impl ClientError {
    pub fn malformed(e: impl std::fmt::Display) -> Self {
        ClientError::Malformed(format!("{e:#}"))
    }

    /// The reason shown to the client, if it should be told one.
    pub fn reason(&self) -> Option<String> {
        match self {
            ClientError::Malformed(why) => Some(format!("Bad packet: {why}")),
            ClientError::Refused(why) => Some(why.clone()),
            ClientError::Limit(refusal) => Some(refusal.reason().to_owned()),
            ClientError::Closed | ClientError::Io(_) | ClientError::TooSlow => None,
        }
    }
}
