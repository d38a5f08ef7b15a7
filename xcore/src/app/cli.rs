//! The command line every xcore app answers through [`App::run`]:
//! `routes`, `migrate`, `create-admin`, `check-config`, or (no subcommand)
//! serve.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Parser, Subcommand};

use std::time::Duration;

use super::{App, Purpose};
use crate::config::Config;
use crate::error::Error;
use crate::plugin::MountedRoute;
use crate::rate_limit::{LimitKey, RateLimit};
use crate::web::AppState;

#[derive(Debug, Parser)]
#[command(about = "An xcore application. Without a command it serves.")]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Serve on `bind` (what no command does too).
    Serve,
    /// List every route: method, path, plugin, guard, cache and rate limits.
    Routes,
    /// Apply every pending migration, then exit.
    Migrate,
    /// Create an administrator, or promote an existing account when the
    /// password given is its password. The password is read from
    /// XCORE_ADMIN_PASSWORD, else from standard input.
    CreateAdmin {
        /// The administrator's e-mail.
        #[arg(long)]
        email: String,
    },
    /// Print the configuration in effect (secrets redacted), every problem
    /// found in it (exit 1) and every weak production setting (a warning;
    /// exit 1 too with --strict). Changes nothing: no migration, no
    /// administrator, no database file created.
    CheckConfig {
        /// Exit 1 on warnings too.
        #[arg(long)]
        strict: bool,
    },
}

impl App {
    pub(super) async fn run_command(self, command: Command) -> Result<(), Error> {
        match command {
            Command::Serve => self.serve_on_bind().await,
            Command::Routes => {
                print!("{}", routes_table(&self.routes()));
                for name in self.disabled_plugins() {
                    println!("# plugin `{name}` is disabled (plugins.{name}.enabled = false)");
                }
                Ok(())
            }
            Command::Migrate => {
                // Building the app applies every migration, the built-in
                // ones and each plugin's, and checks the rest of the set-up.
                let _built = self.build().await?;
                println!("migrations applied");
                Ok(())
            }
            Command::CreateAdmin { email } => {
                let password = admin_password()?;
                let (_, state, _) = self.build().await?;
                let made = state.accounts().make_admin(&email, &password).await?;
                if made.created {
                    println!("created administrator {email} (id {})", made.id);
                } else {
                    println!("{email} (id {}) is now an administrator", made.id);
                }
                Ok(())
            }
            Command::CheckConfig { strict } => self.check_config(strict).await,
        }
    }

    async fn check_config(self, strict: bool) -> Result<(), Error> {
        let config = self.config().clone();
        let mut printed = config.clone();
        printed
            .plugins
            .values_mut()
            .for_each(crate::config::redact_section);
        let shown = toml::to_string_pretty(&printed)
            .map_err(|err| Error::Setup(format!("cannot print the configuration: {err}")))?;
        println!("{shown}");
        let mut problems: Vec<String> = config.warnings().to_vec();
        if config.env == crate::config::Environment::Production {
            problems.extend(config.public_url_problem());
        }
        let warnings = config.weaknesses();
        // The whole start-up but serving and writing: senders, routes,
        // limits, the API document; then whether the database and the
        // cache answer.
        match self.build_for(Purpose::Check).await {
            Ok((_, state, _)) => problems.extend(unreachable_services(&state, &config).await),
            Err(err) => problems.push(err.to_string()),
        }
        for warning in &warnings {
            println!("# warning: {warning}");
        }
        for problem in &problems {
            println!("# problem: {problem}");
        }
        let failing = problems.len() + if strict { warnings.len() } else { 0 };
        if failing == 0 {
            match warnings.len() {
                0 => println!("# no problem found"),
                n => println!("# no problem found; {n} warning(s) (--strict fails on them)"),
            }
            return Ok(());
        }
        Err(Error::Config(format!(
            "{} problem(s) and {} warning(s) in the configuration",
            problems.len(),
            warnings.len()
        )))
    }
}

