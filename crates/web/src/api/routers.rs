//! `/api/routers`: the three-step wizard and health. The router's own requests
//! (`/provision/…`) are in `crate::provision`.

use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use broadnet_app::routers::{
    ConfigureStarted, CreateRouter, HealthCheck, ProvisionCommand, RouterList, RouterPatchRequest, RouterView,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/routers", get(list).post(create))
        .route("/routers/{id}", get(read).patch(update).put(update).delete(remove))
        .route("/routers/{id}/provision-command", post(command))
        .route("/routers/{id}/configure", post(configure))
        .route("/routers/{id}/configure/events", get(events))
        .route("/routers/{id}/health", post(health))
}

async fn list(State(st): State<AppState>, Auth(_s): Auth) -> Result<Json<RouterList>, WebError> {
    Ok(Json(st.app.list_routers().await?))
}

async fn create(
    State(st): State<AppState>,
    Auth(s): Auth,
    JsonBody(req): JsonBody<CreateRouter>,
) -> Result<(StatusCode, Json<RouterView>), WebError> {
    Ok((StatusCode::CREATED, Json(st.app.create_router(&s, req).await?)))
}

async fn read(State(st): State<AppState>, Auth(_s): Auth, Path(id): Path<i64>) -> Result<Json<RouterView>, WebError> {
    Ok(Json(st.app.get_router(id).await?))
}

async fn update(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<RouterPatchRequest>,
) -> Result<Json<RouterView>, WebError> {
    Ok(Json(st.app.update_router(&s, id, req).await?))
}

async fn remove(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<StatusCode, WebError> {
    st.app.delete_router(&s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn command(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
) -> Result<Json<ProvisionCommand>, WebError> {
    Ok(Json(st.app.provision_command(&s, id).await?))
}

async fn configure(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<ConfigureStarted>), WebError> {
    Ok((StatusCode::ACCEPTED, Json(st.app.configure_router(&s, id).await?)))
}

async fn health(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<Json<HealthCheck>, WebError> {
    Ok(Json(st.app.router_health(&s, id).await?))
}

/// The configuration log as Server-Sent Events: what happened so far, then each step
/// as it starts, succeeds or fails; the stream ends after the `done` event.
async fn events(
    State(st): State<AppState>,
    Auth(_s): Auth,
    Path(id): Path<i64>,
) -> Result<Sse<impl futures_core::Stream<Item = Result<Event, std::convert::Infallible>>>, WebError> {
    st.app.get_router(id).await?;
    let (past, live) = st.app.config_log.watch(id);
    let stream = async_stream::stream! {
        let mut done = false;
        for e in past {
            done = e.status == "done";
            yield Ok(Event::default().event(e.status.clone()).json_data(&e).unwrap_or_default());
        }
        if !done && let Some(mut rx) = live {
            while let Ok(e) = rx.recv().await {
                let last = e.status == "done";
                yield Ok(Event::default().event(e.status.clone()).json_data(&e).unwrap_or_default());
                if last {
                    break;
                }
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
