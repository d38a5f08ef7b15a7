//! `GET /profil/moi`: the seed's "Protéger une route", answered from the
//! stored account; `GET /profil/jeton`: what the token alone says.

use schemars::JsonSchema;
use serde::Serialize;
use xcore::accounts::User;
use xcore::prelude::*;

/// Body of `GET /profil/jeton`.
#[derive(Serialize, JsonSchema)]
pub struct Jeton {
    /// The user's id.
    pub id: String,
    /// The roles the token carries.
    pub roles: Vec<String>,
}

/// The signed-in user's profile.
pub struct Profil;

#[plugin(name = "profil", version = "1.0.0", prefix = "/profil", tags = ["profil"])]
impl Profil {
    /// The signed-in user as stored: id, e-mail, roles (and permissions).
    /// Without a token, 401.
    #[route(get, "/moi", auth)]
    async fn mon_profil(
        State(state): State<AppState>,
        user: CurrentUser,
    ) -> xcore::Result<Json<User>> {
        let id = user
            .id()
            .parse()
            .map_err(|_| Error::NotFound("this token does not belong to an account".into()))?;
        Ok(Json(state.accounts().user(id).await?))
    }

    /// Who the token says the caller is: id and roles, without reading
    /// the database (the guard has checked the token and its session).
    #[route(get, "/jeton", auth)]
    async fn mon_jeton(user: CurrentUser) -> Json<Jeton> {
        Json(Jeton {
            id: user.id().to_owned(),
            roles: user.roles().to_vec(),
        })
    }
}
