//! `KEY=value` in every dialect: dotenv, POSIX sh, fish and PowerShell.

/// Why a value cannot be written in a format (only for values no quoting can carry).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name} cannot be written: {why}")]
pub struct Unrepresentable {
    pub name: String,
    pub why: &'static str,
}

/// Dotenv as GitLab's `artifacts:reports:dotenv` reads it: `KEY=value`, no quotes,
/// no comments, no blank lines, one line per value.
pub fn dotenv(vars: &[(&str, String)]) -> Result<String, Unrepresentable> {
    let mut out = String::new();
    for (name, value) in vars {
        let bad = |why| Unrepresentable {
            name: name.to_string(),
            why,
        };
        if value.contains(['\n', '\r', '\0']) {
            return Err(bad("a dotenv line cannot carry a line break or NUL"));
        }
        if value.trim() != value {
            return Err(bad("a dotenv value cannot start or end with white space"));
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
        out.push('\n');
    }
    Ok(out)
}

/// POSIX sh/bash/zsh: `export KEY='value'`.
pub fn sh(vars: &[(&str, String)]) -> String {
    vars.iter()
        .map(|(name, value)| format!("export {name}='{}'\n", value.replace('\'', r"'\''")))
        .collect()
}

/// fish: `set -gx KEY 'value'`.
pub fn fish(vars: &[(&str, String)]) -> String {
    vars.iter()
        .map(|(name, value)| {
            let quoted = value.replace('\\', r"\\").replace('\'', r"\'");
            format!("set -gx {name} '{quoted}'\n")
        })
        .collect()
}

/// PowerShell: `$env:KEY = 'value'` (single quotes, including the typographic ones, doubled).
pub fn powershell(vars: &[(&str, String)]) -> String {
    vars.iter()
        .map(|(name, value)| {
            let mut quoted = String::with_capacity(value.len());
            for c in value.chars() {
                if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
                    quoted.push(c);
                }
                quoted.push(c);
            }
            format!("$env:{name} = '{quoted}'\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(&'static str, String)> {
        vec![("A", "x/y+z=".into()), ("B", "it's".into())]
    }

    #[test]
    fn exact_bytes() {
        assert_eq!(dotenv(&vars()).unwrap(), "A=x/y+z=\nB=it's\n");
        assert_eq!(sh(&vars()), "export A='x/y+z='\nexport B='it'\\''s'\n");
        assert_eq!(fish(&vars()), "set -gx A 'x/y+z='\nset -gx B 'it\\'s'\n");
        assert_eq!(powershell(&vars()), "$env:A = 'x/y+z='\n$env:B = 'it''s'\n");
        assert_eq!(
            powershell(&[("C", "a\u{2019}b".into())]),
            "$env:C = 'a\u{2019}\u{2019}b'\n"
        );
        assert_eq!(fish(&[("D", r"a\b".into())]), "set -gx D 'a\\\\b'\n");
    }

    #[test]
    fn dotenv_refuses_what_it_cannot_carry() {
        assert!(dotenv(&[("A", "x\nB=y".into())]).is_err());
        assert!(dotenv(&[("A", " x".into())]).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn sh_round_trips_through_a_real_shell() {
        let nasty = "a'b\"c$(echo pwned)`x`\\n\nZ=1 ;|&";
        let script = sh(&[("V", nasty.into())]) + "printf %s \"$V\"";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), nasty);
    }

    /// GitLab's dotenv reader: each line split at the first `=`, both sides stripped.
    fn gitlab_dotenv(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect()
    }

    /// PowerShell's single-quoted string: a quote (straight or typographic) doubled is one
    /// quote; a single one ends the string.
    fn powershell_value(line: &str) -> Option<String> {
        let is_quote =
            |c: char| matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}');
        let start = line.find(" = ")? + 3;
        let mut chars = line[start..].chars().peekable();
        if !chars.next().is_some_and(is_quote) {
            return None;
        }
        let mut out = String::new();
        while let Some(c) = chars.next() {
            if is_quote(c) {
                match chars.peek() {
                    Some(&n) if is_quote(n) => {
                        out.push(n);
                        chars.next();
                    }
                    _ => return chars.next().is_none().then_some(out),
                }
            } else {
                out.push(c);
            }
        }
        None
    }

    fn round_trip_shell(shell: &str, script: String) -> Option<String> {
        let out = std::process::Command::new(shell)
            .arg("-c")
            .arg(script)
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8(out.stdout).unwrap())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        #[test]
        fn sh_quoting_survives_sh_and_bash(value in "[^\\x00]{0,40}") {
            let script = sh(&[("V", value.clone()), ("W", "after".into())]) + "printf '%s|%s' \"$V\" \"$W\"";
            for shell in ["sh", "bash"] {
                if let Some(got) = round_trip_shell(shell, script.clone()) {
                    proptest::prop_assert_eq!(got, format!("{value}|after"));
                }
            }
        }

        #[test]
        fn fish_quoting_survives_fish(value in "[^\\x00]{0,40}") {
            if std::process::Command::new("fish").arg("-c").arg("true").output().is_ok() {
                let script = fish(&[("V", value.clone())]) + "printf '%s' \"$V\"";
                let got = round_trip_shell("fish", script).unwrap();
                proptest::prop_assert_eq!(got, value);
            }
        }

        #[test]
        fn powershell_quoting_round_trips(value in "[^\\n\\r]{0,40}") {
            let line = powershell(&[("V", value.clone())]);
            proptest::prop_assert_eq!(powershell_value(line.trim_end_matches('\n')), Some(value));
        }

        #[test]
        fn dotenv_never_smuggles_a_variable(value in "\\PC{0,40}|.*\n.*|.*=.*") {
            match dotenv(&[("A", value.clone()), ("B", "b".into())]) {
                Err(_) => {}
                Ok(text) => proptest::prop_assert_eq!(
                    gitlab_dotenv(&text),
                    vec![("A".to_string(), value), ("B".to_string(), "b".to_string())]
                ),
            }
        }
    }
}
