// A `#[model]` function must return a Result: its sites propagate errors with `?`.
use bayesburn::prelude::*;

#[model]
fn no_result() {}

fn main() {}
