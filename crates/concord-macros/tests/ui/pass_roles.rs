use concord_concept::{ActionRole, Concept, Record};

struct Cli;

#[derive(concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct RunOut {
    pub run: String,
}

#[concord_macros::concept(crate = concord_concept, entry = "run", route = "command", responds = "reply")]
impl Cli {
    pub fn run(&self, command: String) -> RunOut {
        RunOut { run: command }
    }
    pub fn reply(&self, run: String, #[rest] _fields: Record) {
        let _ = run;
    }
}

fn main() {
    let spec = Cli.spec();
    assert!(matches!(spec.action("run").unwrap().role, ActionRole::Entry(_)));
    assert_eq!(spec.action("reply").unwrap().role, ActionRole::Responder);
}
