//! `/tableau-de-bord`: the seed's "Combiner plusieurs services": a guarded
//! route reading the database, cached per user for 120 s and tagged
//! `produits`: adding a product (another plugin) invalidates every user's
//! figures at once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use xcore::prelude::*;

/// Body of `GET /tableau-de-bord/stats`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Stats {
    /// The user the figures are for.
    pub utilisateur: String,
    /// Items this user created.
    pub mes_items: i64,
    /// Items in total.
    pub items: i64,
    /// Products in the catalogue.
    pub produits: i64,
}

/// The signed-in user's dashboard.
pub struct TableauDeBord;

#[plugin(name = "tableau-de-bord", version = "1.0.0", prefix = "/tableau-de-bord", tags = ["dashboard"],
         depends_on = ["catalogue@^1", "items"])]
impl TableauDeBord {
    /// The user's figures, computed at most every 120 s per user, or anew
    /// once the catalogue changed.
    #[route(get, "/stats", auth)]
    #[cached(ttl = 120, key = "stats:user:{user}", tags = ["produits"])]
    async fn stats(db: Db, user: CurrentUser) -> xcore::Result<Json<Stats>> {
        let (mes_items, items, produits): (i64, i64, i64) = xcore::sqlx::query_as(
            "SELECT \
               (SELECT COUNT(*) FROM items_items WHERE cree_par = $1), \
               (SELECT COUNT(*) FROM items_items), \
               (SELECT COUNT(*) FROM catalogue_produits)",
        )
        .bind(user.id())
        .fetch_one(db.pool())
        .await?;
        Ok(Json(Stats {
            utilisateur: user.id().to_owned(),
            mes_items,
            items,
            produits,
        }))
    }
}
