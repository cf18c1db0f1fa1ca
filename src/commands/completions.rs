//! `completions SHELL` and `man`: the shell completion scripts (clap_complete) and the roff
//! man page (clap_mangen), both generated from the one clap definition in `cli.rs`, so every
//! flag's doc comment is its `--help` line, its man page entry and its completion hint.
//!
//! Neither reads the environment or the network: `cli::Command::run` passes the top-level
//! `clap::Command` in (so this file does not import `cli`).

use std::io::Write;

use clap::Args;
use clap_complete::Shell;

use crate::failure::{Failure, Kind};

#[derive(Clone, Debug, Args)]
#[command(after_help = "Load them for this shell:\n  \
    bash: source <(aws-oidc completions bash)\n  \
    bash: aws-oidc completions bash > ~/.local/share/bash-completion/completions/aws-oidc\n  \
    zsh:  aws-oidc completions zsh > \"${fpath[1]}/_aws-oidc\"\n  \
    fish: aws-oidc completions fish > ~/.config/fish/completions/aws-oidc.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

#[derive(Clone, Debug, Args)]
#[command(after_help = "Read it with: aws-oidc man | man -l -")]
pub struct ManArgs {}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs, mut cmd: clap::Command) -> Result<u8, Failure> {
    let name = cmd.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name.clone(), &mut script);
    if args.shell == Shell::Bash {
        script = fix_bash_case_labels(&script, &name);
    }
    write_stdout(&script)
}

/// clap_complete's bash script spells the per-command `case` labels of a hyphenated binary
/// (`aws__subcmd__oidc__subcmd__assume`) differently from the state its word loop computes
/// (`aws__oidc__subcmd__assume`), so no option after a command would ever complete
/// (clap-rs/clap#6421, open). Respell the labels the way the loop does.
fn fix_bash_case_labels(script: &[u8], bin: &str) -> Vec<u8> {
    let wrong = bin.replace('-', "__subcmd__");
    let right = bin.replace('-', "__");
    String::from_utf8_lossy(script)
        .replace(&wrong, &right)
        .into_bytes()
}

/// Prints the man page on stdout: the top-level page (name, synopsis, description, options,
/// exit codes) followed by one section per command with its own synopsis and options.
pub fn man(cmd: clap::Command) -> Result<u8, Failure> {
    let page = man_page(cmd).map_err(|e| Failure::new(Kind::Internal, e.to_string()))?;
    write_stdout(&page)
}

fn man_page(mut cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    let top = clap_mangen::Man::new(cmd.clone());
    top.render_title(&mut out)?;
    top.render_name_section(&mut out)?;
    top.render_synopsis_section(&mut out)?;
    top.render_description_section(&mut out)?;
    top.render_options_section(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let bin = sub.get_bin_name().unwrap_or_else(|| sub.get_name());
        writeln!(out, ".SH \"{}\"", roff_escape(&bin.to_uppercase()))?;
        let man = clap_mangen::Man::new(sub.clone());
        let mut section = Vec::new();
        man.render_synopsis_section(&mut section)?;
        man.render_description_section(&mut section)?;
        man.render_options_section(&mut section)?;
        if sub.get_after_long_help().is_some() || sub.get_after_help().is_some() {
            man.render_extra_section(&mut section)?;
        }
        // The command's own sections become subsections of its section.
        for line in String::from_utf8_lossy(&section).lines() {
            match line.strip_prefix(".SH ") {
                Some(heading) => writeln!(out, ".SS {heading}")?,
                None => writeln!(out, "{line}")?,
            }
        }
    }
    top.render_version_section(&mut out)?;
    Ok(out)
}

/// A section title is a quoted macro argument: no quotes or backslashes inside.
fn roff_escape(s: &str) -> String {
    s.replace(['"', '\\'], "")
}

fn write_stdout(bytes: &[u8]) -> Result<u8, Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(Kind::Output, format!("cannot write to stdout: {e}")))?;
    Ok(0)
}
