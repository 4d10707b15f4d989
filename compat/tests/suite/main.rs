//! Real-client compatibility suite: `rocketmq-client-rust` 1.0.0 (an independent RocketMQ client
//! from crates.io, unmodified) against `ferromq standalone`.
//!
//! Every test starts its own standalone process (`$FERROMQ_BIN`, required) on free ports with a
//! fresh data directory, waits for its ready line and kills it when done. Client logs (warnings and
//! up; `COMPAT_CLIENT_LOG` to change) go to stderr; a failing test keeps its work directory and
//! prints the standalone's log tails.
//!
//! - `send_modes`: sync, async-with-callback, oneway and batch sends are acknowledged and consumed;
//! - `clustering`: a clustering push consumer receives 200 messages exactly once;
//! - `offsets`: committed offsets survive a graceful broker restart;
//! - `tags`: tag subscriptions, through the push consumer and through raw pulls;
//! - `crash_recovery`: messages acknowledged under SYNC_FLUSH survive SIGKILL.

mod clustering;
mod crash_recovery;
mod offsets;
mod send_modes;
mod tags;

use std::time::Duration;

use ferromq_compat::{ClientEnv, Standalone, StandaloneOptions};

/// Bound on waiting for a consumer to receive what a test sent.
pub const CONSUME_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on waiting for committed offsets to reach the broker (persist interval is 1 s).
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts a standalone process for the test `name`; panics with the reason if it does not come up.
pub fn start_standalone(options: StandaloneOptions) -> Standalone {
    tokio::task::block_in_place(|| Standalone::start(options)).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Options for the binary in `FERROMQ_BIN`; panics with a clear message if it is unset.
pub fn options(name: &str) -> StandaloneOptions {
    StandaloneOptions::from_env(name).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Client objects bound to the standalone's name server.
pub fn client_env(server: &Standalone, scope: &str) -> anyhow::Result<ClientEnv> {
    ClientEnv::new(&server.namesrv_addr(), scope)
}

/// Panics with the full error chain while `server` is still alive, so its guard sees the panic,
/// keeps the work directory and prints the standalone's logs.
pub fn check(server: &Standalone, result: anyhow::Result<()>) {
    if let Err(e) = result {
        panic!("{e:#}\n(standalone work dir: {})", server.work_dir().display());
    }
}
