//! No secret leaves the encrypted store: a cluster of real node processes (debug logging) runs
//! keygen, an ECDSA and an EdDSA signature, a reshare of both keys, refused requests and
//! periodic backups; then every log line, every node's `/metrics`, every result and error the
//! client saw and every file in the node directories outside the encrypted store (backups
//! included) is searched for the secrets: key-share scalars and Paillier primes of every share
//! version (read back from the stopped nodes' stores with the state crate), the database
//! password, the nodes' identity private keys and the initiator's private key — raw, as hex
//! (both cases) and as base64.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use mpcium_client::hd::compress_secp256k1;
use mpcium_client::{LocalSigner, ReshareRequest, SignRequest};
use mpcium_e2e::{
    must_http_get, must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions, DB_PASSWORD,
};
use mpcium_node::ops::wallet::load_eddsa_share;
use mpcium_protocol::KeyType;
use mpcium_state::backup::{self, files};
use mpcium_state::identity::{node, NodeSigningKey};
use mpcium_state::store::{KeyType as StoreKeyType, SecretPassword, Store};
use mpcium_tss::material::{self, MaterialKind};
use sha2::{Digest, Sha256};

/// JSON keys under which the engines' serializations hold secret values: the CGGMP24 share
/// scalar `x` and Paillier primes `p`, `q`; the FROST `signing_share`.
const SECRET_KEYS: &[&str] = &["x", "p", "q", "signing_share"];

/// A secret to search for, in every form it could leak in.
struct Secret {
    what: String,
    forms: Vec<Vec<u8>>,
}

impl Secret {
    fn from_bytes(what: String, bytes: &[u8]) -> Secret {
        let b64 = base64::engine::general_purpose::STANDARD;
        let forms = vec![
            bytes.to_vec(),
            hex::encode(bytes).into_bytes(),
            hex::encode_upper(bytes).into_bytes(),
            b64.encode(bytes).into_bytes(),
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(bytes)
                .into_bytes(),
        ];
        Secret { what, forms }
    }

    fn from_text(what: String, text: &str) -> Secret {
        let mut secret = Secret::from_bytes(what, text.as_bytes());
        if let Ok(bytes) = hex::decode(text) {
            secret
                .forms
                .extend(Secret::from_bytes(String::new(), &bytes).forms);
        }
        secret
    }
}

