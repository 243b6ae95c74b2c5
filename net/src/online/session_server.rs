//! The session server's `hasJoined`: did this client tell the session server
//! that it is joining us, and who is it?

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use uuid::Uuid;
use valence_protocol::Property;

use super::OnlineError;

/// A login waits this long for the session server, then is refused.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Who the session server says the player is.
#[derive(Debug, PartialEq)]
pub struct VerifiedProfile {
    pub uuid: Uuid,
    pub name: String,
    /// The signed `textures` property (the skin and cape), and any others.
    pub properties: Vec<Property>,
}

pub struct SessionServer {
    has_joined: Url,
    client: reqwest::Client,
}

impl SessionServer {
    /// `base` is the session server's root, such as `https://sessionserver.mojang.com`.
    pub fn new(base: &str) -> Result<Self, OnlineError> {
        let has_joined = Url::parse(&format!(
            "{}/session/minecraft/hasJoined",
            base.trim_end_matches('/')
        ))
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| OnlineError::SessionServerUrl {
            url: base.to_owned(),
        })?;
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| OnlineError::HttpClient(error_chain(&e)))?;
        Ok(Self { has_joined, client })
    }

    pub async fn has_joined(
        &self,
        username: &str,
        server_hash: &str,
    ) -> Result<VerifiedProfile, OnlineError> {
        let response = self
            .client
            .get(self.has_joined.clone())
            .query(&[("username", username), ("serverId", server_hash)])
            .send()
            .await
            .map_err(request_failed)?;
        match response.status() {
            StatusCode::OK => {}
            // The session server's "no such join": the client did not
            // authenticate, or hashed another server's key.
            StatusCode::NO_CONTENT => return Err(OnlineError::NotJoined),
            other => return Err(OnlineError::UnexpectedStatus(other.as_u16())),
        }
        let body = response.bytes().await.map_err(request_failed)?;
        parse_profile(&body)
    }
}

pub(crate) fn parse_profile(body: &[u8]) -> Result<VerifiedProfile, OnlineError> {
    #[derive(Deserialize)]
    struct Body {
        /// Hex without dashes.
        id: String,
        name: String,
        #[serde(default)]
        properties: Vec<Property>,
    }
    let body: Body =
        serde_json::from_slice(body).map_err(|e| OnlineError::BadProfile(e.to_string()))?;
    let uuid = Uuid::try_parse(&body.id)
        .map_err(|e| OnlineError::BadProfile(format!("id {:?}: {e}", body.id)))?;
    if !crate::profile::valid_name(&body.name) {
        return Err(OnlineError::BadProfile(format!("name {:?}", body.name)));
    }
    Ok(VerifiedProfile {
        uuid,
        name: body.name,
        properties: body.properties,
    })
}

fn request_failed(e: reqwest::Error) -> OnlineError {
    if e.is_timeout() {
        OnlineError::Timeout(TIMEOUT.as_secs())
    } else {
        // Without the URL: its query holds the server hash of this login.
        OnlineError::Unreachable(error_chain(&e.without_url()))
    }
}

