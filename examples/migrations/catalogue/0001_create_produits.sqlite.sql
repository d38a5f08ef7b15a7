CREATE TABLE catalogue_produits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nom TEXT NOT NULL UNIQUE,
    prix_centimes BIGINT NOT NULL
);
