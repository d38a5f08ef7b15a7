use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use super::App;
use crate::config::LogFormat;
use crate::error::Error;

impl App {
    /// Answers the command line, then (with no command, or `serve`) serves
    /// the app on `bind` until SIGINT or SIGTERM and lets in-flight requests
    /// finish.
    ///
    /// Every xcore app thereby has these commands:
    ///
    /// | command | what it does |
    /// |---|---|
    /// | *(none)*, `serve` | serves |
    /// | `routes` | lists every route: method, path, plugin, guard, cache, limits |
    /// | `migrate` | applies the migrations and exits |
    /// | `create-admin --email E` | creates an administrator (password from `XCORE_ADMIN_PASSWORD` or standard input) |
    /// | `check-config` | prints the configuration in effect, secrets redacted, and every problem; exits 1 if there is one |
    ///
    /// Installs a `tracing` subscriber (filtered by `RUST_LOG`, default
    /// `info`; colours only on a terminal; one JSON object per line with
    /// `log.format = "json"`) unless the program already set one.
    pub async fn run(self) -> Result<(), Error> {
        use clap::Parser;
        let cli = super::cli::Cli::parse();
        init_tracing(self.config().log.format);
        match cli.command {
            Some(command) => self.run_command(command).await,
            None => self.serve_on_bind().await,
        }
    }

    pub(super) async fn serve_on_bind(self) -> Result<(), Error> {
        let addr = self.config().bind;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|err| Error::Setup(format!("cannot listen on {addr}: {err}")))?;
        self.serve(listener).await
    }

    /// Serves the app on an already bound listener (e.g. port 0 in tests)
    /// until SIGINT or SIGTERM, then lets in-flight requests finish.
    ///
    /// HTTP/1.1 and HTTP/2 (prior knowledge) on each connection, as
    /// `axum::serve` offers, with hyper driven directly: the stack is
    /// called by reference, not cloned for every request, and a response
    /// is written with one `write` of one buffer.
    pub async fn serve(self, listener: TcpListener) -> Result<(), Error> {
        let (stack, _) = self.into_stack().await?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("xcore listening on http://{addr}");
        }
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().writev(false);
        let mut shutdown = std::pin::pin!(shutdown_signal());
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        pause_after(&err).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // One write a response: nothing to gain from Nagle's delay.
            let _ = stream.set_nodelay(true);
            // The peer's address reaches handlers (and limits) as `ClientAddr`.
            let service = stack.for_peer(peer);
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::trace!(error = %err, "connection ended with an error");
                }
            });
        }
        drop(listener);
        graceful.shutdown().await;
        tracing::info!("xcore stopped");
        Ok(())
    }
}

/// After a failed `accept`: a connection reset before it was accepted is
/// nothing; running out of descriptors or memory is waited out (a second)
/// rather than spun on.
async fn pause_after(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Err means the program installed its own subscriber: keep it.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        // Colour escapes only where a terminal shows them, not in log files.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
