use crate::helpers::{admin_conn, spawn_app, spawn_app_with};

#[actix_web::test]
async fn live_answers_ok() {
    let app = spawn_app().await;
    let res = app.get("/health/live").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[actix_web::test]
async fn ready_follows_the_migrations() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health/ready").await.status(), 200);

    mesher::db::revert_last_migration(&app.db.url)
        .await
        .unwrap();
    let res = app.get("/health/ready").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_ready");
    assert_eq!(body["error"]["message"], "migrations are not applied");

    mesher::db::run_migrations(&app.db.url).await.unwrap();
    assert_eq!(app.get("/health/ready").await.status(), 200);
}

#[actix_web::test]
async fn ready_is_503_when_the_database_is_gone() {
    use diesel_async::RunQueryDsl;
    let app = spawn_app_with(|s| s.database.connect_timeout_secs = 1, None).await;
    let name = app.db.name.clone();
    // Refuse new connections to the app's database and cut the pool's existing ones.
    let mut admin = admin_conn().await;
    for sql in [
        format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"),
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    ] {
        diesel::sql_query(sql).execute(&mut admin).await.unwrap();
    }
    let res = app.get("/health/ready").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(!body.to_string().contains("postgres://"), "{body}");

    diesel::sql_query(format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    assert_eq!(app.get("/health/ready").await.status(), 200);
}

#[actix_web::test]
async fn unknown_route_is_a_json_404_with_a_request_id() {
    let app = spawn_app().await;
    // Outside the API it is the web UI's 404 page.
    let res = app.get("/no/such/route/at/all").await;
    assert_eq!(res.status(), 404);
    let id = res
        .headers()
        .get("x-request-id")
        .expect("x-request-id header");
    assert!(!id.is_empty());
    assert!(res.text().await.unwrap().contains("<h1>Not found</h1>"));
    // Under /api/ (the Sentry scope /api/{number} must not swallow it), /health and
    // /metrics it is JSON.
    for path in [
        "/api/v1/nope",
        "/api/7/nope/",
        "/health/nope",
        "/metrics/nope",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}

#[actix_web::test]
async fn the_openapi_document_describes_the_routes() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "Mesher");
    for path in [
        "/api/v1/events",
        "/api/v1/auth/login",
        "/health/ready",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["paths"]["/api/v1/auth/login"]["post"]["requestBody"].is_object());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in ["LoginBody", "MeOut", "UserOut", "TokenCreated"] {
        assert!(schemas.contains_key(schema), "{schema} missing");
    }
}
