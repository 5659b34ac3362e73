//! Settings: `serve`'s flags, then the environment, then `.env` in the
//! working directory, read once into a [`Settings`] value that is passed to
//! whatever needs it. The process environment is never modified.

use std::collections::HashMap;
use std::time::Duration;

use concord_http::{ConnectionLimits, HttpConfig};

/// The flags `serve` understands, and the settings they set.
const FLAG_SETTINGS: [(&str, &str); 11] = [
    ("--port", "PORT"),
    ("--host", "HOST"),
    ("--database-url", "DATABASE_URL"),
    ("--base-url", "REQUESTING_BASE_URL"),
    ("--timeout", "REQUESTING_TIMEOUT"),
    ("--allowed-origin", "REQUESTING_ALLOWED_ORIGIN"),
    ("--max-body", "REQUESTING_MAX_BODY"),
    ("--header-timeout", "REQUESTING_HEADER_TIMEOUT"),
    ("--body-timeout", "REQUESTING_BODY_TIMEOUT"),
    ("--max-connections", "REQUESTING_MAX_CONNECTIONS"),
    ("--dev", "CONCORD_DEV"),
];

/// A setting that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A flag `serve` does not take.
    #[error("unknown flag `{flag}`; serve takes {known}")]
    UnknownFlag {
        /// The flag as given.
        flag: String,
        /// The flags it takes.
        known: String,
    },
    /// A flag given without its value.
    #[error("`{0}` needs a value")]
    MissingValue(String),
    /// A value of the wrong form.
    #[error("{key} must be {expected}, not `{value}`")]
    Invalid {
        /// The setting.
        key: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        value: String,
    },
}

/// Everything an app's command line can be told, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOST` (`127.0.0.1`).
    pub host: String,
    /// `PORT` (8000).
    pub port: u16,
    /// `DATABASE_URL`, if set (otherwise the app's own or the embedded default).
    pub database_url: Option<String>,
    /// `REQUESTING_BASE_URL`, `REQUESTING_TIMEOUT`, `REQUESTING_ALLOWED_ORIGIN`,
    /// `REQUESTING_MAX_BODY` and `CONCORD_DEV`.
    pub http: HttpConfig,
    /// `REQUESTING_HEADER_TIMEOUT` (ms) and `REQUESTING_MAX_CONNECTIONS`.
    pub connections: ConnectionLimits,
    /// What the action log keeps: `CONCORD_LOG_RETENTION` (`7d`, `12h`,
    /// `30m`, `0` for no age limit), `CONCORD_LOG_MAX_BYTES` (`1GiB`, `0`
    /// for no size limit) and `CONCORD_LOG_READ_ONLY` (records of read-only
    /// flows kept, 10000).
    pub log: concord_store::LogPolicy,
    /// `CONCORD_LOG_VALUE_LIMIT`: strings longer than this (1KiB) are kept in
    /// the log as a stub (size, digest, prefix); objects and lists at 16
    /// times it.
    pub log_values: concord_engine::ValueLimits,
    /// How this process finishes interrupted flows: `CONCORD_NODE_ID`
    /// (`HOSTNAME:PORT`), `CONCORD_FLOW_LEASE` (`30s`) and
    /// `CONCORD_JOURNAL_KEY` (64 hex digits, from the process environment
    /// only: a key file otherwise).
    pub node: concord_store::NodeSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: "127.0.0.1".into(),
            port: 8000,
            database_url: None,
            http: HttpConfig::default(),
            connections: ConnectionLimits::default(),
            log: concord_store::LogPolicy::default(),
            log_values: concord_engine::ValueLimits::default(),
            node: concord_store::NodeSettings::default(),
        }
    }
}

impl Settings {
    /// From `serve`'s flags (`--port 9000`, `--port=9000`, `--dev`), then the
    /// process environment, then `.env` in the working directory.
    pub fn load(flags: &[String]) -> Result<Settings, SettingsError> {
        let dotenv = std::fs::read_to_string(".env").unwrap_or_default();
        Self::resolve(flags, |key| std::env::var(key).ok(), &dotenv)
    }

