//! Framing with compression at threshold 256: what every packet of every
//! client costs to encode on the server and to decode on the client, and
//! what the swarm's skimming reader saves over a full decode.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tessera_bench::wire::FrameReader;
use valence_protocol::packets::play::CustomPayloadS2c;
use valence_protocol::{ident, PacketDecoder, PacketEncoder, RawBytes};

const THRESHOLD: Option<u32> = Some(256);

/// Bytes about as compressible as chunk data (~4:1): runs of a small
/// alphabet with some noise, from a fixed seed.
fn payload(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state & 3 == 0 {
                (state >> 32) as u8
            } else {
                (i / 64 % 8) as u8
            }
        })
        .collect()
}

fn encode(data: &[u8]) -> bytes::BytesMut {
    let mut enc = PacketEncoder::new();
    enc.set_compression(THRESHOLD);
    enc.append_packet(&CustomPayloadS2c {
        channel: ident!("bench:data").into(),
        data: RawBytes(data),
    })
    .expect("a bench packet encodes");
    enc.take()
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    for (label, len) in [("2KiB", 2 * 1024), ("64KiB", 64 * 1024)] {
        let data = payload(len);
        let wire = encode(&data);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("encode", label), &data, |b, data| {
            let mut enc = PacketEncoder::new();
            enc.set_compression(THRESHOLD);
            b.iter(|| {
                enc.append_packet(&CustomPayloadS2c {
                    channel: ident!("bench:data").into(),
                    data: RawBytes(data),
                })
                .expect("a bench packet encodes");
                enc.take()
            })
        });
        group.bench_with_input(BenchmarkId::new("decode", label), &wire, |b, wire| {
            let mut dec = PacketDecoder::new();
            dec.set_compression(THRESHOLD);
            b.iter(|| {
                dec.queue_slice(wire);
                let frame = dec
                    .try_next_packet()
                    .expect("a bench frame decodes")
                    .expect("a whole frame");
                frame
                    .decode::<CustomPayloadS2c>()
                    .expect("a bench packet decodes")
                    .data
                    .0
                    .len()
            })
        });
        group.bench_with_input(BenchmarkId::new("skim_id", label), &wire, |b, wire| {
            let mut reader = FrameReader::default();
            reader.enable_compression();
            b.iter(|| {
                reader.buffer().extend_from_slice(wire);
                reader
                    .next_frame()
                    .expect("a bench frame skims")
                    .expect("a whole frame")
                    .id
            })
        });
    }
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
