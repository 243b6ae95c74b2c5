use std::fmt;
use std::sync::Arc;

/// The shortest cluster secret accepted: anything shorter is a configuration
/// mistake better caught at startup than by an attacker.
pub const MIN_SECRET_LEN: usize = 16;

/// The secret every node of a cluster shares; a peer proves it holds it before
/// any of its messages is accepted. It never leaves the process: there is no
/// `Display`, no serde, and `Debug` prints `<redacted>`, so it cannot end up
/// in a log line or a panic message by accident.
#[derive(Clone)]
pub struct ClusterSecret(Arc<[u8]>);

/// Why a cluster secret was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the cluster secret must be at least {MIN_SECRET_LEN} bytes long, got {0}")]
    TooShort(usize),
}

impl ClusterSecret {
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort(secret.len()));
        }
        Ok(Self(secret.into()))
    }

    /// The key bytes, for the handshake's MACs and the session key derivation
    /// only.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = ClusterSecret::new("correct horse battery staple").unwrap();
        let printed = format!("{secret:?} {:#?}", Some(&secret));
        assert!(!printed.contains("horse"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn short_secrets_are_rejected() {
        assert_eq!(
            ClusterSecret::new("short").unwrap_err(),
            SecretError::TooShort(5)
        );
    }
}
