//! Reading a workspace's Prefect server for Atrium's own pages (the objects the `prefect`
//! CLI links to: issue #22, point 5): where the server is, and a JSON read from it.

use std::time::Duration;

/// Where a workspace's server answers, with its auth string.
#[derive(Clone, Debug)]
pub struct Place {
    pub url: String,
    pub auth: String,
}

/// What a read found.
#[derive(Debug)]
pub enum Read {
    Found(serde_json::Value),
    /// The server has no such object (or the id is not one).
    Missing,
    /// No server could be reached; the reason, for the page.
    Unreachable(String),
}

/// `GET <url>/api/<path>` with the server's credentials, through Atrium's client for
/// Prefect servers (no redirects followed).
pub async fn get(http: &reqwest::Client, place: &Place, path: &str) -> Read {
    let res = http
        .get(format!("{}/api/{path}", place.url))
        .header(
            reqwest::header::AUTHORIZATION,
            super::probe::basic(&place.auth),
        )
        .timeout(Duration::from_secs(20))
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => match r.json().await {
            Ok(v) => Read::Found(v),
            Err(_) => Read::Unreachable("the server's answer was not JSON".into()),
        },
        Ok(r) if matches!(r.status().as_u16(), 404 | 422) => Read::Missing,
        Ok(r) => Read::Unreachable(format!("the server answered {}", r.status().as_u16())),
        Err(e) => Read::Unreachable(super::probe::failure(&e).field_message().1),
    }
}

/// A flow run as the dashboard lists it.
#[derive(Clone, Debug)]
pub struct RunRow {
    pub id: String,
    pub name: String,
    pub state: String,
    pub expected: String,
}

/// A work pool as the dashboard lists it.
#[derive(Clone, Debug)]
pub struct PoolRow {
    pub name: String,
    pub kind: String,
    pub status: String,
    pub workers: usize,
}

/// The workspace's work, read from its server for the dashboard.
#[derive(Clone, Debug, Default)]
pub struct Work {
    /// Flow runs expected in the last 24 hours, counted by state name (most first).
    pub by_state: Vec<(String, usize)>,
    /// Late, failed and crashed runs of those 24 hours (first on the dashboard), at most 10.
    pub attention: Vec<RunRow>,
    /// The other runs of those 24 hours, newest first, at most 10.
    pub recent: Vec<RunRow>,
    /// Deployments: (id, name, status), at most 20.
    pub deployments: Vec<(String, String, String)>,
    pub pools: Vec<PoolRow>,
}

async fn post(
    http: &reqwest::Client,
    place: &Place,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let r = http
        .post(format!("{}/api/{path}", place.url))
        .header(
            reqwest::header::AUTHORIZATION,
            super::probe::basic(&place.auth),
        )
        .json(&body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .map_err(|e| super::probe::failure(&e).field_message().1)?;
    if !r.status().is_success() {
        return Err(format!("the server answered {}", r.status().as_u16()));
    }
    r.json()
        .await
        .map_err(|_| "the server's answer was not JSON".to_string())
}

fn s(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(|x| x.as_str())
        .unwrap_or("")
        .to_string()
}

/// Reads the dashboard's figures from the server.
pub async fn work(http: &reqwest::Client, place: &Place) -> Result<Work, String> {
    let since = (chrono::Utc::now() - chrono::TimeDelta::hours(24)).to_rfc3339();
    let runs = post(
        http,
        place,
        "flow_runs/filter",
        serde_json::json!({
            "flow_runs": { "expected_start_time": { "after_": since } },
            "sort": "EXPECTED_START_TIME_DESC",
            "limit": 200
        }),
    )
    .await?;
    let mut work = Work::default();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for r in runs.as_array().into_iter().flatten() {
        let state = r
            .pointer("/state/name")
            .and_then(|x| x.as_str())
            .unwrap_or("Unknown")
            .to_string();
        *counts.entry(state.clone()).or_default() += 1;
        let row = RunRow {
            id: s(r, "id"),
            name: s(r, "name"),
            expected: s(r, "expected_start_time"),
            state: state.clone(),
        };
        let needs_attention = matches!(state.as_str(), "Late" | "Failed" | "Crashed");
        if needs_attention && work.attention.len() < 10 {
            work.attention.push(row);
        } else if !needs_attention && work.recent.len() < 10 {
            work.recent.push(row);
        }
    }
    work.by_state = counts.into_iter().collect();
    work.by_state
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let deployments = post(
        http,
        place,
        "deployments/filter",
        serde_json::json!({ "limit": 20, "sort": "NAME_ASC" }),
    )
    .await?;
    work.deployments = deployments
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| (s(d, "id"), s(d, "name"), s(d, "status")))
        .collect();
    let pools = post(
        http,
        place,
        "work_pools/filter",
        serde_json::json!({ "limit": 20 }),
    )
    .await?;
    for p in pools.as_array().into_iter().flatten() {
        let name = s(p, "name");
        let workers = post(
            http,
            place,
            &format!("work_pools/{}/workers/filter", urlencoding(&name)),
            serde_json::json!({ "limit": 100 }),
        )
        .await
        .map(|w| w.as_array().map_or(0, Vec::len))
        .unwrap_or(0);
        work.pools.push(PoolRow {
            kind: s(p, "type"),
            status: s(p, "status"),
            name,
            workers,
        });
    }
    Ok(work)
}

/// A work pool name as one path segment.
fn urlencoding(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One counted kind of what a server holds: its label (plural or singular as the count
/// wants) and the count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    pub label: &'static str,
    pub n: i64,
}

impl Count {
    pub fn text(&self) -> String {
        format!("{} {}", self.n, self.label)
    }
}

/// What the server holds, counted by it (the delete section: what goes with a workspace).
pub async fn counts(http: &reqwest::Client, place: &Place) -> Result<Vec<Count>, String> {
    const KINDS: &[(&str, &str, &str)] = &[
        ("flows/count", "flow", "flows"),
        ("deployments/count", "deployment", "deployments"),
        ("flow_runs/count", "flow run", "flow runs"),
        ("work_pools/count", "work pool", "work pools"),
        ("block_documents/count", "block", "blocks"),
        ("automations/count", "automation", "automations"),
    ];
    let mut out = Vec::new();
    for (path, one, many) in KINDS {
        let n = post(http, place, path, serde_json::json!({}))
            .await?
            .as_i64()
            .ok_or("the server's count was not a number")?;
        out.push(Count {
            label: if n == 1 { one } else { many },
            n,
        });
    }
    Ok(out)
}

/// How many flow runs on the server a retention of `days` removes now (what its vacuum
/// service would delete: `servers::retention::removed_filter`).
pub async fn removed_by(http: &reqwest::Client, place: &Place, days: i32) -> Result<i64, String> {
    post(
        http,
        place,
        "flow_runs/count",
        super::retention::removed_filter(days, chrono::Utc::now()),
    )
    .await?
    .as_i64()
    .ok_or_else(|| "the server's count was not a number".to_string())
}

/// A flow run's first log lines (at most 200), oldest first.
pub async fn run_logs(http: &reqwest::Client, place: &Place, run_id: &str) -> Vec<String> {
    let Ok(logs) = post(
        http,
        place,
        "logs/filter",
        serde_json::json!({
            "logs": { "flow_run_id": { "any_": [run_id] } },
            "sort": "TIMESTAMP_ASC",
            "limit": 200
        }),
    )
    .await
    else {
        return Vec::new();
    };
    logs.as_array()
        .into_iter()
        .flatten()
        .map(|l| format!("{} {}", s(l, "timestamp"), s(l, "message")))
        .collect()
}
