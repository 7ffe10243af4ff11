//! The built-in web console (docs/console.md): an HTTP API over the admin protocol and the
//! embedded pages that use it. It talks to the cluster only as an admin client does, so it works
//! against Apache RocketMQ 4.9 and 5.x clusters too (docs/console.md "Against Apache RocketMQ";
//! scripts/console-java-test).
//!
//! # Layout
//! - this file: [`Console`] (bind, serve, stop), the router and the static assets.
//! - [`api`]: the cluster, topic, group and dead-letter pages' handlers, and the paging of the
//!   cached topic and group lists.
//! - [`messages`]: messages by time range, key and id; resend to a group; producers.
//! - [`manage`]: delete a topic or group, a topic's route, dead-letter export, background jobs.
//! - [`acl`]: the ACL page's ACL 1.0 section (plain_acl.yml accounts, global white addresses)
//!   and what both sections share (edit targets, "not enabled" answers, masked secrets).
//! - [`auth`]: the ACL page's ACL 2.0 section (users and their policies).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::Router;
use rmq_client::ClientConfig;

pub mod acl;
pub mod api;
pub mod auth;
pub mod manage;
pub mod messages;

/// Errors of starting the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Where to listen and how to reach the cluster.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Port 0 takes a free one.
    pub listen: SocketAddr,
    /// Name servers (and credentials or TLS) of the cluster to show.
    pub client: ClientConfig,
}

/// A running console; dropping it stops the server.
pub struct Console {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Console {
    /// Binds `config.listen` and serves until dropped.
    pub async fn start(config: ConsoleConfig) -> Result<Console, ConsoleError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ConsoleError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ConsoleError::Bind {
            addr: config.listen,
            source,
        })?;
        let app = router(Arc::new(api::App::new(config.client)));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "console server stopped");
            }
        });
        tracing::info!(%addr, "console listening");
        Ok(Console { addr, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// Where the pages come from: the copies built into the binary, or, when `RMQ_CONSOLE_ASSETS`
/// names a directory, its files read at each request (to work on the pages without a rebuild).
fn asset(kind: &'static str, name: &str, body: &'static str) -> impl IntoResponse {
    let body = std::env::var_os("RMQ_CONSOLE_ASSETS")
        .and_then(|dir| std::fs::read_to_string(std::path::Path::new(&dir).join(name)).ok())
        .map_or(std::borrow::Cow::Borrowed(body), std::borrow::Cow::Owned);
    (
        [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")],
        body,
    )
}

fn router(app: Arc<api::App>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", "index.html", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", "app.js", APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", "style.css", STYLE_CSS) }),
        )
        .route("/api/cluster", get(api::cluster))
        .route("/api/topics", get(api::topics).post(api::create_topic))
        .route(
            "/api/topics/{topic}",
            get(api::topic).delete(manage::delete_topic),
        )
        .route("/api/topics/{topic}/route", get(manage::topic_route))
        .route("/api/topics/{topic}/messages", post(api::send_message))
        .route("/api/groups", get(api::groups))
        .route(
            "/api/groups/{group}",
            get(api::group).delete(manage::delete_group),
        )
        .route("/api/groups/{group}/reset", post(api::reset_offsets))
        .route("/api/dlq/{group}", get(api::dead_letters))
        .route("/api/dlq/{group}/resend", post(api::resend_dead_letters))
        .route("/api/dlq/{group}/export", get(manage::export_dead_letters))
        .route("/api/jobs/{id}", get(manage::job))
        .route("/api/messages", get(messages::query))
        .route("/api/messages/{id}", get(messages::message))
        .route("/api/messages/{id}/resend", post(messages::resend))
        .route("/api/producers", get(messages::producers))
        .route("/api/acl/brokers", get(acl::brokers))
        .route("/api/acl/v1", get(acl::v1))
        .route("/api/acl/v1/accounts", post(acl::put_account))
        .route("/api/acl/v1/accounts/{access_key}", delete(acl::delete_account))
        .route("/api/acl/v1/white-addrs", post(acl::put_white_addrs))
        .route("/api/acl/v2", get(auth::v2))
        .route("/api/acl/v2/users", post(auth::put_user))
        .route("/api/acl/v2/users/{username}", delete(auth::delete_user))
        .route("/api/acl/v2/acls", post(auth::put_acl))
        .route("/api/acl/v2/acls/{subject}", delete(auth::delete_acl))
        .with_state(app)
}
