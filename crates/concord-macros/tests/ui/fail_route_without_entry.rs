struct Cli;

#[concord_macros::concept(crate = concord_concept, route = "command")]
impl Cli {
    pub fn run(&self, command: String) {
        let _ = command;
    }
}

fn main() {}