    /// One setting from the environment, else `.env` (for what is needed
    /// before, or without, the rest).
    pub fn lookup(key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| parse_dotenv(&std::fs::read_to_string(".env").unwrap_or_default()).remove(key))
    }

    /// From the environment and `.env` only (no flags).
    pub fn from_env() -> Result<Settings, SettingsError> {
        Self::load(&[])
    }

    /// From flags, then `env`, then the text of a `.env` file.
    pub fn resolve(
        flags: &[String],
        env: impl Fn(&str) -> Option<String>,
        dotenv: &str,
    ) -> Result<Settings, SettingsError> {
        let flags = parse_flags(flags)?;
        let dotenv = parse_dotenv(dotenv);
        let get = |key: &str| {
            flags
                .get(key)
                .cloned()
                .or_else(|| env(key).filter(|v| !v.is_empty()))
                .or_else(|| dotenv.get(key).cloned())
        };
        let mut s = Settings::default();
        if let Some(h) = get("HOST") {
            s.host = h;
        }
        if let Some(p) = get("PORT") {
            s.port = p.parse().map_err(|_| SettingsError::Invalid {
                key: "PORT",
                expected: "a port number",
                value: p,
            })?;
        }
        s.database_url = get("DATABASE_URL");
        if let Some(base) = get("REQUESTING_BASE_URL") {
            s.http.base = if base.starts_with('/') {
                base
            } else {
                format!("/{base}")
            };
        }
        if let Some(t) = get("REQUESTING_TIMEOUT") {
            let ms: u64 = t.parse().map_err(|_| SettingsError::Invalid {
                key: "REQUESTING_TIMEOUT",
                expected: "milliseconds",
                value: t,
            })?;
            s.http.timeout = Duration::from_millis(ms);
        }
        s.http.allowed_origin = get("REQUESTING_ALLOWED_ORIGIN");
        if let Some(b) = get("REQUESTING_MAX_BODY") {
            s.http.body_limit = parse_size(&b).ok_or(SettingsError::Invalid {
                key: "REQUESTING_MAX_BODY",
                expected: "a size in bytes (`1048576`, `512KiB`, `16MiB`)",
                value: b,
            })?;
        }
        if let Some(t) = get("REQUESTING_HEADER_TIMEOUT") {
            s.connections.header_timeout = timeout("REQUESTING_HEADER_TIMEOUT", t)?;
        }
        if let Some(t) = get("REQUESTING_BODY_TIMEOUT") {
            s.http.body_timeout = timeout("REQUESTING_BODY_TIMEOUT", t)?;
        }
        if let Some(n) = get("REQUESTING_MAX_CONNECTIONS") {
            s.connections.max_connections =
                n.parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .ok_or(SettingsError::Invalid {
                        key: "REQUESTING_MAX_CONNECTIONS",
                        expected: "a number of connections (more than 0)",
                        value: n,
                    })?;
        }
        s.http.dev = get("CONCORD_DEV").is_some_and(|v| v != "0" && v != "false");
        if let Some(t) = get("CONCORD_LOG_RETENTION") {
            s.log.max_age = match parse_age(&t) {
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
                None => {
                    return Err(SettingsError::Invalid {
                        key: "CONCORD_LOG_RETENTION",
                        expected: "an age (`7d`, `12h`, `30m`, `90s`; `0` keeps flows until the size limit)",
                        value: t,
                    });
                }
            };
        }
        if let Some(b) = get("CONCORD_LOG_MAX_BYTES") {
            let bytes = parse_size(&b).ok_or(SettingsError::Invalid {
                key: "CONCORD_LOG_MAX_BYTES",
                expected: "a size in bytes (`1GiB`, `512MiB`; `0` for no limit)",
                value: b,
            })?;
            s.log.max_bytes = (bytes > 0).then_some(bytes as u64);
        }
        if let Some(n) = get("CONCORD_LOG_READ_ONLY") {
            s.log.read_only_window = n.parse().map_err(|_| SettingsError::Invalid {
                key: "CONCORD_LOG_READ_ONLY",
                expected: "a number of records",
                value: n,
            })?;
        }
        if let Some(b) = get("CONCORD_LOG_VALUE_LIMIT") {
            let bytes = parse_size(&b).filter(|&n| n > 0).ok_or(SettingsError::Invalid {
                key: "CONCORD_LOG_VALUE_LIMIT",
                expected: "a size in bytes (`1KiB`, `4096`)",
                value: b,
            })?;
            s.log_values = concord_engine::ValueLimits {
                string: bytes,
                composite: bytes.saturating_mul(16),
            };
        }
        // Stable across restarts, distinct between nodes on one host.
        let host = s.node.node.rsplit_once(':').map_or("localhost", |(h, _)| h).to_string();
        s.node.node = get("CONCORD_NODE_ID").unwrap_or_else(|| format!("{host}:{}", s.port));
        if let Some(t) = get("CONCORD_FLOW_LEASE") {
            s.node.lease = parse_age(&t).filter(|d| !d.is_zero()).ok_or(SettingsError::Invalid {
                key: "CONCORD_FLOW_LEASE",
                expected: "a duration (`30s`, `2m`; more than 0)",
                value: t,
            })?;
        }
        s.node.journal_key = env("CONCORD_JOURNAL_KEY").filter(|k| !k.is_empty());
        Ok(s)
    }
}

