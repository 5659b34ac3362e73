//! Roles come from specs: a concept that declares an entry action and its
//! responders gets the same coverage analysis as `Requesting`, with no
//! change to the checker.

mod support;

use concord_concept::{ActionRole, Concept, ConceptSpec, Record};
use concord_macros::{Outputs, concept};
use concord_syntax::{SourceMap, render_all};

/// A command line: each command run is a flow, answered by `reply`.
pub struct Command;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
/// A run's id.
pub struct RunOut {
    /// The run.
    pub invocation: String,
}

#[concept(crate = concord_concept, entry = "run", route = "command", responds = "reply")]
impl Command {
    /// Runs `command`.
    pub fn run(&self, command: String, #[rest] _args: Record) -> RunOut {
        RunOut { invocation: command }
    }
    /// Answers a run.
    pub fn reply(&self, invocation: String, #[rest] _fields: Record) -> Result<(), String> {
        let _ = invocation;
        Ok(())
    }
}

/// Greets people.
pub struct Greeter;

#[concept(crate = concord_concept)]
impl Greeter {
    /// Greets `name`.
    pub fn greet(&self, name: String) -> Result<(), String> {
        let _ = name;
        Ok(())
    }
}

fn specs() -> Vec<ConceptSpec> {
    let mut specs = support::specs();
    specs.push(Command.spec());
    specs.push(Greeter.spec());
    specs
}

fn check(text: &str) -> String {
    let mut sources = SourceMap::new();
    let checked = concord_check::load(
        &mut sources,
        vec![concord_check::SourceText {
            name: "cli.sync".into(),
            module: String::new(),
            text: text.into(),
        }],
        &specs(),
    );
    render_all(&checked.diagnostics, &sources)
}

#[test]
fn the_spec_declares_the_roles() {
    let spec = Command.spec();
    assert!(
        matches!(&spec.action("run").unwrap().role, ActionRole::Entry(e) if e.route_key == "command" && e.method_key.is_none() && !e.templates)
    );
    assert_eq!(spec.action("reply").unwrap().role, ActionRole::Responder);
    assert_eq!(Greeter.spec().action("greet").unwrap().role, ActionRole::Plain);
}

#[test]
fn a_second_entry_concept_gets_coverage_warnings() {
    let rendered = check(
        "sync Greet\nwhen\n    Command.run (command: \"greet\", name) : (invocation)\nthen\n    Greeter.greet (name)\n",
    );
    assert!(
        rendered.contains(
            "warning[W0401]: requests to `greet` may get no answer: when `Greeter.greet` succeeds, no sync responds"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("Command.run (command: \"greet\") : (invocation)"),
        "the suggestion is written with the entry's own keys: {rendered}"
    );
    assert!(rendered.contains("Command.reply (invocation)"), "{rendered}");
}

#[test]
fn an_answered_command_is_covered() {
    let rendered = check(
        "sync Greet\nwhen\n    Command.run (command: \"greet\", name) : ()\nthen\n    Greeter.greet (name)\n\n\
         sync Greeted\nwhen\n    Command.run (command: \"greet\") : (invocation)\n    Greeter.greet () : *\nthen\n    Command.reply (invocation)\n",
    );
    assert_eq!(rendered, "", "{rendered}");
}

#[test]
fn two_replies_to_one_command_are_found() {
    let rendered = check(
        "sync Greet\nwhen\n    Command.run (command: \"greet\") : (invocation)\nthen\n    Command.reply (invocation)\n    Command.reply (invocation)\n",
    );
    assert!(
        rendered.contains("error[E0270]: this sync responds twice"),
        "{rendered}"
    );
}
