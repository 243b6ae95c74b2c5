//! One bot: a client connection that logs in offline, then plays as its
//! behaviour says, reading only the few packets it must answer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant, MissedTickBehavior};
use valence_protocol::math::{DVec3, Vec3};
use valence_protocol::packets::handshaking::handshake_c2s::HandshakeNextState;
use valence_protocol::packets::handshaking::HandshakeC2s;
use valence_protocol::packets::login::{
    LoginCompressionS2c, LoginDisconnectS2c, LoginHelloC2s, LoginHelloS2c, LoginQueryRequestS2c,
    LoginQueryResponseC2s, LoginSuccessS2c,
};
use valence_protocol::packets::play::client_settings_c2s::{ChatMode, DisplayedSkinParts, MainArm};
use valence_protocol::packets::play::player_action_c2s::PlayerAction;
use valence_protocol::packets::play::{
    ChatMessageC2s, ClientSettingsC2s, CommandExecutionC2s, CreativeInventoryActionC2s,
    DisconnectS2c, FullC2s, GameMessageS2c, HandSwingC2s, KeepAliveC2s, KeepAliveS2c,
    PlayerActionC2s, PlayerActionResponseS2c, PlayerInteractBlockC2s, PlayerPositionLookS2c,
    PositionAndOnGroundC2s, ScreenHandlerSlotUpdateS2c, TeleportConfirmC2s,
};
use valence_protocol::{
    BlockPos, Decode, Direction, Encode, Hand, ItemKind, ItemStack, Packet, PacketEncoder, VarInt,
    PROTOCOL_VERSION,
};

use crate::auth;
use crate::behaviour::{Action, Behaviour, Habits, TICKS_PER_SECOND};
use crate::motion::Walker;
use crate::scenario::Scenario;
use crate::stats::{BotRecord, Counters, Outcome, Received};
use crate::wire::{Frame, FrameReader};

/// Reads are sized for the chunk burst of a join; idle reads are tiny.
const READ_CHUNK: usize = 8 * 1024;
/// An auth plugin repeats its prompt; answer it at most this often.
const AUTH_REPLY_EVERY: Duration = Duration::from_secs(3);

/// Who connects where.
#[derive(Debug, Clone)]
pub struct Login {
    pub server: SocketAddr,
    /// The host name put in the handshake.
    pub host: String,
    pub name: String,
    pub view_distance: u8,
}

/// Everything one bot needs to know.
#[derive(Debug, Clone)]
pub struct BotConfig {
    pub login: Login,
    pub password: String,
    pub scenario: Scenario,
    pub area: f64,
    pub habits: Habits,
    pub seed: u64,
    /// Give up joining this long after starting to connect.
    pub join_timeout: Duration,
    /// Leave the server at this moment, wherever the bot is.
    pub leave_at: Instant,
}

/// The client's end of one connection.
pub struct Connection {
    stream: TcpStream,
    reader: FrameReader,
    encoder: PacketEncoder,
    counters: Arc<Counters>,
    /// Frames and bytes parsed since the last read, added to `counters`
    /// once per read rather than once per frame.
    unreported: Received,
}

/// Where the server first put the bot.
#[derive(Debug, Clone, Copy)]
pub struct Spawn {
    pub position: DVec3,
    pub yaw: f32,
    pub pitch: f32,
}

