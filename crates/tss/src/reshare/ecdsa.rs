//! The secp256k1 adapter: reads the old key from cggmp24 key shares (or their public key info),
//! runs the generic protocol, and writes the new share as a cggmp24 incomplete key share checked
//! by `key-share`'s validator (same shared public key and chain code, new `VssSetup`).
//!
//! The `ecdsa` wrappers keep their cggmp24 values private to their module; this adapter reaches
//! them through their sealed envelopes (the wrappers' stable public form), which also re-runs
//! cggmp24's validation on the way in and out.

use cggmp24::key_share::{
    DirtyIncompleteKeyShare as DirtyCoreKeyShare, DirtyKeyInfo, Valid, VssSetup,
};
use cggmp24::security_level::SecurityLevel128;
use generic_ec::curves::Secp256k1;
use rand_core::{CryptoRng, RngCore};
use round_based::Mpc;
use serde::{Deserialize, Serialize};

use super::key_info::KeyInfo;
use super::protocol::{self, Plan};
use super::{EcdsaReshareMsg, ReshareSetup};
use crate::ecdsa::{EcdsaPublicKey, IncompleteKeyShare, KeyShare};
use crate::material::{self, MaterialKind};
use crate::session::SessionId;
use crate::TssError;

/// The public key info of a secp256k1 threshold key: shared public key, threshold, share indices,
/// every holder's public share and the chain code. A new holder that had no share of the old key
/// gets this from the node; it contains nothing secret. Validated on construction and
/// deserialization.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EcdsaKeyInfo(Valid<DirtyKeyInfo<Secp256k1>>);

impl EcdsaKeyInfo {
    /// The key info of a complete key share.
    pub fn of(share: &KeyShare) -> Result<Self, TssError> {
        Self::from_core(core_of(share)?)
    }

    /// The key info of an incomplete key share.
    pub fn of_incomplete(share: &IncompleteKeyShare) -> Result<Self, TssError> {
        let sealed = share.seal()?;
        let core: cggmp24::IncompleteKeyShare<Secp256k1> =
            material::open(MaterialKind::EcdsaIncompleteKeyShare, &sealed)?;
        Self::from_core(core.into_inner())
    }

    fn from_core(core: DirtyCoreKeyShare<Secp256k1>) -> Result<Self, TssError> {
        Valid::validate(core.key_info)
            .map(Self)
            .map_err(|e| TssError::Material(format!("ecdsa key info: {}", e.error())))
    }

    /// The shared public key.
    pub fn public_key(&self) -> Result<EcdsaPublicKey, TssError> {
        let bytes: [u8; 33] = self
            .0
            .shared_public_key
            .to_bytes(true)
            .as_bytes()
            .try_into()
            .map_err(|_| TssError::Bug("compressed secp256k1 point is not 33 bytes".into()))?;
        EcdsaPublicKey::from_compressed(&bytes)
    }

    /// Signers required.
    pub fn threshold(&self) -> u16 {
        self.0
            .vss_setup
            .as_ref()
            .map_or(self.holders(), |v| v.min_signers)
    }

    /// Number of holders.
    pub fn holders(&self) -> u16 {
        // Valid key info has at most u16::MAX holders.
        self.0.public_shares.len() as u16
    }

    /// Digest of the key info, equal on every holder of the same key; resharing outputs it for
    /// the new key so the node can confirm the switch.
    pub fn digest(&self) -> Result<[u8; 32], TssError> {
        Ok(self.generic()?.digest())
    }

    /// The curve-generic view the protocol works on.
    fn generic(&self) -> Result<KeyInfo<Secp256k1>, TssError> {
        let vss = self.0.vss_setup.as_ref().ok_or_else(|| {
            TssError::InvalidInput(
                "the key is additively shared (no threshold setup) and cannot be reshared".into(),
            )
        })?;
        KeyInfo::new(
            self.0.shared_public_key,
            vss.min_signers,
            vss.I.clone(),
            self.0.public_shares.clone(),
            self.0.chain_code,
        )
    }
}

