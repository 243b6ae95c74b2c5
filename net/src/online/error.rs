use thiserror::Error;

/// Why online-mode setup or a player's online-mode login failed.
///
/// No variant carries key material, so these are safe to log.
#[derive(Debug, Error)]
pub enum OnlineError {
    #[error("could not generate the server's RSA key pair: {0}")]
    KeyGeneration(String),
    #[error("session server URL {url:?} is not an http:// or https:// URL")]
    SessionServerUrl { url: String },
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
    #[error("the encryption response does not decrypt with the server's key")]
    Decrypt,
    #[error("the shared secret is {0} bytes instead of 16")]
    SecretLength(usize),
    #[error("the verify token does not match")]
    TokenMismatch,
    #[error("the session server is unreachable: {0}")]
    Unreachable(String),
    #[error("the session server did not answer within {0} s")]
    Timeout(u64),
    #[error("the session server has no join for this player")]
    NotJoined,
    #[error("the session server answered HTTP {0}")]
    UnexpectedStatus(u16),
    #[error("the session server's profile is malformed: {0}")]
    BadProfile(String),
}

impl OnlineError {
    /// What the refused client is told.
    pub fn reason(&self) -> String {
        match self {
            Self::Decrypt | Self::SecretLength(_) | Self::TokenMismatch => {
                format!("Encryption failed: {self}")
            }
            // Vanilla's wording (multiplayer.disconnect.authservers_down).
            Self::Unreachable(_) | Self::Timeout(_) => {
                "Authentication servers are down. Please try again later, sorry!".into()
            }
            // Vanilla's wording (multiplayer.disconnect.unverified_username).
            Self::NotJoined | Self::UnexpectedStatus(_) | Self::BadProfile(_) => {
                "Failed to verify username!".into()
            }
            Self::KeyGeneration(_) | Self::SessionServerUrl { .. } | Self::HttpClient(_) => {
                "Internal server error".into()
            }
        }
    }

    /// Whether the fault is on the server's side (the operator should look)
    /// rather than the client's.
    pub fn is_server_side(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_)
                | Self::Timeout(_)
                | Self::UnexpectedStatus(_)
                | Self::BadProfile(_)
                | Self::KeyGeneration(_)
                | Self::SessionServerUrl { .. }
                | Self::HttpClient(_)
        )
    }
}
