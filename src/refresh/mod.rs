//! Credentials that refresh themselves: a provider that hands out the current
//! credentials, getting new ones (a fresh token, a new STS call) when less
//! than the margin is left. Shared by `credential-process` (through the
//! on-disk cache, across processes) and `exec --serve` (in memory).

pub mod serve;

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::aws::credentials::{Assumed, now_secs};
use crate::cache::Cache;
use crate::failure::{Failure, Kind};
use crate::obtain;
use crate::settings::Settings;

pub struct Provider {
    settings: Settings,
    env: crate::env::Env,
    cache: Option<(Cache, String)>,
    margin: i64,
    current: Mutex<Option<Assumed>>,
}

impl Provider {
    pub fn new(
        settings: Settings,
        env: crate::env::Env,
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
            Some((cache, key)) => match self.cached(cache, key, true) {
                Some(a) => a,
                None => {
                    let deadline = Instant::now() + self.settings.timeout;
                    let _lock = cache.lock(key, deadline).map_err(|e| {
                        Failure::new(Kind::Transient, format!("credentials cache: {e}"))
                    })?;
                    // Another process may have refreshed while we waited.
                    match self.cached(cache, key, false) {
                        Some(a) => a,
                        None => {
                            let a = self.obtain().await?;
                            let login = self.settings.login.as_ref().map(|l| l.name.as_str());
                            if let Err(e) = cache.store(key, &a, login) {
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

    /// The cache's entry for this request, if it is fresh and answers this request (saying
    /// why not, when `warn`, if an entry is there but answers another).
    fn cached(&self, cache: &Cache, key: &str, warn: bool) -> Option<Assumed> {
        let a = cache.fresh(key, self.margin)?;
        match mismatch(&self.settings, &a) {
            None => Some(a),
            Some(_) if !warn => None,
            Some(why) => {
                tracing::warn!(
                    "discarding the cached credentials in {}: {why}; getting fresh ones",
                    cache.dir().display()
                );
                None
            }
        }
    }

    async fn obtain(&self) -> Result<Assumed, Failure> {
        tracing::info!("getting fresh credentials");
        Ok(obtain::obtain(&self.settings, &self.env).await?.assumed)
    }
}

/// What the cache holds for `settings`, if it is fresh (more than `margin` left) and answers
/// this request; without a word if not. `credential-process` serves a hit with this before
/// starting anything else (no runtime, no HTTP client); anything else (a miss, an entry for
/// another role) goes the whole way through [`Provider::get`], which says why it refreshes.
pub fn cached(settings: &Settings, cache: &Cache, margin: Duration) -> Option<Assumed> {
    let key = crate::cache::key(&settings.cache_description());
    let a = cache.fresh_quietly(&key, margin.as_secs() as i64)?;
    mismatch(settings, &a).is_none().then_some(a)
}

/// Why cached credentials do not answer this request (another role or account than asked
/// for, or an account outside `--allowed-account-ids`), if they do not. The cache key
/// already separates requests; this holds whatever is in the file to the same checks as
/// credentials fresh from STS.
fn mismatch(s: &Settings, a: &Assumed) -> Option<String> {
    let want = s.chain.as_ref().map_or(&s.role, |c| &c.role);
    let role_name = crate::aws::arn::assumed_role_name(&a.assumed_role_arn, want);
    // IAM role names are unique regardless of case, and STS answers with the role's own.
    if a.account_id != want.account_id
        || !role_name.is_some_and(|n| n.eq_ignore_ascii_case(&want.name))
        || a.chained != s.chain.is_some()
    {
        return Some(format!(
            "they are for {} (account {}), not for {}",
            a.assumed_role_arn, a.account_id, want.arn
        ));
    }
    if !s.allowed_accounts.is_empty() && !s.allowed_accounts.contains(&a.account_id) {
        return Some(format!(
            "account {} is not in --allowed-account-ids ({})",
            a.account_id,
            s.allowed_accounts.join(",")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::credentials::Credentials;
    use crate::secret::Secret;

    fn settings(args: &[&str]) -> Settings {
        let opts: crate::args::RoleArgs = crate::args::parse(args).unwrap();
        let env = crate::env::Env::from_pairs([("AWS_ID_TOKEN", "a.b.c")]);
        Settings::resolve(&opts, &env).unwrap()
    }

    fn assumed(arn: &str, account: &str, chained: bool) -> Assumed {
        Assumed {
            credentials: Credentials {
                access_key_id: "ASIA1".into(),
                secret_access_key: Secret::new("s"),
                session_token: Secret::new("t"),
                expiration: now_secs() + 3600,
            },
            assumed_role_arn: arn.into(),
            account_id: account.into(),
            region: "us-east-1".into(),
            chained,
        }
    }

    #[test]
    fn cached_credentials_must_answer_the_request() {
        let plain = settings(&[
            "--role-arn",
            "arn:aws:iam::123456789012:role/ci/deploy",
            "--allowed-account-ids",
            "123456789012",
        ]);
        let ok = assumed(
            "arn:aws:sts::123456789012:assumed-role/Deploy/s",
            "123456789012",
            false,
        );
        assert_eq!(mismatch(&plain, &ok), None);
        for (arn, account, chained) in [
            (
                "arn:aws:sts::999999999999:assumed-role/deploy/s",
                "999999999999",
                false,
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/deploy/s",
                "999999999999",
                false,
            ),
            (
                "arn:aws:sts::999999999999:assumed-role/deploy/s",
                "123456789012",
                false,
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/other/s",
                "123456789012",
                false,
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/deploy-x/s",
                "123456789012",
                false,
            ),
            (
                "arn:aws-cn:sts::123456789012:assumed-role/deploy/s",
                "123456789012",
                false,
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/deploy",
                "123456789012",
                false,
            ),
            (
                "arn:aws:iam::123456789012:role/deploy",
                "123456789012",
                false,
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/deploy/s",
                "123456789012",
                true,
            ),
        ] {
            let why = mismatch(&plain, &assumed(arn, account, chained));
            assert!(why.is_some(), "{arn} {account} {chained} accepted");
        }

        let chain = settings(&[
            "--role-arn",
            "arn:aws:iam::123456789012:role/deploy",
            "--chain-role-arn",
            "arn:aws:iam::210987654321:role/target",
        ]);
        let target = assumed(
            "arn:aws:sts::210987654321:assumed-role/target/s",
            "210987654321",
            true,
        );
        assert_eq!(mismatch(&chain, &target), None);
        assert!(
            mismatch(&chain, &ok).is_some(),
            "the first hop served for a chain"
        );

        // The allow-list is re-checked too (an entry for the role itself, outside it).
        let mut narrowed = settings(&["--role-arn", "arn:aws:iam::123456789012:role/deploy"]);
        narrowed.allowed_accounts = vec!["111111111111".into()];
        let why = mismatch(&narrowed, &ok).unwrap();
        assert!(why.contains("--allowed-account-ids"), "{why}");
    }
}
