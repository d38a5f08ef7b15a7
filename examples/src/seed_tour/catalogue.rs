//! `/catalogue`: the seed's cache service ("Service de cache"): the product
//! list is cached for five minutes, tagged `produits`, and invalidated when
//! a product is added.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;
use xcore::db::UniqueViolationExt;
use xcore::prelude::*;

use super::NOT_BLANK;

/// A product.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Produit {
    /// Identifier.
    pub id: i64,
    /// Unique name.
    pub nom: String,
    /// Price in cents.
    pub prix_centimes: i64,
}

/// Body of `POST /catalogue/produits`.
///
/// The constraints are checked before the handler runs (a 422 lists every
/// field that breaks one) and shown in the API document.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct NouveauProduit {
    /// Unique name: 1 to 200 characters, not only spaces.
    #[validate(length(min = 1, max = 200), regex(path = *NOT_BLANK))]
    pub nom: String,
    /// Price in cents, not negative.
    #[validate(range(min = 0))]
    pub prix_centimes: i64,
}

/// The catalogue's settings: `[plugins.catalogue]` in `xcore.toml`, or
/// `XCORE_PLUGINS__CATALOGUE__PAGE_SIZE=5`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CatalogueConfig {
    /// Products `GET /catalogue/produits` lists, the first ones by id.
    pub page_size: u32,
}

impl Default for CatalogueConfig {
    fn default() -> Self {
        CatalogueConfig { page_size: 20 }
    }
}

/// The product catalogue.
pub struct Catalogue;

#[plugin(name = "catalogue", version = "1.0.0", prefix = "/catalogue", tags = ["catalogue"],
         migrations = "migrations/catalogue", config = CatalogueConfig)]
impl Catalogue {
    /// At start-up, once the migrations ran: the catalogue's size, logged
    /// (a real plugin would warm a cache or build a client here, and keep
    /// it in a field read by `&self` routes).
    #[on_start]
    async fn compter(db: Db) -> xcore::Result<()> {
        let (produits,): (i64,) = xcore::sqlx::query_as("SELECT COUNT(*) FROM catalogue_produits")
            .fetch_one(db.pool())
            .await?;
        tracing::info!(produits, "catalogue ready");
        Ok(())
    }

    /// At shutdown, once the requests in flight are done.
    #[on_stop]
    async fn fermer() {
        tracing::info!("catalogue closed");
    }

    /// The first `page_size` products (20 unless configured), cached for
    /// 300 s under `produits:all`, tagged `produits`.
    #[route(get, "/produits")]
    #[cached(ttl = 300, key = "produits:all", tags = ["produits"])]
    async fn produits(
        db: Db,
        config: PluginConfig<CatalogueConfig>,
    ) -> xcore::Result<Json<Vec<Produit>>> {
        let rows: Vec<(i64, String, i64)> = xcore::sqlx::query_as(
            "SELECT id, nom, prix_centimes FROM catalogue_produits ORDER BY id LIMIT $1",
        )
        .bind(i64::from(config.page_size))
        .fetch_all(db.pool())
        .await?;
        Ok(Json(
            rows.into_iter()
                .map(|(id, nom, prix_centimes)| Produit {
                    id,
                    nom,
                    prix_centimes,
                })
                .collect(),
        ))
    }

    /// Adds a product (admins); everything tagged `produits` (this list,
    /// every user's dashboard) is invalidated once it is stored.
    #[route(post, "/produits", auth = "admin", status = 201)]
    #[invalidates("produits")]
    async fn ajouter(db: Db, Json(data): Json<NouveauProduit>) -> xcore::Result<Json<Produit>> {
        let nom = data.nom.trim();
        let (id, nom, prix_centimes): (i64, String, i64) = xcore::sqlx::query_as(
            "INSERT INTO catalogue_produits (nom, prix_centimes) VALUES ($1, $2) RETURNING id, nom, prix_centimes",
        )
        .bind(nom)
        .bind(data.prix_centimes)
        .fetch_one(db.pool())
        .await
        .conflict_on_unique(format!("a product named `{nom}` already exists"))?;
        Ok(Json(Produit {
            id,
            nom,
            prix_centimes,
        }))
    }
}
