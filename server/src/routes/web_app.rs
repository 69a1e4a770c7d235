//! The reference PWA (`web/`, built into `web/dist`), served at `/` when its folder exists.
//!
//! Caching follows what a service-worker app needs: `index.html`, `sw.js` and the manifest are
//! revalidated on every load (`no-cache`), so a new version reaches phones on their next visit;
//! the hashed files under `/assets` never change under their name and are cached for a year;
//! icons for a day. The app's pages carry a Content-Security-Policy of their own: scripts, styles
//! and connections only from this origin (WebAssembly allowed, for Automerge), images also as
//! `data:` (the invitation QR code), nothing framed.
//!
//! Compression is done once, by the build: beside each compressible file it writes a brotli
//! (`.br`) and a gzip (`.gz`) copy at maximum quality (`web/vite.config.ts`). A request gets the
//! copy its `Accept-Encoding` prefers (brotli before gzip when both are equally welcome, never
//! one refused with `q=0`), else the file itself, always with the original's Content-Type, so
//! the wasm streams into compilation as `application/wasm`. On a slow phone line that is what
//! counts: automerge's 3.6 MB of wasm travel as 0.8 MB of brotli, where compressing on the fly
//! sent 1.6 MB of quick gzip. Files without copies (the PNG icons) are sent as they are.

use std::io;
use std::path::{Path, PathBuf};

use actix_files::{Files, NamedFile};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, AcceptEncoding, ContentEncoding, Encoding, Header as _, HeaderValue,
};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, mime, web};
use cairn_shared::ErrorCode;

use crate::error::AppError;

/// The Content-Security-Policy of the app's pages and its service worker.
pub const APP_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
     manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The app's pages may use the camera (to scan an invitation's QR code, only when the person asks);
/// nothing else the API's own policy refuses.
pub const APP_PERMISSIONS_POLICY: &str =
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=()";

const REVALIDATE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const A_DAY: &str = "public, max-age=86400";

/// The compressed copies the build writes beside a file, by the suffix it adds.
const PRECOMPRESSED: [(ContentEncoding, &str); 2] = [
    (ContentEncoding::Brotli, "br"),
    (ContentEncoding::Gzip, "gz"),
];

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
        web::resource("/assets/{file:.*}")
            .app_data(root)
            .route(web::get().to(asset))
            .route(web::head().to(asset)),
    )
    .service(
        web::scope("/icons")
            .wrap(
                DefaultHeaders::new()
                    .add((header::CACHE_CONTROL, A_DAY))
                    .add((header::CONTENT_SECURITY_POLICY, APP_CONTENT_SECURITY_POLICY)),
            )
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

/// One of the app's entry files, always revalidated, with the app's CSP.
async fn page(
    req: HttpRequest,
    dir: web::Data<AppDir>,
    page: web::Data<Page>,
) -> Result<HttpResponse, AppError> {
    let content_type = page
        .content_type
        .parse()
        .map_err(|err| AppError::internal(&err))?;
    serve(&req, dir.0.join(page.file), content_type, REVALIDATE).await
}

/// A hashed file under `/assets`, cached for a year.
async fn asset(req: HttpRequest, dir: web::Data<AppDir>) -> Result<HttpResponse, AppError> {
    let Some(path) = req
        .match_info()
        .get("file")
        .and_then(|file| inside(&dir.0.join("assets"), file))
    else {
        return Err(no_such_file());
    };
    let content_type = path.extension().and_then(|ext| ext.to_str()).map_or(
        mime::APPLICATION_OCTET_STREAM,
        actix_files::file_extension_to_mime,
    );
    serve(&req, path, content_type, IMMUTABLE).await
}

/// `relative` (already percent-decoded) as a path under `root`, if every segment is a plain
/// name: no `..`, no hidden files, no empty segments, nothing a file system would read as a
/// separator or a drive.
fn inside(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = root.to_owned();
    for segment in relative.split('/') {
        let plain = !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !plain {
            return None;
        }
        path.push(segment);
    }
    Some(path)
}

fn no_such_file() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such file")
}

/// Serve `path`, or the compressed copy of it the request prefers, as `content_type`, with
/// validators (ETag, Last-Modified: those of the copy sent), ranges (of the copy sent) and the
/// app's caching and CSP headers.
async fn serve(
    req: &HttpRequest,
    path: PathBuf,
    content_type: mime::Mime,
    cache_control: &'static str,
) -> Result<HttpResponse, AppError> {
    // A header that does not parse is treated as absent: the file itself is always acceptable.
    let accepted = AcceptEncoding::parse(req).unwrap_or_else(|_| AcceptEncoding(Vec::new()));
    let chosen = web::block(move || open_preferred(&path, &accepted))
        .await
        .map_err(|err| AppError::internal(&err))?;
    let (file, has_copies) = match chosen {
        Ok(chosen) => chosen,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(no_such_file()),
        Err(err) => return Err(AppError::internal(&err)),
    };
    let mut response = file
        .set_content_type(content_type)
        .disable_content_disposition()
        .use_etag(true)
        .use_last_modified(true)
        .into_response(req);
    let headers = response.headers_mut();
    if has_copies {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(APP_CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::PERMISSIONS_POLICY,
        HeaderValue::from_static(APP_PERMISSIONS_POLICY),
    );
    Ok(response)
}

/// Opens the copy of `path` that `accepted` prefers among those the build wrote (the file itself
/// when it accepts none of them), and says whether there were copies to choose from.
fn open_preferred(path: &Path, accepted: &AcceptEncoding) -> io::Result<(NamedFile, bool)> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::ErrorKind::NotFound.into());
    }
    let copies: Vec<(ContentEncoding, PathBuf)> = PRECOMPRESSED
        .iter()
        .map(|(encoding, suffix)| {
            let mut copy = path.as_os_str().to_owned();
            copy.push(".");
            copy.push(suffix);
            (*encoding, PathBuf::from(copy))
        })
        .filter(|(_, copy)| copy.is_file())
        .collect();
    let offered: Vec<Encoding> = std::iter::once(Encoding::identity())
        .chain(
            copies
                .iter()
                .map(|(encoding, _)| Encoding::Known(*encoding)),
        )
        .collect();
    // `None` means even the file itself was refused (`identity;q=0`): it is sent all the same,
    // which HTTP allows and every browser reads.
    let chosen = accepted.negotiate(offered.iter());
    let has_copies = !copies.is_empty();
    match copies
        .into_iter()
        .find(|(encoding, _)| chosen == Some(Encoding::Known(*encoding)))
    {
        Some((encoding, copy)) => Ok((
            NamedFile::open(copy)?.set_content_encoding(encoding),
            has_copies,
        )),
        None => Ok((NamedFile::open(path)?, has_copies)),
    }
}
