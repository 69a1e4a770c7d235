//! Attempt limits on everything an attacker could guess: passwords (login), invitation and
//! enrollment codes, and registrations. Each limit is a token bucket per key: a burst of `n`
//! attempts, then one more every `window / n`. The limits are per instance: behind a load
//! balancer each instance limits on its own.
//!
//! Login is limited per (account, address) pair, per client address, and by a higher ceiling
//! per account. The ceiling does not apply from an address the account signed in from lately,
//! so an attacker elsewhere who exhausts it does not lock the owner out at home. Code checks are
//! limited per account and per address; a code that works gives its attempt back, so only
//! wrong guesses count. IPv6 addresses are counted per /64, the block one subscriber gets.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cairn_shared::UserId;

use crate::config::Settings;

/// Which limit an attempt ran into (also the `limit` label of `cairn_rate_limited_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Login attempts on one account from one address.
    LoginPerAccountAndAddress,
    /// Login attempts on one account from addresses it has not signed in from lately.
    LoginPerAccount,
    /// Login attempts from one address, whatever the account.
    LoginPerAddress,
    /// Registrations from one address.
    RegistrationPerAddress,
    /// Code guesses (invitation codes) by one account.
    CodePerAccount,
    /// Code guesses (invitation and enrollment codes) from one address.
    CodePerAddress,
}

impl Limit {
    /// Every limit, for metrics.
    pub const ALL: [Limit; 6] = [
        Limit::LoginPerAccountAndAddress,
        Limit::LoginPerAccount,
        Limit::LoginPerAddress,
        Limit::RegistrationPerAddress,
        Limit::CodePerAccount,
        Limit::CodePerAddress,
    ];

    /// The name operators see in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::LoginPerAccountAndAddress => "login_per_account_and_address",
            Limit::LoginPerAccount => "login_per_account",
            Limit::LoginPerAddress => "login_per_address",
            Limit::RegistrationPerAddress => "registration_per_address",
            Limit::CodePerAccount => "code_per_account",
            Limit::CodePerAddress => "code_per_address",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::LoginPerAccountAndAddress | Limit::LoginPerAccount | Limit::LoginPerAddress => {
                "too many sign-in attempts"
            }
            Limit::RegistrationPerAddress => "too many sign-ups from this network",
            Limit::CodePerAccount | Limit::CodePerAddress => "too many wrong codes",
        }
    }
}

/// An attempt refused by a limit, with how long to wait (sent as `Retry-After`).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{}; try again in {}", .limit.what(), wait_in_words(*.wait))]
pub struct RateLimited {
    /// The limit reached.
    pub limit: Limit,
    /// How long until one more attempt is allowed.
    pub wait: Duration,
}