/// A timeout setting: milliseconds, more than 0.
fn timeout(key: &'static str, value: String) -> Result<Duration, SettingsError> {
    match value.parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(SettingsError::Invalid {
            key,
            expected: "milliseconds (more than 0)",
            value,
        }),
    }
}

/// Bytes, optionally with a binary unit: `1048576`, `512KiB`, `16MiB`.
/// `7d`, `12h`, `30m`, `90s` (or a plain number of seconds).
fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(seconds)?))
}

fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    digits.parse::<usize>().ok()?.checked_mul(scale)
}

/// `serve`'s flags as settings keys and values.
fn parse_flags(args: &[String]) -> Result<HashMap<String, String>, SettingsError> {
    let mut flags = HashMap::new();
    let mut i = 0;
    while i < args.len() {
        let (name, inline) = match args[i].split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (args[i].clone(), None),
        };
        let Some(&(_, key)) = FLAG_SETTINGS.iter().find(|(f, _)| *f == name) else {
            let known: Vec<&str> = FLAG_SETTINGS.iter().map(|(f, _)| *f).collect();
            return Err(SettingsError::UnknownFlag {
                flag: name,
                known: known.join(", "),
            });
        };
        let value = if name == "--dev" {
            inline.unwrap_or_else(|| "1".into())
        } else if let Some(v) = inline {
            v
        } else {
            i += 1;
            args.get(i).cloned().ok_or(SettingsError::MissingValue(name))?
        };
        flags.insert(key.to_string(), value);
        i += 1;
    }
    Ok(flags)
}

