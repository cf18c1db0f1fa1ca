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
}
