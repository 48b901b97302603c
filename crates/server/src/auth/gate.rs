//! Bounded password hashing. Every Argon2 computation takes about 19 MiB and a core for tens of
//! milliseconds, so an unauthenticated burst of logins could take all the memory there is. The gate
//! lets as many computations run as there are cores, queues a few more, and answers the rest
//! [`Error::Busy`] at once; the Argon2 working memory is a pool of one buffer per worker, allocated
//! once and reused, so a burst leaves no memory behind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argon2::Block;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::password;
use crate::{Error, Result};

/// How many password computations may wait for a worker, per worker.
const QUEUE_PER_WORKER: usize = 4;

/// Admits password computations; see the module documentation.
pub struct PasswordGate {
    admit: Arc<Semaphore>,
    workers: Arc<Workers>,
}

struct Workers {
    work: Semaphore,
    memory: Mutex<Vec<Vec<Block>>>,
    computations: AtomicU64,
}

impl std::fmt::Debug for PasswordGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordGate")
            .field("free", &self.admit.available_permits())
            .finish_non_exhaustive()
    }
}

impl Default for PasswordGate {
    /// One worker per core, with a short queue.
    fn default() -> PasswordGate {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordGate::new(cores, cores * QUEUE_PER_WORKER)
    }
}

impl PasswordGate {
    /// A gate running at most `workers` computations at once, with `queue` more waiting.
    pub fn new(workers: usize, queue: usize) -> PasswordGate {
        let workers = workers.max(1);
        PasswordGate {
            admit: Arc::new(Semaphore::new(workers + queue)),
            workers: Arc::new(Workers {
                work: Semaphore::new(workers),
                memory: Mutex::new(Vec::new()),
                computations: AtomicU64::new(0),
            }),
        }
    }

    /// A permit for one computation, or [`Error::Busy`] at once when the workers and the queue
    /// are all taken. Take it before looking at the account, so that a refusal costs the caller
    /// nothing it could not also get with a wrong password.
    pub fn admit(&self) -> Result<PasswordPermit> {
        let admitted = self
            .admit
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Busy("too many sign-ins are being checked at once"))?;
        Ok(PasswordPermit {
            workers: self.workers.clone(),
            _admitted: admitted,
        })
    }

    /// How many password computations (hashes and checks) have run.
    pub fn computations(&self) -> u64 {
        self.workers.computations.load(Ordering::Relaxed)
    }

    /// Hashes a new password (admitted like any other computation).
    pub async fn hash(&self, password: &str) -> Result<String> {
        self.admit()?.hash(password).await
    }
}

/// The right to run one password computation.
pub struct PasswordPermit {
    workers: Arc<Workers>,
    _admitted: OwnedSemaphorePermit,
}

impl PasswordPermit {
    /// Whether `password` matches the PHC string `phc`; a malformed hash never matches.
    pub async fn verify(self, password: &str, phc: &str) -> Result<bool> {
        let password = password.to_string();
        let phc = phc.to_string();
        self.run(move |memory| password::verify_with(&password, &phc, memory))
            .await
    }

    /// The Argon2id PHC string of `password`.
    pub async fn hash(self, password: &str) -> Result<String> {
        let password = password.to_string();
        self.run(move |memory| password::hash_with(&password, memory))
            .await?
    }

    /// Runs `compute` on a blocking thread with a pooled working memory, once a worker is free.
    async fn run<T: Send + 'static>(
        self,
        compute: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T> {
        let _worker = self
            .workers
            .work
            .acquire()
            .await
            .map_err(|_| Error::Internal("the password workers are closed".to_string()))?;
        let workers = self.workers.clone();
        let mut memory = workers
            .memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        let (result, memory) = tokio::task::spawn_blocking(move || {
            let result = compute(&mut memory);
            (result, memory)
        })
        .await
        .map_err(|e| Error::Internal(format!("password task: {e}")))?;
        workers.computations.fetch_add(1, Ordering::Relaxed);
        workers
            .memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(memory);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_gate_answers_busy_and_frees_with_its_permits() {
        let gate = PasswordGate::new(1, 1);
        let a = gate.admit().expect("a worker");
        let b = gate.admit().expect("a queue place");
        assert!(matches!(gate.admit(), Err(Error::Busy(_))));
        let phc = a.hash("correct horse battery").await.expect("hash");
        assert!(b
            .verify("correct horse battery", &phc)
            .await
            .expect("check"));
        assert_eq!(gate.computations(), 2);
        let c = gate.admit().expect("free again");
        assert!(!c.verify("wrong", &phc).await.expect("check"));
        // One worker: one buffer, reused by every computation.
        assert_eq!(gate.workers.memory.lock().expect("lock").len(), 1);
    }
}
