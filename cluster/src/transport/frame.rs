//! Framing of a node-to-node connection: every frame is a u32 big-endian
//! length followed by that many bytes. During the handshake the bytes are a
//! postcard `HandshakeMsg`; after it, a sealed frame (`cipher`): ciphertext
//! and tag of a postcard `Envelope`, or of nothing for a heartbeat.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The default cap on a frame's length (16 MiB); a peer announcing a bigger
/// frame loses its connection instead of making us allocate whatever it asks
/// for, and `send` refuses a body that would not fit.
///
/// It is not lower because the biggest legitimate messages come close: a
/// region's per-tick batch to another node's sessions carries the chunk
/// packets of every chunk a newly arriving player subscribed to in that tick
/// (a whole view's share of the region at once, tens of KiB per chunk when
/// compression is off), and openraft sends placement snapshots in chunks of up
/// to 3 MiB. A node that is not authenticated never gets past
/// `MAX_HANDSHAKE_FRAME`, so this bound only faces peers holding the secret.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

pub(crate) const HEADER_LEN: usize = 4;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("nothing received from the peer for {0:?}")]
    Idle(Duration),
    #[error("connection closed by the peer")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("cannot encode a frame: {0}")]
    Encode(postcard::Error),
}

/// Encodes `msg` as one frame, length prefix included, so a writer can send
/// a run of frames with a single write.
pub(crate) fn encode<T: Serialize>(msg: &T) -> Result<Bytes, FrameError> {
    let mut buf = postcard::to_extend(msg, vec![0u8; HEADER_LEN]).map_err(FrameError::Encode)?;
    let len = buf.len() - HEADER_LEN;
    let prefix = u32::try_from(len).map_err(|_| FrameError::TooLarge {
        len,
        max: u32::MAX as usize,
    })?;
    buf[..HEADER_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(Bytes::from(buf))
}

/// Reads one frame's bytes. The length is checked before the body is
/// allocated, and `idle` bounds each wait for more bytes (not the whole frame,
/// so a big frame on a slow link still arrives while a silent peer is noticed).
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: usize,
    idle: Duration,
) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    read_exact_idle(reader, &mut header, idle).await?;
    let len = u32::from_be_bytes(header) as usize;
    if len > max_len {
        return Err(FrameError::TooLarge { len, max: max_len });
    }
    let mut body = vec![0u8; len];
    read_exact_idle(reader, &mut body, idle).await?;
    Ok(body)
}

async fn read_exact_idle<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
    idle: Duration,
) -> Result<(), FrameError> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = tokio::time::timeout(idle, reader.read(&mut buf[filled..]))
            .await
            .map_err(|_| FrameError::Idle(idle))??;
        if n == 0 {
            return Err(FrameError::Closed);
        }
        filled += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn frames_round_trip() {
        let mut wire = encode(&("hello", 7u32)).unwrap().to_vec();
        wire.extend_from_slice(&encode(&()).unwrap());
        let mut reader = &wire[..];
        let body = read_frame(&mut reader, 64, IDLE).await.unwrap();
        assert_eq!(
            postcard::from_bytes::<(String, u32)>(&body).unwrap(),
            ("hello".to_string(), 7)
        );
        assert!(read_frame(&mut reader, 64, IDLE).await.unwrap().is_empty());
        assert!(matches!(
            read_frame(&mut reader, 64, IDLE).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_before_its_body_is_read() {
        // Only the header is present: the reader must refuse on the length
        // alone rather than wait for (or allocate) 1 MiB.
        let wire = (1u32 << 20).to_be_bytes();
        let mut reader = &wire[..];
        let err = read_frame(&mut reader, 1024, IDLE).await.unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                len: 1_048_576,
                max: 1024
            }
        ));
        assert!(err.to_string().contains("exceeds the limit"));
    }

    #[tokio::test]
    async fn a_silent_peer_is_noticed() {
        let (mut near, _far) = tokio::io::duplex(64);
        let err = read_frame(&mut near, 64, Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::Idle(_)));
    }

    #[tokio::test]
    async fn a_frame_cut_short_is_a_closed_connection() {
        let wire = encode(&[1u8; 10]).unwrap();
        let mut reader = &wire[..wire.len() - 3];
        assert!(matches!(
            read_frame(&mut reader, 64, IDLE).await,
            Err(FrameError::Closed)
        ));
    }
}
