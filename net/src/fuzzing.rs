//! Entry points for the fuzz targets (the `tessera-fuzz` crate): each takes
//! arbitrary bytes through the code the frontend runs on a client's input,
//! without sockets. Not part of the crate's API.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use valence_protocol::decode::PacketFrame;
use valence_protocol::packets::handshaking::handshake_c2s::HandshakeNextState;
use valence_protocol::packets::handshaking::HandshakeC2s;
use valence_protocol::packets::login::{LoginHelloC2s, LoginKeyC2s};
use valence_protocol::packets::status::QueryRequestC2s;
use valence_protocol::Packet;

use crate::inbound::{Inbound, READ_CHUNK};
use crate::limits::{PrePlayBudget, Share, PRE_PLAY_BUDGET};
use crate::velocity::{verify, ForwardingKey, VelocityForwarding};

/// How the server in a `client_stream` run is set up, from its first byte.
struct Setup {
    /// Bytes handed over per read (1 to `READ_CHUNK`).
    read_size: usize,
    /// Online mode: an encryption response follows the login start.
    online: bool,
    /// Behind Velocity: the proxy's answer follows the login start.
    velocity: bool,
    /// The compression threshold switched on after login.
    threshold: Option<u32>,
}

impl Setup {
    fn of(byte: u8) -> Self {
        let read_size = match byte & 0x7 {
            0 => 1,
            1 => 3,
            2 => 64,
            _ => READ_CHUNK,
        };
        let threshold = match (byte >> 4) & 0x3 {
            0 => None,
            1 => Some(0),
            2 => Some(64),
            _ => Some(256),
        };
        Self {
            read_size,
            online: byte & 0x8 != 0,
            velocity: byte & 0x40 != 0,
            threshold,
        }
    }
}

/// Where the stream is: the protocol's state and, in login, its step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Handshake,
    Status,
    LoginStart,
    EncryptionResponse,
    ForwardingAnswer,
    Play,
}

/// The shared secret an online-mode run switches decryption on with.
const SHARED_SECRET: [u8; 16] = *b"tessera-fuzzing!";

/// A client's byte stream (after a first byte choosing how the server is
/// set up and how the bytes arrive) through the connection's framing,
/// limits, decryption and decompression, each frame decoded as the state
/// it arrives in: handshake, then status or login, then play. The run
/// stops where the server would end the connection.
pub fn client_stream(data: &[u8]) {
    let Some((&setup, stream)) = data.split_first() else {
        return;
    };
    let setup = Setup::of(setup);
    let mut inbound = Inbound::new(Share::new(PrePlayBudget::new(PRE_PLAY_BUDGET)));
    let mut step = Step::Handshake;
    for bytes in stream.chunks(setup.read_size) {
        let mut buf = inbound.buffer();
        buf.extend_from_slice(bytes);
        // A refusal is given out by `next_frame` after the frames before it.
        let _ = inbound.received(buf);
        loop {
            match inbound.next_frame() {
                Ok(Some(frame)) => match take(&setup, &mut inbound, step, &frame) {
                    Some(next) => step = next,
                    None => return,
                },
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// The server's answer to `frame` in `step`: the next step, or `None` when
/// the connection ends.
fn take(setup: &Setup, inbound: &mut Inbound, step: Step, frame: &PacketFrame) -> Option<Step> {
    match step {
        Step::Handshake => {
            let handshake: HandshakeC2s = frame.decode().ok()?;
            Some(match handshake.next_state {
                HandshakeNextState::Status => Step::Status,
                HandshakeNextState::Login => Step::LoginStart,
            })
        }
        Step::Status => match frame.id {
            QueryRequestC2s::ID => frame.decode::<QueryRequestC2s>().ok().map(|_| Step::Status),
            // The pong is the last answer: the connection closes after it.
            _ => None,
        },
        Step::LoginStart => {
            let hello: LoginHelloC2s = frame.decode().ok()?;
            if !crate::profile::valid_name(hello.username) {
                return None;
            }
            // Forwarding wins over online mode, as at login.
            if setup.velocity {
                return Some(Step::ForwardingAnswer);
            }
            if setup.online {
                return Some(Step::EncryptionResponse);
            }
            Some(into_play(setup, inbound))
        }
        Step::EncryptionResponse => {
            frame.decode::<LoginKeyC2s>().ok()?;
            inbound.enable_decryption(&SHARED_SECRET).ok()?;
            Some(into_play(setup, inbound))
        }
        Step::ForwardingAnswer => {
            let velocity = VelocityForwarding::new(FORWARDING_SECRET);
            velocity.answer(frame, "fuzzer").ok()?;
            Some(into_play(setup, inbound))
        }
        Step::Play => crate::session::fuzzing::play_packet(frame).then_some(Step::Play),
    }
}

fn into_play(setup: &Setup, inbound: &mut Inbound) -> Step {
    if setup.threshold.is_some() {
        inbound.set_compression(setup.threshold);
    }
    inbound.enter_play();
    Step::Play
}

/// A command line as the session parses it (the login gate's `/register`
/// and `/login`, the permission table, command arguments), and the same
/// bytes as a chat message and a command packet's body.
pub fn chat_command(data: &[u8]) {
    if let Ok(line) = std::str::from_utf8(data) {
        crate::session::fuzzing::command(line);
    }
    for id in [
        valence_protocol::packets::play::ChatMessageC2s::ID,
        valence_protocol::packets::play::CommandExecutionC2s::ID,
    ] {
        let frame = PacketFrame {
            id,
            body: data.into(),
        };
        crate::session::fuzzing::play_packet(&frame);
    }
}

/// The secret the velocity target signs with.
const FORWARDING_SECRET: &[u8] = b"tessera-fuzzing-forwarding-secret";

/// Velocity's player info, signed with the forwarding secret so the
/// decoding behind the signature check is reached, through the same
/// check a proxy's answer goes through.
pub fn velocity_forwarding(data: &[u8]) {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(FORWARDING_SECRET)
        .expect("HMAC accepts keys of any length");
    mac.update(data);
    let mut response = mac.finalize().into_bytes().to_vec();
    response.extend_from_slice(data);
    let _ = verify(&ForwardingKey::new(FORWARDING_SECRET), &response);
}

/// The session server's answer to hasJoined in online mode: JSON from
/// another host, read for the player's uuid, name and skin.
pub fn session_profile(data: &[u8]) {
    let _ = crate::online::parse_profile(data);
}