fn wait_in_words(wait: Duration) -> String {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    match seconds {
        0..=1 => "a second".into(),
        2..=59 => format!("{seconds} seconds"),
        60..=119 => "a minute".into(),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// `n` attempts per `window`: a burst of `n`, then one more every `window / n`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Attempts in a burst (and per window).
    pub attempts: u32,
    /// The window.
    pub window: Duration,
}

impl Rate {
    /// `attempts` per `window`.
    pub fn new(attempts: u32, window: Duration) -> Self {
        Self {
            attempts: attempts.max(1),
            window: window.max(Duration::from_millis(1)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One token bucket per key.
#[derive(Debug)]
struct Buckets<K> {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(rate: Rate) -> Self {
        let capacity = f64::from(rate.attempts);
        Self {
            capacity,
            per_second: capacity / rate.window.as_secs_f64(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second).min(self.capacity)
    }

    /// Take one attempt, or say how long until one is available.
    fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.lock();
        let tokens = buckets
            .get(key)
            .map_or(self.capacity, |bucket| self.refilled(*bucket, now));
        if tokens >= 1.0 {
            buckets.insert(
                key.clone(),
                Bucket {
                    tokens: tokens - 1.0,
                    at: now,
                },
            );
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second))
        }
    }

    /// Give back an attempt taken (it did not count: it succeeded, or another limit refused it).
    fn give_back(&self, key: &K, now: Instant) {
        let mut buckets = self.lock();
        if let Some(bucket) = buckets.get_mut(key) {
            bucket.tokens = (self.refilled(*bucket, now) + 1.0).min(self.capacity);
            bucket.at = now;
        }
    }

    /// Drop buckets that are full again, so memory does not grow forever.
    fn forget_full(&self, now: Instant) {
        let capacity = self.capacity;
        self.lock()
            .retain(|_, bucket| self.refilled(*bucket, now) < capacity);
    }
}

/// The key a client address is counted under: IPv4 as is, IPv6 by its /64.
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// How long a successful sign-in makes its address "known" to the account, exempt from the
/// per-account ceiling.
const KNOWN_ADDRESS_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// At most this many (account, address) pairs are remembered as known.
const MAX_KNOWN_ADDRESSES: usize = 100_000;

/// The limits in force, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct LimitRates {
    /// Login attempts per (account, address).
    pub login_per_account_and_address: Rate,
    /// Login attempts per account from addresses it has not signed in from lately.
    pub login_per_account: Rate,
    /// Login attempts per address.
    pub login_per_address: Rate,
    /// Registrations per address.
    pub registration_per_address: Rate,
    /// Wrong codes per account.
    pub code_per_account: Rate,
    /// Wrong codes per address.
    pub code_per_address: Rate,
}

impl LimitRates {
    /// The rates the settings ask for.
    pub fn from_settings(settings: &Settings) -> Self {
        let hour = Duration::from_secs(3600);
        let code_window = Duration::from_secs(settings.code_attempts_window_secs);
        Self {
            login_per_account_and_address: Rate::new(
                settings.login_attempts_per_account_and_address_per_hour,
                hour,
            ),
            login_per_account: Rate::new(settings.login_attempts_per_account_per_hour, hour),
            login_per_address: Rate::new(
                settings.login_attempts_per_address_per_minute,
                Duration::from_secs(60),
            ),
            registration_per_address: Rate::new(settings.registrations_per_address_per_hour, hour),
            code_per_account: Rate::new(settings.code_attempts_per_account, code_window),
            code_per_address: Rate::new(settings.code_attempts_per_address, code_window),
        }
    }
}

/// A login attempt let through; give it back with [`Limits::signed_in`] when the password was
/// right, so only wrong guesses count.
#[derive(Debug)]
#[must_use]
pub struct LoginAttempt {
    username: String,
    address: Option<IpAddr>,
    counted_on_account: bool,
}

/// A code attempt let through; give it back with [`Limits::code_worked`] when the code was right.
#[derive(Debug)]
#[must_use]
pub struct CodeAttempt {
    account: Option<UserId>,
    address: Option<IpAddr>,
}

/// Every attempt limit of one instance.
#[derive(Debug)]
pub struct Limits {
    login_pair: Buckets<(String, IpAddr)>,
    login_account: Buckets<String>,
    login_address: Buckets<IpAddr>,
    registration_address: Buckets<IpAddr>,
    code_account: Buckets<UserId>,
    code_address: Buckets<IpAddr>,
    /// (account, address) pairs with a successful sign-in, and when.
    signed_in_from: Mutex<HashMap<(String, IpAddr), Instant>>,
}

impl Limits {
    /// Limits at these rates.
    pub fn new(rates: LimitRates) -> Self {
        Self {
            login_pair: Buckets::new(rates.login_per_account_and_address),
            login_account: Buckets::new(rates.login_per_account),
            login_address: Buckets::new(rates.login_per_address),
            registration_address: Buckets::new(rates.registration_per_address),
            code_account: Buckets::new(rates.code_per_account),
            code_address: Buckets::new(rates.code_per_address),
            signed_in_from: Mutex::new(HashMap::new()),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<(String, IpAddr), Instant>> {
        self.signed_in_from
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Count one login attempt on `username` (lower case) from `address`.
    pub fn login(
        &self,
        username: &str,
        address: Option<IpAddr>,
    ) -> Result<LoginAttempt, RateLimited> {
        let now = Instant::now();
        let address = address.map(address_key);
        let refused = |limit| move |wait| RateLimited { limit, wait };
        if let Some(address) = address {
            self.login_address
                .take(&address, now)
                .map_err(refused(Limit::LoginPerAddress))?;
            let pair = (username.to_owned(), address);
            if let Err(wait) = self.login_pair.take(&pair, now) {
                self.login_address.give_back(&address, now);
                return Err(refused(Limit::LoginPerAccountAndAddress)(wait));
            }
        }
        let known = address.is_some_and(|address| {
            self.known()
                .get(&(username.to_owned(), address))
                .is_some_and(|at| now.saturating_duration_since(*at) < KNOWN_ADDRESS_FOR)
        });
        if !known && let Err(wait) = self.login_account.take(&username.to_owned(), now) {
            if let Some(address) = address {
                self.login_address.give_back(&address, now);
                self.login_pair
                    .give_back(&(username.to_owned(), address), now);
            }
            return Err(refused(Limit::LoginPerAccount)(wait));
        }
        Ok(LoginAttempt {
            username: username.to_owned(),
            address,
            counted_on_account: !known,
        })
    }

    /// The password was right: the attempt does not count, and its address becomes known.
    pub fn signed_in(&self, attempt: LoginAttempt) {
        let now = Instant::now();
        if attempt.counted_on_account {
            self.login_account.give_back(&attempt.username, now);
        }
        if let Some(address) = attempt.address {
            self.login_address.give_back(&address, now);
            let pair = (attempt.username, address);
            self.login_pair.give_back(&pair, now);
            let mut known = self.known();
            if known.len() < MAX_KNOWN_ADDRESSES || known.contains_key(&pair) {
                known.insert(pair, now);
            }
        }
    }

    /// Count one registration from `address`.
    pub fn registration(&self, address: Option<IpAddr>) -> Result<(), RateLimited> {
        match address {
            Some(address) => self
                .registration_address
                .take(&address_key(address), Instant::now())
                .map_err(|wait| RateLimited {
                    limit: Limit::RegistrationPerAddress,
                    wait,
                }),
            None => Ok(()),
        }
    }

    /// Count one code attempt by `account` (if signed in) from `address`.
    pub fn code(
        &self,
        account: Option<UserId>,
        address: Option<IpAddr>,
    ) -> Result<CodeAttempt, RateLimited> {
        let now = Instant::now();
        let address = address.map(address_key);
        if let Some(address) = address {
            self.code_address
                .take(&address, now)
                .map_err(|wait| RateLimited {
                    limit: Limit::CodePerAddress,
                    wait,
                })?;
        }
        if let Some(account) = account
            && let Err(wait) = self.code_account.take(&account, now)
        {
            if let Some(address) = address {
                self.code_address.give_back(&address, now);
            }
            return Err(RateLimited {
                limit: Limit::CodePerAccount,
                wait,
            });
        }
        Ok(CodeAttempt { account, address })
    }

    /// The code was right: the attempt does not count.
    pub fn code_worked(&self, attempt: CodeAttempt) {
        let now = Instant::now();
        if let Some(account) = attempt.account {
            self.code_account.give_back(&account, now);
        }
        if let Some(address) = attempt.address {
            self.code_address.give_back(&address, now);
        }
    }

    /// Drop state for keys that are back to a full allowance, and old known addresses.
    pub fn forget_idle(&self) {
        let now = Instant::now();
        self.login_pair.forget_full(now);
        self.login_account.forget_full(now);
        self.login_address.forget_full(now);
        self.registration_address.forget_full(now);
        self.code_account.forget_full(now);
        self.code_address.forget_full(now);
        self.known()
            .retain(|_, at| now.saturating_duration_since(*at) < KNOWN_ADDRESS_FOR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(attempts: u32) -> LimitRates {
        let rate = Rate::new(attempts, Duration::from_secs(3600));
        LimitRates {
            login_per_account_and_address: rate,
            login_per_account: Rate::new(attempts * 3, Duration::from_secs(3600)),
            login_per_address: Rate::new(100, Duration::from_secs(60)),
            registration_per_address: rate,
            code_per_account: rate,
            code_per_address: rate,
        }
    }

    #[test]
    fn a_burst_then_a_wait_of_one_refill() {
        let buckets = Buckets::<u8>::new(Rate::new(3, Duration::from_secs(30)));
        let now = Instant::now();
        for _ in 0..3 {
            assert!(buckets.take(&1, now).is_ok());
        }
        let wait = buckets.take(&1, now).err().unwrap_or_default();
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        assert!(buckets.take(&2, now).is_ok(), "other keys are not affected");
        assert!(buckets.take(&1, now + Duration::from_secs(10)).is_ok());
        buckets.forget_full(now + Duration::from_secs(60));
        assert!(buckets.lock().is_empty());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let b: IpAddr = "2001:db8:1:2:ffff::9"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(address_key(mapped), IpAddr::from([192, 0, 2, 7]));
    }

    #[test]
    fn the_owner_at_a_known_address_passes_the_exhausted_account_ceiling() {
        let limits = Limits::new(rates(2));
        let home = Some(IpAddr::from([192, 0, 2, 1]));
        let attempt = limits.login("maria", home);
        assert!(attempt.is_ok());
        if let Ok(attempt) = attempt {
            limits.signed_in(attempt);
        }
        // Attackers from three other addresses: two guesses each, then the ceiling (6).
        for last in 10..13 {
            for _ in 0..2 {
                assert!(
                    limits
                        .login("maria", Some(IpAddr::from([198, 51, 100, last])))
                        .is_ok()
                );
            }
        }
        let elsewhere = limits.login("maria", Some(IpAddr::from([203, 0, 113, 5])));
        assert_eq!(
            elsewhere.err().map(|refused| refused.limit),
            Some(Limit::LoginPerAccount)
        );
        assert!(limits.login("maria", home).is_ok(), "the owner at home");
    }

    #[test]
    fn a_right_code_gives_its_attempt_back() {
        let limits = Limits::new(rates(2));
        let account = Some(UserId::new_random());
        let address = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..5 {
            let attempt = limits.code(account, address);
            assert!(attempt.is_ok());
            if let Ok(attempt) = attempt {
                limits.code_worked(attempt);
            }
        }
        assert!(limits.code(account, address).is_ok());
        assert!(limits.code(account, address).is_ok());
        let refused = limits.code(account, address).err();
        assert!(refused.is_some());
        assert!(
            refused
                .map(|r| r.to_string())
                .unwrap_or_default()
                .starts_with("too many wrong codes; try again in ")
        );
    }
}
