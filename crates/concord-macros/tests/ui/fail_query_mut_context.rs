use concord_concept::ActionContext;

struct Lookup;

#[concord_macros::concept(crate = concord_concept)]
impl Lookup {
    pub fn _find(&self, ctx: &mut ActionContext) -> Vec<Found> {
        let _ = ctx;
        Vec::new()
    }
}

#[derive(concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct Found {
    pub id: String,
}

fn main() {}
