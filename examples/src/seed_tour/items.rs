//! `/items`: the seed's database service ("Service de base de données") and
//! its role check ("Vérifier les rôles").

use std::time::{SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;
use xcore::prelude::*;

use super::NOT_BLANK;

/// An item, as stored in `items_items`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Item {
    /// Identifier, chosen by the database.
    pub id: i64,
    /// Display name.
    pub nom: String,
    /// Id of the user who created it (none for the samples).
    pub cree_par: Option<String>,
    /// Creation time, Unix seconds.
    pub cree_le: i64,
}

/// Body of `POST /items/`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct NouvelItem {
    /// Display name: 1 to 200 characters, not only spaces.
    #[validate(length(min = 1, max = 200), regex(path = *NOT_BLANK))]
    pub nom: String,
}

type Row = (i64, String, Option<String>, i64);

fn item((id, nom, cree_par, cree_le): Row) -> Item {
    Item {
        id,
        nom,
        cree_par,
        cree_le,
    }
}

/// Items stored in the database (tables created by its migrations).
pub struct Items;

#[plugin(name = "items", version = "1.0.0", prefix = "/items", tags = ["items"],
         migrations = "migrations/items")]
impl Items {
    /// Lists the items.
    #[route(get, "/")]
    async fn lister(db: Db) -> xcore::Result<Json<Vec<Item>>> {
        let rows: Vec<Row> =
            xcore::sqlx::query_as("SELECT id, nom, cree_par, cree_le FROM items_items ORDER BY id")
                .fetch_all(db.pool())
                .await?;
        Ok(Json(rows.into_iter().map(item).collect()))
    }

    /// Creates an item for the signed-in user.
    #[route(post, "/", auth, status = 201)]
    async fn creer(
        db: Db,
        user: CurrentUser,
        Json(data): Json<NouvelItem>,
    ) -> xcore::Result<Json<Item>> {
        let nom = data.nom.trim();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let row: Row = xcore::sqlx::query_as(
            "INSERT INTO items_items (nom, cree_par, cree_le) VALUES ($1, $2, $3) RETURNING id, nom, cree_par, cree_le",
        )
        .bind(nom)
        .bind(user.id())
        .bind(now)
        .fetch_one(db.pool())
        .await?;
        Ok(Json(item(row)))
    }

    /// Deletes an item: admins only (403 for other users, 401 without a token).
    #[route(delete, "/{item_id}", auth = "admin", status = 204)]
    async fn supprimer(db: Db, Path(item_id): Path<i64>) -> xcore::Result<()> {
        let done = xcore::sqlx::query("DELETE FROM items_items WHERE id = $1")
            .bind(item_id)
            .execute(db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("item {item_id} does not exist")));
        }
        Ok(())
    }
}
