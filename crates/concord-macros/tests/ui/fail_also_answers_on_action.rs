struct Counter;

#[concord_macros::concept(crate = concord_concept)]
impl Counter {
    #[also_answers(_get)]
    pub fn add(&self, n: i64) {
        let _ = n;
    }
}

fn main() {}
