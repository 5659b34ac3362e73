#[derive(concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub union Bits {
    a: u32,
    b: f32,
}

fn main() {}
