//! The composition root: a valid config becomes what a run needs ([`Deps`]): the state store,
//! the one HTTP connection pool (and the ref lister of HTTPS upstreams on it), the forge
//! factory, the event bus and the stop token.
//!
//! Every command, the service (on start and on reload) and the demo build their deps here, so
//! none of them imports another, and this is the one place that knows which forge type a
//! config names and how its secrets are resolved.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::{ForgeConfig, ServerConfig, ValidConfig};
use crate::forge::Forge;
use crate::forge::azure::{AzureForge, AzureSettings};
use crate::forge::github::{GithubForge, GithubSettings};
use crate::forge::local::LocalForge;
use crate::http::Pool;
use crate::store::Store;
use crate::upstream::smart_http::{ListOptions, RefLister};

/// How long a new connection to any HTTP host may take (forges, release channels).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the forge client of a server (tests may swap in their own).
pub type ForgeFactory = Arc<dyn Fn(&ServerConfig) -> anyhow::Result<Box<dyn Forge>> + Send + Sync>;

/// What a run needs. Cheap to clone (every field is shared).
#[derive(Clone)]
pub struct Deps {
    pub config: Arc<ValidConfig>,
    pub store: Arc<Store>,
    /// The one HTTP connection pool; forges and release channels make their clients from it.
    pub http: Pool,
    /// Lists the refs of `http(s)://` upstreams over `http`'s connections (kept alive, HTTP/2
    /// where offered), so a quiet run pays no handshake per upstream.
    pub refs: Arc<RefLister>,
    pub forges: ForgeFactory,
    /// How many servers are synced at once.
    pub concurrency: usize,
    /// Where run progress is published.
    pub events: crate::events::Bus,
    /// Cancelled on shutdown: servers not started yet are skipped; started ones finish.
    pub stop: tokio_util::sync::CancellationToken,
    /// MCP surfaces extracted in this process, by tree: a pinned release is read once.
    pub mcp_surfaces: Arc<crate::mcp::SurfaceCache>,
}

impl Deps {
    /// [`Deps::from_config`] from async code: opening the state blocks, so it runs on the
    /// blocking pool (the rule on [`Store`]).
    pub async fn open(config: ValidConfig) -> anyhow::Result<Deps> {
        tokio::task::spawn_blocking(move || Deps::from_config(config))
            .await
            .context("opening the state stopped")?
    }

    /// Open the state and build the shared clients for `config` (blocking).
    pub fn from_config(config: ValidConfig) -> anyhow::Result<Deps> {
        let store = open_store(&config)?;
        // Built once: every forge and channel client shares its connections and TLS sessions.
        let http =
            Pool::new(CONNECT_TIMEOUT)?.with_api_limit(config.service.per_host_concurrency.api);
        let refs = Arc::new(RefLister::new(
            http.reqwest_client(),
            ListOptions::default(),
        ));
        let pool = http.clone();
        let forges: ForgeFactory = Arc::new(move |server| forge_for(&pool, server));
        let concurrency = config.service.concurrency;
        Ok(Deps {
            config: Arc::new(config),
            store: Arc::new(store),
            http,
            refs,
            forges,
            concurrency,
            events: crate::events::Bus::new(),
            stop: tokio_util::sync::CancellationToken::new(),
            mcp_surfaces: Arc::new(crate::mcp::SurfaceCache::default()),
        })
    }
}

/// The state store of `config`, waiting up to `[state] busy-timeout` for another process's lock,
/// with the config's chat routes (every email it queues also goes to the server's chat
/// destinations) and what bounds one delivery (how long a claim on an outbox row lasts). Pending schema migrations are applied only when `[state] auto-migrate` (or `--migrate`)
/// allows it; a newer schema is refused ([`crate::store::schema`]).
pub fn open_store(config: &ValidConfig) -> anyhow::Result<Store> {
    let policy = if config.state.auto_migrate {
        crate::store::schema::Policy::Apply
    } else {
        crate::store::schema::Policy::Refuse
    };
    let (store, applied) = open_state(&config.state, policy)?;
    if !applied.is_empty() {
        tracing::info!(
            state = %store.location(),
            migrations = applied.len(),
            version = crate::store::schema::known(),
            "migrated the state ([state] auto-migrate or --migrate)"
        );
    }
    store.set_chat_routes(&config.chat_routes())?;
    store.set_outbox_delivery(config.email.delivery_bound(), config.state.lock_wait());
    Ok(store)
}

/// Open the configured state (the SQLite file, or the PostgreSQL database whose URL is read
/// now), applying pending migrations only under `policy`; returns what it applied.
pub fn open_state(
    state: &crate::config::StateConfig,
    policy: crate::store::schema::Policy,
) -> anyhow::Result<(Store, Vec<crate::store::schema::Migration>)> {
    match &state.backend {
        crate::config::StateBackend::Sqlite { path, busy_timeout } => {
            Store::open_migrating(path, *busy_timeout, policy)
        }
        crate::config::StateBackend::Postgres(pg) => {
            let options = crate::store::db::PgOptions {
                url: pg.url()?,
                lock_timeout: pg.lock_timeout,
            };
            Store::open_postgres_pooled(&options, pg.pool_size, policy)
        }
    }
}

/// A connection pool for a command that makes HTTP calls outside a run (`check --online`).
pub fn http_pool() -> anyhow::Result<Pool> {
    Pool::new(CONNECT_TIMEOUT)
}

/// The forge of a server on the shared connection pool, with its secrets resolved now.
pub fn forge_for(
    http: &crate::http::Pool,
    server: &ServerConfig,
) -> anyhow::Result<Box<dyn Forge>> {
    Ok(match &server.mirror.forge {
        ForgeConfig::Local { repo } => Box::new(LocalForge::new(repo)?),
        ForgeConfig::Github {
            api_url,
            owner,
            repo,
            token,
        } => {
            let token = token.resolve().context("GitHub token")?;
            Box::new(GithubForge::with_pool(
                http,
                GithubSettings {
                    api_url: api_url.clone(),
                    owner: owner.clone(),
                    repo: repo.clone(),
                    token,
                    timeout: std::time::Duration::from_secs(30),
                    max_retries: 4,
                    max_rate_limit_wait: std::time::Duration::from_secs(300),
                },
            )?)
        }
        ForgeConfig::AzureDevops {
            base_url,
            organization,
            project,
            repository,
            api_version,
            identity_url,
            token,
        } => {
            let token = token.resolve().context("Azure DevOps token")?;
            Box::new(AzureForge::with_pool(
                http,
                AzureSettings {
                    base_url: base_url.clone(),
                    organization: organization.clone(),
                    project: project.clone(),
                    repository: repository.clone(),
                    api_version: api_version.clone(),
                    identity_url: identity_url.clone(),
                    token,
                    timeout: std::time::Duration::from_secs(30),
                    max_retries: 4,
                    max_rate_limit_wait: std::time::Duration::from_secs(300),
                },
            )?)
        }
    })
}
