//! GitHub Actions: mask commands on stdout, variables appended to `GITHUB_ENV`
//! and step outputs to `GITHUB_OUTPUT`, in the runner's `NAME<<DELIMITER` form
//! with a fresh random delimiter that cannot occur in the value.

/// `::add-mask::` lines for the values the runner must hide from logs.
pub fn masks(values: &[&str]) -> String {
    values
        .iter()
        .filter(|v| !v.is_empty())
        .map(|v| format!("::add-mask::{v}\n"))
        .collect()
}

/// A delimiter that occurs in none of `values`.
fn delimiter(values: &[&str]) -> String {
    loop {
        let d = format!("ghadelimiter_{:032x}", rand::random::<u128>());
        if !values.iter().any(|v| v.contains(&d)) {
            return d;
        }
    }
}

/// The runner's file-command syntax for `name: value` pairs.
pub fn file_commands(pairs: &[(&str, String)]) -> String {
    let values: Vec<&str> = pairs.iter().map(|(_, v)| v.as_str()).collect();
    let d = delimiter(&values);
    pairs
        .iter()
        .map(|(name, value)| format!("{name}<<{d}\n{value}\n{d}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_form() {
        let out = file_commands(&[("A", "1".into()), ("B", "x\ny".into())]);
        let d = out
            .lines()
            .next()
            .unwrap()
            .strip_prefix("A<<")
            .unwrap()
            .to_string();
        assert!(d.starts_with("ghadelimiter_") && d.len() == 13 + 32);
        assert_eq!(out, format!("A<<{d}\n1\n{d}\nB<<{d}\nx\ny\n{d}\n"));
    }

    #[test]
    fn fresh_delimiter_each_time() {
        let a = file_commands(&[("A", "1".into())]);
        let b = file_commands(&[("A", "1".into())]);
        assert_ne!(a, b);
    }

    #[test]
    fn masks_each_value() {
        assert_eq!(masks(&["k", "", "s"]), "::add-mask::k\n::add-mask::s\n");
    }

    /// The runner's file-command reader (actions/runner `SetEnvFileCommand`, Linux):
    /// `NAME=VALUE` (split at the first `=` when it comes before any `<<`), or
    /// `NAME<<DELIM` followed by lines up to one that equals DELIM.
    fn runner_parse(text: &str) -> Result<Vec<(String, String)>, String> {
        let lines: Vec<&str> = text.split('\n').collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            i += 1;
            if line.is_empty() {
                continue;
            }
            let eq = line.find('=');
            let hd = line.find("<<");
            match (eq, hd) {
                (Some(e), h) if h.is_none_or(|h| e < h) => {
                    out.push((line[..e].to_string(), line[e + 1..].to_string()));
                }
                (_, Some(h)) => {
                    let (name, delim) = (&line[..h], &line[h + 2..]);
                    let mut value = Vec::new();
                    loop {
                        let l = lines.get(i).ok_or("unterminated heredoc")?;
                        i += 1;
                        if *l == delim {
                            break;
                        }
                        value.push(*l);
                    }
                    out.push((name.to_string(), value.join("\n")));
                }
                _ => return Err(format!("invalid line {line:?}")),
            }
        }
        Ok(out)
    }

    proptest::proptest! {
        #[test]
        fn no_value_can_add_or_alter_a_variable(
            a in "\\PC{0,30}|(.|\n){0,30}",
            b in "ghadelimiter_[0-9a-f]{0,32}|.*<<.*|X=1\nY=2|\\PC{0,10}",
        ) {
            let pairs = [("AWS_A", a.clone()), ("AWS_B", b.clone()), ("AWS_C", "c".to_string())];
            let parsed = runner_parse(&file_commands(&pairs)).unwrap();
            let want: Vec<(String, String)> =
                pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            proptest::prop_assert_eq!(parsed, want);
        }

        #[test]
        fn masks_are_one_line_each(v in "[!-~]{1,40}") {
            proptest::prop_assert_eq!(masks(&[&v]), format!("::add-mask::{v}\n"));
        }
    }
}
