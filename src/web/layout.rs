//! The page shell every page is drawn in, the HTML response with its security headers,
//! and the error page.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use maud::{DOCTYPE, Markup, html};

use super::assets::{CSS, JS};
use super::csrf::FIELD;
use super::session::WebUser;

/// Only this site's own files: no inline script or style, no other origin, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// An HTML answer with the page headers (CSP, no sniffing, no framing, no referrer beyond
/// this site, not cached: pages carry per-user data).
pub fn html_response(status: StatusCode, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(body.into_string())
}

/// 200 with `body`.
pub fn ok(body: Markup) -> HttpResponse {
    html_response(StatusCode::OK, body)
}

/// The hidden field carrying the CSRF token.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(FIELD) value=(token); }
}

/// A breadcrumb: text and link.
pub type Crumb = (String, String);

/// The page shell: header (site, where you are, who you are, sign out), then `content`.
pub fn page(title: &str, user: Option<&WebUser>, crumbs: &[Crumb], content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · Mesher" }
                link rel="stylesheet" href=(CSS.path());
                script src=(JS.path()) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Breadcrumb" {
                        a.brand href="/" { "Mesher" }
                        @for (text, href) in crumbs {
                            span.sep aria-hidden="true" { "/" }
                            a href=(href) { (text) }
                        }
                    }
                    @if let Some(u) = user {
                        div.who {
                            a.name href="/account" title="Account: name, password, sessions, tokens" {
                                @if u.user.name.is_empty() { (u.user.email) } @else { (u.user.name) }
                            }
                            form method="post" action="/logout" {
                                (csrf_field(&u.csrf))
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main { (content) }
            }
        }
    }
}

/// The page of an error status.
pub fn error_page(status: u16, title: &str, explanation: &str) -> Markup {
    page(
        title,
        None,
        &[],
        html! {
            section.narrow {
                h1 { (title) }
                p.status { "Error " (status) }
                p { (explanation) }
                p { a href="/" { "Go to your organizations" } }
            }
        },
    )
}
