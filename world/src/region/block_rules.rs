//! The rules of digging and placing, apart from the region that carries
//! them out: the player and the blocks around go in as plain values, a
//! decision comes out. Every rule is tested here without a region, a world
//! or a runtime; `blocks.rs` only does what the decision says (journal,
//! feeds, acknowledgements, routing across the border).

use std::time::Duration;

use valence_protocol::block::{PropName, PropValue};
use valence_protocol::math::DVec3;
use valence_protocol::{BlockKind, BlockPos, BlockState, Direction, GameMode, Hand, ItemStack};

use crate::coords::in_height;
use crate::hardness::break_time;
use crate::messages::{DigPhase, Precondition};
use crate::player::{PlayerState, HOTBAR_START, OFF_HAND_SLOT};

/// Farthest block a player can reach, from the eyes to the block's centre,
/// with slack for latency.
const REACH: f64 = 7.0;
/// Share of the vanilla break time a survival dig must take, allowing for lag.
const DIG_TOLERANCE: f32 = 0.7;
/// Height of a standing player's eyes above its feet.
const EYE_HEIGHT: f64 = 1.62;

fn in_reach(state: &PlayerState, pos: BlockPos) -> bool {
    let eye = state.position + DVec3::new(0.0, EYE_HEIGHT, 0.0);
    let centre = DVec3::new(
        f64::from(pos.x) + 0.5,
        f64::from(pos.y) + 0.5,
        f64::from(pos.z) + 0.5,
    );
    eye.distance(centre) <= REACH
}

fn can_build(mode: GameMode) -> bool {
    matches!(mode, GameMode::Survival | GameMode::Creative)
}

/// The state an item places, oriented by the face it is placed against.
fn placed_state(item: &ItemStack, face: Direction) -> Option<BlockState> {
    let state = BlockKind::from_item_kind(item.item)?.to_state();
    let axis = match face {
        Direction::Down | Direction::Up => PropValue::Y,
        Direction::North | Direction::South => PropValue::Z,
        Direction::West | Direction::East => PropValue::X,
    };
    Some(match state.get(PropName::Axis) {
        Some(_) => state.set(PropName::Axis, axis),
        None => state,
    })
}

/// What a player's placement comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// Nothing to place (an empty hand, an item that is no block, a game
    /// mode that cannot build): the action is only acknowledged.
    Nothing,
    /// Out of reach or of the world's height: the client is told the block
    /// there stays as it is.
    Refused { pos: BlockPos },
    /// `state` goes at `pos` if the block there is replaceable; `uses` is
    /// the window slot a survival player uses up for it.
    Place {
        pos: BlockPos,
        state: BlockState,
        uses: Option<usize>,
    },
}

/// Where and what `player` places by clicking `face` of `against` with
/// `hand`; `block_at` gives the blocks loaded here.
pub(super) fn placement(
    player: &PlayerState,
    hand: Hand,
    against: BlockPos,
    face: Direction,
    block_at: impl Fn(BlockPos) -> Option<BlockState>,
) -> Placement {
    let slot = match hand {
        Hand::Main => HOTBAR_START + usize::from(player.held_slot),
        Hand::Off => OFF_HAND_SLOT,
    };
    let state = player
        .inventory
        .get(slot)
        .and_then(Option::as_ref)
        .and_then(|item| placed_state(item, face));
    let Some(state) = state.filter(|_| can_build(player.game_mode)) else {
        return Placement::Nothing;
    };
    // Clicking grass or water puts the block in its place, as vanilla does.
    let pos = if block_at(against).is_some_and(BlockState::is_replaceable) {
        against
    } else {
        against.get_in_direction(face)
    };
    if !in_height(pos.y) || !in_reach(player, pos) {
        return Placement::Refused { pos };
    }
    let uses = (player.game_mode == GameMode::Survival).then_some(slot);
    Placement::Place { pos, state, uses }
}

/// What the region of a digging player does with the dig before the region
/// that owns the block times it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DigCheck {
    /// Acknowledged and dropped: an abort out of reach, which, forwarded,
    /// would start the region of any spot a client names.
    Acknowledge,
    /// Refused: the client is told the block stays.
    Refuse,
    /// Passed on to the block's region, instant if `creative`.
    Time { creative: bool },
}

