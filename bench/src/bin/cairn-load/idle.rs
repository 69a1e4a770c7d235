//! The `--idle` phase: sync connections that join and then say nothing, held open to measure the
//! server's memory per connection.

use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_bench::client::{self, Socket};
use cairn_bench::process::Process;
use cairn_bench::stats::mib_from_kib;
use cairn_shared::protocol::PeerId;

use crate::setup::register_one_off;
use crate::{Args, ServerKind};

/// Hold `--idle` sync connections open (handshake done) and report the server's memory for them.
pub async fn hold_idle(args: &Args, http: &reqwest::Client) -> anyhow::Result<()> {
    use futures_util::stream::{self, StreamExt as _};
    let base = args.url.trim_end_matches('/');
    let ws_base = base.replacen("http", "ws", 1);
    let url = match args.server {
        ServerKind::Cairn => format!(
            "{ws_base}/sync?token={}",
            register_one_off(http, base, "idle").await?
        ),
        ServerKind::Reference => format!("{ws_base}/"),
    };
    let server = args.server_pid.map(Process::Id);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = server.map(Process::resident_kib).transpose()?;
    let started = Instant::now();
    let opened: Vec<anyhow::Result<Socket>> = stream::iter(0..args.idle)
        .map(|index| {
            let url = url.clone();
            async move { open_idle(&url, index).await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let mut sockets = Vec::with_capacity(opened.len());
    for socket in opened {
        sockets.push(socket?);
    }
    println!(
        "idle connections open: {} (opened in {:.1} s)",
        sockets.len(),
        started.elapsed().as_secs_f64()
    );
    // Let the server settle (and answer pings: the reader keeps the sockets alive).
    tokio::time::sleep(Duration::from_secs(5)).await;
    if let (Some(before), Some(server)) = (before, server) {
        let after = server.resident_kib()?;
        println!(
            "server RSS before / with the idle connections (MiB): {:.1} / {:.1}",
            mib_from_kib(before),
            mib_from_kib(after)
        );
        println!(
            "server memory per idle connection (KiB): {:.1}",
            after.saturating_sub(before) as f64 / sockets.len().max(1) as f64
        );
        println!(
            "server peak RSS (MiB): {:.1}",
            mib_from_kib(server.peak_resident_kib()?)
        );
    }
    for mut socket in sockets {
        let _ = socket.close(None).await;
    }
    Ok(())
}

/// One connection that joins and then says nothing.
async fn open_idle(url: &str, index: usize) -> anyhow::Result<Socket> {
    let context = || format!("idle connection {index}");
    let mut socket = client::open(url).await.with_context(context)?;
    let peer = PeerId(format!("idle-{index}"));
    client::handshake(&mut socket, &peer, Duration::from_secs(30))
        .await
        .with_context(context)?;
    Ok(socket)
}
