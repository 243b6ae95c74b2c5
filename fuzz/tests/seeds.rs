//! The seed corpus: real inputs for every target, encoded by the crates the
//! server uses, so mutations start from what the decoders meet in practice.
//! The files are committed under `corpus/<target>/`; this test checks they
//! match what the encoders make now. After a format changes, write them
//! again with `TESSERA_FUZZ_WRITE_SEEDS=1 cargo test -p tessera-fuzz --test seeds`.

use std::fs;
use std::io::Write;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tessera_cluster::transport::{Envelope, Kind, NodeId, Topic};
use tessera_fuzz::corpus;
use tessera_world::anvil::level_dat::{LevelDat, WorldGen};
use tessera_world::anvil::{chunk_nbt, region_file};
use tessera_world::chunk::Chunk;
use tessera_world::coords::RegionPos;
use tessera_world::messages::{NodeBatch, PlayerInput, RegionMsg, ToSession};
use uuid::Uuid;
use valence_protocol::math::DVec3;
use valence_protocol::nbt::{compound, Compound, List};
use valence_protocol::packets::handshaking::handshake_c2s::HandshakeNextState;
use valence_protocol::packets::handshaking::HandshakeC2s;
use valence_protocol::packets::login::{LoginHelloC2s, LoginKeyC2s, LoginQueryResponseC2s};
use valence_protocol::packets::play::client_settings_c2s::{ChatMode, DisplayedSkinParts, MainArm};
use valence_protocol::packets::play::player_action_c2s::PlayerAction;
use valence_protocol::packets::play::{
    ChatMessageC2s, ClientSettingsC2s, CommandExecutionC2s, KeepAliveC2s, PlayerActionC2s,
    PositionAndOnGroundC2s,
};
use valence_protocol::packets::status::{QueryPingC2s, QueryRequestC2s};
use valence_protocol::{
    BlockPos, BlockState, ChunkPos, Direction, Encode, ItemKind, ItemStack, Packet, PacketEncoder,
    Property, RawBytes, VarInt,
};

/// The secrets `tessera_net::fuzzing` runs with, so seeds get past them.
const SHARED_SECRET: [u8; 16] = *b"tessera-fuzzing!";
const FORWARDING_SECRET: &[u8] = b"tessera-fuzzing-forwarding-secret";

