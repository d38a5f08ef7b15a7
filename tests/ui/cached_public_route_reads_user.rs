use xcore::prelude::*;

struct Profil;

#[plugin]
impl Profil {
    #[route(get, "/moi")]
    #[cached(ttl = 60)]
    async fn moi(user: CurrentUser) -> String {
        user.id().to_owned()
    }

    #[route(get, "/salut")]
    #[cached(ttl = 60)]
    async fn salut(user: Option<CurrentUser>) -> String {
        user.map(|u| u.id().to_owned()).unwrap_or_default()
    }
}

fn main() {}
