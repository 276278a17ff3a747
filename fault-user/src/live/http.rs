//! The HTTP side: `/metrics` (Prometheus text or OpenMetrics, as the scraper asks) and
//! `/api/faults` (the most recent fault records, JSON).

use std::sync::Arc;

use axum::{
    Router,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::sync::watch;

use super::Shared;
use crate::faultlog::RECENT;

pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/api/faults", get(faults))
        .with_state(shared);
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        log::error!("HTTP server: {e}");
    }
}

async fn index() -> &'static str {
    "faultd\n  /metrics      Prometheus text or OpenMetrics (Accept)\n  \
     /api/faults   recent fault records, oldest first (?limit=N, at most 1000)\n"
}

async fn metrics(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    // Reading the maps is a system call per flow: off the runtime's thread, so other
    // requests are not held up behind it.
    let maps = s.clone();
    let read =
        tokio::task::spawn_blocking(move || maps.kernel.lock().expect("kernel maps lock").read())
            .await
            .unwrap_or_else(|e| Err(aya::maps::MapError::from(std::io::Error::other(e))));
    match read {
        Ok((stats, flows)) => s.metrics.set_kernel(&stats, flows),
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the XDP program's maps: {e}\n"),
            )
                .into_response();
        }
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (body, content_type) = s.metrics.encode(accept);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn faults(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let mut limit = RECENT;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("limit", v)) => match v.parse::<usize>() {
                Ok(n) => limit = n.min(RECENT),
                Err(_) => {
                    return (
                        StatusCode::BAD_REQUEST,
                        format!("limit must be a number from 0 to {RECENT}, not {v:?}\n"),
                    )
                        .into_response();
                }
            },
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("unknown parameter {pair:?}: the only one is limit=N\n"),
                )
                    .into_response();
            }
        }
    }
    let body = serde_json::Value::Array(s.log.recent(limit)).to_string();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
