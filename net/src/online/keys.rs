//! The server's RSA key pair and the per-login challenge of the key exchange.

use rsa::pkcs8::EncodePublicKey;
use rsa::rand_core::{OsRng, RngCore};
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey};

use super::OnlineError;

/// Vanilla's key size: every client accepts it, and it is quick to generate.
const KEY_BITS: usize = 1024;

/// The key pair one node uses for every login while it runs.
pub struct ServerKeys {
    private: RsaPrivateKey,
    /// The public key as X.509 SubjectPublicKeyInfo DER, as the client expects it.
    public_der: Vec<u8>,
}

impl ServerKeys {
    /// Takes tens of milliseconds (optimised) up to seconds (debug builds): keep
    /// it off the async runtime's threads.
    pub fn generate() -> Result<Self, OnlineError> {
        let private = RsaPrivateKey::new(&mut OsRng, KEY_BITS)
            .map_err(|e| OnlineError::KeyGeneration(e.to_string()))?;
        let public_der = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| OnlineError::KeyGeneration(e.to_string()))?
            .into_vec();
        Ok(Self {
            private,
            public_der,
        })
    }

    pub fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    /// PKCS#1 v1.5 decryption, blinded so its timing tells little about the key.
    fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, OnlineError> {
        self.private
            .decrypt_blinded(&mut OsRng, Pkcs1v15Encrypt, ciphertext)
            .map_err(|_| OnlineError::Decrypt)
    }
}

/// One login's verify token: the client must send it back encrypted with our
/// public key, proving it encrypted its shared secret for us and not for a
/// man in the middle replaying an old response.
pub struct Challenge {
    token: [u8; 4],
}

impl Challenge {
    pub fn new() -> Self {
        let mut token = [0; 4];
        OsRng.fill_bytes(&mut token);
        Self { token }
    }

    pub fn token(&self) -> &[u8] {
        &self.token
    }

    /// Checks the client's Encryption Response and returns the shared secret.
    pub fn accept(
        &self,
        keys: &ServerKeys,
        encrypted_secret: &[u8],
        encrypted_token: &[u8],
    ) -> Result<[u8; 16], OnlineError> {
        if keys.decrypt(encrypted_token)? != self.token {
            return Err(OnlineError::TokenMismatch);
        }
        let secret = keys.decrypt(encrypted_secret)?;
        <[u8; 16]>::try_from(secret.as_slice()).map_err(|_| OnlineError::SecretLength(secret.len()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use rsa::pkcs8::DecodePublicKey;
    use rsa::RsaPublicKey;

    use super::*;

    /// One key pair for all tests: generating it is slow in debug builds.
    fn keys() -> &'static ServerKeys {
        static KEYS: OnceLock<ServerKeys> = OnceLock::new();
        KEYS.get_or_init(|| ServerKeys::generate().expect("key generation"))
    }

    /// Encrypts like a client does: with the key read back from the DER we send.
    fn client_encrypt(data: &[u8]) -> Vec<u8> {
        let public = RsaPublicKey::from_public_key_der(keys().public_der()).expect("valid DER");
        public
            .encrypt(&mut OsRng, Pkcs1v15Encrypt, data)
            .expect("encrypts")
    }

    #[test]
    fn shared_secret_round_trips() {
        let challenge = Challenge::new();
        let secret = *b"sixteen byte key";
        let accepted = challenge
            .accept(
                keys(),
                &client_encrypt(&secret),
                &client_encrypt(challenge.token()),
            )
            .expect("accepted");
        assert_eq!(accepted, secret);
    }

    #[test]
    fn wrong_token_is_refused() {
        let challenge = Challenge::new();
        let mut other = challenge.token().to_vec();
        other[0] ^= 1;
        let result = challenge.accept(keys(), &client_encrypt(&[7; 16]), &client_encrypt(&other));
        assert!(matches!(result, Err(OnlineError::TokenMismatch)));
    }

    #[test]
    fn garbage_and_short_secrets_are_refused() {
        let challenge = Challenge::new();
        let token = client_encrypt(challenge.token());
        let garbage = challenge.accept(keys(), &[1, 2, 3], &token);
        assert!(matches!(garbage, Err(OnlineError::Decrypt)));
        let short = challenge.accept(keys(), &client_encrypt(&[7; 15]), &token);
        assert!(matches!(short, Err(OnlineError::SecretLength(15))));
    }
}