impl Connection {
    async fn connect(server: SocketAddr, counters: Arc<Counters>) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(server).await.context("connect")?;
        // Movement goes out in small packets that must not wait for each other.
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            reader: FrameReader::default(),
            encoder: PacketEncoder::new(),
            counters,
            unreported: Received::default(),
        })
    }

    fn queue<P: Packet + Encode>(&mut self, packet: &P) -> anyhow::Result<()> {
        self.encoder.append_packet(packet)
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        let bytes = self.encoder.take();
        if !bytes.is_empty() {
            self.stream.write_all(&bytes).await.context("write")?;
        }
        Ok(())
    }

    /// Reads once from the socket; false at end of stream. Cancel-safe.
    async fn read(&mut self) -> anyhow::Result<bool> {
        let Received { packets, bytes } = std::mem::take(&mut self.unreported);
        if packets > 0 {
            self.counters.received(packets, bytes);
        }
        let buf = self.reader.buffer();
        buf.reserve(READ_CHUNK);
        Ok(self.stream.read_buf(buf).await.context("read")? > 0)
    }

    /// The next frame, reading as needed; counts it as received.
    async fn next_frame(&mut self) -> anyhow::Result<Frame> {
        loop {
            if let Some(frame) = self.buffered_frame()? {
                return Ok(frame);
            }
            if !self.read().await? {
                bail!("closed by server");
            }
        }
    }

    fn buffered_frame(&mut self) -> anyhow::Result<Option<Frame>> {
        let frame = self.reader.next_frame()?;
        if let Some(frame) = &frame {
            self.unreported.packets += 1;
            self.unreported.bytes += frame.wire_len as u64;
        }
        Ok(frame)
    }
}

fn decode<'a, P: Packet + Decode<'a>>(body: &'a [u8]) -> anyhow::Result<P> {
    let mut r = body;
    P::decode(&mut r).with_context(|| format!("decoding {}", P::NAME))
}

/// The plain text of a chat component, for counting kick reasons.
fn plain(text: &valence_protocol::Text) -> String {
    let legacy = text.to_legacy_lossy();
    let mut out = String::with_capacity(legacy.len());
    let mut chars = legacy.chars();
    while let Some(c) = chars.next() {
        if c == '§' {
            chars.next();
        } else {
            out.push(c);
        }
    }
    out
}

/// Handshake, offline login, then play until the server first places the
/// bot (Synchronize Player Position), which is answered as a client does.
pub async fn join(cfg: &Login, counters: Arc<Counters>) -> anyhow::Result<(Connection, Spawn)> {
    let mut conn = Connection::connect(cfg.server, counters).await?;
    conn.queue(&HandshakeC2s {
        protocol_version: VarInt(PROTOCOL_VERSION),
        server_address: &cfg.host,
        server_port: cfg.server.port(),
        next_state: HandshakeNextState::Login,
    })?;
    conn.queue(&LoginHelloC2s {
        username: &cfg.name,
        profile_id: None,
    })?;
    conn.flush().await?;
    loop {
        let frame = conn.next_frame().await?;
        let body = frame.body()?;
        match frame.id {
            LoginCompressionS2c::ID => {
                let threshold = decode::<LoginCompressionS2c>(&body)?.threshold.0;
                // A negative threshold means no compression.
                let threshold = u32::try_from(threshold).ok();
                conn.encoder.set_compression(threshold);
                if threshold.is_some() {
                    conn.reader.enable_compression();
                }
            }
            LoginSuccessS2c::ID => break,
            LoginDisconnectS2c::ID => {
                let reason = decode::<LoginDisconnectS2c>(&body)?.reason;
                bail!("login refused: {}", plain(&reason));
            }
            LoginHelloS2c::ID => bail!("the server is in online mode"),
            LoginQueryRequestS2c::ID => {
                // A plugin channel no vanilla client understands either.
                let request = decode::<LoginQueryRequestS2c>(&body)?;
                conn.queue(&LoginQueryResponseC2s {
                    message_id: request.message_id,
                    data: None,
                })?;
                conn.flush().await?;
            }
            id => bail!("unexpected login packet {id:#x}"),
        }
    }
    // Sent right after login, as a vanilla client does; servers that honour
    // the client's view distance (Valence) send that many chunks.
    conn.queue(&ClientSettingsC2s {
        locale: "en_us",
        view_distance: cfg.view_distance,
        chat_mode: ChatMode::Enabled,
        chat_colors: true,
        displayed_skin_parts: DisplayedSkinParts::from(0x7f),
        main_arm: MainArm::Right,
        enable_text_filtering: false,
        allow_server_listings: true,
    })?;
    conn.flush().await?;
    loop {
        let frame = conn.next_frame().await?;
        match frame.id {
            PlayerPositionLookS2c::ID => {
                let p: PlayerPositionLookS2c = decode(&frame.body()?)?;
                let spawn = confirm_teleport(&mut conn, &p, None)?;
                conn.flush().await?;
                return Ok((conn, spawn));
            }
            KeepAliveS2c::ID => {
                let id = decode::<KeepAliveS2c>(&frame.body()?)?.id;
                conn.queue(&KeepAliveC2s { id })?;
                conn.flush().await?;
            }
            DisconnectS2c::ID => {
                let body = frame.body()?;
                let reason = decode::<DisconnectS2c>(&body)?.reason;
                bail!("disconnected before spawning: {}", plain(&reason));
            }
            _ => {}
        }
    }
}

