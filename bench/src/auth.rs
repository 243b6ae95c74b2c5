//! Answering an AuthMe-like prompt: an offline-mode server may ask a new
//! player to `/register` and a known one to `/login` before it may move.

/// The command (without its slash) answering a system message, if the
/// message asks for one. `message` is the raw packet body: matching the bytes
/// avoids parsing the JSON of every message a bot receives.
pub fn reply(message: &[u8], password: &str) -> Option<String> {
    if contains(message, b"/register") {
        Some(format!("register {password} {password}"))
    } else if contains(message, b"/login") {
        Some(format!("login {password}"))
    } else {
        None
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_register_then_login_prompts() {
        let register = br#"{"text":"Please /register <password> <password>"}"#;
        assert_eq!(reply(register, "pw").as_deref(), Some("register pw pw"));
        let login = br#"{"text":"Please /login <password>"}"#;
        assert_eq!(reply(login, "pw").as_deref(), Some("login pw"));
        assert_eq!(reply(br#"{"text":"<bot1> hello"}"#, "pw"), None);
    }
}
