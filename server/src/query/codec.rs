//! The GameSpy4 Query protocol vanilla answers on UDP, without any IO.
//! Requests start with the magic `FE FD`, a type byte and a big-endian
//! session id; answers repeat the type and session id. Numbers inside
//! answers are decimal text ending in NUL, except the basic stat's port,
//! a little-endian u16.

/// Asks for a challenge token.
pub const HANDSHAKE: u8 = 9;
/// Asks for the basic stat (token only) or the full stat (token and four
/// padding bytes).
pub const STAT: u8 = 0;
const MAGIC: [u8; 2] = [0xFE, 0xFD];
/// The longest request: magic, type, session, token and padding.
pub const MAX_REQUEST: usize = 15;
/// A full stat stops listing players before its datagram would pass this,
/// safely under the 65,507 bytes a UDP datagram can carry.
const MAX_ANSWER: usize = 65_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Handshake { session: i32 },
    BasicStat { session: i32, token: i32 },
    FullStat { session: i32, token: i32 },
}

/// What the stats say about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub motd: String,
    pub map: String,
    pub max_players: u32,
    pub host_port: u16,
    pub host_ip: String,
    pub players: Vec<String>,
}

/// The request in `datagram`, or `None` for anything else.
pub fn decode(datagram: &[u8]) -> Option<Request> {
    let (magic, rest) = datagram.split_first_chunk::<2>()?;
    if *magic != MAGIC {
        return None;
    }
    let (&kind, rest) = rest.split_first()?;
    let (session, rest) = rest.split_first_chunk::<4>()?;
    let session = i32::from_be_bytes(*session);
    match (kind, rest.len()) {
        (HANDSHAKE, 0) => Some(Request::Handshake { session }),
        (STAT, 4 | 8) => {
            let (token, padding) = rest.split_first_chunk::<4>()?;
            let token = i32::from_be_bytes(*token);
            Some(if padding.is_empty() {
                Request::BasicStat { session, token }
            } else {
                Request::FullStat { session, token }
            })
        }
        _ => None,
    }
}

fn header(kind: u8, session: i32) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&session.to_be_bytes());
    out
}

/// A NUL-terminated string; NULs inside would end it early, so they go.
fn push_text(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().filter(|b| *b != 0));
    out.push(0);
}

pub fn handshake_answer(session: i32, token: i32) -> Vec<u8> {
    let mut out = header(HANDSHAKE, session);
    push_text(&mut out, &token.to_string());
    out
}

pub fn basic_answer(session: i32, stats: &Stats) -> Vec<u8> {
    let mut out = header(STAT, session);
    push_text(&mut out, &stats.motd);
    push_text(&mut out, "SMP");
    push_text(&mut out, &stats.map);
    push_text(&mut out, &stats.players.len().to_string());
    push_text(&mut out, &stats.max_players.to_string());
    out.extend_from_slice(&stats.host_port.to_le_bytes());
    push_text(&mut out, &stats.host_ip);
    out
}