/// Applies a server teleport (fields flagged relative are offsets from
/// `from`), and queues the confirmation and the position a client reports.
fn confirm_teleport(
    conn: &mut Connection,
    p: &PlayerPositionLookS2c,
    from: Option<&Walker>,
) -> anyhow::Result<Spawn> {
    let rel = |flag: bool, base: f64, v: f64| if flag { base + v } else { v };
    let (base, yaw, pitch) = from.map_or((DVec3::ZERO, 0.0, 0.0), |w| (w.position, w.yaw, w.pitch));
    let position = DVec3::new(
        rel(p.flags.x(), base.x, p.position.x),
        rel(p.flags.y(), base.y, p.position.y),
        rel(p.flags.z(), base.z, p.position.z),
    );
    let yaw = if p.flags.y_rot() { yaw + p.yaw } else { p.yaw };
    let pitch = if p.flags.x_rot() {
        pitch + p.pitch
    } else {
        p.pitch
    };
    conn.queue(&TeleportConfirmC2s {
        teleport_id: p.teleport_id,
    })?;
    conn.queue(&FullC2s {
        position,
        yaw,
        pitch,
        on_ground: true,
    })?;
    Ok(Spawn {
        position,
        yaw,
        pitch,
    })
}

/// A bot in the world.
struct Player {
    conn: Connection,
    behaviour: Behaviour,
    name: String,
    password: String,
    sequence: i32,
    last_auth_reply: Option<Instant>,
    /// Block changes sent and not yet acknowledged: their sequence numbers
    /// and when they went out.
    unacknowledged: VecDeque<(i32, std::time::Instant)>,
    counters: Arc<Counters>,
    /// Whether the server confirmed the builder's stone in its hotbar:
    /// before that a placement would be acknowledged without a change.
    has_stone: bool,
}

/// The window slot of the first hotbar slot, where a builder's stone goes.
const FIRST_HOTBAR_SLOT: i16 = 36;
/// Most block changes a bot keeps timing; more would mean the server has
/// stopped answering, which the bot's other figures show.
const MAX_UNACKNOWLEDGED: usize = 1_024;

