//! Entry points for the fuzz targets (the `tessera-fuzz` crate): a peer's
//! byte stream through the transport's framing, handshake, frame opening and
//! envelope decoding, without sockets. Not part of the crate's API.

use std::time::Duration;

use super::cipher::Opener;
use super::envelope::Envelope;
use super::frame::{self, DEFAULT_MAX_FRAME_LEN};
use super::handshake::{Handshake, HandshakeMsg, MAX_HANDSHAKE_FRAME};
use super::{ClusterSecret, NodeId};

const LOCAL: NodeId = NodeId(1);
const PEER: NodeId = NodeId(2);
/// Never reached: a slice of bytes is always ready to be read.
const IDLE: Duration = Duration::from_secs(1);

/// The first byte picks where the stream starts: the acceptor's handshake
/// (`0`), the dialer's (`1`), both followed by sealed frames the link's
/// opener must refuse or open; or the plaintext of an authenticated link
/// from `PEER` (else), as a peer holding the secret could send it. The rest
/// is what the peer sent, read as the connection reads it.
pub fn transport_stream(data: &[u8]) {
    let Some((&mode, mut stream)) = data.split_first() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime builds");
    runtime.block_on(async move {
        let secret = ClusterSecret::new("tessera fuzzing cluster secret")
            .expect("the secret is long enough");
        let handshake = match mode {
            0 => Some(Handshake::accept(secret, LOCAL)),
            1 => Some(Handshake::dial(secret, LOCAL, PEER).0),
            _ => None,
        };
        let (peer, opener) = match handshake {
            Some(mut handshake) => match handshake_frames(&mut stream, &mut handshake).await {
                Some(peer) => (peer, handshake.take_keys().map(|keys| keys.opener)),
                None => return,
            },
            None => (PEER, None),
        };
        link_frames(&mut stream, peer, opener).await;
    });
}

/// Feeds the handshake the messages in `stream` until it is established
/// (the peer it authenticated) or fails (`None`).
async fn handshake_frames(stream: &mut &[u8], handshake: &mut Handshake) -> Option<NodeId> {
    loop {
        let bytes = frame::read_frame(stream, MAX_HANDSHAKE_FRAME, IDLE)
            .await
            .ok()?;
        let msg: HandshakeMsg = postcard::from_bytes(&bytes).ok()?;
        let step = handshake.receive(msg).ok()?;
        if let Some(reply) = step.send {
            frame::encode(&reply).ok()?;
        }
        if let Some(peer) = step.established {
            return Some(peer);
        }
    }
}

/// Reads envelopes as an authenticated link does (opening each frame with
/// `opener` when there is one) until the stream ends or the link would be
/// dropped.
async fn link_frames(stream: &mut &[u8], peer: NodeId, mut opener: Option<Opener>) {
    loop {
        let Ok(sealed) = frame::read_frame(stream, DEFAULT_MAX_FRAME_LEN, IDLE).await else {
            return;
        };
        let bytes = match opener.as_mut() {
            Some(opener) => match opener.open(sealed) {
                Ok(bytes) => bytes,
                Err(_) => return,
            },
            None => sealed,
        };
        if bytes.is_empty() {
            continue; // a heartbeat
        }
        // An envelope that does not decode is dropped; the link stays.
        let Ok(envelope) = postcard::from_bytes::<Envelope>(&bytes) else {
            continue;
        };
        if envelope.from != peer {
            return;
        }
    }
}
