struct Pairs;

#[concord_macros::concept(crate = concord_concept)]
impl Pairs {
    pub fn add(&self, (a, b): (String, String)) {
        let _ = (a, b);
    }
}

fn main() {}
