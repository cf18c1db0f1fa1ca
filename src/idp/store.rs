//! The token store of interactive logins: per provider name, the refresh token, the latest ID
//! token and the access token (issue 14 exchanges it for a SAML assertion), each with its
//! expiry. Never the authorization code, the PKCE verifier or the device code: those live only
//! as long as the login.
//!
//! Two backends, picked by `token_store: auto | keyring | file` (`AWS_OIDC_TOKEN_STORE`):
//!
//! - **keyring**: `keyring-core` over the OS store: the kernel keyring on Linux (keyutils: no
//!   D-Bus, no daemon; lost on reboot), the Keychain on macOS, the Credential Manager on
//!   Windows. Service `aws-oidc`, one entry per secret, user `<provider>/<kind>`. Windows caps
//!   a credential blob at 2,560 bytes and an ID token can be larger (Entra ID with groups), and
//!   keyring-core refuses rather than splits (`Error::TooLong`): a secret longer than
//!   [`PART_BYTES`] is split here into parts `<provider>/<kind>/2`, `/3`… The first entry
//!   starts with a header (`aws-oidc:1:<parts>:<length>:<expiry>:`) that says how many parts
//!   follow and how long the whole is, so a part left over from an interrupted save is noticed
//!   (the entry reads as absent) rather than glued onto a token. At most [`MAX_PARTS`] parts.
//! - **file**: `<cache dir>/tokens/<provider>.json`, mode 0600 in a 0700 directory, replaced
//!   atomically ([`crate::fs::stage`]), read without following a symbolic link; the cache
//!   directory and `tokens/` must be the user's and writable by nobody else (the checks of the
//!   credentials cache, [`crate::cache`], applied to both).
//! - **auto**: the keyring when a cheap probe says it works, else the file, with a one-line
//!   notice ([`Store::notice`]) for `login` to print.
//!
//! Refresh tokens rotate, and reusing a spent one revokes the grant: [`Store::lock`] serialises
//! refreshes of one provider across processes with a lock file under the cache directory
//! (whatever the backend).

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cache::{Cache, CacheError, open_own_file};
use crate::secret::Secret;

/// The keyring service of every entry.
pub const SERVICE: &str = "aws-oidc";
/// The most bytes of a secret one keyring entry holds (Windows: 2,560 per blob, header
/// included).
pub const PART_BYTES: usize = 2048;
/// The most entries one secret may take (so at most 32 KiB per secret in a keyring).
pub const MAX_PARTS: usize = 16;
/// The environment variable that picks the backend.
pub const ENV_VAR: &str = "AWS_OIDC_TOKEN_STORE";

/// What a login leaves for later commands. `Debug` shows only which tokens are there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    pub id_token: Secret,
    /// Unix seconds (the ID token's `exp`).
    pub id_token_expires_at: i64,
    pub refresh_token: Option<Secret>,
    pub access_token: Option<Secret>,
    /// Unix seconds, when the provider said (`expires_in`).
    pub access_token_expires_at: Option<i64>,
}

/// `token_store:` in the config file, or `AWS_OIDC_TOKEN_STORE`.
pub use crate::config::StoreKind;

impl StoreKind {
    /// The backend to use: `AWS_OIDC_TOKEN_STORE` when set, else what the config file says
    /// (`configured`), else `auto`.
    pub fn resolve(
        configured: Option<StoreKind>,
        env: &crate::env::Env,
    ) -> Result<StoreKind, StoreError> {
        match env.get(ENV_VAR) {
            Some(v) => v.parse().map_err(|_| StoreError::BadKind(v.to_string())),
            None => Ok(configured.unwrap_or_default()),
        }
    }
}

/// Why the token store cannot do what was asked. Messages never hold a secret (keyring errors
/// are kept as their `Display`, which leaves the bytes out).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("token_store must be auto, keyring or file, not {0:?}")]
    BadKind(String),
    #[error(
        "provider name {0:?} cannot name stored tokens: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"
    )]
    BadProvider(String),
    #[error("no cache directory for the token store: set --cache-dir or AWS_OIDC_CACHE_DIR")]
    NoCacheDir,
    #[error(transparent)]
    Dir(#[from] CacheError),
    #[error("the token file {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the token file {0} is not aws-oidc's token file (or is damaged)")]
    Corrupt(PathBuf),
    /// `why` names the keyring ("the kernel keyring: no session keyring (…)").
    #[error("token_store is keyring, but no keyring is usable here: {why}")]
    KeyringUnusable { why: String },
    #[error("{keyring}: {action} the {kind} of provider {provider}: {why}")]
    Keyring {
        keyring: &'static str,
        action: &'static str,
        kind: &'static str,
        provider: String,
        why: String,
    },
    #[error(
        "the {kind} of provider {provider} is {len} bytes; a keyring entry holds at most {max} bytes"
    )]
    TooLarge {
        kind: &'static str,
        provider: String,
        len: usize,
        max: usize,
    },
}

