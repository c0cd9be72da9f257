//! The run's follow-up advisory lookups, coalesced.
//!
//! The fleet's `querybatch` is made before the servers, from what each server's last check found
//! (see [`super::advisory_lookup`]). A server whose packages or versions changed since (a new
//! release, a first check) is not covered by it and asks again from its `security` stage. Rather
//! than one request per such server, one task gathers the questions of the servers running at
//! the same time and sends them as one lookup (one `querybatch`, split by the client at OSV's
//! documented 1,000 queries, then the details not in the cache); each server gets back the part
//! of the answer it asked ([`FleetAnswer::part`]).
//!
//! A gathered batch is sent as soon as
//! - every server in flight (each holds a [`Seat`] while its sync runs) is waiting for an
//!   answer: nobody else can join, so concurrency 1 never waits;
//! - or its queries fill one request ([`BATCH_LIMIT`]);
//! - or its oldest question has waited the window (`[advisories] batch-window`): no server is
//!   held longer than that for the sake of the others.
//!
//! Why not strictly one request per run: that needs every server to stop at a barrier before its
//! `security` stage, holding the fetched state of the whole fleet (2,000 servers) in memory at
//! once, and the slowest upstream would hold up every other server.
//!
//! When a lookup fails, the task remembers it: later questions in this run are answered with
//! the same error at once instead of waiting out the shared client's retries again.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::advisories::{BATCH_LIMIT, FleetAnswer, ServerQuery};

/// One lookup of several servers' queries (blocking; run on the blocking pool).
pub type Lookup = Arc<dyn Fn(&[ServerQuery]) -> Result<FleetAnswer, String> + Send + Sync>;

/// The handle of the gathering task; cheap to clone. The task ends when the last handle and
/// the last [`Seat`] are gone and every batch is answered.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<Msg>,
}

/// A server in flight: the task waits for the questions of seated servers before it sends a
/// batch. Dropping it says this server will ask nothing more.
pub struct Seat {
    tx: mpsc::UnboundedSender<Msg>,
}

enum Msg {
    Seated,
    Left,
    Ask {
        query: ServerQuery,
        reply: oneshot::Sender<Result<FleetAnswer, String>>,
    },
}

/// A question waiting for its batch.
struct Asked {
    query: ServerQuery,
    reply: oneshot::Sender<Result<FleetAnswer, String>>,
}

/// A batch's outcome, back at the task: how many servers it answered.
struct Flown {
    answered: usize,
}

impl Batcher {
    /// Starts the gathering task on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn(window: Duration, lookup: Lookup) -> Batcher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(Gather::new(window, lookup).run(rx));
        Batcher { tx }
    }

    /// A seat for a server that may ask (take it when its sync starts).
    pub fn seat(&self) -> Seat {
        // A send fails only once the task is gone; then `ask` says so.
        let _ = self.tx.send(Msg::Seated);
        Seat {
            tx: self.tx.clone(),
        }
    }
}

impl Seat {
    /// The answer for `query`, sent with the questions of the servers running beside it.
    ///
    /// Blocking: call it from a blocking thread (a server's sync), never on a runtime worker.
    ///
    /// # Errors
    /// The lookup failed (or an earlier one of this run did), or the task is gone.
    pub fn ask(&self, query: ServerQuery) -> Result<FleetAnswer, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Ask { query, reply })
            .map_err(|_| "the advisory lookup has stopped".to_string())?;
        answer
            .blocking_recv()
            .map_err(|_| "the advisory lookup stopped before it answered".to_string())?
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Left);
    }
}

/// The task's state.
struct Gather {
    window: Duration,
    lookup: Lookup,
    /// Servers holding a seat.
    seated: usize,
    /// Seated servers whose batch is out and not answered yet: they are waiting too.
    answering: usize,
    pending: Vec<Asked>,
    /// The package queries of `pending` (an upper bound: the lookup deduplicates).
    queries: usize,
    /// When the oldest pending question has waited the window.
    deadline: Option<Instant>,
    /// The error of a failed lookup: later questions get it at once. Set by the batch before
    /// it answers, so a server told of the failure never finds the next question unaware.
    down: Arc<OnceLock<String>>,
}

impl Gather {
    fn new(window: Duration, lookup: Lookup) -> Gather {
        Gather {
            window,
            lookup,
            seated: 0,
            answering: 0,
            pending: Vec::new(),
            queries: 0,
            deadline: None,
            down: Arc::new(OnceLock::new()),
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut flights: JoinSet<Flown> = JoinSet::new();
        let mut open = true;
        while open || !flights.is_empty() || !self.pending.is_empty() {
            let deadline = self.deadline;
            let mut expired = false;
            tokio::select! {
                msg = rx.recv(), if open => match msg {
                    Some(msg) => self.take(msg),
                    None => open = false,
                },
                Some(flown) = flights.join_next(), if !flights.is_empty() => {
                    // A batch that panicked dropped its askers' replies: they got an error.
                    let answered = flown.map_or(0, |f| f.answered);
                    self.answering = self.answering.saturating_sub(answered);
                },
                () = sleep_until(deadline), if deadline.is_some() => expired = true,
            }
            if expired || !open || self.due() {
                self.flush(&mut flights);
            }
        }
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Seated => self.seated += 1,
            Msg::Left => self.seated = self.seated.saturating_sub(1),
            Msg::Ask { query, reply } => {
                if let Some(error) = self.down.get() {
                    let _ = reply.send(Err(error.clone()));
                    return;
                }
                self.queries += query.package_queries().len();
                self.pending.push(Asked { query, reply });
                self.deadline
                    .get_or_insert_with(|| Instant::now() + self.window);
            }
        }
    }

    /// Every seated server is waiting, or the batch fills a request.
    fn due(&self) -> bool {
        !self.pending.is_empty()
            && (self.pending.len() + self.answering >= self.seated || self.queries >= BATCH_LIMIT)
    }

    /// Sends the pending questions as one lookup; its answers go straight to the askers.
    fn flush(&mut self, flights: &mut JoinSet<Flown>) {
        let batch = std::mem::take(&mut self.pending);
        self.queries = 0;
        self.deadline = None;
        if batch.is_empty() {
            return;
        }
        self.answering += batch.len();
        let (lookup, down) = (Arc::clone(&self.lookup), Arc::clone(&self.down));
        flights.spawn(async move {
            let answered = batch.len();
            let queries: Vec<ServerQuery> = batch.iter().map(|a| a.query.clone()).collect();
            tracing::info!(
                servers = answered,
                "asking about the servers whose packages or versions changed"
            );
            let answer = tokio::task::spawn_blocking(move || lookup(&queries))
                .await
                .unwrap_or_else(|e| Err(format!("the advisory lookup stopped: {e}")));
            if let Err(e) = &answer {
                let _ = down.set(e.clone());
            }
            for asked in batch {
                let part = match &answer {
                    Ok(answer) => Ok(answer.part(&asked.query)),
                    Err(e) => Err(e.clone()),
                };
                // An asker that gave up (its server was abandoned) no longer listens.
                let _ = asked.reply.send(part);
            }
            Flown { answered }
        });
    }
}

/// Sleeps until `deadline` (forever when there is none; the select guards that case).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
