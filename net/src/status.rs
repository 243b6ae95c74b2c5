//! The server list ping: what the multiplayer screen shows about the server.

use serde_json::json;
use valence_protocol::packets::status::{
    QueryPingC2s, QueryPongS2c, QueryRequestC2s, QueryResponseS2c,
};
use valence_protocol::{Packet, MINECRAFT_VERSION, PROTOCOL_VERSION};

use crate::connection::Connection;
use crate::error::ClientError;
use crate::frontend::Frontend;

/// Names shown when hovering over the player count.
const SAMPLE_SIZE: usize = 12;

pub fn status_json(frontend: &Frontend) -> String {
    let names = frontend.all_names();
    let sample: Vec<_> = names
        .iter()
        .take(SAMPLE_SIZE)
        .map(|(name, uuid)| json!({ "name": name, "id": uuid.to_string() }))
        .collect();
    let mut status = json!({
        "version": { "name": MINECRAFT_VERSION, "protocol": PROTOCOL_VERSION },
        "players": {
            "max": frontend.config.max_players,
            "online": names.len(),
            "sample": sample,
        },
        "description": { "text": frontend.config.motd },
        "enforcesSecureChat": false,
    });
    if let Some(icon) = &frontend.config.favicon {
        status["favicon"] = json!(icon);
    }
    status.to_string()
}

/// Answers status requests and pings until the client closes. A ping may
/// come without a status request first, as vanilla servers allow.
pub async fn serve_status(frontend: &Frontend, conn: &mut Connection) -> Result<(), ClientError> {
    loop {
        let frame = conn.next_frame().await?;
        match frame.id {
            QueryRequestC2s::ID => {
                frame
                    .decode::<QueryRequestC2s>()
                    .map_err(ClientError::malformed)?;
                let json = status_json(frontend);
                conn.queue(&QueryResponseS2c { json: &json });
            }
            QueryPingC2s::ID => {
                let ping: QueryPingC2s = frame.decode().map_err(ClientError::malformed)?;
                conn.queue(&QueryPongS2c {
                    payload: ping.payload,
                });
                conn.flush().await?;
                return Ok(());
            }
            other => {
                return Err(ClientError::Malformed(format!(
                    "unexpected status packet {other:#x}"
                )))
            }
        }
        conn.flush().await?;
    }
}