impl StoreError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            StoreError::Dir(e) => Some(e.hint()),
            StoreError::KeyringUnusable { .. } => Some(
                "on Linux, run inside a session keyring (keyctl session - CMD), or set token_store: file (AWS_OIDC_TOKEN_STORE=file)".into(),
            ),
            StoreError::Keyring { .. } | StoreError::TooLarge { .. } => {
                Some("set token_store: file (AWS_OIDC_TOKEN_STORE=file) to keep the tokens in a private file instead".into())
            }
            StoreError::Corrupt(p) => Some(format!(
                "remove it (rm {}) and log in again",
                p.display()
            )),
            _ => None,
        }
    }
}

/// The secrets of a [`Tokens`], each one entry (or a few parts) in a keyring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Refresh,
    Id,
    Access,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Refresh, Kind::Id, Kind::Access];

    fn user_suffix(self) -> &'static str {
        match self {
            Kind::Refresh => "refresh_token",
            Kind::Id => "id_token",
            Kind::Access => "access_token",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Refresh => "refresh token",
            Kind::Id => "ID token",
            Kind::Access => "access token",
        }
    }
}

/// Where tokens go.
pub struct Store {
    backend: Backend,
    /// For the refresh locks (and the file backend's `tokens/`).
    cache_dir: Option<PathBuf>,
    notice: Option<String>,
}

enum Backend {
    Keyring(Keyring),
    File(FileStore),
}

struct Keyring {
    store: Arc<keyring_core::CredentialStore>,
    name: &'static str,
}

struct FileStore {
    dir: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.describe())
            .finish()
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Guard")
    }
}

/// Held while one process refreshes a provider's tokens; released on drop (or when the
/// process dies).
pub struct Guard {
    _lock: crate::cache::Lock,
}

/// The OS keyring of this platform, or why there is none.
fn platform_keyring() -> Result<Keyring, String> {
    #[cfg(target_os = "linux")]
    {
        let store = linux_keyutils_keyring_store::Store::new().map_err(|e| e.to_string())?;
        Ok(Keyring {
            store,
            name: "the kernel keyring",
        })
    }
    #[cfg(target_os = "macos")]
    {
        let store =
            apple_native_keyring_store::keychain::Store::new().map_err(|e| e.to_string())?;
        Ok(Keyring {
            store,
            name: "the macOS Keychain",
        })
    }
    #[cfg(target_os = "windows")]
    {
        let store = windows_native_keyring_store::Store::new().map_err(|e| e.to_string())?;
        Ok(Keyring {
            store,
            name: "the Windows Credential Manager",
        })
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    {
        Err("no keyring is supported on this platform".into())
    }
}

/// Whether the keyring can store something, cheaply and without blocking: on Linux, a
/// one-byte key is added to the session keyring and invalidated again (a process without a
/// session keyring gets EACCES or ENOKEY, or the build of the entry fails). The Keychain and
/// the Credential Manager are taken as usable once their store opens: writing there may show
/// a prompt.
fn probe(keyring: &Keyring) -> Result<(), String> {
    let entry = keyring
        .entry(".probe")
        .map_err(|e| format!("{}: {e}", keyring.name))?;
    if cfg!(target_os = "linux") {
        entry.set_secret(b"1").map_err(|e| match e {
            keyring_core::Error::NoStorageAccess(_) => {
                format!("{}: no session keyring ({e})", keyring.name)
            }
            e => format!("{}: {e}", keyring.name),
        })?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => {}
            Err(e) => return Err(format!("{}: {e}", keyring.name)),
        }
    }
    Ok(())
}

/// The platform keyring if the process's first probe of it succeeded.
///
/// Only the first probe counts. A Linux process without a session keyring (a container, an
/// SSH login without pam_keyinit: these machines) fails it with EACCES, and the failure
/// itself makes keyutils give the process a fresh anonymous session keyring (linking the
/// persistent keyring joins one), so a second probe would succeed, and the tokens would go
/// into a keyring that dies with the process: the next command would not find them.
fn usable_keyring() -> Result<Keyring, String> {
    static FIRST_PROBE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let keyring = platform_keyring()?;
    FIRST_PROBE.get_or_init(|| probe(&keyring)).clone()?;
    Ok(keyring)
}

