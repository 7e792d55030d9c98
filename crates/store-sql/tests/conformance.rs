//! The storage conformance suite: the same tests on SQLite, PostgreSQL and MariaDB
//! (chosen by BROADNET_TEST_DB), each on a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use broadnet_domain::{CustomerStatus, CustomerType, Money, Phone, Role, ServiceType, Username};
use broadnet_store::*;
use broadnet_store_sql::SqlStore;
use broadnet_testkit::TestDb;
use chrono::{DateTime, Duration, Utc};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T08:00:00Z").unwrap().with_timezone(&Utc)
}

fn actor() -> Actor {
    Actor { admin_id: None, username: "tester".into(), ip: Some("10.0.0.1".into()), at: t0() }
}

fn customer(username: &str, name: &str, phone: &str) -> NewCustomer {
    NewCustomer {
        full_name: name.into(),
        username: Username::parse(username).unwrap(),
        password: "secret12".into(),
        phone: Phone::parse(phone).unwrap(),
        email: None,
        customer_type: CustomerType::Pppoe,
        package_id: None,
        router_id: None,
        status: CustomerStatus::Active,
        expires_at: Some(t0() + Duration::days(30)),
        mac_address: None,
        static_ip: None,
        location: None,
        notes: None,
        created_at: t0(),
    }
}

fn package(name: &str) -> NewPackage {
    NewPackage {
        name: name.into(),
        description: None,
        service_type: ServiceType::Both,
        price: Money::from_minor(150_000).unwrap(),
        download_bps: 10_000_000,
        upload_bps: 5_000_000,
        burst: Some(PackageBurst {
            download_bps: 20_000_000,
            upload_bps: 10_000_000,
            threshold_download_bps: 7_500_000,
            threshold_upload_bps: 3_750_000,
            time_secs: 16,
        }),
        duration_minutes: 43_200,
        data_limit_mb: None,
        shared_users: 1,
        framed_pool: None,
        active: true,
    }
}

async fn with_store<F, Fut>(f: F)
where
    F: FnOnce(SqlStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = TestDb::new().await;
    let store = SqlStore::open(&db.url).await.expect("open and migrate");
    f(store.clone()).await;
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn migrations_are_idempotent_and_report_nothing_pending() {
    let db = TestDb::new().await;
    let store = SqlStore::connect(&db.url).await.unwrap();
    let first = store.migrate().await.unwrap();
    assert_eq!(
        first,
        [
            "m0001_initial",
            "m0002_freeradius",
            "m0003_routers",
            "m0004_admin_usernames",
            "m0004_provision_callbacks",
            "m0005_retention",
            "m0006_customer_usernames",
            "m0007_billing",
            "m0010_job_runs",
            "m0011_dashboard",
            "m0012_outbox_customer",
            "m0013_hotspot",
            "m0014_code_claims"
        ]
    );
    let again = store.migrate().await.unwrap();
    assert!(again.is_empty());
    store.ping().await.unwrap();
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn customer_crud_round_trips_every_field() {
    with_store(|s| async move {
        let pkg = s.create_package(&actor(), package("Home 10")).await.unwrap();
        let mut new = customer("jane", "Jane Wanjiku", "0712345678");
        new.package_id = Some(pkg.id);
        new.email = Some("jane@example.com".into());
        new.mac_address = Some("AA:BB:CC:DD:EE:FF".into());
        new.static_ip = Some("10.10.10.50".into());
        new.notes = Some("gate B".into());
        let c = s.create_customer(&actor(), new.clone()).await.unwrap();
        let got = s.get_customer(c.id).await.unwrap();
        assert_eq!(got, c);
        assert_eq!(got.phone.as_str(), "254712345678");
        assert_eq!(got.expires_at, Some(t0() + Duration::days(30)));
        assert_eq!(got.package_id, Some(pkg.id));
        assert_eq!(s.get_customer_by_username("jane").await.unwrap().id, c.id);

        let mut a2 = actor();
        a2.at = t0() + Duration::hours(1);
        let patch = CustomerPatch { status: Some(CustomerStatus::Suspended), email: Some(None), ..Default::default() };
        let u = s.update_customer(&a2, c.id, patch).await.unwrap();
        assert_eq!(u.status, CustomerStatus::Suspended);
        assert_eq!(u.email, None);
        assert_eq!(u.updated_at, t0() + Duration::hours(1));
        assert_eq!(u.full_name, "Jane Wanjiku");

        s.delete_customer(&actor(), c.id).await.unwrap();
        assert!(matches!(s.get_customer(c.id).await, Err(StoreError::NotFound)));
        assert!(matches!(s.delete_customer(&actor(), c.id).await, Err(StoreError::NotFound)));
        assert!(matches!(s.update_customer(&actor(), c.id, CustomerPatch::default()).await, Err(StoreError::NotFound)));
    })
    .await;
}

#[tokio::test]
async fn duplicate_usernames_are_conflicts_and_change_nothing() {
    with_store(|s| async move {
        s.create_customer(&actor(), customer("jane", "Jane", "0712345678")).await.unwrap();
        let err = s.create_customer(&actor(), customer("jane", "Other", "0722000000")).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(f) if f == "username"), "{err:?}");
        let page = s.list_customers(&CustomerQuery::default()).await.unwrap();
        assert_eq!(page.total, 1);
        // The failed insert wrote no audit entry either.
        let audit = s.list_audit(&AuditQuery { page: 1, per_page: 50, ..Default::default() }).await.unwrap();
        assert_eq!(audit.total, 1);

        s.create_package(&actor(), package("Home")).await.unwrap();
        assert!(
            matches!(s.create_package(&actor(), package("Home")).await, Err(StoreError::Conflict(f)) if f == "name")
        );
    })
    .await;
}

