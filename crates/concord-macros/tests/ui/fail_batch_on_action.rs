struct Counter;

#[concord_macros::concept(crate = concord_concept)]
impl Counter {
    #[batch(add_many)]
    pub fn add(&self, n: i64) {
        let _ = n;
    }

    fn add_many(&self, n: Vec<i64>) -> Vec<()> {
        n.into_iter().map(|_| ()).collect()
    }
}

fn main() {}
