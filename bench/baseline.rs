//! The benchmarks' yardstick (`bench/run`): the cheapest server doing the same kind of work
//! as an Atrium page, on the same stack and the same database.
//!
//! - `GET /hello`: plain text, no database.
//! - `GET /page`: 50 users read by an index (`users.handle`, unique) and rendered into a
//!   small askama page with a table, through actix-web, Diesel and the r2d2 pool that
//!   Atrium itself uses (`atrium::db::connect`: same connection settings, same pool).
//!
//! No session, no permission check, no sidebar: what is left when those are taken away.
//! It must never be tuned to look slower.
//!
//! Settings: `ATRIUM_DATABASE_URL` (or `ATRIUM_DATA_DIR`), `BASELINE_BIND`
//! (default 127.0.0.1:8001), `ATRIUM_WORKERS`, `ATRIUM_DB_POOL_SIZE` (as Atrium reads them).

use actix_web::{App, HttpResponse, HttpServer, web};
use askama::Template;
use diesel::prelude::*;

use atrium::db::Pool;
use atrium::db::schema::users;

#[derive(Queryable)]
struct Row {
    handle: String,
    first_name: String,
    last_name: String,
    email: String,
    last_login_at: Option<chrono::NaiveDateTime>,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Users</title>
<link rel="stylesheet" href="/static/atrium.css"></head>
<body><main><h1>Users</h1>
<table class="table"><thead><tr><th>Handle</th><th>Name</th><th>E-mail</th><th>Last log-in</th></tr></thead>
<tbody>{% for r in rows %}<tr><td>{{ r.handle }}</td><td>{{ r.first_name }} {{ r.last_name }}</td><td>{{ r.email }}</td><td>{% match r.last_login_at %}{% when Some with (t) %}{{ t.format("%Y-%m-%d %H:%M UTC") }}{% when None %}Never{% endmatch %}</td></tr>
{% endfor %}</tbody></table>
<p>{{ rows.len() }} users</p></main></body></html>"#
)]
struct Page {
    rows: Vec<Row>,
}

async fn hello() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("hello")
}

async fn page(pool: web::Data<Pool>) -> HttpResponse {
    let pool = pool.get_ref().clone();
    let rows = web::block(move || -> anyhow::Result<Vec<Row>> {
        let mut c = pool.get()?;
        Ok(users::table
            .filter(users::handle.ge("a"))
            .order(users::handle.asc())
            .limit(50)
            .select((
                users::handle,
                users::first_name,
                users::last_name,
                users::email,
                users::last_login_at,
            ))
            .load(&mut c)?)
    })
    .await;
    match rows {
        Ok(Ok(rows)) => match (Page { rows }).render() {
            Ok(html) => HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(_) => HttpResponse::InternalServerError().finish(),
        },
        _ => HttpResponse::InternalServerError().finish(),
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = atrium::Settings::from_env()?;
    let bind = std::env::var("BASELINE_BIND").unwrap_or_else(|_| "127.0.0.1:8001".into());
    let (backend, url, size) = (
        settings.backend,
        settings.database_url.clone(),
        settings.db_pool_size,
    );
    let pool = web::block(move || atrium::db::connect(backend, &url, size)).await??;
    let pool = web::Data::new(pool);
    println!("baseline listening on {bind}");
    HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .route("/hello", web::get().to(hello))
            .route("/page", web::get().to(page))
    })
    .workers(settings.workers)
    .bind(&bind)?
    .run()
    .await?;
    Ok(())
}
