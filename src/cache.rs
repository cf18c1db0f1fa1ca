//! The credentials cache behind `credential-process` (`exec --serve` keeps its credentials in
//! memory and does not use it).
//!
//! One file per key (a SHA-256 of everything that decides which credentials
//! come out), mode 0600 in a 0700 directory, replaced atomically. A lock file
//! next to it serialises refreshes, so that twenty processes asking at once
//! cause one STS call: the first refreshes, the others wait and read its result.
//!
//! What the cache trusts (SECURITY.md, "The credentials cache"): only a directory that is
//! the user's own and that nobody else can write (checked on every open, for the cache
//! directory and for every parent created for it; parents that already exist, such as a
//! sticky /tmp, are not the cache's business); entries and locks are opened without
//! following symbolic links and must be regular files of the user's. What an entry says is
//! re-checked against the request by the caller (`refresh`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::aws::credentials::{Assumed, Credentials, now_secs};
use crate::fs;
use crate::secret::Secret;

/// A cache directory.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

/// Why a cache directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Someone else could put files in it: it is not used at all.
    #[error(
        "refusing the cache directory {dir}: {why}, so another user could plant credentials or links in it"
    )]
    Untrusted {
        dir: PathBuf,
        why: String,
        /// The user could fix it with chmod (it is theirs).
        ours: bool,
    },
    #[error("cannot use the cache directory {dir}: {source}")]
    Io {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl CacheError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            CacheError::Untrusted { dir, ours: true, .. } => format!(
                "make it private (chmod 700 {}), or pick another --cache-dir (AWS_OIDC_CACHE_DIR), or pass --no-cache",
                dir.display()
            ),
            CacheError::Untrusted { .. } => "it belongs to someone else: pick another --cache-dir (AWS_OIDC_CACHE_DIR) of your own, or pass --no-cache (do not chown it: whoever made it may have left files in it)".into(),
            CacheError::Io { .. } => "fix the path or its permissions, pick another --cache-dir, or pass --no-cache".into(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    version: u8,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: i64,
    account_id: String,
    assumed_role_arn: String,
    region: String,
    chained: bool,
    /// The login (`--provider`) the credentials came from: `logout` forgets them too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login: Option<String>,
}

/// Where the cache lives by default: `$AWS_OIDC_CACHE_DIR`, the CI runner's temp dir
/// (wiped after the job), else the user's cache dir.
pub fn default_dir(env: &crate::env::Env) -> Option<PathBuf> {
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    get("AWS_OIDC_CACHE_DIR")
        .or_else(|| get("RUNNER_TEMP").map(|d| d.join("aws-oidc-cache")))
        .or_else(|| get("XDG_CACHE_HOME").map(|d| d.join("aws-oidc")))
        .or_else(|| get("LOCALAPPDATA").map(|d| d.join("aws-oidc").join("cache")))
        .or_else(|| get("HOME").map(|d| d.join(".cache").join("aws-oidc")))
}

/// A stable key for a description of the request.
pub fn key(description: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, description.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates the directories missing on the way to `dir`, 0700, and returns them (top first).
/// One that appears meanwhile (someone else made it) is returned too: it gets checked.
fn create_missing(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    for d in &missing {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        match builder.create(d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(missing)
}

/// `dir` is a directory of the user's that nobody else can write.
#[cfg(unix)]
fn check_private_dir(dir: &Path) -> Result<(), CacheError> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let untrusted = |why: String, ours: bool| CacheError::Untrusted {
        dir: dir.to_path_buf(),
        why,
        ours,
    };
    let io = |source| CacheError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    // A symbolic link is only as trustworthy as whoever can re-point it.
    let link = std::fs::symlink_metadata(dir).map_err(io)?;
    if link.file_type().is_symlink() && link.uid() != me && link.uid() != 0 {
        return Err(untrusted(
            format!("it is a symbolic link owned by uid {}", link.uid()),
            false,
        ));
    }
    let m = std::fs::metadata(dir).map_err(io)?;
    if !m.is_dir() {
        return Err(io(io::Error::other("not a directory")));
    }
    if m.uid() != me {
        return Err(untrusted(
            format!("it is owned by uid {}, not by you (uid {me})", m.uid()),
            false,
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Err(untrusted(
            format!(
                "it is writable by {} (mode {:04o})",
                if m.mode() & 0o002 != 0 {
                    "all users"
                } else {
                    "its group"
                },
                m.mode() & 0o7777
            ),
            true,
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_dir(dir: &Path) -> Result<(), CacheError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(CacheError::Io {
            dir: dir.to_path_buf(),
            source: io::Error::other("not a directory"),
        }),
        Err(source) => Err(CacheError::Io {
            dir: dir.to_path_buf(),
            source,
        }),
    }
}

/// Opens a cache file without following a symbolic link at its name (nor blocking on a
/// FIFO), and makes sure it is a regular file of the user's.
pub(crate) fn open_own_file(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
        );
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return io::Error::other(format!(
                "{} is a symbolic link; refusing to follow it",
                path.display()
            ));
        }
        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    })?;
    let m = file.metadata()?;
    if !m.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if m.uid() != me {
            return Err(io::Error::other(format!(
                "{} is owned by uid {}, not by you",
                path.display(),
                m.uid()
            )));
        }
    }
    Ok(file)
}

impl Cache {
    /// Opens (creating it, 0700, if need be) a cache directory the user owns and only the
    /// user can write; refuses any other.
    pub fn open(dir: PathBuf) -> Result<Cache, CacheError> {
        let created = create_missing(&dir).map_err(|source| CacheError::Io {
            dir: dir.clone(),
            source,
        })?;
        for d in created.iter().filter(|d| **d != dir) {
            check_private_dir(d)?;
        }
        check_private_dir(&dir)?;
        Ok(Cache { dir })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// Cached credentials with more than `margin` seconds left, if any (saying why an entry
    /// that is there cannot be trusted).
    pub fn fresh(&self, key: &str, margin: i64) -> Option<Assumed> {
        self.read_fresh(key, margin).unwrap_or_else(|e| {
            tracing::warn!("ignoring the cache entry: {e}");
            None
        })
    }

    /// As [`Cache::fresh`], without a word about an entry that cannot be trusted (the caller
    /// goes on to [`Cache::fresh`], which says it once).
    pub fn fresh_quietly(&self, key: &str, margin: i64) -> Option<Assumed> {
        self.read_fresh(key, margin).ok().flatten()
    }

    /// The entry if it is fresh; `Err` for one that is there but not the user's own regular
    /// file (a symbolic link, a FIFO, someone else's).
    fn read_fresh(&self, key: &str, margin: i64) -> io::Result<Option<Assumed>> {
        let path = self.path(key);
        // An entry is ~500 bytes: one read, no growth.
        let mut text = String::with_capacity(1024);
        match open_own_file(&path, OpenOptions::new().read(true)) {
            Ok(mut f) => {
                if f.read_to_string(&mut text).is_err() {
                    return Ok(None);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(parse_fresh(&text, margin))
    }
}

/// An entry's credentials, if it is one (version 1) with more than `margin` seconds left.
fn parse_fresh(text: &str, margin: i64) -> Option<Assumed> {
    let e: Entry = serde_json::from_str(text).ok()?;
    if e.version != 1 || e.expiration.saturating_sub(now_secs()) <= margin {
        return None;
    }
    Some(Assumed {
        credentials: Credentials {
            access_key_id: e.access_key_id,
            secret_access_key: Secret::new(e.secret_access_key),
            session_token: Secret::new(e.session_token),
            expiration: e.expiration,
        },
        assumed_role_arn: e.assumed_role_arn,
        account_id: e.account_id,
        region: e.region,
        chained: e.chained,
    })
}

impl Cache {
    /// Stores `a` under `key`, atomically and privately; `login` names the provider whose
    /// login they came from.
    pub fn store(&self, key: &str, a: &Assumed, login: Option<&str>) -> std::io::Result<()> {
        let c = &a.credentials;
        let entry = Entry {
            version: 1,
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key.expose().to_string(),
            session_token: c.session_token.expose().to_string(),
            expiration: c.expiration,
            account_id: a.account_id.clone(),
            assumed_role_arn: a.assumed_role_arn.clone(),
            region: a.region.clone(),
            chained: a.chained,
            login: login.map(str::to_string),
        };
        let text = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
        fs::stage_remakeable(&self.path(key), &text)?.commit()
    }

    /// Takes the refresh lock for `key`, waiting until `deadline` at most.
    pub fn lock(&self, key: &str, deadline: Instant) -> std::io::Result<Lock> {
        let path = self.dir.join(format!("{key}.lock"));
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let f = open_own_file(&path, &mut options)?;
        loop {
            match f.try_lock() {
                Ok(()) => return Ok(Lock { _file: f }),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(std::io::Error::other(format!(
                        "timed out waiting for the cache lock {}",
                        path.display()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes every entry cached from the login to `provider`; how many there were.
    pub fn forget_login(&self, provider: &str) -> io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let mut text = String::new();
            let Ok(mut f) = open_own_file(&path, OpenOptions::new().read(true)) else {
                continue;
            };
            if f.read_to_string(&mut text).is_err() {
                continue;
            }
            let from_login = serde_json::from_str::<Entry>(&text)
                .is_ok_and(|e| e.login.as_deref() == Some(provider));
            if from_login {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Held while refreshing; released on drop (the OS releases it if the process dies).
pub struct Lock {
    _file: File,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assumed(expiration: i64) -> Assumed {
        Assumed {
            credentials: Credentials {
                access_key_id: "ASIA1".into(),
                secret_access_key: Secret::new("s"),
                session_token: Secret::new("t"),
                expiration,
            },
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            chained: true,
        }
    }

    #[test]
    fn stores_and_honours_the_margin() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().join("c")).unwrap();
        let k = key("role=x");
        assert!(cache.fresh(&k, 300).is_none());
        cache.store(&k, &assumed(now_secs() + 600), None).unwrap();
        let a = cache.fresh(&k, 300).unwrap();
        assert_eq!(a.credentials.session_token.expose(), "t");
        assert!(a.chained);
        assert!(cache.fresh(&k, 700).is_none(), "less than the margin left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&cache.path(&k)), 0o600);
            assert_eq!(mode(cache.dir()), 0o700);
        }
    }

    #[cfg(unix)]
    fn chmod(p: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_directory_others_can_write() {
        let tmp = tempfile::tempdir().unwrap();
        for mode in [0o777, 0o770, 0o1777, 0o722] {
            let dir = tmp.path().join(format!("c{mode:o}"));
            std::fs::create_dir(&dir).unwrap();
            chmod(&dir, mode);
            let err = Cache::open(dir.clone()).expect_err("a directory others can write");
            let msg = err.to_string();
            assert!(msg.contains(&dir.display().to_string()), "{msg}");
            assert!(msg.contains("writable"), "{msg}");
        }
        // Readable by others is fine (the files in it are 0600).
        let dir = tmp.path().join("c755");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o755);
        Cache::open(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_directory_owned_by_someone_else() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to chown");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("theirs");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o700);
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let msg = Cache::open(dir.clone())
            .expect_err("someone else's directory")
            .to_string();
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
        assert!(msg.contains("owned by uid 65534"), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn creates_missing_parents_private() {
        let tmp = tempfile::tempdir().unwrap();
        chmod(tmp.path(), 0o1777); // like /tmp: a sticky parent others can write is fine
        let dir = tmp.path().join("a").join("b").join("c");
        let cache = Cache::open(dir.clone()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        for d in [tmp.path().join("a"), tmp.path().join("a/b"), dir] {
            assert_eq!(
                std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        drop(cache);
    }

    #[cfg(unix)]
    #[test]
    fn does_not_follow_a_symlinked_lock_or_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path().join("c")).unwrap();
        let k = key("role=x");
        let target = tmp.path().join("created-through-the-link");
        std::os::unix::fs::symlink(&target, cache.dir().join(format!("{k}.lock"))).unwrap();
        let err = cache
            .lock(&k, Instant::now())
            .err()
            .expect("a symlinked lock");
        assert!(err.to_string().contains(".lock"), "{err}");
        assert!(!target.exists(), "the lock followed the symlink");

        // An entry that is a symlink to a well-formed entry elsewhere is not read.
        let elsewhere = Cache::open(tmp.path().join("elsewhere")).unwrap();
        elsewhere
            .store(&k, &assumed(now_secs() + 600), None)
            .unwrap();
        std::os::unix::fs::symlink(elsewhere.path(&k), cache.path(&k)).unwrap();
        assert!(
            cache.fresh(&k, 300).is_none(),
            "the entry followed the symlink"
        );
    }

    #[cfg(unix)]
    #[test]
    fn ignores_an_entry_owned_by_someone_else() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to chown");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path().join("c")).unwrap();
        let k = key("role=x");
        cache.store(&k, &assumed(now_secs() + 600), None).unwrap();
        assert!(cache.fresh(&k, 300).is_some());
        std::os::unix::fs::chown(cache.path(&k), Some(65534), None).unwrap();
        assert!(
            cache.fresh(&k, 300).is_none(),
            "served an entry someone else owns"
        );
    }

    #[test]
    fn keys_differ_and_are_hex() {
        assert_ne!(key("a"), key("b"));
        assert_eq!(key("a"), key("a"));
        for k in [
            key("a"),
            key(""),
            key("v1 role=arn:aws:iam::123456789012:role/r"),
        ] {
            assert_eq!(k.len(), 64, "{k}");
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{k}"
            );
        }
        // SHA-256 of "abc" (FIPS 180-2 test vector): the key is the digest, not something else.
        assert_eq!(
            key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn lock_excludes_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().to_path_buf()).unwrap();
        let held = cache.lock("k", Instant::now()).unwrap();
        assert!(
            cache
                .lock("k", Instant::now() + Duration::from_millis(60))
                .is_err()
        );
        drop(held);
        assert!(cache.lock("k", Instant::now()).is_ok());
    }
}

#[cfg(test)]
mod forget_tests {
    use super::*;

    #[test]
    fn forget_login_removes_only_that_logins_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().join("c")).unwrap();
        let a = Assumed {
            credentials: Credentials {
                access_key_id: "ASIAEXAMPLEEXAMPLE01".into(),
                secret_access_key: Secret::new("s"),
                session_token: Secret::new("t"),
                expiration: now_secs() + 600,
            },
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            chained: false,
        };
        cache.store(&key("corp"), &a, Some("corp")).unwrap();
        cache.store(&key("other"), &a, Some("other")).unwrap();
        cache.store(&key("ci"), &a, None).unwrap();
        assert_eq!(cache.forget_login("corp").unwrap(), 1);
        assert!(cache.fresh(&key("corp"), 0).is_none());
        assert!(cache.fresh(&key("other"), 0).is_some());
        assert!(cache.fresh(&key("ci"), 0).is_some());
        assert_eq!(cache.forget_login("corp").unwrap(), 0);
    }
}