/// Every value under a [`SECRET_KEYS`] key in `value`, as text (strings, or numbers written
/// out) or bytes (arrays of small integers); short values (which could be anything) skipped.
fn secret_values(value: &serde_json::Value, path: &str, out: &mut Vec<Secret>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let here = format!("{path}.{key}");
                if SECRET_KEYS.contains(&key.as_str()) {
                    // Big integers are `{"radix": 16, "value": "<digits>"}`.
                    let inner = inner.get("value").unwrap_or(inner);
                    match inner {
                        serde_json::Value::String(s) if s.len() >= 16 => {
                            out.push(Secret::from_text(here.clone(), s))
                        }
                        serde_json::Value::Array(items) if items.len() >= 16 => {
                            let bytes: Option<Vec<u8>> = items
                                .iter()
                                .map(|i| i.as_u64().and_then(|n| u8::try_from(n).ok()))
                                .collect();
                            if let Some(bytes) = bytes {
                                out.push(Secret::from_bytes(here.clone(), &bytes));
                            }
                        }
                        _ => {}
                    }
                }
                secret_values(inner, &here, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                secret_values(inner, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The secret values of every share version of `wallet` in the stopped node's store.
fn must_share_secrets(dir: &Path, name: &str, wallet: &str) -> Vec<Secret> {
    let store = Store::open(
        dir.join("db").join(name),
        &SecretPassword::new(DB_PASSWORD.into()),
    )
    .expect("open the stopped node's store");
    let mut secrets = Vec::new();
    for key_type in [StoreKeyType::Ecdsa, StoreKeyType::Eddsa] {
        let latest = store
            .latest_share_version(key_type, wallet)
            .expect("read versions")
            .expect("a share");
        assert!(
            latest >= 2,
            "{name} {key_type:?}: the reshare left v{latest}"
        );
        for version in 1..=latest {
            let Some(sealed) = store.share(key_type, wallet, version).expect("read share") else {
                continue;
            };
            let json = match key_type {
                StoreKeyType::Ecdsa => material::open::<serde_json::Value>(
                    MaterialKind::EcdsaKeyShare,
                    sealed.expose(),
                )
                .expect("ecdsa share material"),
                StoreKeyType::Eddsa => serde_json::to_value(
                    load_eddsa_share(&store, wallet, version).expect("eddsa share"),
                )
                .expect("eddsa share json"),
            };
            let before = secrets.len();
            secret_values(
                &json,
                &format!("{name}/{key_type:?}/v{version}"),
                &mut secrets,
            );
            // ECDSA: the share scalar and both Paillier primes; EdDSA: the signing share.
            let expected = match key_type {
                StoreKeyType::Ecdsa => 3,
                StoreKeyType::Eddsa => 1,
            };
            assert!(
                secrets.len() - before >= expected,
                "{name} {key_type:?} v{version}: secret fields missing in {}",
                json.as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            );
        }
    }
    secrets
}

/// Files under `dir`, except those that are the secrets' own home: the encrypted store, the
/// identity private key and the database password file.
fn must_scanned_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let exempt = [
        dir.join("db").join(name),
        dir.join("identity")
            .join(node::private_key_file_name(name, false)),
        dir.join("db.pass"),
    ];
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if !exempt.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// Waits until `node`'s newest backup holds at least `shares` share records.
async fn must_wait_for_backup(dir: &Path, name: &str, shares: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let password = SecretPassword::new(DB_PASSWORD.into());
    loop {
        let held = files::list(&dir.join("backups"), Some(name))
            .ok()
            .and_then(|all| all.last().cloned())
            .and_then(|(_, path)| backup::verify(&path, &password).ok())
            .and_then(|summary| summary.tables.get("shares").copied())
            .unwrap_or(0);
        if held >= shares {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: no backup with {shares} shares (newest has {held})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_logs_metrics_results_or_files_outside_the_store() {
    // The nodes inherit the environment: log everything at debug level.
    std::env::set_var("RUST_LOG", "debug");
    let mut cluster = Cluster::must_start(ClusterOptions {
        health: true,
        extra_config: "backup_enabled: true\nbackup_period_seconds: 1\nbackup_dir: ./backups\n"
            .into(),
        ..Default::default()
    })
    .await;
    let client = cluster.must_client("hygiene").await;
    let mut seen = Vec::<String>::new();

    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    seen.push(format!("{keys:?}"));
    let ecdsa = compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("key")).expect("point");
    let d: [u8; 32] = Sha256::digest(b"hygiene").into();
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("ecdsa");
    must_recover_ecdsa(&signed, &d, &ecdsa);
    seen.push(format!("{signed:?}"));
    let signed = client
        .sign(SignRequest::eddsa(&wallet, b"hygiene".to_vec()))
        .await
        .expect("eddsa");
    must_verify_eddsa(
        &signed,
        b"hygiene",
        keys.eddsa_pub_key.as_deref().expect("key"),
    );
    seen.push(format!("{signed:?}"));

    let mut all: Vec<String> = cluster.nodes.iter().map(|n| n.id.clone()).collect();
    all.sort();
    for key_type in [KeyType::Secp256k1, KeyType::Ed25519] {
        let event = client
            .reshare(ReshareRequest {
                session_id: None,
                wallet_id: wallet.clone(),
                key_type,
                node_ids: all.clone(),
                new_threshold: 2,
            })
            .await
            .expect("reshare");
        seen.push(format!("{event:?}"));
    }
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("ecdsa after the reshare");
    must_recover_ecdsa(&signed, &d, &ecdsa);

    // Refused requests: their reasons reach the client.
    let forger = cluster
        .must_client_with("forger", Arc::new(LocalSigner::ed25519_from_seed(&[9; 32])))
        .await;
    seen.push(format!("{:?}", forger.create_wallet(&wallet).await));
    seen.push(format!(
        "{:?}",
        forger.sign(SignRequest::ecdsa_digest(&wallet, d)).await
    ));
    seen.push(format!(
        "{:?}",
        client
            .sign(SignRequest::eddsa("no-such-wallet", b"x".to_vec()))
            .await
    ));

    // Backups of the reshared wallet (both keys, versions 1 and 2), then metrics.
    for node in &cluster.nodes {
        must_wait_for_backup(&node.dir, &node.name, 4).await;
    }
    let mut metrics = Vec::new();
    for node in &cluster.nodes {
        metrics.push((
            format!("{} /metrics", node.name),
            must_http_get(node.health.expect("health"), "/metrics")
                .await
                .into_bytes(),
        ));
    }
    for i in 0..cluster.nodes.len() {
        cluster.must_stop(i).await;
    }

    // The secrets.
    let mut secrets = vec![Secret::from_text(
        "the database password".into(),
        DB_PASSWORD,
    )];
    let scratch = tempfile::tempdir().expect("temp dir");
    let initiator_file = scratch.path().join("initiator.key");
    cluster.must_write_initiator_key(&initiator_file);
    let initiator_hex = std::fs::read_to_string(&initiator_file).expect("initiator key");
    secrets.push(Secret::from_text(
        "the initiator's private key".into(),
        initiator_hex.trim(),
    ));
    for node in &cluster.nodes {
        let text = std::fs::read(
            node.dir
                .join("identity")
                .join(node::private_key_file_name(&node.name, false)),
        )
        .expect("identity key");
        let key = NodeSigningKey::from_key_text(&text).expect("identity key");
        secrets.push(Secret::from_bytes(
            format!("{}'s identity key", node.name),
            key.signing_key().as_bytes(),
        ));
        secrets.push(Secret::from_bytes(
            format!("{}'s identity key pair", node.name),
            &key.signing_key().to_keypair_bytes(),
        ));
        secrets.extend(must_share_secrets(&node.dir, &node.name, &wallet));
    }

    // Where they must not be.
    let mut haystacks: Vec<(String, Vec<u8>)> = metrics;
    haystacks.push(("results and errors".into(), seen.join("\n").into_bytes()));
    let mut files_scanned = 0;
    for node in &cluster.nodes {
        for path in must_scanned_files(&node.dir, &node.name) {
            files_scanned += 1;
            let bytes = std::fs::read(&path).expect("read file");
            haystacks.push((path.display().to_string(), bytes));
        }
    }
    let logs: usize = cluster.nodes.iter().map(|n| n.log().lines().count()).sum();
    assert!(
        logs > 100 && files_scanned > 10,
        "{logs} log lines, {files_scanned} files"
    );
    // The password, the initiator key, two forms of each identity key, and per node two
    // versions of three ECDSA secrets and one EdDSA secret.
    assert!(
        secrets.len() >= 2 + 6 + 3 * 8,
        "only {} secrets found",
        secrets.len()
    );

    let found = |secret: &Secret, haystack: &[u8]| {
        secret
            .forms
            .iter()
            .any(|form| memchr::memmem::find(haystack, form).is_some())
    };
    // The search finds what it looks for: the exempt files hold their own secrets.
    let node0 = &cluster.nodes[0];
    let password_file = std::fs::read(node0.dir.join("db.pass")).expect("password file");
    assert!(found(&secrets[0], &password_file));
    let key_file = std::fs::read(
        node0
            .dir
            .join("identity")
            .join(node::private_key_file_name(&node0.name, false)),
    )
    .expect("identity key");
    assert!(found(&secrets[3], &key_file), "{}", secrets[3].what);

    let mut leaks = Vec::new();
    for (place, haystack) in &haystacks {
        for secret in &secrets {
            if found(secret, haystack) {
                leaks.push(format!("{} in {place}", secret.what));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");
}
