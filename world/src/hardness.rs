//! How long blocks take to break by hand, for timed survival digging.

use std::time::Duration;

use valence_protocol::{BlockKind, BlockState};

/// Vanilla hardness of the common natural and building blocks; `None` for
/// blocks that cannot be broken. Unlisted blocks count as 1.5 (stone-like).
fn hardness(kind: BlockKind) -> Option<f32> {
    use BlockKind as K;
    Some(match kind {
        K::Bedrock | K::Barrier | K::EndPortalFrame | K::CommandBlock => return None,
        K::Air | K::CaveAir | K::VoidAir => 0.0,
        K::Grass | K::TallGrass | K::Fern | K::Dandelion | K::Poppy | K::Torch => 0.0,
        K::OakLeaves | K::BirchLeaves | K::SpruceLeaves | K::JungleLeaves => 0.2,
        K::Glass => 0.3,
        K::Dirt | K::Sand | K::Farmland => 0.5,
        K::GrassBlock | K::Gravel | K::Clay => 0.6,
        K::Netherrack => 0.4,
        K::OakLog | K::BirchLog | K::SpruceLog | K::JungleLog => 2.0,
        K::OakPlanks | K::BirchPlanks | K::SprucePlanks | K::JunglePlanks => 2.0,
        K::Cobblestone => 2.0,
        K::Obsidian => 50.0,
        _ => 1.5,
    })
}

/// True for blocks a bare hand harvests at full speed (no tool needed).
fn hand_harvestable(kind: BlockKind) -> bool {
    use BlockKind as K;
    !matches!(
        kind,
        K::Stone | K::Cobblestone | K::Obsidian | K::Deepslate | K::IronOre | K::CoalOre
    )
}

/// Time to break `state` by hand in survival; `None` if it cannot be broken.
pub fn break_time(state: BlockState) -> Option<Duration> {
    let kind = state.to_kind();
    let hardness = hardness(kind)?;
    let factor = if hand_harvestable(kind) { 1.5 } else { 5.0 };
    Some(Duration::from_secs_f32(hardness * factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grass_takes_under_a_second_and_bedrock_never_breaks() {
        let millis = |state| break_time(state).map(|t| t.as_millis());
        assert_eq!(millis(BlockState::GRASS_BLOCK), Some(900));
        assert_eq!(millis(BlockState::BEDROCK), None);
        assert_eq!(millis(BlockState::STONE), Some(7500));
    }
}
