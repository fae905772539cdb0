//! Which signed forms of a signing request a node accepts (`NodeContext::authenticate_signing`):
//! the upstream-master six-field form whenever a path is present, the v0.3.5 five-field form
//! unless the cluster requires the path to be covered, `request_version: 2`, and nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use mpcium_node::context::NodeContext;
use mpcium_node::session::liveness::Liveness;
use mpcium_node::session::router::{Router, RouterLimits};
use mpcium_node::session::Sessions;
use mpcium_node::transport::bus::Bus;
use mpcium_node::transport::keys::{KeyRing, LocalKeys};
use mpcium_protocol::{
    AuthorizerSignature, Authorizers, ErrorCode, InitiatorAlgorithm, InitiatorMessage, KeyType,
    PublicKey, SignTxForm, SignTxMessage, Threshold,
};
use mpcium_state::config::Deadlines;
use mpcium_state::registry::{AnyRegistry, NatsKvRegistry, NatsKvSettings};
use mpcium_state::store::{KdfParams, SecretPassword, Store, StoreOptions};
use mpcium_testkit::NatsServer;

const INITIATOR: [u8; 32] = [2; 32];
const AUTHORIZER: [u8; 32] = [3; 32];

fn public(seed: &[u8; 32]) -> PublicKey {
    let key = SigningKey::from_bytes(seed);
    PublicKey::parse(
        InitiatorAlgorithm::Ed25519,
        &hex::encode(key.verifying_key().as_bytes()),
    )
    .unwrap()
}

async fn must_context(
    server: &NatsServer,
    dir: &tempfile::TempDir,
    require_extended_requests: bool,
) -> NodeContext {
    let client = async_nats::connect(server.url()).await.unwrap();
    let registry = NatsKvRegistry::open(client.clone(), &NatsKvSettings::default())
        .await
        .unwrap();
    let store = Store::open_with(
        dir.path().join(format!("db-{require_extended_requests}")),
        &SecretPassword::new("pw".into()),
        StoreOptions {
            kdf: KdfParams::insecure_for_tests(),
        },
    )
    .unwrap();
    let node_key = SigningKey::from_bytes(&[1; 32]);
    let keys = KeyRing::new(
        LocalKeys::new("n0".into(), node_key.clone()),
        [("n0".to_owned(), node_key.verifying_key())],
    )
    .unwrap();
    let (bus, _inbound, _task) = Bus::start(client, Arc::new(keys)).await.unwrap();
    let authorizers = Authorizers::new(
        BTreeMap::from([("a1".to_owned(), public(&AUTHORIZER))]),
        vec!["a1".to_owned()],
    )
    .unwrap();
    NodeContext {
        me: "n0".into(),
        node_ids: vec!["n0".into()],
        sessions: Sessions::new(
            bus,
            Router::new(RouterLimits::default()),
            Liveness::disabled(),
        ),
        start_window: mpcium_node::session::start_window::StartWindow::open(&store)
            .await
            .unwrap(),
        store,
        ready: mpcium_state::registry::ReadyView::start(
            &AnyRegistry::Nats(registry.clone()),
            std::time::Duration::from_secs(15),
        ),
        registry: Arc::new(AnyRegistry::Nats(registry)),
        result_cache_ttl: std::time::Duration::from_secs(3600),
        initiator: public(&INITIATOR),
        authorizers: Some(authorizers),
        threshold: Threshold::new(2, 3).unwrap(),
        chain_code: [0; 32],
        deadlines: Deadlines::default(),
        require_extended_requests,
        share_wipe_grace: Duration::from_secs(3600),
        presign: Arc::new(mpcium_node::ops::presign::Pools::disabled()),
        awaited_primes: Default::default(),
    }
}

/// A request signed (and co-signed by the authorizer) in `form`, then read back from the wire.
fn signed(path: Option<Vec<u32>>, form: SignTxForm) -> SignTxMessage {
    let mut msg = SignTxMessage {
        protocol: None,
        key_type: KeyType::Ed25519,
        wallet_id: "w1".into(),
        network_internal_code: "sol".into(),
        tx_id: "tx-1".into(),
        tx: b"pay bob".to_vec(),
        signature: Vec::new(),
        derivation_path: path,
        authorizer_signatures: Vec::new(),
        request_version: (form == SignTxForm::Extended).then_some(2),
        hash: None,
    };
    let initiator = SigningKey::from_bytes(&INITIATOR);
    msg.signature = initiator
        .sign(&msg.signed_bytes_in(form))
        .to_bytes()
        .to_vec();
    let payload = msg.signed_as(form).authorizer_payload();
    msg.authorizer_signatures = vec![AuthorizerSignature {
        authorizer_id: "a1".into(),
        signature: SigningKey::from_bytes(&AUTHORIZER)
            .sign(&payload)
            .to_bytes()
            .to_vec(),
    }];
    SignTxMessage::from_json(&msg.to_json()).unwrap()
}

fn code(ctx: &NodeContext, msg: &SignTxMessage) -> Option<ErrorCode> {
    ctx.authenticate_signing(msg).err().map(|e| e.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_accepted_form_verifies_and_anything_else_is_an_invalid_initiator_signature() {
    let server = NatsServer::must_start();
    let dir = tempfile::tempdir().unwrap();
    let open = must_context(&server, &dir, false).await;
    let strict = must_context(&server, &dir, true).await;
    let path = Some(vec![44, 501, 0]);
    use SignTxForm::{Extended, PathBound, Reference};

    // Without a path the upstream and v0.3.5 forms are the same bytes: accepted everywhere.
    for ctx in [&open, &strict] {
        assert_eq!(code(ctx, &signed(None, Reference)), None);
        assert_eq!(code(ctx, &signed(Some(Vec::new()), PathBound)), None);
        assert_eq!(code(ctx, &signed(path.clone(), PathBound)), None);
        assert_eq!(code(ctx, &signed(path.clone(), Extended)), None);
    }
    // The v0.3.5 form with a path: allowed by default, refused by the strict policy.
    assert_eq!(code(&open, &signed(path.clone(), Reference)), None);
    assert_eq!(
        code(&strict, &signed(path.clone(), Reference)),
        Some(ErrorCode::MsgValidation)
    );

    // A path added to a request signed without one: still a valid v0.3.5 signature (the
    // reference's weakness), so only the strict policy stops it.
    let mut added = signed(None, Reference);
    added.derivation_path = path.clone();
    assert_eq!(code(&open, &added), None);
    assert_eq!(code(&strict, &added), Some(ErrorCode::MsgValidation));

    // A path changed in or removed from a request that signed it matches no form.
    let mut changed = signed(path.clone(), PathBound);
    changed.derivation_path = Some(vec![44, 501, 1]);
    let mut removed = signed(path.clone(), PathBound);
    removed.derivation_path = None;
    let mut downgraded = signed(path.clone(), Extended);
    downgraded.request_version = None;
    for msg in [&changed, &removed, &downgraded] {
        for ctx in [&open, &strict] {
            assert_eq!(code(ctx, msg), Some(ErrorCode::InvalidInitiatorSignature));
        }
    }

    // The authorizer's co-signature is checked over the form the initiator signed.
    let mut cosigned_other_form = signed(path.clone(), PathBound);
    cosigned_other_form.authorizer_signatures = signed(path, Reference).authorizer_signatures;
    assert_eq!(
        code(&open, &cosigned_other_form),
        Some(ErrorCode::InvalidAuthorizerSignature)
    );
}
