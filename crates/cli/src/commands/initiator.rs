//! `generate-initiator` and `generate-authorizer`: key pairs for the event initiator and for
//! request authorizers. The public key is printed; the private key never is.

use mpcium_state::identity::initiator::{
    authorizer_file_names, initiator_file_names, AuthorizerIdentity, InitiatorIdentity, Provenance,
};
use mpcium_state::identity::peers::{is_token, MAX_NAME_LEN};
use mpcium_state::identity::InitiatorSigningKey;

use crate::args::{GenerateAuthorizerArgs, GenerateInitiatorArgs, KeyOutputArgs};
use crate::error::CliError;
use crate::keyfile::{self, KeyPairPaths};

/// Writes `<name>_identity.json` and `<name>_private.key[.age]`.
pub fn generate_initiator(args: &GenerateInitiatorArgs) -> Result<(), CliError> {
    check_name("--node-name", &args.node_name)?;
    let (identity_name, key_name) = initiator_file_names(&args.node_name);
    let paths = KeyPairPaths {
        identity: args.output_dir.join(identity_name),
        plain_key: args.output_dir.join(key_name),
    };
    let algorithm = args.algorithm.into();
    let (key, public_key, provenance) = prepare(&paths, &args.key, algorithm)?;
    let identity = InitiatorIdentity {
        node_name: args.node_name.clone(),
        algorithm: algorithm.to_string(),
        public_key: public_key.clone(),
        created_at: provenance.created_at,
        created_by: provenance.created_by,
        machine_os: provenance.machine_os,
        machine_name: provenance.machine_name,
    };
    let json = serde_json::to_string_pretty(&identity)
        .map_err(|e| CliError::Key(format!("cannot encode the identity: {e}")))?;
    let key_path = finish(&paths, &json, &key, &args.key)?;
    println!("Generated event initiator identity ({algorithm})");
    println!("- Private key: {}", key_path.display());
    println!("- Identity:    {}", paths.identity.display());
    println!("Public key: {public_key}");
    println!("Add to config.yaml:");
    println!("  event_initiator_pubkey: \"{public_key}\"");
    println!("  event_initiator_algorithm: \"{algorithm}\"");
    Ok(())
}

/// Writes `<name>.authorizer.identity.json` and `<name>.authorizer.key[.age]`.
pub fn generate_authorizer(args: &GenerateAuthorizerArgs) -> Result<(), CliError> {
    check_name("--name", &args.name)?;
    let (identity_name, key_name) = authorizer_file_names(&args.name);
    let paths = KeyPairPaths {
        identity: args.output_dir.join(identity_name),
        plain_key: args.output_dir.join(key_name),
    };
    let algorithm = args.algorithm.into();
    let (key, public_key, provenance) = prepare(&paths, &args.key, algorithm)?;
    let identity = AuthorizerIdentity {
        name: args.name.clone(),
        algorithm: algorithm.to_string(),
        public_key: public_key.clone(),
        created_at: provenance.created_at,
        created_by: provenance.created_by,
        machine_os: provenance.machine_os,
        machine_name: provenance.machine_name,
    };
    let json = serde_json::to_string_pretty(&identity)
        .map_err(|e| CliError::Key(format!("cannot encode the identity: {e}")))?;
    let key_path = finish(&paths, &json, &key, &args.key)?;
    println!("Generated authorizer identity {} ({algorithm})", args.name);
    println!("- Private key: {}", key_path.display());
    println!("- Identity:    {}", paths.identity.display());
    println!("Public key: {public_key}");
    println!("Add to config.yaml under authorization.authorizer_public_keys:");
    println!(
        "  {}: {{public_key: \"{public_key}\", algorithm: \"{algorithm}\"}}",
        args.name
    );
    Ok(())
}

fn check_name(flag: &str, name: &str) -> Result<(), CliError> {
    if !is_token(name) || name.len() > MAX_NAME_LEN {
        return Err(CliError::Usage(format!(
            "{flag} {name:?} must be 1 to {MAX_NAME_LEN} letters, digits, '-' or '_' (no spaces)"
        )));
    }
    Ok(())
}

fn prepare(
    paths: &KeyPairPaths,
    opts: &KeyOutputArgs,
    algorithm: mpcium_state::identity::InitiatorAlgorithm,
) -> Result<(InitiatorSigningKey, String, Provenance), CliError> {
    if let Some(dir) = paths
        .identity
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        keyfile::ensure_dir(dir)?;
    }
    keyfile::preflight(paths, opts)?;
    let key = InitiatorSigningKey::generate(algorithm);
    let public_key = key.public_key_hex().map_err(CliError::Key)?;
    Ok((key, public_key, Provenance::current()))
}

fn finish(
    paths: &KeyPairPaths,
    json: &str,
    key: &InitiatorSigningKey,
    opts: &KeyOutputArgs,
) -> Result<std::path::PathBuf, CliError> {
    let passphrase = keyfile::passphrase_for(opts)?;
    if passphrase.is_none() {
        eprintln!("warning: the private key is written unencrypted; consider --encrypt");
    }
    let key_text = key.to_key_text().map_err(CliError::Key)?;
    keyfile::write_key_pair(paths, json, &key_text, passphrase.as_ref(), opts)
}
