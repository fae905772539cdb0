//! The key a reshare starts from: the coordinator describes it from its own share
//! ([`describe`], sent as [`Start::old_key`](crate::session::control::Start)); each participant decides
//! where it takes it from ([`source`]) — its own share when it holds one, otherwise the
//! coordinator's description (a new member: a node that never held the key, lost its store, or
//! left the committee earlier).
//!
//! The description is public (holders, threshold, version, public shares). A new member needs
//! not trust it: every dealer commits to the digest of the old key info and its own share, and
//! the protocol refuses dealings that do not fit, so a wrong description only fails the reshare.

use mpcium_protocol::KeyType;
use mpcium_state::registry::KeyInfo;
use mpcium_state::store::Store;
use mpcium_tss::material::{self, MaterialKind};
use mpcium_tss::reshare::EcdsaKeyInfo;
use serde::de::DeserializeOwned;

use crate::error::{BadRequest, Io, NodeError};
use crate::ops::wallet;
use crate::session::control::OldKey;

/// Where a participant takes the old key from.
#[derive(Debug)]
pub(crate) enum Source {
    /// This node holds a share of the old key: its own keyinfo (the share is loaded by version).
    Held(KeyInfo),
    /// This node holds no share: the coordinator's description.
    Given(OldKey),
}

impl Source {
    /// The old keyinfo: holders in keygen order, threshold, version.
    pub(crate) fn keyinfo(&self) -> &KeyInfo {
        match self {
            Source::Held(info) => info,
            Source::Given(old) => &old.keyinfo,
        }
    }
}

fn material_failure(error: impl std::fmt::Display) -> NodeError {
    NodeError::io(Io::KeyLoad, error.to_string())
}

/// The public description of `wallet`'s current `key_type` key from this node's share of
/// version `info.version` (the coordinator's side).
pub(crate) fn describe(
    store: &Store,
    key_type: KeyType,
    wallet: &str,
    info: &KeyInfo,
) -> Result<OldKey, NodeError> {
    let public = match key_type {
        KeyType::Secp256k1 => {
            let share = wallet::load_ecdsa_share(store, wallet, info.version)?;
            let key_info = EcdsaKeyInfo::of(&share).map_err(material_failure)?;
            serde_json::to_vec(&key_info).map_err(|e| NodeError::io(Io::Encode, e.to_string()))?
        }
        KeyType::Ed25519 => {
            let share = wallet::load_eddsa_share(store, wallet, info.version)?;
            material::seal(
                MaterialKind::EddsaPublicKeyPackage,
                share.public_key_package(),
            )
            .map_err(material_failure)?
            .to_vec()
        }
    };
    Ok(OldKey {
        keyinfo: info.clone(),
        public,
    })
}

/// Which old key this node (`me`) starts from, given its own keyinfo (`local`), the
/// coordinator's description (`given`) and the new committee.
///
/// A holder of the current key uses its own. A node without a share takes the description, but
/// only if it is in the new committee and the description is not older than what it recorded
/// itself (a node that left keeps the keyinfo of the version it left at).
pub(crate) fn source(
    me: &str,
    wallet: &str,
    local: Option<KeyInfo>,
    given: Option<&OldKey>,
    committee: &[String],
) -> Result<Source, NodeError> {
    if let Some(info) = local
        .as_ref()
        .filter(|i| i.participant_peer_ids.iter().any(|p| p == me))
    {
        return Ok(Source::Held(info.clone()));
    }
    if !committee.iter().any(|n| n == me) {
        return Err(NodeError::bad_request(
            BadRequest::IncompatiblePeers,
            format!(
                "this node holds no share of wallet {wallet}'s current key and is not in the \
                 new committee, so it has no part in this reshare"
            ),
        ));
    }
    let given = given.ok_or_else(|| {
        NodeError::bad_request(
            BadRequest::Incomplete,
            format!(
                "this node holds no share of wallet {wallet}'s current key and the reshare \
                 start carries no old key info (a coordinator of an older version?)"
            ),
        )
    })?;
    if let Some(recorded) = local {
        if given.keyinfo.version < recorded.version {
            return Err(NodeError::bad_request(
                BadRequest::Stale,
                format!(
                    "the reshare starts from version {} of wallet {wallet} but this node \
                     recorded version {}",
                    given.keyinfo.version, recorded.version
                ),
            ));
        }
        if given.keyinfo.version == recorded.version && given.keyinfo != recorded {
            return Err(NodeError::bad_request(
                BadRequest::IncompatiblePeers,
                format!(
                    "the coordinator's keyinfo of wallet {wallet} version {} differs from this \
                     node's record",
                    recorded.version
                ),
            ));
        }
    }
    Ok(Source::Given(given.clone()))
}

