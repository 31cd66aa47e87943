//! A backend defined outside core-mq, from `core_mq::raw` alone: it hands
//! out the deliveries it was given (with the attempt the broker would
//! report), its acknowledgements fail when told to, and its publishes (dead
//! letters included) fail when told to. What no real broker does on demand.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use core_mq::raw::{self, Ack, Inbound, Source};
use core_mq::{
    Capabilities, ConsumeOptions, Consumer, Error, Message, MessageQueueBase, Result, SharedHandler,
};

#[derive(Debug, Default)]
pub(crate) struct Script {
    /// Messages and the attempt each is delivered as.
    pub(crate) deliveries: Mutex<Vec<(Message, u32)>>,
    pub(crate) acks_fail: bool,
    pub(crate) publishes_fail: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Scripted(pub(crate) Arc<Script>);

#[async_trait]
impl MessageQueueBase for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            replay: false,
            durable: false,
            shared: false,
            claims_abandoned: false,
            broker_retries: false,
            lag: false,
        }
    }

    async fn publish(&self, message: Message) -> Result<()> {
        raw::check_outgoing(self.name(), &message, core_mq::DEFAULT_MAX_MESSAGE_BYTES)?;
        if self.0.publishes_fail {
            return Err(Error::unavailable("the scripted broker refuses publishes"));
        }
        Ok(())
    }

    async fn consume(
        &self,
        topic: &str,
        group: &str,
        handler: SharedHandler,
        options: ConsumeOptions,
    ) -> Result<Consumer> {
        raw::check_consume(self.name(), topic, group, &options)?;
        let batch = std::mem::take(&mut *self.0.deliveries.lock().unwrap())
            .into_iter()
            .map(|(message, attempt)| Inbound {
                lane: raw::lane_of(&message),
                attempt,
                message,
                ack: Box::new(ScriptedAck {
                    fails: self.0.acks_fail,
                }),
            })
            .collect();
        let source = ScriptedSource(Some(batch));
        Ok(raw::spawn(
            Arc::new(self.clone()),
            Box::new(source),
            topic,
            group,
            handler,
            options,
        ))
    }

    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

struct ScriptedSource(Option<Vec<Inbound>>);

#[async_trait]
impl Source for ScriptedSource {
    async fn fetch(&mut self, _max: usize) -> Result<Vec<Inbound>> {
        match self.0.take() {
            Some(batch) => Ok(batch),
            None => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Ok(Vec::new())
            }
        }
    }

    async fn close(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

struct ScriptedAck {
    fails: bool,
}

#[async_trait]
impl Ack for ScriptedAck {
    async fn ack(self: Box<Self>) -> Result<()> {
        if self.fails {
            return Err(Error::unavailable(
                "the scripted broker refuses acknowledgements",
            ));
        }
        Ok(())
    }
}
