//! The authentication service: accounts, bans, whitelist and operators, kept
//! in the replicated register so every node agrees on them. Frontends ask
//! this service; they never touch the register themselves.

use std::sync::Arc;

use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;
use tracing::warn;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::limiter::FailureLimiter;
use super::password;
use super::records::{
    ban_key, ip_ban_key, user_key, BanRecord, Ops, UserRecord, Whitelist, WorldRules, BAN_PREFIX,
    IP_BAN_PREFIX, OPS_KEY, USER_PREFIX, WHITELIST_KEY, WORLD_RULES_KEY,
};
use super::registers::{RegisterUnavailable, Registers};

/// Shortest password accepted at registration.
pub const MIN_PASSWORD_LEN: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Unavailable(#[from] RegisterUnavailable),
    /// A write to the register failed: nothing of it may count as stored.
    #[error("not saved: {0}")]
    NotSaved(RegisterUnavailable),
    #[error("This name is already registered; use /login <password>")]
    AlreadyRegistered,
    #[error("This name is not registered yet; use /register <password> <password>")]
    NotRegistered,
    #[error("Wrong password")]
    WrongPassword,
    #[error("Too many failed attempts; wait a minute and try again")]
    TooManyAttempts,
    #[error("The two passwords differ")]
    PasswordsDiffer,
    #[error("The password must have at least {MIN_PASSWORD_LEN} characters")]
    PasswordTooShort,
    #[error("A stored record is damaged: {0}")]
    Corrupt(String),
}

/// What a player is told when the register cannot read or store its
/// account: the cause is for the log and the operator, not for chat.
const NOT_SAVED_FOR_PLAYER: &str = "Your account could not be saved right now; try again shortly";
const UNAVAILABLE_FOR_PLAYER: &str = "Accounts cannot be checked right now; try again shortly";

impl AccountError {
    /// The message for the player who asked, without internals.
    pub fn for_player(&self) -> String {
        match self {
            Self::NotSaved(_) => NOT_SAVED_FOR_PLAYER.to_owned(),
            Self::Unavailable(_) => UNAVAILABLE_FOR_PLAYER.to_owned(),
            Self::Corrupt(_) => UNAVAILABLE_FOR_PLAYER.to_owned(),
            other => other.to_string(),
        }
    }
}

/// Whether a player may join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    Banned(BanRecord),
    NotWhitelisted,
}

pub struct Accounts {
    registers: Arc<dyn Registers>,
    limiter: FailureLimiter,
    /// Each Argon2 hash takes 19 MiB; unbounded, a crowd registering at
    /// once took the server to 2.95 GB (BENCHMARKS.md). Callers beyond the
    /// limit wait their turn.
    hashing: Arc<Semaphore>,
}

/// Hashes at once: one per core of a small machine.
const CONCURRENT_HASHES: usize = 2;

