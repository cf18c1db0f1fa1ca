//! Credentials that refresh themselves: a provider that hands out the current
//! credentials, getting new ones (a fresh token, a new STS call) when less
//! than the margin is left. Shared by `credential-process` (through the
//! on-disk cache, across processes) and `exec --serve` (in memory).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::app::{self, Settings};
use crate::cache::Cache;
use crate::credentials::{Assumed, now_secs};
use crate::failure::{Failure, Kind};

pub struct Provider {
    settings: Settings,
    env: BTreeMap<String, String>,
    cache: Option<(Cache, String)>,
    margin: i64,
    current: Mutex<Option<Assumed>>,
}

impl Provider {
    pub fn new(
        settings: Settings,
        env: BTreeMap<String, String>,
        cache: Option<Cache>,
        margin: Duration,
    ) -> Provider {
        let cache = cache.map(|c| {
            let key = crate::cache::key(&settings.cache_description());
            (c, key)
        });
        Provider {
            settings,
            env,
            cache,
            margin: margin.as_secs() as i64,
            current: Mutex::new(None),
        }
    }

    /// Credentials with more than the margin left (or the freshest STS gives).
    pub async fn get(&self) -> Result<Assumed, Failure> {
        let mut current = self.current.lock().await;
        if let Some(a) = current
            .as_ref()
            .filter(|a| a.credentials.expiration.saturating_sub(now_secs()) > self.margin)
        {
            return Ok(a.clone());
        }
        let fresh = match &self.cache {
            None => self.obtain().await?,
            Some((cache, key)) => match cache.fresh(key, self.margin) {
                Some(a) => a,
                None => {
                    let deadline = Instant::now() + self.settings.timeout;
                    let _lock = cache.lock(key, deadline).map_err(|e| {
                        Failure::new(Kind::Transient, format!("credentials cache: {e}"))
                    })?;
                    // Another process may have refreshed while we waited.
                    match cache.fresh(key, self.margin) {
                        Some(a) => a,
                        None => {
                            let a = self.obtain().await?;
                            if let Err(e) = cache.store(key, &a) {
                                tracing::warn!(
                                    "could not write the credentials cache in {}: {e}",
                                    cache.dir().display()
                                );
                            }
                            a
                        }
                    }
                }
            },
        };
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    async fn obtain(&self) -> Result<Assumed, Failure> {
        tracing::info!("getting fresh credentials");
        Ok(app::obtain(&self.settings, &self.env).await?.assumed)
    }
}
