//! SeaORM entities: private to this crate, converted to `broadnet_store` records
//! at the boundary so no ORM type leaks out.

pub mod customer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "customers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub full_name: String,
        pub username: String,
        pub password: String,
        pub phone: String,
        pub email: Option<String>,
        pub customer_type: String,
        pub package_id: Option<i64>,
        pub router_id: Option<i64>,
        pub status: String,
        pub expires_at: Option<DateTime>,
        pub mac_address: Option<String>,
        pub static_ip: Option<String>,
        pub location: Option<String>,
        pub notes: Option<String>,
        pub balance_minor: i64,
        pub search_text: String,
        /// The username in lowercase, unique: usernames are unique regardless of case.
        pub username_key: String,
        pub created_at: DateTime,
        pub updated_at: DateTime,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod package {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "packages")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub description: Option<String>,
        pub service_type: String,
        pub price_minor: i64,
        pub download_bps: i64,
        pub upload_bps: i64,
        pub burst_download_bps: Option<i64>,
        pub burst_upload_bps: Option<i64>,
        pub burst_threshold_download_bps: Option<i64>,
        pub burst_threshold_upload_bps: Option<i64>,
        pub burst_time_secs: Option<i32>,
        pub duration_minutes: i64,
        pub data_limit_mb: Option<i64>,
        pub shared_users: i32,
        pub framed_pool: Option<String>,
        pub active: bool,
        pub mikrotik_rate_limit: String,
        pub created_at: DateTime,
        pub updated_at: DateTime,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod router {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "routers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub nas_ip: Option<String>,
        pub radius_secret: String,
        pub service_types: String,
        pub bridge_ports: String,
        pub anti_sharing: bool,
        pub require_message_authenticator: bool,
        pub api_host: Option<String>,
        pub api_port: Option<i32>,
        pub api_tls: bool,
        pub api_tls_insecure: bool,
        pub api_username: Option<String>,
        pub api_password_enc: Option<String>,
        pub state: String,
        pub identity: Option<String>,
        pub ros_version: Option<String>,
        pub board: Option<String>,
        pub online: bool,
        pub last_seen_at: Option<DateTime>,
        pub uptime_secs: Option<i64>,
        pub cpu_load: Option<i32>,
        pub free_memory: Option<i64>,
        pub total_memory: Option<i64>,
        pub active_pppoe: Option<i32>,
        pub active_hotspot: Option<i32>,
        pub health_error: Option<String>,
        pub created_at: DateTime,
        pub updated_at: DateTime,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod radacct {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "radacct")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub radacctid: i64,
        pub acctsessionid: String,
        pub acctuniqueid: String,
        pub username: String,
        pub realm: Option<String>,
        pub nasipaddress: String,
        pub nasportid: Option<String>,
        pub nasporttype: Option<String>,
        pub acctstarttime: Option<DateTime>,
        pub acctupdatetime: Option<DateTime>,
        pub acctstoptime: Option<DateTime>,
        pub acctinterval: Option<i32>,
        pub acctsessiontime: Option<i64>,
        pub acctauthentic: Option<String>,
        pub connectinfo_start: Option<String>,
        pub connectinfo_stop: Option<String>,
        pub acctinputoctets: Option<i64>,
        pub acctoutputoctets: Option<i64>,
        pub calledstationid: Option<String>,
        pub callingstationid: Option<String>,
        pub acctterminatecause: Option<String>,
        pub servicetype: Option<String>,
        pub framedprotocol: Option<String>,
        pub framedipaddress: Option<String>,
        pub framedipv6address: Option<String>,
        pub framedipv6prefix: Option<String>,
        pub framedinterfaceid: Option<String>,
        pub delegatedipv6prefix: Option<String>,
        pub class: Option<String>,
        pub router_id: Option<i64>,
        pub customer_id: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod radpostauth {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "radpostauth")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub username: String,
        pub pass: Option<String>,
        pub reply: String,
        pub authdate: DateTime,
        pub class: Option<String>,
        pub router_id: Option<i64>,
        pub nasipaddress: Option<String>,
        pub callingstationid: Option<String>,
        pub reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod admin {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "admins")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub username: String,
        /// `broadnet_store::admin_username_key(username)`, unique.
        pub username_key: String,
        pub password_hash: String,
        pub full_name: Option<String>,
        pub email: Option<String>,
        pub role: String,
        pub active: bool,
        pub tokens_valid_after: Option<DateTime>,
        pub session_epoch: i64,
        pub last_login_at: Option<DateTime>,
        pub created_at: DateTime,
        pub updated_at: DateTime,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod revoked_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "revoked_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub jti: String,
        pub expires_at: DateTime,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod setting {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "settings")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub category: String,
        pub setting_key: String,
        pub value: String,
        pub secret: bool,
        pub updated_at: DateTime,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: DateTime,
        pub admin_id: Option<i64>,
        pub admin_username: String,
        pub ip: Option<String>,
        pub action: String,
        pub entity_type: String,
        pub entity_id: Option<String>,
        pub before_json: Option<String>,
        pub after_json: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "payments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub customer_id: Option<i64>,
        pub package_id: Option<i64>,
        pub provider: String,
        pub amount_minor: i64,
        pub currency: String,
        pub phone: Option<String>,
        pub status: String,
        pub checkout_request_id: Option<String>,
        pub merchant_request_id: Option<String>,
        pub provider_receipt: Option<String>,
        pub account_reference: Option<String>,
        pub result_code: Option<String>,
        pub result_desc: Option<String>,
        pub initiated_by_admin_id: Option<i64>,
        pub created_at: DateTime,
        pub updated_at: DateTime,
        pub completed_at: Option<DateTime>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invoice {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoices")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub seq: i64,
        pub number: String,
        pub payment_id: i64,
        pub customer_id: Option<i64>,
        pub customer_name: String,
        pub package_name: Option<String>,
        pub amount_minor: i64,
        pub currency: String,
        pub period_start: Option<DateTime>,
        pub period_end: Option<DateTime>,
        pub issued_at: DateTime,
        pub pdf: Option<Vec<u8>>,
        pub periods: i64,
        pub applied_minor: Option<i64>,
        pub balance_after_minor: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod counter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod outbox {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub kind: String,
        pub payload: String,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: DateTime,
        pub last_error: Option<String>,
        pub dedupe_key: Option<String>,
        pub created_at: DateTime,
        pub delivered_at: Option<DateTime>,
        pub customer_id: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod provision_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "provision_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub jti: String,
        pub router_id: i64,
        pub expires_at: DateTime,
        pub used_at: Option<DateTime>,
        pub created_at: DateTime,
        /// The address the script was served to; only it may call back.
        pub fetched_ip: Option<String>,
        pub called_back_at: Option<DateTime>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod usage_monthly {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "usage_monthly")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub username: String,
        pub customer_id: Option<i64>,
        pub month: String,
        pub sessions: i64,
        pub session_time: i64,
        pub input_octets: i64,
        pub output_octets: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod unmatched {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "unmatched_payments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub provider: String,
        pub receipt: String,
        pub amount_minor: i64,
        pub currency: String,
        pub phone: Option<String>,
        pub payer_name: Option<String>,
        pub account_reference: Option<String>,
        pub reason: String,
        pub status: String,
        pub payment_id: Option<i64>,
        pub customer_id: Option<i64>,
        pub resolved_by: Option<String>,
        pub resolved_at: Option<DateTime>,
        pub note: Option<String>,
        pub created_at: DateTime,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod voucher_batch {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "voucher_batches")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub package_id: i64,
        pub quantity: i64,
        pub prefix: String,
        pub code_length: i64,
        pub charset: String,
        pub mode: String,
        pub validity: String,
        pub valid_until: Option<DateTime>,
        pub max_devices: i64,
        pub price_minor: i64,
        pub created_by: String,
        pub created_at: DateTime,
        pub revoked_at: Option<DateTime>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod voucher {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "vouchers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub code: String,
        pub package_id: i64,
        /// Unused since m0013 (`batch_id` names the batch).
        pub batch: Option<String>,
        pub status: String,
        pub customer_id: Option<i64>,
        pub used_at: Option<DateTime>,
        pub expires_at: Option<DateTime>,
        pub created_at: DateTime,
        pub batch_id: Option<i64>,
        pub pin: Option<String>,
        pub max_devices: i64,
        pub price_minor: i64,
        pub revoked_at: Option<DateTime>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod portal_order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "portal_orders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub token: String,
        pub kind: String,
        pub customer_id: Option<i64>,
        pub payment_id: Option<i64>,
        pub package_id: i64,
        pub phone: String,
        pub mac: Option<String>,
        pub ip: Option<String>,
        pub router_identity: Option<String>,
        pub queried_at: Option<DateTime>,
        pub created_at: DateTime,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod code_claim {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "code_claims")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub receipt: String,
        pub username: String,
        pub mac: Option<String>,
        pub ip: Option<String>,
        pub created_at: DateTime,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod hotspot_device {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "hotspot_devices")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub username_key: String,
        pub slot: i64,
        pub mac: String,
        pub created_at: DateTime,
        pub last_seen_at: Option<DateTime>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
