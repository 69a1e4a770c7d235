//! `cairn-load` (the benchmark's load generator) against a real Cairn, kept small: every edit of
//! every editor reaches its partner, and the figures it prints are there.
// Tests may panic on a broken set-up; the no-unwrap rule is for request paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_tests::TestApp;

#[tokio::test]
async fn the_load_generator_runs_pairs_of_editors_to_completion() {
    let app = TestApp::spawn_with(|s| s.login_attempts_per_address_per_minute = 1000).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn-load"))
        .args(["--url", &app.address, "--pairs", "2", "--edits", "5"])
        .args(["--interval-ms", "20", "--deadline-secs", "60"])
        .args(["--server-pid", &std::process::id().to_string()])
        .output()
        .await
        .expect("cairn-load runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("edits made: 20, arrived at the partner: 20"),
        "{stdout}"
    );
    for figure in [
        "edits per second:",
        "edit-to-partner latency p50 (ms):",
        "edit-to-partner latency p99 (ms):",
        "server CPU seconds per 1,000 edits:",
        "server peak RSS (MiB):",
    ] {
        assert!(stdout.contains(figure), "{figure} missing: {stdout}");
    }
    // No one thread of the server can have used more CPU than the whole server did.
    let figure = |label: &str| -> f64 {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("no figure for {label}: {stdout}"))
    };
    let cores = figure("server CPU in use while editing (cores):");
    let busiest = figure("server busiest thread while editing (share of a core):");
    // Both are read from /proc in clock ticks (10 ms) over a window of a fraction of a second
    // here, a moment apart: a tick or two either way is the granularity, not a thread outrunning
    // its process.
    assert!(
        (0.0..=cores + 0.15).contains(&busiest),
        "busiest thread {busiest} against {cores} cores: {stdout}"
    );

    // It refuses to load anything but this machine.
    let elsewhere = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn-load"))
        .args([
            "--url",
            "http://192.0.2.1:8080",
            "--pairs",
            "1",
            "--edits",
            "1",
        ])
        .output()
        .await
        .expect("cairn-load runs");
    assert!(!elsewhere.status.success());
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("loopback"));
}
