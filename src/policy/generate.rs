//! Generating a trust policy: for a CI system and a scope (repository or project, branch, tag,
//! environment, …), or from a real token (the tightest policy that admits it), plus the command
//! and the Terraform/CloudFormation snippets that register the OIDC provider.
//!
//! Each CI's subject format, default issuer and audience live in its file under `src/ci/`
//! (from /work/shared/reference/ci-and-aws-facts.md and the CIs' docs); the input is a plain
//! [`TrustRequest`] that the command layer fills from its options.

use super::document::has_wildcard;
use super::explain::{ASSUME, TAG_SESSION, breadth};
use super::keys::{self, Context};
use crate::aws::partition::Partition;
use crate::ci::{TrustDraft, TrustRequest};
use crate::token::jwt::Claims;

/// What a generated policy admits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trust {
    /// The issuer URL (`https://…`).
    pub issuer: String,
    pub audiences: Vec<String>,
    pub subs: Vec<String>,
    /// Compare subjects exactly even if they contain `*` or `?` (from a real token).
    pub exact: bool,
    /// Also allow `sts:TagSession` (the token carries session tags).
    pub tag_session: bool,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

fn usage(msg: impl Into<String>) -> String {
    msg.into()
}

fn check_issuer(url: &str) -> Result<String, String> {
    let url = url.trim().to_string();
    if !url.starts_with("https://") || url.len() <= "https://".len() || url.contains('?') {
        return Err(usage(format!(
            "the issuer `{url}` must be an https:// URL without a query (IAM accepts only those)"
        )));
    }
    Ok(url)
}

/// The policy for `--ci` and the scope options: the CI writes its subjects
/// ([`crate::ci::CiSystem::trust`]), this adds `--sub`, checks the issuer and warns.
pub fn for_ci(request: &TrustRequest, partition: Partition) -> Result<Trust, String> {
    let ci = request.ci.ok_or_else(|| {
        usage(format!(
            "give --ci ({}) or --from-token",
            crate::ci::choices()
        ))
    })?;
    let values = request
        .branch
        .iter()
        .chain(&request.tag)
        .chain(&request.environment);
    if values.chain(&request.subs).any(|v| v.trim().is_empty()) {
        return Err(usage("an empty --branch, --tag, --environment or --sub"));
    }
    let TrustDraft {
        issuer,
        audience,
        mut subs,
        mut warnings,
        notes,
    } = ci.trust(request, partition.default_audience())?;
    subs.extend(request.subs.iter().cloned());
    subs.dedup();
    let issuer = check_issuer(&issuer)?;
    let provider = keys::provider_of(&issuer);
    for s in &subs {
        if let Some(w) = breadth(&provider, "x:sub", s) {
            warnings.push(w);
        }
    }
    if has_wildcard(&audience) {
        warnings.push(format!(
            "the audience `{audience}` has a wildcard; pin the exact audience you request"
        ));
    }
    Ok(Trust {
        issuer,
        audiences: vec![audience],
        subs,
        exact: false,
        tag_session: false,
        warnings,
        notes,
    })
}