impl Store {
    /// The store `kind` says, with `cache_dir` (from [`crate::cache::default_dir`] or
    /// `--cache-dir`) for the file backend and the refresh locks. `auto` never fails because
    /// of the keyring: an unusable one means the file (and a [`Store::notice`]).
    pub fn open(kind: StoreKind, cache_dir: Option<PathBuf>) -> Result<Store, StoreError> {
        Store::open_with(kind, cache_dir, usable_keyring())
    }

    fn open_with(
        kind: StoreKind,
        cache_dir: Option<PathBuf>,
        keyring: Result<Keyring, String>,
    ) -> Result<Store, StoreError> {
        match (kind, keyring) {
            (StoreKind::Keyring | StoreKind::Auto, Ok(k)) => Ok(Store {
                backend: Backend::Keyring(k),
                cache_dir,
                notice: None,
            }),
            (StoreKind::Keyring, Err(why)) => Err(StoreError::KeyringUnusable { why }),
            (StoreKind::File, _) => Store::file(cache_dir, None),
            (StoreKind::Auto, Err(why)) => Store::file(cache_dir, Some(why)),
        }
    }

    fn file(
        cache_dir: Option<PathBuf>,
        keyring_failed: Option<String>,
    ) -> Result<Store, StoreError> {
        let dir = tokens_dir(cache_dir.as_deref())?.dir().to_path_buf();
        let notice = keyring_failed.map(|why| {
            format!(
                "no usable keyring ({why}); tokens are kept in {} (mode 0600)",
                dir.display()
            )
        });
        Ok(Store {
            backend: Backend::File(FileStore { dir }),
            cache_dir,
            notice,
        })
    }

    /// The one-line notice `login` prints when `auto` fell back to the file, without the
    /// `aws-oidc: notice:` prefix (its callers print or log it with their own).
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Where the tokens go, for messages: "the kernel keyring", or the directory of the files.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Keyring(k) => k.name.to_string(),
            Backend::File(f) => f.dir.display().to_string(),
        }
    }

    /// Where `provider`'s tokens go, for `login` to say: "the kernel keyring (service
    /// aws-oidc, user corp/…)" or the file's path.
    pub fn location(&self, provider: &str) -> String {
        match &self.backend {
            Backend::Keyring(k) => format!("{} (service {SERVICE}, user {provider}/…)", k.name),
            Backend::File(f) => f.path(provider).display().to_string(),
        }
    }

    /// `provider`'s tokens, if a login stored some.
    pub fn load(&self, provider: &str) -> Result<Option<Tokens>, StoreError> {
        check_provider(provider)?;
        match &self.backend {
            Backend::Keyring(k) => k.load(provider),
            Backend::File(f) => f.load(provider),
        }
    }

    /// Stores `tokens` as `provider`'s, replacing what was there (a token absent from `tokens`
    /// is removed: keep the old refresh token yourself when a refresh answer has none). The
    /// refresh token is written first.
    pub fn save(&self, provider: &str, tokens: &Tokens) -> Result<(), StoreError> {
        check_provider(provider)?;
        match &self.backend {
            Backend::Keyring(k) => k.save(provider, tokens),
            Backend::File(f) => f.save(provider, tokens),
        }
    }

    /// Removes `provider`'s tokens (logout). `true` when there were some.
    pub fn delete(&self, provider: &str) -> Result<bool, StoreError> {
        check_provider(provider)?;
        match &self.backend {
            Backend::Keyring(k) => k.delete(provider),
            Backend::File(f) => f.delete(provider),
        }
    }

    /// Takes the refresh lock of `provider` (`<cache dir>/tokens/<provider>.lock`, opened
    /// without following a link), waiting at most `timeout` for another process's refresh.
    pub fn lock(&self, provider: &str, timeout: Duration) -> Result<Guard, StoreError> {
        check_provider(provider)?;
        let cache = tokens_dir(self.cache_dir.as_deref())?;
        let lock = cache
            .lock(provider, Instant::now() + timeout)
            .map_err(|source| StoreError::File {
                path: cache.dir().join(format!("{provider}.lock")),
                source,
            })?;
        Ok(Guard { _lock: lock })
    }
}

/// `<cache dir>/tokens`, opened after checking (and creating, 0700) both like the credentials
/// cache.
fn tokens_dir(cache_dir: Option<&Path>) -> Result<Cache, StoreError> {
    let cache_dir = cache_dir.ok_or(StoreError::NoCacheDir)?;
    Cache::open(cache_dir.to_path_buf())?;
    Ok(Cache::open(cache_dir.join("tokens"))?)
}

