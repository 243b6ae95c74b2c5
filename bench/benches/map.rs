//! Drawing the admin map: a chunk's picture from a copy of its blocks, and a
//! whole region's PNG from its chunks' pictures, as the map service does off
//! the tick path when a region changed.

use std::collections::HashMap;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tessera_world::coords::RegionPos;
use tessera_world::gen::{Flat, Generator, Terrain};
use tessera_world::map::{region_png, ChunkPicture};
use valence_protocol::ChunkPos;

/// The default region side, in chunks.
const REGION_CHUNKS: i32 = 32;

fn map(c: &mut Criterion) {
    let mut group = c.benchmark_group("map");
    group.sample_size(20);
    let generators: [(&str, Box<dyn Generator>); 2] = [
        ("flat", Box::new(Flat)),
        ("terrain", Box::new(Terrain { seed: 0 })),
    ];
    for (name, generator) in generators {
        let chunk = generator.generate(ChunkPos::new(3, -7));
        group.bench_function(BenchmarkId::new("chunk_picture", name), |b| {
            b.iter(|| ChunkPicture::of(&chunk))
        });
        let region = RegionPos { x: 0, z: 0 };
        let pictures: HashMap<ChunkPos, ChunkPicture> = (0..REGION_CHUNKS)
            .flat_map(|x| (0..REGION_CHUNKS).map(move |z| ChunkPos::new(x, z)))
            .map(|pos| (pos, ChunkPicture::of(&generator.generate(pos))))
            .collect();
        let png = region_png(region, REGION_CHUNKS, &pictures);
        eprintln!(
            "region png {name}: {} bytes for {REGION_CHUNKS}x{REGION_CHUNKS} chunks",
            png.len()
        );
        group.bench_function(BenchmarkId::new("region_png", name), |b| {
            b.iter(|| region_png(region, REGION_CHUNKS, &pictures))
        });
    }
    group.finish();
}

criterion_group!(benches, map);
criterion_main!(benches);