/// What an ECDSA resharing gives one participant.
#[derive(Debug)]
pub struct EcdsaReshareOutput {
    /// Our share of the key in the new committee (if we are in it), at our new holder index.
    /// Complete it with the new committee's aux info: [`KeyShare::from_parts`].
    pub share: Option<IncompleteKeyShare>,
    /// The new key's public info; every participant ends with the same (compare
    /// [`EcdsaKeyInfo::digest`]).
    pub new_key: EcdsaKeyInfo,
}

/// Reshares a secp256k1 key as party `setup.me()`.
///
/// `old` is the old key's public info (every participant must pass the same; dealers check it
/// against their share); `my_share` is our old key share and is required if we deal.
///
/// Errors: [`TssError::Misbehaviour`] naming a dealer whose commitment, constant term or
/// sub-share is invalid, or a holder whose confirmation differs; [`TssError::BadMessage`] for
/// foreign-session, unexpected or duplicated messages; [`TssError::InvalidInput`] for roles that
/// do not fit the old key or a share of another key.
pub async fn reshare_ecdsa<M, R>(
    party: M,
    session: SessionId,
    setup: &ReshareSetup,
    old: &EcdsaKeyInfo,
    my_share: Option<&KeyShare>,
    rng: &mut R,
) -> Result<EcdsaReshareOutput, TssError>
where
    M: Mpc<ProtocolMessage = EcdsaReshareMsg>,
    R: RngCore + CryptoRng,
{
    let old_info = old.generic()?;
    let my_core = match (setup.my_dealer(), my_share) {
        (Some(_), Some(share)) => {
            let core = core_of(share)?;
            if EcdsaKeyInfo::from_core(core.clone())?.digest()? != old_info.digest() {
                return Err(TssError::InvalidInput(
                    "our key share belongs to another key than the one being reshared".into(),
                ));
            }
            Some(core)
        }
        _ => None,
    };
    let plan = Plan {
        session,
        setup,
        old: &old_info,
        my_old_share: my_core.as_ref().map(|c| c.x.as_ref()),
    };
    let outcome = protocol::run(party, plan, rng).await?;

    let new_info = DirtyKeyInfo {
        curve: Default::default(),
        shared_public_key: outcome.new_key.shared_public_key(),
        public_shares: outcome.new_key.public_shares().to_vec(),
        vss_setup: Some(VssSetup {
            min_signers: outcome.new_key.min_signers(),
            I: outcome.new_key.indices().to_vec(),
        }),
        chain_code: outcome.new_key.chain_code(),
    };
    let share = match outcome.share {
        Some((i, x)) => Some(incomplete_share(DirtyCoreKeyShare {
            i,
            key_info: new_info.clone(),
            x,
        })?),
        None => None,
    };
    let new_key = Valid::validate(new_info)
        .map(EcdsaKeyInfo)
        .map_err(|e| TssError::Bug(format!("new key info is invalid: {}", e.error())))?;
    Ok(EcdsaReshareOutput { share, new_key })
}

/// The cggmp24 core share inside a complete key share.
fn core_of(share: &KeyShare) -> Result<DirtyCoreKeyShare<Secp256k1>, TssError> {
    let sealed = share.seal()?;
    let full: cggmp24::KeyShare<Secp256k1, SecurityLevel128> =
        material::open(MaterialKind::EcdsaKeyShare, &sealed)?;
    Ok(full.into_inner().core)
}

/// Validates a new core share and wraps it as an [`IncompleteKeyShare`].
fn incomplete_share(core: DirtyCoreKeyShare<Secp256k1>) -> Result<IncompleteKeyShare, TssError> {
    let valid = Valid::validate(core)
        .map_err(|e| TssError::Bug(format!("new key share is invalid: {}", e.error())))?;
    let sealed = material::seal(MaterialKind::EcdsaIncompleteKeyShare, &valid)?;
    IncompleteKeyShare::open(&sealed)
}