/// Provider names become file names and keyring users: a safe alphabet only.
/// Whether stored tokens can be named after this provider (file and keyring names).
pub fn is_storable_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_provider(name: &str) -> Result<(), StoreError> {
    if is_storable_name(name) {
        Ok(())
    } else {
        Err(StoreError::BadProvider(name.to_string()))
    }
}

// ---------------------------------------------------------------- keyring

impl Keyring {
    fn entry(&self, user: &str) -> keyring_core::Result<keyring_core::Entry> {
        keyring_core::Entry::new_in_store(&self.store, SERVICE, user)
    }

    fn user(provider: &str, kind: Kind, part: usize) -> String {
        if part == 1 {
            format!("{provider}/{}", kind.user_suffix())
        } else {
            format!("{provider}/{}/{part}", kind.user_suffix())
        }
    }

    fn fail(
        &self,
        action: &'static str,
        kind: Kind,
        provider: &str,
    ) -> impl FnOnce(keyring_core::Error) -> StoreError {
        let provider = provider.to_string();
        let keyring = self.name;
        move |e| StoreError::Keyring {
            keyring,
            action,
            kind: kind.describe(),
            provider,
            why: e.to_string(),
        }
    }

    /// The bytes of one entry, `None` when absent.
    fn get(&self, provider: &str, kind: Kind, part: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let read = self
            .entry(&Keyring::user(provider, kind, part))
            .and_then(|e| e.get_secret());
        match read {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.fail("cannot read", kind, provider)(e)),
        }
    }

    fn remove(&self, provider: &str, kind: Kind, part: usize) -> Result<bool, StoreError> {
        let removed = self
            .entry(&Keyring::user(provider, kind, part))
            .and_then(|e| e.delete_credential());
        match removed {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.fail("cannot delete", kind, provider)(e)),
        }
    }

    /// One secret and its expiry; `None` when absent or not whole (a save was interrupted).
    fn load_one(
        &self,
        provider: &str,
        kind: Kind,
    ) -> Result<Option<(Secret, Option<i64>)>, StoreError> {
        let Some(head) = self.get(provider, kind, 1)? else {
            return Ok(None);
        };
        let Some((parts, len, expiry, first)) = parse_header(&head) else {
            tracing::warn!(
                "ignoring the {} of provider {provider} in {}: not written by this aws-oidc",
                kind.describe(),
                self.name
            );
            return Ok(None);
        };
        let mut value = first.to_vec();
        for part in 2..=parts {
            match self.get(provider, kind, part)? {
                Some(bytes) => value.extend_from_slice(&bytes),
                None => break,
            }
        }
        if value.len() != len {
            tracing::warn!(
                "ignoring the {} of provider {provider} in {}: a part is missing (an interrupted save?)",
                kind.describe(),
                self.name
            );
            return Ok(None);
        }
        match String::from_utf8(value) {
            Ok(s) => Ok(Some((Secret::new(s), expiry))),
            Err(_) => Ok(None),
        }
    }

    fn load(&self, provider: &str) -> Result<Option<Tokens>, StoreError> {
        let Some((id_token, id_exp)) = self.load_one(provider, Kind::Id)? else {
            return Ok(None);
        };
        let refresh_token = self.load_one(provider, Kind::Refresh)?.map(|(s, _)| s);
        let access = self.load_one(provider, Kind::Access)?;
        Ok(Some(Tokens {
            id_token,
            id_token_expires_at: id_exp.unwrap_or(0),
            refresh_token,
            access_token_expires_at: access.as_ref().and_then(|(_, e)| *e),
            access_token: access.map(|(s, _)| s),
        }))
    }

    /// How many parts the stored secret has (to remove leftovers), 0 when absent.
    fn stored_parts(&self, provider: &str, kind: Kind) -> usize {
        match self.get(provider, kind, 1) {
            Ok(Some(head)) => parse_header(&head).map_or(MAX_PARTS, |(p, ..)| p),
            Ok(None) => 0,
            Err(_) => MAX_PARTS,
        }
    }

    fn save_one(
        &self,
        provider: &str,
        kind: Kind,
        value: Option<(&Secret, Option<i64>)>,
    ) -> Result<(), StoreError> {
        let old_parts = self.stored_parts(provider, kind);
        let Some((secret, expiry)) = value else {
            for part in (1..=old_parts).rev() {
                self.remove(provider, kind, part)?;
            }
            return Ok(());
        };
        let entries =
            split(secret.expose().as_bytes(), expiry).ok_or_else(|| StoreError::TooLarge {
                kind: kind.describe(),
                provider: provider.to_string(),
                len: secret.expose().len(),
                max: PART_BYTES * MAX_PARTS,
            })?;
        // Tail parts first, the header last: a reader sees the old header (whose length check
        // then fails) or the new one with its parts in place.
        for (i, bytes) in entries.iter().enumerate().rev() {
            self.entry(&Keyring::user(provider, kind, i + 1))
                .and_then(|e| e.set_secret(bytes))
                .map_err(self.fail("cannot store", kind, provider))?;
        }
        for part in (entries.len() + 1..=old_parts).rev() {
            self.remove(provider, kind, part)?;
        }
        Ok(())
    }

    fn save(&self, provider: &str, t: &Tokens) -> Result<(), StoreError> {
        self.save_one(
            provider,
            Kind::Refresh,
            t.refresh_token.as_ref().map(|s| (s, None)),
        )?;
        self.save_one(
            provider,
            Kind::Id,
            Some((&t.id_token, Some(t.id_token_expires_at))),
        )?;
        self.save_one(
            provider,
            Kind::Access,
            t.access_token
                .as_ref()
                .map(|s| (s, t.access_token_expires_at)),
        )
    }

    fn delete(&self, provider: &str) -> Result<bool, StoreError> {
        let mut any = false;
        for kind in Kind::ALL {
            // No first entry: sweep for parts an interrupted save may have left.
            let parts = match self.stored_parts(provider, kind) {
                0 => MAX_PARTS,
                n => n,
            };
            for part in (1..=parts).rev() {
                any |= self.remove(provider, kind, part)?;
            }
        }
        Ok(any)
    }
}

