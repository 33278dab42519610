//! The upstream API the campaign's `echo` tool calls: a real HTTP server on 127.0.0.1 that
//! answers at once and remembers which keys it was sent, so a case can check that every call
//! carried a value that was really stored (never a torn or foreign one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;

/// Keys received, with how often.
pub type Received = Arc<Mutex<HashMap<String, u64>>>;

/// Start the upstream on `runtime`; returns its base URL and what it receives.
pub fn start(runtime: &tokio::runtime::Runtime) -> Result<(String, Received)> {
    let received: Received = Arc::default();
    let seen = received.clone();
    let router = Router::new().route(
        "/echo",
        post(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or("(none)").to_string();
                *seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(key).or_default() += 1;
                axum::Json(serde_json::json!({"echo": "ok"}))
            }
        }),
    );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    runtime.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((format!("http://{addr}"), received))
}

/// The keys received, as a list.
pub fn keys(received: &Received) -> Vec<String> {
    received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).keys().cloned().collect()
}
