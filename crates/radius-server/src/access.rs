//! Access-Request handling: look the user up, ask [`crate::authorization`] for the decision,
//! queue it for the authentication log (written in batches by one task) and encode the reply.

use broadnet_domain::hotspot::normalise_voucher_code;
use broadnet_domain::{CustomerType, Mac, VoucherStatus};
use broadnet_radius::dict::attr;
use broadnet_radius::{Avp, Code, Packet, encode_response};
use broadnet_store::{
    BindOutcome, Customer, DataUse, DynStore, Package, PostAuth, RadiusClient, StoreResult, Voucher, VoucherActivation,
};
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::authorization::{self, Account, Decision, Input, Secret, VoucherStep};
use crate::{Printable, Server, Stats};

pub(crate) const POST_AUTH_QUEUE: usize = 50_000;
/// A device's last-seen time is written at most this often.
pub(crate) const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(300);
const TOUCHED_MAX: usize = 100_000;
const POST_AUTH_BATCH: usize = 500;

/// Writes the authentication log in batches: one INSERT per batch instead of one
/// transaction per decision, so logging never becomes the bottleneck of auth.
pub(crate) async fn post_auth_writer(
    store: DynStore,
    rx: Option<tokio::sync::mpsc::Receiver<PostAuth>>,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) {
    let Some(mut rx) = rx else { return };
    let mut batch = Vec::with_capacity(POST_AUTH_BATCH);
    loop {
        let stopping = tokio::select! {
            n = rx.recv_many(&mut batch, POST_AUTH_BATCH) => n == 0,
            _ = shutdown.cancelled() => {
                // Write out what is queued, then stop.
                while let Ok(e) = rx.try_recv() {
                    batch.push(e);
                }
                true
            }
        };
        for chunk in std::mem::take(&mut batch).chunks(POST_AUTH_BATCH) {
            if let Err(e) = store.record_post_auth(chunk.to_vec()).await {
                Stats::bump(&stats.errors);
                tracing::error!(error = %e, "cannot write the authentication log");
            }
        }
        if stopping {
            return;
        }
    }
}

/// The account a request is for, as looked up.
enum Found {
    Customer(Box<(Customer, Option<Package>, u64)>),
    Voucher(Box<(Voucher, Option<Package>, u64)>),
}

/// What every decision on one request shares.
struct Ctx<'a> {
    req: &'a Packet,
    client: &'a RadiusClient,
    now: DateTime<Utc>,
    policy: &'a authorization::Policy,
    how_to_pay: &'a str,
    salts: [[u8; 2]; 2],
}

impl<'a> Ctx<'a> {
    fn input<'b>(
        &self,
        account: Option<Account<'b>>,
        secret: Secret<'b>,
        package: Option<&'b Package>,
        open_sessions: u64,
        data: Option<DataUse>,
    ) -> Input<'b>
    where
        'a: 'b,
    {
        Input {
            req: self.req,
            client: self.client,
            account,
            secret,
            package,
            open_sessions,
            data,
            now: self.now,
            policy: self.policy,
            how_to_pay: self.how_to_pay,
            salts: self.salts,
        }
    }
}

/// A decision and what the log should say about how it came about.
struct Outcome {
    decision: Decision,
    /// "MAC login", "voucher activated", …
    note: Option<&'static str>,
}

