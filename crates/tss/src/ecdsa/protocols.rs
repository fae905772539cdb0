//! The interactive ECDSA protocols as async functions over a `round_based` party: aux info,
//! keygen, presigning and full signing. Each binds the [`SessionId`] as cggmp24's execution id
//! and maps failures through [`super::blame`]. Presigning and full signing run behind
//! [`super::round1_check`], which verifies both round-1 encryption proofs of every peer before
//! the engine sees them (closing a cggmp24 gap); full signing also records what
//! [`super::round4_blame`] needs to name the sender of a bad partial signature.

use cggmp24::ExecutionId;
use round_based::Mpc;

use super::blame::{map_error, Stage};
use super::committee::SigningCommittee;
use super::keys::{AuxInfo, EcdsaPublicKey, IncompleteKeyShare, KeyShare};
use super::presignature::Presignature;
use super::primes::Primes;
use super::round1_check::{guard, race, Round1Verifier};
use super::round4_blame::{name_culprits, observe};
use super::signature::{data_to_sign, prehashed, EcdsaSignature, MessageHash};
use super::{rng, AuxInfoMsg, KeygenMsg, SigningMsg};
use crate::error::PartyIndex;
use crate::session::SessionId;
use crate::{Threshold, TssError};

/// Generates this party's aux info for a node set of `n` parties, consuming one set of primes.
/// CPU-heavy (seconds to tens of seconds): run it off the async reactor.
pub async fn aux_info<P>(
    session: SessionId,
    me: PartyIndex,
    n: u16,
    primes: Primes,
    party: P,
) -> Result<AuxInfo, TssError>
where
    P: Mpc<ProtocolMessage = AuxInfoMsg>,
{
    check_member(me, n)?;
    let mut rng = rng()?;
    cggmp24::aux_info_gen(ExecutionId::new(session.as_bytes()), me, n, primes.0)
        .start(&mut rng, party)
        .await
        .map(AuxInfo)
        .map_err(|e| map_error(Stage::AuxInfo, e))
}

/// Threshold DKG among all `n` parties: `threshold` signers will be required. The key's chain
/// code is set to the cluster's `chain_code` (identical on every node), so HD derivation matches
/// the reference's BIP32 scheme.
pub async fn keygen<P>(
    session: SessionId,
    me: PartyIndex,
    n: u16,
    threshold: Threshold,
    chain_code: [u8; 32],
    party: P,
) -> Result<IncompleteKeyShare, TssError>
where
    P: Mpc<ProtocolMessage = KeygenMsg>,
{
    check_member(me, n)?;
    // Re-validate against this n: a Threshold may have been built for another committee size.
    Threshold::new(threshold.signers(), n).map_err(|e| TssError::InvalidInput(e.to_string()))?;
    let mut rng = rng()?;
    let share = cggmp24::keygen::<super::Curve>(ExecutionId::new(session.as_bytes()), me, n)
        .set_threshold(threshold.signers())
        .set_security_level::<super::Level>()
        // The joint chain code is replaced by the cluster's below; don't generate one.
        .hd_wallet(false)
        .start(&mut rng, party)
        .await
        .map_err(|e| map_error(Stage::Keygen, e))?;
    IncompleteKeyShare(share).with_chain_code(chain_code)
}

/// Generates a presignature with `committee` for the key of `share`, bound to the HD `path`
/// (empty for the master key). Use it with [`super::sign_with_presignature`] exactly once.
pub async fn presign<P>(
    session: SessionId,
    share: &KeyShare,
    committee: &SigningCommittee,
    path: &[u32],
    party: P,
) -> Result<Presignature, TssError>
where
    P: Mpc<ProtocolMessage = SigningMsg>,
{
    let me = my_position(share, committee)?;
    let public_key = share.derived_point(path)?;
    let mut rng = rng()?;
    let eid = ExecutionId::new(session.as_bytes());
    let builder = with_path(
        cggmp24::signing(eid, me, committee.keygen_indices(), &share.0),
        path,
    )?;
    let (party, abort) = guard(party, Round1Verifier::new(session, share, committee, me)?);
    let protocol = async {
        builder
            .generate_presignature(&mut rng, party)
            .await
            .map_err(|e| map_error(Stage::Signing, e))
    };
    let (secret, public) = race(protocol, abort).await?;
    Ok(Presignature::new(
        secret,
        public,
        me,
        committee.keygen_indices().to_vec(),
        path.to_vec(),
        public_key,
    ))
}

