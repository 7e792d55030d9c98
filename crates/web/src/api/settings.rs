//! `/api/settings`: read and write by category; secrets are write-only.

use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::settings::{REGISTRY, SettingsUpdate, SettingsView};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(categories)).route("/settings/{category}", get(read).put(write).patch(write))
}

async fn categories(Auth(_s): Auth) -> Json<Value> {
    let cats: Vec<&str> = REGISTRY.iter().map(|(c, _)| *c).collect();
    Json(json!({"categories": cats}))
}

async fn read(
    State(st): State<AppState>,
    Auth(_s): Auth,
    Path(category): Path<String>,
) -> Result<Json<SettingsView>, WebError> {
    Ok(Json(st.app.read_settings(&category).await?))
}

async fn write(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(category): Path<String>,
    JsonBody(update): JsonBody<SettingsUpdate>,
) -> Result<Json<SettingsView>, WebError> {
    Ok(Json(st.app.write_settings(&s, &category, update).await?))
}
