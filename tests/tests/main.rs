//! The black-box tests of xcore, as one test binary (one link of the whole
//! stack instead of one per file): HTTP tests of each service, the seed
//! tour, the OpenAPI document, and the compile-fail UI tests.

mod common;

mod account_links;
mod accounts;
mod api_keys;
mod app;
mod architecture;
mod cache;
mod cache_tags;
mod configuration;
mod connections;
mod database;
mod guards;
mod hostile;
mod near_cache;
mod openapi;
mod otp;
mod plugins;
mod portable_types;
mod production;
mod rate_limits;
mod rules;
mod seed_tour;
mod ui;
mod validation;
