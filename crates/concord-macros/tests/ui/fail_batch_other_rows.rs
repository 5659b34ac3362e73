struct Lookup;

#[concord_macros::concept(crate = concord_concept)]
impl Lookup {
    #[batch(find_many)]
    pub fn _find(&self, id: String) -> Vec<Found> {
        vec![Found { id }]
    }

    fn find_many(&self, id: Vec<String>) -> Vec<Vec<Other>> {
        id.into_iter().map(|_| Vec::new()).collect()
    }
}

#[derive(concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct Found {
    pub id: String,
}

#[derive(concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct Other {
    pub name: String,
}

fn main() {}
