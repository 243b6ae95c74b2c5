//! Framing of a node-to-node connection: every frame is a u32 big-endian
//! length followed by that many bytes of postcard. A zero-length frame is a
//! heartbeat, which no postcard message can be, so it needs no tag.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The default cap on a frame's length; a peer announcing a bigger frame
/// loses its connection instead of making us allocate whatever it asks for.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

const HEADER_LEN: usize = 4;

/// Sent by an idle writer so the peer's reader can tell a quiet link from a
/// dead one (a partition, a hung host) without waiting for TCP to give up.
pub(crate) const HEARTBEAT: [u8; HEADER_LEN] = [0; HEADER_LEN];

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    Heartbeat,
    Data(Bytes),
}

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

/// Reads one frame. The length is checked before the body is allocated, and
/// `idle` bounds each wait for more bytes (not the whole frame, so a big frame
/// on a slow link still arrives while a silent peer is noticed).
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: usize,
    idle: Duration,
) -> Result<Frame, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    read_exact_idle(reader, &mut header, idle).await?;
    let len = u32::from_be_bytes(header) as usize;
    if len == 0 {
        return Ok(Frame::Heartbeat);
    }
    if len > max_len {
        return Err(FrameError::TooLarge { len, max: max_len });
    }
    let mut body = vec![0u8; len];
    read_exact_idle(reader, &mut body, idle).await?;
    Ok(Frame::Data(Bytes::from(body)))
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
    async fn frames_round_trip_and_heartbeats_are_empty_frames() {
        let mut wire = encode(&("hello", 7u32)).unwrap().to_vec();
        wire.extend_from_slice(&HEARTBEAT);
        let mut reader = &wire[..];
        let Frame::Data(body) = read_frame(&mut reader, 64, IDLE).await.unwrap() else {
            panic!("expected a data frame");
        };
        assert_eq!(
            postcard::from_bytes::<(String, u32)>(&body).unwrap(),
            ("hello".to_string(), 7)
        );
        assert_eq!(
            read_frame(&mut reader, 64, IDLE).await.unwrap(),
            Frame::Heartbeat
        );
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