/// A target's seeds, each with its file name.
type Seeds = Vec<(&'static str, Vec<u8>)>;

fn handshake(encoder: &mut PacketEncoder, next_state: HandshakeNextState) {
    encoder
        .append_packet(&HandshakeC2s {
            protocol_version: VarInt(valence_protocol::PROTOCOL_VERSION),
            server_address: "play.example.org",
            server_port: 25565,
            next_state,
        })
        .expect("encodes");
}

fn hello(encoder: &mut PacketEncoder) {
    encoder
        .append_packet(&LoginHelloC2s {
            username: "alex_01",
            profile_id: Some(Uuid::from_u128(7)),
        })
        .expect("encodes");
}

fn play(encoder: &mut PacketEncoder) {
    encoder
        .append_packet(&ClientSettingsC2s {
            locale: "en_gb",
            view_distance: 8,
            chat_mode: ChatMode::Enabled,
            chat_colors: true,
            displayed_skin_parts: DisplayedSkinParts::new().with_hat(true),
            main_arm: MainArm::Right,
            enable_text_filtering: false,
            allow_server_listings: true,
        })
        .expect("encodes");
    encoder
        .append_packet(&KeepAliveC2s { id: 99 })
        .expect("encodes");
    encoder
        .append_packet(&PositionAndOnGroundC2s {
            position: DVec3::new(8.5, 65.0, -3.5),
            on_ground: true,
        })
        .expect("encodes");
    encoder
        .append_packet(&ChatMessageC2s {
            message: "hello there",
            timestamp: 1_700_000_000_000,
            salt: 5,
            signature: None,
            message_count: VarInt(0),
            acknowledgement: [0; 3],
        })
        .expect("encodes");
    encoder
        .append_packet(&CommandExecutionC2s {
            command: "login hunter22",
            timestamp: 1_700_000_000_001,
            salt: 6,
            argument_signatures: Vec::new(),
            message_count: VarInt(0),
            acknowledgement: [0; 3],
        })
        .expect("encodes");
    encoder
        .append_packet(&PlayerActionC2s {
            action: PlayerAction::StartDestroyBlock,
            position: BlockPos::new(3, 64, -2),
            direction: Direction::Up,
            sequence: VarInt(1),
        })
        .expect("encodes");
    encoder
        .append_packet(&SetHeldItem { slot: 4 })
        .expect("encodes");
}

/// Set Held Item as the protocol has it, a Short: valence_protocol's type
/// reads a byte, so the session decodes this packet itself.
#[derive(Debug, Encode, Packet)]
#[packet(id = 0x28, side = valence_protocol::PacketSide::Serverbound)]
struct SetHeldItem {
    slot: i16,
}

/// The player info a Velocity proxy sends, unsigned.
fn player_info() -> Vec<u8> {
    let mut data = Vec::new();
    VarInt(1).encode(&mut data).expect("encodes");
    "203.0.113.9".encode(&mut data).expect("encodes");
    Uuid::from_u128(0xabc).encode(&mut data).expect("encodes");
    "alex_01".encode(&mut data).expect("encodes");
    vec![Property {
        name: "textures".to_owned(),
        value: "e30=".to_owned(),
        signature: Some("c2lnbmVk".to_owned()),
    }]
    .encode(&mut data)
    .expect("encodes");
    data
}

fn signed(data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(FORWARDING_SECRET).expect("any key length");
    mac.update(data);
    let mut out = mac.finalize().into_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// A client's stream after the setup byte `tessera_net::fuzzing` reads:
/// bits 0-2 the read size, 3 online mode, 4-5 the compression threshold
/// (none, 0, 64, 256), 6 Velocity forwarding.
fn client_stream() -> Seeds {
    let with = |setup: u8, mut encoder: PacketEncoder| {
        let mut out = vec![setup];
        out.extend_from_slice(&encoder.take());
        out
    };
    let mut seeds = Vec::new();

    let mut status = PacketEncoder::new();
    handshake(&mut status, HandshakeNextState::Status);
    status.append_packet(&QueryRequestC2s).expect("encodes");
    status
        .append_packet(&QueryPingC2s { payload: 42 })
        .expect("encodes");
    seeds.push(("status", with(0x03, status)));

    for (name, setup, threshold) in [
        ("offline-play", 0x03, None),
        ("offline-play-compressed-256", 0x33, Some(256)),
        ("offline-play-compressed-0", 0x13, Some(0)),
    ] {
        let mut encoder = PacketEncoder::new();
        handshake(&mut encoder, HandshakeNextState::Login);
        hello(&mut encoder);
        encoder.set_compression(threshold);
        play(&mut encoder);
        seeds.push((name, with(setup, encoder)));
    }

    let mut online = PacketEncoder::new();
    handshake(&mut online, HandshakeNextState::Login);
    hello(&mut online);
    online
        .append_packet(&LoginKeyC2s {
            shared_secret: &[7; 128],
            verify_token: &[9; 128],
        })
        .expect("encodes");
    let plain = online.take();
    online.enable_encryption(&SHARED_SECRET);
    online.set_compression(Some(256));
    play(&mut online);
    // One byte a read: the key exchange's last frame must end a read, as a
    // real client waits for the answer before it encrypts.
    let mut bytes = vec![0x38];
    bytes.extend_from_slice(&plain);
    bytes.extend_from_slice(&online.take());
    seeds.push(("online-encrypted-compressed", bytes));

    let mut velocity = PacketEncoder::new();
    handshake(&mut velocity, HandshakeNextState::Login);
    hello(&mut velocity);
    let answer = signed(&player_info());
    velocity
        .append_packet(&LoginQueryResponseC2s {
            message_id: VarInt(0),
            data: Some(RawBytes(&answer)),
        })
        .expect("encodes");
    play(&mut velocity);
    seeds.push(("velocity-play", with(0x42, velocity)));
    seeds
}

fn chat_command() -> Seeds {
    [
        ("register", "register hunter22 hunter22"),
        ("login", "login hunter22"),
        ("changepassword", "changepassword old new"),
        ("tp-relative", "tp ~ ~1.5 ~-2"),
        ("tp-absolute", "tp 100 64 -3"),
        ("gamemode", "gamemode creative"),
        ("msg", "msg alex_01 hi there"),
        ("ban", "ban griefer being rude"),
    ]
    .into_iter()
    .map(|(name, line)| (name, line.as_bytes().to_vec()))
    .collect()
}

/// What the session server answers to hasJoined.
fn session_profile() -> Seeds {
    let profile = br#"{"id":"069a79f444e94726a5befca90e38aaf5","name":"Notch","properties":[{"name":"textures","value":"ewogICJ0aW1lc3RhbXAiIDogMTcwMDAwMDAwMDAwMAp9","signature":"c2lnbmF0dXJl"}],"profileActions":[]}"#;
    vec![("has-joined", profile.to_vec())]
}

/// The transport's handshake messages, as postcard encodes them: the same
/// shape as the crate's own (private) `HandshakeMsg`.
#[derive(Serialize)]
enum HandshakeMsg {
    Hello {
        version: u16,
        node: NodeId,
        nonce: [u8; 32],
    },
    Challenge {
        node: NodeId,
        nonce: [u8; 32],
    },
    Proof {
        mac: [u8; 32],
    },
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn cluster_stream() -> Seeds {
    let msg = |m: &HandshakeMsg| frame(&postcard::to_allocvec(m).expect("encodes"));
    let mut accept = vec![0];
    accept.extend(msg(&HandshakeMsg::Hello {
        version: 1,
        node: NodeId(2),
        nonce: [3; 32],
    }));
    accept.extend(msg(&HandshakeMsg::Proof { mac: [4; 32] }));
    let mut dial = vec![1];
    dial.extend(msg(&HandshakeMsg::Challenge {
        node: NodeId(2),
        nonce: [5; 32],
    }));
    dial.extend(msg(&HandshakeMsg::Proof { mac: [6; 32] }));
    let mut link = vec![2];
    for (topic, kind, body) in [
        (Topic::Region, Kind::Message, vec![1, 2, 3]),
        (Topic::Register, Kind::Request(7), b"user:alex".to_vec()),
        (Topic::Auth, Kind::Reply(7), vec![0]),
        (
            Topic::Frontend,
            Kind::Failure(8),
            b"no such player".to_vec(),
        ),
    ] {
        let envelope = Envelope {
            from: NodeId(2),
            topic,
            kind,
            body: body.into(),
        };
        link.extend(frame(&postcard::to_allocvec(&envelope).expect("encodes")));
        link.extend([0; 4]);
    }
    vec![("accept", accept), ("dial", dial), ("link", link)]
}

fn cluster_bodies() -> Seeds {
    let to_region = (
        RegionPos { x: 1, z: -2 },
        RegionMsg::Input {
            entity: 5,
            input: PlayerInput::CreativeSlot {
                slot: 36,
                item: Some(ItemStack::new(ItemKind::Stone, 12, None)),
            },
            forwarded: false,
        },
    );
    let mut one = vec![0];
    one.extend(
        postcard::to_allocvec(&(3u64, ToSession::Moved(DVec3::new(1.5, 70.0, -8.25))))
            .expect("encodes"),
    );
    let mut batch = vec![1];
    batch.extend(postcard::to_allocvec(&NodeBatch::default()).expect("encodes"));
    vec![
        (
            "to-region-input",
            postcard::to_allocvec(&to_region).expect("encodes"),
        ),
        ("to-session-moved", one),
        ("to-sessions-batch", batch),
    ]
}

fn config() -> Seeds {
    let shipped = fs::read(corpus::root().join("../config.toml")).expect("config.toml reads");
    let mut overridden = shipped.clone();
    overridden.extend_from_slice(
        b"\0TESSERA_SERVER_MAX_PLAYERS=5\nTESSERA_AUTH_REQUIRE_LOGIN=false\nTESSERA_WORLD_SEED=-3",
    );
    vec![("shipped", shipped), ("overridden", overridden)]
}

fn sample_chunk() -> Chunk {
    let mut chunk = Chunk::default();
    chunk.fill_layers(-64, -60, BlockState::STONE);
    chunk.fill_layers(-60, -59, BlockState::GRASS_BLOCK);
    chunk.set_block(3, -59, 4, BlockState::OAK_LOG);
    chunk
}

fn nbt_binary(nbt: &Compound) -> Vec<u8> {
    let mut out = Vec::new();
    nbt.to_binary(&mut out, "").expect("encodes");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("compresses");
    gz.finish().expect("compresses")
}

fn region_file() -> Seeds {
    let pos = ChunkPos::new(1, 0);
    let nbt = nbt_binary(&chunk_nbt::to_nbt(pos, &sample_chunk()));
    let raw = region_file::compress(&nbt, 1_700_000_000).expect("compresses");
    let slot = region_file::slot_of(pos);
    vec![
        ("one-chunk", region_file::build(&[(slot, raw)])),
        ("empty", Vec::new()),
    ]
}

fn chunk_nbt() -> Seeds {
    let nbt = chunk_nbt::to_nbt(ChunkPos::new(0, 0), &sample_chunk());
    vec![("full-chunk", nbt_binary(&nbt))]
}

fn player_dat() -> Seeds {
    let item = |slot: i8, id: &str, count: i8| {
        compound! {
            "Slot" => slot,
            "id" => id.to_owned(),
            "Count" => count,
        }
    };
    let root = compound! {
        "Pos" => List::Double(vec![8.5, 65.0, -3.5]),
        "Rotation" => List::Float(vec![90.0, 10.0]),
        "playerGameType" => 1,
        "SelectedItemSlot" => 2,
        "Inventory" => List::Compound(vec![
            item(0, "minecraft:stone", 12),
            item(100, "minecraft:iron_boots", 1),
            item(-106, "minecraft:shield", 1),
        ]),
    };
    vec![("player", gzip(&nbt_binary(&root)))]
}

fn level_dat() -> Seeds {
    let level = LevelDat {
        spawn: (10, -60, -20),
        time: 12345,
        day_time: 6000,
        seed: -42,
        level_name: "tessera".into(),
        game_rules: [("doDaylightCycle".to_owned(), "false".to_owned())].into(),
        generator: WorldGen::Flat,
        kept: Compound::new(),
    };
    let gz = level
        .encode(std::path::Path::new("level.dat"))
        .expect("encodes");
    vec![("flat", gz)]
}

fn numbered(seeds: Vec<Vec<u8>>) -> Seeds {
    const NAMES: [&str; 4] = ["seed-0", "seed-1", "seed-2", "seed-3"];
    NAMES.into_iter().zip(seeds).collect()
}

fn all() -> Vec<(&'static str, Seeds)> {
    vec![
        ("client_stream", client_stream()),
        ("chat_command", chat_command()),
        ("velocity_forwarding", vec![("player-info", player_info())]),
        ("session_profile", session_profile()),
        ("cluster_stream", cluster_stream()),
        ("cluster_bodies", cluster_bodies()),
        ("config", config()),
        ("journal", numbered(tessera_world::fuzzing::journal_seeds())),
        ("region_file", region_file()),
        ("chunk_nbt", chunk_nbt()),
        ("player_dat", player_dat()),
        ("level_dat", level_dat()),
        (
            "legacy_region",
            numbered(tessera_world::fuzzing::legacy_seeds()),
        ),
    ]
}

#[test]
fn the_committed_seeds_are_what_the_encoders_make() {
    let write = std::env::var_os("TESSERA_FUZZ_WRITE_SEEDS").is_some();
    for (target, seeds) in all() {
        assert!(
            tessera_fuzz::targets::find(target).is_some(),
            "{target} is no target"
        );
        let dir = corpus::dir("corpus", target);
        for (name, bytes) in seeds {
            let path = dir.join(name);
            if write {
                fs::create_dir_all(&dir).expect("the corpus folder is made");
                fs::write(&path, &bytes).expect("the seed is written");
            } else {
                let committed = fs::read(&path).unwrap_or_default();
                // level.dat records when it was written (LastPlayed), and
                // config.toml changes with every new setting: those seeds
                // are only checked to be there.
                let loose = matches!(target, "level_dat" | "config");
                let same = committed == bytes || (loose && !committed.is_empty());
                assert!(
                    same,
                    "{} is not what the encoders make now: run this test with \
                     TESSERA_FUZZ_WRITE_SEEDS=1 and commit the result",
                    path.display()
                );
            }
        }
    }
}