impl Player {
    /// Answers what must be answered; `Some` when the server ended the session.
    fn handle(&mut self, frame: &Frame) -> anyhow::Result<Option<Outcome>> {
        match frame.id {
            KeepAliveS2c::ID => {
                let id = decode::<KeepAliveS2c>(&frame.body()?)?.id;
                self.conn.queue(&KeepAliveC2s { id })?;
            }
            PlayerPositionLookS2c::ID => {
                let p: PlayerPositionLookS2c = decode(&frame.body()?)?;
                let at = confirm_teleport(&mut self.conn, &p, Some(&self.behaviour.walker))?;
                self.behaviour.walker.place(at.position, at.yaw, at.pitch);
            }
            PlayerActionResponseS2c::ID => {
                let sequence = decode::<PlayerActionResponseS2c>(&frame.body()?)?
                    .sequence
                    .0;
                let now = std::time::Instant::now();
                // As in vanilla, an acknowledgement covers every earlier sequence.
                while let Some(&(sent, at)) = self.unacknowledged.front() {
                    if sent > sequence {
                        break;
                    }
                    self.unacknowledged.pop_front();
                    self.counters.acknowledged(now, now - at);
                }
            }
            ScreenHandlerSlotUpdateS2c::ID => {
                let body = frame.body()?;
                let p: ScreenHandlerSlotUpdateS2c = decode(&body)?;
                if p.slot_idx == FIRST_HOTBAR_SLOT {
                    self.has_stone = p
                        .slot_data
                        .as_ref()
                        .as_ref()
                        .is_some_and(|s| s.item == ItemKind::Stone);
                }
            }
            DisconnectS2c::ID => {
                let body = frame.body()?;
                let reason = decode::<DisconnectS2c>(&body)?.reason;
                return Ok(Some(Outcome::Kicked(plain(&reason))));
            }
            GameMessageS2c::ID => {
                let recently = self
                    .last_auth_reply
                    .is_some_and(|t| t.elapsed() < AUTH_REPLY_EVERY);
                if !recently {
                    if let Some(command) = auth::reply(&frame.body()?, &self.password) {
                        self.command(&command)?;
                        self.last_auth_reply = Some(Instant::now());
                    }
                }
            }
            _ => {}
        }
        Ok(None)
    }

    fn command(&mut self, command: &str) -> anyhow::Result<()> {
        self.conn.queue(&CommandExecutionC2s {
            command,
            timestamp: 0,
            salt: 0,
            argument_signatures: Vec::new(),
            message_count: VarInt(0),
            acknowledgement: [0; 3],
        })
    }

    fn next_sequence(&mut self) -> VarInt {
        self.sequence += 1;
        VarInt(self.sequence)
    }

    /// A block change goes out: timed until its acknowledgement.
    fn timed_sequence(&mut self) -> VarInt {
        let sequence = self.next_sequence();
        if self.unacknowledged.len() < MAX_UNACKNOWLEDGED {
            self.unacknowledged
                .push_back((sequence.0, std::time::Instant::now()));
        }
        sequence
    }

    fn take_stone(&mut self) -> anyhow::Result<()> {
        self.conn.queue(&CreativeInventoryActionC2s {
            slot: FIRST_HOTBAR_SLOT,
            clicked_item: Some(ItemStack::new(ItemKind::Stone, 64, None)),
        })
    }

    fn act(&mut self, action: Action) -> anyhow::Result<()> {
        match action {
            Action::Move {
                position,
                look: Some((yaw, pitch)),
                on_ground,
            } => self.conn.queue(&FullC2s {
                position,
                yaw,
                pitch,
                on_ground,
            }),
            Action::Move {
                position,
                look: None,
                on_ground,
            } => self.conn.queue(&PositionAndOnGroundC2s {
                position,
                on_ground,
            }),
            Action::Chat(message) => self.conn.queue(&ChatMessageC2s {
                message: &message,
                timestamp: 0,
                salt: 0,
                signature: None,
                message_count: VarInt(0),
                acknowledgement: [0; 3],
            }),
            Action::StartDigging(pos) => self.dig(PlayerAction::StartDestroyBlock, pos),
            Action::FinishDigging(pos) => self.dig(PlayerAction::StopDestroyBlock, pos),
            // Without its stone a builder would only time refusals.
            Action::PlaceOn(_) if self.builds() && !self.has_stone => self.take_stone(),
            Action::PlaceOn(pos) => {
                let sequence = self.timed_sequence();
                self.conn.queue(&PlayerInteractBlockC2s {
                    hand: Hand::Main,
                    position: pos,
                    face: Direction::Up,
                    cursor_pos: Vec3::new(0.5, 1.0, 0.5),
                    head_inside_block: false,
                    sequence,
                })
            }
            Action::Swing => self.conn.queue(&HandSwingC2s { hand: Hand::Main }),
            Action::TakeStone => self.take_stone(),
        }
    }

    fn builds(&self) -> bool {
        self.behaviour.builds()
    }

