//! The envelope channels: which kind of traffic an envelope carries. Session control has three
//! channels of its own; every threshold protocol has one, so a message of one protocol can never
//! be fed to another.

use mpcium_tss::ProtocolKind;

use super::envelope::Channel;

/// Session-start orders from a coordinator.
pub const START: Channel = Channel(0);
/// Participants' outcome reports to their coordinator.
pub const OUTCOME: Channel = Channel(9);
/// A coordinator's order to stop a session part ([`crate::session::abort`]).
pub const ABORT: Channel = Channel(11);

/// The channel that carries messages of protocol `kind`.
pub fn of_protocol(kind: ProtocolKind) -> Channel {
    Channel(match kind {
        ProtocolKind::EcdsaAuxInfo => 1,
        ProtocolKind::EcdsaKeygen => 2,
        ProtocolKind::EcdsaPresign => 3,
        ProtocolKind::EcdsaSign => 4,
        ProtocolKind::EcdsaReshare => 5,
        ProtocolKind::EddsaKeygen => 6,
        ProtocolKind::EddsaSign => 7,
        ProtocolKind::EddsaReshare => 8,
        ProtocolKind::EcdsaOnlineSign => 10,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_is_distinct() {
        let kinds = [
            ProtocolKind::EcdsaAuxInfo,
            ProtocolKind::EcdsaKeygen,
            ProtocolKind::EcdsaPresign,
            ProtocolKind::EcdsaSign,
            ProtocolKind::EcdsaReshare,
            ProtocolKind::EddsaKeygen,
            ProtocolKind::EddsaSign,
            ProtocolKind::EddsaReshare,
            ProtocolKind::EcdsaOnlineSign,
        ];
        let mut seen: Vec<Channel> = vec![START, OUTCOME, ABORT];
        for kind in kinds {
            let channel = of_protocol(kind);
            assert!(!seen.contains(&channel), "{kind:?}");
            seen.push(channel);
        }
    }
}
