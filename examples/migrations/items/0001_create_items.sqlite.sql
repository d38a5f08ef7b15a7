CREATE TABLE items_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nom TEXT NOT NULL,
    cree_par TEXT,
    cree_le BIGINT NOT NULL
);
