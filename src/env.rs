//! The one snapshot of the process environment, taken once in `main` and read by every stage:
//! CI detection, token sources, region and endpoint resolution, proxies and trust roots,
//! outputs. Tests build their own with [`Env::from_pairs`] and never touch the process's.

use std::collections::BTreeMap;

/// The environment's UTF-8 variables (others are left out: no setting aws-oidc reads is
/// anything but text).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The current process's environment.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of these pairs (tests).
    #[cfg(test)]
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable that is set and not blank: how every setting is read (a CI that exports an
    /// empty variable has not set it).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// Whether the variable is set at all, even empty.
    pub fn contains(&self, key: &str) -> bool {
        self.vars.contains_key(key)
    }

    /// `true` when the variable is `true` (any case): the CIs' flags.
    pub fn is_true(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Every variable, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// This environment with `key` set (tests).
    #[cfg(test)]
    pub fn with(mut self, key: &str, value: &str) -> Env {
        self.vars.insert(key.to_string(), value.to_string());
        self
    }
}

/// The names only: values include secret keys and tokens.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl FromIterator<(String, String)> for Env {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Env {
        Env {
            vars: iter.into_iter().collect(),
        }
    }
}

impl<const N: usize> From<[(String, String); N]> for Env {
    fn from(pairs: [(String, String); N]) -> Env {
        pairs.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset() {
        let env = Env::from_pairs([("A", "x"), ("B", ""), ("C", "  "), ("D", "TRUE")]);
        assert_eq!(env.get("A"), Some("x"));
        assert_eq!(env.get("B"), None);
        assert_eq!(env.get("C"), None);
        assert!(env.contains("B") && !env.contains("E"));
        assert!(env.is_true("D") && !env.is_true("A"));
        assert_eq!(env.iter().count(), 4);
        assert_eq!(env.with("E", "1").get("E"), Some("1"));
        let secret = Env::from_pairs([("AWS_SECRET_ACCESS_KEY", "canary-secret-value")]);
        let shown = format!("{secret:?}");
        assert!(
            shown.contains("AWS_SECRET_ACCESS_KEY") && !shown.contains("canary"),
            "{shown}"
        );
    }
}
