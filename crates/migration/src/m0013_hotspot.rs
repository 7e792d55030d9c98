//! The customer's side: voucher batches (and the codes' own limits), the devices bound
//! to a hotspot account (returning devices, MAC login, max devices), portal orders
//! (a phone's purchase, followed by its waiting screen), and each customer's data
//! allowance period (bundles).
//!
//! A hotspot account is named by its RADIUS username: a customer's, or a voucher's
//! code. Devices are bound to that name (lower-cased), so customers and vouchers
//! share one table and one lookup.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0013_hotspot"
    }
}

async fn add(manager: &SchemaManager<'_>, table_name: &str, col: ColumnDef) -> Result<(), DbErr> {
    // One column per statement: SQLite adds one at a time.
    manager.alter_table(Table::alter().table(Alias::new(table_name)).add_column(col).take()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table(
                    "voucher_batches",
                    vec![
                        id("id"),
                        s("name", 64),
                        big("package_id"),
                        big("quantity"),
                        s_default("prefix", 8, ""),
                        big("code_length"),
                        // digits | letters | mixed (never 0, O, 1 or I)
                        s("charset", 16),
                        // code (the code is the password) | pin (code + PIN)
                        s("mode", 8),
                        // first_use (duration from first use) | fixed (until valid_until)
                        s("validity", 16),
                        ts_null("valid_until"),
                        big("max_devices"),
                        big("price_minor"),
                        s("created_by", 128),
                        ts("created_at"),
                        ts_null("revoked_at"),
                    ],
                )
                .foreign_key(&mut fk("voucher_batches", "package_id", "packages", ForeignKeyAction::Restrict))
                .to_owned(),
            )
            .await?;
        add(manager, "vouchers", big_null("batch_id")).await?;
        add(manager, "vouchers", s_null("pin", 16)).await?;
        add(manager, "vouchers", big_default("max_devices", 1)).await?;
        add(manager, "vouchers", big_default("price_minor", 0)).await?;
        add(manager, "vouchers", ts_null("revoked_at")).await?;
        manager.create_index(index("vouchers", &["batch_id", "status"])).await?;

        manager
            .create_table(table(
                "hotspot_devices",
                vec![
                    id("id"),
                    // The account's RADIUS username, lower-cased (a customer's or a voucher code).
                    s("username_key", 64),
                    // 1..=max devices: two logins racing for the last place collide here.
                    big("slot"),
                    // AA:BB:CC:DD:EE:FF
                    s("mac", 17),
                    ts("created_at"),
                    ts_null("last_seen_at"),
                ],
            ))
            .await?;
        manager.create_index(unique("hotspot_devices", &["mac"])).await?;
        manager.create_index(unique("hotspot_devices", &["username_key", "slot"])).await?;

        manager
            .create_table(table(
                "portal_orders",
                vec![
                    id("id"),
                    // The browser's handle on its order (random, never an id).
                    s("token", 64),
                    // purchase | renewal (from My account)
                    s("kind", 16),
                    big_null("customer_id"),
                    big_null("payment_id"),
                    big("package_id"),
                    s("phone", 12),
                    s_null("mac", 17),
                    s_null("ip", 45),
                    s_null("router_identity", 128),
                    ts_null("queried_at"),
                    ts("created_at"),
                ],
            ))
            .await?;
        manager.create_index(unique("portal_orders", &["token"])).await?;
        manager.create_index(index("portal_orders", &["payment_id"])).await?;
        manager.create_index(index("portal_orders", &["mac", "created_at"])).await?;

        // Data bundles: the allowance counts traffic since `data_start_at`, less what
        // sessions already open at that moment had used (`data_offset_bytes`).
        add(manager, "customers", ts_null("data_start_at")).await?;
        add(manager, "customers", big_default("data_offset_bytes", 0)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["portal_orders", "hotspot_devices", "voucher_batches"] {
            manager.drop_table(Table::drop().table(Alias::new(t)).to_owned()).await?;
        }
        Ok(())
    }
}
