//! `NamesrvState`: everything one name server instance owns (route table, KV config, current
//! settings, start time). Several instances in one process share nothing.

use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::NamesrvConfig;
use crate::error::NamesrvError;
use crate::kv_config::KvConfigManager;
use crate::route_info::RouteInfoManager;

/// One name server's state, shared by its processors and background tasks.
#[derive(Debug)]
pub struct NamesrvState {
    /// The route table.
    pub route_info: RouteInfoManager,
    /// The KV config.
    pub kv_config: KvConfigManager,
    config: RwLock<NamesrvConfig>,
    started_at: Instant,
}

impl NamesrvState {
    /// Validates `config` and loads the KV config file.
    pub fn new(config: NamesrvConfig) -> Result<Self, NamesrvError> {
        config.validate()?;
        let kv_config = KvConfigManager::load(config.kv_config_path.clone())?;
        Ok(NamesrvState {
            route_info: RouteInfoManager::new(),
            kv_config,
            config: RwLock::new(config),
            started_at: Instant::now(),
        })
    }

    /// A snapshot of the current settings.
    pub fn config(&self) -> NamesrvConfig {
        self.config.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reads one value of the current settings without cloning them.
    pub fn with_config<T>(&self, read: impl FnOnce(&NamesrvConfig) -> T) -> T {
        read(&self.config.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the settings (UPDATE_NAMESRV_CONFIG), applying `update` to the current ones
    /// under the lock so concurrent updates do not lose each other's changes.
    pub fn update_config<E>(&self, update: impl FnOnce(&NamesrvConfig) -> Result<NamesrvConfig, E>) -> Result<(), E> {
        let mut guard = self.config.write().unwrap_or_else(PoisonError::into_inner);
        let next = update(&guard)?;
        *guard = next;
        Ok(())
    }

    /// Time since this state was created (the `needWaitForService` clock).
    pub fn uptime(&self) -> Duration {
        self.started_at.elapsed()
    }
}