#[tokio::test]
async fn list_searches_filters_sorts_and_pages() {
    with_store(|s| async move {
        let pkg = s.create_package(&actor(), package("Home")).await.unwrap();
        let mut rows = Vec::new();
        for (i, (user, name, phone)) in [
            ("jkamau", "John Kamau", "0712000001"),
            ("mwanjiku", "Mary Wanjiku", "0712000002"),
            ("pkamau", "Peter KAMAU", "0722000003"),
            ("gotieno", "Grace Otieno", "0110000004"),
            ("under_score", "Percent 100% Guy", "0733000005"),
        ]
        .iter()
        .enumerate()
        {
            let mut c = customer(user, name, phone);
            c.created_at = t0() + Duration::minutes(i as i64);
            if i % 2 == 0 {
                c.package_id = Some(pkg.id);
            }
            if i == 3 {
                c.status = CustomerStatus::Expired;
                c.customer_type = CustomerType::Hotspot;
            }
            rows.push(c);
        }
        assert_eq!(s.insert_customers_bulk(rows).await.unwrap(), 5);

        let names = |p: &Page<Customer>| p.items.iter().map(|c| c.username.to_string()).collect::<Vec<_>>();
        let q = |search: &str| CustomerQuery {
            search: Some(search.into()),
            sort: CustomerSort::Username,
            descending: false,
            ..Default::default()
        };

        // Case-insensitive on every backend.
        assert_eq!(names(&s.list_customers(&q("kamau")).await.unwrap()), ["jkamau", "pkamau"]);
        // A phone number in any form, and partial numbers.
        assert_eq!(names(&s.list_customers(&q("+254 712 000 002")).await.unwrap()), ["mwanjiku"]);
        assert_eq!(names(&s.list_customers(&q("0712")).await.unwrap()), ["jkamau", "mwanjiku"]);
        // LIKE wildcards typed by a user are literal.
        assert_eq!(names(&s.list_customers(&q("100%")).await.unwrap()), ["under_score"]);
        assert_eq!(names(&s.list_customers(&q("und_r")).await.unwrap()), Vec::<String>::new());
        assert_eq!(names(&s.list_customers(&q("under_")).await.unwrap()), ["under_score"]);

        let filtered = s
            .list_customers(&CustomerQuery { status: Some(CustomerStatus::Expired), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(names(&filtered), ["gotieno"]);
        let hotspot = s
            .list_customers(&CustomerQuery { customer_type: Some(CustomerType::Hotspot), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(hotspot.total, 1);
        let on_pkg = s.list_customers(&CustomerQuery { package_id: Some(pkg.id), ..Default::default() }).await.unwrap();
        assert_eq!(on_pkg.total, 3);
        let no_router = s.list_customers(&CustomerQuery { router_id: Some(99), ..Default::default() }).await.unwrap();
        assert_eq!(no_router.total, 0);

        let newest_first = s.list_customers(&CustomerQuery { per_page: 2, ..Default::default() }).await.unwrap();
        assert_eq!(newest_first.total, 5);
        assert_eq!(names(&newest_first), ["under_score", "gotieno"]);
        let page3 = s.list_customers(&CustomerQuery { per_page: 2, page: 3, ..Default::default() }).await.unwrap();
        assert_eq!(names(&page3), ["jkamau"]);
        let by_name = s
            .list_customers(&CustomerQuery { sort: CustomerSort::FullName, descending: false, ..Default::default() })
            .await
            .unwrap();
        assert_eq!(names(&by_name)[0], "gotieno");

        // The search follows renames and number changes; a username that is a phone
        // number is found by the number in any form.
        let jk = s.get_customer_by_username("jkamau").await.unwrap();
        let patch = CustomerPatch {
            full_name: Some("John Mwangi".into()),
            phone: Some(Phone::parse("0799000111").unwrap()),
            ..Default::default()
        };
        s.update_customer(&actor(), jk.id, patch).await.unwrap();
        assert!(names(&s.list_customers(&q("john kamau")).await.unwrap()).is_empty());
        assert_eq!(names(&s.list_customers(&q("John MWANGI")).await.unwrap()), ["jkamau"]);
        assert_eq!(names(&s.list_customers(&q("0799 000 111")).await.unwrap()), ["jkamau"]);
        assert_eq!(names(&s.list_customers(&q("799000")).await.unwrap()), ["jkamau"]);
        let mut hs = customer("254733000444", "Hotspot Guest", "0722000444");
        hs.customer_type = CustomerType::Hotspot;
        s.create_customer(&actor(), hs).await.unwrap();
        assert_eq!(names(&s.list_customers(&q("+254 733 000 444")).await.unwrap()), ["254733000444"]);
    })
    .await;
}

#[tokio::test]
async fn packages_in_use_cannot_be_deleted() {
    with_store(|s| async move {
        let pkg = s.create_package(&actor(), package("Home")).await.unwrap();
        assert_eq!(s.get_package(pkg.id).await.unwrap(), pkg);
        assert_eq!(pkg.burst.unwrap().time_secs, 16);
        let mut c = customer("jane", "Jane", "0712345678");
        c.package_id = Some(pkg.id);
        let c = s.create_customer(&actor(), c).await.unwrap();
        assert!(matches!(s.delete_package(&actor(), pkg.id).await, Err(StoreError::InUse(_))));
        s.delete_customer(&actor(), c.id).await.unwrap();
        s.delete_package(&actor(), pkg.id).await.unwrap();
        assert!(s.list_packages().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn every_change_is_audited_with_before_and_after() {
    with_store(|s| async move {
        let c = s.create_customer(&actor(), customer("jane", "Jane", "0712345678")).await.unwrap();
        let patch = CustomerPatch {
            full_name: Some("Jane W.".into()),
            password: Some("newpass9".into()),
            ..Default::default()
        };
        s.update_customer(&actor(), c.id, patch).await.unwrap();
        s.delete_customer(&actor(), c.id).await.unwrap();
        let log = s
            .list_audit(&AuditQuery {
                entity_type: Some("customer".into()),
                page: 1,
                per_page: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let actions: Vec<&str> = log.items.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["customer.delete", "customer.update", "customer.create"]);
        let update = &log.items[1];
        assert_eq!(update.admin_username, "tester");
        assert_eq!(update.ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(update.at, t0());
        assert_eq!(update.before.as_ref().unwrap()["full_name"], "Jane");
        assert_eq!(update.after.as_ref().unwrap()["full_name"], "Jane W.");
        // Passwords are never written to the log.
        let text = serde_json::to_string(&log.items).unwrap();
        assert!(!text.contains("secret12") && !text.contains("newpass9"), "{text}");
        assert_eq!(update.after.as_ref().unwrap()["password"], "(new)");
        assert!(log.items[0].after.is_none());
    })
    .await;
}

#[tokio::test]
async fn admins_tokens_and_settings() {
    with_store(|s| async move {
        let a = s
            .create_admin(&actor(), NewAdmin { username: "boss".into(), password_hash: "$argon2id$x".into(), full_name: None, email: None, role: Role::Superadmin })
            .await
            .unwrap();
        assert_eq!(s.count_admins().await.unwrap(), 1);
        for dup in ["boss", "BOSS", " Boss"] {
            assert!(matches!(
                s.create_admin(&actor(), NewAdmin { username: dup.into(), password_hash: "h".into(), full_name: None, email: None, role: Role::Viewer }).await,
                Err(StoreError::Conflict(f)) if f == "username"
            ), "{dup:?}");
        }
        assert_eq!(s.get_admin_by_username(" BOSS\t").await.unwrap().id, a.id);
        // The last active superadmin cannot be demoted, disabled or deleted.
        for patch in [AdminPatch { role: Some(Role::Admin), ..Default::default() }, AdminPatch { active: Some(false), ..Default::default() }] {
            assert!(matches!(s.update_admin(&actor(), a.id, patch).await, Err(StoreError::InUse(_))));
        }
        assert!(matches!(s.delete_admin(&actor(), a.id).await, Err(StoreError::InUse(_))));
        s.create_admin(&actor(), NewAdmin { username: "boss2".into(), password_hash: "h".into(), full_name: None, email: None, role: Role::Superadmin }).await.unwrap();
        let u = s.update_admin(&actor(), a.id, AdminPatch { role: Some(Role::Admin), end_sessions: true, ..Default::default() }).await.unwrap();
        assert_eq!(u.role, Role::Admin);
        assert_eq!((u.session_epoch, u.tokens_valid_after), (a.session_epoch + 1, Some(t0())));
        let u = s.update_admin(&actor(), a.id, AdminPatch { end_sessions: true, ..Default::default() }).await.unwrap();
        assert_eq!(u.session_epoch, a.session_epoch + 2);
        s.record_login(a.id, t0()).await.unwrap();
        assert_eq!(s.get_admin_by_username("boss").await.unwrap().last_login_at, Some(t0()));

        s.revoke_token("abc", t0() + Duration::days(1)).await.unwrap();
        s.revoke_token("abc", t0() + Duration::days(1)).await.unwrap();
        assert!(s.is_token_revoked("abc").await.unwrap());
        assert!(!s.is_token_revoked("def").await.unwrap());
        assert_eq!(s.purge_revoked_tokens(t0() + Duration::days(2)).await.unwrap(), 1);
        assert!(!s.is_token_revoked("abc").await.unwrap());

        let put = |k: &str, v: &str, secret: bool| Setting { key: k.into(), value: v.into(), secret };
        s.put_settings(&actor(), "mpesa", vec![put("shortcode", "174379", false), put("passkey", "enc:v1:xyz", true)]).await.unwrap();
        s.put_settings(&actor(), "mpesa", vec![put("shortcode", "600000", false)]).await.unwrap();
        let got = s.get_settings("mpesa").await.unwrap();
        assert_eq!(got, vec![put("passkey", "enc:v1:xyz", true), put("shortcode", "600000", false)]);
        let log = s.list_audit(&AuditQuery { entity_type: Some("settings".into()), page: 1, per_page: 10, ..Default::default() }).await.unwrap();
        assert_eq!(log.total, 2);
        let first = &log.items[1];
        assert_eq!(first.after.as_ref().unwrap()["passkey"], "(secret)");
        assert_eq!(log.items[0].before.as_ref().unwrap()["shortcode"], "174379");

        s.delete_admin(&actor(), a.id).await.unwrap();
        assert!(matches!(s.get_admin(a.id).await, Err(StoreError::NotFound)));
    })
    .await;
}

#[tokio::test]
async fn two_superadmins_demoting_each_other_at_once_leave_one() {
    with_store(|s| async move {
        let new = |name: &str| NewAdmin {
            username: name.into(),
            password_hash: "h".into(),
            full_name: None,
            email: None,
            role: Role::Superadmin,
        };
        let mut a = s.create_admin(&actor(), new("alpha")).await.unwrap().id;
        let b = s.create_admin(&actor(), new("beta")).await.unwrap().id;
        let demote = AdminPatch { role: Some(Role::Admin), ..Default::default() };
        let disable = AdminPatch { active: Some(false), ..Default::default() };
        let restore = AdminPatch { role: Some(Role::Superadmin), active: Some(true), ..Default::default() };
        for round in 0..30 {
            // Demote/demote, disable/demote, delete/demote: each pair raced on its own tasks.
            let (s1, s2) = (s.clone(), s.clone());
            let first = if round % 3 == 1 { disable.clone() } else { demote.clone() };
            let (second, delete) = (demote.clone(), round % 3 == 2);
            let t1 = tokio::spawn(async move {
                if delete {
                    s1.delete_admin(&actor(), a).await
                } else {
                    s1.update_admin(&actor(), a, first).await.map(|_| ())
                }
            });
            let t2 = tokio::spawn(async move { s2.update_admin(&actor(), b, second).await.map(|_| ()) });
            let (r1, r2) = (t1.await.unwrap(), t2.await.unwrap());
            let ok = [&r1, &r2].iter().filter(|r| r.is_ok()).count();
            assert_eq!(ok, 1, "round {round}: {r1:?} {r2:?}");
            assert!([&r1, &r2].iter().any(|r| matches!(r, Err(StoreError::InUse(_)))), "round {round}");
            let supers =
                s.list_admins().await.unwrap().into_iter().filter(|x| x.role == Role::Superadmin && x.active).count();
            assert_eq!(supers, 1, "round {round}");
            if delete && r1.is_ok() {
                a = s.create_admin(&actor(), new(&format!("alpha{round}"))).await.unwrap().id;
            }
            for id in [a, b] {
                s.update_admin(&actor(), id, restore.clone()).await.unwrap();
            }
        }
    })
    .await;
}

#[tokio::test]
async fn admin_usernames_that_differ_only_in_case_stop_the_migration_by_name() {
    use sea_orm::{ConnectionTrait, Database};
    use sea_orm_migration::MigratorTrait;
    let db = TestDb::new().await;
    let url = if db.url.starts_with("sqlite") { format!("{}?mode=rwc", db.url) } else { db.url.clone() };
    let conn = Database::connect(&url).await.unwrap();
    broadnet_store_sql::Migrator::up(&conn, Some(3)).await.unwrap();
    // MySQL's default collation already refuses case variants; a leading space it does not.
    let mut rows = vec![("root", "superadmin"), (" root", "admin"), ("viewer", "viewer")];
    if db.backend != broadnet_testkit::Backend::MySql {
        rows.extend([("Ops", "admin"), ("OPS", "admin")]);
    }
    for (name, role) in rows {
        conn.execute_unprepared(&format!(
            "INSERT INTO admins (username, password_hash, role, active, session_epoch, created_at, updated_at) \
             VALUES ('{name}', 'h', '{role}', true, 0, '2026-11-01 08:00:00', '2026-11-01 08:00:00')"
        ))
        .await
        .unwrap();
    }
    let err = broadnet_store_sql::Migrator::up(&conn, None).await.unwrap_err().to_string();
    assert!(err.contains("\"root\"") && err.contains("\" root\"") && !err.contains("viewer"), "{err}");
    if db.backend != broadnet_testkit::Backend::MySql {
        assert!(err.contains("\"OPS\" = \"Ops\""), "{err}");
        conn.execute_unprepared("DELETE FROM admins WHERE username = 'OPS'").await.unwrap();
    }
    // Renamed as the message says, the migration goes through and logins find both.
    conn.execute_unprepared("UPDATE admins SET username = 'root2' WHERE username = ' root'").await.unwrap();
    broadnet_store_sql::Migrator::up(&conn, None).await.unwrap();
    let _ = conn.close().await;
    let store = SqlStore::open(&db.url).await.unwrap();
    assert_eq!(store.get_admin_by_username("Root2").await.unwrap().username, "root2");
    assert_eq!(store.get_admin_by_username(" ROOT").await.unwrap().username, "root");
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_provisioning_token_is_called_back_once_from_the_address_that_fetched_it() {
    with_store(|s| async move {
        let r = s
            .create_router(
                &actor(),
                NewRouter {
                    name: "r1".into(),
                    nas_ip: None,
                    radius_secret: "x".into(),
                    service_types: ServiceType::Both,
                    require_message_authenticator: true,
                },
            )
            .await
            .unwrap();
        s.create_provision_token(r, "jti-1", t0() + Duration::hours(1), t0()).await.unwrap();
        assert_eq!(
            s.callback_provision_token("jti-1", t0(), "192.0.2.1").await.unwrap(),
            Err(TokenRefusal::NotFetched)
        );
        assert_eq!(s.use_provision_token("jti-1", t0(), Some("192.0.2.1")).await.unwrap(), Ok(r));
        assert_eq!(s.use_provision_token("jti-1", t0(), Some("192.0.2.1")).await.unwrap(), Err(TokenRefusal::Used));
        assert_eq!(
            s.callback_provision_token("jti-1", t0(), "192.0.2.9").await.unwrap(),
            Err(TokenRefusal::WrongAddress)
        );
        // Of several at once, one wins.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(
                async move { s.callback_provision_token("jti-1", t0(), "192.0.2.1").await.unwrap() },
            ));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(id) => {
                    assert_eq!(id, r);
                    wins += 1;
                }
                Err(e) => assert_eq!(e, TokenRefusal::CalledBack),
            }
        }
        assert_eq!(wins, 1);
        assert_eq!(s.callback_provision_token("nope", t0(), "192.0.2.1").await.unwrap(), Err(TokenRefusal::Unknown));
        s.create_provision_token(r, "jti-2", t0() + Duration::hours(1), t0()).await.unwrap();
        s.use_provision_token("jti-2", t0(), Some("192.0.2.1")).await.unwrap().unwrap();
        let late = t0() + Duration::minutes(61);
        assert_eq!(s.callback_provision_token("jti-2", late, "192.0.2.1").await.unwrap(), Err(TokenRefusal::Expired));
    })
    .await;
}

#[tokio::test]
async fn concurrent_writes_all_land() {
    with_store(|s| async move {
        let mut tasks = Vec::new();
        for i in 0..40 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.create_customer(&actor(), customer(&format!("user{i}"), "Load Test", &format!("07120000{i:02}")))
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(s.list_customers(&CustomerQuery::default()).await.unwrap().total, 40);
    })
    .await;
}

#[tokio::test]
async fn freeradius_views_say_what_the_built_in_server_decides() {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = TestDb::new().await;
    let s = SqlStore::open(&db.url).await.unwrap();
    let mut with_pool = package("Home 10M");
    with_pool.framed_pool = Some("home-pool".into());
    let pkg = s.create_package(&actor(), with_pool).await.unwrap();
    let now = Utc::now();
    let mut ok = customer("active1", "Active One", "0712000101");
    ok.package_id = Some(pkg.id);
    ok.expires_at = Some(now + Duration::days(3));
    ok.static_ip = Some("10.20.0.5".into());
    let mut late = customer("expired1", "Expired One", "0712000102");
    late.package_id = Some(pkg.id);
    late.expires_at = Some(now - Duration::minutes(5));
    let mut off = customer("suspended1", "Suspended One", "0712000103");
    off.package_id = Some(pkg.id);
    off.status = CustomerStatus::Suspended;
    for c in [ok, late, off] {
        s.create_customer(&actor(), c).await.unwrap();
    }
    s.create_router(
        &actor(),
        NewRouter {
            name: "core".into(),
            nas_ip: Some("10.0.0.1".into()),
            radius_secret: "s3cret-value".into(),
            service_types: ServiceType::Both,
            require_message_authenticator: true,
        },
    )
    .await
    .unwrap();

    let conn = Database::connect(&db.url).await.unwrap();
    let backend = conn.get_database_backend();
    let rows = |sql: &'static str| {
        let conn = &conn;
        async move {
            conn.query_all_raw(Statement::from_string(backend, sql))
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (0..3)
                        .map(|i| r.try_get_by_index::<String>(i).unwrap_or_else(|_| "?".into()))
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect::<Vec<_>>()
        }
    };
    let check = rows("SELECT username, attribute, value FROM radcheck ORDER BY id").await;
    assert_eq!(
        check,
        [
            "active1|Cleartext-Password|secret12",
            "expired1|Cleartext-Password|secret12",
            "expired1|Auth-Type|Reject",
            "suspended1|Cleartext-Password|secret12",
            "suspended1|Auth-Type|Reject",
        ]
    );
    assert_eq!(rows("SELECT username, attribute, value FROM radreply").await, ["active1|Framed-IP-Address|10.20.0.5"]);
    assert_eq!(
        rows("SELECT username, groupname, username FROM radusergroup WHERE username = 'active1'").await,
        ["active1|Home 10M|active1"]
    );
    assert_eq!(
        rows("SELECT groupname, attribute, value FROM radgroupreply ORDER BY id").await,
        [
            "Home 10M|Mikrotik-Rate-Limit|5M/10M 10M/20M 3750k/7500k 16/16",
            "Home 10M|Acct-Interim-Interval|300",
            "Home 10M|Framed-Pool|home-pool"
        ]
    );
    assert_eq!(rows("SELECT nasname, shortname, secret FROM nas").await, ["10.0.0.1|core|s3cret-value"]);
    assert!(rows("SELECT groupname, attribute, value FROM radgroupcheck").await.is_empty());
    let _ = conn.close().await;
    s.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn accounting_is_idempotent_and_stale_sessions_close() {
    with_store(|s| async move {
        let ev = |id: &str, at: DateTime<Utc>, time: i64, octets: i64| AcctEvent {
            unique_id: format!("u-{id}"),
            session_id: id.into(),
            username: "jane".into(),
            nas_ip: "10.0.0.1".into(),
            at,
            session_time: Some(time),
            input_octets: Some(octets),
            output_octets: Some(octets * 2),
            ..Default::default()
        };
        s.record_accounting(AcctKind::Start, ev("a", t0(), 0, 0)).await.unwrap();
        s.record_accounting(AcctKind::Interim, ev("a", t0() + Duration::minutes(5), 300, 1000)).await.unwrap();
        // A late, older interim and a repeated start change nothing.
        s.record_accounting(AcctKind::Interim, ev("a", t0() + Duration::minutes(4), 240, 10)).await.unwrap();
        s.record_accounting(AcctKind::Start, ev("a", t0(), 0, 0)).await.unwrap();
        // A session first heard of through an interim starts session_time earlier.
        s.record_accounting(AcctKind::Interim, ev("b", t0() + Duration::minutes(50), 600, 5)).await.unwrap();
        let q = SessionQuery { username: Some("jane".into()), ..Default::default() };
        let all = s.list_sessions(&q).await.unwrap();
        assert_eq!(all.total, 2);
        let a = all.items.iter().find(|x| x.session_id == "a").unwrap();
        assert_eq!((a.session_time, a.input_octets, a.output_octets), (Some(300), Some(1000), Some(2000)));
        assert_eq!(a.updated_at, Some(t0() + Duration::minutes(5)));
        let b = all.items.iter().find(|x| x.session_id == "b").unwrap();
        assert_eq!(b.started_at, Some(t0() + Duration::minutes(40)));
        assert_eq!(s.open_session_count("jane").await.unwrap(), 2);

        // Silent since minute 5: closed; b was heard at minute 50: kept.
        let closed = s.close_stale_sessions(t0() + Duration::minutes(30), t0() + Duration::minutes(60)).await.unwrap();
        assert_eq!(closed, 1);
        let a = s.list_sessions(&q).await.unwrap().items.into_iter().find(|x| x.session_id == "a").unwrap();
        assert_eq!(a.terminate_cause.as_deref(), Some("Lost-Service"));
        assert_eq!(s.open_session_count("jane").await.unwrap(), 1);
        // A stop after that never reopens or rewinds it.
        s.record_accounting(AcctKind::Stop, ev("a", t0() + Duration::minutes(70), 200, 1)).await.unwrap();
        let a = s.get_session(a.id).await.unwrap();
        assert_eq!((a.session_time, a.input_octets), (Some(300), Some(1000)));
        assert_eq!(a.terminate_cause.as_deref(), Some("Lost-Service"));
        // Accounting-On closes the rest for that NAS.
        assert_eq!(s.close_nas_sessions("10.0.0.1", t0() + Duration::minutes(80), "NAS-Reboot").await.unwrap(), 1);
        assert_eq!(s.open_session_count("jane").await.unwrap(), 0);
    })
    .await;
}

async fn count(url: &str, sql: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let conn = Database::connect(url).await.unwrap();
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap().unwrap();
    let n: i64 = row.try_get_by_index(0).unwrap();
    let _ = conn.close().await;
    n
}

#[tokio::test]
async fn a_payment_renews_exactly_once_whatever_the_callbacks_do() {
    use broadnet_domain::{PaymentProvider, PaymentStatus};
    let db = TestDb::new().await;
    let s = SqlStore::open(&db.url).await.unwrap();
    let pkg = s.create_package(&actor(), package("Monthly")).await.unwrap(); // 30 days
    let now = Utc::now();
    let mut c = customer("payer", "Payer One", "0712000501");
    c.package_id = Some(pkg.id);
    c.expires_at = Some(now + Duration::days(2)); // still active: renewal extends from expiry
    c.status = CustomerStatus::Expired;
    let cust = s.create_customer(&actor(), c).await.unwrap();
    let new_payment = |checkout: &str| NewPayment {
        customer_id: cust.id,
        package_id: pkg.id,
        provider: PaymentProvider::Mpesa,
        amount: Money::from_minor(150_000).unwrap(),
        currency: "KES".into(),
        phone: Some(Phone::parse("0712000501").unwrap()),
        checkout_request_id: Some(checkout.into()),
        merchant_request_id: None,
        account_reference: Some("payer".into()),
        initiated_by_admin_id: None,
        created_at: now,
    };
    let done = |id: i64, receipt: &str| Completion {
        payment_id: id,
        provider_receipt: receipt.into(),
        amount: Money::from_minor(150_000).unwrap(),
        phone: Some(Phone::parse("254712000501").unwrap()),
        result_desc: "The service request is processed successfully.".into(),
        at: now,
        provider_confirmed: false,
    };

    // Eight identical callbacks at once: one completes, seven see it done.
    let p1 = s.create_payment(new_payment("ws_CO_1")).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (s, c) = (s.clone(), done(p1.id, "RKT1AAAAA1"));
        tasks.push(tokio::spawn(async move { s.complete_payment(c).await.unwrap() }));
    }
    let mut completed = 0;
    for t in tasks {
        match t.await.unwrap() {
            CompleteOutcome::Completed { invoice_number, expires_at, .. } => {
                completed += 1;
                assert_eq!(invoice_number, "INV-000001");
                assert_eq!(expires_at.map(|e| e.timestamp()), Some((now + Duration::days(32)).timestamp()));
            }
            CompleteOutcome::AlreadyCompleted { payment } => assert_eq!(payment.status, PaymentStatus::Completed),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(completed, 1);
    let after = s.get_customer(cust.id).await.unwrap();
    assert_eq!(after.status, CustomerStatus::Active);
    assert_eq!(after.expires_at.unwrap().timestamp(), (now + Duration::days(32)).timestamp());
    assert_eq!(count(&db.url, "SELECT COUNT(*) FROM invoices").await, 1);
    assert_eq!(count(&db.url, "SELECT COUNT(*) FROM outbox WHERE kind = 'payment.completed'").await, 1);

    // Two different payments at once for the same customer: both renew, none is lost.
    let (p2, p3) = (
        s.create_payment(new_payment("ws_CO_2")).await.unwrap(),
        s.create_payment(new_payment("ws_CO_3")).await.unwrap(),
    );
    let (a, b) = tokio::join!(s.complete_payment(done(p2.id, "RKT2")), s.complete_payment(done(p3.id, "RKT3")));
    assert!(matches!(a.unwrap(), CompleteOutcome::Completed { .. }));
    assert!(matches!(b.unwrap(), CompleteOutcome::Completed { .. }));
    let after = s.get_customer(cust.id).await.unwrap();
    assert_eq!(after.expires_at.unwrap().timestamp(), (now + Duration::days(92)).timestamp());
    assert_eq!(count(&db.url, "SELECT COUNT(DISTINCT number) FROM invoices").await, 3);

    // A forged or mistaken callback: wrong amount, another phone. Recorded, not applied.
    let p4 = s.create_payment(new_payment("ws_CO_4")).await.unwrap();
    let mut cheap = done(p4.id, "RKT4");
    cheap.amount = Money::from_minor(100).unwrap();
    let CompleteOutcome::Refused { payment, reason } = s.complete_payment(cheap).await.unwrap() else { panic!() };
    assert!(reason.contains("does not match"), "{reason}");
    assert_eq!(payment.status, PaymentStatus::Pending);
    assert_eq!(payment.result_desc.as_deref(), Some(reason.as_str()));
    let mut other_phone = done(p4.id, "RKT4");
    other_phone.phone = Some(Phone::parse("0722999999").unwrap());
    assert!(matches!(s.complete_payment(other_phone).await.unwrap(), CompleteOutcome::Refused { .. }));
    // A receipt already used by another payment: refused by the database, nothing changes.
    assert!(matches!(s.complete_payment(done(p4.id, "RKT1AAAAA1")).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.get_payment(p4.id).await.unwrap().status, PaymentStatus::Pending);
    assert_eq!(s.get_customer(cust.id).await.unwrap().expires_at, after.expires_at);
    assert_eq!(count(&db.url, "SELECT COUNT(*) FROM invoices").await, 3);

    // Failed stays failed: a late success callback does not resurrect it.
    let failed =
        s.close_payment(p4.id, PaymentStatus::Cancelled, "1032", "Request cancelled by user", now).await.unwrap();
    assert_eq!(failed.status, PaymentStatus::Cancelled);
    let CompleteOutcome::Refused { reason, .. } = s.complete_payment(done(p4.id, "RKT5")).await.unwrap() else {
        panic!()
    };
    assert!(reason.contains("cancelled"), "{reason}");
    // And a completed one cannot be closed.
    assert_eq!(
        s.close_payment(p1.id, PaymentStatus::Failed, "1", "x", now).await.unwrap().status,
        PaymentStatus::Completed
    );
    assert_eq!(s.find_payment_by_checkout("ws_CO_1").await.unwrap().provider_receipt.as_deref(), Some("RKT1AAAAA1"));
    let inv = s.get_invoice_for_payment(p1.id).await.unwrap();
    assert_eq!((inv.number.as_str(), inv.amount.minor()), ("INV-000001", 150_000));
    assert_eq!(s.get_invoice("INV-000001").await.unwrap().payment_id, p1.id);
    assert!(matches!(s.get_invoice("INV-999").await, Err(StoreError::NotFound)));

    // A payment we stopped waiting for ("no-answer") still completes when the money
    // turns out to have moved; one the provider declined does not (above).
    let p6 = s.create_payment(new_payment("ws_CO_6")).await.unwrap();
    assert_eq!(s.pending_payments(now + Duration::seconds(1), 10).await.unwrap().last().unwrap().id, p6.id);
    s.set_payment_checkout(p6.id, "ws_CO_6b", Some("m-6"), now).await.unwrap();
    s.close_payment(p6.id, PaymentStatus::Expired, "no-answer", "no final answer from M-Pesa", now).await.unwrap();
    assert!(s.pending_payments(now + Duration::seconds(1), 10).await.unwrap().iter().all(|p| p.id != p6.id));
    let late = s.complete_payment(done(p6.id, "RKT6")).await.unwrap();
    assert!(matches!(late, CompleteOutcome::Completed { .. }), "{late:?}");
    assert_eq!(s.find_payment_by_checkout("ws_CO_6b").await.unwrap().status, PaymentStatus::Completed);

    s.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn one_node_holds_a_job_lease_and_the_sweep_expires_customers() {
    with_store(|s| async move {
        let t = t0();
        assert!(s.try_lease("expiry", "node-a", t, t + Duration::seconds(90)).await.unwrap());
        assert!(!s.try_lease("expiry", "node-b", t + Duration::seconds(10), t + Duration::seconds(100)).await.unwrap());
        assert!(
            s.try_lease("expiry", "node-a", t + Duration::seconds(60), t + Duration::seconds(150)).await.unwrap(),
            "renewal"
        );
        // node-a stops renewing: node-b takes over once the lease ran out.
        assert!(s.try_lease("expiry", "node-b", t + Duration::seconds(151), t + Duration::seconds(241)).await.unwrap());
        assert!(
            !s.try_lease("expiry", "node-a", t + Duration::seconds(160), t + Duration::seconds(250)).await.unwrap()
        );

        let mut due = customer("due", "Due Now", "0712000601");
        due.expires_at = Some(t - Duration::minutes(1));
        let mut later = customer("later", "Later", "0712000602");
        later.expires_at = Some(t + Duration::days(1));
        let mut off = customer("off", "Suspended", "0712000603");
        off.expires_at = Some(t - Duration::days(1));
        off.status = CustomerStatus::Suspended;
        for c in [due, later, off] {
            s.create_customer(&actor(), c).await.unwrap();
        }
        let expired = s.expire_customers(t, 500).await.unwrap();
        assert_eq!(expired.iter().map(|c| c.username.to_string()).collect::<Vec<_>>(), ["due"]);
        assert_eq!(expired[0].status, CustomerStatus::Expired);
        assert!(s.expire_customers(t, 500).await.unwrap().is_empty(), "a second sweep finds nothing");
        let log = s
            .list_audit(&AuditQuery {
                entity_type: Some("customer".into()),
                page: 1,
                per_page: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(log.items.iter().any(|e| e.action == "customer.expire" && e.admin_username == "system:expiry"));
    })
    .await;
}

#[tokio::test]
async fn the_outbox_delivers_each_entry_once_and_retries() {
    with_store(|s| async move {
        let t = t0();
        let item = |key: Option<&str>| NewOutbox {
            kind: OutboxKind::Sms,
            payload: serde_json::json!({"to": "254712000001", "message": "hi"}),
            dedupe_key: key.map(str::to_string),
            at: t,
        };
        assert!(s.enqueue(item(Some("remind:1:3"))).await.unwrap());
        assert!(!s.enqueue(item(Some("remind:1:3"))).await.unwrap(), "same key, added once");
        assert!(s.enqueue(item(None)).await.unwrap());
        assert!(s.enqueue(item(None)).await.unwrap());

        let lease = t + Duration::minutes(5);
        let claimed = s.claim_outbox(t, lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 3);
        assert!(claimed.iter().all(|c| c.status == OutboxStatus::Sending && c.attempts == 1));
        assert!(s.claim_outbox(t, lease, 10).await.unwrap().is_empty(), "claimed rows are not taken twice");
        s.finish_outbox(claimed[0].id, OutboxResult::Delivered, t).await.unwrap();
        s.finish_outbox(
            claimed[1].id,
            OutboxResult::Retry { at: t + Duration::minutes(1), error: "gateway timeout".into() },
            t,
        )
        .await
        .unwrap();
        s.finish_outbox(claimed[2].id, OutboxResult::Failed { error: "invalid phone".into() }, t).await.unwrap();
        // The retry comes due; then a claim that is never finished (a crash) comes back after its lease.
        let again = s.claim_outbox(t + Duration::minutes(2), t + Duration::minutes(7), 10).await.unwrap();
        assert_eq!(again.iter().map(|c| (c.id, c.attempts)).collect::<Vec<_>>(), [(claimed[1].id, 2)]);
        let after_crash = s.claim_outbox(t + Duration::minutes(8), t + Duration::minutes(13), 10).await.unwrap();
        assert_eq!(after_crash.iter().map(|c| (c.id, c.attempts)).collect::<Vec<_>>(), [(claimed[1].id, 3)]);

        // A new lease holder takes over what a crashed one had claimed.
        assert_eq!(s.release_outbox_claims(t + Duration::minutes(9)).await.unwrap(), 1);
        let taken = s.claim_outbox(t + Duration::minutes(9), t + Duration::minutes(14), 10).await.unwrap();
        assert_eq!(taken.iter().map(|c| (c.id, c.attempts)).collect::<Vec<_>>(), [(claimed[1].id, 4)]);
        let all = s.list_outbox(&OutboxQuery::default()).await.unwrap();
        assert_eq!(all.total, 3);
        let by = |st: &str| all.items.iter().filter(|i| i.status.as_str() == st).count();
        assert_eq!((by("delivered"), by("failed"), by("sending")), (1, 1, 1));
        let failed =
            s.list_outbox(&OutboxQuery { status: Some(OutboxStatus::Failed), ..Default::default() }).await.unwrap();
        assert_eq!(failed.items[0].last_error.as_deref(), Some("invalid phone"));
        assert_eq!(failed.items[0].payload["to"], "254712000001");

        // Customers expiring in a window, paged by id.
        for (i, days) in [(1, 1), (2, 2), (3, 3), (4, 5)] {
            let mut c = customer(&format!("exp{i}"), "Expiring", &format!("071200070{i}"));
            c.expires_at = Some(t + Duration::days(days) - Duration::minutes(1));
            s.create_customer(&actor(), c).await.unwrap();
        }
        let names = |v: Vec<Customer>| v.into_iter().map(|c| c.username.to_string()).collect::<Vec<_>>();
        let window = s.customers_expiring(t + Duration::days(1), t + Duration::days(3), 0, 10).await.unwrap();
        assert_eq!(names(window.clone()), ["exp2", "exp3"]);
        let next = s.customers_expiring(t + Duration::days(1), t + Duration::days(3), window[0].id, 10).await.unwrap();
        assert_eq!(names(next), ["exp3"]);
    })
    .await;
}

#[tokio::test]
async fn retention_folds_old_sessions_into_monthly_usage_and_purges_logs() {
    with_store(|s| async move {
        let ev = |id: &str, user: &str, at: DateTime<Utc>, time: i64, octets: i64| AcctEvent {
            unique_id: format!("u-{id}"),
            session_id: id.into(),
            username: user.into(),
            nas_ip: "10.0.0.1".into(),
            at,
            session_time: Some(time),
            input_octets: Some(octets),
            output_octets: Some(octets * 2),
            ..Default::default()
        };
        // Two closed sessions of jane's in November, one of bob's, one still open.
        for (id, user, mins) in [("a", "jane", 0), ("b", "jane", 100), ("c", "bob", 200), ("d", "jane", 300)] {
            s.record_accounting(AcctKind::Start, ev(id, user, t0() + Duration::minutes(mins), 0, 0)).await.unwrap();
        }
        for (id, user, mins) in [("a", "jane", 60), ("b", "jane", 160), ("c", "bob", 260)] {
            s.record_accounting(AcctKind::Stop, ev(id, user, t0() + Duration::minutes(mins), 3600, 1000))
                .await
                .unwrap();
        }
        let cutoff = t0() + Duration::days(1);
        // Batches: one row, then the rest; the open session is never touched.
        assert_eq!(s.fold_old_sessions(cutoff, 1).await.unwrap(), 1);
        assert_eq!(s.fold_old_sessions(cutoff, 100).await.unwrap(), 2);
        assert_eq!(s.fold_old_sessions(cutoff, 100).await.unwrap(), 0);
        assert_eq!(s.open_session_count("jane").await.unwrap(), 1);
        let jane = s.monthly_usage("jane").await.unwrap();
        assert_eq!(jane.len(), 1);
        assert_eq!(
            (
                jane[0].month.as_str(),
                jane[0].sessions,
                jane[0].session_time,
                jane[0].input_octets,
                jane[0].output_octets
            ),
            ("2026-11", 2, 7200, 2000, 4000)
        );
        assert_eq!(s.monthly_usage("bob").await.unwrap()[0].sessions, 1);

        // Post-auth log and flagged callbacks older than the cutoff go; newer stay.
        let pa = |at| PostAuth {
            username: "jane".into(),
            reply: "Access-Accept".into(),
            reason: None,
            router_id: None,
            nas_ip: None,
            calling_station_id: None,
            at,
        };
        s.record_post_auth(vec![pa(t0()), pa(t0()), pa(t0() + Duration::days(2))]).await.unwrap();
        assert_eq!(s.purge_post_auth(cutoff, 100).await.unwrap(), 2);
        assert_eq!(s.list_post_auth(&PostAuthQuery::default()).await.unwrap().total, 1);
        let flag = |at| Actor { admin_id: None, username: "mpesa-callback".into(), ip: None, at };
        for at in [t0(), t0() + Duration::days(2)] {
            s.record_event(&flag(at), "payment.callback_flagged", "payment", None, serde_json::json!({"reason": "x"}))
                .await
                .unwrap();
        }
        s.record_event(&flag(t0()), "other.event", "payment", None, serde_json::json!({})).await.unwrap();
        assert_eq!(s.purge_audit_action("payment.callback_flagged", cutoff, 100).await.unwrap(), 1);
        let q = AuditQuery { page: 1, per_page: 50, ..Default::default() };
        let left: Vec<String> = s.list_audit(&q).await.unwrap().items.into_iter().map(|e| e.action).collect();
        assert!(left.contains(&"other.event".to_string()), "{left:?}");
        assert_eq!(left.iter().filter(|a| *a == "payment.callback_flagged").count(), 1);
    })
    .await;
}

#[tokio::test]
async fn credit_is_kept_and_pays_the_next_period_at_expiry() {
    use broadnet_domain::PaymentProvider;
    with_store(|s| async move {
        let pkg = s.create_package(&actor(), package("Monthly")).await.unwrap(); // KES 1,500, 30 days
        let now = t0();
        let mut c = customer("saver", "Saver One", "0712000601");
        c.package_id = Some(pkg.id);
        c.status = CustomerStatus::AwaitingPayment;
        c.expires_at = None;
        let cust = s.create_customer(&actor(), c).await.unwrap();
        let pay = |minor: i64, receipt: &str| {
            let (s, receipt) = (s.clone(), receipt.to_string());
            async move {
                let p = s
                    .create_payment(NewPayment {
                        customer_id: cust.id,
                        package_id: pkg.id,
                        provider: PaymentProvider::Cash,
                        amount: Money::from_minor(minor).unwrap(),
                        currency: "KES".into(),
                        phone: None,
                        checkout_request_id: None,
                        merchant_request_id: None,
                        account_reference: None,
                        initiated_by_admin_id: None,
                        created_at: now,
                    })
                    .await
                    .unwrap();
                let c = Completion {
                    payment_id: p.id,
                    provider_receipt: receipt,
                    amount: p.amount,
                    phone: None,
                    result_desc: "cash".into(),
                    at: now,
                    provider_confirmed: false,
                };
                match s.complete_payment(c).await.unwrap() {
                    CompleteOutcome::Completed { renewal, .. } => renewal,
                    other => panic!("{other:?}"),
                }
            }
        };
        // 4,000 buys two periods of 1,500 and leaves 1,000 of credit.
        let r = pay(400_000, "C-1").await;
        assert_eq!((r.periods, r.balance_after.minor()), (2, 100_000));
        let c = s.get_customer(cust.id).await.unwrap();
        assert_eq!((c.status, c.balance.minor()), (CustomerStatus::Active, 100_000));
        assert_eq!(c.expires_at, Some(now + Duration::days(60)));
        let inv = s.list_payments(&PaymentQuery::default()).await.unwrap().items[0].id;
        let inv = s.get_invoice_for_payment(inv).await.unwrap();
        assert_eq!((inv.periods, inv.applied.minor(), inv.balance_after.minor()), (2, 300_000, 100_000));

        // The package gets cheaper: at expiry the credit pays the next period itself.
        let mut cheaper = package("Monthly");
        cheaper.price = Money::from_minor(100_000).unwrap();
        s.update_package(&actor(), pkg.id, cheaper).await.unwrap();
        let at = now + Duration::days(60);
        let expired = s.expire_customers(at, 100).await.unwrap();
        assert!(expired.is_empty(), "renewed from credit, not expired: {expired:?}");
        let c = s.get_customer(cust.id).await.unwrap();
        assert_eq!(
            (c.status, c.balance.minor(), c.expires_at),
            (CustomerStatus::Active, 0, Some(at + Duration::days(30)))
        );
        let outbox = s.list_outbox(&OutboxQuery::default()).await.unwrap();
        assert!(outbox.items.iter().any(|o| o.kind == OutboxKind::CustomerRenewed), "{:?}", outbox.items);
        // With no credit left, the next expiry is an expiry.
        let expired = s.expire_customers(at + Duration::days(30), 100).await.unwrap();
        assert_eq!(expired.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn an_unmatched_payment_is_queued_once_and_assigned_once() {
    use broadnet_domain::PaymentProvider;
    with_store(|s| async move {
        let pkg = s.create_package(&actor(), package("Monthly")).await.unwrap();
        let mut c = customer("claimer", "Claimer One", "0712000611");
        c.package_id = Some(pkg.id);
        c.status = CustomerStatus::AwaitingPayment;
        c.expires_at = None;
        let cust = s.create_customer(&actor(), c).await.unwrap();
        let new = NewUnmatched {
            provider: PaymentProvider::Mpesa,
            receipt: "RKU0000001".into(),
            amount: Money::from_minor(150_000).unwrap(),
            phone: Some("2547 ***** 611".into()),
            payer_name: Some("CLAIMER".into()),
            account_reference: Some("claimr".into()),
            reason: "no customer with account \"claimr\"".into(),
            payment_id: None,
            at: t0(),
        };
        let a = s.record_unmatched(new.clone()).await.unwrap();
        let b = s.record_unmatched(new).await.unwrap();
        assert_eq!(a.id, b.id, "the same receipt is queued once");
        assert_eq!(s.list_unmatched(&UnmatchedQuery::default()).await.unwrap().total, 1);

        // Eight assignments at once: one applies the money.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = s.clone();
            let assignment = Assignment { unmatched_id: a.id, customer_id: cust.id, package_id: None, note: None };
            tasks.push(tokio::spawn(async move { s.assign_unmatched(&actor(), assignment).await.unwrap() }));
        }
        let mut assigned = 0;
        for t in tasks {
            match t.await.unwrap() {
                AssignOutcome::Assigned { outcome, unmatched } => {
                    assigned += 1;
                    let CompleteOutcome::Completed { renewal, .. } = *outcome else { panic!("{outcome:?}") };
                    assert_eq!((renewal.periods, unmatched.status), (1, UnmatchedStatus::Assigned));
                }
                AssignOutcome::AlreadyResolved { unmatched } => assert_eq!(unmatched.status, UnmatchedStatus::Assigned),
            }
        }
        assert_eq!(assigned, 1);
        let c = s.get_customer(cust.id).await.unwrap();
        assert_eq!((c.status, c.expires_at), (CustomerStatus::Active, Some(t0() + Duration::days(30))));
        let p = s.find_payment_by_receipt("RKU0000001").await.unwrap();
        assert_eq!(p.customer_id, Some(cust.id));
        assert_eq!(s.list_payments(&PaymentQuery::default()).await.unwrap().total, 1, "one payment made of it");
    })
    .await;
}

#[tokio::test]
async fn dashboard_counts_by_status_channel_outcome_and_period() {
    use broadnet_domain::{PaymentProvider, PaymentStatus};
    with_store(|s| async move {
        let now = t0() + Duration::hours(4); // 12:00 UTC on 1 November
        let pkg = s.create_package(&actor(), package("Monthly")).await.unwrap();
        let mut soon = customer("soon", "Soon Expiring", "0712000701");
        soon.expires_at = Some(now + Duration::days(2));
        s.create_customer(&actor(), soon).await.unwrap();
        let mut later = customer("later", "Later", "0712000702");
        later.expires_at = Some(now + Duration::days(20));
        later.created_at = t0() - Duration::days(20); // in October
        s.create_customer(&actor(), later).await.unwrap();
        let mut gone = customer("gone", "Gone", "0712000703");
        gone.status = CustomerStatus::Expired;
        gone.expires_at = Some(now - Duration::days(1));
        gone.customer_type = CustomerType::Hotspot;
        s.create_customer(&actor(), gone).await.unwrap();
        let mut waiting = customer("waiting", "Waiting", "0712000704");
        waiting.status = CustomerStatus::AwaitingPayment;
        waiting.expires_at = None;
        s.create_customer(&actor(), waiting).await.unwrap();
        let mut payer = customer("payer", "Payer", "0712000705");
        payer.expires_at = Some(now + Duration::days(200));
        let payer = s.create_customer(&actor(), payer).await.unwrap();

        let pay = |provider: PaymentProvider, key: Option<&str>, minor: i64, at: DateTime<Utc>| {
            let (s, key) = (s.clone(), key.map(str::to_string));
            async move {
                s.create_payment(NewPayment {
                    customer_id: payer.id,
                    package_id: pkg.id,
                    provider,
                    amount: Money::from_minor(minor).unwrap(),
                    currency: "KES".into(),
                    phone: None,
                    checkout_request_id: key,
                    merchant_request_id: None,
                    account_reference: None,
                    initiated_by_admin_id: None,
                    created_at: at,
                })
                .await
                .unwrap()
            }
        };
        let complete = |p: Payment, receipt: &str, at: DateTime<Utc>| {
            let (s, receipt) = (s.clone(), receipt.to_string());
            async move {
                let c = Completion {
                    payment_id: p.id,
                    provider_receipt: receipt,
                    amount: p.amount,
                    phone: None,
                    result_desc: "ok".into(),
                    at,
                    provider_confirmed: false,
                };
                assert!(matches!(s.complete_payment(c).await.unwrap(), CompleteOutcome::Completed { .. }));
            }
        };
        let stk = pay(PaymentProvider::Mpesa, Some("ws_CO_1"), 100_000, now).await;
        complete(stk, "STK1", now).await;
        let cash = pay(PaymentProvider::Cash, None, 150_000, now).await;
        complete(cash, "CASH1", now).await;
        let five_days_ago = now - Duration::days(5);
        let paybill = pay(PaymentProvider::Mpesa, Some("C2B-PB1"), 50_000, five_days_ago).await;
        complete(paybill, "PB1", five_days_ago).await;
        let cancelled = pay(PaymentProvider::Mpesa, Some("ws_CO_2"), 100_000, now).await;
        s.close_payment(cancelled.id, PaymentStatus::Failed, "1032", "Request cancelled by user", now).await.unwrap();
        pay(PaymentProvider::Mpesa, Some("ws_CO_3"), 100_000, now).await; // still waiting

        let ev = |id: &str, user: &str, at: DateTime<Utc>| AcctEvent {
            unique_id: format!("u-{id}"),
            session_id: id.into(),
            username: user.into(),
            nas_ip: "10.0.0.1".into(),
            at,
            ..Default::default()
        };
        s.record_accounting(AcctKind::Start, ev("a", "SOON", now - Duration::hours(2))).await.unwrap();
        s.record_accounting(AcctKind::Start, ev("b", "gone", now - Duration::hours(30))).await.unwrap();
        s.record_accounting(AcctKind::Stop, ev("b", "gone", now - Duration::minutes(90))).await.unwrap();
        s.record_accounting(AcctKind::Start, ev("c", "voucher-x", now - Duration::minutes(10))).await.unwrap();
        let reject = |at: DateTime<Utc>| PostAuth {
            username: "nobody".into(),
            reply: "Access-Reject".into(),
            reason: Some("unknown user".into()),
            router_id: None,
            nas_ip: None,
            calling_station_id: None,
            at,
        };
        s.record_post_auth(vec![reject(now - Duration::minutes(5)), reject(now - Duration::hours(2))]).await.unwrap();

        let hours: Vec<DateTime<Utc>> = (1..=24).rev().map(|h| now - Duration::hours(h)).collect();
        let q = StatsQuery {
            now,
            days: (0..30).rev().map(|d| t0() - Duration::hours(8) - Duration::days(d)).collect(),
            month_start: t0() - Duration::hours(8),
            months: vec![t0() - Duration::hours(8) - Duration::days(31), t0() - Duration::hours(8)],
            hours,
            expiring_until: now + Duration::days(3),
        };
        let st = s.dashboard_stats(&q).await.unwrap();
        let status = |k: &str| st.customers_by_status.iter().find(|(s, _)| s == k).map_or(0, |(_, n)| *n);
        assert_eq!((status("active"), status("expired"), status("awaiting_payment")), (3, 1, 1));
        assert_eq!(st.expiring, 1, "only the one ending within 3 days");
        let online: std::collections::BTreeMap<_, _> = st.online_by_type.iter().cloned().collect();
        assert_eq!(online.get("pppoe"), Some(&1), "the login matches regardless of case");
        assert_eq!(online.get("other"), Some(&1), "a login that is no customer");
        assert_eq!(online.get("hotspot"), None, "the hotspot session stopped");

        let row =
            |p: PaymentProvider, paybill: bool| st.revenue.iter().find(|r| r.provider == p && r.paybill == paybill);
        let stk = row(PaymentProvider::Mpesa, false).expect("STK money");
        assert_eq!(*stk.per_day.last().unwrap(), 100_000, "today");
        assert_eq!(stk.per_day.iter().sum::<i64>(), 100_000, "only completed money counts");
        let pb = row(PaymentProvider::Mpesa, true).expect("paybill money");
        assert_eq!(pb.per_day[24], 50_000, "five days ago");
        assert_eq!(pb.month, 0, "before the month began");
        assert_eq!(row(PaymentProvider::Cash, false).unwrap().month, 150_000);

        let outcome =
            |st_: PaymentStatus| st.stk_today.iter().filter(|(s, _, _)| *s == st_).map(|(_, _, n)| n).sum::<u64>();
        assert_eq!(outcome(PaymentStatus::Completed), 1);
        assert_eq!(outcome(PaymentStatus::Pending), 1);
        let failed: Vec<_> = st.stk_today.iter().filter(|(s, _, _)| *s == PaymentStatus::Failed).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].1.as_deref(), Some("1032"));
        assert_eq!(st.stk_today.iter().map(|(_, _, n)| n).sum::<u64>(), 3, "no paybill or cash payment is a prompt");

        assert_eq!(st.rejects_last_hour, 1);
        // The lists behind the figures: open PPPoE sessions, rejects.
        let q = SessionQuery {
            open_only: true,
            customer_type: Some(CustomerType::Pppoe),
            per_page: 10,
            page: 1,
            ..Default::default()
        };
        let pppoe = s.list_sessions(&q).await.unwrap();
        assert_eq!(pppoe.items.iter().map(|x| x.session_id.as_str()).collect::<Vec<_>>(), ["a"]);
        let q = PostAuthQuery { reply: Some("Access-Reject".into()), per_page: 10, page: 1, ..Default::default() };
        assert_eq!(s.list_post_auth(&q).await.unwrap().total, 2);
        let q = PostAuthQuery { reply: Some("Access-Accept".into()), per_page: 10, page: 1, ..Default::default() };
        assert_eq!(s.list_post_auth(&q).await.unwrap().total, 0);
        assert_eq!(st.new_customers, vec![1, 4], "October, then November");
        // Hour buckets: the 24 hours before noon; "b" was open from 06:00 yesterday to 10:30.
        assert_eq!(st.sessions_per_hour[23], 2, "a and c in the last hour");
        assert_eq!(st.sessions_per_hour[22], 2, "a and b (until 10:30) in 10:00–11:00");
        assert_eq!(st.sessions_per_hour[0], 1, "b alone, 23 hours ago");
    })
    .await;
}

#[tokio::test]
async fn payments_by_date_range_invoices_by_number_or_name_and_outbox_retry() {
    use broadnet_domain::{PaymentProvider, PaymentStatus};
    with_store(|s| async move {
        let pkg = s.create_package(&actor(), package("Monthly")).await.unwrap();
        let mut ids = Vec::new();
        for (i, (user, name)) in [("wanjiku", "Jane Wanjiku"), ("otieno", "Peter OTIENO")].into_iter().enumerate() {
            let mut c = customer(user, name, &format!("071200080{i}"));
            c.package_id = Some(pkg.id);
            let cust = s.create_customer(&actor(), c).await.unwrap();
            // One payment a day: 1 and 2 November.
            let at = t0() + Duration::days(i as i64);
            let p = s
                .create_payment(NewPayment {
                    customer_id: cust.id,
                    package_id: pkg.id,
                    provider: PaymentProvider::Cash,
                    amount: Money::from_minor(150_000).unwrap(),
                    currency: "KES".into(),
                    phone: None,
                    checkout_request_id: None,
                    merchant_request_id: None,
                    account_reference: None,
                    initiated_by_admin_id: None,
                    created_at: at,
                })
                .await
                .unwrap();
            let done = Completion {
                payment_id: p.id,
                provider_receipt: format!("CASH-{}", p.id),
                amount: Money::from_minor(150_000).unwrap(),
                phone: None,
                result_desc: "cash received".into(),
                at,
                provider_confirmed: false,
            };
            assert!(matches!(s.complete_payment(done).await.unwrap(), CompleteOutcome::Completed { .. }));
            ids.push((cust.id, p.id));
        }
        let range = |from: Option<DateTime<Utc>>, before: Option<DateTime<Utc>>| PaymentQuery {
            created_from: from,
            created_before: before,
            status: Some(PaymentStatus::Completed),
            ..Default::default()
        };
        let found = |q: PaymentQuery| {
            let s = s.clone();
            async move { s.list_payments(&q).await.unwrap().items.iter().map(|p| p.id).collect::<Vec<_>>() }
        };
        assert_eq!(found(range(None, None)).await, [ids[1].1, ids[0].1], "newest first");
        assert_eq!(found(range(Some(t0()), Some(t0() + Duration::days(1)))).await, [ids[0].1], "the first day alone");
        assert_eq!(found(range(Some(t0() + Duration::seconds(1)), None)).await, [ids[1].1], "from is inclusive");
        assert_eq!(found(range(None, Some(t0()))).await, Vec::<i64>::new(), "before is exclusive");

        // Invoices: any case, a part of the name or of the number; the newest first.
        let all = s.list_invoices(&InvoiceQuery::default()).await.unwrap();
        assert_eq!(all.total, 2);
        assert_eq!(all.items[0].payment_id, ids[1].1);
        let search = |text: &str| InvoiceQuery { search: Some(text.into()), ..Default::default() };
        let hits = s.list_invoices(&search("otieno")).await.unwrap();
        assert_eq!((hits.total, hits.items[0].customer_name.as_str()), (1, "Peter OTIENO"));
        let number = all.items[1].number.clone();
        let hits = s.list_invoices(&search(&number.to_lowercase())).await.unwrap();
        assert_eq!(hits.items.iter().map(|i| i.number.clone()).collect::<Vec<_>>(), [number]);
        assert_eq!(s.list_invoices(&search("50%_")).await.unwrap().total, 0, "wildcards are literal");
        let mine = InvoiceQuery { customer_id: Some(ids[0].0), ..Default::default() };
        assert_eq!(s.list_invoices(&mine).await.unwrap().items[0].payment_id, ids[0].1);

        // Retry: a failed entry is due again; a delivered one is left alone.
        let entry = |key: &str| NewOutbox {
            kind: OutboxKind::Sms,
            payload: serde_json::json!({"to": "+254712000800", "message": "hi"}),
            dedupe_key: Some(key.into()),
            at: t0(),
        };
        s.enqueue(entry("retry:a")).await.unwrap();
        s.enqueue(entry("retry:b")).await.unwrap();
        let claimed = s.claim_outbox(t0(), t0() + Duration::minutes(5), 10).await.unwrap();
        let by_key = |k: &str| claimed.iter().find(|i| i.dedupe_key.as_deref() == Some(k)).unwrap().id;
        let (failed, delivered) = (by_key("retry:a"), by_key("retry:b"));
        s.finish_outbox(failed, OutboxResult::Failed { error: "gateway said no".into() }, t0()).await.unwrap();
        s.finish_outbox(delivered, OutboxResult::Delivered, t0()).await.unwrap();
        let later = t0() + Duration::hours(1);
        let again = s.retry_outbox(failed, later).await.unwrap();
        assert_eq!((again.status, again.next_attempt_at), (OutboxStatus::Pending, later));
        assert_eq!(again.last_error.as_deref(), Some("gateway said no"), "the last error is kept until the next try");
        let due = s.claim_outbox(later, later + Duration::minutes(5), 10).await.unwrap();
        assert!(due.iter().any(|i| i.id == failed), "due again: {due:?}");
        assert!(due.iter().all(|i| i.id != delivered));
        assert!(matches!(s.retry_outbox(delivered, later).await, Err(StoreError::InUse(_))));
        assert!(matches!(s.retry_outbox(999_999, later).await, Err(StoreError::NotFound)));
    })
    .await;
}

#[tokio::test]
async fn job_runs_are_recorded_with_their_lease_and_last_error() {
    with_store(|s| async move {
        let t = t0();
        assert!(s.list_jobs().await.unwrap().is_empty());
        assert!(s.try_lease("expiry", "node-a", t, t + Duration::seconds(90)).await.unwrap());
        let run = |at: DateTime<Utc>, error: Option<&str>| JobRun {
            name: "expiry".into(),
            holder: "node-a".into(),
            at,
            next_at: at + Duration::seconds(60),
            error: error.map(str::to_string),
        };
        s.record_job_run(&run(t, Some("database is locked"))).await.unwrap();
        let jobs = s.list_jobs().await.unwrap();
        assert_eq!(jobs.len(), 1);
        let j = &jobs[0];
        assert_eq!((j.name.as_str(), j.holder.as_deref()), ("expiry", Some("node-a")));
        assert_eq!(j.lease_until, Some(t + Duration::seconds(90)));
        assert_eq!((j.last_run_at, j.last_run_ok), (Some(t), Some(false)));
        assert_eq!(j.last_error.as_deref(), Some("database is locked"));
        // A later good run: the error and its time stay, the run is marked ok.
        let later = t + Duration::seconds(60);
        s.record_job_run(&run(later, None)).await.unwrap();
        let j = s.list_jobs().await.unwrap().remove(0);
        assert_eq!(
            (j.last_run_at, j.last_run_ok, j.next_run_at),
            (Some(later), Some(true), Some(later + Duration::seconds(60)))
        );
        assert_eq!((j.last_error.as_deref(), j.last_error_at), (Some("database is locked"), Some(t)));
        // A job that ran but holds no lease row yet is listed too.
        s.record_job_run(&JobRun { name: "outbox".into(), ..run(t, None) }).await.unwrap();
        let names: Vec<String> = s.list_jobs().await.unwrap().into_iter().map(|j| j.name).collect();
        assert_eq!(names, ["expiry", "outbox"]);
    })
    .await;
}

fn voucher_batch(package_id: i64, codes: &[&str], price_minor: i64) -> NewVoucherBatch {
    use broadnet_domain::{VoucherCharset, VoucherMode, VoucherValidity};
    NewVoucherBatch {
        name: "Shop A".into(),
        package_id,
        prefix: "".into(),
        code_length: 8,
        charset: VoucherCharset::Digits,
        mode: VoucherMode::Code,
        validity: VoucherValidity::FirstUse,
        valid_until: None,
        max_devices: 1,
        price: Money::from_minor(price_minor).unwrap(),
        codes: codes.iter().map(|c| (c.to_string(), None)).collect(),
        created_at: t0(),
    }
}

#[tokio::test]
async fn a_voucher_batch_is_made_counted_listed_and_revoked() {
    use broadnet_domain::VoucherStatus;
    with_store(|s| async move {
        let pkg = s.create_package(&actor(), package("Day pass")).await.unwrap();
        let b = s
            .create_voucher_batch(&actor(), voucher_batch(pkg.id, &["22334455", "22334466", "99887766"], 5000))
            .await
            .unwrap();
        assert_eq!((b.quantity, b.price.minor(), b.created_by.as_str()), (3, 5000, "tester"));
        let taken = s.existing_voucher_codes(&["22334455".into(), "77777777".into()]).await.unwrap();
        assert_eq!(taken, vec!["22334455".to_string()]);
        // A customer's username is taken too, whatever its case.
        s.create_customer(&actor(), customer("kibera7", "Kibera Seven", "0712000888")).await.unwrap();
        let taken = s.existing_voucher_codes(&["KIBERA7".into(), "KIBERA8".into()]).await.unwrap();
        assert_eq!(taken, vec!["KIBERA7".to_string()]);
        // A batch reusing a taken code is refused whole.
        let clash = s.create_voucher_batch(&actor(), voucher_batch(pkg.id, &["55555555", "99887766"], 5000)).await;
        assert!(matches!(clash, Err(StoreError::Conflict(ref f)) if f == "code"), "{clash:?}");
        assert!(s.existing_voucher_codes(&["55555555".into()]).await.unwrap().is_empty(), "nothing of it was kept");

        let v = s.get_voucher_by_code("22334466").await.unwrap();
        assert_eq!(
            (v.status, v.batch_id, v.price.minor(), v.max_devices),
            (VoucherStatus::Unused, Some(b.id), 5000, 1)
        );
        assert!(matches!(s.activate_voucher("22334466", t0()).await.unwrap(), VoucherActivation::Activated(_)));
        let revoked = s.revoke_voucher(&actor(), v.id).await.unwrap();
        assert_eq!(revoked.status, VoucherStatus::Revoked);
        assert!(matches!(s.revoke_voucher(&actor(), v.id).await, Err(StoreError::InUse(_))));

        let page = s
            .list_vouchers(&VoucherQuery { batch_id: Some(b.id), code: Some("2233".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(page.items.iter().map(|v| v.code.as_str()).collect::<Vec<_>>(), ["22334455", "22334466"]);
        let list = s.list_voucher_batches(1, 50).await.unwrap();
        assert_eq!(list.total, 1);
        let sum = &list.items[0];
        assert_eq!(sum.package_name, "Day pass");
        assert_eq!((sum.count(VoucherStatus::Unused), sum.count(VoucherStatus::Revoked), sum.sold()), (2, 1, 0));

        assert_eq!(s.revoke_voucher_batch(&actor(), b.id).await.unwrap(), 2);
        let sum = s.get_voucher_batch(b.id).await.unwrap();
        assert_eq!(sum.count(VoucherStatus::Revoked), 3);
        assert!(sum.batch.revoked_at.is_some());
        assert!(matches!(s.activate_voucher("99887766", t0()).await.unwrap(), VoucherActivation::NotUsable(_)));
        let audit = s.list_audit(&AuditQuery { per_page: 50, ..Default::default() }).await.unwrap();
        for action in ["voucher_batch.create", "voucher.revoke", "voucher_batch.revoke"] {
            assert!(audit.items.iter().any(|e| e.action == action), "{action} audited");
        }
    })
    .await;
}

#[tokio::test]
async fn a_voucher_is_first_used_once_however_many_routers_ask_at_once() {
    use broadnet_domain::{PaymentProvider, VoucherStatus, VoucherValidity};
    with_store(|s| async move {
        let pkg = s.create_package(&actor(), package("Day pass")).await.unwrap();
        s.create_voucher_batch(&actor(), voucher_batch(pkg.id, &["34567834"], 5000)).await.unwrap();
        let at = t0() + Duration::hours(1);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move { s.activate_voucher("34567834", at).await.unwrap() }));
        }
        let mut activated = 0;
        for t in tasks {
            match t.await.unwrap() {
                VoucherActivation::Activated(v) => {
                    activated += 1;
                    assert_eq!((v.used_at, v.expires_at), (Some(at), Some(at + Duration::minutes(43_200))));
                }
                VoucherActivation::AlreadyActive(v) => assert_eq!(v.status, VoucherStatus::Active),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(activated, 1);
        let sales = s
            .list_payments(&PaymentQuery { provider: Some(PaymentProvider::Voucher), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(sales.total, 1, "one sale recorded");
        assert_eq!((sales.items[0].amount.minor(), sales.items[0].completed_at), (5000, Some(at)));

        // A fixed-date batch past its date never starts.
        let mut fixed = voucher_batch(pkg.id, &["45674567"], 5000);
        fixed.validity = VoucherValidity::Fixed;
        fixed.valid_until = Some(t0() + Duration::minutes(30));
        s.create_voucher_batch(&actor(), fixed).await.unwrap();
        let late = s.activate_voucher("45674567", at).await.unwrap();
        assert!(matches!(late, VoucherActivation::NotUsable(ref v) if v.status == VoucherStatus::Expired), "{late:?}");
        assert!(matches!(s.activate_voucher("00000000", at).await, Err(StoreError::NotFound)));
        let id = s.get_voucher_by_code("34567834").await.unwrap().id;
        assert!(s.set_voucher_status(id, VoucherStatus::Active, VoucherStatus::UsedUp, at).await.unwrap());
        assert!(!s.set_voucher_status(id, VoucherStatus::Active, VoucherStatus::UsedUp, at).await.unwrap(), "guarded");
        assert_eq!(s.get_voucher_by_code("34567834").await.unwrap().status, VoucherStatus::UsedUp);
    })
    .await;
}

fn mac(s: &str) -> broadnet_domain::Mac {
    broadnet_domain::Mac::parse(s).unwrap()
}

#[tokio::test]
async fn devices_take_free_slots_and_eight_racing_for_the_last_one_bind_once() {
    with_store(|s| async move {
        let at = t0();
        let b = |u: &'static str, m: &'static str, max: u32| {
            let s = s.clone();
            async move { s.bind_device(u, &mac(m), max, at).await.unwrap() }
        };
        assert_eq!(b("Hot1", "AA:00:00:00:00:01", 3).await, BindOutcome::Bound { slot: 1 });
        assert_eq!(b("hot1", "aa-00-00-00-00-02", 3).await, BindOutcome::Bound { slot: 2 });
        // The same MAC in any notation, the account in any case: already bound.
        assert_eq!(b("HOT1", "aa0000000001", 3).await, BindOutcome::AlreadyBound);
        assert_eq!(s.device_account(&mac("AA:00:00:00:00:02")).await.unwrap().as_deref(), Some("hot1"));

        // Eight new devices at once for the one free slot: exactly one gets it.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.bind_device("hot1", &mac(&format!("BB:00:00:00:00:0{i}")), 3, at).await.unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        assert_eq!(outcomes.iter().filter(|o| **o == BindOutcome::Bound { slot: 3 }).count(), 1, "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|o| **o == BindOutcome::Full { bound: 3 }).count(), 7, "{outcomes:?}");
        let devices = s.devices_of("Hot1").await.unwrap();
        assert_eq!(devices.iter().map(|d| d.slot).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(devices.iter().all(|d| d.username_key == "hot1"));

        // Moving a MAC to another account frees its slot here.
        assert_eq!(b("other", "AA:00:00:00:00:02", 1).await, BindOutcome::Bound { slot: 1 });
        assert_eq!(s.device_account(&mac("AA:00:00:00:00:02")).await.unwrap().as_deref(), Some("other"));
        assert_eq!(s.devices_of("hot1").await.unwrap().iter().map(|d| d.slot).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(b("hot1", "CC:00:00:00:00:01", 3).await, BindOutcome::Bound { slot: 2 });
        // A full account refuses a new device and changes nothing.
        assert_eq!(b("other", "CC:00:00:00:00:02", 1).await, BindOutcome::Full { bound: 1 });
        assert_eq!(s.device_account(&mac("CC:00:00:00:00:02")).await.unwrap(), None);

        // Release: only from its own account, once; the slot is free again.
        assert!(!s.release_device("other", &mac("CC:00:00:00:00:01")).await.unwrap());
        assert!(s.release_device("HOT1", &mac("CC:00:00:00:00:01")).await.unwrap());
        assert!(!s.release_device("hot1", &mac("CC:00:00:00:00:01")).await.unwrap());
        assert_eq!(s.device_account(&mac("CC:00:00:00:00:01")).await.unwrap(), None);
        assert_eq!(b("hot1", "CC:00:00:00:00:03", 3).await, BindOutcome::Bound { slot: 2 });

        let later = t0() + Duration::hours(2);
        s.touch_device(&mac("CC:00:00:00:00:03"), later).await.unwrap();
        let d = s.devices_of("hot1").await.unwrap().into_iter().find(|d| d.slot == 2).unwrap();
        assert_eq!((d.created_at, d.last_seen_at), (t0(), Some(later)));
    })
    .await;
}

#[tokio::test]
async fn data_used_counts_each_session_once_from_the_allowance_start() {
    use broadnet_domain::PaymentProvider;
    let db = TestDb::new().await;
    let s = SqlStore::open(&db.url).await.unwrap();
    let mut p = package("Bundle 100MB");
    p.data_limit_mb = Some(100);
    let bundle = s.create_package(&actor(), p).await.unwrap();
    let unlimited = s.create_package(&actor(), package("Unlimited")).await.unwrap();
    let now = Utc::now();
    let mut c = customer("Bundled", "Bundle User", "0712000777");
    c.customer_type = CustomerType::Hotspot;
    c.package_id = Some(bundle.id);
    c.expires_at = Some(now + Duration::days(1));
    let cust = s.create_customer(&actor(), c).await.unwrap();
    let mut c = customer("plain", "Plain User", "0712000778");
    c.package_id = Some(unlimited.id);
    s.create_customer(&actor(), c).await.unwrap();
    assert_eq!(s.data_used("plain").await.unwrap(), None, "no data limit");
    assert_eq!(s.data_used("nobody").await.unwrap(), None);

    let ev = |id: &str, user: &str, at: DateTime<Utc>, octets: i64| AcctEvent {
        unique_id: format!("u-{id}"),
        session_id: id.into(),
        username: user.into(),
        nas_ip: "10.0.0.1".into(),
        at,
        session_time: Some(60),
        input_octets: Some(octets),
        output_octets: Some(octets),
        ..Default::default()
    };
    // A session that stopped long before this period: not counted.
    let old = now - Duration::days(40);
    s.record_accounting(AcctKind::Start, ev("old", "Bundled", old, 0)).await.unwrap();
    s.record_accounting(AcctKind::Stop, ev("old", "Bundled", old + Duration::hours(1), 90_000_000)).await.unwrap();
    // Typed in lower case by the customer, retransmitted twice: one session, counted once.
    let t = now - Duration::minutes(10);
    for _ in 0..3 {
        s.record_accounting(AcctKind::Interim, ev("a", "bundled", t, 10_000_000)).await.unwrap();
    }
    // A device of the account logged in by MAC: its sessions count too.
    s.bind_device("bundled", &mac("AA:BB:CC:00:00:01"), 2, now).await.unwrap();
    s.record_accounting(AcctKind::Interim, ev("m", "AA:BB:CC:00:00:01", t, 5_000_000)).await.unwrap();
    let u = s.data_used("BUNDLED").await.unwrap().unwrap();
    assert_eq!((u.limit, u.used, u.left(), u.used_up()), (100_000_000, 30_000_000, 70_000_000, false));
    assert_eq!(s.open_account_sessions("bundled").await.unwrap().len(), 2);

    // A renewal starts a new allowance: what the open sessions used so far is left out.
    let pay = s
        .create_payment(NewPayment {
            customer_id: cust.id,
            package_id: bundle.id,
            provider: PaymentProvider::Mpesa,
            amount: Money::from_minor(150_000).unwrap(),
            currency: "KES".into(),
            phone: Some(Phone::parse("0712000777").unwrap()),
            checkout_request_id: Some("ws_CO_data".into()),
            merchant_request_id: None,
            account_reference: Some("Bundled".into()),
            initiated_by_admin_id: None,
            created_at: now,
        })
        .await
        .unwrap();
    let done = s
        .complete_payment(Completion {
            payment_id: pay.id,
            provider_receipt: "RKTDATA1".into(),
            amount: Money::from_minor(150_000).unwrap(),
            phone: Some(Phone::parse("0712000777").unwrap()),
            result_desc: "ok".into(),
            at: now,
            provider_confirmed: false,
        })
        .await
        .unwrap();
    assert!(matches!(done, CompleteOutcome::Completed { .. }), "{done:?}");
    let u = s.data_used("bundled").await.unwrap().unwrap();
    assert_eq!((u.used, u.start.map(|t| t.timestamp())), (0, Some(now.timestamp())));
    // The sessions go on: only the growth counts, and a repeated interim adds nothing.
    let later = now + Duration::minutes(5);
    for _ in 0..2 {
        s.record_accounting(AcctKind::Interim, ev("a", "bundled", later, 40_000_000)).await.unwrap();
    }
    s.record_accounting(AcctKind::Stop, ev("m", "AA:BB:CC:00:00:01", later, 6_000_000)).await.unwrap();
    let u = s.data_used("bundled").await.unwrap().unwrap();
    assert_eq!(u.used, 2 * 30_000_000 + 2 * 1_000_000);
    assert_eq!(s.open_account_sessions("bundled").await.unwrap().len(), 1);
    // A second completion of the same payment changes nothing (exactly once).
    let again = s
        .complete_payment(Completion {
            payment_id: pay.id,
            provider_receipt: "RKTDATA1".into(),
            amount: Money::from_minor(150_000).unwrap(),
            phone: None,
            result_desc: "ok".into(),
            at: later,
            provider_confirmed: false,
        })
        .await
        .unwrap();
    assert!(!matches!(again, CompleteOutcome::Completed { .. }));
    assert_eq!(s.data_used("bundled").await.unwrap().unwrap().used, 62_000_000);
    s.close().await;
    db.cleanup().await;
}