/// reqwest's own message is only "error sending request"; the cause (refused,
/// DNS, TLS) is further down the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_with_textures_parses() {
        let body = br#"{
            "id": "069a79f444e94726a5befca90e38aaf5",
            "name": "Notch",
            "properties": [{"name": "textures", "value": "ZXlK", "signature": "c2ln"}]
        }"#;
        let profile = parse_profile(body).expect("parses");
        assert_eq!(
            profile.uuid.to_string(),
            "069a79f4-44e9-4726-a5be-fca90e38aaf5"
        );
        assert_eq!(profile.name, "Notch");
        assert_eq!(
            profile.properties,
            vec![Property {
                name: "textures".into(),
                value: "ZXlK".into(),
                signature: Some("c2ln".into()),
            }]
        );
    }

    #[test]
    fn missing_properties_and_signature_are_allowed() {
        let body = br#"{"id": "069a79f444e94726a5befca90e38aaf5", "name": "Notch"}"#;
        assert!(parse_profile(body).expect("parses").properties.is_empty());
        let body = br#"{"id": "069a79f444e94726a5befca90e38aaf5", "name": "Notch",
            "properties": [{"name": "textures", "value": "ZXlK"}]}"#;
        assert_eq!(
            parse_profile(body).expect("parses").properties[0].signature,
            None
        );
    }

    #[test]
    fn malformed_profiles_are_refused() {
        for body in [
            &b"not json"[..],
            br#"{"name": "Notch"}"#,
            br#"{"id": "zz", "name": "Notch"}"#,
            br#"{"id": "069a79f444e94726a5befca90e38aaf5", "name": "bad name"}"#,
        ] {
            assert!(
                matches!(parse_profile(body), Err(OnlineError::BadProfile(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(SessionServer::new("https://sessionserver.mojang.com").is_ok());
        let trailing = SessionServer::new("http://127.0.0.1:1/").expect("valid");
        assert_eq!(
            trailing.has_joined.as_str(),
            "http://127.0.0.1:1/session/minecraft/hasJoined"
        );
        for bad in ["", "sessionserver.mojang.com", "ftp://example.com"] {
            assert!(
                matches!(
                    SessionServer::new(bad),
                    Err(OnlineError::SessionServerUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    /// A one-shot HTTP server on loopback that answers `response` and hands
    /// back the request line it got.
    async fn answer_once(response: String) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut request = vec![0; 4096];
            let n = stream.read(&mut request).await.expect("read");
            stream.write_all(response.as_bytes()).await.expect("write");
            let request = String::from_utf8_lossy(&request[..n]).into_owned();
            request.lines().next().unwrap_or_default().to_owned()
        });
        (base, task)
    }

    #[tokio::test]
    async fn has_joined_asks_with_name_and_hash() {
        let body = r#"{"id":"069a79f444e94726a5befca90e38aaf5","name":"Notch","properties":[]}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let (base, request) = answer_once(response).await;
        let server = SessionServer::new(&base).expect("valid");
        let profile = server.has_joined("Notch", "-7c9d").await.expect("joined");
        assert_eq!(profile.name, "Notch");
        assert_eq!(
            request.await.expect("request line"),
            "GET /session/minecraft/hasJoined?username=Notch&serverId=-7c9d HTTP/1.1"
        );
    }

    #[tokio::test]
    async fn other_statuses_are_the_session_servers_fault() {
        let (base, _request) =
            answer_once("HTTP/1.1 503 Unavailable\r\ncontent-length: 0\r\n\r\n".into()).await;
        let server = SessionServer::new(&base).expect("valid");
        let error = server.has_joined("Notch", "0").await.expect_err("refused");
        assert!(
            matches!(error, OnlineError::UnexpectedStatus(503)),
            "{error}"
        );
        assert!(error.is_server_side());
        assert_eq!(error.reason(), "Failed to verify username!");
    }

    #[tokio::test]
    async fn no_content_means_not_joined() {
        let (base, _request) =
            answer_once("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n".into()).await;
        let server = SessionServer::new(&base).expect("valid");
        let error = server.has_joined("Notch", "0").await.expect_err("refused");
        assert!(matches!(error, OnlineError::NotJoined), "{error}");
        assert_eq!(error.reason(), "Failed to verify username!");
    }

    #[tokio::test]
    async fn unreachable_session_server_is_reported() {
        // A port that was free a moment ago: the connection is refused.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        drop(listener);
        let server = SessionServer::new(&base).expect("valid");
        let error = server.has_joined("Notch", "0").await.expect_err("refused");
        assert!(matches!(error, OnlineError::Unreachable(_)), "{error}");
        assert!(error
            .reason()
            .starts_with("Authentication servers are down"));
    }
}
