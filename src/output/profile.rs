//! Updating one profile in the AWS shared credentials and config files while
//! keeping every other profile, key and comment as it was.

use super::shell::Unrepresentable;

/// The one check for everything written into a profile file (section names, keys, values):
/// no control character nor Unicode line separator. A line break would end the line, and
/// what follows would be read as a key or a section of its own (say `[profile evil]` with a
/// `credential_process` of someone else's choice).
pub fn check(what: impl FnOnce() -> String, text: &str) -> Result<(), Unrepresentable> {
    if text
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(Unrepresentable {
            name: what(),
            why: "it holds a control character (such as a line break), which a profile file cannot carry",
        });
    }
    Ok(())
}

/// The line end a text uses: CRLF when its first line ends so, else LF (written back alike).
fn line_end(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if text[..i].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// A line as readers see it: without the byte order mark a file may start with (it stays
/// in the output, as part of the first line) and without surrounding blanks.
fn content(line: &str) -> &str {
    line.strip_prefix('\u{feff}').unwrap_or(line).trim()
}

/// `[ profile  ci ]` -> `profile ci`.
fn header_name(line: &str) -> Option<String> {
    let inner = content(line).strip_prefix('[')?.strip_suffix(']')?;
    Some(inner.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The key of a `key = value` line (not of a comment).
fn key_of(line: &str) -> Option<&str> {
    let t = content(line);
    if t.starts_with(['#', ';']) {
        return None;
    }
    t.split_once('=').map(|(k, _)| k.trim())
}

/// How many `[section]` headers a text has (more than one: a reader may take either).
pub fn sections(text: &str, section: &str) -> usize {
    text.lines()
        .filter(|l| header_name(l).as_deref() == Some(section))
        .count()
}

/// Drops `keys` from every copy of `[section]` (but the first, with `skip_first`).
fn strip_keys(lines: &mut Vec<String>, section: &str, keys: &[&str], skip_first: bool) {
    let mut copies = 0;
    let mut inside = false;
    lines.retain(|line| {
        if let Some(name) = header_name(line) {
            inside = name == section;
            copies += usize::from(inside);
            return true;
        }
        let ours = inside
            && !(skip_first && copies == 1)
            && key_of(line).is_some_and(|k| keys.contains(&k));
        !ours
    });
}

/// Sets `pairs` in `[section]` of an INI text: replaces existing keys in place,
/// adds missing ones at the end of the section, adds the section if absent.
/// A section written more than once is set in its first copy and the keys are removed from
/// the others, so that no reader (the SDKs that merge copies let the last one win) finds an
/// old value. A BOM and CRLF line ends are kept.
/// Every section name, key and value goes through [`check`] first.
pub fn update(
    text: &str,
    section: &str,
    pairs: &[(&str, &str)],
) -> Result<String, Unrepresentable> {
    check(|| "a profile section name".into(), section)?;
    for (key, value) in pairs {
        check(|| format!("a key name in [{section}]"), key)?;
        check(|| format!("{key} in [{section}]"), value)?;
    }
    let eol = line_end(text);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
    strip_keys(&mut lines, section, &keys, true);
    let start = lines
        .iter()
        .position(|l| header_name(l).as_deref() == Some(section));
    let Some(start) = start else {
        let bom = if text.starts_with('\u{feff}') {
            "\u{feff}"
        } else {
            ""
        };
        while lines.last().is_some_and(|l| content(l).is_empty()) {
            lines.pop();
        }
        if lines.is_empty() {
            lines.push(format!("{bom}[{section}]"));
        } else {
            lines.push(String::new());
            lines.push(format!("[{section}]"));
        }
        lines.extend(pairs.iter().map(|(k, v)| format!("{k} = {v}")));
        return Ok(lines.join(eol) + eol);
    };
    let mut end = lines[start + 1..]
        .iter()
        .position(|l| header_name(l).is_some())
        .map_or(lines.len(), |i| start + 1 + i);
    for (key, value) in pairs {
        let existing = (start + 1..end).find(|&i| key_of(&lines[i]) == Some(*key));
        match existing {
            Some(i) => lines[i] = format!("{key} = {value}"),
            None => {
                // After the section's last non-blank line.
                let mut at = end;
                while at > start + 1 && lines[at - 1].trim().is_empty() {
                    at -= 1;
                }
                lines.insert(at, format!("{key} = {value}"));
                end += 1;
            }
        }
    }
    Ok(lines.join(eol) + eol)
}

/// Removes `keys` from every copy of `[section]` (comments and other keys stay); the text is
/// returned unchanged when the section or the keys are absent. A BOM and CRLF line ends are
/// kept.
pub fn remove(text: &str, section: &str, keys: &[&str]) -> String {
    let eol = line_end(text);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    strip_keys(&mut lines, section, keys, false);
    if lines.is_empty() {
        String::new()
    } else {
        lines.join(eol) + eol
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXISTING: &str = "# my creds\n[default]\naws_access_key_id = OLD\n\n[other]\n; keep me\naws_access_key_id = O\nregion=eu-west-1\n";

    #[test]
    fn adds_a_new_section_keeping_the_rest() {
        let out = update(EXISTING, "ci", &[("a", "1"), ("b", "2")]).unwrap();
        assert_eq!(out, format!("{EXISTING}\n[ci]\na = 1\nb = 2\n"));
    }

    #[test]
    fn replaces_keys_in_place_and_appends_missing() {
        let out = update(
            EXISTING,
            "default",
            &[("aws_access_key_id", "NEW"), ("aws_session_token", "T")],
        )
        .unwrap();
        assert_eq!(
            out,
            "# my creds\n[default]\naws_access_key_id = NEW\naws_session_token = T\n\n[other]\n; keep me\naws_access_key_id = O\nregion=eu-west-1\n"
        );
    }

    #[test]
    fn config_profile_headers_with_odd_spacing() {
        let out = update(
            "[ profile  ci ]\nregion = us-east-1\noutput = json\n",
            "profile ci",
            &[("region", "eu-central-1")],
        )
        .unwrap();
        assert_eq!(
            out,
            "[ profile  ci ]\nregion = eu-central-1\noutput = json\n"
        );
    }

    #[test]
    fn empty_file() {
        assert_eq!(update("", "x", &[("k", "v")]).unwrap(), "[x]\nk = v\n");
    }

    #[test]
    fn commented_key_is_not_replaced() {
        let out = update("[x]\n# k = old\n", "x", &[("k", "v")]).unwrap();
        assert_eq!(out, "[x]\n# k = old\nk = v\n");
    }

    #[test]
    fn removes_keys_of_one_section_only() {
        let text = "[a]\nk = 1\n# k = c\nx = 2\n[b]\nk = 3\n";
        assert_eq!(
            remove(text, "a", &["k"]),
            "[a]\n# k = c\nx = 2\n[b]\nk = 3\n"
        );
        assert_eq!(remove(text, "zz", &["k"]), text);
        assert_eq!(remove("", "a", &["k"]), "");
    }

    #[test]
    fn control_characters_are_refused_everywhere() {
        for (section, key, value) in [
            ("ci", "k", "v\n[evil]"),
            ("ci", "k", "v\r"),
            ("ci", "k", "v\u{0}"),
            ("ci", "k", "v\u{7f}"),
            ("ci", "k\nx", "v"),
            ("ci]\n[evil", "k", "v"),
        ] {
            let err = update("", section, &[(key, value)]).expect_err(value);
            assert!(err.to_string().contains("control character"), "{err}");
        }
        assert_eq!(
            update("", "ci", &[("k", "a b=c")]).unwrap(),
            "[ci]\nk = a b=c\n"
        );
    }

    #[test]
    fn a_bom_belongs_to_the_first_line() {
        let text = "\u{feff}[ci]\naws_access_key_id = OLD\nregion = x\n";
        assert_eq!(
            update(text, "ci", &[("aws_access_key_id", "NEW")]).unwrap(),
            "\u{feff}[ci]\naws_access_key_id = NEW\nregion = x\n"
        );
        assert_eq!(
            remove(text, "ci", &["aws_access_key_id"]),
            "\u{feff}[ci]\nregion = x\n"
        );
        assert_eq!(
            update("\u{feff}\r\n", "ci", &[("k", "v")]).unwrap(),
            "\u{feff}[ci]\r\nk = v\r\n"
        );
        // A BOM before a key of no section does not hide the key either.
        assert_eq!(
            update("\u{feff}k = 1\n[ci]\nk = 2\n", "ci", &[("k", "3")]).unwrap(),
            "\u{feff}k = 1\n[ci]\nk = 3\n"
        );
    }

    #[test]
    fn every_copy_of_a_repeated_section_is_updated() {
        let text = "[ci]\na = OLD\n[other]\na = O\n[ci]\na = STALE\nb = keep\n[ ci ]\nc = STALE\n";
        assert_eq!(
            update(text, "ci", &[("a", "NEW"), ("c", "NEW")]).unwrap(),
            "[ci]\na = NEW\nc = NEW\n[other]\na = O\n[ci]\nb = keep\n[ ci ]\n"
        );
        assert_eq!(
            remove(text, "ci", &["a", "c"]),
            "[ci]\n[other]\na = O\n[ci]\nb = keep\n[ ci ]\n"
        );
        assert_eq!(sections(text, "ci"), 3);
        assert_eq!(sections(text, "other"), 1);
        assert_eq!(sections("\u{feff}[ci]\n", "ci"), 1);
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let text = "# mine\r\n[ci]\r\na = 1\r\n\r\n[x]\r\nb = 2\r\n";
        assert_eq!(
            update(text, "ci", &[("a", "2"), ("c", "3")]).unwrap(),
            "# mine\r\n[ci]\r\na = 2\r\nc = 3\r\n\r\n[x]\r\nb = 2\r\n"
        );
        assert_eq!(
            update(text, "new", &[("k", "v")]).unwrap(),
            "# mine\r\n[ci]\r\na = 1\r\n\r\n[x]\r\nb = 2\r\n\r\n[new]\r\nk = v\r\n"
        );
        assert_eq!(
            remove(text, "x", &["b"]),
            "# mine\r\n[ci]\r\na = 1\r\n\r\n[x]\r\n"
        );
    }
}
