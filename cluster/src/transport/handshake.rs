//! Mutual authentication of a new connection, as a sans-IO state machine: it
//! consumes and produces messages, and the connection code moves them over
//! the socket. That keeps every rule here testable without a network.
//!
//! ```text
//! dialer D                                   acceptor A
//!   Hello { version, D, nonce_d }      ->
//!                                      <-    Challenge { A, nonce_a }
//!   Proof { mac(dialer, D, A, nonce_a, nonce_d) } ->
//!                                      <-    Proof { mac(acceptor, A, D, nonce_d, nonce_a) }
//! ```
//!
//! Each side proves the secret over the nonce the other side just drew, so a
//! recorded proof is worthless on another connection. The dialer proves first
//! so an acceptor, which anyone can reach, emits no MAC to an unauthenticated
//! stranger. The role is part of the MAC, so one side's proof can never be
//! reflected back as the other's.
//!
//! Once both proofs check out, each side derives the connection's session keys
//! from the secret, both nonces and both ids (`cipher`), and every later frame,
//! heartbeats included, is encrypted and authenticated with them. The
//! handshake messages themselves are in the clear: they carry nothing but ids,
//! nonces and MACs.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::cipher::{SessionKeys, Side, Transcript};
use super::{ClusterSecret, NodeId};

/// Bumped when the transport's wire format changes incompatibly.
///
/// 2: every frame after the handshake is sealed with the session keys.
pub(crate) const PROTOCOL_VERSION: u16 = 2;

/// Domain separation: a MAC made for this protocol means nothing elsewhere.
const LABEL: &[u8] = b"tessera-cluster-transport-v2";

/// The most a handshake message takes once encoded; the handshake reads
/// frames with this cap, so an unauthenticated peer cannot make us allocate.
pub(crate) const MAX_HANDSHAKE_FRAME: usize = 128;

const NONCE_LEN: usize = 32;
type Nonce = [u8; NONCE_LEN];
type Tag = [u8; 32];

#[derive(Clone, Copy)]
enum Role {
    Dialer = 1,
    Acceptor = 2,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum HandshakeMsg {
    Hello {
        version: u16,
        node: NodeId,
        nonce: Nonce,
    },
    Challenge {
        node: NodeId,
        nonce: Nonce,
    },
    Proof {
        mac: Tag,
    },
}

impl HandshakeMsg {
    fn name(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "Hello",
            Self::Challenge { .. } => "Challenge",
            Self::Proof { .. } => "Proof",
        }
    }
}

impl fmt::Debug for HandshakeMsg {
    // Nonces and MACs stay out of logs: they are of no use to a reader and
    // the rule is simpler to keep without exceptions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hello { version, node, .. } => f
                .debug_struct("Hello")
                .field("version", version)
                .field("node", node)
                .finish_non_exhaustive(),
            Self::Challenge { node, .. } => f
                .debug_struct("Challenge")
                .field("node", node)
                .finish_non_exhaustive(),
            Self::Proof { .. } => f.debug_struct("Proof").finish_non_exhaustive(),
        }
    }
}

/// Why a handshake failed; the connection is dropped in every case.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum HandshakeError {
    #[error("peer speaks transport protocol version {theirs}, this node speaks {ours}")]
    Version { theirs: u16, ours: u16 },
    #[error("peer claims this node's own id {0}")]
    OwnId(NodeId),
    #[error("dialled node {expected} but the peer claims to be node {claimed}")]
    WrongPeer { expected: NodeId, claimed: NodeId },
    #[error("node {0} did not prove that it holds the cluster secret")]
    BadProof(NodeId),
    #[error("unexpected {got} message while waiting for {want}")]
    Unexpected {
        got: &'static str,
        want: &'static str,
    },
}

/// What the connection must do after feeding the handshake a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Step {
    /// Send this to the peer (before treating the link as established).
    pub(crate) send: Option<HandshakeMsg>,
    /// The peer is authenticated as this node; `Handshake::take_keys` then
    /// gives the connection's session keys.
    pub(crate) established: Option<NodeId>,
}

