//! The harness: start `riffle serve` on `127.0.0.1:0` with its own data
//! directory, find its port from its log line, and hand out SDK clients.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::types::ShardIteratorType;

/// A running `riffle serve` process; killed when dropped.
pub(crate) struct Riffle {
    child: Child,
    pub(crate) addr: SocketAddr,
    /// The TLS listener's address, when started with `--tls-listen`.
    pub(crate) tls_addr: Option<SocketAddr>,
    /// Keeps a temporary data directory alive for the server's lifetime.
    _temp: Option<tempfile::TempDir>,
    pub(crate) client: Client,
    /// Every line the server has logged so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Riffle {
    /// A server on a fresh temporary directory with no CREATING/DELETING delay.
    pub(crate) fn start() -> Riffle {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut riffle = Riffle::start_in(&dir, &[]);
        riffle._temp = Some(temp);
        riffle
    }

    /// A server on `data_dir` with extra flags (later flags override the defaults).
    pub(crate) fn start_in(data_dir: &Path, extra_args: &[&str]) -> Riffle {
        Riffle::spawn(
            Command::new(env!("CARGO_BIN_EXE_riffle")),
            data_dir,
            extra_args,
        )
    }

    /// As `start_in`, on a disk that fills up: no file the server writes
    /// may grow past `bytes` (`RLIMIT_FSIZE`, set by util-linux's
    /// `prlimit`). A write past it fails with `EFBIG`, as one on a full
    /// disk fails with `ENOSPC`, rather than killing the process with
    /// `SIGXFSZ` (ignored here, which `exec` keeps).
    pub(crate) fn start_with_file_size_limit(data_dir: &Path, bytes: u64) -> Riffle {
        let mut wrapper = Command::new("sh");
        wrapper
            .arg("-c")
            .arg(r#"trap "" XFSZ && exec prlimit --fsize="$0" -- "$@""#)
            .arg(bytes.to_string())
            .arg(env!("CARGO_BIN_EXE_riffle"));
        Riffle::spawn(wrapper, data_dir, &[])
    }

    /// Starts `command` (the server, or something that execs it) with the
    /// test defaults, and waits until it listens.
    fn spawn(mut command: Command, data_dir: &Path, extra_args: &[&str]) -> Riffle {
        let mut child = command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--create-delay-ms",
                "0",
                "--delete-delay-ms",
                "0",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra_args)
            .env("RIFFLE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn riffle");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, receiver) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_lines = log.clone();
        std::thread::spawn(move || {
            let mut sender = Some(sender);
            let mut tls_addr: Option<SocketAddr> = None;
            let field = |line: &str, name: &str| {
                line.split(name)
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
            };
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The TLS line comes first; the plain listener's line means ready.
                if let Some(addr) = field(&line, " tls_addr=") {
                    tls_addr = Some(addr);
                }
                if let Some(addr) = field(&line, " addr=")
                    && let Some(sender) = sender.take()
                {
                    let _ = sender.send((addr, tls_addr));
                }
                if std::env::var_os("RIFFLE_TEST_LOG").is_some() {
                    eprintln!("[riffle] {line}");
                }
                log_lines.lock().unwrap().push(line);
            }
        });
        let (addr, tls_addr) = receiver
            .recv_timeout(Duration::from_secs(20))
            .expect("riffle printed its listening address");
        let client = client_for(addr);
        Riffle {
            child,
            addr,
            tls_addr,
            _temp: None,
            client,
            log,
        }
    }

    /// Whether the server logs a line containing `text` within a few
    /// seconds: its log reaches the test through a pipe and a thread, so a
    /// line written before a response may still be on its way after it.
    pub(crate) fn logged(&self, text: &str) -> bool {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            if self
                .log
                .lock()
                .unwrap()
                .iter()
                .any(|line| line.contains(text))
            {
                return true;
            }
            if Instant::now() > give_up {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// kill -9: no chance to flush or sync anything.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit; returns whether it exited 0.
    pub(crate) fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child
            .wait()
            .map(|status| status.success())
            .unwrap_or(false)
    }

    /// Creates a stream and waits until it is ACTIVE.
    pub(crate) async fn create_stream(&self, name: &str, shards: i32) {
        self.client
            .create_stream()
            .stream_name(name)
            .shard_count(shards)
            .send()
            .await
            .expect("create stream");
        self.wait_active(name).await;
    }

    pub(crate) async fn wait_active(&self, name: &str) {
        for _ in 0..200 {
            let summary = self
                .client
                .describe_stream_summary()
                .stream_name(name)
                .send()
                .await
                .expect("describe");
            let status = summary
                .stream_description_summary()
                .unwrap()
                .stream_status()
                .clone();
            if status == aws_sdk_kinesis::types::StreamStatus::Active {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("stream {name} never became ACTIVE");
    }

    pub(crate) async fn shard_ids(&self, stream: &str) -> Vec<String> {
        let shards = self
            .client
            .list_shards()
            .stream_name(stream)
            .send()
            .await
            .expect("list shards");
        shards
            .shards()
            .iter()
            .map(|s| s.shard_id().to_owned())
            .collect()
    }

    /// A TRIM_HORIZON iterator for a shard.
    pub(crate) async fn trim_horizon(&self, stream: &str, shard: &str) -> String {
        self.client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator
            .expect("iterator present")
    }

    /// Reads a shard from TRIM_HORIZON to its current end.
    pub(crate) async fn read_all(
        &self,
        stream: &str,
        shard: &str,
    ) -> Vec<aws_sdk_kinesis::types::Record> {
        let mut iterator = self.trim_horizon(stream, shard).await;
        let mut records = Vec::new();
        loop {
            let page = self
                .client
                .get_records()
                .shard_iterator(&iterator)
                .send()
                .await
                .expect("get records");
            let n = page.records().len();
            records.extend(page.records().iter().cloned());
            match page.next_shard_iterator() {
                Some(next) if n > 0 => iterator = next.to_owned(),
                _ => return records,
            }
        }
    }
}

impl Drop for Riffle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SDK client for a server at `addr`, with retries off so every error
/// reaches the test as sent.
pub(crate) fn client_for(addr: SocketAddr) -> Client {
    client_with(
        format!("http://{addr}"),
        aws_smithy_http_client::Builder::new().build_http(),
    )
}

/// An SDK client for `endpoint` over `http_client` (plain, TLS or h2c),
/// with test credentials and retries off.
pub(crate) fn client_with(
    endpoint: String,
    http_client: aws_sdk_kinesis::config::SharedHttpClient,
) -> Client {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "riffle-tests",
        ))
        .endpoint_url(endpoint)
        .http_client(http_client)
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// The AWS error code and message of a failed SDK call.
pub(crate) fn aws_error<E, R>(
    result: Result<
        R,
        aws_sdk_kinesis::error::SdkError<E, aws_sdk_kinesis::config::http::HttpResponse>,
    >,
) -> (String, String)
where
    E: aws_sdk_kinesis::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let err = result.expect_err("the call should fail");
    let meta = aws_sdk_kinesis::error::ProvideErrorMetadata::meta(&err);
    (
        meta.code().unwrap_or("<no code>").to_owned(),
        meta.message().unwrap_or("<no message>").to_owned(),
    )
}
