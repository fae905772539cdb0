//! A test hook for the fault suite (`tests/tests/faults_*.rs`): hold a protocol right before this
//! node sends a given round, so a test can kill or pause the node at exactly that round, or kill
//! another member while this one waits.
//!
//! Enabled only when the node starts with `MPCIUM_TEST_HOLD_FILE=<path>` outside production
//! ([`Hold::from_env`] refuses it there). While the file reads `<protocol>:<round>` (e.g.
//! `eddsa-sign:1`, protocol names of `ProtocolKind::as_str`), every session of that protocol
//! waits before sending its first message of that round; while it reads `reshare-commit`, every
//! reshare participant waits before it switches to the new share; while it reads
//! `reshare-decided`, a reshare coordinator waits right after it recorded the decision, before it
//! orders the commit. While it reads `tamper <protocol>:<round>`, this node corrupts the first
//! big integer of every message it sends in that round ([`Hold::tamper`]): the message still
//! decodes but its proof no longer holds, so the recipients must name this node. A held session logs "test
//! hook: holding" and goes on once the file says anything else or is gone. Without the variable
//! nothing is read.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

/// How often a held session looks at the file again.
const RECHECK_EVERY: Duration = Duration::from_millis(20);

/// Where the hold instruction is read from, if anywhere. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Hold {
    file: Option<Arc<PathBuf>>,
}

impl Hold {
    /// The environment variable naming the hold file.
    pub const ENV: &'static str = "MPCIUM_TEST_HOLD_FILE";

    /// The hook named by [`Hold::ENV`] (off when it is unset); an error when it is set on a
    /// production node, which must never wait on a file.
    pub fn from_env(production: bool) -> Result<Self, String> {
        let Some(path) = std::env::var_os(Self::ENV) else {
            return Ok(Self::default());
        };
        if production {
            return Err(format!(
                "{} is a test hook and is refused in production; unset it",
                Self::ENV
            ));
        }
        tracing::warn!(
            file = %PathBuf::from(&path).display(),
            "test hook enabled: sessions hold at the round the file names"
        );
        Ok(Self {
            file: Some(Arc::new(PathBuf::from(path))),
        })
    }

    /// Waits while the hold file names `protocol` and `round` (`<protocol>:<round>`); returns at
    /// once when the hook is off or names something else.
    pub async fn before_send(&self, protocol: &str, round: u16) {
        if self.file.is_some() {
            self.at(&format!("{protocol}:{round}")).await;
        }
    }

    /// Waits while the hold file names `point` (a round as [`Hold::before_send`] spells it, or a
    /// step such as `reshare-commit`); returns at once when the hook is off or names something
    /// else.
    pub async fn at(&self, point: &str) {
        let Some(file) = &self.file else {
            return;
        };
        let holds = || async {
            tokio::fs::read_to_string(file.as_path())
                .await
                .is_ok_and(|text| text.trim() == point)
        };
        if !holds().await {
            return;
        }
        tracing::warn!(point, "test hook: holding");
        while holds().await {
            tokio::time::sleep(RECHECK_EVERY).await;
        }
        tracing::warn!(point, "test hook: released");
    }

    /// `payload` (a JSON protocol message) corrupted, when the hold file says
    /// `tamper <protocol>:<round>`: the last hex digit of its first big integer
    /// (`{"radix":16,"value":…}`) changed. Logs "test hook: tampered" when it did.
    pub async fn tampered(
        &self,
        protocol: &str,
        round: u16,
        payload: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let file = self.file.as_ref()?;
        let wanted = format!("tamper {protocol}:{round}");
        let text = tokio::fs::read_to_string(file.as_path()).await.ok()?;
        if text.trim() != wanted {
            return None;
        }
        let mut message = serde_json::from_slice::<serde_json::Value>(payload).ok()?;
        if !corrupt_first_big_integer(&mut message) {
            return None;
        }
        let bytes = serde_json::to_vec(&message).ok()?;
        tracing::warn!(protocol, round, "test hook: tampered");
        Some(Zeroizing::new(bytes))
    }
}

fn corrupt_first_big_integer(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            if map.contains_key("radix") {
                if let Some(serde_json::Value::String(digits)) = map.get_mut("value") {
                    if let Some(last) = digits.pop() {
                        digits.push(if last == '1' { '2' } else { '1' });
                        return true;
                    }
                }
            }
            map.values_mut().any(corrupt_first_big_integer)
        }
        serde_json::Value::Array(items) => items.iter_mut().any(corrupt_first_big_integer),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hold_waits_until_the_file_names_something_else() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("hold");
        let hold = Hold {
            file: Some(Arc::new(path.clone())),
        };
        // No file, another round, another protocol: no wait.
        hold.before_send("eddsa-sign", 1).await;
        std::fs::write(&path, "eddsa-sign:1\n").expect("write");
        hold.before_send("eddsa-sign", 0).await;
        hold.before_send("ecdsa-sign", 1).await;

        let held = tokio::spawn({
            let hold = hold.clone();
            async move { hold.before_send("eddsa-sign", 1).await }
        });
        tokio::task::yield_now().await;
        assert!(!held.is_finished());
        std::fs::remove_file(&path).expect("release");
        tokio::time::timeout(Duration::from_secs(10), held)
            .await
            .expect("released")
            .expect("join");
        Hold::default().before_send("eddsa-sign", 1).await;
        std::fs::write(&path, "reshare-commit\n").expect("write");
        hold.before_send("eddsa-sign", 1).await;
        let held = tokio::spawn({
            let hold = hold.clone();
            async move { hold.at("reshare-commit").await }
        });
        tokio::task::yield_now().await;
        assert!(!held.is_finished());
        std::fs::write(&path, "").expect("release");
        tokio::time::timeout(Duration::from_secs(10), held)
            .await
            .expect("released")
            .expect("join");
    }

    #[tokio::test]
    async fn a_tamper_order_changes_one_big_integer_of_the_named_round_only() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("hold");
        let hold = Hold {
            file: Some(Arc::new(path.clone())),
        };
        let original = br#"{"a":[1,{"radix":16,"value":"ff0"}],"b":{"radix":16,"value":"aa"}}"#;
        assert_eq!(hold.tampered("ecdsa-sign", 2, original).await, None);
        std::fs::write(&path, "tamper ecdsa-sign:2\n").expect("write");
        assert_eq!(hold.tampered("ecdsa-sign", 1, original).await, None);
        let tampered = hold
            .tampered("ecdsa-sign", 2, original)
            .await
            .expect("tampered");
        let tampered: serde_json::Value = serde_json::from_slice(&tampered).expect("json");
        assert_eq!(tampered["a"][1]["value"], "ff1");
        assert_eq!(tampered["b"]["value"], "aa");
    }

    #[test]
    fn the_hook_is_off_without_the_variable_and_refused_in_production() {
        // The only test that touches this variable.
        std::env::remove_var(Hold::ENV);
        assert!(Hold::from_env(true).expect("unset is fine").file.is_none());
        std::env::set_var(Hold::ENV, "/nonexistent/hold");
        let refused = Hold::from_env(true).expect_err("refused in production");
        assert!(refused.contains(Hold::ENV), "{refused}");
        assert!(Hold::from_env(false).expect("development").file.is_some());
        std::env::remove_var(Hold::ENV);
    }
}
