// A plate body must be a block or a one-argument closure.
use bayesburn::prelude::*;

#[model]
fn bad_plate() -> bayesburn::Result<()> {
    plate!("data", 10, 42);
    Ok(())
}

fn main() {}
