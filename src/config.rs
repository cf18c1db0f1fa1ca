//! The configuration file: one YAML document with `providers:` (interactive OpenID providers for
//! `login`), `targets:` and `defaults:` (many roles in one run) and `token_store:`, each part
//! optional. Where it is: `--config FILE` / `$AWS_OIDC_CONFIG`, else
//! `$XDG_CONFIG_HOME/aws-oidc/config.yaml` (`~/.config/aws-oidc/config.yaml`). Unknown keys and
//! wrong types are errors that name the line. This module reads and checks the file; what the
//! settings mean is for the commands that use them.
//!
//! ```yaml
//! token_store: auto                 # auto | keyring | file (also AWS_OIDC_TOKEN_STORE)
//! providers:
//!   corp:
//!     issuer: https://idp.example.com/realms/main
//!     client_id: aws-cli
//!     client_secret: …              # optional (confidential clients)
//!     scopes: [openid, offline_access]
//!     audience: https://api.example.com   # optional extra authorization parameter (Auth0)
//!     extra_params: {prompt: consent}
//!     flow: auto                    # auto | browser | device
//!     redirect_ports: [0]           # 0: any free port
//!     role_arn: arn:aws:iam::123456789012:role/developer
//!     duration: 3600
//!     region: eu-west-1
//!     session_name_claim: email
//! defaults: {region: eu-west-1}
//! targets:
//!   prod: {role_arn: arn:aws:iam::111111111111:role/deploy}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::env::Env;
use crate::secret::Secret;

/// Why the file could not be used. Messages name the file and, where the parser knows it, the
/// line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("{path}: {detail}")]
    Invalid { path: String, detail: String },
}

/// The whole file.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    /// The text, for the line numbers of later checks.
    pub text: String,
    pub token_store: Option<StoreKind>,
    pub providers: BTreeMap<String, Provider>,
    pub defaults: TargetSpec,
    /// `None` when the file has no `targets:` (it then never turns `assume` into a targets run).
    pub targets: Option<BTreeMap<String, TargetSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    token_store: Option<StoreKind>,
    #[serde(default)]
    providers: BTreeMap<String, Provider>,
    #[serde(default)]
    defaults: TargetSpec,
    targets: Option<BTreeMap<String, TargetSpec>>,
}

/// Where interactive logins keep their tokens.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// The OS keyring when one is usable, else the file (with a notice).
    #[default]
    Auto,
    Keyring,
    File,
}

impl std::str::FromStr for StoreKind {
    type Err = String;
    fn from_str(s: &str) -> Result<StoreKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(StoreKind::Auto),
            "keyring" => Ok(StoreKind::Keyring),
            "file" => Ok(StoreKind::File),
            other => Err(format!(
                "token store `{other}` is not one of auto, keyring, file"
            )),
        }
    }
}

/// How `login` signs in.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    /// The browser when one can be opened, else the device grant.
    #[default]
    Auto,
    Browser,
    Device,
}

/// One named OpenID provider.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// `https://…`, or `http://127.0.0.1`/`http://localhost` (local providers, tests).
    pub issuer: String,
    pub client_id: String,
    /// For confidential clients; a secret, never shown.
    pub client_secret: Option<Secret>,
    /// Default `[openid]`.
    pub scopes: Option<Vec<String>>,
    /// An extra authorization parameter (Auth0's API identifier).
    pub audience: Option<String>,
    #[serde(default)]
    pub extra_params: BTreeMap<String, String>,
    #[serde(default)]
    pub flow: Flow,
    /// Loopback ports to listen on, first free wins; 0 is any free port. Default `[0]`.
    pub redirect_ports: Option<Vec<u16>>,
    /// The role assumed when `--role-arn` is absent.
    pub role_arn: Option<String>,
    pub duration: Option<i32>,
    pub region: Option<String>,
    /// The claim the session name comes from: default email, then preferred_username, then sub.
    pub session_name_claim: Option<String>,
    /// This provider's token store, over the file's `token_store:`.
    pub token_store: Option<StoreKind>,
    /// How AWS trusts this provider: OIDC (`AssumeRoleWithWebIdentity`, the default) or SAML 2.0
    /// through a token exchange (`AssumeRoleWithSAML`, issue 14).
    #[serde(default)]
    pub federation: Federation,
    /// With `federation: saml2`: the RFC 8693 exchange of the login's token for an assertion.
    pub token_exchange: Option<TokenExchange>,
}

/// How AWS trusts a provider.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Federation {
    #[default]
    Oidc,
    Saml2,
}

