use xcore::prelude::*;

struct A;
struct B;
struct C;

#[plugin(prefix = "shop")]
impl A {}

#[plugin(prefix = "/shop/")]
impl B {}

#[plugin(prefix = "/shop/{id}")]
impl C {}

fn main() {}