pub fn full_answer(session: i32, stats: &Stats) -> Vec<u8> {
    let mut out = header(STAT, session);
    // Constant padding vanilla sends ("splitnum", then 0x80 0x00).
    out.extend_from_slice(b"splitnum\0\x80\0");
    let pairs = [
        ("hostname", stats.motd.clone()),
        ("gametype", "SMP".into()),
        ("game_id", "MINECRAFT".into()),
        ("version", "1.20.1".into()),
        // Vanilla's "plugins" is empty; a server with plugins names itself
        // and them. Tessera has none, so it names itself.
        ("plugins", "Tessera".into()),
        ("map", stats.map.clone()),
        ("numplayers", stats.players.len().to_string()),
        ("maxplayers", stats.max_players.to_string()),
        ("hostport", stats.host_port.to_string()),
        ("hostip", stats.host_ip.clone()),
    ];
    for (key, value) in pairs {
        push_text(&mut out, key);
        push_text(&mut out, &value);
    }
    out.push(0);
    out.extend_from_slice(b"\x01player_\0\0");
    for name in &stats.players {
        if out.len() + name.len() + 2 > MAX_ANSWER {
            break;
        }
        push_text(&mut out, name);
    }
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(players: &[&str]) -> Stats {
        Stats {
            motd: "A Tessera server".into(),
            map: "world".into(),
            max_players: 20,
            host_port: 25565,
            host_ip: "127.0.0.1".into(),
            players: players.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn requests_decode_as_on_the_wiki() {
        // wiki.vg: handshake with session id 1.
        let handshake = [0xFE, 0xFD, 0x09, 0x00, 0x00, 0x00, 0x01];
        assert_eq!(decode(&handshake), Some(Request::Handshake { session: 1 }));
        // Basic stat with token 9513307 (0x0091295B).
        let basic = [0xFE, 0xFD, 0x00, 0, 0, 0, 1, 0x00, 0x91, 0x29, 0x5B];
        assert_eq!(
            decode(&basic),
            Some(Request::BasicStat {
                session: 1,
                token: 9_513_307
            })
        );
        let mut full = basic.to_vec();
        full.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            decode(&full),
            Some(Request::FullStat {
                session: 1,
                token: 9_513_307
            })
        );
    }

    #[test]
    fn anything_else_is_no_request() {
        for bad in [
            &[][..],
            &[0xFE],
            &[0xFE, 0xFD],
            &[0xFE, 0xFD, 0x09, 0, 0, 0],
            &[0xFE, 0xFD, 0x09, 0, 0, 0, 1, 0],
            &[0xFF, 0xFD, 0x09, 0, 0, 0, 1],
            &[0xFE, 0xFD, 0x00, 0, 0, 0, 1, 0, 0],
            &[0xFE, 0xFD, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
            &[0xFE, 0xFD, 0x05, 0, 0, 0, 1, 0, 0, 0, 0],
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_handshake_answer_carries_the_token_as_text() {
        assert_eq!(
            handshake_answer(1, 9_513_307),
            b"\x09\x00\x00\x00\x019513307\0".to_vec()
        );
        assert_eq!(
            handshake_answer(1, -5),
            b"\x09\x00\x00\x00\x01-5\0".to_vec()
        );
    }

    #[test]
    fn the_basic_stat_has_vanillas_fields() {
        let answer = basic_answer(7, &stats(&["Alice", "Bob"]));
        let mut expected =
            b"\x00\x00\x00\x00\x07A Tessera server\0SMP\0world\x002\x0020\0".to_vec();
        expected.extend_from_slice(&25565_u16.to_le_bytes());
        expected.extend_from_slice(b"127.0.0.1\0");
        assert_eq!(answer, expected);
    }

    #[test]
    fn the_full_stat_lists_keys_and_players() {
        let answer = full_answer(7, &stats(&["Alice", "Bob"]));
        let mut expected = b"\x00\x00\x00\x00\x07splitnum\0\x80\0".to_vec();
        expected.extend_from_slice(
            b"hostname\0A Tessera server\0gametype\0SMP\0game_id\0MINECRAFT\0\
              version\x001.20.1\0plugins\0Tessera\0map\0world\0numplayers\x002\0\
              maxplayers\x0020\0hostport\x0025565\0hostip\x00127.0.0.1\0\0",
        );
        expected.extend_from_slice(b"\x01player_\0\0Alice\0Bob\0\0");
        assert_eq!(answer, expected);
        let empty = full_answer(7, &stats(&[]));
        assert!(empty.ends_with(b"\x01player_\0\0\0"));
    }

    #[test]
    fn a_huge_player_list_stays_in_one_datagram_and_nuls_are_dropped() {
        let names: Vec<String> = (0..10_000).map(|i| format!("player{i:010}")).collect();
        let mut many = stats(&[]);
        many.players = names;
        let answer = full_answer(1, &many);
        assert!(answer.len() <= MAX_ANSWER, "{}", answer.len());
        assert!(answer.ends_with(b"\0\0"));
        let mut odd = stats(&[]);
        odd.motd = "a\0b".into();
        assert!(basic_answer(1, &odd).starts_with(b"\x00\x00\x00\x00\x01ab\0"));
    }
}
