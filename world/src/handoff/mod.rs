//! Handing a player from the region it walked out of to the region it walked
//! into, as sans-IO state machines: messages and the time go in, messages to
//! send and players to insert come out. No sockets, no clock, no world: the
//! region actor (`region::handoff`) and the simulation (`tests/handoff_sim.rs`)
//! drive the same code.
//!
//! Two machines take part:
//! - [`RegionHandoffs`], one per region, plays both sides: it sends `Adopt`
//!   for players that left and retries until `AdoptAck`, and it adopts players
//!   handed to it, once each.
//! - [`Custody`], one per session, follows which region holds its player and
//!   brings the player back (a `Join`) when the holder may have lost it.
//!
//! Each player carries a hop count (`PlayerState::hop`): every handoff adds
//! one, so of two copies of a player the one with the higher hop is newer.
//! The hop, not only the handoff id, is what a region remembers per entity, so
//! a retried or stale `Adopt` is recognised whoever sends it and however late.
//!
//! # Invariants
//!
//! 1. **Acknowledged means held.** A region answers every `Adopt` with
//!    `AdoptAck`, but only after it holds the player at that hop or knows a
//!    newer hop for it; the sender drops its pending copy on the ack only.
//! 2. **Adopted once.** A region inserts a player from an `Adopt` only if the
//!    hop is higher than every hop it has held or handed on for that entity
//!    (remembered for [`REMEMBER_FOR`], longer than a sender retries,
//!    [`GIVE_UP_AFTER`]); retries and duplicated messages only re-acknowledge.
//! 3. **Left means gone.** A player whose session left is tombstoned: no later
//!    `Adopt` or `Join` brings it back into that region, and a pending handoff
//!    of it is cancelled (the `Leave` is forwarded where it went).
//! 4. **No adoption by a stranger.** An `Adopt` names the placement epoch of
//!    the target it was sent to, and only the owner under that epoch adopts
//!    it: a new owner cannot know whether the old one already passed the
//!    player on, so adopting a retry (or a message re-routed after a move)
//!    could make a second copy. When the sender sees the target change owner
//!    it gives its copy to the session instead (`ToSession::HandoffAbandoned`),
//!    which decides; the same happens for a player handed off recently
//!    (within [`FORWARD_FOR`]) whose adopter changed owner, since the adopter
//!    may have died holding it, and for a handoff unanswered for
//!    [`GIVE_UP_AFTER`].
//! 5. **The session decides every re-join.** A session re-joins its player
//!    (to the region of the position its client last reported, which is where
//!    the live copy is or is heading) only when the region it believes holds
//!    the player changed owner, or when a sender abandoned a handoff at least
//!    as new as anything the session has heard of. It keeps the newest copy
//!    it has seen (snapshots, abandoned handoffs) by hop, and the re-joined
//!    copy starts a new generation of hops, above all of them and all their
//!    descendants. The `Join` is sent again every [`RETRY_AFTER`] until a
//!    region confirms a copy at least that new. A region that already holds
//!    the player keeps it (unless the re-join is newer); one the player left
//!    after what the re-join knew forwards the `Join` after it, or drops it.
//!    A sender tells the session of an abandoned handoff again every
//!    [`RETRY_AFTER`] for [`FORWARD_FOR`], as that message may be lost too.
//! 6. **Stale copies are released.** Every insert is reported to the session
//!    with its hop, and again with every snapshot (so a lost report is made
//!    good within a second). A copy older than one the session heard of, and a copy
//!    the session re-joined that a newer one elsewhere superseded, are told
//!    to go (`RegionMsg::Release`). So two copies are never live at once:
//!    input goes only to the newest, and an older one stands (frozen) only
//!    until the session hears of it.
//!
//! What this does not cover: a session whose node dies leaves its player in
//! a region on another node until that region restarts (there is no session
//! lease). A message held back by a partition and delivered much later (the
//! transport queues while a link is down) can still place a stale copy; it
//! stands until the session hears of it (invariant 6), which is checked in
//! `tests/handoff_sim.rs`.

mod custody;
mod region;

use std::time::Duration;

pub use custody::{Custody, Heard, Rejoin};
pub use region::{LeaveOutcome, Output, RegionHandoffs};

/// A handoff id, unique in the cluster (the sending node is in its top bits).
pub type HandoffId = u64;

/// How long the sender waits for an acknowledgement before sending again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long a sender keeps retrying before it gives its copy to the session.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);
/// How long input for a departed player is still forwarded to its new region;
/// far longer than a session takes to learn of its new owner.
pub const FORWARD_FOR: Duration = Duration::from_secs(60);
/// How long a region remembers the hop of a player that left it; longer than
/// any sender retries, so no retry can be adopted twice.
pub const REMEMBER_FOR: Duration = Duration::from_secs(600);