/// Full interactive signing of a client-supplied 32-byte `digest` (the reference's request).
/// Any other length is rejected. Never uses presignatures (RUSTSEC-2025-0127).
pub async fn sign_digest<P>(
    session: SessionId,
    share: &KeyShare,
    committee: &SigningCommittee,
    digest: &[u8],
    path: &[u32],
    party: P,
) -> Result<EcdsaSignature, TssError>
where
    P: Mpc<ProtocolMessage = SigningMsg>,
{
    let (bytes, data) = prehashed(digest)?;
    sign(session, share, committee, &data, &bytes, path, party).await
}

/// Full interactive signing of `msg`, hashed with `hash` by every signer.
pub async fn sign_message<P>(
    session: SessionId,
    share: &KeyShare,
    committee: &SigningCommittee,
    msg: &[u8],
    hash: MessageHash,
    path: &[u32],
    party: P,
) -> Result<EcdsaSignature, TssError>
where
    P: Mpc<ProtocolMessage = SigningMsg>,
{
    let data = data_to_sign(hash, msg);
    sign(
        session,
        share,
        committee,
        &data,
        &hash.digest(msg),
        path,
        party,
    )
    .await
}

async fn sign<P>(
    session: SessionId,
    share: &KeyShare,
    committee: &SigningCommittee,
    data: &dyn cggmp24::signing::AnyDataToSign<super::Curve>,
    digest: &[u8; 32],
    path: &[u32],
    party: P,
) -> Result<EcdsaSignature, TssError>
where
    P: Mpc<ProtocolMessage = SigningMsg>,
{
    let me = my_position(share, committee)?;
    let public_key = EcdsaPublicKey::from_point(&share.derived_point(path)?);
    let mut rng = rng()?;
    let eid = ExecutionId::new(session.as_bytes());
    let builder = with_path(
        cggmp24::signing(eid, me, committee.keygen_indices(), &share.0),
        path,
    )?;
    let (party, abort) = guard(party, Round1Verifier::new(session, share, committee, me)?);
    let (party, transcript) = observe(party, me, committee.len());
    let protocol = async {
        builder
            .sign(&mut rng, party, data)
            .await
            .map_err(|e| map_error(Stage::Signing, e))
    };
    let sig = race(protocol, abort)
        .await
        .map_err(|e| name_culprits(e, &transcript, data.to_scalar()))?;
    EcdsaSignature::finish(sig, digest, &public_key)
}

type Builder<'r> = cggmp24::signing::SigningBuilder<'r, super::Curve, super::Level>;

fn with_path<'r>(builder: Builder<'r>, path: &[u32]) -> Result<Builder<'r>, TssError> {
    if path.is_empty() {
        return Ok(builder);
    }
    builder
        .set_derivation_path(path.iter().copied())
        .map_err(|e| TssError::InvalidInput(format!("cannot derive along the HD path: {e}")))
}

fn my_position(share: &KeyShare, committee: &SigningCommittee) -> Result<PartyIndex, TssError> {
    if committee.len() != share.threshold() {
        return Err(TssError::InvalidInput(format!(
            "the committee has {} signers but the key needs {}",
            committee.len(),
            share.threshold()
        )));
    }
    committee.position_of(share.index()).ok_or_else(|| {
        TssError::InvalidInput(format!(
            "key holder {} is not in the signing committee",
            share.index()
        ))
    })
}

fn check_member(me: PartyIndex, n: u16) -> Result<(), TssError> {
    if me >= n {
        return Err(TssError::InvalidInput(format!(
            "party {me} is not one of {n} parties"
        )));
    }
    Ok(())
}
