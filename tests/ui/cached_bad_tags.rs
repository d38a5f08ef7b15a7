use xcore::prelude::*;

struct Livres;

#[plugin]
impl Livres {
    #[route(get, "/livres/{id}")]
    #[cached(ttl = 60, tags = ["livre:{livre_id}"])]
    async fn one() {}

    #[route(get, "/livres")]
    #[cached(ttl = 60, tags = ["livres", ""])]
    async fn all() {}

    #[route(get, "/prets")]
    #[cached(ttl = 60, tags = ["prets:{user}"])]
    async fn loans() {}

    #[route(get, "/auteurs")]
    #[cached(ttl = 60, tags = "auteurs:{")]
    async fn authors() {}

    #[route(get, "/editeurs")]
    #[cached(ttl = 60, tags = [3])]
    async fn publishers() {}
}

fn main() {}