pub fn now() -> u64 {
    now_ms() / 1000
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Accounts {
    pub fn new(registers: Arc<dyn Registers>) -> Self {
        Self {
            registers,
            limiter: FailureLimiter::default(),
            hashing: Arc::new(Semaphore::new(CONCURRENT_HASHES)),
        }
    }

    /// Whether this node's register store persists (see
    /// [`Registers::store_health`]).
    pub fn store_health(&self) -> Option<crate::register::StoreHealth> {
        self.registers.store_health()
    }

    /// Player records live in the same register as the accounts.
    pub fn player_records(&self) -> super::players::PlayerRecords {
        super::players::PlayerRecords::new(self.registers.clone())
    }

    async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, AccountError> {
        match self.registers.read(key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| AccountError::Corrupt(format!("{key}: {e}"))),
        }
    }

    async fn put<T: Serialize>(&self, key: &str, value: Option<&T>) -> Result<(), AccountError> {
        let bytes = match value {
            Some(v) => {
                Some(serde_json::to_vec(v).map_err(|e| AccountError::Corrupt(e.to_string()))?)
            }
            None => None,
        };
        self.registers.write(key, bytes).await.map_err(|error| {
            warn!(%key, %error, "a register write failed");
            AccountError::NotSaved(error)
        })
    }

    /// Bans, IP bans and the whitelist, read at once: one round trip to a
    /// quorum in the common case.
    pub async fn admission(&self, uuid: &str, address: &str) -> Result<Admission, AccountError> {
        let (ban_key, ip_ban_key) = (ban_key(uuid), ip_ban_key(address));
        let (ban, ip_ban, whitelist) = tokio::join!(
            self.get::<BanRecord>(&ban_key),
            self.get::<BanRecord>(&ip_ban_key),
            self.get::<Whitelist>(WHITELIST_KEY),
        );
        let now = now();
        for ban in [ban?, ip_ban?].into_iter().flatten() {
            if ban.in_force(now) {
                return Ok(Admission::Banned(ban));
            }
        }
        let whitelist = whitelist?.unwrap_or_default();
        if whitelist.enabled && !whitelist.entries.iter().any(|(id, _)| id == uuid) {
            return Ok(Admission::NotWhitelisted);
        }
        Ok(Admission::Allowed)
    }

    pub async fn is_registered(&self, name: &str) -> Result<bool, AccountError> {
        Ok(self.get::<UserRecord>(&user_key(name)).await?.is_some())
    }

    /// Creates an account. The register has no compare-and-set, so two
    /// registrations of one name racing on different nodes end with the later
    /// one's password; the uuid is the same either way, derived from the name.
    pub async fn register(
        &self,
        name: &str,
        uuid: &str,
        password: &str,
        again: &str,
    ) -> Result<(), AccountError> {
        if password != again {
            return Err(AccountError::PasswordsDiffer);
        }
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(AccountError::PasswordTooShort);
        }
        if self.is_registered(name).await? {
            return Err(AccountError::AlreadyRegistered);
        }
        let hash = self.hash_off_thread(password.to_owned()).await?;
        let record = UserRecord {
            uuid: uuid.to_owned(),
            name: name.to_owned(),
            password_hash: hash,
            created: now(),
        };
        self.put(&user_key(name), Some(&record)).await
    }

    pub async fn login(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> Result<(), AccountError> {
        let (by_name, by_address) = (
            format!("name:{}", name.to_lowercase()),
            format!("ip:{address}"),
        );
        if !self.limiter.begin(&by_name) {
            return Err(AccountError::TooManyAttempts);
        }
        if !self.limiter.begin(&by_address) {
            self.limiter.cancel(&by_name);
            return Err(AccountError::TooManyAttempts);
        }
        let outcome = self.check_password(name, password).await;
        match &outcome {
            Ok(()) => {
                self.limiter.succeeded(&by_name);
                self.limiter.cancel(&by_address);
            }
            Err(AccountError::WrongPassword) => {}
            // Not a guess that failed: the service could not tell.
            Err(_) => {
                self.limiter.cancel(&by_name);
                self.limiter.cancel(&by_address);
            }
        }
        outcome
    }

    async fn check_password(&self, name: &str, password: &str) -> Result<(), AccountError> {
        let user: UserRecord = self
            .get(&user_key(name))
            .await?
            .ok_or(AccountError::NotRegistered)?;
        if self
            .verify_off_thread(password.to_owned(), user.password_hash)
            .await
        {
            Ok(())
        } else {
            Err(AccountError::WrongPassword)
        }
    }

    pub async fn change_password(
        &self,
        name: &str,
        old: &str,
        new: &str,
        address: &str,
    ) -> Result<(), AccountError> {
        if new.chars().count() < MIN_PASSWORD_LEN {
            return Err(AccountError::PasswordTooShort);
        }
        self.login(name, old, address).await?;
        let mut user: UserRecord = self
            .get(&user_key(name))
            .await?
            .ok_or(AccountError::NotRegistered)?;
        user.password_hash = self.hash_off_thread(new.to_owned()).await?;
        self.put(&user_key(name), Some(&user)).await
    }

    /// An account without its password hash, for operators.
    pub async fn user(&self, name: &str) -> Result<Option<UserRecord>, AccountError> {
        Ok(self
            .get::<UserRecord>(&user_key(name))
            .await?
            .map(|u| UserRecord {
                password_hash: String::new(),
                ..u
            }))
    }

    pub async fn ban(&self, uuid: &str, record: BanRecord) -> Result<(), AccountError> {
        self.put(&ban_key(uuid), Some(&record)).await
    }

    pub async fn pardon(&self, uuid: &str) -> Result<bool, AccountError> {
        let existed = self.get::<BanRecord>(&ban_key(uuid)).await?.is_some();
        self.put::<BanRecord>(&ban_key(uuid), None).await?;
        Ok(existed)
    }

    pub async fn ban_ip(&self, address: &str, record: BanRecord) -> Result<(), AccountError> {
        self.put(&ip_ban_key(address), Some(&record)).await
    }

    pub async fn pardon_ip(&self, address: &str) -> Result<bool, AccountError> {
        let existed = self.get::<BanRecord>(&ip_ban_key(address)).await?.is_some();
        self.put::<BanRecord>(&ip_ban_key(address), None).await?;
        Ok(existed)
    }

    pub async fn whitelist(&self) -> Result<Whitelist, AccountError> {
        Ok(self.get(WHITELIST_KEY).await?.unwrap_or_default())
    }

    /// Changes the whitelist as one read then one write; concurrent edits
    /// from two consoles can lose one of them (no compare-and-set).
    pub async fn edit_whitelist(
        &self,
        edit: impl FnOnce(&mut Whitelist),
    ) -> Result<Whitelist, AccountError> {
        let mut list = self.whitelist().await?;
        edit(&mut list);
        list.entries.sort_by_key(|(_, name)| name.to_lowercase());
        list.entries.dedup_by(|a, b| a.0 == b.0);
        self.put(WHITELIST_KEY, Some(&list)).await?;
        Ok(list)
    }

    pub async fn world_rules(&self) -> Result<WorldRules, AccountError> {
        Ok(self.get(WORLD_RULES_KEY).await?.unwrap_or_default())
    }

    /// Changes the time, weather or difficulty, read then write: two
    /// operators changing different rules at once can lose one change.
    pub async fn edit_world_rules(
        &self,
        edit: impl FnOnce(&mut WorldRules),
    ) -> Result<WorldRules, AccountError> {
        let mut rules = self.world_rules().await?;
        edit(&mut rules);
        self.put(WORLD_RULES_KEY, Some(&rules)).await?;
        Ok(rules)
    }

    pub async fn ops(&self) -> Result<Ops, AccountError> {
        Ok(self.get(OPS_KEY).await?.unwrap_or_default())
    }

    pub async fn edit_ops(&self, edit: impl FnOnce(&mut Ops)) -> Result<Ops, AccountError> {
        let mut ops = self.ops().await?;
        edit(&mut ops);
        ops.entries.sort_by_key(|(_, name, _)| name.to_lowercase());
        ops.entries.dedup_by(|a, b| a.0 == b.0);
        self.put(OPS_KEY, Some(&ops)).await?;
        Ok(ops)
    }

    /// How many accounts exist. The register has no enumeration or
    /// compare-and-set, so a shared counter or index key, updated read then
    /// write from several nodes, would lose concurrent registrations; the
    /// count is instead taken over the `user:` keys a quorum of replicas
    /// holds (see `Registers::keys`), which includes every completed
    /// registration.
    pub async fn user_count(&self) -> Result<usize, AccountError> {
        Ok(self.registers.keys(USER_PREFIX).await?.len())
    }

    /// Every player ban, as (uuid, record), by uuid.
    pub async fn bans(&self) -> Result<Vec<(String, BanRecord)>, AccountError> {
        self.all_under(BAN_PREFIX).await
    }

    /// Every IP ban, as (address, record), by address.
    pub async fn ip_bans(&self) -> Result<Vec<(String, BanRecord)>, AccountError> {
        self.all_under(IP_BAN_PREFIX).await
    }

    /// The records under `prefix`, each read on its own: a key deleted
    /// between the listing and its read is left out.
    async fn all_under<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, AccountError> {
        let mut found = Vec::new();
        for key in self.registers.keys(prefix).await? {
            if let Some(record) = self.get::<T>(&key).await? {
                let id = key.strip_prefix(prefix).unwrap_or(&key).to_owned();
                found.push((id, record));
            }
        }
        Ok(found)
    }

    pub async fn op_level(&self, uuid: &str) -> Result<u8, AccountError> {
        Ok(self
            .ops()
            .await?
            .entries
            .iter()
            .find(|(id, _, _)| id == uuid)
            .map_or(0, |(_, _, level)| *level))
    }
}

