//! `broadnet`: the one binary of BroadNet Billing.

use anyhow::Context;
use broadnet::config::{self, Config, Problem};
use broadnet::server;
use broadnet_domain::Role;
use broadnet_store::Actor;
use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "broadnet", version, about = "BroadNet Billing: ISP billing, RADIUS and hotspot platform")]
struct Cli {
    /// The .env file to read (values in the environment win).
    #[arg(long, global = true, default_value = ".env")]
    env_file: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything: API, jobs (migrations are applied first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage admin accounts.
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Benchmarks (not tests): print timings.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Run a simulator as its own server (Safaricom Daraja, Airtel Money, Africa's
    /// Talking, or a MikroTik router speaking the RouterOS API with a terminal on stdin),
    /// to demo and rehearse without accounts or hardware. Point MPESA_BASE_URL /
    /// AIRTEL_BASE_URL / AT_BASE_URL at it.
    Simulate {
        /// mpesa, airtel, sms or mikrotik
        provider: String,
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// Airtel only: where to POST callbacks (Airtel's portal setting).
        #[arg(long)]
        callback_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Create an admin. Prints a generated password unless --password-stdin is given.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "admin", value_parser = ["superadmin", "admin", "viewer"])]
        role: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (ends the admin's sessions). Prints a generated password
    /// unless --password-stdin is given.
    ResetPassword {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the effective configuration (secrets redacted) and every problem found.
    Check,
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Seed customers and time the customer list with a search filter.
    Customers {
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        #[arg(long, default_value_t = 300)]
        runs: usize,
    },
    /// M-Pesa success callbacks over HTTP against pending payments: callbacks per
    /// second and the latency from callback to committed renewal.
    Callbacks {
        #[arg(long, default_value_t = 5_000)]
        count: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Wrong admin logins over HTTP, `concurrency` at a time, while timing RADIUS
    /// Access-Requests to the same server: RADIUS p50/p99 idle and under the flood.
    LoginFlood {
        #[arg(long, default_value_t = 400)]
        logins: usize,
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
    },
    /// Seed an ISP at scale (customers, accounting rows, payments completed through
    /// the real path) and time every admin page in process: p50/p95 server time
    /// and the gzipped weight of each page with its assets.
    Pages {
        #[arg(long, default_value_t = 100_000)]
        customers: u64,
        #[arg(long, default_value_t = 1_000_000)]
        sessions: u64,
        #[arg(long, default_value_t = 200_000)]
        payments: u64,
        #[arg(long, default_value_t = 30)]
        runs: usize,
    },
    /// Time the hotspot portal's pages in process (p50/p95 server time, gzipped weight
    /// with assets) and the waiting screen's poll with `waiting` customers waiting at
    /// once, each polling every 2 s for `rounds` polls.
    Portal {
        #[arg(long, default_value_t = 200)]
        runs: usize,
        #[arg(long, default_value_t = 500)]
        waiting: usize,
        #[arg(long, default_value_t = 10)]
        rounds: usize,
    },
    /// Make voucher batches of `quantity` (10,000, the largest) through the API and
    /// time each: codes drawn, checked against every stored code, written.
    Vouchers {
        #[arg(long, default_value_t = 10_000)]
        quantity: u32,
        #[arg(long, default_value_t = 3)]
        batches: usize,
    },
    /// RADIUS auth throughput by kind of login (PAP, voucher first use, active voucher,
    /// MAC login), each from `--accounts` accounts, `--total` requests, `--inflight` at once.
    RadiusLogins {
        #[arg(long, default_value_t = 2_000)]
        accounts: usize,
        #[arg(long, default_value_t = 20_000)]
        total: usize,
        #[arg(long, default_value_t = 64)]
        inflight: usize,
    },
    /// Seed RADIUS users the way ../bench/freeradius does (userNNNNN / passNNNNN,
    /// 10M/10M, router 127.0.0.1 with secret testing123) and serve RADIUS until
    /// Ctrl-C, for the `radload` generator.
    Radius {
        #[arg(long, default_value_t = 10_000)]
        users: u32,
        #[arg(long, default_value_t = 18140)]
        auth_port: u16,
        #[arg(long, default_value_t = 18141)]
        acct_port: u16,
    },
}

fn init_logging(production: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if production {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn load(env_file: &std::path::Path, generate: bool) -> anyhow::Result<(Config, Vec<Problem>)> {
    let mut vars = config::gather_vars(env_file)?;
    if generate {
        config::fill_generated_secrets(&mut vars).context("keeping generated secrets in DATA_DIR")?;
    }
    Ok(Config::from_vars(&vars))
}

/// Prints problems; returns false when any stops start-up.
fn report(problems: &[Problem]) -> bool {
    let mut ok = true;
    for p in problems {
        if p.fatal {
            eprintln!("config error: {p}");
            ok = false;
        } else {
            tracing::warn!("config: {p}");
        }
    }
    ok
}

fn read_password_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

async fn admin_cmd(cfg: &Config, cmd: AdminCmd) -> anyhow::Result<()> {
    let store = server::open_store(cfg).await?;
    let app = server::build_app(cfg, Arc::new(store.clone()), Arc::new(broadnet_domain::SystemClock));
    let actor = Actor::system("cli", app.now());
    let (username, given) = match &cmd {
        AdminCmd::Create { username, password_stdin, .. } | AdminCmd::ResetPassword { username, password_stdin } => {
            (username.clone(), if *password_stdin { Some(read_password_stdin()?) } else { None })
        }
    };
    let generated = given.is_none();
    let password = match given {
        Some(p) => {
            broadnet_app::auth::check_password_strength(&p).map_err(|e| anyhow::anyhow!("password {e}"))?;
            p
        }
        None => broadnet_app::auth::random_password(16),
    };
    match cmd {
        AdminCmd::Create { role, .. } => {
            broadnet_domain::Username::parse(&username).map_err(|e| anyhow::anyhow!("username {e}"))?;
            let role = Role::parse(&role).map_err(|e| anyhow::anyhow!("role {e}"))?;
            app.create_admin_as(&actor, &username, &password, role, None, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {role} {username:?}");
        }
        AdminCmd::ResetPassword { .. } => {
            let admin = app
                .store
                .get_admin_by_username(&username)
                .await
                .map_err(|_| anyhow::anyhow!("no admin named {username:?}"))?;
            app.set_admin_password(&actor, admin.id, &password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("password of {username:?} changed; their sessions have ended");
        }
    }
    // Only a generated password is printed; one read from stdin is not echoed.
    if generated {
        println!("password: {password}");
    }
    store.close().await;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let env_file = cli.env_file;
    match cli.command {
        Command::Config(ConfigCmd::Check) => {
            let (cfg, problems) = load(&env_file, false)?;
            for (k, v) in cfg.redacted() {
                println!("{k}={v}");
            }
            let fatal = problems.iter().filter(|p| p.fatal).count();
            for p in &problems {
                println!("{} {p}", if p.fatal { "error:" } else { "warning:" });
            }
            println!(
                "{} problem(s), {fatal} fatal{}",
                problems.len(),
                if cfg.is_production() { " (production)" } else { "" }
            );
            Ok(if fatal > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Serve => {
            let (cfg, problems) = load(&env_file, true)?;
            init_logging(cfg.is_production());
            if !report(&problems) {
                eprintln!("refusing to start: fix the configuration above (see .env.example)");
                return Ok(ExitCode::FAILURE);
            }
            server::run(cfg).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let (cfg, problems) = load(&env_file, true)?;
            init_logging(cfg.is_production());
            if !report(&problems) {
                return Ok(ExitCode::FAILURE);
            }
            let store = broadnet_store_sql::SqlStore::connect(cfg.database_url.expose()).await?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                println!("database is up to date");
            }
            for m in applied {
                println!("applied {m}");
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(cmd) => {
            let (cfg, problems) = load(&env_file, true)?;
            init_logging(cfg.is_production());
            if !report(&problems) {
                return Ok(ExitCode::FAILURE);
            }
            admin_cmd(&cfg, cmd).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate { provider, listen, callback_url } => {
            init_logging(false);
            broadnet::simulate::run(&provider, listen, callback_url).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCmd::Radius { users, auth_port, acct_port }) => {
            let (cfg, _) = load(&env_file, true)?;
            init_logging(false);
            broadnet::bench::radius(&cfg, users, auth_port, acct_port).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCmd::RadiusLogins { accounts, total, inflight }) => {
            let (cfg, _) = load(&env_file, true)?;
            init_logging(false);
            let r = broadnet::bench::radius_logins(&cfg, accounts, total, inflight).await?;
            println!("RADIUS logins on {}: {} accounts of each kind, {} in flight", r.backend, r.accounts, r.inflight);
            for m in &r.modes {
                let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
                println!(
                    "  {:<22} {:>7.0} req/s  ({} requests, {} accepted, {} unanswered; p50 {:.2} ms, p99 {:.2} ms)",
                    m.name,
                    m.requests as f64 / m.elapsed.as_secs_f64(),
                    m.requests,
                    m.accepts,
                    m.lost,
                    ms(m.latencies.p50),
                    ms(m.latencies.p99)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCmd::Callbacks { count, concurrency }) => {
            let (cfg, _) = load(&env_file, true)?;
            init_logging(false);
            let r = broadnet::bench::callbacks(&cfg, count, concurrency).await?;
            println!(
                "{} payment callbacks on {}, {} at a time: {:.0} callbacks/s; callback to committed renewal p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                r.callbacks,
                r.backend,
                r.concurrency,
                r.callbacks as f64 / r.elapsed.as_secs_f64(),
                r.p50.as_secs_f64() * 1000.0,
                r.p99.as_secs_f64() * 1000.0,
                r.max.as_secs_f64() * 1000.0
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCmd::LoginFlood { logins, concurrency }) => {
            let (cfg, _) = load(&env_file, true)?;
            init_logging(false);
            let r = broadnet::bench::login_flood(&cfg, logins, concurrency).await?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{} wrong logins on {}, {} at a time, in {:.1} s; statuses {:?}",
                r.logins,
                r.backend,
                r.concurrency,
                r.flood_elapsed.as_secs_f64(),
                r.login_statuses
            );
            for (when, l) in [("idle", &r.idle), ("during the flood", &r.flood)] {
                println!(
                    "RADIUS Access-Request {when}: {} answered, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    l.n,
                    ms(l.p50),
                    ms(l.p99),
                    ms(l.max)
                );
            }
            println!("RADIUS unanswered within 5 s: {}; slowest /health {:.0} ms", r.radius_lost, ms(r.health_max));
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCmd::Pages { customers, sessions, payments, runs }) => {
            let (cfg, _) = load(&env_file, true)?;
            init_logging(false);
            let r = broadnet::bench_pages::pages(&cfg, customers, sessions, payments, runs).await?;
            println!(
                "admin pages on {}: {} customers, {} accounting rows, {} payments; {runs} requests a page",
                r.backend, r.customers, r.sessions, r.payments
            );
            println!(
                "{:<44} {:>6} {:>9} {:>9} {:>10} {:>12}",
                "page", "status", "p50 ms", "p95 ms", "HTML gz", "with assets"
            );
            for p in &r.pages {
                println!(
                    "{:<44} {:>6} {:>9.2} {:>9.2} {:>8.1}KB {:>10.1}KB",
                    p.path,
                    p.status,
                    p.p50.as_secs_f64() * 1000.0,
                    p.p95.as_secs_f64() * 1000.0,
                    p.html_gzip as f64 / 1024.0,
                    p.total_gzip as f64 / 1024.0
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCmd::Portal { runs, waiting, rounds }) => {
            let (cfg, _) = load(&env_file, true)?;
            init_logging(false);
            let r = broadnet::bench_portal::portal(&cfg, runs, waiting, rounds).await?;
            println!("hotspot portal on {}; {runs} requests a page", r.backend);
            println!(
                "{:<44} {:>6} {:>9} {:>9} {:>10} {:>12}",
                "page", "status", "p50 ms", "p95 ms", "HTML gz", "with assets"
            );
            for p in &r.pages {
                println!(
                    "{:<44} {:>6} {:>9.2} {:>9.2} {:>8.1}KB {:>10.1}KB",
                    p.path,
                    p.status,
                    p.p50.as_secs_f64() * 1000.0,
                    p.p95.as_secs_f64() * 1000.0,
                    p.html_gzip as f64 / 1024.0,
                    p.total_gzip as f64 / 1024.0
                );
            }
            println!(
                "waiting-screen poll, {} waiting, {} polls: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                r.waiting,
                r.polls,
                r.poll_p50.as_secs_f64() * 1000.0,
                r.poll_p99.as_secs_f64() * 1000.0,
                r.poll_max.as_secs_f64() * 1000.0
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCmd::Vouchers { quantity, batches }) => {
            let (cfg, _) = load(&env_file, true)?;
            init_logging(false);
            let r = broadnet::bench_vouchers::vouchers(&cfg, quantity, batches).await?;
            let ms: Vec<String> = r.times.iter().map(|t| format!("{:.0} ms", t.as_secs_f64() * 1000.0)).collect();
            let worst = r.times.iter().max().copied().unwrap_or_default();
            println!(
                "voucher batches of {} on {}: {} (slowest {:.2} s)",
                r.quantity,
                r.backend,
                ms.join(", "),
                worst.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCmd::Customers { count, runs }) => {
            let (cfg, _) = load(&env_file, true)?;
            init_logging(false);
            let r = broadnet::bench::customers(&cfg, count, runs).await?;
            println!(
                "customer list with search, {} customers on {}: median {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} requests",
                r.customers,
                r.backend,
                r.median.as_secs_f64() * 1000.0,
                r.p95.as_secs_f64() * 1000.0,
                r.max.as_secs_f64() * 1000.0,
                r.runs
            );
            for (term, median, max) in &r.per_search {
                println!(
                    "  q={term:<16} median {:.2} ms, max {:.2} ms",
                    median.as_secs_f64() * 1000.0,
                    max.as_secs_f64() * 1000.0
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