const HEADER_TAG: &str = "aws-oidc:1:";

/// The entries of one secret: the first with the header, each at most `PART_BYTES` of the
/// secret. `None` when it would take more than `MAX_PARTS`.
fn split(secret: &[u8], expiry: Option<i64>) -> Option<Vec<Vec<u8>>> {
    let chunks: Vec<&[u8]> = if secret.is_empty() {
        vec![&[]]
    } else {
        secret.chunks(PART_BYTES).collect()
    };
    if chunks.len() > MAX_PARTS {
        return None;
    }
    let expiry = expiry.map_or_else(|| "-".to_string(), |e| e.to_string());
    let mut head = format!("{HEADER_TAG}{}:{}:{expiry}:", chunks.len(), secret.len()).into_bytes();
    head.extend_from_slice(chunks[0]);
    let mut entries = vec![head];
    entries.extend(chunks[1..].iter().map(|c| c.to_vec()));
    Some(entries)
}

/// (parts, total length, expiry, the first part's bytes).
fn parse_header(head: &[u8]) -> Option<(usize, usize, Option<i64>, &[u8])> {
    let rest = head.strip_prefix(HEADER_TAG.as_bytes())?;
    let mut fields = rest.splitn(4, |b| *b == b':');
    fn num(f: Option<&[u8]>) -> Option<&str> {
        std::str::from_utf8(f?).ok()
    }
    let parts: usize = num(fields.next())?.parse().ok()?;
    let len: usize = num(fields.next())?.parse().ok()?;
    let expiry = match num(fields.next())? {
        "-" => None,
        e => Some(e.parse().ok()?),
    };
    let first = fields.next()?;
    ((1..=MAX_PARTS).contains(&parts)).then_some((parts, len, expiry, first))
}

// ---------------------------------------------------------------- file

/// The file's format. Plain strings only inside the writer and the reader.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    version: u8,
    id_token: String,
    id_token_expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token_expires_at: Option<i64>,
}

impl FileStore {
    fn path(&self, provider: &str) -> PathBuf {
        self.dir.join(format!("{provider}.json"))
    }