/// The token exchange that turns a login into a SAML assertion.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenExchange {
    /// The SAML client the assertion is for (Keycloak: the client id of the AWS SAML client).
    #[serde(default = "TokenExchange::default_audience")]
    pub audience: String,
    /// Which of the login's tokens is exchanged. Keycloak's legacy exchange takes only the
    /// access token ("Invalid token type, must be access token" for an ID token).
    #[serde(default)]
    pub subject_token_type: SubjectTokenType,
}

impl TokenExchange {
    fn default_audience() -> String {
        "urn:amazon:webservices".into()
    }
}

impl Default for TokenExchange {
    fn default() -> TokenExchange {
        TokenExchange {
            audience: TokenExchange::default_audience(),
            subject_token_type: SubjectTokenType::default(),
        }
    }
}

/// The token sent as `subject_token`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SubjectTokenType {
    #[default]
    AccessToken,
    IdToken,
}

impl Provider {
    /// The scopes asked for.
    pub fn scopes(&self) -> Vec<String> {
        self.scopes.clone().unwrap_or_else(|| vec!["openid".into()])
    }

    /// The loopback ports to try.
    pub fn redirect_ports(&self) -> Vec<u16> {
        self.redirect_ports.clone().unwrap_or_else(|| vec![0])
    }
}

/// A target of a many-roles run, or the `defaults:` every target starts from.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub role_arn: Option<String>,
    pub chain_role_arn: Option<String>,
    pub external_id: Option<String>,
    pub chain_session_name: Option<String>,
    pub session_name: Option<String>,
    pub region: Option<String>,
    pub duration: Option<i32>,
    pub sts_endpoint: Option<String>,
    pub policy: Option<String>,
    pub policy_arns: Option<Vec<String>>,
    pub outputs: Option<Vec<String>>,
}

/// `$XDG_CONFIG_HOME/aws-oidc/config.yaml`, else `~/.config/aws-oidc/config.yaml` (Windows:
/// `%APPDATA%\aws-oidc\config.yaml`).
pub fn default_path(env: &Env) -> Option<PathBuf> {
    let dir = |k: &str| env.get(k).map(PathBuf::from);
    dir("XDG_CONFIG_HOME")
        .or_else(|| dir("HOME").map(|h| h.join(".config")))
        .or_else(|| dir("APPDATA"))
        .map(|d| d.join("aws-oidc").join("config.yaml"))
}

/// The configuration: the file named (`--config`, `$AWS_OIDC_CONFIG`), which must exist, else the
/// default one when it exists, else `None`.
pub fn load(named: Option<&Path>, env: &Env) -> Result<Option<Config>, ConfigError> {
    match named {
        Some(path) => read(path).map(Some),
        None => match default_path(env) {
            Some(path) if path.is_file() => read(&path).map(Some),
            _ => Ok(None),
        },
    }
}

/// Reads and checks one file.
pub fn read(path: &Path) -> Result<Config, ConfigError> {
    use std::io::Read;
    let shown = path.display().to_string();
    // A configuration is small: a device or an endless pipe named by mistake stops here.
    const LIMIT: u64 = 1024 * 1024;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(LIMIT + 1).read_to_string(&mut text))
        .map_err(|err| ConfigError::Read {
            path: shown.clone(),
            err,
        })?;
    if text.len() as u64 > LIMIT {
        return Err(ConfigError::Invalid {
            path: shown,
            detail: "larger than 1 MiB, which is no configuration".into(),
        });
    }
    let config = parse(path, text)?;
    warn_if_others_can_read(&config);
    Ok(config)
}

/// Checks `text` as the content of the file at `path` (which is not read): what `setup` is
/// about to write, before it replaces the file.
pub fn parse(path: &Path, text: String) -> Result<Config, ConfigError> {
    let shown = path.display().to_string();
    let file: File = serde_saphyr::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: shown.clone(),
        detail: first_line(&e.to_string()),
    })?;
    let config = Config {
        path: path.to_path_buf(),
        token_store: file.token_store,
        providers: file.providers,
        defaults: file.defaults,
        targets: file.targets,
        text,
    };
    config.check()?;
    Ok(config)
}

impl Config {
    /// The 1-based line where `needle` first occurs, for messages.
    pub fn line_of(&self, needle: &str) -> Option<usize> {
        line_of(&self.text, needle)
    }

