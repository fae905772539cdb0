//! Registry key layout (the reference's, with the seed guide's `mpc_ready/`) and the
//! `KeyInfo` value.

use serde::{Deserialize, Serialize};

use crate::store::KeyType;

/// Prefix of peer registrations: `mpc_peers/<node name>` → node id.
pub const PEERS_PREFIX: &str = "mpc_peers/";
/// Prefix of readiness keys: `mpc_ready/<node id>`.
pub const READY_PREFIX: &str = "mpc_ready/";
/// Prefix of wallet key info: `threshold_keyinfo/<ecdsa|eddsa>:<wallet id>` → JSON [`KeyInfo`].
pub const KEYINFO_PREFIX: &str = "threshold_keyinfo/";

/// Prefix of the cluster-wide result cache: `mpc_results/<operation>:<id>` → the published result,
/// so a repeated request gets the same answer from whichever node takes it (not in the reference).
pub const RESULTS_PREFIX: &str = "mpc_results/";

/// `mpc_results/<request key>`.
pub fn result_key(request_key: &str) -> String {
    format!("{RESULTS_PREFIX}{request_key}")
}

/// `mpc_peers/<name>`.
pub fn peer_key(name: &str) -> String {
    format!("{PEERS_PREFIX}{name}")
}

/// `mpc_ready/<node id>`.
pub fn ready_key(node_id: &str) -> String {
    format!("{READY_PREFIX}{node_id}")
}

/// `threshold_keyinfo/<key type>:<wallet id>`.
pub fn keyinfo_key(key_type: KeyType, wallet_id: &str) -> String {
    format!("{KEYINFO_PREFIX}{key_type}:{wallet_id}")
}

/// Who holds a wallet's key and how many must sign, in the reference's JSON shape
/// `{"participant_peer_ids":[…],"threshold":t,"version":v}`.
///
/// Unlike the reference (where `threshold` is tss-lib's `t`, so `t + 1` sign), our `threshold`
/// is the number of signers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Node ids holding a share.
    pub participant_peer_ids: Vec<String>,
    /// Number of signers required.
    pub threshold: u32,
    /// Share version (starts at 1, +1 per reshare).
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyinfo_serialises_in_the_reference_shape() {
        let info = KeyInfo {
            participant_peer_ids: vec!["a".into(), "b".into()],
            threshold: 2,
            version: 1,
        };
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"participant_peer_ids":["a","b"],"threshold":2,"version":1}"#
        );
    }

    #[test]
    fn keys_use_the_reference_prefixes() {
        assert_eq!(peer_key("node0"), "mpc_peers/node0");
        assert_eq!(ready_key("id"), "mpc_ready/id");
        assert_eq!(
            keyinfo_key(KeyType::Ecdsa, "w"),
            "threshold_keyinfo/ecdsa:w"
        );
    }
}