/// The secp256k1 old key info of a description, checked against its keyinfo.
pub(crate) fn ecdsa_key_info(old: &OldKey) -> Result<EcdsaKeyInfo, NodeError> {
    let key_info: EcdsaKeyInfo = serde_json::from_slice(&old.public)
        .map_err(|_| malformed("the ecdsa key info does not decode or is invalid"))?;
    check_shape(
        &old.keyinfo,
        key_info.threshold(),
        usize::from(key_info.holders()),
    )?;
    Ok(key_info)
}

/// Opens the sealed Ed25519 public key package of a description (the caller names the type).
pub(crate) fn eddsa_package<T: DeserializeOwned>(old: &OldKey) -> Result<T, NodeError> {
    material::open(MaterialKind::EddsaPublicKeyPackage, &old.public)
        .map_err(|e| malformed(&format!("the public key package: {e}")))
}

/// Checks that the public key info has the threshold and number of holders the keyinfo claims.
pub(crate) fn check_shape(info: &KeyInfo, threshold: u16, holders: usize) -> Result<(), NodeError> {
    if u32::from(threshold) != info.threshold || holders != info.participant_peer_ids.len() {
        return Err(malformed(&format!(
            "the old key is {threshold}-of-{holders} but its keyinfo says {}-of-{}",
            info.threshold,
            info.participant_peer_ids.len()
        )));
    }
    Ok(())
}

fn malformed(what: &str) -> NodeError {
    NodeError::bad_request(
        BadRequest::Incomplete,
        format!("reshare start carries a bad old key: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcium_protocol::ErrorCode;

    fn info(holders: &[&str], version: u64) -> KeyInfo {
        KeyInfo {
            participant_peer_ids: holders.iter().map(|s| s.to_string()).collect(),
            threshold: 2,
            version,
        }
    }

    fn given(holders: &[&str], version: u64) -> OldKey {
        OldKey {
            keyinfo: info(holders, version),
            public: b"public".to_vec(),
        }
    }

    fn committee(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_holder_uses_its_own_keyinfo_even_when_the_start_describes_the_key() {
        let source = source(
            "a",
            "w",
            Some(info(&["a", "b"], 3)),
            Some(&given(&["a", "b"], 1)),
            &committee(&["a", "b", "c"]),
        )
        .expect("source");
        assert!(matches!(source, Source::Held(ref i) if i.version == 3));
    }

    #[test]
    fn a_node_with_an_empty_store_takes_the_description_when_it_joins() {
        let old = given(&["a", "b"], 2);
        let source =
            source("c", "w", None, Some(&old), &committee(&["a", "b", "c"])).expect("source");
        assert_eq!(source.keyinfo(), &old.keyinfo);
    }

    #[test]
    fn a_node_without_a_share_outside_the_new_committee_is_refused() {
        let failure = source(
            "c",
            "w",
            None,
            Some(&given(&["a", "b"], 2)),
            &committee(&["a", "b"]),
        )
        .expect_err("refused");
        assert_eq!(failure.code(), ErrorCode::IncompatiblePeerIds);
    }

    #[test]
    fn a_new_member_without_a_description_is_refused() {
        let failure =
            source("c", "w", None, None, &committee(&["a", "b", "c"])).expect_err("refused");
        assert_eq!(failure.code(), ErrorCode::MsgValidation);
    }

    #[test]
    fn a_node_that_left_refuses_a_description_older_than_its_record() {
        let failure = source(
            "c",
            "w",
            Some(info(&["a", "b"], 3)),
            Some(&given(&["a", "b", "c"], 2)),
            &committee(&["a", "b", "c"]),
        )
        .expect_err("refused");
        assert_eq!(failure.code(), ErrorCode::SessionStale);
    }

    #[test]
    fn a_node_that_left_refuses_a_description_that_contradicts_its_record() {
        let failure = source(
            "c",
            "w",
            Some(info(&["a", "b"], 2)),
            Some(&given(&["a", "d"], 2)),
            &committee(&["a", "b", "c"]),
        )
        .expect_err("refused");
        assert_eq!(failure.code(), ErrorCode::IncompatiblePeerIds);
    }

    #[test]
    fn a_node_that_left_rejoins_from_a_newer_version() {
        let source = source(
            "c",
            "w",
            Some(info(&["a", "b"], 2)),
            Some(&given(&["a", "b"], 4)),
            &committee(&["a", "b", "c"]),
        )
        .expect("source");
        assert_eq!(source.keyinfo().version, 4);
    }

    #[test]
    fn a_description_whose_shape_contradicts_its_keyinfo_is_refused() {
        assert!(check_shape(&info(&["a", "b"], 1), 2, 2).is_ok());
        assert!(check_shape(&info(&["a", "b"], 1), 1, 2).is_err());
        assert!(check_shape(&info(&["a", "b"], 1), 2, 3).is_err());
    }

    #[test]
    fn garbage_is_not_taken_for_an_ecdsa_key_info() {
        let failure = ecdsa_key_info(&given(&["a", "b"], 1)).expect_err("refused");
        assert_eq!(failure.code(), ErrorCode::MsgValidation);
    }
}
