//! `/api/settings`: read and write by category; secrets are write-only.

use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::settings::{REGISTRY, SettingsUpdate, SettingsView};

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(categories)).route("/settings/{category}", get(read).put(write).patch(write))
}

#[derive(serde::Serialize)]
struct Categories {
    categories: Vec<&'static str>,
}

async fn categories(Auth(_s): Auth) -> Json<Categories> {
    Json(Categories { categories: REGISTRY.iter().map(|(c, _)| *c).collect() })
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
