//! The server list ping: what the multiplayer screen shows about the server.

use serde_json::json;
use valence_protocol::packets::status::{
    QueryPingC2s, QueryPongS2c, QueryRequestC2s, QueryResponseS2c,
};
use valence_protocol::{Packet, MINECRAFT_VERSION, PROTOCOL_VERSION};

use crate::connection::Connection;
use crate::error::ClientError;
use crate::frontend::Frontend;
use crate::limits::Refusal;

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

/// Answers one status request and one ping, as vanilla clients send them,
/// then closes. A ping may come without a status request first, as vanilla
/// servers allow. Either counts once against the address's status rate.
pub async fn serve_status(frontend: &Frontend, conn: &mut Connection) -> Result<(), ClientError> {
    let mut answered = false;
    loop {
        let frame = conn.next_frame().await?;
        match frame.id {
            QueryRequestC2s::ID => {
                frame
                    .decode::<QueryRequestC2s>()
                    .map_err(ClientError::malformed)?;
                if answered {
                    return Err(conn.refuse(
                        Refusal::StatusPerConnection,
                        "a second status request on one connection",
                    ));
                }
                admit(frontend, conn)?;
                answered = true;
                let json = status_json(frontend);
                conn.queue(&QueryResponseS2c { json: &json });
            }
            QueryPingC2s::ID => {
                let ping: QueryPingC2s = frame.decode().map_err(ClientError::malformed)?;
                if !answered {
                    admit(frontend, conn)?;
                }
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

/// Whether the connection's address may have another status answer now.
fn admit(frontend: &Frontend, conn: &Connection) -> Result<(), ClientError> {
    if frontend.limits.admission.allow_status(conn.address()) {
        return Ok(());
    }
    let rate = frontend.config.per_address.status_per_second;
    Err(conn.refuse(
        Refusal::StatusRate,
        &format!("more than {rate} status requests a second from this address"),
    ))
}
