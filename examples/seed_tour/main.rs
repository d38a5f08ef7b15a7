//! The seed tutorial as one runnable app.
//!
//! ```text
//! cargo run --example seed_tour                      # serve on 127.0.0.1:8000
//! cargo run --example seed_tour -- token 42 admin    # print a token for user 42 with role admin
//! ```
//!
//! `token` signs with the configured secret (`XCORE_AUTH_JWT_SECRET`), so set
//! the same secret for the server and for the command.

use std::time::Duration;

use xcore::config::Config;
use xcore::security::{Claims, create_token};
use xcore_examples::seed_tour;

#[tokio::main]
async fn main() -> xcore::Result<()> {
    let config = Config::load()?;
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        None => seed_tour::app(config)?.run().await,
        Some("token") => {
            let Some(id) = args.next() else {
                return Err(usage());
            };
            let roles: Vec<String> = args.collect();
            print_token(config, &id, roles)
        }
        Some(_) => Err(usage()),
    }
}

fn print_token(config: Config, id: &str, roles: Vec<String>) -> xcore::Result<()> {
    if config.auth.jwt_secret.is_none() {
        return Err(xcore::Error::Config(
            "set XCORE_AUTH_JWT_SECRET (for this command and the server) so both use the same key"
                .into(),
        ));
    }
    let ttl = Duration::from_secs(config.auth.access_token_ttl_secs);
    let app = xcore::App::new(config)?;
    let claims = Claims::new(id, ttl)
        .with_email(format!("user{id}@example.com"))
        .with_roles(roles);
    println!("{}", create_token(app.jwt_keys(), &claims)?);
    Ok(())
}

fn usage() -> xcore::Error {
    xcore::Error::Config("usage: seed_tour [token <user-id> [role...]]".into())
}
