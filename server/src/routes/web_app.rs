//! The reference PWA (`web/`, built into `web/dist`), served at `/` when its folder exists.
//!
//! Caching follows what a service-worker app needs: `index.html`, `sw.js` and the manifest are
//! revalidated on every load (`no-cache`), so a new version reaches phones on their next visit;
//! the hashed files under `/assets` never change under their name and are cached for a year;
//! icons for a day. The app's pages carry a Content-Security-Policy of their own: scripts, styles
//! and connections only from this origin (WebAssembly allowed, for Automerge), images also as
//! `data:` (the invitation QR code), nothing framed.

use std::path::{Path, PathBuf};

use actix_files::{Files, NamedFile};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Compress, DefaultHeaders};
use actix_web::{HttpRequest, HttpResponse, web};

/// The Content-Security-Policy of the app's pages and its service worker.
pub const APP_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
     manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

const REVALIDATE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const A_DAY: &str = "public, max-age=86400";

/// Register the app's routes if `dir` holds a built app (its `index.html`).
pub fn configure(cfg: &mut web::ServiceConfig, dir: &Path) {
    if !dir.join("index.html").is_file() {
        tracing::info!(dir = %dir.display(), "no built web app here: serving the API only");
        return;
    }
    let root = web::Data::new(AppDir(dir.to_owned()));
    for (path, file, content_type) in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/sw.js", "sw.js", "text/javascript; charset=utf-8"),
        (
            "/manifest.webmanifest",
            "manifest.webmanifest",
            "application/manifest+json",
        ),
    ] {
        cfg.service(
            web::resource(path)
                .app_data(root.clone())
                .app_data(web::Data::new(Page { file, content_type }))
                .route(web::get().to(page))
                .route(web::head().to(page)),
        );
    }
    cfg.service(
        web::scope("/assets")
            .wrap(Compress::default())
            .wrap(cache_headers(IMMUTABLE))
            .service(Files::new("", dir.join("assets"))),
    )
    .service(
        web::scope("/icons")
            .wrap(cache_headers(A_DAY))
            .service(Files::new("", dir.join("icons"))),
    );
}

#[derive(Debug)]
struct AppDir(PathBuf);

#[derive(Debug)]
struct Page {
    file: &'static str,
    content_type: &'static str,
}

fn cache_headers(cache_control: &'static str) -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CACHE_CONTROL, cache_control))
        .add((header::CONTENT_SECURITY_POLICY, APP_CONTENT_SECURITY_POLICY))
}

/// One of the app's entry files, always revalidated, with the app's CSP.
async fn page(
    req: HttpRequest,
    dir: web::Data<AppDir>,
    page: web::Data<Page>,
) -> actix_web::Result<HttpResponse> {
    let path = dir.0.join(page.file);
    let file = web::block(move || NamedFile::open(path)).await??;
    let mut response = file.use_last_modified(true).into_response(&req);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(page.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(APP_CONTENT_SECURITY_POLICY),
    );
    Ok(response)
}
