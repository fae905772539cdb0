//! The unencrypted `meta` table: schema version, KDF parameters and salt, and the key-check
//! record that tells a wrong password apart at open.

use redb::{Database, Durability, ReadableTable, WriteTransaction};

use super::cipher::{KdfRecord, RecordCipher};
use super::error::storage;
use super::tables::META;
use super::{SecretPassword, StoreError, StoreOptions, SCHEMA_VERSION};

pub(crate) const META_SCHEMA: &str = "schema_version";
pub(crate) const META_KDF: &str = "kdf";
pub(crate) const META_KEY_CHECK: &str = "key_check";
/// The plaintext of the key-check record.
const KEY_CHECK_PLAINTEXT: &[u8] = b"mpcium store key check v1";

/// A write transaction that fsyncs on commit.
pub(crate) fn begin_durable_write(db: &Database) -> Result<WriteTransaction, StoreError> {
    let mut txn = db.begin_write().map_err(storage)?;
    txn.set_durability(Durability::Immediate).map_err(storage)?;
    Ok(txn)
}

/// Checks the password against an existing store, or writes the metadata of a new one.
pub(crate) fn unlock_or_initialise(
    txn: &WriteTransaction,
    password: &SecretPassword,
    options: StoreOptions,
) -> Result<RecordCipher, StoreError> {
    let mut meta = txn.open_table(META).map_err(storage)?;
    let read =
        |meta: &redb::Table<&str, &[u8]>, key: &str| -> Result<Option<Vec<u8>>, StoreError> {
            Ok(meta.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
        };
    let Some(schema) = read(&meta, META_SCHEMA)? else {
        let kdf = KdfRecord::generate(options.kdf);
        let cipher = kdf.derive(password)?;
        let check = cipher.seal(
            "meta",
            META_KEY_CHECK.as_bytes(),
            SCHEMA_VERSION,
            KEY_CHECK_PLAINTEXT,
        )?;
        meta.insert(META_SCHEMA, SCHEMA_VERSION.to_be_bytes().as_slice())
            .map_err(storage)?;
        meta.insert(META_KDF, kdf.encode().as_slice())
            .map_err(storage)?;
        meta.insert(META_KEY_CHECK, check.as_slice())
            .map_err(storage)?;
        return Ok(cipher);
    };
    let kdf = read(&meta, META_KDF)?;
    let check = read(&meta, META_KEY_CHECK)?;
    unlock(&schema, kdf.as_deref(), check.as_deref(), password)
}

/// Checks `password` against a store's metadata values (schema version, KDF record, key-check
/// record) and returns the record cipher; used at open and to check a snapshot before restoring.
pub(crate) fn unlock(
    schema: &[u8],
    kdf: Option<&[u8]>,
    check: Option<&[u8]>,
    password: &SecretPassword,
) -> Result<RecordCipher, StoreError> {
    let schema: [u8; 4] = schema.try_into().map_err(|_| StoreError::CorruptMeta {
        what: "schema version",
    })?;
    let schema = u32::from_be_bytes(schema);
    if schema > SCHEMA_VERSION {
        return Err(StoreError::UnsupportedSchema {
            found: schema,
            supported: SCHEMA_VERSION,
        });
    }
    let kdf = kdf.ok_or(StoreError::CorruptMeta {
        what: "kdf parameters missing",
    })?;
    let cipher = KdfRecord::decode(kdf)?.derive(password)?;
    let check = check.ok_or(StoreError::CorruptMeta {
        what: "key-check record missing",
    })?;
    match cipher.open("meta", META_KEY_CHECK.as_bytes(), schema, check) {
        Ok(Some(plaintext)) if plaintext.as_slice() == KEY_CHECK_PLAINTEXT => Ok(cipher),
        Ok(_) => Err(StoreError::WrongPassword),
        Err(_) => Err(StoreError::CorruptMeta {
            what: "key-check record has an unknown layout",
        }),
    }
}
