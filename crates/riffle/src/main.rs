//! The `riffle` command. It stays thin: parse flags, install logging, bind
//! the port, and hand a listener, an engine and a shutdown signal to
//! `riffle_server::serve`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use riffle_engine::{Clock, Engine, EngineConfig};
use riffle_model::{AccountId, Region};
use riffle_store::Durability;
use tokio::net::TcpListener;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Parser, Debug)]
#[command(
    name = "riffle",
    version,
    about = "A durable, self-hosted Amazon Kinesis Data Streams server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the Kinesis API.
    Serve(ServeArgs),
}

#[derive(Parser, Debug)]
// A flag given twice takes its last value, so scripts can append overrides.
#[command(args_override_self = true)]
struct ServeArgs {
    /// Address to listen on (HTTP/1.1 and h2c on one port).
    #[arg(long, env = "RIFFLE_LISTEN", default_value = "127.0.0.1:4567")]
    listen: SocketAddr,
    /// Directory for stream data and metadata; created if missing.
    #[arg(long, env = "RIFFLE_DATA_DIR", default_value = "riffle-data")]
    data_dir: PathBuf,
    /// When a put is acknowledged. `sync` (default): after fdatasync, so
    /// acknowledged data survives power loss. `interval` (RELAXED): after the
    /// write, with a sync every --sync-interval-ms. `none` (RELAXED): after the
    /// write, never syncing explicitly. Both relaxed modes survive a crash of
    /// Riffle itself, but not of the machine.
    #[arg(long, env = "RIFFLE_DURABILITY", value_enum, default_value_t = DurabilityArg::Sync)]
    durability: DurabilityArg,
    /// Sync period for `--durability interval`.
    #[arg(long, env = "RIFFLE_SYNC_INTERVAL_MS", default_value_t = 100)]
    sync_interval_ms: u64,
    /// How long a new stream stays CREATING (AWS takes about half a second;
    /// use 0 in tests and benchmarks).
    #[arg(long, env = "RIFFLE_CREATE_DELAY_MS", default_value_t = 500)]
    create_delay_ms: u64,
    /// How long a deleted stream stays DELETING.
    #[arg(long, env = "RIFFLE_DELETE_DELAY_MS", default_value_t = 500)]
    delete_delay_ms: u64,
    /// Enforce AWS's per-shard throughput limits (writes 1 MiB/s and 1,000
    /// records/s, reads 2 MiB/s and 5 calls/s), answering excess with
    /// ProvisionedThroughputExceededException. A stream's
    /// `riffle.enforce-limits` tag (true/false) overrides this.
    #[arg(long, env = "RIFFLE_ENFORCE_LIMITS")]
    enforce_limits: bool,
    /// Lift AWS's per-stream daily quotas on control-plane calls (10
    /// UpdateShardCount calls and 2 capacity-mode switches per 24 hours),
    /// for test suites that rescale a stream over and over.
    #[arg(long, env = "RIFFLE_NO_DAILY_QUOTAS")]
    no_daily_quotas: bool,
    /// Enhanced fan-out consumers allowed per stream. AWS allows 20; raise
    /// it to run hundreds of subscribers on one shard.
    #[arg(long, env = "RIFFLE_CONSUMER_LIMIT", default_value_t = 20)]
    consumer_limit: usize,
    /// Also serve TLS (ALPN h2 and http/1.1) on this address. Needs
    /// --tls-cert and --tls-key, or --tls-self-signed.
    #[arg(long, env = "RIFFLE_TLS_LISTEN")]
    tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for the TLS listener.
    #[arg(long, env = "RIFFLE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for the TLS listener.
    #[arg(long, env = "RIFFLE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Use a self-signed certificate for localhost and 127.0.0.1, kept in
    /// the data directory (tls-self-signed.pem); for local development.
    #[arg(long, env = "RIFFLE_TLS_SELF_SIGNED", conflicts_with = "tls_cert")]
    tls_self_signed: bool,
    /// The 12-digit account id used in ARNs and messages.
    #[arg(long, env = "RIFFLE_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// The region used in ARNs.
    #[arg(long, env = "RIFFLE_REGION", default_value = "us-east-1")]
    region: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DurabilityArg {
    Sync,
    Interval,
    None,
}

fn main() -> anyhow::Result<()> {
    keep_freed_memory_mapped();
    let cli = Cli::parse();
    install_logging()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
    }
}