impl Server {
    pub(crate) async fn authenticate(&self, req: &Packet, client: &RadiusClient, src: SocketAddr) -> Option<Vec<u8>> {
        let now = self.clock.now();
        let username = req.text(attr::USER_NAME).unwrap_or_default();
        let outcome = match self.resolve(req, client, &username, now).await {
            Ok(o) => o,
            Err(e) => {
                // No answer: the NAS retries, or fails over to its second server.
                Stats::bump(&self.stats.errors);
                tracing::error!(error = %e, "RADIUS auth: database error");
                return None;
            }
        };
        let calling = req.text(attr::CALLING_STATION_ID);
        let note = outcome.note.map(|n| format!(", {n}")).unwrap_or_default();
        let (code, attrs, reply, reason) = match outcome.decision {
            Decision::Accept { attrs, method } => {
                Stats::bump(&self.stats.accepts);
                tracing::info!(user = %Printable(&username), router = %Printable(&client.name), method = method.name(), "Access-Accept");
                (Code::AccessAccept, attrs, "Access-Accept", format!("accepted ({}{note})", method.name()))
            }
            Decision::Reject { reason, message, mut attrs } => {
                Stats::bump(&self.stats.rejects);
                tracing::info!(user = %Printable(&username), router = %Printable(&client.name), reason = %Printable(&reason), "Access-Reject");
                if let Some(m) = message {
                    attrs.push(Avp::text(attr::REPLY_MESSAGE, &m));
                }
                let reason = match outcome.note {
                    Some(n) if !reason.starts_with(n) => format!("{reason} ({n})"),
                    _ => reason,
                };
                (Code::AccessReject, attrs, "Access-Reject", reason)
            }
        };
        let entry = PostAuth {
            username: username.clone(),
            reply: reply.into(),
            reason: Some(reason),
            router_id: Some(client.router_id),
            nas_ip: Some(src.ip().to_string()),
            calling_station_id: calling,
            at: now,
        };
        if self.post_auth.try_send(entry).is_err() {
            // The log is behind by a whole queue: keep answering routers, count the gap.
            Stats::bump(&self.stats.post_auth_dropped);
        }
        match encode_response(code, req, &attrs, client.secret.as_bytes(), true) {
            Ok(b) => Some(b),
            Err(e) => {
                Stats::bump(&self.stats.errors);
                tracing::error!(error = %e, "cannot encode RADIUS reply");
                None
            }
        }
    }

    /// The account a User-Name names: a customer, else a voucher with that code.
    async fn find(&self, name: &str) -> StoreResult<Option<Found>> {
        if name.is_empty() {
            return Ok(None);
        }
        if let Some((c, p, n)) = self.store.auth_lookup(name).await? {
            return Ok(Some(Found::Customer(Box::new((c, p, n)))));
        }
        self.find_voucher(name).await
    }

    /// The voucher whose code this is.
    async fn find_voucher(&self, name: &str) -> StoreResult<Option<Found>> {
        let Some(code) = normalise_voucher_code(name) else { return Ok(None) };
        Ok(self.store.voucher_auth_lookup(&code).await?.map(|found| Found::Voucher(Box::new(found))))
    }

    /// A voucher: credentials first, then its state; activated (exactly once, with its
    /// sale) on first use; then decided like a customer on its package.
    async fn voucher(
        &self,
        ctx: &Ctx<'_>,
        found: (Voucher, Option<Package>, u64),
        mac: Option<&Mac>,
    ) -> StoreResult<(Decision, Option<&'static str>, Voucher)> {
        let (v, package, open) = found;
        let mut note = None;
        let step = authorization::voucher_step(&ctx.input(None, Secret::for_voucher(&v, mac), None, 0, None), &v);
        let v = match step {
            VoucherStep::Reject(d) => return Ok((d, None, v)),
            VoucherStep::Expired(d) => {
                self.store.set_voucher_status(v.id, v.status, VoucherStatus::Expired, ctx.now).await?;
                return Ok((d, None, v));
            }
            VoucherStep::Use => v,
            VoucherStep::Activate => match self.store.activate_voucher(&v.code, ctx.now).await? {
                VoucherActivation::Activated(v) => {
                    note = Some("voucher activated");
                    v
                }
                VoucherActivation::AlreadyActive(v) => v,
                VoucherActivation::NotUsable(v) => {
                    // Changed meanwhile (revoked, expired): say why, as for any such voucher.
                    let d = match authorization::voucher_step(
                        &ctx.input(None, Secret::for_voucher(&v, mac), None, 0, None),
                        &v,
                    ) {
                        VoucherStep::Reject(d) | VoucherStep::Expired(d) => d,
                        VoucherStep::Use | VoucherStep::Activate => authorization::voucher_not_usable(),
                    };
                    return Ok((d, None, v));
                }
            },
        };
        let data = match package.as_ref().and_then(|p| p.data_limit_mb) {
            Some(_) => self.store.data_used(&v.code).await?,
            None => None,
        };
        let d = authorization::decide(&ctx.input(
            Some(Account::voucher(&v)),
            Secret::for_voucher(&v, mac),
            package.as_ref(),
            open,
            data,
        ));
        Ok((d, note, v))
    }