enum State {
    AwaitHello,
    AwaitChallenge { expected: NodeId },
    AwaitDialerProof { peer: NodeId, peer_nonce: Nonce },
    AwaitAcceptorProof { peer: NodeId, peer_nonce: Nonce },
    Finished,
}

impl State {
    fn awaiting(&self) -> &'static str {
        match self {
            Self::AwaitHello => "Hello",
            Self::AwaitChallenge { .. } => "Challenge",
            Self::AwaitDialerProof { .. } | Self::AwaitAcceptorProof { .. } => "Proof",
            Self::Finished => "nothing",
        }
    }
}

pub(crate) struct Handshake {
    secret: ClusterSecret,
    local: NodeId,
    nonce: Nonce,
    state: State,
    claimed: Option<NodeId>,
    keys: Option<SessionKeys>,
}

impl Handshake {
    /// Starts the dialer's side towards the node we mean to reach; returns the
    /// Hello to send first.
    pub(crate) fn dial(
        secret: ClusterSecret,
        local: NodeId,
        expected: NodeId,
    ) -> (Self, HandshakeMsg) {
        Self::dial_with_nonce(secret, local, expected, rand::random())
    }

    /// Starts the acceptor's side; it waits for the dialer's Hello.
    pub(crate) fn accept(secret: ClusterSecret, local: NodeId) -> Self {
        Self::accept_with_nonce(secret, local, rand::random())
    }

    fn dial_with_nonce(
        secret: ClusterSecret,
        local: NodeId,
        expected: NodeId,
        nonce: Nonce,
    ) -> (Self, HandshakeMsg) {
        let hello = HandshakeMsg::Hello {
            version: PROTOCOL_VERSION,
            node: local,
            nonce,
        };
        let handshake = Self {
            secret,
            local,
            nonce,
            state: State::AwaitChallenge { expected },
            claimed: None,
            keys: None,
        };
        (handshake, hello)
    }

    fn accept_with_nonce(secret: ClusterSecret, local: NodeId, nonce: Nonce) -> Self {
        Self {
            secret,
            local,
            nonce,
            state: State::AwaitHello,
            claimed: None,
            keys: None,
        }
    }

    /// The node id the peer claimed, verified or not: for log lines about a
    /// refused peer.
    pub(crate) fn claimed(&self) -> Option<NodeId> {
        self.claimed
    }

    /// True once the dialer has sent its proof; if the acceptor then hangs up,
    /// it most likely refused that proof.
    pub(crate) fn proof_sent(&self) -> bool {
        matches!(self.state, State::AwaitAcceptorProof { .. })
    }

    /// The session keys, once the peer is established (and only once).
    pub(crate) fn take_keys(&mut self) -> Option<SessionKeys> {
        self.keys.take()
    }

