//! Secrets follow the data: what the program's dataflow makes secret in
//! each action's records, from the concepts' declarations.

use concord_concept::{Concept, ConceptSpec, Record};
use concord_macros::{Outputs, concept};
use concord_program::SecretMap;
use concord_syntax::{SourceMap, render_all};

/// Keeps passwords.
pub struct Vault;

/// Remembers things, none of them secret by declaration.
pub struct Notes;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
/// A new note.
pub struct NoteOut {
    /// Its id.
    pub note: String,
}

#[concept(crate = concord_concept)]
impl Vault {
    /// Stores a password for `user`.
    pub fn store(&self, user: String, #[sensitive] password: String) -> Result<(), String> {
        let _ = (user, password);
        Ok(())
    }
}

#[concept(crate = concord_concept)]
impl Notes {
    /// Writes a note.
    pub fn write(&self, text: String, #[rest] _extra: Record) -> NoteOut {
        NoteOut { note: text }
    }
}

fn specs() -> Vec<ConceptSpec> {
    vec![
        concord_std::Requesting::new().spec(),
        concord_std::Jwt::new([7; 32]).spec(),
        Vault.spec(),
        Notes.spec(),
    ]
}

fn secrets(text: &str) -> String {
    let mut sources = SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText {
            name: "app.sync".into(),
            module: String::new(),
            text: text.into(),
        }],
        &specs(),
    );
    let program = checked
        .program
        .unwrap_or_else(|| panic!("{}", render_all(&checked.diagnostics, &sources)));
    SecretMap::derive(&program, &specs()).to_string()
}

#[test]
fn a_nested_request_field_that_reaches_a_sensitive_parameter_is_secret_in_the_request() {
    let map = secrets(
        "sync Store\nwhen\n    Requesting.request (path: \"/vault\", user: form) : (request)\nthen\n    \
         Vault.store (user: form.name, password: form.password)\n",
    );
    assert!(map.contains("Requesting.request  input: user.password"), "{map}");
    assert!(map.contains("Vault.store         input: password"), "{map}");
}

#[test]
fn the_same_field_is_secret_wherever_another_sync_sends_it() {
    let map = secrets(
        "sync Store\nwhen\n    Requesting.request (path: \"/vault\", user: form) : ()\nthen\n    \
         Vault.store (user: form.name, password: form.password)\n\n\
         sync Note\nwhen\n    Requesting.request (path: \"/vault\", user: form) : (request)\nwhere\n    \
         let copy = lower(trim(form.password))\nthen\n    Notes.write (text: \"x\", about: { hint: [copy] })\n",
    );
    assert!(map.contains("Notes.write         input: about.hint"), "{map}");
}

#[test]
fn a_token_put_into_a_response_body_is_secret_there() {
    let map = secrets(
        "sync Issue\nwhen\n    Requesting.request (path: \"/login\", name) : ()\nthen\n    JWT.issue (user: name)\n\n\
         sync Answer\nwhen\n    Requesting.request (path: \"/login\") : (request)\n    JWT.issue () : (token)\n\
         where\n    let user = { name: \"a\" } + { jwt: token }\nthen\n    \
         Requesting.respondWith (request, code: 201, body: { user, tokens: [token] })\n",
    );
    assert!(map.contains("JWT.issue               output: token"), "{map}");
    assert!(
        map.contains("Requesting.respondWith  input: body.tokens, body.user.jwt"),
        "{map}"
    );
}

#[test]
fn values_that_do_not_carry_a_secret_stay_visible() {
    let map = secrets(
        "sync Store\nwhen\n    Requesting.request (path: \"/vault\", user: form) : (request)\nwhere\n    \
         let long = len(form.password) > 8\nthen\n    Vault.store (user: form.name, password: form.password)\n    \
         Notes.write (text: \"x\", strong: long, name: form.name)\n",
    );
    assert!(!map.contains("Notes.write"), "{map}");
}
