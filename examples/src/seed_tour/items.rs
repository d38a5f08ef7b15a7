//! `/items`: the seed's "Vérifier les rôles" — deleting is for admins.
//!
//! The items live in memory for now; the storage issue moves them to the
//! database.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::Serialize;
use xcore::prelude::*;

/// An item of the list.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// Identifier.
    pub id: u64,
    /// Display name.
    pub nom: String,
}

/// Items kept in the plugin's own state.
pub struct Items {
    store: RwLock<BTreeMap<u64, Item>>,
}

impl Default for Items {
    /// Three sample items, so the routes have something to show and delete.
    fn default() -> Self {
        let store = ["Clavier", "Souris", "Écran"]
            .into_iter()
            .zip(1..)
            .map(|(nom, id)| {
                (
                    id,
                    Item {
                        id,
                        nom: nom.to_owned(),
                    },
                )
            })
            .collect();
        Items {
            store: RwLock::new(store),
        }
    }
}

#[plugin(name = "items", version = "1.0.0", prefix = "/items", tags = ["items"])]
impl Items {
    /// Lists the items.
    #[route(get, "/")]
    async fn lister(&self) -> Json<Vec<Item>> {
        let store = self
            .store
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Json(store.values().cloned().collect())
    }

    /// Deletes an item: admins only (403 for other users, 401 without a token).
    #[route(delete, "/{item_id}", auth = "admin")]
    async fn supprimer(&self, Path(item_id): Path<u64>) -> xcore::Result<StatusCode> {
        let mut store = self
            .store
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match store.remove(&item_id) {
            Some(_) => Ok(StatusCode::NO_CONTENT),
            None => Err(Error::NotFound(format!("item {item_id} does not exist"))),
        }
    }
}
