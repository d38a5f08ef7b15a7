//! `GET /profil/moi`: the seed's "Protéger une route".

use serde::Serialize;
use xcore::prelude::*;

/// The signed-in user's profile.
pub struct Profil;

/// Body of `GET /profil/moi`.
#[derive(Serialize)]
pub struct Moi {
    /// The user's id.
    pub id: String,
    /// The user's e-mail, when the token carries one.
    pub email: Option<String>,
    /// The user's roles.
    pub roles: Vec<String>,
}

#[plugin(name = "profil", version = "1.0.0", prefix = "/profil", tags = ["profil"])]
impl Profil {
    /// Any signed-in user sees their own profile; without a token, 401.
    #[route(get, "/moi", auth)]
    async fn mon_profil(user: CurrentUser) -> Json<Moi> {
        Json(Moi {
            id: user.id().to_owned(),
            email: user.email().map(str::to_owned),
            roles: user.roles().to_vec(),
        })
    }
}
