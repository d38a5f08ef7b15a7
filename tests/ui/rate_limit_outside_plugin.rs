use xcore::prelude::*;

#[rate_limit(3, per = "minute")]
async fn envoyer() {}

fn main() {}