    /// Feeds one message from the peer. After an error the handshake is over
    /// and every later message is refused.
    pub(crate) fn receive(&mut self, msg: HandshakeMsg) -> Result<Step, HandshakeError> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        match (state, msg) {
            (
                State::AwaitHello,
                HandshakeMsg::Hello {
                    version,
                    node,
                    nonce,
                },
            ) => {
                self.claimed = Some(node);
                if version != PROTOCOL_VERSION {
                    return Err(HandshakeError::Version {
                        theirs: version,
                        ours: PROTOCOL_VERSION,
                    });
                }
                self.check_not_self(node)?;
                self.state = State::AwaitDialerProof {
                    peer: node,
                    peer_nonce: nonce,
                };
                Ok(Step {
                    send: Some(HandshakeMsg::Challenge {
                        node: self.local,
                        nonce: self.nonce,
                    }),
                    established: None,
                })
            }
            (State::AwaitChallenge { expected }, HandshakeMsg::Challenge { node, nonce }) => {
                self.claimed = Some(node);
                self.check_not_self(node)?;
                if node != expected {
                    return Err(HandshakeError::WrongPeer {
                        expected,
                        claimed: node,
                    });
                }
                let mac = proof(
                    &self.secret,
                    Role::Dialer,
                    self.local,
                    node,
                    &nonce,
                    &self.nonce,
                );
                self.state = State::AwaitAcceptorProof {
                    peer: node,
                    peer_nonce: nonce,
                };
                Ok(Step {
                    send: Some(HandshakeMsg::Proof { mac }),
                    established: None,
                })
            }
            (State::AwaitDialerProof { peer, peer_nonce }, HandshakeMsg::Proof { mac }) => {
                self.verify(Role::Dialer, peer, &peer_nonce, &mac)?;
                let ours = proof(
                    &self.secret,
                    Role::Acceptor,
                    self.local,
                    peer,
                    &peer_nonce,
                    &self.nonce,
                );
                let transcript = Transcript {
                    dialer: peer,
                    acceptor: self.local,
                    dialer_nonce: &peer_nonce,
                    acceptor_nonce: &self.nonce,
                };
                self.keys = Some(SessionKeys::derive(
                    &self.secret,
                    &transcript,
                    Side::Acceptor,
                ));
                Ok(Step {
                    send: Some(HandshakeMsg::Proof { mac: ours }),
                    established: Some(peer),
                })
            }
            (State::AwaitAcceptorProof { peer, peer_nonce }, HandshakeMsg::Proof { mac }) => {
                self.verify(Role::Acceptor, peer, &peer_nonce, &mac)?;
                let transcript = Transcript {
                    dialer: self.local,
                    acceptor: peer,
                    dialer_nonce: &self.nonce,
                    acceptor_nonce: &peer_nonce,
                };
                self.keys = Some(SessionKeys::derive(&self.secret, &transcript, Side::Dialer));
                Ok(Step {
                    send: None,
                    established: Some(peer),
                })
            }
            (state, msg) => Err(HandshakeError::Unexpected {
                got: msg.name(),
                want: state.awaiting(),
            }),
        }
    }

    fn check_not_self(&self, node: NodeId) -> Result<(), HandshakeError> {
        if node == self.local {
            return Err(HandshakeError::OwnId(node));
        }
        Ok(())
    }

    /// Checks the peer's MAC over the nonce we drew, in constant time.
    fn verify(
        &self,
        role: Role,
        peer: NodeId,
        peer_nonce: &Nonce,
        mac: &Tag,
    ) -> Result<(), HandshakeError> {
        transcript(
            &self.secret,
            role,
            peer,
            self.local,
            &self.nonce,
            peer_nonce,
        )
        .verify_slice(mac)
        .map_err(|_| HandshakeError::BadProof(peer))
    }
}

/// The MAC a prover sends: over the verifier's fresh nonce (freshness), its own
/// nonce and both ids (binding to this connection) and its role (no reflection).
fn proof(
    secret: &ClusterSecret,
    role: Role,
    prover: NodeId,
    verifier: NodeId,
    challenge: &Nonce,
    own_nonce: &Nonce,
) -> Tag {
    transcript(secret, role, prover, verifier, challenge, own_nonce)
        .finalize()
        .into_bytes()
        .into()
}

