//! The operator files of a vanilla server (`ops.json`, `whitelist.json`,
//! `banned-players.json`, `banned-ips.json`) and their conversion to and
//! from the register's records. Parsing checks every entry, so a file is
//! taken whole or refused with the entry that is wrong.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::records::BanRecord;

pub const OPS_FILE: &str = "ops.json";
pub const WHITELIST_FILE: &str = "whitelist.json";
pub const BANNED_PLAYERS_FILE: &str = "banned-players.json";
pub const BANNED_IPS_FILE: &str = "banned-ips.json";

/// What vanilla writes for a ban without an end.
const FOREVER: &str = "forever";
/// Vanilla's defaults for fields a hand-written file may leave out.
const DEFAULT_SOURCE: &str = "(Unknown)";
const DEFAULT_REASON: &str = "Banned by an operator.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VanillaError {
    #[error("{file} is not a JSON list of entries: {problem}")]
    NotAList { file: &'static str, problem: String },
    #[error("{file}, entry {index} ({entry}): {problem}")]
    BadEntry {
        file: &'static str,
        /// From 1, as a person counts.
        index: usize,
        entry: String,
        problem: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpEntry {
    pub uuid: String,
    pub name: String,
    pub level: u8,
    #[serde(default)]
    pub bypasses_player_limit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhitelistEntry {
    pub uuid: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerBanEntry {
    pub uuid: String,
    pub name: String,
    #[serde(flatten)]
    pub ban: BanFields,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpBanEntry {
    pub ip: String,
    #[serde(flatten)]
    pub ban: BanFields,
}

/// The fields every vanilla ban has; a file may leave any of them out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An op as the register keeps it: (uuid, name, level).
pub type Op = (String, String, u8);

pub fn parse_ops(text: &str) -> Result<Vec<Op>, VanillaError> {
    parse_entries(OPS_FILE, text, |e: OpEntry| {
        if !(1..=4).contains(&e.level) {
            return Err(format!("level {} is not between 1 and 4", e.level));
        }
        Ok((check_uuid(&e.uuid)?, check_name(&e.name)?, e.level))
    })
}

pub fn parse_whitelist(text: &str) -> Result<Vec<(String, String)>, VanillaError> {
    parse_entries(WHITELIST_FILE, text, |e: WhitelistEntry| {
        Ok((check_uuid(&e.uuid)?, check_name(&e.name)?))
    })
}

/// Player bans as (uuid, record); a missing `created` is `now`.
pub fn parse_banned_players(
    text: &str,
    now: u64,
) -> Result<Vec<(String, BanRecord)>, VanillaError> {
    parse_entries(BANNED_PLAYERS_FILE, text, |e: PlayerBanEntry| {
        let uuid = check_uuid(&e.uuid)?;
        let name = check_name(&e.name)?;
        Ok((uuid, ban_record(name, e.ban, now)?))
    })
}

/// IP bans as (address, record); the record's name is the address.
pub fn parse_banned_ips(text: &str, now: u64) -> Result<Vec<(String, BanRecord)>, VanillaError> {
    parse_entries(BANNED_IPS_FILE, text, |e: IpBanEntry| {
        let ip: IpAddr =
            e.ip.parse()
                .map_err(|_| format!("{:?} is not an IP address", e.ip))?;
        let ip = ip.to_string();
        Ok((ip.clone(), ban_record(ip, e.ban, now)?))
    })
}

pub fn ops_json(ops: &[Op]) -> String {
    let entries: Vec<OpEntry> = ops
        .iter()
        .map(|(uuid, name, level)| OpEntry {
            uuid: uuid.clone(),
            name: name.clone(),
            level: *level,
            bypasses_player_limit: false,
        })
        .collect();
    to_json(&entries)
}

pub fn whitelist_json(entries: &[(String, String)]) -> String {
    let entries: Vec<WhitelistEntry> = entries
        .iter()
        .map(|(uuid, name)| WhitelistEntry {
            uuid: uuid.clone(),
            name: name.clone(),
        })
        .collect();
    to_json(&entries)
}

pub fn banned_players_json(bans: &[(String, BanRecord)]) -> String {
    let entries: Vec<PlayerBanEntry> = bans
        .iter()
        .map(|(uuid, ban)| PlayerBanEntry {
            uuid: uuid.clone(),
            name: ban.name.clone(),
            ban: ban_fields(ban),
        })
        .collect();
    to_json(&entries)
}

pub fn banned_ips_json(bans: &[(String, BanRecord)]) -> String {
    let entries: Vec<IpBanEntry> = bans
        .iter()
        .map(|(ip, ban)| IpBanEntry {
            ip: ip.clone(),
            ban: ban_fields(ban),
        })
        .collect();
    to_json(&entries)
}

/// Vanilla's `yyyy-MM-dd HH:mm:ss Z`, in UTC: `2024-01-05 12:00:00 +0000`.
pub fn format_date(unix: u64) -> String {
    let seconds = i64::try_from(unix).unwrap_or(i64::MAX);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} +0000",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Reads `yyyy-MM-dd HH:mm:ss Z` with any `+hhmm`/`-hhmm` offset, as
/// seconds since the Unix epoch.
pub fn parse_date(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a date like \"2024-01-05 12:00:00 +0000\"");
    let [date, time, zone] = text.split(' ').collect::<Vec<_>>()[..] else {
        return Err(bad());
    };
    let numbers = |s: &str, sep: char| -> Option<Vec<i64>> {
        s.split(sep)
            .map(|n| {
                (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| n.parse().ok())
                    .flatten()
            })
            .collect()
    };
    let (Some(date), Some(time)) = (numbers(date, '-'), numbers(time, ':')) else {
        return Err(bad());
    };
    let (&[year, month, day], &[hour, minute, second]) = (&date[..], &time[..]) else {
        return Err(bad());
    };
    let (sign, offset) = match zone.split_at_checked(1) {
        Some(("+", digits)) => (1, digits),
        Some(("-", digits)) => (-1, digits),
        _ => return Err(bad()),
    };
    if offset.len() != 4 || !offset.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (zone_hours, zone_minutes) = offset.split_at(2);
    let zone_seconds = sign
        * (zone_hours.parse::<i64>().map_err(|_| bad())? * 3600
            + zone_minutes.parse::<i64>().map_err(|_| bad())? * 60);
    let in_range = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !in_range {
        return Err(bad());
    }
    let unix = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - zone_seconds;
    u64::try_from(unix).map_err(|_| format!("{text:?} is before 1970"))
}

fn ban_record(name: String, fields: BanFields, now: u64) -> Result<BanRecord, String> {
    let created = match fields.created.as_deref() {
        Some(date) => parse_date(date).map_err(|e| format!("created: {e}"))?,
        None => now,
    };
    let expires = match fields.expires.as_deref() {
        None | Some(FOREVER) => None,
        Some(date) => Some(parse_date(date).map_err(|e| format!("expires: {e}"))?),
    };
    Ok(BanRecord {
        name,
        reason: fields.reason.unwrap_or_else(|| DEFAULT_REASON.to_owned()),
        by: fields.source.unwrap_or_else(|| DEFAULT_SOURCE.to_owned()),
        created,
        expires,
    })
}

fn ban_fields(ban: &BanRecord) -> BanFields {
    BanFields {
        created: Some(format_date(ban.created)),
        source: Some(ban.by.clone()),
        expires: Some(ban.expires.map_or_else(|| FOREVER.to_owned(), format_date)),
        reason: Some(ban.reason.clone()),
    }
}

/// Parses a JSON list, then each entry with `check`; the first bad entry
/// refuses the whole file.
fn parse_entries<E, T>(
    file: &'static str,
    text: &str,
    check: impl Fn(E) -> Result<T, String>,
) -> Result<Vec<T>, VanillaError>
where
    E: serde::de::DeserializeOwned,
{
    let values: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| VanillaError::NotAList {
            file,
            problem: e.to_string(),
        })?;
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let shown = value.to_string();
            let bad = |problem: String| VanillaError::BadEntry {
                file,
                index: i + 1,
                entry: shown.clone(),
                problem,
            };
            let entry: E = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
            check(entry).map_err(bad)
        })
        .collect()
}

fn check_uuid(text: &str) -> Result<String, String> {
    uuid::Uuid::parse_str(text)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| format!("{text:?} is not a uuid"))
}

