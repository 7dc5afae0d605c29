//! Faults of the database, on a private server the test stops and starts
//! (docs/architecture.md, “In the writer”): nothing accepted is lost silently, and the
//! server recovers by itself.

use std::time::Duration;

use crate::helpers::{PrivateCluster, spawn_app_on};

#[actix_web::test]
async fn readiness_follows_the_database_down_and_back_up() {
    let cluster = PrivateCluster::start().await;
    let app = spawn_app_on(&cluster, |_| {}).await;
    assert_eq!(app.get("/health/ready").await.status(), 200);

    cluster.stop().await;
    assert_eq!(app.get("/health/ready").await.status(), 503);
    assert_eq!(app.get("/health/live").await.status(), 200);

    cluster.restart().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get("/health/ready").await.status();
        if status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {status} after the restart"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}
