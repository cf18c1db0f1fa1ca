//! Help is documentation: `aws-oidc --help` and `aws-oidc <command> --help` compared byte for
//! byte with the committed files in `tests/it/snapshots/help/` (`aws-oidc.txt`, `<command>.txt`).
//!
//! The binary runs with a cleared environment (so no `[env: X=…]` value shows) and `COLUMNS=100`
//! (clap's `wrap_help` reads it), so the text does not depend on the terminal. After changing
//! a doc comment, rewrite the files with `UPDATE_SNAPSHOTS=1 cargo test --test it help::` and
//! review the diff. A command without a snapshot, or a snapshot without a command, fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::BIN;

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots/help")
}

/// `aws-oidc [args…] --help` as the user would see it on a 100-column terminal.
fn help(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--help")
        .env_clear()
        .env("COLUMNS", "100")
        .output()
        .expect("run aws-oidc --help");
    assert!(out.status.success(), "{args:?} --help: {:?}", out.status);
    assert!(out.stderr.is_empty(), "{args:?} --help wrote to stderr");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// The subcommands listed under `Commands:` in the top-level help (without `help`).
fn commands(top: &str) -> Vec<String> {
    let list = top
        .split_once("\nCommands:\n")
        .expect("top-level help lists its commands")
        .1;
    list.lines()
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   ")) // wrapped descriptions
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// The first line that differs, for a readable failure.
fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n  snapshot: {w:?}\n  binary:   {g:?}", i + 1);
        }
    }
    format!(
        "one is a prefix of the other ({} vs {} lines, or a trailing newline)",
        want.lines().count(),
        got.lines().count()
    )
}

#[test]
fn help_of_every_command_matches_its_snapshot() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let dir = snapshot_dir();
    let top = help(&[]);
    let mut pages = vec![("aws-oidc".to_string(), top.clone())];
    for name in commands(&top) {
        let text = help(&[&name]);
        pages.push((name, text));
    }
    assert!(pages.len() > 5, "too few commands found in --help:\n{top}");

    let mut problems = Vec::new();
    for (name, text) in &pages {
        let path = dir.join(format!("{name}.txt"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == *text => {}
            Ok(want) => problems.push(format!(
                "{name} --help differs from {}: {}",
                path.display(),
                first_difference(&want, text)
            )),
            Err(e) => problems.push(format!("{name}: no snapshot {} ({e})", path.display())),
        }
    }
    // A snapshot whose command is gone.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let stem = file.strip_suffix(".txt").unwrap_or(&file);
        if !pages.iter().any(|(name, _)| name == stem) {
            if update {
                std::fs::remove_file(dir.join(&file)).unwrap();
            } else {
                problems.push(format!("snapshot {file} has no command"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nIf the change is intended: UPDATE_SNAPSHOTS=1 cargo test --test it help::, then review \
         `git diff tests/it/snapshots`",
        problems.join("\n")
    );
}

#[test]
fn help_width_follows_columns() {
    // COLUMNS decides the width, not the terminal (there is none under cargo test).
    let narrow = Command::new(BIN)
        .args(["assume", "--help"])
        .env_clear()
        .env("COLUMNS", "60")
        .output()
        .unwrap();
    let narrow = String::from_utf8(narrow.stdout).unwrap();
    let wide = help(&["assume"]);
    assert!(
        narrow.lines().count() > wide.lines().count(),
        "COLUMNS=60 does not wrap more than COLUMNS=100:\n{narrow}"
    );
}

#[test]
fn help_never_shows_a_variables_value() {
    // `[env: NAME=value]` would print a token command's password, or a policy, into CI logs.
    for cmd in ["assume", "exec", "credential-process", "token"] {
        let out = Command::new(BIN)
            .args([cmd, "--help"])
            .env_clear()
            .env(
                "AWS_OIDC_TOKEN_COMMAND",
                "get-token --password canary-hunter2",
            )
            .env("AWS_OIDC_EXTERNAL_ID", "canary-external-id")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cmd}: {text}");
        assert!(text.contains("AWS_OIDC_TOKEN_COMMAND"), "{cmd}: {text}");
        assert!(
            !text.contains("canary"),
            "{cmd} --help shows a value:\n{text}"
        );
    }
}
