//! A service binary's command line: `healthcheck`, `--help` and `--version`, and the help text,
//! which lists the settings the service reads with their defaults and meanings, taken from the
//! README's configuration table compiled into the binary (the image ships no README).

use std::collections::BTreeSet;
use std::ffi::OsString;

/// The repository's README: its `## Configuration` table is the one description of every
/// setting, so `--help` and the documentation cannot disagree.
const README: &str = include_str!("../../../README.md");

/// Widest line of the help text.
const WIDTH: usize = 100;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// No argument: run the server.
    Serve,
    /// `healthcheck`: ask the running server whether it is SERVING.
    Healthcheck,
    /// `--help` or `-h`.
    Help,
    /// `--version` or `-V`.
    Version,
}

impl Mode {
    /// Parses the arguments after the program name; `Err` is the one-line complaint.
    pub(crate) fn parse(mut args: impl Iterator<Item = OsString>) -> Result<Self, String> {
        let mode = match args.next() {
            None => return Ok(Mode::Serve),
            Some(arg) => match arg.to_str() {
                Some("healthcheck") => Mode::Healthcheck,
                Some("--help" | "-h" | "help") => Mode::Help,
                Some("--version" | "-V") => Mode::Version,
                _ => return Err(format!("unknown argument {arg:?}")),
            },
        };
        match args.next() {
            None => Ok(mode),
            Some(extra) => Err(format!("unexpected argument {extra:?}")),
        }
    }
}

/// The one-line usage, for errors.
pub(crate) fn short_usage(service_name: &str) -> String {
    format!("usage: {service_name} [healthcheck | --help | --version]")
}

/// The `--help` text: usage, subcommands, exit codes, then every setting in `read` (the
/// variables the service looks up) as the README's table describes it.
pub(crate) fn usage(
    service_name: &str,
    healthcheck_timeout: std::time::Duration,
    read: &BTreeSet<String>,
) -> String {
    let mut text = vec![
        format!("{service_name} {}", env!("CARGO_PKG_VERSION")),
        String::new(),
        short_usage(service_name),
        String::new(),
        "With no argument, serves gRPC (with health and reflection) on FEEDLINE_LISTEN_ADDR."
            .to_owned(),
        "Every setting is an environment variable (below); all are read and validated before"
            .to_owned(),
        "the port is bound.".to_owned(),
        String::new(),
        "  healthcheck    asks the server on FEEDLINE_LISTEN_ADDR (read from the same environment)"
            .to_owned(),
        format!(
            "                 for its gRPC health within {healthcheck_timeout:?}: exits 0 when SERVING,"
        ),
        "                 otherwise 1 with one line on stderr".to_owned(),
        "  -h, --help     prints this text".to_owned(),
        "  -V, --version  prints the version".to_owned(),
        String::new(),
        "Exit codes: 0 after a clean shutdown (SIGTERM or Ctrl-C), 1 on a failure, 2 for a bad"
            .to_owned(),
        "command line, 64 for a bad setting (one line on stderr names the variable).".to_owned(),
        String::new(),
        "Settings (environment variables; unset or empty takes the default):".to_owned(),
    ];
    let rows = settings();
    let mut described = BTreeSet::new();
    for row in rows
        .iter()
        .filter(|row| row.names.iter().any(|n| read.contains(n)))
    {
        described.extend(row.names.iter().cloned());
        text.push(String::new());
        text.extend(wrap(&row.names.join(", "), "  "));
        text.extend(wrap(&format!("default: {}", row.default), "      "));
        text.extend(wrap(&row.meaning, "      "));
    }
    let undocumented: Vec<&String> = read.difference(&described).collect();
    if !undocumented.is_empty() {
        text.push(String::new());
        text.push("  also read (not described in this build's table):".to_owned());
        for name in undocumented {
            text.push(format!("  {name}"));
        }
    }
    text.join("\n")
}

/// One row of the README's configuration table, as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The variables it describes (most rows: one).
    pub(crate) names: Vec<String>,
    /// Its default.
    pub(crate) default: String,
    /// What it does.
    pub(crate) meaning: String,
}

/// The rows of the table under `## Configuration` in the README.
pub(crate) fn settings() -> Vec<Setting> {
    parse_settings(README)
}

fn parse_settings(readme: &str) -> Vec<Setting> {
    let Some(start) = readme.find("\n## Configuration\n") else {
        return Vec::new();
    };
    readme[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            let [names, _services, default, meaning] = cells.as_slice() else {
                return None;
            };
            let names: Vec<String> = names
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|name| name.split('=').next().unwrap_or(name).to_owned())
                .filter(|name| !name.is_empty())
                .collect();
            (!names.is_empty()).then(|| Setting {
                names,
                default: plain(default),
                meaning: plain(meaning),
            })
        })
        .collect()
}

