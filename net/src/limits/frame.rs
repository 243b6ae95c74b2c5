//! Follows the frame boundaries of a client's decrypted byte stream, so a
//! length prefix is checked the moment it arrives, before any of its body
//! is read or buffered.

use thiserror::Error;

/// The protocol's largest frame: the length prefix is a VarInt of at most
/// three bytes, so 2^21 - 1.
pub const PROTOCOL_MAX_FRAME: usize = (1 << 21) - 1;

/// Bytes a length prefix may take (three 7-bit groups).
const PREFIX_BYTES: u32 = 3;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("a frame of {declared} bytes is over the limit of {max}")]
    TooLong { declared: usize, max: usize },
    #[error("a frame length prefix over {PROTOCOL_MAX_FRAME} bytes")]
    PrefixTooLong,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Reading a length prefix: the value so far and how many bytes it took.
    Prefix { value: usize, bytes: u32 },
    /// Reading a body: how many of its bytes are still to come.
    Body { left: usize },
}

const START: State = State::Prefix { value: 0, bytes: 0 };

#[derive(Debug)]
pub struct FrameScanner {
    max: usize,
    state: State,
    /// Bytes of the frame in progress seen so far, prefix included.
    held: usize,
    /// Frames completed so far.
    frames: u64,
    /// How many bytes of the last slice fed end in complete frames.
    boundary: usize,
}

impl FrameScanner {
    /// Frames up to `max` bytes are accepted (at most `PROTOCOL_MAX_FRAME`).
    pub fn new(max: usize) -> Self {
        Self {
            max: max.min(PROTOCOL_MAX_FRAME),
            state: START,
            held: 0,
            frames: 0,
            boundary: 0,
        }
    }

    /// The limit for length prefixes read from now on.
    pub fn set_max(&mut self, max: usize) {
        self.max = max.min(PROTOCOL_MAX_FRAME);
    }

    /// Bytes of the incomplete frame at the end of what was fed (0 when the
    /// stream ends on a frame boundary).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Frames completed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// How many bytes of the last slice fed end in complete frames: after a
    /// refusal, the frames before the refused one can still be read.
    pub fn boundary(&self) -> usize {
        self.boundary
    }

    /// Follows `bytes`, the next part of the stream. Fails as soon as a
    /// length prefix says more than the limit.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), FrameError> {
        let len = bytes.len();
        self.boundary = 0;
        while let Some((&byte, rest)) = bytes.split_first() {
            match self.state {
                State::Prefix { value, bytes: seen } => {
                    bytes = rest;
                    self.held += 1;
                    let value = value | (usize::from(byte & 0x7f) << (7 * seen));
                    let seen = seen + 1;
                    if byte & 0x80 != 0 {
                        if seen == PREFIX_BYTES {
                            return Err(FrameError::PrefixTooLong);
                        }
                        self.state = State::Prefix { value, bytes: seen };
                        continue;
                    }
                    if value > self.max {
                        return Err(FrameError::TooLong {
                            declared: value,
                            max: self.max,
                        });
                    }
                    self.state = State::Body { left: value };
                }
                State::Body { left } => {
                    let take = left.min(bytes.len());
                    bytes = &bytes[take..];
                    self.held += take;
                    self.state = State::Body { left: left - take };
                }
            }
            if matches!(self.state, State::Body { left: 0 }) {
                self.state = START;
                self.held = 0;
                self.frames += 1;
                self.boundary = len - bytes.len();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn frame(body: usize) -> Vec<u8> {
        let mut out = varint(body);
        out.resize(out.len() + body, 7);
        out
    }

    #[test]
    fn whole_frames_leave_nothing_held() {
        let mut scanner = FrameScanner::new(100);
        let mut stream = frame(10);
        stream.extend(frame(0));
        stream.extend(frame(100));
        scanner.feed(&stream).expect("within the limit");
        assert_eq!(scanner.held(), 0);
        assert_eq!(scanner.frames(), 3);
    }

    #[test]
    fn a_frame_split_anywhere_is_followed() {
        let mut stream = frame(300);
        stream.extend(frame(5));
        for cut in 0..stream.len() {
            let mut scanner = FrameScanner::new(1000);
            scanner.feed(&stream[..cut]).expect("within the limit");
            let expected = if cut < 302 { cut } else { cut - 302 };
            assert_eq!(scanner.held(), expected, "cut at {cut}");
            scanner.feed(&stream[cut..]).expect("within the limit");
            assert_eq!(scanner.held(), 0);
        }
    }

    #[test]
    fn a_prefix_over_the_limit_is_refused_before_its_body() {
        let mut scanner = FrameScanner::new(1000);
        assert_eq!(
            scanner.feed(&varint(1001)),
            Err(FrameError::TooLong {
                declared: 1001,
                max: 1000
            })
        );
    }

    #[test]
    fn the_protocol_maximum_holds_whatever_the_limit() {
        let mut scanner = FrameScanner::new(usize::MAX);
        scanner
            .feed(&varint(PROTOCOL_MAX_FRAME))
            .expect("the largest frame the protocol allows");
        assert_eq!(scanner.held(), 3);
        let mut scanner = FrameScanner::new(usize::MAX);
        assert_eq!(
            scanner.feed(&varint(PROTOCOL_MAX_FRAME + 1)),
            Err(FrameError::PrefixTooLong)
        );
        // The fourth byte need not arrive: three with continuation bits are enough.
        let mut scanner = FrameScanner::new(usize::MAX);
        assert_eq!(
            scanner.feed(&[0x80, 0x80, 0x80]),
            Err(FrameError::PrefixTooLong)
        );
    }

    #[test]
    fn the_frames_before_a_refused_one_are_marked() {
        let mut scanner = FrameScanner::new(100);
        let mut stream = frame(10);
        stream.extend(frame(20));
        stream.extend(varint(101));
        assert!(scanner.feed(&stream).is_err());
        assert_eq!(scanner.boundary(), 11 + 21);
        assert!(FrameScanner::new(100).feed(&varint(101)).is_err());
    }

    #[test]
    fn a_new_limit_applies_to_the_next_prefix() {
        let mut scanner = FrameScanner::new(10);
        assert!(scanner.feed(&varint(11)).is_err());
        let mut scanner = FrameScanner::new(10);
        scanner.set_max(PROTOCOL_MAX_FRAME);
        scanner.feed(&frame(5000)).expect("within the new limit");
    }
}
