//! The web UI: server-rendered HTML pages (maud templates, compiled in), embedded static
//! assets under content-hashed names, and form posts guarded by a per-session CSRF token.
//!
//! Handlers stay thin: they check access with the API's helpers (`http::access`), read with
//! the queries of `db/`, and hand plain values to the templates of [`pages`]. Every failure
//! renders an HTML page ([`WebError`]), never the API's JSON.
//!
//! The UI shares the URL space with the fixed routes: its pages live at `/{org}/…`, so the
//! first path segments the service itself uses are [`RESERVED_SLUGS`], refused for new
//! organizations (`http::validate::check_org_slug`), and [`is_ui_path`] keeps the API's
//! paths away from the UI entirely.

pub mod assets;
pub mod chart;
pub mod csrf;
pub mod error;
pub mod event_view;
pub mod flash;
pub mod format;
pub mod layout;
pub mod pages;
pub mod post;
pub mod session;

use actix_web::{guard, web};

pub use error::WebError;

/// First path segments that belong to the service, never to an organization: the API,
/// health, metrics, the UI's own fixed pages and a few kept for later.
pub const RESERVED_SLUGS: &[&str] = &[
    "account", "admin", "api", "assets", "auth", "health", "login", "logout", "metrics", "new",
    "orgs", "register", "settings", "static",
];

/// Whether `path` is the UI's (anything but the API, health and metrics routes).
pub fn is_ui_path(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    !matches!(first, "api" | "health" | "metrics")
}

/// Every page of the UI, in one scope that only takes UI paths (the API keeps its own JSON
/// 404 and 405 answers). Registered after the API's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use pages::{
        account, alerts, auth, event, home, issue, issues, org, org_audit, org_settings, settings,
    };
    cfg.service(
        web::scope("")
            .guard(guard::fn_guard(|ctx| is_ui_path(ctx.head().uri.path())))
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|err, _| {
                        WebError::BadRequest(format!("the form could not be read: {err}")).into()
                    }),
            )
            .route("/static/{name}", web::get().to(assets::serve))
            .route("/login", web::get().to(auth::login_page))
            .route("/login", web::post().to(auth::login_submit))
            .route("/register", web::get().to(auth::register_page))
            .route("/register", web::post().to(auth::register_submit))
            .route("/logout", web::post().to(auth::logout))
            .route("/account", web::get().to(account::show))
            .route("/account/name", web::post().to(account::set_name))
            .route(
                "/account/password",
                web::post().to(account::change_password),
            )
            .route(
                "/account/sessions/{id}/revoke",
                web::post().to(account::revoke_session),
            )
            .route("/account/tokens", web::post().to(account::create_token))
            .route(
                "/account/tokens/{id}/revoke",
                web::post().to(account::revoke_token),
            )
            .route("/", web::get().to(home::index))
            .route("/", web::post().to(home::create_org))
            .route("/{org}", web::get().to(org::index))
            .route("/{org}", web::post().to(org::create_project))
            // Before `/{org}/{project}`: `settings` is the organization's page there.
            .route("/{org}/settings", web::get().to(org_settings::show))
            .route("/{org}/settings/audit", web::get().to(org_audit::show))
            .route(
                "/{org}/settings/members",
                web::post().to(org_settings::add_member),
            )
            .route(
                "/{org}/settings/members/{user_id}/role",
                web::post().to(org_settings::set_role),
            )
            .route(
                "/{org}/settings/members/{user_id}/remove",
                web::post().to(org_settings::remove_member),
            )
            .route(
                "/{org}/settings/rename",
                web::post().to(org_settings::rename),
            )
            .route(
                "/{org}/settings/delete",
                web::post().to(org_settings::delete),
            )
            .route("/{org}/{project}", web::get().to(org::project_root))
            .route("/{org}/{project}/issues", web::get().to(issues::list))
            .route("/{org}/{project}/issues", web::post().to(issues::bulk))
            .route("/{org}/{project}/issues/{id}", web::get().to(issue::show))
            .route(
                "/{org}/{project}/issues/{id}",
                web::post().to(issue::set_status),
            )
            .route("/{org}/{project}/events/{id}", web::get().to(event::show))
            .route("/{org}/{project}/settings", web::get().to(settings::show))
            .route(
                "/{org}/{project}/settings/keys",
                web::post().to(settings::create_key),
            )
            .route(
                "/{org}/{project}/settings/keys/{key_id}/revoke",
                web::post().to(settings::revoke_key),
            )
            .route(
                "/{org}/{project}/settings/delete",
                web::post().to(settings::delete),
            )
            .route(
                "/{org}/{project}/settings/alerts",
                web::get().to(alerts::show),
            )
            .route(
                "/{org}/{project}/settings/alerts",
                web::post().to(alerts::create),
            )
            .route(
                "/{org}/{project}/settings/alerts/{id}",
                web::get().to(alerts::show_rule),
            )
            .route(
                "/{org}/{project}/settings/alerts/{id}/toggle",
                web::post().to(alerts::toggle),
            )
            .route(
                "/{org}/{project}/settings/alerts/{id}/test",
                web::post().to(alerts::send_test),
            )
            .route(
                "/{org}/{project}/settings/alerts/{id}/delete",
                web::post().to(alerts::delete),
            )
            .default_service(web::to(not_found)),
    );
}

/// A UI path no page takes.
async fn not_found() -> Result<actix_web::HttpResponse, WebError> {
    Err(WebError::NotFound)
}
