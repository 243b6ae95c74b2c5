//! Every serverbound play packet of protocol 763 decoded against its type,
//! whether or not the server acts on it: vanilla refuses a packet whose body
//! does not match, and a body that is never read would let garbage through
//! (and its remaining bytes be taken for the next frame).

use valence_protocol::decode::PacketFrame;
use valence_protocol::packets::play::{
    AdvancementTabC2s, BoatPaddleStateC2s, BookUpdateC2s, ButtonClickC2s, ChatMessageC2s,
    ClickSlotC2s, ClientCommandC2s, ClientSettingsC2s, ClientStatusC2s, CloseHandledScreenC2s,
    CommandExecutionC2s, CraftRequestC2s, CreativeInventoryActionC2s, CustomPayloadC2s, FullC2s,
    HandSwingC2s, JigsawGeneratingC2s, KeepAliveC2s, LookAndOnGroundC2s, MessageAcknowledgmentC2s,
    OnGroundOnlyC2s, PickFromInventoryC2s, PlayPongC2s, PlayerActionC2s, PlayerInputC2s,
    PlayerInteractBlockC2s, PlayerInteractEntityC2s, PlayerInteractItemC2s, PlayerSessionC2s,
    PositionAndOnGroundC2s, QueryBlockNbtC2s, QueryEntityNbtC2s, RecipeBookDataC2s,
    RecipeCategoryOptionsC2s, RenameItemC2s, RequestCommandCompletionsC2s, ResourcePackStatusC2s,
    SelectMerchantTradeC2s, SpectatorTeleportC2s, TeleportConfirmC2s, UpdateBeaconC2s,
    UpdateCommandBlockC2s, UpdateCommandBlockMinecartC2s, UpdateDifficultyC2s,
    UpdateDifficultyLockC2s, UpdateJigsawC2s, UpdatePlayerAbilitiesC2s, UpdateSignC2s,
    UpdateStructureBlockC2s, VehicleMoveC2s,
};
use valence_protocol::Packet;

use crate::error::ClientError;

/// Set Held Item (0x28) is not among these: valence_protocol reads its Short
/// as a byte, so the session decodes it itself.
macro_rules! check_play_packet {
    ($frame:expr, $($packet:ident),* $(,)?) => {
        match $frame.id {
            $($packet::ID => $frame.decode::<$packet>().map(drop).map_err(ClientError::malformed),)*
            id => Err(ClientError::Malformed(format!("unknown packet id {id:#x}"))),
        }
    };
}

/// Decodes `frame` as the play packet its id names and throws the result
/// away: `Ok` when the body is well formed.
pub(super) fn check_play_packet(frame: &PacketFrame) -> Result<(), ClientError> {
    check_play_packet!(
        frame,
        TeleportConfirmC2s,
        QueryBlockNbtC2s,
        UpdateDifficultyC2s,
        MessageAcknowledgmentC2s,
        CommandExecutionC2s,
        ChatMessageC2s,
        PlayerSessionC2s,
        ClientStatusC2s,
        ClientSettingsC2s,
        RequestCommandCompletionsC2s,
        ButtonClickC2s,
        ClickSlotC2s,
        CloseHandledScreenC2s,
        CustomPayloadC2s,
        BookUpdateC2s,
        QueryEntityNbtC2s,
        PlayerInteractEntityC2s,
        JigsawGeneratingC2s,
        KeepAliveC2s,
        UpdateDifficultyLockC2s,
        PositionAndOnGroundC2s,
        FullC2s,
        LookAndOnGroundC2s,
        OnGroundOnlyC2s,
        VehicleMoveC2s,
        BoatPaddleStateC2s,
        PickFromInventoryC2s,
        CraftRequestC2s,
        UpdatePlayerAbilitiesC2s,
        PlayerActionC2s,
        ClientCommandC2s,
        PlayerInputC2s,
        PlayPongC2s,
        RecipeCategoryOptionsC2s,
        RecipeBookDataC2s,
        RenameItemC2s,
        ResourcePackStatusC2s,
        AdvancementTabC2s,
        SelectMerchantTradeC2s,
        UpdateBeaconC2s,
        UpdateCommandBlockC2s,
        UpdateCommandBlockMinecartC2s,
        CreativeInventoryActionC2s,
        UpdateJigsawC2s,
        UpdateStructureBlockC2s,
        UpdateSignC2s,
        HandSwingC2s,
        SpectatorTeleportC2s,
        PlayerInteractBlockC2s,
        PlayerInteractItemC2s,
    )
}

#[cfg(test)]
mod tests {
    use valence_protocol::bytes::BytesMut;
    use valence_protocol::packets::play::client_settings_c2s::{
        ChatMode, DisplayedSkinParts, MainArm,
    };
    use valence_protocol::Encode;

    use super::*;

    fn frame(id: i32, body: &[u8]) -> PacketFrame {
        PacketFrame {
            id,
            body: BytesMut::from(body),
        }
    }

    fn client_settings() -> Vec<u8> {
        let mut body = Vec::new();
        ClientSettingsC2s {
            locale: "en_us",
            view_distance: 10,
            chat_mode: ChatMode::Enabled,
            chat_colors: true,
            displayed_skin_parts: DisplayedSkinParts::new(),
            main_arm: MainArm::Right,
            enable_text_filtering: false,
            allow_server_listings: true,
        }
        .encode(&mut body)
        .expect("encodes");
        body
    }

    #[test]
    fn a_well_formed_packet_the_server_ignores_passes() {
        assert!(check_play_packet(&frame(ClientSettingsC2s::ID, &client_settings())).is_ok());
    }

    #[test]
    fn extra_bytes_after_a_packet_are_malformed() {
        let mut body = client_settings();
        body.extend_from_slice(&[1, 2, 3]);
        let err = check_play_packet(&frame(ClientSettingsC2s::ID, &body)).unwrap_err();
        assert!(err.to_string().contains("missed 3 bytes"), "{err}");
    }

    #[test]
    fn garbage_under_an_ignored_packet_id_is_malformed() {
        let garbage = [0xde, 0xad, 0xbe, 0xef, 0x99, 0x01];
        for id in [
            ClientStatusC2s::ID,
            ResourcePackStatusC2s::ID,
            PlayPongC2s::ID,
        ] {
            assert!(check_play_packet(&frame(id, &garbage)).is_err(), "{id:#x}");
        }
    }

    #[test]
    fn an_unknown_packet_id_is_malformed() {
        let err = check_play_packet(&frame(0x7e, &[])).unwrap_err();
        assert!(err.to_string().contains("unknown packet id 0x7e"), "{err}");
    }
}
