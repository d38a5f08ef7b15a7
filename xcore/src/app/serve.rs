use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

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
    /// | `check-config [--strict]` | prints the configuration in effect, secrets redacted, every problem (exit 1) and every weak production setting (exit 1 with `--strict`); changes nothing |
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
    ///
    /// Slow clients are cut off: a connection has
    /// `http.header_read_timeout_secs` to send its first byte, then as long
    /// again for each request's head, and as long when idle between
    /// requests; at most `http.max_connections` are open at once (past
    /// that, new ones wait in the system's accept queue).
    pub async fn serve(self, listener: TcpListener) -> Result<(), Error> {
        self.serve_until(listener, shutdown_signal()).await
    }

    /// [`App::serve`] until `shutdown` completes instead of a signal (a
    /// test, or a program with its own way of stopping).
    ///
    /// The plugins' start hooks run once the listener is serving (`/ready`
    /// answers 503 until they all returned; `/health` 200 all along); a
    /// failing one stops the server and is returned. On shutdown, requests
    /// in flight get `lifecycle.shutdown_timeout_secs` to finish, then
    /// every connection still open is closed, then the stop hooks run in
    /// reverse dependency order.
    pub async fn serve_until(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), Error> {
        let http = self.config().http.clone();
        let drain_for = Duration::from_secs(self.config().lifecycle.shutdown_timeout_secs);
        let (stack, state) = self.into_stack().await?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("xcore listening on http://{addr}");
        }
        let mut starting = {
            let state = state.clone();
            tokio::spawn(async move { state.start_plugins().await })
        };
        let mut start_failure = None;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let header_timeout = http.header_read_timeout();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .writev(false)
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(H2_PING_EVERY))
            .keep_alive_timeout(H2_PING_EVERY);
        let connections =
            (http.max_connections > 0).then(|| Arc::new(Semaphore::new(http.max_connections)));
        // Every connection's task, so that those still open past the
        // shutdown deadline can be ended.
        let mut open = tokio::task::JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut started = false;
        loop {
            // Finished connections are reaped as new ones come.
            while open.try_join_next().is_some() {}
            let place = match &connections {
                Some(connections) => tokio::select! {
                    place = Arc::clone(connections).acquire_owned() => place.ok(),
                    () = &mut shutdown => break,
                },
                None => None,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        pause_after(&err).await;
                        continue;
                    }
                },
                result = &mut starting, if !started => {
                    started = true;
                    match result {
                        Ok(Ok(())) => {
                            tracing::info!("every plugin started");
                            continue;
                        }
                        Ok(Err(err)) => {
                            start_failure = Some(err);
                            break;
                        }
                        Err(err) => {
                            start_failure = Some(Error::Setup(format!("a start hook panicked: {err}")));
                            break;
                        }
                    }
                }
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let service = stack.for_peer(peer);
            let builder = builder.clone();
            let watcher = graceful.watcher();
            open.spawn(async move {
                let _place = place;
                if !first_byte_within(&stream, header_timeout).await {
                    return;
                }
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                if let Err(err) = watcher.watch(connection).await {
                    tracing::trace!(error = %err, "connection ended with an error");
                }
            });
        }
        drop(listener);
        if !started {
            // Shut down while starting: the start hooks finish first, so
            // that every plugin started is stopped.
            match starting.await {
                Ok(Err(err)) => start_failure = Some(err),
                Err(err) => {
                    start_failure = Some(Error::Setup(format!("a start hook panicked: {err}")))
                }
                Ok(Ok(())) => {}
            }
        }
        // Requests in flight finish, within the deadline; long-lived
        // answers (an event stream, a WebSocket) are then ended, not
        // waited for.
        if tokio::time::timeout(drain_for, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                still_open = open.len(),
                "connections still open after {} s (lifecycle.shutdown_timeout_secs): closed",
                drain_for.as_secs()
            );
        }
        open.abort_all();
        while open.join_next().await.is_some() {}
        state.stop_plugins().await;
        tracing::info!("xcore stopped");
        match start_failure {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

const H2_PING_EVERY: Duration = Duration::from_secs(20);

/// Whether `stream` sends a byte within `timeout` (always, without one).
/// hyper's clock for a request's head starts once it has seen which
/// protocol the connection speaks, which takes a byte: a connection that
/// never sends one would otherwise stay open for good.
async fn first_byte_within(stream: &TcpStream, timeout: Option<Duration>) -> bool {
    let Some(timeout) = timeout else {
        return true;
    };
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(timeout, stream.peek(&mut byte)).await,
        Ok(Ok(1..))
    )
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
