//! A workspace's Prefect server (DESIGN §7, issue #21): the address of the open-source
//! `prefect server` behind a workspace and its `PREFECT_SERVER_API_AUTH_STRING`, sealed
//! with a key derived from Atrium's secret key. Connecting one checks it first
//! ([`probe`]: `GET /api/health` and `GET /api/admin/version`, at an address the operator
//! allows, following no redirect); the gateway (`crate::gateway`) forwards the workspace's
//! orchestration calls to it. A workspace without one gets a managed server that Atrium
//! starts itself on the first call that needs it ([`spawner`], issue #22).

pub mod model;
pub mod ops;
pub mod pages;
pub mod probe;
pub mod retention;
pub mod spawner;
pub mod view;