/// The services of `state` that do not answer, as problems: the database
/// (a SQLite file not created yet is a note, not a problem) and the cache.
async fn unreachable_services(state: &AppState, config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let url = &config.database.url;
    match crate::config::sqlite_file(url.expose()) {
        Some(file) if !std::path::Path::new(file).exists() => {
            println!(
                "# note: the SQLite database {file} does not exist yet: the first start creates it"
            );
        }
        _ => {
            let answered = tokio::time::timeout(
                Duration::from_secs(config.database.acquire_timeout_secs.max(1) + 1),
                sqlx::query("SELECT 1").execute(state.db().pool()),
            )
            .await;
            match answered {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => problems.push(format!("the database {url} does not answer: {err}")),
                Err(_) => problems.push(format!("the database {url} does not answer in time")),
            }
        }
    }
    if let Err(err) = state.cache().exists("xcore-check-config").await {
        let url = config
            .cache
            .url
            .as_ref()
            .map_or("in memory".to_owned(), ToString::to_string);
        problems.push(format!("the cache ({url}) does not answer: {err}"));
    }
    problems
}

/// The password of `create-admin`: `XCORE_ADMIN_PASSWORD`, else the first
/// line of standard input (prompted for on a terminal).
fn admin_password() -> Result<String, Error> {
    if let Ok(password) = std::env::var("XCORE_ADMIN_PASSWORD") {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (echoed as typed; prefer XCORE_ADMIN_PASSWORD): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|err| Error::Setup(format!("cannot read the password: {err}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(Error::Config(
            "no password: set XCORE_ADMIN_PASSWORD or write it on standard input".into(),
        ));
    }
    Ok(password)
}

/// The routes as an aligned text table.
fn routes_table(routes: &[MountedRoute]) -> String {
    let header = ["METHOD", "PATH", "PLUGIN", "GUARD", "CACHE", "LIMITS"].map(String::from);
    let rows: Vec<[String; 6]> = routes
        .iter()
        .map(|route| {
            let cache = route.info.cache.as_ref().map_or("-".to_owned(), |policy| {
                let mut text = format!("{}s", policy.ttl().as_secs());
                if let Some(key) = policy.key_template() {
                    text.push_str(&format!(" key {key}"));
                }
                if policy.is_shared() {
                    text.push_str(" shared");
                }
                if policy.tag_templates().len() > 0 {
                    let tags: Vec<&str> = policy.tag_templates().collect();
                    text.push_str(&format!(" tags {}", tags.join(",")));
                }
                text
            });
            let cache = if route.info.invalidates.is_empty() {
                cache
            } else {
                let tags = route.info.invalidates.join(",");
                match cache.as_str() {
                    "-" => format!("invalidates {tags}"),
                    _ => format!("{cache} invalidates {tags}"),
                }
            };
            let limits = if route.info.limits.is_empty() {
                "-".to_owned()
            } else {
                route
                    .info
                    .limits
                    .iter()
                    .map(describe_limit)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            [
                route.info.method.to_string(),
                route.path.clone(),
                route.plugin.clone(),
                route.info.guard.to_string(),
                cache,
                limits,
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `3/minute per user`, `100/86400s per ip`.
fn describe_limit(limit: &RateLimit) -> String {
    let secs = limit.period().as_secs();
    let period = match secs {
        1 => "second".to_owned(),
        60 => "minute".to_owned(),
        3600 => "hour".to_owned(),
        86_400 => "day".to_owned(),
        other => format!("{other}s"),
    };
    let key = limit
        .keys()
        .iter()
        .map(|key| match key {
            LimitKey::User => "user".to_owned(),
            LimitKey::Ip => "ip".to_owned(),
            LimitKey::Param(name) => format!("{{{name}}}"),
        })
        .collect::<Vec<_>>()
        .join("+");
    format!("{}/{period} per {key}", limit.count())
}
