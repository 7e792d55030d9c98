//! `/api/vouchers`: batches (list, create, detail, revoke, CSV) and vouchers (list
//! with filters, revoke one). Viewers read; admins write.

use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use broadnet_app::vouchers::{BatchRequest, BatchRevoked, BatchView, RevokeRequest, VoucherListQuery, VoucherView};
use broadnet_store::Page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vouchers", get(list))
        .route("/vouchers/batches", get(batches).post(create))
        .route("/vouchers/batches/{id}", get(batch))
        .route("/vouchers/batches/{id}/revoke", post(revoke_batch))
        .route("/vouchers/batches/{id}/export.csv", get(csv))
        .route("/vouchers/{id}/revoke", post(revoke))
}

async fn batches(
    State(st): State<AppState>,
    Auth(s): Auth,
    p: super::Params,
) -> Result<Json<Page<BatchView>>, WebError> {
    Ok(Json(st.app.list_voucher_batches_query(&s, p.0).await?))
}

async fn create(
    State(st): State<AppState>,
    Auth(s): Auth,
    JsonBody(req): JsonBody<BatchRequest>,
) -> Result<(StatusCode, Json<BatchView>), WebError> {
    Ok((StatusCode::CREATED, Json(st.app.create_voucher_batch(&s, req).await?)))
}

async fn batch(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<Json<BatchView>, WebError> {
    Ok(Json(st.app.get_voucher_batch(&s, id).await?))
}

async fn revoke_batch(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<RevokeRequest>,
) -> Result<Json<BatchRevoked>, WebError> {
    Ok(Json(st.app.revoke_voucher_batch(&s, id, req).await?))
}

async fn csv(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<Response, WebError> {
    let file = st.app.export_vouchers_csv(&s, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", file.file_name)),
        ],
        file.body,
    )
        .into_response())
}

async fn list(
    State(st): State<AppState>,
    Auth(s): Auth,
    p: super::Params,
) -> Result<Json<Page<VoucherView>>, WebError> {
    Ok(Json(st.app.list_vouchers(&s, &VoucherListQuery::from_pairs(p.0)).await?))
}

async fn revoke(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<RevokeRequest>,
) -> Result<Json<VoucherView>, WebError> {
    Ok(Json(st.app.revoke_voucher(&s, id, req).await?))
}