pub(super) fn dig_check(player: &PlayerState, pos: BlockPos, phase: DigPhase) -> DigCheck {
    let reach = in_reach(player, pos);
    match phase {
        DigPhase::Abort if !reach => DigCheck::Acknowledge,
        DigPhase::Abort => DigCheck::Time {
            creative: player.game_mode == GameMode::Creative,
        },
        _ if !(reach && can_build(player.game_mode)) => DigCheck::Refuse,
        _ => DigCheck::Time {
            creative: player.game_mode == GameMode::Creative,
        },
    }
}

/// Whether a dig breaks `current` as it starts: in creative, or a block
/// with no break time (flowers, grass).
pub(super) fn breaks_at_once(creative: bool, current: Option<BlockState>) -> bool {
    creative || current.and_then(break_time).is_some_and(|t| t.is_zero())
}

/// Whether a dig that took `elapsed` may break `current`: about as long
/// as vanilla takes by hand, never for an unbreakable block.
pub(super) fn dug_long_enough(current: Option<BlockState>, elapsed: Duration) -> bool {
    current
        .and_then(break_time)
        .is_some_and(|t| elapsed >= t.mul_f32(DIG_TOLERANCE))
}

/// Whether a change under `only_if` may replace `current` at height `y`.
pub(super) fn change_allowed(only_if: Precondition, current: BlockState, y: i32) -> bool {
    in_height(y)
        && match only_if {
            Precondition::Replaceable => current.is_replaceable(),
            Precondition::Breakable => !current.is_air() && break_time(current).is_some(),
        }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;
    use valence_protocol::ItemKind;

    use super::*;

    const FEET_Y: f64 = -60.0;

    fn player(mode: GameMode, item: Option<ItemKind>) -> PlayerState {
        let mut state = PlayerState::new(
            Uuid::nil(),
            "Builder".into(),
            1,
            DVec3::new(0.5, FEET_Y, 0.5),
        );
        state.game_mode = mode;
        state.inventory[HOTBAR_START] = item.map(|kind| ItemStack::new(kind, 5, None));
        state
    }

    fn floor(pos: BlockPos) -> Option<BlockState> {
        Some(if pos.y < FEET_Y as i32 {
            BlockState::GRASS_BLOCK
        } else {
            BlockState::AIR
        })
    }

    fn grass_below(x: i32, z: i32) -> BlockPos {
        BlockPos::new(x, FEET_Y as i32 - 1, z)
    }

    #[test]
    fn a_survival_player_places_on_the_clicked_face_and_uses_the_held_slot() {
        let builder = player(GameMode::Survival, Some(ItemKind::Stone));
        let decision = placement(
            &builder,
            Hand::Main,
            grass_below(2, 0),
            Direction::Up,
            floor,
        );
        assert_eq!(
            decision,
            Placement::Place {
                pos: BlockPos::new(2, FEET_Y as i32, 0),
                state: BlockState::STONE,
                uses: Some(HOTBAR_START),
            }
        );
    }

    #[test]
    fn creative_places_without_using_anything_and_the_off_hand_uses_its_slot() {
        let creative = player(GameMode::Creative, Some(ItemKind::Stone));
        let Placement::Place { uses, .. } = placement(
            &creative,
            Hand::Main,
            grass_below(1, 1),
            Direction::Up,
            floor,
        ) else {
            panic!("creative places");
        };
        assert_eq!(uses, None);
        let mut off_hand = player(GameMode::Survival, None);
        off_hand.inventory[OFF_HAND_SLOT] = Some(ItemStack::new(ItemKind::Dirt, 1, None));
        let Placement::Place { uses, state, .. } = placement(
            &off_hand,
            Hand::Off,
            grass_below(1, 1),
            Direction::Up,
            floor,
        ) else {
            panic!("the off hand places");
        };
        assert_eq!((uses, state), (Some(OFF_HAND_SLOT), BlockState::DIRT));
    }

    #[test]
    fn nothing_is_placed_from_an_empty_hand_an_item_or_a_mode_that_cannot_build() {
        let at = grass_below(1, 0);
        for (mode, item) in [
            (GameMode::Survival, None),
            (GameMode::Survival, Some(ItemKind::Stick)),
            (GameMode::Adventure, Some(ItemKind::Stone)),
            (GameMode::Spectator, Some(ItemKind::Stone)),
        ] {
            let decision = placement(&player(mode, item), Hand::Main, at, Direction::Up, floor);
            assert_eq!(decision, Placement::Nothing, "{mode:?} with {item:?}");
        }
    }

    #[test]
    fn a_replaceable_block_clicked_is_replaced_rather_than_built_on() {
        let builder = player(GameMode::Survival, Some(ItemKind::Stone));
        let tall_grass = |pos: BlockPos| {
            Some(if pos == BlockPos::new(2, FEET_Y as i32, 0) {
                BlockState::GRASS
            } else {
                BlockState::AIR
            })
        };
        let clicked = BlockPos::new(2, FEET_Y as i32, 0);
        let Placement::Place { pos, .. } =
            placement(&builder, Hand::Main, clicked, Direction::Up, tall_grass)
        else {
            panic!("places");
        };
        assert_eq!(pos, clicked);
    }

    #[test]
    fn far_or_outside_the_world_is_refused() {
        let builder = player(GameMode::Survival, Some(ItemKind::Stone));
        let far = grass_below(20, 0);
        assert_eq!(
            placement(&builder, Hand::Main, far, Direction::Up, floor),
            Placement::Refused {
                pos: far.get_in_direction(Direction::Up)
            }
        );
        let mut high = builder.clone();
        high.position.y = 318.0;
        let top = BlockPos::new(0, 319, 0);
        assert_eq!(
            placement(&high, Hand::Main, top, Direction::Up, |_| Some(
                BlockState::STONE
            )),
            Placement::Refused {
                pos: BlockPos::new(0, 320, 0)
            }
        );
    }

    #[test]
    fn logs_lie_along_the_face_they_are_placed_against() {
        let builder = player(GameMode::Creative, Some(ItemKind::OakLog));
        let at = BlockPos::new(1, FEET_Y as i32, 0);
        let axis =
            |face| match placement(&builder, Hand::Main, at, face, |_| Some(BlockState::STONE)) {
                Placement::Place { state, .. } => state.get(PropName::Axis),
                other => panic!("{other:?}"),
            };
        assert_eq!(axis(Direction::East), Some(PropValue::X));
        assert_eq!(axis(Direction::North), Some(PropValue::Z));
        assert_eq!(axis(Direction::Up), Some(PropValue::Y));
    }

    #[test]
    fn digs_are_checked_for_reach_and_mode_and_far_aborts_go_nowhere() {
        let near = grass_below(1, 0);
        let far = grass_below(30, 0);
        let survival = player(GameMode::Survival, None);
        assert_eq!(
            dig_check(&survival, near, DigPhase::Start),
            DigCheck::Time { creative: false }
        );
        assert_eq!(dig_check(&survival, far, DigPhase::Start), DigCheck::Refuse);
        assert_eq!(
            dig_check(&survival, far, DigPhase::Finish),
            DigCheck::Refuse
        );
        assert_eq!(
            dig_check(&survival, far, DigPhase::Abort),
            DigCheck::Acknowledge
        );
        let adventure = player(GameMode::Adventure, None);
        assert_eq!(
            dig_check(&adventure, near, DigPhase::Start),
            DigCheck::Refuse
        );
        assert_eq!(
            dig_check(&adventure, near, DigPhase::Abort),
            DigCheck::Time { creative: false },
            "an abort in reach clears the cracks, whatever the mode"
        );
        let creative = player(GameMode::Creative, None);
        assert_eq!(
            dig_check(&creative, near, DigPhase::Start),
            DigCheck::Time { creative: true }
        );
    }

    #[test]
    fn a_dig_takes_about_vanillas_time_and_bedrock_never_breaks() {
        let stone = Some(BlockState::STONE);
        let by_hand = break_time(BlockState::STONE).expect("stone breaks");
        assert!(!dug_long_enough(stone, by_hand / 2));
        assert!(dug_long_enough(stone, by_hand));
        assert!(!dug_long_enough(
            Some(BlockState::BEDROCK),
            Duration::from_secs(3600)
        ));
        assert!(
            !dug_long_enough(None, Duration::from_secs(3600)),
            "an unloaded block"
        );
        assert!(breaks_at_once(true, stone));
        assert!(!breaks_at_once(false, stone));
        assert!(breaks_at_once(false, Some(BlockState::GRASS)));
    }

    #[test]
    fn a_change_needs_its_precondition_and_the_worlds_height() {
        use Precondition::{Breakable, Replaceable};
        assert!(change_allowed(Replaceable, BlockState::AIR, 0));
        assert!(!change_allowed(Replaceable, BlockState::STONE, 0));
        assert!(change_allowed(Breakable, BlockState::STONE, 0));
        assert!(!change_allowed(Breakable, BlockState::AIR, 0));
        assert!(!change_allowed(Breakable, BlockState::BEDROCK, 0));
        assert!(!change_allowed(Replaceable, BlockState::AIR, 320));
        assert!(!change_allowed(Replaceable, BlockState::AIR, -65));
    }
}
