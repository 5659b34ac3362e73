#[derive(concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct Pair(String, String);

fn main() {}