fn parse_dotenv(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags() {
        let s = Settings::resolve(&args(&["--port", "9000", "--dev", "--base-url=/v1"]), |_| None, "").unwrap();
        assert_eq!(s.port, 9000);
        assert!(s.http.dev);
        assert_eq!(s.http.base, "/v1");
        assert!(
            Settings::resolve(&args(&["--nope"]), |_| None, "")
                .unwrap_err()
                .to_string()
                .contains("unknown flag `--nope`")
        );
        assert!(
            Settings::resolve(&args(&["--port"]), |_| None, "")
                .unwrap_err()
                .to_string()
                .contains("needs a value")
        );
    }

    #[test]
    fn flags_beat_the_environment_which_beats_dotenv() {
        let env = |k: &str| (k == "PORT" || k == "HOST").then(|| "8100".to_string());
        let s = Settings::resolve(
            &args(&["--host", "0.0.0.0"]),
            env,
            "PORT=1\nDATABASE_URL=sqlite::memory:\n",
        )
        .unwrap();
        assert_eq!(s.host, "0.0.0.0");
        assert_eq!(s.port, 8100);
        assert_eq!(s.database_url.as_deref(), Some("sqlite::memory:"));
        // Each value is its own: a second resolution is not ignored.
        let again = Settings::resolve(&args(&["--port", "9001"]), |_| None, "").unwrap();
        assert_eq!(again.port, 9001);
    }

    #[test]
    fn malformed_values_are_named() {
        let e = Settings::resolve(&[], |k| (k == "REQUESTING_TIMEOUT").then(|| "soon".into()), "").unwrap_err();
        assert_eq!(e.to_string(), "REQUESTING_TIMEOUT must be milliseconds, not `soon`");
        let e = Settings::resolve(&args(&["--port=http"]), |_| None, "").unwrap_err();
        assert_eq!(e.to_string(), "PORT must be a port number, not `http`");
    }

    #[test]
    fn connection_limits_are_read() {
        let s = Settings::resolve(
            &args(&["--header-timeout=2500", "--body-timeout", "900", "--max-connections=64"]),
            |_| None,
            "",
        )
        .unwrap();
        assert_eq!(s.connections.header_timeout, Duration::from_millis(2500));
        assert_eq!(s.http.body_timeout, Duration::from_millis(900));
        assert_eq!(s.connections.max_connections, 64);
        let e = Settings::resolve(&args(&["--header-timeout=0"]), |_| None, "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "REQUESTING_HEADER_TIMEOUT must be milliseconds (more than 0), not `0`"
        );
    }

    #[test]
    fn the_body_limit_is_a_size() {
        let limit = |v: &str| Settings::resolve(&[format!("--max-body={v}")], |_| None, "").map(|s| s.http.body_limit);
        assert_eq!(limit("2048"), Ok(2048));
        assert_eq!(limit("512KiB"), Ok(512 << 10));
        assert_eq!(limit("16MiB"), Ok(16 << 20));
        assert_eq!(Settings::resolve(&[], |_| None, "").unwrap().http.body_limit, 1 << 20);
        let e = limit("16MB").unwrap_err();
        assert_eq!(
            e.to_string(),
            "REQUESTING_MAX_BODY must be a size in bytes (`1048576`, `512KiB`, `16MiB`), not `16MB`"
        );
    }

    #[test]
    fn the_log_policy_is_read() {
        let s = Settings::resolve(&[], |_| None, "").unwrap();
        assert_eq!(s.log, concord_store::LogPolicy::default());
        let env = |k: &str| match k {
            "CONCORD_LOG_RETENTION" => Some("12h".to_string()),
            "CONCORD_LOG_MAX_BYTES" => Some("64MiB".to_string()),
            "CONCORD_LOG_READ_ONLY" => Some("500".to_string()),
            "CONCORD_LOG_VALUE_LIMIT" => Some("256".to_string()),
            _ => None,
        };
        let s = Settings::resolve(&[], env, "").unwrap();
        assert_eq!(s.log.max_age, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(s.log.max_bytes, Some(64 << 20));
        assert_eq!(s.log.read_only_window, 500);
        assert_eq!((s.log_values.string, s.log_values.composite), (256, 4096));
        let off = |k: &str| matches!(k, "CONCORD_LOG_RETENTION" | "CONCORD_LOG_MAX_BYTES").then(|| "0".to_string());
        let s = Settings::resolve(&[], off, "").unwrap();
        assert_eq!((s.log.max_age, s.log.max_bytes), (None, None));
        let bad = |k: &str| (k == "CONCORD_LOG_RETENTION").then(|| "a week".to_string());
        let e = Settings::resolve(&[], bad, "").unwrap_err();
        assert!(e.to_string().starts_with("CONCORD_LOG_RETENTION must be an age"), "{e}");
    }

    #[test]
    fn dotenv_lines() {
        let env = parse_dotenv("# c\nPORT=9000\nexport DATABASE_URL=\"postgres://x\"\nA='b c'\n\nbad line\n");
        assert_eq!(env["PORT"], "9000");
        assert_eq!(env["DATABASE_URL"], "postgres://x");
        assert_eq!(env["A"], "b c");
        assert_eq!(env.len(), 3);
    }
}
