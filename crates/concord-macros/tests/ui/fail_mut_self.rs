use concord_concept::Record;

struct Counter;

#[concord_macros::concept(crate = concord_concept)]
impl Counter {
    pub fn increment(&mut self, #[rest] _by: Record) {}
}

fn main() {}
