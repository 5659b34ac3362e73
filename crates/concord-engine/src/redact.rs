//! Making records safe to show and to keep: secrets redacted, large values
//! reduced to a stub.
//!
//! What is secret comes from three places, all applied to every record that
//! leaves the engine (log rows, trace lines, explanations, snapshots):
//!
//! 1. the program's dataflow ([`SecretMap`]): the positions, nested or
//!    not, that concepts declare secret and that syncs carry secrets into;
//! 2. keys a concept declares sensitive (`#[concept(sensitive = "token")]`),
//!    wherever they appear;
//! 3. a safety net for what dataflow cannot see: keys named like
//!    `password`, `token`, `secret`, `authorization` or `cookie`, at any
//!    depth. An app can change or clear that list.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use concord_concept::{ConceptSpec, Record, Value};
use concord_program::{RecordSecrets, Secret, SecretMap};
use sha2::{Digest, Sha256};

/// What a secret value is shown and stored as.
pub const REDACTED: &str = "<redacted>";

/// How a value too large to keep begins, in the log.
pub const OMITTED_PREFIX: &str = "<omitted ";

/// Key names redacted at any depth unless the app chooses otherwise: a key
/// matches when it contains one of them, ignoring ASCII case
/// (`passwordConfirmation`, `accessToken`, `Authorization`).
pub const SECRET_KEY_NAMES: [&str; 5] = ["password", "token", "secret", "authorization", "cookie"];

/// Size limits for values kept in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueLimits {
    /// A string longer than this many bytes is kept as a stub.
    pub string: usize,
    /// An object or list whose JSON is longer than this is kept as a stub.
    pub composite: usize,
}

impl Default for ValueLimits {
    fn default() -> Self {
        ValueLimits {
            string: 1024,
            composite: 16 * 1024,
        }
    }
}

/// Redacts and bounds records for everything outside the engine.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// By `Concept.action` and `Concept._query`.
    secrets: HashMap<String, RecordSecrets>,
    map: SecretMap,
    /// Lower-case name fragments of the safety net.
    names: Vec<String>,
    /// Keys concepts declare sensitive, matched exactly.
    declared: HashSet<String>,
    limits: ValueLimits,
}

/// Which record of an action.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// Its input.
    Input,
    /// Its output.
    Output,
}

impl Redactor {
    pub(crate) fn new(map: SecretMap, specs: &[ConceptSpec], names: &[String], limits: ValueLimits) -> Self {
        let mut secrets = HashMap::new();
        let mut declared = HashSet::new();
        for spec in specs {
            declared.extend(spec.sensitive.iter().cloned());
            for p in spec
                .actions
                .iter()
                .flat_map(|a| &a.params)
                .chain(spec.queries.iter().flat_map(|q| &q.params))
            {
                if p.sensitive {
                    declared.insert(p.name.clone());
                }
            }
            for a in &spec.actions {
                if let Some(r) = map.action(&spec.name, &a.name) {
                    secrets.insert(format!("{}.{}", spec.name, a.name), r.clone());
                }
            }
        }
        Redactor {
            secrets,
            map,
            names: names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect(),
            declared,
            limits,
        }
    }

    /// What the program's dataflow makes secret, per action.
    pub fn secret_map(&self) -> &SecretMap {
        &self.map
    }

    /// The safety net's name fragments.
    pub fn key_names(&self) -> &[String] {
        &self.names
    }

    /// Whether a key is redacted wherever it appears.
    pub fn is_secret_key(&self, key: &str) -> bool {
        self.declared.contains(key)
            || self.names.iter().any(|n| {
                key.len() >= n.len()
                    && key
                        .as_bytes()
                        .windows(n.len())
                        .any(|w| w.eq_ignore_ascii_case(n.as_bytes()))
            })
    }

    /// `record` (of `Concept.action`'s input or output) with its secrets
    /// replaced by [`REDACTED`].
    pub fn redact(&self, action: &str, part: Part, record: &Record) -> Record {
        let secret = self.secrets.get(action).map(|s| match part {
            Part::Input => &s.input,
            Part::Output => &s.output,
        });
        let mut record = record.clone();
        self.redact_object(&mut record, secret.unwrap_or(&Secret::None));
        record
    }

    /// As [`Redactor::redact`], then with large values reduced to a stub:
    /// what the log keeps and traces show.
    pub fn for_log(&self, action: &str, part: Part, record: &Record) -> Record {
        let mut record = self.redact(action, part, record);
        for v in record.values_mut() {
            bound(v, self.limits);
        }
        record
    }

    fn redact_object(&self, object: &mut Record, secret: &Secret) {
        for (k, v) in object.iter_mut() {
            if self.is_secret_key(k) {
                withhold(v);
            } else {
                self.redact_value(v, &secret.field(k));
            }
        }
    }

