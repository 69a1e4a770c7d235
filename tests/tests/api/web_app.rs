//! The reference PWA as Cairn serves it: entry files revalidated on every load, hashed assets
//! cached for a year, the app's own Content-Security-Policy, nothing outside its folder, the
//! API unchanged beside it, and each file as the brotli or gzip copy the build wrote beside it
//! when the browser accepts one (else the file itself), under the original's Content-Type.

use std::io::{Read, Write};

use cairn_tests::TestApp;
use reqwest::Method;

const SECRET: &str = "secret-beside-the-app-7f3a";

/// A built app's layout (what `web/dist` holds after `npm run build`), with small files.
fn built_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("assets")).expect("assets");
    std::fs::create_dir_all(root.join("icons")).expect("icons");
    for (path, content) in [
        ("index.html", "<!doctype html><title>Cairn</title>"),
        ("sw.js", "self.addEventListener('fetch', () => {})"),
        ("manifest.webmanifest", "{\"name\": \"Cairn\"}"),
        ("assets/index-3f2a9c.js", "console.log('app')"),
        ("assets/automerge-77aa.wasm", "\0asm"),
        ("icons/icon-192.png", "png"),
    ] {
        std::fs::write(root.join(path), content).expect("write");
    }
    compressed_copies(root);
    // A secret beside the app that must never be served.
    std::fs::write(dir.path().join("..").join("secret-beside-the-app"), SECRET).ok();
    dir
}

/// What Chromium sends.
const CHROMIUM_ACCEPTS: &str = "gzip, deflate, br, zstd";

/// The app's files that have compressed copies, with their Content-Type.
const COMPRESSED: [(&str, &str, &str); 5] = [
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/sw.js", "sw.js", "text/javascript; charset=utf-8"),
    (
        "/manifest.webmanifest",
        "manifest.webmanifest",
        "application/manifest+json",
    ),
    (
        "/assets/app-9c1d.js",
        "assets/app-9c1d.js",
        "text/javascript",
    ),
    (
        "/assets/automerge-5e0f.wasm",
        "assets/automerge-5e0f.wasm",
        "application/wasm",
    ),
];

/// Files large enough to be worth compressing, with the `.br` and `.gz` copies `npm run build`
/// writes beside them (web/vite.config.ts): brotli at quality 11, gzip at level 9.
fn compressed_copies(root: &std::path::Path) {
    let script: String = (0..400)
        .map(|i| format!("export function step{i}(plan) {{ return plan.steps[{i}] }}\n"))
        .collect();
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend((0..20_000u32).flat_map(|i| [(i % 7) as u8, (i % 251) as u8, 0x0b]));
    std::fs::write(root.join("assets/app-9c1d.js"), script).expect("write");
    std::fs::write(root.join("assets/automerge-5e0f.wasm"), wasm).expect("write");
    for (_, file, _) in COMPRESSED {
        let original = std::fs::read(root.join(file)).expect("read");
        let mut brotli = Vec::new();
        {
            let mut writer = brotli::CompressorWriter::new(&mut brotli, 4096, 11, 22);
            writer.write_all(&original).expect("brotli");
        }
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&original).expect("gzip");
        std::fs::write(root.join(format!("{file}.br")), brotli).expect("write");
        std::fs::write(
            root.join(format!("{file}.gz")),
            gzip.finish().expect("gzip"),
        )
        .expect("write");
    }
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    request(app, Method::GET, path, &[]).await
}

async fn request(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request")
}

fn brotli_decoded(bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut decoded)
        .expect("valid brotli");
    decoded
}

fn gzip_decoded(bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut decoded)
        .expect("valid gzip");
    decoded
}

