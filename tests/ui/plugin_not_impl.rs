use xcore::prelude::*;

#[plugin]
struct NotAnImpl;

fn main() {}
