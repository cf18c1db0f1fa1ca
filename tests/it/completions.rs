//! `aws-oidc completions SHELL` and `aws-oidc man`, checked in the real shells and in `man`:
//! bash loads the script and completes commands and options (its completion function called
//! the way bash's readline calls it), fish completes commands (skipped, with the reason
//! printed, when fish is missing: `scripts/setup-test-deps.sh --with-fish`), and `man -l`
//! renders the page with every command in it (skipped when man is missing: man-db).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::BIN;

/// A PATH where `aws-oidc` is the binary under test.
fn path_with_bin() -> String {
    let dir = Path::new(BIN).parent().unwrap().display().to_string();
    format!("{dir}:/usr/local/bin:/usr/bin:/bin")
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(program: &str, args: &[&str], home: &Path) -> Output {
    let out = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", path_with_bin())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn home() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn script(shell: &str) -> String {
    let out = Command::new(BIN)
        .args(["completions", shell])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "completions {shell}: {:?}",
        out.status
    );
    assert!(out.stderr.is_empty(), "completions {shell} wrote to stderr");
    String::from_utf8(out.stdout).unwrap()
}

/// What bash's completion function for aws-oidc proposes for the words typed so far (the last
/// word being completed), as readline would call it.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let home = home();
    let words_arr = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let line = words.join(" ");
    let cur = words.last().unwrap();
    let prev = words[words.len() - 2];
    let program = format!(
        r#"source <(aws-oidc completions bash) || exit 1
spec=$(complete -p aws-oidc) || exit 1
func=$(sed -E 's/.*-F ([^ ]+).*/\1/' <<<"$spec")
COMP_WORDS=({words_arr})
COMP_CWORD={cword}
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
"$func" aws-oidc '{cur}' '{prev}'
printf '%s\n' "${{COMPREPLY[@]}}""#,
        cword = words.len() - 1,
    );
    let out = run(
        "bash",
        &["--norc", "--noprofile", "-c", &program],
        home.path(),
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn bash_loads_the_completions_and_registers_them_for_aws_oidc() {
    let home = home();
    let out = run(
        "bash",
        &[
            "--norc",
            "--noprofile",
            "-c",
            "source <(aws-oidc completions bash) && complete -p aws-oidc",
        ],
        home.path(),
    );
    let spec = String::from_utf8(out.stdout).unwrap();
    assert!(
        spec.starts_with("complete ") && spec.trim_end().ends_with(" aws-oidc"),
        "{spec}"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bash_completes_commands_options_and_values() {
    let got = bash_complete(&["aws-oidc", "as"]);
    assert_eq!(got, ["assume"], "aws-oidc as<TAB>");
    let all = bash_complete(&["aws-oidc", ""]);
    for cmd in [
        "assume",
        "exec",
        "console",
        "credential-process",
        "token",
        "trust-policy",
        "explain",
        "completions",
        "man",
    ] {
        assert!(all.iter().any(|c| c == cmd), "{cmd} missing from {all:?}");
    }
    let got = bash_complete(&["aws-oidc", "assume", "--role-a"]);
    assert_eq!(got, ["--role-arn"], "aws-oidc assume --role-a<TAB>");
    let got = bash_complete(&["aws-oidc", "completions", "fi"]);
    assert_eq!(got, ["fish"], "aws-oidc completions fi<TAB>");
}

#[test]
fn fish_loads_the_completions_and_completes_commands() {
    if !has("fish") {
        eprintln!("fish not installed (scripts/setup-test-deps.sh --with-fish): skipped");
        return;
    }
    let home = home();
    let out = run(
        "fish",
        &[
            "--no-config",
            "-c",
            "aws-oidc completions fish | source; complete -C 'aws-oidc as'; \
             complete -C 'aws-oidc assume --role-a'",
        ],
        home.path(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let first: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert!(
        first.contains(&"assume"),
        "aws-oidc as<TAB> in fish:\n{text}"
    );
    assert!(
        first.contains(&"--role-arn"),
        "assume --role-a<TAB> in fish:\n{text}"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_shell_gets_a_script_naming_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let text = script(shell);
        for cmd in ["assume", "credential-process", "trust-policy", "man"] {
            assert!(text.contains(cmd), "{shell} script lacks {cmd}");
        }
    }
    if has("zsh") {
        let home = home();
        let file: PathBuf = home.path().join("_aws-oidc");
        std::fs::write(&file, script("zsh")).unwrap();
        run("zsh", &["-n", file.to_str().unwrap()], home.path());
    }
    let bad = Command::new(BIN)
        .args(["completions", "tcsh"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    assert!(bad.stdout.is_empty());
}

#[test]
fn the_man_page_renders_and_documents_every_command() {
    let out = Command::new(BIN).arg("man").env_clear().output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    let roff = String::from_utf8(out.stdout).unwrap();
    assert!(roff.contains(".TH aws-oidc 1"), "no title:\n{roff}");
    if !has("man") {
        eprintln!("man not installed (apt-get install man-db): rendering skipped");
        return;
    }
    let home = home();
    let page_file = home.path().join("aws-oidc.1");
    std::fs::write(&page_file, &roff).unwrap();
    let rendered = Command::new("man")
        .args(["-l", page_file.to_str().unwrap()])
        .env_clear()
        .env("PATH", path_with_bin())
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .unwrap();
    assert!(rendered.status.success(), "man -l: {rendered:?}");
    let text = String::from_utf8_lossy(&rendered.stdout);
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "Exit codes: 0 ok",
    ] {
        assert!(
            text.contains(section),
            "{section} missing from the page:\n{text}"
        );
    }
    for cmd in [
        "ASSUME",
        "EXEC",
        "CONSOLE",
        "CREDENTIAL-PROCESS",
        "TOKEN",
        "TRUST-POLICY",
        "EXPLAIN",
        "COMPLETIONS",
        "MAN",
    ] {
        assert!(
            text.contains(&format!("AWS-OIDC {cmd}\n")),
            "no section for {cmd}:\n{text}"
        );
    }
    assert!(
        text.contains("--role-arn"),
        "assume's options missing:\n{text}"
    );
}