/// Vanilla names: 1 to 16 of letters, digits and underscores.
fn check_name(name: &str) -> Result<String, String> {
    let fine = (1..=16).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    fine.then(|| name.to_owned())
        .ok_or_else(|| format!("{name:?} is not a player name"))
}

fn to_json<T: Serialize>(entries: &[T]) -> String {
    // Plain data of strings and numbers: serialising cannot fail.
    serde_json::to_string_pretty(entries).unwrap_or_else(|_| "[]".to_owned())
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALEX: &str = "ec561538-f3fd-461d-aff5-086b22154bce";

    #[test]
    fn dates_read_and_write_as_vanilla_does() {
        assert_eq!(format_date(0), "1970-01-01 00:00:00 +0000");
        assert_eq!(format_date(1_704_456_000), "2024-01-05 12:00:00 +0000");
        assert_eq!(format_date(1_709_164_799), "2024-02-28 23:59:59 +0000");
        assert_eq!(format_date(1_709_251_200), "2024-03-01 00:00:00 +0000");
        assert_eq!(parse_date("2024-01-05 12:00:00 +0000"), Ok(1_704_456_000));
        assert_eq!(parse_date("2024-01-05 13:30:00 +0130"), Ok(1_704_456_000));
        assert_eq!(parse_date("2024-01-05 07:00:00 -0500"), Ok(1_704_456_000));
        assert_eq!(parse_date("2024-02-29 00:00:00 +0000"), Ok(1_709_164_800));
        for unix in [0, 951_782_400, 1_704_456_000, 4_102_444_799] {
            assert_eq!(parse_date(&format_date(unix)), Ok(unix));
        }
        for bad in [
            "",
            "forever",
            "2024-01-05",
            "2024-01-05 12:00:00",
            "2024-13-05 12:00:00 +0000",
            "2023-02-29 12:00:00 +0000",
            "2024-01-05 24:00:00 +0000",
            "2024-01-05 12:00:00 UTC",
            "2024-01-05T12:00:00 +0000",
            "2024-01-05 12:00:00 +00:00",
            "1969-12-31 23:59:59 +0000",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn ops_and_the_whitelist_round_trip() {
        let ops = vec![(ALEX.to_owned(), "Alex".to_owned(), 4)];
        let json = ops_json(&ops);
        assert!(json.contains("\"bypassesPlayerLimit\": false"), "{json}");
        assert_eq!(parse_ops(&json), Ok(ops));
        let list = vec![(ALEX.to_owned(), "Alex".to_owned())];
        assert_eq!(parse_whitelist(&whitelist_json(&list)), Ok(list));
        let upper = format!(r#"[{{"uuid":"{}","name":"Alex"}}]"#, ALEX.to_uppercase());
        assert_eq!(
            parse_whitelist(&upper).unwrap()[0].0,
            ALEX,
            "uuids are kept in vanilla's lower-case form"
        );
    }

    #[test]
    fn bans_round_trip_with_vanilla_dates_and_forever() {
        let bans = vec![
            (
                ALEX.to_owned(),
                BanRecord {
                    name: "Alex".into(),
                    reason: "griefing".into(),
                    by: "Console".into(),
                    created: 1_704_456_000,
                    expires: None,
                },
            ),
            (
                "0b1f7f9c-1c70-4fd6-92e4-f6c1a2d0b001".to_owned(),
                BanRecord {
                    name: "Steve".into(),
                    reason: "spam".into(),
                    by: "Alex".into(),
                    created: 1_704_456_000,
                    expires: Some(1_704_542_400),
                },
            ),
        ];
        let json = banned_players_json(&bans);
        assert!(json.contains("\"created\": \"2024-01-05 12:00:00 +0000\""));
        assert!(json.contains("\"expires\": \"forever\""));
        assert!(json.contains("\"expires\": \"2024-01-06 12:00:00 +0000\""));
        assert_eq!(parse_banned_players(&json, 7), Ok(bans.clone()));
        let ips = vec![(
            "10.0.0.1".to_owned(),
            BanRecord {
                name: "10.0.0.1".into(),
                ..bans[0].1.clone()
            },
        )];
        let json = banned_ips_json(&ips);
        assert!(json.contains("\"ip\": \"10.0.0.1\""), "{json}");
        assert_eq!(parse_banned_ips(&json, 7), Ok(ips));
    }

    #[test]
    fn a_vanilla_file_with_fields_left_out_takes_vanillas_defaults() {
        let json = format!(r#"[{{"uuid":"{ALEX}","name":"Alex"}}]"#);
        let (_, ban) = &parse_banned_players(&json, 99).unwrap()[0];
        assert_eq!(ban.created, 99);
        assert_eq!(ban.expires, None);
        assert_eq!(ban.by, DEFAULT_SOURCE);
        assert_eq!(ban.reason, DEFAULT_REASON);
    }

    #[test]
    fn a_bad_entry_refuses_the_file_and_names_the_entry() {
        assert!(matches!(
            parse_ops("{\"uuid\": 1}"),
            Err(VanillaError::NotAList { file: OPS_FILE, .. })
        ));
        let two = format!(
            r#"[{{"uuid":"{ALEX}","name":"Alex","level":4}},{{"uuid":"nope","name":"Bo","level":4}}]"#
        );
        let error = parse_ops(&two).unwrap_err();
        assert!(matches!(error, VanillaError::BadEntry { index: 2, .. }));
        let shown = error.to_string();
        assert!(shown.starts_with("ops.json, entry 2"), "{shown}");
        assert!(shown.contains("\"nope\" is not a uuid"), "{shown}");
        let level = format!(r#"[{{"uuid":"{ALEX}","name":"Alex","level":9}}]"#);
        assert!(parse_ops(&level).is_err());
        let name = format!(r#"[{{"uuid":"{ALEX}","name":"Al ex"}}]"#);
        assert!(parse_whitelist(&name).is_err());
        let missing = r#"[{"name":"Alex"}]"#;
        assert!(parse_whitelist(missing)
            .unwrap_err()
            .to_string()
            .contains("missing field `uuid`"));
        let date = format!(r#"[{{"uuid":"{ALEX}","name":"Alex","created":"yesterday"}}]"#);
        assert!(parse_banned_players(&date, 0)
            .unwrap_err()
            .to_string()
            .contains("created:"));
        assert!(parse_banned_ips(r#"[{"ip":"300.1.1.1"}]"#, 0).is_err());
    }
}
