//! Password hashing with Argon2id. Hashing is slow on purpose, so callers
//! run it off the async threads.
//!
//! Each hash works in 19 MiB of memory. Freed, memory that large is not given
//! back: glibc raises its mmap threshold after the first free and keeps such
//! blocks in the arena of the thread that hashed, so a login storm over the
//! blocking pool's threads grew the process by about 2 MiB per account.
//! The working memory is kept here instead and reused: there are at most as
//! many copies as hashes ever ran at once (the accounts service runs two).

use std::sync::{Mutex, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Working memories kept for the next hash.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// The most memory a stored hash may ask for: four times the default. A
/// record naming more is refused, not verified.
const MAX_BLOCKS: usize = 4 * Params::DEFAULT_M_COST as usize;

fn with_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    let kept = MEMORY.lock().unwrap_or_else(PoisonError::into_inner).pop();
    let mut memory = kept.unwrap_or_default();
    memory.resize(blocks, Block::default());
    let done = work(&mut memory);
    MEMORY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(memory);
    done
}

/// `password` through `argon2` with `salt`, into an output of `len` bytes.
fn compute(argon2: &Argon2, password: &str, salt: &[u8], len: usize) -> Result<Output, String> {
    with_memory(argon2.params().block_count(), |memory| {
        Output::init_with(len, |out| {
            argon2
                .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *memory)
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
    })
    .map_err(|e| e.to_string())
}

pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = Argon2::default();
    let mut raw = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut raw)
        .map_err(|e| e.to_string())?;
    let len = argon2
        .params()
        .output_len()
        .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = compute(&argon2, password, salt_bytes, len)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

pub fn verify(password: &str, stored: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(stored).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).ok()?;
        if params.block_count() > MAX_BLOCKS {
            return None;
        }
        let expected = parsed.hash?;
        let mut raw = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut raw).ok()?;
        let argon2 = Argon2::new(algorithm, version, params);
        let computed = compute(&argon2, password, salt, expected.len()).ok()?;
        // `Output` compares in constant time.
        Some(computed == expected)
    };
    check().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use argon2::PasswordVerifier;

    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("wrong horse", &stored));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn hashes_are_those_of_the_argon2_crate_both_ways() {
        let ours = hash("tessera").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"tessera", &parsed)
            .is_ok());
        let theirs = {
            use argon2::PasswordHasher;
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(b"tessera", &salt)
                .unwrap()
                .to_string()
        };
        assert!(verify("tessera", &theirs));
        assert!(!verify("Tessera", &theirs));
    }

    #[test]
    fn a_stored_hash_asking_for_too_much_memory_is_refused() {
        let params = Params::new(MAX_BLOCKS as u32 + 8, 1, 1, None).unwrap();
        let greedy = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let stored = {
            use argon2::PasswordHasher;
            greedy.hash_password(b"x", &salt).unwrap().to_string()
        };
        assert!(!verify("x", &stored));
    }

    #[test]
    fn the_working_memory_is_reused_not_grown() {
        for _ in 0..3 {
            hash("again").unwrap();
        }
        let kept = MEMORY.lock().unwrap().len();
        assert!(
            kept <= 4,
            "{kept} working memories kept (tests run in parallel)"
        );
    }
}