async fn serve_built_app() -> (TestApp, tempfile::TempDir) {
    let dist = built_app();
    let dir = dist.path().to_owned();
    (TestApp::spawn_with(move |s| s.web_dir = dir).await, dist)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_app_is_served_with_service_worker_caching_and_its_own_policy() {
    let dist = built_app();
    let dir = dist.path().to_owned();
    let app = TestApp::spawn_with(move |s| s.web_dir = dir).await;

    for (path, content_type) in [
        ("/", "text/html"),
        ("/sw.js", "text/javascript"),
        ("/manifest.webmanifest", "application/manifest+json"),
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            header(&response, "content-type").starts_with(content_type),
            "{path}"
        );
        assert_eq!(
            header(&response, "cache-control"),
            "no-cache",
            "{path} is revalidated"
        );
        let policy = header(&response, "content-security-policy");
        assert!(
            policy.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{path}: {policy}"
        );
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        // The app may open the camera (to scan an invitation's QR code); nothing else.
        assert_eq!(
            header(&response, "permissions-policy"),
            "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
            "{path}"
        );
    }
    let asset = get(&app, "/assets/index-3f2a9c.js").await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        header(&asset, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let wasm = get(&app, "/assets/automerge-77aa.wasm").await;
    assert_eq!(header(&wasm, "content-type"), "application/wasm");
    let icon = get(&app, "/icons/icon-192.png").await;
    assert_eq!(header(&icon, "cache-control"), "public, max-age=86400");

    // Nothing outside the app's folder, and no listing of it.
    for path in [
        "/assets/../../secret-beside-the-app",
        "/assets/%2e%2e/%2e%2e/secret-beside-the-app",
        "/assets/",
        "/index.html/../../secret-beside-the-app",
    ] {
        let response = get(&app, path).await;
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
        assert!(!response.text().await.unwrap_or_default().contains(SECRET));
    }

    // The API beside it is unchanged: JSON, never cached, no camera.
    let api = get(&app, "/api/v1/plans").await;
    assert_eq!(api.status(), 401);
    assert_eq!(header(&api, "cache-control"), "no-store");
    assert!(header(&api, "permissions-policy").contains("camera=()"));
}

#[tokio::test]
async fn without_a_built_app_only_the_api_is_served() {
    let empty = tempfile::tempdir().expect("tempdir");
    let dir = empty.path().to_owned();
    let app = TestApp::spawn_with(move |s| s.web_dir = dir).await;
    let root = get(&app, "/").await;
    assert_eq!(root.status(), 404);
    assert_eq!(header(&root, "content-type"), "application/json");
    assert_eq!(get(&app, "/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_browser_that_accepts_brotli_gets_each_file_as_brotli_under_its_own_type() {
    let (app, dist) = serve_built_app().await;
    for (path, file, content_type) in COMPRESSED {
        let original = std::fs::read(dist.path().join(file)).expect("read");
        let response = request(
            &app,
            Method::GET,
            path,
            &[("accept-encoding", CHROMIUM_ACCEPTS)],
        )
        .await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-encoding"), "br", "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
        assert_eq!(header(&response, "vary"), "accept-encoding", "{path}");
        assert!(
            header(&response, "content-security-policy").contains("'wasm-unsafe-eval'"),
            "{path}"
        );
        assert!(!header(&response, "cache-control").is_empty(), "{path}");
        let sent = response.bytes().await.expect("body");
        // The app's scripts and wasm travel in a fraction of their size (the tiny pages of this
        // fixture do not shrink: only that they decode is checked).
        assert!(
            !file.starts_with("assets/") || sent.len() * 2 < original.len(),
            "{path}: {} bytes sent for {}",
            sent.len(),
            original.len()
        );
        assert_eq!(
            brotli_decoded(&sent),
            original,
            "{path} decodes to the file"
        );
    }
}

#[tokio::test]
async fn a_browser_that_accepts_gzip_but_not_brotli_gets_gzip() {
    let (app, dist) = serve_built_app().await;
    for accepts in [
        "gzip",
        "gzip, deflate",
        "br;q=0, gzip",
        "gzip;q=1, br;q=0.5",
    ] {
        for (path, file, content_type) in COMPRESSED {
            let original = std::fs::read(dist.path().join(file)).expect("read");
            let response = request(&app, Method::GET, path, &[("accept-encoding", accepts)]).await;
            assert_eq!(response.status(), 200, "{path}, {accepts}");
            assert_eq!(
                header(&response, "content-encoding"),
                "gzip",
                "{path}, {accepts}"
            );
            assert_eq!(header(&response, "content-type"), content_type, "{path}");
            assert_eq!(header(&response, "vary"), "accept-encoding", "{path}");
            let sent = response.bytes().await.expect("body");
            assert!(
                !file.starts_with("assets/") || sent.len() * 2 < original.len(),
                "{path}"
            );
            assert_eq!(gzip_decoded(&sent), original, "{path} decodes to the file");
        }
    }
}

#[tokio::test]
async fn a_client_that_accepts_neither_gets_the_file_itself() {
    let (app, dist) = serve_built_app().await;
    for accepts in [
        None,
        Some("identity"),
        Some("deflate"),
        Some("br;q=0, gzip;q=0"),
    ] {
        for (path, file, content_type) in COMPRESSED {
            let original = std::fs::read(dist.path().join(file)).expect("read");
            let headers: Vec<(&str, &str)> = accepts
                .map(|a| ("accept-encoding", a))
                .into_iter()
                .collect();
            let response = request(&app, Method::GET, path, &headers).await;
            assert_eq!(response.status(), 200, "{path}, {accepts:?}");
            assert_eq!(
                header(&response, "content-encoding"),
                "",
                "{path}, {accepts:?}"
            );
            assert_eq!(header(&response, "content-type"), content_type, "{path}");
            assert_eq!(header(&response, "vary"), "accept-encoding", "{path}");
            assert_eq!(response.bytes().await.expect("body"), original, "{path}");
        }
    }
    // A file the build left uncompressed (a PNG) is sent as it is, even to Chromium.
    let icon = request(
        &app,
        Method::GET,
        "/icons/icon-192.png",
        &[("accept-encoding", CHROMIUM_ACCEPTS)],
    )
    .await;
    assert_eq!(icon.status(), 200);
    assert_eq!(header(&icon, "content-encoding"), "");
    assert_eq!(icon.bytes().await.expect("body").as_ref(), b"png");
}

#[tokio::test]
async fn head_revalidation_and_ranges_apply_to_the_copy_sent() {
    let (app, dist) = serve_built_app().await;
    let wasm = "/assets/automerge-5e0f.wasm";
    let brotli_copy =
        std::fs::read(dist.path().join("assets/automerge-5e0f.wasm.br")).expect("read");
    let brotli = [("accept-encoding", CHROMIUM_ACCEPTS)];

    // HEAD says what GET would send, without the body.
    let head = request(&app, Method::HEAD, wasm, &brotli).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-encoding"), "br");
    assert_eq!(header(&head, "content-type"), "application/wasm");
    assert_eq!(
        header(&head, "content-length"),
        brotli_copy.len().to_string()
    );
    assert!(head.bytes().await.expect("body").is_empty());

    // A phone that holds the brotli copy revalidates it (its ETag and date) and is told 304.
    let full = request(&app, Method::GET, wasm, &brotli).await;
    let etag = header(&full, "etag");
    assert!(!etag.is_empty());
    assert!(!header(&full, "last-modified").is_empty());
    let again = request(
        &app,
        Method::GET,
        wasm,
        &[brotli[0], ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "vary"), "accept-encoding");
    // The gzip copy is another representation, with another ETag: a client that now wants gzip
    // gets it whole.
    let gzip = request(
        &app,
        Method::GET,
        wasm,
        &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(gzip.status(), 200);
    assert_eq!(header(&gzip, "content-encoding"), "gzip");
    assert_ne!(header(&gzip, "etag"), etag);

    // Ranges are of the bytes sent: the file's own, or the copy's.
    let start = request(&app, Method::GET, wasm, &[("range", "bytes=0-3")]).await;
    assert_eq!(start.status(), 206);
    assert_eq!(start.bytes().await.expect("body").as_ref(), b"\0asm");
    let ranged = request(
        &app,
        Method::GET,
        wasm,
        &[brotli[0], ("range", "bytes=0-9")],
    )
    .await;
    assert_eq!(ranged.status(), 206);
    assert_eq!(header(&ranged, "content-encoding"), "br");
    assert_eq!(
        header(&ranged, "content-range"),
        format!("bytes 0-9/{}", brotli_copy.len())
    );
    assert_eq!(
        ranged.bytes().await.expect("body").as_ref(),
        &brotli_copy[..10]
    );
}