    fn load(&self, provider: &str) -> Result<Option<Tokens>, StoreError> {
        let path = self.path(provider);
        let mut text = String::new();
        let read = open_own_file(&path, OpenOptions::new().read(true))
            .and_then(|mut f| f.read_to_string(&mut text));
        match read {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::File { path, source }),
        }
        let e: FileEntry =
            serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(path.clone()))?;
        if e.version != 1 {
            return Err(StoreError::Corrupt(path));
        }
        Ok(Some(Tokens {
            id_token: Secret::new(e.id_token),
            id_token_expires_at: e.id_token_expires_at,
            refresh_token: e.refresh_token.map(Secret::new),
            access_token: e.access_token.map(Secret::new),
            access_token_expires_at: e.access_token_expires_at,
        }))
    }

    fn save(&self, provider: &str, t: &Tokens) -> Result<(), StoreError> {
        let path = self.path(provider);
        let entry = FileEntry {
            version: 1,
            id_token: t.id_token.expose().to_string(),
            id_token_expires_at: t.id_token_expires_at,
            refresh_token: t.refresh_token.as_ref().map(|s| s.expose().to_string()),
            access_token: t.access_token.as_ref().map(|s| s.expose().to_string()),
            access_token_expires_at: t.access_token_expires_at,
        };
        let text = serde_json::to_vec(&entry).map_err(|e| StoreError::File {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        crate::fs::stage(&path, &text)
            .and_then(crate::fs::Staged::commit)
            .map_err(|source| StoreError::File { path, source })
    }

    fn delete(&self, provider: &str) -> Result<bool, StoreError> {
        let path = self.path(provider);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::File { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnktaWQifQ.c2lnLWNhbmFyeQ";

    fn tokens() -> Tokens {
        Tokens {
            id_token: Secret::new(ID),
            id_token_expires_at: 1_900_000_000,
            refresh_token: Some(Secret::new("refresh-canary-0123456789")),
            access_token: Some(Secret::new("access-canary-0123456789")),
            access_token_expires_at: Some(1_900_000_100),
        }
    }

    fn mock_keyring() -> Keyring {
        Keyring {
            store: keyring_core::mock::Store::new().unwrap(),
            name: "the mock keyring",
        }
    }

    fn mock_store() -> Store {
        Store::open_with(StoreKind::Keyring, None, Ok(mock_keyring())).unwrap()
    }

    fn round_trip(store: &Store) {
        assert_eq!(store.load("corp").unwrap(), None);
        assert!(!store.delete("corp").unwrap(), "nothing to delete yet");
        store.save("corp", &tokens()).unwrap();
        assert_eq!(store.load("corp").unwrap(), Some(tokens()));
        // A refresh that leaves out the access token replaces the set.
        let next = Tokens {
            id_token: Secret::new("eyJ.second.id"),
            access_token: None,
            access_token_expires_at: None,
            ..tokens()
        };
        store.save("corp", &next).unwrap();
        assert_eq!(store.load("corp").unwrap(), Some(next));
        assert_eq!(store.load("other").unwrap(), None, "per provider");
        assert!(store.delete("corp").unwrap());
        assert_eq!(store.load("corp").unwrap(), None);
    }

    #[test]
    fn keyring_round_trip_on_the_mock_store() {
        round_trip(&mock_store());
    }

    #[test]
    fn file_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(StoreKind::File, Some(tmp.path().join("cache"))).unwrap();
        assert!(store.notice().is_none());
        round_trip(&store);
        assert_eq!(
            store.location("corp"),
            tmp.path()
                .join("cache/tokens/corp.json")
                .display()
                .to_string()
        );
    }

    /// Every entry fits Windows' 2,560-byte credential blob, a large ID token included.
    #[test]
    fn large_tokens_are_split_into_entries_under_the_windows_cap() {
        let store = mock_store();
        let Backend::Keyring(k) = &store.backend else {
            unreachable!()
        };
        let big = Tokens {
            id_token: Secret::new("i".repeat(7000)),
            refresh_token: Some(Secret::new("r".repeat(2500))),
            ..tokens()
        };
        store.save("corp", &big).unwrap();
        assert_eq!(store.load("corp").unwrap(), Some(big));
        let mut entries = 0;
        for kind in Kind::ALL {
            for part in 1..=MAX_PARTS {
                if let Some(bytes) = k.get("corp", kind, part).unwrap() {
                    assert!(bytes.len() <= 2560, "{kind:?} part {part}: {}", bytes.len());
                    entries += 1;
                }
            }
        }
        assert_eq!(entries, 4 + 2 + 1, "id token 4 parts, refresh 2, access 1");
        // A shorter token later leaves no stale part behind.
        store.save("corp", &tokens()).unwrap();
        assert_eq!(k.get("corp", Kind::Id, 2).unwrap(), None);
        assert_eq!(store.load("corp").unwrap(), Some(tokens()));
        store.delete("corp").unwrap();
        for kind in Kind::ALL {
            assert_eq!(k.get("corp", kind, 1).unwrap(), None);
        }
    }

    #[test]
    fn a_secret_over_the_keyring_limit_is_refused_clearly() {
        let store = mock_store();
        let huge = Tokens {
            id_token: Secret::new("i".repeat(PART_BYTES * MAX_PARTS + 1)),
            ..tokens()
        };
        let err = store.save("corp", &huge).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("ID token of provider corp is 32769 bytes"),
            "{msg}"
        );
        assert!(err.hint().unwrap().contains("token_store: file"));
    }

    #[test]
    fn a_missing_part_reads_as_no_tokens() {
        let store = mock_store();
        let Backend::Keyring(k) = &store.backend else {
            unreachable!()
        };
        let big = Tokens {
            id_token: Secret::new("i".repeat(5000)),
            ..tokens()
        };
        store.save("corp", &big).unwrap();
        assert!(k.remove("corp", Kind::Id, 3).unwrap());
        assert_eq!(store.load("corp").unwrap(), None);
    }

    #[test]
    fn secrets_never_in_debug_or_errors() {
        let t = tokens();
        let shown = format!("{t:?} {:?}", mock_store());
        for secret in [ID, "refresh-canary", "access-canary"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("the mock keyring"), "{shown}");
        // A keyring failure names the provider and the kind, never the value.
        let store = mock_store();
        let Backend::Keyring(k) = &store.backend else {
            unreachable!()
        };
        let err = k.fail("cannot store", Kind::Refresh, "corp")(keyring_core::Error::BadEncoding(
            b"refresh-canary".to_vec(),
        ));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("refresh-canary"), "{shown}");
        assert!(shown.contains("refresh token of provider corp"), "{shown}");
    }

    #[test]
    fn provider_names_are_checked() {
        let store = mock_store();
        for bad in ["", "../x", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(
                matches!(store.load(bad), Err(StoreError::BadProvider(_))),
                "{bad:?}"
            );
        }
        store.load("corp-dev_1.eu").unwrap();
    }

    #[test]
    fn kind_from_config_and_env() {
        use crate::env::Env;
        let none = Env::default();
        assert_eq!(StoreKind::resolve(None, &none).unwrap(), StoreKind::Auto);
        assert_eq!(
            StoreKind::resolve(Some(StoreKind::File), &none).unwrap(),
            StoreKind::File
        );
        let env = Env::default().with(ENV_VAR, "keyring");
        assert_eq!(
            StoreKind::resolve(Some(StoreKind::File), &env).unwrap(),
            StoreKind::Keyring,
            "the environment overrides the config file"
        );
        let bad = Env::default().with(ENV_VAR, "vault");
        let msg = StoreKind::resolve(None, &bad).unwrap_err().to_string();
        assert!(msg.contains("\"vault\""), "{msg}");
    }

    #[test]
    fn auto_falls_back_to_the_file_with_a_notice() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let store = Store::open_with(
            StoreKind::Auto,
            Some(cache.clone()),
            Err("the kernel keyring: Couldn't access platform storage: Permission denied".into()),
        )
        .unwrap();
        assert_eq!(store.describe(), cache.join("tokens").display().to_string());
        assert_eq!(
            store.notice().unwrap(),
            format!(
                "no usable keyring (the kernel keyring: Couldn't access platform storage: Permission denied); tokens are kept in {} (mode 0600)",
                cache.join("tokens").display()
            )
        );
        round_trip(&store);
        // Asked for explicitly, an unusable keyring is an error, not a silent file.
        let err = Store::open_with(
            StoreKind::Keyring,
            Some(cache),
            Err("the kernel keyring: no session keyring (AccessDenied)".into()),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "token_store is keyring, but no keyring is usable here: the kernel keyring: no session keyring (AccessDenied)"
        );
        assert!(err.hint().unwrap().contains("keyctl session"));
    }

    /// The real probe on this machine: with no session keyring (these machines, outside
    /// `keyctl session`) `auto` keeps the tokens in the file and says why; inside one it uses
    /// the kernel keyring. Either way, opening never fails because of the keyring.
    #[cfg(target_os = "linux")]
    #[test]
    fn auto_uses_the_real_probe_and_never_fails_because_of_the_keyring() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(StoreKind::Auto, Some(tmp.path().join("cache"))).unwrap();
        let usable = usable_keyring().map(|_| ());
        eprintln!("probe: {usable:?}; store: {}", store.describe());
        match usable {
            Ok(()) => {
                assert_eq!(store.describe(), "the kernel keyring");
                assert!(store.notice().is_none());
            }
            Err(why) => {
                assert!(store.describe().ends_with("tokens"), "{}", store.describe());
                let notice = store.notice().unwrap();
                assert!(notice.contains(&why), "{notice}");
            }
        }
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[cfg(unix)]
    #[test]
    fn file_modes_and_atomic_replace() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let store = Store::open(StoreKind::File, Some(cache.clone())).unwrap();
        store.save("corp", &tokens()).unwrap();
        let file = cache.join("tokens/corp.json");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&cache.join("tokens")), 0o700);
        assert_eq!(mode(&cache), 0o700);
        // Replaced by rename: a reader holding the old file keeps the old content whole, and
        // no temporary file is left behind.
        let mut old = std::fs::File::open(&file).unwrap();
        store
            .save(
                "corp",
                &Tokens {
                    id_token: Secret::new("eyJ.new.token"),
                    ..tokens()
                },
            )
            .unwrap();
        let mut before = String::new();
        old.read_to_string(&mut before).unwrap();
        assert!(before.contains(ID), "the old inode is untouched");
        let names: Vec<_> = std::fs::read_dir(cache.join("tokens"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["corp.json"]);
        assert_eq!(
            store.load("corp").unwrap().unwrap().id_token.expose(),
            "eyJ.new.token"
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_refuses_symlinks_and_a_directory_others_can_write() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let store = Store::open(StoreKind::File, Some(cache.clone())).unwrap();
        // A planted link at the token file: not read, not written through.
        let elsewhere = tmp.path().join("elsewhere.json");
        let other = Store::open(StoreKind::File, Some(tmp.path().join("other"))).unwrap();
        other.save("corp", &tokens()).unwrap();
        std::fs::copy(tmp.path().join("other/tokens/corp.json"), &elsewhere).unwrap();
        symlink(&elsewhere, cache.join("tokens/corp.json")).unwrap();
        let err = store.load("corp").unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let err = store.save("corp", &tokens()).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(std::fs::read_to_string(&elsewhere).unwrap().contains(ID));
        // A planted link at the lock.
        let target = tmp.path().join("created-through-the-link");
        symlink(&target, cache.join("tokens/corp.lock")).unwrap();
        assert!(store.lock("corp", Duration::ZERO).is_err());
        assert!(!target.exists());
        // tokens/ (or the cache dir) writable by others: refused.
        for dir in [cache.join("tokens"), cache.clone()] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            let err = Store::open(StoreKind::File, Some(cache.clone())).unwrap_err();
            assert!(err.to_string().contains("writable"), "{err}");
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
    }

    #[cfg(unix)]
    #[test]
    fn file_refuses_a_directory_another_user_owns() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to chown");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        Store::open(StoreKind::File, Some(cache.clone())).unwrap();
        std::os::unix::fs::chown(cache.join("tokens"), Some(65534), Some(65534)).unwrap();
        let err = Store::open(StoreKind::File, Some(cache))
            .unwrap_err()
            .to_string();
        assert!(err.contains("owned by uid 65534"), "{err}");
    }

    #[test]
    fn lock_serialises_refreshes_per_provider() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(StoreKind::File, Some(tmp.path().join("c"))).unwrap();
        let held = store.lock("corp", Duration::from_secs(1)).unwrap();
        assert!(store.lock("corp", Duration::from_millis(60)).is_err());
        let other = store.lock("dev", Duration::ZERO).unwrap();
        drop(held);
        store.lock("corp", Duration::ZERO).unwrap();
        drop(other);
        // The keyring backend locks under the cache directory too.
        let keyring = Store::open_with(
            StoreKind::Keyring,
            Some(tmp.path().join("c")),
            Ok(mock_keyring()),
        )
        .unwrap();
        let held = keyring.lock("corp", Duration::ZERO).unwrap();
        assert!(store.lock("corp", Duration::from_millis(60)).is_err());
        drop(held);
    }

    /// The kernel keyring for real: re-runs itself inside `keyctl session` (a fresh session
    /// keyring) when keyctl is there (Debian `keyutils`), else says why it is skipped.
    #[cfg(target_os = "linux")]
    #[test]
    fn kernel_keyring_round_trip() {
        const INSIDE: &str = "AWS_OIDC_TEST_IN_KEYCTL_SESSION";
        const NAME: &str = "idp::store::tests::kernel_keyring_round_trip";
        if std::env::var_os(INSIDE).is_some() {
            let tmp = tempfile::tempdir().unwrap();
            let store = Store::open(StoreKind::Auto, Some(tmp.path().join("c"))).unwrap();
            assert_eq!(store.describe(), "the kernel keyring");
            assert!(store.notice().is_none());
            let big = Tokens {
                id_token: Secret::new("i".repeat(5000)),
                ..tokens()
            };
            store.save("kr-test", &big).unwrap();
            assert_eq!(store.load("kr-test").unwrap(), Some(big));
            round_trip(&store);
            store.delete("kr-test").unwrap();
            assert_eq!(store.load("kr-test").unwrap(), None);
            return;
        }
        let works = std::process::Command::new("keyctl")
            .args(["session", "-", "true"])
            .output();
        match works {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                eprintln!(
                    "skipped: `keyctl session - true` failed ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                return;
            }
            Err(e) => {
                eprintln!("skipped: no keyctl ({e}); install keyutils to run this test");
                return;
            }
        }
        let out = std::process::Command::new("keyctl")
            .args(["session", "-"])
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(INSIDE, "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "inside keyctl session: {text}");
        assert!(
            text.contains("1 passed"),
            "the test did not run inside: {text}"
        );
    }
}
