//! Admin accounts: only a superadmin manages them, and the last active superadmin
//! can be neither demoted, disabled nor deleted.

use crate::input::{Fields, Input, Unknown};
use crate::{App, AppError, AppResult, Session, auth};
use broadnet_domain::Role;
use broadnet_store::{Actor, Admin, AdminPatch, NewAdmin};
use serde::Deserialize;

/// A new admin account: `username`, `password` and `role` are required.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NewAdminRequest {
    pub username: Input,
    pub password: Input,
    /// `superadmin`, `admin` or `viewer`.
    pub role: Input,
    pub full_name: Input,
    pub email: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A change to an admin account: only the fields sent change. A new password or
/// `active: false` ends that admin's sessions.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AdminPatchRequest {
    pub password: Input,
    pub role: Input,
    pub active: Input,
    pub full_name: Input,
    pub email: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

fn parse_admin_username(s: &str) -> Result<String, broadnet_domain::ParseError> {
    broadnet_domain::Username::parse(s).map(String::from)
}

fn password(s: &str) -> Result<String, broadnet_domain::ParseError> {
    auth::check_password_strength(s).map(|_| s.to_string())
}

impl App {
    /// Creates an admin; used by the API (with a session) and the CLI (system actor).
    pub async fn create_admin_as(
        &self,
        actor: &Actor,
        username: &str,
        plain_password: &str,
        role: Role,
        full_name: Option<String>,
        email: Option<String>,
    ) -> AppResult<Admin> {
        let hash = self.passwords.hash(plain_password).await?;
        self.store
            .create_admin(
                actor,
                NewAdmin { username: username.to_string(), password_hash: hash, full_name, email, role },
            )
            .await
            .map_err(AppError::from_store("admin"))
    }

    /// Sets a new password and ends every session of that admin.
    pub async fn set_admin_password(&self, actor: &Actor, id: i64, plain_password: &str) -> AppResult<Admin> {
        let hash = self.passwords.hash(plain_password).await?;
        let patch = AdminPatch { password_hash: Some(hash), end_sessions: true, ..Default::default() };
        self.store.update_admin(actor, id, patch).await.map_err(AppError::from_store("admin"))
    }

    pub async fn create_admin(&self, s: &Session, req: NewAdminRequest) -> AppResult<Admin> {
        s.require_superadmin()?;
        let mut f = Fields::new(&req.unknown);
        let u = f.parsed("username", &req.username, parse_admin_username);
        let username = f.required("username", u);
        let p = f.parsed("password", &req.password, password);
        let pw = f.required("password", p);
        let r = f.parsed("role", &req.role, Role::parse);
        let role = f.required("role", r);
        let full_name = f.line("full_name", &req.full_name, 128).value();
        let email = f.text("email", &req.email, 255).value();
        f.finish()?;
        let (Some(username), Some(pw), Some(role)) = (username, pw, role) else {
            return Err(AppError::Internal("admin fields missing after validation".into()));
        };
        self.create_admin_as(&s.actor(self.now()), &username, &pw, role, full_name, email).await
    }

    pub async fn update_admin(&self, s: &Session, id: i64, req: AdminPatchRequest) -> AppResult<Admin> {
        s.require_superadmin()?;
        self.store.get_admin(id).await.map_err(AppError::from_store("admin"))?;
        let mut f = Fields::new(&req.unknown);
        let p = f.parsed("password", crate::input::write_only(&req.password), password);
        let new_password = f.not_null("password", p);
        let r = f.parsed("role", &req.role, Role::parse);
        let role = f.not_null("role", r);
        let a = f.boolean("active", &req.active);
        let active = f.not_null("active", a);
        let full_name = f.line("full_name", &req.full_name, 128).patch();
        let email = f.text("email", &req.email, 255).patch();
        f.finish()?;
        // The store refuses (atomically) a change that leaves no active superadmin.
        let now = self.now();
        let mut patch = AdminPatch { full_name, email, role, active, ..Default::default() };
        if let Some(pw) = new_password {
            patch.password_hash = Some(self.passwords.hash(&pw).await?);
            patch.end_sessions = true;
        } else if active == Some(false) {
            patch.end_sessions = true;
        }
        self.store.update_admin(&s.actor(now), id, patch).await.map_err(AppError::from_store("admin"))
    }

    pub async fn list_admins(&self, s: &Session) -> AppResult<Vec<Admin>> {
        s.require_superadmin()?;
        Ok(self.store.list_admins().await?)
    }

    pub async fn get_admin(&self, s: &Session, id: i64) -> AppResult<Admin> {
        s.require_superadmin()?;
        self.store.get_admin(id).await.map_err(AppError::from_store("admin"))
    }

    pub async fn delete_admin(&self, s: &Session, id: i64) -> AppResult<()> {
        s.require_superadmin()?;
        let current = self.store.get_admin(id).await.map_err(AppError::from_store("admin"))?;
        if current.id == s.admin.id {
            return Err(AppError::InUse("you cannot delete your own account".into()));
        }
        // The store refuses (atomically) to delete the last active superadmin.
        self.store.delete_admin(&s.actor(self.now()), id).await.map_err(AppError::from_store("admin"))
    }
}

/// "Change my password": the current one, the new one twice.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ChangePassword {
    pub current: Input,
    pub new: Input,
    pub confirm: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl App {
    /// Any admin changes their own password: the current one must match, the new one
    /// must be strong enough and typed twice alike. Every session of the admin ends
    /// (this one too), so they log in again with it.
    pub async fn change_own_password(&self, s: &Session, req: ChangePassword) -> AppResult<()> {
        let mut f = Fields::new(&req.unknown);
        // Not trimmed: spaces belong to a passphrase.
        let raw = |i: &Input| match i {
            Input::Text(t) => t.clone(),
            _ => String::new(),
        };
        let (current, new, confirm) = (raw(&req.current), raw(&req.new), raw(&req.confirm));
        if current.is_empty() {
            f.error("current", "is required");
        }
        if new.is_empty() {
            f.error("new", "is required");
        } else if let Err(e) = auth::check_password_strength(&new) {
            f.error("new", e.to_string());
        } else if new == current {
            f.error("new", "must differ from the current password");
        }
        if confirm != new && !new.is_empty() {
            f.error("confirm", "does not match the new password");
        }
        let admin = self.store.get_admin(s.admin.id).await.map_err(AppError::from_store("admin"))?;
        if !current.is_empty() && !self.passwords.verify(&current, &admin.password_hash).await? {
            f.error("current", "is not your current password");
        }
        f.finish()?;
        self.set_admin_password(&s.actor(self.now()), admin.id, &new).await?;
        tracing::info!(admin = %admin.username, "admin changed their own password");
        Ok(())
    }
}