/// Stops glibc's allocator from handing freed memory back to the kernel
/// after every large response. A GetRecords answer is a megabyte or more;
/// each was a fresh mapping (or a heap that shrank with `MADV_DONTNEED`
/// when freed), so every read paid for a page fault and a page clear per
/// 4 KiB. Freed memory now stays with the allocator, up to the limits below.
/// Measured: catch-up reads 0.49–0.51M → 0.64–0.72M records/s; server RSS
/// after them 9 → 23 MiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory_mapped() {
    // SAFETY: mallopt only sets allocator parameters; it is called first
    // thing in main, before any other thread exists or allocates.
    #[allow(unsafe_code)]
    unsafe {
        // Allocations below 16 MiB (any GetRecords answer: 10 MiB of data
        // is about 14 MiB of JSON) come from a heap, not their own mapping.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 16 << 20);
        // A heap keeps up to 16 MiB free at its top before shrinking, so
        // what this costs in memory is bounded per allocator arena.
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory_mapped() {}

fn install_logging() -> anyhow::Result<()> {
    let filter: Targets = match std::env::var("RIFFLE_LOG") {
        Ok(spec) => spec.parse().context("parsing RIFFLE_LOG")?,
        Err(_) => Targets::new().with_default(LevelFilter::INFO),
    };
    let format = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .init();
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let durability = match args.durability {
        DurabilityArg::Sync => Durability::Sync,
        DurabilityArg::Interval => Durability::Interval {
            interval_ms: args.sync_interval_ms,
        },
        DurabilityArg::None => Durability::None,
    };
    let config = EngineConfig {
        account: AccountId::parse(&args.account_id).context("--account-id must be 12 digits")?,
        region: Region::parse(&args.region).context("--region must look like us-east-1")?,
        create_delay_ms: args.create_delay_ms,
        delete_delay_ms: args.delete_delay_ms,
        enforce_limits: args.enforce_limits,
        daily_quotas: !args.no_daily_quotas,
        consumers_per_stream_max: args.consumer_limit,
        ..EngineConfig::default()
    };
    let engine = Engine::open_local(&args.data_dir, config, durability, Clock::System)
        .with_context(|| format!("opening data directory {}", args.data_dir.display()))?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Requests are answered from here on; shard logs not yet used are
    // recovered meanwhile (a request that needs one sooner recovers it).
    engine
        .recover_logs_in_background()
        .context("starting log recovery")?;
    let tls = match (
        args.tls_listen,
        &args.tls_cert,
        &args.tls_key,
        args.tls_self_signed,
    ) {
        (None, None, _, false) => None,
        (None, _, _, _) => anyhow::bail!("--tls-cert/--tls-self-signed need --tls-listen"),
        (Some(_), None, _, false) => {
            anyhow::bail!("--tls-listen needs --tls-cert and --tls-key, or --tls-self-signed")
        }
        (Some(tls_addr), cert, key, self_signed) => {
            let acceptor = if self_signed {
                let (acceptor, _) = riffle_server::tls::self_signed(&args.data_dir)?;
                tracing::info!(cert = %args.data_dir.join("tls-self-signed.pem").display(), "using a self-signed certificate");
                acceptor
            } else {
                let (cert, key) = (
                    cert.as_ref().expect("checked"),
                    key.as_ref().expect("clap requires both"),
                );
                riffle_server::tls::from_files(cert, key)?
            };
            let tls_listener = TcpListener::bind(tls_addr)
                .await
                .with_context(|| format!("binding {tls_addr}"))?;
            let tls_local = tls_listener.local_addr()?;
            tracing::info!(tls_addr = %tls_local, "riffle serving TLS on https://{tls_local} (h2 and HTTP/1.1)");
            Some((tls_listener, acceptor))
        }
    };
    tracing::info!(
        addr = %addr,
        data_dir = %args.data_dir.display(),
        durability = ?args.durability,
        "riffle listening on http://{addr} (HTTP/1.1 and h2c)"
    );
    riffle_server::serve(
        riffle_server::Listeners {
            plain: listener,
            tls,
        },
        engine,
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
