//! The "server hash" both the client and the session server compute: SHA-1
//! printed the way Java's `BigInteger.toString(16)` prints a signed number.

use sha1::{Digest, Sha1};

/// The hash the client sends to the session server's `join` and the server
/// asks `hasJoined` about; binding it to the shared secret and the public key
/// is what stops a man in the middle.
pub fn server_hash(server_id: &str, shared_secret: &[u8], public_key_der: &[u8]) -> String {
    let digest = Sha1::new()
        .chain_update(server_id.as_bytes())
        .chain_update(shared_secret)
        .chain_update(public_key_der)
        .finalize();
    notchian_hex(digest.into())
}

/// The digest read as a big-endian two's-complement integer, in hex with a
/// leading `-` when negative and without leading zeros.
fn notchian_hex(mut digest: [u8; 20]) -> String {
    let negative = digest[0] & 0x80 != 0;
    if negative {
        negate(&mut digest);
    }
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let digits = match hex.trim_start_matches('0') {
        "" => "0",
        digits => digits,
    };
    if negative {
        format!("-{digits}")
    } else {
        digits.to_owned()
    }
}

/// Two's-complement negation of a big-endian number in place.
fn negate(bytes: &mut [u8]) {
    let mut carry = true;
    for byte in bytes.iter_mut().rev() {
        let (sum, overflow) = (!*byte).overflowing_add(u8::from(carry));
        *byte = sum;
        carry = overflow;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of(name: &str) -> String {
        notchian_hex(Sha1::digest(name.as_bytes()).into())
    }

    #[test]
    fn known_examples_match_vanilla() {
        assert_eq!(hash_of("Notch"), "4ed1f46bbe04bc756bcb17c0c7ce3e4632f06a48");
        assert_eq!(hash_of("jeb_"), "-7c9d5b0044c130109a5d7b5fb5c317c02b4e28c1");
        assert_eq!(hash_of("simon"), "88e16a1019277b15d58faf0541e11910eb756f6");
    }

    #[test]
    fn server_hash_covers_id_secret_and_key() {
        // The three parts are hashed as one stream.
        assert_eq!(server_hash("No", b"t", b"ch"), hash_of("Notch"));
    }

    #[test]
    fn edge_values() {
        assert_eq!(notchian_hex([0; 20]), "0");
        let mut minus_one = [0xff; 20];
        assert_eq!(notchian_hex(minus_one), "-1");
        minus_one[0] = 0x80;
        minus_one[1..].fill(0);
        assert_eq!(notchian_hex(minus_one), format!("-8{}", "0".repeat(39)));
    }
}
