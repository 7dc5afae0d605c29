//! The UI's stylesheet and script, compiled into the binary and served under names that
//! carry a hash of their content (`/static/app.3f2a….css`), so a browser may keep them
//! forever (`immutable`): a new build with other content has other names.

use std::sync::LazyLock;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

use super::WebError;

/// One embedded file.
pub struct Asset {
    /// `app.<hash>.css`: the name it is served under.
    pub name: String,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

impl Asset {
    fn new(stem: &str, ext: &str, content_type: &'static str, body: &'static [u8]) -> Self {
        let hash = hex::encode(&Sha256::digest(body)[..8]);
        Self {
            name: format!("{stem}.{hash}.{ext}"),
            content_type,
            body,
        }
    }

    /// The path the pages link to.
    pub fn path(&self) -> String {
        format!("/static/{}", self.name)
    }
}

/// The stylesheet.
pub static CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    )
});

/// The script (progressive enhancement only: every page works without it).
pub static JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/app.js"),
    )
});

/// `GET /static/{name}`: an embedded file by its hashed name, cached for a year.
pub async fn serve(name: web::Path<String>) -> Result<HttpResponse, WebError> {
    let asset = [&*CSS, &*JS]
        .into_iter()
        .find(|a| a.name == *name)
        .ok_or(WebError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, asset.content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(asset.body))
}