/// Markdown to terminal text: no backticks or bold, links as their text.
fn plain(markdown: &str) -> String {
    let mut out = markdown.trim().replace("**", "").replace('`', "");
    while let Some(open) = out.find("](") {
        let Some(close) = out[open..].find(')') else {
            break;
        };
        out.replace_range(open..open + close + 1, "");
        if let Some(bracket) = out[..open].rfind('[') {
            out.remove(bracket);
        }
    }
    out
}

/// `text` wrapped at [`WIDTH`], each line after `indent`.
fn wrap(text: &str, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            lines.push(format!("{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{line}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Mode, String> {
        Mode::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn arguments_choose_the_mode() {
        assert_eq!(parse(&[]), Ok(Mode::Serve));
        assert_eq!(parse(&["healthcheck"]), Ok(Mode::Healthcheck));
        assert_eq!(parse(&["--help"]), Ok(Mode::Help));
        assert_eq!(parse(&["-h"]), Ok(Mode::Help));
        assert_eq!(parse(&["--version"]), Ok(Mode::Version));
        assert_eq!(parse(&["-V"]), Ok(Mode::Version));
        assert_eq!(
            parse(&["bogus"]),
            Err("unknown argument \"bogus\"".to_owned())
        );
        assert_eq!(
            parse(&["--version", "now"]),
            Err("unexpected argument \"now\"".to_owned())
        );
        assert_eq!(
            parse(&["healthcheck", "bogus"]),
            Err("unexpected argument \"bogus\"".to_owned())
        );
    }

    #[test]
    fn the_table_is_read_from_markdown() {
        let readme = "# x\n\n## Configuration\n\ntext\n\n\
            | variable | services | default | meaning |\n|---|---|---|---|\n\
            | `FEEDLINE_A` | all | `10` | see [Dead letters](#dead-letters), **never** `0` |\n\
            | `OTEL_X`, `OTEL_Y=none` | all | unset | off |\n\nafter\n| `NOT_IN` | a | b | c |\n";
        assert_eq!(
            parse_settings(readme),
            vec![
                Setting {
                    names: vec!["FEEDLINE_A".into()],
                    default: "10".into(),
                    meaning: "see Dead letters, never 0".into(),
                },
                Setting {
                    names: vec!["OTEL_X".into(), "OTEL_Y".into()],
                    default: "unset".into(),
                    meaning: "off".into(),
                },
            ]
        );
    }

    #[test]
    fn help_describes_what_is_read_and_names_what_is_not_described() {
        let read: BTreeSet<String> = [
            "FEEDLINE_LISTEN_ADDR",
            "RUST_LOG",
            "FEEDLINE_NO_SUCH_SETTING",
        ]
        .map(String::from)
        .into();
        let text = usage("post-service", std::time::Duration::from_secs(3), &read);
        assert!(
            text.starts_with(&format!("post-service {}\n", env!("CARGO_PKG_VERSION"))),
            "{text}"
        );
        assert!(
            text.contains("\n  FEEDLINE_LISTEN_ADDR\n      default: 0.0.0.0:<port>"),
            "{text}"
        );
        assert!(
            text.contains("\n  RUST_LOG\n      default: info\n      log filter."),
            "{text}"
        );
        assert!(!text.contains("FEEDLINE_FANOUT_URL"), "{text}");
        assert!(
            text.ends_with("not described in this build's table):\n  FEEDLINE_NO_SUCH_SETTING"),
            "{text}"
        );
        assert!(text.lines().all(|line| line.len() <= WIDTH), "{text}");
    }

    /// Every setting the shared parts read (server, TLS, telemetry) has a row in the README's
    /// table, so `--help` describes it; each service's own settings are checked the same way
    /// by reading its config (see `launch`).
    #[test]
    fn every_shared_setting_has_a_row() {
        let env = crate::Env::new();
        let _ = crate::ServerConfig::from_env(&env, 1);
        let _ = crate::TlsConfig::from_env(&env);
        let mut read = env.read_names();
        read.extend(
            feedline_telemetry::ENV_VARS
                .iter()
                .map(|name| (*name).to_owned()),
        );
        let described: BTreeSet<String> = settings().into_iter().flat_map(|s| s.names).collect();
        let missing: Vec<&String> = read.difference(&described).collect();
        assert!(
            missing.is_empty(),
            "README's configuration table lacks {missing:?}"
        );
    }
}
