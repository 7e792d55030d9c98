//! FreeRADIUS as an alternative to the built-in RADIUS server: the setup script
//! behind "Settings → FreeRADIUS → Download Setup Script".

use crate::{App, AppError, AppResult, Session};
use url::Url;

/// The `sql` module settings for our database, as FreeRADIUS's rlm_sql wants them.
fn sql_module(database_url: &str) -> AppResult<(String, &'static str)> {
    let url = Url::parse(database_url).map_err(|e| AppError::Internal(format!("database URL: {e}")))?;
    let (dialect, package) = match url.scheme() {
        "sqlite" => ("sqlite", ""),
        "postgres" | "postgresql" => ("postgresql", "freeradius-postgresql"),
        "mysql" | "mariadb" => ("mysql", "freeradius-mysql"),
        other => return Err(AppError::Internal(format!("unsupported database scheme {other}"))),
    };
    let connection = if dialect == "sqlite" {
        let raw = database_url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let path = raw.split('?').next().unwrap_or(raw);
        let abs = std::path::absolute(path).map_err(|e| AppError::Internal(format!("database path: {e}")))?;
        format!("\tsqlite {{\n\t\tfilename = \"{}\"\n\t\tbusy_timeout = 5000\n\t}}\n", abs.display())
    } else {
        let host = url.host_str().unwrap_or("127.0.0.1");
        let port = url.port().unwrap_or(if dialect == "mysql" { 3306 } else { 5432 });
        let user = percent(url.username());
        let pass = url.password().map(percent).unwrap_or_default();
        let db = url.path().trim_start_matches('/');
        format!(
            "\tserver = \"{host}\"\n\tport = {port}\n\tlogin = \"{user}\"\n\tpassword = \"{}\"\n\tradius_db = \"{db}\"\n",
            pass.replace('"', "\\\"")
        )
    };
    let module = format!(
        "sql {{\n\
         \tdialect = \"{dialect}\"\n\
         \tdriver = \"rlm_sql_${{dialect}}\"\n\
         {connection}\
         \t# Written by BroadNet Billing. These tables are views over BroadNet's customers,\n\
         \t# packages and routers; change them in BroadNet, not here.\n\
         \tread_clients = yes\n\
         \tclient_table = \"nas\"\n\
         \tacct_table1 = \"radacct\"\n\
         \tacct_table2 = \"radacct\"\n\
         \tpostauth_table = \"radpostauth\"\n\
         \tauthcheck_table = \"radcheck\"\n\
         \tgroupcheck_table = \"radgroupcheck\"\n\
         \tauthreply_table = \"radreply\"\n\
         \tgroupreply_table = \"radgroupreply\"\n\
         \tusergroup_table = \"radusergroup\"\n\
         \tdelete_stale_sessions = yes\n\
         \tgroup_attribute = \"SQL-Group\"\n\
         \tpool {{\n\t\tstart = 5\n\t\tmin = 3\n\t\tmax = 32\n\t\tspare = 5\n\t\tuses = 0\n\t\tretry_delay = 30\n\t\tlifetime = 0\n\t\tidle_timeout = 60\n\t}}\n\
         \t$INCLUDE ${{modconfdir}}/${{.:name}}/main/${{dialect}}/queries.conf\n\
         }}\n"
    );
    Ok((module, package))
}

fn percent(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// The script: configures Debian/Ubuntu FreeRADIUS 3.x (in `$RADDB`, default
/// /etc/freeradius/3.0) to authenticate and account against our database.
pub fn setup_script(database_url: &str, generated_at: &str) -> AppResult<String> {
    let (module, package) = sql_module(database_url)?;
    let driver_check = if package.is_empty() {
        String::new()
    } else {
        format!(
            "if ! ls /usr/lib/freeradius/rlm_sql_*.so 2>/dev/null | grep -q \"{}\"; then\n\
             \techo \"The FreeRADIUS database driver is missing: apt-get install {package}\" >&2\n\texit 1\nfi\n",
            if package.ends_with("postgresql") { "postgresql" } else { "mysql" }
        )
    };
    Ok(format!(
        "#!/bin/sh\n\
         # BroadNet Billing: use FreeRADIUS 3.x instead of the built-in RADIUS server.\n\
         # Generated {generated_at}. It contains the database password: keep it private.\n\
         # Run as root on the FreeRADIUS machine:   sh freeradius-setup.sh\n\
         #   RADDB=/path     FreeRADIUS configuration directory (default /etc/freeradius/3.0)\n\
         #   NO_RESTART=1    do not restart FreeRADIUS afterwards\n\
         # Set RADIUS_ENABLED=false for BroadNet (or give FreeRADIUS other ports) so both do\n\
         # not listen on 1812/1813.\n\
         set -eu\n\
         RADDB=\"${{RADDB:-/etc/freeradius/3.0}}\"\n\
         if [ ! -f \"$RADDB/radiusd.conf\" ]; then\n\
         \techo \"No FreeRADIUS configuration in $RADDB (apt-get install freeradius)\" >&2\n\texit 1\nfi\n\
         {driver_check}\
         [ -f \"$RADDB/mods-available/sql.before-broadnet\" ] || cp \"$RADDB/mods-available/sql\" \"$RADDB/mods-available/sql.before-broadnet\"\n\
         cat > \"$RADDB/mods-available/sql\" <<'BROADNET_SQL_EOF'\n\
         {module}\
         BROADNET_SQL_EOF\n\
         ln -sf ../mods-available/sql \"$RADDB/mods-enabled/sql\"\n\
         # The default site calls \"-sql\" (only if present) in authorize, accounting, session\n\
         # and post-auth: make those calls unconditional.\n\
         [ -f \"$RADDB/sites-available/default.before-broadnet\" ] || cp \"$RADDB/sites-available/default\" \"$RADDB/sites-available/default.before-broadnet\"\n\
         sed -i 's/^\\([[:space:]]*\\)-sql$/\\1sql/' \"$RADDB/sites-available/default\"\n\
         if [ \"${{NO_RESTART:-}}\" != 1 ]; then\n\
         \tif command -v systemctl >/dev/null 2>&1; then systemctl restart freeradius; else service freeradius restart; fi\n\
         fi\n\
         echo \"FreeRADIUS now uses BroadNet's customers. Check with: radtest USER PASSWORD 127.0.0.1 0 SECRET\"\n"
    ))
}

impl App {
    /// Superadmin only: the script carries the database credentials.
    pub fn freeradius_setup_script(&self, s: &Session) -> AppResult<String> {
        s.require_superadmin()?;
        let url = self.freeradius_db.as_deref().ok_or(AppError::NotFound("FreeRADIUS database"))?;
        setup_script(url, &self.now().format("%Y-%m-%d %H:%M UTC").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_for_each_database() {
        let s = setup_script("postgres://bill:p%40ss@db.local:5433/isp", "now").unwrap();
        assert!(s.contains("dialect = \"postgresql\""));
        assert!(s.contains("server = \"db.local\"") && s.contains("port = 5433") && s.contains("password = \"p@ss\""));
        assert!(s.contains("radius_db = \"isp\"") && s.contains("apt-get install freeradius-postgresql"));
        let m = setup_script("mysql://root@127.0.0.1/radius", "now").unwrap();
        assert!(m.contains("dialect = \"mysql\"") && m.contains("port = 3306"));
        let q = setup_script("sqlite:///var/lib/broadnet/broadnet.db?mode=rwc", "now").unwrap();
        assert!(q.contains("filename = \"/var/lib/broadnet/broadnet.db\""));
        assert!(setup_script("redis://x", "now").is_err());
    }
}