    fn redact_value(&self, value: &mut Value, secret: &Secret) {
        if *secret == Secret::Whole {
            withhold(value);
            return;
        }
        match value {
            Value::Object(o) => self.redact_object(o, secret),
            // Secrets apply to each item of a list alike.
            Value::Array(items) => items.iter_mut().for_each(|i| self.redact_value(i, secret)),
            _ => {}
        }
    }
}

/// Replaces a value by [`REDACTED`]; `null` stays (an absent secret reveals
/// nothing, and shows that it was absent).
fn withhold(value: &mut Value) {
    if !value.is_null() {
        *value = Value::from(REDACTED);
    }
}

/// Whether a value, or anything in it, is redacted or omitted: a step that
/// reads it cannot be re-run from the log.
pub fn is_withheld(value: &Value) -> bool {
    match value {
        Value::String(s) => s == REDACTED || s.starts_with(OMITTED_PREFIX),
        Value::Array(items) => items.iter().any(is_withheld),
        Value::Object(o) => o.values().any(is_withheld),
        _ => false,
    }
}

/// Reduces strings and composites above `limits` to stubs; returns the
/// value's JSON size afterwards (roughly: punctuation counted per item).
fn bound(value: &mut Value, limits: ValueLimits) -> usize {
    let size = match value {
        Value::String(s) if s.len() > limits.string => {
            *value = Value::from(stub(s.as_bytes(), s));
            return stub_len(value);
        }
        Value::String(s) => s.len() + 2,
        Value::Object(o) => o.iter_mut().map(|(k, v)| k.len() + 4 + bound(v, limits)).sum::<usize>() + 2,
        Value::Array(items) => items.iter_mut().map(|v| bound(v, limits) + 1).sum::<usize>() + 2,
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 20,
    };
    if size > limits.composite {
        let text = value.to_string();
        *value = Value::from(stub(text.as_bytes(), &text));
        return stub_len(value);
    }
    size
}

fn stub_len(v: &Value) -> usize {
    v.as_str().map_or(0, str::len) + 2
}

/// `<omitted 16777216 bytes, sha256 1a2b…, begins "UEsDBBQ…">`: enough to
/// recognise a value and tell two apart, never the value.
fn stub(bytes: &[u8], text: &str) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(16);
    for b in &digest[..8] {
        let _ = write!(hex, "{b:02x}");
    }
    let begins: String = text.chars().take(24).collect();
    format!(
        "{OMITTED_PREFIX}{} bytes, sha256 {hex}…, begins {:?}>",
        bytes.len(),
        begins
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor(names: &[&str]) -> Redactor {
        Redactor {
            names: names.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn record(v: Value) -> Record {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn names_match_anywhere_ignoring_case() {
        let r = redactor(&SECRET_KEY_NAMES);
        let out = r.redact(
            "X.y",
            Part::Input,
            &record(
                json!({"user": {"Password": "hunter22", "name": "a", "items": [{"accessToken": "t"}]}, "bio": null}),
            ),
        );
        assert_eq!(
            Value::Object(out),
            json!({"user": {"Password": REDACTED, "name": "a", "items": [{"accessToken": REDACTED}]}, "bio": null})
        );
    }

    #[test]
    fn no_names_means_only_dataflow() {
        let mut r = redactor(&[]);
        let mut s = RecordSecrets::default();
        s.input.join(&Secret::nest(
            "body",
            Secret::nest("user", Secret::nest("jwt", Secret::Whole)),
        ));
        r.secrets.insert("Requesting.respond".into(), s);
        let out = r.redact(
            "Requesting.respond",
            Part::Input,
            &record(json!({"body": {"user": {"jwt": "eyJ", "token": "kept"}}})),
        );
        assert_eq!(
            Value::Object(out),
            json!({"body": {"user": {"jwt": REDACTED, "token": "kept"}}})
        );
    }

    #[test]
    fn large_values_become_stubs() {
        let r = redactor(&[]);
        let big = "A".repeat(5000);
        let list: Vec<String> = (0..2000).map(|i| format!("item{i}")).collect();
        let out = r.for_log(
            "X.y",
            Part::Input,
            &record(json!({"file": big, "list": list, "small": "ok"})),
        );
        let file = out["file"].as_str().unwrap();
        assert!(file.starts_with("<omitted 5000 bytes, sha256 "), "{file}");
        assert!(file.len() < 100);
        assert!(out["list"].as_str().unwrap().starts_with(OMITTED_PREFIX));
        assert_eq!(out["small"], "ok");
        assert!(is_withheld(&out["file"]));
    }
}
