//! One load per key at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Per-key gates: the first caller for a key passes, later ones wait until
/// it is done, then find the value it stored.
#[derive(Debug, Default)]
pub(crate) struct SingleFlight {
    gates: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

/// Holding this means no other caller of the same [`SingleFlight`] is
/// loading the same key.
pub(crate) struct Flight {
    flights: Arc<SingleFlight>,
    key: String,
    gate: Arc<AsyncMutex<()>>,
    passage: Option<OwnedMutexGuard<()>>,
    waited: bool,
}

impl Flight {
    /// Whether another caller held the key first: only then may it have
    /// stored the value meanwhile.
    pub(crate) fn waited(&self) -> bool {
        self.waited
    }
}

impl SingleFlight {
    pub(crate) async fn enter(self: &Arc<Self>, key: &str) -> Flight {
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
            gates.entry(key.to_string()).or_default().clone()
        };
        let (passage, waited) = match gate.clone().try_lock_owned() {
            Ok(passage) => (passage, false),
            Err(_held) => (gate.clone().lock_owned().await, true),
        };
        Flight {
            flights: self.clone(),
            key: key.to_string(),
            gate,
            passage: Some(passage),
            waited,
        }
    }

    #[cfg(test)]
    fn open_gates(&self) -> usize {
        self.gates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        drop(self.passage.take());
        let mut gates = self
            .flights
            .gates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Two references left (the map's and ours) means nobody is waiting:
        // waiters clone the gate under this same map lock.
        if Arc::strong_count(&self.gate) == 2 {
            gates.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gates_are_removed_once_the_last_caller_leaves() {
        let flights = Arc::new(SingleFlight::default());
        let first = flights.enter("k").await;
        let waiter = {
            let flights = flights.clone();
            tokio::spawn(async move {
                let _second = flights.enter("k").await;
            })
        };
        tokio::task::yield_now().await;
        assert_eq!(flights.open_gates(), 1);
        drop(first);
        waiter.await.unwrap();
        assert_eq!(flights.open_gates(), 0);
    }
}
