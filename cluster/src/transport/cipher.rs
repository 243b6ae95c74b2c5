//! The session cipher of an authenticated connection, sans-IO: the keys both
//! ends derive once the handshake succeeds, and the sealing and opening of
//! every frame after it.
//!
//! Keys are HKDF-SHA256 (RFC 5869), one output block per direction:
//!
//! ```text
//! prk        = HMAC(salt = nonce_dialer || nonce_acceptor, ikm = cluster secret)
//! key(dir)   = HMAC(prk, LABEL || dir || dialer id || acceptor id || 0x01)
//! ```
//!
//! Both nonces are drawn fresh for every connection, so each connection gets
//! keys of its own, even between the same two nodes; `dir` names the direction
//! (dialer to acceptor or back), so each direction has its own key and a frame
//! reflected back to its sender does not open.
//!
//! Frames are sealed with ChaCha20-Poly1305 under a 96-bit nonce of four zero
//! bytes and a u64 big-endian counter, one counter per direction, starting at
//! zero and advanced by every frame. The counter is never sent: the receiver
//! opens each frame with the next counter it expects, so a frame that was
//! replayed, reordered, dropped (the one after it then carries a counter the
//! receiver is not at), cut short or altered fails to open. A sender whose
//! counter would wrap ends the connection instead of reusing a nonce.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ClusterSecret, NodeId};

/// What sealing adds to a frame: the Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;

/// Domain separation from the handshake's MACs and from any other protocol.
const LABEL: &[u8] = b"tessera-cluster-transport-v2 session key";

const DIALER_TO_ACCEPTOR: &[u8] = b"dialer to acceptor";
const ACCEPTOR_TO_DIALER: &[u8] = b"acceptor to dialer";

/// Why a frame could not be sealed or opened; the connection ends either way.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum CipherError {
    #[error(
        "frame {counter} failed authentication: forged, altered, cut short, replayed or out of order"
    )]
    Open { counter: u64 },
    #[error("the connection has used up its frame counter")]
    Exhausted,
    #[error("a frame of {0} bytes is too long to seal")]
    TooLong(usize),
}

/// Who an end of the connection is, for picking its two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Dialer,
    Acceptor,
}

/// What the handshake established, as the key derivation needs it.
pub(crate) struct Transcript<'a> {
    pub(crate) dialer: NodeId,
    pub(crate) acceptor: NodeId,
    pub(crate) dialer_nonce: &'a [u8; 32],
    pub(crate) acceptor_nonce: &'a [u8; 32],
}

/// One end's keys: it seals with one and opens with the other.
pub(crate) struct SessionKeys {
    pub(crate) sealer: Sealer,
    pub(crate) opener: Opener,
}

