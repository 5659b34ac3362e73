struct Counter;

#[concord_macros::concept(crate = concord_concept, colection = "counts")]
impl Counter {
    pub fn increment(&self) {}
}

fn main() {}