fn transcript(
    secret: &ClusterSecret,
    role: Role,
    prover: NodeId,
    verifier: NodeId,
    challenge: &Nonce,
    own_nonce: &Nonce,
) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose())
        .expect("HMAC accepts keys of any length");
    mac.update(LABEL);
    mac.update(&[role as u8]);
    mac.update(&prover.0.to_be_bytes());
    mac.update(&verifier.0.to_be_bytes());
    mac.update(challenge);
    mac.update(own_nonce);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: NodeId = NodeId(1);
    const A: NodeId = NodeId(2);

    fn secret() -> ClusterSecret {
        ClusterSecret::new("the right cluster secret").unwrap()
    }

    fn other_secret() -> ClusterSecret {
        ClusterSecret::new("some other cluster secret").unwrap()
    }

    /// Runs an exchange between two honest nodes; returns what the acceptor
    /// concluded and, when it accepted, what the dialer concluded.
    fn run(
        dialer_secret: ClusterSecret,
        acceptor_secret: ClusterSecret,
    ) -> (
        Result<NodeId, HandshakeError>,
        Option<Result<NodeId, HandshakeError>>,
    ) {
        let (mut dialer, hello) = Handshake::dial(dialer_secret, D, A);
        let mut acceptor = Handshake::accept(acceptor_secret, A);
        let challenge = acceptor.receive(hello).unwrap().send.unwrap();
        let dialer_proof = dialer.receive(challenge).unwrap().send.unwrap();
        let step = match acceptor.receive(dialer_proof) {
            Ok(step) => step,
            Err(e) => return (Err(e), None),
        };
        let dialer_result = dialer
            .receive(step.send.unwrap())
            .map(|s| s.established.unwrap());
        (Ok(step.established.unwrap()), Some(dialer_result))
    }

    #[test]
    fn the_right_secret_is_accepted_both_ways() {
        let (acceptor, dialer) = run(secret(), secret());
        assert_eq!(acceptor, Ok(D));
        assert_eq!(dialer, Some(Ok(A)));
    }

    #[test]
    fn both_ends_derive_matching_session_keys_only_once_established() {
        let (mut dialer, hello) = Handshake::dial(secret(), D, A);
        let mut acceptor = Handshake::accept(secret(), A);
        let challenge = acceptor.receive(hello).unwrap().send.unwrap();
        let dialer_proof = dialer.receive(challenge).unwrap().send.unwrap();
        assert!(dialer.take_keys().is_none(), "keys before the proof");
        let step = acceptor.receive(dialer_proof).unwrap();
        dialer.receive(step.send.unwrap()).unwrap();
        let mut dialer_keys = dialer.take_keys().unwrap();
        let mut acceptor_keys = acceptor.take_keys().unwrap();
        assert!(dialer.take_keys().is_none(), "keys handed out twice");

        let mut sealed = Vec::new();
        dialer_keys.sealer.seal_into(b"hello", &mut sealed).unwrap();
        assert_eq!(acceptor_keys.opener.open(sealed).unwrap(), b"hello");
        let mut sealed = Vec::new();
        acceptor_keys.sealer.seal_into(b"", &mut sealed).unwrap();
        assert_eq!(dialer_keys.opener.open(sealed).unwrap(), b"");
    }

    #[test]
    fn a_dialer_with_the_wrong_secret_is_refused() {
        let (acceptor, _) = run(other_secret(), secret());
        assert_eq!(acceptor, Err(HandshakeError::BadProof(D)));
    }

    #[test]
    fn an_acceptor_with_the_wrong_secret_refuses_and_is_refused() {
        // The dialer proves first, so the acceptor with the other secret is
        // the one that notices.
        let (acceptor, _) = run(secret(), other_secret());
        assert_eq!(acceptor, Err(HandshakeError::BadProof(D)));

        // An acceptor that skips its check cannot forge its own proof either.
        let (mut dialer, _hello) = Handshake::dial(secret(), D, A);
        let challenge = HandshakeMsg::Challenge {
            node: A,
            nonce: [9; NONCE_LEN],
        };
        dialer.receive(challenge).unwrap();
        assert!(dialer.proof_sent());
        let forged = proof(
            &other_secret(),
            Role::Acceptor,
            A,
            D,
            &dialer.nonce,
            &[9; NONCE_LEN],
        );
        assert_eq!(
            dialer.receive(HandshakeMsg::Proof { mac: forged }),
            Err(HandshakeError::BadProof(A))
        );
    }

    #[test]
    fn a_replayed_proof_is_refused() {
        // Record an honest dialer's messages on one connection...
        let (mut dialer, hello) = Handshake::dial(secret(), D, A);
        let mut first = Handshake::accept(secret(), A);
        let challenge = first.receive(hello.clone()).unwrap().send.unwrap();
        let recorded_proof = dialer.receive(challenge).unwrap().send.unwrap();
        assert!(first.receive(recorded_proof.clone()).is_ok());

        // ...and replay them on a new one: the acceptor drew a new nonce.
        let mut second = Handshake::accept(secret(), A);
        second.receive(hello).unwrap();
        assert_eq!(
            second.receive(recorded_proof),
            Err(HandshakeError::BadProof(D))
        );
    }

    #[test]
    fn a_proof_over_a_foreign_nonce_or_role_is_refused() {
        let mut acceptor = Handshake::accept_with_nonce(secret(), A, [1; NONCE_LEN]);
        let dialer_nonce = [2; NONCE_LEN];
        acceptor
            .receive(HandshakeMsg::Hello {
                version: PROTOCOL_VERSION,
                node: D,
                nonce: dialer_nonce,
            })
            .unwrap();
        // Right secret, but over a nonce this acceptor never issued.
        let foreign = proof(
            &secret(),
            Role::Dialer,
            D,
            A,
            &[3; NONCE_LEN],
            &dialer_nonce,
        );
        assert_eq!(
            acceptor.receive(HandshakeMsg::Proof { mac: foreign }),
            Err(HandshakeError::BadProof(D))
        );

        // Right secret and nonces, but the acceptor's role: a reflected proof.
        let mut acceptor = Handshake::accept_with_nonce(secret(), A, [1; NONCE_LEN]);
        acceptor
            .receive(HandshakeMsg::Hello {
                version: PROTOCOL_VERSION,
                node: D,
                nonce: dialer_nonce,
            })
            .unwrap();
        let reflected = proof(
            &secret(),
            Role::Acceptor,
            D,
            A,
            &[1; NONCE_LEN],
            &dialer_nonce,
        );
        assert_eq!(
            acceptor.receive(HandshakeMsg::Proof { mac: reflected }),
            Err(HandshakeError::BadProof(D))
        );
    }

    #[test]
    fn a_peer_claiming_our_id_or_another_id_is_refused() {
        let mut acceptor = Handshake::accept(secret(), A);
        let (_, hello) = Handshake::dial(secret(), A, NodeId(7));
        assert_eq!(acceptor.receive(hello), Err(HandshakeError::OwnId(A)));
        assert_eq!(acceptor.claimed(), Some(A));

        let (mut dialer, _) = Handshake::dial(secret(), D, A);
        let challenge = HandshakeMsg::Challenge {
            node: NodeId(3),
            nonce: [0; NONCE_LEN],
        };
        assert_eq!(
            dialer.receive(challenge),
            Err(HandshakeError::WrongPeer {
                expected: A,
                claimed: NodeId(3)
            })
        );
    }

    #[test]
    fn other_versions_and_out_of_order_messages_are_refused() {
        let mut acceptor = Handshake::accept(secret(), A);
        let hello = HandshakeMsg::Hello {
            version: PROTOCOL_VERSION + 1,
            node: D,
            nonce: [0; NONCE_LEN],
        };
        assert_eq!(
            acceptor.receive(hello),
            Err(HandshakeError::Version {
                theirs: PROTOCOL_VERSION + 1,
                ours: PROTOCOL_VERSION
            })
        );

        let mut acceptor = Handshake::accept(secret(), A);
        assert_eq!(
            acceptor.receive(HandshakeMsg::Proof { mac: [0; 32] }),
            Err(HandshakeError::Unexpected {
                got: "Proof",
                want: "Hello"
            })
        );
        // After a failure nothing more is accepted, not even a valid Hello.
        let (_, hello) = Handshake::dial(secret(), D, A);
        assert!(acceptor.receive(hello).is_err());
    }

    #[test]
    fn handshake_messages_fit_the_handshake_frame_cap_and_hide_macs() {
        let proof_msg = HandshakeMsg::Proof { mac: [0xAB; 32] };
        let hello = HandshakeMsg::Hello {
            version: u16::MAX,
            node: NodeId(u64::MAX),
            nonce: [0xFF; NONCE_LEN],
        };
        for msg in [&proof_msg, &hello] {
            assert!(postcard::to_allocvec(msg).unwrap().len() <= MAX_HANDSHAKE_FRAME);
        }
        let printed = format!("{proof_msg:?} {hello:?}");
        assert!(
            !printed.contains("171") && !printed.contains("AB"),
            "{printed}"
        );
    }
}
