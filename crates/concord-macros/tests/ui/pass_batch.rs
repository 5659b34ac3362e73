use concord_concept::{Concept, QueryContext};

struct Lookup;

#[concord_macros::concept(crate = concord_concept)]
impl Lookup {
    /// One row per id; the batched form answers several ids at once.
    #[batch(find_many)]
    pub async fn _find(&self, ctx: &QueryContext, id: String, tag: Option<String>) -> Result<Vec<Found>, String> {
        let _ = ctx;
        Ok(vec![Found { id, tag }])
    }

    async fn find_many(
        &self,
        ctx: &QueryContext,
        id: Vec<String>,
        tag: Vec<Option<String>>,
    ) -> Result<Vec<Vec<Found>>, String> {
        let _ = ctx;
        Ok(id.into_iter().zip(tag).map(|(id, tag)| vec![Found { id, tag }]).collect())
    }
}

#[derive(concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct Found {
    pub id: String,
    pub tag: Option<String>,
}

fn main() {
    let _ = Lookup.spec();
}
