use xcore::prelude::*;

struct Shop;

#[plugin(name = "shop", depends_on = ["Mon Catalogue", "catalogue@one", "shop", "items@^1"])]
impl Shop {}

struct Blog;

#[plugin(name = "blog", requires = ["shop"])]
impl Blog {}

fn main() {}
