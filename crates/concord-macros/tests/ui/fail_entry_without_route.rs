struct Cli;

#[concord_macros::concept(crate = concord_concept, entry = "run")]
impl Cli {
    pub fn run(&self, command: String) {
        let _ = command;
    }
}

fn main() {}