    /// A provider by name, or an error listing the ones there are.
    pub fn provider(&self, name: &str) -> Result<&Provider, String> {
        self.providers.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
            if known.is_empty() {
                format!(
                    "no provider `{name}`: {} has no `providers:`",
                    self.path.display()
                )
            } else {
                format!(
                    "no provider `{name}` in {} (providers: {})",
                    self.path.display(),
                    known.join(", ")
                )
            }
        })
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |name: &str, detail: String| {
            let at = self
                .line_of(&format!("{name}:"))
                .map_or(String::new(), |l| format!(" (line {l})"));
            ConfigError::Invalid {
                path: self.path.display().to_string(),
                detail: format!("provider {name}{at}: {detail}"),
            }
        };
        for (name, p) in &self.providers {
            check_issuer(&p.issuer).map_err(|d| invalid(name, d))?;
            if p.client_id.trim().is_empty() {
                return Err(invalid(name, "client_id is empty".into()));
            }
            if let Some(arn) = &p.role_arn {
                crate::aws::arn::RoleArn::parse(arn)
                    .map_err(|e| invalid(name, format!("role_arn: {e}")))?;
            }
            if let Some(d) = p.duration.filter(|d| !(900..=43200).contains(d)) {
                return Err(invalid(
                    name,
                    format!("duration {d} is outside 900-43200 seconds"),
                ));
            }
            if p.token_exchange.is_some() && p.federation != Federation::Saml2 {
                return Err(invalid(
                    name,
                    "token_exchange applies to `federation: saml2`".into(),
                ));
            }
            if p.scopes
                .as_ref()
                .is_some_and(|s| s.iter().any(|s| s.trim().is_empty() || s.contains(' ')))
            {
                return Err(invalid(
                    name,
                    "scopes must be single words, e.g. [openid, offline_access]".into(),
                ));
            }
        }
        Ok(())
    }
}

/// An issuer must be `https://`, except on the loopback (`http://127.0.0.1`, `http://localhost`)
/// for local providers and tests; no query, no fragment.
pub fn check_issuer(issuer: &str) -> Result<(), String> {
    // The hosts `idp::secure_url` lets discovery and the token endpoint reach over plain http.
    let loopback = ["http://127.0.0.1", "http://localhost"].iter().any(|p| {
        issuer
            .strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
    });
    let https = issuer.starts_with("https://") && issuer.len() > "https://".len();
    if !(https || loopback) {
        return Err(format!(
            "issuer `{issuer}` must be an https:// URL (http:// only on 127.0.0.1 or localhost)"
        ));
    }
    if issuer.contains(['?', '#']) {
        return Err(format!("issuer `{issuer}` must have no query or fragment"));
    }
    Ok(())
}

/// A file holding a client secret that others can read is worth a warning, not a refusal.
fn warn_if_others_can_read(config: &Config) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let has_secret = config.providers.values().any(|p| p.client_secret.is_some());
        let mode = std::fs::metadata(&config.path).map(|m| m.permissions().mode());
        if let (true, Ok(mode)) = (has_secret, mode)
            && mode & 0o077 != 0
        {
            tracing::warn!(
                "{} holds a client secret and is readable by others (mode {:04o}): chmod 600 {}",
                config.path.display(),
                mode & 0o7777,
                config.path.display()
            );
        }
    }
}

