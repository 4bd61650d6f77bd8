//! Reports to the provider (membership and metadata changes, which reach
//! the user's callbacks, the subscribers and the group file), delivered in
//! order on the provider's pool, never under a lock of the backend.
//!
//! A backend queues reports while it holds its own lock, so that they
//! leave in the order the changes were made. One job at a time delivers
//! the queue (so the order holds on a pool served by several streams),
//! each report outside every lock: a callback may call back into the
//! group (read the view, change metadata, even destroy the provider).

use crate::rpc::pool::Pool;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::thread::ThreadId;

struct Queue<E> {
    items: VecDeque<E>,
    /// A delivery job is queued on the pool.
    scheduled: bool,
    /// The thread delivering now.
    delivering: Option<ThreadId>,
    /// Closed: nothing more is queued.
    closed: bool,
}

pub(crate) struct Outbox<E: Send + 'static> {
    pool: Arc<Pool>,
    me: Weak<Outbox<E>>,
    queue: Mutex<Queue<E>>,
    /// Rung when a delivery ends.
    delivered: Condvar,
    deliver: Box<dyn Fn(E) + Send + Sync>,
}

impl<E: Send + 'static> Outbox<E> {
    /// An outbox whose reports `deliver` hands to the provider (it must
    /// not hold the backend: delivering must not keep the backend alive).
    pub fn new(pool: Arc<Pool>, deliver: Box<dyn Fn(E) + Send + Sync>) -> Arc<Outbox<E>> {
        Arc::new_cyclic(|me| Outbox {
            pool,
            me: me.clone(),
            queue: Mutex::new(Queue { items: VecDeque::new(), scheduled: false, delivering: None, closed: false }),
            delivered: Condvar::new(),
            deliver,
        })
    }

    /// Queues a report, and a job to deliver it unless one is queued or
    /// running (that one delivers it too). Cheap: callable under the
    /// backend's lock.
    pub fn push(&self, item: E) {
        let mut q = self.queue.lock();
        if q.closed {
            return;
        }
        q.items.push_back(item);
        if q.scheduled || q.delivering.is_some() {
            return;
        }
        q.scheduled = true;
        drop(q);
        let me = self.me.clone();
        self.pool.push(Box::new(move || {
            if let Some(outbox) = me.upgrade() {
                outbox.drain(false);
            }
        }));
    }

    /// No more reports: delivers those queued before returning (on this
    /// thread, once a delivery running on another has ended), unless this
    /// thread is delivering already (a callback that destroys the
    /// provider): that delivery then finishes the queue.
    pub fn close(&self) {
        self.drain(true);
    }

    fn drain(&self, closing: bool) {
        let me = std::thread::current().id();
        let mut q = self.queue.lock();
        if closing {
            q.closed = true;
            while q.delivering.is_some_and(|t| t != me) {
                self.delivered.wait(&mut q);
            }
        } else {
            q.scheduled = false;
        }
        if q.delivering.is_some() {
            return;
        }
        q.delivering = Some(me);
        while let Some(item) = q.items.pop_front() {
            drop(q);
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.deliver)(item))).is_err() {
                crate::error!("a group update callback panicked");
            }
            q = self.queue.lock();
        }
        q.delivering = None;
        self.delivered.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::pool::Xstream;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn reports_arrive_in_order_one_at_a_time_and_close_delivers_the_rest() {
        let pool = Pool::new("outbox");
        let _streams: Vec<Xstream> = (0..3).map(|i| Xstream::spawn(&format!("ob{i}"), vec![pool.clone()]).unwrap()).collect();
        let got = Arc::new(Mutex::new(Vec::new()));
        let inside = Arc::new(AtomicUsize::new(0));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let (g, busy, overlap) = (got.clone(), inside.clone(), overlaps.clone());
        let outbox = Outbox::new(
            pool.clone(),
            Box::new(move |i: u32| {
                if busy.fetch_add(1, Ordering::SeqCst) > 0 {
                    overlap.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_micros(200));
                g.lock().push(i);
                busy.fetch_sub(1, Ordering::SeqCst);
            }),
        );
        for i in 0..200 {
            outbox.push(i);
            if i % 7 == 0 {
                std::thread::sleep(Duration::from_micros(300));
            }
        }
        outbox.close();
        assert_eq!(*got.lock(), (0..200).collect::<Vec<_>>());
        assert_eq!(overlaps.load(Ordering::SeqCst), 0, "two deliveries ran at once");
        outbox.push(7);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(got.lock().len(), 200, "a report queued after close was delivered");
    }
}
