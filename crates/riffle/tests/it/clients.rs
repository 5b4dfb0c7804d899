//! Cross-client compatibility: the same scenario driven by boto3, AWS CLI v1
//! and the JavaScript SDK v3 (default NodeHttp2Handler, so h2c), each against
//! its own `riffle serve`. The scenarios live in `tests/clients/` at the
//! repository root; `tests/clients/setup.sh` installs the clients (a venv in
//! `target/client-venv`, `npm ci` in `tests/clients/js`). A missing client is
//! a failure, never a skip.
//!
//! Enhanced fan-out (SubscribeToShard's event stream) has its own scenario
//! per client: boto3 reads it over HTTP/1.1 (`fanout_scenario.py`), the JS
//! SDK over h2c (`js/fanout.mjs`).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::Riffle;

/// How long one scenario may run (the CLI one starts ~40 Python processes).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root (two levels above crates/riffle) exists")
}

fn venv() -> PathBuf {
    repo_root().join("target/client-venv")
}

/// Installs the clients once per test run with `tests/clients/setup.sh`
/// (idempotent and quick when they are already there), so `cargo test`
/// alone runs the whole suite. A failed install fails the tests.
fn ensure_clients_installed() {
    static SETUP: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let result = SETUP.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo_root().join("tests/clients/setup.sh"))
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("could not run tests/clients/setup.sh: {err}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "tests/clients/setup.sh failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    if let Err(report) = result {
        panic!("{report}");
    }
}

/// Panics unless `path` exists (setup.sh should have made it).
fn require(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "{what} not found at {} after tests/clients/setup.sh",
        path.display()
    );
}

/// Runs `program args... ENDPOINT` against a fresh server and asserts that it
/// exits 0 having printed `ok`; on failure the message holds its output.
async fn run_scenario(name: &'static str, program: PathBuf, args: Vec<PathBuf>) {
    let riffle = Riffle::start();
    let endpoint = format!("http://{}", riffle.addr);
    let outcome = tokio::task::spawn_blocking(move || run(&program, &args, &endpoint))
        .await
        .expect("the scenario runner thread");
    let Outcome {
        status,
        stdout,
        stderr,
        timed_out,
    } = outcome;
    let report = format!(
        "{name} scenario {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        if timed_out {
            format!("timed out after {SCENARIO_TIMEOUT:?} and was killed")
        } else {
            format!("exited with {status}")
        }
    );
    assert!(!timed_out && status.success(), "{report}");
    assert_eq!(
        stdout.lines().last(),
        Some("ok"),
        "the scenario's last line must be `ok`\n{report}"
    );
    // Visible with --nocapture: which sections ran.
    eprintln!("{report}");
    drop(riffle);
}

struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

fn run(program: &Path, args: &[PathBuf], endpoint: &str) -> Outcome {
    let mut child = Command::new(program)
        .args(args)
        .arg(endpoint)
        .current_dir(repo_root())
        .env("RIFFLE_CLIENT_VENV", venv())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout can end the whole tree.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|err| panic!("spawn {}: {err}", program.display()));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + SCENARIO_TIMEOUT;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the scenario") {
            break status;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            break child.wait().expect("wait for the killed scenario");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Outcome {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        timed_out,
    }
}

#[tokio::test]
async fn boto3_scenario_passes() {
    ensure_clients_installed();
    let python = venv().join("bin/python");
    require(&python, "the client venv's python");
    let script = repo_root().join("tests/clients/boto3_scenario.py");
    run_scenario("boto3", python, vec![script]).await;
}

#[tokio::test]
async fn cbor2_encoded_cbor_scenario_passes() {
    ensure_clients_installed();
    let python = venv().join("bin/python");
    require(&python, "the client venv's python");
    let script = repo_root().join("tests/clients/cbor_scenario.py");
    run_scenario("CBOR (cbor2)", python, vec![script]).await;
}

#[tokio::test]
async fn boto3_reshard_scenario_passes() {
    ensure_clients_installed();
    let python = venv().join("bin/python");
    require(&python, "the client venv's python");
    let script = repo_root().join("tests/clients/reshard_scenario.py");
    run_scenario("boto3 resharding", python, vec![script]).await;
}

#[tokio::test]
async fn aws_cli_v1_scenario_passes() {
    ensure_clients_installed();
    require(&venv().join("bin/aws"), "the client venv's AWS CLI");
    let script = repo_root().join("tests/clients/cli_scenario.sh");
    run_scenario("AWS CLI v1", PathBuf::from("bash"), vec![script]).await;
}

#[tokio::test]
async fn js_sdk_v3_http2_scenario_passes() {
    ensure_clients_installed();
    let js = repo_root().join("tests/clients/js");
    require(
        &js.join("node_modules/@aws-sdk/client-kinesis/package.json"),
        "@aws-sdk/client-kinesis in tests/clients/js/node_modules",
    );
    run_scenario(
        "JS SDK v3 (h2c)",
        PathBuf::from("node"),
        vec![js.join("scenario.mjs")],
    )
    .await;
}

#[tokio::test]
async fn boto3_fanout_scenario_passes() {
    ensure_clients_installed();
    let python = venv().join("bin/python");
    require(&python, "the client venv's python");
    let script = repo_root().join("tests/clients/fanout_scenario.py");
    run_scenario("boto3 enhanced fan-out (HTTP/1.1)", python, vec![script]).await;
}

#[tokio::test]
async fn js_sdk_v3_fanout_scenario_passes() {
    ensure_clients_installed();
    let js = repo_root().join("tests/clients/js");
    require(
        &js.join("node_modules/@aws-sdk/client-kinesis/package.json"),
        "@aws-sdk/client-kinesis in tests/clients/js/node_modules",
    );
    run_scenario(
        "JS SDK v3 enhanced fan-out (h2c)",
        PathBuf::from("node"),
        vec![js.join("fanout.mjs")],
    )
    .await;
}
