//! The schema as versioned migrations, one tree for every database. Applied at
//! start-up and by `broadnet migrate`; the schema is never altered any other way.

use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_freeradius;
mod m0003_routers;
mod m0004_admin_usernames;
mod m0004_provision_callbacks;
mod m0005_retention;
mod m0006_customer_usernames;
mod m0007_billing;
mod m0010_job_runs;
mod m0011_dashboard;
mod m0012_outbox_customer;
mod m0013_hotspot;
mod m0014_code_claims;
mod schema;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_freeradius::Migration),
            Box::new(m0003_routers::Migration),
            Box::new(m0004_admin_usernames::Migration),
            Box::new(m0004_provision_callbacks::Migration),
            Box::new(m0005_retention::Migration),
            Box::new(m0006_customer_usernames::Migration),
            Box::new(m0007_billing::Migration),
            Box::new(m0010_job_runs::Migration),
            Box::new(m0011_dashboard::Migration),
            Box::new(m0012_outbox_customer::Migration),
            Box::new(m0013_hotspot::Migration),
            Box::new(m0014_code_claims::Migration),
        ]
    }
}
