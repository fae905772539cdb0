//! Sessions: the lifetime of one threshold-protocol execution on this node — the control
//! messages that start and end it ([`control`]) or give it up early ([`abort`]), running it as a
//! coordinator ([`orchestrate`]) or a
//! participant ([`io`]), message routing with early-message buffering and replay protection
//! ([`router`]), replay protection of session starts across restarts ([`start_window`]), the
//! checks between envelopes and protocol frames ([`wire`]), and the fault suite's test hook
//! ([`hold`]).
//!
//! Everything here works over the narrow [`Sessions`] handle — who this node is, how to send, where
//! received messages go — never over the whole node context. Operations (`crate::ops`) sit above
//! and decide *what* runs; the transport sits below.

pub mod abort;
pub mod control;
pub mod hold;
pub mod io;
pub mod liveness;
pub mod orchestrate;
pub mod router;
pub mod start_window;
pub mod wire;

use crate::transport::bus::Bus;
use abort::Aborts;
use hold::Hold;
use liveness::Liveness;
use router::Router;

/// What session code needs of the node: its id, the bus to send on, the router that holds
/// received messages, the watch on peers' readiness and the parts its coordinators may abort.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sessions {
    bus: Bus,
    router: Router,
    liveness: Liveness,
    hold: Hold,
    aborts: Aborts,
}

impl Sessions {
    /// A handle over `bus`, `router` and `liveness`.
    pub fn new(bus: Bus, router: Router, liveness: Liveness) -> Self {
        let aborts = Aborts::new(router.limits().active_sessions);
        Self {
            bus,
            router,
            liveness,
            hold: Hold::default(),
            aborts,
        }
    }

    /// The parts of sessions that their coordinators may abort.
    pub fn aborts(&self) -> &Aborts {
        &self.aborts
    }

    /// The same handle with the fault suite's test hook ([`hold`]).
    pub fn with_hold(mut self, hold: Hold) -> Self {
        self.hold = hold;
        self
    }

    /// The test hook (off unless [`Sessions::with_hold`] set one).
    pub fn hold(&self) -> &Hold {
        &self.hold
    }

    /// This node's id.
    pub fn me(&self) -> &str {
        self.bus.node_id()
    }

    /// The bus.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Resolves with the peers among `nodes` (this node excluded) that stopped being ready or
    /// restarted since this call ([`Liveness::gone`]: their incarnations are taken now).
    pub fn gone(
        &self,
        nodes: &[String],
    ) -> impl std::future::Future<Output = liveness::Gone> + Send {
        let peers = nodes.iter().filter(|n| *n != self.me()).cloned().collect();
        self.liveness.gone(peers)
    }
}
