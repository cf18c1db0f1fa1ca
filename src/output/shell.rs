//! `KEY=value` in every dialect: dotenv, POSIX sh, fish and PowerShell.

/// Why a value cannot be written in a format (only for values no quoting can carry).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name} cannot be written as a dotenv line: {why}")]
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
            return Err(bad("it contains a line break or NUL"));
        }
        if value.trim() != value {
            return Err(bad("it starts or ends with white space"));
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
}
