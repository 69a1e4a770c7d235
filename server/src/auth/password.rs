//! Password hashing with argon2id, on a small pool of threads of its own, so a login never stalls
//! the async executor and a flood of logins never runs more than a few hashes at once. Each
//! argon2id hash takes 19 MiB of memory: on tokio's blocking pool (up to 512 threads) a flood of
//! logins from many addresses could hold gigabytes, and every thread's allocator arena would keep
//! its 19 MiB afterwards. With the pool, memory for hashing stays at (threads × 19 MiB) whatever
//! comes in; attempts wait their turn (and the login rate limits apply before any hashing).

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

/// Hashing failed, or the blocking task died.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

fn hash_blocking(password: &SecretString) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError(err.to_string()))
}

type Job = Box<dyn FnOnce() + Send>;

/// The name of the hashing threads (visible in `/proc/<pid>/task/*/comm`).
pub const HASHING_THREAD_NAME: &str = "cairn-argon2";

/// How many hashes run at once: the machine's cores, at most four.
pub fn hashing_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// Run `work` on the hashing pool (started on first use) and wait for its answer.
async fn on_hashing_pool<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
) -> Result<T, PasswordError> {
    static POOL: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(Mutex::new(receiver));
        for index in 0..hashing_threads() {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(HASHING_THREAD_NAME.into())
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(index, error = %err, "could not start a password hashing thread");
            }
        }
        Mutex::new(sender)
    });
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = reply.send(work());
    });
    pool.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send(job)
        .map_err(|_| PasswordError("the hashing threads are gone".into()))?;
    answer
        .await
        .map_err(|_| PasswordError("a hashing thread failed".into()))?
}

/// Hash a password into an argon2id PHC string.
pub async fn hash_password(password: SecretString) -> Result<String, PasswordError> {
    on_hashing_pool(move || hash_blocking(&password)).await
}

/// Check a password against a stored hash. With no stored hash (unknown account) a dummy hash is
/// checked instead, so the answer takes as long as for a real account.
pub async fn verify_password(
    password: SecretString,
    stored_hash: Option<String>,
) -> Result<bool, PasswordError> {
    on_hashing_pool(move || {
        static DUMMY: OnceLock<Option<String>> = OnceLock::new();
        let (hash, real) = match stored_hash {
            Some(hash) => (hash, true),
            None => {
                let dummy = DUMMY.get_or_init(|| {
                    hash_blocking(&SecretString::from("not a real password at all")).ok()
                });
                (dummy.clone().unwrap_or_default(), false)
            }
        };
        let parsed = PasswordHash::new(&hash).map_err(|err| PasswordError(err.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    })
    .await
}