impl Accounts {
    async fn hash_off_thread(&self, password: String) -> Result<String, AccountError> {
        let _turn = self.hashing.acquire().await;
        tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| AccountError::Corrupt(e.to_string()))?
            .map_err(AccountError::Corrupt)
    }

    async fn verify_off_thread(&self, password: String, stored: String) -> bool {
        let _turn = self.hashing.acquire().await;
        tokio::task::spawn_blocking(move || password::verify(&password, &stored))
            .await
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::registers::MemoryRegisters;

    fn accounts() -> Accounts {
        Accounts::new(Arc::new(MemoryRegisters::default()))
    }

    #[tokio::test]
    async fn register_then_login_and_change_password() {
        let a = accounts();
        assert_eq!(
            a.login("Alice", "secret1", "1.2.3.4").await,
            Err(AccountError::NotRegistered)
        );
        assert_eq!(
            a.register("Alice", "u1", "secret1", "secret2").await,
            Err(AccountError::PasswordsDiffer)
        );
        assert_eq!(
            a.register("Alice", "u1", "short", "short").await,
            Err(AccountError::PasswordTooShort)
        );
        a.register("Alice", "u1", "secret1", "secret1")
            .await
            .unwrap();
        assert_eq!(
            a.register("alice", "u1", "secret1", "secret1").await,
            Err(AccountError::AlreadyRegistered)
        );
        a.login("ALICE", "secret1", "1.2.3.4").await.unwrap();
        assert_eq!(
            a.login("Alice", "nope", "1.2.3.4").await,
            Err(AccountError::WrongPassword)
        );
        a.change_password("Alice", "secret1", "secret9", "1.2.3.4")
            .await
            .unwrap();
        a.login("Alice", "secret9", "1.2.3.4").await.unwrap();
        let shown = a.user("alice").await.unwrap().unwrap();
        assert!(shown.password_hash.is_empty(), "the hash is never shown");
    }

    #[tokio::test]
    async fn repeated_wrong_passwords_are_refused_for_a_while() {
        let a = accounts();
        a.register("Bob", "u2", "secret1", "secret1").await.unwrap();
        for _ in 0..5 {
            assert_eq!(
                a.login("Bob", "guess", "5.6.7.8").await,
                Err(AccountError::WrongPassword)
            );
        }
        assert_eq!(
            a.login("Bob", "secret1", "9.9.9.9").await,
            Err(AccountError::TooManyAttempts)
        );
    }

    #[tokio::test]
    async fn bans_and_the_whitelist_decide_admission() {
        let a = accounts();
        assert_eq!(
            a.admission("u1", "1.1.1.1").await.unwrap(),
            Admission::Allowed
        );
        let ban = BanRecord {
            name: "Eve".into(),
            reason: "griefing".into(),
            by: "Console".into(),
            created: now(),
            expires: None,
        };
        a.ban("u1", ban.clone()).await.unwrap();
        assert_eq!(
            a.admission("u1", "1.1.1.1").await.unwrap(),
            Admission::Banned(ban)
        );
        assert!(a.pardon("u1").await.unwrap());
        let expired = BanRecord {
            name: "Eve".into(),
            reason: "x".into(),
            by: "Console".into(),
            created: 0,
            expires: Some(1),
        };
        a.ban_ip("2.2.2.2", expired).await.unwrap();
        assert_eq!(
            a.admission("u1", "2.2.2.2").await.unwrap(),
            Admission::Allowed,
            "an expired ban is not in force"
        );
        a.edit_whitelist(|w| w.enabled = true).await.unwrap();
        assert_eq!(
            a.admission("u1", "1.1.1.1").await.unwrap(),
            Admission::NotWhitelisted
        );
        a.edit_whitelist(|w| w.entries.push(("u1".into(), "Eve".into())))
            .await
            .unwrap();
        assert_eq!(
            a.admission("u1", "1.1.1.1").await.unwrap(),
            Admission::Allowed
        );
        a.edit_ops(|o| o.entries.push(("u1".into(), "Eve".into(), 4)))
            .await
            .unwrap();
        assert_eq!(a.op_level("u1").await.unwrap(), 4);
        assert_eq!(a.op_level("u2").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn users_are_counted_and_bans_listed() {
        let a = accounts();
        assert_eq!(a.user_count().await.unwrap(), 0);
        a.register("Alice", "u1", "secret1", "secret1")
            .await
            .unwrap();
        a.register("Bob", "u2", "secret1", "secret1").await.unwrap();
        assert_eq!(a.user_count().await.unwrap(), 2);
        let ban = BanRecord {
            name: "Bob".into(),
            reason: "x".into(),
            by: "Server".into(),
            created: 0,
            expires: None,
        };
        a.ban("u2", ban.clone()).await.unwrap();
        a.ban_ip("1.2.3.4", ban.clone()).await.unwrap();
        assert_eq!(a.bans().await.unwrap(), [("u2".to_owned(), ban.clone())]);
        assert_eq!(a.ip_bans().await.unwrap(), [("1.2.3.4".to_owned(), ban)]);
        a.pardon("u2").await.unwrap();
        assert!(a.bans().await.unwrap().is_empty());
    }
}
