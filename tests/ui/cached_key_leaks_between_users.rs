use xcore::prelude::*;

struct Stats;

#[plugin]
impl Stats {
    #[route(get, "/stats", auth)]
    #[cached(ttl = 120, key = "stats")]
    async fn stats() {}
}

fn main() {}