/// The tightest policy that admits a real token: exact sub and aud.
pub fn from_claims(claims: &Claims) -> Result<Trust, String> {
    let iss = claims
        .iss
        .as_deref()
        .ok_or_else(|| usage("the token has no `iss` claim"))?;
    let issuer = check_issuer(iss)?;
    let sub = claims
        .sub
        .clone()
        .ok_or_else(|| usage("the token has no `sub` claim"))?;
    let ctx = Context::from_claims(claims);
    let provider = keys::provider_of(&issuer);
    let audiences = ctx
        .provided()
        .into_iter()
        .find(|k| k.key == format!("{provider}:aud"))
        .map(|k| k.values)
        .unwrap_or_default();
    if audiences.is_empty() {
        return Err(usage("the token has no `aud` claim"));
    }
    let mut notes = vec![format!(
        "this policy admits exactly this token's sub `{sub}`: other branches, tags or environments need their own value"
    )];
    if audiences.len() > 1 {
        notes.push(format!(
            "the token has several audiences ({}); IAM needs one of them in the provider's client ID list",
            audiences.join(", ")
        ));
    }
    if let Some(w) = claims
        .all
        .get("job_workflow_ref")
        .and_then(serde_json::Value::as_str)
    {
        notes.push(format!(
            "the job runs the reusable workflow `{w}`, but sub names the calling repository and IAM cannot check job_workflow_ref unless GitHub's sub template includes it"
        ));
    }
    Ok(Trust {
        issuer,
        audiences,
        subs: vec![sub],
        exact: true,
        tag_session: ctx.has_session_tags(),
        warnings: Vec::new(),
        notes,
    })
}

// ---------------------------------------------------------------------------------------------
// Rendering (ordered JSON, so that the output reads like AWS's examples)
// ---------------------------------------------------------------------------------------------

enum J {
    S(String),
    A(Vec<J>),
    O(Vec<(String, J)>),
}

fn s(v: &str) -> J {
    J::S(v.to_string())
}

fn one_or_many(values: &[String]) -> J {
    match values {
        [one] => s(one),
        many => J::A(many.iter().map(|v| s(v)).collect()),
    }
}

impl J {
    fn write(&self, out: &mut String, indent: usize) {
        let pad = "  ".repeat(indent + 1);
        let end = "  ".repeat(indent);
        match self {
            J::S(v) => out.push_str(&serde_json::Value::String(v.clone()).to_string()),
            J::A(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad);
                    item.write(out, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&end);
                out.push(']');
            }
            J::O(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    out.push_str(&pad);
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    v.write(out, indent + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                out.push_str(&end);
                out.push('}');
            }
        }
    }
}

impl Trust {
    /// `token.actions.githubusercontent.com`, as IAM names the provider.
    pub fn provider(&self) -> String {
        keys::provider_of(&self.issuer)
    }

    pub fn provider_arn(&self, partition: Partition, account: &str) -> String {
        crate::aws::arn::provider_arn(partition, account, &self.provider())
    }

    fn document(&self, partition: Partition, account: &str) -> J {
        let p = self.provider();
        let like = !self.exact && self.subs.iter().any(|s| has_wildcard(s));
        let aud = (format!("{p}:aud"), one_or_many(&self.audiences));
        let sub = (format!("{p}:sub"), one_or_many(&self.subs));
        let condition = if like {
            J::O(vec![
                ("StringEquals".into(), J::O(vec![aud])),
                ("StringLike".into(), J::O(vec![sub])),
            ])
        } else {
            J::O(vec![("StringEquals".into(), J::O(vec![aud, sub]))])
        };
        let action = if self.tag_session {
            J::A(vec![s(ASSUME), s(TAG_SESSION)])
        } else {
            s(ASSUME)
        };
        J::O(vec![
            ("Version".into(), s("2012-10-17")),
            (
                "Statement".into(),
                J::A(vec![J::O(vec![
                    ("Effect".into(), s("Allow")),
                    (
                        "Principal".into(),
                        J::O(vec![(
                            "Federated".into(),
                            s(&self.provider_arn(partition, account)),
                        )]),
                    ),
                    ("Action".into(), action),
                    ("Condition".into(), condition),
                ])]),
            ),
        ])
    }

    /// The trust policy, pretty-printed JSON (no trailing newline).
    pub fn policy_json(&self, partition: Partition, account: &str) -> String {
        let mut out = String::new();
        self.document(partition, account).write(&mut out, 0);
        out
    }

