-- Three sample items, so the tour has something to list and delete.
INSERT INTO items_items (nom, cree_par, cree_le) VALUES ('Clavier', NULL, 0);
INSERT INTO items_items (nom, cree_par, cree_le) VALUES ('Souris', NULL, 0);
INSERT INTO items_items (nom, cree_par, cree_le) VALUES ('Écran', NULL, 0);
