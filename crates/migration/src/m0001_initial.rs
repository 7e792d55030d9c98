//! The whole domain of DESIGN.md: admins, packages, routers, customers, payments,
//! invoices, vouchers, settings, audit log, outbox, job leases, and RADIUS
//! sessions and post-auth log in the shape of FreeRADIUS's `radacct` / `radpostauth`.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        table(
            "admins",
            vec![
                id("id"),
                s("username", 64),
                s("password_hash", 255),
                s_null("full_name", 128),
                s_null("email", 255),
                s("role", 16),
                boolean("active", true),
                ts_null("tokens_valid_after"),
                big_default("session_epoch", 0),
                ts_null("last_login_at"),
                ts("created_at"),
                ts("updated_at"),
            ],
        ),
        table(
            "revoked_tokens",
            vec![ColumnDef::new(Alias::new("jti")).string_len(64).not_null().primary_key().take(), ts("expires_at")],
        ),
        table(
            "packages",
            vec![
                id("id"),
                s("name", 128),
                text_null("description"),
                s("service_type", 16),
                big("price_minor"),
                big("download_bps"),
                big("upload_bps"),
                big_null("burst_download_bps"),
                big_null("burst_upload_bps"),
                big_null("burst_threshold_download_bps"),
                big_null("burst_threshold_upload_bps"),
                int_null("burst_time_secs"),
                big("duration_minutes"),
                big_null("data_limit_mb"),
                int("shared_users"),
                s_null("framed_pool", 64),
                boolean("active", true),
                // The Mikrotik-Rate-Limit text, kept by the store: FreeRADIUS's views read it.
                s_default("mikrotik_rate_limit", 128, ""),
                ts("created_at"),
                ts("updated_at"),
            ],
        ),
        table(
            "routers",
            vec![
                id("id"),
                s("name", 128),
                s_null("nas_ip", 45),
                s("radius_secret", 128),
                s("service_types", 32),
                s("bridge_ports", 255),
                boolean("anti_sharing", false),
                boolean("require_message_authenticator", true),
                s_null("api_host", 255),
                int_null("api_port"),
                boolean("api_tls", false),
                boolean("api_tls_insecure", false),
                s_null("api_username", 64),
                text_null("api_password_enc"),
                s("state", 24),
                s_null("identity", 128),
                s_null("ros_version", 64),
                s_null("board", 128),
                boolean("online", false),
                ts_null("last_seen_at"),
                big_null("uptime_secs"),
                int_null("cpu_load"),
                big_null("free_memory"),
                big_null("total_memory"),
                int_null("active_pppoe"),
                int_null("active_hotspot"),
                text_null("health_error"),
                ts("created_at"),
                ts("updated_at"),
            ],
        ),
        table(
            "customers",
            vec![
                id("id"),
                s("full_name", 128),
                s("username", 64),
                s("password", 128),
                s("phone", 12),
                s_null("email", 255),
                s("customer_type", 16),
                big_null("package_id"),
                big_null("router_id"),
                s("status", 16),
                ts_null("expires_at"),
                s_null("mac_address", 17),
                s_null("static_ip", 45),
                s_null("location", 255),
                text_null("notes"),
                // Lower-cased "full name username phone", kept by the store: what the
                // customer search scans (one narrow column, through its own index).
                s_default("search_text", 400, ""),
                ts("created_at"),
                ts("updated_at"),
            ],
        )
        .foreign_key(&mut fk("customers", "package_id", "packages", ForeignKeyAction::Restrict))
        .foreign_key(&mut fk("customers", "router_id", "routers", ForeignKeyAction::SetNull))
        .take(),
        table(
            "payments",
            vec![
                id("id"),
                big_null("customer_id"),
                big_null("package_id"),
                s("provider", 16),
                big("amount_minor"),
                s("currency", 3),
                s_null("phone", 12),
                s("status", 16),
                s_null("checkout_request_id", 64),
                s_null("merchant_request_id", 64),
                s_null("provider_receipt", 64),
                s_null("account_reference", 64),
                s_null("result_code", 16),
                text_null("result_desc"),
                big_null("initiated_by_admin_id"),
                ts("created_at"),
                ts("updated_at"),
                ts_null("completed_at"),
            ],
        )
        .foreign_key(&mut fk("payments", "customer_id", "customers", ForeignKeyAction::SetNull))
        .take(),
        table(
            "invoices",
            vec![
                id("id"),
                big("seq"),
                s("number", 32),
                big("payment_id"),
                big_null("customer_id"),
                s("customer_name", 128),
                s_null("package_name", 128),
                big("amount_minor"),
                s("currency", 3),
                ts_null("period_start"),
                ts_null("period_end"),
                ts("issued_at"),
                blob_null("pdf"),
            ],
        )
        .foreign_key(&mut fk("invoices", "payment_id", "payments", ForeignKeyAction::Restrict))
        .take(),
        table(
            "counters",
            vec![ColumnDef::new(Alias::new("name")).string_len(64).not_null().primary_key().take(), big("value")],
        ),
        table(
            "vouchers",
            vec![
                id("id"),
                s("code", 32),
                big("package_id"),
                s_null("batch", 64),
                s("status", 16),
                big_null("customer_id"),
                ts_null("used_at"),
                ts_null("expires_at"),
                ts("created_at"),
            ],
        )
        .foreign_key(&mut fk("vouchers", "package_id", "packages", ForeignKeyAction::Restrict))
        .take(),
        table(
            "settings",
            vec![
                id("id"),
                s("category", 64),
                s("setting_key", 128),
                text("value"),
                boolean("secret", false),
                ts("updated_at"),
            ],
        ),
        table(
            "audit_log",
            vec![
                id("id"),
                ts("at"),
                big_null("admin_id"),
                s("admin_username", 128),
                s_null("ip", 64),
                s("action", 64),
                s("entity_type", 32),
                s_null("entity_id", 64),
                text_null("before_json"),
                text_null("after_json"),
            ],
        ),
        table(
            "outbox",
            vec![
                id("id"),
                s("kind", 32),
                text("payload"),
                s("status", 16),
                int("attempts"),
                ts("next_attempt_at"),
                text_null("last_error"),
                s_null("dedupe_key", 128),
                ts("created_at"),
                ts_null("delivered_at"),
            ],
        ),
        table(
            "job_leases",
            vec![
                ColumnDef::new(Alias::new("name")).string_len(64).not_null().primary_key().take(),
                s("holder", 128),
                ts("lease_until"),
            ],
        ),
        // Column names and meanings as FreeRADIUS 3.x's rlm_sql `radacct`, so that
        // FreeRADIUS and the built-in server write the same rows.
        table(
            "radacct",
            vec![
                id("radacctid"),
                s("acctsessionid", 64),
                s("acctuniqueid", 32),
                s("username", 64),
                s_null("realm", 64),
                s("nasipaddress", 45),
                s_null("nasportid", 32),
                s_null("nasporttype", 32),
                ts_null("acctstarttime"),
                ts_null("acctupdatetime"),
                ts_null("acctstoptime"),
                int_null("acctinterval"),
                big_null("acctsessiontime"),
                s_null("acctauthentic", 32),
                s_null("connectinfo_start", 128),
                s_null("connectinfo_stop", 128),
                big_null("acctinputoctets"),
                big_null("acctoutputoctets"),
                s_null("calledstationid", 50),
                s_null("callingstationid", 50),
                s_null("acctterminatecause", 32),
                s_null("servicetype", 32),
                s_null("framedprotocol", 32),
                s_null("framedipaddress", 45),
                s_null("framedipv6address", 45),
                s_null("framedipv6prefix", 45),
                s_null("framedinterfaceid", 44),
                s_null("delegatedipv6prefix", 45),
                s_null("class", 64),
                big_null("router_id"),
                big_null("customer_id"),
            ],
        ),
        table(
            "radpostauth",
            vec![
                id("id"),
                s("username", 64),
                s_null("pass", 64),
                s("reply", 32),
                ts("authdate"),
                s_null("class", 64),
                big_null("router_id"),
                s_null("nasipaddress", 45),
                s_null("callingstationid", 50),
                s_null("reason", 255),
            ],
        ),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        unique("admins", &["username"]),
        index("revoked_tokens", &["expires_at"]),
        unique("packages", &["name"]),
        unique("routers", &["name"]),
        unique("routers", &["nas_ip"]),
        unique("customers", &["username"]),
        index("customers", &["phone"]),
        index("customers", &["full_name"]),
        index("customers", &["status", "created_at"]),
        index("customers", &["package_id"]),
        index("customers", &["router_id"]),
        index("customers", &["expires_at"]),
        index("customers", &["created_at"]),
        index("customers", &["search_text"]),
        unique("payments", &["checkout_request_id"]),
        unique("payments", &["provider", "provider_receipt"]),
        index("payments", &["customer_id"]),
        index("payments", &["status", "created_at"]),
        unique("invoices", &["number"]),
        unique("invoices", &["seq"]),
        unique("invoices", &["payment_id"]),
        index("invoices", &["customer_id"]),
        unique("vouchers", &["code"]),
        index("vouchers", &["batch"]),
        unique("settings", &["category", "setting_key"]),
        index("audit_log", &["at"]),
        index("audit_log", &["entity_type", "entity_id"]),
        unique("outbox", &["dedupe_key"]),
        index("outbox", &["status", "next_attempt_at"]),
        unique("radacct", &["acctuniqueid"]),
        index("radacct", &["username"]),
        index("radacct", &["acctsessionid"]),
        index("radacct", &["acctstarttime"]),
        index("radacct", &["acctstoptime"]),
        index("radacct", &["nasipaddress"]),
        index("radacct", &["framedipaddress"]),
        index("radacct", &["username", "acctstoptime"]),
        index("radacct", &["acctstoptime", "acctupdatetime"]),
        index("radacct", &["router_id"]),
        index("routers", &["nas_ip"]),
        index("radpostauth", &["router_id"]),
        index("radpostauth", &["username"]),
        index("radpostauth", &["authdate"]),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in tables() {
            manager.create_table(t).await?;
        }
        for i in indexes() {
            manager.create_index(i).await?;
        }
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            // Trigram index: makes `search_text LIKE '%…%'` an index search. pg_trgm is a
            // trusted extension (PostgreSQL 13+); where it cannot be created the search
            // still works, by scanning the plain index.
            manager
                .get_connection()
                .execute_unprepared(
                    "DO $$ BEGIN
                        CREATE EXTENSION IF NOT EXISTS pg_trgm;
                        CREATE INDEX ix_customers_search_trgm ON customers USING gin (search_text gin_trgm_ops);
                     EXCEPTION WHEN OTHERS THEN
                        RAISE NOTICE 'pg_trgm unavailable (%); customer search scans instead', SQLERRM;
                     END $$;",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in tables().into_iter().rev() {
            let name = t.get_table_name().cloned();
            if let Some(name) = name {
                manager.drop_table(Table::drop().table(name).to_owned()).await?;
            }
        }
        Ok(())
    }
}
