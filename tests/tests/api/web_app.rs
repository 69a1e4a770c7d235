//! The reference PWA as Cairn serves it: entry files revalidated on every load, hashed assets
//! cached for a year, the app's own Content-Security-Policy, nothing outside its folder, and the
//! API unchanged beside it.

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
    // A secret beside the app that must never be served.
    std::fs::write(dir.path().join("..").join("secret-beside-the-app"), SECRET).ok();
    dir
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::GET, format!("{}{path}", app.address))
        .send()
        .await
        .expect("request")
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

    // The API beside it is unchanged: JSON, never cached.
    let api = get(&app, "/api/v1/plans").await;
    assert_eq!(api.status(), 401);
    assert_eq!(header(&api, "cache-control"), "no-store");
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