    fn indented(&self, partition: Partition, account: &str, by: &str) -> String {
        self.policy_json(partition, account)
            .lines()
            .map(|l| format!("{by}{l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The command that registers the provider (no thumbprint: IAM no longer needs one).
    pub fn cli_command(&self) -> String {
        format!(
            "aws iam create-open-id-connect-provider --url {} --client-id-list {}",
            self.issuer,
            self.audiences.join(" ")
        )
    }

    pub fn terraform(&self, partition: Partition, account: &str) -> String {
        let ids = self
            .audiences
            .iter()
            .map(|a| serde_json::Value::String(a.clone()).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "resource \"aws_iam_openid_connect_provider\" \"ci\" {{\n  url            = {}\n  client_id_list = [{ids}]\n}}\n\nresource \"aws_iam_role\" \"ci\" {{\n  name               = \"ci\"\n  assume_role_policy = <<-EOT\n{}\n  EOT\n  depends_on         = [aws_iam_openid_connect_provider.ci]\n}}\n",
            serde_json::Value::String(self.issuer.clone()),
            self.indented(partition, account, "    ")
        )
    }

    pub fn cloudformation(&self, partition: Partition, account: &str) -> String {
        let ids = self
            .audiences
            .iter()
            .map(|a| format!("        - {}", serde_json::Value::String(a.clone())))
            .collect::<Vec<_>>()
            .join("\n");
        format!(
            "Resources:\n  CiOidcProvider:\n    Type: AWS::IAM::OIDCProvider\n    Properties:\n      Url: {}\n      ClientIdList:\n{ids}\n  CiRole:\n    Type: AWS::IAM::Role\n    DependsOn: CiOidcProvider\n    Properties:\n      AssumeRolePolicyDocument:\n{}\n",
            serde_json::Value::String(self.issuer.clone()),
            self.indented(partition, account, "        ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn args(argv: &[&str]) -> TrustRequest {
        TrustRequest::from_flags(argv)
    }

    fn policy(argv: &[&str]) -> serde_json::Value {
        let t = for_ci(&args(argv), Partition::Aws).unwrap();
        serde_json::from_str(&t.policy_json(Partition::Aws, "123456789012")).unwrap()
    }

    #[test]
    fn github_branch_is_exact() {
        let p = policy(&["--ci", "github", "--repo", "o/r", "--branch", "main"]);
        let st = &p["Statement"][0];
        assert_eq!(
            st["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        );
        assert_eq!(
            st["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"],
            "repo:o/r:ref:refs/heads/main"
        );
        assert_eq!(
            st["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com"
        );
        assert!(st["Condition"].get("StringLike").is_none());
    }

    #[test]
    fn wildcards_need_string_like() {
        let p = policy(&[
            "--ci", "github", "--repo", "o/r", "--tag", "v*", "--branch", "main",
        ]);
        let c = &p["Statement"][0]["Condition"];
        assert_eq!(
            c["StringLike"]["token.actions.githubusercontent.com:sub"],
            serde_json::json!(["repo:o/r:ref:refs/heads/main", "repo:o/r:ref:refs/tags/v*"])
        );
        assert_eq!(
            c["StringEquals"]["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com"
        );
    }

    #[test]
    fn unscoped_repo_warns() {
        let t = for_ci(&args(&["--ci", "github", "--repo", "o/r"]), Partition::Aws).unwrap();
        assert_eq!(t.subs, ["repo:o/r:*"]);
        assert!(t.warnings.iter().any(|w| w.contains("pull request")));
    }

    #[test]
    fn gitlab_self_managed_with_path_and_china_partition() {
        let t = for_ci(
            &args(&[
                "--ci",
                "gitlab",
                "--project",
                "g/sub/p",
                "--branch",
                "main",
                "--issuer",
                "https://git.example.cn/gitlab",
            ]),
            Partition::AwsCn,
        )
        .unwrap();
        assert_eq!(t.audiences, ["sts.amazonaws.com.cn"]);
        let p: serde_json::Value =
            serde_json::from_str(&t.policy_json(Partition::AwsCn, "123456789012")).unwrap();
        let st = &p["Statement"][0];
        assert_eq!(
            st["Principal"]["Federated"],
            "arn:aws-cn:iam::123456789012:oidc-provider/git.example.cn/gitlab"
        );
        assert_eq!(
            st["Condition"]["StringEquals"]["git.example.cn/gitlab:sub"],
            "project_path:g/sub/p:ref_type:branch:ref:main"
        );
    }

    #[test]
    fn gitlab_environment_alone_is_refused() {
        let e = for_ci(
            &args(&[
                "--ci",
                "gitlab",
                "--project",
                "g/p",
                "--environment",
                "prod",
            ]),
            Partition::Aws,
        )
        .unwrap_err();
        assert!(e.contains("environment"));
        let t = for_ci(
            &args(&[
                "--ci",
                "gitlab",
                "--project",
                "g/p",
                "--environment",
                "prod",
                "--tag",
                "v1.0",
            ]),
            Partition::Aws,
        )
        .unwrap();
        assert_eq!(t.subs, ["project_path:g/p:ref_type:tag:ref:v1.0"]);
        assert!(t.warnings.iter().any(|w| w.contains("environment")));
    }

    #[test]
    fn other_cis() {
        let t = for_ci(
            &args(&["--ci", "circleci", "--org-id", "O", "--project-id", "P"]),
            Partition::Aws,
        )
        .unwrap();
        assert_eq!(t.issuer, "https://oidc.circleci.com/org/O");
        assert_eq!(t.audiences, ["O"]);
        assert_eq!(t.subs, ["org/O/project/P/user/*"]);
        let t = for_ci(
            &args(&[
                "--ci",
                "buildkite",
                "--organization",
                "acme",
                "--pipeline",
                "deploy",
                "--branch",
                "main",
            ]),
            Partition::Aws,
        )
        .unwrap();
        assert_eq!(
            t.subs,
            ["organization:acme:pipeline:deploy:ref:refs/heads/main:*"]
        );
        let t = for_ci(
            &args(&[
                "--ci",
                "bitbucket",
                "--workspace",
                "acme",
                "--workspace-uuid",
                "{w-1}",
                "--repo-uuid",
                "r-1",
            ]),
            Partition::Aws,
        )
        .unwrap();
        assert_eq!(t.audiences, ["ari:cloud:bitbucket::workspace/w-1"]);
        assert_eq!(t.subs, ["{r-1}:*"]);
        assert!(
            for_ci(
                &args(&["--ci", "bitbucket", "--workspace", "a", "--repo-uuid", "r"]),
                Partition::Aws
            )
            .is_err()
        );
        assert!(
            for_ci(
                &args(&["--ci", "gitlab", "--project", "g/p", "--pull-request"]),
                Partition::Aws
            )
            .is_err()
        );
        assert!(for_ci(&args(&["--ci", "github", "--repo", "nope"]), Partition::Aws).is_err());
        assert!(
            for_ci(
                &args(&["--ci", "github", "--repo", "o/r", "--issuer", "http://x"]),
                Partition::Aws
            )
            .is_err()
        );
    }

    #[test]
    fn snippets() {
        let t = for_ci(
            &args(&["--ci", "github", "--repo", "o/r", "--branch", "main"]),
            Partition::Aws,
        )
        .unwrap();
        assert_eq!(
            t.cli_command(),
            "aws iam create-open-id-connect-provider --url https://token.actions.githubusercontent.com --client-id-list sts.amazonaws.com"
        );
        let tf = t.terraform(Partition::Aws, "123456789012");
        assert!(
            tf.contains("aws_iam_openid_connect_provider")
                && tf.contains("repo:o/r:ref:refs/heads/main")
        );
        let cfn = t.cloudformation(Partition::Aws, "123456789012");
        assert!(cfn.contains("AWS::IAM::OIDCProvider") && cfn.contains("AssumeRolePolicyDocument"));
    }
}
