use xcore::prelude::*;

struct Livres;

#[plugin]
impl Livres {
    #[route(delete, "/livres/{id}", auth = "admin")]
    #[invalidates("livre:{livre_id}")]
    async fn delete() {}

    #[route(post, "/livres")]
    #[invalidates("")]
    async fn add() {}

    #[route(post, "/prets")]
    #[invalidates]
    async fn lend() {}

    #[route(post, "/retours")]
    #[invalidates("prets:{user}")]
    async fn give_back() {}

    #[route(post, "/auteurs")]
    #[invalidates("auteurs")]
    #[invalidates("livres")]
    async fn add_author() {}

    #[invalidates("livres")]
    async fn not_a_route() {}
}

#[invalidates("livres")]
fn outside() {}

fn main() {}
