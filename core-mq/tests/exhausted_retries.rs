//! An error a retry layer inside the handler already gave up on
//! (`Error::with_retries_exhausted`) is not retried by the consumer as if it
//! were fresh: the message waits the longest backoff before its next attempt.
#![cfg(feature = "memory")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use core_mq::{Backoff, ConsumeOptions, Error, Message, MqSettings, Outcome, connect, handler_fn};
use core_testkit::unique_name;

#[tokio::test]
async fn a_message_whose_call_exhausted_its_retries_waits_the_longest_backoff() {
    let queue = connect(&MqSettings::default()).await.unwrap();
    let topic = unique_name("exhausted");
    let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let handler = {
        let attempts = Arc::clone(&attempts);
        handler_fn(move |delivery| {
            let attempts = Arc::clone(&attempts);
            async move {
                attempts.lock().unwrap().push(Instant::now());
                if delivery.attempt == 1 {
                    // What core-cache's retry layer returns once it gave up.
                    return Err(Error::unavailable("redis is down").with_retries_exhausted());
                }
                Ok(Outcome::Ack)
            }
        })
    };
    let options = ConsumeOptions {
        backoff: Backoff {
            first: Duration::from_millis(10),
            max: Duration::from_millis(400),
        },
        ..ConsumeOptions::default()
    };
    let consumer = queue.consume(&topic, "g", handler, options).await.unwrap();
    queue.publish(Message::new(&topic, "x")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while attempts.lock().unwrap().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    consumer.shutdown(Duration::from_secs(5)).await.unwrap();
    let attempts = attempts.lock().unwrap();
    assert_eq!(attempts.len(), 2);
    let gap = attempts[1] - attempts[0];
    // The first backoff would be about 10 ms.
    assert!(gap >= Duration::from_millis(400), "retried after {gap:?}");
}