    /// Looks up what the decision needs and asks for it; binds the device on an accept.
    async fn resolve(
        &self,
        req: &Packet,
        client: &RadiusClient,
        username: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Outcome> {
        let how_to_pay = self.how_to_pay();
        let mut salts = [[0u8; 2]; 2];
        let r: u16 = rand::random();
        salts[0] = [0x80 | (r as u8 & 0x07), rand::random()];
        salts[1] = [0x88 | (r as u8 & 0x07), rand::random()];
        let ctx = Ctx { req, client, now, policy: &self.cfg.policy, how_to_pay: &how_to_pay, salts };
        let input =
            |account, secret, package, open_sessions, data| ctx.input(account, secret, package, open_sessions, data);
        let mac_login = authorization::mac_login(req);
        let found = match &mac_login {
            Some(mac) => match self.store.device_auth_lookup(mac).await? {
                Some((_, Some(customer))) => Some(Found::Customer(Box::new(customer))),
                // Bound to no customer: a voucher's code.
                Some((key, None)) => self.find_voucher(&key).await?,
                None => None,
            },
            None => self.find(username).await?,
        };
        let mut note = mac_login.as_ref().map(|_| "MAC login");
        let Some(found) = found else {
            // A MAC as User-Name that is no account: no hint, whoever typed it.
            let as_mac =
                Mac::parse(username).ok().filter(|_| authorization::requested_service(req) == CustomerType::Hotspot);
            let d = match (&mac_login, &as_mac) {
                (Some(_), _) => authorization::unknown_device(),
                (None, Some(_)) => authorization::mac_not_this_device(),
                (None, None) => authorization::decide(&input(None, Secret::Password(""), None, 0, None)),
            };
            return Ok(Outcome { decision: d, note });
        };
        let (decision, account, max_devices) = match &found {
            Found::Customer(found) => {
                let (c, p, open) = &**found;
                let data = match p.as_ref().and_then(|p| p.data_limit_mb) {
                    Some(_) => self.store.data_used(c.username.as_str()).await?,
                    None => None,
                };
                let secret = match &mac_login {
                    Some(mac) => Secret::Mac(mac),
                    None => Secret::Password(&c.password),
                };
                let d = authorization::decide(&input(Some(Account::customer(c)), secret, p.as_ref(), *open, data));
                let max = p.as_ref().map(|p| u32::try_from(p.shared_users.max(1)).unwrap_or(1)).unwrap_or(1);
                (d, c.username.as_str().to_string(), max)
            }
            Found::Voucher(found) => {
                let (d, voucher_note, v) = self.voucher(&ctx, (**found).clone(), mac_login.as_ref()).await?;
                if voucher_note.is_some() {
                    note = voucher_note;
                }
                (d, v.code.clone(), v.max_devices.max(1))
            }
        };
        let decision = self.bind_on_accept(req, decision, &account, max_devices, mac_login.is_some(), now).await?;
        Ok(Outcome { decision, note })
    }

    /// Whether to write the device's last-seen time now: at most once per
    /// [`TOUCH_EVERY`] per device, so a busy hotspot does not turn every login into a write.
    fn should_touch(&self, mac: &Mac) -> bool {
        let now = std::time::Instant::now();
        let Ok(mut touched) = self.touched.lock() else { return false };
        if touched.get(mac).is_some_and(|t| now.duration_since(*t) < TOUCH_EVERY) {
            return false;
        }
        if touched.len() >= TOUCHED_MAX {
            touched.retain(|_, t| now.duration_since(*t) < TOUCH_EVERY);
            if touched.len() >= TOUCHED_MAX {
                touched.clear();
            }
        }
        touched.insert(mac.clone(), now);
        true
    }

    /// Every hotspot accept binds the device (Calling-Station-Id) to the account, up to
    /// its maximum; a device that is already bound always passes.
    async fn bind_on_accept(
        &self,
        req: &Packet,
        decision: Decision,
        account: &str,
        max: u32,
        by_mac: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Decision> {
        if !matches!(decision, Decision::Accept { .. })
            || authorization::requested_service(req) != CustomerType::Hotspot
        {
            return Ok(decision);
        }
        let Some(mac) = req.text(attr::CALLING_STATION_ID).and_then(|c| Mac::parse(&c).ok()) else {
            return Ok(decision);
        };
        let seen = if by_mac {
            true
        } else {
            match self.store.bind_device(account, &mac, max, now).await? {
                BindOutcome::AlreadyBound => true,
                BindOutcome::Bound { .. } => false,
                BindOutcome::Full { bound } => return Ok(authorization::too_many_devices(bound)),
            }
        };
        if seen && self.should_touch(&mac) {
            // Last seen is for My account, not for the decision: never make the router wait on it.
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.touch_device(&mac, now).await {
                    tracing::warn!(error = %e, "cannot note when a device was last seen");
                }
            });
        }
        Ok(decision)
    }
}
