//! Shared helpers for the client integration tests: configs pointing at fake servers and a
//! bounded wait on observable state.

#![allow(dead_code)]

use std::time::Duration;

use anyhow::bail;
use ferromq_client::ClientConfig;

/// Upper bound on every wait for observable state; a healthy run needs milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// A client config for `namesrv` with defaults (3 s send timeout, 2 retries).
pub fn config(namesrv: &str) -> anyhow::Result<ClientConfig> {
    Ok(ClientConfig::new(namesrv)?)
}

/// Polls `check` every few milliseconds until it holds, failing after [`WAIT`].
pub async fn wait_until(what: &str, mut check: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}