impl SessionKeys {
    pub(crate) fn derive(secret: &ClusterSecret, transcript: &Transcript<'_>, side: Side) -> Self {
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(transcript.dialer_nonce);
        salt[32..].copy_from_slice(transcript.acceptor_nonce);
        let prk = hmac(&salt, &[secret.expose()]);
        let key = |direction: &[u8]| {
            let key = hmac(
                &prk,
                &[
                    LABEL,
                    direction,
                    &transcript.dialer.0.to_be_bytes(),
                    &transcript.acceptor.0.to_be_bytes(),
                    &[1],
                ],
            );
            ChaCha20Poly1305::new(&key.into())
        };
        let (send, receive) = match side {
            Side::Dialer => (DIALER_TO_ACCEPTOR, ACCEPTOR_TO_DIALER),
            Side::Acceptor => (ACCEPTOR_TO_DIALER, DIALER_TO_ACCEPTOR),
        };
        Self {
            sealer: Sealer {
                aead: key(send),
                next: 0,
            },
            opener: Opener {
                aead: key(receive),
                next: 0,
            },
        }
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn nonce(counter: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    nonce.into()
}

/// Seals the frames one end sends, in order.
pub(crate) struct Sealer {
    aead: ChaCha20Poly1305,
    next: u64,
}

impl Sealer {
    /// Appends `plaintext` sealed (ciphertext, then tag) to `out`. An empty
    /// plaintext is a heartbeat: still sealed, so it cannot be forged.
    pub(crate) fn seal_into(
        &mut self,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CipherError> {
        // The last counter value is never used, so "next" can always be
        // advanced and no nonce is ever used twice.
        if self.next == u64::MAX {
            return Err(CipherError::Exhausted);
        }
        let start = out.len();
        out.extend_from_slice(plaintext);
        let sealed = self
            .aead
            .encrypt_in_place_detached(&nonce(self.next), &[], &mut out[start..]);
        let Ok(tag) = sealed else {
            // Only a plaintext beyond ChaCha20's 256 GiB fails; frame caps
            // are far below, but leave `out` as it was all the same.
            out.truncate(start);
            return Err(CipherError::TooLong(plaintext.len()));
        };
        out.extend_from_slice(&tag);
        self.next += 1;
        Ok(())
    }
}

/// Opens the frames one end receives, in order.
pub(crate) struct Opener {
    aead: ChaCha20Poly1305,
    next: u64,
}

impl Opener {
    /// Opens one sealed frame in place and returns its plaintext (empty for
    /// a heartbeat). A failure leaves the counter where it was: the
    /// connection is to be dropped, not resumed.
    pub(crate) fn open(&mut self, mut sealed: Vec<u8>) -> Result<Vec<u8>, CipherError> {
        let counter = self.next;
        let failed = CipherError::Open { counter };
        let Some(tag_at) = sealed.len().checked_sub(TAG_LEN) else {
            return Err(failed);
        };
        if counter == u64::MAX {
            return Err(CipherError::Exhausted);
        }
        let tag = Tag::clone_from_slice(&sealed[tag_at..]);
        sealed.truncate(tag_at);
        self.aead
            .decrypt_in_place_detached(&nonce(counter), &[], &mut sealed, &tag)
            .map_err(|_| failed)?;
        self.next += 1;
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: NodeId = NodeId(1);
    const A: NodeId = NodeId(2);

    fn secret() -> ClusterSecret {
        ClusterSecret::new("the right cluster secret").unwrap()
    }

    fn keys(secret: &ClusterSecret, nonces: (u8, u8), side: Side) -> SessionKeys {
        let transcript = Transcript {
            dialer: D,
            acceptor: A,
            dialer_nonce: &[nonces.0; 32],
            acceptor_nonce: &[nonces.1; 32],
        };
        SessionKeys::derive(secret, &transcript, side)
    }

    /// The two ends of one connection.
    fn pair() -> (SessionKeys, SessionKeys) {
        (
            keys(&secret(), (1, 2), Side::Dialer),
            keys(&secret(), (1, 2), Side::Acceptor),
        )
    }

    fn seal(sealer: &mut Sealer, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        sealer.seal_into(plaintext, &mut out).unwrap();
        out
    }

    #[test]
    fn frames_round_trip_both_ways_and_hide_their_plaintext() {
        let (mut dialer, mut acceptor) = pair();
        for text in [&b"first"[..], b"", b"third, after a heartbeat"] {
            let sealed = seal(&mut dialer.sealer, text);
            assert_eq!(sealed.len(), text.len() + TAG_LEN);
            assert!(text.is_empty() || !sealed.windows(text.len()).any(|w| w == text));
            assert_eq!(acceptor.opener.open(sealed).unwrap(), text);
        }
        let sealed = seal(&mut acceptor.sealer, b"back");
        assert_eq!(dialer.opener.open(sealed).unwrap(), b"back");
    }

    #[test]
    fn an_altered_or_cut_frame_does_not_open() {
        let (mut dialer, _) = pair();
        let sealed = seal(&mut dialer.sealer, b"move to 10 64 10");
        for index in [0, 5, sealed.len() - 1] {
            let mut altered = sealed.clone();
            altered[index] ^= 1;
            let (_, mut acceptor) = pair();
            assert_eq!(
                acceptor.opener.open(altered),
                Err(CipherError::Open { counter: 0 })
            );
        }
        for cut in [1, TAG_LEN, sealed.len()] {
            let (_, mut acceptor) = pair();
            let short = sealed[..sealed.len() - cut].to_vec();
            assert_eq!(
                acceptor.opener.open(short),
                Err(CipherError::Open { counter: 0 })
            );
        }
    }

    #[test]
    fn a_replayed_reordered_or_dropped_frame_does_not_open() {
        let (mut dialer, mut acceptor) = pair();
        let first = seal(&mut dialer.sealer, b"one");
        let second = seal(&mut dialer.sealer, b"two");
        let third = seal(&mut dialer.sealer, b"three");
        assert_eq!(acceptor.opener.open(first.clone()).unwrap(), b"one");
        // Replay.
        assert_eq!(
            acceptor.opener.open(first),
            Err(CipherError::Open { counter: 1 })
        );
        // Dropped (or reordered): the third arrives where the second belongs.
        assert_eq!(
            acceptor.opener.open(third.clone()),
            Err(CipherError::Open { counter: 1 })
        );

        let (_, mut fresh) = pair();
        assert!(
            fresh.opener.open(second).is_err(),
            "reordered: the second opened first"
        );
        // A heartbeat replayed from another connection does not open either.
        let mut other_dialer = keys(&secret(), (7, 8), Side::Dialer);
        let heartbeat = seal(&mut other_dialer.sealer, b"");
        let (_, mut acceptor) = pair();
        assert!(acceptor.opener.open(heartbeat).is_err());
        assert!(acceptor.opener.open(third).is_err());
    }

    #[test]
    fn the_two_directions_use_different_keys() {
        let (mut dialer, mut acceptor) = pair();
        // A frame reflected back to its sender does not open...
        let sealed = seal(&mut dialer.sealer, b"ping");
        assert!(dialer.opener.open(sealed.clone()).is_err());
        // ...and the same plaintext at the same counter seals differently in
        // the other direction.
        assert_ne!(seal(&mut acceptor.sealer, b"ping"), sealed);
    }

    #[test]
    fn another_secret_or_another_connection_cannot_open() {
        let (mut dialer, _) = pair();
        let sealed = seal(&mut dialer.sealer, b"secret plans");
        let other = ClusterSecret::new("some other cluster secret").unwrap();
        let mut wrong_secret = keys(&other, (1, 2), Side::Acceptor);
        assert!(wrong_secret.opener.open(sealed.clone()).is_err());
        let mut other_nonces = keys(&secret(), (1, 3), Side::Acceptor);
        assert!(other_nonces.opener.open(sealed.clone()).is_err());
        let swapped_ids = Transcript {
            dialer: A,
            acceptor: D,
            dialer_nonce: &[1; 32],
            acceptor_nonce: &[2; 32],
        };
        let mut swapped = SessionKeys::derive(&secret(), &swapped_ids, Side::Acceptor);
        assert!(swapped.opener.open(sealed).is_err());
    }

    #[test]
    fn a_counter_about_to_wrap_ends_the_connection() {
        let (mut dialer, mut acceptor) = pair();
        dialer.sealer.next = u64::MAX - 1;
        acceptor.opener.next = u64::MAX - 1;
        let last = seal(&mut dialer.sealer, b"last");
        assert_eq!(acceptor.opener.open(last).unwrap(), b"last");
        let mut out = Vec::new();
        assert_eq!(
            dialer.sealer.seal_into(b"one more", &mut out),
            Err(CipherError::Exhausted)
        );
        assert!(out.is_empty());
    }
}
