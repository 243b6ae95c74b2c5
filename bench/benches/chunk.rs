//! Generating a chunk column and encoding its Chunk Data packet, as a region
//! does for every chunk a player first sees.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tessera_world::chunk_packet::encode_chunk_packet;
use tessera_world::framing::Framing;
use tessera_world::gen::{Flat, Generator, Terrain};
use tessera_world::registry::Registries;
use valence_protocol::ChunkPos;

fn generators() -> [(&'static str, Box<dyn Generator>); 2] {
    [
        ("flat", Box::new(Flat)),
        ("terrain", Box::new(Terrain { seed: 0 })),
    ]
}

fn chunks(c: &mut Criterion) {
    let biome = Registries::vanilla().plains_biome;
    let pos = ChunkPos::new(3, -7);
    let mut group = c.benchmark_group("chunk");
    for (name, generator) in generators() {
        group.bench_function(BenchmarkId::new("generate", name), |b| {
            b.iter(|| generator.generate(pos))
        });
        let chunk = generator.generate(pos);
        for (framing, threshold) in [("compressed256", Some(256)), ("uncompressed", None)] {
            let framing_cfg = Framing { threshold };
            let len = encode_chunk_packet(pos, &chunk, biome, &framing_cfg).len();
            eprintln!("chunk packet {name} {framing}: {len} bytes");
            group.bench_function(BenchmarkId::new(format!("encode_{framing}"), name), |b| {
                b.iter(|| encode_chunk_packet(pos, &chunk, biome, &framing_cfg))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, chunks);
criterion_main!(benches);