/// The 1-based line where `needle` first occurs in `text`.
pub fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The parser's first line ("line 4 column 5: unknown field …"), without its snippet.
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or(s);
    let line = line.split(" --> ").next().unwrap_or(line);
    line.trim_start_matches("error: ").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.yaml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    const FULL: &str = "token_store: file\nproviders:\n  corp:\n    issuer: https://idp.example.com/realms/main\n    client_id: aws-cli\n    client_secret: s3cr3t-value\n    scopes: [openid, offline_access]\n    audience: https://api.example.com\n    extra_params: {prompt: consent}\n    flow: device\n    redirect_ports: [8400, 8401]\n    role_arn: arn:aws:iam::123456789012:role/developer\n    duration: 1800\n    region: eu-west-1\n    session_name_claim: preferred_username\n    token_store: keyring\n  local:\n    issuer: http://127.0.0.1:8080\n    client_id: test\n";

    #[test]
    fn reads_providers_and_no_targets() {
        let (_d, p) = write(FULL);
        let c = read(&p).unwrap();
        assert_eq!(c.token_store, Some(StoreKind::File));
        assert!(c.targets.is_none(), "no targets: never a targets run");
        let corp = c.provider("corp").unwrap();
        assert_eq!(corp.flow, Flow::Device);
        assert_eq!(corp.scopes(), ["openid", "offline_access"]);
        assert_eq!(corp.redirect_ports(), [8400, 8401]);
        assert_eq!(corp.extra_params["prompt"], "consent");
        assert_eq!(corp.token_store, Some(StoreKind::Keyring));
        assert_eq!(corp.audience.as_deref(), Some("https://api.example.com"));
        assert_eq!(corp.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            corp.session_name_claim.as_deref(),
            Some("preferred_username")
        );
        assert_eq!(corp.duration, Some(1800));
        assert_eq!(
            corp.client_secret.as_ref().unwrap().expose(),
            "s3cr3t-value"
        );
        assert!(
            !format!("{corp:?}").contains("s3cr3t-value"),
            "a secret in Debug"
        );
        let local = c.provider("local").unwrap();
        assert_eq!(local.scopes(), ["openid"]);
        assert_eq!(local.redirect_ports(), [0]);
        assert_eq!(local.flow, Flow::Auto);
        let e = c.provider("nope").unwrap_err();
        assert!(e.contains("providers: corp, local"), "{e}");
    }

    #[test]
    fn saml_providers_name_their_exchange() {
        let (_d, p) = write(
            "providers:\n  kc:\n    issuer: https://sso.example.com/realms/main\n    client_id: aws-cli\n    federation: saml2\n    token_exchange: {audience: urn:amazon:webservices, subject_token_type: access_token}\n  plain:\n    issuer: https://sso.example.com/realms/main\n    client_id: aws-cli\n    federation: saml2\n",
        );
        let c = read(&p).unwrap();
        let kc = c.provider("kc").unwrap();
        assert_eq!(kc.federation, Federation::Saml2);
        let x = kc.token_exchange.as_ref().unwrap();
        assert_eq!(x.audience, "urn:amazon:webservices");
        assert_eq!(x.subject_token_type, SubjectTokenType::AccessToken);
        assert!(c.provider("plain").unwrap().token_exchange.is_none());
        let (_d, p) = write(
            "providers:\n  kc:\n    issuer: https://sso.example.com\n    client_id: a\n    token_exchange: {audience: x}\n",
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(
            e.contains("token_exchange applies to `federation: saml2`"),
            "{e}"
        );
        let (_d, p) = write(
            "providers:\n  kc:\n    issuer: https://sso.example.com\n    client_id: a\n    federation: saml\n",
        );
        assert!(read(&p).unwrap_err().to_string().contains("line 5"));
    }

    #[test]
    fn a_targets_file_without_providers_still_reads() {
        let (_d, p) = write(
            "defaults:\n  region: eu-west-1\ntargets:\n  prod:\n    role_arn: arn:aws:iam::111111111111:role/deploy\n",
        );
        let c = read(&p).unwrap();
        assert!(c.providers.is_empty());
        let t = c.targets.unwrap();
        assert_eq!(
            t["prod"].role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/deploy")
        );
        assert_eq!(c.defaults.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn errors_name_the_line() {
        let (_d, p) = write(
            "providers:\n  corp:\n    issuer: https://x.example\n    client_id: a\n    clientid: b\n",
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("clientid") && e.contains("line 5 column"), "{e}");
        let (_d, p) = write(
            "providers:\n  corp:\n    issuer: https://x.example\n    client_id: a\n    duration: soon\n",
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("line 5 column"), "{e}");
        let (_d, p) = write(
            "providers:\n  a:\n    issuer: https://a.example\n    client_id: a\n  corp:\n    issuer: http://idp.example.com\n    client_id: a\n",
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(
            e.contains("provider corp (line 5)") && e.contains("https://"),
            "{e}"
        );
        let (_d, p) = write(
            "providers:\n  corp:\n    issuer: https://x.example\n    client_id: a\n    flow: web\n",
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("line 5 column"), "{e}");
        let (_d, p) = write(
            "providers:\n  corp:\n    issuer: https://x.example\n    client_id: a\n    role_arn: developer\n",
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("provider corp (line 2): role_arn"), "{e}");
    }

    #[test]
    fn issuers() {
        for ok in [
            "https://idp.example.com",
            "https://idp.example.com/realms/main",
            "https://dev-abc.us.auth0.com/",
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://localhost:3000/oidc",
        ] {
            assert!(check_issuer(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example",
            "https://",
            "idp.example.com",
            "https://idp.example.com/?x=1",
            // Discovery would refuse it (plain http only to 127.0.0.1 and localhost).
            "http://[::1]:8080",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_path_follows_xdg() {
        let env = Env::from_pairs([("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(
            default_path(&env).unwrap(),
            Path::new("/x/aws-oidc/config.yaml")
        );
        let env = Env::from_pairs([("HOME", "/h")]);
        assert_eq!(
            default_path(&env).unwrap(),
            Path::new("/h/.config/aws-oidc/config.yaml")
        );
        let env = Env::from_pairs([("HOME", "/nonexistent-home-for-test")]);
        assert!(
            load(None, &env).unwrap().is_none(),
            "a missing default file is no config"
        );
        assert!(load(Some(Path::new("/nonexistent/config.yaml")), &env).is_err());
    }

    #[test]
    fn a_device_as_config_is_cut_off() {
        let e = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("larger than 1 MiB"), "{e}");
    }
}
