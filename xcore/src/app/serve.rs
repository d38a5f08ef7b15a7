use tokio::net::TcpListener;

use super::App;
use crate::error::Error;

impl App {
    /// Serves the app on `bind` from the configuration until SIGINT or
    /// SIGTERM, then lets in-flight requests finish.
    ///
    /// Installs a `tracing` subscriber (filtered by `RUST_LOG`, default
    /// `info`) unless the program already set one.
    pub async fn run(self) -> Result<(), Error> {
        init_tracing();
        let addr = self.config().bind;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|err| Error::Setup(format!("cannot listen on {addr}: {err}")))?;
        self.serve(listener).await
    }

    /// Serves the app on an already bound listener (e.g. port 0 in tests)
    /// until SIGINT or SIGTERM.
    pub async fn serve(self, listener: TcpListener) -> Result<(), Error> {
        let router = self.into_router().await?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("xcore listening on http://{addr}");
        }
        // The peer's address reaches handlers (and limits) as `ClientAddr`.
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await?;
        tracing::info!("xcore stopped");
        Ok(())
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Err means the program installed its own subscriber: keep it.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
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
