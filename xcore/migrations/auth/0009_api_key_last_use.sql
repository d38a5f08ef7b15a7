-- Where an API key was last used from (the client address, beside
-- `last_used_at`), shown to its owner; a use from another address than
-- the last one recorded leaves an `api_key_used` audit record.
ALTER TABLE xcore_api_keys ADD COLUMN last_used_from TEXT;