    fn dig(&mut self, action: PlayerAction, position: BlockPos) -> anyhow::Result<()> {
        let sequence = self.timed_sequence();
        self.conn.queue(&PlayerActionC2s {
            action,
            position,
            direction: Direction::Up,
            sequence,
        })
    }

    /// Plays until `leave_at` or until the server ends the session.
    async fn play(mut self, leave_at: Instant, rng: &mut SmallRng) -> Outcome {
        match self.play_loop(leave_at, rng).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Lost(format!("{e:#}")),
        }
    }

    async fn play_loop(
        &mut self,
        leave_at: Instant,
        rng: &mut SmallRng,
    ) -> anyhow::Result<Outcome> {
        // A random phase, so thousands of bots do not all send at once.
        let period = Duration::from_secs(1) / TICKS_PER_SECOND;
        let first = Instant::now() + period.mul_f64(rng.random());
        let mut ticker = tokio::time::interval_at(first, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let deadline = sleep_until(leave_at);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return Ok(Outcome::Stayed),
                open = self.conn.read() => {
                    if !open? {
                        bail!("closed by server");
                    }
                    while let Some(frame) = self.conn.buffered_frame()? {
                        if let Some(end) = self.handle(&frame)? {
                            return Ok(end);
                        }
                    }
                    self.conn.reader.shrink_if_idle();
                    // Keep-alive answers and teleport confirmations go out at once.
                    self.conn.flush().await?;
                }
                _ = ticker.tick() => {
                    for action in self.behaviour.tick(&self.name) {
                        self.act(action)?;
                    }
                    self.conn.flush().await?;
                }
            }
        }
    }
}

/// One bot's whole life: join, play, leave.
pub async fn run(cfg: BotConfig, counters: Arc<Counters>) -> BotRecord {
    let started = Instant::now();
    let joined = tokio::time::timeout_at(
        (started + cfg.join_timeout).min(cfg.leave_at),
        join(&cfg.login, counters.clone()),
    )
    .await;
    counters.settle();
    let (conn, spawn) = match joined {
        Ok(Ok(joined)) => joined,
        Ok(Err(e)) => return failed(format!("{e:#}")),
        Err(_) => return failed("no spawn before the join timeout".into()),
    };
    let spawned_at = Instant::now();
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let plan = cfg.scenario.plan(spawn.position, cfg.area, &mut rng);
    let mut walker = Walker::new(spawn.position, plan.path);
    walker.place(spawn.position, spawn.yaw, spawn.pitch);
    let mut player = Player {
        conn,
        behaviour: Behaviour::new(walker, cfg.habits, SmallRng::seed_from_u64(cfg.seed ^ 1)),
        name: cfg.login.name.clone(),
        password: cfg.password.clone(),
        sequence: 0,
        last_auth_reply: None,
        unacknowledged: VecDeque::new(),
        has_stone: false,
        counters: counters.clone(),
    };
    let outcome = match plan.teleport {
        Some(to) => player
            .command(&format!("tp {:.1} {:.1} {:.1}", to.x, to.y, to.z))
            .map_err(|e| Outcome::Lost(format!("{e:#}"))),
        None => Ok(()),
    };
    let outcome = match outcome {
        Ok(()) if player.builds() => player
            .command("gamemode creative")
            .map_err(|e| Outcome::Lost(format!("{e:#}"))),
        other => other,
    };
    let outcome = match outcome {
        Ok(()) => player.play(cfg.leave_at, &mut rng).await,
        Err(lost) => lost,
    };
    BotRecord {
        join_to_spawn: Some(spawned_at - started),
        spawned_at: Some(spawned_at.into_std()),
        ended_at: std::time::Instant::now(),
        outcome,
    }
}

fn failed(why: String) -> BotRecord {
    BotRecord {
        join_to_spawn: None,
        spawned_at: None,
        ended_at: std::time::Instant::now(),
        outcome: Outcome::Failed(why),
    }
}
