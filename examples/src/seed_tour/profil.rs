//! `GET /profil/moi`: the seed's "Protéger une route", answered from the
//! stored account.

use xcore::accounts::User;
use xcore::prelude::*;

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
}
