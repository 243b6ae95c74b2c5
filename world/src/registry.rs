//! The vanilla registries (dimension types, biomes, chat types, damage types)
//! as the client receives them in Join Game.

use valence_protocol::nbt::{compound, Compound, List};
use valence_registry::RegistryCodec;

pub const DIMENSION_TYPE: &str = "minecraft:overworld";
pub const DIMENSION_NAME: &str = "minecraft:overworld";
const BIOME_REGISTRY: &str = "minecraft:worldgen/biome";
const DIMENSION_REGISTRY: &str = "minecraft:dimension_type";

/// The registry codec and the ids of the entries the world uses.
pub struct Registries {
    pub codec: Compound,
    pub plains_biome: u32,
}

impl Registries {
    pub fn vanilla() -> Self {
        let registries = RegistryCodec::default().registries;
        let mut codec = Compound::new();
        for (name, values) in &registries {
            let entries = values
                .iter()
                .enumerate()
                .map(|(id, v)| {
                    compound! {
                        "id" => id as i32,
                        "name" => v.name.as_str(),
                        "element" => v.element.clone(),
                    }
                })
                .collect();
            codec.insert(
                name.as_str(),
                compound! {
                    "type" => name.as_str(),
                    "value" => List::Compound(entries),
                },
            );
        }
        let index_of = |registry: &str, entry: &str| {
            registries
                .iter()
                .find(|(name, _)| name.as_str() == registry)
                .and_then(|(_, values)| values.iter().position(|v| v.name.as_str() == entry))
        };
        debug_assert!(index_of(DIMENSION_REGISTRY, DIMENSION_TYPE).is_some());
        let plains_biome = index_of(BIOME_REGISTRY, "minecraft:plains").unwrap_or(0) as u32;
        Self {
            codec,
            plains_biome,
        }
    }
}

#[cfg(test)]
mod tests {
    use valence_protocol::nbt::Value;

    use super::*;

    #[test]
    fn the_overworld_spans_minus_64_to_320() {
        let registries = Registries::vanilla();
        let Some(Value::Compound(dims)) = registries.codec.get(DIMENSION_REGISTRY) else {
            panic!("no dimension registry");
        };
        let Some(Value::List(List::Compound(values))) = dims.get("value") else {
            panic!("no dimension values");
        };
        let overworld = values
            .iter()
            .find(|v| matches!(v.get("name"), Some(Value::String(n)) if n == DIMENSION_TYPE))
            .expect("overworld present");
        let Some(Value::Compound(element)) = overworld.get("element") else {
            panic!("no element");
        };
        assert_eq!(element.get("min_y"), Some(&Value::Int(-64)));
        assert_eq!(element.get("height"), Some(&Value::Int(384)));
    }
}
